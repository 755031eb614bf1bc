"""A rerun of site.yml on inventories/local that changes nothing reads once: every role asks "is anything to do?" with
one read at most - the docker and clara_image plays none, since the first play's check call per machine read what they
need - and the whole rerun makes at most MAX_RERUN_MODULES module executions in at most 9 plays. What a rerun must
still see, it sees: a kit file changed on the machine and a project file edited in the workspace are put back.

The federation is inventories/local itself (its hosts.yml and group_vars), with one more group_vars file that gives it
a project name, ports and a kit root of its own, and one training round; it is stood up once, from the checkout, as
`ansible-playbook site.yml -i inventories/local` does. Module executions are counted by a callback of the tests
(callback_plugins/clarafl_module_count.py): each result of a task, or of a loop item, whose action runs a module on a
host."""
import json
import os
import shutil
import uuid

import pytest
import yaml

from conftest import HERE, REPO, _register, port, run_playbook

SITE = os.path.join(REPO, "site.yml")
TEARDOWN = os.path.join(REPO, "playbooks", "teardown.yml")
MAX_RERUN_MODULES = 12
MAX_SITE_PLAYS = 9
# Actions that run on the controller alone: no module on a host.
CONTROLLER_ACTIONS = {"debug", "set_fact", "assert", "fail", "include_tasks", "import_tasks", "include_role",
                      "import_role", "add_host", "group_by", "meta", "validate_argument_spec", "include_vars",
                      "set_stats", "pause"}


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rerun")
    inventory = tmp / "local"
    shutil.copytree(os.path.join(REPO, "inventories", "local"), str(inventory))
    project = "itrerun_%s" % uuid.uuid4().hex[:6]
    own = {"fl_project_name": project, "fl_fed_learn_port": port(8232), "fl_admin_port": port(8233),
           "fl_kit_root": str(tmp / "kits"), "fl_admin_num_rounds": 1}
    (inventory / "group_vars" / "all" / "zz_test.yml").write_text(yaml.safe_dump(own))
    _register(inventory, project, own["fl_kit_root"])
    info = {"tmp": tmp, "inventory": str(inventory), "project": project, "kits": tmp / "kits",
            "workspace": "/var/lib/clarafl/%s/provisioning" % project}
    yield info
    run_playbook(TEARDOWN, inventory=info["inventory"], extra_vars={"teardown_provisioning_workspace": True})


def counted_run(local, name):
    """site.yml on the federation, with the callback that records each play and each result: (run, plays, modules)."""
    events = str(local["tmp"] / ("%s.jsonl" % name))
    run = run_playbook(SITE, inventory=local["inventory"], env={
        "ANSIBLE_CALLBACK_PLUGINS": os.path.join(HERE, "callback_plugins"),
        "ANSIBLE_CALLBACKS_ENABLED": "clarafl_module_count", "CLARAFL_MODULE_COUNT": events})
    with open(events) as handle:
        lines = [json.loads(line) for line in handle]
    plays = [e["play"] for e in lines if e["ev"] == "play"]
    modules = [e for e in lines if e["ev"] == "result" and e["action"].split(".")[-1] not in CONTROLLER_ACTIONS]
    return run, plays, modules


def _listed(modules):
    return ["%s | %s | %s%s" % (m["role"] or "-", m["action"], m["task"], " (%s)" % m["item"] if "item" in m else "")
            for m in modules]


def test_the_local_federation_stands_up(local):
    run = run_playbook(SITE, inventory=local["inventory"])
    assert run.rc == 0, run.output[-5000:]


def test_a_rerun_that_changes_nothing_reads_once(local):
    run, plays, modules = counted_run(local, "rerun")
    assert run.rc == 0, run.output[-5000:]
    assert run.changed() == 0, [line for line in run.output.splitlines() if line.startswith("changed")]
    assert len(plays) <= MAX_SITE_PLAYS, plays
    print("\nmodule executions of the rerun (%d):\n  %s" % (len(modules), "\n  ".join(_listed(modules))))
    assert len(modules) <= MAX_RERUN_MODULES, _listed(modules)
    by_play = {}
    for module in modules:
        by_play.setdefault(module["play"], []).append(module["action"].split(".")[-1])
    # The first play's check call per machine read what the docker and clara_image roles need.
    assert "Give every machine a Docker engine" not in by_play, by_play
    assert "Put the Clara runtime image on every machine" not in by_play, by_play
    # Provisioning asks once per machine, and writes nothing.
    assert by_play["Provision the project and ship each startup kit to its host"] == ["fl_provisioned"], by_play
    assert sorted(by_play["Check the federation and take its run lock"]) == ["fl_host_check", "fl_project"], by_play


def test_a_rerun_puts_back_a_changed_kit_file_and_project_file(local):
    kit_file = local["kits"] / "org1-a" / "startup" / "fed_client.json"
    project_file = os.path.join(local["workspace"], "project.yml")
    kit_before = kit_file.read_bytes()
    with open(project_file) as handle:
        project_before = handle.read()
    kit_file.write_bytes(kit_before + b"\n")
    with open(project_file, "a") as handle:
        handle.write("# edited\n")
    run, _plays, modules = counted_run(local, "repair")
    assert run.rc == 0, run.output[-5000:]
    assert kit_file.read_bytes() == kit_before
    with open(project_file) as handle:
        assert handle.read() == project_before
    actions = [m["action"].split(".")[-1] for m in modules if m["role"] == "provisioning"]
    assert "kit_extract" in actions and "copy" in actions, _listed(modules)
    assert run.changed() >= 2
