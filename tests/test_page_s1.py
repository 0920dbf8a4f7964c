"""§1 Why position: the verdicts a learner sees, at default settings and where they must turn."""

import pytest

import apptools

pytestmark = pytest.mark.pages


def test_default_verdicts():
    at = apptools.open_app_page("s1")
    apptools.assert_verdicts(at, [
        (True, "Without position, the outputs are exactly the permuted outputs"),
        (True, "A relative scheme scores the moved phrase exactly as before"),
        (True, "add up to the real score"),
        (True, "continue the prompt's"),
    ])


@pytest.mark.parametrize("scheme", ["sinusoidal", "rope", "distance_bias"])
def test_a_position_scheme_makes_order_matter(scheme):
    at = apptools.open_app_page("s1", state={"s1_scheme": scheme})
    ok, claim = apptools.verdicts(at)[0]
    assert ok and "order matters" in claim


def test_causal_mask_alone_makes_order_matter():
    at = apptools.open_app_page("s1", state={"s1_causal": True})
    ok, claim = apptools.verdicts(at)[0]
    assert ok and "causal mask" in claim


def test_user_text_is_shown_literally():
    """A shared link's sentence is shown as typed: no image fetched, no link made."""
    at = apptools.open_app_page("s1", state={"s1_text": "![x](http://h/p.png) [a](http://h)"})
    shown = " ".join(m.value for m in at.markdown if "Original" in m.value)
    assert "`![x](http://h/p.png) [a](http://h)`" in shown
