# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fl_admin_console module run in-process as Ansible runs it, against a fake Docker
container whose exec runs the module's real driver program with a fake AdminAPI. The real
engine is exercised by tests/engine."""

from __future__ import absolute_import, division, print_function

import json
import os
import sys

import pytest

from module_runner import run_module
from ansible_collections.clarafl.federation.plugins.modules import fl_admin_console
from ansible_collections.clarafl.federation.plugins.module_utils import admin_console as ac

FIX = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "fixtures", "admin")
sys.path.insert(0, FIX)
import fake_docker  # noqa: E402  pylint: disable=wrong-import-position

with open(os.path.join(FIX, "clara-4.0-login-failures.json")) as _fh:
    LOGIN_FAILURES = json.load(_fh)


def _string_reply(text):
    return {"time": "t", "status": "SUCCESS", "data": [{"type": "string", "data": text}]}


@pytest.fixture
def fed(tmp_path, monkeypatch):
    """A fake federation: engine config, kit, container, and the docker client the module gets."""
    class Fed(object):
        pass

    f = Fed()
    f.engine = fake_docker.FakeEngine(tmp_path, registered=["site-a", "site-b"])
    f.kit = fake_docker.make_kit(str(tmp_path / "kit"))
    f.container = fake_docker.FakeContainer(f.engine, name="clarafl-test-admin")
    f.client_calls = []

    def fake_client(docker_host=None, timeout=60):
        f.client_calls.append((docker_host, timeout))
        return fake_docker.FakeClient(f.container)

    monkeypatch.setattr(fl_admin_console, "docker_client", fake_client)
    f.args = {"container": "clarafl-test-admin", "kit_dir": f.kit, "username": "admin@test.local"}
    return f


def test_commands_and_status(fed, capsys):
    result, raw = run_module(fl_admin_console, dict(fed.args, status=True, commands=[
        "set_run_number 1", "deploy app client site-a", "check_status client"]), capsys)
    assert not result.get("failed"), result
    assert result["changed"] is True
    assert [r["command"] for r in result["results"]] == [
        "set_run_number 1", "deploy app client site-a", "check_status client"]
    assert [r["changed"] for r in result["results"]] == [True, True, False]
    assert result["server"] == {"host": "fl-server.test", "port": 18003, "server_cn": "fl-server.test"}
    assert result["registered_sites"] == ["site-a", "site-b"]
    assert result["status"]["run_number"] is None and result["status"]["server_status"] == "training not started"
    assert result["status"]["clients"]["site-b"] == {"token": "tok-site-b", "status": "training not started"}
    init = fed.engine.calls()[0]
    assert (init["host"], init["port"], init["server_cn"]) == ("fl-server.test", 18003, "fl-server.test")
    assert "Traceback" not in raw
    assert fed.client_calls == [(None, ac.http_timeout_for(3, 60))]


def test_read_only_commands_are_not_a_change(fed, capsys):
    result, _raw = run_module(fl_admin_console, dict(fed.args, commands=["check_status server", "ls site-a"]), capsys)
    assert result["changed"] is False and all(r["ok"] for r in result["results"])
    assert "status" not in result


def test_check_mode_runs_only_read_only_commands(fed, capsys):
    result, _raw = run_module(fl_admin_console, dict(fed.args, status=True, commands=[
        "set_run_number 2", "check_status client", "start client site-a"]), capsys, check_mode=True)
    assert not result.get("failed") and result["changed"] is True
    assert result["skipped"] == ["set_run_number 2", "start client site-a"]
    assert [r.get("skipped", False) for r in result["results"]] == [True, False, True]
    assert fed.engine.sent() == ["check_status server", "check_status client", "check_status server",
                                 "check_status client"]
    assert "status" in result


def test_error_reply_fails_with_the_reply_text(fed, capsys):
    fed.engine.cfg["replies"] = {"deploy nonexistent server": _string_reply("MMAR folder 'nonexistent' does not exist.")}
    fed.engine.write()
    result, raw = run_module(fl_admin_console, dict(fed.args, commands=[
        "set_run_number 1", "deploy nonexistent server", "start server"]), capsys)
    assert result["failed"] and result["reason"] == "reply"
    assert result["msg"] == ("Admin command 'deploy nonexistent server' failed: MMAR folder 'nonexistent' does not "
                             "exist.\n(ran before it: set_run_number 1)\n(not sent: start server)")
    assert [r["ok"] for r in result["results"]] == [True, False]
    assert result["results"][1]["error"] == "MMAR folder 'nonexistent' does not exist."
    # then the server's log is read to explain the failure (it shows none here: nothing is added)
    assert fed.engine.sent() == ["set_run_number 1", "deploy nonexistent server", "tail server -n 200 log.txt"]
    assert "Traceback" not in raw


def test_unregistered_site_is_refused_before_sending(fed, capsys):
    result, _raw = run_module(fl_admin_console, dict(fed.args, commands=["set_run_number 5", "start client nosuch"]),
                              capsys)
    assert result["failed"] and result["reason"] == "unregistered_site"
    assert result["msg"] == ("Admin command 'start client nosuch' names site 'nosuch', which is not registered with "
                             "the FL server at fl-server.test:18003 (registered: site-a, site-b); nothing was sent.")
    assert fed.engine.sent() == ["check_status server"]


def test_expected_sites_checked_before_connecting(fed, capsys):
    result, _raw = run_module(fl_admin_console, dict(fed.args, sites=["site-a", "site-b"],
                                                     commands=["start client site-c"]), capsys)
    assert result["failed"] and result["reason"] == "unknown_site" and "'site-c'" in result["msg"]
    assert fed.client_calls == [] and fed.engine.calls() == []


def test_expected_site_not_registered(fed, capsys):
    result, _raw = run_module(fl_admin_console, dict(fed.args, sites=["site-a", "site-b", "site-c"],
                                                     commands=["start client"]), capsys)
    assert result["failed"] and result["reason"] == "expected_site_missing"
    assert result["missing_sites"] == ["site-c"] and "'site-c' is not registered" in result["msg"]
    result, _raw = run_module(fl_admin_console, dict(fed.args, sites=["site-a", "site-b", "site-c"], status=True),
                              capsys)
    assert not result.get("failed") and result["missing_sites"] == ["site-c"]


def test_connection_refused_is_one_sentence(fed, capsys):
    fx = [f for f in LOGIN_FAILURES if f["case"] == "connection_refused"][0]
    fed.engine.cfg["login_fail"] = {"result": fx["login"], "reply": fx["login_reply"]}
    fed.engine.write()
    result, raw = run_module(fl_admin_console, dict(fed.args, server_host="localhost", server_port=28099,
                                                    commands=["check_status server"]), capsys)
    assert result["failed"] and result["reason"] == "login"
    assert result["msg"] == ("Cannot connect to the FL admin server at localhost:28099 from container "
                             "'clarafl-test-admin' (connection refused): check that the FL server is running and that "
                             "28099 is its admin_port.")
    assert "Traceback" not in raw
    # the kit still names the certificate to expect when only the address is overridden
    assert fed.engine.calls()[0]["server_cn"] == "fl-server.test"


def test_server_cn_override_and_off(fed, capsys):
    run_module(fl_admin_console, dict(fed.args, server_cn="fl.example.org"), capsys)
    run_module(fl_admin_console, dict(fed.args, server_cn=""), capsys)
    inits = [c for c in fed.engine.calls() if c["call"] == "init"]
    assert [i["server_cn"] for i in inits] == ["fl.example.org", None]


def test_no_commands_only_logs_in(fed, capsys):
    result, _raw = run_module(fl_admin_console, dict(fed.args), capsys)
    assert not result.get("failed") and result["changed"] is False and result["results"] == []
    assert [c["call"] for c in fed.engine.calls()] == ["init", "login", "logout"]


def test_container_missing_or_stopped(fed, capsys):
    result, _raw = run_module(fl_admin_console, dict(fed.args, container="nope"), capsys)
    assert result["failed"] and result["reason"] == "container"
    assert result["msg"].startswith("The admin container 'nope' does not exist")
    fed.container.status = "exited"
    result, _raw = run_module(fl_admin_console, dict(fed.args), capsys)
    assert result["msg"] == "The admin container 'clarafl-test-admin' is not running (state: exited): start it first."


def test_kit_without_address(fed, tmp_path, capsys):
    kit = fake_docker.make_kit(str(tmp_path / "bare"), fl_admin_sh=None)
    result, _raw = run_module(fl_admin_console, dict(fed.args, kit_dir=kit), capsys)
    assert result["failed"] and result["reason"] == "kit"
    assert "startup/fl_admin.sh (or fed_admin.json)" in result["msg"] and "does not exist" in result["msg"]
    result, _raw = run_module(fl_admin_console, dict(fed.args, kit_dir=kit, server_host="h", server_port=1), capsys)
    assert not result.get("failed") and result["server"] == {"host": "h", "port": 1, "server_cn": None}


def test_driver_that_does_not_run(fed, capsys):
    fed.container.exec_override = lambda cmd: (126, (None, b'OCI runtime exec failed: exec: "python3": not found'))
    result, _raw = run_module(fl_admin_console, dict(fed.args), capsys)
    assert result["failed"] and result["reason"] == "driver"
    assert "exit code 126" in result["msg"] and "python3" in result["msg"]


def test_timeout(fed, capsys):
    fed.engine.cfg["replies"] = {"check_status client": {"sleep": 5}}
    fed.engine.write()
    result, _raw = run_module(fl_admin_console, dict(fed.args, timeout=0.5, commands=[
        "check_status client", "start server"]), capsys)
    assert result["failed"] and result["reason"] == "timeout"
    assert result["msg"] == ("Admin command 'check_status client' got no reply from the FL server at "
                             "fl-server.test:18003 within 0.5 seconds (timeout); the commands after it were not sent.")
    assert result["results"][0]["timed_out"] is True


def test_bad_arguments(fed, capsys):
    result, _raw = run_module(fl_admin_console, dict(fed.args, timeout=0), capsys)
    assert result["failed"] and "timeout must be a positive number" in result["msg"]
    result, _raw = run_module(fl_admin_console, dict(fed.args, commands=["bye"]), capsys)
    assert result["failed"] and result["reason"] == "bad_command"
    result, _raw = run_module(fl_admin_console, dict(fed.args, server_port=70000), capsys)
    assert result["failed"] and "server_port" in result["msg"]
    assert fed.client_calls == []


def test_docker_sdk_missing(fed, capsys, monkeypatch):
    monkeypatch.setattr(fl_admin_console, "HAS_DOCKER", False)
    result, _raw = run_module(fl_admin_console, dict(fed.args), capsys)
    assert result["failed"] and "docker (the Docker SDK for Python)" in result["msg"]


def test_failed_status_query_fails(fed, capsys):
    fed.engine.cfg["replies"] = {"check_status client": {"time": "t", "status": "SUCCESS", "data": [
        {"type": "error", "data": "Authorization Error: This action is not authorized"}]}}
    fed.engine.write()
    result, _raw = run_module(fl_admin_console, dict(fed.args, status=True), capsys)
    assert result["failed"] and result["reason"] == "status"
    assert result["msg"] == ("Reading the status with 'check_status client' from the FL server at fl-server.test:18003 "
                             "failed: Authorization Error: This action is not authorized")


def test_server_shutdown(fed, capsys):
    fed.engine.cfg["replies"] = {"shutdown server": {"time": "t", "status": "SUCCESS", "data": [
        {"type": "string", "data": "FL training has been shutdown."}, {"type": "shutdown", "data": "Bye-bye"}]}}
    fed.engine.write()
    result, _raw = run_module(fl_admin_console, dict(fed.args, status=True, commands=["shutdown server"]), capsys)
    assert not result.get("failed") and result["server_shutdown"] is True and "status" not in result
    assert result["results"][0]["confirm"] == "auth" and result["results"][0]["changed"] is True


@pytest.mark.parametrize("mode", ["fail", "report"])
def test_a_start_that_hangs(fed, capsys, monkeypatch, mode):
    fed.engine.cfg["replies"] = {
        "start client": _string_reply("instance:site-a : Start the client...\ninstance:site-b : No replies\n"),
        "check_status client": _string_reply(
            "instance:site-a : client name: site-a\ttoken: tok-site-a\tstatus: training started\n"
            "instance:site-b : No replies\n"),
    }
    fed.engine.write()
    # The driver waits about 30 s for a late site; a fraction of a second here.
    real = fl_admin_console.build_driver_args
    monkeypatch.setattr(fl_admin_console, "build_driver_args", lambda *a, **k: real(*a, late_start_wait=0.4, **k))
    result, raw = run_module(fl_admin_console, dict(fed.args, commands=["start client"], hung_start=mode), capsys)
    assert "Traceback" not in raw
    if mode == "fail":
        assert result["failed"] is True and "hung_sites" not in result
        assert "site-b: no replies" in result["msg"], result["msg"]
    else:
        assert not result.get("failed"), result
        assert result["hung_sites"] == ["site-b"] and result["changed"] is True


def _training_server(registered, state="training started"):
    rows = [["CLIENT NAME", "TOKEN", "LAST ACCEPTED ROUND", "CONTRIBUTION COUNT"]]
    rows += [[name, "tok-" + name, "2", "3"] for name in registered]
    return {"time": "t", "status": "SUCCESS", "data": [
        {"type": "string", "data": "FL run number:1\nFL server status: %s" % state},
        {"type": "string", "data": "run number:1\tstart round:0\tmax round:5\tcurrent round:3"},
        {"type": "string", "data": "Registered clients: %d " % len(registered)},
        {"type": "table", "rows": rows}]}


def _clients(states):
    return _string_reply("".join(
        ("instance:%s : No replies\n" % site) if state == "No replies" else
        ("instance:%s : client name: %s\ttoken: tok-%s\tstatus: %s\n" % (site, site, site, state))
        for site, state in states.items()))


def _site_b_back_in_a_training(fed, start):
    """The engine trains site-a; site-b answers again, not training, and accepts the deploy and START."""
    fed.engine.cfg["replies"] = {
        "check_status server": _training_server(["site-a", "site-b"]),
        "check_status client": _clients({"site-a": "training started", "site-b": "training not started"}),
        "deploy demo client site-b": _string_reply("instance:site-b : MMAR deployed."),
        start: _string_reply("instance:site-b : Start the client..."),
    }
    fed.engine.write()


def test_rejoin_deploys_and_starts_a_site_back_in_the_running_training(fed, capsys):
    _site_b_back_in_a_training(fed, "start client site-b")
    result, raw = run_module(fl_admin_console, dict(fed.args, rejoin=["site-b"], mmar="demo",
                                                    sites=["site-a", "site-b"]), capsys)
    assert "Traceback" not in raw
    assert not result.get("failed"), result
    assert result["changed"] is True
    assert result["rejoined"] == {"site-b": [
        "answers the server (training not started)",
        "deployed demo to it and started it in the running training (round 3)"]}
    assert [r["command"] for r in result["results"]] == ["deploy demo client site-b", "start client site-b"]
    assert result["status"]["server_status"] == "training started"
    assert [c for c in fed.engine.sent() if not c.startswith("check_status")] == [
        "deploy demo client site-b", "start client site-b"]


def test_rejoin_starts_a_site_on_several_gpus_with_start_mgpu(fed, capsys):
    _site_b_back_in_a_training(fed, "start_mgpu client 2 site-b")
    result, raw = run_module(fl_admin_console, dict(fed.args, rejoin=["site-b"], mmar="demo", sites=["site-a", "site-b"],
                                                    rejoin_gpus={"site-b": "2", "site-a": 4}), capsys)
    assert "Traceback" not in raw and not result.get("failed"), result
    assert [c for c in fed.engine.sent() if not c.startswith("check_status")] == [
        "deploy demo client site-b", "start_mgpu client 2 site-b"]
    # A count that is no whole number is refused before anything is sent.
    calls = len(fed.engine.calls())
    result, raw = run_module(fl_admin_console, dict(fed.args, rejoin=["site-b"], mmar="demo",
                                                    rejoin_gpus={"site-b": "two", "site-a": 0}), capsys)
    assert "Traceback" not in raw and result["failed"]
    assert result["msg"] == ("rejoin_gpus maps each site to its number of GPUs (a whole number, at least 1): "
                             "site-a: 0 is no GPU count; site-b: 'two' is no GPU count")
    assert len(fed.engine.calls()) == calls


def test_rejoin_removes_the_old_registration_and_names_a_site_that_never_answers(fed, capsys):
    fed.engine.cfg["replies"] = {
        "check_status server": _training_server(["site-a", "site-b"]),
        "check_status client": _clients({"site-a": "training started", "site-b": "No replies"}),
    }
    fed.engine.write()
    result, raw = run_module(fl_admin_console, dict(fed.args, rejoin=["site-b"], mmar="demo", wait_timeout=0.5),
                             capsys)
    assert "Traceback" not in raw
    assert result["failed"] is True and result["reason"] == "rejoin"
    assert result["msg"].startswith("Site site-b did not answer the server within 0.5 s after its container was "
                                    "restarted: see its log")
    assert result["rejoined"] == {"site-b": ["removed its old registration", "did not answer the server within 0.5 s"]}
    assert result["changed"] is True
    assert [c for c in fed.engine.sent() if not c.startswith("check_status")] == ["remove_client site-b"]


def test_rejoin_in_check_mode_and_with_nothing_to_do(fed, capsys):
    fed.engine.cfg["replies"] = {
        "check_status server": _training_server(["site-a", "site-b"]),
        "check_status client": _clients({"site-a": "training started", "site-b": "No replies"}),
    }
    fed.engine.write()
    result, _raw = run_module(fl_admin_console, dict(fed.args, rejoin=["site-b"]), capsys, check_mode=True)
    assert not result.get("failed") and result["changed"] is True
    assert result["rejoined"] == {"site-b": ["would remove its old registration",
                                             "would wait until it answers the server"]}
    assert [c for c in fed.engine.sent() if not c.startswith("check_status")] == []
    calls = len(fed.engine.calls())
    result, _raw = run_module(fl_admin_console, dict(fed.args, rejoin=[]), capsys)
    assert not result.get("failed") and result["changed"] is False and result["rejoined"] == {}
    assert len(fed.engine.calls()) == calls and fed.client_calls[-1:] != [] and len(fed.client_calls) == 1


def test_rejoin_refuses_bad_names_and_other_modes(fed, capsys):
    result, _raw = run_module(fl_admin_console, dict(fed.args, rejoin=["site-a site-b"]), capsys)
    assert result["failed"] and "one word each" in result["msg"] and "'site-a site-b'" in result["msg"]
    result, _raw = run_module(fl_admin_console, dict(fed.args, rejoin=["site-c"], sites=["site-a", "site-b"]), capsys)
    assert result["failed"] and result["reason"] == "unknown_site" and "'site-c'" in result["msg"]
    result, _raw = run_module(fl_admin_console, dict(fed.args, rejoin=["site-a"], commands=["start client"]), capsys)
    assert result["failed"] and "mutually exclusive" in result["msg"]
    assert fed.client_calls == []


def test_wait_for_registered_reads_the_status_through_the_same_session(fed, capsys):
    result, raw = run_module(fl_admin_console, dict(fed.args, sites=["site-a", "site-b"], wait_for="registered",
                                                    wait_timeout=5), capsys)
    assert "Traceback" not in raw and not result.get("failed"), result
    assert result["waited"]["done"] is True and result["waited"]["missing_sites"] == []
    assert sorted(result["status"]["clients"]) == ["site-a", "site-b"]
    assert result["server"] == {"host": "fl-server.test", "port": 18003, "server_cn": "fl-server.test"}
    assert fed.client_calls == [(None, ac.http_timeout_for(0, 60) + 60 + 60)]
    result, _raw = run_module(fl_admin_console, dict(fed.args, sites=["site-a", "site-c"], wait_for="registered",
                                                     wait_timeout=0.5), capsys)
    assert not result.get("failed") and result["waited"]["timed_out"] is True
    assert result["waited"]["missing_sites"] == ["site-c"]
