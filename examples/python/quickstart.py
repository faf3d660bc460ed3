"""The README's Python example: seal for a topic, open on the other side."""

import mqseal

keys = mqseal.Keyring()
keys.generate("telemetry")  # or mqseal.Keyring.load("service.keys")
policy = mqseal.TopicPolicy()
policy.add_rule("plant/+/telemetry", "telemetry")  # or mqseal.TopicPolicy.load("policy.toml")

# --- README begins ---
sealer = mqseal.Sealer(policy, keys)
envelope = sealer.seal("plant/7/telemetry", b"21.5 C")
opener = mqseal.Opener(policy, keys)
opened = opener.open("plant/7/telemetry", envelope)
print(opened.payload)  # b'21.5 C'; a refused message raises an mqseal.Error instead
# --- README ends ---
