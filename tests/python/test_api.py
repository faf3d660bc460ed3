"""The Python API: the same behaviour as the C++ core, Pythonic at the edges."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

import mqseal


@pytest.fixture
def policy() -> mqseal.TopicPolicy:
    p = mqseal.TopicPolicy()
    p.add_rule("plant/+/telemetry", "telemetry")
    p.add_rule("plant/+/cmd/#", "commands")
    p.add_plaintext_rule("public/#")
    return p


@pytest.fixture
def keys() -> mqseal.Keyring:
    k = mqseal.Keyring()
    k.generate("telemetry")
    k.generate("commands")
    return k


def test_round_trip_with_every_bytes_like_type(policy: mqseal.TopicPolicy, keys: mqseal.Keyring) -> None:
    sealer = mqseal.Sealer(policy, keys)
    opener = mqseal.Opener(policy, keys)
    for payload in (b"21.5 C", bytearray(b"21.5 C"), memoryview(b"xx21.5 C")[2:]):
        envelope = sealer.seal("plant/7/telemetry", payload)
        assert isinstance(envelope, bytes)
        assert len(envelope) == 6 + mqseal.ENVELOPE_OVERHEAD
        opened = opener.open("plant/7/telemetry", memoryview(envelope))
        assert opened.payload == b"21.5 C" and opened.sealed
        assert opened.sender == sealer.sender


def test_empty_and_large_payloads(policy: mqseal.TopicPolicy, keys: mqseal.Keyring) -> None:
    sealer = mqseal.Sealer(policy, keys)
    opener = mqseal.Opener(policy, keys)
    for size in (0, 1, 65536, 4 * 1024 * 1024):
        payload = os.urandom(size)
        assert opener.open("plant/1/telemetry", sealer.seal("plant/1/telemetry", payload)).payload == payload


def test_errors_are_one_family_with_stable_codes(policy: mqseal.TopicPolicy, keys: mqseal.Keyring) -> None:
    sealer = mqseal.Sealer(policy, keys)
    opener = mqseal.Opener(policy, keys)
    envelope = sealer.seal("plant/1/telemetry", b"x")
    opener.open("plant/1/telemetry", envelope)
    cases: list[tuple[Callable[[], object], type[mqseal.Error], str]] = [
        (lambda: opener.open("plant/1/telemetry", envelope), mqseal.DuplicateError, "duplicate"),
        (lambda: opener.open("plant/2/telemetry", envelope), mqseal.AuthenticationError, "authentication_failed"),
        (lambda: opener.open("plant/1/cmd/x", envelope), mqseal.KeyNotFoundError, "wrong_key_for_topic"),
        (lambda: opener.open("plant/1/status", envelope), mqseal.NoRuleError, "no_rule"),
        (lambda: opener.open("plant/1/telemetry", b"short"), mqseal.FormatError, "malformed"),
        (lambda: opener.open("plant/+/telemetry", envelope), mqseal.InvalidArgumentError, "invalid_topic"),
        (lambda: sealer.seal("plant/1/status", b"x"), mqseal.NoRuleError, "no_rule"),
        (lambda: policy.add_rule("a/#/b", "k"), mqseal.InvalidArgumentError, "invalid_filter"),
        (lambda: keys.primary("absent"), mqseal.KeyNotFoundError, "no_primary_key"),
        (lambda: mqseal.Opener(policy, keys, retained="maybe"),  # type: ignore[arg-type]
         mqseal.InvalidArgumentError, "invalid_argument"),
        (lambda: opener.open("plant/1/telemetry", sealer.seal("plant/1/telemetry", b"x"), now_ms=1),
         mqseal.ExpiredError, "not_yet_valid"),
    ]
    for call, kind, code in cases:
        with pytest.raises(kind) as caught:
            call()
        assert isinstance(caught.value, mqseal.Error)
        assert caught.value.code == code


def test_wrong_types_are_type_errors(policy: mqseal.TopicPolicy, keys: mqseal.Keyring) -> None:
    sealer = mqseal.Sealer(policy, keys)
    for bad in ("text", None, 42, 1.5, ["list"]):
        with pytest.raises(TypeError):
            sealer.seal("plant/1/telemetry", bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sealer.seal(None, b"x")  # type: ignore[arg-type]
    # A bytes topic is read as UTF-8, like a str; invalid UTF-8 is refused.
    with pytest.raises(mqseal.InvalidArgumentError):
        sealer.seal(b"plant/\xff/telemetry", b"x")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        mqseal.Sealer("policy", keys)  # type: ignore[arg-type]


def test_plaintext_rule_passes_through(policy: mqseal.TopicPolicy, keys: mqseal.Keyring) -> None:
    assert mqseal.Sealer(policy, keys).seal("public/news", b"hello") == b"hello"
    opened = mqseal.Opener(policy, keys).open("public/news", b"hello")
    assert opened.payload == b"hello" and not opened.sealed


def test_key_material_never_shown(keys: mqseal.Keyring, tmp_path: Path) -> None:
    key = mqseal.Key.generate()
    keys.add("extra", key)
    path = tmp_path / "ring.keys"
    keys.save(str(path))
    material = [line.split()[4] for line in path.read_text().splitlines() if line.startswith("key ")]
    shown = " ".join([repr(key), str(key), repr(keys), repr(keys.list()), repr(mqseal.Key.from_bytes(b"\x11" * 32))])
    for hex_key in material:
        assert hex_key not in shown
    assert "11111111" not in shown


def test_keyring_files_are_0600_and_loose_ones_are_refused(keys: mqseal.Keyring, tmp_path: Path) -> None:
    path = tmp_path / "ring.keys"
    keys.save(str(path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(mqseal.Keyring.load(str(path))) == 2
    path.chmod(0o644)
    with pytest.raises(mqseal.PermissionsError):
        mqseal.Keyring.load(str(path))
    assert len(mqseal.Keyring.load(str(path), allow_insecure_permissions=True)) == 2
    with pytest.raises(mqseal.FileError):
        mqseal.Keyring.load(str(tmp_path / "missing"))


def test_a_file_path_with_a_nul_is_refused_not_cut(keys: mqseal.Keyring, tmp_path: Path) -> None:
    # The core opens files by C string: a path holding a NUL was cut there, so
    # Keyring.load("ring.keys\0x") read ring.keys and file_replay_store("claims\0x") made "claims".
    # Python's own open() refuses such a path (ValueError); mqseal refuses it as invalid_argument.
    keys.save(str(tmp_path / "ring.keys"))
    credentials = mqseal.Credentials()
    credentials.save(str(tmp_path / "devices.creds"))
    (tmp_path / "policy.toml").write_text('[[rule]]\nfilter = "x"\nkey = "telemetry"\n')
    calls: list[Callable[[], object]] = [
        lambda: mqseal.Keyring.load(str(tmp_path / "ring.keys") + "\0x"),
        lambda: mqseal.Credentials.load(str(tmp_path / "devices.creds") + "\0x"),
        lambda: mqseal.TopicPolicy.load(str(tmp_path / "policy.toml") + "\0x"),
        lambda: mqseal.file_replay_store(str(tmp_path / "claims") + "\0x", capacity=16),
        lambda: keys.save(str(tmp_path / "saved") + "\0.keys"),
        lambda: credentials.save(str(tmp_path / "saved") + "\0.creds"),
    ]
    for call in calls:
        with pytest.raises(mqseal.InvalidArgumentError) as caught:
            call()
        assert caught.value.code == "invalid_argument"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["devices.creds", "policy.toml", "ring.keys"]


def test_rotation_through_set_keyring(policy: mqseal.TopicPolicy, keys: mqseal.Keyring) -> None:
    sealer = mqseal.Sealer(policy, keys)
    opener = mqseal.Opener(policy, keys)
    old = sealer.seal("plant/1/telemetry", b"old")
    rotated = keys.clone()
    new_id = rotated.generate("telemetry")
    rotated.promote(new_id)
    opener.set_keyring(rotated)
    sealer.set_keyring(rotated)
    new = sealer.seal("plant/1/telemetry", b"new")
    assert mqseal.parse_header(new).key_id == new_id
    assert opener.open("plant/1/telemetry", old).payload == b"old"
    assert opener.open("plant/1/telemetry", new).payload == b"new"


def test_sealer_keeps_a_snapshot_of_the_keyring(policy: mqseal.TopicPolicy, keys: mqseal.Keyring) -> None:
    sealer = mqseal.Sealer(policy, keys)
    first = keys.primary("telemetry")
    keys.promote(keys.generate("telemetry"))  # changes the Python keyring only
    assert mqseal.parse_header(sealer.seal("plant/1/telemetry", b"x")).key_id == first


def test_policy_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[[rule]]\nfilter = "plant/+/telemetry"\nkey = "telemetry"\n')
    assert mqseal.TopicPolicy.load(str(path)).resolve("plant/3/telemetry").key_name == "telemetry"
    with pytest.raises(mqseal.FormatError) as bad:
        mqseal.TopicPolicy.parse('[[rule]]\nfilter = "x"\n')
    assert bad.value.code == "parse_error"


def test_passphrase_keys(keys: mqseal.Keyring) -> None:
    params = mqseal.PassphraseParams(b"0123456789abcdef", 1, 8192)
    a = mqseal.Key.from_passphrase("correct horse", params)
    assert a.same_bytes(mqseal.Key.from_passphrase(b"correct horse", params))
    assert not a.same_bytes(mqseal.Key.from_passphrase("correct horsE", params))


def test_threads_seal_and_open_concurrently(policy: mqseal.TopicPolicy, keys: mqseal.Keyring) -> None:
    sealer = mqseal.Sealer(policy, keys)
    opener = mqseal.Opener(policy, keys)
    failures: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(300):
                payload = os.urandom(32 + (i % 3) * 40000)  # some large enough to release the GIL
                topic = f"plant/{n}/telemetry"
                assert opener.open(topic, sealer.seal(topic, payload)).payload == payload
        except BaseException as e:  # noqa: BLE001 - reported below
            failures.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures


def test_replay_guard_on_its_own() -> None:
    guard = mqseal.ReplayGuard(max_age_ms=1000)
    sender = bytes(range(16))
    now = 1_800_000_000_000
    guard.check("t/1", sender, 5, now, now_ms=now)
    with pytest.raises(mqseal.DuplicateError):
        guard.check("t/1", sender, 5, now, now_ms=now)
    guard.check("t/2", sender, 5, now, now_ms=now)  # another topic: another stream
    with pytest.raises(mqseal.ExpiredError):
        guard.check("t/1", sender, 6, now - 2000, now_ms=now)
    with pytest.raises(mqseal.InvalidArgumentError):
        guard.check("t/1", b"short", 7, now, now_ms=now)
    assert guard.tracked_streams == 2
    guard.check("t/1", sender, 5, now, now_ms=now, key_name="other")  # another key name: another partition
    assert guard.tracked_streams == 3
    assert guard.watermark_ms("other") == 0


def test_retain_intent_is_sealed(policy: mqseal.TopicPolicy, keys: mqseal.Keyring) -> None:
    sealer = mqseal.Sealer(policy, keys)
    opener = mqseal.Opener(policy, keys)
    now = 1_800_000_000_000
    hour = 3_600_000
    live = sealer.seal("plant/7/cmd/valve", b"open")
    kept = sealer.seal("plant/7/telemetry", b"21.5", retain=True)
    assert mqseal.parse_header(live).flags == 0
    assert mqseal.parse_header(kept).flags == 1
    assert mqseal.parse_header(kept).version == 2
    # A live command delivered again an hour later with the retain flag: judged as live.
    with pytest.raises(mqseal.ExpiredError):
        mqseal.Opener(policy, keys).open("plant/7/cmd/valve", live, retained=True, now_ms=now + hour)
    # What the publisher sealed to be retained opens for a late subscriber, every time.
    timestamp = mqseal.parse_header(kept).timestamp_ms
    for _ in range(2):
        opened = opener.open("plant/7/telemetry", kept, retained=True, now_ms=timestamp + hour)
        assert opened.retained and opened.payload == b"21.5"


def test_retained_policy_per_rule(keys: mqseal.Keyring) -> None:
    policy = mqseal.TopicPolicy()
    policy.add_rule("plant/+/cmd/#", "commands", retained="refuse")
    policy.add_rule("plant/+/telemetry", "telemetry", retained="accept", retained_max_age_ms=60_000)
    assert policy.rules[0].retained == "refuse" and policy.rules[0].retained_max_age_ms is None
    assert policy.rules[1].retained == "accept" and policy.rules[1].retained_max_age_ms == 60_000
    with pytest.raises(mqseal.InvalidArgumentError):
        policy.add_rule("a/#", "commands", retained_max_age_ms=5)
    with pytest.raises(mqseal.InvalidArgumentError):
        policy.add_rule("b/#", "commands", retained="sometimes")  # type: ignore[arg-type]
    sealer = mqseal.Sealer(policy, keys)
    opener = mqseal.Opener(policy, keys)
    command = sealer.seal("plant/7/cmd/valve", b"open", retain=True)
    timestamp = mqseal.parse_header(command).timestamp_ms
    with pytest.raises(mqseal.ReplayError) as refused:
        opener.open("plant/7/cmd/valve", command, retained=True, now_ms=timestamp + 1000)
    assert refused.value.code == "retained_refused"
    reading = sealer.seal("plant/7/telemetry", b"1", retain=True)
    with pytest.raises(mqseal.ExpiredError):
        opener.open("plant/7/telemetry", reading, retained=True, now_ms=timestamp + 120_000)


def test_every_error_name_of_the_core_has_its_class() -> None:
    from mqseal import _errors, _mqseal

    assert len(_mqseal.ERROR_NAMES) >= 26 and "authentication_failed" in _mqseal.ERROR_NAMES
    assert set(_mqseal.ERROR_NAMES) == set(_errors.CLASS_OF_CODE)
    error = _errors.error_for("not_yet_valid", "too far ahead")
    assert type(error) is mqseal.ExpiredError and error.code == "not_yet_valid" and str(error) == "too far ahead"


def test_options_as_in_cpp_or_as_keywords(policy: mqseal.TopicPolicy, keys: mqseal.Keyring) -> None:
    envelope = mqseal.Sealer(policy, keys, mqseal.SealerOptions(topic_cache_capacity=1)).seal("plant/1/telemetry", b"x")
    late = mqseal.parse_header(envelope).timestamp_ms + 2000
    strict = mqseal.OpenerOptions(mqseal.ReplayOptions(max_age_ms=1000))
    for opener in (mqseal.Opener(policy, keys, strict), mqseal.Opener(policy, keys, max_age_ms=1000)):
        with pytest.raises(mqseal.ExpiredError):
            opener.open("plant/1/telemetry", envelope, now_ms=late)
    assert mqseal.Opener(policy, keys, strict, max_age_ms=5000).open("plant/1/telemetry", envelope, now_ms=late).sealed
    assert mqseal.ReplayOptions().retained is mqseal.RetainedPolicy.accept_within_age
    no_streams = mqseal.OpenerOptions(mqseal.ReplayOptions(max_streams=0))
    for bad in (mqseal.OpenerOptions(topic_cache_capacity=0), no_streams):
        with pytest.raises(mqseal.InvalidArgumentError):
            mqseal.Opener(policy, keys, bad)
    with pytest.raises(mqseal.InvalidArgumentError):  # out of range, not a wrong type
        mqseal.Opener(policy, keys, mqseal.OpenerOptions(topic_cache_capacity=-1))
    with pytest.raises(TypeError):
        mqseal.Opener(policy, keys, max_age=5)  # type: ignore[call-arg]
    with pytest.raises(mqseal.InvalidArgumentError):
        mqseal.TokenVerifier(mqseal.Credentials(), mqseal.VerifierOptions(max_lifetime_s=0))


def test_enums_have_the_cpp_names(keys: mqseal.Keyring) -> None:
    assert [i.state for i in keys.list()] == [mqseal.KeyState.primary, mqseal.KeyState.primary]
    assert mqseal.KeyState["PRIMARY"] is mqseal.KeyState.primary  # the earlier spelling, an alias
    policy = mqseal.TopicPolicy()
    policy.add_rule("a/#", "commands", retained=mqseal.RetainedPolicy.refuse)
    assert policy.rules[0].retained is mqseal.RetainedPolicy.refuse and policy.rules[0].retained == "refuse"


def test_record_cipher_round_trip_and_refusals(keys: mqseal.Keyring) -> None:
    cipher = mqseal.RecordCipher(keys, "telemetry", "paho store")
    record = cipher.seal(b"slot-1", bytearray(b"queued message"))
    assert len(record) == len(b"queued message") + mqseal.RECORD_OVERHEAD
    assert cipher.open(b"slot-1", memoryview(record)) == b"queued message"
    with pytest.raises(mqseal.AuthenticationError):
        cipher.open(b"slot-2", record)  # moved to another slot
    with pytest.raises(mqseal.AuthenticationError):
        mqseal.RecordCipher(keys, "telemetry", "other purpose").open(b"slot-1", record)
    with pytest.raises(mqseal.InvalidArgumentError):
        mqseal.RecordCipher(keys, "telemetry", "")


def test_hazmat_is_separate() -> None:
    for name in ("derive_topic_key", "seal_with_header", "make_connect_token_with_nonce",
                 "_derive_topic_key", "_seal_with_header"):
        assert not hasattr(mqseal, name)
    from mqseal import hazmat

    assert hazmat.derive_topic_key(mqseal.Key.from_bytes(bytes(32)), "a/b") != bytes(32)


def test_plaintext_rule_passes_any_size_through(policy: mqseal.TopicPolicy, keys: mqseal.Keyring) -> None:
    # Opened payloads are allocated at the size a sealed envelope's payload would have: a plaintext
    # topic's, the whole envelope, is opened again at its own size (above 16 KiB without the GIL).
    sealer, opener = mqseal.Sealer(policy, keys), mqseal.Opener(policy, keys)
    for size in (0, 5, 54, 55, 56, 100, 64 * 1024):
        payload = os.urandom(size)
        assert sealer.seal("public/news", payload) == payload
        for given in (payload, bytearray(payload), memoryview(payload)):
            opened = opener.open("public/news", given)
            assert opened.payload == payload and type(opened.payload) is bytes and not opened.sealed
