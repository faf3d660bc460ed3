#!/usr/bin/env python3
"""Logins per second through mosquitto: mqseal tokens (mqseal_auth.so) against password_file.

    login_bench.py PORT DEVICE_KEYRING TOKEN_USER PASSWORD_USER PASSWORD

Each login is a raw MQTT 3.1.1 CONNECT over a new TCP connection to
127.0.0.1:PORT, then the CONNACK, then close: the client costs little, so
what differs between the two kinds is the broker's check. The same code sends
both; rounds alternate; medians. Not a test: run by scripts/bench.
"""

from __future__ import annotations

import socket
import statistics
import struct
import sys
import time

import mqseal

LOGINS = 2000  # per round
ROUNDS = 5
CLIENT_ID = "login-bench"


def mqtt_string(value: bytes) -> bytes:
    return struct.pack("!H", len(value)) + value


def client_id(username: str) -> str:
    """USERNAME/login-bench: for the device, a client ID it owns (the plugin refuses a device any other)."""
    return f"{username}/{CLIENT_ID}"


def connect_packet(username: str, password: str) -> bytes:
    body = mqtt_string(b"MQTT") + bytes([4, 0xC2]) + struct.pack("!H", 60)
    body += mqtt_string(client_id(username).encode()) + mqtt_string(username.encode()) + mqtt_string(password.encode())
    length, encoded = len(body), b""
    while True:  # MQTT's variable-length "remaining length"
        byte, length = length % 128, length // 128
        encoded += bytes([byte | (0x80 if length else 0)])
        if not length:
            break
    return b"\x10" + encoded + body


def login(port: int, packet: bytes) -> bool:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(packet)
        connack = s.recv(4)
        return len(connack) == 4 and connack[0] == 0x20 and connack[3] == 0


def logins_per_second(port: int, packets: list[bytes]) -> float:
    start = time.perf_counter()
    for packet in packets:
        if not login(port, packet):
            sys.exit("login_bench: a login was refused")
    return len(packets) / (time.perf_counter() - start)


def main() -> int:
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    port, keyring_path, token_user, password_user, password = int(sys.argv[1]), *sys.argv[2:]
    keys = mqseal.Keyring.load(keyring_path)  # the device secret: its primary "connect" key
    tokens_per_second, passwords_per_second = [], []
    for r in range(ROUNDS):
        # Tokens are single-use: made before the round, outside the timing.
        tokens = [connect_packet(token_user, mqseal.make_connect_token(keys, "connect", token_user, client_id(token_user)))
                  for _ in range(LOGINS)]
        passwords = [connect_packet(password_user, password)] * LOGINS
        tokens_per_second.append(logins_per_second(port, tokens))
        passwords_per_second.append(logins_per_second(port, passwords))
        print(f"round {r + 1}: token (mqseal_auth.so) {tokens_per_second[-1]:.0f} logins/s, "
              f"password_file {passwords_per_second[-1]:.0f} logins/s", flush=True)
    t, p = statistics.median(tokens_per_second), statistics.median(passwords_per_second)
    print(f"median: token {t:.0f}/s, password_file {p:.0f}/s, token/password_file {t / p:.3f} (target >= 0.9)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
