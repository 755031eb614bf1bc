"""provisioning against the real provisioning tool in the Clara image, on this machine:
kits land where they belong with tight modes, reruns change nothing, changes re-provision loudly,
and bad inventories fail before the tool runs."""
import glob
import os
import re
import stat
import uuid

import pytest
import yaml

from cryptography import x509
from cryptography.x509.oid import NameOID

from conftest import REPO, port, run_playbook


SITE = os.path.join(REPO, "site.yml")
TAGS = ["--tags", "clara_image,provisioning"]


def write_inventory(tmp_path, project, clients=None, extra=None):
    clients = clients if clients is not None else [("org1-a", "org1"), ("org1-b", "org1"), ("org2", "org2")]
    group_vars = {
        "fl_project_name": project,
        "clara_image_source": "build",
        "clara_image_build_ca_bundle": "/etc/ssl/certs/ca-certificates.crt",
        "fl_server_org": "clarafl",
        # Ports of their own: a federation running on this machine keeps the default ones.
        "fl_fed_learn_port": port(8702),
        "fl_admin_port": port(8703),
        "fl_admins": [{"email": "admin@clarafl.local", "org": "clarafl", "roles": ["super"]}],
        "fl_org_policies": {"clarafl": "relaxed", "org1": "relaxed", "org2": "strict"},
        "provisioning_server_cn": "localhost",
        "provisioning_workspace": str(tmp_path / "workspace"),
        "provisioning_kit_root": str(tmp_path / "kits"),
        "zerotier_enabled": False,
        "docker_manage_engine": False,
    }
    group_vars.update(extra or {})
    inventory = {"all": {
        "vars": dict(group_vars, ansible_connection="local", ansible_become=False,
                     ansible_python_interpreter="{{ ansible_playbook_python }}"),
        "children": {
            "fl_server": {"hosts": {"localhost": None}},
            "fl_clients": {"hosts": {"localhost": {"fl_sites": [{"name": c[0], "org": c[1]} for c in clients]}}},
            "fl_admin": {"hosts": {"localhost": None}},
        }}}
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(inventory))
    return str(path)


def cert_cn(path):
    with open(path, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    return cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def root_ca(tmp_path, component):
    with open(str(tmp_path / "kits" / component / "startup" / "rootCA.pem")) as f:
        return f.read()


def passwords(tmp_path):
    found = set()
    for log in glob.glob(str(tmp_path / "workspace" / "runs" / "*" / "provision.log")):
        with open(log) as f:
            found.update(re.findall(r"│ ([A-Za-z0-9]{16}) │", f.read()))
    return found


@pytest.fixture
def project():
    name = "itest_%s" % uuid.uuid4().hex[:8]
    yield name
    # Each run gives its lock back and removes the lock's folder once empty: nothing is left there.
    assert not os.path.exists("/var/lib/clarafl/%s" % name)


def test_kits_land_on_their_hosts_and_a_rerun_changes_nothing(tmp_path, project):
    inventory = write_inventory(tmp_path, project)
    first = run_playbook(SITE, inventory=inventory, args=TAGS + ["-vvv"])
    assert first.rc == 0, first.output[-4000:]

    kits = tmp_path / "kits"
    assert sorted(os.listdir(str(kits))) == [".clarafl-project", ".kits", "admin", "org1-a", "org1-b", "org2", "server"]
    # the kit root is marked as the project's, owner-only
    assert stat.S_IMODE(os.stat(str(kits / ".clarafl-project")).st_mode) == 0o600
    assert os.path.exists(str(kits / "server" / "startup" / "server.key"))
    assert os.path.exists(str(kits / "org1-a" / "startup" / "client.key"))
    assert os.path.exists(str(kits / "admin" / "startup" / "client.key"))
    # Each folder holds its own kit only.
    assert not os.path.exists(str(kits / "server" / "startup" / "client.key"))
    for site in ("org1-a", "org1-b", "org2"):
        assert cert_cn(str(kits / site / "startup" / "client.crt")) == site
    assert cert_cn(str(kits / "admin" / "startup" / "client.crt")) == "admin@clarafl.local"
    assert cert_cn(str(kits / "server" / "startup" / "server.crt")) == "localhost"
    for key in glob.glob(str(kits / "*" / "startup" / "*.key")):
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600, key
    for zip_path in glob.glob(str(kits / ".kits" / "*.zip")):
        assert stat.S_IMODE(os.stat(zip_path).st_mode) == 0o600, zip_path
    assert stat.S_IMODE(os.stat(str(tmp_path / "workspace")).st_mode) == 0o700
    for log in glob.glob(str(tmp_path / "workspace" / "runs" / "*" / "provision.log")):
        assert stat.S_IMODE(os.stat(log).st_mode) == 0o600

    secrets = passwords(tmp_path)
    assert len(secrets) == 5
    for secret in secrets:
        assert secret not in first.output

    ca = root_ca(tmp_path, "server")
    assert ca == root_ca(tmp_path, "org2") == root_ca(tmp_path, "admin")
    second = run_playbook(SITE, inventory=inventory, args=TAGS + ["-vvv"])
    assert second.rc == 0, second.output[-4000:]
    assert second.changed() == 0, [l for l in second.output.splitlines() if l.startswith("changed")]
    assert root_ca(tmp_path, "server") == ca
    assert "Provisioning again" not in second.output
    assert len(os.listdir(str(tmp_path / "workspace" / "runs"))) == 1
    for secret in secrets:
        assert secret not in second.output


def test_a_new_site_keeps_the_root_ca_force_too_and_only_rekey_makes_a_new_one(tmp_path, project):
    inventory = write_inventory(tmp_path, project, extra={"provisioning_controller_kits_dir": str(tmp_path / "keep")})
    assert run_playbook(SITE, inventory=inventory, args=TAGS).rc == 0
    ca = root_ca(tmp_path, "server")
    key = (tmp_path / "kits" / "org1-a" / "startup" / "client.key").read_bytes()
    # kept on the controller only because it was asked, owner-only
    kept = sorted(os.listdir(str(tmp_path / "keep")))
    assert kept == sorted(["server.zip", "org1-a.zip", "org1-b.zip", "org2.zip", "admin@clarafl.local.zip"])
    assert stat.S_IMODE(os.stat(str(tmp_path / "keep")).st_mode) == 0o700
    assert all(stat.S_IMODE(os.stat(str(tmp_path / "keep" / k)).st_mode) == 0o600 for k in kept)

    four_sites = [("org1-a", "org1"), ("org1-b", "org1"), ("org2", "org2"), ("org3", "org2")]
    inventory = write_inventory(tmp_path, project, clients=four_sites,
                                extra={"provisioning_controller_kits_dir": str(tmp_path / "keep")})
    grown = run_playbook(SITE, inventory=inventory, args=TAGS)
    assert grown.rc == 0, grown.output[-4000:]
    out = " ".join(grown.output.split())
    assert "Provisioning again because the project changed since run" in out and "sites added: org3" in out
    assert "keeps the root CA and every existing certificate, key and kit password" in out
    assert os.path.exists(str(tmp_path / "kits" / "org3" / "startup" / "client.key"))
    assert root_ca(tmp_path, "server") == ca == root_ca(tmp_path, "org1-a") == root_ca(tmp_path, "org3")
    assert (tmp_path / "kits" / "org1-a" / "startup" / "client.key").read_bytes() == key
    assert len(os.listdir(str(tmp_path / "workspace" / "runs"))) == 2

    forced = run_playbook(SITE, inventory=inventory, args=TAGS, extra_vars={"provisioning_force": True})
    assert forced.rc == 0, forced.output[-4000:]
    assert "Provisioning again because provisioning_force is set" in forced.output
    assert root_ca(tmp_path, "server") == ca

    rekeyed = run_playbook(SITE, inventory=inventory, args=TAGS, extra_vars={"provisioning_rekey": True})
    assert rekeyed.rc == 0, rekeyed.output[-4000:]
    assert "WARNING: provisioning_rekey is set: this mints a new root CA" in " ".join(rekeyed.output.split())
    new_ca = root_ca(tmp_path, "server")
    assert new_ca != ca and root_ca(tmp_path, "org1-a") == new_ca == root_ca(tmp_path, "org3")
    assert (tmp_path / "kits" / "org1-a" / "startup" / "client.key").read_bytes() != key


def test_a_bad_inventory_fails_before_the_tool_runs_naming_every_problem(tmp_path, project):
    inventory = write_inventory(
        tmp_path, project,
        clients=[("org1-a", "org1"), ("org1-a", "org1"), ("site-" + "x" * 60, "org9")],
        extra={"provisioning_server_cn": "example.com", "provisioning_admin_port": port(8702),
               "fl_admins": [{"email": "admin@clarafl.local", "org": "clarafl", "roles": ["super"]},
                             {"email": "it@clarafl.local", "org": "", "roles": ["lead_it"]}]})
    run = run_playbook(SITE, inventory=inventory, args=TAGS)
    assert run.rc != 0
    output = " ".join(run.output.split())
    for sentence in ("still 'example.com'", "fed_learn_port and admin_port are both %d" % port(8702),
                     "client name 'org1-a' is used twice (on localhost)", "is 65 characters, over the 64 certificates allow",
                     "org 'org9' has no policy", "admin 'it@clarafl.local' has no org"):
        assert sentence in output, sentence
    assert "Traceback" not in run.output
    # Nothing was touched: the check runs before the first play.
    assert not os.path.exists(str(tmp_path / "workspace"))
    assert "Put the Clara runtime image" not in run.output
