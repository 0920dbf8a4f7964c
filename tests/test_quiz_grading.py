"""Grading: the usual ways of writing a number, choices by text or letter, and never an exception."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

from posviz import quiz

NTK = quiz.generate("ntk_base", 0)           # some base, tolerance 1e-3
CHOICE = quiz.generate("s7_head_order", 0)
BUG = quiz.generate("s7_bug_sign", 0)


def numeric(answer: float, tolerance: float = 1e-3) -> quiz.Question:
    """A question with a chosen answer (the grader only reads answer, tolerance and hints)."""
    q = quiz.generate("alibi_slope", 0)
    return quiz.Question(q.item_id, q.section, "numeric", "?", None, answer, tolerance, {}, "Because (§7).", 0, "t",
                         ((0.25, "That is another head's slope."),))


@pytest.mark.parametrize("text, value", [
    ("20452", 20452), ("2.0452e4", 20452), ("2.0452E4", 20452), ("20,452", 20452), ("20 452", 20452),
    ("20_452", 20452), ("1/2", 0.5), ("0.5", 0.5), (".5", 0.5), ("-3", -3), ("−3", -3), ("+3", 3),
    ("0,5", 0.5), ("1,234,567.5", 1234567.5), ("2^-8", 2 ** -8), ("2**-8", 2 ** -8), ("2^(-8)", 2 ** -8),
    ("2^{-0.5}", 2 ** -0.5), ("10000*2^(64/62)", 10000 * 2 ** (64 / 62)), ("0.1*ln(4)+1", 0.1 * math.log(4) + 1),
    ("2*pi*10000^(2*16/128)", 2 * math.pi * 10000 ** 0.25), ("2.0452 × 10^4", 20452), ("≈ 20452", 20452),
    ("20452 tokens", 20452), ("  7  ", 7), ("1.5 rad", 1.5), ("sqrt(2)/2", math.sqrt(2) / 2),
])
def test_the_usual_ways_of_writing_a_number(text, value):
    assert quiz.parse_number(text) == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize("text", ["", "   ", "abc", "20452 apples", "1/0", "2^99999", "1e999", "--", "1 2",
                                  "__import__('os')", "open('x')", "(1).__class__", "[1, 2]", "lambda: 1",
                                  "(" * 60 + "1" + ")" * 60, "9" * 200, "(-8)^(1/3)", "nan", "inf", "e"])
def test_garbage_is_not_a_number(text):
    assert quiz.parse_number(text) is None


def test_numbers_are_accepted_in_every_usual_form():
    q = numeric(20452.0)
    for text in ("20452", "2.0452e4", "20,452", "20 452", "20452.2"):
        g = quiz.grade(q, text)
        assert g.correct and g.understood and "20452" in g.feedback.replace(",", "")
    assert quiz.grade(numeric(0.5), "1/2").correct
    assert quiz.grade(numeric(-3.0, 0.0), "-3").correct


def test_tolerance_is_relative_and_whole_numbers_are_exact():
    q = numeric(20452.0, 1e-3)
    assert quiz.grade(q, "20470").correct and not quiz.grade(q, "20500").correct
    assert not quiz.grade(q, "20700").correct
    whole = numeric(91.0, 0.0)
    assert quiz.grade(whole, "91").correct and quiz.grade(whole, "91.0").correct
    assert not quiz.grade(whole, "91.4").correct and not quiz.grade(whole, "90").correct


def test_garbage_says_what_was_expected():
    for text in ("abc", "twenty", "1/0"):
        g = quiz.grade(NTK, text)
        assert not g.correct and not g.understood
        assert "Expected a number" in g.feedback and "20,452" in g.feedback and "1/2" in g.feedback
    g = quiz.grade(numeric(3.0, 0.0), "three")
    assert "whole number" in g.feedback
    assert "empty" in quiz.grade(NTK, "").feedback
    assert "longer than" in quiz.grade(NTK, "1" * 500).feedback


def test_a_wrong_number_gets_the_answer_and_a_known_confusion():
    g = quiz.grade(numeric(0.5), "0.25")
    assert g.understood and not g.correct
    assert "0.5" in g.feedback and "another head's slope" in g.feedback and "§7" in g.feedback
    assert g.verdict.claim == "Not quite" and not g.verdict.ok


def test_feedback_never_repeats_the_response():
    for text in ("![x](http://h/p.png)", "<script>", "20452 [a](http://h)"):
        for q in (NTK, CHOICE):
            assert "http" not in quiz.grade(q, text).feedback and "<script>" not in quiz.grade(q, text).feedback


def test_choices_by_text_or_letter():
    right = CHOICE.answer
    letter = "ABCD"[CHOICE.choices.index(right)]
    assert quiz.grade(CHOICE, right).correct
    assert quiz.grade(CHOICE, f"  {right.upper()}  ").correct       # case and spaces do not matter
    assert quiz.grade(CHOICE, letter).correct and quiz.grade(CHOICE, letter.lower()).correct
    wrong = next(c for c in CHOICE.choices if c != right)
    g = quiz.grade(CHOICE, wrong)
    assert g.understood and not g.correct and right in g.feedback
    g = quiz.grade(CHOICE, "Z")
    assert not g.understood and "choices" in g.feedback
    assert quiz.grade(BUG, BUG.answer).correct and len(BUG.choices) == 5


def test_verdict_of_a_grade():
    g = quiz.grade(CHOICE, CHOICE.answer)
    assert g.verdict.ok and g.verdict.claim == "Right" and not g.verdict.detail.startswith("Right")


@pytest.mark.parametrize("response", [None, 3, 2.5, b"20452", ["20452"], object(), float("nan")])
def test_responses_that_are_not_text(response):
    g = quiz.grade(NTK, response)
    assert isinstance(g, quiz.Grade) and g.feedback


@settings(max_examples=400, deadline=None, derandomize=True)
@given(hst.text(max_size=300))
def test_grading_never_raises_for_any_text(text):
    for q in (NTK, CHOICE, BUG):
        g = quiz.grade(q, text)
        assert isinstance(g.correct, bool) and isinstance(g.feedback, str) and g.feedback


@settings(max_examples=300, deadline=None, derandomize=True)
@given(hst.from_regex(r"[-+ ]?[0-9.,_ eE^*/()+-]{1,30}", fullmatch=True))
def test_number_like_text_never_raises(text):
    value = quiz.parse_number(text)
    assert value is None or math.isfinite(value)
    assert isinstance(quiz.grade(NTK, text), quiz.Grade)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(hst.floats(min_value=-1e12, max_value=1e12, allow_nan=False).filter(lambda x: abs(x) > 1e-9))
def test_a_number_written_back_is_read_back(x):
    for text in (repr(x), f"{x:.12e}", f"{x:,.6f}" if abs(x) >= 1e-3 else repr(x)):
        assert quiz.parse_number(text) == pytest.approx(x, rel=1e-6, abs=1e-6)
