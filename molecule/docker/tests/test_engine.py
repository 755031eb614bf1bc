"""The converged host: Debian's engine under systemd, configured from docker_daemon_options, usable by the users."""
import json

testinfra_hosts = ["clarafl-docker-test-debian12"]

IMAGE = "clarafl-docker-test/busybox:1"


def test_engine_is_debians_and_runs_under_systemd(host):
    assert host.package("docker.io").is_installed
    assert not host.package("docker-ce").is_installed
    docker = host.service("docker")
    assert docker.is_running
    assert docker.is_enabled


def test_docker_sdk_for_python_is_installed(host):
    # The community.docker modules of the later roles run with the host's python3 and need the SDK.
    assert host.package("python3-docker").is_installed
    out = host.run("python3 -c 'import docker; print(docker.__version__)'")
    assert out.rc == 0, out.stderr


def test_docker_info_answers(host):
    out = host.run("docker info --format '{{json .}}'")
    assert out.rc == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["ServerVersion"].startswith("20.10.")
    assert info["LoggingDriver"] == "json-file"


def test_daemon_json_is_the_variable(host):
    daemon_json = host.file("/etc/docker/daemon.json")
    assert daemon_json.mode == 0o644
    assert daemon_json.user == "root"
    assert json.loads(daemon_json.content_string) == {
        "log-driver": "json-file",
        "log-opts": {"max-size": "10m", "max-file": "2"},
    }


def test_the_users_are_in_the_docker_group(host):
    for user in ("clarafl-docker-test", "clarafl-docker-test2"):
        assert "docker" in host.user(user).groups


def test_a_group_member_reaches_the_engine_without_root(host):
    out = host.run("su -s /bin/sh clarafl-docker-test -c \"docker info --format '{{.ServerVersion}}'\"")
    assert out.rc == 0, out.stderr


def test_a_container_runs(host):
    # A busybox root filesystem made in prepare: no registry is reachable here.
    out = host.run("docker import /root/busybox-rootfs.tar %s", IMAGE)
    assert out.rc == 0, out.stderr
    out = host.run("docker run --rm --network none %s /bin/busybox echo clarafl-nested", IMAGE)
    assert out.rc == 0, out.stderr
    assert out.stdout.strip() == "clarafl-nested"
    # The default bridge network as well: the container gets an address on it.
    out = host.run("docker run --rm %s /bin/busybox ip -4 -o addr show eth0", IMAGE)
    assert out.rc == 0, out.stderr
    assert " inet " in out.stdout


def test_no_nvidia_toolkit_on_a_host_without_gpu(host):
    # docker_nvidia is auto (the default) and this machine has no NVIDIA GPU.
    assert not host.package("nvidia-container-toolkit").is_installed
    assert not host.file("/etc/apt/sources.list.d/nvidia-container-toolkit.list").exists
    assert not host.file("/etc/apt/keyrings/nvidia-container-toolkit.asc").exists
    runtimes = json.loads(host.check_output("docker info --format '{{json .Runtimes}}'"))
    assert "nvidia" not in runtimes


def test_no_docker_repository_with_the_distribution_source(host):
    assert not host.file("/etc/apt/sources.list.d/docker.sources").exists
    assert not host.file("/etc/apt/keyrings/docker.asc").exists


def test_no_compose_v1_in_its_place(host):
    # Debian 12 packages only Compose v1: the role installs no compose with the distribution source.
    assert not host.package("docker-compose").is_installed
    assert host.run("docker compose version").rc != 0
