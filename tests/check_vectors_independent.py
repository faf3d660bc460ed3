#!/usr/bin/env python3
"""Independent implementation of the mqseal envelope v1 format, checked
against the known-answer vectors.

Written from docs/SPEC.md alone, without reading the C++ sources, to show
that the specification is enough to interoperate. It doubles as a reference
for implementers in other languages, so it follows the spec's structure and
names (section numbers in comments) rather than chasing performance.

Usage: python3 tests/check_vectors_independent.py [PATH_TO_JSON]

Dependencies: Python 3.11 standard library, plus the system libsodium loaded
through ctypes for XChaCha20-Poly1305 only. The topic-key derivation uses
hashlib's BLAKE2b, so that half of the crypto is independent of libsodium.

Exit status 0 only if every vector and self-check passed and at least
MIN_VECTORS vectors were checked (so an empty or truncated file cannot pass).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

MIN_VECTORS = 25

# --------------------------------------------------------------------------
# Section 10: errors. Only the stable names matter across languages.
# --------------------------------------------------------------------------

ERROR_NAMES = (
    "invalid_argument", "invalid_topic", "invalid_filter", "no_rule",
    "malformed", "unsupported_version", "unsupported_suite", "unknown_key",
    "key_retired", "wrong_key_for_topic", "authentication_failed",
    "duplicate", "replay", "expired", "not_yet_valid", "retained_refused",
    "payload_too_large", "io_error", "insecure_permissions", "parse_error",
    "crypto_failure", "nonce_exhausted", "no_primary_key", "buffer_too_small",
)


class MqsealError(Exception):
    """An outcome other than success, identified by its section-10 name."""

    def __init__(self, name: str, detail: str = ""):
        assert name in ERROR_NAMES, name
        super().__init__(f"{name}: {detail}" if detail else name)
        self.name = name


# --------------------------------------------------------------------------
# Section 4 constants.
# --------------------------------------------------------------------------

VERSION = 0x01
SUITE_XCHACHA_TOPIC_KEY = 0x01
HEADER_LEN = 38          # version .. sequence
AD_PREFIX_LEN = 14       # version, suite, key_id, timestamp_ms
TAG_LEN = 16
MIN_ENVELOPE = HEADER_LEN + TAG_LEN   # 54: the empty payload
MAX_ENVELOPE = 268435455              # MQTT's largest packet
SENDER_LEN = 16
KEY_LEN = 32
U64_MAX = 2**64 - 1
TOPIC_KEY_PERSONAL = b"mqseal topic key"   # exactly 16 bytes, section 3

# --------------------------------------------------------------------------
# Section 2: topic names, filters, matching, precedence.
# --------------------------------------------------------------------------


def _utf8_checked(text: str | bytes, error: str) -> tuple[str, bytes]:
    """Return (str, UTF-8 bytes) if `text` is 1..65535 bytes of well-formed
    UTF-8 without U+0000, else raise `error`.

    Bytes are decoded strictly, which rejects overlong forms and encoded
    surrogates; a str is encoded strictly, which rejects lone surrogates
    (JSON can smuggle those in). The spec only forbids U+0000, so the control
    characters MQTT 1.5.3 says SHOULD NOT appear are accepted here.
    """
    try:
        if isinstance(text, bytes):
            raw, s = text, text.decode("utf-8", errors="strict")
        else:
            s, raw = text, text.encode("utf-8", errors="strict")
    except UnicodeError as exc:
        raise MqsealError(error, f"not well-formed UTF-8: {exc}") from None
    if not 1 <= len(raw) <= 65535:
        raise MqsealError(error, f"length {len(raw)} bytes, not 1..65535")
    if "\x00" in s:
        raise MqsealError(error, "contains U+0000")
    return s, raw


def validate_topic(topic: str | bytes) -> tuple[str, bytes]:
    """A concrete topic name: valid UTF-8 and no wildcard characters."""
    s, raw = _utf8_checked(topic, "invalid_topic")
    if "+" in s or "#" in s:
        raise MqsealError("invalid_topic", "wildcard in a topic name")
    return s, raw


def validate_filter(flt: str) -> list[str]:
    """A topic filter: `+` only as a whole level, `#` only as the whole last
    level. Returns its levels."""
    s, _ = _utf8_checked(flt, "invalid_filter")
    levels = s.split("/")
    for i, level in enumerate(levels):
        if ("+" in level or "#" in level) and level not in ("+", "#"):
            raise MqsealError("invalid_filter", f"wildcard inside level {level!r}")
        if level == "#" and i != len(levels) - 1:
            raise MqsealError("invalid_filter", "'#' is not the last level")
    return levels


def filter_matches(filter_levels: list[str], topic: str) -> bool:
    """MQTT matching. Empty levels (as in `a//b` or `a/`) are ordinary
    literal levels, because "/" always separates levels in MQTT."""
    topic_levels = topic.split("/")
    # Wildcards at the first level must not expose $SYS-style topics.
    if topic.startswith("$") and filter_levels[0] in ("+", "#"):
        return False
    for i, f in enumerate(filter_levels):
        if f == "#":
            # Levels 0..i-1 matched, so the topic has at least i levels:
            # `#` covers the parent level (`a/#` matches `a`) and below.
            return True
        if i >= len(topic_levels):
            return False
        if f != "+" and f != topic_levels[i]:
            return False
    return len(filter_levels) == len(topic_levels)


# Precedence ranks: the filter ended (exact match so far) 0, literal 1, + 2, # 3.
_RANK_END, _RANK_LITERAL, _RANK_PLUS, _RANK_HASH = 0, 1, 2, 3


def _level_rank(level: str) -> int:
    return {"+": _RANK_PLUS, "#": _RANK_HASH}.get(level, _RANK_LITERAL)


def specificity_key(filter_levels: list[str], depth: int) -> tuple[int, ...]:
    """A sort key such that, among filters matching one topic, the smallest
    key is the spec's winner. Padding with _RANK_END to a common `depth`
    turns "compare level by level, first differing kind decides, an ended
    filter ranks 0" into plain lexicographic tuple comparison."""
    ranks = [_level_rank(level) for level in filter_levels]
    return tuple(ranks + [_RANK_END] * (depth - len(ranks)))


KEY_NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")


@dataclass(frozen=True)
class Rule:
    filter: str
    key_name: Optional[str]        # None means the rule is *plaintext*
    levels: tuple[str, ...] = field(compare=False, repr=False)

    @property
    def plaintext(self) -> bool:
        return self.key_name is None


class Policy:
    def __init__(self, rules: list[tuple[str, Optional[str]]]):
        """`rules`: (filter, key name) pairs, key name None for plaintext."""
        self.rules: list[Rule] = []
        seen: set[str] = set()
        for flt, key_name in rules:
            levels = validate_filter(flt)
            if key_name is not None and not KEY_NAME_RE.fullmatch(key_name):
                raise MqsealError("invalid_argument", f"bad key name {key_name!r}")
            # Two matching filters with identical kinds are textually equal,
            # so "a filter twice" is exactly a repeated filter string. The
            # spec names no error for it; invalid_argument is our guess.
            if flt in seen:
                raise MqsealError("invalid_argument", f"filter {flt!r} given twice")
            seen.add(flt)
            self.rules.append(Rule(flt, key_name, tuple(levels)))

    @classmethod
    def from_json(cls, items: list[dict]) -> "Policy":
        rules = []
        for item in items:
            if set(item) == {"filter", "key"}:
                rules.append((item["filter"], item["key"]))
            elif set(item) == {"filter", "plaintext"} and item["plaintext"] is True:
                rules.append((item["filter"], None))
            else:
                # Same stance as the TOML policy file (section 9): anything
                # unexpected is an error, never a silent plaintext rule.
                raise MqsealError("parse_error", f"bad rule {item!r}")
        return cls(rules)

    def resolve(self, topic: str | bytes) -> tuple[Rule, str, bytes]:
        """Section 2: the winning rule for a concrete topic, or
        invalid_topic / no_rule (fail closed)."""
        s, raw = validate_topic(topic)
        matching = [r for r in self.rules if filter_matches(list(r.levels), s)]
        if not matching:
            raise MqsealError("no_rule", s)
        depth = max(len(r.levels) for r in matching)
        # Distinct matching filters always differ in kind somewhere (see
        # Policy.__init__), so min() never has to break a tie.
        best = min(matching, key=lambda r: specificity_key(list(r.levels), depth))
        return best, s, raw


# --------------------------------------------------------------------------
# Section 1: keyring.
# --------------------------------------------------------------------------

STATES = ("primary", "active", "retired")


@dataclass
class Key:
    key_id: int
    name: str
    state: str
    material: Optional[bytes]   # None for retired keys: only the ID is kept


class Keyring:
    def __init__(self) -> None:
        self._by_id: dict[int, Key] = {}

    def add(self, key_id: int, name: str, state: str, material: Optional[bytes]) -> None:
        if not 0 < key_id <= 0xFFFFFFFF:
            raise MqsealError("invalid_argument", f"key ID {key_id} not in 1..2^32-1")
        if key_id in self._by_id:
            raise MqsealError("invalid_argument", f"duplicate key ID {key_id:08x}")
        if not KEY_NAME_RE.fullmatch(name):
            raise MqsealError("invalid_argument", f"bad key name {name!r}")
        if state not in STATES:
            raise MqsealError("invalid_argument", f"bad state {state!r}")
        if state == "primary" and self.primary(name) is not None:
            raise MqsealError("invalid_argument", f"second primary for {name!r}")
        if state == "retired":
            # "retired keys open nothing (only their ID is kept)": drop any
            # material offered, so it cannot be used by mistake.
            material = None
        elif material is None or len(material) != KEY_LEN:
            raise MqsealError("invalid_argument", f"key {key_id:08x} needs 32 bytes")
        self._by_id[key_id] = Key(key_id, name, state, material)

    @classmethod
    def from_json(cls, items: list[dict]) -> "Keyring":
        ring = cls()
        for item in items:
            material = item.get("material")
            ring.add(int(item["id"]), item["name"], item["state"],
                     bytes.fromhex(material) if material else None)
        return ring

    def get(self, key_id: int) -> Optional[Key]:
        return self._by_id.get(key_id)

    def primary(self, name: str) -> Optional[Key]:
        for key in self._by_id.values():
            if key.name == name and key.state == "primary":
                return key
        return None


# --------------------------------------------------------------------------
# Sections 3 and 4: topic key, associated data, AEAD.
# --------------------------------------------------------------------------


def derive_topic_key(key: bytes, topic_bytes: bytes) -> bytes:
    # hashlib's default salt is 16 zero bytes, which is what the spec asks for;
    # spelling it out keeps the reader from having to know that.
    return hashlib.blake2b(topic_bytes, digest_size=32, key=key,
                           salt=bytes(16), person=TOPIC_KEY_PERSONAL).digest()


def associated_data(envelope_prefix: bytes, topic_bytes: bytes) -> bytes:
    """ad = envelope[0..14) || u16(len(T)) || T; the nonce is left out
    because the AEAD already authenticates it as its nonce."""
    assert len(envelope_prefix) == AD_PREFIX_LEN
    return envelope_prefix + len(topic_bytes).to_bytes(2, "big") + topic_bytes


def _load_sodium() -> ctypes.CDLL:
    path = ctypes.util.find_library("sodium") or "libsodium.so.23"
    lib = ctypes.CDLL(path)
    if lib.sodium_init() < 0:
        raise RuntimeError("sodium_init failed")
    ull, buf = ctypes.c_ulonglong, ctypes.c_char_p
    # Signatures from <sodium/crypto_aead_xchacha20poly1305.h>; declaring them
    # stops ctypes from truncating the 64-bit lengths to int.
    lib.crypto_aead_xchacha20poly1305_ietf_encrypt.argtypes = [
        buf, ctypes.POINTER(ull), buf, ull, buf, ull, buf, buf, buf]
    lib.crypto_aead_xchacha20poly1305_ietf_encrypt.restype = ctypes.c_int
    lib.crypto_aead_xchacha20poly1305_ietf_decrypt.argtypes = [
        buf, ctypes.POINTER(ull), buf, buf, ull, buf, ull, buf, buf]
    lib.crypto_aead_xchacha20poly1305_ietf_decrypt.restype = ctypes.c_int
    return lib


_sodium = _load_sodium()


def aead_encrypt(key: bytes, nonce: bytes, ad: bytes, plaintext: bytes) -> bytes:
    assert len(key) == KEY_LEN and len(nonce) == 24
    out = ctypes.create_string_buffer(len(plaintext) + TAG_LEN)
    out_len = ctypes.c_ulonglong(0)
    rc = _sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        out, ctypes.byref(out_len), plaintext, len(plaintext),
        ad, len(ad), None, nonce, key)
    if rc != 0:
        raise MqsealError("crypto_failure", "encrypt")
    return out.raw[:out_len.value]


def aead_decrypt(key: bytes, nonce: bytes, ad: bytes, ciphertext_tag: bytes) -> bytes:
    assert len(key) == KEY_LEN and len(nonce) == 24
    # At least one byte: an empty payload is a real case, and a real buffer
    # spares us relying on libsodium accepting a NULL output pointer.
    out = ctypes.create_string_buffer(max(1, len(ciphertext_tag) - TAG_LEN))
    out_len = ctypes.c_ulonglong(0)
    rc = _sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
        out, ctypes.byref(out_len), None, ciphertext_tag, len(ciphertext_tag),
        ad, len(ad), nonce, key)
    if rc != 0:
        raise MqsealError("authentication_failed")
    return out.raw[:out_len.value]


@dataclass(frozen=True)
class Header:
    version: int
    suite: int
    key_id: int
    timestamp_ms: int
    sender: bytes
    sequence: int

    def encode(self) -> bytes:
        return (bytes([self.version, self.suite])
                + self.key_id.to_bytes(4, "big")
                + self.timestamp_ms.to_bytes(8, "big")
                + self.sender
                + self.sequence.to_bytes(8, "big"))

    @property
    def nonce(self) -> bytes:
        return self.sender + self.sequence.to_bytes(8, "big")


def parse_header(envelope: bytes) -> Header:
    """Step 2 of opening. Length first: a reader must not index into a short
    buffer to read the version; then version, then suite."""
    if not MIN_ENVELOPE <= len(envelope) <= MAX_ENVELOPE:
        raise MqsealError("malformed", f"{len(envelope)} bytes")
    if envelope[0] != VERSION:
        raise MqsealError("unsupported_version", str(envelope[0]))
    if envelope[1] != SUITE_XCHACHA_TOPIC_KEY:
        raise MqsealError("unsupported_suite", str(envelope[1]))
    return Header(
        version=envelope[0],
        suite=envelope[1],
        key_id=int.from_bytes(envelope[2:6], "big"),
        timestamp_ms=int.from_bytes(envelope[6:14], "big"),
        sender=bytes(envelope[14:30]),
        sequence=int.from_bytes(envelope[30:38], "big"),
    )


# --------------------------------------------------------------------------
# Sections 4 and 5: sealing.
# --------------------------------------------------------------------------


@dataclass
class SealResult:
    data: bytes
    sealed: bool     # False: a plaintext rule passed the payload through


class Sealer:
    """A sealing session: one random `sender`, one sequence counter.

    `sender` and `first_sequence` are injectable only so the known-answer
    vectors can be reproduced; a real session draws the sender from the
    CSPRNG and starts at 0. (Python cannot honour the spec's fork() rule
    portably, so this reference does not try.)
    """

    def __init__(self, policy: Policy, keyring: Keyring, *,
                 sender: Optional[bytes] = None, first_sequence: int = 0,
                 clock_ms: Optional[Callable[[], int]] = None):
        self.policy, self.keyring = policy, keyring
        self.sender = sender if sender is not None else os.urandom(SENDER_LEN)
        assert len(self.sender) == SENDER_LEN
        self.next_sequence = first_sequence
        self.clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)

    def seal(self, topic: str | bytes, payload: bytes, *,
             timestamp_ms: Optional[int] = None,
             key_id: Optional[int] = None) -> SealResult:
        """Seal `payload` for `topic` under the rule's primary key.

        `key_id` overrides the primary with another usable key of the same
        name; the vectors need it for "sealed before the rotation" messages.
        """
        rule, _, topic_bytes = self.policy.resolve(topic)
        if rule.plaintext:
            return SealResult(bytes(payload), sealed=False)
        if key_id is None:
            key = self.keyring.primary(rule.key_name)
            if key is None:
                raise MqsealError("no_primary_key", rule.key_name)
        else:
            key = self._usable_key(key_id, rule.key_name)
        if MIN_ENVELOPE + len(payload) > MAX_ENVELOPE:
            raise MqsealError("payload_too_large", f"{len(payload)} bytes")
        # 2^64-1 envelopes sealed (sequences 0 .. 2^64-2) means the counter
        # now reads 2^64-1: that value is never used as a sequence.
        if self.next_sequence >= U64_MAX:
            raise MqsealError("nonce_exhausted")
        header = Header(VERSION, SUITE_XCHACHA_TOPIC_KEY, key.key_id,
                        self.clock_ms() if timestamp_ms is None else timestamp_ms,
                        self.sender, self.next_sequence)
        self.next_sequence += 1
        prefix = header.encode()
        body = aead_encrypt(derive_topic_key(key.material, topic_bytes), header.nonce,
                            associated_data(prefix[:AD_PREFIX_LEN], topic_bytes),
                            bytes(payload))
        return SealResult(prefix + body, sealed=True)

    def _usable_key(self, key_id: int, name: str) -> Key:
        key = self.keyring.get(key_id)
        if key is None:
            raise MqsealError("unknown_key", f"{key_id:08x}")
        if key.state == "retired":
            raise MqsealError("key_retired", f"{key_id:08x}")
        if key.name != name:
            raise MqsealError("wrong_key_for_topic", f"{key_id:08x}")
        return key


# --------------------------------------------------------------------------
# Section 6: replay guard.
# --------------------------------------------------------------------------

WINDOW = 1024
_WINDOW_MASK = (1 << WINDOW) - 1


@dataclass
class ReplayConfig:
    max_age_ms: int = 300_000
    max_future_skew_ms: int = 60_000
    retained_policy: str = "accept"     # "accept" (within age) or "refuse"
    retained_max_age_ms: int = 604_800_000
    max_senders: int = 4096


@dataclass
class _SenderState:
    top: int
    bitmap: int        # bit i set <=> sequence top - i was accepted
    newest_ts: int
    last_seen: int     # receiver time of the last accepted message


class ReplayGuard:
    def __init__(self, config: ReplayConfig):
        self.cfg = config
        self.senders: dict[bytes, _SenderState] = {}
        # No sender evicted yet: nothing to compare against. The spec does
        # not give the initial watermark; starting at "none" (rather than 0)
        # only differs for a message stamped exactly 0 ms.
        self.watermark: Optional[int] = None

    def check(self, h: Header, now_ms: int, retained: bool) -> None:
        """Raise unless the authenticated envelope with header `h` is fresh;
        on success, record it. Arithmetic is on unbounded integers: `now -
        timestamp` is negative for a message from slightly in the future,
        which must not wrap to "very old"."""
        cfg = self.cfg
        age = now_ms - h.timestamp_ms
        if h.timestamp_ms > now_ms + cfg.max_future_skew_ms:
            raise MqsealError("not_yet_valid")
        if retained:
            if cfg.retained_policy == "refuse":
                raise MqsealError("retained_refused")
            if age > cfg.retained_max_age_ms:
                raise MqsealError("expired")
            return   # the window is neither consulted nor updated
        if age > cfg.max_age_ms:
            raise MqsealError("expired")

        st = self.senders.get(h.sender)
        if st is None:
            if self.watermark is not None and h.timestamp_ms <= self.watermark:
                raise MqsealError("replay", "unknown sender below the watermark")
            self._make_room(now_ms)
            # The first sequence counts as seen (bit 0), or a redelivery of
            # this very message would be accepted a second time.
            self.senders[h.sender] = _SenderState(h.sequence, 1, h.timestamp_ms, now_ms)
            return
        if h.sequence > st.top:
            st.bitmap = ((st.bitmap << (h.sequence - st.top)) | 1) & _WINDOW_MASK
            st.top = h.sequence
        elif st.top - h.sequence >= WINDOW:
            raise MqsealError("replay")
        elif st.bitmap >> (st.top - h.sequence) & 1:
            raise MqsealError("duplicate")
        else:
            st.bitmap |= 1 << (st.top - h.sequence)
        st.newest_ts = max(st.newest_ts, h.timestamp_ms)
        st.last_seen = now_ms

    def _make_room(self, now_ms: int) -> None:
        """Bounded memory. Not exercised by the vectors (each uses a fresh
        receiver); "older than max_age_ms" is read as now - newest > max_age,
        and "least recently seen" as least recently accepted."""
        if len(self.senders) < self.cfg.max_senders:
            return
        stale = [s for s, st in self.senders.items()
                 if now_ms - st.newest_ts > self.cfg.max_age_ms]
        for s in stale:
            del self.senders[s]
        if stale:
            return
        victim = min(self.senders, key=lambda s: self.senders[s].last_seen)
        ts = self.senders.pop(victim).newest_ts
        self.watermark = ts if self.watermark is None else max(self.watermark, ts)


# --------------------------------------------------------------------------
# Section 4: opening.
# --------------------------------------------------------------------------


@dataclass
class OpenResult:
    payload: bytes
    sealed: bool                  # False: a plaintext rule passed E through
    header: Optional[Header] = None


class Opener:
    def __init__(self, policy: Policy, keyring: Keyring, config: ReplayConfig):
        self.policy, self.keyring = policy, keyring
        self.guard = ReplayGuard(config)

    def open(self, topic: str | bytes, envelope: bytes, *, now_ms: int,
             retained: bool = False) -> OpenResult:
        envelope = bytes(envelope)
        # 1. Policy first: an invalid or uncovered topic is refused whatever
        #    the bytes look like.
        rule, _, topic_bytes = self.policy.resolve(topic)
        if rule.plaintext:
            return OpenResult(envelope, sealed=False)
        # 2. Header.
        h = parse_header(envelope)
        # 3. Key. ID 0 is never in a keyring, so it lands in unknown_key.
        #    When a key is both retired and of another name, key_retired is
        #    reported: the spec lists it first but does not say which wins.
        key = self.keyring.get(h.key_id)
        if key is None:
            raise MqsealError("unknown_key", f"{h.key_id:08x}")
        if key.state == "retired":
            raise MqsealError("key_retired", f"{h.key_id:08x}")
        if key.name != rule.key_name:
            raise MqsealError("wrong_key_for_topic",
                              f"{h.key_id:08x} is {key.name!r}, rule wants {rule.key_name!r}")
        # 4. Authenticate and decrypt, with ad built from the topic we
        #    received on, so a moved envelope fails here.
        payload = aead_decrypt(derive_topic_key(key.material, topic_bytes), h.nonce,
                               associated_data(envelope[:AD_PREFIX_LEN], topic_bytes),
                               envelope[HEADER_LEN:])
        # 5. Freshness only for authentic envelopes: an attacker must not be
        #    able to advance the replay window with forged headers.
        self.guard.check(h, now_ms, retained)
        return OpenResult(payload, sealed=True, header=h)


# --------------------------------------------------------------------------
# Checking the vectors.
# --------------------------------------------------------------------------


def _bytes_diff(got: bytes, want: bytes) -> str:
    if len(got) != len(want):
        return f"length {len(got)}, expected {len(want)}"
    i = next(i for i, (a, b) in enumerate(zip(got, want)) if a != b)
    return (f"first difference at byte {i}: got {got[i:i + 8].hex()}..., "
            f"expected {want[i:i + 8].hex()}...")


class Runner:
    def __init__(self, doc: dict):
        self.keyring = Keyring.from_json(doc["keys"])
        self.policy = Policy.from_json(doc["policy"])
        # Missing settings take the spec's defaults ("the defaults above").
        self.config = ReplayConfig(**doc.get("replay", {}))
        self.vectors = doc["vectors"]
        self.passed = self.failed = 0
        self.vectors_passed = 0

    def fresh_opener(self) -> Opener:
        return Opener(self.policy, self.keyring, self.config)

    def record(self, name: str, problems: list[str], *, vector: bool) -> None:
        if problems:
            self.failed += 1
            for p in problems:
                print(f"FAIL {name}: {p}")
        else:
            self.passed += 1
            self.vectors_passed += vector

    def open_vector(self, v: dict) -> OpenResult:
        o = v["open"]
        return self.fresh_opener().open(o["topic"], bytes.fromhex(v["envelope"]),
                                        now_ms=o["now_ms"], retained=o["retained"])

    def check_ok_vector(self, v: dict) -> list[str]:
        problems = []
        topic, payload = v["topic"], bytes.fromhex(v["payload"])
        envelope = bytes.fromhex(v["envelope"])
        topic_bytes = topic.encode("utf-8")

        key = self.keyring.get(v["key_id"])
        if key is None or key.material is None:
            return [f"key {v['key_id']} has no usable material in 'keys'"]
        tk = derive_topic_key(key.material, topic_bytes)
        if tk.hex() != v["topic_key"]:
            problems.append(f"topic_key {tk.hex()}, expected {v['topic_key']}")

        prefix = Header(VERSION, SUITE_XCHACHA_TOPIC_KEY, v["key_id"], v["timestamp_ms"],
                        bytes(SENDER_LEN), 0).encode()[:AD_PREFIX_LEN]
        ad = associated_data(prefix, topic_bytes)
        if ad.hex() != v["associated_data"]:
            problems.append(f"associated_data {ad.hex()}, expected {v['associated_data']}")

        sealer = Sealer(self.policy, self.keyring, sender=bytes.fromhex(v["sender"]),
                        first_sequence=v["sequence"])
        try:
            sealed = sealer.seal(topic, payload, timestamp_ms=v["timestamp_ms"],
                                 key_id=v["key_id"])
            if not sealed.sealed:
                problems.append("seal: topic passed through as plaintext")
            elif sealed.data != envelope:
                problems.append("seal: envelope differs, " + _bytes_diff(sealed.data, envelope))
        except MqsealError as e:
            problems.append(f"seal: {e}")

        try:
            opened = self.open_vector(v)
            if not opened.sealed:
                problems.append("open: passed through as plaintext")
            elif opened.payload != payload:
                problems.append("open: payload differs, " + _bytes_diff(opened.payload, payload))
        except MqsealError as e:
            problems.append(f"open: refused with {e.name} ({e})")
        return problems

    def check_error_vector(self, v: dict) -> list[str]:
        try:
            self.open_vector(v)
        except MqsealError as e:
            return [] if e.name == v["expect"] else [f"got {e.name}, expected {v['expect']} ({e})"]
        return [f"opened successfully, expected {v['expect']}"]

    def run_vectors(self) -> None:
        for v in self.vectors:
            name = v.get("name", "?")
            try:
                if v["expect"] == "ok":
                    problems = self.check_ok_vector(v)
                elif v["expect"] in ERROR_NAMES:
                    problems = self.check_error_vector(v)
                else:
                    problems = [f"unknown expect {v['expect']!r}"]
            except (KeyError, ValueError, TypeError) as e:
                problems = [f"vector unusable: {type(e).__name__}: {e}"]
            self.record(name, problems, vector=True)

    # ---------------------------------------------------------------------
    # Self-checks: each would fail if the corresponding code were a stub.
    # ---------------------------------------------------------------------

    def _ok(self, name: str) -> dict:
        return next(v for v in self.vectors if v["name"] == name and v["expect"] == "ok")

    def _expect_error(self, fn: Callable[[], object], name: str) -> list[str]:
        try:
            fn()
        except MqsealError as e:
            return [] if e.name == name else [f"got {e.name}, expected {name}"]
        return [f"succeeded, expected {name}"]

    def self_checks(self) -> None:
        checks = [
            ("self:precedence-examples", self.sc_precedence),
            ("self:dollar-topics", self.sc_dollar),
            ("self:validation", self.sc_validation),
            ("self:every-byte-authenticated", self.sc_flip_every_byte),
            ("self:error-order", self.sc_error_order),
            ("self:plaintext-passthrough", self.sc_plaintext),
            ("self:seal-uses-primary", self.sc_primary),
            ("self:nonce-exhaustion", self.sc_exhaustion),
            ("self:replay-window", self.sc_window),
            ("self:retained-and-refuse", self.sc_retained),
            ("self:eviction-watermark", self.sc_eviction),
        ]
        for name, fn in checks:
            try:
                problems = fn()
            except Exception as e:   # a crash is a failed check, not an abort
                problems = [f"raised {type(e).__name__}: {e}"]
            self.record(name, problems, vector=False)

    def sc_precedence(self) -> list[str]:
        """Section 2's own examples, with both rule orders (order must not
        matter) and with the losing filter deliberately mapped elsewhere."""
        problems = []
        cases = [("plant/7/cmd/valve", "plant/7/#", "plant/+/cmd/#"),
                 ("plant/7/cmd/valve", "plant/+/cmd/#", "plant/#"),
                 ("a", "a", "a/#"),
                 # Not in the spec's text, but follow from the rank table.
                 ("a/b", "a/+", "a/#"),
                 ("a/b", "a/#", "+/b")]
        for topic, winner, loser in cases:
            for order in ((winner, loser), (loser, winner)):
                pol = Policy([(f, "win" if f == winner else "lose") for f in order])
                rule, _, _ = pol.resolve(topic)
                if rule.filter != winner:
                    problems.append(f"{topic}: {rule.filter} won over {winner} (order {order})")
        # Sanity of the matcher itself, so precedence is not vacuous.
        for flt, topic, want in [("plant/+/cmd/#", "plant/7/cmd", True),
                                 ("plant/+/telemetry", "plant/7/telemetry/x", False),
                                 ("a/+", "a", False), ("a/+", "a/", True),
                                 ("#", "x/y/z", True), ("a/#", "ab", False)]:
            if filter_matches(validate_filter(flt), topic) != want:
                problems.append(f"match({flt!r}, {topic!r}) != {want}")
        return problems

    def sc_dollar(self) -> list[str]:
        pol = Policy([("#", "k"), ("+/x", "k2"), ("$SYS/#", "sys")])
        problems = []
        if pol.resolve("$SYS/x")[0].filter != "$SYS/#":
            problems.append("$SYS/x not resolved to $SYS/#")
        problems += self._expect_error(lambda: pol.resolve("$other/x"), "no_rule")
        if pol.resolve("other/x")[0].filter != "+/x":
            problems.append("other/x not resolved to +/x")
        return problems

    def sc_validation(self) -> list[str]:
        problems = []
        for bad in ["", "a/+", "a/#", "a\x00b", "x" * 65536, b"\xc3\x28", b"\xed\xa0\x80"]:
            problems += [f"topic {bad!r:.20}: {p}" for p in
                         self._expect_error(lambda b=bad: validate_topic(b), "invalid_topic")]
        for bad in ["a/b+", "a/#/b", "#a", ""]:
            problems += [f"filter {bad!r}: {p}" for p in
                         self._expect_error(lambda b=bad: validate_filter(b), "invalid_filter")]
        validate_topic("x" * 65535)   # the upper bound itself is allowed
        return problems

    def sc_flip_every_byte(self) -> list[str]:
        """Every bit of the timestamp, sender, sequence, ciphertext and tag is
        covered: flipping any one of them must fail authentication (not a
        later, weaker check)."""
        v = self._ok("short")
        env = bytearray.fromhex(v["envelope"])
        o = v["open"]
        problems = []
        for i in range(6, len(env)):
            for bit in range(8):
                env[i] ^= 1 << bit
                problems += [f"byte {i} bit {bit}: {p}" for p in self._expect_error(
                    lambda: self.fresh_opener().open(o["topic"], env, now_ms=o["now_ms"]),
                    "authentication_failed")]
                env[i] ^= 1 << bit
        # And the untouched envelope still opens, so the loop was not
        # passing merely because everything fails.
        if self.fresh_opener().open(o["topic"], env, now_ms=o["now_ms"]).payload.hex() != v["payload"]:
            problems.append("unmodified envelope no longer opens")
        return problems

    def sc_error_order(self) -> list[str]:
        """Section 4's opening order, probed where two errors compete."""
        env = bytearray.fromhex(self._ok("short")["envelope"])
        now = self._ok("short")["open"]["now_ms"]
        op = self.fresh_opener()
        bad_header = bytes([2, 9]) + bytes(env[2:])
        cases = [
            ("plant/+/telemetry", bytes(10), "invalid_topic"),   # topic before length
            ("plant/7/status", bytes(10), "no_rule"),            # rule before length
            ("plant/7/telemetry", bad_header[:53], "malformed"),  # length before version
            ("plant/7/telemetry", bad_header, "unsupported_version"),
            ("plant/7/telemetry", bytes([1, 9]) + bytes(4) + bytes(env[6:]), "unsupported_suite"),
            ("plant/7/telemetry", bytes(env[:2]) + bytes(4) + bytes(env[6:]), "unknown_key"),
            # Key checks come before authentication: this is garbage, but
            # it names a retired key.
            ("plant/7/telemetry", bytes(env[:2]) + (3).to_bytes(4, "big") + bytes(60),
             "key_retired"),
            # Authentication comes before the age check: a stale forgery is
            # a forgery, not merely expired.
            ("plant/7/telemetry", bytes(env[:-1]) + bytes([env[-1] ^ 1]), "authentication_failed"),
        ]
        problems = []
        for topic, e, want in cases:
            problems += [f"{topic} / {len(e)} bytes: {p}" for p in self._expect_error(
                lambda: op.open(topic, e, now_ms=now + 10**9), want)]
        return problems

    def sc_plaintext(self) -> list[str]:
        blob = b"not an envelope"
        problems = []
        got = self.fresh_opener().open("public/news", blob, now_ms=0)
        if got.sealed or got.payload != blob:
            problems.append("open on a plaintext topic did not pass through")
        res = Sealer(self.policy, self.keyring).seal("public/news", blob)
        if res.sealed or res.data != blob:
            problems.append("seal on a plaintext topic did not pass through")
        problems += self._expect_error(
            lambda: Sealer(self.policy, self.keyring).seal("plant/7/status", blob), "no_rule")
        problems += self._expect_error(
            lambda: Sealer(Policy([("a/#", "nokey")]), self.keyring).seal("a/b", blob),
            "no_primary_key")
        return problems

    def sc_primary(self) -> list[str]:
        """Without an explicit key the primary (ID 2) is used, not the
        active key 1; and a fresh session round-trips through open."""
        problems = []
        sealer = Sealer(self.policy, self.keyring, clock_ms=lambda: 1_000_000)
        env = sealer.seal("plant/9/telemetry", b"hello").data
        h = parse_header(env)
        if h.key_id != 2 or h.sequence != 0 or h.timestamp_ms != 1_000_000:
            problems.append(f"unexpected header {h}")
        if sealer.seal("plant/9/telemetry", b"again").data[30:38] != (1).to_bytes(8, "big"):
            problems.append("sequence did not advance")
        if self.fresh_opener().open("plant/9/telemetry", env, now_ms=1_000_000).payload != b"hello":
            problems.append("round trip failed")
        return problems

    def sc_exhaustion(self) -> list[str]:
        """The 'large-sequence' vector is the last envelope a session may
        seal; the next attempt must be refused."""
        v = self._ok("large-sequence")
        sealer = Sealer(self.policy, self.keyring, sender=bytes.fromhex(v["sender"]),
                        first_sequence=v["sequence"])
        env = sealer.seal(v["topic"], bytes.fromhex(v["payload"]),
                          timestamp_ms=v["timestamp_ms"]).data
        problems = [] if env.hex() == v["envelope"] else ["primary-key seal differs from vector"]
        return problems + self._expect_error(
            lambda: sealer.seal(v["topic"], b"x", timestamp_ms=v["timestamp_ms"]),
            "nonce_exhausted")

    def sc_window(self) -> list[str]:
        """QoS 1 redelivery is a duplicate; a sequence a full window below
        the top is a replay; out-of-order within the window is accepted."""
        ts = 5_000_000
        sealer = Sealer(self.policy, self.keyring, clock_ms=lambda: ts)
        envs = [sealer.seal("plant/7/telemetry", b"%d" % i).data for i in range(3)]
        op = self.fresh_opener()
        problems = []
        op.open("plant/7/telemetry", envs[0], now_ms=ts)
        problems += self._expect_error(
            lambda: op.open("plant/7/telemetry", envs[0], now_ms=ts), "duplicate")
        op.open("plant/7/telemetry", envs[2], now_ms=ts)
        op.open("plant/7/telemetry", envs[1], now_ms=ts)   # late but in window
        problems += self._expect_error(
            lambda: op.open("plant/7/telemetry", envs[1], now_ms=ts), "duplicate")
        sealer.next_sequence = 2 + WINDOW   # jump the top so envs[2] falls out
        op.open("plant/7/telemetry", sealer.seal("plant/7/telemetry", b"top").data, now_ms=ts)
        problems += self._expect_error(
            lambda: op.open("plant/7/telemetry", envs[2], now_ms=ts), "replay")
        return problems

    def sc_retained(self) -> list[str]:
        v = self._ok("retained")
        env, o = bytes.fromhex(v["envelope"]), v["open"]
        problems = []
        op = self.fresh_opener()
        for _ in range(2):   # the window is not consulted for retained
            op.open(o["topic"], env, now_ms=o["now_ms"], retained=True)
        # The same envelope delivered live two days late is simply expired.
        problems += self._expect_error(
            lambda: op.open(o["topic"], env, now_ms=o["now_ms"]), "expired")
        refusing = Opener(self.policy, self.keyring,
                          ReplayConfig(**{**vars(self.config), "retained_policy": "refuse"}))
        problems += self._expect_error(
            lambda: refusing.open(o["topic"], env, now_ms=o["now_ms"], retained=True),
            "retained_refused")
        return problems

    def sc_eviction(self) -> list[str]:
        """With room for one sender, a second live sender evicts the first
        and raises the watermark: the first sender's accepted message can
        then not be replayed, and a newer message of it is accepted."""
        cfg = ReplayConfig(**{**vars(self.config), "max_senders": 1})
        op = Opener(self.policy, self.keyring, cfg)
        a = Sealer(self.policy, self.keyring, clock_ms=lambda: 1_000)
        b = Sealer(self.policy, self.keyring, clock_ms=lambda: 2_000)
        a1 = a.seal("plant/7/telemetry", b"a1").data
        op.open("plant/7/telemetry", a1, now_ms=2_000)
        op.open("plant/7/telemetry", b.seal("plant/7/telemetry", b"b1").data, now_ms=2_000)
        problems = self._expect_error(
            lambda: op.open("plant/7/telemetry", a1, now_ms=2_000), "replay")
        # The watermark is a's newest timestamp (1000), so a newer message
        # from a is welcome again.
        a.clock_ms = lambda: 1_500
        op.open("plant/7/telemetry", a.seal("plant/7/telemetry", b"a2").data, now_ms=2_000)
        return problems


def main(argv: list[str]) -> int:
    default = Path(__file__).resolve().parent / "vectors" / "envelope_v1.json"
    path = Path(argv[1]) if len(argv) > 1 else default
    try:
        runner = Runner(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError, MqsealError) as e:
        print(f"FAIL loading {path}: {type(e).__name__}: {e}")
        print("0 passed, 1 failed")
        return 1
    runner.run_vectors()
    runner.self_checks()
    # Counted as a failure of its own, so "0 failed" always means success.
    if runner.vectors_passed < MIN_VECTORS:
        runner.record("vector-count", [f"only {runner.vectors_passed} vectors passed, "
                                       f"need {MIN_VECTORS}"], vector=False)
    print(f"{runner.passed} passed, {runner.failed} failed")
    return 0 if runner.failed == 0 and runner.vectors_passed >= MIN_VECTORS else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
