# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A check of the variables a user sets in the inventory, before any host is touched.

Pure functions: `check` lists every problem of the collection's variables at once (unknown names with
a suggestion, types against the roles' argument specs, ranges, absolute paths, the MMAR source), each
problem once with the hosts it is on. `merge_specs`, `undocumented` and `runtime_names` turn the roles'
files (already loaded) into what `check` and the filter need.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import functools
import ipaddress
import os
import re

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.errors import ArgumentTypeError, ArgumentValueError, ElementError

from ansible_collections.clarafl.federation.plugins.module_utils.host_check import system_folder_reason

COLLECTION = "clarafl.federation"
# Only variables whose names start with one of these are the collection's (and checked).
PREFIXES = ("fl_", "zerotier_", "docker_", "clara_image_", "provisioning_")
# The value of a variable whose name holds one of these is never shown.
SECRET_WORDS = ("key", "token", "password")
MASK = "********"
# Spec keys the validator needs; the others (description, version_added, default, ...) are documentation.
VALIDATOR_KEYS = ("type", "choices", "elements", "options", "required")
SUGGESTION_CUTOFF = 0.75
VALUE_WIDTH = 80

# Variables of the whole federation that no role's argument spec holds: the roles read them through their
# defaults (fl_kit_root -> fl_server_kit_dir, ...) and the playbooks read them directly.
FEDERATION_VARS = {
    "fl_project_name": {"type": "str", "description": "Project name: kits, containers and folders carry it."},
    "fl_server_org": {"type": "str", "description": "Organization of the FL server."},
    "fl_server_cn": {"type": "str", "description": "Name clients and the admin console reach the server by."},
    "fl_admins": {"type": "list", "elements": "dict", "description": "Admin users, each {email, org, roles}."},
    "fl_org_policies": {"type": "dict", "description": "Policy group (relaxed or strict) of each org."},
    "fl_fed_learn_port": {"type": "int", "description": "Port clients connect to (default 8002)."},
    "fl_admin_port": {"type": "int", "description": "Port the admin console connects to (default 8003)."},
    "fl_kit_root": {"type": "path", "description": "Folder on each host holding its extracted kit(s)."},
    "fl_engine_supervisor": {"type": "str", "choices": ["collection", "kit"],
                             "description": "Who runs the engine in the server's and sites' containers: the "
                                            "collection's supervisor (default) or the kit's own sub_start.sh loop."},
    "fl_client_name": {"type": "str", "group": "fl_clients",
                       "description": "Site name of a client host (default its inventory name)."},
    "fl_org": {"type": "str", "group": "fl_clients", "description": "Organization of a client site."},
    "fl_dataset_dir": {"type": "path", "group": "fl_clients", "description": "Dataset folder of a client site."},
    "fl_sites": {"type": "list", "elements": "dict", "group": "fl_clients",
                 "description": "Sites a client machine runs: [{name, org, dataset_dir, gpus, demo_data}]."},
    "fl_dataset_root": {"type": "path", "description": "Folder holding one dataset folder per site, named as the site."},
    "fl_partner_sites": {"type": "list", "elements": "dict",
                         "description": "Sites other organizations run, as data (no machine): [{name, org, contact, "
                                        "required}] (module_utils/partners.py)."},
    "fl_strict_variables": {"type": "bool", "description": "Refuse unknown variable names instead of warning."},
    "fl_run_lock_steal": {"type": "bool", "description": "Take over the run lock another run left behind."},
    "fl_run_lock_expiry": {"type": "int", "description": "Seconds without a heartbeat after which another "
                                                         "controller's run lock is taken over (0: never)."},
    "fl_teardown_confirm": {"type": "str", "description": "The project name, to confirm playbooks/teardown.yml."},
}

# The inventory group whose hosts run a role; the other roles run on every host.
ROLE_GROUPS = {"fl_server": "fl_server", "fl_client": "fl_clients", "fl_admin": "fl_admin"}

# Inclusive bounds of the int variables for which 0 or a negative number means nothing (None: no bound).
_PORT = (1, 65535)
RANGES = {
    # counts and rounds
    "fl_admin_num_rounds": (1, None),
    "fl_admin_min_num_clients": (1, None),
    "fl_admin_run_number": (1, None),
    "provisioning_min_num_clients": (1, None),
    "provisioning_max_num_clients": (1, None),
    # timeouts, intervals, retries and delays
    "clara_image_pull_retries": (1, None),
    "clara_image_pull_delay": (1, None),
    "clara_image_pull_timeout": (1, None),
    "clara_image_build_timeout": (1, None),
    "docker_start_timeout": (1, None),
    "fl_server_start_timeout": (1, None),
    "fl_admin_wait_timeout": (1, None),
    "fl_admin_validation_timeout": (1, None),
    "fl_admin_registration_timeout": (1, None),
    "fl_admin_stall_timeout": (1, None),
    "fl_admin_unanswered_timeout": (1, None),
    "fl_admin_server_timeout": (1, None),
    "fl_admin_progress_interval": (1, None),
    "fl_admin_partner_wait": (0, None),
    "fl_admin_max_recoveries": (0, None),
    "fl_run_lock_expiry": (0, None),
    "provisioning_lock_expiry": (0, None),
    "fl_partner_connect_timeout": (1, None),
    "fl_partner_join_timeout": (1, None),
    "zerotier_api_timeout": (1, None),
    "zerotier_wait_timeout": (1, None),
    "zerotier_wait_delay": (1, None),
    # ports
    "fl_fed_learn_port": _PORT,
    "fl_admin_port": _PORT,
    "fl_server_fed_learn_port": _PORT,
    "fl_server_admin_port": _PORT,
    "provisioning_fed_learn_port": _PORT,
    "provisioning_admin_port": _PORT,
}

# The FL port and the admin port of one project must differ: (FL port, admin port, default FL, default admin);
# a role's own pair falls back to the federation's pair (fl_fed_learn_port, fl_admin_port).
PORT_PAIRS = (
    ("fl_fed_learn_port", "fl_admin_port"),
    ("provisioning_fed_learn_port", "provisioning_admin_port"),
    ("fl_server_fed_learn_port", "fl_server_admin_port"),
)
PORT_DEFAULTS = {"fl_fed_learn_port": 8002, "fl_admin_port": 8003}

# Paths used on the hosts (and the controller): each must be absolute, for the reason given. Empty is allowed for
# the ones listed in EMPTY_PATH_OK (it means "none").
_KEYS = "a relative path would put private keys wherever ansible-playbook runs from"
_DATA = "a relative path points wherever the task happens to run, not at the site's data"
_LOCK = "a relative path depends on where the task runs, so two runs might not see the same lock"
ABSOLUTE_PATHS = {
    "fl_kit_root": _KEYS,
    "provisioning_kit_root": _KEYS,
    "provisioning_workspace": _KEYS,
    "fl_admin_kit_dir": _KEYS,
    "fl_server_kit_dir": _KEYS,
    "fl_client_kit_dir": _KEYS,
    "provisioning_controller_kits_dir": _KEYS,
    "fl_dataset_dir": _DATA,
    "fl_dataset_root": _DATA,
    "fl_client_dataset_root": _DATA,
    "fl_client_dataset_dir": _DATA,
    "provisioning_lock_file": _LOCK,
}
EMPTY_PATH_OK = ("provisioning_controller_kits_dir", "fl_dataset_dir", "fl_client_dataset_dir", "fl_dataset_root",
                 "fl_client_dataset_root")
# Kit roots that must be a folder of the project's own: not /, a top-level folder such as /opt, or a home folder.
KIT_ROOTS = ("fl_kit_root", "provisioning_kit_root")

MMAR_SOURCES = ("demo", "path", "ngc")

# An int given as a string is taken only as plain digits: Ansible would read '1e9' or '1.5' as a number, and the
# string itself would still reach the engine's configs.
INT_TEXT = re.compile(r"^[+-]?[0-9]+$")

# X.509 limits the names in a certificate to 64 characters (ub-common-name, ub-organization-name); the provisioner
# puts the project name in the root CA's CN and each org in the O of its participants' certificates. (Site names,
# admin emails and the server's cn are checked with the project: plugins/module_utils/project.py.)
CERT_NAME_MAX = 64
PROJECT_NAMES = ("fl_project_name", "provisioning_project_name")
ORG_NAMES = ("fl_server_org", "provisioning_server_org", "fl_org")
SERVER_NAMES = ("fl_server_cn", "provisioning_server_cn")

_TYPE_NAMES = {
    "str": "a string", "path": "a path (a string)", "int": "an int", "float": "a float",
    "bool": "a bool (true or false)", "list": "a list", "dict": "a dict",
}
_ELEMENT_NAMES = {
    "str": "strings", "path": "paths", "int": "ints", "float": "floats", "bool": "bools", "list": "lists",
    "dict": "dicts",
}
_ON = "\x00on\x00"  # where the hosts go in a problem's sentence


class RenderFailure(object):
    """The value of a variable that could not be rendered (the filter passes it in place of the value)."""

    def __init__(self, reason):
        self.reason = reason

    def __repr__(self):
        return "RenderFailure(%r)" % (self.reason,)


def is_collection_var(name):
    """True for a name with one of the collection's prefixes (and not private, _... or __...)."""
    return not name.startswith("_") and name.startswith(PREFIXES)


def is_secret(name):
    """True when the value of NAME must never be shown."""
    lower = name.lower()
    return any(word in lower for word in SECRET_WORDS)


def plain(value):
    """VALUE with Ansible's tagged/lazy types turned into plain dicts, lists, strings and numbers."""
    if isinstance(value, RenderFailure) or value is None:
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dict) or (hasattr(value, "keys") and hasattr(value, "__getitem__")):
        return dict((plain(k), plain(value[k])) for k in value.keys())
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(item) for item in value]
    return value


def unrendered(value):
    """True when VALUE (or anything in it) is a Jinja template that was not rendered yet."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(unrendered(k) or unrendered(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(unrendered(item) for item in value)
    return False


def show(name, value):
    """VALUE as the messages print it: masked for secret names, shortened when long."""
    if is_secret(name):
        return MASK
    text = repr(value)
    if len(text) > VALUE_WIDTH:
        text = text[:VALUE_WIDTH - 3] + "..."
    return text


def merge_specs(argument_specs_by_role):
    """{role: {var: option spec}} from {role: the loaded meta/argument_specs.yml}: every entry point's options."""
    specs = {}
    for role, document in sorted((argument_specs_by_role or {}).items()):
        options = {}
        for entry in ((document or {}).get("argument_specs") or {}).values():
            options.update((entry or {}).get("options") or {})
        specs[role] = options
    return specs


def undocumented(specs, defaults_by_role):
    """{role: [var, ...]} of the variables a role's defaults/main.yml sets that its argument spec lacks."""
    missing = {}
    for role, defaults in sorted((defaults_by_role or {}).items()):
        names = sorted(name for name in (defaults or {}) if name not in (specs.get(role) or {}))
        if names:
            missing[role] = names
    return missing


def tasks_in(node):
    """Every task (and play) of a loaded playbook or task file, blocks and their rescue/always included."""
    if isinstance(node, list):
        for item in node:
            yield from tasks_in(item)
    elif isinstance(node, dict):
        yield node
        for key in ("block", "rescue", "always", "tasks", "pre_tasks", "post_tasks", "handlers"):
            yield from tasks_in(node.get(key))


def runtime_names(documents):
    """Names the collection's own tasks give values to (register, set_fact): facts, not inventory variables.

    DOCUMENTS are loaded task files or playbooks. Such names may be in hostvars (a fact cache, an earlier task)
    without the user having set them.
    """
    names = set()
    for task in tasks_in(documents):
        registered = task.get("register")
        if isinstance(registered, str):
            names.add(registered)
        for module in ("set_fact", "ansible.builtin.set_fact", "ansible.legacy.set_fact"):
            args = task.get(module)
            if isinstance(args, dict):
                names.update(k for k in args if k != "cacheable")
    return sorted(names)


def _validator_spec(option, top=True):
    """OPTION without its documentation keys; never required at the top (an inventory may leave it out)."""
    spec = dict((k, v) for k, v in option.items() if k in VALIDATOR_KEYS)
    if top:
        spec.pop("required", None)
    if isinstance(spec.get("options"), dict):
        spec["options"] = dict((k, _validator_spec(v or {}, top=False)) for k, v in spec["options"].items())
    return spec


def _a_type(spec):
    kind = spec.get("type", "str")
    if kind == "list" and spec.get("elements") in _ELEMENT_NAMES:
        return "a list of %s" % _ELEMENT_NAMES[spec["elements"]]
    return _TYPE_NAMES.get(kind, "of type %s" % kind)


def _clean(text, name):
    """The validator's own text (about a sub-option), tidied; nothing of it for a secret (it quotes values)."""
    if is_secret(name):
        return "its value does not match the variable's argument spec (the value is not shown)"
    return text.replace("'. and ", "' and ").replace(". Supported", ": supported").strip().rstrip(".")


def _strings(value):
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(k) + _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for item in value for s in _strings(item)]
    if value is None:
        return []
    return [str(value)]


def validate(name, value, option):
    """(problem sentences with the _ON place for the hosts, the converted value) of VALUE against OPTION."""
    spec = _validator_spec(option)
    kind = spec.get("type", "str")
    shown = show(name, value)
    if value is None:
        if kind == "raw":
            return [], value
        return ["%s (on %s) has no value (null in YAML): give it one or remove it." % (name, _ON)], value
    # The validator turns a list into a string and True into 1: neither is what the user meant.
    if kind in ("str", "path") and isinstance(value, (list, dict)):
        return ["%s (on %s) must be %s: %s is not." % (name, _ON, _a_type(spec), shown)], value
    if kind in ("int", "float") and isinstance(value, bool):
        return ["%s (on %s) must be %s: %s is not." % (name, _ON, _a_type(spec), shown)], value
    result = ArgumentSpecValidator({name: spec}).validate({name: value})
    if not result.error_messages and kind == "int" and isinstance(value, float):
        return ["%s (on %s) must be a whole number written as digits: %s is a float." % (name, _ON, shown)], value
    if not result.error_messages and kind == "int" and isinstance(value, str) and not INT_TEXT.match(value):
        return ["%s (on %s) must be a whole number written as digits: %s is a string that YAML did not read as a "
                "number (write e.g. 1000000000, not 1e9)." % (name, _ON, shown)], value
    problems = []
    for error in result.errors:
        top = " found in " not in error.msg  # else the error is about one of its sub-options
        if top and isinstance(error, ArgumentValueError) and spec.get("choices"):
            choices = ", ".join(str(c) for c in spec["choices"])
            if kind == "list":
                problems.append("%s (on %s) must list only %s: %s does not." % (name, _ON, choices, shown))
            else:
                problems.append("%s (on %s) must be one of %s: %s is not." % (name, _ON, choices, shown))
        elif top and type(error) in (ArgumentTypeError, ElementError):
            problems.append("%s (on %s) must be %s: %s is not." % (name, _ON, _a_type(spec), shown))
        else:
            problems.append("%s (on %s) is not valid: %s." % (name, _ON, _clean(error.msg, name)))
    return problems, result.validated_parameters.get(name, value)


def _within(name, value):
    low, high = RANGES[name]
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    if low is not None and high is not None and not low <= value <= high:
        return "%s (on %s) must be between %d and %d (it is %d)." % (name, _ON, low, high, value)
    if low is not None and value < low:
        return "%s (on %s) must be at least %d (it is %d)." % (name, _ON, low, value)
    if high is not None and value > high:
        return "%s (on %s) must be at most %d (it is %d)." % (name, _ON, high, value)
    return None


def _path_problems(name, value, project):
    if not isinstance(value, str):
        return []
    if value == "" and name in EMPTY_PATH_OK:
        return []
    if not value.startswith("/"):
        return ["%s (on %s) must be an absolute path (it is %s): %s." % (name, _ON, show(name, value),
                                                                         ABSOLUTE_PATHS[name])]
    if name in KIT_ROOTS:
        normal = os.path.normpath(value)
        if normal.startswith("//"):
            normal = "/" + normal.lstrip("/")
        parts = [part for part in normal.split("/") if part]
        reason = system_folder_reason(normal)
        if len(parts) <= 1:
            what = "a top-level system folder"
        elif len(parts) == 2 and parts[0] == "home":
            what = "a home folder"
        elif reason:
            what = "a system folder (%s)" % reason.split("(", 1)[-1].rstrip(")")
        else:
            return []
        return ["%s (on %s) is %s, %s: give the project its own folder, e.g. /opt/clarafl/%s."
                % (name, _ON, normal, what, project)]
    return []


def _too_long(name, value, what):
    if isinstance(value, str) and len(value) > CERT_NAME_MAX:
        return ["%s (on %s) is %d characters: %s %s, over the %d characters a certificate allows; choose a shorter "
                "one." % (name, _ON, len(value), what, show(name, value), CERT_NAME_MAX)]
    return []


def server_name_problem(value):
    """Why VALUE cannot be the name the server is reached and certified by, or None: an IPv6 address (the engine's
    clients and Docker's add-host take no IPv6 literal as a host name) or a name with a port or brackets."""
    text = value.strip()
    bare = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        address = None
    if address is not None and address.version == 6:
        return ("is an IPv6 address: the engine's clients and Docker's hosts entries cannot use an IPv6 literal as "
                "the server's name; give the server a DNS name (or an IPv4 address)")
    if ":" in text or "[" in text or "]" in text or "/" in text:
        return "is not a host name (a name without port, brackets or slashes, e.g. fl-server.example.org)"
    return None


def name_problems(values):
    """Problems of the names that end up in certificates and folder names, of one host's VALUES."""
    problems = []
    for name in PROJECT_NAMES:
        problems.extend(_too_long(name, values.get(name), "the project name"))
    for name in ORG_NAMES:
        problems.extend(_too_long(name, values.get(name), "the org"))
    policies = values.get("fl_org_policies")
    if isinstance(policies, dict):
        for org in sorted(str(k) for k in policies):
            problems.extend(_too_long("fl_org_policies", org, "the org"))
    for key in ("fl_admins", "fl_sites"):
        entries = values.get(key)
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict):
                who = entry.get("email") or entry.get("name")
                problems.extend(_too_long(key, entry.get("org"), "the org of %s" % who))
    for name in SERVER_NAMES:
        value = values.get(name)
        if isinstance(value, str) and value.strip():
            why = server_name_problem(value)
            if why:
                problems.append("%s (on %s) is %s, which %s." % (name, _ON, show(name, value.strip()), why))
    return problems


def _project(values):
    name = values.get("fl_project_name")
    if isinstance(name, str) and name and not unrendered(name):
        return name
    return "<project>"


def _mmar_problems(values, checked, controller_exists):
    problems = []
    source = checked.get("fl_admin_mmar_source", values.get("fl_admin_mmar_source", "demo"))
    if isinstance(source, RenderFailure) or unrendered(source) or source not in MMAR_SOURCES:
        return problems  # a bad source is already reported by its type check
    if source == "path":
        path = values.get("fl_admin_mmar_path", "")
        if path is None or isinstance(path, RenderFailure) or unrendered(path):
            return problems  # null is already reported by its type check
        if path == "":
            problems.append("fl_admin_mmar_path (on %s) must be set when fl_admin_mmar_source is path: give the "
                            "unpacked MMAR folder on the controller." % _ON)
        elif isinstance(path, str) and not controller_exists(path):
            problems.append("fl_admin_mmar_path (on %s) is %s, which does not exist on the controller: give an "
                            "unpacked MMAR folder there." % (_ON, show("fl_admin_mmar_path", path)))
    elif source == "ngc":
        for name, what in (("fl_admin_ngc_api_key", "an NGC API key (keep it in Ansible Vault)"),
                           ("fl_admin_ngc_model", "a model under nvidia/med on NGC")):
            value = values.get(name, "" if name == "fl_admin_ngc_api_key" else "default")
            if value is None or isinstance(value, RenderFailure) or unrendered(value):
                continue  # null is already reported by its type check
            if isinstance(value, str) and not value.strip():
                problems.append("%s (on %s) must be set when fl_admin_mmar_source is ngc: give it %s."
                                % (name, _ON, what))
    return problems


def _port_problems(values, checked):
    problems = []

    def effective(name):
        if name in checked:
            return checked[name]
        if name in values:
            return None  # set but unusable (a template, a failure, a bad type): not compared
        fallback = name.replace("provisioning_", "fl_").replace("fl_server_", "fl_")
        if fallback != name:
            return effective(fallback)
        return PORT_DEFAULTS.get(name)

    for fl_port, admin_port in PORT_PAIRS:
        if fl_port not in values and admin_port not in values:
            continue
        first, second = effective(fl_port), effective(admin_port)
        if isinstance(first, int) and first == second:
            problems.append("%s and %s (on %s) must differ (both are %d)." % (fl_port, admin_port, _ON, first))
    return problems


def _host_problems(values, option_of, known, strict, used_here, in_fl_admin, controller_exists):
    """[(severity, sentence)] of one host's VALUES, with _ON where the host goes.

    USED_HERE(name) tells whether the host runs something that reads the variable: a template that cannot be
    rendered elsewhere (fl_dataset_dir naming fl_client_name, in group_vars/all) is never rendered there.
    """
    found = []
    checked = {}  # name -> value converted by the validator, for the variables that passed
    for name in sorted(values):
        value = values[name]
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=SUGGESTION_CUTOFF)
            hint = "; did you mean %s?" % close[0] if close else "."
            found.append(("error" if strict else "warning",
                          "%s (on %s) is not a variable of %s%s" % (name, _ON, COLLECTION, hint)))
            continue
        if isinstance(value, RenderFailure):
            if used_here(name):
                found.append(("error", "%s (on %s) cannot be rendered: %s." % (name, _ON, value.reason.rstrip("."))))
            continue
        if unrendered(value):
            continue
        option = option_of(name)
        if option is None:
            continue
        problems, converted = validate(name, value, option)
        found.extend(("error", p) for p in problems)
        if problems:
            continue
        checked[name] = converted
        if name in RANGES:
            problem = _within(name, converted)
            if problem:
                found.append(("error", problem))
                checked.pop(name)
        if name in ABSOLUTE_PATHS:
            path = value if isinstance(value, str) else converted
            found.extend(("error", p) for p in _path_problems(name, path, _project(values)))
    found.extend(("error", p) for p in _port_problems(values, checked))
    found.extend(("error", p) for p in name_problems(values))
    if in_fl_admin:
        found.extend(("error", p) for p in _mmar_problems(values, checked, controller_exists))
    return found


def _hosts_phrase(hosts, all_hosts, groups):
    if len(hosts) > 1 and set(hosts) == set(all_hosts):
        return "all hosts"
    listed = hosts[0] if len(hosts) == 1 else "%s and %s" % (", ".join(hosts[:-1]), hosts[-1])
    if len(hosts) > 1:
        for group in sorted(groups):
            if group not in ("all", "ungrouped") and set(groups[group] or []) == set(hosts):
                return "the %s hosts %s" % (group, listed)
    return listed


def _mask_everywhere(messages, host_vars):
    """Backstop: no message may hold the value of a secret variable, whatever printed it."""
    secrets = set()
    for values in host_vars.values():
        for name, value in values.items():
            if is_secret(name) and not isinstance(value, RenderFailure):
                secrets.update(s for s in _strings(value) if len(s) >= 4)
    for secret in sorted(secrets, key=len, reverse=True):
        messages = [m.replace(secret, MASK) for m in messages]
    return messages


def check(host_vars, groups, specs, extra_known=(), strict=False, controller_exists=os.path.exists):
    """Every problem of the collection's variables set in the inventory: {"errors": [...], "warnings": [...]}.

    HOST_VARS is {host: {var: value}} with only the variables the user set that have one of PREFIXES (a value
    may be a RenderFailure); GROUPS the inventory's {group: [hosts]}; SPECS {role: {var: option spec}} as in the
    roles' meta/argument_specs.yml. EXTRA_KNOWN are more known names (the roles' defaults). STRICT makes
    unknown names errors. CONTROLLER_EXISTS(path) tells whether a path exists on the controller.
    A problem found on several hosts is one sentence naming them all ("all hosts" when it is on every host).
    """
    groups = groups or {}
    options, role_of = {}, {}
    for role in sorted(specs or {}):
        for name, option in (specs[role] or {}).items():
            options.setdefault(name, option or {})
            role_of.setdefault(name, role)
    for name, option in FEDERATION_VARS.items():
        options.setdefault(name, option)

    def option_of(name):
        if name in options:
            return options[name]
        if name in RANGES:
            return {"type": "int"}  # a role default without a spec yet (fl_admin_stall_timeout, ...)
        return None

    def group_of(name):
        if name in FEDERATION_VARS:
            return FEDERATION_VARS[name].get("group")
        role = role_of.get(name) or next((r for r in sorted(ROLE_GROUPS) if name.startswith(r + "_")), None)
        return ROLE_GROUPS.get(role)

    def used_on(name, host):
        group = group_of(name)
        return group is None or host in (groups.get(group) or [])

    known = set(options) | set(extra_known or ())
    all_hosts = list(groups.get("all") or [])
    all_hosts.extend(h for h in host_vars if h not in all_hosts)
    admins = set(groups.get("fl_admin") or [])

    found = {}  # (severity, sentence) -> [hosts], in the order first found
    for host in all_hosts:
        values = dict((k, plain(v)) for k, v in (host_vars.get(host) or {}).items() if is_collection_var(k))
        used_here = functools.partial(used_on, host=host)
        for problem in _host_problems(values, option_of, known, strict, used_here, host in admins, controller_exists):
            hosts = found.setdefault(problem, [])
            if host not in hosts:
                hosts.append(host)

    report = {"errors": [], "warnings": []}
    for (severity, sentence), hosts in found.items():
        report[severity + "s"].append(sentence.replace(_ON, _hosts_phrase(hosts, all_hosts, groups)))
    report["errors"] = _mask_everywhere(report["errors"], host_vars)
    report["warnings"] = _mask_everywhere(report["warnings"], host_vars)
    return report
