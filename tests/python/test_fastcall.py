"""Sealer.seal and Opener.open, the two methods bound as plain CPython methods (METH_FASTCALL):
every path through their hand-written argument handling, success and each error, leaves no
reference, object or memory behind; an instance whose __init__ never ran, an envelope larger
than any sealed topic takes, buffers of every shape, and buffers that fail or change during
the call each get a clear error, never a crash. test_arguments.py has their TypeErrors'
wording and the bool parameters; test_gil_and_buffers.py their errors without the GIL.

Calls that could crash the interpreter or exhaust memory run in a child process.
"""

from __future__ import annotations

import array
import gc
import mmap
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any, Callable, List, Optional, Tuple, Type

import pytest

import mqseal

TOPIC = "plant/7/telemetry"
PLAIN = "public/notice"
PAYLOAD = b"hunter2 reading, not for logs"
LARGE = 64 * 1024  # bytes: sealed and opened without the GIL (16 KiB and more)
CHILD_TIMEOUT = 60.0  # seconds


def world() -> Tuple[mqseal.Keyring, mqseal.TopicPolicy]:
    keys = mqseal.Keyring()
    keys.generate("telemetry")
    policy = mqseal.TopicPolicy()
    policy.add_rule("plant/+/telemetry", "telemetry")
    policy.add_plaintext_rule("public/#")
    return keys, policy


KEYS, POLICY = world()


def run_child(code: str) -> subprocess.CompletedProcess[str]:
    """Runs `code` in a fresh interpreter (mqseal imported); its exit status says whether it crashed."""
    program = "import mqseal\n" + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=CHILD_TIMEOUT, check=False
    )


# ---- no leak on any path ----


class RaisingIndex:
    """An int by __index__, whose __index__ raises."""

    def __index__(self) -> int:
        raise KeyError("from __index__")


def released() -> memoryview:
    view = memoryview(bytearray(PAYLOAD))
    view.release()
    return view


# (name, the call given a Sealer and an Opener, the exception it raises or None)
Call = Tuple[str, Callable[[Any, Any], object], Optional[Type[BaseException]]]
ENVELOPES = [mqseal.Sealer(POLICY, KEYS).seal(TOPIC, PAYLOAD) for _ in range(3)]
TAMPERED = ENVELOPES[0][:-1] + bytes([ENVELOPES[0][-1] ^ 1])
BIG = bytes(LARGE)
STRIDED = memoryview(bytes(2 * len(PAYLOAD)))[::2]
UNENCODABLE = "plant/\ud800/telemetry"
CALLS: List[Call] = [
    ("seal bytes", lambda s, o: s.seal(TOPIC, PAYLOAD), None),
    ("seal bytearray retain", lambda s, o: s.seal(TOPIC, bytearray(PAYLOAD), retain=True), None),
    ("seal strided", lambda s, o: s.seal(TOPIC, STRIDED), None),
    ("seal large", lambda s, o: s.seal(TOPIC, BIG), None),
    ("seal plaintext", lambda s, o: s.seal(PLAIN, PAYLOAD), None),
    ("seal by name", lambda s, o: s.seal(payload=PAYLOAD, topic=TOPIC, retain=False), None),
    ("seal topic int", lambda s, o: s.seal(7, PAYLOAD), TypeError),
    ("seal retain None", lambda s, o: s.seal(TOPIC, PAYLOAD, retain=None), TypeError),
    ("seal payload str", lambda s, o: s.seal(TOPIC, "text"), TypeError),
    ("seal payload released", lambda s, o: s.seal(TOPIC, released()), ValueError),
    ("seal no topic", lambda s, o: s.seal(payload=PAYLOAD), TypeError),
    ("seal unknown keyword", lambda s, o: s.seal(TOPIC, PAYLOAD, qos=1), TypeError),
    ("seal three positionals", lambda s, o: s.seal(TOPIC, PAYLOAD, True), TypeError),
    ("seal topic twice", lambda s, o: s.seal(TOPIC, PAYLOAD, topic=TOPIC), TypeError),
    ("seal no rule", lambda s, o: s.seal("plant/7/status", PAYLOAD), mqseal.NoRuleError),
    ("seal unencodable topic", lambda s, o: s.seal(UNENCODABLE, PAYLOAD), mqseal.InvalidArgumentError),
    ("seal then open", lambda s, o: o.open(TOPIC, s.seal(TOPIC, PAYLOAD)), None),
    ("open plaintext", lambda s, o: o.open(PLAIN, bytearray(PAYLOAD), retained=True, now_ms=5), None),
    ("open plaintext larger than the first guess", lambda s, o: o.open(PLAIN, b"\x01" + BIG), None),
    ("open duplicate", lambda s, o: o.open(TOPIC, memoryview(ENVELOPES[1])), mqseal.DuplicateError),
    ("open tampered", lambda s, o: o.open(TOPIC, TAMPERED), mqseal.AuthenticationError),
    ("open too short", lambda s, o: o.open(TOPIC, b"\x02"), mqseal.FormatError),
    ("open now_ms float", lambda s, o: o.open(TOPIC, ENVELOPES[1], now_ms=1.5), TypeError),
    ("open now_ms raising", lambda s, o: o.open(TOPIC, ENVELOPES[1], now_ms=RaisingIndex()), KeyError),
    ("open now_ms out of range", lambda s, o: o.open(TOPIC, ENVELOPES[1], now_ms=-1), mqseal.InvalidArgumentError),
    ("open envelope None", lambda s, o: o.open(TOPIC, None), TypeError),
    ("open envelope released", lambda s, o: o.open(TOPIC, released()), ValueError),
    ("open unknown keyword", lambda s, o: o.open(TOPIC, ENVELOPES[1], retain=True), TypeError),
    ("open no envelope", lambda s, o: o.open(TOPIC), TypeError),
]


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * mmap.PAGESIZE


@pytest.mark.parametrize("case", CALLS, ids=lambda c: c[0])
def test_a_call_leaves_no_reference_object_or_memory_behind(case: Call) -> None:
    name, call, raises = case
    sealer, opener = mqseal.Sealer(POLICY, KEYS), mqseal.Opener(POLICY, KEYS)
    opener.open(TOPIC, ENVELOPES[1])  # "open duplicate" finds it seen

    def once() -> object:
        try:
            return call(sealer, opener)
        except BaseException as error:  # checked: the expected class
            assert raises is not None and type(error) is raises, (name, repr(error))
            return None

    result = once()
    assert (result is None) == (raises is not None), name
    watched: List[object] = [sealer, opener, PAYLOAD, TOPIC, ENVELOPES[1], BIG, STRIDED, type(result), mqseal.Opened]
    if raises is not None:
        watched.append(raises)
    calls = 20_000 if name.endswith(("large", "first guess")) else 100_000
    for _ in range(1000):
        once()
    gc.collect()
    refs = [sys.getrefcount(x) for x in watched]
    blocks = sys.getallocatedblocks()
    resident = resident_bytes()
    for _ in range(calls):
        try:
            call(sealer, opener)
        except BaseException:
            pass
    gc.collect()
    after = [sys.getrefcount(x) for x in watched]  # measured as `refs` was
    grown = [(repr(x)[:40], a - r) for x, r, a in zip(watched, refs, after) if a != r]
    assert not grown, f"{name}: references left after {calls} calls: {grown}"
    assert sys.getallocatedblocks() - blocks < calls // 100, f"{name}: Python objects left"
    assert resident_bytes() - resident < 2 << 20, f"{name}: memory grew by {resident_bytes() - resident} bytes"


def test_a_buffer_is_released_after_every_path() -> None:
    # A bytearray whose buffer a call kept could never be resized again (BufferError).
    sealer, opener = mqseal.Sealer(POLICY, KEYS), mqseal.Opener(POLICY, KEYS)
    for size in (len(PAYLOAD), LARGE):
        payload = bytearray(size)
        envelope = bytearray(sealer.seal(TOPIC, payload))
        with pytest.raises(mqseal.NoRuleError):
            sealer.seal("plant/7/status", payload)
        with pytest.raises(TypeError):
            sealer.seal(TOPIC, payload, retain=1)  # type: ignore[arg-type]
        opener.open(TOPIC, envelope)
        with pytest.raises(mqseal.DuplicateError):
            opener.open(TOPIC, memoryview(envelope))
        with pytest.raises(mqseal.NoRuleError):
            opener.open("plant/7/status", envelope)
        for buffer in (payload, envelope):
            buffer.append(0)  # BufferError if an export was left
            del buffer[-1]


# ---- an instance whose __init__ never ran ----


def test_seal_and_open_on_an_instance_whose_init_never_ran_are_a_type_error() -> None:
    # cls.__new__(cls) holds no C++ object. seal and open used it as one: a segmentation fault.
    child = run_child(
        f"""
import sys
for name in ("Sealer", "Opener"):
    for cls in (getattr(mqseal, name), getattr(mqseal._mqseal, name)):
        blank = cls.__new__(cls)
        call = blank.seal if name == "Sealer" else blank.open
        for keywords in ({{}}, {{"x": 1}}):  # the arguments are judged first, as for any instance
            try:
                call({TOPIC!r}, {PAYLOAD!r}, **keywords)
            except BaseException as e:
                print(type(e).__name__, e)
        refs, blocks = sys.getrefcount(blank), sys.getallocatedblocks()
        for _ in range(10_000):
            try:
                call({TOPIC!r}, {PAYLOAD!r})
            except TypeError:
                pass
        print("left", sys.getrefcount(blank) - refs, sys.getallocatedblocks() - blocks < 100)
"""
    )
    assert child.returncode == 0, f"the interpreter died ({child.returncode}): {child.stderr[-2000:]}"
    lines = child.stdout.splitlines()
    assert len(lines) == 12 and "hunter2" not in child.stdout, child.stdout
    for i, method in enumerate(["Sealer.seal"] * 2 + ["Opener.open"] * 2):
        blank, wrong_keyword, left = lines[3 * i : 3 * i + 3]
        assert blank.startswith(f"TypeError {method}(): called on a ") and blank.endswith(" whose __init__ never ran")
        assert wrong_keyword == f"TypeError {method}() got an unexpected keyword argument 'x'"
        assert left == "left 0 True"


# ---- sizes no envelope or payload can have ----


def test_an_envelope_larger_than_any_sealed_topic_takes_is_refused_by_its_size_alone() -> None:
    # A buffer of 1 TiB (its first bytes a real envelope, the rest never read): open allocated a
    # payload of the envelope's size before the core refused it by that size, so it raised
    # MemoryError (or allocated and zeroed 256 MiB and more) where the answer is FormatError.
    child = run_child(
        f"""
import ctypes, resource
keys = mqseal.Keyring()
keys.generate("telemetry")
policy = mqseal.TopicPolicy()
policy.add_rule("plant/+/telemetry", "telemetry")
envelope = mqseal.Sealer(policy, keys).seal({TOPIC!r}, bytes(64))
head = ctypes.create_string_buffer(envelope, len(envelope))
huge = (ctypes.c_char * (1 << 40)).from_address(ctypes.addressof(head))
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))  # no TiB: an allocation fails at once
for call in (lambda: mqseal.Opener(policy, keys).open({TOPIC!r}, huge),
             lambda: mqseal.Opener(policy, keys).open({TOPIC!r}, memoryview(huge)),
             lambda: mqseal.Sealer(policy, keys).seal({TOPIC!r}, huge)):
    try:
        call()
    except BaseException as e:
        print(type(e).__name__, getattr(e, "code", "-"))
"""
    )
    assert child.returncode == 0, child.stderr[-2000:]
    assert child.stdout.split("\n")[:3] == [
        "FormatError malformed",
        "FormatError malformed",
        "InvalidArgumentError payload_too_large",
    ], child.stdout + child.stderr[-2000:]


def test_an_envelope_larger_than_any_sealed_topic_takes_is_refused_uncopied_when_not_contiguous() -> None:
    # The same, in a buffer that is not contiguous (every other byte of 1 TiB): open copied it into
    # one piece before the core refused it by its size, so it raised MemoryError (or copied 128 MiB
    # and more) where the answer is FormatError. Refused uncopied, as a contiguous one is.
    child = run_child(
        f"""
import ctypes, resource
keys = mqseal.Keyring()
keys.generate("telemetry")
policy = mqseal.TopicPolicy()
policy.add_rule("plant/+/telemetry", "telemetry")
policy.add_plaintext_rule("public/#")
head = ctypes.create_string_buffer(64)
huge = (ctypes.c_char * (1 << 40)).from_address(ctypes.addressof(head))
scattered = memoryview(huge)[::2]
assert not scattered.contiguous and scattered.nbytes > (1 << 28)
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))  # no copy: an allocation fails at once
for topic in ({TOPIC!r}, "plant/7/status"):
    try:
        mqseal.Opener(policy, keys).open(topic, scattered)
    except BaseException as e:
        print(type(e).__name__, getattr(e, "code", "-"))
small = memoryview(bytes(range(256)) * 2)[::2]  # on a plaintext topic, still its bytes in C order
print(mqseal.Opener(policy, keys).open("public/x", small).payload == small.tobytes())
"""
    )
    assert child.returncode == 0, child.stderr[-2000:]
    assert child.stdout.split("\n")[:3] == ["FormatError malformed", "NoRuleError no_rule", "True"], (
        child.stdout + child.stderr[-2000:]
    )


def test_a_plaintext_topic_passes_an_envelope_of_any_size_through() -> None:
    # The other side of the test above: on a plaintext topic nothing is too large to open.
    big = bytearray(mqseal.MAX_PAYLOAD_SIZE + mqseal.ENVELOPE_OVERHEAD + 1)  # above any envelope
    big[0], big[-1] = 2, 7
    opened = mqseal.Opener(POLICY, KEYS).open(PLAIN, big)
    assert not opened.sealed and len(opened.payload) == len(big)
    assert opened.payload[0] == 2 and opened.payload[-1] == 7
    del opened, big


# ---- buffers of every shape ----


def shaped() -> List[Tuple[str, Any]]:
    data = bytes(range(256)) * 2
    return [
        ("array of doubles", array.array("d", [1.5, -2.0, 1e300])),
        ("ints, every other (itemsize 4, not contiguous)", memoryview(data).cast("I")[::2]),
        ("3-D, reversed rows", memoryview(data).cast("B", (4, 8, 16))[::-1]),
        ("readonly view", memoryview(data)[3:300]),
        ("writable view", memoryview(bytearray(data))[1:]),
        ("bytes subclass", type("Sub", (bytes,), {})(data)),
        ("bytearray", bytearray(data)),
        ("empty", b""),
        ("empty view of a strided view", memoryview(data)[::2][256:]),
        ("mmap", mmap_of(data)),
    ]


def mmap_of(data: bytes) -> mmap.mmap:
    region = mmap.mmap(-1, len(data))
    region.write(data)
    return region


@pytest.mark.parametrize("case", shaped(), ids=lambda c: c[0])
def test_any_buffer_is_taken_as_its_bytes_in_c_order(case: Tuple[str, Any]) -> None:
    _, buffer = case
    expected = memoryview(buffer).tobytes()
    sealer, opener = mqseal.Sealer(POLICY, KEYS), mqseal.Opener(POLICY, KEYS)
    envelope = sealer.seal(TOPIC, buffer)
    assert opener.open(TOPIC, envelope).payload == expected
    # The envelope in the same shape: opened from its bytes in C order.
    assert opener.open(PLAIN, buffer).payload == expected


@pytest.mark.parametrize("broken", ["released memoryview", "closed mmap"])
def test_a_buffer_that_cannot_be_exported_raises_its_own_error(broken: str) -> None:
    # The exporter's ValueError comes through unchanged, and leaves no error pending behind
    # (a SystemError "returned a result with an exception set" at the next call would say so).
    def make() -> Any:
        if broken == "closed mmap":
            region = mmap.mmap(-1, 64)
            region.close()
            return region
        return released()

    sealer, opener = mqseal.Sealer(POLICY, KEYS), mqseal.Opener(POLICY, KEYS)
    with pytest.raises(ValueError):
        sealer.seal(TOPIC, make())
    assert opener.open(TOPIC, sealer.seal(TOPIC, PAYLOAD)).payload == PAYLOAD
    with pytest.raises(ValueError):
        opener.open(TOPIC, make())
    assert opener.open(TOPIC, sealer.seal(TOPIC, PAYLOAD)).payload == PAYLOAD


# ---- errors raised by the arguments' own code ----


class Odd:
    """What __index__ returns, and raises."""

    def __init__(self, value: object) -> None:
        self.value = value

    def __index__(self) -> Any:
        if isinstance(self.value, BaseException):
            raise self.value
        return self.value


def test_an_error_raised_converting_an_argument_comes_through_unchanged() -> None:
    sealer, opener = mqseal.Sealer(POLICY, KEYS), mqseal.Opener(POLICY, KEYS)
    now: Any = Odd  # not an int, for the type checker
    mine = LookupError("mine")
    with pytest.raises(LookupError) as caught:
        opener.open(TOPIC, sealer.seal(TOPIC, PAYLOAD), now_ms=now(mine))
    assert caught.value is mine
    with pytest.raises(TypeError, match="__index__ returned non-int"):
        opener.open(TOPIC, sealer.seal(TOPIC, PAYLOAD), now_ms=now("5"))
    # Nothing pending: the next call works, and the envelope refused above was never judged.
    envelope = sealer.seal(TOPIC, PAYLOAD)
    with pytest.raises(LookupError):
        opener.open(TOPIC, envelope, now_ms=now(mine))
    assert opener.open(TOPIC, envelope, now_ms=now(0)).payload == PAYLOAD


def test_keywords_are_matched_by_their_text() -> None:
    # Keywords from a dict are neither interned nor always exact str; a name that only starts
    # like a parameter's, or holds a NUL after it, is none of them.
    class Name(str):
        pass

    sealer: Any = mqseal.Sealer(POLICY, KEYS)  # keywords from dicts: no static types
    opener: Any = mqseal.Opener(POLICY, KEYS)
    topic = "".join(["to", "pic"])
    envelope = sealer.seal(**{topic: TOPIC, Name("payload"): PAYLOAD, Name("retain"): True})
    assert opener.open(**{Name("topic"): TOPIC, "env" + "elope": envelope, "retained": True}).retained
    for wrong in ("topic\0", "topic\0\u0100", "topi", "topics", "t\u00f3pic", "\udc80"):
        with pytest.raises(TypeError, match="unexpected keyword argument") as caught:
            sealer.seal(TOPIC, PAYLOAD, **{wrong: 1})
        assert "hunter2" not in str(caught.value)


# ---- other threads ----


def test_a_buffer_resized_by_another_thread_during_the_call_is_read_whole() -> None:
    # While seal reads a bytearray without the GIL it holds the bytearray's buffer: a resize
    # meanwhile raises BufferError in the resizing thread, and the envelope holds the payload
    # at one length or the other. Open copies its envelope first: a resize after that is the
    # next message's concern, and a torn envelope never opens.
    payload = bytearray(LARGE)
    envelope = bytearray(mqseal.Sealer(POLICY, KEYS).seal(TOPIC, payload))
    sealed_size = len(envelope)
    stop = threading.Event()
    refused = [0]

    def resize() -> None:  # each buffer one byte longer, then back, and so on
        while not stop.is_set():
            for buffer, size in ((payload, LARGE), (envelope, sealed_size)):
                try:
                    if len(buffer) > size:
                        del buffer[size:]
                    else:
                        buffer.append(1)
                except BufferError:
                    refused[0] += 1

    sealer = mqseal.Sealer(POLICY, KEYS)
    thread = threading.Thread(target=resize, daemon=True)
    thread.start()
    outcomes: set[bool] = set()
    try:
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            sealed = sealer.seal(TOPIC, payload)
            opened = mqseal.Opener(POLICY, KEYS).open(TOPIC, sealed).payload
            assert opened in (bytes(LARGE), bytes(LARGE) + b"\x01")
            try:
                outcomes.add(mqseal.Opener(POLICY, KEYS).open(TOPIC, envelope).payload == bytes(LARGE))
            except (mqseal.AuthenticationError, mqseal.FormatError):
                outcomes.add(False)
    finally:
        stop.set()
        thread.join(CHILD_TIMEOUT)
    assert refused[0], "the race was not exercised: no resize was refused"
    assert True in outcomes
