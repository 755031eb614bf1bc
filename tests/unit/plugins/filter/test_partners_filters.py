# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filters of a federation across organizations (plugins/filter/partners.py), and fl_partner_sites in the first
play's inventory check (inventory_problems)."""

from __future__ import absolute_import, division, print_function

import os

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.clarafl.federation.plugins.filter import partners as f
from ansible_collections.clarafl.federation.plugins.filter.inventory_check import inventory_problems

from test_inventory_problems import hostvars_of

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", ".."))
GROUPS = {"all": ["fl-server", "gpu-a", "fl-admin"], "ungrouped": [], "fl_server": ["fl-server"],
          "fl_clients": ["gpu-a"], "fl_admin": ["fl-admin"]}
PARTNERS = [{"name": "org2", "org": "org2", "contact": "it@org2.example"}]


def _hostvars(partners, **on_client):
    hostvars = {}
    for number, host in enumerate(GROUPS["all"]):
        hostvars[host] = {"ansible_host": "10.0.0.%d" % number, "fl_partner_sites": partners}
    hostvars["gpu-a"].update({"fl_sites": [{"name": "org1-a", "org": "org1"}, {"name": "org1-b", "org": "org1"}]},
                             **on_client)
    return hostvars


def test_the_filters_are_registered():
    assert sorted(f.FilterModule().filters()) == [
        "fl_partner_clients", "fl_partner_container_filters", "fl_partner_export_plan", "fl_partner_join_problems", "fl_partner_kit_checks",
        "fl_partner_kit_installs", "fl_partner_registrations", "fl_partners"]


def test_partner_sites_in_the_inventory_check():
    assert inventory_problems(_hostvars(PARTNERS), GROUPS, strict=True) == {"errors": [], "warnings": []}
    clash = PARTNERS + [{"name": "org1-b", "org": "org1", "contact": "x@y"}, {"name": "org3", "org": "org3"}]
    assert inventory_problems(_hostvars(clash), GROUPS)["errors"] == [
        "partner site org1-b is also a site of the lead's machine gpu-a (fl_sites): a site is run either by a machine of "
        "this inventory or by its own organization (fl_partner_sites), not both; remove it from one of them",
        "partner site org3 has no contact: give whom to ask when the site has not joined (an email or a phone); the "
        "lead's training names it"]


def test_a_wrong_type_is_said_once():
    errors = inventory_problems(_hostvars({"name": "org2"}), GROUPS)["errors"]
    assert errors == ["fl_partner_sites (on all hosts) must be a list of dicts: {'name': 'org2'} is not."]


def test_an_example_partner_inventory_has_no_problem():
    hostvars, groups = hostvars_of(os.path.join(REPO, "inventories", "partner"))
    assert groups["fl_partner_clients"] == ["gpu-org2"]
    assert inventory_problems(hostvars, groups, strict=True) == {"errors": [], "warnings": []}
    values = dict((k, hostvars["gpu-org2"][k]) for k in ("fl_sites",))
    assert f.fl_partner_join_problems(["gpu-org2"], {"gpu-org2": values}, {"org2": "x"}, {},
                                      hostvars["gpu-org2"]["fl_partner_kit_dir"],
                                      hostvars["gpu-org2"]["fl_project_name"]) == []


def test_the_lead_side_filters():
    assert f.fl_partners(PARTNERS) == [dict(PARTNERS[0], required=False)]
    assert f.fl_partner_clients(PARTNERS, [{"name": "org1-a", "org": "org1", "host": "gpu-a"}]) == [
        {"name": "org2", "org": "org2", "host": "fl_partner_sites"}]
    assert f.fl_partner_clients(PARTNERS, ["org2"]) == []
    with pytest.raises(AnsibleFilterError):
        f.fl_partner_clients(PARTNERS, "org2")
    kits = [{"name": "org2", "zip": "org2.zip", "kind": "client", "password": "p" * 16, "sha256": "d"}]
    assert f.fl_partner_export_plan(kits, PARTNERS, [], ["lead"])[0]["kits"][0]["name"] == "org2"
    with pytest.raises(AnsibleFilterError, match="the provisioner made no kit for partner site org2"):
        f.fl_partner_export_plan([], PARTNERS, [], ["lead"])
    with pytest.raises(AnsibleFilterError):
        f.fl_partner_export_plan("kits", PARTNERS, [], ["lead"])


def test_the_partner_side_filters():
    sites = [{"name": "org2", "kit_dir": "/opt/k/org2", "container": "clarafl-p-org2"},
             {"name": "org2-b", "kit_dir": "/opt/k/org2-b", "container": "clarafl-p-org2-b"}]
    assert f.fl_partner_kit_checks(sites, "/srv", {"org2": "x"})[0] == {
        "name": "org2", "src": "/srv/org2.zip", "password": "x", "sha256": None}
    assert f.fl_partner_kit_installs(sites, "/opt/k", {}, [])[1]["dest"] == "/opt/k/org2-b"
    with pytest.raises(AnsibleFilterError):
        f.fl_partner_kit_checks("org2", "/srv")
    with pytest.raises(AnsibleFilterError):
        f.fl_partner_kit_installs("org2", "/srv", {}, [])
    # A container started in this run counts from the size its log had before; one left alone, from the start.
    files = {"org2": {"log_size": 120}, "org2-b": {"log_size": 300}}
    containers = {"clarafl-p-org2": {"action": "recreate"}, "clarafl-p-org2-b": {"action": "none"}}
    assert f.fl_partner_registrations(sites, files, containers) == [
        {"name": "org2", "log": "/opt/k/org2/log.txt", "since": 120},
        {"name": "org2-b", "log": "/opt/k/org2-b/log.txt", "since": 0}]
    assert f.fl_partner_registrations(sites, {}, {})[0]["since"] == 0


def test_a_partner_machine_acts_on_its_own_sites_containers_only():
    assert f.fl_partner_container_filters("pfed") == {"label": "org.clarafl.project=pfed"}
    assert f.fl_partner_container_filters("pfed", [{"name": "org2"}, "org2-b"]) == {
        "label": "org.clarafl.project=pfed", "name": ["^/?clarafl\\-pfed\\-org2$", "^/?clarafl\\-pfed\\-org2\\-b$"]}
    # No site: no container.
    assert f.fl_partner_container_filters("pfed", [])["name"] == ["^/?clarafl\\-pfed\\-$"]
