"""Tests for posviz.relative: offsets, Shaw clipping, T5 buckets, bias tables, Transformer-XL.

Every reference here is written independently of the code under test: pure
Python loops, float64 math, or exact integer arithmetic.
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from posviz import absolute, relative

R_RANGE = list(range(-300, 301))
CONFIGS = [(32, 128), (64, 128), (16, 64), (8, 20), (128, 256), (32, 300)]


# ---------------------------------------------------------------- references

def t5_ref_exact(r, bidirectional, num_buckets, max_distance):
    """T5's rule with no floating point: floor(x) >= t  <=>  (n/e)^(h-e) >= (m/e)^t."""
    half = num_buckets // 2 if bidirectional else num_buckets
    base = half if (bidirectional and r > 0) else 0
    n = abs(r) if bidirectional else max(-r, 0)
    e = half // 2
    if n < e:
        return base + n
    t = 0
    while t < half - 1 - e and n ** (half - e) * e ** (t + 1) >= max_distance ** (t + 1) * e ** (half - e):
        t += 1
    return base + e + t


def t5_allowed(r, bidirectional, num_buckets, max_distance):
    """Buckets a correct float32 implementation may give for offset ``r``: a set of one or two.

    The exact bucket (``t5_ref_exact``), plus, only where the exact log ratio
    ``x = log(n/e) / log(m/e) * (h - e)`` lies on an integer ``T >= 1`` or within
    float32 error of one (a bucket edge), the bucket on the other side of that edge:
    whether float32 lands just below or just above an edge depends on the CPU's ``log``
    (MKL, SLEEF or libm, and which vector width), not on T5. ``T = 0`` (n = e) is no
    edge: log(1) is 0 and truncation sends a tiny negative error to 0 as well.
    """
    exact = t5_ref_exact(r, bidirectional, num_buckets, max_distance)
    half = num_buckets // 2 if bidirectional else num_buckets
    base = half if (bidirectional and r > 0) else 0
    n = abs(r) if bidirectional else max(-r, 0)
    e, k = half // 2, half - half // 2
    if n < e:
        return {exact}
    scale = k / math.log(max_distance / e)
    x = math.log(n / e) * scale  # float64: ~1e-15 off, far below the float32 error bound
    T = round(x)
    # float32 error bound on x: a few units of 2^-24 on log(n/e), on log(m/e) and on the products
    tol = 2.0 ** -18 * (1 + x + scale)
    if T < 1 or abs(x - T) > tol:
        return {exact}
    allowed = {base + min(e + t, half - 1) for t in (T - 1, T)}
    assert exact in allowed
    return allowed


def t5_ref_float32_torch(rp, bidirectional, num_buckets, max_distance):
    """Float32 torch version laid out like Hugging Face T5Attention._relative_position_bucket."""
    out = torch.zeros_like(rp)
    if bidirectional:
        num_buckets //= 2
        out = out + (rp > 0).to(torch.long) * num_buckets
        rp = torch.abs(rp)
    else:
        rp = -torch.min(rp, torch.zeros_like(rp))
    max_exact = num_buckets // 2
    logs = torch.log(rp.float() / max_exact) / math.log(max_distance / max_exact)
    large = max_exact + (logs * (num_buckets - max_exact)).to(torch.long)
    large = torch.min(large, torch.full_like(large, num_buckets - 1))
    return out + torch.where(rp < max_exact, rp, large)


def sinusoid_ref(r, dim, base=10000.0):
    """R_r with layout [sin | cos], in float64."""
    half = dim // 2
    freqs = [base ** (-2 * m / dim) for m in range(half)]
    return np.array([math.sin(r * f) for f in freqs] + [math.cos(r * f) for f in freqs])


def randn(gen, *shape):
    return torch.randn(*shape, generator=gen, dtype=torch.float64)


# ---------------------------------------------------------------- offsets

def test_offsets_is_query_minus_key():
    rel = relative.offsets(4)
    assert rel[3, 0] == 3 and rel[0, 3] == -3
    assert rel.shape == (4, 4) and not rel.is_floating_point()
    rel = relative.offsets(2, 5, query_start=3)
    assert rel.tolist() == [[3 - j for j in range(5)], [4 - j for j in range(5)]]


@pytest.mark.parametrize("kwargs, name", [
    (dict(q_len=0), "q_len"), (dict(q_len=2, k_len=0), "k_len"),
    (dict(q_len=2, query_start=-1), "query_start"), (dict(q_len=1.5), "q_len"),
])
def test_offsets_rejects_bad_args(kwargs, name):
    with pytest.raises(ValueError, match=name):
        relative.offsets(**kwargs)


# ---------------------------------------------------------------- T5 buckets

@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("num_buckets, max_distance", CONFIGS)
def test_t5_bucket_matches_float32_reference_and_exact_rule(bidirectional, num_buckets, max_distance):
    rs = torch.tensor(R_RANGE)
    got = relative.t5_bucket(rs, bidirectional, num_buckets, max_distance)
    # the same float32 computation on this machine: bit for bit
    assert torch.equal(got, t5_ref_float32_torch(rs, bidirectional, num_buckets, max_distance))
    # exact integer math: equal, except that at a bucket edge either side is allowed
    for r, b in zip(R_RANGE, got.tolist()):
        assert b in t5_allowed(r, bidirectional, num_buckets, max_distance), r


@pytest.mark.parametrize("num_buckets, max_distance, bidirectional, r", [
    (32, 939, False, -728),   # exact log ratio 14.999999: 1e-6 below an edge
    (128, 441, False, -168),  # on an edge: 2.625^2 = 6.890625, so the ratio is exactly 1/2 (x = 32)
    (10, 160, False, -10),    # on an edge: log 2 / log 32 * 5 = 1
])
def test_t5_bucket_keeps_reference_float32_rounding(num_buckets, max_distance, bidirectional, r):
    """At an edge posviz rounds as the float32 reference does on the same machine.

    Which side of the edge that is depends on the CPU's float32 ``log`` (the first case
    gave 96 on an AVX-512 Xeon and 95 elsewhere), so no bucket literal is stored: the
    bucket is the exact one or its neighbour across the edge.
    """
    rs = torch.arange(-1000, 1001)
    got = relative.t5_bucket(rs, bidirectional, num_buckets, max_distance)
    assert torch.equal(got, t5_ref_float32_torch(rs, bidirectional, num_buckets, max_distance))
    allowed = t5_allowed(r, bidirectional, num_buckets, max_distance)
    assert len(allowed) == 2  # the case really sits at an edge
    one = int(relative.t5_bucket(r, bidirectional, num_buckets, max_distance))
    assert one in allowed
    assert one == int(t5_ref_float32_torch(torch.tensor([r]), bidirectional, num_buckets, max_distance)[0])


@settings(max_examples=150, deadline=None)
@given(bidirectional=st.booleans(), num_buckets=st.integers(4, 96), extra=st.integers(1, 3000),
       rs=st.lists(st.integers(-5000, 5000), min_size=1, max_size=24))
@example(bidirectional=False, num_buckets=128, extra=441 - 64, rs=[-168, -167, -169])
@example(bidirectional=False, num_buckets=32, extra=939 - 16, rs=[-728])
@example(bidirectional=False, num_buckets=10, extra=160 - 5, rs=[-10, -20, -40, -80])
@example(bidirectional=True, num_buckets=32, extra=128 - 8, rs=[-16, 16, -32, 32, -64, 64])
def test_t5_bucket_equals_float32_reference_on_this_machine(bidirectional, num_buckets, extra, rs):
    """For any arguments: the T5 way in float32 (torch.log) on this CPU, bit for bit, and within one
    bucket of exact math only where exact math sits on (or within float32 error of) an edge."""
    half = num_buckets // 2 if bidirectional else num_buckets
    max_distance = half // 2 + extra
    r = torch.tensor(rs)
    got = relative.t5_bucket(r, bidirectional, num_buckets, max_distance)
    assert torch.equal(got, t5_ref_float32_torch(r, bidirectional, num_buckets, max_distance))
    for ri, b in zip(rs, got.tolist()):
        assert b in t5_allowed(ri, bidirectional, num_buckets, max_distance), ri


# values worked out by hand from the formula (32 buckets, max_distance 128)
HAND = {
    True: {0: 0, -1: 1, -7: 7, -8: 8, -12: 9, -90: 14, -91: 15, -500: 15,
           1: 17, 5: 21, 8: 24, 90: 30, 91: 31, 10_000: 31},
    False: {5: 0, 0: 0, -15: 15, -16: 16, -32: 21, -64: 26, -100: 30, -112: 30, -113: 31, -4000: 31},
}


@pytest.mark.parametrize("bidirectional", [True, False])
def test_t5_bucket_hand_values(bidirectional):
    table = HAND[bidirectional]
    # literals only away from bucket edges, where every CPU's float32 log agrees with exact math
    assert all(t5_allowed(r, bidirectional, 32, 128) == {b} for r, b in table.items())
    got = relative.t5_bucket(list(table), bidirectional=bidirectional)
    assert got.tolist() == list(table.values())


def test_t5_last_bucket_is_reached_at_91_and_113():
    assert relative.t5_first_distance_of_last_bucket(True, 32, 128) == 91
    assert relative.t5_first_distance_of_last_bucket(False, 32, 128) == 113
    b = lambda r, bi: int(relative.t5_bucket(r, bi))  # noqa: E731
    assert (b(-90, True), b(-91, True), b(90, True), b(91, True)) == (14, 15, 30, 31)
    assert (b(-112, False), b(-113, False)) == (30, 31)
    # these literals sit away from bucket edges (no float32 rounding can move them)
    assert all(len(t5_allowed(r, bi, 32, 128)) == 1 for r, bi in [(-90, True), (-91, True), (-112, False), (-113, False)])


@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("num_buckets, max_distance", CONFIGS)
def test_t5_first_distance_of_last_bucket_matches_reference(bidirectional, num_buckets, max_distance):
    half = num_buckets // 2 if bidirectional else num_buckets
    got = relative.t5_first_distance_of_last_bucket(bidirectional, num_buckets, max_distance)
    ref = t5_ref_float32_torch(-torch.arange(max_distance + 1), bidirectional, num_buckets, max_distance)
    assert got == int(torch.nonzero(ref == half - 1)[0, 0])  # float32 on this machine
    # exact math: the last bucket is reachable at got, and certainly not reached before it
    # (at an edge, e.g. (16, 64) bidirectional at n = 32, either neighbour is a correct float32 answer)
    assert half - 1 in t5_allowed(-got, bidirectional, num_buckets, max_distance)
    assert all(t5_allowed(-n, bidirectional, num_buckets, max_distance) != {half - 1} for n in range(got))


@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("num_buckets, max_distance", CONFIGS)
def test_t5_bucket_monotone_and_covers_all_buckets(bidirectional, num_buckets, max_distance):
    n = torch.arange(0, 2000)
    past = relative.t5_bucket(-n, bidirectional, num_buckets, max_distance)
    assert bool((past.diff() >= 0).all())
    used = set(past.tolist())
    if bidirectional:
        future = relative.t5_bucket(n[1:], True, num_buckets, max_distance)
        assert bool((future.diff() >= 0).all())
        assert (future - num_buckets // 2).tolist() == past[1:].tolist()  # same bins, other half
        used |= set(future.tolist())
        # a T5 quirk: bucket num_buckets // 2 (a future key at n = 0) is never used
        assert used == set(range(num_buckets)) - {num_buckets // 2}
    else:
        assert relative.t5_bucket(n, False, num_buckets, max_distance).eq(0).all()  # future keys
        assert used == set(range(num_buckets))


def test_t5_bucket_accepts_ints_lists_and_tensors():
    assert int(relative.t5_bucket(-91)) == 15
    assert relative.t5_bucket([[-91, 91]]).tolist() == [[15, 31]]
    assert relative.t5_bucket(torch.tensor([-91.0, 91.0])).tolist() == [15, 31]
    assert relative.t5_bucket(np.array([3])).tolist() == [19]
    assert relative.t5_bucket(torch.tensor([1, 2]), device="cpu").device.type == "cpu"


@pytest.mark.parametrize("args, name", [
    (dict(relative_position=[0.5]), "relative_position"),
    (dict(relative_position=0, num_buckets=2), "num_buckets"),
    (dict(relative_position=0, num_buckets=1, bidirectional=False), "num_buckets"),
    (dict(relative_position=0, num_buckets=32, max_distance=8), "max_distance"),
    (dict(relative_position=0, bidirectional="yes"), "bidirectional"),
])
def test_t5_bucket_rejects_bad_args(args, name):
    with pytest.raises(ValueError, match=name):
        relative.t5_bucket(**args)


# ---------------------------------------------------------------- Shaw

@pytest.mark.parametrize("k", [0, 1, 3])
def test_shaw_clip_collapses_far_offsets(k):
    got = relative.shaw_clip(6, 9, k, query_start=2)
    expected = [[max(-k, min(k, (2 + i) - j)) for j in range(9)] for i in range(6)]
    assert got.tolist() == expected
    index = relative.shaw_index(6, 9, k, query_start=2)
    assert index.tolist() == [[max(-k, min(k, j - (2 + i))) + k for j in range(9)] for i in range(6)]
    assert int(index.min()) >= 0 and int(index.max()) <= 2 * k


def test_shaw_clip_rejects_negative_max_distance():
    with pytest.raises(ValueError, match="max_distance"):
        relative.shaw_clip(4, max_distance=-1)


@settings(max_examples=25, deadline=None)
@given(q_len=st.integers(1, 6), k_len=st.integers(1, 7), k=st.integers(0, 3),
       d=st.integers(1, 5), start=st.integers(0, 4), seed=st.integers(0, 2**16))
def test_shaw_scores_match_loops(q_len, k_len, k, d, start, seed):
    gen = torch.Generator().manual_seed(seed)
    q, kk, a = randn(gen, 2, q_len, d), randn(gen, 2, k_len, d), randn(gen, 2 * k + 1, d)
    terms = relative.shaw_terms(q, kk, a, k, query_start=start)
    scores = relative.shaw_scores(q, kk, a, query_start=start)
    qn, kn, an = q.numpy(), kk.numpy(), a.numpy()
    for b in range(2):
        for i in range(q_len):
            for j in range(k_len):
                w = an[max(-k, min(k, j - (start + i))) + k]  # Shaw's a^K_ij = w_clip(j-i, k)
                content = qn[b, i] @ kn[b, j] / math.sqrt(d)
                position = qn[b, i] @ w / math.sqrt(d)
                assert terms["content"][b, i, j].item() == pytest.approx(content, abs=1e-12)
                assert terms["position"][b, i, j].item() == pytest.approx(position, abs=1e-12)
                assert scores[b, i, j].item() == pytest.approx(qn[b, i] @ (kn[b, j] + w) / math.sqrt(d), abs=1e-12)


def test_shaw_scores_rejects_bad_shapes():
    q, k = torch.zeros(3, 4), torch.zeros(3, 4)
    with pytest.raises(ValueError, match="rel_keys"):
        relative.shaw_scores(q, k, torch.zeros(4, 4))
    with pytest.raises(ValueError, match="max_distance"):
        relative.shaw_scores(q, k, torch.zeros(5, 4), 3)
    with pytest.raises(ValueError, match="last dim"):
        relative.shaw_scores(q, k, torch.zeros(5, 3))


# ---------------------------------------------------------------- bias tables

@pytest.mark.parametrize("bidirectional", [True, False])
def test_relative_bias_t5_matches_loops(bidirectional):
    gen = torch.Generator().manual_seed(0)
    table = randn(gen, 32, 3)
    bias = relative.relative_bias(table, 5, 140, bidirectional=bidirectional, query_start=100, device="cpu")
    assert bias.shape == (3, 5, 140) and bias.dtype == torch.float64
    rel = torch.tensor([[j - (100 + i) for j in range(140)] for i in range(5)])  # [q, k], key - query
    rows = t5_ref_float32_torch(rel, bidirectional, 32, 128)  # float32 on this machine
    for i in range(5):
        for j in range(140):
            assert int(rows[i, j]) in t5_allowed(int(rel[i, j]), bidirectional, 32, 128)
            for h in range(3):
                assert bias[h, i, j].item() == table[rows[i, j], h].item()


def test_relative_bias_clip_matches_loops():
    table = [[10.0 * r + h for h in range(2)] for r in range(5)]  # k = 2
    bias = relative.relative_bias(table, 4, 6, scheme="clip")
    assert bias.shape == (2, 4, 6) and bias.dtype == torch.float32
    for h in range(2):
        for i in range(4):
            for j in range(6):
                assert bias[h, i, j].item() == table[max(-2, min(2, j - i)) + 2][h]


@settings(max_examples=30, deadline=None)
@given(scheme=st.sampled_from(["t5", "clip"]), bidirectional=st.booleans(),
       p=st.integers(0, 50), delta=st.integers(1, 200), length=st.integers(1, 12))
def test_relative_bias_is_shift_invariant(scheme, bidirectional, p, delta, length):
    rows = 32 if scheme == "t5" else 7
    table = torch.randn(rows, 2, generator=torch.Generator().manual_seed(p))
    n = p + delta + length
    full = relative.relative_bias(table, n, scheme=scheme, bidirectional=bidirectional)  # [h, n, n]
    at_p = full[:, p:p + length, p:p + length]
    at_shift = full[:, p + delta:p + delta + length, p + delta:p + delta + length]
    assert torch.equal(at_p, at_shift)
    assert torch.equal(at_p, relative.relative_bias(table, length, scheme=scheme, bidirectional=bidirectional))


@pytest.mark.parametrize("table, kwargs, name", [
    (torch.zeros(31, 2), {}, "num_buckets"),
    (torch.zeros(4, 2), dict(scheme="clip"), "table"),
    (torch.zeros(32), {}, "table"),
    (torch.zeros(32, 2), dict(scheme="alibi"), "scheme"),
    (torch.zeros(32, 2), dict(max_distance=4), "max_distance"),
])
def test_relative_bias_rejects_bad_args(table, kwargs, name):
    with pytest.raises(ValueError, match=name):
        relative.relative_bias(table, 3, **kwargs)


# ---------------------------------------------------------------- Transformer-XL

def test_xl_relative_embedding_matches_formula():
    # Transformer-XL's R_r is the concat-layout sinusoid at the (possibly negative) offset r
    rel = torch.tensor([[0, -3], [7, 250]])
    got = absolute.sinusoid_at(rel, 8, layout="concat", dtype=torch.float64)
    assert got.shape == (2, 2, 8)
    for idx in [(0, 0), (0, 1), (1, 0), (1, 1)]:
        np.testing.assert_allclose(got[idx].numpy(), sinusoid_ref(int(rel[idx]), 8), atol=1e-12)
    assert absolute.sinusoid_at(rel, 8, layout="concat").dtype == torch.float32
    with pytest.raises(ValueError, match="dim"):
        absolute.sinusoid_at(rel, 7, layout="concat")


def test_xl_default_R_is_the_sinusoid_of_the_offsets():
    # one sinusoid in posviz: the default R of the Transformer-XL terms is absolute.sinusoid_at(i - j, "concat")
    assert not hasattr(relative, "xl_sinusoid")
    gen = torch.Generator().manual_seed(5)
    x = randn(gen, 6, 4)
    w = [randn(gen, 3, 4) for _ in range(3)]
    u, v = randn(gen, 3), randn(gen, 3)
    R = absolute.sinusoid_at(relative.offsets(2, 6, query_start=4), 4, layout="concat", dtype=torch.float64)
    default = relative.transformer_xl_terms(x[4:], x, *w, u, v)
    given_R = relative.transformer_xl_terms(x[4:], x, *w, u, v, R)
    assert all(torch.equal(default[t], given_R[t]) for t in default)


@settings(max_examples=20, deadline=None)
@given(seg=st.integers(1, 5), mem=st.integers(0, 5), d_model=st.sampled_from([2, 4, 6]),
       d_head=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_transformer_xl_terms_sum_to_direct_score(seg, mem, d_model, d_head, seed):
    gen = torch.Generator().manual_seed(seed)
    x_k = randn(gen, mem + seg, d_model)  # memory, then the current segment
    x_q = x_k[mem:]
    W_q, W_kE, W_kR = (randn(gen, d_head, d_model) for _ in range(3))
    u, v = randn(gen, d_head), randn(gen, d_head)
    terms = relative.transformer_xl_terms(x_q, x_k, W_q, W_kE, W_kR, u, v)
    assert set(terms) == {"a_content", "b_content_position", "c_global_content", "d_global_position"}
    total = sum(terms.values())
    Wq, WE, WR, un, vn, xk = (t.numpy() for t in (W_q, W_kE, W_kR, u, v, x_k))
    for i in range(seg):
        qi = Wq @ xk[mem + i]  # query i sits at position mem + i
        for j in range(mem + seg):
            kE, kR = WE @ xk[j], WR @ sinusoid_ref(mem + i - j, d_model)
            parts = [qi @ kE, qi @ kR, un @ kE, vn @ kR]
            for name, value in zip(terms, parts):
                assert terms[name][i, j].item() == pytest.approx(value, abs=1e-10)
            assert total[i, j].item() == pytest.approx((qi + un) @ kE + (qi + vn) @ kR, abs=1e-10)


def test_transformer_xl_terms_accepts_explicit_R_and_checks_shapes():
    gen = torch.Generator().manual_seed(1)
    x = randn(gen, 3, 4)
    W = randn(gen, 2, 4)
    u = v = torch.zeros(2, dtype=torch.float64)
    R = torch.zeros(3, 3, 4, dtype=torch.float64)
    terms = relative.transformer_xl_terms(x, x, W, W, W, u, v, R)
    assert torch.equal(terms["d_global_position"], torch.zeros(3, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="R"):
        relative.transformer_xl_terms(x, x, W, W, W, u, v, torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="x_k"):
        relative.transformer_xl_terms(x, x[:2], W, W, W, u, v)


@pytest.mark.parametrize("seg, mem", [(4, 0), (4, 4), (3, 7)])
def test_segment_memory_offsets_do_not_depend_on_segment(seg, mem):
    out = relative.segment_memory_positions(seg, mem, segment_index=1)
    assert out["offsets"].shape == (seg, mem + seg)
    assert out["offsets"].tolist() == [[mem + i - j for j in range(mem + seg)] for i in range(seg)]
    assert int(out["is_memory"].sum()) == mem and not out["is_memory"][mem:].any()
    assert out["query_positions"].tolist() == list(range(seg, 2 * seg))
    later = relative.segment_memory_positions(seg, mem, segment_index=5)
    assert torch.equal(later["offsets"], out["offsets"])
    assert later["query_positions"][0] == 5 * seg
    with pytest.raises(ValueError, match="mem_len"):
        relative.segment_memory_positions(seg, -1)
