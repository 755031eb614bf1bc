# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of clarafl.federation.fl_host_check: with a run lock to take, only the controller can tell
whether the ansible-playbook run that holds it is still going. A lock left by a run of this controller that is over
is taken over (the module runs once more, told to), and the result says so."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import socket

from ansible.plugins.action import ActionBase

from ansible_collections.clarafl.federation.plugins.module_utils.run_lock import holder_stale, pid_exists


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = copy.deepcopy(dict(self._task.args))
        outcome = self._execute_module(module_name="clarafl.federation.fl_host_check", module_args=args,
                                       task_vars=task_vars)
        lock = outcome.get("lock") or {}
        holder = lock.get("holder")
        if (isinstance(args.get("lock"), dict) and not args["lock"].get("steal") and lock.get("held_by_other")
                and not lock.get("acquired") and isinstance(holder, dict)
                and holder_stale(holder, socket.gethostname(), exists=pid_exists)):
            args["lock"]["steal"] = True
            outcome = self._execute_module(module_name="clarafl.federation.fl_host_check", module_args=args,
                                           task_vars=task_vars)
            if isinstance(outcome.get("lock"), dict):
                outcome["lock"]["stale"] = True
        result.update(outcome)
        return result
