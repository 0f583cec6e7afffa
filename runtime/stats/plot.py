"""Histogram figure of a statistics report: one panel per (feature, dataset), one bar
colour per site, the global count in the title."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fljob.runtime.stats.combine import GLOBAL
from fljob.runtime.stats.png import GLYPH_H, Canvas, Color, text_width

WIDTH, PANEL_H, MARGIN = 720, 220, 48
_PALETTE: list[Color] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
]
_AXIS: Color = (60, 60, 60)


def _panels(report: Mapping[str, Any]) -> list[tuple[str, str, dict[str, list[list[float]]]]]:
    """``(feature, dataset, {site: histogram})`` for every histogram in the report."""
    panels = []
    for feature in sorted(report):
        by_site = report[feature].get("histogram", {})
        datasets = sorted({d for site in by_site.values() for d in site})
        for dataset in datasets:
            hists = {
                site: values[dataset]
                for site, values in sorted(by_site.items())
                if dataset in values and site != GLOBAL
            }
            if hists:
                panels.append((feature, dataset, hists))
    return panels


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def draw_histograms(report: Mapping[str, Any], path: Path) -> Path | None:
    """Write the figure to ``path``; ``None`` (and no file) when no histogram exists."""
    panels = _panels(report)
    if not panels:
        return None
    sites = sorted({site for _, _, hists in panels for site in hists})
    colors = {site: _PALETTE[i % len(_PALETTE)] for i, site in enumerate(sites)}
    canvas = Canvas(WIDTH, PANEL_H * len(panels) + 2 * GLYPH_H + 8)
    x = MARGIN
    for site in sites:  # legend
        canvas.rect(x, 4, x + 10, 12, colors[site])
        x = canvas.text(x + 14, 5, site) + 16
    for index, (feature, dataset, hists) in enumerate(panels):
        top = 2 * GLYPH_H + 8 + index * PANEL_H
        global_hist = report[feature]["histogram"].get(GLOBAL, {}).get(dataset)
        _panel(canvas, top, f"{feature} / {dataset}", hists, colors, global_hist)
    return canvas.save(path)


def _panel(
    canvas: Canvas,
    top: int,
    title: str,
    hists: Mapping[str, list[list[float]]],
    colors: Mapping[str, Color],
    global_hist: list[list[float]] | None,
) -> None:
    total = sum(int(b[2]) for b in global_hist) if global_hist else None
    canvas.text(MARGIN, top + 4, title + (f"  (n={total})" if total is not None else ""), scale=2)
    x0, x1 = MARGIN, WIDTH - 16
    y0, y1 = top + 28, top + PANEL_H - 24  # plot area, y1 is the axis
    peak = max(max(int(b[2]) for b in h) for h in hists.values()) or 1
    bins = len(next(iter(hists.values())))
    slot = (x1 - x0) / bins
    bar = max(1, int(slot * 0.8 / len(hists)))
    for b in range(bins):
        for s, (site, hist) in enumerate(hists.items()):
            height = int((y1 - y0) * int(hist[b][2]) / peak)
            left = int(x0 + b * slot + slot * 0.1 + s * bar)
            canvas.rect(left, y1 - height, left + bar, y1, colors[site])
    canvas.hline(x0, x1, y1, _AXIS)
    canvas.vline(x0, y0, y1 + 1, _AXIS)
    canvas.text(x0 - text_width(str(peak)) - 4, y0, str(peak), _AXIS)
    canvas.text(x0 - text_width("0") - 4, y1 - GLYPH_H + 2, "0", _AXIS)
    first = next(iter(hists.values()))
    low, high = _fmt(first[0][0]), _fmt(first[-1][1])
    canvas.text(x0, y1 + 6, low, _AXIS)
    canvas.text(x1 - text_width(high), y1 + 6, high, _AXIS)
