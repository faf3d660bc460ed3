"""What the MQTT client wrappers (mqseal.paho, mqseal.aio) share.

One rule for a received message, whatever the client library: it is opened once;
an exact repeat of an accepted message (QoS 1 redelivery) is dropped quietly; any
other failure is refused and reported; each outcome is counted (Stats). What to
publish is sealed with the publisher's retain intent. CONNECT tokens are made by
ConnectTokens, one per connect.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
from typing import Callable, Optional, Tuple, Union

from ._errors import DuplicateError, Error, error_for
from ._mqseal import Keyring, Opened, TopicPolicy, make_connect_token
from ._sealing import Opener, Sealer

PayloadLike = Union[str, bytes, bytearray, int, float, None]
"""What paho-mqtt and aiomqtt take as a payload (their PayloadType)."""


@dataclasses.dataclass(frozen=True)
class Stats:
    """What a sealed client did with the messages it received."""

    delivered: int = 0
    """Messages opened for the application (once each, whatever the number of callbacks)."""
    duplicates: int = 0
    """Exact repeats of accepted messages (QoS 1 redelivery), dropped quietly."""
    refused: int = 0
    """Messages that failed to open, reported to on_refused."""


class SealingPublisher:
    """A Sealer that takes what the MQTT client libraries take as a payload."""

    __slots__ = ("_sealer", "_policy")

    def __init__(self, policy: TopicPolicy, keyring: Keyring, signer: Optional[str] = None) -> None:
        """`signer`: the signer name to sign as on signed rules (None: the keyring's only one)."""
        self._sealer = Sealer(policy, keyring, signer=signer)
        self._policy = policy

    def check_will(self, topic: str) -> None:
        """Raises unless a last will on `topic` may go to the broker as it is: on a plaintext-rule
        topic only. The broker publishes a will when the connection dies, at a time nobody knows
        when the CONNECT is sent: sealed then, receivers would refuse it as expired once the
        connection had lasted max_age_ms; unsealed, it would be plaintext on a sealed topic.

        Raises NoRuleError for a topic no rule covers, InvalidArgumentError for any other rule.
        """
        if not self._policy.resolve(topic).plaintext:
            raise error_for(
                "invalid_argument",
                f"a last will on {printable(topic)} would go to the broker unsealed, and no will can be sealed "
                "(the broker publishes it at a time nobody knows): put wills on plaintext-rule topics only",
            )

    def seal(self, topic: str, payload: PayloadLike, retain: bool) -> bytes:
        """The envelope to publish: str as UTF-8, int and float as their text, None as b"", like paho.

        Plaintext-rule topics go out as they are. Raises mqseal.Error (NoRuleError for a
        topic no rule covers), or TypeError naming the argument and its type (never its value:
        a topic that is no str, a payload of another type, a retain that is not True or False):
        nothing is to be sent then.
        """
        if payload is None:
            data: Union[bytes, bytearray] = b""
        elif isinstance(payload, str):
            data = payload.encode("utf-8")
        elif isinstance(payload, (int, float)):
            data = str(payload).encode("ascii")
        else:
            data = payload
        # The retain flag is sealed in as the publisher's intent: receivers judge only
        # such envelopes as retained (a live message replayed as retained expires).
        return self._sealer.seal(topic, data, retain=retain)

    def set_keyring(self, keyring: Keyring) -> None:
        self._sealer.set_keyring(keyring)


class Receiver:
    """An Opener and the counts of what it did with each received message. Thread-safe."""

    __slots__ = ("_opener", "_lock", "_stats")

    def __init__(self, opener: Opener) -> None:
        self._opener = opener
        self._lock = threading.Lock()
        self._stats = Stats()

    @property
    def stats(self) -> Stats:
        return self._stats

    @property
    def waits(self) -> bool:
        """Whether open() waits for a replay store (a file write, a round trip to Redis)."""
        return bool(self._opener.shares_replay_state)

    def set_keyring(self, keyring: Keyring) -> None:
        self._opener.set_keyring(keyring)

    def open(
        self, topic: Optional[str], payload: Union[bytes, bytearray], retained: bool
    ) -> Tuple[Optional[Opened], Optional[Error]]:
        """Opens one received message and counts the outcome. Never raises an mqseal.Error.

        (opened, None): deliver opened.payload (signed by signer_of(opened)); (None, None): a
        duplicate, drop it quietly; (None, error): refused, report it. `topic` None: it was
        not valid UTF-8.
        """
        opened: Optional[Opened] = None
        error: Optional[Error] = None
        if topic is None:
            error = error_for("invalid_topic", "the topic is not valid UTF-8")
        else:
            try:
                # Opener.open takes True or False only: the client library's flag as a bool,
                # whatever type it keeps the bit in.
                opened = self._opener.open(topic, payload, retained=bool(retained))
            except DuplicateError:
                pass
            except Error as e:
                error = e
        with self._lock:
            s = self._stats
            if opened is not None:
                self._stats = dataclasses.replace(s, delivered=s.delivered + 1)
            elif error is None:
                self._stats = dataclasses.replace(s, duplicates=s.duplicates + 1)
            else:
                self._stats = dataclasses.replace(s, refused=s.refused + 1)
        return opened, error


def signer_of(opened: Opened) -> Optional[str]:
    """The delivered message's signer: the verified signer's name on suites 2 and 4, else None."""
    return opened.signer or None


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: str) -> str:
    """`text` with every control character (below U+0020, U+007F, the C1 controls U+0080 to U+009F)
    written as \\xNN, and the line and paragraph separators U+2028 and U+2029 as \\uNNNN (the
    C++ command line tool escapes the bytes below 0x20 and 0x7F): whoever published a topic
    chose it, and a line break in it
    (str.splitlines() and many log tools also break at U+0085, U+2028 and U+2029) would forge a
    log line of its own, a C1 CSI an escape sequence (mosquitto refuses control characters in
    topics, other brokers may not)."""
    return _CONTROL.sub(lambda m: ("\\x%02x" if ord(m.group()) < 0x100 else "\\u%04x") % ord(m.group()), text)


def report_refused(log: logging.Logger, topic: str, call: Callable[[], None]) -> None:
    """Calls the application's on_refused; what it raises is logged on `log`, never raised."""
    try:
        call()
    except Exception:
        log.exception("on_refused raised on a message refused on %s", printable(topic))


def log_refused_line(log: logging.Logger, topic: str, size: int, error: Error) -> None:
    """The default on_refused's line: topic (control characters as \\xNN), size and error code,
    never payload bytes."""
    log.warning("refused a message on %s (%d bytes): %s", printable(topic), size, error.code)


class ConnectTokens:
    """The CONNECT tokens a sealed client makes, one per connect (mqseal::paho::ConnectTokens)."""

    __slots__ = ("_keyring", "_key_name", "_username", "_client_id", "_lifetime_s", "_lock", "_made")

    def __init__(self, keyring: Keyring, key_name: str, username: str, client_id: str, lifetime_s: int) -> None:
        """Made by the clients' use_connect_tokens(); `keyring` is not copied here."""
        self._keyring = keyring
        self._key_name = key_name
        self._username = username
        self._client_id = client_id
        self._lifetime_s = lifetime_s
        self._lock = threading.Lock()
        self._made = 0

    @classmethod
    def _checked(
        cls, keyring: Keyring, key_name: str, username: str, client_id: str, lifetime_s: int
    ) -> ConnectTokens:
        """use_connect_tokens()'s checks: raises now on arguments no token could be made from."""
        if not client_id:
            raise error_for(
                "invalid_argument", "CONNECT tokens need a client ID: the broker would assign one, which no token can name"
            )
        tokens = cls(keyring.clone(), key_name, username, client_id, lifetime_s)
        tokens._make()  # fail early on bad arguments (not counted: no connect used it)
        return tokens

    @property
    def tokens_made(self) -> int:
        """Tokens made for connects so far (the first connect and every reconnect)."""
        with self._lock:
            return self._made

    @property
    def username(self) -> str:
        """The username the tokens are made for."""
        return self._username

    @property
    def client_id(self) -> str:
        """The client ID the tokens are made for."""
        return self._client_id

    def _make(self, count: bool = False) -> str:
        """A fresh token; `count`: for a connect (tokens_made)."""
        token = make_connect_token(
            self._keyring, self._key_name, self._username, self._client_id, lifetime_s=self._lifetime_s
        )
        if count:
            with self._lock:
                self._made += 1
        return token
