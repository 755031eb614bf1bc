# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""roles/fl_client/files/demo_data.py --jobs: several sites' shares and their records in one run.

Writing data needs numpy and scikit-learn: those tests run the script with the cached Python 3.8
demo venv of test_demo_mmar.py (fixture demo_python; skipped like the other demo tests when it is
unavailable, unless CLARAFL_REQUIRE_ENGINE=1). The argument errors are found before numpy is
imported, so they are checked with this Python.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import stat
import sys

import pytest

from test_demo_mmar import DEMO_DATA, demo_python, run_script  # noqa: F401  pylint: disable=unused-import

MARKER = ".clarafl-demo-data"
FILES = ["demo_data.json", "train.csv"]


def _read(path):
    with open(path, "rb") as fh:
        return fh.read()


def _mtimes(*dirs):
    return dict((os.path.join(d, n), os.stat(os.path.join(d, n)).st_mtime_ns) for d in dirs for n in os.listdir(d))


def _rows(out):
    return _read(os.path.join(out, "train.csv")).decode().splitlines()


def test_two_jobs_write_both_shares_and_records(demo_python, tmp_path):
    out0, out1 = str(tmp_path / "org1-a"), str(tmp_path / "nested" / "org1-b")
    jobs = [{"site_index": 0, "num_sites": 2, "out": out0, "marker": "site_index=0 num_sites=2 tool=abc\n"},
            {"site_index": 1, "num_sites": 2, "out": out1, "marker": u"site_index=1 num_sites=2 org=\u00e4"}]
    rc, out, err = run_script(demo_python, [DEMO_DATA, "--jobs", json.dumps(jobs)])
    assert rc == 0, err
    lines = out.splitlines()
    assert len(lines) == 2 and all(line.startswith("changed: ") for line in lines), out
    assert lines[0].startswith("changed: %s/train.csv: " % out0) and "site 1 of 2 (index 0)" in lines[0]
    assert lines[1].startswith("changed: %s/train.csv: " % out1) and "site 2 of 2 (index 1)" in lines[1]
    for path, job in ((out0, jobs[0]), (out1, jobs[1])):
        assert sorted(os.listdir(path)) == sorted(FILES + [MARKER])
        assert _read(os.path.join(path, MARKER)) == job["marker"].encode("utf-8")
        assert stat.S_IMODE(os.stat(os.path.join(path, MARKER)).st_mode) == 0o644
        with open(os.path.join(path, "demo_data.json")) as fh:
            manifest = json.load(fh)
        assert (manifest["site_index"], manifest["num_sites"]) == (job["site_index"], 2)
        assert manifest["rows"] == len(_rows(path)) - 1
    rows0, rows1 = _rows(out0), _rows(out1)
    assert rows0[0] == rows1[0] and rows0[0].startswith("label,")
    assert not set(rows0[1:]) & set(rows1[1:])  # disjoint shares
    assert len(rows0) - 1 + len(rows1) - 1 == 569 - 114  # every row but the held-out ones

    # The same run again changes nothing.
    before = _mtimes(out0, out1)
    rc, out, err = run_script(demo_python, [DEMO_DATA, "--jobs", json.dumps(jobs)])
    assert rc == 0, err
    lines = out.splitlines()
    assert len(lines) == 2 and all(line.startswith("unchanged: ") for line in lines), out
    assert _mtimes(out0, out1) == before

    # Only the record of the second job differs: only that job changes.
    jobs[1]["marker"] = "site_index=1 num_sites=2 tool=def"
    rc, out, err = run_script(demo_python, [DEMO_DATA, "--jobs", json.dumps(jobs)])
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("unchanged: ") and lines[1].startswith("changed: "), out
    assert _read(os.path.join(out1, MARKER)) == b"site_index=1 num_sites=2 tool=def"
    assert _read(os.path.join(out1, "train.csv")).decode().splitlines() == rows1
    assert not [n for n in os.listdir(out1) if n.startswith(".") and n != MARKER]  # no temporary files left


def test_a_job_without_marker_writes_no_record(demo_python, tmp_path):
    out = str(tmp_path / "s")
    rc, stdout, err = run_script(demo_python, [DEMO_DATA, "--jobs", json.dumps(
        [{"site_index": 0, "num_sites": 1, "out": out}])])
    assert rc == 0 and stdout.startswith("changed: "), err
    assert sorted(os.listdir(out)) == FILES


def test_jobs_match_the_single_site_cli(demo_python, tmp_path):
    """The old CLI still works and writes the very same share as a job."""
    single, job = str(tmp_path / "single"), str(tmp_path / "job")
    rc, out, err = run_script(demo_python, [DEMO_DATA, "--site-index", "2", "--num-sites", "3", "--out", single])
    assert rc == 0 and out.startswith("changed: ") and "site 3 of 3" in out, err
    rc, out, err = run_script(demo_python, [DEMO_DATA, "--jobs", json.dumps(
        [{"site_index": 2, "num_sites": 3, "out": job, "marker": "m"}])])
    assert rc == 0, err
    for name in FILES:
        assert _read(os.path.join(single, name)) == _read(os.path.join(job, name)), name
    assert sorted(os.listdir(single)) == FILES  # the single-site CLI writes no record


# ------------------------------------------------------------------- argument errors (no numpy needed)


def _run_here(args):
    return run_script(sys.executable, [DEMO_DATA] + args)


def test_jobs_that_are_not_json():
    rc, out, err = _run_here(["--jobs", "[{'out': 'x'}]"])
    assert rc == 2 and out == ""
    assert err.startswith("demo_data.py: error: --jobs is not JSON") and "Traceback" not in err


def test_a_job_without_out():
    rc, out, err = _run_here(["--jobs", json.dumps([{"site_index": 0, "num_sites": 2}])])
    assert rc == 2 and out == ""
    assert err.startswith("demo_data.py: error: a job needs out, site_index and num_sites") and "'out'" in err


def test_jobs_that_are_not_a_list_of_objects():
    for jobs in ('{"site_index": 0, "num_sites": 2, "out": "/x"}', '["/x"]', '3'):
        rc, out, err = _run_here(["--jobs", jobs])
        assert rc == 2 and out == "", jobs
        assert err.startswith("demo_data.py: error: --jobs must be a JSON list of objects"), (jobs, err)


def test_a_job_with_bad_numbers(tmp_path):
    rc, _out, err = _run_here(["--jobs", json.dumps([{"site_index": "one", "num_sites": 2, "out": str(tmp_path)}])])
    assert rc == 2 and err.startswith("demo_data.py: error: a job needs out, site_index and num_sites")
    rc, _out, err = _run_here(["--jobs", json.dumps([{"site_index": 3, "num_sites": 3, "out": str(tmp_path / "x")}])])
    assert rc == 2 and "demo_data.py: error: --site-index must be between 0 and 2" in err
    assert not os.path.exists(str(tmp_path / "x"))


def test_single_site_arguments_are_required_without_jobs(tmp_path):
    for args in ([], ["--site-index", "0", "--num-sites", "3"], ["--num-sites", "3", "--out", str(tmp_path)],
                 ["--site-index", "0", "--out", str(tmp_path)]):
        rc, out, err = _run_here(args)
        assert rc == 2 and out == "", args
        assert "demo_data.py: error: --site-index, --num-sites and --out are required without --jobs" in err, args
        assert err.startswith("usage: demo_data.py")
    assert os.listdir(str(tmp_path)) == []


def _demo_module():
    import importlib.util
    spec = importlib.util.spec_from_file_location("clarafl_demo_data", DEMO_DATA)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # numpy and scikit-learn are imported only to write a share
    return module


def test_a_share_keeps_the_record_of_where_it_went(tmp_path):
    demo = _demo_module()
    record = {"path": str(tmp_path / "records" / "org1-a.json"), "site": "org1-a", "dataset_dir": "/data/org1-a"}
    assert demo.write_record(record) is True
    assert json.loads(_read(record["path"]).decode()) == {"site": "org1-a", "dataset_dir": "/data/org1-a"}
    assert demo.write_record(record) is False  # the same record again: unchanged


def test_a_record_without_its_fields_is_refused():
    demo = _demo_module()
    with pytest.raises(demo.DemoDataError) as caught:
        demo.write_record({"site": "a"})
    assert "a job's record needs path, site and dataset_dir" in str(caught.value)
