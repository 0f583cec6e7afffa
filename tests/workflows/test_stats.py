"""Federated statistics math: the combined figures equal those of the pooled data."""

from __future__ import annotations

import json
import struct
import zlib

import numpy as np
import pytest

from fljob.runtime.stats import (
    GLOBAL,
    StatisticsError,
    bin_edges,
    build_report,
    check_statistics,
    deviations,
    format_table,
    global_moments,
    save_report,
    summarize,
)

ALL = ["count", "sum", "mean", "stddev", "histogram", "min", "max"]


def _site_data(seed: int, n: int) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "train": {"age": rng.normal(40, 10, n), "income": rng.exponential(3.0, n)},
        "test": {"age": rng.normal(35, 5, n // 2)},
    }


def _run(sites: dict, statistics=ALL, bins: int = 10, min_count: int = 0) -> dict:
    """The protocol of the Statistics workflow, without processes: two passes."""
    summaries = {s: summarize(d, min_count=min_count) for s, d in sites.items()}
    moments = global_moments(summaries)
    means = {ds: {f: m["mean"] for f, m in fs.items()} for ds, fs in moments.items()}
    edges = bin_edges(summaries, bins)
    devs = {s: deviations(d, means, edges, min_count=min_count) for s, d in sites.items()}
    return build_report(statistics, summaries, devs, edges)


def test_global_figures_equal_the_pooled_data() -> None:
    sites = {"site-1": _site_data(1, 200), "site-2": _site_data(2, 50), "site-3": _site_data(3, 31)}
    report = _run(sites)
    pooled = np.concatenate([d["train"]["age"] for d in sites.values()])
    age = report["age"]
    assert age["count"][GLOBAL]["train"] == len(pooled)
    assert age["sum"][GLOBAL]["train"] == pytest.approx(pooled.sum())
    assert age["mean"][GLOBAL]["train"] == pytest.approx(pooled.mean())
    assert age["stddev"][GLOBAL]["train"] == pytest.approx(pooled.std(ddof=1))
    assert age["min"][GLOBAL]["train"] == pooled.min()
    local = sites["site-2"]["train"]["age"]
    assert age["stddev"]["site-2"]["train"] == pytest.approx(local.std(ddof=1))
    assert age["mean"]["site-2"]["train"] == pytest.approx(local.mean())
    # Histograms: global bins over every site and dataset; the global one is their sum.
    all_ages = np.concatenate([pooled] + [d["test"]["age"] for d in sites.values()])
    expected, edges = np.histogram(all_ages, bins=10, range=(all_ages.min(), all_ages.max()))
    hist = age["histogram"][GLOBAL]
    train_counts = [c for _, _, c in hist["train"]]
    test_counts = [c for _, _, c in hist["test"]]
    assert [a + b for a, b in zip(train_counts, test_counts, strict=True)] == expected.tolist()
    assert [lo for lo, _, _ in hist["train"]] == pytest.approx(edges[:-1].tolist())
    assert sorted(age["count"]) == [GLOBAL, "site-1", "site-2", "site-3"]


def test_min_count_withholds_small_features() -> None:
    sites = {"big": _site_data(1, 100), "small": _site_data(2, 8)}
    report = _run(sites, min_count=10)
    assert "small" not in report["age"]["count"]  # 8 train rows, 4 test rows: withheld
    assert report["age"]["count"][GLOBAL] == {"train": 100, "test": 50}
    summary = summarize(sites["small"], min_count=10)
    assert summary["train"]["age"] == {"withheld": True, "count": 0}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2, 3], "must return {dataset: {feature: array}}"),
        ({"train": [1, 2]}, "must map feature names"),
        ({"train": {"x": ["a", "b"]}}, "is not numeric"),
        ({"train": {1: [1.0]}}, "non-text feature name"),
    ],
    ids=["not-a-dict", "no-features", "text-values", "int-feature-name"],
)
def test_bad_site_data(data, message) -> None:
    with pytest.raises(StatisticsError, match=message):
        summarize(data)


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["count", "stdev"], "did you mean 'stddev'"),
        ([], "no statistic requested"),
        (["median"], "unknown statistic"),
    ],
    ids=["typo", "empty", "unsupported"],
)
def test_bad_statistics_names(names, message) -> None:
    with pytest.raises(StatisticsError, match=message):
        check_statistics(names)


def test_nan_values_are_ignored_and_constant_features_get_a_range() -> None:
    report = _run({"a": {"d": {"x": [1.0, np.nan, 1.0]}}}, bins=2)
    assert report["x"]["count"][GLOBAL]["d"] == 2
    assert report["x"]["histogram"][GLOBAL]["d"] == [[0.5, 1.0, 0], [1.0, 1.5, 2]]
    assert report["x"]["stddev"]["a"]["d"] == 0.0


def _read_png(data: bytes) -> np.ndarray:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, size = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        assert (
            zlib.crc32(kind + body)
            == struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])[0]
        )
        if kind == b"IHDR":
            size = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height = size
    rows = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, 1 + 3 * width)
    return rows[:, 1:].reshape(height, width, 3)


def test_report_is_saved_as_json_png_and_table(tmp_path) -> None:
    report = _run({"site-1": _site_data(1, 100), "site-2": _site_data(2, 80)})
    paths = save_report(report, tmp_path, "stats/statistics.json")
    assert json.loads(paths["json"].read_text()) == json.loads(json.dumps(report))
    pixels = _read_png(paths["png"].read_bytes())
    assert pixels.shape[1] == 720 and pixels.shape[0] > 3 * 200  # three panels
    colours = {tuple(p) for p in pixels.reshape(-1, 3)[::7]}
    assert (31, 119, 180) in colours and (255, 127, 14) in colours  # one colour per site
    table = format_table(report).splitlines()
    assert table[0].split() == [
        "feature",
        "dataset",
        "count",
        "sum",
        "mean",
        "stddev",
        "min",
        "max",
    ]
    assert table[1].split()[:3] == ["age", "test", "90"]
    with pytest.raises(StatisticsError, match="leaves the job's result folder"):
        save_report(report, tmp_path, "../escape.json")
