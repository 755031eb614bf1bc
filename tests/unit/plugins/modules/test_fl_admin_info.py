# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""fl_admin_info run in-process as Ansible runs it, against the fake container and AdminAPI: the status, the
registrations, the record and the run's summary on one console login, read-only, never a change; a server that
cannot be reached is an answer, not a failure."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import sys

import pytest

from module_runner import run_module
from ansible_collections.clarafl.federation.plugins.module_utils import _admin_console
from ansible_collections.clarafl.federation.plugins.modules import fl_admin_info

FIX = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "fixtures", "admin")
if FIX not in sys.path:
    sys.path.insert(0, FIX)
import fake_docker  # noqa: E402  pylint: disable=wrong-import-position

with open(os.path.join(FIX, "clara-4.0-login-failures.json")) as _fh:
    LOGIN_FAILURES = json.load(_fh)
with open(os.path.join(FIX, "clara-4.0-validate-replies.json")) as _fh:
    VALIDATE = json.load(_fh)["replies"]


@pytest.fixture
def fed(tmp_path, monkeypatch):
    class Fed(object):
        pass

    f = Fed()
    f.engine = fake_docker.FakeEngine(tmp_path, registered=["site-a", "site-b"])
    f.kit = fake_docker.make_kit(str(tmp_path / "kit"))
    f.container = fake_docker.FakeContainer(f.engine, name="clarafl-test-admin")
    monkeypatch.setattr(_admin_console, "connect", lambda docker_host=None, timeout=60: fake_docker.FakeClient(
        f.container))
    f.records = tmp_path / "records"
    f.records.mkdir()
    f.args = {"container": "clarafl-test-admin", "kit_dir": f.kit, "username": "admin@test.local"}
    return f


def test_the_status_and_registrations_on_one_login(fed, capsys):
    result, raw = run_module(fl_admin_info, dict(fed.args), capsys)
    assert not result.get("failed") and result["changed"] is False and result["reachable"] is True
    assert result["status"]["run_number"] is None and result["status"]["server_status"] == "training not started"
    assert result["status"]["clients"]["site-b"] == {"token": "tok-site-b", "status": "training not started"}
    assert result["registered_sites"] == ["site-a", "site-b"]
    assert result["record"] == {} and result["summary"] == {} and result["run_number"] == 1
    assert result["server"] == {"host": "fl-server.test", "port": 18003, "server_cn": "fl-server.test"}
    assert "validation" not in result and "msg" not in result
    assert [c["call"] for c in fed.engine.calls()] == ["init", "login", "do_command", "do_command", "logout"]
    assert fed.engine.sent() == ["check_status server", "check_status client"]
    assert "Traceback" not in raw


def test_the_record_and_the_summary_of_its_run(fed, capsys):
    (fed.records / "clarafl-training.json").write_text(json.dumps({"run_number": 2, "phase": "finished"}))
    (fed.records / "run_2-summary.json").write_text(json.dumps({"run_number": 2, "rounds_done": 3}))
    (fed.records / "run_1-summary.json").write_text(json.dumps({"run_number": 1, "rounds_done": 5}))
    result, _raw = run_module(fl_admin_info, dict(fed.args, record_dir=str(fed.records)), capsys)
    assert result["record"] == {"run_number": 2, "phase": "finished"} and result["run_number"] == 2
    assert result["summary"] == {"run_number": 2, "rounds_done": 3}
    result, _raw = run_module(fl_admin_info, dict(fed.args, record_dir=str(fed.records), run_number=1), capsys)
    assert result["run_number"] == 1 and result["summary"]["rounds_done"] == 5
    # a record that cannot be read is none
    (fed.records / "clarafl-training.json").write_text(u"{broken")
    result, _raw = run_module(fl_admin_info, dict(fed.args, record_dir=str(fed.records)), capsys)
    assert result["record"] == {} and result["run_number"] == 1 and result["summary"]["rounds_done"] == 5


def test_in_check_mode_it_reads_all_the_same(fed, capsys):
    result, _raw = run_module(fl_admin_info, dict(fed.args), capsys, check_mode=True)
    assert result["reachable"] is True and result["changed"] is False
    assert fed.engine.sent() == ["check_status server", "check_status client"]


@pytest.mark.parametrize("reply, state", [("complete", "complete"), ("before_results", "empty"),
                                          ("partial_site_missing", "partial")])
def test_the_cross_site_validation_results(fed, capsys, reply, state):
    fed.engine.cfg["replies"] = {"validate all": VALIDATE[reply]}
    fed.engine.write()
    result, _raw = run_module(fl_admin_info, dict(fed.args, validation=True, sites=["xv-a", "xv-b"]), capsys)
    assert result["reachable"] and result["validation"]["state"] == state
    assert isinstance(result["validation"]["lines"], list)
    assert fed.engine.sent() == ["check_status server", "check_status client", "validate all"]


def test_a_server_that_cannot_be_reached_is_an_answer(fed, capsys):
    fx = [f for f in LOGIN_FAILURES if f["case"] == "connection_refused"][0]
    fed.engine.cfg["login_fail"] = {"result": fx["login"], "reply": fx["login_reply"]}
    fed.engine.write()
    (fed.records / "clarafl-training.json").write_text(json.dumps({"run_number": 3, "phase": "started"}))
    result, raw = run_module(fl_admin_info, dict(fed.args, record_dir=str(fed.records)), capsys)
    assert not result.get("failed") and result["reachable"] is False and result["changed"] is False
    assert result["reason"] == "login" and result["msg"].startswith("Cannot connect to the FL admin server at "
                                                                    "fl-server.test:18003")
    assert result["status"] == {} and result["registered_sites"] == []
    # the record is read all the same
    assert result["record"]["run_number"] == 3 and result["run_number"] == 3
    assert "Traceback" not in raw


@pytest.mark.parametrize("break_it, reason", [
    (lambda fed: setattr(fed.container, "status", "exited"), "container"),
    (lambda fed: setattr(fed.container, "exec_override", lambda cmd: (126, (None, b"exec failed"))), "driver"),
])
def test_a_console_that_cannot_run_is_an_answer(fed, capsys, break_it, reason):
    break_it(fed)
    result, _raw = run_module(fl_admin_info, dict(fed.args), capsys)
    assert not result.get("failed") and result["reachable"] is False and result["reason"] == reason


def test_a_server_that_refuses_the_status_fails(fed, capsys):
    fed.engine.cfg["replies"] = {"check_status client": {"time": "t", "status": "SUCCESS", "data": [
        {"type": "error", "data": "Authorization Error: This action is not authorized"}]}}
    fed.engine.write()
    result, _raw = run_module(fl_admin_info, dict(fed.args), capsys)
    assert result["failed"] and result["reason"] == "reply" and result["changed"] is False
    assert result["msg"] == ("Admin command 'check_status client' failed: Authorization Error: This action is not "
                             "authorized\n(ran before it: check_status server)")


def test_bad_arguments(fed, capsys):
    result, _raw = run_module(fl_admin_info, dict(fed.args, timeout=-1), capsys)
    assert result["failed"] and "timeout must be a positive number" in result["msg"]
    assert fed.engine.calls() == []
