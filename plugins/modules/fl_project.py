#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: fl_project
short_description: Build and check the provisioning project of a Clara Train federation
version_added: 0.1.0
author: clarafl.federation maintainers (@clarafl)
description:
  - Builds the two documents the Clara Train provisioning tool reads, C(project.yml) and
    C(authz_config.json), from a plain description of the federation (usually taken from the inventory).
  - Checks the description first and fails listing every problem at once - duplicate client names,
    names or emails longer than the 64 characters certificates allow, a server C(cn) left at
    C(example.com), equal ports, an org without a policy, an admin without an org - so that
    nothing is provisioned from a description that cannot work.
  - Changes nothing anywhere; run it on the controller.
options:
  name:
    description: Project name.
    type: str
    required: true
  sdk_version:
    description: Clara Train SDK version; C(v3.1.01) has no homomorphic encryption section.
    type: str
    choices: [v4.0, v3.1.01]
    default: v4.0
  server:
    description: The FL server.
    type: dict
    required: true
    suboptions:
      cn:
        description: Name clients reach the server by; its certificate is issued for it.
        type: str
        required: true
      org:
        description: Organization of the server.
        type: str
        required: true
      fed_learn_port:
        description: Port clients connect to.
        type: int
        default: 8002
      admin_port:
        description: Port the admin console connects to.
        type: int
        default: 8003
      min_num_clients:
        description: Fewest clients a round waits for.
        type: int
        default: 1
      max_num_clients:
        description: Most clients the server accepts.
        type: int
        default: 100
      admin_storage:
        description: Server folder that receives uploaded MMARs.
        type: str
        default: transfer
  clients:
    description: One entry per client site.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Client name (the site's certificate name and kit name).
        type: str
        required: true
      org:
        description: Organization of the site.
        type: str
        required: true
      email:
        description: Optional contact email recorded in the kit.
        type: str
      host:
        description: Inventory host of the site, named in messages.
        type: str
      index:
        description: The site's place in the federation, as C(clarafl.federation.fl_client_sites) gives it (not read).
        type: int
  admins:
    description: Admin console users.
    type: list
    elements: dict
    required: true
    suboptions:
      email:
        description: User name of the admin (certificate login).
        type: str
        required: true
      org:
        description: Organization of the admin.
        type: str
        required: true
      roles:
        description: Roles among C(super), C(lead_researcher), C(site_researcher), C(lead_it), C(site_it).
        type: list
        elements: str
        required: true
  org_policies:
    description: Policy group of each org - C(relaxed) allows custom code in MMARs, C(strict) does not.
    type: dict
    required: true
  he:
    description: Homomorphic encryption section of C(project.yml) (Clara 4.0); the provisioner's default when omitted.
    type: dict
  previous:
    description:
      - The state recorded by the last provisioning (its C(project), C(authz) and C(known_sites)), to say what
        changed and which sites the project's audit file knows.
    type: dict
notes:
  - The same checks are plain functions in C(plugins/module_utils/project.py).
extends_documentation_fragment:
  - clarafl.federation.attributes
attributes:
  check_mode:
    support: full
    details: Computes the same result; it never changes anything.
  diff_mode:
    support: none
    details: Nothing is changed, so there is nothing to show.
  platform:
    support: full
"""

EXAMPLES = r"""
- name: Build the project from the inventory
  clarafl.federation.fl_project:
    name: spleen_federation
    server:
      cn: fl-server.example.org
      org: nvidia
    clients:
      - {name: hospital-a, org: org_a}
      - {name: hospital-b, org: org_b}
    admins:
      - {email: admin@example.org, org: nvidia, roles: [super]}
    org_policies: {nvidia: relaxed, org_a: relaxed, org_b: strict}
  delegate_to: localhost
  run_once: true
  register: project
"""

RETURN = r"""
project:
  description: The content of C(project.yml).
  returned: success
  type: dict
authz:
  description: The content of C(authz_config.json).
  returned: success
  type: dict
inputs_hash:
  description: SHA-256 of both documents; equal hashes mean the provisioner would be given the same inputs.
  returned: success
  type: str
  sample: 3f2a...
changes:
  description: What differs from O(previous), one sentence each; empty without O(previous).
  returned: success
  type: list
  elements: str
  sample: ["sites added: org3"]
known_sites:
  description: Every site the project's audit file has certified (those of O(previous) and these), name to org.
  returned: success
  type: dict
  sample: {org1-a: org1, org3: org3}
former_sites:
  description: Sites of O(previous) the project no longer lists; the provisioning tool still makes their kits.
  returned: success
  type: list
  elements: str
  sample: [org3]
tool_authz:
  description: The C(authz_config.json) to give the provisioning tool - RV(authz) plus the former sites, which the
    tool's audit history requires.
  returned: success
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.clarafl.federation.plugins.module_utils.project import (
    ProjectError, describe_changes, inputs_hash, render_project, site_history)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            sdk_version=dict(type="str", default="v4.0", choices=["v4.0", "v3.1.01"]),
            server=dict(type="dict", required=True, options=dict(
                cn=dict(type="str", required=True),
                org=dict(type="str", required=True),
                fed_learn_port=dict(type="int", default=8002),
                admin_port=dict(type="int", default=8003),
                min_num_clients=dict(type="int", default=1),
                max_num_clients=dict(type="int", default=100),
                admin_storage=dict(type="str", default="transfer"),
            )),
            clients=dict(type="list", elements="dict", required=True, options=dict(
                name=dict(type="str", required=True),
                org=dict(type="str", required=True),
                email=dict(type="str"),
                host=dict(type="str"),
                index=dict(type="int"),
            )),
            admins=dict(type="list", elements="dict", required=True, options=dict(
                email=dict(type="str", required=True),
                org=dict(type="str", required=True),
                roles=dict(type="list", elements="str", required=True),
            )),
            org_policies=dict(type="dict", required=True),
            he=dict(type="dict"),
            previous=dict(type="dict"),
        ),
        supports_check_mode=True,
    )
    spec = dict((k, module.params[k]) for k in ("name", "sdk_version", "server", "clients", "admins", "org_policies"))
    if module.params["he"] is not None:
        spec["he"] = module.params["he"]
    try:
        project, authz = render_project(spec)
    except ProjectError as exc:
        module.fail_json(msg=str(exc), problems=exc.problems)
    previous = module.params["previous"] or {}
    changes = []
    if previous:
        changes = describe_changes(previous.get("project"), previous.get("authz"), project, authz)
    known, former, tool_authz = site_history(previous, project, authz)
    module.exit_json(changed=False, project=project, authz=authz, inputs_hash=inputs_hash(project, authz),
                     changes=changes, known_sites=known, former_sites=former, tool_authz=tool_authz)


if __name__ == "__main__":
    main()
