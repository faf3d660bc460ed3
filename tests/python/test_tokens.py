"""CONNECT tokens against a real mosquitto with the mqseal plugin (mqseal_auth.so).

The plugin's path comes from the environment variable MQSEAL_PLUGIN (CI sets it);
without it these tests are skipped. Clients use the paho callback API VERSION2.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Iterator, List, Optional

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

import mqseal
import mqseal.paho
from conftest import TIMEOUT, Broker, BrokerWithConfig

USERNAME = "device-7"
PASSWORD = "correct horse battery staple"
CHEAP = mqseal.PassphraseParams(bytes(16), 1, 8192)  # Argon2id limits for tests only
OTHER_USER = "legacy"  # in mosquitto's password_file only
OTHER_PASSWORD = "legacy password"


@dataclasses.dataclass(frozen=True)
class TokenBroker:
    broker: Broker
    device_secret: mqseal.Key

    @property
    def device_keys(self) -> mqseal.Keyring:
        """A keyring with the device secret under "connect", as provisioning tools keep it."""
        keys = mqseal.Keyring()
        keys.add("connect", self.device_secret)
        return keys


@pytest.fixture
def token_broker(tmp_path: Path, broker_with_config: BrokerWithConfig) -> TokenBroker:
    """A mosquitto that logs USERNAME in with CONNECT tokens only, and that device's secret."""
    plugin = os.environ.get("MQSEAL_PLUGIN")
    if not plugin:
        pytest.skip("MQSEAL_PLUGIN (the path of mqseal_auth.so) is not set")
    if not Path(plugin).is_file():
        pytest.fail(f"MQSEAL_PLUGIN={plugin} is not a file")
    device = mqseal.provision(USERNAME, PASSWORD, CHEAP)
    credentials = mqseal.Credentials()
    credentials.add(device.record)
    path = tmp_path / "broker.credentials"
    credentials.save(str(path))  # mode 0600: readable because the broker stays root (user root)
    # A password_file user the plugin does not manage: the plugin must defer
    # them to mosquitto, which lets them in with their password.
    passwords = tmp_path / "passwords"
    made = subprocess.run(
        ["mosquitto_passwd", "-b", "-c", str(passwords), OTHER_USER, OTHER_PASSWORD],
        capture_output=True, text=True, timeout=TIMEOUT,
    )
    assert made.returncode == 0, made.stderr
    broker = broker_with_config(
        [
            "user root",  # as root, mosquitto would otherwise become "mosquitto", who cannot read tmp_path
            "allow_anonymous false",
            f"plugin {plugin}",
            f"plugin_opt_credentials_file {path}",
            f"password_file {passwords}",
        ]
    )
    return TokenBroker(broker, device.device_secret)


class Connacks:
    """Records the reason code and the password of every CONNACK a client gets, from any thread."""

    def __init__(self) -> None:
        self.reason_codes: List[ReasonCode] = []
        self.passwords: List[Optional[str]] = []
        self._changed = threading.Condition()

    def __call__(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: ReasonCode, props: Any) -> None:
        with self._changed:
            self.reason_codes.append(reason_code)
            self.passwords.append(client.password)  # what the CONNECT just answered carried
            self._changed.notify_all()

    def wait(self, count: int) -> List[ReasonCode]:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.reason_codes) >= count, TIMEOUT), (
                f"{len(self.reason_codes)} of {count} CONNACKs arrived"
            )
            return list(self.reason_codes)


def new_id(owner: str = USERNAME) -> str:
    """A fresh client ID that `owner` owns (the plugin refuses a device any other: its username, '/', more)."""
    return f"{owner}/mqseal-token-{uuid.uuid4().hex[:12]}"


def new_client(client_id: str = "", protocol: MQTTProtocolVersion = mqtt.MQTTv311) -> mqtt.Client:
    return mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or new_id(), protocol=protocol)


def sealed_client(
    device_secret: mqseal.Key, protocol: MQTTProtocolVersion = mqtt.MQTTv311, client_id: str = ""
) -> mqseal.paho.SealedClient:
    keys = mqseal.Keyring()
    keys.generate("telemetry")
    keys.add("connect", device_secret)
    policy = mqseal.TopicPolicy()
    policy.add_rule("plant/+/telemetry", "telemetry")
    client_id = client_id or new_id()
    client = mqseal.paho.wrap(new_client(client_id, protocol), policy, keys)
    client.use_connect_tokens(keys, "connect", USERNAME, client_id)
    return client


def attempt(client: mqtt.Client, broker: Broker) -> ReasonCode:
    """Connects once, without a network thread (so no automatic retry); the CONNACK's reason code."""
    connacks = Connacks()
    client.on_connect = connacks
    client.connect(broker.host, broker.port)
    try:
        deadline = time.monotonic() + TIMEOUT
        while not connacks.reason_codes and time.monotonic() < deadline:
            client.loop(0.05)
        return connacks.wait(1)[0]
    finally:
        client.disconnect()


def broker_log(broker: Broker, contains: str, count: int = 1) -> str:
    """mosquitto's log once it contains `contains` `count` times (it is written asynchronously)."""
    assert broker.log is not None
    deadline = time.monotonic() + TIMEOUT
    while True:
        text = broker.log.read_text(errors="replace")
        if text.count(contains) >= count or time.monotonic() > deadline:
            assert text.count(contains) >= count, f"not {count} times in mosquitto's log: {contains!r}\n{text[-2000:]}"
            return text
        time.sleep(0.02)


@pytest.fixture
def loops() -> Iterator[List[mqtt.Client]]:
    """Clients whose network loop a test started: disconnected and stopped after it."""
    clients: List[mqtt.Client] = []
    yield clients
    for client in clients:
        client.disconnect()
        client.loop_stop()


@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5], ids=["v311", "v5"])
def test_connect_and_connect_again_with_a_fresh_token(token_broker: TokenBroker, protocol: MQTTProtocolVersion) -> None:
    broker = token_broker.broker
    client = sealed_client(token_broker.device_secret, protocol)
    first = attempt(client.client, broker)
    assert first == "Success", first
    second = attempt(client.client, broker)  # connect() again: on_pre_connect makes a new token
    assert second == "Success", second
    client.client.reconnect()  # reconnect() too
    connacks = Connacks()
    client.on_connect = connacks
    deadline = time.monotonic() + TIMEOUT
    while not connacks.reason_codes and time.monotonic() < deadline:
        client.loop(0.05)
    assert connacks.wait(1)[0] == "Success"
    client.disconnect()
    # Wait until mosquitto has logged the connection before reading its log.
    assert "mqseal: refused" not in broker_log(broker, "New client connected")


def test_every_automatic_reconnect_presents_a_new_token(token_broker: TokenBroker, loops: List[mqtt.Client]) -> None:
    broker = token_broker.broker
    client_id = new_id()
    client = sealed_client(token_broker.device_secret, client_id=client_id)
    connacks = Connacks()
    client.on_connect = connacks
    client.reconnect_delay_set(min_delay=1, max_delay=1)
    client.connect(broker.host, broker.port)
    loops.append(client.client)
    client.loop_start()
    assert connacks.wait(1) == ["Success"]

    # Another connection with the same client ID takes the session over: mosquitto drops
    # the sealed client, whose network thread reconnects by itself a second later.
    intruder = new_client(client_id)
    intruder.username_pw_set(USERNAME, mqseal.make_connect_token(token_broker.device_secret, USERNAME, client_id))
    assert attempt(intruder, broker) == "Success"

    assert connacks.wait(2) == ["Success", "Success"]
    first, second = connacks.passwords[:2]
    assert first is not None and second is not None
    assert first != second and first.startswith("mqs1.") and second.startswith("mqs1.")
    text = broker_log(broker, "New client connected", count=3)  # first, intruder, reconnect
    assert "mqseal: refused" not in text
    assert first not in text and second not in text  # mosquitto never logs passwords


def test_a_replayed_token_is_refused(token_broker: TokenBroker) -> None:
    broker = token_broker.broker
    client_id = new_id()
    client = sealed_client(token_broker.device_secret, client_id=client_id)
    assert attempt(client.client, broker) == "Success"
    token = client.password
    assert token is not None and token.startswith("mqs1.")

    replay = new_client(client_id)  # the same client ID: only the nonce is stale
    replay.username_pw_set(USERNAME, token)
    assert attempt(replay, broker) == "Not authorized"
    broker_log(broker, f"mqseal: refused CONNECT of user '{USERNAME}' (client '{client_id}'): replay")


def test_a_token_for_another_client_id_is_refused(token_broker: TokenBroker) -> None:
    client = new_client()
    client.username_pw_set(USERNAME, mqseal.make_connect_token(token_broker.device_secret, USERNAME, "someone-else"))
    assert attempt(client, token_broker.broker) == "Not authorized"
    broker_log(token_broker.broker, "authentication_failed")


def test_a_client_id_belongs_to_its_device(token_broker: TokenBroker) -> None:
    """plugin_opt_client_ids own (the default): a device logs in only with a client ID it owns, and no other
    login takes one (mosquitto would give the newest login the ID, disconnecting the device)."""
    broker = token_broker.broker
    for client_id in (USERNAME, f"{USERNAME}/sensor"):
        client = new_client(client_id)
        client.username_pw_set(USERNAME, mqseal.make_connect_token(token_broker.device_secret, USERNAME, client_id))
        assert attempt(client, broker) == "Success", client_id
    unowned = new_id(OTHER_USER)
    client = new_client(unowned)
    client.username_pw_set(USERNAME, mqseal.make_connect_token(token_broker.device_secret, USERNAME, unowned))
    assert attempt(client, broker) == "Not authorized"
    broker_log(broker, f"mqseal: refused CONNECT of user '{USERNAME}' (client '{unowned}'): a device's client ID")
    for client_id in (USERNAME, f"{USERNAME}/sensor"):
        client = new_client(client_id)
        client.username_pw_set(OTHER_USER, OTHER_PASSWORD)  # password_file lets it in, with another ID
        assert attempt(client, broker) == "Not authorized", client_id
    broker_log(broker, f"mqseal: refused CONNECT of user '{OTHER_USER}' (client '{USERNAME}'): the client ID belongs "
               f"to device '{USERNAME}'")


def test_the_wrong_device_secret_is_refused(token_broker: TokenBroker) -> None:
    wrong = mqseal.provision(USERNAME, "not the password", CHEAP).device_secret
    client = sealed_client(wrong)
    assert attempt(client.client, token_broker.broker) == "Not authorized"
    broker_log(token_broker.broker, "authentication_failed")


def test_the_plain_password_is_refused(token_broker: TokenBroker) -> None:
    client = new_client()
    client.username_pw_set(USERNAME, PASSWORD)
    assert attempt(client, token_broker.broker) == "Not authorized"
    text = broker_log(token_broker.broker, "malformed")
    assert PASSWORD not in text


def test_no_password_and_anonymous_clients_are_refused(token_broker: TokenBroker) -> None:
    client = new_client()
    client.username_pw_set(USERNAME)
    assert attempt(client, token_broker.broker) == "Not authorized"
    assert attempt(new_client(), token_broker.broker) == "Not authorized"


def test_an_on_pre_connect_already_set_is_chained(token_broker: TokenBroker) -> None:
    calls: List[Optional[str]] = []
    client_id = new_id()
    raw = new_client(client_id)
    raw.on_pre_connect = lambda client, userdata: calls.append("adopted")
    client = mqseal.paho.wrap(raw, mqseal.TopicPolicy(), token_broker.device_keys)
    tokens = client.use_connect_tokens(token_broker.device_keys, "connect", USERNAME, client_id, lifetime_s=60)
    assert attempt(raw, token_broker.broker) == "Success"
    client.on_pre_connect = lambda c, userdata: calls.append(c.password)  # set through the wrapper: still chained
    assert attempt(raw, token_broker.broker) == "Success"
    assert calls[0] == "adopted" and calls[1] is not None and calls[1].startswith("mqs1.")  # the previous token
    assert calls[1] != raw.password
    assert tokens.tokens_made == 2


def test_an_empty_client_id_is_refused_early() -> None:
    keys = mqseal.Keyring()
    keys.generate("telemetry")
    keys.generate("connect")
    client = mqseal.paho.wrap(
        mqtt.Client(CallbackAPIVersion.VERSION2, client_id=""), mqseal.TopicPolicy(), keys
    )
    with pytest.raises(mqseal.InvalidArgumentError) as empty:
        client.use_connect_tokens(keys, "connect", USERNAME, "")
    assert str(empty.value) == "CONNECT tokens need a client ID: the broker would assign one, which no token can name"
    for refused in (USERNAME + "/\x01", USERNAME + "/\x85", USERNAME + "/\uffff"):  # mosquitto closes such a CONNECT
        with pytest.raises(mqseal.InvalidArgumentError, match="could verify"):
            client.use_connect_tokens(keys, "connect", USERNAME, refused)
    with pytest.raises(mqseal.InvalidArgumentError):
        mqseal.paho.wrap(new_client(), mqseal.TopicPolicy(), keys).use_connect_tokens(
            keys, "connect", USERNAME, new_id(), lifetime_s=0)
    with pytest.raises(mqseal.KeyNotFoundError):
        mqseal.paho.wrap(new_client(), mqseal.TopicPolicy(), keys).use_connect_tokens(
            keys, "absent", USERNAME, new_id())
    assert client.client.on_pre_connect is None


def test_a_user_the_credentials_do_not_hold_is_deferred_to_mosquitto(token_broker: TokenBroker) -> None:
    """The plugin defers users it does not manage: password_file decides (it would refuse them if it refused)."""
    client = new_client(new_id(OTHER_USER))  # an ID no device owns
    client.username_pw_set(OTHER_USER, OTHER_PASSWORD)
    assert attempt(client, token_broker.broker) == "Success"
    client = new_client(new_id(OTHER_USER))
    client.username_pw_set(OTHER_USER, PASSWORD)
    assert attempt(client, token_broker.broker) == "Not authorized"
    client = new_client(new_id("somebody-else"))
    client.username_pw_set("somebody-else", OTHER_PASSWORD)  # in neither file
    assert attempt(client, token_broker.broker) == "Not authorized"
    text = broker_log(token_broker.broker, "disconnected, not authorised", 2)
    assert "mqseal: refused CONNECT" not in text  # mosquitto refused them, not the plugin
