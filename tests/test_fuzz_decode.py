"""Hostile-argument fuzzing of posviz.decode (see tests/fuzzing.py for the rule)."""

import fuzzing
from posviz import decode

_M = decode.toy_model(vocab=16, d_model=8, n_heads=2)

EXAMPLES = {
    "decode.toy_model": ((16, 8, 2), {"seed": 0}),
    "decode.step": ((_M, "rope", [3, 4, 5], [0, 1, 2]), {"padding_mask": None, "cache": None}),
    "decode.generate_logits": ((_M, "alibi", [0, 4, 5, 6], 2, [0, 0, 1, 2]), {"padding_mask": [0, 1, 1, 1]}),
    "decode.position_ids": (([0, 1, 1], 2, "cache"), {}),
    "decode.simulate": (("t5", 3, 1, 2, "frozen"), {"seed": 0, "train_len": 32}),
}
ALIASES = {}
ALLOW_NONFINITE = set()


test_fuzz = fuzzing.fuzz_tests(EXAMPLES, ALIASES, ALLOW_NONFINITE)
