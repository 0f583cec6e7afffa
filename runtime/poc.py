"""A proof-of-concept federation on this machine, provisioned like production.

``fljob poc prepare`` provisions one server, N sites and a project admin into a
workspace; ``start`` runs the server and sites as background processes (each in its own
session, logs and pids recorded); ``stop`` ends exactly the processes it recorded;
``clean`` removes the workspace, and refuses while anything runs.

Workspace layout::

    WS/.fljob-poc             marker (only such folders are ever cleaned) + the admin's name
    WS/project.yml            the project file used (edit and prepare again to extend)
    WS/kits/<participant>/    startup kits (``fljob provision`` output)
    WS/run/<participant>/     each running participant's workspace (job store, jobs)
    WS/logs/<participant>.log|.events|.stderr
    WS/state.json             {participant: {pid, start, argv, ...}} of running processes

The workspace is ``--workspace``, else ``$FLJOB_POC_WORKSPACE``, else the last one used
(remembered in ``$XDG_STATE_HOME/fljob/poc.json``), else ``$XDG_DATA_HOME/fljob/poc``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fljob.errors import FljobError, UsageError

MARKER = ".fljob-poc"
#: the processes this process started, kept so that they are reaped (``poll``) rather
#: than left as zombies or garbage-collected while running; ``poc stop`` may run in
#: another process, where ``/proc`` is the only source
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}
ADMIN = "admin@fljob.poc"
PROJECT = "poc"


class PocStateError(UsageError):
    """The POC workspace is not in a state that allows the command."""

    code = "FLJ718"


class PocStartError(FljobError):
    """A participant exited (or stayed silent) before it was ready."""

    code = "FLJ719"


# ----------------------------------------------------------------------------- locations
def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    return Path(value) if value else Path.home() / fallback


def _memory_file() -> Path:
    return _xdg("XDG_STATE_HOME", ".local/state") / "fljob" / "poc.json"


def default_workspace() -> Path:
    """``$FLJOB_POC_WORKSPACE``, the remembered one, or ``$XDG_DATA_HOME/fljob/poc``."""
    env = os.environ.get("FLJOB_POC_WORKSPACE")
    if env:
        return Path(env)
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        return Path(json.loads(_memory_file().read_text(encoding="utf-8"))["workspace"])
    return _xdg("XDG_DATA_HOME", ".local/share") / "fljob" / "poc"


def remember(workspace: Path) -> None:
    """Make ``workspace`` the default of later ``fljob poc`` / ``fljob jobs`` commands."""
    path = _memory_file()
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"workspace": str(Path(workspace).resolve())}) + "\n")


def default_startup_kit() -> Path | None:
    """The admin kit of the default POC workspace, when one is prepared (what
    ``fljob submit`` and ``fljob jobs`` use when given no ``--startup-kit``)."""
    poc = Poc(default_workspace())
    if not poc.prepared:
        return None
    kit = poc.admin_kit
    return kit if kit.is_dir() else None


# ----------------------------------------------------------------------------- the POC
@dataclass
class Poc:
    root: Path

    def __post_init__(self) -> None:
        self.root = Path(self.root).expanduser().absolute()

    @property
    def prepared(self) -> bool:
        return (self.root / MARKER).is_file()

    @property
    def kits(self) -> Path:
        return self.root / "kits"

    @property
    def admin(self) -> str:
        try:
            return str(json.loads((self.root / MARKER).read_text(encoding="utf-8"))["admin"])
        except (OSError, ValueError, KeyError) as exc:
            raise PocStateError(
                f"{self.root} is not a prepared POC workspace ({exc})",
                hint="run `fljob poc prepare`",
            ) from None

    @property
    def admin_kit(self) -> Path:
        return self.kits / self.admin

    def participants(self) -> list[str]:
        """Server first, then the sites, as provisioned."""
        from fljob.runtime.provision import read_kit

        found = []
        for kit in sorted(self.kits.iterdir()) if self.kits.is_dir() else []:
            if (kit / "fljob.json").is_file() and read_kit(kit).kind in ("server", "site"):
                found.append((read_kit(kit).kind != "server", kit.name))
        return [name for _, name in sorted(found)]

    def require_prepared(self) -> None:
        if not self.prepared:
            raise PocStateError(
                f"no POC is prepared in {self.root}",
                hint="run `fljob poc prepare [-n N] [--workspace DIR]` first",
            )

    # ----- state -----

    @contextlib.contextmanager
    def locked(self) -> Iterator[dict[str, Any]]:
        """The recorded processes, under an exclusive lock; saved on exit."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            state = self._read_state()
            try:
                yield state
            finally:
                self._write_state(state)

    def _read_state(self) -> dict[str, Any]:
        try:
            return dict(json.loads((self.root / "state.json").read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return {}

    def _write_state(self, state: dict[str, Any]) -> None:
        path = self.root / "state.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)

    def running(self) -> dict[str, dict[str, Any]]:
        """Recorded participants whose process is still alive."""
        return {n: p for n, p in self._read_state().items() if _alive(p)}


# ----------------------------------------------------------------------------- prepare
def poc_project(n_sites: int, port: int) -> dict[str, Any]:
    """The project file of a default POC: N sites, one project admin."""
    return {
        "name": PROJECT,
        "server": {"host": "127.0.0.1", "port": port},
        "sites": [{"name": f"site-{i}", "org": PROJECT} for i in range(1, n_sites + 1)],
        "admins": [{"name": ADMIN, "org": PROJECT, "role": "project_admin"}],
    }


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def prepare(
    workspace: Path,
    *,
    n_sites: int | None = None,
    project: Any = None,
    project_text: str | None = None,
) -> Poc:
    """Provision (or extend) a POC in ``workspace``.

    ``project`` (a parsed :class:`~fljob.runtime.provision.Project`, with its source
    text) replaces the default one of ``n_sites`` sites. Preparing again keeps the CA
    and every certificate, and adds what is new (e.g. a larger ``n_sites``).
    """
    import yaml

    from fljob.runtime.provision import parse_project, provision_project

    poc = Poc(workspace)
    if poc.root.exists() and any(poc.root.iterdir()) and not poc.prepared:
        raise PocStateError(
            f"{poc.root} exists and is not a POC workspace; refusing to write into it",
            hint="choose another --workspace",
        )
    if project is None:
        port = _existing_port(poc) or free_port()
        existing = len(poc.participants()) - 1 if poc.prepared else 0
        data = poc_project(n_sites or existing or 2, port)
        project = parse_project(data, file=str(poc.root / "project.yml"))
        project_text = yaml.safe_dump(data, sort_keys=False)
    _check_local(project)
    admins = [a.name for a in project.admins if a.role == "project_admin"]
    if not admins:
        raise PocStateError(
            "the project has no project_admin, so the POC would have no admin kit",
            path=project.source,
        )
    poc.root.mkdir(parents=True, exist_ok=True)
    provision_project(project, poc.kits)
    (poc.root / "project.yml").write_text(project_text or "", encoding="utf-8")
    marker = {"format": "fljob-poc/1", "admin": admins[0], "project": project.name}
    (poc.root / MARKER).write_text(json.dumps(marker) + "\n", encoding="utf-8")
    for sub in ("run", "logs"):
        (poc.root / sub).mkdir(exist_ok=True)
    remember(poc.root)
    return poc


def _existing_port(poc: Poc) -> int | None:
    from fljob.runtime.provision import read_kit

    with contextlib.suppress(FljobError, OSError, IndexError):
        if poc.prepared:
            return read_kit(poc.kits / poc.participants()[0]).port
    return None


def _check_local(project: Any) -> None:
    if project.server.host not in ("127.0.0.1", "localhost", "::1"):
        raise PocStateError(
            f"a POC runs on this machine; the server host is {project.server.host!r}",
            path=project.source,
            hint="use host: 127.0.0.1 (or provision with `fljob provision` for real machines)",
        )


# ----------------------------------------------------------------------------- start
def start(
    workspace: Path,
    *,
    only: Sequence[str] = (),
    exclude: Sequence[str] = (),
    timeout: float = 60.0,
) -> dict[str, dict[str, Any]]:
    """Start the server and sites (or ``only`` those, minus ``exclude``) in the
    background; returns ``{name: record}`` of those started. Already running ones are
    left alone. If one fails, those started by this call are stopped again."""
    poc = Poc(workspace)
    poc.require_prepared()
    names = _select(poc, only, exclude)
    started: dict[str, dict[str, Any]] = {}
    try:
        with poc.locked() as state:
            todo = [n for n in names if not _alive(state.get(n))]
            server = [n for n in todo if n == "server" or _kind(poc, n) == "server"]
            for name in server:  # the server first: sites register with it
                started[name] = state[name] = _spawn(poc, name)
                _wait_ready([(name, started[name])], timeout)
            sites = [n for n in todo if n not in server]
            for name in sites:  # then every site at once
                started[name] = state[name] = _spawn(poc, name)
            _wait_ready([(n, started[n]) for n in sites], timeout)
    except BaseException:
        stop(poc.root, only=list(started), quiet=True)
        raise
    remember(poc.root)
    return started


def _kind(poc: Poc, name: str) -> str:
    from fljob.runtime.provision import read_kit

    return read_kit(poc.kits / name).kind


def _select(poc: Poc, only: Sequence[str], exclude: Sequence[str]) -> list[str]:
    known = poc.participants()
    for name in [*only, *exclude]:
        if name not in known:
            raise PocStateError(
                f"{name!r} is not a server or site of this POC",
                hint=f"participants: {', '.join(known)}",
            )
    return [n for n in known if (not only or n in only) and n not in exclude]


def _spawn(poc: Poc, name: str) -> dict[str, Any]:
    from fljob.runtime.process import child_env
    from fljob.runtime.provision import participant_argv

    logs = poc.root / "logs"
    logs.mkdir(exist_ok=True)
    events = logs / f"{name}.events"
    offset = events.stat().st_size if events.exists() else 0
    argv = participant_argv(
        poc.kits / name,
        poc.root / "run" / name,
        fljob=[sys.executable, "-m", "fljob"],
        log_file=logs / f"{name}.log",
    )
    with events.open("ab") as out, (logs / f"{name}.stderr").open("ab") as err:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=child_env(),
            start_new_session=True,  # its own session: a Ctrl-C here does not reach it
            close_fds=True,
        )
    _CHILDREN[proc.pid] = proc
    return {
        "pid": proc.pid,
        "start": _start_ticks(proc.pid),
        "argv": argv,
        "events": str(events),
        "events_offset": offset,
        "log": str(logs / f"{name}.log"),
        "started_at": time.time(),
    }


def _wait_ready(records: Iterable[tuple[str, dict[str, Any]]], timeout: float) -> None:
    """Block until each process wrote its ``ready`` event (start-up only, not the task
    path: polling a file every 20 ms is cheap and needs no pipe kept open)."""
    pending = dict(records)
    deadline = time.monotonic() + timeout
    while pending:
        for name, record in list(pending.items()):
            event = _ready_event(record)
            if event is not None:
                record["ready"] = event
                del pending[name]
            elif not _alive(record):
                raise PocStartError(
                    f"{name} exited before it was ready", hint=_tail(record) or None
                )
        if pending and time.monotonic() > deadline:
            raise PocStartError(
                f"{', '.join(pending)} not ready after {timeout:g} s",
                hint=_tail(next(iter(pending.values()))) or None,
            )
        if pending:
            time.sleep(0.02)


def _ready_event(record: dict[str, Any]) -> dict[str, Any] | None:
    try:
        with open(record["events"], "rb") as fh:
            fh.seek(int(record.get("events_offset", 0)))
            for raw in fh:
                with contextlib.suppress(ValueError):
                    event = json.loads(raw)
                    if isinstance(event, dict) and event.get("event") == "ready":
                        return event
    except OSError:
        pass
    return None


def _tail(record: dict[str, Any], lines: int = 12) -> str:
    text = ""
    for path in (record["log"], str(record["events"]).replace(".events", ".stderr")):
        with contextlib.suppress(OSError):
            text += Path(path).read_text("utf-8", "replace")
    return "\n".join(text.strip().splitlines()[-lines:])


# ----------------------------------------------------------------------------- stop
def stop(
    workspace: Path, *, only: Sequence[str] = (), grace: float = 10.0, quiet: bool = False
) -> list[str]:
    """End the recorded processes (sites first, then the server): SIGTERM, then SIGKILL
    after ``grace`` seconds; then anything left in their sessions (their job processes).
    Returns the names stopped. Only recorded pids whose start time still matches are
    signalled, so a reused pid is never hit."""
    poc = Poc(workspace)
    if not quiet:
        poc.require_prepared()
    stopped = []
    with poc.locked() as state:
        names = [n for n in state if not only or n in only]
        names.sort(key=lambda n: n == "server" or _kind_or_site(poc, n) == "server")
        live = {n: state[n] for n in names if _alive(state[n])}
        family = {n: _descendants(int(r["pid"])) for n, r in live.items()}
        for record in live.values():
            _signal(record["pid"], signal.SIGTERM)
        deadline = time.monotonic() + grace
        for name, record in live.items():
            while _alive(record) and time.monotonic() < deadline:
                time.sleep(0.02)
            if _alive(record):
                _signal(record["pid"], signal.SIGKILL)
            _end_leftovers(int(record["pid"]), family[name])
            stopped.append(name)
        for name in names:
            state.pop(name, None)
    return stopped


def _kind_or_site(poc: Poc, name: str) -> str:
    try:
        return _kind(poc, name)
    except FljobError:
        return "site"


def _end_leftovers(sid: int, descendants: list[dict[str, Any]]) -> None:
    """Kill what is left of a stopped participant: the descendants seen before it was
    signalled (a training script may run in a session of its own) and any live member
    of its session (each participant was started with ``start_new_session``, so its
    session id is its pid). Zombies are skipped: they only wait to be reaped."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        left = [d for d in descendants if _alive(d)]
        left += [{"pid": p, "start": None} for p in _processes(session=sid)]
        if not left:
            return
        for record in left:
            _signal(int(record["pid"]), sig)
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and (
            any(_alive(d) for d in descendants) or _processes(session=sid)
        ):
            time.sleep(0.02)


def _processes(*, session: int | None = None) -> list[int]:
    """Live (not zombie) pids, optionally only those of ``session``, from ``/proc``."""
    return [pid for pid, fields in _proc_table().items() if session in (None, int(fields[3]))]


def _proc_table() -> dict[int, list[str]]:
    """``{pid: stat fields after the command name}`` of every live process."""
    table = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] not in ("Z", "X"):
            table[int(entry.name)] = fields
    return table


def _descendants(pid: int) -> list[dict[str, Any]]:
    """``[{pid, start}]`` of every live descendant of ``pid``."""
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for child, fields in table.items():
        children.setdefault(int(fields[1]), []).append(child)
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append({"pid": child, "start": int(table[child][19])})
        todo.extend(children.get(child, []))
    return found


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _start_ticks(pid: int) -> int | None:
    """The process start time in clock ticks (Linux ``/proc``); None elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def _alive(record: dict[str, Any] | None) -> bool:
    """True when the recorded process still runs (a zombie or a reused pid is not)."""
    if not record:
        return False
    pid = int(record["pid"])
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        del _CHILDREN[pid]  # our own child, now reaped
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: fall back to signal 0
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):
        return False
    return record.get("start") in (None, int(fields[19]))


# ----------------------------------------------------------------------------- clean
def clean(workspace: Path) -> Path:
    """Delete a stopped POC workspace (only folders ``prepare`` made)."""
    poc = Poc(workspace)
    poc.require_prepared()
    running = poc.running()
    if running:
        raise PocStateError(
            f"the POC in {poc.root} is running ({', '.join(sorted(running))})",
            hint="run `fljob poc stop` first",
        )
    shutil.rmtree(poc.root)
    return poc.root


def status(workspace: Path) -> dict[str, Any]:
    """``{workspace, prepared, server, admin_kit, participants: {name: {...}}}``."""
    from fljob.runtime.provision import read_kit

    poc = Poc(workspace)
    if not poc.prepared:
        return {"workspace": str(poc.root), "prepared": False, "participants": {}}
    state = poc._read_state()
    participants = {}
    for name in poc.participants():
        record = state.get(name)
        alive = _alive(record)
        participants[name] = {
            "running": alive,
            "pid": record["pid"] if alive and record else None,
            "log": str(poc.root / "logs" / f"{name}.log"),
        }
    return {
        "workspace": str(poc.root),
        "prepared": True,
        "server": read_kit(poc.admin_kit).server,
        "admin_kit": str(poc.admin_kit),
        "participants": participants,
    }
