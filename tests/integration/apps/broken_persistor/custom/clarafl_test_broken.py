"""A test app whose server persistor cannot load its initial model."""
from nvflare.apis.model_persistor import ModelPersistor

from clarafl_test_counting_copy import CountingTrainer  # noqa: F401  pylint: disable=unused-import


class CountingPersistor(ModelPersistor):
    def load_model(self, fl_ctx):
        raise RuntimeError("clarafl test: the initial model store /models/initial.npz is not there")

    def save_model(self, model, fl_ctx):
        raise RuntimeError("clarafl test: never reached")
