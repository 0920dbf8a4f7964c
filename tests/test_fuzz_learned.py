"""Hostile-argument fuzz of posviz.learned (see tests/fuzzing.py for the rule).

Examples pass a small synthetic table; ``table=None`` (the trained 512×384 table) is one of
the hostile values the fuzz tries, so the trained path is exercised when its package is installed.
"""

import pytest

import fuzzing
from posviz import absolute, models

try:
    models.package_file(models.MINILM_PACKAGE, "model/config.json", models.MINILM_PIP)
    HAVE_MINILM = True
except FileNotFoundError:
    HAVE_MINILM = False

T = absolute.learned_table(32, 16, seed=1, device="cpu")  # [32, 16]

EXAMPLES = {
    "learned.trained_table": ((), {"device": "cpu"}),
    "learned.trained_shape": ((), {}),
    "learned.random_like": ((T,), {"seed": 0}),
    "learned.table_cost": ((512, 384), {}),
    "learned.row_profile": ((T,), {"seed": 0}),
    "learned.resize_report": ((48, 16, T), {}),
    "learned.trained_vs_random": ((16, False), {"seed": 0, "table": T}),
    "learned.shift_profiles": ((8, T), {"seed": 0}),
    "learned.lookup_demo": ((40, "clamp", T), {}),
}
NEEDS_MINILM = {"learned.trained_table", "learned.trained_shape", "learned.table_cost"}
ALIASES = {}
ALLOW_NONFINITE = set()


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_fuzz(name):
    if not HAVE_MINILM and name in NEEDS_MINILM:
        pytest.skip("all-MiniLM-L6-v2 package not installed")
    fuzzing.fuzz_function(name, fuzzing.public_functions()[name], EXAMPLES[name], aliases=ALIASES,
                          allow_nonfinite=ALLOW_NONFINITE)
