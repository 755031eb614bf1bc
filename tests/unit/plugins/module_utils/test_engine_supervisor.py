# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine supervisor (module_utils/engine_supervisor.py): what it reads from a real kit's sub_start.sh, the kit's
give-up rule (checked against the kit's own bash), and the program itself run on a kit whose engine is a small
stand-in that writes the markers as the Clara 4.0 engine does. The real engine under it: tests/engine."""

from __future__ import absolute_import, division, print_function

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from ansible_collections.clarafl.federation.plugins.module_utils import engine_supervisor as es

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "fixtures",
                        "kits")


def _fixture(name):
    with open(os.path.join(FIXTURES, name)) as fh:
        return fh.read()


# --------------------------------------------------------------------------- what the kit says

def test_the_server_kit_command_is_read_from_its_script():
    kit = es.parse_kit(_fixture("server-sub_start.sh"), "/workspace/server/startup")
    assert kit["command"] == ["python3", "-u", "-m", "nvflare.private.fed.app.server.server_train", "-m",
                              "/workspace/server/startup/..", "-s", "fed_server.json", "--set", "secure_train=true",
                              "config_folder=config"]
    assert kit["exports"] == [("CUDA_VISIBLE_DEVICES", "")]
    assert kit["pid_file"] == "/workspace/server/pid.fl"
    assert kit["log_file"] == "/workspace/server/log.txt"
    assert kit["workspace"] == "/workspace/server"
    assert kit["mkdirs"] == ["/workspace/server/transfer"]


def test_the_site_kit_command_is_read_from_its_script():
    kit = es.parse_kit(_fixture("client-sub_start.sh"), "/workspace/site/startup")
    assert kit["command"] == ["python3", "-u", "-m", "nvflare.private.fed.app.client.client_train", "-m",
                              "/workspace/site/startup/..", "-s", "fed_client.json", "--set", "secure_train=true",
                              "multi_gpu=false", "uid=org1-a", "config_folder=config"]
    # The commented "# export CUDA_VISIBLE_DEVICES=" is not one.
    assert kit["exports"] == [("PYTHONPATH", "/local/custom:$PYTHONPATH")]
    assert kit["pid_file"] == "/workspace/site/pid.fl" and kit["log_file"] == "/workspace/site/log.txt"


def test_the_kit_environment_reads_its_exports_as_the_shell():
    exports = [("PYTHONPATH", "/local/custom:$PYTHONPATH"), ("CUDA_VISIBLE_DEVICES", ""), ("B", "${A}x")]
    assert es.engine_environment(exports, {"A": "1"}) == {"A": "1", "PYTHONPATH": "/local/custom:",
                                                          "CUDA_VISIBLE_DEVICES": "", "B": "1x"}
    assert es.engine_environment(exports[:1], {"PYTHONPATH": "/x"})["PYTHONPATH"] == "/local/custom:/x"


@pytest.mark.parametrize("text, words", [
    ("#!/bin/bash\nwhile true; do sleep 10; done\n", "no engine start line"),
    ("((python3 -m x --home $HOME 2>&1 & echo $! >&3 ) 3>$DIR/../pid.fl | tee -a $DIR/../log.txt &)\n",
     "$HOME is not the kit's $DIR"),
    ("((python3 -m x 2>&1 & echo $! >&3 ) 3>$DIR/../engine.pid | tee -a $DIR/../log.txt &)\n", "not to a pid.fl"),
    ("((python3 -m 'x 2>&1 & echo $! >&3 ) 3>$DIR/../pid.fl | tee -a $DIR/../log.txt &)\n", "cannot be split"),
])
def test_a_script_it_cannot_read_is_one_sentence_naming_the_kit_s_own_loop(text, words):
    with pytest.raises(es.KitError) as err:
        es.parse_kit(text, "/k/startup")
    assert words in str(err.value) and "/k/startup/sub_start.sh" in str(err.value)


def test_a_site_s_server_comes_from_the_configuration_its_command_names(tmp_path):
    startup = tmp_path / "startup"
    startup.mkdir()
    (startup / "fed_client.json").write_text(_fixture("client-fed_client.json"))
    (startup / "fed_server.json").write_text(u'{"servers": [{"service": {"target": "localhost:8002"}}]}')
    assert es.server_target(["python3", "-s", "fed_client.json"], str(startup)) == ("localhost", 8002)
    assert es.server_target(["python3", "-s", "fed_server.json"], str(startup)) is None
    assert es.server_target(["python3", "-s", "missing.json"], str(startup)) is None
    assert es.server_target(["python3"], str(startup)) is None


# --------------------------------------------------------------------------- the give-up rule

def _rule(times):
    rule = es.GiveUpRule()
    return [rule.allow(t) for t in times]


def test_the_fifth_start_in_a_row_within_300_s_of_the_one_before_is_refused():
    assert _rule([0, 10, 20, 30, 40, 50]) == [True] * 5 + [False]
    # A start 300 s or more after the one before counts from zero again.
    assert _rule([0, 10, 20, 30, 40, 340, 350, 360, 370, 380, 390]) == [True] * 10 + [False]
    assert _rule([0, 299, 598, 897, 1196, 1495]) == [True] * 5 + [False]


def _kit_decisions(times):
    """The kit's own start_fl counting (its sub_start.sh lines), run by bash with SECONDS set to each time."""
    lines = _fixture("client-sub_start.sh").splitlines()
    first = next(i for i, line in enumerate(lines) if "$(( $SECONDS - $lst )) -lt 300" in line)
    last = next(i for i, line in enumerate(lines) if line.strip() == "lst=$SECONDS")
    body = []
    for line in lines[first:last + 1]:
        if line.strip() == "exit":
            line = "    echo refuse; return"
        elif "System is in trouble" in line or line.strip().startswith("rm -f"):
            continue
        body.append(line)
    script = "lst=-400\nrestart_count=0\ndecide() {\n%s\n  echo allow\n}\n" % "\n".join(body)
    script += "".join("SECONDS=%d; decide\n" % t for t in times)
    out = subprocess.run(["bash", "-c", script], stdout=subprocess.PIPE, check=True, universal_newlines=True).stdout
    return [word == "allow" for word in out.split()]


@pytest.mark.parametrize("times", [
    [0, 10, 20, 30, 40, 50],
    [0, 10, 20, 30, 40, 340, 350, 360, 370, 380, 390],
    [0, 100, 250, 299, 700, 710, 720, 730, 740, 1100],
    [0, 5, 400, 405, 410, 415, 420, 425],
])
def test_the_rule_decides_as_the_kit_s_bash(times):
    kit = _kit_decisions(times)
    # The kit's script ends at its first refusal.
    upto = kit.index(False) + 1 if False in kit else len(kit)
    assert _rule(times)[:upto] == kit[:upto]


# --------------------------------------------------------------------------- the program, on a stand-in engine

# Writes the markers as the Clara 4.0 engine does when it is told to (a file "ask" in its workspace): restart.fl
# or shutdown.fl, then its last log line, then it hangs (the real engine never exits by itself afterwards).
FAKE_ENGINE = r'''
import os, subprocess, sys, time
ws = os.path.normpath(sys.argv[sys.argv.index("-m") + 1])
print("fake engine %d started, PYTHONPATH=%s" % (os.getpid(), os.environ.get("PYTHONPATH")), flush=True)
for name in ("restart.fl", "shutdown.fl"):  # as the engine does at its start
    if os.path.exists(os.path.join(ws, name)):
        os.remove(os.path.join(ws, name))
if os.path.exists(os.path.join(ws, "crash")):
    sys.exit(3)
if os.path.exists(os.path.join(ws, "spawn")):  # a training process in a session of its own, as a site starts one
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
    with open(os.path.join(ws, "child.pid"), "w") as fh:
        fh.write(str(child.pid))
while True:
    ask = os.path.join(ws, "ask")
    if os.path.exists(ask):
        with open(ask) as fh:
            what = fh.read().strip()
        os.remove(ask)
        marker = "restart.fl" if what.startswith("restart") else "shutdown.fl"
        if what == "crash":
            sys.exit(3)
        open(os.path.join(ws, marker), "a").close()
        if what == "shutdown-exit":
            sys.exit(0)
        time.sleep(0.3)
        if not what.endswith("hang"):
            print("2026-12-07 10:00:00,000 - FederatedClient - INFO - Shutting down client", flush=True)
        while True:
            time.sleep(1)
    time.sleep(0.05)
'''


def make_kit(tmp_path, site_port=None):
    """A kit whose sub_start.sh is a real kit's with the engine command replaced by the stand-in."""
    kit = tmp_path / "kit"
    startup = kit / "startup"
    startup.mkdir(parents=True)
    (startup / "fake_engine.py").write_text(FAKE_ENGINE)
    text = _fixture("client-sub_start.sh")
    real = "python3 -u -m nvflare.private.fed.app.client.client_train -m $DIR/.. -s fed_client.json"
    assert real in text
    (startup / "sub_start.sh").write_text(text.replace(real, "%s -u $DIR/fake_engine.py -m $DIR/.. -s fed_client.json"
                                                       % sys.executable))
    config = '{"servers": [{"service": {"target": "127.0.0.1:%d"}}], "client": {}}' % site_port if site_port else "{}"
    (startup / "fed_client.json").write_text(config)
    return kit


class Run(object):
    """engine_supervisor.py run as the container runs it, with short intervals."""

    def __init__(self, kit, stop_timeout=2.0):
        self.kit = kit
        self.out = open(str(kit / "container.log"), "wb")
        env = dict(os.environ, PYTHONPATH="/somewhere")
        self.proc = subprocess.Popen([sys.executable, es.__file__, "--interval", "0.1", "--stop-timeout",
                                      str(stop_timeout), str(kit)], stdout=self.out, stderr=subprocess.STDOUT, env=env)

    def path(self, name):
        return str(self.kit / name)

    def read(self, name):
        try:
            with open(self.path(name)) as fh:
                return fh.read()
        except (IOError, OSError):
            return None

    def pid(self):
        text = self.read("pid.fl")
        return int(text) if text and text.strip() else None

    def output(self):
        return self.read("container.log") or ""

    def ask(self, what):
        with open(self.path("ask"), "w") as fh:
            fh.write(what)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.out.close()


@pytest.fixture
def run(tmp_path):
    runs = []

    def start(kit=None, **kw):
        runs.append(Run(kit or make_kit(tmp_path), **kw))
        return runs[-1]
    yield start
    for item in runs:
        item.close()


def wait_for(what, check, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail("not within %g s: %s" % (timeout, what))
    return None


def running(pid):
    try:
        with open("/proc/%d/stat" % pid) as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (IOError, OSError):
        return False


def test_it_starts_the_engine_at_once_and_tees_its_output(run):
    started = time.time()
    sup = run()
    pid = wait_for("pid.fl", sup.pid, 5)
    assert time.time() - started < 3
    assert int(sup.read("daemon_pid.fl")) == sup.proc.pid
    wait_for("the engine's output in log.txt", lambda: "fake engine %d started" % pid in (sup.read("log.txt") or ""))
    # The kit's export PYTHONPATH=/local/custom:$PYTHONPATH, and the same lines on the container's output.
    assert "PYTHONPATH=/local/custom:/somewhere" in sup.read("log.txt")
    wait_for("the output copied", lambda: "fake engine %d started" % pid in sup.output())
    assert os.path.isdir(sup.path("transfer"))


def test_a_restart_ends_the_engine_once_it_says_it_is_done_and_starts_another(run):
    sup = run(stop_timeout=30)
    first = wait_for("pid.fl", sup.pid)
    asked = time.time()
    sup.ask("restart")
    second = wait_for("a new engine", lambda: sup.pid() not in (None, first), 30)
    # Its done line came 0.3 s after the marker; one second later it was ended, not at the 30 s limit (a busy
    # machine may add seconds, never that many).
    assert time.time() - asked < 20, sup.output()
    assert not running(first) and running(second)
    assert not os.path.exists(sup.path("restart.fl"))
    assert "does not exit by itself: ending it" in sup.output()
    wait_for("both engines' output in log.txt", lambda: sup.read("log.txt").count("fake engine") == 2)


def test_a_shutdown_ends_the_supervisor_and_its_markers(run):
    sup = run()
    pid = wait_for("pid.fl", sup.pid)
    sup.ask("shutdown-exit")
    assert sup.proc.wait(timeout=10) == 0
    assert not running(pid)
    assert [m for m in es.MARKERS if os.path.exists(sup.path(m))] == []
    assert "Gracefully shutdown." in sup.output()


def test_an_engine_that_neither_ends_nor_says_it_is_done_is_killed_at_the_limit(run):
    sup = run(stop_timeout=2)
    pid = wait_for("pid.fl", sup.pid)
    asked = time.time()
    sup.ask("shutdown-hang")
    assert sup.proc.wait(timeout=30) == 0
    assert time.time() - asked >= 2
    assert not running(pid)
    assert "did not end within 2 s: killing it" in sup.output()


def test_the_processes_the_engine_leaves_are_ended_before_it_starts_again(run, tmp_path):
    kit = make_kit(tmp_path)
    (kit / "spawn").write_text(u"")
    sup = run(kit)
    first = wait_for("pid.fl", sup.pid)
    child = int(wait_for("the training process", lambda: sup.read("child.pid")))
    assert running(child)
    (kit / "spawn").unlink()
    sup.ask("crash")
    wait_for("a new engine", lambda: sup.pid() not in (None, first))
    # The kit's rkill does not exist: its site processes outlive it. Here they do not.
    wait_for("the old training process ended", lambda: not running(child), 5)
    # said once the new engine runs (its pid.fl is written first)
    wait_for("why it started again", lambda: "exited with status 3" in sup.output())


def test_it_gives_up_after_the_kit_s_fifth_quick_restart(run, tmp_path):
    kit = make_kit(tmp_path)
    (kit / "crash").write_text(u"")
    sup = run(kit)
    assert sup.proc.wait(timeout=20) == 1
    assert sup.read("log.txt").count("fake engine") == 5
    assert "System is in trouble and unable to start the task" in sup.output()
    assert [m for m in es.MARKERS if os.path.exists(sup.path(m))] == []


def test_a_restart_asked_by_the_console_does_not_count_towards_giving_up(run):
    sup = run(stop_timeout=1)
    pids = [wait_for("pid.fl", sup.pid)]
    for _ in range(6):
        sup.ask("restart")
        # Each restart waits for the old engine (up to stop_timeout) and starts the new one: on a busy machine that
        # can take a few seconds; what matters is that the sixth still restarts.
        pids.append(wait_for("a new engine", lambda: sup.pid() not in [None] + pids, 30))
    assert sup.proc.poll() is None


def test_a_site_waits_for_its_server_and_holds_a_restart(run, tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    try:
        sup = run(make_kit(tmp_path, site_port=port), stop_timeout=2)
        wait_for("the wait said", lambda: "waiting for the FL server at 127.0.0.1:%d" % port in sup.output())
        time.sleep(0.5)
        assert sup.pid() is None
        listener.listen(5)
        first = wait_for("the engine once the server listens", sup.pid)
        asked = time.time()
        sup.ask("restart")
        wait_for("a new engine", lambda: sup.pid() not in (None, first), 10)
        # Not before the stop's limit: `restart server` restarts the sites 5 s before the server itself.
        assert time.time() - asked >= 2
    finally:
        listener.close()


def test_markers_an_earlier_container_left_are_cleared(run, tmp_path):
    kit = make_kit(tmp_path)
    # A pid from another pid namespace may name any process here: this one is no supervisor.
    (kit / "daemon_pid.fl").write_text(u"%d\n" % os.getpid())
    (kit / "shutdown.fl").write_text(u"")
    (kit / "pid.fl").write_text(u"1\n")
    sup = run(kit)
    wait_for("a new engine", lambda: sup.pid() not in (None, 1))
    assert int(sup.read("daemon_pid.fl")) == sup.proc.pid and sup.proc.poll() is None


def test_a_second_supervisor_of_the_same_kit_does_not_start(run, tmp_path):
    kit = make_kit(tmp_path)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "/opt/x/engine_supervisor.py"])
    try:
        (kit / "daemon_pid.fl").write_text(u"%d\n" % other.pid)
        sup = run(kit)
        assert sup.proc.wait(timeout=10) == 1
        assert "another supervisor of this kit runs, pid %d" % other.pid in sup.output()
        assert sup.read("pid.fl") is None
    finally:
        other.kill()
        other.wait()


def test_sigterm_ends_the_engine_then_the_supervisor(run):
    sup = run()
    pid = wait_for("pid.fl", sup.pid)
    sup.proc.send_signal(signal.SIGTERM)
    assert sup.proc.wait(timeout=10) == 0
    assert not running(pid)
    assert sup.read("pid.fl") is None and sup.read("daemon_pid.fl") is None


def test_a_kit_it_cannot_read_stops_it_with_a_sentence(tmp_path):
    (tmp_path / "startup").mkdir()
    proc = subprocess.run([sys.executable, es.__file__, str(tmp_path)], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=30, check=False)
    assert proc.returncode == 2
    assert "cannot read the kit's %s/startup/sub_start.sh" % tmp_path in proc.stdout
    assert "Traceback" not in proc.stdout


def test_usage(tmp_path):
    proc = subprocess.run([sys.executable, es.__file__, "--interval", "x", str(tmp_path)], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=30, check=False)
    assert proc.returncode == 2 and "takes a number of seconds" in proc.stdout
