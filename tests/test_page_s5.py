"""§5 Relative positions: the verdicts a learner sees, at default settings and where they change."""

import pytest

import apptools

pytestmark = pytest.mark.pages

DEFAULTS = [
    (True, "Every diagonal is constant (Toeplitz)"),
    (True, "Content + position = Shaw's score"),
    (True, "Keys 3 or more tokens away on one side look alike"),
    (True, "The four terms add up to the full score"),
    (True, "(c) depends on the key only, (d) on i − j only"),
    (True, "Offsets are identical in every segment"),
    (True, "Not a clip at max_distance"),
    (True, "Bidirectional bucket 16 is never used"),
    (True, "Relative schemes: the phrase's own scores are unchanged by the shift"),
    (True, "(absolute): the phrase's own scores change"),
]


def captions(at) -> str:
    return " ".join(c.value for c in at.caption)


def test_default_verdicts():
    apptools.assert_verdicts(apptools.open_app_page("s5"), DEFAULTS)


def test_value_side_adds_its_own_verdict_and_figure():
    plain = apptools.open_app_page("s5")
    at = apptools.open_app_page("s5", state={"s5_shaw_values": True})
    expected = DEFAULTS[:3] + [(True, "Value side: Σ_j α_ij (v_j + a^V_ij)")] + DEFAULTS[3:]
    apptools.assert_verdicts(at, expected)
    assert len(apptools.figures(at)) == len(apptools.figures(plain)) + 1


def test_short_sequence_has_no_clipped_keys_to_compare():
    at = apptools.open_app_page("s5", state={"s5_shaw_len": 3})
    claims = [claim for _, claim in apptools.verdicts(at)]
    assert not any("look alike" in c for c in claims)
    assert "No query here has two keys 3 or more tokens away" in captions(at)


def test_zero_shift_tests_nothing_and_says_so():
    at = apptools.open_app_page("s5", state={"s5_shift_delta": 0})
    apptools.assert_verdicts(at, DEFAULTS[:-2])
    assert "Δ = 0 moves nothing" in captions(at)


def test_bucket_count_names_the_unused_middle_bucket():
    at = apptools.open_app_page("s5", state={"s5_t5_buckets": 64, "s5_t5_maxd": 256})
    assert (True, "Bidirectional bucket 32 is never used") in apptools.verdicts(at)


def test_unused_controls_are_named():
    """At the defaults (T5 rows, structured table) the clip distance and the seed do nothing: the page says so."""
    assert "Not used in this setting: k = 6" in captions(apptools.open_app_page("s5"))
    at = apptools.open_app_page("s5", state={"s5_bias_index": "clip", "s5_bias_table": "random"})
    assert "Not used in this setting" not in captions(at)
