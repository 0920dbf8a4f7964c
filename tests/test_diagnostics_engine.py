"""§8 diagnostics on the engine: every scheme side by side, attention profiles, choosing a scheme."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from posviz import diagnostics, engine

ALL = list(engine.SCHEMES)


def test_scheme_tests_defaults():
    res = diagnostics.scheme_tests()
    assert res.permutation_gaps["none"] < 1e-12
    assert all(res.permutation_gaps[n] > 1e-3 for n in ALL if n != "none")
    assert all(res.shift_gaps[n] < 1e-9 for n in ("none", "t5", "rope", "alibi"))
    assert all(res.shift_gaps[n] > 1e-3 for n in ("sinusoidal", "learned"))
    assert [v.ok for v in res.verdicts] == [True, True]


def test_scheme_tests_causal_and_no_shift():
    res = diagnostics.scheme_tests(causal=True, delta=0)
    assert len(res.verdicts) == 1 and res.verdicts[0].ok and "causal mask" in res.verdicts[0].claim


def test_learned_table_runs_out_of_rows():
    res = diagnostics.scheme_tests(8, 121, train_len=128)
    assert res.shift_gaps["learned"] is None and res.shift_gaps["sinusoidal"] > 1e-3
    assert res.verdicts[1].ok and "no row" in res.verdicts[1].detail
    assert diagnostics.scheme_tests(8, 120, train_len=128).shift_gaps["learned"] is not None


def test_a_reversal_is_invisible_to_symmetric_alibi():
    res = diagnostics.scheme_tests(3, 10, seed=5)
    assert res.perm.tolist() == [2, 1, 0]
    assert res.permutation_gaps["alibi"] < 1e-12 and res.permutation_gaps["t5"] > 1e-3
    assert not res.verdicts[0].ok and "ALiBi did not notice" in res.verdicts[0].claim


def _patched(monkeypatch, name, **changes):
    real = engine.scheme_set

    def scheme_set(*args, **kw):
        out = dict(real(*args, **kw))
        out[name] = replace(out[name], **changes)
        return out

    monkeypatch.setattr(engine, "scheme_set", scheme_set)


def test_shift_verdict_turns_red_when_t5_reads_absolute_ids(monkeypatch):
    t5 = engine.SCHEMES["t5"].bias
    _patched(monkeypatch, "t5", bias=lambda qp, kp, h: t5(qp, kp, h) + 0.01 * qp[None, :, None].float())
    res = diagnostics.scheme_tests()
    assert not res.verdicts[1].ok and "relative scheme's scores changed" in res.verdicts[1].claim


def test_permutation_verdict_turns_red_when_position_leaks_into_none(monkeypatch):
    _patched(monkeypatch, "none", embed=engine.SCHEMES["sinusoidal"].embed)
    res = diagnostics.scheme_tests()
    assert not res.verdicts[0].ok and "leaked" in res.verdicts[0].claim


# --------------------------------------------------------------------------- attention profiles


def ref_alibi_mean_distance(slope, i):
    w = [math.exp(-slope * d) for d in range(i + 1)]
    return sum(d * x for d, x in enumerate(w)) / sum(w)


def test_profile_defaults_and_closed_forms():
    res = diagnostics.attention_profile(64, "same", "linear", 4.0)
    assert [v.ok for v in res.verdicts] == [True, True, True, True]
    n = 64
    np.testing.assert_allclose(res.entropy["none"].numpy(), np.log(np.arange(1, n + 1)), atol=1e-5)
    np.testing.assert_allclose(res.mean_distance["none"].numpy(), np.arange(n) / 2, atol=1e-4)
    slopes = [2 ** -2, 2 ** -4, 2 ** -6, 2 ** -8]  # 4 heads
    want = np.mean([[ref_alibi_mean_distance(m, i) for i in range(n)] for m in slopes], axis=0)
    np.testing.assert_allclose(res.mean_distance["alibi"].numpy(), want, atol=1e-3)
    for name, h in res.histogram.items():  # every query sees a key, so each histogram sums to one
        assert float(h.sum()) == pytest.approx(1.0, abs=1e-5), name
    assert float(res.entropy["rope_scaled"].mean()) > float(res.entropy["rope"].mean())


def test_profile_learned_table_stops_at_its_rows():
    res = diagnostics.attention_profile(128, "same", "default", train_len=64)
    assert "learned" in res.missing and "learned" not in res.entropy and "rope_scaled" not in res.entropy
    assert len(res.verdicts) == 3


def test_yarn_temperature_can_overcome_the_spread():
    res = diagnostics.attention_profile(128, "random", "yarn", 4.0)
    assert len(res.verdicts) == 2 and not res.verdicts[-1].ok  # red on purpose: the temperature sharpens


def test_alibi_verdict_turns_red_when_the_bias_is_halved(monkeypatch):
    real = engine._alibi_bias
    monkeypatch.setattr(engine, "_alibi_bias", lambda qp, kp, h: 0.5 * real(qp, kp, h))
    res = diagnostics.attention_profile(64, "same", "linear")
    assert not res.verdicts[2].ok and "departs" in res.verdicts[2].claim


def test_bound_verdict_turns_red_without_the_causal_mask(monkeypatch):
    real = engine.forward
    monkeypatch.setattr(engine, "forward", lambda *a, **kw: real(*a, **{**kw, "causal": False}))
    res = diagnostics.attention_profile(32, "same", "linear")
    assert not res.verdicts[0].ok and not res.verdicts[1].ok


# --------------------------------------------------------------------------- choosing a scheme


@pytest.mark.parametrize("L", [32, 64, 128])
def test_compare_schemes_measures_what_the_lesson_says(L):
    tab = diagnostics.compare_schemes(L, 32, 4)
    rows = {r.name: r for r in tab.rows}
    assert [r.name for r in tab.rows] == ALL
    assert rows["learned"].parameters == L * 32 and rows["t5"].parameters == 32 * 4
    assert {n: rows[n].shift_invariant for n in ALL} == {
        "none": True, "sinusoidal": False, "learned": False, "t5": True, "rope": True, "alibi": True}
    assert not rows["none"].permutation_sensitive and all(rows[n].permutation_sensitive for n in ALL[1:])
    assert rows["learned"].row_past_train == "has no row" and rows["sinusoidal"].row_past_train == "adds a new row"
    # new position signals at 2L, counted by hand over the L(2L + 1) causal pairs
    total = L * (2 * L + 1)
    far = L * (L + 1) / 2  # pairs with offset i − j >= L
    assert rows["rope"].new_past_train == pytest.approx(far / total)
    assert rows["alibi"].new_past_train == pytest.approx(far / total)
    assert rows["sinusoidal"].new_past_train == pytest.approx((total - L * (L + 1) / 2) / total)
    assert rows["none"].new_past_train == 0.0 and rows["learned"].new_past_train is None
    # T5: nothing new once offsets 91..127 have reached the last bucket (L = 128)
    assert rows["t5"].new_past_train == (0.0 if L >= 128 else pytest.approx(far / total))
    assert set(rows["sinusoidal"].bugs_seen) == {"frozen", "restart", "arange", "cache"}
    assert set(rows["rope"].bugs_seen) == {"frozen", "restart", "cache"} and rows["none"].bugs_seen == ()
    assert [v.ok for v in tab.verdicts] == [True, True]


def test_table_verdict_turns_red_when_a_kind_is_mislabelled(monkeypatch):
    _patched(monkeypatch, "sinusoidal", kind="relative")
    assert not diagnostics.compare_schemes(32).verdicts[0].ok


def test_bad_input():
    with pytest.raises(ValueError, match="n_tokens"):
        diagnostics.scheme_tests(1)
    with pytest.raises(ValueError, match="content"):
        diagnostics.attention_profile(content="words")
    with pytest.raises(ValueError, match="train_len"):
        diagnostics.compare_schemes(8)
    with pytest.raises(ValueError, match="n_heads"):
        diagnostics.compare_schemes(32, 32, 0)
    assert torch.equal(diagnostics.scheme_tests(4, 3).perm, diagnostics.permutation(4, 0))
