"""Hostile-argument fuzzing of the posviz.quiz package (see tests/fuzzing.py for the rule).

``fuzzing.public_functions`` lists the functions of posviz's top-level modules; the quiz is a
package whose functions live in submodules, so this file keeps its own list of every public
function there and fails when one has no example (as tests/test_fuzz_coverage.py does for the
modules). ``grade`` and ``parse_number`` go further: they must never raise at all.
"""

import importlib
import inspect
import pkgutil
from datetime import datetime, timezone

import pytest

import fuzzing
import posviz.quiz
from posviz import quiz

EXAMPLES = {}  # posviz.quiz itself defines no function (it re-exports its submodules')

AT = datetime(2026, 1, 5, 9, tzinfo=timezone.utc)
HISTORY = [{"item_id": "alibi_slope", "correct": False, "at": AT}, {"item_id": "s7_head_order", "correct": True,
                                                                     "at": AT}]
QUIZ_EXAMPLES = {
    "questions.bank": ((), {}),
    "questions.item": (("ntk_base",), {}),
    "questions.section_items": (("6b",), {}),
    "questions.generate": (("alibi_slope", 3), {}),
    "questions.working": ((quiz.generate("ntk_base", 0),), {}),
    "grading.parse_number": (("2.0452e4",), {}),
    "grading.grade": ((quiz.generate("ntk_base", 0), "20452"), {}),
    "scheduler.replay": ((HISTORY,), {}),
    "scheduler.practice_queue": ((HISTORY, AT), {"sections": ["7"], "limit": 5}),
    "scheduler.mastery": ((HISTORY, AT), {}),
    "scheduler.daily": ((HISTORY,), {}),
    "scheduler.progress": ((HISTORY, AT), {}),
}


def quiz_functions() -> dict:
    out = {}
    for m in pkgutil.iter_modules(posviz.quiz.__path__):
        mod = importlib.import_module(f"posviz.quiz.{m.name}")
        for name, fn in vars(mod).items():
            if inspect.isfunction(fn) and fn.__module__ == mod.__name__ and not name.startswith("_"):
                out[f"{m.name}.{name}"] = fn
    return out


def test_every_quiz_function_has_an_example():
    assert set(quiz_functions()) == set(QUIZ_EXAMPLES), \
        f"missing: {sorted(set(quiz_functions()) - set(QUIZ_EXAMPLES))}; " \
        f"stale: {sorted(set(QUIZ_EXAMPLES) - set(quiz_functions()))}"


@pytest.mark.parametrize("name", sorted(QUIZ_EXAMPLES))
def test_fuzz(name):
    fuzzing.fuzz_function(f"quiz.{name}", quiz_functions()[name], QUIZ_EXAMPLES[name], max_examples=40)


@pytest.mark.parametrize("value", fuzzing.BAD_SCALARS + fuzzing.BAD_TENSORS, ids=fuzzing.case_id)
def test_grading_never_raises(value):
    """Whatever arrives as a question or a response, grading answers with a Grade."""
    for q in (quiz.generate("ntk_base", 0), quiz.generate("s7_head_order", 0), value):
        g = quiz.grade(q, value)
        assert isinstance(g, quiz.Grade) and isinstance(g.feedback, str) and g.feedback
        assert quiz.parse_number(value) is None or isinstance(quiz.parse_number(value), float)
