"""Hostile-argument fuzz of posviz.backend (see tests/fuzzing.py for the rule)."""

import pytest
import torch

import fuzzing

EXAMPLES = {
    "backend.as_tensor": (([1.0, 2.0, 3.0],), {}),
    "backend.broadcast_shapes": (((2, 1, 4), (3, 1)), {}),
    "backend.check_bool": (("flag", True), {}),
    "backend.check_choice": (("layout", "half", ("half", "interleaved")), {}),
    "backend.check_even": (("dim", 8), {}),
    "backend.check_finite": (("scores", torch.ones(3)), {"what": "the scores"}),
    "backend.check_int": (("dim", 8, 2, 64), {}),
    "backend.check_option": (("layout", "half", ("half", "interleaved")), {}),
    "backend.check_positive": (("base", 10000.0), {"strict": True, "minimum": None}),
    "backend.check_seed": (("seed", 3), {}),
    "backend.check_tensor": (("x", torch.ones(2, 4)), {"ndim": 2, "floating": True, "finite": True,
                                                        "max_numel": 64}),
    "backend.describe": (("cpu",), {}),
    "backend.low_priority": ((), {"nice": 10}),
    "backend.device": (("cpu",), {}),
    "backend.real_numbers": (("positions", [0, 1, 2]), {"max_numel": 64}),
    "backend.to_numpy": ((torch.ones(3),), {}),
    "backend.tune_threads": ((torch.get_num_threads(),), {}),
}
# The check helpers blame the argument they check, by the name the caller passes ("dim", "layout", ...):
# a bad value, or bounds/choices/shape rules that the value then fails, give a message naming that name.
ALIASES = {
    **{f"backend.{fn}:value": (arg,) for fn, arg in [
        ("check_bool", "flag"), ("check_choice", "layout"), ("check_even", "dim"), ("check_finite", "scores"),
        ("check_int", "dim"), ("check_option", "layout"), ("check_positive", "base"), ("check_seed", "seed"),
        ("check_tensor", "x")]},
    "backend.check_int:low": ("dim",),
    "backend.check_int:high": ("dim",),
    "backend.check_positive:minimum": ("base",),
    "backend.check_choice:choices": ("layout",),
    "backend.check_option:choices": ("layout",),
    "backend.check_tensor:ndim": ("x",),
    "backend.check_tensor:max_numel": ("x",),
    "backend.real_numbers:value": ("positions",),
    "backend.real_numbers:max_numel": ("positions",),
    # device(requested) and describe(dev) are what every posviz function's ``device=`` argument reaches.
    "backend.device:requested": ("device",),
    "backend.describe:dev": ("device",),
}
# Conversions, not checks: they return the values they are given, nan and -inf included (figures plot
# -inf at causally masked cells; check_tensor / check_finite are the checks). as_tensor still refuses a
# finite value that overflows the dtype (1e308 -> float32), which would otherwise turn into inf silently.
ALLOW_NONFINITE = {"backend.to_numpy", "backend.as_tensor", "backend.real_numbers"}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_fuzz(name):
    threads = torch.get_num_threads()
    try:
        fuzzing.fuzz_function(name, fuzzing.public_functions()[name], EXAMPLES[name], aliases=ALIASES,
                              allow_nonfinite=ALLOW_NONFINITE)
    finally:
        torch.set_num_threads(threads)  # tune_threads' hostile values change the process's thread count
