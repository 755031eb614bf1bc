# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""fl_training run in-process as Ansible runs it (one step per call), against the fake container whose exec runs the
real driver with the fake AdminAPI: its options checked before anything is sent, a run started, a site brought back
with rejoin, check mode, failures. The training's behaviour step by step is tested in
module_utils/test_training.py, with the fake engine."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import stat
import sys

import pytest

from module_runner import run_module
from ansible_collections.clarafl.federation.plugins.module_utils import _admin_console
from ansible_collections.clarafl.federation.plugins.modules import fl_training

FIX = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "fixtures", "admin")
if FIX not in sys.path:
    sys.path.insert(0, FIX)
import fake_docker  # noqa: E402  pylint: disable=wrong-import-position


def _string_reply(text):
    return {"time": "t", "status": "SUCCESS", "data": [{"type": "string", "data": text}]}


@pytest.fixture
def fed(tmp_path, monkeypatch):
    class Fed(object):
        pass

    f = Fed()
    f.engine = fake_docker.FakeEngine(tmp_path, registered=["site-a", "site-b"])
    f.kit = fake_docker.make_kit(str(tmp_path / "kit"))
    f.container = fake_docker.FakeContainer(f.engine, name="clarafl-test-admin")
    f.client_calls = []

    def fake_connect(docker_host=None, _timeout=60):
        f.client_calls.append(docker_host)
        return fake_docker.FakeClient(f.container)

    monkeypatch.setattr(_admin_console, "connect", fake_connect)
    f.records = tmp_path / "records"
    f.records.mkdir()
    f.args = {"container": "clarafl-test-admin", "kit_dir": f.kit, "username": "admin@test.local",
              "record_dir": str(f.records), "sites": ["site-a", "site-b"], "mmar": "demo", "num_rounds": 3}
    return f


def _changes(fed):
    return [c for c in fed.engine.sent() if not c.startswith("check_status")]


def test_a_run_is_started(fed, capsys):
    result, raw = run_module(fl_training, dict(fed.args), capsys)
    assert not result.get("failed"), result
    assert result["state"] == "started" and result["changed"] is True and result["run_number"] == 1
    assert result["messages"][0] == ("Run 1 was not started yet: deploying MMAR demo to sites site-a, site-b and "
                                     "starting run 1 for 3 round(s).")
    assert result["messages"][1].startswith("Run 1 started on ")
    assert "said" not in result and result["restart_sites"] == [] and result["plan"]["action"] == "start"
    assert _changes(fed) == ["set_run_number 1", "upload_folder demo", "deploy demo server", "deploy demo client",
                             "start server", "start client"]
    record = json.loads((fed.records / "clarafl-training.json").read_text())
    assert record["run_number"] == 1 and record["phase"] == "started" and record["mmar"] == "demo"
    assert stat.S_IMODE(os.stat(str(fed.records / "clarafl-training.json")).st_mode) == 0o640
    assert "Traceback" not in raw


def test_check_mode_says_what_it_would_do_and_changes_nothing(fed, capsys):
    result, _raw = run_module(fl_training, dict(fed.args), capsys, check_mode=True)
    assert not result.get("failed") and result["state"] == "preview" and result["changed"] is True
    assert result["messages"] == ["Check mode: Run 1 was not started yet: deploying MMAR demo to sites site-a, "
                                  "site-b and starting run 1 for 3 round(s)."]
    assert _changes(fed) == [] and list(fed.records.iterdir()) == []


def _site_b_back_in_a_training(fed, start):
    """The engine trains site-a; site-b answers again, not training, and accepts the deploy and START."""
    rows = [["CLIENT NAME", "TOKEN", "LAST ACCEPTED ROUND", "CONTRIBUTION COUNT"], ["site-a", "tok-site-a", "2", "3"],
            ["site-b", "tok-site-b", "", "0"]]
    fed.engine.cfg["replies"] = {
        "check_status server": {"time": "t", "status": "SUCCESS", "data": [
            {"type": "string", "data": "FL run number:1\nFL server status: training started\nrun number:1\tstart "
                                       "round:0\tmax round:5\tcurrent round:3"},
            {"type": "string", "data": "Registered clients: 2 "}, {"type": "table", "rows": rows}]},
        "check_status client": _string_reply(
            "instance:site-a : client name: site-a\ttoken: tok-site-a\tstatus: training started\n"
            "instance:site-b : client name: site-b\ttoken: tok-site-b\tstatus: training not started\n"),
        "deploy demo client site-b": _string_reply("instance:site-b : MMAR deployed."),
        start: _string_reply("instance:site-b : Start the client..."),
    }
    fed.engine.write()


def test_rejoin_deploys_and_starts_a_site_back_in_the_running_training(fed, capsys):
    _site_b_back_in_a_training(fed, "start client site-b")
    result, raw = run_module(fl_training, dict(fed.args, state="rejoined", rejoin=["site-b"]), capsys)
    assert "Traceback" not in raw and not result.get("failed"), result
    assert result["state"] == "rejoined" and result["changed"] is True
    assert result["rejoined"] == {"site-b": [
        "answers the server (training not started)",
        "deployed demo to it and started it in the running training (round 3)"]}
    assert [r["command"] for r in result["results"]] == ["deploy demo client site-b", "start client site-b"]
    assert _changes(fed) == ["deploy demo client site-b", "start client site-b"]


def test_rejoin_starts_a_site_on_several_gpus_with_start_mgpu(fed, capsys):
    _site_b_back_in_a_training(fed, "start_mgpu client 2 site-b")
    result, raw = run_module(fl_training, dict(fed.args, state="rejoined", rejoin=["site-b"],
                                               gpus={"site-b": "2", "site-a": 4}), capsys)
    assert "Traceback" not in raw and not result.get("failed"), result
    assert _changes(fed) == ["deploy demo client site-b", "start_mgpu client 2 site-b"]


def test_options_are_checked_before_anything_is_sent(fed, capsys):
    result, _raw = run_module(fl_training, dict(fed.args, rejoin=["site-b"], gpus={"site-b": "two", "site-a": 0}),
                              capsys)
    assert result["failed"] and result["msg"] == (
        "gpus maps each site to its number of GPUs (a whole number, at least 1): site-a: 0 is no GPU count; site-b: "
        "'two' is no GPU count")
    result, _raw = run_module(fl_training, dict(fed.args, sites=["site-a site-b"], rejoin=["site-a site-b"],
                                                mmar="my app"), capsys)
    assert result["failed"] and result["msg"] == (
        "sites, rejoin and mmar take names (one word each), got 'site-a site-b', 'site-a site-b', 'my app'")
    result, _raw = run_module(fl_training, dict(fed.args, sites=["it's"], timeout=0), capsys)
    assert result["failed"] and result["msg"] == ("timeout must be a positive number of seconds, got 0.0; sites, "
                                                  "rejoin and mmar take names (one word each), got \"it's\"")
    result, _raw = run_module(fl_training, dict(fed.args, rejoin=["site-c", "site-a"]), capsys)
    assert result["failed"] and result["msg"] == "rejoin names sites that are not among sites (site-a, site-b): 'site-c'"
    result, _raw = run_module(fl_training, dict(fed.args, state="done"), capsys)
    assert result["failed"] and "state" in result["msg"]
    assert fed.client_calls == [] and fed.engine.calls() == []


def test_a_failure_says_why(fed, capsys, tmp_path):
    result, raw = run_module(fl_training, dict(fed.args, staged=str(tmp_path)), capsys)
    assert result["failed"] and result["msg"] == (
        "MMAR demo is not staged at %s (it has no config/ folder): stage it first (the fl_admin role does, before it "
        "trains)." % tmp_path)
    assert result["messages"] == [] and result["state"] is None and "Traceback" not in raw
    fed.container.status = "exited"
    result, _raw = run_module(fl_training, dict(fed.args), capsys)
    assert result["failed"] and result["reason"] == "container"
    assert result["msg"] == "The admin container 'clarafl-test-admin' is not running (state: exited): start it first."


def test_the_docker_sdk_missing(fed, capsys, monkeypatch):
    monkeypatch.setattr(fl_training, "HAS_DOCKER", False)
    result, _raw = run_module(fl_training, dict(fed.args), capsys)
    assert result["failed"] and "docker (the Docker SDK for Python)" in result["msg"]
