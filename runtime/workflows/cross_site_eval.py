"""Server-controlled cross-site evaluation: every model is validated on every site.

The models are the global model(s) and each participating site's local model:

- global: ``global_model`` and ``best_global_model`` from a training workflow that ran
  earlier in the same job (their files in the result folder); otherwise the persistor's
  model. A :class:`ModelFilesPersistor` gives an evaluation-only job one or more models
  from files (safetensors, or ``.npz`` read without pickle).
- local: each site answers ``submit_model`` with its own model (sites that cannot are
  recorded and skipped).

Each model goes to every participating site as a ``validate`` task (``meta.model_owner``
names it); the metrics form a matrix ``{model: {site: {metric: value}}}``, saved as
``cross_site_val.json`` and summarised as a table (event ``cross_site_eval_done``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fljob.runtime.ccwf.records import RoundRecorder, format_matrix, jsonable
from fljob.runtime.client_api.model import FLModel, ParamsType
from fljob.runtime.persistors.base import (
    MODEL_SUFFIX,
    ModelPersistor,
    Params,
    PersistorError,
    load_params,
)
from fljob.runtime.workflows.base import Task, TaskResult, Workflow, WorkflowContext, WorkflowError

RESULT_FILE = "cross_site_val.json"
#: files a training workflow of the same job leaves in the result folder, in this order
TRAINED_GLOBAL_MODELS = ("global_model", "best_global_model")


class ModelFilesPersistor(ModelPersistor):
    """Models from files, for evaluation-only jobs: ``models: {name: path}``, each path
    relative to the app folder (and inside it), ``.safetensors`` or ``.npz``."""

    def __init__(self, models: Mapping[str, str] | None = None) -> None:
        if not isinstance(models, Mapping) or not models:
            raise PersistorError(
                "ModelFilesPersistor needs 'models': {name: file path}",
                hint='e.g. args: {models: {"mine": "custom/model.safetensors"}}',
            )
        self.models = {str(k): str(v) for k, v in models.items()}

    def load_models(self, app_dir: Path) -> dict[str, Params]:
        return {name: _read_model(app_dir, rel) for name, rel in self.models.items()}

    def load_initial(self, app_dir: Path) -> Params:
        first = next(iter(self.models))
        return _read_model(app_dir, self.models[first])


def _read_model(app_dir: Path, rel: str) -> Params:
    root = Path(app_dir).resolve()
    path = (root / rel).resolve()
    if not path.is_relative_to(root):
        raise PersistorError(f"model file {rel!r} is outside the app folder")
    if not path.is_file():
        raise PersistorError(f"model file {rel!r} does not exist in {root}")
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as archive:
                return {name: archive[name] for name in archive.files}
        except (OSError, ValueError) as exc:
            raise PersistorError(f"cannot read model file {rel!r}: {exc}") from exc
    return load_params(path)


def metrics_of(result: TaskResult) -> dict[str, Any]:
    """The metrics a ``validate`` result carries (an FLModel's, or a plain dict)."""
    if isinstance(result.data, FLModel):
        return dict(result.data.metrics or {})
    if isinstance(result.data, Mapping):
        return dict(result.data)
    raise WorkflowError(f"{result.site} answered validate with {type(result.data).__name__}")


class CrossSiteEval(Workflow):
    """Validate the global and the sites' local models on every participating site."""

    def __init__(
        self,
        persistor_id: str = "persistor",
        submit_model_task_name: str = "submit_model",
        validation_task_name: str = "validate",
        participating_clients: Sequence[str] | None = None,
        evaluate_global: bool = True,
        timeout: float = 0,
    ) -> None:
        self.persistor_id = persistor_id
        self.submit_model_task_name = submit_model_task_name
        self.validation_task_name = validation_task_name
        self.participating_clients = list(participating_clients or []) or None
        self.evaluate_global = bool(evaluate_global)
        self.timeout = float(timeout)

    def run(self, ctx: WorkflowContext) -> None:
        recorder = RoundRecorder(ctx.result_dir, "CrossSiteEval")
        try:
            matrix = self._evaluate(ctx, recorder)
        except WorkflowError as exc:
            recorder.write_summary("failed", exc.message)
            raise
        path = save_matrix(matrix, ctx.result_dir)
        table = format_matrix(matrix)
        recorder.write_summary("finished", None, result_file=path.name, models=sorted(matrix))
        ctx.logger.info("cross-site evaluation:\n%s", table)
        ctx.emit("cross_site_eval_done", matrix=jsonable(matrix), table=table, path=str(path))

    def _evaluate(
        self, ctx: WorkflowContext, recorder: RoundRecorder
    ) -> dict[str, dict[str, dict[str, Any]]]:
        sites = participants(ctx, self.participating_clients)
        models: dict[str, Params] = {}
        if self.evaluate_global:
            models.update(self._global_models(ctx))
        models.update(self._local_models(ctx, recorder, sites))
        if not models:
            raise WorkflowError(
                "cross-site evaluation has no model to evaluate",
                hint="the sites could not submit models and evaluate_global is false",
            )
        matrix: dict[str, dict[str, dict[str, Any]]] = {}
        for name, params in models.items():
            ctx.check_abort()
            matrix[name] = self._validate(ctx, recorder, name, params, sites)
        if not any(matrix.values()):
            raise WorkflowError("no site validated any model")
        return matrix

    def _global_models(self, ctx: WorkflowContext) -> dict[str, Params]:
        trained = {name: ctx.result_dir / f"{name}{MODEL_SUFFIX}" for name in TRAINED_GLOBAL_MODELS}
        found = {name: load_params(p) for name, p in trained.items() if p.is_file()}
        if found:
            return found
        persistor = ctx.get_component(self.persistor_id, ModelPersistor)
        if hasattr(persistor, "load_models"):
            return persistor.load_models(ctx.app_dir)
        return {"global_model": persistor.load_initial(ctx.app_dir)}

    def _local_models(
        self, ctx: WorkflowContext, recorder: RoundRecorder, sites: list[str]
    ) -> dict[str, Params]:
        results = ctx.comm.broadcast_and_wait(
            Task(self.submit_model_task_name, FLModel(params=None)), sites, timeout=self.timeout
        )
        models: dict[str, Params] = {}
        for result in results:
            if result.ok and isinstance(result.data, FLModel) and result.data.params:
                models[result.site] = {k: np.asarray(v) for k, v in result.data.params.items()}
                recorder.record(None, result.site, "submit_model", True)
            else:
                error = result.error or "answered without a model"
                ctx.logger.warning("%s submitted no local model: %s", result.site, error)
                recorder.record(None, result.site, "submit_model", False, error=error)
        return models

    def _validate(
        self,
        ctx: WorkflowContext,
        recorder: RoundRecorder,
        name: str,
        params: Params,
        sites: list[str],
    ) -> dict[str, dict[str, Any]]:
        model = FLModel(params=params, params_type=ParamsType.FULL, meta={"model_owner": name})
        task = Task(self.validation_task_name, model, props={"model_owner": name})
        row: dict[str, dict[str, Any]] = {}
        for result in ctx.comm.broadcast_and_wait(task, sites, timeout=self.timeout):
            try:
                if not result.ok:
                    raise WorkflowError(result.error or "failed")
                row[result.site] = metrics_of(result)
            except WorkflowError as exc:
                ctx.logger.warning("%s could not validate %s: %s", result.site, name, exc.message)
                recorder.record(None, result.site, "validate", False, model=name, error=exc.message)
                continue
            recorder.record(
                None, result.site, "validate", True, model=name, metrics=row[result.site]
            )
            ctx.log_metrics(None, result.site, row[result.site], model=name, kind="cross_site_eval")
        return row


def participants(ctx: WorkflowContext, requested: list[str] | None) -> list[str]:
    """The sites taking part: ``requested`` (each must be alive) or every alive site."""
    alive = ctx.comm.sites()
    if requested is None:
        if not alive:
            raise WorkflowError("no site is alive to take part")
        return alive
    missing = [s for s in requested if s not in alive]
    if missing:
        raise WorkflowError(
            f"participating client(s) not in the job or gone: {', '.join(missing)}",
            hint=f"alive sites: {', '.join(alive)}",
        )
    return list(requested)


def save_matrix(matrix: Mapping[str, Any], result_dir: Path, name: str = RESULT_FILE) -> Path:
    path = Path(result_dir) / name
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(jsonable(matrix), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
