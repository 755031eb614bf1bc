# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The federation's shared names and its sites (module_utils/federation.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.clarafl.federation.plugins.module_utils import federation as fed

DEFAULTS = {"project": "p", "kit_root": "/opt/clarafl/p", "dataset_dir": "", "dataset_root": "", "gpus": "none",
            "demo_data": False}


def test_shared_names():
    assert fed.kit_root("p") == "/opt/clarafl/p"
    assert fed.kit_root("p", "/srv/kits") == "/srv/kits"
    assert fed.kit_root("p", "") == "/opt/clarafl/p"
    assert fed.container_name("p", "org1-a") == "clarafl-p-org1-a"
    admins = [{"email": "lead@x", "roles": ["lead"]}, {"email": "boss@x", "roles": ["super"]},
              {"email": "other@x", "roles": ["super"]}]
    assert fed.super_admin(admins) == "boss@x"
    assert fed.super_admin([{"email": "lead@x", "roles": ["lead"]}]) == ""
    assert fed.super_admin(None) == ""


def test_server_cn_and_address():
    hostvars = {"srv": {"fl_server_cn": " fl.example.org ", "zerotier_address": "10.1.1.1", "ansible_host": "192.0.2.1"}}
    assert fed.server_cn("srv", hostvars) == "fl.example.org"
    assert fed.server_address("srv", hostvars) == "10.1.1.1"
    hostvars = {"srv": {"ansible_host": "192.0.2.1"}}
    assert fed.server_cn("srv", hostvars) == "srv"
    assert fed.server_address("srv", hostvars) == "192.0.2.1"


def test_the_one_site_shorthand_and_fl_sites():
    assert fed.host_sites("h", {"fl_client_name": "a", "fl_org": "o", "fl_dataset_dir": "/d"}) == [
        {"name": "a", "org": "o", "dataset_dir": "/d"}]
    assert fed.host_sites("h", {}) == [{"name": "h", "org": ""}]
    two = [{"name": "a", "org": "o"}, {"name": "b", "org": "o", "gpus": [1]}]
    assert fed.host_sites("h", {"fl_sites": two}) == two


def test_federation_sites_number_every_site_in_inventory_order():
    hostvars = {"box": {"fl_sites": [{"name": "a", "org": "o1", "gpus": [0]}, {"name": "b", "org": "o1"}]},
                "one": {"fl_client_name": "c", "fl_org": "o2"}}
    assert fed.federation_sites(["box", "one"], hostvars) == [
        {"name": "a", "org": "o1", "host": "box", "index": 0},
        {"name": "b", "org": "o1", "host": "box", "index": 1},
        {"name": "c", "org": "o2", "host": "one", "index": 2}]


def test_site_problems_say_what_is_wrong_with_fl_sites():
    hostvars = {
        "both": {"fl_sites": [{"name": "a", "org": "o"}], "fl_client_name": "a"},
        "notalist": {"fl_sites": "a,b"},
        "empty": {"fl_sites": []},
        "odd": {"fl_sites": ["a", {"name": "b", "org": "o", "gpu": [0]}]},
        "fine": {"fl_sites": [{"name": "c", "org": "o", "dataset_dir": "/d", "gpus": "all", "demo_data": True}]},
    }
    problems = " | ".join(fed.site_problems(list(hostvars), hostvars))
    assert "both sets both fl_sites and fl_client_name/fl_org" in problems
    assert "fl_sites of notalist must be a non-empty list" in problems
    assert "fl_sites of empty must be a non-empty list" in problems
    assert "site 1 of fl_sites on odd is not a dictionary" in problems
    assert "site b on odd sets gpu, which a site does not have" in problems
    assert "fine" not in problems


def test_hosts_on_one_machine_are_refused_with_the_new_form():
    hostvars = {
        "fl-server": {"ansible_connection": "local"},
        "org1-a": {"ansible_connection": "local", "fl_client_name": "org1-a", "fl_org": "org1"},
        "org2": {"ansible_connection": "local", "fl_client_name": "org2", "fl_org": "org2"},
        "gpu1": {"ansible_host": "10.0.0.5"},
        "gpu2": {"ansible_host": "10.0.0.5", "ansible_port": 22},
        "gpu3": {"ansible_host": "10.0.0.5", "ansible_port": 2222},
        "c1": {"ansible_connection": "community.docker.docker"},
        "c2": {"ansible_connection": "community.docker.docker"},
    }
    problems = fed.shared_machines(list(hostvars), hostvars, ["org1-a", "org2"])
    assert len(problems) == 2
    assert problems[0].startswith("fl-server, org1-a, org2 are one machine (the local connection)")
    assert "fl-server: {fl_sites: [{name: org1-a, org: org1}, {name: org2, org: org2}]}" in problems[0]
    assert problems[1].startswith("gpu1, gpu2 are one machine (10.0.0.5:22)")
    assert fed.shared_machines(["solo"], {"solo": {"ansible_connection": "local"}}) == []


def test_machine_sites_fill_in_what_a_site_does_not_set():
    one = fed.machine_sites([{"name": "a", "org": "o"}], dict(DEFAULTS, dataset_dir="/data/a", gpus="all"))
    assert one == [{"name": "a", "org": "o", "kit_dir": "/opt/clarafl/p/a", "dataset_dir": "/data/a", "gpus": "all",
                    "demo_data": False, "container": "clarafl-p-a"}]
    # several sites: the host's one dataset folder is not shared out; the root gives each its own
    entries = [{"name": "a", "org": "o"},
               {"name": "b", "org": "o", "dataset_dir": "/mine", "gpus": [0, 1], "demo_data": "true"}]
    two = fed.machine_sites(entries, dict(DEFAULTS, dataset_dir="/data/one", dataset_root="/data/", gpus="0,2"))
    assert [s["dataset_dir"] for s in two] == ["/data/a", "/mine"]
    assert [s["gpus"] for s in two] == [["0", "2"], ["0", "1"]]
    assert [s["demo_data"] for s in two] == [False, True]
    assert fed.machine_sites(entries, DEFAULTS)[0]["dataset_dir"] == ""
    assert fed.machine_sites([{"name": "a", "org": "o", "gpus": None}], DEFAULTS)[0]["gpus"] == []


def test_two_sites_writing_demo_data_to_one_folder_are_refused():
    sites = fed.machine_sites([{"name": "a", "org": "o"}, {"name": "b", "org": "o"}, {"name": "c", "org": "o"}],
                              dict(DEFAULTS, demo_data=True))
    sites[0]["dataset_dir"] = sites[1]["dataset_dir"] = "/same"
    problems = " | ".join(fed.machine_site_problems(sites))
    assert "sites a and b would both write their demo data to /same" in problems
    assert "site c has no dataset folder to write it to" in problems


def test_site_containers_carry_each_sites_mounts_gpus_and_labels():
    sites = fed.machine_sites([{"name": "a", "org": "o", "dataset_dir": "/d/a", "gpus": [1]},
                               {"name": "b", "org": "o", "gpus": "all"}], DEFAULTS)
    base = {"image": "img", "labels": {"org.clarafl.project": "p", "org.clarafl.component": "client"}}
    specs = fed.site_containers(sites, base, {"a": {"cert_sha256": "abc", "connection_sha256": "c0"}})
    a, b = specs
    assert a["name"] == "clarafl-p-a" and a["init"] is True and a["image"] == "img"
    assert a["volumes"] == ["/opt/clarafl/p/a:/workspace/site", "/d/a:/workspace/data:ro"]
    assert b["volumes"] == ["/opt/clarafl/p/b:/workspace/site"]
    assert a["device_requests"] == [{"driver": "nvidia", "device_ids": ["1"], "capabilities": [["gpu"]]}]
    assert b["device_requests"] == [{"driver": "nvidia", "count": -1, "capabilities": [["gpu"]]}]
    assert a["labels"]["org.clarafl.site"] == "a" and a["labels"]["org.clarafl.kit"] == "abc"
    assert a["labels"]["org.clarafl.connection"] == "c0"
    assert b["labels"]["org.clarafl.kit"] == "" and b["labels"]["org.clarafl.connection"] == ""
    assert base["labels"] == {"org.clarafl.project": "p", "org.clarafl.component": "client"}
    # the settings' hash changes with any setting of the site, not with the kit
    again = fed.site_containers(sites, base, {})
    assert again[0]["labels"]["org.clarafl.config"] == a["labels"]["org.clarafl.config"]
    sites[0]["dataset_dir"] = "/d/other"
    moved = fed.site_containers(sites, base, {})
    assert moved[0]["labels"]["org.clarafl.config"] != a["labels"]["org.clarafl.config"]
    assert moved[1]["labels"]["org.clarafl.config"] == b["labels"]["org.clarafl.config"]


def test_demo_jobs_only_for_shares_not_made_yet():
    sites = fed.machine_sites([{"name": "b", "org": "o"}, {"name": "c", "org": "o"}, {"name": "x", "org": "o",
                                                                                      "demo_data": False}],
                              dict(DEFAULTS, dataset_root="/data", demo_data=True))
    done = {"b": {"demo_marker": "site_index=1 num_sites=4 tool=t1"}}
    jobs = fed.demo_jobs(sites, ["a", "b", "c", "x"], done, "t1")
    assert jobs == [{"site": "c", "site_index": 2, "num_sites": 4, "dir": "/data/c",
                     "marker": "site_index=2 num_sites=4 tool=t1", "out": "/data/0", "mount": "/data/c:/data/0",
                     "record": {"path": "/demo/records/c.json", "site": "c", "dataset_dir": "/data/c"}}]
    # a new tool or another federation size makes every share again
    assert [j["site"] for j in fed.demo_jobs(sites, ["a", "b", "c", "x"], done, "t2")] == ["b", "c"]
    assert [j["out"] for j in fed.demo_jobs(sites, ["b", "c", "x"], done, "t1")] == ["/data/0", "/data/1"]


def test_gpu_hosts():
    hostvars = {"cpu": {"fl_client_name": "a"}, "all": {"fl_client_gpus": "all"},
                "box": {"fl_sites": [{"name": "b", "org": "o"}, {"name": "c", "org": "o", "gpus": [0]}]},
                "off": {"fl_client_gpus": "all", "fl_sites": [{"name": "d", "org": "o", "gpus": "none"}]}}
    assert fed.gpu_hosts(list(hostvars), hostvars) == ["all", "box"]


def test_host_kits_follow_the_machines_groups():
    groups = {"fl_server": ["box"], "fl_clients": ["box", "one"], "fl_admin": ["box"]}
    hostvars = {"box": {"fl_sites": [{"name": "a", "org": "o"}, {"name": "b", "org": "o"}]},
                "one": {"fl_client_name": "c", "fl_org": "o"}}
    kits = fed.host_kits("box", groups, hostvars, "/k/", "admin@x")
    assert [(k["component"], k["zip"]) for k in kits] == [("server", "server.zip"), ("a", "a.zip"), ("b", "b.zip"),
                                                          ("admin", "admin@x.zip")]
    assert kits[1] == {"component": "a", "zip": "a.zip", "src": "/k/.kits/a.zip", "dest": "/k/a",
                       "record": "/k/.kits/a.zip.extracted"}
    assert [k["component"] for k in fed.host_kits("one", groups, hostvars, "/k", "admin@x")] == ["c"]
    assert fed.host_kits("elsewhere", groups, hostvars, "/k", "admin@x") == []


def test_kit_installs_join_the_provisioners_record():
    kits = fed.host_kits("one", {"fl_clients": ["one"]}, {"one": {"fl_client_name": "c"}}, "/k", "")
    made = [{"zip": "c.zip", "password": "pw", "sha256": "s"}, {"zip": "d.zip", "password": "q", "sha256": "t"}]
    assert fed.kit_installs(kits, made, "root", "root", "/ws/runs/1/packages") == [
        {"src": "/k/.kits/c.zip", "dest": "/k/c", "record": "/k/.kits/c.zip.extracted", "owner": "root",
         "group": "root", "password": "pw", "checksum": "s", "copy_from": "/ws/runs/1/packages/c.zip"}]
    assert fed.kit_installs(kits, made, "root", "root")[0]["copy_from"] is None
    with pytest.raises(ValueError, match="the provisioner made no kit c.zip"):
        fed.kit_installs(kits, made[1:], "root", "root")


def test_site_file_problems_name_the_site_and_what_to_do():
    sites = fed.machine_sites([{"name": "a", "org": "o", "dataset_dir": "/d/a"}, {"name": "b", "org": "o"}],
                              DEFAULTS)
    files = {"a": {"kit": True, "dataset": False}, "b": {"kit": False, "cert_error": "not a certificate"}}
    problems = fed.site_file_problems(sites, files, "box")
    assert problems[0].startswith("The dataset folder /d/a of site a does not exist on box")
    assert problems[1].startswith("No kit for site b at /opt/clarafl/p/b on box (not a certificate): run the "
                                  "provisioning role first")
    # in check mode a missing kit may be one this very run would make
    assert len(fed.site_file_problems(sites, files, "box", check_mode=True)) == 1


def test_dataset_checks_skip_folders_the_collection_writes():
    entries = [{"name": "a", "org": "o", "dataset_dir": "/d/a"},
               {"name": "b", "org": "o", "dataset_dir": "/d/b", "demo_data": True},
               {"name": "c", "org": "o"}]
    sites = fed.machine_sites(entries, DEFAULTS)
    assert fed.dataset_checks(sites) == [{"path": "/d/a", "what": "The dataset folder of site a", "kind": "dir"}]


def test_start_commands_start_a_site_listing_several_gpus_on_all_of_them():
    hv = {"h1": {"fl_sites": [{"name": "a", "org": "o", "gpus": [0, 1]}, {"name": "b", "org": "o", "gpus": [2]}]},
          "h2": {"fl_sites": [{"name": "c", "org": "o"}], "fl_client_gpus": "0,1,2,3"},
          "h3": {"fl_sites": [{"name": "d", "org": "o", "gpus": "all"}]}}
    assert fed.start_commands(["h1", "h2", "h3"], hv) == [
        "start client b d", "start_mgpu client 2 a", "start_mgpu client 4 c"]
    # Nobody with several GPUs: the runbook's one command, for every registered site.
    assert fed.start_commands(["h3"], hv) == ["start client"]
    one = {"h": {"fl_sites": [{"name": "x", "org": "o", "gpus": "none"}, {"name": "y", "org": "o", "gpus": [0]}]}}
    assert fed.start_commands(["h"], one) == ["start client"]
    # Only multi-GPU sites: no start client at all (it would start them twice).
    only = {"h": {"fl_sites": [{"name": "x", "org": "o", "gpus": [0, 1, 2]}]}}
    assert fed.start_commands(["h"], only) == ["start_mgpu client 3 x"]


def test_the_sites_on_several_gpus_and_how_one_of_them_starts_again():
    hv = {"h1": {"fl_sites": [{"name": "a", "org": "o", "gpus": [0, 1]}, {"name": "b", "org": "o", "gpus": [2]}]},
          "h2": {"fl_sites": [{"name": "c", "org": "o"}], "fl_client_gpus": "0,1,2,3"},
          "h3": {"fl_sites": [{"name": "d", "org": "o", "gpus": "all"}]}}
    gpus = fed.multi_gpu_sites(["h1", "h2", "h3"], hv)
    assert gpus == {"a": 2, "c": 4}
    assert fed.multi_gpu_sites(["h3"], hv) == {}
    # The same command a site got at the run's start (start_commands), for that site alone.
    assert [fed.start_site_command(site, gpus) for site in "abcd"] == [
        "start_mgpu client 2 a", "start client b", "start_mgpu client 4 c", "start client d"]
    assert fed.start_site_command("a") == "start client a"


def test_gpu_counts_take_whole_numbers_and_name_the_others():
    assert fed.gpu_counts({"a": 2, "b": "4", "c": 1}) == ({"a": 2, "b": 4, "c": 1}, [])
    assert fed.gpu_counts(None) == ({}, [])
    counts, problems = fed.gpu_counts({"a": 0, "b": "two", "c": True, "d": 2.5, "e": 3})
    assert counts == {"e": 3}
    assert problems == ["a: 0 is no GPU count", "b: 'two' is no GPU count", "c: True is no GPU count",
                        "d: 2.5 is no GPU count"]


def test_departed_registered_and_their_kit_entries():
    status = {"registered_clients": [{"name": "org1-a"}, {"name": "org4"}, {"name": "org3"}, "garbled"]}
    assert fed.departed_registered(status, ["org1-a", "org2"]) == ["org3", "org4"]
    assert fed.departed_registered({}, ["org1-a"]) == []
    assert fed.site_kit_entries(["org4"]) == ["org4", ".kits/org4.zip", ".kits/org4.zip.extracted"]


@pytest.mark.parametrize("name", ["server", "admin", "Admin", "provision", "demo-data"])
def test_reserved_site_names_are_refused(name):
    hostvars = {"m1": {"fl_sites": [{"name": name, "org": "org1"}]}, name: {"fl_org": "org1"}}
    problems = fed.site_problems(["m1", name], hostvars)
    assert len(problems) == 2 and all("is reserved" in p for p in problems)
    assert problems[0] == ("site name %s on m1 is reserved: the collection names its own kit folder or container so; "
                           "choose another (reserved: server, admin, provision, demo-data)" % name)


def test_gpu_request_is_the_union_of_the_sites_devices():
    sites = [{"name": "a", "gpus": ["0", "1"]}, {"name": "b", "gpus": []}, {"name": "c", "gpus": ["1", "2"]}]
    assert fed.gpu_request(sites, "m1") == {"sites": ["a", "c"], "devices": ["0", "1", "2"], "host": "m1"}
    assert fed.gpu_request(sites + [{"name": "d", "gpus": "all"}])["devices"] == "all"
    assert fed.gpu_request([{"name": "b", "gpus": []}]) == {"sites": [], "devices": [], "host": None}
