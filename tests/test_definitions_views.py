"""The §2 views: ids.pad_batch / interpolate_range, attention.token_plus_position / bias_demo and
relative.cache_offsets, against independent references; each verdict green when right, red when wrong."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from posviz import attention, ids, relative


def np_(x: torch.Tensor) -> np.ndarray:
    return x.detach().cpu().double().numpy()


# --------------------------------------------------------------------------- position ids

@pytest.mark.parametrize("n_tokens,n_pad,side", [(6, 3, "left"), (6, 3, "right"), (1, 0, "left"), (4, 8, "left")])
def test_pad_batch(n_tokens, n_pad, side):
    got = ids.pad_batch(n_tokens, n_pad, side)
    mask = [0] * n_pad + [1] * n_tokens if side == "left" else [1] * n_tokens + [0] * n_pad
    assert got.mask.tolist() == mask
    assert got.naive.tolist() == list(range(n_tokens + n_pad))
    assert got.real_ids == list(range(n_tokens))
    assert got.naive_real_ids == (list(range(n_pad, n_pad + n_tokens)) if side == "left" else list(range(n_tokens)))
    assert got.tokens.count("[pad]") == n_pad
    assert got.verdict.ok and "0, 1, 2" in got.verdict.claim


def test_pad_batch_verdict_turns_red_for_arange_ids():
    padded = ids.pad_batch(5, 3, "left")
    wrong = ids.PaddedIds("left", padded.mask, padded.naive, padded.naive)  # arange used as the ids
    assert not wrong.verdict.ok


# --------------------------------------------------------------------------- interpolation

def test_interpolate_range():
    r = ids.interpolate_range(2048, 4, 40)
    assert r.target_len == 8192
    assert r.theta == pytest.approx(10000.0 ** (-80 / 128), rel=1e-12)
    assert r.positions[0] == 0 and r.positions[-1] == 8191 and len(r.positions) <= 400
    np.testing.assert_allclose(np_(r.scaled), np_(r.positions) / 4, rtol=0, atol=1e-12)
    assert r.top == 2047.75 and r.spacing == 0.25
    assert r.train_max_angle == pytest.approx(2047 * r.theta)
    np.testing.assert_allclose(np_(r.angle_interpolated), np_(r.positions) / 4 * r.theta, atol=1e-12)
    assert r.verdict.ok and "8,191" in r.verdict.detail


def test_interpolate_range_factor_one_changes_nothing():
    r = ids.interpolate_range(512, 1, 0)
    assert r.top == 511 and r.spacing == 1 and r.verdict.ok


def test_interpolate_range_verdict_turns_red_when_positions_are_stretched_the_wrong_way(monkeypatch):
    monkeypatch.setattr(ids, "interpolate", lambda m, L, T: torch.as_tensor(m, dtype=torch.float64) * T / L)
    assert not ids.interpolate_range(512, 4, 0).verdict.ok


def test_interpolate_range_rejects():
    with pytest.raises(ValueError, match="pair"):
        ids.interpolate_range(512, 2, 64)
    with pytest.raises(ValueError, match="factor"):
        ids.interpolate_range(512, 0, 1)


# --------------------------------------------------------------------------- token + position

@pytest.mark.parametrize("dim,std,scale", [(16, 0.02, True), (64, 0.02, False), (512, 1.0, True)])
def test_token_plus_position(dim, std, scale):
    s = attention.token_plus_position("bites", 3, dim, std, scale)
    raw = attention.word_vectors(["bites"], dim)[0]
    np.testing.assert_allclose(np_(s.token), np_(raw) * std * (math.sqrt(dim) if scale else 1), rtol=1e-6)
    p = 3 * 10000.0 ** (-2.0 * np.arange(dim // 2) / dim)
    pe = np.empty(dim)
    pe[0::2], pe[1::2] = np.sin(p), np.cos(p)
    np.testing.assert_allclose(np_(s.pe), pe, atol=1e-6)
    np.testing.assert_allclose(np_(s.total), np_(s.token) + pe, atol=1e-6)
    assert s.pe_norm == pytest.approx(math.sqrt(dim / 2), rel=1e-6)
    assert s.ratio == pytest.approx(s.pe_norm / np.linalg.norm(np_(s.token)), rel=1e-5)
    assert s.verdict.ok


def test_token_plus_position_verdict_turns_red_for_a_table_without_cosines():
    s = attention.token_plus_position("bites", 3, 16)
    sines_only = s.pe.clone()
    sines_only[1::2] = sines_only[0::2]
    bad = attention.EmbeddingSum(s.word, s.position, s.token, sines_only, s.token_norm, float(sines_only.norm()))
    assert not bad.verdict.ok


def test_token_plus_position_rejects():
    with pytest.raises(ValueError, match="at most 1 words"):
        attention.token_plus_position("two words", 0, 16)
    with pytest.raises(ValueError, match="position"):
        attention.token_plus_position("x", -1, 16)


# --------------------------------------------------------------------------- score bias

SENTENCE = "the quick brown fox jumps over the dog"


def test_bias_demo_before_is_a_log_prior():
    b = attention.bias_demo(SENTENCE, 0.5, "before")
    s, i = np_(b.scores), np.arange(8)
    bias = -0.5 * np.abs(i[:, None] - i[None, :])
    np.testing.assert_allclose(np_(b.bias), bias, atol=0)
    e = np.exp(s + bias - (s + bias).max(-1, keepdims=True))
    np.testing.assert_allclose(np_(b.weights), e / e.sum(-1, keepdims=True), atol=1e-12)
    assert b.prior_gap < 1e-12 and b.verdict.ok


def test_bias_demo_after_softmax_is_red_and_says_why():
    b = attention.bias_demo(SENTENCE, 0.5, "after")
    assert not b.verdict.ok and "no longer distributions" in b.verdict.claim
    assert float(b.row_sums.max()) < 1


def test_bias_demo_after_with_zero_slope_is_harmless():
    assert attention.bias_demo(SENTENCE, 0.0, "after").verdict.ok


def test_bias_demo_log_prior_verdict_turns_red_if_weights_are_renormalised_after(monkeypatch):
    """Renormalising softmax(S) + b keeps rows summing to one but is not a log-prior."""
    def renormalised(scores, bias, *, where="before"):
        w = (scores.softmax(-1) + bias).clamp(min=0)
        return w / w.sum(-1, keepdim=True)
    monkeypatch.setattr(attention, "softmax_with_bias", renormalised)
    v = attention.bias_demo(SENTENCE, 0.2, "before").verdict
    assert not v.ok and "not a log-prior" in v.claim


# --------------------------------------------------------------------------- offsets in a KV cache

@pytest.mark.parametrize("q_len,k_len", [(10, 10), (4, 10), (1, 24), (24, 24)])
def test_cache_offsets(q_len, k_len):
    c = relative.cache_offsets(q_len, k_len)
    past = k_len - q_len
    i, j = np.arange(past, k_len)[:, None], np.arange(k_len)[None, :]
    assert c.offsets.tolist() == (i - j).tolist()
    assert c.query_start == past and c.hidden == int((j > i).sum()) and c.mask_gap == 0
    assert c.hidden_if_at_zero == int((j > np.arange(q_len)[:, None]).sum())
    assert c.verdict.ok


def test_cache_offsets_verdict_turns_red_with_key_minus_query(monkeypatch):
    real = relative.offsets
    monkeypatch.setattr(relative, "offsets", lambda *a, **kw: -real(*a, **kw))
    assert not relative.cache_offsets(4, 10).verdict.ok


def test_cache_offsets_refuses_more_queries_than_keys():
    with pytest.raises(ValueError, match="q_len must be between 1 and 10"):
        relative.cache_offsets(11, 10)
