# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A folder the collection keeps a project's things in, and takes back: nothing else in it is touched.

* ``claim``: create the folder (0700) when it is missing, and mark it as the project's
  (``.clarafl-project``: the project, whether the collection created the folder, and ``entries``, the
  names of the entries the project makes in it). A folder that already exists keeps its owner and mode:
  it may be the user's. The entries the project is about to make are recorded before they are made; an
  entry of that name that is already there and not recorded is someone else's, and the claim is refused.
* ``release``: remove the named components that the record says the project made (a user's file or
  folder that only has a kit's name stays), then, with the marker, the marker, and the folder itself
  only when it is empty and the collection created it. Without a marker (a plain folder of the
  collection's, such as ``/var/lib/clarafl/<project>``), the folder goes only when empty and
  ``remove_if_empty`` is asked; with ``record`` (a file the collection writes beside what it wrote, such
  as a dataset folder's ``.clarafl-demo-data``), nothing is removed unless that file is there.

A marker written before entries were recorded has no ``entries``: what the project made is then told by
the records it wrote at the time (``.kits/<zip>.extracted`` for each extracted kit, the demo tool in
``.demo``), and the next claim writes them into the marker.

Both refuse ``/``, a top-level folder, a home directory (or a folder holding one) and a folder that
another project's marker names, before anything is written or removed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import errno
import fcntl
import json
import os
import shutil
import tempfile

from ansible_collections.clarafl.federation.plugins.module_utils.host_check import (
    MARKER_NAME,
    normalise,
    passwd_homes,
    protected_reason,
    read_marker,
    recorded_entries,
)


class ProjectDirError(Exception):
    """A folder the collection must not create, mark or remove things in."""


def _check_path(path, project, passwd=None):
    if not path or not path.startswith("/"):
        raise ProjectDirError("%s must be an absolute path: a relative path would put the project's files "
                              "wherever ansible-playbook runs from" % (path or "(empty)"))
    path = normalise(path)
    homes = passwd_homes(passwd)
    reason = protected_reason(path, homes) or protected_reason(os.path.realpath(path), homes)
    if reason:
        raise ProjectDirError("%s %s: the collection keeps each project in its own folder (e.g. /opt/clarafl/%s) "
                              "and never creates or removes such a folder" % (path, reason, project))
    return path


def _component_path(root, name):
    norm = os.path.normpath(name)
    if not name or os.path.isabs(name) or norm == "." or norm.startswith(".."):
        raise ProjectDirError("component %r must be a name inside %s" % (name, root))
    if norm == MARKER_NAME:
        raise ProjectDirError("component %r is the project marker itself" % name)
    return os.path.join(root, norm)


def _marker_of(path, project):
    marker, why = read_marker(path)
    if why:
        raise ProjectDirError("the marker %s cannot be read (%s): nothing was changed; if the folder is project %s's, "
                              "replace the file with {\"project\": \"%s\", \"created\": false}"
                              % (os.path.join(path, MARKER_NAME), why, project, project))
    if marker and marker.get("project") != project:
        raise ProjectDirError("%s belongs to project %s (%s): nothing was changed; give project %s its own folder"
                              % (path, marker.get("project"), os.path.join(path, MARKER_NAME), project))
    return marker


def _top(name):
    return os.path.normpath(name).split(os.sep)[0]


def plan_claim(path, project, marker=True, passwd=None, entries=()):
    """What claim would do: {path, create, mark, created, record}. Raises ProjectDirError when it must not.

    entries: the names of the entries the project makes in the folder. Those not recorded yet are recorded
    (record: the whole list to write); one that is already there without being recorded is the user's, or another
    tool's, and refuses the claim before anything is written.
    """
    path = _check_path(path, project, passwd)
    exists = os.path.isdir(path)
    if os.path.lexists(path) and not exists:
        raise ProjectDirError("%s exists and is not a folder: remove it or choose another folder" % path)
    current = _marker_of(path, project) if exists else None
    names = [_top(_component_path(path, e)[len(path) + 1:]) for e in entries or ()]
    ours = recorded_entries(path, current)
    foreign = sorted(set(n for n in names if n not in ours and exists and os.path.lexists(os.path.join(path, n))))
    if foreign:
        raise ProjectDirError(
            "%s holds %s, which project %s did not make (its record %s does not name %s): nothing was changed; move "
            "%s away, or give the project a kit root of its own (fl_kit_root)"
            % (path, ", ".join(foreign), project, os.path.join(path, MARKER_NAME),
               "it" if len(foreign) == 1 else "them", "it" if len(foreign) == 1 else "them"))
    wanted = sorted(ours | set(names))
    record = None
    if marker and (current is None or not isinstance(current.get("entries"), list) or set(names) - ours):
        record = wanted
    return dict(path=path, create=not exists, mark=bool(marker) and current is None,
                created=not exists if current is None else current.get("created") is True, record=record)


def _write_marker(path, body, replace):
    """Write the marker atomically; without replace, the first marker stays (a racing claim's is kept)."""
    fd, tmp = tempfile.mkstemp(prefix="%s." % MARKER_NAME, suffix=".tmp", dir=path)
    with os.fdopen(fd, "w") as fh:
        fh.write(json.dumps(body, sort_keys=True) + "\n")
    try:
        os.chmod(tmp, 0o600)
        if replace:
            os.rename(tmp, os.path.join(path, MARKER_NAME))
            return True
        try:
            os.link(tmp, os.path.join(path, MARKER_NAME))
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise
            return False
        return True
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def _locked(path):
    """An exclusive lock on the folder PATH (released when the returned descriptor is closed)."""
    fd = os.open(path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def record_entries(path, project, entries):
    """Rewrite the marker of PATH with ENTRIES as the names the project made there (sorted, atomically)."""
    fd = _locked(path)
    try:
        current = _marker_of(path, project)
        if current is None:
            return
        body = dict(current)
        body["entries"] = sorted(set(str(e) for e in entries))
        if body != current:
            _write_marker(path, body, replace=True)
    finally:
        os.close(fd)


def claim(path, project, marker=True, owner_uid=None, group_gid=None, passwd=None, now=None, entries=()):
    """Create and mark the folder as planned, recording the entries the project is about to make there;
    returns the plan (with changed)."""
    plan = plan_claim(path, project, marker, passwd, entries)
    if plan["create"]:
        try:
            os.makedirs(plan["path"], 0o700)
        except OSError as exc:  # made meanwhile by another inventory host of this machine: not ours to mark
            if exc.errno != errno.EEXIST:
                raise
            plan = plan_claim(path, project, marker, passwd, entries)
        else:
            os.chmod(plan["path"], 0o700)
            if owner_uid is not None or group_gid is not None:
                os.chown(plan["path"], -1 if owner_uid is None else owner_uid, -1 if group_gid is None else group_gid)
    if plan["mark"]:
        stamp = (now or datetime.datetime.utcnow()).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {"project": project, "created": plan["created"], "created_at": stamp,
                "entries": plan["record"] or []}
        if not _write_marker(plan["path"], body, replace=False):  # the first marker stays: never replaced
            plan["mark"] = False
            plan = dict(plan_claim(path, project, marker, passwd, entries), mark=False)
    if plan["record"] is not None and not plan["mark"]:
        record_entries(plan["path"], project, plan["record"])
    plan["changed"] = plan["create"] or plan["mark"] or plan["record"] is not None
    return plan


def plan_release(path, project, components=(), marker=True, remove_if_empty=False, passwd=None, purge=False,
                 release_root=True, record=None):
    """What release would do: {path, remove: [paths], unmark, remove_dir, kept: [entries left for others],
    entries: the marker's record once the removed entries are gone (None: unchanged)}.

    Of the components, only those the marker records (or that lie inside a recorded entry, such as
    .kits/<zip>) are removed: a user's file or folder named like a kit is kept. Without a marker (marker False)
    the components are the collection's own files; with record (a file name), only when that file is there.

    purge: the folder is wholly the collection's (the provisioning workspace): it goes with all it holds.
    release_root: the project is done with the folder: its marker goes, and the folder too when it is then empty
    and the collection created it. False when other hosts of the machine may still have entries to remove.
    """
    path = _check_path(path, project, passwd)
    plan = dict(path=path, remove=[], unmark=False, remove_dir=False, kept=[], entries=None)
    if not os.path.isdir(path):
        return plan
    if purge:
        if marker:
            _marker_of(path, project)
        plan["remove"] = [os.path.join(path, e) for e in sorted(os.listdir(path))]
        plan["remove_dir"] = True
        return plan
    current = _marker_of(path, project) if marker else None
    targets = [_component_path(path, name) for name in components]
    if marker:
        ours = recorded_entries(path, current)
        targets = [t for t in targets if _top(t[len(path) + 1:]) in ours]
        if current is not None and isinstance(current.get("entries"), list):
            gone_tops = set(t[len(path) + 1:] for t in targets if os.sep not in t[len(path) + 1:])
            if gone_tops & ours:
                plan["entries"] = sorted(ours - gone_tops)
    elif record and not os.path.isfile(_component_path(path, record)):
        targets = []
    plan["remove"] = [t for t in targets if os.path.lexists(t)]
    gone = set(plan["remove"])
    # Parents of removed components (a kit's .kits/<zip>) that nothing else keeps go too.
    parents = sorted({os.path.dirname(t) for t in targets if os.path.dirname(t) != path}, key=len, reverse=True)
    left = [e for e in os.listdir(path) if os.path.join(path, e) not in gone and e != MARKER_NAME]
    for parent in parents:
        if os.path.isdir(parent) and all(os.path.join(parent, e) in gone for e in os.listdir(parent)):
            plan["remove"].append(parent)
            gone.add(parent)
    left = [e for e in left if os.path.join(path, e) not in gone]
    plan["kept"] = sorted(left)
    if not release_root:
        return plan
    plan["unmark"] = current is not None
    if not left:
        if current is not None:
            plan["remove_dir"] = current.get("created") is True
        elif not marker:
            plan["remove_dir"] = bool(remove_if_empty)
    return plan


def _remove(target):
    try:
        if os.path.isdir(target) and not os.path.islink(target):
            shutil.rmtree(target)
        else:
            os.unlink(target)
    except OSError as exc:
        if exc.errno != errno.ENOENT:  # another inventory host of the same machine was first
            raise


def release(path, project, components=(), marker=True, remove_if_empty=False, passwd=None, purge=False,
            release_root=True, record=None):
    """Remove what plan_release says; returns the plan (with changed)."""
    plan = plan_release(path, project, components, marker, remove_if_empty, passwd, purge, release_root, record)
    for target in plan["remove"]:
        _remove(target)
    if plan["entries"] is not None and not plan["unmark"]:
        record_entries(plan["path"], project, plan["entries"])
    if plan["unmark"]:
        _remove(os.path.join(plan["path"], MARKER_NAME))
    if plan["remove_dir"]:
        try:
            os.rmdir(plan["path"])
        except OSError as exc:
            if exc.errno == errno.ENOTEMPTY:  # something arrived meanwhile: it is not ours to take
                plan["remove_dir"] = False
            elif exc.errno != errno.ENOENT:
                raise
    plan["changed"] = bool(plan["remove"] or plan["unmark"] or plan["remove_dir"])
    return plan
