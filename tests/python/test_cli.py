"""`mqseal pub` and `mqseal sub` (the C++ command line tool) against mqseal.paho, through a real broker.

Needs the built `mqseal` binary: $MQSEAL_CLI, or cli/mqseal beside $MQSEAL_EXAMPLES_DIR
(scripts/test sets that one to build/ci/examples).
"""

from __future__ import annotations

import os
import queue
import subprocess
import threading
from pathlib import Path
from typing import Any, Callable, List, Tuple

import paho.mqtt.client as mqtt
import pytest

import mqseal
import mqseal.paho

TIMEOUT = 10.0
TOPIC = "plant/7/telemetry"
POLICY = '[[rule]]\nfilter = "plant/+/telemetry"\nkey = "telemetry"\n'

Connect = Callable[..., mqtt.Client]


@pytest.fixture
def cli() -> Path:
    named = os.environ.get("MQSEAL_CLI")
    examples = os.environ.get("MQSEAL_EXAMPLES_DIR")
    if named:
        path = Path(named)
    elif examples:
        path = Path(examples).parent / "cli" / "mqseal"
    else:
        pytest.skip("neither MQSEAL_CLI nor MQSEAL_EXAMPLES_DIR is set (the built mqseal tool)")
    assert path.is_file(), f"{path} is missing: build the command line tool"
    return path


@pytest.fixture
def files(tmp_path: Path, keys_and_policy: Tuple[mqseal.Keyring, mqseal.TopicPolicy]) -> List[str]:
    """--keyring and --policy for the command line tool: the same keys as the Python side."""
    keys_file, policy_file = tmp_path / "shared.keys", tmp_path / "policy.toml"
    keys_and_policy[0].save(str(keys_file))
    policy_file.write_text(POLICY)
    return ["--keyring", str(keys_file), "--policy", str(policy_file)]


def test_cli_pub_is_opened_by_the_python_service(
    cli: Path, broker: Any, connect: Connect, keys_and_policy: Tuple[mqseal.Keyring, mqseal.TopicPolicy],
    files: List[str],
) -> None:
    keys, policy = keys_and_policy
    service = mqseal.paho.wrap(connect(), policy, keys)
    received: "queue.Queue[mqtt.MQTTMessage]" = queue.Queue()
    service.on_message = lambda client, userdata, message: received.put(message)
    subscribed = threading.Event()
    service.on_subscribe = lambda *args: subscribed.set()
    service.subscribe("plant/+/telemetry", qos=1)
    assert subscribed.wait(TIMEOUT)

    for reading in ("21.5 C", "22.0 C"):
        run = subprocess.run(
            [str(cli), "pub", "-h", broker.host, "-p", str(broker.port), "-t", TOPIC, "-q", "1", "-m", reading,
             *files],
            capture_output=True, text=True, timeout=2 * TIMEOUT,
        )
        assert run.returncode == 0, run.stderr
    messages = [received.get(timeout=TIMEOUT) for _ in range(2)]
    assert [(m.topic, m.payload) for m in messages] == [(TOPIC, b"21.5 C"), (TOPIC, b"22.0 C")]
    assert service.stats == mqseal.paho.Stats(delivered=2, duplicates=0, refused=0)


def test_python_seals_cli_sub_prints(
    cli: Path, broker: Any, connect: Connect, keys_and_policy: Tuple[mqseal.Keyring, mqseal.TopicPolicy],
    files: List[str],
) -> None:
    keys, policy = keys_and_policy
    # A refused message (sealed under another keyring) shows on stderr, never on stdout. Each publish
    # waits for its PUBACK, so after the subscription at least one of them arrives before the last
    # good message.
    stranger_keys = mqseal.Keyring()
    stranger_keys.generate("telemetry")
    stranger = mqseal.Sealer(policy, stranger_keys)
    sub = subprocess.Popen(
        [str(cli), "sub", "-h", broker.host, "-p", str(broker.port), "-t", "plant/#", "-q", "1", "-v", "-C", "2",
         "-W", str(int(3 * TIMEOUT)), *files],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        publisher = mqseal.paho.wrap(connect(), policy, keys)
        raw = connect()
        # sub has no "subscribed" line: publish until the first message arrives there.
        deadline = threading.Event()
        timer = threading.Timer(TIMEOUT, deadline.set)
        timer.start()
        out, err = b"", b""
        try:
            while sub.poll() is None and not deadline.is_set():
                publisher.publish(TOPIC, b"21.5 C", qos=1).wait_for_publish(TIMEOUT)
                raw.publish(TOPIC, stranger.seal(TOPIC, b"not for you"), qos=1).wait_for_publish(TIMEOUT)
                deadline.wait(0.2)
        finally:
            timer.cancel()
        out, err = sub.communicate(timeout=2 * TIMEOUT)
    finally:
        if sub.poll() is None:
            sub.kill()
            sub.wait()
    assert sub.returncode == 0, err
    assert out == b"plant/7/telemetry signer= 21.5 C\n" * 2  # -v: the signer field, empty unless signed
    assert b"not for you" not in out + err
    assert b"mqseal: refused unknown_key on plant/7/telemetry: " in err, err
    assert all(
        line.startswith(b"mqseal: refused ") and b" on plant/7/telemetry: " in line for line in err.splitlines()
    ), err
