"""Save a statistics report (JSON and PNG) and summarise it as a text table."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fljob.runtime.stats.combine import GLOBAL
from fljob.runtime.stats.plot import draw_histograms

_SCALARS = ("count", "sum", "mean", "stddev", "min", "max")


def save_report(
    report: Mapping[str, Any], result_dir: Path, output_file: str = "statistics.json"
) -> dict[str, Path]:
    """Write ``output_file`` (JSON, sorted keys) and ``<stem>_histograms.png`` when the
    report holds histograms; returns ``{"json": path, "png": path}``."""
    target = _inside(result_dir, output_file)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, target)
    paths = {"json": target}
    png = draw_histograms(report, target.with_name(f"{target.stem}_histograms.png"))
    if png is not None:
        paths["png"] = png
    return paths


def _inside(root: Path, name: str) -> Path:
    """``root / name``, refusing a name that escapes the result folder."""
    from fljob.runtime.stats.local import StatisticsError

    path = (Path(root) / name).resolve()
    if not path.is_relative_to(Path(root).resolve()):
        raise StatisticsError(f"output_file {name!r} leaves the job's result folder")
    return path


def format_table(report: Mapping[str, Any]) -> str:
    """The global scalar statistics as a table: one row per (feature, dataset)."""
    stats = [s for s in _SCALARS if any(s in report[f] for f in report)]
    rows = [["feature", "dataset", *stats]]
    for feature in sorted(report):
        datasets = sorted({d for s in stats for d in report[feature].get(s, {}).get(GLOBAL, {})})
        for dataset in datasets:
            cells = [feature, dataset]
            for stat in stats:
                value = report[feature].get(stat, {}).get(GLOBAL, {}).get(dataset)
                cells.append("-" if value is None else f"{value:.6g}")
            rows.append(cells)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )
