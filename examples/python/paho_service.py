"""A Python service that opens sealed readings with paho-mqtt 2.x and mqseal.

    python paho_service.py HOST PORT KEYRING POLICY FILTER COUNT

Prints each opened message and exits 0 after COUNT of them (1 if they do not
arrive within 10 seconds). The only mqseal-specific line is wrap().
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

import mqseal
import mqseal.paho

TIMEOUT_S = 10.0


def main(host: str, port: int, keyring: str, policy: str, topic_filter: str, count: int) -> int:
    raw = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="mqseal-demo-python-service")
    client = mqseal.paho.wrap(raw, mqseal.TopicPolicy.load(policy), mqseal.Keyring.load(keyring))
    opened = 0
    done = threading.Event()
    subscribed = threading.Event()

    def on_message(_: mqseal.paho.SealedClient, userdata: Any, message: mqtt.MQTTMessage) -> None:
        nonlocal opened
        print(f"python service opened on {message.topic}: {message.payload.decode()}", flush=True)
        opened += 1
        if opened >= count:
            done.set()

    client.on_message = on_message
    raw.on_subscribe = lambda *_args: subscribed.set()
    raw.connect(host, port)
    raw.subscribe(topic_filter, qos=1)
    raw.loop_start()
    if subscribed.wait(TIMEOUT_S):
        print(f"python service subscribed to {topic_filter}", flush=True)
    ok = done.wait(TIMEOUT_S)
    raw.disconnect()
    raw.loop_stop()
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])))
