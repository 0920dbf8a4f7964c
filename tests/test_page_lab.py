"""Extrapolation lab page: shipped results, the measured claims, and the live-run controls."""

import pytest

import apptools

pytestmark = pytest.mark.pages


def test_shipped_results_and_claims_render():
    """The shipped sweep bears out every claim the page states (each can turn red: tests/test_lab_report.py)."""
    at = apptools.open_app_page("lab")
    assert not at.exception
    apptools.assert_verdicts(at, [
        (True, "Sinusoidal positions added to x break past the training length"),
        (True, "Plain RoPE breaks past the training length"),
        (True, "ALiBi holds past the training length"),
        (True, "ALiBi extrapolates best without fine-tuning"),
        (True, "Fine-tuning at the longer length with PI or YaRN beats plain RoPE there"),
        (True, "every seed ranks the schemes used as trained in the same order"),
    ])
    assert any("python -m posviz.lab run" in c.value for c in at.caption)
    assert at.dataframe, "the measured table is shown"


def test_live_controls_describe_the_run():
    at = apptools.open_app_page("lab", state={"lab_live_schemes": ["t5"], "lab_live_len": 32, "lab_live_steps": 100})
    text = " ".join(c.value for c in at.caption)
    assert "T5 relative bias at L = 32 for 100 steps" in text
    assert any(b.label == "Train and evaluate" for b in at.button)
