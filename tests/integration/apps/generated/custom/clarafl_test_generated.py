"""A test app written against the engine's API, not the collection's: each site adds 1.0 to every
weight, the server keeps the model in memory and writes no metrics file. It keeps its own
num_rounds and min_num_clients (config_fed_server.json) and saves its model with a relative path."""
import os

import numpy as np
from nvflare.apis.fl_constant import FLConstants, ShareableKey, ShareableValue
from nvflare.apis.learnable import Learnable
from nvflare.apis.model_persistor import ModelPersistor
from nvflare.apis.shareable import Shareable
from nvflare.apis.trainer import Trainer


class CountingTrainer(Trainer):
    def __init__(self, step=1.0):
        super(CountingTrainer, self).__init__()
        self.step = float(step)

    def train(self, shareable, fl_ctx, abort_signal):
        weights = shareable[ShareableKey.MODEL_WEIGHTS]
        out = Shareable()
        out[ShareableKey.TYPE] = ShareableValue.TYPE_WEIGHTS
        out[ShareableKey.DATA_TYPE] = ShareableValue.DATA_TYPE_UNENCRYPTED
        out[ShareableKey.MODEL_WEIGHTS] = dict((k, np.asarray(v) + self.step) for k, v in weights.items())
        out[ShareableKey.META] = {FLConstants.NUM_STEPS_CURRENT_ROUND: 1, FLConstants.NUM_TOTAL_STEPS: 1}
        return out


class CountingPersistor(ModelPersistor):
    def __init__(self, model_file="generated_model.npz"):
        super(CountingPersistor, self).__init__()
        self.model_file = model_file

    def load_model(self, fl_ctx):
        model = Learnable()
        model.update({"w": np.zeros((4,), dtype=np.float32)})
        return model

    def save_model(self, model, fl_ctx):
        # A relative path: it lands in the server's working folder (its kit).
        np.savez(self.model_file, **dict((k, model[k]) for k in model))
        return os.path.abspath(self.model_file)
