"""posviz.engine: one attention engine for every scheme, checked against independent float64 references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from posviz import alibi, attention, engine, relative, scaling

SCHEME_NAMES = list(engine.SCHEMES)
POSITIONED = [n for n in SCHEME_NAMES if n != "none"]
RELATIVE = ["t5", "rope", "alibi"]
ABSOLUTE = ["sinusoidal", "learned"]


def np_(t):
    return t.detach().cpu().double().numpy()


def layer64(d=16, h=4, seed=3, **kw):
    return engine.random_layer(d, h, seed, **kw).double()


def x64(n, d=16, seed=0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# --------------------------------------------------------------------------- an independent reference


def ref_pe(positions, dim, base=10000.0):
    """Vaswani et al. §3.5, interleaved: PE[p, 2i] = sin(p/base^(2i/d)), PE[p, 2i+1] = cos(...)."""
    out = np.zeros((len(positions), dim))
    for r, p in enumerate(positions):
        for i in range(dim // 2):
            out[r, 2 * i] = math.sin(p / base ** (2 * i / dim))
            out[r, 2 * i + 1] = math.cos(p / base ** (2 * i / dim))
    return out


def ref_rope_half(x, positions, inv_freq, factor=1.0):
    """Llama/NeoX rotate_half: pairs (i, i + d/2) turned by p·θ_i; cos and sin times ``factor``."""
    d = x.shape[-1]
    out = np.empty_like(x)
    for r, p in enumerate(positions):
        for i in range(d // 2):
            c, s = math.cos(p * inv_freq[i]) * factor, math.sin(p * inv_freq[i]) * factor
            a, b = x[..., r, i], x[..., r, i + d // 2]
            out[..., r, i], out[..., r, i + d // 2] = a * c - b * s, a * s + b * c
    return out


def bloom_slopes(h):
    """BLOOM's build_alibi_tensor slopes, written out."""
    closest = 2 ** math.floor(math.log2(h))
    base = 2 ** (-(2 ** -(math.log2(closest) - 3)))
    out = [base ** p for p in range(1, closest + 1)]
    if closest != h:
        extra = 2 ** (-(2 ** -(math.log2(2 * closest) - 3)))
        out += [extra ** p for p in range(1, 1 + 2 * (h - closest), 2)]
    return np.array(out)


def ref_forward(x, w, name, positions, causal=True, pad=None, scheme=None):
    """Multi-head attention in numpy loops, float64, for one of the registry's schemes."""
    x, pos = np_(x), np.asarray(positions)
    n, d = x.shape
    h, hd = w.n_heads, w.head_dim
    scheme = scheme or engine.SCHEMES[name]
    if name == "sinusoidal":
        x = x + ref_pe(pos, d)
    if name == "learned":
        x = x + np_(engine._seeded_table(scheme.max_position + 1, d, engine.LEARNED_STD, engine.LEARNED_SEED,
                                         torch.device("cpu")))[pos]
    split = lambda m: (x @ np_(m)).reshape(n, h, hd).transpose(1, 0, 2)  # noqa: E731
    q, k, v = split(w.wq), split(w.wk), split(w.wv)
    if name == "rope":
        inv = 10000.0 ** (-np.arange(0, hd, 2) / hd)
        q, k = ref_rope_half(q, pos, inv), ref_rope_half(k, pos, inv)
    s = q @ k.transpose(0, 2, 1) / math.sqrt(hd)  # [h, n, n]
    if name == "t5":
        table = np_(engine._t5_default_table(32, 128, True, h))
        for i in range(n):
            for j in range(n):
                b = int(relative.t5_bucket([int(pos[j] - pos[i])])[0])
                s[:, i, j] += table[b]
    if name == "alibi":
        s -= bloom_slopes(h)[:, None, None] * np.abs(pos[:, None] - pos[None, :])[None]
    vis = np.ones((n, n), bool) if pad is None else np.broadcast_to(np.asarray(pad, bool)[None, :], (n, n)).copy()
    if causal:
        vis &= np.tril(np.ones((n, n), bool))
    e = np.where(vis, np.exp(s - np.where(vis, s, -np.inf).max(-1, keepdims=True)), 0.0)
    with np.errstate(invalid="ignore"):
        p = np.nan_to_num(e / e.sum(-1, keepdims=True))
    out = (p @ v).transpose(1, 0, 2).reshape(n, h * hd) @ np_(w.wo)
    return s, p, out


@pytest.mark.parametrize("name", SCHEME_NAMES)
@pytest.mark.parametrize("causal", [True, False])
def test_forward_matches_numpy_reference(name, causal):
    x, w = x64(7), layer64()
    pos = [3, 4, 5, 6, 7, 8, 9]
    got = engine.forward(x, w, name, pos, causal=causal)
    s, p, out = ref_forward(x, w, name, pos, causal=causal)
    tol = 1e-6 if name == "sinusoidal" else 1e-9  # the sinusoid hook returns float32 rows (angles in float64)
    np.testing.assert_allclose(np_(got.scores), s, atol=tol)
    np.testing.assert_allclose(np_(got.probs), p, atol=tol)
    np.testing.assert_allclose(np_(got.out), out, atol=tol)
    assert got.out.shape == (7, 16) and got.scores.shape == (4, 7, 7)


@pytest.mark.parametrize("method", list(scaling.METHODS))
def test_rope_with_every_scaling_method_matches_reference(method):
    x, w = x64(6), layer64()
    s = engine.make_scheme("rope", method=method, factor=4.0, original_max_position=32)
    got = engine.forward(x, w, s, list(range(40, 46)))
    inv, af = scaling.rope_frequencies(method, 4, factor=4.0, original_max_position=32,
                                       seq_len=128 if method == "dynamic" else None)
    q = (np_(x) @ np_(w.wq)).reshape(6, 4, 4).transpose(1, 0, 2)
    k = (np_(x) @ np_(w.wk)).reshape(6, 4, 4).transpose(1, 0, 2)
    pos = np.arange(40, 46)
    rq, rk = ref_rope_half(q, pos, np_(inv), af), ref_rope_half(k, pos, np_(inv), af)
    np.testing.assert_allclose(np_(got.scores), rq @ rk.transpose(0, 2, 1) / 2.0, atol=1e-9)


def test_alibi_bias_equals_alibi_module_on_visible_keys():
    for h in (1, 4, 8, 12):
        b = engine.SCHEMES["alibi"].bias(torch.arange(9), torch.arange(9), h)  # [h, 9, 9]
        ref = alibi.bias(h, 9)  # slot-based, causal
        vis = alibi.causal_mask(9)
        torch.testing.assert_close(b[:, vis], ref[:, vis])
        # by distance and head, from BLOOM's slopes: −m_h · d
        d = 5
        np.testing.assert_allclose(np_(b[:, 7, 7 - d]), -bloom_slopes(h) * d, rtol=1e-6)


def test_t5_bias_reads_its_bucket_and_is_a_function_of_the_offset():
    s = engine.SCHEMES["t5"]
    b = s.bias(torch.arange(20), torch.arange(20), 3)  # [3, 20, 20]
    assert relative.toeplitz_gap(b) == 0.0
    table = engine._t5_default_table(32, 128, True, 3)
    assert torch.equal(b[:, 15, 2], table[int(relative.t5_bucket([2 - 15])[0])])
    # a trainable table of the right shape is read instead
    mine = torch.arange(32 * 3, dtype=torch.float32).reshape(32, 3)
    b2 = engine.make_scheme("t5", table=mine).bias(torch.tensor([4]), torch.tensor([0]), 3)
    assert torch.equal(b2[:, 0, 0], mine[int(relative.t5_bucket([-4])[0])])
    with pytest.raises(ValueError, match="table"):
        engine.make_scheme("t5", table=mine).bias(torch.tensor([4]), torch.tensor([0]), 4)


# --------------------------------------------------------------------------- the properties the lesson claims


@pytest.mark.parametrize("name", RELATIVE)
@pytest.mark.parametrize("delta", [1, 13, 500])
def test_relative_schemes_are_shift_invariant(name, delta):
    x, w = x64(9), layer64()
    a = engine.forward(x, w, name, torch.arange(9))
    b = engine.forward(x, w, name, torch.arange(9) + delta)
    assert float((a.scores - b.scores).abs().max()) < 1e-9
    assert float((a.out - b.out).abs().max()) < 1e-9


@pytest.mark.parametrize("method", [m for m in scaling.METHODS if m != "default"])
def test_scaled_rope_stays_shift_invariant(method):
    x, w = x64(9), layer64()
    s = engine.make_scheme("rope", method=method, factor=8.0, original_max_position=16)
    a, b = engine.forward(x, w, s, torch.arange(9)), engine.forward(x, w, s, torch.arange(9) + 300)
    assert float((a.scores - b.scores).abs().max()) < 1e-9


@pytest.mark.parametrize("name", ABSOLUTE)
def test_absolute_schemes_are_not_shift_invariant(name):
    x, w = x64(9), layer64()
    a = engine.forward(x, w, name, torch.arange(9))
    b = engine.forward(x, w, name, torch.arange(9) + 7)
    assert float((a.scores - b.scores).abs().max()) > 1e-3


def test_without_position_or_mask_attention_is_permutation_equivariant():
    x, w = x64(8), layer64()
    perm = torch.tensor([3, 0, 7, 1, 6, 2, 5, 4])
    a = engine.forward(x, w, "none", torch.arange(8), causal=False)
    b = engine.forward(x[perm], w, "none", torch.arange(8), causal=False)
    assert float((b.out - a.out[perm]).abs().max()) < 1e-12
    assert float((b.scores - a.scores[:, perm][:, :, perm]).abs().max()) < 1e-12
    c = engine.forward(x[perm], w, "none", torch.arange(8), causal=True)  # the mask alone breaks it
    d = engine.forward(x, w, "none", torch.arange(8), causal=True)
    assert float((c.out - d.out[perm]).abs().max()) > 1e-3


@pytest.mark.parametrize("name", POSITIONED)
def test_every_position_scheme_breaks_equivariance(name):
    x, w = x64(8), layer64()
    perm = torch.tensor([3, 0, 7, 1, 6, 2, 5, 4])
    a = engine.forward(x, w, name, torch.arange(8), causal=False)
    b = engine.forward(x[perm], w, name, torch.arange(8), causal=False)
    assert float((b.out - a.out[perm]).abs().max()) > 1e-3


def test_masks_are_separate_and_padding_is_hidden():
    x, w = x64(6), layer64()
    pad = [False, False, True, True, True, True]
    res = engine.forward(x, w, "rope", [0, 0, 0, 1, 2, 3], padding_mask=pad)
    assert torch.equal(res.probs[:, :, :2], torch.zeros(4, 6, 2, dtype=torch.float64))  # no query reads a pad
    assert torch.equal(res.probs[:, :2], torch.zeros(4, 2, 6, dtype=torch.float64))  # pads see nothing: zeros
    # the real tokens' outputs equal those of the unpadded sequence with the same ids
    alone = engine.forward(x[2:], w, "rope", [0, 1, 2, 3])
    assert float((res.out[2:] - alone.out).abs().max()) < 1e-12
    # no causal mask and no padding: every key visible
    assert bool(engine.forward(x, w, "rope", causal=False).visible.all())


def test_cache_holds_rotated_keys_and_decode_equals_full_recompute():
    x, w = x64(10), layer64()
    ids = torch.arange(10) + 5
    full = engine.forward(x, w, "rope", ids)
    out = engine.forward(x[:6], w, "rope", ids[:6])
    rows = [out.out]
    for t in range(6, 10):
        out = engine.forward(x[t:t + 1], w, "rope", ids[t:t + 1], cache=out.cache)
        rows.append(out.out)
    assert float((torch.cat(rows) - full.out).abs().max()) < 1e-12
    assert torch.equal(out.cache.positions, ids) and out.cache.length == 10
    k = (x @ w.wk).view(10, 4, 4).transpose(0, 1)
    rotated = engine.SCHEMES["rope"].rotate(k, k, ids, ids)[1]
    assert float((out.cache.k - rotated).abs().max()) < 1e-12


def test_learned_table_has_no_row_past_its_length_and_accepts_a_trainable_table():
    s = engine.make_scheme("learned", rows=16)
    assert s.max_position == 15 and s.parameters(8, 2) == 16 * 8
    with pytest.raises(ValueError, match="positions"):
        engine.forward(x64(3, 8), layer64(8, 2), s, [14, 15, 16])
    table = torch.nn.Parameter(torch.randn(16, 8, dtype=torch.float64))
    res = engine.forward(x64(3, 8), layer64(8, 2), engine.make_scheme("learned", table=table), [0, 1, 2])
    res.out.sum().backward()  # the hooks are plain functions a trainable model can call
    assert table.grad is not None and float(table.grad[:3].abs().sum()) > 0 and float(table.grad[3:].abs().sum()) == 0


def test_parameters_are_counted_from_the_tables():
    counts = {n: s.parameters(32, 4) for n, s in engine.scheme_set(64).items()}
    assert counts == {"none": 0, "sinusoidal": 0, "learned": 64 * 32, "t5": 32 * 4, "rope": 0, "alibi": 0}


def test_attention_delegates_to_the_engine():
    """The §1 head is the engine with one head and no output projection."""
    xs = attention.word_vectors(["a", "b", "c", "d"], 8).double()
    w = attention.random_weights(8, seed=2).double()
    got = attention.attend(xs, w, scheme="sinusoidal", causal=True)
    res = engine.forward(xs, w, attention.SCHEMES["sinusoidal"], torch.arange(4), causal=True)
    assert torch.equal(got["out"], res.out) and torch.equal(got["probs"], res.probs[0])


# --------------------------------------------------------------------------- entropy and distance, by hand


def test_entropy_small_cases():
    p = torch.tensor([[1.0, 0, 0, 0], [0.25, 0.25, 0.25, 0.25], [0.5, 0.5, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_allclose(np_(engine.entropy(p)), [0.0, math.log(4), math.log(2), 0.0], atol=1e-7)
    q = torch.tensor([[0.7, 0.2, 0.1]], dtype=torch.float64)
    assert float(engine.entropy(q)[0]) == pytest.approx(-(0.7 * math.log(0.7) + 0.2 * math.log(0.2)
                                                        + 0.1 * math.log(0.1)), abs=1e-12)
    with pytest.raises(ValueError, match="probs"):
        engine.entropy(torch.tensor([[0.5, 0.2]]))


def test_mean_distance_and_histogram_small_case():
    # causal, uniform: query 0 sees {0}, query 1 sees {0, 1}, query 2 sees {0, 1, 2}
    p = torch.tensor([[1, 0, 0], [1 / 2, 1 / 2, 0], [1 / 3, 1 / 3, 1 / 3]], dtype=torch.float64)
    ids = [0, 1, 2]
    np.testing.assert_allclose(np_(engine.mean_distance(p, ids, ids)), [0, 0.5, 1.0], atol=1e-12)
    # mass at distance 0: (1 + 1/2 + 1/3)/3; 1: (1/2 + 1/3)/3; 2: (1/3)/3
    np.testing.assert_allclose(np_(engine.distance_histogram(p, ids, ids)),
                               [(1 + 1 / 2 + 1 / 3) / 3, (1 / 2 + 1 / 3) / 3, 1 / 9], atol=1e-12)
    # ids, not slots: a query at id 10 over keys at ids 4 and 8
    q = torch.tensor([[0.25, 0.75]], dtype=torch.float64)
    assert float(engine.mean_distance(q, [10], [4, 8])[0]) == pytest.approx(0.25 * 6 + 0.75 * 2)
    with pytest.raises(ValueError, match="q_positions"):
        engine.mean_distance(q, [10, 11], [4, 8])


def test_output_reports_entropy_and_distance():
    res = engine.forward(x64(5), layer64(), "none", torch.arange(5))
    assert res.entropy.shape == (4, 5) and res.mean_distance.shape == (4, 5)
    assert bool((res.entropy <= torch.log(torch.arange(1, 6, dtype=torch.float64)) + 1e-12).all())


# --------------------------------------------------------------------------- bad input


def test_bad_input_names_the_argument():
    w = layer64()
    with pytest.raises(ValueError, match="n_heads"):
        engine.random_layer(16, 0)
    q = torch.zeros(4, 5, 4)
    k = torch.zeros(4, 3, 4)
    with pytest.raises(ValueError, match="q must not be longer than the cache"):
        engine.attention(q, k, k, range(5), range(3))
    with pytest.raises(ValueError, match="k and v"):
        engine.attention(torch.zeros(4, 2, 4), torch.zeros(2, 3, 4), torch.zeros(2, 3, 4), range(2), range(3))
    with pytest.raises(ValueError, match="weights.wq"):
        engine.forward(x64(3, 8), w, "none")
    with pytest.raises(ValueError, match="positions"):
        engine.forward(x64(3), w, "rope", [0, 1])
    with pytest.raises(ValueError, match="padding_mask"):
        engine.forward(x64(3), w, "rope", padding_mask=[1, 2, 0])
    with pytest.raises(ValueError, match="cache"):
        engine.forward(x64(3), w, "rope", cache=engine.forward(x64(2, 8), layer64(8, 2), "none").cache)
    with pytest.raises(ValueError, match="options"):
        engine.make_scheme("alibi", slope=1)
    with pytest.raises(ValueError, match="scheme"):
        engine.forward(x64(3), w, "alibi-ish")
