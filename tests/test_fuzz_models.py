"""Hostile-argument fuzz of posviz.models (see tests/fuzzing.py for the rule)."""

import pytest

import fuzzing
from posviz import models

try:
    models.package_file(models.MINILM_PACKAGE, "model/config.json", models.MINILM_PIP)
    HAVE_MINILM = True
except FileNotFoundError:
    HAVE_MINILM = False

EXAMPLES = {
    "models.package_file": ((models.MINILM_PACKAGE, "model/config.json", models.MINILM_PIP), {}),
    "models.minilm_position_table": ((), {"device": "cpu"}),
    "models.minilm_config": ((), {}),
    "models.stored_tensor": ((models.MINILM_POSITION_KEY,), {}),
}
ALIASES = {}
ALLOW_NONFINITE = set()


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_fuzz(name):
    if not HAVE_MINILM:
        pytest.skip("all-MiniLM-L6-v2 package not installed")
    fuzzing.fuzz_function(name, fuzzing.public_functions()[name], EXAMPLES[name], aliases=ALIASES,
                          allow_nonfinite=ALLOW_NONFINITE)
