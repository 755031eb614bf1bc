# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Write one site's share of the demo data for the clarafl demo MMAR.

The data is the Wisconsin Diagnostic Breast Cancer dataset as bundled with scikit-learn
(``sklearn.datasets.load_breast_cancer``: 569 rows, 30 numeric features, loads offline).
A fixed-seed permutation puts 20 % of the rows aside as the server's held-out validation
split (the demo MMAR's model persistor scores the global model on it) and deals the
remaining rows to ``--num-sites`` disjoint shards. Site ``--site-index`` (0-based) gets
shard number ``--site-index``::

    python3 demo_data.py --site-index 0 --num-sites 3 --out /data [--seed 20210601]
    python3 demo_data.py --jobs '[{"site_index": 0, "num_sites": 3, "out": "/data/0", "marker": "..."}, ...]'

writes ``OUT/train.csv`` (header ``label,<30 feature names>``; label 1 = benign, 0 =
malignant, as in scikit-learn) and ``OUT/demo_data.json`` (what the shard is and where it
comes from). Re-running with the same arguments leaves identical files alone and prints a
line starting with ``unchanged``; otherwise the files are replaced atomically and the line
starts with ``changed``. Errors go to stderr with exit status 2.

Runs on Python 3.8 with numpy and scikit-learn (the Clara runtime image has both).
The split function between the ``BEGIN shared split`` / ``END shared split`` markers is
kept byte-for-byte identical to the one in the MMAR's ``custom/clarafl_demo_common.py``
(the MMAR is uploaded on its own, so it cannot import this file); a unit test checks it.
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import sys
import tempfile

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

DATASET_NAME = "Breast Cancer Wisconsin (Diagnostic), as bundled with scikit-learn"
DATASET_SOURCE = ("sklearn.datasets.load_breast_cancer(); scikit-learn describes it as a copy of the "
                  "UCI ML Breast Cancer Wisconsin (Diagnostic) dataset "
                  "(Wolberg, Street, Mangasarian, 1995; https://doi.org/10.24432/C5DW2B)")
DATASET_LICENCE = "CC BY 4.0 (as listed by the UCI Machine Learning Repository)"
TRAIN_FILE = "train.csv"
MANIFEST_FILE = "demo_data.json"
LABEL_COLUMN = "label"


class DemoDataError(Exception):
    pass


def column_names(feature_names):
    """CSV header: label, then scikit-learn's feature names with spaces as underscores."""
    return [LABEL_COLUMN] + [str(n).strip().replace(" ", "_") for n in feature_names]


def shard_csv(site_index, num_sites, seed=DEFAULT_SEED):
    """(csv text, number of rows) of one site's shard, from scikit-learn's bundled copy."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    n_rows = data.data.shape[0]
    shards = split_indices(n_rows, num_sites, seed)[1]
    rows = shards[site_index]
    lines = [",".join(column_names(data.feature_names))]
    for i in rows:
        lines.append(",".join([str(int(data.target[i]))] + [repr(float(v)) for v in data.data[i]]))
    return "\n".join(lines) + "\n", len(rows)


def manifest_text(site_index, num_sites, seed, n_rows):
    doc = {
        "dataset": DATASET_NAME,
        "source": DATASET_SOURCE,
        "licence": DATASET_LICENCE,
        "site_index": site_index,
        "num_sites": num_sites,
        "seed": seed,
        "valid_fraction": VALID_FRACTION,
        "rows": n_rows,
        "files": [TRAIN_FILE],
        "label": "1 = benign, 0 = malignant",
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def _read(path):
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except (IOError, OSError):
        return None


def write_if_changed(path, text):
    """Write text to path atomically unless it already holds exactly that. True when written."""
    data = text.encode("utf-8")
    if _read(path) == data:
        return False
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return True


def prepare(out_dir, site_index, num_sites, seed=DEFAULT_SEED):
    """Write the site's files into out_dir. Returns (changed, summary line)."""
    if num_sites < 1:
        raise DemoDataError("--num-sites must be at least 1 (got %d)" % num_sites)
    if not 0 <= site_index < num_sites:
        raise DemoDataError("--site-index must be between 0 and %d for %d sites (got %d)"
                            % (num_sites - 1, num_sites, site_index))
    text, n_rows = shard_csv(site_index, num_sites, seed)
    if n_rows == 0:
        raise DemoDataError("%d sites is too many: site %d would get no rows" % (num_sites, site_index))
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise DemoDataError("cannot create the output folder %s: %s" % (out_dir, exc))
    changed = False
    try:
        changed |= write_if_changed(os.path.join(out_dir, TRAIN_FILE), text)
        changed |= write_if_changed(os.path.join(out_dir, MANIFEST_FILE),
                                    manifest_text(site_index, num_sites, seed, n_rows))
    except (IOError, OSError) as exc:
        raise DemoDataError("cannot write the demo data into %s: %s" % (out_dir, exc))
    summary = "%s/%s: %d rows, site %d of %d (index %d), seed %d" % (
        out_dir.rstrip("/") or "/", TRAIN_FILE, n_rows, site_index + 1, num_sites, site_index, seed)
    return changed, summary


MARKER_FILE = ".clarafl-demo-data"


def write_record(record):
    """Write a share's record of where it went ({path, site, dataset_dir}: the site's dataset folder on the
    machine), so that the share can be taken back when its site leaves the federation."""
    try:
        path = record["path"]
        text = json.dumps({"site": record["site"], "dataset_dir": record["dataset_dir"]}, sort_keys=True) + "\n"
    except (KeyError, TypeError) as exc:
        raise DemoDataError("a job's record needs path, site and dataset_dir (%s): %r" % (exc, record))
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return write_if_changed(path, text)
    except (IOError, OSError) as exc:
        raise DemoDataError("cannot write the record %s: %s" % (path, exc))


def run_jobs(jobs, seed):
    """Write several sites' shares in one process (the data set is loaded once). Each job is a dict
    with site_index, num_sites, out and an optional marker: text written to OUT/.clarafl-demo-data
    once the share is in place, which tells a later run what the share was made from; and an optional
    record ({path, site, dataset_dir}, see write_record)."""
    if not isinstance(jobs, list) or not all(isinstance(job, dict) for job in jobs):
        raise DemoDataError("--jobs must be a JSON list of objects")
    lines = []
    for job in jobs:
        try:
            out, site_index, num_sites = job["out"], int(job["site_index"]), int(job["num_sites"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DemoDataError("a job needs out, site_index and num_sites (%s): %r" % (exc, job))
        changed, summary = prepare(out, site_index, num_sites, int(job.get("seed", seed)))
        if job.get("marker"):
            try:
                changed |= write_if_changed(os.path.join(out, MARKER_FILE), str(job["marker"]))
            except (IOError, OSError) as exc:
                raise DemoDataError("cannot write the demo data's record into %s: %s" % (out, exc))
        if job.get("record"):
            changed |= write_record(job["record"])
        lines.append("%s: %s" % ("changed" if changed else "unchanged", summary))
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Write one site's share of the clarafl demo data (scikit-learn's breast-cancer set).")
    parser.add_argument("--site-index", type=int, help="0-based index of this site")
    parser.add_argument("--num-sites", type=int, help="number of sites sharing the data")
    parser.add_argument("--out", help="folder to write train.csv into (mounted as /workspace/data)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help="split seed; must match the MMAR persistor's 'seed' (default %(default)s)")
    parser.add_argument("--jobs", help="instead of the three above: a JSON list of {site_index, num_sites, out, "
                                       "marker} objects, written in one run")
    args = parser.parse_args(argv)
    if args.jobs is None and None in (args.site_index, args.num_sites, args.out):
        parser.error("--site-index, --num-sites and --out are required without --jobs")
    try:
        if args.jobs is not None:
            try:
                jobs = json.loads(args.jobs)
            except ValueError as exc:
                raise DemoDataError("--jobs is not JSON: %s" % exc)
            lines = run_jobs(jobs, args.seed)
        else:
            changed, summary = prepare(args.out, args.site_index, args.num_sites, args.seed)
            lines = ["%s: %s" % ("changed" if changed else "unchanged", summary)]
    except DemoDataError as exc:
        print("demo_data.py: error: %s" % exc, file=sys.stderr)
        return 2
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
