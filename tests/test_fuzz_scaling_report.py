"""Fuzz posviz.scaling_report's public functions with hostile arguments (see tests/fuzzing.py).

Each example is one small, valid, fast call (d = 16, L = 32, s = 2); :func:`fuzzing.fuzz_function`
then swaps one argument at a time for a hostile value and requires a ``ValueError`` naming it, or
a finite result in under a few seconds.
"""

from __future__ import annotations

import torch

import fuzzing
from posviz import scaling_report as report

PARAMS = {"yarn": {"beta_fast": 8.0, "beta_slow": 1.0}, "llama3": {"low_freq_factor": 1.0, "high_freq_factor": 4.0}}
S = report.setting(16, 10000.0, 32, 2.0, 1.5, PARAMS)
THETA = report.turns_in_training(16, 10000.0, 1) * 2 * torch.pi  # [8] plain RoPE's theta_i
INV_FREQ = THETA / 2  # [8]
METHODS = ("default", "linear", "ntk", "dynamic", "yarn", "llama3")

EXAMPLES = {
    "scaling_report.param_widget": (("beta_fast",), {}),
    "scaling_report.label": (("yarn",), {}),
    "scaling_report.setting": ((16, 10000.0, 32, 2.0), {"seq_fraction": 1.5, "params": PARAMS}),
    "scaling_report.check_methods": ((S,), {}),
    "scaling_report.ladder": ((S, METHODS), {"kind": "wavelength"}),
    "scaling_report.pair_wavelength": ((2.5, 16, 10000.0), {}),
    "scaling_report.turns_in_training": ((16, 10000.0, 32), {}),
    "scaling_report.yarn_ramp": ((16, 10000.0, 32), {"params": PARAMS["yarn"]}),
    "scaling_report.llama_bands": ((16, 10000.0, 32), {"params": PARAMS["llama3"]}),
    "scaling_report.bands": ((16, 10000.0, 32, PARAMS["yarn"], PARAMS["llama3"]), {"yarn": True, "llama": True}),
    "scaling_report.yarn_rule": ((S,), {}),
    "scaling_report.llama_rule": ((S,), {}),
    "scaling_report.kept_pairs": ((S, METHODS), {}),
    "scaling_report.yarn_factor": ((2.0,), {"mscale": 1.0, "mscale_all_dim": 0.5, "attention_factor": None,
                                            "value": None, "points": 16}),
    "scaling_report.attention_factors": ((S, METHODS), {}),
    "scaling_report.angle_stats": ((INV_FREQ, THETA, 32, 64), {}),
    "scaling_report.angles_past_training": ((S, METHODS, "ntk"), {}),
    "scaling_report.ntk_scale_for_base": ((16, 10000.0, 20000.0), {}),
    "scaling_report.dynamic_ntk": ((16, 10000.0, 2.0, 32, 48), {"span": 2.0, "log_x": False, "points": 32}),
    "scaling_report.seed_case": ((), {}),
    "scaling_report.ntk_erratum": ((16, 10000.0, 2.0), {}),
}

ALIASES: dict[str, tuple[str, ...]] = {}
ALLOW_NONFINITE: set[str] = set()  # every result of this module is finite by design


test_fuzz = fuzzing.fuzz_tests(EXAMPLES, ALIASES, ALLOW_NONFINITE)
