"""Hostile-argument fuzzing of posviz.alibi (see tests/fuzzing.py for the rule)."""

import fuzzing

EXAMPLES = {
    "alibi.slopes": ((8,), {}),
    "alibi.naive_slopes": ((12,), {}),
    "alibi.head_labels": ((12,), {}),
    "alibi.bias": ((8, 4, 6), {"causal": True}),
    "alibi.causal_mask": ((4, 6), {}),
    "alibi.effective_span": ((8,), {"threshold": 0.1}),
    "alibi.slope_report": ((12,), {}),
    "alibi.linear_bias_demo": (("the cat sat on the mat", 0, 5, True), {"seed": 1}),
    "alibi.span_report": ((8, 32, 0.1), {}),
    "alibi.extrapolation_report": ((8, 64, 4), {}),
    "alibi.shift_comparison": ((100, 0, "sinusoidal"), {"seed": 1}),
    "alibi.mask_demo": (("before", 0), {"seed": 1}),
}
ALIASES = {}
ALLOW_NONFINITE = set()


test_fuzz = fuzzing.fuzz_tests(EXAMPLES, ALIASES, ALLOW_NONFINITE)
