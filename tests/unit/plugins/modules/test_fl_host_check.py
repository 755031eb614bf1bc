# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fl_host_check module run in-process as Ansible runs it, on this (Linux) host."""

from __future__ import absolute_import, division, print_function

import json
import os
import socket

import pytest

from module_runner import run_module
from ansible_collections.clarafl.federation.plugins.modules import fl_host_check


@pytest.fixture
def listening():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    yield sock.getsockname()[1]
    sock.close()


def test_fine_host(tmp_path, capsys):
    kits = tmp_path / "kits" / "p1"
    (kits / "server").mkdir(parents=True)
    (kits / ".clarafl-project").write_text(json.dumps({"project": "p1", "created": True, "created_at": "x",
                                                       "entries": ["server"]}))
    (tmp_path / "data").mkdir()
    for check_mode in (False, True):
        result, _raw = run_module(fl_host_check, {
            "project": "p1", "kit_root": str(kits), "kit_components": ["server", "admin"],
            "paths": [{"path": str(tmp_path / "data"), "what": "fl_dataset_dir"}],
        }, capsys, check_mode=check_mode)
        assert result["changed"] is False and "failed" not in result
        assert result["problems"] == [] and result["listeners"] == []
        assert result["kit_root_exists"] is True and result["kit_root_created_by_collection"] is True
        assert result["kit_root_marker"] == {"project": "p1", "created": True, "created_at": "x", "entries": ["server"]}
        assert result["kit_root_foreign_entries"] == []
        assert result["hostname"] == socket.gethostname()


def test_problems_do_not_fail_the_module(tmp_path, capsys, listening):
    result, _raw = run_module(fl_host_check, {
        "project": "p1", "kit_root": "kits",
        "paths": [{"path": str(tmp_path / "nope"), "what": "fl_dataset_dir of org1-a"}],
        "ports": [{"port": listening, "name": "fl_admin_port"}],
        "allowed_containers": ["c" * 64],
    }, capsys)
    assert "failed" not in result and result["changed"] is False
    assert result["problems"] == [
        "fl_kit_root must be an absolute path (it is 'kits'): a relative path would put private keys wherever "
        "ansible-playbook runs from.",
        "fl_dataset_dir of org1-a %s does not exist on this host (%s)" % (tmp_path / "nope", socket.gethostname()),
        result["problems"][2],
    ]
    assert result["problems"][2].startswith("port %d is already in use on this host by pid %d ("
                                            % (listening, os.getpid()))
    assert result["problems"][2].endswith("); the FL server needs it: stop that process or choose another "
                                          "fl_admin_port")
    assert [(x["port"], x["pid"], x["ours"]) for x in result["listeners"]] == [(listening, os.getpid(), False)]


def test_fail_on_problems(capsys):
    args = {"project": "p1", "kit_root": "/", "fail_on_problems": True,
            "paths": [{"path": "rel", "what": "fl_dataset_dir", "kind": "file"}]}
    result, _raw = run_module(fl_host_check, args, capsys)
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"] == ("2 problem(s) on this host: (1) fl_kit_root / is the root folder: the collection keeps "
                             "each project in its own folder (e.g. /opt/clarafl/p1) (2) fl_dataset_dir must be an "
                             "absolute path (it is 'rel')")
    assert len(result["problems"]) == 2


@pytest.mark.parametrize("args,msg", [
    ({"allowed_containers": ["abc123"]}, "allowed_containers needs ids of at least 12 characters; got abc123"),
    ({"ports": [{"port": 70000, "name": "fl_admin_port"}]}, "ports must be between 1 and 65535; got 70000"),
    ({"project": ""}, "project must not be empty"),
])
def test_bad_options(capsys, args, msg):
    full = {"project": "p1"}
    full.update(args)
    result, _raw = run_module(fl_host_check, full, capsys)
    assert result["failed"] is True and result["msg"] == msg


def test_kinds_are_checked_by_ansible(capsys):
    args = {"project": "p1", "paths": [{"path": "/", "what": "x", "kind": "link"}]}
    result, _raw = run_module(fl_host_check, args, capsys)
    assert result["failed"] is True and "kind" in result["msg"]
