# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The check of the collection's variables set in the inventory, as a filter (the work is in module_utils)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os

import yaml

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.clarafl.federation.plugins.module_utils import federation, partners
from ansible_collections.clarafl.federation.plugins.module_utils.inventory_check import (
    FEDERATION_VARS,
    RenderFailure,
    check,
    is_collection_var,
    merge_specs,
    plain,
    runtime_names,
)

# The collection's own folders, next to this plugin (plugins/filter/ -> the collection root).
COLLECTION_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
REASON_WIDTH = 200
# What tells two inventory hosts apart as machines.
CONNECTION_VARS = ("ansible_connection", "ansible_host", "ansible_port")

_cache = {}


def _load(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def load_collection(collection_dir=COLLECTION_DIR):
    """(specs, defaults_by_role, runtime names) read from the collection's roles (and playbooks), cached."""
    if collection_dir in _cache:
        return _cache[collection_dir]
    documents, defaults, task_files = {}, {}, []
    for role_dir in sorted(glob.glob(os.path.join(collection_dir, "roles", "*"))):
        role = os.path.basename(role_dir)
        spec_file = os.path.join(role_dir, "meta", "argument_specs.yml")
        defaults_file = os.path.join(role_dir, "defaults", "main.yml")
        if os.path.isfile(spec_file):
            documents[role] = _load(spec_file)
        if os.path.isfile(defaults_file):
            defaults[role] = _load(defaults_file) or {}
        for folder in ("tasks", "handlers"):
            task_files.extend(sorted(glob.glob(os.path.join(role_dir, folder, "*.yml"))))
    task_files.extend(sorted(glob.glob(os.path.join(collection_dir, "playbooks", "*.yml"))))
    runtime = runtime_names([_load(path) for path in task_files])
    _cache[collection_dir] = (merge_specs(documents), defaults, runtime)
    return _cache[collection_dir]


def _reason(exc):
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= REASON_WIDTH else text[:REASON_WIDTH - 3] + "..."


def user_variables(host_hostvars, ignore=()):
    """{var: value} of one host's collection variables, each rendered; a RenderFailure where rendering fails."""
    values = {}
    for key in list(host_hostvars):
        name = str(key)
        if not is_collection_var(name) or name in ignore:
            continue
        try:
            values[name] = plain(host_hostvars[key])  # plain() reaches into containers: nested templates render here
        except Exception as exc:  # pylint: disable=broad-except  # any rendering error is the user's to see
            values[name] = RenderFailure(_reason(exc))
    return values


def inventory_problems(hostvars, groups, strict=False):
    """{errors, warnings} of the collection's variables every inventory host has (see module_utils.inventory_check)."""
    if not hasattr(groups, "get") or not hasattr(groups, "items"):
        raise AnsibleFilterError("inventory_problems expects the groups magic variable, got %s" % type(groups).__name__)
    if not hasattr(hostvars, "__getitem__"):
        raise AnsibleFilterError("inventory_problems expects the hostvars magic variable, got %s"
                                 % type(hostvars).__name__)
    try:
        strict = boolean(strict, strict=True)
    except TypeError as exc:
        raise AnsibleFilterError("inventory_problems: strict must be a boolean: %s" % exc)
    specs, defaults, runtime = load_collection()
    groups = dict((str(name), [str(host) for host in hosts or []]) for name, hosts in groups.items())
    extra_known = set(name for role_defaults in defaults.values() for name in role_defaults)
    known = extra_known | set(FEDERATION_VARS) | set(name for options in specs.values() for name in options)
    ignore = set(runtime) - known  # what the roles' tasks set is not the user's, unless it is also a variable
    host_vars = {}
    for host in groups.get("all") or []:
        try:
            host_hostvars = hostvars[host]
        except KeyError:
            continue  # a plain dict without the host (tests)
        if not hasattr(host_hostvars, "__iter__") or not hasattr(host_hostvars, "__getitem__"):
            continue  # not an inventory host (an undefined marker)
        host_vars[host] = user_variables(host_hostvars, ignore)
    result = check(host_vars, groups, specs, extra_known=extra_known, strict=strict)
    # An inventory host is a machine: its sites are data on it (fl_sites), and two hosts are never one machine.
    machines = {}
    for host in groups.get("all") or []:
        values = dict(host_vars.get(host) or {})
        for name in CONNECTION_VARS:
            try:
                value = hostvars[host][name]
            except (KeyError, TypeError):
                continue
            if value is not None and not isinstance(value, RenderFailure):
                values[name] = value if isinstance(value, (int, float)) else str(value)
        machines[host] = values
    clients = [host for host in groups.get("fl_clients") or [] if host in machines]
    result["errors"] = list(result["errors"]) + federation.site_problems(clients, machines) + \
        federation.shared_machines([h for h in groups.get("all") or [] if h in machines], machines, clients)
    # Sites other organizations run are data of the inventory: their names, orgs and contacts, beside the lead's sites.
    partner_values = dict((h, machines[h][partners.VARIABLE]) for h in groups.get("all") or []
                          if h in machines and not isinstance(machines[h].get(partners.VARIABLE, RenderFailure("")),
                                                              RenderFailure))
    result["errors"] += partners.partner_problems(partner_values, federation.federation_sites(clients, machines))
    return result


class FilterModule(object):
    def filters(self):
        return {"inventory_problems": inventory_problems}
