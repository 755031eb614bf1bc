# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of the project's run lock (a real lock file, racing processes, a fake /proc)."""

from __future__ import absolute_import, division, print_function

import json
import os
import stat
import subprocess
import sys
import time

import pytest

from ansible_collections.clarafl.federation.plugins.module_utils import run_lock as rl


def _holder(token, pid=4242, controller="ctl-1"):
    return {"token": token, "controller": controller, "pid": pid, "user": "root", "playbook": "site.yml",
            "started": "2026-11-30T02:10:00Z"}


def _plain(holder):
    """A holder without what the lock file keeps beside it (heartbeat, expiry, folders it made)."""
    return dict((k, v) for k, v in holder.items() if k not in ("heartbeat", "expires_after", "made_dirs"))


def _norm(result):
    """A result with its holders as plain holders."""
    return dict((k, _plain(v) if k in ("holder", "stolen_from") and isinstance(v, dict) else v)
                for k, v in result.items())


OURS = _holder("a" * 32)
THEIRS = _holder("3f9a" + "0" * 28, pid=777, controller="ctl-2")


def _mode(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


def test_acquire_a_free_lock(tmp_path):
    path = tmp_path / "lock"
    result = rl.acquire(str(path), OURS)
    assert _norm(result) == {"acquired": True, "changed": True, "holder": None, "held_by_other": False,
                      "stolen_from": None, "expired": False}
    assert _plain(json.loads(path.read_text())) == OURS
    assert _plain(rl.read(str(path))) == OURS
    assert _mode(path) == 0o600


def test_parent_folders_are_created_0700(tmp_path):
    path = tmp_path / "a" / "b" / "lock"
    old = os.umask(0o022)
    try:
        assert rl.acquire(str(path), OURS)["acquired"] is True
    finally:
        os.umask(old)
    assert _mode(path) == 0o600
    assert _mode(tmp_path / "a") == 0o700 and _mode(tmp_path / "a" / "b") == 0o700


def test_an_existing_parent_folder_is_left_alone(tmp_path):
    os.chmod(str(tmp_path), 0o755)
    rl.acquire(str(tmp_path / "lock"), OURS)
    assert _mode(tmp_path) == 0o755


def test_modes_despite_a_strict_umask(tmp_path):
    path = tmp_path / "d" / "lock"
    old = os.umask(0o277)
    try:
        rl.acquire(str(path), OURS)
    finally:
        os.umask(old)
    assert _mode(path) == 0o600 and _mode(tmp_path / "d") == 0o700


def test_acquire_again_with_the_same_token_changes_nothing(tmp_path):
    path = str(tmp_path / "lock")
    rl.acquire(path, OURS)
    before = os.stat(path)
    again = dict(OURS, pid=1, started="2026-12-01T00:00:00Z")  # the token alone makes the lock ours
    result = rl.acquire(path, again)
    assert _norm(result) == {"acquired": True, "changed": False, "holder": OURS, "held_by_other": False,
                      "stolen_from": None, "expired": False}
    after = os.stat(path)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert _plain(rl.read(path)) == OURS


def test_a_lock_of_another_run_is_refused_naming_it(tmp_path):
    path = str(tmp_path / "lock")
    rl.acquire(path, THEIRS)
    result = rl.acquire(path, OURS)
    assert _norm(result) == {"acquired": False, "changed": False, "holder": THEIRS, "held_by_other": True,
                      "stolen_from": None, "expired": False}
    assert _plain(rl.read(path)) == THEIRS
    assert rl.describe(result["holder"]).startswith(
        u"run 3f9a\u2026 by root on ctl-2 (ansible-playbook pid 777, playbook site.yml) since 2026-11-30T02:10:00Z "
        u"(last heartbeat ")


def test_steal_replaces_the_other_runs_lock(tmp_path):
    path = str(tmp_path / "lock")
    rl.acquire(path, THEIRS)
    result = rl.acquire(path, OURS, steal=True)
    assert _norm(result) == {"acquired": True, "changed": True, "holder": THEIRS, "held_by_other": True,
                      "stolen_from": THEIRS, "expired": False}
    assert _plain(rl.read(path)) == OURS and _mode(path) == 0o600
    assert sorted(os.listdir(str(tmp_path))) == ["lock"]  # no temporary file left


def test_steal_of_a_free_or_own_lock_is_a_plain_acquire(tmp_path):
    path = str(tmp_path / "lock")
    assert rl.acquire(path, OURS, steal=True)["stolen_from"] is None
    assert _norm(rl.acquire(path, OURS, steal=True)) == {"acquired": True, "changed": False, "holder": OURS,
                                                  "held_by_other": False, "stolen_from": None, "expired": False}


@pytest.mark.parametrize("content", [b"", b"{\"token\": \"abc", b"\xff\xfe garbage", b"[1, 2]", b"{}",
                                     b"{\"token\": \"\"}"])
def test_a_garbled_lock_is_held_by_unknown(tmp_path, content):
    path = tmp_path / "lock"
    path.write_bytes(content)
    holder = rl.read(str(path), settle=0)
    assert holder["unreadable"] is True and holder["user"] == "unknown" and holder["token"] is None
    assert rl.describe(holder) == "an unknown run (the lock file is empty or cannot be parsed)"
    result = rl.acquire(str(path), OURS, settle=0)
    assert result["acquired"] is False and result["held_by_other"] is True and result["holder"]["unreadable"]
    assert path.read_bytes() == content
    assert rl.release(str(path), OURS["token"], settle=0)["released"] is False
    assert path.read_bytes() == content
    result = rl.acquire(str(path), OURS, steal=True, settle=0)
    assert result["acquired"] is True and result["stolen_from"]["unreadable"] is True
    assert _plain(rl.read(str(path))) == OURS


def test_a_lock_being_written_is_read_again(tmp_path):
    path = tmp_path / "lock"
    path.write_bytes(b"")
    naps = []

    def sleep(seconds):
        naps.append(seconds)
        if len(naps) == 3:  # the other run has written its holder meanwhile
            path.write_text(json.dumps(THEIRS))

    assert rl.read(str(path), sleep=sleep) == THEIRS and len(naps) == 3


def test_read_without_a_lock(tmp_path):
    assert rl.read(str(tmp_path / "lock")) is None


def test_an_unreadable_lock_raises(tmp_path):
    (tmp_path / "lock").mkdir()  # a folder in the way
    with pytest.raises(rl.RunLockError, match="cannot read the run lock"):
        rl.read(str(tmp_path / "lock"))


def test_a_holder_needs_a_token(tmp_path):
    with pytest.raises(ValueError):
        rl.acquire(str(tmp_path / "lock"), dict(OURS, token=""))
    assert not os.path.exists(str(tmp_path / "lock"))


def test_release_by_the_owner(tmp_path):
    path = str(tmp_path / "lock")
    rl.acquire(path, OURS)
    assert _norm(rl.release(path, OURS["token"])) == {"released": True, "changed": True, "holder": OURS,
                                               "held_by_other": False}
    assert not os.path.exists(path)
    assert _norm(rl.release(path, OURS["token"])) == {"released": False, "changed": False, "holder": None,
                                               "held_by_other": False}


def test_release_by_another_run_leaves_the_lock(tmp_path):
    path = str(tmp_path / "lock")
    rl.acquire(path, THEIRS)
    assert _norm(rl.release(path, OURS["token"])) == {"released": False, "changed": False, "holder": THEIRS,
                                               "held_by_other": True}
    assert _plain(rl.read(path)) == THEIRS


def test_check_reads_only(tmp_path):
    path = str(tmp_path / "sub" / "lock")
    assert _norm(rl.check(path, OURS)) == {"acquired": True, "changed": True, "holder": None, "held_by_other": False,
                                    "stolen_from": None, "expired": False}
    assert not os.path.exists(os.path.dirname(path))
    rl.acquire(path, THEIRS)
    assert rl.check(path, OURS)["held_by_other"] is True and rl.check(path, OURS)["acquired"] is False
    assert _plain(rl.check(path, OURS, steal=True)["stolen_from"]) == THEIRS
    assert _norm(rl.check(path, THEIRS)) == {"acquired": True, "changed": False, "holder": THEIRS,
                                      "held_by_other": False, "stolen_from": None, "expired": False}
    assert _plain(rl.read(path)) == THEIRS


def _race(path, count):
    """Fork count processes that acquire path at the same moment; return the tokens that got it."""
    go_r, go_w = os.pipe()
    out_r, out_w = os.pipe()
    children = []
    for i in range(count):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 1
            try:
                os.close(go_w)
                os.read(go_r, 1)  # wait for the start
                result = rl.acquire(path, _holder("%032x" % (i + 1), pid=os.getpid()))
                os.write(out_w, ("%d %d\n" % (i + 1, 1 if result["acquired"] else 0)).encode())
                code = 0
            finally:
                os._exit(code)
        children.append(pid)
    os.close(go_r)
    os.close(out_w)
    time.sleep(0.2)
    os.write(go_w, b"x" * count)  # everyone starts at once
    os.close(go_w)
    for pid in children:
        _pid, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    lines = b""
    while True:
        chunk = os.read(out_r, 4096)
        if not chunk:
            break
        lines += chunk
    os.close(out_r)
    rows = [line.split() for line in lines.decode().splitlines()]
    assert len(rows) == count
    return ["%032x" % int(i) for i, won in rows if won == "1"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize("attempt", range(5))
def test_of_racing_runs_exactly_one_wins(tmp_path, attempt):
    path = str(tmp_path / "locks" / "lock")
    winners = _race(path, 8)
    assert len(winners) == 1
    assert rl.read(path)["token"] == winners[0]


def test_describe():
    assert rl.describe(OURS) == (
        u"run aaaa\u2026 by root on ctl-1 (ansible-playbook pid 4242, playbook site.yml) since 2026-11-30T02:10:00Z")
    assert rl.describe({"token": "ab"}) == "run ab"
    assert rl.describe({"token": "abcdef", "user": "u", "pid": 5}) == u"run abcd\u2026 by u (ansible-playbook pid 5)"
    assert rl.describe(None) == "no run"


# --- this controller's run: a fake /proc --------------------------------------------------------

def fake_proc(tmp_path, procs):
    """procs: {pid: (ppid, cmdline)}; cmdline None leaves the cmdline file out."""
    root = tmp_path / "proc"
    root.mkdir()
    for pid, (ppid, cmdline) in procs.items():
        d = root / str(pid)
        d.mkdir()
        comm = "python3" if cmdline else "x"
        (d / "stat").write_text("%d (%s) S %d 1 1 0 -1\n" % (pid, comm + " (a) b", ppid))
        if cmdline is not None:
            (d / "cmdline").write_bytes(cmdline.replace(" ", "\0").encode() + b"\0" if cmdline else b"")
    return str(root)


PLAYBOOK = "/work/.venv/bin/python3 /work/.venv/bin/ansible-playbook site.yml -i inventories/local"


def test_playbook_pid_is_the_topmost_ansible_playbook_ancestor(tmp_path):
    root = fake_proc(tmp_path, {
        1: (0, "/sbin/init"),
        100: (1, "sshd: root@pts/0"),
        200: (100, "-bash"),
        300: (200, PLAYBOOK),  # the main process
        310: (300, PLAYBOOK),  # a worker: a fork, same command line
        320: (310, PLAYBOOK),  # a fork of the worker (a lookup's subprocess)
    })
    assert rl.playbook_pid(root, start=320) == 300
    assert rl.playbook_pid(root, start=310) == 300
    assert rl.playbook_pid(root, start=300) == 300


def test_playbook_pid_of_the_cli_run_as_a_python_module(tmp_path):
    cli = "/usr/bin/python3 -m ansible.cli.playbook site.yml"
    root = fake_proc(tmp_path, {1: (0, "/sbin/init"), 20: (1, "bash"), 30: (20, cli), 31: (30, cli)})
    assert rl.playbook_pid(root, start=31) == 30


def test_playbook_pid_falls_back(tmp_path):
    root = fake_proc(tmp_path, {1: (0, "/sbin/init"), 50: (1, "python3 -m pytest")})
    assert rl.playbook_pid(root, start=50, fallback=49) == 49
    assert rl.playbook_pid(str(tmp_path / "no-proc"), start=50, fallback=48) == 48
    assert rl.playbook_pid(str(tmp_path / "no-proc"), start=50) == os.getppid()


def test_playbook_pid_survives_a_parent_loop(tmp_path):
    root = fake_proc(tmp_path, {7: (8, PLAYBOOK), 8: (7, "bash")})
    assert rl.playbook_pid(root, start=7) == 7


def test_parent_of_a_command_name_with_parentheses(tmp_path):
    root = fake_proc(tmp_path, {12: (34, "x")})
    assert rl.parent_of(12, root) == 34
    assert rl.parent_of(99, root) is None


def test_new_holder():
    holder = rl.new_holder("/srv/fl/site.yml", token="t" * 32, controller="ctl-1", pid=300, user="root",
                           now=1796004600)
    assert holder == {"token": "t" * 32, "controller": "ctl-1", "pid": 300, "user": "root", "playbook": "site.yml",
                      "started": "2026-11-30T02:10:00Z"}


def test_run_holder_filter():
    import socket

    from ansible_collections.clarafl.federation.plugins.filter.run_lock import FilterModule, run_holder

    assert sorted(FilterModule().filters()) == ["run_holder", "run_lock_stale"]
    first, second = run_holder("playbooks/site.yml"), run_holder("site.yml")
    assert first["token"] != second["token"] and len(first["token"]) == 32
    assert first["controller"] == socket.gethostname() and first["playbook"] == "site.yml"
    assert isinstance(first["pid"], int) and first["user"]
    assert time.strptime(first["started"], "%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("pid,controller,stale", [
    (300, "ctl-1", False),  # alive, still ansible-playbook
    (301, "ctl-1", True),   # gone
    (302, "ctl-1", True),   # the pid now runs something else
    (303, "ctl-1", True),   # a zombie (empty command line)
    (301, "ctl-2", False),  # another controller: cannot know
    (304, "ctl-1", False),  # exists but its command line cannot be read: cannot tell
    (None, "ctl-1", False),
    ("300", "ctl-1", False),
    ("301", "ctl-1", True),
    ("x", "ctl-1", False),
])
def test_holder_stale(tmp_path, pid, controller, stale):
    root = fake_proc(tmp_path, {300: (1, PLAYBOOK), 302: (1, "sleep 100"), 303: (1, ""), 304: (1, None)})
    holder = _holder("b" * 32, pid=pid, controller=controller)
    assert rl.holder_stale(holder, "ctl-1", proc_root=root) is stale


def test_holder_stale_hidden_process_and_no_proc(tmp_path):
    root = fake_proc(tmp_path, {})
    holder = _holder("b" * 32, pid=301, controller="ctl-1")
    assert rl.holder_stale(holder, "ctl-1", proc_root=root, exists=lambda pid: True) is False  # hidepid
    assert rl.holder_stale(holder, "ctl-1", proc_root=root, exists=lambda pid: False) is True
    no_proc = str(tmp_path / "none")
    assert rl.holder_stale(holder, "ctl-1", proc_root=no_proc) is False
    assert rl.holder_stale(holder, "ctl-1", proc_root=no_proc, exists=lambda pid: False) is True
    assert rl.holder_stale(rl.unknown_holder(), "unknown", proc_root=root) is False
    assert rl.holder_stale(None, "ctl-1", proc_root=root) is False


def test_run_lock_stale_filter_on_real_processes():
    import socket

    from ansible_collections.clarafl.federation.plugins.filter.run_lock import run_lock_stale

    if not os.path.isdir("/proc/self"):
        pytest.skip("needs /proc")
    here = socket.gethostname()
    # A live process that is not ansible-playbook: stale. One that is (by its command line): not stale.
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "ansible-playbook"])
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert run_lock_stale(_holder("c" * 32, pid=proc.pid, controller=here)) is False
        assert run_lock_stale(_holder("c" * 32, pid=other.pid, controller=here)) is True
        assert run_lock_stale(_holder("c" * 32, pid=proc.pid, controller=here + "-elsewhere")) is False
    finally:
        for p in (proc, other):
            p.kill()
            p.wait()
    assert run_lock_stale(_holder("c" * 32, pid=proc.pid, controller=here)) is True  # gone now
    assert run_lock_stale(None) is False


# --- expiry, heartbeat, folders ------------------------------------------------------------------

T0 = 1796000000  # a fixed "now"


def test_a_lock_records_its_heartbeat_and_expiry(tmp_path):
    path = str(tmp_path / "lock")
    rl.acquire(path, OURS, expiry=600, now=T0)
    stored = rl.read(path)
    assert stored["heartbeat"] == rl.utc_now(T0) and stored["expires_after"] == 600
    assert rl.expires_at(stored) == T0 + 600


def test_another_controllers_lock_expires_without_heartbeats(tmp_path):
    path = str(tmp_path / "lock")
    rl.acquire(path, THEIRS, expiry=600, now=T0)
    assert rl.acquire(path, OURS, now=T0 + 599)["acquired"] is False
    assert rl.check(path, OURS, now=T0 + 599)["acquired"] is False
    assert rl.check(path, OURS, now=T0 + 600)["expired"] is True
    result = rl.acquire(path, OURS, now=T0 + 600)
    assert result["acquired"] is True and result["expired"] is True and _plain(result["stolen_from"]) == THEIRS
    assert _plain(rl.read(path)) == OURS


def test_a_heartbeat_keeps_the_lock(tmp_path):
    path = str(tmp_path / "lock")
    rl.acquire(path, THEIRS, expiry=600, now=T0)
    assert rl.heartbeat(path, THEIRS, now=T0 + 500)["refreshed"] is True
    assert rl.read(path)["heartbeat"] == rl.utc_now(T0 + 500) and rl.read(path)["expires_after"] == 600
    assert rl.acquire(path, OURS, now=T0 + 1000)["acquired"] is False
    assert rl.acquire(path, OURS, now=T0 + 1100)["acquired"] is True


def test_a_heartbeat_of_a_run_that_lost_its_lock_writes_nothing(tmp_path):
    path = str(tmp_path / "lock")
    assert rl.heartbeat(path, OURS) == {"refreshed": False, "holder": None}
    rl.acquire(path, THEIRS)
    before = open(path, "rb").read()
    result = rl.heartbeat(path, OURS)
    assert result["refreshed"] is False and _plain(result["holder"]) == THEIRS
    assert open(path, "rb").read() == before


def test_a_lock_of_this_controller_never_expires_by_the_clock(tmp_path):
    # Its ansible-playbook pid tells whether it is over (holder_stale), never the time.
    path = str(tmp_path / "lock")
    rl.acquire(path, _holder("b" * 32, pid=999, controller="ctl-1"), expiry=1, now=T0)
    assert rl.acquire(path, OURS, now=T0 + 10 ** 6)["acquired"] is False


def test_an_expiry_of_zero_never_expires(tmp_path):
    path = str(tmp_path / "lock")
    rl.acquire(path, THEIRS, expiry=0, now=T0)
    assert rl.expires_at(rl.read(path)) is None
    assert rl.acquire(path, OURS, now=T0 + 10 ** 7)["acquired"] is False


def test_a_lock_without_expiry_from_an_earlier_version_never_expires(tmp_path):
    path = tmp_path / "lock"
    path.write_text(json.dumps(THEIRS))
    assert rl.acquire(str(path), OURS, now=T0 + 10 ** 9)["acquired"] is False


def test_release_removes_the_folders_the_lock_made_when_empty(tmp_path):
    path = str(tmp_path / "var" / "project" / "run.lock")
    rl.acquire(path, OURS)
    assert sorted(rl.read(path)["made_dirs"]) == [str(tmp_path / "var"), str(tmp_path / "var" / "project")]
    assert rl.release(path, OURS["token"])["released"] is True
    assert os.listdir(str(tmp_path)) == []


def test_release_keeps_a_made_folder_that_holds_more(tmp_path):
    path = str(tmp_path / "project" / "run.lock")
    rl.acquire(path, OURS)
    (tmp_path / "project" / "provisioning").mkdir()
    rl.release(path, OURS["token"])
    assert os.listdir(str(tmp_path / "project")) == ["provisioning"]


def test_a_taken_over_lock_keeps_the_folders_to_remove(tmp_path):
    path = str(tmp_path / "project" / "run.lock")
    rl.acquire(path, THEIRS)
    rl.acquire(path, OURS, steal=True)
    rl.release(path, OURS["token"])
    assert os.listdir(str(tmp_path)) == []


def test_a_refused_lock_creates_nothing(tmp_path):
    path = str(tmp_path / "project" / "run.lock")
    rl.acquire(path, THEIRS)
    before = sorted(os.listdir(str(tmp_path / "project")))
    assert rl.acquire(path, OURS)["acquired"] is False
    assert sorted(os.listdir(str(tmp_path / "project"))) == before
    assert rl.release(str(tmp_path / "other" / "run.lock"), OURS["token"])["released"] is False
    assert not (tmp_path / "other").exists()


def test_describe_names_when_a_lock_expires():
    holder = dict(THEIRS, heartbeat=rl.utc_now(T0), expires_after=600)
    assert rl.describe(holder).endswith("(last heartbeat %s; the lock expires at %s without another)"
                                        % (rl.utc_now(T0), rl.utc_now(T0 + 600)))
