# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the fl_admin role does with a training run: one decision, made from what the role recorded
and what the server says, returned as a plan the role shows before it acts.

* The record (``clarafl-training.json``): {run_number, mmar, phase, started_at, repeat_lost_run, ...}; phase is
  ``deploying`` (written before the deploy), ``started`` (written once the run was started) or ``finished``.
* The recorded run's summary (``run_<N>-summary.json``): {finished, started_at, rounds_done, num_rounds}.
* The live status as the admin modules return it (the dialect's parse_status): {run_number, server_status,
  current_round, max_round, clients: {site: {status}}}; None in check mode (or without a console): the plan then
  says what a real run would do, from the record alone.

No run number asked for (None) means the latest run the record names (run 1 when there is none): a converge
leaves a federation that moved on (a later run started by playbooks/train.yml) alone instead of refusing it.

Any of them may be missing, None, JSON text, or an older or garbled version: what cannot be read counts
as absent, and a field that cannot be read as missing. Nothing here raises on them.

Actions: ``start``, ``restart``, ``resume`` (the server lost a run this role started: trained again),
``in_progress`` (training now: left alone and followed), ``finished`` (left alone, its summary read
back), ``unknown`` (a run this role did not start: left alone), ``refuse`` (an earlier run than the one
recorded: its results are in its own run folder), ``lost`` (the server lost a run whose record says it must not
be repeated: stopped with that sentence).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.clarafl.federation.plugins.module_utils import _dialect_clara40 as dialect

ACTIONS = ("start", "restart", "resume", "in_progress", "finished", "unknown", "refuse", "lost")
DEPLOY_ACTIONS = ("start", "restart", "resume")
FOLLOW_ACTIONS = ("start", "restart", "resume", "in_progress")
TRAINING = dialect.TRAINING
CHECK_MODE = "Check mode: "
_TRUE = ("true", "yes", "on", "y", "t", "1")


def read_record(value):
    """The dictionary a record holds: a dictionary as it is, JSON text of one parsed; None for anything
    else (None, empty or garbled text, a list, a number)."""
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def _int(value):
    """A whole number from an int, an integral float or digits; None otherwise (booleans included)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, (str, bytes)):
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        try:
            return int(text.strip())
        except ValueError:
            return None
    return None


def _true(value):
    """True, 1 and the words Ansible reads as true ('yes', 'true', 'on', ...); False for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value == 1
    if isinstance(value, str):
        return value.strip().lower() in _TRUE
    return False


def _shown(value):
    """A field as the user reads it: '?' when it is missing or empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return "?"
    return str(value)


def _names(sites):
    if isinstance(sites, str):
        sites = [sites]
    if not isinstance(sites, (list, tuple)):
        return []
    return [str(site) for site in sites if site not in (None, "")]


def _session(record):
    """The started_at of a record or summary, or None when it has none it can be told by."""
    started_at = record.get("started_at")
    if isinstance(started_at, str) and started_at.strip():
        return started_at.strip()
    return None


def _finished_here(record, summary):
    """The summary says the run finished, and it is the very session the record names (an older
    session's summary of the same run number does not count)."""
    if record.get("phase") == "finished":
        return True
    session = _session(record)
    return _true(summary.get("finished")) and session is not None and _session(summary) == session


def _stale_sites(clients, sites):
    """Sites the status shows still training: in the order the status lists them, only the federation's
    own sites when they are given."""
    if not isinstance(clients, dict):
        return []
    stale = []
    for name, client in clients.items():
        if not isinstance(client, dict) or client.get("status") != TRAINING:
            continue
        if sites and str(name) not in sites:
            continue
        stale.append(str(name))
    return stale


def _what_would_start(number, sites, mmar, num_rounds):
    return ("would stage MMAR %s, wait until sites %s answer the server, then set run number %d, upload, deploy "
            "and start it%s" % (mmar, ", ".join(sites) or "(none)", number,
                                "" if num_rounds in (None, "") else " for %s round(s)" % num_rounds))


def _what_starts(number, sites, mmar, num_rounds, again=False):
    return ("deploying MMAR %s to sites %s and %s run %d%s%s" % (
        mmar or "?", ", ".join(sites) or "(none)", "training" if again else "starting", number,
        " again from the start" if again else "", "" if num_rounds in (None, "") else " for %s round(s)" % num_rounds))


def _refusal(number, recorded):
    """Why an earlier run is refused (it follows "Run " or "run ")."""
    return ("%d is an earlier run than run %d, the last run this role started, and its results are in its own run "
            "folder (run_%d)" % (number, recorded, number))


_AFTER_REFUSAL = ("Set fl_admin_restart_training=true to train run %d again from scratch, or a new "
                  "fl_admin_run_number to start a new run.")


def _preview(number, restart, record, summary, sites, mmar, num_rounds):
    """What a real run would do, from the record alone (the same sentences check mode always said)."""
    recorded = _int(record.get("run_number"))
    phase = record.get("phase") if recorded == number else None
    start = _what_would_start(number, sites, mmar, num_rounds)
    if restart:
        return "restart", "fl_admin_restart_training is set: %s (any training of run %d is stopped first)." % (
            start, number)
    if recorded is not None and recorded > number:
        return "refuse", "run %s: a real run would refuse it. %s" % (_refusal(number, recorded),
                                                                     _AFTER_REFUSAL % number)
    if phase not in ("started", "deploying", "finished"):
        return "start", "run %d was not started by this role: %s." % (number, start)
    if phase == "deploying":
        return "start", "run %d was being deployed when the last run stopped: %s." % (number, start)
    if _finished_here(record, summary):
        return "finished", ("run %d was started on %s and has finished (%s of %s round(s)): it would be left alone."
                            % (number, _shown(record.get("started_at")), _shown(summary.get("rounds_done")),
                               _shown(summary.get("num_rounds"))))
    return "in_progress", ("run %d was started on %s and has not finished: a real run would follow it to its last "
                           "round, or train it again if the server has lost it."
                           % (number, _shown(record.get("started_at"))))


def _decide(number, restart, record, summary, status):
    """The action for the live status (the role's rules, in the order they apply)."""
    recorded = _int(record.get("run_number"))
    phase = record.get("phase") if recorded == number else None
    server_run = _int(status.get("run_number"))
    training = status.get("server_status") == TRAINING
    if server_run == number and training:
        return "restart" if restart else "in_progress"
    if restart:
        return "restart"
    if recorded is not None and recorded > number:
        return "refuse"
    if server_run != number:
        if phase in ("started", "finished"):
            if _finished_here(record, summary) or phase == "finished":
                return "finished"
            return "lost" if record.get("repeat_lost_run") is False else "resume"
        return "start"
    if phase in ("started", "finished"):
        return "finished"
    if phase == "deploying":
        return "start"
    return "unknown"


def _message(action, number, record, status, stop_first, sites, mmar, num_rounds, asked=True):
    started_at = _shown(record.get("started_at"))
    rounds = "round %s of %s" % (_shown(status.get("current_round")), _shown(status.get("max_round")))
    stop = ""
    if stop_first:
        stop = "stopping the training of run %s (%s), then " % (_shown(status.get("run_number")), rounds)
    starts = _what_starts(number, sites, mmar, num_rounds)
    if action == "in_progress":
        return "Run %d is training (%s): it goes on." % (number, rounds)
    if action == "finished" and not asked:
        return "Run %d finished: left alone." % number
    if action == "finished":
        return ("Run %d was started on %s and has finished: left alone. Set fl_admin_restart_training=true to train "
                "it again, or a new fl_admin_run_number." % (number, started_at))
    if action == "lost":
        return ("The server no longer knows run %d, which was training (started %s): it was restarted during the "
                "training and lost the run's state. Run %d is not trained again: its record says a lost run must not "
                "be repeated (fl_admin_repeat_lost_run was false when it started). Set fl_admin_restart_training=true "
                "to train it again from the start, or a new fl_admin_run_number." % (number, started_at, number))
    if action == "unknown":
        return ("Run %d already exists on the server and was not started by this role: left alone. Set "
                "fl_admin_restart_training=true to train it, or a new fl_admin_run_number." % number)
    if action == "refuse":
        return "Run %s: refused. %s" % (_refusal(number, _int(record.get("run_number"))), _AFTER_REFUSAL % number)
    if action == "resume":
        return ("The server no longer knows run %d, which was training (started %s): it was restarted during the "
                "training and lost the run's state. Training run %d again from the start%s." % (
                    number, started_at, number,
                    "" if not stop_first else ", once the training of run %s (%s) is stopped" % (
                        _shown(status.get("run_number")), rounds)))
    if action == "restart":
        return "fl_admin_restart_training is set: %s%s." % (
            stop, _what_starts(number, sites, mmar, num_rounds, again=True))
    if _int(record.get("run_number")) == number and record.get("phase") == "deploying":
        return "Run %d was being deployed when the last run of this role stopped: %s%s." % (number, stop, starts)
    return "Run %d was not started yet: %s%s." % (number, stop, starts)


def run_number_of(run_number, state=None):
    """The run number to act on: the one asked for, or the latest the record names, or 1."""
    if run_number is None or (isinstance(run_number, str) and not run_number.strip()):
        return _int((read_record(state) or {}).get("run_number")) or 1
    number = _int(run_number)
    if number is None:
        raise ValueError("the run number must be a whole number, got %r" % (run_number,))
    return number


def plan_run(run_number, restart=False, state=None, summary=None, status=None, sites=(), mmar="", num_rounds=None):
    """The plan for run run_number: a dictionary with

    * ``action``: one of ACTIONS;
    * ``message``: one sentence that says what is done and why ("Check mode: " first in a preview);
    * ``stop_first``: a training is going on and is aborted before the deploy;
    * ``stale_sites``: sites the status shows still training while the server does not train (they are
      stopped before the deploy; only when the role deploys);
    * ``deploy``: the role deploys and starts the run (start, restart, resume);
    * ``follow``: the role follows the training to its end and writes its summary (start, restart, resume,
      in_progress); a finished run's summary is read back instead;
    * ``preview``: status is None (check mode, or no console): what a real run would do, from the record;
    * ``previous``: the role's record as read ({} when there is none or it cannot be read).

    * ``run_number``: the run acted on (run_number_of: the one asked for, or the record's latest).

    run_number must be a whole number or None (ValueError otherwise); every other input may be missing or garbled.
    """
    number = run_number_of(run_number, state)
    asked = not (run_number is None or (isinstance(run_number, str) and not run_number.strip()))
    restart = _true(restart)
    record = read_record(state) or {}
    kept = read_record(summary) or {}
    sites = _names(sites)
    mmar = "" if mmar is None else str(mmar).strip()
    if not isinstance(status, dict):
        action, sentence = _preview(number, restart, record, kept, sites, mmar, num_rounds)
        return {
            "action": action,
            "message": CHECK_MODE + sentence,
            "stop_first": False,
            "stale_sites": [],
            "deploy": action in DEPLOY_ACTIONS,
            "follow": action in FOLLOW_ACTIONS,
            "preview": True,
            "previous": record,
            "run_number": number,
        }
    action = _decide(number, restart, record, kept, status)
    deploy = action in DEPLOY_ACTIONS
    training = status.get("server_status") == TRAINING
    stop_first = deploy and training
    stale = _stale_sites(status.get("clients"), sites) if deploy and not training else []
    return {
        "action": action,
        "message": _message(action, number, record, status, stop_first, sites, mmar, num_rounds, asked),
        "stop_first": stop_first,
        "stale_sites": stale,
        "deploy": deploy,
        "follow": action in FOLLOW_ACTIONS,
        "preview": False,
        "previous": record,
        "run_number": number,
    }
