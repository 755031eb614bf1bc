# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a training step does to its sites (module_utils/_training_sites.py), the one place of recovery: waiting
until they answer, bringing back the ones whose containers were restarted (and saying what it did), deploying and
starting them with the late and hung answers the engine is known for. Against the fake engine on a fake clock
(fixtures/admin/fake_engine.py), through the collection's console, driver and dialect."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import sys

import pytest

from ansible_collections.clarafl.federation.plugins.module_utils import _training_sites
from ansible_collections.clarafl.federation.plugins.module_utils._admin_console import ConsoleError
from ansible_collections.clarafl.federation.plugins.module_utils._training import Training
from ansible_collections.clarafl.federation.plugins.module_utils._training_sites import TrainingFailed

FIX = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "fixtures", "admin")
if FIX not in sys.path:
    sys.path.insert(0, FIX)
from fake_engine import Federation, string_reply  # noqa: E402  pylint: disable=wrong-import-position

STARTED = "training started"
NOT_STARTED = "training not started"


def training(fed, **params):
    """A Training of FED's federation, between steps: its record read, ready for one site operation."""
    t = Training(fed.console, dict(fed.params, **params), fed.records, clock=fed.clock.time, sleep=fed.clock.sleep)
    t.record = fed.records.record()
    t.number = t.record.get("run_number") or 1
    return t


def trains(sites=("a", "b"), tmp_path=None, **params):
    """A federation whose run trains (started by a step), with sites A, B ..."""
    fed = Federation(tmp_path, sites=list(sites), num_rounds=20, mmar="m", **params)
    fed.engine.transfer = set(["m"])
    assert fed.step()["state"] == "started"
    return fed


def others(fed, since=0):
    return [c for c in fed.engine.sent[since:] if not c.startswith("check_status")]


def restarted(fed, *sites):
    for site in sites:
        fed.engine.kill(site)
        fed.engine.restart_site(site)


# --------------------------------------------------------------------------- bringing sites back (rejoin)

def test_a_restarted_site_is_removed_waited_for_deployed_and_started(tmp_path):
    fed = trains(tmp_path=tmp_path)
    restarted(fed, "b")
    since = len(fed.engine.sent)
    out = fed.step(state="rejoined", rejoin=["b"])
    assert others(fed, since) == ["remove_client b", "deploy m client b", "start client b"]
    assert out["changed"] is True and not out["failed"]
    assert out["rejoined"] == {"b": [
        "removed its old registration",
        "answers the server (training not started)",
        "deployed m to it and started it in the running training (round 0)"]}
    assert fed.console.status()["clients"]["b"]["status"] == STARTED
    assert fed.record()["restarts"] == {"b": 1} and fed.record()["healed"] == ["b"]


def test_a_site_on_several_gpus_is_started_on_all_of_them_as_at_the_run_start(tmp_path):
    fed = trains(("a", "b", "c"), tmp_path=tmp_path, gpus={"b": 4, "c": 2})
    restarted(fed, "a", "b")
    since = len(fed.engine.sent)
    out = fed.step(state="rejoined", rejoin=["a", "b"])
    assert others(fed, since) == ["remove_client a", "remove_client b", "deploy m client a", "start client a",
                                  "deploy m client b", "start_mgpu client 4 b"]
    assert out["rejoined"]["b"][-1] == "deployed m to it and started it in the running training (round 0)"


def test_a_site_already_back_and_training_is_left_alone(tmp_path):
    fed = trains(tmp_path=tmp_path)
    since = len(fed.engine.sent)
    out = fed.step(state="rejoined", rejoin=["b"])
    assert others(fed, since) == [] and out["changed"] is False
    assert out["rejoined"] == {"b": ["answers the server (training started)", "trains in the running training"]}


def test_a_live_new_registration_is_not_removed(tmp_path):
    # the restarted site registered anew before the call (its old registration had expired): nothing to remove
    fed = trains(tmp_path=tmp_path)
    fed.engine.make_idle("b")
    since = len(fed.engine.sent)
    out = fed.step(state="rejoined", rejoin=["b"])
    assert others(fed, since) == ["deploy m client b", "start client b"]
    assert out["rejoined"]["b"][0] == "answers the server (training not started)"


def test_no_training_nothing_to_start(tmp_path):
    fed = Federation(tmp_path, sites=["a", "b"])
    restarted(fed, "b")
    out = fed.step(state="rejoined", rejoin=["b"], mmar=None)
    assert others(fed) == ["remove_client b"]
    assert out["rejoined"] == {"b": ["removed its old registration", "answers the server (training not started)",
                                     "the server is not training: nothing to join"]}


def test_several_sites_in_one_call_with_one_wait(tmp_path):
    fed = trains(("a", "b", "c"), tmp_path=tmp_path)
    restarted(fed, "a")
    fed.engine.make_idle("b")
    since = len(fed.engine.sent)
    out = fed.step(state="rejoined", rejoin=["a", "b", "a"])
    assert list(out["rejoined"]) == ["a", "b"]
    assert others(fed, since) == ["remove_client a", "deploy m client a", "start client a", "deploy m client b",
                                  "start client b"]
    assert out["rejoined"]["b"][0] == "answers the server (training not started)"


def test_the_server_still_starting_is_read_again(tmp_path):
    fed = trains(tmp_path=tmp_path)
    restarted(fed, "b")
    # the server does not answer for a while just after the removal
    real = fed.engine._remove_client

    def remove(args):
        fed.engine.server_up, fed.engine.server_back_at = False, fed.clock.now + 8
        return real(args)
    fed.engine._remove_client = remove
    out = fed.step(state="rejoined", rejoin=["b"])
    assert not out["failed"] and out["rejoined"]["b"][-1].startswith("deployed m to it")


def test_a_site_that_never_answers_fails_by_name_after_the_others_are_back(tmp_path):
    fed = trains(("a", "b", "c"), tmp_path=tmp_path, registration_timeout=60)
    restarted(fed, "a")
    fed.engine.kill("b")  # b's container does not come back
    before = fed.clock.now
    out = fed.step(state="rejoined", rejoin=["a", "b"])
    assert out["failed"] and out["msg"] == (
        "Site b did not answer the server within 60 s after its container was restarted (the others are back: a): see "
        "its log (docker logs of the site's container on its machine) and check that it reaches the server on the FL "
        "port.")
    assert "deploy m client a" in fed.engine.sent and "deploy m client b" not in fed.engine.sent
    assert out["rejoined"]["b"] == ["removed its old registration", "did not answer the server within 60 s"]
    assert out["rejoined"]["a"][-1].startswith("deployed m to it")
    assert 60 <= fed.clock.now - before <= 75


def test_sites_that_never_answer_are_named_together(tmp_path):
    fed = trains(tmp_path=tmp_path, registration_timeout=30)
    fed.engine.kill("a")
    fed.engine.kill("b")
    out = fed.step(state="rejoined", rejoin=["a", "b"])
    assert out["failed"] and out["msg"].startswith("Sites a, b did not answer the server within 30 s after their "
                                                   "container was restarted: see their log")


def test_the_engine_s_usual_answer_to_a_remove_is_no_failure(tmp_path):
    # measured: the engine removes the site and answers "Server did not respond" (the fake engine does the same)
    fed = trains(tmp_path=tmp_path)
    restarted(fed, "b")
    out = fed.step(state="rejoined", rejoin=["b"])
    assert out["rejoined"]["b"][0] == "removed its old registration"
    assert out["rejoined"]["b"][-1].startswith("deployed m to it")


def test_another_answer_to_a_remove_is_said_and_judged_by_the_wait(tmp_path):
    fed = trains(tmp_path=tmp_path)
    restarted(fed, "b")
    real = fed.engine._remove_client
    fed.engine._remove_client = lambda args: real(args) and string_reply("Error: busy\n  now")
    out = fed.step(state="rejoined", rejoin=["b"])
    assert out["rejoined"]["b"][0] == "asked the server to remove its old registration (it answered: Error: busy now)"
    assert out["rejoined"]["b"][-1].startswith("deployed m to it")


def test_a_site_to_start_without_an_mmar_fails_clearly(tmp_path):
    fed = trains(tmp_path=tmp_path)
    fed.records.save({})  # a training this module did not start: no record of its MMAR
    restarted(fed, "b")
    since = len(fed.engine.sent)
    out = fed.step(state="rejoined", rejoin=["b"], mmar=None)
    assert out["failed"] and out["msg"] == (
        "Site b answers the server again, but the server is training and the site is not: it needs the training's "
        "MMAR deployed, and neither the record nor mmar names it.")
    assert others(fed, since) == ["remove_client b"]


def test_the_record_names_the_mmar_to_deploy(tmp_path):
    fed = trains(tmp_path=tmp_path)
    restarted(fed, "b")
    out = fed.step(state="rejoined", rejoin=["b"], mmar=None)
    assert not out["failed"] and out["rejoined"]["b"][-1] == (
        "deployed m to it and started it in the running training (round 0)")


def test_a_failed_start_fails_while_the_server_trains(tmp_path):
    fed = trains(tmp_path=tmp_path)
    restarted(fed, "b")
    fed.engine.hung_start.add("b")
    out = fed.step(state="rejoined", rejoin=["b"])
    assert out["failed"] and out["msg"] == (
        "Site b answers the server again, but bringing it into the running training failed: Admin command 'start "
        "client b' failed: instance:b : No replies\n(ran before it: deploy m client b)")


def test_a_start_refused_because_the_training_just_ended_is_no_failure(tmp_path):
    fed = trains(tmp_path=tmp_path)
    restarted(fed, "b")
    real = fed.engine._deploy

    def deploy(args):  # the last round ends as the site is deployed
        reply = real(args)
        if args[2] == "client":
            fed.engine.end_training()
        return reply
    fed.engine._deploy = deploy
    out = fed.step(state="rejoined", rejoin=["b"])
    assert not out["failed"]
    assert out["rejoined"]["b"][-1] == "the training ended before the site could be started in it"


def test_check_mode_sends_nothing(tmp_path):
    fed = trains(("a", "b", "c"), tmp_path=tmp_path)
    restarted(fed, "b")
    since = len(fed.engine.sent)
    out = fed.step(check_mode=True, state="rejoined", rejoin=["b", "c"])
    assert others(fed, since) == [] and out["changed"] is True and out["state"] == "preview"
    assert out["said"][0] == "Check mode: would bring back b, c into the federation."


def test_no_sites_nothing_is_done(tmp_path):
    fed = trains(tmp_path=tmp_path)
    since = len(fed.engine.sent)
    out = fed.step(state="rejoined", rejoin=[])
    assert out["rejoined"] == {} and out["changed"] is False and out["said"] == []
    assert fed.engine.sent[since:] == ["check_status server", "check_status client"]


# --------------------------------------------------------------------------- waiting until the sites answer

def test_registered_is_not_enough_every_site_must_answer(tmp_path):
    fed = Federation(tmp_path, sites=["a", "b", "c"])
    fed.engine.kill("c")  # registered, silent
    fed.engine.at(fed.clock.now + 20, lambda: setattr(fed.engine.sites["c"], "up", True))
    t = training(fed)
    status, missing = t.wait_answering(fed.console.status(), ["a", "b", "c"], 60)
    assert missing == [] and status["clients"]["c"]["status"] == NOT_STARTED
    assert 20 <= fed.clock.now - 1000 <= 30


def test_the_wait_ends_at_its_timeout_naming_the_sites_still_silent(tmp_path):
    fed = Federation(tmp_path, sites=["a", "b", "c"])
    fed.engine.kill("b")
    fed.engine.sites["c"].registered = False
    t = training(fed)
    _status, missing = t.wait_answering(fed.console.status(), ["a", "b", "c"], 10)
    assert missing == ["b", "c"] and 10 <= fed.clock.now - 1000 <= 15


def test_a_status_that_cannot_be_read_is_read_again_until_the_deadline(tmp_path):
    fed = Federation(tmp_path, sites=["a", "b"])
    first = fed.console.status()
    fed.engine.kill("b")
    fed.engine.server_up, fed.engine.server_back_at = False, fed.clock.now + 6
    fed.engine.at(fed.clock.now + 8, lambda: setattr(fed.engine.sites["b"], "up", True))
    t = training(fed)
    _status, missing = t.wait_answering(dict(first, clients={"a": first["clients"]["a"]}), ["a", "b"], 30)
    assert missing == []
    # a server that never answers: the sites are named at the deadline, nothing raised
    fed.engine.server_up, fed.engine.server_back_at = False, None
    _status, missing = t.wait_answering({}, ["a", "b"], 10)
    assert missing == ["a", "b"]


# --------------------------------------------------------------------------- the deploy and the start

def test_a_deploy_is_sent_again_only_to_the_sites_still_missing(tmp_path):
    fed = Federation(tmp_path, sites=["a", "b", "c"])
    fed.engine.late_deploy.update({"b": 1, "c": 2})
    fed.step(state="started")
    assert [c for c in others(fed) if c.startswith("deploy") and "client" in c] == [
        "deploy clarafl_demo client", "deploy clarafl_demo client b c", "deploy clarafl_demo client c"]


def test_a_site_that_never_answers_the_deploy_is_returned(tmp_path):
    fed = Federation(tmp_path, sites=["a", "b", "c"])
    fed.engine.late_deploy.update({"b": 1, "c": 100})
    t = training(fed)
    fed.console.run(["set_run_number 1", "upload_folder clarafl_demo", "deploy clarafl_demo server"])
    assert t.deploy_clients("clarafl_demo") == ["c"]
    assert [c for c in others(fed) if c.startswith("deploy") and "client" in c] == [
        "deploy clarafl_demo client", "deploy clarafl_demo client b c", "deploy clarafl_demo client c",
        "deploy clarafl_demo client c"]


def test_a_deploy_that_fails_otherwise_is_explained(tmp_path):
    fed = Federation(tmp_path, sites=["a", "b"])
    fed.engine._deploy = lambda args: string_reply("instance:a : MMAR deployed.\ninstance:b : exception_occurred\n") \
        if args[2] == "client" else string_reply("mmar_server has been deployed.")
    out = fed.step()
    assert out["failed"] and out["msg"].startswith("Admin command 'deploy clarafl_demo client' failed: instance:a : "
                                                   "MMAR deployed.\ninstance:b : exception_occurred")
    assert "deploy clarafl_demo client b" not in fed.engine.sent
    assert [c for c in fed.engine.sent if c.startswith("tail")] == [
        "tail server -n 200 log.txt", "tail a -n 200 log.txt", "tail b -n 200 log.txt"]


def _started_server(fed):
    fed.console.run(["set_run_number 1", "upload_folder clarafl_demo", "deploy clarafl_demo server",
                     "deploy clarafl_demo client", "start server"])
    return training(fed)


def test_a_late_start_of_a_site_that_trains_is_forgiven(tmp_path):
    fed = Federation(tmp_path, sites=["a", "b"])
    t = _started_server(fed)
    fed.engine.late_start.add("b")
    since = len(fed.engine.sent)
    assert t.start_sites(["a", "b"]) == []
    assert others(fed, since) == ["start client"]


def test_a_late_site_that_does_not_train_gets_one_more_start(tmp_path):
    fed = Federation(tmp_path, sites=["a", "b"])
    t = _started_server(fed)
    fed.engine.idle_start["b"] = 1
    since = len(fed.engine.sent)
    before = fed.clock.now
    assert t.start_sites(["a", "b"]) == []
    assert others(fed, since) == ["start client", "start client b"]
    # it had LATE_START_WAIT to show that it trains before the second start
    assert fed.clock.now - before >= _training_sites.LATE_START_WAIT


def test_a_start_that_hangs_is_returned_after_one_more_start(tmp_path):
    fed = Federation(tmp_path, sites=["a", "b"])
    t = _started_server(fed)
    fed.engine.hung_start.add("b")
    since = len(fed.engine.sent)
    before = fed.clock.now
    assert t.start_sites(["a", "b"]) == ["b"]
    assert others(fed, since) == ["start client", "start client b"]
    # LATE_START_WAIT, the start again, then twice as long
    wait = _training_sites.LATE_START_WAIT
    assert 3 * wait <= fed.clock.now - before <= 3 * wait + 15


def test_only_the_late_sites_that_do_not_train_are_started_again(tmp_path):
    fed = Federation(tmp_path, sites=["a", "b", "c", "d"])
    t = _started_server(fed)
    fed.engine.late_start.add("b")
    fed.engine.idle_start["c"] = 1
    fed.engine.hung_start.add("d")
    since = len(fed.engine.sent)
    assert t.start_sites(["a", "b", "c", "d"]) == ["d"]
    assert others(fed, since) == ["start client", "start client c", "start client d"]


def test_the_wait_for_a_late_site_ends_once_it_trains(tmp_path):
    fed = Federation(tmp_path, sites=["a", "b"])
    t = _started_server(fed)
    fed.engine.idle_start["b"] = 1
    fed.engine.at(fed.clock.now + 4, lambda: setattr(fed.engine.sites["b"], "status", STARTED))
    before = fed.clock.now
    assert t.start_sites(["a", "b"]) == []
    assert fed.clock.now - before < 10 and "start client b" not in fed.engine.sent


def test_a_start_refused_otherwise_is_explained(tmp_path):
    fed = Federation(tmp_path, sites=["a", "b"])
    t = _started_server(fed)
    fed.engine.sites["b"].status = STARTED
    with pytest.raises(TrainingFailed) as err:
        t.start_sites(["a", "b"])
    assert str(err.value).startswith("Admin command 'start client' failed: instance:a : Start the client...\n"
                                     "instance:b : Client already in training.")


# --------------------------------------------------------------------------- which sites answered late

def _reply_error(command, text, registered=("site-a", "site-b"), kind="reply"):
    reply = string_reply(text) if isinstance(text, str) else text
    return ConsoleError("x", kind=kind, result={"replies": [{"command": command, "reply": reply}],
                                                "registered": list(registered)})


@pytest.mark.parametrize("command, text, late", [
    ("start client", "instance:site-a : Start the client...\ninstance:site-b : No replies\n", ["site-b"]),
    ("start client", "instance:site-a : No replies\ninstance:site-b : No replies\n", ["site-a", "site-b"]),
    ("start client site-b", "instance:site-b : No replies\n", ["site-b"]),
    ("training.start client", "instance:site-b : No replies  \ninstance:site-a : Start the client...\n", ["site-b"]),
    ("start_mgpu client 2 site-b", "instance:site-b : No replies\n", ["site-b"]),
    # every site answered: nothing is late
    ("start client", "instance:site-a : Start the client...\ninstance:site-b : Start the client...\n", []),
    # another error beside the "No replies": the command failed for real
    ("start client", "instance:site-a : Client already in training.\ninstance:site-b : No replies\n", []),
    ("start client", "instance:site-b : No replies\ninstance:site-a : Client mmar does not exist. Please deploy it "
                     "before start client.\n", []),
    ("start client", "instance:site-a : exception_occurred\ninstance:site-b : No replies\n", []),
    # a site without a line at all
    ("start client", "instance:site-b : No replies\n", []),
    # other verbs and scopes
    ("start server", "instance:site-b : No replies\n", []),
    ("deploy app client", "instance:site-a : MMAR deployed.\ninstance:site-b : No replies\n", ["site-b"]),
    ("deploy app client site-b", "instance:site-b : No replies\n", ["site-b"]),
    ("deploy app server", "instance:site-b : No replies\n", []),
    ("deploy app client", "instance:site-a : MMAR deployed.\ninstance:site-b : exception_occurred\n", []),
    ("check_status client", "instance:site-b : No replies\n", []),
    ("abort client", "instance:site-b : No replies\n", []),
    # no instance line at all
    ("start client", "No replies", []),
])
def test_late_sites(tmp_path, command, text, late):
    t = training(Federation(tmp_path))
    assert t._late(command, _reply_error(command, text)) == late


def test_late_sites_without_a_usable_reply(tmp_path):
    t = training(Federation(tmp_path))
    assert t._late("start client", _reply_error("start client", None)) == []
    assert t._late("start client", _reply_error("start client", {"status": "ERROR_RUNTIME", "details": "x"})) == []
    assert t._late("start client", _reply_error("start client", {"status": "SUCCESS",
                                                                "data": "instance:a : No replies"})) == []
    assert t._late("start client", _reply_error("start client", {"status": "SUCCESS", "data": [
        {"type": "table", "rows": [["instance:a : No replies"]]}, "instance:b : No replies"]})) == []
    # an error item beside it, another kind of failure, another command
    assert t._late("start client", _reply_error("start client", {"status": "SUCCESS", "data": [
        {"type": "string", "data": "instance:site-a : Start the client...\ninstance:site-b : No replies\n"},
        {"type": "error", "data": "boom"}]})) == []
    text = "instance:site-a : Start the client...\ninstance:site-b : No replies\n"
    assert t._late("start client", _reply_error("start client", text, kind="timeout")) == []
    assert t._late("start client site-b", _reply_error("start client", text)) == []


def test_what_is_forgiven_as_late_is_an_error_to_the_classifier(tmp_path):
    t = training(Federation(tmp_path))
    text = "instance:site-a : Start the client...\ninstance:site-b : No replies\n"
    assert t.d.classify("start client", string_reply(text))["ok"] is False
    assert t._late("start client", _reply_error("start client", text)) == ["site-b"]
