"""The federation site.yml stood up across five machines (one runs two sites): containers, ports, kits, name
resolution, training."""
import json

import pytest

testinfra_hosts = ["fl-server", "org1", "org2", "fl-admin", "provisioner"]

PROJECT = "clarafl_molecule"
ROOT = "/opt/clarafl/%s" % PROJECT
SERVER_CN = "fl-server"
FL_PORT, ADMIN_PORT = 8002, 8003
ROUNDS = 3
SITES = ["org1-a", "org1-b", "org2"]
# (kit component, kit zip, private key, FL container, component label)
SERVER = ("server", "server.zip", "server.key", "clarafl-%s-server" % PROJECT, "server")
ADMIN = ("admin", "admin@clarafl.test.zip", "client.key", "clarafl-%s-admin" % PROJECT, "admin")


def _site(site):
    return (site, site + ".zip", "client.key", "clarafl-%s-%s" % (PROJECT, site), "client")


# machine: what it runs (the provisioner runs no FL component and keeps no kit)
OWN = {
    "fl-server": [SERVER],
    "org1": [_site("org1-a"), _site("org1-b")],
    "org2": [_site("org2")],
    "fl-admin": [ADMIN],
    "provisioner": [],
}
MACHINE_OF = {"org1-a": "org1", "org1-b": "org1", "org2": "org2"}
COMPONENTS = [part[0] for parts in OWN.values() for part in parts]


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

def test_the_machines_fl_containers_run(host, own):
    for part in own:
        container, component = part[3], part[4]
        state = json.loads(host.check_output("docker inspect --format '{{json .State}}' %s", container))
        assert state["Running"], state
        assert state["Restarting"] is False
        labels = json.loads(host.check_output("docker inspect --format '{{json .Config.Labels}}' %s", container))
        assert labels["org.clarafl.project"] == PROJECT
        assert labels["org.clarafl.component"] == component


def test_no_other_fl_container_on_the_machine(host, own):
    names = host.check_output(
        "docker ps --all --filter label=org.clarafl.project=%s --format '{{.Names}}'", PROJECT).split()
    assert sorted(names) == sorted(part[3] for part in own)


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
    if name == "fl-server" or not own:
        pytest.skip("the server needs no name for itself; the provisioner runs no FL container")
    # The FL containers run in the host's own engine, without Docker's embedded DNS: a hosts entry.
    for part in own:
        inside = host.check_output("docker exec %s getent hosts %s", part[3], SERVER_CN).split()
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

def test_the_machine_has_its_own_kits(host, own):
    for component, zip_name, key in (part[:3] for part in own):
        assert host.file("%s/%s/startup/%s" % (ROOT, component, key)).is_file
        assert host.file("%s/%s/startup/rootCA.pem" % (ROOT, component)).is_file
        assert host.file("%s/.kits/%s" % (ROOT, zip_name)).is_file


def test_and_no_other_kit(host, own):
    mine = [part[0] for part in own]
    present = [c for c in COMPONENTS if host.file("%s/%s" % (ROOT, c)).exists]
    assert present == mine
    if not own:
        # The provisioner keeps the zips in its workspace only: no kit root at all.
        assert not host.file(ROOT).exists
        return
    zips = [part[1] for part in own]
    kits = host.check_output("ls -A %s/.kits", ROOT).split()
    assert sorted(k for k in kits if k.endswith(".zip")) == sorted(zips)
    # Beside them, at most what the role keeps about those same zips.
    assert all(any(k.startswith(z) for z in zips) for k in kits), kits
    # Nor any other machine's zip or key anywhere under the kit root.
    others = [part[1] for parts in OWN.values() for part in parts if part[1] not in zips]
    found = host.check_output("find %s -name '*.zip' -printf '%%f\\n'", ROOT).split()
    assert not set(found) & set(others), found


def test_kit_modes_are_tight(host, own):
    """The provisioning role's modes: kit root and .kits 0700, zips 0600, key folder 0700, private keys 0600."""
    for component, zip_name, key in (part[:3] for part in own):
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


def test_the_provisioner_keeps_the_workspace(host, name):
    if name != "provisioner":
        pytest.skip("the provisioning workspace is on the provisioner only")
    workspace = "/var/lib/clarafl/%s/provisioning" % PROJECT
    assert host.file("%s/state.json" % workspace).is_file
    assert oct(host.file(workspace).mode) in ("0o700", "0o750")


# --- reached over SSH as an unprivileged user, root through sudo only ---------------------------------------

SSH_USER = "clarafl-ops"


def test_the_tests_reach_the_host_over_ssh_as_the_user_and_become_root(host):
    # testinfra connects as Ansible does (molecule.yml): its ssh backend, as the user, each command through sudo.
    inner = host.backend.ansible_runner.get_host(host.backend.host)
    assert (inner.backend.NAME, inner.backend.host.user, inner.backend.sudo) == ("ssh", SSH_USER, True)
    assert host.check_output("id -un") == "root"
    assert host.check_output("echo $SUDO_USER") == SSH_USER


def test_the_ssh_user_owns_nothing_outside_its_home(host):
    # The kits, keys, records, data and the engine are root's; the user has its home only.
    found = host.check_output(
        "find / -xdev \\( -user %s -o -group %s \\) -not -path '/home/%s' -not -path '/home/%s/*' -print",
        SSH_USER, SSH_USER, SSH_USER, SSH_USER)
    assert found == ""


def test_what_the_collection_made_is_roots(host):
    for path in (ROOT, "/var/lib/clarafl"):
        if host.file(path).exists:
            assert host.check_output("find %s \\! -user root -print", path) == "", path


def test_the_ssh_users_home_holds_its_key_and_ansibles_temporary_files_only(host):
    home = "/home/%s" % SSH_USER
    entries = set(host.check_output("ls -A %s", home).split())
    assert entries - {".ansible"} == {".bash_logout", ".bashrc", ".profile", ".ssh"}, entries
    assert host.check_output("ls -A %s/.ssh", home).split() == ["authorized_keys"]
    if ".ansible" in entries:
        # Ansible's own temporary folder, and nothing left in it.
        assert host.check_output("find %s/.ansible -mindepth 1 -not -path '%s/.ansible/tmp'", home, home) == ""


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
    mine = [site for site in SITES if MACHINE_OF[site] == name]
    if not mine:
        pytest.skip("a site's data")
    shares = set()
    for site in mine:
        data = "/var/lib/clarafl/%s/data/%s" % (PROJECT, site)
        assert host.file(data).is_directory
        shares.add(host.check_output("sha256sum %s/train.csv | cut -d' ' -f1", data))
    # Two sites on one machine each have their own share.
    assert len(shares) == len(mine)
