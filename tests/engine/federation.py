# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real, small Clara Train 4.0 federation in Docker for the engine tests: provisioned with
the real provisioner inside the Clara image, kits unzipped with the passwords read from its
table, the server, two clients and an admin container started from the kits (host network).

The server and the sites run their engine as the roles run it (the same command, mounts and init
process, from module_utils.federation.engine_container): under the collection's supervisor
(``supervisor="collection"``, the default; CLARAFL_ENGINE_SUPERVISOR=kit changes the default) or the
kit's own sub_start.sh loop (``"kit"``).

Also usable by hand::

    python tests/engine/federation.py up [kit]   # stand it up, print the kit directory
    python tests/engine/federation.py down       # remove the containers
"""

from __future__ import absolute_import, division, print_function

import json
import os
import re
import shutil
import socket
import sys
import tempfile
import time

import docker
from docker.errors import APIError, ImageNotFound, NotFound

HERE = os.path.dirname(os.path.abspath(__file__))
_COLLECTIONS = os.path.join(os.path.dirname(os.path.dirname(HERE)), ".collections")
if _COLLECTIONS not in sys.path:
    sys.path.insert(0, _COLLECTIONS)

# pylint: disable=wrong-import-position
from ansible_collections.clarafl.federation.plugins.module_utils import federation as conventions  # noqa: E402
from ansible_collections.clarafl.federation.plugins.module_utils.containers import install_supervisor  # noqa: E402

IMAGE = os.environ.get("CLARAFL_ENGINE_IMAGE", "clarafl/clara-train-cpu:4.0")
# Another checkout running its engine tests on this machine at once sets these (and the ports) apart.
PREFIX = os.environ.get("CLARAFL_ENGINE_PREFIX", "clarafl-adm-test-")
PROJECT = "admtest"
SERVER_CN = "localhost"
FL_PORT = int(os.environ.get("CLARAFL_ENGINE_FL_PORT", "28002"))
ADMIN_PORT = int(os.environ.get("CLARAFL_ENGINE_ADMIN_PORT", "28003"))
SUPERVISOR = os.environ.get("CLARAFL_ENGINE_SUPERVISOR", "collection")
SITES = ("site-a", "site-b")
ADMIN = "admin@test.local"
ADMIN_KIT_IN_CONTAINER = "/workspace/admin"
APP = "clarafl-test-app"

# Runs inside the Clara image: the installed provisioner's default project.yml and
# authz_config.json, changed for this federation (every org relaxed, one super admin).
PROJECT_SCRIPT = r"""
import json, os, yaml, provision
base = os.path.dirname(provision.__file__)
with open(os.path.join(base, "project.yml")) as fh:
    project = yaml.safe_load(fh)
with open(os.path.join(base, "authz_config.json")) as fh:
    authz = json.load(fh)
spec = json.loads(os.environ["FED_SPEC"])
project["name"] = spec["project"]
project["server"].update({"cn": spec["cn"], "org": "nvidia", "fed_learn_port": spec["fl_port"],
                          "admin_port": spec["admin_port"]})
project["fl_clients"] = [{"org": "org%d" % (i + 1), "client_name": s} for i, s in enumerate(spec["sites"])]
project["admin_clients"] = [{"org": "nvidia", "email": spec["admin"]}]
authz["users"] = {spec["admin"]: {"org": "nvidia", "roles": ["super"]}}
orgs = ["nvidia"] + ["org%d" % (i + 1) for i in range(len(spec["sites"]))]
authz["orgs"] = dict((o, ["relaxed", "general"]) for o in orgs)
authz["sites"] = dict([("server", "nvidia")] + [(s, "org%d" % (i + 1)) for i, s in enumerate(spec["sites"])])
with open("project.yml", "w") as fh:
    yaml.safe_dump(project, fh, sort_keys=False)
with open("authz_config.json", "w") as fh:
    json.dump(authz, fh, indent=2)
"""

# A bring-your-own-code app that trains for real on CPU: the persistor starts from zeros, every client adds one to
# every weight (after a pause of `seconds`, for a run that must last), the server averages.
APP_CODE = '''import time

import numpy as np
from nvflare.apis.learnable import Learnable
from nvflare.apis.model_persistor import ModelPersistor
from nvflare.apis.shareable import Shareable, ShareableKey, ShareableValue
from nvflare.apis.trainer import Trainer


class Persistor(ModelPersistor):
    def load_model(self, fl_ctx):
        model = Learnable()
        model["w"] = np.zeros((2, 2), dtype=np.float32)
        return model

    def save_model(self, model, fl_ctx):
        pass


class AddOneTrainer(Trainer):
    def __init__(self, seconds=0):
        Trainer.__init__(self)
        self.seconds = seconds

    def train(self, shareable, fl_ctx, abort_signal):
        time.sleep(self.seconds)
        weights = shareable[ShareableKey.MODEL_WEIGHTS]
        out = Shareable()
        out[ShareableKey.TYPE] = ShareableValue.TYPE_WEIGHTS
        out[ShareableKey.DATA_TYPE] = ShareableValue.DATA_TYPE_UNENCRYPTED
        out[ShareableKey.MODEL_WEIGHTS] = dict((k, v + 1) for k, v in weights.items())
        return out
'''


def app_files(num_rounds=2, seconds=0):
    """The app's files: NUM_ROUNDS rounds, each site pausing SECONDS in each."""
    return {
        "config/config_fed_server.json": json.dumps({
            "servers": [{"name": PROJECT, "min_num_clients": 2, "max_num_clients": 100, "wait_after_min_clients": 1,
                         "heart_beat_timeout": 600, "start_round": 0, "num_rounds": num_rounds}],
            "aggregator": {"name": "AccumulateWeightedAggregator", "args": {}},
            "model_persistor": {"path": "clarafl_test_app.Persistor", "args": {}},
            "shareable_generator": {"name": "FullModelShareableGenerator", "args": {}},
        }, indent=2),
        "config/config_fed_client.json": json.dumps({
            "format_version": 1,
            "client": {"retry_timeout": 30, "compression": "Gzip"},
            "client_trainer": {"path": "clarafl_test_app.AddOneTrainer",
                               "args": {"seconds": seconds} if seconds else {}},
        }, indent=2),
        "custom/clarafl_test_app.py": APP_CODE,
    }

# The processes a container sees, one "pid command line" a line (the Clara image has no ps).
PS_SCRIPT = r"""
import os
for pid in sorted(int(p) for p in os.listdir("/proc") if p.isdigit()):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as fh:
            cmd = fh.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
        with open("/proc/%d/stat" % pid) as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except (IOError, OSError, IndexError):
        continue
    if cmd and state != "Z" and pid != os.getpid():
        print(pid, cmd)
"""

_ROW_RE = re.compile(u"^\\s*[\u2502\u2503|]\\s*(\\S+)\\s*[\u2502\u2503|]\\s*(\\S+\\.zip)\\s*[\u2502\u2503|]")


class FederationError(Exception):
    pass


def parse_passwords(output):
    """{zip name: password} from the provisioner's Rich table (run with COLUMNS=250)."""
    found = {}
    for line in output.splitlines():
        m = _ROW_RE.match(line)
        if m and m.group(1) != "Password":
            found[m.group(2)] = m.group(1)
    return found


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class Federation(object):
    def __init__(self, workdir, client=None, image=IMAGE, fl_port=FL_PORT, admin_port=ADMIN_PORT, sites=SITES,
                 admin=ADMIN, log=None, supervisor=SUPERVISOR):
        if supervisor not in conventions.ENGINE_SUPERVISORS:
            raise FederationError("supervisor must be one of %s, not %r" % (conventions.ENGINE_SUPERVISORS, supervisor))
        self.supervisor = supervisor
        self.workdir = workdir
        self.client = client or docker.from_env(timeout=120)
        self.image = image
        self.fl_port = fl_port
        self.admin_port = admin_port
        self.sites = tuple(sites)
        self.admin = admin
        self.kits = os.path.join(workdir, "kits")
        self.log = log or (lambda msg: sys.stderr.write(msg + "\n"))
        self.timings = {}

    # names -------------------------------------------------------------------------------
    def name(self, part):
        return PREFIX + part

    @property
    def admin_container(self):
        return self.name("admin")

    def all_names(self):
        return [self.name(p) for p in ("admin",) + self.sites + ("server", "provision")]

    def admin_kit(self):
        return os.path.join(self.kits, "admin")

    # preconditions -----------------------------------------------------------------------
    def has_image(self):
        try:
            self.client.images.get(self.image)
        except ImageNotFound:
            return False
        return True

    def check_preconditions(self):
        """Raise FederationError with a clear sentence when the machine cannot run the federation."""
        try:
            self.client.ping()
        except Exception as exc:  # pylint: disable=broad-except
            raise FederationError("the Docker daemon is not reachable (%s)" % exc)
        try:
            self.client.images.get(self.image)
        except ImageNotFound:
            raise FederationError("the Clara image %s is not built on this machine (run the clara_image role)"
                                  % self.image)
        self.remove_containers()  # leftovers of an interrupted run of these tests
        busy = [p for p in (self.fl_port, self.admin_port) if port_open(p)]
        if busy:
            raise FederationError("port%s %s already in use on this machine (set CLARAFL_ENGINE_FL_PORT / "
                                  "CLARAFL_ENGINE_ADMIN_PORT)" % ("s" if len(busy) > 1 else "",
                                                                  ", ".join(map(str, busy))))

    # steps -------------------------------------------------------------------------------
    def _run_once(self, name, command, environment=None):
        container = self.client.containers.run(
            self.image, command, name=self.name(name), working_dir="/ws", environment=environment or {},
            volumes={self.workdir: {"bind": "/ws", "mode": "rw"}}, detach=True)
        try:
            status = container.wait(timeout=300)
            output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
        finally:
            container.remove(force=True)
        if status.get("StatusCode") != 0:
            raise FederationError("%s failed (exit %s):\n%s" % (name, status.get("StatusCode"), output[-3000:]))
        return output

    def provision(self):
        started = time.time()
        with open(os.path.join(self.workdir, "make_project.py"), "w") as fh:
            fh.write(PROJECT_SCRIPT)
        spec = {"project": PROJECT, "cn": SERVER_CN, "fl_port": self.fl_port, "admin_port": self.admin_port,
                "sites": list(self.sites), "admin": self.admin}
        output = self._run_once("provision", [
            "sh", "-c", "python3 make_project.py && provision -p project.yml -a authz_config.json -t audit.pkl "
                        "-o packages"], environment={"FED_SPEC": json.dumps(spec), "COLUMNS": "250"})
        with open(os.path.join(self.workdir, "provision-output.txt"), "w") as fh:
            fh.write(output)
        passwords = parse_passwords(output)
        expected = ["server.zip"] + ["%s.zip" % s for s in self.sites] + ["%s.zip" % self.admin]
        missing = [z for z in expected if z not in passwords]
        if missing:
            raise FederationError("no password for %s in the provisioner's table:\n%s" % (missing, output[-3000:]))
        # unzip -P inside the image (zip/unzip are part of it); passwords go through the environment
        script = []
        env = {}
        for i, zname in enumerate(expected):
            kit = "admin" if zname == "%s.zip" % self.admin else zname[:-4]
            env["PW%d" % i] = passwords[zname]
            script.append('unzip -q -o -P "$PW%d" "packages/%s" -d "kits/%s"' % (i, zname, kit))
        self._run_once("provision", ["sh", "-ec", "mkdir -p kits && " + " && ".join(script)], environment=env)
        os.makedirs(os.path.join(self.admin_kit(), "transfer"), exist_ok=True)
        self.timings["provision"] = round(time.time() - started, 1)
        return passwords

    def write_app(self, name=APP, num_rounds=2, seconds=0):
        root = os.path.join(self.admin_kit(), "transfer", name)
        for rel, text in app_files(num_rounds, seconds).items():
            path = os.path.join(root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as fh:
                fh.write(text)
        # the client process insists on the MMAR's resources/log.config
        os.makedirs(os.path.join(root, "resources"), exist_ok=True)
        shutil.copy(os.path.join(self.kits, self.sites[0], "startup", "log.config"),
                    os.path.join(root, "resources", "log.config"))
        return name

    @property
    def supervisor_dir(self):
        return os.path.join(self.workdir, ".engine")

    def engine_spec(self, part):
        """What the roles give fl_containers for this component's container (command, mounts, labels, init)."""
        mount = "/workspace/%s" % part
        spec = conventions.engine_container(
            {"image": self.image, "init": True, "volumes": ["%s:%s" % (os.path.join(self.kits, part), mount)]},
            self.supervisor, mount, self.supervisor_dir)
        spec["name"] = self.name(part)
        return spec

    def _start_site(self, part):
        spec = self.engine_spec(part)
        if self.supervisor == "collection":
            install_supervisor(self.supervisor_dir)  # as fl_containers does before it starts a container
        return self.client.containers.run(
            spec["image"], spec["command"], name=spec["name"], network_mode="host", init=spec["init"],
            volumes=spec["volumes"], labels=spec.get("labels") or {}, detach=True)

    def start_component(self, part):
        """Start the server's or a site's container again (after a shutdown, or the supervisor gave up)."""
        self.client.containers.get(self.name(part)).start()

    def kit_file(self, part, name):
        return os.path.join(self.kits, part, name)

    def engine_pid(self, part):
        """The engine's pid in the container (its pid.fl), or None."""
        try:
            with open(self.kit_file(part, "pid.fl")) as fh:
                return int(fh.read().strip())
        except (IOError, OSError, ValueError):
            return None

    def processes(self, part):
        """[(pid, command line)] of every process in the component's container (pids as the container sees them)."""
        container = self.client.containers.get(self.name(part))
        code, out = container.exec_run(["python3", "-c", PS_SCRIPT])
        if code != 0:
            raise FederationError("listing the processes of %s failed: %s" % (part, out.decode("utf-8", "replace")))
        found = []
        for line in out.decode("utf-8", "replace").splitlines():
            pid, _sep, cmdline = line.partition(" ")
            found.append((int(pid), cmdline))
        return found

    def engine_processes(self, part):
        """The engine processes in the container (the server's or the site's main process, not a training one)."""
        return [(pid, cmd) for pid, cmd in self.processes(part)
                if "nvflare.private.fed.app.server.server_train" in cmd
                or "nvflare.private.fed.app.client.client_train" in cmd]

    def kill_engine(self, part, sig=9):
        """Kill the engine process in the container, as a crash would end it; returns its pid."""
        pid = self.engine_pid(part)
        if pid is None:
            raise FederationError("%s has no pid.fl" % part)
        code, out = self.client.containers.get(self.name(part)).exec_run(["sh", "-c", "kill -%d %d" % (sig, pid)])
        if code != 0:
            raise FederationError("kill %d in %s failed: %s" % (pid, part, out.decode("utf-8", "replace")))
        return pid

    def start(self, timeout=90):
        """Server first; clients once its admin port listens; then the admin container."""
        started = time.time()
        server = self._start_site("server")
        deadline = time.time() + timeout
        while not port_open(self.admin_port):
            server.reload()
            if server.status != "running" or time.time() > deadline:
                raise FederationError("the FL server did not open port %d within %ds (state %s):\n%s" % (
                    self.admin_port, timeout, server.status, self.logs("server")))
            time.sleep(0.3)
        self.timings["server_listening"] = round(time.time() - started, 1)
        for site in self.sites:
            self._start_site(site)
        self.client.containers.run(
            self.image, ["sleep", "infinity"], name=self.admin_container, network_mode="host",
            volumes={self.admin_kit(): {"bind": ADMIN_KIT_IN_CONTAINER, "mode": "rw"}}, detach=True)

    def wait_clients_reachable(self, query, timeout=120):
        """Wait until `check_status client` answers for every site (registered is not yet
        reachable). `query()` returns the parsed status or raises."""
        started = time.time()
        deadline = started + timeout
        last = None
        while time.time() < deadline:
            try:
                last = query()
            # the server may still be starting
            except Exception as exc:  # pylint: disable=broad-except
                last = exc
            else:
                clients = last.get("clients") or {}
                if all(s in clients and clients[s].get("token") for s in self.sites):
                    self.timings["clients_reachable"] = round(time.time() - started, 1)
                    return last
            time.sleep(1)
        raise FederationError("the clients did not all answer check_status client within %ds; last: %r\n%s" % (
            timeout, last, "\n".join(self.logs(s) for s in self.sites)))

    def container_state(self, part):
        try:
            container = self.client.containers.get(self.name(part))
        except NotFound:
            return None
        return container.status

    def wait_exited(self, parts, timeout=40):
        deadline = time.time() + timeout
        states = {}
        while time.time() < deadline:
            states = dict((p, self.container_state(p)) for p in parts)
            if all(s in ("exited", "dead", None) for s in states.values()):
                return states
            time.sleep(0.5)
        return states

    def logs(self, part, tail=60):
        try:
            return "---- %s ----\n%s" % (part, self.client.containers.get(self.name(part)).logs(
                tail=tail).decode("utf-8", "replace"))
        except (NotFound, APIError) as exc:
            return "---- %s: no logs (%s)" % (part, exc)

    def remove_containers(self):
        for name in self.all_names():
            try:
                self.client.containers.get(name).remove(force=True)
            except NotFound:
                pass
            except APIError as exc:  # pragma: no cover - best effort
                self.log("could not remove %s: %s" % (name, exc))


def main(argv):
    if len(argv) not in (2, 3) or argv[1] not in ("up", "down") or argv[2:] not in ([], ["kit"], ["collection"]):
        print("usage: federation.py up [collection|kit] | down", file=sys.stderr)
        return 2
    if argv[1] == "down":
        Federation(tempfile.gettempdir()).remove_containers()
        return 0
    workdir = tempfile.mkdtemp(prefix="clarafl-adm-fed-")
    fed = Federation(workdir, supervisor=(argv[2:] or [SUPERVISOR])[0])
    fed.check_preconditions()
    fed.provision()
    fed.start()
    print(workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
