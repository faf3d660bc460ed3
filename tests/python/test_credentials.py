"""CONNECT tokens from Python: the same tokens as C++ (tests/vectors/connect_token_v1.json)."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from collections.abc import Callable
from typing import Any

import pytest

import mqseal
from mqseal import hazmat

VECTORS = json.loads((Path(__file__).parent.parent / "vectors" / "connect_token_v1.json").read_text())


def u64(value: object) -> int:
    """64-bit integers are decimal strings in the vectors (docs/SPEC.md, section 13)."""
    assert isinstance(value, str) and value.isdigit(), f"64-bit integers are strings: {value!r}"
    return int(value)


def provisioned() -> mqseal.Provisioned:
    p = VECTORS["provisioning"]
    params = mqseal.PassphraseParams(bytes.fromhex(p["salt"]), u64(p["opslimit"]), u64(p["memlimit"]))  # bytes
    return mqseal.provision(p["username"], p["password"], params)


def test_tokens_are_identical_to_the_vectors() -> None:
    device = provisioned()
    for t in VECTORS["tokens"]:
        token = hazmat.make_connect_token_with_nonce(
            device.device_secret, t["username"], t["client_id"], u64(t["expiry_s"]), bytes.fromhex(t["nonce"])
        )
        assert token == t["token"]


def fresh_verifier() -> mqseal.TokenVerifier:
    credentials = mqseal.Credentials()
    credentials.add(provisioned().record)
    v = VECTORS["verifier"]
    return mqseal.TokenVerifier(
        credentials, max_clock_skew_s=u64(v["max_clock_skew_s"]), max_lifetime_s=u64(v["max_lifetime_s"])
    )


def outcome(verifier: mqseal.TokenVerifier, case: dict[str, object]) -> str:
    try:
        verifier.verify(str(case["username"]), str(case["client_id"]), str(case["token"]), now_s=u64(case["now_s"]))
    except mqseal.Error as e:
        return e.code
    return "ok"


@pytest.mark.parametrize("case", VECTORS["verify"], ids=lambda c: c["name"])
def test_verification_outcomes(case: dict[str, object]) -> None:
    verifier = fresh_verifier()
    assert outcome(verifier, case) == case["expect"]
    if case["expect"] == "ok":
        assert outcome(verifier, case) == "replay"  # single use


@pytest.mark.parametrize("seq", VECTORS["verify_sequences"], ids=lambda s: s["name"])
def test_verification_sequences(seq: dict[str, Any]) -> None:
    verifier = fresh_verifier()
    for step in seq["steps"]:
        assert outcome(verifier, step) == step["expect"], step["name"]


def test_a_fresh_token_per_connect(tmp_path: Path) -> None:
    device = provisioned()
    credentials = mqseal.Credentials()
    credentials.add(device.record)
    path = tmp_path / "broker.credentials"
    credentials.save(str(path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    verifier = mqseal.TokenVerifier(mqseal.Credentials.load(str(path)))
    first = mqseal.make_connect_token(device.device_secret, "device-7", "client-7")
    second = mqseal.make_connect_token(device.device_secret, "device-7", "client-7")
    assert first != second and len(first) == 81 and first.startswith("mqs1.")
    verifier.verify("device-7", "client-7", first)
    verifier.verify("device-7", "client-7", second)
    assert verifier.remembered_tokens == 2
    assert "device-7" in credentials and len(credentials) == 1
    assert "token" not in repr(device.record) and VECTORS["provisioning"]["token_key"] not in repr(device.record)


def test_tokens_from_a_keyring(tmp_path: Path) -> None:
    device = provisioned()
    keys = mqseal.Keyring()
    keys.add("connect", device.device_secret)
    credentials = mqseal.Credentials()
    credentials.add(device.record)
    verifier = mqseal.TokenVerifier(credentials)
    verifier.verify("device-7", "client-7", mqseal.make_connect_token(keys, "connect", "device-7", "client-7"))
    with pytest.raises(mqseal.KeyNotFoundError):
        mqseal.make_connect_token(keys, "absent", "device-7", "client-7")


def test_one_user_fills_only_its_own_quota() -> None:
    """Issue 8, section 2, scaled down: device-7 logs in with token after token; device-8 still logs in."""
    device = provisioned()
    other = mqseal.provision("device-8", "another password", mqseal.PassphraseParams(bytes(16), 2, 65536))
    credentials = mqseal.Credentials()
    credentials.add(device.record)
    credentials.add(other.record)
    verifier = mqseal.TokenVerifier(credentials, max_tokens_per_user=4)
    for _ in range(4):
        verifier.verify("device-7", "c", mqseal.make_connect_token(device.device_secret, "device-7", "c", lifetime_s=3600))
    for _ in range(100):
        with pytest.raises(mqseal.Error) as refused:
            verifier.verify("device-7", "c", mqseal.make_connect_token(device.device_secret, "device-7", "c"))
        assert refused.value.code == "capacity_exceeded"
    verifier.verify("device-8", "c", mqseal.make_connect_token(other.device_secret, "device-8", "c"))
    assert verifier.remembered_tokens == 5
    for bad in (0, 65537):
        with pytest.raises(mqseal.InvalidArgumentError):
            mqseal.TokenVerifier(credentials, max_tokens_per_user=bad)


def test_an_unknown_user_is_refused_like_a_wrong_token() -> None:
    device = provisioned()
    credentials = mqseal.Credentials()
    credentials.add(device.record)
    verifier = mqseal.TokenVerifier(credentials)
    token = mqseal.make_connect_token(device.device_secret, "device-7", "client-7")
    with pytest.raises(mqseal.AuthenticationError) as unknown:
        verifier.verify("device-9", "client-7", token)
    with pytest.raises(mqseal.AuthenticationError) as wrong_client:
        verifier.verify("device-7", "client-8", token)
    assert unknown.value.code == wrong_client.value.code == "authentication_failed"
    assert str(unknown.value) == str(wrong_client.value)


# A username no credentials file holds, or a client ID no MQTT broker delivers (a NUL,
# more than 65535 bytes of UTF-8) or mosquitto refuses (a control character or a
# noncharacter: it closes the connection of such a CONNECT): no token for them could ever
# verify. The third field: the verifier refuses the names by their form (malformed).
NAMES_NO_TOKEN_COULD_VERIFY_FOR = [
    ("device-7\x00x", "client-7", True),
    ("\x00", "client-7", True),
    ("device 7", "client-7", False),
    ("", "client-7", False),
    ("u" * 129, "client-7", False),
    ("device-7\x01", "client-7", True),
    ("device-7", "client\x00-7", True),
    ("device-7", "\x00", True),
    ("device-7", "c" * 65536, True),
    ("device-7", "device-7/\x01", True),
    ("device-7", "device-7/\x1f", True),
    ("device-7", "device-7\x7f", True),
    ("device-7", "device-7/\x85", True),
    ("device-7", "device-7/\x9f", True),
    ("device-7", "device-7/\ufdd0", True),
    ("device-7", "device-7/\ufdef", True),
    ("device-7", "device-7/\ufffe", True),
    ("device-7", "device-7/\U0001ffff", True),
    ("device-7", "device-7/\U0010ffff", True),
]


@pytest.mark.parametrize("username, client_id, malformed", NAMES_NO_TOKEN_COULD_VERIFY_FOR)
def test_no_token_is_made_for_a_name_no_token_could_verify_for(username: str, client_id: str, malformed: bool) -> None:
    """InvalidArgumentError from every way to make a token; the verifier refuses by their form
    the names no broker delivers or mosquitto refuses (before, a token was made for a client ID
    holding a control character or a noncharacter, which mosquitto never lets log in)."""
    device = provisioned()
    keys = mqseal.Keyring()
    keys.add("connect", device.device_secret)
    calls: list[Callable[[], object]] = [
        lambda: mqseal.make_connect_token(device.device_secret, username, client_id),
        lambda: mqseal.make_connect_token(keys, "connect", username, client_id),
        lambda: hazmat.make_connect_token_with_nonce(device.device_secret, username, client_id, 1, bytes(16)),
    ]
    for call in calls:
        with pytest.raises(mqseal.InvalidArgumentError) as refused:
            call()
        assert refused.value.code == "invalid_argument"
        assert "could verify" in str(refused.value)
    credentials = mqseal.Credentials()
    credentials.add(device.record)
    verifier = mqseal.TokenVerifier(credentials)
    token = mqseal.make_connect_token(device.device_secret, "device-7", "client-7")
    if malformed:
        with pytest.raises(mqseal.FormatError) as form:
            verifier.verify(username, client_id, token)
        assert form.value.code == "malformed"
    else:
        with pytest.raises(mqseal.AuthenticationError):
            verifier.verify(username, client_id, token)
    verifier.verify("device-7", "client-7", token)  # nothing was remembered


@pytest.mark.parametrize(
    "client_id", [" ", "~", "\xa0", "\ufdcf", "\ufdf0", "\u2028", "\ufffd", "\U0001fffd", "\U0010fffd"]
)
def test_a_token_is_made_for_the_names_next_to_those_mosquitto_refuses(client_id: str) -> None:
    """mosquitto lets these in (tests/plugin_test.cpp, NoTokenIsMadeForANameMosquittoRefuses)."""
    device = provisioned()
    credentials = mqseal.Credentials()
    credentials.add(device.record)
    verifier = mqseal.TokenVerifier(credentials)
    name = "device-7/" + client_id
    verifier.verify("device-7", name, mqseal.make_connect_token(device.device_secret, "device-7", name))
