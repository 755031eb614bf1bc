"""A host reached over SSH as a user whose sudo wants a password, or who may not use sudo: site.yml stops in its
first play with a sentence that says what to set, and nothing changes on the host; the other playbooks stop the same
way before they do anything else. The host is a container of
clarafl-test/debian12-systemd (scripts/build-images.sh) running only sshd, on this machine's Docker engine."""
import os
import re
import subprocess
import uuid

import pytest
import yaml

from conftest import REPO, docker, run_playbook

SITE = os.path.join(REPO, "site.yml")
IMAGE = "clarafl-test/debian12-systemd:latest"
PASSWORD = "not-for-ansible"
# pwops: sudo for everything, with its password; nosudo: in no sudoers rule at all.
USERS = {"pwops": "pwops ALL=(ALL:ALL) ALL", "nosudo": None}


@pytest.fixture(scope="module")
def ssh_host(tmp_path_factory):
    """(address, private key) of a container whose users log in with a key and whose sudo asks a password."""
    if docker("image", "inspect", IMAGE, check=False).returncode != 0:
        pytest.fail("%s is missing: run scripts/setup-host.sh (it builds the test images)" % IMAGE)
    tmp = tmp_path_factory.mktemp("become")
    key = str(tmp / "id_ed25519")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    name = "clarafl-test-become-%s" % uuid.uuid4().hex[:6]
    docker("run", "-d", "--name", name, "--entrypoint", "/bin/sh", IMAGE,
           "-c", "mkdir -p /run/sshd && exec /usr/sbin/sshd -D -e")
    try:
        with open(key + ".pub") as f:
            public = f.read()
        for user, rule in USERS.items():
            script = ("useradd -m -s /bin/bash {u} && echo '{u}:{p}' | chpasswd && install -d -m 0700 -o {u} -g {u} "
                      "/home/{u}/.ssh && cat > /home/{u}/.ssh/authorized_keys && chown {u}: /home/{u}/.ssh/authorized_keys"
                      ).format(u=user, p=PASSWORD)
            if rule:
                script += " && echo '%s' > /etc/sudoers.d/%s && chmod 0440 /etc/sudoers.d/%s" % (rule, user, user)
            subprocess.run(["docker", "exec", "-i", name, "sh", "-c", script], input=public,
                           universal_newlines=True, check=True)
        address = docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name).stdout.strip()
        yield name, address, key
    finally:
        docker("rm", "-f", name, check=False)


def write_inventory(tmp_path, address, key, user, host_vars=None):
    """One machine that is server, site and admin, reached over SSH as USER."""
    host = dict({
        "ansible_host": address,
        "ansible_user": user,
        "ansible_ssh_private_key_file": key,
        "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
        "ansible_python_interpreter": "/usr/bin/python3",
        "fl_client_name": "org1-a",
        "fl_org": "org1",
    }, **(host_vars or {}))
    inventory = {"all": {
        "vars": {
            "fl_project_name": "itbecome",
            "zerotier_enabled": False,
            "fl_server_org": "clarafl",
            "fl_admins": [{"email": "admin@clarafl.test", "org": "clarafl", "roles": ["super"]}],
            "fl_org_policies": {"clarafl": "relaxed", "org1": "relaxed"},
            "fl_client_demo_data": True,
        },
        "children": {
            "fl_server": {"hosts": {"gpu-host": host}},
            "fl_clients": {"hosts": {"gpu-host": None}},
            "fl_admin": {"hosts": {"gpu-host": None}},
        }}}
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(inventory))
    return str(path)


def nothing_changed(name, user):
    out = docker("exec", name, "sh", "-c",
                 "ls -d /opt/clarafl /var/lib/clarafl /etc/docker /usr/bin/dockerd 2>/dev/null; "
                 "ls -A /home/%s" % user).stdout.split()
    # Nothing of the collection's; in the user's home, its key and at most Ansible's own temporary files.
    assert sorted(set(out) - {".ansible"}) == [".bash_logout", ".bashrc", ".profile", ".ssh"], out


def first_play_message(run):
    assert run.rc != 0
    assert "Traceback" not in run.output
    assert "PLAY [Take the project's run lock]" not in run.output
    assert "PLAY [Give every machine a Docker engine]" not in run.output
    recap = run.recap()
    assert recap["gpu-host"]["changed"] == 0, recap
    # The output callback folds long lines: compare words, not line breaks.
    return " ".join(run.output.split())


def test_a_sudo_that_asks_for_a_password_stops_the_first_play(tmp_path, ssh_host):
    name, address, key = ssh_host
    run = run_playbook(SITE, write_inventory(tmp_path, address, key, "pwops"))
    text = first_play_message(run)
    assert ("gpu-host: sudo asks pwops for a password: run with --ask-become-pass (-K), set ansible_become_password "
            "(in Ansible Vault), or connect as a user with passwordless sudo (NOPASSWD).") in text, run.output
    assert "1 problem(s) found before any host was changed (nothing was changed)" in text
    nothing_changed(name, "pwops")


def test_a_wrong_become_password_is_named(tmp_path, ssh_host):
    name, address, key = ssh_host
    inventory = write_inventory(tmp_path, address, key, "pwops", {"ansible_become_password": "wrong"})
    text = first_play_message(run_playbook(SITE, inventory))
    assert "gpu-host: sudo refused the become password given for pwops (wrong password)" in text
    nothing_changed(name, "pwops")


def test_a_user_who_may_not_use_sudo_stops_the_first_play(tmp_path, ssh_host):
    name, address, key = ssh_host
    inventory = write_inventory(tmp_path, address, key, "nosudo", {"ansible_become_password": PASSWORD})
    text = first_play_message(run_playbook(SITE, inventory))
    assert ("gpu-host: nosudo may not use sudo there: connect as a user who may become root with sudo "
            "(ansible_user), or give nosudo sudo rights on that host.") in text
    nothing_changed(name, "nosudo")


def test_with_the_password_the_first_play_goes_on(tmp_path, ssh_host):
    """The same host with its sudo password given passes this check and the first play goes on to the next ones
    (here a bad value stops it there: nothing changes either)."""
    name, address, key = ssh_host
    inventory = write_inventory(tmp_path, address, key, "pwops",
                                {"ansible_become_password": PASSWORD, "fl_admin_num_rounds": 0})
    text = first_play_message(run_playbook(SITE, inventory))
    assert "sudo asks" not in text and "sudo refused" not in text
    assert "fl_admin_num_rounds" in text
    assert "1 problem(s) found before any host was changed (nothing was changed)" in text
    nothing_changed(name, "pwops")


# What may run before the check stops a playbook: its inventory guard, and the check itself (with the validation of
# its entry point's arguments, which runs on the controller).
# What may run before the check: the controller's own tasks (stop.yml and teardown.yml take a partner
# organization's machines as the client machines, in memory) and the check itself.
CHECK_TASKS = {"Refuse to run without an inventory", "Take a partner's machines as the client machines",
               "Check that Ansible can become root on each host", "Stop when a host does not let Ansible become root",
               "Validating arguments against arg spec 'become' - Check that Ansible can become root on each host of "
               "the play, changing nothing."}


@pytest.mark.parametrize("playbook", ["status", "stop", "teardown", "train", "validate"])
def test_every_other_playbook_checks_sudo_before_anything_else(tmp_path, ssh_host, playbook):
    name, address, key = ssh_host
    run = run_playbook(os.path.join(REPO, "playbooks", playbook + ".yml"),
                       write_inventory(tmp_path, address, key, "pwops"))
    text = first_play_message(run)
    assert ("gpu-host: sudo asks pwops for a password: run with --ask-become-pass (-K), set ansible_become_password "
            "(in Ansible Vault), or connect as a user with passwordless sudo (NOPASSWD).") in text, run.output
    ran = {task.split(" : ")[-1] for task in re.findall(r"TASK \[(.*?)\]", run.output)}
    assert ran <= CHECK_TASKS, ran - CHECK_TASKS
    nothing_changed(name, "pwops")
