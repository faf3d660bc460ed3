"""Every argument of the public Python API, given a bad value, raises the documented error.

The package promises: every error is an mqseal.Error, wrong argument types are TypeError.
So an int out of its C++ parameter's range (negative, past 2**64-1, 2**32-1 or 255), and a
str that UTF-8 cannot encode (a lone surrogate), are InvalidArgumentError, whichever call
gets them; a float or a str where an int is wanted stays a TypeError. A bytes-like object
that is not contiguous (memoryview(b)[::2]) is as good as any other: it is taken, and gives
what its bytes give in one contiguous piece. A file path names the file Python's open() would
(os.fsencode). A TypeError of a call that takes a secret or a plaintext (Sealer.seal,
Opener.open, and the client wrappers' publish through them) shows no argument's value. A bool
parameter takes True or False, nothing else.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import pytest

import mqseal
from mqseal import hazmat

TOPIC = "plant/7/telemetry"
SALT = b"0123456789abcdef"
SURROGATE = "a\ud800b"  # a str no UTF-8 can hold
U64 = 2**64 - 1
U32 = 2**32 - 1
U8 = 2**8 - 1


@dataclasses.dataclass
class World:
    """One of everything, built once: keys, a policy, a sealer and opener, a device's credentials."""

    keys: mqseal.Keyring
    key_id: int
    policy: mqseal.TopicPolicy
    envelope: bytes
    params: mqseal.PassphraseParams
    device: mqseal.Provisioned
    credentials: mqseal.Credentials
    signer_public: bytes


def make_world() -> World:
    keys = mqseal.Keyring()
    key_id = keys.generate("telemetry")
    signer_id = keys.generate_signing_key("me")
    policy = mqseal.TopicPolicy()
    policy.add_rule("plant/+/telemetry", "telemetry")
    params = mqseal.PassphraseParams(SALT, 1, 8192)
    device = mqseal.provision("device-7", "pw", params)
    credentials = mqseal.Credentials()
    credentials.add(device.record)
    envelope = mqseal.Sealer(policy, keys).seal(TOPIC, b"21.5 C")
    return World(keys, key_id, policy, envelope, params, device, credentials, keys.public_key(signer_id))


W = make_world()


def spread(data: bytes) -> memoryview:
    """A view of `data`'s bytes that is not contiguous (every other byte of a buffer twice as long)."""
    view = memoryview(bytes(b for x in data for b in (x, 0)))[::2]
    assert not view.contiguous and view.tobytes() == data
    return view


# ---- integers ----

# (name, the call with the bad value in the argument, the largest value the argument takes)
IntCall = Tuple[str, Callable[[Any], object], int]


def rule_calls() -> List[IntCall]:
    p = mqseal.TopicPolicy()
    return [
        ("add_rule retained_max_age_ms", lambda v: p.add_rule("a/#", "k", retained="accept", retained_max_age_ms=v), U64),
        ("add_signed_rule retained_max_age_ms",
         lambda v: p.add_signed_rule("b/#", "k", ["me"], retained="accept", retained_max_age_ms=v), U64),
        ("add_recipient_rule retained_max_age_ms",
         lambda v: p.add_recipient_rule("c/#", "r", retained="accept", retained_max_age_ms=v), U64),
        ("add_signed_recipient_rule retained_max_age_ms",
         lambda v: p.add_signed_recipient_rule("d/#", "r", ["me"], retained="accept", retained_max_age_ms=v), U64),
        ("add_compact_rule retained_max_age_ms",
         lambda v: p.add_compact_rule("e/#", "k", retained="accept", retained_max_age_ms=v), U64),
        ("add_aes256gcm_rule retained_max_age_ms",
         lambda v: p.add_aes256gcm_rule("f/#", "k", retained="accept", retained_max_age_ms=v), U64),
    ]


def key_id_calls() -> List[IntCall]:
    k = W.keys.clone()
    key = mqseal.Key.generate()
    return [
        ("Keyring.add_with_id id", lambda v: k.add_with_id("other", v, key), U32),
        ("Keyring.add_signing_key_with_id id", lambda v: k.add_signing_key_with_id("them", v, key), U32),
        ("Keyring.add_trusted_signer id", lambda v: k.add_trusted_signer("they", v, W.signer_public), U32),
        ("Keyring.add_recipient_key_with_id id", lambda v: k.add_recipient_key_with_id("r", v, key), U32),
        ("Keyring.add_recipient_public id", lambda v: k.add_recipient_public("r2", v, W.signer_public), U32),
        ("Keyring.promote id", lambda v: k.promote(v), U32),
        ("Keyring.retire id", lambda v: k.retire(v), U32),
        ("Keyring.public_key id", lambda v: k.public_key(v), U32),
        ("Keyring.info id", lambda v: k.info(v), U32),
    ]


def call_ints() -> List[IntCall]:
    opener = mqseal.Opener(W.policy, W.keys)
    guard = mqseal.ReplayGuard()
    verifier = mqseal.TokenVerifier(W.credentials)
    secret = W.device.device_secret
    sender = bytes(16)
    key = bytes(32)
    redis = "redis://127.0.0.1:1/0"  # never reached: the arguments are refused first
    return [
        ("PassphraseParams opslimit", lambda v: mqseal.PassphraseParams(SALT, v, 8192), U64),
        ("PassphraseParams memlimit", lambda v: mqseal.PassphraseParams(SALT, 1, v), U64),
        ("Opener.open now_ms", lambda v: opener.open(TOPIC, W.envelope, now_ms=v), U64),
        ("ReplayGuard.check sequence", lambda v: guard.check(TOPIC, sender, v, 1), U64),
        ("ReplayGuard.check timestamp_ms", lambda v: guard.check(TOPIC, sender, 1, v), U64),
        ("ReplayGuard.check now_ms", lambda v: guard.check(TOPIC, sender, 1, 1, now_ms=v), U64),
        ("make_connect_token lifetime_s", lambda v: mqseal.make_connect_token(secret, "device-7", "c", lifetime_s=v), U64),
        ("make_connect_token now_s", lambda v: mqseal.make_connect_token(secret, "device-7", "c", now_s=v), U64),
        ("make_connect_token (keyring) lifetime_s",
         lambda v: mqseal.make_connect_token(W.keys, "telemetry", "device-7", "c", lifetime_s=v), U64),
        ("make_connect_token (keyring) now_s",
         lambda v: mqseal.make_connect_token(W.keys, "telemetry", "device-7", "c", now_s=v), U64),
        ("TokenVerifier.verify now_s", lambda v: verifier.verify("device-7", "c", "token", now_s=v), U64),
        ("file_replay_store capacity", lambda v: mqseal.file_replay_store("/nonexistent/dir/store", capacity=v), U64),
        ("redis_replay_store capacity", lambda v: mqseal.redis_replay_store(redis, capacity=v), U64),
        ("redis_replay_store connect_timeout_ms",
         lambda v: mqseal.redis_replay_store(redis, capacity=10, connect_timeout_ms=v), U32),
        ("redis_replay_store command_timeout_ms",
         lambda v: mqseal.redis_replay_store(redis, capacity=10, command_timeout_ms=v), U32),
        ("redis_replay_store retry_interval_ms",
         lambda v: mqseal.redis_replay_store(redis, capacity=10, retry_interval_ms=v), U32),
        ("redis_replay_store max_clock_difference_s",
         lambda v: mqseal.redis_replay_store(redis, capacity=10, max_clock_difference_s=v), U32),
        ("hazmat.seal_with_header key_id", lambda v: hazmat.seal_with_header(key, TOPIC, v, 1, sender, 1, b""), U32),
        ("hazmat.seal_with_header timestamp_ms",
         lambda v: hazmat.seal_with_header(key, TOPIC, 1, v, sender, 1, b""), U64),
        ("hazmat.seal_with_header sequence", lambda v: hazmat.seal_with_header(key, TOPIC, 1, 1, sender, v, b""), U64),
        ("hazmat.seal_with_header version",
         lambda v: hazmat.seal_with_header(key, TOPIC, 1, 1, sender, 1, b"", version=v), U8),
        ("hazmat.seal_with_header flags", lambda v: hazmat.seal_with_header(key, TOPIC, 1, 1, sender, 1, b"", flags=v), U8),
        ("hazmat.make_connect_token_with_nonce expiry_s",
         lambda v: hazmat.make_connect_token_with_nonce(secret, "device-7", "c", v, bytes(16)), U64),
    ]


# Every option field that is an int, each given to what takes it: the dataclass, and the keyword.
REPLAY_INT_FIELDS = ["max_age_ms", "max_future_skew_ms", "retained_max_age_ms", "max_streams", "max_evicted_streams"]
SEALER_INT_FIELDS = ["topic_cache_capacity", "recipient_session_max_age_ms"]
OPENER_INT_FIELDS = ["topic_cache_capacity", "max_claims_per_key_name", "recipient_session_capacity"]
VERIFIER_INT_FIELDS = ["max_clock_skew_s", "max_lifetime_s", "max_tokens_per_user"]


def option_ints() -> List[IntCall]:
    def each(field: str, make: Callable[[Dict[str, Any]], object]) -> Callable[[Any], object]:
        return lambda v: make({field: v})

    calls: List[IntCall] = []
    for f in REPLAY_INT_FIELDS:
        calls += [
            (f"ReplayOptions.{f}", each(f, lambda kw: mqseal.ReplayGuard(mqseal.ReplayOptions(**kw))), U64),
            (f"ReplayGuard({f}=)", each(f, lambda kw: mqseal.ReplayGuard(**kw)), U64),
            (f"Opener({f}=)", each(f, lambda kw: mqseal.Opener(W.policy, W.keys, **kw)), U64),
        ]
    for f in SEALER_INT_FIELDS:
        calls += [
            (f"SealerOptions.{f}", each(f, lambda kw: mqseal.Sealer(W.policy, W.keys, mqseal.SealerOptions(**kw))), U64),
            (f"Sealer({f}=)", each(f, lambda kw: mqseal.Sealer(W.policy, W.keys, **kw)), U64),
        ]
    for f in OPENER_INT_FIELDS:
        calls += [
            (f"OpenerOptions.{f}", each(f, lambda kw: mqseal.Opener(W.policy, W.keys, mqseal.OpenerOptions(**kw))), U64),
            (f"Opener({f}=)", each(f, lambda kw: mqseal.Opener(W.policy, W.keys, **kw)), U64),
        ]
    for f in VERIFIER_INT_FIELDS:
        calls += [
            (f"VerifierOptions.{f}",
             each(f, lambda kw: mqseal.TokenVerifier(W.credentials, mqseal.VerifierOptions(**kw))), U64),
            (f"TokenVerifier({f}=)", each(f, lambda kw: mqseal.TokenVerifier(W.credentials, **kw)), U64),
        ]
    return calls


INT_CALLS = rule_calls() + key_id_calls() + call_ints() + option_ints()


@pytest.mark.parametrize("case", INT_CALLS, ids=lambda c: c[0])
def test_an_int_out_of_range_is_invalid_argument(case: IntCall) -> None:
    name, call, largest = case
    for bad in (-1, -(2**70), largest + 1, 2**64, 10**5000):
        with pytest.raises(mqseal.InvalidArgumentError, match="out of range") as caught:
            call(bad)
        assert caught.value.code == "invalid_argument", name


@pytest.mark.parametrize("case", INT_CALLS, ids=lambda c: c[0])
def test_an_int_that_is_no_int_is_a_type_error(case: IntCall) -> None:
    name, call, _ = case
    for bad in (1.0, "1", b"1"):
        with pytest.raises(TypeError):
            call(bad)


class Index:
    """Not an int, but one by __index__ (as numpy's integers are)."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value


def test_ints_in_range_and_integer_like_values_are_taken() -> None:
    guard = mqseal.ReplayGuard()
    # The largest value of each width passes the conversion (the core judges the rest).
    guard.check(TOPIC, bytes(16), U64, 1_000, now_ms=1_000)
    # The stubs say int; objects with __index__ are taken as pybind11 took them.
    guard.check(TOPIC, bytes(range(16)), Index(5), Index(1_000), now_ms=Index(1_000))  # type: ignore[arg-type]
    key = bytes(32)
    top = hazmat.seal_with_header(key, TOPIC, U32, U64, bytes(16), U64, b"", version=1, flags=0)
    assert mqseal.parse_header(top).key_id == U32 and mqseal.parse_header(top).sequence == U64
    k = mqseal.Keyring()
    k.add_with_id("name", Index(7), mqseal.Key.generate())  # type: ignore[arg-type]
    assert k.info(7).id == 7
    # bool is an int in Python (True == 1): taken as one, here as everywhere else.
    assert mqseal.PassphraseParams(SALT, True, 8192).opslimit == 1
    assert mqseal.ReplayGuard(max_age_ms=Index(5)).tracked_streams == 0  # type: ignore[arg-type]


# ---- text ----

TextCall = Tuple[str, Callable[[str], object]]


def text_calls() -> List[TextCall]:
    keys = W.keys.clone()
    key = mqseal.Key.generate()
    p = mqseal.TopicPolicy()
    sealer = mqseal.Sealer(W.policy, W.keys)
    opener = mqseal.Opener(W.policy, W.keys)
    guard = mqseal.ReplayGuard()
    verifier = mqseal.TokenVerifier(W.credentials)
    secret = W.device.device_secret
    return [
        ("Sealer.seal topic", lambda s: sealer.seal(s, b"x")),
        ("Opener.open topic", lambda s: opener.open(s, W.envelope)),
        ("ReplayGuard.check topic", lambda s: guard.check(s, bytes(16), 1, 1)),
        ("ReplayGuard.check key_name", lambda s: guard.check(TOPIC, bytes(16), 1, 1, key_name=s)),
        ("ReplayGuard.watermark_ms key_name", lambda s: guard.watermark_ms(s)),
        ("TopicPolicy.resolve topic", lambda s: W.policy.resolve(s)),
        ("TopicPolicy.add_rule filter", lambda s: p.add_rule(s, "k")),
        ("TopicPolicy.add_rule key_name", lambda s: p.add_rule("a/#", s)),
        ("TopicPolicy.add_rule retained", lambda s: p.add_rule("a/#", "k", retained=s)),
        ("TopicPolicy.add_signed_rule signers", lambda s: p.add_signed_rule("b/#", "k", [s])),
        ("TopicPolicy.add_recipient_rule recipient", lambda s: p.add_recipient_rule("c/#", s)),
        ("TopicPolicy.add_signed_recipient_rule filter", lambda s: p.add_signed_recipient_rule(s, "r", ["me"])),
        ("TopicPolicy.add_compact_rule key_name", lambda s: p.add_compact_rule("e/#", s)),
        ("TopicPolicy.add_aes256gcm_rule key_name", lambda s: p.add_aes256gcm_rule("f/#", s)),
        ("TopicPolicy.add_plaintext_rule filter", lambda s: p.add_plaintext_rule(s)),
        ("TopicPolicy.parse text", lambda s: mqseal.TopicPolicy.parse(s)),
        ("TopicPolicy.load path", lambda s: mqseal.TopicPolicy.load(s)),
        ("Keyring.generate name", lambda s: keys.generate(s)),
        ("Keyring.add name", lambda s: keys.add(s, key)),
        ("Keyring.add_with_id name", lambda s: keys.add_with_id(s, 99, key)),
        ("Keyring.generate_signing_key signer", lambda s: keys.generate_signing_key(s)),
        ("Keyring.add_signing_key_with_id signer", lambda s: keys.add_signing_key_with_id(s, 98, key)),
        ("Keyring.add_trusted_signer signer", lambda s: keys.add_trusted_signer(s, 97, W.signer_public)),
        ("Keyring.generate_recipient_key recipient", lambda s: keys.generate_recipient_key(s)),
        ("Keyring.add_recipient_key_with_id recipient", lambda s: keys.add_recipient_key_with_id(s, 96, key)),
        ("Keyring.add_recipient_public recipient", lambda s: keys.add_recipient_public(s, 95, W.signer_public)),
        ("Keyring.primary name", lambda s: keys.primary(s)),
        ("Keyring.primary_signing_key signer", lambda s: keys.primary_signing_key(s)),
        ("Keyring.save path", lambda s: keys.save(s)),
        ("Keyring.load path", lambda s: mqseal.Keyring.load(s)),
        ("Keyring.parse text", lambda s: mqseal.Keyring.parse(s)),
        ("Key.from_passphrase passphrase", lambda s: mqseal.Key.from_passphrase(s, W.params)),
        ("provision username", lambda s: mqseal.provision(s, "pw", W.params)),
        ("provision password", lambda s: mqseal.provision("device-7", s, W.params)),
        ("make_connect_token username", lambda s: mqseal.make_connect_token(secret, s, "c")),
        ("make_connect_token client_id", lambda s: mqseal.make_connect_token(secret, "device-7", s)),
        ("make_connect_token (keyring) key_name", lambda s: mqseal.make_connect_token(W.keys, s, "device-7", "c")),
        ("Credentials.__contains__ username", lambda s: s in W.credentials),
        ("Credentials.save path", lambda s: W.credentials.save(s)),
        ("Credentials.load path", lambda s: mqseal.Credentials.load(s)),
        ("TokenVerifier.verify username", lambda s: verifier.verify(s, "c", "token")),
        ("TokenVerifier.verify client_id", lambda s: verifier.verify("device-7", s, "token")),
        ("TokenVerifier.verify token", lambda s: verifier.verify("device-7", "c", s)),
        ("RecordCipher key_name", lambda s: mqseal.RecordCipher(W.keys, s, "purpose")),
        ("RecordCipher purpose", lambda s: mqseal.RecordCipher(W.keys, "telemetry", s)),
        ("file_replay_store path", lambda s: mqseal.file_replay_store(s, capacity=10)),
        ("redis_replay_store url", lambda s: mqseal.redis_replay_store(s, capacity=10)),
        ("redis_replay_store key_namespace",
         lambda s: mqseal.redis_replay_store("redis://127.0.0.1:1/0", capacity=10, key_namespace=s)),
        ("SealerOptions.signer", lambda s: mqseal.Sealer(W.policy, W.keys, mqseal.SealerOptions(signer=s))),
        ("Sealer(signer=)", lambda s: mqseal.Sealer(W.policy, W.keys, signer=s)),
        ("OpenerOptions.replay_group",
         lambda s: mqseal.Opener(W.policy, W.keys, replay_store=mqseal.memory_replay_store(), replay_group=s)),
        ("ReplayOptions.retained", lambda s: mqseal.ReplayGuard(retained=s)),
        ("hazmat.derive_topic_key topic", lambda s: hazmat.derive_topic_key(key, s)),
        ("hazmat.seal_with_header topic", lambda s: hazmat.seal_with_header(bytes(32), s, 1, 1, bytes(16), 1, b"")),
        ("hazmat.make_connect_token_with_nonce username",
         lambda s: hazmat.make_connect_token_with_nonce(secret, s, "c", 1, bytes(16))),
        ("hazmat.make_connect_token_with_nonce client_id",
         lambda s: hazmat.make_connect_token_with_nonce(secret, "device-7", s, 1, bytes(16))),
    ]


@pytest.mark.parametrize("case", text_calls(), ids=lambda c: c[0])
def test_a_str_utf8_cannot_hold_is_invalid_argument(case: TextCall) -> None:
    name, call = case
    with pytest.raises(mqseal.InvalidArgumentError, match="surrogate") as caught:
        call(SURROGATE)
    assert caught.value.code == "invalid_argument", name


def test_a_path_names_the_file_python_names(tmp_path: Path) -> None:
    # A file whose name is not UTF-8: Python names it with a surrogate per undecodable byte
    # (os.fsdecode, os.listdir), and so does mqseal, as open() does; bytes name it too.
    name = os.fsdecode(b"keys-\xff")
    assert name == "keys-\udcff"
    W.keys.save(str(tmp_path / name))
    assert os.listdir(tmp_path) == [name]
    assert len(mqseal.Keyring.load(str(tmp_path / name))) == len(W.keys)
    assert len(mqseal.Keyring.load(os.fsencode(tmp_path / name))) == len(W.keys)  # type: ignore[arg-type]
    store = mqseal.file_replay_store(str(tmp_path / name) + ".store", capacity=10)
    assert os.path.exists(os.fsencode(tmp_path) + b"/keys-\xff.store") and store.capacity == 10
    with pytest.raises(mqseal.InvalidArgumentError, match="NUL"):
        mqseal.Keyring.load(str(tmp_path / name) + "\0x")


def test_a_redis_url_holding_a_nul_is_refused_not_dialled() -> None:
    # The host was checked and dialled as a C string: "127.0.0.1\0x" passed as 127.0.0.1.
    for url in ("redis://127.0.0.1\0x:1/0", "redis://[::1\0x]:1/0"):
        with pytest.raises(mqseal.InvalidArgumentError, match="NUL"):
            mqseal.redis_replay_store(url, capacity=10, connect_timeout_ms=50)


def test_the_client_wrappers_pass_bad_values_on_as_invalid_argument() -> None:
    import aiomqtt
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    import mqseal.aio
    import mqseal.paho

    def paho_client() -> mqtt.Client:
        return mqtt.Client(CallbackAPIVersion.VERSION2, client_id="device-7")

    def aio_client(**login: Any) -> aiomqtt.Client:
        return aiomqtt.Client("127.0.0.1", **login)

    sealed_paho = mqseal.paho.wrap(paho_client(), W.policy, W.keys)
    sealed_aio = mqseal.aio.wrap(aio_client, W.policy, W.keys)
    calls: List[Callable[[], object]] = [
        lambda: mqseal.paho.wrap(paho_client(), W.policy, W.keys, max_age_ms=-1),
        lambda: mqseal.paho.wrap(paho_client(), W.policy, W.keys, replay_store=mqseal.memory_replay_store(),
                                 replay_group=SURROGATE),
        lambda: mqseal.paho.wrap(paho_client(), W.policy, W.keys, signer=SURROGATE),
        lambda: sealed_paho.use_connect_tokens(W.keys, "telemetry", "device-7", "device-7", lifetime_s=2**64),
        lambda: sealed_paho.use_connect_tokens(W.keys, SURROGATE, "device-7", "device-7"),
        lambda: sealed_paho.publish("plant/\udc80/telemetry", b"x"),
        lambda: mqseal.aio.wrap(aio_client, W.policy, W.keys, max_streams=2**64),
        lambda: sealed_aio.use_connect_tokens(W.keys, "telemetry", "device-7", "device-7", lifetime_s=-1),
        lambda: sealed_aio.use_connect_tokens(W.keys, "telemetry", SURROGATE, "device-7"),
        # Names no token could verify for (a NUL no broker delivers): refused at once, not at connect.
        lambda: sealed_paho.use_connect_tokens(W.keys, "telemetry", "device-7\0x", "device-7"),
        lambda: sealed_paho.use_connect_tokens(W.keys, "telemetry", "device-7", "device-7\0"),
        lambda: sealed_aio.use_connect_tokens(W.keys, "telemetry", "device-7\0x", "device-7"),
        lambda: sealed_aio.use_connect_tokens(W.keys, "telemetry", "device-7", "device-7\0"),
        # ... nor a control character mosquitto refuses (it closes the connection of such a CONNECT).
        lambda: sealed_paho.use_connect_tokens(W.keys, "telemetry", "device-7", "device-7/\x1b"),
        lambda: sealed_aio.use_connect_tokens(W.keys, "telemetry", "device-7", "device-7/\x1b"),
    ]
    for call in calls:
        with pytest.raises(mqseal.InvalidArgumentError):
            call()


# ---- bytes-like objects that are not contiguous ----


def test_a_buffer_that_is_not_contiguous_is_taken_as_its_bytes(tmp_path: Path) -> None:
    keys, policy = W.keys, W.policy
    sealer, opener = mqseal.Sealer(policy, keys), mqseal.Opener(policy, keys)
    # Payloads and envelopes, small and large (large ones are sealed and opened without the GIL).
    for payload in (b"21.5 C", bytes(range(256)) * 100):
        envelope = sealer.seal(TOPIC, spread(payload))
        assert opener.open(TOPIC, spread(envelope)).payload == payload
        assert mqseal.parse_header(spread(envelope)).sequence == mqseal.parse_header(envelope).sequence
    cipher = mqseal.RecordCipher(keys, "telemetry", "records")
    record = cipher.seal(spread(b"file name"), spread(b"record"))
    assert cipher.open(spread(b"file name"), spread(record)) == b"record"
    # Fixed sizes: salts, sender IDs, nonces, public keys.
    assert mqseal.PassphraseParams(spread(SALT), 1, 8192).salt == SALT
    mqseal.ReplayGuard().check(TOPIC, spread(bytes(range(16))), 1, 1_000, now_ms=1_000)
    other = keys.clone()
    other.add_trusted_signer("they", 1000, spread(W.signer_public))
    assert other.public_key(1000) == W.signer_public
    other.add_recipient_public("them", 1001, spread(W.signer_public))
    # Key material: the same key from its bytes however they lie.
    raw = bytes(range(32))
    assert mqseal.Key.from_bytes(spread(raw)).same_bytes(mqseal.Key.from_bytes(raw))
    header = (raw, TOPIC, 1, 2, bytes(range(16)), 3)
    assert hazmat.seal_with_header(spread(raw), TOPIC, 1, 2, spread(bytes(range(16))), 3, spread(b"xy")) == \
        hazmat.seal_with_header(*header, b"xy")
    secret = W.device.device_secret
    assert hazmat.make_connect_token_with_nonce(secret, "device-7", "c", 5, spread(bytes(16))) == \
        hazmat.make_connect_token_with_nonce(secret, "device-7", "c", 5, bytes(16))
    # Secrets: passwords, passphrases, keyring text, tokens.
    assert mqseal.Key.from_passphrase(spread(b"pw"), W.params).same_bytes(mqseal.Key.from_passphrase("pw", W.params))
    assert mqseal.provision("device-7", spread(b"pw"), W.params).device_secret.same_bytes(secret)
    keys.save(str(tmp_path / "keys"))
    text = (tmp_path / "keys").read_bytes()
    parsed = mqseal.Keyring.parse(spread(text))
    assert opener.open(TOPIC, mqseal.Sealer(policy, parsed).seal(TOPIC, b"k")).payload == b"k"
    verifier = mqseal.TokenVerifier(W.credentials)
    token = mqseal.make_connect_token(secret, "device-7", "c")
    verifier.verify("device-7", "c", spread(token.encode()))
    with pytest.raises(mqseal.ReplayError):  # it was that token
        verifier.verify("device-7", "c", token)


def test_a_multidimensional_buffer_is_taken_as_its_bytes_in_c_order() -> None:
    data = bytes(range(64))
    rows = memoryview(data).cast("B", (8, 8))[::2]  # rows 0, 2, 4, 6: 32 bytes, not contiguous
    assert not rows.contiguous
    assert mqseal.Key.from_bytes(rows).same_bytes(mqseal.Key.from_bytes(rows.tobytes()))
    sealer, opener = mqseal.Sealer(W.policy, W.keys), mqseal.Opener(W.policy, W.keys)
    assert opener.open(TOPIC, sealer.seal(TOPIC, rows)).payload == rows.tobytes()


# ---- wrong types ----


def test_wrong_types_stay_type_errors() -> None:
    sealer = mqseal.Sealer(W.policy, W.keys)
    for bad in (None, 5, 1.5, ["x"]):
        with pytest.raises(TypeError):
            sealer.seal(bad, b"x")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            mqseal.ReplayGuard(mqseal.ReplayOptions(retained=bad))  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            mqseal.Sealer(W.policy, W.keys, mqseal.SealerOptions(signer=bad))  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            mqseal.TopicPolicy().add_signed_rule("a/#", "k", [bad])  # type: ignore[list-item]
    for bad_int in (None, 1.5, "5", b"5"):
        with pytest.raises(TypeError, match="max_age_ms"):
            mqseal.ReplayGuard(max_age_ms=bad_int)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            mqseal.Opener(W.policy, W.keys).open(TOPIC, W.envelope, now_ms=bad_int)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        mqseal.Key.from_bytes("32 characters of text, not bytes")  # type: ignore[arg-type]


def test_option_errors_name_the_option() -> None:
    with pytest.raises(mqseal.InvalidArgumentError, match="max_lifetime_s"):
        mqseal.TokenVerifier(W.credentials, max_lifetime_s=-5)
    with pytest.raises(mqseal.InvalidArgumentError, match="replay_group"):
        mqseal.Opener(W.policy, W.keys, replay_store=mqseal.memory_replay_store(), replay_group="\udfff")


SECRET = "hunter2, not for logs"


def test_a_type_error_shows_the_types_of_secret_arguments_never_their_values() -> None:
    # pybind11 writes every argument's repr into a call's TypeError ("Invoked with: ..."); for
    # calls that take a password, a token, key bytes or a plaintext, mqseal writes their types.
    api: Any = mqseal  # wrong calls on purpose: no static types
    verifier: Any = mqseal.TokenVerifier(W.credentials)
    cipher: Any = mqseal.RecordCipher(W.keys, "telemetry", "records")
    secret = SECRET.encode()
    calls: List[Callable[[], object]] = [
        lambda: api.provision("device-7", bytearray(secret), None),
        lambda: api.provision("device-7", SECRET, W.params, 1),  # one argument too many
        lambda: api.Key.from_passphrase(SECRET, 5),
        lambda: api.Key.from_bytes(secret, 1),
        lambda: api.Keyring.parse(SECRET, extra=1),
        lambda: verifier.verify(7, "c", SECRET),
        lambda: verifier.verify("device-7", "c", SECRET, 5),  # now_s is keyword-only
        lambda: cipher.seal(b"associated", secret, 3),
        lambda: cipher.open(b"associated", secret, 3),
        lambda: hazmat.seal_with_header(secret, TOPIC, 1.5, 1, bytes(16), 1, b""),  # type: ignore[arg-type]
    ]
    for call in calls:
        with pytest.raises(TypeError) as caught:
            call()
        message = str(caught.value)
        assert "incompatible function arguments" in message, message  # the signatures stay
        assert SECRET not in message and "hunter2" not in message, message
        assert "Invoked with arguments of types: " in message, message
    # The calls themselves are as before.
    assert mqseal.Key.from_bytes(bytes(32)).same_bytes(mqseal.Key.from_bytes(bytearray(32)))
    with pytest.raises(mqseal.FormatError):
        mqseal.TokenVerifier(W.credentials).verify("device-7", "c", "short", now_s=5)



PLAINTEXT = b"hunter2 reading, not for logs"


def wrappers() -> Tuple[Any, Any]:
    """A paho and an aiomqtt SealedClient, never connected: publish seals before it sends."""
    import aiomqtt
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    import mqseal.aio
    import mqseal.paho

    def aio_client(**login: Any) -> aiomqtt.Client:
        return aiomqtt.Client("127.0.0.1", **login)

    paho_client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="device-7")
    return mqseal.paho.wrap(paho_client, W.policy, W.keys), mqseal.aio.wrap(aio_client, W.policy, W.keys)


# Sealer.seal and Opener.open take and return plaintext (on a plaintext rule the envelope is
# the payload), for every message. pybind11's TypeError for a call matching no signature showed
# every argument's repr ("Invoked with: ..."): a mistyped topic, flag or time, an unknown keyword
# or one argument too many wrote the payload into the message, and so into logs. The client
# wrappers publish through Sealer.seal.
# (what is wrong, the call given a Sealer, an Opener and the paho and aio wrappers, what its message says)
PerMessageCall = Tuple[str, Callable[[Any, Any, Any, Any], object], List[str]]
P = PLAINTEXT
PER_MESSAGE_CALLS: List[PerMessageCall] = [
    ("seal topic int", lambda s, o, paho, aio: s.seal(7, P), ["Sealer.seal", "'topic'", "must be str, not int"]),
    ("seal topic None", lambda s, o, paho, aio: s.seal(None, P), ["'topic'", "not NoneType"]),
    ("seal unknown keyword", lambda s, o, paho, aio: s.seal(TOPIC, P, qos=1),
     ["unexpected keyword argument 'qos'"]),
    ("seal retain by position", lambda s, o, paho, aio: s.seal(TOPIC, P, True),
     ["at most 2 positional arguments (3 given)"]),
    ("seal retain str", lambda s, o, paho, aio: s.seal(TOPIC, P, retain="x"),
     ["'retain'", "must be bool, not str"]),
    ("seal topic twice", lambda s, o, paho, aio: s.seal(TOPIC, P, topic=TOPIC),
     ["multiple values for argument 'topic'"]),
    ("seal no topic", lambda s, o, paho, aio: s.seal(payload=P), ["missing required argument 'topic'"]),
    ("seal payload str", lambda s, o, paho, aio: s.seal(TOPIC, P.decode()),
     ["'payload'", "must be a bytes-like object"]),
    ("seal self None", lambda s, o, paho, aio: type(s).seal(None, TOPIC, P), ["seal", "NoneType"]),
    ("open topic int", lambda s, o, paho, aio: o.open(7, P), ["Opener.open", "'topic'", "not int"]),
    ("open unknown keyword", lambda s, o, paho, aio: o.open(TOPIC, P, qos=1),
     ["unexpected keyword argument 'qos'"]),
    ("open retained by position", lambda s, o, paho, aio: o.open(TOPIC, P, True), ["at most 2 positional arguments"]),
    ("open retained str", lambda s, o, paho, aio: o.open(TOPIC, P, retained="x"),
     ["'retained'", "must be bool, not str"]),
    ("open now_ms float", lambda s, o, paho, aio: o.open(TOPIC, P, now_ms=1.5),
     ["'now_ms'", "must be int, not float"]),
    ("open no topic", lambda s, o, paho, aio: o.open(envelope=P), ["missing required argument 'topic'"]),
    ("open envelope twice", lambda s, o, paho, aio: o.open(TOPIC, bytearray(P), envelope=P),
     ["multiple values for argument 'envelope'"]),
    ("open self None", lambda s, o, paho, aio: type(o).open(None, TOPIC, P), ["open", "NoneType"]),
    ("paho publish topic None", lambda s, o, paho, aio: paho.publish(None, P), ["Sealer.seal", "'topic'"]),
    ("paho publish retain str", lambda s, o, paho, aio: paho.publish(TOPIC, P, retain="yes"), ["'retain'", "bool"]),
    ("aio publish topic None", lambda s, o, paho, aio: asyncio.run(aio.publish(None, P)), ["Sealer.seal", "'topic'"]),
    ("aio publish retain str", lambda s, o, paho, aio: asyncio.run(aio.publish(TOPIC, P, retain="yes")),
     ["'retain'", "bool"]),
]


@pytest.mark.parametrize("case", PER_MESSAGE_CALLS, ids=lambda c: c[0])
def test_a_type_error_of_a_call_per_message_names_arguments_and_types_never_values(case: PerMessageCall) -> None:
    _, call, says = case
    sealed_paho, sealed_aio = wrappers()
    with pytest.raises(TypeError) as caught:
        call(mqseal.Sealer(W.policy, W.keys), mqseal.Opener(W.policy, W.keys), sealed_paho, sealed_aio)
    message = str(caught.value)
    assert "hunter2" not in message, message
    for words in says:
        assert words in message, message


def test_seal_and_open_take_their_arguments_by_position_and_by_name() -> None:
    sealer, opener = mqseal.Sealer(W.policy, W.keys), mqseal.Opener(W.policy, W.keys)
    envelope = sealer.seal(TOPIC, PLAINTEXT, retain=False)
    assert opener.open(TOPIC, envelope, retained=False, now_ms=0).payload == PLAINTEXT
    envelope = sealer.seal(payload=bytearray(PLAINTEXT), topic=TOPIC.encode())  # type: ignore[arg-type]
    assert opener.open(envelope=memoryview(envelope), topic=TOPIC).payload == PLAINTEXT
    assert "retain: bool = False" in (mqseal.Sealer.seal.__doc__ or "")


# ---- bools ----

# (name, the call given the bad value for its bool parameter and a directory to save files in,
# the parameter's name): every bool parameter of the API.
BoolCall = Tuple[str, Callable[[Any, Path], object], str]


def saved(path: Path, write: Callable[[str], None]) -> str:
    """`path`, written by `write` and made readable by its group (allow_insecure_permissions)."""
    write(str(path))
    os.chmod(path, 0o640)
    return str(path)


BOOL_CALLS: List[BoolCall] = [
    ("Sealer.seal", lambda v, _: mqseal.Sealer(W.policy, W.keys).seal(TOPIC, b"x", retain=v), "retain"),
    ("Opener.open", lambda v, _: mqseal.Opener(W.policy, W.keys).open(TOPIC, W.envelope, retained=v), "retained"),
    ("ReplayGuard.check",
     lambda v, _: mqseal.ReplayGuard().check(TOPIC, bytes(16), 1, 1_000, retained=v, now_ms=1_000), "retained"),
    ("Keyring.load",
     lambda v, d: mqseal.Keyring.load(saved(d / "keys", W.keys.save), allow_insecure_permissions=v),
     "allow_insecure_permissions"),
    ("Credentials.load",
     lambda v, d: mqseal.Credentials.load(saved(d / "credentials", W.credentials.save), allow_insecure_permissions=v),
     "allow_insecure_permissions"),
    ("mqseal.paho SealedClient.publish", lambda v, _: wrappers()[0].publish(TOPIC, b"x", retain=v), "retain"),
    ("mqseal.aio SealedClient.publish",
     lambda v, _: asyncio.run(wrappers()[1].publish(TOPIC, b"x", retain=v)), "retain"),
]


@pytest.mark.parametrize("case", BOOL_CALLS, ids=lambda c: c[0])
def test_a_bool_parameter_takes_true_or_false_and_nothing_else(case: BoolCall, tmp_path: Path) -> None:
    # pybind11's bool took anything with a truth value: retain=None sealed a live message and
    # allow_insecure_permissions=1 read a file others may read (a str was refused, with
    # pybind11's TypeError).
    _, call, parameter = case
    not_bools: List[object] = [None, 0, 1, 2, 1.0, "", "false", [], Index(1)]
    for bad in not_bools:
        try:
            call(bad, tmp_path)
        except TypeError as error:
            assert parameter in str(error), (bad, str(error))
        else:
            pytest.fail(f"took {bad!r} as its {parameter}")


def test_true_and_false_are_taken(tmp_path: Path) -> None:
    sealer, opener = mqseal.Sealer(W.policy, W.keys), mqseal.Opener(W.policy, W.keys)
    assert opener.open(TOPIC, sealer.seal(TOPIC, b"r", retain=True), retained=True).retained
    assert not opener.open(TOPIC, sealer.seal(TOPIC, b"l", retain=False), retained=False).retained
    keys = saved(tmp_path / "keys", W.keys.save)
    with pytest.raises(mqseal.PermissionsError):
        mqseal.Keyring.load(keys, allow_insecure_permissions=False)
    assert len(mqseal.Keyring.load(keys, allow_insecure_permissions=True)) == len(W.keys)
