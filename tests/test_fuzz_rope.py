"""Hostile-argument fuzz of posviz.rope (see tests/fuzzing.py for the rule)."""

import torch

import fuzzing
from posviz import rope

FREQ = rope.inv_freq(8, device="cpu")                      # [4]
Q = torch.linspace(-1.0, 1.0, 8)                          # [8]
K = torch.linspace(1.0, -0.5, 8)                          # [8]
X = torch.linspace(-1.0, 1.0, 32).reshape(4, 8)           # [seq=4, dim=8]
OFF = torch.tensor([[0, -1], [1, 0]])                     # [2, 2] m - n

EXAMPLES = {
    "rope.added_dot": ((Q, K, 3, 1, FREQ), {}),
    "rope.angles": ((torch.arange(4), FREQ), {}),
    "rope.apply_rope": ((X, torch.arange(4), FREQ), {"layout": "half", "attention_factor": 1.0}),
    "rope.apply_rope_missing_sign": ((X, torch.arange(4), FREQ), {"layout": "interleaved"}),
    "rope.check_base": ((10000.0,), {}),
    "rope.decay_bound": ((8, 10000.0, 16), {}),
    "rope.decay_curve": ((8, 10000.0, 16, "same"), {"seed": 0}),
    "rope.inv_freq": ((8, 10000.0), {}),
    "rope.layout_mismatch": ((8, "half", "other", 2), {"n_positions": 8, "seed": 0}),
    "rope.layout_permutation": ((8, 4), {"inverse": False}),
    "rope.norm_check": ((8, 32, "half", "correct"), {"n_vectors": 2, "n_positions": 8, "seed": 0}),
    "rope.offset_spread": ((OFF, torch.tensor([[1.0, 2.0], [3.0, 1.5]])), {}),
    "rope.pair_indices": ((8, "interleaved"), {}),
    "rope.pairings": ((8,), {}),
    "rope.relative_check": ((8, 0, 8, "half"), {}),
    "rope.relative_dot": ((Q, K, 3, 1, FREQ, "half"), {}),
    "rope.rotate_pair": ((torch.tensor([1.0, 0.5]), 3, 0.5), {}),
    "rope.rotate_pair_demo": ((30.0, 1.0, 8, 1, 10000.0, 8), {}),
    "rope.scores_by_distance": ((X[:2], X[2:], torch.arange(4), FREQ, "half"), {}),
    "rope.seeded_normal": ((0, 2, 3), {}),
    "rope.wavelength_ladder": ((8, 10000.0, 64), {"compare": (500000.0,)}),
    "rope.wavelengths": ((FREQ,), {}),
}
ALIASES = {}
ALLOW_NONFINITE = set()


test_fuzz = fuzzing.fuzz_tests(EXAMPLES, ALIASES, ALLOW_NONFINITE)
