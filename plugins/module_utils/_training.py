# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The training program of ``clarafl.federation.fl_training``: one bounded step towards a training's end.

Each step reads the record (``clarafl-training.json`` in the admin kit folder) and the live status, asks the one
place that decides (``_training_plan.plan_run``) what to do with the run, and does one bounded thing: brings back
the sites it was told were restarted, forgets the sites that left, deploys and starts the run (with the late and
hung starts the engine is known for), follows it for at most ``progress_interval`` seconds or until its round
moves, or, once it ended, waits for its cross-site validation and writes its summary. What it saw (the round, the
highest contribution count of each site, the sites restarted) is kept in the record, so that the next step, the
next playbook or another controller go on from there.

Recovery has one place here: a site that lags behind and no longer answers the server (a killed container), a site
whose start hangs, or a site that makes no progress is named in ``restart_sites`` with why; the caller restarts its
container on its machine and calls again with ``rejoin``, and the step brings it back into the running training.
An engine complaint is never blamed on the app: only the app's own tracebacks (``_engine_log.failure_lines``) fail
a training, quoting the lines that decided it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os
import tempfile
import time

from ansible_collections.clarafl.federation.plugins.module_utils import _engine_log as engine_log
from ansible_collections.clarafl.federation.plugins.module_utils import run_lock
from ansible_collections.clarafl.federation.plugins.module_utils._admin_console import ConsoleError
from ansible_collections.clarafl.federation.plugins.module_utils._training_plan import plan_run, run_number_of
from ansible_collections.clarafl.federation.plugins.module_utils._training_sites import (REDEPLOYS, SiteSteps,
                                                                                         TrainingFailed)
from ansible_collections.clarafl.federation.plugins.module_utils.cross_validation import (
    matrix_lines, validation_matrix)
from ansible_collections.clarafl.federation.plugins.module_utils.mmar_config import run_summary

POLL = 1.0                # seconds between two readings of the server's status while a training runs
VALIDATION_SETTLE = 15.0  # once no site validates for this long, no more results come
START_GRACE = 60.0        # a run just started may still show as stopped for this long
COMMAND_TIMEOUT = 120     # the deploy and the start wait this long for their replies
IDLE_AFTER = 10.0         # a round that does not move for this long has each site's answer read
STOP_WAIT = 60.0          # how long an aborted training is given to stop before the next run is deployed
HEARTBEAT = 60.0          # the project's run lock is said alive at most this often while a training is followed
RECORD = "clarafl-training.json"
STATES = ("preview", "waiting_server", "started", "training", "validating", "finished", "left_alone",
          "needs_restart", "rejoined")


class Records(object):
    """The record and the runs' summaries, files in FOLDER on the admin host (0640)."""

    def __init__(self, folder):
        self.folder = folder

    def _read(self, name):
        try:
            with open(os.path.join(self.folder, name)) as handle:
                value = json.load(handle)
        except (IOError, OSError, ValueError):
            return {}
        return value if isinstance(value, dict) else {}

    def _write(self, name, value):
        handle, path = tempfile.mkstemp(dir=self.folder, prefix="." + name)
        with os.fdopen(handle, "w") as out:
            out.write(json.dumps(value, indent=2, sort_keys=True) + "\n")
        os.chmod(path, 0o640)
        os.rename(path, os.path.join(self.folder, name))

    def record(self):
        return self._read(RECORD)

    def save(self, record):
        self._write(RECORD, record)

    def summary(self, number):
        return self._read("run_%s-summary.json" % number)

    def save_summary(self, number, summary):
        self._write("run_%s-summary.json" % number, summary)


def _names(sites):
    return ", ".join(sites)


def behind(status, sites):
    """The sites of a training that lag behind the others: not registered, or with fewer contributions than the
    site that has the most (a site at the top waits for the others, whatever it answers)."""
    counts = dict((c.get("name"), c.get("contribution_count")) for c in status.get("registered_clients") or [])
    top = max([c for c in counts.values() if isinstance(c, int)] or [0])
    return [s for s in sites if not isinstance(counts.get(s), int) or counts[s] < top]


def answering(clients, site, dialect):
    """The site answers the server's ``check_status client``."""
    state = ((clients or {}).get(site) or {}).get("status")
    return state is not None and state not in (dialect.NO_ANSWER, dialect.EXCEPTION)


def idle(clients, sites, dialect):
    """The sites that answer the server but do not train (a site that restarted by itself, or whose start was
    lost), while the server trains."""
    return [s for s in sites if ((clients or {}).get(s) or {}).get("status") in (dialect.NOT_STARTED, dialect.STOPPED)]


class Training(SiteSteps):
    """One step of a training (see the module's documentation for PARAMS)."""

    def __init__(self, console, params, records, check_mode=False, clock=None, sleep=None):
        self.console = console
        self.d = console.dialect
        self.p = params
        self.records = records
        self.check_mode = check_mode
        self.clock = clock or time.time
        self.sleep = sleep or time.sleep
        self.sites = list(params["sites"])
        self.out = dict(changed=False, state=None, said=[], progress=None, restart_sites=[], rejoined={},
                        results=[], status={}, summary=None, plan=None, failed=False)
        self.record = {}
        self.number = None
        self.begun = self.clock()

    # ---------------------------------------------------------------------------------------------- helpers
    def say(self, line):
        self.out["said"].append(line)

    def send(self, commands, timeout=None):
        """Send admin commands on one login; ConsoleError (with the results) when one fails."""
        try:
            results, _result = self.console.run(commands, expected_sites=None, timeout=timeout)
        except ConsoleError as exc:
            self.out["results"].extend(exc.details.get("results") or [])
            self.out["changed"] = self.out["changed"] or any(r.get("changed") for r in exc.details.get("results") or [])
            raise
        self.out["results"].extend(results)
        self.out["changed"] = self.out["changed"] or any(r.get("changed") for r in results)
        return results

    def status(self, clients=True):
        """The federation's status; with CLIENTS false only the server's (cheap: no site is asked)."""
        if clients:
            status = self.console.status()
        else:
            results, _result = self.console.run([self.d.STATUS_COMMANDS[0]])
            status = self.d.parse_status(results[0]["reply"], None)
        self.out["status"] = status
        self.remember_tokens(status)
        return status

    def save(self):
        if not self.check_mode:
            self.records.save(self.record)

    def now_iso(self):
        return datetime.datetime.utcfromtimestamp(self.clock()).replace(microsecond=0).isoformat() + "+00:00"

    def progress(self, status):
        started = self.record.get("started_epoch")
        if not isinstance(started, (int, float)) and self.record.get("started_at"):
            try:  # a record written before started_epoch was kept
                stamp = datetime.datetime.strptime(self.record["started_at"][:19], "%Y-%m-%dT%H:%M:%S")
                started = (stamp - datetime.datetime(1970, 1, 1)).total_seconds()
            except ValueError:
                started = None
        self.out["progress"] = dict(
            run_number=self.number, server_status=status.get("server_status"), round=status.get("current_round"),
            max_round=status.get("max_round") or self.record.get("max_round"),
            contributions=dict(self.record.get("contributions") or {}),
            elapsed=round(self.clock() - started, 1) if isinstance(started, (int, float)) else None)

    def note(self, status):
        """Keep what the status shows of this run in the record: the round and since when, the highest count of
        each site's contributions (the server resets them when a run ends), whether it was seen training."""
        if status.get("run_number") != self.number:
            return
        if status.get("server_status") == self.d.TRAINING:
            self.record["seen_training"] = True
        if isinstance(status.get("max_round"), int):
            self.record["max_round"] = status["max_round"]
        counts = self.record.setdefault("contributions", {})
        for client in status.get("registered_clients") or []:
            count = client.get("contribution_count")
            if isinstance(count, int) and count > counts.get(client.get("name"), 0):
                counts[client.get("name")] = count
        current = status.get("current_round")
        if current is not None and current != self.record.get("round"):
            self.record["round"] = current
            self.record["round_at"] = self.clock()
        self.record.setdefault("round_at", self.clock())

    def restart_or_fail(self, sites, why, before_run=False):
        """Name SITES for a restart of their containers (state needs_restart), or fail when a site was restarted
        fl_admin_max_recoveries times already (or recovery is off)."""
        limit = int(self.p["max_recoveries"])
        restarts = self.record.get("restarts") or {}
        spent = [s for s in sites if restarts.get(s, 0) >= limit]
        partners = [s for s in sites if s in (self.p.get("partner_sites") or [])]
        if partners:
            # Never restarted from here: their organization runs their containers.
            raise TrainingFailed(
                "Run %s waits for partner site(s) %s (%s), which this controller does not run: ask %s to restart "
                "%s container (the console's 'restart client <site>' also works), then run again."
                % (self.number, _names(partners), why, self.contacts(partners), "its" if len(partners) == 1
                   else "their"))
        if spent:
            if before_run:
                raise TrainingFailed(
                    "Sites %s did not answer the server (%s): check their containers (docker logs of each site's "
                    "container on its machine) and that they reach the server on the FL port." % (_names(sites), why))
            raise TrainingFailed(
                "Run %s is stuck on site(s) %s (%s), still after %d restart(s): see their logs (%s)."
                % (self.number, _names(sites), why, limit, "; ".join(
                    "%s: %s" % (s, (self.p.get("log_files") or {}).get(s, "log.txt in its kit folder")) for s in sites)))
        pending = self.record.setdefault("pending", {})
        for site in sites:
            pending[site] = why
        self.record["pending_run"] = self.number
        self.save()
        self.out.update(state="needs_restart", restart_sites=list(sites))
        self.say("Site%s %s must be restarted: %s." % ("" if len(sites) == 1 else "s", _names(sites), why))
        for target, lines in sorted((self.record.get("complaints") or {}).items()):
            self.say("The engine's own complaint in the %s's log (a site that gave no reply, not the app): %s"
                     % (target if target == "server" else "site " + target, "; ".join(lines)))
        return self.out

    # ---------------------------------------------------------------------------------------------- logs
    def diagnose(self, targets):
        """{target: [lines]} of the logs of TARGETS (server, sites) that show the app failing. A site the server no
        longer has registered has no log the console can read: it is left out (naming it would refuse every read)."""
        registered = [c.get("name") for c in self.out["status"].get("registered_clients") or []]
        targets = [t for t in targets if t == "server" or t in registered]
        texts = self.console.read([engine_log.tail_command(t, dialect=self.d) for t in targets])
        failures, complaints = {}, {}
        for target in targets:
            text = texts.get(engine_log.tail_command(target, dialect=self.d), "")
            lines = engine_log.failure_lines(text, self.d)
            if lines:
                failures[target] = lines
            said = engine_log.engine_complaints(text, self.d)
            if said:
                complaints[target] = said
        # Kept to be said when a site is restarted: the engine's own complaint, never the app's failure.
        self.record["complaints"] = complaints
        return failures

    def failed_app(self, failures, stop=True):
        """Fail quoting the app's lines; a training that waits for rounds that never come is stopped first."""
        msg = "The training failed: The engine's logs say why (the latest training attempt):\n" + "\n".join(
            engine_log.quote_failures(failures, self.p.get("log_files"), self.d))
        if stop and not self.check_mode:
            try:
                self.send(["abort client", "abort server"])
                msg += "\nThe training was stopped (abort client, abort server): fix the app, then run again."
            except ConsoleError as exc:
                msg += "\nStopping the training failed too: %s" % exc
        raise TrainingFailed(msg, failures=failures)

    def explain(self, exc, targets):
        """Fail with a command's failure, and what the logs of TARGETS say about it."""
        try:
            failures = self.diagnose(targets) if self.p["diagnose_after"] else {}
        except ConsoleError:
            failures = {}
        msg = str(exc)
        if failures:
            msg += "\nThe engine's logs say why (the latest training attempt):\n" + "\n".join(
                engine_log.quote_failures(failures, self.p.get("log_files"), self.d))
        raise TrainingFailed(msg, failures=failures)

    # ---------------------------------------------------------------------------------------------- the step
    def step(self):
        """One bounded step: the module's result (dict); failed with msg when the training cannot go on."""
        try:
            return self._step()
        except TrainingFailed as exc:
            self.out.update(failed=True, msg=str(exc), **exc.details)
        except ConsoleError as exc:
            self.out.update(failed=True, msg=str(exc), reason=exc.kind)
        return self.out

    def _step(self):
        self.record = self.records.record()
        self.number = run_number_of(self.p["run_number"], self.record)
        self.out["run_number"] = self.number
        if self.check_mode:
            return self.preview()
        self.heartbeat()
        try:
            status = self.status()
        except ConsoleError as exc:
            if self.record.get("phase") == "started" and exc.kind in ("login", "timeout", "container", "driver"):
                # A server restarted during the training comes back without the run: the next steps say so.
                self.out["state"] = "waiting_server"
                self.out["server_error"] = str(exc)
                return self.out
            raise
        if self.p["rejoin"]:
            status = self.rejoin(status, self.p["rejoin"])
        if self.p["state"] == "rejoined":
            self.out["state"] = "rejoined"
            return self.out
        status = self.forget_departed(status)
        plan = self.plan(status)
        if plan["action"] in ("refuse", "lost"):
            raise TrainingFailed(plan["message"])
        if plan["deploy"]:
            return self.deploy(plan, status)
        if plan["action"] == "in_progress":
            return self.follow(status)
        if plan["action"] == "finished":
            return self.finish(status)
        self.out["state"] = "left_alone"
        return self.out

    def heartbeat(self):
        """Keep the project's run lock alive while a training is followed for hours (another controller's run would
        take over a lock without heartbeats); a lock that is no longer this run's (broken by playbooks/stop.yml)
        ends the following, the training itself left as it is."""
        lock = self.p.get("lock") or {}
        if not lock.get("path") or not lock.get("holder"):
            return
        if self.clock() - float(self.record.get("heartbeat_at") or 0) < HEARTBEAT:
            return
        try:
            beat = run_lock.heartbeat(lock["path"], lock["holder"])
        except (run_lock.RunLockError, ValueError) as exc:
            raise TrainingFailed("The project's run lock at %s cannot be kept alive: %s" % (lock["path"], exc))
        if not beat["refreshed"]:
            other = beat.get("holder")
            raise TrainingFailed(
                "The project's run lock at %s is no longer this run's (%s): playbooks/stop.yml breaks it to stop a "
                "training, or another run took it over. This run stops following run %d; the training itself is left "
                "as it is." % (lock["path"], "now held by " + run_lock.describe(other) if other else "it is gone",
                               self.number))
        self.record["heartbeat_at"] = self.clock()

    def plan(self, status):
        # The run number as asked (None: the record's latest), so that the plan's sentence says which it was.
        plan = plan_run(self.p["run_number"], self.p["restart"], self.record, self.records.summary(self.number),
                        status, self.sites, self.p["mmar"], self.p["num_rounds"])
        self.out["plan"] = plan
        return plan

    def preview(self):
        """Check mode: what a real step would do, from the live status when the server answers, else the record."""
        try:
            status = self.status()
        except ConsoleError:
            status = None
        plan = plan_run(self.p["run_number"], self.p["restart"], self.record, self.records.summary(self.number),
                        status, self.sites, self.p["mmar"], self.p["num_rounds"])
        message = plan["message"] if plan["preview"] else "Check mode: " + plan["message"]
        self.out.update(state="preview", plan=plan, changed=plan["deploy"] or bool(self.p["rejoin"]))
        if self.p["rejoin"]:
            self.say("Check mode: would bring back %s into the federation." % _names(self.p["rejoin"]))
        self.say(message)
        return self.out

    def deploy(self, plan, status):
        """Wait for every site, stop what must stop, then set the run number, upload, deploy and start."""
        mmar = self.p["mmar"]
        if not mmar:
            raise TrainingFailed("Run %d is to be started, but no MMAR was named (mmar)." % self.number)
        if self.p.get("staged") and not os.path.isdir(os.path.join(self.p["staged"], "config")):
            raise TrainingFailed("MMAR %s is not staged at %s (it has no config/ folder): stage it first (the fl_admin "
                                 "role does, before it trains)." % (mmar, self.p["staged"]))
        self.say(plan["message"])
        status, missing = self.wait_answering(status, self.sites, self.p["registration_timeout"])
        if missing:
            return self.restart_or_fail(missing, "they did not answer the server within %d s"
                                        % self.p["registration_timeout"], before_run=True)
        status, absent = self.wait_partners(status)
        if absent is None:  # the missing partner sites were named: shown now, deployed by the next step
            self.out["state"] = "starting"
            return self.out
        if plan["stop_first"]:
            self.send(["abort client", "abort server"])
            status = self.wait_stopped()
        if plan["stale_sites"] or plan["action"] == "resume":
            # A server restarted during a training lost the run, but the sites that stayed up may still train it
            # (and answer a start with "already in training"): stop them all. A site too busy to answer is judged by
            # the deploy, which is sent to it again.
            try:
                self.send(["abort client %s" % " ".join(plan["stale_sites"]) if plan["action"] != "resume"
                           else "abort client"])
            except ConsoleError:
                pass
            status = self.wait_stopped()
        # The sites restarted for this run, and why, stay counted when it is deployed again (a lost run).
        same = (self.record.get("run_number") == self.number and self.record.get("phase") != "finished") or \
            self.record.get("pending_run") == self.number
        kept = dict((k, self.record[k]) for k in ("restarts", "healed", "pending") if same and k in self.record)
        kept.update((k, self.record[k]) for k in ("heartbeat_at", "tokens") if k in self.record)
        self.record = dict(run_number=self.number, mmar=mmar, phase="deploying", sites=self.sites,
                           num_rounds=self.p["num_rounds"], repeat_lost_run=self.p["repeat_lost_run"],
                           cross_site_validation=bool(self.p["cross_site_validation"]),
                           partners=[s for s in self.p.get("partner_sites") or [] if s not in absent],
                           missing_partners=absent,
                           resumed=plan["action"] == "resume", **kept)
        self.save()
        try:
            self.send(["set_run_number %d" % self.number, "upload_folder %s" % mmar, "deploy %s server" % mmar],
                      timeout=COMMAND_TIMEOUT)
        except ConsoleError as exc:
            self.explain(exc, ["server"])
        undeployed = self.deploy_clients(mmar)
        try:
            self.send(["start server"], timeout=COMMAND_TIMEOUT)
        except ConsoleError as exc:
            self.explain(exc, ["server"])
        hung = self.start_sites([s for s in self.taking_part() if s not in undeployed])
        self.record.update(phase="started", started_at=self.now_iso(), started_epoch=self.clock(),
                           round=None, round_at=self.clock(), contributions={}, seen_training=False)
        self.save()
        self.say("Run %d started on %s: set_run_number, upload_folder %s, deploy to the server and %s, start."
                 % (self.number, self.now_iso(), mmar, _names(self.sites)))
        self.out.update(changed=True, deployed=True)
        self.progress({"run_number": self.number, "server_status": self.d.TRAINING, "current_round": 0,
                       "max_round": self.p["num_rounds"]})
        if undeployed or hung:
            why = []
            if undeployed:
                why.append("%s did not answer the deploy, still after it was sent %d more times"
                           % (_names(undeployed), REDEPLOYS))
            if hung:
                why.append("the start of %s hung (no answer to 'start client', still after it was sent again)"
                           % _names(hung))
            return self.restart_or_fail(undeployed + hung, "; ".join(why))
        self.out["state"] = "started"
        return self.out

    def wait_stopped(self, seconds=STOP_WAIT):
        """The status once neither the server nor any site trains (an abort takes a moment to take effect: a
        set_run_number or a start sent at once is refused as "during the FL training"), or after SECONDS."""
        deadline = self.clock() + seconds
        while True:
            try:
                status = self.status()
            except ConsoleError:
                status = self.out["status"]
            clients = status.get("clients") or {}
            busy = status.get("server_status") == self.d.TRAINING or any(
                (clients.get(s) or {}).get("status") == self.d.TRAINING for s in self.taking_part())
            if not busy or self.clock() >= deadline:
                return status
            self.sleep(1.0)

    def follow(self, status):
        """Follow the training until its round moves, it ends, a site must be restarted, the app fails, or
        progress_interval seconds pass."""
        deadline = self.clock() + float(self.p["progress_interval"])
        first_round = self.record.get("round")
        clients, checked = status.get("clients") or {}, self.clock()
        while True:
            self.note(status)
            if status.get("run_number") != self.number or status.get("server_status") != self.d.TRAINING:
                self.save()
                plan = self.plan(self.status())
                if plan["deploy"]:
                    return self.deploy(plan, self.out["status"])
                return self.finish(self.out["status"]) if plan["action"] == "finished" else self.out
            now = self.clock()
            stalled = now - float(self.record.get("round_at") or now)
            self.progress(status)
            if self.record.get("round") != first_round or now >= deadline:
                break
            if stalled >= IDLE_AFTER and now - checked >= IDLE_AFTER:
                clients, checked = self.status().get("clients") or {}, self.clock()
                status = self.out["status"]
                lost = [s for s in idle(clients, self.taking_part(), self.d) if s in behind(status, self.taking_part())]
                again = [s for s in lost if (self.record.get("rejoins") or {}).get(s, 0) >= int(self.p["max_recoveries"])]
                if again:
                    return self.restart_or_fail(again, "they answer the server but do not train, still after being "
                                                       "brought back %d time(s)" % int(self.p["max_recoveries"]))
                if lost:
                    # It answers but does not train: bring it back in place, its container is fine.
                    status = self.rejoin(status, lost, restarted=False)
                    clients = status.get("clients") or {}
                    continue
            dead = [s for s in behind(status, self.taking_part()) if not answering(clients, s, self.d)]
            if dead and stalled >= float(self.p["unanswered_timeout"]) and now - checked < IDLE_AFTER:
                return self.restart_or_fail(dead, "they lag behind and stopped answering the server while the "
                                                  "training waited for them")
            if self.p["diagnose_after"] and stalled >= float(self.p["diagnose_after"]) and \
                    now - float(self.record.get("diagnosed_at") or 0) >= float(self.p["diagnose_after"]):
                self.record["diagnosed_at"] = now
                failures = self.diagnose(["server"] + [s for s in self.taking_part() if answering(clients, s, self.d)])
                if failures:
                    self.failed_app(failures)
            if self.p["stall_timeout"] and stalled >= float(self.p["stall_timeout"]):
                lagging = behind(status, self.taking_part())
                if not lagging:
                    raise TrainingFailed(
                        "Run %d has made no progress for %d s and no site lags behind the others: check the server "
                        "(its log is %s)." % (self.number, self.p["stall_timeout"],
                                              (self.p.get("log_files") or {}).get("server", "log.txt in its kit folder")))
                return self.restart_or_fail(lagging, "they had stopped making progress")
            self.sleep(POLL)
            try:
                status = self.status(clients=False)
            except ConsoleError as exc:
                # The server went away (restarted): the next steps wait for it and train the run again.
                self.save()
                self.out.update(state="waiting_server", server_error=str(exc))
                return self.out
        self.save()
        self.out["state"] = "training"
        return self.out

    def finish(self, status):
        """The run ended: its summary, once its cross-site validation is in (when asked for)."""
        summary = self.records.summary(self.number)
        if self.record.get("phase") == "finished" or (summary.get("finished") and summary.get("started_at")
                                                      and summary.get("started_at") == self.record.get("started_at")):
            self.say(self.out["plan"]["message"])
            self.out.update(state="finished", summary=summary or None)
            return self.out
        self.note(status)
        rounds = self.rounds_done()
        if not self.record.get("seen_training"):
            top = self.record.get("max_round") or self.record.get("num_rounds") or self.p["num_rounds"] or 1
            if rounds is None or rounds < top:
                failures = self.diagnose(["server"] + self.taking_part()) if self.p["diagnose_after"] else {}
                if failures:
                    self.failed_app(failures, stop=False)
                if self.clock() - float(self.record.get("started_epoch") or 0) < START_GRACE:
                    self.sleep(POLL * 2)
                    self.progress(status)
                    self.out["state"] = "training"
                    return self.out
                raise TrainingFailed("Run %d stopped without training its rounds (%s aggregated): see the server's "
                                     "log (%s)." % (self.number, rounds, (self.p.get("log_files") or {}).get(
                                         "server", "log.txt in its kit folder")))
        matrix = None
        # As asked when the run started (its configs say so), else as asked now.
        if self.record.get("cross_site_validation", self.p["cross_site_validation"]):
            matrix = self.validation()
            if matrix is None:
                return self.out
        server_log = (self.p.get("log_files") or {}).get("server", "")
        # The console cannot read metrics.jsonl (it reads .txt, .log, .json, ... only): the caller adds the metrics
        # from the server's machine (metrics_read false until then).
        summary = run_summary(
            "", engine_rounds=rounds,
            num_rounds=self.record.get("max_round") or self.record.get("num_rounds") or self.p["num_rounds"],
            contributions=self.record.get("contributions") or {}, run_number=self.number,
            mmar=self.record.get("mmar") or self.p["mmar"], started_at=self.record.get("started_at", ""),
            finished=True, sites=(self.record.get("sites") or self.sites) + list(self.record.get("partners") or []),
            missing_partners=self.record.get("missing_partners") or [], healed=self.record.get("healed") or [],
            server_recovered=bool(self.record.get("resumed")), cross_site_validation=matrix, metrics_read=False,
            metrics_path="run_%d/metrics.jsonl" % self.number)
        self.records.save_summary(self.number, summary)
        if isinstance(rounds, int):  # the engine's round counter at the end: every round aggregated
            self.progress(dict(status, run_number=self.number, current_round=rounds))
        self.record.update(phase="finished", finished_at=self.now_iso())
        self.save()
        self.say("Run %d finished: %s of %s round(s)." % (self.number, summary.get("rounds_done"),
                                                          summary.get("num_rounds")))
        self.out.update(state="finished", summary=summary, changed=True)
        return self.out

    def validation(self):
        """The cross-site validation matrix once complete, or once no site validates any more, or at the timeout
        (the sites still validating are stopped with abort client); None while it goes on (state validating)."""
        ended = self.record.setdefault("ended_at", self.clock())
        deadline = self.clock() + float(self.p["progress_interval"])
        while True:
            matrix = validation_matrix(self.console.read(["validate all"]).get("validate all"), sites=self.taking_part())
            clients = self.status().get("clients") or {}
            validating = [s for s in self.taking_part() if (clients.get(s) or {}).get("status") == self.d.VALIDATING]
            if validating:
                self.record["validating_at"] = self.clock()
            now = self.clock()
            done = matrix.get("state") == "complete" or (
                not validating and now - float(self.record.get("validating_at") or ended) >= VALIDATION_SETTLE)
            if done or now - ended >= float(self.p["validation_timeout"]):
                break
            if now >= deadline:
                self.save()
                self.out["state"] = "validating"
                self.out["progress"] = dict(run_number=self.number, validation=matrix.get("state"),
                                            validating=validating, elapsed=round(now - ended, 1))
                return None
            self.sleep(5.0)
        aborted = [] if matrix.get("state") == "complete" else validating
        if aborted:
            self.send(["abort client %s" % " ".join(aborted)])
        matrix.update(aborted=aborted, timeout=int(self.p["validation_timeout"]))
        matrix["lines"] = matrix_lines(matrix)
        return matrix
