# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the engine's own logs say (module_utils/_engine_log.py), read from real Clara 4.0 / nvflare 1.0.2 logs: the
app's failures (quoting the frame that decided it), the engine's own complaints (never the app's), the rounds
aggregated, and where each log is."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible_collections.clarafl.federation.plugins.module_utils import _dialect_clara40 as dialect
from ansible_collections.clarafl.federation.plugins.module_utils import _engine_log as el
from ansible_collections.clarafl.federation.plugins.module_utils import federation as fed

LOGS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "fixtures",
                    "engine_logs")


def log(name):
    with open(os.path.join(LOGS, name)) as fh:
        return fh.read()


def grep_n(text, needle):
    """What ``grep -n NEEDLE log.txt`` answers: "<lineno>:<line>" for each line holding NEEDLE."""
    return "\n".join("%d:%s" % (number, line) for number, line in enumerate(text.splitlines(), 1) if needle in line)


HEALTHY_SITE_LINES = [
    "2026-11-30 08:40:01,000 - ProcessExecutor - INFO - waiting for process to finish",
    "starting the client .....",
    "2026-11-30 08:40:02,000 - FederatedClient - INFO - Got the model for round 0",
    "2026-11-30 08:40:09,000 - ClientAdminInterface - INFO - check client status.",
]

# --- the lines quoted per real log ------------------------------------------------------------------------------


def test_a_site_whose_app_imports_a_missing_package():
    assert el.failure_lines(log("site-missing-package.txt")) == [
        "FL client execution exception: Config error in /tmp/fl/org2/config_train.json: Error parsing "
        "/tmp/fl/org2/config_train.json in JSON element client_trainer: No module named 'clarafl_no_such_package'",
        "ModuleNotFoundError: No module named 'clarafl_no_such_package'",
        "dlmed.common.excepts.ConfigError: Config error in /tmp/fl/org2/config_train.json: Error parsing "
        "/tmp/fl/org2/config_train.json in JSON element client_trainer: No module named 'clarafl_no_such_package'",
        "in the app's custom/clarafl_test_missing_package.py, line 2, in <module>",
    ]


def test_a_site_started_on_several_gpus_in_an_image_without_torch():
    # start_mgpu runs python -m torch.distributed.launch; the engine logs one line and the site stops training.
    assert el.failure_lines(log("site-start-mgpu-no-torch.txt")) == [
        "Error while finding module specification for 'torch.distributed.launch' "
        "(ModuleNotFoundError: No module named 'torch')",
    ]


def test_a_site_whose_app_lacks_its_log_config_is_quoted_from_its_latest_attempt_only():
    # The log holds two identical attempts: the lines of the latest one, once each.
    assert el.failure_lines(log("site-missing-log-config.txt")) == [
        "FL client execution exception: missing log config file "
        "/workspace/site/startup/../run_11/mmar_org1-a/resources/log.config",
        "AssertionError: missing log config file /workspace/site/startup/../run_11/mmar_org1-a/resources/log.config",
        # no frame of the app's own code: the engine loading the app decided it
        "while the engine loaded or ran the app (clara_conf.py, in __init__)",
    ]
    attempt = el.latest_attempt(log("site-missing-log-config.txt"))
    assert attempt[0].endswith("Starting client training. rank: 0")
    assert "listen_port: 37399" in "\n".join(attempt) and "listen_port: 58117" not in "\n".join(attempt)


def test_a_server_whose_persistor_raises():
    text = log("server-broken-persistor.txt")
    assert el.failure_lines(text) == [
        "FL server execution exception: clarafl test: the initial model store /models/initial.npz is not there",
        "RuntimeError: clarafl test: the initial model store /models/initial.npz is not there",
        "in the app's custom/clarafl_test_broken.py, line 9, in load_model",
    ]
    # The latest attempt begins at the last start marker: "Create initial model message..." after the stop.
    assert el.latest_attempt(text)[0] == "Create initial model message..."


def test_a_healthy_server_log_quotes_nothing():
    text = log("server-two-runs.txt")
    assert el.failure_lines(text) == []
    # its CryptographyDeprecationWarning is a warning, not an exception
    assert el.failure_lines("Traceback (most recent call last)\n" + text.splitlines()[0]) == []


@pytest.mark.parametrize("name", ["site-missing-package.txt", "site-missing-log-config.txt"])
def test_an_older_attempts_traceback_before_a_new_start_is_not_quoted(name):
    text = "\n".join([log(name).rstrip("\n"),
                      "2026-11-30 08:45:00,000 - ClientAdminInterface - INFO - Starting client training. rank: 0"]
                     + HEALTHY_SITE_LINES)
    assert el.failure_lines(text) == []
    assert el.latest_attempt(text)[0].endswith("Starting client training. rank: 0")
    assert el.latest_attempt(text)[1:] == HEALTHY_SITE_LINES


def test_an_older_server_failure_before_a_new_start_is_not_quoted():
    text = log("server-broken-persistor.txt") + log("server-two-runs.txt")
    assert el.failure_lines(text) == []


def test_an_exception_looking_word_without_a_traceback_is_not_a_failure():
    text = "\n".join([
        "2026-11-30 08:40:00,000 - ClientAdminInterface - INFO - Starting client training. rank: 0",
        "ValueError: a line the app printed as information",
        "2026-11-30 08:40:01,000 - trainer - INFO - KeyError: 'x' was handled, retrying",
        "dlmed.common.excepts.ConfigError: looks like one",
        "2026-11-30 08:40:02,000 - trainer - WARNING - SomeWarning: not an error",
    ] + HEALTHY_SITE_LINES)
    assert el.failure_lines(text) == []


def test_the_engines_own_sentence_alone_is_a_failure():
    text = "2026-11-30 08:38:34,857 - root - WARNING - FL server execution exception: the model is gone\n"
    assert el.failure_lines(text) == ["FL server execution exception: the model is gone"]
    assert el.failure_lines("execution exception: lower case too") == ["execution exception: lower case too"]


def test_a_traceback_quotes_the_first_and_last_exception_and_the_apps_last_frame():
    text = "\n".join([
        "Starting client training. rank: 0",
        "Traceback (most recent call last):",
        '  File "/w/run_1/mmar_a/custom/first.py", line 3, in a',
        "KeyError: 'heart_beat_timeout'",
        "",
        "During handling of the above exception, another exception occurred:",
        "",
        "Traceback (most recent call last):",
        '  File "/w/run_1/mmar_a/custom/pkg/second.py", line 12, in build',
        "SomeLibraryError",
        "ValueError: the last one",
    ])
    assert el.failure_lines(text) == ["KeyError: 'heart_beat_timeout'", "ValueError: the last one",
                                      "in the app's custom/pkg/second.py, line 12, in build"]


def test_a_single_exception_is_quoted_once():
    text = "Traceback (most recent call last):\n  File \"x.py\", line 1, in f\nRuntimeError: once\n"
    assert el.failure_lines(text) == ["RuntimeError: once"]


def test_long_lines_are_clipped():
    long_message = "x" * 1000
    text = "Traceback (most recent call last):\nRuntimeError: %s\n" % long_message
    lines = el.failure_lines(text)
    assert len(lines) == 1
    assert len(lines[0]) == el.MAX_LINE
    assert lines[0].startswith("RuntimeError: xxx") and lines[0].endswith("...")
    # exactly MAX_LINE characters stay as they are
    exact = "RuntimeError: " + "y" * (el.MAX_LINE - len("RuntimeError: "))
    assert el.failure_lines("Traceback (most recent call last):\n" + exact) == [exact]


def test_at_most_max_quoted_lines():
    many = ["Traceback (most recent call last):"]
    for index in range(50):
        many.append("FL client execution exception: number %d" % index)
        many.append('  File "/w/run_1/mmar_a/custom/m%d.py", line %d, in f' % (index, index))
        many.append("ValueError: number %d" % index)
    lines = el.failure_lines("\n".join(many))
    assert 0 < len(lines) <= el.MAX_QUOTED
    assert lines == ["FL client execution exception: number 49", "ValueError: number 0", "ValueError: number 49",
                     "in the app's custom/m49.py, line 49, in f"]


@pytest.mark.parametrize("text", [None, "", "\n\n\n", "\x00\xff\xfe garbled \x1b[31m\n::::\n", "Traceback",
                                  "Traceback (most recent call last)", "Traceback (most recent call last)\n\n"])
def test_nothing_or_garbled_text_quotes_nothing(text):
    assert el.failure_lines(text) == []


def test_latest_attempt_without_a_start_line_is_the_whole_text():
    assert el.latest_attempt(None) == []
    assert el.latest_attempt("") == []
    assert el.latest_attempt("a\nb") == ["a", "b"]
    assert el.latest_attempt("a\ndeployed FL server trainer.\nb") == ["deployed FL server trainer.", "b"]


@pytest.mark.parametrize("text", [5, ["ValueError: x"]])
def test_a_text_of_the_wrong_type_quotes_nothing(text):
    assert isinstance(el.latest_attempt(text), list)
    assert el.failure_lines(text) == []


def test_bytes_are_read_as_text():
    assert el.failure_lines(b"Traceback (most recent call last)\nValueError: x\n") == ["ValueError: x"]


# --- the engine's own complaints are not the app's --------------------------------------------------------------

ENGINE_OWN = "AttributeError: 'NoneType' object has no attribute 'body'"


@pytest.mark.parametrize("name", ["server-site-killed.txt", "server-site-paused-during-deploy.txt"])
def test_the_engines_admin_handler_answering_for_a_site_that_gave_no_reply_is_not_the_apps_failure(name):
    # Real server logs: a site killed at round 4, a site paused during a deploy. The engine's admin command handler
    # (dlmed/hci/server/reg.py, fed/server/shell_cmd.py) raises for the site that did not answer.
    text = log(name)
    assert "Traceback (most recent call last):" in text and ENGINE_OWN in text
    assert el.failure_lines(text) == []
    assert el.engine_complaints(text) == [ENGINE_OWN]
    kept, engine = el.split_attempt(text)
    assert engine == [ENGINE_OWN] and not any("Traceback" in line or ENGINE_OWN in line for line in kept)


def _with_engine_traceback(text, after):
    """TEXT with the engine's own traceback (from the killed-site log) put after its line holding AFTER."""
    killed = log("server-site-killed.txt").splitlines()
    start = [i for i, line in enumerate(killed) if line.startswith("Traceback")][0]
    block = killed[start:killed.index(ENGINE_OWN, start) + 1]
    assert len(block) == 7
    lines = text.splitlines()
    at = [i for i, line in enumerate(lines) if after in line][-1] + 1
    return "\n".join(lines[:at] + block + lines[at:])


def test_an_apps_failure_beside_the_engines_complaint_is_quoted_alone():
    text = _with_engine_traceback(log("server-broken-persistor.txt"), "Create initial model message")
    assert el.failure_lines(text) == el.failure_lines(log("server-broken-persistor.txt"))
    assert el.engine_complaints(text) == [ENGINE_OWN]
    text = _with_engine_traceback(log("site-missing-package.txt"), "Starting client training")
    assert el.failure_lines(text)[-1] == "in the app's custom/clarafl_test_missing_package.py, line 2, in <module>"
    assert ENGINE_OWN not in el.failure_lines(text)


def test_the_deciding_frame_is_the_apps_own_code_else_the_engine_loading_the_app():
    app = "\n".join(["Starting client training. rank: 0", "Traceback (most recent call last):",
                     '  File "<nvflare-1.0.2>/nvflare/private/fed/app/fl_conf.py", line 427, in build_component',
                     '  File "/workspace/site/run_1/mmar_a/custom/trainer.py", line 5, in __init__',
                     '  File "/usr/local/lib/python3.8/json/decoder.py", line 337, in decode',
                     "ValueError: bad value"])
    assert el.failure_lines(app) == ["ValueError: bad value", "in the app's custom/trainer.py, line 5, in __init__"]
    loading = "\n".join(["Create initial model message...", "Traceback (most recent call last):",
                         '  File "<nvflare-1.0.2>/nvflare/private/fed/server/sai.py", line 411, in '
                         'start_server_training',
                         '  File "<nvflare-1.0.2>/nvflare/private/fed/server/server_model_manager.py", line 100, in '
                         'init',
                         "KeyError: 'model_persistor'"])
    assert el.failure_lines(loading) == [
        "KeyError: 'model_persistor'", "while the engine loaded or ran the app (server_model_manager.py, in init)"]


@pytest.mark.parametrize("lines", [
    # a dropped connection without frames
    ["Traceback (most recent call last):", "ConnectionResetError: [Errno 104] Connection reset by peer"],
    # the engine's communicator
    ["Traceback (most recent call last):",
     '  File "/usr/local/lib/python3.8/site-packages/grpc/_channel.py", line 826, in __call__',
     "grpc._channel._InactiveRpcError: <_InactiveRpcError of RPC that terminated with: status = "
     "StatusCode.UNAVAILABLE>"],
    # the client's admin agent
    ["Traceback (most recent call last):", '  File "<nvflare-1.0.2>/nvflare/private/fed/client/admin.py", line 90, in '
     'process', "AttributeError: 'NoneType' object has no attribute 'body'"],
    # the engine saying so in its own words
    ["2026-12-07 19:17:31,485 - root - WARNING - FL server execution exception: grpc communication error"],
])
def test_other_engine_complaints_are_not_the_apps(lines):
    text = "\n".join(["2026-12-07 19:16:25,540 - FederatedServer - INFO - Server training has been started."] + lines)
    assert el.failure_lines(text) == []
    assert len(el.engine_complaints(text)) == 1


def test_an_apps_traceback_that_mentions_a_site_not_answering_is_still_the_apps():
    text = "\n".join(["Starting client training. rank: 0", "Traceback (most recent call last):",
                      '  File "/w/run_1/mmar_a/custom/trainer.py", line 7, in train',
                      "RuntimeError: the data server did not respond"])
    assert el.failure_lines(text) == ["RuntimeError: the data server did not respond",
                                      "in the app's custom/trainer.py, line 7, in train"]
    assert el.engine_complaints(text) == []


def test_engine_complaints_are_said_once_and_at_most_max_quoted():
    block = log("server-site-killed.txt")
    assert el.engine_complaints(block + "\n" + "\n".join(block.splitlines()[-40:])) == [ENGINE_OWN]
    many = "\n".join("Traceback (most recent call last):\nConnectionResetError: [Errno 104] Connection reset by peer "
                      "(call %d)" % i for i in range(20))
    assert len(el.engine_complaints(many)) == el.MAX_QUOTED and el.failure_lines(many) == []
    assert el.engine_complaints(None) == [] and el.engine_complaints(b"") == []


# --- rounds the server aggregated --------------------------------------------------------------------------------


def test_rounds_aggregated_counts_the_latest_training_only():
    text = log("server-two-runs.txt")
    rounds, started = grep_n(text, dialect.ROUND_LINE), grep_n(text, dialect.STARTED_LINE)
    assert started.splitlines() == ["15:2026-11-30 08:24:39,186 - FederatedServer - INFO - Server training has been "
                                    "started.",
                                    "69:2026-11-30 08:25:28,889 - FederatedServer - INFO - Server training has been "
                                    "started."]
    assert [line.split(":", 1)[0] for line in rounds.splitlines()] == ["31", "47", "61"]
    # the second training (line 69) has aggregated nothing yet: the first one's three rounds do not count
    assert el.rounds_aggregated(rounds, started) == 0
    # the log as it was at the end of the first training
    first = "\n".join(text.splitlines()[:62])
    assert el.rounds_aggregated(grep_n(first, dialect.ROUND_LINE), grep_n(first, dialect.STARTED_LINE)) == 3


def test_rounds_aggregated_counts_each_round_once():
    started = "10:x - Server training has been started."
    rounds = "\n".join(["11:Aggregation time for the round 0 : 1 seconds.",
                        "12:Aggregation time for the round 0 : 1 seconds.",
                        "13:Aggregation time for the round 1 : 1 seconds.",
                        "9:Aggregation time for the round 7 : 1 seconds."])
    assert el.rounds_aggregated(rounds, started) == 2


def test_rounds_aggregated_is_none_without_a_start_line():
    text = log("server-two-runs.txt")
    assert el.rounds_aggregated(grep_n(text, dialect.ROUND_LINE), "") is None
    assert el.rounds_aggregated(grep_n(text, dialect.ROUND_LINE), None) is None
    assert el.rounds_aggregated(None, None) is None
    # a start line without grep's line number is not one
    assert el.rounds_aggregated(grep_n(text, dialect.ROUND_LINE), "Server training has been started.") is None


@pytest.mark.parametrize("rounds", [None, "", "garbage\n\x00\xff\n:::", "x:Aggregation time for the round 3",
                                    "20:Aggregation time for the round x", "no colon Aggregation time for the round 1"])
def test_rounds_aggregated_skips_garbled_round_lines(rounds):
    assert el.rounds_aggregated(rounds, "1:Server training has been started.") == 0


@pytest.mark.parametrize("started", ["garbage", "\x00\xff", "abc:Server training has been started", ":::"])
def test_rounds_aggregated_garbled_start_lines_are_none(started):
    assert el.rounds_aggregated("5:Aggregation time for the round 0", started) is None


@pytest.mark.parametrize("rounds, started", [(5, "1:Server training has been started"),
                                             (b"2:Aggregation time for the round 0",
                                              b"1:Server training has been started")])
def test_rounds_aggregated_of_the_wrong_type(rounds, started):
    assert el.rounds_aggregated(rounds, started) in (None, 0, 1)


# --- commands and quoting ----------------------------------------------------------------------------------------


def test_the_commands_read_the_log_through_the_console():
    assert el.tail_command("server") == "tail server -n 200 log.txt"
    assert el.tail_command("org1-a", 50) == "tail org1-a -n 50 log.txt"
    assert el.tail_command("org1-a", "30") == "tail org1-a -n 30 log.txt"
    assert el.rounds_commands() == ['grep server -n "Aggregation time for the round" log.txt',
                                    'grep server -n "Server training has been started" log.txt',
                                    'grep server -n "INFO - received" log.txt']


def test_quote_failures_puts_the_server_first_and_names_each_log():
    failures = {"org2": ["ValueError: b"], "server": ["RuntimeError: s"], "org1": ["KeyError: a", "x"], "org3": []}
    assert el.quote_failures(failures) == [
        "the server (log.txt in its kit folder):",
        "    RuntimeError: s",
        "site org1 (log.txt in its kit folder):",
        "    KeyError: a",
        "    x",
        "site org2 (log.txt in its kit folder):",
        "    ValueError: b",
    ]
    where = {"server": "srv:/opt/clarafl/p/server/log.txt", "org2": "h2:/opt/clarafl/p/org2/log.txt"}
    assert el.quote_failures(failures, where) == [
        "the server (log.txt at srv:/opt/clarafl/p/server/log.txt):",
        "    RuntimeError: s",
        "site org1 (log.txt in its kit folder):",
        "    KeyError: a",
        "    x",
        "site org2 (log.txt at h2:/opt/clarafl/p/org2/log.txt):",
        "    ValueError: b",
    ]


def test_quote_failures_of_nothing():
    assert el.quote_failures({}) == []
    assert el.quote_failures({"server": [], "org1": None}) == []
    assert el.quote_failures({"org1": ["x"]}, None) == ["site org1 (log.txt in its kit folder):", "    x"]
    assert el.quote_failures({"org1": ["x"]}, {"org1": ""}) == ["site org1 (log.txt in its kit folder):", "    x"]


def test_quote_failures_of_none():
    assert el.quote_failures(None) == []


# --- where the logs are (module_utils/federation.py log_files), as the messages name them ------------------------


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
    # the log files follow the filter's output for fl_training's log_files option: quote_failures uses them
    where = fed.log_files(["srv"], ["h"], {"srv": {}, "h": {"fl_client_name": "org1"}}, "p")
    assert el.quote_failures({"org1": ["ValueError: x"]}, where) == [
        "site org1 (log.txt at h:/opt/clarafl/p/org1/log.txt):", "    ValueError: x"]


# --- the sites' submissions, by token ----------------------------------------------------------------------------


def test_submissions_count_each_token_s_rounds_in_the_latest_training_only():
    text = log("server-two-runs.txt")
    started = grep_n(text, dialect.STARTED_LINE)
    # the log as it was at the end of the first training: three sites (the project's name has an underscore)
    first = "\n".join(text.splitlines()[:62])
    counts = el.submissions(grep_n(first, dialect.RECEIVED_LINE), grep_n(first, dialect.STARTED_LINE))
    assert counts == {"a2b0956d-5c26-46eb-9b1a-ea27a0dec01a": 3, "039c2111-77af-4360-bce8-eaba60e47d34": 3,
                      "0640ffbb-bd36-4bf0-b849-bf405ac72d71": 3}
    # the second training (line 69) has received nothing yet
    assert el.submissions(grep_n(text, dialect.RECEIVED_LINE), started) == {}
    assert el.submissions(grep_n(text, dialect.RECEIVED_LINE), "") == {} and el.submissions(None, None) == {}
