# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What fl_training does with a training run, case by case (module_utils/_training_plan.py): from the record, the
run's summary and the server's live status (None: check mode)."""

from __future__ import absolute_import, division, print_function

import json

import pytest

from ansible_collections.clarafl.federation.plugins.module_utils._training_plan import (
    ACTIONS,
    plan_run,
    read_record,
    run_number_of,
)

SITES = ["org1-a", "org1-b", "org2"]
KEYS = {"action", "message", "stop_first", "stale_sites", "deploy", "follow", "preview", "previous", "run_number"}
T1 = "2026-11-30T02:10:00+00:00"
T0 = "2026-11-29T08:00:00+00:00"


def started(run=1, at=T1, phase="started"):
    return {"run_number": run, "mmar": "clarafl_demo", "phase": phase, "started_at": at}


def summary(finished=True, at=T1, rounds=5):
    return {"finished": finished, "started_at": at, "rounds_done": rounds if finished else 2, "num_rounds": rounds}


def server(run=None, state="training stopped", current=0, max_round=5, clients=None):
    return {"run_number": run, "server_status": state, "current_round": current, "max_round": max_round,
            "clients": clients if clients is not None else dict((s, {"status": "training stopped"}) for s in SITES)}


def plan(run_number=1, **kwargs):
    kwargs.setdefault("sites", SITES)
    kwargs.setdefault("mmar", "clarafl_demo")
    kwargs.setdefault("num_rounds", 5)
    result = plan_run(run_number, **kwargs)
    assert set(result) == KEYS
    assert result["action"] in ACTIONS
    assert result["deploy"] == (result["action"] in ("start", "restart", "resume"))
    assert result["follow"] == (result["action"] in ("start", "restart", "resume", "in_progress"))
    assert result["preview"] == (not isinstance(kwargs.get("status"), dict))
    assert result["message"].startswith("Check mode: ") == result["preview"]
    if not result["deploy"]:
        assert not result["stop_first"] and result["stale_sites"] == []
    return result


# --- the live status (a real run) ---------------------------------------------------------------------

def test_a_fresh_project_starts_the_run():
    result = plan(state=None, summary=None, status=server(run=None, state="stopped"))
    assert result["action"] == "start"
    assert result["message"] == ("Run 1 was not started yet: deploying MMAR clarafl_demo to sites org1-a, org1-b, org2 "
                                 "and starting run 1 for 5 round(s).")
    assert not result["stop_first"] and result["stale_sites"] == [] and result["previous"] == {}


def test_a_new_run_number_after_a_finished_run_starts_it():
    result = plan(2, state=started(1), summary=None, status=server(run=1))
    assert result["action"] == "start" and result["message"].startswith("Run 2 was not started yet: deploying")
    assert result["previous"] == started(1)


def test_a_new_run_number_while_another_run_trains_stops_that_one_first():
    result = plan(3, state=started(2), status=server(run=2, state="training started", current=1))
    assert result["action"] == "start" and result["stop_first"]
    assert result["message"] == ("Run 3 was not started yet: stopping the training of run 2 (round 1 of 5), then "
                                 "deploying MMAR clarafl_demo to sites org1-a, org1-b, org2 and starting run 3 for 5 "
                                 "round(s).")


def test_a_run_in_progress_is_left_alone_and_followed():
    result = plan(2, state=started(2), status=server(run=2, state="training started", current=3))
    assert result["action"] == "in_progress"
    assert result["message"] == "Run 2 is training (round 3 of 5): it goes on."
    assert result["follow"] and not result["deploy"] and not result["stop_first"]


def test_a_console_restarted_mid_run_follows_the_run_it_finds_training():
    # the playbook that started the run died; the server still trains it: follow it, whatever the phase says
    for state in (started(1), started(1, phase="deploying"), None, started(1, at=None)):
        result = plan(state=state, status=server(run=1, state="training started", current=2))
        assert result["action"] == "in_progress", state


def test_a_finished_run_is_left_alone():
    result = plan(state=started(1), summary=summary(), status=server(run=1))
    assert result["action"] == "finished" and not result["follow"]
    assert result["message"] == ("Run 1 was started on %s and has finished: left alone. Set "
                                 "fl_admin_restart_training=true to train it again, or a new fl_admin_run_number."
                                 % T1)
    assert "has finished: left alone" in result["message"]


def test_the_server_lost_the_run_it_is_trained_again():
    for kept in (None, summary(finished=False), summary(at=T0), {"finished": "no", "started_at": T1}):
        result = plan(state=started(1), summary=kept, status=server(run=None, state="stopped"))
        assert result["action"] == "resume", kept
        assert result["message"] == (
            "The server no longer knows run 1, which was training (started %s): it was restarted during the "
            "training and lost the run's state. Training run 1 again from the start." % T1)
        assert result["message"].startswith("The server no longer knows run 1")
        assert not result["stop_first"]


def test_the_server_lost_a_run_that_had_finished_it_is_left_alone():
    for kept in (summary(), dict(summary(), finished="true"), json.dumps(summary())):
        result = plan(state=started(1), summary=kept, status=server(run=None, state="stopped"))
        assert result["action"] == "finished", kept
        assert "has finished: left alone" in result["message"]


def test_the_sites_still_training_a_lost_run_are_listed_to_be_stopped():
    clients = {"org1-a": {"status": "training started"}, "org1-b": {"status": "training stopped"},
               "org2": {"status": "training started"}, "stranger": {"status": "training started"},
               "odd": None, "bare": {}}
    result = plan(state=started(1), status=server(run=None, state="stopped", clients=clients))
    assert result["action"] == "resume" and result["stale_sites"] == ["org1-a", "org2"]
    # without the federation's sites, every site still training is listed
    assert plan(state=started(1), status=server(run=None, state="stopped", clients=clients),
                sites=())["stale_sites"] == ["org1-a", "org2", "stranger"]
    # a server that trains is stopped as a whole (stop_first), not site by site
    busy = plan(restart=True, state=started(1), status=server(run=1, state="training started", clients=clients))
    assert busy["stop_first"] and busy["stale_sites"] == []
    # nothing is deployed: nothing is stopped
    assert plan(state=started(1), summary=summary(),
                status=server(run=None, state="stopped", clients=clients))["stale_sites"] == []


def test_a_deploy_left_by_a_killed_run_is_started_again():
    for status in (server(run=1), server(run=None, state="stopped")):
        result = plan(state=started(1, at=None, phase="deploying"), status=status)
        assert result["action"] == "start"
        assert result["message"].startswith("Run 1 was being deployed when the last run of this role stopped: "
                                            "deploying MMAR clarafl_demo")


def test_a_run_this_role_did_not_start_is_left_alone():
    for state in (None, {}, started(0), {"phase": "started"}, started(1, phase="odd")):
        assert plan(state=state, status=server(run=1))["action"] == "unknown", state
    result = plan(state=None, status=server(run=1))
    assert result["message"] == ("Run 1 already exists on the server and was not started by this role: left alone. "
                                 "Set fl_admin_restart_training=true to train it, or a new fl_admin_run_number.")


def test_the_record_of_another_run_does_not_make_a_run_finished():
    # the server stands at run 3 (set by hand) and the record names run 1: not this role's run 3
    assert plan(3, state=started(1), summary=summary(), status=server(run=3))["action"] == "unknown"


@pytest.mark.parametrize("state,kept,status,stop_first", [
    (None, None, server(run=None, state="stopped"), False),                         # fresh
    (started(1), None, server(run=1, state="training started", current=3), True),   # in progress
    (started(1), summary(), server(run=1), False),                                  # finished
    (started(1), None, server(run=None, state="stopped"), False),                   # lost
    (started(1), summary(), server(run=None, state="stopped"), False),              # lost after it finished
    (None, None, server(run=1), False),                                             # not started by the role
    (started(1, phase="deploying"), None, server(run=1), False),                    # deploy left by a killed run
    (started(2), summary(), server(run=2, state="training started"), True),         # earlier run, run 2 trains
])
def test_a_restart_asked_trains_the_run_again_stopping_a_training_first(state, kept, status, stop_first):
    result = plan(restart=True, state=state, summary=kept, status=status)
    assert result["action"] == "restart" and result["deploy"] and result["follow"]
    assert result["stop_first"] is stop_first
    assert result["message"].startswith("fl_admin_restart_training is set: ")
    assert result["message"].endswith("deploying MMAR clarafl_demo to sites org1-a, org1-b, org2 and training run 1 "
                                      "again from the start for 5 round(s).")
    assert ("stopping the training of run %s" % status["run_number"] in result["message"]) is stop_first


def test_a_restart_says_which_training_it_stops():
    result = plan(restart=True, state=started(1), status=server(run=1, state="training started", current=3))
    assert result["message"] == ("fl_admin_restart_training is set: stopping the training of run 1 (round 3 of 5), "
                                 "then deploying MMAR clarafl_demo to sites org1-a, org1-b, org2 and training run 1 "
                                 "again from the start for 5 round(s).")


def test_an_earlier_run_is_refused():
    for status in (server(run=2), server(run=None, state="stopped"), server(run=1),
                   server(run=2, state="training started", current=2)):
        result = plan(1, state=started(2), summary=summary(), status=status)
        assert result["action"] == "refuse", status
        # the training of the later run is never stopped for it
        assert not result["stop_first"] and not result["deploy"] and not result["follow"]
        assert result["message"] == (
            "Run 1 is an earlier run than run 2, the last run this role started, and its results are in its own run "
            "folder (run_1): refused. Set fl_admin_restart_training=true to train run 1 again from scratch, or a new "
            "fl_admin_run_number to start a new run.")


def test_an_earlier_run_asked_with_a_restart_is_trained_again():
    result = plan(1, restart=True, state=started(2), status=server(run=2))
    assert result["action"] == "restart" and not result["stop_first"]


def test_an_earlier_run_the_server_trains_now_is_followed():
    result = plan(1, state=started(2), status=server(run=1, state="training started", current=1))
    assert result["action"] == "in_progress"


# --- check mode: no status ---------------------------------------------------------------------------

def test_check_mode_on_a_fresh_project_would_start_the_run():
    result = plan(state=None, summary=None, status=None, sites=["org1-a", "org1-b", "org2"])
    assert result["action"] == "start" and result["preview"] and result["deploy"]
    assert result["message"] == (
        "Check mode: run 1 was not started by this role: would stage MMAR clarafl_demo, wait until sites org1-a, "
        "org1-b, org2 answer the server, then set run number 1, upload, deploy and start it for 5 round(s).")
    assert result["message"].startswith("Check mode: run 1 was not started by this role: would stage MMAR clarafl_demo")
    assert plan(state=None, status=None, sites=(), num_rounds=None)["message"] == (
        "Check mode: run 1 was not started by this role: would stage MMAR clarafl_demo, wait until sites (none) "
        "answer the server, then set run number 1, upload, deploy and start it.")


def test_check_mode_on_a_finished_run_would_leave_it_alone():
    result = plan(state=started(1), summary=summary(), status=None)
    assert result["action"] == "finished" and not result["deploy"]
    assert result["message"] == ("Check mode: run 1 was started on %s and has finished (5 of 5 round(s)): it would "
                                 "be left alone." % T1)


def test_check_mode_on_a_run_that_has_not_finished_would_follow_it():
    for kept in (None, summary(finished=False), summary(at=T0)):
        result = plan(state=started(1), summary=kept, status=None)
        assert result["action"] == "in_progress" and not result["deploy"]
        assert result["message"] == (
            "Check mode: run 1 was started on %s and has not finished: a real run would follow it to its last round, "
            "or train it again if the server has lost it." % T1)


def test_check_mode_with_a_restart_would_train_the_run_again():
    result = plan(state=started(1), summary=summary(), status=None, restart=True)
    assert result["action"] == "restart" and not result["stop_first"]
    assert result["message"] == (
        "Check mode: fl_admin_restart_training is set: would stage MMAR clarafl_demo, wait until sites org1-a, "
        "org1-b, org2 answer the server, then set run number 1, upload, deploy and start it for 5 round(s) (any "
        "training of run 1 is stopped first).")


def test_check_mode_on_a_deploy_left_by_a_killed_run_would_start_it():
    result = plan(state=started(1, phase="deploying"), status=None)
    assert result["action"] == "start"
    assert result["message"].startswith("Check mode: run 1 was being deployed when the last run stopped: would stage")


def test_check_mode_on_an_earlier_run_would_refuse_it():
    result = plan(1, state=started(2), summary=summary(), status=None)
    assert result["action"] == "refuse" and not result["deploy"]
    assert result["message"] == (
        "Check mode: run 1 is an earlier run than run 2, the last run this role started, and its results are in its "
        "own run folder (run_1): a real run would refuse it. Set fl_admin_restart_training=true to train run 1 again "
        "from scratch, or a new fl_admin_run_number to start a new run.")
    assert plan(1, state=started(2), status=None, restart=True)["action"] == "restart"


def test_check_mode_on_another_run_number_would_start_it():
    assert "run 2 was not started by this role" in plan(2, state=started(1), summary=summary(), status=None)["message"]


# --- inputs of an older version, or garbled ----------------------------------------------------------

@pytest.mark.parametrize("state", [None, "", "not json", "[1, 2]", b"\xff\xfe", 42, ["run_number", 1], {},
                                   {"run_number": "one", "phase": 5}, {"run_number": True, "phase": "started"},
                                   {"phase": None, "started_at": None}, '{"run_number": "1", "phase": "started"}',
                                   {"run_number": 1.5, "phase": "started"}])
@pytest.mark.parametrize("kept", [None, "garbage", {"finished": None}, {"finished": "yes", "started_at": None},
                                  [], {"rounds_done": "?", "num_rounds": None}])
@pytest.mark.parametrize("status", [None, "garbled", {}, {"run_number": "abc", "clients": "x"},
                                    {"run_number": None, "server_status": None, "clients": {"a": None, "b": 3}},
                                    server(run="1", state="training started", current=None, max_round=None)])
def test_garbled_inputs_give_a_plan_and_never_raise(state, kept, status):
    result = plan(state=state, summary=kept, status=status)
    assert isinstance(result["message"], str) and result["message"]
    assert isinstance(result["previous"], dict) and isinstance(result["stale_sites"], list)


def test_garbled_fields_are_read_as_missing():
    # a record without its session's time cannot be told finished by a summary without one either
    assert plan(state=started(1, at=None), summary=summary(at=None),
                status=server(run=None, state="stopped"))["action"] == "resume"
    # a record of an older version, as JSON text, with its number as text
    text = json.dumps({"run_number": "1", "phase": "started", "started_at": T1})
    assert plan(state=text, summary=json.dumps(summary()), status=server(run=None, state="stopped"))["action"] == (
        "finished")
    # the status's rounds missing: said as '?'
    result = plan(state=started(1), status=server(run="1", state="training started", current=None, max_round=None))
    assert result["message"] == "Run 1 is training (round ? of ?): it goes on."
    # a record that cannot be read is no record
    assert plan(state="{broken", status=server(run=None, state="stopped"))["action"] == "start"
    # the run number as the role passes it (text), a restart flag as text
    assert plan("2", restart="true", status=server(run=1))["action"] == "restart"
    assert plan("2", restart="false", status=server(run=1))["action"] == "start"


def test_a_run_number_that_is_not_a_number_is_an_error():
    for bad in ("one", True, 1.5, "1.5", [1]):
        with pytest.raises(ValueError, match="the run number must be a whole number"):
            plan_run(bad)
        with pytest.raises(ValueError, match="the run number must be a whole number"):
            run_number_of(bad, started(2))


# --- no run number asked for: the record's latest run (the day-two converge) --------------------------

def test_no_run_number_means_the_records_latest_run_or_run_1():
    assert run_number_of(None) == 1 and run_number_of("", None) == 1 and run_number_of("  ", "garbled") == 1
    assert run_number_of(None, started(2)) == 2 and run_number_of(None, json.dumps(started(3))) == 3
    assert run_number_of(None, {"run_number": "4"}) == 4 and run_number_of(None, {"run_number": "x"}) == 1
    # a number asked for wins over the record
    assert run_number_of(1, started(2)) == 1 and run_number_of("5", started(2)) == 5
    assert plan(None, state=None, status=server(run=None, state="stopped"))["run_number"] == 1


def test_a_federation_that_moved_on_is_left_alone_by_a_converge():
    # train.yml -e fl_admin_run_number=2 trained run 2; a plain site.yml (no run number) then leaves it alone
    result = plan(None, state=started(2), summary=summary(), status=server(run=2))
    assert result["action"] == "finished" and result["run_number"] == 2 and not result["deploy"]
    assert result["message"] == "Run 2 finished: left alone."
    # asked for by number, the sentence says how to train it again
    asked = plan(2, state=started(2), summary=summary(), status=server(run=2))
    assert asked["action"] == "finished" and asked["message"].startswith("Run 2 was started on %s and has finished: "
                                                                         "left alone. Set " % T1)
    # the latest run still training is followed, not refused
    result = plan(None, state=started(2), status=server(run=2, state="training started", current=1))
    assert result["action"] == "in_progress" and result["run_number"] == 2
    # an earlier run asked for by number is still refused
    assert plan(1, state=started(2), summary=summary(), status=server(run=2))["action"] == "refuse"
    # check mode says the same from the record alone
    preview = plan(None, state=started(2), summary=summary(), status=None)
    assert preview["action"] == "finished" and preview["run_number"] == 2 and "run 2 was started" in preview["message"]


# --- a run the server lost whose record says it must not be repeated ------------------------------------

def test_a_lost_run_the_record_says_must_not_be_repeated_is_stopped_with_that_sentence():
    record = dict(started(1), repeat_lost_run=False)
    result = plan(state=record, status=server(run=None, state="training not started"))
    assert result["action"] == "lost" and not result["deploy"] and not result["follow"]
    assert result["message"] == (
        "The server no longer knows run 1, which was training (started %s): it was restarted during the training and "
        "lost the run's state. Run 1 is not trained again: its record says a lost run must not be repeated "
        "(fl_admin_repeat_lost_run was false when it started). Set fl_admin_restart_training=true to train it again "
        "from the start, or a new fl_admin_run_number." % T1)
    # the record says nothing, or says to repeat it: trained again
    for value in (True, None, "no"):
        assert plan(state=dict(started(1), repeat_lost_run=value),
                    status=server(run=None, state="stopped"))["action"] == "resume", value
    # a restart asked for trains it all the same; a finished run lost is left alone
    assert plan(restart=True, state=record, status=server(run=None, state="stopped"))["action"] == "restart"
    assert plan(state=record, summary=summary(), status=server(run=None, state="stopped"))["action"] == "finished"
    # the server still training it: followed
    assert plan(state=record, status=server(run=1, state="training started"))["action"] == "in_progress"


def test_a_resume_while_another_run_trains_says_which_it_stops():
    result = plan(state=started(1), status=server(run=5, state="training started", current=2))
    assert result["action"] == "resume" and result["stop_first"]
    assert result["message"].endswith("Training run 1 again from the start, once the training of run 5 (round 2 of 5) "
                                      "is stopped.")


def test_read_record():
    assert read_record({"a": 1}) == {"a": 1}
    assert read_record('{"a": 1}') == {"a": 1}
    assert read_record(b'{"a": 1}') == {"a": 1}
    for value in (None, "", "  ", "nope", "[1]", b"\xff", 3, ["a"]):
        assert read_record(value) is None
