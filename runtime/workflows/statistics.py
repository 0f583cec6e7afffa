"""Federated statistics on the server: two passes over the sites, one report.

Pass 1 asks every site (task ``fed_stats``, ``{"phase": "summary"}``) for per-feature
count, sum, min and max; the server derives global means and global histogram bins. Pass 2
(``{"phase": "deviation", ...}``) asks for the sums of squared deviations from the global
mean and the histograms over the global bins. A site that fails pass 2 is left out and
pass 2 is repeated with the remaining sites, so the report never mixes site sets. Sites
apply the ``min_count`` privacy filter themselves: a feature with fewer values is withheld.

Results: ``output_file`` (JSON, ``{feature: {statistic: {site: {dataset: value}}}}`` with a
``"Global"`` entry), ``<stem>_histograms.png``, and a table (event ``statistics_done``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fljob.runtime.ccwf.records import RoundRecorder
from fljob.runtime.stats import (
    StatisticsError,
    bin_edges,
    build_report,
    check_statistics,
    format_table,
    global_moments,
    save_report,
)
from fljob.runtime.workflows.base import Task, Workflow, WorkflowContext, WorkflowError

TASK_NAME = "fed_stats"
DEFAULT_STATISTICS = ("count", "sum", "mean", "stddev", "histogram")


class Statistics(Workflow):
    """Per-feature statistics over every site's data, combined without sharing the data."""

    def __init__(
        self,
        statistics: Sequence[str] = DEFAULT_STATISTICS,
        min_count: int = 10,
        histogram_bins: int = 10,
        output_file: str = "statistics.json",
    ) -> None:
        try:
            self.statistics = check_statistics(statistics)
        except StatisticsError as exc:
            raise WorkflowError(exc.message, hint=exc.hint) from None
        if min_count < 0 or histogram_bins < 1:
            raise WorkflowError("Statistics needs min_count >= 0 and histogram_bins >= 1")
        self.min_count = int(min_count)
        self.histogram_bins = int(histogram_bins)
        self.output_file = output_file

    def run(self, ctx: WorkflowContext) -> None:
        recorder = RoundRecorder(ctx.result_dir, "Statistics")
        try:
            report = self._compute(ctx, recorder)
            paths = save_report(report, ctx.result_dir, self.output_file)
        except (WorkflowError, StatisticsError) as exc:
            recorder.write_summary("failed", exc.message)
            raise WorkflowError(exc.message, hint=exc.hint) from None
        table = format_table(report)
        recorder.write_summary("finished", None, files=sorted(p.name for p in paths.values()))
        ctx.logger.info("federated statistics:\n%s", table)
        ctx.emit("statistics_done", table=table, **{k: str(p) for k, p in paths.items()})

    def _ask(
        self,
        ctx: WorkflowContext,
        recorder: RoundRecorder,
        phase: int,
        sites: list[str],
        data: dict[str, Any],
    ) -> dict[str, Any]:
        replies: dict[str, Any] = {}
        for result in ctx.comm.broadcast_and_wait(Task(TASK_NAME, data), sites):
            if result.ok and isinstance(result.data, dict):
                replies[result.site] = result.data
                recorder.record(phase, result.site, data["phase"], True)
            else:
                error = result.error or f"answered {type(result.data).__name__}"
                ctx.logger.warning(
                    "statistics %s: %s failed: %s", data["phase"], result.site, error
                )
                recorder.record(phase, result.site, data["phase"], False, error=error)
        return replies

    def _compute(self, ctx: WorkflowContext, recorder: RoundRecorder) -> dict[str, Any]:
        sites = ctx.comm.sites()
        summaries = self._ask(
            ctx, recorder, 0, sites, {"phase": "summary", "min_count": self.min_count}
        )
        while summaries:
            ctx.check_abort()
            moments = global_moments(summaries)
            means = {ds: {f: m["mean"] for f, m in fs.items()} for ds, fs in moments.items()}
            edges = bin_edges(summaries, self.histogram_bins) if moments else {}
            request = {
                "phase": "deviation",
                "min_count": self.min_count,
                "global_mean": means,
                "bin_edges": edges,
            }
            deviations = self._ask(ctx, recorder, 1, sorted(summaries), request)
            if set(deviations) == set(summaries):
                return build_report(self.statistics, summaries, deviations, edges)
            summaries = {s: v for s, v in summaries.items() if s in deviations}
        raise WorkflowError(
            f"no site answered both statistics passes (sites: {', '.join(sites) or 'none'})"
        )
