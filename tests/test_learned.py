"""§4 experiments on learned tables (posviz.learned): values by a second route, and verdicts that turn red
when the implementation behind them is wrong.

Tests that need the real trained table skip when its package is missing, unless POSVIZ_REQUIRE_MODELS=1.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from posviz import absolute, learned, models

SETTINGS = settings(deadline=None, max_examples=40)


@pytest.fixture(scope="module")
def trained() -> torch.Tensor:
    try:
        return learned.trained_table("cpu")
    except FileNotFoundError as e:
        if os.environ.get("POSVIZ_REQUIRE_MODELS") == "1":
            raise
        pytest.skip(f"MiniLM package not installed: {e}")


def ring_table(n: int = 96, d: int = 32, period: float = 6.0, seed: int = 0) -> torch.Tensor:
    """A table whose dominant pair turns 360/period degrees per row (what training found), plus small noise."""
    g = torch.Generator().manual_seed(seed)
    p = torch.arange(n, dtype=torch.float64)
    t = 0.02 * torch.randn(n, d, generator=g, dtype=torch.float64)
    t[:, 0] += torch.cos(2 * math.pi * p / period)
    t[:, 1] += torch.sin(2 * math.pi * p / period)
    return t.float()


# -- 1. cost --------------------------------------------------------------------------

def test_table_cost_numbers(trained):
    cost = learned.table_cost(4096, 4096)
    assert cost.params == 16_777_216
    assert cost.mib("fp32") == 64.0 and cost.mib("bf16") == 32.0  # the lesson's worked reading
    assert cost.config_shape == (512, 384) == tuple(trained.shape)
    assert cost.trained_params == 196_608
    assert cost.ratio == pytest.approx(16_777_216 / 196_608)
    assert [c for _, c in cost.bars] == [16_777_216, 393_216, 786_432, 196_608]
    assert cost.bars[0][0] == "your table<br>4,096 × 4,096"
    with pytest.raises(ValueError, match="precision"):
        cost.mib("fp8")


def test_table_cost_verdict_reads_the_file(trained):
    v = learned.table_cost(512, 768).verdict
    assert v.ok and "786,432 bytes of F32" in v.detail and "196,608 numbers" in v.detail


def test_table_cost_verdict_turns_red_on_a_wrong_formula(trained, monkeypatch):
    monkeypatch.setattr(absolute, "table_parameters", lambda n, d: n + d)  # "one number per row and column"
    assert not learned.table_cost(512, 768).verdict.ok


def test_table_cost_verdict_turns_red_when_the_file_disagrees(trained):
    cost = learned.table_cost(8, 8)
    s = cost.stored
    assert not learned.TableCost(8, 8, cost.tables, cost.config_shape, s._replace(nbytes=s.nbytes // 2)).verdict.ok
    assert not learned.TableCost(8, 8, cost.tables, cost.config_shape, s._replace(itemsize=2)).verdict.ok


@pytest.mark.parametrize("kwargs, name", [({"positions": 0, "width": 4}, "positions"),
                                          ({"positions": 4, "width": 0}, "width"),
                                          ({"positions": 2.5, "width": 4}, "positions")])
def test_table_cost_rejects_bad_sizes(kwargs, name):
    with pytest.raises(ValueError, match=name):
        learned.table_cost(**kwargs)


# -- 2. rows, the hard end --------------------------------------------------------------

def test_row_profile_values_by_hand():
    t = absolute.learned_table(40, 8, seed=3)
    prof = learned.row_profile(t)
    np.testing.assert_allclose(prof.norms.numpy(), np.linalg.norm(t.numpy(), axis=1), rtol=1e-6)
    a, b = t.double().numpy()[:-1], t.double().numpy()[1:]
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    np.testing.assert_allclose(prof.neighbour.numpy(), cos, atol=1e-6)
    assert prof.seam == 38  # a table shorter than 128 rows puts the seam before its last two rows
    row = prof.row(5)
    assert row.norm == pytest.approx(float(t[5].norm()), rel=1e-6)
    assert row.cos_prev == pytest.approx(cos[4], abs=1e-6) and row.cos_next == pytest.approx(cos[5], abs=1e-6)
    assert prof.row(0).cos_prev is None and prof.row(39).cos_next is None


@pytest.mark.parametrize("p", [40, 41, 1000, -1])
def test_row_past_the_table_is_refused(p):
    with pytest.raises(ValueError, match=r"\[0, 39\]"):
        learned.row_profile(absolute.learned_table(40, 8)).row(p)


def test_row_profile_verdict_on_the_trained_table(trained):
    prof = learned.row_profile()
    assert prof.verdict.ok, prof.verdict
    assert prof.mean_norm(prof.early) < prof.mean_norm(prof.late)  # the seam at 128 the lesson describes
    assert float(prof.norms[0]) > 4 * prof.typical_norm  # the [CLS] row


def test_row_profile_verdict_red_for_a_random_table():
    v = learned.row_profile(absolute.learned_table(512, 64, seed=5)).verdict  # no neighbour structure
    assert not v.ok and "do not separate" in v.claim


def test_row_profile_verdict_red_when_the_random_table_has_the_wrong_spread(trained, monkeypatch):
    monkeypatch.setattr(learned, "random_like", lambda t, seed=0: absolute.learned_table(*t.shape, std=0.02))
    assert not learned.row_profile().verdict.ok  # GPT-2's 0.02 instead of the table's own 0.0247


# -- 3. resizing ------------------------------------------------------------------------------

@SETTINGS
@given(n=st.integers(2, 40), m=st.integers(2, 90))
def test_resize_report_counts_copies_like_the_gcd_formula(n, m):
    rep = learned.resize_report(m, 16, absolute.learned_table(n, 4, seed=n))
    assert rep.on_grid == math.gcd(n - 1, m - 1) + 1
    assert rep.ends_verdict.ok and rep.grid_verdict.ok
    assert rep.step == pytest.approx((n - 1) / (m - 1))


def test_resize_report_heatmaps_and_neighbours():
    t = absolute.learned_table(64, 8, seed=1)
    rep = learned.resize_report(127, 16, t)
    assert rep.before.shape == (16, 16) and rep.after.shape[0] <= 16
    assert rep.on_grid == 64  # 63 | 126: every other new row is an old row
    assert rep.neighbour_after > rep.neighbour_before  # neighbours half a step apart look more alike


def test_resize_verdicts_turn_red_for_a_ratio_stretch(monkeypatch):
    def by_ratio(table, new_len):  # new row t reads old position t·n/m: the last row reads past n − 1
        n = table.shape[0]
        src = torch.arange(new_len, dtype=torch.float64) * n / new_len
        lo = src.floor().long().clamp(max=n - 2)
        w = (src - lo).float()[:, None]
        return table[lo] * (1 - w) + table[lo + 1] * w

    monkeypatch.setattr(absolute, "resize", by_ratio)
    rep = learned.resize_report(1024, 16, absolute.learned_table(512, 8, seed=2))
    assert not rep.ends_verdict.ok and not rep.grid_verdict.ok


def test_grid_verdict_turns_red_without_align_corners(monkeypatch):
    def half_pixel(table, new_len):  # align_corners=False keeps the ends (clamped) but shifts every other row
        x = table.T[None]  # [1, d, n]
        return torch.nn.functional.interpolate(x, size=new_len, mode="linear", align_corners=False)[0].T

    monkeypatch.setattr(absolute, "resize", half_pixel)
    rep = learned.resize_report(1023, 16, absolute.learned_table(512, 8, seed=2))
    assert rep.on_grid == 512 and not rep.grid_verdict.ok


def test_resize_report_rejects_bad_length():
    with pytest.raises(ValueError, match="new_len"):
        learned.resize_report(1, 16, absolute.learned_table(8, 4))


# -- 4. trained vs random ---------------------------------------------------------------------------

def test_ring_turns_steadily_random_does_not():
    res = learned.trained_vs_random(96, table=ring_table())
    assert res.verdict.ok, res.verdict
    assert abs(res.trained.turn) == pytest.approx(60.0, abs=1.0) and res.lap == pytest.approx(6.0, abs=0.1)
    assert res.trained.share > 0.9 and res.cos_trained.shape == (96, 96)


def test_turn_verdict_red_for_a_random_table():
    res = learned.trained_vs_random(96, table=absolute.learned_table(96, 32, seed=4))
    assert not res.verdict.ok


def test_trained_vs_random_on_the_trained_table(trained):
    res = learned.trained_vs_random(512)
    assert res.verdict.ok and 5 < res.lap < 7  # about six positions per lap, as the lesson says
    assert learned.trained_vs_random(512, True).start == 1
    assert learned.trained_vs_random(512, True).trained.xy.shape == (511, 2)


@pytest.mark.parametrize("n_first", [2, 97])
def test_trained_vs_random_rejects_bad_row_counts(n_first):
    with pytest.raises(ValueError, match="n_first"):
        learned.trained_vs_random(n_first, table=ring_table())


# -- 5. failure modes --------------------------------------------------------------------------------

def test_shift_profiles_match_shift_similarity():
    t = absolute.learned_table(64, 16, seed=6)
    prof = learned.shift_profiles(10, t)
    assert prof.deltas.tolist() == list(range(11))
    np.testing.assert_allclose(prof.curves["this table"].numpy(), absolute.shift_similarity(t, 10).numpy())
    assert prof.verdict.ok, prof.verdict
    assert prof.first_below("random, same shape and std") == 1
    sin = prof.curves["sinusoidal (d = 16, interleaved)"]
    assert prof.first_below("sinusoidal (d = 16, interleaved)") == int(np.flatnonzero(sin.numpy() < 0.5)[0])
    assert prof.first_below("sinusoidal (d = 16, interleaved)", level=-2) is None


def test_shift_verdict_turns_red_for_a_sinusoid_off_the_closed_form(monkeypatch):
    real = absolute.sinusoidal

    def fairseq_like(n, d, *a, **kw):  # d/2 − 1 in the exponent: still shift-invariant, other frequencies
        return real(n, d + 2, **kw)[:, : d]

    monkeypatch.setattr(absolute, "sinusoidal", fairseq_like)
    prof = learned.shift_profiles(20, absolute.learned_table(64, 16))
    assert not prof.verdict.ok


def test_shift_verdict_turns_red_when_cosines_depend_on_p(monkeypatch):
    real = absolute.sinusoidal
    monkeypatch.setattr(absolute, "sinusoidal", lambda n, d, *a, **kw: real(n, d, **kw) * (1 + torch.arange(n)[:, None]
                                                                                             * torch.linspace(0, 1, d)))
    assert not learned.shift_profiles(20, absolute.learned_table(64, 16)).verdict.ok


def test_unchecked_lookup_counts():
    t = absolute.learned_table(8, 4)
    clamp = learned.lookup_demo(12, "clamp", t).unchecked
    assert clamp.used.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 7, 7, 7, 7] and clamp.distinct == 8
    assert not clamp.verdict.ok and "5 tokens share a row (up to 5 on one row)" in clamp.verdict.detail
    wrap = learned.lookup_demo(12, "wrap", t).unchecked
    assert wrap.used.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3] and "8 tokens share" in wrap.verdict.detail
    assert learned.lookup_demo(8, "wrap", t).unchecked.verdict.ok


def test_checked_lookup_refuses_exactly_past_the_end():
    t = absolute.learned_table(8, 4)
    inside, past = learned.lookup_demo(8, "clamp", t).checked, learned.lookup_demo(9, "clamp", t).checked
    assert inside.refusal is None and inside.rows_match and inside.verdict.ok
    assert past.refusal is not None and "[0, 7]" in past.refusal and past.verdict.ok
    assert "stops instead of guessing" in past.verdict.claim


def test_checked_verdict_turns_red_for_a_lookup_that_clamps(monkeypatch):
    monkeypatch.setattr(absolute, "lookup",
                        lambda table, ids: table[torch.as_tensor(ids).clamp(max=table.shape[0] - 1)])
    v = learned.lookup_demo(9, "clamp", absolute.learned_table(8, 4)).checked.verdict
    assert not v.ok and "rows it does not have" in v.claim


def test_checked_verdict_turns_red_for_a_lookup_that_refuses_too_early(monkeypatch):
    def off_by_one(table, ids):
        if int(torch.as_tensor(ids).max()) >= table.shape[0] - 1:
            raise ValueError(f"position_ids must be in [0, {table.shape[0] - 2}]")
        return table[ids]

    monkeypatch.setattr(absolute, "lookup", off_by_one)
    assert not learned.lookup_demo(8, "clamp", absolute.learned_table(8, 4)).checked.verdict.ok


@pytest.mark.parametrize("kwargs, name", [({"seq_len": 0}, "seq_len"), ({"seq_len": 4, "mode": "mirror"}, "mode")])
def test_lookup_demo_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        learned.lookup_demo(table=absolute.learned_table(8, 4), **kwargs)


def test_trained_shape(trained):
    assert learned.trained_shape() == (512, 384) == models.stored_tensor().shape
