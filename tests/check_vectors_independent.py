#!/usr/bin/env python3
"""Independent implementation of docs/SPEC.md, version 2 (envelope v2 and
v1, suite 2 signed sender, suite 5 AES-256-GCM, replay rules with per-key-name and per-signer
partitions and per-rule retained policies, policies, CONNECT tokens, the
keyring, credentials and policy files, records at rest), checked against
every known-answer vector in tests/vectors/.

Written from docs/SPEC.md alone, without reading the C++ sources, to show
that the specification is enough to interoperate. It doubles as a reference
for implementers in other languages, so it follows the spec's structure and
names (section numbers in comments) rather than chasing performance.
(The parts for tokens, files, records, policies and delivery sequences were
added by an author who had also read the C++ sources; everything they
implement is a rule stated in docs/SPEC.md, and where the spec was not
enough, the spec was completed, not this file.)

Usage: python3 tests/check_vectors_independent.py [VECTORS_DIRECTORY]

Dependencies: Python 3.11 standard library (tomllib reads policy files),
plus the system libsodium loaded through ctypes for XChaCha20-Poly1305,
Argon2id and the Ed25519 public key check only, and, when it is installed,
the `cryptography` package (OpenSSL) for Ed25519 signing and verification
(suite 2; without it, libsodium's) and for AES-256-GCM (suite 5, section 4e;
without it, libsodium's crypto_aead_aes256gcm_*, which needs AES-NI). The
output says which was used. Every BLAKE2b derivation uses hashlib, so that half of the
crypto is independent of libsodium.

Exit status 0 only if every vector and self-check passed and at least
MIN_VECTORS vectors were checked (so an empty or truncated file cannot pass).
"""

from __future__ import annotations

import base64
import ctypes
import ctypes.util
import hashlib
import hmac
import json
import os
import re
import sys
import time
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

MIN_VECTORS = 30       # envelope_v2.json
MIN_VECTORS_V1 = 20    # envelope_v1.json
MIN_VECTORS_V3 = 30    # envelope_v3.json (compact)
MIN_CHECKS_AES256GCM = 60   # aes256gcm_v1.json (suite 5): 51 vectors, 3 sequences, 8 policy files, 1 self-check

# --------------------------------------------------------------------------
# Section 12: errors. Only the stable names matter across languages.
# --------------------------------------------------------------------------

ERROR_NAMES = (
    "invalid_argument", "invalid_topic", "invalid_filter", "no_rule",
    "malformed", "unsupported_version", "unsupported_suite", "unknown_key",
    "key_retired", "wrong_key_for_topic", "authentication_failed",
    "duplicate", "replay", "expired", "not_yet_valid", "retained_refused",
    "payload_too_large", "io_error", "insecure_permissions", "parse_error",
    "crypto_failure", "nonce_exhausted", "no_primary_key",
    "transport_error", "unknown_user", "capacity_exceeded",
    "unknown_signer", "unauthorized_signer", "wrong_suite_for_topic",
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

VERSION_1 = 0x01         # read only: sealers MUST NOT write it
VERSION_2 = 0x02         # what every sealer writes
SUITE_XCHACHA_TOPIC_KEY = 0x01
FLAG_RETAIN = 0x01       # flags bit 0; bits 1-7 are 0
# Per version: header length (version .. sequence) and h, the offset of
# `sender`, which is also the length of the header's part of the AD.
HEADER_LEN = {VERSION_1: 38, VERSION_2: 39}
AD_PREFIX_LEN = {VERSION_1: 14, VERSION_2: 15}
TAG_LEN = 16
# Section 4d: envelope v3, compact. First byte: version 3 in the low 4 bits,
# flags in the high 4 (retain = 0x10). Header: first byte, key_id (4),
# time_s (3, seconds mod 2^24), session (8), sequence (4).
VERSION_3 = 0x03
HEADER_LEN_V3 = 20
AD_PREFIX_LEN_V3 = 8
SESSION_LEN = 8
TIME_MODULUS = 2**24
TIME_AHEAD = 2**20
MAX_SEQUENCE_V3 = 2**32 - 1
MIN_ENVELOPE = HEADER_LEN_V3 + TAG_LEN                # 36: checked before the version
MIN_ENVELOPE_V = {v: n + TAG_LEN for v, n in HEADER_LEN.items()}   # 54, 55
MAX_ENVELOPE = 268435455              # MQTT's largest remaining length
MAX_PAYLOAD = MAX_ENVELOPE - MIN_ENVELOPE_V[VERSION_2]   # larger: payload_too_large
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

# Sections 6 and 9: a rule's own treatment of messages sealed to be retained.
RULE_RETAINED_POLICIES = ("accept", "refuse")
DEFAULT_RETAINED_MAX_AGE_MS = 604_800_000     # seven days


@dataclass(frozen=True)
class RetainedRule:
    """A rule's `retained` ("accept" or "refuse") and, for "accept", its
    `retained_max_age_ms` (section 9: without one, seven days; NOT the
    receiver's default, see section 6)."""
    policy: str
    max_age_ms: int = DEFAULT_RETAINED_MAX_AGE_MS


def retained_fields_valid(item: dict) -> bool:
    """Section 9: `retained` is "accept" or "refuse"; `retained_max_age_ms`,
    a positive integer, only with "accept"."""
    if "retained" not in item:
        return "retained_max_age_ms" not in item
    if item["retained"] not in RULE_RETAINED_POLICIES:
        return False
    if "retained_max_age_ms" in item:
        ms = item["retained_max_age_ms"]
        return (item["retained"] == "accept" and type(ms) is int and 1 <= ms <= U64_MAX)
    return True


def retained_rule_of(item: dict) -> Optional[RetainedRule]:
    if "retained" not in item:
        return None
    return RetainedRule(item["retained"],
                        item.get("retained_max_age_ms", DEFAULT_RETAINED_MAX_AGE_MS))


@dataclass(frozen=True)
class Rule:
    filter: str
    key_name: Optional[str]        # None means the rule is *plaintext*
    levels: tuple[str, ...] = field(compare=False, repr=False)
    retained: Optional[RetainedRule] = None   # None: the receiver's defaults
    compact: bool = False                     # section 4d: envelope v3 only

    @property
    def plaintext(self) -> bool:
        return self.key_name is None


RuleSpec = tuple   # (filter, key name or None[, RetainedRule or None])


class Policy:
    def __init__(self, rules: list[RuleSpec]):
        """`rules`: (filter, key name) pairs, key name None for plaintext,
        optionally with a third element, the rule's RetainedRule."""
        self.rules: list[Rule] = []
        seen: set[str] = set()
        if len(rules) > 4096:     # section 9: more than 4096 rules is refused
            raise MqsealError("invalid_argument", "more than 4096 rules")
        for spec in rules:
            flt, key_name = spec[0], spec[1]
            retained = spec[2] if len(spec) > 2 else None
            compact = bool(spec[3]) if len(spec) > 3 else False
            if compact and key_name is None:
                raise MqsealError("invalid_argument", "a plaintext rule cannot be compact")
            levels = validate_filter(flt)
            if key_name is not None and not KEY_NAME_RE.fullmatch(key_name):
                raise MqsealError("invalid_argument", f"bad key name {key_name!r}")
            if retained is not None:
                # Section 9: only a rule with a key has a retained policy.
                if key_name is None:
                    raise MqsealError("invalid_argument", "retained policy on a plaintext rule")
                if retained.policy not in RULE_RETAINED_POLICIES:
                    raise MqsealError("invalid_argument", f"retained {retained.policy!r}")
                if not 1 <= retained.max_age_ms <= U64_MAX:
                    raise MqsealError("invalid_argument",
                                      f"retained_max_age_ms {retained.max_age_ms}")
            # Two matching filters with identical kinds are textually equal,
            # so "a filter twice" is exactly a repeated filter string, and
            # adding it is refused with invalid_argument (section 2).
            if flt in seen:
                raise MqsealError("invalid_argument", f"filter {flt!r} given twice")
            seen.add(flt)
            self.rules.append(Rule(flt, key_name, tuple(levels), retained, compact))

    @classmethod
    def from_json(cls, items: list[dict]) -> "Policy":
        """Section 13's policy arrays: {filter, key} (optionally with
        `retained` and, for "accept", `retained_max_age_ms`, a decimal
        string that load_vectors has already turned into an int) or
        {filter, plaintext: true}. Same stance as the TOML policy file
        (section 9): anything unexpected is an error, never a silent
        plaintext rule or a silently ignored retained policy."""
        rules: list[RuleSpec] = []
        for item in items:
            fields = set(item)
            if (fields - {"retained", "retained_max_age_ms", "compact"} == {"filter", "key"}
                    and retained_fields_valid(item) and item.get("compact", True) is True):
                rules.append((item["filter"], item["key"], retained_rule_of(item), "compact" in item))
            elif fields == {"filter", "plaintext"} and item["plaintext"] is True:
                rules.append((item["filter"], None))
            else:
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
            # "retired keys open nothing (only their ID is kept)"; a retired
            # key MUST NOT carry material (sections 8 and 11).
            if material is not None:
                raise MqsealError("invalid_argument", f"retired key {key_id:08x} has material")
        elif material is None or len(material) != KEY_LEN:
            raise MqsealError("invalid_argument", f"key {key_id:08x} needs 32 bytes")
        self._by_id[key_id] = Key(key_id, name, state, material)

    @classmethod
    def from_json(cls, items: list[dict]) -> "Keyring":
        ring = cls()
        for item in items:
            # Section 11: `material` for every key that is not retired, and
            # (so) none for a retired one; Keyring.add enforces both.
            unknown = set(item) - {"id", "name", "state", "material"}
            if unknown:
                raise MqsealError("parse_error", f"unknown key fields {sorted(unknown)}")
            material = item.get("material")
            ring.add(int(item["id"]), item["name"], item["state"],
                     None if material is None else bytes.fromhex(material))
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
    """ad = envelope[0..h) || u16(len(T)) || T, h the offset of `sender` (15
    in v2, 14 in v1); the nonce is left out because the AEAD already
    authenticates it as its nonce."""
    assert len(envelope_prefix) in AD_PREFIX_LEN.values() or len(envelope_prefix) == AD_PREFIX_LEN_V3 + 8
    return envelope_prefix + len(topic_bytes).to_bytes(2, "big") + topic_bytes


def compact_read_time_ms(time_s: int, now_ms: int) -> int:
    """Section 4d: the latest second T_s = time_s (mod 2^24) with
    T_s <= floor(now / 1000) + 2^20, in ms; 0 if there is none."""
    limit = now_ms // 1000 + TIME_AHEAD
    t = limit - ((limit - time_s) % TIME_MODULUS)
    return t * 1000 if t >= 0 else 0


def compact_nonce(session: bytes, sequence: int) -> bytes:
    """Section 4d: session || 12 zero bytes || sequence (4 bytes)."""
    return session + bytes(12) + sequence.to_bytes(4, "big")


def compact_ad(first8: bytes, timestamp_ms: int, topic_bytes: bytes) -> bytes:
    """Section 4d: envelope[0..8) || u64(T_s) || u16(len(T)) || T."""
    return associated_data(first8 + (timestamp_ms // 1000).to_bytes(8, "big"), topic_bytes)


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
    version: int          # 2, or 1 for an envelope v1 (which has no flags byte)
    suite: int
    flags: int            # 0 for v1: "read as if its flags byte were 0"
    key_id: int
    timestamp_ms: int
    sender: bytes
    sequence: int

    def encode(self) -> bytes:
        if self.version == VERSION_3:
            assert self.sender[SESSION_LEN:] == bytes(SENDER_LEN - SESSION_LEN)
            assert 0 <= self.sequence <= MAX_SEQUENCE_V3
            return (bytes([VERSION_3 | self.flags << 4]) + self.key_id.to_bytes(4, "big")
                    + ((self.timestamp_ms // 1000) % TIME_MODULUS).to_bytes(3, "big")
                    + self.sender[:SESSION_LEN] + self.sequence.to_bytes(4, "big"))
        flags = bytes([self.flags]) if self.version == VERSION_2 else b""
        assert self.version == VERSION_2 or self.flags == 0
        return (bytes([self.version, self.suite]) + flags
                + self.key_id.to_bytes(4, "big")
                + self.timestamp_ms.to_bytes(8, "big")
                + self.sender
                + self.sequence.to_bytes(8, "big"))

    @property
    def nonce(self) -> bytes:
        # For v3 (sender = session || 8 zero bytes, sequence < 2^32) this is
        # exactly compact_nonce(session, sequence).
        return self.sender + self.sequence.to_bytes(8, "big")

    @property
    def header_len(self) -> int:
        return HEADER_LEN[self.version]

    @property
    def ad_prefix_len(self) -> int:
        return AD_PREFIX_LEN[self.version]

    @property
    def sealed_retained(self) -> bool:
        """The publisher's authenticated retain intent; never for v1."""
        return self.version in (VERSION_2, VERSION_3) and bool(self.flags & FLAG_RETAIN)


def parse_header(envelope: bytes) -> Header:
    """Step 2 of opening, in section 4's order: the length (54 bytes, the
    smaller minimum, before the version is read: a reader must not index
    into a short buffer), the version, the length for that version, the
    suite, then (v2) the flags."""
    if not MIN_ENVELOPE <= len(envelope) <= MAX_ENVELOPE:
        raise MqsealError("malformed", f"{len(envelope)} bytes")
    version = envelope[0]
    if version & 0x0F == VERSION_3:
        flags = version >> 4
        if flags & ~FLAG_RETAIN:
            raise MqsealError("malformed", f"unknown flags {flags:#04x}")
        # timestamp_ms holds time_s * 1000 until the receiver reads the time.
        return Header(version=VERSION_3, suite=SUITE_XCHACHA_TOPIC_KEY, flags=flags,
                      key_id=int.from_bytes(envelope[1:5], "big"),
                      timestamp_ms=int.from_bytes(envelope[5:8], "big") * 1000,
                      sender=bytes(envelope[8:16]) + bytes(SENDER_LEN - SESSION_LEN),
                      sequence=int.from_bytes(envelope[16:20], "big"))
    if version not in (VERSION_1, VERSION_2):
        raise MqsealError("unsupported_version", str(version))
    if len(envelope) < MIN_ENVELOPE_V[version]:
        raise MqsealError("malformed", f"{len(envelope)} bytes for version {version}")
    if envelope[1] != SUITE_XCHACHA_TOPIC_KEY:
        raise MqsealError("unsupported_suite", str(envelope[1]))
    if version == VERSION_2:
        flags, o = envelope[2], 3
        if flags & ~FLAG_RETAIN:
            raise MqsealError("malformed", f"unknown flags {flags:#04x}")
    else:
        flags, o = 0, 2
    return Header(
        version=version,
        suite=envelope[1],
        flags=flags,
        key_id=int.from_bytes(envelope[o:o + 4], "big"),
        timestamp_ms=int.from_bytes(envelope[o + 4:o + 12], "big"),
        sender=bytes(envelope[o + 12:o + 28]),
        sequence=int.from_bytes(envelope[o + 28:o + 36], "big"),
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

    def seal(self, topic: str | bytes, payload: bytes, *, retain: bool = False,
             timestamp_ms: Optional[int] = None,
             key_id: Optional[int] = None, version: int = VERSION_2) -> SealResult:
        """Seal `payload` for `topic` under the rule's primary key; `retain`
        is whether the message will be published with MQTT's retain flag
        (the header's flags bit 0).

        `key_id` overrides the primary with another usable key of the same
        name; the vectors need it for "sealed before the rotation" messages.
        `version` 1 is only for reproducing envelope v1 vectors: sealers
        MUST NOT write v1 (section 4), and v1 has no retain flag.
        """
        if version not in (VERSION_1, VERSION_2, VERSION_3) or (version == VERSION_1 and retain):
            raise MqsealError("invalid_argument", f"version {version}, retain {retain}")
        rule, _, topic_bytes = self.policy.resolve(topic)
        if rule.plaintext:
            return SealResult(bytes(payload), sealed=False)
        if (version == VERSION_3) != rule.compact:
            raise MqsealError("invalid_argument", "a compact rule seals v3, any other v1/v2")
        if key_id is None:
            key = self.keyring.primary(rule.key_name)
            if key is None:
                raise MqsealError("no_primary_key", rule.key_name)
        else:
            key = self._usable_key(key_id, rule.key_name)
        if len(payload) > MAX_PAYLOAD:
            raise MqsealError("payload_too_large", f"{len(payload)} bytes")
        # 2^64-1 envelopes sealed (sequences 0 .. 2^64-2) means the counter
        # now reads 2^64-1: that value is never used as a sequence.
        if self.next_sequence >= U64_MAX:
            raise MqsealError("nonce_exhausted")
        sender = self.sender
        if version == VERSION_3:
            # Section 5/4d: past 2^32 - 1, a new session, never a wrap.
            if self.next_sequence > MAX_SEQUENCE_V3:
                self.sender, self.next_sequence = os.urandom(SENDER_LEN), 0
            sender = self.sender[:SESSION_LEN] + bytes(SENDER_LEN - SESSION_LEN)
        header = Header(version, SUITE_XCHACHA_TOPIC_KEY, FLAG_RETAIN if retain else 0,
                        key.key_id,
                        self.clock_ms() if timestamp_ms is None else timestamp_ms,
                        sender, self.next_sequence)
        self.next_sequence += 1
        prefix = header.encode()
        if version == VERSION_3:
            body = aead_encrypt(derive_topic_key(key.material, topic_bytes),
                                compact_nonce(sender[:SESSION_LEN], header.sequence),
                                compact_ad(prefix[:AD_PREFIX_LEN_V3], header.timestamp_ms, topic_bytes),
                                bytes(payload))
            return SealResult(prefix + body, sealed=True)
        body = aead_encrypt(derive_topic_key(key.material, topic_bytes), header.nonce,
                            associated_data(prefix[:header.ad_prefix_len], topic_bytes),
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
RETAINED_POLICIES = ("accept_within_age", "refuse")
MAX_STREAMS_LIMIT = 2**24


@dataclass
class ReplayConfig:
    """Field names and values as in the vectors' `replay` block (section 13)."""
    max_age_ms: int = 300_000
    max_future_skew_ms: int = 60_000
    retained: str = "accept_within_age"     # or "refuse"
    retained_max_age_ms: int = 604_800_000
    max_streams: int = 4096

    def __post_init__(self) -> None:
        if self.retained not in RETAINED_POLICIES:
            raise MqsealError("invalid_argument", f"retained policy {self.retained!r}")
        for name in ("max_age_ms", "max_future_skew_ms", "retained_max_age_ms", "max_streams"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise MqsealError("invalid_argument", f"{name} = {value!r}")
        # Section 6: max_streams is "1 to 2^24, anything else is
        # invalid_argument".
        if not 1 <= self.max_streams <= MAX_STREAMS_LIMIT:
            raise MqsealError("invalid_argument",
                              f"max_streams {self.max_streams} not in 1..2^24")


@dataclass
class _StreamState:
    top: int           # highest sequence accepted in step 4
    bitmap: int        # bit i set <=> sequence top - i was accepted
    floor: int         # the watermark its first message was compared with (before
                       # making room), raised by old retained messages above top
    newest_ts: int     # newest timestamp_ms accepted in step 4 (live or young retained)
    last_seen: int     # receiver time of the last acceptance in step 4


StreamId = tuple[bytes, bytes]   # (sender, topic's UTF-8 bytes)

MAX_PARTITIONS = 4096   # mqseal's bound: the most key names a policy can have


@dataclass
class _Partition:
    """Everything the guard keeps for one key name (section 6, Partitions):
    its streams, its watermark and, through len(streams), its max_streams
    bound."""
    streams: dict[StreamId, _StreamState] = field(default_factory=dict)
    watermark: int = 0      # "Each partition's watermark starts at 0."


class ReplayGuard:
    """Section 6, in one place: `check` (who is judged as retained, which
    retained policy applies, which partition, steps 1 to 3), `_step4` and
    `_make_room` are the only code that decides freshness. The delivery
    sequences (sequences_v1.json) and the envelope vectors reach the rules
    only through Opener.open -> ReplayGuard.check, so a change of the replay
    rules is a change of this class alone."""

    def __init__(self, config: ReplayConfig):
        self.cfg = config
        # Per key name. Within one, a stream is a (sender, topic) pair;
        # mqseal keys the topic by a 64-bit hash; the exact topic is used
        # here, which differs only on a hash collision (where mqseal may
        # refuse more, never accept more).
        self.partitions: dict[str, _Partition] = {}

    def partition(self, key_name: str) -> _Partition:
        """The partition of `key_name`, started empty on first use; a key
        name beyond MAX_PARTITIONS is capacity_exceeded."""
        part = self.partitions.get(key_name)
        if part is None:
            if len(self.partitions) >= MAX_PARTITIONS:
                raise MqsealError("capacity_exceeded", f"more than {MAX_PARTITIONS} key names")
            part = self.partitions[key_name] = _Partition()
        return part

    def retained_settings(self, rule: Rule) -> tuple[bool, int]:
        """(refuse?, retained_max_age_ms) for a message on `rule`'s topics:
        the rule's own when it has a retained policy (both fields: "accept"
        without a maximum age means seven days), else the receiver's
        defaults (both fields)."""
        if rule.retained is not None:
            return rule.retained.policy == "refuse", rule.retained.max_age_ms
        return self.cfg.retained == "refuse", self.cfg.retained_max_age_ms

    def check(self, h: Header, rule: Rule, topic_bytes: bytes, now_ms: int,
              delivered_retained: bool) -> None:
        """Raise unless the authenticated envelope with header `h`, received
        on the topic `topic_bytes` whose winning rule is `rule`, is fresh;
        on success, record it. Arithmetic is on Python's unbounded integers,
        as the spec asks."""
        cfg = self.cfg
        # Partitions: only the state of the rule's key name (the name of the
        # key the envelope was sealed under) is read or changed.
        part = self.partition(rule.key_name)
        age = max(0, now_ms - h.timestamp_ms)
        sid: StreamId = (h.sender, bytes(topic_bytes))
        st = part.streams.get(sid)
        # r: sealed to be retained (v2, authenticated flag) AND delivered
        # with MQTT's retain flag. v1, or sealed as live: never.
        r = h.sealed_retained and delivered_retained
        # 1.
        if h.timestamp_ms > now_ms + cfg.max_future_skew_ms:
            raise MqsealError("not_yet_valid")
        # 2. Judged as retained, with the rule's retained settings or the
        #    receiver's. Young (age <= max_age_ms): continue at step 4
        #    exactly as for a live message (whoever relays it could deliver
        #    a recent copy again as retained). Old: consult a tracked window
        #    that holds the sequence (set its bit and nothing else);
        #    otherwise accept without starting a stream, evicting or sliding
        #    the window, but raise the bar the message would meet live,
        #    should the receiver's clock step back: the watermark (untracked
        #    stream), the stream's floor (tracked, sequence above top) or
        #    its newest timestamp (tracked, at or below top).
        if r:
            refuse, retained_max_age_ms = self.retained_settings(rule)
            if refuse:
                raise MqsealError("retained_refused")
            if age > retained_max_age_ms:
                raise MqsealError("expired")
            if age <= cfg.max_age_ms:
                self._step4(part, h, sid, st, now_ms)
                return
            # The floor is not consulted here: step 2 names only the window.
            if st is not None and st.top - (WINDOW - 1) <= h.sequence <= st.top:
                bit = 1 << (st.top - h.sequence)
                if st.bitmap & bit:
                    raise MqsealError("duplicate", "retained copy of an accepted message")
                st.bitmap |= bit
            # Either way, raise the bar: the watermark (untracked), the floor
            # (tracked, above top), or the stream's newest timestamp (tracked,
            # at or below top: carried into the watermark if it is dropped).
            if st is None:
                part.watermark = max(part.watermark, h.timestamp_ms)
            elif h.sequence > st.top:
                st.floor = max(st.floor, h.timestamp_ms)
            else:
                st.newest_ts = max(st.newest_ts, h.timestamp_ms)
            return
        # 3.
        if age > cfg.max_age_ms:
            raise MqsealError("expired")
        # 4.
        self._step4(part, h, sid, st, now_ms)

    def _step4(self, part: _Partition, h: Header, sid: StreamId,
               st: Optional[_StreamState], now_ms: int) -> None:
        """Step 4: the per-stream window and floor. Raises `replay` or
        `duplicate` before changing any state; on acceptance records the sequence and
        updates the newest timestamp and last-seen time."""
        if st is None:
            if h.timestamp_ms <= part.watermark:
                raise MqsealError("replay", "untracked stream at or below the watermark")
            # floor = the watermark *before* making room ("Otherwise set
            # floor = watermark (the value just compared with), make room
            # ..."), so it is below this message's timestamp and the
            # message's own redelivery is a `duplicate` (its bit), not a
            # `replay`. It is at least every previously dropped state's
            # newest timestamp, so no message accepted on an earlier
            # tracking of this stream passes again.
            floor = part.watermark
            self._make_room(part, now_ms)
            st = part.streams[sid] = _StreamState(h.sequence, 1, floor,
                                                  h.timestamp_ms, now_ms)
        elif h.timestamp_ms <= st.floor:
            raise MqsealError("replay", "at or below the stream's floor")
        elif h.sequence > st.top:
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

    def _make_room(self, part: _Partition, now_ms: int) -> None:
        """Bounded memory, before a new stream is tracked. "More than
        max_age_ms before now" is now - newest_ts > max_age_ms. On a tie in
        last-seen time the spec allows any of the tied streams; the first
        tracked of them is dropped here (dict order = insertion order).
        "Every dropped stream raises the watermark to its newest timestamp
        or its floor, whichever is larger (if larger than the watermark)":
        the stale ones too (the receiver's clock can step back, making their
        messages young again). The floor counts because an old retained
        message above top raised it without being recorded anywhere else."""
        if len(part.streams) < self.cfg.max_streams:
            return
        dropped = [sid for sid, st in part.streams.items()
                   if now_ms - st.newest_ts > self.cfg.max_age_ms]
        if not dropped:
            dropped = [min(part.streams, key=lambda sid: part.streams[sid].last_seen)]
        for sid in dropped:
            st = part.streams.pop(sid)
            part.watermark = max(part.watermark, st.newest_ts, st.floor)


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
        # 3. Key, in the spec's order: unknown (ID 0 is never in a keyring),
        #    then retired, then another key name. A retired key of another
        #    name is therefore key_retired.
        key = self.keyring.get(h.key_id)
        if key is None:
            raise MqsealError("unknown_key", f"{h.key_id:08x}")
        if key.state == "retired":
            raise MqsealError("key_retired", f"{h.key_id:08x}")
        if key.name != rule.key_name:
            raise MqsealError("wrong_key_for_topic",
                              f"{h.key_id:08x} is {key.name!r}, rule wants {rule.key_name!r}")
        # Section 4d: the version is the rule's, both ways, before decrypting.
        if (h.version == VERSION_3) != rule.compact:
            raise MqsealError("wrong_suite_for_topic", f"version {h.version}, compact rule {rule.compact}")
        if h.version == VERSION_3:
            t_ms = compact_read_time_ms(h.timestamp_ms // 1000, now_ms)
            h = Header(h.version, h.suite, h.flags, h.key_id, t_ms, h.sender, h.sequence)
            payload = aead_decrypt(derive_topic_key(key.material, topic_bytes),
                                   compact_nonce(envelope[8:16], h.sequence),
                                   compact_ad(envelope[:AD_PREFIX_LEN_V3], t_ms, topic_bytes),
                                   envelope[HEADER_LEN_V3:])
            self.guard.check(h, rule, topic_bytes, now_ms, retained)
            return OpenResult(payload, sealed=True, header=h)
        # 4. Authenticate and decrypt, with ad built from the topic we
        #    received on, so a moved envelope fails here.
        #    The header's part of ad (flags included in v2) is taken from
        #    the received bytes, so every header byte is authenticated.
        payload = aead_decrypt(derive_topic_key(key.material, topic_bytes), h.nonce,
                               associated_data(envelope[:h.ad_prefix_len], topic_bytes),
                               envelope[h.header_len:])
        # 5. Freshness only for authentic envelopes: an attacker must not be
        #    able to advance the replay window with forged headers. The
        #    guard gets the rule: its key name picks the partition, its
        #    retained settings (if any) replace the receiver's defaults.
        self.guard.check(h, rule, topic_bytes, now_ms, retained)
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
    def __init__(self, doc: dict, prefix: str = "", v1: Optional["Runner"] = None):
        self.keyring = Keyring.from_json(doc["keys"])
        self.policy = Policy.from_json(doc["policy"])
        # Missing settings take the spec's defaults ("the defaults above").
        self.config = ReplayConfig(**doc.get("replay", {}))
        self.vectors = doc["vectors"]
        self.prefix = prefix          # "v2:" or "v1:", in front of vector names
        self.v1 = v1                  # the envelope_v1.json runner, for self-checks
        self.passed = self.failed = 0
        self.vectors_passed = 0

    def fresh_opener(self) -> Opener:
        return Opener(self.policy, self.keyring, self.config)

    def record(self, name: str, problems: list[str], *, vector: bool) -> None:
        if vector:
            name = self.prefix + name
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

        version, flags = v["version"], v.get("flags", 0)
        if version not in (VERSION_1, VERSION_2, VERSION_3) or flags & ~FLAG_RETAIN \
                or (version == VERSION_1 and "flags" in v):
            return [f"vector has version {version}, flags {flags}"]
        h = Header(version, SUITE_XCHACHA_TOPIC_KEY, flags, v["key_id"], v["timestamp_ms"],
                   bytes(SENDER_LEN), 0)
        if version == VERSION_3:
            ad = compact_ad(h.encode()[:AD_PREFIX_LEN_V3], v["timestamp_ms"], topic_bytes)
            sender = bytes.fromhex(v["sender"])
            nonce = compact_nonce(sender[:SESSION_LEN], v["sequence"])
            if sender[SESSION_LEN:] != bytes(SENDER_LEN - SESSION_LEN) or nonce.hex() != v["nonce"]:
                problems.append(f"nonce {nonce.hex()}, expected {v['nonce']}")
            if len(envelope) - len(payload) != v["overhead"] or v["overhead"] > 36:
                problems.append(f"overhead {len(envelope) - len(payload)}, recorded {v['overhead']}")
        else:
            ad = associated_data(h.encode()[:h.ad_prefix_len], topic_bytes)
        if ad.hex() != v["associated_data"]:
            problems.append(f"associated_data {ad.hex()}, expected {v['associated_data']}")

        sealer = Sealer(self.policy, self.keyring, sender=bytes.fromhex(v["sender"]),
                        first_sequence=v["sequence"])
        try:
            sealed = sealer.seal(topic, payload, timestamp_ms=v["timestamp_ms"],
                                 key_id=v["key_id"], retain=bool(flags & FLAG_RETAIN),
                                 version=version)
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

    def _expect_ok(self, label: str, fn: Callable[[], object]) -> list[str]:
        """Like _expect_error, for a step that must be accepted: a refusal is
        reported under `label` instead of aborting the whole check."""
        try:
            fn()
        except MqsealError as e:
            return [f"{label}: refused with {e.name}, expected acceptance"]
        return []

    def self_checks(self) -> None:
        checks = [
            ("self:precedence-examples", self.sc_precedence),
            ("self:dollar-topics", self.sc_dollar),
            ("self:validation", self.sc_validation),
            ("self:every-byte-authenticated", self.sc_flip_every_byte),
            ("self:flags-byte", self.sc_flags_byte),
            ("self:retain-flag-authenticated", self.sc_retain_authenticated),
            ("self:error-order", self.sc_error_order),
            ("self:plaintext-passthrough", self.sc_plaintext),
            ("self:seal-uses-primary", self.sc_primary),
            ("self:nonce-exhaustion", self.sc_exhaustion),
            ("self:replay-window", self.sc_window),
            ("self:retained-and-refuse", self.sc_retained),
            ("self:retained-young", self.sc_retained_young),
            ("self:retained-old", self.sc_retained_old),
            ("self:retained-after-window", self.sc_retained_after_window),
            ("self:restart-floor", self.sc_restart_floor),
            ("self:per-stream-windows", self.sc_streams),
            ("self:eviction-watermark", self.sc_eviction),
            ("self:age-drop-clock-back", self.sc_age_drop_clock_back),
            ("self:age-drop-floor", self.sc_age_drop_floor),
            ("self:new-stream-floor", self.sc_new_stream_floor),
            ("self:old-retained-clock-back", self.sc_old_retained_clock_back),
            ("self:key-name-partitions", self.sc_partitions),
            ("self:per-rule-retained-policy", self.sc_rule_retained),
            ("self:policy-file-subset", self.sc_policy_subset),
            ("self:duplicate-filters", self.sc_policy_duplicates),
            ("self:json-shape", self.sc_json_shape),
            ("self:size-limits", self.sc_size_limits),
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
        # MQTT's SHOULD NOT rules are not enforced (section 2).
        for ok in ["a\x01b", "a\x7fb", "a\ufffeb", "a\U0010ffffb"]:
            try:
                validate_topic(ok)
                validate_filter(ok + "/#")
            except MqsealError as e:
                problems.append(f"{ok!r} refused: {e}")
        return problems

    def _flip_all(self, v: dict, start: int, label: str) -> list[str]:
        """Flip every bit from byte `start` to the end of `v`'s envelope:
        each must fail authentication (not a later, weaker check); the
        untouched envelope still opens, so the loop is not passing merely
        because everything fails."""
        env = bytearray.fromhex(v["envelope"])
        o = v["open"]
        opener = lambda: self.fresh_opener().open(o["topic"], env, now_ms=o["now_ms"],
                                                  retained=o["retained"])
        problems = []
        for i in range(start, len(env)):
            for bit in range(8):
                env[i] ^= 1 << bit
                problems += [f"{label} byte {i} bit {bit}: {p}"
                             for p in self._expect_error(opener, "authentication_failed")]
                env[i] ^= 1 << bit
        if opener().payload.hex() != v["payload"]:
            problems.append(f"{label}: unmodified envelope no longer opens")
        return problems

    def sc_flip_every_byte(self) -> list[str]:
        """v2: every bit of the timestamp, sender, sequence, ciphertext and
        tag (bytes 7 on) is authenticated, and so is the retain flag (flags
        bit 0, byte 2): flipping it either way is authentication_failed,
        while bits 1-7 of the flags are `malformed` (unknown flags), before
        the key is looked up. v1: bytes 6 on. Version byte changed between
        1 and 2 (a downgrade or upgrade, two bits): never opens."""
        problems = self._flip_all(self._ok("short"), 7, "v2")
        problems += self._flip_all(self._ok("retained"), 7, "v2 retained")
        if self.v1 is not None:
            problems += self.v1._flip_all(self.v1._ok("short"), 6, "v1")
        else:
            problems.append("no envelope_v1.json runner")
        # Version downgrade / upgrade: read with the other layout, the
        # bytes name another key ID or fail authentication (the version
        # byte is in ad, and the layouts differ).
        for v, new_version in ((self._ok("short"), VERSION_1), (self._ok("retained"), VERSION_1)) + (
                ((self.v1._ok("short"), VERSION_2),) if self.v1 else ()):
            env, o = bytearray.fromhex(v["envelope"]), v["open"]
            env[0] = new_version
            try:
                self.fresh_opener().open(o["topic"], env, now_ms=o["now_ms"], retained=True)
                problems.append(f"{v['name']} as version {new_version} opened")
            except MqsealError as e:
                if e.name not in ("unknown_key", "key_retired", "wrong_key_for_topic",
                                  "authentication_failed", "malformed"):
                    problems.append(f"{v['name']} as version {new_version}: {e.name}")
        return problems

    def sc_flags_byte(self) -> list[str]:
        """Section 4: the flags byte. Bit 0 is authenticated (flipping it
        either way is authentication_failed, never a message judged the
        other way); bits 1-7 are `malformed`, checked after the suite and
        before the key (see also sc_error_order). A sealer writes 0x01
        exactly when the message will be published retained; v1 has no
        flags and reads as 0."""
        problems = []
        for name in ("short", "retained"):
            v = self._ok(name)
            env, o = bytearray.fromhex(v["envelope"]), v["open"]
            if env[2] != v["flags"]:
                problems.append(f"{name}: flags byte {env[2]}, vector says {v['flags']}")
            for bit in range(8):
                env[2] ^= 1 << bit
                want = "authentication_failed" if bit == 0 else "malformed"
                for retained in (False, True):
                    problems += [f"{name} flags bit {bit} (retained {retained}): {p}" for p in
                                 self._expect_error(lambda: self.fresh_opener().open(
                                     o["topic"], env, now_ms=o["now_ms"], retained=retained),
                                     want)]
                env[2] ^= 1 << bit
        sealer = Sealer(self.policy, self.keyring, clock_ms=lambda: 1_000_000)
        for retain, want in ((False, 0), (True, FLAG_RETAIN)):
            env = sealer.seal("plant/7/telemetry", b"x", retain=retain).data
            h = parse_header(env)
            if (env[0], env[2], h.flags, h.sealed_retained) != (2, want, want, retain):
                problems.append(f"seal(retain={retain}) wrote {env[:3].hex()}")
        problems += [f"v1 with retain: {p}" for p in self._expect_error(
            lambda: sealer.seal("plant/7/telemetry", b"x", retain=True, version=VERSION_1),
            "invalid_argument")]
        v1 = sealer.seal("plant/7/telemetry", b"x", version=VERSION_1).data
        h = parse_header(v1)
        if (len(v1), h.version, h.flags, h.sealed_retained) != (55, 1, 0, False):
            problems.append(f"v1 sealing: {len(v1)} bytes, header {h}")
        return problems

    def sc_retain_authenticated(self) -> list[str]:
        """Who is judged as retained (section 6's r): only a v2 envelope
        sealed with the retain flag AND delivered with MQTT's retain flag.
        Nobody in transit can move a message from one judgment to the
        other: setting the flag on a live message (to have it accepted as
        an old retained one) or clearing it fails authentication."""
        problems = []
        t, ts = "plant/7/telemetry", 60_000_000
        two_days = ts + 2 * 86_400_000
        s = Sealer(self.policy, self.keyring)
        live = bytearray(s.seal(t, b"live", timestamp_ms=ts).data)
        kept = bytearray(s.seal(t, b"kept", timestamp_ms=ts, retain=True).data)
        # Honest: the retained one opens two days later as retained, the
        # live one is expired however it is delivered.
        problems += self._expect_ok("sealed retained, old, delivered retained", lambda:
                                    self.fresh_opener().open(t, kept, now_ms=two_days,
                                                             retained=True))
        for retained in (False, True):
            problems += [f"sealed live, old, delivered retained={retained}: {p}" for p in
                         self._expect_error(lambda: self.fresh_opener().open(
                             t, live, now_ms=two_days, retained=retained), "expired")]
        problems += [f"sealed retained, old, delivered live: {p}" for p in self._expect_error(
            lambda: self.fresh_opener().open(t, kept, now_ms=two_days), "expired")]
        # Forged: the flag set on the live message, cleared on the retained.
        live[2] |= FLAG_RETAIN
        kept[2] &= ~FLAG_RETAIN & 0xFF
        for env, what in ((live, "flag set on a live message"),
                          (kept, "flag cleared on a retained message")):
            for now, retained in ((ts, False), (ts, True), (two_days, True)):
                problems += [f"{what}, now {now - ts:+}, retained {retained}: {p}" for p in
                             self._expect_error(lambda: self.fresh_opener().open(
                                 t, env, now_ms=now, retained=retained),
                                 "authentication_failed")]
        # A receiver whose default is refuse does not refuse a message
        # sealed as live delivered with the retain flag (it is judged live:
        # a young copy goes through the window, so it is a duplicate).
        op = self._opener(retained="refuse")
        live[2] &= ~FLAG_RETAIN & 0xFF
        problems += self._expect_ok("refuse receiver, sealed live, delivered retained",
                                    lambda: op.open(t, live, now_ms=ts + 1, retained=True))
        problems += [f"refuse receiver, copy: {p}" for p in self._expect_error(
            lambda: op.open(t, live, now_ms=ts + 2, retained=True), "duplicate")]
        # v1: always live. A young v1 delivered retained starts a stream and
        # its copy is a duplicate; an old one delivered retained is
        # expired; a receiver that refuses retained messages takes it.
        if self.v1 is None:
            return problems + ["no envelope_v1.json runner"]
        v = self.v1._ok("short")
        env1, o = bytes.fromhex(v["envelope"]), v["open"]
        op = self._opener(retained="refuse")
        problems += self._expect_ok("v1 delivered retained to a refusing receiver",
                                    lambda: op.open(o["topic"], env1, now_ms=o["now_ms"],
                                                    retained=True))
        if not op.guard.partition("telemetry").streams:
            problems.append("young v1 delivered retained did not start a stream")
        problems += [f"v1 copy delivered retained: {p}" for p in self._expect_error(
            lambda: op.open(o["topic"], env1, now_ms=o["now_ms"], retained=True), "duplicate")]
        problems += [f"v1 old delivered retained: {p}" for p in self._expect_error(
            lambda: self.fresh_opener().open(o["topic"], env1,
                                             now_ms=v["timestamp_ms"] + 2 * 86_400_000,
                                             retained=True), "expired")]
        return problems

    def sc_partitions(self) -> list[str]:
        """Section 6, Partitions: all replay state is per key name. With
        max_streams 1, a flood of new streams under `commands`, stamped at
        the future skew, evicts only `commands` streams and raises only the
        `commands` watermark: the `telemetry` stream stays tracked, the
        `telemetry` watermark stays 0, and a new `telemetry` sender whose
        clock is behind the flood is accepted. And the other way round."""
        problems = []
        now, skew = 70_000_000, self.config.max_future_skew_ms
        tel, cmd = "plant/7/telemetry", "plant/7/cmd/valve"
        for victim, flooder, vname, fname in ((tel, cmd, "telemetry", "commands"),
                                              (cmd, tel, "commands", "telemetry")):
            op = self._opener(max_streams=1)
            a = Sealer(self.policy, self.keyring)
            problems += self._expect_ok(f"{vname}: first message", lambda: op.open(
                victim, a.seal(victim, b"a", timestamp_ms=now).data, now_ms=now))
            snap = lambda: (op.guard.partition(vname).watermark,
                            {k: vars(x).copy() for k, x in
                             op.guard.partition(vname).streams.items()})
            before = snap()
            for i in range(50):
                e = Sealer(self.policy, self.keyring).seal(
                    flooder, b"f", timestamp_ms=now + i + skew, retain=True).data
                problems += self._expect_ok(f"{fname} flood {i}", lambda: op.open(
                    # (young retained deliveries count as live; the commands
                    # rule refuses retained messages, so only under telemetry)
                    flooder, e, now_ms=now + i, retained=i % 2 == 1 and fname == "telemetry"))
            fpart = op.guard.partition(fname)
            if fpart.watermark != now + 48 + skew or len(fpart.streams) != 1:
                problems.append(f"{fname} flood: watermark {fpart.watermark - now:+}, "
                                f"{len(fpart.streams)} streams (expected +skew and 1)")
            if snap() != before:
                problems.append(f"a {fname} flood changed the {vname} partition")
            # The victim's own sender goes on, and a new sender of the
            # victim's key name, with a clock far behind the flood, is taken.
            problems += self._expect_ok(f"{vname}: next message after the flood", lambda: op.open(
                victim, a.seal(victim, b"a2", timestamp_ms=now + 1).data, now_ms=now + 60))
            problems += self._expect_ok(f"{vname}: new sender after the flood", lambda: op.open(
                victim, Sealer(self.policy, self.keyring).seal(
                    victim, b"b", timestamp_ms=now + 2).data, now_ms=now + 61))
            # While the flooder's own new senders behind its watermark are not.
            problems += [f"{fname}: new sender behind its own watermark: {p}" for p in
                         self._expect_error(lambda: op.open(flooder, Sealer(
                             self.policy, self.keyring).seal(flooder, b"c", timestamp_ms=now + 3)
                             .data, now_ms=now + 62), "replay")]
        # An old retained message of one key name raises only its watermark.
        op = self.fresh_opener()
        kept = Sealer(self.policy, self.keyring).seal(
            tel, b"k", timestamp_ms=now, retain=True).data
        op.open(tel, kept, now_ms=now + 2 * 86_400_000, retained=True)
        if (op.guard.partition("telemetry").watermark,
                op.guard.partition("commands").watermark) != (now, 0):
            problems.append("old retained message raised another key name's watermark")
        # The partition bound (mqseal: 4096 key names): the next name is
        # capacity_exceeded, the names already there go on.
        guard = ReplayGuard(self.config)
        h = parse_header(bytes.fromhex(self._ok("short")["envelope"]))
        now_v = self._ok("short")["open"]["now_ms"]
        for i in range(MAX_PARTITIONS):
            guard.check(h, Rule("x", f"k{i}", ("x",)), b"x", now_v, False)
        problems += [f"partition {MAX_PARTITIONS + 1}: {p}" for p in self._expect_error(
            lambda: guard.check(h, Rule("x", "one-more", ("x",)), b"x", now_v, False),
            "capacity_exceeded")]
        problems += [f"existing partition after the bound: {p}" for p in self._expect_error(
            lambda: guard.check(h, Rule("x", "k7", ("x",)), b"x", now_v, False), "duplicate")]
        return problems

    def sc_rule_retained(self) -> list[str]:
        """Sections 6 and 9: a rule's retained policy replaces the
        receiver's defaults (both of them: "accept" without
        retained_max_age_ms is seven days whatever the receiver's default
        age); a rule without one uses the receiver's; either applies only
        to messages judged as retained. Plus the JSON and TOML forms."""
        problems = []
        day = 86_400_000
        pol = Policy([("r/refuse/#", "telemetry", RetainedRule("refuse")),
                      ("r/hour/#", "telemetry", RetainedRule("accept", 3_600_000)),
                      ("r/week/#", "telemetry", RetainedRule("accept")),
                      ("r/default/#", "telemetry")])
        ts = 80_000_000
        s = Sealer(pol, self.keyring)

        def outcome(topic, age, cfg, retained=True, retain=True):
            e = s.seal(topic, b"m", timestamp_ms=ts, retain=retain).data
            op = Opener(pol, self.keyring, ReplayConfig(**{**vars(self.config), **cfg}))
            return _outcome(lambda: op.open(topic, e, now_ms=ts + age, retained=retained))[0]

        accept_1d = {"retained": "accept_within_age", "retained_max_age_ms": day}
        refuse = {"retained": "refuse"}
        cases = [
            ("r/refuse/x", 1_000, {}, True, "retained_refused"),      # young
            ("r/refuse/x", 2 * day, {}, True, "retained_refused"),    # old
            ("r/refuse/x", 1_000, {}, False, "ok"),                   # delivered live
            ("r/hour/x", 30 * 60_000, refuse, True, "ok"),            # rule beats refuse
            ("r/hour/x", 3_600_000, refuse, True, "ok"),              # bound inclusive
            ("r/hour/x", 3_600_001, refuse, True, "expired"),
            ("r/hour/x", 2 * day, {}, True, "expired"),               # rule beats 7 days
            ("r/week/x", 3 * day, accept_1d, True, "ok"),             # 7 days, not 1
            ("r/week/x", 7 * day + 1, accept_1d, True, "expired"),
            ("r/week/x", 3 * day, refuse, True, "ok"),
            ("r/default/x", 1_000, refuse, True, "retained_refused"),
            ("r/default/x", 3 * day, accept_1d, True, "expired"),
            ("r/default/x", 12 * 3_600_000, accept_1d, True, "ok"),
            ("r/default/x", 3 * day, {}, True, "ok"),
        ]
        for topic, age, cfg, retained, want in cases:
            got = outcome(topic, age, cfg, retained)
            if got != want:
                problems.append(f"{topic}, age {age}, receiver {cfg or 'defaults'}, "
                                f"retained {retained}: {got}, expected {want}")
        # Sealed as live: no retained policy applies, a rule's refuse included.
        if outcome("r/refuse/x", 1_000, {}, retain=False) != "ok":
            problems.append("a message sealed live was refused by the rule's retained policy")
        # JSON policy arrays (section 13) and TOML files (section 9).
        good = [{"filter": "a/#", "key": "k", "retained": "refuse"},
                {"filter": "b/#", "key": "k", "retained": "accept",
                 "retained_max_age_ms": 5},
                {"filter": "c/#", "key": "k", "retained": "accept"}]
        p = Policy.from_json(good)
        want = [RetainedRule("refuse"), RetainedRule("accept", 5), RetainedRule("accept")]
        if [r.retained for r in p.rules] != want:
            problems.append(f"JSON retained rules read as {[r.retained for r in p.rules]}")
        for bad in ({"filter": "a", "plaintext": True, "retained": "refuse"},
                    {"filter": "a", "key": "k", "retained_max_age_ms": 5},
                    {"filter": "a", "key": "k", "retained": "refuse", "retained_max_age_ms": 5},
                    {"filter": "a", "key": "k", "retained": "accept", "retained_max_age_ms": 0},
                    {"filter": "a", "key": "k", "retained": "accept",
                     "retained_max_age_ms": True},
                    {"filter": "a", "key": "k", "retained": "accept_within_age"},
                    {"filter": "a", "key": "k", "retained": None}):
            problems += [f"JSON {bad}: {e}" for e in self._expect_error(
                lambda: Policy.from_json([bad]), "parse_error")]
        problems += [f"Policy() plaintext with retained: {e}" for e in self._expect_error(
            lambda: Policy([("a", None, RetainedRule("refuse"))]), "invalid_argument")]
        head = '[[rule]]\nfilter = "a/#"\nkey = "k"\n'
        for text, want in ((head + 'retained = "accept"\nretained_max_age_ms = 86400000\n', "ok"),
                           (head + 'retained = "refuse"\n', "ok"),
                           (head + 'retained = "accept"\nretained_max_age_ms = 0\n', "parse_error"),
                           (head + 'retained = "accept"\nretained_max_age_ms = -5\n', "parse_error"),
                           (head + 'retained = "accept"\nretained_max_age_ms = "5"\n', "parse_error"),
                           (head + 'retained = "accept"\nretained_max_age_ms = true\n', "parse_error"),
                           (head + 'retained = "refuse"\nretained_max_age_ms = 5\n', "parse_error"),
                           (head + 'retained = true\n', "parse_error")):
            got = _outcome(lambda: parse_policy_file(text))[0]
            if got != want:
                problems.append(f"TOML {text!r}: {got}, expected {want}")
        rule = parse_policy_file(head + 'retained = "accept"\n').rules[0]
        if rule.retained != RetainedRule("accept", DEFAULT_RETAINED_MAX_AGE_MS):
            problems.append(f"TOML accept without an age: {rule.retained}")
        return problems

    def sc_policy_subset(self) -> list[str]:
        """Section 9's TOML subset: what it lets through and what not."""
        head = '[[rule]]\nfilter = "a/#"\nkey = "k"'
        cases = [(head + "\n", "ok"), (head.replace("\n", "\r\n") + "\r\n", "ok"),
                 ("\ufeff" + head + "\n", "ok"), (head + "  # c\u0085\u00e9\n", "ok"),
                 (head + "#c\n", "ok"), ('[[rule]]\nfilter="a/#"\t\nkey\t=\t"k"\n', "ok"),
                 (head + " # \x7f\n", "parse_error"), (head + "\r\n\r", "parse_error"),
                 (head + " # \x01\n", "parse_error"), (head + "\x0b\n", "parse_error"),
                 ('[[rule]]\nfilter = """a/#"""\nkey = "k"\n', "parse_error"),
                 ('[[rule]]\nfilter = "a/#"\nkey.x = "k"\n', "parse_error"),
                 ('[[rule]]\nfilter = "a/#"\n"key" = "k"\n', "parse_error"),
                 ('[[ rule ]]\nfilter = "a/#"\nkey = "k"\n', "parse_error"),
                 ('version = 01\n', "parse_error"), ('version = 1.0\n', "parse_error"),
                 ('version = 1_0\n', "parse_error"), ('version = 1234567890123456789\n',
                                                      "parse_error"),
                 ('version = 1\n', "ok"), ("[[rule]]\nfilter = 'a/#'\nkey = 'k'\n", "ok"),
                 ('[[rule]]\nfilter = "a/\\u0023"\nkey = "k"\n', "ok"),
                 ('[[rule]]\nfilter = "a/\\ud800"\nkey = "k"\n', "parse_error"),
                 ("[[rule]]\nfilter = \"a/\udc80\"\nkey = \"k\"\n", "parse_error")]
        problems = []
        for text, want in cases:
            got = _outcome(lambda: parse_policy_file(text))[0]
            if got != want:
                problems.append(f"{text!r}: {got}, expected {want}")
        return problems

    def sc_error_order(self) -> list[str]:
        """Section 4's opening and header order, probed where two errors
        compete, on v2 (key_id at 3) and v1 (key_id at 2) envelopes."""
        env = bytes.fromhex(self._ok("short")["envelope"])
        now = self._ok("short")["open"]["now_ms"]
        op = self.fresh_opener()
        k = lambda i: i.to_bytes(4, "big")
        v2 = lambda suite=1, flags=0, key=env[3:7], rest=env[7:]: (
            bytes([2, suite, flags]) + bytes(key) + bytes(rest))
        v1 = lambda suite=1, key=env[3:7], rest=env[7:]: (
            bytes([1, suite]) + bytes(key) + bytes(rest))
        cases = [
            ("plant/+/telemetry", bytes(10), "invalid_topic"),   # topic before length
            ("plant/7/status", bytes(10), "no_rule"),            # rule before length
            # Length (36 since section 4d) before version: 35 bytes of
            # version 9; 53 bytes of version 9 are long enough to be read.
            ("plant/7/telemetry", bytes([9, 9]) + env[2:35], "malformed"),
            ("plant/7/telemetry", bytes([9, 9]) + env[2:53], "unsupported_version"),
            # 54 bytes: enough for the first check; version 9 is unsupported,
            # version 1 reads on (to the suite), version 2 is too short.
            ("plant/7/telemetry", bytes([9, 9]) + env[2:54], "unsupported_version"),
            ("plant/7/telemetry", bytes([1, 9]) + env[2:54], "unsupported_suite"),
            ("plant/7/telemetry", v2(suite=9, flags=0xfe)[:54], "malformed"),
            # Version before suite, suite before flags, flags before the key.
            ("plant/7/telemetry", bytes([4, 9, 0xfe]) + env[3:], "unsupported_version"),
            ("plant/7/telemetry", v2(suite=9, flags=0xfe), "unsupported_suite"),
            ("plant/7/telemetry", v2(flags=0x80, key=k(0xdeadbeef)), "malformed"),
            ("plant/7/telemetry", v2(flags=0x03, key=k(3)), "malformed"),
            # The key checks, v2 and v1 layouts.
            ("plant/7/telemetry", v2(key=k(0)), "unknown_key"),
            ("plant/7/telemetry", v1(key=k(0)), "unknown_key"),
            # Key checks come before authentication: this is garbage, but
            # it names a retired key.
            ("plant/7/telemetry", v2(key=k(3), rest=bytes(60)), "key_retired"),
            ("plant/7/telemetry", v1(key=k(3), rest=bytes(60)), "key_retired"),
            # Retired is checked before the key name: key 3 is retired and
            # not a `commands` key.
            ("plant/7/cmd/x", v2(key=k(3), rest=bytes(60)), "key_retired"),
            ("plant/7/telemetry", v2(key=k(10), rest=bytes(60)), "wrong_key_for_topic"),
            ("plant/7/telemetry", v1(key=k(10), rest=bytes(60)), "wrong_key_for_topic"),
            ("plant/7/telemetry", v2(key=k(0xdeadbeef), rest=bytes(60)), "unknown_key"),
            # Authentication comes before the age check: a stale forgery is
            # a forgery, not merely expired.
            ("plant/7/telemetry", env[:-1] + bytes([env[-1] ^ 1]), "authentication_failed"),
        ]
        problems = []
        for topic, e, want in cases:
            problems += [f"{topic} / {len(e)} bytes {e[:3].hex()}: {p}" for p in
                         self._expect_error(lambda: op.open(topic, e, now_ms=now + 10**9), want)]
        # The flags are read only in v2: a v1 envelope's byte 2 is key_id.
        v = self.v1._ok("short") if self.v1 else None
        if v is None or parse_header(bytes.fromhex(v["envelope"])).flags != 0:
            problems.append("v1 header not read with flags 0")
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
        if h.version != VERSION_2 or h.flags != 0 or env[2] != 0:
            problems.append("a sealer did not write v2 with flags 0 for a live message")
        if sealer.seal("plant/9/telemetry", b"again").data[31:39] != (1).to_bytes(8, "big"):
            problems.append("sequence did not advance")
        # One counter per session across topics (section 5).
        if sealer.seal("plant/9/cmd/x", b"other").data[31:39] != (2).to_bytes(8, "big"):
            problems.append("sequence not shared across topics")
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

    def _opener(self, **overrides) -> Opener:
        return Opener(self.policy, self.keyring, ReplayConfig(**{**vars(self.config), **overrides}))

    def sc_retained(self) -> list[str]:
        """Section 6 step 2: the vector's retained message (two days old),
        the refuse policy, and step order."""
        v = self._ok("retained")
        env, o = bytes.fromhex(v["envelope"]), v["open"]
        problems = []
        if o["now_ms"] - v["timestamp_ms"] <= self.config.max_age_ms:
            problems.append("the 'retained' vector is no longer older than max_age_ms")
        # Old and untracked: accepted every time, and no stream is tracked
        # afterwards (an old retained message never starts a stream).
        op = self.fresh_opener()
        for _ in range(2):
            problems += self._expect_ok("old retained vector", lambda: op.open(
                o["topic"], env, now_ms=o["now_ms"], retained=True))
        if op.guard.partition('telemetry').streams:
            problems.append("an old retained message started a stream")
        if op.guard.partition('telemetry').watermark != v["timestamp_ms"]:
            problems.append("an old retained message on an untracked stream did not raise "
                            "the watermark to its timestamp")
        # The same envelope delivered live two days late is simply expired.
        problems += self._expect_error(
            lambda: op.open(o["topic"], env, now_ms=o["now_ms"]), "expired")
        refusing = self._opener(retained="refuse")
        problems += self._expect_error(
            lambda: refusing.open(o["topic"], env, now_ms=o["now_ms"], retained=True),
            "retained_refused")
        # Refuse comes before the age checks: a young retained message is
        # refused too, not run through step 4.
        problems += [f"young+refuse: {p}" for p in self._expect_error(
            lambda: refusing.open(o["topic"], env, now_ms=v["timestamp_ms"], retained=True),
            "retained_refused")]
        if refusing.guard.partition('telemetry').streams:
            problems.append("a refused retained message started a stream")
        # Step 1 comes before step 2.
        problems += [f"future+refuse: {p}" for p in self._expect_error(
            lambda: refusing.open(o["topic"], env, now_ms=v["timestamp_ms"] - 10**6,
                                  retained=True), "not_yet_valid")]
        return problems

    def _retained_fixture(self):
        """One sender on topic t; m[seq] sealed at `ts` (the receiver's
        now), except 1500 (ts + 5) and the `old` ones, stamped 2 * max_age_ms
        before ts (3, 1100, 1600) or max_age_ms + 1 before it (4): retained,
        they take the age > max_age_ms branch at now ts."""
        t, ts, max_age = "plant/7/telemetry", 9_000_000, self.config.max_age_ms
        s = Sealer(self.policy, self.keyring, clock_ms=lambda: ts)
        stamps = {0: ts, 1: ts, 2: ts, 1029: ts, 1500: ts + 5, 2000: ts,
                  3: ts - 2 * max_age, 1100: ts - 2 * max_age, 1600: ts - 2 * max_age,
                  4: ts - max_age - 1}
        m = {}
        for seq, stamp in stamps.items():
            s.next_sequence = seq
            m[seq] = s.seal(t, b"%d" % seq, timestamp_ms=stamp, retain=True).data

        def live(i, op, now=ts):
            return op.open(t, m[i], now_ms=now)

        def ret(i, op, now=ts):
            return op.open(t, m[i], now_ms=now, retained=True)

        return t, ts, (s.sender, t.encode()), live, ret

    def sc_retained_young(self) -> list[str]:
        """Step 2, age <= max_age_ms: continue at step 4 exactly as for a
        live message, `replay` included (a young retained message may be a
        relayed copy of a live one: the retain flag is not authenticated)."""
        t, ts, sid, live, ret = self._retained_fixture()
        max_age = self.config.max_age_ms
        problems = []

        def state(op):
            st = op.guard.partition('telemetry').streams.get(sid)
            return None if st is None else (st.top, st.bitmap, st.floor,
                                             st.newest_ts, st.last_seen)

        # Retained copy BEFORE the live copy: the live copy is a duplicate,
        # and so is a second retained copy ...
        op = self.fresh_opener()
        ret(0, op)
        problems += [f"retained then live: {p}" for p in
                     self._expect_error(lambda: live(0, op), "duplicate")]
        problems += [f"retained twice: {p}" for p in
                     self._expect_error(lambda: ret(0, op), "duplicate")]
        # ... because it started the stream, like a live message would.
        if state(op) != (0, 1, 0, ts, ts):
            problems.append(f"young retained on a new stream: state {state(op)}")
        # Live copy first, then the retained one: duplicate.
        op = self.fresh_opener()
        live(0, op)
        problems += [f"live then retained: {p}" for p in
                     self._expect_error(lambda: ret(0, op), "duplicate")]
        # Above top it slides the window like a live message: top 1029, so
        # live 2 is 1027 below it, a replay; a second copy is a duplicate.
        ret(1029, op)
        if state(op) is None or state(op)[0] != 1029:
            problems.append("young retained above top did not slide the window")
        problems += [f"retained above top twice: {p}" for p in
                     self._expect_error(lambda: ret(1029, op), "duplicate")]
        problems += [f"live after retained slide: {p}" for p in
                     self._expect_error(lambda: live(2, op), "replay")]
        # In the window, unseen: accepted and recorded, with newest
        # timestamp and last-seen updated (a step-4 acceptance).
        live(2000, op)
        ret(1500, op, now=ts + 7)
        st = op.guard.partition('telemetry').streams[sid]
        if (st.newest_ts, st.last_seen) != (ts + 5, ts + 7):
            problems.append(f"young retained did not update newest/last-seen: "
                            f"{st.newest_ts - ts:+}, {st.last_seen - ts:+}")
        problems += [f"retained mid then live: {p}" for p in
                     self._expect_error(lambda: live(1500, op, now=ts + 8), "duplicate")]
        # Below the window: `replay`, retained or live, and nothing recorded.
        before = state(op)
        for now in (ts + 9, ts + 10):
            problems += [f"young retained below the window: {p}" for p in
                         self._expect_error(lambda: ret(0, op, now=now), "replay")]
        if state(op) != before:
            problems.append("young retained below the window changed the stream")
        problems += [f"live below window: {p}" for p in
                     self._expect_error(lambda: live(0, op, now=ts + 11), "replay")]
        # Untracked, timestamp <= watermark (raised by a real eviction):
        # `replay` either way; no stream started, nothing evicted.
        other = Sealer(self.policy, self.keyring)
        op = self._opener(max_streams=1)
        op.open("plant/8/telemetry", other.seal("plant/8/telemetry", b"a",
                                                timestamp_ms=ts).data, now_ms=ts)
        op.open("plant/9/telemetry", other.seal("plant/9/telemetry", b"b",
                                                timestamp_ms=ts + 1).data, now_ms=ts + 1)
        if op.guard.partition('telemetry').watermark != ts:
            problems.append(f"eviction set watermark {op.guard.partition('telemetry').watermark - ts:+}, expected ts")
        tracked = list(op.guard.partition('telemetry').streams)
        for now in (ts + 2, ts + 3):
            problems += [f"young retained at the watermark: {p}" for p in
                         self._expect_error(lambda: ret(0, op, now=now), "replay")]
        if list(op.guard.partition('telemetry').streams) != tracked or op.guard.partition('telemetry').watermark != ts:
            problems.append("young retained at the watermark was recorded or evicted a stream")
        problems += [f"live at watermark: {p}" for p in
                     self._expect_error(lambda: live(0, op, now=ts + 4), "replay")]
        # A young retained message on a new stream, with the table full,
        # evicts like a live one (and raises the watermark).
        op = self._opener(max_streams=1)
        op.open("plant/8/telemetry", other.seal("plant/8/telemetry", b"c",
                                                timestamp_ms=ts - 1).data, now_ms=ts)
        ret(1029, op)
        if list(op.guard.partition('telemetry').streams) != [sid] or op.guard.partition('telemetry').watermark != ts - 1:
            problems.append("young retained on a new stream did not evict like a live one")
        # Boundary: age exactly max_age_ms is young (starts a stream) ...
        op = self.fresh_opener()
        ret(2, op, now=ts + max_age)
        if sid not in op.guard.partition('telemetry').streams:
            problems.append("retained with age == max_age_ms did not start a stream")
        # ... one more ms is old (does not).
        op = self.fresh_opener()
        ret(2, op, now=ts + max_age + 1)
        ret(2, op, now=ts + max_age + 1)
        if op.guard.partition('telemetry').streams:
            problems.append("retained with age == max_age_ms + 1 started a stream")
        return problems

    def sc_retained_after_window(self) -> list[str]:
        """Hole (1) of the previous rules: live m accepted, then 1024 newer
        live messages on the same stream push it out of the window; a young
        retained copy of m is then `replay` (the previous rules accepted it,
        recording nothing). One message less, it is still a `duplicate`."""
        ts, t = 11_000_000, "plant/7/telemetry"
        s = Sealer(self.policy, self.keyring, clock_ms=lambda: ts)
        envs = [s.seal(t, b"%d" % i, retain=True).data for i in range(WINDOW + 1)]   # 0 .. 1024
        op = self.fresh_opener()
        problems = []
        for e in envs[:WINDOW]:                    # m = 0, then 1 .. 1023
            op.open(t, e, now_ms=ts)
        problems += [f"retained m, top 1023: {p}" for p in self._expect_error(
            lambda: op.open(t, envs[0], now_ms=ts + 1, retained=True), "duplicate")]
        op.open(t, envs[WINDOW], now_ms=ts + 2)    # the 1024th newer one
        st = op.guard.partition('telemetry').streams[(s.sender, t.encode())]
        before = (st.top, st.bitmap, st.floor, st.newest_ts, st.last_seen)
        for now in (ts + 3, ts + self.config.max_age_ms):     # both young
            problems += [f"retained m, top 1024, now {now - ts:+}: {p}" for p in
                         self._expect_error(lambda: op.open(t, envs[0], now_ms=now,
                                                            retained=True), "replay")]
        if (st.top, st.bitmap, st.floor, st.newest_ts, st.last_seen) != before:
            problems.append("refused retained copy changed the stream")
        problems += [f"live m, top 1024: {p}" for p in self._expect_error(
            lambda: op.open(t, envs[0], now_ms=ts + 4), "replay")]
        return problems

    def sc_restart_floor(self) -> list[str]:
        """Hole (2) of the previous rules: a stream evicted (max_streams 1)
        and started again by a newer message must not accept the messages
        of its first tracking, although their sequences are inside the new
        window and unseen there: they are at or below the new `floor`."""
        t1, t2 = "plant/1/telemetry", "plant/2/telemetry"
        problems = []

        def scenario():
            clock = {"ts": 0}
            a = Sealer(self.policy, self.keyring, clock_ms=lambda: clock["ts"])

            def seal(topic, stamp):
                clock["ts"] = stamp
                return a.seal(topic, b"x", retain=True).data

            op = self._opener(max_streams=1)
            firsts = [seal(t1, 1_000), seal(t1, 1_200)]          # sequences 0, 1
            for e in firsts:
                op.open(t1, e, now_ms=2_000)
            op.open(t2, seal(t2, 2_000), now_ms=2_000)           # evicts t1
            if op.guard.partition('telemetry').watermark != 1_200:
                problems.append(f"eviction: watermark {op.guard.partition('telemetry').watermark}, expected 1200")
            wm = op.guard.partition('telemetry').watermark
            op.open(t1, seal(t1, 2_500), now_ms=2_500)           # restarts t1, top 3
            return a, op, firsts, wm, seal

        a, op, firsts, wm, seal = scenario()
        sid = (a.sender, t1.encode())
        st = op.guard.partition('telemetry').streams.get(sid)
        if st is None or st.top != 3:
            return problems + ["newer message did not restart the evicted stream"]
        # The spec's promise: floor >= the evicted state's newest timestamp.
        # floor is the watermark the restarting message was compared with,
        # taken before making room: 1200, although making room then evicts
        # t2 and raises the watermark to 2000.
        if st.floor != wm or op.guard.partition('telemetry').watermark != 2_000:
            problems.append(f"floor {st.floor}, watermark {op.guard.partition('telemetry').watermark}, "
                            f"expected floor {wm} (evicted newest), watermark 2000")
        before = (st.top, st.bitmap, st.floor, st.newest_ts, st.last_seen)
        for i, e in enumerate(firsts):
            problems += [f"young retained copy of first-tracking message {i}: {p}" for p in
                         self._expect_error(lambda: op.open(t1, e, now_ms=2_600,
                                                            retained=True), "replay")]
        if (st.top, st.bitmap, st.floor, st.newest_ts, st.last_seen) != before:
            problems.append("refused replay changed the restarted stream")
        # Live replays, on a second run of the same scenario (so a wrongly
        # accepted retained copy above cannot mask them as duplicates).
        a, op, firsts, wm, seal = scenario()
        for i, e in enumerate(firsts):
            problems += [f"live replay of first-tracking message {i}: {p}" for p in
                         self._expect_error(lambda: op.open(t1, e, now_ms=2_600), "replay")]
        # The floor refuses only what is at or below it: newer messages are
        # still accepted out of order inside the window.
        e4, e5 = seal(t1, 2_700), seal(t1, 2_650)              # sequences 4, 5
        problems += self._expect_ok("newer message after restart",
                                    lambda: op.open(t1, e5, now_ms=2_700))
        problems += self._expect_ok("newer message, out of order, after restart",
                                    lambda: op.open(t1, e4, now_ms=2_700))
        return problems

    def sc_retained_old(self) -> list[str]:
        """Step 2, age > max_age_ms: only a tracked window that holds the
        sequence is consulted (duplicate if seen, else set the bit and
        nothing else); otherwise accept without starting a stream or
        evicting, raising the watermark (untracked) or the floor (tracked,
        above top) to the message's timestamp. Below the window this is the
        documented residual: nothing changes, and neither the floor nor the
        watermark applies to it."""
        t, ts, sid, live, ret = self._retained_fixture()
        problems = []
        # (c) Untracked: accepted every time, never starts a stream.
        op = self.fresh_opener()
        for _ in range(2):
            problems += self._expect_ok("old retained, untracked", lambda: ret(3, op))
        if op.guard.partition('telemetry').streams:
            problems.append("old retained message started a stream")
        if op.guard.partition('telemetry').watermark != ts - 2 * self.config.max_age_ms:
            problems.append(f"old retained, untracked: watermark {op.guard.partition('telemetry').watermark - ts:+}, "
                            f"expected its timestamp (-2 * max_age_ms)")
        # Not compared with the watermark either, which only rises.
        op.guard.partition('telemetry').watermark = ts
        problems += self._expect_ok("old retained at the watermark", lambda: ret(1100, op))
        if op.guard.partition('telemetry').streams or op.guard.partition('telemetry').watermark != ts:
            problems.append("old retained message at the watermark started a stream "
                            "or lowered the watermark")
        # (c) Above top: accepted without moving top (with top at 1100,
        # live 2 would be 1098 below it, a replay), and again.
        op = self.fresh_opener()
        live(0, op)
        for _ in range(2):
            problems += self._expect_ok("old retained above top", lambda: ret(1100, op))
        st = op.guard.partition('telemetry').streams[sid]
        if (st.top, st.bitmap) != (0, 1):
            problems.append(f"old retained moved the window: top {st.top}")
        if (st.floor, st.newest_ts, st.last_seen) != (ts - 2 * self.config.max_age_ms, ts, ts):
            problems.append(f"old retained above top: floor {st.floor - ts:+} (expected its "
                            f"timestamp), newest {st.newest_ts - ts:+}, "
                            f"last-seen {st.last_seen - ts:+} (expected unchanged)")
        problems += self._expect_ok("live after old retained above top", lambda: live(2, op))
        # (c) In the window, unseen: bit set and nothing else, so a second
        # copy is a duplicate; newest timestamp and last-seen untouched.
        live(2000, op)            # window 977 .. 2000 holds 1100
        ret(1100, op, now=ts + 7)
        problems += [f"old retained twice in window: {p}" for p in
                     self._expect_error(lambda: ret(1100, op, now=ts + 8), "duplicate")]
        if (st.top, st.newest_ts, st.last_seen) != (2000, ts, ts):
            problems.append("old retained acceptance changed top, newest timestamp or last-seen")
        if not st.bitmap >> (2000 - 1100) & 1:
            problems.append("old retained in the window did not set its bit")
        # Below the window: accepted without recording, every time; the
        # floor stays (4 is stamped above it, and still old), and so does
        # the watermark.
        before = (st.top, st.bitmap, st.floor, st.newest_ts, st.last_seen, op.guard.partition('telemetry').watermark)
        for i in (3, 4, 3, 4):
            problems += self._expect_ok(f"old retained {i} below the window",
                                        lambda: ret(i, op))
        if (st.top, st.bitmap, st.floor, st.newest_ts, st.last_seen,
                op.guard.partition('telemetry').watermark) != before:
            problems.append("old retained below the window recorded something or moved "
                            "the floor or the watermark")
        # Its live copy is expired whatever the window says.
        problems += [f"old live: {p}" for p in
                     self._expect_error(lambda: live(1100, self.fresh_opener()), "expired")]
        # (c) The residual with every new mechanism in play: a full table
        # (max_streams 1), a raised watermark and a restarted stream whose
        # floor is above the old message's timestamp. Below the window the
        # old retained message is still accepted, every time, and nothing
        # changes: no stream started or evicted, watermark and state kept.
        other = Sealer(self.policy, self.keyring)
        op = self._opener(max_streams=1)
        live(0, op, now=ts)
        op.open("plant/8/telemetry", other.seal("plant/8/telemetry", b"e",
                                                timestamp_ms=ts + 1).data, now_ms=ts + 1)
        live(1500, op, now=ts + 5)      # restarts sid (floor >= ts), window 477 .. 1500
        st = op.guard.partition('telemetry').streams.get(sid)
        if st is None or st.top != 1500 or st.floor < ts or op.guard.partition('telemetry').watermark < ts:
            problems.append("restart fixture: unexpected floor or watermark")
        else:
            snap = lambda: (list(op.guard.partition('telemetry').streams), op.guard.partition('telemetry').watermark, st.top, st.bitmap,
                            st.floor, st.newest_ts, st.last_seen)
            before = snap()
            for now in (ts + 6, ts + 7):
                problems += self._expect_ok("old retained below window of a restarted stream",
                                            lambda: ret(3, op, now=now))
            if snap() != before:
                problems.append("old retained below the window changed the guard")
            # In the window, the floor is not consulted either (step 2 names
            # only the window): unseen is accepted and sets the bit, once.
            problems += self._expect_ok("old retained in window, below the floor",
                                        lambda: ret(1100, op, now=ts + 8))
            problems += [f"old retained in window twice: {p}" for p in self._expect_error(
                lambda: ret(1100, op, now=ts + 9), "duplicate")]
            # Above top with the floor (>= ts) above its timestamp: accepted,
            # and the floor only rises, so it stays.
            before = snap()
            problems += self._expect_ok("old retained above top, below the floor",
                                        lambda: ret(1600, op, now=ts + 9))
            if snap() != before:
                problems.append("old retained above top lowered the floor or changed the stream")
            # Untracked with the table full (the next message evicts sid):
            # accepted, evicts nothing, watermark kept (it is above the
            # message's timestamp, and only rises).
            op.open("plant/8/telemetry", other.seal("plant/8/telemetry", b"f",
                                                    timestamp_ms=ts + 10).data, now_ms=ts + 10)
            if sid in op.guard.partition('telemetry').streams:
                problems.append("fixture: the stream was not evicted")
            before = (list(op.guard.partition('telemetry').streams), op.guard.partition('telemetry').watermark)
            problems += self._expect_ok("old retained, untracked, table full",
                                        lambda: ret(3, op, now=ts + 11))
            if (list(op.guard.partition('telemetry').streams), op.guard.partition('telemetry').watermark) != before:
                problems.append("old retained on an untracked stream evicted or moved the watermark")
        return problems

    def sc_streams(self) -> list[str]:
        """Replay state is per (sender, topic): one session's counter runs
        across topics (section 5), so a message held back on topic b while
        more than a window's worth passes on topic a is still accepted."""
        ts = 7_000_000
        s = Sealer(self.policy, self.keyring, clock_ms=lambda: ts)
        ta, tb = "plant/1/telemetry", "plant/2/telemetry"
        late_b = s.seal(tb, b"late").data                     # sequence 0
        on_a = [s.seal(ta, b"a").data for _ in range(WINDOW + 100)]   # 1 .. 1124
        problems = []
        if parse_header(on_a[-1]).sequence != WINDOW + 100:
            problems.append("sequence counter is not shared across topics")
        op = self.fresh_opener()
        for e in on_a:
            op.open(ta, e, now_ms=ts)
        try:
            op.open(tb, late_b, now_ms=ts)
        except MqsealError as e:
            problems.append(f"late message on another topic refused: {e.name}")
        problems += [f"late repeat: {p}" for p in
                     self._expect_error(lambda: op.open(tb, late_b, now_ms=ts), "duplicate")]
        # Within topic a, the window still applies.
        problems += [f"topic a: {p}" for p in
                     self._expect_error(lambda: op.open(ta, on_a[0], now_ms=ts), "replay")]
        # Another sender on the same topic is another stream.
        other = Sealer(self.policy, self.keyring, clock_ms=lambda: ts)
        op.open(ta, other.seal(ta, b"o").data, now_ms=ts)
        if len(op.guard.partition('telemetry').streams) != 3:
            problems.append(f"{len(op.guard.partition('telemetry').streams)} streams tracked, expected 3")
        return problems

    def sc_eviction(self) -> list[str]:
        """Bounded memory, per stream (section 6)."""
        problems = []
        t1, t2, t3 = "plant/1/telemetry", "plant/2/telemetry", "plant/3/telemetry"
        clock = {"ts": 1_000}
        a = Sealer(self.policy, self.keyring, clock_ms=lambda: clock["ts"])

        def seal(topic, ts):
            clock["ts"] = ts
            return a.seal(topic, b"x").data

        # The watermark starts at 0: a new stream stamped 0 is refused.
        op = self.fresh_opener()
        if op.guard.partition('telemetry').watermark != 0:
            problems.append("watermark does not start at 0")
        problems += [f"ts 0: {p}" for p in
                     self._expect_error(lambda: op.open(t1, seal(t1, 0), now_ms=0), "replay")]
        op.open(t1, seal(t1, 1), now_ms=1)

        # One stream of room: two topics of one sender are two streams, so
        # the second evicts the first and raises the watermark to its newest
        # timestamp (1000); a1 can then not be replayed, and a newer message
        # on t1 (1500) starts it again, evicting t2 (watermark 2000).
        op = self._opener(max_streams=1)
        a1 = seal(t1, 1_000)
        op.open(t1, a1, now_ms=2_000)
        op.open(t2, seal(t2, 2_000), now_ms=2_000)
        if op.guard.partition('telemetry').watermark != 1_000:
            problems.append(f"watermark {op.guard.partition('telemetry').watermark}, expected 1000")
        problems += [f"evicted replay: {p}" for p in
                     self._expect_error(lambda: op.open(t1, a1, now_ms=2_000), "replay")]
        op.open(t1, seal(t1, 1_500), now_ms=2_001)
        if op.guard.partition('telemetry').watermark != 2_000 or list(op.guard.partition('telemetry').streams) != [(a.sender, t1.encode())]:
            problems.append(f"second eviction: watermark {op.guard.partition('telemetry').watermark}")
        problems += [f"below watermark: {p}" for p in self._expect_error(
            lambda: op.open(t3, seal(t3, 1_800), now_ms=2_002), "replay")]
        # The watermark only ever rises: evicting t1 (newest 1500) keeps it.
        op.open(t3, seal(t3, 2_500), now_ms=2_003)
        if op.guard.partition('telemetry').watermark != 2_000:
            problems.append(f"watermark lowered to {op.guard.partition('telemetry').watermark}")

        # Stale streams are dropped first (all of them), and raise the
        # watermark to their newest timestamp (or floor, if larger: see
        # sc_age_drop_floor) like any dropped stream; only
        # if none is stale does the least recently seen one go (by receiver
        # time, not by timestamp).
        max_age = self.config.max_age_ms
        op = self._opener(max_streams=2)
        op.open(t1, seal(t1, 10_000), now_ms=10_000)
        op.open(t2, seal(t2, 20_000), now_ms=20_000)
        now = 10_000 + max_age + 1           # t1 is now stale, t2 is not
        op.open(t3, seal(t3, now), now_ms=now)
        if op.guard.partition('telemetry').watermark != 10_000 or (a.sender, t1.encode()) in op.guard.partition('telemetry').streams \
                or (a.sender, t2.encode()) not in op.guard.partition('telemetry').streams:
            problems.append(f"stale stream: watermark {op.guard.partition('telemetry').watermark}, expected 10000, "
                            f"or the wrong stream dropped")
        # Every stale stream goes, not just one; the watermark takes the
        # largest of their newest timestamps.
        op = self._opener(max_streams=3)
        op.open(t1, seal(t1, 10_000), now_ms=10_000)
        op.open(t2, seal(t2, 12_000), now_ms=12_000)
        op.open(t3, seal(t3, 30_000), now_ms=30_000)
        now = 12_000 + max_age + 1           # t1 and t2 stale, t3 not
        op.open("plant/4/telemetry", seal("plant/4/telemetry", now), now_ms=now)
        if op.guard.partition('telemetry').watermark != 12_000 or len(op.guard.partition('telemetry').streams) != 2:
            problems.append(f"two stale streams: watermark {op.guard.partition('telemetry').watermark}, "
                            f"{len(op.guard.partition('telemetry').streams)} tracked, expected 12000 and 2")
        # Least recently seen is by receiver time, not by timestamp: t2 has
        # the older timestamp but was seen later, so t1 goes.
        op = self._opener(max_streams=2)
        op.open(t1, seal(t1, 100_000), now_ms=100_000)
        op.open(t2, seal(t2, 50_000), now_ms=110_000)
        op.open(t3, seal(t3, 120_000), now_ms=120_000)
        if op.guard.partition('telemetry').watermark != 100_000 or (a.sender, t1.encode()) in op.guard.partition('telemetry').streams:
            problems.append(f"LRU eviction wrong: watermark {op.guard.partition('telemetry').watermark}")
        # Exactly max_age_ms old is not stale: the stream is evicted (and
        # the watermark raised), not dropped quietly.
        op = self._opener(max_streams=1)
        op.open(t1, seal(t1, 10_000), now_ms=10_000)
        op.open(t2, seal(t2, 10_000 + max_age), now_ms=10_000 + max_age)
        if op.guard.partition('telemetry').watermark != 10_000:
            problems.append(f"stream exactly max_age_ms old treated as stale")
        # A tie in last-seen time: the spec allows either victim, so only
        # check that exactly one of the tied streams went and the watermark
        # rose to its newest timestamp.
        op = self._opener(max_streams=2)
        newest = {t1: 200_000, t2: 150_000}
        for topic, stamp in newest.items():
            op.open(topic, seal(topic, stamp), now_ms=210_000)
        op.open(t3, seal(t3, 220_000), now_ms=220_000)
        gone = [tp for tp in newest if (a.sender, tp.encode()) not in op.guard.partition('telemetry').streams]
        if len(gone) != 1 or op.guard.partition('telemetry').watermark != newest[gone[0]]:
            problems.append(f"tied eviction: dropped {gone}, watermark {op.guard.partition('telemetry').watermark}")
        # max_streams is 1 to 2^24; anything else is invalid_argument.
        for bad in (0, -1, MAX_STREAMS_LIMIT + 1):
            problems += [f"max_streams {bad}: {p}" for p in self._expect_error(
                lambda b=bad: self._opener(max_streams=b), "invalid_argument")]
        for good in (1, MAX_STREAMS_LIMIT):
            problems += self._expect_ok(f"max_streams {good}",
                                        lambda g=good: self._opener(max_streams=g))
        return problems

    def sc_age_drop_clock_back(self) -> list[str]:
        """Hole of the previous rules: a stream dropped for its age did not
        raise the watermark. max_streams 1, max_age_ms 1000: m accepted at
        now t; a new stream at now t + 1001 drops m's stream for its age
        (watermark becomes t); the receiver's clock steps back and m comes
        again live at now t + 999 (age 999, young): `replay`. The previous
        rules left the watermark at 0 and accepted m a second time."""
        t, max_age = 20_000_000, 1_000
        ta, tb = "plant/1/telemetry", "plant/2/telemetry"
        s = Sealer(self.policy, self.keyring)
        m = s.seal(ta, b"m", timestamp_ms=t, retain=True).data
        n = s.seal(tb, b"n", timestamp_ms=t + 1_001).data
        problems = []
        for how in ("live", "young retained"):
            op = self._opener(max_streams=1, max_age_ms=max_age)
            op.open(ta, m, now_ms=t)
            op.open(tb, n, now_ms=t + 1_001)
            if list(op.guard.partition('telemetry').streams) != [(s.sender, tb.encode())] or op.guard.partition('telemetry').watermark != t:
                problems.append(f"{how}: age drop left watermark {op.guard.partition('telemetry').watermark - t:+} "
                                f"(expected t) or the wrong streams")
            before = (list(op.guard.partition('telemetry').streams), op.guard.partition('telemetry').watermark)
            problems += [f"{how} m after clock step back: {p}" for p in self._expect_error(
                lambda: op.open(ta, m, now_ms=t + 999, retained=how != "live"), "replay")]
            if (list(op.guard.partition('telemetry').streams), op.guard.partition('telemetry').watermark) != before:
                problems.append(f"{how}: refused m changed the guard")
        # Without the step back, m is simply expired.
        problems += [f"m without step back: {p}" for p in self._expect_error(
            lambda: op.open(ta, m, now_ms=t + 1_002), "expired")]
        # A newer message on m's topic starts the stream again, floor t.
        problems += self._expect_ok("newer message on the dropped stream",
                                    lambda: op.open(ta, s.seal(ta, b"m2", timestamp_ms=t + 1)
                                                    .data, now_ms=t + 999))
        st = op.guard.partition('telemetry').streams.get((s.sender, ta.encode()))
        if st is None or st.floor != t:
            problems.append(f"restarted stream floor {None if st is None else st.floor - t:+}, "
                            f"expected t")
        return problems

    def sc_age_drop_floor(self) -> list[str]:
        """Hole of the previous rules: a dropped stream raised the watermark
        to its newest timestamp only, forgetting a floor raised above it.
        max_streams 1, max_age_ms 1000: p (sequence 0, timestamp t - 1) live
        at now t - 1; m (sequence 1, timestamp t) retained at now t + 1001,
        old and above top: the floor becomes t, newest stays t - 1. Another
        stream's message at now t + 1001 drops p's stream for its age: the
        watermark becomes t, the larger of newest and floor. The receiver's
        clock steps back and m comes live (or young retained) at now t + 999:
        `replay`. The previous rules left the watermark at t - 1 and accepted
        m a second time. Timestamps never decrease as sequence grows."""
        t, max_age = 50_000_000, 1_000
        ta, tb = "plant/1/telemetry", "plant/2/telemetry"
        s = Sealer(self.policy, self.keyring)
        p = s.seal(ta, b"p", timestamp_ms=t - 1).data                # sequence 0
        m = s.seal(ta, b"m", timestamp_ms=t, retain=True).data       # sequence 1
        n = s.seal(tb, b"n", timestamp_ms=t + 1_001).data            # sequence 2
        sid = (s.sender, ta.encode())
        problems = []
        for again in ("live", "young retained"):
            op = self._opener(max_streams=1, max_age_ms=max_age)
            problems += self._expect_ok(f"{again}: p", lambda: op.open(ta, p, now_ms=t - 1))
            problems += self._expect_ok(f"{again}: old retained m",
                                        lambda: op.open(ta, m, now_ms=t + 1_001, retained=True))
            st = op.guard.partition('telemetry').streams.get(sid)
            if st is None or (st.top, st.floor, st.newest_ts) != (0, t, t - 1):
                problems.append(f"{again}: old retained m above top did not raise the floor "
                                f"to t with newest t - 1")
            problems += self._expect_ok(f"{again}: other stream's message",
                                        lambda: op.open(tb, n, now_ms=t + 1_001))
            if list(op.guard.partition('telemetry').streams) != [(s.sender, tb.encode())] or op.guard.partition('telemetry').watermark != t:
                problems.append(f"{again}: age drop left watermark {op.guard.partition('telemetry').watermark - t:+} "
                                f"(expected t, p's floor) or the wrong streams")
            before = (list(op.guard.partition('telemetry').streams), op.guard.partition('telemetry').watermark)
            problems += [f"{again} m after clock step back: {e}" for e in self._expect_error(
                lambda: op.open(ta, m, now_ms=t + 999, retained=again != "live"), "replay")]
            if (list(op.guard.partition('telemetry').streams), op.guard.partition('telemetry').watermark) != before:
                problems.append(f"{again}: refused m changed the guard")
        return problems

    def sc_new_stream_floor(self) -> list[str]:
        """Hole of the previous rules: `floor` was the watermark after
        making room. max_streams 1: stream 1 accepts a message stamped
        t + 10; stream 2's first message, stamped t + 5, is compared with
        watermark 0 and accepted (evicting stream 1, watermark t + 10). Its
        floor is 0, the value it was compared with, so its immediate
        redelivery is `duplicate`; the previous rules set floor t + 10 and
        called it `replay`."""
        t = 30_000_000
        t1, t2 = "plant/1/telemetry", "plant/2/telemetry"
        s = Sealer(self.policy, self.keyring)
        e1 = s.seal(t1, b"1", timestamp_ms=t + 10).data
        e2 = s.seal(t2, b"2", timestamp_ms=t + 5, retain=True).data
        problems = []
        for how in ("live", "young retained"):
            op = self._opener(max_streams=1)
            op.open(t1, e1, now_ms=t + 10)
            problems += self._expect_ok(f"{how}: stream 2's first message",
                                        lambda: op.open(t2, e2, now_ms=t + 10,
                                                        retained=how != "live"))
            st = op.guard.partition('telemetry').streams.get((s.sender, t2.encode()))
            if st is None or st.floor != 0 or op.guard.partition('telemetry').watermark != t + 10:
                problems.append(f"{how}: floor {None if st is None else st.floor}, watermark "
                                f"{op.guard.partition('telemetry').watermark - t:+}; expected 0 and t + 10")
            for again in ("live", "young retained"):
                problems += [f"{how}, redelivered {again}: {p}" for p in self._expect_error(
                    lambda: op.open(t2, e2, now_ms=t + 11, retained=again != "live"),
                    "duplicate")]
            # Stream 1's message is still refused: at the watermark.
            problems += [f"{how}, stream 1 again: {p}" for p in self._expect_error(
                lambda: op.open(t1, e1, now_ms=t + 12), "replay")]
        return problems

    def sc_old_retained_clock_back(self) -> list[str]:
        """Hole of the previous rules: an old retained message accepted
        without a window changed nothing. max_age_ms 1000: m (timestamp t)
        comes retained at now t + 1001 (age 1001, old) and is accepted; the
        receiver's clock steps back and m comes again, live or retained, at
        now t + 999 (age 999, young): `replay`, because step 2 raised the
        watermark (stream untracked) or the stream's floor (tracked, m's
        sequence above top) to t. The previous rules accepted m twice."""
        t, max_age = 40_000_000, 1_000
        topic = "plant/1/telemetry"
        problems = []
        for tracked in (False, True):
            s = Sealer(self.policy, self.keyring)
            p = s.seal(topic, b"p", timestamp_ms=t - 1).data       # sequence 0
            m = s.seal(topic, b"m", timestamp_ms=t, retain=True).data   # sequence 1
            sid = (s.sender, topic.encode())
            for again in ("live", "young retained"):
                how = f"{'tracked, above top' if tracked else 'untracked'}, {again}"
                op = self._opener(max_age_ms=max_age)
                if tracked:
                    op.open(topic, p, now_ms=t - 1)                # top 0, floor 0
                problems += self._expect_ok(f"{how}: old retained m",
                                            lambda: op.open(topic, m, now_ms=t + 1_001,
                                                            retained=True))
                st = op.guard.partition('telemetry').streams.get(sid)
                if tracked:
                    if st is None or (st.top, st.bitmap, st.floor, st.newest_ts,
                                      st.last_seen) != (0, 1, t, t - 1, t - 1):
                        problems.append(f"{how}: old retained m above top did not raise "
                                        f"the floor to t (and only that)")
                    if op.guard.partition('telemetry').watermark != 0:
                        problems.append(f"{how}: old retained m moved the watermark")
                elif st is not None or op.guard.partition('telemetry').watermark != t:
                    problems.append(f"{how}: old retained m started a stream or left the "
                                    f"watermark at {op.guard.partition('telemetry').watermark - t:+}, expected t")
                snap = lambda: (op.guard.partition('telemetry').watermark, {k: vars(v).copy()
                                                     for k, v in op.guard.partition('telemetry').streams.items()})
                before = snap()
                problems += [f"{how} m after clock step back: {e}" for e in self._expect_error(
                    lambda: op.open(topic, m, now_ms=t + 999, retained=again != "live"),
                    "replay")]
                if snap() != before:
                    problems.append(f"{how}: refused m changed the guard")
                # Nothing newer is refused: a message stamped t + 1 (sequence
                # 2) is accepted at the same stepped-back time.
                n = s.seal(topic, b"n", timestamp_ms=t + 1).data
                problems += self._expect_ok(f"{how}: newer message after the step back",
                                            lambda: op.open(topic, n, now_ms=t + 999))
        return problems

    def sc_policy_duplicates(self) -> list[str]:
        problems = []
        for rules in ([("a/#", "k"), ("a/#", "j")], [("a/+", "k"), ("a/+", None)],
                      [("a", None), ("a", None)]):
            problems += [f"{rules}: {p}" for p in
                         self._expect_error(lambda r=rules: Policy(r), "invalid_argument")]
        Policy([("a/+", "k"), ("a/#", "k"), ("+/+", "k"), ("a", "k")])   # distinct: fine
        return problems

    def sc_json_shape(self) -> list[str]:
        """Section 11: retired keys carry no material, the others do; the
        replay block holds the spec's defaults and names them as it does."""
        problems = []
        base = {"id": 99, "name": "n", "material": "00" * 32}
        problems += [f"retired with material: {p}" for p in self._expect_error(
            lambda: Keyring.from_json([{**base, "state": "retired"}]), "invalid_argument")]
        problems += [f"active without material: {p}" for p in self._expect_error(
            lambda: Keyring.from_json([{"id": 99, "name": "n", "state": "active"}]),
            "invalid_argument")]
        problems += [f"retained policy: {p}" for p in self._expect_error(
            lambda: ReplayConfig(retained="accept"), "invalid_argument")]
        if vars(self.config) != vars(ReplayConfig()):
            problems.append(f"replay block {vars(self.config)} is not the defaults")
        retired = self.keyring.get(3)
        if retired is None or retired.state != "retired" or retired.material is not None:
            problems.append("key 3 is not a retired key without material")
        return problems

    def sc_size_limits(self) -> list[str]:
        """Section 4's length bounds, without allocating 256 MiB: only the
        length is looked at before refusing."""
        class Sized:
            def __init__(self, n: int): self.n = n
            def __len__(self) -> int: return self.n
        problems = self._expect_error(lambda: parse_header(Sized(MAX_ENVELOPE + 1)), "malformed")
        problems += self._expect_error(
            lambda: Sealer(self.policy, self.keyring).seal(
                "plant/7/telemetry", Sized(MAX_PAYLOAD + 1)), "payload_too_large")
        # At the bounds the length is accepted: the code goes on to read
        # the bytes, which a Sized has not (TypeError), instead of refusing.
        if MAX_PAYLOAD != 268435455 - 55:
            problems.append(f"MAX_PAYLOAD {MAX_PAYLOAD}")
        for label, fn in (("envelope of MAX_ENVELOPE bytes",
                           lambda: parse_header(Sized(MAX_ENVELOPE))),
                          ("payload of MAX_PAYLOAD bytes",
                           lambda: Sealer(self.policy, self.keyring).seal(
                               "plant/7/telemetry", Sized(MAX_PAYLOAD)))):
            try:
                fn()
                problems.append(f"{label}: no TypeError")
            except TypeError:
                pass
            except MqsealError as e:
                problems.append(f"{label}: refused with {e.name}")
        return problems

# ==========================================================================
# The other vector files (section 13): JSON conventions, tokens, policies,
# delivery sequences, files and records.
# ==========================================================================

# Section 13: every 64-bit integer is a JSON string of decimal digits. These
# are the fields that hold one, in every file; 32-bit ones (key IDs,
# max_streams) stay numbers.
INT64_FIELDS = frozenset({
    "timestamp_ms", "sequence", "now_ms", "max_age_ms", "max_future_skew_ms",
    "retained_max_age_ms", "expiry_s", "now_s", "opslimit", "memlimit",
    "max_clock_skew_s", "max_lifetime_s",
})
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
JSON_SAFE_INT = 2**53 - 1


def load_vectors(path: Path) -> dict:
    """Parse a vector file and turn its 64-bit decimal strings into ints.
    Raises ValueError if a 64-bit field is a bare JSON number, or if any bare
    number is beyond what a double holds exactly (what section 13 forbids)."""
    def walk(node, key=None):
        if isinstance(node, dict):
            return {k: walk(v, k) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, key) for v in node]
        if key in INT64_FIELDS:
            if not isinstance(node, str) or not _DECIMAL.fullmatch(node):
                raise ValueError(f"{path.name}: {key} = {node!r} is not a decimal string")
            value = int(node)
            if value > U64_MAX:
                raise ValueError(f"{path.name}: {key} = {node} exceeds 64 bits")
            return value
        if isinstance(node, float) or (isinstance(node, int) and not isinstance(node, bool)
                                       and abs(node) > JSON_SAFE_INT):
            raise ValueError(f"{path.name}: {key} = {node!r}: a number JSON.parse would round")
        return node
    return walk(json.loads(path.read_text(encoding="utf-8")))


# --------------------------------------------------------------------------
# Section 1: Argon2id (memlimit in BYTES) through libsodium's crypto_pwhash.
# --------------------------------------------------------------------------

OPSLIMIT_MIN, OPSLIMIT_MAX = 1, 4294967295
MEMLIMIT_MIN, MEMLIMIT_MAX = 8192, 4398046510080
_ALG_ARGON2ID13 = 2
_sodium.crypto_pwhash.argtypes = [ctypes.c_char_p, ctypes.c_ulonglong, ctypes.c_char_p,
                                  ctypes.c_ulonglong, ctypes.c_char_p, ctypes.c_ulonglong,
                                  ctypes.c_size_t, ctypes.c_int]
_sodium.crypto_pwhash.restype = ctypes.c_int


def limits_valid(opslimit: int, memlimit: int) -> bool:
    return OPSLIMIT_MIN <= opslimit <= OPSLIMIT_MAX and MEMLIMIT_MIN <= memlimit <= MEMLIMIT_MAX


def argon2id(password: bytes, salt: bytes, opslimit: int, memlimit_bytes: int) -> bytes:
    """Argon2id v1.3, parallelism 1, 32 bytes; memlimit in bytes (libsodium
    turns it into floor(memlimit / 1024) KiB, RFC 9106's m)."""
    if not limits_valid(opslimit, memlimit_bytes) or len(salt) != 16:
        raise MqsealError("invalid_argument", "Argon2id limits or salt")
    out = ctypes.create_string_buffer(32)
    if _sodium.crypto_pwhash(out, 32, password, len(password), salt, opslimit,
                             memlimit_bytes, _ALG_ARGON2ID13) != 0:
        raise MqsealError("crypto_failure", "crypto_pwhash")
    return out.raw


# --------------------------------------------------------------------------
# Section 11: CONNECT tokens.
# --------------------------------------------------------------------------

TOKEN_PREFIX = b"mqs1."
TOKEN_LEN = 81
TOKEN_BINARY_LEN = 57
TOKEN_ALPHABET = re.compile(rb"[A-Za-z0-9_-]{76}")
USERNAME_RE = re.compile(r"[A-Za-z0-9_.@:-]{1,128}")
MAX_MQTT_STRING = 65535


def token_key_of(device_secret: bytes) -> bytes:
    return hashlib.blake2b(b"", digest_size=32, key=device_secret, salt=bytes(16),
                           person=b"mqseal token key").digest()


def token_mac(token_key: bytes, username: bytes, client_id: bytes, head: bytes) -> bytes:
    message = (len(username).to_bytes(2, "big") + username
               + len(client_id).to_bytes(2, "big") + client_id + head)
    return hashlib.blake2b(message, digest_size=32, key=token_key, salt=bytes(16),
                           person=b"mqseal token mac").digest()


def make_token(device_secret: bytes, username: str, client_id: str, expiry_s: int,
               nonce: bytes) -> str:
    head = b"\x01" + expiry_s.to_bytes(8, "big") + nonce
    mac = token_mac(token_key_of(device_secret), username.encode(), client_id.encode(), head)
    return (TOKEN_PREFIX + base64.urlsafe_b64encode(head + mac).rstrip(b"=")).decode()


MIN_TOKEN_MEMORY_S = 60   # section 11: an accepted token is remembered at least this long


def connect_name_problem(name: str) -> str | None:
    """Section 11: why a CONNECT username or client ID can never verify, or
    None. An MQTT string (at most 65535 bytes of well-formed UTF-8, no
    U+0000; empty allowed here) without the characters mosquitto refuses:
    controls U+0001..U+001F and U+007F..U+009F, noncharacters U+FDD0..U+FDEF
    and the last two code points of every plane."""
    try:
        raw = name.encode("utf-8", errors="strict")   # a lone surrogate is not UTF-8
    except UnicodeError:
        return "not well-formed UTF-8"
    if len(raw) > MAX_MQTT_STRING:
        return "longer than 65535 bytes"
    for ch in name:
        cp = ord(ch)
        if cp == 0:
            return "U+0000"
        if cp <= 0x1F or 0x7F <= cp <= 0x9F:
            return f"control character U+{cp:04X}"
        if 0xFDD0 <= cp <= 0xFDEF or cp & 0xFFFE == 0xFFFE:
            return f"noncharacter U+{cp:04X}"
    return None


class TokenVerifier:
    """Section 11's verifier: accepted tokens remembered per username, at
    most `max_tokens_per_user` (default 64) each, until now > K, where
    K = max(E + skew, acceptance + MIN_TOKEN_MEMORY_S)."""

    def __init__(self, token_keys: dict[str, bytes], max_clock_skew_s: int = 30,
                 max_lifetime_s: int = 3600, max_tokens_per_user: int = 64):
        if not 0 <= max_clock_skew_s <= 3600 or not 1 <= max_lifetime_s <= 86_400:
            raise MqsealError("invalid_argument", "skew or max lifetime out of range")
        self.token_keys = token_keys
        self.skew, self.max_lifetime = max_clock_skew_s, max_lifetime_s
        self.quota = max_tokens_per_user
        # A username without credentials gets its MAC computed all the same,
        # with a random key of the verifier's: authentication_failed.
        self.unknown_user_key = os.urandom(32)
        self.accepted: dict[str, dict[bytes, int]] = {}     # username -> nonce -> expiry

    def verify(self, username: str, client_id: str, token: str, now_s: int) -> None:
        for name in (username, client_id):
            if (problem := connect_name_problem(name)) is not None:
                raise MqsealError("malformed", f"name: {problem}")
        user_b, client_b, token_b = username.encode(), client_id.encode(), token.encode()
        if len(token_b) != TOKEN_LEN or not token_b.startswith(TOKEN_PREFIX):
            raise MqsealError("malformed", "not mqs1. + 76 characters")
        body = token_b[len(TOKEN_PREFIX):]
        if not TOKEN_ALPHABET.fullmatch(body):
            raise MqsealError("malformed", "not base64url")
        binary = base64.urlsafe_b64decode(body)        # 76 characters: exactly 57 bytes
        assert len(binary) == TOKEN_BINARY_LEN
        if binary[0] != 1:
            raise MqsealError("unsupported_version", str(binary[0]))
        key = self.token_keys.get(username, self.unknown_user_key)
        head, mac = binary[:25], binary[25:]
        if not hmac.compare_digest(token_mac(key, user_b, client_b, head), mac):
            raise MqsealError("authentication_failed")
        expiry = int.from_bytes(head[1:9], "big")
        if now_s - expiry > self.skew:
            raise MqsealError("expired")
        if expiry - now_s > self.max_lifetime + self.skew:
            raise MqsealError("not_yet_valid")
        mine = self.accepted.setdefault(username, {})
        # Forget this user's tokens past their keep-until: E + skew, and at
        # least MIN_TOKEN_MEMORY_S after acceptance.
        for nonce in [n for n, k in mine.items() if now_s > k]:
            del mine[nonce]
        if head[9:25] in mine:
            raise MqsealError("replay")
        if len(mine) >= self.quota:
            raise MqsealError("capacity_exceeded", "this user's quota is full")
        mine[head[9:25]] = max(expiry + self.skew, now_s + MIN_TOKEN_MEMORY_S)


def _outcome(fn: Callable[[], object]) -> tuple[str, object]:
    try:
        return "ok", fn()
    except MqsealError as e:
        return e.name, None


def check_tokens(doc: dict) -> list[tuple[str, list[str]]]:
    results = []
    p = doc["provisioning"]
    secret = argon2id(p["password"].encode(), bytes.fromhex(p["salt"]), p["opslimit"],
                      p["memlimit"])
    problems = [] if token_key_of(secret).hex() == p["token_key"] else ["token_key differs"]
    results.append(("token:provisioning", problems))
    for i, t in enumerate(doc["tokens"]):
        got = make_token(secret, t["username"], t["client_id"], t["expiry_s"],
                         bytes.fromhex(t["nonce"]))
        results.append((f"token:make-{i}", [] if got == t["token"] else [f"made {got}"]))
    keys = {p["username"]: bytes.fromhex(p["token_key"])}
    cfg = doc["verifier"]

    def fresh() -> TokenVerifier:
        return TokenVerifier(dict(keys), cfg["max_clock_skew_s"], cfg["max_lifetime_s"])

    def run(verifier: TokenVerifier, c: dict) -> list[str]:
        got, _ = _outcome(lambda: verifier.verify(c["username"], c["client_id"], c["token"],
                                                  c["now_s"]))
        return [] if got == c["expect"] else [f"got {got}, expected {c['expect']}"]

    for c in doc["verify"]:
        results.append((f"token:verify:{c['name']}", run(fresh(), c)))
    for seq in doc["verify_sequences"]:
        verifier, problems = fresh(), []
        for step in seq["steps"]:
            problems += [f"{step['name']}: {e}" for e in run(verifier, step)]
        results.append((f"token:sequence:{seq['name']}", problems))
    results.append(("token:self:per-user-quota", _token_quota_check(secret, p["username"])))
    return results


def _token_quota_check(secret: bytes, user: str) -> list[str]:
    """Section 11: per-user quotas, nothing shared between users; unknown
    usernames get authentication_failed; tokens are forgotten (and the
    quota freed) only once now > E + skew."""
    other, secret2 = "other-user", bytes(range(32))
    v = TokenVerifier({user: token_key_of(secret), other: token_key_of(secret2)},
                      max_tokens_per_user=2)
    now, problems = 1_800_000_000, []

    def tok(sec, name, n, expiry=now + 60):
        return make_token(sec, name, "c", expiry, n.to_bytes(16, "big"))

    def outcome(name, token, at=now):
        return _outcome(lambda: v.verify(name, "c", token, at))[0]

    steps = [(user, tok(secret, user, 1), now, "ok"), (user, tok(secret, user, 2), now, "ok"),
             (user, tok(secret, user, 3), now, "capacity_exceeded"),
             (user, tok(secret, user, 1), now, "replay"),
             (other, tok(secret2, other, 1), now, "ok"),       # same nonce, other user
             (other, tok(secret2, other, 2), now, "ok"),
             ("nobody", tok(secret2, "nobody", 9), now, "authentication_failed"),
             (user, tok(secret, user, 3), now + 60 + 30, "capacity_exceeded"),   # E + skew
             (user, tok(secret, user, 3, now + 200), now + 60 + 31, "ok"),      # forgotten
             # A token expiring at once (E = now - skew) is still remembered
             # MIN_TOKEN_MEMORY_S: with the quota full, the next login waits.
             (other, tok(secret2, other, 3, now + 200 - 30), now + 200, "ok"),  # other's first two forgotten
             (other, tok(secret2, other, 4, now + 200 - 30), now + 200, "ok"),
             (other, tok(secret2, other, 5, now + 201 - 30), now + 201, "capacity_exceeded"),
             (other, tok(secret2, other, 5, now + 260 - 30), now + 260, "capacity_exceeded"),
             (other, tok(secret2, other, 5, now + 261 - 30), now + 261, "ok")]
    for name, token, at, want in steps:
        got = outcome(name, token, at)
        if got != want:
            problems.append(f"{name} at {at - now:+}: {got}, expected {want}")
    for bad in ((3601, 3600), (30, 0), (30, 86_401)):
        got = _outcome(lambda: TokenVerifier({}, *bad))[0]
        if got != "invalid_argument":
            problems.append(f"verifier skew/lifetime {bad}: {got}")
    return problems


# --------------------------------------------------------------------------
# Section 2 vectors: policy resolution and building.
# --------------------------------------------------------------------------

def _topic(c: dict) -> str | bytes:
    return bytes.fromhex(c["topic_hex"]) if "topic_hex" in c else c["topic"]


def _rule_json(rule: Rule) -> dict:
    """A rule in section 13's JSON shape (after load_vectors: integers as
    ints). A rule's retained_max_age_ms is only listed for "accept"."""
    if rule.plaintext:
        return {"filter": rule.filter, "plaintext": True}
    out: dict = {"filter": rule.filter, "key": rule.key_name}
    if rule.retained is not None:
        out["retained"] = rule.retained.policy
        if rule.retained.policy == "accept":
            out["retained_max_age_ms"] = rule.retained.max_age_ms
    return out


def check_policies(doc: dict) -> list[tuple[str, list[str]]]:
    results = []
    for p in doc["resolve"]:
        problems = []
        for order, rules in (("given", p["rules"]), ("reversed", p["rules"][::-1])):
            policy = Policy.from_json(rules)
            for c in p["resolve"]:
                got, res = _outcome(lambda: policy.resolve(_topic(c)))
                label = f"{order} order, {c.get('topic', c.get('topic_hex'))!r}"
                if got != c["expect"]:
                    problems.append(f"{label}: got {got}, expected {c['expect']}")
                elif got == "ok" and _rule_json(res[0]) != c["rule"]:
                    problems.append(f"{label}: rule {_rule_json(res[0])}, expected {c['rule']}")
        results.append((f"policy:resolve:{p['name']}", problems))
    for b in doc["build"]:
        got, _ = _outcome(lambda: Policy.from_json(b["rules"]))
        results.append((f"policy:build:{b['name']}",
                        [] if got == b["expect"] else [f"got {got}, expected {b['expect']}"]))
    return results


# --------------------------------------------------------------------------
# Sections 4 and 6 vectors: delivery sequences against one receiver.
# --------------------------------------------------------------------------

def check_sequences(doc: dict) -> list[tuple[str, list[str]]]:
    keyring = Keyring.from_json(doc["keys"])
    policy = Policy.from_json(doc["policy"])
    results = []
    for seq in doc["sequences"]:
        opener = Opener(policy, keyring, ReplayConfig(**seq["replay"]))
        problems = []
        for step in seq["steps"]:
            label = step["label"]
            envelope = bytes.fromhex(step["envelope"])
            if "seal" in step:
                s = step["seal"]
                sealer = Sealer(policy, keyring, sender=bytes.fromhex(s["sender"]),
                                first_sequence=s["sequence"])
                if s["flags"] & ~FLAG_RETAIN:
                    problems.append(f"{label}: seal flags {s['flags']}")
                got, res = _outcome(lambda: sealer.seal(s["topic"], bytes.fromhex(s["payload"]),
                                                        timestamp_ms=s["timestamp_ms"],
                                                        key_id=s["key_id"],
                                                        retain=bool(s["flags"] & FLAG_RETAIN),
                                                        version=s["version"]))
                if got != "ok" or res.data != envelope:
                    problems.append(f"{label}: sealing gave {got}, not the envelope")
            d = step["deliver"]
            got, res = _outcome(lambda: opener.open(d["topic"], envelope, now_ms=d["now_ms"],
                                                    retained=d["retained"]))
            if got != step["expect"]:
                problems.append(f"{label}: got {got}, expected {step['expect']}")
            elif got == "ok" and (res.payload.hex() != step["payload"]
                                  or res.sealed != step["sealed"]):
                problems.append(f"{label}: payload or 'sealed' differs")
        results.append((f"sequence:{seq['name']}", problems))
    return results


# --------------------------------------------------------------------------
# Sections 8, 9 and 11: keyring, policy and credentials files.
# --------------------------------------------------------------------------

MAX_KEYRING_FILE = 1 << 20
MAX_KEYRING_KEYS = 4096
MAX_CREDENTIALS_FILE = 256 << 20
MAX_POLICY_FILE = 1 << 20
MAX_POLICY_RULES = 4096
_HEX = {n: re.compile(f"[0-9a-fA-F]{{{n}}}") for n in (8, 32, 64)}
_LIMIT = re.compile(r"[0-9]{1,20}")


def _file_lines(text: str, header: str, max_size: int) -> list[tuple[int, list[str]]]:
    """The line rules shared by the keyring and credentials files: returns
    (line number, fields) of every line after the header."""
    if len(text.encode("utf-8")) > max_size:
        raise MqsealError("parse_error", "file too large")
    out, seen_header = [], False
    for number, line in enumerate(text.split("\n"), start=1):
        if "\r" in line or "\0" in line:
            raise MqsealError("parse_error", f"line {number}: CR or NUL")
        if line == "" or line.startswith("#"):
            continue
        if not seen_header:
            if line != header:
                raise MqsealError("parse_error", f"line {number}: expected {header!r}")
            seen_header = True
            continue
        fields = line.split(" ")
        if "" in fields:
            raise MqsealError("parse_error", f"line {number}: empty field")
        out.append((number, fields))
    if not seen_header:
        raise MqsealError("parse_error", "no header")
    return out


def _argon2id_fields(salt: str, ops: str, mem: str) -> Optional[dict]:
    if not (_HEX[32].fullmatch(salt) and _LIMIT.fullmatch(ops) and _LIMIT.fullmatch(mem)
            and limits_valid(int(ops), int(mem))):
        return None
    return {"salt": salt.lower(), "opslimit": int(ops), "memlimit": int(mem)}


def parse_keyring_file(text: str) -> list[dict]:
    """Section 8. Returns the keys in file order, in the vectors' shape."""
    keys: list[dict] = []
    for number, f in _file_lines(text, "mqseal-keyring v1", MAX_KEYRING_FILE):
        def bad(what: str) -> MqsealError:
            return MqsealError("parse_error", f"line {number}: {what}")
        if f[0] in ("signing-ed25519", "trusted-ed25519"):
            entry = _signature_key_line(f, keys, bad)
            if len(keys) == MAX_KEYRING_KEYS:
                raise bad("too many keys")
            keys.append(entry)
            continue
        if f[0] != "key" or len(f) not in (5, 9):
            raise bad("expected 'key NAME ID STATE MATERIAL [argon2id SALT OPS MEM]'")
        name, ident, state, material = f[1:5]
        if not KEY_NAME_RE.fullmatch(name):
            raise bad("key name")
        if not _HEX[8].fullmatch(ident) or int(ident, 16) == 0:
            raise bad("key ID")
        key_id = int(ident, 16)
        if any(k["id"] == key_id for k in keys):
            raise bad("duplicate key ID")
        if state not in STATES:
            raise bad("state")
        if state == "primary" and any(k["name"] == name and k["state"] == "primary"
                                      and "kind" not in k for k in keys):
            raise bad("second primary")
        entry: dict = {"name": name, "id": key_id, "state": state}
        if state == "retired":
            if material != "-":
                raise bad("retired key with material")
        elif not _HEX[64].fullmatch(material):
            raise bad("material")
        else:
            entry["material"] = material.lower()
        if len(f) == 9:
            params = _argon2id_fields(f[6], f[7], f[8]) if f[5] == "argon2id" else None
            if params is None:
                raise bad("Argon2id parameters")
            entry["argon2id"] = params
        if len(keys) == MAX_KEYRING_KEYS:
            raise bad("too many keys")
        keys.append(entry)
    return keys


def _signature_key_line(f: list[str], keys: list[dict], bad) -> dict:
    """Section 8, signature keys: `signing-ed25519 NAME ID STATE SEED
    PUBLIC` and `trusted-ed25519 NAME ID STATE PUBLIC`. Returns the entry
    with `kind` ("signing" or "trusted_signer"), and `seed` / `public`."""
    signing = f[0] == "signing-ed25519"
    if len(f) != (6 if signing else 5):
        raise bad("wrong number of fields")
    name, ident, state = f[1:4]
    if not KEY_NAME_RE.fullmatch(name):
        raise bad("signer name")
    if not _HEX[8].fullmatch(ident) or int(ident, 16) == 0:
        raise bad("key ID")
    key_id = int(ident, 16)
    if any(k["id"] == key_id for k in keys):
        raise bad("duplicate key ID")
    kind = "signing" if signing else "trusted_signer"
    if state not in (STATES if signing else ("active", "retired")):
        raise bad("state")
    if state == "primary" and any(k.get("kind") == kind and k["name"] == name
                                  and k["state"] == "primary" for k in keys):
        raise bad("second primary")
    entry: dict = {"kind": kind, "name": name, "id": key_id, "state": state}
    public = f[5] if signing else f[4]
    if state == "retired":
        if public != "-" or (signing and f[4] != "-"):
            raise bad("retired key with material")
        return entry
    if not _HEX[64].fullmatch(public) or not ed25519_valid_public(bytes.fromhex(public)):
        raise bad("public key")
    if signing:
        if not _HEX[64].fullmatch(f[4]):
            raise bad("seed")
        if ed25519_public(bytes.fromhex(f[4])) != bytes.fromhex(public):
            raise bad("public key is not the seed's")
        entry["seed"] = f[4].lower()
    entry["public"] = public.lower()
    return entry


def _signature_key_text(k: dict, public_only: bool) -> str:
    """One signature key line as mqseal writes it; public_only: the
    trusted-ed25519 line of the public export (primary written active)."""
    if public_only or k["kind"] == "trusted_signer":
        state = "active" if k["state"] == "primary" else k["state"]
        return f"trusted-ed25519 {k['name']} {k['id']:08x} {state} {k.get('public', '-')}"
    return (f"signing-ed25519 {k['name']} {k['id']:08x} {k['state']} "
            f"{k.get('seed', '-')} {k.get('public', '-')}")


def write_keyring_file(keys: list[dict], public_only: bool = False) -> str:
    lines = ["mqseal-keyring v1"]
    for k in keys:
        if "kind" in k:
            lines.append(_signature_key_text(k, public_only))
            continue
        if public_only:
            continue
        line = f"key {k['name']} {k['id']:08x} {k['state']} {k.get('material', '-')}"
        if "argon2id" in k:
            a = k["argon2id"]
            line += f" argon2id {a['salt']} {a['opslimit']} {a['memlimit']}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def parse_credentials_file(text: str) -> list[dict]:
    """Section 11, the credentials file."""
    users: list[dict] = []
    for number, f in _file_lines(text, "mqseal-credentials v1", MAX_CREDENTIALS_FILE):
        if len(f) != 7 or f[0] != "user" or f[2] != "argon2id":
            raise MqsealError("parse_error", f"line {number}: expected 'user NAME argon2id ...'")
        if not USERNAME_RE.fullmatch(f[1]):
            raise MqsealError("parse_error", f"line {number}: username")
        params = _argon2id_fields(f[3], f[4], f[5])
        if params is None:
            raise MqsealError("parse_error", f"line {number}: Argon2id parameters")
        if not _HEX[64].fullmatch(f[6]):
            raise MqsealError("parse_error", f"line {number}: token key")
        if any(u["username"] == f[1] for u in users):
            raise MqsealError("parse_error", f"line {number}: duplicate username")
        users.append({"username": f[1], "salt": params["salt"], "opslimit": params["opslimit"],
                      "memlimit": params["memlimit"], "token_key": f[6].lower()})
    return users


def write_credentials_file(users: list[dict]) -> str:
    return "".join(["mqseal-credentials v1\n"] + [
        f"user {u['username']} argon2id {u['salt']} {u['opslimit']} {u['memlimit']} "
        f"{u['token_key']}\n" for u in users])


_TOML_BARE = r"[A-Za-z0-9_-]+"
_TOML_VALUE = (r'"(?:[^"\\]|\\[btnfr"\\]|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8})*"'   # basic
               r"|'[^']*'"                                      # literal
               r"|[+-]?(?:0|[1-9][0-9]{0,17})"                  # 1-18 digits, no leading 0
               r"|true|false")
_TOML_SUBSET_LINE = re.compile(
    rf"[ \t]*(?:\[{_TOML_BARE}\]|\[\[{_TOML_BARE}\]\]"
    rf"|{_TOML_BARE}[ \t]*=[ \t]*(?:{_TOML_VALUE}))?[ \t]*(?:#.*)?")
# Section 9: control characters are U+0000 to U+001F except TAB, and U+007F.
_TOML_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def check_policy_subset(text: str) -> str:
    """Section 9's TOML subset, line by line, before any TOML parser sees
    the file. Returns the text without an initial byte order mark."""
    try:
        raw = text.encode("utf-8")       # a lone surrogate is not UTF-8
    except UnicodeError:
        raise MqsealError("parse_error", "not UTF-8") from None
    if len(raw) > MAX_POLICY_FILE:
        raise MqsealError("parse_error", "file too large")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        if line.endswith("\r") and number < len(lines):    # CR LF; a CR only before LF
            line = line[:-1]
        if _TOML_CONTROL.search(line):
            raise MqsealError("parse_error", f"line {number}: control character")
        if not _TOML_SUBSET_LINE.fullmatch(line):
            raise MqsealError("parse_error", f"line {number}: outside the TOML subset")
    return text


def parse_policy_file(text: str) -> Policy:
    """Section 9. Every error is parse_error."""
    text = check_policy_subset(text)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise MqsealError("parse_error", str(e)) from None
    if set(doc) - {"version", "rule"}:
        raise MqsealError("parse_error", f"unknown fields {sorted(set(doc) - {'version', 'rule'})}")
    if "version" in doc and (type(doc["version"]) is not int or doc["version"] != 1):
        raise MqsealError("parse_error", "version")
    rules = doc.get("rule", [])
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        raise MqsealError("parse_error", "'rule' must be an array of tables")
    pairs: list[RuleSpec] = []
    for r in rules:
        if set(r) - {"filter", "key", "plaintext", "retained", "retained_max_age_ms"}:
            raise MqsealError("parse_error", f"unknown rule fields in {r}")
        if not isinstance(r.get("filter"), str):
            raise MqsealError("parse_error", "filter must be a string")
        if ("key" in r) == ("plaintext" in r):   # both, even plaintext = false, or neither
            raise MqsealError("parse_error", "exactly one of key or plaintext = true")
        if "key" in r:
            if not isinstance(r["key"], str):
                raise MqsealError("parse_error", "key must be a string")
            # Section 9: retained = "refuse" | "accept", retained_max_age_ms
            # (a positive TOML integer) only with "accept". tomllib gives
            # Python ints (bool is excluded by type(...) is int).
            if not retained_fields_valid(r):
                raise MqsealError("parse_error", "retained / retained_max_age_ms")
            pairs.append((r["filter"], r["key"], retained_rule_of(r)))
        else:
            if r["plaintext"] is not True:
                raise MqsealError("parse_error", "plaintext may only be true")
            if "retained" in r or "retained_max_age_ms" in r:
                raise MqsealError("parse_error", "a plaintext rule has no retained policy")
            pairs.append((r["filter"], None))
    try:
        return Policy(pairs)
    except MqsealError as e:
        raise MqsealError("parse_error", str(e)) from None


def check_files(doc: dict) -> list[tuple[str, list[str]]]:
    results = []

    def expect(kind: str, c: dict, fn: Callable[[], object],
               compare: Callable[[object], list[str]]) -> None:
        got, res = _outcome(fn)
        if got != c["expect"]:
            problems = [f"got {got}, expected {c['expect']}"]
        else:
            problems = compare(res) if got == "ok" else []
        results.append((f"file:{kind}:{c['name']}", problems))

    for c in doc["keyring"]:
        def cmp_keys(keys, c=c):
            problems = [] if keys == c["keys"] else [f"keys {keys}"]
            if write_keyring_file(keys) != c["written"]:
                problems.append("written form differs")
            return problems
        expect("keyring", c, lambda c=c: parse_keyring_file(c["text"]), cmp_keys)
    for c in doc["credentials"]:
        def cmp_users(users, c=c):
            problems = [] if users == c["users"] else [f"users {users}"]
            if write_credentials_file(users) != c["written"]:
                problems.append("written form differs")
            return problems
        expect("credentials", c, lambda c=c: parse_credentials_file(c["text"]), cmp_users)
    for c in doc["policy"]:
        expect("policy", c, lambda c=c: parse_policy_file(c["text"]),
               lambda p, c=c: [] if [_rule_json(r) for r in p.rules] == c["rules"]
               else ["rules differ"])
    return results


# --------------------------------------------------------------------------
# Section 10: records at rest.
# --------------------------------------------------------------------------

RECORD_VERSION = 1
RECORD_HEADER_LEN = 29        # version, key_id, nonce
RECORD_OVERHEAD = RECORD_HEADER_LEN + TAG_LEN     # 45
RECORD_MAX_PLAINTEXT = 1 << 30
RECORD_PERSONAL = b"mqseal record v1"


def record_key(key: bytes, purpose: bytes) -> bytes:
    return hashlib.blake2b(purpose, digest_size=32, key=key, salt=bytes(16),
                           person=RECORD_PERSONAL).digest()


def record_ad(header: bytes, associated: bytes) -> bytes:
    return header + len(associated).to_bytes(4, "big") + associated


def seal_record(key: Key, purpose: bytes, nonce: bytes, associated: bytes,
                plaintext: bytes) -> bytes:
    if len(plaintext) > RECORD_MAX_PLAINTEXT or len(associated) > RECORD_MAX_PLAINTEXT:
        raise MqsealError("payload_too_large")
    header = bytes([RECORD_VERSION]) + key.key_id.to_bytes(4, "big") + nonce
    return header + aead_encrypt(record_key(key.material, purpose), nonce,
                                 record_ad(header, associated), plaintext)


def open_record(keyring: Keyring, key_name: str, purpose: bytes, associated: bytes,
                record: bytes) -> bytes:
    if not RECORD_OVERHEAD <= len(record) <= RECORD_MAX_PLAINTEXT + RECORD_OVERHEAD:
        raise MqsealError("malformed")
    if record[0] != RECORD_VERSION:
        raise MqsealError("unsupported_version")
    key = keyring.get(int.from_bytes(record[1:5], "big"))
    if key is None:
        raise MqsealError("unknown_key")
    if key.state == "retired":
        raise MqsealError("key_retired")
    if key.name != key_name:
        raise MqsealError("wrong_key_for_topic")
    return aead_decrypt(record_key(key.material, purpose), record[5:29],
                        record_ad(record[:RECORD_HEADER_LEN], associated), record[29:])


def store_directory(client_id: str, server_uri: str) -> str:
    binding = client_id.encode() + b"\0" + server_uri.encode() + b"\0"
    return hashlib.blake2b(binding, digest_size=16).hexdigest()


def check_records(doc: dict) -> list[tuple[str, list[str]]]:
    keyring = Keyring.from_json(doc["keys"])
    name, purpose = doc["key_name"], doc["purpose"].encode()
    results = []
    for r in doc["records"]:
        associated, record = bytes.fromhex(r["associated"]), bytes.fromhex(r["record"])
        got, plain = _outcome(lambda: open_record(keyring, name, purpose, associated, record))
        problems = [] if got == r["expect"] else [f"got {got}, expected {r['expect']}"]
        if got == "ok" == r["expect"]:
            if plain.hex() != r["payload"]:
                problems.append("payload differs")
            s = r["sealing"]
            key = keyring.get(s["key_id"])
            if record_key(key.material, purpose).hex() != s["record_key"]:
                problems.append("record_key differs")
            if record_ad(record[:RECORD_HEADER_LEN], associated).hex() != s["associated_data"]:
                problems.append("associated_data differs")
            if seal_record(key, purpose, bytes.fromhex(s["nonce"]), associated,
                           bytes.fromhex(s["payload"])) != record:
                problems.append("sealing does not reproduce the record")
        results.append((f"record:{r['name']}", problems))
    for d in doc["store_directories"]:
        got = store_directory(d["client_id"], d["server_uri"])
        results.append((f"record:directory:{d['client_id']!r}",
                        [] if got == d["directory"] else [f"{got}, expected {d['directory']}"]))
    return results


REPLAY_MAGIC = b"mqseal replay v1"
REPLAY_HEADER_LEN, REPLAY_RECORD_LEN = 32, 72


def replay_partition(namespace: str, partition: str) -> bytes:
    message = b""
    for part in (namespace.encode(), partition.encode()):
        message += len(part).to_bytes(2, "big") + part
    return hashlib.blake2b(message, digest_size=32, person=b"mqseal replay pt").digest()


def read_replay_file(data: bytes, now_s: int) -> set[tuple[bytes, bytes]]:
    """The live (partition, id) claims of a replay store file; MqsealError("parse_error") if refused."""
    if len(data) < REPLAY_HEADER_LEN and REPLAY_MAGIC.startswith(data[:len(REPLAY_MAGIC)]):
        return set()  # a creation a crash cut short before the header was synced: a new store
    if len(data) < REPLAY_HEADER_LEN or not data.startswith(REPLAY_MAGIC):
        raise MqsealError("parse_error")
    # Bytes after the last whole record are a torn append (its claim was never answered): ignored.
    whole = len(data) - (len(data) - REPLAY_HEADER_LEN) % REPLAY_RECORD_LEN
    file_id = data[16:32]
    live = set()
    for at in range(REPLAY_HEADER_LEN, whole, REPLAY_RECORD_LEN):
        body, check = data[at:at + 56], data[at + 56:at + 72]
        if hashlib.blake2b(body, digest_size=16, key=file_id, person=b"mqseal replay rc").digest() != check:
            raise MqsealError("parse_error")
        if int.from_bytes(body[48:56], "big") >= now_s:
            live.add((body[:32], body[32:48]))
    return live


def check_replay_store(doc: dict) -> list[tuple[str, list[str]]]:
    results = []
    for p in doc["partitions"]:
        got = replay_partition(p["namespace"], p["partition"]).hex()
        results.append((f"replay:partition:{p['namespace']}/{p['partition']}",
                        [] if got == p["digest"] else [f"{got}, expected {p['digest']}"]))
    reader_now = int(time.time())
    for f in doc["files"]:
        got, live = _outcome(lambda: read_replay_file(bytes.fromhex(f["file_hex"]), reader_now))
        problems = [] if got == f["expect"] else [f"got {got}, expected {f['expect']}"]
        if got == "ok":
            for c in f["claims"]:
                key = (replay_partition(c["namespace"], c["partition"]), bytes.fromhex(c["id"]))
                answer = "seen" if key in live else "first_use"
                live.add(key)
                if answer != c["answer"]:
                    problems.append(f"{c['partition']} {c['id']}: {answer}, expected {c['answer']}")
        results.append((f"replay:file:{f['label']}", problems))
    return results


# --------------------------------------------------------------------------
# Sections 1, 2a, 4a, 6 and 8: suite 2, signed sender (signed_v1.json).
# Ed25519 comes from the `cryptography` package (OpenSSL) when installed, so
# that it is independent of libsodium (else from libsodium); the public key
# validity check of section 1 (crypto_core_ed25519_is_valid_point, which the
# spec names) always uses libsodium.
# --------------------------------------------------------------------------

SUITE_SIGNED = 0x02
SIGNED_AD_PREFIX_LEN = 19          # version .. signer_key_id
SIGNED_HEADER_LEN = 43             # .. sequence
SIGNATURE_LEN = 64
SIGNED_MIN = SIGNED_HEADER_LEN + TAG_LEN + SIGNATURE_LEN    # 123
SIGNED_PERSONAL = b"mqseal signature"                        # 16 bytes
SIGNED_DOMAIN = b"mqseal envelope v2 suite 2 signature"      # 36 bytes
SIGNER_LEVEL = "{signer}"

_sodium.crypto_core_ed25519_is_valid_point.argtypes = [ctypes.c_char_p]
_sodium.crypto_core_ed25519_is_valid_point.restype = ctypes.c_int


def ed25519_valid_public(pk: bytes) -> bool:
    return len(pk) == 32 and _sodium.crypto_core_ed25519_is_valid_point(pk) == 1


try:   # OpenSSL's Ed25519, independent of libsodium, when the package is there
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (Ed25519PrivateKey,
                                                                   Ed25519PublicKey)
    ED25519_FROM = "cryptography (OpenSSL)"
except ImportError:     # else libsodium's, through ctypes
    Ed25519PrivateKey = None
    ED25519_FROM = "libsodium (the cryptography package is not installed)"
    _sodium.crypto_sign_seed_keypair.argtypes = [ctypes.c_char_p] * 3
    _sodium.crypto_sign_detached.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_char_p,
                                             ctypes.c_ulonglong, ctypes.c_char_p]
    _sodium.crypto_sign_verify_detached.argtypes = [ctypes.c_char_p, ctypes.c_char_p,
                                                    ctypes.c_ulonglong, ctypes.c_char_p]


def _sodium_keypair(seed: bytes) -> tuple[bytes, bytes]:
    pk, sk = ctypes.create_string_buffer(32), ctypes.create_string_buffer(64)
    if _sodium.crypto_sign_seed_keypair(pk, sk, seed) != 0:
        raise MqsealError("crypto_failure", "crypto_sign_seed_keypair")
    return pk.raw, sk.raw


def ed25519_public(seed: bytes) -> bytes:
    if Ed25519PrivateKey is None:
        return _sodium_keypair(seed)[0]
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def ed25519_sign(seed: bytes, message: bytes) -> bytes:
    if Ed25519PrivateKey is None:
        sig = ctypes.create_string_buffer(64)
        _sodium.crypto_sign_detached(sig, None, message, len(message), _sodium_keypair(seed)[1])
        return sig.raw
    return Ed25519PrivateKey.from_private_bytes(seed).sign(message)


def ed25519_verify(pk: bytes, message: bytes, signature: bytes) -> bool:
    if Ed25519PrivateKey is None:
        return _sodium.crypto_sign_verify_detached(signature, message, len(message), pk) == 0
    try:
        Ed25519PublicKey.from_public_bytes(pk).verify(signature, message)
        return True
    except (InvalidSignature, ValueError):
        return False


def signed_associated_data(envelope: bytes, topic_bytes: bytes) -> bytes:
    """Section 4a: ad = envelope[0..19) || u16(len(T)) || T."""
    return envelope[:SIGNED_AD_PREFIX_LEN] + len(topic_bytes).to_bytes(2, "big") + topic_bytes


def signed_message(topic_bytes: bytes, signed_part: bytes) -> bytes:
    """Section 4a: m = domain || BLAKE2b-512(personal, u16(len T) || T || S)."""
    digest = hashlib.blake2b(len(topic_bytes).to_bytes(2, "big") + topic_bytes + signed_part,
                             digest_size=64, person=SIGNED_PERSONAL).digest()
    return SIGNED_DOMAIN + digest


@dataclass
class SignedRule:
    """A section 2 rule with section 2a's fields; `levels` are the filter's
    levels with {signer} read as '+' (for matching and precedence)."""
    filter: str
    key_name: Optional[str]
    levels: tuple[str, ...]
    retained: Optional[RetainedRule]
    suite: int = 1
    signers: tuple[str, ...] = ()
    signer_level: Optional[int] = None

    @property
    def plaintext(self) -> bool:
        return self.key_name is None


def signed_policy(items: list[dict]) -> list[SignedRule]:
    """Section 2 and 2a: the rules of a policy array (or of a parsed file)."""
    rules: list[SignedRule] = []
    seen: set[tuple[str, ...]] = set()
    for item in items:
        flt = item["filter"]
        raw_levels = validate_filter(flt)
        patterns = [i for i, level in enumerate(raw_levels) if level == SIGNER_LEVEL]
        levels = tuple("+" if level == SIGNER_LEVEL else level for level in raw_levels)
        if item.get("plaintext") is True:
            if patterns:
                raise MqsealError("invalid_filter", "{signer} in a plaintext rule")
            rule = SignedRule(flt, None, levels, None)
        else:
            suite = item.get("suite", 1)
            signers = tuple(item.get("signers", ()))
            # Suite 5 (section 4e) takes neither signers nor {signer}, as suite 1.
            if suite in (1, SUITE_AES256GCM) and (patterns or signers):
                raise MqsealError("invalid_filter" if patterns else "invalid_argument", flt)
            if suite == 2:
                if (len(patterns) > 1 or (not patterns and not signers)
                        or len(set(signers)) != len(signers)
                        or not all(KEY_NAME_RE.fullmatch(n) for n in signers)):
                    raise MqsealError("invalid_argument", f"signed rule {flt!r}")
            elif suite not in (1, SUITE_AES256GCM):
                raise MqsealError("invalid_argument", f"suite {suite}")
            rule = SignedRule(flt, item["key"], levels, retained_rule_of(item), suite, signers,
                              patterns[0] if patterns else None)
        if levels in seen:     # {signer} is '+': a/{signer} and a/+ are one filter
            raise MqsealError("invalid_argument", f"filter {flt!r} twice")
        seen.add(levels)
        rules.append(rule)
    return rules


def signed_resolve(rules: list[SignedRule], topic: str) -> tuple[SignedRule, bytes]:
    s, raw = validate_topic(topic)
    matching = [r for r in rules if filter_matches(list(r.levels), s)]
    if not matching:
        raise MqsealError("no_rule", s)
    depth = max(len(r.levels) for r in matching)
    return min(matching, key=lambda r: specificity_key(list(r.levels), depth)), raw


def signer_authorized(rule: SignedRule, topic: str, signer: str) -> bool:
    """Section 2a: listed, or the topic's level at the {signer} index."""
    if signer in rule.signers:
        return True
    return rule.signer_level is not None and topic.split("/")[rule.signer_level] == signer


class SignedReceiver:
    """Opening, section 4a's steps, with section 6's guard (ReplayGuard
    above) keyed by ("signer", name) for suite 2: a partition apart from
    every key name."""

    def __init__(self, doc: dict, config: ReplayConfig):
        self.rules = signed_policy(doc["policy"])
        self.keyring = Keyring.from_json(doc["keys"])
        self.signers: dict[int, dict] = {}
        publics = {k["id"]: bytes.fromhex(k["public"]) for k in doc["signing"]}
        for t in doc["trusted"]:
            if t["id"] in self.signers or self.keyring.get(t["id"]) is not None:
                raise MqsealError("invalid_argument", "duplicate key ID")
            pk = bytes.fromhex(t["public"]) if "public" in t else publics[t["id"]]
            if not ed25519_valid_public(pk):
                raise MqsealError("invalid_argument", "public key")
            self.signers[t["id"]] = {"name": t["name"], "state": t["state"], "public": pk}
        self.guard = ReplayGuard(config)

    def open(self, topic: str, envelope: bytes, now_ms: int, retained: bool) -> tuple[bytes, str]:
        rule, topic_bytes = signed_resolve(self.rules, topic)
        if rule.plaintext:
            return envelope, ""
        # Section 4 step 2 with section 4a's suite: length, version, length
        # for the version, suite, suite 2 length, flags.
        if not MIN_ENVELOPE <= len(envelope) <= MAX_ENVELOPE:
            raise MqsealError("malformed")
        version = envelope[0]
        if version not in (VERSION_1, VERSION_2):
            raise MqsealError("unsupported_version")
        if len(envelope) < MIN_ENVELOPE_V[version]:
            raise MqsealError("malformed")
        suite = envelope[1]
        if not (suite == SUITE_XCHACHA_TOPIC_KEY or (suite == SUITE_SIGNED and version == VERSION_2)):
            raise MqsealError("unsupported_suite")
        if suite == SUITE_SIGNED and len(envelope) < SIGNED_MIN:
            raise MqsealError("malformed")
        flags = envelope[2] if version == VERSION_2 else 0
        if flags & ~FLAG_RETAIN:
            raise MqsealError("malformed")
        o = 3 if version == VERSION_2 else 2
        key_id = int.from_bytes(envelope[o:o + 4], "big")
        # Step 3.
        key = self.keyring.get(key_id)
        if key is None:
            raise MqsealError("unknown_key")
        if key.state == "retired":
            raise MqsealError("key_retired")
        if key.name != rule.key_name:
            raise MqsealError("wrong_key_for_topic")
        # Step 4 (section 4a): the rule's suite, no other.
        if suite != rule.suite:
            raise MqsealError("wrong_suite_for_topic")
        if suite == SUITE_XCHACHA_TOPIC_KEY:
            h = parse_header(envelope)
            payload = aead_decrypt(derive_topic_key(key.material, topic_bytes), h.nonce,
                                   associated_data(envelope[:h.ad_prefix_len], topic_bytes),
                                   envelope[h.header_len:])
            self.guard.check(h, rule, topic_bytes, now_ms, retained)
            return payload, ""
        signer_id = int.from_bytes(envelope[7:11], "big")
        # Step 5.
        signer = self.signers.get(signer_id)
        if signer is None:
            raise MqsealError("unknown_signer")
        if signer["state"] == "retired":
            raise MqsealError("key_retired")
        # Step 6.
        body, signature = envelope[:-SIGNATURE_LEN], envelope[-SIGNATURE_LEN:]
        if not ed25519_verify(signer["public"], signed_message(topic_bytes, body), signature):
            raise MqsealError("authentication_failed", "signature")
        # Step 7.
        if not signer_authorized(rule, topic_bytes.decode("utf-8"), signer["name"]):
            raise MqsealError("unauthorized_signer")
        # Step 8.
        payload = aead_decrypt(derive_topic_key(key.material, topic_bytes), envelope[19:43],
                               signed_associated_data(envelope, topic_bytes),
                               body[SIGNED_HEADER_LEN:])
        # Step 9: the verified signer's partition.
        h = Header(version=VERSION_2, suite=SUITE_SIGNED, flags=flags, key_id=key_id,
                   timestamp_ms=int.from_bytes(envelope[11:19], "big"),
                   sender=bytes(envelope[19:35]), sequence=int.from_bytes(envelope[35:43], "big"))
        partition_rule = Rule(rule.filter, ("signer", signer["name"]), rule.levels, rule.retained)
        self.guard.check(h, partition_rule, topic_bytes, now_ms, retained)
        return payload, signer["name"]


def check_signed(doc: dict) -> list[tuple[str, list[str]]]:
    results = []
    material = {k["id"]: bytes.fromhex(k["material"]) for k in doc["keys"] if "material" in k}
    seeds = {k["id"]: bytes.fromhex(k["seed"]) for k in doc["signing"]}
    for k in doc["signing"]:
        if ed25519_public(seeds[k["id"]]).hex() != k["public"]:
            results.append((f"signed:signing:{k['id']:08x}", ["public key is not the seed's"]))
    config = ReplayConfig(**doc["replay"])
    for v in doc["vectors"]:
        problems: list[str] = []
        envelope = bytes.fromhex(v["envelope"])
        if v["expect"] == "ok":
            topic_bytes = v["topic"].encode("utf-8")
            header = (bytes([v["version"], v["suite"], v["flags"]]) + v["key_id"].to_bytes(4, "big")
                      + v["signer_key_id"].to_bytes(4, "big") + v["timestamp_ms"].to_bytes(8, "big")
                      + bytes.fromhex(v["sender"]) + v["sequence"].to_bytes(8, "big"))
            topic_key = derive_topic_key(material[v["key_id"]], topic_bytes)
            ad = signed_associated_data(header, topic_bytes)
            body = header + aead_encrypt(topic_key, header[19:43], ad, bytes.fromhex(v["payload"]))
            m = signed_message(topic_bytes, body)
            sealed = body + ed25519_sign(seeds[v["signer_key_id"]], m)
            for name, got in (("topic_key", topic_key), ("associated_data", ad), ("signed_message", m),
                              ("signature", sealed[-SIGNATURE_LEN:])):
                if got.hex() != v[name]:
                    problems.append(f"{name} differs")
            if sealed != envelope:
                problems.append("sealing: " + _bytes_diff(sealed, envelope))
        o = v["open"]
        receiver = SignedReceiver(doc, config)
        got, res = _outcome(lambda: receiver.open(o["topic"], envelope, o["now_ms"], o["retained"]))
        if got != v["expect"]:
            problems.append(f"open gave {got}, expected {v['expect']}")
        elif got == "ok" and (res[0].hex() != v["payload"] or res[1] != v["signer"]):
            problems.append("payload or signer differs")
        results.append((f"signed:{v['name']}", problems))
    for seq in doc["sequences"]:
        receiver = SignedReceiver(doc, ReplayConfig(**seq["replay"]))
        problems = []
        for step in seq["steps"]:
            d = step["deliver"]
            got, _ = _outcome(lambda: receiver.open(d["topic"], bytes.fromhex(step["envelope"]),
                                                    d["now_ms"], d["retained"]))
            if got != step["expect"]:
                problems.append(f"{step['label']}: got {got}, expected {step['expect']}")
        results.append((f"signed:sequence:{seq['name']}", problems))
    for c in doc["keyring_files"]:
        got, keys = _outcome(lambda: parse_keyring_file(c["text"]))
        problems = []
        if got != c["expect"]:
            problems.append(f"got {got}, expected {c['expect']}")
        elif got == "ok":
            shape = [{k2: v2 for k2, v2 in k.items() if k2 in ("kind", "name", "id", "state", "public")}
                     | ({} if "kind" in k else {"kind": "symmetric"}) for k in keys]
            if shape != c["keys"]:
                problems.append(f"keys {shape} != {c['keys']}")
            if write_keyring_file(keys) != c["written"]:
                problems.append("written text differs")
            if write_keyring_file(keys, public_only=True) != c["public_export"]:
                problems.append("public export differs")
        results.append((f"signed:keyring-file:{c['name']}", problems))
    for c in doc["policy_files"]:
        got, rules = _outcome(lambda: parse_signed_policy_file(c["text"]))
        problems = []
        if got != c["expect"]:
            problems.append(f"got {got}, expected {c['expect']}")
        elif got == "ok" and rules != c["rules"]:
            problems.append(f"rules {rules} != {c['rules']}")
        results.append((f"signed:policy-file:{c['name']}", problems))
    return results


def parse_signed_policy_file(text: str) -> list[dict]:
    """Section 9 with section 2a's `suite` and `signers`; returns the rules
    in the vectors' shape. Every error is parse_error."""
    text = check_policy_subset(text)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise MqsealError("parse_error", str(e)) from None
    items = []
    for r in doc.get("rule", []):
        if set(r) - {"filter", "key", "plaintext", "retained", "retained_max_age_ms", "suite", "signers",
                     "compact"}:
            raise MqsealError("parse_error", "unknown rule field")
        if ("key" in r) == ("plaintext" in r) or not isinstance(r.get("filter"), str):
            raise MqsealError("parse_error", "filter, and key or plaintext")
        if "plaintext" in r:
            if r["plaintext"] is not True or set(r) & {"retained", "retained_max_age_ms", "suite", "signers",
                                                       "compact"}:
                raise MqsealError("parse_error", "plaintext rule")
            items.append({"filter": r["filter"], "plaintext": True})
            continue
        if not isinstance(r["key"], str) or not retained_fields_valid(r):
            raise MqsealError("parse_error", "key or retained fields")
        suite = r.get("suite", 1)
        if type(suite) is not int or suite not in (1, 2, SUITE_AES256GCM):
            raise MqsealError("parse_error", "suite")
        item: dict = {"filter": r["filter"], "key": r["key"]}
        if "compact" in r:     # section 9: `compact = true`, suite 1 only
            if r["compact"] is not True or suite != 1:
                raise MqsealError("parse_error", "compact")
            item["compact"] = True
        if suite == SUITE_AES256GCM:
            item["suite"] = SUITE_AES256GCM
        if "signers" in r:
            if suite != 2 or not isinstance(r["signers"], str):
                raise MqsealError("parse_error", "signers")
            names = [n.strip(" \t") for n in r["signers"].split(",")]
            if "" in names:
                raise MqsealError("parse_error", "empty signer name")
            item["signers"] = names
        if suite == 2:
            item["suite"] = 2
            item.setdefault("signers", [])
        for f in ("retained", "retained_max_age_ms"):
            if f in r:
                item[f] = r[f]
        items.append(item)
    try:
        signed_policy(items)
    except MqsealError as e:
        raise MqsealError("parse_error", str(e)) from None
    # The vectors' shape, retained_max_age_ms as a decimal string.
    out = []
    for item in items:
        shaped = {k: item[k] for k in ("filter", "key", "plaintext", "suite", "signers", "compact", "retained")
                  if k in item}
        if "retained_max_age_ms" in item:
            shaped["retained_max_age_ms"] = str(item["retained_max_age_ms"])
        out.append(shaped)
    return out


# --------------------------------------------------------------------------
# Sections 1, 4b, 8 and 9: suite 3, sealed to a recipient (recipient_v1.json).
# X25519 comes from the `cryptography` package (OpenSSL) when installed, so
# that it is independent of libsodium (else from libsodium's
# crypto_scalarmult, through ctypes).
# --------------------------------------------------------------------------

SUITE_RECIPIENT = 0x03
RECIPIENT_AD_PREFIX_LEN = 47       # version .. ephemeral
RECIPIENT_HEADER_LEN = 71          # .. sequence
RECIPIENT_MIN = RECIPIENT_HEADER_LEN + TAG_LEN                # 87
RECIPIENT_PERSONAL = b"mqseal recipient"                      # 16 bytes
RECIPIENT_LABEL = b"mqseal envelope v2 suite 3 session key"   # 38 bytes
STREAM_PERSONAL = b"mqseal r-stream "                         # 16 bytes
SUITE_SIGNED_SEALED = 0x04
SIGNED_SEALED_MIN = RECIPIENT_MIN + 4 + SIGNATURE_LEN         # 155
SIGNED_SEALED_DOMAIN = b"mqseal envelope v2 suite 4 signature"  # 36 bytes

try:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
    X25519_FROM = "cryptography (OpenSSL)"

    def x25519(scalar: bytes, point: bytes) -> bytes:
        try:
            return X25519PrivateKey.from_private_bytes(scalar).exchange(X25519PublicKey.from_public_bytes(point))
        except ValueError:      # an all-zero result
            raise MqsealError("authentication_failed", "X25519 gave zero") from None

    def x25519_base(scalar: bytes) -> bytes:
        from cryptography.hazmat.primitives import serialization as _s
        return X25519PrivateKey.from_private_bytes(scalar).public_key().public_bytes(
            _s.Encoding.Raw, _s.PublicFormat.Raw)
except ImportError:
    X25519_FROM = "libsodium"
    _sodium.crypto_scalarmult.argtypes = [ctypes.c_char_p] * 3
    _sodium.crypto_scalarmult_base.argtypes = [ctypes.c_char_p] * 2

    def x25519(scalar: bytes, point: bytes) -> bytes:
        out = ctypes.create_string_buffer(32)
        if _sodium.crypto_scalarmult(out, scalar, point) != 0:
            raise MqsealError("authentication_failed", "X25519 gave zero")
        return out.raw

    def x25519_base(scalar: bytes) -> bytes:
        out = ctypes.create_string_buffer(32)
        _sodium.crypto_scalarmult_base(out, scalar)
        return out.raw


def x25519_public_valid(point: bytes) -> bool:
    """Section 1: not a point whose product with a scalar is all zero."""
    try:
        x25519(bytes([1]) + bytes(31), point)
        return True
    except MqsealError:
        return False


def recipient_keys(eph_secret_or_shared: bytes, eph_public: bytes, recipient_public: bytes,
                   topic_bytes: bytes, *, shared: Optional[bytes] = None) -> tuple[bytes, bytes, bytes]:
    """(shared, session_key, topic_key) of section 4b."""
    if shared is None:
        shared = x25519(eph_secret_or_shared, recipient_public)
    session = hashlib.blake2b(RECIPIENT_LABEL + eph_public + recipient_public, digest_size=32, key=shared,
                              salt=bytes(16), person=RECIPIENT_PERSONAL).digest()
    return shared, session, derive_topic_key(session, topic_bytes)


def open_recipient(doc: dict, pairs: dict, envelope: bytes, topic: str, now_ms: int) -> bytes:
    """Section 4b's opening order, for a fresh receiver of recipient_v1.json."""
    rules = doc["policy"]
    topic_bytes = topic.encode()
    best = None
    for r in rules:   # the vectors' rules never overlap; {signer} matches as '+'
        if filter_matches(["+" if l == SIGNER_LEVEL else l for l in r["filter"].split("/")], topic):
            best = r
    if best is None:
        raise MqsealError("no_rule")
    if len(envelope) < 54 or len(envelope) > 268435455:
        raise MqsealError("malformed")
    version, suite = envelope[0], envelope[1]
    if version not in (1, 2):
        raise MqsealError("unsupported_version")
    if version == 2 and len(envelope) < 55:
        raise MqsealError("malformed")
    if (version == 1 and suite != 1) or (version == 2 and suite not in (1, 2, 3, 4)):
        raise MqsealError("unsupported_suite")
    if suite == SUITE_RECIPIENT and len(envelope) < RECIPIENT_MIN:
        raise MqsealError("malformed")
    if suite == SUITE_SIGNED_SEALED and len(envelope) < SIGNED_SEALED_MIN:
        raise MqsealError("malformed")
    if version == 2 and envelope[2] & ~1:
        raise MqsealError("malformed")
    key_id = int.from_bytes(envelope[3:7] if version == 2 else envelope[2:6], "big")
    if key_id == 0:
        raise MqsealError("unknown_key")
    rule_suite = (4 if best.get("suite") == 4 else 3) if "recipient" in best else 1
    if rule_suite == 1:   # section 4, step 3: key_id among the symmetric keys
        sym = {k["id"]: k for k in doc["keys"]}
        if key_id not in sym:
            raise MqsealError("unknown_key")
        if sym[key_id]["name"] != best["key"]:
            raise MqsealError("wrong_key_for_topic")
    if suite != rule_suite:
        raise MqsealError("wrong_suite_for_topic")
    pair = pairs.get(key_id)
    if pair is None:
        raise MqsealError("unknown_key")
    if pair["state"] == "retired":
        raise MqsealError("key_retired")
    if pair["name"] != best["recipient"]:
        raise MqsealError("wrong_key_for_topic")
    eph = envelope[15:47]
    shared = x25519(bytes.fromhex(pair["secret"]), eph)
    _, _, topic_key = recipient_keys(b"", eph, bytes.fromhex(pair["public"]), topic_bytes, shared=shared)
    ad = envelope[:RECIPIENT_AD_PREFIX_LEN] + len(topic_bytes).to_bytes(2, "big") + topic_bytes
    payload = aead_decrypt(topic_key, envelope[47:71], ad, envelope[71:])
    if suite == SUITE_SIGNED_SEALED:   # section 4c, after the AEAD
        if len(payload) < 4 + SIGNATURE_LEN:
            raise MqsealError("malformed")
        signer_id = int.from_bytes(payload[:4], "big")
        signer = next((k for k in doc.get("signing", []) if k["id"] == signer_id), None)
        if signer is None:
            raise MqsealError("unknown_signer")
        message = signed_sealed_message(topic_bytes, envelope[:RECIPIENT_HEADER_LEN], payload[:4], payload[68:])
        if not ed25519_verify(bytes.fromhex(signer["public"]), message, payload[4:68]):
            raise MqsealError("authentication_failed")
        levels = best["filter"].split("/")
        own_level = SIGNER_LEVEL in levels and topic.split("/")[levels.index(SIGNER_LEVEL)] == signer["name"]
        if signer["name"] not in best.get("signers", []) and not own_level:
            raise MqsealError("unauthorized_signer")
        payload = payload[68:]
    ts = int.from_bytes(envelope[7:15], "big")
    replay = doc["replay"]
    if now_ms > ts and now_ms - ts > int(replay["max_age_ms"]):
        raise MqsealError("expired")
    if ts > now_ms and ts - now_ms > int(replay["max_future_skew_ms"]):
        raise MqsealError("not_yet_valid")
    return payload


def signed_sealed_message(topic_bytes: bytes, header: bytes, signer_id: bytes, payload: bytes) -> bytes:
    """Section 4c's m."""
    digest = hashlib.blake2b(len(topic_bytes).to_bytes(2, "big") + topic_bytes + header + signer_id + payload,
                             digest_size=64, salt=bytes(16), person=SIGNED_PERSONAL).digest()
    return SIGNED_SEALED_DOMAIN + digest


def parse_recipient_keyring(text: str) -> list[dict]:
    """Section 8, for files of `key` and recipient lines only."""
    lines = [l for l in text.split("\n") if l and not l.startswith("#")]
    if not lines or lines[0] != "mqseal-keyring v1":
        raise MqsealError("parse_error", "header")
    out, ids, primaries = [], set(), set()
    hexre = re.compile(r"[0-9A-Fa-f]{64}\Z")
    for line in lines[1:]:
        f = line.split(" ")
        kind = {"key": "symmetric", "recipient-x25519": "recipient",
                "recipient-public-x25519": "recipient_public"}.get(f[0])
        want = {"symmetric": 5, "recipient": 6, "recipient_public": 5}.get(kind)
        if kind is None or len(f) != want:
            raise MqsealError("parse_error", line)
        name, kid, state = f[1], f[2], f[3]
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name) or not re.fullmatch(r"[0-9A-Fa-f]{8}", kid) \
                or int(kid, 16) == 0 or int(kid, 16) in ids or state not in ("primary", "active", "retired"):
            raise MqsealError("parse_error", line)
        if state == "primary" and (kind, name) in primaries:
            raise MqsealError("parse_error", "second primary")
        entry = {"kind": kind, "name": name, "id": int(kid, 16), "state": state}
        if state == "retired":
            if any(x != "-" for x in f[4:]):
                raise MqsealError("parse_error", "retired with material")
        elif kind != "symmetric":
            pub = f[-1]
            if not hexre.match(pub) or not x25519_public_valid(bytes.fromhex(pub)):
                raise MqsealError("parse_error", "public key")
            if kind == "recipient":
                if not hexre.match(f[4]) or x25519_base(bytes.fromhex(f[4])) != bytes.fromhex(pub):
                    raise MqsealError("parse_error", "secret and public key differ")
            entry["public"] = pub.lower()
        elif not hexre.match(f[4]):
            raise MqsealError("parse_error", "material")
        ids.add(entry["id"])
        if state == "primary":
            primaries.add((kind, name))
        out.append(entry)
    return out


def parse_recipient_policy(text: str) -> list[dict]:
    """Section 9's recipient rules (the subset the recipient cases use)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise MqsealError("parse_error", str(e)) from None
    out = []
    for r in doc.get("rule", []):
        kinds = [k for k in ("key", "recipient", "plaintext") if k in r]
        if len(kinds) != 1 or "filter" not in r:
            raise MqsealError("parse_error", "exactly one of key, recipient, plaintext")
        if "recipient" in r:
            if not isinstance(r["recipient"], str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", r["recipient"]):
                raise MqsealError("parse_error", "recipient name")
            suite = 4 if "signers" in r or r.get("suite") == 4 else 3
            if "suite" in r and (type(r["suite"]) is not int or r["suite"] != suite):
                raise MqsealError("parse_error", "suite")
            item = {"filter": r["filter"], "recipient": r["recipient"]}
            if suite == 4:
                names = [n.strip(" \t") for n in str(r.get("signers", "")).split(",")] if "signers" in r else []
                if ("signers" in r and not isinstance(r["signers"], str)) or any(not n for n in names):
                    raise MqsealError("parse_error", "signers")
                if not names and SIGNER_LEVEL not in r["filter"].split("/"):
                    raise MqsealError("parse_error", "nobody may sign")
                item["suite"] = 4
                item["signers"] = names
            elif SIGNER_LEVEL in r["filter"].split("/"):
                raise MqsealError("parse_error", "{signer} on a suite 3 rule")
        else:
            if "suite" in r and r["suite"] not in (1, 2):
                raise MqsealError("parse_error", "suite")
            item = {"filter": r["filter"], "key": r["key"]}
        if "retained" in r:
            item["retained"] = r["retained"]
        out.append(item)
    return out


def check_recipient(doc: dict) -> list[tuple[str, list[str]]]:
    results = []
    pairs = {}
    for k in doc["recipients"]:
        pairs[k["id"]] = k
        if k["state"] != "retired":
            p = []
            if x25519_base(bytes.fromhex(k["secret"])).hex() != k["public"]:
                p.append("public key is not the secret's")
            results.append((f"recipient:key:{k['name']}:{k['id']:08x}", p))
    for v in doc["vectors"]:
        problems = []
        envelope = bytes.fromhex(v["envelope"])
        if v["expect"] == "ok":
            topic_bytes = v["topic"].encode()
            eph_secret = bytes.fromhex(v["ephemeral_secret"])
            eph_public = x25519_base(eph_secret)
            recipient_public = bytes.fromhex(v["recipient_public"])
            shared, session, topic_key = recipient_keys(eph_secret, eph_public, recipient_public, topic_bytes)
            for label, got in (("ephemeral_public", eph_public), ("shared", shared), ("session_key", session),
                               ("topic_key", topic_key)):
                if label in v and got.hex() != v[label]:
                    problems.append(f"{label} differs")
            header = (bytes([v["version"], v["suite"], v["flags"]]) + v["key_id"].to_bytes(4, "big")
                      + int(v["timestamp_ms"]).to_bytes(8, "big") + eph_public)
            nonce = bytes.fromhex(v["sender"]) + int(v["sequence"]).to_bytes(8, "big")
            ad = header + len(topic_bytes).to_bytes(2, "big") + topic_bytes
            if "associated_data" in v and ad.hex() != v["associated_data"]:
                problems.append("associated_data differs")
            plaintext = bytes.fromhex(v["payload"])
            if v["suite"] == SUITE_SIGNED_SEALED:   # sign, then seal (section 4c)
                seed = bytes.fromhex(next(k["seed"] for k in doc["signing"] if k["id"] == v["signer_key_id"]))
                signer_id = v["signer_key_id"].to_bytes(4, "big")
                m = signed_sealed_message(topic_bytes, header + nonce, signer_id, plaintext)
                plaintext = signer_id + ed25519_sign(seed, m) + plaintext
            sealed = header + nonce + aead_encrypt(topic_key, nonce, ad, plaintext)
            if sealed != envelope:
                problems.append("sealing does not reproduce the envelope")
            stream = hashlib.blake2b(eph_public + bytes.fromhex(v["sender"]), digest_size=16,
                                     salt=bytes(16), person=STREAM_PERSONAL).digest()
            if "stream" in v and stream.hex() != v["stream"]:
                problems.append("stream differs")
        o = v["open"]
        try:
            payload = open_recipient(doc, pairs, envelope, o["topic"], int(o["now_ms"]))
            got = "ok"
        except MqsealError as e:
            got, payload = e.name, None
        if got != v["expect"]:
            problems.append(f"opened as {got}, expected {v['expect']}")
        elif got == "ok" and payload.hex() != v["payload"]:
            problems.append("payload differs")
        results.append((f"recipient:{v['name']}", problems))
    for c in doc["keyring_files"]:
        try:
            keys = parse_recipient_keyring(c["text"])
            got = "ok"
        except MqsealError as e:
            got, keys = e.name, None
        p = [] if got == c["expect"] else [f"parsed as {got}, expected {c['expect']}"]
        if got == "ok" and c["expect"] == "ok":
            want = [{k: w[k] for k in ("kind", "name", "id", "state", "public") if k in w} for w in c["keys"]]
            if keys != want:
                p.append(f"keys differ: {keys} != {want}")
            exported = "mqseal-keyring v1\n" + "".join(
                f"recipient-public-x25519 {k['name']} {k['id']:08x} {k['state']} {k.get('public', '-')}\n"
                for k in keys if k["kind"] != "symmetric")
            if exported != c["public_export"]:
                p.append("public export differs")
        results.append((f"recipient:keyring:{c['name']}", p))
    for c in doc["policy_files"]:
        try:
            rules = parse_recipient_policy(c["text"])
            got = "ok"
        except MqsealError as e:
            got, rules = e.name, None
        p = [] if got == c["expect"] else [f"parsed as {got}, expected {c['expect']}"]
        if got == "ok" and c["expect"] == "ok" and rules != c["rules"]:
            p.append(f"rules differ: {rules} != {c['rules']}")
        results.append((f"recipient:policy:{c['name']}", p))
    return results


# --------------------------------------------------------------------------
# Section 4e: suite 5, AES-256-GCM (aes256gcm_v1.json). Suite 1's envelope
# v2 layout with suite byte 5; the AES key is a subkey per (topic key,
# sender), the 12-byte GCM nonce 0^4 || sequence, the whole header in the
# associated data. AES-256-GCM comes from the `cryptography` package
# (OpenSSL) when installed, so that it is independent of libsodium (else
# from libsodium's crypto_aead_aes256gcm_*, which needs AES-NI); BLAKE2b
# from hashlib.
# --------------------------------------------------------------------------

SUITE_AES256GCM = 0x05
AES_SUBKEY_PERSONAL = b"mqseal aes256gcm"    # exactly 16 bytes, section 4e
AES_SUBKEY_LEN = 32
AES_NONCE_ZERO_LEN = 4                       # nonce = 4 zero bytes || be64(sequence)
AES_MAX_SEQUENCE = 2**32 - 1                 # larger: malformed
AES_OVERHEAD = HEADER_LEN[VERSION_2] + TAG_LEN   # 55, as suite 1

try:   # OpenSSL's AES-256-GCM, independent of libsodium, when the package is there
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    AES_GCM_FROM = "cryptography (OpenSSL)"
except ImportError:     # else libsodium's, through ctypes (only with AES-NI)
    AESGCM = None
    AES_GCM_FROM = "libsodium (the cryptography package is not installed)"
    _ull = ctypes.c_ulonglong
    _sodium.crypto_aead_aes256gcm_is_available.restype = ctypes.c_int
    _sodium.crypto_aead_aes256gcm_encrypt.argtypes = [
        ctypes.c_char_p, ctypes.POINTER(_ull), ctypes.c_char_p, _ull, ctypes.c_char_p, _ull,
        ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p]
    _sodium.crypto_aead_aes256gcm_encrypt.restype = ctypes.c_int
    _sodium.crypto_aead_aes256gcm_decrypt.argtypes = [
        ctypes.c_char_p, ctypes.POINTER(_ull), ctypes.c_char_p, ctypes.c_char_p, _ull,
        ctypes.c_char_p, _ull, ctypes.c_char_p, ctypes.c_char_p]
    _sodium.crypto_aead_aes256gcm_decrypt.restype = ctypes.c_int


def aes_gcm_available() -> bool:
    return AESGCM is not None or _sodium.crypto_aead_aes256gcm_is_available() == 1


def aes_subkey(topic_key: bytes, sender: bytes) -> bytes:
    """Section 4e: BLAKE2b-256(key = topic key, message = sender,
    personal = "mqseal aes256gcm"), no salt (16 zero bytes)."""
    assert len(topic_key) == KEY_LEN and len(sender) == SENDER_LEN
    return hashlib.blake2b(sender, digest_size=AES_SUBKEY_LEN, key=topic_key,
                           person=AES_SUBKEY_PERSONAL).digest()


def aes_nonce(sequence: int) -> bytes:
    assert 0 <= sequence <= AES_MAX_SEQUENCE
    return bytes(AES_NONCE_ZERO_LEN) + sequence.to_bytes(8, "big")


def aes_associated_data(header: bytes, topic_bytes: bytes) -> bytes:
    """Section 4e: envelope[0..39) || u16(len(T)) || T: every header byte,
    sender and sequence included."""
    assert len(header) == HEADER_LEN[VERSION_2]
    return header + len(topic_bytes).to_bytes(2, "big") + topic_bytes


def aes256gcm_encrypt(key: bytes, nonce: bytes, ad: bytes, plaintext: bytes) -> bytes:
    assert len(key) == AES_SUBKEY_LEN and len(nonce) == AES_NONCE_ZERO_LEN + 8
    if AESGCM is not None:
        return AESGCM(key).encrypt(nonce, plaintext, ad)
    out = ctypes.create_string_buffer(len(plaintext) + TAG_LEN)
    out_len = ctypes.c_ulonglong(0)
    if _sodium.crypto_aead_aes256gcm_encrypt(out, ctypes.byref(out_len), plaintext, len(plaintext),
                                             ad, len(ad), None, nonce, key) != 0:
        raise MqsealError("crypto_failure", "AES-256-GCM encrypt")
    return out.raw[:out_len.value]


def aes256gcm_decrypt(key: bytes, nonce: bytes, ad: bytes, ciphertext_tag: bytes) -> bytes:
    assert len(key) == AES_SUBKEY_LEN and len(nonce) == AES_NONCE_ZERO_LEN + 8
    if len(ciphertext_tag) < TAG_LEN:
        raise MqsealError("authentication_failed", "shorter than a tag")
    if AESGCM is not None:
        try:
            return AESGCM(key).decrypt(nonce, ciphertext_tag, ad)
        except InvalidTag:
            raise MqsealError("authentication_failed") from None
    out = ctypes.create_string_buffer(max(1, len(ciphertext_tag) - TAG_LEN))
    out_len = ctypes.c_ulonglong(0)
    if _sodium.crypto_aead_aes256gcm_decrypt(out, ctypes.byref(out_len), None, ciphertext_tag,
                                             len(ciphertext_tag), ad, len(ad), nonce, key) != 0:
        raise MqsealError("authentication_failed")
    return out.raw[:out_len.value]


def aes_seal(key_material: bytes, topic_bytes: bytes, header: Header, payload: bytes) -> bytes:
    """Section 4e, sealing: header (suite 5, sequence at most 2^32 - 1), then
    ciphertext || tag under the (topic key, sender) subkey."""
    if header.version != VERSION_2 or header.suite != SUITE_AES256GCM or header.sequence > AES_MAX_SEQUENCE:
        raise MqsealError("invalid_argument", "suite 5: envelope v2, sequence below 2^32")
    prefix = header.encode()
    subkey = aes_subkey(derive_topic_key(key_material, topic_bytes), header.sender)
    return prefix + aes256gcm_encrypt(subkey, aes_nonce(header.sequence),
                                      aes_associated_data(prefix, topic_bytes), payload)


class Aes256GcmReceiver:
    """Opening, section 4's steps with section 4e's suite: rules of suite 1
    and 5 (a policy array with `suite: 5`), symmetric keys only."""

    def __init__(self, doc: dict, config: ReplayConfig):
        self.rules = signed_policy(doc["policy"])
        self.keyring = Keyring.from_json(doc["keys"])
        self.guard = ReplayGuard(config)

    @staticmethod
    def read_header(envelope: bytes) -> Header:
        """Step 2, in section 4's order with 4d and 4e: length, version,
        length for the version, suite, that suite's length, flags, and for
        suite 5 last the sequence bound."""
        if not MIN_ENVELOPE <= len(envelope) <= MAX_ENVELOPE:
            raise MqsealError("malformed", f"{len(envelope)} bytes")
        if envelope[0] & 0x0F == VERSION_3:
            return parse_header(envelope)
        version = envelope[0]
        if version not in (VERSION_1, VERSION_2):
            raise MqsealError("unsupported_version", str(version))
        if len(envelope) < MIN_ENVELOPE_V[version]:
            raise MqsealError("malformed")
        suite = envelope[1]
        if not (suite == SUITE_XCHACHA_TOPIC_KEY or (version == VERSION_2 and 2 <= suite <= SUITE_AES256GCM)):
            raise MqsealError("unsupported_suite", str(suite))
        minimum = {SUITE_SIGNED: SIGNED_MIN, SUITE_RECIPIENT: RECIPIENT_MIN,
                   SUITE_SIGNED_SEALED: SIGNED_SEALED_MIN}.get(suite, 0)
        if len(envelope) < minimum:
            raise MqsealError("malformed", f"shorter than a suite {suite} envelope")
        flags = envelope[2] if version == VERSION_2 else 0
        if flags & ~FLAG_RETAIN:
            raise MqsealError("malformed", f"unknown flags {flags:#04x}")
        o = 3 if version == VERSION_2 else 2
        h = Header(version=version, suite=suite, flags=flags,
                   key_id=int.from_bytes(envelope[o:o + 4], "big"),
                   timestamp_ms=int.from_bytes(envelope[o + 4:o + 12], "big"),
                   sender=bytes(envelope[o + 12:o + 28]),
                   sequence=int.from_bytes(envelope[o + 28:o + 36], "big"))
        if suite == SUITE_AES256GCM and h.sequence > AES_MAX_SEQUENCE:
            raise MqsealError("malformed", "a suite 5 sequence above 2^32 - 1")
        return h

    def open(self, topic: str, envelope: bytes, now_ms: int, retained: bool) -> bytes:
        # 1.
        rule, topic_bytes = signed_resolve(self.rules, topic)
        if rule.plaintext:
            return envelope
        # 2.
        h = self.read_header(envelope)
        # 3.
        key = self.keyring.get(h.key_id)
        if key is None:
            raise MqsealError("unknown_key")
        if key.state == "retired":
            raise MqsealError("key_retired")
        if key.name != rule.key_name:
            raise MqsealError("wrong_key_for_topic")
        # The rule's suite and version, no other (sections 4a, 4d, 4e):
        # these rules are full ones, suite 1 or 5.
        if h.version == VERSION_3 or h.suite != rule.suite:
            raise MqsealError("wrong_suite_for_topic", f"suite {h.suite} on a suite {rule.suite} rule")
        # 4.
        topic_key = derive_topic_key(key.material, topic_bytes)
        if h.suite == SUITE_AES256GCM:
            payload = aes256gcm_decrypt(aes_subkey(topic_key, h.sender), aes_nonce(h.sequence),
                                        aes_associated_data(envelope[:HEADER_LEN[VERSION_2]], topic_bytes),
                                        envelope[HEADER_LEN[VERSION_2]:])
        else:
            payload = aead_decrypt(topic_key, h.nonce, associated_data(envelope[:h.ad_prefix_len], topic_bytes),
                                   envelope[h.header_len:])
        # 5. As suite 1: the key name's partition, the rule's retained policy.
        self.guard.check(h, Rule(rule.filter, rule.key_name, rule.levels, rule.retained), topic_bytes,
                         now_ms, retained)
        return payload


def check_aes256gcm(doc: dict) -> list[tuple[str, list[str]]]:
    if not aes_gcm_available():
        return [("aes256gcm", [f"no AES-256-GCM to check suite 5 with ({AES_GCM_FROM}, no AES-NI)"])]
    results = []
    keyring = Keyring.from_json(doc["keys"])
    config = ReplayConfig(**doc["replay"])
    for v in doc["vectors"]:
        problems: list[str] = []
        envelope = bytes.fromhex(v["envelope"])
        if v["expect"] == "ok":
            topic_bytes = v["topic"].encode("utf-8")
            payload = bytes.fromhex(v["payload"])
            h = Header(v["version"], v["suite"], v["flags"], v["key_id"], v["timestamp_ms"],
                       bytes.fromhex(v["sender"]), v["sequence"])
            key = keyring.get(v["key_id"])
            topic_key = derive_topic_key(key.material, topic_bytes)
            for name, got in (("topic_key", topic_key), ("subkey", aes_subkey(topic_key, h.sender)),
                              ("nonce", aes_nonce(h.sequence)),
                              ("associated_data", aes_associated_data(h.encode(), topic_bytes))):
                if got.hex() != v[name]:
                    problems.append(f"{name} {got.hex()}, expected {v[name]}")
            try:
                sealed = aes_seal(key.material, topic_bytes, h, payload)
                if sealed != envelope:
                    problems.append("sealing: " + _bytes_diff(sealed, envelope))
            except MqsealError as e:
                problems.append(f"sealing: {e}")
            if len(envelope) - len(payload) != AES_OVERHEAD or v["overhead"] != AES_OVERHEAD:
                problems.append(f"overhead {len(envelope) - len(payload)}, recorded {v['overhead']}")
        o = v["open"]
        receiver = Aes256GcmReceiver(doc, config)
        got, res = _outcome(lambda: receiver.open(o["topic"], envelope, o["now_ms"], o["retained"]))
        if got != v["expect"]:
            problems.append(f"open gave {got}, expected {v['expect']}")
        elif got == "ok" and res.hex() != v["payload"]:
            problems.append("payload differs")
        results.append((f"aes256gcm:{v['name']}", problems))
    for seq in doc["sequences"]:
        receiver = Aes256GcmReceiver(doc, ReplayConfig(**seq["replay"]))
        problems = []
        for step in seq["steps"]:
            d = step["deliver"]
            got, res = _outcome(lambda: receiver.open(d["topic"], bytes.fromhex(step["envelope"]),
                                                      d["now_ms"], d["retained"]))
            if got != step["expect"]:
                problems.append(f"{step['label']}: got {got}, expected {step['expect']}")
            elif got == "ok" and res.hex() != step["payload"]:
                problems.append(f"{step['label']}: payload differs")
        results.append((f"aes256gcm:sequence:{seq['name']}", problems))
    for c in doc["policy_files"]:
        got, rules = _outcome(lambda: parse_signed_policy_file(c["text"]))
        problems = []
        if got != c["expect"]:
            problems.append(f"got {got}, expected {c['expect']}")
        elif got == "ok":
            # load_vectors read the file's decimal strings as integers.
            rules = [r | ({"retained_max_age_ms": int(r["retained_max_age_ms"])} if "retained_max_age_ms" in r else {})
                     for r in rules]
            if rules != c["rules"]:
                problems.append(f"rules {rules} != {c['rules']}")
        results.append((f"aes256gcm:policy-file:{c['name']}", problems))
    # Self-check: every byte of a sealed envelope is authenticated (one bit
    # flipped anywhere: refused), and suite 5 never opens at sequence 2^32.
    base = next(v for v in doc["vectors"] if v["expect"] == "ok" and not v["open"]["retained"])
    envelope = bytes.fromhex(base["envelope"])
    problems = []
    for i in range(len(envelope)):
        forged = bytearray(envelope)
        forged[i] ^= 0x01
        receiver = Aes256GcmReceiver(doc, config)
        got, _ = _outcome(lambda: receiver.open(base["topic"], bytes(forged), base["open"]["now_ms"], False))
        if got == "ok":
            problems.append(f"byte {i} flipped: opened")
    try:
        aes_seal(bytes(KEY_LEN), b"t", Header(VERSION_2, SUITE_AES256GCM, 0, 1, 0, bytes(SENDER_LEN),
                                                 AES_MAX_SEQUENCE + 1), b"")
        problems.append("sealed a suite 5 sequence of 2^32")
    except MqsealError as e:
        if e.name != "invalid_argument":
            problems.append(f"sequence 2^32: {e.name}")
    results.append(("aes256gcm:self:every-byte-authenticated", problems))
    return results


# File name -> (checker, minimum number of checks it must run).
OTHER_FILES: dict[str, tuple[Callable[[dict], list[tuple[str, list[str]]]], int]] = {
    "connect_token_v1.json": (check_tokens, 25),
    "policy_v1.json": (check_policies, 15),
    "sequences_v1.json": (check_sequences, 13),
    "files_v1.json": (check_files, 80),
    "records_v1.json": (check_records, 18),
    "replay_store_v1.json": (check_replay_store, 11),
    "signed_v1.json": (check_signed, 120),
    "recipient_v1.json": (check_recipient, 55),
    "aes256gcm_v1.json": (check_aes256gcm, MIN_CHECKS_AES256GCM),
}


def main(argv: list[str]) -> int:
    """Checks every vector file in tests/vectors (or in the directory given)."""
    directory = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent / "vectors"
    runners: dict[str, Runner] = {}
    for name, prefix in (("envelope_v1.json", "v1:"), ("envelope_v2.json", "v2:"), ("envelope_v3.json", "v3:")):
        path = directory / name
        try:
            runners[name] = Runner(load_vectors(path), prefix, runners.get("envelope_v1.json"))
        except (OSError, ValueError, KeyError, TypeError, MqsealError) as e:
            print(f"FAIL loading {path}: {type(e).__name__}: {e}")
            print("0 passed, 1 failed")
            return 1
    v1, runner = runners["envelope_v1.json"], runners["envelope_v2.json"]
    v3 = runners["envelope_v3.json"]
    v1.run_vectors()
    v3.run_vectors()
    runner.run_vectors()
    runner.self_checks()
    # Counted as a failure of its own, so "0 failed" always means success.
    for r, minimum in ((v1, MIN_VECTORS_V1), (runner, MIN_VECTORS), (v3, MIN_VECTORS_V3)):
        if r.vectors_passed < minimum:
            runner.record(f"{r.prefix}vector-count", [f"only {r.vectors_passed} vectors "
                                                      f"passed, need {minimum}"], vector=False)
    runner.passed += v1.passed + v3.passed
    runner.failed += v1.failed + v3.failed
    for name, (check, minimum) in OTHER_FILES.items():
        try:
            results = check(load_vectors(directory / name))
        except Exception as e:   # a crash or a bad file is a failure, not an abort
            results = [(name, [f"raised {type(e).__name__}: {e}"])]
        for label, problems in results:
            runner.record(label, problems, vector=False)
        if len(results) < minimum:
            runner.record(f"{name}:count", [f"only {len(results)} checks, need {minimum}"],
                          vector=False)
    print(f"Ed25519 from {ED25519_FROM}; AES-256-GCM (suite 5) from {AES_GCM_FROM}")
    print(f"{runner.passed} passed, {runner.failed} failed")
    return 0 if (runner.failed == 0 and runner.vectors_passed >= MIN_VECTORS
                 and v1.vectors_passed >= MIN_VECTORS_V1 and v3.vectors_passed >= MIN_VECTORS_V3) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
