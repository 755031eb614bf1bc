# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The admin side's wait reading the engine's logs when the round does not move (wait's diagnose, diagnose_after)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from module_runner import FakeClock as Clock

from ansible_collections.clarafl.federation.plugins.module_utils.admin_console import wait

SITES = ["a", "b"]
START = 1000.0


def status(state, rnd=None):
    return {"server_status": state, "current_round": rnd,
            "registered_clients": [{"name": s, "contribution_count": 0} for s in SITES], "clients": {}}


def reader(clock, script, step):
    """read() that plays back (status, history, contributions), STEP seconds per console session."""
    calls = []

    def read(watch):
        calls.append(watch)
        clock.now += step
        return script.pop(0) if len(script) > 1 else script[0]
    read.calls = calls
    return read


def diagnoser(clock, results):
    """diagnose() that notes the time of each call and plays back RESULTS (the last one again and again)."""
    calls = []

    def diagnose(st):
        calls.append((clock.now, st))
        return results.pop(0) if len(results) > 1 else results[0]
    diagnose.calls = calls
    return diagnose


STUCK = (status("training started", 0), [status("training started", 0)], {})
FAILURE = {"server": ["RuntimeError: the persistor raised"]}


def test_diagnose_waits_until_the_round_has_not_moved_for_diagnose_after():
    clock = Clock(START)
    diagnose = diagnoser(clock, [{}])
    read = reader(clock, [STUCK], step=5)
    out = wait(read, "stopped", 100, sites=SITES, clock=clock.time, sleep=clock.sleep, diagnose=diagnose,
               diagnose_after=20)
    times = [t - START for t, _status in diagnose.calls]
    # readings at 5, 10, ... seconds; the time without a move counts from the first reading (5 s), so
    # 25 s is not yet more than 20 s without a move: the first call at 30
    assert times[0] == 30
    assert diagnose.calls[0][1] == STUCK[0]
    # at most once per diagnose_after
    assert all(b - a > 20 for a, b in zip(times, times[1:]))
    assert times == [30, 55, 80]  # the wait's 100 s end first
    assert out["timed_out"] and not out["failed"] and out["failures"] == {}


def test_a_moving_round_puts_the_diagnosis_off():
    clock = Clock(START)
    script = [(status("training started", r), [status("training started", r)], {}) for r in range(8)]
    script += [(status("training started", 7), [status("training started", 7)], {})]
    diagnose = diagnoser(clock, [FAILURE])
    read = reader(clock, script, step=5)
    out = wait(read, "stopped", 200, sites=SITES, clock=clock.time, sleep=clock.sleep, diagnose=diagnose,
               diagnose_after=20)
    # the round moves at every reading up to 40 s (round 7); then it stays: first diagnosis after 40 + 20
    assert [t - START for t, _status in diagnose.calls] == [65]
    assert out["failed"] and out["failures"] == FAILURE


def test_a_move_within_one_watch_counts():
    clock = Clock(START)
    moving = (status("training started", 1), [status("training started", 0), status("training started", 1)], {})
    script = [STUCK, STUCK, STUCK, moving, (status("training started", 1), [status("training started", 1)], {})]
    diagnose = diagnoser(clock, [{}])
    wait(reader(clock, script, step=6), "stopped", 60, sites=SITES, clock=clock.time, sleep=clock.sleep,
         diagnose=diagnose, diagnose_after=20)
    # stuck for 18 s, the round moves at 24 s: the first diagnosis comes after 24 + 20
    assert [t - START for t, _status in diagnose.calls][0] == 48


def test_the_first_reading_is_not_diagnosed_when_reading_is_quick():
    clock = Clock(START)
    diagnose = diagnoser(clock, [FAILURE])
    read = reader(clock, [STUCK], step=1)
    out = wait(read, "stopped", 100, sites=SITES, clock=clock.time, sleep=clock.sleep, diagnose=diagnose,
               diagnose_after=10)
    assert len(read.calls) == 12  # readings at 1 .. 12 s, counted from the first; the diagnosis at 12
    assert [t - START for t, _status in diagnose.calls] == [12]
    assert out["failed"]


def test_the_first_reading_is_never_diagnosed():
    clock = Clock(START)
    diagnose = diagnoser(clock, [FAILURE])
    read = reader(clock, [STUCK], step=30)
    wait(read, "stopped", 100, sites=SITES, clock=clock.time, sleep=clock.sleep, diagnose=diagnose,
         diagnose_after=20)
    assert diagnose.calls == [] or diagnose.calls[0][0] > START + 30


def test_failures_end_the_wait_at_once_without_empty_lists():
    clock = Clock(START)
    diagnose = diagnoser(clock, [{"server": [], "a": ["ModuleNotFoundError: No module named 'x'"], "b": None}])
    read = reader(clock, [STUCK], step=5)
    out = wait(read, "stopped", 600, sites=SITES, stall_timeout=300, clock=clock.time, sleep=clock.sleep,
               diagnose=diagnose, diagnose_after=20)
    assert out["failed"] is True
    assert out["failures"] == {"a": ["ModuleNotFoundError: No module named 'x'"]}
    assert not out["done"] and not out["stalled"] and not out["timed_out"]
    assert len(diagnose.calls) == 1 and len(read.calls) == 6
    assert out["waited"] == 30
    assert out["status"] == STUCK[0]


@pytest.mark.parametrize("nothing", [{}, None, {"server": [], "a": []}, {"server": None}])
def test_an_empty_diagnosis_lets_the_wait_go_on_to_a_stall(nothing):
    clock = Clock(START)
    diagnose = diagnoser(clock, [nothing])
    read = reader(clock, [STUCK], step=5)
    out = wait(read, "stopped", 600, sites=SITES, stall_timeout=60, clock=clock.time, sleep=clock.sleep,
               diagnose=diagnose, diagnose_after=20)
    assert out["stalled"] and not out["failed"] and out["failures"] == {}
    assert out["waited"] == 70
    assert [t - START for t, _status in diagnose.calls] == [30, 55]


def test_an_empty_diagnosis_lets_the_wait_go_on_to_done():
    clock = Clock(START)
    script = [STUCK] * 8 + [(status("training stopped"), [status("training stopped")], {})]
    diagnose = diagnoser(clock, [{}])
    out = wait(reader(clock, script, step=5), "stopped", 600, sites=SITES, clock=clock.time, sleep=clock.sleep,
               diagnose=diagnose, diagnose_after=20)
    assert out["done"] and not out["failed"] and not out["stalled"] and out["seen_training"]
    assert len(diagnose.calls) == 1


def test_a_done_training_is_not_diagnosed():
    clock = Clock(START)
    done = (status("training stopped"), [status("training stopped")], {})
    diagnose = diagnoser(clock, [FAILURE])
    out = wait(reader(clock, [done], step=50), "stopped", 600, sites=SITES, seen_training=True, clock=clock.time,
               sleep=clock.sleep, diagnose=diagnose, diagnose_after=20)
    assert out["done"] and not out["failed"] and diagnose.calls == []


def test_a_server_that_has_not_started_is_diagnosed_too():
    # "Server training has not started": the server's status does not say training, the round is None
    clock = Clock(START)
    idle = (status("training not started"), [status("training not started")], {})
    diagnose = diagnoser(clock, [FAILURE])
    out = wait(reader(clock, [idle], step=5), "stopped", 600, sites=SITES, clock=clock.time, sleep=clock.sleep,
               diagnose=diagnose, diagnose_after=20)
    assert out["failed"] and out["failures"] == FAILURE and not out["seen_training"]


@pytest.mark.parametrize("diagnose_after, watch_max, longest", [(20, 60, 10), (200, 60, 60), (3, 60, 1.5),
                                                                (20.0, 5, 5)])
def test_watches_are_at_most_half_of_diagnose_after(diagnose_after, watch_max, longest):
    clock = Clock(START)
    read = reader(clock, [STUCK], step=1)
    wait(read, "stopped", 300, sites=SITES, clock=clock.time, sleep=clock.sleep, watch_max=watch_max,
         diagnose=diagnoser(clock, [{}]), diagnose_after=diagnose_after)
    assert read.calls and max(read.calls) == longest
    assert all(w <= longest for w in read.calls)


def test_watches_are_as_before_without_diagnose():
    clock = Clock(START)
    read = reader(clock, [STUCK], step=1)
    out = wait(read, "stopped", 300, sites=SITES, clock=clock.time, sleep=clock.sleep, diagnose_after=20)
    assert read.calls[0] == 60 and not out["failed"] and out["timed_out"]


def test_diagnose_is_not_used_while_waiting_for_registration():
    clock = Clock(START)
    diagnose = diagnoser(clock, [FAILURE])
    read = reader(clock, [({"clients": {}}, [], {})], step=5)
    out = wait(read, "registered", 60, sites=SITES, clock=clock.time, sleep=clock.sleep, diagnose=diagnose,
               diagnose_after=10)
    assert out["timed_out"] and not out["failed"] and diagnose.calls == []
    assert set(read.calls) == {0}
