"""Helpers for tests that run the collection's playbooks against this machine's Docker engine."""
import json
import os
import re
import subprocess
import sys

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))


class PlaybookRun(object):
    def __init__(self, proc):
        self.rc = proc.returncode
        self.output = proc.stdout

    def recap(self):
        """{host: {ok: n, changed: n, failed: n, ...}} from the PLAY RECAP."""
        hosts = {}
        for line in self.output.splitlines():
            m = re.match(r"^(\S+)\s+:\s+(ok=.*)$", line)
            if m:
                hosts[m.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
        return hosts

    def changed(self):
        return sum(h.get("changed", 0) for h in self.recap().values())


def run_playbook(playbook, inventory=None, extra_vars=None, args=(), env=None):
    """inventory=False runs the playbook with no inventory at all."""
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), playbook]
    if inventory is not False:
        cmd += ["-i", inventory or os.path.join(HERE, "inventory.yml")]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    cmd += list(args)
    full_env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                    ANSIBLE_FORCE_COLOR="0")
    full_env.update(env or {})
    proc = subprocess.run(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, env=full_env, timeout=1800, check=False)
    return PlaybookRun(proc)


SITES = [("org1-a", "org1"), ("org1-b", "org1"), ("org2", "org2")]


def write_local_inventory(tmp, project, fed_port, extra=None, site_vars=None, host_vars=None):
    """The whole federation on this machine (one inventory host, three sites, CPU only), its files under tmp.

    EXTRA: more group_vars; SITE_VARS: {site: {dataset_dir, gpus, ...}} added to those sites' entries in fl_sites;
    HOST_VARS: more variables of the one host. Returns the inventory's path."""
    group_vars = {
        "ansible_connection": "local",
        # As inventories/local: the tests run as root, where the plays' become needs no sudo.
        "ansible_become": False,
        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
        "fl_project_name": project,
        "fl_kit_root": str(tmp / "kits"),
        "fl_fed_learn_port": fed_port,
        "fl_admin_port": fed_port + 1,
        "clara_image_source": "build",
        "clara_image_build_ca_bundle": "/etc/ssl/certs/ca-certificates.crt",
        "zerotier_enabled": False,
        "docker_manage_engine": False,
        "fl_server_org": "clarafl",
        "fl_server_cn": "localhost",
        "fl_admins": [{"email": "admin@clarafl.test", "org": "clarafl", "roles": ["super"]}],
        "fl_org_policies": {"clarafl": "relaxed", "org1": "relaxed", "org2": "relaxed"},
        "fl_server_ulimits": ["stack:67108864:67108864"],
        "fl_client_ulimits": ["stack:67108864:67108864"],
        "fl_client_demo_data": True,
        "fl_dataset_root": str(tmp / "data"),
        "provisioning_workspace": str(tmp / "workspace"),
    }
    group_vars.update(extra or {})
    sites = [dict({"name": name, "org": org}, **(site_vars or {}).get(name, {})) for name, org in SITES]
    host = dict({"fl_sites": sites}, **(host_vars or {}))
    inventory = {"all": {"vars": group_vars, "children": {
        "fl_server": {"hosts": {"localhost": None}},
        "fl_clients": {"hosts": {"localhost": host}},
        "fl_admin": {"hosts": {"localhost": None}},
    }}}
    path = tmp / "hosts.yml"
    path.write_text(yaml.safe_dump(inventory))
    return str(path)


def docker(*args, check=True):
    return subprocess.run(["docker"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=check)


@pytest.fixture(scope="session", autouse=True)
def docker_engine():
    if docker("info", check=False).returncode != 0:
        if os.environ.get("CI") or os.environ.get("CLARAFL_REQUIRE_ENGINE") == "1":
            pytest.fail("no Docker engine answers: run scripts/setup-host.sh first")
        pytest.skip("no Docker engine answers: run scripts/setup-host.sh first")
