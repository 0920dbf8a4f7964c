"""The §5 page's computations in posviz.relative: Shaw's value side and the demonstrations' verdicts.

Each verdict is checked twice: green on the real code, red when the function it
guards is replaced by a plausible wrong implementation.
"""

import math

import pytest
import torch

from posviz import relative


def randn(gen, *shape):
    return torch.randn(*shape, generator=gen, dtype=torch.float64)


# ---------------------------------------------------------------- shaw_attention

def shaw_loops(q, k, v, a_k, a_v, query_start=0):
    """Shaw et al. eqs. 2-4 with explicit loops over (i, j)."""
    n_q, n_k, d = q.shape[0], k.shape[0], q.shape[1]
    kk = (a_k.shape[0] - 1) // 2
    out = torch.zeros(n_q, v.shape[1], dtype=torch.float64)
    for i in range(n_q):
        rows = [max(-kk, min(kk, j - (i + query_start))) + kk for j in range(n_k)]
        e = torch.stack([q[i] @ (k[j] + a_k[rows[j]]) / math.sqrt(d) for j in range(n_k)])
        alpha = torch.softmax(e, 0)
        for j in range(n_k):
            out[i] += alpha[j] * (v[j] + (a_v[rows[j]] if a_v is not None else 0))
    return out


@pytest.mark.parametrize("q_len,k_len,kk,start", [(5, 5, 2, 0), (3, 7, 1, 4), (6, 6, 0, 0), (4, 9, 3, 2)])
@pytest.mark.parametrize("values", [True, False])
def test_shaw_attention_matches_loops(q_len, k_len, kk, start, values):
    g = torch.Generator().manual_seed(q_len * 100 + k_len)
    q, k, v = randn(g, q_len, 6), randn(g, k_len, 6), randn(g, k_len, 5)
    a_k, a_v = randn(g, 2 * kk + 1, 6), randn(g, 2 * kk + 1, 5)
    att = relative.shaw_attention(q, k, v, a_k, a_v if values else None, query_start=start)
    torch.testing.assert_close(att.out, shaw_loops(q, k, v, a_k, a_v if values else None, start))
    torch.testing.assert_close(att.weights.sum(-1), torch.ones(q_len, dtype=torch.float64))
    if not values:
        assert torch.equal(att.value_term, torch.zeros_like(att.out))


def test_value_side_leaves_the_weights_alone():
    g = torch.Generator().manual_seed(0)
    q, k, v, a_k, a_v = randn(g, 4, 3), randn(g, 4, 3), randn(g, 4, 3), randn(g, 3, 3), randn(g, 3, 3)
    with_v = relative.shaw_attention(q, k, v, a_k, a_v)
    without = relative.shaw_attention(q, k, v, a_k)
    assert torch.equal(with_v.weights, without.weights)
    assert not torch.allclose(with_v.out, without.out)


@pytest.mark.parametrize("v_rows,a_v_shape,match", [(3, (3, 3), "v must"), (4, (5, 3), "rel_values"),
                                                      (4, (3, 2), "rel_values")])
def test_shaw_attention_rejects_bad_shapes(v_rows, a_v_shape, match):
    x = torch.zeros(4, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match=match):
        relative.shaw_attention(x, x, torch.zeros(v_rows, 3), torch.zeros(3, 3), torch.zeros(*a_v_shape))


# ---------------------------------------------------------------- bias_tables

def test_preferred_offset_table_peaks_at_each_heads_offset():
    offs = torch.arange(-60, 61, dtype=torch.float64)
    t = relative.preferred_offset_table(offs, 16)
    for h, c in enumerate(relative.PREFERRED_OFFSETS):
        assert offs[t[:, h].argmax()] == c and t[:, h].max() == pytest.approx(3.0)
    nan_row = relative.preferred_offset_table(torch.tensor([float("nan"), 0.0]), 2)
    assert torch.equal(nan_row[0], torch.zeros(2))


@pytest.mark.parametrize("indexing", ["t5", "clip"])
@pytest.mark.parametrize("table", relative.BIAS_TABLES)
def test_bias_tables_verdict_green(indexing, table):
    res = relative.bias_tables(indexing, table, heads=5, n=30, k=4, seed=2)
    assert res.verdict.ok and "Toeplitz" in res.verdict.claim
    assert res.bias.shape == (5, 30, 30) and res.table.shape == ((32 if indexing == "t5" else 9), 5)


def test_bias_tables_rows_read():
    assert relative.bias_tables("clip", n=9, k=2).rows_read == 5  # offsets clipped to -2..2
    assert relative.bias_tables("clip", n=3, k=6).rows_read == 5  # offsets -2..2 only
    assert relative.bias_tables("t5", n=4).rows_read == 7  # exact buckets 0..3 and 17..19


def test_bias_tables_verdict_turns_red_for_an_absolute_bias(monkeypatch):
    real = relative.relative_bias

    def leaky(table, q_len, *a, **kw):  # adds a bonus to key 0: "the first token gets a bonus"
        b = real(table, q_len, *a, **kw).clone()
        b[..., 0] += 1.0
        return b

    monkeypatch.setattr(relative, "relative_bias", leaky)
    assert not relative.bias_tables("clip", n=12, k=3).verdict.ok


def test_bias_tables_verdict_turns_red_for_a_flipped_sign(monkeypatch):
    """Reading row clip(i - j) instead of clip(j - i) keeps the diagonals constant but mislabels them."""
    real = relative.shaw_index
    monkeypatch.setattr(relative, "shaw_index", lambda q, k=None, d=4, **kw: 2 * d - real(q, k, d, **kw))
    res = relative.bias_tables("clip", "random", n=12, k=3)
    assert res.toeplitz_gap == 0 and res.lookup_gap > 0 and not res.verdict.ok


@pytest.mark.parametrize("kwargs,name", [({"indexing": "abs"}, "indexing"), ({"table": "x"}, "table"),
                                         ({"heads": 0}, "heads"), ({"n": 0}, "n"), ({"k": -1}, "k"),
                                         ({"seed": -1}, "seed")])
def test_bias_tables_rejects_bad_args(kwargs, name):
    with pytest.raises(ValueError, match=name):
        relative.bias_tables(**kwargs)


# ---------------------------------------------------------------- shaw_demo

def test_shaw_demo_defaults():
    res = relative.shaw_demo(3, 10)
    assert [v.ok for v in res.verdicts] == [True, True]
    # queries 4..9 have >= 2 keys at i - j >= 3, and queries 0..5 have >= 2 at j - i >= 3
    assert res.edge_groups == 12
    assert res.rows_read == 7 and int(res.row_counts.sum()) == 100
    assert torch.equal(res.out, res.out_keys_only)


def test_shaw_demo_value_side():
    res = relative.shaw_demo(2, 8, seed=5, values=True)
    assert [v.ok for v in res.verdicts] == [True, True, True]
    assert "Value side" in res.verdicts[-1].claim
    # the same draws with the value side off: same scores, other outputs
    off = relative.shaw_demo(2, 8, seed=5)
    assert torch.equal(off.score, res.score) and not torch.allclose(off.out, res.out)


def test_shaw_demo_short_sequence_has_no_edge_verdict():
    res = relative.shaw_demo(3, 3)
    assert res.edge_groups == 0 and len(res.verdicts) == 1


def test_shaw_demo_k0_every_key_shares_one_vector():
    res = relative.shaw_demo(0, 5)
    assert res.verdicts[1].ok and "k = 0" in res.verdicts[1].claim
    assert res.rows_read == 1


def test_shaw_demo_verdicts_turn_red_when_clipping_is_wrong(monkeypatch):
    # no clipping at all: each offset reads its own row (mod the table size)
    monkeypatch.setattr(relative, "shaw_index",
                        lambda q, k=None, d=4, **kw: (d - relative.offsets(q, k, **kw)) % (2 * d + 1))
    res = relative.shaw_demo(2, 9, values=True)
    assert [v.ok for v in res.verdicts] == [False, False, False]


def test_shaw_demo_value_verdict_turns_red_without_the_value_table(monkeypatch):
    real = relative.shaw_attention
    monkeypatch.setattr(relative, "shaw_attention",
                        lambda q, k, v, a_k, a_v=None, **kw: real(q, k, v, a_k, None, **kw))
    assert not relative.shaw_demo(2, 9, values=True).verdicts[-1].ok


# ---------------------------------------------------------------- xl_demo

def test_xl_demo_verdicts_and_shapes():
    res = relative.xl_demo(5, 3, seed=1)
    assert all(v.ok for v in res.verdicts)
    assert all(t.shape == (5, 8) for t in res.terms.values())
    assert res.key_positions.tolist() == list(range(-3, 5))
    assert list(res.mean_abs) == ["(a)", "(b)", "(c)", "(d)"]


def test_xl_demo_sum_verdict_turns_red_without_u(monkeypatch):
    real = relative.transformer_xl_score
    monkeypatch.setattr(relative, "transformer_xl_score",
                        lambda xq, xk, wq, we, wr, u, v, *a, **kw: real(xq, xk, wq, we, wr, 0 * u, v, *a, **kw))
    add, shape = relative.xl_demo(4, 2).verdicts
    assert not add.ok and shape.ok


def test_xl_demo_shape_verdict_turns_red_for_absolute_R(monkeypatch):
    """R built from the key's absolute index instead of i - j: term (d) is no longer Toeplitz."""
    monkeypatch.setattr(relative, "offsets",
                        lambda q, k=None, *, query_start=0, device=None: torch.arange(k)[None].expand(q, k))
    add, shape = relative.xl_demo(4, 2).verdicts
    assert add.ok and not shape.ok


# ---------------------------------------------------------------- segment_memory

def test_segment_memory_slots_and_clashes():
    res = relative.segment_memory(4, 6, 2)
    counts = {s: int((res.slots == s).sum()) for s in relative.KeySlot}
    assert counts == {relative.KeySlot.EMPTY: 0, relative.KeySlot.MASKED: 6, relative.KeySlot.MEMORY: 24,
                      relative.KeySlot.CURRENT: 10}
    assert res.verdict.ok and res.restart_clashes == 6 and res.real_keys == 10


def test_segment_memory_before_the_text():
    res = relative.segment_memory(4, 6, 1)  # only 4 earlier tokens for 6 memory slots
    assert res.empty_slots == 2 and int((res.slots == relative.KeySlot.EMPTY).sum()) == 8
    assert relative.segment_memory(4, 0, 3).restart_clashes == 0


def test_segment_memory_verdict_turns_red_for_restarting_ids(monkeypatch):
    real = relative.segment_memory_positions

    def restarting(L, mem, *, segment_index=1, device=None):
        out = dict(real(L, mem, segment_index=segment_index, device=device))
        out["offsets"] = out["query_positions"][:, None] % L - out["key_positions"][None, :] % L
        return out

    monkeypatch.setattr(relative, "segment_memory_positions", restarting)
    assert not relative.segment_memory(4, 6, 2).verdict.ok


@pytest.mark.parametrize("args,name", [((0, 2, 1), "segment_len"), ((2, -1, 1), "mem_len"),
                                       ((2, 2, -1), "segment_index")])
def test_segment_memory_rejects_bad_args(args, name):
    with pytest.raises(ValueError, match=name):
        relative.segment_memory(*args)


# ---------------------------------------------------------------- T5

def test_t5_staircase_defaults():
    res = relative.t5_staircase()
    assert res.first_last == {"bidirectional": 91, "causal": 113}
    assert res.unused == {"bidirectional": [16], "causal": []}
    assert all(v.ok for v in res.verdicts)
    assert set(res.buckets) == set(res.marks) == set(relative.T5_MODES.values())


def test_t5_staircase_verdicts_turn_red_for_a_clip(monkeypatch):
    """A bucketing that scales |j - i| linearly and clips at max_distance: the seeds' wrong reading of T5."""
    def clipped(rp, bidirectional=True, num_buckets=32, max_distance=128, *, device=None):
        rp = torch.as_tensor(rp)
        half = num_buckets // 2 if bidirectional else num_buckets
        n = rp.abs() if bidirectional else (-rp).clamp(min=0)
        top = (n.clamp(max=max_distance) * (half - 1)) // max_distance
        return top + (half * (rp > 0) if bidirectional else 0)

    monkeypatch.setattr(relative, "t5_bucket", clipped)
    res = relative.t5_staircase(32, 128)
    assert [v.ok for v in res.verdicts] == [False, False]


def test_t5_usage_counts_and_mask():
    bi = relative.t5_usage(n=64)
    assert int(bi.counts.sum()) == 64 * 64 and bi.unread == 5  # buckets 14, 15, 16, 30, 31 unread
    ca = relative.t5_usage(n=10, mode="causal")
    assert int(ca.counts.sum()) == 55 and ca.label == relative.T5_MODES["causal"]
    assert torch.isnan(ca.bias.triu(1)[torch.ones(10, 10).triu(1).bool()]).all()
    assert not torch.isnan(ca.bias.tril()).any()
    assert not torch.equal(relative.t5_usage(n=10, random=True).bias, relative.t5_usage(n=10).bias)


def test_t5_usage_rejects_bad_args():
    with pytest.raises(ValueError, match="mode"):
        relative.t5_usage(mode="both")
    with pytest.raises(ValueError, match="max_distance"):
        relative.t5_usage(128, 16, mode="causal")
