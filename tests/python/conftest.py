"""Fixtures for the Python tests: a real mosquitto broker on 127.0.0.1, keys and a policy,
and connected paho clients for both callback API versions."""

from __future__ import annotations

import dataclasses
import socket
import subprocess
import threading
import time
import uuid
import warnings
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
import pytest

import mqseal

MOSQUITTO = "/usr/sbin/mosquitto"
TIMEOUT = 10.0  # seconds, the bound of every wait in these tests


@dataclasses.dataclass(frozen=True)
class Broker:
    host: str
    port: int
    log: Optional[Path] = None
    """mosquitto's log (its stdout and stderr), if known."""

    @property
    def uri(self) -> str:
        return f"tcp://{self.host}:{self.port}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _start_mosquitto(
    tmp_path: Path, extra_config: Sequence[str] = (), port: Optional[int] = None
) -> Tuple[subprocess.Popen[bytes], int, Path]:
    """Starts mosquitto on a free port of 127.0.0.1; retries if the port was taken meanwhile.

    With `port`, on that port (a restart on the port of a broker just stopped), with no retry.

    `extra_config` lines are appended to the configuration; anonymous clients are allowed
    unless one of them says otherwise (allow_anonymous ...). Always "user root": started as
    root, mosquitto would switch to the user "mosquitto", which cannot reach pytest's
    private tmp_path or a checkout under /root (the line is ignored when not root).
    """
    log = tmp_path / "mosquitto.log"
    lines = list(extra_config)
    if "user root" not in lines:
        lines.insert(0, "user root")
    if not any(line.split()[:1] == ["allow_anonymous"] for line in lines):
        lines.insert(0, "allow_anonymous true")
    for _ in range(3 if port is None else 1):
        listen = _free_port() if port is None else port
        config = tmp_path / "mosquitto.conf"
        config.write_text("\n".join([f"listener {listen} 127.0.0.1", "persistence false", *lines, ""]))
        with log.open("wb") as out:
            process = subprocess.Popen([MOSQUITTO, "-c", str(config)], stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline and process.poll() is None:
            if _accepts(listen):
                return process, listen, log
            time.sleep(0.02)
        _stop(process)
    pytest.fail(f"mosquitto did not start: {log.read_text(errors='replace')[-2000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A fresh mosquitto, listening on 127.0.0.1 only; stopped after the test."""
    if not Path(MOSQUITTO).exists():
        pytest.skip(f"{MOSQUITTO} is not installed")
    process, port, log = _start_mosquitto(tmp_path)
    try:
        yield Broker("127.0.0.1", port, log)
    finally:
        _stop(process)


BrokerWithConfig = Callable[[Sequence[str]], Broker]


@pytest.fixture
def broker_with_config(tmp_path: Path) -> Iterator[BrokerWithConfig]:
    """broker_with_config(lines) -> a fresh mosquitto on 127.0.0.1 whose configuration also has `lines`.

    Each call starts another broker (in its own directory under tmp_path, log in Broker.log);
    all are stopped after the test (each runs as "user root": see _start_mosquitto).
    """
    if not Path(MOSQUITTO).exists():
        pytest.skip(f"{MOSQUITTO} is not installed")
    processes: List[subprocess.Popen[bytes]] = []

    def start(lines: Sequence[str]) -> Broker:
        directory = tmp_path / f"broker-{len(processes)}"
        directory.mkdir()
        process, port, log = _start_mosquitto(directory, lines)
        processes.append(process)
        return Broker("127.0.0.1", port, log)

    try:
        yield start
    finally:
        for process in processes:
            _stop(process)


REDIS_SERVER = "/usr/bin/redis-server"


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A fresh redis-server on a free port of 127.0.0.1 (nothing saved); its redis:// URL. Stopped after the test."""
    if not Path(REDIS_SERVER).exists():
        pytest.skip(f"{REDIS_SERVER} is not installed")
    directory = tmp_path / "redis"
    directory.mkdir()
    for _ in range(3):
        port = _free_port()
        with (directory / "redis.log").open("wb") as out:
            process = subprocess.Popen(
                [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--daemonize", "no", "--dir", str(directory)],
                stdout=out, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline and process.poll() is None and not _accepts(port):
            time.sleep(0.02)
        if process.poll() is None and _accepts(port):
            try:
                yield f"redis://127.0.0.1:{port}/0"
            finally:
                _stop(process)
            return
        _stop(process)
    pytest.fail(f"redis-server did not start: {(directory / 'redis.log').read_text(errors='replace')[-2000:]}")


@pytest.fixture
def keys_and_policy() -> Tuple[mqseal.Keyring, mqseal.TopicPolicy]:
    """A keyring with a "telemetry" key; plant/+/telemetry sealed under it, public/# plaintext."""
    keys = mqseal.Keyring()
    keys.generate("telemetry")
    policy = mqseal.TopicPolicy()
    policy.add_rule("plant/+/telemetry", "telemetry")
    policy.add_plaintext_rule("public/#")
    return keys, policy


@pytest.fixture(params=[CallbackAPIVersion.VERSION1, CallbackAPIVersion.VERSION2], ids=["api1", "api2"])
def api(request: pytest.FixtureRequest) -> CallbackAPIVersion:
    """The paho callback API version: every test that connects runs with both."""
    version: CallbackAPIVersion = request.param
    return version


Connect = Callable[..., mqtt.Client]


@pytest.fixture
def connect(broker: Broker, api: CallbackAPIVersion) -> Iterator[Connect]:
    """connect(protocol=MQTTv311) -> a raw paho Client with a unique ID, connected, its loop started.

    Every client made is disconnected and its loop stopped after the test.
    """
    clients: List[mqtt.Client] = []

    def connect(protocol: MQTTProtocolVersion = mqtt.MQTTv311) -> mqtt.Client:
        with warnings.catch_warnings():  # VERSION1 is deprecated, and tested on purpose
            warnings.simplefilter("ignore", DeprecationWarning)
            client = mqtt.Client(api, client_id=f"mqseal-test-{uuid.uuid4().hex[:12]}", protocol=protocol)
        connected = threading.Event()
        client.on_connect = lambda *args: connected.set()
        client.connect(broker.host, broker.port)
        clients.append(client)
        client.loop_start()
        assert connected.wait(TIMEOUT), "no CONNACK"
        return client

    yield connect
    for client in clients:
        client.disconnect()
        client.loop_stop()
