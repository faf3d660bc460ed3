"""Type stubs for mqseal._mqseal, the C++ core (see mqseal/__init__.py)."""

from __future__ import annotations

import enum
from typing_extensions import Buffer
from typing import Literal, Optional, overload

KEY_SIZE: int
ENVELOPE_OVERHEAD: int
HEADER_SIZE: int
MAX_PAYLOAD_SIZE: int
REPLAY_WINDOW: int
__version__: str

class Error(Exception):
    """Base class of every mqseal error. `code` is the stable error name."""

    code: str

class InvalidArgumentError(Error):
    """A value is out of range: a bad topic, filter, key name or size."""

class NoRuleError(Error):
    """No policy rule covers the topic (mqseal fails closed)."""

class FormatError(Error):
    """Malformed envelope or file, or a version or suite this build cannot read."""

class KeyNotFoundError(Error):
    """The key is unknown, retired, of another key name, or missing."""

class AuthenticationError(Error):
    """The envelope was altered, forged, or sealed for another topic."""

class DuplicateError(Error):
    """An exact repeat of an accepted message (QoS 1 redelivery): drop it quietly."""

class ReplayError(Error):
    """A replayed message, or one refused by the retained-message policy."""

class ExpiredError(ReplayError):
    """Older than the maximum age, or too far in the future."""

class FileError(Error):
    """A key or policy file could not be read or written."""

class PermissionsError(FileError):
    """A secret file is readable by group or others."""

class CryptoError(Error):
    """libsodium failed, or a sealer used up its sequence numbers."""

class TransportError(Error):
    """The MQTT client library refused the operation."""

class PassphraseParams:
    """Argon2id salt and limits, stored with a key derived from a passphrase.

    `memlimit` is in bytes (libsodium's unit), not KiB as in RFC 9106 or
    argon2-cffi's `memory_cost`: 65536 means 64 KiB (docs/SPEC.md, section 1).
    """

    def __init__(self, salt: Buffer, opslimit: int, memlimit: int) -> None: ...
    @staticmethod
    def generate() -> PassphraseParams:
        """A random salt with libsodium's INTERACTIVE limits (64 MiB)."""
    @property
    def salt(self) -> bytes: ...
    @property
    def opslimit(self) -> int: ...
    @property
    def memlimit(self) -> int:
        """Argon2id memory in bytes (not KiB)."""

class Key:
    """A 256-bit key in guarded memory. Its bytes are never shown."""

    @staticmethod
    def generate() -> Key:
        """A fresh key from the operating system's CSPRNG."""
    @staticmethod
    def from_bytes(data: Buffer) -> Key:
        """Exactly 32 bytes; wipe your own copy afterwards."""
    @staticmethod
    def from_passphrase(passphrase: str | Buffer, params: PassphraseParams) -> Key:
        """Argon2id13 over the passphrase: a str (as UTF-8) or any bytes-like object.

        mqseal leaves no copy of the passphrase behind, but Python cannot wipe a str or
        bytes object: pass a bytearray, and overwrite it when done (`p[:] = bytes(len(p))`).
        """
    def same_bytes(self, other: Key) -> bool:
        """Constant-time comparison of the key bytes."""

class KeyState(enum.Enum):
    """primary seals and opens; active opens; retired opens nothing."""

    PRIMARY = 1
    ACTIVE = 2
    RETIRED = 3

class KeyInfo:
    """What a keyring says about a key: never its bytes."""

    @property
    def name(self) -> str: ...
    @property
    def id(self) -> int: ...
    @property
    def state(self) -> KeyState: ...
    @property
    def passphrase(self) -> PassphraseParams | None: ...

class Keyring:
    """Named sets of keys, one primary per name (add, roll out, promote, retire)."""

    def __init__(self) -> None: ...
    def generate(self, name: str) -> int:
        """Adds a fresh key under `name`; returns its ID. The first of a name is primary."""
    def add(self, name: str, key: Key) -> int:
        """Adds a copy of `key` under `name` with a fresh ID; returns the ID."""
    def add_with_id(self, name: str, id: int, key: Key, passphrase: PassphraseParams | None = None) -> None:
        """Adds a copy of `key` with a chosen ID (import, test vectors)."""
    def promote(self, id: int) -> None:
        """Makes `id` the primary of its name; the old primary becomes active."""
    def retire(self, id: int) -> None:
        """Wipes the key and keeps its ID as retired (not the primary)."""
    def primary(self, name: str) -> int:
        """The primary key ID of `name` (KeyNotFoundError if none)."""
    def info(self, id: int) -> KeyInfo:
        """Name and state of a key ID."""
    def list(self) -> list[KeyInfo]:
        """Every key, in the order added; no key bytes."""
    def __len__(self) -> int: ...
    def clone(self) -> Keyring:
        """A deep copy, key bytes in new guarded memory."""
    def save(self, path: str) -> None:
        """Writes the keyring file atomically with mode 0600."""
    @staticmethod
    def load(path: str, *, allow_insecure_permissions: bool = False) -> Keyring:
        """Reads a keyring file; refuses one readable by group or others."""

class TopicRule:
    """One policy rule: an MQTT filter and a key name, or plaintext."""

    @property
    def filter(self) -> str: ...
    @property
    def key_name(self) -> str: ...
    @property
    def plaintext(self) -> bool: ...
    @property
    def retained(self) -> Optional[Literal["accept", "refuse"]]:
        """This rule's treatment of retained messages; None: the receiver's default."""
    @property
    def retained_max_age_ms(self) -> Optional[int]: ...

class TopicPolicy:
    """Which key protects which topic; the most specific filter wins; fail closed."""

    def __init__(self) -> None: ...
    def add_rule(
        self,
        filter: str,
        key_name: str,
        *,
        retained: Optional[Literal["accept", "refuse"]] = None,
        retained_max_age_ms: Optional[int] = None,
    ) -> None:
        """Topics matching `filter` are sealed under the key named `key_name`.

        `retained` ("refuse" for command topics) overrides the receiver's treatment of
        messages sealed to be retained; `retained_max_age_ms` goes with "accept".
        """
    def add_plaintext_rule(self, filter: str) -> None:
        """Topics matching `filter` pass through unsealed."""
    def resolve(self, topic: str) -> TopicRule:
        """The winning rule for a topic (NoRuleError if none)."""
    @property
    def rules(self) -> list[TopicRule]: ...
    @staticmethod
    def load(path: str) -> TopicPolicy:
        """Reads a TOML policy file (docs/SPEC.md, "Policy file")."""
    @staticmethod
    def parse(text: str) -> TopicPolicy:
        """Parses TOML policy text."""

class Sealer:
    """Seals payloads for publishing. Keeps a snapshot of the keyring."""

    def __init__(self, policy: TopicPolicy, keyring: Keyring, *, topic_cache_capacity: int = 1024) -> None: ...
    def seal(self, topic: str, payload: Buffer, *, retain: bool = False) -> bytes:
        """The envelope for `payload` on `topic` (unchanged for plaintext-rule topics).

        retain=True seals the intent to publish it with MQTT's retain flag: only such an
        envelope is judged as retained by receivers. Publish it with retain exactly then.
        """
    def set_keyring(self, keyring: Keyring) -> None:
        """Rotation: seal under this keyring's primary keys from now on."""
    @property
    def sender(self) -> bytes:
        """This sealing session's 16-byte sender ID."""

class Opened:
    """An opened payload and what its envelope said."""

    @property
    def payload(self) -> bytes: ...
    @property
    def sealed(self) -> bool: ...
    @property
    def key_id(self) -> int: ...
    @property
    def timestamp_ms(self) -> int: ...
    @property
    def sender(self) -> bytes: ...
    @property
    def sequence(self) -> int: ...
    @property
    def retained(self) -> bool:
        """Sealed to be retained and delivered from the broker's retained store."""

class Opener:
    """Opens sealed payloads on receipt, with replay protection. Keeps a snapshot of the keyring."""

    def __init__(
        self,
        policy: TopicPolicy,
        keyring: Keyring,
        *,
        max_age_ms: int = 300000,
        max_future_skew_ms: int = 60000,
        retained: Literal["accept", "refuse"] = "accept",
        retained_max_age_ms: int = 604800000,
        max_streams: int = 4096,
        topic_cache_capacity: int = 1024,
    ) -> None: ...
    def open(self, topic: str, envelope: Buffer, *, retained: bool = False, now_ms: int = 0) -> Opened:
        """Authenticates and decrypts; raises an mqseal.Error on any refusal."""
    def set_keyring(self, keyring: Keyring) -> None:
        """Rotation: open with this keyring from now on (replay state is kept)."""

class ReplayGuard:
    """Duplicate, replay and age checks for authenticated messages (Opener has one built in)."""

    def __init__(
        self,
        *,
        max_age_ms: int = 300000,
        max_future_skew_ms: int = 60000,
        retained: Literal["accept", "refuse"] = "accept",
        retained_max_age_ms: int = 604800000,
        max_streams: int = 4096,
    ) -> None: ...
    def check(
        self,
        topic: str,
        sender: Buffer,
        sequence: int,
        timestamp_ms: int,
        *,
        retained: bool = False,
        now_ms: int = 0,
        key_name: str = "",
    ) -> None:
        """Records an accepted message; raises DuplicateError, ReplayError or ExpiredError otherwise.

        `key_name` is the partition: state is kept per key name. `retained` means sealed to be
        retained and delivered with the retain flag.
        """
    @property
    def tracked_streams(self) -> int: ...
    def watermark_ms(self, key_name: str = "") -> int:
        """The watermark of one key name's partition."""

class CredentialRecord:
    """A broker's record of one device: no password, no device secret."""

    @property
    def username(self) -> str: ...
    @property
    def passphrase(self) -> PassphraseParams: ...

class Provisioned:
    """What provision() returns: the device's secret and the broker's record."""

    @property
    def device_secret(self) -> Key: ...
    @property
    def record(self) -> CredentialRecord: ...

def provision(username: str, password: str | Buffer, params: PassphraseParams) -> Provisioned:
    """The device secret (for the device) and the broker's record, from a password (Argon2id).

    The password is a str (as UTF-8) or any bytes-like object. mqseal leaves no copy of it
    behind, but Python cannot wipe a str or bytes object: pass a bytearray, and overwrite it
    when done (`p[:] = bytes(len(p))`).
    """

@overload
def make_connect_token(
    device_secret: Key, username: str, client_id: str, *, lifetime_s: int = 300, now_s: int = 0
) -> str:
    """A fresh single-use token for the CONNECT password field (81 characters)."""
@overload
def make_connect_token(
    keyring: Keyring, key_name: str, username: str, client_id: str, *, lifetime_s: int = 300, now_s: int = 0
) -> str:
    """The same, with the device secret kept in a keyring (the primary key of key_name)."""

def _make_connect_token_with_nonce(
    device_secret: Key, username: str, client_id: str, expiry_s: int, nonce: Buffer
) -> str: ...

class Credentials:
    """The broker's credentials file: one record per device."""

    def __init__(self) -> None: ...
    def add(self, record: CredentialRecord) -> None: ...
    def __len__(self) -> int: ...
    def __contains__(self, username: object) -> bool: ...
    def save(self, path: str) -> None:
        """Writes the file atomically with mode 0600."""
    @staticmethod
    def load(path: str, *, allow_insecure_permissions: bool = False) -> Credentials:
        """Reads a credentials file; refuses one readable by group or others."""

class TokenVerifier:
    """Checks CONNECT tokens; each is accepted once. Keeps a snapshot of the credentials."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        max_clock_skew_s: int = 30,
        max_lifetime_s: int = 3600,
        max_tokens_per_user: int = 64,
    ) -> None:
        """max_tokens_per_user (1..65536): live tokens remembered per user; a user whose own
        live tokens fill it gets capacity_exceeded, no other user is affected."""
    def verify(self, username: str, client_id: str, token: str, *, now_s: int = 0) -> None:
        """Returns if the token is good; raises an mqseal.Error saying which check failed."""
    @property
    def remembered_tokens(self) -> int:
        """Tokens remembered over all users."""

class EnvelopeHeader:
    """An envelope's header, read without a key."""

    @property
    def version(self) -> int: ...
    @property
    def suite(self) -> int: ...
    @property
    def flags(self) -> int:
        """Envelope v2 flags (0x01: sealed to be retained); 0 for v1."""
    @property
    def key_id(self) -> int: ...
    @property
    def timestamp_ms(self) -> int: ...
    @property
    def sender(self) -> bytes: ...
    @property
    def sequence(self) -> int: ...

def parse_header(envelope: Buffer) -> EnvelopeHeader:
    """The header of an envelope, read without a key. Proves nothing until opened."""

def _derive_topic_key(key: Key, topic: str) -> bytes: ...
def _seal_with_header(
    topic_key: Buffer,
    topic: str,
    key_id: int,
    timestamp_ms: int,
    sender: Buffer,
    sequence: int,
    payload: Buffer,
    *,
    version: int = 2,
    flags: int = 0,
) -> bytes: ...
