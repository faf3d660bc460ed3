"""Type stubs for mqseal._mqseal, the C++ core's thin binding (bindings/python/src).

Checked against the built module by `python -m mypy.stubtest mqseal` (scripts/test,
tests/python/test_stubs.py). Import mqseal, not this module: its errors are raised as
the classes of mqseal/_errors.py, its enums are those of mqseal/_options.py, and
Sealer, Opener, ReplayGuard and TokenVerifier are constructed through the subclasses
of mqseal/_sealing.py and mqseal/_credentials.py.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple, overload

from typing_extensions import Buffer

from ._options import KeyKind, KeyState, OpenerOptions, ReplayOptions, Retained, RetainedPolicy, SealerOptions, VerifierOptions

class _Pybind11Type(type):
    """pybind11's metaclass (pybind11_builtins.pybind11_type), the runtime type of every class here."""

KEY_SIZE: int
ENVELOPE_OVERHEAD: int
HEADER_SIZE: int
MAX_PAYLOAD_SIZE: int
REPLAY_WINDOW: int
RECORD_OVERHEAD: int
__version__: str
ERROR_NAMES: Tuple[str, ...]
"""Every stable error name of the core (mqseal::name(Errc)), in the order of their codes."""
DEFAULTS: Dict[str, int]
"""The C++ defaults of every option field, by field name."""

class PassphraseParams(metaclass=_Pybind11Type):
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

class Key(metaclass=_Pybind11Type):
    """A 256-bit key in guarded memory. Its bytes are never shown."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        """Not constructible from Python (TypeError): Key.generate(), Key.from_bytes(), Key.from_passphrase()."""

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

class KeyInfo(metaclass=_Pybind11Type):
    """What a keyring says about a key: never its bytes."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        """Not constructible from Python (TypeError): Keyring.info() and Keyring.list() return them."""

    @property
    def name(self) -> str: ...
    @property
    def id(self) -> int: ...
    @property
    def state(self) -> KeyState: ...
    @property
    def passphrase(self) -> PassphraseParams | None: ...
    @property
    def kind(self) -> KeyKind: ...
    @property
    def public_key(self) -> bytes | None:
        """The public key: Ed25519 of a signing key pair or trusted signer, X25519 of a recipient key pair or
        recipient public key (None when retired, or symmetric)."""

class Keyring(metaclass=_Pybind11Type):
    """Named sets of keys, one primary per name (add, roll out, promote, retire)."""

    def __init__(self) -> None: ...
    def generate(self, name: str) -> int:
        """Adds a fresh key under `name`; returns its ID. The first of a name is primary."""
    def add(self, name: str, key: Key) -> int:
        """Adds a copy of `key` under `name` with a fresh ID; returns the ID."""
    def add_with_id(self, name: str, id: int, key: Key, passphrase: PassphraseParams | None = None) -> None:
        """Adds a copy of `key` with a chosen ID (import, test vectors)."""
    def generate_signing_key(self, signer: str) -> int:
        """Adds a fresh Ed25519 key pair under signer name `signer` (suite 2); returns its ID.

        The first of a signer is primary (it signs); later ones are active until promoted.
        """
    def add_signing_key_with_id(self, signer: str, id: int, seed: Key) -> None:
        """Adds the Ed25519 key pair of a 32-byte seed with a chosen ID (import, test vectors)."""
    def add_trusted_signer(self, signer: str, id: int, public_key: Buffer) -> None:
        """Trusts another party's 32-byte Ed25519 public key to sign as `signer` (retire it to revoke)."""
    def generate_recipient_key(self, recipient: str) -> int:
        """Adds a fresh X25519 key pair under recipient name `recipient` (suites 3 and 4); returns its ID.

        Only this key pair opens what is sealed to its public half (export_public() hands that out).
        The first of a recipient is primary; later ones are active until promoted.
        """
    def add_recipient_key_with_id(self, recipient: str, id: int, secret: Key) -> None:
        """Adds the X25519 key pair of a 32-byte secret scalar with a chosen ID (import, test vectors)."""
    def add_recipient_public(self, recipient: str, id: int, public_key: Buffer) -> None:
        """A recipient's 32-byte X25519 public key (what a device holds): seals to it, opens nothing.

        InvalidArgumentError for a key that is not 32 bytes or is a low-order point.
        """
    def promote(self, id: int) -> None:
        """Makes `id` the primary of its name; the old primary becomes active."""
    def retire(self, id: int) -> None:
        """Wipes the key and keeps its ID as retired (not the primary)."""
    def primary(self, name: str) -> int:
        """The primary key ID of `name` (KeyNotFoundError if none)."""
    def primary_signing_key(self, signer: str) -> int:
        """The primary signing key ID of signer name `signer` (KeyNotFoundError if none)."""
    def public_key(self, id: int) -> bytes:
        """The public key of a signing key pair or trusted signer (Ed25519), or of a recipient key pair or
        recipient public key (X25519)."""
    def export_public(self) -> str:
        """A keyring file of the public halves only, no secret: trusted-ed25519 lines for signing keys (for
        receivers) and recipient-public-x25519 lines for recipient keys (for devices), to parse()."""
    def info(self, id: int) -> KeyInfo:
        """Name and state of a key ID."""
    def list(self) -> list[KeyInfo]:
        """Every key, in the order added; no key bytes."""
    def __len__(self) -> int: ...
    def clone(self) -> Keyring:
        """A deep copy, key bytes in new guarded memory."""
    def save(self, path: str) -> None:
        """Writes the keyring file atomically with mode 0600, synced with its directory (it survives a power loss
        once this returns). FileError also if only the directory's sync failed: the new file is in
        place, but a power loss may still undo it. A path that is a symbolic link is refused
        (FileError, naming the file it points to): replacing the link would leave that file, which
        readers of the link see, as it was."""
    @staticmethod
    def load(path: str, *, allow_insecure_permissions: bool = False) -> Keyring:
        """Reads a keyring file; refuses one readable by group or others unless
        allow_insecure_permissions is True (a bool: anything else is a TypeError)."""
    @staticmethod
    def parse(text: str | Buffer) -> Keyring:
        """A keyring from the file format's text (an export_public() export, say): a str (as UTF-8) or any
        bytes-like object. It may hold secret keys: mqseal leaves no copy of it, but Python cannot wipe a str
        or bytes: pass a bytearray and wipe it afterwards."""

class TopicRule(metaclass=_Pybind11Type):
    """One policy rule: an MQTT filter and a key name, a recipient, or plaintext."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        """Not constructible from Python (TypeError): TopicPolicy.add_rule() makes them."""

    @property
    def filter(self) -> str: ...
    @property
    def key_name(self) -> str:
        """The key name; for suites 3 and 4 the recipient name; empty for a plaintext rule."""
    @property
    def plaintext(self) -> bool: ...
    @property
    def retained(self) -> Optional[RetainedPolicy]:
        """This rule's treatment of retained messages; None: the receiver's default."""
    @property
    def retained_max_age_ms(self) -> Optional[int]: ...
    @property
    def suite(self) -> int:
        """1: sealed by any key holder; 2: signed by an authorised signer; 3: sealed to a recipient;
        4: signed by an authorised signer, then sealed to a recipient; 5: as 1, with AES-256-GCM."""
    @property
    def signers(self) -> list[str]:
        """A signed rule's (suite 2 or 4) signer names authorised on every topic it wins."""
    @property
    def recipient(self) -> Optional[str]:
        """Suites 3 and 4: the recipient name whose key pair alone opens; None otherwise."""
    @property
    def compact(self) -> bool:
        """Suite 1 in the compact envelope (envelope v3, 36 bytes of overhead)."""

class TopicPolicy(metaclass=_Pybind11Type):
    """Which key protects which topic; the most specific filter wins; fail closed."""

    def __init__(self) -> None: ...
    def add_rule(
        self,
        filter: str,
        key_name: str,
        *,
        retained: Optional[Retained] = None,
        retained_max_age_ms: Optional[int] = None,
    ) -> None:
        """Topics matching `filter` are sealed under the key named `key_name`.

        `retained` (a RetainedPolicy or its value; "refuse" for command topics) overrides the receiver's treatment of
        messages sealed to be retained; `retained_max_age_ms` goes with "accept".
        """
    def add_signed_rule(
        self,
        filter: str,
        key_name: str,
        signers: list[str],
        *,
        retained: Optional[Retained] = None,
        retained_max_age_ms: Optional[int] = None,
    ) -> None:
        """A signed rule (suite 2): sealed under `key_name` and signed by an authorised signer.

        `signers` are authorised on every topic the filter matches; a filter level written
        {signer} authorises the signer whose name equals the topic's level there.
        """
    def add_recipient_rule(
        self,
        filter: str,
        recipient: str,
        *,
        retained: Optional[Retained] = None,
        retained_max_age_ms: Optional[int] = None,
    ) -> None:
        """Sealed to a recipient (suite 3): only the key pair of recipient name `recipient` opens.

        A sealer needs only the recipient's public key (add_recipient_public); it seals to the primary
        one of that name. It does not say who sealed: anyone holding the public key can.
        """
    def add_signed_recipient_rule(
        self,
        filter: str,
        recipient: str,
        signers: list[str],
        *,
        retained: Optional[Retained] = None,
        retained_max_age_ms: Optional[int] = None,
    ) -> None:
        """Signed, then sealed to a recipient (suite 4): signers as add_signed_rule, sealing as add_recipient_rule.

        The signature is inside the encryption: observers do not learn the signer.
        """
    def add_aes256gcm_rule(
        self,
        filter: str,
        key_name: str,
        *,
        retained: Optional[Retained] = None,
        retained_max_age_ms: Optional[int] = None,
    ) -> None:
        """As add_rule, sealed with AES-256-GCM (suite 5): for servers whose CPUs have AES-NI and PCLMULQDQ.

        Any machine may build the policy; Sealer and Opener refuse it on a CPU without them
        (FormatError, code "unsupported_suite"). Receivers refuse a suite 1 envelope on a suite 5
        rule and a suite 5 one on any other rule (FormatError, code "wrong_suite_for_topic").
        """
    def add_compact_rule(
        self,
        filter: str,
        key_name: str,
        *,
        retained: Optional[Retained] = None,
        retained_max_age_ms: Optional[int] = None,
    ) -> None:
        """As add_rule, in the compact envelope (envelope v3: 36 bytes of overhead instead of 55).

        Receivers refuse a v1/v2 envelope on a compact rule and a compact one on any other rule.
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

class Sealer(metaclass=_Pybind11Type):
    """Seals payloads for publishing. Keeps a snapshot of the keyring."""

    def __init__(self, policy: TopicPolicy, keyring: Keyring, options: SealerOptions) -> None: ...
    def seal(self, topic: str, payload: Buffer, *, retain: bool = False) -> bytes:
        """The envelope for `payload` on `topic` (unchanged for plaintext-rule topics).

        retain=True seals the intent to publish it with MQTT's retain flag: only such an
        envelope is judged as retained by receivers. Publish it with retain exactly then.
        retain is True or False: anything else is a TypeError, as is any argument of a wrong
        type, naming the argument and its type, never its value (a payload stays out of logs).
        """
    def set_keyring(self, keyring: Keyring) -> None:
        """Rotation: seal under this keyring's primary keys from now on."""
    @property
    def sender(self) -> bytes:
        """This sealing session's 16-byte sender ID."""

class Opened(metaclass=_Pybind11Type):
    """An opened payload and what its envelope said."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        """Not constructible from Python (TypeError): Opener.open() returns one."""

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
    @property
    def signer(self) -> str:
        """Suites 2 and 4: the verified signer's name; empty otherwise."""
    @property
    def signer_key_id(self) -> int:
        """Suites 2 and 4: the ID of the key that signed it; 0 otherwise."""

class Opener(metaclass=_Pybind11Type):
    """Opens sealed payloads on receipt, with replay protection. Keeps a snapshot of the keyring."""

    def __init__(self, policy: TopicPolicy, keyring: Keyring, options: OpenerOptions) -> None: ...
    def open(self, topic: str, envelope: Buffer, *, retained: bool = False, now_ms: int = 0) -> Opened:
        """Authenticates and decrypts; raises an mqseal.Error on any refusal (with .signer set
        only if the refusal came after the signature verified).

        retained (the MQTT retain flag on delivery) is True or False. A TypeError names the
        argument and its type, never its value (on a plaintext rule the envelope is the payload).
        """
    def set_keyring(self, keyring: Keyring) -> None:
        """Rotation: open with this keyring from now on (replay state is kept)."""
    @property
    def shares_replay_state(self) -> bool:
        """Made with OpenerOptions.replay_store: each message claims in the store (without the GIL)."""
    @property
    def recipient_sessions(self) -> int:
        """Suite 3 and 4 sealing sessions whose keys are cached (at most recipient_session_capacity)."""

class ReplayGuard(metaclass=_Pybind11Type):
    """Duplicate, replay and age checks for authenticated messages (Opener has one built in)."""

    def __init__(self, options: ReplayOptions) -> None: ...
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

        `key_name` is the partition: state is kept per key name. `retained` (True or False)
        means sealed to be retained and delivered with the retain flag.
        """
    @property
    def tracked_streams(self) -> int: ...
    def watermark_ms(self, key_name: str = "") -> int:
        """The watermark of one key name's partition."""

class ReplayStore(metaclass=_Pybind11Type):
    """Where claims of single use are remembered, shared by every verifier and Opener given it."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        """Not constructible from Python (TypeError): memory_replay_store() and file_replay_store() make them."""

    @property
    def capacity(self) -> int:
        """The most live claims it holds of each kind (tokens; each consumer group's messages)."""
    @property
    def remembered(self) -> int:
        """Claims remembered now (a Redis store asks the server: 0 if it cannot answer). Other threads run meanwhile."""

def memory_replay_store() -> ReplayStore:
    """A store in this process's memory; a restart forgets every claim."""

def file_replay_store(path: str, *, capacity: int) -> ReplayStore:
    """A store in a local file that survives restarts, locked by this process; at most `capacity` live claims of each kind.

    PermissionsError if the file or its directory is not this user's own: a file
    others may access, a directory others may write (/tmp too): keep it in a 0700 directory.
    """

def redis_replay_store(
    url: str,
    *,
    capacity: int,
    key_namespace: str = "mqseal",
    connect_timeout_ms: int = 250,
    command_timeout_ms: int = 250,
    retry_interval_ms: int = 1000,
    max_clock_difference_s: int = 30,
) -> ReplayStore:
    """A store in a Redis server shared by every process reaching it; fails closed (io_error) while Redis does.

    Single use holds while the clocks of the processes sharing it differ by at most max_clock_difference_s.
    """

class CredentialRecord(metaclass=_Pybind11Type):
    """A broker's record of one device: no password, no device secret."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        """Not constructible from Python (TypeError): provision() makes them; Credentials.load() reads them."""

    @property
    def username(self) -> str: ...
    @property
    def passphrase(self) -> PassphraseParams: ...

class Provisioned(metaclass=_Pybind11Type):
    """What provision() returns: the device's secret and the broker's record."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        """Not constructible from Python (TypeError): provision() returns one."""

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
    """A fresh single-use token for the CONNECT password field (81 characters).

    InvalidArgumentError for names no token could verify for: a username no credentials
    file can hold (1 to 128 characters of [A-Za-z0-9_.@:-]), a client ID no MQTT broker
    delivers (a NUL, more than 65535 bytes of UTF-8) or mosquitto closes the connection
    for (a control character, U+0001 to U+001F or U+007F to U+009F, or a Unicode
    noncharacter: U+FDD0 to U+FDEF, U+FFFE or U+FFFF of any plane); and for a lifetime
    of 0. An empty client ID is taken, but a broker replaces it with an ID of its own
    before checking the token (use_connect_tokens refuses it).
    """
@overload
def make_connect_token(
    keyring: Keyring, key_name: str, username: str, client_id: str, *, lifetime_s: int = 300, now_s: int = 0
) -> str:
    """The same, with the device secret kept in a keyring (the primary key of key_name)."""

class Credentials(metaclass=_Pybind11Type):
    """The broker's credentials file: one record per device."""

    def __init__(self) -> None: ...
    def add(self, record: CredentialRecord) -> None: ...
    def __len__(self) -> int: ...
    def __contains__(self, username: object) -> bool: ...
    def save(self, path: str) -> None:
        """Writes the file atomically with mode 0600, synced with its directory; refuses a path that is
        a symbolic link (as Keyring.save)."""
    @staticmethod
    def load(path: str, *, allow_insecure_permissions: bool = False) -> Credentials:
        """Reads a credentials file; refuses one readable by group or others unless
        allow_insecure_permissions is True (a bool: anything else is a TypeError)."""

class TokenVerifier(metaclass=_Pybind11Type):
    """Checks CONNECT tokens; each is accepted once. Keeps a snapshot of the credentials."""

    def __init__(self, credentials: Credentials, options: VerifierOptions) -> None: ...
    def verify(self, username: str, client_id: str, token: str | Buffer, *, now_s: int = 0) -> None:
        """Returns if the token is good; raises an mqseal.Error saying which check failed.

        The token: a str or any bytes-like object (a mutable one is copied first).
        """
    @property
    def remembered_tokens(self) -> int:
        """Tokens remembered over all users."""

class EnvelopeHeader(metaclass=_Pybind11Type):
    """An envelope's header, read without a key."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        """Not constructible from Python (TypeError): parse_header() returns one."""

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
    @property
    def signer_key_id(self) -> int:
        """Suite 2: the signer's key ID (unverified until opened); 0 otherwise (suite 4 hides it inside)."""
    @property
    def ephemeral(self) -> bytes:
        """Suites 3 and 4: the sealing session's 32-byte X25519 public key (one per session); empty otherwise."""

def parse_header(envelope: Buffer) -> EnvelopeHeader:
    """The header of an envelope, read without a key. Proves nothing until opened."""

class RecordCipher(metaclass=_Pybind11Type):
    """Authenticated encryption of records at rest, under the primary key of one key name.

    Keeps a snapshot of the keyring. A record names its key, so records survive key
    rotation; one sealed for another purpose, key name or associated data never opens.
    """

    def __init__(self, keyring: Keyring, key_name: str, purpose: str) -> None: ...
    def seal(self, associated: Buffer, plaintext: Buffer) -> bytes:
        """The record (version, key ID, random nonce, ciphertext, tag); `associated` is authenticated, not stored."""
    def open(self, associated: Buffer, record: Buffer) -> bytes:
        """The plaintext, if the record was sealed with this key name, purpose and associated data."""

# Known-answer calls, re-exported by mqseal.hazmat only.

def derive_topic_key(key: Key, topic: str) -> bytes: ...
def seal_with_header(
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
def make_connect_token_with_nonce(
    device_secret: Key, username: str, client_id: str, expiry_s: int, nonce: Buffer
) -> str: ...
