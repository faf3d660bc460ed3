"""An instance whose __init__ never ran (Cls.__new__(Cls)) holds no C++ object: every method,
property and special method of every class of mqseal._mqseal, and every call given such an
instance as an argument, raises TypeError, never crashes, hangs or reads raw memory.

The members are found by introspection, not listed: a class or method added later is checked
too (a class needs a working instance below, to prove the arguments given are accepted). Each
call is first made on a working instance with the same arguments: whatever it raises, it is no
TypeError, so the arguments convert and a TypeError on the blank instance comes from the blank
instance alone. The calls run in a child process, all in one; one that kills or hangs the child
is named, and the next child goes on after it.
"""

from __future__ import annotations

import copy
import os
import pickle
import re
import subprocess
import sys
import tempfile
from typing import Any, Callable, Dict, List, Optional, Tuple

import mqseal
import mqseal.aio
import mqseal.hazmat
import mqseal.paho
from mqseal import _mqseal

HERE = os.path.dirname(os.path.abspath(__file__))
HANG = 10.0  # seconds without progress: the call hangs
NEVER_RAN = "whose __init__ never ran"

# What a parameter of each annotated type is given (an initialised instance accepts it).
Make = Callable[[], Any]


def working_instances(directory: str) -> Dict[str, Make]:
    """A working instance of every class of mqseal._mqseal, by name."""
    keys = _mqseal.Keyring()
    keys.generate("telemetry")
    policy = _mqseal.TopicPolicy()
    policy.add_rule("plant/+/telemetry", "telemetry")
    params = _mqseal.PassphraseParams(b"0123456789abcdef", 1, 8192)
    device = _mqseal.provision("device-7", "pw", params)
    credentials = _mqseal.Credentials()
    credentials.add(device.record)
    sealer = mqseal.Sealer(policy, keys)
    envelope = sealer.seal("plant/7/telemetry", b"reading")
    return {
        "PassphraseParams": lambda: params,
        "Key": _mqseal.Key.generate,
        "KeyInfo": lambda: keys.info(keys.primary("telemetry")),
        "Keyring": keys.clone,
        "TopicRule": lambda: policy.rules[0],
        "TopicPolicy": lambda: _mqseal.TopicPolicy.parse('[[rule]]\nfilter = "plant/+/telemetry"\nkey = "telemetry"\n'),
        "Sealer": lambda: mqseal.Sealer(policy, keys),
        "Opened": lambda: mqseal.Opener(policy, keys).open("plant/7/telemetry", envelope),
        "Opener": lambda: mqseal.Opener(policy, keys),
        "ReplayGuard": lambda: mqseal.ReplayGuard(),
        "EnvelopeHeader": lambda: _mqseal.parse_header(envelope),
        "RecordCipher": lambda: _mqseal.RecordCipher(keys, "telemetry", "records"),
        "ReplayStore": _mqseal.memory_replay_store,
        "CredentialRecord": lambda: device.record,
        "Provisioned": lambda: device,
        "Credentials": lambda: credentials,
        "TokenVerifier": lambda: mqseal.TokenVerifier(credentials),
    }


def argument(annotation: str, name: str, directory: str, working: Dict[str, Make]) -> object:
    """A value an initialised instance accepts for a parameter `name: annotation`."""
    if name == "path":
        return os.path.join(directory, "file")
    if name == "sender":
        return bytes(16)
    if annotation.startswith("mqseal._mqseal."):
        return working[annotation.split(".")[-1].split(" ")[0]]()
    by_type: Dict[str, object] = {
        "str": "telemetry",
        "int": 1,
        "bool": False,
        "object": b"0123456789abcdef0123456789abcdef",
        "collections.abc.Buffer": b"payload",
        "collections.abc.Sequence[str]": ["signer"],
        "list[str]": ["signer"],  # as pybind11 2 writes it
    }
    return by_type[annotation]


def required_parameters(doc: str) -> List[Tuple[str, str]]:
    """(name, annotation) of the required parameters after self, from pybind11's signature line."""
    inside = doc.split("(", 1)[1].rsplit(") ->", 1)[0]
    found = []
    for part in re.split(r",\s*(?![^\[]*\])", inside)[1:]:  # not the commas inside [...]
        if part.strip() == "*" or "=" in part:
            continue
        name, annotation = part.split(":", 1)
        found.append((name.strip(), annotation.strip()))
    return found


def pybind11_classes() -> List[type]:
    """Every class of mqseal._mqseal, and every class of the public modules built on one."""
    found = [c for c in vars(_mqseal).values() if isinstance(c, type) and type(c).__name__ == "pybind11_type"]
    for module in (mqseal, mqseal.hazmat, mqseal.paho, mqseal.aio):
        for value in vars(module).values():
            if isinstance(value, type) and value not in found and any(b in found for b in value.__mro__):
                found.append(value)
    return found


# A case: its name, the class of the blank instance it is given (None: it makes its own blank
# argument), and the call, made on a working instance first, then on a blank one.
Case = Tuple[str, Optional[type], Callable[[Any], object]]
SKIPPED = {"__init__", "_pybind11_conduit_v1_", "__doc__", "__module__", "__slots__", "__dict__", "__weakref__"}
OPERATORS: Dict[str, Callable[..., object]] = {
    "__repr__": repr,
    "__len__": len,
    "__contains__": lambda o, a: a in o,
}


Call = Callable[[Any], object]


def getter(name: str) -> Call:
    return lambda o: getattr(o, name)


def setter(name: str, working: Make) -> Call:
    return lambda o: setattr(o, name, getattr(working(), name))


def method(name: str, arguments: Callable[[], List[object]], operator: Optional[Callable[..., object]] = None) -> Call:
    if operator is not None:
        return lambda o: operator(o, *arguments())
    return lambda o: getattr(o, name)(*arguments())


def with_blank_argument(name: str, working: Make, arguments: Callable[[], List[object]]) -> Call:
    return lambda _: getattr(working(), name)(*arguments())


def cases(directory: str) -> Tuple[List[Case], Dict[str, Make]]:
    working = working_instances(directory)
    made: List[Case] = []

    def arguments(parameters: List[Tuple[str, str]], blank: int = -1) -> Callable[[], List[object]]:
        """The arguments for `parameters`; parameter `blank` (a bound class) an instance of it whose __init__ never ran."""
        return lambda: [
            blank_of(getattr(_mqseal, a.split(".")[-1])) if i == blank else argument(a, n, directory, working)
            for i, (n, a) in enumerate(parameters)
        ]

    for cls in pybind11_classes():
        native = next(c for c in cls.__mro__ if c.__module__ == "mqseal._mqseal")
        for name in sorted(dir(cls)):
            owner = next((c for c in cls.__mro__ if name in vars(c)), None)
            if name in SKIPPED or owner is None or owner.__module__ != "mqseal._mqseal":
                continue
            member = vars(owner)[name]
            label = f"{cls.__module__}.{cls.__name__}.{name}"
            if isinstance(member, staticmethod):
                continue
            if isinstance(member, property):
                made.append((label, cls, getter(name)))
                if member.fset is not None:
                    made.append((label + " set", cls, setter(name, working[native.__name__])))
                continue
            parameters = required_parameters(member.__doc__ or "")
            made.append((label, cls, method(name, arguments(parameters))))
            if name in OPERATORS:
                made.append((label + " operator", cls, method(name, arguments(parameters), OPERATORS[name])))
            # The same call on a working instance, given a blank instance as one argument.
            for i, (n, a) in enumerate(parameters):
                if a.startswith("mqseal._mqseal."):
                    made.append((f"{label}({n}=blank)", None,
                                 with_blank_argument(name, working[native.__name__], arguments(parameters, i))))
        made.append((f"{cls.__module__}.{cls.__name__} copy.copy", cls, copy.copy))
        made.append((f"{cls.__module__}.{cls.__name__} copy.deepcopy", cls, copy.deepcopy))
        made.append((f"{cls.__module__}.{cls.__name__} pickle.dumps", cls, pickle.dumps))
    # Constructors and options given a blank instance.
    keys, policy, credentials = working["Keyring"], working["TopicPolicy"], working["Credentials"]
    made += [
        ("Sealer(keyring=blank)", None, lambda _: mqseal.Sealer(policy(), blank_of(_mqseal.Keyring))),
        ("Sealer(policy=blank)", None, lambda _: mqseal.Sealer(blank_of(_mqseal.TopicPolicy), keys())),
        ("Opener(keyring=blank)", None, lambda _: mqseal.Opener(policy(), blank_of(_mqseal.Keyring))),
        ("RecordCipher(keyring=blank)", None, lambda _: _mqseal.RecordCipher(blank_of(_mqseal.Keyring), "t", "r")),
        ("TokenVerifier(credentials=blank)", None, lambda _: mqseal.TokenVerifier(blank_of(_mqseal.Credentials))),
        ("provision(params=blank)", None, lambda _: _mqseal.provision("d", "pw", blank_of(_mqseal.PassphraseParams))),
        ("Opener(replay_store=blank)", None, lambda _: mqseal.Opener(
            policy(), keys(), mqseal.OpenerOptions(replay_store=blank_of(_mqseal.ReplayStore)))),
        ("TokenVerifier(replay_store=blank)", None, lambda _: mqseal.TokenVerifier(
            credentials(), mqseal.VerifierOptions(replay_store=blank_of(_mqseal.ReplayStore)))),
    ]
    return made, working


def blank_of(cls: type) -> Any:
    """An instance of `cls` whose __init__ never ran."""
    new: Any = cls.__new__
    return new(cls)


def child(start: int) -> None:
    """Runs the cases from `start` on, each on a working instance, then on a blank one."""
    with tempfile.TemporaryDirectory() as directory:
        made, working = cases(directory)
        for i in range(start, len(made)):
            label, cls, call = made[i]
            if cls is not None:
                native = next(c for c in cls.__mro__ if c.__module__ == "mqseal._mqseal")
                instance = working[native.__name__]()  # raises nothing
                try:
                    call(instance)
                except TypeError as error:
                    if not label.endswith(("copy.copy", "copy.deepcopy", "pickle.dumps")):
                        print(f"END {i} control TypeError {error}", flush=True)
                        continue
                except BaseException:  # an mqseal.Error and the like: the call reached its body
                    pass
                blank = blank_of(cls)
            else:
                blank = None
            print(f"BEGIN {i}", flush=True)
            try:
                call(blank)
                print(f"END {i} returned", flush=True)
            except BaseException as error:
                print(f"END {i} {type(error).__name__} {str(error)[:200]!r}", flush=True)


def run_all() -> Tuple[List[str], Dict[str, str]]:
    """The cases' labels, and each one's outcome, from as many children as it takes."""
    with tempfile.TemporaryDirectory() as directory:
        labels = [label for label, _, _ in cases(directory)[0]]
    outcomes: Dict[str, str] = {}
    start = 0
    while start < len(labels):
        program = f"import sys; sys.path.insert(0, {HERE!r}); import test_uninitialised as t; t.child({start})"
        process = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        try:
            out, err = process.communicate(timeout=HANG)
            died = f"died ({process.returncode}): {err.strip()[-300:]}"
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
            died = "hung"
        begun = start - 1
        for line in out.splitlines():
            words = line.split(" ", 2)
            if words[0] == "BEGIN":
                begun = int(words[1])
            elif words[0] == "END":
                outcomes[labels[int(words[1])]] = words[2]
                begun = int(words[1])
        if process.returncode == 0 and not died.startswith("hung"):
            break
        if begun >= start and labels[begun] not in outcomes:
            outcomes[labels[begun]] = died
        start = max(begun + 1, start + 1)
    return labels, outcomes


def test_every_call_on_an_instance_whose_init_never_ran_is_a_type_error() -> None:
    labels, outcomes = run_all()
    # The enumeration finds what crashed before: these among all the others.
    for known in ("_mqseal.Sealer.set_keyring", "_mqseal.Sealer.sender", "_mqseal.Keyring.generate",
                  "_mqseal.Opener.shares_replay_state", "_mqseal.Sealer.seal", "_mqseal.Opener.open",
                  "_sealing.Sealer.seal", "_mqseal.Keyring.__repr__", "_mqseal.Opened.payload"):
        assert f"mqseal.{known}" in labels, known
    assert len(labels) > 150, len(labels)
    wrong = {}
    for label in labels:
        outcome = outcomes.get(label, "not run")
        if label.endswith(("copy.copy", "copy.deepcopy", "pickle.dumps")):
            ok = outcome.startswith("TypeError ")  # "cannot pickle": no copy of a blank instance is made
        else:
            ok = outcome.startswith("TypeError ") and NEVER_RAN in outcome
        if not ok:
            wrong[label] = outcome
    assert not wrong, "\n".join(f"{label}: {outcome}" for label, outcome in wrong.items())
