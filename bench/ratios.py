#!/usr/bin/env python3
"""Prints the ratios of medians from a Google Benchmark JSON report.

Usage: ratios.py REPORT.json

The report must come from one run of mqseal_bench with repetitions, so that
every ratio compares figures measured side by side on the same machine.
"""
import json
import sys

# (measured, baseline, target ratio or None) per payload size.
COMPARISONS = [
    ("BM_Seal", "BM_BareEncrypt", {64: 1.25, 65536: 1.05}),
    ("BM_SealRotatingTopics", "BM_BareEncrypt", {}),
    ("BM_Open", "BM_BareDecrypt", {64: 1.25, 65536: 1.05}),
    ("BM_BareEncryptRandomNonce", "BM_BareEncrypt", {}),
]
SIZES = (64, 1024, 65536)
# Absolute targets (CONNECT tokens): (benchmark, what, limit in ns or None).
ABSOLUTE = [
    ("BM_MakeConnectToken", "token creation (device)", 5000),
    ("BM_VerifyConnectToken", "token verification (broker)", 20000),  # >= 50 000 per second
]


def medians(report):
    out = {}
    for b in report["benchmarks"]:
        if b.get("aggregate_name") == "median":
            out[b["run_name"]] = b["real_time"] if b["time_unit"] == "ns" else None
    if not out:
        sys.exit("ratios.py: no medians in the report: run with --benchmark_repetitions")
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        report = json.load(f)
    m = medians(report)
    ctx = report.get("context", {})
    print(f"# {ctx.get('date', '')} on {ctx.get('num_cpus', '?')} CPUs, "
          f"{ctx.get('library_build_type', '?')} google-benchmark; medians of "
          f"{report['benchmarks'][0].get('repetitions', '?')} repetitions")
    print("| measured | baseline | measured ns | baseline ns | ratio | target |")
    print("|---|---|---:|---:|---:|---|")
    for measured, baseline, targets in COMPARISONS:
        for n in SIZES:
            a, b = m.get(f"{measured}/{n}"), m.get(f"{baseline}/{n}")
            if a is None or b is None:
                continue
            ratio = a / b
            target = targets.get(n)
            verdict = "" if target is None else f"<= {target:.2f} ({'met' if ratio <= target else 'MISSED'})"
            print(f"| {measured}/{n} | {baseline}/{n} | {a:.0f} | {b:.0f} | {ratio:.3f} | {verdict} |")
    rows = [(name, what, limit, m[name]) for name, what, limit in ABSOLUTE if m.get(name) is not None]
    if rows:
        print()
        print("| benchmark | what | ns per call | per second | target |")
        print("|---|---|---:|---:|---|")
        for name, what, limit, ns in rows:
            verdict = f"<= {limit} ns ({'met' if ns <= limit else 'MISSED'})"
            print(f"| {name} | {what} | {ns:.0f} | {1e9 / ns:,.0f} | {verdict} |")


if __name__ == "__main__":
    main()
