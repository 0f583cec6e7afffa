"""The data a training script exchanges with its site: :class:`FLModel`.

``FLModel`` mirrors NVIDIA FLARE 2.4's class of the same name. It is converted to and
from a plain dict (:func:`model_to_payload`, :func:`model_from_payload`) so that it
travels through :mod:`fljob.runtime.serde` like any other structured value, never
pickled.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class ParamsType(enum.StrEnum):
    """Whether ``FLModel.params`` holds full weights or the change since the received model."""

    FULL = "FULL"
    DIFF = "DIFF"


class MetaKey:
    """Well-known keys of ``FLModel.meta`` (FLARE's names)."""

    NUM_STEPS_CURRENT_ROUND = "NUM_STEPS_CURRENT_ROUND"
    CURRENT_ROUND = "current_round"
    TOTAL_ROUNDS = "total_rounds"
    JOB_ID = "job_id"
    SITE_NAME = "site_name"


@dataclass
class FLModel:
    """A model (or a model update) with its metrics and metadata.

    >>> FLModel(params={"w": [1.0]}, metrics={"accuracy": 0.5},
    ...         meta={"NUM_STEPS_CURRENT_ROUND": 10})  # doctest: +ELLIPSIS
    FLModel(params={'w': [1.0]}, params_type=<ParamsType.FULL: 'FULL'>, ...)
    """

    params: dict[str, Any] | None = None
    params_type: ParamsType | str | None = ParamsType.FULL
    metrics: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    current_round: int | None = None
    total_rounds: int | None = None
    optimizer_params: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.params_type is not None and not isinstance(self.params_type, ParamsType):
            try:
                self.params_type = ParamsType(str(self.params_type).upper())
            except ValueError:
                raise ValueError(
                    f"params_type must be FULL or DIFF, not {self.params_type!r}"
                ) from None
        if self.meta is None:
            self.meta = {}

    @property
    def num_steps(self) -> float | None:
        """``meta['NUM_STEPS_CURRENT_ROUND']``, the weight FedAvg gives this result."""
        value = self.meta.get(MetaKey.NUM_STEPS_CURRENT_ROUND)
        return None if value is None else float(value)


#: marks a payload dict as an FLModel (so other workflows can send plain dicts)
PAYLOAD_KIND = "fljob.FLModel"


def model_to_payload(model: FLModel) -> dict[str, Any]:
    """A serde-encodable dict holding every field of ``model``."""
    params_type = model.params_type.value if isinstance(model.params_type, ParamsType) else None
    return {
        "kind": PAYLOAD_KIND,
        "params": model.params,
        "params_type": params_type,
        "metrics": model.metrics,
        "meta": dict(model.meta or {}),
        "current_round": model.current_round,
        "total_rounds": model.total_rounds,
        "optimizer_params": model.optimizer_params,
    }


def is_model_payload(value: Any) -> bool:
    return isinstance(value, dict) and value.get("kind") == PAYLOAD_KIND


def model_from_payload(payload: Any) -> FLModel:
    """The :class:`FLModel` in ``payload``; ``ValueError`` when it is not one."""
    if not is_model_payload(payload):
        raise ValueError("payload is not an FLModel")
    return FLModel(
        params=payload.get("params"),
        params_type=payload.get("params_type"),
        metrics=payload.get("metrics"),
        meta=dict(payload.get("meta") or {}),
        current_round=payload.get("current_round"),
        total_rounds=payload.get("total_rounds"),
        optimizer_params=payload.get("optimizer_params"),
    )


def encode_data(data: Any) -> Any:
    """Task or result data as :mod:`fljob.runtime.serde` frames (an FLModel as its payload)."""
    from fljob.runtime import serde

    return serde.encode(model_to_payload(data) if isinstance(data, FLModel) else data)


def decode_data(body: Any) -> Any:
    """The inverse of :func:`encode_data`; an empty body is ``None``."""
    from fljob.runtime import serde

    if body is None or len(memoryview(body)) == 0:
        return None
    value = serde.decode(body)
    return model_from_payload(value) if is_model_payload(value) else value
