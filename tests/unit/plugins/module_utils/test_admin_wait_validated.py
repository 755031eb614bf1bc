# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The admin side's wait for the cross-site validation after a training (wait_for validated), with the engine's
real replies to validate all (tests/unit/fixtures/admin/clara-4.0-validate-replies.json)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest
from module_runner import FakeClock as Clock

from ansible_collections.clarafl.federation.plugins.module_utils.admin_console import wait
from ansible_collections.clarafl.federation.plugins.module_utils.cross_validation import validation_matrix

SITES = ["xv-a", "xv-b"]
START = 1000.0
FIXTURE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "fixtures",
                       "admin", "clara-4.0-validate-replies.json")

with open(FIXTURE) as _fh:
    REPLIES = json.load(_fh)["replies"]


def status(**states):
    return {"server_status": "training stopped", "current_round": None,
            "registered_clients": [{"name": s} for s in SITES],
            "clients": dict((s, {"status": states.get(s.replace("-", "_"), "training stopped")}) for s in SITES)}


def player(clock, script, step):
    """read() and validation() that play back [(status, reply name)], STEP seconds per reading (the last again)."""
    state = {"now": None}

    def read(watch):
        assert watch == 0  # no watch: only the training's wait watches the rounds
        clock.now += step
        state["now"] = script.pop(0) if len(script) > 1 else script[0]
        return state["now"][0], [], {}

    def validation():
        return validation_matrix(REPLIES[state["now"][1]], sites=SITES)
    return read, validation


def run(script, timeout=300, step=2):
    clock = Clock(START)
    read, validation = player(clock, list(script), step)
    out = wait(read, "validated", timeout, sites=SITES, clock=clock.time, sleep=clock.sleep, validation=validation,
               interval=5.0)
    return out, clock.now - START


VALIDATING = "cross site validation"


def test_the_wait_ends_when_every_model_has_a_result_on_every_site():
    out, took = run([(status(xv_a=VALIDATING, xv_b=VALIDATING), "before_results")] * 10
                    + [(status(), "complete")])
    assert out["done"] and not out["timed_out"]
    assert out["matrix"]["state"] == "complete"
    assert out["matrix"]["models"][0] == "FL_global_model" and out["matrix"]["sites"] == SITES
    assert took < 100


def test_a_site_still_saying_it_validates_once_the_matrix_is_complete_is_not_left_to_abort():
    # Seen on the engine: every result in, yet two sites' status still "cross site validation".
    out, took = run([(status(xv_a=VALIDATING, xv_b=VALIDATING), "before_results")] * 3
                    + [(status(xv_a=VALIDATING, xv_b=VALIDATING), "complete")])
    assert out["done"] and not out["timed_out"] and out["matrix"]["state"] == "complete"
    assert out["validating_sites"] == []
    assert took < 30


def test_a_site_that_opted_out_ends_the_wait_once_nobody_validates_its_cells_said_missing():
    out, took = run([(status(xv_a=VALIDATING), "before_results"), (status(), "opted_out")])
    assert out["done"] and out["matrix"]["state"] == "partial"
    assert any("xv-b" in line for line in out["matrix"]["missing"])
    # It waited for the settle time after the last site stopped validating, not for the timeout.
    assert 15 <= took < 40


def test_a_validation_that_hangs_is_not_waited_on_forever_and_names_the_site():
    out, took = run([(status(xv_b=VALIDATING), "partial_site_missing")], timeout=120)
    assert not out["done"] and out["timed_out"]
    assert out["validating_sites"] == ["xv-b"]
    assert out["matrix"]["state"] == "partial"
    assert 120 <= took < 130


def test_an_app_without_cross_validation_ends_the_wait_quickly_with_no_results():
    out, took = run([(status(), "before_results")])
    assert out["done"] and out["matrix"]["state"] == "empty" and took < 30


def test_validated_needs_the_reader_of_validate_all():
    with pytest.raises(ValueError):
        wait(lambda watch: ({}, [], {}), "validated", 10, sites=SITES)
