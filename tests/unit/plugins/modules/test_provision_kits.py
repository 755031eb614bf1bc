# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The provision_kits module, run as Ansible runs it (in-process and through the ansible CLI)."""

from __future__ import absolute_import, division, print_function

import io
import hashlib
import os
import re
import shutil
import zipfile

import pytest

import engine_venv as ev
from module_runner import ansible_cli, run_cli, run_module
from ansible_collections.clarafl.federation.plugins.modules import provision_kits

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(os.path.dirname(os.path.dirname(HERE)), "fixtures", "provision",
                       "clara-4.0-default-project.txt")
with io.open(FIXTURE, encoding="utf-8") as _fh:
    FIXTURE_TEXT = _fh.read()
FIXTURE_PASSWORDS = re.findall(u"\u2502 ([A-Za-z0-9]{16}) \u2502", FIXTURE_TEXT)

SPEC = {"name": "module_test", "server_cn": "fl-server.module.example",
        "clients": [{"name": "site-a", "org": "o1"}, {"name": "site-b", "org": "o2"}],
        "admins": [{"email": "admin@module.example", "org": "o1"}]}


def _no_password(raw, passwords):
    for pw in passwords:
        assert pw not in raw


@pytest.fixture(scope="module")
def two_runs(engine_venv, tmp_path_factory):
    """Two provisioner runs of the same project with different audit files (different passwords)."""
    runs = []
    for n in (1, 2):
        work = str(tmp_path_factory.mktemp("prov%d" % n))
        yml, authz = ev.write_project(engine_venv, work, SPEC)
        outdir = os.path.join(work, "packages")
        rc, out = ev.run_provision(engine_venv, yml, authz, outdir, columns=250)
        assert rc == 0, out[-2000:]
        narrow_rc, narrow = ev.run_provision(engine_venv, yml, authz, os.path.join(work, "narrow"), columns=50)
        assert narrow_rc == 0
        log = os.path.join(work, "provision.log")
        with io.open(log, "w", encoding="utf-8") as fh:
            fh.write(out)
        truth = ev.audit_passwords(os.path.join(work, "AUDIT"), SPEC["name"])
        runs.append({"out": out, "narrow": narrow, "log": log, "packages": outdir, "truth": truth})
    assert runs[0]["truth"] != runs[1]["truth"]
    return runs


def test_fixture_text(capsys):
    result, raw = run_module(provision_kits, {"output": FIXTURE_TEXT, "server_name": "fl-server.example.org"},
                             capsys)
    assert result["changed"] is False and not result.get("failed")
    assert result["encrypted"] is True and result["source"] == "clara_table" and result["server"] == "server"
    assert result["verified"] is False
    assert [k["password"] for k in result["kits"]] == FIXTURE_PASSWORDS
    assert result["kits"][1] == {"name": "org1-a", "zip": "org1-a.zip", "password": "OT1DIBuUScVML06N",
                                 "email": None, "kind": "client"}
    # the output option is no_log: the invocation does not echo it
    assert result["invocation"]["module_args"]["output"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def test_check_mode_is_read_only(capsys):
    result, _raw = run_module(provision_kits, {"output": FIXTURE_TEXT}, capsys, check_mode=True)
    assert result["changed"] is False and len(result["kits"]) == 9


def test_cut_table_fails_without_leaking(capsys):
    lines = FIXTURE_TEXT.split("\n")
    text = "\n".join(ln.replace("n0ldaxCZYoj8Orpv", u"n0ldaxCZYoj8\u2026   ") for ln in lines)
    result, raw = run_module(provision_kits, {"output": text}, capsys)
    assert result["failed"] is True and "narrow terminal" in result["msg"] and "COLUMNS=250" in result["msg"]
    assert "admin@nvidia.com.zip" in result["msg"]
    _no_password(raw, FIXTURE_PASSWORDS + ["n0ldaxCZYoj8"])


def test_truncated_output_fails_without_leaking(capsys):
    text = FIXTURE_TEXT[:FIXTURE_TEXT.index("researcher@org1.com.zip")]
    result, raw = run_module(provision_kits, {"output": text}, capsys)
    assert result["failed"] and ("truncated" in result["msg"] or "interrupted" in result["msg"])
    _no_password(raw, FIXTURE_PASSWORDS)


def test_expected_participants(capsys):
    args = {"output": FIXTURE_TEXT, "expected_clients": ["org1-a", "org1-b", "org2"],
            "expected_admins": ["admin@nvidia.com", "researcher@nvidia.com", "researcher@org1.com",
                                "researcher@org2.com", "it@org2.com"]}
    result, _raw = run_module(provision_kits, args, capsys)
    assert not result.get("failed") and [k["kind"] for k in result["kits"]].count("admin") == 5
    args["expected_clients"] = ["org1-a", "org9"]
    result, raw = run_module(provision_kits, args, capsys)
    assert result["failed"]
    assert "expected client 'org9' has no kit" in result["msg"]
    assert "unexpected client kit 'org1-b.zip'" in result["msg"]
    assert any("org9" in p for p in result["problems"])
    _no_password(raw, FIXTURE_PASSWORDS)


def test_argument_errors(tmp_path, capsys):
    result, _raw = run_module(provision_kits, {}, capsys)
    assert result["failed"] and "one of the following is required" in result["msg"]
    result, _raw = run_module(provision_kits, {"output": "some output text", "output_file": "/x"}, capsys)
    assert result["failed"] and "mutually exclusive" in result["msg"]
    result, _raw = run_module(provision_kits, {"output_file": str(tmp_path / "missing.log")}, capsys)
    assert result["failed"] and "Cannot read the provisioner output file" in result["msg"]
    result, _raw = run_module(provision_kits, {"output": FIXTURE_TEXT, "packages_dir": str(tmp_path / "nope")}, capsys)
    assert result["failed"] and "is not a directory" in result["msg"]


def test_real_run_with_packages_dir(two_runs, capsys):
    run = two_runs[0]
    result, _raw = run_module(provision_kits, {
        "output_file": run["log"], "packages_dir": run["packages"], "server_name": SPEC["server_cn"],
        "expected_clients": ["site-a", "site-b"], "expected_admins": ["admin@module.example"]}, capsys)
    assert not result.get("failed"), result.get("msg")
    assert result["verified"] is True
    assert dict((k["zip"], k["password"]) for k in result["kits"]) == run["truth"]
    for k in result["kits"]:
        assert k["path"] == os.path.join(run["packages"], k["zip"])
        with open(k["path"], "rb") as fh:
            assert k["sha256"] == hashlib.sha256(fh.read()).hexdigest()
        with zipfile.ZipFile(k["path"]) as zf:
            zf.read("startup/rootCA.pem", pwd=k["password"].encode())
    assert [k["kind"] for k in result["kits"]] == ["server", "client", "client", "admin"]


def test_output_and_packages_from_different_runs(two_runs, capsys):
    result, raw = run_module(provision_kits, {"output": two_runs[0]["out"], "packages_dir": two_runs[1]["packages"]},
                             capsys)
    assert result["failed"] and "does not open" in result["msg"] and "different provisioner runs" in result["msg"]
    _no_password(raw, list(two_runs[0]["truth"].values()) + list(two_runs[1]["truth"].values()))
    # without verification the mismatch cannot be seen: that is why verify_passwords defaults to true
    result, _raw = run_module(provision_kits, {"output": two_runs[0]["out"], "packages_dir": two_runs[1]["packages"],
                                               "verify_passwords": False}, capsys)
    assert not result.get("failed") and result["verified"] is False


def test_real_narrow_run_fails(two_runs, capsys):
    result, raw = run_module(provision_kits, {"output": two_runs[0]["narrow"]}, capsys)
    assert result["failed"] and "COLUMNS=250" in result["msg"]
    _no_password(raw, two_runs[0]["truth"].values())


def test_zip_missing_from_packages_dir(two_runs, tmp_path, capsys):
    packages = str(tmp_path / "packages")
    shutil.copytree(two_runs[0]["packages"], packages)
    os.remove(os.path.join(packages, "site-b.zip"))
    result, raw = run_module(provision_kits, {"output": two_runs[0]["out"], "packages_dir": packages}, capsys)
    assert result["failed"] and "row for 'site-b.zip' has no such zip file" in result["msg"]
    _no_password(raw, two_runs[0]["truth"].values())


def test_unencrypted_kits(tmp_path, capsys):
    packages = tmp_path / "prod_00"
    packages.mkdir()
    for name in ("server", "site-1", "admin@x.example"):
        with zipfile.ZipFile(str(packages / (name + ".zip")), "w") as zf:
            zf.writestr("startup/readme.txt", "x")
    text = "Generated results can be found under prod_00.\n"
    result, _raw = run_module(provision_kits, {"output": text, "packages_dir": str(packages)}, capsys)
    assert result["failed"] and "set encrypted to false" in result["msg"]
    result, _raw = run_module(provision_kits, {"output": text, "packages_dir": str(packages), "encrypted": False},
                              capsys)
    assert not result.get("failed") and result["encrypted"] is False and result["source"] == "zip_names"
    assert sorted((k["name"], k["kind"], k["password"]) for k in result["kits"]) == [
        ("admin@x.example", "admin", None), ("server", "server", None), ("site-1", "client", None)]


@pytest.mark.skipif(ansible_cli() is None, reason="the ansible CLI is not installed beside this Python")
def test_through_the_ansible_cli(tmp_path):
    log = tmp_path / "provision.log"
    log.write_text(FIXTURE_TEXT)
    rc, out = run_cli("provision_kits", {"output_file": str(log)}, tmp_path)
    assert rc == 0 and "SUCCESS" in out and "64CWMI3Zb00JRcPn" in out, out  # returned, by design (see notes)
    bad = tmp_path / "bad.log"
    bad.write_text(FIXTURE_TEXT.replace(u"\u2514", u" "))
    rc, out = run_cli("provision_kits", {"output_file": str(bad)}, tmp_path, extra=["-vvv"])
    assert rc != 0 and "closing border" in out, out
    _no_password(out, FIXTURE_PASSWORDS)


def test_collection_namespaces_resolve():
    """Our checkout and the collections installed with the ansible package share ansible_collections."""
    import ansible_collections
    import ansible_collections.clarafl.federation.plugins.modules.provision_kits as mod

    assert any(p.endswith(".collections/ansible_collections") for p in ansible_collections.__path__)
    assert os.path.realpath(mod.__file__) == os.path.realpath(provision_kits.__file__)
    docker = pytest.importorskip("ansible_collections.community.docker")
    assert "site-packages" in list(docker.__path__)[0] or "collections" in list(docker.__path__)[0]
