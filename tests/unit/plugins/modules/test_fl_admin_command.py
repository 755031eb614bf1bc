# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The admin modules run in-process as Ansible runs them (tests/unit/module_runner.py), against a fake Docker
container whose exec runs the real driver with the fake AdminAPI (fixtures/admin/fake_docker.py, fake_admin_api.py):
fl_admin_command (commands in, replies out) here, fl_admin_info and fl_training in their own files. The real engine
is exercised by tests/engine."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import sys

import pytest

from module_runner import run_module
from ansible_collections.clarafl.federation.plugins.module_utils import _admin_console
from ansible_collections.clarafl.federation.plugins.modules import fl_admin_command

FIX = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "fixtures", "admin")
if FIX not in sys.path:
    sys.path.insert(0, FIX)
import fake_docker  # noqa: E402  pylint: disable=wrong-import-position

with open(os.path.join(FIX, "clara-4.0-login-failures.json")) as _fh:
    LOGIN_FAILURES = json.load(_fh)


def _string_reply(text):
    return {"time": "t", "status": "SUCCESS", "data": [{"type": "string", "data": text}]}


@pytest.fixture
def fed(tmp_path, monkeypatch):
    """A fake federation: engine config, kit, container, and the docker client the console gets."""
    class Fed(object):
        pass

    f = Fed()
    f.engine = fake_docker.FakeEngine(tmp_path, registered=["site-a", "site-b"])
    f.kit = fake_docker.make_kit(str(tmp_path / "kit"))
    f.container = fake_docker.FakeContainer(f.engine, name="clarafl-test-admin")
    f.client_calls = []

    def fake_connect(docker_host=None, timeout=60):
        f.client_calls.append((docker_host, timeout))
        return fake_docker.FakeClient(f.container)

    monkeypatch.setattr(_admin_console, "connect", fake_connect)
    f.args = {"container": "clarafl-test-admin", "kit_dir": f.kit, "username": "admin@test.local"}
    return f


def test_commands_in_replies_out(fed, capsys):
    result, raw = run_module(fl_admin_command, dict(fed.args, commands=[
        "set_run_number 1", "deploy app client site-a", "check_status client"]), capsys)
    assert not result.get("failed"), result
    assert result["changed"] is True
    assert [r["command"] for r in result["results"]] == [
        "set_run_number 1", "deploy app client site-a", "check_status client"]
    assert [r["changed"] for r in result["results"]] == [True, True, False]
    assert all(r["ok"] for r in result["results"]) and result["results"][2]["instances"][0]["site"] == "site-a"
    assert result["results"][0]["text"] == "OK" and result["results"][0]["reply"]["status"] == "SUCCESS"
    assert result["server"] == {"host": "fl-server.test", "port": 18003, "server_cn": "fl-server.test"}
    # the registrations were read because a command named a site
    assert result["registered_sites"] == ["site-a", "site-b"] and "missing_sites" not in result
    init = fed.engine.calls()[0]
    assert (init["host"], init["port"], init["server_cn"]) == ("fl-server.test", 18003, "fl-server.test")
    assert "Traceback" not in raw
    assert fed.client_calls == [(None, 3600)]


def test_read_only_commands_are_not_a_change(fed, capsys):
    result, _raw = run_module(fl_admin_command, dict(fed.args, commands=["check_status server", "ls site-a"]), capsys)
    assert result["changed"] is False and all(r["ok"] for r in result["results"])
    # an abort with nothing to abort changed nothing either
    fed.engine.cfg["replies"] = {"abort client": _string_reply("instance:site-a : Client training has not started.\n"
                                                               "instance:site-b : Client training has not started.\n")}
    fed.engine.write()
    result, _raw = run_module(fl_admin_command, dict(fed.args, commands=["abort client"]), capsys)
    assert result["changed"] is False and result["results"][0]["ok"]


def test_check_mode_sends_only_the_commands_that_read(fed, capsys):
    result, _raw = run_module(fl_admin_command, dict(fed.args, commands=[
        "set_run_number 2", "check_status client", "start client site-a"]), capsys, check_mode=True)
    assert not result.get("failed") and result["changed"] is True
    assert result["skipped"] == ["set_run_number 2", "start client site-a"]
    assert [r.get("skipped", False) for r in result["results"]] == [True, False, True]
    assert fed.engine.sent() == ["check_status server", "check_status client"]


def test_an_error_reply_fails_with_the_reply_text_and_nothing_more(fed, capsys):
    fed.engine.cfg["replies"] = {
        "deploy nonexistent server": _string_reply("MMAR folder 'nonexistent' does not exist.")}
    fed.engine.write()
    result, raw = run_module(fl_admin_command, dict(fed.args, commands=[
        "set_run_number 1", "deploy nonexistent server", "start server"]), capsys)
    assert result["failed"] and result["reason"] == "reply"
    assert result["msg"] == ("Admin command 'deploy nonexistent server' failed: MMAR folder 'nonexistent' does not "
                             "exist.\n(ran before it: set_run_number 1)\n(not sent: start server)")
    assert [r["ok"] for r in result["results"]] == [True, False]
    assert result["results"][1]["error"] == "MMAR folder 'nonexistent' does not exist."
    # commands in, replies out: no log read, nothing sent again (fl_training explains its own failures)
    assert fed.engine.sent() == ["set_run_number 1", "deploy nonexistent server"]
    assert "Traceback" not in raw


def test_an_unregistered_site_is_refused_before_sending(fed, capsys):
    result, _raw = run_module(fl_admin_command, dict(fed.args, commands=["set_run_number 5", "start client nosuch"]),
                              capsys)
    assert result["failed"] and result["reason"] == "unregistered_site"
    assert result["msg"] == ("Admin command 'start client nosuch' names site 'nosuch', which is not registered with "
                             "the FL server at fl-server.test:18003 (registered: site-a, site-b); nothing was sent.")
    assert fed.engine.sent() == ["check_status server"] and result["registered_sites"] == ["site-a", "site-b"]


def test_expected_sites_are_checked_before_connecting(fed, capsys):
    result, _raw = run_module(fl_admin_command, dict(fed.args, sites=["site-a", "site-b"],
                                                     commands=["start client site-c"]), capsys)
    assert result["failed"] and result["reason"] == "unknown_site" and "'site-c'" in result["msg"]
    assert fed.client_calls == [] and fed.engine.calls() == []


def test_an_expected_site_not_registered(fed, capsys):
    result, _raw = run_module(fl_admin_command, dict(fed.args, sites=["site-a", "site-b", "site-c"],
                                                     commands=["start client"]), capsys)
    assert result["failed"] and result["reason"] == "expected_site_missing"
    assert result["missing_sites"] == ["site-c"] and "'site-c', which is not registered" in result["msg"]
    assert fed.engine.sent() == ["check_status server"]
    result, _raw = run_module(fl_admin_command, dict(fed.args, sites=["site-a", "site-b", "site-c"],
                                                     commands=["check_status client"]), capsys)
    assert not result.get("failed") and result["missing_sites"] == ["site-c"]


def test_a_refused_connection_is_one_sentence(fed, capsys):
    fx = [f for f in LOGIN_FAILURES if f["case"] == "connection_refused"][0]
    fed.engine.cfg["login_fail"] = {"result": fx["login"], "reply": fx["login_reply"]}
    fed.engine.write()
    result, raw = run_module(fl_admin_command, dict(fed.args, server_host="localhost", server_port=28099,
                                                    commands=["check_status server"]), capsys)
    assert result["failed"] and result["reason"] == "login"
    assert result["msg"] == ("Cannot connect to the FL admin server at localhost:28099 from container "
                             "'clarafl-test-admin' (connection refused): check that the FL server is running and that "
                             "28099 is its admin_port.")
    assert result["server"] == {"host": "localhost", "port": 28099, "server_cn": "fl-server.test"}
    assert "Traceback" not in raw


def test_no_commands_only_logs_in(fed, capsys):
    result, _raw = run_module(fl_admin_command, dict(fed.args, commands=[]), capsys)
    assert not result.get("failed") and result["changed"] is False and result["results"] == []
    assert [c["call"] for c in fed.engine.calls()] == ["init", "login", "logout"]


def test_the_container_missing_or_stopped(fed, capsys):
    result, _raw = run_module(fl_admin_command, dict(fed.args, container="nope", commands=[]), capsys)
    assert result["failed"] and result["reason"] == "container"
    assert result["msg"].startswith("The admin container 'nope' does not exist")
    fed.container.status = "exited"
    result, _raw = run_module(fl_admin_command, dict(fed.args, commands=[]), capsys)
    assert result["msg"] == "The admin container 'clarafl-test-admin' is not running (state: exited): start it first."


def test_a_driver_that_does_not_run(fed, capsys):
    fed.container.exec_override = lambda cmd: (126, (None, b'OCI runtime exec failed: exec: "python3": not found'))
    result, _raw = run_module(fl_admin_command, dict(fed.args, commands=["check_status server"]), capsys)
    assert result["failed"] and result["reason"] == "driver"
    assert "exit code 126" in result["msg"] and "python3" in result["msg"]


def test_a_timeout(fed, capsys):
    fed.engine.cfg["replies"] = {"check_status client": {"sleep": 5}}
    fed.engine.write()
    result, _raw = run_module(fl_admin_command, dict(fed.args, timeout=0.5, commands=[
        "check_status client", "start server"]), capsys)
    assert result["failed"] and result["reason"] == "timeout"
    assert result["msg"] == ("Admin command 'check_status client' got no reply from the FL server at "
                             "fl-server.test:18003 within 0.5 seconds (timeout); the commands after it were not sent.")
    assert result["results"][0]["timed_out"] is True


def test_bad_arguments_are_refused_before_connecting(fed, capsys):
    result, _raw = run_module(fl_admin_command, dict(fed.args, timeout=0, commands=[]), capsys)
    assert result["failed"] and "timeout must be a positive number" in result["msg"]
    result, _raw = run_module(fl_admin_command, dict(fed.args, commands=["bye"]), capsys)
    assert result["failed"] and result["reason"] == "bad_command"
    result, _raw = run_module(fl_admin_command, dict(fed.args, server_port=70000, commands=[]), capsys)
    assert result["failed"] and "server_port" in result["msg"]
    result, _raw = run_module(fl_admin_command, dict(fed.args, engine="clara-9", commands=[]), capsys)
    assert result["failed"] and "engine" in result["msg"]
    assert fed.client_calls == []


def test_the_docker_sdk_missing(fed, capsys, monkeypatch):
    monkeypatch.setattr(fl_admin_command, "HAS_DOCKER", False)
    result, _raw = run_module(fl_admin_command, dict(fed.args, commands=[]), capsys)
    assert result["failed"] and "docker (the Docker SDK for Python)" in result["msg"]


def test_a_server_that_shuts_down(fed, capsys):
    fed.engine.cfg["replies"] = {"shutdown server": {"time": "t", "status": "SUCCESS", "data": [
        {"type": "string", "data": "FL training has been shutdown."}, {"type": "shutdown", "data": "Bye-bye"}]}}
    fed.engine.write()
    result, _raw = run_module(fl_admin_command, dict(fed.args, commands=["shutdown server"]), capsys)
    assert not result.get("failed") and result["server_shutdown"] is True
    assert result["results"][0]["confirm"] == "auth" and result["results"][0]["changed"] is True
