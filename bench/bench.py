#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark of the collection against the runbook done as a plain bash script.

Run it through bench/run.sh (which makes the bench venv with matplotlib). For each number of
sites (default 3, 10, 20), on this machine's Docker engine with the Clara image already present:

* collection: ``ansible-playbook site.yml`` on a generated local inventory (bench/gen_inventory.py):
  start -> training started (the admin console task that runs ``start client`` returns; taken from
  the bench/callback_plugins/clarafl_bench_timer callback), start -> all rounds done (the playbook
  ends: fl_admin follows the run to its last round), then a second run: its wall time and the
  changed count of its PLAY RECAP; then playbooks/teardown.yml with the provisioning workspace;
* baseline: bench/baseline.sh, the runbook's steps without Ansible, with the same MMAR, data and
  rounds (training started = its ``start client`` returns; all rounds done = its polling sees the
  run stopped); its waits end in minutes (--baseline-wait, --baseline-stall) and a run that fails, or
  does not end within --timeout, is recorded as failed (and what it made removed);
* one site restarted by the admin console until it trains again, on each federation once its run is over
  (bench/restart_site.sh for the collection's, whose engines run under the collection's supervisor;
  baseline.sh --restart-site for the plain script's, under the kit's own loop): ``restart client site01``
  until the site answers the server again, then ``deploy``, ``start client site01`` until it trains;
* peak memory of each run: every 0.5 s the memory of the run's containers (cgroup usage without
  inactive file cache) plus the proportional set size of the tool's own process tree (ansible-playbook
  and its workers, or baseline.sh and its docker CLIs); the machine-wide MemTotal - MemAvailable
  above its value before the run is kept too, but other work on the machine shows in it.

Results go to bench/results/<UTC time>/ (results.json, results.md, deploy_time.png, logs/) and are
copied to bench/results/latest/; the "Latest results" section of BENCHMARKS.md is rewritten.
"""

from __future__ import absolute_import, division, print_function

import argparse
import datetime
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import gen_inventory  # noqa: E402  pylint: disable=wrong-import-position

IMAGE = "clarafl/clara-train-cpu:4.0"
DEFAULT_SITES = "3,10,20"
DEFAULT_ROUNDS = 3
TRAINING_TASK_RE = re.compile(r"upload, deploy, start|start the training", re.IGNORECASE)
DOCS_BEGIN = "<!-- bench:latest:begin -->"
DOCS_END = "<!-- bench:latest:end -->"
TARGET_RERUN_S = 8.0
TARGET_RERUN_20_S = 10.0
TARGET_SCALE = 1.15
TARGET_VS_BASELINE = 1.0
TARGET_MEMORY_VS_BASELINE = 1.10
TARGET_RESTART_S = 5.0
RESTART_SITE = "site01"


def log(msg):
    print("[bench %s] %s" % (utc_now().strftime("%H:%M:%S"), msg), flush=True)


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def read_file(path, default=""):
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except (IOError, OSError):
        return default


def run_quiet(cmd, timeout=60):
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                              timeout=timeout, check=False)
        return proc.returncode, proc.stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        return -1, str(exc)


# --------------------------------------------------------------------------- machine facts

def meminfo():
    values = {}
    for line in read_file("/proc/meminfo").splitlines():
        parts = line.split()
        if len(parts) >= 2:
            values[parts[0].rstrip(":")] = int(parts[1]) * 1024
    return values


def machine_facts():
    cpu_model = ""
    for line in read_file("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    os_name = ""
    for line in read_file("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            os_name = line.split("=", 1)[1].strip().strip('"')
    rc, docker_version = run_quiet(["docker", "version", "--format", "{{.Server.Version}}"])
    rc2, docker_info = run_quiet(["docker", "info", "--format", "{{.Driver}} {{.CgroupVersion}} {{.CgroupDriver}}"])
    rc3, ansible_version = run_quiet([os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "--version"])
    rc4, image_id = run_quiet(["docker", "image", "inspect", "--format", "{{.Id}}", IMAGE])
    info = (docker_info.split() + ["", "", ""])[:3] if rc2 == 0 else ["", "", ""]
    return {
        "hostname": socket.gethostname(),
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_mib": meminfo().get("MemTotal", 0) // (1024 * 1024),
        "kernel": platform.release(),
        "os": os_name,
        "docker_server": docker_version if rc == 0 else "",
        "docker_storage_driver": info[0],
        "cgroup_version": info[1],
        "cgroup_driver": info[2],
        # The first line that is the version (a library may print a warning first).
        "ansible_core": next((line for line in ansible_version.splitlines() if line.startswith("ansible-playbook")),
                             "") if rc3 == 0 else "",
        "python": platform.python_version(),
        "image": IMAGE,
        "image_id": image_id if rc4 == 0 else "",
        "date_utc": utc_now().strftime("%Y-%m-%d %H:%M:%SZ"),
    }


def git_facts():
    rc, commit = run_quiet(["git", "-C", REPO, "rev-parse", "HEAD"])
    rc2, dirty = run_quiet(["git", "-C", REPO, "status", "--porcelain", "--", "roles", "plugins", "playbooks", "site.yml"])
    return {"commit": commit if rc == 0 else "", "roles_plugins_playbooks_modified": bool(dirty) if rc2 == 0 else None}


def load_snapshot():
    """How busy the machine is right now: load averages and containers running."""
    load = read_file("/proc/loadavg").split()[:3]
    rc, out = run_quiet(["docker", "ps", "-q"])
    return {"loadavg": [float(x) for x in load] if load else [],
            "containers_running": len(out.split()) if rc == 0 else None}


# --------------------------------------------------------------------------- memory sampler

class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=5):
        http.client.HTTPConnection.__init__(self, "localhost", timeout=timeout)
        self._path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def running_containers():
    """{id: name} of the running containers, from the Docker API (the CLI as a fallback)."""
    sock = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if sock.startswith("unix://"):
        try:
            conn = _UnixHTTPConnection(sock[len("unix://"):])
            conn.request("GET", "/containers/json")
            reply = conn.getresponse()
            doc = json.loads(reply.read().decode("utf-8"))
            conn.close()
            return dict((c["Id"], (c.get("Names") or ["/"])[0].lstrip("/")) for c in doc)
        except (OSError, ValueError, http.client.HTTPException):
            pass
    rc, out = run_quiet(["docker", "ps", "--no-trunc", "--format", "{{.ID}} {{.Names}}"], timeout=20)
    result = {}
    if rc == 0:
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2:
                result[parts[0]] = parts[1]
    return result


def _cgroup_dir(container_id):
    for pattern in ("/sys/fs/cgroup/memory/docker/%s", "/sys/fs/cgroup/memory/system.slice/docker-%s.scope",
                    "/sys/fs/cgroup/system.slice/docker-%s.scope", "/sys/fs/cgroup/docker/%s"):
        path = pattern % container_id
        if os.path.isdir(path):
            return path
    return None


def container_memory(container_id):
    """Bytes in use by the container: usage without inactive file cache (as `docker stats`)."""
    path = _cgroup_dir(container_id)
    if path is None:
        return 0
    usage = read_file(os.path.join(path, "memory.usage_in_bytes")) or read_file(os.path.join(path, "memory.current"))
    try:
        usage = int(usage.strip())
    except ValueError:
        return 0
    inactive = 0
    for line in read_file(os.path.join(path, "memory.stat")).splitlines():
        key, value = (line.split(" ", 1) + [""])[:2]
        if key in ("total_inactive_file", "inactive_file"):
            inactive = int(value)
            if key == "total_inactive_file":
                break
    return max(0, usage - inactive)


def process_tree_memory(root_pid):
    """Proportional set size (bytes) of ROOT_PID and all its descendants."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = read_file("/proc/%s/stat" % entry)
        close = stat.rfind(")")
        if close < 0:
            continue
        fields = stat[close + 2:].split()
        if len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(int(entry))
    total = 0
    todo = [root_pid]
    seen = set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        todo.extend(children.get(pid, []))
        pss = None
        for line in read_file("/proc/%d/smaps_rollup" % pid).splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1]) * 1024
                break
        if pss is None:
            for line in read_file("/proc/%d/status" % pid).splitlines():
                if line.startswith("VmRSS:"):
                    pss = int(line.split()[1]) * 1024
                    break
        total += pss or 0
    return total


class MemorySampler(object):
    """Samples memory every INTERVAL seconds in a thread while a tool runs."""

    def __init__(self, name_patterns, interval=0.5, csv_path=None):
        self.patterns = [re.compile(p) for p in name_patterns]
        self.interval = interval
        self.csv_path = csv_path
        self.root_pid = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop)
        self._thread.daemon = True
        info = meminfo()
        self.host_before = info.get("MemTotal", 0) - info.get("MemAvailable", 0)
        self.peak = {"total": 0, "containers": 0, "tool": 0, "host_delta": 0, "containers_at_peak": 0}
        self.samples = 0
        self.loads = []

    def start(self, root_pid=None):
        self.root_pid = root_pid
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join(10)
        return self.result()

    def result(self):
        mib = 1024.0 * 1024.0
        return {
            "peak_mib": round(self.peak["total"] / mib, 1),
            "peak_containers_mib": round(self.peak["containers"] / mib, 1),
            "peak_tool_mib": round(self.peak["tool"] / mib, 1),
            "peak_host_delta_mib": round(self.peak["host_delta"] / mib, 1),
            "containers_at_peak": self.peak["containers_at_peak"],
            "samples": self.samples,
            "interval_s": self.interval,
            # How busy the machine was meanwhile (1-minute load average; a 2-CPU machine is saturated at 2).
            "loadavg_mean": round(sum(self.loads) / len(self.loads), 2) if self.loads else None,
            "loadavg_max": max(self.loads) if self.loads else None,
        }

    def _loop(self):
        out = open(self.csv_path, "w", encoding="utf-8") if self.csv_path else None
        if out:
            out.write("time,containers_bytes,tool_bytes,host_delta_bytes,containers\n")
        ids = {}
        tick = 0
        try:
            while not self._stop.is_set():
                if tick % 4 == 0:
                    ids = dict((cid, name) for cid, name in running_containers().items()
                               if any(p.search(name) for p in self.patterns))
                    try:
                        self.loads.append(float(read_file("/proc/loadavg").split()[0]))
                    except (IndexError, ValueError):
                        pass
                tick += 1
                containers = sum(container_memory(cid) for cid in ids)
                tool = process_tree_memory(self.root_pid) if self.root_pid else 0
                info = meminfo()
                host_delta = info.get("MemTotal", 0) - info.get("MemAvailable", 0) - self.host_before
                total = containers + tool
                self.samples += 1
                if total > self.peak["total"]:
                    self.peak["total"] = total
                    self.peak["containers_at_peak"] = len(ids)
                self.peak["containers"] = max(self.peak["containers"], containers)
                self.peak["tool"] = max(self.peak["tool"], tool)
                self.peak["host_delta"] = max(self.peak["host_delta"], host_delta)
                if out:
                    out.write("%.3f,%d,%d,%d,%d\n" % (time.time(), containers, tool, host_delta, len(ids)))
                self._stop.wait(self.interval)
        finally:
            if out:
                out.close()


# --------------------------------------------------------------------------- running tools

def tool_env(events_path=None):
    env = dict(os.environ)
    env["PATH"] = os.path.join(REPO, ".venv", "bin") + os.pathsep + env.get("PATH", "")
    env.update({
        "ANSIBLE_CONFIG": os.path.join(REPO, "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "PYTHONUNBUFFERED": "1",
        "ANSIBLE_CALLBACK_PLUGINS": os.path.join(HERE, "callback_plugins"),
        "ANSIBLE_CALLBACKS_ENABLED": "clarafl_bench_timer,ansible.posix.profile_tasks",
    })
    if events_path:
        env["CLARAFL_BENCH_EVENTS"] = events_path
    return env


def run_timed(cmd, log_path, env, timeout, sampler=None):
    """Run CMD with its output in LOG_PATH; returns (rc, start, end). The clock starts just before the spawn.
    A run that takes longer than TIMEOUT is killed with every process it started (rc "timeout")."""
    with open(log_path, "w", encoding="utf-8") as out:
        out.write("$ %s\n" % " ".join(cmd))
        out.flush()
        start = time.time()
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        if sampler is not None:
            sampler.start(proc.pid)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                proc.kill()
            proc.wait()
            rc = "timeout"
            out.write("\nbench: killed after %d s (--timeout)\n" % timeout)
        end = time.time()
    return rc, start, end


def restart_figures(marks):
    """Seconds from `restart client` until the site answers the server again and until it trains again."""
    if "restart_sent" not in marks:
        return {}
    out = {}
    for key, mark in (("restart_answer_s", "site_answering"), ("restart_s", "site_training")):
        if mark in marks:
            out[key] = round(marks[mark] - marks["restart_sent"], 2)
    return out


def read_json(path):
    """The JSON document in PATH, or None when there is none."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (IOError, OSError, ValueError):
        return None


def read_events(path):
    events = []
    for line in read_file(path).splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events


def recap_from_log(path):
    """{host: {ok, changed, ...}} from the PLAY RECAP in a playbook's output."""
    hosts = {}
    in_recap = False
    for line in read_file(path).splitlines():
        if line.startswith("PLAY RECAP"):
            in_recap = True
            continue
        if in_recap:
            m = re.match(r"^(\S+)\s+:\s+(ok=.*)$", line)
            if m:
                hosts[m.group(1)] = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2)))
    return hosts


def training_started_from_record(project, kit_root=None):
    """When clarafl.federation.fl_training started the run (the record it keeps in the admin kit folder), or None."""
    path = os.path.join(kit_root or "/opt/clarafl/%s" % project, "admin", "clarafl-training.json")
    try:
        with open(path) as handle:
            record = json.load(handle)
    except (IOError, OSError, ValueError):
        return None
    started = record.get("started_epoch") if isinstance(record, dict) else None
    return float(started) if isinstance(started, (int, float)) else None


def analyse_events(events, start, end):
    """Training-started time, per-play and per-task durations, changed tasks and the recap from callback events."""
    result = {"training_started": None, "plays": [], "tasks": [], "changed_tasks": [], "stats": None}
    marks = []
    for ev in events:
        if ev.get("ev") == "training_started" and result["training_started"] is None:
            result["training_started"] = ev["t"]
        elif ev.get("ev") == "play_start":
            marks.append(("play", ev))
        elif ev.get("ev") == "task_start":
            marks.append(("task", ev))
        elif ev.get("ev") == "result" and ev.get("changed"):
            result["changed_tasks"].append({"task": ev.get("task"), "host": ev.get("host")})
        elif ev.get("ev") == "stats":
            result["stats"] = ev.get("hosts")
    if result["training_started"] is None:  # fallback: the end of the task that starts the training
        started = [ev for kind, ev in marks if kind == "task" and TRAINING_TASK_RE.search(ev.get("task", ""))]
        if started:
            later = [ev["t"] for kind, ev in marks if ev["t"] > started[0]["t"]]
            result["training_started"] = min(later) if later else None
    plays = [ev for kind, ev in marks if kind == "play"]
    for i, ev in enumerate(plays):
        finish = plays[i + 1]["t"] if i + 1 < len(plays) else end
        result["plays"].append({"play": ev["play"], "label": ev.get("label") or ev["play"], "start_s": round(ev["t"] - start, 2),
                                "seconds": round(finish - ev["t"], 2)})
    tasks = {}
    for i, (kind, ev) in enumerate(marks):
        if kind != "task":
            continue
        finish = marks[i + 1][1]["t"] if i + 1 < len(marks) else end
        key = (ev.get("role") or "", ev.get("task") or "")
        entry = tasks.setdefault(key, {"role": key[0], "task": key[1], "seconds": 0.0, "count": 0})
        entry["seconds"] += finish - ev["t"]
        entry["count"] += 1
    result["tasks"] = sorted(({"role": t["role"], "task": t["task"], "seconds": round(t["seconds"], 2),
                               "count": t["count"]} for t in tasks.values()), key=lambda t: -t["seconds"])
    return result


# --------------------------------------------------------------------------- the benchmark

class Bench(object):
    def __init__(self, args):
        self.args = args
        self.stamp = utc_now().strftime("%Y%m%dT%H%M%SZ")
        self.out_dir = os.path.abspath(os.path.join(args.out, self.stamp))
        self.logs = os.path.join(self.out_dir, "logs")
        self.work = os.path.join(HERE, "work")
        os.makedirs(self.logs)
        self.ansible_playbook = os.path.join(REPO, ".venv", "bin", "ansible-playbook")
        self.results = {
            "schema": 1,
            "started_utc": utc_now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "finished_utc": None,
            "machine": machine_facts(),
            "git": git_facts(),
            "params": {"sites": args.sites, "rounds": args.rounds, "baseline": not args.no_baseline,
                       "restart": not args.no_restart,
                       "collection": not args.no_collection, "fed_port": args.fed_port, "admin_port": args.admin_port,
                       "baseline_ports": [args.baseline_fed_port, args.baseline_admin_port],
                       "sample_interval_s": args.sample_interval},
            "runs": [],
            "targets": [],
        }

    def save(self):
        self.results["targets"] = evaluate_targets(self.results)
        with open(os.path.join(self.out_dir, "results.json"), "w", encoding="utf-8") as fh:
            json.dump(self.results, fh, indent=2, sort_keys=False)
            fh.write("\n")

    # ---- helpers
    def _inventory(self, sites):
        out = os.path.join(self.work, "inventories", "sites%d" % sites)
        shutil.rmtree(out, ignore_errors=True)
        return gen_inventory.write_inventory(out, sites, fed_port=self.args.fed_port, admin_port=self.args.admin_port)

    def _project(self, sites):
        return gen_inventory.project_name(sites)

    def _leftovers(self, project):
        _rc, out = run_quiet(["docker", "ps", "-aq", "--filter", "label=org.clarafl.project=%s" % project])
        paths = [p for p in ("/opt/clarafl/%s" % project, "/var/lib/clarafl/%s" % project) if os.path.exists(p)]
        return bool(out.strip()) or bool(paths)

    def _teardown(self, inventory, project, tag):
        cmd = [self.ansible_playbook, os.path.join(REPO, "playbooks", "teardown.yml"), "-i", inventory,
               "-e", "teardown_provisioning_workspace=true"]
        rc, start, end = run_timed(cmd, os.path.join(self.logs, "%s-teardown.log" % tag), tool_env(), self.args.timeout)
        # The teardown keeps the project's emptied folders (e.g. the data folder above the sites' data).
        base = "/var/lib/clarafl/%s" % project
        for root, _dirs, _files in sorted(os.walk(base), key=lambda w: -len(w[0])) if os.path.isdir(base) else []:
            try:
                os.rmdir(root)
            except OSError:
                pass
        return rc, round(end - start, 2)

    @staticmethod
    def _ports_free(ports):
        busy = []
        for port in ports:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.settimeout(1)
            try:
                if sock.connect_ex(("127.0.0.1", int(port))) == 0:
                    busy.append(port)
            finally:
                sock.close()
        return busy

    def warm_up(self):
        """Read the image and Ansible into the page cache once, so that the first measured run is not the only cold one."""
        log("warm-up: the Clara image and ansible-playbook")
        run_quiet(["docker", "run", "--rm", "--network", "none", IMAGE, "python3", "-c",
                   "import nvflare, dlmed, provision, sklearn"], timeout=600)
        inv = self._inventory(self.args.sites[0])
        run_quiet([self.ansible_playbook, os.path.join(REPO, "site.yml"), "-i", inv, "--list-tasks"], timeout=600)

    # ---- the collection
    def collection(self, sites):
        project = self._project(sites)
        inventory = self._inventory(sites)
        tag = "collection-%02d" % sites
        entry = {"tool": "collection", "sites": sites, "rounds": self.args.rounds, "project": project, "ok": False,
                 "inventory": os.path.relpath(inventory, REPO), "error": None}
        self.results["runs"].append(entry)
        if self._leftovers(project):
            log("%s: removing what an earlier run left" % project)
            self._teardown(inventory, project, tag + "-pre")
        busy = self._ports_free([self.args.fed_port, self.args.admin_port])
        if busy:
            entry["error"] = "port(s) %s in use before the run" % ", ".join(str(p) for p in busy)
            log("%s: %s; skipped" % (project, entry["error"]))
            self.save()
            return
        cmd = [self.ansible_playbook, os.path.join(REPO, "site.yml"), "-i", inventory,
               "-e", "fl_admin_num_rounds=%d" % self.args.rounds]
        for run in (1, 2):
            if run == 2 and (self.args.no_rerun or not entry["ok"]):
                break
            events_path = os.path.join(self.logs, "%s-run%d-events.jsonl" % (tag, run))
            log_path = os.path.join(self.logs, "%s-run%d.log" % (tag, run))
            sampler = MemorySampler([r"^clarafl-%s-" % re.escape(project), r"^clarafl-image-check-"],
                                    self.args.sample_interval, os.path.join(self.logs, "%s-run%d-memory.csv" % (tag, run)))
            entry["load_before_run%d" % run] = load_snapshot()
            log("%s: site.yml run %d (%d sites, %d rounds)" % (project, run, sites, self.args.rounds))
            rc, start, end = run_timed(cmd, log_path, tool_env(events_path), self.args.timeout, sampler)
            memory = sampler.stop()
            info = analyse_events(read_events(events_path), start, end)
            # The training module records when it started the run (its task ends only with the run).
            info["training_started"] = training_started_from_record(project) or info["training_started"]
            recap = info["stats"] or recap_from_log(log_path)
            changed = sum(h.get("changed", 0) for h in recap.values()) if recap else None
            failed = sum(h.get("failures", h.get("failed", 0)) + h.get("unreachable", 0) for h in recap.values()) if recap else None
            if run == 1:
                entry.update({
                    "ok": rc == 0,
                    "rc": rc,
                    "deploy_s": round(info["training_started"] - start, 2) if info["training_started"] else None,
                    "all_done_s": round(end - start, 2) if rc == 0 else None,
                    "wall_s": round(end - start, 2),
                    "changed": changed,
                    "memory": memory,
                    "peak_mem_mib": memory["peak_mib"],
                    "plays": info["plays"],
                    "slowest_tasks": info["tasks"][:25],
                    "log": os.path.relpath(log_path, self.out_dir),
                })
                if rc != 0:
                    entry["error"] = "site.yml failed (rc %s): see %s" % (rc, entry["log"])
                log("%s: training started after %s s, all rounds done after %s s, peak memory %s MiB" % (
                    project, entry["deploy_s"], entry["all_done_s"], memory["peak_mib"]))
            else:
                entry.update({
                    "rerun_ok": rc == 0 and not failed,
                    "rerun_s": round(end - start, 2),
                    "rerun_changed": changed,
                    "rerun_changed_tasks": info["changed_tasks"][:50],
                    "rerun_memory": memory,
                    "rerun_plays": info["plays"],
                    "rerun_slowest_tasks": info["tasks"][:15],
                    "rerun_log": os.path.relpath(log_path, self.out_dir),
                })
                if rc != 0:
                    entry["error"] = "the second site.yml failed (rc %s): see %s" % (rc, entry["rerun_log"])
                log("%s: rerun %s s, changed=%s" % (project, entry["rerun_s"], changed))
            self.save()
        if entry["ok"] and not self.args.no_restart:
            self.restart_collection(entry, project, sites, tag)
        if not self.args.keep:
            log("%s: teardown" % project)
            rc, seconds = self._teardown(inventory, project, tag)
            entry["teardown_s"] = seconds
            entry["teardown_ok"] = rc == 0
        self.save()

    def restart_collection(self, entry, project, sites, tag):
        """One site of the collection's federation restarted by the admin console until it trains again."""
        timings = os.path.join(self.logs, "%s-restart-timings.json" % tag)
        cmd = ["bash", os.path.join(HERE, "restart_site.sh"), "--admin-kit", "/opt/clarafl/%s/admin" % project,
               "--admin", gen_inventory.ADMIN_EMAIL, "--site", RESTART_SITE, "--sites", str(sites), "--mmar",
               "clarafl_demo", "--run", "2", "--project", project, "--timings", timings,
               "--timeout", str(self.args.baseline_wait)]
        log("%s: restart client %s until it trains again" % (project, RESTART_SITE))
        log_path = os.path.join(self.logs, "%s-restart.log" % tag)
        rc, _start, _end = run_timed(cmd, log_path, tool_env(), self.args.baseline_wait * 4)
        doc = read_json(timings) or {"ok": False, "error": "no timings written (rc %s): see %s" % (rc, log_path)}
        entry.update(restart_figures(doc.get("marks") or {}))
        entry["restart_ok"] = rc == 0 and bool(doc.get("ok"))
        if not entry["restart_ok"]:
            entry["restart_error"] = doc.get("error") or "rc %s: see %s" % (rc, os.path.relpath(log_path, self.out_dir))
        log("%s: %s trained again %s s after restart client%s" % (
            project, RESTART_SITE, entry.get("restart_s"),
            "" if entry["restart_ok"] else " (FAILED: %s)" % entry.get("restart_error")))
        self.save()

    # ---- the baseline
    def baseline(self, sites):
        project = "clarafl_base%d" % sites
        tag = "baseline-%02d" % sites
        timings = os.path.join(self.logs, "%s-timings.json" % tag)
        log_path = os.path.join(self.logs, "%s.log" % tag)
        entry = {"tool": "baseline", "sites": sites, "rounds": self.args.rounds, "project": project, "ok": False,
                 "error": None}
        self.results["runs"].append(entry)
        busy = self._ports_free([self.args.baseline_fed_port, self.args.baseline_admin_port])
        if busy:
            entry["error"] = "port(s) %s in use before the run" % ", ".join(str(p) for p in busy)
            log("%s: %s; skipped" % (project, entry["error"]))
            self.save()
            return
        work = os.path.join(self.work, "baseline", project)
        cmd = ["bash", os.path.join(HERE, "baseline.sh"), "--sites", str(sites), "--rounds", str(self.args.rounds),
               "--project", project, "--fed-port", str(self.args.baseline_fed_port),
               "--admin-port", str(self.args.baseline_admin_port), "--timings", timings,
               "--work", work, "--timeout", str(self.args.baseline_wait), "--stall", str(self.args.baseline_stall)]
        if not self.args.no_restart:
            cmd.append("--restart-site")
        if self.args.keep:
            cmd.append("--keep")
        sampler = MemorySampler([r"^%s-" % re.escape(project)], self.args.sample_interval,
                                os.path.join(self.logs, "%s-memory.csv" % tag))
        entry["load_before_run1"] = load_snapshot()
        log("%s: baseline.sh (%d sites, %d rounds)" % (project, sites, self.args.rounds))
        rc, start, end = run_timed(cmd, log_path, tool_env(), self.args.timeout, sampler)
        memory = sampler.stop()
        doc = read_json(timings)
        if rc == "timeout":
            # Killed: it could not remove what it made.
            run_quiet(["bash", os.path.join(HERE, "baseline.sh"), "--cleanup", "--project", project, "--work", work],
                      timeout=300)
            doc = dict(doc or {"marks": {}}, ok=False, error="the plain script did not end within %d s (--timeout): "
                       "killed, and what it made removed; see %s" % (self.args.timeout, log_path))
        elif doc is None:
            doc = {"ok": False, "error": "no timings written (rc %s): see %s" % (rc, log_path), "marks": {}}
        marks = doc.get("marks", {})
        # With the restart measured after it, the runbook's part succeeded once baseline.sh began the restart.
        runbook_ok = (rc == 0 and bool(doc.get("ok"))) or "restart_phase" in marks
        failure = doc.get("error") or (None if rc == 0 else "rc %s" % rc)
        entry.update({
            "ok": runbook_ok,
            "rc": rc,
            "error": None if runbook_ok else failure,
            "deploy_s": round(marks["training_started"] - start, 2) if "training_started" in marks else None,
            "all_done_s": round(marks["all_rounds_done"] - start, 2) if "all_rounds_done" in marks else None,
            "wall_s": round(end - start, 2),
            "rounds_done": doc.get("rounds_done"),
            "steps": dict((k, round(v - start, 2)) for k, v in sorted(marks.items(), key=lambda kv: kv[1])),
            "restart_ok": "site_training" in marks if not self.args.no_restart else None,
            "restart_error": failure if "restart_phase" in marks and "site_training" not in marks else None,
            "memory": memory,
            "peak_mem_mib": memory["peak_mib"],
            "log": os.path.relpath(log_path, self.out_dir),
        })
        entry.update(restart_figures(marks))
        if not entry["error"]:
            entry["error"] = None
        log("%s: training started after %s s, all rounds done after %s s, peak memory %s MiB%s" % (
            project, entry["deploy_s"], entry["all_done_s"], memory["peak_mib"],
            "" if entry["ok"] else " (FAILED: %s)" % entry["error"]))
        self.save()

    def run(self):
        log("results: %s" % self.out_dir)
        self.save()
        self.warm_up()
        for sites in self.args.sites:
            if not self.args.no_collection:
                self.collection(sites)
            if not self.args.no_baseline:
                self.baseline(sites)
        self.results["finished_utc"] = utc_now().strftime("%Y-%m-%dT%H:%M:%SZ")
        self.save()
        return self.out_dir


# --------------------------------------------------------------------------- results

def _run(results, tool, sites):
    for entry in results["runs"]:
        if entry["tool"] == tool and entry["sites"] == sites:
            return entry
    return None


def evaluate_targets(results):
    c3 = _run(results, "collection", 3)
    c20 = _run(results, "collection", 20)
    b3 = _run(results, "baseline", 3)
    targets = []

    def target(name, goal, measured, passed):
        targets.append({"target": name, "goal": goal, "measured": measured,
                        "result": "n/a" if passed is None else ("pass" if passed else "FAIL")})

    for run, sites, goal in ((c3, 3, TARGET_RERUN_S), (c20, 20, TARGET_RERUN_20_S)):
        name = "second run, %d sites" % sites
        if run and run.get("rerun_s") is not None:
            target(name, "changed=0 in at most %g s" % goal,
                   "changed=%s in %.1f s" % (run.get("rerun_changed"), run["rerun_s"]),
                   run.get("rerun_changed") == 0 and run["rerun_s"] <= goal and bool(run.get("rerun_ok")))
        else:
            target(name, "changed=0 in at most %g s" % goal, "not measured", None)
    if c3 and c20 and c3.get("deploy_s") and c20.get("deploy_s"):
        ratio = c20["deploy_s"] / c3["deploy_s"]
        target("20 sites vs 3 sites (start -> training started)", "at most %g x" % TARGET_SCALE,
               "%.1f s / %.1f s = %.2f x" % (c20["deploy_s"], c3["deploy_s"], ratio), ratio <= TARGET_SCALE)
    else:
        target("20 sites vs 3 sites (start -> training started)", "at most %g x" % TARGET_SCALE, "not measured", None)
    if c3 and b3 and c3.get("deploy_s") and b3.get("deploy_s"):
        ratio = c3["deploy_s"] / b3["deploy_s"]
        target("collection vs plain script, 3 sites (start -> training started)", "at most %g x" % TARGET_VS_BASELINE,
               "%.1f s / %.1f s = %.2f x" % (c3["deploy_s"], b3["deploy_s"], ratio), ratio <= TARGET_VS_BASELINE)
    else:
        target("collection vs plain script, 3 sites (start -> training started)", "at most %g x" % TARGET_VS_BASELINE,
               "not measured", None)
    memory_goal = "at most %g x" % TARGET_MEMORY_VS_BASELINE
    if c3 and b3 and (c3.get("memory") or {}).get("peak_mib") and (b3.get("memory") or {}).get("peak_mib"):
        ratio = c3["memory"]["peak_mib"] / b3["memory"]["peak_mib"]
        target("collection vs plain script, 3 sites (peak memory)", memory_goal,
               "%.0f MiB / %.0f MiB = %.2f x" % (c3["memory"]["peak_mib"], b3["memory"]["peak_mib"], ratio),
               ratio <= TARGET_MEMORY_VS_BASELINE)
    else:
        target("collection vs plain script, 3 sites (peak memory)", memory_goal, "not measured", None)
    restart_goal = "trains again within %g s" % TARGET_RESTART_S
    if c3 and c3.get("restart_s") is not None:
        target("a site restarted by the admin console, 3 sites", restart_goal, "%.1f s (plain script, the kit's loop: %s s)"
               % (c3["restart_s"], _fmt((b3 or {}).get("restart_s"))), c3["restart_s"] <= TARGET_RESTART_S)
    else:
        target("a site restarted by the admin console, 3 sites", restart_goal, "not measured", None)
    return targets


def _fmt(value, digits=1):
    if value is None:
        return "-"
    if isinstance(value, float):
        return "%.*f" % (digits, value)
    return str(value)


def results_table(results):
    lines = [
        "| sites | tool | start -> training started (s) | start -> all rounds done (s) | rerun (s) | rerun changed "
        "| peak memory (MiB) | site restarted -> trains again (s) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for entry in sorted(results["runs"], key=lambda e: (e["sites"], e["tool"] != "collection")):
        tool = "collection (site.yml)" if entry["tool"] == "collection" else "plain script (baseline.sh)"
        if not entry.get("ok"):
            tool += " **failed**"
        rerun = _fmt(entry.get("rerun_s")) if entry["tool"] == "collection" else "n/a"
        changed = _fmt(entry.get("rerun_changed")) if entry["tool"] == "collection" else "n/a"
        restart = _fmt(entry.get("restart_s"))
        if entry.get("restart_ok") is False:
            restart += " **failed**"
        lines.append("| %d | %s | %s | %s | %s | %s | %s | %s |" % (
            entry["sites"], tool, _fmt(entry.get("deploy_s")), _fmt(entry.get("all_done_s")), rerun, changed,
            _fmt(entry.get("peak_mem_mib"), 0), restart))
    return "\n".join(lines)


def targets_table(results):
    lines = ["| target | goal | measured | result |", "|---|---|---|---|"]
    for t in results.get("targets") or evaluate_targets(results):
        lines.append("| %s | %s | %s | %s |" % (t["target"], t["goal"], t["measured"], t["result"]))
    return "\n".join(lines)


def machine_lines(results):
    m = results["machine"]
    busy = []
    when = "mean during each run (the first for the collection)"
    for entry in sorted(results["runs"], key=lambda e: (e["sites"], e["tool"] != "collection")):
        mean = (entry.get("memory") or {}).get("loadavg_mean")
        if mean is None:  # results from before the sampler kept it: the load when the run started
            mean = ((entry.get("load_before_run1") or {}).get("loadavg") or [None])[0]
            when = "when each run started"
        if mean is not None:
            busy.append("%s %d: %.1f" % ("collection" if entry["tool"] == "collection" else "script", entry["sites"], mean))
    return [
        "- machine: `%s`, %s CPU(s) (%s), %s MiB memory, kernel %s, %s" % (
            m["hostname"], m["nproc"], m["cpu_model"] or "?", m["memory_mib"], m["kernel"], m["os"] or "?"),
        "- Docker %s (%s, cgroup v%s, %s); %s; image `%s`" % (
            m["docker_server"], m["docker_storage_driver"], m["cgroup_version"], m["cgroup_driver"],
            m["ansible_core"], m["image"]),
        "- run %s to %s (UTC), %s round(s) per training; git commit %s%s" % (
            results["started_utc"], results.get("finished_utc") or "(unfinished)", results["params"]["rounds"],
            (results["git"].get("commit") or "?")[:12],
            " with local changes in roles/plugins/playbooks" if results["git"].get("roles_plugins_playbooks_modified") else ""),
        "- 1-minute load average, %s: %s (%s CPUs are saturated at %s)" % (
            when, ", ".join(busy) if busy else "-", m["nproc"], m["nproc"]),
    ]


def _plays_text(plays):
    """"label seconds" per play; consecutive plays with the same label (the checks) are added up."""
    merged = []
    for play in plays:
        label = play.get("label") or play["play"]
        if merged and merged[-1][0] == label:
            merged[-1][1] += play["seconds"]
        else:
            merged.append([label, play["seconds"]])
    return ", ".join("%s %.1f s" % (label, seconds) for label, seconds in merged)


def _tasks_text(tasks):
    return ", ".join("%s%s %.1f s%s" % (t["role"] + ": " if t["role"] else "", t["task"], t["seconds"],
                                        " (x%d)" % t["count"] if t["count"] > 1 else "") for t in tasks)


def slow_steps_lines(results, limit=8):
    lines = []
    for entry in sorted(results["runs"], key=lambda e: e["sites"]):
        if entry["tool"] == "collection" and entry.get("plays"):
            lines.append("- collection, %d sites, plays: %s" % (entry["sites"], _plays_text(entry["plays"])))
            lines.append("  - slowest tasks: %s" % _tasks_text(entry["slowest_tasks"][:limit]))
            if entry.get("rerun_plays"):
                lines.append("  - second run (%.1f s), plays: %s" % (entry["rerun_s"], _plays_text(entry["rerun_plays"])))
                lines.append("  - second run, slowest tasks: %s" % _tasks_text(entry["rerun_slowest_tasks"][:limit // 2]))
        if entry.get("restart_s") is not None:
            lines.append("- %s, %d sites, a site restarted by the admin console: answers the server again after %s s, "
                         "trains again after %s s (deploy and start client in between)" % (
                             "collection" if entry["tool"] == "collection" else "plain script", entry["sites"],
                             _fmt(entry.get("restart_answer_s")), _fmt(entry.get("restart_s"))))
        if entry["tool"] == "baseline" and entry.get("steps"):
            prev = 0.0
            parts = []
            for name, at in sorted(entry["steps"].items(), key=lambda kv: kv[1]):
                if name == "start":
                    continue
                parts.append("%s %.1f s" % (name, at - prev))
                prev = at
            lines.append("- plain script, %d sites, steps: %s" % (entry["sites"], ", ".join(parts)))
    return lines


def render_markdown(results, png_name="deploy_time.png"):
    out = ["# Benchmark results", ""]
    out += machine_lines(results)
    out += ["", results_table(results), "", "Targets:", "", targets_table(results), "",
            "![deploy time against the number of sites](%s)" % png_name, "", "Where the time goes:", ""]
    out += slow_steps_lines(results)
    failed = [e for e in results["runs"] if not e.get("ok") or e.get("error") or e.get("restart_error")]
    if failed:
        out += ["", "Problems:", ""]
        out += ["- %s, %d sites: %s" % (e["tool"], e["sites"], "; ".join(
            x for x in (e.get("error") or ("failed" if not e.get("ok") else ""), e.get("restart_error")) if x))
            for e in failed]
    return "\n".join(out) + "\n"


def plot(results, path):
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

    fig, ax = plt.subplots(figsize=(9, 6.5), dpi=100)
    styles = {
        ("collection", "deploy_s"): ("collection: start -> training started", "tab:blue", "-", "o"),
        ("baseline", "deploy_s"): ("plain script: start -> training started", "tab:orange", "-", "s"),
        ("collection", "all_done_s"): ("collection: start -> all rounds done", "tab:blue", "--", "o"),
        ("baseline", "all_done_s"): ("plain script: start -> all rounds done", "tab:orange", "--", "s"),
    }
    sites_seen = set()
    for (tool, key), (label, color, line, marker) in styles.items():
        points = sorted((e["sites"], e[key]) for e in results["runs"] if e["tool"] == tool and e.get(key) is not None)
        if points:
            sites_seen.update(p[0] for p in points)
            ax.plot([p[0] for p in points], [p[1] for p in points], linestyle=line, marker=marker, color=color,
                    label=label, alpha=1.0 if key == "deploy_s" else 0.6)
    c3 = _run(results, "collection", 3)
    b3 = _run(results, "baseline", 3)
    if c3 and c3.get("deploy_s"):
        ax.axhline(TARGET_SCALE * c3["deploy_s"], color="tab:red", linestyle=":",
                   label="target: collection at 20 sites within %g x its 3-site time (%.0f s)"
                   % (TARGET_SCALE, TARGET_SCALE * c3["deploy_s"]))
    if b3 and b3.get("deploy_s"):
        ax.plot([3], [TARGET_VS_BASELINE * b3["deploy_s"]], linestyle="none", marker="_", markersize=30,
                markeredgewidth=2, color="tab:purple",
                label="target: collection at 3 sites within %g x the plain script (%.0f s)"
                % (TARGET_VS_BASELINE, TARGET_VS_BASELINE * b3["deploy_s"]))
    ax.set_xlabel("number of sites")
    ax.set_ylabel("seconds from start")
    ax.set_xticks(sorted(sites_seen) or [3, 10, 20])
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    m = results["machine"]
    ax.set_title("clarafl.federation deploy time, %s round(s); %s CPU, %s MiB, %s" % (
        results["params"]["rounds"], m["nproc"], m["memory_mib"], results["started_utc"][:10]), fontsize=10)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def publish(results, out_dir, results_root, docs=True):
    """results.md and deploy_time.png in OUT_DIR; a copy in RESULTS_ROOT/latest; BENCHMARKS.md's latest section."""
    with open(os.path.join(out_dir, "results.md"), "w", encoding="utf-8") as fh:
        fh.write(render_markdown(results))
    try:
        plot(results, os.path.join(out_dir, "deploy_time.png"))
    except ImportError as exc:
        log("no plot (%s): run bench/run.sh, which installs matplotlib into the bench venv" % exc)
    if results_root is None:
        return
    latest = os.path.join(results_root, "latest")
    if os.path.abspath(out_dir) != os.path.abspath(latest):
        shutil.rmtree(latest, ignore_errors=True)
        os.makedirs(latest)
        for name in ("results.json", "results.md", "deploy_time.png"):
            if os.path.exists(os.path.join(out_dir, name)):
                shutil.copy2(os.path.join(out_dir, name), os.path.join(latest, name))
        with open(os.path.join(latest, "SOURCE"), "w", encoding="utf-8") as fh:
            fh.write("copied from %s\n" % os.path.relpath(out_dir, REPO))
    if docs:
        update_docs(results, os.path.join(REPO, "BENCHMARKS.md"), os.path.relpath(latest, REPO))


def update_docs(results, path, latest_rel):
    text = read_file(path)
    if DOCS_BEGIN not in text or DOCS_END not in text:
        log("%s has no %s ... %s section: left alone" % (path, DOCS_BEGIN, DOCS_END))
        return
    body = ["", "Measured by `bench/run.sh --sites %s --rounds %d`; files in [%s](%s/)." % (
        ",".join(str(s) for s in results["params"]["sites"]), results["params"]["rounds"], latest_rel, latest_rel), ""]
    body += machine_lines(results)
    body += ["", results_table(results), "", "### Targets", "", targets_table(results), "",
             "![deploy time against the number of sites](%s/deploy_time.png)" % latest_rel, "",
             "### Where the time goes", ""]
    body += slow_steps_lines(results)
    body.append("")
    head, rest = text.split(DOCS_BEGIN, 1)
    _old, tail = rest.split(DOCS_END, 1)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(head + DOCS_BEGIN + "\n".join(body) + "\n" + DOCS_END + tail)


def parse_sites(text):
    try:
        sites = [int(s) for s in text.split(",") if s.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError("--sites takes numbers separated by commas, e.g. 3,10,20") from exc
    if not sites or any(s < 1 for s in sites):
        raise argparse.ArgumentTypeError("--sites takes positive numbers, e.g. 3,10,20")
    return sites


def main(argv=None):
    parser = argparse.ArgumentParser(description="Benchmark site.yml against the runbook as a plain script.")
    parser.add_argument("--sites", type=parse_sites, default=parse_sites(DEFAULT_SITES),
                        help="numbers of sites, comma-separated (default %s)" % DEFAULT_SITES)
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="FL rounds per training (default %(default)s)")
    parser.add_argument("--no-baseline", action="store_true", help="do not run the plain-script baseline")
    parser.add_argument("--no-collection", action="store_true", help="do not run the collection")
    parser.add_argument("--no-rerun", action="store_true", help="skip the second (idempotent) site.yml run")
    parser.add_argument("--keep", action="store_true", help="leave the federations running (no teardown)")
    parser.add_argument("--no-restart", action="store_true",
                        help="do not measure a site restarted by the admin console until it trains again")
    parser.add_argument("--timeout", type=int, default=1800,
                        help="seconds allowed per run; a run that takes longer is killed and recorded as failed "
                             "(default %(default)s)")
    parser.add_argument("--baseline-wait", type=int, default=300,
                        help="seconds each wait of the plain script and of the restart may take (default %(default)s)")
    parser.add_argument("--baseline-stall", type=int, default=180,
                        help="seconds the plain script's training may go without a new round (default %(default)s)")
    parser.add_argument("--out", default=os.path.join(HERE, "results"), help="results folder (default bench/results)")
    parser.add_argument("--no-publish", action="store_true",
                        help="do not copy to <out>/latest nor rewrite the latest section of BENCHMARKS.md")
    parser.add_argument("--render", metavar="RESULTS_JSON",
                        help="only write results.md and deploy_time.png again from a results.json (and publish them"
                             " as the latest unless --no-publish)")
    parser.add_argument("--fed-port", type=int, default=gen_inventory.DEFAULT_FED_PORT)
    parser.add_argument("--admin-port", type=int, default=gen_inventory.DEFAULT_ADMIN_PORT)
    parser.add_argument("--baseline-fed-port", type=int, default=8312)
    parser.add_argument("--baseline-admin-port", type=int, default=8313)
    parser.add_argument("--sample-interval", type=float, default=0.5, help="memory sampling interval (s)")
    args = parser.parse_args(argv)

    if args.render:
        with open(args.render, encoding="utf-8") as fh:
            results = json.load(fh)
        results["targets"] = evaluate_targets(results)
        out_dir = os.path.dirname(os.path.abspath(args.render))
        with open(os.path.join(out_dir, "results.json"), "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2, sort_keys=False)
            fh.write("\n")
        publish(results, out_dir, None if args.no_publish else os.path.abspath(args.out))
        return 0
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if min(args.timeout, args.baseline_wait, args.baseline_stall) < 1:
        parser.error("--timeout, --baseline-wait and --baseline-stall take positive numbers of seconds")
    if run_quiet(["docker", "image", "inspect", IMAGE])[0] != 0:
        print("bench: the image %s is not on this machine: build it first (make demo, or site.yml --tags clara_image)"
              % IMAGE, file=sys.stderr)
        return 2
    if not os.access(os.path.join(REPO, ".venv", "bin", "ansible-playbook"), os.X_OK):
        print("bench: %s/.venv has no ansible-playbook: run make venv" % REPO, file=sys.stderr)
        return 2
    bench = Bench(args)
    try:
        out_dir = bench.run()
    except KeyboardInterrupt:
        log("interrupted: partial results in %s" % bench.out_dir)
        bench.save()
        raise
    results = bench.results
    publish(results, out_dir, None if args.no_publish else os.path.abspath(args.out))
    print()
    print(render_markdown(results))
    failed = [e for e in results["runs"] if not e.get("ok")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
