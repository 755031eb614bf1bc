#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: fl_provisioned
short_description: Read whether a machine holds the project's kits as provisioned, and the provisioner its project
version_added: 0.3.0
author: clarafl.federation maintainers (@clarafl)
description:
  - The provisioning role's one read per machine on a rerun - "is anything to do?" - so that a rerun that finds
    everything as the inventory describes it writes nothing and asks nothing more. Reads only; returns
    C(changed=false).
  - "On every machine (RV(machine)): the kit root O(kit_root) is claimed for the project, its marker recording every
    entry of O(entries) (as M(clarafl.federation.fl_project_dir) would leave it); and each kit of O(kits) is
    extracted from the zip beside it as its extraction record says, with nothing to change (as
    M(clarafl.federation.kit_extract) with the same O(mode), O(private_mode), O(owner) and O(group) finds it on a
    rerun; the password is not needed, the record binds it to the zip's bytes). Each kit's zip is given by its
    SHA-256."
  - "With O(workspace), on the provisioner (RV(workspace)): the project recorded in C(state.json) is the one the
    inventory describes (O(workspace.inputs_hash)); the project's audit file is the one the last run left; that run's
    log and zips are there (each zip by its SHA-256); the workspace's C(project.yml) and C(authz_config.json) are what
    the role would write."
  - Whatever differs, or cannot be read, is a reason, a few words; the P(clarafl.federation.fl_provisioning_todo#filter)
    filter adds the machines' zips compared with the provisioner's and decides on the controller.
options:
  project:
    description: The project's name.
    type: str
    required: true
  kit_root:
    description: The folder that holds the project's kits on this machine; not read when not given.
    type: path
  entries:
    description: The names of the entries the project makes in O(kit_root) (P(clarafl.federation.fl_kit_root_entries#filter)).
    type: list
    elements: str
    default: []
  kits:
    description: The kits this machine holds (P(clarafl.federation.fl_host_kits#filter)).
    type: list
    elements: dict
    default: []
    suboptions:
      component:
        description: What the kit is for (C(server), a site's name, C(admin)), as reasons name it.
        type: str
      zip:
        description: The zip's name, as the provisioner made it.
        type: str
        required: true
      src:
        description: The zip on this machine.
        type: path
        required: true
      dest:
        description: The folder the kit is extracted into.
        type: path
        required: true
      record:
        description: The kit's extraction record.
        type: path
        required: true
  mode:
    description: The mode of each kit's folder, as given to M(clarafl.federation.kit_extract).
    type: raw
    default: '0755'
  private_mode:
    description: The mode of private keys, as given to M(clarafl.federation.kit_extract).
    type: raw
    default: '0600'
  owner:
    description: The owner of the kits, as given to M(clarafl.federation.kit_extract).
    type: str
  group:
    description: The group of the kits, as given to M(clarafl.federation.kit_extract).
    type: str
  workspace:
    description: On the provisioner, the provisioning workspace to compare with the project the inventory describes.
    type: dict
    suboptions:
      path:
        description: The workspace folder (C(state.json), C(audit.pkl), C(project.yml), C(authz_config.json), C(runs/)).
        type: path
        required: true
      inputs_hash:
        description: The project's inputs hash (the C(inputs_hash) M(clarafl.federation.fl_project) returns).
        type: str
        required: true
      project:
        description: The project's C(project.yml) document (M(clarafl.federation.fl_project)'s C(project)).
        type: dict
        required: true
      authz:
        description: The project's C(authz_config.json) document (M(clarafl.federation.fl_project)'s C(authz)).
        type: dict
        required: true
      project_yml:
        description: The text of C(project.yml) as the role writes it into the workspace.
        type: str
        required: true
extends_documentation_fragment:
  - clarafl.federation.attributes
attributes:
  check_mode:
    support: full
    details: Reads only; runs the same in check mode.
  diff_mode:
    support: none
  platform:
    support: full
seealso:
  - module: clarafl.federation.kit_extract
  - module: clarafl.federation.fl_project_dir
"""

EXAMPLES = r"""
- name: Ask whether the project and this machine's kits are as the inventory describes them
  clarafl.federation.fl_provisioned:
    project: clarafl_prod
    kit_root: /opt/clarafl/clarafl_prod
    entries: [server, .kits, .engine]
    kits:
      - zip: server.zip
        src: /opt/clarafl/clarafl_prod/.kits/server.zip
        dest: /opt/clarafl/clarafl_prod/server
        record: /opt/clarafl/clarafl_prod/.kits/server.zip.extracted
    mode: "0750"
    owner: root
    group: root
    workspace:
      path: /var/lib/clarafl/clarafl_prod/provisioning
      inputs_hash: "{{ project.inputs_hash }}"
      project: "{{ project.project }}"
      authz: "{{ project.authz }}"
      project_yml: "{{ project.project | to_nice_yaml(indent=2, sort_keys=false) }}"
  register: provisioned

- name: Say what is to do
  ansible.builtin.debug:
    msg: "{{ ansible_play_hosts | clarafl.federation.fl_provisioning_todo(
             ansible_play_hosts | map('extract', hostvars, 'provisioned') | list, 'provisioner-host') }}"
  run_once: true
"""

RETURN = r"""
machine:
  description: What this machine holds.
  returned: always
  type: dict
  contains:
    kits:
      description: One entry per kit of O(kits) - C(zip), C(sha256) of the zip on this machine (V(null) when it is
        missing), C(reason) (V(null) when the kit is in place).
      type: list
      elements: dict
    reasons:
      description: Why the kit root or a kit is not as the project wants it, a few words each; empty when all is.
      type: list
      elements: str
  sample:
    kits: [{zip: server.zip, sha256: 9f86d08..., reason: null}]
    reasons: []
workspace:
  description: With O(workspace), what the provisioner holds; else V(null).
  returned: always
  type: dict
  contains:
    run:
      description: The last run recorded in C(state.json), or V(null).
      type: str
    packages:
      description: The SHA-256 of each zip of that run, by name.
      type: dict
    reasons:
      description: Why the workspace is not the project's as the inventory describes it; empty when it is.
      type: list
      elements: str
  sample:
    run: 20260105T100000Z-1a2b3c4d
    packages: {server.zip: 9f86d08..., org1-a.zip: 60303ae...}
    reasons: []
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.clarafl.federation.plugins.module_utils.provisioned import machine_facts, workspace_facts


def main():
    module = AnsibleModule(
        argument_spec=dict(
            project=dict(type="str", required=True),
            kit_root=dict(type="path"),
            entries=dict(type="list", elements="str", default=[]),
            kits=dict(type="list", elements="dict", default=[], options=dict(
                component=dict(type="str"),
                zip=dict(type="str", required=True),
                src=dict(type="path", required=True),
                dest=dict(type="path", required=True),
                record=dict(type="path", required=True),
            )),
            mode=dict(type="raw", default="0755"),
            private_mode=dict(type="raw", default="0600"),
            owner=dict(type="str"),
            group=dict(type="str"),
            workspace=dict(type="dict", options=dict(
                path=dict(type="path", required=True),
                inputs_hash=dict(type="str", required=True),
                project=dict(type="dict", required=True),
                authz=dict(type="dict", required=True),
                project_yml=dict(type="str", required=True),
            )),
        ),
        supports_check_mode=True,
    )
    p = module.params
    result = dict(changed=False, workspace=None)
    result["machine"] = machine_facts(p["project"], p["kit_root"], p["entries"], p["kits"], mode=p["mode"],
                                      private_mode=p["private_mode"], owner=p["owner"], group=p["group"])
    if p["workspace"]:
        ws = p["workspace"]
        result["workspace"] = workspace_facts(ws["path"], ws["inputs_hash"], ws["project"], ws["authz"],
                                              ws["project_yml"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
