"""Hostile-argument fuzzing of posviz.ids (see tests/fuzzing.py for the rule)."""

import torch

import fuzzing

EXAMPLES = {
    "ids.from_attention_mask": (([0, 1, 1, 1],), {}),
    "ids.padded_mask": ((4, 2, "left"), {}),
    "ids.decode_ids": ((5, 3), {"restart": False}),
    "ids.compare_decode": ((5, 3), {}),
    "ids.interpolate": ((torch.arange(8), 4, 8), {}),
    "ids.pad_batch": ((4, 2, "left"), {}),
    "ids.interpolate_range": ((512, 4, 10), {"dim": 32, "base": 10000.0, "points": 50}),
}
ALIASES = {}
ALLOW_NONFINITE = set()


test_fuzz = fuzzing.fuzz_tests(EXAMPLES, ALIASES, ALLOW_NONFINITE)
