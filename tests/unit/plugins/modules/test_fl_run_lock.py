# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fl_run_lock module, run in-process as Ansible runs it."""

from __future__ import absolute_import, division, print_function

import json
import os

from module_runner import run_module
from ansible_collections.clarafl.federation.plugins.modules import fl_run_lock


def _holder(token, pid=4242, controller="ctl-1"):
    return {"token": token, "controller": controller, "pid": pid, "user": "root", "playbook": "site.yml",
            "started": "2026-11-30T02:10:00Z"}


def _plain(holder):
    """A holder without what the lock file keeps beside it (heartbeat, expiry, folders it made)."""
    return dict((k, v) for k, v in holder.items() if k not in ("heartbeat", "expires_after", "made_dirs"))


OURS = _holder("a" * 32)
THEIRS = _holder("3f9a" + "0" * 28, pid=777, controller="ctl-2")
THEIRS_TEXT = u"run 3f9a\u2026 by root on ctl-2 (ansible-playbook pid 777, playbook site.yml) since 2026-11-30T02:10:00Z"


def _run(capsys, path, holder=None, check_mode=False, **args):
    args = dict(args, path=str(path), holder=OURS if holder is None else holder)
    result, raw = run_module(fl_run_lock, args, capsys, check_mode=check_mode)
    assert "Traceback" not in raw
    return result


def test_take_keep_and_release(tmp_path, capsys):
    path = tmp_path / "state" / "lock"
    result = _run(capsys, path)
    assert result["changed"] is True and result["acquired"] is True and not result.get("failed")
    assert result["holder"] is None and result["stolen_from"] is None and result["held_by_other"] is False
    assert result["released"] is False and result["description"] is None
    assert _plain(json.loads(path.read_text())) == OURS
    assert oct(os.stat(str(path)).st_mode & 0o777) == oct(0o600)
    assert oct(os.stat(str(path.parent)).st_mode & 0o777) == oct(0o700)

    result = _run(capsys, path)
    assert result["changed"] is False and result["acquired"] is True and _plain(result["holder"]) == OURS

    result = _run(capsys, path, holder={"token": OURS["token"]}, state="absent")
    assert result["changed"] is True and result["released"] is True and _plain(result["holder"]) == OURS
    assert not path.exists()
    result = _run(capsys, path, holder={"token": OURS["token"]}, state="absent")
    assert result["changed"] is False and result["released"] is False and result["holder"] is None


def test_another_run_is_refused_with_a_message(tmp_path, capsys):
    path = tmp_path / "lock"
    _run(capsys, path, holder=THEIRS)
    result = _run(capsys, path)
    assert result["failed"] is True and result["acquired"] is False and result["changed"] is False
    assert result["msg"].startswith(u"Another run holds the lock of this project: %s (last heartbeat " % THEIRS_TEXT)
    assert result["msg"].endswith(
        u"without another). Wait for it to finish; if no run is going on (the holder died), clear the stale lock with "
        u"-e fl_run_lock_steal=true or remove %s." % path)
    assert _plain(result["holder"]) == THEIRS and result["held_by_other"] is True and result["description"].startswith(THEIRS_TEXT)
    assert _plain(json.loads(path.read_text())) == THEIRS


def test_steal(tmp_path, capsys):
    path = tmp_path / "lock"
    _run(capsys, path, holder=THEIRS)
    result = _run(capsys, path, steal=True)
    assert result["changed"] is True and result["acquired"] is True and not result.get("failed")
    assert _plain(result["stolen_from"]) == THEIRS and _plain(result["holder"]) == THEIRS
    assert result["msg"].startswith(u"Took over the run lock %s from %s (last heartbeat " % (path, THEIRS_TEXT))
    assert _plain(json.loads(path.read_text())) == OURS
    assert "msg" not in _run(capsys, path)


def test_a_garbled_lock_is_refused_and_can_be_stolen(tmp_path, capsys):
    path = tmp_path / "lock"
    path.write_bytes(b"{garbled")
    result = _run(capsys, path)
    assert result["failed"] is True and result["holder"]["unreadable"] is True
    assert "an unknown run (the lock file is empty or cannot be parsed)" in result["msg"]
    result = _run(capsys, path, steal=True)
    assert result["acquired"] is True and result["stolen_from"]["unreadable"] is True
    assert _plain(json.loads(path.read_text())) == OURS


def test_release_leaves_another_runs_lock(tmp_path, capsys):
    path = tmp_path / "lock"
    _run(capsys, path, holder=THEIRS)
    result = _run(capsys, path, state="absent")
    assert not result.get("failed") and result["changed"] is False and result["released"] is False
    assert result["held_by_other"] is True and _plain(result["holder"]) == THEIRS
    assert _plain(json.loads(path.read_text())) == THEIRS


def test_check_mode_present_reads_only(tmp_path, capsys):
    path = tmp_path / "state" / "lock"
    result = _run(capsys, path, check_mode=True)  # free
    assert result["acquired"] is True and result["held_by_other"] is False and result["holder"] is None
    assert not path.parent.exists()

    _run(capsys, path, holder=THEIRS)
    before = path.read_bytes()
    result = _run(capsys, path, check_mode=True)  # held by another: reported, not failed
    assert not result.get("failed") and result["held_by_other"] is True and _plain(result["holder"]) == THEIRS
    assert result["acquired"] is False and result["changed"] is False and result["description"].startswith(THEIRS_TEXT)
    assert result["msg"].startswith(u"Another run holds the lock of this project: %s (last heartbeat" % THEIRS_TEXT)
    result = _run(capsys, path, check_mode=True, steal=True)
    assert not result.get("failed") and _plain(result["stolen_from"]) == THEIRS and result["held_by_other"] is True
    assert result["msg"].startswith(u"Would take over the run lock %s from %s (last heartbeat " % (path, THEIRS_TEXT))
    assert path.read_bytes() == before

    result = _run(capsys, path, holder=THEIRS, check_mode=True)  # held by us
    assert result["acquired"] is True and result["changed"] is False and result["held_by_other"] is False
    assert path.read_bytes() == before


def test_check_mode_absent_does_nothing(tmp_path, capsys):
    path = tmp_path / "lock"
    _run(capsys, path)
    result = _run(capsys, path, state="absent", check_mode=True)
    assert result["changed"] is False and result["released"] is False and not result.get("failed")
    assert _plain(json.loads(path.read_text())) == OURS


def test_a_holder_needs_a_token(tmp_path, capsys):
    result = _run(capsys, tmp_path / "lock", holder={"controller": "ctl-1"})
    assert result["failed"] is True and "token" in result["msg"]
    assert not (tmp_path / "lock").exists()


def test_a_folder_in_the_way_fails_with_a_message(tmp_path, capsys):
    (tmp_path / "lock").mkdir()
    result = _run(capsys, tmp_path / "lock")
    assert result["failed"] is True and result["msg"].startswith("cannot read the run lock %s" % (tmp_path / "lock"))


def test_heartbeat(tmp_path, capsys):
    path = tmp_path / "lock"
    _run(capsys, path, expiry=120)
    result = _run(capsys, path, state="heartbeat")
    assert result["refreshed"] is True and result["changed"] is True and not result.get("failed")
    assert json.loads(path.read_text())["expires_after"] == 120
    _run(capsys, path, state="absent")
    result = _run(capsys, path, state="heartbeat")
    assert result["failed"] is True and "it was removed" in result["msg"]


def test_heartbeat_of_a_lock_taken_over(tmp_path, capsys):
    path = tmp_path / "lock"
    _run(capsys, path)
    _run(capsys, path, holder=THEIRS, steal=True)
    result = _run(capsys, path, state="heartbeat")
    assert result["failed"] is True and result["refreshed"] is False
    assert result["msg"].startswith(u"This run no longer holds the run lock %s: another run took it over: %s"
                                    % (path, THEIRS_TEXT))


def test_an_expired_lock_of_another_controller_is_taken_over_saying_so(tmp_path, capsys):
    path = tmp_path / "lock"
    stale = dict(THEIRS, heartbeat="2020-01-01T00:00:00Z", expires_after=60)
    path.write_text(json.dumps(stale))
    result = _run(capsys, path)
    assert result["acquired"] is True and result["expired"] is True and not result.get("failed")
    assert result["msg"].startswith(u"Took over the run lock %s from %s" % (path, THEIRS_TEXT))
    assert "it had expired" in result["msg"]


def test_a_negative_expiry_is_refused(tmp_path, capsys):
    result = _run(capsys, tmp_path / "lock", expiry=-1)
    assert result["failed"] is True and "expiry must be 0" in result["msg"]
    assert not (tmp_path / "lock").exists()
