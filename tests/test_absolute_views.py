"""The §3 views in posviz.absolute: their numbers against float64 references, and their verdicts.

Each verdict is tested both ways: green on the real implementation, red when the piece it
checks is replaced by a plausible wrong one (monkeypatched), so no box on the page is constant.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from posviz import absolute


def np_(x: torch.Tensor) -> np.ndarray:
    return x.detach().cpu().double().numpy()


def ref_table(n: int, dim: int, base: float = 10000.0) -> np.ndarray:
    """Vaswani et al. (2017) §3.5, interleaved, float64."""
    p = np.arange(n)[:, None]
    w = base ** (-2.0 * np.arange(dim // 2) / dim)
    out = np.empty((n, dim))
    out[:, 0::2], out[:, 1::2] = np.sin(p * w), np.cos(p * w)
    return out


def random_table(n, dim, base=10000.0, layout="interleaved", *, start=0, device=None):
    """A table with no sinusoidal structure, as a learned table would be before training."""
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(3))


# --------------------------------------------------------------------------- ladder

def test_ladder_numbers_and_count():
    lad = absolute.ladder(128, 10000.0, 512)
    ref = 2 * math.pi * 10000.0 ** (2 * np.arange(64) / 128)
    np.testing.assert_allclose(np_(lad.wavelengths), ref, rtol=1e-6)
    assert lad.complete == int((ref <= 512).sum()) == 31
    assert lad.verdict.ok and "geometric ladder" in lad.verdict.claim
    assert "62,832" in lad.verdict.detail  # the limit 2π·base, never reached


def test_ladder_slowest_wavelength_at_d512_is_below_the_limit():
    """The erratum: at d = 512 the slowest pair repeats every 2π·10000^(510/512) ≈ 60,611, not 62,832."""
    lad = absolute.ladder(512, 10000.0, 512)
    assert float(lad.wavelengths[-1]) == pytest.approx(60611.0, abs=1.0)
    assert "60,611" in lad.verdict.detail


def test_ladder_turns_red_with_the_fairseq_exponent(monkeypatch):
    """fairseq/tensor2tensor divide by d/2 − 1: a different ladder, which the verdict must catch."""
    def fairseq_wavelengths(dim, base=10000.0, *, device=None):
        i = torch.arange(dim // 2, dtype=torch.float64)
        return (2 * math.pi * base ** (i / (dim // 2 - 1))).float()
    monkeypatch.setattr(absolute, "wavelengths", fairseq_wavelengths)
    assert not absolute.ladder(128, 10000.0, 512).verdict.ok


# --------------------------------------------------------------------------- pairs

@pytest.mark.parametrize("pair,dim", [(0, 8), (3, 32), (15, 32), (63, 128)])
def test_pair_walk_reads_columns_2i_and_2i_plus_1(pair, dim):
    walk = absolute.pair_walk(pair, dim, 100)
    ref = ref_table(100, dim)
    np.testing.assert_allclose(np_(walk.sin), ref[:, 2 * pair], atol=1e-6)
    np.testing.assert_allclose(np_(walk.cos), ref[:, 2 * pair + 1], atol=1e-6)
    assert walk.omega == pytest.approx(10000.0 ** (-2 * pair / dim), rel=1e-12)
    assert walk.wavelength == pytest.approx(2 * math.pi / walk.omega)
    assert walk.degrees == pytest.approx(math.degrees(walk.omega))
    assert walk.verdict.ok


def test_pair_walk_turns_red_when_sin_and_cos_are_swapped(monkeypatch):
    real = absolute.sinusoidal

    def swapped(n, dim, base=10000.0, layout="interleaved", *, start=0, device=None):
        t = real(n, dim, base, layout, start=start, device=device)
        return t.view(n, dim // 2, 2).flip(-1).reshape(n, dim)  # cos in even columns: turns the other way
    monkeypatch.setattr(absolute, "sinusoidal", swapped)
    walk = absolute.pair_walk(0, 8, 20)
    assert walk.radius_gap < 1e-6 and not walk.verdict.ok  # still on the circle, but turning by −ω


def test_pair_walk_rejects_a_pair_the_dim_does_not_have():
    with pytest.raises(ValueError, match=r"pair must be between 0 and 3"):
        absolute.pair_walk(4, 8, 10)


# --------------------------------------------------------------------------- shift matrix

@pytest.mark.parametrize("layout", ["interleaved", "concat"])
def test_shift_check_compares_table_rows(layout):
    chk = absolute.shift_check(10, 5, 16, layout=layout)
    ref = ref_table(16, 16)
    if layout == "concat":
        ref = np.concatenate([ref[:, 0::2], ref[:, 1::2]], axis=1)
    np.testing.assert_allclose(np_(chk.target), ref[15], atol=1e-6)
    np.testing.assert_allclose(np_(chk.predicted), ref[15], atol=1e-5)
    assert chk.starts == 256 and chk.verdict.ok and chk.gap_all < 1e-5


def test_shift_check_covers_the_chosen_start_beyond_the_default_range():
    assert absolute.shift_check(500, 100, 32).starts == 501


def test_shift_check_turns_red_with_a_transposed_rotation(monkeypatch):
    real = absolute.shift_matrix
    monkeypatch.setattr(absolute, "shift_matrix", lambda *a, **kw: real(*a, **kw).T)
    assert not absolute.shift_check(10, 5, 16).verdict.ok


# --------------------------------------------------------------------------- similarity

def test_similarity_dots_and_profile():
    sim = absolute.similarity(40, 16)
    ref = ref_table(40, 16)
    np.testing.assert_allclose(np_(sim.dots), ref @ ref.T, atol=1e-5)
    assert sim.offsets.tolist() == list(range(-39, 40))  # K = n − 1 when n ≤ 64
    w = 10000.0 ** (-2.0 * np.arange(8) / 16)
    np.testing.assert_allclose(np_(sim.profile), np.cos(np.arange(-39, 40)[:, None] * w).sum(-1), atol=1e-5)
    assert sim.verdict.ok
    assert absolute.similarity(200, 16).offsets.tolist() == list(range(-64, 65))


def test_similarity_turns_red_for_a_table_without_sinusoids(monkeypatch):
    monkeypatch.setattr(absolute, "sinusoidal", random_table)
    assert not absolute.similarity(40, 16).verdict.ok


# --------------------------------------------------------------------------- aliasing

def test_aliasing_green_at_defaults_red_for_a_small_base_and_dim():
    ok = absolute.aliasing(512, 16, 10000.0, 8)
    assert ok.verdict.ok
    bad = absolute.aliasing(512, 4, 10.0, 8)
    p, q, d = bad.closest
    assert not bad.verdict.ok and f"positions {p} and {q}" in bad.verdict.claim
    ref = ref_table(512, 4, 10.0)
    assert abs(p - q) >= 8 and d == pytest.approx(np.linalg.norm(ref[p] - ref[q]), abs=1e-5)
    assert d < absolute.ALIAS_DISTANCE


def test_aliasing_turns_red_when_the_gap_is_ignored(monkeypatch):
    """A nearest-row search that lets a row match itself finds distance 0 everywhere."""
    monkeypatch.setattr(absolute, "nearest_other", lambda t, g: (torch.zeros(len(t)), torch.arange(len(t))))
    assert not absolute.aliasing(64, 16, 10000.0, 8).verdict.ok


def test_aliasing_refuses_an_impossible_gap():
    with pytest.raises(ValueError, match="min_gap"):
        absolute.aliasing(16, 16, 10000.0, 9)


# --------------------------------------------------------------------------- limitations

def test_limits_raw_from_table_projected_from_projections():
    lim = absolute.limits(32, 8)
    assert list(lim.raw) == list(lim.projected) == [8, 24, 72]
    ref = ref_table(72 + 9, 32)
    for p, curve in lim.raw.items():
        np.testing.assert_allclose(np_(curve), ref[p + np.arange(-8, 9)] @ ref[p], atol=1e-5)
    assert lim.raw_verdict.ok and lim.projected_verdict.ok


def test_limits_raw_verdict_turns_red_for_a_table_without_sinusoids(monkeypatch):
    monkeypatch.setattr(absolute, "sinusoidal", random_table)
    assert not absolute.limits(32, 8).raw_verdict.ok


def test_limits_projected_verdict_turns_red_without_projections(monkeypatch):
    """Identity projections keep the raw dot product: the curves then agree for every start."""
    def no_projection(dim, base=10000.0, starts=(), max_offset=32, *, seed=0, device=None):
        pe = absolute.sinusoidal(max(starts) + max_offset + 1, dim, base).double()
        k = torch.arange(-max_offset, max_offset + 1)
        return {p: (pe[p + k] @ pe[p]).float() for p in starts}
    monkeypatch.setattr(absolute, "projected_dot_profiles", no_projection)
    assert not absolute.limits(32, 8).projected_verdict.ok
