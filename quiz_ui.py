"""Streamlit glue for the skill check, shared by the Skill check page and the "Check yourself" block.

* :func:`learner_box` puts the name field in the sidebar (kept across pages for the session);
* :func:`question_card` shows one question, grades the answer as soon as it is given, records it
  once, and for a numeric item draws how posviz computed the answer;
* :func:`check_yourself` is the block at the end of every lesson page (``app.py`` calls it once,
  after the page, for pages of ``PAGE_SECTION``): 2–3 items of that section, the same progress;
* :func:`practice`, :func:`history`, :func:`instructor_card` serve the Skill check page.

Progress is never dropped silently: an answer is first kept in the session, then written to the
store; if the database fails, the answer stays pending (retried with the next answer), the page says
so, and the learner can still download it. Without a name, answers live in this browser tab only.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from datetime import datetime, timezone

import streamlit as st

import ui
from posviz import quiz, store
from posviz.figures import quiz as figs

# lesson page prefix (app.PAGES) -> quiz section
PAGE_SECTION = {"s1": "1", "s2": "2", "s3": "3", "s4": "4", "s5": "5", "s6": "6", "s6b": "6b", "s6c": "6c",
                "s7": "7", "s8": "8", "s8b": "8", "s9": "9"}
NAME = "learner_name"            # sidebar widget key (persist_state="session": survives page switches)
SESSION = "_quiz_session"        # this tab's answers: dicts with learner (or None), item_id, seed, correct, at, uid
RECORDED = "_quiz_recorded"      # question-instance keys already recorded (the first answer counts)
PRACTICE = "_quiz_practice"      # the practice question on screen: item, seed, reason, n (shown so far), done
CHECK_SIZE = 3                   # questions per "Check yourself" block
QUICK_SIZE = 5                   # questions (from as many sections) per quick check


# -- who is answering, and where answers go -------------------------------------------------

def learner_box() -> None:
    """The name field, in the sidebar (outside any fragment), on every page that quizzes."""
    name = st.sidebar.text_input(
        "Your name, to keep your progress", key=NAME, max_chars=store.MAX_NAME, persist_state="session",
        placeholder="e.g. ada", help="No password: anyone who types the same name shares this progress. "
                                     "Leave it empty to practise without saving.")
    if name and learner() is None:
        try:
            store.learner_key(name)
        except ValueError as err:
            st.sidebar.error(f"That name cannot be used: {err}. Answers are not saved until it can.")


def learner() -> str | None:
    """The learner key of this session, or None (no name, or one that cannot be used: the sidebar says why)."""
    name = st.session_state.get(NAME)
    if not name:
        return None
    try:
        return store.learner_key(name)
    except ValueError:
        return None


def _db_key() -> str:
    return os.environ.get("POSVIZ_DB_URL") or os.environ.get("POSVIZ_DB") or ""


@st.cache_resource(show_spinner=False)
def _open(db_key: str) -> store.Store:
    """One store per database and process (its engine pools connections for every session)."""
    return store.open_store(None)


def open_store() -> store.Store | None:
    """The store, or None after showing why it cannot be used (a failed open is retried on the next run)."""
    try:
        return _open(_db_key())
    except store.StoreError as err:
        st.error(f"**Progress cannot be saved right now.** {err}", icon=":material/database:")
        return None


def _flush(name: str) -> None:
    """Write this session's unsaved answers of ``name`` (and those given before a name was typed)."""
    pending = [a for a in st.session_state.get(SESSION, []) if not a.get("saved") and a["learner"] in (None, name)]
    if not pending:
        return
    db, why = open_store(), ""
    try:
        for a in pending if db is not None else []:
            db.record(name, a["item_id"], a["seed"], a["correct"], at=a["at"], uid=a["uid"])
            a.update(learner=name, saved=True)
    except store.StoreError as err:
        why = f"{err} "
    left = sum(not a.get("saved") for a in pending)
    if left:
        st.error(f"**{left} answer(s) are not saved yet.** {why}They are kept in this browser tab and saved "
                 "with your next answer once the database works again.", icon=":material/database:")


def _record(q: quiz.Question, grade: quiz.Grade, instance: str) -> bool:
    """Keep the first understood answer to this question instance; True when it was new."""
    done = st.session_state.setdefault(RECORDED, set())
    if instance in done or not grade.understood:
        return False
    done.add(instance)
    st.session_state.setdefault(SESSION, []).append(dict(
        learner=None, item_id=q.item_id, seed=q.seed, correct=grade.correct, at=datetime.now(timezone.utc),
        uid=str(uuid.uuid4()), saved=False))
    name = learner()
    if name:
        _flush(name)
    return True


def _answer(a: dict, name: str | None) -> store.Answer:
    return store.Answer(name or "", a["item_id"], a["seed"], a["correct"], a["at"], a["uid"])


HISTORY_TTL = 1.0  # seconds one read of the store serves the parts of a page run (practice, progress)


def history() -> tuple[store.Answer, ...]:
    """This learner's answers, oldest first: the store's plus unsaved ones (or this tab's, without a name).

    Read once per page run (a memo of ``HISTORY_TTL`` seconds, keyed by the name and this tab's answers),
    so other sessions' answers under the same name show up on the next run."""
    mine = st.session_state.get(SESSION, [])
    name = learner()
    if not name:
        return tuple(_answer(a, None) for a in mine if a["learner"] is None)
    _flush(name)
    key = (name, len(mine), sum(bool(a.get("saved")) for a in mine))
    memo = st.session_state.get("_quiz_history")
    if memo and memo[0] == key and time.monotonic() - memo[1] < HISTORY_TTL:
        return memo[2]
    db = open_store()
    stored = db.answers(name) if db is not None else []
    unsaved = [_answer(a, name) for a in mine if not a.get("saved") and a["learner"] in (None, name)]
    result = (*stored, *unsaved)
    st.session_state["_quiz_history"] = (key, time.monotonic(), result)
    return result


def progress() -> quiz.Progress:
    """Mastery per section and answers per day of this learner (or this tab)."""
    return quiz.progress(history())


def status() -> str:
    name = st.session_state.get(NAME)
    if learner():
        return f"Answers are saved for {ui.literal(name)} (no password: anyone with this name shares them)."
    return "Answers are kept in this browser tab only: type a name in the sidebar to save them."


# -- one question ------------------------------------------------------------------------------

def _register(key: str) -> None:
    """Answer widgets start empty, and "Reset this page" empties them again."""
    st.session_state.setdefault("_defaults", {})[key] = None


@ui.figure
def working_view(item_id: str, seed: int, style):
    w = quiz.working(quiz.generate(item_id, seed))
    return w, figs.working(w, style)


def show_working(q: quiz.Question) -> None:
    """After grading a numeric question: the live computation, the asked point highlighted, and its check."""
    if q.kind != "numeric":
        return
    w, fig = working_view(q.item_id, q.seed)
    st.caption(f"How posviz computed it: `{w.call}`, {w.formula}")
    ui.plot(fig)
    ui.check(w.verdict)


def question_card(q: quiz.Question, key: str, *, refresh_page: bool = False) -> quiz.Grade | None:
    """Ask ``q``; grade as soon as there is an answer; record the first understood answer once.

    ``refresh_page``: after recording, rerun the whole page (not only this fragment), so that a
    progress view elsewhere on it shows the new answer."""
    st.markdown(f"**§{q.section} · {q.title}**")
    ui.markdown(q.prompt)
    _register(key)
    if q.choices:
        response = st.radio("Your answer", q.choices, index=None, key=key, label_visibility="collapsed")
    else:
        response = st.text_input("Your answer (a number)", value=None, key=key,
                                 placeholder="e.g. 20452, 2.0452e4, 1/16 or 2^-4; press Enter")
    if response is None:
        return None
    grade = quiz.grade(q, response)
    if not grade.understood:  # nothing to grade: an empty or overlong box is refused, anything else explained
        refused = not response.strip() or len(response) > quiz.MAX_RESPONSE
        (st.error if refused else st.warning)(grade.feedback, icon=":material/edit_note:")
        return grade
    if _record(q, grade, key) and refresh_page:
        st.rerun(scope="app")
    ui.check(grade.verdict)
    show_working(q)
    return grade


# -- the block at the end of every lesson page --------------------------------------------------

def _bump(key: str, top: int | None = None) -> None:
    value = st.session_state.get(key, 0) + 1
    st.session_state[key] = value if top is None or value <= top else 0


def section_draw(section: str, draw: int, size: int = CHECK_SIZE) -> list[quiz.Question]:
    """Draw ``draw`` of a section: ``size`` different items (consecutive draws share none while the
    section has enough), each with seed ``draw`` so numeric items get new numbers."""
    items = list(quiz.section_items(section))
    random.Random(f"check:{section}").shuffle(items)
    picked = [items[(size * draw + j) % len(items)] for j in range(min(size, len(items)))]
    return [quiz.generate(it.id, draw) for it in picked]


@st.fragment
def _check_block(section: str, prefix: str) -> None:
    st.subheader("Check yourself", divider="gray")
    counter = f"_{prefix}_check_draw"
    draw = st.session_state.get(counter, 0)
    st.caption(f"{CHECK_SIZE} questions on §{section} from the Skill check bank. {status()}")
    for q in section_draw(section, draw):
        with st.container(border=True):
            question_card(q, f"{prefix}_check_{q.item_id}_{q.seed}")
    st.button("New questions", key=f"{prefix}_check_new", icon=":material/refresh:", on_click=_bump,
              args=(counter,), help="Draw other questions (numeric ones get new numbers).")


def check_yourself(section: str, *, prefix: str | None = None) -> None:
    """The "Check yourself" block of one lesson section; widget keys start with ``prefix`` (the page's,
    so that "Reset this page" empties the answers)."""
    section = quiz.section_items(section)[0].section  # a ValueError for an unknown section
    learner_box()
    _check_block(section, prefix or f"check{section}")


# -- Skill check page pieces --------------------------------------------------------------------

def quick_set(number: int) -> list[quiz.Question]:
    """Quick check number ``number``: one item from each of ``QUICK_SIZE`` different sections."""
    rng = random.Random(f"quick:{number}")
    sections = rng.sample(quiz.SECTIONS, QUICK_SIZE)
    return [quiz.generate(rng.choice(quiz.section_items(s)).id, number) for s in sections]


REASONS = {"due": "Due again: the scheduler brings it back now.", "new": "New: you have not answered it yet.",
           "ahead": "Early: nothing is due and every item was seen; this one is due soonest."}


def _next_practice() -> None:
    st.session_state[PRACTICE]["done"] = True


def practice(sections: list[str]) -> None:
    """One scheduler-driven question at a time; "Next question" asks the queue again."""
    queue = quiz.practice_queue(history(), sections=sections, limit=50)
    current = st.session_state.get(PRACTICE)
    if current is None or current["done"] or quiz.item(current["item"]).section not in sections:
        shown = current["item"] if current else None
        nxt = next((d for d in queue if d.item_id != shown), queue[0])
        current = st.session_state[PRACTICE] = dict(item=nxt.item_id, seed=nxt.seed, reason=nxt.reason,
                                                    n=current["n"] + 1 if current else 0, done=False)
    counts = {r: sum(d.reason == r for d in queue) for r in REASONS}
    st.caption(f"{REASONS[current['reason']]} Queue in §{', §'.join(sections)}: {counts['due']} due now, "
               f"{counts['new']} new (first 50 shown).")
    with st.container(border=True):
        question_card(quiz.generate(current["item"], current["seed"]),
                      f"quiz_practice_{current['n']}_{current['item']}", refresh_page=True)
    st.button("Next question", key="quiz_practice_next", icon=":material/skip_next:", on_click=_next_practice)


def export_json():
    """A zero-argument function that writes this learner's progress as JSON (stored and not yet saved
    answers), for a download button to call on click; None without a name."""
    name = learner()
    if not name:
        return None
    answers = list(history())
    return lambda: json.dumps(store.export_answers(name, answers), indent=1)


def import_file(uploaded) -> None:
    """Import an exported progress file into this learner's progress (once per uploaded file)."""
    done = st.session_state.setdefault("_quiz_imported", set())
    name, db = learner(), None
    if uploaded is None or uploaded.file_id in done:
        return
    if not name:
        st.warning("Type your name in the sidebar first: imported answers are added to that name.")
        return
    db = open_store()
    if db is None:
        return
    try:
        added = db.import_(json.loads(uploaded.getvalue().decode("utf-8")), learner=name)
    except (ValueError, UnicodeDecodeError) as err:
        st.error(f"**This file cannot be imported:** {str(err)[:200]}. Choose a file downloaded from this page.")
        return
    except store.StoreError as err:
        st.error(f"**Nothing was imported.** {err}")
        return
    done.add(uploaded.file_id)
    st.success(f"Imported {added} new answer(s) into the progress of {ui.literal(name)}.")


def hide_answer() -> None:
    st.session_state["quiz_reveal"] = False


def new_seed() -> None:
    """The instructor's "New seed" button: the next seed, answer hidden again."""
    _bump("quiz_seed", 9999)
    hide_answer()


# On a projector the question, its choices and the revealed answer fill the screen.
PROJECTED_CSS = """<style>
.st-key-quiz_projected p, .st-key-quiz_projected li, .st-key-quiz_revealed p { font-size: 1.45rem !important;
  line-height: 1.45 !important; }
.st-key-quiz_projected h4 { font-size: 1.9rem !important; }
.st-key-quiz_projected pre.posviz-code { font-size: 1.1rem !important; }
</style>"""


def instructor_card(q: quiz.Question, revealed: bool) -> None:
    """One question as an instructor projects it; the answer, explanation and working once revealed."""
    if ui.lecture():
        st.html(PROJECTED_CSS)
    with st.container(border=True, key="quiz_projected"):
        st.markdown(f"#### §{q.section} · {q.title}")
        ui.markdown(q.prompt)
        for k, choice in enumerate(q.choices or []):
            st.markdown(f"**{chr(65 + k)}.** {choice}")
    if not revealed:
        return
    with st.container(key="quiz_revealed"):
        if q.choices:
            letter = chr(65 + q.choices.index(q.answer))
            st.success(f"**Answer: {letter}.** {q.answer}\n\n{q.explanation}", icon=":material/lightbulb:")
        else:
            shown = f"{int(q.answer):,}" if q.tolerance == 0 else f"{q.answer:.6g}"
            st.success(f"**Answer: {shown}.** {q.explanation}", icon=":material/lightbulb:")
            show_working(q)
