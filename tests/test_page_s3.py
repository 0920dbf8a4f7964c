"""§3 Sinusoidal: the verdicts a learner sees, at default settings and where they must turn."""

import pytest

import apptools

pytestmark = pytest.mark.pages


def test_default_verdicts():
    at = apptools.open_app_page("s3")
    apptools.assert_verdicts(at, [
        (True, "geometric ladder"),
        (True, "stays on the unit circle"),
        (True, "M_k · PE[p] reproduces PE[p+k]"),
        (True, "depends on the offset q − p alone"),
        (True, "Every position is distinguishable"),
        (True, "symmetric in ±k"),
        (True, "depends on the start p"),
    ])


@pytest.mark.parametrize("state", [{"s3_alias_dim": 4}, {"s3_alias_dim": 4, "s3_alias_base": 10.0}])
def test_small_base_or_dim_shows_aliasing(state):
    at = apptools.open_app_page("s3", state=state)
    ok, claim = apptools.verdicts(at)[4]
    assert not ok and claim.startswith("Aliasing: positions")


def test_impossible_min_gap_is_refused_with_a_message():
    at = apptools.open_app_page("s3", state={"s3_alias_n": 16, "s3_alias_gap": 9})
    assert any("min_gap must be between 1 and 8" in e.value for e in at.error)
    assert len(apptools.verdicts(at)) == 6  # the aliasing box is gone, the others stay


def test_smaller_dim_keeps_the_pair_slider_in_range():
    at = apptools.open_app_page("s3", state={"s3_pair_i": 14})
    at.selectbox(key="s3_pair_dim").select(8).run()
    assert not at.exception
    assert at.slider(key="s3_pair_i").value == 3
    assert apptools.verdicts(at)[1] == (True, "Pair 3 stays on the unit circle and turns by ω_3 every position")
