# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine under each supervisor (fl_engine_supervisor: collection, the collection's engine_supervisor.py; kit,
the kit's own sub_start.sh loop), on a real federation of its own per supervisor (server, two sites, admin): the
admin console's restart and shutdown of a site, of the server and of everything, abort and a new run, an engine
killed in its container, and the kit's give-up rule on an engine that crashes at every start.

The tests of a module run in file order on one federation. The timings (container start until the server
listens and the sites answer, restart until the site trains again, ...) go to
tests/output/engine-supervisor-timings.json for the benchmark's notes; nothing here asserts a duration beyond the
waits' own limits.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import shutil
import sys
import time

import pytest

import federation as fedlib
from conftest import _unavailable, admin, query_status

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TIMINGS = os.path.join(REPO, "tests", "output", "engine-supervisor-timings.json")
# The kit's loop sleeps 10 s before each start and 15 s in each stop: its waits need room for both.
WAIT = {"collection": 60, "kit": 90}
# Apps whose rounds last a second on each site: one to abort, one that a restarted site must finish.
LONG_APP = "clarafl-test-long"
SHORT_APP = "clarafl-test-rejoin"
SHORT_ROUNDS = 5
_timings = {}


class SupervisorFederation(fedlib.Federation):
    """A federation with names and ports of its own, so that it never meets the session's."""

    def name(self, part):
        return "%ssup-%s" % (fedlib.PREFIX, part)

    def all_names(self):
        return fedlib.Federation.all_names(self) + [self.name("crash")]


def wait_until(what, check, timeout, interval=0.5):
    """CHECK() until it returns something true (returned), or fail after TIMEOUT s naming WHAT."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = check()
        except Exception as exc:  # pylint: disable=broad-except  # a console that is not up yet
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    pytest.fail("%s: not within %d s (last: %r)" % (what, timeout, last), pytrace=False)
    return None


def status_or_none(fed):
    try:
        return query_status(fed)
    except Exception:  # pylint: disable=broad-except  # the server is restarting
        return None


def answering(fed, sites, old_tokens=None):
    """The status once every site of SITES answers the server (with a new token, when OLD_TOKENS are given)."""
    status = status_or_none(fed)
    clients = (status or {}).get("clients") or {}
    for site in sites:
        token = (clients.get(site) or {}).get("token")
        if not token or (old_tokens and token == old_tokens.get(site)):
            return None
    return status


def site_status(fed, site):
    return (((status_or_none(fed) or {}).get("clients") or {}).get(site) or {}).get("status")


def send(fed, *commands):
    result, _status = admin(fed, commands, timeout=30)
    failed = [r for r in result["results"] if not r.get("ok")]
    assert result.get("ok") and not failed, (commands, result.get("error"), failed)
    return result


def exited(fed, part):
    state = fed.container_state(part)
    return state if state in ("exited", "dead", None) else None


def exit_code(fed, part):
    return fed.client.containers.get(fed.name(part)).attrs["State"]["ExitCode"]


def crash_kit(fed):
    """A copy of a site's kit whose engine fails at every start (its fed_client.json is not JSON)."""
    kit = os.path.join(fed.kits, "crash")
    shutil.copytree(os.path.join(fed.kits, fed.sites[1], "startup"), os.path.join(kit, "startup"))
    with open(os.path.join(kit, "startup", "fed_client.json"), "w") as fh:
        fh.write("{")
    return kit


@pytest.fixture(scope="module", params=["collection", "kit"])
def fed(request, tmp_path_factory):
    supervisor = request.param
    try:
        fed = SupervisorFederation(str(tmp_path_factory.mktemp("supervisor-" + supervisor)),
                                   fl_port=fedlib.FL_PORT + 300, admin_port=fedlib.ADMIN_PORT + 300,
                                   supervisor=supervisor)
        fed.check_preconditions()
    except fedlib.FederationError as exc:
        _unavailable(str(exc))
    except Exception as exc:  # pylint: disable=broad-except  # docker.from_env without a daemon
        _unavailable("%s: %s" % (type(exc).__name__, exc))
    fed.timings["supervisor"] = supervisor
    try:
        fed.provision()
        fed.write_app(LONG_APP, num_rounds=500, seconds=1)
        fed.write_app(SHORT_APP, num_rounds=SHORT_ROUNDS, seconds=1)
        # Crashes at every start from now on; the give-up test looks at it last (the kit's loop takes a minute).
        crash_kit(fed)
        fed.crash_started = time.time()
        fed._start_site("crash")  # pylint: disable=protected-access
        started = time.time()
        fed.start(timeout=WAIT[supervisor])
        wait_until("both sites answer the server", lambda: answering(fed, fed.sites), WAIT[supervisor])
        fed.timings["sites_answering"] = round(time.time() - started, 1)
        yield fed
    finally:
        _timings[supervisor] = fed.timings
        sys.stderr.write("\n%s: %s\n" % (supervisor, fed.timings))
        out = os.path.join(REPO, "tests", "output")
        try:
            os.makedirs(out, exist_ok=True)
            with open(TIMINGS, "w") as fh:
                json.dump(_timings, fh, indent=1, sort_keys=True)
            with open(os.path.join(out, "engine-supervisor-%s.log" % supervisor), "w") as fh:
                for part in ("server",) + fed.sites + ("crash",):
                    fh.write(fed.logs(part, tail=300) + "\n")
        except OSError:
            pass
        fed.remove_containers()


def test_the_engine_runs_under_the_chosen_supervisor(fed):
    marker = "engine_supervisor.py" if fed.supervisor == "collection" else "sub_start.sh"
    for part in ("server",) + fed.sites:
        commands = [cmd for _pid, cmd in fed.processes(part)]
        assert [c for c in commands if marker in c], (part, commands)
        engines = fed.engine_processes(part)
        assert [pid for pid, _cmd in engines] == [fed.engine_pid(part)], (part, engines)
        assert os.path.isfile(fed.kit_file(part, "daemon_pid.fl"))
    # The engine's output goes to the kit's log.txt.
    for part, line in (("server", "Server started"), ("site-a", "Successfully registered client:site-a")):
        with open(fed.kit_file(part, "log.txt")) as fh:
            assert line in fh.read(), part


def test_abort_then_a_new_run(fed):
    app = LONG_APP
    send(fed, "set_run_number 1", "upload_folder %s" % app, "deploy %s server" % app, "deploy %s client" % app,
         "start server")
    wait_until("the server trains", lambda: (status_or_none(fed) or {}).get("server_status") == "training started",
               30)
    send(fed, "start client")
    for site in fed.sites:
        wait_until("%s trains" % site, lambda site=site: site_status(fed, site) == "training started", 30)
    send(fed, "abort client", "abort server")
    wait_until("the training stops", lambda: (status_or_none(fed) or {}).get("server_status") == "training stopped",
               30)
    with open(fed.kit_file("server", "log.txt")) as fh:
        fed.log_offset = len(fh.read())
    app = SHORT_APP
    send(fed, "set_run_number 2", "upload_folder %s" % app, "deploy %s server" % app, "deploy %s client" % app,
         "start server")
    wait_until("run 2 trains", lambda: (status_or_none(fed) or {}).get("server_status") == "training started", 30)
    send(fed, "start client")
    for site in fed.sites:
        wait_until("%s trains run 2" % site, lambda site=site: site_status(fed, site) == "training started", 30)


def test_a_site_restarted_by_the_console_trains_again(fed):
    """During run 2: restart client site-a, then (as fl_admin's rejoin does) deploy and start it again; the run
    ends with both sites in every round."""
    site = "site-a"
    old_pid = fed.engine_pid(site)
    old_token = query_status(fed)["clients"][site]["token"]
    started = time.time()
    # The engine answers this one "Server did not respond" although the site restarts.
    admin(fed, ["restart client %s" % site], timeout=30)
    wait_until("%s answers the server again" % site, lambda: answering(fed, [site], {site: old_token}),
               WAIT[fed.supervisor])
    fed.timings["restart_client_to_answering"] = round(time.time() - started, 1)
    assert fed.engine_pid(site) != old_pid
    left = [pid for pid, _cmd in fed.engine_processes(site)]
    # The kit's stop path calls rkill, which does not exist: its old engine lives on beside the new one.
    if fed.supervisor == "kit":
        assert sorted(left) == sorted([old_pid, fed.engine_pid(site)]), left
    else:
        assert left == [fed.engine_pid(site)], left
    send(fed, "deploy %s client %s" % (SHORT_APP, site), "start client %s" % site)
    wait_until("%s trains again" % site, lambda: site_status(fed, site) == "training started", 60)
    fed.timings["restart_client_to_training"] = round(time.time() - started, 1)
    wait_until("run 2 ends", lambda: (status_or_none(fed) or {}).get("server_status") == "training stopped", 120, 2)
    with open(fed.kit_file("server", "log.txt")) as fh:
        log = fh.read()[fed.log_offset:]
    assert "aggregating 2 updates at round %d" % (SHORT_ROUNDS - 1) in log, log[-3000:]


def test_a_killed_engine_comes_back(fed):
    site = "site-b"
    old_token = query_status(fed)["clients"][site]["token"]
    started = time.time()
    killed = fed.kill_engine(site)
    wait_until("a new engine for %s" % site, lambda: fed.engine_pid(site) not in (None, killed), WAIT[fed.supervisor])
    fed.timings["killed_engine_to_new_engine"] = round(time.time() - started, 1)
    # The server refuses the new engine while the old registration lives ("Client ID already registered"): forget
    # it, as fl_admin's rejoin does (the engine answers "Server did not respond" although it removes it); the engine
    # tries again every 5 s.
    admin(fed, ["remove_client %s" % site], timeout=30)
    wait_until("%s answers the server again" % site, lambda: answering(fed, [site], {site: old_token}),
               WAIT[fed.supervisor])
    fed.timings["killed_engine_to_answering"] = round(time.time() - started, 1)
    assert [pid for pid, _cmd in fed.engine_processes(site)] == [fed.engine_pid(site)]


def test_shutdown_client_ends_the_container(fed):
    site = "site-b"
    started = time.time()
    send(fed, "shutdown client %s" % site)
    wait_until("%s's container ends" % site, lambda: exited(fed, site), WAIT[fed.supervisor])
    fed.timings["shutdown_client_to_exit"] = round(time.time() - started, 1)
    assert exit_code(fed, site) == 0
    # The loop removes its markers as it ends.
    assert [m for m in ("pid.fl", "daemon_pid.fl", "shutdown.fl") if os.path.exists(fed.kit_file(site, m))] == []
    assert site not in [c["name"] for c in query_status(fed)["registered_clients"]]
    # What a Docker restart policy does next: the same container again.
    fed.start_component(site)
    wait_until("%s answers the server again" % site, lambda: answering(fed, [site]), WAIT[fed.supervisor])


def test_restart_server_brings_back_the_server_and_the_sites(fed):
    old = query_status(fed)["clients"]
    old_tokens = dict((site, old[site]["token"]) for site in fed.sites)
    old_pid = fed.engine_pid("server")
    started = time.time()
    send(fed, "restart server")
    wait_until("a new server answers", lambda: fed.engine_pid("server") not in (None, old_pid)
               and status_or_none(fed) is not None, WAIT[fed.supervisor], 1)
    fed.timings["restart_server_to_answering"] = round(time.time() - started, 1)
    if fed.supervisor == "kit":
        # The kit's loop starts a site 25 to 35 s after the request and the server 30 to 40 s after: a site that
        # starts first tries to register before the server listens, and stays unregistered. One that started
        # after the server registers within seconds.
        deadline = time.time() + 5
        while time.time() < deadline and not answering(fed, fed.sites, old_tokens):
            time.sleep(1)
        lost = [s for s in fed.sites if not answering(fed, [s], old_tokens)]
        if lost:
            for site in lost:  # as fl_admin's recovery does, so that the next tests have their federation
                fed.client.containers.get(fed.name(site)).restart(timeout=5)
            wait_until("the sites answer the server after their containers restarted",
                       lambda: answering(fed, fed.sites, old_tokens), WAIT[fed.supervisor])
            pytest.xfail("the kit's loop brought back the server but not %s: a site restarted before the server "
                         "listens stays unregistered" % ", ".join(lost))
    wait_until("both sites answer the restarted server", lambda: answering(fed, fed.sites, old_tokens),
               WAIT[fed.supervisor])
    fed.timings["restart_server_to_sites_answering"] = round(time.time() - started, 1)


def test_shutdown_all_ends_every_container(fed):
    started = time.time()
    result = send(fed, "shutdown client", "shutdown server")
    assert result.get("server_shutdown") is True
    for part in fed.sites + ("server",):
        wait_until("%s's container ends" % part, lambda part=part: exited(fed, part), WAIT[fed.supervisor])
        assert exit_code(fed, part) == 0
    fed.timings["shutdown_all_to_exit"] = round(time.time() - started, 1)
    assert not fedlib.port_open(fed.admin_port)


def test_an_engine_that_ends_at_every_start_is_given_up(fed):
    """The kit's rule: the engine is started at most five times when each start follows the previous within 300 s;
    the supervisor then ends."""
    wait_until("the crashing engine's supervisor gives up", lambda: exited(fed, "crash"),
               max(5, fed.crash_started + WAIT[fed.supervisor] - time.time()))
    fed.timings["give_up_after"] = round(time.time() - fed.crash_started, 1)
    with open(fed.kit_file("crash", "log.txt")) as fh:
        log = fh.read()
    # One traceback of the engine per start.
    assert log.count("Traceback (most recent call last)") == 5, log[-3000:]
    assert "System is in trouble and unable to start the task" in fed.logs("crash")
    assert exit_code(fed, "crash") == (1 if fed.supervisor == "collection" else 0)
    assert [m for m in ("pid.fl", "daemon_pid.fl") if os.path.exists(fed.kit_file("crash", m))] == []
