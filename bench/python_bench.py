#!/usr/bin/env python3
"""mqseal's Python API against the bare PyNaCl call, measured in one run.

Seal and open of 64-byte and 1 KiB payloads through mqseal.Sealer.seal and
mqseal.Opener.open, against nacl.bindings.crypto_aead_xchacha20poly1305_ietf_
encrypt (with a fresh 24-byte random nonce, as hand-written code would) and
_decrypt on the same data. Prints the median time per call of each, over
REPEATS rounds, and the ratios. Not a test: run by scripts/bench.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

import nacl.bindings as sodium
import nacl.utils

import mqseal

TOPIC = "plant/42/sensors/temperature"
CALLS = 20000  # per round
REPEATS = 15


def per_call_ns(run: Callable[[], None]) -> float:
    start = time.perf_counter_ns()
    run()
    return (time.perf_counter_ns() - start) / CALLS


def median_ns(make_round: Callable[[], Callable[[], None]]) -> float:
    """Median over REPEATS rounds; make_round prepares a round, untimed."""
    return statistics.median(per_call_ns(make_round()) for _ in range(REPEATS))


def main() -> int:
    policy = mqseal.TopicPolicy()
    policy.add_rule("plant/+/sensors/#", "telemetry")
    keys = mqseal.Keyring()
    keys.generate("telemetry")
    sealer = mqseal.Sealer(policy, keys)
    key = nacl.utils.random(sodium.crypto_aead_xchacha20poly1305_ietf_KEYBYTES)
    rows = []
    for size in (64, 1024):
        payload = bytes(size)

        def mqseal_seal() -> Callable[[], None]:
            seal = sealer.seal

            def run() -> None:
                for _ in range(CALLS):
                    seal(TOPIC, payload)
            return run

        def nacl_seal() -> Callable[[], None]:
            encrypt = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt
            random = nacl.utils.random

            def run() -> None:
                for _ in range(CALLS):
                    encrypt(payload, None, random(24), key)
            return run

        def mqseal_open() -> Callable[[], None]:
            # Every open needs a fresh envelope (a repeat is a duplicate), and a
            # fresh receiver per round: both prepared outside the timing.
            envelopes = [sealer.seal(TOPIC, payload) for _ in range(CALLS)]
            opener = mqseal.Opener(policy, keys)
            open_ = opener.open

            def run() -> None:
                for envelope in envelopes:
                    open_(TOPIC, envelope)
            return run

        nonce = nacl.utils.random(24)
        ciphertext = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(payload, None, nonce, key)

        def nacl_open() -> Callable[[], None]:
            decrypt = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt

            def run() -> None:
                for _ in range(CALLS):
                    decrypt(ciphertext, None, nonce, key)
            return run

        seal_ns, nacl_seal_ns = median_ns(mqseal_seal), median_ns(nacl_seal)
        open_ns, nacl_open_ns = median_ns(mqseal_open), median_ns(nacl_open)
        rows.append((f"seal {size} B", seal_ns, "PyNaCl encrypt + random nonce", nacl_seal_ns))
        rows.append((f"open {size} B", open_ns, "PyNaCl decrypt", nacl_open_ns))

    print(f"# Python {sys.version.split()[0]}, mqseal {mqseal.__version__}, PyNaCl {nacl.__version__}; "
          f"medians of {REPEATS} rounds of {CALLS} calls")
    print("| mqseal | ns/call | baseline | ns/call | ratio | target |")
    print("|---|---:|---|---:|---:|---|")
    for name, ours, baseline, theirs in rows:
        ratio = ours / theirs
        print(f"| {name} | {ours:.0f} | {baseline} | {theirs:.0f} | {ratio:.3f} | "
              f"<= 1.0 ({'met' if ratio <= 1.0 else 'MISSED'}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
