"""The Client API facade: ``import fljob.client as flare``.

>>> import fljob.client as flare                                   # doctest: +SKIP
>>> flare.init()
>>> while flare.is_running():
...     model = flare.receive()
...     flare.send(flare.FLModel(params=..., metrics={"accuracy": 0.9},
...                              meta={"NUM_STEPS_CURRENT_ROUND": 100}))

The same script runs either as a subprocess of the site's job process (the default;
models cross a local unix-socket channel on the streaming layer) or inside the job
process itself (``ScriptExecutor(launch_external_process=false)``; models are handed
over by reference). :func:`init` picks the backend; the script does not change.

Importing this module is cheap: no grpc, numpy or torch until they are needed.
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
