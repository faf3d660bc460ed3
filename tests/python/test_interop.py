"""C++ <-> Python through a real broker: the C++ example programs against mqseal.paho.

Needs the example binaries (paho_publisher, paho_subscriber) in $MQSEAL_EXAMPLES_DIR.
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
COUNT = 5
TOPIC = "plant/7/telemetry"
POLICY = '[[rule]]\nfilter = "plant/+/telemetry"\nkey = "telemetry"\n'
# What paho_publisher sends, reading i.
READINGS = [f"temperature={20 + i % 5}.{i % 10} C" for i in range(COUNT)]

Connect = Callable[..., mqtt.Client]


@pytest.fixture
def examples() -> Path:
    directory = os.environ.get("MQSEAL_EXAMPLES_DIR")
    if not directory:
        pytest.skip("MQSEAL_EXAMPLES_DIR is not set (the directory of the built C++ examples)")
    path = Path(directory)
    for program in ("paho_publisher", "paho_subscriber"):
        assert (path / program).is_file(), f"{path / program} is missing: build the examples"
    return path


@pytest.fixture
def files(tmp_path: Path, keys_and_policy: Tuple[mqseal.Keyring, mqseal.TopicPolicy]) -> Tuple[str, str]:
    """The shared keyring (mode 0600) and the policy file, for the C++ programs."""
    keys_file, policy_file = tmp_path / "shared.keys", tmp_path / "policy.toml"
    keys_and_policy[0].save(str(keys_file))
    assert keys_file.stat().st_mode & 0o077 == 0
    policy_file.write_text(POLICY)
    return str(keys_file), str(policy_file)


def test_cpp_seals_python_opens(
    examples: Path, broker: Any, connect: Connect, keys_and_policy: Tuple[mqseal.Keyring, mqseal.TopicPolicy],
    files: Tuple[str, str],
) -> None:
    keys, _ = keys_and_policy
    subscriber = mqseal.paho.wrap(connect(), mqseal.TopicPolicy.load(files[1]), keys)
    received: "queue.Queue[mqtt.MQTTMessage]" = queue.Queue()
    subscriber.on_message = lambda client, userdata, message: received.put(message)
    subscribed = threading.Event()
    subscriber.on_subscribe = lambda *args: subscribed.set()
    subscriber.subscribe("plant/+/telemetry", qos=1)
    assert subscribed.wait(TIMEOUT)

    run = subprocess.run(
        [str(examples / "paho_publisher"), broker.uri, *files, TOPIC, str(COUNT)],
        capture_output=True, text=True, timeout=2 * TIMEOUT,
    )
    assert run.returncode == 0, run.stderr
    messages = [received.get(timeout=TIMEOUT) for _ in range(COUNT)]
    assert [(m.topic, m.payload.decode()) for m in messages] == [(TOPIC, r) for r in READINGS]
    assert subscriber.stats == mqseal.paho.Stats(delivered=COUNT, duplicates=0, refused=0)


def test_python_seals_cpp_opens(
    examples: Path, broker: Any, connect: Connect, keys_and_policy: Tuple[mqseal.Keyring, mqseal.TopicPolicy],
    files: Tuple[str, str],
) -> None:
    service = subprocess.Popen(
        [str(examples / "paho_subscriber"), broker.uri, *files, "plant/+/telemetry", str(COUNT)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: "queue.Queue[str]" = queue.Queue()

    def read() -> None:
        for line in service.stdout or []:
            lines.put(line.rstrip("\n"))

    reader = threading.Thread(target=read)
    reader.start()
    output: List[str] = []
    try:
        while not any(line.startswith("service subscribed") for line in output):
            try:
                output.append(lines.get(timeout=TIMEOUT))
            except queue.Empty:
                pytest.fail("paho_subscriber did not subscribe:\n" + "\n".join(output))

        keys, _ = keys_and_policy
        publisher = mqseal.paho.wrap(connect(), mqseal.TopicPolicy.load(files[1]), keys)
        for reading in READINGS:
            publisher.publish(TOPIC, reading, qos=1).wait_for_publish(TIMEOUT)
        assert service.wait(timeout=2 * TIMEOUT) == 0, "\n".join(output)
    finally:
        if service.poll() is None:
            service.kill()
            service.wait()
        reader.join(TIMEOUT)
    output += list(lines.queue)
    opened = [line for line in output if line.startswith("service opened")]
    assert opened == [f"service opened on {TOPIC}: {r}" for r in READINGS], "\n".join(output)
