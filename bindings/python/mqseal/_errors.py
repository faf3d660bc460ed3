"""The mqseal.Error family, keyed by the stable error names of the C++ core.

An error crosses from C++ as its stable name (mqseal::name(Errc), e.g.
"authentication_failed"), its message and, for a refused Opener.open, the
verified signer's name; error_for() makes the exception of the class that
name belongs to. `.code` keeps the name: switch on it, or catch a class for a
group of names.
"""

from __future__ import annotations

from typing import Dict, Optional, Type


class Error(Exception):
    """Base class of every mqseal error. `.code` is the stable error name."""

    code: str
    """The stable error name (mqseal::name(Errc) in C++), e.g. "authentication_failed"."""

    signer: Optional[str]
    """Who signed a refused message, when that is known: the verified signer's name if
    Opener.open refused after the signature verified (signed rules, suites 2 and 4:
    "unauthorized_signer", a duplicate, replay or expired message, ...); None for every other
    refusal, a signature that did not verify included (whatever signer the envelope names),
    and for every other error. The on_refused of mqseal.paho and mqseal.aio gets it so.
    It names who signed these bytes at some time, not who sent them now: anyone may re-send
    a signed message, and its refusal (a replay, or unauthorized_signer after a policy
    change) names its signer; do not act against a device on this alone."""

    def __init__(self, message: str, code: str = "", *, signer: Optional[str] = None) -> None:
        super().__init__(message)
        self.code = code
        self.signer = signer


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
    """A key, credentials or policy file could not be read or written, or a shared replay store (Redis) failed (io_error)."""


class PermissionsError(FileError):
    """A key, credentials or policy file others may write (or, for secrets, read), or that another user owns."""


class CryptoError(Error):
    """libsodium failed, or a sealer used up its sequence numbers."""


class TransportError(Error):
    """The MQTT client library refused the operation."""


CLASS_OF_CODE: Dict[str, Type[Error]] = {
    "invalid_argument": InvalidArgumentError,
    "invalid_topic": InvalidArgumentError,
    "invalid_filter": InvalidArgumentError,
    "no_rule": NoRuleError,
    "malformed": FormatError,
    "unsupported_version": FormatError,
    "unsupported_suite": FormatError,
    "unknown_key": KeyNotFoundError,
    "key_retired": KeyNotFoundError,
    "wrong_key_for_topic": KeyNotFoundError,
    "authentication_failed": AuthenticationError,
    "duplicate": DuplicateError,
    "replay": ReplayError,
    "expired": ExpiredError,
    "not_yet_valid": ExpiredError,
    "retained_refused": ReplayError,
    "payload_too_large": InvalidArgumentError,
    "io_error": FileError,
    "insecure_permissions": PermissionsError,
    "parse_error": FormatError,
    "crypto_failure": CryptoError,
    "nonce_exhausted": CryptoError,
    "no_primary_key": KeyNotFoundError,
    "transport_error": TransportError,
    "unknown_user": KeyNotFoundError,
    "capacity_exceeded": Error,
    "unknown_signer": KeyNotFoundError,
    "unauthorized_signer": AuthenticationError,
    "wrong_suite_for_topic": FormatError,
}
"""Every stable error name (mqseal::Errc, in its order) and the class it is raised as."""


def error_for(code: str, message: str, signer: Optional[str] = None) -> Error:
    """The exception for an error with this stable name and message (and verified signer).

    The extension module calls it (with the GIL held) for every error of the C++ core;
    Python code of the package raises through it too. A name this table does not know
    (a newer core) becomes a plain Error with that code.
    """
    return CLASS_OF_CODE.get(code, Error)(message, code, signer=signer)
