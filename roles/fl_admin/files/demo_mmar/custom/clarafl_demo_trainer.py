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
"""

from __future__ import absolute_import, division, print_function

import os

from nvflare.apis.fl_constant import FLConstants, ShareableKey, ShareableValue
from nvflare.apis.shareable import Shareable
from nvflare.apis.trainer import Trainer

import clarafl_demo_common as common

DATA_DIR_ENV = "CLARAFL_DEMO_DATA_DIR"


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

    def data_path(self, site):
        folder = os.environ.get(DATA_DIR_ENV) or self.data_dir
        folder = folder.replace("{site}", site or "")
        return os.path.join(folder, self.train_file)

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
