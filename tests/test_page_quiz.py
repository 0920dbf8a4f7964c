"""Skill check page and the "Check yourself" block: answering right and wrong, progress that is shared
and saved, the instructor view and its link, and a broken database that loses nothing silently."""

from __future__ import annotations

import pytest

import apptools
import quiz_ui
from posviz import quiz, store

pytestmark = pytest.mark.pages


def first_set(kind: str) -> int:
    """A quick-check set number whose questions include one of ``kind``."""
    return next(n for n in range(200) if any(q.kind == kind for q in quiz_ui.quick_set(n)))


def card(at, prefix: str):
    """The answer widget whose key starts with ``prefix`` (a radio or a text input)."""
    found = [w for w in list(at.radio) + list(at.text_input) if (w.key or "").startswith(prefix)]
    assert found, f"no answer widget with a key starting {prefix!r}"
    return found[0]


def wrong_choice(q: quiz.Question) -> str:
    return next(c for c in q.choices if c != q.answer)


def texts(at) -> str:
    """Markdown and captions of the page, whitespace collapsed."""
    return " ".join(" ".join([m.value for m in at.markdown] + [c.value for c in at.caption]).split())


@pytest.fixture
def db(tmp_path, monkeypatch):
    """A fresh progress file for this test (quiz_ui opens one store per POSVIZ_DB)."""
    monkeypatch.setenv("POSVIZ_DB", str(tmp_path / "progress.db"))
    return lambda: store.open_store(f"sqlite:///{tmp_path / 'progress.db'}")


def test_defaults(db):
    at = apptools.open_app_page("quiz")
    apptools.assert_verdicts(at, [])
    assert [s.value for s in at.subheader] == ["Quick check", "Practice", "Progress", "Instructor view"]
    assert "There are no passwords" in texts(at)
    assert len(apptools.figures(at)) == 1, "the mastery chart, empty until the first answer"
    assert "quiz_item=alibi_slope&quiz_seed=0" in texts(at)
    assert at.sidebar.text_input(key=quiz_ui.NAME).value == ""


def test_choice_right_and_wrong_on_the_quick_check(db):
    at = apptools.open_app_page("quiz")
    questions = quiz_ui.quick_set(0)
    chosen = [q for q in questions if q.choices][:2]
    first = card(at, f"quiz_quick_0_{questions.index(chosen[0])}_")
    first.set_value(chosen[0].answer).run()
    apptools.assert_verdicts(at, [(True, "Right")])
    second = card(at, f"quiz_quick_0_{questions.index(chosen[1])}_")
    second.set_value(wrong_choice(chosen[1])).run()
    apptools.assert_verdicts(at, [(True, "Right"), (False, "Not quite")])
    assert chosen[1].answer in " ".join(w.value for w in at.warning)
    assert "1 right of 2 answered" in texts(at)
    assert len(apptools.figures(at)) == 2, "mastery and, now, the history per day"
    assert db().answers("anyone") == [], "without a name nothing is written to the database"


def test_numeric_right_shows_the_live_computation(db):
    n = first_set("numeric")
    q = next(q for q in quiz_ui.quick_set(n) if q.kind == "numeric")
    k = quiz_ui.quick_set(n).index(q)
    at = apptools.open_app_page("quiz", state={"quiz_set": n})
    card(at, f"quiz_quick_{n}_{k}_").set_value(f"{q.answer:.8g}").run()
    verdicts = apptools.verdicts(at)
    assert verdicts[0] == (True, "Right")
    assert verdicts[1] == (True, "posviz's answer agrees with the formula worked by hand")
    assert len(apptools.figures(at)) == 3, "working, mastery, history"
    assert quiz.working(q).call in texts(at)


def test_numeric_wrong_and_garbage(db):
    n = first_set("numeric")
    q = next(q for q in quiz_ui.quick_set(n) if q.kind == "numeric")
    k = quiz_ui.quick_set(n).index(q)
    at = apptools.open_app_page("quiz", state={"quiz_set": n})
    box = card(at, f"quiz_quick_{n}_{k}_")
    box.set_value("twenty").run()
    assert any("Expected" in w.value and "1/2" in w.value for w in at.warning) and not at.error
    assert apptools.verdicts(at) == []
    card(at, f"quiz_quick_{n}_{k}_").set_value("").run()
    assert any("empty" in e.value for e in at.error), "an emptied box is refused"
    card(at, f"quiz_quick_{n}_{k}_").set_value(f"{q.answer * 3 + 1:.8g}").run()
    assert apptools.verdicts(at)[0] == (False, "Not quite")
    assert not at.error


def test_named_answers_are_saved_and_shown_as_progress(db):
    at = apptools.open_app_page("quiz", state={quiz_ui.NAME: "Ada"})
    assert "saved for `Ada`" in texts(at)
    questions = quiz_ui.quick_set(0)
    q = next(q for q in questions if q.choices)
    card(at, f"quiz_quick_0_{questions.index(q)}_").set_value(q.answer).run()
    card(at, f"quiz_quick_0_{questions.index(q)}_").set_value(wrong_choice(q)).run()  # only the first counts
    saved = db().answers("ada")
    assert [(a.item_id, a.correct) for a in saved] == [(q.item_id, True)]
    mastery = apptools.figures(at)[0]["data"][0]
    shown = dict(zip(mastery["x"], mastery["text"]))
    assert shown[f"§{q.section}"] == f"1/{len(quiz.section_items(q.section))}"
    assert at.get("download_button"), "a named learner can download their progress"


def test_practice_goes_on_to_the_next_question(db):
    at = apptools.open_app_page("quiz")
    practice = card(at, "quiz_practice_0_")
    first = practice.key.split("_", 3)[3]
    q = quiz.generate(first, 0)
    practice.set_value(wrong_choice(q)).run()
    assert (False, "Not quite") in apptools.verdicts(at)
    at.button(key="quiz_practice_next").click().run()
    nxt = card(at, "quiz_practice_1_")
    assert nxt.key.split("_", 3)[3] != first
    assert "New: you have not answered it yet." in texts(at)


def test_practice_sections(db):
    at = apptools.open_app_page("quiz", state={"quiz_sections": ["6b"]})
    key = card(at, "quiz_practice_0_").key
    assert quiz.item(key.split("_", 3)[3]).section == "6b"
    at = apptools.open_app_page("quiz", state={"quiz_sections": []})
    assert any("at least one section" in i.value for i in at.info)


def test_instructor_link_opens_a_question_first_and_reveals_on_click(db):
    at = apptools.open_app_page("quiz", query={"quiz_item": "ntk_base", "quiz_seed": "3"})
    assert at.subheader[0].value == "Instructor view"
    q = quiz.generate("ntk_base", 3)
    assert q.prompt.split("$")[0] in texts(at)
    assert not any("Answer:" in s.value for s in at.success)
    at.toggle(key="quiz_reveal").set_value(True).run()
    answer = next(s.value for s in at.success if "Answer:" in s.value)
    assert f"{q.answer:.6g}" in answer
    assert (True, "posviz's answer agrees with the formula worked by hand") in apptools.verdicts(at)
    at.button(key="quiz_new_seed").click().run()
    assert at.number_input(key="quiz_seed").value == 4 and at.toggle(key="quiz_reveal").value is False
    assert "quiz_item=ntk_base&quiz_seed=4" in texts(at)


def test_lecture_mode_shows_one_question_first(db):
    at = apptools.open_app_page("quiz", lecture=True)
    assert at.subheader[0].value == "Instructor view"
    rest = next(e for e in at.expander if e.label == "Quick check, practice and progress")
    assert not rest.proto.expanded
    assert "&lecture=true" in texts(at)


def test_check_yourself_block_on_a_lesson_page_shares_progress(db):
    at = apptools.open_app_page("s6b", state={quiz_ui.NAME: "grace"})
    assert "Check yourself" in [s.value for s in at.subheader]
    drawn = quiz_ui.section_draw("6b", 0)
    assert len(drawn) == 3 and {q.section for q in drawn} == {"6b"}
    verdicts_before = len(apptools.verdicts(at))
    q = drawn[0]
    box = card(at, f"s6b_check_{q.item_id}_")
    box.set_value(q.answer if q.choices else f"{q.answer:.8g}").run()
    assert apptools.verdicts(at)[verdicts_before] == (True, "Right")
    assert [a.item_id for a in db().answers("grace")] == [q.item_id]
    at.button(key="s6b_check_new").click().run()
    assert {q.item_id for q in quiz_ui.section_draw("6b", 1)}.isdisjoint({q.item_id for q in drawn})
    card(at, f"s6b_check_{quiz_ui.section_draw('6b', 1)[0].item_id}_1")
    page = apptools.open_app_page("quiz", state={quiz_ui.NAME: "Grace"})
    mastery = apptools.figures(page)[0]["data"][0]
    assert dict(zip(mastery["x"], mastery["text"]))["§6b"] == f"1/{len(quiz.section_items('6b'))}"


def test_a_broken_database_loses_no_answer(tmp_path, monkeypatch):
    bad = tmp_path / "progress.db"
    bad.write_bytes(b"not a database at all" * 50)
    monkeypatch.setenv("POSVIZ_DB", str(bad))
    at = apptools.open_app_page("quiz", state={quiz_ui.NAME: "ada"})
    questions = quiz_ui.quick_set(0)
    q = next(q for q in questions if q.choices)
    card(at, f"quiz_quick_0_{questions.index(q)}_").set_value(q.answer).run()
    errors = " ".join(e.value for e in at.error)
    assert "Progress cannot be saved right now" in errors and "not a SQLite database" in errors
    assert "1 answer(s) are not saved yet" in errors and "kept in this browser tab" in errors
    apptools.assert_verdicts(at, [(True, "Right")])
    assert "1 answers on 1 day(s)" in texts(at), "the unsaved answer still counts in the progress view"
    assert bad.read_bytes() == b"not a database at all" * 50
    bad.unlink()  # the database comes back: the pending answer is written with the next run
    card(at, f"quiz_quick_0_{questions.index(q)}_").set_value(wrong_choice(q)).run()
    assert [(a.item_id, a.correct) for a in store.open_store(f"sqlite:///{bad}").answers("ada")] == \
           [(q.item_id, True)]


def test_bad_name_is_refused_in_the_sidebar(db):
    at = apptools.open_app_page("quiz", state={quiz_ui.NAME: "a\u200bb"})
    assert any("cannot be used" in e.value for e in at.sidebar.error)
    assert "kept in this browser tab only" in texts(at)
