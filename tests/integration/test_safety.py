"""Bad input fails in site.yml's first play, in one message, before any host changes; destructive
playbooks need an inventory; teardown removes only what the collection made; check mode previews
without creating anything; the playbooks run from another working directory. Against this machine's
real Docker engine and the real provisioning tool."""
import json
import os
import socket
import subprocess
import sys
import uuid

import pytest
import yaml

from conftest import REPO, docker, port, run_playbook, write_local_inventory


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
