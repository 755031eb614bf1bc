"""The whole local federation against the real engine in Docker: site.yml trains the demo MMAR to
its last round, no key copy reaches the host, a rerun changes nothing, a killed site comes back and
contributes, a hanging site is restarted, a killed server and site are brought back by site.yml and
the lost run trained again, GPUs asked for but absent stop the run before any container, and stop +
teardown leave no engine process and only the provisioning workspace. One federation (its own
project name and ports) serves the tests in order.

It runs the collection as users take it: the tarball `ansible-galaxy collection build` makes, installed
into a collections path outside the checkout, its playbooks run by name (clarafl.federation.site,
.status, .stop, .teardown) from a folder of their own with an inventory there."""
import hashlib
import io
import json
import os
import re
import subprocess
import tarfile
import time
import uuid

import pytest

from conftest import SITES, ansible_command, docker, port, run_playbook, write_local_inventory


SITE = "clarafl.federation.site"


@pytest.fixture(scope="module")
def fed(tmp_path_factory, installed_collection):
    tmp = tmp_path_factory.mktemp("federation")
    project = "itfed_%s" % uuid.uuid4().hex[:6]
    path = write_local_inventory(tmp, project, port(8202), {"fl_admin_num_rounds": 4})
    info = {"tmp": tmp, "project": project, "inventory": path, "started": time.time() - 1,
            "collection": installed_collection}
    yield info
    play(info, "clarafl.federation.teardown", extra_vars={"teardown_provisioning_workspace": True})


def play(fed, playbook, **kwargs):
    """A playbook of the installed collection, by name, on the federation's inventory."""
    return run_playbook(playbook, inventory=fed["inventory"], collection=fed["collection"], **kwargs)


def play_in_background(fed, name, playbook, extra_vars=None, args=()):
    """(process, log path) of a playbook of the installed collection started in the background."""
    cmd, cwd, env = ansible_command(playbook, fed["inventory"], extra_vars, args, collection=fed["collection"])
    log_path = str(fed["tmp"] / ("%s.log" % name))
    with open(log_path, "w") as log:
        return subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=env), log_path


def summary(fed, run=1):
    with open(str(fed["tmp"] / "kits" / "admin" / ("run_%d-summary.json" % run))) as f:
        return json.load(f)


def project_containers(fed, running_only=False):
    args = ["ps", "-q", "--filter", "label=org.clarafl.project=%s" % fed["project"]]
    if not running_only:
        args.insert(1, "-a")
    return docker(*args).stdout.split()


def test_gpus_asked_for_but_absent_stop_before_any_container(fed):
    run = play(fed, SITE, extra_vars={"fl_client_gpus": "all"})
    assert run.rc != 0
    # One machine runs the three sites: one sentence names them all.
    assert "Site(s) org1-a, org1-b, org2 ask for GPUs (all) but localhost has no" in " ".join(run.output.split())
    assert "Traceback" not in run.output
    assert project_containers(fed) == []
    # refused by a check: no run lock is left behind
    assert not os.path.exists("/var/lib/clarafl/%s/run.lock" % fed["project"])


def site_in_background(fed, name, *args):
    return play_in_background(fed, name, SITE, args=args)


def test_site_trains_the_demo_to_the_last_round_while_a_second_run_is_refused(fed):
    lock = "/var/lib/clarafl/%s/run.lock" % fed["project"]
    assert not os.path.exists(lock)
    first, log_path = site_in_background(fed, "first")
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not os.path.exists(lock) and first.poll() is None:
            time.sleep(0.5)
        assert os.path.exists(lock), open(log_path).read()[-3000:]
        # A second run of the same project while the first holds the lock: refused, naming the holder, while
        # the first still runs.
        second = play(fed, SITE)
        assert second.rc != 0
        assert "Another run holds the lock of this project" in second.output
        assert "playbook site.yml" in second.output and lock in second.output
        assert first.poll() is None
        assert first.wait(timeout=1200) == 0, open(log_path).read()[-5000:]
    finally:
        if first.poll() is None:
            first.kill()
    output = open(log_path).read()
    assert not os.path.exists(lock)
    # an ordinary run prints no error or warning lines
    assert "[ERROR]" not in output and "[WARNING]" not in output, [
        line for line in output.splitlines() if "[ERROR]" in line or "[WARNING]" in line]
    result = summary(fed)
    # every round finished
    assert result["finished"] is True
    assert result["rounds_done"] == result["num_rounds"] == 4
    # every site contributed
    assert sorted(result["sites"]) == sorted(site[0] for site in SITES)
    for site in result["sites"]:
        assert result["contributions"].get(site, 0) >= 1, result["contributions"]
    # the metric is better at the end than at round 0
    first, last = result["metrics"][0], result["metrics"][-1]
    assert first["round"] == 0 and last["round"] == 4
    assert last["auc"] > first["auc"] and last["loss"] < first["loss"]
    assert "Contributions per site: org1-a=" in output
    # While it trained, a line per round, before the summary; after the end no column of skipped tasks.
    follow = output[output.index("TASK [clarafl.federation.fl_admin : Train to the run's end"):output.index("Run 1 of clarafl_demo")]
    # (a round shorter than the interval between two readings gets its line when the next reading shows it passed)
    rounds = [int(r) for r in re.findall(r"^run 1: round (\d+) of 4(?: \(passed between two readings\))?, "
                                         r"contributions ", follow, re.MULTILINE)]
    assert set(rounds) >= {0, 1, 2, 3} and rounds == sorted(rounds), follow[:4000]
    assert follow.index("run 1: round 3 of 4") < follow.index("Run 1 finished: 4 of 4 round(s).")
    summarised = follow.index("TASK [clarafl.federation.fl_admin : Summarise the run]")
    assert follow[:summarised].count("skipping:") <= 5, follow[:summarised]


def fl_containers(fed):
    return ["clarafl-%s-%s" % (fed["project"], name) for name in ["server"] + [site[0] for site in SITES]]


def readable_private_keys(top, since=0):
    """Files under top changed since `since` that hold a private key and that others may read."""
    found = []
    for dirpath, _dirs, files in os.walk(top):
        for name in files:
            path = os.path.join(dirpath, name)
            try:
                with open(path, "rb") as fh:
                    holds_key = b"PRIVATE KEY" in fh.read() or name.endswith(".key")
                st = os.stat(path)
            except OSError:
                continue
            if holds_key and st.st_mode & 0o077 and st.st_mtime >= since:
                found.append(path)
    return found


def test_no_private_key_copy_reaches_the_host(fed):
    # The engine copies each kit, key included, to /tmp/fl/<site> (/tmp/fl_server on the server).
    # That /tmp is a tmpfs of the container: the copy is there while it runs, never on the host.
    for name in fl_containers(fed):
        tmpfs = json.loads(docker("inspect", "--format", "{{json .HostConfig.Tmpfs}}", name).stdout) or {}
        assert "/tmp" in tmpfs, (name, tmpfs)
        keys = docker("exec", name, "sh", "-c", "find /tmp/fl /tmp/fl_server -name '*.key' 2>/dev/null",
                      check=False).stdout.split()
        assert keys, "%s: the engine's copy of the key was expected under /tmp/fl*" % name
    # Only what this federation could have written counts: another engine run by hand on this
    # machine (the runbook's way) leaves its own copies there.
    for top in ("/tmp/fl", "/tmp/fl_server"):
        assert readable_private_keys(top, since=fed["started"]) == []
    # the kits themselves keep their keys private
    assert readable_private_keys(str(fed["tmp"] / "kits")) == []


def test_a_second_run_changes_nothing_and_leaves_the_run_alone(fed):
    run = play(fed, SITE)
    assert run.rc == 0, run.output[-5000:]
    assert run.changed() == 0, [l for l in run.output.splitlines() if l.startswith("changed")]
    assert "Run 1 finished: left alone." in " ".join(run.output.split())
    assert len(project_containers(fed, running_only=True)) == 5


def test_status_by_name_shows_the_finished_run_and_every_site(fed):
    run = play(fed, "clarafl.federation.status")
    assert run.rc == 0, run.output[-5000:]
    assert run.changed() == 0
    said = " ".join(run.output.split())
    # A finished run: the engine no longer reports rounds; the admin host's records of the run do.
    assert "server: training stopped, run 1: 4 of 4 round(s) done (from the run's summary)" in said, said[-3000:]
    kept = summary(fed)["contributions"]
    for name, _org in SITES:
        assert re.search(r"%s yes training stopped - %d\b" % (re.escape(name), kept[name]), said), (
            name, said[-3000:])


def train_again_in_background(fed, name, rounds, **extra):
    """Starts the run again with ROUNDS rounds; returns (process, log path) once it aggregated two rounds."""
    extra.update({"fl_admin_num_rounds": rounds, "fl_admin_restart_training": True, "fl_admin_wait_timeout": 600})
    before = latest_session(fed)
    training, log_path = play_in_background(fed, name, SITE, extra_vars=extra, args=["--tags", "fl_admin"])
    try:
        wait_for_rounds(fed, before)
    except BaseException:
        training.kill()
        raise
    return training, log_path


def finish(training, log_path):
    try:
        assert training.wait(timeout=600) == 0, open(log_path).read()[-5000:]
    finally:
        if training.poll() is None:
            training.kill()


def run_metrics(fed):
    """What the demo MMAR's persistor wrote of run 1 on the server: one dict per line (session, event, round ...);
    a training session is one start of the server's training, counted on across restarts of the run."""
    metrics = fed["tmp"] / "kits" / "server" / "run_1" / "metrics.jsonl"
    entries = []
    for line in (metrics.read_text().splitlines() if metrics.exists() else []):
        try:
            entries.append(json.loads(line))
        except ValueError:
            pass  # a line being written
    return entries


def latest_session(fed):
    """The newest training session of run 1 (0: none yet); taken before a test starts the run again."""
    return max([entry.get("session") or 0 for entry in run_metrics(fed)] or [0])


def wait_for_rounds(fed, after, count=2, timeout=180):
    """Wait until a training session of run 1 newer than AFTER has aggregated COUNT rounds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        entries = run_metrics(fed)
        newest = max([entry.get("session") or 0 for entry in entries] or [0])
        aggregated = [e for e in entries if e.get("session") == newest and e.get("event") == "aggregated"]
        if newest > after and len(aggregated) >= count:
            return
        time.sleep(1)
    pytest.fail("no training session of run 1 after session %d aggregated %d rounds within %d s" % (after, count,
                                                                                                      timeout))


def test_a_killed_site_comes_back_and_contributes_again(fed):
    # The training is started and left to run (no playbook follows it, so none holds the project's lock);
    # a site dies; site.yml --tags fl_client brings it back into the running training; site.yml
    # --tags fl_admin then follows the run to its end.
    # Enough rounds that the training still runs when the site is back (a round takes about 5 s).
    rounds = 20
    extra = {"fl_admin_num_rounds": rounds, "fl_admin_restart_training": True, "fl_admin_wait": False}
    before = latest_session(fed)
    start = play(fed, SITE, extra_vars=extra, args=["--tags", "fl_admin"])
    assert start.rc == 0, start.output[-5000:]
    wait_for_rounds(fed, before)
    docker("kill", "clarafl-%s-org1-a" % fed["project"])
    back = play(fed, SITE, args=["--tags", "fl_client"])
    assert back.rc == 0, back.output[-5000:]
    follow = play(fed, SITE, extra_vars={"fl_admin_num_rounds": rounds,
                                                                        "fl_admin_wait_timeout": 600},
                          args=["--tags", "fl_admin"])
    assert follow.rc == 0, follow.output[-5000:]
    assert "is training (round" in " ".join(follow.output.split())
    result = summary(fed)
    # min_num_clients is every site: the last rounds could only finish with org1-a back in them
    assert result["rounds_done"] == rounds
    assert result["contributions"]["org1-a"] >= 1


def test_a_site_killed_while_site_yml_follows_is_brought_back_by_the_same_run(fed):
    # A site's container dies at round 3 of 12 while site.yml follows the training: the same site.yml restarts it,
    # brings it back into the training, and finishes with every site's contributions (min_num_clients is every
    # site: no round after the kill ends without it).
    rounds = 12
    # Sooner than the default 90 s: a site that is merely busy and taken for dead is restarted and said, which this
    # test allows (it asks for org1-b among the sites brought back).
    before = latest_session(fed)
    training, log_path = play_in_background(fed, "killed", SITE, extra_vars={
        "fl_admin_num_rounds": rounds, "fl_admin_restart_training": True, "fl_admin_wait_timeout": 600,
        "fl_admin_unanswered_timeout": 45})
    try:
        wait_for_rounds(fed, before, count=3)
        docker("kill", "clarafl-%s-org1-b" % fed["project"])
    finally:
        finish(training, log_path)
    output = open(log_path).read()
    said = " ".join(output.split())
    assert "Restarted and brought back org1-b because they lag behind and stopped answering the server" in said
    assert "The training failed" not in said and "fix the app" not in said
    result = summary(fed)
    assert result["finished"] is True and result["rounds_done"] == rounds
    assert "org1-b" in result["healed"]
    for site in result["sites"]:
        assert result["contributions"].get(site, 0) >= 1, result["contributions"]


def test_a_server_restarted_while_site_yml_follows_is_said_and_the_run_trained_again(fed):
    rounds = 8
    before = latest_session(fed)
    training, log_path = play_in_background(fed, "server-restart", SITE, extra_vars={
        "fl_admin_num_rounds": rounds, "fl_admin_restart_training": True, "fl_admin_wait_timeout": 600})
    try:
        wait_for_rounds(fed, before, count=3)
        docker("restart", "clarafl-%s-server" % fed["project"])
    finally:
        finish(training, log_path)
    said = " ".join(open(log_path).read().split())
    assert "The FL server stopped answering during run 1" in said
    assert "The server no longer knows run 1, which was training" in said and "Training run 1 again" in said
    result = summary(fed)
    assert result["finished"] is True and result["server_recovered"] is True and result["rounds_done"] == rounds
    for site in result["sites"]:
        assert result["contributions"].get(site, 0) >= 1, result["contributions"]


def test_a_hanging_site_is_found_and_restarted(fed):
    # A paused container stands in for the engine's hung client start: the site is there but does nothing.
    rounds = 6
    # A paused site does not answer either: it is taken for one to restart after fl_admin_unanswered_timeout.
    training, log_path = train_again_in_background(fed, "hang", rounds, fl_admin_stall_timeout=20,
                                                   fl_admin_unanswered_timeout=20)
    try:
        docker("pause", "clarafl-%s-org2" % fed["project"])
    finally:
        finish(training, log_path)
    result = summary(fed)
    # the paused site was found and restarted (a start the engine really hung may be healed too)
    assert "org2" in result["healed"]
    assert result["rounds_done"] == rounds
    assert "Restarted and brought back org2" in open(log_path).read()


def tree_digest(top):
    """{relative path: sha256} of every file under top."""
    digest = {}
    for dirpath, _dirs, files in os.walk(top):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as fh:
                digest[os.path.relpath(path, top)] = hashlib.sha256(fh.read()).hexdigest()
    return digest


def test_a_killed_server_and_site_are_brought_back_by_site_yml(fed):
    # The server loses its run state when it dies: site.yml starts it again, brings the killed site
    # back, and trains the lost run again to its last round. Provisioning is left alone.
    workspace = tree_digest(str(fed["tmp"] / "workspace"))
    rounds = 5
    training, log_path = train_again_in_background(fed, "server", rounds)
    # The run has started; wait until the role has recorded that, as it does right after the start.
    state = fed["tmp"] / "kits" / "admin" / "clarafl-training.json"
    deadline = time.time() + 120
    while time.time() < deadline and json.loads(state.read_text()).get("phase") != "started":
        time.sleep(1)
    # The operator's playbook dies with the server (as when the admin host loses its session).
    training.terminate()
    training.wait(timeout=60)
    docker("kill", "clarafl-%s-server" % fed["project"])
    docker("kill", "clarafl-%s-org1-b" % fed["project"])
    run = play(fed, SITE, extra_vars={"fl_admin_num_rounds": rounds})
    assert run.rc == 0, run.output[-5000:]
    admin_part = run.output[run.output.find("Deploy and start the training"):][:6000]
    said = " ".join(run.output.split())
    assert "The server no longer knows run 1" in said, admin_part
    assert "The server lost the run (it was restarted during the training)" in said
    result = summary(fed)
    assert result["finished"] is True and result["server_recovered"] is True
    assert result["rounds_done"] == rounds
    for site in result["sites"]:
        assert result["contributions"].get(site, 0) >= 1, result["contributions"]
    assert tree_digest(str(fed["tmp"] / "workspace")) == workspace
    assert len(project_containers(fed, running_only=True)) == 5


def engine_processes_of(fed):
    """Host pids of engine processes in the project's containers or running from its kits."""
    ids = project_containers(fed)
    kits = str(fed["tmp"] / "kits")
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as fh:
                cmdline = fh.read().replace(b"\0", b" ").decode("utf-8", "replace")
            with open("/proc/%s/cgroup" % pid) as fh:
                cgroup = fh.read()
            cwd = os.readlink("/proc/%s/cwd" % pid)
        except OSError:
            continue
        if "nvflare" not in cmdline and "sub_start.sh" not in cmdline:
            continue
        if any(cid in cgroup for cid in ids) or cwd.startswith(kits):
            found.append((int(pid), cmdline))
    return found


def test_stop_then_teardown_leave_only_the_provisioning_workspace(fed):
    assert engine_processes_of(fed), "the running federation's engine processes should be visible"
    # A client started by hand from its kit on the host, as the runbook does, that ignores SIGTERM.
    hand_started = subprocess.Popen(
        ["bash", "-c", "trap '' TERM; exec -a 'python3 -u -m nvflare.private.fed.app.client.client_train' sleep 600"],
        cwd=str(fed["tmp"] / "kits" / "org2" / "startup"))
    try:
        stop = play(fed, "clarafl.federation.stop")
        assert stop.rc == 0, stop.output[-5000:]
        assert hand_started.wait(timeout=30) == -9
    finally:
        if hand_started.poll() is None:
            hand_started.kill()
    assert "Ended 1 engine process(es) that outlived the stop" in stop.output
    assert project_containers(fed, running_only=True) == []
    assert engine_processes_of(fed) == []
    # The engine's key copies lived in the containers' tmpfs: a stopped container keeps none.
    for name in fl_containers(fed):
        kept = subprocess.run(["docker", "cp", "%s:/tmp/." % name, "-"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, check=False)
        if kept.returncode == 0:
            names = tarfile.open(fileobj=io.BytesIO(kept.stdout)).getnames()
            assert not [n for n in names if n.endswith(".key") or "/fl" in "/" + n], (name, names)
    for fl_port in (port(8202), port(8203)):
        assert subprocess.run(["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/%d" % fl_port],
                              stderr=subprocess.DEVNULL, check=False).returncode != 0
    # Check mode on the stopped federation: a preview that starts and waits for nothing.
    preview = play(fed, SITE, args=["--check", "--diff"])
    assert preview.rc == 0, preview.output[-5000:]
    said = " ".join(preview.output.split())
    assert "FAILED - RETRYING" not in said
    assert "has finished (" in said and "it would be left alone" in said
    assert project_containers(fed, running_only=True) == []
    down = play(fed, "clarafl.federation.teardown")
    assert down.rc == 0, down.output[-5000:]
    assert project_containers(fed) == []
    assert not (fed["tmp"] / "kits").exists()
    assert not (fed["tmp"] / "data" / "org1-a").exists()
    assert (fed["tmp"] / "workspace" / "state.json").exists()
