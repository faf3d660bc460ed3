"""mqseal: end-to-end sealed MQTT payloads.

Publishers seal each payload with XChaCha20-Poly1305 under a key that belongs
to its topic; brokers only ever see ciphertext; a payload that is moved to
another topic, replayed, altered or forged is refused. The same wire format,
test vectors and API as the C++ library (docs/SPEC.md).

    import mqseal
    keys = mqseal.Keyring.load("service.keys")
    policy = mqseal.TopicPolicy.load("policy.toml")
    sealer = mqseal.Sealer(policy, keys)
    envelope = sealer.seal("plant/7/telemetry", b"21.5 C")
    opened = mqseal.Opener(policy, keys).open("plant/7/telemetry", envelope)

Devices without TLS log in with CONNECT tokens: provision() (on a
workstation), make_connect_token() (on the device, every connect), and
TokenVerifier (at the broker, or behind any broker's authentication hook).

Every error is an mqseal.Error (with a stable name in `.code`); wrong argument
types raise TypeError. mqseal.paho wraps an existing paho-mqtt client.

Thread safety: Sealer.seal and Opener.open may be called from many threads;
large payloads are processed without the GIL. Opener.open copies an envelope
given in a mutable buffer (bytearray, memoryview, ...) first, so what it
returns is exactly what was authenticated, whatever other threads do to that
buffer meanwhile; bytes are read in place. Sealer and Opener keep a snapshot of
the keyring they were given: to rotate keys, change the keyring, then call
set_keyring() on them.

Passwords (provision, Key.from_passphrase) may be a str or any bytes-like
object; mqseal keeps no copy of them, but Python cannot wipe a str or bytes:
use a bytearray and overwrite it when done.
"""

from ._mqseal import (
    ENVELOPE_OVERHEAD,
    HEADER_SIZE,
    KEY_SIZE,
    MAX_PAYLOAD_SIZE,
    REPLAY_WINDOW,
    AuthenticationError,
    CredentialRecord,
    Credentials,
    CryptoError,
    DuplicateError,
    EnvelopeHeader,
    Error,
    ExpiredError,
    FileError,
    FormatError,
    InvalidArgumentError,
    Key,
    KeyInfo,
    Keyring,
    KeyNotFoundError,
    KeyState,
    NoRuleError,
    Opened,
    Opener,
    PassphraseParams,
    PermissionsError,
    ReplayError,
    ReplayGuard,
    Provisioned,
    Sealer,
    TokenVerifier,
    TopicPolicy,
    TopicRule,
    TransportError,
    __version__,
    make_connect_token,
    parse_header,
    provision,
)

__all__ = [
    "ENVELOPE_OVERHEAD",
    "HEADER_SIZE",
    "KEY_SIZE",
    "MAX_PAYLOAD_SIZE",
    "REPLAY_WINDOW",
    "AuthenticationError",
    "CredentialRecord",
    "Credentials",
    "CryptoError",
    "DuplicateError",
    "EnvelopeHeader",
    "Error",
    "ExpiredError",
    "FileError",
    "FormatError",
    "InvalidArgumentError",
    "Key",
    "KeyInfo",
    "KeyNotFoundError",
    "KeyState",
    "Keyring",
    "NoRuleError",
    "Opened",
    "Opener",
    "PassphraseParams",
    "PermissionsError",
    "ReplayError",
    "ReplayGuard",
    "Provisioned",
    "Sealer",
    "TokenVerifier",
    "TopicPolicy",
    "TopicRule",
    "TransportError",
    "__version__",
    "make_connect_token",
    "parse_header",
    "provision",
]
