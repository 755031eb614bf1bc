# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A folder the collection keeps a project's things in, and takes back: nothing else in it is touched.

* ``claim``: create the folder (0700) when it is missing, and mark it as the project's
  (``.clarafl-project``: the project, and whether the collection created the folder). A folder that
  already exists keeps its owner and mode: it may be the user's.
* ``release``: remove the named components (the project's own entries), then, with the marker, the
  marker, and the folder itself only when it is empty and the collection created it. Without a marker
  (a plain folder of the collection's, such as ``/var/lib/clarafl/<project>``), the folder goes only
  when empty and ``remove_if_empty`` is asked.

Both refuse ``/``, a top-level folder, a home directory (or a folder holding one) and a folder that
another project's marker names, before anything is written or removed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import errno
import json
import os
import shutil

from ansible_collections.clarafl.federation.plugins.module_utils.host_check import (
    MARKER_NAME,
    normalise,
    passwd_homes,
    protected_reason,
    read_marker,
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


def plan_claim(path, project, marker=True, passwd=None):
    """What claim would do: {path, create, mark, created}. Raises ProjectDirError when it must not."""
    path = _check_path(path, project, passwd)
    exists = os.path.isdir(path)
    if os.path.lexists(path) and not exists:
        raise ProjectDirError("%s exists and is not a folder: remove it or choose another folder" % path)
    current = _marker_of(path, project) if exists else None
    return dict(path=path, create=not exists, mark=bool(marker) and current is None,
                created=not exists if current is None else current.get("created") is True)


def claim(path, project, marker=True, owner_uid=None, group_gid=None, passwd=None, now=None):
    """Create and mark the folder as planned; returns the plan (with changed)."""
    plan = plan_claim(path, project, marker, passwd)
    if plan["create"]:
        try:
            os.makedirs(plan["path"], 0o700)
        except OSError as exc:  # made meanwhile by another inventory host of this machine: not ours to mark
            if exc.errno != errno.EEXIST:
                raise
            plan = plan_claim(path, project, marker, passwd)
        else:
            os.chmod(plan["path"], 0o700)
            if owner_uid is not None or group_gid is not None:
                os.chown(plan["path"], -1 if owner_uid is None else owner_uid, -1 if group_gid is None else group_gid)
    if plan["mark"]:
        stamp = (now or datetime.datetime.utcnow()).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = json.dumps({"project": project, "created": plan["created"], "created_at": stamp}, sort_keys=True)
        tmp = os.path.join(plan["path"], "%s.%d.tmp" % (MARKER_NAME, os.getpid()))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(body + "\n")
        try:
            os.link(tmp, os.path.join(plan["path"], MARKER_NAME))  # the first marker stays: never replaced
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise
            plan["mark"] = False
            _marker_of(plan["path"], project)
        finally:
            os.unlink(tmp)
    plan["changed"] = plan["create"] or plan["mark"]
    return plan


def plan_release(path, project, components=(), marker=True, remove_if_empty=False, passwd=None, purge=False,
                 release_root=True):
    """What release would do: {path, remove: [paths], unmark, remove_dir, kept: [entries left for others]}.

    purge: the folder is wholly the collection's (the provisioning workspace): it goes with all it holds.
    release_root: the project is done with the folder: its marker goes, and the folder too when it is then empty
    and the collection created it. False when other hosts of the machine may still have entries to remove.
    """
    path = _check_path(path, project, passwd)
    plan = dict(path=path, remove=[], unmark=False, remove_dir=False, kept=[])
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
            release_root=True):
    """Remove what plan_release says; returns the plan (with changed)."""
    plan = plan_release(path, project, components, marker, remove_if_empty, passwd, purge, release_root)
    for target in plan["remove"]:
        _remove(target)
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
