# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Partner sites: sites the lead of a federation provisions but does not run, and the folder each partner
organization is handed (its kits as the provisioner made them, a README, the passwords apart).

The lead's inventory lists them as data, with no machine::

    fl_partner_sites:
      - {name: org2, org: org2, contact: it@org2.example, required: false}

Pure functions: ``partners`` (the variable, normalized), ``partner_problems`` (what is wrong with it, for the
inventory check), ``project_clients`` (the partner sites as the provisioning project's clients), ``export_plan``
(which kit goes to which organization), ``readme`` and ``passwords_text`` (what the folder says),
``kit_identity`` (a kit's fingerprint without what the provisioner makes anew on every run) and ``export`` (the
folder brought to what the plan says; files 0600, folders 0700; only what an earlier export made is replaced or
removed).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import tempfile

from ansible_collections.clarafl.federation.plugins.module_utils.kit_archive import KitArchiveError, member_digests
from ansible_collections.clarafl.federation.plugins.module_utils.project import CN_MAX, NAME_RE

VARIABLE = "fl_partner_sites"
PARTNER_KEYS = ("name", "org", "contact", "required")
# Kit names a site cannot take: the server's kit and the admin console's folder.
RESERVED = ("server", "admin")
CONTACT_MAX = 200
# The host a partner site is on, in the provisioning project's messages: none, it is data of the inventory.
PARTNER_HOST = "fl_partner_sites"

RECORD = ".clarafl-export.json"
RECORD_VERSION = 1
README = "README.md"
PASSWORDS = "passwords.yml"
PASSWORDS_VAULT = "passwords.vault.yml"
# What the join playbook reads the passwords from (the file handed over sets it).
PASSWORDS_VARIABLE = "fl_partner_kit_passwords"
FILE_MODE = 0o600
DIR_MODE = 0o700


class ExportError(Exception):
    """The export cannot be made; the message says what to do."""


# ----------------------------------------------------------------------------- the variable

def _text(value):
    return value.strip() if isinstance(value, str) else ""


def partners(value):
    """The partner sites of fl_partner_sites, each {name, org, contact, required}; entries that are no dictionary
    with a name are left out (partner_problems names them)."""
    out = []
    for entry in value if isinstance(value, (list, tuple)) else []:
        if not isinstance(entry, dict) or not _text(entry.get("name")):
            continue
        required = entry.get("required", False)
        out.append({"name": _text(entry["name"]), "org": _text(entry.get("org")),
                    "contact": _text(entry.get("contact")), "required": required is True})
    return out


def _entry_problems(number, entry, lead, seen):
    name = entry.get("name")
    label = ("partner site %s" % name) if isinstance(name, str) and name.strip() else (
        "partner site %d of %s" % (number, VARIABLE))
    problems = []
    unknown = sorted(str(k) for k in entry if k not in PARTNER_KEYS)
    if unknown:
        problems.append("%s sets %s, which a partner site does not have (it sets %s)"
                        % (label, ", ".join(unknown), ", ".join(PARTNER_KEYS)))
    name = _text(name)
    if not name:
        problems.append("%s has no name: give it the site name its kit is made for" % label)
    elif len(name) > CN_MAX:
        problems.append("%s: the name is %d characters, over the %d certificates allow" % (label, len(name), CN_MAX))
    elif not NAME_RE.match(name):
        problems.append("%s: a site name must be letters, digits, '.', '_' or '-'" % label)
    elif name in RESERVED:
        problems.append("%s: the name %s is taken by the %s's kit; choose another" % (label, name, name))
    elif name in lead:
        problems.append("%s is also a site of the lead's machine %s (fl_sites): a site is run either by a machine of "
                        "this inventory or by its own organization (%s), not both; remove it from one of them"
                        % (label, lead[name], VARIABLE))
    elif name in seen:
        problems.append("%s is listed twice in %s: each partner site once" % (label, VARIABLE))
    if name:
        seen.add(name)
    if not _text(entry.get("org")):
        problems.append("%s has no org: give the organization that runs it (fl_org_policies names its policy)" % label)
    contact = entry.get("contact")
    if not _text(contact):
        problems.append("%s has no contact: give whom to ask when the site has not joined (an email or a phone); "
                        "the lead's training names it" % label)
    elif "\n" in contact or len(contact.strip()) > CONTACT_MAX:
        problems.append("%s: the contact must be one line of at most %d characters" % (label, CONTACT_MAX))
    if "required" in entry and not isinstance(entry["required"], bool):
        problems.append("%s: required must be true (the training does not start without it) or false, not %r"
                        % (label, entry["required"]))
    return problems


def partner_problems(values_by_host, lead_sites):
    """What is wrong with fl_partner_sites, one sentence each (the inventory check adds them to its errors).

    VALUES_BY_HOST: {host: the value of fl_partner_sites there}, for the hosts that have it, in inventory order;
    LEAD_SITES: [{name, host}] of the sites the lead's machines run. A value that is no list, or an entry that is no
    dictionary, is left to the variable's type check.
    """
    hosts = list(values_by_host or {})
    if not hosts:
        return []
    value = values_by_host[hosts[0]]
    problems = []
    differ = [h for h in hosts[1:] if values_by_host[h] != value]
    if differ:
        problems.append("%s differs between %s and %s: set it once for the whole inventory (group_vars/all)"
                        % (VARIABLE, hosts[0], ", ".join(differ)))
    if not isinstance(value, (list, tuple)):
        return problems
    lead = {}
    for site in lead_sites or []:
        if isinstance(site, dict) and site.get("name"):
            lead.setdefault(str(site["name"]), str(site.get("host") or "?"))
    seen = set()
    for number, entry in enumerate(value, 1):
        if isinstance(entry, dict):
            problems.extend(_entry_problems(number, entry, lead, seen))
    return problems


def project_clients(value, lead_names=()):
    """The partner sites as clients of the provisioning project ({name, org, host}), in order; one whose name or
    org partner_problems refuses is left out, so that the project's check does not say it a second time."""
    lead, seen, out = set(lead_names or ()), set(), []
    for partner in partners(value):
        name = partner["name"]
        if (len(name) > CN_MAX or not NAME_RE.match(name) or name in RESERVED or name in lead or name in seen
                or not partner["org"]):
            continue
        seen.add(name)
        out.append({"name": name, "org": partner["org"], "host": PARTNER_HOST})
    return out


# ----------------------------------------------------------------------------- what goes to whom

def export_plan(kits, value, admins, lead_orgs, super_admin=""):
    """[{org, contacts, kits}] of every organization that is handed kits, sorted by org.

    KITS: what the provisioner made ({name, zip, password, sha256, kind}); VALUE: fl_partner_sites; ADMINS:
    fl_admins; LEAD_ORGS: the organizations the lead runs (the server's, its own sites'). A partner site's kit goes
    to its org; so does the admin kit of an admin of an org the lead does not run (a researcher of a partner),
    never the lead's own console user (SUPER_ADMIN). Each kit: {name, zip, kind (site|admin), roles, password,
    sha256}. Raises ValueError when the provisioner made no kit for one of them.
    """
    made = dict(((k.get("kind"), k.get("name")), k) for k in kits or [] if isinstance(k, dict) and not k.get("former"))
    lead_orgs = set(o for o in lead_orgs or () if o)
    orgs = {}

    def add(org, name, kind, kit, roles, contact):
        if kit is None:
            raise ValueError("the provisioner made no kit for %s %s: provision again (provisioning_force: true)"
                             % ("partner site" if kind == "site" else "admin", name))
        entry = orgs.setdefault(org, {"org": org, "contacts": [], "kits": []})
        if contact and contact not in entry["contacts"]:
            entry["contacts"].append(contact)
        entry["kits"].append({"name": name, "zip": kit.get("zip") or name + ".zip", "kind": kind, "roles": roles,
                              "password": kit.get("password"), "sha256": kit.get("sha256")})

    for partner in partners(value):
        if partner["org"]:
            add(partner["org"], partner["name"], "site", made.get(("client", partner["name"])), [],
                partner["contact"])
    for admin in admins or []:
        if not isinstance(admin, dict):
            continue
        email, org = _text(admin.get("email")), _text(admin.get("org"))
        if not email or not org or org in lead_orgs or email == super_admin:
            continue
        add(org, email, "admin", made.get(("admin", email)), list(admin.get("roles") or []), email)
    return [orgs[org] for org in sorted(orgs)]


# ----------------------------------------------------------------------------- what the folder says

def passwords_text(project, org, kits):
    """The passwords file of one organization: YAML that sets fl_partner_kit_passwords {kit name: password}."""
    lines = ["# The passwords of the startup kits of %s in federation %s, one per zip of this folder." % (org, project),
             "# Keep this file private; clarafl.federation.join reads it (-e @<this file>).",
             "%s:" % PASSWORDS_VARIABLE]
    lines.extend("  %s: %s" % (json.dumps(kit["name"]), json.dumps(kit["password"])) for kit in kits)
    return "\n".join(lines) + "\n"


def _for(kit):
    if kit["kind"] == "site":
        return "site %s" % kit["name"]
    roles = ", ".join(kit.get("roles") or [])
    return "admin console of %s%s" % (kit["name"], " (%s)" % roles if roles else "")


def readme(project, org, server, kits, vault=False, lead=""):
    """The README of one organization's folder: what is in it, the server, what to run. No secret in it."""
    cn = server["cn"]
    address = server.get("address") or cn
    fl_port, admin_port = server["fed_learn_port"], server["admin_port"]
    passwords = PASSWORDS_VAULT if vault else PASSWORDS
    sites = [k for k in kits if k["kind"] == "site"]
    admins = [k for k in kits if k["kind"] == "admin"]
    width = max([len(k["zip"]) for k in kits] + [3])
    used = max([len(_for(k)) for k in kits] + [3])
    lines = [
        "# Federation %s: the startup kits of %s" % (project, org),
        "",
        "The lead of federation %s%s provisioned these kits for %s. Each zip is as the provisioner made it and"
        % (project, " (%s)" % lead if lead else "", org),
        "opens with its own password, which is in %s%s." % (
            passwords, ", an Ansible Vault file: its vault password comes from the lead by another way" if vault else
            " (keep it private)"),
        "",
        "    %s  %s  %s" % ("kit".ljust(width), "for".ljust(used), "SHA-256"),
    ]
    lines.extend("    %s  %s  %s" % (k["zip"].ljust(width), _for(k).ljust(used), k["sha256"]) for k in kits)
    lines.extend([
        "",
        "Check a kit before you use it: `sha256sum <zip>` prints the digest above.",
        "",
        "## The server",
        "",
        "Name (its certificate is issued for it): %s. FL port %s: each site connects to it. Admin port %s: admin"
        % (cn, fl_port, admin_port),
        "consoles connect to it. Your machines connect out to these ports; nothing needs to reach your machines.",
    ])
    if address != cn:
        lines.extend([
            "Address: %s. When %s does not resolve on your machines, set `fl_partner_server_address: %s` (below)"
            % (address, cn, address),
            "or add `%s %s` to their /etc/hosts." % (address, cn),
        ])
    if sites:
        lines.extend([
            "",
            "## Run the sites with Ansible",
            "",
            "With the collection clarafl.federation on your controller and an inventory of your own machines:",
            "",
            "```yaml",
            "all:",
            "  children:",
            "    fl_partner_clients:",
            "      hosts:",
            "        gpu-host-1:                  # one of your machines, reached over SSH with sudo",
            "          fl_sites:",
        ])
        lines.extend("            - {name: %s, org: %s, dataset_dir: /data/%s}" % (k["name"], org, k["name"])
                     for k in sites)
        lines.extend([
            "  vars:",
            "    fl_project_name: %s" % project,
            "    fl_partner_kit_dir: /path/to/this/folder   # on your controller",
            "    fl_partner_kit_sha256:",
        ])
        lines.extend("      %s: %s" % (json.dumps(k["name"]), k["sha256"]) for k in sites)
        if address != cn:
            lines.append("    fl_partner_server_address: %s" % address)
        lines.extend([
            "```",
            "",
            "    ansible-playbook clarafl.federation.join -i inventory.yml -e @%s%s" % (
                passwords, " --ask-vault-pass" if vault else ""),
            "",
            "It checks each kit (its password, that it is this federation's kit of that site, its SHA-256) and that the",
            "server answers your machines with this federation's certificate, before it changes anything there; then it",
            "installs Docker and the Clara image, starts one container per site and waits until each has registered",
            "with the server. It changes nothing when run again. `clarafl.federation.stop` and",
            "`clarafl.federation.teardown` with the same inventory stop and remove your sites, and only them.",
            "",
            "Without Ansible: `unzip -P <password> <site>.zip -d <site>`, then `sh <site>/startup/start.sh` (the",
            "provisioner's own way, see startup/readme.txt), with the server's name resolving on that machine.",
            "",
            "The lead sees each site's registration and contributions in its training; a site that has not joined is",
            "named there with its contact. The lead never connects to your machines.",
        ])
    if admins:
        lines.extend([
            "",
            "## Admin consoles",
            "",
            "An admin kit is a console: `unzip -P <password> <email>.zip -d console`, then",
            "`console/startup/fl_admin.sh` (the Clara image has what it needs) and log in with the email.",
        ])
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- kits that did not change

def changes_every_run(name):
    """Kit members the provisioner makes anew on every run, even with the same audit file: the homomorphic
    encryption context and the signature of the kit's files."""
    base = name.rsplit("/", 1)[-1]
    return base.endswith(".tenseal") or base == "signature.pkl"


def kit_identity(path, password):
    """A kit's fingerprint: its members but those the provisioner makes anew on every run. Two zips of the same
    participant from two runs with one audit file have the same one (same certificate, key, root CA, server)."""
    digests = member_digests(path, password, skip=changes_every_run)
    blob = json.dumps(sorted(digests.items()), separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


# ----------------------------------------------------------------------------- the folder

def _sha256(path):
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 16), b""):
                digest.update(chunk)
    except (IOError, OSError):
        return None
    return digest.hexdigest()


def _sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def _write(path, data):
    """PATH holds DATA (bytes), mode 0600, written beside it and renamed into place."""
    folder = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".clarafl-export-")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), FILE_MODE)
            handle.write(data)
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _mkdir(path, check_mode):
    if os.path.isdir(path):
        if not check_mode and os.stat(path).st_mode & 0o077:
            os.chmod(path, DIR_MODE)
        return
    if os.path.lexists(path):
        raise ExportError("%s is in the way: it should be a folder; move it away" % path)
    if not check_mode:
        os.mkdir(path, DIR_MODE)
        os.chmod(path, DIR_MODE)


def _read_record(dest):
    path = os.path.join(dest, RECORD)
    try:
        with open(path) as handle:
            record = json.load(handle)
    except (IOError, OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("version") != RECORD_VERSION or not isinstance(
            record.get("orgs"), dict):
        return None
    return record


class _Org(object):
    """One organization's folder against its part of the record: what is ours, what to write, what to remove."""

    def __init__(self, dest, org, record, check_mode):
        self.folder = os.path.join(dest, org)
        self.before = record or {"files": {}, "sources": {}}
        self.files = dict(self.before.get("files") or {})
        self.sources = dict(self.before.get("sources") or {})
        self.check_mode = check_mode
        self.written, self.kept, self.removed = [], [], []

    def ours(self, name, current):
        """Whether the file NAME (current digest CURRENT, None when absent) may be written: absent, or made by an
        earlier export."""
        if current is None or name in self.files:
            return True
        raise ExportError("%s holds %s, which no export made: move it away or choose another export folder "
                          "(provisioning_export_dir); nothing was changed there" % (self.folder, name))

    def put(self, name, data):
        path = os.path.join(self.folder, name)
        current = _sha256(path)
        digest = _sha256_bytes(data)
        self.ours(name, current)
        if current == digest:
            if self.files.get(name) != digest:
                self.files[name] = digest
            self.kept.append(name)
            return
        if not self.check_mode:
            _write(path, data)
        self.files[name] = digest
        self.written.append(name)

    def keep(self, name, digest):
        self.files[name] = digest
        self.kept.append(name)

    def prune(self, wanted):
        for name in sorted(set(self.files) - set(wanted)):
            path = os.path.join(self.folder, name)
            if os.path.lexists(path):
                if not self.check_mode:
                    os.unlink(path)
                self.removed.append(name)
            self.files.pop(name)
            self.sources.pop(name, None)

    def record(self):
        return {"files": self.files, "sources": self.sources}


def _export_kit(folder, kit, fetch, check_mode):
    """Put one kit in the organization's folder, or keep the zip there when it is the same kit."""
    name = kit["zip"]
    path = os.path.join(folder.folder, name)
    current = _sha256(path)
    folder.ours(name, current)
    recorded = folder.files.get(name)
    intact = current is not None and current == recorded
    if intact and folder.sources.get(name) == kit["sha256"]:
        folder.kept.append(name)
        return
    data = fetch(kit)
    got = _sha256_bytes(data)
    if kit.get("sha256") and got != kit["sha256"]:
        raise ExportError("the provisioner's %s is not the zip its run recorded (sha256 %s, recorded %s): the "
                          "provisioning workspace changed meanwhile; run again" % (name, got, kit["sha256"]))
    if intact:
        # Provisioned again with the same audit file: the same kit, zipped anew. The one handed over stays.
        fd, tmp = tempfile.mkstemp(prefix=".clarafl-export-", dir=folder.folder if os.path.isdir(folder.folder) else None)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            try:
                same = kit_identity(path, kit["password"]) == kit_identity(tmp, kit["password"])
            except KitArchiveError:
                same = False
        finally:
            os.unlink(tmp)
        if same:
            folder.keep(name, current)
            folder.sources[name] = kit["sha256"]
            return
    if not check_mode:
        _write(path, data)
    folder.files[name] = _sha256_bytes(data)
    folder.sources[name] = kit["sha256"]
    folder.written.append(name)


def export(dest, project, server, plan, fetch, vault=None, check_mode=False, lead=""):
    """Bring the export folder DEST to PLAN (export_plan): one folder per organization holding its kits, its README
    and its passwords file (Ansible Vault when VAULT is given). Files are 0600, folders 0700.

    FETCH(kit) returns the bytes of a kit's zip as the provisioner made it; it is called only for a kit whose
    exported zip is not known to be the one of that provisioner run. A zip already handed over is kept when the
    new one holds the same kit (kit_identity), so that a site added later leaves the others' zips byte for byte.
    VAULT: an object with encrypt(text) -> text and decrypt(text) -> text (None when it cannot). Only what an
    earlier export made (its record, DEST/.clarafl-export.json) is replaced or removed.

    Returns {changed, orgs: {org: {folder, written, kept, removed, kits: [{name, zip, sha256}]}}, removed_orgs}.
    """
    if not os.path.isabs(dest):
        raise ExportError("the export folder %s must be an absolute path on the controller" % dest)
    record = _read_record(dest)
    if record is not None and record.get("project") not in (None, project):
        raise ExportError("%s is the export folder of federation %s, not %s: choose another one "
                          "(provisioning_export_dir)" % (dest, record.get("project"), project))
    if record is None and os.path.isdir(dest) and any(
            os.path.isdir(os.path.join(dest, org["org"])) for org in plan):
        raise ExportError("%s already holds a folder of %s that no export made: move it away or choose another "
                          "export folder (provisioning_export_dir); nothing was changed there"
                          % (dest, ", ".join(org["org"] for org in plan if os.path.isdir(os.path.join(dest, org["org"])))))
    record = record or {"version": RECORD_VERSION, "project": project, "orgs": {}}
    if plan:
        _makedirs(dest, check_mode)
    result = {"changed": False, "orgs": {}, "removed_orgs": []}
    new_orgs = {}
    for entry in plan:
        org = entry["org"]
        folder = _Org(dest, org, record["orgs"].get(org), check_mode)
        _mkdir(folder.folder, check_mode)
        for kit in entry["kits"]:
            _export_kit(folder, kit, fetch, check_mode)
        # The digests of the zips the folder holds: a zip kept from an earlier run is named with its own.
        exported = [dict(k, sha256=folder.files.get(k["zip"])) for k in entry["kits"]]
        folder.put(README, readme(project, org, server, exported, vault=vault is not None, lead=lead).encode("utf-8"))
        text = passwords_text(project, org, entry["kits"])
        wanted = [k["zip"] for k in entry["kits"]] + [README]
        if vault is None:
            folder.put(PASSWORDS, text.encode("utf-8"))
            wanted.append(PASSWORDS)
        else:
            _put_vault(folder, text, vault)
            wanted.append(PASSWORDS_VAULT)
        folder.prune(wanted)
        new_orgs[org] = folder.record()
        result["orgs"][org] = {"folder": folder.folder, "written": folder.written, "kept": folder.kept,
                               "removed": folder.removed,
                               "kits": [{"name": k["name"], "zip": k["zip"], "kind": k["kind"],
                                         "sha256": folder.files.get(k["zip"])} for k in entry["kits"]]}
        result["changed"] = result["changed"] or bool(folder.written or folder.removed)
    for org in sorted(set(record["orgs"]) - set(new_orgs)):
        folder = _Org(dest, org, record["orgs"][org], check_mode)
        folder.prune([])
        if not check_mode and os.path.isdir(folder.folder) and not os.listdir(folder.folder):
            os.rmdir(folder.folder)
        result["removed_orgs"].append(org)
        result["changed"] = True
    new_record = {"version": RECORD_VERSION, "project": project, "orgs": new_orgs}
    if new_record != record and not check_mode and (plan or os.path.isdir(dest)):
        _write(os.path.join(dest, RECORD), (json.dumps(new_record, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    return result


def _makedirs(path, check_mode):
    missing = []
    while path and not os.path.isdir(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    for folder in reversed(missing):
        _mkdir(folder, check_mode)


def _put_vault(folder, text, vault):
    """The passwords as an Ansible Vault file: kept when it already holds TEXT (its encryption is salted anew each
    time, so the bytes are compared only through the vault)."""
    path = os.path.join(folder.folder, PASSWORDS_VAULT)
    current = _sha256(path)
    folder.ours(PASSWORDS_VAULT, current)
    if current is not None:
        with open(path) as handle:
            existing = handle.read()
        if vault.decrypt(existing) == text:
            folder.keep(PASSWORDS_VAULT, current)
            return
    data = vault.encrypt(text).encode("utf-8")
    if not folder.check_mode:
        _write(path, data)
    folder.files[PASSWORDS_VAULT] = _sha256_bytes(data)
    folder.written.append(PASSWORDS_VAULT)


# ----------------------------------------------------------------------------- the export's arguments

# The arguments of clarafl.federation.fl_partner_export (its action plugin validates them, its module documents them).
EXPORT_SPEC = dict(
    dest=dict(type="path", required=True),
    project=dict(type="str", required=True),
    server=dict(type="dict", required=True, options=dict(
        cn=dict(type="str", required=True),
        address=dict(type="str"),
        fed_learn_port=dict(type="int", required=True),
        admin_port=dict(type="int", required=True),
    )),
    orgs=dict(type="list", elements="dict", required=True, options=dict(
        org=dict(type="str", required=True),
        contacts=dict(type="list", elements="str", default=[]),
        kits=dict(type="list", elements="dict", required=True, options=dict(
            name=dict(type="str", required=True),
            zip=dict(type="str", required=True),
            kind=dict(type="str", required=True, choices=["site", "admin"]),
            roles=dict(type="list", elements="str", default=[]),
            password=dict(type="str", required=True, no_log=True),
            sha256=dict(type="str", required=True),
        )),
    )),
    packages_dir=dict(type="str", required=True),
    vault_password=dict(type="str", no_log=True, default=""),
    lead=dict(type="str", default=""),
)


def summary(outcome, vault=False):
    """Lines that say what each organization's folder holds and what changed; no secret in them."""
    lines = []
    for org, done in sorted(outcome["orgs"].items()):
        kits = ", ".join("%s (%s %s, sha256 %s)" % (k["zip"], k["kind"], k["name"], k["sha256"]) for k in done["kits"])
        lines.append("%s: %s holds %s, %s and the passwords in %s." % (
            org, done["folder"], kits, README, PASSWORDS_VAULT if vault else PASSWORDS))
        if done["written"] or done["removed"]:
            removed = ("; removed " + ", ".join(done["removed"])) if done["removed"] else ""
            lines.append("%s: written %s%s." % (org, ", ".join(done["written"]) or "nothing", removed))
    for org in outcome.get("removed_orgs") or []:
        lines.append("%s: no longer a partner; its kits were taken out of the export folder." % org)
    return lines
