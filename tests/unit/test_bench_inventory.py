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
def test_n_clients_with_unique_names_in_the_three_groups(num_sites):
    hosts, group_vars = gen_inventory.build_inventory(num_sites)
    children = hosts["all"]["children"]
    assert sorted(children) == ["fl_admin", "fl_clients", "fl_server"]
    assert list(children["fl_server"]["hosts"]) == ["fl-server"]
    assert list(children["fl_admin"]["hosts"]) == ["fl-admin"]
    clients = children["fl_clients"]["hosts"]
    assert len(clients) == num_sites
    names = [v["fl_client_name"] for v in clients.values()]
    assert len(set(names)) == num_sites
    assert names == sorted(names)
    assert set(clients).isdisjoint(["fl-server", "fl-admin"])
    # every org has a policy, and the project is its own, on ports of its own
    assert set(v["fl_org"] for v in clients.values()) <= set(group_vars["fl_org_policies"])
    assert group_vars["fl_project_name"] == "clarafl_bench%d" % num_sites
    ports = (group_vars["fl_fed_learn_port"], group_vars["fl_admin_port"])
    assert ports == (8302, 8303)
    assert not set(ports) & {8002, 8003, 8202, 8203}


def test_the_collection_would_provision_it():
    hosts, group_vars = gen_inventory.build_inventory(20)
    clients = hosts["all"]["children"]["fl_clients"]["hosts"]
    spec = {
        "name": group_vars["fl_project_name"],
        "server": {"cn": group_vars["fl_server_cn"], "org": group_vars["fl_server_org"],
                   "fed_learn_port": group_vars["fl_fed_learn_port"], "admin_port": group_vars["fl_admin_port"]},
        "clients": [{"name": v["fl_client_name"], "org": v["fl_org"], "host": h} for h, v in clients.items()],
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
        assert yaml.safe_load(fh)["all"]["children"]["fl_clients"]["hosts"]["site01"]["fl_org"] == "org1"
    inventory_cli = os.path.join(os.path.dirname(sys.executable), "ansible-inventory")
    if not os.path.exists(inventory_cli):
        pytest.skip("ansible-inventory is not beside this Python")
    proc = subprocess.run([inventory_cli, "-i", path, "--list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=False, cwd=REPO,
                          env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg")))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert sorted(doc["fl_clients"]["hosts"]) == ["site01", "site02", "site03"]
    assert doc["fl_server"]["hosts"] == ["fl-server"] and doc["fl_admin"]["hosts"] == ["fl-admin"]
    site = doc["_meta"]["hostvars"]["site03"]
    # group_vars/all beside hosts.yml is read: the project and ports reach every host
    assert site["fl_project_name"] == "clarafl_benchtest"
    assert (site["fl_client_name"], site["fl_org"]) == ("site03", "org2")
    assert site["fl_fed_learn_port"] == 8302 and site["ansible_connection"] == "local"
