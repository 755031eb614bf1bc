# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of the federation filters: sites from the inventory, the training summary and the status table."""

from __future__ import absolute_import, division, print_function

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.clarafl.federation.plugins.filter.federation import (
    FilterModule,
    fl_client_sites,
    fl_status_table,
    fl_summary_metrics,
    fl_training_plan,
    fl_training_summary,
)


def test_client_sites_default_to_the_inventory_name():
    hostvars = {"h1": {"fl_client_name": "org1-a", "fl_org": "org1"}, "h2": {}}
    assert fl_client_sites(["h1", "h2"], hostvars) == [
        {"name": "org1-a", "org": "org1", "host": "h1", "index": 0}, {"name": "h2", "org": "", "host": "h2", "index": 1}]
    with pytest.raises(AnsibleFilterError):
        fl_client_sites("h1", hostvars)


SUMMARY = {
    "run_number": 1, "mmar": "clarafl_demo", "num_rounds": 2, "rounds_done": 2,
    "sites": ["org1-a", "org2"], "contributions": {"org1-a": 2},
    "metrics": [{"round": 0, "auc": 0.5, "loss": 0.693}, {"round": 2, "auc": 0.99, "loss": 0.1}],
}


def test_training_summary_lines():
    lines = fl_training_summary(SUMMARY)
    assert lines[0] == "Run 1 of clarafl_demo: 2 of 2 round(s) done."
    assert lines[1] == "Contributions per site: org1-a=2, org2=0"
    assert lines[2].split() == ["round", "auc", "loss"]
    assert lines[3].split() == ["0", "0.5000", "0.6930"]
    assert not any("Restarted" in line or "lost the run" in line for line in lines)


def test_training_summary_says_what_was_healed():
    lines = fl_training_summary(dict(SUMMARY, healed=["org2"], server_recovered=True))
    assert "Restarted and brought back (a hung start, no progress, or no answer to the server): org2" in lines
    assert any(line.startswith("The server lost the run") for line in lines)


def test_training_summary_without_metrics_and_bad_input():
    assert fl_training_summary(dict(SUMMARY, metrics=[]))[-1] == (
        "The MMAR wrote no validation metric: rounds and contributions are the engine's.")
    with pytest.raises(AnsibleFilterError):
        fl_training_summary([])


def test_status_table():
    status = {"server_status": "training started", "run_number": 3, "current_round": 1, "max_round": 5,
              "registered_clients": [{"name": "org1-a", "last_accepted_round": 1, "contribution_count": 2}],
              "clients": {"org1-a": {"status": "training started"}, "org2": {"status": "No replies"}}}
    lines = fl_status_table(status)
    assert lines[0] == "server: training started, run 3, round 1 of 5"
    assert lines[2].split() == ["org1-a", "yes", "training", "started", "1", "2"]
    assert lines[3].split() == ["org2", "no", "No", "replies", "-", "-"]
    assert fl_status_table({})[-1] == "no site is registered"
    with pytest.raises(AnsibleFilterError, match="fl_status_table expects a dictionary"):
        fl_status_table(["x"])


FINISHED = {"server_status": "training stopped", "run_number": 3,
            "registered_clients": [{"name": "org1-a", "last_accepted_round": None, "contribution_count": 0},
                                   {"name": "org2", "last_accepted_round": None, "contribution_count": 0}],
            "clients": {"org1-a": {"status": "training stopped"}, "org2": {"status": "training stopped"}}}


def test_status_table_after_a_run_shows_its_summary():
    """The server resets its counters when a run ends: the rounds and contributions come from the run's summary."""
    summary = {"run_number": 3, "rounds_done": 5, "num_rounds": 5, "contributions": {"org1-a": 5, "org2": 4}}
    lines = fl_status_table(FINISHED, summary)
    assert lines[0] == "server: training stopped, run 3: 5 of 5 round(s) done (from the run's summary)"
    assert lines[2].split() == ["org1-a", "yes", "training", "stopped", "-", "5"]
    assert lines[3].split() == ["org2", "yes", "training", "stopped", "-", "4"]
    # a site the summary does not count
    assert fl_status_table(FINISHED, dict(summary, contributions={"org1-a": 5}))[3].split()[-1] == "-"


@pytest.mark.parametrize("summary", [
    None, {}, "junk", {"run_number": 2, "rounds_done": 5},  # another run's
    {"rounds_done": 5},  # no run number
])
def test_status_table_without_the_current_run_s_summary_is_the_server_s(summary):
    lines = fl_status_table(FINISHED, summary)
    assert lines[0] == "server: training stopped, run 3, round - of -"
    assert lines[2].split()[-1] == "0"


def test_status_table_of_a_run_that_trains_is_the_server_s_even_with_a_summary():
    training = dict(FINISHED, server_status="training started", current_round=2, max_round=5, registered_clients=[
        {"name": "org1-a", "last_accepted_round": 1, "contribution_count": 2}])
    lines = fl_status_table(training, {"run_number": 3, "rounds_done": 5, "contributions": {"org1-a": 5}})
    assert lines[0] == "server: training started, run 3, round 2 of 5"
    assert lines[2].split()[-1] == "2"


def test_summary_metrics_adds_the_apps_metrics_to_the_summary():
    # as fl_training wrote it: the engine's rounds, the contributions, no metrics read yet
    summary = {"run_number": 1, "mmar": "clarafl_demo", "finished": True, "rounds_done": 3,
               "rounds_from": "the server's log", "num_rounds": 3, "contributions": {"a": 3, "b": 3}, "metrics": [],
               "metrics_file": False, "metrics_read": False, "metrics_path": "run_1/metrics.jsonl", "healed": ["b"]}
    text = '{"round": 0, "auc": 0.5}\n{"round": 3, "auc": 0.99}\n'
    out = fl_summary_metrics(summary, text, "/opt/clarafl/demo/server/run_1/metrics.jsonl")
    assert out["metrics_read"] is True and out["metrics_file"] is True
    assert out["metrics"] == [{"round": 0, "auc": 0.5}, {"round": 3, "auc": 0.99}]
    assert out["metrics_path"] == "/opt/clarafl/demo/server/run_1/metrics.jsonl"
    # the engine's round count stays; the rest of the summary is kept
    assert out["rounds_done"] == 3 and out["rounds_from"] == "the server's log" and out["num_rounds"] == 3
    assert out["contributions"] == {"a": 3, "b": 3} and out["healed"] == ["b"] and out["finished"] is True
    assert summary["metrics_read"] is False  # not changed in place
    # no metrics file: said so, the path kept
    out = fl_summary_metrics(summary, "")
    assert out["metrics_read"] is True and out["metrics_file"] is False and out["metrics"] == []
    assert out["metrics_path"] == "run_1/metrics.jsonl"
    assert fl_training_summary(out)[-1] == ("The MMAR wrote no validation metric (no run_1/metrics.jsonl): rounds "
                                            "and contributions are the engine's.")
    # without the engine's count the metrics' rounds stand in
    out = fl_summary_metrics(dict(summary, rounds_done=0, rounds_from="nothing (no round was seen)"), text)
    assert out["rounds_done"] == 3 and out["rounds_from"] == "the app's metrics"
    with pytest.raises(AnsibleFilterError, match="fl_summary_metrics expects a summary dictionary"):
        fl_summary_metrics(None, text)


def test_the_filters_of_the_admin_side():
    filters = FilterModule().filters()
    assert "fl_summary_metrics" in filters and "fl_status_table" in filters and "fl_round_lines" not in filters


def test_preflight_problems_join_every_source_and_say_a_shared_problem_once():
    from ansible_collections.clarafl.federation.plugins.filter.federation import fl_preflight_problems, fl_problem_report
    variables = {"errors": ["fl_admin_num_rounds (on all hosts) must be at least 1 (it is 0)"], "warnings": []}
    project = {"failed": False, "msg": "2 problems", "problems": ["client name too long"]}
    checks = [{"problems": ["port 8002 is in use"]}, {"problems": ["kit root belongs to p2"]},
              {"problems": ["kit root belongs to p2"]}, {"skipped": True}, "not a dict"]
    problems = fl_preflight_problems(variables, project, checks, ["srv", "a", "b", "c", "d"])
    assert problems == ["fl_admin_num_rounds (on all hosts) must be at least 1 (it is 0)", "client name too long",
                        "srv: port 8002 is in use", "a, b: kit root belongs to p2"]
    report = fl_problem_report(problems)
    assert report.splitlines()[0] == "4 problem(s) found before any host was changed (nothing was changed):"
    assert report.splitlines()[4] == "4. a, b: kit root belongs to p2"
    assert fl_preflight_problems({"errors": []}, {"failed": False, "project": {}}, [{"problems": []}], ["h"]) == []
    with pytest.raises(AnsibleFilterError):
        fl_problem_report("x")


def test_preflight_problems_name_a_host_check_that_failed_on_its_own():
    from ansible_collections.clarafl.federation.plugins.filter.federation import fl_preflight_problems
    problems = fl_preflight_problems({}, {}, [{"failed": True, "msg": "bad option"}], ["h1"])
    assert problems == ["h1: bad option"]
    # the project module refusing a value the variables' check named already adds nothing
    refused = {"failed": False, "msg": "argument 'admin_port' is of type str"}
    assert fl_preflight_problems({"errors": ["fl_admin_port must be an int"]}, refused, [], []) == [
        "fl_admin_port must be an int"]
    assert fl_preflight_problems({"errors": []}, refused, [], []) == ["argument 'admin_port' is of type str"]


def test_training_plan_previews_what_a_real_run_would_do():
    fresh = fl_training_plan({}, {}, 1, sites=["org1-a", "org2"], mmar="demo", num_rounds=3)["message"]
    assert "run 1 was not started by this role" in fresh and "sites org1-a, org2" in fresh and "3 round(s)" in fresh
    state = {"run_number": 1, "phase": "started", "started_at": "T1"}
    done = fl_training_plan(state, {"finished": True, "started_at": "T1", "rounds_done": 3, "num_rounds": 3}, 1)
    assert "has finished (3 of 3 round(s)): it would be left alone" in done["message"]
    older = fl_training_plan(state, {"finished": True, "started_at": "T0"}, 1)["message"]
    assert "has not finished" in older
    assert "restart_training is set" in fl_training_plan(state, {}, 1, restart=True)["message"]
    assert "was not started by this role" in fl_training_plan(state, {}, 2)["message"]


def test_training_plan_takes_the_files_as_the_role_reads_them():
    # the role passes the slurped files' text (positional arguments, as in a task); a live status decides
    plan = fl_training_plan('{"run_number": 1, "phase": "started", "started_at": "T1"}', "", "1", False,
                            {"run_number": 1, "server_status": "training started", "current_round": 2,
                             "max_round": 5}, ["org1-a"], "clarafl_demo", 5)
    assert plan["action"] == "in_progress" and plan["message"] == "Run 1 is training (round 2 of 5): it goes on."
    assert plan["previous"]["started_at"] == "T1"


def test_training_plan_names_a_bad_run_number():
    with pytest.raises(AnsibleFilterError, match="fl_training_plan: the run number must be a whole number"):
        fl_training_plan({}, {}, "one")


def test_preflight_problems_name_a_host_that_cannot_be_reached():
    from ansible_collections.clarafl.federation.plugins.filter.federation import fl_preflight_problems
    unreachable = {"unreachable": True, "changed": False, "msg": "Failed to connect to the host via ssh"}
    assert fl_preflight_problems({"errors": []}, {"project": {}}, [unreachable, {"problems": []}], ["gpu-a", "h"]) == [
        "gpu-a: cannot be reached: Failed to connect to the host via ssh"]
