# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's supervisor of a Clara Train 4.0 kit's FL engine process, run as the main process of the
server's and each site's container in place of the kit's ``startup/sub_start.sh`` loop::

    python3 engine_supervisor.py /workspace/server

It keeps the kit's contract:

* the engine command line, its environment (``export`` lines), the log file and the ``pid.fl`` place are read
  from the kit's own ``startup/sub_start.sh``, never written here; the signed ``startup/`` files are only read;
* ``daemon_pid.fl`` holds the supervisor's pid, ``pid.fl`` the engine's; the engine writes ``restart.fl``
  (admin ``restart``) or ``shutdown.fl`` (admin ``shutdown``) in its workspace and ends itself: on
  ``restart.fl`` the engine is started again, on ``shutdown.fl`` the supervisor ends (exit status 0);
* the engine's output is appended to the kit's ``log.txt`` and copied to the supervisor's stdout (the
  container's log), as the kit's ``tee -a`` does;
* the kit's give-up rule: an engine that ends by itself is started again, and when such a start comes within
  300 s of the previous one for the fifth time in a row, the supervisor gives up (exit status 1; a Docker
  restart policy then restarts the container).

What differs from the kit's loop:

* the engine starts at once (the kit sleeps 10 s first) and the markers are checked every second (the kit:
  every 10 s);
* a stop waits for the engine and every process it started to end, at most 15 s, then kills what is left (the
  kit sleeps 15 s, then kills the engine only: its ``rkill`` does not exist, so a site's processes outlive it).
  The Clara 4.0 engine never exits by itself after a restart or shutdown (the server calls ``sys.exit`` in a
  worker thread; a site keeps its gRPC threads): once it has logged that its shutdown is done (``Admin Server
  ... shutdown!``, ``Shutting down client``), it is ended a second later;
* a site (a kit whose engine configuration names a server to connect to) starts its engine only once the
  server's FL port accepts connections: an engine that tries to register earlier can stay unregistered for
  minutes. A site asked to restart starts its new engine no sooner than 15 s (the stop's limit) after the
  request, as the kit's loop does: ``restart server`` restarts every site, then, 5 s later, the server, and a
  site whose new engine registered with the old server would not rejoin;
* a restart the admin console asked for does not count towards the give-up rule (the kit counts every start);
* markers an earlier container left are cleared at start (in a new container no earlier instance runs).

Standard library only, Python 3.6 or later: it runs with the Clara image's own ``python3``, pulled or built.
The FL containers mount it read-only (``fl_containers`` writes it on the host, the
``clarafl.federation.fl_engine_container`` filter builds the command); the unit tests import it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time

KIT_SCRIPT = "sub_start.sh"
FILE_NAME = "engine_supervisor.py"
# The kit's rule (sub_start.sh's start_fl): a start within GIVE_UP_WINDOW s of the previous one counts, and the
# GIVE_UP_COUNT-th such start in a row is not made.
GIVE_UP_WINDOW = 300.0
GIVE_UP_COUNT = 5
CHECK_INTERVAL = 1.0
STOP_TIMEOUT = 15.0
# After a kill, how long the killed processes are waited for; on SIGTERM to the supervisor, how long the engine
# gets to end before it is killed (docker stop waits 10 s before its own kill).
KILL_WAIT = 2.0
TERM_WAIT = 5.0
# An engine that logged its shutdown as done is ended this long after (what is left of its shutdown: ending the
# training process it started, closing its admin agent).
DONE_GRACE = 1.0
# The lines the Clara 4.0 engine logs when its shutdown (restart.fl / shutdown.fl) is done: the server's admin
# server stopped, a site closed.
DONE_LINES = (re.compile(br"Admin Server .* shutdown!"), re.compile(br"Shutting down client\b"))

PID_FILE = "pid.fl"
DAEMON_PID_FILE = "daemon_pid.fl"
RESTART_FILE = "restart.fl"
SHUTDOWN_FILE = "shutdown.fl"
MARKERS = (PID_FILE, DAEMON_PID_FILE, RESTART_FILE, SHUTDOWN_FILE)
PR_SET_CHILD_SUBREAPER = 36
PROC = "/proc"

# The kit's start line: ((<engine command> 2>&1 & echo $! >&3 ) 3>$DIR/../pid.fl | tee -a $DIR/../log.txt &)
_START_RE = re.compile(r"\(\(\s*(?P<command>[^\n]*?)\s+2>&1\s*&\s*echo\s+\$!\s*>&3\s*\)\s*3>\s*(?P<pid>[^\s|]+)"
                       r"\s*\|\s*tee\s+-a\s+(?P<log>[^\s&)]+)\s*&\s*\)")
_EXPORT_RE = re.compile(r"^\s*export\s+(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>.*?)\s*$")
_MKDIR_RE = re.compile(r"^\s*mkdir\s+-p\s+(?P<path>\S+)\s*$")
_VAR_RE = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")


class KitError(Exception):
    """The kit's script cannot be read as a Clara Train 4.0 kit's: what is wrong and what to do."""


def _code_lines(text):
    """The lines of a shell script that are not comments."""
    return [line for line in text.splitlines() if not line.lstrip().startswith("#")]


def expand(text, variables, where, strict=True):
    """TEXT with $NAME and ${NAME} replaced from VARIABLES; a name they lack is an error (STRICT), else empty, as
    the shell reads an unset variable."""
    def one(match):
        name = match.group("braced") or match.group("plain")
        if strict and name not in variables:
            raise KitError("%s holds %r: $%s is not the kit's $DIR, and this supervisor runs only what the kit "
                           "spells out" % (where, text, name))
        return variables.get(name, "")
    out = _VAR_RE.sub(one, text)
    if "$" in out:
        raise KitError("%s holds %r, which this supervisor cannot expand" % (where, text))
    return out


def _unquote(value, where):
    try:
        words = shlex.split(value)
    except ValueError as exc:
        raise KitError("%s: %s" % (where, exc))
    if len(words) > 1:
        raise KitError("%s holds more than one word: %r" % (where, value))
    return words[0] if words else ""


def parse_kit(text, startup_dir):
    """What the kit's sub_start.sh (TEXT) runs, with $DIR the kit's startup folder STARTUP_DIR:
    {'command': argv, 'exports': [(name, value as written)], 'pid_file', 'log_file', 'workspace', 'mkdirs'}."""
    script = os.path.join(startup_dir, KIT_SCRIPT)
    lines = _code_lines(text)
    match = _START_RE.search("\n".join(lines))
    if not match:
        raise KitError("%s has no engine start line of a Clara Train 4.0 kit ((python3 ... 2>&1 & echo $! >&3 ) "
                       "3>$DIR/../pid.fl | tee -a $DIR/../log.txt &): run this kit with its own loop "
                       "(fl_engine_supervisor: kit)" % script)
    names = {"DIR": startup_dir}
    command = expand(match.group("command"), names, "the engine command in %s" % script)
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise KitError("the engine command in %s cannot be split into words: %s" % (script, exc))
    if not argv:
        raise KitError("the engine command in %s is empty" % script)
    pid_file = os.path.normpath(_unquote(expand(match.group("pid"), names, "the pid file in %s" % script), script))
    log_file = os.path.normpath(_unquote(expand(match.group("log"), names, "the log file in %s" % script), script))
    if os.path.basename(pid_file) != PID_FILE:
        raise KitError("%s writes the engine's pid to %s, not to a %s: run this kit with its own loop "
                       "(fl_engine_supervisor: kit)" % (script, pid_file, PID_FILE))
    exports = []
    mkdirs = []
    for line in lines:
        found = _EXPORT_RE.match(line)
        if found:
            exports.append((found.group("name"), found.group("value")))
            continue
        found = _MKDIR_RE.match(line)
        if found:
            path = os.path.normpath(expand(found.group("path"), names, "a folder made in %s" % script))
            if path not in mkdirs:
                mkdirs.append(path)
    return {"command": argv, "exports": exports, "pid_file": pid_file, "log_file": log_file,
            "workspace": os.path.dirname(pid_file), "mkdirs": mkdirs}


def server_target(command, startup_dir):
    """(host, port) of the server a site's engine connects to, from the configuration its command names
    (``-s fed_client.json``: servers[0].service.target), or None for a server's kit (no "client" section)."""
    if "-s" not in command[:-1]:
        return None
    path = os.path.join(startup_dir, command[command.index("-s") + 1])
    try:
        with open(path) as handle:
            config = json.load(handle)
        if not isinstance(config, dict) or "client" not in config:
            return None
        target = config["servers"][0]["service"]["target"]
        host, _sep, port = target.rpartition(":")
        return (host.strip("[]"), int(port)) if host else None
    except (IOError, OSError, ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None


def listening(target, timeout=1.0):
    """True when TARGET (host, port) accepts a TCP connection."""
    try:
        sock = socket.create_connection(target, timeout=timeout)
    except (OSError, socket.error):
        return False
    sock.close()
    return True


def engine_environment(exports, base):
    """BASE (a mapping, e.g. os.environ) with the kit's exports applied in order, $NAME read as the shell does."""
    env = dict(base)
    for name, value in exports:
        env[name] = _unquote(expand(value, env, "export %s" % name, strict=False), "export %s" % name)
    return env


class GiveUpRule(object):
    """The kit's rule, on the start times it is given: a start within WINDOW s of the previous start adds one to a
    count that any later start resets; the start that would bring the count to COUNT is refused."""

    def __init__(self, window=GIVE_UP_WINDOW, count=GIVE_UP_COUNT):
        self.window = window
        self.limit = count
        self.count = 0
        self.last = None

    def allow(self, now):
        """True, and NOW recorded as a start, when the engine may be started at NOW."""
        soon = self.last is not None and now - self.last < self.window
        self.count = self.count + 1 if soon else 0
        if soon and self.count >= self.limit:
            return False
        self.last = now
        return True


# --------------------------------------------------------------------------- processes

def _stat(pid, proc=PROC):
    """(state, parent pid, start time) of PID from /proc, or None when it is gone."""
    try:
        with open(os.path.join(proc, str(pid), "stat")) as handle:
            text = handle.read()
    except (IOError, OSError):
        return None
    fields = text.rsplit(")", 1)[-1].split()
    try:
        return fields[0], int(fields[1]), int(fields[19])
    except (IndexError, ValueError):
        return None


def alive(ident, proc=PROC):
    """True while the process IDENT ((pid, start time)) runs; a zombie has ended."""
    found = _stat(ident[0], proc)
    return found is not None and found[2] == ident[1] and found[0] not in ("Z", "X")


def descendants(root, proc=PROC):
    """{(pid, start time)} of every living process below ROOT."""
    children = {}
    try:
        entries = os.listdir(proc)
    except OSError:
        return set()
    for entry in entries:
        if entry.isdigit():
            found = _stat(entry, proc)
            if found is not None and found[0] not in ("Z", "X"):
                children.setdefault(found[1], []).append((int(entry), found[2]))
    out = set()
    todo = [root]
    while todo:
        for ident in children.get(todo.pop(), []):
            if ident not in out:
                out.add(ident)
                todo.append(ident[0])
    return out


def become_subreaper():
    """Have the processes the engine leaves behind re-parented to this process (Linux prctl), so that they can be
    found, waited for and reaped. False when the system does not allow it."""
    try:
        import ctypes  # pylint: disable=import-outside-toplevel
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (ImportError, OSError, AttributeError):
        return False


def _remove(path):
    try:
        os.remove(path)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise


def _read_pid(path):
    try:
        with open(path) as handle:
            return int(handle.read().strip())
    except (IOError, OSError, ValueError):
        return None


def _write(path, text):
    with open(path, "w") as handle:
        handle.write(text)


class Supervisor(object):
    """Runs one kit's engine: see the module's description."""

    def __init__(self, kit_dir, out=None, interval=CHECK_INTERVAL, stop_timeout=STOP_TIMEOUT, environ=None,
                 clock=time.monotonic, proc=PROC):
        self.startup = os.path.join(os.path.abspath(kit_dir), "startup")
        self.out = out or getattr(sys.stdout, "buffer", sys.stdout)
        self.interval = interval
        self.stop_timeout = stop_timeout
        self.environ = os.environ if environ is None else environ
        self.clock = clock
        self.proc = proc
        self.rule = GiveUpRule()
        self.kit = None
        self.engine = None       # the engine's Popen
        self.engine_id = None    # (pid, start time)
        self.exit_status = None  # of the engine, once reaped
        self.known = set()       # the engine's processes as last seen, for when it has gone
        self.signalled = None
        self.lock = threading.Lock()
        self.tees = []
        self.target = None       # the server a site's engine connects to
        self.done_at = None      # wall time of the engine's last "shutdown done" line

    # ---- output
    def say(self, message):
        self.write(("engine_supervisor: %s\n" % message).encode("utf-8"))

    def write(self, data):
        with self.lock:
            try:
                self.out.write(data)
                self.out.flush()
            except (IOError, OSError, ValueError):
                pass

    def _tee(self, pipe, log_path):
        """The engine's output to the kit's log file (appended) and to stdout, until every writer has closed it."""
        try:
            log = open(log_path, "ab", 0)
        except (IOError, OSError) as exc:
            self.say("cannot append to %s (%s): the engine's output goes to this log only" % (log_path, exc))
            log = None
        partial = b""
        try:
            while True:
                chunk = os.read(pipe.fileno(), 65536)
                if not chunk:
                    break
                if log is not None:
                    log.write(chunk)
                self.write(chunk)
                lines = (partial + chunk).split(b"\n")
                partial = lines.pop()[-4096:]
                if any(p.search(line) for line in lines for p in DONE_LINES):
                    self.done_at = time.time()
        finally:
            if log is not None:
                log.close()
            pipe.close()

    # ---- paths
    def marker(self, name):
        return os.path.join(self.kit["workspace"], name)

    def load(self):
        script = os.path.join(self.startup, KIT_SCRIPT)
        try:
            with open(script) as handle:
                text = handle.read()
        except (IOError, OSError) as exc:
            raise KitError("cannot read the kit's %s (%s): is the kit mounted at %s?"
                           % (script, exc.strerror or exc, os.path.dirname(self.startup)))
        self.kit = parse_kit(text, self.startup)
        self.target = server_target(self.kit["command"], self.startup)
        return self.kit

    def other_instance(self):
        """The pid of a supervisor of this kit that still runs (its daemon_pid.fl), else None."""
        pid = _read_pid(self.marker(DAEMON_PID_FILE))
        if pid is None or pid == os.getpid():
            return None
        try:
            with open(os.path.join(self.proc, str(pid), "cmdline"), "rb") as handle:
                words = handle.read().split(b"\0")
        except (IOError, OSError):
            return None
        # In a new container the pid of an earlier one names another process, or none.
        names = (FILE_NAME.encode(), KIT_SCRIPT.encode())
        return pid if any(os.path.basename(word) in names for word in words) else None

    # ---- the engine
    def engine_running(self):
        return self.engine_id is not None and self.exit_status is None and alive(self.engine_id, self.proc)

    def reap(self):
        """Collect every child that ended (the engine, and what it left behind when this is a subreaper)."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue
                return
            if pid == 0:
                return
            if self.engine is not None and pid == self.engine.pid:
                self.exit_status = status
                # Popen must not wait for it again.
                self.engine.returncode = (-os.WTERMSIG(status) if os.WIFSIGNALED(status)
                                          else os.WEXITSTATUS(status))

    def wait_for_server(self):
        """A site's engine starts once its server accepts connections; False when a signal came meanwhile."""
        said = False
        while self.target is not None and not listening(self.target):
            if not said:
                self.say("waiting for the FL server at %s:%d to accept connections before starting the engine (an "
                         "engine that tries to register earlier can stay unregistered)" % self.target)
                said = True
            if self.signalled is not None:
                return False
            self.reap()
            time.sleep(self.interval)
        return self.signalled is None

    def hold(self, until):
        """Wait until UNTIL (monotonic); False when a signal came meanwhile."""
        while self.clock() < until and self.signalled is None:
            self.reap()
            time.sleep(min(self.interval, max(0.0, until - self.clock())))
        return self.signalled is None

    def start(self, why):
        kit = self.kit
        env = engine_environment(kit["exports"], self.environ)
        self.engine = subprocess.Popen(kit["command"], cwd=self.startup, env=env, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                                       close_fds=True)
        found = _stat(self.engine.pid, self.proc)
        self.engine_id = (self.engine.pid, found[2] if found else 0)
        self.exit_status = None
        self.done_at = None
        self.known = set([self.engine_id])
        _write(self.marker(PID_FILE), "%d\n" % self.engine.pid)
        tee = threading.Thread(target=self._tee, args=(self.engine.stdout, kit["log_file"]))
        tee.daemon = True
        tee.start()
        self.tees = [t for t in self.tees if t.is_alive()] + [tee]
        self.say("started the engine (%s), pid %d" % (why, self.engine.pid))

    def remember(self):
        """Note the engine's processes now: those it started leave its tree when it ends."""
        if self.engine_running():
            self.known = set([self.engine_id]) | descendants(self.engine_id[0], self.proc)

    def _left(self):
        return set(p for p in self.known | descendants(os.getpid(), self.proc) if alive(p, self.proc))

    def _signal(self, idents, sig):
        for pid, started in idents:
            if alive((pid, started), self.proc):
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass

    def _wait(self, until, engine_only=False):
        """Wait until the engine (or all its processes) ended, or UNTIL; True when they did."""
        while True:
            self.reap()
            done = not self.engine_running() if engine_only else not self._left()
            if done or self.clock() >= until:
                return done
            time.sleep(0.1)

    def _done(self, asked):
        """True when the engine logged its shutdown as done, after ASKED (the marker's time), DONE_GRACE s ago."""
        done = self.done_at
        return asked is not None and done is not None and done >= asked - 1.0 and time.time() >= done + DONE_GRACE

    def stop(self, timeout, asked=None):
        """The engine has been asked to end (its marker written at wall time ASKED) or has ended: wait for it to end
        or to log its shutdown as done, then for the processes it started, at most TIMEOUT s in all; end what is
        left then. Returns the number of processes killed."""
        self.remember()
        until = self.clock() + timeout
        while self.engine_running() and self.clock() < until and not self._done(asked):
            self.reap()
            time.sleep(0.1)
        if self.engine_running():
            left = self._left()
            if self._done(asked):
                self.say("the engine logged that its shutdown is done but does not exit by itself: ending it")
                self._signal([self.engine_id], signal.SIGTERM)
                if not self._wait(self.clock() + KILL_WAIT, engine_only=True):
                    self._signal([self.engine_id], signal.SIGKILL)
                    self._wait(self.clock() + KILL_WAIT, engine_only=True)
            else:
                self.say("the engine did not end within %g s: killing it and %d process(es) it started"
                         % (timeout, len(left) - 1))
                self._signal(left, signal.SIGKILL)
                self._wait(self.clock() + KILL_WAIT)
                return len(left)
        left = self._left()
        if left:
            # What the engine started and left running (a site's training process, its own session).
            self._signal(left, signal.SIGTERM)
            if not self._wait(until):
                left = self._left()
                self.say("killing %d process(es) the engine left running" % len(left))
                self._signal(left, signal.SIGKILL)
                self._wait(self.clock() + KILL_WAIT)
                return len(left)
        self.reap()
        return 0

    def _asked(self, name):
        """The wall time the engine wrote marker NAME, or None when it is not there."""
        try:
            return os.stat(self.marker(name)).st_mtime
        except OSError:
            return None

    def exit_text(self):
        status = self.exit_status
        if status is None:
            return "ended"
        if os.WIFSIGNALED(status):
            return "was killed by signal %d" % os.WTERMSIG(status)
        return "exited with status %d" % os.WEXITSTATUS(status)

    def clear(self, names=MARKERS):
        for name in names:
            _remove(self.marker(name))

    # ---- the loop
    def _on_signal(self, signum, _frame):
        self.signalled = signum

    def run(self):
        """Supervise until a shutdown (0), the give-up rule (1), or a signal (0). KitError before anything starts."""
        kit = self.load()
        other = self.other_instance()
        if other is not None:
            self.say("another supervisor of this kit runs, pid %d (%s): not starting a second one"
                     % (other, self.marker(DAEMON_PID_FILE)))
            return 1
        for path in kit["mkdirs"]:
            if not os.path.isdir(path):
                os.makedirs(path)
        # Left by an earlier container: nothing of it runs here.
        self.clear()
        _write(self.marker(DAEMON_PID_FILE), "%d\n" % os.getpid())
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        subreaper = become_subreaper()
        self.say("kit %s, engine: %s%s" % (os.path.dirname(self.startup), " ".join(kit["command"]),
                                           "" if subreaper else " (no subreaper: orphans are followed by pid)"))
        if not self.wait_for_server():
            return self.terminate()
        self.rule.allow(self.clock())
        self.start("first start")
        while True:
            if self.signalled is not None:
                return self.terminate()
            self.reap()
            shutdown = self._asked(SHUTDOWN_FILE)
            restart = self._asked(RESTART_FILE)
            if shutdown is not None:
                self.say("shutdown asked (%s): stopping the engine" % SHUTDOWN_FILE)
                self.stop(self.stop_timeout, shutdown)
                self.clear()
                self.say("Gracefully shutdown.")
                return 0
            if restart is not None:
                self.say("restart asked (%s): stopping the engine" % RESTART_FILE)
                since = self.clock()
                self.stop(self.stop_timeout, restart)
                self.clear((PID_FILE, RESTART_FILE))
                if self.target is not None and not self.hold(since + self.stop_timeout):
                    return self.terminate()
                if not self.wait_for_server():
                    return self.terminate()
                self.start("restart asked")
            elif not self.engine_running():
                pid = self.engine_id[0]
                self.stop(self.stop_timeout)
                if not self.rule.allow(self.clock()):
                    self.say("the engine (pid %d) %s; it ended %d times, each within %g s of its previous start: "
                             "System is in trouble and unable to start the task!!!!! See %s."
                             % (pid, self.exit_text(), self.rule.limit, self.rule.window, self.kit["log_file"]))
                    self.clear()
                    return 1
                why = "the engine, pid %d, %s" % (pid, self.exit_text())
                if not self.wait_for_server():
                    return self.terminate()
                self.start(why)
            self.remember()
            time.sleep(self.interval)

    def terminate(self):
        """On SIGTERM (docker stop): end the engine and what it started, then this supervisor."""
        self.say("signal %d: stopping the engine" % self.signalled)
        self.remember()
        self._signal(self._left(), signal.SIGTERM)
        if not self._wait(self.clock() + TERM_WAIT):
            self._signal(self._left(), signal.SIGKILL)
            self._wait(self.clock() + KILL_WAIT)
        self.clear((PID_FILE, DAEMON_PID_FILE))
        return 0


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    options = {"interval": CHECK_INTERVAL, "stop_timeout": STOP_TIMEOUT}
    usage = "usage: %s [--interval S] [--stop-timeout S] KIT_DIR" % FILE_NAME
    while argv and argv[0].startswith("--"):
        name = argv.pop(0)
        key = name[2:].replace("-", "_")
        if key not in options or not argv:
            sys.stderr.write("%s\n" % usage)
            return 2
        try:
            options[key] = float(argv.pop(0))
        except ValueError:
            sys.stderr.write("%s: %s takes a number of seconds\n" % (usage, name))
            return 2
    if len(argv) != 1:
        sys.stderr.write("%s\n" % usage)
        return 2
    supervisor = Supervisor(argv[0], **options)
    try:
        return supervisor.run()
    except KitError as exc:
        supervisor.say(str(exc))
        return 2


if __name__ == "__main__":
    # The program's exit status (not an Ansible module: exit_json does not apply).
    raise SystemExit(main())
