"""RoPE (posviz.rope): invariants, layouts, and float64 reference implementations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from posviz import rope

LAYOUTS = ("half", "interleaved")
SETTINGS = settings(deadline=None, max_examples=60)


def _rng_vec(seed: int, *shape: int) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(shape)).float()


# --------------------------------------------------------------------------- independent float64 references


def ref_theta(dim: int, base: float) -> np.ndarray:
    """RoFormer eq. 15 in float64: theta_i = base^(-2(i-1)/d), i = 1..d/2."""
    return np.array([base ** (-2.0 * i / dim) for i in range(dim // 2)], dtype=np.float64)


def ref_gptj(x: np.ndarray, positions: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """GPT-J style: sin/cos repeated per pair, rotate_every_two."""
    ang = positions[:, None] * theta[None, :]  # [seq, d/2]
    sin = np.repeat(np.sin(ang), 2, axis=-1)  # [seq, d]: s0 s0 s1 s1 ...
    cos = np.repeat(np.cos(ang), 2, axis=-1)
    rot = np.empty_like(x)
    rot[..., 0::2] = -x[..., 1::2]
    rot[..., 1::2] = x[..., 0::2]
    return x * cos + rot * sin


def ref_llama(x: np.ndarray, positions: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Llama / GPT-NeoX style: emb = cat(freqs, freqs), x*cos + rotate_half(x)*sin."""
    ang = positions[:, None] * theta[None, :]  # [seq, d/2]
    emb = np.concatenate([ang, ang], axis=-1)  # [seq, d]
    half = x.shape[-1] // 2
    rot = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return x * np.cos(emb) + rot * np.sin(emb)


# --------------------------------------------------------------------------- frequencies


def test_inv_freq_literal_values():
    # dim 8, base 10000: theta = 10000^(-0/8, -2/8, -4/8, -6/8) = 1, 0.1, 0.01, 0.001
    f = rope.inv_freq(8)
    assert f.dtype == torch.float32 and f.shape == (4,)
    np.testing.assert_allclose(f.numpy(), [1.0, 0.1, 0.01, 0.001], rtol=1e-7)


@pytest.mark.parametrize("dim", [2, 64, 80, 96, 128, 256])
@pytest.mark.parametrize("base", [10000.0, 100000.0, 500000.0, 1e6])
def test_inv_freq_matches_float64(dim, base):
    np.testing.assert_allclose(rope.inv_freq(dim, base).numpy(), ref_theta(dim, base), rtol=1e-6)


def test_wavelengths_are_two_pi_over_theta():
    w = rope.wavelengths(rope.inv_freq(8)).numpy()
    np.testing.assert_allclose(w, 2 * math.pi * np.array([1.0, 10.0, 100.0, 1000.0]), rtol=1e-6)


def test_angles_outer_product_with_float_positions():
    f = rope.inv_freq(8)
    pos = [0.0, 0.5, 3.0, 1000.25]
    a = rope.angles(pos, f)
    assert a.shape == (4, 4) and a.dtype == torch.float32
    np.testing.assert_allclose(a.numpy(), np.outer(pos, ref_theta(8, 10000.0)), rtol=1e-6)


# --------------------------------------------------------------------------- rotation vs references


@pytest.mark.parametrize("dim,base", [(8, 10000.0), (64, 10000.0), (128, 500000.0)])
def test_interleaved_matches_gptj_reference(dim, base):
    x = _rng_vec(1, 3, 40, dim)  # [batch, seq, dim]
    pos = np.arange(40, dtype=np.float64) * 1.5  # float positions too
    got = rope.apply_rope(x, torch.from_numpy(pos), rope.inv_freq(dim, base), layout="interleaved")
    want = ref_gptj(x.double().numpy(), pos, ref_theta(dim, base))
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=2e-5)


@pytest.mark.parametrize("dim,base", [(8, 10000.0), (64, 10000.0), (128, 500000.0)])
def test_half_matches_llama_reference(dim, base):
    x = _rng_vec(2, 2, 4, 40, dim)  # [batch, heads, seq, dim]
    pos = np.arange(40, dtype=np.float64)
    got = rope.apply_rope(x, torch.arange(40), rope.inv_freq(dim, base), layout="half")
    want = ref_llama(x.double().numpy(), pos, ref_theta(dim, base))
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=2e-5)


def test_layouts_really_differ():
    # guards the two reference tests: if both layouts were the same function they would not catch a swap
    x = _rng_vec(3, 10, 16)
    f = rope.inv_freq(16)
    half = rope.apply_rope(x, torch.arange(10), f, "half")
    inter = rope.apply_rope(x, torch.arange(10), f, "interleaved")
    assert (half - inter).abs().max() > 0.1


def test_positions_none_means_arange_and_dtype_follows_x():
    x = _rng_vec(4, 7, 8).double()
    f = rope.inv_freq(8)
    a = rope.apply_rope(x, None, f)
    b = rope.apply_rope(x, torch.arange(7), f)
    assert a.dtype == torch.float64
    assert torch.equal(a, b)


def test_position_zero_is_identity():
    x = _rng_vec(5, 1, 32)
    for layout in LAYOUTS:
        assert torch.allclose(rope.apply_rope(x, [0], rope.inv_freq(32), layout), x)


# --------------------------------------------------------------------------- invariants (property tests)


@SETTINGS
@given(
    half_dim=st.integers(1, 128),
    positions=st.lists(st.floats(-1e5, 1e5, allow_nan=False), min_size=1, max_size=8),
    base=st.floats(2.0, 1e6),
    layout=st.sampled_from(LAYOUTS),
    seed=st.integers(0, 2**31),
)
def test_rope_preserves_norms(half_dim, positions, base, layout, seed):
    dim = 2 * half_dim
    x = _rng_vec(seed, len(positions), dim)
    y = rope.apply_rope(x, torch.tensor(positions, dtype=torch.float64), rope.inv_freq(dim, base), layout)
    torch.testing.assert_close(y.norm(dim=-1), x.norm(dim=-1), rtol=1e-5, atol=1e-5)
    # and per pair, not just in total (each 2D pair is a rotation)
    pair = (lambda t: t.view(len(positions), -1, 2)) if layout == "interleaved" else (
        lambda t: torch.stack([t[..., :half_dim], t[..., half_dim:]], dim=-1)
    )
    torch.testing.assert_close(pair(y).norm(dim=-1), pair(x).norm(dim=-1), rtol=1e-5, atol=1e-5)


@SETTINGS
@given(factor=st.floats(0.5, 2.0), layout=st.sampled_from(LAYOUTS), seed=st.integers(0, 2**31))
def test_attention_factor_scales_rotated_norm(factor, layout, seed):
    x = _rng_vec(seed, 6, 32)
    y = rope.apply_rope(x, torch.arange(6), rope.inv_freq(32), layout, attention_factor=factor)
    torch.testing.assert_close(y.norm(dim=-1), factor * x.norm(dim=-1), rtol=1e-5, atol=1e-5)


@SETTINGS
@given(
    half_dim=st.integers(1, 64),
    m=st.integers(0, 20000),
    n=st.integers(0, 20000),
    shift=st.integers(-10000, 10000),
    layout=st.sampled_from(LAYOUTS),
    seed=st.integers(0, 2**31),
)
def test_score_depends_only_on_m_minus_n(half_dim, m, n, shift, layout, seed):
    dim = 2 * half_dim
    q, k = _rng_vec(seed, 2, dim)
    f = rope.inv_freq(dim)
    s0 = rope.relative_dot(q, k, m, n, f, layout)
    s1 = rope.relative_dot(q, k, m + shift, n + shift, f, layout)
    scale = float(q.norm() * k.norm())
    assert abs(float(s0) - float(s1)) <= 1e-5 * scale + 1e-6


def test_relative_dot_equals_rotated_dot_and_varies_with_distance():
    q, k = _rng_vec(7, 2, 16)
    f = rope.inv_freq(16)
    m = torch.tensor([0.0, 5.0, 9.0, 30.0])
    n = torch.tensor([0.0, 2.0, 9.0, 1.0])
    got = rope.relative_dot(q, k, m, n, f, "half")
    want = [float(rope.apply_rope(q, mi, f) @ rope.apply_rope(k, ni, f)) for mi, ni in zip(m, n)]
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-6)
    assert got.shape == (4,)
    # equal offsets (0 and 0) give equal scores; different offsets generally do not
    assert abs(float(got[0] - got[2])) < 1e-5
    assert float((got[:2] - got[1:3]).abs().max()) > 1e-3


# --------------------------------------------------------------------------- layouts


def test_layout_permutation_literal_and_inverse():
    perm = rope.layout_permutation(8)
    assert perm.tolist() == [0, 2, 4, 6, 1, 3, 5, 7]
    inv = rope.layout_permutation(8, inverse=True)
    assert perm[inv].tolist() == list(range(8))
    assert rope.layout_permutation(10, rotary_dim=6).tolist() == [0, 2, 4, 1, 3, 5, 6, 7, 8, 9]


@SETTINGS
@given(half_dim=st.integers(1, 64), seed=st.integers(0, 2**31), start=st.integers(0, 5000))
def test_half_and_interleaved_agree_after_permutation(half_dim, seed, start):
    dim = 2 * half_dim
    x = _rng_vec(seed, 5, dim)
    pos = torch.arange(start, start + 5)
    f = rope.inv_freq(dim)
    perm = rope.layout_permutation(dim)
    inter = rope.apply_rope(x, pos, f, "interleaved")
    half = rope.apply_rope(x[..., perm], pos, f, "half")
    torch.testing.assert_close(inter[..., perm], half, rtol=1e-5, atol=1e-5)


def test_layout_permutation_converts_projection_weights():
    # W_q made for interleaved RoPE; W_q[perm] is the same model for half RoPE (HF llama conversion)
    dim, d_model = 16, 24
    w_q, w_k = _rng_vec(8, 2, dim, d_model)
    h = _rng_vec(9, 12, d_model)  # [seq, d_model] hidden states
    f, pos, perm = rope.inv_freq(dim), torch.arange(12), rope.layout_permutation(dim)
    scores_inter = rope.apply_rope(h @ w_q.T, pos, f, "interleaved") @ rope.apply_rope(h @ w_k.T, pos, f, "interleaved").T
    scores_half = rope.apply_rope(h @ w_q[perm].T, pos, f, "half") @ rope.apply_rope(h @ w_k[perm].T, pos, f, "half").T
    torch.testing.assert_close(scores_half, scores_inter, rtol=1e-4, atol=1e-4)
    # the unconverted weights with the other layout give different (garbage) scores
    scores_wrong = rope.apply_rope(h @ w_q.T, pos, f, "half") @ rope.apply_rope(h @ w_k.T, pos, f, "half").T
    assert (scores_wrong - scores_inter).abs().max() > 0.1 * scores_inter.abs().max()


# --------------------------------------------------------------------------- partial rotary


@pytest.mark.parametrize("layout", LAYOUTS)
def test_partial_rotary_leaves_tail_unchanged(layout):
    dim, rotary_dim = 32, 8  # GPT-NeoX rotary_pct = 0.25
    x = _rng_vec(10, 2, 9, dim)
    f = rope.inv_freq(rotary_dim)  # 4 frequencies -> rotate 8 features
    y = rope.apply_rope(x, torch.arange(9) + 3, f, layout, attention_factor=1.3)
    assert y.shape == x.shape
    assert torch.equal(y[..., rotary_dim:], x[..., rotary_dim:])
    head = rope.apply_rope(x[..., :rotary_dim], torch.arange(9) + 3, f, layout, attention_factor=1.3)
    torch.testing.assert_close(y[..., :rotary_dim], head)
    assert (y[..., :rotary_dim] - x[..., :rotary_dim]).abs().max() > 0.1


# --------------------------------------------------------------------------- 2D picture


def test_rotate_pair_quarter_turn_and_matches_apply_rope():
    out = rope.rotate_pair(torch.tensor([1.0, 0.0]), 1, math.pi / 2)
    torch.testing.assert_close(out, torch.tensor([0.0, 1.0]), atol=1e-6, rtol=0)
    xy = _rng_vec(11, 5, 2)
    pos = torch.arange(5.0)
    theta = 0.3
    by_pair = rope.rotate_pair(xy, pos, theta)
    by_rope = rope.apply_rope(xy, pos, torch.tensor([theta]), "interleaved")
    torch.testing.assert_close(by_pair, by_rope, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- long-term decay


def _ref_decay(dim: int, base: float, max_distance: int) -> np.ndarray:
    theta = ref_theta(dim, base)
    out = []
    for r in range(max_distance + 1):
        s = np.cumsum(np.exp(1j * r * theta))  # S_1 .. S_{d/2}
        out.append(np.abs(s).sum() / (dim / 2))
    return np.array(out)


@pytest.mark.parametrize("dim,base", [(128, 10000.0), (64, 10000.0), (128, 500000.0)])
def test_decay_bound_matches_complex_reference(dim, base):
    got = rope.decay_bound(dim, base, 300)
    assert got.shape == (301,)
    np.testing.assert_allclose(got.numpy(), _ref_decay(dim, base, 300), rtol=1e-5)


def test_decay_bound_starts_at_mean_of_1_to_half_dim_and_decays():
    b = rope.decay_bound(128, 10000.0, 256).numpy()
    assert b[0] == pytest.approx((64 + 1) / 2)  # S_j = j at distance 0
    assert b[50:].max() < 0.6 * b[0]  # RoFormer Fig. 2: the bound falls with distance
    assert b[200:].mean() < b[20:60].mean()


# --------------------------------------------------------------------------- devices and errors


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    x = _rng_vec(12, 4, 64)
    cpu = rope.apply_rope(x, torch.arange(4), rope.inv_freq(64, device="cpu"))
    gpu = rope.apply_rope(x.cuda(), torch.arange(4), rope.inv_freq(64, device="cuda"))
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: rope.inv_freq(7), "dim"),
        (lambda: rope.inv_freq(0), "dim"),
        (lambda: rope.inv_freq(8, base=1.0), "base"),
        (lambda: rope.inv_freq(8, base=-5), "base"),
        (lambda: rope.apply_rope(torch.zeros(3, 8), torch.arange(3), rope.inv_freq(8), "sideways"), "layout"),
        (lambda: rope.apply_rope(torch.zeros(3, 6), torch.arange(3), rope.inv_freq(8)), "inv_freq"),
        (lambda: rope.apply_rope(torch.zeros(3, 8), torch.arange(4), rope.inv_freq(8)), "positions"),
        (lambda: rope.apply_rope(torch.zeros(3, 8), [0, 1, float("nan")], rope.inv_freq(8)), "positions"),
        (lambda: rope.apply_rope(torch.zeros(3, 8), torch.arange(3), torch.ones(2, 2)), "inv_freq"),
        (lambda: rope.apply_rope(torch.zeros(3, 8), torch.arange(3), rope.inv_freq(8), attention_factor=0), "attention_factor"),
        (lambda: rope.rotate_pair(torch.zeros(3), 1, 0.1), "xy"),
        (lambda: rope.relative_dot(torch.zeros(8), torch.zeros(6), 1, 2, rope.inv_freq(8)), "q and k"),
        (lambda: rope.decay_bound(128, 10000.0, -1), "max_distance"),
        (lambda: rope.decay_bound(127), "dim"),
        (lambda: rope.layout_permutation(9), "dim"),
        (lambda: rope.layout_permutation(16, rotary_dim=5), "rotary_dim"),
        (lambda: rope.layout_permutation(16, rotary_dim=18), "rotary_dim"),
    ],
)
def test_invalid_arguments_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
