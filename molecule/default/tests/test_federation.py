"""The federation site.yml stood up across five hosts: containers, ports, kits, name resolution, training."""
import json

import pytest

testinfra_hosts = ["fl-server", "org1-a", "org1-b", "org2", "fl-admin"]

PROJECT = "clarafl_molecule"
ROOT = "/opt/clarafl/%s" % PROJECT
SERVER_CN = "fl-server"
FL_PORT, ADMIN_PORT = 8002, 8003
ROUNDS = 3
SITES = ["org1-a", "org1-b", "org2"]
# host: (kit component, kit zip, private key, FL container, component label)
OWN = {
    "fl-server": ("server", "server.zip", "server.key", "clarafl-%s-server" % PROJECT, "server"),
    "org1-a": ("org1-a", "org1-a.zip", "client.key", "clarafl-%s-org1-a" % PROJECT, "client"),
    "org1-b": ("org1-b", "org1-b.zip", "client.key", "clarafl-%s-org1-b" % PROJECT, "client"),
    "org2": ("org2", "org2.zip", "client.key", "clarafl-%s-org2" % PROJECT, "client"),
    "fl-admin": ("admin", "admin@clarafl.test.zip", "client.key", "clarafl-%s-admin" % PROJECT, "admin"),
}
COMPONENTS = [own[0] for own in OWN.values()]


@pytest.fixture
def name(host):
    return host.backend.get_hostname()


@pytest.fixture
def own(name):
    return OWN[name]


def server_address(host):
    """The address fl-server has on the private network, as this host resolves it (Docker's embedded DNS)."""
    return host.check_output("getent ahostsv4 %s | awk 'NR == 1 {print $1}'", SERVER_CN)


# --- each host: Docker from the docker role, the runtime image from the archive -------------------------

def test_engine_from_debian_runs_under_systemd(host):
    assert host.package("docker.io").is_installed
    assert host.service("docker").is_running
    assert host.service("docker").is_enabled


def test_docker_sdk_for_python_is_there(host):
    assert host.package("python3-docker").is_installed
    out = host.run("python3 -c 'import docker'")
    assert out.rc == 0, out.stderr


def test_runtime_image_was_loaded_from_the_archive(host):
    assert host.run("docker image inspect clarafl/clara-train-cpu:4.0").rc == 0
    assert host.file("/var/lib/clarafl/images/clarafl-clara-train-cpu-4.0.tar").is_file


# --- each host runs its own FL container, and only that one ----------------------------------------------

def test_the_hosts_fl_container_runs(host, own):
    container, component = own[3], own[4]
    state = json.loads(host.check_output("docker inspect --format '{{json .State}}' %s", container))
    assert state["Running"], state
    assert state["Restarting"] is False
    labels = json.loads(host.check_output("docker inspect --format '{{json .Config.Labels}}' %s", container))
    assert labels["org.clarafl.project"] == PROJECT
    assert labels["org.clarafl.component"] == component


def test_no_other_fl_container_on_the_host(host, own):
    names = host.check_output(
        "docker ps --all --filter label=org.clarafl.project=%s --format '{{.Names}}'", PROJECT).split()
    assert names == [own[3]]


# --- the server listens; the others reach it by name over the network --------------------------------------

def test_server_listens_on_the_fl_and_admin_ports(host, name):
    if name != "fl-server":
        pytest.skip("the server's ports")
    # The engine listens on the address its certificate's name (fl-server) resolves to.
    address = server_address(host)
    for port in (FL_PORT, ADMIN_PORT):
        assert host.socket("tcp://%s:%d" % (address, port)).is_listening, port


def test_no_fl_port_listens_off_the_server(host, name):
    if name == "fl-server":
        pytest.skip("the server listens")
    listening = host.socket.get_listening_sockets()
    assert not [s for s in listening if s.rsplit(":", 1)[-1] in (str(FL_PORT), str(ADMIN_PORT))], listening


def test_the_server_name_resolves_to_its_address_on_the_network(host):
    address = server_address(host)
    assert address.count(".") == 3 and not address.startswith("127."), address
    # The same for every host: the name is the server container's own.
    server_ip = host.get_host("docker://fl-server").check_output("hostname -i").split()
    assert address in server_ip


def test_fl_containers_resolve_the_server_name_to_the_same_address(host, name, own):
    if name == "fl-server":
        pytest.skip("the server needs no name for itself")
    # The FL containers run in the host's own engine, without Docker's embedded DNS: a hosts entry.
    inside = host.check_output("docker exec %s getent hosts %s", own[3], SERVER_CN).split()
    assert inside[0] == server_address(host)


def test_the_host_reaches_the_server_ports_by_name(host, name):
    if name == "fl-server":
        pytest.skip("the server itself")
    for port in (FL_PORT, ADMIN_PORT):
        out = host.run("timeout 5 bash -c %s", "exec 3<>/dev/tcp/%s/%d" % (SERVER_CN, port))
        assert out.rc == 0, (port, out.stderr)


def test_the_server_certificate_is_issued_for_its_name(host, name):
    if name != "fl-server":
        pytest.skip("the server's certificate")
    out = host.check_output(
        "docker exec clarafl-%s-server python3 -c \"import sys; from cryptography import x509; "
        "print(x509.load_pem_x509_certificate(open(sys.argv[1], 'rb').read()).subject.rfc4514_string())\" "
        "/workspace/server/startup/server.crt", PROJECT)
    assert "CN=%s" % SERVER_CN in out


# --- each kit on its own host only, private ------------------------------------------------------------------

def test_the_host_has_its_own_kit(host, own):
    component, zip_name, key = own[:3]
    assert host.file("%s/%s/startup/%s" % (ROOT, component, key)).is_file
    assert host.file("%s/%s/startup/rootCA.pem" % (ROOT, component)).is_file
    assert host.file("%s/.kits/%s" % (ROOT, zip_name)).is_file


def test_and_no_other_kit(host, own):
    component, zip_name = own[:2]
    present = [c for c in COMPONENTS if host.file("%s/%s" % (ROOT, c)).exists]
    assert present == [component]
    kits = host.check_output("ls -A %s/.kits", ROOT).split()
    assert [k for k in kits if k.endswith(".zip")] == [zip_name]
    # Beside it, at most what the role keeps about that same zip.
    assert all(k.startswith(zip_name) for k in kits), kits
    # Nor any other host's zip or key anywhere under the kit root.
    others = [OWN[h][1] for h in OWN if OWN[h][0] != component]
    found = host.check_output("find %s -name '*.zip' -printf '%%f\\n'", ROOT).split()
    assert not set(found) & set(others), found


def test_kit_modes_are_tight(host, own):
    """The provisioning role's modes: kit root and .kits 0700, zips 0600, key folder 0700, private keys 0600."""
    component, zip_name, key = own[:3]
    for path, mode in [
        (ROOT, 0o700),
        ("%s/.kits" % ROOT, 0o700),
        ("%s/.kits/%s" % (ROOT, zip_name), 0o600),
        ("%s/%s" % (ROOT, component), 0o750),
        ("%s/%s/startup" % (ROOT, component), 0o700),
        ("%s/%s/startup/%s" % (ROOT, component, key), 0o600),
    ]:
        f = host.file(path)
        assert (path, oct(f.mode), f.user) == (path, oct(mode), "root")
    # No private key of the kit is readable by anyone but its owner.
    loose = host.check_output("find %s/%s -name '*.key' -perm /077", ROOT, component)
    assert loose == ""


# --- the training -------------------------------------------------------------------------------------------

def test_training_summary_every_round_done_every_site_contributed(host, name):
    if name != "fl-admin":
        pytest.skip("the summary is kept on the admin host")
    summary_file = host.file("%s/admin/run_1-summary.json" % ROOT)
    assert summary_file.is_file
    summary = json.loads(summary_file.content_string)
    assert summary["run_number"] == 1
    assert summary["finished"] is True
    assert summary["num_rounds"] == ROUNDS
    assert summary["rounds_done"] == ROUNDS
    assert sorted(summary["sites"]) == SITES
    assert sorted(summary["contributions"]) == SITES
    assert all(summary["contributions"][site] >= 1 for site in SITES), summary["contributions"]
    # The demo MMAR's validation metric of every round, the initial model's (round 0) included.
    assert sorted({m["round"] for m in summary["metrics"]}) == list(range(ROUNDS + 1))


def test_every_site_trained_on_its_own_share_of_the_data(host, name):
    if name not in SITES:
        pytest.skip("a site's data")
    data = "/var/lib/clarafl/%s/data/%s" % (PROJECT, name)
    assert host.file(data).is_directory
    assert host.check_output("ls -A %s", data) != ""
