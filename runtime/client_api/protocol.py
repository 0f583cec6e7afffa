"""The local channel between a site's job process and its training script.

The site's job process listens on a ``unix:`` address (no TLS: the socket lives in a
private folder of the site) and the script's Client API calls it through
:mod:`.local_wire` (the transport's chunked streaming). Bodies are
:mod:`fljob.runtime.serde` payloads; nothing is pickled.

Topics (request headers -> reply headers):

- ``flare.hello`` ``{pid}`` -> ``{site_name, job_id, exchange_format, heartbeat_interval}``
- ``flare.receive`` ``{wait}`` -> ``{status: "task"|"wait"|"end", task_id, task_name}``
  with the task's FLModel payload as body when ``status == "task"``. The site holds
  the call open up to ``wait`` seconds (long poll), so a task reaches the script at once.
- ``flare.send`` ``{task_id}`` + FLModel payload body -> ``{accepted: bool}``
- ``flare.heartbeat`` ``{}`` -> ``{}``: proves the script is alive while it trains.
"""

from __future__ import annotations

#: environment variables the launcher sets for the script
ENV_CHANNEL = "FLJOB_CHANNEL"
ENV_SITE_NAME = "FLJOB_SITE_NAME"
ENV_JOB_ID = "FLJOB_JOB_ID"

HELLO = "flare.hello"
RECEIVE = "flare.receive"
SEND = "flare.send"
HEARTBEAT = "flare.heartbeat"

STATUS_TASK = "task"
STATUS_WAIT = "wait"
STATUS_END = "end"

#: how long one receive call is held open by the site before it answers "wait"
RECEIVE_WAIT = 30.0
