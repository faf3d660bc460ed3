"""Suites 3 (sealed to a recipient) and 4 (signed, then sealed) and the compact envelope from
Python: the known answers of recipient_v1.json, a stolen device that cannot read what it or
its peers sealed, the signer of suite 4, downgrades refused, bad keys refused with typed
errors, the wrappers' choice of signer, and through paho-mqtt, aiomqtt and a real mosquitto
the refused-message callbacks' reasons."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple, TypeVar

import paho.mqtt.client as mqtt
import pytest

import mqseal
import mqseal.aio
import mqseal.paho

from conftest import Broker
from test_aio import Refused, aio_client, receive, run
from test_paho import Inbox, listening, publish, subscribe

Connect = Callable[..., mqtt.Client]

VECTORS = Path(__file__).parent.parent / "vectors" / "recipient_v1.json"
RECIPIENT_OVERHEAD = 87  # suite 3: docs/SPEC.md, section 4b
SIGNED_SEALED_OVERHEAD = 155  # suite 4: section 4c
COMPACT_OVERHEAD = 36  # envelope v3: section 4d
BACKEND_KEY_ID = 0xB0
TOPIC_KEY_ID = 0x100


def outcome(call: Callable[[], Any]) -> Tuple[str, Any]:
    """("ok", what it returned) or (the error's stable name, None); other exceptions propagate."""
    try:
        return "ok", call()
    except mqseal.Error as e:
        return e.code, None


# ---- known answers ----


def test_recipient_vectors_open_from_python() -> None:
    """Every envelope of recipient_v1.json opens, or is refused with its error, as the vectors say."""
    doc = json.loads(VECTORS.read_text())
    receiver = mqseal.Keyring()
    for k in doc["keys"]:
        receiver.add_with_id(k["name"], k["id"], mqseal.Key.from_bytes(bytes.fromhex(k["material"])))
    for k in doc["recipients"]:
        if k["state"] == "retired":  # only its ID is kept: added with any secret, then retired
            receiver.add_recipient_key_with_id(k["name"], k["id"], mqseal.Key.from_bytes(bytes([7]) * 32))
            receiver.retire(k["id"])
        else:
            receiver.add_recipient_key_with_id(k["name"], k["id"], mqseal.Key.from_bytes(bytes.fromhex(k["secret"])))
            assert receiver.public_key(k["id"]).hex() == k["public"]
            assert receiver.info(k["id"]).kind == mqseal.KeyKind.recipient
    for k in doc["signing"]:
        receiver.add_trusted_signer(k["name"], k["id"], bytes.fromhex(k["public"]))
    policy = mqseal.TopicPolicy()
    for rule in doc["policy"]:
        if "key" in rule:
            policy.add_rule(rule["filter"], rule["key"])
        elif rule.get("suite") == 4:
            policy.add_signed_recipient_rule(rule["filter"], rule["recipient"], rule["signers"])
        else:
            policy.add_recipient_rule(rule["filter"], rule["recipient"])

    seen: Dict[str, int] = {}
    for v in doc["vectors"]:
        opener = mqseal.Opener(policy, receiver)  # a fresh receiver for each
        o = v["open"]
        got, opened = outcome(
            lambda: opener.open(o["topic"], bytes.fromhex(v["envelope"]), retained=o["retained"], now_ms=int(o["now_ms"]))
        )
        assert got == v["expect"], v["name"]
        if opened is not None:
            assert opened.payload.hex() == v["payload"], v["name"]
            assert opened.signer == v.get("signer", ""), v["name"]
            assert opened.sequence == int(v["sequence"]) and opened.timestamp_ms == int(v["timestamp_ms"])
            seen[f"suite {v['suite']}"] = seen.get(f"suite {v['suite']}", 0) + 1
        else:
            seen["refused"] = seen.get("refused", 0) + 1
    assert seen["suite 3"] >= 8 and seen["suite 4"] >= 2 and seen["refused"] >= 34  # as vectors_test.cpp


T = TypeVar("T")


def parsed_files(section: str, parse: Callable[[str], T]) -> Tuple[List[Tuple[Dict[str, Any], T]], int]:
    """Each file of a section of recipient_v1.json parsed, checked against its expected outcome:
    the (case, result) of those that parse, and how many were refused."""
    parsed: List[Tuple[Dict[str, Any], T]] = []
    refused = 0
    for case in json.loads(VECTORS.read_text())[section]:
        got, result = outcome(lambda: parse(case["text"]))
        assert got == case["expect"], case["name"]
        if result is None:
            refused += 1
        else:
            parsed.append((case, result))
    return parsed, refused


def test_recipient_keyring_files_of_the_vectors() -> None:
    """Recipient lines parse (or are refused as parse_error: truncated, low-order, mismatched keys)
    and export as the vectors say, with their public keys and kinds."""
    parsed, refused = parsed_files("keyring_files", mqseal.Keyring.parse)
    for case, keys in parsed:
        assert keys.export_public() == case["public_export"], case["name"]
        infos = keys.list()
        assert [(i.id, i.kind.name) for i in infos] == [(k["id"], k["kind"]) for k in case["keys"]]
        for info, want in zip(infos, case["keys"]):
            if "public" in want:
                assert info.public_key is not None and info.public_key.hex() == want["public"], case["name"]
    assert refused >= 12


def test_recipient_policy_files_of_the_vectors() -> None:
    """Recipient rules in policy files read back with their recipient, suite and signers, or are
    refused as parse_error (a recipient with a key, suite 2 or 3 with signers, ...)."""
    parsed, refused = parsed_files("policy_files", mqseal.TopicPolicy.parse)
    for case, policy in parsed:
        rules = [
            {"filter": r.filter, "recipient": r.recipient, "suite": r.suite, "signers": r.signers, "retained": r.retained}
            for r in policy.rules
        ]
        want = [
            {"suite": 3, "signers": [], "retained": None, **w}  # the file's defaults
            for w in case["rules"]
        ]
        assert rules == want, case["name"]
        assert all(r.key_name == r.recipient and not r.compact for r in policy.rules)
    assert refused >= 8


# ---- suite 3: a stolen device reads nothing ----


def provision_recipient() -> Tuple[mqseal.Keyring, mqseal.Keyring, mqseal.Keyring]:
    """The backend (the recipient key pair and the topic key), and two devices holding the same
    topic key and, from the backend's public export, only the recipient's public key."""
    topic_key = mqseal.Key.generate()
    backend = mqseal.Keyring()
    backend.add_with_id("telemetry", TOPIC_KEY_ID, topic_key)
    backend.add_recipient_key_with_id("backend", BACKEND_KEY_ID, mqseal.Key.generate())
    devices = []
    for _ in range(2):
        device = mqseal.Keyring.parse(backend.export_public())
        device.add_with_id("telemetry", TOPIC_KEY_ID, topic_key)
        devices.append(device)
    return backend, devices[0], devices[1]


def recipient_policy() -> mqseal.TopicPolicy:
    policy = mqseal.TopicPolicy()
    policy.add_rule("plant/+/telemetry", "telemetry")
    policy.add_recipient_rule("plant/+/report", "backend")
    return policy


def test_suite_3_only_the_recipient_opens() -> None:
    backend, device7, device8 = provision_recipient()
    public = device7.info(BACKEND_KEY_ID)
    assert public.kind == mqseal.KeyKind.recipient_public and public.state == mqseal.KeyState.primary
    assert public.public_key == backend.public_key(BACKEND_KEY_ID) and "recipient_public" in repr(public)
    assert "recipient-public-x25519 backend" in backend.export_public()

    policy = recipient_policy()
    rule = policy.resolve("plant/7/report")
    assert (rule.suite, rule.recipient, rule.key_name, rule.compact) == (3, "backend", "backend", False)
    assert repr(rule) == "TopicRule(filter='plant/+/report', recipient='backend', suite=3)"
    assert policy.resolve("plant/7/telemetry").recipient is None

    sealer = mqseal.Sealer(policy, device7)
    envelope = sealer.seal("plant/7/report", b"21.5 C")
    assert len(envelope) == 6 + RECIPIENT_OVERHEAD
    header = mqseal.parse_header(envelope)
    assert (header.suite, header.key_id, header.signer_key_id) == (3, BACKEND_KEY_ID, 0)
    opened = mqseal.Opener(policy, backend).open("plant/7/report", envelope)
    assert (opened.payload, opened.signer, opened.key_id) == (b"21.5 C", "", BACKEND_KEY_ID)

    # The device that sealed it and another device with the same keys: a public key opens nothing.
    for device in (device7, device8):
        with pytest.raises(mqseal.KeyNotFoundError) as refused:
            mqseal.Opener(policy, device).open("plant/7/report", envelope)
        assert refused.value.code == "unknown_key"
    # While suite 1 on the same keyrings opens for every device.
    telemetry = sealer.seal("plant/7/telemetry", b"t")
    assert mqseal.Opener(policy, device8).open("plant/7/telemetry", telemetry).payload == b"t"

    # A receiver with another private key under the backend's ID: typed, not a crash.
    impostor = mqseal.Keyring()
    impostor.add_recipient_key_with_id("backend", BACKEND_KEY_ID, mqseal.Key.generate())
    with pytest.raises(mqseal.AuthenticationError) as wrong:
        mqseal.Opener(policy, impostor).open("plant/7/report", envelope)
    assert wrong.value.code == "authentication_failed"


def test_suite_3_bad_keys_and_downgrades_are_typed_errors() -> None:
    backend, device7, _ = provision_recipient()
    public = backend.public_key(BACKEND_KEY_ID)
    keys = mqseal.Keyring()
    for bad in (public[:31], public[:1], b"", public + b"\x00", bytes(32), b"\x01" + bytes(31)):
        with pytest.raises(mqseal.InvalidArgumentError) as refused:
            keys.add_recipient_public("backend", 0x7, bad)  # truncated, lengthened, low-order
        assert refused.value.code == "invalid_argument"
    keys.add_recipient_public("backend", 0x7, bytearray(public))
    with pytest.raises(mqseal.InvalidArgumentError):
        keys.add_recipient_public("backend", 0x7, public)  # the ID is taken
    with pytest.raises(mqseal.InvalidArgumentError):
        keys.add_recipient_key_with_id("bad name!", 0x8, mqseal.Key.generate())
    generated = keys.generate_recipient_key("archive")
    assert keys.info(generated).kind == mqseal.KeyKind.recipient and len(keys.public_key(generated)) == 32
    with pytest.raises(mqseal.InvalidArgumentError):
        mqseal.TopicPolicy().add_recipient_rule("a/+", "bad name!")
    with pytest.raises(mqseal.InvalidArgumentError):
        mqseal.TopicPolicy().add_recipient_rule("a/+", "backend", retained_max_age_ms=5)

    # A sealer without the recipient's key: typed, nothing sealed.
    nokey = mqseal.Keyring()
    nokey.add_with_id("telemetry", TOPIC_KEY_ID, mqseal.Key.generate())
    with pytest.raises(mqseal.KeyNotFoundError):
        mqseal.Sealer(recipient_policy(), nokey).seal("plant/7/report", b"x")

    # No downgrade either way between suites 1 and 3 on one topic.
    policy = recipient_policy()
    as_suite_1 = mqseal.TopicPolicy()
    as_suite_1.add_rule("plant/+/report", "telemetry")
    suite1 = mqseal.Sealer(as_suite_1, device7).seal("plant/7/report", b"x")
    with pytest.raises(mqseal.FormatError) as downgraded:
        mqseal.Opener(policy, backend).open("plant/7/report", suite1)
    assert downgraded.value.code == "wrong_suite_for_topic"
    suite3 = mqseal.Sealer(policy, device7).seal("plant/7/report", b"x")
    as_suite_4 = mqseal.TopicPolicy()
    as_suite_4.add_signed_recipient_rule("plant/+/report", "backend", ["device-7"])
    with pytest.raises(mqseal.FormatError) as upgraded:
        mqseal.Opener(as_suite_4, backend).open("plant/7/report", suite3)
    assert upgraded.value.code == "wrong_suite_for_topic"


def test_suite_3_sessions_ephemeral_keys_and_the_receivers_cache() -> None:
    """One ephemeral key per sealing session, replaced after recipient_session_max_age_ms; the
    receiver caches at most recipient_session_capacity sessions."""
    backend, device7, device8 = provision_recipient()
    policy = recipient_policy()
    assert mqseal.SealerOptions().recipient_session_max_age_ms == 60 * 60 * 1000
    assert mqseal.OpenerOptions().recipient_session_capacity == 1024

    sealer = mqseal.Sealer(policy, device7)
    first, second = (sealer.seal("plant/7/report", p) for p in (b"1", b"2"))
    ephemeral = mqseal.parse_header(first).ephemeral
    assert len(ephemeral) == 32 and mqseal.parse_header(second).ephemeral == ephemeral
    assert mqseal.parse_header(sealer.seal("plant/7/telemetry", b"t")).ephemeral == b""
    other = mqseal.Sealer(policy, device8).seal("plant/8/report", b"3")
    assert mqseal.parse_header(other).ephemeral != ephemeral

    short = mqseal.Sealer(policy, device7, recipient_session_max_age_ms=1)
    old = short.seal("plant/7/report", b"4")
    time.sleep(0.01)
    new = short.seal("plant/7/report", b"5")
    assert mqseal.parse_header(old).ephemeral != mqseal.parse_header(new).ephemeral

    opener = mqseal.Opener(policy, backend, recipient_session_capacity=1)
    assert opener.recipient_sessions == 0
    for envelope, topic in ((first, "plant/7/report"), (other, "plant/8/report"), (second, "plant/7/report")):
        opener.open(topic, envelope)
        assert opener.recipient_sessions == 1
    roomy = mqseal.Opener(policy, backend, mqseal.OpenerOptions(recipient_session_capacity=8))
    for envelope, topic in ((first, "plant/7/report"), (other, "plant/8/report"), (old, "plant/7/report")):
        roomy.open(topic, envelope)
    assert roomy.recipient_sessions == 3
    with pytest.raises(mqseal.AuthenticationError):  # a forged ephemeral key adds no session
        roomy.open("plant/7/report", new[:15] + bytes([new[15] ^ 1]) + new[16:])
    assert roomy.recipient_sessions == 3
    for bad in (0, 2**20 + 1):
        with pytest.raises(mqseal.InvalidArgumentError):
            mqseal.Opener(policy, backend, recipient_session_capacity=bad)


def test_suite_3_remembers_evicted_streams_up_to_max_evicted_streams() -> None:
    """ReplayOptions.max_evicted_streams reaches the Opener: with tombstones (the default), a session
    evicted from a full table leaves the watermark alone, so an older-dated session still opens;
    with 0, the eviction raises the watermark and that session is refused as a replay."""
    backend, device7, device8 = provision_recipient()
    policy = recipient_policy()
    assert mqseal.ReplayOptions().max_evicted_streams == 65536  # the C++ default
    early = mqseal.Sealer(policy, device7).seal("plant/7/report", b"sealed first")
    late = mqseal.Sealer(policy, device7).seal("plant/7/report", b"sealed second")
    other = mqseal.Sealer(policy, device8).seal("plant/8/report", b"evicts")
    assert mqseal.parse_header(early).timestamp_ms <= mqseal.parse_header(late).timestamp_ms
    now = mqseal.parse_header(other).timestamp_ms + 1
    remembering = [
        mqseal.Opener(policy, backend, mqseal.OpenerOptions(mqseal.ReplayOptions(max_streams=1))),
        mqseal.Opener(policy, backend, max_streams=1),
    ]
    forgetting = [
        mqseal.Opener(policy, backend, mqseal.OpenerOptions(mqseal.ReplayOptions(max_streams=1, max_evicted_streams=0))),
        mqseal.Opener(policy, backend, max_streams=1, max_evicted_streams=0),
    ]
    for opener in remembering + forgetting:
        opener.open("plant/7/report", late, now_ms=now)
        opener.open("plant/8/report", other, now_ms=now)  # evicts the stream of `late`
    for opener in remembering:
        assert opener.open("plant/7/report", early, now_ms=now).payload == b"sealed first"
        with pytest.raises(mqseal.DuplicateError):  # judged against its tombstone
            opener.open("plant/7/report", late, now_ms=now)
    for opener in forgetting:
        with pytest.raises(mqseal.ReplayError):  # at or below the raised watermark
            opener.open("plant/7/report", early, now_ms=now)
    for bad in (-1, 2**24 + 1):
        with pytest.raises(mqseal.InvalidArgumentError):
            mqseal.Opener(policy, backend, max_evicted_streams=bad)
    with pytest.raises(mqseal.InvalidArgumentError):
        mqseal.ReplayGuard(mqseal.ReplayOptions(max_evicted_streams=2**24 + 1))
    mqseal.ReplayGuard(mqseal.ReplayOptions(max_evicted_streams=2**24))


# ---- suite 4: signed, then sealed ----


def provision_signed_sealed(names: Tuple[str, ...]) -> Tuple[mqseal.Keyring, Dict[str, mqseal.Keyring]]:
    """The backend (recipient key pair, trusted signers) and one keyring per device (its own
    signing key pair and the recipient's public key)."""
    backend = mqseal.Keyring()
    backend.add_recipient_key_with_id("backend", BACKEND_KEY_ID, mqseal.Key.generate())
    devices: Dict[str, mqseal.Keyring] = {}
    for name in names:
        device = mqseal.Keyring.parse(backend.export_public())
        signing = device.generate_signing_key(name)
        backend.add_trusted_signer(name, signing, device.public_key(signing))
        devices[name] = device
    return backend, devices


def signed_sealed_policy() -> mqseal.TopicPolicy:
    policy = mqseal.TopicPolicy()
    policy.add_signed_recipient_rule("plant/{signer}/private", "backend", [])
    policy.add_signed_recipient_rule("plant/+/orders", "backend", ["device-8"], retained="refuse")
    return policy


def test_suite_4_reports_the_signer_and_refuses_an_unauthorized_one() -> None:
    backend, devices = provision_signed_sealed(("device-7", "device-8"))
    policy = signed_sealed_policy()
    rule = policy.resolve("plant/7/orders")
    assert (rule.suite, rule.recipient, rule.signers) == (4, "backend", ["device-8"])
    assert repr(rule) == "TopicRule(filter='plant/+/orders', recipient='backend', suite=4, retained='refuse')"

    opener = mqseal.Opener(policy, backend)
    envelope = mqseal.Sealer(policy, devices["device-7"]).seal("plant/device-7/private", b"valve 3 open")
    assert len(envelope) == len(b"valve 3 open") + SIGNED_SEALED_OVERHEAD
    assert mqseal.parse_header(envelope).signer_key_id == 0  # the signer is inside the encryption
    opened = opener.open("plant/device-7/private", envelope)
    assert opened.payload == b"valve 3 open"
    assert opened.signer == "device-7"
    assert opened.signer_key_id == devices["device-7"].primary_signing_key("device-7")
    assert "signed by device-7" in repr(opened)
    # Another device holds the recipient's public key only: it cannot read device 7's message.
    with pytest.raises(mqseal.KeyNotFoundError):
        mqseal.Opener(policy, devices["device-8"]).open("plant/device-7/private", envelope)

    # Device 7 under device 8's level, with an attacker's policy that lets its own Sealer.
    forging = mqseal.TopicPolicy()
    forging.add_signed_recipient_rule("plant/+/private", "backend", ["device-7"])
    forged = mqseal.Sealer(forging, devices["device-7"]).seal("plant/device-8/private", b"x")
    with pytest.raises(mqseal.AuthenticationError) as refused:
        opener.open("plant/device-8/private", forged)
    assert refused.value.code == "unauthorized_signer"
    # Its own Sealer refuses to sign there, and on the orders topics only device 8 may.
    with pytest.raises(mqseal.AuthenticationError):
        mqseal.Sealer(policy, devices["device-7"]).seal("plant/device-8/private", b"x")
    orders = mqseal.Sealer(policy, devices["device-8"]).seal("plant/1/orders", b"go")
    assert opener.open("plant/1/orders", orders).signer == "device-8"


# ---- the compact envelope ----


def test_compact_rule_round_trip_and_no_downgrade() -> None:
    keys = mqseal.Keyring()
    keys.add_with_id("telemetry", TOPIC_KEY_ID, mqseal.Key.generate())
    compact = mqseal.TopicPolicy()
    compact.add_compact_rule("field/+/reading", "telemetry", retained="accept", retained_max_age_ms=60_000)
    rule = compact.resolve("field/3/reading")
    assert (rule.suite, rule.compact, rule.key_name, rule.recipient) == (1, True, "telemetry", None)
    assert repr(rule) == (
        "TopicRule(filter='field/+/reading', key_name='telemetry', compact=True, retained='accept', "
        "retained_max_age_ms=60000)"
    )
    parsed = mqseal.TopicPolicy.parse('[[rule]]\nfilter = "field/#"\nkey = "telemetry"\ncompact = true\n')
    assert parsed.rules[0].compact

    envelope = mqseal.Sealer(compact, keys).seal("field/3/reading", b"7")
    assert len(envelope) == 1 + COMPACT_OVERHEAD
    assert mqseal.parse_header(envelope).version == 3
    opened = mqseal.Opener(compact, keys).open("field/3/reading", envelope)
    assert (opened.payload, opened.sequence) == (b"7", 0)

    full = mqseal.TopicPolicy()
    full.add_rule("field/+/reading", "telemetry")
    v2 = mqseal.Sealer(full, keys).seal("field/3/reading", b"7")
    for policy, other in ((compact, v2), (full, envelope)):
        with pytest.raises(mqseal.FormatError) as downgraded:
            mqseal.Opener(policy, keys).open("field/3/reading", other)
        assert downgraded.value.code == "wrong_suite_for_topic"


# ---- choosing the signer ----


def two_signers() -> Tuple[mqseal.Keyring, mqseal.Keyring]:
    """A gateway keyring with signing key pairs of two names, and the backend trusting both."""
    backend = mqseal.Keyring()
    backend.add_recipient_key_with_id("backend", BACKEND_KEY_ID, mqseal.Key.generate())
    gateway = mqseal.Keyring.parse(backend.export_public())
    for name in ("device-7", "device-8"):
        signing = gateway.generate_signing_key(name)
        backend.add_trusted_signer(name, signing, gateway.public_key(signing))
    return backend, gateway


def test_sealer_with_two_signers_signs_as_the_one_named() -> None:
    backend, gateway = two_signers()
    policy = signed_sealed_policy()
    with pytest.raises(mqseal.KeyNotFoundError) as unnamed:
        mqseal.Sealer(policy, gateway).seal("plant/device-8/private", b"x")
    assert unnamed.value.code == "no_primary_key"
    envelope = mqseal.Sealer(policy, gateway, signer="device-8").seal("plant/device-8/private", b"x")
    assert mqseal.Opener(policy, backend).open("plant/device-8/private", envelope).signer == "device-8"


# ---- through a real broker ----


def test_through_mosquitto_refused_reasons_reach_on_refused(connect: Connect) -> None:
    backend, devices = provision_signed_sealed(("device-7", "device-8"))
    policy = signed_sealed_policy()
    policy.add_recipient_rule("plant/+/report", "backend")
    subscriber, inbox, refused = listening(connect(), policy, backend, "plant/#")
    # Device 8 listens too: it holds only the recipient's public key.
    _, peer_inbox, peer_refused = listening(connect(), policy, devices["device-8"], "plant/device-7/#")

    device7 = mqseal.paho.wrap(connect(), policy, devices["device-7"])
    publish(device7, "plant/device-7/private", b"signed and sealed")
    publish(device7, "plant/device-7/report", b"sealed")
    inbox.wait(2)
    assert sorted((m.topic, m.payload) for m in inbox.messages) == [
        ("plant/device-7/private", b"signed and sealed"),
        ("plant/device-7/report", b"sealed"),
    ]
    calls = peer_refused.wait(2)
    assert sorted((c[2].topic, c[3].code) for c in calls) == [
        ("plant/device-7/private", "unknown_key"),
        ("plant/device-7/report", "unknown_key"),
    ]
    assert all(isinstance(c[3], mqseal.KeyNotFoundError) for c in calls) and peer_inbox.calls == []
    assert all(c[3].signer is None for c in calls)

    # Forgeries, published raw: device 7 signing under device 8's level; an envelope sealed to
    # another key pair under the backend's key ID; a suite 3 envelope on the suite 4 topic.
    forging = mqseal.TopicPolicy()
    forging.add_signed_recipient_rule("plant/+/private", "backend", ["device-7"])
    forged = mqseal.Sealer(forging, devices["device-7"]).seal("plant/device-8/private", b"x")
    impostor = mqseal.Keyring()
    impostor.add_recipient_key_with_id("backend", BACKEND_KEY_ID, mqseal.Key.generate())
    wrong_key = mqseal.Sealer(policy, impostor).seal("plant/device-8/report", b"x")
    downgrade = mqseal.TopicPolicy()
    downgrade.add_recipient_rule("plant/#", "backend")
    suite3 = mqseal.Sealer(downgrade, devices["device-7"]).seal("plant/device-8/private", b"x")
    raw = connect()
    publish(raw, "plant/device-8/private", forged)
    publish(raw, "plant/device-8/report", wrong_key)
    publish(raw, "plant/device-8/private", suite3)
    calls = refused.wait(3)
    assert [(c[2].topic, c[3].code, type(c[3])) for c in calls] == [
        ("plant/device-8/private", "unauthorized_signer", mqseal.AuthenticationError),
        ("plant/device-8/report", "authentication_failed", mqseal.AuthenticationError),
        ("plant/device-8/private", "wrong_suite_for_topic", mqseal.FormatError),
    ]
    assert [c[3].signer for c in calls] == ["device-7", None, None]  # suite 4: verified inside, then refused
    assert subscriber.stats == mqseal.paho.Stats(delivered=2, duplicates=0, refused=3)


def test_paho_wrapper_signs_as_the_signer_named(connect: Connect) -> None:
    backend, gateway = two_signers()
    policy = signed_sealed_policy()
    subscriber, inbox, refused_here = listening(connect(), policy, backend, "plant/#")
    seen = Inbox()
    raw = connect()  # what was sent, to be opened here for the signer's name
    raw.on_message = seen
    subscribe(raw, "plant/#")

    unnamed = mqseal.paho.wrap(connect(), policy, gateway)
    with pytest.raises(mqseal.KeyNotFoundError) as refused:
        unnamed.publish("plant/device-8/private", b"x")
    assert refused.value.code == "no_primary_key"
    as8 = mqseal.paho.wrap(connect(), policy, gateway, signer="device-8", max_age_ms=60_000)
    publish(as8, "plant/device-8/private", b"from 8")
    as7 = mqseal.paho.wrap(connect(), policy, gateway, signer="device-7")
    publish(as7, "plant/device-7/private", b"from 7")
    inbox.wait(2)
    assert [m.payload for m in inbox.messages] == [b"from 8", b"from 7"]
    seen.wait(2)
    opener = mqseal.Opener(policy, backend)
    assert [opener.open(m.topic, m.payload).signer for m in seen.messages] == ["device-8", "device-7"]
    assert refused_here.calls == [] and subscriber.stats.delivered == 2


def test_aio_wrapper_signs_as_the_signer_named(broker: Broker) -> None:
    backend, gateway = two_signers()
    policy = signed_sealed_policy()
    refused = Refused()

    async def scenario() -> List[Any]:
        async with mqseal.aio.wrap(aio_client(broker), policy, backend) as subscriber, mqseal.aio.wrap(
            aio_client(broker), policy, gateway, signer="device-8"
        ) as publisher, mqseal.aio.wrap(aio_client(broker), policy, gateway) as unnamed:
            subscriber.on_refused = refused
            await subscriber.subscribe("plant/#", qos=1)
            with pytest.raises(mqseal.KeyNotFoundError):
                await unnamed.publish("plant/device-8/private", b"x", qos=1)
            await publisher.publish("plant/device-8/private", b"from 8", qos=1)
            # Signing as device 8 on device 7's level: its own sealer refuses, typed.
            with pytest.raises(mqseal.AuthenticationError):
                await publisher.publish("plant/device-7/private", b"x", qos=1)
            messages = await receive(subscriber, 1)
        return [m.payload for m in messages]

    assert run(scenario()) == [b"from 8"]
    assert refused.calls == []


# ---- who signed a delivered message ----


def listed_signers() -> Tuple[mqseal.Keyring, mqseal.Keyring, mqseal.TopicPolicy]:
    """The backend and a gateway signing as device-7 and device-8 (two_signers), a topic key for
    both, and rules of every suite; the signed ones list both names (no {signer} level), so
    the topic cannot tell who signed."""
    backend, gateway = two_signers()
    topic_key = mqseal.Key.generate()
    for keys in (backend, gateway):
        keys.add_with_id("telemetry", TOPIC_KEY_ID, topic_key)
    policy = mqseal.TopicPolicy()
    policy.add_signed_rule("site/+/reading", "telemetry", ["device-7", "device-8"])  # suite 2
    policy.add_signed_recipient_rule("site/+/orders", "backend", ["device-7", "device-8"])  # suite 4
    policy.add_rule("site/+/plain", "telemetry")  # suite 1
    policy.add_recipient_rule("site/+/report", "backend")  # suite 3
    return backend, gateway, policy


# What each of the two signers sends, by topic, and the signer each message is to name.
SENT_AS = {
    "device-7": [("site/1/reading", b"7 reading"), ("site/1/orders", b"7 order"),
                 ("site/1/plain", b"7 plain"), ("site/1/report", b"7 report")],
    "device-8": [("site/1/reading", b"8 reading"), ("site/1/orders", b"8 order")],
}
SIGNED_BY = {b"7 reading": "device-7", b"7 order": "device-7", b"7 plain": None, b"7 report": None,
             b"8 reading": "device-8", b"8 order": "device-8"}


def paho_signers(messages: List[mqtt.MQTTMessage]) -> Dict[bytes, Any]:
    """{payload: signer} of messages delivered by mqseal.paho, each an OpenedMessage."""
    signers: Dict[bytes, Any] = {}
    for m in messages:
        assert isinstance(m, mqseal.paho.OpenedMessage) and m.timestamp > 0
        signers[bytes(m.payload)] = m.signer
    return signers


def test_paho_messages_name_their_signer(connect: Connect) -> None:
    backend, gateway, policy = listed_signers()
    subscriber, inbox, refused = listening(connect(), policy, backend, "site/#")
    # Two topic callbacks match the orders: both get the one opened message, signer included.
    orders, orders_too = Inbox(), Inbox()
    subscriber.message_callback_add("site/+/orders", orders)
    subscriber.message_callback_add("site/1/orders", orders_too)
    for name, sent in SENT_AS.items():
        sealed_client = mqseal.paho.wrap(connect(), policy, gateway, signer=name)
        for topic, payload in sent:
            publish(sealed_client, topic, payload)

    # Read after the callbacks returned: a delivered message keeps its signer.
    inbox.wait(4)
    assert paho_signers(inbox.messages) == {
        p: s for p, s in SIGNED_BY.items() if b"order" not in p}
    both = {p: s for p, s in SIGNED_BY.items() if b"order" in p}
    orders.wait(2)
    orders_too.wait(2)
    assert paho_signers(orders.messages) == paho_signers(orders_too.messages) == both
    assert [a is b for a, b in zip(orders.messages, orders_too.messages)] == [True, True]
    assert refused.calls == [] and subscriber.stats.delivered == 6

    # An OpenedMessage made by hand (an application's own tests) is an MQTTMessage, unsigned
    # unless told.
    made = mqseal.paho.OpenedMessage(3, b"site/1/reading")
    assert (made.mid, made.topic, made.signer) == (3, "site/1/reading", None)
    assert mqseal.paho.OpenedMessage(signer="device-7").signer == "device-7"


def test_aio_messages_name_their_signer(broker: Broker) -> None:
    backend, gateway, policy = listed_signers()

    async def scenario() -> List[mqseal.aio.OpenedMessage]:
        async with mqseal.aio.wrap(aio_client(broker), policy, backend) as subscriber:
            await subscriber.subscribe("site/#", qos=1)
            for name, sent in SENT_AS.items():
                async with mqseal.aio.wrap(aio_client(broker), policy, gateway, signer=name) as publisher:
                    for topic, payload in sent:
                        await publisher.publish(topic, payload, qos=1)
            return await receive(subscriber, len(SIGNED_BY))

    messages = run(scenario())
    assert all(isinstance(m, mqseal.aio.OpenedMessage) for m in messages)
    assert {m.payload: m.signer for m in messages} == SIGNED_BY
    assert [(m.topic.value, m.qos, m.retain) for m in messages if m.payload == b"8 order"] == [
        ("site/1/orders", 1, False)]
    made = mqseal.aio.OpenedMessage("site/1/reading", b"x", 1, False, 3, None)
    assert made.signer is None and made.topic.value == "site/1/reading"
