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
  - "Bounded: an archive that holds far more than a kit (a few dozen files, well under 1 MiB) is refused before
    anything is written, with RV(reason=limit) - more members than O(max_members), more bytes uncompressed than
    O(max_size), or a compression ratio over O(max_ratio). Declared sizes can lie, so the bytes really decompressed
    are counted too; a member that holds more than its header declares is refused as RV(reason=corrupt).
    Members must be stored or deflated, as C(zip -P) makes them; bzip2, LZMA and other methods, whose output
    cannot be bounded while reading, are refused as RV(reason=unsupported)."
  - WinZip-AES archives need the Python package C(pyzipper) on the managed host; without it the module says so.
  - With O(kits), one call installs several kits (for example every kit of the inventory hosts that share one
    machine); each kit is handled as above, and one kit's failure leaves the others alone.
author:
  - clarafl.federation maintainers (@clarafl)
options:
  src:
    description:
      - Path of the kit zip on the managed host.
      - Required unless O(kits) is given; mutually exclusive with it.
    type: path
  dest:
    description:
      - Directory that receives the kit (the archive's C(startup/) ends up as O(dest)C(/startup)).
      - Created when missing; its parent directory must exist.
      - Required with O(src).
    type: path
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
  max_size:
    description:
      - The most bytes the archive may hold uncompressed, all its members together. A larger archive is refused
        before anything is written (RV(reason=limit)).
      - Checked against the sizes the archive declares, then against the bytes really decompressed, which stops
        an archive whose sizes lie as soon as it passes this cap.
      - A startup kit is well under 1 MiB; the default is 256 MiB (V(268435456)).
    type: int
    default: 268435456
    version_added: 0.1.0
  max_members:
    description:
      - The most members (files and directories) the archive may hold; an archive with more is refused before
        anything is written (RV(reason=limit)). A startup kit holds a few dozen.
    type: int
    default: 2000
    version_added: 0.1.0
  max_ratio:
    description:
      - The highest compression ratio (bytes uncompressed per byte compressed) allowed, for the whole archive and
        for each member larger than 1 MiB; an archive over it is a zip bomb and is refused before anything is
        written (RV(reason=limit)). Certificates, keys and configuration compress far less than this.
    type: int
    default: 200
    version_added: 0.1.0
  kits:
    description:
      - Several kits to install in one call, instead of O(src) and O(dest).
      - Each kit takes O(src), O(dest), O(password), O(checksum) and O(record) as above; O(owner), O(group), O(mode),
        O(private_mode), O(max_size), O(max_members) and O(max_ratio) default to the top-level options.
      - The caps hold for each kit on its own, not for the kits together.
    type: list
    elements: dict
    version_added: 0.1.0
    suboptions:
      src:
        description: Path of the kit zip on the managed host.
        type: path
        required: true
      dest:
        description: Directory that receives the kit.
        type: path
        required: true
      password:
        description: The kit's zip password.
        type: str
      checksum:
        description: The SHA-256 the archive at O(kits[].src) must have.
        type: str
      record:
        description: The kit's extraction record (see O(record)).
        type: path
      copy_from:
        description:
          - A copy of the archive on the same host, such as the provisioning workspace's zip when the provisioner
            and the kit's host are one machine. When O(kits[].src) is missing or is another archive, this one is
            copied there first (V(0600), missing folders V(0700)), after its SHA-256 is checked against
            O(kits[].checksum), which is then required.
        type: path
      owner:
        description: As O(owner), for this kit.
        type: str
      group:
        description: As O(group), for this kit.
        type: str
      mode:
        description: As O(mode), for this kit.
        type: raw
      private_mode:
        description: As O(private_mode), for this kit.
        type: raw
      max_size:
        description: As O(max_size), for this kit.
        type: int
      max_members:
        description: As O(max_members), for this kit.
        type: int
      max_ratio:
        description: As O(max_ratio), for this kit.
        type: int
  missing:
    description:
      - With O(kits), what a kit whose archive is missing or is another archive than its checksum names (and that has
        no O(kits[].copy_from)) does.
      - V(fail) fails the task, naming the kit. V(report) lists it in RV(kits) with its RV(kits[].reason), so that a
        play can ship that zip and call the module again; the other kits are still installed.
    type: str
    choices: [fail, report]
    default: fail
    version_added: 0.1.0
notes:
  - "The password is C(no_log) and never appears in messages. When the password comes from a loop over
    M(clarafl.federation.provision_kits) results, put C(no_log: true) on the task as well, because the loop item
    is displayed otherwise."
  - A staging directory named C(.clarafl-kit-staging-*) is created inside O(dest) (or beside it when O(dest) does
    not exist yet) and removed afterwards; a leftover one from an interrupted run is removed by the next run.
extends_documentation_fragment:
  - clarafl.federation.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff lists mode, path, size and a short SHA-256 of each file before and after; private keys show no hash.
  platform:
    support: full
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

- name: Install the kits of two sites that share one machine, in one call
  clarafl.federation.kit_extract:
    kits:
      - src: /opt/clarafl/example_project/.kits/org1-a.zip
        dest: /opt/clarafl/example_project/org1-a
        password: "{{ org1_a_password }}"
        checksum: "{{ org1_a_sha256 }}"
        record: /opt/clarafl/example_project/.kits/org1-a.zip.extracted
      - src: /opt/clarafl/example_project/.kits/org1-b.zip
        dest: /opt/clarafl/example_project/org1-b
        password: "{{ org1_b_password }}"
        checksum: "{{ org1_b_sha256 }}"
        record: /opt/clarafl/example_project/.kits/org1-b.zip.extracted
    # A kit whose zip is not there yet is listed (reason missing) instead of failing the task.
    missing: report
  register: installed

- name: Extract a kit that really is larger than the caps allow (a big homomorphic-encryption context)
  clarafl.federation.kit_extract:
    src: /opt/clarafl/kits/server.zip
    dest: /opt/clarafl/example_project/server
    password: "{{ server_kit_password }}"
    max_size: 1073741824  # 1 GiB instead of 256 MiB
"""

RETURN = r"""
reason:
  description:
    - On failure, one word for what is wrong - V(missing), V(checksum), V(not_zip), V(truncated), V(corrupt),
      V(wrong_password), V(password_required), V(aes_unsupported), V(unsupported), V(unsafe_member),
      V(limit) (over O(max_size), O(max_members) or O(max_ratio)), V(bad_argument), V(io) or V(owner).
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
missing:
  description:
    - With O(kits) and O(missing=report), the O(kits[].src) of each kit whose archive is missing or is another
      archive, to be shipped.
  returned: with O(kits)
  type: list
  elements: str
  sample: [/opt/clarafl/example_project/.kits/org2.zip]
kits:
  description:
    - With O(kits), one result per kit, in order, with the keys above (RV(dest), RV(created), RV(added),
      RV(changed_files), RV(removed), RV(encryption), RV(members)) and the ones below.
  returned: with O(kits)
  type: list
  elements: dict
  contains:
    src:
      description: The kit's O(kits[].src), as given.
      type: str
      sample: /opt/clarafl/example_project/.kits/org1-a.zip
    changed:
      description: Whether this kit was (or would be) changed.
      type: bool
    copied:
      description: Whether the archive was (or would be) copied from O(kits[].copy_from).
      type: bool
    failed:
      description: Present and true when this kit could not be installed, or its archive is to be shipped.
      type: bool
    reason:
      description: Why, as RV(reason).
      type: str
      sample: missing
    msg:
      description: What is wrong with this kit and what to do.
      type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.clarafl.federation.plugins.module_utils.kit_archive import (
    DEFAULT_MAX_MEMBERS,
    DEFAULT_MAX_RATIO,
    DEFAULT_MAX_SIZE,
    KitArchiveError,
    extract_kit,
    install_kits,
    SHIPPABLE_REASONS,
)


KIT_DEFAULTS = ("owner", "group", "mode", "private_mode", "max_size", "max_members", "max_ratio")


def main():
    kit_spec = dict(
        src=dict(type="path", required=True),
        dest=dict(type="path", required=True),
        password=dict(type="str", no_log=True),
        checksum=dict(type="str"),
        record=dict(type="path"),
        copy_from=dict(type="path"),
        owner=dict(type="str"),
        group=dict(type="str"),
        mode=dict(type="raw"),
        private_mode=dict(type="raw"),
        max_size=dict(type="int"),
        max_members=dict(type="int"),
        max_ratio=dict(type="int"),
    )
    module = AnsibleModule(
        argument_spec=dict(
            src=dict(type="path"),
            dest=dict(type="path"),
            password=dict(type="str", no_log=True),
            owner=dict(type="str"),
            group=dict(type="str"),
            mode=dict(type="raw", default="0755"),
            private_mode=dict(type="raw", default="0600"),
            record=dict(type="path"),
            checksum=dict(type="str"),
            max_size=dict(type="int", default=DEFAULT_MAX_SIZE),
            max_members=dict(type="int", default=DEFAULT_MAX_MEMBERS),
            max_ratio=dict(type="int", default=DEFAULT_MAX_RATIO),
            kits=dict(type="list", elements="dict", options=kit_spec),
            missing=dict(type="str", choices=["fail", "report"], default="fail"),
        ),
        mutually_exclusive=[("kits", "src"), ("kits", "dest")],
        required_one_of=[("kits", "src")],
        required_together=[("src", "dest")],
        supports_check_mode=True,
    )
    p = module.params
    if p["kits"] is not None:
        run_kits(module)
    try:
        result = extract_kit(p["src"], p["dest"], password=p["password"], mode=p["mode"],
                             private_mode=p["private_mode"], owner=p["owner"], group=p["group"],
                             check_mode=module.check_mode, record=p["record"], checksum=p["checksum"],
                             max_size=p["max_size"], max_members=p["max_members"], max_ratio=p["max_ratio"])
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


def run_kits(module):
    """Several kits in one call: each with the top-level options as defaults."""
    p = module.params
    kits = []
    for kit in p["kits"]:
        kit = dict(kit)
        for key in KIT_DEFAULTS:
            if kit.get(key) is None:
                kit[key] = p[key]
        kits.append(kit)
    try:
        results, failures = install_kits(kits, check_mode=module.check_mode, report_missing=p["missing"] == "report")
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg="Cannot install the kits: unexpected %s: %s" % (type(exc).__name__, to_native(exc)))
    diffs = [r.pop("diff") for r in results if r.get("diff")]
    changed = any(r["changed"] for r in results)
    if failures:
        module.fail_json(msg="%d of %d kits could not be installed: %s" % (
            len(failures), len(results), " ".join(to_native(f["msg"]) for f in failures)),
            reason=failures[0]["reason"], kits=results, changed=changed)
    missing = [r["src"] for r in results if r.get("reason") in SHIPPABLE_REASONS]
    result = dict(changed=changed, kits=results, missing=missing)
    if module._diff:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
