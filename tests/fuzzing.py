"""Shared machinery for fuzzing posviz's public API with hostile arguments (hypothesis).

The contract (DESIGN.md): invalid arguments raise ``ValueError`` naming the argument and its
allowed range; valid ones give finite results, quickly, without allocating gigabytes. Each
``tests/test_fuzz_<module>.py`` lists one valid call per public function of its module
(``EXAMPLES``) and calls :func:`fuzz_function`, which replaces one argument at a time with a
hostile value and checks the outcome:

- it raised ``ValueError`` whose message names that argument (its name, or a name listed in
  ``ALIASES`` for it); or
- it returned, and every float in the result is finite (``ALLOW_NONFINITE`` lists the
  results that are infinite on purpose, e.g. causal-masked scores), in under ``SECONDS``.

Anything else — TypeError, IndexError, RuntimeError, OverflowError, ZeroDivisionError, a hang,
nan or inf returned silently — is a failure. ``tests/test_fuzz_coverage.py`` checks that every
public function of posviz has an example, so a new function is fuzzed or the suite fails.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import math
import pkgutil
import re
import time
from typing import Any, Callable

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hst

import posviz

SECONDS = 5.0          # one call, on a loaded CI machine
SKIP_PARAMS = {"device", "dtype"}
EXCLUDED_MODULES = {"figures", "verdict"}

# Hostile values, by what they attack.
BAD_SCALARS = [-1, 0, 1, 2, 3, 7, -(2**31), 10**7, 10**12, 2**63, -2**63, 1.5, -0.5, 0.0, -0.0, 1e-308, 1e308,
               -1e308, float("nan"), float("inf"), float("-inf"), True, False, None, "", "x", "1e999", [], (),
               {}, [1, 2], np.float32("nan"), np.int64(5), object()]
BAD_TENSORS = [torch.empty(0), torch.tensor(float("nan")), torch.full((4, 4), float("nan")),
               torch.full((3, 8), float("inf")), torch.zeros(2, 3, 5), torch.zeros(7), torch.zeros(4, 4),
               torch.ones(4, 4, dtype=torch.long), torch.zeros(1, 1), torch.zeros(3, 8, dtype=torch.float64)]


def case_id(value: Any) -> str:
    """A test id for a hostile value: its repr without memory addresses, so every pytest-xdist worker
    collects the same ids (``<object object at 0x7f…>`` differs from one process to the next)."""
    return re.sub(r" at 0x[0-9a-f]+", "", repr(value))


def public_functions() -> dict[str, Callable]:
    """``"module.name" -> function`` for every public function defined in a posviz module."""
    out = {}
    for m in pkgutil.iter_modules(posviz.__path__):
        if m.name in EXCLUDED_MODULES:
            continue
        mod = importlib.import_module(f"posviz.{m.name}")
        for name, fn in vars(mod).items():
            if inspect.isfunction(fn) and fn.__module__ == mod.__name__ and not name.startswith("_"):
                out[f"{m.name}.{name}"] = fn
    return out


def nonfinite(obj: Any, depth: int = 0) -> list[str]:
    """Paths to non-finite floats anywhere in a result (tensors, arrays, numbers, containers, dataclasses)."""
    if depth > 6:
        return []
    if isinstance(obj, torch.Tensor):
        if obj.is_floating_point() or obj.is_complex():
            return [] if bool(torch.isfinite(obj).all()) else [f"tensor{tuple(obj.shape)}"]
        return []
    if isinstance(obj, np.ndarray):
        return [] if obj.dtype.kind not in "fc" or np.isfinite(obj).all() else [f"array{obj.shape}"]
    if isinstance(obj, float):
        return [] if math.isfinite(obj) else [repr(obj)]
    if isinstance(obj, dict):
        return [f"[{k!r}]{p}" for k, v in obj.items() for p in nonfinite(v, depth + 1)]
    if isinstance(obj, (list, tuple)):
        fields = getattr(obj, "_fields", None)
        names = fields or range(len(obj))
        return [f".{n}{p}" if fields else f"[{n}]{p}" for n, v in zip(names, obj) for p in nonfinite(v, depth + 1)]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return [f".{f.name}{p}" for f in dataclasses.fields(obj) for p in nonfinite(getattr(obj, f.name), depth + 1)]
    return []


def call_args(fn: Callable, example: tuple[tuple, dict]) -> inspect.BoundArguments:
    args, kwargs = example
    bound = inspect.signature(fn).bind(*args, **kwargs)
    return bound


def fuzzable_params(fn: Callable) -> list[str]:
    return [p.name for p in inspect.signature(fn).parameters.values()
            if p.name not in SKIP_PARAMS and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def check_call(qualname: str, fn: Callable, bound: inspect.BoundArguments, param: str, value: Any,
               aliases: dict[str, tuple[str, ...]], allow_nonfinite: set[str]) -> None:
    bound.arguments[param] = value
    shown = f"{qualname}({param}={value!r:.60})"
    t0 = time.perf_counter()
    try:
        result = fn(*bound.args, **bound.kwargs)
    except ValueError as err:
        names = (param, *aliases.get(f"{qualname}:{param}", ()), *aliases.get(param, ()))
        msg = str(err)
        assert any(n in msg for n in names), f"{shown}: ValueError does not name {param!r}: {msg!r}"
        return
    except Exception as err:  # noqa: BLE001 - the point of the test
        raise AssertionError(f"{shown} raised {type(err).__name__}: {err}") from err
    finally:
        elapsed = time.perf_counter() - t0
        assert elapsed < SECONDS, f"{shown} took {elapsed:.1f} s (size ceiling missing?)"
    if qualname not in allow_nonfinite:
        bad = nonfinite(result)
        assert not bad, f"{shown} returned non-finite values at {bad[:3]}"


def fuzz_function(qualname: str, fn: Callable, example: tuple[tuple, dict], *, aliases=None,
                  allow_nonfinite=frozenset(), max_examples: int = 60) -> None:
    """Call ``fn`` once as in ``example`` (must succeed, finite), then with one hostile argument at a time."""
    aliases = aliases or {}
    bound = call_args(fn, example)
    bound.apply_defaults()
    result = fn(*bound.args, **bound.kwargs)
    if qualname not in allow_nonfinite:
        assert not nonfinite(result), f"{qualname} example gives non-finite values: {nonfinite(result)[:3]}"
    params = fuzzable_params(fn)
    if not params:
        return
    hostile = hst.sampled_from(BAD_SCALARS + BAD_TENSORS)

    @settings(max_examples=max_examples, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(param=hst.sampled_from(params), value=hostile)
    def run(param, value):
        b = call_args(fn, example)
        b.apply_defaults()
        check_call(qualname, fn, b, param, value, aliases, set(allow_nonfinite))

    run()
    # and every (parameter, value) pair once, not only the ones hypothesis drew
    for param in params:
        for value in BAD_SCALARS + BAD_TENSORS:
            b = call_args(fn, example)
            b.apply_defaults()
            check_call(qualname, fn, b, param, value, aliases, set(allow_nonfinite))


def fuzz_tests(examples: dict, aliases: dict | None = None, allow_nonfinite=frozenset()):
    """The usual test of a ``test_fuzz_<module>.py`` file: one parametrized case per example.

    Bind it to a name pytest collects: ``test_fuzz = fuzzing.fuzz_tests(EXAMPLES, ALIASES, ALLOW_NONFINITE)``.
    """
    import pytest

    @pytest.mark.parametrize("name", sorted(examples))
    def test_fuzz(name):
        fuzz_function(name, public_functions()[name], examples[name], aliases=aliases,
                      allow_nonfinite=allow_nonfinite)

    return test_fuzz
