# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""admin_console: a site that answers "start client" late ("No replies") but is training counts as
started. The driver's functions (_late_sites, _client_states, _wait_training, _started_after_all)
run in this Python against a small fake AdminAPI; the module side's failure message is checked too."""

from __future__ import absolute_import, division, print_function

import os
import sys
import time

import pytest

from ansible_collections.clarafl.federation.plugins.module_utils import admin_console as ac

FIX = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "fixtures", "admin")
if FIX not in sys.path:
    sys.path.insert(0, FIX)
import fake_docker  # noqa: E402  pylint: disable=wrong-import-position

STARTED = "training started"
NOT_STARTED = "training not started"


def _string_reply(text):
    return {"time": "t", "status": "SUCCESS", "data": [{"type": "string", "data": text}]}


def _status_line(site, status):
    return "instance:%s : client name: %s\ttoken: tok-%s\tstatus: %s\n" % (site, site, site, status)


@pytest.fixture
def driver():
    """A fresh namespace holding the driver program's functions."""
    ns = {"__name__": "driver_under_test"}
    exec(compile(ac.driver_source(), "<driver>", "exec"), ns)  # pylint: disable=exec-used
    return ns


class FakeClock(object):
    """Stands in for the driver's time module: sleep() only moves the clock."""

    def __init__(self):
        self.now = 1000.0
        self.slept = []

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


class FakeAPI(object):
    """do_command() with canned replies. states: {site: status} as check_status client shows them;
    a site in starts_on_restart trains once "start client <site>" is sent; trains_at: {site: number of
    check_status client calls after which it trains}."""

    def __init__(self, states, starts_on_restart=(), trains_at=None, clock=None):
        self.states = dict(states)
        self.starts_on_restart = set(starts_on_restart)
        self.trains_at = dict(trains_at or {})
        self.clock = clock
        self.sent = []
        self.sent_at = []
        self.checks = 0

    def do_command(self, command):
        self.sent.append(command)
        self.sent_at.append(self.clock.now if self.clock else None)
        if command == "check_status client":
            self.checks += 1
            for site, n in self.trains_at.items():
                if self.checks >= n:
                    self.states[site] = STARTED
            return _string_reply("".join(_status_line(s, st) for s, st in self.states.items()) or "No replies")
        if command.startswith("start client "):
            sites = command.split()[2:]
            for site in sites:
                if site in self.starts_on_restart:
                    self.states[site] = STARTED
            return _string_reply("".join("instance:%s : Start the client...\n" % s for s in sites))
        raise AssertionError("unexpected command %r" % command)


# --------------------------------------------------------------------------- _late_sites


@pytest.mark.parametrize("verb, command, text, late", [
    ("start", "start client", "instance:site-a : Start the client...\ninstance:site-b : No replies\n", ["site-b"]),
    ("start", "start client", "instance:site-a : No replies\ninstance:site-b : No replies\n", ["site-a", "site-b"]),
    ("start", "start client site-b", "instance:site-b : No replies\n", ["site-b"]),
    ("start", "training.start client", "instance:site-b : No replies  \ninstance:site-a : Start the client...\n",
     ["site-b"]),
    # every site answered: nothing is late
    ("start", "start client", "instance:site-a : Start the client...\ninstance:site-b : Start the client...\n", []),
    # another error beside the "No replies": the command failed for real
    ("start", "start client", "instance:site-a : Client already in training.\ninstance:site-b : No replies\n", []),
    ("start", "start client", "instance:site-b : No replies\ninstance:site-a : Client mmar does not exist. Please "
                              "deploy it before start client.\n", []),
    ("start", "start client", "instance:site-a : exception_occurred\ninstance:site-b : No replies\n", []),
    # other verbs and scopes
    ("start", "start server", "instance:site-b : No replies\n", []),
    ("deploy", "deploy app client", "instance:site-a : MMAR deployed.\ninstance:site-b : No replies\n", ["site-b"]),
    ("deploy", "deploy app server", "instance:site-b : No replies\n", []),
    ("deploy", "deploy app client", "instance:site-a : MMAR deployed.\ninstance:site-b : exception_occurred\n", []),
    ("check_status", "check_status client", "instance:site-b : No replies\n", []),
    ("abort", "abort client", "instance:site-b : No replies\n", []),
    # no instance line at all
    ("start", "start client", "No replies", []),
])
def test_late_sites(driver, verb, command, text, late):
    assert driver["_late_sites"](verb, command, _string_reply(text)) == late


def test_late_sites_without_a_usable_reply(driver):
    late_starts = driver["_late_sites"]
    assert late_starts("start", "start client", None) == []
    assert late_starts("start", "start client", {"status": "ERROR_RUNTIME", "details": "x"}) == []
    assert late_starts("start", "start client", {"status": "SUCCESS", "data": "instance:a : No replies"}) == []
    assert late_starts("start", "start client", {"status": "SUCCESS", "data": [
        {"type": "table", "rows": [["instance:a : No replies"]]}, "instance:b : No replies"]}) == []


def test_late_sites_agrees_with_the_classifier(driver):
    """What _late_sites forgives is an error to the classifier (else there would be nothing to forgive)."""
    reply = _string_reply("instance:site-a : Start the client...\ninstance:site-b : No replies\n")
    assert ac.classify_reply("start client", reply)["ok"] is False
    assert driver["_late_sites"]("start", "start client", reply) == ["site-b"]


# --------------------------------------------------------------------------- _client_states


def test_client_states(driver):
    api = FakeAPI({})
    api.do_command = lambda command: api.sent.append(command) or _string_reply(
        _status_line("site-a", STARTED) + _status_line("site-b", NOT_STARTED)
        + "instance:site-c : exception_occurred\ninstance:site-d : No replies\nsome other line\n")
    assert driver["_client_states"](api, 5) == {"site-a": STARTED, "site-b": NOT_STARTED,
                                                "site-c": "exception_occurred", "site-d": "no replies"}
    assert api.sent == ["check_status client"]


def test_client_states_unreadable(driver):
    class Broken(object):
        def __init__(self, reply=None, exc=None):
            self.reply, self.exc = reply, exc

        def do_command(self, _command):
            if self.exc:
                raise self.exc
            return self.reply

    states = driver["_client_states"]
    assert states(Broken(exc=RuntimeError("socket closed")), 5) == {}
    assert states(Broken(reply=None), 5) == {}
    assert states(Broken(reply=_string_reply("No replies")), 5) == {}
    assert states(Broken(reply={"status": "SUCCESS", "data": [{"type": "error", "data": "invalid client"}]}), 5) == {}


# --------------------------------------------------------------------------- _wait_training


def test_wait_training_polls_until_every_site_trains(driver):
    clock = FakeClock()
    driver["time"] = clock
    api = FakeAPI({"site-a": NOT_STARTED, "site-b": NOT_STARTED}, trains_at={"site-a": 2, "site-b": 4}, clock=clock)
    states = driver["_wait_training"](api, ["site-a", "site-b"], 5, 10)
    assert states == {"site-a": STARTED, "site-b": STARTED}
    assert api.checks == 4 and clock.slept == [1, 1, 1]


def test_wait_training_gives_up_at_the_deadline(driver):
    clock = FakeClock()
    driver["time"] = clock
    api = FakeAPI({"site-a": NOT_STARTED}, clock=clock)
    states = driver["_wait_training"](api, ["site-a"], 5, 10)
    assert states == {"site-a": NOT_STARTED}
    assert clock.now - 1000.0 == 10 and clock.slept == [1] * 10 and api.checks == 11


# --------------------------------------------------------------------------- _started_after_all


def test_started_after_all_when_the_site_trains(driver):
    api = FakeAPI({"site-a": STARTED, "site-b": STARTED})
    entry = {}
    started = time.time()
    assert driver["_started_after_all"](api, ["site-b"], 5, entry, wait=0.2) is True
    assert time.time() - started < 2
    assert api.sent == ["check_status client"]
    assert "restarted_sites" not in entry and entry["late_status"] == {"site-b": STARTED}


def test_started_after_all_sends_one_more_start(driver):
    api = FakeAPI({"site-a": STARTED, "site-b": NOT_STARTED}, starts_on_restart=["site-b"])
    entry = {}
    assert driver["_started_after_all"](api, ["site-b"], 5, entry, wait=0.2) is True
    assert api.sent == ["check_status client", "start client site-b", "check_status client"]
    assert entry["restarted_sites"] == ["site-b"] and entry["late_status"] == {"site-b": STARTED}


def test_started_after_all_fails_when_a_site_never_trains(driver):
    api = FakeAPI({"site-a": STARTED, "site-b": NOT_STARTED})
    entry = {}
    started = time.time()
    assert driver["_started_after_all"](api, ["site-b"], 5, entry, wait=0.2) is False
    assert time.time() - started < 2
    assert api.sent.count("start client site-b") == 1 and api.sent[-1] == "check_status client"
    assert entry["restarted_sites"] == ["site-b"] and entry["late_status"] == {"site-b": NOT_STARTED}


def test_started_after_all_restarts_only_the_sites_not_training(driver):
    api = FakeAPI({"site-a": STARTED, "site-b": NOT_STARTED}, starts_on_restart=["site-b"])
    entry = {}
    # site-c is not listed at all by check_status client
    assert driver["_started_after_all"](api, ["site-a", "site-b", "site-c"], 5, entry, wait=0.2) is False
    assert [c for c in api.sent if c.startswith("start")] == ["start client site-b site-c"]
    assert entry["restarted_sites"] == ["site-b", "site-c"]
    assert entry["late_status"] == {"site-a": STARTED, "site-b": STARTED, "site-c": "not listed"}


def test_started_after_all_default_wait(driver):
    """With the default wait the site gets half of it, one more start, then the whole wait again."""
    clock = FakeClock()
    driver["time"] = clock
    api = FakeAPI({"site-b": NOT_STARTED}, clock=clock)
    entry = {}
    assert driver["_started_after_all"](api, ["site-b"], 5, entry) is False
    restart_at = api.sent_at[api.sent.index("start client site-b")] - 1000.0
    assert driver["LATE_START_WAIT"] / 2 - 1 <= restart_at <= driver["LATE_START_WAIT"] / 2
    total = clock.now - 1000.0
    assert driver["LATE_START_WAIT"] * 1.5 - 1 <= total <= driver["LATE_START_WAIT"] * 1.5
    assert driver["LATE_START_WAIT"] == ac.LATE_START_WAIT  # the message's figure is the driver's


def test_started_after_all_stops_waiting_once_training(driver):
    clock = FakeClock()
    driver["time"] = clock
    api = FakeAPI({"site-b": NOT_STARTED}, trains_at={"site-b": 4}, clock=clock)
    entry = {}
    assert driver["_started_after_all"](api, ["site-b"], 5, entry) is True
    assert clock.now - 1000.0 == 3 and "restarted_sites" not in entry
    assert api.sent == ["check_status client"] * 4


# --------------------------------------------------------------------------- the module's message


def _late_result(late_status):
    entry = {"index": 0, "command": "start client",
             "reply": _string_reply("instance:site-a : Start the client...\ninstance:site-b : No replies\n"),
             "error": "instance:site-b : No replies", "output": "", "local_errors": []}
    if late_status is not None:
        entry.update(restarted_sites=["site-b"], late_status=late_status)
    return {"ok": False, "error_kind": "reply", "failed_index": 1, "stage": "command",
            "results": [{"index": 0, "command": "deploy app client"}, entry]}


def test_failure_message_names_the_sites_that_did_not_answer():
    cmds = ["deploy app client", "start client", "check_status server"]
    result = _late_result({"site-b": NOT_STARTED, "site-c": "not listed"})
    msg = ac.failure_message(result, cmds, "h", 1, "u", "c", "/k")
    assert msg == ("Admin command 'start client' failed: instance:site-a : Start the client...\n"
                   "instance:site-b : No replies\n"
                   "(sites that did not answer, after waiting up to 30 s and sending the command again: site-b: training not started, "
                   "site-c: not listed)\n"
                   "(ran before it: deploy app client)\n(not sent: check_status server)")
    plain = ac.failure_message(_late_result(None), cmds, "h", 1, "u", "c", "/k")
    assert "sites that did not answer" not in plain and plain.startswith("Admin command 'start client' failed: ")


# --------------------------------------------------------------------------- the driver, run for real


def test_driver_forgives_a_late_site_that_trains(tmp_path):
    engine = fake_docker.FakeEngine(tmp_path, registered=["site-a", "site-b"])
    engine.kit = fake_docker.make_kit(str(tmp_path / "kit"))
    engine.cfg["replies"] = {
        "start client": _string_reply("instance:site-a : Start the client...\ninstance:site-b : No replies\n"),
        "check_status client": _string_reply(_status_line("site-a", STARTED) + _status_line("site-b", STARTED)),
    }
    engine.write()
    args = ac.build_driver_args(["start client", "check_status server"], "admin@x", "h", 1, kit_dir=engine.kit,
                                server_cn="cn", timeout=20)
    result = ac.run_console(fake_docker.FakeContainer(engine), args)
    assert result["ok"] is True and result["stage"] == "done", result
    entry = result["results"][0]
    assert entry["late_sites"] == ["site-b"] and entry["late_status"] == {"site-b": STARTED}
    assert "error" not in entry and "restarted_sites" not in entry
    assert engine.sent() == ["check_status server", "start client", "check_status client", "check_status server"]


# --------------------------------------------------------------------------- _redeployed


class DeployAPI(object):
    """Answers "deploy app client <sites>": the sites in answers_on[n] reply on the n-th resend."""

    def __init__(self, answers_on):
        self.answers_on = answers_on
        self.sent = []

    def do_command(self, command):
        self.sent.append(command)
        sites = command.split()[3:]
        answering = self.answers_on.get(len(self.sent), set())
        return _string_reply("".join("instance:%s : %s\n" % (s, "MMAR deployed." if s in answering else "No replies")
                                     for s in sites))


def test_a_deploy_a_site_missed_is_sent_to_it_again(driver, monkeypatch):
    monkeypatch.setattr(driver["time"], "sleep", lambda _s: None)
    api = DeployAPI({1: {"site-b"}})
    entry = {}
    assert driver["_redeployed"](api, "deploy app client", ["site-b"], 5, entry) is True
    assert api.sent == ["deploy app client site-b"]
    assert entry["redeployed_sites"] == ["site-b"] and "late_status" not in entry


def test_a_site_that_never_answers_the_deploy_is_named(driver, monkeypatch):
    monkeypatch.setattr(driver["time"], "sleep", lambda _s: None)
    api = DeployAPI({2: {"site-b"}})
    entry = {}
    assert driver["_redeployed"](api, "deploy app client", ["site-b", "site-c"], 5, entry) is False
    # Each retry goes only to the sites still missing.
    assert api.sent == ["deploy app client site-b site-c", "deploy app client site-b site-c",
                        "deploy app client site-c"]
    assert entry["late_status"] == {"site-c": "no reply to the deploy"}


# --------------------------------------------------------------------------- a start that hangs


def _hung_engine(tmp_path):
    engine = fake_docker.FakeEngine(tmp_path, registered=["site-a", "site-b"])
    engine.kit = fake_docker.make_kit(str(tmp_path / "kit"))
    engine.cfg["replies"] = {
        "start client": _string_reply("instance:site-a : Start the client...\ninstance:site-b : No replies\n"),
        "start client site-b": _string_reply("instance:site-b : No replies\n"),
        "check_status client": _string_reply(_status_line("site-a", STARTED) + "instance:site-b : No replies\n"),
    }
    engine.write()
    return engine


def test_a_start_that_hangs_fails_by_default(tmp_path):
    engine = _hung_engine(tmp_path)
    args = ac.build_driver_args(["start client", "check_status server"], "admin@x", "h", 1, kit_dir=engine.kit,
                                server_cn="cn", timeout=20, late_start_wait=0.4)
    result = ac.run_console(fake_docker.FakeContainer(engine), args)
    assert result["ok"] is False and result["error_kind"] == "reply", result
    assert "hung_sites" not in result
    assert result["results"][0]["late_status"] == {"site-b": "no replies"}


def test_a_start_that_hangs_is_reported_when_asked(tmp_path):
    engine = _hung_engine(tmp_path)
    args = ac.build_driver_args(["start client", "check_status server"], "admin@x", "h", 1, kit_dir=engine.kit,
                                server_cn="cn", timeout=20, hung_start="report", late_start_wait=0.4)
    result = ac.run_console(fake_docker.FakeContainer(engine), args)
    assert result["ok"] is True and result["stage"] == "done", result
    assert result["hung_sites"] == ["site-b"]
    entry = result["results"][0]
    assert entry["hung_sites"] == ["site-b"] and "error" not in entry
    # A site silent even to check_status is not sent "start client" again: it answers nothing more.
    assert "restarted_sites" not in entry and "start client site-b" not in engine.sent()
    # the commands after it are still sent
    assert engine.sent()[-1] == "check_status server"


def test_a_site_that_answers_but_does_not_start_is_sent_start_again_then_reported(tmp_path):
    engine = _hung_engine(tmp_path)
    engine.cfg["replies"]["check_status client"] = _string_reply(_status_line("site-a", STARTED)
                                                                 + _status_line("site-b", NOT_STARTED))
    engine.write()
    args = ac.build_driver_args(["start client"], "admin@x", "h", 1, kit_dir=engine.kit,
                                server_cn="cn", timeout=20, hung_start="report", late_start_wait=0.4)
    result = ac.run_console(fake_docker.FakeContainer(engine), args)
    assert result["ok"] is True and result["hung_sites"] == ["site-b"], result
    assert result["results"][0]["restarted_sites"] == ["site-b"] and "start client site-b" in engine.sent()


def test_a_late_site_that_trains_is_not_reported_as_hung(tmp_path):
    engine = _hung_engine(tmp_path)
    engine.cfg["replies"]["check_status client"] = _string_reply(_status_line("site-a", STARTED)
                                                                 + _status_line("site-b", STARTED))
    engine.write()
    args = ac.build_driver_args(["start client"], "admin@x", "h", 1, kit_dir=engine.kit,
                                server_cn="cn", timeout=20, hung_start="report", late_start_wait=0.4)
    result = ac.run_console(fake_docker.FakeContainer(engine), args)
    assert result["ok"] is True and not result.get("hung_sites"), result
