"""The README's paho-mqtt example: a service that prints the opened readings it receives.

    python readme_paho.py HOST PORT KEYRING POLICY

Runs until it is stopped, as a service does (the test that runs it stops it).
"""

import sys

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

import mqseal
import mqseal.paho

host, port = sys.argv[1], int(sys.argv[2])
keys = mqseal.Keyring.load(sys.argv[3])
policy = mqseal.TopicPolicy.load(sys.argv[4])

# --- README begins ---
client = mqseal.paho.wrap(mqtt.Client(CallbackAPIVersion.VERSION2), policy, keys)
client.on_message = lambda _, userdata, message: print(message.topic, message.payload)  # opened
client.on_connect = lambda c, *_: c.subscribe("plant/+/telemetry", qos=1)  # again after a reconnect
client.connect(host, port)
client.loop_forever()
# --- README ends ---
