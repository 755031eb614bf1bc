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


def ansible_command(playbook, inventory=None, extra_vars=None, args=(), env=None, collection=None):
    """(argv, cwd, env) of one ansible-playbook run: from the checkout, or by playbook name from COLLECTION
    (an InstalledCollection) with that user's folder and ansible.cfg. inventory=False gives no inventory at all."""
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), playbook]
    if inventory is not False:
        cmd += ["-i", inventory or os.path.join(HERE, "inventory.yml")]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    cmd += list(args)
    config, cwd = (collection.config, collection.home) if collection else (os.path.join(REPO, "ansible.cfg"), REPO)
    full_env = dict(os.environ, ANSIBLE_CONFIG=config, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    full_env.update(env or {})
    return cmd, cwd, full_env


def run_playbook(playbook, inventory=None, extra_vars=None, args=(), env=None, collection=None):
    """inventory=False runs the playbook with no inventory at all."""
    cmd, cwd, full_env = ansible_command(playbook, inventory, extra_vars, args, env, collection)
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, env=full_env, timeout=1800, check=False)
    if proc.returncode != 0 and inventory in FEDERATIONS:
        # The engine's logs as they are now: a test may tear its federation down before it fails.
        tails = engine_log_tails(*FEDERATIONS[inventory])
        if tails:
            SNAPSHOTS.append("after %s (rc=%d):\n%s" % (os.path.basename(playbook), proc.returncode, tails))
    return PlaybookRun(proc)


# --- the engine's logs, for a test that fails -------------------------------------------------------------------
# CI keeps the end of tests/output/integration.log: a failed test's report ends with the tail of every engine log of
# the federations it used (each component's <kit root>/<component>/log.txt and `docker logs` of the project's
# containers), and the same goes to tests/output/engine-logs.txt, whose end tests/run-all.sh prints in its summary.
ENGINE_LOG_LINES = int(os.environ.get("CLARAFL_TEST_LOG_LINES", "40"))
ENGINE_LOG_FILE = os.path.join(REPO, "tests", "output", "engine-logs.txt")
FEDERATIONS = {}  # inventory path -> (project, kit root), for every federation a test wrote
SNAPSHOTS = []  # the logs taken when a playbook failed during the current test


def _tail(lines, count):
    return lines[-count:] if count else lines


def engine_log_tails(project, kit_root, count=ENGINE_LOG_LINES):
    """The last COUNT lines of each engine log of PROJECT: <kit_root>/<component>/log.txt and the docker logs of
    its containers; '' when there is none."""
    parts = []
    try:
        components = sorted(os.listdir(kit_root))
    except OSError:
        components = []
    for component in components:
        path = os.path.join(kit_root, component, "log.txt")
        if os.path.isfile(path):
            with open(path, errors="replace") as handle:
                lines = handle.read().splitlines()
            parts.append("--- %s (last %d of %d lines)\n%s" % (path, min(count, len(lines)), len(lines),
                                                             "\n".join(_tail(lines, count))))
    names = docker("ps", "-a", "--filter", "label=org.clarafl.project=%s" % project, "--format", "{{.Names}}",
                   check=False).stdout.split()
    for name in sorted(names):
        logs = docker("logs", "--tail", str(count), name, check=False)
        text = (logs.stdout + logs.stderr).strip()
        parts.append("--- docker logs --tail %d %s\n%s" % (count, name, text or "(no output)"))
    return "\n".join(parts)


def _register(path, project, kit_root):
    FEDERATIONS[str(path)] = (project, str(kit_root))


# The modules that take longest, longest first (measured: tests/output/integration.xml): xdist hands whole modules to
# its two workers in collection order, and a long one handed out last would run alone at the end. The others follow
# in their own order.
LONGEST_FIRST = ("test_federation.py", "test_safety.py", "test_change_federation.py", "test_byo_mmar.py",
                 "test_partners.py", "test_clara_image.py", "test_provisioning.py", "test_rerun.py")


def pytest_collection_modifyitems(session, config, items):  # pylint: disable=unused-argument
    def rank(item):
        name = os.path.basename(str(item.fspath))
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)
    items.sort(key=rank)


def pytest_runtest_setup(item):  # pylint: disable=unused-argument
    del SNAPSHOTS[:]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # pylint: disable=unused-argument
    outcome = yield
    report = outcome.get_result()
    if not report.failed or report.when not in ("setup", "call"):
        return
    now = []
    for project, kit_root in sorted(set(FEDERATIONS.values())):
        tails = engine_log_tails(project, kit_root)
        if tails:
            now.append("project %s, now:\n%s" % (project, tails))
    text = "\n".join(SNAPSHOTS + now)
    if not text:
        return
    report.sections.append(("engine logs (%s)" % report.when, text))
    try:
        os.makedirs(os.path.dirname(ENGINE_LOG_FILE), exist_ok=True)
        with open(ENGINE_LOG_FILE, "a") as handle:
            handle.write("=== %s (%s)\n%s\n" % (item.nodeid, report.when, text))
    except OSError:
        pass


class InstalledCollection(object):
    """The collection as users take it: `ansible-galaxy collection build` from this tree, then
    `ansible-galaxy collection install` of the tarball into a collections path outside the checkout.
    HOME is that user's folder, with an ansible.cfg that names only the collections path: nothing
    of the checkout (its ansible.cfg, its .collections link) is on the way."""

    def __init__(self, home):
        self.home = str(home)
        dist = os.path.join(self.home, "dist")
        self.collections = os.path.join(self.home, "collections")
        self.config = os.path.join(self.home, "ansible.cfg")
        with open(self.config, "w") as f:
            f.write("[defaults]\ncollections_path = %s\n" % self.collections)
        bin_dir = os.path.dirname(sys.executable)
        env = dict(os.environ, ANSIBLE_CONFIG=self.config, ANSIBLE_NOCOLOR="1")
        self.build_output = self._run([os.path.join(bin_dir, "ansible-galaxy"), "collection", "build",
                                       "--output-path", dist, REPO], env)
        self.tarball = os.path.join(dist, os.listdir(dist)[0])
        self.size = os.path.getsize(self.tarball)
        # --offline: its dependencies are the ones the ansible package brings (requirements.txt).
        self.install_output = self._run([os.path.join(bin_dir, "ansible-galaxy"), "collection", "install",
                                         "--offline", "-p", self.collections, self.tarball], env)
        self.path = os.path.join(self.collections, "ansible_collections", "clarafl", "federation")

    def _run(self, cmd, env):
        proc = subprocess.run(cmd, cwd=self.home, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, env=env, timeout=300, check=False)
        if proc.returncode != 0:
            pytest.fail("%s failed:\n%s" % (" ".join(cmd[1:3]), proc.stdout))
        return proc.stdout


@pytest.fixture(scope="session")
def installed_collection(tmp_path_factory):
    return InstalledCollection(tmp_path_factory.mktemp("user"))


SITES = [("org1-a", "org1"), ("org1-b", "org1"), ("org2", "org2")]
# Two checkouts may run their integration tests on one machine at once: each moves its ports by this much.
PORT_OFFSET = int(os.environ.get("CLARAFL_TEST_PORT_OFFSET", "0"))


def port(number):
    """A test module's port, moved by CLARAFL_TEST_PORT_OFFSET."""
    return number + PORT_OFFSET


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
    _register(path, project, group_vars["fl_kit_root"])
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
