# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one console connection (module_utils/_admin_console.py): the commands' checks, the kit's address, the
driver's output, the per-command results and every failure sentence; and the whole path through Docker's exec_run,
with a fake container whose exec runs the real BOOT program, dialect and driver with this machine's Python against
the fake AdminAPI (fixtures/admin/fake_admin_api.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import sys

import pytest

from ansible_collections.clarafl.federation.plugins.module_utils import _admin_console as ac
from ansible_collections.clarafl.federation.plugins.module_utils import _admin_driver, docker_sdk

FIX = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "fixtures", "admin")
if FIX not in sys.path:
    sys.path.insert(0, FIX)
import fake_docker  # noqa: E402  pylint: disable=wrong-import-position
from fake_engine import console_params  # noqa: E402  pylint: disable=wrong-import-position


def _read(name):
    with open(os.path.join(FIX, name)) as fh:
        return fh.read()


LOGIN_FAILURES = json.loads(_read("clara-4.0-login-failures.json"))


def _string_reply(text):
    return {"time": "t", "status": "SUCCESS", "data": [{"type": "string", "data": text}]}


def _console(**params):
    console = ac.Console(console_params(container="adm", kit_dir="/k", **params))
    console.server = {"host": "h", "port": 1, "server_cn": None}
    return console


# --------------------------------------------------------------------------- the commands and the options

def test_check_commands_normalizes_and_keeps_order():
    assert ac.check_commands(["  set_run_number 1 ", "start   client\ta"]) == ["set_run_number 1", "start client a"]
    assert ac.check_commands([]) == [] and ac.check_commands(None) == []


@pytest.mark.parametrize("commands, words", [
    ([""], "commands[0] must be an admin command, got ''"),
    (["check_status server", "   "], "commands[1] must be an admin command"),
    ([None], "commands[0] must be an admin command, got None"),
    (["start server\nstart client"], "holds a line break; give one admin command per list item"),
    (["bye"], "only exists in the interactive console"),
    (["help"], "only exists in the interactive console"),
    (["?"], "only exists in the interactive console"),
    (["_cert_login admin@x"], "internal to the admin protocol"),
    (['grep server "unterminated'], "cannot be parsed"),
])
def test_check_commands_refuses(commands, words):
    with pytest.raises(ac.ConsoleError) as err:
        ac.check_commands(commands)
    assert words in str(err.value) and err.value.kind == "bad_command"


def test_check_commands_against_the_expected_sites():
    assert ac.check_commands(["start client a", "ls server"], ["a", "b"]) == ["start client a", "ls server"]
    with pytest.raises(ac.ConsoleError) as err:
        ac.check_commands(["set_run_number 1", "deploy app client a orgX"], ["a", "b"])
    assert err.value.kind == "unknown_site" and err.value.details["sites"] == ["orgX"]
    assert str(err.value) == ("Admin command 'deploy app client a orgX' names site 'orgX', which is not among the "
                              "expected sites (a, b); nothing was sent")
    with pytest.raises(ac.ConsoleError) as err:
        ac.check_commands(["tail x -n 5 log.txt", "validate y z"], [])
    assert str(err.value).endswith("names site 'x', which is not among the expected sites (none); nothing was sent")


def test_check_options():
    params = console_params()
    assert ac.check_options(params) == []
    assert ac.check_options(dict(params, timeout=0, server_port=70000, username=" ")) == [
        "timeout must be a positive number of seconds, got 0",
        "server_port must be a TCP port (1-65535), got 70000",
        "username must be the admin's e-mail address, got an empty string"]


# --------------------------------------------------------------------------- the kit

def test_admin_endpoint_from_the_real_kit_script():
    assert ac.parse_admin_endpoint(_read("fl_admin.sh")) == ("localhost", 28003)


def test_admin_endpoint_variants():
    assert ac.parse_admin_endpoint("python3 -m dlmed.hci.tools.admin --host=fl.example.org --port=8003") == \
        ("fl.example.org", 8003)
    doc = json.dumps({"format_version": 1, "admin": {"host": "fl.example.org", "port": 8003}})
    assert ac.parse_admin_endpoint(None, doc) == ("fl.example.org", 8003)
    doc = json.dumps({"admin": {"server_identity": "fl2.example.org", "port": "8103"}})
    assert ac.parse_admin_endpoint("echo --host only.example", doc) == ("only.example", 8103)
    assert ac.parse_admin_endpoint("echo nothing", "not json") == (None, None)
    assert ac.parse_admin_endpoint(None, '["a list"]') == (None, None)
    assert ac.parse_admin_endpoint(None, None) == (None, None)


# --------------------------------------------------------------------------- the driver's output and the results

def test_parse_driver_output():
    line = _admin_driver.MARKER + json.dumps({"ok": True, "replies": []})
    assert ac.parse_driver_output(("noise\n" + line + "\n").encode(), b"") == {"ok": True, "replies": []}
    with pytest.raises(ac.ConsoleError) as err:
        ac.parse_driver_output(b"", b'OCI runtime exec failed: exec: "python3": executable file not found', 126)
    assert err.value.kind == "driver" and "exit code 126" in str(err.value) and "python3" in str(err.value)
    with pytest.raises(ac.ConsoleError) as err:
        ac.parse_driver_output((_admin_driver.MARKER + "{not json").encode())
    assert err.value.kind == "driver" and "not JSON" in str(err.value)
    with pytest.raises(ac.ConsoleError) as err:
        ac.parse_driver_output(b"only noise", None, 0)
    assert str(err.value) == "The admin driver did not produce a result (exit code 0): only noise"


def test_results_of_the_replies():
    driver = {"confirm": {"shutdown": "auth", "abort": "none"}, "replies": [
        {"command": "abort client", "reply": _string_reply("instance:a : Client training already stopped.\n"),
         "seconds": 0.2, "noop": True},
        {"command": "shutdown client", "reply": _string_reply("instance: : Shutdown the client...\n")},
        {"command": "set_run_number 2", "skipped": True},
        {"command": "check_status client", "reply": _string_reply(""), "timed_out": True},
        {"command": "ls server", "exception": "RuntimeError: x"},
        {"command": "check_status server", "reply": _string_reply("FL run number:1")},
    ]}
    res = _console().results(driver)
    assert res[0]["ok"] and not res[0]["changed"] and res[0]["confirm"] == "none" and res[0]["seconds"] == 0.2
    assert res[0]["instances"] == [{"site": "a", "message": "Client training already stopped."}]
    assert res[1]["ok"] and res[1]["changed"] and res[1]["confirm"] == "auth"
    assert res[2] == {"command": "set_run_number 2", "ok": None, "skipped": True, "text": "", "reply": None,
                      "changed": False}
    assert res[3]["ok"] is False and res[3]["timed_out"] and res[3]["error"] == "timed out" and not res[3]["changed"]
    assert res[4]["ok"] is False and res[4]["error"] == "RuntimeError: x"
    assert res[5] == {"command": "check_status server", "ok": True, "reply": _string_reply("FL run number:1"),
                      "text": "FL run number:1", "changed": False}


# --------------------------------------------------------------------------- messages

@pytest.mark.parametrize("case, words", [
    ("connection_refused", ["localhost:28099", "connection refused", "check that the FL server is running",
                            "28099 is its admin_port"]),
    ("wrong_server_cn", ["certificate for 'localhost', not 'wrong.example'", "server_cn"]),
    ("wrong_username", ["rejected the login as 'nobody@test.local'", "issued to 'admin@test.local'"]),
    ("fed_learn_port", ["localhost:28002", "connection was dropped", "not the fed_learn_port"]),
    ("unresolvable_host", ["nonexistent.invalid:28003", "does not resolve"]),
])
def test_login_failure_messages_from_real_replies(case, words):
    fx = [f for f in LOGIN_FAILURES if f["case"] == case][0]
    console = ac.Console(console_params(container="adm", username=fx["username"]))
    console.server = {"host": fx["host"], "port": fx["port"], "server_cn": fx["server_cn"]}
    result = {"ok": False, "error_kind": "login", "login": fx["login"], "login_reply": fx["login_reply"],
              "cert_cn": "admin@test.local"}
    msg = console.failure(result, [])
    for w in words:
        assert w in msg, msg
    assert "Traceback" not in msg and msg.count("\n") == 0 and msg.endswith(".")


def test_login_failure_without_os_reason():
    """The engine's other wording ('... on P' and nothing more): TLS connected, no admin reply (seen on the
    fed_learn port)."""
    console = _console()
    console.server = {"host": "localhost", "port": 28002, "server_cn": None}
    reply = {"time": "t", "data": [{"type": "error",
                                    "data": "Failed to communicate with Admin Server localhost on 28002"}]}
    result = {"error_kind": "login", "login": {"status": "ERROR_RUNTIME", "details": "Communication Error - please "
                                                                                     "try later. Login failed"},
              "login_reply": reply}
    assert console.failure(result, []) == (
        "Cannot connect to the FL admin server at localhost:28002 from container 'adm' (the connection opened but no "
        "admin reply came back): check that 28002 is the admin_port and not the fed_learn_port.")


def test_login_failures_of_other_kinds():
    console = _console()
    assert console.failure({"error_kind": "login", "timed_out": True}, []) == (
        "Cannot log in to the FL admin server at h:1 from container 'adm': no answer within the timeout; check that "
        "the FL server is running and 1 is its admin_port.")
    assert console.failure({"error_kind": "login", "error": "OSError: boom"}, []) == (
        "Login to the FL admin server at h:1 failed: OSError: boom.")
    assert console.failure({"error_kind": "login", "login": {"status": "ERROR_X", "details": "odd"}}, []) == (
        "Login to the FL admin server at h:1 failed: odd.")
    assert console.failure({"error_kind": "login"}, []).endswith("failed: no details from the admin API.")


@pytest.mark.parametrize("text, reason", [
    ("Failed to communicate with Admin Server h on 1: [Errno 111] Connection refused", "connection refused"),
    ("Failed to communicate with Admin Server h on 1: timed out", "no answer, timed out"),
    ("Failed to communicate with Admin Server h on 1: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed",
     "TLS certificate check failed"),
    ("Failed to communicate with Admin Server h on 1: [Errno 113] No route to host", "no route to host"),
    ("Failed to communicate with Admin Server h on 1: [Errno 99] strange", "[Errno 99] strange"),
])
def test_os_reasons(text, reason):
    assert ac.os_reason(text)[0] == reason


def test_failure_messages():
    console = _console()
    cmds = ["set_run_number 1", "deploy app server", "start server"]
    msg = console.failure(dict(error_kind="reply", failed_index=1, replies=[
        {"command": cmds[0]}, {"command": cmds[1], "reply": _string_reply("MMAR folder 'app' does not exist."),
                               "error": "MMAR folder 'app' does not exist."}]), cmds)
    assert msg == ("Admin command 'deploy app server' failed: MMAR folder 'app' does not exist.\n"
                   "(ran before it: set_run_number 1)\n(not sent: start server)")
    msg = console.failure(dict(error_kind="reply", failed_index=0, replies=[
        {"command": "deploy app client", "reply": _string_reply("instance:site-a : MMAR deployed.\n"),
         "error": "no answer from site site-b (the command did not reach it)"}]), ["deploy app client", "start server"])
    assert msg == ("Admin command 'deploy app client' failed: instance:site-a : MMAR deployed.\n"
                   "no answer from site site-b (the command did not reach it)\n(not sent: start server)")
    msg = console.failure(dict(error_kind="exception", failed_index=0, replies=[
        {"command": "ls server", "exception": "RuntimeError: socket exploded"}]), ["ls server"])
    assert msg == "Admin command 'ls server' failed: RuntimeError: socket exploded"
    msg = console.failure(dict(error_kind="unregistered_site", registered=["a", "b"], unregistered=[
        {"index": 2, "command": "start client zz", "sites": ["zz"]}]), cmds)
    assert msg == ("Admin command 'start client zz' names site 'zz', which is not registered with the FL server at h:1 "
                   "(registered: a, b); nothing was sent.")
    msg = console.failure(dict(error_kind="expected_site_missing", registered=["a"], absent=["b"],
                               wide=[{"index": 0, "command": "start client"}]), cmds)
    assert msg == ("Admin command 'start client' acts on every registered client, but expected site 'b', which is not "
                   "registered with the FL server at h:1 (registered: a); nothing was sent. Wait until every site is "
                   "registered.")
    msg = console.failure(dict(error_kind="timeout", failed_index=2, timeout_used=0.5), cmds)
    assert msg == ("Admin command 'start server' got no reply from the FL server at h:1 within 0.5 seconds (timeout); "
                   "the commands after it were not sent.")
    msg = console.failure(dict(error_kind="timeout", stage="registered", command="check_status server",
                               timeout_used=2), cmds)
    assert msg.startswith("Admin command 'check_status server' got no reply from the FL server at h:1 within 2 seconds")
    msg = console.failure(dict(error_kind="status_failed", error="x"), cmds)
    assert msg == "Reading the registered clients with 'check_status server' at h:1 failed: x"
    msg = console.failure(dict(error_kind="unknown_command", unknown=[{"index": 0, "command": "bogus x"}]), cmds)
    assert msg == ("The FL server at h:1 does not know the admin command 'bogus x'; nothing was sent. Available "
                   "commands are listed by the console's '?'.")
    msg = console.failure(dict(error_kind="kit_missing", missing=["/k/startup/client.key"]), cmds)
    assert msg == ("The admin kit in container 'adm' is incomplete: /k/startup/client.key missing; kit_dir (/k) "
                   "must be the extracted admin startup kit (it holds startup/rootCA.pem, client.crt, client.key).")
    msg = console.failure(dict(error_kind="transfer_dir", path="/k/transfer", error="Permission denied"), cmds)
    assert msg == "Cannot create the transfer directory /k/transfer in container 'adm': Permission denied."
    msg = console.failure(dict(error_kind="engine_missing", python="3.11.2",
                               error="ModuleNotFoundError: No module named 'dlmed'"), cmds)
    assert "Clara Train image" in msg and "3.11.2" in msg and "No module named 'dlmed'" in msg
    msg = console.failure(dict(error_kind="after_shutdown", failed_index=2, shutdown_index=1),
                          ["shutdown client", "shutdown server", "check_status server"])
    assert msg == ("Admin command 'check_status server' was not sent: the FL server at h:1 shut down after "
                   "'shutdown server' and closed its admin port.")
    msg = console.failure(dict(error_kind="driver", stage="driver", error="ValueError: x"), cmds)
    assert msg == "Driving the FL admin console at h:1 failed at stage driver: ValueError: x"


# --------------------------------------------------------------------------- the whole path, through exec_run

@pytest.fixture
def fed(tmp_path, monkeypatch):
    """A fake federation: the fake AdminAPI's config, the kit, the container, the Docker client the console gets."""
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

    monkeypatch.setattr(ac, "connect", fake_connect)
    f.console = lambda **p: ac.Console(console_params(**dict(dict(container="clarafl-test-admin", kit_dir=f.kit), **p)))
    return f


def test_commands_run_in_the_container_on_one_login(fed):
    console = fed.console()
    results, result = console.run(["set_run_number 1", "deploy app client", "start client site-a"])
    assert result["ok"] and result["stage"] == "done" and result["registered"] == ["site-a", "site-b"]
    assert [r["command"] for r in results] == ["set_run_number 1", "deploy app client", "start client site-a"]
    assert [r["changed"] for r in results] == [True, True, True]
    calls = fed.engine.calls()
    assert [c["call"] for c in calls] == ["init", "login", "do_command", "do_command", "do_command", "do_command",
                                          "logout"]
    init = calls[0]
    assert (init["host"], init["port"], init["server_cn"]) == ("fl-server.test", 18003, "fl-server.test")
    assert init["upload_dir"] == fed.kit + "/transfer" and os.path.isdir(fed.kit + "/transfer")
    assert init["ca_cert"] == fed.kit + "/startup/rootCA.pem"
    assert fed.engine.sent() == ["check_status server", "set_run_number 1", "deploy app client", "start client site-a"]
    assert console.server == {"host": "fl-server.test", "port": 18003, "server_cn": "fl-server.test"}
    # the dialect and the driver travel as their sources, loaded by BOOT; one docker client per console
    argv = fed.container.exec_calls[0]["cmd"]
    assert argv[:3] == ["python3", "-c", ac.BOOT] and "def classify" in argv[3] and "def run(" in argv[4]
    assert json.loads(argv[5])["commands"] == ["set_run_number 1", "deploy app client", "start client site-a"]
    assert fed.container.exec_calls[0]["environment"]["PYTHONIOENCODING"] == "utf-8"
    console.run(["check_status server"])
    assert len(fed.client_calls) == 1


def test_status_and_read_on_one_login_each(fed):
    console = fed.console()
    status = console.status()
    assert status["run_number"] is None and status["server_status"] == "training not started"
    assert status["clients"]["site-b"] == {"token": "tok-site-b", "status": "training not started"}
    assert fed.engine.sent() == ["check_status server", "check_status client"]
    fed.engine.cfg["replies"] = {"tail server -n 5 log.txt": _string_reply("Traceback (most recent call last)\n"),
                                 "tail site-a -n 5 log.txt": _string_reply("2026 - x - ERROR - a log line"),
                                 "tail site-b -n 5 log.txt": _string_reply("Error: invalid client: site-b")}
    fed.engine.write()
    commands = ["tail server -n 5 log.txt", "tail site-a -n 5 log.txt", "tail site-b -n 5 log.txt", "ls server"]
    # file content that looks like an error counts; the engine refusing a command ends the login
    assert console.read(commands) == {"tail server -n 5 log.txt": "Traceback (most recent call last)",
                                      "tail site-a -n 5 log.txt": "2026 - x - ERROR - a log line",
                                      "tail site-b -n 5 log.txt": "Error: invalid client: site-b"}
    assert console.read(commands, errors=False) == {"tail server -n 5 log.txt": "Traceback (most recent call last)",
                                                    "tail site-a -n 5 log.txt": "2026 - x - ERROR - a log line"}
    assert "ls server" not in fed.engine.sent()
    # a failure to connect is not swallowed
    fed.container.status = "exited"
    with pytest.raises(ac.ConsoleError):
        fed.console().read(["ls server"])


def test_check_mode_sends_only_what_reads(fed):
    results, _result = fed.console().run(["set_run_number 2", "check_status client", "start client site-a"],
                                         check_mode=True)
    assert [r.get("skipped", False) for r in results] == [True, False, True]
    assert fed.engine.sent() == ["check_status server", "check_status client"]


def test_an_error_reply_raises_with_the_results(fed):
    fed.engine.cfg["replies"] = {
        "deploy nonexistent server": _string_reply("MMAR folder 'nonexistent' does not exist.")}
    fed.engine.write()
    with pytest.raises(ac.ConsoleError) as err:
        fed.console().run(["set_run_number 1", "deploy nonexistent server", "start server"])
    assert err.value.kind == "reply"
    assert str(err.value) == ("Admin command 'deploy nonexistent server' failed: MMAR folder 'nonexistent' does not "
                              "exist.\n(ran before it: set_run_number 1)\n(not sent: start server)")
    assert [r["ok"] for r in err.value.details["results"]] == [True, False]
    assert err.value.details["result"]["failed_index"] == 1
    assert fed.engine.sent() == ["set_run_number 1", "deploy nonexistent server"]


def test_a_timeout_is_the_command_s(fed):
    fed.engine.cfg["replies"] = {"check_status client": {"sleep": 5}}
    fed.engine.write()
    with pytest.raises(ac.ConsoleError) as err:
        fed.console(timeout=0.5).run(["check_status client", "start server"])
    assert err.value.kind == "timeout"
    assert str(err.value) == ("Admin command 'check_status client' got no reply from the FL server at "
                              "fl-server.test:18003 within 0.5 seconds (timeout); the commands after it were not sent.")
    assert err.value.details["results"][0]["timed_out"] is True
    # run's own timeout wins over the option
    fed.engine.cfg["replies"] = {"check_status client": {"sleep": 1}}
    fed.engine.write()
    fed.console(timeout=0.2).run(["check_status client"], timeout=5)


def test_a_refused_login_is_one_sentence(fed):
    fx = [f for f in LOGIN_FAILURES if f["case"] == "connection_refused"][0]
    fed.engine.cfg["login_fail"] = {"result": fx["login"], "reply": fx["login_reply"]}
    fed.engine.write()
    with pytest.raises(ac.ConsoleError) as err:
        fed.console(server_host="localhost", server_port=28099).run(["check_status server"])
    assert err.value.kind == "login"
    assert str(err.value) == ("Cannot connect to the FL admin server at localhost:28099 from container "
                              "'clarafl-test-admin' (connection refused): check that the FL server is running and that "
                              "28099 is its admin_port.")
    # the kit still names the certificate to expect when only the address is overridden
    assert fed.engine.calls()[0]["server_cn"] == "fl-server.test"


def test_a_login_that_takes_longer_than_a_command_may(fed):
    fed.engine.cfg["login_sleep"] = 1
    fed.engine.write()
    assert fed.console(timeout=0.2).run(["check_status server"])[1]["ok"]


def test_server_cn_override_and_off(fed):
    fed.console(server_cn="fl.example.org").run([])
    fed.console(server_cn="").run([])
    inits = [c for c in fed.engine.calls() if c["call"] == "init"]
    assert [i["server_cn"] for i in inits] == ["fl.example.org", None]
    assert [c["call"] for c in fed.engine.calls()][-3:] == ["init", "login", "logout"]


def test_the_container_missing_or_stopped(fed):
    with pytest.raises(ac.ConsoleError) as err:
        fed.console(container="nope").run([])
    assert err.value.kind == "container" and str(err.value).startswith("The admin container 'nope' does not exist")
    fed.container.status = "exited"
    with pytest.raises(ac.ConsoleError) as err:
        fed.console().run([])
    assert str(err.value) == "The admin container 'clarafl-test-admin' is not running (state: exited): start it first."


def test_a_kit_without_the_address(fed, tmp_path):
    kit = fake_docker.make_kit(str(tmp_path / "bare"), fl_admin_sh=None)
    with pytest.raises(ac.ConsoleError) as err:
        fed.console(kit_dir=kit).run([])
    assert err.value.kind == "kit"
    assert "startup/fl_admin.sh (or fed_admin.json)" in str(err.value) and "does not exist" in str(err.value)
    kit2 = fake_docker.make_kit(str(tmp_path / "odd"), fl_admin_sh="echo no address")
    with pytest.raises(ac.ConsoleError, match="names no --host/--port"):
        fed.console(kit_dir=kit2).run([])
    console = fed.console(kit_dir=kit, server_host="h", server_port=1)
    assert console.run([])[1]["ok"] and console.server == {"host": "h", "port": 1, "server_cn": None}


def test_a_kit_without_its_keys_or_an_image_without_the_engine(fed, tmp_path):
    kit = fake_docker.make_kit(str(tmp_path / "nokeys"), with_keys=False)
    with pytest.raises(ac.ConsoleError) as err:
        fed.console(kit_dir=kit).run(["check_status server"])
    assert err.value.kind == "kit_missing" and "startup/client.key" in str(err.value)
    fed.engine.pythonpath = str(tmp_path / "empty")
    with pytest.raises(ac.ConsoleError) as err:
        fed.console().run(["check_status server"])
    assert err.value.kind == "engine_missing" and "dlmed" in str(err.value)
    assert "use the Clara Train image" in str(err.value)


def test_a_driver_that_does_not_run(fed):
    fed.container.exec_override = lambda cmd: (126, (None, b'OCI runtime exec failed: exec: "python3": not found'))
    with pytest.raises(ac.ConsoleError) as err:
        fed.console().run([])
    assert err.value.kind == "driver" and "exit code 126" in str(err.value) and "python3" in str(err.value)

    def broken(_cmd):
        raise IOError("read timed out")
    fed.container.exec_override = broken
    with pytest.raises(ac.ConsoleError) as err:
        fed.console().run([])
    assert err.value.kind == "docker" and str(err.value) == (
        "Running the admin driver in container 'clarafl-test-admin' failed: OSError: read timed out")


def test_the_engine_s_noise_on_stdout_does_not_matter(fed):
    # the fake AdminAPI prints on stdout; the driver moves it to stderr and prints one result line
    _results, result = fed.console().run(["check_status server"])
    assert result["ok"] and result["timeout_used"] == 60.0


def test_a_missing_docker_sdk_is_said_by_the_console(monkeypatch):
    monkeypatch.setattr(docker_sdk, "HAS_DOCKER", False)
    with pytest.raises(ac.ConsoleError) as err:
        ac.Console(console_params()).run([])
    assert err.value.kind == "docker_missing" and "Docker SDK for Python" in str(err.value)


def test_one_dialect_per_engine_release():
    assert sorted(ac.DIALECTS) == ["clara-4.0"] and ac.CONSOLE_ARGS["engine"]["choices"] == ["clara-4.0"]
    assert ac.Console(console_params()).dialect is ac.DIALECTS["clara-4.0"]
