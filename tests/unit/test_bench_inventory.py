# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""bench/gen_inventory.py writes an inventory that Ansible reads and the collection can provision."""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess
import sys

import pytest
import yaml

from ansible_collections.clarafl.federation.plugins.module_utils import project as fl_project

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "bench"))

import gen_inventory  # noqa: E402  pylint: disable=wrong-import-position


@pytest.mark.parametrize("num_sites", [1, 3, 10, 20])
def test_one_machine_in_the_three_groups_runs_n_sites_with_unique_names(num_sites):
    hosts, group_vars = gen_inventory.build_inventory(num_sites)
    children = hosts["all"]["children"]
    assert sorted(children) == ["fl_admin", "fl_clients", "fl_server"]
    # an inventory host is a machine: the one machine is in every group
    for group in children.values():
        assert list(group["hosts"]) == ["localhost"]
    sites = children["fl_clients"]["hosts"]["localhost"]["fl_sites"]
    assert len(sites) == num_sites
    names = [site["name"] for site in sites]
    assert len(set(names)) == num_sites
    assert names == sorted(names)
    # every org has a policy, and the project is its own, on ports of its own
    assert set(site["org"] for site in sites) <= set(group_vars["fl_org_policies"])
    assert group_vars["fl_project_name"] == "clarafl_bench%d" % num_sites
    ports = (group_vars["fl_fed_learn_port"], group_vars["fl_admin_port"])
    assert ports == (8302, 8303)
    assert not set(ports) & {8002, 8003, 8202, 8203}


def test_the_collection_would_provision_it():
    hosts, group_vars = gen_inventory.build_inventory(20)
    sites = hosts["all"]["children"]["fl_clients"]["hosts"]["localhost"]["fl_sites"]
    spec = {
        "name": group_vars["fl_project_name"],
        "server": {"cn": group_vars["fl_server_cn"], "org": group_vars["fl_server_org"],
                   "fed_learn_port": group_vars["fl_fed_learn_port"], "admin_port": group_vars["fl_admin_port"]},
        "clients": [{"name": site["name"], "org": site["org"], "host": "localhost"} for site in sites],
        "admins": group_vars["fl_admins"],
        "org_policies": group_vars["fl_org_policies"],
    }
    assert fl_project.validate_project(spec) == []


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        gen_inventory.build_inventory(0)
    with pytest.raises(ValueError):
        gen_inventory.build_inventory(3, fed_port=8302, admin_port=8302)


def test_ansible_reads_the_written_inventory(tmp_path):
    path = gen_inventory.write_inventory(str(tmp_path / "sites3"), 3, project="clarafl_benchtest")
    with open(path) as fh:
        host = yaml.safe_load(fh)["all"]["children"]["fl_clients"]["hosts"]["localhost"]
        assert host["fl_sites"][0] == {"name": "site01", "org": "org1"}
    inventory_cli = os.path.join(os.path.dirname(sys.executable), "ansible-inventory")
    if not os.path.exists(inventory_cli):
        pytest.skip("ansible-inventory is not beside this Python")
    proc = subprocess.run([inventory_cli, "-i", path, "--list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=False, cwd=REPO,
                          env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg")))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["fl_clients"]["hosts"] == doc["fl_server"]["hosts"] == doc["fl_admin"]["hosts"] == ["localhost"]
    site = doc["_meta"]["hostvars"]["localhost"]
    # group_vars/all beside hosts.yml is read: the project and ports reach every host
    assert site["fl_project_name"] == "clarafl_benchtest"
    assert site["fl_sites"][2] == {"name": "site03", "org": "org2"}
    assert site["fl_fed_learn_port"] == 8302 and site["ansible_connection"] == "local"
