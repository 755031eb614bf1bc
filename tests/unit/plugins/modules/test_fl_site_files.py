# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fl_site_files module, run in-process as Ansible runs it."""

from __future__ import absolute_import, division, print_function

import hashlib
import os

from module_runner import run_module
from ansible_collections.clarafl.federation.plugins.modules import fl_site_files

CERT = b"-----BEGIN CERTIFICATE-----\nMIIDazCCAlOgAwIBAgIU\n-----END CERTIFICATE-----\n"


def _site(tmp_path, name, kit=True, dataset=True, marker=None):
    kit_dir = tmp_path / "kits" / name
    data_dir = tmp_path / "data" / name
    if kit:
        (kit_dir / "startup").mkdir(parents=True)
        (kit_dir / "startup" / "client.crt").write_bytes(CERT + name.encode())
    if dataset:
        data_dir.mkdir(parents=True)
        if marker is not None:
            (data_dir / ".clarafl-demo-data").write_bytes(marker)
    return {"name": name, "kit_dir": str(kit_dir), "dataset_dir": str(data_dir)}


def _tree(root):
    seen = []
    for dirpath, dirnames, filenames in os.walk(str(root)):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            seen.append((path, st.st_mode, st.st_size, st.st_mtime_ns))
    return sorted(seen)


def test_reports_every_site(tmp_path, capsys):
    sites = [
        _site(tmp_path, "org1-a", marker=b"site_index=0 num_sites=2\n"),
        _site(tmp_path, "org1-b", kit=False, dataset=False),
        _site(tmp_path, "org2", marker=b"\xff\xfe"),
    ]
    sites.append({"name": "org3", "kit_dir": sites[0]["kit_dir"]})
    before = _tree(tmp_path)
    result, _raw = run_module(fl_site_files, {"sites": sites}, capsys)
    assert result["changed"] is False and not result.get("failed")
    found = result["sites"]
    assert sorted(found) == ["org1-a", "org1-b", "org2", "org3"]
    assert found["org1-a"] == {"kit": True, "cert_sha256": hashlib.sha256(CERT + b"org1-a").hexdigest(),
                               "connection_sha256": "", "dataset": True, "demo_marker": "site_index=0 num_sites=2\n",
                               "log_size": 0}
    assert found["org1-b"] == {"kit": False, "cert_sha256": "", "connection_sha256": "", "dataset": False,
                               "demo_marker": "", "log_size": 0}
    assert found["org2"]["kit"] is True and found["org2"]["dataset"] is True and found["org2"]["demo_marker"] == ""
    assert found["org3"]["cert_sha256"] == found["org1-a"]["cert_sha256"] and found["org3"]["dataset"] is False
    assert _tree(tmp_path) == before  # reads only


def test_check_mode_reads_the_same(tmp_path, capsys):
    sites = [_site(tmp_path, "org1-a", marker=b"m")]
    result, _raw = run_module(fl_site_files, {"sites": sites}, capsys, check_mode=True)
    assert result["changed"] is False and result["sites"]["org1-a"]["kit"] is True
    assert result["sites"]["org1-a"]["demo_marker"] == "m"


def test_duplicate_site_fails_with_a_message(tmp_path, capsys):
    site = _site(tmp_path, "org1-a")
    result, raw = run_module(fl_site_files, {"sites": [site, dict(site)]}, capsys)
    assert result["failed"] is True and result["msg"] == "site org1-a is listed twice"
    assert "sites" not in result and "Traceback" not in raw


def test_site_without_kit_dir_fails_with_a_message(tmp_path, capsys):
    result, raw = run_module(fl_site_files, {"sites": [{"name": "org1-a", "dataset_dir": str(tmp_path)}]}, capsys)
    assert result["failed"] is True and "missing required arguments: kit_dir" in result["msg"]
    assert "sites" in result["msg"]
    assert "Traceback" not in raw


def test_sites_is_required(capsys):
    result, _raw = run_module(fl_site_files, {}, capsys)
    assert result["failed"] is True and "sites" in result["msg"]
