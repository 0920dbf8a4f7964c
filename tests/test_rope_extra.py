"""Teaching helpers at the end of posviz.rope (used by page §6)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posviz import absolute, rope

LAYOUTS = ("half", "interleaved")


def _vec(seed: int, *shape: int) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(shape)).float()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_pair_indices_are_what_apply_rope_rotates_together(layout):
    dim = 12
    pairs = rope.pair_indices(dim, layout)
    assert pairs.shape == (dim // 2, 2)
    assert sorted(pairs.flatten().tolist()) == list(range(dim))
    freq = rope.inv_freq(dim)
    for i, (a, b) in enumerate(pairs.tolist()):
        x = torch.zeros(dim)
        x[a], x[b] = 0.6, -0.8
        y = rope.apply_rope(x, 7, freq, layout)
        others = [j for j in range(dim) if j not in (a, b)]
        assert torch.all(y[others] == 0)
        expect = rope.rotate_pair(torch.tensor([0.6, -0.8]), 7, float(freq[i]))
        torch.testing.assert_close(y[[a, b]], expect, atol=1e-6, rtol=0)


def test_pair_indices_literal():
    assert rope.pair_indices(6, "half").tolist() == [[0, 3], [1, 4], [2, 5]]
    assert rope.pair_indices(6, "interleaved").tolist() == [[0, 1], [2, 3], [4, 5]]
    with pytest.raises(ValueError, match="layout"):
        rope.pair_indices(6, "zigzag")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_scores_by_distance_match_relative_dot(layout):
    dim = 16
    freq = rope.inv_freq(dim, 500.0)
    q, k = _vec(0, 3, dim), _vec(1, 3, dim)
    r = torch.arange(0, 40, 3)
    s = rope.scores_by_distance(q, k, r, freq, layout)
    assert s.shape == (3, len(r))
    for b in range(3):
        ref = rope.relative_dot(q[b], k[b], r + 5, 5, freq, layout)  # any shift gives the same scores
        torch.testing.assert_close(s[b], ref, atol=1e-4, rtol=1e-5)


def test_added_dot_matches_explicit_sinusoids_and_is_not_relative():
    dim, n = 8, 12
    freq = rope.inv_freq(dim)
    q, k = _vec(2, dim), _vec(3, dim)
    pe = absolute.sinusoidal(n, dim)  # interleaved sin/cos, base 10000: same frequencies
    m, nn = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    s = rope.added_dot(q, k, m, nn, freq)
    ref = ((q + pe[m]) * (k + pe[nn])).sum(-1)
    torch.testing.assert_close(s, ref, atol=1e-5, rtol=1e-5)
    assert rope.offset_spread(m - nn, s) > 0.5
    assert rope.offset_spread(m - nn, rope.relative_dot(q, k, m, nn, freq)) < 1e-4


@pytest.mark.parametrize("layout", LAYOUTS)
def test_missing_sign_changes_norms_but_true_rope_does_not(layout):
    dim = 16
    freq = rope.inv_freq(dim)
    x = _vec(4, 5, 1, dim).expand(5, 30, dim)
    pos = torch.arange(30)
    good = rope.apply_rope(x, pos, freq, layout).norm(dim=-1)
    bad = rope.apply_rope_missing_sign(x, pos, freq, layout).norm(dim=-1)
    torch.testing.assert_close(good, x.norm(dim=-1), atol=1e-5, rtol=1e-5)
    assert (bad - x.norm(dim=-1)).abs().max() > 0.1
    torch.testing.assert_close(bad[:, 0], x[:, 0].norm(dim=-1))  # position 0 is still the identity
    # the stretch formula from the docstring, pair 0 of the first vector
    a, b = rope.pair_indices(dim, layout)[0].tolist()
    va, vb = float(x[0, 0, a]), float(x[0, 0, b])
    out = rope.apply_rope_missing_sign(x[0], pos, freq, layout)[:, [a, b]].norm(dim=-1)
    ang = pos.double() * float(freq[0])
    expect = np.hypot(va, vb) * np.sqrt(1 + np.sin(2 * ang.numpy()) * 2 * va * vb / (va**2 + vb**2))
    np.testing.assert_allclose(out.numpy(), expect, atol=1e-5)


def test_offset_spread():
    off = torch.tensor([0, 0, 1, 1, 2])
    assert rope.offset_spread(off, torch.tensor([1.0, 1.0, 2.0, 2.5, 9.0])) == pytest.approx(0.5)
    assert rope.offset_spread(off, torch.tensor([3.0, 3.0, 3.0, 3.0, 3.0])) == 0.0
    with pytest.raises(ValueError, match="same size"):
        rope.offset_spread(off, torch.zeros(3))
    with pytest.raises(ValueError, match="integers"):
        rope.offset_spread(torch.tensor([0.5, 1.0]), torch.zeros(2))
