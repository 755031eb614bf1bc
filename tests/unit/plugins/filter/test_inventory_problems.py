# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventory_problems filter: what it reads from hostvars, the roles' files it loads, and real inventories."""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess
import sys

import jinja2
import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.clarafl.federation.plugins.filter.inventory_check import (
    FilterModule,
    inventory_problems,
    load_collection,
    user_variables,
)
from ansible_collections.clarafl.federation.plugins.module_utils.inventory_check import (
    RenderFailure,
    undocumented,
)

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", ".."))
GROUPS = {"all": ["fl-server", "org1-a", "org2", "fl-admin"], "ungrouped": [], "fl_server": ["fl-server"],
          "fl_clients": ["org1-a", "org2"], "fl_admin": ["fl-admin"]}


class RenderingVars(object):
    """One host's hostvars as Ansible hands them to a filter: iterating gives names, [name] renders the value."""

    def __init__(self, variables):
        self._vars = variables
        self._env = jinja2.Environment(undefined=jinja2.StrictUndefined)

    def __iter__(self):
        return iter(self._vars)

    def __getitem__(self, name):
        return self._render(self._vars[name], depth=0)

    def _render(self, value, depth):
        if depth > 10:
            raise RecursionError("recursive loop detected in template")
        if isinstance(value, dict):
            return dict((k, self._render(v, depth)) for k, v in value.items())
        if isinstance(value, list):
            return [self._render(v, depth) for v in value]
        if isinstance(value, str) and "{{" in value:
            context = dict((k, _Lazy(self, k, depth)) for k in self._vars)
            return self._env.from_string(value).render(context)
        return value


class _Lazy(object):
    """A variable a template names, rendered when it is printed (as Ansible renders variables in variables)."""

    def __init__(self, owner, name, depth):
        self._owner, self._name, self._depth = owner, name, depth

    def __str__(self):
        return str(self._owner._render(self._owner._vars[self._name], self._depth + 1))


def hostvars_of(inventory_dir, extra_files=()):
    """{host: RenderingVars} of an inventory directory (hosts.yml, group_vars/all/*.yml): all its variables."""
    with open(os.path.join(inventory_dir, "hosts.yml")) as handle:
        tree = yaml.safe_load(handle)
    group_vars = {}
    for name in ["main.yml"] + list(extra_files):
        with open(os.path.join(inventory_dir, "group_vars", "all", name)) as handle:
            group_vars.update(yaml.safe_load(handle) or {})
    hosts, groups = {}, {"all": [], "ungrouped": []}

    def walk(name, node, inherited):
        node = node or {}
        own = dict(inherited, **(node.get("vars") or {}))
        for host, host_vars in (node.get("hosts") or {}).items():
            # a host in several groups has the variables of each
            merged = dict(own)
            merged.update(hosts.get(host) or {})
            merged.update(host_vars or {})
            hosts[host] = merged
            groups.setdefault(name, []).append(host)
            if host not in groups["all"]:
                groups["all"].append(host)
        for child, child_node in (node.get("children") or {}).items():
            groups.setdefault(child, [])
            walk(child, child_node, own)

    walk("all", tree["all"], dict(group_vars))
    for host, values in hosts.items():
        values["inventory_hostname"] = host
    return dict((host, RenderingVars(v)) for host, v in hosts.items()), groups


def test_the_filter_is_registered():
    assert FilterModule().filters() == {"inventory_problems": inventory_problems}


def test_the_roles_specs_and_defaults_load():
    specs, defaults, runtime = load_collection()
    assert sorted(specs) == ["clara_image", "docker", "fl_admin", "fl_client", "fl_server", "provisioning", "zerotier"]
    assert specs["fl_admin"]["fl_admin_num_rounds"]["type"] == "int"
    assert "fl_admin_stall_timeout" in defaults["fl_admin"]
    # Every role default is in the role's argument spec (the two stay in step).
    assert {role: names for role, names in undocumented(specs, defaults).items() if names} == {}
    assert "__provisioning_project" in runtime and "zerotier_address" in runtime and "fl_admin_num_rounds" not in runtime


def test_problems_of_plain_hostvars_are_found_and_grouped():
    hostvars = dict((host, {"fl_admin_num_rounds": 0, "ansible_host": "10.0.0.%d" % number})
                    for number, host in enumerate(GROUPS["all"]))
    hostvars["org1-a"]["fl_clinet_name"] = "org1-a"
    assert inventory_problems(hostvars, GROUPS) == {
        "errors": ["fl_admin_num_rounds (on all hosts) must be at least 1 (it is 0)."],
        "warnings": ["fl_clinet_name (on org1-a) is not a variable of clarafl.federation; did you mean fl_client_name?"]}


def test_the_old_one_host_per_site_form_on_one_machine_is_refused_with_the_new_form():
    hostvars = dict((host, {"ansible_connection": "local"}) for host in GROUPS["all"])
    hostvars["org1-a"].update(fl_client_name="org1-a", fl_org="org1")
    hostvars["org2"].update(fl_client_name="org2", fl_org="org2")
    errors = inventory_problems(hostvars, GROUPS)["errors"]
    assert errors == [
        "fl-server, org1-a, org2, fl-admin are one machine (the local connection), but an inventory host is a machine: "
        "make them one host, put it in each group they were in, and list its sites on it, e.g. "
        "fl-server: {fl_sites: [{name: org1-a, org: org1}, {name: org2, org: org2}]}"]


def test_the_sites_of_a_machine_are_checked():
    groups = {"all": ["box"], "fl_server": ["box"], "fl_clients": ["box"], "fl_admin": ["box"]}
    hostvars = {"box": {"fl_sites": [{"name": "a", "org": "o", "dataset": "/d"}]}}
    assert inventory_problems(hostvars, groups)["errors"] == [
        "site a on box sets dataset, which a site does not have (a site sets name, org, dataset_dir, gpus, demo_data)"]


@pytest.mark.parametrize("strict", [True, "yes", "true"])
def test_strict_makes_unknown_names_errors(strict):
    hostvars = {"org1-a": {"fl_clinet_name": "org1-a"}}
    report = inventory_problems(hostvars, GROUPS, strict=strict)
    assert report["warnings"] == [] and len(report["errors"]) == 1


def test_private_runtime_and_foreign_names_are_left_out():
    hostvars = {"fl-admin": {"_fl_x": 1, "__provisioning_lock": 1, "__provisioning_project": {"changed": False},
                             "zerotier_address": "10.147.17.3", "clara_image_runtime": {"image": "x"},
                             "ansible_port": 22, "groups": {}, "vault_ngc_api_key": "x"}}
    assert inventory_problems(hostvars, GROUPS, strict=True) == {"errors": [], "warnings": []}


def test_a_value_that_cannot_be_rendered_is_an_error_not_a_crash():
    class Failing(dict):
        def __getitem__(self, key):
            if key == "fl_admin_num_rounds":
                raise ValueError("template error while templating string: unexpected '}'.\nString: {{ x }")
            return dict.__getitem__(self, key)

    hostvars = {"fl-admin": Failing(fl_admin_num_rounds="{{ x }", fl_admin_wait_timeout=0)}
    assert inventory_problems(hostvars, GROUPS)["errors"] == [
        "fl_admin_num_rounds (on fl-admin) cannot be rendered: template error while templating string: "
        "unexpected '}'.",
        "fl_admin_wait_timeout (on fl-admin) must be at least 1 (it is 0)."]


def test_user_variables_renders_each_value_on_its_own():
    values = user_variables(RenderingVars({"fl_x": "{{ nope }}", "fl_y": "{{ 1 + 1 }}", "other": "{{ nope }}"}))
    assert isinstance(values["fl_x"], RenderFailure) and "nope" in values["fl_x"].reason
    assert values["fl_y"] == "2" and "other" not in values


def test_bad_arguments_are_filter_errors():
    with pytest.raises(AnsibleFilterError):
        inventory_problems({}, ["all"])
    with pytest.raises(AnsibleFilterError):
        inventory_problems(None, GROUPS)
    with pytest.raises(AnsibleFilterError):
        inventory_problems({}, GROUPS, strict="sometimes")


def test_the_local_inventory_has_no_problem():
    hostvars, groups = hostvars_of(os.path.join(REPO, "inventories", "local"))
    # one machine in the three groups, running three sites
    assert groups["fl_server"] == groups["fl_clients"] == groups["fl_admin"] == ["localhost"]
    assert [site["name"] for site in hostvars["localhost"]["fl_sites"]] == ["org1-a", "org1-b", "org2"]
    assert hostvars["localhost"]["fl_dataset_root"] == "/var/lib/clarafl/clarafl_local/data"
    assert inventory_problems(hostvars, groups, strict=True) == {"errors": [], "warnings": []}


def test_the_production_inventory_has_no_problem():
    hostvars, groups = hostvars_of(os.path.join(REPO, "inventories", "production"), ["vault.yml.example"])
    assert inventory_problems(hostvars, groups, strict=True) == {"errors": [], "warnings": []}
    # without its vault the keys cannot be rendered; their values are never printed
    hostvars, groups = hostvars_of(os.path.join(REPO, "inventories", "production"))
    report = inventory_problems(hostvars, groups)
    assert report["errors"] == [
        "clara_image_ngc_api_key (on all hosts) cannot be rendered: 'vault_ngc_api_key' is undefined.",
        "zerotier_api_token (on all hosts) cannot be rendered: 'vault_zerotier_api_token' is undefined."]


def test_a_broken_local_inventory_lists_every_problem():
    hostvars, groups = hostvars_of(os.path.join(REPO, "inventories", "local"))
    for host in groups["all"]:
        hostvars[host]._vars.update({"fl_kit_root": "kits", "fl_admin_num_rounds": "five",
                                     "fl_admin_mmar_source": "ngc", "fl_admin_ngc_api_key": ""})
    hostvars["localhost"]._vars["fl_clinet_name"] = "org2"
    report = inventory_problems(hostvars, groups)
    assert report == {
        "errors": [
            "fl_admin_num_rounds (on localhost) must be an int: 'five' is not.",
            "fl_kit_root (on localhost) must be an absolute path (it is 'kits'): a relative path would put private "
            "keys wherever ansible-playbook runs from.",
            "fl_admin_ngc_api_key (on localhost) must be set when fl_admin_mmar_source is ngc: give it an NGC API key "
            "(keep it in Ansible Vault)."],
        "warnings": ["fl_clinet_name (on localhost) is not a variable of clarafl.federation; did you mean "
                     "fl_client_name?"]}


# Ansible's own inventory, variable manager and HostVars (which renders on access), in a fresh interpreter:
# the plugin loader it needs stays out of this test session.
REAL_HOSTVARS = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from ansible.plugins.loader import init_plugin_loader
init_plugin_loader()
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.vars.hostvars import HostVars
from ansible.vars.manager import VariableManager
from ansible_collections.clarafl.federation.plugins.filter.inventory_check import inventory_problems
loader = DataLoader()
inventory = InventoryManager(loader=loader, sources=[sys.argv[2]])
hostvars = HostVars(inventory=inventory, variable_manager=VariableManager(loader=loader, inventory=inventory),
                    loader=loader)
print(json.dumps(inventory_problems(hostvars, inventory.get_groups_dict(), strict=sys.argv[3] == "strict")))
"""


def real_problems(inventory, strict=False):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"))
    out = subprocess.run([sys.executable, "-c", REAL_HOSTVARS, os.path.join(REPO, ".collections"), inventory,
                          "strict" if strict else "warn"], cwd=REPO, env=env, check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_ansibles_own_hostvars_of_the_local_inventory_have_no_problem():
    assert real_problems(os.path.join(REPO, "inventories", "local", "hosts.yml"), strict=True) == {
        "errors": [], "warnings": []}


def test_ansibles_own_hostvars_of_a_broken_inventory(tmp_path):
    (tmp_path / "group_vars" / "all").mkdir(parents=True)
    (tmp_path / "hosts.yml").write_text(
        "all:\n  children:\n    fl_server: {hosts: {fl-server: {}}}\n"
        "    fl_clients: {hosts: {org1-a: {fl_client_name: org1-a, fl_clinet_name: x}, org2: {}}}\n"
        "    fl_admin: {hosts: {fl-admin: {}}}\n")
    (tmp_path / "group_vars" / "all" / "main.yml").write_text(
        "fl_dataset_dir: /data/{{ fl_client_name }}\n"
        "fl_admin_num_rounds: 0\n"
        "clara_image_ngc_api_key: '{{ vault_ngc_api_key }}'\n"
        "fl_admin_mmar_source: path\nfl_admin_mmar_path: /nowhere/mmar\n")
    assert real_problems(str(tmp_path / "hosts.yml")) == {
        "errors": [
            "clara_image_ngc_api_key (on all hosts) cannot be rendered: 'vault_ngc_api_key' is undefined.",
            "fl_admin_num_rounds (on all hosts) must be at least 1 (it is 0).",
            "fl_dataset_dir (on org2) cannot be rendered: 'fl_client_name' is undefined.",
            "fl_admin_mmar_path (on fl-admin) is '/nowhere/mmar', which does not exist on the controller: give an "
            "unpacked MMAR folder there."],
        "warnings": ["fl_clinet_name (on org1-a) is not a variable of clarafl.federation; did you mean fl_client_name?"]}
