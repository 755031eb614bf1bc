# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fl_plots module, run in-process as Ansible runs it."""

from __future__ import absolute_import, division, print_function

import os
import stat

import pytest

from module_runner import run_module
from ansible_collections.clarafl.federation.plugins.modules import fl_plots

pytest.importorskip("matplotlib")

SUMMARY = {
    "run_number": 2, "mmar": "clarafl_demo", "sites": ["org1-a", "org2"], "contributions": {"org1-a": 2, "org2": 2},
    "metrics": [{"session": 1, "round": r, "accuracy": 0.8 + r / 20.0, "loss": 0.5 - r / 10.0} for r in range(3)],
}


def test_draws_then_changes_nothing(tmp_path, capsys):
    dest = tmp_path / "run_2-plots"
    args = {"summary": SUMMARY, "dest": str(dest), "mode": "0640", "dir_mode": "0750",
            "matrix": {"models": ["org1-a", "global"], "sites": ["org1-a", "org2"], "metric": "accuracy",
                       "values": {"org1-a": {"org1-a": 0.9, "org2": None}, "global": {"org1-a": 0.93, "org2": 0.92}}}}
    result, _raw = run_module(fl_plots, args, capsys)
    assert result["changed"] is True and not result.get("failed")
    assert result["dest"] == str(dest) and result["notes"] == []
    assert [os.path.basename(p) for p in result["files"]] == [
        "validation.png", "loss.png", "contributions.png", "cross_site_validation.png"]
    assert stat.S_IMODE(os.stat(str(dest)).st_mode) == 0o750
    assert stat.S_IMODE(os.stat(result["files"][0]).st_mode) == 0o640
    again, _raw = run_module(fl_plots, args, capsys)
    assert again["changed"] is False and again["files"] == result["files"]


def test_check_mode_writes_nothing(tmp_path, capsys):
    dest = tmp_path / "plots"
    result, _raw = run_module(fl_plots, {"summary": SUMMARY, "dest": str(dest)}, capsys, check_mode=True)
    assert result["changed"] is True and len(result["files"]) == 3
    assert not dest.exists()


def test_a_bad_mode_fails(tmp_path, capsys):
    result, _raw = run_module(fl_plots, {"summary": SUMMARY, "dest": str(tmp_path), "mode": "rw"}, capsys)
    assert result["failed"] is True and "octal" in result["msg"]


def test_a_folder_that_cannot_be_made_fails(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text(u"not a folder")
    result, _raw = run_module(fl_plots, {"summary": SUMMARY, "dest": str(blocker / "plots")}, capsys)
    assert result["failed"] is True and "cannot write the plots" in result["msg"]
