"""mqseal.aio against a real mosquitto with real aiomqtt clients.

The C++ device (paho_publisher, paho_subscriber from $MQSEAL_EXAMPLES_DIR) on the
other side of a round trip; token login through the mqseal plugin ($MQSEAL_PLUGIN),
across broker restarts, a session takeover and a broker that dies before its CONNACK.
Each test runs its coroutine with asyncio.run, every wait bounded.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Awaitable, Iterator, List, Optional, Tuple, TypeVar

import aiomqtt
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
import pytest

import mqseal
import mqseal.aio
from conftest import MOSQUITTO, TIMEOUT, Broker, _start_mosquitto, _stop
from test_interop import COUNT, READINGS, examples, files  # noqa: F401 (fixtures)
from test_tokens import CHEAP, PASSWORD, USERNAME, attempt

TOPIC = "plant/7/telemetry"
READING = b"temperature=21.5 C"

KeysAndPolicy = Tuple[mqseal.Keyring, mqseal.TopicPolicy]
T = TypeVar("T")


def run(coroutine: Awaitable[T]) -> T:
    """Runs a test's coroutine, bounded by a few TIMEOUTs in all."""

    async def bounded() -> T:
        return await asyncio.wait_for(coroutine, 6 * TIMEOUT)

    return asyncio.run(bounded())


def new_id() -> str:
    return f"mqseal-aio-{uuid.uuid4().hex[:12]}"


def aio_client(broker: Broker, **options: Any) -> aiomqtt.Client:
    """A new aiomqtt Client (call inside the event loop), unique ID unless given."""
    options.setdefault("identifier", new_id())
    return aiomqtt.Client(broker.host, broker.port, timeout=TIMEOUT, **options)


async def receive(client: mqseal.aio.SealedClient, count: int) -> List[mqseal.aio.OpenedMessage]:
    """The next `count` opened messages, within TIMEOUT."""
    messages: List[mqseal.aio.OpenedMessage] = []

    async def take() -> None:
        async for message in client.messages:
            messages.append(message)
            if len(messages) == count:
                return

    try:
        await asyncio.wait_for(take(), TIMEOUT)
    except asyncio.TimeoutError:
        pytest.fail(f"{len(messages)} of {count} messages arrived: {[m.payload for m in messages]}")
    return messages


class Refused:
    """An on_refused that records (topic, payload, error)."""

    def __init__(self) -> None:
        self.calls: List[Tuple[str, bytes, mqseal.Error]] = []

    def __call__(self, sealed: mqseal.aio.SealedClient, message: aiomqtt.Message, error: mqseal.Error) -> None:
        assert isinstance(sealed, mqseal.aio.SealedClient)
        self.calls.append((message.topic.value, bytes(message.payload), error))

    @property
    def codes(self) -> List[Tuple[str, str]]:
        return [(topic, error.code) for topic, _, error in self.calls]


# ---- sealed publish and receive ----


def test_round_trip_opens_topic_qos_retain(broker: Broker, keys_and_policy: KeysAndPolicy) -> None:
    keys, policy = keys_and_policy

    async def scenario() -> None:
        async with mqseal.aio.wrap(aio_client(broker), policy, keys) as publisher, \
                mqseal.aio.wrap(aio_client(broker), policy, keys) as subscriber, aio_client(broker) as eavesdropper:
            await publisher.publish("plant/1/telemetry", "retained reading", qos=1, retain=True)  # str: UTF-8
            await eavesdropper.subscribe("plant/#", qos=1)
            await subscriber.subscribe("plant/+/telemetry", qos=1)
            await publisher.publish(TOPIC, READING, qos=1)

            retained, live = await receive(subscriber, 2)
            assert (retained.topic.value, retained.payload, retained.qos, retained.retain) == (
                "plant/1/telemetry", b"retained reading", 1, True)
            assert (live.topic.value, live.payload, live.qos, live.retain) == (TOPIC, READING, 1, False)
            assert subscriber.stats == mqseal.aio.Stats(delivered=2, duplicates=0, refused=0)

            seen = []
            async for message in eavesdropper.messages:  # the broker and others see ciphertext only
                seen.append(message.payload)
                if len(seen) == 2:
                    break
            assert all(isinstance(p, bytes) and b"reading" not in p and b"temperature" not in p for p in seen)
            assert len(seen[1]) == len(READING) + mqseal.ENVELOPE_OVERHEAD

    run(scenario())


def test_publish_without_rule_raises_and_sends_nothing(broker: Broker, keys_and_policy: KeysAndPolicy) -> None:
    keys, policy = keys_and_policy

    async def scenario() -> None:
        async with mqseal.aio.wrap(aio_client(broker), policy, keys) as publisher, aio_client(broker) as watcher:
            await watcher.subscribe("#", qos=1)
            with pytest.raises(mqseal.NoRuleError) as refused:
                await publisher.publish("other/topic", READING, qos=1)
            assert refused.value.code == "no_rule"
            await publisher.publish("public/sync", b"sync", qos=1)  # plaintext rule: as it is
            async for message in watcher.messages:
                assert (message.topic.value, message.payload) == ("public/sync", b"sync")
                break

    run(scenario())


def test_a_refused_message_in_the_middle_of_a_stream(broker: Broker, keys_and_policy: KeysAndPolicy) -> None:
    """Forged, tampered, moved and uncovered messages between sealed ones: each refused and
    reported, the stream goes on, every sealed message arrives once and in order."""
    keys, policy = keys_and_policy
    sealer = mqseal.Sealer(policy, keys)

    async def scenario() -> None:
        refused = Refused()
        async with mqseal.aio.wrap(aio_client(broker), policy, keys) as subscriber, \
                mqseal.aio.wrap(aio_client(broker), policy, keys) as publisher, aio_client(broker) as attacker:
            subscriber.on_refused = refused
            await subscriber.subscribe("#", qos=1)
            tampered = bytearray(sealer.seal(TOPIC, b"tampered"))
            tampered[-1] ^= 1
            await publisher.publish(TOPIC, b"first", qos=1)
            await attacker.publish(TOPIC, b"temperature=99.9 C", qos=1)  # plaintext on a sealed topic
            await publisher.publish(TOPIC, b"second", qos=1)
            await attacker.publish(TOPIC, bytes(tampered), qos=1)
            await attacker.publish("plant/8/telemetry", sealer.seal(TOPIC, b"moved"), qos=1)
            await attacker.publish("other/topic", b"no rule for this", qos=1)  # a topic no rule covers
            await publisher.publish(TOPIC, b"third", qos=1)

            messages = await receive(subscriber, 3)
            assert [m.payload for m in messages] == [b"first", b"second", b"third"]
            assert refused.codes == [
                (TOPIC, "malformed"), (TOPIC, "authentication_failed"), ("plant/8/telemetry", "authentication_failed"),
                ("other/topic", "no_rule")]
            assert isinstance(refused.calls[0][2], mqseal.FormatError)
            assert isinstance(refused.calls[3][2], mqseal.NoRuleError)
            assert subscriber.stats == mqseal.aio.Stats(delivered=3, duplicates=0, refused=4)

    run(scenario())


def test_duplicates_are_dropped(broker: Broker, keys_and_policy: KeysAndPolicy) -> None:
    keys, policy = keys_and_policy
    sealer = mqseal.Sealer(policy, keys)

    async def scenario() -> None:
        refused = Refused()
        async with mqseal.aio.wrap(aio_client(broker), policy, keys) as subscriber, aio_client(broker) as raw:
            subscriber.on_refused = refused
            await subscriber.subscribe(TOPIC, qos=1)
            envelope = sealer.seal(TOPIC, READING)
            await raw.publish(TOPIC, envelope, qos=1)
            await raw.publish(TOPIC, envelope, qos=1)  # a QoS 1 redelivery, as the application sees it
            await raw.publish(TOPIC, sealer.seal(TOPIC, b"next"), qos=1)

            assert [m.payload for m in await receive(subscriber, 2)] == [READING, b"next"]
            assert subscriber.stats == mqseal.aio.Stats(delivered=2, duplicates=1, refused=0)
            assert refused.calls == []

    run(scenario())


def test_entered_again_the_replay_state_carries_over(broker: Broker, keys_and_policy: KeysAndPolicy) -> None:
    """aiomqtt's reconnect pattern with a wrapped Client: a message seen on the first
    connection and delivered again on the second (a redelivery) is dropped."""
    keys, policy = keys_and_policy
    sealer = mqseal.Sealer(policy, keys)
    envelope = sealer.seal(TOPIC, READING)

    async def scenario() -> None:
        received: List[bytes] = []
        subscriber = mqseal.aio.wrap(aio_client(broker), policy, keys)
        async with aio_client(broker) as raw:
            for connection in range(2):
                async with subscriber:
                    await subscriber.subscribe(TOPIC, qos=1)
                    await raw.publish(TOPIC, envelope, qos=1)  # the second time: a redelivery
                    await raw.publish(TOPIC, sealer.seal(TOPIC, b"%d" % connection), qos=1)
                    received.extend(m.payload for m in await receive(subscriber, 2 - connection))
        assert received == [READING, b"0", b"1"]
        assert subscriber.stats == mqseal.aio.Stats(delivered=3, duplicates=1, refused=0)

    run(scenario())


def test_default_on_refused_logs_and_a_raising_one_does_not_end_the_stream(
    broker: Broker, keys_and_policy: KeysAndPolicy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="mqseal.aio")
    keys, policy = keys_and_policy
    injected = b"temperature=99.9 C secret"

    def raising(*args: Any) -> None:
        raise RuntimeError("application bug")

    async def scenario() -> None:
        async with mqseal.aio.wrap(aio_client(broker), policy, keys) as subscriber, \
                mqseal.aio.wrap(aio_client(broker), policy, keys) as publisher, aio_client(broker) as attacker:
            await subscriber.subscribe(TOPIC, qos=1)
            await attacker.publish(TOPIC, injected, qos=1)
            await publisher.publish(TOPIC, b"one", qos=1)
            assert [m.payload for m in await receive(subscriber, 1)] == [b"one"]
            subscriber.on_refused = raising
            await attacker.publish(TOPIC, injected, qos=1)
            await publisher.publish(TOPIC, b"two", qos=1)
            assert [m.payload for m in await receive(subscriber, 1)] == [b"two"]
            assert subscriber.stats.refused == 2

    run(scenario())
    records = [r for r in caplog.records if r.name == "mqseal.aio"]
    warning, error = records
    assert warning.levelno == logging.WARNING
    text = warning.getMessage()
    assert TOPIC in text and str(len(injected)) in text and "malformed" in text
    assert "secret" not in text and "temperature" not in text and injected.hex() not in text
    assert error.levelno == logging.ERROR and error.exc_info is not None
    assert isinstance(error.exc_info[1], RuntimeError)


def test_retained_refused_by_opener_options(broker: Broker, keys_and_policy: KeysAndPolicy) -> None:
    keys, policy = keys_and_policy

    async def scenario() -> None:
        refused = Refused()
        async with mqseal.aio.wrap(aio_client(broker), policy, keys) as publisher:
            await publisher.publish(TOPIC, READING, qos=1, retain=True)
        async with mqseal.aio.wrap(aio_client(broker), policy, keys, retained="refuse") as subscriber:
            subscriber.on_refused = refused
            await subscriber.subscribe("plant/+/telemetry", qos=1)
            await subscriber.publish("plant/2/telemetry", b"live", qos=1)
            assert [m.payload for m in await receive(subscriber, 1)] == [b"live"]
        assert refused.codes == [(TOPIC, "retained_refused")]

    run(scenario())


def test_import_without_aiomqtt_names_the_extra(tmp_path: Path) -> None:
    """`import mqseal` never needs aiomqtt; `import mqseal.aio` without it says what to install."""
    blocker = tmp_path / "aiomqtt.py"
    blocker.write_text("raise ImportError('No module named aiomqtt (hidden by the test)')\n")
    code = (
        "import mqseal, mqseal.paho\n"
        "try:\n    import mqseal.aio\nexcept ImportError as e:\n    print('ImportError:', e)\n"
        "else:\n    print('imported')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True, text=True, timeout=TIMEOUT, env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )
    assert out.returncode == 0, out.stderr
    assert "ImportError: mqseal.aio needs aiomqtt 2.x" in out.stdout and "mqseal[aio]" in out.stdout, out.stdout


# ---- with the C++ device ----


def test_cpp_device_seals_aio_opens(
    examples: Path, broker: Broker, keys_and_policy: KeysAndPolicy, files: Tuple[str, str]  # noqa: F811
) -> None:
    keys, _ = keys_and_policy
    policy = mqseal.TopicPolicy.load(files[1])

    async def scenario() -> None:
        async with mqseal.aio.wrap(aio_client(broker), policy, keys) as subscriber:
            await subscriber.subscribe("plant/+/telemetry", qos=1)
            device = await asyncio.create_subprocess_exec(
                str(examples / "paho_publisher"), broker.uri, *files, TOPIC, str(COUNT),
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )
            messages = await receive(subscriber, COUNT)
            _, stderr = await asyncio.wait_for(device.communicate(), TIMEOUT)
            assert device.returncode == 0, stderr.decode(errors="replace")
            assert [(m.topic.value, m.payload.decode()) for m in messages] == [(TOPIC, r) for r in READINGS]
            assert subscriber.stats == mqseal.aio.Stats(delivered=COUNT, duplicates=0, refused=0)

    run(scenario())


def test_aio_seals_cpp_service_opens(
    examples: Path, broker: Broker, keys_and_policy: KeysAndPolicy, files: Tuple[str, str]  # noqa: F811
) -> None:
    keys, _ = keys_and_policy
    policy = mqseal.TopicPolicy.load(files[1])

    async def scenario() -> List[str]:
        service = await asyncio.create_subprocess_exec(
            str(examples / "paho_subscriber"), broker.uri, *files, "plant/+/telemetry", str(COUNT),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        assert service.stdout is not None
        output: List[str] = []
        try:
            while not any(line.startswith("service subscribed") for line in output):
                line = await asyncio.wait_for(service.stdout.readline(), TIMEOUT)
                assert line, "paho_subscriber ended before subscribing:\n" + "\n".join(output)
                output.append(line.decode().rstrip("\n"))
            async with mqseal.aio.wrap(aio_client(broker), policy, keys) as publisher:
                for reading in READINGS:
                    await publisher.publish(TOPIC, reading, qos=1)
            rest, _ = await asyncio.wait_for(service.communicate(), 2 * TIMEOUT)
            output += rest.decode().splitlines()
            assert service.returncode == 0, "\n".join(output)
        finally:
            if service.returncode is None:
                service.kill()
                await service.wait()
        return output

    output = run(scenario())
    opened = [line for line in output if line.startswith("service opened")]
    assert opened == [f"service opened on {TOPIC}: {r}" for r in READINGS], "\n".join(output)


# ---- CONNECT tokens: every connection a fresh one ----


class TokenBrokerProcess:
    """A mosquitto that logs USERNAME in with CONNECT tokens only (the mqseal plugin), and
    that can be stopped, frozen, killed and started again on the same port."""

    def __init__(self, tmp_path: Path, plugin: str) -> None:
        self.device = mqseal.provision(USERNAME, PASSWORD, CHEAP)
        credentials = mqseal.Credentials()
        credentials.add(self.device.record)
        self._credentials = tmp_path / "broker.credentials"
        credentials.save(str(self._credentials))
        self._plugin = plugin
        self._tmp_path = tmp_path
        self._starts = 0
        self.process: Optional[subprocess.Popen[bytes]] = None
        self.port: Optional[int] = None
        self.logs: List[Path] = []
        self.start()

    def start(self) -> None:
        directory = self._tmp_path / f"broker-{self._starts}"
        directory.mkdir()
        self._starts += 1
        lines = ["user root", "allow_anonymous false", f"plugin {self._plugin}",
                 f"plugin_opt_credentials_file {self._credentials}"]
        self.process, self.port, log = _start_mosquitto(directory, lines, port=self.port)
        self.logs.append(log)

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)

    def kill(self) -> None:
        """SIGKILL: every connection is reset, no CONNACK is ever sent."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()

    @property
    def broker(self) -> Broker:
        assert self.port is not None
        return Broker("127.0.0.1", self.port, self.logs[-1])

    def device_keys(self) -> mqseal.Keyring:
        """The device's keyring: its secret under "connect" and a "telemetry" key."""
        keys = mqseal.Keyring()
        keys.add("connect", self.device.device_secret)
        keys.generate("telemetry")
        return keys

    def log_text(self) -> str:
        return "".join(log.read_text(errors="replace") for log in self.logs if log.exists())


@pytest.fixture
def token_broker(tmp_path: Path) -> Iterator[TokenBrokerProcess]:
    plugin = os.environ.get("MQSEAL_PLUGIN")
    if not plugin:
        pytest.skip("MQSEAL_PLUGIN (the path of mqseal_auth.so) is not set")
    if not Path(plugin).is_file():
        pytest.fail(f"MQSEAL_PLUGIN={plugin} is not a file")
    if not Path(MOSQUITTO).exists():
        pytest.skip(f"{MOSQUITTO} is not installed")
    broker = TokenBrokerProcess(tmp_path, plugin)
    yield broker
    broker.stop()


class Factory:
    """A ClientFactory over aiomqtt.Client that records the login of every Client it makes."""

    def __init__(self, broker: TokenBrokerProcess, reuse_first_password: bool = False) -> None:
        self.logins: List[Tuple[str, str, str]] = []
        self._broker = broker
        self._reuse = reuse_first_password  # only to show that the tests catch a reused token

    def __call__(self, *, identifier: str = "", username: str = "", password: str = "") -> aiomqtt.Client:
        self.logins.append((identifier, username, password))
        if self._reuse:
            password = self.logins[0][2]
        b = self._broker.broker
        return aiomqtt.Client(b.host, b.port, identifier=identifier, username=username, password=password,
                              timeout=2.0)

    @property
    def passwords(self) -> List[str]:
        return [password for _, _, password in self.logins]


def device_id() -> str:
    """A fresh client ID the device owns (its username, '/', more): the plugin refuses a device any other."""
    return f"{USERNAME}/{new_id()}"


def token_client(broker: TokenBrokerProcess, factory: Factory, keys: mqseal.Keyring, client_id: str
                 ) -> Tuple[mqseal.aio.SealedClient, mqseal.aio.ConnectTokens]:
    policy = mqseal.TopicPolicy()
    policy.add_rule("plant/+/telemetry", "telemetry")
    client = mqseal.aio.wrap(factory, policy, keys)
    return client, client.use_connect_tokens(keys, "connect", USERNAME, client_id)


class Service:
    """aiomqtt's reconnect pattern: one SealedClient entered again after each MqttError."""

    def __init__(self, client: mqseal.aio.SealedClient) -> None:
        self.client = client
        self.received: List[bytes] = []
        self.connections = 0
        self.errors: List[str] = []
        self.subscribed = asyncio.Event()

    async def run(self, count: int) -> None:
        while len(self.received) < count:
            try:
                async with self.client:
                    self.connections += 1
                    await self.client.subscribe(TOPIC, qos=1)
                    self.subscribed.set()
                    async for message in self.client.messages:
                        self.received.append(message.payload)
                        if len(self.received) == count:
                            return
            except aiomqtt.MqttError as e:
                self.errors.append(str(e))
                self.subscribed.clear()
                await asyncio.sleep(0.1)

    async def wait_subscribed(self) -> None:
        await asyncio.wait_for(self.subscribed.wait(), TIMEOUT)


async def publish_as_device(broker: TokenBrokerProcess, keys: mqseal.Keyring, payloads: List[bytes]) -> None:
    """A device with its own connection (and own token) publishes sealed payloads."""
    factory = Factory(broker)
    device, _ = token_client(broker, factory, keys, device_id())
    async with device:
        for payload in payloads:
            await device.publish(TOPIC, payload, qos=1)


def test_a_broker_restart_in_the_middle_with_token_login(token_broker: TokenBrokerProcess) -> None:
    keys = token_broker.device_keys()
    factory = Factory(token_broker)
    client, tokens = token_client(token_broker, factory, keys, device_id())
    service = Service(client)

    async def scenario() -> None:
        task = asyncio.create_task(service.run(4))
        await service.wait_subscribed()
        await publish_as_device(token_broker, keys, [b"before 1", b"before 2"])
        while len(service.received) < 2:
            await asyncio.sleep(0.02)
        token_broker.stop()
        while len(service.errors) < 2:  # the lost connection, then a try at the stopped broker
            await asyncio.sleep(0.02)
        token_broker.start()
        await service.wait_subscribed()
        await publish_as_device(token_broker, keys, [b"after 1", b"after 2"])
        await asyncio.wait_for(task, TIMEOUT)

    run(scenario())
    assert service.received == [b"before 1", b"before 2", b"after 1", b"after 2"]  # nothing lost, none twice
    assert service.connections == 2 and service.errors
    assert tokens.tokens_made == len(factory.logins) >= 3  # the first, failed tries, the reconnect: each a new token
    assert len(set(factory.passwords)) == len(factory.passwords)
    assert all(login[:2] == (tokens.client_id, USERNAME) for login in factory.logins)
    assert all(p.startswith("mqs1.") for p in factory.passwords)
    assert "mqseal: refused" not in token_broker.log_text()
    assert client.stats == mqseal.aio.Stats(delivered=4, duplicates=0, refused=0)


def test_a_session_takeover_reconnects_with_a_fresh_token(token_broker: TokenBrokerProcess) -> None:
    """The plugin remembers accepted tokens: a reconnect with the first one would be refused."""
    keys = token_broker.device_keys()
    factory = Factory(token_broker)
    client_id = device_id()
    client, tokens = token_client(token_broker, factory, keys, client_id)
    service = Service(client)

    async def scenario() -> None:
        task = asyncio.create_task(service.run(2))
        await service.wait_subscribed()
        await publish_as_device(token_broker, keys, [b"one"])
        while not service.received:
            await asyncio.sleep(0.02)
        # Another connection with the same client ID takes the session over: mosquitto
        # drops the service, which enters its SealedClient again.
        intruder = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        intruder.username_pw_set(USERNAME, mqseal.make_connect_token(keys, "connect", USERNAME, client_id))
        assert await asyncio.to_thread(attempt, intruder, token_broker.broker) == "Success"
        while service.connections < 2 or not service.subscribed.is_set():
            await asyncio.sleep(0.02)
        await publish_as_device(token_broker, keys, [b"two"])
        await asyncio.wait_for(task, TIMEOUT)

    run(scenario())
    assert service.received == [b"one", b"two"]
    assert len(factory.logins) == tokens.tokens_made >= 2
    assert len(set(factory.passwords)) == len(factory.passwords)
    assert "mqseal: refused" not in token_broker.log_text()


def test_a_broker_that_dies_before_its_connack(token_broker: TokenBrokerProcess) -> None:
    """The broker is frozen while the service connects (the CONNECT with its token sits in
    the socket), then killed: a clear aiomqtt.MqttError, the SealedClient is not left
    entered, and the next try, at a broker started again, carries a new token."""
    keys = token_broker.device_keys()
    factory = Factory(token_broker)
    client, tokens = token_client(token_broker, factory, keys, device_id())
    process = token_broker.process
    assert process is not None

    async def scenario() -> None:
        process.send_signal(signal.SIGSTOP)
        try:
            connecting = asyncio.create_task(client.__aenter__())
            while not factory.logins:  # the token is made, the Client connects
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.3)
        finally:
            token_broker.kill()  # SIGKILL works on a stopped process
        with pytest.raises(aiomqtt.MqttError):
            await connecting
        token_broker.start()
        async with client:  # not refused as reentrant: the failed enter left nothing behind
            await client.subscribe(TOPIC, qos=1)
            await client.publish(TOPIC, b"after the crash", qos=1)
            assert [m.payload for m in await receive(client, 1)] == [b"after the crash"]

    run(scenario())
    assert tokens.tokens_made == len(factory.logins) == 2
    first, second = factory.passwords
    assert first != second


def test_connect_tokens_need_a_factory_and_valid_arguments(broker: Broker) -> None:
    keys = mqseal.Keyring()
    keys.generate("connect")
    policy = mqseal.TopicPolicy()

    async def scenario() -> None:
        fixed = mqseal.aio.wrap(aio_client(broker), policy, keys)
        with pytest.raises(mqseal.InvalidArgumentError, match="function that makes the aiomqtt Client"):
            fixed.use_connect_tokens(keys, "connect", USERNAME, "client-1")

    run(scenario())
    made = mqseal.aio.wrap(functools.partial(aiomqtt.Client, broker.host, broker.port), policy, keys)
    with pytest.raises(mqseal.InvalidArgumentError):
        made.use_connect_tokens(keys, "connect", USERNAME, "")  # the broker would assign an ID
    with pytest.raises(mqseal.KeyNotFoundError):
        made.use_connect_tokens(keys, "no such key", USERNAME, "client-1")
    with pytest.raises(mqseal.InvalidArgumentError, match="no aiomqtt Client yet"):
        made.client
    # Anything else of the client, before there is one: AttributeError, so
    # that hasattr() and introspection work.
    assert not hasattr(made, "identifier")
    with pytest.raises(AttributeError, match="no aiomqtt Client yet"):
        made.identifier  # noqa: B018


def test_a_refused_topics_control_characters_never_reach_the_log(
    keys_and_policy: KeysAndPolicy, caplog: pytest.LogCaptureFixture
) -> None:
    """As mqseal.paho's (test_paho.py): the default on_refused shows control characters as \\xNN."""
    caplog.set_level(logging.WARNING, logger="mqseal.aio")
    keys, policy = keys_and_policy
    subscriber = mqseal.aio.wrap(functools.partial(aiomqtt.Client, "127.0.0.1"), policy, keys)
    message = aiomqtt.Message(TOPIC + "\nWARNING:mqseal.aio:forged\r", b"forged", 1, False, 1, None)
    assert subscriber._open(message) is None  # as the iteration over `messages` opens each one

    (record,) = [r for r in caplog.records if r.name == "mqseal.aio"]
    text = record.getMessage()
    assert "\n" not in text and "\r" not in text
    assert TOPIC + "\\x0aWARNING:mqseal.aio:forged\\x0d" in text


def pause_redis(redis_url: str, milliseconds: int) -> None:
    """Makes the redis-server at `redis_url` answer no client for `milliseconds` (CLIENT PAUSE)."""
    port = redis_url.rsplit(":", 1)[1].split("/")[0]
    subprocess.run(["redis-cli", "-p", port, "CLIENT", "PAUSE", str(milliseconds), "ALL"], check=True,
                   timeout=TIMEOUT, capture_output=True)


def claiming_pair(
    broker: Broker, keys_and_policy: KeysAndPolicy, redis_url: str
) -> Tuple[mqseal.aio.SealedClient, mqseal.aio.SealedClient]:
    """A subscriber whose opens claim in a Redis store, and a publisher: both to be entered.
    Called in the event loop (an aiomqtt Client is made for its loop)."""
    keys, policy = keys_and_policy
    store = mqseal.redis_replay_store(redis_url, capacity=1 << 22, command_timeout_ms=5000)  # past the longest pause
    subscriber = mqseal.aio.wrap(aio_client(broker), policy, keys, replay_store=store, replay_group="consumers")
    return subscriber, mqseal.aio.wrap(aio_client(broker), policy, keys)


async def claim_under_way(subscriber: mqseal.aio.SealedClient) -> None:
    """Returns once a step of `subscriber` waits for a claim that has not finished."""
    deadline = asyncio.get_running_loop().time() + TIMEOUT
    while asyncio.get_running_loop().time() < deadline:
        opening = subscriber._opening
        if opening is not None and not opening[1].done():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("no claim was under way")


def test_a_claim_waiting_on_the_replay_store_does_not_block_the_event_loop(
    broker: Broker, keys_and_policy: KeysAndPolicy, redis_url: str
) -> None:
    """With a replay store, each message waits for its claim: a file write, a round trip to Redis,
    up to command_timeout_ms when Redis is slow. Opened on the event loop's thread, that wait
    stopped every task of the loop (aiomqtt's own keepalive included) for as long. The claim is
    made in a worker thread now; here a redis-server paused for 1.5 s while a message is opened
    (the message takes that long to come: the claim did wait; the loop meanwhile ran on)."""

    async def scenario() -> Tuple[float, float]:
        subscriber_wrapper, publisher_wrapper = claiming_pair(broker, keys_and_policy, redis_url)  # in the loop
        async with subscriber_wrapper as subscriber, publisher_wrapper as publisher:
            await subscriber.subscribe(TOPIC, qos=1)
            await publisher.publish(TOPIC, b"warm-up", qos=1)
            assert [m.payload for m in await receive(subscriber, 1)] == [b"warm-up"]
            longest = 0.0
            ticking = True

            async def tick() -> None:
                nonlocal longest
                last = asyncio.get_running_loop().time()
                while ticking:
                    await asyncio.sleep(0.01)
                    now = asyncio.get_running_loop().time()
                    longest = max(longest, now - last)
                    last = now

            ticker = asyncio.create_task(tick())
            pause_redis(redis_url, 1500)
            paused = asyncio.get_running_loop().time()
            await publisher.publish(TOPIC, b"during the pause", qos=1)
            assert [m.payload for m in await receive(subscriber, 1)] == [b"during the pause"]
            waited = asyncio.get_running_loop().time() - paused
            ticking = False
            await ticker
            assert subscriber.stats == mqseal.aio.Stats(delivered=2, duplicates=0, refused=0)
            return longest, waited

    longest, waited = run(scenario())
    assert waited > 0.75, f"the message came after {waited:.3f} s: its claim did not wait for the pause"
    assert longest < 0.5, f"the event loop stood still for {longest:.3f} s"


def test_a_step_cancelled_while_its_claim_waits_loses_no_message(
    broker: Broker, keys_and_policy: KeysAndPolicy, redis_url: str
) -> None:
    """The claim made in a worker thread goes on when the step waiting for it is cancelled (a
    timeout around the iteration, say): the message is claimed then, and a later copy would be a
    duplicate, so the next step delivers it rather than reading on."""

    async def scenario() -> None:
        subscriber_wrapper, publisher_wrapper = claiming_pair(broker, keys_and_policy, redis_url)  # in the loop
        async with subscriber_wrapper as subscriber, publisher_wrapper as publisher:
            await subscriber.subscribe(TOPIC, qos=1)
            pause_redis(redis_url, 3000)
            await publisher.publish(TOPIC, b"first", qos=1)
            await publisher.publish(TOPIC, b"second", qos=1)
            step = asyncio.create_task(subscriber.messages.__anext__())
            await claim_under_way(subscriber)
            step.cancel()
            with pytest.raises(asyncio.CancelledError):
                await step
            assert [m.payload for m in await receive(subscriber, 2)] == [b"first", b"second"]
            assert subscriber.stats == mqseal.aio.Stats(delivered=2, duplicates=0, refused=0)

    run(scenario())


def test_tasks_reading_one_client_together_each_get_a_message_once(
    broker: Broker, keys_and_policy: KeysAndPolicy, redis_url: str
) -> None:
    """Two tasks iterating one client's messages while claims wait: each message goes to one of
    them, once. (A task that started while another's claim waited used to take up that claim
    and deliver the same message again.)"""
    payloads = [b"m0", b"m1", b"m2", b"m3"]

    async def scenario() -> List[bytes]:
        subscriber_wrapper, publisher_wrapper = claiming_pair(broker, keys_and_policy, redis_url)  # in the loop
        async with subscriber_wrapper as subscriber, publisher_wrapper as publisher:
            await subscriber.subscribe(TOPIC, qos=1)
            got: List[bytes] = []

            async def reader() -> None:
                async for message in subscriber.messages:
                    got.append(message.payload)
                    if len(got) >= len(payloads):
                        return

            readers = [asyncio.create_task(reader())]
            pause_redis(redis_url, 1000)
            await publisher.publish(TOPIC, payloads[0], qos=1)
            await claim_under_way(subscriber)
            readers.append(asyncio.create_task(reader()))  # starts while the first one's claim waits
            for payload in payloads[1:]:
                await publisher.publish(TOPIC, payload, qos=1)
            done, pending = await asyncio.wait(readers, timeout=TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
            await asyncio.sleep(0.3)  # a duplicate would come now
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            assert done, "no reader got every message"
            assert subscriber.stats.delivered == len(payloads)
            return got

    assert sorted(run(scenario())) == payloads


def test_a_last_will_on_a_sealed_topic_is_refused_before_connecting(
    broker: Broker, keys_and_policy: KeysAndPolicy
) -> None:
    """aiomqtt sends Client(will=...) in the CONNECT, in the clear, and the broker publishes it
    at a time nobody knows (so it cannot be sealed fresh): a will on a sealed topic is refused."""
    keys, policy = keys_and_policy
    offline = aiomqtt.Will(TOPIC, b"offline", qos=1)

    async def scenario() -> None:
        with pytest.raises(mqseal.InvalidArgumentError, match="last will"):
            mqseal.aio.wrap(aio_client(broker, will=offline), policy, keys)
        with pytest.raises(mqseal.NoRuleError):
            mqseal.aio.wrap(aio_client(broker, will=aiomqtt.Will("other/topic", b"offline")), policy, keys)
        made = mqseal.aio.wrap(functools.partial(aio_client, broker, will=offline), policy, keys)
        async with aio_client(broker) as watcher:
            await watcher.subscribe("#", qos=1)
            with pytest.raises(mqseal.InvalidArgumentError, match="last will"):
                async with made:
                    pass
            plain = aiomqtt.Will("public/7/status", b"offline", qos=1)  # a plaintext rule: as the policy asks
            async with mqseal.aio.wrap(aio_client(broker, will=plain), policy, keys) as fine:
                await fine.publish("public/sync", b"sync", qos=1)
            async for message in watcher.messages:  # nothing went out before the plaintext sync
                assert (message.topic.value, message.payload) == ("public/sync", b"sync")
                break

    run(scenario())
