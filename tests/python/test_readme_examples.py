"""The README's paho-mqtt and aiomqtt examples (examples/python/readme_*.py), run against a real
mosquitto. tests/readme_example_test.cmake checks that the README quotes them line for line."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

import mqseal
from conftest import TIMEOUT, Broker

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "python"
TOPIC = "plant/7/telemetry"
POLICY = '[[rule]]\nfilter = "plant/+/telemetry"\nkey = "telemetry"\n'


@pytest.fixture
def key_files(tmp_path: Path) -> Tuple[mqseal.Keyring, mqseal.TopicPolicy, str, str]:
    keys = mqseal.Keyring()
    keys.generate("telemetry")
    keys_file, policy_file = tmp_path / "service.keys", tmp_path / "policy.toml"
    keys.save(str(keys_file))
    policy_file.write_text(POLICY)
    return keys, mqseal.TopicPolicy.load(str(policy_file)), str(keys_file), str(policy_file)


async def first_lines(example: str, broker: Broker, keys_file: str, policy_file: str, count: int) -> List[str]:
    """Runs the example (a service: it runs until stopped; -u: unbuffered) until it printed `count` lines."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-u", str(EXAMPLES / example), broker.host, str(broker.port), keys_file, policy_file,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    assert process.stdout is not None
    lines: List[str] = []
    try:
        while len(lines) < count:
            line = await asyncio.wait_for(process.stdout.readline(), TIMEOUT)
            assert line, f"{example} ended: " + "\n".join(lines)
            lines.append(line.decode().rstrip("\n"))
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()
    return lines


def test_readme_paho_example_prints_opened_readings(
    broker: Broker, key_files: Tuple[mqseal.Keyring, mqseal.TopicPolicy, str, str]
) -> None:
    keys, policy, keys_file, policy_file = key_files
    # A retained sealed reading: there when the example subscribes, whenever that is.
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2)
    publisher.connect(broker.host, broker.port)
    publisher.loop_start()
    try:
        envelope = mqseal.Sealer(policy, keys).seal(TOPIC, b"21.5 C", retain=True)
        publisher.publish(TOPIC, envelope, qos=1, retain=True).wait_for_publish(TIMEOUT)
    finally:
        publisher.disconnect()
        publisher.loop_stop()
    lines = asyncio.run(first_lines("readme_paho.py", broker, keys_file, policy_file, 1))
    assert lines == [f"{TOPIC} b'21.5 C'"]


def test_readme_aio_example_publishes_sealed_and_prints_opened(
    broker: Broker, key_files: Tuple[mqseal.Keyring, mqseal.TopicPolicy, str, str]
) -> None:
    _, _, keys_file, policy_file = key_files
    lines = asyncio.run(first_lines("readme_aio.py", broker, keys_file, policy_file, 1))
    assert lines == [f"{TOPIC} b'21.5 C'"]
