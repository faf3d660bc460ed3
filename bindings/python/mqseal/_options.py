"""Enums and options, with the names of the C++ core (mqseal/keyring.h, mqseal/policy.h,
mqseal/options.h, mqseal/replay_guard.h, mqseal/credentials.h).

The defaults are the C++ defaults, read from the extension module. The options
are validated where they are used (invalid_argument), as in C++: a field out of
range (a negative int, one past 2**64-1, a str with a lone surrogate) raises
InvalidArgumentError naming it, a field of a wrong type TypeError naming it.
"""

from __future__ import annotations

import dataclasses
import enum
import sys
from typing import Literal, Optional, TypedDict, Union, cast

from . import _mqseal


_DEFAULT = _mqseal.DEFAULTS


class KeyState(enum.IntEnum):
    """primary seals and opens; active opens; retired opens nothing (mqseal::KeyState)."""

    primary = 1
    active = 2
    retired = 3
    PRIMARY = 1  # the earlier spellings, kept as aliases
    ACTIVE = 2
    RETIRED = 3


class KeyKind(enum.IntEnum):
    """What a keyring entry is (mqseal::KeyKind); IDs are unique across kinds, names are per kind."""

    symmetric = 1
    """A 32-byte key under a key name: seals and opens payloads."""
    signing = 2
    """An Ed25519 key pair under a signer name: this party signs as it (suite 2)."""
    trusted_signer = 3
    """Another party's Ed25519 public key under its signer name: verifies only."""
    recipient = 4
    """An X25519 key pair under a recipient name: opens what is sealed to its public half (suite 3)."""
    recipient_public = 5
    """A recipient's X25519 public key under its recipient name: seals to it, opens nothing."""


if sys.version_info >= (3, 11):
    from enum import StrEnum as _StrEnum
else:

    class _StrEnum(str, enum.Enum):
        def __str__(self) -> str:
            return str(self.value)


class RetainedPolicy(_StrEnum):
    """What a receiver does with a message sealed to be retained (mqseal::RetainedPolicy).

    The values are the policy file's words; a str "accept" or "refuse" is taken wherever a
    RetainedPolicy is.
    """

    accept_within_age = "accept"
    """Accept it up to retained_max_age_ms old."""
    refuse = "refuse"
    """Refuse it (retained_refused)."""


Retained = Union[RetainedPolicy, Literal["accept", "refuse"]]
"""A RetainedPolicy or its value."""


@dataclasses.dataclass(frozen=True)
class ReplayOptions:
    """The replay guard's bounds (mqseal::ReplayOptions): Opener and ReplayGuard."""

    max_age_ms: int = _DEFAULT["max_age_ms"]
    """Older messages are expired; at least 1."""
    max_future_skew_ms: int = _DEFAULT["max_future_skew_ms"]
    """Tolerated clock skew: messages further ahead are not_yet_valid."""
    retained: Retained = RetainedPolicy.accept_within_age
    """For messages sealed to be retained, unless their topic's rule says otherwise."""
    retained_max_age_ms: int = _DEFAULT["retained_max_age_ms"]
    """With retained accept_within_age: how old a retained message may be."""
    max_streams: int = _DEFAULT["max_streams"]
    """(sender, topic) pairs tracked at once, per key name: 1..2^24."""
    max_evicted_streams: int = _DEFAULT["max_evicted_streams"]
    """Suite 3 only (a recipient name's partition, which anyone with its public key seals into):
    streams evicted from the table that are remembered on their own (tombstones) instead of raising
    the watermark that every new stream meets, per recipient name: 0..2^24 (0: none)."""


@dataclasses.dataclass(frozen=True)
class SealerOptions:
    """How a Sealer is set up (mqseal::SealerOptions; its clock is the system clock here)."""

    topic_cache_capacity: int = _DEFAULT["topic_cache_capacity"]
    """Concrete topics whose derived keys stay cached."""
    signer: str = ""
    """The signer name to sign as on signed rules (suites 2 and 4), with its primary signing key.
    Empty: the keyring's only signer name (a device's keyring)."""
    recipient_session_max_age_ms: int = _DEFAULT["recipient_session_max_age_ms"]
    """Suites 3 and 4: at the first such seal once the sealing session is this old, a new ephemeral
    key pair replaces it and the old secret is wiped (no timer: an idle sealer keeps it until that
    seal, set_keyring() or its end). 0: never by age."""


@dataclasses.dataclass(frozen=True)
class OpenerOptions:
    """How an Opener is set up (mqseal::OpenerOptions)."""

    replay: ReplayOptions = ReplayOptions()
    topic_cache_capacity: int = _DEFAULT["topic_cache_capacity"]
    """Concrete topics whose derived keys stay cached."""
    replay_store: Optional[_mqseal.ReplayStore] = None
    """None: the Opener's own replay guard. A store (memory_replay_store(), ...) shared by a group of
    Openers (consumers of one $share/group/... subscription): the group accepts each message once."""
    max_claims_per_key_name: int = _DEFAULT["max_claims_per_key_name"]
    """With a replay_store: live claims per key name, 1..2^26; past it, that key name's new messages
    are refused (capacity_exceeded) until its older claims expire."""
    replay_group: str = ""
    """With a replay_store, required: the consumer group's name, 1 to 48 of A-Z a-z 0-9 . _ -
    (the $share group, say). Groups sharing one store keep their claims apart: each accepts a
    message once; every member of one group gives the same name."""
    recipient_session_capacity: int = _DEFAULT["recipient_session_capacity"]
    """Suite 3 and 4 sealing sessions whose derived keys stay cached, 1..2^20 (least recently used go:
    that session's next message pays one X25519 again). Only a message that opened adds one."""


@dataclasses.dataclass(frozen=True)
class VerifierOptions:
    """How a TokenVerifier checks tokens (mqseal::VerifierOptions)."""

    max_clock_skew_s: int = _DEFAULT["max_clock_skew_s"]
    """Tolerated between device and broker: 0..3600."""
    max_lifetime_s: int = _DEFAULT["max_lifetime_s"]
    """Tokens that expire later than this from now are refused: 1..86400."""
    max_tokens_per_user: int = _DEFAULT["max_tokens_per_user"]
    """Live tokens remembered per user, 1..65536. A token is remembered until its expiry plus the
    skew, and at least 60 s from its acceptance, so this also bounds a user's logins per minute.
    A user whose own live tokens fill it gets capacity_exceeded until one is forgotten; no other
    user is affected."""
    replay_store: Optional[_mqseal.ReplayStore] = None
    """Where accepted tokens are remembered. None: a store in this verifier's memory. A
    file_replay_store() keeps single use across restarts; one store given to several verifiers
    shares it between them."""


# The keyword arguments that change one field of the options (Opener(..., max_age_ms=1000)).


class ReplayKeywords(TypedDict, total=False):
    max_age_ms: int
    max_future_skew_ms: int
    retained: Retained
    retained_max_age_ms: int
    max_streams: int
    max_evicted_streams: int


class OpenerKeywords(ReplayKeywords, total=False):
    topic_cache_capacity: int
    replay_store: Optional[_mqseal.ReplayStore]
    max_claims_per_key_name: int
    replay_group: str
    recipient_session_capacity: int


class VerifierKeywords(TypedDict, total=False):
    max_clock_skew_s: int
    max_lifetime_s: int
    max_tokens_per_user: int
    replay_store: Optional[_mqseal.ReplayStore]


_OPENER_FIELDS = (
    "topic_cache_capacity",
    "replay_store",
    "max_claims_per_key_name",
    "replay_group",
    "recipient_session_capacity",
)


def opener_options(options: OpenerOptions | None, changes: OpenerKeywords) -> OpenerOptions:
    """`options` (default: the defaults) with the fields named in `changes` replaced."""
    base = OpenerOptions() if options is None else options
    replay = cast(ReplayKeywords, {k: v for k, v in changes.items() if k not in _OPENER_FIELDS})
    return OpenerOptions(
        dataclasses.replace(base.replay, **replay),
        changes.get("topic_cache_capacity", base.topic_cache_capacity),
        changes.get("replay_store", base.replay_store),
        changes.get("max_claims_per_key_name", base.max_claims_per_key_name),
        changes.get("replay_group", base.replay_group),
        changes.get("recipient_session_capacity", base.recipient_session_capacity),
    )
