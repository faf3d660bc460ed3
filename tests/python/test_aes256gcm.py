"""Suite 5 (AES-256-GCM, docs/SPEC.md section 4e) from Python: TopicPolicy.add_aes256gcm_rule and
policy files with `suite = 5`, suite 1's guarantees (replay, topic binding, tag, retain intent,
no downgrade between suites 1 and 5), envelopes exchanged with the C++ command line tool, and
mqseal.paho through a real mosquitto.

Building a suite 5 policy works anywhere. Sealing and opening need AES-NI and PCLMULQDQ: on a
CPU without them Sealer and Opener raise FormatError("unsupported_suite"), and the tests that
seal or open are skipped, naming the reason. A refusal on a CPU that /proc/cpuinfo says has both
fails instead, so that a broken binding cannot pass by skipping.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Callable, Iterator, List

import paho.mqtt.client as mqtt
import pytest

import mqseal
import mqseal.paho

from conftest import Broker
from test_cli import cli  # noqa: F401  (the fixture: the built `mqseal` binary)
from test_paho import Inbox, listening, publish, subscribe

Connect = Callable[..., mqtt.Client]

TOPIC = "backend/7/events"
OTHER_TOPIC = "backend/8/events"
FILTER = "backend/+/events"
POLICY_FILE = f'[[rule]]\nfilter = "{FILTER}"\nkey = "events"\nsuite = 5\n'
SUITE_BYTE = 1  # the envelope's second byte (docs/SPEC.md, section 4)
RETAIN_FLAG = 0x01  # the flags byte's "sealed to be retained" bit
TAG_SIZE = 16
TIMEOUT = 10.0


def aes_policy() -> mqseal.TopicPolicy:
    policy = mqseal.TopicPolicy()
    policy.add_aes256gcm_rule(FILTER, "events")
    return policy


def seal(policy: mqseal.TopicPolicy, keys: mqseal.Keyring, payload: bytes) -> bytes:
    """A Sealer's envelope for `payload` on TOPIC, checked to be suite 5's."""
    envelope = mqseal.Sealer(policy, keys).seal(TOPIC, payload)
    assert envelope[SUITE_BYTE] == 5
    return envelope


def symmetric_policy() -> mqseal.TopicPolicy:
    """Suite 1 on the same filter and key name: the rule a downgrade would need."""
    policy = mqseal.TopicPolicy()
    policy.add_rule(FILTER, "events")
    return policy


def cpu_has_aes_ni() -> bool:
    """Whether /proc/cpuinfo lists both `aes` and `pclmulqdq` (False where there is no such file)."""
    try:
        flags = {
            flag for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")
            for flag in line.split(":", 1)[1].split()
        }
    except OSError:
        return False
    return {"aes", "pclmulqdq"} <= flags


@pytest.fixture
def keys() -> Iterator[mqseal.Keyring]:
    """A keyring with an "events" key, on a CPU that runs suite 5 (skipped where it cannot)."""
    keyring = mqseal.Keyring()
    keyring.generate("events")
    try:
        mqseal.Sealer(aes_policy(), keyring)
    except mqseal.FormatError as refused:
        if refused.code != "unsupported_suite":
            raise
        if cpu_has_aes_ni():
            pytest.fail("Sealer refused a suite 5 rule (unsupported_suite) on a CPU with AES-NI and PCLMULQDQ")
        pytest.skip("this CPU lacks AES-NI or PCLMULQDQ: Sealer refuses suite 5 rules (unsupported_suite)")
    yield keyring


# ---- the policy (any CPU) ----


def test_rule_reads_as_suite_5_with_its_retained_policy() -> None:
    policy = mqseal.TopicPolicy()
    policy.add_aes256gcm_rule(FILTER, "events", retained="accept", retained_max_age_ms=60_000)
    policy.add_aes256gcm_rule("backend/+/cmd/#", "commands", retained=mqseal.RetainedPolicy.refuse)
    rule = policy.resolve(TOPIC)
    assert (rule.suite, rule.key_name, rule.recipient, rule.compact, rule.plaintext, rule.signers) == (
        5, "events", None, False, False, [])
    assert (rule.retained, rule.retained_max_age_ms) == ("accept", 60_000)
    assert policy.resolve("backend/7/cmd/stop").retained == "refuse"
    assert repr(rule) == (
        "TopicRule(filter='backend/+/events', key_name='events', suite=5, retained='accept', "
        "retained_max_age_ms=60000)"
    )
    assert repr(policy.resolve("backend/7/cmd/stop")) == (
        "TopicRule(filter='backend/+/cmd/#', key_name='commands', suite=5, retained='refuse')"
    )
    assert repr(aes_policy().rules[0]) == "TopicRule(filter='backend/+/events', key_name='events', suite=5)"


def test_rule_arguments_are_checked_as_add_rules() -> None:
    policy = aes_policy()
    with pytest.raises(mqseal.InvalidArgumentError) as twice:
        policy.add_aes256gcm_rule(FILTER, "other")
    assert twice.value.code == "invalid_argument"
    with pytest.raises(mqseal.InvalidArgumentError) as bad_filter:
        policy.add_aes256gcm_rule("a/#/b", "events")
    assert bad_filter.value.code == "invalid_filter"
    with pytest.raises(mqseal.InvalidArgumentError):
        policy.add_aes256gcm_rule("a/#", "events", retained_max_age_ms=5)  # needs retained="accept"
    with pytest.raises(mqseal.InvalidArgumentError):
        policy.add_aes256gcm_rule("b/#", "events", retained="refuse", retained_max_age_ms=5)
    with pytest.raises(TypeError):
        policy.add_aes256gcm_rule("c/#", "events", "refuse")  # type: ignore[call-arg]  # retained is keyword-only
    assert [r.filter for r in policy.rules] == [FILTER]


def test_policy_file_with_suite_5(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY_FILE + '\n[[rule]]\nfilter = "plant/#"\nkey = "telemetry"\nretained = "refuse"\n')
    policy = mqseal.TopicPolicy.load(str(path))
    assert (policy.resolve(TOPIC).suite, policy.resolve("plant/1/x").suite) == (5, 1)
    assert mqseal.TopicPolicy.parse(POLICY_FILE).rules[0].suite == 5
    for rejected in ('suite = 5\ncompact = true\n', 'suite = 5\nsigners = "x"\n', 'suite = 6\n'):
        with pytest.raises(mqseal.FormatError) as refused:
            mqseal.TopicPolicy.parse(f'[[rule]]\nfilter = "a/#"\nkey = "k"\n{rejected}')
        assert refused.value.code == "parse_error"


# ---- sealing and opening (AES-NI) ----


def test_round_trip_is_a_suite_5_envelope(keys: mqseal.Keyring) -> None:
    policy = aes_policy()
    sealer = mqseal.Sealer(policy, keys)
    payload = b"order 7 shipped"
    envelope = sealer.seal(TOPIC, payload)
    assert len(envelope) == len(payload) + mqseal.ENVELOPE_OVERHEAD == len(payload) + 55
    assert (envelope[0], envelope[SUITE_BYTE]) == (2, 5)
    header = mqseal.parse_header(envelope)
    assert (header.version, header.suite, header.key_id, header.sender) == (2, 5, keys.primary("events"),
                                                                            sealer.sender)
    opened = mqseal.Opener(policy, keys).open(TOPIC, envelope)
    assert (opened.payload, opened.sealed, opened.sequence, opened.signer) == (payload, True, 0, "")
    # The empty payload and a large one too (the binding sizes both envelope and payload).
    large = bytes(range(256)) * 256
    for sent in (b"", large):
        sealed = sealer.seal(TOPIC, sent)
        assert len(sealed) == len(sent) + 55
        assert mqseal.Opener(policy, keys).open(TOPIC, sealed).payload == sent


def test_replay_is_refused_as_a_duplicate(keys: mqseal.Keyring) -> None:
    policy = aes_policy()
    envelope = seal(policy, keys, b"once")
    opener = mqseal.Opener(policy, keys)
    assert opener.open(TOPIC, envelope).payload == b"once"
    with pytest.raises(mqseal.DuplicateError) as again:
        opener.open(TOPIC, envelope)
    assert again.value.code == "duplicate"


def test_moved_to_another_topic_is_refused(keys: mqseal.Keyring) -> None:
    policy = aes_policy()
    envelope = seal(policy, keys, b"for 7 only")
    opener = mqseal.Opener(policy, keys)
    with pytest.raises(mqseal.AuthenticationError) as moved:
        opener.open(OTHER_TOPIC, envelope)
    assert moved.value.code == "authentication_failed"
    assert opener.open(TOPIC, envelope).payload == b"for 7 only"


def test_altered_tag_is_refused_and_the_genuine_envelope_opens_after(keys: mqseal.Keyring) -> None:
    policy = aes_policy()
    envelope = seal(policy, keys, b"genuine")
    opener = mqseal.Opener(policy, keys)
    for at in (len(envelope) - TAG_SIZE, len(envelope) - 1):
        altered = bytearray(envelope)
        altered[at] ^= 0x01
        with pytest.raises(mqseal.AuthenticationError) as forged:
            opener.open(TOPIC, altered)
        assert forged.value.code == "authentication_failed"
    # A forgery takes no replay state: the genuine envelope still opens, once.
    assert opener.open(TOPIC, envelope).payload == b"genuine"


def test_no_downgrade_between_suites_1_and_5(keys: mqseal.Keyring) -> None:
    aes, symmetric = aes_policy(), symmetric_policy()
    by_aes = mqseal.Sealer(aes, keys).seal(TOPIC, b"x")
    by_chacha = mqseal.Sealer(symmetric, keys).seal(TOPIC, b"x")
    assert (by_aes[SUITE_BYTE], by_chacha[SUITE_BYTE]) == (5, 1)
    for policy, other in ((aes, by_chacha), (symmetric, by_aes)):
        with pytest.raises(mqseal.FormatError) as downgraded:
            mqseal.Opener(policy, keys).open(TOPIC, other)
        assert downgraded.value.code == "wrong_suite_for_topic"
    # The suite byte is authenticated: suite 1's envelope relabelled 5 fails the tag.
    relabelled = bytearray(by_chacha)
    relabelled[SUITE_BYTE] = 5
    with pytest.raises(mqseal.AuthenticationError):
        mqseal.Opener(aes, keys).open(TOPIC, relabelled)


def test_retain_intent_and_the_rules_retained_policy(keys: mqseal.Keyring) -> None:
    # The rule's own retained policy reaches the Opener, and the retain intent is sealed in.
    policy = mqseal.TopicPolicy()
    policy.add_aes256gcm_rule(FILTER, "events", retained="refuse")
    sealer = mqseal.Sealer(policy, keys)
    retained = sealer.seal(TOPIC, b"kept", retain=True)
    header = mqseal.parse_header(retained)
    assert (header.suite, header.flags & RETAIN_FLAG) == (5, RETAIN_FLAG)
    with pytest.raises(mqseal.ReplayError) as refused:
        mqseal.Opener(policy, keys).open(TOPIC, retained, retained=True, now_ms=header.timestamp_ms + 1000)
    assert refused.value.code == "retained_refused"
    live = sealer.seal(TOPIC, b"live")
    assert mqseal.parse_header(live).flags & RETAIN_FLAG == 0
    assert mqseal.Opener(policy, keys).open(TOPIC, live).payload == b"live"


# ---- with the C++ side: the `mqseal` command line tool ----


def tool_files(tmp_path: Path, keys: mqseal.Keyring) -> List[str]:
    keys_file, policy_file = tmp_path / "shared.keys", tmp_path / "policy.toml"
    keys.save(str(keys_file))
    policy_file.write_text(POLICY_FILE)
    return ["--keyring", str(keys_file), "--policy", str(policy_file)]


def run_tool(cli: Path, args: List[str], stdin: bytes) -> bytes:
    run = subprocess.run([str(cli), *args], input=stdin, capture_output=True, timeout=TIMEOUT)
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_cpp_seals_python_opens_and_back(cli: Path, keys: mqseal.Keyring, tmp_path: Path) -> None:  # noqa: F811
    files = tool_files(tmp_path, keys)
    policy = mqseal.TopicPolicy.load(files[3])
    by_cpp = run_tool(cli, ["seal", *files, TOPIC], b"from C++")
    assert (len(by_cpp), by_cpp[SUITE_BYTE]) == (len(b"from C++") + 55, 5)
    assert mqseal.Opener(policy, keys).open(TOPIC, by_cpp).payload == b"from C++"

    by_python = mqseal.Sealer(policy, keys).seal(TOPIC, b"from Python")
    assert run_tool(cli, ["open", *files, TOPIC], by_python) == b"from Python"
    assert "suite      5 (AES-256-GCM)\n" in run_tool(cli, ["inspect"], by_python).decode()
    # The C++ side refuses on another topic and under a suite 1 rule as the Python side does.
    moved = subprocess.run([str(cli), "open", *files, OTHER_TOPIC], input=by_python, capture_output=True,
                           timeout=TIMEOUT)
    assert (moved.returncode, moved.stdout) == (1, b"")
    assert moved.stderr.startswith(b"mqseal: authentication failed"), moved.stderr
    (tmp_path / "policy.toml").write_text(f'[[rule]]\nfilter = "{FILTER}"\nkey = "events"\n')
    downgraded = subprocess.run([str(cli), "open", *files, TOPIC], input=by_python, capture_output=True,
                                timeout=TIMEOUT)
    assert (downgraded.returncode, downgraded.stdout) == (1, b"")
    assert b"suite is not the one this topic's rule requires" in downgraded.stderr, downgraded.stderr


# ---- through a real broker ----


def test_paho_wrapper_round_trip_through_mosquitto(connect: Connect, keys: mqseal.Keyring) -> None:
    policy = aes_policy()
    subscriber, inbox, refused = listening(connect(), policy, keys, FILTER)
    eavesdropper = connect()
    wire = Inbox()
    eavesdropper.on_message = wire
    subscribe(eavesdropper, FILTER)
    publisher = mqseal.paho.wrap(connect(), policy, keys)

    publish(publisher, TOPIC, b"order 7 shipped", qos=1)
    publish(publisher, OTHER_TOPIC, "order 8 shipped", qos=0)  # str: UTF-8

    received = inbox.wait(2)
    assert [call[0] for call in received] == [subscriber, subscriber]
    assert sorted((m.topic, m.payload) for m in inbox.messages) == [
        (TOPIC, b"order 7 shipped"), (OTHER_TOPIC, b"order 8 shipped")]
    assert refused.calls == []
    assert subscriber.stats == mqseal.paho.Stats(delivered=2, duplicates=0, refused=0)
    # What the broker carried: suite 5 envelopes, not the payloads.
    wire.wait(2)
    carried = sorted((m.topic, bytes(m.payload)) for m in wire.messages)
    assert [topic for topic, _ in carried] == [TOPIC, OTHER_TOPIC]
    for topic, envelope in carried:
        assert (len(envelope), envelope[SUITE_BYTE]) == (len(b"order 7 shipped") + 55, 5), topic
        assert b"shipped" not in envelope


def test_cpp_publishes_through_mosquitto_python_opens(
    cli: Path, broker: Broker, connect: Connect, keys: mqseal.Keyring, tmp_path: Path  # noqa: F811
) -> None:
    files = tool_files(tmp_path, keys)
    subscriber, inbox, refused = listening(connect(), mqseal.TopicPolicy.load(files[3]), keys, FILTER)
    run_tool(cli, ["pub", "-h", broker.host, "-p", str(broker.port), "-t", TOPIC, "-q", "1", "-m", "from C++",
                   *files], b"")
    assert [(m.topic, m.payload) for m in (call[2] for call in inbox.wait(1))] == [(TOPIC, b"from C++")]
    assert refused.calls == []
    assert subscriber.stats == mqseal.paho.Stats(delivered=1, duplicates=0, refused=0)
