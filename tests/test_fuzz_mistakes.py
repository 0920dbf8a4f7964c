"""Hostile-argument fuzzing of posviz.mistakes (see tests/fuzzing.py for the rule)."""

import fuzzing

EXAMPLES = {
    "mistakes.fmt": ((0.25,), {}),
    "mistakes.demo": (("order",), {"words": 3}),
    "mistakes.order_blind": ((), {"words": 3, "seed": 1}),
    "mistakes.absolute_vs_relative": ((), {"tokens": 4, "shift": 5, "seed": 1}),
    "mistakes.rope_added": ((), {"positions": 6, "dim": 8, "seed": 1}),
    "mistakes.norm_lost": ((), {"dim": 8, "max_position": 64, "seed": 1}),
    "mistakes.rows_past_table": ((), {"rows": 4, "length": 7, "seed": 1}),
    "mistakes.bias_after_softmax": ((), {"length": 5, "heads": 3, "seed": 1}),
    "mistakes.decode_ids": ((), {"prompt": 3, "new": 2, "seed": 1}),
    "mistakes.window_by_max_length": ((), {"window": 32, "head": 2, "seed": 1}),
    "mistakes.mask_as_position": ((), {"tokens": 3, "pads": 2, "seed": 1}),
    "mistakes.extrapolation_assumed": ((), {"train": 64, "factor": 2, "dim": 16}),
}
ALIASES = {}
ALLOW_NONFINITE = set()


test_fuzz = fuzzing.fuzz_tests(EXAMPLES, ALIASES, ALLOW_NONFINITE)
