"""§7 ALiBi: the verdicts a learner sees, at default settings and where they must turn."""

import pytest

import apptools

pytestmark = pytest.mark.pages

DEFAULTS = [
    (True, "BLOOM's per-key bias m·j gives the same weights"),
    (True, "head 0 is the steepest"),
    (True, "(a power of two) the simple formula 2^(−8k/n) is the rule"),
    (True, "Head 0 is the most local"),
    (True, "the bias just continues its line"),
    (True, "ALiBi: every score of the moved phrase is unchanged"),
    (True, "the scores change although no distance i − j did"),
    (True, "Rows sum to 1, future keys get exactly 0"),
]


def test_default_verdicts():
    apptools.assert_verdicts(apptools.open_app_page("s7"), DEFAULTS)


def test_default_verdicts_in_lecture_mode():
    apptools.assert_verdicts(apptools.open_app_page("s7", lecture=True), DEFAULTS)


def test_twelve_heads_show_head_8_as_steepest_and_the_wrong_formula_differs():
    at = apptools.open_app_page("s7", state={"s7_heads": 12})
    got = apptools.verdicts(at)
    assert got[1][0] and "head 8 is the steepest" in got[1][1] and "not monotone" in got[1][1]
    assert got[2][0] and "gives different slopes" in got[2][1]
    assert any("head 8 · m = 0.7071" in c.value for c in at.caption)


def test_bidirectional_variant_says_bloom_shortcut_needs_the_mask():
    ok, claim = apptools.verdicts(apptools.open_app_page("s7", state={"s7_causal": False}))[0]
    assert ok and "needs the causal mask" in claim


def test_query_past_the_sentence_is_explained():
    at = apptools.open_app_page("s7", state={"s7_text": "a short one", "s7_query": 9})
    assert any("does not exist" in c.value for c in at.caption)


@pytest.mark.parametrize("where,phrase", [("after", "Rows are no longer distributions"),
                                          ("no_mask", "Future keys get weight: a bias is not a mask")])
def test_wrong_mask_modes_turn_red(where, phrase):
    ok, claim = apptools.verdicts(apptools.open_app_page("s7", state={"s7_where": where}))[-1]
    assert not ok and phrase in claim


def test_phrase_at_zero_has_nothing_to_move():
    ok, claim = apptools.verdicts(apptools.open_app_page("s7", state={"s7_start": 0}))[6]
    assert ok and "nothing has moved" in claim


def test_one_times_the_training_length_has_nothing_to_extrapolate():
    ok, claim = apptools.verdicts(apptools.open_app_page("s7", state={"s7_ex_factor": 1}))[4]
    assert ok and "nothing to extrapolate" in claim


def test_empty_sentence_gets_a_message_not_a_crash():
    at = apptools.open_app_page("s7", state={"s7_text": ""})
    assert any("Cannot show this" in e.value and "sentence" in e.value for e in at.error)
    assert len(apptools.verdicts(at)) == len(DEFAULTS) - 1  # the other sections still work
