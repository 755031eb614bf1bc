# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The federated configs uploaded with an MMAR and the run summary (module_utils/mmar_config.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible_collections.clarafl.federation.plugins.module_utils import mmar_config as mc

SITES = ["org1", "org2"]
PERSISTOR = {"path": "my_app.Persistor", "args": {"store": "/models"}}
TRAINER = {"path": "my_app.Trainer", "args": {"epochs": 1}}
CLIENT = json.dumps({"format_version": 1, "client": {"outbound_filters": [], "inbound_filters": []},
                     "client_trainer": TRAINER})


def server_text(first=None, weights=None, **extra):
    first = {"min_num_clients": 2, "num_rounds": 10, "heart_beat_timeout": 600} if first is None else first
    server = {"format_version": 1, "servers": [first],
              "aggregator": {"name": "AccumulateWeightedAggregator", "args": {}}}
    if weights is not None:
        server["aggregator"]["args"]["aggregation_weights"] = weights
    server.update(extra)
    return json.dumps(server)


def configs(server=None, client=CLIENT, settings=None, **kwargs):
    kwargs.setdefault("sites", SITES)
    return mc.federated_configs(server_text() if server is None else server, client, settings, **kwargs)


def first_server(result):
    return result["server"]["servers"][0]


# --- the app's own values kept, the inventory's written --------------------------------------------------------


@pytest.mark.parametrize("settings", [None, "", {}, {"num_rounds": None, "min_num_clients": ""},
                                      {"num_rounds": "  "}])
def test_the_apps_own_values_are_kept_without_settings(settings):
    out = configs(settings=settings)
    assert out["problems"] == [] and out["warnings"] == []
    assert first_server(out) == {"min_num_clients": 2, "num_rounds": 10, "heart_beat_timeout": 600}
    assert out["num_rounds"] == 10
    assert out["written"] == []
    assert out["kept"] == ["servers[0].num_rounds = 10 (the MMAR's own)",
                           "servers[0].min_num_clients = 2 (the MMAR's own)"]
    assert out["lines"] == ["Written into the MMAR's configs: nothing",
                            "Kept from the MMAR: servers[0].num_rounds = 10 (the MMAR's own); "
                            "servers[0].min_num_clients = 2 (the MMAR's own)"]
    assert out["client"] == json.loads(CLIENT)


def test_a_set_value_is_written_and_said_with_what_the_mmar_had():
    out = configs(settings={"num_rounds": 3})
    assert out["problems"] == []
    assert first_server(out)["num_rounds"] == 3 and out["num_rounds"] == 3
    assert out["written"] == ["servers[0].num_rounds = 3 (fl_admin_num_rounds; the MMAR had 10)"]
    assert out["kept"] == ["servers[0].min_num_clients = 2 (the MMAR's own)"]
    out = configs(settings={"min_num_clients": "1"})
    assert first_server(out)["min_num_clients"] == 1
    assert out["written"] == ["servers[0].min_num_clients = 1 (fl_admin_min_num_clients; the MMAR had 2)"]


def test_a_set_value_equal_to_the_apps_is_said_without_what_it_had():
    out = configs(settings={"num_rounds": "10"})
    assert out["written"] == ["servers[0].num_rounds = 10 (fl_admin_num_rounds)"]
    assert first_server(out)["num_rounds"] == 10


def test_a_value_the_app_lacks_is_written_without_what_it_had():
    out = configs(server=server_text({"heart_beat_timeout": 600}), settings={"num_rounds": 4})
    assert out["written"] == ["servers[0].num_rounds = 4 (fl_admin_num_rounds)"]
    assert out["kept"] == []


def test_the_input_text_is_not_changed_and_other_keys_are_kept():
    text = server_text(extra_key={"a": 1})
    out = configs(server=text, settings={"num_rounds": 3})
    assert json.loads(text)["servers"][0]["num_rounds"] == 10
    assert out["server"]["extra_key"] == {"a": 1}
    assert out["server"]["aggregator"] == {"name": "AccumulateWeightedAggregator", "args": {}}


def test_overrides_are_written():
    out = configs(settings={"heart_beat_timeout": 60, "wait_after_min_clients": 5, "unused": ""})
    assert out["problems"] == []
    assert first_server(out) == {"min_num_clients": 2, "num_rounds": 10, "heart_beat_timeout": 60,
                                 "wait_after_min_clients": 5}
    assert out["written"] == [
        "servers[0].heart_beat_timeout = 60 (fl_admin_server_overrides; the MMAR had 600)",
        "servers[0].wait_after_min_clients = 5 (fl_admin_server_overrides)"]
    assert out["lines"][0] == ("Written into the MMAR's configs: servers[0].heart_beat_timeout = 60 "
                               "(fl_admin_server_overrides; the MMAR had 600); servers[0].wait_after_min_clients = 5 "
                               "(fl_admin_server_overrides)")


def test_bytes_texts_are_read():
    out = mc.federated_configs(server_text().encode("utf-8"), CLIENT.encode("utf-8"), None, sites=SITES)
    assert out["problems"] == [] and first_server(out)["num_rounds"] == 10


# --- written configs ---------------------------------------------------------------------------------------------


def test_a_written_server_config_has_every_key_the_engine_needs():
    out = mc.federated_configs(None, CLIENT, None, PERSISTOR, None, ["org1", "org2", "org3"])
    assert out["problems"] == []
    first = first_server(out)
    assert set(mc.GENERATED_SERVER) <= set(first)
    assert first["heart_beat_timeout"] == 600
    assert first["min_num_clients"] == 3
    assert first["num_rounds"] == mc.GENERATED_SERVER["num_rounds"] == out["num_rounds"]
    for key, value in mc.GENERATED_SERVER.items():
        if key != "min_num_clients":
            assert first[key] == value
    assert out["server"]["model_persistor"] == PERSISTOR
    assert out["server"]["model_persistor"] is not PERSISTOR
    assert out["server"]["format_version"] == 1
    assert out["written"] == [
        "config/config_fed_server.json: written from fl_admin_model_persistor (the MMAR has none)",
        "servers[0].min_num_clients = 3 (the collection's default for a written config)",
        "servers[0].num_rounds = 5 (the collection's default for a written config)"]
    assert out["kept"] == []
    # GENERATED_SERVER itself is untouched
    assert mc.GENERATED_SERVER["min_num_clients"] is None


def test_a_written_server_config_takes_the_settings():
    out = mc.federated_configs(None, CLIENT, {"num_rounds": 7, "heart_beat_timeout": 30}, PERSISTOR, None, SITES)
    assert out["problems"] == []
    first = first_server(out)
    assert first["num_rounds"] == 7 and first["heart_beat_timeout"] == 30 and first["min_num_clients"] == 2
    assert "servers[0].num_rounds = 7 (fl_admin_num_rounds)" in out["written"]
    assert "servers[0].heart_beat_timeout = 30 (fl_admin_server_overrides)" in out["written"]
    assert not any("the MMAR had" in w for w in out["written"])


def test_a_written_client_config_has_the_trainer():
    out = mc.federated_configs(server_text(), None, None, None, TRAINER, SITES)
    assert out["problems"] == []
    assert out["client"]["client_trainer"] == TRAINER
    assert out["written"] == ["config/config_fed_client.json: written from fl_admin_client_trainer (the MMAR has none)"]


def test_missing_configs_without_persistor_or_trainer_are_problems_naming_the_variable():
    out = mc.federated_configs(None, None, None, None, None, SITES)
    assert len(out["problems"]) == 2
    assert out["problems"][0].startswith("fl_admin_model_persistor (the MMAR has no config/config_fed_server.json)")
    assert out["problems"][1].startswith("fl_admin_client_trainer (the MMAR has no config/config_fed_client.json)")
    out = mc.federated_configs(None, CLIENT, None, "my_app.Persistor", None, SITES)
    assert len(out["problems"]) == 1 and "fl_admin_model_persistor" in out["problems"][0]
    assert "'my_app.Persistor'" in out["problems"][0]
    out = mc.federated_configs(server_text(), None, None, None, {"args": {}}, SITES)
    assert len(out["problems"]) == 1 and "fl_admin_client_trainer" in out["problems"][0]
    # {name: Class} is one too
    out = mc.federated_configs(None, CLIENT, None, {"name": "PTFileModelPersistor"}, None, SITES)
    assert out["problems"] == []


# --- configs that cannot be used ---------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["server", "client"])
@pytest.mark.parametrize("text", ["{nope", "", "\x00\xff garbled", "{\"servers\": [", "NaN-ish"])
def test_invalid_json_is_a_problem(which, text):
    if which == "server":
        out = mc.federated_configs(text, CLIENT, None, PERSISTOR, TRAINER, SITES)
        name = mc.SERVER_CONFIG
    else:
        out = mc.federated_configs(server_text(), text, None, PERSISTOR, TRAINER, SITES)
        name = mc.CLIENT_CONFIG
    assert len(out["problems"]) == 1
    assert out["problems"][0].startswith("The MMAR's %s is not valid JSON" % name)
    assert out["server"] is None and out["client"] is None and out["num_rounds"] is None
    assert out["lines"] == []


@pytest.mark.parametrize("text, kind", [("[1, 2]", "list"), ("\"a string\"", "str"), ("5", "int"),
                                        ("null", "NoneType")])
def test_json_that_is_not_an_object_is_a_problem(text, kind):
    out = mc.federated_configs(text, CLIENT, None, PERSISTOR, TRAINER, SITES)
    assert out["problems"] == ["The MMAR's config/config_fed_server.json holds %s, not a JSON object." % kind]
    assert out["server"] is None and out["client"] is None


@pytest.mark.parametrize("text", ['{"format_version": 1}', '{"servers": []}', '{"servers": ["a"]}',
                                  '{"servers": {"name": "x"}}', '{"servers": null}'])
def test_a_server_config_without_servers_is_a_problem(text):
    out = configs(server=text)
    assert len(out["problems"]) == 1 and "has no servers list" in out["problems"][0]
    assert out["server"] is None and out["client"] is None and out["lines"] == []


def test_min_num_clients_above_the_number_of_sites_is_a_problem():
    out = configs(server=server_text({"min_num_clients": 3, "num_rounds": 2}))
    assert out["problems"] == ["servers[0].min_num_clients is 3 but the federation has 2 site(s) (org1, org2): "
                               "no round could end. Set fl_admin_min_num_clients."]
    out = configs(settings={"min_num_clients": 5})
    assert len(out["problems"]) == 1 and "min_num_clients is 5" in out["problems"][0]
    assert configs(settings={"min_num_clients": 2})["problems"] == []


@pytest.mark.parametrize("key, value", [("num_rounds", "five"), ("num_rounds", 0), ("num_rounds", -3),
                                        ("num_rounds", True), ("min_num_clients", "five"), ("min_num_clients", 0),
                                        ("min_num_clients", True), ("min_num_clients", False),
                                        ("num_rounds", [3]), ("num_rounds", {"a": 1})])
def test_bad_numbers_are_problems(key, value):
    out = configs(settings={key: value})
    source = mc.SOURCES[key]
    assert ["%s must be a whole number of at least 1, got %r." % (source, value)] == [
        p for p in out["problems"] if p.startswith(source)]


def test_a_fraction_is_not_a_whole_number():
    out = configs(settings={"num_rounds": 2.7})
    assert any(p.startswith("fl_admin_num_rounds must be a whole number") for p in out["problems"])


@pytest.mark.parametrize("settings", [["num_rounds"], "num_rounds=3"])
def test_settings_of_the_wrong_type_are_a_problem(settings):
    out = configs(settings=settings)
    assert out["problems"]


@pytest.mark.parametrize("text", [{"servers": [{}]}, 5])
def test_a_config_text_of_the_wrong_type_is_a_problem(text):
    out = configs(server=text)
    assert out["problems"] or out["server"] is not None


# --- the demo MMAR, aggregation weights --------------------------------------------------------------------------


def test_demo_trains_on_every_site_unless_set():
    out = configs(demo=True, sites=["a", "b", "c"], server=server_text({"min_num_clients": 1, "num_rounds": 5}))
    assert out["problems"] == []
    assert first_server(out)["min_num_clients"] == 3
    assert out["written"] == ["servers[0].min_num_clients = 3 (every site: the demo MMAR trains on all of them; the "
                              "MMAR had 1)"]
    assert out["kept"] == ["servers[0].num_rounds = 5 (the MMAR's own)"]
    out = configs(demo=True, sites=["a", "b", "c"], settings={"min_num_clients": 2})
    assert first_server(out)["min_num_clients"] == 2
    assert out["written"] == ["servers[0].min_num_clients = 2 (fl_admin_min_num_clients)"]
    # an empty setting is not one
    out = configs(demo=True, sites=["a", "b", "c"], settings={"min_num_clients": ""})
    assert first_server(out)["min_num_clients"] == 3
    # not the demo: the app's own
    assert first_server(configs(sites=["a", "b", "c"]))["min_num_clients"] == 2


def test_demo_counts_partner_sites_only_when_required():
    # org2 may be missing (not required): the demo's min_num_clients counts the others; the run's value is returned
    out = configs(demo=True, sites=["a", "b", "org2"], optional=["org2"])
    assert out["problems"] == [] and first_server(out)["min_num_clients"] == 2 and out["min_num_clients"] == 2
    assert out["written"] == ["servers[0].min_num_clients = 2 (every site but the partner sites not marked "
                              "required: the demo MMAR trains on all the others)"]
    assert configs(demo=True, sites=["a", "b", "org2"])["min_num_clients"] == 3


def test_aggregation_weights_naming_an_unknown_site_is_a_warning():
    out = configs(server=server_text(weights={"org1": 1.0, "orgX": 2.0}))
    assert out["problems"] == []
    assert out["warnings"] == [
        "aggregator.args.aggregation_weights names orgX, which the federation does not have (its sites: org1, org2): "
        "those weights are never used.",
        "Sites without a weight in aggregation_weights (the engine gives them 1.0): org2."]
    assert out["lines"][-2:] == ["Warning: " + w for w in out["warnings"]]
    # weights for every site, or for some of them only: nothing to say
    assert configs(server=server_text(weights={"org1": 1.0, "org2": 2.0}))["warnings"] == []
    assert configs(server=server_text(weights={"org1": 1.0}))["warnings"] == []
    # without sites there is nothing to compare with
    assert configs(server=server_text(weights={"orgX": 1.0}), sites=[])["warnings"] == []


@pytest.mark.parametrize("aggregator", [None, "x", {"args": None}, {"args": [1]},
                                        {"args": {"aggregation_weights": [1]}},
                                        {"args": {"aggregation_weights": "org1"}}])
def test_odd_aggregators_are_not_read(aggregator):
    out = configs(server=json.dumps({"servers": [{"num_rounds": 2, "min_num_clients": 1}], "aggregator": aggregator}))
    assert out["problems"] == [] and out["warnings"] == []
    assert out["num_rounds"] == 2


def test_num_rounds_that_is_not_a_number_is_none_in_the_result():
    out = configs(server='{"servers": [{"num_rounds": "5"}]}')
    assert out["num_rounds"] is None
    assert out["kept"] == ['servers[0].num_rounds = "5" (the MMAR\'s own)']


@pytest.mark.parametrize("sites", [None, (), []])
def test_no_sites(sites):
    out = configs(sites=sites)
    assert out["problems"] == [] and first_server(out)["min_num_clients"] == 2


# --- config_lines ------------------------------------------------------------------------------------------------


def test_config_lines():
    assert mc.config_lines({}) == ["Written into the MMAR's configs: nothing"]
    assert mc.config_lines({"written": ["a", "b"], "kept": ["c"], "warnings": ["w1", "w2"]}) == [
        "Written into the MMAR's configs: a; b", "Kept from the MMAR: c", "Warning: w1", "Warning: w2"]
    assert mc.config_lines({"written": None, "kept": None, "warnings": None}) == [
        "Written into the MMAR's configs: nothing"]


# --- run_summary -------------------------------------------------------------------------------------------------


def metrics(*records):
    return "\n".join(json.dumps(r) for r in records) + "\n"


TWO_SESSIONS = metrics({"session": 1, "round": 0, "accuracy": 0.5}, {"session": 1, "round": 3, "accuracy": 0.8},
                       {"session": 2, "round": 0, "accuracy": 0.6}, {"session": 2, "round": 1, "accuracy": 0.9})


def test_engine_rounds_win_over_the_metrics():
    out = mc.run_summary(TWO_SESSIONS, 2, 5, {"org1": 2})
    assert out["rounds_done"] == 2 and out["rounds_from"] == "the server's log"
    assert out["num_rounds"] == 5 and out["contributions"] == {"org1": 2}
    assert out["metrics_file"] is True
    out = mc.run_summary(TWO_SESSIONS, 0, 5, {"org1": 4})
    assert out["rounds_done"] == 0 and out["rounds_from"] == "the server's log"


def test_only_the_latest_sessions_metrics_count():
    out = mc.run_summary(TWO_SESSIONS, None, 5)
    assert out["metrics"] == [{"session": 2, "round": 0, "accuracy": 0.6}, {"session": 2, "round": 1, "accuracy": 0.9}]
    assert out["rounds_done"] == 1 and out["rounds_from"] == "the app's metrics"
    # records without a session are all one session
    out = mc.run_summary(metrics({"round": 0}, {"round": 4}), None)
    assert out["rounds_done"] == 4 and len(out["metrics"]) == 2


@pytest.mark.parametrize("text", [None, "", "\n\n", b""])
def test_no_metrics(text):
    out = mc.run_summary(text, 3, 5, {"org1": 3})
    assert out["metrics_file"] is False and out["metrics"] == []
    assert out["rounds_done"] == 3 and out["rounds_from"] == "the server's log"


def test_without_engine_rounds_the_contributions_then_nothing():
    out = mc.run_summary("", None, 5, {"org1": 2, "org2": 4})
    assert out["rounds_done"] == 4 and out["rounds_from"] == "the contributions"
    out = mc.run_summary("", None, 5, {"org1": "3"})
    assert out["rounds_done"] == 3
    out = mc.run_summary(None, None)
    assert out["rounds_done"] == 0 and out["rounds_from"] == "nothing (no round was seen)"
    assert out["num_rounds"] is None and out["contributions"] == {} and out["metrics_file"] is False
    out = mc.run_summary("", "3")  # not a number of rounds: not the server's log
    assert out["rounds_from"] != "the server's log"


def test_the_contributions_are_a_copy():
    given = {"org1": 1}
    out = mc.run_summary("", None, None, given)
    out["contributions"]["org1"] = 9
    assert given == {"org1": 1}


def test_garbled_metric_lines_are_skipped():
    text = "\n".join(["garbage", "{not json", "[1, 2]", "\"a string\"", "5", "null", json.dumps({"round": 4}),
                      "\x00\xff", "   ", json.dumps({"round": "7"}), json.dumps({"session": "x", "round": 2})])
    out = mc.run_summary(text, None)
    assert out["metrics"] == [{"round": 4}, {"round": "7"}, {"session": "x", "round": 2}]
    assert out["rounds_done"] == 4 and out["rounds_from"] == "the app's metrics"
    assert out["metrics_file"] is True


def test_metrics_without_rounds_leave_it_to_the_contributions():
    out = mc.run_summary(metrics({"accuracy": 0.5}), None, None, {"org1": 2})
    assert out["metrics_file"] is True and out["rounds_done"] == 2 and out["rounds_from"] == "the contributions"


def test_fields_are_copied_in():
    out = mc.run_summary("", 1, 2, {}, run_number=3, mmar="demo", finished=True, sites=["org1"])
    assert out["run_number"] == 3 and out["mmar"] == "demo" and out["finished"] is True and out["sites"] == ["org1"]
    # the computed keys are the summary's own
    out = mc.run_summary("", 1, 2, {}, rounds_done=99, metrics_file=True)
    assert out["rounds_done"] == 1 and out["metrics_file"] is False


@pytest.mark.parametrize("contributions", [{"org1": None}, {"org1": "x", "org2": 2}])
def test_a_garbled_contribution_count_is_skipped(contributions):
    out = mc.run_summary("", None, None, contributions)
    assert out["rounds_done"] in (0, 2)


def test_metrics_of_the_wrong_type():
    out = mc.run_summary(5, 1)
    assert out["metrics_file"] is False


def test_app_leftovers_are_what_the_engine_does_not_keep():
    names = ["startup", "transfer", "log.txt", "audit.log", "pid.fl", "daemon_pid.fl", "run_1", "run_12", "run_x",
             "model.pt", "ckpt", ".hidden", "kept-before-run_3", "model.pt"]
    assert mc.app_leftovers(names) == ["ckpt", "model.pt", "run_x"]
    assert mc.app_leftovers(None) == [] and mc.app_leftovers([]) == []


# --- cross-site validation: the client config's cross_validate ----------------------------------------------------

def client_text(**extra):
    client = json.loads(CLIENT)
    client.update(extra)
    return json.dumps(client)


@pytest.mark.parametrize("wanted", [True, False])
def test_cross_validation_is_written_into_the_client_config_and_said(wanted):
    out = configs(cross_validation=wanted)
    assert out["problems"] == []
    assert out["client"]["cross_validate"] is wanted
    line = "config/config_fed_client.json: cross_validate = %s (fl_admin_cross_site_validation)" % json.dumps(wanted)
    assert out["written"] == [line]
    assert out["lines"][0] == "Written into the MMAR's configs: " + line
    # Everything else of the app's client config is kept.
    assert dict((k, v) for k, v in out["client"].items() if k != "cross_validate") == json.loads(CLIENT)


def test_cross_validation_over_the_apps_value_says_what_it_had():
    out = configs(client=client_text(cross_validate=False), cross_validation=True)
    assert out["client"]["cross_validate"] is True
    assert out["written"] == ["config/config_fed_client.json: cross_validate = true "
                              "(fl_admin_cross_site_validation; the MMAR had false)"]
    out = configs(client=client_text(cross_validate=True), cross_validation=True)
    assert out["written"] == ["config/config_fed_client.json: cross_validate = true (fl_admin_cross_site_validation)"]


def test_cross_validation_none_keeps_the_apps_value_and_says_it_when_there_is_one():
    out = configs(client=client_text(cross_validate=True))
    assert out["client"]["cross_validate"] is True
    assert out["written"] == []
    assert out["kept"][-1] == "config/config_fed_client.json: cross_validate = true (the MMAR's own)"
    assert out["lines"][1].endswith("; config/config_fed_client.json: cross_validate = true (the MMAR's own)")
    out = configs()
    assert "cross_validate" not in out["client"]
    assert not [line for line in out["lines"] if "cross_validate" in line]


def test_cross_validation_in_a_written_client_config():
    out = configs(client=None, trainer=TRAINER, cross_validation=True)
    assert out["problems"] == []
    assert out["client"]["cross_validate"] is True
    assert out["written"][-1] == "config/config_fed_client.json: cross_validate = true (fl_admin_cross_site_validation)"


@pytest.mark.parametrize("wanted", ["yes", 1, "true", {}])
def test_cross_validation_must_be_a_boolean(wanted):
    out = configs(cross_validation=wanted)
    assert out["problems"] == ["fl_admin_cross_site_validation must be true, false or null (keep the MMAR's), got %r."
                               % (wanted,)]
    assert "cross_validate" not in (out["client"] or {})
