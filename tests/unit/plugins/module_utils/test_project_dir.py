# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A project's folder: claimed and marked, then taken back without touching anything else in it."""

from __future__ import absolute_import, division, print_function

import json
import os
import stat

import pytest

from ansible_collections.clarafl.federation.plugins.module_utils.host_check import legacy_entries
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
    plan = claim(root, "p1", passwd=PASSWD, entries=COMPONENTS)
    assert plan["changed"] and plan["created"]
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o700
    assert marker(root)["project"] == "p1" and marker(root)["created"] is True
    assert stat.S_IMODE(os.stat(os.path.join(root, ".clarafl-project")).st_mode) == 0o600
    assert claim(root, "p1", passwd=PASSWD)["changed"] is False


def test_a_users_folder_keeps_its_mode_and_is_marked_as_not_created(tmp_path):
    root = tmp_path / "shared"
    root.mkdir(mode=0o755)
    (root / "notes.txt").write_text("mine")
    plan = claim(str(root), "p1", passwd=PASSWD, entries=COMPONENTS)
    assert plan["changed"] and plan["created"] is False
    assert stat.S_IMODE(os.stat(str(root)).st_mode) == 0o755
    kit_layout(str(root))
    done = release(str(root), "p1", COMPONENTS, passwd=PASSWD)
    assert done["kept"] == ["notes.txt"] and done["remove_dir"] is False
    assert sorted(os.listdir(str(root))) == ["notes.txt"]
    assert (root / "notes.txt").read_text() == "mine"


def test_release_removes_the_components_then_the_folder_it_created(tmp_path):
    root = str(tmp_path / "kits")
    claim(root, "p1", passwd=PASSWD, entries=COMPONENTS)
    kit_layout(root)
    done = release(root, "p1", COMPONENTS, passwd=PASSWD)
    assert done["changed"] and done["remove_dir"]
    assert not os.path.exists(root)
    assert release(root, "p1", COMPONENTS, passwd=PASSWD)["changed"] is False


def test_release_of_some_components_leaves_the_others_and_the_marker(tmp_path):
    root = str(tmp_path / "kits")
    claim(root, "p1", passwd=PASSWD, entries=COMPONENTS)
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
    claim(root, "p1", passwd=PASSWD, entries=COMPONENTS)
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
    claim(root, "p1", passwd=PASSWD, entries=COMPONENTS)
    kit_layout(root)
    with pytest.raises(ProjectDirError, match="belongs to project p1"):
        claim(root, "p2", passwd=PASSWD)
    with pytest.raises(ProjectDirError, match="belongs to project p1"):
        release(root, "p2", COMPONENTS, passwd=PASSWD)
    assert os.path.exists(os.path.join(root, "server", "startup", "server.key"))


def test_components_must_stay_inside_the_folder(tmp_path):
    root = str(tmp_path / "kits")
    claim(root, "p1", passwd=PASSWD, entries=COMPONENTS)
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


# --- what the project made, by its record ---------------------------------------------------------------------

def test_claim_records_the_entries_to_make_and_a_second_claim_changes_nothing(tmp_path):
    root = str(tmp_path / "kits")
    claim(root, "p1", passwd=PASSWD, entries=["server", ".kits"])
    assert marker(root)["entries"] == [".kits", "server"]
    os.makedirs(os.path.join(root, "server"))
    assert claim(root, "p1", passwd=PASSWD, entries=["server", ".kits"])["changed"] is False
    assert claim(root, "p1", passwd=PASSWD, entries=["org1-a"])["changed"] is True
    assert marker(root)["entries"] == [".kits", "org1-a", "server"]


def test_a_users_file_and_folder_named_like_kits_refuse_the_claim_and_survive_release(tmp_path):
    root = tmp_path / "shared"
    root.mkdir()
    (root / "server").write_text("the user's")
    (root / "admin").mkdir()
    (root / "admin" / "notes").write_text("the user's")
    with pytest.raises(ProjectDirError) as caught:
        claim(str(root), "p1", passwd=PASSWD, entries=COMPONENTS)
    assert "holds admin, server, which project p1 did not make" in str(caught.value)
    assert sorted(os.listdir(str(root))) == ["admin", "server"]  # no marker written either
    # A marker that records only org1-a: the user's entries stay, whatever the components asked for.
    claim(str(root), "p1", passwd=PASSWD, entries=["org1-a"])
    os.makedirs(str(root / "org1-a" / "startup"))
    done = release(str(root), "p1", COMPONENTS, passwd=PASSWD)
    assert done["remove"] == [str(root / "org1-a")]
    assert sorted(os.listdir(str(root))) == ["admin", "server"]
    assert (root / "server").read_text() == "the user's" and (root / "admin" / "notes").read_text() == "the user's"


def test_a_partial_release_takes_the_removed_entries_off_the_record(tmp_path):
    root = str(tmp_path / "kits")
    claim(root, "p1", passwd=PASSWD, entries=COMPONENTS)
    kit_layout(root)
    release(root, "p1", ["org1-a", ".kits/org1-a.zip"], passwd=PASSWD, release_root=False)
    assert marker(root)["entries"] == [".demo", ".kits", "admin", "server"]
    assert not os.path.exists(os.path.join(root, ".kits", "org1-a.zip"))
    # A user's folder made later with the departed site's name is not the project's.
    os.makedirs(os.path.join(root, "org1-a"))
    assert release(root, "p1", COMPONENTS, passwd=PASSWD)["kept"] == ["org1-a"]


def test_a_marker_from_before_the_record_is_read_by_the_extraction_records(tmp_path):
    root = tmp_path / "kits"
    root.mkdir()
    (root / ".clarafl-project").write_text(json.dumps({"project": "p1", "created": False}))
    for name in ("server/startup", "admin/startup", "org1-a/startup", ".kits", ".demo"):
        (root / name).mkdir(parents=True)
    for name in (".kits/server.zip.extracted", ".kits/admin@clarafl.test.zip.extracted", ".demo/demo_data.py"):
        (root / name).write_text("x")
    # org1-a has no extraction record: a folder with a kit's name, not proven the project's
    assert legacy_entries(str(root)) == {"server", "admin", ".kits", ".demo"}
    assert release(str(root), "p1", COMPONENTS, passwd=PASSWD)["kept"] == ["org1-a"]


def test_a_claim_writes_the_legacy_entries_into_the_marker(tmp_path):
    root = tmp_path / "kits"
    (root / "server").mkdir(parents=True)
    (root / ".kits").mkdir()
    (root / ".kits" / "server.zip.extracted").write_text("x")
    (root / ".clarafl-project").write_text(json.dumps({"project": "p1", "created": True}))
    plan = claim(str(root), "p1", passwd=PASSWD, entries=["server", ".kits", "org1-a"])
    assert plan["changed"] is True
    assert marker(str(root))["entries"] == [".kits", "org1-a", "server"] and marker(str(root))["created"] is True


def test_release_with_a_record_file_needs_it(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.csv").write_text("the user's own")
    parts = ["train.csv", "demo_data.json", ".clarafl-demo-data"]
    done = release(str(data), "p1", parts, marker=False, remove_if_empty=True, record=".clarafl-demo-data",
                   passwd=PASSWD)
    assert done["remove"] == [] and (data / "train.csv").read_text() == "the user's own"
    (data / ".clarafl-demo-data").write_text("site_index=0")
    release(str(data), "p1", parts, marker=False, remove_if_empty=True, record=".clarafl-demo-data", passwd=PASSWD)
    assert not data.exists()
