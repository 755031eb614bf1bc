"""A federation across organizations, on the real engine, with two controllers' worth of inventories on this machine.

The lead's inventory runs the server, the admin console and org1's sites, and declares org2 as a partner site
(fl_partner_sites): provisioning exports exactly org2's kit, a README and its password file. The partner's inventory
names only its own machine (not the lead's, not its workspace) and joins org2 from a copy of the exported folder in
another directory, with the lead's workspace and export folder moved away meanwhile; then the lead trains to its last
round with org2's contributions counted. Bad input from the partner (a wrong password, another site's or another
federation's zip, a tampered zip, a server that does not answer) is refused before anything changes, in one sentence.
A partner added later leaves org2's zip byte for byte; the passwords go into Ansible Vault when asked. The partner's
stop.yml and teardown.yml touch its own site only. The -vvv output of the export and the join holds no password and
no private key. One federation serves the tests in order.
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid

import pytest
import yaml

from conftest import REPO, ansible_command, docker, port, run_playbook, write_local_inventory

sys.path.insert(0, os.path.join(REPO, "tests", "unit"))
import engine_venv as ev  # noqa: E402  (the unit tests' real provisioner, for a kit of another federation)

SITE = os.path.join(REPO, "site.yml")
TRAIN = os.path.join(REPO, "playbooks", "train.yml")
JOIN = os.path.join(REPO, "playbooks", "join.yml")
STOP = os.path.join(REPO, "playbooks", "stop.yml")
TEARDOWN = os.path.join(REPO, "playbooks", "teardown.yml")
ROUNDS = 3
PARTNER = {"name": "org2", "org": "org2", "contact": "it@org2.test", "required": True}
ORG3 = {"name": "org3", "org": "org3", "contact": "it@org3.test"}
POLICIES = {"clarafl": "relaxed", "org1": "relaxed", "org2": "relaxed", "org3": "relaxed"}


def _load(path):
    with open(str(path)) as handle:
        return yaml.safe_load(handle)


def _dump(path, data):
    with open(str(path), "w") as handle:
        yaml.safe_dump(data, handle)
    return str(path)


@pytest.fixture(scope="module")
def fed(tmp_path_factory):
    lead = tmp_path_factory.mktemp("lead")
    project = "itpar_%s" % uuid.uuid4().hex[:6]
    fed_port = port(8262)
    path = write_local_inventory(lead, project, fed_port, extra={"fl_admin_num_rounds": ROUNDS})
    inventory = _load(path)
    inventory["all"]["children"]["fl_clients"]["hosts"]["localhost"]["fl_sites"] = [
        {"name": "org1-a", "org": "org1"}, {"name": "org1-b", "org": "org1"}]
    inventory["all"]["vars"]["fl_partner_sites"] = [PARTNER]
    _dump(path, inventory)
    ctrl = tmp_path_factory.mktemp("partner-controller")
    info = {"lead": lead, "ctrl": ctrl, "project": project, "port": fed_port, "inventory": path,
            "export": lead / "partners", "workspace": lead / "workspace"}
    yield info
    if (ctrl / "hosts.yml").is_file():
        run_playbook(TEARDOWN, inventory=str(ctrl / "hosts.yml"))
    run_playbook(TEARDOWN, inventory=path, extra_vars={"teardown_provisioning_workspace": True})


def lead_inventory(fed, name, **more_vars):
    inventory = _load(fed["inventory"])
    inventory["all"]["vars"].update(more_vars)
    return _dump(fed["lead"] / name, inventory)


def partner_inventory(fed, kit_dir, sha256=None, name="hosts.yml", **more_vars):
    """The partner's own inventory: its one machine (this one, under another name), none of the lead's."""
    group_vars = {
        "ansible_connection": "local",
        "ansible_become": False,
        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
        "fl_project_name": fed["project"],
        "fl_partner_kit_dir": str(kit_dir),
        "fl_kit_root": str(fed["ctrl"] / "kits"),
        "fl_dataset_root": str(fed["ctrl"] / "data"),
        "fl_client_demo_data": True,
        "fl_client_ulimits": ["stack:67108864:67108864"],
        "clara_image_source": "build",
        "clara_image_build_ca_bundle": "/etc/ssl/certs/ca-certificates.crt",
        "docker_manage_engine": False,
    }
    if sha256:
        group_vars["fl_partner_kit_sha256"] = {"org2": sha256}
    group_vars.update(more_vars)
    inventory = {"all": {"vars": group_vars, "children": {"fl_partner_clients": {"hosts": {
        "partner-org2": {"fl_sites": [{"name": "org2", "org": "org2"}]}}}}}}
    text = yaml.safe_dump(inventory)
    assert "localhost" not in text and str(fed["workspace"]) not in text and str(fed["export"]) not in text
    return _dump(fed["ctrl"] / name, inventory)


def container(fed, site):
    res = docker("inspect", "-f", "{{.State.Running}} {{.Id}}", "clarafl-%s-%s" % (fed["project"], site), check=False)
    return res.stdout.split() if res.returncode == 0 else None


def audit_passwords(fed):
    return ev.audit_passwords(str(fed["workspace"] / "audit.pkl"), fed["project"])


def readme_digest(folder, zip_name):
    text = (folder / "README.md").read_text()
    match = re.search(r"^\s+%s\s.*\s([0-9a-f]{64})$" % re.escape(zip_name), text, re.M)
    assert match, text
    return match.group(1)


def no_secret(output, secrets):
    shown = [s for s in secrets if s and s in output]
    assert shown == [], "secrets in the output: %d" % len(shown)
    assert "PRIVATE KEY" not in output


def run_timed(playbook, inventory, extra_vars=None):
    """ansible-playbook with each output line's arrival time: [(seconds since the start, line)], rc."""
    cmd, cwd, env = ansible_command(playbook, inventory, extra_vars)
    begun, lines = time.monotonic(), []
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, bufsize=1)
    for line in proc.stdout:
        lines.append((time.monotonic() - begun, line.rstrip("\n")))
    return lines, proc.wait(timeout=1800)


def join_leftovers():
    return sorted(name for name in os.listdir("/tmp") if "clarafl-join-" in name or ".clarafl-handshake-" in name)


def test_the_lead_exports_exactly_the_partner_s_kit(fed):
    provisioned = run_playbook(SITE, inventory=fed["inventory"], args=["--tags", "clara_image,provisioning"])
    assert provisioned.rc == 0, provisioned.output[-4000:]
    out = " ".join(provisioned.output.split())
    folder = fed["export"] / "org2"
    assert "org2: %s holds org2.zip (site org2, sha256 " % folder in out
    assert sorted(os.listdir(str(fed["export"]))) == [".clarafl-export.json", "org2"]
    assert sorted(os.listdir(str(folder))) == ["README.md", "org2.zip", "passwords.yml"]
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert all(oct((folder / n).stat().st_mode & 0o777) == "0o600" for n in os.listdir(str(folder)))
    # The zip exactly as the provisioner made it; its password in the file; its digest in the README.
    state = json.loads((fed["workspace"] / "state.json").read_text())
    made = fed["workspace"] / "runs" / state["run"] / "packages" / "org2.zip"
    assert (folder / "org2.zip").read_bytes() == made.read_bytes()
    passwords = _load(folder / "passwords.yml")["fl_partner_kit_passwords"]
    assert passwords == {"org2": audit_passwords(fed)["org2.zip"]}
    assert readme_digest(folder, "org2.zip") == hashlib.sha256(made.read_bytes()).hexdigest()
    readme = (folder / "README.md").read_text()
    assert "Name (its certificate is issued for it): localhost. FL port %d" % fed["port"] in readme
    assert "fl_project_name: %s" % fed["project"] in readme and passwords["org2"] not in readme
    # Provisioned, never shipped to a machine of the lead, never started there.
    assert not (fed["lead"] / "kits" / "org2").exists() and container(fed, "org2") is None
    again = run_playbook(SITE, inventory=fed["inventory"], args=["--tags", "clara_image,provisioning"])
    assert again.rc == 0 and again.changed() == 0, again.output[-3000:]


@pytest.fixture(scope="module")
def other_federation_kit(tmp_path_factory):
    """org2's kit of another federation, made by the real provisioner: (zip, password)."""
    try:
        venv = ev.ensure_engine_venv()
    except ev.EngineUnavailable as exc:
        pytest.skip("the real provisioner is not available: %s" % exc)
    work = str(tmp_path_factory.mktemp("other-federation"))
    spec = {"name": "itpar_other", "server_cn": "localhost", "clients": [{"name": "org2", "org": "org2"}],
            "admins": [{"email": "admin@other.test", "org": "nvidia"}]}
    project_yml, authz = ev.write_project(venv, work, spec)
    rc, out = ev.run_provision(venv, project_yml, authz, os.path.join(work, "packages"), columns=250)
    assert rc == 0, out[-2000:]
    return os.path.join(work, "packages", "org2.zip"), ev.audit_passwords(os.path.join(work, "AUDIT"),
                                                                         "itpar_other")["org2.zip"]


BAD = ["wrong_password", "another_site", "another_federation", "tampered", "no_server"]


@pytest.mark.parametrize("case", BAD)
def test_bad_input_from_the_partner_is_refused_before_anything_changes(fed, other_federation_kit, case):
    # The lead's server has not started yet (only provisioned): a closed port on localhost for no_server.
    handed = fed["ctrl"] / ("bad-" + case)
    shutil.copytree(str(fed["export"] / "org2"), str(handed))
    password = _load(handed / "passwords.yml")["fl_partner_kit_passwords"]["org2"]
    digest = readme_digest(handed, "org2.zip")
    state = json.loads((fed["workspace"] / "state.json").read_text())
    if case == "wrong_password":
        password = "not-the-kit-password"
    elif case == "another_site":  # the lead's own site's zip, handed over by mistake
        shutil.copy(str(fed["workspace"] / "runs" / state["run"] / "packages" / "org1-a.zip"), str(handed / "org2.zip"))
        password, digest = audit_passwords(fed)["org1-a.zip"], None
    elif case == "another_federation":
        shutil.copy(other_federation_kit[0], str(handed / "org2.zip"))
        password, digest = other_federation_kit[1], None
    elif case == "tampered":
        data = bytearray((handed / "org2.zip").read_bytes())
        data[300:304] = b"\x00\x01\x02\x03"
        (handed / "org2.zip").write_bytes(bytes(data))
    inventory = partner_inventory(fed, handed, digest, name="bad-%s.yml" % case)
    before = join_leftovers()
    result = run_playbook(JOIN, inventory=inventory,
                          extra_vars={"fl_partner_kit_passwords": {"org2": password}})
    assert result.rc != 0, result.output[-3000:]
    out = " ".join(result.output.split())
    expected = {
        "wrong_password": "The password given for site org2 (fl_partner_kit_passwords.org2) does not open %s/org2.zip"
                          % handed,
        "another_site": "%s/org2.zip is the kit of site org1-a, not of site org2" % handed,
        "another_federation": "%s/org2.zip is a kit of federation itpar_other, not of %s (fl_project_name)"
                              % (handed, fed["project"]),
        "tampered": "The kit %s/org2.zip is not the one the lead exported for site org2" % handed,
        "no_server": "site org2 cannot reach the FL server localhost:%d: the connection is refused" % fed["port"],
    }[case]
    assert expected in out, result.output[-3000:]
    assert "nothing was changed" in out.lower()
    # Refused in the checks: no Docker, image, kit or container step ran, nothing is left on the machine.
    assert "PLAY [Give every machine a Docker engine]" not in result.output
    assert container(fed, "org2") is None and not (fed["ctrl"] / "kits").exists()
    assert join_leftovers() == before
    assert password not in result.output


def test_the_partner_joins_and_the_lead_trains_with_it(fed):
    started = run_playbook(SITE, inventory=fed["inventory"], args=["--skip-tags", "fl_admin"])
    assert started.rc == 0, started.output[-4000:]
    # What the lead handed over, in the partner's own folder; the lead's workspace and export folder out of reach.
    handed = fed["ctrl"] / "handed-over"
    shutil.copytree(str(fed["export"] / "org2"), str(handed))
    secrets = list(_load(handed / "passwords.yml")["fl_partner_kit_passwords"].values())
    inventory = partner_inventory(fed, handed, readme_digest(handed, "org2.zip"))
    # A preview first: nothing is made, nothing fails for what a real run would have made before.
    preview = run_playbook(JOIN, inventory=inventory, args=["-e", "@%s" % (handed / "passwords.yml"), "--check"])
    assert preview.rc == 0, preview.output[-4000:]
    assert container(fed, "org2") is None and not (fed["ctrl"] / "kits").exists()
    away = {}
    for key in ("workspace", "export"):
        away[key] = str(fed[key]) + ".away"
        os.rename(str(fed[key]), away[key])
    try:
        joined = run_playbook(JOIN, inventory=inventory, args=["-e", "@%s" % (handed / "passwords.yml"), "-vvv"])
    finally:
        for key in away:
            os.rename(away[key], str(fed[key]))
    assert joined.rc == 0, joined.output[-5000:]
    out = " ".join(joined.output.split())
    assert "org2 registered with the FL server localhost:%d from partner-org2" % fed["port"] in out
    no_secret(joined.output, secrets)
    running = container(fed, "org2")
    assert running and running[0] == "true"
    key = fed["ctrl"] / "kits" / "org2" / "startup" / "client.key"
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    again = run_playbook(JOIN, inventory=inventory, args=["-e", "@%s" % (handed / "passwords.yml")])
    assert again.rc == 0 and again.changed() == 0, again.output[-3000:]
    assert container(fed, "org2") == running

    # The lead trains with org2, a required partner site that has joined: not waited for, deployed and started with
    # the lead's own sites.
    trained = run_playbook(SITE, inventory=fed["inventory"])
    assert trained.rc == 0, trained.output[-5000:]
    assert "not joined" not in trained.output
    assert "servers[0].min_num_clients = 3 (every site: the demo MMAR trains on all of them" in \
        " ".join(trained.output.split())
    with open(str(fed["lead"] / "kits" / "admin" / "run_1-summary.json")) as handle:
        summary = json.load(handle)
    assert summary["finished"] is True and summary["rounds_done"] == ROUNDS
    assert sorted(summary["contributions"]) == ["org1-a", "org1-b", "org2"]
    assert summary["contributions"]["org2"] >= 1
    # The lead never restarted the partner's container.
    assert container(fed, "org2") == running


def test_a_partner_added_later_leaves_the_handed_over_zip_and_the_passwords_go_into_vault(fed):
    before = (fed["export"] / "org2" / "org2.zip").read_bytes()
    inventory = lead_inventory(fed, "with-org3.yml", fl_partner_sites=[PARTNER, ORG3], fl_org_policies=POLICIES,
                               provisioning_export_vault_password="handed-over-apart")
    added = run_playbook(SITE, inventory=inventory, args=["--tags", "clara_image,provisioning", "-vvv"])
    assert added.rc == 0, added.output[-4000:]
    out = " ".join(added.output.split())
    assert "sites added: org3" in out
    folder = fed["export"] / "org2"
    assert (folder / "org2.zip").read_bytes() == before
    assert sorted(os.listdir(str(folder))) == ["README.md", "org2.zip", "passwords.vault.yml"]
    assert sorted(os.listdir(str(fed["export"] / "org3"))) == ["README.md", "org3.zip", "passwords.vault.yml"]
    vault_text = (folder / "passwords.vault.yml").read_text()
    assert vault_text.startswith("$ANSIBLE_VAULT;1.1;AES256")
    no_secret(added.output, [v for k, v in audit_passwords(fed).items()] + ["handed-over-apart"])

    # The partner takes the vault file as it is handed over, with the vault password it was given apart.
    handed = fed["ctrl"] / "handed-over"
    shutil.copy(str(folder / "passwords.vault.yml"), str(handed / "passwords.vault.yml"))
    vault_password = fed["ctrl"] / "vault-password"
    vault_password.write_text("handed-over-apart\n")
    vault_password.chmod(0o600)
    rejoined = run_playbook(JOIN, inventory=str(fed["ctrl"] / "hosts.yml"),
                            args=["-e", "@%s" % (handed / "passwords.vault.yml"),
                                  "--vault-password-file", str(vault_password)])
    assert rejoined.rc == 0 and rejoined.changed() == 0, rejoined.output[-3000:]


def test_the_partner_stops_and_tears_down_its_own_site_only(fed):
    lead_running = dict((c, container(fed, c)) for c in ("server", "org1-a", "org1-b", "admin"))
    assert all(state and state[0] == "true" for state in lead_running.values()), lead_running
    inventory = str(fed["ctrl"] / "hosts.yml")
    stopped = run_playbook(STOP, inventory=inventory)
    assert stopped.rc == 0, stopped.output[-3000:]
    assert container(fed, "org2")[0] == "false"
    assert dict((c, container(fed, c)) for c in lead_running) == lead_running
    gone = run_playbook(TEARDOWN, inventory=inventory)
    assert gone.rc == 0, gone.output[-3000:]
    assert container(fed, "org2") is None and not (fed["ctrl"] / "kits").exists()
    assert dict((c, container(fed, c)) for c in lead_running) == lead_running
    assert (fed["lead"] / "kits" / "server" / "startup").is_dir()
    # The lead's folders are the lead's: the partner's teardown never reached them.
    assert (fed["export"] / "org2" / "org2.zip").is_file() and (fed["workspace"] / "audit.pkl").is_file()


def test_a_partner_that_never_joins_is_named_and_the_lead_trains_without_it(fed):
    """org2's organization tore its site down (the test before; the server may still hold its registration) and
    org3 never joined; neither is required now, so the demo's min_num_clients counts the lead's two sites."""
    wait = 20
    inventory = lead_inventory(fed, "optional-partners.yml", fl_partner_sites=[dict(PARTNER, required=False), ORG3],
                               fl_org_policies=POLICIES, fl_admin_partner_wait=wait)
    lines, rc = run_timed(TRAIN, inventory, extra_vars={"fl_admin_run_number": 2})
    output = "\n".join(line for _at, line in lines)
    assert rc == 0, output[-5000:]
    task = [at for at, line in lines if line.startswith("TASK [clarafl.federation.fl_admin : Train to the run's end")]
    said = [(at, line) for at, line in lines if "not joined" in line]
    assert task and said, output[-5000:]
    assert said[0][1].strip() == (
        "Partner sites org2, org3 have not joined after %d s: ask it@org2.test (org2), it@org3.test (org3). "
        "Training run 2 with the 2 site(s) present (min_num_clients 2)." % wait), said
    # Named once the wait is over, within partner_wait + 10 s of the training's start.
    assert wait <= said[0][0] - task[0] <= wait + 10, (task[0], said[0][0])
    with open(str(fed["lead"] / "kits" / "admin" / "run_2-summary.json")) as handle:
        summary = json.load(handle)
    assert summary["finished"] is True and summary["rounds_done"] == ROUNDS
    assert summary["missing_partners"] == ["org2", "org3"] and summary["sites"] == ["org1-a", "org1-b"]
    assert all(summary["contributions"][s] >= 1 for s in ("org1-a", "org1-b"))
    assert "Partner site(s) that had not joined when the run started, trained without: org2, org3" in \
        " ".join(output.split())
