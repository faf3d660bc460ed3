"""bench/runs.py turns many `paho_bench throughput` outputs into one figure per
mode with a distribution-free interval of its median (issue 12, target 4):
the ratios paho_bench printed, and, from the two-process rounds, each client's
CPU per message, plaintext over sealed, paired round by round."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import List

ROOT = Path(__file__).resolve().parents[2]

ROUND = ("round {r}, two processes: plaintext 50000 msg/s (pub {pp:.2f} + sub {ps:.2f} us CPU/msg); "
         "sealed 45000 msg/s (pub {sp:.2f} + sub {ss:.2f} us CPU/msg); "
         "sealed, queued 44000 msg/s (pub {qp:.2f} + sub {qs:.2f} us CPU/msg)\n")
MEDIAN = ("median, two processes: plaintext 50000 msg/s; sealed 45000 msg/s, ratio {ratio:.3f} "
          "(median of the rounds' ratios {ratio:.3f}); sealed, queued 44000 msg/s, ratio 0.880 "
          "(median of the rounds' ratios 0.880)\n")


def write_run(path: Path, ratio: float, rounds: List[tuple[float, float, float, float]]) -> None:
    text = "".join(ROUND.format(r=i + 1, pp=pp, ps=ps, sp=sp, ss=ss, qp=sp, qs=ss)
                   for i, (pp, ps, sp, ss) in enumerate(rounds))
    path.write_text(text + MEDIAN.format(ratio=ratio))


def run(paths: List[Path]) -> str:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "runs.py"), "--throughput",
                           *map(str, paths)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def block(out: str, title: str) -> List[str]:
    lines = out.splitlines()
    at = lines.index(title)
    return lines[at + 1:at + 4]


def test_throughput_ratios_and_each_clients_cpu(tmp_path: Path) -> None:
    paths = []
    for i in range(8):
        # The machine's speed drifts from round to round. Paired round by
        # round the publisher's ratio is 0.8, 0.8 and 1.09, median 0.8; the
        # ratio of the rounds' medians (12 / 11) would be 1.09.
        rounds = [(8.0, 6.0, 10.0, 6.5), (16.0, 12.0, 20.0, 13.0), (12.0, 9.0, 11.0, 9.75)]
        p = tmp_path / f"run-{i}.txt"
        write_run(p, 0.85 + i * 0.01, rounds)
        paths.append(p)
    out = run(paths)
    ratios = block(out, "two processes, sealed / plaintext, 8 runs:")
    assert ratios[0] == "  ratios: " + ", ".join(f"{0.85 + i * 0.01:.3f}" for i in range(8))
    assert ratios[1] == "  median 0.885, range 0.850 to 0.920"
    # n = 8: order statistics 1 and 8 cover the median with 1 - 2/2^8 = 99.2 %.
    assert ratios[2] == "  99.2% interval of the median: 0.850 to 0.920"
    pub = block(out, "two processes, sealed: pub CPU per message, plaintext / sealed, 8 runs:")
    assert pub[1] == "  median 0.800, range 0.800 to 0.800"
    sub = block(out, "two processes, sealed: sub CPU per message, plaintext / sealed, 8 runs:")
    assert sub[1] == f"  median {6.0 / 6.5:.3f}, range {6.0 / 6.5:.3f} to {6.0 / 6.5:.3f}"
    added = block(out, "two processes, sealed: client CPU added per message, 8 runs:")
    # Rounds add 2.5, 5.0 and -0.25 us: the median is 2.5 in every run.
    assert added[0] == "  microseconds: " + ", ".join(["2.500"] * 8)
    assert added[1] == "  median 2.500, range 2.500 to 2.500"

def test_a_file_without_results_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "empty.txt"
    p.write_text("round 1, one process: plaintext 1 msg/s (1.00 us CPU/msg)\n")
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "runs.py"), "--throughput", str(p)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "has no 'median, ...' line" in done.stderr
