# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PNG plots of a training run, drawn on the controller from the run's summary (mmar_config.run_summary).

* ``validation.png``: the validation metric(s) per round, from the app's metrics records (accuracy, AUC, ...).
* ``loss.png``: the loss per round, when the records carry one.
* ``contributions.png``: the rounds each site contributed (bar chart).
* ``cross_site_validation.png``: with a matrix, each model's result on each site's data (a heatmap).

matplotlib is an optional controller requirement: it is imported only when plots are drawn, with the Agg
backend, and a controller without it gets a one-line note instead of plots. The inputs' digest is kept in
``.plots.json`` beside the PNGs, so drawing the same run again writes nothing.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import math
import os
import tempfile

STATE_FILE = ".plots.json"
# Bumped when the drawing changes, so that plots drawn before are drawn again.
PLOTS_VERSION = 1
VALIDATION_PNG = "validation.png"
LOSS_PNG = "loss.png"
CONTRIBUTIONS_PNG = "contributions.png"
MATRIX_PNG = "cross_site_validation.png"
NO_MATPLOTLIB = "No plots: matplotlib is not installed on the controller (pip install matplotlib)"
# Fields of a metrics record that are not metrics.
NOT_METRICS = ("session", "round", "engine_round", "n_valid", "n", "time", "event")


class PlotsError(Exception):
    pass


def _number(value):
    """A finite float from an int or float (not a boolean); None for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        value = float(value)
    except OverflowError:
        return None
    return value if math.isfinite(value) else None


def metric_series(records):
    """{key: [(round, value), ...]} of the numeric metrics in RECORDS, by round (a later record of a round wins)."""
    by_round = {}
    for record in records or []:
        if not isinstance(record, dict) or isinstance(record.get("round"), bool) \
                or not isinstance(record.get("round"), int):
            continue
        by_round.setdefault(record["round"], {}).update(record)
    series = {}
    for rnd in sorted(by_round):
        for key, value in sorted(by_round[rnd].items()):
            value = _number(value)
            if key in NOT_METRICS or value is None:
                continue
            series.setdefault(str(key), []).append((rnd, value))
    return series


def _is_loss(key):
    return "loss" in key.lower()


def _contributions(summary):
    """[(site, count), ...]: the summary's sites in their order, then any other site that contributed."""
    counts = summary.get("contributions") or {}
    if not isinstance(counts, dict):
        counts = {}
    sites = [str(s) for s in summary.get("sites") or []]
    sites += sorted(str(s) for s in counts if str(s) not in sites)
    out = []
    for site in sites:
        value = counts.get(site, 0)
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        out.append((site, _number(value) or 0))
    return out


def _matrix(matrix):
    """(models, sites, values, metric) of a cross-site validation matrix, or a note saying why it cannot be drawn."""
    if not isinstance(matrix, dict):
        return None, "No cross-site validation plot: the matrix is not a dictionary"
    models = [str(m) for m in matrix.get("models") or []]
    sites = [str(s) for s in matrix.get("sites") or []]
    values = matrix.get("values") or {}
    if not models or not sites or not isinstance(values, dict):
        return None, "No cross-site validation plot: the matrix names no models or no sites"
    grid = []
    for model in models:
        row = values.get(model) or {}
        row = row if isinstance(row, dict) else {}
        grid.append([_number(row.get(site)) for site in sites])
    return (models, sites, grid, str(matrix.get("metric") or "metric")), None


def plan(summary, matrix=None):
    """The plots the inputs make: ([(file name, kind, data), ...], notes). No matplotlib needed, nothing written."""
    if not isinstance(summary, dict):
        raise PlotsError("the summary must be a dictionary, got %s" % type(summary).__name__)
    series = metric_series(summary.get("metrics"))
    validation = dict((k, v) for k, v in series.items() if not _is_loss(k))
    loss = dict((k, v) for k, v in series.items() if _is_loss(k))
    plots, notes = [], []
    if validation:
        plots.append((VALIDATION_PNG, "validation", validation))
    if loss:
        plots.append((LOSS_PNG, "loss", loss))
    if not series:
        notes.append("No metric plots: the app wrote no metrics for this run")
    contributions = _contributions(summary)
    if contributions:
        plots.append((CONTRIBUTIONS_PNG, "contributions", contributions))
    if matrix is not None:
        grid, note = _matrix(matrix)
        if grid:
            plots.append((MATRIX_PNG, "matrix", grid))
        else:
            notes.append(note)
    return plots, notes


def _title(summary, what):
    run = summary.get("run_number")
    mmar = summary.get("mmar")
    head = ("Run %s" % run if run not in (None, "") else "Run") + (" of %s" % mmar if mmar else "")
    return "%s: %s" % (head, what)


def _import_matplotlib():
    """(Figure, FigureCanvasAgg), or None when matplotlib cannot be imported."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    return Figure, FigureCanvasAgg


def _draw_series(fig, summary, data, what, ylabel):
    ax = fig.add_subplot(1, 1, 1)
    for key in sorted(data):
        rounds = [r for r, _v in data[key]]
        ax.plot(rounds, [v for _r, v in data[key]], marker="o", label=key)
    ax.set_title(_title(summary, what))
    ax.set_xlabel("round")
    ax.set_ylabel(ylabel if len(data) > 1 else sorted(data)[0])
    ax.grid(True, alpha=0.3)
    rounds = sorted(set(r for values in data.values() for r, _v in values))
    if len(rounds) <= 20:
        ax.set_xticks(rounds)
    if len(data) > 1:
        ax.legend()


def _draw_contributions(fig, summary, data):
    ax = fig.add_subplot(1, 1, 1)
    names = [site for site, _c in data]
    counts = [count for _s, count in data]
    bars = ax.bar(range(len(names)), counts, color="tab:blue")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=30 if len(names) > 6 else 0, ha="right" if len(names) > 6 else "center")
    for rect, count in zip(bars, counts):
        ax.annotate("%g" % count, (rect.get_x() + rect.get_width() / 2.0, rect.get_height()),
                    ha="center", va="bottom", fontsize=9)
    ax.set_title(_title(summary, "contributions per site"))
    ax.set_ylabel("rounds contributed")
    ax.set_ylim(0, max(counts + [1]) * 1.15)


def _draw_matrix(fig, summary, data):
    from matplotlib.patches import Rectangle
    import numpy  # matplotlib's own dependency

    models, sites, grid, metric = data
    values = numpy.ma.masked_invalid(numpy.array([[numpy.nan if v is None else v for v in row] for row in grid],
                                                 dtype=float))
    ax = fig.add_subplot(1, 1, 1)
    # Masked cells stay transparent (the colour map's default), over the axes' white.
    known = [v for row in grid for v in row if v is not None]
    image = ax.imshow(values, cmap="viridis", aspect="auto",
                      vmin=min(known) if known else 0.0, vmax=max(known) if known else 1.0)
    middle = (min(known) + max(known)) / 2.0 if known else 0.0
    for i, row in enumerate(grid):
        for j, value in enumerate(row):
            if value is None:
                # No result for this cell: hatched, not a colour that reads as a value.
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="///", edgecolor="0.6",
                                       linewidth=0))
                ax.text(j, i, "n/a", ha="center", va="center", fontsize=9, color="0.3")
            else:
                ax.text(j, i, "%.3f" % value, ha="center", va="center", fontsize=9,
                        color="white" if value < middle else "black")
    ax.set_xticks(range(len(sites)))
    ax.set_xticklabels(sites, rotation=30 if len(sites) > 6 else 0)
    ax.set_yticks(range(len(models)))
    ax.set_yticklabels(models)
    ax.set_xlabel("validated on the data of site")
    ax.set_ylabel("model")
    ax.set_title(_title(summary, "cross-site validation (%s)" % metric))
    fig.colorbar(image, ax=ax, label=metric)


def _render(libs, summary, name, kind, data, path):
    figure_class, canvas_class = libs
    fig = figure_class(figsize=(7.0, 4.5), dpi=100)
    canvas_class(fig)
    if kind == "validation":
        _draw_series(fig, summary, data, "validation metric per round", "validation metric")
    elif kind == "loss":
        _draw_series(fig, summary, data, "loss per round", "loss")
    elif kind == "contributions":
        _draw_contributions(fig, summary, data)
    else:
        _draw_matrix(fig, summary, data)
    fig.tight_layout()
    # No Software tag: the same data draws the same bytes whatever matplotlib version made them.
    fig.savefig(path, format="png", metadata={"Software": None})


def _digest(summary, matrix, plots):
    inputs = {"version": PLOTS_VERSION, "run_number": summary.get("run_number"), "mmar": summary.get("mmar"),
              "plots": [[name, kind, data] for name, kind, data in plots], "matrix": matrix is not None}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def _read_state(out_dir):
    try:
        with open(os.path.join(out_dir, STATE_FILE)) as handle:
            state = json.load(handle)
    except (IOError, OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _write_atomic(out_dir, name, mode, write):
    fd, tmp = tempfile.mkstemp(prefix="." + name + ".", dir=out_dir)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, mode)
        os.rename(tmp, os.path.join(out_dir, name))
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _mode_of(path):
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        return None


def plot_run(summary, out_dir, matrix=None, mode=0o644, dir_mode=0o755, check_mode=False):
    """Draw the run's plots into OUT_DIR (made with DIR_MODE when missing); PNGs get MODE.

    Returns {"dest": OUT_DIR, "files": [paths], "notes": [one-line notes], "changed": bool}. Unchanged inputs (the digest kept in
    .plots.json) with every file in place write nothing. In check mode nothing is written: "files" and "changed"
    say what a real run would do. Raises PlotsError for a summary that is not a dictionary, OSError when OUT_DIR
    cannot be written; a controller without matplotlib gets a note, never an exception.
    """
    out_dir = os.path.abspath(os.path.expanduser(out_dir))
    plots, notes = plan(summary, matrix)
    result = {"dest": out_dir, "files": [], "notes": notes, "changed": False}
    if not plots:
        return result
    libs = _import_matplotlib()
    if libs is None:
        result["notes"] = [NO_MATPLOTLIB]
        return result
    paths = [os.path.join(out_dir, name) for name, _k, _d in plots]
    digest = _digest(summary, matrix, plots)
    state = _read_state(out_dir)
    same = state.get("digest") == digest and all(os.path.isfile(p) for p in paths)
    stale = [os.path.join(out_dir, n) for n in state.get("files") or []
             if isinstance(n, str) and n.endswith(".png") and os.path.basename(n) == n
             and os.path.join(out_dir, n) not in paths and os.path.isfile(os.path.join(out_dir, n))]
    wrong_mode = [p for p in paths if os.path.isfile(p) and _mode_of(p) != mode]
    result["files"] = paths
    result["changed"] = not same or bool(stale) or bool(wrong_mode) or not os.path.isdir(out_dir)
    if check_mode or not result["changed"]:
        return result
    if not os.path.isdir(out_dir):
        os.makedirs(out_dir)
        os.chmod(out_dir, dir_mode)
    if same:
        for path in wrong_mode:
            os.chmod(path, mode)
    else:
        for (name, kind, data), path in zip(plots, paths):
            _write_atomic(out_dir, name, mode, lambda tmp, n=name, k=kind, d=data: _render(libs, summary, n, k, d, tmp))
    # Plots an earlier drawing made that these inputs no longer make (a metric the app stopped writing).
    for path in stale:
        os.unlink(path)

    def _state(tmp):
        with open(tmp, "w") as handle:
            json.dump({"digest": digest, "files": [os.path.basename(p) for p in paths]}, handle, sort_keys=True)
            handle.write("\n")

    _write_atomic(out_dir, STATE_FILE, mode, _state)
    return result
