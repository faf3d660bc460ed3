"""Consumers scaled out with an MQTT shared subscription ($share/group/...), sharing one
replay store: the group accepts each message once, whichever member it reaches.

Real parts only: a mosquitto on 127.0.0.1, paho clients wrapped by mqseal.paho, and the
stores themselves. The members share a memory store or a file store (one object in this one process), or a
redis-server, each member with a connection of its own, as members in separate processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
import pytest

import mqseal
import mqseal.paho

from conftest import TIMEOUT, Broker

CHEAP = mqseal.PassphraseParams(bytes(16), 1, 8192)  # Argon2id limits for tests only
GROUP_FILTER = "$share/workers/plant/+/telemetry"
MESSAGES = 40

QUOTA = mqseal.OpenerOptions().max_claims_per_key_name
Stores = Callable[[], mqseal.ReplayStore]


@pytest.fixture(params=["memory", "file", "redis"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Stores:
    """stores() -> each member's store: one store object the members of this process share (memory,
    file), or a connection of each member's own to one redis-server, as members in separate
    processes would have."""
    if request.param == "memory":
        shared = mqseal.memory_replay_store()
        return lambda: shared
    if request.param == "file":
        shared_file = mqseal.file_replay_store(str(tmp_path / "replay"), capacity=QUOTA)
        return lambda: shared_file
    url: str = request.getfixturevalue("redis_url")
    return lambda: mqseal.redis_replay_store(url, capacity=QUOTA)


class Member:
    """One consumer instance: a paho client (MQTT 5) wrapped by mqseal.paho, in the group."""

    def __init__(
        self,
        broker: Broker,
        keys: mqseal.Keyring,
        policy: mqseal.TopicPolicy,
        store: Optional[mqseal.ReplayStore],
        *,
        client_id: Optional[str] = None,
        manual_ack: bool = False,
        resume: bool = False,
    ) -> None:
        self.raw = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"member-{uuid.uuid4().hex[:8]}",
            protocol=MQTTProtocolVersion.MQTTv5,
            manual_ack=manual_ack,
        )
        options: Dict[str, Any] = {} if store is None else {"replay_store": store, "replay_group": "plant-consumers"}
        self.client = mqseal.paho.wrap(self.raw, policy, keys, **options)
        self.delivered: List[bytes] = []
        self._lock = threading.Lock()
        self.client.on_message = self._on_message
        connected = threading.Event()
        self.raw.on_connect = lambda *args: connected.set()
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = 60  # kept across a disconnect: unacknowledged messages come back
        self.raw.connect(broker.host, broker.port, clean_start=not resume, properties=properties)
        self.raw.loop_start()
        assert connected.wait(TIMEOUT), "no CONNACK"

    def _on_message(self, client: mqseal.paho.SealedClient, userdata: object, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.delivered.append(bytes(message.payload))  # never acknowledged with manual_ack

    def subscribe(self) -> None:
        subscribed = threading.Event()
        self.raw.on_subscribe = lambda *args: subscribed.set()
        self.raw.subscribe(GROUP_FILTER, qos=1)
        assert subscribed.wait(TIMEOUT), "no SUBACK"

    def stop(self) -> None:
        self.raw.disconnect()
        self.raw.loop_stop()


@pytest.fixture
def members(broker: Broker) -> Iterator[List[Member]]:
    """The members a test made; all stopped afterwards."""
    made: List[Member] = []
    yield made
    for member in made:
        member.stop()


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def raw_client(broker: Broker) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"raw-{uuid.uuid4().hex[:8]}")
    connected = threading.Event()
    client.on_connect = lambda *args: connected.set()
    client.connect(broker.host, broker.port)
    client.loop_start()
    assert connected.wait(TIMEOUT), "no CONNACK"
    return client


def publish_originals(
    broker: Broker, keys: mqseal.Keyring, policy: mqseal.TopicPolicy, count: int = MESSAGES
) -> List[bytes]:
    publisher = mqseal.paho.wrap(raw_client(broker), policy, keys)
    payloads = [f"reading {i}".encode() for i in range(count)]
    for i, payload in enumerate(payloads):
        publisher.publish(f"plant/{i % 3}/telemetry", payload, qos=1).wait_for_publish(TIMEOUT)
    publisher.disconnect()
    publisher.loop_stop()
    return payloads


def capture(broker: Broker) -> Tuple[mqtt.Client, List[Tuple[str, bytes]]]:
    """An eavesdropper with its own (unshared) subscription: the sealed messages as sent."""
    spy = raw_client(broker)
    captured: List[Tuple[str, bytes]] = []
    spy.on_message = lambda c, u, m: captured.append((m.topic, bytes(m.payload)))
    subscribed = threading.Event()
    spy.on_subscribe = lambda *args: subscribed.set()
    spy.subscribe("plant/+/telemetry", qos=1)
    assert subscribed.wait(TIMEOUT)
    return spy, captured


def group_of_two(
    broker: Broker, keys: mqseal.Keyring, policy: mqseal.TopicPolicy, stores: Optional[Stores],
    members: List[Member],
) -> Tuple[Member, Member]:
    a = Member(broker, keys, policy, None if stores is None else stores())
    b = Member(broker, keys, policy, None if stores is None else stores())
    members.extend([a, b])
    a.subscribe()
    b.subscribe()
    return a, b


def reinject(broker: Broker, captured: List[Tuple[str, bytes]]) -> None:
    """Publishes the captured envelopes again, raw, rotated by one: mosquitto hands a group's
    messages to its members in turn, so each copy reaches the member that did not get the original."""
    attacker = raw_client(broker)
    for topic, envelope in captured[1:] + captured[:1]:
        attacker.publish(topic, envelope, qos=1).wait_for_publish(TIMEOUT)
    attacker.disconnect()
    attacker.loop_stop()


def test_a_group_accepts_each_message_once_and_refuses_reinjected_copies(
    broker: Broker, keys_and_policy: Tuple[mqseal.Keyring, mqseal.TopicPolicy], stores: Stores,
    members: List[Member],
) -> None:
    keys, policy = keys_and_policy
    a, b = group_of_two(broker, keys, policy, stores, members)
    spy, captured = capture(broker)
    originals = publish_originals(broker, keys, policy)
    wait_until(lambda: len(a.delivered) + len(b.delivered) == MESSAGES and len(captured) == MESSAGES, "the originals")
    spy.disconnect()
    spy.loop_stop()
    # Spread over both members, each original accepted once over the group.
    assert a.delivered and b.delivered
    assert sorted(a.delivered + b.delivered) == sorted(originals)

    reinject(broker, captured)
    wait_until(lambda: a.client.stats.duplicates + b.client.stats.duplicates == MESSAGES, "the copies")
    # Each copy reached the member that had not seen the original, and was refused there.
    assert a.client.stats.duplicates > 0 and b.client.stats.duplicates > 0
    assert sorted(a.delivered + b.delivered) == sorted(originals)
    assert a.client.stats.refused + b.client.stats.refused == 0
    assert a.client.stats.delivered + b.client.stats.delivered == MESSAGES
    assert stores().remembered == MESSAGES


def test_without_a_shared_store_a_reinjected_copy_reaches_the_application(
    broker: Broker, keys_and_policy: Tuple[mqseal.Keyring, mqseal.TopicPolicy], members: List[Member]
) -> None:
    """The failure the store is for: each member's own window knows only what it saw."""
    keys, policy = keys_and_policy
    a, b = group_of_two(broker, keys, policy, None, members)
    spy, captured = capture(broker)
    publish_originals(broker, keys, policy)
    wait_until(lambda: len(a.delivered) + len(b.delivered) == MESSAGES and len(captured) == MESSAGES, "the originals")
    spy.disconnect()
    spy.loop_stop()
    reinject(broker, captured)
    def seen() -> int:
        return sum(m.client.stats.delivered + m.client.stats.duplicates + m.client.stats.refused for m in (a, b))

    wait_until(lambda: seen() == 2 * MESSAGES, f"the copies ({[m.client.stats for m in (a, b)]})")
    assert len(a.delivered) + len(b.delivered) == 2 * MESSAGES  # every copy accepted a second time


def test_a_qos1_redelivery_to_another_instance_is_a_duplicate(
    broker: Broker, keys_and_policy: Tuple[mqseal.Keyring, mqseal.TopicPolicy], stores: Stores,
    members: List[Member],
) -> None:
    """Member A opens its messages but never acknowledges them (paho manual_ack) and goes away.

    mosquitto 2.0 gives a departed member's unacknowledged messages back to whoever resumes
    its session (not to the other members): here a new consumer instance, with an Opener of
    its own, taking over A's client ID, as a restarted pod would. It gets each of them again
    (DUP) and reports them as duplicates: the group delivered each message once (A had them),
    none twice and none lost. The wrapper acknowledges those duplicates itself, so a third
    instance resuming the session gets nothing more.
    """
    keys, policy = keys_and_policy
    a_id = f"member-a-{uuid.uuid4().hex[:8]}"
    a = Member(broker, keys, policy, stores(), client_id=a_id, manual_ack=True)
    b = Member(broker, keys, policy, stores())
    members.extend([a, b])
    a.subscribe()
    b.subscribe()
    originals = publish_originals(broker, keys, policy)
    wait_until(lambda: len(a.delivered) + len(b.delivered) == MESSAGES, "the originals")
    assert a.delivered, "mosquitto gave member A nothing"
    unacknowledged = len(a.delivered)
    a.stop()

    replacement = Member(broker, keys, policy, stores(), client_id=a_id, manual_ack=True, resume=True)
    members.append(replacement)
    wait_until(lambda: replacement.client.stats.duplicates == unacknowledged, "the redeliveries")
    time.sleep(0.3)  # anything more would arrive now
    assert replacement.delivered == []
    assert replacement.client.stats.refused == 0
    assert sorted(a.delivered + b.delivered) == sorted(originals)
    replacement.stop()

    third = Member(broker, keys, policy, stores(), client_id=a_id, manual_ack=True, resume=True)
    members.append(third)
    time.sleep(1.0)  # a redelivery, had the duplicates not been acknowledged, arrives at once
    assert third.client.stats == mqseal.paho.Stats()


def test_without_a_shared_store_the_redelivery_is_delivered_twice(
    broker: Broker, keys_and_policy: Tuple[mqseal.Keyring, mqseal.TopicPolicy], members: List[Member]
) -> None:
    keys, policy = keys_and_policy
    a_id = f"member-a-{uuid.uuid4().hex[:8]}"
    a = Member(broker, keys, policy, None, client_id=a_id, manual_ack=True)
    members.append(a)
    a.subscribe()
    count = 10  # below mosquitto's 20 unacknowledged messages in flight per client
    publish_originals(broker, keys, policy, count)
    wait_until(lambda: len(a.delivered) == count, "the originals")
    a.stop()
    replacement = Member(broker, keys, policy, None, client_id=a_id, manual_ack=True, resume=True)
    members.append(replacement)
    wait_until(lambda: len(replacement.delivered) == count, "the redeliveries, delivered again")


def test_store_bindings(tmp_path: Path, keys_and_policy: Tuple[mqseal.Keyring, mqseal.TopicPolicy]) -> None:
    keys, policy = keys_and_policy
    memory = mqseal.memory_replay_store()
    assert memory.capacity >= 2**63 and memory.remembered == 0
    with pytest.raises(TypeError):
        mqseal.ReplayStore()
    # Sized for the policy's key names x quota, or refused.
    small = mqseal.file_replay_store(str(tmp_path / "small"), capacity=10)
    assert small.capacity == 10
    with pytest.raises(mqseal.InvalidArgumentError, match="need 1048576"):
        mqseal.Opener(policy, keys, replay_store=small, replay_group="g")
    a = mqseal.Opener(policy, keys, replay_store=small, max_claims_per_key_name=10, replay_group="g")
    b = mqseal.Opener(policy, keys, mqseal.OpenerOptions(replay_store=small, max_claims_per_key_name=10, replay_group="g"))
    assert a.shares_replay_state and not mqseal.Opener(policy, keys).shares_replay_state
    envelope = mqseal.Sealer(policy, keys).seal("plant/1/telemetry", b"x")
    assert a.open("plant/1/telemetry", envelope).payload == b"x"
    with pytest.raises(mqseal.DuplicateError):
        b.open("plant/1/telemetry", envelope)
    assert small.remembered == 1
    # A file held by one store is refused to a second (a lock), with the error family.
    with pytest.raises(mqseal.FileError):
        mqseal.file_replay_store(str(tmp_path / "small"), capacity=10)
    with pytest.raises(mqseal.InvalidArgumentError):
        mqseal.file_replay_store(str(tmp_path / "zero"), capacity=0)
    with pytest.raises(TypeError):
        mqseal.Opener(policy, keys, replay_store="memory")  # type: ignore[arg-type]


def test_store_errors_refuse_the_message(keys_and_policy: Tuple[mqseal.Keyring, mqseal.TopicPolicy]) -> None:
    """A full quota: refused with capacity_exceeded (not a duplicate); nothing claimed."""
    keys, policy = keys_and_policy
    store = mqseal.memory_replay_store()
    a = mqseal.Opener(policy, keys, replay_store=store, max_claims_per_key_name=1, replay_group="g")
    b = mqseal.Opener(policy, keys, replay_store=store, max_claims_per_key_name=1, replay_group="g")
    sealer = mqseal.Sealer(policy, keys)
    a.open("plant/1/telemetry", sealer.seal("plant/1/telemetry", b"1"))
    second = sealer.seal("plant/1/telemetry", b"2")
    for opener in (a, b):
        with pytest.raises(mqseal.Error) as refused:
            opener.open("plant/1/telemetry", second)
        assert refused.value.code == "capacity_exceeded"
        assert not isinstance(refused.value, mqseal.DuplicateError)


def test_redis_store_binding(keys_and_policy: Tuple[mqseal.Keyring, mqseal.TopicPolicy], redis_url: str) -> None:
    """The binding's arguments reach the store; an unreachable server or a bad URL raise the mqseal.Error family.

    (Redis stopping under running Openers: opener_test's SharedReplay.ARedisThatStopsRefusesUntilItIsBack.)
    """
    keys, policy = keys_and_policy
    store = mqseal.redis_replay_store(redis_url, capacity=QUOTA, retry_interval_ms=0)
    opener = mqseal.Opener(policy, keys, replay_store=store, replay_group="g")
    sealer = mqseal.Sealer(policy, keys)
    assert opener.open("plant/1/telemetry", sealer.seal("plant/1/telemetry", b"1")).payload == b"1"
    with pytest.raises(mqseal.FileError) as refused:  # io_error
        mqseal.redis_replay_store("redis://127.0.0.1:1/0", capacity=QUOTA, connect_timeout_ms=100)
    assert refused.value.code == "io_error"
    with pytest.raises(mqseal.InvalidArgumentError):
        mqseal.redis_replay_store("rediss://127.0.0.1:6379/0", capacity=QUOTA)
    mqseal.redis_replay_store(redis_url, capacity=QUOTA, max_clock_difference_s=3600)
    with pytest.raises(mqseal.InvalidArgumentError, match="clock difference"):
        mqseal.redis_replay_store(redis_url, capacity=QUOTA, max_clock_difference_s=3601)


def _redis_server_pid(url: str) -> int:
    """The pid of the redis-server of `url` (the redis_url fixture's: it renames itself
    "redis-server 127.0.0.1:PORT", or keeps its --port argument)."""
    port = url.rsplit(":", 1)[1].split("/")[0].encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"redis-server" in argv[0] and (argv[0].endswith(b":" + port) or argv[1:3] == [b"--port", port]):
                return int(entry.name)
    raise AssertionError(f"no redis-server on port {port!r}")


def test_asking_redis_what_it_remembers_lets_other_threads_run(redis_url: str) -> None:
    """ReplayStore.remembered and TokenVerifier.remembered_tokens ask Redis over the network, which may
    take up to the store's timeouts: other Python threads run meanwhile (they held the GIL: every thread
    stood still for the whole round trip)."""
    device = mqseal.provision("device-1", b"correct horse", CHEAP)
    credentials = mqseal.Credentials()
    credentials.add(device.record)
    store = mqseal.redis_replay_store(redis_url, capacity=QUOTA, command_timeout_ms=5000)
    verifier = mqseal.TokenVerifier(credentials, replay_store=store)
    verifier.verify("device-1", "client-1", mqseal.make_connect_token(device.device_secret, "device-1", "client-1"))
    server = _redis_server_pid(redis_url)
    stalled = 1.0  # seconds the server is stopped for, during each call

    def longest_pause(ask: Callable[[], int]) -> Tuple[float, int]:
        beats: List[float] = []
        done = threading.Event()

        def beat() -> None:  # a thread that needs the GIL for every step
            while not done.is_set():
                beats.append(time.monotonic())
                time.sleep(0.005)

        ticker = threading.Thread(target=beat)
        ticker.start()
        time.sleep(0.05)
        os.kill(server, signal.SIGSTOP)
        # Resumed by another process: a thread of this one might not get the GIL to do it.
        resume = subprocess.Popen(["sh", "-c", f"sleep {stalled}; kill -CONT {server}"])
        try:
            started = time.monotonic()
            answer = ask()  # waits for the server: about `stalled` seconds
            took = time.monotonic() - started
        finally:
            resume.wait(timeout=TIMEOUT)
            os.kill(server, signal.SIGCONT)
            done.set()
            ticker.join()
        assert took >= stalled * 0.8, f"the call did not wait for the stopped server ({took:.3f} s)"
        during = [b for b in beats if started <= b <= started + took]
        gaps = [later - earlier for earlier, later in zip(during, during[1:])]
        return max(gaps, default=took), answer

    pause, remembered = longest_pause(lambda: store.remembered)
    assert remembered == 1
    assert pause < stalled / 2, f"other threads stood still for {pause:.3f} s during ReplayStore.remembered"
    pause, remembered = longest_pause(lambda: verifier.remembered_tokens)
    assert remembered == 1
    assert pause < stalled / 2, f"other threads stood still for {pause:.3f} s during TokenVerifier.remembered_tokens"


def test_verifiers_sharing_a_store_accept_a_token_once(tmp_path: Path) -> None:
    """Two verifiers (two HTTP auth services, say) given one store: a token is accepted by one only."""
    device = mqseal.provision("device-1", bytearray(b"correct horse"), CHEAP)
    credentials = mqseal.Credentials()
    credentials.add(device.record)
    store = mqseal.memory_replay_store()
    first = mqseal.TokenVerifier(credentials, replay_store=store)
    second = mqseal.TokenVerifier(credentials, mqseal.VerifierOptions(replay_store=store))
    token = mqseal.make_connect_token(device.device_secret, "device-1", "client-1")
    first.verify("device-1", "client-1", token)
    with pytest.raises(mqseal.ReplayError):
        second.verify("device-1", "client-1", token)
    assert store.remembered == 1
    # Without a shared store each verifier remembers only its own.
    alone = mqseal.TokenVerifier(credentials)
    alone.verify("device-1", "client-1", token)


def test_groups_sharing_a_store_each_accept_a_message_once(
    keys_and_policy: Tuple[mqseal.Keyring, mqseal.TopicPolicy], redis_url: str
) -> None:
    """Two consumer groups (two applications) on one store, Redis or memory: each group accepts
    every message once, whichever of its members gets it; a store without a group is refused."""
    keys, policy = keys_and_policy
    sealer = mqseal.Sealer(policy, keys)
    memory = mqseal.memory_replay_store()
    def redis_store() -> mqseal.ReplayStore:
        return mqseal.redis_replay_store(redis_url, capacity=QUOTA)

    def memory_store() -> mqseal.ReplayStore:
        return memory

    for store_of in (redis_store, memory_store):
        members = {  # each member its own store object (a Redis connection of its own)
            group: [mqseal.Opener(policy, keys, replay_store=store_of(), replay_group=group) for _ in range(2)]
            for group in ("billing", "dashboard")
        }
        for n in range(5):
            envelope = sealer.seal("plant/1/telemetry", b"%d" % n)
            for group, (first, second) in members.items():
                assert first.open("plant/1/telemetry", envelope).payload == b"%d" % n, group
                with pytest.raises(mqseal.DuplicateError):
                    second.open("plant/1/telemetry", envelope)
    for bad in ("", "a b", "a:b", "x" * 49):
        with pytest.raises(mqseal.InvalidArgumentError, match="replay_group"):
            mqseal.Opener(policy, keys, replay_store=mqseal.memory_replay_store(), replay_group=bad)
