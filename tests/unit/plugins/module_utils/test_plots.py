# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A run's plots, drawn with the real matplotlib; drawn once for the same data; a note without matplotlib."""

from __future__ import absolute_import, division, print_function

import json
import os
import stat
import struct
import sys

import pytest

from ansible_collections.clarafl.federation.plugins.module_utils import plots
from ansible_collections.clarafl.federation.plugins.module_utils.mmar_config import run_summary

try:
    import matplotlib  # noqa: F401  pylint: disable=unused-import
    HAS_MATPLOTLIB = True
except ImportError:  # pragma: no cover - matplotlib is in requirements.txt
    HAS_MATPLOTLIB = False
# The drawing tests need the real matplotlib; the note for a controller without it is tested either way.
drawn = pytest.mark.skipif(not HAS_MATPLOTLIB, reason="matplotlib is not installed")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SITES = ["org1-a", "org1-b", "org2"]


def _metrics_text(rounds=3, session=1):
    # As the demo persistor writes metrics.jsonl: round 0 is the initial model.
    lines = []
    for rnd in range(rounds + 1):
        lines.append(json.dumps({"session": session, "round": rnd, "engine_round": rnd - 1 if rnd else None,
                                 "event": "aggregated" if rnd else "initial", "accuracy": 0.6 + 0.1 * rnd,
                                 "auc": 0.7 + 0.08 * rnd, "loss": 0.69 - 0.1 * rnd, "n_valid": 114,
                                 "time": "2026-01-01T00:00:0%dZ" % rnd}))
    return "\n".join(lines) + "\n"


def _summary(metrics_text=None, contributions=None):
    return run_summary(metrics_text if metrics_text is not None else _metrics_text(), engine_rounds=3, num_rounds=3,
                       contributions=contributions if contributions is not None else {s: 3 for s in SITES},
                       run_number=1, mmar="clarafl_demo", sites=SITES)


MATRIX = {
    "models": SITES + ["global"],
    "sites": SITES,
    "values": {"org1-a": {"org1-a": 0.95, "org1-b": 0.9, "org2": 0.88},
               "org1-b": {"org1-a": 0.91, "org1-b": None, "org2": 0.87},
               "org2": {"org1-a": 0.9, "org1-b": 0.89},
               "global": {"org1-a": 0.96, "org1-b": 0.95, "org2": 0.94}},
    "metric": "accuracy",
}


def _png_size(path):
    with open(path, "rb") as handle:
        head = handle.read(24)
    assert head[:8] == PNG_MAGIC, path
    return struct.unpack(">II", head[16:24])


def _names(result):
    return [os.path.basename(p) for p in result["files"]]


def _snapshot(folder):
    return dict((name, os.stat(os.path.join(str(folder), name)).st_mtime_ns) for name in os.listdir(str(folder)))


@drawn
def test_every_plot_of_a_run_with_metrics_and_a_matrix(tmp_path):
    out = tmp_path / "run_1-plots"
    result = plots.plot_run(_summary(), str(out), matrix=MATRIX)
    assert result["changed"] is True and result["notes"] == []
    assert _names(result) == ["validation.png", "loss.png", "contributions.png", "cross_site_validation.png"]
    for path in result["files"]:
        assert os.path.dirname(path) == str(out)
        width, height = _png_size(path)
        assert (width, height) == (700, 450)
        assert os.path.getsize(path) > 5000  # drawn, not an empty canvas
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert stat.S_IMODE(os.stat(str(out)).st_mode) == 0o755
    assert sorted(os.listdir(str(out))) == sorted(_names(result) + [".plots.json"])


def test_the_series_are_the_metrics_of_the_latest_session():
    text = _metrics_text(rounds=2, session=1) + _metrics_text(rounds=3, session=2)
    series = plots.metric_series(_summary(text)["metrics"])
    assert sorted(series) == ["accuracy", "auc", "loss"]
    assert [r for r, _v in series["accuracy"]] == [0, 1, 2, 3]
    assert series["loss"][0] == (0, 0.69)


@drawn
def test_a_run_without_metrics_gets_only_its_contributions(tmp_path):
    result = plots.plot_run(_summary(metrics_text="", contributions={"org1-a": 3, "org2": "2"}), str(tmp_path))
    assert _names(result) == ["contributions.png"]
    assert result["notes"] == ["No metric plots: the app wrote no metrics for this run"]
    assert _png_size(result["files"][0])


@drawn
def test_metrics_without_a_loss_draw_no_loss_plot(tmp_path):
    text = "\n".join(json.dumps({"round": r, "dice": 0.5 + r / 10.0}) for r in range(3))
    result = plots.plot_run(_summary(text), str(tmp_path))
    assert _names(result) == ["validation.png", "contributions.png"]


@drawn
def test_a_matrix_cell_without_a_result_is_drawn(tmp_path):
    matrix = dict(MATRIX, values={"global": {"org1-a": None, "org1-b": 0.5}})
    result = plots.plot_run(_summary(), str(tmp_path), matrix=matrix)
    assert "cross_site_validation.png" in _names(result)
    assert _png_size(str(tmp_path / "cross_site_validation.png"))
    # Every cell empty still draws (all hatched) instead of failing on an empty colour range.
    empty = dict(MATRIX, values={})
    result = plots.plot_run(_summary(), str(tmp_path / "empty"), matrix=empty)
    assert "cross_site_validation.png" in _names(result) and result["notes"] == []


@drawn
def test_an_unusable_matrix_is_a_note(tmp_path):
    result = plots.plot_run(_summary(), str(tmp_path), matrix={"models": [], "sites": SITES, "values": {}})
    assert "cross_site_validation.png" not in _names(result)
    assert result["notes"] == ["No cross-site validation plot: the matrix names no models or no sites"]


@drawn
def test_the_same_data_is_drawn_once(tmp_path):
    out = tmp_path / "plots"
    first = plots.plot_run(_summary(), str(out), matrix=MATRIX)
    before = _snapshot(out)
    with open(first["files"][0], "rb") as handle:
        png = handle.read()
    second = plots.plot_run(_summary(), str(out), matrix=MATRIX)
    assert second["changed"] is False and second["files"] == first["files"]
    assert _snapshot(out) == before
    # Drawn elsewhere, the same data gives the same bytes: a copy to the admin host stays unchanged.
    again = plots.plot_run(_summary(), str(tmp_path / "elsewhere"), matrix=MATRIX)
    with open(again["files"][0], "rb") as handle:
        assert handle.read() == png


@drawn
def test_new_data_draws_again_and_drops_a_plot_it_no_longer_makes(tmp_path):
    out = tmp_path / "plots"
    plots.plot_run(_summary(), str(out), matrix=MATRIX)
    result = plots.plot_run(_summary(), str(out))
    assert result["changed"] is True
    assert not os.path.exists(str(out / "cross_site_validation.png"))
    assert plots.plot_run(_summary(), str(out))["changed"] is False
    # A file removed by hand is drawn again.
    os.unlink(str(out / "loss.png"))
    assert plots.plot_run(_summary(), str(out))["changed"] is True
    assert os.path.isfile(str(out / "loss.png"))


@drawn
def test_modes_are_kept(tmp_path):
    out = tmp_path / "plots"
    plots.plot_run(_summary(), str(out), mode=0o640, dir_mode=0o750)
    assert stat.S_IMODE(os.stat(str(out)).st_mode) == 0o750
    assert all(stat.S_IMODE(os.stat(str(out / n)).st_mode) == 0o640 for n in os.listdir(str(out)))
    os.chmod(str(out / "loss.png"), 0o600)
    result = plots.plot_run(_summary(), str(out), mode=0o640, dir_mode=0o750)
    assert result["changed"] is True and stat.S_IMODE(os.stat(str(out / "loss.png")).st_mode) == 0o640


@drawn
def test_check_mode_writes_nothing(tmp_path):
    out = tmp_path / "plots"
    result = plots.plot_run(_summary(), str(out), matrix=MATRIX, check_mode=True)
    assert result["changed"] is True and len(result["files"]) == 4
    assert not out.exists()
    plots.plot_run(_summary(), str(out), matrix=MATRIX)
    assert plots.plot_run(_summary(), str(out), matrix=MATRIX, check_mode=True)["changed"] is False


def test_without_matplotlib_a_note_and_nothing_written(tmp_path, monkeypatch):
    # A module set to None in sys.modules makes its import fail, as on a controller without matplotlib.
    for name in [n for n in sys.modules if n == "matplotlib" or n.startswith("matplotlib.")] + ["matplotlib"]:
        monkeypatch.setitem(sys.modules, name, None)
    out = tmp_path / "plots"
    result = plots.plot_run(_summary(), str(out), matrix=MATRIX)
    assert result == {"dest": str(out), "files": [], "changed": False,
                      "notes": ["No plots: matplotlib is not installed on the controller (pip install matplotlib)"]}
    assert not out.exists()


def test_a_summary_that_is_no_dictionary_is_refused(tmp_path):
    with pytest.raises(plots.PlotsError):
        plots.plot_run(["no"], str(tmp_path))
