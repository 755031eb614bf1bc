# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The federated configs the fl_admin role uploads with an MMAR, decided in one place.

An app brings ``config/config_fed_server.json`` and ``config/config_fed_client.json``, or lacks them (the
runbook's "Missing Config Files": the role writes them from the inventory's persistor and trainer). The app's
own values are kept: only what the inventory sets is written into ``servers[0]``, and every value written is
said, with where it came from. The demo MMAR (the collection's own) trains on every site, so its
``min_num_clients`` is the number of sites unless the inventory says otherwise.

Plain functions, no I/O: the texts come from the role (slurp), the result goes back to it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json

SERVER_CONFIG = "config/config_fed_server.json"
CLIENT_CONFIG = "config/config_fed_client.json"
# servers[0] of a generated server config: the keys the engine reads (it fails on a missing heart_beat_timeout).
GENERATED_SERVER = {
    "min_num_clients": None,
    "max_num_clients": 100,
    "wait_after_min_clients": 10,
    "heart_beat_timeout": 600,
    "start_round": 0,
    "num_rounds": 5,
}
# Where a value the role writes comes from, for the messages.
SOURCES = {"num_rounds": "fl_admin_num_rounds", "min_num_clients": "fl_admin_min_num_clients"}


def _parse(text, name, problems):
    """The JSON object TEXT holds; None when TEXT is None (the app lacks the file); a problem otherwise."""
    if text is None:
        return None
    if isinstance(text, dict):
        return copy.deepcopy(text)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str):
        problems.append("The MMAR's %s could not be read as text (got %s)." % (name, type(text).__name__))
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        problems.append("The MMAR's %s is not valid JSON (%s): fix the file, or remove it to have it written from "
                        "fl_admin_model_persistor / fl_admin_client_trainer." % (name, exc))
        return None
    if not isinstance(value, dict):
        problems.append("The MMAR's %s holds %s, not a JSON object." % (name, type(value).__name__))
        return None
    return value


def _component(value, variable, problems):
    """A persistor or trainer given in the inventory: {path: module.Class, args: {}} or {name: Class, args: {}}."""
    if not isinstance(value, dict) or not (value.get("path") or value.get("name")):
        problems.append("%s must be {path: module.Class, args: {...}} (or {name: Class} for a class the engine knows) "
                        "of the MMAR's code, got %r." % (variable, value))
        return None
    return dict(value)


def _is_set(value):
    return value is not None and not (isinstance(value, str) and not value.strip())


def _number(key, value, problems):
    if key not in SOURCES:
        return value
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if isinstance(value, float) and not value.is_integer():
        number = None
    if number is None or isinstance(value, bool) or number < 1:
        problems.append("%s must be a whole number of at least 1, got %r." % (SOURCES[key], value))
    return number


def federated_configs(server_text, client_text, settings=None, persistor=None, trainer=None, sites=(), demo=False,
                      cross_validation=None, optional=()):
    """The server and client configs to upload, and what was done to them.

    SERVER_TEXT / CLIENT_TEXT: the app's config texts, None when it lacks the file. SETTINGS: servers[0] values
    the inventory sets (None or empty: keep the app's). PERSISTOR / TRAINER: used only for a missing config.
    CROSS_VALIDATION: True / False writes the client config's ``cross_validate`` (the engine then runs cross-site
    validation after training, or not); None keeps the app's value. OPTIONAL: the sites among SITES a run may
    start without (partner sites not marked required): a min_num_clients the collection chooses counts the others.
    Returns {server, client, num_rounds, written, kept, warnings, problems, lines} (lists of sentences; lines
    is what the role prints);
    with problems, the configs are not to be used.
    """
    problems, written, kept, warnings = [], [], [], []
    sites = [sites] if isinstance(sites, str) else sites
    sites = [str(s) for s in sites or []]
    counted = len([s for s in sites if s not in [str(o) for o in optional or []]])
    if isinstance(settings, str) and not settings.strip():
        settings = None
    if settings is not None and not isinstance(settings, dict):
        problems.append("The values for servers[0] (fl_admin_num_rounds, fl_admin_min_num_clients, "
                        "fl_admin_server_overrides) must form a dictionary, got %s." % type(settings).__name__)
        settings = {}
    server = _parse(server_text, SERVER_CONFIG, problems)
    client = _parse(client_text, CLIENT_CONFIG, problems)
    generated_server = server is None and server_text is None
    if generated_server:
        model = _component(persistor, "fl_admin_model_persistor (the MMAR has no %s)" % SERVER_CONFIG, problems)
        server = {"format_version": 1, "servers": [dict(GENERATED_SERVER)],
                  "aggregator": {"name": "AccumulateWeightedAggregator", "args": {}},
                  "model_persistor": model, "shareable_generator": {"name": "FullModelShareableGenerator", "args": {}}}
        written.append("%s: written from fl_admin_model_persistor (the MMAR has none)" % SERVER_CONFIG)
    if client is None and client_text is None:
        model = _component(trainer, "fl_admin_client_trainer (the MMAR has no %s)" % CLIENT_CONFIG, problems)
        client = {"format_version": 1, "client": {"outbound_filters": [], "inbound_filters": []},
                  "client_trainer": model}
        written.append("%s: written from fl_admin_client_trainer (the MMAR has none)" % CLIENT_CONFIG)
    if server is None or client is None or problems:
        return dict(server=None, client=None, num_rounds=None, written=written, kept=kept, warnings=warnings,
                    problems=problems, lines=[])

    server = copy.deepcopy(server)
    servers = server.get("servers")
    if not isinstance(servers, list) or not servers or not isinstance(servers[0], dict):
        problems.append("The MMAR's %s has no servers list with a first entry (servers[0] holds num_rounds, "
                        "min_num_clients, heart_beat_timeout ...)." % SERVER_CONFIG)
        return dict(server=None, client=None, num_rounds=None, written=written, kept=kept, warnings=warnings,
                    problems=problems, lines=[])
    first = servers[0]
    wanted = dict((k, v) for k, v in (settings or {}).items() if _is_set(v))
    if demo and "min_num_clients" not in wanted:
        wanted["min_num_clients"] = counted
        source = ("every site: the demo MMAR trains on all of them" if counted == len(sites) else
                  "every site but the partner sites not marked required: the demo MMAR trains on all the others")
    else:
        source = None
    if generated_server:
        for key in ("num_rounds", "min_num_clients"):
            if key not in wanted:
                wanted[key] = counted if key == "min_num_clients" else first[key]
    for key in sorted(wanted):
        value = _number(key, wanted[key], problems)
        said = (source if key == "min_num_clients" and source else
                SOURCES.get(key, "fl_admin_server_overrides") if key in (settings or {}) and _is_set(settings[key])
                else "the collection's default for a written config")
        old = first.get(key)
        first[key] = value
        if old is not None and old != value and not generated_server:
            written.append("servers[0].%s = %s (%s; the MMAR had %s)" % (key, json.dumps(value), said, json.dumps(old)))
        else:
            written.append("servers[0].%s = %s (%s)" % (key, json.dumps(value), said))
    for key in ("num_rounds", "min_num_clients"):
        if key not in wanted and key in first:
            kept.append("servers[0].%s = %s (the MMAR's own)" % (key, json.dumps(first[key])))
    min_clients = first.get("min_num_clients")
    if isinstance(min_clients, int) and not isinstance(min_clients, bool) and min_clients > len(sites) > 0:
        problems.append("servers[0].min_num_clients is %d but the federation has %d site(s) (%s): no round could "
                        "end. Set fl_admin_min_num_clients." % (min_clients, len(sites), ", ".join(sites)))
    aggregator = server.get("aggregator") if isinstance(server.get("aggregator"), dict) else {}
    weights = (aggregator.get("args") or {}).get("aggregation_weights") if isinstance(aggregator.get("args"), dict) else None
    if isinstance(weights, dict) and sites:
        unknown = sorted(str(k) for k in weights if str(k) not in sites)
        if unknown:
            warnings.append("aggregator.args.aggregation_weights names %s, which the federation does not have (its "
                            "sites: %s): those weights are never used." % (", ".join(unknown), ", ".join(sites)))
        missing = [s for s in sites if s not in weights]
        if missing and unknown:
            warnings.append("Sites without a weight in aggregation_weights (the engine gives them 1.0): %s."
                            % ", ".join(missing))
    _cross_validation(client, cross_validation, written, kept, problems)
    rounds = first.get("num_rounds")
    result = dict(server=server, client=client, num_rounds=rounds if isinstance(rounds, int) else None,
                  min_num_clients=min_clients if isinstance(min_clients, int) and not isinstance(min_clients, bool)
                  else None, written=written, kept=kept, warnings=warnings, problems=problems)
    result["lines"] = config_lines(result)
    return result


def _cross_validation(client, wanted, written, kept, problems):
    """Write (or keep and say) the client config's cross_validate flag."""
    key = "%s: cross_validate" % CLIENT_CONFIG
    old = client.get("cross_validate")
    if wanted is None:
        if "cross_validate" in client:
            kept.append("%s = %s (the MMAR's own)" % (key, json.dumps(old)))
        return
    if not isinstance(wanted, bool):
        problems.append("fl_admin_cross_site_validation must be true, false or null (keep the MMAR's), got %r." % (wanted,))
        return
    client["cross_validate"] = wanted
    if "cross_validate" in client and old is not None and old != wanted:
        written.append("%s = %s (fl_admin_cross_site_validation; the MMAR had %s)" % (key, json.dumps(wanted), json.dumps(old)))
    else:
        written.append("%s = %s (fl_admin_cross_site_validation)" % (key, json.dumps(wanted)))


def config_lines(result):
    """What the role says about the configs it uploads: every value written, every value kept, the warnings."""
    lines = ["Written into the MMAR's configs: " + ("; ".join(result.get("written") or []) or "nothing")]
    if result.get("kept"):
        lines.append("Kept from the MMAR: " + "; ".join(result["kept"]))
    lines.extend("Warning: " + w for w in result.get("warnings") or [])
    return lines


def _metric_lines(text):
    """The records of a metrics.jsonl text (one JSON object per line); lines that are not are skipped."""
    records = []
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    for line in (text if isinstance(text, str) else "").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def _whole(value):
    """A whole number from an int or digits; None for anything else (booleans included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def run_summary(metrics_text, engine_rounds=None, num_rounds=None, contributions=None, **fields):
    """The summary of a run: rounds, contributions and end state from the engine, the metric table only when the
    app wrote one (metrics.jsonl in the run folder; the records of its latest session when they carry one).

    ENGINE_ROUNDS: rounds the server aggregated (its log), None when unknown; then the metrics' highest round,
    then the highest contribution count stand in, and ``rounds_from`` says which it was. FIELDS are copied in.
    """
    records = _metric_lines(metrics_text)
    sessions = [r.get("session") for r in records if isinstance(r.get("session"), int)]
    if sessions:
        records = [r for r in records if r.get("session") == max(sessions)]
    contributions = dict(contributions or {})
    metric_rounds = [r.get("round") for r in records if isinstance(r.get("round"), int)]
    if isinstance(engine_rounds, int):
        rounds, source = engine_rounds, "the server's log"
    elif metric_rounds:
        rounds, source = max(metric_rounds), "the app's metrics"
    elif [c for c in (_whole(v) for v in contributions.values()) if c is not None]:
        rounds, source = max(c for c in (_whole(v) for v in contributions.values()) if c is not None), "the contributions"
    else:
        rounds, source = 0, "nothing (no round was seen)"
    summary = dict(fields)
    summary.update(rounds_done=rounds, rounds_from=source, num_rounds=num_rounds, contributions=contributions,
                   metrics=records, metrics_file=bool(records))
    return summary


def with_metrics(summary, metrics_text, metrics_path=None):
    """SUMMARY (as run_summary made it without the app's metrics) with the metrics of METRICS_TEXT (the run
    folder's metrics.jsonl, read on the server's machine) and metrics_read set."""
    fields = dict(summary or {})
    engine_rounds = fields.get("rounds_done") if fields.get("rounds_from") == "the server's log" else None
    for key in ("rounds_done", "rounds_from", "metrics", "metrics_file"):
        fields.pop(key, None)
    fields.update(metrics_read=True, metrics_path=metrics_path or fields.get("metrics_path"))
    return run_summary(metrics_text, engine_rounds=engine_rounds, num_rounds=fields.pop("num_rounds", None),
                       contributions=fields.pop("contributions", None), **fields)


# What the engine itself keeps in the server's kit folder (its working folder); anything else there was left by
# an app (a model saved with a relative path, a checkpoint folder).
SERVER_KIT_OWN = ("startup", "transfer", "log.txt", "audit.log", "pid.fl", "daemon_pid.fl")
KEPT_PREFIX = "kept-before-run_"


def app_leftovers(names):
    """Of the names in the server's kit folder, those an app left there (not the engine's own files, run folders,
    or what an earlier fresh start kept aside), sorted."""
    out = []
    for name in names or []:
        name = str(name)
        if (not name or name in SERVER_KIT_OWN or name.startswith(".") or name.startswith(KEPT_PREFIX)
                or (name.startswith("run_") and name[4:].isdigit())):
            continue
        out.append(name)
    return sorted(set(out))
