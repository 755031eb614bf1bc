# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A project's folder: claimed and marked, then taken back without touching anything else in it."""

from __future__ import absolute_import, division, print_function

import json
import os
import stat

import pytest

from ansible_collections.clarafl.federation.plugins.module_utils.project_dir import (
    ProjectDirError,
    claim,
    plan_release,
    release,
)

PASSWD = [("alice", "/home/alice")]


def marker(path):
    with open(os.path.join(path, ".clarafl-project")) as fh:
        return json.load(fh)


def kit_layout(root):
    for name in ("server/startup", "org1-a/startup", "admin/transfer", ".kits", ".demo"):
        os.makedirs(os.path.join(root, name))
    for name in ("server/startup/server.key", ".kits/server.zip", ".kits/server.zip.extracted", ".kits/org1-a.zip"):
        with open(os.path.join(root, name), "w") as fh:
            fh.write("x")


COMPONENTS = ["server", "org1-a", "admin", ".kits", ".demo"]


def test_a_missing_folder_is_created_private_and_marked_as_created(tmp_path):
    root = str(tmp_path / "opt" / "clarafl" / "p1")
    plan = claim(root, "p1", passwd=PASSWD)
    assert plan["changed"] and plan["created"]
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o700
    assert marker(root)["project"] == "p1" and marker(root)["created"] is True
    assert stat.S_IMODE(os.stat(os.path.join(root, ".clarafl-project")).st_mode) == 0o600
    assert claim(root, "p1", passwd=PASSWD)["changed"] is False


def test_a_users_folder_keeps_its_mode_and_is_marked_as_not_created(tmp_path):
    root = tmp_path / "shared"
    root.mkdir(mode=0o755)
    (root / "notes.txt").write_text("mine")
    plan = claim(str(root), "p1", passwd=PASSWD)
    assert plan["changed"] and plan["created"] is False
    assert stat.S_IMODE(os.stat(str(root)).st_mode) == 0o755
    kit_layout(str(root))
    done = release(str(root), "p1", COMPONENTS, passwd=PASSWD)
    assert done["kept"] == ["notes.txt"] and done["remove_dir"] is False
    assert sorted(os.listdir(str(root))) == ["notes.txt"]
    assert (root / "notes.txt").read_text() == "mine"


def test_release_removes_the_components_then_the_folder_it_created(tmp_path):
    root = str(tmp_path / "kits")
    claim(root, "p1", passwd=PASSWD)
    kit_layout(root)
    done = release(root, "p1", COMPONENTS, passwd=PASSWD)
    assert done["changed"] and done["remove_dir"]
    assert not os.path.exists(root)
    assert release(root, "p1", COMPONENTS, passwd=PASSWD)["changed"] is False


def test_release_of_some_components_leaves_the_others_and_the_marker(tmp_path):
    root = str(tmp_path / "kits")
    claim(root, "p1", passwd=PASSWD)
    kit_layout(root)
    done = release(root, "p1", ["org1-a", ".kits/org1-a.zip"], passwd=PASSWD, release_root=False)
    assert not done["remove_dir"] and not done["unmark"]
    assert os.path.exists(os.path.join(root, ".kits", "server.zip"))
    assert not os.path.exists(os.path.join(root, "org1-a"))
    # a sub-folder emptied by its listed components goes too
    release(root, "p1", [".kits/server.zip", ".kits/server.zip.extracted"], passwd=PASSWD, release_root=False)
    assert not os.path.exists(os.path.join(root, ".kits"))
    assert os.path.exists(os.path.join(root, ".clarafl-project"))


def test_check_mode_plan_changes_nothing(tmp_path):
    root = str(tmp_path / "kits")
    claim(root, "p1", passwd=PASSWD)
    kit_layout(root)
    before = sorted(os.walk(root))
    plan = plan_release(root, "p1", COMPONENTS, passwd=PASSWD)
    assert plan["remove_dir"] and len(plan["remove"]) == 5
    assert sorted(os.walk(root)) == before


@pytest.mark.parametrize("path", ["/", "/opt", "/opt/", "/var", "/home/alice", "/home", "relative/kits", ""])
def test_protected_and_relative_folders_are_refused(path):
    with pytest.raises(ProjectDirError):
        claim(path, "p1", passwd=PASSWD)
    with pytest.raises(ProjectDirError):
        release(path, "p1", COMPONENTS, passwd=PASSWD)


def test_another_projects_folder_is_refused_naming_the_owner(tmp_path):
    root = str(tmp_path / "kits")
    claim(root, "p1", passwd=PASSWD)
    kit_layout(root)
    with pytest.raises(ProjectDirError, match="belongs to project p1"):
        claim(root, "p2", passwd=PASSWD)
    with pytest.raises(ProjectDirError, match="belongs to project p1"):
        release(root, "p2", COMPONENTS, passwd=PASSWD)
    assert os.path.exists(os.path.join(root, "server", "startup", "server.key"))


def test_components_must_stay_inside_the_folder(tmp_path):
    root = str(tmp_path / "kits")
    claim(root, "p1", passwd=PASSWD)
    for bad in ["../x", "/etc", ".", ".clarafl-project"]:
        with pytest.raises(ProjectDirError):
            release(root, "p1", [bad], passwd=PASSWD)


def test_a_folder_without_marker_goes_only_when_empty_and_asked(tmp_path):
    top = tmp_path / "lib" / "p1"
    (top / "provisioning").mkdir(parents=True)
    assert release(str(top), "p1", [], marker=False, remove_if_empty=True, passwd=PASSWD)["remove_dir"] is False
    release(str(top), "p1", ["provisioning"], marker=False, remove_if_empty=True, passwd=PASSWD)
    assert not top.exists()
    other = tmp_path / "lib" / "p2"
    other.mkdir()
    assert release(str(other), "p2", [], marker=False, passwd=PASSWD)["remove_dir"] is False
    assert other.exists()


def test_purge_takes_a_whole_collection_folder_but_never_a_protected_one(tmp_path):
    ws = tmp_path / "workspace"
    (ws / "runs" / "r1").mkdir(parents=True)
    (ws / "state.json").write_text("{}")
    done = release(str(ws), "p1", marker=False, purge=True, passwd=PASSWD)
    assert done["remove_dir"] and not ws.exists()
    with pytest.raises(ProjectDirError):
        release("/var", "p1", marker=False, purge=True, passwd=PASSWD)
