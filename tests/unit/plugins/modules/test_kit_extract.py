# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kit_extract module, run as Ansible runs it (in-process and through the ansible CLI)."""

from __future__ import absolute_import, division, print_function

import glob
import os
import shutil
import stat
import subprocess

import pytest

import engine_venv as ev
from module_runner import ansible_cli, run_cli, run_module
from ansible_collections.clarafl.federation.plugins.modules import kit_extract
from ansible_collections.clarafl.federation.plugins.module_utils.provision_output import parse_provision_output

ZIP = shutil.which("zip")
pytestmark = pytest.mark.skipif(ZIP is None, reason="the zip CLI is not installed (apt-get install zip)")
PASSWORD = "Zt5Hq9Lm3Wc7Xp1B"
FILES = {
    "startup/client.key": b"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
    "startup/client.crt": b"-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n",
    "startup/start.sh": b"#!/bin/bash\necho hi\n",
    "startup/fed_client.json": b'{"client": {}}\n',
}


def _mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def kit(tmp_path):
    tree = tmp_path / "tree"
    for rel, data in FILES.items():
        path = tree / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    out = str(tmp_path / "org1-a.zip")
    subprocess.check_call([ZIP, "-rq", "-P", PASSWORD, out, "."], cwd=str(tree))
    return out


def test_extract_then_unchanged(tmp_path, kit, capsys):
    dest = str(tmp_path / "site")
    result, raw = run_module(kit_extract, {"src": kit, "dest": dest, "password": PASSWORD}, capsys)
    assert result["changed"] is True and not result.get("failed")
    assert result["created"] is True and "startup/client.key" in result["added"]
    assert result["changed_files"] == [] and result["removed"] == [] and result["encryption"] == "zipcrypto"
    assert "diff" not in result
    assert PASSWORD not in raw
    assert result["invocation"]["module_args"]["password"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert _mode(os.path.join(dest, "startup")) == 0o700
    assert _mode(os.path.join(dest, "startup/client.key")) == 0o600
    assert _mode(os.path.join(dest, "startup/start.sh")) == 0o755
    result, raw = run_module(kit_extract, {"src": kit, "dest": dest, "password": PASSWORD}, capsys)
    assert result["changed"] is False and result["added"] == []


def test_check_mode_and_diff(tmp_path, kit, capsys):
    dest = str(tmp_path / "site")
    result, _raw = run_module(kit_extract, {"src": kit, "dest": dest, "password": PASSWORD}, capsys,
                              check_mode=True, diff=True)
    assert result["changed"] is True and not os.path.exists(dest)
    assert "0600 startup/client.key" in result["diff"]["after"] and result["diff"]["before"] == ""
    run_module(kit_extract, {"src": kit, "dest": dest, "password": PASSWORD}, capsys)
    os.chmod(os.path.join(dest, "startup/start.sh"), 0o644)
    result, _raw = run_module(kit_extract, {"src": kit, "dest": dest, "password": PASSWORD, "mode": "0750"},
                              capsys, check_mode=True, diff=True)
    assert result["changed_files"] == ["startup/start.sh"]
    assert "0644 startup/start.sh" in result["diff"]["before"] and "0755 startup/start.sh" in result["diff"]["after"]
    assert "0755 ./" in result["diff"]["before"] and "0750 ./" in result["diff"]["after"]
    assert _mode(os.path.join(dest, "startup/start.sh")) == 0o644 and _mode(dest) == 0o755


def test_wrong_password_fails_cleanly(tmp_path, kit, capsys):
    dest = tmp_path / "site"
    dest.mkdir()
    (dest / "keep").write_text(u"keep")
    result, raw = run_module(kit_extract, {"src": kit, "dest": str(dest), "password": "NotTheRightOne99"}, capsys)
    assert result["failed"] is True and result["reason"] == "wrong_password"
    assert "wrong password for archive %s" % kit in result["msg"]
    assert "NotTheRightOne99" not in raw and PASSWORD not in raw
    assert os.listdir(str(dest)) == ["keep"]


def test_missing_password(tmp_path, kit, capsys):
    result, _raw = run_module(kit_extract, {"src": kit, "dest": str(tmp_path / "s")}, capsys)
    assert result["failed"] and result["reason"] == "password_required" and "no password was given" in result["msg"]


def test_truncated_fails_cleanly(tmp_path, kit, capsys):
    with open(kit, "rb") as fh:
        data = fh.read()
    bad = str(tmp_path / "cut.zip")
    with open(bad, "wb") as fh:
        fh.write(data[:len(data) // 2])
    result, raw = run_module(kit_extract, {"src": bad, "dest": str(tmp_path / "s"), "password": PASSWORD}, capsys)
    assert result["failed"] and result["reason"] == "truncated" and "truncated" in result["msg"]
    assert "Traceback" not in raw and PASSWORD not in raw and not os.path.exists(str(tmp_path / "s"))


def test_bad_mode_and_missing_src(tmp_path, kit, capsys):
    result, _raw = run_module(kit_extract, {"src": kit, "dest": str(tmp_path / "s"), "password": PASSWORD,
                                            "mode": "rwxr-x---"}, capsys)
    assert result["failed"] and "not an octal mode" in result["msg"]
    result, _raw = run_module(kit_extract, {"src": str(tmp_path / "none.zip"), "dest": str(tmp_path / "s"),
                                            "password": PASSWORD}, capsys)
    assert result["failed"] and "does not exist" in result["msg"]


def test_unexpected_error_is_a_sentence(tmp_path, kit, capsys, monkeypatch):
    def boom(*_args, **_kwargs):
        raise ValueError("simulated")
    monkeypatch.setattr(kit_extract, "extract_kit", boom)
    result, raw = run_module(kit_extract, {"src": kit, "dest": str(tmp_path / "s"), "password": PASSWORD}, capsys)
    assert result["failed"] and "unexpected ValueError: simulated" in result["msg"] and "Traceback" not in raw


def test_real_provisioner_kit(engine_venv, tmp_path, capsys):
    """A kit made by the real Clara Train 4.0 provisioner, password from the parser."""
    spec = {"name": "extract_test", "server_cn": "fl.example", "clients": [{"name": "site-a", "org": "o"}],
            "admins": [{"email": "admin@o.example", "org": "o"}]}
    yml, authz = ev.write_project(engine_venv, str(tmp_path / "prov"), spec)
    outdir = str(tmp_path / "prov" / "out")
    rc, out = ev.run_provision(engine_venv, yml, authz, outdir, columns=250)
    assert rc == 0, out[-2000:]
    kits = parse_provision_output(out, zip_names=glob.glob(os.path.join(outdir, "*.zip")))
    for kit_ in kits:
        dest = str(tmp_path / kit_["name"])
        result, raw = run_module(kit_extract, {"src": os.path.join(outdir, kit_["zip"]), "dest": dest,
                                               "password": kit_["password"]}, capsys)
        assert result["changed"] and not result.get("failed"), result
        assert kit_["password"] not in raw
        key = {"server": "server.key"}.get(kit_["kind"], "client.key")
        assert _mode(os.path.join(dest, "startup", key)) == 0o600
        assert _mode(os.path.join(dest, "startup")) == 0o700
        assert _mode(os.path.join(dest, "startup", "start.sh" if kit_["kind"] != "admin" else "fl_admin.sh")) == 0o755
        assert _mode(os.path.join(dest, "startup", "rootCA.pem")) == 0o644


@pytest.mark.skipif(ansible_cli() is None, reason="the ansible CLI is not installed beside this Python")
def test_through_the_ansible_cli(tmp_path, kit):
    dest = str(tmp_path / "site")
    args = {"src": kit, "dest": dest, "password": PASSWORD}
    rc, out = run_cli("kit_extract", args, tmp_path)
    assert rc == 0 and "CHANGED" in out, out
    rc, out = run_cli("kit_extract", args, tmp_path)
    assert rc == 0 and "SUCCESS" in out and '"changed": false' in out, out
    rc, out = run_cli("kit_extract", dict(args, password="WrongPassword77"), tmp_path, extra=["-vvv"])
    assert rc != 0 and "wrong password" in out, out
    assert "WrongPassword77" not in out and PASSWORD not in out
