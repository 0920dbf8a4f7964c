"""Hostile-argument fuzz of posviz.scaling (see tests/fuzzing.py for the rule)."""


import fuzzing

EXAMPLES = {
    "scaling.default": ((16, 10000.0), {"factor": 1.0}),
    "scaling.linear": ((16, 10000.0), {"factor": 4.0}),
    "scaling.ntk": ((16, 10000.0), {"factor": 4.0}),
    "scaling.ntk_base": ((64, 10000.0, 2.0), {}),
    "scaling.dynamic": ((16, 10000.0), {"factor": 4.0, "original_max_position": 32, "seq_len": 64}),
    "scaling.dynamic_base": ((16, 10000.0, 4.0, 32, 64), {}),
    "scaling.yarn": ((16, 10000.0), {"factor": 4.0, "original_max_position": 32, "beta_fast": 32.0,
                                     "beta_slow": 1.0, "mscale": 1.0, "mscale_all_dim": 0.5}),
    "scaling.yarn_correction_dim": ((32.0, 16, 10000.0, 4096), {}),
    "scaling.yarn_correction_range": ((16, 10000.0, 32.0, 1.0, 4096, True), {}),
    "scaling.yarn_ramp": ((16, 10000.0, 32.0, 1.0, 4096, False), {}),
    "scaling.yarn_mscale": ((4.0, 0.707), {}),
    "scaling.yarn_attention_factor": ((4.0, 1.0, 0.5, None), {}),
    "scaling.llama3_bands": ((16, 10000.0, 8192, 1.0, 4.0), {}),
    "scaling.llama3": ((16, 500000.0), {"factor": 8.0, "original_max_position": 8192, "low_freq_factor": 1.0,
                                        "high_freq_factor": 4.0}),
    "scaling.rope_frequencies": (("yarn", 16, 10000.0), {"factor": 4.0, "original_max_position": 32,
                                                          "seq_len": 64}),
}
ALIASES = {}
ALLOW_NONFINITE = set()


test_fuzz = fuzzing.fuzz_tests(EXAMPLES, ALIASES, ALLOW_NONFINITE)
