"""Attention with pluggable position schemes (posviz.attention) and the diagnostics built on it."""

from __future__ import annotations

import math
import unicodedata

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from posviz import attention, diagnostics

SETTINGS = settings(deadline=None, max_examples=50)
POSITIONAL = ("sinusoidal", "learned", "rope", "distance_bias")
VOCAB = ["the", "cat", "sat", "on", "mat", "a", "dog", "ran", "café", "🙂", "42", "x"]
DIM = 16


def f64_weights(dim: int = DIM, seed: int = 1) -> attention.Weights:
    w = attention.random_weights(dim, seed=seed)
    return attention.Weights(w.wq.double(), w.wk.double(), w.wv.double())


def x64(tokens, dim: int = DIM) -> torch.Tensor:
    return attention.word_vectors(tokens, dim).double()


def np_(x: torch.Tensor) -> np.ndarray:
    return x.detach().cpu().double().numpy()


# --------------------------------------------------------------------------- independent numpy attention


def ref_softmax(s: np.ndarray) -> np.ndarray:
    m = np.max(s, axis=-1, keepdims=True)
    e = np.exp(s - m)
    return e / e.sum(-1, keepdims=True)


def ref_vaswani_pe(n: int, dim: int) -> np.ndarray:
    pe = np.zeros((n, dim))
    for p in range(n):
        for i in range(dim // 2):
            pe[p, 2 * i] = math.sin(p / 10000 ** (2 * i / dim))
            pe[p, 2 * i + 1] = math.cos(p / 10000 ** (2 * i / dim))
    return pe


def ref_roformer(x: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """RoFormer eq. 34: pair (2i, 2i+1) rotated by angle p·θ_i, θ_i = 10000^(−2i/d); float64."""
    d = x.shape[-1]
    out = np.empty_like(x)
    for r, p in enumerate(positions):
        for i in range(d // 2):
            a = p * 10000.0 ** (-2.0 * i / d)
            c, s = math.cos(a), math.sin(a)
            out[r, 2 * i] = c * x[r, 2 * i] - s * x[r, 2 * i + 1]
            out[r, 2 * i + 1] = s * x[r, 2 * i] + c * x[r, 2 * i + 1]
    return out


def ref_attend(x, w, scheme, positions=None, causal=False):
    x = np_(x)
    wq, wk, wv = np_(w.wq), np_(w.wk), np_(w.wv)
    n, d = x.shape
    pos = np.arange(n) if positions is None else np.asarray(positions)
    if scheme == "sinusoidal":
        x = x + ref_vaswani_pe(int(pos.max()) + 1, d)[pos]
    q, k, v = x @ wq, x @ wk, x @ wv
    if scheme == "rope":
        q, k = ref_roformer(q, pos), ref_roformer(k, pos)
    s = q @ k.T / math.sqrt(d)
    if scheme == "distance_bias":
        s = s - 0.5 * np.abs(pos[:, None] - pos[None, :])
    if causal:
        s = np.where(np.arange(n)[None, :] > np.arange(n)[:, None], -np.inf, s)
    p = ref_softmax(s)
    return s, p, p @ v


@pytest.mark.parametrize("scheme", ["none", "sinusoidal", "rope", "distance_bias"])
@pytest.mark.parametrize("causal", [False, True])
def test_attend_matches_numpy_reference(scheme, causal):
    tokens = "the quick brown fox jumps over the lazy dog".split()
    x, w = x64(tokens), f64_weights()
    got = attention.attend(x, w, scheme=scheme, causal=causal)
    s, p, o = ref_attend(x, w, scheme, causal=causal)
    fin = np.isfinite(s)
    assert np.array_equal(np.isfinite(np_(got["scores"])), fin)
    np.testing.assert_allclose(np_(got["scores"])[fin], s[fin], rtol=0, atol=1e-5)
    np.testing.assert_allclose(np_(got["probs"]), p, rtol=0, atol=1e-6)
    np.testing.assert_allclose(np_(got["out"]), o, rtol=0, atol=1e-6)


def test_attend_float32_default_and_shapes():
    x = attention.word_vectors(["a", "b", "c"], 8)
    out = attention.attend(x, attention.random_weights(8), scheme="sinusoidal")
    assert out["scores"].shape == (3, 3) and out["probs"].shape == (3, 3) and out["out"].shape == (3, 8)
    assert out["out"].dtype == torch.float32
    with pytest.raises(ValueError, match="scheme"):
        attention.attend(x, attention.random_weights(8), scheme="alibi-ish")


# --------------------------------------------------------------------------- permutation equivariance


sentences = st.lists(st.sampled_from(VOCAB), min_size=1, max_size=8)


@given(data=st.data(), tokens=sentences)
@SETTINGS
def test_no_position_is_exactly_permutation_equivariant(data, tokens):
    perm = np.array(data.draw(st.permutations(range(len(tokens)))))
    x, w = x64(tokens), f64_weights()
    base = attention.attend(x, w, scheme="none")
    shuf = attention.attend(x[perm], w, scheme="none")
    P = np.eye(len(tokens))[perm]  # (P x)[r] = x[perm[r]]
    np.testing.assert_allclose(np_(shuf["out"]), P @ np_(base["out"]), rtol=0, atol=1e-12)
    np.testing.assert_allclose(np_(shuf["scores"]), P @ np_(base["scores"]) @ P.T, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np_(shuf["probs"]), P @ np_(base["probs"]) @ P.T, rtol=0, atol=1e-12)


GENERIC = ["the", "cat", "sat", "on", "a", "mat"]


@pytest.mark.parametrize("scheme", POSITIONAL)
@pytest.mark.parametrize("perm", [[1, 0, 2, 3, 4, 5], [5, 4, 3, 2, 1, 0], [2, 0, 4, 1, 5, 3]])
def test_position_breaks_equivariance(scheme, perm):
    x, w = x64(GENERIC), f64_weights()
    base = attention.attend(x, w, scheme=scheme)
    shuf = attention.attend(x[perm], w, scheme=scheme)
    if scheme == "distance_bias" and perm == [5, 4, 3, 2, 1, 0]:
        # |i − j| is unchanged by reversing the sequence, so a symmetric bias cannot see a reversal
        np.testing.assert_allclose(np_(shuf["out"]), np_(base["out"])[perm], rtol=0, atol=1e-12)
        return
    assert np.abs(np_(shuf["out"]) - np_(base["out"])[perm]).max() > 1e-3
    assert np.abs(np_(shuf["scores"]) - np_(base["scores"])[perm][:, perm]).max() > 1e-3


@pytest.mark.parametrize("perm", [[1, 0, 2, 3, 4, 5], [5, 4, 3, 2, 1, 0]])
def test_causal_mask_breaks_equivariance(perm):
    x, w = x64(GENERIC), f64_weights()
    base = attention.attend(x, w, scheme="none", causal=True)
    shuf = attention.attend(x[perm], w, scheme="none", causal=True)
    assert np.abs(np_(shuf["out"]) - np_(base["out"])[perm]).max() > 1e-3


def test_probabilities_rows_sum_to_one_and_causal_upper_triangle_zero():
    x, w = x64(GENERIC * 2), f64_weights()
    for scheme in attention.SCHEMES:
        for causal in (False, True):
            p = np_(attention.attend(x, w, scheme=scheme, causal=causal)["probs"])
            np.testing.assert_allclose(p.sum(-1), 1.0, rtol=0, atol=1e-12)
            assert np.all(p >= 0)
            if causal:
                assert np.all(p[np.triu_indices(len(p), 1)] == 0.0)
                assert p[0, 0] == 1.0  # the first token sees only itself


@pytest.mark.parametrize("scheme", list(attention.SCHEMES))
def test_score_terms_sum_to_scores(scheme):
    x, w = x64(GENERIC), f64_weights()
    terms = attention.score_terms(x, w, scheme=scheme)
    total = sum(terms.values())
    np.testing.assert_allclose(np_(total), np_(attention.attend(x, w, scheme=scheme)["scores"]),
                               rtol=0, atol=1e-10)
    if scheme in ("sinusoidal", "learned"):
        assert len(terms) == 4
    elif scheme == "distance_bias":
        assert len(terms) == 2


def test_score_terms_sinusoidal_against_numpy():
    x, w = x64(GENERIC), f64_weights()
    terms = attention.score_terms(x, w, scheme="sinusoidal")
    xx, pe = np_(x), ref_vaswani_pe(len(GENERIC), DIM)
    wq, wk = np_(w.wq), np_(w.wk)
    np.testing.assert_allclose(np_(terms["content · position"]), (xx @ wq) @ (pe @ wk).T / 4, atol=1e-6)
    np.testing.assert_allclose(np_(terms["position · position"]), (pe @ wq) @ (pe @ wk).T / 4, atol=1e-6)
    np.testing.assert_allclose(np_(terms["content · content"]), (xx @ wq) @ (xx @ wk).T / 4, atol=1e-12)
    bias = np_(attention.score_terms(x, w, scheme="distance_bias")["position bias b_ij"])
    i = np.arange(len(GENERIC))
    np.testing.assert_allclose(bias, -0.5 * np.abs(i[:, None] - i[None, :]), atol=0)


def test_softmax_with_bias_before_and_after():
    rng = np.random.default_rng(0)
    s = rng.standard_normal((5, 5))
    i = np.arange(5)
    b = -0.5 * np.abs(i[:, None] - i[None, :])
    before = np_(attention.softmax_with_bias(torch.from_numpy(s), torch.from_numpy(b), where="before"))
    after = np_(attention.softmax_with_bias(torch.from_numpy(s), torch.from_numpy(b), where="after"))
    np.testing.assert_allclose(before, ref_softmax(s + b), rtol=0, atol=1e-12)
    np.testing.assert_allclose(after, ref_softmax(s) + b, rtol=0, atol=1e-12)
    np.testing.assert_allclose(before.sum(-1), 1.0, atol=1e-12)
    assert np.all(np.abs(after.sum(-1) - 1.0) > 0.1)  # rows stop summing to one
    assert after.min() < 0  # and can go negative
    with pytest.raises(ValueError, match="where"):
        attention.softmax_with_bias(torch.from_numpy(s), torch.from_numpy(b), where="during")


# --------------------------------------------------------------------------- RoPE and distance-bias schemes


def test_rope_scheme_matches_roformer_and_preserves_norms():
    rng = np.random.default_rng(2)
    q, k = rng.standard_normal((20, DIM)), rng.standard_normal((20, DIM))
    pos = np.arange(20) * 37 + 5
    rq, rk = attention.SCHEMES["rope"].rotate(torch.from_numpy(q), torch.from_numpy(k), torch.from_numpy(pos))
    np.testing.assert_allclose(np_(rq), ref_roformer(q, pos), rtol=0, atol=1e-12)
    np.testing.assert_allclose(np_(rk), ref_roformer(k, pos), rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(np_(rq), axis=1), np.linalg.norm(q, axis=1), rtol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(np_(rk), axis=1), np.linalg.norm(k, axis=1), rtol=1e-12)
    # per-pair norms too: each 2D pair is rotated, not mixed with another pair
    pair = lambda a: np.sqrt(a[:, 0::2] ** 2 + a[:, 1::2] ** 2)  # noqa: E731
    np.testing.assert_allclose(pair(np_(rq)), pair(q), rtol=1e-12)


@given(i=st.integers(0, 3000), j=st.integers(0, 3000), shift=st.integers(-3000, 3000))
@SETTINGS
def test_rope_dot_depends_only_on_offset(i, j, shift):
    rng = np.random.default_rng(11)
    q, k = rng.standard_normal((1, DIM)), rng.standard_normal((1, DIM))
    rot = attention.SCHEMES["rope"].rotate

    def dot(a, b):
        rq, _ = rot(torch.from_numpy(q), torch.from_numpy(q), torch.tensor([a]))
        _, rk = rot(torch.from_numpy(k), torch.from_numpy(k), torch.tensor([b]))
        return float((rq @ rk.T)[0, 0])

    shifted = (i + shift, j + shift) if min(i, j) + shift >= 0 else (i - shift, j - shift)
    assert dot(i, j) == pytest.approx(dot(*shifted), abs=1e-9)
    # and equals the RoFormer closed form Re[Σ q_c conj(k_c) e^{i(i−j)θ}]
    theta = 10000.0 ** (-np.arange(0, DIM, 2) / DIM)
    qc, kc = q[0, 0::2] + 1j * q[0, 1::2], k[0, 0::2] + 1j * k[0, 1::2]
    assert dot(i, j) == pytest.approx(float(np.real(np.sum(qc * np.conj(kc) * np.exp(1j * (i - j) * theta)))),
                                      abs=1e-9)


@pytest.mark.parametrize("scheme", ["rope", "distance_bias"])
@pytest.mark.parametrize("delta", [1, 7, 100, 2500])
def test_relative_schemes_are_shift_invariant(scheme, delta):
    x, w = x64(GENERIC), f64_weights()
    n = len(GENERIC)
    a = attention.attend(x, w, positions=torch.arange(n), scheme=scheme)
    b = attention.attend(x, w, positions=torch.arange(n) + delta, scheme=scheme)
    np.testing.assert_allclose(np_(b["scores"]), np_(a["scores"]), rtol=0, atol=1e-9)
    np.testing.assert_allclose(np_(b["out"]), np_(a["out"]), rtol=0, atol=1e-9)


@pytest.mark.parametrize("scheme", ["sinusoidal", "learned"])
def test_absolute_schemes_are_not_shift_invariant(scheme):
    x, w = x64(GENERIC), f64_weights()
    n = len(GENERIC)
    a = attention.attend(x, w, positions=torch.arange(n), scheme=scheme)
    b = attention.attend(x, w, positions=torch.arange(n) + 7, scheme=scheme)
    assert np.abs(np_(b["scores"]) - np_(a["scores"])).max() > 1e-3


# --------------------------------------------------------------------------- words and word vectors


def test_words_nfc_normalises():
    decomposed = "cafe\u0301 au lait"
    assert unicodedata.normalize("NFC", "cafe\u0301") == "caf\u00e9"
    assert attention.words(decomposed) == ["caf\u00e9", "au", "lait"]
    assert attention.words("caf\u00e9 au lait") == attention.words(decomposed)


@pytest.mark.parametrize("raw,expected", [
    ("zero\u200bwidth space", ["zerowidth", "space"]),
    ("a\u200d b\ufeff c\u2060", ["a", "b", "c"]),
    ("bell\x07 and\x00 nul", ["bell", "and", "nul"]),
    ("soft\u00adhyphen", ["softhyphen"]),
    ("  tabs\tand\nnewlines  ", ["tabs", "and", "newlines"]),
    ("rtl\u202e mark", ["rtl", "mark"]),
])
def test_words_drop_invisible_and_control(raw, expected):
    assert attention.words(raw) == expected


@pytest.mark.parametrize("bad", ["", "   ", "\u200b\u200b", "\x00\x01", "x" * 101,
                                 " ".join(["w"] * 13), None, 42, ["a", "b"]])
def test_words_rejects_bad_sentences(bad):
    with pytest.raises(ValueError, match="sentence"):
        attention.words(bad)


def test_words_limits_are_inclusive():
    assert len(attention.words(" ".join(["w"] * 12))) == 12
    assert attention.words("y" * 100) == ["y" * 100]


@given(tokens=sentences, dim=st.sampled_from([2, 8, 16]))
@SETTINGS
def test_word_vectors_same_word_same_vector(tokens, dim):
    v = attention.word_vectors(tokens, dim)
    assert v.shape == (len(tokens), dim) and v.dtype == torch.float32
    for a in range(len(tokens)):
        for b in range(len(tokens)):
            assert torch.equal(v[a], v[b]) == (tokens[a] == tokens[b])
    # context-free: a word's vector does not depend on the other words
    for t, row in zip(tokens, v):
        assert torch.equal(attention.word_vectors([t], dim)[0], row)


def test_word_vectors_rejects_bad_dim():
    with pytest.raises(ValueError, match="dim"):
        attention.word_vectors(["a"], 1)


def test_random_weights_seeded_and_scaled():
    a, b, c = attention.random_weights(64, 3), attention.random_weights(64, 3), attention.random_weights(64, 4)
    assert torch.equal(a.wq, b.wq) and not torch.equal(a.wq, c.wq)
    assert not torch.equal(a.wq, a.wk)
    assert float(a.wq.var()) == pytest.approx(1 / 64, rel=0.1)


# --------------------------------------------------------------------------- diagnostics


@pytest.mark.parametrize("sentence", ["the cat sat on the mat", "a b c d e f g h i j k l",
                                      "dog bites man", "one"])
@pytest.mark.parametrize("seed", [0, 1, 5])
def test_permutation_test_none_has_zero_gaps(sentence, seed):
    r = diagnostics.permutation_test(sentence, "none", seed=seed)
    assert r.score_gap < 1e-12 and r.output_gap < 1e-12
    assert r.visibility_changes == 0
    assert sorted(r.shuffled) == sorted(r.tokens)
    assert r.shuffled == [r.tokens[i] for i in r.perm.tolist()]


@pytest.mark.parametrize("scheme", POSITIONAL)
@pytest.mark.parametrize("seed", [0, 1, 5])
def test_permutation_test_position_has_large_gaps(scheme, seed):
    r = diagnostics.permutation_test("the cat sat on a mat", scheme, seed=seed)
    assert r.output_gap > 1e-3
    assert r.score_gap > 1e-3


@pytest.mark.parametrize("seed", [0, 1, 5])
def test_permutation_test_causal_none(seed):
    r = diagnostics.permutation_test("the cat sat on a mat", "none", seed=seed, causal=True)
    assert r.output_gap > 1e-3  # each word now sees a different prefix
    assert r.visibility_changes > 0
    assert r.score_gap < 1e-12  # where both runs see a pair, the content score is the same


@given(n=st.integers(1, 40), seed=st.integers(0, 10_000))
@SETTINGS
def test_permutation_moves_something(n, seed):
    p = diagnostics.permutation(n, seed)
    assert sorted(p.tolist()) == list(range(n))
    if n > 1:
        assert p.tolist() != list(range(n))
    assert torch.equal(p, diagnostics.permutation(n, seed))


def brute_seen(train_len: int, eval_len: int) -> tuple[float, float]:
    positions = sum(1 for p in range(eval_len) if p < train_len) / eval_len
    pairs = [(i, j) for i in range(eval_len) for j in range(i + 1)]
    offsets_seen_in_training = {i - j for i in range(train_len) for j in range(i + 1)}
    offsets = sum(1 for i, j in pairs if (i - j) in offsets_seen_in_training) / len(pairs)
    return positions, offsets


@given(train_len=st.integers(1, 30), eval_len=st.integers(1, 60))
@settings(deadline=None, max_examples=80)
def test_seen_fraction_matches_brute_force(train_len, eval_len):
    got = diagnostics.seen_fraction(train_len, eval_len)
    pos, off = brute_seen(train_len, eval_len)
    assert got["positions"] == pytest.approx(pos, abs=1e-12)
    assert got["offsets"] == pytest.approx(off, abs=1e-12)


def test_seen_fraction_stored_values_and_errors():
    got = diagnostics.seen_fraction(512, 2048)
    assert got["positions"] == 0.25
    # unseen offsets 512..2047: Σ_{m=1}^{1536} m = 1536·1537/2 of 2048·2049/2 causal pairs
    assert got["offsets"] == pytest.approx(1 - 1536 * 1537 / (2048 * 2049), abs=1e-15)
    with pytest.raises(ValueError, match="train_len"):
        diagnostics.seen_fraction(0, 5)
    with pytest.raises(ValueError, match="eval_len"):
        diagnostics.seen_fraction(5, 0)


# --------------------------------------------------------------------------- argument validation


def test_word_vectors_empty_raises_value_error():
    with pytest.raises(ValueError, match="tokens"):
        attention.word_vectors([], 8)


@pytest.mark.parametrize("scheme", list(attention.SCHEMES))
def test_attend_rejects_positions_of_wrong_length(scheme):
    x = attention.word_vectors(["a", "b", "c"], 8)
    with pytest.raises(ValueError, match="positions"):
        attention.attend(x, attention.random_weights(8), positions=[0, 1], scheme=scheme)


@pytest.mark.parametrize("scheme", ["sinusoidal", "learned"])
def test_attend_rejects_negative_positions_for_tables(scheme):
    x = attention.word_vectors(["a", "b", "c"], 8)
    with pytest.raises(ValueError, match="positions"):
        attention.attend(x, attention.random_weights(8), positions=[0, -1, 2], scheme=scheme)
