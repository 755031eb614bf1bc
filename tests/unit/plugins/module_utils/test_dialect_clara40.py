# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Clara 4.0 dialect (module_utils/_dialect_clara40.py), row by row, from the real engine's replies: what each
verb acts on and changes, the one classifier, the per-site lines, the status; read from replies AdminAPI returned
(fixtures/admin/clara-4.0-*replies.json) and from transcripts of the interactive console (admin-0*.txt)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

import pytest

from ansible_collections.clarafl.federation.plugins.module_utils import _dialect_clara40 as d

FIX = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "fixtures", "admin")


def _read(name):
    with open(os.path.join(FIX, name)) as fh:
        return fh.read()


REPLIES = json.loads(_read("clara-4.0-replies.json"))
VERB_REPLIES = json.loads(_read("clara-4.0-verb-replies.json"))["replies"]
VALIDATE_REPLIES = json.loads(_read("clara-4.0-validate-replies.json"))["replies"]
CAPTURED = REPLIES + VERB_REPLIES


def _string_reply(text):
    return {"time": "t", "status": "SUCCESS", "data": [{"type": "string", "data": text}]}


def _captured(command, fragment):
    for e in CAPTURED:
        if e["command"] == command and fragment in json.dumps(e["reply"]):
            return e["reply"]
    raise AssertionError("no captured reply %r with %r" % (command, fragment))


# --------------------------------------------------------------------------- the console's screen, for transcripts

def _blocks(transcript):
    """The output of each command in a transcript of the interactive console (it does not echo what was typed): the
    text after each "> " prompt, without the "Done [...]" trailer and the "Confirm with User Name: " prompt."""
    blocks, current = [], None
    for line in transcript.splitlines():
        if line.startswith("> ") or line == ">":
            if current is not None:
                blocks.append(current)
            current = [re.sub(r"^Confirm with User Name: ", "", line[2:])]
        elif current is not None:
            current.append(line)
    if current is not None:
        blocks.append(current)
    return ["\n".join(ln for ln in b if not re.match(r"^Done \[\d+ usecs\] ", ln)).strip("\n") for b in blocks]


def _screen_reply(text):
    """The reply a console screen printed: its table lines as a table item, the other lines as a string item."""
    lines = text.splitlines()
    rows = [[c.strip() for c in ln.strip()[1:-1].split("|")] for ln in lines
            if ln.strip().startswith("|") and ln.strip().endswith("|")]
    strings = [ln for ln in lines if not ln.strip().startswith("|") and not re.match(r"^-+$", ln.strip())]
    data = [{"type": "string", "data": "\n".join(strings)}]
    if rows:
        data.append({"type": "table", "rows": rows})
    return {"status": "SUCCESS", "data": data}


# --------------------------------------------------------------------------- verbs: where they act, what they change

@pytest.mark.parametrize("command, sites, every", [
    ("start client", [], True),
    ("start client org1-a org2", ["org1-a", "org2"], False),
    ("start server", [], False),
    ("training.start client x", ["x"], False),
    ("deploy app client", [], True),
    ("deploy app client a b", ["a", "b"], False),
    ("deploy app server", [], False),
    ("check_status client a", ["a"], False),
    ("check_status client", [], False),  # reads: nothing for every site to be there for
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
    ('tail site-a -n 200 log.txt', ["site-a"], False),
    ("validate a b", ["a", "b"], False),
    ("validate all", [], False),
    ("eval_rule org2 allow_byoc", ["org2"], False),
    ("eval_right admin@x train_all org2", ["org2"], False),
    ("set_run_number 1", [], False),
    ("upload_folder client", [], False),
    ("", [], False),
])
def test_the_sites_a_command_names(command, sites, every):
    assert d.sites_of(command) == (sites, every)


@pytest.mark.parametrize("command, changes", [
    ("check_status server", False), ("ls server", False), ("cat site-a log.txt", False), ("info", False),
    ("sys_info client", False), ("taskname", False), ("training.check_status client", False), ("validate all", False),
    ("show_rights", False), ("eval_rule site-a allow_byoc", False), ("tail server -n 5 log.txt", False),
    ("set_run_number 1", True), ("upload_folder app", True), ("deploy app server", True), ("start client", True),
    ("start_mgpu client 2 a", True), ("abort server", True), ("shutdown client", True), ("restart server", True),
    ("remove_client a", True), ("delete_run_number 1", True), ("set_timeout 10", True), ("download_folder x", True),
    ("download_text x", True), ("something_new", True),
])
def test_whether_a_command_changes_anything(command, changes):
    assert d.changes(command) is changes


def test_verbs_without_their_scope_and_case():
    assert d.verb("training.start client x") == "start" and d.verb("CHECK_STATUS server") == "check_status"
    assert d.verb("") == "" and d.verb(["deploy", "x", "server"]) == "deploy"
    assert d.row("no_such_verb") == d._ROW and d.row("no_such_verb")["changes"] is True
    with pytest.raises(ValueError):
        d.words('grep server "unterminated')


def test_start_commands_and_one_site_s_command():
    assert d.start_commands(["a", "b"]) == ["start client"]
    assert d.start_commands(["a", "b", "c"], {"b": 2, "c": "4"}) == ["start client a", "start_mgpu client 2 b",
                                                                     "start_mgpu client 4 c"]
    assert d.start_commands(["a"], {"a": 3}) == ["start_mgpu client 3 a"]
    assert d.start_commands(["a"], {"a": 1}) == ["start client"]
    # not every site of the training (one did not take the deploy): the others by name, never every registered one
    assert d.start_commands(["a", "c"], every=False) == ["start client a c"]
    assert d.start_commands(["a", "b"], {"b": 2}, every=False) == ["start client a", "start_mgpu client 2 b"]
    assert d.site_command("start", "a", {"a": 2}) == "start_mgpu client 2 a"
    assert d.site_command("start", "b", {"a": 2}) == "start client b"
    assert d.site_command("deploy", "b", mmar="demo") == "deploy demo client b"
    assert d.site_command("abort", "b") == "abort client b"


# --------------------------------------------------------------------------- the classifier, on every captured reply

# (command, a fragment of the reply text or None for "any", expected verdict). Every captured reply must match a rule
# (the first one that matches counts), so a newly captured reply has to be reviewed here.
EXPECTED = [
    ("bogus_command", "not found in registry", "error"),
    ("deploy nonexistent server", "Please set a FL run number", "error"),
    ("start client nosuch", "invalid clients", "error"),
    ("check_status client nosuch", "invalid clients", "error"),
    ("check_status client site-a", "training not started", "ok"),
    ("ls server", "startup", "ok"),
    ("ls site-a", "startup", "ok"),
    ("ls site-a nothere", "cannot access 'nothere'", "error"),
    ("ls server/run_1", "invalid client: server/run_1", "error"),
    ("cat server nofile.txt", "No such file or directory", "error"),
    ("cat server ../x", ".. in path name is not allowed", "error"),
    ("cat server /etc/passwd", "absolute path is not allowed", "error"),
    ("head server -n 3 log.txt", "CryptographyDeprecationWarning", "ok"),
    ("tail server -n 5 log.txt", "joined", "ok"),
    ("tail server -n 5 nofile.txt", "cannot open 'nofile.txt'", "error"),
    # the site's log says its start failed: file content, not the command's error
    ("tail site-a -n 40 log.txt", "Error while finding module specification", "ok"),
    ('grep server -n "Server training has been started" log.txt', None, "ok"),
    ('grep server -n "Aggregation time for the round" log.txt', "Aggregation time for the round 0", "ok"),
    ('grep site-a -n "no such pattern here" log.txt', None, "ok"),
    ("env server", "PATH=", "ok"),
    ("env site-a", "PATH=", "ok"),
    ("pwd site-a", "/workspace/site-a", "ok"),
    ("info", "Server Upload Destination", "ok"),
    ("set_timeout 30", "admin command timeout has been set to: 30.0", "ok"),
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
    ("upload_folder clarafl-test-app", "Created folder", "ok"),
    ("download_folder nothere", "no such folder", "error"),
    ("download_text nothere.txt", "no such file: nothere.txt", "error"),
    ("download_binary nothere.bin", "no such file: nothere.bin", "error"),
    ("abort client", "Client training has not started", "noop"),
    ("abort client", "exception_occurred", "error"),
    ("abort client", "Aborted the client", "ok"),
    ("abort client", "Client training already stopped", "noop"),
    ("abort client site-a", "Aborted the client", "ok"),
    ("abort client site-a", "Client training already stopped", "noop"),
    ("abort server", "Server training has not started", "noop"),
    ("abort server", "exception_occurred", "error"),
    ("abort server", "FL training has been stopped", "ok"),
    ("start server", "Server mmar does not exist", "error"),
    ("start server", "Server training is starting", "ok"),
    ("start server", "Server already in training", "error"),
    ("sys_info server", "METRICS", "ok"),
    ("sys_info client site-a", "METRICS", "ok"),
    ("sys_info client", "METRICS", "ok"),
    ("check_status", "missing site names", "error"),
    ("deploy", "missing site names", "error"),
    ("validate site-a site-b", "Validate site-a's model", "ok"),
    ("validate all", None, "ok"),
    ("pwd server", "/workspace/server", "ok"),
    ("remove_client nosuch", "invalid clients", "error"),
    # measured: the engine removes the site and answers so all the same (the caller judges by the status)
    ("remove_client site-b", "Server did not respond", "error"),
    ("taskname", "admtest", "ok"),
    ("show_config", "lead_researcher", "ok"),
    ("show_info", "Last Loaded", "ok"),
    ("show_rights", "deploy_all", "ok"),
    ("show_rules", "allow_byoc", "ok"),
    ("show_sites", "site-a", "ok"),
    ("show_users", "admin@test.local", "ok"),
    ("eval_right admin@test.local train_all site-a", "True", "ok"),
    ("eval_rule site-a allow_byoc", "True", "ok"),
    ("start client", "Server training has not started", "error"),
    ("start client", "Client already in training", "error"),
    ("start client", "Start the client", "ok"),
    ("start client site-b", "Start the client", "ok"),
    ("start_mgpu client 2 site-a", "Start the client", "ok"),
    ("start_mgpu client 2", "Server training has not started", "error"),
    ("deploy tapp server", "has been deployed", "ok"),
    ("deploy tapp client", "MMAR deployed", "ok"),
    ("deploy clarafl-test-app server", "has been deployed", "ok"),
    ("deploy clarafl-test-app client", "MMAR deployed", "ok"),
    ("check_status server", "Failed to communicate", "error"),
    ("check_status server", "FL server status", "ok"),
    ("check_status client", "exception_occurred", "ok"),
    ("check_status client", "No replies", "ok"),
    ("check_status client", "client name", "ok"),
    ("shutdown client site-b", "exception_occurred", "error"),
    ("shutdown client site-b", "Shutdown the client", "ok"),
    ("shutdown client", "exception_occurred", "error"),
    ("shutdown server", "still active clients", "error"),
    ("shutdown server", "FL training has been shutdown", "ok"),
    ("check_status client site-b", "invalid clients", "error"),
    ("start client site-b", "invalid clients", "error"),
    ("shutdown client site-b", "invalid clients", "error"),
    ("restart client site-a", "Server did not respond", "error"),
    ("delete_run_number 7", "can not be deleted", "error"),
    ("delete_run_number 2", "Delete run folder", "ok"),
    ("delete_run_number 1", "Delete run folder", "ok"),
]


def _verdict(command, reply, local_errors=None):
    v = d.classify(command, reply, local_errors)
    return "error" if not v["ok"] else ("noop" if v["noop"] else "ok")


@pytest.mark.parametrize("entry", CAPTURED, ids=["%02d:%s" % (i, e["command"]) for i, e in enumerate(CAPTURED)])
def test_captured_reply_verdicts(entry):
    text = d.reply_text(entry["reply"], entry.get("output"), entry.get("local_errors"))
    rules = [r for r in EXPECTED if r[0] == entry["command"] and (r[1] is None or r[1] in text)]
    assert rules, "review this captured reply and add an EXPECTED rule: %r %r" % (entry["command"], text)
    assert _verdict(entry["command"], entry["reply"], entry.get("local_errors")) == rules[0][2], text


@pytest.mark.parametrize("name", sorted(VALIDATE_REPLIES))
def test_captured_validate_replies(name):
    command = {"pair": "validate xv-b xv-b", "pair_missing": "validate xv-b xv-a xv-b", "usage_error": "validate xv-b",
               "abort_stuck": "abort client xv-b"}.get(name, "validate all")
    assert _verdict(command, VALIDATE_REPLIES[name]) == ("error" if name == "usage_error" else "ok")


def test_every_verb_row_is_read_from_a_real_reply():
    """Each row of VERBS has at least one reply of the real engine above, reviewed in EXPECTED."""
    seen = set(d.verb(e["command"]) for e in CAPTURED) | set(["validate"])
    assert sorted(set(d.VERBS) - seen) == []
    # ... and every verb that can fail has a real error among them, or a sentence rule checked below
    failed = set(d.verb(e["command"]) for e in CAPTURED if not d.classify(e["command"], e["reply"],
                                                                             e.get("local_errors"))["ok"])
    assert set(["check_status", "set_run_number", "delete_run_number", "upload_folder", "download_folder",
                "download_text", "download_binary", "deploy", "start", "start_mgpu", "abort", "shutdown", "restart",
                "remove_client", "ls", "cat", "tail"]) <= failed


def test_the_rows_of_per_site_replies():
    """answered: the line a site that got the command says; a site whose line is "No replies" is late; a targeted
    site without a line did not get the command."""
    deploy = _captured("deploy tapp client", "MMAR deployed")
    assert d.answers("deploy tapp client", deploy, ["site-a", "site-b"]) == (
        {"site-a": "MMAR deployed.", "site-b": "MMAR deployed."}, [], [])
    start = _captured("start client", "Client already in training")
    answered, late, missing = d.answers("start client", start, ["site-a", "site-b"])
    assert answered == {"site-a": "Start the client..."} and late == [] and missing == []
    aborted = _captured("abort client site-a", "Aborted the client")
    assert d.answers("abort client site-a", aborted, ["site-a"])[0] == {"site-a": "Aborted the client."}
    mgpu = _captured("start_mgpu client 2 site-a", "Start the client")
    assert d.answers("start_mgpu client 2 site-a", mgpu, ["site-a"]) == ({"site-a": "Start the client..."}, [], [])
    late = _string_reply("instance:site-a : MMAR deployed.\ninstance:site-b : No replies\n")
    assert d.answers("deploy x client", late, ["site-a", "site-b", "site-c"]) == (
        {"site-a": "MMAR deployed."}, ["site-b"], ["site-c"])
    # a verb without an answered line takes every line of its targets
    assert d.answers("check_status client", _captured("check_status client", "exception_occurred"),
                     ["site-b"])[0] == {"site-b": "exception_occurred"}
    assert [d.row(v)["answered"] for v in ("deploy", "start", "start_mgpu", "abort")] == [
        "MMAR deployed", "Start the client", "Start the client", "Aborted the client"]


def test_the_rows_errors_noop_and_tolerated_lines():
    # start: "Server training has not started" is an error of start (for abort it says nothing ran)
    assert d.classify("start client", _string_reply("Server training has not started."))["ok"] is False
    v = d.classify("abort client", _string_reply("instance:a : Client training has not started.\n"))
    assert v["ok"] and v["noop"]
    v = d.classify("start_mgpu client 2 a", _string_reply("instance:a : Client mmar does not exist. Please deploy it "
                                                          "before start client."))
    assert v["ok"] is False
    # check_status tolerates a site that gives no answer or whose agent failed (the status says so)
    for text in ("instance:a : No replies\n", "instance:b : exception_occurred\n", "No replies"):
        assert d.classify("check_status client", _string_reply(text))["ok"], text
    # ... no other verb does
    for command in ("start client", "deploy x client", "abort client", "shutdown client", "sys_info client"):
        assert d.classify(command, _string_reply("instance:b : No replies\n"))["ok"] is False, command
    # the informative first line of abort server says nothing about the outcome
    v = d.classify("abort server", _string_reply("Trying to abort all clients before abort server ..."))
    assert v == {"ok": True, "error": None, "noop": False}


@pytest.mark.parametrize("command, text, ok", [
    ("cat server log.txt", "2026 - ERROR - something failed: no such file x", True),  # file content
    ("grep server error log.txt", "Error: in a log line", False),
    ("head site-a x", "head: cannot open 'x' for reading: No such file or directory", False),
    ("tail site-a log.txt", "line 1\nwe have no such file handling here", True),
    ("tail server -n 200 log.txt", "Traceback (most recent call last):\nAttributeError: 'NoneType' object has no "
                                   "attribute 'body'", True),
    ("head site-a x", "head: x: No such file or directory", False),
    ("ls site-a nothere", "ls: cannot access 'nothere': No such file or directory", False),
    ("tail server ../x", ".. in path name is not allowed", False),
    ("env server", "PATH=/usr/bin\nERRORLEVEL=3", True),
    ("deploy app client", "instance:a : MMAR deployed.\ninstance:b : Client mmar does not exist. Please deploy it",
     False),
    ("start client", "instance:a : Client mmar does not exist. Please deploy it before start client.", False),
    ("start client a", "", True),
    ("start server", "Server training is starting, please wait for started before abort.", False),
    ("set_timeout 10", "admin command timeout has been set to: 10.0", True),
    ("eval_right u r s", "Authorization Error: This action is not authorized", False),
    ("set_run_number 1", "Create a new run folder: run_1", True),
])
def test_classifier_sentences(command, text, ok):
    assert d.classify(command, _string_reply(text))["ok"] is ok


def test_classifier_structures():
    assert d.classify("start server", None) == {"ok": False, "error": "no reply", "noop": False}
    assert d.classify("start server", None, ["boom"]) == {"ok": False, "error": "boom", "noop": False}
    v = d.classify("bogus", {"status": "ERROR_COMMAND_SYNTAX", "details": "ERROR: Command bogus not found"})
    assert not v["ok"] and "not found" in v["error"]
    v = d.classify("ls server", {"status": "SUCCESS", "data": [{"type": "error", "data": "invalid client: x"}]})
    assert v["error"] == "invalid client: x"
    assert d.classify("upload_folder x", {"status": "ERROR_RUNTIME", "details": "Client did not respond"},
                      ['"/t/x" is not a valid folder'])["error"].startswith('"/t/x" is not a valid folder')
    # an abort that reports every site idle is a no-op, one that aborted something is a change
    assert d.classify("abort client", _string_reply("instance:a : Client training already stopped.\n"))["noop"]
    assert not d.classify("abort client", _string_reply(
        "instance:a : Client training already stopped.\ninstance:b : Aborted the client. \n"))["noop"]
    # tables and dicts are data, not verdicts
    assert d.classify("sys_info server", {"status": "SUCCESS", "data": [{"type": "table", "rows": [["error"]]}]})["ok"]


def _plugin_sources():
    root = os.path.join(os.path.dirname(os.path.dirname(d.__file__)))
    for folder, _dirs, files in os.walk(root):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                with open(path) as fh:
                    yield os.path.relpath(path, root), fh.read()


def test_one_classifier_and_one_instance_pattern():
    """The driver decides with the dialect's classifier (it has none of its own) and reads the sites' lines with
    the dialect's one pattern; no other plugin file classifies replies or spells the per-site lines."""
    from ansible_collections.clarafl.federation.plugins.module_utils import _admin_driver
    source = open(_admin_driver.__file__).read()
    assert "def classify" not in source and "instance:" not in source and "re.compile" not in source
    assert "dialect.classify(" in source
    sources = dict(_plugin_sources())
    assert [p for p, text in sources.items() if "def classify" in text or "_reply_error" in text] == [
        "module_utils/_dialect_clara40.py"]
    assert [p for p, text in sources.items() if "instance:" in text] == ["module_utils/_dialect_clara40.py"]
    assert sources["module_utils/_dialect_clara40.py"].count("re.compile(r\"^instance:") == 1


# --------------------------------------------------------------------------- per-site lines

def test_instances_of_real_replies():
    text = d.reply_text(_captured("deploy tapp client", "MMAR deployed"))
    assert d.instances(text) == [{"site": "site-b", "message": "MMAR deployed."},
                                 {"site": "site-a", "message": "MMAR deployed."}]
    # a site shut down answers without its name
    shut = d.reply_text(_captured("shutdown client", "Shutdown the client"))
    assert d.instances(shut) == [{"site": "", "message": "exception_occurred"},
                                 {"site": "", "message": "Shutdown the client..."}]
    # the name stops at the first colon; continuation lines belong to the last site
    assert d.instances("instance:a : line one\n  line two\ninstance:b : x: y\n") == [
        {"site": "a", "message": "line one\n  line two"}, {"site": "b", "message": "x: y"}]
    assert d.instances(None) == [] and d.instances("no instance lines\n") == []


def test_a_server_that_shut_down_says_goodbye():
    assert d.shut_down(_captured("shutdown server", "Bye-bye"))
    assert not d.shut_down(_captured("shutdown server", "still active clients"))
    assert not d.shut_down(None)


# --------------------------------------------------------------------------- transcripts of the console

def test_transcript_registered_not_started():
    blocks = _blocks(_read("admin-01-check-status-registered.txt"))
    status = d.parse_status(_screen_reply(blocks[0]), blocks[1])
    assert status["run_number"] is None and status["server_status"] == "training not started"
    assert status["registered_count"] == 3
    assert [c["name"] for c in status["registered_clients"]] == ["org2", "org1-a", "org1-b"]
    assert status["registered_clients"][0] == {"name": "org2", "token": "229aa108-bf21-4952-a9f8-ad3a2124a9a4",
                                               "last_accepted_round": None, "contribution_count": 0}
    assert status["clients"]["org1-a"] == {"token": "160b3b6a-699d-44ba-b092-b71ef9d0ddba",
                                           "status": "training not started"}
    assert "start_round" not in status and "submitted_models" not in status


def _transcript_status(name):
    blocks = _blocks(_read(name))
    server = [b for b in blocks if "FL server status" in b or "FL run number" in b][-1]
    client = [b for b in blocks if re.search(r"client name: .*\tstatus: ", b)][-1]
    return d.parse_status(_screen_reply(server), client)


def test_transcript_training():
    assert _transcript_status("admin-03-check-status-training.txt") == {
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
    status = _transcript_status("admin-04-check-status-finished.txt")
    assert status["run_number"] == 1 and status["server_status"] == "training stopped"
    assert all(c["contribution_count"] == 0 and c["last_accepted_round"] is None for c in status["registered_clients"])
    assert set(c["status"] for c in status["clients"].values()) == {"training stopped"}


def test_transcript_blocks_and_verdicts():
    blocks = _blocks(_read("admin-02-set-run-upload-deploy-start.txt"))
    commands = ["set_run_number 1", "upload_folder hello-numpy", "deploy hello-numpy server",
                "deploy hello-numpy client", "start server", "start client", "bye"]
    assert blocks[0] == "Create a new run folder: run_1"
    assert blocks[3].splitlines() == ["instance:org1-b : MMAR deployed.", "instance:org1-a : MMAR deployed.",
                                      "instance:org2 : MMAR deployed."]
    for command, block in zip(commands[:-1], blocks):
        assert d.classify(command, _string_reply(block))["ok"], (command, block)
    assert [i["site"] for i in d.instances(blocks[5])] == ["org2", "org1-a", "org1-b"]
    assert d.answers("start client", _string_reply(blocks[5]), ["org2", "org1-a", "org1-b"])[1:] == ([], [])

    blocks = _blocks(_read("admin-06-errors.txt"))
    assert blocks[:3] == ["Undefined server command bogus_command", "MMAR folder 'nonexistent' does not exist.",
                          "Server training is starting...."]
    assert not d.classify("bogus_command", _string_reply(blocks[0]))["ok"]
    v = d.classify("deploy nonexistent server", _string_reply(blocks[1]))
    assert v == {"ok": False, "error": "MMAR folder 'nonexistent' does not exist.", "noop": False}
    assert d.classify("start server", _string_reply(blocks[2]))["ok"]

    blocks = _blocks(_read("admin-05-validate-help-ls.txt"))
    ls_block = [b for b in blocks if b.startswith("audit.log")][0]
    assert d.classify("ls server", _string_reply(ls_block))["ok"]
    assert "Error: invalid client: server/run_1" in blocks
    assert not d.classify("ls server/run_1", _string_reply("Error: invalid client: server/run_1"))["ok"]


def test_transcript_abort_shutdown_confirmation():
    blocks = _blocks(_read("admin-07-abort-shutdown.txt"))
    abort_client, abort_server, shutdown_client, shutdown_server = blocks[:4]
    v = d.classify("abort client", _string_reply(abort_client))
    assert v["ok"] and v["noop"]
    v = d.classify("abort server", _string_reply(abort_server))
    assert v["ok"] and not v["noop"]  # "FL training has been stopped."
    # the console's "Confirm with User Name: " prompt is not part of the reply
    assert shutdown_client.startswith("instance: : Shutdown the client...")
    assert [i["site"] for i in d.instances(shutdown_client)] == ["", "", ""]
    assert d.classify("shutdown client", _string_reply(shutdown_client))["ok"]
    assert shutdown_server.startswith("FL training has been shutdown.")
    assert d.classify("shutdown server", _string_reply("FL training has been shutdown."))["ok"]
    last = blocks[-1]
    assert last.startswith("Error: Failed to communicate with Admin Server localhost on 8003")
    assert not d.classify("check_status server", _string_reply(last))["ok"]


# --------------------------------------------------------------------------- status from AdminAPI replies

def test_status_from_replies_training():
    server = _captured("check_status server", "training started")
    client = _captured("check_status client", "training started")
    status = d.parse_status(server, client)
    assert status["server_status"] == "training started" and status["run_number"] in (4, 7)
    assert status["max_round"] == 2 and status["current_round"] == 0 and status["min_num_clients"] == 2
    assert status["submitted_models"] == 0 and status["registered_count"] == 2
    assert sorted(c["name"] for c in status["registered_clients"]) == ["site-a", "site-b"]
    assert status["clients"]["site-a"]["status"] == "training started"


def test_status_of_a_site_waited_for_in_round_0():
    # site-a's start failed (no torch for start_mgpu): it answers, does not train, and has no contribution
    server = _captured("check_status server", "submitted models for current round: 1")
    client = _captured("check_status client", "f1b239d5-75b1-4ada-ad0b-a74be984cb62\\tstatus: training started")
    status = d.parse_status(server, client)
    assert status["submitted_models"] == 1 and status["current_round"] == 0
    assert dict((c["name"], (c["last_accepted_round"], c["contribution_count"])) for c in
                status["registered_clients"]) == {"site-a": (None, 0), "site-b": (0, 1)}
    assert status["clients"]["site-a"]["status"] == "training stopped"
    assert status["clients"]["site-b"]["status"] == "training started"


def test_status_from_replies_problems():
    status = d.parse_status(None, _captured("check_status client", "exception_occurred"))
    assert status["clients"]["site-b"] == {"status": "exception_occurred"}
    assert status["clients"]["site-a"]["status"] in ("training started", "training stopped", "training not started")
    status = d.parse_status(_captured("check_status server", "Registered clients: 0"),
                            _captured("check_status client", "No replies"))
    assert status["registered_count"] == 0 and status["registered_clients"] == [] and status["clients"] == {}
    assert d.parse_client_status(_string_reply("site-c : No replies\n")) == {"site-c": {"status": "No replies"}}
    assert d.parse_client_status("instance:site-d : No replies\n") == {"site-d": {"status": "No replies"}}
    assert d.parse_status() == {}
    # the server's answer without a table, or none at all
    assert d.parse_server_status(_string_reply("FL run number:3\nFL server status: training stopped")) == {
        "run_number": 3, "server_status": "training stopped"}
    assert d.parse_server_status(None) == {}
    assert d.registered([["NAME", "X"], ["a", "b"]]) is None


def test_reply_text_renders_tables_like_the_console():
    for e in CAPTURED:
        if e["command"] == "check_status server" and "FL server status" in json.dumps(e["reply"]):
            text = d.reply_text(e["reply"])
            assert re.search(r"^\| CLIENT NAME +\| TOKEN +\| LAST ACCEPTED ROUND \| CONTRIBUTION COUNT \|$", text,
                             re.MULTILINE)
            assert d.parse_server_status(_screen_reply(text)) == d.parse_server_status(e["reply"])


def test_reply_text_parts():
    assert d.reply_text({"status": "ERROR_RUNTIME", "details": "Client did not respond"}, "local\n", ["bad"]) == \
        "local\nbad\nClient did not respond"
    assert d.reply_text({"data": [{"type": "shutdown", "data": "Bye-bye"}, {"type": "dict", "data": {"a": 1}}]}) == \
        'Bye-bye\n{"a": 1}'
    assert d.reply_text(None) == ""
    assert d.reply_text({"data": [{"type": "table", "rows": []}, {"type": "table", "rows": [["a"], ["bb", "c"]]}]}) == \
        "----------\n| a  |   |\n----------\n| bb | c |\n----------"


# --------------------------------------------------------------------------- the logs' words

def test_the_log_words_are_the_engine_s():
    log = _captured('grep server -n "Aggregation time for the round" log.txt', "Aggregation")
    assert d.ROUND_LINE in d.reply_text(log)
    started = _captured('grep server -n "Server training has been started" log.txt', "has been started")
    assert d.STARTED_LINE in d.reply_text(started) and d.STARTED_LINE in d.START_MARKERS
    site_log = d.reply_text(_captured("tail site-a -n 40 log.txt", "Starting client training"))
    assert d.LAUNCH_FAILED.search(site_log)
    assert "Starting client training" in d.START_MARKERS
    assert d.LOG_PREFIX.match("2026-11-30 08:38:34,857 - root - WARNING - x")
    assert d.FRAME.match('File "/x/custom/a.py", line 3, in f').group("func") == "f"
    assert d.APP_FRAME.search("/w/run_1/mmar_a/custom/pkg/m.py").group("name") == "pkg/m.py"
