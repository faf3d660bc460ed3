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
large payloads are processed without the GIL. Sealer and Opener keep a
snapshot of the keyring they were given: to rotate keys, change the keyring,
then call set_keyring() on them.
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
