"""posviz.alibi: slopes, biases and the §7 views, against independent float64 constructions.

References written here, independently of posviz:
- the ALiBi paper's released ``get_slopes`` (recursive, plain floats);
- BLOOM's ``build_alibi_tensor`` (a base raised to integer powers with ``torch.pow``, bias ``m·j`` per key);
- explicit loops for the bias and closed sums for spans and tails.
"""

from __future__ import annotations

import math

import plotly.graph_objects as go
import pytest
import torch

from posviz import alibi, attention
from posviz.figures import LECTURE, NORMAL
from posviz.figures import alibi as figs

SENTENCE = "the cat sat on the mat because it was very warm"


# -- independent references ---------------------------------------------------------------------

def paper_get_slopes(n: int) -> list[float]:
    """The ALiBi paper's code (Press et al.), rewritten: geometric for a power of two, else recursive."""
    def power_of_2(k):
        start = 2 ** (-2 ** -(math.log2(k) - 3))
        return [start * start ** i for i in range(k)]

    if math.log2(n).is_integer():
        return power_of_2(n)
    closest = 2 ** math.floor(math.log2(n))
    return power_of_2(closest) + paper_get_slopes(2 * closest)[0::2][: n - closest]


def bloom_slopes(n: int, dtype=torch.float32) -> torch.Tensor:
    """BLOOM's build_alibi_tensor slope part: float32 base, int32 powers, torch.pow."""
    closest = 2 ** math.floor(math.log2(n))
    base = torch.tensor(2 ** (-(2 ** -(math.log2(closest) - 3))), dtype=dtype)
    slopes = torch.pow(base, torch.arange(1, 1 + closest, dtype=torch.int32))
    if closest != n:
        extra = torch.tensor(2 ** (-(2 ** -(math.log2(2 * closest) - 3))), dtype=dtype)
        remaining = min(closest, n - closest)
        slopes = torch.cat([slopes, torch.pow(extra, torch.arange(1, 1 + 2 * remaining, 2, dtype=torch.int32))])
    return slopes


def bloom_alibi(n_heads: int, seq_len: int, dtype=torch.float32) -> torch.Tensor:
    """BLOOM's bias ``[heads, 1, k]``: slope·j for an all-ones attention mask (cumsum − 1 = j)."""
    mask = torch.ones(1, seq_len)
    arange = ((mask.cumsum(-1) - 1) * mask)[:, None, :]  # [1, 1, k]
    return (bloom_slopes(n_heads, dtype)[..., None] * arange).reshape(n_heads, 1, seq_len)


def loop_bias(n_heads: int, q_len: int, k_len: int, causal: bool) -> torch.Tensor:
    m = paper_get_slopes(n_heads)
    out = torch.zeros(n_heads, q_len, k_len, dtype=torch.float64)
    for h in range(n_heads):
        for r in range(q_len):
            i = k_len - q_len + r
            for j in range(k_len):
                if not causal:
                    out[h, r, j] = -m[h] * abs(i - j)
                elif j <= i:
                    out[h, r, j] = -m[h] * (i - j)
    return out


# -- slopes -------------------------------------------------------------------------------------------

def test_eight_heads_are_halvings_and_head_0_is_steepest():
    s = alibi.slopes(8, device="cpu", dtype=torch.float64)
    assert s.tolist() == [2.0 ** -k for k in range(1, 9)]
    assert int(s.argmax()) == 0 and int(s.argmin()) == 7


def test_twelve_heads_interleave_and_are_not_monotone():
    s = alibi.slopes(12, device="cpu", dtype=torch.float64).tolist()
    want = [2.0 ** -k for k in range(1, 9)] + [2.0 ** -0.5, 2.0 ** -1.5, 2.0 ** -2.5, 2.0 ** -3.5]
    assert s == pytest.approx(want, rel=1e-15)
    assert max(range(12), key=s.__getitem__) == 8  # head 8 (0.707) is steeper than head 0 (0.5)
    assert any(b > a for a, b in zip(s, s[1:]))


@pytest.mark.parametrize("n", list(range(1, 65)) + [80, 96, 100, 128, 1000])
def test_slopes_match_the_paper_and_bloom(n):
    ours64 = alibi.slopes(n, device="cpu", dtype=torch.float64)
    assert ours64.tolist() == pytest.approx(paper_get_slopes(n), rel=1e-14)
    ours32 = alibi.slopes(n, device="cpu")
    assert ours32.dtype == torch.float32
    # BLOOM's construction in float64, rounded once: within one float32 step of ours
    torch.testing.assert_close(ours32, bloom_slopes(n, torch.float64).float(), rtol=1.2e-7, atol=0)
    # BLOOM's own float32 code rounds the base, and base^p carries that error p times over
    powers = 2 ** math.floor(math.log2(n))
    torch.testing.assert_close(ours32, bloom_slopes(n), rtol=1.2e-7 * (1 + powers), atol=0)


@pytest.mark.parametrize("n", [3, 5, 6, 12, 20, 24, 40, 48])
def test_naive_formula_is_wrong_for_non_powers(n):
    naive = alibi.naive_slopes(n, device="cpu", dtype=torch.float64)
    k = torch.arange(1, n + 1, dtype=torch.float64)
    torch.testing.assert_close(naive, 2.0 ** (-8.0 * k / n))
    assert float((naive - torch.tensor(paper_get_slopes(n), dtype=torch.float64)).abs().max()) > 1e-3


@pytest.mark.parametrize("n", [1, 2, 4, 8, 16, 32, 64])
def test_naive_formula_is_the_rule_for_powers_of_two(n):
    torch.testing.assert_close(alibi.naive_slopes(n, device="cpu", dtype=torch.float64),
                               torch.tensor(paper_get_slopes(n), dtype=torch.float64), rtol=1e-14, atol=0)


def test_head_labels():
    assert alibi.head_labels(8)[0] == "head 0 · m = 1/2"
    assert alibi.head_labels(8)[7] == "head 7 · m = 1/256"
    assert alibi.head_labels(12)[8] == "head 8 · m = 0.7071"


@pytest.mark.parametrize("n", [0, -1, 1025, 2.5, True, "8"])
def test_bad_head_counts_are_refused(n):
    with pytest.raises(ValueError, match="n_heads"):
        alibi.slopes(n)


# -- slope report and its verdicts ----------------------------------------------------------------------

@pytest.mark.parametrize("n", range(1, 65))
def test_slope_report_is_green(n):
    rep = alibi.slope_report(n)
    assert all(v.ok for v in rep.verdicts), [v for v in rep.verdicts if not v.ok]
    assert rep.block == 2 ** math.floor(math.log2(n))


def test_slope_report_turns_red_under_the_naive_rule(monkeypatch):
    monkeypatch.setattr(alibi, "_slopes_float64", lambda n: [2.0 ** (-8.0 * k / n) for k in range(1, n + 1)])
    rep = alibi.slope_report(12)
    assert not rep.verdict.ok and not rep.naive_verdict.ok


def test_slope_report_turns_red_when_the_order_is_reversed(monkeypatch):
    right = alibi._slopes_float64
    monkeypatch.setattr(alibi, "_slopes_float64", lambda n: right(n)[::-1])
    rep = alibi.slope_report(8)
    assert not rep.verdict.ok and rep.steepest_head == 7


# -- bias and mask ----------------------------------------------------------------------------------

@pytest.mark.parametrize("heads,q,k,causal", [(8, 5, 5, True), (12, 3, 7, True), (4, 6, 6, False), (3, 2, 9, False),
                                              (1, 1, 1, True)])
def test_bias_matches_explicit_loops(heads, q, k, causal):
    got = alibi.bias(heads, q, k, causal=causal, device="cpu", dtype=torch.float64)
    assert got.shape == (heads, q, k)
    torch.testing.assert_close(got, loop_bias(heads, q, k, causal), rtol=1e-14, atol=0)


def test_bias_values_by_distance_and_head():
    b = alibi.bias(8, 6, device="cpu")
    assert float(b[0, 5, 2]) == -1.5            # head 0, distance 3, m = 1/2
    assert float(b[7, 5, 0]) == -5 / 256        # head 7, distance 5, m = 1/256
    assert float(b[3, 2, 4]) == alibi.CAUSAL_FILL  # a future key: the mask, not the bias, hides it
    assert not bool(b.signbit()[b == 0].any())  # no −0.0


def test_bias_depends_on_offset_only():
    b = alibi.bias(4, 7, causal=False, device="cpu", dtype=torch.float64)
    for h in range(4):
        for d in range(-6, 7):
            diag = torch.diagonal(b[h], offset=d)
            assert bool((diag == diag[0]).all())
    torch.testing.assert_close(b, b.transpose(-1, -2))


def test_causal_mask_is_lower_triangular_with_queries_last():
    torch.testing.assert_close(alibi.causal_mask(4, device="cpu"), torch.ones(4, 4, dtype=torch.bool).tril())
    torch.testing.assert_close(alibi.causal_mask(2, 5, device="cpu"),
                               torch.ones(5, 5, dtype=torch.bool).tril()[3:])


@pytest.mark.parametrize("heads,n", [(8, 16), (12, 10), (5, 7)])
def test_softmax_weights_match_bloom(heads, n):
    """BLOOM adds m·j to every row; under the causal mask softmax gives the same weights as −m·(i − j)."""
    g = torch.Generator().manual_seed(heads * 100 + n)
    scores = torch.randn(heads, n, n, generator=g, dtype=torch.float64)
    hidden = ~torch.ones(n, n, dtype=torch.bool).tril()
    ours = (scores + alibi.bias(heads, n, device="cpu").double()).masked_fill(hidden, float("-inf")).softmax(-1)
    bloom = (scores + bloom_alibi(heads, n).double()).masked_fill(hidden, float("-inf")).softmax(-1)
    torch.testing.assert_close(ours, bloom, rtol=0, atol=1e-6)


def test_decode_step_bias_is_the_last_row():
    full = alibi.bias(8, 10, device="cpu")
    torch.testing.assert_close(alibi.bias(8, 1, 10, device="cpu"), full[:, -1:, :])


@pytest.mark.parametrize("kw,name", [(dict(n_heads=0, q_len=3), "n_heads"), (dict(n_heads=8, q_len=5, k_len=3), "k_len"),
                                     (dict(n_heads=8, q_len=0), "q_len"), (dict(n_heads=8, q_len=3, causal=1), "causal"),
                                     (dict(n_heads=1024, q_len=200), "n_heads·q_len·k_len")])
def test_bias_bad_arguments(kw, name):
    with pytest.raises(ValueError, match=name.replace("·", ".")):
        alibi.bias(**kw)


def test_effective_span_closed_form():
    spans = alibi.effective_span(8, 0.1)
    assert float(spans[0]) == pytest.approx(math.log(10) * 2, rel=1e-15)
    assert float(spans[7]) == pytest.approx(math.log(10) * 256, rel=1e-15)
    with pytest.raises(ValueError, match="threshold"):
        alibi.effective_span(8, 1.0)


# -- §7 views ---------------------------------------------------------------------------------------------

def _reference_row(sentence, head, i, causal, seed=1):
    """One query's weights from scratch, float64: content scores, −m·(i − j) (or |i − j|), mask, softmax."""
    tokens = sentence.split()
    x = attention.word_vectors(tokens, alibi.DEMO_DIM, device="cpu").double()
    w = attention.random_weights(alibi.DEMO_DIM, seed=seed, device="cpu").double()
    s = (x @ w.wq) @ (x @ w.wk).T / math.sqrt(alibi.DEMO_DIM)
    m = paper_get_slopes(alibi.DEMO_HEADS)[head]
    j = torch.arange(len(tokens), dtype=torch.float64)
    row = s[i] - m * ((i - j) if causal else (i - j).abs())
    if causal:
        row = row.masked_fill(j > i, float("-inf"))
    return row.softmax(-1)


@pytest.mark.parametrize("head,query,causal", [(0, 10, True), (7, 4, True), (3, 5, False), (0, 0, True)])
def test_linear_bias_demo_matches_a_reference(head, query, causal):
    res = alibi.linear_bias_demo(SENTENCE, head, query, causal, device="cpu")
    torch.testing.assert_close(res.weights, _reference_row(SENTENCE, head, query, causal), rtol=0, atol=1e-12)
    assert res.verdict.ok
    assert float(res.weights.sum()) == pytest.approx(1, abs=1e-12)


def test_linear_bias_demo_clips_the_query():
    res = alibi.linear_bias_demo("a b c", 0, 11, device="cpu")
    assert res.clipped and res.query == 2


def test_linear_bias_verdict_catches_a_sign_error(monkeypatch):
    """A bias of +m·(i − j) is still a 'log-prior' of itself, but no longer BLOOM's weights."""
    right = alibi.bias
    monkeypatch.setattr(alibi, "bias", lambda *a, **k: -right(*a, **k))
    assert not alibi.linear_bias_demo(SENTENCE, 0, 10, device="cpu").verdict.ok


def test_linear_bias_verdict_catches_a_bias_after_softmax(monkeypatch):
    right = attention.softmax_with_bias
    monkeypatch.setattr(attention, "softmax_with_bias", lambda s, b, where="before": right(s, b, where="after"))
    assert not alibi.linear_bias_demo(SENTENCE, 2, 10, False, device="cpu").verdict.ok


@pytest.mark.parametrize("heads,length,t", [(8, 64, 0.1), (12, 128, 0.01), (3, 16, 0.5), (1, 1, 0.1)])
def test_span_report_against_sums(heads, length, t):
    rep = alibi.span_report(heads, length, t, device="cpu")
    m = torch.tensor(paper_get_slopes(heads), dtype=torch.float64)
    d = torch.arange(length, dtype=torch.float64)
    w = torch.exp(-m[:, None] * d)  # [heads, L]
    torch.testing.assert_close(rep.mean_distance, (w * d).sum(-1) / w.sum(-1), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(rep.mean_formula, (w * d).sum(-1) / w.sum(-1), rtol=1e-10, atol=1e-12)
    span = math.log(1 / t) / m
    for h in range(heads):
        want = math.ceil(float(span[h])) if span[h] <= length - 1 else -1
        assert int(rep.measured[h]) == want
    assert rep.verdict.ok
    assert rep.factor.shape == (heads, length, length)
    assert float(rep.factor[0].triu(1).abs().max() if length > 1 else 0) == 0.0


def test_span_verdict_catches_wrong_slopes_in_the_bias(monkeypatch):
    right = alibi.bias
    monkeypatch.setattr(alibi, "bias", lambda *a, **k: 2 * right(*a, **k))
    assert not alibi.span_report(8, 64, 0.1, device="cpu").verdict.ok


@pytest.mark.parametrize("heads,train,factor", [(8, 512, 4), (12, 64, 8), (2, 16, 1), (64, 128, 2)])
def test_extrapolation_tail_against_sums(heads, train, factor):
    rep = alibi.extrapolation_report(heads, train, factor, device="cpu")
    m = torch.tensor(paper_get_slopes(heads), dtype=torch.float64)
    d = torch.arange(train * factor, dtype=torch.float64)
    w = torch.exp(-m[:, None] * d)
    want = w[:, train:].sum(-1) / w.sum(-1)
    torch.testing.assert_close(rep.tail, want, rtol=1e-9, atol=1e-15)
    torch.testing.assert_close(rep.row, -m[:, None] * d, rtol=1e-14, atol=0)
    assert rep.verdict.ok
    assert ("nothing to extrapolate" in rep.verdict.claim) == (factor == 1)


def test_extrapolation_verdict_catches_a_bias_that_stops_growing(monkeypatch):
    """A bias clipped at the training distance (a table with no rows past L) leaves the line."""
    right = alibi.bias
    monkeypatch.setattr(alibi, "bias", lambda *a, **k: right(*a, **k).clamp(min=-0.5 * 511))
    assert not alibi.extrapolation_report(8, 512, 4, device="cpu").verdict.ok


@pytest.mark.parametrize("embedding", list(alibi.EMBEDDINGS))
@pytest.mark.parametrize("start", [0, 1, 100, 2000])
def test_shift_comparison(embedding, start):
    res = alibi.shift_comparison(start, 3, embedding, device="cpu")
    a, e = res.verdicts
    assert a.ok and e.ok
    assert res.alibi_gap < 1e-12
    assert (res.embedded_gap > 1e-3) == (start > 0)


def test_shift_verdict_catches_queries_placed_at_zero(monkeypatch):
    """A bias that ignores where the queries sit (always 0 .. q−1) depends on absolute position after slicing."""
    right = alibi.bias
    monkeypatch.setattr(alibi, "bias", lambda h, q, k=None, **kw: right(h, k or q, **kw)[:, :q, :])
    assert not alibi.shift_comparison(100, 0, device="cpu").verdicts[0].ok


def test_mask_demo_modes():
    tokens = alibi.PHRASE.split()
    n = len(tokens)
    before = alibi.mask_demo("before", 0, device="cpu")
    assert before.verdict.ok and before.hidden_max == 0.0
    torch.testing.assert_close(before.row_sums, torch.ones(n, dtype=torch.float64))
    after = alibi.mask_demo("after", 0, device="cpu")
    assert not after.verdict.ok and "after softmax" in after.verdict.claim
    # independently: softmax of the masked content scores, plus b, row sums 1 + Σ b over visible keys
    b = loop_bias(alibi.DEMO_HEADS, n, n, True)[0]
    torch.testing.assert_close(after.weights, after.content + b, rtol=0, atol=1e-12)
    torch.testing.assert_close(after.row_sums, 1 + b.sum(-1), rtol=0, atol=1e-12)
    no_mask = alibi.mask_demo("no_mask", 7, device="cpu")
    assert not no_mask.verdict.ok and no_mask.hidden_max > 0.01 and "not a mask" in no_mask.verdict.claim


def test_mask_verdict_catches_a_mask_applied_after_softmax(monkeypatch):
    """Zeroing future weights after softmax (without renormalising) leaves rows that do not sum to 1."""
    right = attention.softmax_with_bias

    def wrong(s, b, where="before"):
        w = right(s.nan_to_num(neginf=0.0), b, where=where)
        return w * torch.ones_like(w).tril()

    monkeypatch.setattr(attention, "softmax_with_bias", wrong)
    assert not alibi.mask_demo("before", 0, device="cpu").verdict.ok


def test_bad_view_arguments():
    with pytest.raises(ValueError, match="sentence"):
        alibi.linear_bias_demo("", 0, 0)
    with pytest.raises(ValueError, match="head"):
        alibi.linear_bias_demo(SENTENCE, 8, 0)
    with pytest.raises(ValueError, match="length"):
        alibi.span_report(64, 4096)
    with pytest.raises(ValueError, match="train_len"):
        alibi.extrapolation_report(64, 65536, 64)
    with pytest.raises(ValueError, match="where"):
        alibi.mask_demo("later")
    with pytest.raises(ValueError, match="embedding"):
        alibi.shift_comparison(10, 0, "rope")


# -- figures ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("style", [NORMAL, LECTURE])
def test_figures_build(style):
    figures = [figs.linear_bias(alibi.linear_bias_demo(SENTENCE, 0, 10, device="cpu"), style),
               figs.slopes(alibi.slope_report(12), style),
               figs.head_factors(alibi.span_report(12, 64, device="cpu"), style, heads_shown=8),
               figs.spans(alibi.span_report(8, 64, device="cpu"), style),
               figs.extrapolation(alibi.extrapolation_report(8, 512, 4, device="cpu"), style),
               figs.shift(alibi.shift_comparison(100, 0, device="cpu"), style),
               figs.masked_weights(alibi.mask_demo("after", 0, device="cpu"), style)]
    for fig in figures:
        assert fig.data and fig.layout.font.size == style.font_size
        go.Figure(fig.to_plotly_json())  # every trace and layout key valid (the builders skip a second check)
