"""§6b Long-context RoPE scaling: the verdicts a learner sees, at default settings and where they must turn."""

import pytest

import apptools

pytestmark = pytest.mark.pages

DEFAULTS = [
    (True, "YaRN keeps the fast pairs and interpolates the slow ones"),
    (True, "Llama 3.1 keeps short wavelengths and divides long ones by s"),
    (True, "YaRN's factor is 0.1·ln s + 1"),
    (False, "reach angles never seen in training"),  # static NTK at s = 4: red on purpose (17 pairs)
    (True, "the dynamic scale is s² − s + 1 = 13"),
    (True, "Pair 0 is untouched and the slowest pair is divided by exactly s"),
]


def infos(at) -> list[str]:
    return [i.value for i in at.info]


def test_default_verdicts():
    apptools.assert_verdicts(apptools.open_app_page("s6b"), DEFAULTS)


def test_pi_sees_no_new_angle():
    at = apptools.open_app_page("s6b", state={"s6b_angle_method": "linear"})
    expected = list(DEFAULTS)
    expected[3] = (True, "every angle at length s·L was already seen in training")
    apptools.assert_verdicts(at, expected)


def test_mscale_alone_is_explained():
    at = apptools.open_app_page("s6b", state={"s6b_yarn_mscale_on": True, "s6b_yarn_mscale": 1.5})
    assert any("mscale = 1.5 is set but mscale_all_dim is not" in t for t in infos(at)), infos(at)
    assert (True, "YaRN's factor is 0.1·ln s + 1") in apptools.verdicts(at)


def test_mscale_pair_gives_the_ratio_and_attention_factor_overrides_it():
    both = {"s6b_yarn_mscale_on": True, "s6b_yarn_mscale": 1.5, "s6b_yarn_mscale_all_dim_on": True}
    ratio = apptools.verdicts(apptools.open_app_page("s6b", state=both))[2]
    assert ratio[0] and "their ratio" in ratio[1]
    at = apptools.open_app_page("s6b", state={**both, "s6b_yarn_attention_factor_on": True})
    ok, claim = apptools.verdicts(at)[2]
    assert ok and "overrides the formula" in claim
    assert any("attention_factor = 1 overrides the formula" in t for t in infos(at))


def test_clipped_ramp_start_turns_the_yarn_verdict_red():
    ok, claim = apptools.verdicts(apptools.open_app_page("s6b", state={"s6b_yarn_beta_fast": 700.0}))[0]
    assert not ok and "YaRN breaks its rule" in claim


def test_tiny_beta_slow_is_shown_not_crashed():
    at = apptools.open_app_page("s6b", state={"s6b_yarn_beta_slow": 1e-308})
    assert any("past the last pair 63" in m.value for m in at.markdown)
    assert not at.error


def test_the_methods_table_folds_away_on_a_slide_and_lies_open_on_the_page():
    """On the angles slide the table of every method sits in an expander (shown, it left the chart ~110 px
    of a 720-px screen); on the page it is a plain table under the chart."""
    def table_places(at) -> tuple[int, list[str]]:
        folded = [e.label for e in at.expander if "side by side" in e.label and len(e.dataframe)]
        return len(at.dataframe), folded

    slide = apptools.open_app_page("s6b", lecture=True, query={"slide": "5"})
    assert table_places(slide) == (1, ["Every method, side by side"])
    page = apptools.open_app_page("s6b")
    assert table_places(page) == (1, [])
