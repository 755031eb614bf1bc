# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""fl_training's rejoin (the one place that brings a site back) against a real federation of its own: a site
restarted during a training is deregistered, waited for, deployed to and started, and the training finishes with
both sites; a site that never comes back fails with a sentence naming it."""

from __future__ import absolute_import, division, print_function

import os
import sys
import time

import pytest

import federation as fedlib
from conftest import _unavailable, query_status as status
from module_runner import run_module
from ansible_collections.clarafl.federation.plugins.modules import fl_admin_command, fl_training


class RejoinFederation(fedlib.Federation):
    """A federation with names and ports of its own, so that it never meets the session's."""

    def name(self, part):
        return "%srejoin-%s" % (fedlib.PREFIX, part)


@pytest.fixture(scope="module")
def fed(tmp_path_factory):
    try:
        fed = RejoinFederation(str(tmp_path_factory.mktemp("rejoin")), fl_port=fedlib.FL_PORT + 400,
                               admin_port=fedlib.ADMIN_PORT + 400)
        fed.check_preconditions()
    except fedlib.FederationError as exc:
        _unavailable(str(exc))
    except Exception as exc:  # pylint: disable=broad-except  # docker.from_env without a daemon
        _unavailable("%s: %s" % (type(exc).__name__, exc))
    try:
        fed.provision()
        fed.write_app()
        fed.start()
        fed.wait_clients_reachable(lambda: status(fed))
        yield fed
    finally:
        sys.stderr.write("\n".join(fed.logs(part, tail=80) for part in ("server",) + tuple(fed.sites)))
        fed.remove_containers()


def run(fed, capsys, module=fl_admin_command, **args):
    params = {"container": fed.admin_container, "username": fed.admin}
    params.update(args)
    result, raw = run_module(module, params, capsys)
    assert "Traceback" not in raw, raw
    return result


def training(fed, capsys, **args):
    """One step of fl_training (the module alone, as its action plugin calls it)."""
    params = dict(mmar=fedlib.APP, sites=list(fed.sites), record_dir=fed.admin_kit())
    params.update(args)
    return run(fed, capsys, module=fl_training, **params)


def restart_site(fed, site):
    """As fl_client restarts a site's container: stopped, the engine's stale markers cleared (the kit's loop needs
    that; the collection's supervisor clears them itself), started."""
    container = fed.client.containers.get(fed.name(site))
    container.stop(timeout=5)
    for marker in ("daemon_pid.fl", "pid.fl", "shutdown.fl", "restart.fl"):
        path = os.path.join(fed.kits, site, marker)
        if os.path.exists(path):
            os.remove(path)
    container.start()


def test_a_site_restarted_during_a_training_is_brought_back_into_it(fed, capsys):
    started = run(fed, capsys, sites=list(fed.sites), timeout=60, commands=[
        "set_run_number 1", "upload_folder %s" % fedlib.APP, "deploy %s server" % fedlib.APP,
        "deploy %s client" % fedlib.APP, "start server"])
    assert not started.get("failed"), started.get("msg")
    deadline = time.time() + 60
    while status(fed).get("server_status") != "training started":
        assert time.time() < deadline, "the server did not start training"
        time.sleep(1)
    # Only site-a trains; every round waits for two sites, so the run can end only with site-b back in it.
    assert not run(fed, capsys, commands=["start client site-a"]).get("failed")
    restart_site(fed, "site-b")
    result = training(fed, capsys, state="rejoined", rejoin=["site-b"], registration_timeout=150)
    assert not result.get("failed"), result.get("msg")
    steps = result["rejoined"]["site-b"]
    assert steps[0] == "removed its old registration", steps
    assert steps[-1].startswith("deployed %s to it and started it in the running training" % fedlib.APP), steps
    assert result["changed"] is True and result["state"] == "rejoined"
    assert result["messages"][0].startswith("Restarted and brought back site-b because its container was restarted:")
    deadline = time.time() + 120
    while status(fed).get("server_status") == "training started":
        assert time.time() < deadline, "the training did not end with site-b back in it"
        time.sleep(2)
    with open(os.path.join(fed.kits, "server", "log.txt")) as handle:
        log = handle.read()
    assert "aggregating 2 updates at round 1" in log, log[-3000:]


def test_a_site_that_never_answers_is_named(fed, capsys):
    fed.client.containers.get(fed.name("site-b")).stop(timeout=5)
    result = training(fed, capsys, state="rejoined", rejoin=["site-b"], registration_timeout=20)
    assert result["failed"]
    assert result["msg"].startswith("Site site-b did not answer the server within 20 s"), result["msg"]
    assert result["rejoined"]["site-b"][-1] == "did not answer the server within 20 s"
