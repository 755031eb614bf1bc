# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cross-site validation results, read from the engine's reply to ``validate all`` (Clara Train 4.0, nvflare 1.0.2).

The server keeps the results in ``<server kit>/run_<N>/cross_validation/cross_val_results.json`` as
``{data site: {model owner: metrics}}``; ``validate all`` answers with ``str()`` of that dict, a Python literal
such as ``{'site-a': {'FL_global_model': {'accuracy': 0.96}, 'site-b': {...}}}`` in one string item, or an empty
string before any site has reported. A model owner is a site (its local model) or a server model
(``FL_global_model``). A site that opted out sends no model: every site records ``{}`` for it. A validation that
failed on a site is recorded as ``None``.

Plain functions, no I/O: the reply comes from fl_admin_console, the result goes back to the role.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ast
import math

GLOBAL_MODEL = "FL_global_model"
# Metrics shown first when a result has several (the demo MMAR reports all three and a row count).
PREFERRED_METRICS = ("accuracy", "auc", "acc", "dice", "mean_dice", "val_acc", "val_accuracy", "loss")


def _reply_text(reply):
    """The text of a reply: a string as it is, or the string items of an AdminAPI reply dict; (text, problems)."""
    problems = []
    if reply is None:
        return None, ["No reply to validate all."]
    if isinstance(reply, bytes):
        reply = reply.decode("utf-8", "replace")
    if isinstance(reply, str):
        return reply, problems
    if not isinstance(reply, dict):
        return None, ["The reply to validate all is a %s, not the engine's reply." % type(reply).__name__]
    if reply.get("status") not in (None, "SUCCESS"):
        problems.append("validate all failed: %s" % (reply.get("details") or reply.get("status")))
    data = reply.get("data")
    if not isinstance(data, list):
        problems.append("The reply to validate all has no data items.")
        return None, problems
    texts = []
    for item in data:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "error":
            problems.append("validate all: %s" % str(item.get("data", "")).strip())
        elif item.get("type") in ("string", "success") and isinstance(item.get("data"), str):
            texts.append(item["data"])
    if not texts and problems:
        # An error alone (a usage message, a refusal) says nothing about the results.
        return None, problems
    return "\n".join(texts), problems


def _number(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and not (isinstance(value, float) and (math.isnan(value) or math.isinf(value))):
        return value
    return None


def _pick_metric(results, wanted):
    """The metric to show: WANTED, else the first preferred name any result has, else the first numeric key seen."""
    if wanted:
        return wanted
    names = []
    for metrics in results:
        for key, value in sorted(metrics.items()):
            if _number(value) is not None and key not in names:
                names.append(key)
    for name in PREFERRED_METRICS:
        if name in names:
            return name
    return names[0] if names else None


def _order(names, first=None):
    names = sorted(set(names))
    if first in names:
        names.remove(first)
        names.insert(0, first)
    return names


def validation_matrix(reply, metric=None, sites=None):
    """The cross-site validation results of a ``validate all`` reply, as a matrix.

    REPLY: the engine's reply (the AdminAPI reply dict, or its text). METRIC: the metric to tabulate (None: the
    first of PREFERRED_METRICS the results have, else the first numeric one). SITES: the federation's sites; a site
    without any result then counts as missing too.
    Returns {models, sites, values, metric, metrics, missing, problems, state}:

    - ``models``: the rows, the global model(s) first, then the sites' local models; ``sites``: the columns
      (the data each model was validated on);
    - ``values[model][site]``: the METRIC as a number, or None when there is none (not reported, opted out, failed);
    - ``metrics[model][site]``: every metric the site reported for the model (``{}`` for an opted-out model);
    - ``missing``: one sentence per empty cell or site, saying why (never a silent 0);
    - ``problems``: what made the reply unreadable (never an exception);
    - ``state``: ``complete``, ``partial`` (cells missing), ``empty`` (no results yet) or ``unreadable``.
    """
    result = dict(models=[], sites=[], values={}, metric=None, metrics={}, missing=[], problems=[], state="unreadable")
    text, problems = _reply_text(reply)
    result["problems"].extend(problems)
    expected = [str(s) for s in (sites or []) if str(s)]
    if text is None:
        return result
    text = text.strip()
    if not text:
        result["state"] = "empty"
        result["sites"] = sorted(set(expected))
        result["missing"] = ["No cross-site validation results yet (training not finished, validation still running, "
                             "or the app does not set cross_validate)."]
        return result
    try:
        data = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError) as exc:
        result["problems"].append("The reply to validate all is not the engine's results dict (%s): %s"
                                  % (type(exc).__name__, text[:200]))
        return result
    if not isinstance(data, dict):
        result["problems"].append("The reply to validate all holds a %s, not a dict of results: %s"
                                  % (type(data).__name__, text[:200]))
        return result

    cells = {}
    owners = set()
    for site, by_model in data.items():
        site = str(site)
        if not isinstance(by_model, dict):
            result["problems"].append("The results of site %s are a %s, not a dict: %r"
                                      % (site, type(by_model).__name__, by_model))
            by_model = {}
        cells[site] = {}
        for owner, metrics in by_model.items():
            owner = str(owner)
            owners.add(owner)
            cells[site][owner] = metrics
    columns = _order(list(cells) + expected)
    globals_ = [o for o in owners if o not in columns and o not in expected]
    rows = _order(globals_, GLOBAL_MODEL) + [c for c in columns if c in owners or c in expected]
    reported = [m for s in cells.values() for m in s.values() if isinstance(m, dict)]
    name = _pick_metric(reported, metric)
    result.update(models=rows, sites=columns, metric=name)

    for model in rows:
        result["values"][model] = {}
        result["metrics"][model] = {}
        for site in columns:
            value = None
            if site not in cells:
                result["missing"].append("%s's model on %s's data: %s has reported nothing" % (model, site, site))
            elif model not in cells[site]:
                result["missing"].append("%s's model on %s's data: not reported" % (model, site))
            else:
                metrics = cells[site][model]
                if metrics is None:
                    result["missing"].append("%s's model on %s's data: the validation failed (no metrics)"
                                             % (model, site))
                elif not isinstance(metrics, dict):
                    result["problems"].append("%s's model on %s's data: the result is %r, not metrics"
                                              % (model, site, metrics))
                elif not metrics:
                    result["metrics"][model][site] = {}
                    result["missing"].append("%s's model on %s's data: no result (%s did not share its model)"
                                             % (model, site, model))
                else:
                    result["metrics"][model][site] = dict(metrics)
                    value = _number(metrics.get(name)) if name else None
                    if value is None:
                        result["missing"].append("%s's model on %s's data: no numeric %s (got %s)"
                                                 % (model, site, name, ", ".join(sorted(str(k) for k in metrics))))
            result["values"][model][site] = value
    result["state"] = ("unreadable" if result["problems"] and not reported else
                       "partial" if result["missing"] else "complete")
    return result


def _cell(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        return "%.4f" % value
    return str(value)


def matrix_lines(matrix, width=None):
    """A fixed-width table of MATRIX (validation_matrix's result): one row per model, one column per site's data,
    ``-`` for an empty cell; then the missing cells and the problems. WIDTH: the widest a column may be (None: as
    wide as its longest name)."""
    if not isinstance(matrix, dict):
        return ["No cross-site validation matrix (got %s)." % type(matrix).__name__]
    models = [str(m) for m in matrix.get("models") or []]
    sites = [str(s) for s in matrix.get("sites") or []]
    values = matrix.get("values") if isinstance(matrix.get("values"), dict) else {}
    lines = []
    if models and sites:
        corner = "model \\ data (%s)" % (matrix.get("metric") or "no metric")

        def cut(text, limit):
            return text if not limit or len(text) <= limit else text[:max(limit - 1, 1)] + "~"

        first = max([len(corner)] + [len(cut(m, width)) for m in models])
        cells = dict((m, [_cell((values.get(m) or {}).get(s)) for s in sites]) for m in models)
        widths = [max([len(cut(s, width))] + [len(cells[m][i]) for m in models]) for i, s in enumerate(sites)]
        lines.append("  ".join([corner.ljust(first)] + [cut(s, width).rjust(w) for s, w in zip(sites, widths)]))
        lines.append("  ".join(["-" * first] + ["-" * w for w in widths]))
        for m in models:
            lines.append("  ".join([cut(m, width).ljust(first)] + [c.rjust(w) for c, w in zip(cells[m], widths)]))
    elif matrix.get("state") == "empty" or not matrix.get("problems"):
        lines.append("No cross-site validation results.")
    lines.extend("Missing: " + str(m) for m in matrix.get("missing") or [])
    lines.extend("Problem: " + str(p) for p in matrix.get("problems") or [])
    return lines
