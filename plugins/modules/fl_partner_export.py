#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: fl_partner_export
short_description: Put each partner organization's startup kits in a folder of its own on the controller
version_added: 0.3.0
author: clarafl.federation maintainers (@clarafl)
description:
  - A federation across organizations is provisioned by its lead, whose inventory lists the sites of the other
    organizations as data (C(fl_partner_sites)). Their kits are handed over, not shipped; this module puts them in
    O(dest) on the controller, one folder per organization, ready to hand over.
  - Each folder holds, 0600 in a 0700 folder, the organization's kits (its partner sites', and the admin kits of its
    admins), each zip exactly as the provisioner made it; a C(README.md) that names the kits with their SHA-256, the
    server's name, address and ports, and what to run (C(clarafl.federation.join)); and the kits' passwords, apart,
    in C(passwords.yml) (YAML setting C(fl_partner_kit_passwords)), or with O(vault_password) in
    C(passwords.vault.yml), the same YAML as an Ansible Vault file. Nothing else - no other organization's kit, no
    root CA key, no audit file.
  - The task runs on the provisioner, which holds the zips (O(packages_dir)); the folders are written on the
    controller, by the module's action plugin. A zip is read from the provisioner only when the folder does not
    already hold the kit of that provisioner run.
  - A project provisioned again with the same audit file (a site added) zips every kit anew with new timestamps, a
    new homomorphic-encryption context and signature. A zip already handed over is kept byte for byte when the new
    one holds the same kit otherwise (certificate, key, root CA, server), so a partner's kit does not change because
    another site joined.
  - Only files an earlier export made (its record C(.clarafl-export.json) in O(dest)) are replaced or removed; a
    partner or admin no longer listed has its kits taken out. Passwords are never returned or logged.
options:
  dest:
    description: The export folder on the controller, an absolute path (created 0700).
    type: path
    required: true
  project:
    description: The federation's name.
    type: str
    required: true
  server:
    description: The FL server, as the partners reach it.
    type: dict
    required: true
    suboptions:
      cn:
        description: Its name (its certificate is issued for it).
        type: str
        required: true
      address:
        description: Its address, when the partners cannot resolve O(server.cn).
        type: str
      fed_learn_port:
        description: Its FL port.
        type: int
        required: true
      admin_port:
        description: Its admin port.
        type: int
        required: true
  orgs:
    description: What goes to whom, as the C(clarafl.federation.fl_partner_export_plan) filter gives it.
    type: list
    elements: dict
    required: true
    suboptions:
      org:
        description: The organization (its folder's name).
        type: str
        required: true
      contacts:
        description: Whom the kits are for (not read).
        type: list
        elements: str
        default: []
      kits:
        description: Its kits.
        type: list
        elements: dict
        required: true
        suboptions:
          name:
            description: The site, or the admin's email.
            type: str
            required: true
          zip:
            description: The zip's name in O(packages_dir).
            type: str
            required: true
          kind:
            description: Whose kit it is.
            type: str
            required: true
            choices: [site, admin]
          roles:
            description: An admin's roles, named in the README.
            type: list
            elements: str
            default: []
          password:
            description: The zip's password.
            type: str
            required: true
          sha256:
            description: The zip's SHA-256 as the provisioner run recorded it.
            type: str
            required: true
  packages_dir:
    description: The folder of the provisioner run's zips, on the task's host (the provisioner).
    type: str
    required: true
  vault_password:
    description: With a password, the passwords file is an Ansible Vault file (C(passwords.vault.yml)) encrypted with it.
    type: str
    default: ''
  lead:
    description: Who leads the federation, named in the README (an email).
    type: str
    default: ''
notes:
  - The work is plain functions in C(plugins/module_utils/partners.py); the action plugin reads the zips it needs from
    the provisioner (M(ansible.builtin.slurp)) and writes on the controller. Run the task with C(no_log), as every
    task that carries kit passwords.
extends_documentation_fragment:
  - clarafl.federation.attributes
attributes:
  action:
    description: Has an action plugin that runs on the controller.
    support: full
    details: Runs on the controller; it reads the zips from the task's host.
  check_mode:
    support: full
    details: Says what it would write; writes nothing.
  diff_mode:
    support: none
    details: Each change is listed in RV(summary).
  platform:
    support: full
seealso:
  - module: clarafl.federation.fl_partner_kit
  - module: clarafl.federation.provision_kits
"""

EXAMPLES = r"""
- name: Export the partner organizations' kits on the controller
  clarafl.federation.fl_partner_export:
    dest: /var/lib/clarafl/spleen_federation/partners
    project: spleen_federation
    server: {cn: fl-server.example.org, fed_learn_port: 8002, admin_port: 8003}
    orgs: >-
      {{ __provisioning_kits.kits | clarafl.federation.fl_partner_export_plan(fl_partner_sites, fl_admins,
           ['nvidia', 'org_a'], 'admin@example.org') }}
    packages_dir: /var/lib/clarafl/spleen_federation/provisioning/runs/20260101T000000Z-1a2b3c4d/packages
    vault_password: "{{ vault_export_password }}"
  no_log: true
  register: exported
"""

RETURN = r"""
orgs:
  description: Per organization, its folder, the kits it holds and what this run wrote, kept and removed there.
  returned: success
  type: dict
  sample:
    org2:
      folder: /var/lib/clarafl/spleen_federation/partners/org2
      kits: [{name: org2, zip: org2.zip, kind: site, sha256: 5b0e87ad...}]
      written: [org2.zip, README.md, passwords.yml]
      kept: []
      removed: []
removed_orgs:
  description: Organizations whose folder was emptied because they are no longer handed anything.
  returned: success
  type: list
  elements: str
summary:
  description: One line per organization saying what its folder holds, and one per change.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.clarafl.federation.plugins.module_utils.partners import EXPORT_SPEC


def main():
    module = AnsibleModule(argument_spec=EXPORT_SPEC, supports_check_mode=True)
    module.fail_json(msg="clarafl.federation.fl_partner_export runs on the controller through its action plugin: "
                         "call it as a task, not as a module on a host", summary=[])


if __name__ == "__main__":
    main()
