#!/usr/bin/env python3
"""mqseal's Python API against the bare PyNaCl and `cryptography` calls, measured in one run.

Seal and open of 64-byte and 1 KiB payloads through mqseal.Sealer.seal and
mqseal.Opener.open, against nacl.bindings.crypto_aead_xchacha20poly1305_ietf_
encrypt (with a fresh 24-byte random nonce, as hand-written code would) and
_decrypt on the same data; and of 16 KiB, 64 KiB and 1 MiB payloads against
the `cryptography` package's ChaCha20Poly1305 (OpenSSL) encrypt with a fresh
12-byte random nonce and decrypt (issue 12: mqseal no slower at 64 KiB).
Prints the median time per call of each, over REPEATS rounds (the rounds of
what is compared alternating), and the ratios. --cpu-time times with the
process's CPU clock instead of the wall clock: time spent descheduled by
other processes' load is then left out (their effect on caches is not).
MQSEAL_BENCH_REPETITIONS sets REPEATS. Not a test: run by scripts/bench. `cryptography` is a bench dependency only
(pip install cryptography); without it those rows are skipped.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable

import nacl.bindings as sodium
import nacl.utils

import mqseal

try:
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
    import cryptography
except ImportError:  # a bench dependency only
    ChaCha20Poly1305 = None

TOPIC = "plant/42/sensors/temperature"
CALLS = 20000  # per round
REPEATS = int(os.environ.get("MQSEAL_BENCH_REPETITIONS", "15"))
CLOCK = time.perf_counter_ns  # --cpu-time: time.process_time_ns
BULK_SIZES = (16 * 1024, 64 * 1024, 1024 * 1024)
BULK_BYTES_PER_ROUND = 64 * 1024 * 1024  # bulk rounds: fewer calls, the same work as each other


def per_call_ns(run: Callable[[], None], calls: int) -> float:
    start = CLOCK()
    run()
    return (CLOCK() - start) / calls


def interleaved_medians(makers: list[Callable[[], Callable[[], None]]], calls: int) -> list[float]:
    """Median per maker over REPEATS rounds, the makers' rounds alternating, so
    that a burst of load on this shared machine hits all of them alike; each
    maker prepares its round, untimed."""
    times: list[list[float]] = [[] for _ in makers]
    for _ in range(REPEATS):
        for i, make in enumerate(makers):
            times[i].append(per_call_ns(make(), calls))
    return [statistics.median(t) for t in times]


def bulk_rows(policy: mqseal.TopicPolicy, keys: mqseal.Keyring, sealer: mqseal.Sealer) -> list:
    """mqseal against cryptography's ChaCha20Poly1305 (fresh random nonce per call)."""
    rows = []
    aead = ChaCha20Poly1305(ChaCha20Poly1305.generate_key())
    for size in BULK_SIZES:
        calls = max(16, BULK_BYTES_PER_ROUND // size // 4)
        payload = os.urandom(size)

        def mqseal_seal() -> Callable[[], None]:
            seal = sealer.seal

            def run() -> None:
                for _ in range(calls):
                    seal(TOPIC, payload)
            return run

        def crypto_seal() -> Callable[[], None]:
            encrypt = aead.encrypt
            urandom = os.urandom

            def run() -> None:
                for _ in range(calls):
                    encrypt(urandom(12), payload, None)
            return run

        def mqseal_open() -> Callable[[], None]:
            envelopes = [sealer.seal(TOPIC, payload) for _ in range(calls)]
            open_ = mqseal.Opener(policy, keys).open

            def run() -> None:
                for envelope in envelopes:
                    open_(TOPIC, envelope)
            return run

        def crypto_open() -> Callable[[], None]:
            # As many distinct messages as mqseal opens, read in the same order.
            nonces = [os.urandom(12) for _ in range(calls)]
            sealed = [aead.encrypt(n, payload, None) for n in nonces]
            decrypt = aead.decrypt

            def run() -> None:
                for n, c in zip(nonces, sealed):
                    decrypt(n, c, None)
            return run

        seal_ns, crypto_seal_ns, open_ns, crypto_open_ns = interleaved_medians(
            [mqseal_seal, crypto_seal, mqseal_open, crypto_open], calls)
        label = f"{size // 1024} KiB"
        rows.append((f"seal {label}", seal_ns, "cryptography ChaCha20Poly1305 encrypt + random nonce",
                     crypto_seal_ns))
        rows.append((f"open {label}", open_ns, "cryptography ChaCha20Poly1305 decrypt", crypto_open_ns))
    return rows


def main() -> int:
    global CLOCK
    if sys.argv[1:] == ["--cpu-time"]:
        CLOCK = time.process_time_ns
    elif sys.argv[1:]:
        sys.exit(__doc__)
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

        seal_ns, nacl_seal_ns, open_ns, nacl_open_ns = interleaved_medians(
            [mqseal_seal, nacl_seal, mqseal_open, nacl_open], CALLS)
        rows.append((f"seal {size} B", seal_ns, "PyNaCl encrypt + random nonce", nacl_seal_ns))
        rows.append((f"open {size} B", open_ns, "PyNaCl decrypt", nacl_open_ns))
    if ChaCha20Poly1305 is not None:
        rows += bulk_rows(policy, keys, sealer)

    versions = f"PyNaCl {nacl.__version__}"
    if ChaCha20Poly1305 is not None:
        versions += f", cryptography {cryptography.__version__}"
    print(f"# Python {sys.version.split()[0]}, mqseal {mqseal.__version__}, {versions}; "
          f"medians ({'CPU' if CLOCK is time.process_time_ns else 'real'} time) of {REPEATS} alternating "
          f"rounds of {CALLS} calls (bulk: of {BULK_BYTES_PER_ROUND // 4 // 1024 // 1024} MiB)")
    print("| mqseal | ns/call | baseline | ns/call | ratio | target |")
    print("|---|---:|---|---:|---:|---|")
    for name, ours, baseline, theirs in rows:
        ratio = ours / theirs
        print(f"| {name} | {ours:.0f} | {baseline} | {theirs:.0f} | {ratio:.3f} | "
              f"<= 1.0 ({'met' if ratio <= 1.0 else 'MISSED'}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
