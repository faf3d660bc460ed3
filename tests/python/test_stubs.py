"""The type stubs are true: mqseal/_mqseal.pyi describes the extension module as built.

mypy's stubtest checks names, kinds and the Python layer's signatures, but it cannot
read the parameters of pybind11 functions (they have no __text_signature__); pybind11
writes them as the first line of each docstring instead (Sealer.seal and Opener.open,
bound without pybind11's dispatcher, write that line themselves), and the second test
compares those with the stub: parameter names, kinds (positional, keyword-only) and defaults.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple

import pytest

from mqseal import _mqseal

STUBTEST_TIMEOUT = 300  # seconds

# (name, kind, default): kind is "positional" or "keyword"; default is a literal or NO_DEFAULT.
Parameter = Tuple[str, str, object]
Signature = Tuple[Parameter, ...]
NO_DEFAULT = "<no default>"


def test_stubtest_finds_no_drift(tmp_path: Path) -> None:
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed")
    run = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "mqseal"],
        capture_output=True, text=True, timeout=STUBTEST_TIMEOUT, check=False,
        cwd=tmp_path,  # an empty directory: mqseal is found where it is installed (or on PYTHONPATH)
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]


def _parameters(arguments: ast.arguments) -> Signature:
    positional = arguments.posonlyargs + arguments.args
    defaults: List[Optional[ast.expr]] = [None] * (len(positional) - len(arguments.defaults))
    defaults += arguments.defaults
    out: List[Parameter] = []
    for arg, default in zip(positional, defaults):
        out.append((arg.arg, "positional", NO_DEFAULT if default is None else _literal(default)))
    for arg, kw_default in zip(arguments.kwonlyargs, arguments.kw_defaults):
        out.append((arg.arg, "keyword", NO_DEFAULT if kw_default is None else _literal(kw_default)))
    if arguments.vararg is not None:
        out.append((arguments.vararg.arg, "*", NO_DEFAULT))
    if arguments.kwarg is not None:
        out.append((arguments.kwarg.arg, "**", NO_DEFAULT))
    return tuple(p for p in out if p[0] not in ("self", "cls"))


def _literal(node: ast.expr) -> object:
    try:
        return ast.literal_eval(node)
    except ValueError:
        return ast.unparse(node)


def _runtime_signatures(function: Any) -> Set[Signature]:
    """The parameter lists pybind11 wrote into the docstring (one per overload)."""
    name = function.__name__
    doc = function.__doc__ or ""
    numbered = r"\d+\. " if "Overloaded function." in doc else ""  # then the first line is (*args, **kwargs)
    lines = re.findall(r"^" + numbered + "(" + re.escape(name) + r"\(.*\).*)$", doc, re.M)
    out = set()
    for line in lines:
        tree = ast.parse("def " + line + ": pass")
        definition = tree.body[0]
        assert isinstance(definition, ast.FunctionDef)
        out.add(_parameters(definition.args))
    return out


def _stub_signatures() -> Dict[str, Set[Signature]]:
    """Every function and method of _mqseal.pyi ("Class.method" or "function") and its parameter lists."""
    stub = ast.parse(Path(_mqseal.__file__).with_name("_mqseal.pyi").read_text(encoding="utf-8"))
    out: Dict[str, Set[Signature]] = {}

    def add(prefix: str, body: List[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef):
                out.setdefault(prefix + node.name, set()).add(_parameters(node.args))
            elif isinstance(node, ast.ClassDef):
                add(node.name + ".", node.body)

    add("", stub.body)
    return out


def _runtime_functions() -> Dict[str, Any]:
    """Every pybind11 function and method of the extension module, by "Class.method" or "function"."""
    out: Dict[str, Any] = {}
    for name, value in vars(_mqseal).items():
        if inspect.isclass(value):
            for attribute, member in vars(value).items():
                function = member.__func__ if isinstance(member, staticmethod) else member
                if callable(function) and _runtime_signatures(function):
                    out[f"{name}.{attribute}"] = function
        elif callable(value) and _runtime_signatures(value):
            out[name] = value
    return out


def test_the_stub_has_the_parameters_of_every_pybind11_function() -> None:
    runtime = _runtime_functions()
    stub = _stub_signatures()
    assert "Opener.open" in runtime and "make_connect_token" in runtime  # the docstrings were read
    drift = []
    for name, function in sorted(runtime.items()):
        if name.split(".")[-1] in ("__repr__",):
            continue  # the stubs leave representations to object's
        if name not in stub:
            drift.append(f"{name}: not in the stub")
        elif stub[name] != _runtime_signatures(function):
            drift.append(f"{name}: stub {sorted(stub[name])} != runtime {sorted(_runtime_signatures(function))}")
    assert not drift, "\n".join(drift)
