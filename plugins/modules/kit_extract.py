#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: kit_extract
short_description: Extract a password-protected provisioner startup kit safely, atomically and idempotently
version_added: 0.1.0
description:
  - Extracts a startup kit zip made by the Clara Train / NVFlare provisioner (ZipCrypto, as C(zip -P) makes them)
    into O(dest) on the managed host, replacing the C(unzip -P) step of the manual runbook.
  - "Safe: every member name is checked before anything is written; absolute paths, C(..), symbolic links,
    device files and anything that would land outside O(dest) are rejected, naming the member."
  - "Atomic: the whole archive is read and every member's CRC verified first; the kit is then extracted into a
    private staging directory and swapped into place with a rename. A wrong password, a corrupt or a truncated
    archive leaves O(dest) exactly as it was, and the error says which of the three it is."
  - "Idempotent: reports a change only when a file's content, type, mode or (with O(owner)/O(group)) ownership
    differs from the archive, or when a file would be removed."
  - The top-level entries of the archive (C(startup/) for a Clara Train kit) are managed as a whole; files under
    them that the archive does not hold are removed. Anything else in O(dest) (the engine's run folders, logs) is
    left alone.
  - "Modes: private keys (C(*.key) files and any file holding a PEM C(PRIVATE KEY) block, such as a C(*.pem) key)
    get O(private_mode); a directory that directly holds one gets O(private_mode) plus an execute bit for each
    read bit (V(0600) gives V(0700)); C(*.sh) files and files stored executable get V(0755); other files V(0644);
    other directories V(0755); O(dest) itself gets O(mode)."
  - WinZip-AES archives need the Python package C(pyzipper) on the managed host; without it the module says so.
author:
  - clarafl.federation maintainers (@clarafl)
options:
  src:
    description:
      - Path of the kit zip on the managed host.
    type: path
    required: true
  dest:
    description:
      - Directory that receives the kit (the archive's C(startup/) ends up as O(dest)C(/startup)).
      - Created when missing; its parent directory must exist.
    type: path
    required: true
  password:
    description:
      - The kit's zip password, as printed by the provisioner (see M(clarafl.federation.provision_kits)).
      - Required when the archive is encrypted.
    type: str
  owner:
    description:
      - User name or numeric uid that should own O(dest) and everything extracted. Needs root (C(become)).
      - By default new files belong to the connecting user and the ownership of existing files is not checked.
    type: str
  group:
    description:
      - Group name or numeric gid for O(dest) and everything extracted. Needs root (C(become)) unless the user is
        a member of it.
    type: str
  mode:
    description:
      - Mode of O(dest) itself, as an octal string such as V('0755') (or a YAML octal number).
    type: raw
    default: '0755'
  private_mode:
    description:
      - Mode of private-key files; their directory gets this mode plus an execute bit for each read bit.
    type: raw
    default: '0600'
  record:
    description:
      - A file where the module records what it extracted (digests, sizes and modes, never file contents; written
        V(0600)). A later run with the same archive bytes, password and modes compares O(dest) with the record
        instead of decrypting the archive again, which makes reruns cheap; anything that differs falls back to
        the full check.
      - Unset, every run reads and decrypts the whole archive.
    type: path
    version_added: 0.1.0
  checksum:
    description:
      - The SHA-256 the archive at O(src) must have (as M(clarafl.federation.provision_kits) returns it).
      - A missing archive then fails with RV(reason=missing) and another archive with RV(reason=checksum), before
        anything is read or written, so a play can ship the kit and try again.
    type: str
    version_added: 0.1.0
notes:
  - "The password is C(no_log) and never appears in messages. When the password comes from a loop over
    M(clarafl.federation.provision_kits) results, put C(no_log: true) on the task as well, because the loop item
    is displayed otherwise."
  - A staging directory named C(.clarafl-kit-staging-*) is created inside O(dest) (or beside it when O(dest) does
    not exist yet) and removed afterwards; a leftover one from an interrupted run is removed by the next run.
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details:
      - The diff lists mode, path, size and a short SHA-256 of each file before and after; private keys show no hash.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
seealso:
  - module: clarafl.federation.provision_kits
  - module: ansible.builtin.unarchive
"""

EXAMPLES = r"""
- name: Extract the server's kit
  clarafl.federation.kit_extract:
    src: /opt/clarafl/kits/server.zip
    dest: /opt/clarafl/example_project/server
    password: "{{ server_kit_password }}"
    owner: clarafl
    group: clarafl
    # Reruns compare against this record instead of decrypting the kit again.
    record: /opt/clarafl/kits/server.zip.extracted
  become: true

- name: Extract each admin's kit with a group-readable private key
  clarafl.federation.kit_extract:
    src: "/opt/clarafl/kits/{{ item.zip }}"
    dest: "/opt/clarafl/example_project/admin/{{ item.name }}"
    password: "{{ item.password }}"
    mode: '0750'
    private_mode: '0640'
  loop: "{{ provisioned.kits | selectattr('kind', 'equalto', 'admin') | list }}"
  loop_control:
    label: "{{ item.name }}"
  no_log: true
"""

RETURN = r"""
reason:
  description:
    - On failure, one word for what is wrong - V(missing), V(checksum), V(not_zip), V(truncated), V(corrupt),
      V(wrong_password), V(password_required), V(aes_unsupported), V(unsupported), V(unsafe_member),
      V(bad_argument), V(io) or V(owner).
  returned: failure
  type: str
  sample: wrong_password
dest:
  description: Absolute path of the destination directory.
  returned: success
  type: str
  sample: /opt/clarafl/example_project/server
created:
  description: Whether O(dest) did not exist before.
  returned: success
  type: bool
  sample: false
added:
  description: Paths (relative to O(dest); directories end with C(/)) that the archive adds.
  returned: success
  type: list
  elements: str
  sample: [startup/, startup/server.key]
changed_files:
  description: Paths whose content, type, mode or ownership the archive changes.
  returned: success
  type: list
  elements: str
  sample: [startup/fed_server.json]
removed:
  description: Paths under the archive's top-level entries that the archive does not hold, so they are removed.
  returned: success
  type: list
  elements: str
  sample: [startup/old.crt]
encryption:
  description: The archive's encryption, V(zipcrypto), V(aes) or V(none).
  returned: success
  type: str
  sample: zipcrypto
members:
  description: Number of files in the archive.
  returned: success
  type: int
  sample: 12
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.clarafl.federation.plugins.module_utils.kit_archive import (
    KitArchiveError,
    extract_kit,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            src=dict(type="path", required=True),
            dest=dict(type="path", required=True),
            password=dict(type="str", no_log=True),
            owner=dict(type="str"),
            group=dict(type="str"),
            mode=dict(type="raw", default="0755"),
            private_mode=dict(type="raw", default="0600"),
            record=dict(type="path"),
            checksum=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        result = extract_kit(p["src"], p["dest"], password=p["password"], mode=p["mode"],
                             private_mode=p["private_mode"], owner=p["owner"], group=p["group"],
                             check_mode=module.check_mode, record=p["record"], checksum=p["checksum"])
    except KitArchiveError as exc:
        module.fail_json(msg="Cannot extract kit %s into %s: %s" % (p["src"], p["dest"], to_native(exc)),
                         reason=exc.reason)
    except Exception as exc:  # pylint: disable=broad-except
        # An unforeseen failure still gets a sentence, not a traceback.
        module.fail_json(msg="Cannot extract kit %s into %s: unexpected %s: %s. %s is unchanged unless the final "
                             "rename had begun." % (p["src"], p["dest"], type(exc).__name__, to_native(exc), p["dest"]))
    diff = result.pop("diff")
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
