"""The README's aiomqtt example: publish a sealed reading, print the opened readings received.

    python readme_aio.py HOST PORT KEYRING POLICY

Runs until it is stopped, as a service does (the test that runs it stops it).
"""

import asyncio
import sys

import aiomqtt

import mqseal
import mqseal.aio


async def main(host: str, port: int, keys: mqseal.Keyring, policy: mqseal.TopicPolicy) -> None:
    # --- README begins ---
    async with mqseal.aio.wrap(aiomqtt.Client(host, port), policy, keys) as client:
        await client.subscribe("plant/+/telemetry", qos=1)
        await client.publish("plant/7/telemetry", b"21.5 C", qos=1)  # sealed
        async for message in client.messages:  # opened; refused ones go to client.on_refused
            print(message.topic, message.payload)
    # --- README ends ---


asyncio.run(main(sys.argv[1], int(sys.argv[2]), mqseal.Keyring.load(sys.argv[3]), mqseal.TopicPolicy.load(sys.argv[4])))
