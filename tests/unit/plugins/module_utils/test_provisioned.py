# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""provisioned: the provisioning role's one read per machine (is anything to do?) and its decision, on a real
workspace and kit root made the way the role makes them (zips of the real `zip -P`, extracted by kit_archive)."""

from __future__ import absolute_import, division, print_function

import hashlib
import json
import os
import shutil

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.clarafl.federation.plugins.filter.federation import FilterModule
from ansible_collections.clarafl.federation.plugins.module_utils.kit_archive import extract_kit, installed_kit
from ansible_collections.clarafl.federation.plugins.module_utils.project import inputs_hash, render_project, site_history
from ansible_collections.clarafl.federation.plugins.module_utils.project_dir import claim
from ansible_collections.clarafl.federation.plugins.module_utils.provisioned import (
    machine_facts,
    provisioning_todo,
    read_state,
    workspace_facts,
)
from ansible_collections.clarafl.federation.plugins.modules import fl_provisioned
from module_runner import run_module
from test_kit_archive import CERT, PASSWORD, RSA_KEY, make_cli_zip, needs_zip  # the archive helpers (same folder)

pytestmark = needs_zip
RUN = "20260105T100000Z-1a2b3c4d"
SPEC = {"name": "p1", "server": {"cn": "fl.example.org", "org": "nvidia"},
        "clients": [{"name": "org1-a", "org": "org1"}],
        "admins": [{"email": "admin@example.org", "org": "nvidia", "roles": ["super"]}],
        "org_policies": {"nvidia": "relaxed", "org1": "relaxed"}}
PROJECT_YML = "name: p1\n# as the role renders it\n"
ENTRIES = ["server", "org1-a", ".kits"]


def _files(name):
    return {"startup/%s.key" % name: RSA_KEY, "startup/%s.crt" % name: CERT + name.encode(),
            "startup/start.sh": b"#!/usr/bin/env bash\necho start\n"}


def _sha(path):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def _write(path, data):
    with open(str(path), "wb" if isinstance(data, bytes) else "w") as fh:
        fh.write(data)


@pytest.fixture
def fed(tmp_path):
    """A provisioned project as the role leaves it: the provisioner's workspace (state.json, audit file, the run's log
    and zips, project.yml and authz_config.json) and one machine's kit root with the server's and a site's kit."""
    project, authz = render_project(SPEC)
    ws = tmp_path / "ws"
    packages = ws / "runs" / RUN / "packages"
    packages.mkdir(parents=True)
    zips = {}
    for name in ("server", "org1-a"):
        zips[name] = make_cli_zip(packages, _files(name), password=PASSWORD, name=name + ".zip")
    for folder in (tmp_path / "tree-server.zip", tmp_path / "tree-org1-a.zip", packages / "tree-server.zip",
                   packages / "tree-org1-a.zip"):
        shutil.rmtree(str(folder), ignore_errors=True)
    _write(ws / "runs" / RUN / "provision.log", "the tool's table\n")
    _write(ws / "runs" / RUN / "audit.pkl", b"audit after the run")
    _write(ws / "audit.pkl", b"audit after the run")
    state = {"run": RUN, "inputs_hash": inputs_hash(project, authz), "project": project, "authz": authz,
             "known_sites": {"org1-a": "org1"}}
    _write(ws / "state.json", json.dumps(state))
    _write(ws / "project.yml", PROJECT_YML)
    _write(ws / "authz_config.json", json.dumps(site_history(state, project, authz)[2], indent=2) + "\n")
    root = tmp_path / "kits"
    claim(str(root), "p1", entries=ENTRIES)
    (root / ".kits").mkdir()
    kits = []
    for name in ("server", "org1-a"):
        src = root / ".kits" / (name + ".zip")
        shutil.copy(zips[name], str(src))
        kit = {"component": name, "zip": name + ".zip", "src": str(src), "dest": str(root / name),
               "record": str(src) + ".extracted"}
        extract_kit(kit["src"], kit["dest"], password=PASSWORD, mode="0750", record=kit["record"])
        kits.append(kit)
    return {"tmp": tmp_path, "ws": ws, "root": root, "kits": kits, "project": project, "authz": authz,
            "hash": inputs_hash(project, authz), "packages": packages, "state": state}


def _workspace(fed, **kwargs):
    args = dict(workspace=str(fed["ws"]), inputs_hash=fed["hash"], project=fed["project"], authz=fed["authz"],
                project_yml=PROJECT_YML)
    args.update(kwargs)
    return workspace_facts(**args)


def _machine(fed, **kwargs):
    args = dict(project="p1", kit_root=str(fed["root"]), entries=ENTRIES, kits=fed["kits"], mode="0750")
    args.update(kwargs)
    return machine_facts(**args)


def _todo(fed, machine=None, workspace=None):
    return provisioning_todo({"m1": {"workspace": workspace or _workspace(fed), "machine": machine or _machine(fed)}},
                             "m1")


# ----------------------------------------------------------------------------- nothing to do


def test_a_provisioned_project_has_nothing_to_do(fed):
    workspace = _workspace(fed)
    assert workspace == {"run": RUN, "reasons": [], "packages": {
        "org1-a.zip": _sha(str(fed["packages"] / "org1-a.zip")), "server.zip": _sha(str(fed["packages"] / "server.zip"))}}
    machine = _machine(fed)
    assert machine["reasons"] == []
    assert machine["kits"] == [{"zip": "server.zip", "sha256": workspace["packages"]["server.zip"], "reason": None},
                               {"zip": "org1-a.zip", "sha256": workspace["packages"]["org1-a.zip"], "reason": None}]
    assert provisioning_todo({"m1": {"workspace": workspace, "machine": machine}}, "m1") == []


def test_the_reads_write_nothing(fed):
    def tree():
        found = {}
        for top in (fed["ws"], fed["root"]):
            for dirpath, dirs, files in os.walk(str(top)):
                for name in dirs + files:
                    path = os.path.join(dirpath, name)
                    st = os.lstat(path)
                    found[path] = (st.st_mode, st.st_mtime_ns, st.st_size)
        return found

    before = tree()
    _workspace(fed)
    _machine(fed)
    assert tree() == before


# ----------------------------------------------------------------------------- the provisioner


def test_no_state_or_a_state_without_a_run_is_a_reason(fed):
    os.unlink(str(fed["ws"] / "state.json"))
    assert _workspace(fed) == {"run": None, "packages": {}, "reasons": [
        "nothing was provisioned yet (no %s)" % (fed["ws"] / "state.json")]}
    _write(fed["ws"] / "state.json", "{not json")
    assert _workspace(fed)["reasons"] == ["the provisioning record %s is not JSON" % (fed["ws"] / "state.json")]
    _write(fed["ws"] / "state.json", json.dumps({"inputs_hash": "x"}))
    assert read_state(str(fed["ws"] / "state.json")) == (
        None, "the provisioning record %s names no run" % (fed["ws"] / "state.json"))


def test_a_project_the_inventory_changed_is_a_reason(fed):
    assert _workspace(fed, inputs_hash="0" * 64)["reasons"] == ["the project changed since run %s" % RUN]


def test_a_run_that_lost_its_log_or_zips_is_a_reason(fed):
    os.unlink(str(fed["ws"] / "runs" / RUN / "provision.log"))
    assert _workspace(fed)["reasons"] == ["the kits of run %s are missing from the workspace" % RUN]


def test_the_audit_file_must_be_the_one_the_last_run_left(fed):
    _write(fed["ws"] / "audit.pkl", b"another project's audit")
    assert _workspace(fed)["reasons"] == [
        "the project's audit file %s is not the one run %s left" % (fed["ws"] / "audit.pkl", RUN)]
    # A workspace from before the project's own audit file: the last run's carries on.
    os.unlink(str(fed["ws"] / "audit.pkl"))
    assert _workspace(fed)["reasons"] == []
    os.unlink(str(fed["ws"] / "runs" / RUN / "audit.pkl"))
    assert len(_workspace(fed)["reasons"]) == 1


def test_the_workspace_project_files_must_be_what_the_role_writes(fed):
    assert _workspace(fed, project_yml=PROJECT_YML + "# changed\n")["reasons"] == [
        "%s is not the project's" % (fed["ws"] / "project.yml")]
    _write(fed["ws"] / "authz_config.json", "{}")
    assert _workspace(fed)["reasons"] == ["%s is not the project's" % (fed["ws"] / "authz_config.json")]
    _write(fed["ws"] / "authz_config.json", "not json")
    assert len(_workspace(fed)["reasons"]) == 1


def test_the_authz_the_tool_was_given_keeps_a_former_site(fed):
    # org9 left the inventory after a run: the audit file still knows it, and so does the authz the role writes.
    state = dict(fed["state"], known_sites={"org1-a": "org1", "org9": "org9"})
    _write(fed["ws"] / "state.json", json.dumps(state))
    assert _workspace(fed)["reasons"] == ["%s is not the project's" % (fed["ws"] / "authz_config.json")]
    tool_authz = site_history(state, fed["project"], fed["authz"])[2]
    assert tool_authz["sites"]["org9"] == "org9"
    _write(fed["ws"] / "authz_config.json", json.dumps(tool_authz))
    assert _workspace(fed)["reasons"] == []


# ----------------------------------------------------------------------------- a machine


def test_a_kit_that_differs_from_its_record_is_a_reason(fed):
    server = fed["kits"][0]
    _write(os.path.join(server["dest"], "startup", "server.crt"), b"edited")
    assert _machine(fed)["reasons"] == [
        "the kit of server: its folder %s differs from the kit (1 file(s))" % server["dest"]]
    extract_kit(server["src"], server["dest"], password=PASSWORD, mode="0750", record=server["record"])
    os.chmod(server["dest"], 0o755)
    assert _machine(fed)["reasons"] == [
        "the kit of server: its folder %s differs from the kit (the folder's mode or owner)" % server["dest"]]
    # Other modes than the record's are another extraction.
    assert _machine(fed, mode="0755")["reasons"] == [
        "the kit of %s: its extraction record %s is of another zip or other modes" % (k["component"], k["record"])
        for k in fed["kits"]]


def test_a_missing_folder_zip_or_record_is_a_reason(fed):
    server, site = fed["kits"]
    shutil.rmtree(server["dest"])
    os.unlink(site["src"])
    machine = _machine(fed)
    assert machine["reasons"] == ["the kit of server: its folder %s is missing" % server["dest"],
                                  "the kit of org1-a: its zip %s is not on this host" % site["src"]]
    assert machine["kits"][1] == {"zip": "org1-a.zip", "sha256": None, "reason": machine["kits"][1]["reason"]}
    os.unlink(server["record"])
    assert _machine(fed)["reasons"][0] == "the kit of server: it has no extraction record %s" % server["record"]


def test_a_record_of_another_zip_is_a_reason(fed):
    server = fed["kits"][0]
    other = make_cli_zip(fed["tmp"], _files("server2"), password=PASSWORD, name="other.zip")
    shutil.copy(other, server["src"])
    assert _machine(fed)["reasons"] == [
        "the kit of server: its extraction record %s is of another zip or other modes" % server["record"]]


def test_a_kit_root_not_claimed_or_not_recording_every_entry_is_a_reason(fed):
    assert _machine(fed, entries=ENTRIES + [".demo"])["reasons"] == [
        "the kit root's record %s does not name every entry of the project yet" % (fed["root"] / ".clarafl-project")]
    fresh = fed["tmp"] / "fresh"
    assert _machine(fed, kit_root=str(fresh), kits=[])["reasons"] == ["the kit root %s is not the project's yet" % fresh]
    reasons = _machine(fed, project="p2", kits=[])["reasons"]
    assert len(reasons) == 1 and reasons[0].startswith("the kit root cannot be claimed: %s belongs to project p1"
                                                       % fed["root"])


def test_installed_kit_says_nothing_for_a_kit_in_place(fed):
    site = fed["kits"][1]
    assert installed_kit(site["src"], site["dest"], site["record"], mode="0750") == (_sha(site["src"]), None)
    assert installed_kit(site["src"], site["dest"], site["record"], mode="0750", owner="no-such-user-here")[1] == (
        "owner 'no-such-user-here' is not a user on this host (and not a numeric uid)")


# ----------------------------------------------------------------------------- the decision


def test_a_machine_with_another_runs_zip_is_a_reason(fed):
    workspace = _workspace(fed)
    workspace["packages"]["org1-a.zip"] = "0" * 64
    del workspace["packages"]["server.zip"]
    assert _todo(fed, workspace=workspace) == ["m1: run %s made no kit server.zip" % RUN,
                                               "m1: kit org1-a.zip is not the one of run %s" % RUN]


def test_the_workspace_reasons_come_alone_and_first(fed):
    workspace = _workspace(fed, inputs_hash="0" * 64)
    workspace["packages"] = {}
    machine = _machine(fed, entries=ENTRIES + [".demo"])
    assert _todo(fed, machine=machine, workspace=workspace) == [
        "the project changed since run %s" % RUN,
        "m1: the kit root's record %s does not name every entry of the project yet" % (fed["root"] / ".clarafl-project")]


def test_machines_and_a_provisioner_not_read_are_reasons(fed):
    assert provisioning_todo({"m1": None}, "m1") == ["the provisioner m1 was not read"]
    assert provisioning_todo({"m2": {"workspace": _workspace(fed), "machine": _machine(fed)}}, "m1") == [
        "the provisioner m1 was not read"]
    machine = _machine(fed)
    assert provisioning_todo({"m1": {"workspace": _workspace(fed), "machine": machine}, "m2": None,
                              "m3": {"workspace": None, "machine": machine}}, "m1") == ["m2 was not read"]


# ----------------------------------------------------------------------------- the module and the filter


def test_the_module_reads_the_machine_and_on_the_provisioner_the_workspace(fed, capsys):
    args = {"project": "p1", "kit_root": str(fed["root"]), "entries": ENTRIES, "kits": fed["kits"], "mode": "0750"}
    for check_mode in (False, True):
        result, raw = run_module(fl_provisioned, args, capsys, check_mode=check_mode)
        assert "Traceback" not in raw and result["changed"] is False and "failed" not in result
        assert result["workspace"] is None and result["machine"] == _machine(fed)
    args["workspace"] = {"path": str(fed["ws"]), "inputs_hash": fed["hash"], "project": fed["project"],
                         "authz": fed["authz"], "project_yml": PROJECT_YML}
    result, _raw = run_module(fl_provisioned, args, capsys)
    assert result["workspace"] == _workspace(fed)
    assert FilterModule().filters()["fl_provisioning_todo"](["m1"], [result], "m1") == []


def test_the_filter_takes_a_skipped_read_for_none():
    todo = FilterModule().filters()["fl_provisioning_todo"]
    assert todo(["m1"], [{"skipped": True, "changed": False}], "m1") == ["the provisioner m1 was not read"]
    with pytest.raises(AnsibleFilterError, match="one result per host"):
        todo(["m1", "m2"], [{}], "m1")
