# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plain admin driver (module_utils/_admin_driver.py) run in this Python against a fake AdminAPI: it logs in,
checks the verbs and the sites before sending anything, sends in order, stops at the first error as the dialect
classifies it, and never waits or sends anything again of its own. Its run in the admin container (the BOOT program,
main's one result line) is tested through the console in test_admin_console.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import time

import pytest

from ansible_collections.clarafl.federation.plugins.module_utils import _admin_driver as driver
from ansible_collections.clarafl.federation.plugins.module_utils import _dialect_clara40 as dialect

FIX = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "fixtures", "admin")
with open(os.path.join(FIX, "clara-4.0-login-failures.json")) as _fh:
    LOGIN_FAILURES = json.load(_fh)

SERVER_CMDS = {"check_status": "none", "set_run_number": "none", "deploy": "none", "start": "none", "abort": "none",
               "shutdown": "auth", "remove_client": "auth", "start_mgpu": "none", "ls": "none", "tail": "none"}
CLIENT_CMDS = {"upload_folder": "none", "info": "none"}


def _string_reply(text):
    return {"time": "t", "status": "SUCCESS", "data": [{"type": "string", "data": text}]}


class _Entry(object):
    def __init__(self, confirm):
        self.confirm = confirm


class _Register(object):
    def __init__(self, commands, scope):
        self.cmd_map = {}
        for name, confirm in commands.items():
            self.cmd_map[name] = self.cmd_map[scope + "." + name] = [_Entry(confirm)]


class FakeAPI(object):
    """AdminAPI's surface the driver uses. REPLIES: {command: reply | callable(api) -> reply}; a command not listed
    answers "OK" (check_status server and client answer for REGISTERED)."""

    def __init__(self, registered=("site-a", "site-b"), replies=None, login=None, login_sleep=0):
        self.registered = list(registered)
        self.replies = dict(replies or {})
        self.login_result = login
        self.login_sleep = login_sleep
        self.calls = []
        self.command_result = None
        self.iobuffer = None
        self.server_cmd_reg = _Register(SERVER_CMDS, "training")
        self.client_cmd_reg = _Register(CLIENT_CMDS, "file_transfer")

    def sent(self):
        return [c[1] for c in self.calls if c[0] == "do_command"]

    def login(self, username):
        self.calls.append(("login", username))
        time.sleep(self.login_sleep)
        if self.login_result:
            self.command_result = self.login_result["reply"]
            return self.login_result["result"]
        return {"status": "SUCCESS", "details": "Login success"}

    def do_command(self, command):
        self.calls.append(("do_command", command))
        if command in self.replies:
            reply = self.replies[command]
            return reply(self) if callable(reply) else reply
        if command == "check_status server":
            rows = [["CLIENT NAME", "TOKEN", "LAST ACCEPTED ROUND", "CONTRIBUTION COUNT"]]
            rows += [[name, "tok-" + name, "", "0"] for name in self.registered]
            return {"time": "t", "status": "SUCCESS", "data": [
                {"type": "string", "data": "FL run number has not been set.\nFL server status: training not started"},
                {"type": "string", "data": "Registered clients: %d " % len(self.registered)},
                {"type": "table", "rows": rows}]}
        return _string_reply("OK")

    def logout(self):
        self.calls.append(("logout",))


def drive(api, commands, send=None, expected=None, timeout=5.0, login_timeout=None):
    args = {"commands": list(commands), "send": list(send) if send is not None else [True] * len(commands),
            "username": "admin@x", "timeout": timeout, "login_timeout": login_timeout,
            "expected_sites": expected}
    result = {"ok": False, "replies": [], "stage": "start"}
    driver.run(api, args, result, dialect)
    json.dumps(result)  # what the driver prints must be JSON
    return result


def test_commands_go_in_order_on_one_login():
    api = FakeAPI()
    result = drive(api, ["set_run_number 1", "deploy app client", "start client site-a"])
    assert result["ok"] and result["stage"] == "done" and result["registered"] == ["site-a", "site-b"]
    assert [c[0] for c in api.calls] == ["login", "do_command", "do_command", "do_command", "do_command", "logout"]
    assert api.calls[0] == ("login", "admin@x")
    # the registrations are read once, first, because commands name sites or act on every site
    assert api.sent() == ["check_status server", "set_run_number 1", "deploy app client", "start client site-a"]
    assert result["confirm"] == {"set_run_number": "none", "deploy": "none", "start": "none"}
    assert [r["command"] for r in result["replies"]] == ["set_run_number 1", "deploy app client",
                                                         "start client site-a"]
    assert all(isinstance(r["seconds"], float) for r in result["replies"])


def test_commands_without_sites_do_not_read_the_registrations():
    api = FakeAPI()
    assert drive(api, ["set_run_number 1", "check_status client"])["ok"]
    assert api.sent() == ["set_run_number 1", "check_status client"]


def test_it_stops_at_the_first_error_and_sends_nothing_again():
    api = FakeAPI(replies={"deploy app server": _string_reply("MMAR folder 'app' does not exist.")})
    result = drive(api, ["set_run_number 1", "deploy app server", "start server"])
    assert not result["ok"] and result["stage"] == "command" and result["error_kind"] == "reply"
    assert result["failed_index"] == 1 and result["replies"][-1]["error"] == "MMAR folder 'app' does not exist."
    assert api.sent() == ["set_run_number 1", "deploy app server"]
    assert api.calls[-1] == ("logout",)


def test_a_late_site_is_an_error_and_nothing_is_sent_again():
    """A site that answers "No replies" fails the command: the driver neither waits nor resends (the training's
    steps decide that)."""
    late = _string_reply("instance:site-a : Start the client...\ninstance:site-b : No replies\n")
    api = FakeAPI(replies={"start client": late})
    result = drive(api, ["start client", "check_status client"])
    assert result["error_kind"] == "reply" and result["failed_index"] == 0
    assert result["replies"][0]["error"] == "instance:site-b : No replies"
    assert api.sent() == ["check_status server", "start client"]


def test_an_unregistered_site_is_refused_before_anything_is_sent():
    api = FakeAPI()
    result = drive(api, ["set_run_number 3", "start client site-a nosuch"])
    assert result["stage"] == "validate" and result["error_kind"] == "unregistered_site"
    assert result["unregistered"] == [{"index": 1, "command": "start client site-a nosuch", "sites": ["nosuch"]}]
    assert api.sent() == ["check_status server"] and result["replies"] == []


def test_expected_sites_that_are_not_registered():
    api = FakeAPI()
    result = drive(api, ["deploy app client"], expected=["site-a", "site-b", "site-c"])
    assert result["error_kind"] == "expected_site_missing" and result["absent"] == ["site-c"]
    assert result["wide"] == [{"index": 0, "command": "deploy app client"}]
    assert api.sent() == ["check_status server"]
    # a command naming only registered sites still runs, and so does one that only reads
    api = FakeAPI()
    assert drive(api, ["deploy app client site-a", "check_status client"], expected=["site-a", "site-c"])["ok"]
    assert api.sent() == ["check_status server", "deploy app client site-a", "check_status client"]
    # a command for every site that is not sent (check mode) is not refused either
    api = FakeAPI()
    assert drive(api, ["start client"], send=[False], expected=["site-a", "site-c"])["ok"]


def test_a_site_without_its_line_did_not_get_the_command():
    api = FakeAPI(replies={"deploy app client": _string_reply("instance:site-a : MMAR deployed.\n"),
                           "start client site-b": _string_reply("instance:site-b : Start the client...\n"),
                           "abort client site-a": _string_reply("instance:site-b : Aborted the client. \n")})
    result = drive(api, ["deploy app client", "start server"])
    assert result["error_kind"] == "reply" and result["failed_index"] == 0
    assert result["replies"][0]["error"] == "no answer from site site-b (the command did not reach it)"
    assert api.sent() == ["check_status server", "deploy app client"]
    assert drive(api, ["start client site-b"])["ok"]
    result = drive(api, ["abort client site-a"])
    assert result["error_kind"] == "reply" and result["replies"][0]["error"] == (
        "no answer from site site-a (the command did not reach it)")
    # two sites missing are named together; a reply without any site line is judged by its words only
    api = FakeAPI(registered=["a", "b", "c"],
                  replies={"deploy app client": _string_reply("instance:a : MMAR deployed.")})
    assert drive(api, ["deploy app client"])["replies"][0]["error"] == (
        "no answer from sites b, c (the command did not reach them)")
    api = FakeAPI(replies={"start client site-a": _string_reply("")})
    assert drive(api, ["start client site-a"])["ok"]


def test_an_unknown_command_is_refused_before_anything_is_sent():
    api = FakeAPI()
    result = drive(api, ["set_run_number 1", "bogus_command x", "training.start client"])
    assert result["stage"] == "validate" and result["error_kind"] == "unknown_command"
    assert result["unknown"] == [{"index": 1, "command": "bogus_command x"}]
    assert api.sent() == [] and api.calls[-1] == ("logout",)
    # the scoped name the server registers is known
    assert drive(FakeAPI(), ["training.start server"])["ok"]


def test_commands_not_to_send_are_skipped():
    api = FakeAPI()
    result = drive(api, ["set_run_number 1", "check_status client"], send=[False, True])
    assert result["ok"] and result["replies"][0] == {"index": 0, "command": "set_run_number 1", "skipped": True}
    assert api.sent() == ["check_status client"]


def test_a_command_that_times_out_is_abandoned():
    api = FakeAPI(replies={"check_status client": lambda api: time.sleep(3) or _string_reply("late")})
    started = time.time()
    result = drive(api, ["check_status client", "start server"], timeout=0.3)
    assert time.time() - started < 2
    assert result["error_kind"] == "timeout" and result["failed_index"] == 0 and result["replies"][0]["timed_out"]
    assert result["abandon"] is True and api.sent() == ["check_status client"]
    # no logout on a connection that still waits for a reply
    assert ("logout",) not in api.calls


def test_reading_the_registrations_that_times_out_or_is_unreadable():
    api = FakeAPI(replies={"check_status server": lambda api: time.sleep(3) or _string_reply("late")})
    result = drive(api, ["start client"], timeout=0.3)
    assert result["stage"] == "registered" and result["error_kind"] == "timeout" and result["abandon"]
    api = FakeAPI(replies={"check_status server": {"status": "SUCCESS", "data": [
        {"type": "error", "data": "Authorization Error: This action is not authorized"}]}})
    result = drive(api, ["start client"])
    assert result["stage"] == "registered" and result["error_kind"] == "status_failed"
    assert "not authorized" in result["error"] and api.sent() == ["check_status server"]


@pytest.mark.parametrize("case", ["connection_refused", "wrong_username", "wrong_server_cn"])
def test_a_refused_login_sends_nothing(case):
    fx = [f for f in LOGIN_FAILURES if f["case"] == case][0]
    api = FakeAPI(login={"result": fx["login"], "reply": fx["login_reply"]})
    result = drive(api, ["start server"])
    assert result["stage"] == "login" and result["error_kind"] == "login"
    assert result["login"] == fx["login"] and result["login_reply"] == fx["login_reply"]
    assert api.sent() == []


def test_a_login_that_hangs_or_raises():
    api = FakeAPI(login_sleep=2)
    result = drive(api, ["start server"], timeout=0.2, login_timeout=0.3)
    assert result["error_kind"] == "login" and result["timed_out"] is True and api.sent() == []
    # a short per-command timeout does not cut the login short (login_timeout is the floor)
    api = FakeAPI(login_sleep=0.5)
    assert drive(api, ["start server"], timeout=0.1, login_timeout=2)["ok"]

    class Raising(FakeAPI):
        def login(self, username):
            raise OSError("socket exploded")
    result = drive(Raising(), ["start server"])
    assert result["error_kind"] == "login" and result["error"] == "OSError: socket exploded"
    assert "Traceback" in result["trace"] and result["timed_out"] is False


def test_client_side_errors_output_and_exceptions():
    def upload(api):
        api.write_error('"/k/transfer/nothere" is not a valid folder')
        return {"status": "ERROR_RUNTIME", "details": "Client did not respond"}

    def info(api):
        api.iobuffer.write("Local Upload Source: /k/transfer\n")
        return _string_reply("Srv")

    def boom(_api):
        raise RuntimeError("socket exploded")
    api = FakeAPI(replies={"upload_folder nothere": upload, "info": info, "ls server": boom})
    result = drive(api, ["info", "upload_folder nothere"])
    assert result["replies"][0]["output"] == "Local Upload Source: /k/transfer\n"
    assert result["replies"][0]["local_errors"] == []
    assert result["error_kind"] == "reply" and result["replies"][1]["local_errors"] == [
        '"/k/transfer/nothere" is not a valid folder']
    assert result["replies"][1]["error"] == '"/k/transfer/nothere" is not a valid folder\nClient did not respond'
    result = drive(api, ["ls server", "info"])
    assert result["error_kind"] == "exception" and result["replies"][0]["exception"] == "RuntimeError: socket exploded"
    assert "Traceback" in result["replies"][0]["trace"] and api.sent()[-1] == "ls server"


def test_a_server_that_shuts_down():
    bye = {"time": "t", "status": "SUCCESS", "data": [{"type": "string", "data": "FL training has been shutdown."},
                                                      {"type": "shutdown", "data": "Bye-bye"}]}
    api = FakeAPI(replies={"shutdown server": bye})
    result = drive(api, ["shutdown client", "shutdown server"])
    assert result["ok"] and result["server_shutdown"] and result["confirm"]["shutdown"] == "auth"
    assert api.calls[-1][0] == "do_command"  # no logout to a closed port
    result = drive(FakeAPI(replies={"shutdown server": bye}), ["shutdown server", "check_status server"])
    assert result["error_kind"] == "after_shutdown" and result["failed_index"] == 1 and result["shutdown_index"] == 0
    # a command after it that is not sent is no failure
    assert drive(FakeAPI(replies={"shutdown server": bye}), ["shutdown server", "start server"],
                 send=[True, False])["ok"]


def test_noop_is_kept_per_reply():
    idle = _string_reply("instance:site-a : Client training has not started.\ninstance:site-b : Client training has "
                         "not started.\n")
    result = drive(FakeAPI(replies={"abort client": idle}), ["abort client"])
    assert result["ok"] and result["replies"][0]["noop"] is True


def test_call_runs_a_function_with_a_deadline():
    assert driver.call(lambda: 3, 1) == {"value": 3}
    out = driver.call(lambda: 1 / 0, 1)
    assert out["exception"] == "ZeroDivisionError: division by zero" and "Traceback" in out["trace"]
    assert driver.call(lambda: time.sleep(2), 0.1) == {"timed_out": True}


def test_connect_reports_what_is_missing(tmp_path):
    kit = tmp_path / "kit"
    args = {"ca_cert": str(kit / "rootCA.pem"), "client_cert": str(kit / "client.crt"),
            "client_key": str(kit / "client.key"), "upload_dir": str(tmp_path / "t"),
            "download_dir": str(tmp_path / "t")}
    result = {}
    assert driver.connect(args, result) is None
    assert result["stage"] == "kit" and result["error_kind"] == "kit_missing" and len(result["missing"]) == 3
    kit.mkdir()
    for name in ("rootCA.pem", "client.crt", "client.key"):
        (kit / name).write_text(u"not a real PEM\n")
    (tmp_path / "file").write_text(u"x")
    result = {}
    assert driver.connect(dict(args, upload_dir=str(tmp_path / "file" / "t")), result) is None
    assert result["error_kind"] == "transfer_dir" and result["cert_cn"] is None
    result = {}
    assert driver.connect(args, result) is None  # this Python has no dlmed
    assert result["error_kind"] == "engine_missing" and "dlmed" in result["error"] and result["python"]
    assert os.path.isdir(str(tmp_path / "t"))
