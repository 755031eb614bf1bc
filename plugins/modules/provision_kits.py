#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: provision_kits
short_description: Read the startup kits and their zip passwords from a Clara Train / NVFlare provisioner run
version_added: 0.1.0
description:
  - Parses the output of the Clara Train 3.1/4.0 provisioner (C(nvflare==1.0.x), the Rich password table
    C(Password | Zip file name | Email of recipient)) or of NVFlare 2.0-2.2 (C(Password <pw> on <name>.zip) lines)
    and returns one entry per startup kit with its zip file name, password, e-mail and kind (server, client, admin).
  - The table is read at any terminal width. Rich cuts a cell that does not fit with an ellipsis; such a table
    cannot be recovered and the module fails, naming the rows and asking for a wider terminal (for example
    C(COLUMNS=250)). Cells folded over several lines are joined; rows that could be joined in more than one way
    are matched against the zip files in O(packages_dir), or the module fails.
  - The module never returns a value it cannot prove complete. It fails on a truncated or garbled output, a row
    without its zip file, a zip file without its row, duplicated rows, and (with O(expected_clients) /
    O(expected_admins)) a missing or unexpected participant. With O(verify_passwords), each password must open
    its zip and every member's CRC must verify.
  - Read-only; never reports a change.
author:
  - clarafl.federation maintainers (@clarafl)
options:
  output:
    description:
      - The provisioner's combined standard output and error, as text.
      - It holds the passwords, so the option is C(no_log).
      - Exactly one of O(output) and O(output_file) is required.
    type: str
  output_file:
    description:
      - Path, on the managed host, of a file holding the provisioner's output (for example written by
        C(provision ... > provision.log 2>&1)).
      - Exactly one of O(output) and O(output_file) is required.
    type: path
  packages_dir:
    description:
      - Directory, on the managed host, that holds the zip files the provisioner produced (its C(-o) directory).
      - When given, every row needs its zip file there and every C(*.zip) file there needs its row; each returned
        kit then carries its RV(kits[].path).
      - Required when O(encrypted=false).
    type: path
  server_name:
    description:
      - The FL server's name (its C(cn)), or the name of its kit.
      - The Clara Train 3.1/4.0 table always names the server kit C(server.zip); NVFlare 2.x names it after the
        server's C(cn), which this option then must give.
    type: str
  expected_clients:
    description:
      - Names of the FL clients (C(client_name) in C(project.yml)). When given, each must have exactly one kit and
        no other client kit may appear.
    type: list
    elements: str
  former_clients:
    description:
      - Sites the project's audit file knows but the project no longer lists. The provisioning tool still makes
        their kits; such a kit is allowed, not required, and returned with C(former=true).
    type: list
    elements: str
    default: []
  expected_admins:
    description:
      - E-mails of the admin users (C(admin_clients) in C(project.yml)). When given, each must have exactly one
        kit and no other admin kit may appear.
    type: list
    elements: str
  encrypted:
    description:
      - Whether the kits are password-protected zips. Clara Train 3.1/4.0 always encrypts them.
      - With V(false) the output must hold no passwords; the kits are then the C(*.zip) files in O(packages_dir)
        and their RV(kits[].password) is V(null).
    type: bool
    default: true
  verify_passwords:
    description:
      - Open every zip in O(packages_dir) with its parsed password - the password check of every member, and
        every member up to 64 KiB read to the end with its CRC verified - so that a password is only returned
        when it is proven to open its kit. The large members (homomorphic-encryption contexts) are left to the
        extraction, which verifies everything.
      - Ignored without O(packages_dir).
    type: bool
    default: true
notes:
  - "The result holds every kit's password in clear text, because later tasks need them to extract the kits.
    Ansible masks a module's own no-log values in its result, so the module cannot hide them without making them
    unusable. Put C(no_log: true) on this task and on every task that uses the passwords (for example a loop
    that calls M(clarafl.federation.kit_extract)), and keep C(-v) output of such runs private."
  - On failure, every password-like value seen in the output is registered as a no-log value, so it is masked
    in the failure message and the logged module arguments.
  - The Clara Train 4.0 provisioner sizes the table from C(COLUMNS) when its output is not a terminal; run it
    with C(COLUMNS=250) (or wider) and C(PYTHONIOENCODING=utf-8). Re-running it with the same C(project.yml) and
    the same audit file (C(-t)) reproduces the same keys and passwords.
extends_documentation_fragment:
  - clarafl.federation.attributes
attributes:
  check_mode:
    support: full
    details:
      - This action does not modify state.
  diff_mode:
    support: N/A
    details:
      - This action does not modify state.
  platform:
    support: N/A
seealso:
  - module: clarafl.federation.kit_extract
"""

EXAMPLES = r"""
- name: Run the Clara Train 4.0 provisioner with a wide virtual terminal
  ansible.builtin.command:
    cmd: provision -p project.yml -a authz_config.json -t audit.pkl -o packages
    chdir: /srv/clarafl/provision
  environment:
    COLUMNS: "250"
    PYTHONIOENCODING: utf-8
  register: provision_run
  no_log: true

- name: Read the kits and their passwords
  clarafl.federation.provision_kits:
    output: "{{ provision_run.stdout }}\n{{ provision_run.stderr }}"
    packages_dir: /srv/clarafl/provision/packages
    server_name: fl-server.example.org
    expected_clients: [org1-a, org1-b, org2]
    expected_admins: [admin@nvidia.com]
  register: provisioned
  no_log: true

- name: Read the kits from a saved log file
  clarafl.federation.provision_kits:
    output_file: /srv/clarafl/provision/provision.log
    packages_dir: /srv/clarafl/provision/packages
  register: provisioned
  no_log: true

- name: Extract every client's kit on its host (the passwords must stay out of the logs)
  clarafl.federation.kit_extract:
    src: "/opt/clarafl/kits/{{ item.zip }}"
    dest: "/opt/clarafl/example_project/{{ item.name }}"
    password: "{{ item.password }}"
  loop: "{{ provisioned.kits | selectattr('kind', 'equalto', 'client') | list }}"
  loop_control:
    label: "{{ item.name }}"
  no_log: true
"""

RETURN = r"""
reason:
  description:
    - On some failures, one word for what is missing - V(missing_output) (the output file cannot be read) or
      V(missing_packages) (O(packages_dir) is not a directory) - so that a play can provision again.
  returned: failure
  type: str
  sample: missing_packages
kits:
  description:
    - One entry per startup kit, in the provisioner's order.
    - Holds passwords in clear text; use C(no_log) on tasks that handle it.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The participant's name (the zip file name without C(.zip)); C(server) for a Clara Train server kit.
      type: str
      sample: org1-a
    zip:
      description: The kit's zip file name.
      type: str
      sample: org1-a.zip
    password:
      description: The zip password, or V(null) for unencrypted kits.
      type: str
      sample: 64CWMI3Zb00JRcPn
    email:
      description: The recipient's e-mail from the table, or V(null).
      type: str
      sample: admin@nvidia.com
    kind:
      description: V(server), V(client) or V(admin).
      type: str
      sample: client
    former:
      description: V(true) for the kit of a site in O(former_clients) (made by the tool, not to be shipped).
      type: bool
      returned: for such kits only
    path:
      description: Full path of the zip file in O(packages_dir); only when O(packages_dir) is given.
      type: str
      sample: /srv/clarafl/provision/packages/org1-a.zip
    sha256:
      description:
        - SHA-256 digest of the zip file, so a copy elsewhere can be recognised without reading it again; only when
          O(packages_dir) is given.
      type: str
      sample: 5f3c0e1b7a9d2c4e6f8a0b1c3d5e7f9a2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d1e
  sample:
    - {name: server, zip: server.zip, password: 64CWMI3Zb00JRcPn, email: null, kind: server}
    - {name: admin@nvidia.com, zip: admin@nvidia.com.zip, password: n0ldaxCZYoj8Orpv, email: admin@nvidia.com,
       kind: admin}
encrypted:
  description: Whether the kits are password-protected.
  returned: success
  type: bool
  sample: true
source:
  description:
    - Where the kits were read from. V(clara_table) (Clara Train 3.1/4.0 table), V(password_lines) (NVFlare 2.0-2.2
      lines) or V(zip_names) (unencrypted kits listed from O(packages_dir)).
  returned: success
  type: str
  sample: clara_table
server:
  description: The name of the server's kit.
  returned: success
  type: str
  sample: server
verified:
  description: Whether every password was proven to open its zip (O(verify_passwords) with O(packages_dir)).
  returned: success
  type: bool
  sample: true
"""

import hashlib
import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.clarafl.federation.plugins.module_utils.provision_output import (
    ProvisionOutputError,
    parse_provision,
)
from ansible_collections.clarafl.federation.plugins.module_utils.kit_archive import (
    KitArchiveError,
    check_kit_password,
)


def _read_output(module):
    if module.params["output"] is not None:
        return module.params["output"]
    path = module.params["output_file"]
    try:
        with open(path, "rb") as fh:
            return fh.read().decode("utf-8", "replace")
    except (IOError, OSError) as exc:
        module.fail_json(msg="Cannot read the provisioner output file %s: %s. Give the path, on this host, of the "
                             "file that holds the provisioner's output." % (path, to_native(exc.strerror or exc)),
                         reason="missing_output")
    return None


def _zip_names(module):
    packages_dir = module.params["packages_dir"]
    if packages_dir is None:
        return None
    if not os.path.isdir(packages_dir):
        module.fail_json(msg="packages_dir %s is not a directory on this host: give the provisioner's output "
                             "directory (its -o argument), which holds the kit zip files." % packages_dir,
                         reason="missing_packages")
    try:
        return sorted(n for n in os.listdir(packages_dir)
                      if n.endswith(".zip") and os.path.isfile(os.path.join(packages_dir, n)))
    except OSError as exc:
        module.fail_json(msg="Cannot list packages_dir %s: %s" % (packages_dir, to_native(exc.strerror or exc)))
    return None


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def main():
    module = AnsibleModule(
        argument_spec=dict(
            output=dict(type="str", no_log=True),
            output_file=dict(type="path"),
            packages_dir=dict(type="path"),
            server_name=dict(type="str"),
            expected_clients=dict(type="list", elements="str"),
            expected_admins=dict(type="list", elements="str"),
            former_clients=dict(type="list", elements="str", default=[]),
            encrypted=dict(type="bool", default=True),
            verify_passwords=dict(type="bool", default=True),
        ),
        mutually_exclusive=[("output", "output_file")],
        required_one_of=[("output", "output_file")],
        supports_check_mode=True,
    )
    p = module.params
    text = _read_output(module)
    zip_names = _zip_names(module)
    expected = {"server": p["server_name"], "clients": p["expected_clients"], "admins": p["expected_admins"],
                "former_clients": p["former_clients"]}
    try:
        result = parse_provision(text, zip_names=zip_names, expected=expected, server_name=p["server_name"],
                                 encrypted=p["encrypted"])
    except ProvisionOutputError as exc:
        # Defence in depth: nothing password-like may reach the logs through a failure.
        module.no_log_values.update(v for v in exc.sensitive_values if v and len(v) >= 4)
        module.fail_json(msg=to_native(exc), problems=exc.problems)

    kits = result["kits"]
    verified = False
    if zip_names is not None:
        for kit in kits:
            kit["path"] = os.path.join(p["packages_dir"], kit["zip"])
            try:
                kit["sha256"] = _sha256(kit["path"])
            except (IOError, OSError) as exc:
                module.no_log_values.update(k["password"] for k in kits if k["password"])
                module.fail_json(msg="Cannot read kit %s: %s. The packages directory does not hold what the "
                                     "provisioning output lists." % (kit["path"], to_native(exc)))
        if p["verify_passwords"] and result["encrypted"]:
            for kit in kits:
                try:
                    # Every member's password header, and every small member read to the end.
                    check_kit_password(kit["path"], kit["password"], full=False)
                except KitArchiveError as exc:
                    module.no_log_values.update(k["password"] for k in kits if k["password"])
                    if exc.reason == "wrong_password":
                        module.fail_json(
                            msg="The password parsed for %s does not open %s: the output and the packages directory "
                                "come from different provisioner runs, or the output is damaged. Use the output "
                                "of the run that produced %s." % (kit["zip"], kit["path"], p["packages_dir"]))
                    module.fail_json(msg="Cannot verify kit %s: %s" % (kit["zip"], to_native(exc)))
            verified = True
    server = [k["name"] for k in kits if k["kind"] == "server"]
    module.exit_json(changed=False, kits=kits, encrypted=result["encrypted"], source=result["source"],
                     server=server[0] if server else None, verified=verified)


if __name__ == "__main__":
    main()
