"""Suite 2 (signed sender) from Python: key kinds in the keyring, signed rules, the signer
of an opened message, and through paho-mqtt and a real mosquitto a signed round trip and
forgeries refused with their typed error in on_refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import paho.mqtt.client as mqtt
import pytest

import mqseal
import mqseal.aio
import mqseal.paho

from conftest import Broker
from test_aio import Refused, aio_client, receive, run
from test_paho import listening, publish

Connect = Callable[..., mqtt.Client]


def provisioned(names: Tuple[str, ...]) -> Tuple[Dict[str, mqseal.Keyring], mqseal.Keyring]:
    """One keyring per device (shared topic key, own signing key pair), and the backend's."""
    topic_key = mqseal.Key.generate()
    backend = mqseal.Keyring()
    backend.add_with_id("telemetry", 0x100, topic_key)
    devices: Dict[str, mqseal.Keyring] = {}
    for name in names:
        keys = mqseal.Keyring()
        keys.add_with_id("telemetry", 0x100, topic_key)
        keys.generate_signing_key(name)
        exported = mqseal.Keyring.parse(keys.export_public())
        for info in exported.list():
            assert info.kind == mqseal.KeyKind.trusted_signer and info.public_key is not None
            backend.add_trusted_signer(info.name, info.id, info.public_key)
        devices[name] = keys
    return devices, backend


def signed_policy() -> mqseal.TopicPolicy:
    policy = mqseal.TopicPolicy()
    policy.add_signed_rule("plant/{signer}/telemetry", "telemetry", [])
    policy.add_signed_rule("plant/+/cmd", "telemetry", ["backend"], retained="refuse")
    return policy


def test_recipient_key_kinds_of_a_parsed_keyring() -> None:
    """Suite 3's recipient lines read back as KeyKind members (not a ValueError)."""
    doc = json.loads((Path(__file__).parent.parent / "vectors" / "recipient_v1.json").read_text())
    files = [f for f in doc["keyring_files"] if f["expect"] == "ok"]
    seen = set()
    for f in files:
        keys = mqseal.Keyring.parse(f["text"])
        infos = {info.id: info for info in keys.list()}
        for want in f["keys"]:
            info = infos[want["id"]]
            assert info.kind == mqseal.KeyKind[want["kind"]] and isinstance(info.kind, mqseal.KeyKind)
            assert info.name == want["name"] and info.state == mqseal.KeyState[want["state"]]
            seen.add(info.kind)
    assert {mqseal.KeyKind.recipient, mqseal.KeyKind.recipient_public} <= seen
    assert mqseal.KeyKind.recipient.value == 4 and mqseal.KeyKind.recipient_public.value == 5


def test_key_kinds_export_and_rules() -> None:
    keys = mqseal.Keyring()
    symmetric = keys.generate("telemetry")
    signing = keys.generate_signing_key("device-7")
    assert keys.primary_signing_key("device-7") == signing
    info = keys.info(signing)
    assert info.kind == mqseal.KeyKind.signing and info.state == mqseal.KeyState.primary
    assert info.public_key == keys.public_key(signing) and len(info.public_key) == 32
    assert "kind='signing'" in repr(info)
    assert keys.info(symmetric).kind == mqseal.KeyKind.symmetric
    exported = keys.export_public()
    assert "\ntrusted-ed25519 device-7 " in exported and "telemetry" not in exported
    with pytest.raises(mqseal.KeyNotFoundError):
        keys.public_key(symmetric)
    with pytest.raises(mqseal.KeyNotFoundError):
        keys.primary_signing_key("device-8")

    backend = mqseal.Keyring()
    with pytest.raises(mqseal.InvalidArgumentError):
        backend.add_trusted_signer("device-7", 7, info.public_key[:31])  # truncated
    with pytest.raises(mqseal.InvalidArgumentError):
        backend.add_trusted_signer("device-7", 7, bytes(32))  # not a valid point
    backend.add_trusted_signer("device-7", signing, bytearray(info.public_key))
    trusted = backend.info(signing)
    assert trusted.kind == mqseal.KeyKind.trusted_signer and trusted.state == mqseal.KeyState.active
    with pytest.raises(mqseal.InvalidArgumentError):
        backend.promote(signing)  # a trusted key only verifies

    seeded = mqseal.Keyring()
    seeded.add_signing_key_with_id("vector", 0x42, mqseal.Key.from_bytes(bytes(range(32))))
    assert len(seeded.public_key(0x42)) == 32

    policy = signed_policy()
    rule = policy.resolve("plant/7/cmd")
    assert (rule.suite, rule.signers, rule.key_name) == (2, ["backend"], "telemetry")
    assert rule.retained == mqseal.RetainedPolicy.refuse
    assert "suite=2" in repr(rule)
    assert policy.resolve("plant/7/telemetry").signers == []
    with pytest.raises(mqseal.InvalidArgumentError):
        mqseal.TopicPolicy().add_signed_rule("a/+", "telemetry", [])  # nobody could publish
    with pytest.raises(mqseal.InvalidArgumentError):
        mqseal.TopicPolicy().add_signed_rule("a/+", "telemetry", ["x"], retained_max_age_ms=5)


def test_signed_round_trip_names_the_signer_and_forgeries_are_typed() -> None:
    devices, backend = provisioned(("device-7", "device-8"))
    policy = signed_policy()
    opener = mqseal.Opener(policy, backend)
    sealer7 = mqseal.Sealer(policy, devices["device-7"])
    envelope = sealer7.seal("plant/device-7/telemetry", b"21.5 C")
    assert len(envelope) == 6 + mqseal.ENVELOPE_OVERHEAD + 68
    header = mqseal.parse_header(envelope)
    assert header.suite == 2 and header.signer_key_id == devices["device-7"].primary_signing_key("device-7")
    opened = opener.open("plant/device-7/telemetry", envelope)
    assert opened.payload == b"21.5 C"
    assert opened.signer == "device-7" and opened.signer_key_id == header.signer_key_id
    assert "signed by device-7" in repr(opened)

    # Device 7 signing for device 8's level: its own Sealer refuses, and an attacker's policy
    # that lets it seal there gets refused by the receiver.
    with pytest.raises(mqseal.AuthenticationError) as refused:
        sealer7.seal("plant/device-8/telemetry", b"99.9 C")
    assert refused.value.code == "unauthorized_signer" and refused.value.signer is None
    forging = mqseal.TopicPolicy()
    forging.add_signed_rule("plant/+/telemetry", "telemetry", ["device-7"])
    forged = mqseal.Sealer(forging, devices["device-7"], signer="device-7").seal("plant/device-8/telemetry", b"9")
    with pytest.raises(mqseal.AuthenticationError) as refused:
        opener.open("plant/device-8/telemetry", forged)
    assert refused.value.code == "unauthorized_signer"
    assert refused.value.signer == "device-7"  # verified, then refused: who it was is known

    # A refusal after the signature verified names the signer (a duplicate); a signature that
    # does not verify names none, though the envelope names device 7's key.
    with pytest.raises(mqseal.DuplicateError) as duplicate:
        opener.open("plant/device-7/telemetry", envelope)
    assert duplicate.value.signer == "device-7"
    altered = bytearray(sealer7.seal("plant/device-7/telemetry", b"21.6 C"))
    altered[-1] ^= 1  # a byte of the signature
    assert mqseal.parse_header(altered).signer_key_id == header.signer_key_id
    with pytest.raises(mqseal.AuthenticationError) as forgery:
        opener.open("plant/device-7/telemetry", altered)
    assert forgery.value.code == "authentication_failed" and forgery.value.signer is None

    # A suite 1 envelope on a signed topic: no downgrade.
    plain = mqseal.TopicPolicy()
    plain.add_rule("plant/+/telemetry", "telemetry")
    suite1 = mqseal.Sealer(plain, devices["device-7"]).seal("plant/device-8/telemetry", b"9")
    with pytest.raises(mqseal.FormatError) as downgraded:
        opener.open("plant/device-8/telemetry", suite1)
    assert downgraded.value.code == "wrong_suite_for_topic" and downgraded.value.signer is None

    # A signer the backend does not know.
    stranger = mqseal.Keyring()
    stranger.add_with_id("telemetry", 0x100, mqseal.Key.generate())
    stranger.generate_signing_key("device-9")
    unknown_signer = mqseal.Sealer(policy, stranger).seal("plant/device-9/telemetry", b"")
    with pytest.raises(mqseal.KeyNotFoundError) as unknown:
        opener.open("plant/device-9/telemetry", unknown_signer)
    assert unknown.value.code == "unknown_signer" and unknown.value.signer is None


def test_through_mosquitto_a_stolen_device_cannot_forge_or_disturb_another_stream(connect: Connect) -> None:
    devices, backend = provisioned(("device-7", "device-8"))
    policy = signed_policy()
    subscriber, inbox, refused = listening(connect(), policy, backend, "plant/#")

    device8 = mqseal.paho.wrap(connect(), policy, devices["device-8"])
    publish(device8, "plant/device-8/telemetry", b"reading 1")
    inbox.wait(1)
    assert [(m.topic, m.payload) for m in inbox.messages] == [("plant/device-8/telemetry", b"reading 1")]

    # Device 7, stolen: its keys signing on device 8's topic with an attacker's policy (so that
    # its own Sealer lets it), published raw.
    forging = mqseal.TopicPolicy()
    forging.add_signed_rule("plant/+/telemetry", "telemetry", ["device-7"])
    thief = mqseal.Sealer(forging, devices["device-7"])
    raw = connect()
    for _ in range(3):
        publish(raw, "plant/device-8/telemetry", thief.seal("plant/device-8/telemetry", b"99.9 C"))
    calls = refused.wait(3)
    assert [(c[2].topic, c[3].code) for c in calls] == [("plant/device-8/telemetry", "unauthorized_signer")] * 3
    assert all(isinstance(c[3], mqseal.AuthenticationError) for c in calls)
    assert [c[3].signer for c in calls] == ["device-7"] * 3  # the verified signer

    # Device 8's envelope with a byte of its signature altered: it names device 8's key, but
    # the signature does not verify, so the refusal names no signer.
    altered = bytearray(mqseal.Sealer(policy, devices["device-8"]).seal("plant/device-8/telemetry", b"0 C"))
    altered[-1] ^= 1
    publish(raw, "plant/device-8/telemetry", bytes(altered))
    calls = refused.wait(4)
    assert (calls[3][3].code, calls[3][3].signer) == ("authentication_failed", None)

    # Device 8's stream is not disturbed: its next reading is accepted.
    publish(device8, "plant/device-8/telemetry", b"reading 2")
    inbox.wait(2)
    assert [m.payload for m in inbox.messages] == [b"reading 1", b"reading 2"]
    # And device 7 still publishes under its own level.
    publish(mqseal.paho.wrap(connect(), policy, devices["device-7"]), "plant/device-7/telemetry", b"seven")
    inbox.wait(3)
    assert [m.payload for m in inbox.messages] == [b"reading 1", b"reading 2", b"seven"]
    assert subscriber.stats == mqseal.paho.Stats(delivered=3, duplicates=0, refused=4)



def test_aio_on_refused_names_only_a_verified_signer(broker: Broker) -> None:
    """Through mosquitto and mqseal.aio: device 7 signing on device 8's level reaches on_refused
    with error.signer "device-7"; device 8's envelope with its signature altered with None."""
    devices, backend = provisioned(("device-7", "device-8"))
    policy = signed_policy()
    forging = mqseal.TopicPolicy()
    forging.add_signed_rule("plant/+/telemetry", "telemetry", ["device-7"])
    stolen = mqseal.Sealer(forging, devices["device-7"]).seal("plant/device-8/telemetry", b"99.9 C")
    device8 = mqseal.Sealer(policy, devices["device-8"])
    altered = bytearray(device8.seal("plant/device-8/telemetry", b"0 C"))
    altered[-1] ^= 1  # a byte of the signature
    reading = device8.seal("plant/device-8/telemetry", b"21.5 C")
    refused = Refused()

    async def scenario() -> List[mqseal.aio.OpenedMessage]:
        async with mqseal.aio.wrap(aio_client(broker), policy, backend) as subscriber, aio_client(broker) as raw:
            subscriber.on_refused = refused
            await subscriber.subscribe("plant/#", qos=1)
            for envelope in (stolen, bytes(altered), reading):
                await raw.publish("plant/device-8/telemetry", envelope, qos=1)
            return await receive(subscriber, 1)

    messages = run(scenario())
    assert [(m.payload, m.signer) for m in messages] == [(b"21.5 C", "device-8")]
    assert [(error.code, error.signer) for _, _, error in refused.calls] == [
        ("unauthorized_signer", "device-7"),
        ("authentication_failed", None),
    ]
