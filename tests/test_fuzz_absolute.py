"""Hostile-argument fuzzing of posviz.absolute (see tests/fuzzing.py for the rule)."""

import torch

import fuzzing
from posviz import absolute

_T = absolute.learned_table(16, 8, seed=1, device="cpu")  # [16, 8]
_P = absolute.pca_2d(absolute.sinusoidal(12, 8))  # [12, 2]

EXAMPLES = {
    "absolute.frequencies": ((16,), {"base": 10000.0}),
    "absolute.wavelengths": ((16,), {"base": 10000.0}),
    "absolute.sinusoid_at": (([0, 3, -2.5], 8), {"base": 10000.0, "layout": "concat"}),
    "absolute.sinusoidal": ((16, 8), {"base": 10000.0, "layout": "interleaved", "start": 3}),
    "absolute.shift_matrix": ((3, 8), {"base": 10000.0, "layout": "interleaved"}),
    "absolute.dot_profile": ((8,), {"base": 10000.0, "max_offset": 8}),
    "absolute.nearest_other": ((absolute.sinusoidal(16, 8),), {"min_gap": 2}),
    "absolute.cosine_similarity": ((_T,), {}),
    "absolute.table_parameters": ((512, 384), {}),
    "absolute.learned_table": ((16, 8), {"std": 0.02, "seed": 0}),
    "absolute.lookup": ((_T, [0, 3, 15]), {}),
    "absolute.resize": ((_T, 24), {}),
    "absolute.projected_dot_profiles": ((8,), {"base": 10000.0, "starts": (8, 16), "max_offset": 4, "seed": 0}),
    "absolute.pca_2d": ((_T,), {}),
    "absolute.shift_similarity": ((_T, 4), {}),
    "absolute.pca_turn": ((_P,), {}),
    "absolute.block_cosine": ((_T, 4), {}),
    "absolute.ladder": ((16,), {"base": 10000.0, "seq_len": 32}),
    "absolute.pair_walk": ((1, 8, 16), {"base": 10000.0}),
    "absolute.shift_check": ((2, 3, 8), {"base": 10000.0, "layout": "concat", "starts": 16}),
    "absolute.similarity": ((16, 8), {"base": 10000.0, "max_offset": 8}),
    "absolute.aliasing": ((16, 8), {"base": 10000.0, "min_gap": 2}),
    "absolute.limits": ((8,), {"max_offset": 4, "base": 10000.0, "seed": 0}),
}
ALIASES = {}
ALLOW_NONFINITE = set()


test_fuzz = fuzzing.fuzz_tests(EXAMPLES, ALIASES, ALLOW_NONFINITE)


def test_examples_cover_the_module():
    mine = {n for n in fuzzing.public_functions() if n.startswith("absolute.")}
    assert mine == set(EXAMPLES)
