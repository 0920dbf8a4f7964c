"""Hostile-argument fuzzing of posviz.store (see tests/fuzzing.py for the rule).

``open_store(None)`` opens the throwaway SQLite file tests/conftest.py points POSVIZ_DB at.
The methods of a Store are fuzzed in tests/test_store.py.
"""

from datetime import datetime, timezone

import fuzzing
from posviz import store

AT = datetime(2026, 1, 5, 9, tzinfo=timezone.utc)

EXAMPLES = {
    "store.open_store": ((None,), {}),
    "store.learner_key": (("Ada Lovelace",), {}),
    "store.export_answers": (("ada", [store.Answer("ada", "ntk_base", 0, True, AT, "u1")]), {}),
}
ALIASES = {}
ALLOW_NONFINITE = set()


test_fuzz = fuzzing.fuzz_tests(EXAMPLES, ALIASES, ALLOW_NONFINITE)
