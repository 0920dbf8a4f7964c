"""Hostile-argument fuzzing of posviz.diagnostics (see tests/fuzzing.py for the rule)."""


import fuzzing

EXAMPLES = {
    "diagnostics.permutation": ((5, 0), {}),
    "diagnostics.permutation_test": (("dog bites man", "rope"), {"seed": 0, "dim": 8, "causal": False}),
    "diagnostics.seen_fraction": ((512, 2048), {}),
    "diagnostics.seen_curve": ((128, 4, 2.0), {"points": 50}),
    "diagnostics.shift_scores": ((6, 3, "transformer_xl"), {"dim": 8, "seed": 0}),
    "diagnostics.shift_test": ((5, 3), {"schemes": None, "dim": 8, "seed": 0}),
    "diagnostics.move_phrase": ((5, 3), {"seed": 0}),
    "diagnostics.shift_demo": ((5, 3, "t5_bias"), {"seed": 0}),
    "diagnostics.scheme_tests": ((4, 5), {"causal": False, "seed": 0, "train_len": 16}),
    "diagnostics.attention_profile": ((16, "same", "linear", 2.0), {"train_len": 8, "seed": 0}),
    "diagnostics.compare_schemes": ((16, 8, 2), {}),
}
ALIASES = {}
# permutation_test(causal=True) keeps attend's causal scores, -inf at masked (query, key) cells by
# design (visibility is counted with isfinite); its gaps and outputs are finite.
ALLOW_NONFINITE = {"diagnostics.permutation_test"}


test_fuzz = fuzzing.fuzz_tests(EXAMPLES, ALIASES, ALLOW_NONFINITE)
