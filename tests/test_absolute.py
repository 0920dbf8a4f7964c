"""Absolute position signals (posviz.absolute) against independent float64 numpy references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from posviz import absolute

SETTINGS = settings(deadline=None, max_examples=60)
LAYOUTS = ("interleaved", "concat")


# --------------------------------------------------------------------------- independent float64 references


def ref_pe(positions, dim: int, base: float = 10000.0) -> np.ndarray:
    """Vaswani et al. (2017) §3.5, written out element by element in float64.

    PE(p, 2i) = sin(p / base^(2i/d)),  PE(p, 2i+1) = cos(p / base^(2i/d)).
    """
    positions = np.asarray(positions, dtype=np.float64)
    out = np.empty((len(positions), dim), dtype=np.float64)
    for r, p in enumerate(positions):
        for i in range(dim // 2):
            denom = base ** (2.0 * i / dim)
            out[r, 2 * i] = math.sin(p / denom)
            out[r, 2 * i + 1] = math.cos(p / denom)
    return out


def ref_pe_concat(positions, dim: int, base: float = 10000.0) -> np.ndarray:
    """[sin | cos]: even columns of the interleaved table first, then the odd ones."""
    inter = ref_pe(positions, dim, base)
    return np.concatenate([inter[:, 0::2], inter[:, 1::2]], axis=1)


def ref_omega(dim: int, base: float) -> np.ndarray:
    return np.array([1.0 / base ** (2.0 * i / dim) for i in range(dim // 2)])


def np_(x: torch.Tensor) -> np.ndarray:
    return x.detach().cpu().double().numpy()


# --------------------------------------------------------------------------- sinusoidal table


@pytest.mark.parametrize("dim", [2, 8, 64])
def test_row_zero_interleaved_and_concat(dim):
    inter = np_(absolute.sinusoidal(3, dim, layout="interleaved"))[0]
    concat = np_(absolute.sinusoidal(3, dim, layout="concat"))[0]
    np.testing.assert_array_equal(inter, np.tile([0.0, 1.0], dim // 2))
    np.testing.assert_array_equal(concat, np.r_[np.zeros(dim // 2), np.ones(dim // 2)])


@pytest.mark.parametrize("n,dim,base", [(1, 2, 10000.0), (50, 8, 10000.0), (128, 64, 10000.0),
                                        (200, 16, 100.0), (64, 32, 500000.0), (37, 6, 2.5)])
def test_sinusoidal_matches_vaswani_float64(n, dim, base):
    got_i = absolute.sinusoidal(n, dim, base, layout="interleaved")
    got_c = absolute.sinusoidal(n, dim, base, layout="concat")
    assert got_i.shape == (n, dim) and got_c.shape == (n, dim)
    assert got_i.dtype == torch.float32
    np.testing.assert_allclose(np_(got_i), ref_pe(range(n), dim, base), rtol=0, atol=1e-6)
    np.testing.assert_allclose(np_(got_c), ref_pe_concat(range(n), dim, base), rtol=0, atol=1e-6)


def test_sinusoidal_stored_reference_values():
    # PE[1], dim 8, base 10000: ω = 1, 0.1, 0.01, 0.001 (values from a calculator, not from code)
    row = np_(absolute.sinusoidal(2, 8))[1]
    np.testing.assert_allclose(row[:4], [0.8414709848, 0.5403023059, 0.0998334166, 0.9950041653],
                               rtol=0, atol=1e-7)
    np.testing.assert_allclose(row[4:], [0.0099998333, 0.9999500004, 0.0009999998, 0.9999995000],
                               rtol=0, atol=1e-7)
    # the same numbers in concat layout: [sin sin sin sin | cos cos cos cos]
    crow = np_(absolute.sinusoidal(2, 8, layout="concat"))[1]
    np.testing.assert_allclose(crow, [0.8414709848, 0.0998334166, 0.0099998333, 0.0009999998,
                                      0.5403023059, 0.9950041653, 0.9999500004, 0.9999995000],
                               rtol=0, atol=1e-7)


@pytest.mark.parametrize("n,dim,base", [(40, 8, 10000.0), (17, 32, 100.0), (5, 2, 10.0)])
def test_concat_is_column_permutation_of_interleaved(n, dim, base):
    inter = absolute.sinusoidal(n, dim, base, layout="interleaved")
    concat = absolute.sinusoidal(n, dim, base, layout="concat")
    perm = list(range(0, dim, 2)) + list(range(1, dim, 2))  # concat column c reads interleaved perm[c]
    assert torch.equal(concat, inter[:, perm])


@given(start=st.integers(0, 200_000), n=st.integers(1, 20), layout=st.sampled_from(LAYOUTS))
@SETTINGS
def test_start_offset(start, n, layout):
    got = np_(absolute.sinusoidal(n, 16, layout=layout, start=start))
    ref = (ref_pe if layout == "interleaved" else ref_pe_concat)(range(start, start + n), 16)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6)


def test_large_positions_stay_accurate():
    got = np_(absolute.sinusoidal(4, 64, start=100_000))
    np.testing.assert_allclose(got, ref_pe([100_000, 100_001, 100_002, 100_003], 64), rtol=0, atol=1e-6)
    # stored: sin(100000) and cos(100000) (calculator values)
    np.testing.assert_allclose(got[0, :2], [0.0357487979720165, -0.9993608074382124], rtol=0, atol=1e-7)


def test_frequencies_and_wavelengths():
    np.testing.assert_allclose(np_(absolute.frequencies(16, 10000.0)), ref_omega(16, 10000.0), rtol=1e-14)
    np.testing.assert_allclose(np_(absolute.wavelengths(16, 10000.0)), 2 * np.pi / ref_omega(16, 10000.0),
                               rtol=1e-6)
    # the ladder runs from 2π to just under 2π·base
    w = np_(absolute.wavelengths(512, 10000.0))
    assert w[0] == pytest.approx(2 * np.pi, rel=1e-6) and w[-1] < 2 * np.pi * 10000.0
    assert np.all(np.diff(w) > 0)


@pytest.mark.parametrize("kwargs,name", [
    (dict(n_positions=0, dim=8), "n_positions"),
    (dict(n_positions=4, dim=7), "dim"),
    (dict(n_positions=4, dim=0), "dim"),
    (dict(n_positions=4, dim=8, base=1.0), "base"),
    (dict(n_positions=4, dim=8, base=-3.0), "base"),
    (dict(n_positions=4, dim=8, layout="half"), "layout"),
    (dict(n_positions=4, dim=8, start=-1), "start"),
    (dict(n_positions=2.5, dim=8), "n_positions"),
])
def test_sinusoidal_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        absolute.sinusoidal(**kwargs)


# --------------------------------------------------------------------------- shift matrix


@given(p=st.integers(-5000, 5000), k=st.integers(-5000, 5000), layout=st.sampled_from(LAYOUTS),
       dim=st.sampled_from([2, 8, 32]), base=st.sampled_from([10.0, 10000.0]))
@SETTINGS
def test_shift_matrix_moves_pe_by_k(p, k, layout, dim, base):
    ref = ref_pe if layout == "interleaved" else ref_pe_concat
    m = np_(absolute.shift_matrix(k, dim, base, layout=layout))
    pe_p, pe_pk = ref([p], dim, base)[0], ref([p + k], dim, base)[0]
    np.testing.assert_allclose(m @ pe_p, pe_pk, rtol=0, atol=1e-6)


@given(p=st.integers(0, 3000), k=st.integers(0, 3000), layout=st.sampled_from(LAYOUTS))
@SETTINGS
def test_shift_matrix_on_posviz_table(p, k, layout):
    table = absolute.sinusoidal(1, 16, layout=layout, start=p)[0]
    target = absolute.sinusoidal(1, 16, layout=layout, start=p + k)[0]
    got = absolute.shift_matrix(k, 16, layout=layout) @ table
    np.testing.assert_allclose(np_(got), np_(target), rtol=0, atol=1e-5)


@given(k=st.integers(-100_000, 100_000), layout=st.sampled_from(LAYOUTS))
@SETTINGS
def test_shift_matrix_is_orthogonal_and_depends_on_k_only(k, layout):
    m = np_(absolute.shift_matrix(k, 12, layout=layout))
    np.testing.assert_allclose(m @ m.T, np.eye(12), rtol=0, atol=1e-6)
    np.testing.assert_allclose(np.linalg.det(m), 1.0, atol=1e-5)  # a rotation, not a reflection


def test_shift_matrix_zero_is_identity_and_inverse():
    for layout in LAYOUTS:
        assert torch.equal(absolute.shift_matrix(0, 8, layout=layout), torch.eye(8))
        m, minv = np_(absolute.shift_matrix(7, 8, layout=layout)), np_(absolute.shift_matrix(-7, 8, layout=layout))
        np.testing.assert_allclose(m @ minv, np.eye(8), atol=1e-6)
    with pytest.raises(ValueError, match="layout"):
        absolute.shift_matrix(1, 8, layout="half")


# --------------------------------------------------------------------------- dot profile and similarity


@pytest.mark.parametrize("dim,base,K", [(8, 10000.0, 20), (64, 10000.0, 64), (16, 50.0, 100)])
def test_dot_profile_is_sum_of_cosines_and_symmetric(dim, base, K):
    got = np_(absolute.dot_profile(dim, base, max_offset=K))
    k = np.arange(-K, K + 1)
    ref = np.cos(np.outer(k, ref_omega(dim, base))).sum(1)
    assert got.shape == (2 * K + 1,)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5)
    np.testing.assert_allclose(got, got[::-1], rtol=0, atol=1e-6)
    assert got[K] == pytest.approx(dim / 2, abs=1e-5)  # PE[p]·PE[p] = dim/2 for every p
    # and it really is PE[p]·PE[p+k], whatever p is (computed from the Vaswani formula)
    for p in (K, 3 * K, 1000):
        pe = ref_pe(range(p - K, p + K + 1), dim, base)
        np.testing.assert_allclose(pe @ pe[K], ref, rtol=0, atol=1e-9)


def test_cosine_similarity():
    t = torch.from_numpy(np.random.default_rng(0).standard_normal((30, 10))).float()
    got = np_(absolute.cosine_similarity(t))
    a = t.double().numpy()
    ref = (a @ a.T) / np.outer(np.linalg.norm(a, axis=1), np.linalg.norm(a, axis=1))
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6)
    np.testing.assert_allclose(np.diag(got), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.diag(np_(absolute.cosine_similarity(absolute.sinusoidal(50, 16)))), 1.0,
                               atol=1e-6)


def brute_nearest(a: np.ndarray, min_gap: int):
    n = len(a)
    best, arg = np.full(n, np.inf), np.zeros(n, dtype=int)
    for p in range(n):
        for q in range(n):
            if abs(p - q) >= min_gap:
                d = math.sqrt(((a[p] - a[q]) ** 2).sum())
                if d < best[p]:
                    best[p], arg[p] = d, q
    return best, arg


def test_nearest_other_finds_planted_duplicate():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((40, 6))
    a[31] = a[5] + 1e-4 * rng.standard_normal(6)  # a near-duplicate of row 5
    best, arg = absolute.nearest_other(torch.from_numpy(a).float(), min_gap=2)
    assert int(arg[5]) == 31 and int(arg[31]) == 5
    assert float(best[5]) < 1e-3
    ref_best, ref_arg = brute_nearest(a, 2)
    np.testing.assert_array_equal(arg.numpy(), ref_arg)
    np.testing.assert_allclose(np_(best), ref_best, rtol=1e-5, atol=1e-5)


def test_nearest_other_finds_sinusoid_aliasing():
    # dim 2: one pair with ω = 1, period 2π; 44 ≈ 7·2π (44 − 14π ≈ 0.0177), so rows 0 and 44 alias
    table = absolute.sinusoidal(60, 2)
    best, arg = absolute.nearest_other(table, min_gap=10)
    assert int(arg[0]) == 44 and int(arg[44]) == 0
    assert float(best[0]) == pytest.approx(2 * math.sin((44 - 14 * math.pi) / 2), abs=1e-5)
    ref = ref_pe(range(60), 2)
    ref_best, _ = brute_nearest(ref, 10)
    np.testing.assert_allclose(np_(best), ref_best, rtol=0, atol=1e-5)
    # offsets +d and -d are equally far on a circle, so compare the chosen row's distance, not its index
    a = arg.numpy()
    assert np.all(np.abs(a - np.arange(60)) >= 10)
    np.testing.assert_allclose(np.linalg.norm(ref - ref[a], axis=1), ref_best, rtol=0, atol=1e-5)
    # with a healthy dim and base, no two of the first 60 positions come that close
    assert float(absolute.nearest_other(absolute.sinusoidal(60, 64), min_gap=10)[0].min()) > 0.5


def test_nearest_other_min_gap_excludes_neighbours():
    t = torch.arange(10, dtype=torch.float32)[:, None]  # points on a line, spacing 1
    best, arg = absolute.nearest_other(t, min_gap=3)
    np.testing.assert_allclose(best.numpy(), 3.0)
    assert all(abs(int(arg[p]) - p) == 3 for p in range(10))
    with pytest.raises(ValueError, match="min_gap"):
        absolute.nearest_other(t, min_gap=0)


@pytest.mark.parametrize("n,min_gap", [(16, 9), (16, 15), (16, 16), (15, 8), (2, 2), (40, 1000)])
def test_nearest_other_refuses_a_gap_that_leaves_rows_without_partner(n, min_gap):
    """A gap above n // 2 leaves the middle rows with no allowed partner: an error naming min_gap, not inf."""
    with pytest.raises(ValueError, match=rf"min_gap must be between 1 and {n // 2}"):
        absolute.nearest_other(absolute.sinusoidal(n, 8), min_gap=min_gap)


@pytest.mark.parametrize("n", [2, 3, 15, 16, 17])
def test_nearest_other_largest_allowed_gap_gives_every_row_a_partner(n):
    best, arg = absolute.nearest_other(absolute.sinusoidal(n, 8), min_gap=n // 2)
    assert torch.isfinite(best).all()
    assert (torch.arange(n) - arg).abs().min() >= n // 2
    ref_best, _ = brute_nearest(ref_pe(range(n), 8), n // 2)
    np.testing.assert_allclose(np_(best), ref_best, rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="at least 2 rows"):
        absolute.nearest_other(absolute.sinusoidal(1, 8), min_gap=1)


# --------------------------------------------------------------------------- learned tables


def test_table_parameters():
    assert absolute.table_parameters(4096, 4096) == 16_777_216
    assert absolute.table_parameters(512, 768) == 393_216  # BERT-base
    assert absolute.table_parameters(1024, 768) == 786_432  # GPT-2 small
    with pytest.raises(ValueError, match="n_positions"):
        absolute.table_parameters(0, 8)
    with pytest.raises(ValueError, match="dim"):
        absolute.table_parameters(8, -1)


def test_learned_table_seeded_and_scaled():
    a = absolute.learned_table(256, 64, seed=1)
    b = absolute.learned_table(256, 64, seed=1)
    c = absolute.learned_table(256, 64, seed=2)
    assert a.shape == (256, 64) and a.dtype == torch.float32
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert float(a.std()) == pytest.approx(0.02, rel=0.05)
    assert float(a.mean()) == pytest.approx(0.0, abs=0.002)
    with pytest.raises(ValueError, match="std"):
        absolute.learned_table(4, 4, std=0.0)


def test_lookup():
    table = absolute.learned_table(16, 4)
    np.testing.assert_array_equal(absolute.lookup(table, [0, 15, 3]).numpy(), table.numpy()[[0, 15, 3]])
    assert absolute.lookup(table, torch.tensor([[1, 2], [3, 4]])).shape == (2, 2, 4)
    for bad in ([0, 16], [-1], 100):
        with pytest.raises(ValueError, match="position_ids"):
            absolute.lookup(table, bad)


@given(n=st.integers(2, 40), new_len=st.integers(2, 120))
@SETTINGS
def test_resize_is_linear_interpolation(n, new_len):
    rng = np.random.default_rng(n * 1000 + new_len)
    a = rng.standard_normal((n, 3)).astype(np.float32)
    got = absolute.resize(torch.from_numpy(a), new_len)
    assert got.shape == (new_len, 3)
    x_new = np.arange(new_len) * (n - 1) / (new_len - 1)
    ref = np.stack([np.interp(x_new, np.arange(n), a[:, c].astype(np.float64)) for c in range(3)], axis=1)
    np.testing.assert_allclose(np_(got), ref, rtol=0, atol=1e-5)
    # end rows are kept exactly
    assert torch.equal(got[0], torch.from_numpy(a[0])) and torch.equal(got[-1], torch.from_numpy(a[-1]))


@pytest.mark.parametrize("n", [2, 3, 7, 64, 513])
def test_resize_same_length_is_identity(n):
    t = torch.from_numpy(np.random.default_rng(n).standard_normal((n, 5))).float()
    assert torch.equal(absolute.resize(t, n), t)


def test_resize_doubling_puts_midpoints_between():
    t = torch.tensor([[0.0], [2.0], [4.0]])
    np.testing.assert_allclose(absolute.resize(t, 5).numpy().ravel(), [0, 1, 2, 3, 4], atol=1e-6)
    with pytest.raises(ValueError, match="new_len"):
        absolute.resize(t, 1)
    with pytest.raises(ValueError, match="table"):
        absolute.resize(t[:1], 4)


# --------------------------------------------------------------------------- projections, PCA, shift similarity


def test_projected_dot_profiles_depend_on_start_raw_does_not():
    starts, K = (32, 80, 160), 32
    prof = absolute.projected_dot_profiles(32, starts=starts, max_offset=K)
    assert sorted(prof) == list(starts)
    assert all(v.shape == (2 * K + 1,) for v in prof.values())
    # raw dot PE[p]·PE[p+k] (float64 Vaswani formula) is the same curve for every start
    raw = [ref_pe(range(p - K, p + K + 1), 32) @ ref_pe([p], 32)[0] for p in starts]
    for r in raw[1:]:
        np.testing.assert_allclose(r, raw[0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(np_(absolute.dot_profile(32, max_offset=K)), raw[0], atol=1e-5)
    # after random projections the curves differ by start: p-dependence
    curves = [np_(prof[p]) for p in starts]
    scale = max(np.abs(c).max() for c in curves)
    for a in range(len(curves)):
        for b in range(a + 1, len(curves)):
            assert np.abs(curves[a] - curves[b]).max() > 0.05 * scale
    with pytest.raises(ValueError, match="start"):
        absolute.projected_dot_profiles(32, starts=(10,), max_offset=K)


def test_pca_2d_recovers_plane_distances():
    rng = np.random.default_rng(5)
    pts2 = rng.standard_normal((50, 2)) * [3.0, 1.0]
    basis, _ = np.linalg.qr(rng.standard_normal((12, 2)))  # orthonormal 12×2
    emb = pts2 @ basis.T + rng.standard_normal(12)  # a plane through a random offset
    got = np_(absolute.pca_2d(torch.from_numpy(emb).float()))
    assert got.shape == (50, 2)

    def dists(x):
        return np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))

    np.testing.assert_allclose(dists(got), dists(pts2), rtol=0, atol=1e-4)
    np.testing.assert_allclose(got.mean(0), 0.0, atol=1e-5)  # centred
    assert got[:, 0].var() >= got[:, 1].var()  # first component carries the most variance


def test_shift_similarity():
    rng = np.random.default_rng(8)
    a = rng.standard_normal((25, 6))
    got = np_(absolute.shift_similarity(torch.from_numpy(a).float(), 10))
    u = a / np.linalg.norm(a, axis=1, keepdims=True)
    ref = [np.mean([u[p] @ u[p + d] for p in range(25 - d)]) for d in range(11)]
    assert got.shape == (11,)
    assert got[0] == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6)
    # every sinusoidal row has norm sqrt(dim/2), so the curve is Σ_i cos(ω_i Δ) / (dim/2)
    sin = np_(absolute.shift_similarity(absolute.sinusoidal(200, 64), 50))
    ref_sin = np.cos(np.outer(np.arange(51), ref_omega(64, 10000.0))).sum(1) / 32
    np.testing.assert_allclose(sin, ref_sin, rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="max_delta"):
        absolute.shift_similarity(torch.from_numpy(a).float(), 25)


def test_lookup_rejects_fractional_ids():
    with pytest.raises(ValueError, match="position_ids"):
        absolute.lookup(absolute.learned_table(4, 2), torch.tensor([1.7]))
