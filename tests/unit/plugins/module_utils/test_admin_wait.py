# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The admin side's one wait: until every site answers, or until the training stops or stalls."""

from __future__ import absolute_import, division, print_function

import pytest
from module_runner import FakeClock as Clock

from ansible_collections.clarafl.federation.plugins.module_utils.admin_console import AdminConsoleError, lagging_sites, wait

SITES = ["a", "b", "c"]


def status(state, rnd=None, counts=None, training=None):
    training = SITES if training is None else training
    return {"server_status": state, "current_round": rnd,
            "registered_clients": [{"name": s, "contribution_count": n} for s, n in (counts or {}).items()],
            "clients": dict((s, {"status": "training started" if s in training else "training stopped"})
                            for s in (counts or {}))}


def reader(clock, script, step=10.0):
    """read() that plays back (status, history, contributions) and lets STEP seconds pass per session."""
    calls = []

    def read(watch):
        calls.append(watch)
        clock.now += step
        item = script.pop(0) if len(script) > 1 else script[0]
        return item
    read.calls = calls
    return read


def test_lagging_sites_are_those_behind_the_others():
    assert lagging_sites(status("training started", 3, {"a": 3, "b": 3, "c": 3}), SITES) == []
    assert lagging_sites(status("training started", 3, {"a": 3, "b": 2, "c": 3}), SITES) == ["b"]
    assert lagging_sites(status("training started", 3, {"a": 3, "b": 3}), SITES) == ["c"]
    assert lagging_sites(status("training started", 3, {"a": 3, "b": 3, "c": 3}, training=["a", "b"]), SITES) == ["c"]
    assert lagging_sites(status("training started", 0, {"a": "", "b": "", "c": ""}), SITES) == SITES
    assert lagging_sites({}, SITES) == SITES
    # A site that trained its last round and validates the others' models is not behind (one-round run, a slow
    # server still waiting for the others).
    validating = status("training started", 0, {"a": 1, "b": 1, "c": 0}, training=["c"])
    validating["clients"]["a"]["status"] = validating["clients"]["b"]["status"] = "cross site validation"
    assert lagging_sites(validating, SITES) == ["c"]


IDLE = {"status": "training not started"}


def test_registered_waits_until_every_site_answers():
    clock = Clock()
    some = ({"clients": {"a": IDLE, "b": IDLE}}, [], {})
    # registered, but not answering yet: not enough
    silent = ({"clients": {"a": IDLE, "b": IDLE, "c": {"status": "No replies"}}}, [], {})
    every = ({"clients": {"a": IDLE, "b": IDLE, "c": IDLE}}, [], {})
    read = reader(clock, [some, silent, every], step=1)
    out = wait(read, "registered", 60, sites=SITES, clock=clock.time, sleep=clock.sleep)
    assert out["done"] and not out["timed_out"] and out["missing_sites"] == []
    assert read.calls == [0, 0, 0]


def test_registered_times_out_naming_the_missing_sites():
    clock = Clock()
    read = reader(clock, [({"clients": {"a": IDLE, "b": {"status": "No replies"}}}, [], {})], step=1)
    out = wait(read, "registered", 10, sites=SITES, clock=clock.time, sleep=clock.sleep)
    assert out["timed_out"] and not out["done"] and out["missing_sites"] == ["b", "c"]


def test_a_read_that_fails_is_read_again_only_when_asked():
    clock = Clock()
    every = ({"clients": {"a": IDLE, "b": IDLE, "c": IDLE}}, [], {})
    results = [AdminConsoleError("server not up", kind="connect"), every]

    def read(_watch):
        clock.now += 1
        item = results.pop(0)
        if isinstance(item, Exception):
            raise item
        return item
    out = wait(read, "registered", 30, sites=SITES, clock=clock.time, sleep=clock.sleep, retry_errors=True)
    assert out["done"]
    results[:] = [AdminConsoleError("server not up", kind="connect"), every]
    with pytest.raises(AdminConsoleError, match="server not up"):
        wait(read, "registered", 30, sites=SITES, clock=clock.time, sleep=clock.sleep)


def test_errors_until_the_deadline_raise_the_last_one():
    clock = Clock()

    def read(_watch):
        clock.now += 5
        raise AdminConsoleError("server not up", kind="connect")
    with pytest.raises(AdminConsoleError, match="server not up"):
        wait(read, "registered", 20, sites=SITES, clock=clock.time, sleep=clock.sleep, retry_errors=True)


def test_stopped_follows_to_the_end_keeping_the_highest_counts():
    clock = Clock()
    script = [
        (status("training started", 1), [status("training started", 0), status("training started", 1)], {"a": 1, "b": 1}),
        (status("training started", 2), [status("training started", 2)], {"a": 2, "b": 1, "c": 2}),
        (status("training stopped"), [status("training stopped")], {"a": 0}),
    ]
    read = reader(clock, script)
    out = wait(read, "stopped", 600, sites=SITES, stall_timeout=120, clock=clock.time, sleep=clock.sleep)
    assert out["done"] and not out["stalled"] and out["seen_training"]
    assert out["contributions"] == {"a": 2, "b": 1, "c": 2}
    assert len(out["history"]) == 4
    assert all(0 < w <= 60 for w in read.calls)


def test_a_stopped_server_never_seen_training_is_not_done_unless_seen_before():
    clock = Clock()
    read = reader(clock, [(status("training stopped"), [], {})], step=30)
    out = wait(read, "stopped", 100, sites=SITES, clock=clock.time, sleep=clock.sleep)
    assert out["timed_out"] and not out["done"]
    out = wait(reader(Clock(), [(status("training stopped"), [], {})]), "stopped", 100, sites=SITES,
               seen_training=True, clock=Clock().time, sleep=Clock().sleep)
    assert out["done"]


def test_a_stalled_training_names_the_sites_that_lag():
    clock = Clock()
    stuck = (status("training started", 2, {"a": 2, "b": 2, "c": 1}), [status("training started", 2)], {"a": 2})
    read = reader(clock, [stuck], step=30)
    out = wait(read, "stopped", 1000, sites=SITES, stall_timeout=100, clock=clock.time, sleep=clock.sleep)
    assert out["stalled"] and out["lagging_sites"] == ["c"] and not out["done"]
    assert out["waited"] <= 200


def test_an_unknown_condition_is_refused():
    with pytest.raises(ValueError):
        wait(lambda watch: ({}, [], {}), "round", 10)


def test_a_run_that_ended_before_the_first_reading_is_done_when_the_log_shows_every_round():
    # A short run (4 rounds in 5 s) had ended when the wait first read the status: the caller started it, and
    # the server's log shows every round since the latest start.
    stopped = {"server_status": "training stopped", "current_round": 4, "max_round": 4, "run_number": 3}
    asked = []

    def finished(status):
        asked.append(status["max_round"])
        return True

    out = wait(lambda watch: (stopped, [], {}), "stopped", 60, sites=["a"], finished=finished,
               clock=Clock(0).time, sleep=lambda s: None)
    assert out["done"] and out["seen_training"] and not out["timed_out"]
    assert asked == [4]


def test_a_stopped_server_whose_log_does_not_show_the_rounds_is_waited_on():
    stopped = {"server_status": "training stopped", "current_round": 0, "max_round": 4}
    clock = Clock(0)
    out = wait(lambda watch: (clock.sleep(watch or 2) or stopped, [], {}), "stopped", 30, sites=["a"],
               finished=lambda status: False, clock=clock.time, sleep=clock.sleep)
    assert not out["done"] and out["timed_out"] and not out["seen_training"]
