# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Shared code of the clarafl demo MMAR: data split, logistic-regression maths, file helpers.

The model is a logistic regression on the 30 features of the Wisconsin Diagnostic Breast
Cancer data (scikit-learn's bundled copy). Its weights travel as a dict of float32 numpy
arrays:

* ``weight`` (30,) and ``bias`` (1,): trained by the sites;
* ``feature_mean`` (30,) and ``feature_scale`` (30,): the standardisation the model applies to
  raw features, ``(x - feature_mean) / feature_scale``. The server sets them once, from its
  held-out split, and the sites return them unchanged, so they never move.

Python 3.8, numpy < 1.24, scikit-learn < 1.4 (the Clara 4.0 runtime image).
"""

from __future__ import absolute_import, division, print_function

import csv
import datetime
import json
import logging
import os
import tempfile

import numpy as np

LOG = logging.getLogger("clarafl_demo")
PREFIX = "clarafl demo:"

# BEGIN shared split (keep identical in roles/fl_client/files/demo_data.py and custom/clarafl_demo_common.py)
DEFAULT_SEED = 20210601
VALID_FRACTION = 0.2


def split_indices(n_rows, num_sites, seed=DEFAULT_SEED):
    """Deterministic split of row numbers 0..n_rows-1: (held-out validation rows, [rows of site 0, ...]).

    The validation rows depend only on n_rows and seed, never on num_sites. The site shards are
    disjoint, sorted, differ in size by at most one row, and together cover every other row.
    """
    import numpy as np

    if int(num_sites) < 1:
        raise ValueError("num_sites must be >= 1, got %r" % (num_sites,))
    order = np.random.RandomState(int(seed)).permutation(int(n_rows))
    n_valid = int(round(int(n_rows) * VALID_FRACTION))
    valid = np.sort(order[:n_valid])
    shards = [np.sort(part) for part in np.array_split(order[n_valid:], int(num_sites))]
    return valid, shards


# END shared split

N_FEATURES = 30
LABEL_COLUMN = "label"
WEIGHT_KEYS = ("weight", "bias", "feature_mean", "feature_scale")
TRAINED_KEYS = ("weight", "bias")
DTYPE = np.float32
EPS = 1e-7


class DemoDataError(RuntimeError):
    """A site's training data is missing or malformed (the message says what to do)."""


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


# --------------------------------------------------------------------------------------- data

def load_validation(seed=DEFAULT_SEED):
    """The server's held-out split of scikit-learn's bundled copy: (X float64 (n, 30), y int (n,))."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    valid = split_indices(data.data.shape[0], 1, seed)[0]
    return data.data[valid].astype(np.float64), data.target[valid].astype(np.int64)


def missing_data_message(path, site, reason):
    return ("%s site %s has no training data: %s %s. Prepare the site's data folder with "
            "`python3 demo_data.py --site-index I --num-sites N --out DIR` (the collection's fl_client "
            "role does this when fl_client_demo_data is true) and mount DIR at /workspace/data in the "
            "client container, or point the trainer's args.data_dir in config/config_fed_client.json "
            "(or the CLARAFL_DEMO_DATA_DIR environment variable) at it. train.csv needs a '%s' column "
            "and %d numeric feature columns." % (PREFIX, site or "?", path, reason, LABEL_COLUMN, N_FEATURES))


def read_training_csv(path, site=None):
    """Read a site's train.csv: (X float64 (n, 30), y int64 (n,)). Raises DemoDataError with a clear message."""
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise DemoDataError(missing_data_message(folder, site, "(folder) does not exist"))
    if not os.path.isfile(path):
        raise DemoDataError(missing_data_message(path, site, "does not exist"))
    try:
        with open(path, newline="") as fh:
            rows = list(csv.reader(fh))
    except (IOError, OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DemoDataError(missing_data_message(path, site, "cannot be read (%s)" % exc))
    if not rows:
        raise DemoDataError(missing_data_message(path, site, "is empty"))
    header = [h.strip() for h in rows[0]]
    if LABEL_COLUMN not in header:
        raise DemoDataError(missing_data_message(path, site, "has no '%s' column (header: %s)"
                                                 % (LABEL_COLUMN, ",".join(header[:5]) + ",...")))
    li = header.index(LABEL_COLUMN)
    fi = [i for i in range(len(header)) if i != li]
    if len(fi) != N_FEATURES:
        raise DemoDataError(missing_data_message(path, site, "has %d feature columns, not %d"
                                                 % (len(fi), N_FEATURES)))
    body = [r for r in rows[1:] if any(c.strip() for c in r)]
    if not body:
        raise DemoDataError(missing_data_message(path, site, "has a header but no rows"))
    try:
        table = np.array([[float(c) for c in r] for r in body], dtype=np.float64)
    except ValueError as exc:
        raise DemoDataError(missing_data_message(path, site, "holds a non-numeric value (%s)" % exc))
    if table.shape[1] != len(header):
        raise DemoDataError(missing_data_message(path, site, "has rows of the wrong length"))
    y = table[:, li]
    if not np.all((y == 0) | (y == 1)):
        raise DemoDataError(missing_data_message(path, site, "has labels other than 0 and 1"))
    return table[:, fi], y.astype(np.int64)


# -------------------------------------------------------------------------------------- model

def initial_model(x_reference, init="zeros", seed=DEFAULT_SEED):
    """A fresh model whose standardisation is fitted on x_reference (the server's held-out features)."""
    mean = np.mean(x_reference, axis=0)
    scale = np.std(x_reference, axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    if init == "zeros":
        weight = np.zeros(N_FEATURES)
    elif init == "random":
        weight = np.random.RandomState(int(seed)).normal(0.0, 0.01, N_FEATURES)
    else:
        raise ValueError("%s init must be 'zeros' or 'random', not %r" % (PREFIX, init))
    return {
        "weight": weight.astype(DTYPE),
        "bias": np.zeros(1, dtype=DTYPE),
        "feature_mean": mean.astype(DTYPE),
        "feature_scale": scale.astype(DTYPE),
    }


def check_model(weights):
    """Raise ValueError unless weights is a model of this demo (keys, shapes)."""
    missing = [k for k in WEIGHT_KEYS if k not in weights]
    if missing:
        raise ValueError("%s model weights lack %s (got keys %s)" % (PREFIX, missing, sorted(weights)))
    for key, shape in (("weight", (N_FEATURES,)), ("bias", (1,)), ("feature_mean", (N_FEATURES,)),
                       ("feature_scale", (N_FEATURES,))):
        if tuple(np.shape(weights[key])) != shape:
            raise ValueError("%s model weight %r has shape %s, expected %s"
                             % (PREFIX, key, tuple(np.shape(weights[key])), shape))


def standardise(weights, x):
    return (np.asarray(x, dtype=np.float64) - np.asarray(weights["feature_mean"], dtype=np.float64)) \
        / np.asarray(weights["feature_scale"], dtype=np.float64)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40.0, 40.0)))


def predict_proba(weights, x):
    """P(label == 1) for raw feature rows x."""
    z = standardise(weights, x).dot(np.asarray(weights["weight"], dtype=np.float64)) \
        + float(np.asarray(weights["bias"]).reshape(-1)[0])
    return _sigmoid(z)


def log_loss(y, p):
    p = np.clip(p, EPS, 1.0 - EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1.0 - p)))


def evaluate(weights, x, y):
    """{'accuracy', 'auc', 'loss', 'n'} of the model on (x, y)."""
    from sklearn.metrics import roc_auc_score

    p = predict_proba(weights, x)
    acc = float(np.mean((p >= 0.5).astype(np.int64) == y))
    auc = float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else float("nan")
    return {"accuracy": round(acc, 6), "auc": round(auc, 6), "loss": round(log_loss(y, p), 6), "n": int(len(y))}


def train_local(weights, x, y, epochs=5, learning_rate=0.1, batch_size=32, l2=1e-3, seed=0, abort=None):
    """Mini-batch gradient descent on the logistic loss from the given global weights.

    Returns (new weights dict, stats dict). Only 'weight' and 'bias' change; the
    standardisation is copied through bit for bit. `abort` is an optional callable that
    returns True when training should stop early.
    """
    check_model(weights)
    xs = standardise(weights, x)
    w = np.asarray(weights["weight"], dtype=np.float64).copy()
    b = float(np.asarray(weights["bias"]).reshape(-1)[0])
    n = xs.shape[0]
    rng = np.random.RandomState(int(seed))
    before = log_loss(y, _sigmoid(xs.dot(w) + b))
    steps = 0
    for _epoch in range(int(epochs)):
        if abort is not None and abort():
            break
        order = rng.permutation(n)
        for start in range(0, n, int(batch_size)):
            idx = order[start:start + int(batch_size)]
            p = _sigmoid(xs[idx].dot(w) + b)
            err = p - y[idx]
            w -= learning_rate * (xs[idx].T.dot(err) / len(idx) + l2 * w)
            b -= learning_rate * float(np.mean(err))
            steps += 1
    after = log_loss(y, _sigmoid(xs.dot(w) + b))
    new = {k: np.array(v, copy=True) for k, v in weights.items()}
    new["weight"] = w.astype(DTYPE)
    new["bias"] = np.array([b], dtype=DTYPE)
    return new, {"rows": int(n), "steps": steps, "loss_before": round(before, 6), "loss_after": round(after, 6)}


# -------------------------------------------------------------------------------------- files

def append_jsonl(path, record):
    """Append one JSON line and flush it to disk."""
    with open(path, "a") as fh:
        fh.write(json.dumps(record, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def read_jsonl(path):
    out = []
    try:
        with open(path) as fh:
            for line in fh:
                line = line.strip()
                if line:
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        pass
    except (IOError, OSError):
        pass
    return out


def save_npz_atomic(path, weights):
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **{k: np.asarray(v) for k, v in weights.items()})
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
