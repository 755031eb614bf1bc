# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of clarafl.federation.fl_training: calls the module step by step on the admin host until the
training reaches the state asked for, and prints, while it runs, what each step did and a progress line each time
the round moves (and at least every progress_interval seconds): a training of hours is followed, not silent."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

display = Display()

# The states after which the module is not called again, per state asked for.
DONE = {"finished": ("finished", "left_alone", "needs_restart", "preview", "rejoined"),
        "started": ("started", "training", "validating", "finished", "left_alone", "needs_restart", "preview",
                    "rejoined"),
        "rejoined": ("rejoined", "needs_restart", "preview")}
SERVER_POLL = 3.0


def progress_line(progress, between=False):
    """One line for a step's progress: the run, its round, each site's contributions and the time since its start
    (BETWEEN: a round that passed between two readings, with the contributions of the later one)."""
    if not isinstance(progress, dict) or progress.get("run_number") is None:
        return None
    elapsed = " (%d s)" % progress["elapsed"] if isinstance(progress.get("elapsed"), (int, float)) else ""
    if "validation" in progress:
        return "run %s: cross-site validation (%s so far; validating: %s)%s" % (
            progress["run_number"], progress["validation"], ", ".join(progress.get("validating") or []) or "none",
            elapsed)
    counts = progress.get("contributions") or {}
    return "run %s: round %s of %s%s, contributions %s%s" % (
        progress["run_number"], "-" if progress.get("round") is None else progress["round"],
        progress.get("max_round") or "?", " (passed between two readings)" if between else "",
        ", ".join("%s=%s" % (s, counts[s]) for s in sorted(counts)) or "none yet",
        elapsed)


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = dict(self._task.args)
        done = DONE[args.get("state") or "finished"]
        interval = float(args.get("progress_interval") or 60)
        begun, messages, changed, shown, server_lost, deployed = time.time(), [], False, (None, 0.0), None, False
        while True:
            outcome = self._execute_module(module_name="clarafl.federation.fl_training", module_args=args,
                                           task_vars=task_vars)
            changed = changed or bool(outcome.get("changed"))
            deployed = deployed or bool(outcome.get("deployed"))
            said = list(outcome.get("messages") or [])
            plan = (outcome.get("plan") or {}).get("message")
            # The decision is said once, unless the call brings sites back (its lines say what is done).
            if not messages and plan and plan not in said and not outcome.get("failed") and not args.get("rejoin"):
                said.insert(0, plan)
            # The end is said after the last rounds' lines.
            end = said[-1:] if outcome.get("state") == "finished" and outcome.get("summary") and said else []
            for line in said[:len(said) - len(end)]:
                display.display(line)
            messages.extend(said)
            now = time.time()
            progress = outcome.get("progress") or {}
            key = (progress.get("run_number"), progress.get("round"), progress.get("validation"))
            if progress_line(progress) and (key != shown[0] or now - shown[1] >= interval):
                # Rounds that passed between two readings get their line too (one round may take under a second).
                last = shown[0][1] if shown[0] and shown[0][0] == key[0] else None
                if isinstance(last, int) and isinstance(key[1], int) and key[1] > last + 1:
                    for passed in range(last + 1, key[1]):
                        display.display(progress_line(dict(progress, round=passed), between=True))
                display.display(progress_line(progress))
                shown = (key, now)
            for line in end:
                display.display(line)
            # A rejoin is asked for once (unless the server could not be read yet); the steps after it go on from the
            # record.
            if outcome.get("state") != "waiting_server":
                args["rejoin"] = []
            if outcome.get("deployed"):
                args["restart"] = False
            if outcome.get("failed") or outcome.get("state") in done or self._task.check_mode:
                break
            if outcome.get("state") == "waiting_server":
                if server_lost is None:
                    server_lost = now
                    display.display("The FL server stopped answering during run %s (%s): waiting up to %d s for it."
                                    % (outcome.get("run_number"), outcome.get("server_error"),
                                       float(args.get("server_timeout") or 300)))
                elif now - server_lost > float(args.get("server_timeout") or 300):
                    outcome.update(failed=True, msg="The FL server stopped answering during run %s and did not come "
                                                    "back within %d s: %s. Start it (site.yml --tags fl_server), then "
                                                    "run again." % (outcome.get("run_number"),
                                                                    float(args.get("server_timeout") or 300),
                                                                    outcome.get("server_error")))
                    break
                time.sleep(SERVER_POLL)
                continue
            server_lost = None
            if now - begun > float(args.get("wait_timeout") or 1800):
                outcome.update(failed=True, msg="Run %s had not finished after %d s (last seen: %s): see "
                                                "playbooks/status.yml and the server's log." % (
                                                    outcome.get("run_number"), float(args.get("wait_timeout") or 1800),
                                                    progress_line(progress) or outcome.get("state")))
                break
        outcome.update(changed=changed, messages=messages, deployed=deployed)
        result.update(outcome)
        return result
