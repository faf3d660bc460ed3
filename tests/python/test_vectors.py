"""Every known-answer vector in tests/vectors/, both ways, through the Python API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import mqseal
from mqseal import _mqseal

VECTORS = json.loads((Path(__file__).parent.parent / "vectors" / "envelope_v1.json").read_text())


def world() -> tuple[mqseal.TopicPolicy, mqseal.Keyring, dict[str, Any]]:
    keys = mqseal.Keyring()
    for k in VECTORS["keys"]:
        # Retired keys come without material: any bytes do, they are wiped on retire.
        key = mqseal.Key.from_bytes(bytes.fromhex(k["material"])) if "material" in k else mqseal.Key.generate()
        keys.add_with_id(k["name"], k["id"], key)
    for k in VECTORS["keys"]:
        if k["state"] == "primary":
            keys.promote(k["id"])
    for k in VECTORS["keys"]:
        if k["state"] == "retired":
            keys.retire(k["id"])
    policy = mqseal.TopicPolicy()
    for rule in VECTORS["policy"]:
        if rule.get("plaintext"):
            policy.add_plaintext_rule(rule["filter"])
        else:
            policy.add_rule(rule["filter"], rule["key"])
    replay = VECTORS["replay"]
    options = {
        "max_age_ms": replay["max_age_ms"],
        "max_future_skew_ms": replay["max_future_skew_ms"],
        "retained": "accept" if replay["retained"] == "accept_within_age" else "refuse",
        "retained_max_age_ms": replay["retained_max_age_ms"],
        "max_streams": replay["max_streams"],
    }
    return policy, keys, options


def test_there_are_enough_vectors() -> None:
    ok = [v for v in VECTORS["vectors"] if v["expect"] == "ok"]
    assert len(ok) >= 12
    assert len(VECTORS["vectors"]) >= len(ok) + 10


@pytest.mark.parametrize("v", [v for v in VECTORS["vectors"] if v["expect"] == "ok"], ids=lambda v: v["name"])
def test_seal_reproduces_the_envelope(v: dict[str, Any]) -> None:
    material = next(k["material"] for k in VECTORS["keys"] if k["id"] == v["key_id"])
    topic_key = _mqseal._derive_topic_key(mqseal.Key.from_bytes(bytes.fromhex(material)), v["topic"])
    assert topic_key.hex() == v["topic_key"]
    envelope = _mqseal._seal_with_header(
        topic_key, v["topic"], v["key_id"], v["timestamp_ms"], bytes.fromhex(v["sender"]), v["sequence"],
        bytes.fromhex(v["payload"]),
    )
    assert envelope.hex() == v["envelope"]


@pytest.mark.parametrize("v", VECTORS["vectors"], ids=lambda v: v["name"])
def test_open_gives_the_expected_outcome(v: dict[str, Any]) -> None:
    policy, keys, options = world()
    opener = mqseal.Opener(policy, keys, **options)
    o = v["open"]
    if v["expect"] == "ok":
        opened = opener.open(o["topic"], bytes.fromhex(v["envelope"]), retained=o["retained"], now_ms=o["now_ms"])
        assert opened.payload.hex() == v["payload"]
        assert opened.key_id == v["key_id"] and opened.sequence == v["sequence"]
    else:
        with pytest.raises(mqseal.Error) as refused:
            opener.open(o["topic"], bytes.fromhex(v["envelope"]), retained=o["retained"], now_ms=o["now_ms"])
        assert refused.value.code == v["expect"]
