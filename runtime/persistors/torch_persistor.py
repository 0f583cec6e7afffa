"""``TorchModelPersistor``: the initial model is a ``torch.nn.Module`` from the app's code.

torch is imported only when this persistor builds its model. The state dict becomes
numpy arrays for the wire and the workflow; saved models are safetensors files, which
``safetensors.torch.load_file`` loads straight back into ``model.load_state_dict``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fljob.runtime.persistors.base import ModelPersistor, Params, PersistorError


class TorchModelPersistor(ModelPersistor):
    """``model``: ``{path: "module.Class", args: {...}}`` (module in the app's ``custom/``)."""

    def __init__(self, model: Mapping[str, Any] | str | None = None) -> None:
        if isinstance(model, str):
            model = {"path": model}
        if not isinstance(model, Mapping) or not isinstance(model.get("path"), str):
            raise PersistorError(
                "TorchModelPersistor needs 'model': {path: 'module.Class', args: {...}}",
                hint='e.g. args: {model: {path: "net.Net", args: {}}}',
            )
        self.model_path: str = model["path"]
        self.model_args: dict[str, Any] = dict(model.get("args") or {})

    def build_model(self, app_dir: Path) -> Any:
        module_name, _, class_name = self.model_path.rpartition(".")
        if not module_name:
            raise PersistorError(f"model path {self.model_path!r} is not 'module.Class'")
        custom = str(Path(app_dir) / "custom")
        if custom not in sys.path:
            sys.path.insert(0, custom)
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as exc:
            raise PersistorError(
                f"cannot import model {self.model_path!r}: {exc}",
                hint="the module must be in the app's custom/ folder",
            ) from exc
        try:
            return cls(**self.model_args)
        except Exception as exc:  # user code: report, do not crash the server
            raise PersistorError(f"building model {self.model_path!r} failed: {exc}") from exc

    def load_initial(self, app_dir: Path) -> Params:
        model = self.build_model(app_dir)
        state = model.state_dict()
        # No copy: each array keeps its tensor's memory alive once the module is gone,
        # so a large model is held once, not twice.
        return {name: tensor.detach().cpu().numpy() for name, tensor in state.items()}
