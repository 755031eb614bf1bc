# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kit_extract module with a list of kits (option kits), run in-process as Ansible runs it."""

from __future__ import absolute_import, division, print_function

import hashlib
import os
import shutil
import stat
import subprocess

import pytest

from module_runner import run_module
from ansible_collections.clarafl.federation.plugins.modules import kit_extract

ZIP = shutil.which("zip")
pytestmark = pytest.mark.skipif(ZIP is None, reason="the zip CLI is not installed (apt-get install zip)")
PASSWORDS = {"org1-a": "Zt5Hq9Lm3Wc7Xp1B", "org1-b": "Rb8Kd2Vn6Jx4Qs9F"}
MASK = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def _files(name):
    return {
        "startup/client.key": b"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
        "startup/client.crt": ("-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n" % name).encode(),
        "startup/start.sh": b"#!/bin/bash\necho hi\n",
    }


def _mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def _sha(path):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


@pytest.fixture
def zips(tmp_path):
    """{site: zip path} in a provisioning workspace, each kit with its own password."""
    ws = tmp_path / "ws"
    out = {}
    for name, password in PASSWORDS.items():
        tree = ws / ("tree-" + name)
        for rel, data in _files(name).items():
            path = tree / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        out[name] = str(ws / (name + ".zip"))
        subprocess.check_call([ZIP, "-rq", "-P", password, out[name], "."], cwd=str(tree))
    return out


def _kit(zips, tmp_path, name, **extra):
    kit = {"src": zips[name], "dest": str(tmp_path / "sites" / name), "password": PASSWORDS[name]}
    kit.update(extra)
    return kit


@pytest.fixture
def sites(tmp_path):
    (tmp_path / "sites").mkdir()
    return tmp_path / "sites"


def test_kits_installed_in_one_call(tmp_path, zips, sites, capsys):
    kits = [_kit(zips, tmp_path, "org1-a"), _kit(zips, tmp_path, "org1-b", mode="0700")]
    result, raw = run_module(kit_extract, {"kits": kits, "mode": "0750"}, capsys)
    assert result["changed"] is True and not result.get("failed")
    assert result["missing"] == []
    assert [k["src"] for k in result["kits"]] == [zips["org1-a"], zips["org1-b"]]
    assert all(k["changed"] and k["created"] and "diff" not in k for k in result["kits"])
    assert _mode(str(sites / "org1-a")) == 0o750  # the top-level mode is the default
    assert _mode(str(sites / "org1-b")) == 0o700  # a kit's own mode wins
    assert _mode(str(sites / "org1-a" / "startup" / "client.key")) == 0o600
    for name, password in PASSWORDS.items():
        assert password not in raw
    result, _raw = run_module(kit_extract, {"kits": kits, "mode": "0750"}, capsys)
    assert result["changed"] is False and [k["changed"] for k in result["kits"]] == [False, False]


def test_the_kit_passwords_are_masked(tmp_path, zips, sites, capsys):
    kits = [_kit(zips, tmp_path, "org1-a"), _kit(zips, tmp_path, "org1-b")]
    result, raw = run_module(kit_extract, {"kits": kits}, capsys)
    assert not result.get("failed")
    assert [k["password"] for k in result["invocation"]["module_args"]["kits"]] == [MASK, MASK]
    for password in PASSWORDS.values():
        assert password not in raw
    # a wrong password is not echoed in a failure either
    bad = [_kit(zips, tmp_path, "org1-a", password="WrongPassword77", dest=str(sites / "x"))]
    result, raw = run_module(kit_extract, {"kits": bad}, capsys)
    assert result["failed"] is True and result["invocation"]["module_args"]["kits"][0]["password"] == MASK
    assert "WrongPassword77" not in raw and PASSWORDS["org1-a"] not in raw


def test_missing_report_lists_the_zips_to_ship(tmp_path, zips, sites, capsys):
    other = str(tmp_path / "stale.zip")
    shutil.copy(zips["org1-b"], other)
    absent = str(tmp_path / "ship" / "org2.zip")
    kits = [
        _kit(zips, tmp_path, "org1-a"),
        {"src": absent, "dest": str(sites / "org2"), "password": "Pw123456789abcde"},
        {"src": other, "dest": str(sites / "org1-b"), "password": PASSWORDS["org1-b"],
         "checksum": _sha(zips["org1-a"])},
    ]
    result, _raw = run_module(kit_extract, {"kits": kits, "missing": "report"}, capsys)
    assert not result.get("failed"), result
    assert result["missing"] == [absent, other]
    assert [k.get("reason") for k in result["kits"]] == [None, "missing", "checksum"]
    assert result["kits"][1]["failed"] is True  # this kit's zip is to be shipped
    assert result["changed"] is True and os.path.isdir(str(sites / "org1-a" / "startup"))
    assert sorted(os.listdir(str(sites))) == ["org1-a"]
    # Default missing=fail: the same call fails, naming the kits.
    result, _raw = run_module(kit_extract, {"kits": kits}, capsys)
    assert result["failed"] is True and result["reason"] == "missing"
    assert "2 of 3 kits could not be installed" in result["msg"] and absent in result["msg"]
    assert "missing" not in result


def test_a_failing_kit_is_named_and_fails_the_task(tmp_path, zips, sites, capsys):
    kits = [
        _kit(zips, tmp_path, "org1-a"),
        _kit(zips, tmp_path, "org1-b", password=PASSWORDS["org1-a"]),  # another kit's password
    ]
    result, raw = run_module(kit_extract, {"kits": kits, "missing": "report"}, capsys)
    assert result["failed"] is True and result["reason"] == "wrong_password"
    assert result["msg"].startswith("1 of 2 kits could not be installed: ")
    assert "Cannot extract kit %s into %s" % (zips["org1-b"], str(sites / "org1-b")) in result["msg"]
    assert zips["org1-a"] not in result["msg"]
    assert [k.get("failed", False) for k in result["kits"]] == [False, True]
    # the other kit was installed and is reported as a change
    assert result["changed"] is True and os.path.isfile(str(sites / "org1-a" / "startup" / "client.crt"))
    assert not os.path.exists(str(sites / "org1-b"))
    assert "Traceback" not in raw


def test_copy_from_and_check_mode(tmp_path, zips, sites, capsys):
    src = str(tmp_path / "host" / "kits" / "org1-a.zip")
    kits = [_kit(zips, tmp_path, "org1-a", src=src, copy_from=zips["org1-a"], checksum=_sha(zips["org1-a"]),
                 record=src + ".extracted")]
    result, _raw = run_module(kit_extract, {"kits": kits}, capsys, check_mode=True, diff=True)
    assert result["changed"] is True and result["kits"][0]["copied"] is True and not result.get("failed")
    assert isinstance(result["diff"], list) and "0600 startup/client.key" in result["diff"][0]["after"]
    assert not os.path.exists(str(tmp_path / "host")) and os.listdir(str(sites)) == []
    result, _raw = run_module(kit_extract, {"kits": kits}, capsys)
    assert result["changed"] is True and result["kits"][0]["copied"] is True
    assert _mode(src) == 0o600 and _mode(str(tmp_path / "host" / "kits")) == 0o700
    result, _raw = run_module(kit_extract, {"kits": kits}, capsys)
    assert result["changed"] is False and result["kits"][0]["copied"] is False


def test_kits_and_src_are_exclusive(tmp_path, zips, capsys):
    result, _raw = run_module(kit_extract, {"kits": [_kit(zips, tmp_path, "org1-a")], "src": zips["org1-a"]},
                              capsys)
    assert result["failed"] and "mutually exclusive" in result["msg"]
    result, _raw = run_module(kit_extract, {"kits": [{"src": zips["org1-a"]}]}, capsys)
    assert result["failed"] and "dest" in result["msg"]
