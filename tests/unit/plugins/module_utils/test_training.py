# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The training program (module_utils/_training.py), step by step, against a small federation of the fake engine
(fixtures/admin/fake_engine.py) on a fake clock, through the collection's own console, driver and dialect, with its
records in a temporary folder: a run deployed, started, followed and summarised; the engine's late and hung answers;
a killed, an idle and a restarted site brought back; a restarted server; the day-two converge; a lost run not to be
repeated; an app's failure quoted and an engine's complaint not blamed on the app; the cross-site validation."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import stat
import sys

import pytest

from ansible_collections.clarafl.federation.plugins.module_utils import _training, _training_sites
from ansible_collections.clarafl.federation.plugins.module_utils._training import Records, behind

FIX = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "fixtures", "admin")
if FIX not in sys.path:
    sys.path.insert(0, FIX)
import fake_engine  # noqa: E402  pylint: disable=wrong-import-position
from fake_engine import START, Federation as Fed  # noqa: E402  pylint: disable=wrong-import-position

SITES = ["site-a", "site-b"]
with open(os.path.join(FIX, "clara-4.0-validate-replies.json")) as _fh:
    VALIDATE = json.load(_fh)["replies"]
ENGINE_OWN = "AttributeError: 'NoneType' object has no attribute 'body'"


@pytest.fixture
def fed(tmp_path):
    return Fed(tmp_path)


# --------------------------------------------------------------------------- a run, from its start to its summary

def test_a_run_is_deployed_started_followed_and_summarised(fed):
    out = fed.step()
    assert not out["failed"] and out["state"] == "started" and out["changed"] and out["deployed"]
    assert out["run_number"] == 1 and out["plan"]["action"] == "start"
    assert out["said"][0] == ("Run 1 was not started yet: deploying MMAR clarafl_demo to sites site-a, site-b and "
                              "starting run 1 for 3 round(s).")
    assert out["said"][1].startswith("Run 1 started on 1970-01-01T00:1") and out["said"][1].endswith(
        ": set_run_number, upload_folder clarafl_demo, deploy to the server and site-a, site-b, start.")
    # the sites answered before anything was sent; then the runbook's order, one login per step of it
    assert fed.engine.sent == ["check_status server", "check_status client", "set_run_number 1",
                               "upload_folder clarafl_demo", "deploy clarafl_demo server", "check_status server",
                               "deploy clarafl_demo client", "start server", "check_status server", "start client"]
    assert out["progress"] == {"run_number": 1, "server_status": "training started", "round": 0, "max_round": 3,
                               "contributions": {}, "elapsed": 0.0}
    record = fed.record()
    assert record["run_number"] == 1 and record["phase"] == "started" and record["mmar"] == "clarafl_demo"
    assert record["sites"] == SITES and record["repeat_lost_run"] is True and record["started_epoch"] == fed.clock.now
    path = os.path.join(fed.folder, _training.RECORD)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640

    out = fed.run()
    assert out["state"] == "finished" and out["changed"] and not out["failed"]
    assert out["said"][-1] == "Run 1 finished: 3 of 3 round(s)."
    summary = out["summary"]
    assert summary["finished"] is True and summary["rounds_done"] == 3 and summary["num_rounds"] == 3
    assert summary["rounds_from"] == "the server's log" and summary["contributions"] == {"site-a": 3, "site-b": 3}
    assert summary["metrics_read"] is False and summary["metrics_path"] == "run_1/metrics.jsonl"
    assert summary["healed"] == [] and summary["server_recovered"] is False and summary["cross_site_validation"] is None
    assert summary["started_at"] == record["started_at"] and summary["sites"] == SITES
    assert fed.records.summary(1) == summary
    assert stat.S_IMODE(os.stat(os.path.join(fed.folder, "run_1-summary.json")).st_mode) == 0o640
    assert fed.record()["phase"] == "finished" and "finished_at" in fed.record()
    # every round was shown while it ran, and the end shows the engine's counter with every round aggregated
    rounds = [o["progress"]["round"] for o in fed.outs if o["progress"]]
    assert sorted(set(rounds)) == [0, 1, 2, 3] and rounds[-1] == 3
    assert fed.sent() == ["set_run_number 1", "upload_folder clarafl_demo", "deploy clarafl_demo server",
                          "deploy clarafl_demo client", "start server", "start client"]
    # a training whose rounds move has no log read
    assert not [c for c in fed.engine.sent if c.startswith("tail")]


def test_a_finished_run_is_left_alone_and_nothing_changes(fed):
    fed.run()
    sent = len(fed.engine.sent)
    out = fed.step(run_number=1)
    assert out["state"] == "finished" and out["changed"] is False and not out["failed"]
    assert out["said"] == ["Run 1 was started on %s and has finished: left alone. Set fl_admin_restart_training=true "
                           "to train it again, or a new fl_admin_run_number." % fed.record()["started_at"]]
    assert out["summary"] == fed.records.summary(1)
    assert [c for c in fed.engine.sent[sent:]] == ["check_status server", "check_status client"]


def test_the_day_two_converge_leaves_the_latest_run_alone(fed):
    """site.yml, then train.yml -e fl_admin_run_number=2, then site.yml again (no run number): run 2 is left alone."""
    assert fed.run()["run_number"] == 1
    out = fed.run(run_number=2)
    assert out["state"] == "finished" and out["run_number"] == 2 and out["summary"]["rounds_done"] == 3
    assert fed.record()["run_number"] == 2
    sent = len(fed.engine.sent)
    out = fed.step(run_number=None)
    assert out["state"] == "finished" and out["run_number"] == 2 and out["changed"] is False
    assert out["said"] == ["Run 2 finished: left alone."]
    assert fed.engine.sent[sent:] == ["check_status server", "check_status client"]
    # asking for run 1 by number is refused: run 2 came after it
    out = fed.step(run_number=1)
    assert out["failed"] and out["msg"].startswith("Run 1 is an earlier run than run 2, the last run this role started")


def test_started_is_reached_once_the_run_trains(fed):
    out = fed.step(state="started")
    assert out["state"] == "started"
    out = fed.step(state="started")
    assert out["state"] == "training" and out["plan"]["action"] == "in_progress"
    assert out["plan"]["message"] == "Run 1 is training (round 0 of 3): it goes on."


def test_a_restart_asked_for_stops_the_training_first(fed):
    fed.step()
    fed.step()
    out = fed.step(restart=True)
    assert out["state"] == "started" and out["plan"]["action"] == "restart" and out["plan"]["stop_first"]
    assert fed.sent()[6:] == ["abort client", "abort server", "set_run_number 1", "upload_folder clarafl_demo",
                              "deploy clarafl_demo server", "deploy clarafl_demo client", "start server",
                              "start client"]
    assert fed.run()["summary"]["rounds_done"] == 3


def test_check_mode_says_what_a_real_step_would_do_and_sends_nothing_that_changes(fed):
    out = fed.step(check_mode=True)
    assert out["state"] == "preview" and out["changed"] is True and not out["failed"]
    # from the live status: the server answers
    assert out["said"] == ["Check mode: Run 1 was not started yet: deploying MMAR clarafl_demo to sites site-a, site-b "
                           "and starting run 1 for 3 round(s)."]
    assert fed.sent() == [] and fed.record() == {} and out["plan"]["preview"] is False
    fed.engine.restart_server(down_for=1)
    fed.clock.sleep(5)
    fed.run()
    out = fed.step(check_mode=True, rejoin=["site-b"])
    assert out["changed"] is True and out["said"][0] == "Check mode: would bring back site-b into the federation."
    assert out["plan"]["action"] == "finished" and out["said"][1] == "Check mode: Run 1 finished: left alone."
    # without a server that answers, from the record alone
    fed.engine.restart_server(down_for=1000)
    out = fed.step(check_mode=True)
    assert out["state"] == "preview" and out["plan"]["preview"] is True and out["changed"] is False
    assert out["said"] == ["Check mode: run 1 was started on %s and has finished (3 of 3 round(s)): it would be left "
                           "alone." % fed.record()["started_at"]]


def test_a_run_needs_its_mmar_named_and_staged(fed, tmp_path):
    out = fed.step(mmar=None)
    assert out["failed"] and out["msg"] == "Run 1 is to be started, but no MMAR was named (mmar)."
    out = fed.step(staged=str(tmp_path))
    assert out["failed"] and out["msg"] == (
        "MMAR clarafl_demo is not staged at %s (it has no config/ folder): stage it first (the fl_admin role does, "
        "before it trains)." % tmp_path)
    assert fed.sent() == []
    (tmp_path / "config").mkdir()
    assert fed.step(staged=str(tmp_path))["state"] == "started"


# --------------------------------------------------------------------------- the engine's late and hung answers

def test_a_deploy_a_site_answered_late_is_sent_to_it_again(fed):
    fed.engine.late_deploy["site-b"] = 2
    before = fed.clock.now
    out = fed.step()
    assert out["state"] == "started" and not out["failed"]
    assert fed.sent()[3:] == ["deploy clarafl_demo client", "deploy clarafl_demo client site-b",
                              "deploy clarafl_demo client site-b", "start server", "start client"]
    assert fed.clock.now - before >= 2 * 3.0  # a pause before each resend
    assert fed.run()["summary"]["contributions"] == {"site-a": 3, "site-b": 3}


def test_a_site_that_never_takes_the_deploy_is_named_for_a_restart(fed):
    fed.engine.late_deploy["site-b"] = 100
    out = fed.step()
    assert out["state"] == "needs_restart" and out["restart_sites"] == ["site-b"] and not out["failed"]
    assert out["said"][-1] == ("Site site-b must be restarted: site-b did not answer the deploy, still after it was "
                               "sent 3 more times.")
    # the deploy went to it three more times; only the sites that took it were started
    assert fed.sent().count("deploy clarafl_demo client site-b") == 3
    assert fed.sent()[-2:] == ["start server", "start client site-a"]
    assert fed.record()["pending"] == {"site-b": "site-b did not answer the deploy, still after it was sent 3 more "
                                                 "times"}


def test_a_start_answered_late_by_a_site_that_trains_is_not_sent_again(fed):
    fed.engine.late_start.add("site-b")
    out = fed.step()
    assert out["state"] == "started" and out["restart_sites"] == []
    assert fed.sent()[-2:] == ["start server", "start client"]


def test_a_late_site_that_does_not_train_is_sent_its_start_once_more(fed):
    fed.engine.idle_start["site-b"] = 1
    out = fed.step()
    assert out["state"] == "started" and out["restart_sites"] == []
    assert fed.sent()[-3:] == ["start server", "start client", "start client site-b"]
    assert fed.run()["summary"]["contributions"] == {"site-a": 3, "site-b": 3}


def test_a_start_that_hangs_is_reported_in_restart_sites_and_the_site_brought_back(fed):
    fed.engine.hung_start.add("site-b")
    before = fed.clock.now
    out = fed.step()
    assert out["state"] == "needs_restart" and out["restart_sites"] == ["site-b"] and not out["failed"]
    assert out["changed"] and out["deployed"]
    assert out["said"][-1] == ("Site site-b must be restarted: the start of site-b hung (no answer to 'start client', "
                               "still after it was sent again).")
    # the start was sent to it once more, after the site had its time (LATE_START_WAIT, then twice that)
    assert fed.sent()[-3:] == ["start server", "start client", "start client site-b"]
    assert fed.clock.now - before >= 3 * _training_sites.LATE_START_WAIT
    assert fed.record()["phase"] == "started"
    # the role restarts its container and calls again with rejoin
    fed.engine.restart_site("site-b")
    out = fed.run(rejoin=["site-b"])
    assert out["state"] == "finished"
    assert ("Restarted and brought back site-b because the start of site-b hung (no answer to 'start client', still "
            "after it was sent again): removed its old registration; answers the server (training not started); "
            "deployed clarafl_demo to it and started it in the running training (round 0)") in fed.said()
    assert out["summary"]["healed"] == ["site-b"] and out["summary"]["rounds_done"] == 3
    assert fed.record()["restarts"] == {"site-b": 1} and fed.record().get("pending") == {}
    assert fed.sent()[-3:] == ["remove_client site-b", "deploy clarafl_demo client site-b", "start client site-b"]


def test_a_site_on_several_gpus_is_started_with_start_mgpu(tmp_path):
    fed = Fed(tmp_path, sites=["site-a", "site-b", "site-c"], gpus={"site-b": 2})
    assert fed.step()["state"] == "started"
    assert fed.sent()[-3:] == ["start server", "start client site-a site-c", "start_mgpu client 2 site-b"]


def test_sites_that_do_not_answer_before_the_start_are_named_for_a_restart(fed):
    fed.engine.kill("site-b")
    out = fed.step(registration_timeout=20)
    assert out["state"] == "needs_restart" and out["restart_sites"] == ["site-b"]
    assert out["said"][-1] == "Site site-b must be restarted: they did not answer the server within 20 s."
    assert fed.sent() == [] and not [c for c in fed.engine.sent if c.startswith("tail")]
    # a partner's site is never restarted: the run stops, saying what to check
    out = fed.step(registration_timeout=20, partner_sites=["site-b"])
    assert out["failed"] and out["msg"] == (
        "Run 1 waits for partner site(s) site-b (they did not answer the server within 20 s), which this controller "
        "does not run: ask its organization (site-b) to restart its container (the console's 'restart client <site>' "
        "also works), then run again.")


# --------------------------------------------------------------------------- sites lost during the training

def test_a_killed_site_is_named_for_a_restart_and_brought_back(fed):
    fed.step()
    # killed in the second round, after the first was aggregated
    fed.engine.at(START + 15, lambda: fed.engine.kill("site-b"))
    out = fed.run(recover=False)
    assert out["state"] == "needs_restart" and out["restart_sites"] == ["site-b"] and not out["failed"]
    assert out["said"][-2:] == [
        "Site site-b must be restarted: they lag behind and stopped answering the server while the training waited "
        "for them.",
        # what the server's log said is named, and not taken for the app's failure
        "The engine's own complaint in the server's log (a site that gave no reply, not the app): AttributeError: "
        "'NoneType' object has no attribute 'body'"]
    status = fed.console.status()
    assert status["clients"]["site-b"] == {"status": "No replies"} and behind(status, SITES) == ["site-b"]
    assert out["progress"]["contributions"] == {"site-a": 2, "site-b": 1}
    # it went unanswered for unanswered_timeout since the round stood still
    assert fed.clock.now - fed.record()["round_at"] >= fed.params["unanswered_timeout"] == 90
    # meanwhile the server's log was read: the engine's own traceback for the silent site is not the app's failure
    assert "tail server -n 200 log.txt" in fed.engine.sent and ENGINE_OWN in "\n".join(fed.engine.server_log)
    assert "tail site-b -n 200 log.txt" not in fed.engine.sent
    fed.engine.restart_site("site-b")
    out = fed.run(rejoin=["site-b"])
    assert out["state"] == "finished" and out["summary"]["rounds_done"] == 3
    assert any(line.startswith("Restarted and brought back site-b because they lag behind and stopped answering the "
                               "server while the training waited for them: removed its old registration; answers the "
                               "server (training not started); deployed clarafl_demo to it and started it in the "
                               "running training (round 1)") for line in fed.said())
    assert out["summary"]["healed"] == ["site-b"]
    assert out["summary"]["contributions"]["site-a"] == 3


def test_a_site_killed_again_and_again_is_given_up_on_after_max_recoveries(tmp_path):
    fed = Fed(tmp_path, num_rounds=8, max_recoveries=1)
    fed.step()
    fed.engine.at(START + 15, lambda: fed.engine.kill("site-b"))
    out = fed.run(recover=False)
    assert out["restart_sites"] == ["site-b"]
    fed.engine.restart_site("site-b")
    fed.engine.at(fed.clock.now + 12, lambda: fed.engine.kill("site-b"))
    out = fed.run(rejoin=["site-b"], recover=False)
    assert out["failed"] and out["msg"] == (
        "Run 1 is stuck on site(s) site-b (they lag behind and stopped answering the server while the training waited "
        "for them), still after 1 restart(s): see their logs (site-b: hb:/opt/clarafl/p/site-b/log.txt).")


def test_an_idle_site_is_brought_back_in_place(fed):
    fed.step()
    # site-a restarts by itself in round 1 before it submits: it answers the server and does not train
    fed.engine.at(START + 12.5, lambda: fed.engine.make_idle("site-a"))
    out = fed.run()
    assert out["state"] == "finished" and out["summary"]["rounds_done"] == 3
    assert ("Brought back site-a, which answered the server but did not train: answers the server (training not "
            "started); deployed clarafl_demo to it and started it in the running training (round 1)") in fed.said()
    # in place: its container is fine, its registration kept, nothing to restart
    assert "remove_client site-a" not in fed.sent() and all(not o["restart_sites"] for o in fed.outs)
    assert fed.record()["rejoins"] == {"site-a": 1} and out["summary"]["healed"] == ["site-a"]


def test_a_site_idle_again_after_max_recoveries_is_named_for_a_restart(fed):
    fed.params["max_recoveries"] = 1
    fed.step()
    fed.engine.at(START + 12.5, lambda: fed.engine.make_idle("site-a"))
    fed.engine.at(START + 30, lambda: fed.engine.make_idle("site-a"))
    out = fed.run(recover=False)
    assert out["state"] == "needs_restart" and out["restart_sites"] == ["site-a"]
    assert out["said"][-1] == ("Site site-a must be restarted: they answer the server but do not train, still after "
                               "being brought back 1 time(s).")


def test_rejoin_only_brings_a_restarted_site_back(fed):
    """fl_client's rejoin: state rejoined, after the site's container was restarted on its machine."""
    fed.step()
    fed.engine.kill("site-b")
    fed.engine.restart_site("site-b")
    out = fed.step(state="rejoined", rejoin=["site-b"])
    assert out["state"] == "rejoined" and out["changed"] and not out["failed"]
    assert out["rejoined"] == {"site-b": [
        "removed its old registration", "answers the server (training not started)",
        "deployed clarafl_demo to it and started it in the running training (round 0)"]}
    assert out["said"] == ["Restarted and brought back site-b because its container was restarted: removed its old "
                           "registration; answers the server (training not started); deployed clarafl_demo to it and "
                           "started it in the running training (round 0)"]
    # nothing else: no follow, no plan
    assert out["plan"] is None and fed.sent()[-3:] == ["remove_client site-b", "deploy clarafl_demo client site-b",
                                                       "start client site-b"]
    assert fed.run()["summary"]["rounds_done"] == 3
    # nothing to bring back: nothing done
    out = fed.step(state="rejoined", rejoin=[])
    assert out["state"] == "rejoined" and out["changed"] is False and out["rejoined"] == {}


def test_a_site_that_stops_making_progress_is_named_after_stall_timeout(fed):
    fed.params.update(stall_timeout=40)
    fed.step()
    # site-b's app stops submitting but it still answers and shows as training
    fed.engine.at(START + 11, lambda: setattr(fed.engine.sites["site-b"], "broken", True))
    out = fed.run(recover=False)
    assert out["state"] == "needs_restart" and out["restart_sites"] == ["site-b"]
    assert out["said"][-1] == "Site site-b must be restarted: they had stopped making progress."
    assert fed.clock.now - fed.record()["round_at"] >= 40
    # the logs read meanwhile said nothing of the app: the step went on to the stall
    assert "tail server -n 200 log.txt" in fed.engine.sent and "tail site-b -n 200 log.txt" in fed.engine.sent


def _log_reads(fed):
    reads = []
    real = fed.engine._tail

    def tail(args):
        if args[1] == "server":
            reads.append(fed.clock.now)
        return real(args)
    fed.engine._tail = tail
    return reads


def test_the_logs_are_read_once_the_round_stood_still_for_diagnose_after_and_not_more_often(fed):
    fed.params.update(stall_timeout=0, unanswered_timeout=10000)
    fed.step()
    fed.engine.at(START + 11, lambda: setattr(fed.engine.sites["site-b"], "broken", True))
    reads = _log_reads(fed)
    while fed.clock.now < START + 200:
        out = fed.step()
        assert out["state"] == "training" and not out["failed"]
    stood = fed.record()["round_at"]
    assert 20 <= reads[0] - stood < 23
    assert len(reads) >= 5 and all(20 <= b - a < 23 for a, b in zip(reads, reads[1:]))
    assert 0 <= reads[-1] - fed.record()["diagnosed_at"] <= 1  # when it decided to read them


def test_a_moving_round_puts_the_reading_of_the_logs_off(fed):
    fed.engine.ROUND_SECONDS = 18.0  # each round takes nearly diagnose_after
    fed.engine.SUBMIT_AFTER = 16.0
    reads = _log_reads(fed)
    out = fed.run()
    assert out["state"] == "finished" and reads == []


def test_a_run_that_stopped_at_its_start_through_the_app_is_quoted_without_stopping_anything(fed):
    fed.step()
    fed.engine.end_training()
    fed.engine.server_log.extend(fake_engine.log_text("server-broken-persistor.txt").splitlines())
    since = len(fed.engine.sent)
    out = fed.step()
    assert out["failed"] and out["msg"].splitlines()[:3] == [
        "The training failed: The engine's logs say why (the latest training attempt):",
        "the server (log.txt at srv:/opt/clarafl/p/server/log.txt):",
        "    FL server execution exception: clarafl test: the initial model store /models/initial.npz is not there"]
    assert "The training was stopped" not in out["msg"]
    assert [c for c in fed.engine.sent[since:] if c.startswith(("abort", "tail"))] == [
        "tail server -n 200 log.txt", "tail site-a -n 200 log.txt", "tail site-b -n 200 log.txt"]


def test_no_progress_without_a_site_behind_fails_naming_the_server_s_log(fed):
    fed.params.update(stall_timeout=40, diagnose_after=0)
    fed.step()
    for site in SITES:
        fed.engine.at(START + 11, lambda site=site: setattr(fed.engine.sites[site], "broken", True))
    out = fed.run(recover=False)
    assert out["failed"] and out["msg"] == (
        "Run 1 has made no progress for 40 s and no site lags behind the others: check the server (its log is "
        "srv:/opt/clarafl/p/server/log.txt).")


def test_the_sites_that_left_the_inventory_are_removed_from_the_server(tmp_path):
    fed = Fed(tmp_path, sites=["site-a", "site-b", "old"])
    fed.params["sites"] = SITES
    out = fed.step()
    assert out["said"][0] == ("old no longer in the inventory: removing it from the server (remove_client); the next "
                              "run trains without it.")
    assert fed.sent()[0] == "remove_client old" and out["state"] == "started"
    assert "old" not in [c["name"] for c in out["status"]["registered_clients"]]
    # a partner's site stays
    (tmp_path / "partner").mkdir()
    fed2 = Fed(tmp_path / "partner", sites=["site-a", "site-b", "p"])
    fed2.params.update(sites=SITES, partner_sites=["p"])
    fed2.step()
    assert "remove_client p" not in fed2.sent()


def test_a_site_the_server_keeps_after_remove_client_fails_the_step(tmp_path):
    fed = Fed(tmp_path, sites=["site-a", "site-b", "old"])
    fed.params["sites"] = SITES
    fed.engine._remove_client = lambda args: fake_engine.string_reply("Error: busy")
    out = fed.step()
    assert out["failed"] and out["msg"].startswith(
        "The server still has old registered after remove_client (Admin command 'remove_client old' failed: Error: "
        "busy): stop that site's container on its machine")


# --------------------------------------------------------------------------- a restarted server

def test_a_restarted_server_is_waited_for_and_the_lost_run_trained_again(fed):
    fed.step()
    fed.step()
    fed.engine.restart_server(down_for=20)
    out = fed.step()
    assert out["state"] == "waiting_server" and not out["failed"]
    assert out["server_error"].startswith("Cannot connect to the FL admin server at fl-server.test:8003 from container "
                                          "'clarafl-test-admin' (connection refused)")
    out = fed.run()
    assert out["state"] == "finished" and out["summary"]["rounds_done"] == 3
    assert out["summary"]["server_recovered"] is True
    assert ("The server no longer knows run 1, which was training (started %s): it was restarted during the training "
            "and lost the run's state. Training run 1 again from the start." % fed.record()["started_at"] in fed.said()
            or any(line.startswith("The server no longer knows run 1") for line in fed.said()))
    resumed = [o for o in fed.outs if (o["plan"] or {}).get("action") == "resume"]
    assert len(resumed) == 1
    # the sites still training the lost run are stopped before it is deployed again
    i = fed.sent().index("abort client")
    assert fed.sent()[i:i + 3] == ["abort client", "set_run_number 1", "upload_folder clarafl_demo"]
    assert fed.sent().count("start server") == 2


def test_a_server_that_goes_away_while_followed_is_waited_for(fed):
    fed.step()
    fed.engine.at(START + 13, lambda: fed.engine.restart_server(down_for=10))
    states = []
    while not states or states[-1] not in ("finished",):
        out = fed.step()
        assert not out["failed"], out["msg"]
        states.append(out["state"])
        if out["state"] == "waiting_server":
            fed.clock.sleep(3.0)
    assert "waiting_server" in states and fed.outs[-1]["summary"]["server_recovered"] is True


def test_a_lost_run_that_must_not_be_repeated_stops_with_that_sentence(fed):
    fed.step(repeat_lost_run=False)
    fed.step()
    fed.engine.restart_server(down_for=5)
    out = fed.run()
    assert out["failed"] and out["msg"] == (
        "The server no longer knows run 1, which was training (started %s): it was restarted during the training and "
        "lost the run's state. Run 1 is not trained again: its record says a lost run must not be repeated "
        "(fl_admin_repeat_lost_run was false when it started). Set fl_admin_restart_training=true to train it again "
        "from the start, or a new fl_admin_run_number." % fed.record()["started_at"])
    assert fed.sent().count("start server") == 1
    # asked to, it is trained again
    assert fed.run(restart=True)["summary"]["rounds_done"] == 3


# --------------------------------------------------------------------------- the app's failures, the engine's own

def test_an_app_that_fails_on_a_site_is_quoted_and_the_training_stopped(fed):
    fed.engine.site_app_fails["site-b"] = "site-missing-package.txt"
    out = fed.run()
    assert out["failed"]
    lines = out["msg"].splitlines()
    assert lines[0] == "The training failed: The engine's logs say why (the latest training attempt):"
    assert lines[1] == "site site-b (log.txt at hb:/opt/clarafl/p/site-b/log.txt):"
    assert lines[2].startswith("    FL client execution exception: Config error in /tmp/fl/org2/config_train.json")
    assert "    ModuleNotFoundError: No module named 'clarafl_no_such_package'" in lines
    # the frame that decided it: the app's own code
    assert "    in the app's custom/clarafl_test_missing_package.py, line 2, in <module>" in lines
    assert lines[-1] == "The training was stopped (abort client, abort server): fix the app, then run again."
    assert out["failures"]["site-b"][-1] == "in the app's custom/clarafl_test_missing_package.py, line 2, in <module>"
    assert fed.sent()[-2:] == ["abort client", "abort server"]
    # read once the round had not moved for diagnose_after (20 s), only the logs that could say why
    assert fed.clock.now - fed.record()["round_at"] >= 20
    assert "tail site-b -n 200 log.txt" in fed.engine.sent


def test_an_app_whose_server_fails_at_the_start_is_explained_from_the_server_s_log(fed):
    fed.engine.server_app_fails = "server-broken-persistor.txt"
    out = fed.step()
    assert out["failed"]
    assert out["msg"].splitlines() == [
        "Admin command 'start client' failed: Server training has not started.",
        "The engine's logs say why (the latest training attempt):",
        "the server (log.txt at srv:/opt/clarafl/p/server/log.txt):",
        "    FL server execution exception: clarafl test: the initial model store /models/initial.npz is not there",
        "    RuntimeError: clarafl test: the initial model store /models/initial.npz is not there",
        "    in the app's custom/clarafl_test_broken.py, line 9, in load_model"]
    assert sorted(out["failures"]) == ["server"]
    # a server that has not started its training reached no site: only its own log is read
    assert [c for c in fed.engine.sent if c.startswith("tail")] == ["tail server -n 200 log.txt"]


def test_a_failed_server_deploy_reads_only_the_server_s_log(fed):
    fed.engine.transfer = set()
    out = fed.step()
    assert out["failed"] and out["msg"].startswith(
        "Admin command 'upload_folder clarafl_demo' failed: \"/workspace/admin/transfer/clarafl_demo\" is not a valid "
        "folder\nClient did not respond\n(ran before it: set_run_number 1)\n(not sent: deploy clarafl_demo server)")
    assert [c for c in fed.engine.sent if c.startswith("tail")] == ["tail server -n 200 log.txt"]
    # without anything in the log, nothing is added
    assert "The engine's logs say why" not in out["msg"] and out["failures"] == {}


def test_the_engine_s_complaint_is_never_blamed_on_the_app(fed):
    """The server's log holds the engine's own traceback (a site that gave no reply) while the round stands still:
    the logs are read and nothing is blamed; the site is brought back instead."""
    fed.step()
    fed.engine.server_log.extend(fake_engine.log_text("server-site-killed.txt").splitlines()[-60:])
    fed.engine.at(START + 15, lambda: fed.engine.kill("site-b"))
    out = fed.run()
    assert not out["failed"] and out["state"] == "finished"
    assert "tail server -n 200 log.txt" in fed.engine.sent
    assert not any("The training failed" in line for line in fed.said())
    assert out["summary"]["healed"] == ["site-b"]


def test_a_run_that_stopped_without_training_its_rounds(fed):
    fed.step()
    fed.engine.end_training()  # the server stops at once, nothing aggregated
    out = fed.step()
    assert out["state"] == "training" and not out["failed"]  # a start may still show as stopped for a while
    assert "tail server -n 200 log.txt" in fed.engine.sent  # read: nothing of the app there
    fed.clock.sleep(_training.START_GRACE)
    out = fed.step()
    assert out["failed"] and out["msg"] == ("Run 1 stopped without training its rounds (0 aggregated): see the "
                                            "server's log (srv:/opt/clarafl/p/server/log.txt).")


def test_the_logs_read_are_the_server_s_and_the_registered_sites_(fed):
    # a site gone from the server (its container stopped) has no log the console can read
    fed.step()
    fed.engine.end_training()
    fed.engine.sites["site-b"].registered = False
    since = len(fed.engine.sent)
    out = fed.step()
    assert not out["failed"] and out["state"] == "training"
    assert [c for c in fed.engine.sent[since:] if c.startswith("tail")] == ["tail server -n 200 log.txt",
                                                                           "tail site-a -n 200 log.txt"]


def test_a_run_that_ended_before_it_was_seen_training_counts_the_rounds_of_the_log(fed):
    # a short run ended between two steps: the log shows every round since its start
    fed.step()
    fed.clock.sleep(60)
    out = fed.step()
    assert out["state"] == "finished" and out["summary"]["rounds_done"] == 3
    assert fed.record().get("seen_training") is False


def test_the_highest_contributions_are_kept_when_the_server_resets_them(fed):
    fed.step()
    fed.step()
    fed.engine.late_deploy = {}
    out = fed.run()
    assert out["status"]["registered_clients"][0]["contribution_count"] == 0  # reset by the server at the end
    assert out["summary"]["contributions"] == {"site-a": 3, "site-b": 3}


def test_a_step_follows_at_most_progress_interval_seconds(fed):
    fed.engine.ROUND_SECONDS = 500.0
    fed.step()
    fed.step()
    before = fed.clock.now
    out = fed.step(progress_interval=30)
    assert out["state"] == "training" and 30 <= fed.clock.now - before <= 35
    assert out["progress"]["round"] == 0 and out["progress"]["contributions"] == {"site-a": 1, "site-b": 1}


# --------------------------------------------------------------------------- the cross-site validation

@pytest.fixture
def xfed(tmp_path):
    fed = Fed(tmp_path, sites=["xv-a", "xv-b"], cross_site_validation=True, log_files={})
    return fed


def test_the_cross_site_validation_is_waited_for_and_kept_in_the_summary(xfed):
    xfed.engine.validation = {"seconds": 40, "replies": [VALIDATE["before_results"], VALIDATE["complete"]]}
    out = xfed.run(progress_interval=20, until=("finished",))
    assert out["state"] == "finished"
    matrix = out["summary"]["cross_site_validation"]
    assert matrix["state"] == "complete" and matrix["aborted"] == [] and matrix["timeout"] == 300
    assert matrix["models"][0] == "FL_global_model" and matrix["sites"] == ["xv-a", "xv-b"] and matrix["lines"]
    validating = [o for o in xfed.outs if o["state"] == "validating"]
    assert validating and validating[0]["progress"]["validation"] == "empty"
    assert validating[0]["progress"]["validating"] == ["xv-a", "xv-b"]
    assert "abort client xv-a" not in xfed.sent() and "abort client xv-b" not in xfed.sent()


def test_a_complete_matrix_ends_the_wait_though_sites_still_say_they_validate(xfed):
    # seen on the engine: every result in, yet the sites' status still "cross site validation"
    xfed.engine.validation = {"seconds": 1000, "replies": [VALIDATE["complete"], VALIDATE["complete"]]}
    out = xfed.run()
    assert out["summary"]["cross_site_validation"]["state"] == "complete"
    assert out["summary"]["cross_site_validation"]["aborted"] == []


def test_a_site_that_opted_out_ends_the_wait_once_nobody_validates(xfed):
    xfed.engine.validation = {"seconds": 10, "replies": [VALIDATE["before_results"], VALIDATE["opted_out"]]}
    out = xfed.run()
    matrix = out["summary"]["cross_site_validation"]
    assert matrix["state"] == "partial" and any("xv-b" in line for line in matrix["missing"])
    # it waited for the settle time after the last site stopped validating, not for the timeout
    assert xfed.clock.now - xfed.record()["ended_at"] < 60


def test_a_validation_that_hangs_is_stopped_at_its_timeout_naming_the_site(xfed):
    xfed.engine.validation = {"seconds": 10000, "replies": [VALIDATE["partial_site_missing"]] * 2}
    out = xfed.run(validation_timeout=120)
    matrix = out["summary"]["cross_site_validation"]
    assert matrix["state"] == "partial" and matrix["aborted"] == ["xv-a", "xv-b"] and matrix["timeout"] == 120
    assert xfed.sent()[-1] == "abort client xv-a xv-b"
    assert 120 <= xfed.clock.now - xfed.record()["ended_at"] < 140


def test_an_app_without_cross_validation_ends_the_wait_quickly_with_no_results(xfed):
    out = xfed.run()
    matrix = out["summary"]["cross_site_validation"]
    assert matrix["state"] == "empty" and matrix["aborted"] == []
    assert xfed.clock.now - xfed.record()["ended_at"] < 30


# --------------------------------------------------------------------------- the records

def test_records_that_cannot_be_read_count_as_none(tmp_path):
    records = Records(str(tmp_path))
    assert records.record() == {} and records.summary(1) == {}
    (tmp_path / _training.RECORD).write_text(u"{broken")
    (tmp_path / "run_2-summary.json").write_text(u"[1, 2]")
    assert records.record() == {} and records.summary(2) == {}
    records.save({"run_number": 3})
    assert records.record() == {"run_number": 3}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_behind_are_the_sites_with_fewer_contributions_or_none():
    def status(counts):
        return {"registered_clients": [{"name": s, "contribution_count": n} for s, n in counts.items()]}
    sites = ["a", "b", "c"]
    assert behind(status({"a": 3, "b": 3, "c": 3}), sites) == []
    assert behind(status({"a": 3, "b": 2, "c": 3}), sites) == ["b"]
    assert behind(status({"a": 3, "b": 3}), sites) == ["c"]
    assert behind(status({"a": None, "b": None, "c": None}), sites) == sites
    assert behind({}, sites) == sites
    # a site that trained its last round and validates the others' models is not behind
    assert behind(status({"a": 1, "b": 1, "c": 0}), sites) == ["c"]


# --------------------------------------------------------------------------- the project's run lock

def _holder(token):
    return {"token": token, "controller": "controller", "pid": 4242, "user": "ops", "playbook": "site.yml",
            "started": "2026-12-07T19:00:00+00:00"}


def test_a_followed_training_keeps_the_project_s_run_lock_alive(fed, tmp_path):
    from ansible_collections.clarafl.federation.plugins.module_utils import run_lock
    path = str(tmp_path / "lock" / "run.lock")
    assert run_lock.acquire(path, _holder("a" * 32), settle=0)["acquired"]
    lock = {"path": path, "holder": _holder("a" * 32)}
    begun = fed.clock.now
    out = fed.step(lock=lock)
    # said alive at the step's start
    assert not out["failed"] and fed.record()["heartbeat_at"] == begun
    first = run_lock.read(path, settle=0)
    # at most once a minute: a later step within it writes nothing
    fed.clock.sleep(10)
    fed.step(lock=lock)
    assert run_lock.read(path, settle=0) == first
    out = fed.run(lock=lock)
    assert out["state"] == "finished" and not out["failed"]


def test_a_lock_broken_by_stop_yml_ends_the_following_and_leaves_the_training(fed, tmp_path):
    from ansible_collections.clarafl.federation.plugins.module_utils import run_lock
    path = str(tmp_path / "lock" / "run.lock")
    assert run_lock.acquire(path, _holder("a" * 32), settle=0)["acquired"]
    assert fed.step(lock={"path": path, "holder": _holder("a" * 32)})["state"] == "started"
    # playbooks/stop.yml breaks the lock to stop the training: it holds it now
    assert run_lock.acquire(path, _holder("b" * 32), steal=True, settle=0)["acquired"]
    fed.clock.sleep(_training.HEARTBEAT)
    out = fed.step(lock={"path": path, "holder": _holder("a" * 32)})
    assert out["failed"] and out["msg"].startswith(
        "The project's run lock at %s is no longer this run's (now held by run bbbb\u2026 by ops on controller "
        "(ansible-playbook pid 4242, playbook site.yml)" % path), out["msg"]
    assert out["msg"].endswith("This run stops following run 1; the training itself is left as it is.")
    assert fed.sent()[-1] == "start client"  # nothing sent to the training


# --------------------------------------------------------------------------- partner sites (their own controller)

def test_a_partner_site_that_joined_trains_with_the_others_and_is_counted(tmp_path):
    fed = Fed(tmp_path, sites=("site-a", "site-b", "org2"))
    out = fed.run(sites=["site-a", "site-b"], partner_sites=["org2"], partner_contacts={"org2": "it@org2.example"},
                  partner_wait=30, min_num_clients=3)
    assert out["state"] == "finished" and not out["failed"]
    assert "start client" in fed.sent()
    summary = out["summary"]
    assert summary["sites"] == ["site-a", "site-b", "org2"] and summary["missing_partners"] == []
    assert summary["contributions"]["org2"] >= 1
    assert not [line for line in fed.said() if "not joined" in line]


def test_a_partner_that_never_joins_is_named_with_its_contact_and_the_run_goes_on_when_it_may(tmp_path):
    fed = Fed(tmp_path, sites=("site-a", "site-b"))
    begun = fed.clock.now
    params = dict(partner_sites=["org9"], partner_contacts={"org9": "it@org9.example"}, partner_wait=30,
                  min_num_clients=2)
    out = fed.step(**params)
    # the step that names the missing partner ends there, so that the sentence is shown before the deploy
    assert out["state"] == "starting" and not out["failed"]
    said = [line for line in out["said"] if "not joined" in line]
    assert said == ["Partner site org9 has not joined after 30 s: ask it@org9.example (org9). Training run 1 with the "
                    "2 site(s) present (min_num_clients 2)."]
    assert "set_run_number 1" not in fed.sent()
    # named once the wait is over, not before, nor much later
    assert 30 <= fed.clock.now - begun <= 33
    # the next step deploys without waiting again, and says nothing of the partner again
    named = fed.clock.now
    out = fed.step(**params)
    assert out["state"] == "started" and not [line for line in out["said"] if "not joined" in line]
    assert fed.clock.now - named < 15
    out = fed.run(partner_sites=["org9"], partner_contacts={"org9": "it@org9.example"}, partner_wait=30,
                  min_num_clients=2)
    assert out["state"] == "finished" and out["summary"]["missing_partners"] == ["org9"]
    assert out["summary"]["sites"] == ["site-a", "site-b"]


def test_a_partner_the_run_cannot_do_without_stops_it_with_that_sentence(tmp_path):
    fed = Fed(tmp_path, sites=("site-a", "site-b"))
    out = fed.step(partner_sites=["org9"], partner_contacts={"org9": "it@org9.example"}, partner_wait=30,
                   min_num_clients=3)
    assert out["failed"] and out["msg"] == (
        "Partner site org9 has not joined after 30 s: ask it@org9.example (org9). Run 1 needs 3 site(s) "
        "(min_num_clients) and 2 are there: it is not started.")
    assert "set_run_number 1" not in fed.sent()


def test_a_partner_that_dies_during_the_run_is_never_restarted_from_here(tmp_path):
    fed = Fed(tmp_path, sites=("site-a", "site-b", "org2"))
    params = dict(sites=["site-a", "site-b"], partner_sites=["org2"], partner_contacts={"org2": "it@org2.example"},
                  partner_wait=30, min_num_clients=3)
    assert fed.step(**params)["state"] == "started"
    fed.engine.at(START + 15, lambda: fed.engine.kill("org2"))
    out = fed.run(recover=False, **params)
    assert out["failed"] and out["restart_sites"] == []
    assert out["msg"].startswith("Run 1 waits for partner site(s) org2 (they lag behind and stopped answering the "
                                 "server while the training waited for them), which this controller does not run: "
                                 "ask it@org2.example (org2) to restart its container")


def test_a_partner_still_registered_but_gone_is_left_out_of_the_deploy_and_the_start(tmp_path):
    # org2's organization tore its site down; the server keeps its registration until its heartbeat times out
    fed = Fed(tmp_path, sites=("site-a", "site-b", "org2"))
    fed.engine.kill("org2")
    out = fed.run(sites=["site-a", "site-b"], partner_sites=["org2"], partner_contacts={"org2": "it@org2.example"},
                  partner_wait=30, min_num_clients=2)
    assert out["state"] == "finished" and not out["failed"], out.get("msg")
    assert "deploy clarafl_demo client site-a site-b" in fed.sent() and "deploy clarafl_demo client" not in fed.sent()
    assert "start client site-a site-b" in fed.sent() and "start client" not in fed.sent()
    assert out["summary"]["missing_partners"] == ["org2"] and out["restart_sites"] == []


def test_missing_partners_are_named_on_time_when_each_reading_is_slow(tmp_path):
    # a gone partner that is still registered makes the server wait for its reply: every reading takes 10 s
    fed = Fed(tmp_path, sites=("site-a", "site-b", "org2"))
    fed.engine.kill("org2")
    fed.engine.exchange_seconds = 10.0
    begun = fed.clock.now
    out = fed.step(sites=["site-a", "site-b"], partner_sites=["org2"], partner_contacts={"org2": "it@org2.example"},
                   partner_wait=30, min_num_clients=2)
    assert out["state"] == "starting" and [line for line in out["said"] if "not joined after 30 s" in line], out
    # the wait counts from the step's start, and its last reading ends by the deadline, not one reading after it
    assert 30 <= fed.clock.now - begun <= 40, fed.clock.now - begun


def test_a_run_that_ends_between_two_readings_counts_the_contributions_the_server_logged(tmp_path):
    # min_num_clients 1 and a tiny app: every round is over before the status is read again, and the server resets
    # its counters when the run ends; the server's log still names each submission by the site's token
    fed = Fed(tmp_path)
    fed.engine.ROUND_SECONDS, fed.engine.SUBMIT_AFTER = 0.05, 0.01
    out = fed.run()
    assert out["state"] == "finished" and not out["failed"], out.get("msg")
    assert out["summary"]["rounds_done"] == 3
    assert out["summary"]["contributions"] == {"site-a": 3, "site-b": 3}
