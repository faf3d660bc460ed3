"""mqseal for aiomqtt 2.x (asyncio): publish sealed, iterate over opened messages.

    import aiomqtt, mqseal, mqseal.aio
    client = mqseal.aio.wrap(aiomqtt.Client("broker"), mqseal.TopicPolicy.load("policy.toml"), mqseal.Keyring.load("service.keys"))
    async with client:
        await client.subscribe("plant/+/telemetry", qos=1)
        async for message in client.messages:  # opened payloads
            print(message.topic, message.payload, message.signer)

Needs aiomqtt (`pip install 'mqseal[aio]'`); `import mqseal` does not.

`publish` seals before it sends (mqseal.Error, e.g. NoRuleError, and nothing is sent).
A last will (aiomqtt.Client(will=...)) cannot be sealed (the broker publishes it at a
time nobody knows): wrap(), or entering with a ClientFactory, raises InvalidArgumentError
for a will on a topic that is not plaintext-rule (NoRuleError without a rule).
`client.messages` yields OpenedMessages: aiomqtt Messages whose payload is the
opened payload, with `signer`, the verified signer's name on a signed rule
(suites 2 and 4; the rule may list several names, so the topic alone need not
tell), None on the others. A message that fails to open is never yielded: it
goes to `on_refused` (by default one warning line on the "mqseal.aio" logger,
without payload bytes), with the mqseal.Error that refused it (its `signer`:
the verified signer's name when the refusal came after the signature verified,
suites 2 and 4, else None), and the iteration goes on with the next one. An exact repeat of an accepted message
(QoS 1 redelivery) is counted in `stats.duplicates` and dropped quietly. Read
messages through the SealedClient only: the wrapped client's own `messages`
yield ciphertext.

With a replay store (replay_store=..., docs/DEPLOY.md), each message waits for its
claim (a file write, a round trip to Redis): that wait runs in a worker thread
(the event loop's default executor), never on the event loop, and messages
still come in order.

Reconnecting: keep one SealedClient and enter it again (`async with client`
in a loop, aiomqtt's pattern), so that its replay state and counts carry over
and a message redelivered after the reconnect is dropped as a duplicate; a new
SealedClient per connection would start with an empty replay state.

Devices without TLS log in with CONNECT tokens (docs/SPEC.md section 11). aiomqtt
sets the password when a Client is made, so such a SealedClient is given a
function that makes the aiomqtt Client, and makes a new one, with a fresh
single-use token as its password, every time it is entered:

    new_client = functools.partial(aiomqtt.Client, "broker", 1883)  # any aiomqtt.Client options
    client = mqseal.aio.wrap(new_client, policy, keys)  # new_client(identifier=, username=, password=)
    client.use_connect_tokens(keys, "connect", "device-7", "device-7")  # an ID the device owns
    while True:
        try:
            async with client:  # a new aiomqtt.Client, a new token
                ...
        except aiomqtt.MqttError:
            await asyncio.sleep(5)
"""

from __future__ import annotations

import asyncio
import functools
import logging
from types import TracebackType
from typing import Any, AsyncIterator, Callable, Dict, List, Optional, Protocol, Tuple, Type, Union

try:
    import aiomqtt
except ImportError as _missing:  # tests/python/test_aio.py runs this without aiomqtt
    raise ImportError(
        "mqseal.aio needs aiomqtt 2.x, which is not installed: pip install 'mqseal[aio]' "
        "(or pip install 'aiomqtt>=2,<3')"
    ) from _missing
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from . import Error, Keyring, Opened, Opener, TopicPolicy
from ._clients import (
    ConnectTokens,
    PayloadLike,
    Receiver,
    SealingPublisher,
    Stats,
    log_refused_line,
    report_refused,
    signer_of,
)
from ._errors import error_for

Outcome = Tuple[Optional[Opened], Optional[Error]]
"""What Receiver.open says of a message."""

__all__ = [
    "ClientFactory",
    "ConnectTokens",
    "OpenedMessage",
    "RefusedCallback",
    "SealedClient",
    "SealedMessages",
    "Stats",
    "log_refused",
    "wrap",
]

_log = logging.getLogger("mqseal.aio")


class ClientFactory(Protocol):
    """make_client(**login) -> a new aiomqtt.Client, not yet entered; e.g.
    functools.partial(aiomqtt.Client, "broker", 1883, keepalive=30).

    Called each time the SealedClient is entered: without CONNECT tokens with no
    arguments, with them with the keywords identifier, username and password (a fresh
    token), aiomqtt.Client's parameter names.
    """

    def __call__(self, *, identifier: str = ..., username: str = ..., password: str = ...) -> aiomqtt.Client: ...


class OpenedMessage(aiomqtt.Message):
    """A message as SealedClient.messages yields it: aiomqtt's Message (topic, qos, retain,
    mid, properties as received) with the opened payload, and its signer.

    Only the payload is authenticated: MQTT 5 properties (user properties, response topic,
    correlation data, ...) are as the broker sent them, unsealed (docs/SECURITY.md, "Limits")."""

    def __init__(
        self,
        topic: aiomqtt.TopicLike,
        payload: bytes,
        qos: int,
        retain: bool,
        mid: int,
        properties: Optional[Properties],
        *,
        signer: Optional[str] = None,
    ) -> None:
        """aiomqtt.Message's arguments, for an application's own tests; the SealedClient makes its own."""
        super().__init__(topic, payload, qos, retain, mid, properties)
        self.signer: Optional[str] = signer
        """Who signed it: on a signed rule (suites 2 and 4) the verified signer's name, one the rule
        authorises on this topic (Opened.signer); None on other rules, which authenticate no sender."""

    @classmethod
    def _opened(cls, message: aiomqtt.Message, opened: Opened) -> OpenedMessage:
        """`message` with what `opened` says: its payload and signer."""
        return cls(
            message.topic,
            opened.payload,
            message.qos,
            message.retain,
            message.mid,
            message.properties,
            signer=signer_of(opened),
        )


RefusedCallback = Callable[["SealedClient", aiomqtt.Message, Error], None]
"""on_refused(sealed_client, raw_message, error) for a message that failed to open.

error.signer: the verified signer's name if the refusal came after the signature verified
(suites 2 and 4), else None (mqseal.Error.signer)."""


def log_refused(sealed: SealedClient, message: aiomqtt.Message, error: Error) -> None:
    """The default on_refused: one warning with topic, size and error code, never payload bytes."""
    log_refused_line(_log, message.topic.value, len(message.payload), error)


def wrap(
    client: Union[aiomqtt.Client, ClientFactory],
    policy: TopicPolicy,
    keyring: Keyring,
    *,
    signer: Optional[str] = None,
    **opener_options: Any,
) -> SealedClient:
    """Wraps an aiomqtt Client, or a function that makes one per connection (ClientFactory).

    `signer`: the signer name publish() signs as on signed rules (suites 2 and 4), with its primary
    signing key; None: the keyring's only signer name (a keyring holding several needs one named).

    publish() seals, `messages` yields opened messages. `opener_options` go to
    mqseal.Opener (max_age_ms, retained, ...); replay_store=store (with replay_group=NAME) makes the clients given one
    store and group name a group that accepts each message once (docs/DEPLOY.md). A function is needed for
    CONNECT tokens (use_connect_tokens): aiomqtt takes the password only when a Client is made.

    Raises InvalidArgumentError if `client` has a last will (aiomqtt.Will) on a topic that is not
    plaintext-rule (NoRuleError without a rule): a will cannot be sealed; the broker publishes it
    at a time nobody knows. A ClientFactory's Clients are checked when the SealedClient is entered.
    """
    return SealedClient(client, policy, keyring, signer=signer, **opener_options)


class SealedClient:
    """An aiomqtt Client that seals what it publishes and opens what it receives.

    An async context manager, like aiomqtt.Client: `async with` connects, and may be
    repeated to reconnect (not nested). Attributes and methods not defined here are
    those of the current aiomqtt Client (`client`).
    """

    __slots__ = (
        "_client",
        "_make_client",
        "_entered",
        "_sealer",
        "_receiver",
        "_on_refused",
        "_tokens",
        "_opening",
        "_reading",
    )

    def __init__(
        self,
        client: Union[aiomqtt.Client, ClientFactory],
        policy: TopicPolicy,
        keyring: Keyring,
        *,
        signer: Optional[str] = None,
        **opener_options: Any,
    ) -> None:
        """Prefer wrap()."""
        self._client: Optional[aiomqtt.Client] = None
        self._make_client: Optional[ClientFactory] = None
        self._sealer = SealingPublisher(policy, keyring, signer)
        if isinstance(client, aiomqtt.Client):
            self._check_will(client)
            self._client = client
        elif callable(client):
            self._make_client = client
        else:
            raise TypeError(f"expected an aiomqtt.Client or a function that makes one, not {type(client).__name__}")
        self._entered = False
        self._receiver = Receiver(Opener(policy, keyring, **opener_options))
        self._on_refused: RefusedCallback = log_refused
        self._tokens: Optional[ConnectTokens] = None
        # The message whose claim a worker thread is making, and that claim's outcome to come.
        self._opening: Optional[Tuple[aiomqtt.Message, asyncio.Future[Outcome]]] = None
        # One step at a time (tasks reading `messages` together take turns), on the loop it was
        # made for: made at the first step of each event loop.
        self._reading: Optional[Tuple[asyncio.AbstractEventLoop, asyncio.Lock]] = None

    @property
    def client(self) -> aiomqtt.Client:
        """The aiomqtt Client of the current (or last) connection.

        With a ClientFactory there is none before the first `async with`: raises
        mqseal.InvalidArgumentError then.
        """
        if self._client is None:
            raise error_for("invalid_argument", "no aiomqtt Client yet: it is made when the SealedClient is entered")
        return self._client

    # ---- connecting ----

    async def __aenter__(self) -> SealedClient:
        """Connects: enters the wrapped Client, or a new one made with a fresh CONNECT token.

        Raises what aiomqtt raises (aiomqtt.MqttError when the broker cannot be reached or
        refuses the login), an mqseal.Error if no token can be made or the new Client has a last
        will on a topic that is not plaintext-rule (before connecting), and aiomqtt.MqttReentrantError if the SealedClient is entered already.
        """
        if self._entered:
            raise aiomqtt.MqttReentrantError("The sealed client is reusable, but not reentrant")
        if self._make_client is not None:
            login: Dict[str, str] = {}
            if self._tokens is not None:
                login = {
                    "identifier": self._tokens.client_id,
                    "username": self._tokens.username,
                    "password": self._tokens._make(count=True),
                }
            made = self._make_client(**login)
            self._check_will(made)
            self._client = made
        await self.client.__aenter__()
        self._entered = True
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        """Disconnects (aiomqtt.Client.__aexit__)."""
        self._entered = False
        await self.client.__aexit__(exc_type, exc, tb)

    def use_connect_tokens(
        self, keyring: Keyring, key_name: str, username: str, client_id: str, lifetime_s: int = 300
    ) -> ConnectTokens:
        """Logs in with a fresh CONNECT token every time the SealedClient is entered.

        The arguments of mqseal.paho.SealedClient.use_connect_tokens: the device secret is
        the primary key of `key_name` in `keyring` (a snapshot is kept), tokens name
        `username` and `client_id` (behind the mosquitto plugin's default, an ID the device
        owns: `username`, or `username` + "/" + anything). Each `async with` then calls the ClientFactory with
        identifier=client_id, username=username and password=a new token from
        mqseal.make_connect_token(keyring, key_name, username, client_id,
        lifetime_s=lifetime_s). Calling it again replaces the secret, names and lifetime
        from the next connection on.

        Raises now, not at connect time: InvalidArgumentError if the SealedClient wraps a
        Client rather than a ClientFactory (aiomqtt would keep sending the Client's first
        password), for a username no credentials file can hold (1 to 128 characters of
        [A-Za-z0-9_.@:-]), a client ID that is empty, that no broker delivers (a NUL, more
        than 65535 bytes) or that mosquitto closes the connection for (a control character
        or a Unicode noncharacter), or a lifetime of 0; KeyNotFoundError if `key_name` has
        no primary key.
        """
        if self._make_client is None:
            raise error_for(
                "invalid_argument",
                "CONNECT tokens need a function that makes the aiomqtt Client (wrap(make_client, ...)): "
                "aiomqtt takes the password only when a Client is made",
            )
        self._tokens = ConnectTokens._checked(keyring, key_name, username, client_id, lifetime_s)
        return self._tokens

    # ---- publishing ----

    async def publish(
        self,
        topic: str,
        payload: PayloadLike = None,
        qos: int = 0,
        retain: bool = False,
        properties: Optional[Properties] = None,
        *,
        timeout: Optional[float] = None,
    ) -> None:
        """Seals `payload` for `topic` and publishes it (aiomqtt.Client.publish).

        str is encoded as UTF-8, int and float as their text, None as b"", like aiomqtt.
        Plaintext-rule topics go out as they are. Raises mqseal.Error (NoRuleError for a
        topic no rule covers) before anything is sent, and TypeError for a topic that is no
        str or a retain that is not True or False, naming the argument and its type, never
        the payload.
        """
        envelope = self._sealer.seal(topic, payload, retain)
        await self.client.publish(topic, envelope, qos, retain, properties, timeout=timeout)

    async def subscribe(
        self,
        topic: Union[str, Tuple[str, SubscribeOptions], List[Tuple[str, SubscribeOptions]], List[Tuple[str, int]]],
        qos: int = 0,
        options: Optional[SubscribeOptions] = None,
        properties: Optional[Properties] = None,
        *,
        timeout: Optional[float] = None,
    ) -> Union[Tuple[int, ...], List[ReasonCode]]:
        """aiomqtt.Client.subscribe, on the current Client."""
        return await self.client.subscribe(topic, qos, options, properties, timeout=timeout)

    async def unsubscribe(
        self, topic: Union[str, List[str]], properties: Optional[Properties] = None, *, timeout: Optional[float] = None
    ) -> None:
        """aiomqtt.Client.unsubscribe, on the current Client."""
        await self.client.unsubscribe(topic, properties, timeout=timeout)

    def set_keyring(self, keyring: Keyring) -> None:
        """Key rotation: seal and open with `keyring` from now on (replay state is kept)."""
        self._sealer.set_keyring(keyring)
        self._receiver.set_keyring(keyring)

    # ---- receiving ----

    @property
    def messages(self) -> SealedMessages:
        """The opened messages (OpenedMessage) of the current connection: `async for message in client.messages`."""
        return SealedMessages(self)

    @property
    def on_refused(self) -> RefusedCallback:
        """on_refused(sealed_client, raw_message, error) for messages that fail to open.

        error.signer names the verified signer when the refusal came after the signature verified
        (suites 2 and 4: unauthorized_signer, replay, ...); None otherwise (mqseal.Error.signer).
        Defaults to log_refused; set None to restore it. Called in the iteration over
        `messages`, before it goes on; its exceptions are logged, never raised.
        """
        return self._on_refused

    @on_refused.setter
    def on_refused(self, handler: Optional[RefusedCallback]) -> None:
        self._on_refused = log_refused if handler is None else handler

    @property
    def stats(self) -> Stats:
        """A snapshot of the delivered, duplicate and refused counts (over every connection)."""
        return self._receiver.stats

    # ---- delegation ----

    def __getattr__(self, name: str) -> Any:
        """Everything not defined here is the current aiomqtt Client's."""
        if name in SealedClient.__slots__:  # not set yet: do not recurse
            raise AttributeError(name)
        if self._client is None:  # hasattr() and introspection expect AttributeError
            raise AttributeError(f"{name}: no aiomqtt Client yet (it is made when the wrapper is entered)")
        return getattr(self.client, name)

    def __repr__(self) -> str:
        """Shows the wrapped client or factory."""
        inner = self._client if self._client is not None else self._make_client
        return f"<mqseal.aio.SealedClient of {inner!r}>"

    # ---- internals ----

    def _check_will(self, client: aiomqtt.Client) -> None:
        """Raises if `client` has a last will (aiomqtt.Will) on a topic that is not plaintext-rule:
        the CONNECT would carry it unsealed (SealingPublisher.check_will)."""
        raw = client._client
        if raw._will:
            self._sealer.check_will(raw._will_topic.decode("utf-8"))

    async def _next(self) -> OpenedMessage:
        """The next message of the current Client's that opens (SealedMessages.__anext__).

        Steps take turns: two tasks reading `messages` at once would otherwise both take up
        the one claim under way (one message delivered twice, which a replay store is there
        to prevent), or one would replace the other's, claimed and then never delivered.
        """
        loop = asyncio.get_running_loop()
        if self._reading is None or self._reading[0] is not loop:
            self._reading = (loop, asyncio.Lock())
        async with self._reading[1]:
            return await self._next_in_turn()

    async def _next_in_turn(self) -> OpenedMessage:
        """_next's step, once it is this task's turn."""
        raw = self.client.messages
        while True:
            if self._opening is None:
                message = await raw.__anext__()
                if not self._receiver.waits:  # microseconds of CPU: here
                    opened = self._open(message)
                    if opened is not None:
                        return opened
                    continue
                # The claim waits for the store: in a worker thread, so that the loop runs on.
                claim = functools.partial(self._receiver.open, message.topic.value, message.payload, message.retain)
                self._opening = (message, asyncio.get_running_loop().run_in_executor(None, claim))
            message, outcome = self._opening
            try:
                result = await asyncio.shield(outcome)
            except asyncio.CancelledError:
                raise  # the claim goes on: the next step gets its outcome
            except BaseException:
                self._opening = None
                raise
            self._opening = None
            opened = self._delivered(message, *result)
            if opened is not None:
                return opened

    def _open(self, message: aiomqtt.Message) -> Optional[OpenedMessage]:
        """The opened copy of `message`, or None if it is not to be delivered. Never raises."""
        return self._delivered(message, *self._receiver.open(message.topic.value, message.payload, message.retain))

    def _delivered(
        self, message: aiomqtt.Message, opened: Optional[Opened], error: Optional[Error]
    ) -> Optional[OpenedMessage]:
        """What Receiver.open said of `message`: reports a refusal; the message to deliver, if any."""
        if error is not None:
            report_refused(_log, message.topic.value, lambda: self._on_refused(self, message, error))
            return None
        if opened is None:
            return None
        return OpenedMessage._opened(message, opened)


class SealedMessages:
    """The opened messages of a SealedClient's current connection (aiomqtt's MessagesIterator).

    Each step reads the wrapped Client's messages until one opens; refused messages go
    to on_refused and duplicates are dropped on the way. Raises what aiomqtt raises
    (aiomqtt.MqttError when the connection is lost). With a replay store, each claim is
    made in a worker thread (the loop's default executor) while the loop runs on; a step
    cancelled meanwhile loses nothing if the client is read again: the claim goes on, and
    the next step (of any task) delivers (or refuses) that message before it reads another.
    A message whose step was cancelled and that is never read again (the task group shut
    down, the wrapper left for good) was claimed and counted in `stats.delivered`, but never
    handed over. Several tasks may read at once: their steps take turns, and each message
    goes to one of them.
    """

    __slots__ = ("_sealed",)

    def __init__(self, sealed: SealedClient) -> None:
        self._sealed = sealed

    def __aiter__(self) -> AsyncIterator[OpenedMessage]:
        return self

    async def __anext__(self) -> OpenedMessage:
        return await self._sealed._next()

    def __len__(self) -> int:
        """Received messages waiting, not yet opened (some may yet be refused or dropped)."""
        return len(self._sealed.client.messages)
