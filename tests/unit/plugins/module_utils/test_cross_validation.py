# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cross-site validation results read from the engine's reply to validate all (module_utils/cross_validation.py).

The replies in fixtures/admin/clara-4.0-validate-replies.json were recorded from the real engine (see its header).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest

from ansible_collections.clarafl.federation.plugins.module_utils import cross_validation as cv

FIX = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "fixtures", "admin")
with open(os.path.join(FIX, "clara-4.0-validate-replies.json")) as _fh:
    RECORDED = json.load(_fh)
REPLIES = RECORDED["replies"]
SITES = ["xv-a", "xv-b"]


def reply(text):
    return {"time": "t", "status": "SUCCESS", "data": [{"type": "string", "data": text}]}


def text_of(name):
    return REPLIES[name]["data"][0]["data"]


# --- the real replies ---------------------------------------------------------------------------------------------

def test_complete_reply_gives_every_cell():
    m = cv.validation_matrix(REPLIES["complete"], sites=SITES)
    assert m["problems"] == [] and m["missing"] == []
    assert m["state"] == "complete"
    assert m["models"] == ["FL_global_model", "xv-a", "xv-b"]
    assert m["sites"] == SITES
    assert m["metric"] == "accuracy"
    for model in m["models"]:
        for site in SITES:
            value = m["values"][model][site]
            assert isinstance(value, float) and 0.5 < value <= 1.0, (model, site, value)
            assert m["metrics"][model][site]["accuracy"] == value
            assert set(m["metrics"][model][site]) == {"accuracy", "auc", "loss", "n"}


def test_complete_reply_other_metric_and_the_text_alone():
    m = cv.validation_matrix(REPLIES["complete"], metric="auc")
    assert m["metric"] == "auc"
    from_text = cv.validation_matrix(text_of("complete"), metric="auc")
    assert from_text["values"] == m["values"]


def test_no_results_yet_is_empty_never_zero():
    m = cv.validation_matrix(REPLIES["before_results"], sites=SITES)
    assert m["state"] == "empty"
    assert m["problems"] == []
    assert m["models"] == [] and m["values"] == {}
    assert m["sites"] == SITES
    assert len(m["missing"]) == 1 and "No cross-site validation results yet" in m["missing"][0]
    assert cv.matrix_lines(m) == ["No cross-site validation results.", "Missing: " + m["missing"][0]]


def test_partial_reply_names_the_site_that_has_not_reported():
    # Recorded while xv-a's validation never started (its training process ended with a broken pipe).
    m = cv.validation_matrix(REPLIES["partial_site_missing"], sites=SITES)
    assert m["state"] == "partial" and m["problems"] == []
    assert m["models"] == ["FL_global_model", "xv-a", "xv-b"]
    assert m["values"]["FL_global_model"]["xv-b"] == pytest.approx(0.986784)
    assert m["values"]["xv-b"]["xv-b"] == pytest.approx(0.986784)
    assert m["values"]["FL_global_model"]["xv-a"] is None
    assert m["values"]["xv-a"]["xv-b"] is None
    assert "FL_global_model's model on xv-a's data: xv-a has reported nothing" in m["missing"]
    assert "xv-a's model on xv-b's data: not reported" in m["missing"]
    # Without the site list, only what the reply shows.
    bare = cv.validation_matrix(REPLIES["partial_site_missing"])
    assert bare["models"] == ["FL_global_model", "xv-b"] and bare["sites"] == ["xv-b"]
    assert bare["state"] == "complete"


def test_opted_out_site_is_missing_not_zero():
    m = cv.validation_matrix(REPLIES["opted_out"], sites=SITES)
    assert m["problems"] == []
    assert m["state"] == "partial"
    for site in SITES:
        assert m["values"]["xv-b"][site] is None
        assert m["metrics"]["xv-b"][site] == {}
        assert "xv-b's model on %s's data: no result (xv-b did not share its model)" % site in m["missing"]
    assert isinstance(m["values"]["FL_global_model"]["xv-a"], float)
    lines = cv.matrix_lines(m)
    row = [line for line in lines if line.startswith("xv-b ")][0]
    assert row.split()[1:] == ["-", "-"]


def test_pair_reply_is_not_the_all_form():
    # `validate <model> <site>` answers one cell with a heading line: not a matrix.
    m = cv.validation_matrix(REPLIES["pair"])
    assert m["state"] == "unreadable"
    assert m["problems"] and "not the engine's results dict" in m["problems"][0]


def test_usage_error_is_a_problem():
    m = cv.validation_matrix(REPLIES["usage_error"])
    assert m["state"] == "unreadable"
    assert m["problems"] == ["validate all: Usage: validate <all>"]


# --- garbled and truncated ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("cut", [1, 10, 40, -1, -2, -30])
def test_truncated_reply_is_a_problem(cut):
    text = text_of("complete")
    m = cv.validation_matrix(reply(text[:cut]), sites=SITES)
    assert m["state"] == "unreadable"
    assert m["problems"] and m["values"] == {}
    assert cv.matrix_lines(m)[-1].startswith("Problem: ")


@pytest.mark.parametrize("value", [
    None, 42, [], "garbage", b"\xff\xfe", {"status": "SUCCESS"}, {"data": "x"}, {"data": [None, 3]},
    reply("['not', 'a', 'dict']"), reply("__import__('os').system('true')"), reply("{'a': 1"),
    reply("{'xv-a': [1, 2]}"), reply("{1: {2: {'accuracy': 'x'}}}"), reply("{'xv-a': {'m': 0.5}}"),
    {"status": "ERROR_RUNTIME", "details": "Server did not respond"}, reply("{'" + "x" * 100000),
])
def test_garbled_replies_never_raise(value):
    m = cv.validation_matrix(value, sites=SITES)
    assert set(m) == {"models", "sites", "values", "metric", "metrics", "missing", "problems", "state"}
    assert m["problems"] or m["missing"]
    assert isinstance(cv.matrix_lines(m), list)


def test_a_site_whose_results_are_not_a_dict():
    m = cv.validation_matrix(reply("{'xv-a': [1, 2], 'xv-b': {'FL_global_model': {'accuracy': 0.9}}}"), sites=SITES)
    assert m["problems"] == ["The results of site xv-a are a list, not a dict: [1, 2]"]
    assert m["values"]["FL_global_model"] == {"xv-a": None, "xv-b": 0.9}


def test_failed_validation_and_non_numeric_metrics_are_missing():
    text = ("{'xv-a': {'FL_global_model': None, 'xv-a': {'accuracy': 'high'}, 'xv-b': {'accuracy': True}}, "
            "'xv-b': {'FL_global_model': {'accuracy': 1}, 'xv-a': {'accuracy': float('nan')}}}")
    m = cv.validation_matrix(reply(text.replace("float('nan')", "0.5")), sites=SITES)
    assert m["values"]["FL_global_model"] == {"xv-a": None, "xv-b": 1}
    assert m["values"]["xv-a"] == {"xv-a": None, "xv-b": 0.5}
    assert m["values"]["xv-b"] == {"xv-a": None, "xv-b": None}
    assert "FL_global_model's model on xv-a's data: the validation failed (no metrics)" in m["missing"]
    assert "xv-a's model on xv-a's data: no numeric accuracy (got accuracy)" in m["missing"]
    assert "xv-b's model on xv-b's data: not reported" in m["missing"]


def test_metric_chosen_from_what_the_app_reports():
    m = cv.validation_matrix(reply("{'s': {'FL_global_model': {'val_mean_dice': 0.8, 'name': 'x'}}}"))
    assert m["metric"] == "val_mean_dice"
    m = cv.validation_matrix(reply("{'s': {'FL_global_model': {'zeta': 0.1, 'beta': 0.2}}}"))
    assert m["metric"] == "beta"
    m = cv.validation_matrix(reply("{'s': {'FL_global_model': {'name': 'x'}}}"))
    assert m["metric"] is None
    assert m["values"] == {"FL_global_model": {"s": None}}


# --- the table ----------------------------------------------------------------------------------------------------

def test_table_is_fixed_width_with_global_model_first():
    m = cv.validation_matrix(REPLIES["complete"], sites=SITES)
    lines = cv.matrix_lines(m)
    assert lines[0].split() == ["model", "\\", "data", "(accuracy)", "xv-a", "xv-b"]
    assert set(lines[1]) <= {"-", " "}
    assert [line.split()[0] for line in lines[2:]] == ["FL_global_model", "xv-a", "xv-b"]
    assert len(set(len(line) for line in lines)) == 1
    for line in lines[2:]:
        for cell in line.split()[1:]:
            assert len(cell.split(".")[1]) == 4


def test_table_cuts_long_names_when_asked():
    m = cv.validation_matrix(reply("{'a-very-long-site-name': {'FL_global_model': {'accuracy': 0.5}}}"))
    lines = cv.matrix_lines(m, width=8)
    assert "a-very-~" in lines[0]
    assert cv.matrix_lines(None) == ["No cross-site validation matrix (got NoneType)."]
    assert cv.matrix_lines({}) == ["No cross-site validation results."]
