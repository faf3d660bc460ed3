"""bench/plots.py picks what docs/perf-cost.svg and docs/perf-overhead.svg show
from a mqseal_bench report: every suite the report measures, next to the bare
calls and the peers' published figures, and nothing the report lacks. Also
checks that the committed plots were drawn from a report (docs/perf-report.json)
that holds every suite. matplotlib is not needed: plots.py imports it only to
draw."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any, Dict, List

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Bytes of overhead per suite, docs/SPEC.md: suite 1 (envelope v2) 55, compact
# (envelope v3) 36, suite 2 123, suite 3 87, suite 4 155.
SPEC_OVERHEAD = {
    "BM_Seal/64": ("mqseal suite 1", 55),
    "BM_SealCompact/64": ("mqseal compact (v3)", 36),
    "BM_SealSigned/64": ("mqseal suite 2", 123),
    "BM_SealRecipient/64": ("mqseal suite 3", 87),
    "BM_SealSignedSealed/64": ("mqseal suite 4", 155),
}
SUITE_FAMILIES = {
    "seal": ["BM_Seal", "BM_SealCompact", "BM_SealSigned", "BM_SealRecipient", "BM_SealSignedSealed"],
    "open": ["BM_Open", "BM_OpenCompact", "BM_OpenSigned", "BM_OpenRecipient", "BM_OpenSignedSealed"],
}


def load_plots() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mqseal_bench_plots", ROOT / "bench" / "plots.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def aggregate(run_name: str, name: str, ns: float, **counters: float) -> Dict[str, Any]:
    return {"run_name": run_name, "aggregate_name": name, "time_unit": "ns",
            "real_time": ns, "cpu_time": ns * 0.9, **counters}


def report(leave_out: str = "") -> Dict[str, Any]:
    plots = load_plots()
    benchmarks: List[Dict[str, Any]] = []
    families = [row[0] for row in plots.SEAL_SERIES + plots.OPEN_SERIES]
    for family in families:
        if family == leave_out:
            continue
        for size in (64, 65536):
            run = f"{family}/{size}"
            counters = {"overhead_bytes": float(SPEC_OVERHEAD[run][1])} if run in SPEC_OVERHEAD else {}
            benchmarks.append(aggregate(run, "mean", 1.0))  # not a median: never plotted
            benchmarks.append(aggregate(run, "median", 1000.0 + size, **counters))
    return {"benchmarks": benchmarks}


def test_overhead_bars_are_every_suite_measured_then_the_peers() -> None:
    plots = load_plots()
    rows = plots.overhead_rows(plots.medians(report()))
    measured = [(label, lo) for label, lo, hi, is_measured in rows if is_measured]
    assert measured == [(f"{label} (measured)", n) for label, n in SPEC_OVERHEAD.values()]
    published = [label for label, _, _, is_measured in rows if not is_measured]
    assert published[0] == "E4 (published)" and "E4 public-key mode (published)" in published
    assert rows.index(next(r for r in rows if not r[3])) == len(SPEC_OVERHEAD)


def test_cost_panels_hold_every_suite_and_only_what_was_measured() -> None:
    plots = load_plots()
    panels = dict(plots.cost_panels(plots.medians(report(leave_out="BM_OpenSignedSealed")), "cpu_time"))
    assert set(panels) == {"seal", "open"}
    for title, families in SUITE_FAMILIES.items():
        labels = [line[0] for line in panels[title]]
        for family in families:
            row = next(r for r in plots.SEAL_SERIES + plots.OPEN_SERIES if r[0] == family)
            assert (row[1] in labels) == (family != "BM_OpenSignedSealed"), family
    seal_suite1 = next(line for line in panels["seal"] if line[0] == plots.SEAL_SERIES[0][1])
    assert seal_suite1[4] == [64, 65536] and seal_suite1[5] == pytest.approx([0.9 * 1064, 0.9 * 66536])
    markers = [line[3] for line in panels["seal"] if line[0].startswith("mqseal")]
    assert len(set(markers)) == len(markers)  # a suite measured at one size stays visible


def test_suite5_and_its_bare_baseline_are_plotted_when_measured() -> None:
    # Suite 5 (AES-256-GCM): suite 1's envelope, 55 bytes (docs/SPEC.md,
    # section 4e). Its bar follows suite 4's, before the peers'; its seal and
    # open lines and the bare libsodium AES-256-GCM calls are in the panels.
    plots = load_plots()
    r = report()
    for b in r["benchmarks"]:
        if b["run_name"] == "BM_SealAes256Gcm/64":
            b["overhead_bytes"] = 55.0
    m = plots.medians(r)
    rows = plots.overhead_rows(m)
    measured = [(label, lo) for label, lo, hi, is_measured in rows if is_measured]
    assert measured[-1] == ("mqseal suite 5 (measured)", 55)
    assert measured[:-1] == [(f"{label} (measured)", n) for label, n in SPEC_OVERHEAD.values()]
    panels = dict(plots.cost_panels(m, "cpu_time"))
    assert "mqseal seal, suite 5 (AES-256-GCM)" in [line[0] for line in panels["seal"]]
    assert "mqseal open, suite 5" in [line[0] for line in panels["open"]]
    assert any("AES-256-GCM encrypt" in line[0] and line[0].startswith("bare") for line in panels["seal"])
    assert any("AES-256-GCM decrypt" in line[0] and line[0].startswith("bare") for line in panels["open"])
    # Skipped (a CPU without AES-NI: no medians): no suite 5 line, no bar.
    m = plots.medians(report(leave_out="BM_SealAes256Gcm"))
    assert all("suite 5" not in line[0] for line in dict(plots.cost_panels(m, "cpu_time"))["seal"])
    assert all("suite 5" not in label for label, _, _, _ in plots.overhead_rows(m))


def test_committed_plots_come_from_a_report_with_every_suite() -> None:
    plots = load_plots()
    m = plots.medians(json.loads((ROOT / "docs" / "perf-report.json").read_text()))
    for run, (label, n) in SPEC_OVERHEAD.items():
        assert round(m[run]["overhead_bytes"]) == n, run
    overhead_svg = (ROOT / "docs" / "perf-overhead.svg").read_text()
    cost_svg = (ROOT / "docs" / "perf-cost.svg").read_text()
    for label, n in SPEC_OVERHEAD.values():
        assert f"{label} (measured)" in overhead_svg
        assert re.search(rf">{n}<", overhead_svg), n
    for title, families in SUITE_FAMILIES.items():
        for family in families:
            row = next(r for r in plots.SEAL_SERIES + plots.OPEN_SERIES if r[0] == family)
            assert row[1] in cost_svg, row[1]
    # Suite 5 (AES-256-GCM), on the reference machine's CPU (AES-NI): 55 bytes,
    # and its seal and open lines with their bare libsodium baseline.
    assert round(m["BM_SealAes256Gcm/64"]["overhead_bytes"]) == 55
    assert "mqseal suite 5 (measured)" in overhead_svg
    for family in ("BM_SealAes256Gcm", "BM_OpenAes256Gcm", "BM_BareSodiumAesGcmEncrypt", "BM_BareSodiumAesGcmDecrypt"):
        row = next(r for r in plots.SEAL_SERIES + plots.OPEN_SERIES if r[0] == family)
        assert row[1] in cost_svg, row[1]
