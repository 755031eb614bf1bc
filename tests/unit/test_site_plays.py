# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shape of the playbooks under the run lock: site.yml's plays, and the rescue that gives the lock back."""

from __future__ import absolute_import, division, print_function

import os

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAYBOOKS = os.path.join(REPO, "playbooks")
MAX_SITE_PLAYS = 9


def _plays(name):
    with open(os.path.join(PLAYBOOKS, name)) as handle:
        return yaml.safe_load(handle)


def _calls(tasks, tasks_from):
    for task in tasks or []:
        for key in ("ansible.builtin.import_role", "ansible.builtin.include_role"):
            args = task.get(key)
            if isinstance(args, dict) and args.get("name") == "clarafl.federation.provisioning" \
                    and args.get("tasks_from") == tasks_from:
                yield task
        for part in ("block", "rescue", "always"):
            yield from _calls(task.get(part), tasks_from)


def _gives_the_lock_back_when_it_fails(play):
    """Every task of PLAY but the lock's own bookkeeping lies in a block whose rescue imports tasks/failed.yml."""
    outside = []
    for task in play.get("tasks") or []:
        if "block" in task:
            if not list(_calls(task.get("rescue"), "failed")):
                outside.append(task.get("name"))
        elif not list(_calls([task], "unlock")) and not list(_calls([task], "lock")) \
                and "ansible.builtin.set_fact" not in task:
            outside.append(task.get("name"))
    return outside


def test_site_yml_has_at_most_nine_plays():
    plays = _plays("site.yml")
    assert len(plays) <= MAX_SITE_PLAYS, [p["name"] for p in plays]
    assert "roles" not in str([sorted(p) for p in plays]), "a play's roles run outside the block that gives the lock back"


def test_the_first_play_takes_the_lock_and_the_last_gives_it_back():
    plays = _plays("site.yml")
    assert list(_calls(plays[0]["tasks"], "validate")) and plays[0]["tags"] == ["always"]
    last = list(_calls(plays[-1]["tasks"], "unlock"))
    assert last and last[0].get("tags") == ["always"]


def test_every_play_after_the_lock_gives_it_back_when_it_fails():
    for play in _plays("site.yml")[1:]:
        assert _gives_the_lock_back_when_it_fails(play) == [], play["name"]


@pytest.mark.parametrize("name", ["train.yml", "validate.yml", "stop.yml", "teardown.yml"])
def test_the_other_playbooks_that_act_take_the_lock_and_give_it_back(name):
    plays = _plays(name)
    tasks = [t for play in plays for t in play.get("tasks") or []]
    assert list(_calls(tasks, "lock")), name
    assert list(_calls(tasks, "unlock")), name
    assert list(_calls(tasks, "failed")), name


def test_status_only_reads():
    tasks = [t for play in _plays("status.yml") for t in play.get("tasks") or []]
    assert not list(_calls(tasks, "lock"))
