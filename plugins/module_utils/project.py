# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The provisioning project (project.yml and authz_config.json) built from a plain description.

Pure functions: `validate_project` lists every problem at once, `render_project` builds the two
documents the provisioning tool reads, `describe_changes` says what differs between two projects.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import re

# X.509 common names are limited to 64 characters; the provisioner crashes on longer ones.
CN_MAX = 64
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
EMAIL_RE = re.compile(r"^[^@\s/]+@[^@\s/]+$")
POLICIES = ("relaxed", "strict")
ADMIN_ROLES = ("super", "lead_researcher", "site_researcher", "lead_it", "site_it")
SDK_VERSIONS = ("v4.0", "v3.1.01")
DEFAULT_HE = {
    "lib": "tenseal",
    "config": {"poly_modulus_degree": 8192, "coeff_mod_bit_sizes": [60, 40, 40], "scale_bits": 40,
               "scheme": "CKKS"},
}

AUTHZ_ROLES = {
    "super": "super user of system",
    "lead_researcher": "lead researcher of the study",
    "site_researcher": "site researcher of the study",
    "site_it": "site IT of the study",
    "lead_it": "lead IT of the study",
}
AUTHZ_GROUPS = {
    "relaxed": {"desc": "org group with relaxed policies",
                "rules": {"allow_byoc": True, "allow_custom_datalist": True}},
    "strict": {"desc": "org group with strict policies",
               "rules": {"allow_byoc": False, "allow_custom_datalist": False}},
    "general": {"desc": "general group user rights",
                "role_rights": {"super": {},
                                "lead_researcher": {"train_all": True, "view_all": True},
                                "site_researcher": {"train_self": True, "view_self": True},
                                "lead_it": {"operate_all": True, "view_all": True},
                                "site_it": {"operate_self": True, "view_self": True}}},
}


class ProjectError(Exception):
    """The project description has problems; `problems` lists every one."""

    def __init__(self, problems):
        self.problems = list(problems)
        super(ProjectError, self).__init__(
            "The federation described by the inventory cannot be provisioned (%d problem%s): %s"
            % (len(self.problems), "" if len(self.problems) == 1 else "s", "; ".join(self.problems)))


def _server(spec):
    server = dict(spec.get("server") or {})
    server.setdefault("fed_learn_port", 8002)
    server.setdefault("admin_port", 8003)
    server.setdefault("min_num_clients", 1)
    server.setdefault("max_num_clients", 100)
    server.setdefault("admin_storage", "transfer")
    return server


def validate_project(spec):
    """Every problem of SPEC, as sentences that say what to change; empty when it can be provisioned."""
    problems = []
    name = spec.get("name") or ""
    if not NAME_RE.match(name):
        problems.append("project name %r must be letters, digits, '.', '_' or '-'" % name)
    if spec.get("sdk_version", "v4.0") not in SDK_VERSIONS:
        problems.append("sdk_version %r is not one of %s" % (spec.get("sdk_version"), ", ".join(SDK_VERSIONS)))

    server = _server(spec)
    cn = server.get("cn") or ""
    policies = spec.get("org_policies") or {}
    if not cn:
        problems.append("the server cn is empty: set provisioning_server_cn to the name clients reach the server by")
    elif cn == "example.com":
        problems.append("the server cn is still 'example.com': set provisioning_server_cn to the server's real name")
    elif len(cn) > CN_MAX:
        problems.append("the server cn %r is %d characters, over the %d certificates allow" % (cn, len(cn), CN_MAX))
    if not server.get("org"):
        problems.append("the server has no org: set provisioning_server_org")
    ports = []
    for key in ("fed_learn_port", "admin_port"):
        try:
            port = int(server[key])
        except (TypeError, ValueError):
            problems.append("server %s %r is not a number" % (key, server[key]))
            continue
        if not 0 < port < 65536:
            problems.append("server %s %d is not a TCP port (1-65535)" % (key, port))
        ports.append(port)
    if len(ports) == 2 and ports[0] == ports[1]:
        problems.append("fed_learn_port and admin_port are both %d: they must differ" % ports[0])

    clients = spec.get("clients") or []
    if not clients:
        problems.append("there are no client sites: put at least one host in the fl_clients group")
    seen = {}
    for client in clients:
        cname = client.get("name") or ""
        if not cname:
            problems.append("a client site has no name (its name in fl_sites, or fl_client_name)")
            continue
        if cname in seen:
            where = ("on %s" % seen[cname] if seen[cname] == client.get("host", "?")
                     else "on %s and on %s" % (seen[cname], client.get("host", "?")))
            problems.append("client name %r is used twice (%s): client names must be unique" % (cname, where))
        seen[cname] = client.get("host", "?")
        if len(cname) > CN_MAX:
            problems.append("client name %r is %d characters, over the %d certificates allow"
                            % (cname, len(cname), CN_MAX))
        elif not NAME_RE.match(cname):
            problems.append("client name %r must be letters, digits, '.', '_' or '-'" % cname)
        if cname == cn:
            problems.append("client name %r collides with the server's kit: choose another" % cname)
        if not client.get("org"):
            problems.append("client %r has no org (its org in fl_sites, or fl_org)" % cname)
    try:
        low, high = int(server["min_num_clients"]), int(server["max_num_clients"])
        if low < 1 or low > high:
            problems.append("min_num_clients %d must be at least 1 and at most max_num_clients %d" % (low, high))
        elif clients and low > len(clients):
            problems.append("min_num_clients %d is more than the %d client sites in the inventory" % (low, len(clients)))
    except (TypeError, ValueError):
        problems.append("min_num_clients and max_num_clients must be numbers")

    admins = spec.get("admins") or []
    if not admins:
        problems.append("there are no admin users: set fl_admins (email, org, roles)")
    emails = set()
    for admin in admins:
        email = admin.get("email") or ""
        if not EMAIL_RE.match(email):
            problems.append("admin email %r is not an email address" % email)
        if email in emails:
            problems.append("admin %r is listed twice" % email)
        emails.add(email)
        if len(email) > CN_MAX:
            problems.append("admin email %r is %d characters, over the %d certificates allow"
                            % (email, len(email), CN_MAX))
        if not admin.get("org"):
            problems.append("admin %r has no org" % email)
        roles = admin.get("roles") or []
        if not roles:
            problems.append("admin %r has no roles (one of %s)" % (email, ", ".join(ADMIN_ROLES)))
        for role in roles:
            if role not in ADMIN_ROLES:
                problems.append("admin %r has unknown role %r (known: %s)" % (email, role, ", ".join(ADMIN_ROLES)))

    orgs = set()
    if server.get("org"):
        orgs.add(server["org"])
    orgs.update(c["org"] for c in clients if c.get("org"))
    orgs.update(a["org"] for a in admins if a.get("org"))
    for org in sorted(orgs):
        if org not in policies:
            problems.append("org %r has no policy: add it to fl_org_policies as relaxed or strict" % org)
    for org, policy in sorted(policies.items()):
        if policy not in POLICIES:
            problems.append("org %r has policy %r: use relaxed (custom code allowed) or strict" % (org, policy))
    return problems


def render_project(spec):
    """(project, authz) documents for the provisioning tool; raises ProjectError listing every problem."""
    problems = validate_project(spec)
    if problems:
        raise ProjectError(problems)
    server = _server(spec)
    clients = spec["clients"]
    admins = spec["admins"]
    project = {"name": spec["name"]}
    # Homomorphic encryption keys came with Clara 4.0; 3.1's provisioner has no such section.
    if spec.get("sdk_version", "v4.0") == "v4.0" and spec.get("he", DEFAULT_HE):
        project["he"] = spec.get("he", DEFAULT_HE)
    project["config_folder"] = "config"
    project["server"] = {
        "org": server["org"], "cn": server["cn"],
        "fed_learn_port": int(server["fed_learn_port"]), "admin_port": int(server["admin_port"]),
        "admin_storage": server["admin_storage"],
        "min_num_clients": int(server["min_num_clients"]), "max_num_clients": int(server["max_num_clients"]),
        "auth": True, "config_validator": None,
    }
    project["fl_clients"] = []
    for client in clients:
        entry = {"org": client["org"], "client_name": client["name"]}
        if client.get("email"):
            entry["email"] = client["email"]
        project["fl_clients"].append(entry)
    project["admin_clients"] = [{"org": a["org"], "email": a["email"]} for a in admins]

    policies = spec["org_policies"]
    used = set([server["org"]] + [c["org"] for c in clients] + [a["org"] for a in admins])
    authz = {
        "version": "1.0",
        "roles": AUTHZ_ROLES,
        "groups": AUTHZ_GROUPS,
        "users": dict((a["email"], {"org": a["org"], "roles": list(a["roles"])}) for a in admins),
        "orgs": dict((org, [policies[org], "general"]) for org in sorted(used)),
        "sites": dict([("server", server["org"])] + [(c["name"], c["org"]) for c in clients]),
    }
    return project, authz


def inputs_hash(project, authz):
    """A stable fingerprint of what the provisioner is given."""
    blob = json.dumps({"project": project, "authz": authz}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def site_history(previous, project, authz):
    """What the project's audit file knows of sites, and the authz the provisioning tool must be given.

    The tool refuses a project when its audit history names a site that authz_config.json lacks, and it keeps
    making kits for every site it ever certified. So a site removed from the inventory stays in the authz the
    tool is given (never in project.yml), and its kit, still made, is not shipped. PREVIOUS is the state
    recorded by the last provisioning ({} for none): its ``known_sites`` when present, else its project's sites.
    Returns (known_sites {name: org}, former_sites [names], tool_authz).
    """
    previous = previous or {}
    known = previous.get("known_sites")
    if not isinstance(known, dict):
        known = dict((c["client_name"], c["org"]) for c in (previous.get("project") or {}).get("fl_clients", []))
    current = dict((c["client_name"], c["org"]) for c in project.get("fl_clients", []))
    former = sorted(set(known) - set(current))
    tool_authz = json.loads(json.dumps(authz))
    for name in former:
        tool_authz["sites"].setdefault(name, known[name])
        # An org that no longer has a participant keeps the least rights the tool accepts.
        tool_authz["orgs"].setdefault(known[name], ["general"])
    merged = dict(known)
    merged.update(current)
    return merged, former, tool_authz


def describe_changes(old_project, old_authz, new_project, new_authz):
    """Sentences naming what differs between two provisioned projects (empty when nothing does)."""
    changes = []
    old_project = old_project or {}
    old_authz = old_authz or {}
    old_sites = dict((c["client_name"], c["org"]) for c in old_project.get("fl_clients", []))
    new_sites = dict((c["client_name"], c["org"]) for c in new_project.get("fl_clients", []))
    added = sorted(set(new_sites) - set(old_sites))
    removed = sorted(set(old_sites) - set(new_sites))
    if added:
        changes.append("sites added: %s" % ", ".join(added))
    if removed:
        changes.append("sites removed: %s" % ", ".join(removed))
    moved = sorted(s for s in set(old_sites) & set(new_sites) if old_sites[s] != new_sites[s])
    if moved:
        changes.append("sites moved to another org: %s" % ", ".join(moved))
    old_admins = set(a["email"] for a in old_project.get("admin_clients", []))
    new_admins = set(a["email"] for a in new_project.get("admin_clients", []))
    if new_admins - old_admins:
        changes.append("admins added: %s" % ", ".join(sorted(new_admins - old_admins)))
    if old_admins - new_admins:
        changes.append("admins removed: %s" % ", ".join(sorted(old_admins - new_admins)))
    old_server = old_project.get("server", {})
    for key in sorted(set(old_server) | set(new_project.get("server", {}))):
        if old_server.get(key) != new_project["server"].get(key):
            changes.append("server %s changed from %s to %s" % (key, old_server.get(key), new_project["server"].get(key)))
    if old_project.get("name") != new_project.get("name"):
        changes.append("project name changed from %s to %s" % (old_project.get("name"), new_project.get("name")))
    if old_project.get("he") != new_project.get("he"):
        changes.append("homomorphic encryption settings changed")
    if old_authz.get("orgs") != new_authz.get("orgs"):
        changes.append("org policies changed")
    if old_authz.get("users") != new_authz.get("users") and not (new_admins ^ old_admins):
        changes.append("admin roles changed")
    return changes
