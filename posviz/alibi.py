"""ALiBi: attention with linear biases (Press, Smith and Lewis, 2022, arXiv:2108.12409).

ALiBi adds no vector to the hidden state and rotates nothing. Each head adds
``−m_h · (i − j)`` to the score of query ``i`` on key ``j``, before softmax: a
penalty that grows linearly with distance, steep in some heads (local) and
shallow in others (long-range). The slopes ``m_h`` are fixed, not learned.

The slope rule (the paper's §3 and its code, also BLOOM's ``build_alibi_tensor``):
for ``n`` heads, a power of two, the slopes are the geometric sequence
``2^(−8/n), 2^(−16/n), …, 2^(−8)``, so head 0 is the steepest. For other
counts, take the ``2^⌊log2 n⌋`` slopes of the largest power of two below ``n``,
then every other slope (the 1st, 3rd, 5th, …) of twice that count until
there are ``n``. The resulting list is not monotone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from . import backend, relative
from .verdict import Verdict

MAX_HEADS = 1024              # slopes(n_heads); the largest models use ≤ 128 heads
MAX_CELLS = 1 << 24           # n_heads · q_len · k_len of a bias tensor
CAUSAL_FILL = 0.0             # bias value at keys the causal mask hides (the mask itself is separate)


def _slopes_float64(n_heads: int) -> list[float]:
    """The paper's rule in exact Python floats (powers of two are exact in binary)."""
    def power_of_two(n: int) -> list[float]:
        return [2.0 ** (-8.0 * k / n) for k in range(1, n + 1)]

    lower = 1 << (n_heads.bit_length() - 1)  # largest power of two ≤ n_heads
    slopes = power_of_two(lower)
    if lower < n_heads:
        slopes += power_of_two(2 * lower)[0::2][: n_heads - lower]
    return slopes


def slopes(n_heads: int, *, device=None, dtype=torch.float32) -> torch.Tensor:
    """Per-head slopes ``[n_heads]``, the ALiBi paper's rule for any head count.

    8 heads give 1/2, 1/4, …, 1/256 (head 0 the steepest, the most local); 12
    heads give the 8-head list followed by 2^−0.5, 2^−1.5, 2^−2.5, 2^−3.5, which
    is why the list is not sorted.
    """
    n_heads = backend.check_int("n_heads", n_heads, 1, MAX_HEADS)
    return torch.tensor(_slopes_float64(n_heads), dtype=dtype, device=backend.device(device))  # [heads]


def _check_lengths(n_heads, q_len, k_len) -> tuple[int, int, int]:
    n_heads = backend.check_int("n_heads", n_heads, 1, MAX_HEADS)
    q_len = backend.check_int("q_len", q_len, 1, MAX_CELLS)
    k_len = q_len if k_len is None else backend.check_int("k_len", k_len, 1, MAX_CELLS)
    if k_len < q_len:
        raise ValueError(f"k_len must be >= q_len (the queries are the last q_len of the k_len positions), "
                         f"got k_len = {k_len} < q_len = {q_len}")
    if n_heads * q_len * k_len > MAX_CELLS:
        raise ValueError(f"n_heads·q_len·k_len must be at most {MAX_CELLS} cells, got "
                         f"{n_heads}·{q_len}·{k_len} = {n_heads * q_len * k_len}")
    return n_heads, q_len, k_len


def bias(n_heads: int, q_len: int, k_len: int | None = None, causal: bool = True, *,
         device=None, dtype=torch.float32) -> torch.Tensor:
    """The bias ``[n_heads, q_len, k_len]`` added to the scores before softmax.

    Queries are the last ``q_len`` of ``k_len`` positions (a KV-cached decode
    step when ``k_len > q_len``), so query ``r`` sits at ``i = k_len − q_len + r``.
    ``causal=True``: ``−m_h·(i − j)`` on visible keys ``j ≤ i`` and ``CAUSAL_FILL``
    (0) on the keys the causal mask hides; the mask itself is separate
    (:func:`causal_mask`), because a bias is not a mask. ``causal=False``: the
    symmetric (bidirectional) variant ``−m_h·|i − j|``.
    """
    n_heads, q_len, k_len = _check_lengths(n_heads, q_len, k_len)
    causal = backend.check_bool("causal", causal)
    dev = backend.device(device)
    m = slopes(n_heads, device=dev, dtype=dtype)  # [heads]
    off = relative.offsets(q_len, k_len, query_start=k_len - q_len, device=dev).to(dtype)  # [q, k]
    if causal:
        off = off.clamp(min=0)  # hidden keys (i − j < 0) get 0 before the mask removes them
    else:
        off = off.abs()
    return -m[:, None, None] * off[None] + 0.0  # [heads, q, k]; + 0.0 turns −0.0 into 0.0


def causal_mask(q_len: int, k_len: int | None = None, *, device=None) -> torch.Tensor:
    """``[q_len, k_len]`` booleans, True where query ``i`` may see key ``j`` (``j ≤ i``), queries last."""
    _, q_len, k_len = _check_lengths(1, q_len, k_len)
    return relative.offsets(q_len, k_len, query_start=k_len - q_len, device=backend.device(device)) >= 0


def effective_span(n_heads: int, threshold: float = 0.1) -> torch.Tensor:
    """Distance ``[n_heads]`` at which a head's bias alone scales a weight by ``threshold``.

    ``exp(−m·d) = threshold`` gives ``d = ln(1/threshold)/m``: the distance past
    which, other things equal, a key keeps less than ``threshold`` of the
    weight of the query's own position. A steep head (m = 1/2, d ≈ 4.6 for 0.1)
    is local; a shallow one (m = 1/256, d ≈ 590) reads far back.
    """
    threshold = backend.check_positive("threshold", threshold)
    if not threshold < 1:
        raise ValueError(f"threshold must be between 0 and 1 (exclusive), got {threshold}")
    return math.log(1.0 / threshold) / slopes(n_heads, dtype=torch.float64)  # [heads]


@dataclass(frozen=True)
class SlopeReport:
    """The slopes of ``n_heads`` heads and the facts a page states about them."""
    n_heads: int
    slopes: torch.Tensor      # [heads] float64
    spans: torch.Tensor       # [heads] distance where the bias alone keeps 10 % of the weight
    monotone: bool            # slopes strictly decrease with the head index
    power_of_two: bool        # n_heads is a power of two (the plain geometric sequence)
    steepest_head: int
    shallowest_head: int
    reference_gap: float      # max |ours − BLOOM-style construction|, float64
    naive: torch.Tensor       # [heads] float64, the wrong rule 2^(−8k/n) applied to every count
    naive_gap: float          # max |ours − naive|: 0 exactly when n_heads is a power of two

    @property
    def block(self) -> int:
        """Heads 0 .. block − 1 hold the power-of-two slopes; the rest are the interleaved extras."""
        return 1 << (self.n_heads.bit_length() - 1)

    @property
    def naive_verdict(self) -> Verdict:
        """2^(−8k/n) is the rule for a power of two only: it must agree there and differ elsewhere."""
        same = self.naive_gap <= 1e-12
        ok = same == self.power_of_two
        if self.power_of_two:
            claim = (f"For {self.n_heads} heads (a power of two) the simple formula 2^(−8k/n) is the rule" if ok
                     else f"For {self.n_heads} heads the slopes differ from 2^(−8k/n)")
        else:
            claim = (f"For {self.n_heads} heads the simple formula 2^(−8k/n) gives different slopes" if ok
                     else f"For {self.n_heads} heads the slopes follow 2^(−8k/n), not the paper's rule")
        worst = int((self.slopes - self.naive).abs().argmax())
        return Verdict(ok, claim, f"largest difference {self.naive_gap:.3g} (head {worst}: rule "
                                  f"{float(self.slopes[worst]):.4g}, formula {float(self.naive[worst]):.4g})")

    @property
    def verdicts(self) -> tuple[Verdict, Verdict]:
        return self.verdict, self.naive_verdict

    @property
    def verdict(self) -> Verdict:
        """Our slopes equal an independent construction (BLOOM's base-power form), and their order is the rule's.

        A power of two gives a strictly decreasing list (head 0 steepest). Otherwise the first added
        slope, 2^(−4/p) for the power of two p below n, is steeper than head 0's 2^(−8/p): head p is
        the steepest and the list is not monotone.
        """
        lower = 1 << (self.n_heads.bit_length() - 1)
        expected = 0 if self.power_of_two else lower
        ok = (self.reference_gap <= 1e-12 and self.steepest_head == expected
              and self.monotone == self.power_of_two)
        order = "decrease with the head index" if self.monotone else "are not monotone"
        return Verdict(ok, f"The {self.n_heads} slopes match BLOOM's construction to float64 precision; head "
                           f"{self.steepest_head} is the steepest ({float(self.slopes.max()):.4g}) and the "
                           f"slopes {order}",
                       f"largest gap {self.reference_gap:.1e}; expected steepest head {expected}")


def _bloom_style(n_heads: int) -> list[float]:
    """BLOOM's construction (a base raised to integer powers), written independently of the rule above."""
    lower = 2 ** math.floor(math.log2(n_heads))
    base = 2.0 ** (-(2.0 ** -(math.log2(lower) - 3)))
    out = [base ** p for p in range(1, lower + 1)]
    if lower != n_heads:
        extra = 2.0 ** (-(2.0 ** -(math.log2(2 * lower) - 3)))
        out += [extra ** p for p in range(1, 1 + 2 * min(lower, n_heads - lower), 2)]
    return out


def slope_report(n_heads: int) -> SlopeReport:
    """Slopes, spans and order for ``n_heads`` heads, checked against BLOOM's form of the rule."""
    s = slopes(n_heads, dtype=torch.float64, device="cpu")  # [heads]
    ref = torch.tensor(_bloom_style(int(n_heads)), dtype=torch.float64)
    gap = float((s - ref).abs().max()) if ref.shape == s.shape else math.inf
    naive = naive_slopes(n_heads, dtype=torch.float64, device="cpu")  # [heads]
    return SlopeReport(n_heads=int(n_heads), slopes=s, spans=math.log(10.0) / s,
                       monotone=bool((s[1:] < s[:-1]).all()),
                       power_of_two=int(n_heads) & (int(n_heads) - 1) == 0, steepest_head=int(s.argmax()),
                       shallowest_head=int(s.argmin()), reference_gap=gap, naive=naive,
                       naive_gap=float((s - naive).abs().max()))


# -- the slope rule, its common wrong versions, and labels -----------------------------------

def naive_slopes(n_heads: int, *, device=None, dtype=torch.float32) -> torch.Tensor:
    """``2^(−8k/n)`` for k = 1..n ``[n_heads]``: the paper's rule only when n is a power of two.

    A common error applies this formula to every head count. For 12 heads it gives a smooth,
    monotone list that no ALiBi model uses (Press et al. 2022 take the 8-head slopes and then
    every other slope of 16 heads instead); :func:`slope_report` shows the difference.
    """
    n_heads = backend.check_int("n_heads", n_heads, 1, MAX_HEADS)
    k = torch.arange(1, n_heads + 1, dtype=torch.float64)
    return (2.0 ** (-8.0 * k / n_heads)).to(dtype=dtype, device=backend.device(device))  # [heads]


def _slope_text(m: float) -> str:
    """``1/16`` for a power of two, else ``0.7071``."""
    e = -math.log2(m)
    return f"1/{round(2 ** e)}" if abs(e - round(e)) < 1e-9 else f"{m:.4g}"


def head_labels(n_heads: int) -> list[str]:
    """``"head h · m = 1/2"`` for every head, for menus and legends."""
    return [f"head {h} · m = {_slope_text(m)}" for h, m in enumerate(_slopes_float64(
        backend.check_int("n_heads", n_heads, 1, MAX_HEADS)))]


# -- §7 lesson views: one seeded head on a toy sentence, the bias alone, shifts and masks --------

from . import attention  # noqa: E402  (kept with the code that needs it)

EXACT = 1e-9                  # float64 gaps below this are "equal": rounding noise is ~1e-15
DEMO_HEADS = 8                # the head count the sentence demos draw their slopes from
DEMO_DIM = 16                 # word-vector width of the toy head
PHRASE = "the cat sat on the mat"
MAX_SPAN_LEN = 4096           # span_report(length)
MAX_TRAIN_LEN = 1 << 16       # extrapolation_report(train_len)
MAX_FACTOR = 64               # extrapolation_report(factor)
MAX_START = attention.MAX_POSITION - attention.MAX_WORDS  # shift_comparison(start)
EMBEDDINGS = {"sinusoidal": "sinusoids added to x", "learned": "a learned table added to x"}
MASK_MODES = {"before": "bias, mask, then softmax (right)", "after": "softmax, then add the bias (wrong)",
              "no_mask": "bias but no causal mask (wrong)"}


def _head(name: str, head, n_heads: int) -> int:
    return backend.check_int(name, head, 0, n_heads - 1)


def _toy_head(tokens: list[str], seed: int, dev) -> torch.Tensor:
    """Content scores ``q·k/√d`` ``[n, n]`` (float64) of a seeded toy head, with no position at all."""
    x = attention.word_vectors(tokens, DEMO_DIM, device=dev).double()  # [n, dim]
    w = attention.random_weights(DEMO_DIM, seed=seed, device=dev).double()
    return attention.attend(x, w)["scores"]  # [n, n]


def _masked(scores: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
    return scores.masked_fill(~visible, float("-inf"))  # [q, k]


@dataclass(frozen=True)
class LinearBias:
    """One head's ALiBi bias on a sentence, and what it does to one query's softmax weights (float64)."""
    tokens: list[str]
    head: int
    slope: float
    causal: bool
    query: int                # the query drawn (the requested one, clipped to the sentence)
    clipped: bool             # the requested query was past the last word
    bias: torch.Tensor        # [n, n] b_ij of this head (hidden cells 0 when causal)
    visible: torch.Tensor     # [n, n] the causal mask (all True when bidirectional)
    content: torch.Tensor     # [n] the query's weights without position
    weights: torch.Tensor     # [n] with the bias before softmax
    prior_gap: float          # max |weights − content·e^b renormalised|
    bloom_gap: float          # max |weights − softmax(S + m·j)| (BLOOM's per-key form)

    @property
    def verdict(self) -> Verdict:
        """The bias is a log-prior (content weights times e^(b_ij), renormalised: a second computation), and
        causally BLOOM's per-key form m·j, which differs from −m(i − j) by a per-row constant, agrees."""
        prior = self.prior_gap < EXACT
        bloom = self.bloom_gap < EXACT
        detail = (f"largest gap from content weights × e^b renormalised: {self.prior_gap:.1e}; from BLOOM's "
                  f"per-key bias m·j: {self.bloom_gap:.1e}")
        if self.causal:
            ok = prior and bloom
            claim = ("Adding −m·(i − j) multiplies each key's weight by e^(−m·(i−j)), and BLOOM's per-key bias "
                     "m·j gives the same weights" if ok
                     else "The weights do not match the log-prior or BLOOM's form")
        else:
            ok = prior
            claim = ("Adding −m·|i − j| multiplies each key's weight by e^(−m·|i−j|); BLOOM's per-key shortcut m·j "
                     "would differ here, since it needs the causal mask" if ok
                     else "The bias is not a log-prior")
        return Verdict(ok, claim, detail)


def linear_bias_demo(sentence: str, head: int = 0, query: int = 10, causal: bool = True, *, seed: int = 1,
                     device=None) -> LinearBias:
    """ALiBi on one query of a toy head (Press et al. 2022, eq. in §3): ``softmax(q_i·K/√d + b_i)``.

    The bias of head ``head`` of :data:`DEMO_HEADS` is ``−m·(i − j)`` (causal) or ``−m·|i − j|``. BLOOM
    adds ``m·j`` to every row instead; under the causal mask the two differ by ``m·i``, a constant per
    row that softmax removes, and the demo checks it.
    """
    tokens = attention.words(sentence)
    head = _head("head", head, DEMO_HEADS)
    query = backend.check_int("query", query, 0, attention.MAX_WORDS - 1)
    causal = backend.check_bool("causal", causal)
    seed = backend.check_seed("seed", seed)
    dev = backend.device(device)
    n = len(tokens)
    i = min(query, n - 1)
    m = _slopes_float64(DEMO_HEADS)[head]
    s = _toy_head(tokens, seed, dev)  # [n, n]
    b = bias(DEMO_HEADS, n, causal=causal, device=dev, dtype=torch.float64)[head]  # [n, n]
    visible = causal_mask(n, device=dev) if causal else torch.ones(n, n, dtype=torch.bool, device=dev)
    content = _masked(s, visible)[i].softmax(-1)  # [n]
    w = attention.softmax_with_bias(_masked(s, visible)[i], b[i])  # [n]
    prior = content * b[i].exp()
    j = torch.arange(n, device=dev, dtype=torch.float64)
    bloom = attention.softmax_with_bias(_masked(s, visible)[i], m * j)  # [n]
    return LinearBias(tokens, head, m, causal, i, query > i, b, visible, content, w,
                      float((w - prior / prior.sum()).abs().max()), float((w - bloom).abs().max()))


@dataclass(frozen=True)
class SpanReport:
    """Each head's bias over a sequence, and how far back it reaches under the bias alone (float64)."""
    n_heads: int
    length: int
    threshold: float
    slopes: torch.Tensor        # [heads]
    factor: torch.Tensor        # [heads, L, L] e^(b_ij): what the bias multiplies a weight by (0 on hidden keys)
    spans: torch.Tensor         # [heads] ln(1/threshold)/m, the closed form (effective_span)
    measured: torch.Tensor      # [heads] first distance whose factor is ≤ threshold, read off the bias; -1 if none
    mean_distance: torch.Tensor  # [heads] Σ d·w_d of the last query's softmax over the bias alone
    mean_formula: torch.Tensor  # [heads] the truncated geometric mean r/(1−r) − L·r^L/(1−r^L), r = e^(−m)

    @property
    def fits(self) -> torch.Tensor:
        """[heads] heads whose span ends inside the sequence."""
        return self.measured >= 0

    @property
    def verdict(self) -> Verdict:
        """Read off the bias tensor, each span is the closed form rounded up, and the mean distance under the
        bias alone equals the truncated geometric series."""
        fit = self.fits
        step = (self.measured - self.spans)[fit]
        beyond = self.spans[~fit] > self.length - 1 - 1e-9  # no mark: the span must lie past the last key
        spans_ok = bool(((step >= -1e-9) & (step < 1 + 1e-9)).all()) and bool(beyond.all())
        rel = (self.mean_distance - self.mean_formula).abs() / self.mean_formula.clamp(min=1e-12)
        mean_gap = float(rel.max())
        ok = spans_ok and mean_gap < EXACT
        local, far = int(self.spans.argmin()), int(self.spans.argmax())
        if not ok:
            claim = "The bias tensor does not decay as −m·(i − j) predicts"
        elif self.n_heads == 1:
            claim = f"The one head's span is {float(self.spans[0]):.3g} tokens"
        else:
            claim = (f"Head {local} is the most local (span {float(self.spans[local]):.3g} tokens), head {far} the "
                     f"most long-range ({float(self.spans[far]):.3g})")
        return Verdict(ok, claim, f"{int(fit.sum())} of {self.n_heads} spans end inside {self.length} tokens and "
                                  f"match ⌈ln(1/{self.threshold:g})/m⌉; mean distance vs formula: largest relative "
                                  f"gap {mean_gap:.1e}")


def span_report(n_heads: int = 8, length: int = 64, threshold: float = 0.1, *, device=None) -> SpanReport:
    """Per-head bias factors ``e^(b_ij)`` ``[heads, L, L]`` and spans, measured and in closed form.

    Under the bias alone (all content scores equal), the last query's weights over distances
    d = 0..L−1 are ``r^d / Σ r^d`` with ``r = e^(−m)``, a truncated geometric distribution.
    """
    n_heads = backend.check_int("n_heads", n_heads, 1, MAX_HEADS)
    length = backend.check_int("length", length, 1, MAX_SPAN_LEN)
    if n_heads * length * length > MAX_CELLS:
        raise ValueError(f"n_heads·length² must be at most {MAX_CELLS} cells, got {n_heads}·{length}²")
    spans = effective_span(n_heads, threshold).cpu()  # [heads]; checks threshold
    dev = backend.device(device)
    b = bias(n_heads, length, device=dev, dtype=torch.float64)  # [heads, L, L]
    factor = b.exp() * causal_mask(length, device=dev)  # [heads, L, L]
    row = b[:, -1, :].flip(-1).cpu()  # [heads, L] the last query, by distance d = 0..L−1
    below = row <= math.log(threshold)  # [heads, L]
    measured = torch.where(below.any(-1), below.double().argmax(-1), torch.full_like(spans, -1.0))
    d = torch.arange(length, dtype=torch.float64)
    mean = (row.softmax(-1) * d).sum(-1)  # [heads]
    m = slopes(n_heads, dtype=torch.float64, device="cpu")  # [heads]
    r, one_minus_r = torch.exp(-m), -torch.expm1(-m)
    formula = r / one_minus_r - length * r ** length / -torch.expm1(-m * length)  # [heads]
    return SpanReport(n_heads, length, float(threshold), m, factor, spans, measured, mean, formula)


@dataclass(frozen=True)
class ExtrapolationReport:
    """The last query of a sequence ``factor`` times the training length, under the bias alone (float64)."""
    n_heads: int
    train_len: int
    eval_len: int
    slopes: torch.Tensor      # [heads]
    distance: torch.Tensor    # [N] d = 0..N−1
    row: torch.Tensor         # [heads, N] bias at distance d (from bias(n_heads, 1, N))
    tail: torch.Tensor        # [heads] share of the softmax mass at d ≥ train_len
    tail_formula: torch.Tensor  # [heads] (r^L − r^N)/(1 − r^N), r = e^(−m)
    linear_gap: float         # max |bias past L − the line fitted inside the training range|

    @property
    def verdict(self) -> Verdict:
        """Past L the bias continues the line seen inside L (nothing new is needed), and the mass beyond L is
        the geometric tail, computed a second way."""
        tail_gap = float((self.tail - self.tail_formula).abs().max())
        scale = float(self.row.abs().max()) or 1.0
        ok = self.linear_gap <= EXACT * scale and tail_gap < 1e-12
        worst = int(self.tail.argmax())
        if self.eval_len == self.train_len:
            claim = "At 1× the training length no key lies beyond it: nothing to extrapolate yet"
        else:
            claim = (f"Past {self.train_len} tokens the bias just continues its line; head {worst} keeps the most "
                     f"mass beyond it ({100 * float(self.tail[worst]):.3g} %)" if ok
                     else "Past the training length the bias leaves its line")
        return Verdict(ok, claim, f"largest gap from the line: {self.linear_gap:.1e}; mass beyond L vs geometric "
                                  f"tail: {tail_gap:.1e}; bias at the farthest key: "
                                  f"{float(self.row[:, -1].max()):.4g} … {float(self.row[:, -1].min()):.4g}")


def extrapolation_report(n_heads: int = 8, train_len: int = 512, factor: int = 4, *,
                         device=None) -> ExtrapolationReport:
    """ALiBi at ``factor·train_len``: no table to run out of, the bias keeps growing as ``−m·d``.

    Press et al. (2022) train at L and evaluate longer; whether quality holds is measured (their §4),
    not implied by the formula. This view shows only what the bias itself does.
    """
    n_heads = backend.check_int("n_heads", n_heads, 1, MAX_HEADS)
    train_len = backend.check_int("train_len", train_len, 2, MAX_TRAIN_LEN)
    factor = backend.check_int("factor", factor, 1, MAX_FACTOR)
    n = train_len * factor
    if n_heads * n > MAX_CELLS:
        raise ValueError(f"n_heads·train_len·factor must be at most {MAX_CELLS}, got {n_heads}·{train_len}·{factor}")
    row = bias(n_heads, 1, n, device=device, dtype=torch.float64)[:, 0, :].flip(-1).cpu()  # [heads, N] by distance
    d = torch.arange(n, dtype=torch.float64)
    fitted = (row[:, train_len - 1] - row[:, 0]) / (train_len - 1)  # [heads] slope read inside the training range
    past = row[:, train_len:] - (row[:, :1] + fitted[:, None] * d[train_len:])  # [heads, N − L]
    m = slopes(n_heads, dtype=torch.float64, device="cpu")
    r = torch.exp(-m)
    tail_formula = (r ** train_len - r ** n) / -torch.expm1(-m * n)  # [heads]
    tail = row.softmax(-1)[:, train_len:].sum(-1)  # [heads]
    return ExtrapolationReport(n_heads, train_len, n, m, d, row, tail, tail_formula,
                               float(past.abs().max()) if past.numel() else 0.0)


@dataclass(frozen=True)
class BiasVsEmbedding:
    """A phrase's causal scores at positions 0.. and at start.., with ALiBi and with an embedding (float64)."""
    tokens: list[str]
    start: int
    head: int
    embedding: str             # an EMBEDDINGS key
    alibi: tuple               # ([n, n] at 0, [n, n] at start) before the mask
    embedded: tuple            # the same with the embedding added to x
    visible: torch.Tensor      # [n, n] the causal mask, kept separate
    alibi_gap: float           # max |Δ score| over visible keys
    embedded_gap: float

    @property
    def verdicts(self) -> tuple[Verdict, Verdict]:
        """ALiBi depends on i − j only, so moving the phrase changes no score; an embedding added to x mixes
        with content, so its scores move (unless nothing moved)."""
        same = self.alibi_gap < EXACT
        moved = self.start == 0 or self.embedded_gap > 1e-6
        where = f"phrase at {self.start}…{self.start + len(self.tokens) - 1} vs 0…{len(self.tokens) - 1}"
        a = Verdict(same, "ALiBi: every score of the moved phrase is unchanged" if same
                    else "ALiBi: the moved phrase's scores changed", f"max |Δ score| = {self.alibi_gap:.1e} ({where})")
        name = EMBEDDINGS[self.embedding]
        claim = (f"With {name}, the scores change although no distance i − j did" if self.start and moved
                 else f"At start 0 nothing has moved: {name} gives the same scores" if moved
                 else f"With {name}, the scores did not change")
        return a, Verdict(moved, claim, f"max |Δ score| = {self.embedded_gap:.3g} ({where})")


def shift_comparison(start: int = 100, head: int = 0, embedding: str = "sinusoidal", *, seed: int = 1,
                     device=None) -> BiasVsEmbedding:
    """Move :data:`PHRASE` to ``start`` and compare its causal scores, ALiBi vs an embedding added to x.

    ALiBi's scores for queries at ``start + r`` are built from absolute positions (the bias of ``k_len =
    start + n`` keys, the phrase's own keys sliced out), so invariance is measured, not assumed.
    """
    start = backend.check_int("start", start, 0, MAX_START)
    head = _head("head", head, DEMO_HEADS)
    backend.check_option("embedding", embedding, EMBEDDINGS)
    seed = backend.check_seed("seed", seed)
    dev = backend.device(device)
    tokens = attention.words(PHRASE)
    n = len(tokens)
    x = attention.word_vectors(tokens, DEMO_DIM, device=dev).double()  # [n, dim]
    w = attention.random_weights(DEMO_DIM, seed=seed, device=dev).double()
    content = attention.attend(x, w)["scores"]  # [n, n]
    visible = causal_mask(n, device=dev)

    def alibi_at(s: int) -> torch.Tensor:
        return content + bias(DEMO_HEADS, n, s + n, device=dev, dtype=torch.float64)[head][:, s:]  # [n, n]

    def embedded_at(s: int) -> torch.Tensor:
        return attention.attend(x, w, torch.arange(s, s + n, device=dev), embedding)["scores"]  # [n, n]

    a, e = (alibi_at(0), alibi_at(start)), (embedded_at(0), embedded_at(start))

    def gap(pair):
        return float((pair[1] - pair[0])[visible].abs().max())

    return BiasVsEmbedding(tokens, start, head, embedding, a, e, visible, gap(a), gap(e))


@dataclass(frozen=True)
class MaskedBias:
    """Causal attention weights of a phrase with the bias added in one of :data:`MASK_MODES` (float64)."""
    tokens: list[str]
    where: str
    head: int
    weights: torch.Tensor     # [n, n]
    content: torch.Tensor     # [n, n] softmax of the masked content scores (no position)
    bias: torch.Tensor        # [n, n] this head's causal bias (0 on hidden keys)
    visible: torch.Tensor     # [n, n] causal mask
    prior_gap: float          # max |weights − content·e^b renormalised| over the rows

    @property
    def row_sums(self) -> torch.Tensor:
        return self.weights.sum(-1)  # [n]

    @property
    def hidden_max(self) -> float:
        """Largest |weight| on a key the causal mask hides."""
        return float(self.weights[~self.visible].abs().max()) if bool((~self.visible).any()) else 0.0

    @property
    def shift(self) -> float:
        """Largest |weight − content weight|: how much the bias moved any weight."""
        return float((self.weights - self.content).abs().max())

    @property
    def verdict(self) -> Verdict:
        """Right: rows are distributions, hidden keys get exactly 0, and the bias reweights by e^b (the
        log-prior, computed a second way). Each wrong mode breaks a different one of the three."""
        sums, low = self.row_sums, float(self.weights.min())
        distributions = bool(((sums - 1).abs() < EXACT).all()) and low >= 0
        hidden = self.hidden_max == 0.0
        ok = distributions and hidden and self.prior_gap < EXACT
        if ok:
            claim = "Rows sum to 1, future keys get exactly 0, and the bias reweights each key by e^(b_ij)"
        elif not hidden:
            claim = "Future keys get weight: a bias is not a mask"
        elif not distributions:
            claim = "Rows are no longer distributions: the bias was added after softmax"
        else:
            claim = "The bias does not act as a log-prior"
        return Verdict(ok, claim, f"row sums {float(sums.min()):.3f}…{float(sums.max()):.3f}; smallest weight "
                                  f"{low:.3f}; largest weight on a future key {self.hidden_max:.3g}; gap from "
                                  f"content × e^b renormalised {self.prior_gap:.1e}")


def mask_demo(where: str = "before", head: int = 0, *, seed: int = 1, device=None) -> MaskedBias:
    """ALiBi with the causal mask kept separate, and two ways to get it wrong, on :data:`PHRASE`.

    ``before``: ``softmax(S + b)`` with hidden keys at −inf (Press et al. 2022; BLOOM). ``after``:
    ``softmax(S) + b``, each weight shifted by b_ij whatever its size. ``no_mask``: the bias alone, which
    gives hidden keys b = 0 (no penalty at all): the bias is no substitute for the mask.
    """
    backend.check_option("where", where, MASK_MODES)
    head = _head("head", head, DEMO_HEADS)
    seed = backend.check_seed("seed", seed)
    dev = backend.device(device)
    tokens = attention.words(PHRASE)
    n = len(tokens)
    s = _toy_head(tokens, seed, dev)  # [n, n]
    visible = causal_mask(n, device=dev)
    b = bias(DEMO_HEADS, n, device=dev, dtype=torch.float64)[head]  # [n, n]
    masked = _masked(s, visible)
    content = masked.softmax(-1)  # [n, n]
    if where == "no_mask":
        w = attention.softmax_with_bias(s, b)
    else:
        w = attention.softmax_with_bias(masked, b, where=where)
    prior = content * b.exp()
    prior = prior / prior.sum(-1, keepdim=True)
    return MaskedBias(tokens, where, head, w, content, b, visible, float((w - prior).abs().max()))
