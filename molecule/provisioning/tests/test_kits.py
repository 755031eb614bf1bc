"""Each kit is on its own machine only, with owner-only keys; a machine with two sites has both their kits."""
import os

import pytest

testinfra_hosts = ["clarafl-prov-server", "clarafl-prov-org1", "clarafl-prov-org2", "clarafl-prov-admin"]

ROOT = "/opt/clarafl/molecule_prov"
OWN = {
    "clarafl-prov-server": [("server", "server.zip", "server.key")],
    "clarafl-prov-org1": [("org1-a", "org1-a.zip", "client.key"), ("org1-b", "org1-b.zip", "client.key")],
    "clarafl-prov-org2": [("org2", "org2.zip", "client.key")],
    "clarafl-prov-admin": [("admin", "admin@clarafl.test.zip", "client.key")],
}


@pytest.fixture
def own(host):
    return OWN[host.backend.get_hostname()]


def test_the_machine_has_its_own_kits(host, own):
    for component, zip_name, key in own:
        assert host.file("%s/%s/startup/%s" % (ROOT, component, key)).exists
        assert host.file("%s/%s/startup/rootCA.pem" % (ROOT, component)).exists
        assert host.file("%s/.kits/%s" % (ROOT, zip_name)).mode == 0o600


def test_and_no_other(host, own):
    components = [kit[0] for kit in own]
    assert sorted(host.check_output("ls -A %s", ROOT).split()) == sorted([".clarafl-project", ".kits"] + components)
    # The kit root is marked as this project's, made by the collection, owner-only.
    marker = host.file("%s/.clarafl-project" % ROOT)
    assert marker.mode == 0o600 and '"project": "molecule_prov"' in marker.content_string
    assert '"created": true' in marker.content_string
    # The zips, and the records of their extraction that make reruns cheap (never another kit).
    zips = [kit[1] for kit in own]
    assert sorted(host.check_output("ls -A %s/.kits", ROOT).split()) == sorted(zips + [z + ".extracted" for z in zips])
    for zip_name in zips:
        record = host.file("%s/.kits/%s.extracted" % (ROOT, zip_name))
        assert record.mode == 0o600
        assert "PRIVATE KEY" not in record.content_string


def test_private_keys_are_owner_only(host, own):
    for component, _zip, key in own:
        key_file = host.file("%s/%s/startup/%s" % (ROOT, component, key))
        assert key_file.mode == 0o600
        assert key_file.user == "root"
        assert host.file("%s/%s/startup" % (ROOT, component)).mode == 0o700
    assert host.file(ROOT).mode == 0o700


def test_the_certificate_names_the_host(host, own):
    for component, _zip, _key in own:
        cert = "server.crt" if component == "server" else "client.crt"
        text = host.file("%s/%s/startup/%s" % (ROOT, component, cert)).content_string
        assert "BEGIN CERTIFICATE" in text


def test_nothing_was_left_on_the_provisioner_outside_the_workspace():
    # The controller/provisioner is this machine: the staging folder is gone, the workspace is private.
    assert not [d for d in os.listdir("/tmp") if d.startswith("clarafl-kits-")]
    assert os.stat("/var/lib/clarafl/molecule_prov/provisioning").st_mode & 0o777 == 0o700
