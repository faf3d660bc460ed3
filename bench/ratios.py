#!/usr/bin/env python3
"""Prints the ratios of medians from a Google Benchmark JSON report.

Usage: ratios.py [--cpu-time] REPORT.json

The report must come from one run of mqseal_bench with repetitions, so that
every ratio compares figures measured side by side on the same machine.
--cpu-time takes the medians of CPU time instead of real time: on a shared
machine, time the benchmark's thread spent descheduled by other processes'
load is then left out (their effect on caches is not).
"""
import json
import sys

# (measured, baseline, target ratio or None) per payload size.
# Issue 12: seal and open within 1.1 x the bare OpenSSL EVP ChaCha20-Poly1305
# call from 16 KiB up (in a core built with OpenSSL; without it those rows are
# absent). Open against the bare call on as many distinct messages as BM_Open
# opens (BM_BareOpensslDecryptBatch): the single hot buffer of
# BM_BareOpensslDecrypt is also shown. The *Ad baselines authenticate as many
# bytes of associated data as suite 1 does on the benchmark's topic (45): the
# same AEAD work; the target is judged on both. BM_Open must pause its timing
# after each batch while the sender seals the next (the replay guard refuses
# an envelope opened before): BM_BareOpensslDecryptStreamAd pauses after the
# same number of messages and encrypts its batch again meanwhile. It is shown
# without a target, as what that harness step costs the bare call; a real
# subscriber pauses no timer, and the target stays judged on the two above.
BULK = {16384: 1.1, 65536: 1.1, 1048576: 1.1}
COMPARISONS = [
    ("BM_Seal", "BM_BareEncrypt", {64: 1.25, 65536: 1.05}),
    ("BM_SealRotatingTopics", "BM_BareEncrypt", {}),
    ("BM_Open", "BM_BareDecrypt", {64: 1.25, 65536: 1.05}),
    # Issue 11: what sharing the replay state through a store costs per message
    # (docs/PERFORMANCE.md, "Shared replay state"): no target, the price is shown.
    ("BM_OpenMemoryStore", "BM_Open", {}),
    ("BM_OpenFileStore", "BM_Open", {}),
    ("BM_OpenRedisStore", "BM_Open", {}),
    ("BM_BareEncryptRandomNonce", "BM_BareEncrypt", {}),
    ("BM_Seal", "BM_BareOpensslEncrypt", BULK),
    ("BM_Open", "BM_BareOpensslDecryptBatch", BULK),
    ("BM_Seal", "BM_BareOpensslEncryptAd", BULK),
    ("BM_Open", "BM_BareOpensslDecryptBatchAd", BULK),
    ("BM_Open", "BM_BareOpensslDecryptStreamAd", {}),
    ("BM_BareOpensslDecryptStreamAd", "BM_BareOpensslDecryptBatchAd", {}),
    # A receiver's first message (topic key, new stream) against its steady state.
    ("BM_OpenFirstMessage", "BM_Open", {}),
    ("BM_Open", "BM_BareOpensslDecrypt", {}),
    ("BM_BareOpensslEncrypt", "BM_BareEncrypt", {}),
    ("BM_BareOpensslDecrypt", "BM_BareDecrypt", {}),
    # Suite 5 (AES-256-GCM, for small messages: issue 12, target 4) against
    # the bare libsodium AES-256-GCM call (key expanded once, no associated
    # data) and against suite 1 at the same size; no target, the price is
    # shown (also in the suite 5 table below).
    ("BM_SealAes256Gcm", "BM_BareSodiumAesGcmEncrypt", {}),
    ("BM_OpenAes256Gcm", "BM_BareSodiumAesGcmDecrypt", {}),
    ("BM_SealAes256Gcm", "BM_Seal", {}),
    ("BM_OpenAes256Gcm", "BM_Open", {}),
    # ... and against the same AEAD work bare (the key expanded per call, as
    # suite 5's cached subkey is, and suite 5's 69 bytes of associated data):
    # what the rest of suite 5's path costs.
    ("BM_SealAes256Gcm", "BM_BareSodiumAesGcmEncryptRekeyAd", {}),
    ("BM_OpenAes256Gcm", "BM_BareSodiumAesGcmDecryptRekeyAd", {}),
]
SIZES = (64, 256, 1024, 16384, 65536, 1048576)
# mqseal's AEAD on each backend (BM_AeadBackend/<0 libsodium, 1 OpenSSL>/<size>):
# where OpenSSL starts to win, to check kOpensslMinSize in core/src/crypto/aead.h.
BACKEND_SIZES = (256, 512, 768, 1024, 1536, 2048, 4096)
# Issue 12, target 3 (docs/PERFORMANCE.md, "AES-256-GCM: measured, left
# out"): per size, suite 1 and the bare ChaCha20-Poly1305 calls against the
# fastest bare AES-256-GCM call (OpenSSL re-keyed per message or keyed once,
# libsodium keyed once); "how much faster" = the first over the fastest.
AES_GCM = [
    ("seal", "BM_Seal", "BM_BareOpensslEncrypt", "BM_BareEncrypt",
     ("BM_BareOpensslAesGcmEncrypt/{n}/0", "BM_BareOpensslAesGcmEncrypt/{n}/1", "BM_BareSodiumAesGcmEncrypt/{n}")),
    ("open", "BM_Open", "BM_BareOpensslDecrypt", "BM_BareDecrypt",
     ("BM_BareOpensslAesGcmDecrypt/{n}/0", "BM_BareOpensslAesGcmDecrypt/{n}/1", "BM_BareSodiumAesGcmDecrypt/{n}")),
]
# Suite 5 per size, seal and open: (what, suite 5, bare libsodium AES-256-GCM
# keyed once without associated data, the same re-keyed per call with suite
# 5's associated data, suite 1).
SUITE5 = [
    ("seal", "BM_SealAes256Gcm", "BM_BareSodiumAesGcmEncrypt", "BM_BareSodiumAesGcmEncryptRekeyAd", "BM_Seal"),
    ("open", "BM_OpenAes256Gcm", "BM_BareSodiumAesGcmDecrypt", "BM_BareSodiumAesGcmDecryptRekeyAd", "BM_Open"),
]
# Absolute targets (CONNECT tokens): (benchmark, what, limit in ns or None).
ABSOLUTE = [
    ("BM_MakeConnectToken", "token creation (device)", 5000),
    ("BM_VerifyConnectToken", "token verification (broker)", 20000),  # >= 50 000 per second
]


def medians(report, field="real_time"):
    out = {}
    for b in report["benchmarks"]:
        if b.get("aggregate_name") == "median":
            out[b["run_name"]] = b[field] if b["time_unit"] == "ns" else None
    if not out:
        sys.exit("ratios.py: no medians in the report: run with --benchmark_repetitions")
    return out


def print_aes_gcm(m):
    header = False
    for what, suite1, chacha, xchacha, aes in AES_GCM:
        for n in SIZES:
            candidates = [m.get(name.format(n=n)) for name in aes]
            candidates = [c for c in candidates if c is not None]
            a, c, x = m.get(f"{suite1}/{n}"), m.get(f"{chacha}/{n}"), m.get(f"{xchacha}/{n}")
            if not candidates or a is None:
                continue  # a core without OpenSSL still has libsodium's AES-256-GCM rows
            if not header:
                print()
                print("| what | size | suite 1 ns | bare OpenSSL ChaCha20-Poly1305 ns | bare libsodium XChaCha20 ns "
                      "| fastest bare AES-256-GCM ns | suite 1 / AES | ChaCha20 / AES |")
                print("|---|---:|---:|---:|---:|---:|---:|---:|")
                header = True
            fastest = min(candidates)
            cs, xs = (f"{v:.0f}" if v is not None else "" for v in (c, x))
            cr = f"{c / fastest:.3f}" if c is not None else ""
            print(f"| {what} | {n} | {a:.0f} | {cs} | {xs} | {fastest:.0f} | {a / fastest:.3f} | {cr} |")


def print_suite5(m):
    """Suite 5 against the bare libsodium AES-256-GCM call and against suite 1, per size measured."""
    rows = []
    for what, suite5, *others in SUITE5:
        for n in SIZES:
            a = m.get(f"{suite5}/{n}")
            if a is not None:
                rows.append((what, n, a, [m.get(f"{o}/{n}") for o in others]))
    if not rows:
        return  # not run, or skipped (no AES-NI: a skipped benchmark has no median)
    print()
    print("| suite 5 | size | suite 5 ns | bare AES-256-GCM ns (keyed once, no AD) "
          "| bare AES-256-GCM ns (re-keyed, suite 5's AD) | suite 1 ns "
          "| suite 5 / bare AES | suite 5 / bare AES re-keyed with AD | suite 5 / suite 1 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for what, n, a, others in rows:
        ns = " | ".join(f"{v:.0f}" if v is not None else "" for v in others)
        ratio = " | ".join(f"{a / v:.3f}" if v is not None else "" for v in others)
        print(f"| {what} | {n} | {a:.0f} | {ns} | {ratio} |")


def time_field(args):
    """(the report's field to take medians of, the arguments after --cpu-time if given)."""
    if args[:1] == ["--cpu-time"]:
        return "cpu_time", args[1:]
    return "real_time", args


def main():
    field, args = time_field(sys.argv[1:])
    if len(args) != 1:
        sys.exit(__doc__)
    with open(args[0]) as f:
        report = json.load(f)
    m = medians(report, field)
    ctx = report.get("context", {})
    print(f"# {ctx.get('date', '')} on {ctx.get('num_cpus', '?')} CPUs, "
          f"{ctx.get('library_build_type', '?')} google-benchmark; medians ({field}) of "
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
    backend_rows = [(n, m.get(f"BM_AeadBackend/0/{n}"), m.get(f"BM_AeadBackend/1/{n}")) for n in BACKEND_SIZES]
    backend_rows = [(n, a, b) for n, a, b in backend_rows if a is not None and b is not None]
    if backend_rows:
        print()
        print("| AEAD size | libsodium ns | OpenSSL ns | OpenSSL / libsodium |")
        print("|---:|---:|---:|---:|")
        for n, a, b in backend_rows:
            print(f"| {n} | {a:.0f} | {b:.0f} | {b / a:.3f} |")
    print_aes_gcm(m)
    print_suite5(m)
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
