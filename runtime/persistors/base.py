"""Model persistors: where a workflow's initial model comes from and where models go.

Models are dicts of numpy arrays (``name -> ndarray``) on the server. They are saved in
the safetensors format (a JSON header plus raw tensors: no pickle), which
``safetensors.torch.load_file`` reads back as a torch state dict.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from fljob.errors import JobFailedError

Params = dict[str, np.ndarray]
MODEL_SUFFIX = ".safetensors"


class PersistorError(JobFailedError):
    """A model cannot be built, loaded or saved."""

    code = "FLJ750"


class ModelPersistor(abc.ABC):
    """Gives a workflow its initial model and saves the models it produces."""

    @abc.abstractmethod
    def load_initial(self, app_dir: Path) -> Params:
        """The initial global model (``app_dir`` holds the app's ``custom/`` folder)."""

    def save(self, params: Mapping[str, Any], path: Path) -> Path:
        """Write ``params`` to ``path`` (``.safetensors`` added when missing), atomically."""
        return save_params(params, path)

    def load(self, path: Path) -> Params:
        return load_params(path)


def save_params(params: Mapping[str, Any], path: Path) -> Path:
    from safetensors.numpy import save_file

    path = Path(path)
    if path.suffix != MODEL_SUFFIX:
        path = path.with_name(path.name + MODEL_SUFFIX)
    tensors = {name: np.ascontiguousarray(np.asarray(value)) for name, value in params.items()}
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        save_file(tensors, str(tmp))
    except (TypeError, ValueError) as exc:
        raise PersistorError(f"cannot save model to {path}: {exc}") from exc
    os.replace(tmp, path)
    return path


def load_params(path: Path) -> Params:
    from safetensors.numpy import load_file

    try:
        return dict(load_file(str(path)))
    except (OSError, ValueError) as exc:
        raise PersistorError(f"cannot load model {path}: {exc}") from exc
