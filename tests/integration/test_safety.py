"""Bad input fails in site.yml's first play, in one message, before any host changes; destructive
playbooks need an inventory; teardown removes only what the collection made; check mode previews
without creating anything; the playbooks run from another working directory. Against this machine's
real Docker engine and the real provisioning tool."""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid

import pytest
import yaml

from conftest import REPO, ansible_command, docker, port, run_playbook, write_local_inventory


SITE = os.path.join(REPO, "site.yml")
TEARDOWN = os.path.join(REPO, "playbooks", "teardown.yml")


def write_inventory(tmp_path, project, extra=None, site_vars=None, host_vars=None):
    return write_local_inventory(tmp_path, project, port(8302), dict({"fl_admin_num_rounds": 2}, **(extra or {})),
                                 site_vars=site_vars, host_vars=host_vars)


@pytest.fixture
def project():
    return "itsafe_%s" % uuid.uuid4().hex[:6]


def project_containers(project):
    return docker("ps", "-aq", "--filter", "label=org.clarafl.project=%s" % project).stdout.split()


def nothing_made(tmp_path, project):
    """Nothing of the project exists: no container, kit root, workspace, data or lock."""
    assert project_containers(project) == []
    for name in ("kits", "workspace", "data"):
        assert not (tmp_path / name).exists(), name
    assert not os.path.exists("/var/lib/clarafl/%s" % project)


def first_play_failure(run):
    assert run.rc != 0
    assert "Traceback" not in run.output
    # It stopped in the first play: no later play started.
    assert "PLAY [Put the Clara runtime image on every machine]" not in run.output
    # The output callback folds long lines: compare words, not line breaks.
    return " ".join(run.output.split())


def test_every_bad_value_is_named_in_one_message_and_nothing_changes(tmp_path, project):
    inventory = write_inventory(tmp_path, project, extra={
        "fl_admin_num_rounds": "five",
        "fl_admin_min_num_clients": 0,
        "fl_admin_wait_timeout": -1,
        "provisioning_workspace": "workspace-relative",
    }, host_vars={"fl_clinet_name": "typo"})
    run = run_playbook(SITE, inventory=inventory)
    out = first_play_failure(run)
    assert "problem(s) found before any host was changed (nothing was changed)" in out
    assert "fl_admin_num_rounds" in out and "five" in out
    assert "fl_admin_min_num_clients" in out and "at least 1" in out
    assert "fl_admin_wait_timeout" in out
    assert "provisioning_workspace" in out and "absolute path" in out
    # a typo is a warning naming the closest known variable
    assert "fl_clinet_name" in out and "did you mean fl_client_name" in out
    nothing_made(tmp_path, project)


def test_the_old_one_host_per_site_inventory_is_refused_with_the_new_form(tmp_path, project):
    # As inventories/local was before an inventory host became a machine: five local hosts, one per site.
    inventory = write_inventory(tmp_path, project)
    with open(inventory) as handle:
        doc = yaml.safe_load(handle)
    doc["all"]["children"] = {
        "fl_server": {"hosts": {"fl-server": None}},
        "fl_clients": {"hosts": {"org1-a": {"fl_client_name": "org1-a", "fl_org": "org1"},
                                 "org2": {"fl_client_name": "org2", "fl_org": "org2"}}},
        "fl_admin": {"hosts": {"fl-admin": None}},
    }
    with open(inventory, "w") as handle:
        yaml.safe_dump(doc, handle)
    out = first_play_failure(run_playbook(SITE, inventory=inventory))
    message = out.split("are one machine (the local connection), but an inventory host is a machine")
    assert len(message) > 1, out[-3000:]
    assert sorted(name.strip() for name in message[0].rsplit("1. ", 1)[-1].split(", ")) == [
        "fl-admin", "fl-server", "org1-a", "org2"]
    assert ": {fl_sites: [{name: org1-a, org: org1}, {name: org2, org: org2}]}" in message[1]
    nothing_made(tmp_path, project)


def test_a_typo_is_an_error_in_strict_mode(tmp_path, project):
    inventory = write_inventory(tmp_path, project, extra={"fl_strict_variables": True},
                                host_vars={"fl_clinet_name": "typo"})
    out = first_play_failure(run_playbook(SITE, inventory=inventory))
    assert "fl_clinet_name" in out and "did you mean fl_client_name" in out
    nothing_made(tmp_path, project)


@pytest.mark.parametrize("kit_root, words", [
    ("kits", "must be an absolute path"),
    ("/opt", "top-level system folder"),
    ("/", "fl_kit_root"),
])
def test_a_kit_root_that_is_not_the_projects_own_folder_is_refused(tmp_path, project, kit_root, words):
    out = first_play_failure(run_playbook(SITE, inventory=write_inventory(tmp_path, project, extra={"fl_kit_root": kit_root})))
    assert words in out
    assert not os.path.exists(os.path.join(REPO, "playbooks", "kits"))
    assert not os.path.exists(os.path.join(REPO, "kits"))
    assert project_containers(project) == []


@pytest.mark.parametrize("extra, words", [
    ({"fl_admin_mmar_source": "weird"}, "fl_admin_mmar_source"),
    ({"fl_admin_mmar_source": "path"}, "fl_admin_mmar_path"),
    ({"fl_admin_mmar_source": "path", "fl_admin_mmar_path": "/nonexistent/mmar"}, "/nonexistent/mmar"),
    ({"fl_admin_mmar_source": "ngc"}, "fl_admin_ngc_api_key"),
])
def test_the_mmar_source_is_checked_first(tmp_path, project, extra, words):
    out = first_play_failure(run_playbook(SITE, inventory=write_inventory(tmp_path, project, extra=extra)))
    assert words in out
    assert "has no attribute" not in out
    nothing_made(tmp_path, project)


def test_a_missing_dataset_folder_is_found_before_anything_runs(tmp_path, project):
    inventory = write_inventory(tmp_path, project, extra={"fl_client_demo_data": False},
                                site_vars={"org2": {"dataset_dir": str(tmp_path / "nowhere")}})
    (tmp_path / "data" / "org1-a").mkdir(parents=True)
    (tmp_path / "data" / "org1-b").mkdir(parents=True)
    out = first_play_failure(run_playbook(SITE, inventory=inventory))
    assert "dataset folder of site org2" in out and str(tmp_path / "nowhere") in out
    assert "org1-a" not in out.split("problem(s) found")[1].split("PLAY RECAP")[0]
    assert project_containers(project) == []
    assert not (tmp_path / "kits").exists()


def test_a_foreign_listener_on_the_fl_port_is_named(tmp_path, project):
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", port(8302)))
    listener.listen(1)
    try:
        out = first_play_failure(run_playbook(SITE, inventory=write_inventory(tmp_path, project)))
    finally:
        listener.close()
    assert "port %d" % port(8302) in out and "fl_fed_learn_port" in out and "pid %d" % os.getpid() in out
    nothing_made(tmp_path, project)


def test_a_kit_root_of_another_project_is_refused_naming_its_owner(tmp_path, project):
    kits = tmp_path / "kits"
    kits.mkdir()
    (kits / ".clarafl-project").write_text(json.dumps({"project": "someone_else", "created": True}))
    (kits / "server").mkdir()
    out = first_play_failure(run_playbook(SITE, inventory=write_inventory(tmp_path, project)))
    assert "belongs to project someone_else" in out
    assert sorted(os.listdir(str(kits))) == [".clarafl-project", "server"]
    assert project_containers(project) == []


def test_destructive_playbooks_need_an_inventory():
    for playbook in ("teardown.yml", "stop.yml"):
        run = run_playbook(os.path.join(REPO, "playbooks", playbook), inventory=False)
        assert run.rc != 0, run.output
        assert "name its inventory" in run.output
    site = run_playbook(SITE, inventory=False)
    assert site.rc != 0 and "needs the inventory of a federation" in site.output


def test_check_mode_previews_a_fresh_federation_from_another_folder(tmp_path, project):
    inventory = write_inventory(tmp_path, project)
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), SITE, "-i", inventory, "--check", "--diff"]
    env = dict(os.environ, ANSIBLE_NOCOLOR="1")
    env.pop("ANSIBLE_CONFIG", None)
    # From another working directory, without the checkout's ansible.cfg.
    proc = subprocess.run(cmd, cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-5000:]
    # a preview waits for nothing that check mode did not start
    assert "FAILED - RETRYING" not in proc.stdout
    out = " ".join(proc.stdout.split())
    assert "Check mode: would provision (nothing was provisioned yet) kits for the server, the sites org1-a, org1-b, org2" in out
    assert "Check mode: would start the FL server container clarafl-%s-server" % project in out
    assert "Check mode: run 1 was not started by this role: would stage MMAR clarafl_demo" in out
    # the diff shows the rendered project
    assert "+name: %s" % project in proc.stdout and "admin@clarafl.test" in out
    nothing_made(tmp_path, project)


def test_teardown_keeps_what_the_collection_did_not_make(tmp_path, project):
    # A kit root the user made, with their own files in it.
    kits = tmp_path / "kits"
    kits.mkdir(mode=0o755)
    (kits / "notes.txt").write_text("the user's")
    (kits / "keep").mkdir()
    inventory = write_inventory(tmp_path, project)
    run = run_playbook(SITE, inventory=inventory, args=["--tags", "clara_image,provisioning"])
    assert run.rc == 0, run.output[-5000:]
    assert (kits / "server" / "startup").is_dir() and (kits / ".clarafl-project").exists()
    assert json.loads((kits / ".clarafl-project").read_text())["created"] is False
    assert oct(os.stat(str(kits)).st_mode & 0o777) == oct(0o755)
    again = run_playbook(SITE, inventory=inventory, args=["--tags", "clara_image,provisioning"])
    assert again.rc == 0 and again.changed() == 0, again.output[-3000:]
    down = run_playbook(TEARDOWN, inventory=inventory, extra_vars={"teardown_provisioning_workspace": True})
    assert down.rc == 0, down.output[-5000:]
    assert "Tearing down project %s on" % project in down.output
    assert sorted(os.listdir(str(kits))) == ["keep", "notes.txt"]
    assert (kits / "notes.txt").read_text() == "the user's"
    assert not (tmp_path / "workspace").exists()
    assert not os.path.exists("/var/lib/clarafl/%s" % project)


def test_teardown_removes_a_kit_root_it_made_and_refuses_a_system_folder(tmp_path, project):
    inventory = write_inventory(tmp_path, project)
    run = run_playbook(SITE, inventory=inventory, args=["--tags", "clara_image,provisioning"])
    assert run.rc == 0, run.output[-5000:]
    assert json.loads((tmp_path / "kits" / ".clarafl-project").read_text())["created"] is True
    refused = run_playbook(TEARDOWN, inventory=inventory, extra_vars={"fl_kit_root": "/opt"})
    assert refused.rc != 0 and "top-level system folder" in refused.output
    assert (tmp_path / "kits" / "server").is_dir()
    down = run_playbook(TEARDOWN, inventory=inventory, extra_vars={"teardown_provisioning_workspace": True})
    assert down.rc == 0, down.output[-5000:]
    assert not (tmp_path / "kits").exists()
    assert not (tmp_path / "workspace").exists()
    assert not os.path.exists("/var/lib/clarafl/%s" % project)


def test_a_failed_host_stops_the_run_instead_of_leaving_the_admin_waiting(tmp_path, project):
    # The sites' image is missing: their machine cannot start them, so the federation cannot be complete.
    inventory = write_inventory(tmp_path, project, host_vars={"fl_client_image": "clarafl-test/missing:1"})
    try:
        run = run_playbook(SITE, inventory=inventory)
        assert run.rc != 0
        out = " ".join(run.output.split())
        assert "The image clarafl-test/missing:1 is not on this host" in out
        # No later play ran: nothing waited for the sites that never started.
        assert "PLAY [Deploy the MMAR and train from the admin console]" not in out
        assert "PLAY [Check that the FL server listens]" not in out
        assert "Traceback" not in out
    finally:
        down = run_playbook(TEARDOWN, inventory=inventory, extra_vars={"teardown_provisioning_workspace": True})
        assert down.rc == 0, down.output[-3000:]
    nothing_made(tmp_path, project)


# --- the last late checks of the first play ---------------------------------------------------------------------

TRAIN = os.path.join(REPO, "playbooks", "train.yml")
LONG_PROJECT = "itsafe_" + "x" * 58  # 65 characters: over the certificates' 64


@pytest.mark.parametrize("extra, host_vars, words", [
    ({}, {"fl_sites": [{"name": "admin", "org": "org1"}]}, "site name admin on localhost is reserved"),
    ({}, {"fl_sites": [{"name": "server", "org": "org1"}]}, "site name server on localhost is reserved"),
    ({"fl_admin_num_rounds": "1e9"}, None,
     "fl_admin_num_rounds (on localhost) must be a whole number written as digits: '1e9' is a string"),
    ({"fl_fed_learn_port": "8.3e3"}, None, "fl_fed_learn_port (on localhost) must be a whole number written as digits"),
    ({"fl_server_cn": "fe80::1"}, None, "'fe80::1', which is an IPv6 address"),
    ({"fl_project_name": LONG_PROJECT}, None, "fl_project_name (on localhost) is 65 characters"),
    ({"fl_server_org": "o" * 65}, None, "fl_server_org (on localhost) is 65 characters"),
    ({"fl_kit_root": "/usr/local"}, None, "fl_kit_root (on localhost) is /usr/local, a system folder (in /usr)"),
    ({"fl_kit_root": "/var/lib"}, None, "fl_kit_root (on localhost) is /var/lib, a system folder (in /var)"),
    ({"fl_kit_root": "/etc/clarafl"}, None, "a system folder (in /etc)"),
], ids=["site-admin", "site-server", "rounds-1e9", "port-8.3e3", "cn-ipv6", "project-65", "org-65", "usr-local",
        "var-lib", "etc-child"])
def test_the_first_play_refuses_what_would_fail_late(tmp_path, project, extra, host_vars, words):
    inventory = write_inventory(tmp_path, project, extra=extra, host_vars=host_vars)
    start = time.monotonic()
    run = run_playbook(SITE, inventory=inventory)
    took = time.monotonic() - start
    out = first_play_failure(run)
    assert words in out, out[-3000:]
    assert "problem(s) found before any host was changed (nothing was changed)" in out
    # Refused at once (the first play alone, no engine started: seconds, not the minutes it took to fail before).
    assert took < 10, "refused after %.1f s" % took
    nothing_made(tmp_path, extra.get("fl_project_name", project))


# --- teardown removes only what the project wrote ---------------------------------------------------------------

def test_a_users_file_and_folder_named_like_kits_survive_provisioning_and_teardown(tmp_path, project):
    kits = tmp_path / "kits"
    kits.mkdir()
    (kits / "server").write_text("the user's file")
    (kits / "org1-b").mkdir()
    (kits / "org1-b" / "notes.txt").write_text("the user's folder")
    inventory = write_inventory(tmp_path, project)
    out = first_play_failure(run_playbook(SITE, inventory=inventory, args=["--tags", "clara_image,provisioning"]))
    assert "fl_kit_root %s holds org1-b, server, which project %s did not make" % (kits, project) in out
    assert sorted(os.listdir(str(kits))) == ["org1-b", "server"]  # no marker either
    down = run_playbook(TEARDOWN, inventory=inventory)
    assert down.rc == 0, down.output[-5000:]
    assert sorted(os.listdir(str(kits))) == ["org1-b", "server"]
    assert (kits / "server").read_text() == "the user's file"
    assert (kits / "org1-b" / "notes.txt").read_text() == "the user's folder"
    assert not os.path.exists("/var/lib/clarafl/%s" % project)


def test_teardown_after_a_site_left_keeps_a_users_folder_of_its_name(tmp_path, project):
    # The project's record, not the names: a kit root the project provisioned, then a user's folder made later with
    # the name of a site the project had removed.
    inventory = write_inventory(tmp_path, project)
    run = run_playbook(SITE, inventory=inventory, args=["--tags", "clara_image,provisioning"])
    assert run.rc == 0, run.output[-5000:]
    kits = tmp_path / "kits"
    marker = json.loads((kits / ".clarafl-project").read_text())
    assert marker["entries"] == sorted([".demo", ".engine", ".kits", "admin", "org1-a", "org1-b", "org2", "server"])
    with open(str(kits / ".clarafl-project"), "w") as handle:  # as after org2 left: taken off the record
        json.dump(dict(marker, entries=[e for e in marker["entries"] if e != "org2"]), handle)
    shutil.rmtree(str(kits / "org2"))
    (kits / "org2").mkdir()
    (kits / "org2" / "mine.txt").write_text("the user's")
    down = run_playbook(TEARDOWN, inventory=inventory, extra_vars={"teardown_provisioning_workspace": True})
    assert down.rc == 0, down.output[-5000:]
    assert sorted(os.listdir(str(kits))) == ["org2"]
    assert (kits / "org2" / "mine.txt").read_text() == "the user's"
    assert "it holds org2, which this project did not put there" in " ".join(down.output.split())


# --- the run lock -------------------------------------------------------------------------------------------------

def lock_path(project):
    return "/var/lib/clarafl/%s/run.lock" % project


def test_train_beside_site_of_the_same_project_is_refused_at_once_naming_the_holder(tmp_path, project):
    inventory = write_inventory(tmp_path, project)
    cmd, cwd, env = ansible_command(SITE, inventory, args=["--tags", "clara_image,provisioning"])
    first = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             universal_newlines=True)
    try:
        deadline = time.monotonic() + 120
        while not os.path.exists(lock_path(project)) and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert os.path.exists(lock_path(project)), "site.yml never took its lock"
        holder = json.loads(open(lock_path(project)).read())
        start = time.monotonic()
        second = run_playbook(TRAIN, inventory=inventory)
        took = time.monotonic() - start
        text = " ".join(second.output.split())
        assert second.rc != 0
        assert ("Another run holds the lock of this project: run %s\u2026 by %s on %s (ansible-playbook pid %d, playbook "
                "site.yml) since %s" % (holder["token"][:4], holder["user"], holder["controller"], first.pid,
                                        holder["started"])) in text, text[-3000:]
        assert "PLAY [Deploy" not in text and "Deploy, start and follow the training" not in text
        assert took < 30, "refused after %.1f s" % took
    finally:
        output = first.communicate(timeout=900)[0]
    assert first.returncode == 0, output[-5000:]
    # site.yml gave its lock back, and train.yml never took it: none is left.
    assert not os.path.exists(lock_path(project))
    down = run_playbook(TEARDOWN, inventory=inventory, extra_vars={"teardown_provisioning_workspace": True})
    assert down.rc == 0, down.output[-3000:]


def test_a_site_yml_that_fails_in_any_play_gives_its_lock_back(tmp_path, project):
    """One broken input per play after the lock is taken (the zerotier play has no host here): each run fails in
    that play, and no lock, and no folder of it, is left."""
    (tmp_path / "a-file").write_text("not a folder")
    cases = [
        # NVIDIA support asked of an engine the role leaves alone (docker_manage_engine: false), which has none.
        ("Give every machine a Docker engine", {"docker_nvidia": True}, {}),
        ("Put the Clara runtime image on every machine",
         {"clara_image_source": "archive", "clara_image_archive_src": str(tmp_path / "missing.tar")}, {}),
        ("Provision the project and ship each startup kit to its host",
         {"provisioning_workspace": str(tmp_path / "a-file" / "workspace")}, {}),
        ("Start the FL server", {"fl_server_image": "clarafl-test/missing:1"}, {}),
        # A port nothing listens on, waited for 3 s (the server's container is new in this run, so it is waited for).
        ("Check that the FL server listens", {"fl_server_admin_port": port(8309), "fl_server_start_timeout": 3}, {}),
        # The sites' image changes to one that is missing: their containers cannot be made again.
        ("Start the FL client of every site", {"fl_client_image": "clarafl-test/missing:1"}, {}),
        ("Deploy the MMAR and train from the admin console", {"fl_admin_image": "clarafl-test/missing:1"}, {}),
    ]
    try:
        for play, extra, env in cases:
            inventory = write_inventory(tmp_path, project, extra=extra)
            run = run_playbook(SITE, inventory=inventory, env=env)
            plays = re.findall(r"^PLAY \[(.*?)\]", run.output, re.M)
            assert run.rc != 0 and plays[-1] == play, (play, plays, run.output[-4000:])
            text = " ".join(run.output.split())
            assert "(the run lock was given back)" in text, (play, run.output[-4000:])
            assert "Traceback" not in text
            assert not os.path.exists(lock_path(project)), play
            assert not os.path.exists("/var/lib/clarafl/%s" % project), play
    finally:
        down = run_playbook(TEARDOWN, inventory=write_inventory(tmp_path, project),
                            extra_vars={"teardown_provisioning_workspace": True})
        assert down.rc == 0, down.output[-3000:]
    # The sites' demo data went with them; the dataset root Docker made for their folders is left empty.
    assert not list((tmp_path / "data").rglob("*"))
    shutil.rmtree(str(tmp_path / "data"), ignore_errors=True)
    nothing_made(tmp_path, project)


def test_a_failed_train_yml_of_a_project_that_never_existed_leaves_no_lock(tmp_path, project):
    run = run_playbook(TRAIN, inventory=write_inventory(tmp_path, project))
    assert run.rc != 0
    assert "(the run lock was given back)" in " ".join(run.output.split()), run.output[-3000:]
    nothing_made(tmp_path, project)


def test_a_refused_teardown_creates_nothing(tmp_path, project):
    run = run_playbook(TEARDOWN, inventory=write_inventory(tmp_path, project, extra={"fl_kit_root": "/usr/local"}))
    assert run.rc != 0 and "/usr/local is a system folder" in " ".join(run.output.split()), run.output[-3000:]
    nothing_made(tmp_path, project)


def _foreign_lock(project, heartbeat_age, expiry=600):
    os.makedirs(os.path.dirname(lock_path(project)), mode=0o700)
    heartbeat = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - heartbeat_age))
    holder = {"token": "f" * 32, "controller": "awx-job-4242", "pid": 7, "user": "awx", "playbook": "site.yml",
              "started": heartbeat, "heartbeat": heartbeat, "expires_after": expiry, "made_dirs": []}
    with open(lock_path(project), "w") as handle:
        json.dump(holder, handle)


def test_a_lock_of_another_controller_is_refused_until_it_expires(tmp_path, project):
    inventory = write_inventory(tmp_path, project)
    try:
        _foreign_lock(project, heartbeat_age=60)
        refused = run_playbook(TEARDOWN, inventory=inventory)
        text = " ".join(refused.output.split())
        assert refused.rc != 0
        assert ("Another run holds the lock of this project: run ffff\u2026 by awx on awx-job-4242 (ansible-playbook pid "
                "7, playbook site.yml)") in text, text[-3000:]
        assert "the lock expires at" in text
        os.unlink(lock_path(project))
        os.rmdir(os.path.dirname(lock_path(project)))
        _foreign_lock(project, heartbeat_age=700)
        down = run_playbook(TEARDOWN, inventory=inventory)
        text = " ".join(down.output.split())
        assert down.rc == 0, text[-3000:]
        assert "Took over the run lock %s from run ffff\u2026 by awx on awx-job-4242" % lock_path(project) in text
        assert "it had expired" in text
        assert not os.path.exists(lock_path(project))
    finally:
        if os.path.exists(lock_path(project)):
            os.unlink(lock_path(project))
        if os.path.isdir(os.path.dirname(lock_path(project))):
            os.rmdir(os.path.dirname(lock_path(project)))


def test_stop_breaks_a_held_lock_and_says_whose(tmp_path, project):
    inventory = write_inventory(tmp_path, project)
    try:
        _foreign_lock(project, heartbeat_age=10)
        run = run_playbook(os.path.join(REPO, "playbooks", "stop.yml"), inventory=inventory)
        text = " ".join(run.output.split())
        assert run.rc == 0, text[-3000:]
        assert "Took over the run lock %s from run ffff\u2026 by awx on awx-job-4242" % lock_path(project) in text
        # stop.yml gave the lock back at its end
        assert not os.path.exists(lock_path(project))
    finally:
        if os.path.exists(lock_path(project)):
            os.unlink(lock_path(project))
        if os.path.isdir(os.path.dirname(lock_path(project))):
            os.rmdir(os.path.dirname(lock_path(project)))


def test_a_machine_that_cannot_be_reached_is_named_and_the_lock_taken_elsewhere_given_back(tmp_path, project):
    # One more client machine, over SSH to a port where nothing answers: this machine (the lock host) takes the run
    # lock in the same call that finds the other unreachable.
    inventory = write_inventory(tmp_path, project)
    with open(inventory) as handle:
        doc = yaml.safe_load(handle)
    doc["all"]["children"]["fl_clients"]["hosts"]["gone-host"] = {
        "ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": 1,
        "fl_sites": [{"name": "org9", "org": "org2"}]}
    with open(inventory, "w") as handle:
        yaml.safe_dump(doc, handle)
    out = first_play_failure(run_playbook(SITE, inventory=inventory))
    assert "1 problem(s) found before any host was changed (nothing was changed)" in out
    assert "1. gone-host: cannot be reached:" in out
    assert "TASK [clarafl.federation.provisioning : Give the project's run lock back]" in out
    nothing_made(tmp_path, project)
