"""§8b Probing a real model: the verdicts a learner sees, at default settings and where they must turn.

The live probes skip when the SmolLM2 weights package is not installed; the page then shows the shipped
needle grid and how to install the weights (tested here by pretending they are missing).
"""

import pytest

import apptools

pytestmark = pytest.mark.pages
pytest.importorskip("gguf")
pytest.importorskip("tokenizers")

from posviz import smollm  # noqa: E402

needs_weights = pytest.mark.skipif(not smollm.available(), reason=f"SmolLM2 weights not installed: "
                                                                  f"{smollm.INSTALL_HINT}")
# what the shipped grid measured (mean of seeds 0, 1, 2)
GRID = "No lost-in-the-middle dip at 1024 tokens: the middle is recalled best"


@needs_weights
def test_default_verdicts():
    at = apptools.open_app_page("s8b")
    apptools.assert_verdicts(at, [
        (False, GRID),
        (True, "The shipped grid is reproduced by a fresh run"),
        (True, "Cached decoding with correct ids equals a full recompute"),
        (True, "Wrong ids (every new token gets the same id) make the cache disagree"),
        (True, "Attention entropy rises under Position interpolation (PI) ×2"),
    ])
    assert any("Switch on *Run it*" in c.value for c in at.caption)  # the live grid waits to be asked


@needs_weights
def test_verdicts_turn_with_the_settings():
    at = apptools.open_app_page("s8b", state={"s8b_bug": "pad_all", "s8b_method": "yarn", "s8b_factor": 4})
    got = apptools.verdicts(at)
    assert got[3] == (True, "Left padding counted everywhere shifts every id equally: RoPE sees only "
                            "differences, the logits match")
    assert got[4] == (False, "Attention entropy falls under YaRN ×4")
    at = apptools.open_app_page("s8b", state={"s8b_method": "dynamic"})
    assert apptools.verdicts(at)[4] == (False, "Attention entropy does not change under Dynamic NTK ×2 at "
                                               "this length")


@needs_weights
def test_live_grid_runs_with_progress():
    at = apptools.open_app_page("s8b", state={"s8b_run": True, "s8b_depths": "3 depths", "s8b_lengths": [64, 128],
                                              "s8b_seed": 11})
    got = apptools.verdicts(at)
    assert len(got) == 6 and "lost-in-the-middle" in got[2][1].lower()
    assert any("Measured in" in c.value for c in at.caption)
    assert len(at.get("plotly_chart")) == 4  # shipped grid, live grid, decode, entropy


def test_without_weights_the_page_says_how_to_install(monkeypatch):
    monkeypatch.setattr(smollm, "available", lambda: False)
    at = apptools.open_app_page("s8b")
    assert any(smollm.INSTALL_HINT in e.value for e in at.error)
    apptools.assert_verdicts(at, [(False, GRID)])  # the shipped grid needs no model
    assert len(at.get("plotly_chart")) == 1
