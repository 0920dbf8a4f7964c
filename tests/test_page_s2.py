"""§2 Formal definitions: the verdicts a learner sees, at default settings and where they must turn."""

import pytest

import apptools

pytestmark = pytest.mark.pages


def test_default_verdicts():
    at = apptools.open_app_page("s2")
    apptools.assert_verdicts(at, [
        (True, "Real tokens get ids 0, 1, 2"),
        (True, "= √(d/2), the same at every position"),
        (True, "Each row is a probability distribution"),
        (True, "are exactly the ones a causal mask hides"),
        (True, "Interpolated positions stay in the trained range"),
    ])


def test_bias_after_softmax_turns_red():
    at = apptools.open_app_page("s2", state={"s2_where": "after"})
    ok, claim = apptools.verdicts(at)[2]
    assert not ok and "no longer distributions" in claim


def test_more_queries_than_keys_is_refused_with_a_message():
    at = apptools.open_app_page("s2", state={"s2_qlen": 12})
    assert any("q_len must be between 1 and 10" in e.value for e in at.error)
    assert len(apptools.verdicts(at)) == 4  # the offsets box is gone, the others stay


def test_decode_step_places_queries_after_the_cache():
    at = apptools.open_app_page("s2", state={"s2_qlen": 4})
    assert any("Queries sit at positions 6…9" in c.value for c in at.caption)
    ok, claim = apptools.verdicts(at)[3]
    assert ok and "causal mask" in claim


def test_left_padding_detail_shows_what_arange_would_do():
    at = apptools.open_app_page("s2", state={"s2_side": "left", "s2_pads": 2, "s2_tokens": 3})
    box = next(a.value for a in at.success if "Real tokens" in a.value)
    assert "[0, 1, 2]" in box and "arange(n) would give them [2, 3, 4]" in box
