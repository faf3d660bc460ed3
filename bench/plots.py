#!/usr/bin/env python3
"""Plots of a Google Benchmark JSON report of mqseal_bench, for docs/PERFORMANCE.md.

Usage: plots.py [--cpu-time] REPORT.json OUTPUT_DIR

Writes two SVG files into OUTPUT_DIR:
  perf-cost.svg      time per message (median) against payload size: mqseal's
                     seal and open for each suite the report measures (suite 1,
                     the compact envelope v3, suites 2, 3, 4 and 5) and the
                     bare calls measured in the same run (libsodium
                     XChaCha20-Poly1305; OpenSSL EVP ChaCha20-Poly1305 in a
                     core built with OpenSSL; Ed25519 sign + encrypt and
                     verify + decrypt, suite 2's baseline; libsodium
                     AES-256-GCM, suite 5's);
  perf-overhead.svg  bytes each envelope adds to its payload: mqseal's, per
                     suite, as the benchmark measured it (the overhead_bytes
                     counter of its 64-byte seal benchmarks), next to the
                     figures other projects publish.
Only what the report holds is plotted from it: a series it lacks is left out.
--cpu-time plots the medians of CPU time instead of real time (as ratios.py
--cpu-time: time descheduled by other processes' load is left out); each
plot says which.
Run by scripts/bench (matplotlib from PyPI, in its venv). Not a test.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

# matplotlib is imported by main() only: the tables below and the functions
# that pick the plotted values from a report are checked without it
# (tests/python/test_bench_plots.py).

# One row per line of both panels: (seal benchmark family, its label, open
# benchmark family, its label, colour, line style, marker): every suite whose
# seal and open mqseal_bench measures, then the bare calls of the same run. A
# new suite's benchmarks are one more row here (and one in MEASURED_OVERHEAD).
# Each suite has its own marker: one measured at a single size is a point,
# not a line.
SERIES = [
    ("BM_Seal", "mqseal seal, suite 1 (XChaCha20-Poly1305)",
     "BM_Open", "mqseal open, suite 1", "#1f5fbf", "-", "o"),
    ("BM_SealCompact", "mqseal seal, compact envelope (v3)",
     "BM_OpenCompact", "mqseal open, compact envelope (v3)", "#6a3d9a", "-", "s"),
    ("BM_SealSigned", "mqseal seal, suite 2 (signed sender)",
     "BM_OpenSigned", "mqseal open, suite 2", "#b2182b", "-", "^"),
    ("BM_SealRecipient", "mqseal seal, suite 3 (sealed to a recipient)",
     "BM_OpenRecipient", "mqseal open, suite 3 (a session already known)", "#1b9e9e", "-", "v"),
    ("BM_SealSignedSealed", "mqseal seal, suite 4 (signed, then sealed)",
     "BM_OpenSignedSealed", "mqseal open, suite 4", "#8c510a", "-", "D"),
    ("BM_SealAes256Gcm", "mqseal seal, suite 5 (AES-256-GCM)",
     "BM_OpenAes256Gcm", "mqseal open, suite 5", "#c51b7d", "-", "P"),
    ("BM_BareEncrypt", "bare libsodium XChaCha20-Poly1305 encrypt",
     "BM_BareDecrypt", "bare libsodium XChaCha20-Poly1305 decrypt", "#d9731a", "--", "o"),
    ("BM_BareOpensslEncrypt", "bare OpenSSL EVP ChaCha20-Poly1305 encrypt",
     "BM_BareOpensslDecrypt", "bare OpenSSL EVP ChaCha20-Poly1305 decrypt", "#2e9e4f", ":", "o"),
    ("BM_BareSignPlusEncrypt", "bare Ed25519 sign + libsodium encrypt",
     "BM_BareVerifyPlusDecrypt", "bare Ed25519 verify + libsodium decrypt", "#777777", "-.", "o"),
    ("BM_BareSodiumAesGcmEncrypt", "bare libsodium AES-256-GCM encrypt (key expanded once)",
     "BM_BareSodiumAesGcmDecrypt", "bare libsodium AES-256-GCM decrypt (key expanded once)", "#e78ac3", "--", "P"),
]
# (family, label, colour, line style, marker) per panel.
SEAL_SERIES = [(sf, sl, colour, style, marker) for sf, sl, _, _, colour, style, marker in SERIES]
OPEN_SERIES = [(of, ol, colour, style, marker) for _, _, of, ol, colour, style, marker in SERIES]

# Bytes added per message, as the projects publish them (issue 12; E4's
# public-key mode: docs/SPEC.md, suite 2), not measured here: (name, fewest, most).
PUBLISHED_OVERHEAD = [
    ("E4", 24, 24),
    ("E4 public-key mode", 104, 104),
    ("OSCORE (8-byte tag)", 11, 15),
    ("Tink AEAD", 40, 45),
    ("Themis Secure Cell", 44, 44),
]
# mqseal's own, from the report: (benchmark with the overhead_bytes counter, label).
MEASURED_OVERHEAD = [
    ("BM_Seal/64", "mqseal suite 1"),
    ("BM_SealCompact/64", "mqseal compact (v3)"),
    ("BM_SealSigned/64", "mqseal suite 2"),
    ("BM_SealRecipient/64", "mqseal suite 3"),
    ("BM_SealSignedSealed/64", "mqseal suite 4"),
    ("BM_SealAes256Gcm/64", "mqseal suite 5"),
]


def medians(report: dict) -> dict[str, dict]:
    """run_name -> the median aggregate (real time in ns, counters)."""
    out = {}
    for b in report["benchmarks"]:
        if b.get("aggregate_name") == "median":
            if b.get("time_unit") != "ns":
                sys.exit(f"plots.py: {b['run_name']} is not in ns")
            out[b["run_name"]] = b
    if not out:
        sys.exit("plots.py: no medians in the report: run mqseal_bench with --benchmark_repetitions")
    return out


def series(m: dict[str, dict], family: str, field: str) -> tuple[list[int], list[float]]:
    points = sorted(
        (int(name.split("/")[1]), b[field])
        for name, b in m.items()
        if name.split("/")[0] == family and name.count("/") == 1
    )
    return [p[0] for p in points], [p[1] for p in points]


def size_label(n: int) -> str:
    if n >= 1 << 20:
        return f"{n >> 20} MiB"
    if n >= 1 << 10:
        return f"{n >> 10} KiB"
    return f"{n} B"


Line = tuple[str, str, str, str, list[int], list[float]]  # label, colour, style, marker, sizes, ns


def cost_panels(m: dict[str, dict], field: str) -> list[tuple[str, list[Line]]]:
    """("seal" | "open", the lines of that panel): each row of SEAL_SERIES /
    OPEN_SERIES whose benchmark the report measured, with its medians."""
    panels = []
    for title, rows in (("seal", SEAL_SERIES), ("open", OPEN_SERIES)):
        lines = []
        for family, label, colour, style, marker in rows:
            x, y = series(m, family, field)
            if x:
                lines.append((label, colour, style, marker, x, y))
        panels.append((title, lines))
    return panels


def overhead_rows(m: dict[str, dict]) -> list[tuple[str, int, int, bool]]:
    """(label, fewest, most, measured) per bar: mqseal's suites as the report
    measured them, then the peers' published figures."""
    rows = []
    for run, label in MEASURED_OVERHEAD:
        b = m.get(run)
        if b is not None and "overhead_bytes" in b:
            n = int(round(b["overhead_bytes"]))
            rows.append((f"{label} (measured)", n, n, True))
    if not rows:
        sys.exit("plots.py: the report has no overhead_bytes counter (BM_Seal/64)")
    return rows + [(f"{name} (published)", lo, hi, False) for name, lo, hi in PUBLISHED_OVERHEAD]


def save(plt, fig, path: Path) -> None:
    # No date in the file: the same report gives the same bytes.
    fig.savefig(path, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    print(f"wrote {path}")


def plot_cost(plt, m: dict[str, dict], field: str, subtitle: str, path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(12, 6.4), sharey=True)
    for ax, (title, lines) in zip(axes, cost_panels(m, field)):
        sizes: set[int] = set()
        for label, colour, style, marker, x, y in lines:
            sizes.update(x)
            # mqseal's over the bare calls: suite 4's single point sits where
            # suite 2's and the bare Ed25519 calls' do.
            ax.plot(x, [v / 1000 for v in y], style, marker=marker, markersize=5, color=colour, label=label,
                    zorder=3 if label.startswith("mqseal") else 2)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(sorted(sizes), [size_label(n) for n in sorted(sizes)])
        ax.minorticks_off()
        ax.set_xlabel("payload size")
        ax.set_title(title)
        ax.grid(True, which="major", linewidth=0.4, alpha=0.6)
        # Below the panel: ten lines would hide each other's points inside it.
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=1, frameon=False)
    clock = "CPU time" if field == "cpu_time" else "real time"
    axes[0].set_ylabel(f"{clock} per message, µs (median, log scale)")
    fig.suptitle(f"Cost per message against payload size\n{subtitle}", fontsize=10)
    save(plt, fig, path)


def plot_overhead(plt, m: dict[str, dict], path: Path) -> None:
    rows = overhead_rows(m)
    fig, ax = plt.subplots(figsize=(7.5, 0.5 * len(rows) + 1.2))
    for i, (label, lo, hi, measured) in enumerate(rows):
        colour = "#1f5fbf" if measured else "#9a9a9a"
        ax.barh(i, lo, color=colour, height=0.6)
        if hi > lo:  # a range: the lighter part is what some messages add
            ax.barh(i, hi - lo, left=lo, color=colour, alpha=0.45, height=0.6)
        ax.text(hi + 0.8, i, f"{lo}" if lo == hi else f"{lo}–{hi}", va="center", fontsize=9)
    ax.set_yticks(range(len(rows)), [r[0] for r in rows])
    ax.invert_yaxis()
    ax.set_xlabel("bytes added to each message")
    ax.set_xlim(0, max(r[2] for r in rows) * 1.15)
    ax.set_title("Envelope overhead: mqseal (measured) and peers (their published figures)", fontsize=10)
    ax.grid(True, axis="x", linewidth=0.4, alpha=0.6)
    save(plt, fig, path)


def main() -> int:
    args = sys.argv[1:]
    field = "real_time"
    if args[:1] == ["--cpu-time"]:
        field, args = "cpu_time", args[1:]
    if len(args) != 2:
        sys.exit(__doc__)
    import matplotlib

    matplotlib.use("svg")
    import matplotlib.pyplot as plt

    report = json.loads(Path(args[0]).read_text())
    out = Path(args[1])
    out.mkdir(parents=True, exist_ok=True)
    plt.rcParams["svg.fonttype"] = "none"  # text stays text: small files, searchable
    plt.rcParams["svg.hashsalt"] = "mqseal"  # stable element ids
    m = medians(report)
    ctx = report.get("context", {})
    repetitions = report["benchmarks"][0].get("repetitions", "?")
    subtitle = (f"mqseal_bench, {ctx.get('date', '')[:10]}, {ctx.get('num_cpus', '?')} CPUs, "
                f"medians of {repetitions} repetitions")
    plot_cost(plt, m, field, subtitle, out / "perf-cost.svg")
    plot_overhead(plt, m, out / "perf-overhead.svg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
