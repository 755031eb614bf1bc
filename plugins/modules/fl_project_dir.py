#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: fl_project_dir
short_description: Claim a folder for a Clara Train federation project, or take back only what the project put there
version_added: 0.2.0
author: clarafl.federation maintainers (@clarafl)
description:
  - With O(state=present), creates the folder (mode C(0700)) when it is missing and marks it as the project's with
    a file C(.clarafl-project) that names the project and says whether the collection created the folder. A folder
    that exists already keeps its owner, mode and contents - it may be the user's.
  - The marker records the O(entries) the project makes in the folder, before they are made. An entry of that name
    that is already there and that the record does not name is someone else's - the claim is refused, naming it,
    and nothing is written.
  - With O(state=absent), removes those of the O(components) that the marker records (the project's own entries
    in the folder; a user's file or folder that only has the name of one is kept), then (with
    O(release=true)) the marker, and the folder itself only when it is then empty and the collection created it (or,
    for a folder without a marker, when O(remove_if_empty) is set). Everything else in the folder is left alone and
    listed in RV(kept).
  - Both refuse, before they change anything, C(/), a top-level folder such as C(/opt), a home directory or a
    folder that holds one, a relative path, and a folder whose marker names another project.
options:
  path:
    description: The folder, an absolute path.
    type: path
    required: true
  project:
    description: The project that owns (or claims) the folder.
    type: str
    required: true
  state:
    description: V(present) claims the folder, V(absent) takes back what the project put there.
    type: str
    choices: [present, absent]
    default: present
  components:
    description:
      - Names of the project's entries in the folder, relative to it (e.g. V(server), V(org1-a), V(.kits/org1-a.zip)),
        removed with O(state=absent) when the marker records them (or the entry they lie in). Folders that only held
        removed components are removed too.
      - With O(marker=false) there is no record to read, and the components are removed as named - only for files of
        the collection's own, see O(record).
    type: list
    elements: str
    default: []
  entries:
    description:
      - With O(state=present), the names of the entries the project makes in the folder (e.g. V(server), V(org1-a),
        V(.kits)), recorded in the marker before they are made.
      - A marker written by an earlier version, without this record, is read by the records written at the time
        (C(.kits/<zip>.extracted) of each extracted kit, the demo tool in C(.demo)) and completed.
    type: list
    elements: str
    default: []
  record:
    description:
      - With O(state=absent) and O(marker=false), a file the collection wrote beside the O(components) (a dataset
        folder's C(.clarafl-demo-data)) - nothing is removed unless it is there.
    type: str
  marker:
    description: Whether the folder carries the project marker (kit roots do; the collection's own folders need none).
    type: bool
    default: true
  remove_if_empty:
    description: With O(marker=false) and O(state=absent), remove the folder when nothing is left in it.
    type: bool
    default: false
  release:
    description:
      - With O(state=absent), whether the project is done with the folder (its marker goes, and the folder when empty).
      - Set V(false) while other inventory hosts of the same machine still have their entries to remove.
    type: bool
    default: true
  purge:
    description:
      - With O(state=absent), remove the folder with everything in it. Only for a folder that is wholly the
        collection's, such as the provisioning workspace; the protections above still apply.
    type: bool
    default: false
  owner:
    description: Owner of a folder this module creates.
    type: str
  group:
    description: Group of a folder this module creates.
    type: str
extends_documentation_fragment:
  - clarafl.federation.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    support: full
notes:
  - Runs as root (C(become)) where the folder is root's, as kit roots are.
seealso:
  - module: clarafl.federation.fl_host_check
"""

EXAMPLES = r"""
- name: Claim the kit root for the project
  clarafl.federation.fl_project_dir:
    path: /opt/clarafl/clarafl_prod
    project: clarafl_prod
  become: true

- name: Claim the kit root, recording the entries the project makes there
  clarafl.federation.fl_project_dir:
    path: /opt/clarafl/clarafl_prod
    project: clarafl_prod
    entries: [server, .kits]
  become: true

- name: Take back the kits, and the kit root when nothing else is in it
  clarafl.federation.fl_project_dir:
    path: /opt/clarafl/clarafl_prod
    project: clarafl_prod
    state: absent
    components: [server, org1-a, admin, .kits, .demo]
  become: true

- name: Remove the project's folder under /var/lib/clarafl when it is empty
  clarafl.federation.fl_project_dir:
    path: /var/lib/clarafl/clarafl_prod
    project: clarafl_prod
    state: absent
    marker: false
    remove_if_empty: true
"""

RETURN = r"""
path:
  description: The folder, normalised.
  returned: always
  type: str
  sample: /opt/clarafl/clarafl_prod
created:
  description: With O(state=present), whether the collection created the folder (from the marker once it exists).
  returned: when O(state=present)
  type: bool
removed:
  description: With O(state=absent), the paths removed (or that would be, in check mode).
  returned: when O(state=absent)
  type: list
  elements: str
  sample: [/opt/clarafl/clarafl_prod/server, /opt/clarafl/clarafl_prod/.kits]
removed_dir:
  description: With O(state=absent), whether the folder itself was removed.
  returned: when O(state=absent)
  type: bool
kept:
  description: With O(state=absent), entries left in the folder because the project did not put them there.
  returned: when O(state=absent)
  type: list
  elements: str
  sample: [notes.txt]
"""

import grp
import pwd

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.clarafl.federation.plugins.module_utils.project_dir import (
    ProjectDirError,
    claim,
    plan_claim,
    plan_release,
    release,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            project=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            components=dict(type="list", elements="str", default=[]),
            entries=dict(type="list", elements="str", default=[]),
            record=dict(type="str"),
            marker=dict(type="bool", default=True),
            remove_if_empty=dict(type="bool", default=False),
            purge=dict(type="bool", default=False),
            release=dict(type="bool", default=True),
            owner=dict(type="str"),
            group=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        if p["state"] == "present":
            uid = gid = None
            try:
                if p["owner"]:
                    uid = pwd.getpwnam(p["owner"]).pw_uid
                if p["group"]:
                    gid = grp.getgrnam(p["group"]).gr_gid
            except KeyError as exc:
                module.fail_json(msg="no such user or group on this host: %s" % exc)
            if module.check_mode:
                plan = plan_claim(p["path"], p["project"], p["marker"], entries=p["entries"])
                plan["changed"] = plan["create"] or plan["mark"] or plan["record"] is not None
            else:
                plan = claim(p["path"], p["project"], p["marker"], owner_uid=uid, group_gid=gid, entries=p["entries"])
            module.exit_json(changed=plan["changed"], path=plan["path"], created=plan["created"])
        if module.check_mode:
            plan = plan_release(p["path"], p["project"], p["components"], p["marker"], p["remove_if_empty"],
                                purge=p["purge"], release_root=p["release"], record=p["record"])
            plan["changed"] = bool(plan["remove"] or plan["unmark"] or plan["remove_dir"])
        else:
            plan = release(p["path"], p["project"], p["components"], p["marker"], p["remove_if_empty"],
                           purge=p["purge"], release_root=p["release"], record=p["record"])
        module.exit_json(changed=plan["changed"], path=plan["path"], removed=plan["remove"],
                         removed_dir=plan["remove_dir"], kept=plan["kept"])
    except ProjectDirError as exc:
        module.fail_json(msg=str(exc))
    except (IOError, OSError) as exc:
        module.fail_json(msg="cannot change %s: %s" % (p["path"], exc))


if __name__ == "__main__":
    main()
