"""first_per_machine: machine-wide work is done once per machine, whatever the inventory calls it."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", ".collections"))

from ansible.errors import AnsibleFilterError  # noqa: E402

from ansible_collections.clarafl.federation.plugins.filter.machines import (  # noqa: E402
    FilterModule, first_per_machine, machine_key, machine_mates)


def test_all_local_hosts_are_one_machine():
    hv = {h: {"ansible_connection": "local"} for h in ("fl-server", "org1-a", "org1-b", "org2", "fl-admin")}
    assert first_per_machine(list(hv), hv) == ["fl-server"]


def test_hosts_sharing_an_address_share_a_machine():
    hv = {
        "fl-server": {"ansible_host": "10.0.0.1"},
        "site-a": {"ansible_host": "10.0.0.1"},
        "site-b": {"ansible_host": "10.0.0.2"},
        "site-c": {},
        "admin": {"ansible_host": "10.0.0.2", "ansible_port": 2222},
    }
    assert first_per_machine(["fl-server", "site-a", "site-b", "site-c", "admin"], hv) == [
        "fl-server", "site-b", "site-c", "admin"]


def test_order_follows_the_play_hosts():
    hv = {"a": {"ansible_host": "x"}, "b": {"ansible_host": "x"}}
    assert first_per_machine(["b", "a"], hv) == ["b"]


def test_container_connections_are_keyed_by_container():
    hv = {"c1": {"ansible_connection": "community.docker.docker", "ansible_host": "box1"},
          "c2": {"ansible_connection": "community.docker.docker", "ansible_host": "box1"}}
    assert machine_key("c1", hv) == machine_key("c2", hv)


def test_a_string_is_refused():
    with pytest.raises(AnsibleFilterError, match="expects a list"):
        first_per_machine("fl-server", {})


def test_registered_under_its_name():
    assert FilterModule().filters()["first_per_machine"] is first_per_machine


def test_machine_mates():
    hv = {
        "fl-server": {"ansible_host": "10.0.0.1"},
        "site-a": {"ansible_host": "10.0.0.1"},
        "site-b": {"ansible_host": "10.0.0.2"},
        "local-1": {"ansible_connection": "local"},
        "local-2": {"ansible_connection": "local"},
    }
    assert machine_mates(["fl-server", "site-a", "site-b"], "site-a", hv) == ["fl-server", "site-a"]
    assert machine_mates(["site-b", "local-1", "local-2"], "local-2", hv) == ["local-1", "local-2"]
    assert machine_mates(["site-b"], "fl-server", hv) == []
    with pytest.raises(AnsibleFilterError):
        machine_mates("site-a", "site-a", hv)
    assert FilterModule().filters()["machine_mates"] is machine_mates
