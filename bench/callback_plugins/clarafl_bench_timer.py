# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark timer: writes one JSON line per play, task and host result (wall-clock times).

Used by bench/bench.py only (not part of the collection's plugins): enable it with
ANSIBLE_CALLBACK_PLUGINS=bench/callback_plugins ANSIBLE_CALLBACKS_ENABLED=clarafl_bench_timer and
name the output file in CLARAFL_BENCH_EVENTS. When the training started is not an event here: the training
module's task ends with the run; bench/bench.py reads it from the training's record.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: clarafl_bench_timer
type: aggregate
short_description: JSON lines with the wall-clock time of every play, task and host result
description:
  - For bench/bench.py. Writes to the file named by the environment variable CLARAFL_BENCH_EVENTS.
requirements:
  - enable in configuration
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase

class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "clarafl_bench_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self._path = os.environ.get("CLARAFL_BENCH_EVENTS", "")
        self._fh = open(self._path, "a") if self._path else None

    def _emit(self, **event):
        if self._fh is None:
            return
        event["t"] = time.time()
        self._fh.write(json.dumps(event, default=str, sort_keys=True) + "\n")
        self._fh.flush()

    @staticmethod
    def _role(task):
        role = getattr(task, "_role", None)
        return role.get_name(include_role_fqcn=False) if role is not None else ""

    @classmethod
    def _name(cls, task):
        """The task's name without the "role : " prefix Ansible adds."""
        name = task.get_name(include_role_fqcn=False)
        prefix = cls._role(task) + " : "
        return name[len(prefix):] if cls._role(task) and name.startswith(prefix) else name

    def v2_playbook_on_start(self, playbook):
        self._emit(ev="playbook_start", playbook=getattr(playbook, "_file_name", ""))

    def v2_playbook_on_play_start(self, play):
        tags = [t for t in (play.tags or []) if t != "always"]
        roles = [r.get_name(include_role_fqcn=False) for r in play.roles or []]
        if tags:
            label = tags[0]
        elif "always" in (play.tags or []):
            label = "checks"
        else:
            label = (roles or [play.get_name()])[0]
        self._emit(ev="play_start", play=play.get_name(), label=label)

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._emit(ev="task_start", task=self._name(task), role=self._role(task), action=task.action,
                   uuid=task._uuid)

    def v2_playbook_on_handler_task_start(self, task):
        self._emit(ev="task_start", task=self._name(task), role=self._role(task), action=task.action,
                   uuid=task._uuid, handler=True)

    def _result(self, result, status):
        task = result._task
        changed = bool(result._result.get("changed", False)) if isinstance(result._result, dict) else False
        self._emit(ev="result", status=status, changed=changed, host=result._host.get_name(),
                   task=self._name(task), uuid=task._uuid)

    def v2_runner_on_ok(self, result):
        self._result(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result(result, "ignored" if ignore_errors else "failed")

    def v2_runner_on_skipped(self, result):
        self._result(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._result(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        hosts = {}
        for host in sorted(stats.processed.keys()):
            hosts[host] = stats.summarize(host)
        self._emit(ev="stats", hosts=hosts)
        if self._fh is not None:
            self._fh.close()
            self._fh = None
