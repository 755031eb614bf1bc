# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""admin_console: command checks, the reply classifier, status parsing (console screen text and
AdminAPI replies captured from the real Clara Train 4.0 engine), messages, and the driver
program itself (run with this Python against a fake AdminAPI)."""

from __future__ import absolute_import, division, print_function

import json
import os
import re
import sys

import pytest

from ansible_collections.clarafl.federation.plugins.module_utils import admin_console as ac

FIX = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "fixtures", "admin")
sys.path.insert(0, FIX)
import fake_docker  # noqa: E402  pylint: disable=wrong-import-position


def _read(name):
    with open(os.path.join(FIX, name)) as fh:
        return fh.read()


REPLIES = json.loads(_read("clara-4.0-replies.json"))
LOGIN_FAILURES = json.loads(_read("clara-4.0-login-failures.json"))


def _string_reply(text):
    return {"time": "t", "status": "SUCCESS", "data": [{"type": "string", "data": text}]}


# --------------------------------------------------------------------------- commands

@pytest.mark.parametrize("command, sites, all_clients", [
    ("start client", [], True),
    ("start client org1-a org2", ["org1-a", "org2"], False),
    ("start server", [], False),
    ("training.start client x", ["x"], False),
    ("deploy app client", [], True),
    ("deploy app client a b", ["a", "b"], False),
    ("deploy app server", [], False),
    ("check_status client a", ["a"], False),
    ("abort client", [], True),
    ("shutdown client b", ["b"], False),
    ("restart client", [], True),
    ("sys_info client a", ["a"], False),
    ("start_mgpu client 2 a", ["a"], False),
    ("start_mgpu client 2", [], True),
    ("remove_client a b", ["a", "b"], False),
    ("ls server -l", [], False),
    ("ls org1-a -l", ["org1-a"], False),
    ("cat org2 log.txt", ["org2"], False),
    ('grep site-a "some pattern" log.txt', ["site-a"], False),
    ("validate a b", ["a", "b"], False),
    ("validate all", [], False),
    ("eval_rule org2 allow_byoc", ["org2"], False),
    ("eval_right admin@x train_all org2", ["org2"], False),
    ("set_run_number 1", [], False),
    ("upload_folder client", [], False),
])
def test_command_sites(command, sites, all_clients):
    assert ac.command_sites(command) == (sites, all_clients)


@pytest.mark.parametrize("command, mutating", [
    ("check_status server", False), ("ls server", False), ("cat site-a log.txt", False), ("info", False),
    ("sys_info client", False), ("taskname", False), ("training.check_status client", False),
    ("set_run_number 1", True), ("upload_folder app", True), ("deploy app server", True), ("start client", True),
    ("abort server", True), ("shutdown client", True), ("restart server", True), ("remove_client a", True),
    ("delete_run_number 1", True), ("set_timeout 10", True), ("download_folder x", True), ("something_new", True),
])
def test_is_mutating(command, mutating):
    assert ac.is_mutating(command) is mutating


def test_validate_commands_normalizes_and_keeps_order():
    assert ac.validate_commands(["  set_run_number 1 ", "start   client\ta"]) == ["set_run_number 1", "start client a"]
    assert ac.validate_commands([]) == [] and ac.validate_commands(None) == []


@pytest.mark.parametrize("commands, words", [
    ([""], "commands[0] is empty"),
    (["check_status server", "   "], "commands[1] is empty"),
    (["start server\nstart client"], "line break"),
    (["bye"], "only exists in the interactive console"),
    (["help"], "only exists in the interactive console"),
    (["_cert_login admin@x"], "internal to the admin protocol"),
    (['grep server "unterminated'], "cannot be parsed"),
])
def test_validate_commands_refuses(commands, words):
    with pytest.raises(ac.AdminConsoleError) as err:
        ac.validate_commands(commands)
    assert words in str(err.value)


def test_validate_commands_expected_sites():
    assert ac.validate_commands(["start client a", "ls server"], ["a", "b"]) == ["start client a", "ls server"]
    with pytest.raises(ac.AdminConsoleError) as err:
        ac.validate_commands(["set_run_number 1", "deploy app client a orgX"], ["a", "b"])
    assert err.value.kind == "unknown_site" and err.value.details["sites"] == ["orgX"]
    assert str(err.value) == ("Admin command 'deploy app client a orgX' names site 'orgX', which is not among the "
                              "expected sites (a, b); nothing was sent")


# --------------------------------------------------------------------------- classifier: captured replies

# (command, a fragment of the reply text or None for "any", expected verdict). Every captured
# reply must match a rule (the first one that matches counts), so a newly captured reply has
# to be reviewed here.
EXPECTED = [
    ("bogus_command", "not found in registry", "error"),
    ("deploy nonexistent server", "Please set a FL run number", "error"),
    ("start client nosuch", "invalid clients", "error"),
    ("check_status client nosuch", "invalid clients", "error"),
    ("check_status client site-a", "training not started", "ok"),
    ("ls server", "startup", "ok"),
    ("ls site-a", "startup", "ok"),
    ("ls server/run_1", "invalid client: server/run_1", "error"),
    ("cat server nofile.txt", "No such file or directory", "error"),
    ("info", "Server Upload Destination", "ok"),
    ("set_run_number 1", "Create a new run folder", "ok"),
    ("set_run_number 2", "Create a new run folder", "ok"),
    ("set_run_number 4", "Create a new run folder", "ok"),
    ("set_run_number 6", "Create a new run folder", "ok"),
    ("set_run_number 7", "Create a new run folder", "ok"),
    ("set_run_number 7", "run number already exist", "ok"),
    ("set_run_number 8", "can not be changed during the FL training", "error"),
    ("set_run_number abc", "need to be an integer", "error"),
    ("upload_folder nothere", "is not a valid folder", "error"),
    ("upload_folder tapp", "Created folder", "ok"),
    ("abort client", "Client training has not started", "noop"),
    ("abort client", "exception_occurred", "error"),
    ("abort client site-a", "Aborted the client", "ok"),
    ("abort server", "Server training has not started", "noop"),
    ("abort server", "exception_occurred", "error"),
    ("start server", "Server mmar does not exist", "error"),
    ("start server", "Server training is starting", "ok"),
    ("start server", "Server already in training", "error"),
    ("sys_info server", "METRICS", "ok"),
    ("check_status", "missing site names", "error"),
    ("deploy", "missing site names", "error"),
    ("validate site-a site-b", "Validate site-a's model", "ok"),
    ("pwd server", "/workspace/server", "ok"),
    ("remove_client nosuch", "invalid clients", "error"),
    ("download_folder nothere", "no such folder", "error"),
    ("taskname", "admtest", "ok"),
    ("start client", "Server training has not started", "error"),
    ("start client", "Client already in training", "error"),
    ("start client", "Start the client", "ok"),
    ("deploy tapp server", "has been deployed", "ok"),
    ("deploy tapp client", "MMAR deployed", "ok"),
    ("check_status server", "Failed to communicate", "error"),
    ("check_status server", "FL server status", "ok"),
    ("check_status client", "exception_occurred", "ok"),
    ("check_status client", "No replies", "ok"),
    ("check_status client", "client name", "ok"),
    ("shutdown client site-b", "exception_occurred", "error"),
    ("shutdown client", "exception_occurred", "error"),
    ("shutdown server", "still active clients", "error"),
    ("shutdown server", "FL training has been shutdown", "ok"),
    ("check_status client site-b", "invalid clients", "error"),
    ("start client site-b", "invalid clients", "error"),
    ("shutdown client site-b", "invalid clients", "error"),
    ("restart client site-a", "Server did not respond", "error"),
    ("delete_run_number 7", "can not be deleted", "error"),
    ("delete_run_number 2", "Delete run folder", "ok"),
]


def _verdict(entry):
    v = ac.classify_reply(entry["command"], entry["reply"], entry.get("local_errors"))
    return "error" if not v["ok"] else ("noop" if v["noop"] else "ok")


@pytest.mark.parametrize("entry", REPLIES, ids=["%02d:%s" % (i, e["command"]) for i, e in enumerate(REPLIES)])
def test_captured_reply_verdicts(entry):
    text = ac.reply_text(entry["reply"], entry.get("output"), entry.get("local_errors"))
    rules = [r for r in EXPECTED if r[0] == entry["command"] and (r[1] is None or r[1] in text)]
    assert rules, "review this captured reply and add an EXPECTED rule: %r %r" % (
        entry["command"], text)
    assert _verdict(entry) == rules[0][2], text


def test_driver_classifier_agrees_with_module_utils():
    """The driver carries its own copy of the classifier (it must decide to stop in the
    container); it must agree with classify_reply on every captured reply and more."""
    ns = {"__name__": "driver_under_test"}
    exec(compile(ac.driver_source(), "<driver>", "exec"), ns)  # pylint: disable=exec-used
    cases = [(e["command"], e["reply"], e.get("local_errors")) for e in REPLIES]
    cases += [("start client", _string_reply(t), None) for t in ("Error: x", "ok", "Please deploy it", "")]
    cases += [("cat server log.txt", _string_reply("an error: line of a log"), None),
              ("check_status client", _string_reply("instance:a : No replies\n"), None),
              ("upload_folder x", None, ["boom"]), ("info", {"status": "ERROR_RUNTIME", "details": "x"}, None)]
    for command, reply, errs in cases:
        ours = ac.classify_reply(command, reply, errs)
        theirs = ns["_reply_error"](ac.command_verb(command), reply, errs, ac.ERROR_RULES, sorted(ac.SHELL_VERBS))
        assert (theirs is None) is ours["ok"], (command, reply, theirs, ours)
        if theirs is not None:
            assert theirs == ours["error"]


@pytest.mark.parametrize("command, text, ok", [
    ("cat server log.txt", "2026 - ERROR - something failed: no such file x", True),  # file content
    ("grep server error log.txt", "Error: in a log line", False),
    ("head site-a x", "head: cannot open 'x' for reading: No such file or directory", False),
    ("tail site-a log.txt", "line 1\nwe have no such file handling here", True),
    ("head site-a x", "head: x: No such file or directory", False),
    ("ls site-a nothere", "ls: cannot access 'nothere': No such file or directory", False),
    ("tail server ../x", ".. in path name is not allowed", False),
    ("env server", "PATH=/usr/bin\nERRORLEVEL=3", True),
    ("deploy app client", "instance:a : MMAR deployed.\ninstance:b : Client mmar does not exist. Please deploy it", False),
    ("start client", "instance:a : Client mmar does not exist. Please deploy it before start client.", False),
    ("start client a", "", True),
    ("start server", "Server training is starting, please wait for started before abort.", False),
    ("set_timeout 10", "admin command timeout has been set to: 10.0", True),
    ("eval_right u r s", "Authorization Error: This action is not authorized", False),
    ("set_run_number 1", "Create a new run folder: run_1", True),
])
def test_classifier_sentences(command, text, ok):
    assert ac.classify_reply(command, _string_reply(text))["ok"] is ok


def test_classifier_structures():
    assert ac.classify_reply("start server", None) == {"ok": False, "error": "no reply", "noop": False}
    v = ac.classify_reply("bogus", {"status": "ERROR_COMMAND_SYNTAX", "details": "ERROR: Command bogus not found"})
    assert not v["ok"] and "not found" in v["error"]
    v = ac.classify_reply("ls server", {"status": "SUCCESS", "data": [{"type": "error", "data": "invalid client: x"}]})
    assert v["error"] == "invalid client: x"
    assert ac.classify_reply("upload_folder x", {"status": "ERROR_RUNTIME", "details": "Client did not respond"},
                             ['"/t/x" is not a valid folder'])["error"].startswith('"/t/x" is not a valid folder')
    # an abort that reports every site idle is a no-op, one that aborted something is a change
    assert ac.classify_reply("abort client", _string_reply("instance:a : Client training already stopped.\n"))["noop"]
    assert not ac.classify_reply("abort client", _string_reply(
        "instance:a : Client training already stopped.\ninstance:b : Aborted the client. \n"))["noop"]


# --------------------------------------------------------------------------- transcripts of the console

def test_transcript_registered_not_started():
    status = ac.status_from_transcript(_read("admin-01-check-status-registered.txt"))
    assert status["run_number"] is None and status["server_status"] == "training not started"
    assert status["registered_count"] == 3
    assert [c["name"] for c in status["registered_clients"]] == ["org2", "org1-a", "org1-b"]
    assert status["registered_clients"][0] == {"name": "org2", "token": "229aa108-bf21-4952-a9f8-ad3a2124a9a4",
                                               "last_accepted_round": None, "contribution_count": 0}
    assert status["clients"]["org1-a"] == {"token": "160b3b6a-699d-44ba-b092-b71ef9d0ddba",
                                           "status": "training not started"}
    assert "start_round" not in status and "submitted_models" not in status


def test_transcript_training():
    status = ac.status_from_transcript(_read("admin-03-check-status-training.txt"))
    assert status == {
        "run_number": 1, "server_status": "training started", "start_round": 0, "max_round": 3, "current_round": 0,
        "min_num_clients": 1, "max_num_clients": 100, "registered_count": 3, "submitted_models": 3,
        "registered_clients": [
            {"name": "org2", "token": "229aa108-bf21-4952-a9f8-ad3a2124a9a4", "last_accepted_round": 0,
             "contribution_count": 1},
            {"name": "org1-a", "token": "160b3b6a-699d-44ba-b092-b71ef9d0ddba", "last_accepted_round": 0,
             "contribution_count": 1},
            {"name": "org1-b", "token": "0d2d5e75-f6a5-4256-8d4c-7e9760fd9a25", "last_accepted_round": 0,
             "contribution_count": 1}],
        "clients": {
            "org2": {"token": "229aa108-bf21-4952-a9f8-ad3a2124a9a4", "status": "training started"},
            "org1-a": {"token": "160b3b6a-699d-44ba-b092-b71ef9d0ddba", "status": "training started"},
            "org1-b": {"token": "0d2d5e75-f6a5-4256-8d4c-7e9760fd9a25", "status": "training started"}},
    }


def test_transcript_finished():
    status = ac.status_from_transcript(_read("admin-04-check-status-finished.txt"))
    assert status["run_number"] == 1 and status["server_status"] == "training stopped"
    assert all(c["contribution_count"] == 0 and c["last_accepted_round"] is None for c in status["registered_clients"])
    assert set(c["status"] for c in status["clients"].values()) == {"training stopped"}


def test_transcript_blocks_and_verdicts():
    blocks = ac.split_console_transcript(_read("admin-02-set-run-upload-deploy-start.txt"))
    commands = ["set_run_number 1", "upload_folder hello-numpy", "deploy hello-numpy server",
                "deploy hello-numpy client", "start server", "start client", "bye"]
    assert blocks[0] == "Create a new run folder: run_1"
    assert blocks[3].splitlines() == ["instance:org1-b : MMAR deployed.", "instance:org1-a : MMAR deployed.",
                                      "instance:org2 : MMAR deployed."]
    for command, block in zip(commands[:-1], blocks):
        assert ac.classify_reply(command, _string_reply(block))["ok"], (command, block)
    assert [i["site"] for i in ac.parse_instances(blocks[5])] == ["org2", "org1-a", "org1-b"]

    blocks = ac.split_console_transcript(_read("admin-06-errors.txt"))
    assert blocks[:3] == ["Undefined server command bogus_command", "MMAR folder 'nonexistent' does not exist.",
                          "Server training is starting...."]
    assert not ac.classify_reply("bogus_command", _string_reply(blocks[0]))["ok"]
    v = ac.classify_reply("deploy nonexistent server", _string_reply(blocks[1]))
    assert v == {"ok": False, "error": "MMAR folder 'nonexistent' does not exist.", "noop": False}
    assert ac.classify_reply("start server", _string_reply(blocks[2]))["ok"]

    blocks = ac.split_console_transcript(_read("admin-05-validate-help-ls.txt"))
    ls_block = [b for b in blocks if b.startswith("audit.log")][0]
    assert ac.classify_reply("ls server", _string_reply(ls_block))["ok"]
    assert "Error: invalid client: server/run_1" in blocks
    assert not ac.classify_reply("ls server/run_1", _string_reply("Error: invalid client: server/run_1"))["ok"]


def test_transcript_abort_shutdown_confirmation():
    blocks = ac.split_console_transcript(_read("admin-07-abort-shutdown.txt"))
    abort_client, abort_server, shutdown_client, shutdown_server = blocks[:4]
    v = ac.classify_reply("abort client", _string_reply(abort_client))
    assert v["ok"] and v["noop"]
    v = ac.classify_reply("abort server", _string_reply(abort_server))
    assert v["ok"] and not v["noop"]  # "FL training has been stopped."
    # the console's "Confirm with User Name: " prompt is not part of the reply
    assert shutdown_client.startswith("instance: : Shutdown the client...")
    assert [i["site"] for i in ac.parse_instances(shutdown_client)] == ["", "", ""]
    assert ac.classify_reply("shutdown client", _string_reply(shutdown_client))["ok"]
    assert shutdown_server.startswith("FL training has been shutdown.")
    assert ac.classify_reply("shutdown server", _string_reply("FL training has been shutdown."))["ok"]
    last = blocks[-1]
    assert last.startswith("Error: Failed to communicate with Admin Server localhost on 8003")
    assert not ac.classify_reply("check_status server", _string_reply(last))["ok"]


# --------------------------------------------------------------------------- status from AdminAPI replies

def _captured(command, fragment):
    for e in REPLIES:
        if e["command"] == command and fragment in json.dumps(e["reply"]):
            return e["reply"]
    raise AssertionError("no captured reply %r with %r" % (command, fragment))


def test_status_from_replies_training():
    server = _captured("check_status server", "training started")
    client = _captured("check_status client", "training started")
    status = ac.parse_status(server, client)
    assert status["server_status"] == "training started" and status["run_number"] in (4, 7)
    assert status["max_round"] == 2 and status["current_round"] == 0 and status["min_num_clients"] == 2
    assert status["submitted_models"] == 0 and status["registered_count"] == 2
    assert sorted(c["name"] for c in status["registered_clients"]) == ["site-a", "site-b"]
    assert status["clients"]["site-a"]["status"] == "training started"


def test_status_from_replies_problems():
    status = ac.parse_status(None, _captured("check_status client", "exception_occurred"))
    assert status["clients"]["site-b"] == {"status": "exception_occurred"}
    assert status["clients"]["site-a"]["status"] in ("training started", "training stopped", "training not started")
    status = ac.parse_status(_captured("check_status server", "Registered clients: 0"),
                             _captured("check_status client", "No replies"))
    assert status["registered_count"] == 0 and status["registered_clients"] == [] and status["clients"] == {}
    assert ac.parse_client_status_reply(_string_reply("site-c : No replies\n")) == {"site-c": {"status": "No replies"}}


def test_reply_text_renders_tables_like_the_console():
    for e in REPLIES:
        if e["command"] == "check_status server" and "FL server status" in json.dumps(e["reply"]):
            text = ac.reply_text(e["reply"])
            assert re.search(r"^\| CLIENT NAME +\| TOKEN +\| LAST ACCEPTED ROUND \| CONTRIBUTION COUNT \|$", text,
                             re.MULTILINE)
            assert ac.parse_server_status_text(text) == ac.parse_server_status_reply(e["reply"])


def test_reply_text_parts():
    assert ac.reply_text({"status": "ERROR_RUNTIME", "details": "Client did not respond"}, "local\n", ["bad"]) == \
        "local\nbad\nClient did not respond"
    assert ac.reply_text({"data": [{"type": "shutdown", "data": "Bye-bye"}, {"type": "dict", "data": {"a": 1}}]}) == \
        'Bye-bye\n{"a": 1}'
    assert ac.reply_text(None) == ""


# --------------------------------------------------------------------------- the kit

def test_admin_endpoint_from_the_real_kit_script():
    assert ac.parse_admin_endpoint(_read("fl_admin.sh")) == ("localhost", 28003)


def test_admin_endpoint_variants():
    assert ac.parse_admin_endpoint("python3 -m dlmed.hci.tools.admin --host=fl.example.org --port=8003") == \
        ("fl.example.org", 8003)
    doc = json.dumps({"format_version": 1, "admin": {"host": "fl.example.org", "port": 8003}})
    assert ac.parse_admin_endpoint(None, doc) == ("fl.example.org", 8003)
    assert ac.parse_admin_endpoint("echo nothing", "not json") == (None, None)
    assert ac.parse_admin_endpoint(None, None) == (None, None)


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
    result = {"ok": False, "error_kind": "login", "login": fx["login"], "login_reply": fx["login_reply"],
              "cert_cn": "admin@test.local"}
    msg = ac.failure_message(result, [], fx["host"], fx["port"], fx["username"], "adm", "/workspace/admin")
    for w in words:
        assert w in msg, msg
    assert "Traceback" not in msg and msg.count("\n") == 0 and msg.endswith(".")


def test_login_failure_without_os_reason():
    """The engine's other wording ('... on P' and nothing more): TLS connected, no admin reply
    (seen on the fed_learn port)."""
    reply = {"time": "t", "data": [{"type": "error", "data": "Failed to communicate with Admin Server localhost on 28002"}]}
    result = {"error_kind": "login", "login": {"status": "ERROR_RUNTIME", "details": "Communication Error - please "
                                                                                     "try later. Login failed"},
              "login_reply": reply}
    msg = ac.failure_message(result, [], "localhost", 28002, "u", "adm", "/k")
    assert msg == ("Cannot connect to the FL admin server at localhost:28002 from container 'adm' (the connection "
                   "opened but no admin reply came back): check that 28002 is the admin_port and not the "
                   "fed_learn_port.")


def test_failure_messages():
    cmds = ["set_run_number 1", "deploy app server", "start server"]
    base = dict(ok=False)
    msg = ac.failure_message(dict(base, error_kind="reply", failed_index=1, results=[
        {"command": cmds[0]}, {"command": cmds[1], "reply": _string_reply("MMAR folder 'app' does not exist.")}]),
        cmds, "h", 1, "u", "c", "/k")
    assert msg == ("Admin command 'deploy app server' failed: MMAR folder 'app' does not exist.\n"
                   "(ran before it: set_run_number 1)\n(not sent: start server)")
    msg = ac.failure_message(dict(base, error_kind="unregistered_site", registered=["a", "b"], unregistered=[
        {"index": 2, "command": "start client zz", "sites": ["zz"]}]), cmds, "h", 1, "u", "c", "/k")
    assert msg == ("Admin command 'start client zz' names site 'zz', which is not registered with the FL server at h:1 "
                   "(registered: a, b); nothing was sent.")
    msg = ac.failure_message(dict(base, error_kind="expected_site_missing", registered=["a"], absent=["b"],
                                  wide=[{"index": 0, "command": "start client"}]), cmds, "h", 1, "u", "c", "/k")
    assert "acts on every registered client" in msg and "'b' is not registered" in msg
    msg = ac.failure_message(dict(base, error_kind="timeout", failed_index=2, timeout_used=0.5), cmds, "h", 1, "u",
                             "c", "/k")
    assert msg == ("Admin command 'start server' got no reply from the FL server at h:1 within 0.5 seconds (timeout); "
                   "the commands after it were not sent.")
    msg = ac.failure_message(dict(base, error_kind="unknown_command", unknown=[{"index": 0, "command": "bogus x"}]),
                             cmds, "h", 1, "u", "c", "/k")
    assert "does not know the admin command 'bogus x'; nothing was sent" in msg
    msg = ac.failure_message(dict(base, error_kind="kit_missing", missing=["/k/startup/client.key"]), cmds, "h", 1,
                             "u", "c", "/k")
    assert "/k/startup/client.key missing" in msg
    msg = ac.failure_message(dict(base, error_kind="engine_missing", python="3.11.2",
                                  error="ModuleNotFoundError: No module named 'dlmed'"), cmds, "h", 1, "u", "c", "/k")
    assert "Clara Train image" in msg and "3.11.2" in msg
    msg = ac.failure_message(dict(base, error_kind="after_shutdown", failed_index=2, shutdown_index=1),
                             ["shutdown client", "shutdown server", "check_status server"], "h", 1, "u", "c", "/k")
    assert msg == ("Admin command 'check_status server' was not sent: the FL server at h:1 shut down after "
                   "'shutdown server' and closed its admin port.")


def test_parse_driver_output():
    line = ac.RESULT_MARKER + json.dumps({"ok": True, "results": []})
    assert ac.parse_driver_output(("noise\n" + line + "\n").encode(), b"") == {"ok": True, "results": []}
    with pytest.raises(ac.AdminConsoleError) as err:
        ac.parse_driver_output(b"", b'OCI runtime exec failed: exec: "python3": executable file not found', 126)
    assert "exit code 126" in str(err.value) and "python3" in str(err.value)
    with pytest.raises(ac.AdminConsoleError):
        ac.parse_driver_output((ac.RESULT_MARKER + "{not json").encode())


def test_build_results():
    driver = {"confirm": {"shutdown": "auth", "abort": "none"}, "results": [
        {"command": "abort client", "reply": _string_reply("instance:a : Client training already stopped.\n"),
         "seconds": 0.2},
        {"command": "shutdown client", "reply": _string_reply("instance: : Shutdown the client...\n")},
        {"command": "set_run_number 2", "skipped": True},
        {"command": "check_status client", "reply": _string_reply(""), "timed_out": True},
    ]}
    res = ac.build_results(driver, [])
    assert res[0]["ok"] and not res[0]["changed"] and res[0]["confirm"] == "none" and res[0]["seconds"] == 0.2
    assert res[0]["instances"] == [{"site": "a", "message": "Client training already stopped."}]
    assert res[1]["ok"] and res[1]["changed"] and res[1]["confirm"] == "auth"
    assert res[2] == {"command": "set_run_number 2", "ok": None, "skipped": True, "text": "", "reply": None,
                      "changed": False}
    assert res[3]["ok"] is False and res[3]["timed_out"] and res[3]["error"] == "timed out"


def test_build_driver_args():
    args = ac.build_driver_args(["start client a", "deploy x client", "check_status client", "ls b"], "u", "h", "8003",
                                kit_dir="/kit/", status=True, run_mask=[True, False, True, True])
    assert args["port"] == 8003 and args["ca_cert"] == "/kit/startup/rootCA.pem"
    assert args["upload_dir"] == "/kit/transfer" and args["download_dir"] == "/kit/transfer"
    assert args["site_refs"] == [{"index": 0, "sites": ["a"], "all_clients": False, "per_site_reply": True},
                                 {"index": 1, "sites": [], "all_clients": True, "per_site_reply": True},
                                 {"index": 3, "sites": ["b"], "all_clients": False, "per_site_reply": False}]
    assert args["need_registered"] and args["run"] == [True, False, True, True]
    assert not ac.build_driver_args(["set_run_number 1"], "u", "h", 1)["need_registered"]
    assert ac.http_timeout_for(3, 10) == 100 and ac.http_timeout_for(1, 0.5) == 80


# --------------------------------------------------------------------------- the driver, run for real

@pytest.fixture
def engine(tmp_path):
    kit = fake_docker.make_kit(str(tmp_path / "kit"))
    eng = fake_docker.FakeEngine(tmp_path, registered=["site-a", "site-b"])
    eng.kit = kit
    return eng


def _drive(engine, commands, run_mask=None, status=False, expected=None, timeout=20, host="h", port=1, cn="cn",
           login_timeout=ac.LOGIN_TIMEOUT):
    args = ac.build_driver_args(commands, "admin@x", host, port, kit_dir=engine.kit, server_cn=cn, timeout=timeout,
                                status=status, expected_sites=expected, run_mask=run_mask, login_timeout=login_timeout)
    return ac.run_console(fake_docker.FakeContainer(engine), args)


def test_driver_runs_commands_in_order_on_one_login(engine):
    result = _drive(engine, ["set_run_number 1", "deploy app client", "start client site-a"], status=True)
    assert result["ok"] and result["stage"] == "done" and result["registered"] == ["site-a", "site-b"]
    calls = engine.calls()
    assert [c["call"] for c in calls] == ["init", "login", "do_command", "do_command", "do_command", "do_command",
                                          "do_command", "do_command", "logout"]
    assert calls[0]["server_cn"] == "cn" and calls[0]["upload_dir"] == engine.kit + "/transfer"
    assert os.path.isdir(engine.kit + "/transfer")
    assert engine.sent() == ["check_status server", "set_run_number 1", "deploy app client", "start client site-a",
                             "check_status server", "check_status client"]
    assert result["confirm"]["start"] == "none" and set(result["status_replies"]) == {"server", "client"}


def test_driver_stops_at_the_first_error(engine):
    engine.cfg["replies"] = {"deploy app server": _string_reply("MMAR folder 'app' does not exist.")}
    engine.write()
    result = _drive(engine, ["set_run_number 1", "deploy app server", "start server"])
    assert not result["ok"] and result["error_kind"] == "reply" and result["failed_index"] == 1
    assert engine.sent() == ["set_run_number 1", "deploy app server"]
    assert engine.calls()[-1]["call"] == "logout"


def test_driver_refuses_unregistered_site_before_sending_anything(engine):
    result = _drive(engine, ["set_run_number 3", "start client site-a nosuch"])
    assert result["error_kind"] == "unregistered_site"
    assert result["unregistered"] == [{"index": 1, "command": "start client site-a nosuch", "sites": ["nosuch"]}]
    assert engine.sent() == ["check_status server"]


def test_driver_expected_sites_missing(engine):
    result = _drive(engine, ["deploy app client"], expected=["site-a", "site-b", "site-c"])
    assert result["error_kind"] == "expected_site_missing" and result["absent"] == ["site-c"]
    assert engine.sent() == ["check_status server"]
    # a command naming only registered sites still runs
    result = _drive(engine, ["deploy app client site-a"], expected=["site-a", "site-b", "site-c"])
    assert result["ok"] and result["missing_sites"] == ["site-c"]


def test_driver_site_without_its_line_did_not_get_the_command(engine):
    engine.cfg["replies"] = {"deploy app client": _string_reply("instance:site-a : MMAR deployed.\n"),
                             "start client site-b": _string_reply("instance:site-b : Start the client...\n"),
                             "abort client site-a": _string_reply("instance:site-b : Aborted the client. \n")}
    engine.write()
    result = _drive(engine, ["deploy app client", "start server"])
    assert result["error_kind"] == "reply" and result["failed_index"] == 0
    assert result["results"][0]["error"] == "no answer from site site-b (the command did not reach it)"
    assert engine.sent() == ["check_status server", "deploy app client"]
    msg = ac.failure_message(result, ["deploy app client", "start server"], "h", 1, "u", "c", "/k")
    assert msg == ("Admin command 'deploy app client' failed: instance:site-a : MMAR deployed.\n"
                   "no answer from site site-b (the command did not reach it)\n(not sent: start server)")
    res = ac.build_results(result, [])
    assert res[0]["ok"] is False and res[0]["error"].startswith("no answer from site site-b")
    assert _drive(engine, ["start client site-b"])["ok"]
    assert _drive(engine, ["abort client site-a"])["error_kind"] == "reply"


def test_driver_refuses_unknown_command(engine):
    result = _drive(engine, ["set_run_number 1", "bogus_command x"])
    assert result["error_kind"] == "unknown_command"
    assert result["unknown"] == [{"index": 1, "command": "bogus_command x"}]
    assert engine.sent() == []


def test_driver_check_mode_mask(engine):
    result = _drive(engine, ["set_run_number 1", "check_status client"], run_mask=[False, True])
    assert result["ok"] and result["results"][0] == {"index": 0, "command": "set_run_number 1", "skipped": True}
    assert engine.sent() == ["check_status client"]


def test_driver_timeout(engine):
    engine.cfg["replies"] = {"check_status client": {"sleep": 5}}
    engine.write()
    result = _drive(engine, ["check_status client", "start server"], timeout=0.5)
    assert result["error_kind"] == "timeout" and result["failed_index"] == 0 and result["results"][0]["timed_out"]
    assert engine.sent() == ["check_status client"]


def test_driver_login_failures(engine):
    fx = [f for f in LOGIN_FAILURES if f["case"] == "connection_refused"][0]
    engine.cfg["login_fail"] = {"result": fx["login"], "reply": fx["login_reply"]}
    engine.write()
    result = _drive(engine, ["start server"])
    assert result["error_kind"] == "login" and result["login_reply"] == fx["login_reply"]
    engine.cfg.pop("login_fail")
    engine.cfg["login_sleep"] = 3
    engine.write()
    result = _drive(engine, ["start server"], timeout=0.5, login_timeout=0.5)
    assert result["error_kind"] == "login" and result["timed_out"]
    # a short per-command timeout does not cut the login short
    engine.cfg["login_sleep"] = 1
    engine.write()
    assert _drive(engine, ["start server"], timeout=0.2)["ok"]


def test_driver_client_side_errors_and_exceptions(engine):
    engine.cfg["replies"] = {"upload_folder nothere": {"write_error": '"/k/transfer/nothere" is not a valid folder'},
                             "info": {"output": "Local Upload Source: /k/transfer", "reply": _string_reply("Srv")},
                             "ls server": {"raise": "socket exploded"}}
    engine.write()
    result = _drive(engine, ["info", "upload_folder nothere"])
    assert result["results"][0]["output"] == "Local Upload Source: /k/transfer\n"
    assert result["error_kind"] == "reply" and result["results"][1]["local_errors"] == [
        '"/k/transfer/nothere" is not a valid folder']
    result = _drive(engine, ["ls server"])
    assert result["error_kind"] == "exception" and "socket exploded" in result["results"][0]["exception"]


def test_driver_server_shutdown(engine):
    engine.cfg["replies"] = {"shutdown server": {"time": "t", "status": "SUCCESS", "data": [
        {"type": "string", "data": "FL training has been shutdown."}, {"type": "shutdown", "data": "Bye-bye"}]}}
    engine.write()
    result = _drive(engine, ["shutdown client", "shutdown server"], status=True)
    assert result["ok"] and result["server_shutdown"] and "status_replies" not in result
    assert engine.calls()[-1]["call"] == "do_command"  # no logout to a closed port
    result = _drive(engine, ["shutdown server", "check_status server"])
    assert result["error_kind"] == "after_shutdown" and result["failed_index"] == 1


def test_driver_kit_and_engine_problems(tmp_path):
    eng = fake_docker.FakeEngine(tmp_path, registered=[])
    eng.kit = fake_docker.make_kit(str(tmp_path / "kit"), with_keys=False)
    result = _drive(eng, ["check_status server"])
    assert result["error_kind"] == "kit_missing" and len(result["missing"]) == 3
    eng.kit = fake_docker.make_kit(str(tmp_path / "kit2"))
    eng.pythonpath = str(tmp_path / "empty")
    result = _drive(eng, ["check_status server"])
    assert result["error_kind"] == "engine_missing" and "dlmed" in result["error"]


def _server_reply(state, rnd, counts):
    rows = [["CLIENT NAME", "TOKEN", "LAST ACCEPTED ROUND", "CONTRIBUTION COUNT"]]
    rows += [[name, "tok-" + name, "", str(count)] for name, count in counts]
    lines = "FL run number:1\nFL server status: %s\n" % state
    if rnd is not None:
        lines += "run number:1\tstart round:0\tmax round:3\tcurrent round:%d\n" % rnd
    return {"status": "SUCCESS", "data": [{"type": "string", "data": lines + "Registered clients: %d \n" % len(counts)},
                                          {"type": "table", "rows": rows}]}


def test_a_watch_keeps_the_highest_contributions_before_the_reset():
    from ansible_collections.clarafl.federation.plugins.module_utils.admin_console import summarize_watch
    readings = [
        {"time": 1.0, "reply": _server_reply("training started", 1, [("a", 1), ("b", 0)])},
        {"time": 2.0, "reply": _server_reply("training started", 2, [("a", 2), ("b", 2)])},
        {"time": 3.0, "reply": _server_reply("training stopped", None, [("a", 0), ("b", 0)])},
    ]
    history, contributions = summarize_watch(readings)
    assert [h["server_status"] for h in history] == ["training started", "training started", "training stopped"]
    assert [h.get("current_round") for h in history] == [1, 2, None]
    assert contributions == {"a": 2, "b": 2}
    assert summarize_watch(None) == ([], {})


def test_watch_is_passed_to_the_driver():
    from ansible_collections.clarafl.federation.plugins.module_utils.admin_console import build_driver_args
    args = build_driver_args([], "admin@x", "h", 1, watch=30, watch_interval=2)
    assert args["watch"] == 30.0 and args["watch_interval"] == 2.0 and args["need_registered"]
    assert build_driver_args([], "admin@x", "h", 1)["watch"] == 0.0
