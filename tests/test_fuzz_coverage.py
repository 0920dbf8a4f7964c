"""Every public posviz function is fuzzed: it has a valid example in one of the tests/test_fuzz_*.py files.

A function added to posviz without an example fails here, so the hostile-argument contract
(ValueError naming the argument, or a finite result) keeps covering the whole API.
"""

import importlib
from pathlib import Path

import fuzzing

HERE = Path(__file__).resolve().parent


def collected_examples() -> dict:
    examples = {}
    for path in sorted(HERE.glob("test_fuzz_*.py")):
        if path.stem == "test_fuzz_coverage":
            continue
        mod = importlib.import_module(path.stem)
        examples.update(getattr(mod, "EXAMPLES", {}))
    return examples


def test_every_public_function_has_a_fuzz_example():
    missing = sorted(set(fuzzing.public_functions()) - set(collected_examples()))
    assert not missing, f"public posviz functions without a fuzz example: {missing}"


def test_no_stale_examples():
    stale = sorted(set(collected_examples()) - set(fuzzing.public_functions()))
    assert not stale, f"fuzz examples for functions that no longer exist: {stale}"
