"""Hostile-argument fuzzing of posviz.attention (see tests/fuzzing.py for the rule)."""

import torch

import fuzzing
from posviz import attention

_X = attention.word_vectors(["a", "b", "c", "d"], 8)  # [4, 8]
_W = attention.random_weights(8, seed=0)
_S = torch.randn(4, 4, generator=torch.Generator().manual_seed(0))  # [4, 4] scores
_B = -0.5 * (torch.arange(4)[:, None] - torch.arange(4)[None, :]).abs().float()  # [4, 4] distance bias

EXAMPLES = {
    "attention.words": (("dog bites man",), {"max_words": 12, "max_chars": 100}),
    "attention.word_vectors": ((["dog", "bites"], 8), {}),
    "attention.random_weights": ((8,), {"seed": 0}),
    "attention.attend": ((_X, _W), {"positions": None, "scheme": "sinusoidal", "causal": False}),
    "attention.score_terms": ((_X, _W), {"scheme": "sinusoidal"}),
    "attention.decompose": (("the cat sat", "sinusoidal"), {"dim": 8, "seed": 1}),
    "attention.softmax_with_bias": ((_S, _B), {"where": "before"}),
    "attention.token_plus_position": (("bites", 3, 16), {"std": 0.02, "sqrt_scale": True}),
    "attention.bias_demo": (("the quick fox", 0.5, "before"), {"dim": 8, "seed": 1}),
}
ALIASES = {}
# attend(causal=True) masks future keys with -inf in "scores" (the softmax turns them into exact
# zeros; diagnostics counts visibility with isfinite): infinite by design. probs and out are
# still checked finite inside attend.
ALLOW_NONFINITE = {"attention.attend"}


test_fuzz = fuzzing.fuzz_tests(EXAMPLES, ALIASES, ALLOW_NONFINITE)
