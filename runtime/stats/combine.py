"""The server's half: combine site summaries into global figures and the result report.

The report has one shape for every statistic::

    {feature: {statistic: {site: {dataset: value}, ..., "Global": {dataset: value}}}}

Standard deviations are sample deviations (``n - 1``). The global one is exact: sites
send sums of squared deviations from the *global* mean (two passes), never a mean of
site deviations. A histogram is ``[[low, high, count], ...]`` over global bins.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from typing import Any

from fljob.runtime.stats.local import StatisticsError

GLOBAL = "Global"
KNOWN_STATISTICS = ("count", "sum", "mean", "stddev", "histogram", "min", "max")

#: {site: {dataset: {feature: {...}}}}, as the sites answered each pass
SiteReplies = Mapping[str, Mapping[str, Mapping[str, Mapping[str, Any]]]]


def check_statistics(names: Iterable[str]) -> list[str]:
    """The requested statistic names, each known; unknown ones in one error."""
    names = list(names)
    unknown = [n for n in names if n not in KNOWN_STATISTICS]
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, KNOWN_STATISTICS, n=1)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise StatisticsError(
            f"unknown statistic(s): {', '.join(hints)}",
            hint=f"known: {', '.join(KNOWN_STATISTICS)}",
        )
    if not names:
        raise StatisticsError("no statistic requested", hint="e.g. statistics: [count, mean]")
    return names


def _entries(replies: SiteReplies) -> Iterable[tuple[str, str, str, Mapping[str, Any]]]:
    """``(site, dataset, feature, entry)`` for every entry a site did not withhold."""
    for site in sorted(replies):
        for dataset in sorted(replies[site]):
            for feature in sorted(replies[site][dataset]):
                entry = replies[site][dataset][feature]
                if not entry.get("withheld"):
                    yield site, dataset, feature, entry


def global_moments(summaries: SiteReplies) -> dict[str, dict[str, dict[str, float]]]:
    """``{dataset: {feature: {count, sum, mean, min, max}}}`` over every site."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for _site, dataset, feature, entry in _entries(summaries):
        acc = out.setdefault(dataset, {}).setdefault(
            feature, {"count": 0, "sum": 0.0, "min": math.inf, "max": -math.inf}
        )
        acc["count"] += int(entry["count"])
        acc["sum"] += float(entry["sum"])
        acc["min"] = min(acc["min"], float(entry["min"]))
        acc["max"] = max(acc["max"], float(entry["max"]))
    for features in out.values():
        for acc in features.values():
            acc["mean"] = acc["sum"] / acc["count"]
    return out


def bin_edges(summaries: SiteReplies, bins: int) -> dict[str, list[float]]:
    """``{feature: edges}``: ``bins`` equal bins from the global min to the global max of
    each feature (over every site and dataset); a constant feature gets a unit range."""
    if bins < 1:
        raise StatisticsError(f"histogram_bins must be >= 1, got {bins}")
    ranges: dict[str, list[float]] = {}
    for _site, _dataset, feature, entry in _entries(summaries):
        low, high = ranges.get(feature, [math.inf, -math.inf])
        ranges[feature] = [min(low, float(entry["min"])), max(high, float(entry["max"]))]
    edges = {}
    for feature, (low, high) in sorted(ranges.items()):
        if low == high:
            low, high = low - 0.5, high + 0.5
        step = (high - low) / bins
        edges[feature] = [low + i * step for i in range(bins)] + [high]
    return edges


def _site_value(
    stat: str, summary: Mapping[str, Any], deviation: Mapping[str, Any], edges: list[float] | None
) -> Any:
    count = int(summary["count"])
    if stat in ("count", "sum", "min", "max"):
        return summary[stat] if stat != "count" else count
    if stat == "mean":
        return summary["sum"] / count
    if stat == "stddev":
        return _stddev(deviation.get("sum_sq_local"), count)
    return _histogram(edges, deviation.get("histogram"))


def _stddev(sum_sq: float | None, count: int) -> float | None:
    if sum_sq is None:
        return None
    return math.sqrt(sum_sq / (count - 1)) if count > 1 else 0.0


def _histogram(edges: list[float] | None, counts: list[int] | None) -> list[list[float]] | None:
    if edges is None or counts is None:
        return None
    return [[edges[i], edges[i + 1], int(counts[i])] for i in range(len(counts))]


def build_report(
    statistics: Iterable[str],
    summaries: SiteReplies,
    deviations: SiteReplies,
    edges: Mapping[str, list[float]],
) -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
    """The result report, every site's values plus the ``"Global"`` entry."""
    statistics = check_statistics(statistics)
    report: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
    sq_sums: dict[tuple[str, str], float] = {}
    hist_sums: dict[tuple[str, str], list[int]] = {}
    for site, dataset, feature, summary in _entries(summaries):
        deviation = deviations.get(site, {}).get(dataset, {}).get(feature, {})
        for stat in statistics:
            value = _site_value(stat, summary, deviation, edges.get(feature))
            if value is not None:
                by_site = report.setdefault(feature, {}).setdefault(stat, {})
                by_site.setdefault(site, {})[dataset] = value
        key = (dataset, feature)
        if "sum_sq_global" in deviation:
            sq_sums[key] = sq_sums.get(key, 0.0) + deviation["sum_sq_global"]
        if "histogram" in deviation:
            previous = hist_sums.get(key, [0] * len(deviation["histogram"]))
            hist_sums[key] = [
                a + int(b) for a, b in zip(previous, deviation["histogram"], strict=True)
            ]
    _add_global(report, statistics, global_moments(summaries), sq_sums, hist_sums, edges)
    return report


def _add_global(
    report: dict[str, Any],
    statistics: list[str],
    moments: Mapping[str, Mapping[str, Mapping[str, float]]],
    sq_sums: Mapping[tuple[str, str], float],
    hist_sums: Mapping[tuple[str, str], list[int]],
    edges: Mapping[str, list[float]],
) -> None:
    for dataset, features in sorted(moments.items()):
        for feature, acc in sorted(features.items()):
            key = (dataset, feature)
            values = {
                "count": int(acc["count"]),
                "sum": acc["sum"],
                "mean": acc["mean"],
                "min": acc["min"],
                "max": acc["max"],
                "stddev": _stddev(sq_sums.get(key), int(acc["count"])),
                "histogram": _histogram(edges.get(feature), hist_sums.get(key)),
            }
            for stat in statistics:
                if values[stat] is not None:
                    by_site = report.setdefault(feature, {}).setdefault(stat, {})
                    by_site.setdefault(GLOBAL, {})[dataset] = values[stat]
