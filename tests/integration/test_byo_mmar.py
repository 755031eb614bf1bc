"""Apps the collection did not write, trained on the real engine: the demo's runs keep their own folders, an app
without a metrics file and with its own num_rounds trains to its last round with a correct summary, an app
without federated configs trains from the ones the role writes, and an app that fails (a client importing a
package the image lacks, a server persistor that raises) stops at once with the engine's own error quoted.

The apps are in tests/integration/apps/; each uses module names of its own, because the long-lived server keeps
an app's custom modules loaded from the first run that imported them. One federation serves the tests in order.
"""
import hashlib
import json
import os
import time
import uuid

import pytest

from conftest import HERE, REPO, docker, port, run_playbook, write_local_inventory


SITE = os.path.join(REPO, "site.yml")
TRAIN = os.path.join(REPO, "playbooks", "train.yml")
APPS = os.path.join(HERE, "apps")


@pytest.fixture(scope="module")
def byo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("byo")
    project = "itbyo_%s" % uuid.uuid4().hex[:6]
    path = write_local_inventory(tmp, project, port(8212))
    info = {"tmp": tmp, "project": project, "inventory": path}
    yield info
    run_playbook(os.path.join(REPO, "playbooks", "teardown.yml"), inventory=path,
                 extra_vars={"teardown_provisioning_workspace": True})


def server_kit(byo):
    return byo["tmp"] / "kits" / "server"


def summary(byo, run):
    with open(str(byo["tmp"] / "kits" / "admin" / ("run_%d-summary.json" % run))) as f:
        return json.load(f)


def digest(path):
    with open(str(path), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def one_line(output):
    """The output as one line, as the YAML callback's quoting and wrapping aside."""
    return " ".join(output.replace("''", "'").split())


def train(byo, run, app=None, **extra):
    extra_vars = dict({"fl_admin_run_number": run}, **extra)
    if app:
        extra_vars.update(fl_admin_mmar_source="path", fl_admin_mmar_path=os.path.join(APPS, app))
    started = time.time()
    result = run_playbook(TRAIN, inventory=byo["inventory"], extra_vars=extra_vars)
    result.seconds = time.time() - started
    return result


def test_demo_runs_keep_their_own_folders_and_an_earlier_run_is_refused(byo):
    first = run_playbook(SITE, inventory=byo["inventory"], extra_vars={"fl_admin_num_rounds": 2})
    assert first.rc == 0, first.output[-4000:]
    run_1 = server_kit(byo) / "run_1"
    kept = dict((name, digest(run_1 / name)) for name in ("global_model.npz", "metrics.jsonl"))
    assert summary(byo, 1)["rounds_done"] == 2

    # The README's path for a second run: playbooks/train.yml with a new run number.
    second = train(byo, 2, fl_admin_num_rounds=3)
    assert second.rc == 0, second.output[-4000:]
    assert dict((name, digest(run_1 / name)) for name in kept) == kept
    result = summary(byo, 2)
    assert result["finished"] is True and result["rounds_done"] == result["num_rounds"] == 3
    assert result["rounds_from"] == "the server's log"
    assert [m["round"] for m in result["metrics"]] == [0, 1, 2, 3]
    assert (server_kit(byo) / "run_2" / "global_model.npz").is_file()
    assert "Run 2 of clarafl_demo: 3 of 3 round(s) done." in second.output

    # Asking again for run 1, which finished before run 2: refused, nothing touched.
    again = train(byo, 1)
    assert again.rc != 0
    assert "1 is an earlier run than run 2" in one_line(again.output)
    assert "fl_admin_restart_training=true" in again.output
    assert dict((name, digest(run_1 / name)) for name in kept) == kept


def test_an_app_without_metrics_trains_its_own_rounds_and_the_summary_counts_them(byo):
    # A trailing slash on the path, as a shell's completion leaves it.
    run = run_playbook(TRAIN, inventory=byo["inventory"], extra_vars={
        "fl_admin_run_number": 3, "fl_admin_mmar_source": "path",
        "fl_admin_mmar_path": os.path.join(APPS, "counting") + "/"})
    assert run.rc == 0, run.output[-4000:]
    out = one_line(run.output)
    # the app's own num_rounds (4) and min_num_clients (1) are kept, and said
    assert "Kept from the MMAR: servers[0].num_rounds = 4 (the MMAR's own); servers[0].min_num_clients = 1" in out
    assert "Written into the MMAR's configs: nothing" in out
    assert "aggregation_weights names org9-gone, which the federation does not have" in out
    result = summary(byo, 3)
    assert result["mmar"] == "counting"
    assert result["finished"] is True
    assert result["rounds_done"] == result["num_rounds"] == 4
    assert result["rounds_from"] == "the server's log"
    assert result["metrics"] == [] and result["metrics_file"] is False
    assert max(result["contributions"].values()) >= 1
    assert "Run 3 of counting: 4 of 4 round(s) done." in run.output
    assert "The MMAR wrote no validation metric" in out
    # the app saved its model with a relative path: it is in the server's kit folder
    assert (server_kit(byo) / "counting_model.npz").is_file()


def test_an_app_without_federated_configs_trains_from_the_written_ones(byo):
    run = train(byo, 4, "generated", fl_admin_num_rounds=2,
                fl_admin_model_persistor={"path": "clarafl_test_generated.CountingPersistor", "args": {}},
                fl_admin_client_trainer={"path": "clarafl_test_generated.CountingTrainer", "args": {"step": 2.0}})
    assert run.rc == 0, run.output[-4000:]
    out = one_line(run.output)
    assert "config/config_fed_server.json: written from fl_admin_model_persistor (the MMAR has none)" in out
    assert "servers[0].num_rounds = 2 (fl_admin_num_rounds)" in out
    written = json.loads((byo["tmp"] / "kits" / "admin" / "transfer" / "generated" / "config" /
                          "config_fed_server.json").read_text())
    assert written["servers"][0]["heart_beat_timeout"] == 600
    assert written["servers"][0]["min_num_clients"] == 3
    result = summary(byo, 4)
    assert result["finished"] is True and result["rounds_done"] == result["num_rounds"] == 2


def test_a_client_that_imports_a_missing_package_fails_at_once_quoting_the_site(byo):
    run = train(byo, 5, "missing_package")
    assert run.rc != 0
    out = one_line(run.output)
    assert "The training failed: The engine's logs say why" in out
    assert "ModuleNotFoundError: No module named 'clarafl_no_such_package'" in out
    assert "in the app's custom/clarafl_test_missing_package.py, line 2" in out
    assert "log.txt at localhost:%s/org1-a/log.txt" % (byo["tmp"] / "kits") in out
    # not taken for a hung site: nothing restarted, the training stopped so that a fixed app can be deployed
    assert "Restarted and brought back" not in out and "Restart the stuck sites' containers" not in out
    assert "The training was stopped (abort client, abort server)" in out
    assert "Traceback" not in run.output
    # found by reading the engine's logs while the round did not move, not by the stall or overall timeout
    assert "has made no progress for" not in out and "had not finished after" not in out
    with open(str(byo["tmp"] / "kits" / "admin" / "clarafl-training.json")) as f:
        record = json.load(f)
    assert record["run_number"] == 5 and record["phase"] == "started"


def test_a_server_persistor_that_fails_is_quoted_from_the_servers_log(byo):
    run = train(byo, 6, "broken_persistor")
    assert run.rc != 0
    out = one_line(run.output)
    assert "Server training has not started." in out
    assert "the server (log.txt at localhost:%s/server/log.txt)" % (byo["tmp"] / "kits") in out
    assert "RuntimeError: clarafl test: the initial model store /models/initial.npz is not there" in out
    assert "in the app's custom/clarafl_test_broken.py, line 9, in load_model" in out
    # the sites' logs are not quoted: this start reached none of them
    assert "site org1-a (log.txt" not in out
    assert "Traceback" not in run.output


def test_a_fresh_start_sets_aside_what_the_app_left_in_the_servers_kit(byo):
    left = server_kit(byo) / "counting_model.npz"
    assert left.is_file()  # saved by run 3 with a relative path
    before = digest(left)
    run = train(byo, 7, "counting", fl_admin_fresh_start=True)
    assert run.rc == 0, run.output[-4000:]
    kept = server_kit(byo) / "kept-before-run_7" / "counting_model.npz"
    assert kept.is_file() and digest(kept) == before
    # what every earlier app left there (run 4's app saved generated_model.npz the same way)
    assert ("fl_admin_fresh_start: moving counting_model.npz, generated_model.npz from the server's kit folder into "
            "%s/kept-before-run_7" % server_kit(byo)) in one_line(run.output)
    # the engine's own files and the run folders stay where they are
    assert (server_kit(byo) / "startup").is_dir() and (server_kit(byo) / "run_3").is_dir()
    assert summary(byo, 7)["rounds_done"] == 4


def test_a_site_that_does_not_answer_before_the_deploy_is_restarted_once_and_trains(byo):
    # A site frozen before the run (as one that tried to register before the server listened stays silent).
    container = "clarafl-%s-org2" % byo["project"]
    docker("pause", container)
    try:
        run = train(byo, 8, "counting", fl_admin_registration_timeout=20)
    finally:
        docker("unpause", container, check=False)
    assert run.rc == 0, run.output[-4000:]
    out = one_line(run.output)
    assert "Restarted and brought back org2 because they did not answer the server within 20 s" in out
    result = summary(byo, 8)
    assert result["rounds_done"] == 4 and result["healed"] == ["org2"]
