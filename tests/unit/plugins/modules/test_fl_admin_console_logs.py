# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which engine logs fl_admin_console reads to explain a failure (explained_targets, log_targets, read_failures)
and where those logs are, for the messages (module_utils/federation.py log_files)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible_collections.clarafl.federation.plugins.modules import fl_admin_console
from ansible_collections.clarafl.federation.plugins.module_utils import federation as fed
from ansible_collections.clarafl.federation.plugins.module_utils.engine_log import tail_command

LOGS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "fixtures",
                    "engine_logs")
REGISTERED = ["org1", "org2", "org3"]


def log(name):
    with open(os.path.join(LOGS, name)) as fh:
        return fh.read()


# --- explained_targets ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("registered", [REGISTERED, [], None])
def test_a_command_for_the_server_reads_the_servers_log(registered):
    assert fl_admin_console.explained_targets("start server", [{"error": "x"}], registered) == ["server"]
    assert fl_admin_console.explained_targets("deploy demo server", [{}], registered) == ["server"]


@pytest.mark.parametrize("command", ["upload_folder demo", "upload_folder my-mmar"])
def test_an_upload_reads_the_servers_log(command):
    assert fl_admin_console.explained_targets(command, [{"error": "Upload failed"}], REGISTERED) == ["server"]


@pytest.mark.parametrize("error", ["Server training has not started.", "server training has NOT started"])
def test_a_client_start_refused_because_the_server_has_not_started_reads_the_servers_log(error):
    assert fl_admin_console.explained_targets("start client", [{"error": ""}, {"error": error}], REGISTERED) == [
        "server"]
    assert fl_admin_console.explained_targets("start client org2", [{"error": error}], REGISTERED) == ["server"]


def test_a_deploy_to_one_site_reads_the_server_and_that_site():
    assert fl_admin_console.explained_targets("deploy demo client org2", [{"error": "x"}], REGISTERED) == [
        "server", "org2"]
    assert fl_admin_console.explained_targets(["deploy", "demo", "client", "org2"], [{}], REGISTERED) == [
        "server", "org2"]
    # a site that is not registered has no log the console can read
    assert fl_admin_console.explained_targets("deploy demo client org9", [{"error": "x"}], REGISTERED) == ["server"]
    assert fl_admin_console.explained_targets("deploy demo client org2", [{"error": "x"}], None) == ["server"]


def test_a_start_of_every_client_reads_the_server_and_every_registered_site():
    for results in ([{"error": "No replies"}], [{"error": None}], [{}], [], None):
        assert fl_admin_console.explained_targets("start client", results, REGISTERED) == ["server"] + REGISTERED
    assert fl_admin_console.explained_targets("start client org1 org3", [{}], REGISTERED) == ["server", "org1", "org3"]
    # in the order the server registered them
    assert fl_admin_console.explained_targets("start client org3 org1", [{}], REGISTERED) == ["server", "org1", "org3"]
    assert fl_admin_console.explained_targets("start client", [{}], []) == ["server"]


@pytest.mark.parametrize("command", ["", "   ", "check_status server", "frobnicate x y"])
def test_other_commands_read_the_servers_log(command):
    assert fl_admin_console.explained_targets(command, [{"error": "x"}], REGISTERED) == ["server"]


# --- log_targets -------------------------------------------------------------------------------------------------


def test_log_targets_are_the_server_and_the_registered_sites():
    status = {"registered_clients": [{"name": "org1"}, {"name": "org3"}, {"name": "other"}]}
    assert fl_admin_console.log_targets(status, ["org1", "org2", "org3"]) == ["server", "org1", "org3"]
    assert fl_admin_console.log_targets(status, []) == ["server"]
    assert fl_admin_console.log_targets(status, None) == ["server"]
    assert fl_admin_console.log_targets({}, ["org1"]) == ["server"]
    assert fl_admin_console.log_targets({"registered_clients": None}, ["org1"]) == ["server"]


# --- read_failures and the message -------------------------------------------------------------------------------


def test_read_failures_quotes_only_the_logs_that_show_a_failure():
    texts = {tail_command("server"): log("server-two-runs.txt"),
             tail_command("org1"): log("site-missing-log-config.txt"),
             tail_command("org2"): log("site-missing-package.txt")}
    asked = []

    def read(commands):
        asked.append(commands)
        return dict((c, texts.get(c)) for c in commands)
    failures = fl_admin_console.read_failures(read, ["server", "org1", "org2", "org3"])
    assert asked == [[tail_command(t) for t in ["server", "org1", "org2", "org3"]]]
    assert sorted(failures) == ["org1", "org2"]
    assert failures["org1"][0].startswith("FL client execution exception: missing log config file")
    assert failures["org2"][-1] == "in the app's custom/clarafl_test_missing_package.py, line 2, in <module>"
    message = fl_admin_console.failures_message(failures, {"org2": "h2:/opt/clarafl/p/org2/log.txt"})
    lines = message.splitlines()
    assert lines[0] == "The engine's logs say why (the latest training attempt):"
    assert lines[1] == "site org1 (log.txt in its kit folder):"
    assert "site org2 (log.txt at h2:/opt/clarafl/p/org2/log.txt):" in lines


def test_read_failures_of_a_failed_server():
    failures = fl_admin_console.read_failures(
        lambda commands: {tail_command("server"): log("server-broken-persistor.txt")}, ["server"])
    assert failures == {"server": [
        "FL server execution exception: clarafl test: the initial model store /models/initial.npz is not there",
        "RuntimeError: clarafl test: the initial model store /models/initial.npz is not there",
        "in the app's custom/clarafl_test_broken.py, line 9, in load_model"]}


# --- where the logs are ------------------------------------------------------------------------------------------


def test_log_files_of_the_server_and_every_site():
    hostvars = {
        "srv": {"fl_kit_root": "/srv/kits"},
        "spare": {},
        "box": {"fl_sites": [{"name": "a", "org": "o1"}, {"name": "b", "org": "o1"}]},
        "one": {"fl_client_name": "c", "fl_org": "o2", "fl_kit_root": "/data/fl"},
        "plain": {"fl_kit_root": ""},
    }
    assert fed.log_files(["srv", "spare"], ["box", "one", "plain"], hostvars, "p") == {
        "server": "srv:/srv/kits/server/log.txt",
        "a": "box:/opt/clarafl/p/a/log.txt",
        "b": "box:/opt/clarafl/p/b/log.txt",
        "c": "one:/data/fl/c/log.txt",
        "plain": "plain:/opt/clarafl/p/plain/log.txt",
    }


def test_log_files_without_a_kit_root_on_the_server():
    hostvars = {"srv": {}, "h": {"fl_client_name": "org1"}}
    assert fed.log_files(["srv"], ["h"], hostvars, "demo") == {
        "server": "srv:/opt/clarafl/demo/server/log.txt", "org1": "h:/opt/clarafl/demo/org1/log.txt"}


def test_log_files_of_nothing():
    assert fed.log_files([], [], {}, "p") == {}
    assert fed.log_files(["srv"], [], {"srv": None}, "p") == {"server": "srv:/opt/clarafl/p/server/log.txt"}
    # a host whose fl_sites is not a list has no site (site_problems says why)
    assert fed.log_files([], ["x"], {"x": {"fl_sites": "a,b"}}, "p") == {}
    # the log files follow the filter's output for the module's log_files option: quote_failures uses them
    where = fed.log_files(["srv"], ["h"], {"srv": {}, "h": {"fl_client_name": "org1"}}, "p")
    message = fl_admin_console.failures_message({"org1": ["ValueError: x"]}, where)
    assert "site org1 (log.txt at h:/opt/clarafl/p/org1/log.txt):" in message.splitlines()
