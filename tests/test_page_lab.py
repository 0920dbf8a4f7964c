"""Extrapolation lab page: shipped results, the measured claims, and the live-run controls."""

import pytest

import apptools

pytestmark = pytest.mark.pages


def test_shipped_results_and_claims_render():
    at = apptools.open_app_page("lab")
    assert not at.exception
    claims = apptools.verdicts(at)
    assert len(claims) >= 4
    texts = " ".join(c for _, c in claims)
    assert "ALiBi" in texts and "Plain RoPE" in texts and "Seeds agree" in texts
    assert any("python -m posviz.lab run" in c.value for c in at.caption)
    assert at.dataframe, "the measured table is shown"


def test_live_controls_describe_the_run():
    at = apptools.open_app_page("lab", state={"lab_live_schemes": ["t5"], "lab_live_len": 32, "lab_live_steps": 100})
    text = " ".join(c.value for c in at.caption)
    assert "T5 relative bias at L = 32 for 100 steps" in text
    assert any(b.label == "Train and evaluate" for b in at.button)
