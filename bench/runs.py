#!/usr/bin/env python3
"""Summarises one ratio over many runs of mqseal_bench or paho_bench.

Usage: runs.py [--cpu-time] MEASURED BASELINE REPORT.json [REPORT.json ...]
       runs.py --throughput OUTPUT.txt [OUTPUT.txt ...]

Each report must come from its own run of mqseal_bench with repetitions (as
ratios.py wants). For every report, the ratio of MEASURED's median to
BASELINE's median (both from that report, so measured side by side) is one
sample; the samples are then summarised by their median and a
distribution-free 95 % confidence interval for that median (order
statistics of the binomial distribution: no assumption about how the noise
of a shared machine is shaped). A target such as "within 1.1 x" is settled
when the whole interval is on one side of it, and not settled otherwise.

Example (issue 12, target 2: twenty runs of the 16 KiB rows):

    for i in $(seq 20); do
      build/bench/bench/mqseal_bench --benchmark_filter='BM_(Open|BareOpensslDecryptBatch(Ad)?)/16384$' \\
        --benchmark_repetitions=10 --benchmark_enable_random_interleaving=true \\
        --benchmark_out=run-$i.json --benchmark_out_format=json >/dev/null
    done
    bench/runs.py --cpu-time BM_Open/16384 BM_BareOpensslDecryptBatchAd/16384 run-*.json

With --throughput, each file is the printed output of one
`paho_bench throughput` run (issue 12, target 4), and each of its "median"
lines gives one sample per mode and variant: that run's sealed rate over its
plaintext rate (ratio of the rounds' medians, as paho_bench prints it).
Its two-process rounds also give, per sealed variant, the publisher's, the
subscriber's and both clients' CPU per message, plaintext over sealed (each
round paired with itself, the median over a run's rounds as its sample),
and the client CPU the variant adds per message, in microseconds.
"""
import json
import math
import re
import sys

from ratios import medians, time_field

CONFIDENCE = 0.95


def median(values):
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def median_interval(values, confidence=CONFIDENCE):
    """(low, high, achieved confidence) from order statistics, or None if too few samples."""
    s = sorted(values)
    n = len(s)
    # P(Binomial(n, 1/2) <= j), the chance that at most j samples fall below the true median.
    cdf = []
    total = 0.0
    for j in range(n + 1):
        total += math.comb(n, j) / 2**n
        cdf.append(total)
    # The widest k with P(X < k) <= (1 - confidence) / 2: [s[k-1], s[n-k]] (1-based k) covers the median.
    best = None
    for k in range(1, n // 2 + 1):
        if cdf[k - 1] <= (1 - confidence) / 2:
            best = k
    if best is None:
        return None
    achieved = 1 - 2 * cdf[best - 1]
    return s[best - 1], s[n - best], achieved


def summarise(what, ratios, label="ratios"):
    print(f"{what}, {len(ratios)} runs:")
    print(f"  {label}: " + ", ".join(f"{r:.3f}" for r in ratios))
    print(f"  median {median(ratios):.3f}, range {min(ratios):.3f} to {max(ratios):.3f}")
    interval = median_interval(ratios)
    if interval is None:
        print(f"  too few runs for a {CONFIDENCE:.0%} interval of the median (at least 6 are needed)")
    else:
        low, high, achieved = interval
        print(f"  {achieved:.1%} interval of the median: {low:.3f} to {high:.3f}")


# "median, two processes: plaintext 67198 msg/s; sealed 62354 msg/s, ratio 0.928 (...); sealed, queued ..."
THROUGHPUT_LINE = re.compile(r"^median, (one process|two processes): plaintext [0-9.]+ msg/s; (.*)$")
THROUGHPUT_VARIANT = re.compile(r"(sealed(?:, queued)?) [0-9.]+ msg/s, ratio ([0-9.]+)")


# "round 2, two processes: plaintext 60303 msg/s (pub 8.64 + sub 7.97 us CPU/msg); sealed ..."
ROUND_LINE = re.compile(r"^round [0-9]+, two processes: (.*)$")
ROUND_VARIANT = re.compile(r"(plaintext|sealed(?:, queued)?) [0-9.]+ msg/s \(pub ([0-9.]+) \+ sub ([0-9.]+) us")


def per_party(path, samples):
    """One sample per party and sealed variant from a run's two-process rounds: the median over
    its rounds of plaintext CPU per message / sealed CPU per message, each round paired with
    itself (the machine's speed drifts between rounds), and of the CPU the variant added."""
    rounds = {}
    with open(path) as f:
        for line in f:
            m = ROUND_LINE.match(line)
            if not m:
                continue
            cpu = {v: (float(pub), float(sub)) for v, pub, sub in ROUND_VARIANT.findall(m.group(1))}
            plain = cpu.get("plaintext")
            for variant, (pub, sub) in cpu.items():
                if variant == "plaintext" or plain is None:
                    continue
                r = rounds.setdefault(variant, {"pub": [], "sub": [], "pub+sub": [], "added": []})
                r["pub"].append(plain[0] / pub)
                r["sub"].append(plain[1] / sub)
                r["pub+sub"].append((plain[0] + plain[1]) / (pub + sub))
                r["added"].append(pub + sub - plain[0] - plain[1])
    for variant, r in rounds.items():
        for party, values in r.items():
            samples.setdefault((variant, party), []).append(median(values))


def throughput(paths):
    samples = {}
    parties = {}
    for path in paths:
        per_party(path, parties)
        found = 0
        with open(path) as f:
            for line in f:
                m = THROUGHPUT_LINE.match(line)
                if not m:
                    continue
                for variant, ratio in THROUGHPUT_VARIANT.findall(m.group(2)):
                    samples.setdefault(f"{m.group(1)}, {variant} / plaintext", []).append(float(ratio))
                    found += 1
        if found == 0:
            sys.exit(f"runs.py: {path} has no 'median, ...' line of paho_bench throughput")
    for what, ratios in samples.items():
        summarise(what, ratios)
    # What each client would allow if it had a core to itself (the broker's CPU per message
    # does not depend on sealing): the rate is then bounded by the slowest party.
    for (variant, party), values in parties.items():
        if party == "added":
            summarise(f"two processes, {variant}: client CPU added per message", values, "microseconds")
        else:
            summarise(f"two processes, {variant}: {party} CPU per message, plaintext / sealed", values)


def main():
    if sys.argv[1:2] == ["--throughput"]:
        if len(sys.argv) < 3:
            sys.exit(__doc__)
        return throughput(sys.argv[2:])
    field, args = time_field(sys.argv[1:])
    if len(args) < 3:
        sys.exit(__doc__)
    measured, baseline, paths = args[0], args[1], args[2:]
    ratios = []
    for path in paths:
        with open(path) as f:
            m = medians(json.load(f), field)
        a, b = m.get(measured), m.get(baseline)
        if a is None or b is None:
            sys.exit(f"runs.py: {path} has no median for {measured if a is None else baseline}")
        ratios.append(a / b)
    summarise(f"{measured} / {baseline} ({field} medians)", ratios)


if __name__ == "__main__":
    main()
