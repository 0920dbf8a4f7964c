"""posviz.diagnostics.shift_demo: the shift test's result and verdicts (§5)."""

import pytest
import torch

from posviz import diagnostics, relative


def test_shift_demo_defaults():
    res = diagnostics.shift_demo(10, 37)
    assert set(res.gaps) == set(diagnostics.SHIFT_SCHEMES)
    assert res.before.shape == res.after.shape == (10, 10)
    rel, ab = res.verdicts
    assert rel.ok and "own scores are unchanged" in rel.claim
    assert ab.ok and "(absolute)" in ab.claim and res.gaps["sinusoid"] > 1e-3
    assert "means the same" not in rel.claim + rel.detail


@pytest.mark.parametrize("scheme", list(diagnostics.SHIFT_SCHEMES))
def test_shift_demo_draws_the_chosen_scheme(scheme):
    res = diagnostics.shift_demo(6, 5, scheme, seed=2)
    want = diagnostics.shift_test(6, 5, seed=2)[scheme]
    assert torch.equal(res.before, want["before"]) and torch.equal(res.after, want["after"])
    assert res.label == diagnostics.SHIFT_SCHEMES[scheme]


def test_zero_shift_has_nothing_to_test():
    assert diagnostics.shift_demo(5, 0).verdicts == ()


def test_relative_verdict_turns_red_for_a_position_leak(monkeypatch):
    real = relative.relative_bias

    def leaky(table, q_len, k_len=None, *, query_start=0, **kw):  # a bias that grows with the absolute position
        return real(table, q_len, k_len, query_start=query_start, **kw) + 0.01 * query_start

    monkeypatch.setattr(relative, "relative_bias", leaky)
    rel, ab = diagnostics.shift_demo(6, 9).verdicts
    assert not rel.ok and ab.ok


def test_shift_demo_rejects_bad_scheme():
    with pytest.raises(ValueError, match="scheme"):
        diagnostics.shift_demo(5, 3, "alibi")
