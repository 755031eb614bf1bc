"""The role run again on the converged host with other settings, through ansible-playbook.

What is asserted is what a person running the playbook sees: the play recap and the error messages.
"""
import collections
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

testinfra_hosts = ["clarafl-docker-test-debian12"]

HOST = "clarafl-docker-test-debian12"
# Molecule's inventory directory: the platforms, and the scenario's extra host and group variables.
INVENTORY = os.path.dirname(os.environ["MOLECULE_INVENTORY_FILE"])
Run = collections.namedtuple("Run", "rc recap flat out")
RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def run_role(*options, **extra_vars):
    """Run the scenario's converge playbook with EXTRA_VARS: its return code, recap by host, output on one line, output."""
    playbook = os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml")
    ansible_playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    if not os.path.exists(ansible_playbook):
        ansible_playbook = shutil.which("ansible-playbook")
    env = dict(os.environ, ANSIBLE_CALLBACK_RESULT_FORMAT="json", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    proc = subprocess.run(
        [ansible_playbook, "-i", INVENTORY, playbook, "-e", json.dumps(extra_vars), *options],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=600, check=False)
    recap = {m.group(1): {"changed": int(m.group(3)), "failed": int(m.group(5))} for m in RECAP.finditer(proc.stdout)}
    return Run(proc.returncode, recap, " ".join(proc.stdout.split()), proc.stdout)


def daemon_json(host):
    return host.file("/etc/docker/daemon.json").content_string


def logging_driver(host):
    return host.check_output("docker info --format '{{.LoggingDriver}}'")


def test_managed_rerun_changes_nothing():
    run = run_role(docker_manage_engine=True)
    assert run.rc == 0, run.out
    assert run.recap[HOST] == {"changed": 0, "failed": 0}, run.out


def test_check_mode_finds_nothing_to_change():
    run = run_role("--check", "--diff", docker_manage_engine=True)
    assert run.rc == 0, run.out
    assert run.recap[HOST] == {"changed": 0, "failed": 0}, run.out


@pytest.mark.parametrize("manage", ["auto", False])
def test_working_engine_is_left_alone(host, manage):
    before = daemon_json(host)
    run = run_role(docker_manage_engine=manage, docker_daemon_options={"log-driver": "local"})
    assert run.rc == 0, run.out
    assert run.recap[HOST] == {"changed": 0, "failed": 0}, run.out
    assert "on %s was left alone" % HOST in run.flat, run.out
    assert daemon_json(host) == before
    assert logging_driver(host) == "json-file"


def test_nvidia_required_on_a_host_without_gpu_fails_clearly(host):
    before = daemon_json(host)
    run = run_role(docker_nvidia=True, docker_manage_engine=True)
    assert run.rc != 0, run.out
    assert run.recap[HOST]["failed"] == 1 and run.recap[HOST]["changed"] == 0, run.out
    assert ("docker_nvidia is true but %s has no NVIDIA GPU (no NVIDIA driver in /proc/driver/nvidia and no NVIDIA"
            " display controller on its PCI bus), so the NVIDIA Container Toolkit would have nothing to serve:"
            " set docker_nvidia to auto or false for this host." % HOST) in run.flat, run.out
    assert daemon_json(host) == before
    assert not host.package("nvidia-container-toolkit").is_installed


def test_unsupported_release_is_named_with_the_supported_list():
    # This host is Debian 12; the role is told it supports only Ubuntu 24.04.
    run = run_role(docker_manage_engine=True,
                   docker_platforms={"Ubuntu 24.04": {"codename": "noble", "compose_package": ""}})
    assert run.rc != 0, run.out
    assert run.recap[HOST]["failed"] == 1 and run.recap[HOST]["changed"] == 0, run.out
    expected = "%s runs Debian 12 (bookworm), on which this role cannot install Docker: it supports Ubuntu 24.04;" % HOST
    assert expected in run.flat, run.out


def test_changed_daemon_options_restart_the_engine(host):
    try:
        run = run_role(docker_manage_engine=True, docker_daemon_options={"log-driver": "local"})
        assert run.rc == 0, run.out
        assert run.recap[HOST]["changed"] >= 1, run.out
        assert json.loads(daemon_json(host)) == {"log-driver": "local"}
        assert logging_driver(host) == "local"
        # The earlier daemon.json is kept beside it.
        assert host.run("ls /etc/docker | grep -c '^daemon.json\\..*~$'").stdout.strip() != "0"

        # An option dockerd does not know: the engine cannot start, and the role says why, in dockerd's words.
        run = run_role(docker_manage_engine=True, docker_daemon_options={"no-such-option": 1})
        assert run.rc != 0, run.out
        assert run.recap[HOST]["failed"] == 1, run.out
        expected = ("The Docker engine on %s did not start with the new /etc/docker/daemon.json (unable to configure the"
                    " Docker daemon with file /etc/docker/daemon.json: the following directives don't match any"
                    " configuration option: no-such-option): fix docker_daemon_options and run the role again" % HOST)
        assert expected in run.flat, run.out
    finally:
        # Fixed options bring the engine back, although systemd had given up on it.
        run = run_role(docker_manage_engine=True)
        assert run.rc == 0, run.out
    assert logging_driver(host) == "json-file"
