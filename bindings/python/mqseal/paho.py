"""mqseal for paho-mqtt 2.x: wrap an existing Client, publish sealed, receive opened.

    import paho.mqtt.client as mqtt, mqseal, mqseal.paho
    raw = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="service-1")
    client = mqseal.paho.wrap(raw, mqseal.TopicPolicy.load("policy.toml"), mqseal.Keyring.load("service.keys"))
    client.on_message = lambda c, userdata, msg: print(msg.topic, msg.payload, msg.signer)  # opened
    client.connect("broker", 1883); client.subscribe("plant/+/telemetry", qos=1); client.loop_forever()

`wrap()` installs the wrapper's dispatcher as the raw client's on_message (an
on_message already set is adopted as the application's handler, and so are
message callbacks already added with message_callback_add). From then on
set on_message and add message callbacks through the SealedClient, never on the
raw client, which would hand them ciphertext. Everything else (connect,
subscribe, loop_start, on_connect, ...) is the raw client's, reached through the
wrapper; callbacks other than message handlers get the raw client as first argument.
paho's helpers paho.mqtt.publish.single/multiple and paho.mqtt.subscribe.simple/callback
make clients of their own, which no wrapper reaches: they send and receive as they are.
A last will cannot be sealed (the broker publishes it at a time nobody knows):
will_set takes plaintext-rule topics only, and wrap() refuses a Client whose will
is on any other topic (InvalidArgumentError; NoRuleError without a rule).

Message handlers get an OpenedMessage: the paho MQTTMessage with the opened
payload and `signer`, the verified signer's name on a signed rule (suites 2 and
4; the rule may list several names, so the topic alone need not tell), None on
the others. It belongs to the message, not to the callback: it is still there
when the message is kept or handed to another thread.

A message that fails to open never reaches a message handler: it goes to
`on_refused` (by default one warning line on the "mqseal.paho" logger, without
payload bytes), with the mqseal.Error that refused it, whose `signer` is the
verified signer's name when the refusal came after the signature verified
(suites 2 and 4: unauthorized_signer, replay, expired, ...) and None otherwise,
a signature that did not verify included. An exact repeat of an accepted message (QoS 1 redelivery) is
counted in `stats.duplicates` and dropped quietly; on a Client made with
manual_ack=True the wrapper acknowledges it (Client.ack), as it was accepted
once already, and so does the default on_refused a refused message (left
unacknowledged, forgeries would fill the broker's window of messages in flight
to the client and stall every valid one after them), while delivered messages,
and refused ones given to an on_refused of the application's own, stay the
application's to acknowledge. Exceptions raised by the
application's own message handlers are paho's business (see
Client.suppress_exceptions), with one difference from paho alone: each message
reaches the handlers once. A QoS 1 or 2 message the application left
unacknowledged (manual_ack), or whose handler raised, is a duplicate when the
broker sends it again (a reconnect to the same session), dropped and, under
manual_ack, acknowledged, where paho alone would hand it over again: an
application that needs a second attempt keeps the message until its work is done.

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

import logging
import threading
from typing import Any, Callable, List, Optional, Tuple, cast

from paho.mqtt.client import CallbackOnPreConnect, Client, MQTTMessage, MQTTMessageInfo, PayloadType
from paho.mqtt.properties import Properties

from . import Error, Keyring, Opened, Opener, TopicPolicy
from ._clients import ConnectTokens, Receiver, SealingPublisher, Stats, log_refused_line, report_refused, signer_of

__all__ = [
    "ConnectTokens",
    "MessageCallback",
    "OpenedMessage",
    "RefusedCallback",
    "SealedClient",
    "Stats",
    "log_refused",
    "wrap",
]

_log = logging.getLogger("mqseal.paho")


class OpenedMessage(MQTTMessage):
    """A message as the SealedClient hands it to message handlers: paho's MQTTMessage (topic,
    qos, retain, mid, properties, ... as received) with the opened payload, and its signer.

    Only the payload is authenticated: MQTT 5 properties (user properties, response topic,
    correlation data, ...) are as the broker sent them, unsealed (docs/SECURITY.md, "Limits")."""

    __slots__ = ("signer",)

    def __init__(self, mid: int = 0, topic: bytes = b"", *, signer: Optional[str] = None) -> None:
        """Like MQTTMessage(mid, topic), for an application's own tests; the SealedClient makes its own."""
        super().__init__(mid, topic)
        self.signer: Optional[str] = signer
        """Who signed it: on a signed rule (suites 2 and 4) the verified signer's name, one the rule
        authorises on this topic (Opened.signer); None on other rules, which authenticate no sender."""

    @classmethod
    def _opened(cls, message: MQTTMessage, opened: Opened) -> OpenedMessage:
        """`message`, every field paho set, with what `opened` says: its payload and signer."""
        made = cls.__new__(cls)
        for name in MQTTMessage.__slots__:
            if hasattr(message, name):  # a slot paho left unset stays unset (none is, in paho 2.2)
                setattr(made, name, getattr(message, name))
        made.payload = opened.payload
        made.signer = signer_of(opened)
        return made


MessageCallback = Callable[["SealedClient", Any, OpenedMessage], None]
"""handler(sealed_client, userdata, message): message.payload is the opened payload and
message.signer its signer (OpenedMessage). A handler typed for paho's MQTTMessage fits too."""

RefusedCallback = Callable[["SealedClient", Any, MQTTMessage, Error], None]
"""on_refused(sealed_client, userdata, raw_message, error) for a message that failed to open.

error.signer: the verified signer's name if the refusal came after the signature verified
(suites 2 and 4), else None (mqseal.Error.signer)."""


def log_refused(sealed: SealedClient, userdata: Any, message: MQTTMessage, error: Error) -> None:
    """The default on_refused: one warning with topic, size and error code, never payload bytes.

    On a Client made with manual_ack=True it also acknowledges the message (Client.ack), as paho
    acknowledges every message without manual_ack: refused messages left unacknowledged fill the
    broker's window of messages in flight to the client (mosquitto's max_inflight_messages, MQTT 5's
    Receive Maximum), after which the broker sends it no further QoS 1 or 2 message, so that
    anyone allowed to publish on a subscribed topic could stall every valid message with a few
    forgeries. A valid message refused because the replay store failed (io_error,
    capacity_exceeded) is acknowledged too, and so lost, as Paho C loses it for the C++ adapter:
    docs/DEPLOY.md says how to keep those instead. An on_refused of the application's own
    acknowledges the messages it is given itself (or calls log_refused).
    """
    log_refused_line(_log, _topic_for_log(message), len(message.payload), error)
    sealed.client.ack(message.mid, message.qos)  # a no-op without manual_ack, and for QoS 0


def wrap(
    client: Client, policy: TopicPolicy, keyring: Keyring, *, signer: Optional[str] = None, **opener_options: Any
) -> SealedClient:
    """Wraps an existing paho Client: publish() seals, message handlers get opened payloads.

    `signer`: the signer name publish() signs as on signed rules (suites 2 and 4), with its primary
    signing key; None: the keyring's only signer name (a keyring holding several needs one named).

    `opener_options` go to mqseal.Opener (max_age_ms, retained, ...); replay_store=store (with replay_group=NAME)
    makes the clients given one store and group name a group that accepts each message once, whichever member of a
    shared subscription ($share/group/...) receives it (docs/DEPLOY.md).

    Raises TypeError if `client` is no paho Client (a SealedClient is not one: wrapped again, it
    would seal every payload twice), InvalidArgumentError if `client` has a last will on a topic that is not plaintext-rule
    (NoRuleError without a rule): a will cannot be sealed (SealedClient.will_set).
    """
    return SealedClient(client, policy, keyring, signer=signer, **opener_options)


class SealedClient:
    """A paho Client that seals what it publishes and opens what it receives.

    Attributes and methods not defined here are the wrapped client's.
    """

    __slots__ = (
        "client",
        "_sealer",
        "_receiver",
        "_on_message",
        "_on_refused",
        "_lock",
        "_last",
        "_tokens",
        "_on_pre_connect",
    )

    client: Client
    """The wrapped paho Client."""

    def __init__(
        self,
        client: Client,
        policy: TopicPolicy,
        keyring: Keyring,
        *,
        signer: Optional[str] = None,
        **opener_options: Any,
    ) -> None:
        """Prefer wrap(). Installs the dispatcher as client.on_message, adopting a handler already there,
        and adopts the message callbacks already added (Client.message_callback_add): they get opened
        messages, and the SealedClient as first argument, from now on."""
        if not isinstance(client, Client):  # a SealedClient too: it would seal, and open, twice
            raise TypeError(f"expected a paho.mqtt.client.Client, not {type(client).__name__}")
        self.client = client
        self._sealer = SealingPublisher(policy, keyring, signer)
        if client._will:  # set before: it would go to the broker unsealed at every connect
            self._sealer.check_will(client._will_topic.decode("utf-8"))
        self._receiver = Receiver(Opener(policy, keyring, **opener_options))
        # A handler already set is adopted: it gets the SealedClient, which has the Client's methods.
        self._on_message = cast(Optional[MessageCallback], client.on_message)
        self._on_refused: RefusedCallback = log_refused
        self._lock = threading.Lock()
        # The last raw message seen and its outcome (None: not delivered). paho hands one
        # message to every matching callback; a second open would be a DuplicateError.
        # Every callback gets the same OpenedMessage, so the same signer.
        self._last: Tuple[Optional[MQTTMessage], Optional[OpenedMessage]] = (None, None)
        self._tokens: Optional[ConnectTokens] = None
        self._on_pre_connect: Optional[CallbackOnPreConnect] = None
        # Message callbacks already added are adopted too: paho hands a message that matches
        # one to those alone, never to on_message, so left on the raw client they would get
        # ciphertext, and forgeries unchecked. Under paho's callback lock (a re-entrant one,
        # which message_callback_add takes too), so that a message arriving meanwhile (a
        # loop already started) finds every handler replaced or none.
        with client._callback_mutex:
            client.on_message = self._dispatcher(lambda: self._on_message)
            for sub, callback in _message_callbacks(client):
                self.message_callback_add(sub, callback)

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
        topic no rule covers) before anything is sent, and TypeError for a topic that is no
        str or a retain that is not True or False (paho takes any truth value), naming the
        argument and its type, never the payload.
        """
        # The retain flag is sealed in as the publisher's intent: receivers judge only
        # such envelopes as retained (a live message replayed as retained expires).
        envelope = self._sealer.seal(topic, payload, retain)
        return self.client.publish(topic, envelope, qos, retain, properties)

    def will_set(
        self,
        topic: str,
        payload: PayloadType = None,
        qos: int = 0,
        retain: bool = False,
        properties: Optional[Properties] = None,
    ) -> None:
        """Client.will_set, on plaintext-rule topics only: the broker publishes a last will when
        the connection dies, at a time nobody knows, so it cannot be sealed (receivers would refuse
        it as expired after max_age_ms), and unsealed it would be plaintext on a sealed topic.

        Raises InvalidArgumentError for a topic under any other rule, NoRuleError for a topic no
        rule covers; wrap() raises the same for a Client whose will was set before. To tell
        receivers that a service went away, publish a sealed message yourself (on_disconnect).
        """
        self._sealer.check_will(topic)
        self.client.will_set(topic, payload, qos, retain, properties)

    def set_keyring(self, keyring: Keyring) -> None:
        """Key rotation: seal and open with `keyring` from now on (replay state is kept)."""
        self._sealer.set_keyring(keyring)
        self._receiver.set_keyring(keyring)

    # ---- receiving ----

    @property
    def on_message(self) -> Optional[MessageCallback]:
        """handler(sealed_client, userdata, message) for opened messages (OpenedMessage) no message callback matched."""
        return self._on_message

    @on_message.setter
    def on_message(self, handler: Optional[MessageCallback]) -> None:
        self._on_message = handler

    @property
    def on_refused(self) -> RefusedCallback:
        """on_refused(sealed_client, userdata, raw_message, error) for messages that fail to open.

        error.signer names the verified signer when the refusal came after the signature verified
        (suites 2 and 4: unauthorized_signer, replay, ...); None otherwise (mqseal.Error.signer).
        Defaults to log_refused; set None to restore it. Its exceptions are logged, never raised.
        On a Client made with manual_ack=True, a handler of the application's own acknowledges the
        message (self.client.ack(message.mid, message.qos), or by calling log_refused): the broker
        sends nothing more at QoS 1 or 2 once its window of unacknowledged messages is full.
        """
        return self._on_refused

    @on_refused.setter
    def on_refused(self, handler: Optional[RefusedCallback]) -> None:
        self._on_refused = log_refused if handler is None else handler

    @property
    def stats(self) -> Stats:
        """A snapshot of the delivered, duplicate and refused counts."""
        return self._receiver.stats

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
        `client_id` is the ID the client was created with; behind the mosquitto plugin (its
        default, plugin_opt_client_ids own) it must be one the device owns: `username`, or
        `username` + "/" + anything. Installs a hook as the raw client's
        on_pre_connect, which paho calls before each connect and reconnect: it sets
        `username` and a new token from mqseal.make_connect_token(keyring, key_name,
        username, client_id, lifetime_s=lifetime_s) as the password (client.username_pw_set).
        Call it before connect(); once the connection is up, it takes effect at the next
        reconnect. Calling it again replaces the secret, names and lifetime.

        An on_pre_connect already set on the raw client is adopted; set on_pre_connect
        through the SealedClient from now on. It is called before the token is made, with
        the raw client, and whatever password it sets is replaced by the token.

        Raises now, not at connect time: InvalidArgumentError for a username no
        credentials file can hold (1 to 128 characters of [A-Za-z0-9_.@:-]), a lifetime of
        0, an empty client ID (the broker would assign one that the token cannot name) or
        one no broker delivers (a NUL, more than 65535 bytes) or mosquitto closes the
        connection for (a control character, U+0001 to U+001F or U+007F to U+009F, or a
        Unicode noncharacter); KeyNotFoundError if `key_name` has no primary key.
        """
        tokens = ConnectTokens._checked(keyring, key_name, username, client_id, lifetime_s)
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

    def _open_once(self, userdata: Any, message: MQTTMessage) -> Optional[OpenedMessage]:
        """The opened copy of `message`, or None if it is not to be delivered. Never raises."""
        with self._lock:
            last, outcome = self._last
            if message is last:
                return outcome
            try:
                topic: Optional[str] = message.topic
            except UnicodeDecodeError:
                topic = None
            result, error = self._receiver.open(topic, message.payload, message.retain)
            opened: Optional[OpenedMessage] = None
            if result is not None:
                opened = OpenedMessage._opened(message, result)
            elif error is None:
                # A duplicate: accepted once already. With manual_ack nobody else would
                # acknowledge it, and the broker would send it again on every reconnect.
                self.client.ack(message.mid, message.qos)  # a no-op without manual_ack
            self._last = (message, opened)
        if error is not None:
            report_refused(_log, _topic_for_log(message), lambda: self._on_refused(self, userdata, message, error))
        return opened


def _message_callbacks(client: Client) -> List[Tuple[str, MessageCallback]]:
    """The (filter, callback) pairs of client.message_callback_add(), read from paho's filter tree
    (paho has no public way to list them). Raises TypeError if that tree is not paho 2's."""
    matcher = getattr(client, "_on_message_filtered", None)
    root = getattr(matcher, "_root", None)
    if root is None or not hasattr(root, "_children") or not hasattr(root, "_content"):
        raise TypeError(
            "cannot read this paho Client's message callbacks (not paho-mqtt 2.x?): "
            "mqseal.paho could not keep them from getting ciphertext"
        )
    found: List[Tuple[str, MessageCallback]] = []

    def walk(node: Any, path: List[str]) -> None:
        if node._content is not None:
            found.append(("/".join(path), node._content))
        for level, child in list(node._children.items()):
            walk(child, [*path, level])

    for level, child in list(root._children.items()):
        walk(child, [level])
    return found


def _topic_for_log(message: MQTTMessage) -> str:
    try:
        return message.topic
    except UnicodeDecodeError:
        return "<a topic that is not UTF-8>"

