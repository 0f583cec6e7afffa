"""Who did what in each round: one JSON line per action in ``rounds.jsonl``, and a
``summary.json`` with the job's final status, reason and models.

Every workflow of this package (server- and client-controlled) records through
:class:`RoundRecorder`, so a job's result folder always answers "which site trained,
aggregated or evaluated in round N, with what metrics, and why did it stop".
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROUNDS_FILE = "rounds.jsonl"
SUMMARY_FILE = "summary.json"


def jsonable(value: Any) -> Any:
    """Metrics and props as JSON values (numpy scalars to numbers, the rest to text)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "item") and getattr(value, "size", 1) == 1:
        return value.item()
    return str(value)


class RoundRecorder:
    """Appends round records for one workflow to ``result_dir/rounds.jsonl``."""

    def __init__(self, result_dir: Path, workflow: str) -> None:
        self.result_dir = Path(result_dir)
        self.workflow = workflow
        self.records: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._started = time.time()

    def record(
        self,
        round_num: int | None,
        site: str,
        action: str,
        ok: bool = True,
        *,
        metrics: Mapping[str, Any] | None = None,
        error: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """One action (``train``, ``aggregate``, ``validate``, ``skipped`` ...) of a site."""
        entry = {
            "workflow": self.workflow,
            "round": round_num,
            "site": site,
            "action": action,
            "ok": ok,
            "time": round(time.time() - self._started, 3),
        }
        if metrics:
            entry["metrics"] = jsonable(metrics)
        if error:
            entry["error"] = error
        entry.update(jsonable(extra))
        line = json.dumps(entry, sort_keys=True) + "\n"
        with self._lock:
            self.records.append(entry)
            self.result_dir.mkdir(parents=True, exist_ok=True)
            with (self.result_dir / ROUNDS_FILE).open("a", encoding="utf-8") as f:
                f.write(line)
        return entry

    def write_summary(self, status: str, reason: str | None = None, **extra: Any) -> Path:
        """Write ``summary.json`` (merged with an earlier workflow's summary of this job)."""
        path = self.result_dir / SUMMARY_FILE
        previous = json.loads(path.read_text()) if path.exists() else {"workflows": []}
        previous["workflows"].append(
            {"workflow": self.workflow, "status": status, "reason": reason, **jsonable(extra)}
        )
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(previous, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        return path


def format_matrix(matrix: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> str:
    """A ``{model: {site: {metric: value}}}`` matrix as a text table, one row per model
    and metric, one column per site."""
    sites = sorted({site for row in matrix.values() for site in row})
    metrics = sorted({m for row in matrix.values() for cell in row.values() for m in cell})
    rows = [["model", "metric", *sites]]
    for model in sorted(matrix):
        for metric in metrics:
            cells = []
            for site in sites:
                value = matrix[model].get(site, {}).get(metric)
                cells.append("-" if value is None else _fmt(value))
            rows.append([model, metric, *cells])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
