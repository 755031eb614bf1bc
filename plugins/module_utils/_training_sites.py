# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a training step does to its sites: wait until they answer, bring back the ones whose containers were
restarted, forget the ones that left, deploy to them and start them, with the late and hung answers the engine is
known for (measured on Clara 4.0):

* registered is not yet reachable: a deploy sent right after ``Registered clients: N`` reaches only some sites;
  wait until ``check_status client`` answers for every site;
* a busy site answers a deploy or a start after the server stopped waiting ("No replies") while the others answer:
  a deploy is sent to it again, a start is judged by its status and sent again once;
* about 1 in 100 client starts hangs: the site then answers nothing more, and only a restart of its container helps;
* the server refuses a restarted site's new registration while its old one lives: the old one is removed
  (``remove_client``; the engine answers "did not respond" although it removed it, so only the wait judges).

``SiteSteps`` is a part of ``_training.Training``: it uses its console, record, clock and out.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.clarafl.federation.plugins.module_utils import _engine_log as engine_log
from ansible_collections.clarafl.federation.plugins.module_utils._admin_console import ConsoleError

INTERVAL = 2.0
PARTNERS_NAMED_FOR = 600.0  # a run's missing partner sites, once named, are not waited for again this long
LATE_START_WAIT = 20.0  # a site that answered its start late is given this long, and twice as long after a resend
REDEPLOYS = 3           # a deploy a site did not answer is sent to it again this often,
REDEPLOY_PAUSE = 3.0    # this many seconds apart


def names(sites):
    return ", ".join(sites)


class TrainingFailed(Exception):
    """The training cannot go on; the message says why and what to do."""

    def __init__(self, message, **details):
        super(TrainingFailed, self).__init__(message)
        self.details = details


class SiteSteps(object):
    """The site operations of a training step (mixed into _training.Training)."""

    def taking_part(self):
        """The sites of the run: the federation's own, and the partner sites that had joined when it started."""
        return self.sites + [s for s in self.record.get("partners") or [] if s not in self.sites]

    def remember_tokens(self, status):
        """Each site's token as the status table shows it (a restarted site gets a new one): the server's log names
        a site's submissions by its token."""
        for client in status.get("registered_clients") or []:
            if client.get("token") and client.get("name"):
                self.record.setdefault("tokens", {})[client["token"]] = client["name"]

    def rounds_done(self):
        """The rounds aggregated in the server's latest training, by its log; each site's submissions there are
        counted too (a run may end between two readings of the status, which then showed none)."""
        texts = self.console.read(engine_log.rounds_commands(self.d))
        grounds, started, received = [texts.get(c) for c in engine_log.rounds_commands(self.d)]
        self.count_logged(engine_log.submissions(received, started, dialect=self.d))
        return engine_log.rounds_aggregated(grounds, started, dialect=self.d)

    def count_logged(self, submitted):
        """Raise each site's contributions to what the server's log shows it submitted ({token: rounds})."""
        counts = self.record.setdefault("contributions", {})
        logged = {}
        for token, rounds in (submitted or {}).items():
            site = (self.record.get("tokens") or {}).get(token)
            if site:
                logged[site] = logged.get(site, 0) + rounds
        for site, rounds in logged.items():
            counts[site] = max(counts.get(site, 0), rounds)

    def bystanders(self):
        """Registered sites that do not take part in the run (a partner site that had not joined in time, whose old
        registration lives on): while there are any, deploy and start name the run's sites instead of every site."""
        part = set(self.taking_part())
        return [c.get("name") for c in (self.out.get("status") or {}).get("registered_clients") or []
                if c.get("name") and c.get("name") not in part]

    def contacts(self, partners):
        """Who to ask about partner sites: their contacts (the organization's, from fl_partner_sites)."""
        said = (self.p.get("partner_contacts") or {})
        return ", ".join("%s (%s)" % (said.get(s) or "its organization", s) for s in partners)

    def wait_partners(self, status):
        """(status, missing): the partner sites that have not joined partner_wait seconds after this step began.
        Training goes on without them when the run's min_num_clients allows it: they are named with their contacts,
        and missing is None, so that the step ends and the sentence is shown before the run is deployed (the next
        step takes the sites named, without waiting again). Else it stops with that sentence."""
        partners = list(self.p.get("partner_sites") or [])
        if not partners:
            return status, []
        named = self.record.get("partners_named") or {}
        if named.get("run") == self.number and 0 <= self.clock() - float(named.get("at") or 0) <= PARTNERS_NAMED_FOR:
            return status, [s for s in named.get("missing") or [] if s in partners]
        status, missing = self.wait_answering(status, partners, self.p["partner_wait"], since=self.begun)
        if not missing:
            return status, []
        present = len(self.sites) + len(partners) - len(missing)
        need = self.p.get("min_num_clients")
        sentence = ("Partner site%s %s %s not joined after %d s: ask %s." % (
            "" if len(missing) == 1 else "s", names(missing), "has" if len(missing) == 1 else "have",
            self.p["partner_wait"], self.contacts(missing)))
        if isinstance(need, int) and present < need:
            raise TrainingFailed("%s Run %d needs %d site(s) (min_num_clients) and %d are there: it is not started."
                                 % (sentence, self.number, need, present))
        self.say("%s Training run %d with the %d site(s) present%s." % (
            sentence, self.number, present, "" if need is None else " (min_num_clients %d)" % need))
        self.record["partners_named"] = {"run": self.number, "missing": missing, "at": self.clock()}
        self.save()
        return status, None

    def wait_answering(self, status, sites, timeout, since=None):
        """(status, missing): the status once every site of SITES answers the server, or the sites still silent
        TIMEOUT seconds after SINCE (now by default). A status that cannot be read (a server still starting) is read
        again. A reading takes time (a registered site that is gone makes the server wait for its reply): the last
        one is begun so that it ends at the deadline, not one reading after it."""
        deadline = (self.clock() if since is None else float(since)) + float(timeout)
        took, last = 0.0, False
        while True:
            clients = status.get("clients") or {}
            missing = [s for s in sites if ((clients.get(s) or {}).get("status") or self.d.NO_ANSWER)
                       in (self.d.NO_ANSWER, self.d.EXCEPTION)]
            if not missing or last or self.clock() >= deadline:
                return status, missing
            pause = min(INTERVAL, max(0.0, deadline - took - self.clock()))
            last = self.clock() + pause + took >= deadline
            self.sleep(pause)
            begun = self.clock()
            try:
                status = self.status()
            except ConsoleError:
                if self.clock() >= deadline:
                    return status, missing
            took = self.clock() - begun

    def forget_departed(self, status):
        """Remove from the server the sites it still has registered that the federation no longer lists."""
        keep = set(self.sites) | set(self.p.get("partner_sites") or [])
        gone = sorted(c.get("name") for c in status.get("registered_clients") or []
                      if c.get("name") and c.get("name") not in keep)
        if not gone:
            return status
        self.say("%s no longer in the inventory: removing %s from the server (remove_client); the next run trains "
                 "without %s." % (", ".join(gone), "it" if len(gone) == 1 else "them", "it" if len(gone) == 1 else "them"))
        answer = None
        for site in gone:
            try:
                self.send(["remove_client %s" % site])
            except ConsoleError as exc:  # the engine answers "did not respond" and removes it all the same
                answer = str(exc)
                self.out["changed"] = True
        status = self.status()
        still = [c.get("name") for c in status.get("registered_clients") or [] if c.get("name") in gone]
        if still:
            raise TrainingFailed(
                "The server still has %s registered after remove_client (%s): stop that site's container on its "
                "machine, wait for the server's heartbeat timeout, and run again." % (", ".join(still),
                                                                                      answer or "no answer"))
        return status

    def rejoin(self, status, sites, restarted=True):
        """Bring back SITES, whose containers were just RESTARTED (or that answer but do not train): their old
        registrations removed, each waited for, and, when the server trains and the site does not, the training's
        MMAR deployed to it and the site started (start_mgpu for a site on several GPUs). Says what was done for
        each site, and starts the training's stall clock again."""
        sites = list(dict.fromkeys(sites))
        done = dict((s, []) for s in sites)
        self.out["rejoined"].update(done)
        why = self.record.get("pending") or {}
        for site in sites:
            clients = status.get("clients") or {}
            listed = site in [c.get("name") for c in status.get("registered_clients") or []]
            if listed and ((clients.get(site) or {}).get("status") or self.d.NO_ANSWER) == self.d.NO_ANSWER:
                try:
                    self.send(["remove_client %s" % site])
                    done[site].append("removed its old registration")
                except ConsoleError as exc:
                    answer = re.sub(r"^Admin command '[^']*' failed: ", "", " ".join(str(exc).split()))
                    done[site].append("removed its old registration" if re.search(
                        self.d.REMOVED_ANYWAY, answer, re.IGNORECASE) else
                        "asked the server to remove its old registration (it answered: %s)" % answer)
                    self.out["changed"] = True
        status, missing = self.wait_answering(status, sites, self.p["registration_timeout"])
        mmar = self.record.get("mmar") or self.p["mmar"]
        for site in sites:
            if status.get("server_status") == self.d.TRAINING and not mmar and site not in missing:
                raise TrainingFailed("Site %s answers the server again, but the server is training and the site is "
                                     "not: it needs the training's MMAR deployed, and neither the record nor mmar names "
                                     "it." % site)
            if site in missing:
                done[site].append("did not answer the server within %d s" % self.p["registration_timeout"])
                continue
            state = ((status.get("clients") or {}).get(site) or {}).get("status")
            done[site].append("answers the server (%s)" % state)
            if status.get("server_status") != self.d.TRAINING or state == self.d.TRAINING:
                done[site].append("trains in the running training" if state == self.d.TRAINING else
                                  "the server is not training: nothing to join")
                continue
            try:
                self.send([self.d.site_command("deploy", site, mmar=mmar),
                           self.d.site_command("start", site, self.p["gpus"])], timeout=120)
            except ConsoleError as exc:
                if self.status().get("server_status") == self.d.TRAINING:
                    raise TrainingFailed("Site %s answers the server again, but bringing it into the running "
                                         "training failed: %s" % (site, exc))
                done[site].append("the training ended before the site could be started in it")
                continue
            done[site].append("deployed %s to it and started it in the running training (round %s)"
                              % (mmar, status.get("current_round", "?")))
        # Counted for the run when it trains, or when the training asked for the restart (before its start): a site
        # whose container someone else restarted between runs heals nothing.
        training = status.get("server_status") == self.d.TRAINING and status.get("run_number") == \
            self.record.get("run_number")
        for site in sites:
            if training or site in why:
                counted = self.record.setdefault("restarts" if restarted else "rejoins", {})
                counted[site] = counted.get(site, 0) + 1
                if site not in self.record.setdefault("healed", []):
                    self.record["healed"].append(site)
            if restarted:
                self.say("Restarted and brought back %s because %s: %s" % (
                    site, why.get(site, "its container was restarted"), "; ".join(done[site])))
            else:
                self.say("Brought back %s, which answered the server but did not train: %s" % (
                    site, "; ".join(done[site])))
            why.pop(site, None)
        self.record["round_at"] = self.clock()
        self.save()
        if missing:
            raise TrainingFailed(
                "Site%s %s did not answer the server within %d s after %s container was restarted%s: see %s log "
                "(docker logs of the site's container on its machine) and check that it reaches the server on the FL "
                "port." % ("" if len(missing) == 1 else "s", ", ".join(missing), self.p["registration_timeout"],
                           "its" if len(missing) == 1 else "their",
                           "" if len(missing) == len(sites) else " (the others are back: %s)"
                           % ", ".join(s for s in sites if s not in missing), "its" if len(missing) == 1 else "their"))
        return status

    def deploy_clients(self, mmar):
        """Deploy MMAR to every site; a site that answers "No replies" while the others took it is sent the deploy
        again. Returns the sites that never took it."""
        base = "deploy %s client" % mmar
        command = "%s %s" % (base, " ".join(self.taking_part())) if self.bystanders() else base
        try:
            self.send([command], timeout=120)
            return []
        except ConsoleError as exc:
            late = self._late(command, exc)
            if not late:
                self.explain(exc, ["server"] + self.sites)
        for _attempt in range(REDEPLOYS):
            self.sleep(REDEPLOY_PAUSE)
            again = "%s %s" % (base, " ".join(late))
            try:
                self.send([again], timeout=120)
                return []
            except ConsoleError as exc:
                still = self._late(again, exc)
                if not still:
                    self.explain(exc, ["server"] + late)
                late = still
        return late

    def start_sites(self, sites):
        """Start SITES (start_mgpu for those on several GPUs); returns the sites whose start hung: no answer to the
        start and, after it was sent again, still not training."""
        if not sites:
            return []
        late = []
        # Sites that did not take the deploy are not started: the others are then named.
        every = set(sites) >= set(self.taking_part()) and not self.bystanders()
        for command in self.d.start_commands(sites, self.p["gpus"], every=every):
            try:
                self.send([command], timeout=120)
            except ConsoleError as exc:
                these = self._late(command, exc)
                if not these:
                    # A server that has not started its training reached no site: its own log says why.
                    self.explain(exc, ["server"] if "training has not started" in str(exc).lower()
                                 else ["server"] + sites)
                late.extend(these)
        if not late:
            return []
        # A busy site (its training process starting on a loaded machine) answers late but trains; only one still
        # silent after its start was sent again, and well after that, is taken as hung.
        states = self._training_states(late, LATE_START_WAIT)
        again = [s for s in late if states.get(s) != self.d.TRAINING]
        if again:
            try:
                self.send([self.d.site_command("start", s, self.p["gpus"]) for s in again], timeout=120)
            except ConsoleError:
                pass
            states = self._training_states(again, 2 * LATE_START_WAIT)
        return [s for s in again if states.get(s) != self.d.TRAINING]

    def _training_states(self, sites, seconds):
        """{site: status} once every site of SITES trains, or after SECONDS."""
        deadline = self.clock() + seconds
        while True:
            try:
                clients = self.status().get("clients") or {}
            except ConsoleError:
                clients = {}
            states = dict((s, (clients.get(s) or {}).get("status")) for s in sites)
            if all(v == self.d.TRAINING for v in states.values()) or self.clock() >= deadline:
                return states
            self.sleep(1.0)

    def _late(self, command, exc):
        """The sites that answered COMMAND with "No replies" while every other site answered as it should; []
        when the failure was anything else."""
        result = exc.details.get("result") or {}
        entry = (result.get("replies") or [{}])[-1]
        if exc.kind != "reply" or entry.get("command") != command:
            return []
        named, every = self.d.sites_of(command)
        targets = named or (result.get("registered") or [] if every else [])
        answered, late, missing = self.d.answers(command, entry.get("reply"), targets)
        if not late or missing or any(item.get("type") == "error" for item in self.d.items(entry.get("reply"))):
            return []
        if len(answered) + len(late) != len(targets):
            return []
        return late
