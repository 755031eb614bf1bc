"""The whole local federation against the real engine in Docker: site.yml trains the demo MMAR to
its last round, a rerun changes nothing, a killed site comes back and contributes, GPUs asked for
but absent stop the run before any container, and stop + teardown leave only the provisioning
workspace. One federation (its own project name and ports) serves the tests in order."""
import json
import os
import subprocess
import sys
import time
import uuid

import pytest
import yaml

from conftest import REPO, docker, run_playbook

SITE = os.path.join(REPO, "site.yml")
SITES = [("org1-a", "org1"), ("org1-b", "org1"), ("org2", "org2")]


@pytest.fixture(scope="module")
def fed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("federation")
    project = "itfed_%s" % uuid.uuid4().hex[:6]
    group_vars = {
        "ansible_connection": "local",
        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
        "fl_project_name": project,
        "fl_kit_root": str(tmp / "kits"),
        "fl_fed_learn_port": 8202,
        "fl_admin_port": 8203,
        "clara_image_source": "build",
        "clara_image_build_ca_bundle": "/etc/ssl/certs/ca-certificates.crt",
        "zerotier_enabled": False,
        "docker_manage_engine": False,
        "fl_server_org": "clarafl",
        "fl_server_cn": "localhost",
        "fl_admins": [{"email": "admin@clarafl.test", "org": "clarafl", "roles": ["super"]}],
        "fl_org_policies": {"clarafl": "relaxed", "org1": "relaxed", "org2": "relaxed"},
        "fl_server_ulimits": ["stack:67108864:67108864"],
        "fl_client_ulimits": ["stack:67108864:67108864"],
        "fl_client_demo_data": True,
        "fl_dataset_dir": str(tmp / "data") + "/{{ fl_client_name }}",
        "provisioning_workspace": str(tmp / "workspace"),
        "fl_admin_num_rounds": 3,
    }
    inventory = {"all": {"vars": group_vars, "children": {
        "fl_server": {"hosts": {"fl-server": None}},
        "fl_clients": {"hosts": dict((n, {"fl_client_name": n, "fl_org": o}) for n, o in SITES)},
        "fl_admin": {"hosts": {"fl-admin": None}},
    }}}
    path = tmp / "hosts.yml"
    path.write_text(yaml.safe_dump(inventory))
    info = {"tmp": tmp, "project": project, "inventory": str(path)}
    yield info
    run_playbook(os.path.join(REPO, "playbooks", "teardown.yml"), inventory=str(path),
                 extra_vars={"teardown_provisioning_workspace": True})


def summary(fed, run=1):
    with open(str(fed["tmp"] / "kits" / "admin" / ("run_%d-summary.json" % run))) as f:
        return json.load(f)


def project_containers(fed, running_only=False):
    args = ["ps", "-q", "--filter", "label=org.clarafl.project=%s" % fed["project"]]
    if not running_only:
        args.insert(1, "-a")
    return docker(*args).stdout.split()


def test_gpus_asked_for_but_absent_stop_before_any_container(fed):
    run = run_playbook(SITE, inventory=fed["inventory"], extra_vars={"fl_client_gpus": "all"})
    assert run.rc != 0
    assert "Site org1-a asks for GPUs (fl_client_gpus: all) but org1-a has no" in run.output
    assert "Traceback" not in run.output
    assert project_containers(fed) == []


def test_site_trains_the_demo_to_the_last_round(fed):
    run = run_playbook(SITE, inventory=fed["inventory"])
    assert run.rc == 0, run.output[-5000:]
    result = summary(fed)
    # every round finished
    assert result["finished"] is True
    assert result["rounds_done"] == result["num_rounds"] == 3
    # every site contributed
    assert sorted(result["sites"]) == sorted(site[0] for site in SITES)
    for site in result["sites"]:
        assert result["contributions"].get(site, 0) >= 1, result["contributions"]
    # the metric is better at the end than at round 0
    first, last = result["metrics"][0], result["metrics"][-1]
    assert first["round"] == 0 and last["round"] == 3
    assert last["auc"] > first["auc"] and last["loss"] < first["loss"]
    assert "Contributions per site: org1-a=" in run.output


def test_a_second_run_changes_nothing_and_leaves_the_run_alone(fed):
    run = run_playbook(SITE, inventory=fed["inventory"])
    assert run.rc == 0, run.output[-5000:]
    assert run.changed() == 0, [l for l in run.output.splitlines() if l.startswith("changed")]
    assert "has finished: left alone" in run.output
    assert len(project_containers(fed, running_only=True)) == 5


def train_again_in_background(fed, name, rounds, **extra):
    """Starts the run again with ROUNDS rounds; returns (process, log path) once it aggregated a round."""
    extra.update({"fl_admin_num_rounds": rounds, "fl_admin_restart_training": True, "fl_admin_wait_timeout": 600})
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), SITE, "-i", fed["inventory"],
           "--tags", "fl_admin", "-e", json.dumps(extra)]
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    log_path = str(fed["tmp"] / ("%s.log" % name))
    with open(log_path, "w") as log:
        training = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)
    metrics = fed["tmp"] / "kits" / "server" / "run_1" / "metrics.jsonl"
    sessions_before = fed.setdefault("sessions", 1)
    deadline = time.time() + 180
    while time.time() < deadline:
        lines = metrics.read_text().splitlines() if metrics.exists() else []
        if sum(1 for line in lines if '"session": %d' % (sessions_before + 1) in line) >= 2:
            fed["sessions"] = sessions_before + 1
            return training, log_path
        time.sleep(1)
    training.kill()
    pytest.fail("the restarted run did not aggregate a round within 180 s")
    return None, None


def finish(training, log_path):
    try:
        assert training.wait(timeout=600) == 0, open(log_path).read()[-5000:]
    finally:
        if training.poll() is None:
            training.kill()


def test_a_killed_site_comes_back_and_contributes_again(fed):
    rounds = 8
    training, log_path = train_again_in_background(fed, "killed", rounds)
    try:
        docker("kill", "clarafl-%s-org1-a" % fed["project"])
        back = run_playbook(SITE, inventory=fed["inventory"], args=["--tags", "fl_client"])
        assert back.rc == 0, back.output[-5000:]
    finally:
        finish(training, log_path)
    result = summary(fed)
    # min_num_clients is every site: the last rounds could only finish with org1-a back in them
    assert result["rounds_done"] == rounds
    assert result["contributions"]["org1-a"] >= 1


def test_a_hanging_site_is_found_and_restarted(fed):
    # A paused container stands in for the engine's hung client start: the site is there but does nothing.
    rounds = 6
    training, log_path = train_again_in_background(fed, "hang", rounds, fl_admin_stall_timeout=20)
    try:
        docker("pause", "clarafl-%s-org2" % fed["project"])
    finally:
        finish(training, log_path)
    result = summary(fed)
    assert result["healed"] == ["org2"]
    assert result["rounds_done"] == rounds
    assert "Restarted and brought back org2" in open(log_path).read()


def test_stop_then_teardown_leave_only_the_provisioning_workspace(fed):
    stop = run_playbook(os.path.join(REPO, "playbooks", "stop.yml"), inventory=fed["inventory"])
    assert stop.rc == 0, stop.output[-5000:]
    assert project_containers(fed, running_only=True) == []
    for port in (8202, 8203):
        assert subprocess.run(["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/%d" % port],
                              stderr=subprocess.DEVNULL, check=False).returncode != 0
    down = run_playbook(os.path.join(REPO, "playbooks", "teardown.yml"), inventory=fed["inventory"])
    assert down.rc == 0, down.output[-5000:]
    assert project_containers(fed) == []
    assert not (fed["tmp"] / "kits").exists()
    assert not (fed["tmp"] / "data" / "org1-a").exists()
    assert (fed["tmp"] / "workspace" / "state.json").exists()
