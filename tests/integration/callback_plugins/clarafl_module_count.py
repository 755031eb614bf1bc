# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""For the integration tests: one JSON line per play and per task result that ran (each loop item apart).

Not part of the collection's plugins: enable it with ANSIBLE_CALLBACK_PLUGINS=tests/integration/callback_plugins
ANSIBLE_CALLBACKS_ENABLED=clarafl_module_count and name the output file in CLARAFL_MODULE_COUNT. A test counts the
module executions among the results: those of actions that run a module on a host (not debug, set_fact, assert, ...).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: clarafl_module_count
type: aggregate
short_description: JSON lines of every play and every task result that ran, with the task's action
description:
  - For the integration tests. Writes to the file named by the environment variable CLARAFL_MODULE_COUNT.
requirements:
  - enable in configuration
"""

import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "clarafl_module_count"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        path = os.environ.get("CLARAFL_MODULE_COUNT", "")
        self._fh = open(path, "a") if path else None  # pylint: disable=consider-using-with
        self._play = ""

    def _emit(self, **event):
        if self._fh is not None:
            self._fh.write(json.dumps(event, default=str, sort_keys=True) + "\n")
            self._fh.flush()

    def v2_playbook_on_play_start(self, play):
        self._play = play.get_name()
        self._emit(ev="play", play=self._play)

    def _ran(self, result, status):
        task = result._task
        role = task._role.get_name(include_role_fqcn=False) if task._role is not None else ""
        name = task.get_name(include_role_fqcn=False)
        name = name[len(role) + 3:] if role and name.startswith(role + " : ") else name
        base = dict(ev="result", play=self._play, role=role, task=name,
                    action=task.action, host=result._host.get_name(), status=status)
        items = result._result.get("results") if isinstance(result._result, dict) else None
        if isinstance(items, list):
            for item in items:
                if isinstance(item, dict) and not item.get("skipped"):
                    self._emit(item=str(item.get("_ansible_item_label", item.get("item"))), **base)
        else:
            self._emit(**base)

    def v2_runner_on_ok(self, result):
        self._ran(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._ran(result, "ignored" if ignore_errors else "failed")

    def v2_runner_on_unreachable(self, result):
        self._ran(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        if self._fh is not None:
            self._fh.close()
            self._fh = None
