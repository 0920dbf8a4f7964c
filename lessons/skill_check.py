"""Skill check: a quick check across sections, FSRS-driven practice, progress, and an instructor view."""

import streamlit as st

import quiz_ui
import ui
from posviz import quiz
from posviz.figures import quiz as figs

ITEMS = [it.id for it in quiz.bank()]
page = ui.Page("quiz", "Skill check")
page.prose("intro")
quiz_ui.learner_box()


def section_label(section: str) -> str:
    return f"§{section}"


@st.fragment
def quick_check():
    page.section("Quick check", "quick")
    v = page.controls([1, 3], set=ui.Number("Set #", 0, 999, 0, help="Another number, other questions."))
    grades = []
    for k, q in enumerate(quiz_ui.quick_set(v.set)):
        with st.container(border=True):
            grades.append(quiz_ui.question_card(q, f"quiz_quick_{v.set}_{k}_{q.item_id}", refresh_page=True))
    answered = [g for g in grades if g is not None and g.understood]
    st.caption(f"Set {v.set}: {sum(g.correct for g in answered)} right of {len(answered)} answered "
               f"({len(grades)} questions). {quiz_ui.status()}")


@st.fragment
def practice():
    page.section("Practice", "practice")
    v = page.controls(sections=ui.Multi("Sections to practise", quiz.SECTIONS, format_func=section_label))
    if not v.sections:
        st.info("Pick at least one section to practise.", icon=":material/checklist:")
        return
    quiz_ui.practice(v.sections)


@ui.figure
def progress_view(prog, style):
    return prog, (figs.mastery(prog.sections, style), figs.history(prog.days, style) if prog.days else None)


@st.fragment
def progress():
    page.section("Progress", "progress")
    prog, (mastery_fig, history_fig) = progress_view(quiz_ui.progress())
    st.caption(quiz_ui.status())
    ui.plot(mastery_fig)
    if history_fig is None:
        st.caption("No answers yet: the history per day appears after your first answer.")
    else:
        ui.plot(history_fig)
        st.caption(f"{prog.answers} answers on {len(prog.days)} day(s); items seen: {prog.seen} of {prog.items}.")
    data = quiz_ui.export_json()
    if data is None:
        st.caption("Export and import need a name (sidebar).")
        return
    left, right = st.columns(2)
    left.download_button("Download my progress (JSON)", data, file_name="posviz-progress.json",
                         mime="application/json", icon=":material/download:")
    with right:
        quiz_ui.import_file(st.file_uploader("Import a progress file", type=["json"], key="quiz_import"))


@st.fragment
def instructor():
    page.section("Instructor view", "instructor")
    v = page.controls([3, 1], item=ui.Select("Question (item id)", ITEMS, index=ITEMS.index("alibi_slope"),
                                             on_change=quiz_ui.hide_answer),
                      seed=ui.Number("Seed", 0, 9999, 0, on_change=quiz_ui.hide_answer))
    q = quiz.generate(v.item, v.seed)
    left, right = st.columns([3, 2])
    with left:
        revealed = page.control("reveal", ui.Toggle("Show the answer", help="Answer, explanation and working."))
    right.button("New seed", key="quiz_new_seed", icon=":material/casino:", on_click=quiz_ui.new_seed)
    quiz_ui.instructor_card(q, revealed)
    link = f"skill-check?quiz_item={v.item}&quiz_seed={v.seed}" + ("&lecture=true" if ui.lecture() else "")
    st.caption(f"Share this question: `{link}` (append it to the app's address).")


if ui.lecture() or "quiz_item" in st.query_params:
    instructor()
    with st.expander("Quick check, practice and progress", expanded=not ui.lecture()):
        quick_check()
        practice()
        progress()
else:
    quick_check()
    practice()
    progress()
    instructor()
