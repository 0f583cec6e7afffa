"""Federated statistics: two-pass site computations, global combination, reports.

Sites run :func:`summarize` (count, sum, min, max) and, with the global means and bins
the server derives (:func:`global_moments`, :func:`bin_edges`), :func:`deviations`; the
server assembles :func:`build_report` (``{feature: {statistic: {site: {dataset: value}}}}``
plus ``"Global"``) and writes it with :func:`save_report` (JSON + histogram PNG).
"""

from fljob.runtime.stats.combine import (
    GLOBAL,
    KNOWN_STATISTICS,
    bin_edges,
    build_report,
    check_statistics,
    global_moments,
)
from fljob.runtime.stats.local import StatisticsError, check_data, deviations, summarize
from fljob.runtime.stats.report import format_table, save_report

__all__ = [
    "GLOBAL",
    "KNOWN_STATISTICS",
    "StatisticsError",
    "bin_edges",
    "build_report",
    "check_data",
    "check_statistics",
    "deviations",
    "format_table",
    "global_moments",
    "save_report",
    "summarize",
]
