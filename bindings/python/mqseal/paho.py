"""mqseal for paho-mqtt 2.x: wrap an existing Client, publish sealed, receive opened.

    import paho.mqtt.client as mqtt, mqseal, mqseal.paho
    raw = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="service-1")
    client = mqseal.paho.wrap(raw, mqseal.TopicPolicy.load("policy.toml"), mqseal.Keyring.load("service.keys"))
    client.on_message = lambda c, userdata, msg: print(msg.topic, msg.payload)  # opened payloads
    client.connect("broker", 1883); client.subscribe("plant/+/telemetry", qos=1); client.loop_forever()

`wrap()` installs the wrapper's dispatcher as the raw client's on_message (an
on_message already set is adopted as the application's handler). From then on
set on_message and add message callbacks through the SealedClient, never on the
raw client, which would hand them ciphertext. Everything else (connect,
subscribe, loop_start, on_connect, ...) is the raw client's, reached through the
wrapper; callbacks other than message handlers get the raw client as first argument.

A message that fails to open never reaches a message handler: it goes to
`on_refused` (by default one warning line on the "mqseal.paho" logger, without
payload bytes). An exact repeat of an accepted message (QoS 1 redelivery) is
counted in `stats.duplicates` and dropped quietly. Exceptions raised by the
application's own message handlers are paho's business, as without mqseal
(see Client.suppress_exceptions).

Devices without TLS log in with CONNECT tokens (docs/SPEC.md section 11), with
the device secret kept in a keyring, as with mqseal::paho::use_connect_tokens:

    keys.add("connect", device_secret)  # provisioning tools keep it under "connect"
    client.use_connect_tokens(keys, "connect", "device-7", "service-1")  # before connect()

From then on every connect and automatic reconnect presents a fresh single-use
token as the password, made in paho's on_pre_connect for the client ID given
(paho has no public way to read a client's ID back: pass the one the client was
created with). Set on_pre_connect through the SealedClient, not on the raw
client, which would replace the token hook.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import threading
from typing import Any, Callable, Optional, Tuple, cast

from paho.mqtt.client import CallbackOnPreConnect, Client, MQTTMessage, MQTTMessageInfo, PayloadType
from paho.mqtt.properties import Properties

from . import DuplicateError, Error, Keyring, Opener, Sealer, TopicPolicy, make_connect_token
from ._errors import error_for

__all__ = ["ConnectTokens", "MessageCallback", "RefusedCallback", "SealedClient", "Stats", "log_refused", "wrap"]

_log = logging.getLogger("mqseal.paho")

MessageCallback = Callable[["SealedClient", Any, MQTTMessage], None]
"""handler(sealed_client, userdata, message): message.payload is the opened payload."""

RefusedCallback = Callable[["SealedClient", Any, MQTTMessage, Error], None]
"""on_refused(sealed_client, userdata, raw_message, error) for a message that failed to open."""


@dataclasses.dataclass(frozen=True)
class Stats:
    """What a SealedClient did with the messages it received."""

    delivered: int = 0
    """Messages opened for the application (once each, whatever the number of callbacks)."""
    duplicates: int = 0
    """Exact repeats of accepted messages (QoS 1 redelivery), dropped quietly."""
    refused: int = 0
    """Messages that failed to open, reported to on_refused."""


def log_refused(sealed: SealedClient, userdata: Any, message: MQTTMessage, error: Error) -> None:
    """The default on_refused: one warning with topic, size and error code, never payload bytes."""
    size = len(message.payload)
    _log.warning("refused a message on %s (%d bytes): %s", _topic_for_log(message), size, error.code)


def wrap(client: Client, policy: TopicPolicy, keyring: Keyring, **opener_options: Any) -> SealedClient:
    """Wraps an existing paho Client: publish() seals, message handlers get opened payloads.

    `opener_options` go to mqseal.Opener (max_age_ms, retained, ...).
    """
    return SealedClient(client, policy, keyring, **opener_options)


class SealedClient:
    """A paho Client that seals what it publishes and opens what it receives.

    Attributes and methods not defined here are the wrapped client's.
    """

    __slots__ = (
        "client",
        "_sealer",
        "_opener",
        "_on_message",
        "_on_refused",
        "_lock",
        "_last",
        "_stats",
        "_tokens",
        "_on_pre_connect",
    )

    client: Client
    """The wrapped paho Client."""

    def __init__(self, client: Client, policy: TopicPolicy, keyring: Keyring, **opener_options: Any) -> None:
        """Prefer wrap(). Installs the dispatcher as client.on_message, adopting a handler already there."""
        self.client = client
        self._sealer = Sealer(policy, keyring)
        self._opener = Opener(policy, keyring, **opener_options)
        # A handler already set is adopted: it gets the SealedClient, which has the Client's methods.
        self._on_message = cast(Optional[MessageCallback], client.on_message)
        self._on_refused: RefusedCallback = log_refused
        self._lock = threading.Lock()
        # The last raw message seen and its outcome (None: not delivered). paho hands one
        # message to every matching callback; a second open would be a DuplicateError.
        self._last: Tuple[Optional[MQTTMessage], Optional[MQTTMessage]] = (None, None)
        self._stats = Stats()
        self._tokens: Optional[ConnectTokens] = None
        self._on_pre_connect: Optional[CallbackOnPreConnect] = None
        client.on_message = self._dispatcher(lambda: self._on_message)

    # ---- publishing ----

    def publish(
        self,
        topic: str,
        payload: PayloadType = None,
        qos: int = 0,
        retain: bool = False,
        properties: Optional[Properties] = None,
    ) -> MQTTMessageInfo:
        """Seals `payload` for `topic` and publishes it (Client.publish).

        str is encoded as UTF-8, int and float as their text, None as b"", like paho.
        Plaintext-rule topics go out as they are. Raises mqseal.Error (NoRuleError for a
        topic no rule covers) before anything is sent.
        """
        if payload is None:
            data: bytes | bytearray = b""
        elif isinstance(payload, str):
            data = payload.encode("utf-8")
        elif isinstance(payload, (int, float)):
            data = str(payload).encode("ascii")
        else:
            data = payload
        # The retain flag is sealed in as the publisher's intent: receivers judge only
        # such envelopes as retained (a live message replayed as retained expires).
        envelope = self._sealer.seal(topic, data, retain=retain)
        return self.client.publish(topic, envelope, qos, retain, properties)

    def set_keyring(self, keyring: Keyring) -> None:
        """Key rotation: seal and open with `keyring` from now on (replay state is kept)."""
        self._sealer.set_keyring(keyring)
        self._opener.set_keyring(keyring)

    # ---- receiving ----

    @property
    def on_message(self) -> Optional[MessageCallback]:
        """handler(sealed_client, userdata, message) for opened messages no message callback matched."""
        return self._on_message

    @on_message.setter
    def on_message(self, handler: Optional[MessageCallback]) -> None:
        self._on_message = handler

    @property
    def on_refused(self) -> RefusedCallback:
        """on_refused(sealed_client, userdata, raw_message, error) for messages that fail to open.

        Defaults to log_refused; set None to restore it. Its exceptions are logged, never raised.
        """
        return self._on_refused

    @on_refused.setter
    def on_refused(self, handler: Optional[RefusedCallback]) -> None:
        self._on_refused = log_refused if handler is None else handler

    @property
    def stats(self) -> Stats:
        """A snapshot of the delivered, duplicate and refused counts."""
        return self._stats

    def message_callback_add(self, sub: str, callback: MessageCallback) -> None:
        """Like Client.message_callback_add: `callback` gets opened messages matching `sub`."""
        self.client.message_callback_add(sub, self._dispatcher(lambda: callback))

    def message_callback_remove(self, sub: str) -> None:
        """Like Client.message_callback_remove."""
        self.client.message_callback_remove(sub)

    def topic_callback(self, sub: str) -> Callable[[MessageCallback], MessageCallback]:
        """Decorator form of message_callback_add (Client.topic_callback)."""

        def decorator(callback: MessageCallback) -> MessageCallback:
            self.message_callback_add(sub, callback)
            return callback

        return decorator

    def message_callback(self) -> Callable[[MessageCallback], MessageCallback]:
        """Decorator that sets on_message (Client.message_callback)."""

        def decorator(callback: MessageCallback) -> MessageCallback:
            self.on_message = callback
            return callback

        return decorator

    # ---- CONNECT tokens ----

    def use_connect_tokens(
        self, keyring: Keyring, key_name: str, username: str, client_id: str, lifetime_s: int = 300
    ) -> ConnectTokens:
        """Logs in with a fresh CONNECT token on every connect and automatic reconnect.

        The arguments of mqseal::paho::use_connect_tokens: the device secret is the primary
        key of `key_name` in `keyring` (a snapshot is kept: the secret never leaves it),
        `client_id` is the ID the client was created with. Installs a hook as the raw client's
        on_pre_connect, which paho calls before each connect and reconnect: it sets
        `username` and a new token from mqseal.make_connect_token(keyring, key_name,
        username, client_id, lifetime_s=lifetime_s) as the password (client.username_pw_set).
        Call it before connect(); once the connection is up, it takes effect at the next
        reconnect. Calling it again replaces the secret, names and lifetime.

        An on_pre_connect already set on the raw client is adopted; set on_pre_connect
        through the SealedClient from now on. It is called before the token is made, with
        the raw client, and whatever password it sets is replaced by the token.

        Raises now, not at connect time: InvalidArgumentError for an empty or too long
        username, a lifetime of 0, or an empty client ID (the broker would assign one that
        the token cannot name); KeyNotFoundError if `key_name` has no primary key.
        """
        if not client_id:
            raise error_for("invalid_argument", "CONNECT tokens need a client ID: the broker would assign one")
        tokens = ConnectTokens(keyring.clone(), key_name, username, client_id, lifetime_s)
        tokens._make()  # fail early on bad arguments (not counted: no connect used it)
        if self._tokens is None:
            self._on_pre_connect = self.client.on_pre_connect

        def on_pre_connect(client: Client, userdata: Any) -> None:
            handler = self._on_pre_connect
            if handler is not None:
                handler(client, userdata)
            client.username_pw_set(username, tokens._make(count=True))

        self.client.on_pre_connect = on_pre_connect
        self._tokens = tokens
        return tokens

    @property
    def on_pre_connect(self) -> Optional[CallbackOnPreConnect]:
        """on_pre_connect(raw_client, userdata), called before each connect and reconnect.

        The raw client's own until use_connect_tokens(); after it, called before the token
        is made.
        """
        return self._on_pre_connect if self._tokens is not None else self.client.on_pre_connect

    @on_pre_connect.setter
    def on_pre_connect(self, handler: Optional[CallbackOnPreConnect]) -> None:
        if self._tokens is not None:
            self._on_pre_connect = handler
        else:
            self.client.on_pre_connect = handler

    # ---- delegation ----

    def __getattr__(self, name: str) -> Any:
        """Everything not defined here is the wrapped client's."""
        if name in SealedClient.__slots__:  # not set yet: do not recurse
            raise AttributeError(name)
        return getattr(self.client, name)

    def __setattr__(self, name: str, value: Any) -> None:
        """Sets the wrapper's own attributes here, anything else (on_connect, ...) on the client."""
        if name in SealedClient.__slots__ or isinstance(getattr(SealedClient, name, None), property):
            object.__setattr__(self, name, value)
        else:
            setattr(self.client, name, value)

    def __repr__(self) -> str:
        """Shows the wrapped client."""
        return f"<mqseal.paho.SealedClient of {self.client!r}>"

    # ---- internals ----

    def _dispatcher(
        self, handler: Callable[[], Optional[MessageCallback]]
    ) -> Callable[[Client, Any, MQTTMessage], None]:
        """A paho message callback that opens the message once, then calls handler() if it is delivered."""

        def dispatch(client: Client, userdata: Any, message: MQTTMessage) -> None:
            opened = self._open_once(userdata, message)
            callback = handler()
            if opened is not None and callback is not None:
                callback(self, userdata, opened)

        return dispatch

    def _open_once(self, userdata: Any, message: MQTTMessage) -> Optional[MQTTMessage]:
        """The opened copy of `message`, or None if it is not to be delivered. Never raises."""
        with self._lock:
            last, outcome = self._last
            if message is last:
                return outcome
            error: Optional[Error] = None
            opened: Optional[MQTTMessage] = None
            try:
                topic = message.topic
            except UnicodeDecodeError:
                error = error_for("invalid_topic", "the topic is not valid UTF-8")
            else:
                try:
                    opened = copy.copy(message)
                    opened.payload = self._opener.open(topic, message.payload, retained=message.retain).payload
                except DuplicateError:
                    opened = None
                except Error as e:
                    opened, error = None, e
            s = self._stats
            if opened is not None:
                self._stats = dataclasses.replace(s, delivered=s.delivered + 1)
            elif error is None:
                self._stats = dataclasses.replace(s, duplicates=s.duplicates + 1)
            else:
                self._stats = dataclasses.replace(s, refused=s.refused + 1)
            self._last = (message, opened)
        if error is not None:
            try:
                self._on_refused(self, userdata, message, error)
            except Exception:
                _log.exception("on_refused raised on a message refused on %s", _topic_for_log(message))
        return opened


class ConnectTokens:
    """The tokens use_connect_tokens() makes (mqseal::paho::ConnectTokens)."""

    __slots__ = ("_keyring", "_key_name", "_username", "_client_id", "_lifetime_s", "_lock", "_made")

    def __init__(self, keyring: Keyring, key_name: str, username: str, client_id: str, lifetime_s: int) -> None:
        """Made by SealedClient.use_connect_tokens(); `keyring` is not copied here."""
        self._keyring = keyring
        self._key_name = key_name
        self._username = username
        self._client_id = client_id
        self._lifetime_s = lifetime_s
        self._lock = threading.Lock()
        self._made = 0

    @property
    def tokens_made(self) -> int:
        """Tokens made for connects so far (the first connect and every reconnect)."""
        with self._lock:
            return self._made

    def _make(self, count: bool = False) -> str:
        """A fresh token; `count`: for a connect (tokens_made)."""
        token = make_connect_token(
            self._keyring, self._key_name, self._username, self._client_id, lifetime_s=self._lifetime_s
        )
        if count:
            with self._lock:
                self._made += 1
        return token


def _topic_for_log(message: MQTTMessage) -> str:
    try:
        return message.topic
    except UnicodeDecodeError:
        return "<a topic that is not UTF-8>"

