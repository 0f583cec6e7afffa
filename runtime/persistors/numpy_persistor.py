"""``NumpyModelPersistor``: an initial model written inline in the config."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from fljob.runtime.persistors.base import ModelPersistor, Params, PersistorError


class NumpyModelPersistor(ModelPersistor):
    """``initial_model``: ``{name: nested list of numbers}``, e.g. ``{"w": [[1, 2], [3, 4]]}``."""

    def __init__(self, initial_model: Mapping[str, Any] | None = None) -> None:
        if initial_model is None or not isinstance(initial_model, Mapping):
            raise PersistorError(
                "NumpyModelPersistor needs 'initial_model': a dict of name -> nested list",
                hint='e.g. args: {initial_model: {"weights": [[1.0, 2.0], [3.0, 4.0]]}}',
            )
        self.initial_model = dict(initial_model)

    def load_initial(self, app_dir: Path) -> Params:
        params: Params = {}
        for name, value in self.initial_model.items():
            try:
                array = np.asarray(value, dtype=np.float32)
            except (TypeError, ValueError) as exc:
                raise PersistorError(f"initial_model.{name} is not a numeric array: {exc}") from exc
            params[str(name)] = array
        return params
