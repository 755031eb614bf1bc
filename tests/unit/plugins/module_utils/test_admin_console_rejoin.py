# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one place of recovery: sites whose containers were restarted are brought back, and it says what it did."""

from __future__ import absolute_import, division, print_function

import pytest
from module_runner import FakeClock as Clock

from ansible_collections.clarafl.federation.plugins.module_utils.admin_console import AdminConsoleError, rejoin


class Federation(object):
    """A fake console over a small federation: read() is one status session, send() one command session.

    SITES maps a site to its state: ``old`` (its old registration lives and no longer answers), ``gone`` (not
    registered), ``back`` (answers, not training), ``training``. A site ``old`` or ``gone`` answers once ANSWERS_AFTER
    reads have passed since its old registration was removed (``gone`` sites count from the first read).
    """

    def __init__(self, clock, sites, server="training started", answers_after=2, unreadable=0, fail=None):
        self.clock = clock
        self.sites = dict(sites)
        self.server = server
        self.answers_after = answers_after
        self.unreadable = unreadable
        self.fail = fail or {}
        self.reads = 0
        self.sent = []
        self.removed_at = dict((s, 0) for s, state in sites.items() if state == "gone")

    def read(self):
        self.clock.now += 1
        self.reads += 1
        if self.reads <= self.unreadable:
            raise AdminConsoleError("Cannot connect to the FL admin server at fl:8003 (connection refused)",
                                    kind="login")
        for site, since in self.removed_at.items():
            if self.sites[site] in ("old", "gone") and self.answers_after is not None \
                    and self.reads - since > self.answers_after:
                self.sites[site] = "back"
        registered = [{"name": s, "contribution_count": 1} for s, state in self.sites.items() if state != "gone"]
        clients = {}
        for site, state in self.sites.items():
            if state == "old":
                clients[site] = {"status": "No replies"}
            elif state == "back":
                clients[site] = {"status": "training not started", "token": "t-" + site}
            elif state == "training":
                clients[site] = {"status": "training started", "token": "t-" + site}
        return {"server_status": self.server, "current_round": 3, "registered_clients": registered,
                "clients": clients}

    def send(self, commands):
        self.clock.now += 1
        for command in commands:
            self.sent.append(command)
            if command in self.fail:
                raise AdminConsoleError(self.fail[command], kind="reply")
            verb, site = command.split()[0], command.split()[-1]
            if verb == "remove_client":
                self.sites[site] = "gone"
                self.removed_at[site] = self.reads
            elif verb in ("start", "start_mgpu"):
                self.sites[site] = "training"


def _rejoin(fed, sites, **kw):
    kw.setdefault("mmar", "clarafl_demo")
    return rejoin(fed.read, fed.send, sites, clock=fed.clock.time, sleep=fed.clock.sleep, **kw)


def test_a_restarted_site_is_removed_waited_for_deployed_and_started():
    fed = Federation(Clock(), {"a": "training", "b": "old"})
    out = _rejoin(fed, ["b"])
    assert fed.sent == ["remove_client b", "deploy clarafl_demo client b", "start client b"]
    assert out["changed"] is True
    assert out["rejoined"] == {"b": [
        "removed its old registration",
        "answers the server (training not started)",
        "deployed clarafl_demo to it and started it in the running training (round 3)"]}
    assert out["status"]["clients"]["b"]["status"] == "training not started"


def test_a_site_on_several_gpus_is_started_on_all_of_them_as_at_the_run_start():
    fed = Federation(Clock(), {"a": "old", "b": "old", "c": "training"})
    out = _rejoin(fed, ["a", "b"], gpus={"b": 4, "c": 2})
    assert fed.sent == ["remove_client a", "remove_client b", "deploy clarafl_demo client a", "start client a",
                        "deploy clarafl_demo client b", "start_mgpu client 4 b"]
    assert out["rejoined"]["b"][-1] == "deployed clarafl_demo to it and started it in the running training (round 3)"
    assert fed.sites == {"a": "training", "b": "training", "c": "training"}


def test_a_site_already_back_and_training_is_left_alone():
    fed = Federation(Clock(), {"a": "training", "b": "training"})
    out = _rejoin(fed, ["b"])
    assert fed.sent == [] and out["changed"] is False
    assert out["rejoined"] == {"b": ["answers the server (training started)", "trains in the running training"]}


def test_a_live_new_registration_is_not_removed():
    # The restarted site registered anew before the call (its old registration had expired): nothing to remove.
    fed = Federation(Clock(), {"a": "training", "b": "back"})
    out = _rejoin(fed, ["b"])
    assert fed.sent == ["deploy clarafl_demo client b", "start client b"]
    assert out["rejoined"]["b"][0] == "answers the server (training not started)"


def test_no_training_nothing_to_start():
    fed = Federation(Clock(), {"a": "back", "b": "old"}, server="training stopped")
    out = _rejoin(fed, ["b"], mmar=None)
    assert fed.sent == ["remove_client b"]
    assert out["rejoined"] == {"b": ["removed its old registration", "answers the server (training not started)"]}


def test_several_sites_in_one_call_with_one_wait():
    fed = Federation(Clock(), {"a": "old", "b": "gone", "c": "training"})
    out = _rejoin(fed, ["a", "b", "a"])
    assert list(out["rejoined"]) == ["a", "b"]
    assert fed.sent == ["remove_client a", "deploy clarafl_demo client a", "start client a",
                        "deploy clarafl_demo client b", "start client b"]
    assert out["rejoined"]["b"][0] == "answers the server (training not started)"


def test_the_server_still_starting_is_read_again():
    fed = Federation(Clock(), {"a": "training", "b": "old"}, unreadable=3)
    out = _rejoin(fed, ["b"])
    assert fed.sent[0] == "remove_client b" and out["changed"] is True
    assert fed.reads > 3


def test_an_unreadable_server_fails_naming_the_sites():
    clock = Clock()
    fed = Federation(clock, {"b": "old"}, unreadable=1000)
    with pytest.raises(AdminConsoleError) as err:
        _rejoin(fed, ["b"], timeout=30)
    assert err.value.kind == "login"
    assert str(err.value).startswith("Could not read the federation's status to bring back b within 30 s: Cannot "
                                     "connect")
    assert fed.sent == [] and clock.now <= 1000 + 30 + 10


def test_the_engine_s_usual_answer_to_a_remove_is_no_failure():
    # Measured: the engine removes the site and answers "Server did not respond".
    fed = Federation(Clock(), {"a": "training", "b": "old"},
                     fail={"remove_client b": "Admin command 'remove_client b' failed: Server did not respond"})
    fed.removed_at["b"] = 0  # removed all the same
    out = _rejoin(fed, ["b"])
    assert out["rejoined"]["b"][0] == "removed its old registration"
    assert out["rejoined"]["b"][-1].startswith("deployed clarafl_demo")


def test_another_answer_to_a_remove_is_said_and_judged_by_the_wait():
    fed = Federation(Clock(), {"a": "training", "b": "old"},
                     fail={"remove_client b": "Admin command 'remove_client b' failed: Error: busy\n  now"})
    fed.removed_at["b"] = 0
    out = _rejoin(fed, ["b"])
    assert out["rejoined"]["b"][0] == "asked the server to remove its old registration (it answered: Error: busy now)"
    assert out["rejoined"]["b"][-1].startswith("deployed clarafl_demo")


def test_a_site_that_never_answers_fails_by_name_after_the_others_are_back():
    clock = Clock()
    fed = Federation(clock, {"a": "old", "b": "old", "c": "training"}, answers_after=None)
    fed.removed_at = {}
    # a comes back, b never does
    original = fed.read

    def read():
        status = original()
        if fed.sites["a"] == "gone" and fed.reads > 3:
            fed.sites["a"] = "back"
        return status
    fed.read = read
    with pytest.raises(AdminConsoleError) as err:
        rejoin(fed.read, fed.send, ["a", "b"], mmar="m", timeout=60, clock=clock.time, sleep=clock.sleep)
    assert err.value.kind == "rejoin"
    assert str(err.value) == ("Site b did not answer the server within 60 s after its container was restarted (the "
                              "other sites are back: a): see its log (docker logs of the site's container on its "
                              "machine) and check that it reaches the server on the FL port.")
    assert "deploy m client a" in fed.sent and "deploy m client b" not in fed.sent
    assert err.value.details["rejoined"]["b"] == ["removed its old registration",
                                                  "did not answer the server within 60 s"]
    assert err.value.details["rejoined"]["a"][-1].startswith("deployed m to it")
    assert 1060 <= clock.now <= 1075


def test_a_site_to_start_without_an_mmar_fails_clearly():
    fed = Federation(Clock(), {"a": "training", "b": "old"})
    with pytest.raises(AdminConsoleError, match=r"^Site b answers the server again, but the server is training .* "
                                                r"no MMAR name was given \(set mmar\)\.$"):
        _rejoin(fed, ["b"], mmar=None)
    assert fed.sent == ["remove_client b"]


def test_a_failed_start_fails_while_the_server_trains():
    fed = Federation(Clock(), {"a": "training", "b": "old"},
                     fail={"start client b": "Admin command 'start client b' failed: no replies"})
    with pytest.raises(AdminConsoleError) as err:
        _rejoin(fed, ["b"])
    assert err.value.kind == "reply"
    assert str(err.value) == ("Site b answers the server again, but bringing it into the running training failed: "
                              "Admin command 'start client b' failed: no replies")


def test_a_start_refused_because_the_training_just_ended_is_no_failure():
    fed = Federation(Clock(), {"a": "training", "b": "old"}, fail={"start client b": "Server training has not started."})
    original = fed.send

    def send(commands):
        if "start client b" in commands:  # the last round ends as the site is deployed
            fed.server = "training stopped"
        original(commands)
    out = rejoin(fed.read, send, ["b"], mmar="m", clock=fed.clock.time, sleep=fed.clock.sleep)
    assert out["rejoined"]["b"][-1] == "the training ended before the site could be started in it"
    assert out["status"]["server_status"] == "training stopped"


def test_check_mode_reads_once_and_sends_nothing():
    fed = Federation(Clock(), {"a": "training", "b": "old", "c": "back"})
    out = _rejoin(fed, ["b", "c"], check_mode=True)
    assert fed.sent == [] and fed.reads == 1 and out["changed"] is True
    assert out["rejoined"] == {
        "b": ["would remove its old registration", "would wait until it answers the server"],
        "c": ["answers the server (training not started)",
              "would have deployed clarafl_demo to it and started it in the running training (round 3)"]}


def test_no_sites_reads_nothing():
    fed = Federation(Clock(), {})
    assert _rejoin(fed, []) == {"rejoined": {}, "status": {}, "changed": False}
    assert fed.reads == 0
