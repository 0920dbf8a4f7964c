"""The practice scheduler over simulated sessions: what comes back when, and mastery per section."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from posviz import quiz

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


@dataclass(frozen=True)
class A:
    item_id: str
    correct: bool
    at: datetime


def session(knows, start=T0, questions=30, step=timedelta(seconds=30), history=None, sections=None):
    """A learner answering the queue's first item every ``step``; ``knows(item_id)`` says if they get it right."""
    history = list(history or [])
    now = start
    shown = []
    for _ in range(questions):
        nxt = quiz.practice_queue(history, now, sections=sections, limit=1)[0]
        shown.append(nxt)
        history.append(A(nxt.item_id, knows(nxt.item_id), now))
        now += step
    return history, shown


def test_a_missed_item_comes_back_soon_and_a_known_one_much_later():
    missed = "s7_head_order"
    history, shown = session(lambda i: i != missed, questions=40)
    times = [a.at for a in history if a.item_id == missed]
    assert len(times) >= 5, "a missed item must keep coming back within the session"
    assert all(b - a <= timedelta(minutes=3) for a, b in zip(times, times[1:]))
    for item_id in {a.item_id for a in history} - {missed}:
        seen = [a.at for a in history if a.item_id == item_id]
        assert all(b - a >= timedelta(minutes=10) for a, b in zip(seen, seen[1:])), \
            f"{item_id}, answered right, came back within 10 minutes"
    assert len({a.item_id for a in history}) >= 12, "new items fill the time between reviews"
    reasons = [d.reason for d in shown if d.item_id == missed]
    assert reasons[0] == "new" and set(reasons[1:]) == {"due"}


def test_right_answers_wait_longer_each_time():
    history = []
    gaps = []
    now = T0
    for _ in range(3):
        history.append(A("ntk_base", True, now))
        due = quiz.replay(history)["ntk_base"].card.due
        gaps.append(due - now)
        now = due
    assert gaps[0] < gaps[1] < gaps[2] and gaps[2] > timedelta(days=1)
    wrong = quiz.replay([A("ntk_base", False, T0)])["ntk_base"].card.due - T0
    assert wrong < gaps[0]


def test_new_items_are_spread_across_sections():
    queue = quiz.practice_queue([], T0, limit=len(quiz.SECTIONS))
    assert [quiz.item(d.item_id).section for d in queue] == list(quiz.SECTIONS)
    assert {d.reason for d in queue} == {"new"} and {d.seed for d in queue} == {0}


def test_sections_filter_and_order():
    queue = quiz.practice_queue([], T0, sections=["9", "6b"], limit=40)
    assert {quiz.item(d.item_id).section for d in queue} == {"6b", "9"}
    assert quiz.item(queue[0].item_id).section == "6b"


def test_each_showing_of_an_item_gets_a_new_seed():
    history = [A("alibi_slope", False, T0), A("alibi_slope", False, T0 + timedelta(minutes=2))]
    due = quiz.practice_queue(history, T0 + timedelta(minutes=5), limit=1)[0]
    assert due.item_id == "alibi_slope" and due.seed == 2 and due.reason == "due"


def test_when_everything_was_seen_the_soonest_comes_first():
    items = [it.id for it in quiz.section_items("6c")]
    history = [A(i, True, T0 + timedelta(seconds=k)) for k, i in enumerate(items)]
    queue = quiz.practice_queue(history, T0 + timedelta(minutes=1), sections=["6c"], limit=3)
    assert [d.reason for d in queue] == ["ahead"] * 3 and queue[0].item_id == items[0]


def test_same_history_same_queue():
    history, _ = session(lambda i: len(i) % 2 == 0, questions=25)
    later = T0 + timedelta(hours=1)
    assert quiz.practice_queue(history, later, limit=20) == quiz.practice_queue(list(history), later, limit=20)


def test_mastery_rises_with_right_answers_and_ignores_wrong_ones():
    section = "6b"
    items = [it.id for it in quiz.section_items(section)]
    none = {m.section: m for m in quiz.mastery([], T0)}
    assert none[section].mastery == 0 and none[section].items == len(items)
    half = [A(i, True, T0) for i in items[: len(items) // 2]] + [A(i, False, T0) for i in items[len(items) // 2:]]
    m = {x.section: x for x in quiz.mastery(half, T0 + timedelta(minutes=1))}[section]
    assert m.seen == len(items) and m.right_last == len(items) // 2
    assert m.mastery == pytest.approx((len(items) // 2) / len(items), abs=0.02)
    everything = [A(i, True, T0) for i in items]
    full = {x.section: x for x in quiz.mastery(everything, T0 + timedelta(minutes=1))}[section]
    assert full.mastery > m.mastery and full.mastery == pytest.approx(1.0, abs=0.02)
    months = {x.section: x for x in quiz.mastery(everything, T0 + timedelta(days=120))}[section]
    assert months.mastery < full.mastery, "mastery must fade with time (FSRS retrievability)"
    others = [x for x in quiz.mastery(everything, T0) if x.section != section]
    assert all(x.mastery == 0 for x in others)


def test_a_later_wrong_answer_drops_mastery():
    right = [A("ntk_base", True, T0)]
    wrong = right + [A("ntk_base", False, T0 + timedelta(minutes=15))]
    m1 = {x.section: x.mastery for x in quiz.mastery(right, T0 + timedelta(minutes=20))}["6b"]
    m2 = {x.section: x.mastery for x in quiz.mastery(wrong, T0 + timedelta(minutes=20))}["6b"]
    assert m1 > 0 and m2 == 0


def test_history_per_day():
    history = [A("ntk_base", True, T0), A("ntk_base", False, T0 + timedelta(hours=1)),
               A("alibi_slope", True, T0 + timedelta(days=1))]
    days = quiz.daily(history)
    assert [(d.day.isoformat(), d.right, d.wrong) for d in days] == [("2026-03-02", 1, 1), ("2026-03-03", 1, 0)]


def test_store_answers_and_dicts_are_histories_too():
    from posviz.store import Answer
    stored = [Answer("ada", "ntk_base", 0, False, T0, "u1")]
    as_dict = [{"item_id": "ntk_base", "correct": False, "at": T0}]
    assert quiz.replay(stored)["ntk_base"].card.due == quiz.replay(as_dict)["ntk_base"].card.due


@pytest.mark.parametrize("history, match", [
    ("ntk_base", "history must be a list"),
    ([{"item_id": "ntk_base"}], "entry 0"),
    ([A("ntk_base", True, datetime(2026, 1, 1))], "timezone-aware"),
    ([A("ntk_base", 1, T0)], "bool correct"),
])
def test_bad_histories_are_value_errors(history, match):
    with pytest.raises(ValueError, match=match):
        quiz.replay(history)


def test_bad_arguments_are_value_errors():
    with pytest.raises(ValueError, match="now"):
        quiz.practice_queue([], datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="sections"):
        quiz.practice_queue([], T0, sections=[])
    with pytest.raises(ValueError, match="sections"):
        quiz.practice_queue([], T0, sections=["10"])
    with pytest.raises(ValueError, match="limit"):
        quiz.practice_queue([], T0, limit=0)
