"""mqseal.paho against a real mosquitto, for both paho callback API versions."""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import threading
import uuid
import warnings
from typing import Any, Callable, List, Tuple

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

import mqseal
import mqseal.paho

TIMEOUT = 10.0
TOPIC = "plant/7/telemetry"
READING = b"temperature=21.5 C"

Connect = Callable[..., mqtt.Client]
KeysAndPolicy = Tuple[mqseal.Keyring, mqseal.TopicPolicy]


class Inbox:
    """Records the arguments of every call, from any thread; wait() for them with a bound."""

    def __init__(self) -> None:
        self.calls: List[Tuple[Any, ...]] = []
        self._changed = threading.Condition()

    def __call__(self, *args: Any) -> None:
        with self._changed:
            self.calls.append(args)
            self._changed.notify_all()

    def wait(self, count: int) -> List[Tuple[Any, ...]]:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.calls) >= count, TIMEOUT), (
                f"{len(self.calls)} of {count} calls arrived"
            )
            return list(self.calls)

    @property
    def messages(self) -> List[mqtt.MQTTMessage]:
        with self._changed:
            return [call[2] for call in self.calls]


def subscribe(client: Any, topic: str, qos: int = 1) -> None:
    """Subscribes and waits for the SUBACK (works on a raw or a sealed client)."""
    done = threading.Event()
    client.on_subscribe = lambda *args: done.set()
    client.subscribe(topic, qos)
    assert done.wait(TIMEOUT), "no SUBACK"


def listening(
    client: mqtt.Client, policy: mqseal.TopicPolicy, keys: mqseal.Keyring, topic: str
) -> Tuple[mqseal.paho.SealedClient, Inbox, Inbox]:
    """`client` wrapped, its opened messages and its refusals recorded, subscribed to `topic`."""
    sealed_client = mqseal.paho.wrap(client, policy, keys)
    inbox, refused = Inbox(), Inbox()
    sealed_client.on_message = inbox
    sealed_client.on_refused = refused
    subscribe(sealed_client, topic)
    return sealed_client, inbox, refused


def sealed(connect: Connect, keys_and_policy: KeysAndPolicy, **options: Any) -> mqseal.paho.SealedClient:
    keys, policy = keys_and_policy
    protocol = options.pop("protocol", mqtt.MQTTv311)
    return mqseal.paho.wrap(connect(protocol), policy, keys, **options)


def publish(client: Any, topic: str, payload: Any, qos: int = 1, **kwargs: Any) -> None:
    info = client.publish(topic, payload, qos=qos, **kwargs)
    info.wait_for_publish(TIMEOUT)
    assert info.is_published()


def test_sealed_publish_is_opened_with_topic_qos_retain(connect: Connect, keys_and_policy: KeysAndPolicy) -> None:
    publisher = sealed(connect, keys_and_policy)
    subscriber = sealed(connect, keys_and_policy)
    inbox = Inbox()
    subscriber.on_message = inbox
    publish(publisher, "plant/1/telemetry", "retained reading", retain=True)  # str: UTF-8

    subscribe(subscriber, "plant/+/telemetry", qos=1)
    publish(publisher, TOPIC, READING, qos=1)

    calls = inbox.wait(2)
    assert [call[0] for call in calls] == [subscriber, subscriber]
    retained, live = inbox.messages
    assert (retained.topic, retained.payload, retained.qos, retained.retain) == (
        "plant/1/telemetry", b"retained reading", 1, True)
    assert (live.topic, live.payload, live.qos, live.retain) == (TOPIC, READING, 1, False)
    assert subscriber.stats == mqseal.paho.Stats(delivered=2, duplicates=0, refused=0)


def test_opener_options_reach_the_opener(connect: Connect, keys_and_policy: KeysAndPolicy) -> None:
    publisher = sealed(connect, keys_and_policy)
    publish(publisher, TOPIC, READING, retain=True)
    subscriber = sealed(connect, keys_and_policy, retained="refuse")
    refused = Inbox()
    subscriber.on_refused = refused
    subscribe(subscriber, TOPIC)
    (_, _, message, error), = refused.wait(1)
    assert message.retain and error.code == "retained_refused"


def test_mqtt5_user_properties_survive(connect: Connect, keys_and_policy: KeysAndPolicy) -> None:
    publisher = sealed(connect, keys_and_policy, protocol=mqtt.MQTTv5)
    subscriber = sealed(connect, keys_and_policy, protocol=mqtt.MQTTv5)
    inbox = Inbox()
    subscriber.on_message = inbox
    subscribe(subscriber, TOPIC)
    properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    properties.UserProperty = [("site", "plant-7"), ("unit", "C")]
    publish(publisher, TOPIC, READING, properties=properties)

    (message,) = [call[2] for call in inbox.wait(1)]
    assert message.payload == READING
    assert message.properties is not None
    assert message.properties.UserProperty == [("site", "plant-7"), ("unit", "C")]


def test_eavesdropper_without_keys_sees_only_ciphertext(connect: Connect, keys_and_policy: KeysAndPolicy) -> None:
    publisher = sealed(connect, keys_and_policy)
    eavesdropper = connect()
    seen = Inbox()
    eavesdropper.on_message = seen
    subscribe(eavesdropper, "plant/#")
    publish(publisher, TOPIC, READING)

    (envelope,) = [call[2].payload for call in seen.wait(1)]
    assert b"temperature" not in envelope
    assert len(envelope) == len(READING) + mqseal.ENVELOPE_OVERHEAD
    assert mqseal.parse_header(envelope).key_id == keys_and_policy[0].primary("telemetry")


@pytest.mark.skipif(shutil.which("mosquitto_sub") is None, reason="mosquitto_sub is not installed")
def test_mosquitto_sub_sees_only_ciphertext(connect: Connect, keys_and_policy: KeysAndPolicy, broker: Any) -> None:
    publisher = sealed(connect, keys_and_policy)
    publish(publisher, TOPIC, READING, retain=True)  # retained: no race with mosquitto_sub's SUBSCRIBE
    out = subprocess.run(
        ["mosquitto_sub", "-h", broker.host, "-p", str(broker.port), "-t", "plant/#", "-C", "1", "-W", "10",
         "-F", "%x"],
        capture_output=True, text=True, timeout=15, check=True,
    ).stdout.strip()
    assert len(out) == 2 * (len(READING) + mqseal.ENVELOPE_OVERHEAD)
    assert READING.hex() not in out and b"temperature".hex() not in out


def test_plaintext_injection_is_refused_never_delivered(connect: Connect, keys_and_policy: KeysAndPolicy) -> None:
    subscriber = sealed(connect, keys_and_policy)
    inbox, refused = Inbox(), Inbox()
    subscriber.on_message = inbox
    subscriber.on_refused = refused
    subscribe(subscriber, "#")
    attacker = connect()
    publish(attacker, TOPIC, b"temperature=99.9 C")
    publish(attacker, "other/topic", b"no rule for this")
    publish(sealed(connect, keys_and_policy), TOPIC, READING)  # in order after the two: a sync point

    assert [m.payload for m in [call[2] for call in inbox.wait(1)]] == [READING]
    calls = refused.wait(2)
    assert [(c[2].topic, c[2].payload, c[3].code) for c in calls] == [
        (TOPIC, b"temperature=99.9 C", "malformed"), ("other/topic", b"no rule for this", "no_rule")]
    assert isinstance(calls[0][3], mqseal.FormatError) and isinstance(calls[1][3], mqseal.NoRuleError)
    assert calls[0][0] is subscriber
    assert len(inbox.calls) == 1
    assert subscriber.stats == mqseal.paho.Stats(delivered=1, duplicates=0, refused=2)


def test_same_envelope_twice_is_delivered_once(connect: Connect, keys_and_policy: KeysAndPolicy) -> None:
    keys, policy = keys_and_policy
    subscriber = sealed(connect, keys_and_policy)
    inbox, refused = Inbox(), Inbox()
    subscriber.on_message = inbox
    subscriber.on_refused = refused
    subscribe(subscriber, TOPIC)
    sealer = mqseal.Sealer(policy, keys)
    envelope = sealer.seal(TOPIC, READING)
    raw = connect()
    publish(raw, TOPIC, envelope)
    publish(raw, TOPIC, envelope)  # a QoS 1 redelivery, as the application sees it
    publish(raw, TOPIC, sealer.seal(TOPIC, b"next"))

    assert [m.payload for m in [call[2] for call in inbox.wait(2)]] == [READING, b"next"]
    assert subscriber.stats == mqseal.paho.Stats(delivered=2, duplicates=1, refused=0)
    assert refused.calls == []


def test_message_callbacks_get_each_message_opened_once(connect: Connect, keys_and_policy: KeysAndPolicy) -> None:
    subscriber = sealed(connect, keys_and_policy)
    telemetry, everything, default = Inbox(), Inbox(), Inbox()
    subscriber.message_callback_add("plant/+/telemetry", telemetry)
    subscriber.message_callback_add("plant/#", everything)
    subscriber.on_message = default
    subscribe(subscriber, "#")
    publisher = sealed(connect, keys_and_policy)
    publish(publisher, TOPIC, READING)
    publish(publisher, "public/news", b"only on_message")  # no filter matches: on_message, after the first

    assert [m.payload for m in [c[2] for c in default.wait(1)]] == [b"only on_message"]
    assert [(c[0], c[2].topic, c[2].payload) for c in telemetry.wait(1)] == [(subscriber, TOPIC, READING)]
    assert [c[2].payload for c in everything.wait(1)] == [READING]
    assert subscriber.stats == mqseal.paho.Stats(delivered=2, duplicates=0, refused=0)  # a second open: duplicate

    subscriber.message_callback_remove("plant/+/telemetry")
    publish(publisher, TOPIC, b"second")
    assert [c[2].payload for c in everything.wait(2)] == [READING, b"second"]
    assert len(telemetry.calls) == 1 and len(default.calls) == 1


def test_message_callbacks_added_before_wrap_are_adopted(connect: Connect, keys_and_policy: KeysAndPolicy) -> None:
    """wrap() adopted an on_message already set, but not message callbacks already added on the raw
    client: paho gave messages matching them to them alone, never to the wrapper, so they got
    ciphertext, and a forgery on their topics unchecked. They are adopted too now."""
    keys, policy = keys_and_policy
    raw = connect()
    commands, telemetry, default = Inbox(), Inbox(), Inbox()
    raw.message_callback_add("plant/+/telemetry", telemetry)
    raw.message_callback_add("plant/7/#", commands)
    raw.message_callback_add("removed/#", default)
    raw.message_callback_remove("removed/#")
    subscriber = mqseal.paho.wrap(raw, policy, keys)
    refused = Inbox()
    subscriber.on_message = default
    subscriber.on_refused = refused
    subscribe(subscriber, "#")
    publish(connect(), TOPIC, b"temperature=99.9 C")  # a forgery, in plaintext
    publish(sealed(connect, keys_and_policy), TOPIC, READING)

    assert [(c[0], c[2].payload) for c in telemetry.wait(1)] == [(subscriber, READING)]
    assert [c[2].payload for c in commands.wait(1)] == [READING]
    assert [(c[2].payload, c[3].code) for c in refused.wait(1)] == [(b"temperature=99.9 C", "malformed")]
    assert len(telemetry.calls) == 1 and len(commands.calls) == 1 and default.calls == []
    assert subscriber.stats == mqseal.paho.Stats(delivered=1, duplicates=0, refused=1)


def test_plaintext_policy_topic_passes_through(connect: Connect, keys_and_policy: KeysAndPolicy) -> None:
    subscriber = sealed(connect, keys_and_policy)
    inbox = Inbox()
    subscriber.on_message = inbox
    subscribe(subscriber, "public/#")
    plain = Inbox()
    raw = connect()
    raw.on_message = plain
    subscribe(raw, "public/#")
    publish(sealed(connect, keys_and_policy), "public/news", "hello")

    assert inbox.wait(1)[0][2].payload == b"hello"
    assert plain.wait(1)[0][2].payload == b"hello"


def test_publish_without_rule_raises_and_sends_nothing(connect: Connect, keys_and_policy: KeysAndPolicy) -> None:
    publisher = sealed(connect, keys_and_policy)
    raw = connect()
    seen = Inbox()
    raw.on_message = seen
    subscribe(raw, "#")
    with pytest.raises(mqseal.NoRuleError) as refused:
        publisher.publish("other/topic", READING, qos=1)
    assert refused.value.code == "no_rule"
    publish(publisher, "public/sync", b"sync")
    assert [c[2].topic for c in seen.wait(1)] == ["public/sync"]


def test_set_keyring_rotation_keeps_messages_flowing(connect: Connect, keys_and_policy: KeysAndPolicy) -> None:
    keys, policy = keys_and_policy
    old_id = keys.primary("telemetry")
    publisher = sealed(connect, keys_and_policy)
    subscriber = sealed(connect, keys_and_policy)
    inbox = Inbox()
    subscriber.on_message = inbox
    subscribe(subscriber, TOPIC)
    eavesdropper = connect()
    seen = Inbox()
    eavesdropper.on_message = seen
    subscribe(eavesdropper, TOPIC)

    rotated = keys.clone()
    new_id = rotated.generate("telemetry")
    rotated.promote(new_id)
    publish(publisher, TOPIC, b"before")
    subscriber.set_keyring(rotated)  # receivers first: the old key still opens
    publish(publisher, TOPIC, b"during")
    publisher.set_keyring(rotated)
    publish(publisher, TOPIC, b"after")

    assert [c[2].payload for c in inbox.wait(3)] == [b"before", b"during", b"after"]
    assert [mqseal.parse_header(c[2].payload).key_id for c in seen.wait(3)] == [old_id, old_id, new_id]
    assert subscriber.stats.refused == 0


def test_default_on_refused_logs_without_payload_bytes(
    connect: Connect, keys_and_policy: KeysAndPolicy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="mqseal.paho")
    subscriber = sealed(connect, keys_and_policy)
    inbox = Inbox()
    subscriber.on_message = inbox
    subscribe(subscriber, TOPIC)
    injected = b"temperature=99.9 C secret"
    publish(connect(), TOPIC, injected)
    publish(sealed(connect, keys_and_policy), TOPIC, READING)

    assert [c[2].payload for c in inbox.wait(1)] == [READING]
    (record,) = [r for r in caplog.records if r.name == "mqseal.paho"]
    text = record.getMessage()
    assert record.levelno == logging.WARNING
    assert TOPIC in text and str(len(injected)) in text and "malformed" in text
    assert "secret" not in text and "temperature" not in text and injected.hex() not in text
    assert subscriber.stats.refused == 1


def test_raising_on_refused_does_not_break_the_loop(
    connect: Connect, keys_and_policy: KeysAndPolicy, caplog: pytest.LogCaptureFixture
) -> None:
    subscriber = sealed(connect, keys_and_policy)
    inbox = Inbox()
    subscriber.on_message = inbox

    def on_refused(*args: Any) -> None:
        raise RuntimeError("application bug")

    subscriber.on_refused = on_refused
    subscribe(subscriber, TOPIC)
    raw = connect()
    publish(raw, TOPIC, b"not an envelope")
    publish(sealed(connect, keys_and_policy), TOPIC, READING)

    assert [c[2].payload for c in inbox.wait(1)] == [READING]  # the loop thread lived on
    assert subscriber.client.is_connected()
    errors = [r for r in caplog.records if r.name == "mqseal.paho" and r.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None
    assert isinstance(errors[0].exc_info[1], RuntimeError)


def test_retain_intent_through_a_real_broker(connect: Connect) -> None:
    """MQTT 5 "retain as published" keeps working, and a live message re-published with the
    retain flag (by anyone allowed to publish retained messages) is judged as live."""
    from paho.mqtt.subscribeoptions import SubscribeOptions

    keys = mqseal.Keyring()
    keys.generate("telemetry")
    keys.generate("commands")
    policy = mqseal.TopicPolicy()
    policy.add_rule("plant/+/telemetry", "telemetry")
    policy.add_rule("plant/+/cmd/#", "commands")
    keys_and_policy = (keys, policy)

    publisher = sealed(connect, keys_and_policy)
    early = sealed(connect, keys_and_policy, protocol=mqtt.MQTTv5)
    early_inbox = Inbox()
    early.on_message = early_inbox
    done = threading.Event()
    early.on_subscribe = lambda *args: done.set()
    early.subscribe(TOPIC, options=SubscribeOptions(qos=1, retainAsPublished=True))
    assert done.wait(TIMEOUT), "no SUBACK"

    publish(publisher, TOPIC, READING, retain=True)
    (live_copy,) = [call[2] for call in early_inbox.wait(1)]
    assert live_copy.retain and live_copy.payload == READING  # retain as published, opened

    # An attacker captured a live command and publishes it again, retained.
    capture = Inbox()
    eavesdropper = connect()
    eavesdropper.on_message = capture
    subscribe(eavesdropper, "plant/7/cmd/#")
    publish(publisher, "plant/7/cmd/valve", b"open")
    (command,) = [call[2] for call in capture.wait(1)]
    publish(eavesdropper, "plant/7/cmd/valve", command.payload, retain=True)

    # Receivers that judge "older than 1 s" as stale, subscribing 1.5 s later.
    threading.Event().wait(1.5)
    late = sealed(connect, keys_and_policy, max_age_ms=1000)
    inbox, refused = Inbox(), Inbox()
    late.on_message, late.on_refused = inbox, refused
    subscribe(late, TOPIC)
    subscribe(late, "plant/7/cmd/#")
    (kept,) = [call[2] for call in inbox.wait(1)]
    assert kept.retain and kept.payload == READING  # sealed to be retained: still opens
    (_, _, replayed, error), = refused.wait(1)
    assert replayed.topic == "plant/7/cmd/valve" and replayed.retain and error.code == "expired"
    assert late.stats.delivered == 1 and late.stats.refused == 1


def test_refused_messages_do_not_stall_a_manual_ack_client(broker_with_config: Any, api: Any) -> None:
    """Under manual_ack=True the application acknowledges what its handlers get; refused messages
    never reach them. Left unacknowledged, forgeries fill the broker's window of messages in
    flight to the client (mosquitto's max_inflight_messages), and the broker then sends it no
    further QoS 1 message: a publisher without keys stalled every valid message to come. The
    default on_refused acknowledges what it refuses."""
    broker = broker_with_config(["max_inflight_messages 5"])
    keys = mqseal.Keyring()
    keys.generate("telemetry")
    policy = mqseal.TopicPolicy()
    policy.add_rule("plant/+/telemetry", "telemetry")
    clients: List[mqtt.Client] = []

    def client(manual_ack: bool = False) -> mqtt.Client:
        made = mqtt.Client(api, client_id=f"mqseal-test-{len(clients)}", manual_ack=manual_ack)
        connected = threading.Event()
        made.on_connect = lambda *args: connected.set()
        made.connect(broker.host, broker.port)
        made.loop_start()
        clients.append(made)
        assert connected.wait(TIMEOUT), "no CONNACK"
        return made

    try:
        subscriber = mqseal.paho.wrap(client(manual_ack=True), policy, keys)
        inbox = Inbox()

        def on_message(sealed: mqseal.paho.SealedClient, userdata: Any, message: mqtt.MQTTMessage) -> None:
            sealed.ack(message.mid, message.qos)  # the application acknowledges what it gets
            inbox(sealed, userdata, message)

        subscriber.on_message = on_message
        subscribe(subscriber, TOPIC)
        attacker = client()
        for i in range(10):  # twice the window
            publish(attacker, TOPIC, b"forged %d" % i)
        publish(mqseal.paho.wrap(client(), policy, keys), TOPIC, READING)

        assert [m.payload for m in [call[2] for call in inbox.wait(1)]] == [READING]
        assert subscriber.stats == mqseal.paho.Stats(delivered=1, duplicates=0, refused=10)
    finally:
        for made in clients:
            made.disconnect()
            made.loop_stop()


FORGED_LINE = "\nWARNING:mqseal.paho:refused nothing, all is well\x1b[2K\x85NEL\u2028LS\x9b2K"


@pytest.mark.parametrize("handler", ["log_refused", "a raising on_refused"])
def test_a_refused_topics_control_characters_never_reach_the_log(
    handler: str, keys_and_policy: KeysAndPolicy, caplog: pytest.LogCaptureFixture
) -> None:
    """The default on_refused logged the topic as it came: whoever published it chose it, and a
    newline (or a terminal's escape sequence) in it wrote a log line of the publisher's own. Shown
    as \\xNN now, as the C++ command line tool shows it (mosquitto refuses such topics itself;
    other brokers may not, so the message is made here, as paho would hand it over)."""
    caplog.set_level(logging.WARNING, logger="mqseal.paho")
    keys, policy = keys_and_policy
    subscriber = mqseal.paho.wrap(mqtt.Client(CallbackAPIVersion.VERSION2), policy, keys)
    if handler != "log_refused":

        def raising(*args: Any) -> None:
            raise RuntimeError("application bug")

        subscriber.on_refused = raising
    message = mqtt.MQTTMessage(1, (TOPIC + FORGED_LINE).encode())
    message.payload = b"forged"
    dispatch = subscriber.client.on_message
    assert dispatch is not None
    dispatch(subscriber.client, None, message)  # as paho's network loop calls it

    (record,) = [r for r in caplog.records if r.name == "mqseal.paho"]
    text = record.getMessage()
    assert "\n" not in text and "\x1b" not in text and len(text.splitlines()) == 1
    assert TOPIC + "\\x0aWARNING:mqseal.paho:refused nothing, all is well\\x1b[2K\\x85NEL\\u2028LS\\x9b2K" in text
    assert subscriber.stats.refused == 1


def test_a_last_will_never_goes_out_in_plaintext_on_a_sealed_topic(
    broker: Any, api: Any, connect: Connect, keys_and_policy: KeysAndPolicy
) -> None:
    """The broker publishes a last will when the connection dies, at a time nobody knows: it
    cannot be sealed fresh, so will_set takes plaintext-rule topics only, and wrap() refuses a
    Client whose will was set before (both went to the broker in the clear before)."""
    keys, policy = keys_and_policy
    eavesdropper = connect()
    seen = Inbox()
    eavesdropper.on_message = seen
    subscribe(eavesdropper, "#")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        early = mqtt.Client(api, client_id=f"mqseal-test-{uuid.uuid4().hex[:12]}")
    early.will_set(TOPIC, b"offline")
    with pytest.raises(mqseal.InvalidArgumentError, match="last will"):
        mqseal.paho.wrap(early, policy, keys)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        raw = mqtt.Client(api, client_id=f"mqseal-test-{uuid.uuid4().hex[:12]}")
    dying = mqseal.paho.wrap(raw, policy, keys)
    with pytest.raises(mqseal.InvalidArgumentError, match="last will"):
        dying.will_set(TOPIC, b"offline", qos=1)
    with pytest.raises(mqseal.NoRuleError):
        dying.will_set("other/topic", b"offline", qos=1)
    dying.will_set("public/7/status", b"offline", qos=1)  # a plaintext rule: as the policy asks
    connected = threading.Event()
    dying.on_connect = lambda *args: connected.set()
    dying.connect(broker.host, broker.port)
    dying.loop_start()
    assert connected.wait(TIMEOUT), "no CONNACK"
    dying.loop_stop()
    connection = raw.socket()
    assert isinstance(connection, socket.socket)
    connection.shutdown(socket.SHUT_RDWR)  # dies without DISCONNECT: the broker sends the will

    (will,) = seen.wait(1)
    assert (will[2].topic, will[2].payload) == ("public/7/status", b"offline")
    connection.close()


def test_wrap_takes_a_paho_client_only(api: Any, keys_and_policy: KeysAndPolicy) -> None:
    """A SealedClient wrapped again sealed every payload twice (receivers got an envelope as the
    payload) and opened every message twice (all refused); anything else failed on a private name."""
    keys, policy = keys_and_policy
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        once = mqseal.paho.wrap(mqtt.Client(api), policy, keys)
    for wrong in (once, "broker", None):
        with pytest.raises(TypeError, match="expected a paho.mqtt.client.Client, not " + type(wrong).__name__):
            mqseal.paho.wrap(wrong, policy, keys)  # type: ignore[arg-type]
