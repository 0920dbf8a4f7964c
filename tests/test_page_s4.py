"""§4 Learned absolute: the verdicts a learner sees, at default settings and where they must turn."""

import pytest

import apptools

pytestmark = pytest.mark.pages


def test_default_verdicts():
    at = apptools.open_app_page("s4")
    apptools.assert_verdicts(at, [
        (True, "The count formula L·d matches the real weights file"),
        (True, "Row length cannot tell the trained table from a random one"),
        (True, "The end rows are kept exactly"),
        (True, "2 new rows land on whole old positions"),
        (True, "The trained rows turn steadily"),
        (True, "For sinusoids the average hides nothing"),
        (False, "Tokens share position rows"),  # red on purpose: the broken, unchecked lookup at 768 tokens
        (True, "The checked lookup stops instead of guessing"),
    ])


def test_short_sequence_needs_no_check():
    at = apptools.open_app_page("s4", state={"s4_seq_len": 400, "s4_mode": "wrap"})
    assert apptools.verdicts(at)[-2:] == [(True, "Every token gets its own position row"),
                                          (True, "Every token gets its own trained row")]


def test_resizing_to_2n_minus_1_copies_every_other_row():
    at = apptools.open_app_page("s4", state={"s4_new_len": 1023})
    assert (True, "512 new rows land on whole old positions and equal those rows") in apptools.verdicts(at)


def test_few_rows_show_an_arc_not_a_ring():
    """With 16 rows the top two components pick up a slow turn: the steady-ring claim turns red."""
    at = apptools.open_app_page("s4", state={"s4_first": 16})
    ok, claim = apptools.verdicts(at)[4]
    assert not ok and "no steady turn" in claim


def test_looking_past_the_table_says_why():
    at = apptools.open_app_page("s4", state={"s4_query": 600})
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "[0, 511]" in errors[0] and "cannot encode position 600" in errors[0]
    assert len(apptools.verdicts(at)) == 8  # the rest of the page still runs
