# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Find, and end, the Clara Train FL engine processes of one federation on a Linux host.

A process belongs to the federation when its command line looks like the engine's (the FL
server, client, training or admin processes, or a kit's supervisor script) and either

* it runs in one of the federation's containers (its cgroup names the container id), or
* it runs on the host itself from one of the federation's kits (its working directory or its
  command line is under the kit root), as a hand-run deployment leaves it.

Engine processes of other federations on the same host (other containers, other kit roots)
are never touched. Reads only /proc; the root argument exists so tests can give a fake one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import re
import signal
import time

# What the kits start: the supervisor scripts (the kit's, the collection's) and the engine's Python entry points.
DEFAULT_PATTERNS = (
    r"nvflare\.private\.fed\.app\.",
    r"\bsub_start\.sh\b",
    r"\bengine_supervisor\.py\b",
    r"\bfl_admin\.sh\b",
    r"\bdlmed\.",
)
_CONTAINER_ID_RE = re.compile(r"(?:docker-|docker/|libpod-|/)([0-9a-f]{64})(?:\.scope)?\b")


class EngineProcess(object):
    __slots__ = ("pid", "cmdline", "container", "cwd")

    def __init__(self, pid, cmdline, container, cwd):
        self.pid = pid
        self.cmdline = cmdline
        self.container = container
        self.cwd = cwd

    def as_dict(self):
        return {"pid": self.pid, "cmdline": self.cmdline, "container": self.container, "cwd": self.cwd}


def _read(path):
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except (IOError, OSError):
        return None


def container_of(cgroup_text):
    """The 64-hex container id a /proc/<pid>/cgroup text names, or None."""
    if not cgroup_text:
        return None
    for line in cgroup_text.splitlines():
        m = _CONTAINER_ID_RE.search(line)
        if m:
            return m.group(1)
    return None


def container_matches(container, containers):
    """True when container (a 64-hex id as container_of gives, or None) is one of containers.

    containers: ids, full or prefixes (at least 12 hex characters, as the modules require); case is ignored.
    """
    if not container:
        return False
    return any(container.startswith(c.lower()) for c in containers if c)


def _under(path, root):
    if not path or not root:
        return False
    root = root.rstrip("/") or "/"
    return path == root or path.startswith(root + "/")


def list_processes(proc_root="/proc"):
    """Every process as an EngineProcess (cmdline as one string); processes that vanish are skipped."""
    found = []
    try:
        names = os.listdir(proc_root)
    except OSError:
        return found
    for name in names:
        if not name.isdigit():
            continue
        base = os.path.join(proc_root, name)
        raw = _read(os.path.join(base, "cmdline"))
        if not raw:
            continue  # kernel thread, zombie, or gone
        cmdline = raw.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")
        cgroup = _read(os.path.join(base, "cgroup"))
        try:
            cwd = os.readlink(os.path.join(base, "cwd"))
        except OSError:
            cwd = None
        found.append(EngineProcess(int(name), cmdline, container_of(cgroup.decode("utf-8", "replace") if cgroup else ""),
                                   cwd))
    return found


def federation_processes(processes, containers=(), kit_roots=(), patterns=DEFAULT_PATTERNS, own_pid=None):
    """The engine processes among processes that belong to the federation (see the module docstring).

    containers: container ids (full or at least 12-hex prefixes). kit_roots: host paths.
    """
    regexes = [re.compile(p) for p in patterns]
    prefixes = [c.lower() for c in containers if c]
    roots = [r for r in kit_roots if r]
    result = []
    for p in processes:
        if own_pid is not None and p.pid == own_pid:
            continue
        if not any(rx.search(p.cmdline) for rx in regexes):
            continue
        if p.container:
            if container_matches(p.container, prefixes):
                result.append(p)
            continue
        if any(_under(p.cwd, r) or r.rstrip("/") + "/" in p.cmdline for r in roots):
            result.append(p)
    return sorted(result, key=lambda p: p.pid)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    # A zombie is dead for our purpose: it holds no port and runs no code.
    stat = _read("/proc/%d/stat" % pid)
    if stat:
        after = stat.rsplit(b")", 1)[-1].split()
        if after and after[0] == b"Z":
            return False
    return True


def end_processes(pids, timeout=10.0, kill=os.kill, alive=_alive, sleep=time.sleep, clock=time.time):
    """SIGTERM each pid, wait up to timeout, SIGKILL the ones left; return the pids still alive after that."""
    for pid in pids:
        try:
            kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = clock() + timeout
    left = [pid for pid in pids if alive(pid)]
    while left and clock() < deadline:
        sleep(0.2)
        left = [pid for pid in left if alive(pid)]
    for pid in left:
        try:
            kill(pid, signal.SIGKILL)
        except OSError:
            pass
    end = clock() + 5
    while left and clock() < end:
        sleep(0.1)
        left = [pid for pid in left if alive(pid)]
    return left
