"""The topics of the runtime's calls, in one place.

Server (parent) process, called by site processes (role ``site``):

- ``site.register`` ``{}`` -> ``{heartbeat_interval}``
- ``site.heartbeat`` ``{jobs: [job ids running]}`` -> ``{known: bool}``
- ``site.next_work`` ``{wait}`` -> ``{kind: "none"|"deploy"|"abort", job_id, app}``
  (+ the bundle zip as body for ``deploy``); long-polled.
- ``site.job_address`` ``{job_id, wait}`` -> ``{status: "ready"|"wait"|"gone", address}``:
  called by a site's job process (long-polled) for the address of the server's job process.

Server process, called by admins (role ``admin``):

- ``admin.submit`` bundle zip body -> ``{job_id}``
- ``admin.list`` -> ``{jobs: [...]}``; ``admin.status`` ``{job_id, after, wait}`` ->
  ``{job, events}`` (long-polled until an event after ``after`` or the job's end)
- ``admin.abort`` ``{job_id}``; ``admin.download`` ``{job_id}`` -> result zip body;
  ``admin.logs`` ``{job_id, site}`` -> log text body

Server job process, called by site job processes (role ``site``):

- ``job.hello`` -> ``{heartbeat_interval, poll_wait}``; ``job.heartbeat``
- ``job.get_task`` ``{wait, result?}`` (+ the previous task's result body) ->
  ``{status: "task"|"wait"|"end", task_id, task_name, props, accepted?}`` + serde body;
  long-polled. ``result`` is ``{task_id, ok, error, props}``: a result rides on the next
  poll, so each task costs one call
- ``job.submit_result`` ``{task_id, ok, error, props}`` + serde body -> ``{accepted}``
- ``job.failed`` ``{error}``: the site cannot run the job (deploy failed)
- ``job.bye`` log text body: the site's job process ends
"""

SITE_REGISTER = "site.register"
SITE_HEARTBEAT = "site.heartbeat"
SITE_NEXT_WORK = "site.next_work"
SITE_JOB_ADDRESS = "site.job_address"

ADMIN_SUBMIT = "admin.submit"
ADMIN_LIST = "admin.list"
ADMIN_STATUS = "admin.status"
ADMIN_ABORT = "admin.abort"
ADMIN_DOWNLOAD = "admin.download"
ADMIN_LOGS = "admin.logs"
ADMIN_CLONE = "admin.clone"  #: ``{job_id}`` -> ``{job_id, cloned_from}`` (fljob.runtime.access)

JOB_HELLO = "job.hello"
JOB_HEARTBEAT = "job.heartbeat"
JOB_GET_TASK = "job.get_task"
JOB_SUBMIT_RESULT = "job.submit_result"
JOB_FAILED = "job.failed"
JOB_BYE = "job.bye"

#: how long a long-polled call is held open before it answers "nothing yet"
POLL_WAIT = 10.0
