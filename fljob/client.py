"""The Client API facade: ``import fljob.client as flare``.

>>> import fljob.client as flare                                   # doctest: +SKIP
>>> flare.init()
>>> while flare.is_running():
...     model = flare.receive()
...     flare.send(flare.FLModel(params=..., metrics={"accuracy": 0.9},
...                              meta={"NUM_STEPS_CURRENT_ROUND": 100}))

Importing this module is cheap: the transport (grpc) loads inside :func:`init`.
"""

from fljob.runtime.client_api.api import (
    ClientAPIError,
    get_job_id,
    get_site_name,
    get_task_name,
    init,
    is_evaluate,
    is_running,
    is_submit_model,
    is_train,
    receive,
    send,
    shutdown,
    system_info,
)
from fljob.runtime.client_api.learner import ModelLearner
from fljob.runtime.client_api.model import FLModel, MetaKey, ParamsType

__all__ = [
    "ClientAPIError",
    "FLModel",
    "MetaKey",
    "ModelLearner",
    "ParamsType",
    "get_job_id",
    "get_site_name",
    "get_task_name",
    "init",
    "is_evaluate",
    "is_running",
    "is_submit_model",
    "is_train",
    "receive",
    "send",
    "shutdown",
    "system_info",
]
