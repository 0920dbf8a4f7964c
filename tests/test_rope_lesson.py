"""The experiments of page §6 (posviz.rope, "page §6" section): results, verdicts, and that each verdict can fail."""

from __future__ import annotations

import cmath
import math

import numpy as np
import pytest
import torch

from posviz import rope

LAYOUTS = ("half", "interleaved")


def _broken_rotation(monkeypatch):
    """Swap in the lost-minus-sign rotation wherever the experiments call apply_rope."""
    monkeypatch.setattr(rope, "apply_rope", rope.apply_rope_missing_sign)


# --------------------------------------------------------------------------- one pair, rotated


def test_rotation_trail_is_complex_multiplication():
    rot = rope.rotate_pair_demo(30, 1.5, 9, 3, 10000.0, dim=64)
    theta = 10000.0 ** (-6 / 64)
    assert rot.theta == pytest.approx(theta, rel=1e-6)
    z0 = 1.5 * cmath.exp(1j * math.radians(30))
    expect = np.array([[(z0 * cmath.exp(1j * p * theta)).real, (z0 * cmath.exp(1j * p * theta)).imag]
                       for p in range(10)])
    np.testing.assert_allclose(rot.trail.numpy(), expect, atol=1e-6)
    assert rot.position == 9
    assert rot.wavelength == pytest.approx(2 * math.pi / theta, rel=1e-6)
    assert rot.turns == pytest.approx(9 * theta / (2 * math.pi), rel=1e-6)
    assert rot.verdict.ok and "apply_rope" in rot.verdict.claim


def test_pair_zero_turns_one_radian_for_every_base():
    for base in (10000.0, 500000.0):
        rot = rope.rotate_pair_demo(0, 1.0, 6, 0, base)
        assert rot.theta == 1.0
        assert rot.verdict.ok


def test_rotation_verdict_turns_red_when_apply_rope_is_wrong(monkeypatch):
    _broken_rotation(monkeypatch)
    v = rope.rotate_pair_demo(30, 1.0, 6, 0).verdict
    assert not v.ok and "does not move this arrow" in v.claim


def test_rotation_verdict_turns_red_when_the_length_changes():
    rot = rope.rotate_pair_demo(30, 1.0, 6, 0)
    stretched = rope.PairRotation(**{**rot.__dict__, "norm_gap": 0.1})
    assert not stretched.verdict.ok and "length changed" in stretched.verdict.claim


# --------------------------------------------------------------------------- relative property


@pytest.mark.parametrize("layout", LAYOUTS)
def test_relative_check_scores_match_relative_dot(layout):
    check = rope.relative_check(16, 4, 12, layout)
    q, k = rope.seeded_normal(4, 2, 16)
    m, n = torch.meshgrid(torch.arange(12), torch.arange(12), indexing="ij")
    freq = rope.inv_freq(16)
    torch.testing.assert_close(check.rotated, rope.relative_dot(q, k, m, n, freq, layout), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(check.added, rope.added_dot(q, k, m, n, freq), atol=1e-5, rtol=1e-5)
    assert torch.equal(check.offsets, m - n) and torch.equal(check.query_pos, m)
    assert check.rotation_verdict.ok
    assert not check.adding_verdict.ok and "where the pair sits" in check.adding_verdict.claim


def test_added_dot_on_a_broadcast_grid_equals_the_full_grid():
    q, k = rope.seeded_normal(1, 2, 32)
    freq, pos = rope.inv_freq(32), torch.arange(20)
    m, n = torch.meshgrid(pos, pos, indexing="ij")
    torch.testing.assert_close(rope.added_dot(q, k, pos[:, None], pos[None, :], freq),
                               rope.added_dot(q, k, m, n, freq), atol=1e-5, rtol=1e-6)


def test_relative_verdict_turns_red_when_the_rotation_is_wrong(monkeypatch):
    _broken_rotation(monkeypatch)  # [[cos, sin], [sin, cos]]^T [[cos, sin], [sin, cos]] depends on m + n
    v = rope.relative_check(16, 0, 32, "half").rotation_verdict
    assert not v.ok and "different scores" in v.claim


def test_adding_verdict_is_green_only_when_the_spread_is_rounding():
    check = rope.relative_check(16, 0, 8)
    flat = rope.RelativeCheck(**{**check.__dict__, "added_spread": 1e-7})
    assert flat.adding_verdict.ok


# --------------------------------------------------------------------------- wavelengths


def _never_turn_reference(dim: int, base: float, context: int) -> int:
    """Pair i never completes a turn within L when 2*pi*base^(2i/d) > L (float64)."""
    lam = [2 * math.pi * base ** (2 * i / dim) for i in range(dim // 2)]
    assert all(abs(w / context - 1) > 1e-4 for w in lam), "case sits on an edge: pick another"
    return sum(w > context for w in lam)


@pytest.mark.parametrize("dim", [32, 64, 128, 256])
@pytest.mark.parametrize("base", [10000.0, 100000.0, 500000.0, 1000000.0])
@pytest.mark.parametrize("context", [512, 4096, 131072])
def test_never_turn_count_matches_float64(dim, base, context):
    assert rope.wavelength_ladder(dim, base, context).never_turn == _never_turn_reference(dim, base, context)


def test_wavelength_numbers_the_lesson_quotes():
    llama2 = rope.wavelength_ladder(128, 10000.0, 4096)
    assert llama2.never_turn == 18
    assert llama2.fastest == pytest.approx(2 * math.pi, rel=1e-6)
    assert llama2.slowest == pytest.approx(54410, rel=1e-4)  # "about 54,400"
    assert llama2.slowest_turns == pytest.approx(0.0753, abs=5e-4)  # "7.5 % of a circle"
    assert rope.wavelength_ladder(128, 500000.0, 8192).never_turn == 29
    assert rope.wavelength_ladder(128, 1000000.0, 32768).never_turn == 24
    assert rope.wavelength_ladder(128, 10000.0, 32768).never_turn == 4
    assert rope.wavelength_ladder(128, 1000000.0, 32768).slowest == pytest.approx(5.06e6, rel=2e-3)


def test_wavelength_ladder_keeps_every_base_once():
    ladder = rope.wavelength_ladder(64, 20000.0, 4096, compare=(10000.0, 20000.0, 1e6))
    assert list(ladder.curves) == [10000.0, 20000.0, 1e6]
    torch.testing.assert_close(ladder.wavelengths, rope.wavelengths(rope.inv_freq(64, 20000.0)))


# --------------------------------------------------------------------------- norms


@pytest.mark.parametrize("layout", LAYOUTS)
def test_norm_check_correct_is_green_and_flat(layout):
    check = rope.norm_check(64, 131072, layout, "correct")
    assert check.verdict.ok
    torch.testing.assert_close(check.ratios, torch.ones_like(check.ratios), atol=1e-5, rtol=0)
    assert check.positions[0] == 0 and check.positions[-1] == 131072
    assert bool((check.positions.diff() > 0).all())
    assert check.ratios.shape == (8, len(check.positions))
    assert layout in check.title and "d = 64" in check.title


@pytest.mark.parametrize("layout", LAYOUTS)
def test_norm_check_catches_the_lost_minus_sign(layout):
    v = rope.norm_check(64, 512, layout, "missing_sign").verdict
    assert not v.ok and "not a rotation" in v.claim


# --------------------------------------------------------------------------- layouts


def test_pairings_side_by_side():
    table = rope.pairings(6)
    assert [p.tolist() for p in table.pairs.values()] == [[[0, 3], [1, 4], [2, 5]], [[0, 1], [2, 3], [4, 5]]]
    assert list(table.pairs) == [rope.LAYOUT_LABELS["half"], rope.LAYOUT_LABELS["interleaved"]]
    torch.testing.assert_close(table.inv_freq, rope.inv_freq(6))


@pytest.mark.parametrize("made_for", LAYOUTS)
def test_designed_scores_are_the_rotated_dot_products(made_for):
    """The closed form sum_i ||k_i||^2 cos((m - n - t) theta_i) is what apply_rope gives, in float64."""
    mis = rope.layout_mismatch(32, made_for, "as_made", 5, n_positions=10, seed=3)
    freq = rope.inv_freq(32)
    k = rope.seeded_normal(3, 32).double()
    q = rope.apply_rope(k, -5, freq, made_for)
    m, n = torch.meshgrid(torch.arange(10), torch.arange(10), indexing="ij")
    ref = rope.relative_dot(q, k, m, n, freq, made_for)
    torch.testing.assert_close(mis.designed.double(), ref, atol=1e-5, rtol=1e-6)


@pytest.mark.parametrize("made_for", LAYOUTS)
@pytest.mark.parametrize("run", ["as_made", "permuted"])
def test_as_made_and_permuted_reproduce_the_design(made_for, run):
    mis = rope.layout_mismatch(64, made_for, run, 3)
    assert mis.offset_verdict.ok and mis.match_verdict.ok
    assert mis.strongest == 3
    torch.testing.assert_close(mis.attn_run, mis.attn_designed, atol=1e-5, rtol=0)


@pytest.mark.parametrize("made_for", LAYOUTS)
def test_other_pairing_is_relative_but_wrong(made_for):
    mis = rope.layout_mismatch(64, made_for, "other", 3)
    assert mis.offset_verdict.ok
    assert not mis.match_verdict.ok and mis.diff > 1.0
    assert "no longer looks 3 back" in mis.match_verdict.claim


def test_designed_head_looks_at_its_target():
    for t in range(17):
        assert rope.layout_mismatch(64, "interleaved", "as_made", t).strongest == t


def test_other_pairing_may_keep_the_peak_and_says_so():
    v = rope.layout_mismatch(64, "half", "other", 0).match_verdict
    assert not v.ok and "still 0 back" in v.claim


def test_layout_verdicts_turn_red_when_the_rotation_is_wrong(monkeypatch):
    _broken_rotation(monkeypatch)
    mis = rope.layout_mismatch(64, "interleaved", "as_made", 3)
    assert not mis.offset_verdict.ok and not mis.match_verdict.ok


# --------------------------------------------------------------------------- long-term decay


@pytest.mark.parametrize("vectors,decays", [("ones", True), ("same", True), ("indep", False)])
def test_decay_verdict_at_the_lesson_defaults(vectors, decays):
    curve = rope.decay_curve(128, 10000.0, 256, vectors)
    assert curve.decay_verdict.ok == decays
    torch.testing.assert_close(curve.bound, rope.decay_bound(128, 10000.0, 256))
    assert curve.bound_rel[0] == 1 and curve.actual_rel[0] == 1


@pytest.mark.parametrize("vectors", ["same", "indep"])
def test_decay_scores_are_rotated_dot_products(vectors):
    """mean |q.k| at distance r equals the mean of |relative_dot(q, k, r, 0)| over the draws (apply_rope path)."""
    curve = rope.decay_curve(16, 10000.0, 40, vectors, seed=2)
    if vectors == "same":
        q = k = rope.seeded_normal(2, rope.DECAY_DRAWS, 16)
    else:
        q, k = rope.seeded_normal(2, 2, rope.DECAY_DRAWS, 16)
    freq, r = rope.inv_freq(16), torch.arange(41)
    ref = torch.stack([rope.relative_dot(q[j], k[j], r, 0, freq).abs() for j in range(rope.DECAY_DRAWS)]).mean(0)
    torch.testing.assert_close(curve.mean_abs, ref, atol=1e-4, rtol=1e-5)


def test_all_ones_score_at_distance_zero_is_dim():
    assert float(rope.decay_curve(64, 10000.0, 32, "ones").mean_abs[0]) == pytest.approx(64.0)


@pytest.mark.parametrize("seed", range(5))
def test_measured_scores_never_exceed_roformer_bound(seed):
    """RoFormer §3.4.3: |sum_i h_i e^{i r theta_i}| <= max_i |h_{i+1} - h_i| * sum_j |S_j| (h_{d/2} = 0)."""
    dim, max_d = 32, 300
    q, k = rope.seeded_normal(seed, 2, dim)
    score = rope.scores_by_distance(q, k, torch.arange(max_d + 1), rope.inv_freq(dim)).double().abs()  # [R+1]
    pairs = rope.pair_indices(dim, "half")
    h = np.append(q[pairs[:, 0]].double().numpy() + 1j * q[pairs[:, 1]].double().numpy(), 0)
    h[:-1] *= np.conj(k[pairs[:, 0]].double().numpy() + 1j * k[pairs[:, 1]].double().numpy())
    step = np.abs(np.diff(h)).max()
    bound = step * rope.decay_bound(dim, 10000.0, max_d).double().numpy() * (dim // 2)
    assert (score.numpy() <= bound * (1 + 1e-5)).all()


def test_decay_verdict_red_for_flat_scores():
    curve = rope.decay_curve(64, 10000.0, 64, "ones")
    flat = rope.DecayCurve(**{**curve.__dict__, "mean_abs": torch.full_like(curve.mean_abs, 3.0)})
    assert not flat.decay_verdict.ok and "No decay" in flat.decay_verdict.claim


# --------------------------------------------------------------------------- input checks


@pytest.mark.parametrize("call,match", [
    (lambda: rope.rotate_pair_demo(0, 1.0, 3, 32, dim=64), "pair"),
    (lambda: rope.rotate_pair_demo(0, 0.0, 3, 0), "length"),
    (lambda: rope.rotate_pair_demo(0, 1.0, -1, 0), "position"),
    (lambda: rope.rotate_pair_demo(float("nan"), 1.0, 3, 0), "angle_deg"),
    (lambda: rope.rotate_pair_demo(0, 1.0, 3, 0, base=1.0), "base"),
    (lambda: rope.relative_check(15, 0, 8), "dim"),
    (lambda: rope.relative_check(16, -1, 8), "seed"),
    (lambda: rope.relative_check(16, 0, 0), "n_positions"),
    (lambda: rope.relative_check(16, 0, 8, "zigzag"), "layout"),
    (lambda: rope.wavelength_ladder(64, 10000.0, 0), "context"),
    (lambda: rope.wavelength_ladder(64, 0.5, 512), "base"),
    (lambda: rope.norm_check(64, 512, "half", "sloppy"), "impl"),
    (lambda: rope.norm_check(64, 0), "max_position"),
    (lambda: rope.layout_mismatch(64, "half", "sideways", 3), "run"),
    (lambda: rope.layout_mismatch(64, "diagonal", "as_made", 3), "made_for"),
    (lambda: rope.layout_mismatch(64, "half", "as_made", 32), "target"),
    (lambda: rope.decay_curve(64, 10000.0, 0), "max_distance"),
    (lambda: rope.decay_curve(64, 10000.0, 64, "orthogonal"), "vectors"),
])
def test_invalid_arguments_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
