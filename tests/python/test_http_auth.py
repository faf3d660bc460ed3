"""examples/python/http_auth.py: the HTTP authentication endpoint, in-process and as a script."""

from __future__ import annotations

import concurrent.futures
import http.client
import importlib.util
import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

import mqseal

EXAMPLE = Path(__file__).resolve().parent.parent.parent / "examples" / "python" / "http_auth.py"
USERNAME = "device-7"
CLIENT_ID = "device-7/sensor"
CHEAP = mqseal.PassphraseParams(bytes(16), 1, 8192)  # Argon2id limits for tests only


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mqseal_example_http_auth", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


http_auth = load_example()


@pytest.fixture(scope="module")
def device() -> mqseal.Provisioned:
    return mqseal.provision(USERNAME, "correct horse battery staple", CHEAP)


@pytest.fixture
def server(device: mqseal.Provisioned) -> Iterator[Tuple[str, int]]:
    """The endpoint on a free port of 127.0.0.1, served by a thread; shut down after the test."""
    credentials = mqseal.Credentials()
    credentials.add(device.record)
    srv = http_auth.make_server(mqseal.TokenVerifier(credentials), 0)
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), name="http-auth", daemon=True)
    thread.start()
    try:
        host, port = srv.server_address[:2]
        yield str(host), int(port)
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(10)
        assert not thread.is_alive()


def post(address: Tuple[str, int], body: bytes, path: str = "/mqtt/auth") -> Tuple[int, Dict[str, Any]]:
    connection = http.client.HTTPConnection(*address, timeout=10)
    try:
        connection.request("POST", path, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.getheader("Content-Type") == "application/json"
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def request(username: str, password: str, client_id: str = CLIENT_ID) -> bytes:
    return json.dumps({"username": username, "password": password, "clientid": client_id}).encode()


def token(device: mqseal.Provisioned, client_id: str = CLIENT_ID) -> str:
    return mqseal.make_connect_token(device.device_secret, USERNAME, client_id)


def test_a_token_is_allowed_once(
    server: Tuple[str, int], device: mqseal.Provisioned, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mqseal.http_auth")
    good = token(device)
    assert post(server, request(USERNAME, good)) == (200, {"result": "allow"})
    assert post(server, request(USERNAME, good)) == (403, {"result": "deny", "reason": "replay"})
    assert good not in caplog.text and good[5:40] not in caplog.text  # never logged
    assert f"allow user '{USERNAME}' (client '{CLIENT_ID}')" in caplog.text
    assert f"deny user '{USERNAME}' (client '{CLIENT_ID}'): replay" in caplog.text


def test_refusals_say_why(server: Tuple[str, int], device: mqseal.Provisioned) -> None:
    assert post(server, request(USERNAME, "garbage")) == (403, {"result": "deny", "reason": "malformed"})
    assert post(server, request(USERNAME, "")) == (403, {"result": "deny", "reason": "malformed"})
    # An unknown username is refused as a wrong token is: the answer does not say who is provisioned.
    unknown = post(server, request("somebody-else", token(device), "somebody-else"))
    assert unknown == (403, {"result": "deny", "reason": "authentication_failed"})
    other_client = request(USERNAME, token(device, "device-7/another"))
    assert post(server, other_client) == (403, {"result": "deny", "reason": "authentication_failed"})
    old = mqseal.make_connect_token(device.device_secret, USERNAME, CLIENT_ID, lifetime_s=60, now_s=1_000_000_000)
    assert post(server, request(USERNAME, old)) == (403, {"result": "deny", "reason": "expired"})


def test_a_device_logs_in_only_with_a_client_id_it_owns(server: Tuple[str, int], device: mqseal.Provisioned) -> None:
    """Another device's client ID (which the broker would take from that device), or any ID that is
    neither the username nor starts with it and '/', is refused before the token is looked at."""
    for client_id in ("device-8", "device-8/sensor", "sensor-7", "device-70", "device-7x/a", ""):
        stolen = token(device, client_id)
        assert post(server, request(USERNAME, stolen, client_id)) == (
            403, {"result": "deny", "reason": "client_id_not_owned"}), client_id
    # The same answer for a username nobody provisioned: it tells nothing about who is.
    assert post(server, request("somebody-else", token(device, "device-7"), "device-7")) == (
        403, {"result": "deny", "reason": "client_id_not_owned"})
    for client_id in ("device-7", "device-7/", "device-7/a/b"):
        assert post(server, request(USERNAME, token(device, client_id), client_id)) == (
            200, {"result": "allow"}), client_id
    # A refused ID used up no token: the same token, with its own ID, is still good.
    kept = token(device, "device-7/kept")
    assert post(server, request(USERNAME, kept, "device-8"))[0] == 403
    assert post(server, request(USERNAME, kept, "device-7/kept")) == (200, {"result": "allow"})


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"",
        b"\xff\xfe",
        b"[]",
        b'"a string"',
        json.dumps({"username": USERNAME, "clientid": CLIENT_ID}).encode(),  # no password
        json.dumps({"username": USERNAME, "password": 5, "clientid": CLIENT_ID}).encode(),
        json.dumps({"username": USERNAME, "password": None, "clientid": CLIENT_ID}).encode(),
        b'{"username": "device-7", "password": "mqs1.\\ud800", "clientid": "sensor-7"}',  # not UTF-8
    ],
    ids=["bad-json", "empty", "not-utf8", "array", "string", "no-password", "number", "null", "lone-surrogate"],
)
def test_a_malformed_body_is_a_bad_request(server: Tuple[str, int], body: bytes) -> None:
    assert post(server, body) == (400, {"result": "deny", "reason": "bad_request"})


def test_other_paths_and_methods(server: Tuple[str, int], device: mqseal.Provisioned) -> None:
    assert post(server, request(USERNAME, token(device)), path="/elsewhere")[0] == 404
    connection = http.client.HTTPConnection(*server, timeout=10)
    try:
        connection.request("GET", "/mqtt/auth")
        assert connection.getresponse().status == 501
    finally:
        connection.close()
    connection = http.client.HTTPConnection(*server, timeout=10)
    try:  # no Content-Length
        connection.putrequest("POST", "/mqtt/auth")
        connection.endheaders()
        assert connection.getresponse().status == 400
    finally:
        connection.close()
    too_large = b" " * (http_auth.MAX_BODY_BYTES + 1)
    assert post(server, too_large)[0] == 413


def test_requests_on_one_kept_alive_connection(server: Tuple[str, int], device: mqseal.Provisioned) -> None:
    connection = http.client.HTTPConnection(*server, timeout=10)
    try:
        for _ in range(3):
            connection.request("POST", "/mqtt/auth", request(USERNAME, token(device)))
            response = connection.getresponse()
            assert (response.status, json.loads(response.read())) == (200, {"result": "allow"})
    finally:
        connection.close()


def test_concurrent_requests(server: Tuple[str, int], device: mqseal.Provisioned) -> None:
    tokens = [token(device) for _ in range(40)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda t: post(server, request(USERNAME, t)), tokens))
        assert answers == [(200, {"result": "allow"})] * len(tokens)
        # The same token in 16 racing requests: exactly one is allowed.
        same = token(device)
        raced = list(pool.map(lambda _: post(server, request(USERNAME, same)), range(16)))
    assert raced.count((200, {"result": "allow"})) == 1
    assert raced.count((403, {"result": "deny", "reason": "replay"})) == 15


def test_deny_status_for_emqx(device: mqseal.Provisioned) -> None:
    credentials = mqseal.Credentials()
    credentials.add(device.record)
    verifier = mqseal.TokenVerifier(credentials)
    assert http_auth.decide(verifier, request(USERNAME, "garbage"), deny_status=200) == (
        200,
        {"result": "deny", "reason": "malformed"},
    )
    assert http_auth.decide(verifier, b"{", deny_status=200)[0] == 400


class StderrLines:
    """A child's stderr, read by a thread, so that every wait on it has a time limit."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stderr is not None
        self._stream = process.stderr
        self._lines: queue.Queue[Optional[str]] = queue.Queue()
        self.lines: List[str] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self._stream:
            self._lines.put(line)
        self._lines.put(None)

    def until(self, marker: str, timeout: float) -> str:
        """The first line containing `marker`; AssertionError if the child ends or `timeout` s pass first."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {marker!r} within {timeout} s:\n{''.join(self.lines)}") from None
            if line is None:
                raise AssertionError(f"ended before {marker!r}:\n{''.join(self.lines)}")
            self.lines.append(line)
            if marker in line:
                return line

    def rest(self, timeout: float) -> str:
        """Everything after what until() read, once the child has closed stderr (at most `timeout` s)."""
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "stderr still open"
        while (line := self._lines.get_nowait()) is not None:
            self.lines.append(line)
        return "".join(self.lines)


def test_waiting_for_a_silent_child_is_bounded() -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], stderr=subprocess.PIPE, text=True
    )
    try:
        start = time.monotonic()
        with pytest.raises(AssertionError, match="within 0.5 s"):
            StderrLines(process).until("listening on", timeout=0.5)
        assert time.monotonic() - start < 10
    finally:
        process.kill()
        process.wait(timeout=10)


def test_the_script(tmp_path: Path, device: mqseal.Provisioned) -> None:
    credentials = mqseal.Credentials()
    credentials.add(device.record)
    path = tmp_path / "broker.credentials"
    credentials.save(str(path))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLE), str(path), "0"], stderr=subprocess.PIPE, text=True, env=env
    )
    stderr = StderrLines(process)
    good = token(device)
    try:
        listening = stderr.until("listening on http://127.0.0.1:", timeout=30)
        port = int(listening.rsplit(":", 1)[1].split("/", 1)[0])
        assert post(("127.0.0.1", port), request(USERNAME, good)) == (200, {"result": "allow"})
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()  # never leave it running
            process.wait(timeout=10)
    assert good not in stderr.rest(timeout=10)

    path.chmod(0o644)  # a credentials file readable by others is refused
    refused = subprocess.run([sys.executable, str(EXAMPLE), str(path), "0"], capture_output=True, text=True, timeout=30)
    assert refused.returncode == 1 and "insecure_permissions" in refused.stderr
    usage = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=30)
    assert usage.returncode == 2 and "CREDENTIALS_FILE PORT" in usage.stderr


def run_script_once(
    path: Path, store: List[str], good: str, extra_env: Optional[Dict[str, str]] = None
) -> Tuple[int, Dict[str, Any]]:
    """Starts the script, posts `good` once, stops it: the answer."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(extra_env or {})}
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLE), str(path), "0", *store], stderr=subprocess.PIPE, text=True, env=env
    )
    stderr = StderrLines(process)
    try:
        listening = stderr.until("listening on http://127.0.0.1:", timeout=30)
        port = int(listening.rsplit(":", 1)[1].split("/", 1)[0])
        return post(("127.0.0.1", port), request(USERNAME, good))
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()  # never leave it running
            process.wait(timeout=10)


def test_the_script_with_a_file_store_refuses_a_token_after_a_restart(tmp_path: Path, device: mqseal.Provisioned) -> None:
    credentials = mqseal.Credentials()
    credentials.add(device.record)
    path = tmp_path / "broker.credentials"
    credentials.save(str(path))
    store = ["file:" + str(tmp_path / "replay")]
    good = token(device)
    assert run_script_once(path, store, good) == (200, {"result": "allow"})
    assert run_script_once(path, store, good) == (403, {"result": "deny", "reason": "replay"})
    # In memory (the default), a restart forgets: the captured token is accepted once more.
    again = token(device)
    assert run_script_once(path, [], again) == (200, {"result": "allow"})
    assert run_script_once(path, ["memory"], again) == (200, {"result": "allow"})
    bad = subprocess.run(
        [sys.executable, str(EXAMPLE), str(path), "0", "redis:nowhere"], capture_output=True, text=True, timeout=30
    )
    assert bad.returncode == 1 and "invalid_argument" in bad.stderr


def test_endpoints_sharing_a_redis_accept_a_token_once(
    tmp_path: Path, device: mqseal.Provisioned, redis_url: str
) -> None:
    """Two endpoints (two processes, as for two nodes of a cluster) given one redis-server."""
    credentials = mqseal.Credentials()
    credentials.add(device.record)
    path = tmp_path / "broker.credentials"
    credentials.save(str(path))
    good = token(device)
    assert run_script_once(path, [redis_url], good) == (200, {"result": "allow"})
    assert run_script_once(path, [redis_url], good) == (403, {"result": "deny", "reason": "replay"})
    # A Redis that cannot be reached: the endpoint does not start (fail closed).
    unreachable = subprocess.run(
        [sys.executable, str(EXAMPLE), str(path), "0", "redis://127.0.0.1:1/0"], capture_output=True, text=True,
        timeout=30,
    )
    assert unreachable.returncode == 1 and "io_error" in unreachable.stderr


def test_a_store_password_is_never_logged_and_may_come_from_the_environment(
    tmp_path: Path, device: mqseal.Provisioned, redis_url: str
) -> None:
    """A Redis URL whose password holds '/' and '@', or a redis:/ typo: refused, and no line
    of the endpoint's output holds the password; MQSEAL_REPLAY_STORE names the store instead of
    the command line (so the password is not in the process list)."""
    credentials = mqseal.Credentials()
    credentials.add(device.record)
    path = tmp_path / "broker.credentials"
    credentials.save(str(path))
    for spec in ["redis://:pw/Qx7-secret@127.0.0.1:1/0", "redis://u:pw/Qx7-secret@x@127.0.0.1:1/z",
                 "redis:/:pw/Qx7-secret@127.0.0.1:1/0", "redis:pw/Qx7-secret@127.0.0.1"]:
        for argv, env in [([spec], {}), ([], {"MQSEAL_REPLAY_STORE": spec})]:
            refused = subprocess.run(
                [sys.executable, str(EXAMPLE), str(path), "0", *argv], capture_output=True, text=True, timeout=30,
                env={**os.environ, **env},
            )
            assert refused.returncode == 1, (spec, refused.stderr)
            assert "Qx7" not in refused.stderr + refused.stdout, refused.stderr
            assert "cannot open the replay store" in refused.stderr
    good = token(device)
    assert run_script_once(path, [], good, {"MQSEAL_REPLAY_STORE": redis_url}) == (200, {"result": "allow"})
    assert run_script_once(path, [redis_url], good) == (403, {"result": "deny", "reason": "replay"})
    usage = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=30)
    assert "MQSEAL_REPLAY_STORE" in usage.stderr
