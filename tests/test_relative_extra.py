"""Tests for the §5 helpers appended to posviz.relative and posviz.diagnostics.

References are brute-force Python loops over offsets, independent of the code under test.
"""

import math

import pytest
import torch

from posviz import diagnostics, relative

CONFIGS = [(32, 128), (64, 128), (16, 64), (8, 20), (128, 128), (64, 40)]


def brute_buckets(bidirectional, num_buckets, max_distance, reach=3000):
    """Every bucket reached by some offset in [-reach, reach], and for each the offset nearest 0."""
    seen = {}
    for r in sorted(range(-reach, reach + 1), key=lambda r: (abs(r), r > 0)):
        b = int(relative.t5_bucket(r, bidirectional, num_buckets, max_distance))
        seen.setdefault(b, r)
    return seen


# ---------------------------------------------------------------- toeplitz_gap

def test_toeplitz_gap_zero_for_relative_biases():
    t5 = torch.randn(32, 4, generator=torch.Generator().manual_seed(0))
    clip = torch.randn(9, 3, generator=torch.Generator().manual_seed(1))
    assert relative.toeplitz_gap(relative.relative_bias(t5, 40)) == 0.0
    assert relative.toeplitz_gap(relative.relative_bias(clip, 17, scheme="clip")) == 0.0
    assert relative.toeplitz_gap(relative.offsets(5, 9)) == 0.0


def test_toeplitz_gap_detects_absolute_dependence():
    m = relative.offsets(6).double()
    m[3, 1] += 0.25  # one cell off its diagonal
    assert relative.toeplitz_gap(m) == pytest.approx(0.25)
    absolute = torch.arange(6.0)[:, None] + torch.zeros(6)  # depends on i only
    assert relative.toeplitz_gap(absolute) == pytest.approx(1.0)


def test_toeplitz_gap_edge_cases():
    assert relative.toeplitz_gap(torch.ones(1, 7)) == 0.0
    with pytest.raises(ValueError, match="m must"):
        relative.toeplitz_gap(torch.ones(5))


# ---------------------------------------------------------------- T5 bucket helpers

@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("num_buckets, max_distance", CONFIGS)
def test_unused_buckets_match_brute_force(bidirectional, num_buckets, max_distance):
    if not bidirectional and max_distance <= num_buckets // 2:
        pytest.skip("max_distance must exceed the exact region")
    seen = brute_buckets(bidirectional, num_buckets, max_distance)
    expected = [b for b in range(num_buckets) if b not in seen]
    assert relative.t5_unused_buckets(bidirectional, num_buckets, max_distance) == expected


@pytest.mark.parametrize("num_buckets, max_distance", CONFIGS)
def test_bidirectional_middle_bucket_is_never_used(num_buckets, max_distance):
    assert num_buckets // 2 in relative.t5_unused_buckets(True, num_buckets, max_distance)


def test_default_causal_uses_every_bucket():
    assert relative.t5_unused_buckets(False, 32, 128) == []
    assert relative.t5_unused_buckets(True, 32, 128) == [16]


@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("num_buckets, max_distance", [(32, 128), (16, 64), (64, 128)])
def test_bucket_representative_is_nearest_offset(bidirectional, num_buckets, max_distance):
    rep = relative.t5_bucket_representative(bidirectional, num_buckets, max_distance)
    seen = brute_buckets(bidirectional, num_buckets, max_distance)
    assert rep.shape == (num_buckets,)
    for b in range(num_buckets):
        if b in seen:
            assert rep[b].item() == seen[b]
        else:
            assert math.isnan(rep[b].item())


def test_bucket_representative_defaults_by_hand():
    bi = relative.t5_bucket_representative(True)
    assert bi[0] == 0 and bi[1] == -1 and bi[15] == -91 and bi[17] == 1 and bi[31] == 91
    assert math.isnan(bi[16])
    assert relative.t5_bucket_representative(False)[31] == -113


@pytest.mark.parametrize("bidirectional", [True, False])
def test_bucket_usage_counts_pairs(bidirectional):
    q_len, k_len = 7, 11
    counts = relative.t5_bucket_usage(q_len, k_len, bidirectional=bidirectional, num_buckets=16, max_distance=32)
    expected = [0] * 16
    for i in range(q_len):
        for j in range(k_len):
            expected[int(relative.t5_bucket(j - i, bidirectional, 16, 32))] += 1
    assert counts.tolist() == expected
    assert int(counts.sum()) == q_len * k_len


def test_bucket_usage_visible_only_drops_future_keys():
    n = 9
    counts = relative.t5_bucket_usage(n, bidirectional=False, num_buckets=16, max_distance=32, visible_only=True)
    assert int(counts.sum()) == n * (n + 1) // 2
    assert int(counts[0]) == n  # only the diagonal (offset 0) is left in bucket 0
    full = relative.t5_bucket_usage(n, bidirectional=False, num_buckets=16, max_distance=32)
    assert int(full[0]) == n * (n + 1) // 2  # future keys also map to bucket 0 without the mask


# ---------------------------------------------------------------- Transformer-XL factored score

@pytest.mark.parametrize("q_len, mem", [(1, 0), (5, 0), (4, 6)])
def test_transformer_xl_score_equals_sum_of_terms(q_len, mem):
    g = torch.Generator().manual_seed(q_len + mem)
    d_model, d_head = 8, 6
    x_k = torch.randn(mem + q_len, d_model, generator=g, dtype=torch.float64)
    x_q = x_k[mem:]
    w = [torch.randn(d_head, d_model, generator=g, dtype=torch.float64) for _ in range(3)]
    u, v = torch.randn(d_head, generator=g, dtype=torch.float64), torch.randn(d_head, generator=g, dtype=torch.float64)
    terms = relative.transformer_xl_terms(x_q, x_k, *w, u, v)
    score = relative.transformer_xl_score(x_q, x_k, *w, u, v)
    assert score.shape == (q_len, mem + q_len)
    assert torch.allclose(score, sum(terms.values()), atol=1e-12)


def test_transformer_xl_score_rejects_short_keys():
    x = torch.randn(4, 8)
    w = torch.randn(8, 8)
    with pytest.raises(ValueError, match="x_k"):
        relative.transformer_xl_score(x, x[:2], w, w, w, torch.zeros(8), torch.zeros(8))


# ---------------------------------------------------------------- shift test

@pytest.mark.parametrize("delta", [1, 5, 64, 513])
def test_shift_leaves_relative_scores_unchanged(delta):
    res = diagnostics.shift_test(9, delta, seed=3)
    assert res["t5_bias"]["gap"] == 0.0  # same buckets, same content: bit-identical
    assert res["transformer_xl"]["gap"] == 0.0
    assert res["shaw"]["gap"] < 1e-12  # padded keys change the product's shape, not its value
    assert res["sinusoid"]["gap"] > 1e-3


def test_shift_zero_changes_nothing():
    res = diagnostics.shift_test(6, 0)
    assert all(r["gap"] == 0.0 for r in res.values())


def test_shift_scores_see_absolute_positions_only_through_the_scheme():
    a = diagnostics.shift_scores(5, 10, "sinusoid", seed=1)
    b = diagnostics.shift_scores(5, 11, "sinusoid", seed=1)
    assert a.shape == (5, 5) and a.dtype == torch.float64
    assert not torch.allclose(a, b)
    # same seed, same start: the same numbers
    assert torch.equal(a, diagnostics.shift_scores(5, 10, "sinusoid", seed=1))


@pytest.mark.parametrize("kwargs, name", [
    (dict(n_tokens=0, start=0), "n_tokens"), (dict(n_tokens=3, start=-1), "start"),
    (dict(n_tokens=3, start=0, scheme="rope"), "scheme"), (dict(n_tokens=3, start=0, dim=5), "dim"),
])
def test_shift_scores_rejects_bad_args(kwargs, name):
    with pytest.raises(ValueError, match=name):
        diagnostics.shift_scores(**kwargs)


def test_shift_test_rejects_negative_delta():
    with pytest.raises(ValueError, match="delta"):
        diagnostics.shift_test(4, -1)
