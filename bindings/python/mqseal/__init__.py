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
types raise TypeError. A value of the right type that its parameter cannot
hold is an InvalidArgumentError, whichever call gets it: an int out of the C++
parameter's range (negative, or past 2**64-1; 2**32-1 for key IDs and the
times of redis_replay_store; 255 for hazmat's version and flags), and a str
that UTF-8 cannot encode (a lone surrogate, "\\ud800"). Integers are ints or
objects with __index__ (bool and numpy's integers included; a float is a
TypeError). A bool parameter (retain, retained, allow_insecure_permissions)
takes True or False only: anything else, None and 0 included, is a TypeError.
File paths are str, encoded as os.fsencode() does (a file name's undecodable
bytes as os.listdir() gives them), or bytes. Bytes-like arguments take any
buffer: one that is not contiguous (memoryview(b)[::2]) is copied once, in C
order; key material (Key.from_bytes, passwords) into guarded memory that is
wiped. A TypeError for a call that takes a secret or a plaintext (a password,
token, key bytes, keyring text, record, Sealer.seal's payload, Opener.open's
envelope) names its arguments' types, never their values. mqseal.paho wraps
an existing paho-mqtt client, mqseal.aio an aiomqtt (asyncio) one; `import
mqseal` imports neither client library.

The names and arguments are those of the C++ library: Opener(policy, keyring,
OpenerOptions(...)) as mqseal::Opener::create, or with keywords for single
fields (Opener(policy, keyring, max_age_ms=60_000)). Known-answer calls (raw
key bytes, chosen nonces) are in mqseal.hazmat, which `import mqseal` does not
import.

Layout: _mqseal is the C++ core's thin binding (bindings/python/src, typed in
_mqseal.pyi); _errors.py maps its stable error names to the Error family;
_options.py holds the enums and option dataclasses; _sealing.py and
_credentials.py construct the C++ classes from them; _clients.py is what the
client wrappers paho.py and aio.py share (open once, refuse, drop duplicates,
count; CONNECT tokens).

Records at rest (a program's own files) are sealed with RecordCipher.

Single use beyond one object: a ReplayStore (memory_replay_store(), file_replay_store(),
redis_replay_store())
given to TokenVerifier(..., replay_store=store) remembers tokens there (a file store: across
restarts); given to several Openers (Opener(..., replay_store=store, replay_group="name"), or the same keywords to
mqseal.paho.wrap / mqseal.aio.wrap), it makes them one group that accepts each message once,
whichever member gets it: consumers of one $share/group/... subscription (docs/DEPLOY.md);
across processes and hosts with a Redis store.

Thread safety: Sealer.seal and Opener.open may be called from many threads;
large payloads are processed without the GIL. Opener.open copies an envelope
given in a mutable buffer (bytearray, memoryview, ...) first, so what it
returns is exactly what was authenticated, whatever other threads do to that
buffer meanwhile; bytes are read in place. Sealer and Opener keep a snapshot of
the keyring they were given: to rotate keys, change the keyring, then call
set_keyring() on them.

Passwords (provision, Key.from_passphrase) and keyring text (Keyring.parse) may
be a str or any bytes-like object; mqseal keeps no copy of them, but Python cannot wipe a str or bytes:
use a bytearray and overwrite it when done.
"""

from ._errors import (
    AuthenticationError,
    CryptoError,
    DuplicateError,
    Error,
    ExpiredError,
    FileError,
    FormatError,
    InvalidArgumentError,
    KeyNotFoundError,
    NoRuleError,
    PermissionsError,
    ReplayError,
    TransportError,
)
from ._mqseal import (
    ENVELOPE_OVERHEAD,
    HEADER_SIZE,
    KEY_SIZE,
    MAX_PAYLOAD_SIZE,
    RECORD_OVERHEAD,
    REPLAY_WINDOW,
    CredentialRecord,
    Credentials,
    EnvelopeHeader,
    Key,
    KeyInfo,
    Keyring,
    Opened,
    PassphraseParams,
    Provisioned,
    RecordCipher,
    ReplayStore,
    TopicPolicy,
    TopicRule,
    __version__,
    file_replay_store,
    make_connect_token,
    memory_replay_store,
    parse_header,
    provision,
    redis_replay_store,
)
from ._options import KeyKind, KeyState, OpenerOptions, ReplayOptions, RetainedPolicy, SealerOptions, VerifierOptions
from ._sealing import Opener, ReplayGuard, Sealer
from ._credentials import TokenVerifier

__all__ = [
    "ENVELOPE_OVERHEAD",
    "HEADER_SIZE",
    "KEY_SIZE",
    "MAX_PAYLOAD_SIZE",
    "RECORD_OVERHEAD",
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
    "KeyKind",
    "KeyState",
    "Keyring",
    "NoRuleError",
    "Opened",
    "Opener",
    "OpenerOptions",
    "PassphraseParams",
    "PermissionsError",
    "Provisioned",
    "RecordCipher",
    "ReplayError",
    "ReplayGuard",
    "ReplayOptions",
    "ReplayStore",
    "RetainedPolicy",
    "Sealer",
    "SealerOptions",
    "TokenVerifier",
    "TopicPolicy",
    "TopicRule",
    "TransportError",
    "VerifierOptions",
    "__version__",
    "file_replay_store",
    "make_connect_token",
    "memory_replay_store",
    "parse_header",
    "provision",
    "redis_replay_store",
]
