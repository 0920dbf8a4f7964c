"""Hostile-argument fuzz of posviz.errata (see tests/fuzzing.py for the rule)."""


import fuzzing

EXAMPLES = {
    "errata.ntk_base_evidence": ((), {"dim": 64, "base": 10000.0, "factor": 2.0, "quoted": 20700.0}),
    "errata.yarn_split": ((), {"dim": 32, "base": 10000.0, "original_max_position": 4096, "factor": 4.0}),
    "errata.t5_reach": ((), {"num_buckets": 32, "max_distance": 128}),
    "errata.slowest_wavelength": ((), {"dim": 64, "base": 10000.0, "quoted": 62800.0}),
    "errata.base_ladder": ((), {"dim": 16, "context": 16384, "bases": (10000.0, 1000000.0)}),
    "errata.pairing_evidence": ((), {"dim": 16, "target": 5, "n_distances": 32, "made_for": "interleaved",
                                     "seed": 0}),
}
ALIASES = {}
ALLOW_NONFINITE = set()


test_fuzz = fuzzing.fuzz_tests(EXAMPLES, ALIASES, ALLOW_NONFINITE)
