"""§9 Common mistakes: the verdicts a learner sees, at default settings and where they must turn."""

import pytest

import apptools
from posviz import mistakes

pytestmark = pytest.mark.pages

CAUGHT = [(True, m.caught) for m in mistakes.MISTAKES.values()]


def test_default_verdicts_all_ten_caught():
    at = apptools.open_app_page("s9")
    apptools.assert_verdicts(at, CAUGHT)
    assert len(apptools.figures(at)) == 10
    assert not at.error


def test_every_mistake_links_to_the_section_that_teaches_it():
    at = apptools.open_app_page("s9")
    links = [el.proto.label for el in at.get("page_link")]
    assert len(links) == 10
    for label, m in zip(links, mistakes.MISTAKES.values()):
        assert label.startswith(f"Taught in {m.section} · ")


@pytest.mark.parametrize("name,state", [
    ("table", {"s9_table_length": 20}),            # fits the 32-row table
    ("needle", {"s9_needle_head": 7}),             # a long-range head finds the needle everywhere in 256
    ("padding", {"s9_padding_pads": 0}),           # no pads: slot numbers are the right ids
    ("extrapolation", {"s9_extrapolation_factor": 1}),  # served at the training length
])
def test_verdicts_turn_where_the_mistake_is_harmless(name, state):
    at = apptools.open_app_page("s9", state=state)
    want = [(False, m.harmless) if n == name else (True, m.caught) for n, m in mistakes.MISTAKES.items()]
    apptools.assert_verdicts(at, want)


def test_moving_one_demo_redraws_only_its_own_figure():
    before = [apptools.signature(f) for f in apptools.figures(apptools.open_app_page("s9"))]
    after = [apptools.signature(f) for f in apptools.figures(apptools.open_app_page("s9", state={"s9_decode_new": 3}))]
    changed = [i for i, (a, b) in enumerate(zip(before, after)) if a != b]
    assert changed == [list(mistakes.MISTAKES).index("decode")]


def test_lecture_mode_folds_the_overview_table():
    at = apptools.open_app_page("s9", lecture=True)
    assert [e.proto.expanded for e in at.expander if e.label == "The ten at a glance"] == [False]
    apptools.assert_verdicts(at, CAUGHT)
