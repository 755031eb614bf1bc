# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of clarafl.federation.fl_run_lock: the lock lives on a managed host, but only the
controller can tell whether the ansible-playbook run that holds it is still going. A lock left by a
run of this controller that is over is taken over, and the result says so."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket

from ansible.plugins.action import ActionBase

from ansible_collections.clarafl.federation.plugins.module_utils.run_lock import holder_stale, pid_exists


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = dict(self._task.args)
        outcome = self._execute_module(module_name="clarafl.federation.fl_run_lock", module_args=args,
                                       task_vars=task_vars)
        holder = outcome.get("holder")
        if (args.get("state", "present") == "present" and not args.get("steal") and not outcome.get("acquired")
                and isinstance(holder, dict) and holder_stale(holder, socket.gethostname(), exists=pid_exists)):
            args["steal"] = True
            outcome = self._execute_module(module_name="clarafl.federation.fl_run_lock", module_args=args,
                                           task_vars=task_vars)
            outcome["stale"] = True
        result.update(outcome)
        return result
