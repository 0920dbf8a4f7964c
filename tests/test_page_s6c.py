"""§6c A real RoPE model: the verdicts a learner sees, at default settings and where they must turn.

Skips when the SmolLM2 weights package is not installed (the page then only explains how to install it).
"""

import pytest

import apptools

pytestmark = pytest.mark.pages
pytest.importorskip("gguf")
pytest.importorskip("tokenizers")


@pytest.fixture(autouse=True, scope="module")
def _weights():
    from posviz import smollm
    if not smollm.available():
        pytest.skip(f"SmolLM2 weights not installed: {smollm.INSTALL_HINT}")


def test_default_verdicts():
    at = apptools.open_app_page("s6c")
    apptools.assert_verdicts(at, [
        (True, "Causal: no query attends to a later token"),
        (True, "The pairing the weights were made for gives the lowest perplexity"),
    ])


def test_hiding_tokens_scores_the_guesses():
    """Hiding 3 tokens asks for the comma after "March": the correct model is sure; at 15 it is not the best."""
    at = apptools.open_app_page("s6c", state={"s6c_hide": 3})
    assert apptools.verdicts(at)[-1] == (True, "Correct RoPE gives the hidden token more probability than "
                                               "either broken mode")
    at = apptools.open_app_page("s6c", state={"s6c_hide": 15})
    ok, claim = apptools.verdicts(at)[-1]
    assert not ok and "broken mode gave the hidden token more probability" in claim


def test_perplexity_verdict_is_measured():
    """On a three-word fragment the broken modes happen to score better: the box says so in red."""
    at = apptools.open_app_page("s6c", state={"s6c_text": "dog bites man"})
    assert apptools.verdicts(at)[1] == (False, "On this text, correct RoPE does not give the lowest perplexity")
    at = apptools.open_app_page("s6c", state={"s6c_text": "Hello there"})
    ok, claim = apptools.verdicts(at)[1]
    assert not ok and "where every rotation angle is 0" in claim


def test_user_text_is_shown_literally():
    """A shared link's sentence is shown as typed: no link made from a bare URL or www., no image fetched."""
    text = "see www.example.com and https://h.io/x ![x](http://h/p.png) *now*"
    at = apptools.open_app_page("s6c", state={"s6c_text": text})
    shown = " ".join(m.value for m in at.markdown if "The model reads" in m.value)
    assert f"`{text}`" in shown
    chips = next(m.value for m in at.markdown if "tokens** (␣ marks" in m.value)
    assert "`www`" in chips or "`␣www`" in chips
