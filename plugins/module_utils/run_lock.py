# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run lock of a project: one JSON file that names the ansible-playbook run acting on it.

A holder is a dictionary {token, controller, pid, user, playbook, started}: the token is
random per run and is what makes a lock "ours"; the rest is there to tell a person who holds
it. The file is created with O_CREAT|O_EXCL, so of two runs that race for a free lock exactly
one wins. A file that cannot be parsed (empty, garbled) is held by an unknown run and is only
replaced when the caller steals the lock.

The functions that describe a run of this controller (new_holder, playbook_pid, holder_stale)
take the /proc root and the host name as parameters, so tests can give fake ones.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import json
import os
import tempfile
import time

HOLDER_KEYS = ("token", "controller", "pid", "user", "playbook", "started")
FILE_MODE = 0o600
DIR_MODE = 0o700
PLAYBOOK_COMMAND = "ansible-playbook"
ELLIPSIS = u"\u2026"


class RunLockError(Exception):
    """The lock file cannot be read or written (permissions, a folder in the way, ...)."""


def unknown_holder():
    """The holder of a lock file that cannot be parsed."""
    holder = dict((key, None) for key in HOLDER_KEYS)
    holder.update(token=None, user="unknown", controller="unknown", unreadable=True)
    return holder


def _is_ours(existing, token):
    return bool(existing) and not existing.get("unreadable") and bool(token) and existing.get("token") == token


def _parse(raw):
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or not data.get("token"):
        return None
    return data


def read(path, settle=0.5, sleep=time.sleep):
    """The holder the lock file at path names; None when there is no lock file.

    A file that cannot be parsed is read again for up to settle seconds (another run may have
    created it and not written it yet), then counts as held by unknown_holder().
    """
    waited = 0.0
    while True:
        try:
            with open(path, "rb") as fh:
                raw = fh.read()
        except (IOError, OSError) as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise RunLockError("cannot read the run lock %s: %s" % (path, exc.strerror or exc))
        holder = _parse(raw)
        if holder is not None:
            return holder
        if waited >= settle:
            return unknown_holder()
        sleep(0.05)
        waited += 0.05


def _clean(holder):
    if not isinstance(holder, dict) or not holder.get("token"):
        raise ValueError("a run lock holder needs a token")
    return dict((key, holder.get(key)) for key in HOLDER_KEYS)


def _encode(holder):
    return (json.dumps(_clean(holder), sort_keys=True) + "\n").encode("utf-8")


def _fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def ensure_parent(path):
    """Create the missing folders above path, each with mode 0700; existing folders are left alone."""
    parent = os.path.dirname(os.path.abspath(path))
    missing = []
    while parent and not os.path.isdir(parent):
        missing.append(parent)
        up = os.path.dirname(parent)
        if up == parent:
            break
        parent = up
    for folder in reversed(missing):
        try:
            os.mkdir(folder, DIR_MODE)
        except OSError as exc:
            if exc.errno != errno.EEXIST or not os.path.isdir(folder):
                raise RunLockError("cannot create the folder %s of the run lock: %s" % (folder, exc.strerror or exc))
            continue  # created meanwhile by a racing run: not ours to chmod
        os.chmod(folder, DIR_MODE)  # the umask may have taken bits away


def _write_fd(fd, data):
    try:
        os.fchmod(fd, FILE_MODE)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def _create(path, data):
    """Create path holding data; False when it exists already."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, FILE_MODE)
    except OSError as exc:
        if exc.errno == errno.EEXIST:
            return False
        raise RunLockError("cannot create the run lock %s: %s" % (path, exc.strerror or exc))
    try:
        _write_fd(fd, data)
    except OSError as exc:
        try:
            os.unlink(path)
        except OSError:
            pass
        raise RunLockError("cannot write the run lock %s: %s" % (path, exc.strerror or exc))
    _fsync_dir(os.path.dirname(os.path.abspath(path)))
    return True


def _replace(path, data):
    """Replace path by a file holding data, atomically (a temporary file renamed over it)."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), suffix=".tmp", dir=folder)
    except OSError as exc:
        raise RunLockError("cannot write the run lock %s: %s" % (path, exc.strerror or exc))
    try:
        _write_fd(fd, data)
        os.rename(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise RunLockError("cannot replace the run lock %s: %s" % (path, exc.strerror or exc))
    _fsync_dir(folder)


def _result(acquired, changed, holder, held_by_other, stolen_from=None):
    return {"acquired": acquired, "changed": changed, "holder": holder, "held_by_other": held_by_other,
            "stolen_from": stolen_from}


def check(path, holder, steal=False, settle=0.5):
    """What acquire would do, without writing anything (check mode)."""
    token = _clean(holder)["token"]
    existing = read(path, settle=settle)
    if existing is None:
        return _result(True, True, None, False)
    if _is_ours(existing, token):
        return _result(True, False, existing, False)
    if steal:
        return _result(True, True, existing, True, stolen_from=existing)
    return _result(False, False, existing, True)


def acquire(path, holder, steal=False, settle=0.5):
    """Take the lock at path for holder.

    Returns {acquired, changed, holder, held_by_other, stolen_from}:
    * a free lock is created (acquired, changed; holder None);
    * a lock with holder's token is already ours (acquired, not changed; holder: the one in the file);
    * a lock of another run (or unreadable) is refused (not acquired; holder: the other run), unless
      steal, then it is replaced atomically (acquired, changed; stolen_from: the other run).
    Raises RunLockError when the file cannot be read or written, ValueError for a holder without token.
    """
    data = _encode(holder)
    token = _clean(holder)["token"]
    ensure_parent(path)
    for _attempt in range(5):
        if _create(path, data):
            return _result(True, True, None, False)
        existing = read(path, settle=settle)
        if existing is None:
            continue  # released between our create and our read: try again
        if _is_ours(existing, token):
            return _result(True, False, existing, False)
        if not steal:
            return _result(False, False, existing, True)
        _replace(path, data)
        return _result(True, True, existing, True, stolen_from=existing)
    raise RunLockError("the run lock %s keeps appearing and disappearing; try again" % path)


def release(path, token, settle=0.5):
    """Remove the lock at path when it holds token.

    Returns {released, changed, holder, held_by_other}: holder is the holder the lock named (None when there
    was no lock); a lock of another run (or unreadable) is left alone (held_by_other).
    """
    existing = read(path, settle=settle)
    if existing is None:
        return {"released": False, "changed": False, "holder": None, "held_by_other": False}
    if not _is_ours(existing, token):
        return {"released": False, "changed": False, "holder": existing, "held_by_other": True}
    try:
        os.unlink(path)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return {"released": False, "changed": False, "holder": existing, "held_by_other": False}
        raise RunLockError("cannot remove the run lock %s: %s" % (path, exc.strerror or exc))
    _fsync_dir(os.path.dirname(os.path.abspath(path)))
    return {"released": True, "changed": True, "holder": existing, "held_by_other": False}


def describe(holder):
    """One sentence naming holder, e.g. "run 3f9a... by root on ctl-1 (ansible-playbook pid 4242, playbook
    site.yml) since 2026-11-30T02:10:00Z"."""
    if not holder:
        return "no run"
    if holder.get("unreadable"):
        return "an unknown run (the lock file is empty or cannot be parsed)"
    token = str(holder.get("token") or "?")
    parts = ["run %s" % (token[:4] + ELLIPSIS if len(token) > 4 else token)]
    if holder.get("user"):
        parts.append("by %s" % holder["user"])
    if holder.get("controller"):
        parts.append("on %s" % holder["controller"])
    details = []
    if holder.get("pid") not in (None, ""):
        details.append("%s pid %s" % (PLAYBOOK_COMMAND, holder["pid"]))
    if holder.get("playbook"):
        details.append("playbook %s" % holder["playbook"])
    if details:
        parts.append("(%s)" % ", ".join(details))
    if holder.get("started"):
        parts.append("since %s" % holder["started"])
    return " ".join(parts)


# --- the run of this controller (used by the filter plugin) -------------------------------------

def _read_bytes(path):
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except (IOError, OSError):
        return None


def cmdline_of(pid, proc_root="/proc"):
    """The command line of pid as one string; None when the process is gone; "" for a zombie."""
    raw = _read_bytes(os.path.join(proc_root, str(pid), "cmdline"))
    if raw is None:
        return None
    return raw.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")


def parent_of(pid, proc_root="/proc"):
    """The parent pid of pid from /proc/<pid>/stat; None when it cannot be read."""
    raw = _read_bytes(os.path.join(proc_root, str(pid), "stat"))
    if not raw:
        return None
    fields = raw.rsplit(b")", 1)[-1].split()  # the command name in parentheses may hold spaces
    try:
        return int(fields[1])
    except (IndexError, ValueError):
        return None


def _is_playbook(cmdline):
    # ansible-playbook, or the same CLI run as "python -m ansible.cli.playbook"
    return bool(cmdline) and (PLAYBOOK_COMMAND in cmdline or "ansible.cli.playbook" in cmdline)


def playbook_pid(proc_root="/proc", start=None, fallback=None):
    """The pid of the ansible-playbook process this one runs under.

    Walks up the parents of start (default this process, itself included) and returns the topmost one whose
    command line mentions ansible-playbook; Ansible's workers are forks of it, so their command line is the same.
    Without a match (no /proc), returns fallback (default os.getppid()).
    """
    pid = os.getpid() if start is None else start
    found = None
    seen = set()
    while pid and pid > 0 and pid not in seen and len(seen) < 256:
        seen.add(pid)
        if _is_playbook(cmdline_of(pid, proc_root)):
            found = pid
        pid = parent_of(pid, proc_root)
    if found is not None:
        return found
    return os.getppid() if fallback is None else fallback


def utc_now(now=None):
    """UTC time as YYYY-MM-DDTHH:MM:SSZ."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if now is None else now))


def new_holder(playbook, token, controller, pid, user, now=None):
    """A holder dictionary for a run."""
    return {
        "token": token,
        "controller": controller,
        "pid": pid,
        "user": user,
        "playbook": os.path.basename(str(playbook or "").rstrip("/")),
        "started": utc_now(now),
    }


def pid_exists(pid):
    """Whether a process pid exists (it may be another user's)."""
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


def holder_stale(holder, hostname, proc_root="/proc", exists=None):
    """Whether holder is a run of this controller (hostname) that is over: its pid is gone, a zombie, or no
    longer an ansible-playbook process. False for another controller's run or an unreadable lock (we cannot
    know).

    exists(pid) (for example pid_exists) is asked when /proc/<pid> is missing, for a /proc that hides other
    users' processes (hidepid), and when there is no /proc at all; None means "missing from /proc is gone" and
    "without /proc we cannot know".
    """
    if not isinstance(holder, dict) or holder.get("unreadable") or not hostname:
        return False
    if holder.get("controller") != hostname:
        return False
    try:
        pid = int(holder.get("pid"))
    except (TypeError, ValueError):
        return False
    if pid <= 0:
        return False
    cmdline = cmdline_of(pid, proc_root)
    if cmdline is not None:
        return not _is_playbook(cmdline)  # "" (a zombie) is over too
    if os.path.isdir(os.path.join(proc_root, str(pid))):
        return False  # it exists but its command line cannot be read: cannot tell
    if os.path.isdir(proc_root):
        return not (exists is not None and exists(pid))
    # no /proc at all (not Linux): only whether the pid lives can be known
    return exists is not None and not exists(pid)
