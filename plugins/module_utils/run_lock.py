# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run lock of a project: one JSON file that names the ansible-playbook run acting on it.

A holder is a dictionary {token, controller, pid, user, playbook, started}: the token is
random per run and is what makes a lock "ours"; the rest is there to tell a person who holds
it. The file is created with O_CREAT|O_EXCL, so of two runs that race for a free lock exactly
one wins. A file that cannot be parsed (empty, garbled) is held by an unknown run and is only
replaced when the caller steals the lock.

The lock file also holds, written on the host that keeps it (so that one clock is compared with
itself): ``heartbeat``, when the holder last said it is alive (acquire, then heartbeat()), and
``expires_after``, how many seconds without a heartbeat make the lock expire. Whether the run
holding a lock is still going can only be told on its own controller (its ansible-playbook pid);
a lock of another controller (an AWX job runs in a container of its own) is taken over once it
has expired. A long run keeps its lock with heartbeat(path, holder). Folders that acquire had
to create for the lock are listed in ``made_dirs`` and removed by release when they are empty.

The functions that describe a run of this controller (new_holder, playbook_pid, holder_stale)
take the /proc root and the host name as parameters, so tests can give fake ones.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import errno
import json
import os
import tempfile
import time

HOLDER_KEYS = ("token", "controller", "pid", "user", "playbook", "started")
# Kept by the lock file itself, beside the holder's keys.
LOCK_KEYS = ("heartbeat", "expires_after", "made_dirs")
# A lock of another controller that has not heard from its run for this long is taken over.
DEFAULT_EXPIRY = 3600
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
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


def _encode(holder, now=None, expiry=None, made_dirs=()):
    """The lock file's bytes: the holder, stamped with a heartbeat of now and its expiry."""
    data = _clean(holder)
    data["heartbeat"] = utc_now(now)
    data["expires_after"] = int(DEFAULT_EXPIRY if expiry is None else expiry)
    data["made_dirs"] = sorted(set(made_dirs or ()), key=len, reverse=True)
    return (json.dumps(data, sort_keys=True) + "\n").encode("utf-8")


def parse_time(text):
    """Seconds since the epoch of a YYYY-MM-DDTHH:MM:SSZ time; None when it is not one."""
    try:
        return calendar.timegm(time.strptime(str(text), TIME_FORMAT))
    except (TypeError, ValueError):
        return None


def expires_at(existing):
    """When a lock expires, in seconds since the epoch; None for a lock that never does (no expiry recorded,
    an expiry of 0, or a lock that cannot be read)."""
    if not isinstance(existing, dict) or existing.get("unreadable"):
        return None
    try:
        after = int(existing.get("expires_after") or 0)
    except (TypeError, ValueError):
        return None
    last = parse_time(existing.get("heartbeat")) or parse_time(existing.get("started"))
    if after <= 0 or last is None:
        return None
    return last + after


def expired(existing, holder=None, now=None):
    """Whether the lock EXISTING has gone without a heartbeat past its expiry.

    Only for a run of another controller than HOLDER's (the run asking): a run of the same controller is
    told alive or over by its ansible-playbook pid (holder_stale), never by the clock.
    """
    if holder and existing and holder.get("controller") and existing.get("controller") == holder.get("controller"):
        return False
    deadline = expires_at(existing)
    return deadline is not None and (time.time() if now is None else now) >= deadline


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
    """Create the missing folders above path, each with mode 0700; existing folders are left alone.

    Returns the folders it created."""
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
            missing.remove(folder)
            continue  # created meanwhile by a racing run: not ours to chmod
        os.chmod(folder, DIR_MODE)  # the umask may have taken bits away
    return missing


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


def _result(acquired, changed, holder, held_by_other, stolen_from=None, expired_lock=False):
    return {"acquired": acquired, "changed": changed, "holder": holder, "held_by_other": held_by_other,
            "stolen_from": stolen_from, "expired": expired_lock}


def check(path, holder, steal=False, settle=0.5, now=None):
    """What acquire would do, without writing anything (check mode)."""
    token = _clean(holder)["token"]
    existing = read(path, settle=settle)
    if existing is None:
        return _result(True, True, None, False)
    if _is_ours(existing, token):
        return _result(True, False, existing, False)
    gone = expired(existing, holder, now)
    if steal or gone:
        return _result(True, True, existing, True, stolen_from=existing, expired_lock=gone and not steal)
    return _result(False, False, existing, True)


def _missing_dirs(path):
    """The folders above path that do not exist yet, deepest first."""
    missing = []
    parent = os.path.dirname(os.path.abspath(path))
    while parent and not os.path.isdir(parent):
        missing.append(parent)
        up = os.path.dirname(parent)
        if up == parent:
            break
        parent = up
    return missing


def acquire(path, holder, steal=False, settle=0.5, expiry=None, now=None):
    """Take the lock at path for holder.

    Returns {acquired, changed, holder, held_by_other, stolen_from, expired}:
    * a free lock is created (acquired, changed; holder None), with a heartbeat of now and the given expiry
      (seconds without a heartbeat after which another controller's run may take it; default DEFAULT_EXPIRY,
      0 for never);
    * a lock with holder's token is already ours (acquired, not changed; holder: the one in the file);
    * a lock of another run (or unreadable) is refused (not acquired; holder: the other run), unless
      steal, or the lock is another controller's and has expired (expired), then it is replaced atomically
      (acquired, changed; stolen_from: the other run).
    Nothing is created for a refused lock: the folders above path are made only for a lock that is taken, and
    recorded in the file (made_dirs) so that release removes them again when they are empty.
    Raises RunLockError when the file cannot be read or written, ValueError for a holder without token.
    """
    token = _clean(holder)["token"]
    for _attempt in range(5):
        existing = read(path, settle=settle)
        if existing is None:
            made = ensure_parent(path) if _missing_dirs(path) else []
            if _create(path, _encode(holder, now, expiry, made)):
                return _result(True, True, None, False)
            continue  # another run was first: look again
        if _is_ours(existing, token):
            return _result(True, False, existing, False)
        gone = expired(existing, holder, now)
        if not (steal or gone):
            return _result(False, False, existing, True)
        _replace(path, _encode(holder, now, expiry, existing.get("made_dirs") or ()))
        return _result(True, True, existing, True, stolen_from=existing, expired_lock=gone and not steal)
    raise RunLockError("the run lock %s keeps appearing and disappearing; try again" % path)


def heartbeat(path, holder, settle=0.5, now=None):
    """Say that the run holding the lock at path is alive: its heartbeat becomes now.

    For a long run (a training followed for hours) to call every few minutes, so that its lock does not expire.
    holder is the run's holder dictionary (only its token is compared). Returns {refreshed, holder}: refreshed is
    False, and nothing is written, when there is no lock or another run holds it (holder: that run, or None) -
    the caller's lock was taken over or broken (playbooks/stop.yml) and it should say so and stop.
    Raises RunLockError when the file cannot be read or written, ValueError for a holder without token.
    """
    token = _clean(holder)["token"]
    existing = read(path, settle=settle)
    if existing is None or not _is_ours(existing, token):
        return {"refreshed": False, "holder": existing}
    mine = dict(existing)
    _replace(path, _encode(mine, now, existing.get("expires_after"), existing.get("made_dirs") or ()))
    return {"refreshed": True, "holder": existing}


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
    _remove_made_dirs(path, existing.get("made_dirs"))
    return {"released": True, "changed": True, "holder": existing, "held_by_other": False}


def _remove_made_dirs(path, made_dirs):
    """Remove the folders the lock created above path (deepest first) while they are empty."""
    above = os.path.dirname(os.path.abspath(path))
    for folder in sorted(set(made_dirs or ()), key=len, reverse=True):
        folder = str(folder)
        if not (above == folder or above.startswith(folder.rstrip("/") + "/")):
            continue  # only folders above the lock itself
        try:
            os.rmdir(folder)
        except OSError:
            return  # not empty (the project's workspace, another project), or gone: the rest stays


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
    deadline = expires_at(holder)
    if deadline is not None:
        parts.append("(last heartbeat %s; the lock expires at %s without another)"
                     % (holder.get("heartbeat") or holder.get("started"), utc_now(deadline)))
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
    return time.strftime(TIME_FORMAT, time.gmtime(time.time() if now is None else now))


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
