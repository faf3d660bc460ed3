"""Every known-answer vector in tests/vectors/ the Python API can reach, both ways.

docs/SPEC.md, section 13, documents the files. 64-bit integers are decimal
strings in them (JSON readers that use doubles would round them): `u64`
reads them. connect_token_v1.json is checked by test_credentials.py.
Sealing with the vectors' own nonces needs the known-answer calls of
mqseal.hazmat; records_v1.json has random nonces, so its records are opened.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

import mqseal
from mqseal import hazmat

VECTORS_DIR = Path(__file__).parent.parent / "vectors"


def load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((VECTORS_DIR / name).read_text(encoding="utf-8"))
    return doc


ENVELOPE_FILES = {name: load(name) for name in ("envelope_v2.json", "envelope_v1.json")}
ENVELOPES = [(name, v) for name, doc in ENVELOPE_FILES.items() for v in doc["vectors"]]
SEQUENCES = load("sequences_v1.json")
POLICIES = load("policy_v1.json")
FILES = load("files_v1.json")
RECORDS = load("records_v1.json")


def u64(value: object) -> int:
    """A 64-bit integer of the vectors: always a string of decimal digits."""
    assert isinstance(value, str) and value.isdigit(), f"64-bit integers are strings: {value!r}"
    return int(value)


def keyring_of(keys_json: list[dict[str, Any]]) -> mqseal.Keyring:
    keys = mqseal.Keyring()
    for k in keys_json:
        # Retired keys come without material: any bytes do, they are wiped on retire.
        key = mqseal.Key.from_bytes(bytes.fromhex(k["material"])) if "material" in k else mqseal.Key.generate()
        keys.add_with_id(k["name"], k["id"], key)
    for k in keys_json:
        if k["state"] == "primary":
            keys.promote(k["id"])
    for k in keys_json:
        if k["state"] == "retired":
            keys.retire(k["id"])
    return keys


def policy_of(rules: list[dict[str, Any]]) -> mqseal.TopicPolicy:
    policy = mqseal.TopicPolicy()
    for rule in rules:
        if rule.get("plaintext"):
            policy.add_plaintext_rule(rule["filter"])
        else:
            max_age = rule.get("retained_max_age_ms")
            policy.add_rule(rule["filter"], rule["key"], retained=rule.get("retained"),
                            retained_max_age_ms=None if max_age is None else u64(max_age))
    return policy


def options_of(replay: dict[str, Any]) -> dict[str, Any]:
    return {
        "max_age_ms": u64(replay["max_age_ms"]),
        "max_future_skew_ms": u64(replay["max_future_skew_ms"]),
        "retained": "accept" if replay["retained"] == "accept_within_age" else "refuse",
        "retained_max_age_ms": u64(replay["retained_max_age_ms"]),
        "max_streams": replay["max_streams"],
    }


def world(doc: dict[str, Any]) -> tuple[mqseal.TopicPolicy, mqseal.Keyring, dict[str, Any]]:
    return policy_of(doc["policy"]), keyring_of(doc["keys"]), options_of(doc["replay"])


def rule_json(rule: mqseal.TopicRule) -> dict[str, Any]:
    if rule.plaintext:
        return {"filter": rule.filter, "plaintext": True}
    out: dict[str, Any] = {"filter": rule.filter, "key": rule.key_name}
    if rule.retained is not None:
        out["retained"] = rule.retained
        if rule.retained_max_age_ms is not None:
            out["retained_max_age_ms"] = str(rule.retained_max_age_ms)
    return out


def seal(keys_json: list[dict[str, Any]], s: dict[str, Any]) -> bytes:
    material = next(k["material"] for k in keys_json if k["id"] == s["key_id"])
    topic_key = hazmat.derive_topic_key(mqseal.Key.from_bytes(bytes.fromhex(material)), s["topic"])
    return hazmat.seal_with_header(
        topic_key, s["topic"], s["key_id"], u64(s["timestamp_ms"]), bytes.fromhex(s["sender"]),
        u64(s["sequence"]), bytes.fromhex(s["payload"]), version=s["version"], flags=s.get("flags", 0),
    )


def vector_id(named: tuple[str, dict[str, Any]]) -> str:
    return named[0].removesuffix(".json") + ":" + str(named[1]["name"])


# ---- envelope_v2.json and envelope_v1.json ----


@pytest.mark.parametrize("name", ENVELOPE_FILES)
def test_there_are_enough_vectors(name: str) -> None:
    vectors = ENVELOPE_FILES[name]["vectors"]
    ok = [v for v in vectors if v["expect"] == "ok"]
    assert len(ok) >= 12
    assert len(vectors) >= len(ok) + 10


@pytest.mark.parametrize("named", [n for n in ENVELOPES if n[1]["expect"] == "ok"], ids=vector_id)
def test_seal_reproduces_the_envelope(named: tuple[str, dict[str, Any]]) -> None:
    doc, v = ENVELOPE_FILES[named[0]], named[1]
    material = next(k["material"] for k in doc["keys"] if k["id"] == v["key_id"])
    topic_key = hazmat.derive_topic_key(mqseal.Key.from_bytes(bytes.fromhex(material)), v["topic"])
    assert topic_key.hex() == v["topic_key"]
    assert seal(doc["keys"], v).hex() == v["envelope"]


@pytest.mark.parametrize("named", ENVELOPES, ids=vector_id)
def test_open_gives_the_expected_outcome(named: tuple[str, dict[str, Any]]) -> None:
    v = named[1]
    policy, keys, options = world(ENVELOPE_FILES[named[0]])
    opener = mqseal.Opener(policy, keys, **options)
    o = v["open"]
    if v["expect"] == "ok":
        opened = opener.open(o["topic"], bytes.fromhex(v["envelope"]), retained=o["retained"], now_ms=u64(o["now_ms"]))
        assert opened.payload.hex() == v["payload"]
        assert opened.key_id == v["key_id"] and opened.sequence == u64(v["sequence"])
    else:
        with pytest.raises(mqseal.Error) as refused:
            opener.open(o["topic"], bytes.fromhex(v["envelope"]), retained=o["retained"], now_ms=u64(o["now_ms"]))
        assert refused.value.code == v["expect"]


# ---- sequences_v1.json ----


@pytest.mark.parametrize("seq", SEQUENCES["sequences"], ids=lambda s: s["name"])
def test_delivery_sequence(seq: dict[str, Any]) -> None:
    opener = mqseal.Opener(policy_of(SEQUENCES["policy"]), keyring_of(SEQUENCES["keys"]), **options_of(seq["replay"]))
    for step in seq["steps"]:
        envelope = bytes.fromhex(step["envelope"])
        if "seal" in step:
            assert seal(SEQUENCES["keys"], step["seal"]) == envelope, step["label"]
        d = step["deliver"]
        try:
            opened = opener.open(d["topic"], envelope, retained=d["retained"], now_ms=u64(d["now_ms"]))
        except mqseal.Error as e:
            assert e.code == step["expect"], step["label"]
        else:
            assert step["expect"] == "ok", step["label"]
            assert opened.payload.hex() == step["payload"] and opened.sealed == step["sealed"], step["label"]


# ---- policy_v1.json ----


@pytest.mark.parametrize("case", POLICIES["resolve"], ids=lambda c: c["name"])
def test_policy_resolution(case: dict[str, Any]) -> None:
    for rules in (case["rules"], case["rules"][::-1]):  # the order never matters
        policy = policy_of(rules)
        for c in case["resolve"]:
            if "topic_hex" in c:  # not valid UTF-8: the binding takes str only
                continue
            if c["expect"] == "ok":
                assert rule_json(policy.resolve(c["topic"])) == c["rule"], c["topic"]
            else:
                with pytest.raises(mqseal.Error) as refused:
                    policy.resolve(c["topic"])
                assert refused.value.code == c["expect"], c["topic"]


@pytest.mark.parametrize("case", POLICIES["build"], ids=lambda c: c["name"])
def test_policy_building(case: dict[str, Any]) -> None:
    if case["expect"] == "ok":
        policy_of(case["rules"])
    else:
        with pytest.raises(mqseal.Error) as refused:
            policy_of(case["rules"])
        assert refused.value.code == case["expect"]


# ---- files_v1.json ----


@pytest.mark.parametrize("case", FILES["policy"], ids=lambda c: c["name"])
def test_policy_file(case: dict[str, Any]) -> None:
    if case["expect"] == "ok":
        assert [rule_json(r) for r in mqseal.TopicPolicy.parse(case["text"]).rules] == case["rules"]
    else:
        with pytest.raises(mqseal.Error) as refused:
            mqseal.TopicPolicy.parse(case["text"])
        assert refused.value.code == case["expect"]


def write_private(path: Path, text: str) -> str:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    return str(path)


@pytest.mark.parametrize("case", FILES["keyring"], ids=lambda c: c["name"])
def test_keyring_file(case: dict[str, Any], tmp_path: Path) -> None:
    path = write_private(tmp_path / "keyring", case["text"])
    if case["expect"] != "ok":
        with pytest.raises(mqseal.Error) as refused:
            mqseal.Keyring.load(path)
        assert refused.value.code == case["expect"]
        return
    keys = mqseal.Keyring.load(path)
    infos = keys.list()
    assert [(i.name, i.id, i.state.name.lower()) for i in infos] == [
        (k["name"], k["id"], k["state"]) for k in case["keys"]
    ]
    for info, want in zip(infos, case["keys"]):
        if "argon2id" in want:
            a = want["argon2id"]
            assert info.passphrase is not None
            assert (info.passphrase.salt.hex(), info.passphrase.opslimit, info.passphrase.memlimit) == (
                a["salt"], u64(a["opslimit"]), u64(a["memlimit"]))
        else:
            assert info.passphrase is None
    keys.save(str(tmp_path / "written"))
    assert (tmp_path / "written").read_text(encoding="utf-8") == case["written"]


@pytest.mark.parametrize("case", FILES["credentials"], ids=lambda c: c["name"])
def test_credentials_file(case: dict[str, Any], tmp_path: Path) -> None:
    path = write_private(tmp_path / "credentials", case["text"])
    if case["expect"] != "ok":
        with pytest.raises(mqseal.Error) as refused:
            mqseal.Credentials.load(path)
        assert refused.value.code == case["expect"]
        return
    credentials = mqseal.Credentials.load(path)
    assert len(credentials) == len(case["users"])
    assert all(u["username"] in credentials for u in case["users"])
    credentials.save(str(tmp_path / "written"))
    assert (tmp_path / "written").read_text(encoding="utf-8") == case["written"]


# ---- records_v1.json ----


@pytest.mark.parametrize("case", RECORDS["records"], ids=lambda c: c["name"])
def test_record_opens_to_the_expected_outcome(case: dict[str, Any]) -> None:
    cipher = mqseal.RecordCipher(keyring_of(RECORDS["keys"]), RECORDS["key_name"], RECORDS["purpose"])
    associated, record = bytes.fromhex(case["associated"]), bytes.fromhex(case["record"])
    if case["expect"] == "ok":
        assert cipher.open(associated, record).hex() == case["payload"]
        assert cipher.open(associated, cipher.seal(associated, bytes.fromhex(case["payload"]))).hex() == case["payload"]
    else:
        with pytest.raises(mqseal.Error) as refused:
            cipher.open(associated, record)
        assert refused.value.code == case["expect"]
