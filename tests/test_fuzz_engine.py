"""Hostile-argument fuzzing of posviz.engine (see tests/fuzzing.py for the rule)."""

import torch

import fuzzing
from posviz import engine

_X = torch.randn(5, 8, generator=torch.Generator().manual_seed(0))  # [5, 8]
_W = engine.random_layer(8, 2, 0)
_Q = torch.randn(2, 3, 4, generator=torch.Generator().manual_seed(1))  # [heads, n, head_dim]
_K = torch.randn(2, 5, 4, generator=torch.Generator().manual_seed(2))  # [heads, m, head_dim]
_P = engine.forward(_X, _W, "alibi", list(range(5))).probs  # [2, 5, 5]

EXAMPLES = {
    "engine.make_scheme": (("rope",), {}),
    "engine.scheme_set": ((64,), {"rope_method": "yarn", "factor": 4.0}),
    "engine.random_layer": ((8, 2), {"seed": 0, "head_dim": None, "tied_qk": False}),
    "engine.attention": ((_Q, _K, _K, [2, 3, 4], [0, 1, 2, 3, 4]), {"scheme": "t5", "causal": True,
                                                                 "key_mask": [0, 1, 1, 1, 1]}),
    "engine.forward": ((_X, _W, "rope", [0, 1, 2, 3, 4]), {"cache": None, "causal": True,
                                                          "padding_mask": [0, 1, 1, 1, 1]}),
    "engine.entropy": ((_P,), {}),
    "engine.mean_distance": ((_P, [0, 1, 2, 3, 4], [0, 1, 2, 3, 4]), {}),
    "engine.distance_histogram": ((_P, [0, 1, 2, 3, 4], [0, 1, 2, 3, 4]), {}),
}
ALIASES = {}
ALLOW_NONFINITE = set()


test_fuzz = fuzzing.fuzz_tests(EXAMPLES, ALIASES, ALLOW_NONFINITE)
