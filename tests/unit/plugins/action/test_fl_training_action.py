# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller side of fl_training (plugins/action/fl_training.py): the progress line, and the loop that calls the
module step by step and prints, while the training runs, what each step did and a line each time the round moves
(at least every progress_interval seconds) - with the module's steps played back and a fake clock."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from module_runner import FakeClock

from ansible_collections.clarafl.federation.plugins.action import fl_training as action


@pytest.mark.parametrize("progress, line", [
    ({"run_number": 1, "round": 2, "max_round": 5, "contributions": {"b": 2, "a": 3}, "elapsed": 61.7},
     "run 1: round 2 of 5, contributions a=3, b=2 (61 s)"),
    ({"run_number": 1, "round": None, "max_round": None, "contributions": {}, "elapsed": None},
     "run 1: round - of ?, contributions none yet"),
    ({"run_number": 2, "round": 0, "max_round": 3}, "run 2: round 0 of 3, contributions none yet"),
    ({"run_number": 3, "validation": "partial", "validating": ["xv-b"], "elapsed": 20},
     "run 3: cross-site validation (partial so far; validating: xv-b) (20 s)"),
    ({"run_number": 3, "validation": "empty", "validating": []},
     "run 3: cross-site validation (empty so far; validating: none)"),
    (None, None), ({}, None), ({"round": 1}, None), ("junk", None),
])
def test_progress_line(progress, line):
    assert action.progress_line(progress) == line


class Task(object):
    def __init__(self, args, check_mode=False):
        self.args = args
        self.check_mode = check_mode
        self.async_val = 0
        self.action = "clarafl.federation.fl_training"


class Shell(object):
    tmpdir = "/tmp/x"


class Connection(object):
    _shell = Shell()


def step(state, round_=None, messages=(), **extra):
    out = {"state": state, "changed": False, "messages": list(messages), "run_number": 1,
           "progress": None if round_ is None else {"run_number": 1, "round": round_, "max_round": 3,
                                                    "contributions": {"a": round_}, "elapsed": 10.0 * round_}}
    out.update(extra)
    return out


@pytest.fixture
def play(monkeypatch):
    """Runs the action with the module's outcomes played back; each step takes STEP seconds of the fake clock."""
    clock = FakeClock()
    shown = []
    monkeypatch.setattr(action, "time", clock)
    monkeypatch.setattr(action.display, "display", lambda msg, *a, **k: shown.append(msg))

    def run(outcomes, args=None, check_mode=False, seconds=10.0):
        plugin = action.ActionModule(Task(dict(args or {"state": "finished"}), check_mode), Connection(), None, None,
                                     None)
        calls = []

        def execute(module_name=None, module_args=None, task_vars=None):  # pylint: disable=unused-argument
            assert module_name == "clarafl.federation.fl_training"
            calls.append(dict(module_args))
            clock.now += seconds
            return outcomes.pop(0) if len(outcomes) > 1 else outcomes[0]
        plugin._execute_module = execute
        result = plugin.run(task_vars={})
        return result, calls, shown
    run.clock = clock
    return run


def test_the_loop_prints_what_each_step_did_and_a_line_per_round(play):
    outcomes = [
        step("started", 0, ["Run 1 started on T: set_run_number, ..."], changed=True, deployed=True,
             plan={"message": "Run 1 was not started yet: deploying ..."}),
        step("training", 0), step("training", 1), step("training", 1), step("training", 2),
        step("finished", 2, ["Run 1 finished: 3 of 3 round(s)."], summary={"rounds_done": 3}),
    ]
    result, calls, shown = play(outcomes, {"state": "finished", "restart": True, "progress_interval": 60})
    assert shown == ["Run 1 was not started yet: deploying ...", "Run 1 started on T: set_run_number, ...",
                     "run 1: round 0 of 3, contributions a=0 (0 s)",
                     "run 1: round 1 of 3, contributions a=1 (10 s)",
                     "run 1: round 2 of 3, contributions a=2 (20 s)",
                     "Run 1 finished: 3 of 3 round(s)."]
    assert len(calls) == 6 and result["state"] == "finished" and result["changed"] is True
    assert result["messages"] == ["Run 1 was not started yet: deploying ...", "Run 1 started on T: set_run_number, ...",
                                  "Run 1 finished: 3 of 3 round(s)."]
    assert result["summary"] == {"rounds_done": 3}
    # a restart is asked for once: not again once a step deployed the run
    assert calls[0]["restart"] is True and all(c["restart"] is False for c in calls[1:])


def test_a_round_that_does_not_move_is_still_shown_every_progress_interval(play):
    outcomes = [step("training", 4)] * 7 + [step("finished", 4)]
    _result, calls, shown = play(list(outcomes), {"state": "finished", "progress_interval": 30}, seconds=10)
    lines = [s for s in shown if s.startswith("run 1: round 4")]
    # at most once per interval while the round stands still, and at least once per interval
    assert len(calls) == 8 and len(lines) == 3


def test_a_rejoin_is_asked_for_once(play):
    outcomes = [step("rejoined", None, ["Restarted and brought back b because ..."], changed=True)]
    result, calls, _shown = play(outcomes, {"state": "rejoined", "rejoin": ["b"]})
    assert len(calls) == 1 and calls[0]["rejoin"] == ["b"] and result["state"] == "rejoined"
    outcomes = [step("training", 1), step("finished", 2)]
    _result, calls, _shown = play(outcomes, {"state": "finished", "rejoin": ["b"]})
    assert calls[0]["rejoin"] == ["b"] and calls[1]["rejoin"] == []


@pytest.mark.parametrize("state, ends", [
    ("finished", ("finished", "left_alone", "needs_restart", "preview", "rejoined")),
    ("started", ("started", "training", "validating", "finished", "left_alone", "needs_restart")),
    ("rejoined", ("rejoined", "needs_restart")),
])
def test_the_states_that_end_the_loop(play, state, ends):
    for end in ends:
        _result, calls, _shown = play([step(end)], {"state": state})
        assert len(calls) == 1, end
    _result, calls, _shown = play([step("training", 1), step(ends[0])], {"state": state})
    assert len(calls) == (1 if "training" in ends else 2)


def test_a_failed_step_ends_the_loop_with_its_message(play):
    outcomes = [step("training", 1), dict(step(None), failed=True, msg="The training failed: ...")]
    result, calls, shown = play(outcomes)
    assert result["failed"] and result["msg"] == "The training failed: ..." and len(calls) == 2
    # the plan of a failed first step is not printed as if it were done
    result, _calls, shown = play([dict(step(None), failed=True, msg="x", plan={"message": "Run 1 was ..."})])
    assert "Run 1 was ..." not in shown


def test_check_mode_calls_once(play):
    result, calls, shown = play([step("preview", None, ["Check mode: ..."])], check_mode=True)
    assert len(calls) == 1 and shown == ["Check mode: ..."] and result["state"] == "preview"


def test_a_server_that_went_away_is_waited_for_then_the_training_goes_on(play):
    outcomes = [step("training", 1), step("waiting_server", server_error="Cannot connect ... (connection refused)"),
                step("waiting_server", server_error="Cannot connect"), step("started", 0, ["Run 1 started ..."]),
                step("finished", 2)]
    result, calls, shown = play(outcomes, {"state": "finished", "server_timeout": 300})
    assert result["state"] == "finished" and len(calls) == 5
    said = [s for s in shown if s.startswith("The FL server stopped answering")]
    assert said == ["The FL server stopped answering during run 1 (Cannot connect ... (connection refused)): waiting "
                    "up to 300 s for it."]


def test_a_server_that_does_not_come_back_fails_naming_what_to_do(play):
    outcomes = [step("training", 1), step("waiting_server", server_error="Cannot connect (connection refused)")]
    result, calls, _shown = play(outcomes, {"state": "finished", "server_timeout": 60}, seconds=5)
    assert result["failed"] and result["msg"] == (
        "The FL server stopped answering during run 1 and did not come back within 60 s: Cannot connect (connection "
        "refused). Start it (site.yml --tags fl_server), then run again.")
    # polled every few seconds meanwhile, not more
    assert 60 / (5 + action.SERVER_POLL) <= len(calls) <= 2 + 60 / 5


def test_a_training_that_does_not_end_within_wait_timeout_fails_naming_the_last_round(play):
    result, calls, _shown = play([step("training", 2)], {"state": "finished", "wait_timeout": 100}, seconds=10)
    assert result["failed"] and result["msg"] == (
        "Run 1 had not finished after 100 s (last seen: run 1: round 2 of 3, contributions a=2 (20 s)): see "
        "playbooks/status.yml and the server's log.")
    assert 10 <= len(calls) <= 12
