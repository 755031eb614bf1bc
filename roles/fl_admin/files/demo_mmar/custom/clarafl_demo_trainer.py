# -*- coding: utf-8 -*-
# Copyright: (c) 2026, clarafl.federation maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Client side of the clarafl demo MMAR: one round of local logistic-regression training.

Named in config/config_fed_client.json as ``clarafl_demo_trainer.DemoTrainer``. Each round
the engine hands over the global weights in ``shareable[ShareableKey.MODEL_WEIGHTS]``; the
trainer reads the site's ``train.csv`` from ``data_dir`` (default ``/workspace/data``, the
folder the client container mounts; ``{site}`` in the path is replaced by the site's name,
and the environment variable ``CLARAFL_DEMO_DATA_DIR`` overrides the argument), trains a few
epochs of mini-batch gradient descent and returns the full new weights. The engine turns
them into a weight difference before it sends them (Clara 4.0 clients always send deltas).
The number of local rows goes into the shareable's META as ``NUM_STEPS_CURRENT_ROUND``, which
``AccumulateWeightedAggregator`` uses as the site's aggregation weight (FedAvg weighting).

Cross-site validation (only when the client config sets ``"cross_validate": true``): after each
round the trainer saves the site's local model and registers it in the engine's model registry
under ``local_best_model`` (the key the engine sends to the server after training), and
``DemoValidator`` (named in the client config's ``cross_site_validation.model_validator``) scores
each model the server hands over on this site's own rows: accuracy, AUC, log loss, row count.
"""

from __future__ import absolute_import, division, print_function

import json
import os

import numpy as np

from nvflare.apis.fl_constant import CrossValConstants, FLConstants, MLModelKeys, ShareableKey, ShareableValue
from nvflare.apis.shareable import Shareable
from nvflare.apis.trainer import Trainer
from nvflare.apis.validator import Validator

import clarafl_demo_common as common

DATA_DIR_ENV = "CLARAFL_DEMO_DATA_DIR"
LOCAL_MODEL_NAME = "clarafl_demo_local_model"
LOCAL_MODEL_KEY = "npz"


def _data_path(data_dir, file_name, site):
    folder = os.environ.get(DATA_DIR_ENV) or data_dir
    folder = folder.replace("{site}", site or "")
    return os.path.join(folder, file_name)


def _cross_validate(mmar_root):
    """The client config's own cross_validate flag (the engine reads it only to start validation after training)."""
    for rel in (os.path.join("config", "config_fed_client.json"), "config_fed_client.json"):
        path = os.path.join(str(mmar_root), rel)
        if os.path.isfile(path):
            try:
                with open(path) as fh:
                    return bool(json.load(fh).get("cross_validate", False))
            except (IOError, OSError, ValueError, AttributeError):
                return False
    return False


class DemoTrainer(Trainer):
    def __init__(self, data_dir="/workspace/data", train_file="train.csv", local_epochs=5,
                 learning_rate=0.1, batch_size=32, l2=1e-3, seed=0):
        super(DemoTrainer, self).__init__()
        self.data_dir = data_dir
        self.train_file = train_file
        self.local_epochs = int(local_epochs)
        self.learning_rate = float(learning_rate)
        self.batch_size = int(batch_size)
        self.l2 = float(l2)
        self.seed = int(seed)
        self._data = None
        self._data_path = None
        self._cross_validate = None

    def data_path(self, site):
        return _data_path(self.data_dir, self.train_file, site)

    def _load(self, site):
        path = self.data_path(site)
        if self._data is None or self._data_path != path:
            try:
                self._data = common.read_training_csv(path, site)
            except common.DemoDataError as exc:
                common.LOG.error("%s", exc)
                raise
            self._data_path = path
            common.LOG.info("%s site %s loaded %d training rows from %s",
                            common.PREFIX, site, self._data[0].shape[0], path)
        return self._data

    def train(self, shareable, fl_ctx, abort_signal):
        site = fl_ctx.get_prop(FLConstants.CLIENT_NAME) if fl_ctx is not None else None
        current_round = fl_ctx.get_prop(FLConstants.CURRENT_ROUND) if fl_ctx is not None else None
        x, y = self._load(site)
        weights = shareable[ShareableKey.MODEL_WEIGHTS]
        common.check_model(weights)
        seed = self.seed + (int(current_round) if current_round is not None else 0)
        new_weights, stats = common.train_local(
            weights, x, y, epochs=self.local_epochs, learning_rate=self.learning_rate,
            batch_size=self.batch_size, l2=self.l2, seed=seed,
            abort=(lambda: bool(getattr(abort_signal, "triggered", False))) if abort_signal is not None else None)
        common.LOG.info("%s site %s round %s: %d rows, %d steps, local loss %.4f -> %.4f",
                        common.PREFIX, site, current_round, stats["rows"], stats["steps"],
                        stats["loss_before"], stats["loss_after"])

        self._register_local_model(new_weights, fl_ctx, site)

        out = Shareable()
        out[ShareableKey.TYPE] = ShareableValue.TYPE_WEIGHTS
        out[ShareableKey.DATA_TYPE] = ShareableValue.DATA_TYPE_UNENCRYPTED
        out[ShareableKey.MODEL_WEIGHTS] = new_weights
        # Read by AccumulateWeightedAggregator (weight of this site's update) and by the
        # client's data assembler (the contribution's n_iter, an int64 field).
        out[ShareableKey.META] = {
            FLConstants.NUM_STEPS_CURRENT_ROUND: int(stats["rows"]),
            FLConstants.NUM_TOTAL_STEPS: int(stats["rows"]),
        }
        return out

    def _register_local_model(self, weights, fl_ctx, site):
        # The engine pickles its registry into <mmar>/cross_validation/ after each round; the validation
        # process sends the entry's files to the server, which hands them to the other sites.
        if fl_ctx is None:
            return
        root = fl_ctx.get_prop(FLConstants.TRAIN_ROOT) or fl_ctx.get_prop(FLConstants.MMAR_ROOT)
        if self._cross_validate is None:
            self._cross_validate = bool(root) and _cross_validate(root)
        registry = fl_ctx.get_prop(CrossValConstants.ML_MODEL_REGISTRY)
        if not self._cross_validate or registry is None:
            return
        from nvflare.utils.ml_model_registry import MLModelEntry

        folder = os.path.join(str(root), "cross_validation")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, LOCAL_MODEL_NAME + ".npz")
        common.save_npz_atomic(path, weights)
        registry.register_model(MLModelKeys.LOCAL_BEST_MODEL,
                                MLModelEntry(LOCAL_MODEL_NAME, files={LOCAL_MODEL_KEY: path}), override=True)
        common.LOG.info("%s site %s registered its local model for cross-site validation: %s",
                        common.PREFIX, site, path)


def _model_from_shareable(shareable):
    """The weights of a model the server sent for validation (files of a registry entry, or a weights dict)."""
    if shareable.get(ShareableKey.TYPE) == ShareableValue.TYPE_ML_MODEL:
        data = shareable.get(ShareableKey.DATA) or {}
        source = data.get(LOCAL_MODEL_KEY) or (list(data.values())[0] if len(data) == 1 else None)
        if source is None:
            raise ValueError("%s the model holds no %r file (keys: %s)" % (common.PREFIX, LOCAL_MODEL_KEY, sorted(data)))
        if isinstance(source, bytes):
            import io
            source = io.BytesIO(source)
        with np.load(source) as npz:
            weights = {k: np.array(npz[k]) for k in npz.files}
    else:
        weights = shareable.get(ShareableKey.MODEL_WEIGHTS)
    common.check_model(weights or {})
    return weights


class DemoValidator(Validator):
    """Scores a model handed over by cross-site validation on this site's own rows."""

    def __init__(self, data_dir="/workspace/data", valid_file="train.csv"):
        super(DemoValidator, self).__init__()
        self.data_dir = data_dir
        self.valid_file = valid_file
        self._data = None

    def validate(self, shareable, fl_ctx, abort_signal):
        site = fl_ctx.get_prop(FLConstants.CLIENT_NAME) if fl_ctx is not None else None
        owner = fl_ctx.get_prop(CrossValConstants.CROSS_VAL_MODEL_OWNER) if fl_ctx is not None else None
        if self._data is None:
            path = _data_path(self.data_dir, self.valid_file, site)
            try:
                self._data = common.read_training_csv(path, site)
            except common.DemoDataError as exc:
                common.LOG.error("%s", exc)
                raise
        x, y = self._data
        scores = common.evaluate(_model_from_shareable(shareable), x, y)
        common.LOG.info("%s site %s validated %s's model on %d rows: accuracy %.4f, AUC %.4f, loss %.4f",
                        common.PREFIX, site, owner or "?", scores["n"], scores["accuracy"], scores["auc"],
                        scores["loss"])
        out = Shareable()
        out[ShareableKey.TYPE] = ShareableValue.TYPE_METRICS
        out[ShareableKey.DATA_TYPE] = ShareableValue.DATA_TYPE_UNENCRYPTED
        # Stored by the server as JSON (cross_val_results.json): plain numbers only.
        out[ShareableKey.METRICS] = {"accuracy": scores["accuracy"], "auc": scores["auc"], "loss": scores["loss"],
                                     "n": scores["n"]}
        out[ShareableKey.META] = {}
        return out
