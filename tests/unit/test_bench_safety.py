# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The benchmark loses nothing and waits for nothing forever: bench/baseline.sh removes only what it made (its
work folder's marker), bench.py kills a run that outlives its limit with everything it started, and the restart
figure is read from the scripts' marks."""

from __future__ import absolute_import, division, print_function

import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BASELINE = os.path.join(REPO, "bench", "baseline.sh")
sys.path.insert(0, os.path.join(REPO, "bench"))

import bench  # noqa: E402  pylint: disable=wrong-import-position

PROJECT = "clarafl_unitbase"


def baseline(*args):
    proc = subprocess.run(["bash", BASELINE, "--project", PROJECT] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=120, check=False)
    return proc.returncode, proc.stdout


def test_cleanup_leaves_a_folder_it_did_not_make(tmp_path):
    (tmp_path / "precious").write_text(u"keep")
    (tmp_path / "kits").mkdir()  # a name baseline.sh uses, in a folder that is not its own
    rc, out = baseline("--cleanup", "--work", str(tmp_path))
    assert rc == 1
    assert "left %s alone: baseline.sh did not make it (no .clarafl-bench-baseline in it)" % tmp_path in out
    assert sorted(os.listdir(str(tmp_path))) == ["kits", "precious"]


def test_cleanup_leaves_another_project_s_folder(tmp_path):
    (tmp_path / ".clarafl-bench-baseline").write_text(u"project=clarafl_base20\ncreated=true\n")
    (tmp_path / "kits").mkdir()
    rc, out = baseline("--cleanup", "--work", str(tmp_path))
    assert rc == 1 and "it is the work folder of clarafl_base20, not of %s" % PROJECT in out
    assert (tmp_path / "kits").is_dir()


def test_cleanup_removes_what_it_made_and_keeps_the_rest(tmp_path):
    work = tmp_path / "work"
    for entry in ("provisioning", "kits", "data"):
        (work / entry / "x").mkdir(parents=True)
    (work / "admin-console.log").write_text(u"log")
    (work / "notes.txt").write_text(u"someone else's")
    (work / ".clarafl-bench-baseline").write_text(u"project=%s\ncreated=true\n" % PROJECT)
    rc, out = baseline("--cleanup", "--work", str(work))
    assert rc == 0, out
    assert os.listdir(str(work)) == ["notes.txt"] and "kept %s" % work in out
    # Its own folder, with nothing else in it, goes too.
    (work / "notes.txt").unlink()
    (work / "kits").mkdir()
    (work / ".clarafl-bench-baseline").write_text(u"project=%s\ncreated=true\n" % PROJECT)
    assert baseline("--cleanup", "--work", str(work))[0] == 0
    assert not work.exists()


def test_cleanup_keeps_a_folder_it_was_given_empty(tmp_path):
    (tmp_path / "kits").mkdir()
    (tmp_path / ".clarafl-bench-baseline").write_text(u"project=%s\ncreated=false\n" % PROJECT)
    assert baseline("--cleanup", "--work", str(tmp_path))[0] == 0
    assert os.listdir(str(tmp_path)) == []


def test_a_run_refuses_a_work_folder_with_other_files_before_anything(tmp_path):
    (tmp_path / "precious").write_text(u"keep")
    timings = tmp_path.parent / ("%s-timings.json" % tmp_path.name)
    rc, out = baseline("--work", str(tmp_path), "--timings", str(timings))
    assert rc == 1
    assert "--work %s exists and is not a work folder of baseline.sh" % tmp_path in out
    assert os.listdir(str(tmp_path)) == ["precious"]
    doc = bench.read_json(str(timings))
    assert doc["ok"] is False and "name a new folder" in doc["error"]


def test_the_waits_take_seconds():
    rc, out = baseline("--timeout", "0")
    assert rc == 2 and "--timeout and --stall take seconds" in out


def test_a_run_past_its_limit_is_killed_with_what_it_started(tmp_path):
    child = tmp_path / "child.pid"
    cmd = ["bash", "-c", "sleep 300 & echo $! > %s; wait" % child]
    started = time.time()
    rc, _start, _end = bench.run_timed(cmd, str(tmp_path / "log"), dict(os.environ), 2)
    assert rc == "timeout" and time.time() - started < 20
    pid = int(child.read_text())
    time.sleep(0.2)
    assert not os.path.exists("/proc/%d" % pid) or open("/proc/%d/stat" % pid).read().split()[2] == "Z"
    assert "killed after 2 s" in (tmp_path / "log").read_text()


def test_the_restart_figures_and_their_target():
    assert bench.restart_figures({"start": 1.0}) == {}
    assert bench.restart_figures({"restart_sent": 10.0, "site_answering": 26.5, "site_training": 28.0}) == {
        "restart_answer_s": 16.5, "restart_s": 18.0}
    results = {"runs": [
        {"tool": "collection", "sites": 3, "ok": True, "restart_s": 18.0, "restart_answer_s": 16.5,
         "restart_ok": True},
        {"tool": "baseline", "sites": 3, "ok": True, "restart_s": 38.0, "restart_ok": True}]}
    row = [t for t in bench.evaluate_targets(results) if t["target"].startswith("a site restarted")][0]
    assert row == {"target": "a site restarted by the admin console, 3 sites", "goal": "trains again within 5 s",
                   "measured": "18.0 s (plain script, the kit's loop: 38.0 s)", "result": "FAIL"}
    table = bench.results_table(results)
    assert "site restarted -> trains again (s)" in table.splitlines()[0]
    assert table.splitlines()[2].endswith("| 18.0 |") and table.splitlines()[3].endswith("| 38.0 |")
