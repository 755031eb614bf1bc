# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the containers of one machine in one call, the way Compose does.

The caller labels each container with what it is made from (a hash of its settings, the kit's
fingerprint). A container that carries every wanted label, runs the image its tag names now and
is running is left alone; one that is only stopped is started; any other is replaced. Creation
and start go to the engine a few at a time: twenty sites on one machine cost one module call and
about the time of a few ``docker run``, not twenty module calls.

Plain functions (``create_kwargs``, ``decide``, ``plan``, ``parse_ulimit``, ``memlock_problems``) hold
the rules and are unit-tested without an engine; ``run`` applies a plan through a Docker SDK client.

A container that asks to lock more memory than the Docker engine itself may (``memlock:-1:-1``, the
runbook's setting, under an engine whose hard RLIMIT_MEMLOCK is 8 MiB) cannot start: the engine
answers "error setting rlimit type 8". ``run`` reads the engine's hard limit from
``/proc/<pid of dockerd>/limits`` first (``engine_memlock``) and refuses such a container, naming it
and the variable it comes from, before it changes anything.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import tempfile
import threading

from ansible_collections.clarafl.federation.plugins.module_utils.docker_sdk import (
    DockerException, DockerUnavailable, ImageNotFound, NotFound, connect)
from ansible_collections.clarafl.federation.plugins.module_utils.engine_supervisor import FILE_NAME as SUPERVISOR_FILE
from ansible_collections.clarafl.federation.plugins.module_utils.federation import supervisor_source

# What a container needs, and what each decision does.
NONE = "none"          # running, made from what is wanted: left alone
START = "start"        # stopped, made from what is wanted: started
CREATE = "create"      # absent: created and started
RECREATE = "recreate"  # made from something else: removed, created and started
ACTIONS = (NONE, START, CREATE, RECREATE)

# Restart policies the engine knows (docker run --restart).
RESTART_POLICIES = ("no", "always", "unless-stopped", "on-failure")
DEFAULT_WORKERS = 4
# Where the engine's process is looked for (a test points it at a fake).
PROC = "/proc"
UNLIMITED = -1


class ContainersError(Exception):
    """A message for the user: what is wrong and what to do."""


def parse_ulimit(text):
    """``name:soft[:hard]`` (docker run --ulimit) -> {'name', 'soft', 'hard'}; hard defaults to soft."""
    parts = str(text).split(":")
    if len(parts) not in (2, 3) or not parts[0]:
        raise ContainersError("ulimit %r is not name:soft or name:soft:hard (for example memlock:-1:-1)" % (text,))
    try:
        soft = int(parts[1])
        hard = int(parts[2]) if len(parts) == 3 else soft
    except ValueError:
        raise ContainersError("ulimit %r: the limits must be whole numbers (-1 for unlimited)" % (text,))
    return {"name": parts[0], "soft": soft, "hard": hard}


def dockerd_pid(proc=None):
    """The PID of the oldest process named dockerd (``pgrep -o -x dockerd``), or None when none is visible
    (another PID namespace, a remote engine)."""
    proc = proc or PROC
    try:
        entries = os.listdir(proc)
    except OSError:
        return None
    best = None
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(os.path.join(proc, entry, "comm")) as handle:
                if handle.read().strip() != "dockerd":
                    continue
        except (IOError, OSError):
            continue
        try:
            with open(os.path.join(proc, entry, "stat")) as handle:
                # starttime is field 22; the command name (field 2) may hold spaces and parentheses
                started = int(handle.read().rsplit(")", 1)[1].split()[19])
        except (IOError, OSError, IndexError, ValueError):
            started = None
        key = (started is None, started or 0, int(entry))
        if best is None or key < best:
            best = key
    return best[2] if best else None


def memlock_hard_limit(limits_text):
    """The hard "Max locked memory" of a /proc/<pid>/limits text: bytes, UNLIMITED, or None when it is not there."""
    for line in (limits_text or "").splitlines():
        if line.startswith("Max locked memory"):
            fields = line[len("Max locked memory"):].split()
            if len(fields) < 2:
                return None
            if fields[1] == "unlimited":
                return UNLIMITED
            try:
                return int(fields[1])
            except ValueError:
                return None
    return None


def engine_memlock(proc=None):
    """The Docker engine's hard RLIMIT_MEMLOCK (bytes or UNLIMITED), or None when dockerd is not visible here."""
    proc = proc or PROC
    pid = dockerd_pid(proc)
    if pid is None:
        return None
    try:
        with open(os.path.join(proc, str(pid), "limits")) as handle:
            return memlock_hard_limit(handle.read())
    except (IOError, OSError):
        return None


def _bytes(limit):
    return "unlimited" if limit == UNLIMITED else "%d bytes" % limit


def memlock_problems(steps, engine_hard):
    """One sentence for each container of STEPS ([(spec, action)]) to be created or started whose ulimits ask to
    lock more memory than the engine's hard limit ENGINE_HARD allows (None: not known, nothing is said)."""
    if engine_hard is None or engine_hard == UNLIMITED:
        return []
    problems = []
    for spec, action in steps:
        if action == NONE:
            continue
        for text in spec.get("ulimits") or []:
            limit = parse_ulimit(text)
            wanted = [limit["soft"], limit["hard"]]
            if limit["name"] != "memlock" or not any(v == UNLIMITED or v > engine_hard for v in wanted):
                continue
            component = (spec.get("labels") or {}).get("org.clarafl.component")
            variable = "fl_%s_ulimits" % component if component else "its ulimits"
            problems.append(
                "Container %s asks for %s (lock %s of memory) in %s, but the Docker engine on this machine may lock "
                "at most %s, so the container could not start: raise the engine's limit (LimitMEMLOCK=infinity for "
                "docker.service, then restart Docker) or drop memlock from %s."
                % (spec["name"], text, _bytes(UNLIMITED if UNLIMITED in wanted else max(wanted)), variable,
                   _bytes(engine_hard), variable))
    return problems


def install_supervisor(folder, check_mode=False):
    """Put the collection's engine supervisor into FOLDER on this host (made 0755 when missing; its parent, the
    project's kit root, must exist), unless it is there already with the same content. The containers mount
    FOLDER read-only, so the file is replaced by a rename: a running container keeps the file it started with
    until it is recreated. Returns {'path', 'changed'}."""
    if not folder or not folder.startswith("/"):
        raise ContainersError("supervisor_dir must be an absolute path, got %r" % (folder,))
    path = os.path.join(folder, SUPERVISOR_FILE)
    source = supervisor_source()
    try:
        with open(path, "rb") as handle:
            same = handle.read() == source
    except (IOError, OSError):
        same = False
    if same and (os.stat(path).st_mode & 0o777) == 0o644:
        return {"path": path, "changed": False}
    if check_mode:
        return {"path": path, "changed": True}
    parent = os.path.dirname(folder.rstrip("/"))
    if not os.path.isdir(parent):
        raise ContainersError("The folder %s does not exist on this host, so the engine supervisor cannot be put in "
                              "%s: the provisioning role extracts the project's kits there first." % (parent, folder))
    if not os.path.isdir(folder):
        os.mkdir(folder, 0o755)
        os.chmod(folder, 0o755)
    handle, temp = tempfile.mkstemp(dir=folder, prefix=".%s." % SUPERVISOR_FILE)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(source)
        os.chmod(temp, 0o644)
        os.rename(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.remove(temp)
        raise
    return {"path": path, "changed": True}


def parse_tmpfs(entries):
    """['/tmp:mode=1777', '/run'] -> {'/tmp': 'mode=1777', '/run': ''}."""
    mounts = {}
    for entry in entries or []:
        path, _sep, options = str(entry).partition(":")
        if not path.startswith("/"):
            raise ContainersError("tmpfs %r must start with an absolute path inside the container" % (entry,))
        mounts[path] = options
    return mounts


def restart_policy(name):
    """The engine's restart policy document for a docker run --restart name."""
    name = name or "no"
    if name not in RESTART_POLICIES:
        raise ContainersError("restart_policy %r is not one of %s" % (name, ", ".join(RESTART_POLICIES)))
    policy = {"Name": name}
    if name == "on-failure":
        policy["MaximumRetryCount"] = 0
    return policy


def create_kwargs(spec):
    """Keyword arguments for the SDK's ``containers.create`` from one container's spec."""
    if not spec.get("name"):
        raise ContainersError("every container needs a name")
    if not spec.get("image"):
        raise ContainersError("container %s has no image" % spec["name"])
    kwargs = {
        "image": spec["image"],
        "name": spec["name"],
        "detach": True,
        "labels": dict((str(k), str(v)) for k, v in (spec.get("labels") or {}).items()),
        "restart_policy": restart_policy(spec.get("restart_policy")),
    }
    if spec.get("command"):
        kwargs["command"] = list(spec["command"]) if isinstance(spec["command"], (list, tuple)) else spec["command"]
    if spec.get("init"):
        kwargs["init"] = True
    if spec.get("env"):
        kwargs["environment"] = dict((str(k), str(v)) for k, v in spec["env"].items())
    if spec.get("volumes"):
        kwargs["volumes"] = [str(v) for v in spec["volumes"]]
    if spec.get("tmpfs"):
        kwargs["tmpfs"] = parse_tmpfs(spec["tmpfs"])
    if spec.get("etc_hosts"):
        kwargs["extra_hosts"] = dict((str(k), str(v)) for k, v in spec["etc_hosts"].items())
    if spec.get("device_requests"):
        # The SDK turns each dict into a DeviceRequest (driver, count, device_ids, capabilities, options).
        kwargs["device_requests"] = [dict((k, v) for k, v in req.items() if v is not None)
                                     for req in spec["device_requests"]]
    for key in ("network_mode", "ipc_mode", "shm_size"):
        if spec.get(key):
            kwargs[key] = spec[key]
    if spec.get("ulimits"):
        kwargs["ulimits"] = [parse_ulimit(u) for u in spec["ulimits"]]
    return kwargs


def decide(spec, found, image_id):
    """What container SPEC needs, given FOUND (the engine's inspect document, or None) and the
    image ID its tag names now."""
    if found is None:
        return CREATE
    labels = (found.get("Config") or {}).get("Labels") or {}
    wanted = spec.get("labels") or {}
    same = all(labels.get(str(k)) == str(v) for k, v in wanted.items()) and found.get("Image") == image_id
    if not same:
        return RECREATE
    # A paused container counts as running: pausing is somebody's decision (fl_admin heals a hung site).
    return NONE if (found.get("State") or {}).get("Running") else START


def plan(specs, found_by_name, image_ids):
    """[(spec, action)] for SPECS; found_by_name maps a name to its inspect document (or None)."""
    names = [s["name"] for s in specs]
    twice = sorted(set(n for n in names if names.count(n) > 1))
    if twice:
        raise ContainersError("container names must be unique, given more than once: %s" % ", ".join(twice))
    return [(spec, decide(spec, found_by_name.get(spec["name"]), image_ids[spec["image"]])) for spec in specs]


def docker_client(docker_host=None, timeout=60, version=None):
    """A docker.DockerClient for docker_host (or the environment's DOCKER_HOST / local socket)."""
    try:
        return connect(docker_host, timeout, version)
    except DockerUnavailable as exc:
        raise ContainersError(str(exc))


def _explain(exc):
    text = getattr(exc, "explanation", None) or str(exc)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return text


def inspect(client, specs, image_may_be_missing=False):
    """({name: inspect document or None}, {image: id}) for SPECS. In check mode an image that the run
    would build or pull first may be missing (its id is then None: its containers would be made anew)."""
    image_ids = {}
    for image in sorted(set(s["image"] for s in specs)):
        try:
            image_ids[image] = client.api.inspect_image(image)["Id"]
        except ImageNotFound:
            if image_may_be_missing:
                image_ids[image] = None
                continue
            raise ContainersError("The image %s is not on this host: run the clara_image role first "
                                  "(ansible-playbook site.yml --tags clara_image)." % image)
        except DockerException as exc:
            raise ContainersError("Could not read the image %s: %s" % (image, _explain(exc)))
    found = {}
    for spec in specs:
        try:
            found[spec["name"]] = client.api.inspect_container(spec["name"])
        except NotFound:
            found[spec["name"]] = None
        except DockerException as exc:
            raise ContainersError("Could not read the container %s: %s" % (spec["name"], _explain(exc)))
    return found, image_ids


def _apply_one(client, spec, action):
    """Do ACTION for SPEC; return the container's ID."""
    name = spec["name"]
    if action == START:
        client.api.start(name)
        return client.api.inspect_container(name)["Id"]
    if action == RECREATE:
        client.api.remove_container(name, force=True)
    container = client.containers.create(**create_kwargs(spec))
    container.start()
    return container.id


KIT_LABEL = "org.clarafl.kit"


def kit_labels(specs, check_mode=False, digest=None):
    """SPECS with each one's ``kit_file`` read into its ``org.clarafl.kit`` label (the file's sha256: a new kit, from
    a re-provisioning, recreates the container). A kit file that is missing fails before any change, saying what
    to run, except in check mode, where provisioning may make it in this very run: the container is then planned
    as one to make (its label says so). Returns (specs, [names whose kit is missing])."""
    digest = digest or _sha256
    out, missing = [], []
    for spec in specs:
        path = spec.get("kit_file")
        if not path:
            out.append(spec)
            continue
        try:
            value = digest(path)
        except (IOError, OSError):
            if not check_mode:
                raise ContainersError("No kit at %s for the container %s on this host: run the provisioning role first "
                                      "(ansible-playbook site.yml --tags provisioning)." % (path, spec["name"]))
            missing.append(spec["name"])
            value = "(the kit provisioning makes in this run)"
        labels = dict(spec.get("labels") or {})
        labels[KIT_LABEL] = value
        out.append(dict(spec, labels=labels))
    return out, missing


def _sha256(path):
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(65536), b""):
            sha.update(chunk)
    return sha.hexdigest()


def run(client_factory, specs, check_mode=False, workers=DEFAULT_WORKERS, memlock_limit=None, hold=()):
    """Bring SPECS to their wanted state. client_factory() returns a Docker SDK client; each worker
    thread gets its own. memlock_limit() returns the engine's hard RLIMIT_MEMLOCK (see engine_memlock;
    None: not known), read only when a container to create or start asks for memlock. Returns
    ({name: {'action', 'id', 'error'?, 'held'?}} in the order of SPECS, the inspect documents found before);
    raises ContainersError only before anything was changed. A container named in HOLD that would be recreated is
    left as it is and marked ``held`` (the caller decides whether it may be replaced: a server that trains)."""
    client = client_factory()
    found, image_ids = inspect(client, specs, image_may_be_missing=check_mode)
    steps = plan(specs, found, image_ids)
    # Validate every spec before the first change: a bad ulimit must not leave half a machine replaced.
    for spec, action in steps:
        if action in (CREATE, RECREATE):
            create_kwargs(spec)
    # Nor a memlock the engine cannot grant (also in check mode: a real run would fail).
    asks = [(spec, action) for spec, action in steps if action != NONE
            and any(parse_ulimit(u)["name"] == "memlock" for u in spec.get("ulimits") or [])]
    if asks and memlock_limit is not None:
        problems = memlock_problems(asks, memlock_limit())
        if problems:
            raise ContainersError(" ".join(problems))
    results = {}
    for spec, action in steps:
        before = found[spec["name"]]
        results[spec["name"]] = {"action": action, "id": before["Id"] if before else None}
        if action == RECREATE and spec["name"] in hold:
            results[spec["name"]]["held"] = True
    todo = [(spec, action) for spec, action in steps if action != NONE and not results[spec["name"]].get("held")]
    if check_mode or not todo:
        return results, found

    local = threading.local()
    lock = threading.Lock()

    def work(index):
        spec, action = todo[index]
        if not hasattr(local, "client"):
            local.client = client if index == 0 else client_factory()
        try:
            container_id = _apply_one(local.client, spec, action)
            with lock:
                results[spec["name"]]["id"] = container_id
        except DockerException as exc:
            with lock:
                results[spec["name"]]["error"] = _explain(exc)

    count = max(1, min(int(workers), len(todo)))
    if count == 1:
        for index in range(len(todo)):
            work(index)
        return results, found
    pending = list(range(len(todo)))
    threads = []

    def drain():
        while True:
            with lock:
                if not pending:
                    return
                index = pending.pop(0)
            work(index)

    for _worker in range(count):
        thread = threading.Thread(target=drain)
        thread.daemon = True
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    return results, found


def failures(results):
    """One line per container whose action failed, for the module's message."""
    return ["%s (%s): %s" % (name, item["action"], item["error"])
            for name, item in results.items() if item.get("error")]


def diff(specs, found, results):
    """Before/after of each container that changes: its state and the labels that describe it."""
    before, after = {}, {}
    for spec in specs:
        item = results[spec["name"]]
        if item["action"] == NONE:
            continue
        doc = found.get(spec["name"])
        if doc is None:
            before[spec["name"]] = "absent"
        else:
            state = "running" if (doc.get("State") or {}).get("Running") else "stopped"
            labels = (doc.get("Config") or {}).get("Labels") or {}
            before[spec["name"]] = {"state": state, "labels": dict((k, labels.get(k)) for k in (spec.get("labels") or {}))}
        after[spec["name"]] = {"state": "running", "labels": dict(spec.get("labels") or {})}
    return {"before": before, "after": after}
