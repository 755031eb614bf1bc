# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Server side of the clarafl demo MMAR: initial model, per-round validation and the saved model.

Named in config/config_fed_server.json as ``clarafl_demo_persistor.DemoModelPersistor``.

* ``load_model`` (once per ``start server``) builds the initial model: zero weights and a
  standardisation fitted on the server's held-out split, scores it and writes the round-0
  record.
* ``save_model`` (after every aggregation) scores the new global model on the same held-out
  split, appends one line to ``metrics.jsonl`` and rewrites ``global_model.npz``; it also registers
  that file as ``FL_global_model`` in the engine's model registry, which cross-site validation
  (client config ``"cross_validate": true``) sends to every site after training.

The held-out split is 20 % of scikit-learn's bundled breast-cancer data, chosen by the same
fixed-seed split that ``demo_data.py`` uses, so no site trains on it. Output goes to the run
folder: the parent of the deployed MMAR (``<server kit>/run_<N>/``, since ``deploy`` puts the
MMAR at ``<server kit>/run_<N>/mmar_server``; N is the run number the engine gives in fl_ctx), unless ``output_dir`` is set (a relative
``output_dir`` is taken relative to that run folder).

Each line of metrics.jsonl::

    {"session": 1, "round": 3, "engine_round": 2, "event": "aggregated", "accuracy": 0.96,
     "auc": 0.99, "loss": 0.11, "n_valid": 114, "time": "2026-01-01T00:00:00+00:00"}

``round`` counts completed FL rounds (0 = the initial model); ``engine_round`` is the engine's
own 0-based round counter at aggregation (null for the initial model); ``session`` goes up by
one each time the server (re)starts training in the same run folder.
"""

from __future__ import absolute_import, division, print_function

import os

from nvflare.apis.fl_constant import CrossValConstants, FLConstants
from nvflare.apis.learnable import Learnable
from nvflare.apis.model_persistor import ModelPersistor

import clarafl_demo_common as common

METRICS_FILE = "metrics.jsonl"
MODEL_FILE = "global_model.npz"
# The name the engine's own persistors give the global model in cross-site validation results.
GLOBAL_MODEL_KEY = "FL_global_model"


def _mmar_root_from_file():
    # <run folder>/mmar_server/custom/clarafl_demo_persistor.py
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class DemoModelPersistor(ModelPersistor):
    def __init__(self, seed=common.DEFAULT_SEED, init="zeros", output_dir="", metrics_file=METRICS_FILE,
                 model_file=MODEL_FILE):
        super(DemoModelPersistor, self).__init__()
        self.seed = int(seed)
        self.init = init
        self.output_dir = output_dir or ""
        self.metrics_file = metrics_file
        self.model_file = model_file
        self._valid = None
        self._session = 0
        self._round = 0
        self.run_dir = None

    # ------------------------------------------------------------------------------ helpers
    def _resolve_run_dir(self, fl_ctx):
        # The server keeps this module loaded from the first run's folder for its whole life, so the module's
        # own path names run 1 in every later run: the run number in fl_ctx comes first.
        mmar_root, source = None, "fl_ctx mmar_root"
        if fl_ctx is not None:
            mmar_root = fl_ctx.get_prop(FLConstants.MMAR_ROOT)
        if not mmar_root or not os.path.isdir(str(mmar_root)):
            workspace = fl_ctx.get_prop(FLConstants.WORKSPACE) if fl_ctx is not None else None
            run_number = fl_ctx.get_prop(FLConstants.CURRENT_RUN) if fl_ctx is not None else None
            if workspace and run_number is not None:
                mmar_root = os.path.join(str(workspace), "run_%d" % int(run_number), "mmar_server")
                source = "run number and workspace in fl_ctx"
            else:
                mmar_root, source = _mmar_root_from_file(), "module path"
        common.LOG.info("%s deployed MMAR at %s (from the %s)", common.PREFIX, mmar_root, source)
        run_dir = os.path.dirname(os.path.abspath(str(mmar_root)))
        if self.output_dir:
            run_dir = os.path.join(run_dir, os.path.expanduser(self.output_dir))
        os.makedirs(run_dir, exist_ok=True)
        return run_dir

    def _validation(self):
        if self._valid is None:
            self._valid = common.load_validation(self.seed)
        return self._valid

    @property
    def metrics_path(self):
        return os.path.join(self.run_dir, self.metrics_file)

    @property
    def model_path(self):
        return os.path.join(self.run_dir, self.model_file)

    def _record(self, weights, event, engine_round):
        x, y = self._validation()
        scores = common.evaluate(weights, x, y)
        record = {
            "session": self._session,
            "round": self._round,
            "engine_round": engine_round,
            "event": event,
            "accuracy": scores["accuracy"],
            "auc": scores["auc"],
            "loss": scores["loss"],
            "n_valid": scores["n"],
            "time": common.now_iso(),
        }
        common.append_jsonl(self.metrics_path, record)
        common.save_npz_atomic(self.model_path, weights)
        common.LOG.info("%s round %d (%s): validation accuracy %.4f, AUC %.4f, loss %.4f -> %s",
                        common.PREFIX, self._round, event, scores["accuracy"], scores["auc"], scores["loss"],
                        self.metrics_path)
        return record

    # -------------------------------------------------------------------------------- API
    def load_model(self, fl_ctx):
        self.run_dir = self._resolve_run_dir(fl_ctx)
        previous = [r for r in common.read_jsonl(self.metrics_path) if r.get("event") == "initial"]
        self._session = len(previous) + 1
        start_round = fl_ctx.get_prop(FLConstants.START_ROUND) if fl_ctx is not None else None
        self._round = int(start_round or 0)
        x = self._validation()[0]
        weights = common.initial_model(x, init=self.init, seed=self.seed)
        self._record(weights, "initial", None)
        common.LOG.info("%s initial model ready; metrics go to %s, the global model to %s",
                        common.PREFIX, self.metrics_path, self.model_path)
        model = Learnable()
        model.update(weights)
        return model

    def save_model(self, model, fl_ctx):
        if self.run_dir is None:
            self.run_dir = self._resolve_run_dir(fl_ctx)
        engine_round = fl_ctx.get_prop(FLConstants.CURRENT_ROUND) if fl_ctx is not None else None
        weights = {k: model[k] for k in model}
        common.check_model(weights)
        if engine_round is not None:
            self._round = int(engine_round) + 1
        else:
            self._round += 1
        self._record(weights, "aggregated", None if engine_round is None else int(engine_round))
        self._register_for_cross_validation(fl_ctx)

    def _register_for_cross_validation(self, fl_ctx):
        # The registry only holds a path: the server reads the file when a site asks for the model.
        registry = fl_ctx.get_prop(CrossValConstants.ML_MODEL_REGISTRY) if fl_ctx is not None else None
        if registry is None:
            return
        from nvflare.utils.ml_model_registry import MLModelEntry

        registry.register_model(GLOBAL_MODEL_KEY, MLModelEntry(GLOBAL_MODEL_KEY, files={"npz": self.model_path}),
                                override=True)
