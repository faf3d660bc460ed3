"""Random bytes and mutations of valid envelopes: only mqseal errors come out."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

import mqseal

POLICY = mqseal.TopicPolicy()
POLICY.add_rule("plant/+/telemetry", "telemetry")
KEYS = mqseal.Keyring()
KEYS.generate("telemetry")
SEALER = mqseal.Sealer(POLICY, KEYS)
VALID = [SEALER.seal("plant/1/telemetry", bytes(n)) for n in (0, 1, 64, 300)]


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes(data: bytes) -> None:
    opener = mqseal.Opener(POLICY, KEYS)
    try:
        opener.open("plant/1/telemetry", data)
    except mqseal.Error:
        return
    raise AssertionError("random bytes opened")


@settings(max_examples=3000, deadline=None)
@given(st.sampled_from(VALID), st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), min_size=1, max_size=4),
       st.integers(0, 10**6))
def test_mutated_envelopes(envelope: bytes, flips: list[tuple[int, int]], cut: int) -> None:
    mutated = bytearray(envelope)
    for position, mask in flips:
        mutated[position % len(mutated)] ^= mask
    if cut % 3 == 0:
        del mutated[cut % (len(mutated) + 1):]
    opener = mqseal.Opener(POLICY, KEYS)
    try:
        opener.open("plant/1/telemetry", bytes(mutated))
    except mqseal.Error:
        return
    assert bytes(mutated) in VALID  # only an unmodified envelope may open


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80))
def test_random_topics_and_filters(text: str) -> None:
    try:
        SEALER.seal(text, b"x")
    except mqseal.Error:
        pass
    try:
        mqseal.TopicPolicy().add_rule(text, "k")
    except mqseal.Error:
        pass
