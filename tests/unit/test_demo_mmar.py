# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The demo MMAR (roles/fl_admin/files/demo_mmar) and its data tool (roles/fl_client/files/demo_data.py).

The MMAR's code runs on the real Clara Train 4.0 engine classes (nvflare==1.0.2, CPython 3.8)
in a cached venv that also holds scikit-learn: ``${CLARAFL_CACHE:-~/.cache/clarafl}/demo-venv-py38``,
rebuilt when the pins below change, built in a temporary folder and renamed into place. Without
Python 3.8 the engine tests are skipped, unless ``CLARAFL_REQUIRE_ENGINE=1`` makes them fail.

The Python 3.8 side lives in fixtures/demo_mmar/probe.py. An end-to-end run with real server and
client processes is fixtures/demo_mmar/e2e_harness.py (not collected: it needs ports and ~1.5 min).
"""

from __future__ import absolute_import, division, print_function

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest

import engine_venv

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
MMAR = os.path.join(REPO, "roles", "fl_admin", "files", "demo_mmar")
DEMO_DATA = os.path.join(REPO, "roles", "fl_client", "files", "demo_data.py")
COMMON = os.path.join(MMAR, "custom", "clarafl_demo_common.py")
PROBE = os.path.join(HERE, "fixtures", "demo_mmar", "probe.py")

DEMO_PACKAGE = "nvflare==1.0.2"
DEMO_DEPS = (
    "rich",
    "cryptography",
    "grpcio",
    "psutil",
    "pyyaml",
    "tenseal==0.3.0",
    "numpy<1.24",
    "protobuf<4",
    "scikit-learn<1.4",
)
DEMO_VENV = "demo-venv-py38"
DEMO_MARKER = ".clarafl-demo-requirements.json"


# ------------------------------------------------------------------------------ the demo venv

def _requirements():
    return {"python": "3.8", "engine": DEMO_PACKAGE, "deps": list(DEMO_DEPS)}


def _marker_ok(path):
    try:
        with open(os.path.join(path, DEMO_MARKER)) as fh:
            return json.load(fh) == _requirements()
    except (OSError, ValueError):
        return False


@contextlib.contextmanager
def _lock(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _run(cmd, log):
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    log.append("$ %s\n%s" % (" ".join(cmd), proc.stdout.decode(errors="replace")))
    if proc.returncode != 0:
        raise engine_venv.EngineUnavailable("building the demo venv failed at: %s\n%s"
                                            % (" ".join(cmd), "\n".join(log)[-4000:]))


def ensure_demo_venv():
    target = os.path.join(engine_venv.cache_dir(), DEMO_VENV)
    if _marker_ok(target):
        return target
    python38 = engine_venv.find_python38()
    if python38 is None:
        raise engine_venv.EngineUnavailable(
            "CPython 3.8 was not found (tried $CLARAFL_PYTHON38, `pyenv prefix 3.8.18`, python3.8 on PATH)")
    with _lock(target + ".lock"):
        if _marker_ok(target):
            return target
        tmp = tempfile.mkdtemp(prefix=DEMO_VENV + ".build-", dir=os.path.dirname(target))
        log = []
        try:
            _run([python38, "-m", "venv", tmp], log)
            py = os.path.join(tmp, "bin", "python")
            _run([py, "-m", "pip", "install", "-q", "--no-deps", DEMO_PACKAGE], log)
            _run([py, "-m", "pip", "install", "-q"] + list(DEMO_DEPS), log)
            _run([py, "-c", "import nvflare.apis.trainer, dlmed.hci.client.api, sklearn.datasets, tenseal"], log)
            with open(os.path.join(tmp, DEMO_MARKER), "w") as fh:
                json.dump(_requirements(), fh)
            if os.path.lexists(target):
                old = target + ".old"
                shutil.rmtree(old, ignore_errors=True)
                os.rename(target, old)
                shutil.rmtree(old, ignore_errors=True)
            os.rename(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


@pytest.fixture(scope="session")
def demo_python():
    try:
        venv = ensure_demo_venv()
    except engine_venv.EngineUnavailable as exc:
        if os.environ.get("CLARAFL_REQUIRE_ENGINE", "") == "1":
            pytest.fail("CLARAFL_REQUIRE_ENGINE=1 but the demo venv is unavailable: %s" % exc, pytrace=False)
        pytest.skip("demo venv unavailable: %s" % exc)
    return os.path.join(venv, "bin", "python")


def _env():
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env["PYTHONWARNINGS"] = "ignore"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run_script(python, args, cwd=None):
    proc = subprocess.run([python] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd,
                          env=_env(), timeout=120, check=False)
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def probe(python, command, **args):
    rc, out, err = run_script(python, [PROBE, command, json.dumps(args)])
    assert rc == 0, "probe %s failed (%d):\n%s\n%s" % (command, rc, out[-3000:], err[-3000:])
    return json.loads(out.strip().splitlines()[-1])


# --------------------------------------------------------------------------- shared fixtures

@pytest.fixture(scope="module")
def deployed_mmar(tmp_path_factory):
    """A copy of the MMAR where the engine deploys it: <run folder>/mmar_server."""
    run_dir = tmp_path_factory.mktemp("server_kit") / "run_1"
    dest = run_dir / "mmar_server"
    shutil.copytree(MMAR, str(dest), ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return str(dest)


@pytest.fixture
def fresh_mmar(tmp_path):
    dest = tmp_path / "run_1" / "mmar_server"
    shutil.copytree(MMAR, str(dest), ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return str(dest)


@pytest.fixture(scope="module")
def site_dirs(tmp_path_factory, demo_python):
    """Three sites' data written by demo_data.py, as the fl_client role runs it."""
    root = tmp_path_factory.mktemp("demo_data")
    dirs = []
    for i in range(3):
        out = str(root / ("site-%d" % (i + 1)))
        rc, stdout, stderr = run_script(demo_python, [DEMO_DATA, "--site-index", str(i), "--num-sites", "3",
                                                      "--out", out])
        assert rc == 0, stderr
        assert re.match(r"^changed: ", stdout), stdout
        dirs.append(out)
    return dirs


def _shared_block(path):
    with open(path) as fh:
        text = fh.read()
    m = re.search(r"^# BEGIN shared split.*?^# END shared split$", text, re.S | re.M)
    assert m, "no shared split block in %s" % path
    return m.group(0)


# ------------------------------------------------------------------------------ static checks

def test_split_code_is_identical_in_script_and_mmar():
    assert _shared_block(DEMO_DATA) == _shared_block(COMMON)


def test_mmar_layout_and_tunables():
    for rel in ("config/config_fed_server.json", "config/config_fed_client.json", "resources/log.config",
                "README.md", "custom/clarafl_demo_common.py", "custom/clarafl_demo_trainer.py",
                "custom/clarafl_demo_persistor.py"):
        assert os.path.isfile(os.path.join(MMAR, rel)), rel
    with open(os.path.join(MMAR, "config", "config_fed_server.json")) as fh:
        server = json.load(fh)
    with open(os.path.join(MMAR, "config", "config_fed_client.json")) as fh:
        client = json.load(fh)
    s0 = server["servers"][0]
    assert s0["start_round"] == 0
    assert s0["num_rounds"] == 5
    assert 1 <= s0["min_num_clients"] <= s0["max_num_clients"]
    assert s0["heart_beat_timeout"] > 0
    assert s0["wait_after_min_clients"] <= 2
    assert server["aggregator"]["name"] == "AccumulateWeightedAggregator"
    assert server["shareable_generator"]["name"] == "FullModelShareableGenerator"
    # The custom classes named in the configs exist where the engine will look (custom/ on sys.path).
    for spec in (server["model_persistor"], client["client_trainer"]):
        module, cls = spec["path"].rsplit(".", 1)
        with open(os.path.join(MMAR, "custom", module + ".py")) as fh:
            assert re.search(r"^class %s\(" % cls, fh.read(), re.M), spec["path"]
    assert client["client_trainer"]["args"]["data_dir"] == "/workspace/data"
    # The persistor's split seed must be the one demo_data.py uses by default.
    seed = re.search(r"^DEFAULT_SEED = (\d+)$", _shared_block(DEMO_DATA), re.M).group(1)
    assert server["model_persistor"]["args"]["seed"] == int(seed)


# --------------------------------------------------------------------- demo_data.py (Python 3.8)

def test_split_functions_agree(demo_python, deployed_mmar):
    result = probe(demo_python, "split", mmar=deployed_mmar,
                   cases=[[569, 1, 20210601], [569, 3, 20210601], [569, 20, 20210601], [569, 3, 7], [10, 4, 1]])
    assert result["default_seed_common"] == result["default_seed_script"]
    assert result["fraction_common"] == result["fraction_script"]
    for case in result["cases"]:
        assert case["same"], case
        rows = case["valid"] + [i for s in case["shards"] for i in s]
        assert sorted(rows) == list(range(case["n_rows"])), case   # a partition of all rows
    # The held-out rows do not depend on the number of sites.
    by_sites = dict((c["num_sites"], c["valid"]) for c in result["cases"] if c["seed"] == 20210601)
    assert by_sites[1] == by_sites[3] == by_sites[20]


def test_shards_are_disjoint_cover_training_rows_and_skip_held_out(demo_python, deployed_mmar, site_dirs):
    result = probe(demo_python, "shards", mmar=deployed_mmar, dirs=site_dirs)
    assert result["duplicate_feature_rows"] == 0
    shards = [set(s["rows"]) for s in result["sites"]]
    assert all(s["labels_match"] for s in result["sites"])
    assert all(len(s["rows"]) == len(set(s["rows"])) for s in result["sites"])
    for i in range(3):
        for j in range(i + 1, 3):
            assert not shards[i] & shards[j]
    valid = set(result["valid"])
    union = set().union(*shards)
    assert not union & valid
    assert union | valid == set(range(result["n_total"]))
    assert len(valid) == round(result["n_total"] * 0.2)
    assert sorted(len(s) for s in shards) == [151, 152, 152]


def test_demo_data_is_idempotent_and_atomic(demo_python, tmp_path):
    out = str(tmp_path / "data")
    args = [DEMO_DATA, "--site-index", "1", "--num-sites", "3", "--out", out]
    rc, first, _err = run_script(demo_python, args)
    assert rc == 0 and first.startswith("changed: "), first
    with open(os.path.join(out, "train.csv"), "rb") as fh:
        original = fh.read()
    mtime = os.stat(os.path.join(out, "train.csv")).st_mtime_ns
    rc, second, _err = run_script(demo_python, args)
    assert rc == 0 and second.startswith("unchanged: "), second
    assert os.stat(os.path.join(out, "train.csv")).st_mtime_ns == mtime
    header = original.decode().splitlines()[0].split(",")
    assert header[0] == "label" and len(header) == 31
    with open(os.path.join(out, "demo_data.json")) as fh:
        manifest = json.load(fh)
    assert manifest["site_index"] == 1 and manifest["num_sites"] == 3 and manifest["rows"] == 152
    # A damaged file is put back; no temporary files are left behind.
    with open(os.path.join(out, "train.csv"), "w") as fh:
        fh.write("label\n")
    rc, third, _err = run_script(demo_python, args)
    assert rc == 0 and third.startswith("changed: "), third
    with open(os.path.join(out, "train.csv"), "rb") as fh:
        assert fh.read() == original
    assert sorted(os.listdir(out)) == ["demo_data.json", "train.csv"]
    # Another federation size is another shard.
    rc, fourth, _err = run_script(demo_python, [DEMO_DATA, "--site-index", "1", "--num-sites", "2", "--out", out])
    assert rc == 0 and fourth.startswith("changed: ") and "site 2 of 2" in fourth, fourth


def test_demo_data_rejects_bad_arguments(demo_python, tmp_path):
    rc, out, err = run_script(demo_python, [DEMO_DATA, "--site-index", "3", "--num-sites", "3",
                                            "--out", str(tmp_path)])
    assert rc == 2 and out == ""
    assert "--site-index must be between 0 and 2" in err and "Traceback" not in err


# ------------------------------------------------------------------ the MMAR on the real engine

def test_trainer_returns_weights_with_shapes_and_flags(demo_python, fresh_mmar, site_dirs):
    result = probe(demo_python, "trainer", mmar=fresh_mmar, data_dir=site_dirs[0])
    assert result["is_shareable"] and result["sent_type_ok"]
    assert result["type_ok"], result["type"]
    assert result["data_type_ok"]
    assert result["all_ndarray"] and result["finite"]
    expected = {"weight": [30], "bias": [1], "feature_mean": [30], "feature_scale": [30]}
    assert result["shapes"] == expected == result["sent_shapes"]
    assert set(result["dtypes"].values()) == {"float32"}
    assert result["meta_steps"] == result["meta_total"] == 152
    assert result["meta_types"] == ["int", "int"]
    # The sites train the weights; the standardisation travels through untouched.
    assert result["changed"] == {"weight": True, "bias": True, "feature_mean": False, "feature_scale": False}


def test_fedavg_on_engine_components_beats_round_zero(demo_python, fresh_mmar, site_dirs):
    result = probe(demo_python, "fedavg", mmar=fresh_mmar, dirs=site_dirs, rounds=5)
    records = result["records"]
    run_dir = os.path.dirname(fresh_mmar)
    assert result["metrics_path"] == os.path.join(run_dir, "metrics.jsonl")
    assert result["model_path"] == os.path.join(run_dir, "global_model.npz")
    assert all(result["accepted"]) and len(result["accepted"]) == 15
    assert [r["round"] for r in records] == [0, 1, 2, 3, 4, 5]
    assert [r["engine_round"] for r in records] == [None, 0, 1, 2, 3, 4]
    assert [r["event"] for r in records] == ["initial"] + ["aggregated"] * 5
    assert {r["session"] for r in records} == {1}
    assert all(r["n_valid"] == 114 and re.match(r"^\d{4}-\d\d-\d\dT", r["time"]) for r in records)
    first, last = records[0], records[-1]
    assert first["loss"] == pytest.approx(0.693147, abs=1e-5)      # zero weights: p = 0.5 everywhere
    assert last["loss"] < first["loss"] - 0.3
    assert last["auc"] > first["auc"] + 0.3 and last["auc"] > 0.95
    assert last["accuracy"] > first["accuracy"] + 0.2 and last["accuracy"] > 0.9
    assert result["saved_keys"] == ["bias", "feature_mean", "feature_scale", "weight"]
    assert result["saved_matches_model"]


def test_missing_data_fails_with_one_clear_message(demo_python, fresh_mmar, tmp_path, site_dirs):
    no_file = tmp_path / "empty"
    no_file.mkdir()
    cases = {"no_folder": str(tmp_path / "absent"), "no_file": str(no_file)}
    result = probe(demo_python, "missing", mmar=fresh_mmar, cases=cases)
    for label, path in (("no_folder", cases["no_folder"]), ("no_file", os.path.join(cases["no_file"], "train.csv"))):
        r = result[label]
        assert r["raised"] == "DemoDataError", r
        assert r["message"].startswith("clarafl demo: site site-x has no training data: %s " % path), r
        assert "demo_data.py --site-index" in r["message"] and "/workspace/data" in r["message"]
        assert r["errors"] == [r["message"]]      # logged once, as an error line


def test_cross_validation_is_off_by_default_and_its_parts_exist():
    with open(os.path.join(MMAR, "config", "config_fed_client.json")) as fh:
        client = json.load(fh)
    assert client["cross_validate"] is False
    xval = client["cross_site_validation"]
    # The engine takes only a truthy is_participating; its own default is to keep the site's model back.
    assert xval["is_participating"] is True
    module, cls = xval["model_validator"]["path"].rsplit(".", 1)
    with open(os.path.join(MMAR, "custom", module + ".py")) as fh:
        assert re.search(r"^class %s\(Validator\):" % cls, fh.read(), re.M)
    # The engine's validation process reads both files from the MMAR (no fallback to the kit's).
    with open(os.path.join(MMAR, "config", "environment.json")) as fh:
        env = json.load(fh)
    assert env["PROCESSING_TASK"] and env["MMAR_CKPT_DIR"]
    with open(os.path.join(MMAR, "config", "config_train.json")) as fh:
        assert isinstance(json.load(fh), dict)
