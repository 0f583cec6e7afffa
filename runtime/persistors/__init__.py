"""Model persistors (class paths ``fljob.runtime.persistors.NumpyModelPersistor`` ...)."""

from fljob.runtime.persistors.base import ModelPersistor, PersistorError, load_params, save_params
from fljob.runtime.persistors.numpy_persistor import NumpyModelPersistor
from fljob.runtime.persistors.torch_persistor import TorchModelPersistor

__all__ = [
    "ModelPersistor",
    "NumpyModelPersistor",
    "PersistorError",
    "TorchModelPersistor",
    "load_params",
    "save_params",
]
