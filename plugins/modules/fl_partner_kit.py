#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: fl_partner_kit
short_description: Check the startup kits a federation's lead handed over, before anything changes
version_added: 0.3.0
author: clarafl.federation maintainers (@clarafl)
description:
  - A partner organization runs its own sites of a federation that another organization leads (C(playbooks/join.yml)).
    Before any of its machines changes, each site's kit (a password-protected zip, as the provisioner made it) is
    checked where it was handed over, usually on the controller.
  - For each kit, in this order - the zip is there; it has the SHA-256 the lead's README names (when given); its
    password opens it (every member's password check and CRC); it is a site's kit, not the server's or an admin
    console's; its certificate is issued for that site; it connects to the server of federation O(project) and its
    root CA is that federation's.
  - Fails with one sentence per kit that says what is wrong and what to do. Returns, for the kits that pass, the
    server they connect to (its name and FL port), which every kit must agree on.
  - Reads only; never changes anything. The passwords are never returned.
options:
  project:
    description: The federation the kits must be of (C(fl_project_name)).
    type: str
    required: true
  kits:
    description: The kits to check.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The site the kit must be for.
        type: str
        required: true
      src:
        description: Path of the zip.
        type: path
        required: true
      password:
        description: The zip's password (C(fl_partner_kit_passwords)).
        type: str
      sha256:
        description: The SHA-256 the zip must have (C(fl_partner_kit_sha256)); not checked when empty.
        type: str
extends_documentation_fragment:
  - clarafl.federation.attributes
attributes:
  check_mode:
    support: full
    details: It only reads.
  diff_mode:
    support: none
    details: Nothing is changed.
  platform:
    support: full
seealso:
  - module: clarafl.federation.fl_server_handshake
  - module: clarafl.federation.kit_extract
"""

EXAMPLES = r"""
- name: Check the kits of this machine's sites where the lead's folder was copied
  clarafl.federation.fl_partner_kit:
    project: spleen_federation
    kits:
      - name: org2
        src: /srv/federation/org2/org2.zip
        password: "{{ fl_partner_kit_passwords['org2'] }}"
        sha256: 5b0e87ad57ffd7ee90b781b036e1ccfe8c0315991a73a6f92bd092e731337a04
  delegate_to: localhost
  become: false
"""

RETURN = r"""
kits:
  description: One entry per kit that passed.
  returned: always
  type: list
  elements: dict
  contains:
    site:
      description: The site.
      type: str
      sample: org2
    project:
      description: The federation the kit is of.
      type: str
      sample: spleen_federation
    server_cn:
      description: The name of the FL server the kit connects to (its certificate is issued for it).
      type: str
      sample: fl-server.example.org
    fed_learn_port:
      description: The server's FL port.
      type: int
      sample: 8002
    sha256:
      description: The zip's SHA-256.
      type: str
server:
  description: The server every kit connects to, C(cn) and C(fed_learn_port); empty when no kit passed.
  returned: always
  type: dict
  sample: {cn: fl-server.example.org, fed_learn_port: 8002}
problems:
  description: One sentence per kit that failed.
  returned: failure
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.clarafl.federation.plugins.module_utils.partner_join import PartnerKitError, check_kit


def main():
    module = AnsibleModule(
        argument_spec=dict(
            project=dict(type="str", required=True),
            kits=dict(type="list", elements="dict", required=True, options=dict(
                name=dict(type="str", required=True),
                src=dict(type="path", required=True),
                password=dict(type="str", no_log=True),
                sha256=dict(type="str"),
            )),
        ),
        supports_check_mode=True,
    )
    passed, problems = [], []
    for kit in module.params["kits"]:
        try:
            passed.append(check_kit(kit["src"], kit["password"], module.params["project"], kit["name"],
                                    kit["sha256"]))
        except PartnerKitError as exc:
            problems.append(str(exc))
    servers = sorted(set((k["server_cn"], k["fed_learn_port"]) for k in passed))
    if len(servers) > 1:
        problems.append("The kits connect to different servers (%s): they are not of one federation; ask the lead "
                        "for this federation's kits." % ", ".join("%s:%s" % s for s in servers))
    server = {"cn": servers[0][0], "fed_learn_port": servers[0][1]} if servers else {}
    if problems:
        module.fail_json(msg=" ".join(problems) + " Nothing was changed.", problems=problems, kits=passed,
                         server=server)
    module.exit_json(changed=False, kits=passed, server=server)


if __name__ == "__main__":
    main()
