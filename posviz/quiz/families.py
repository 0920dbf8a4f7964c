"""Numeric question families: each draws its inputs from a seed and lets posviz compute the answer.

Two functions per family, a draw and a solve, listed in :data:`FAMILIES` under the item id the
skill-check issue fixes (``alibi_slope``, ``ntk_base``, …). A family returns a :class:`Numeric`: the
inputs (``params``, enough to recompute the answer by hand), the answer computed by the
posviz function the lesson uses, the same formula worked out a second way in plain float64
Python (``by_hand``, for the verdict under the working), the wrong values that real
confusions produce (ALiBi's head order, the NTK exponent, T5's "clip", the sign of an
offset, …) and the series the answer is read from, for a small figure after grading.

Inputs are drawn so that a question is well posed: values a calculator shows as 0.000,
and T5 distances that sit exactly on a bucket edge (where float32 and exact arithmetic
may disagree), are drawn again.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Callable

import torch

from .. import absolute, alibi, ids, relative, rope, scaling
from ..verdict import Verdict

CPU = "cpu"          # scalars and short series: no device round trip
AGREE = 1e-9         # relative gap between posviz (float64) and the hand formula that still counts as equal


@dataclass(frozen=True)
class Working:
    """How the answer was computed: the posviz call, the formula with this question's numbers,
    and the series the answer is one point of (``x[mark]``, ``y[mark]``)."""
    call: str                 # the posviz call, as code
    formula: str              # Markdown with LaTeX: the formula with the numbers filled in
    x: tuple                  # [n] the series the answer is read from
    y: tuple                  # [n]
    mark: int                 # index of the asked point
    xtitle: str
    ytitle: str
    value: float              # what posviz returned
    by_hand: float            # the formula evaluated a second way, in plain float64 Python
    kind: str = "bar"         # "bar" | "line" | "step"
    log_y: bool = False
    compare: tuple | None = None   # (name, x, y): a second series drawn for contrast, or None
    name: str = "posviz"           # legend name of the main series
    label: str = ""                # text at the asked point ("" : its y value)

    @property
    def verdict(self) -> Verdict:
        """posviz's answer equals the formula worked by hand (independent code, float64)."""
        ok = math.isclose(self.value, self.by_hand, rel_tol=AGREE, abs_tol=1e-12)
        claim = ("posviz's answer agrees with the formula worked by hand" if ok
                 else "posviz's answer and the formula worked by hand disagree")
        return Verdict(ok, claim, f"`{self.call}` gives {self.value:.10g}; by hand: {self.by_hand:.10g}")


@dataclass(frozen=True)
class Numeric:
    """One drawn numeric question: inputs, answer, the confusions to expect, and the working."""
    params: dict
    answer: float
    prompt: str
    explanation: str
    confusions: tuple          # ((value, why it is wrong), ...)
    working: Working


@dataclass(frozen=True)
class Family:
    id: str
    section: str
    title: str
    tolerance: float            # relative; 0: the answer is a whole number, compared exactly
    make: Callable[[random.Random], dict]
    solve: Callable[[dict], Numeric]


def _num(x: float) -> str:
    """A number as the lesson writes it: whole numbers with thousands separators, else 6 significant digits."""
    if float(x).is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"
    return f"{x:.6g}"


def _f64(t: torch.Tensor) -> float:
    return float(t.to(torch.float64))


def _series(t: torch.Tensor) -> tuple:
    return tuple(float(v) for v in t.to(torch.float64).flatten().tolist())


def _near_integer(x: float, gap: float = 1e-4) -> bool:
    return abs(x - round(x)) < gap


# -- §7 ALiBi ------------------------------------------------------------------------------------

def _alibi_by_hand(n: int, head: int) -> float:
    """The paper's rule written out: p = largest power of two <= n; heads past p take every other
    slope of the 2p-head list (1st, 3rd, ...)."""
    p = 2 ** int(math.floor(math.log2(n)))
    if head < p:
        return 2.0 ** (-8.0 * (head + 1) / p)
    k = 2 * (head - p)                  # 0-based index into the 2p list: 0, 2, 4, ... (its 1st, 3rd, 5th)
    return 2.0 ** (-8.0 * (k + 1) / (2 * p))


def _make_alibi(rng: random.Random) -> dict:
    n = rng.choice([4, 8, 8, 12, 16, 20, 24, 32, 6, 12])
    return {"n_heads": n, "head": rng.randrange(n)}


def _alibi_slope(p: dict) -> Numeric:
    n, h = p["n_heads"], p["head"]
    slopes = alibi.slopes(n, device=CPU, dtype=torch.float64)  # [heads]
    m = _f64(slopes[h])
    naive = 2.0 ** (-8.0 * (h + 1) / n)
    confusions = [(_f64(slopes[n - 1 - h]), "That is the slope of head "
                   f"{n - 1 - h}: the heads are counted from the other end (slopes fall along the head order).")]
    if n & (n - 1):
        confusions.append((naive, f"That is $2^{{-8(h+1)/n}}$ with n = {n}, which is not a power of two: "
                                  "the paper takes the slopes of the largest power of two below n first."))
    confusions.append((2.0 ** (-8.0 * h / n), "Off by one: the first slope is $2^{-8/n}$, not $2^0 = 1$."))
    pow2 = 2 ** int(math.floor(math.log2(n)))
    rule = (f"$n = {n}$ is a power of two, so $m_h = 2^{{-8(h+1)/n}}$" if pow2 == n else
            f"$n = {n}$: heads 0–{pow2 - 1} take the {pow2}-head slopes $2^{{-8(h+1)/{pow2}}}$; heads "
            f"{pow2}–{n - 1} take every other slope (1st, 3rd, …) of the {2 * pow2}-head list")
    return Numeric(
        params=dict(p), answer=m,
        prompt=(f"A model uses ALiBi with **{n} heads**. What is the slope $m$ of head **{h}** "
                "(heads counted from 0, in the order the ALiBi paper's code lists them)? "
                "A fraction such as 1/16, a power such as 2^-0.5 or a decimal to 3 significant digits."),
        explanation=(f"{rule}. Head {h} gets $m = {_num(m)}$. "
                     + ("Head 0 has the steepest slope (the most local head)" if pow2 == n else
                        f"The list is not sorted: head {pow2} (the first added slope, $2^{{-4/{pow2}}}$) is steeper "
                        f"than head 0 ($2^{{-8/{pow2}}}$)") + " (§7)."),
        confusions=tuple(confusions),
        working=Working(f"posviz.alibi.slopes({n})", rule + f"; head {h}: $m = {_num(m)}$",
                        tuple(range(n)), _series(slopes), h, "head", "slope m", m, _alibi_by_hand(n, h)))


def _make_alibi_bias(rng: random.Random) -> dict:
    n = rng.choice([8, 12, 16])
    i = rng.randrange(1, 200)
    return {"n_heads": n, "head": rng.randrange(n), "query": i, "key": rng.randrange(0, i)}


def _alibi_bias(p: dict) -> Numeric:
    n, h, i, j = p["n_heads"], p["head"], p["query"], p["key"]
    row = alibi.bias(n, 1, i + 1, device=CPU, dtype=torch.float64)[h, 0]  # [keys 0..i]: the bias of query i
    b = _f64(row[j])
    m = _alibi_by_hand(n, h)
    slopes = alibi.slopes(n, device=CPU, dtype=torch.float64)
    confusions = ((-b, "Wrong sign: ALiBi *subtracts* $m\\,(i-j)$, so far keys are penalised."),
                  (-_f64(slopes[n - 1 - h]) * (i - j), f"That uses the slope of head {n - 1 - h}: the heads are "
                                                         "counted from the other end."),
                  (-m, "That is the bias at distance 1; multiply the slope by the distance $i - j$."))
    return Numeric(
        params=dict(p), answer=b,
        prompt=(f"ALiBi with **{n} heads**, causal. Query at position $i = {i}$, key at $j = {j}$. What bias does "
                f"head **{h}** add to this score (before softmax)?"),
        explanation=(f"The bias is $-m_h\\,(i-j)$ with $m_{{{h}}} = {_num(m)}$ and $i-j = {i - j}$, so "
                     f"${_num(b)}$. It is added to the logits before softmax (§7)."),
        confusions=confusions,
        working=Working(f"posviz.alibi.bias({n}, 1, {i + 1})[{h}, 0]",
                        f"$-m_{{{h}}}\\,(i-j) = -{_num(m)}\\cdot {i - j} = {_num(b)}$",
                        tuple(range(i + 1)), _series(row), j, "key position j", f"bias of head {h} (query {i})",
                        b, -m * (i - j), kind="line"))


# -- §6b long-context scaling -------------------------------------------------------------------

def _make_ntk(rng: random.Random) -> dict:
    return {"dim": rng.choice([64, 64, 128, 128, 32]), "base": rng.choice([10000.0, 10000.0, 500000.0, 100000.0]),
            "factor": rng.choice([2.0, 4.0, 8.0, 16.0])}


def _ntk_base(p: dict) -> Numeric:
    d, b, s = p["dim"], p["base"], p["factor"]
    new = scaling.ntk_base(d, b, s)
    before = rope.wavelengths(rope.inv_freq(d, b, device=CPU, dtype=torch.float64))  # [d/2]
    after = rope.wavelengths(rope.inv_freq(d, new, device=CPU, dtype=torch.float64))  # [d/2]
    # the design goal, shown with the working: the slowest pair (i = d/2 - 1) slows down by exactly s
    slow_down = (new / b) ** ((d - 2) / d)
    confusions = [(b * s, "That scales the base by s; the exponent $d/(d-2)$ is missing."),
                  (b * s ** ((d - 2) / d), "The exponent is upside down: it is $d/(d-2)$, slightly above 1."),
                  (b * s ** 2, "That squares the factor; the exponent is $d/(d-2)$.")]
    if (d, b, s) == (64, 10000.0, 2.0):
        confusions.append((20700.0, "≈ 20,700 is the value one source prints; "
                                    "$10000\\cdot 2^{64/62}$ is ≈ 20,452."))
    return Numeric(
        params=dict(p), answer=new,
        prompt=(f"Static NTK-aware scaling of a RoPE model with head dimension $d = {d}$ and base "
                f"$b = {_num(b)}$, for a context **{_num(s)}×** longer. What is the new base $b'$? "
                "(4 significant digits)"),
        explanation=(f"$b' = b\\,s^{{d/(d-2)}} = {_num(b)}\\cdot {_num(s)}^{{{d}/{d - 2}}} \\approx {_num(new)}$. "
                     "The exponent makes the slowest pair slow down by exactly $s$ while pair 0 stays put (§6b)."),
        confusions=tuple(confusions),
        working=Working(f"posviz.scaling.ntk_base({d}, {_num(b)}, {_num(s)})",
                        f"$b' = {_num(b)}\\cdot {_num(s)}^{{{d}/{d - 2}}} = {_num(new)}$; check: the slowest pair "
                        f"slows by $(b'/b)^{{(d-2)/d}} = {slow_down:.6g}$",
                        tuple(range(d // 2)), _series(after), d // 2 - 1, "pair i", "wavelength (tokens)",
                        new, b * s ** (d / (d - 2)), kind="line", log_y=True,
                        compare=("plain RoPE", tuple(range(d // 2)), _series(before)), name=f"base {_num(new)}",
                        label=f"slowest pair: {_f64(after[-1] / before[-1]):.4g}× slower"))


def _make_yarn(rng: random.Random) -> dict:
    return {"factor": rng.choice([2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 3.0, 5.0])}


def _yarn_attention_factor(p: dict) -> Numeric:
    s = p["factor"]
    a = scaling.yarn_attention_factor(s)
    grid = [1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 48.0, 64.0]
    if s not in grid:
        grid = sorted(grid + [s])
    values = tuple(scaling.yarn_attention_factor(g) for g in grid)
    return Numeric(
        params=dict(p), answer=a,
        prompt=(f"YaRN extends a RoPE model's context by a factor $s = {_num(s)}$, with no `mscale` settings in "
                "the config. By what factor are cos and sin multiplied (the attention factor $\\sqrt{1/t}$)? "
                "(4 significant digits)"),
        explanation=(f"$\\sqrt{{1/t}} = 0.1\\ln s + 1 = 0.1\\ln {_num(s)} + 1 \\approx {a:.5g}$. It multiplies cos "
                     f"and sin, so every logit grows by its square, ≈ {a * a:.4g}: attention gets sharper to "
                     "offset the flatter softmax that interpolated positions cause (§6b)."),
        confusions=((a * a, "That is the factor on the logits $q\\cdot k$ (its square), not on cos and sin."),
                    (1 / a, "That is its inverse: YaRN sharpens attention, it does not flatten it."),
                    (0.1 * math.log10(s) + 1, "The logarithm is the natural one, not base 10."),
                    (0.1 * math.log2(s) + 1, "The logarithm is the natural one, not base 2.")),
        working=Working(f"posviz.scaling.yarn_attention_factor({_num(s)})",
                        f"$0.1\\ln {_num(s)} + 1 = {a:.6g}$", tuple(grid), values, grid.index(s), "factor s",
                        "attention factor", a, 0.1 * math.log(s) + 1, kind="line"))


def _make_dynamic(rng: random.Random) -> dict:
    original = rng.choice([2048, 4096])
    return {"dim": rng.choice([64, 128]), "base": 10000.0, "factor": rng.choice([2.0, 4.0]),
            "original_max_position": original, "seq_len": int(original * rng.choice([1.5, 2, 3, 4, 6, 8]))}


def _dynamic_ntk_base(p: dict) -> Numeric:
    d, b, s, L, N = p["dim"], p["base"], p["factor"], p["original_max_position"], p["seq_len"]
    new = scaling.dynamic_base(d, b, s, L, N)
    lengths = [L // 2, L, int(1.5 * L), 2 * L, 3 * L, 4 * L, 6 * L, 8 * L]
    if N not in lengths:
        lengths = sorted(lengths + [N])
    values = tuple(scaling.dynamic_base(d, b, s, L, n) for n in lengths)
    scale = s * N / L - (s - 1)
    return Numeric(
        params=dict(p), answer=new,
        prompt=(f"Dynamic NTK scaling, head dimension $d = {d}$, base $b = {_num(b)}$, factor $s = {_num(s)}$, "
                f"trained length $L = {_num(L)}$. What base does it use when the sequence is $N = {_num(N)}$ "
                "tokens long? (4 significant digits)"),
        explanation=(f"Past $L$ the base is $b\\,(sN/L - (s-1))^{{d/(d-2)}}$; here the scale is "
                     f"${_num(s)}\\cdot{_num(N)}/{_num(L)} - {_num(s - 1)} = {_num(scale)}$, so "
                     f"$b' \\approx {_num(new)}$. It follows the input length (§6b)."),
        confusions=((scaling.ntk_base(d, b, s), "That is the static NTK base; dynamic NTK uses the current length."),
                    (b * (N / L) ** (d / (d - 2)), "That drops the factor $s$: the scale is $sN/L - (s-1)$."),
                    (b, "The base only stays at $b$ while $N \\le L$.")),
        working=Working(f"posviz.scaling.dynamic_base({d}, {_num(b)}, {_num(s)}, {L}, {N})",
                        f"$b' = {_num(b)}\\cdot {_num(scale)}^{{{d}/{d - 2}}} = {_num(new)}$",
                        tuple(lengths), values, lengths.index(N), "sequence length N", "base", new,
                        b * scale ** (d / (d - 2)), kind="line", log_y=True))


# -- §5 T5 buckets -----------------------------------------------------------------------------

def _t5_by_hand(rp: int, bidirectional: bool, num_buckets: int, max_distance: int) -> tuple[int, float]:
    """T5's bucket in exact float64 arithmetic; also the unfloored log-region value (to avoid edges)."""
    ret, nb = 0, num_buckets
    if bidirectional:
        nb //= 2
        ret += nb if rp > 0 else 0
        n = abs(rp)
    else:
        n = max(-rp, 0)
    exact = nb // 2
    if n < exact:
        return ret + n, 0.5
    raw = math.log(n / exact) / math.log(max_distance / exact) * (nb - exact)
    return ret + min(exact + int(raw), nb - 1), raw


def _make_t5(rng: random.Random) -> dict:
    while True:
        bidirectional = rng.random() < 0.6
        nb = rng.choice([32, 32, 16, 64])
        md = rng.choice([128, 128, 64, 256])
        exact = (nb // 2 if bidirectional else nb) // 2
        far = rng.random() < 0.75
        n = rng.randrange(exact, int(1.3 * md)) if far else rng.randrange(1, exact)
        past = rng.random() < (0.5 if bidirectional else 0.85)
        rp = -n if past else n
        if md > exact and not _near_integer(_t5_by_hand(rp, bidirectional, nb, md)[1]):
            return {"relative_position": rp, "bidirectional": bidirectional, "num_buckets": nb, "max_distance": md}


def _t5_bucket(p: dict) -> Numeric:
    rp, bi, nb, md = p["relative_position"], p["bidirectional"], p["num_buckets"], p["max_distance"]
    span = int(1.3 * md) + 2
    x = torch.arange(-span, (span if bi else max(8, rp)) + 1)  # [n] key − query
    buckets = relative.t5_bucket(x, bi, nb, md, device=CPU)  # [n]
    answer = int(relative.t5_bucket(rp, bi, nb, md, device=CPU))
    half = nb // 2 if bi else nb
    exact = half // 2
    n = abs(rp) if bi else max(-rp, 0)
    confusions = [(float(min(n, half - 1)), "T5 does not clip the distance: past the exact region the buckets are "
                                            "log-spaced."),
                  (float(min(n, md)), "T5 does not clip at max_distance: that is a distance, not a bucket.")]
    flipped = int(relative.t5_bucket(-rp, bi, nb, md, device=CPU))
    confusions.append((float(flipped), "Sign convention: T5's relative_position is key − query" +
                       ("; keys after the query go to the upper half." if bi else
                        "; in causal mode only keys in the past (negative values) get buckets above 0.")))
    if bi:
        confusions.append((float(answer - half if rp > 0 else answer + half),
                           "Bidirectional T5 adds num_buckets/2 only for keys *after* the query (key − query > 0)."))
    mode = "bidirectional" if bi else "causal (decoder)"
    halves = (f"Bidirectional: {half} buckets per direction; keys after the query add {half}. " if bi else
              f"Causal: all {nb} buckets count past keys; future keys get bucket 0. ")
    return Numeric(
        params=dict(p), answer=float(answer),
        prompt=(f"T5 relative attention, **{mode}**, num_buckets = {nb}, max_distance = {md}. "
                f"relative_position = key − query = **{rp}**. Which bucket does this pair use?"),
        explanation=(f"{halves}Distances below {exact} get exact buckets; farther ones "
                     f"$e + \\lfloor \\ln(n/e)/\\ln(\\text{{max\\_distance}}/e)\\,(h-e)\\rfloor$ with $e = {exact}$, "
                     f"$h = {half}$, capped at the last bucket. Here: bucket {answer} (§5)."),
        confusions=tuple(confusions),
        working=Working(f"posviz.relative.t5_bucket({rp}, {bi}, {nb}, {md})",
                        f"distance $n = {n}$, exact below $e = {exact}$ → bucket {answer}",
                        _series(x), _series(buckets), int((x == rp).nonzero()[0, 0]), "key − query",
                        "bucket", float(answer), float(_t5_by_hand(rp, bi, nb, md)[0]), kind="step"))


def _make_t5_last(rng: random.Random) -> dict:
    return {"bidirectional": rng.random() < 0.6, "num_buckets": rng.choice([32, 32, 16, 64]),
            "max_distance": rng.choice([128, 128, 64, 256])}


def _first_last_by_hand(bi: bool, nb: int, md: int) -> int:
    last = _t5_by_hand(-md, bi, nb, md)[0]
    return next(n for n in range(md + 1) if _t5_by_hand(-n, bi, nb, md)[0] == last)


def _t5_last_bucket(p: dict) -> Numeric:
    bi, nb, md = p["bidirectional"], p["num_buckets"], p["max_distance"]
    first = relative.t5_first_distance_of_last_bucket(bi, nb, md)
    x = torch.arange(0, md + 1)
    buckets = relative.t5_bucket(-x, bi, nb, md, device=CPU)  # [md + 1] past keys
    mode = "bidirectional" if bi else "causal"
    return Numeric(
        params=dict(p), answer=float(first),
        prompt=(f"T5 relative attention, **{mode}**, num_buckets = {nb}, max_distance = {md}. From which distance "
                "$|j - i|$ on (a key in the past) do all keys share the last bucket?"),
        explanation=(f"The log-spaced buckets reach the last one at distance {first}, before max_distance = {md}: "
                     "T5 does not clip at max_distance, its last bucket simply starts earlier, and from there on "
                     "the bias is constant (§5)."),
        confusions=((float(md), "max_distance is where the log formula would reach the end, but the floor gets to "
                                "the last bucket earlier; T5 does not clip there."),
                    (float(md - 1), "Not a clip at max_distance − 1 either: count where the floor first reaches "
                                    "the last bucket."),
                    (float((nb // 2 if bi else nb) // 2), "That is where the log-spaced region *starts*.")),
        working=Working(f"posviz.relative.t5_first_distance_of_last_bucket({bi}, {nb}, {md})",
                        f"bucket({first - 1}) = {int(buckets[first - 1])}, bucket({first}) = {int(buckets[first])} "
                        "(the last)", _series(x), _series(buckets), first, "distance |j − i|", "bucket",
                        float(first), float(_first_last_by_hand(bi, nb, md)), kind="step",
                        label=f"last bucket from distance {first}"))


# -- §3 sinusoids ------------------------------------------------------------------------------

def _sinusoid_by_hand(position: int, column: int, dim: int, base: float, layout: str) -> float:
    if layout == "interleaved":
        i, fn = column // 2, (math.sin if column % 2 == 0 else math.cos)
    else:
        i, fn = column % (dim // 2), (math.sin if column < dim // 2 else math.cos)
    return fn(position * base ** (-2.0 * i / dim))


def _make_sinusoid(rng: random.Random) -> dict:
    while True:
        dim = rng.choice([16, 32, 64, 128])
        p = {"position": rng.randrange(1, 200), "column": rng.randrange(min(dim, 12)), "dim": dim,
             "base": 10000.0, "layout": rng.choice(["interleaved", "concat"])}
        if p["layout"] == "concat" and rng.random() < 0.5:
            p["column"] = dim // 2 + rng.randrange(min(dim // 2, 6))
        if abs(_sinusoid_by_hand(**p)) >= 0.1:
            return p


def _sinusoid_value(p: dict) -> Numeric:
    pos, col, d, b, layout = p["position"], p["column"], p["dim"], p["base"], p["layout"]
    row = absolute.sinusoid_at(torch.tensor([float(pos)], dtype=torch.float64), d, b, layout,
                               device=CPU, dtype=torch.float64)[0]  # [d]
    v = _f64(row[col])
    if layout == "interleaved":
        i, fn, other = col // 2, ("sin" if col % 2 == 0 else "cos"), ("cos" if col % 2 == 0 else "sin")
    else:
        i, fn, other = col % (d // 2), ("sin" if col < d // 2 else "cos"), ("cos" if col < d // 2 else "sin")
    omega = b ** (-2.0 * i / d)
    swap = getattr(math, other)(pos * omega)
    other_layout = "concat" if layout == "interleaved" else "interleaved"
    confusions = ((swap, f"That is {other}: check which function column {col} holds in the {layout} layout."),
                  (_sinusoid_by_hand(pos, col, d, b, other_layout), f"That is column {col} of the {other_layout} "
                                                                     "layout."),
                  (getattr(math, fn)(math.radians(pos * omega)), "The angle is in radians, not degrees."))
    layout_text = ("interleaved (even columns sin, odd columns cos)" if layout == "interleaved"
                   else "concatenated ([all sines | all cosines])")
    return Numeric(
        params=dict(p), answer=v,
        prompt=(f"Sinusoidal table, $d = {d}$, base {_num(b)}, **{layout_text}** layout, columns counted from 0. "
                f"What is the entry at position **{pos}**, column **{col}**? (3 decimals)"),
        explanation=(f"Column {col} is the {fn} of pair $i = {i}$, with "
                     f"$\\omega_{{{i}}} = {_num(b)}^{{-2\\cdot{i}/{d}}} = {omega:.6g}$: "
                     f"$\\{fn}({pos}\\cdot{omega:.6g}) = {v:.4f}$ (§3)."),
        confusions=confusions,
        working=Working(f"posviz.absolute.sinusoid_at([{pos}], {d}, {_num(b)}, '{layout}')[0, {col}]",
                        f"$\\{fn}({pos}\\,\\omega_{{{i}}}) = \\{fn}({pos * omega:.6g}) = {v:.6g}$",
                        tuple(range(d)), _series(row), col, "column", f"PE[{pos}, column]", v,
                        _sinusoid_by_hand(pos, col, d, b, layout)))


# -- §6 RoPE -------------------------------------------------------------------------------------

def _make_wavelength(rng: random.Random) -> dict:
    dim = rng.choice([64, 128])
    return {"dim": dim, "base": rng.choice([10000.0, 10000.0, 100000.0, 500000.0]), "pair": rng.randrange(dim // 2)}


def _rope_wavelength(p: dict) -> Numeric:
    d, b, i = p["dim"], p["base"], p["pair"]
    lam = rope.wavelengths(rope.inv_freq(d, b, device=CPU, dtype=torch.float64))  # [d/2]
    w = _f64(lam[i])
    confusions = [(b ** (2.0 * i / d), "That is $1/\\theta_i$, the tokens per *radian*; a full turn is $2\\pi$ "
                                       "radians.")]
    if i:
        confusions.append((2 * math.pi * b ** (1.0 * i / d), "The exponent is $2i/d$ (pairs), not $i/d$."))
    confusions.append((2 * math.pi * b ** (2.0 * (i + 1) / d), "Pairs are counted from 0: pair i has exponent $2i/d$."))
    return Numeric(
        params=dict(p), answer=w,
        prompt=(f"RoPE with head dimension $d = {d}$ and base {_num(b)}. How many tokens does pair **{i}** "
                "(counted from 0) take for one full turn? (3 significant digits)"),
        explanation=(f"$\\lambda_i = 2\\pi/\\theta_i = 2\\pi\\,b^{{2i/d}} = 2\\pi\\cdot{_num(b)}^{{{2 * i}/{d}}} "
                     f"\\approx {_num(w)}$ tokens (§6)."),
        confusions=tuple(confusions),
        working=Working(f"posviz.rope.wavelengths(posviz.rope.inv_freq({d}, {_num(b)}))[{i}]",
                        f"$2\\pi\\cdot {_num(b)}^{{{2 * i}/{d}}} = {_num(w)}$", tuple(range(d // 2)), _series(lam),
                        i, "pair i", "wavelength (tokens)", w, 2 * math.pi * b ** (2.0 * i / d), kind="line",
                        log_y=True))


def _make_angle(rng: random.Random) -> dict:
    dim = rng.choice([64, 128])
    return {"position": rng.randrange(1, 5000), "pair": rng.randrange(dim // 2), "dim": dim,
            "base": rng.choice([10000.0, 10000.0, 500000.0])}


def _rope_angle(p: dict) -> Numeric:
    m, i, d, b = p["position"], p["pair"], p["dim"], p["base"]
    freq = rope.inv_freq(d, b, device=CPU, dtype=torch.float64)  # [d/2]
    row = rope.angles(torch.tensor([float(m)], dtype=torch.float64), freq)[0]  # [d/2]
    a = _f64(row[i])
    confusions = [(math.degrees(a), "That is in degrees; the question asks for radians."),
                  (m * b ** (-1.0 * i / d), "The exponent is $-2i/d$, not $-i/d$.")]
    if a > 2 * math.pi:
        confusions.append((math.fmod(a, 2 * math.pi), "Reduced mod $2\\pi$: the question asks for the full angle."))
    return Numeric(
        params=dict(p), answer=a,
        prompt=(f"RoPE, head dimension $d = {d}$, base {_num(b)}. By what angle (in radians, **not** reduced mod "
                f"$2\\pi$) is pair **{i}** of a key at position **{m}** rotated? (3 significant digits)"),
        explanation=(f"$m\\,\\theta_i = {m}\\cdot{_num(b)}^{{-{2 * i}/{d}}} \\approx {_num(a)}$ rad (§6)."),
        confusions=tuple(confusions),
        working=Working(f"posviz.rope.angles([{m}], posviz.rope.inv_freq({d}, {_num(b)}))[0, {i}]",
                        f"${m}\\cdot {_num(b)}^{{-{2 * i}/{d}}} = {_num(a)}$", tuple(range(d // 2)), _series(row), i,
                        "pair i", f"angle at position {m} (rad)", a, m * b ** (-2.0 * i / d), kind="line",
                        log_y=True))


# -- §2 ids and interpolation ------------------------------------------------------------------

def _make_pi(rng: random.Random) -> dict:
    return {"position": rng.randrange(1, 32768), "factor": rng.choice([2, 4, 8, 16, 32])}


def _pi_position(p: dict) -> Numeric:
    m, s = p["position"], p["factor"]
    fed = _f64(ids.interpolate(torch.tensor([float(m)]), 1, s)[0])
    grid = torch.linspace(0, max(m * 1.25, 16), 41)  # [41]
    x = tuple(sorted(set(_series(grid)) | {float(m)}))
    confusions = [(m * s, "Interpolation squeezes positions into the trained range: divide by s, don't multiply."),
                  (float(m), "That is the position without interpolation.")]
    if not float(m / s).is_integer():
        confusions.append((float(m // s), "PI does not round: fractional positions are fed as they are."))
    return Numeric(
        params=dict(p), answer=fed,
        prompt=(f"Position interpolation (PI) stretches a model's context **{s}×**. The token at position "
                f"**{m}** is fed to the model at which position?"),
        explanation=(f"PI maps $m \\mapsto m/s$: ${m}/{s} = {_num(fed)}$. Every position lands inside the trained "
                     "range; neighbours end up only $1/s$ apart (§2, §6b)."),
        confusions=tuple(confusions),
        working=Working(f"posviz.ids.interpolate([{m}], train_len=1, target_len={s})",
                        f"$m/s = {m}/{s} = {_num(fed)}$", x, tuple(v / s for v in x), x.index(float(m)),
                        "position m", "position fed to the model", fed, m / s, kind="line"))


def _make_left_pad(rng: random.Random) -> dict:
    n_pad, n_tokens = rng.randrange(1, 7), rng.randrange(3, 10)
    return {"n_pad": n_pad, "n_tokens": n_tokens, "index": n_pad + rng.randrange(n_tokens)}


def _left_pad_position_id(p: dict) -> Numeric:
    n_pad, n_tok, k = p["n_pad"], p["n_tokens"], p["index"]
    mask = ids.padded_mask(n_tok, n_pad, "left")  # [n]
    row = ids.from_attention_mask(mask)  # [n]
    answer = int(row[k])
    return Numeric(
        params=dict(p), answer=float(answer),
        prompt=(f"A batch row is left-padded: **{n_pad}** pad tokens, then **{n_tok}** real tokens "
                f"(slots 0 … {n_pad + n_tok - 1}). With position ids computed from the attention mask, what id does "
                f"the token in slot **{k}** get?"),
        explanation=(f"Count real tokens only: $p = (\\sum_{{t \\le {k}}} m_t) - 1 = {k - n_pad + 1} - 1 = {answer}$. "
                     "`arange` would give the slot number instead, shifting the real tokens by the pad count (§2)."),
        confusions=((float(k), "That is the slot index, what `arange(n)` gives: the pads would shift every id."),
                    (float(answer + 1), "Ids start at 0: subtract 1 from the running count.")),
        working=Working(f"posviz.ids.from_attention_mask(posviz.ids.padded_mask({n_tok}, {n_pad}, 'left'))[{k}]",
                        f"mask {mask.tolist()} → ids {row.tolist()}", tuple(range(n_pad + n_tok)), _series(row), k,
                        "slot", "position id", float(answer), float(k - n_pad)))


# -- §4 learned tables ------------------------------------------------------------------------

def _make_table(rng: random.Random) -> dict:
    return {"n_positions": rng.choice([512, 1024, 2048, 4096, 8192]), "dim": rng.choice([384, 512, 768, 1024, 2048])}


def _learned_table_params(p: dict) -> Numeric:
    n, d = p["n_positions"], p["dim"]
    count = absolute.table_parameters(n, d)
    lengths = (512, 1024, 2048, 4096, 8192)
    return Numeric(
        params=dict(p), answer=float(count),
        prompt=(f"A model learns an absolute position table for **{_num(n)}** positions and width **{d}**. "
                "How many trainable parameters does the table hold?"),
        explanation=(f"One row of {d} numbers per position: ${_num(n)}\\cdot {d} = {_num(count)}$ parameters, used "
                     "once at the input (§4)."),
        confusions=((4.0 * count, "That is the size in bytes at fp32, not the number of parameters."),
                    (2.0 * count, "That is the size in bytes at bf16, not the number of parameters."),
                    (0.0, "A sinusoidal table has no parameters; a learned one has one row per position.")),
        working=Working(f"posviz.absolute.table_parameters({n}, {d})", f"${_num(n)}\\cdot{d} = {_num(count)}$",
                        lengths, tuple(float(absolute.table_parameters(L, d)) for L in lengths), lengths.index(n),
                        "positions", f"parameters (width {d})", float(count), float(n * d)))


# -- §8 decoding -------------------------------------------------------------------------------

def _make_decode(rng: random.Random) -> dict:
    return {"prompt_len": rng.randrange(1, 2000), "step": rng.randrange(0, 40)}


def _decode_position_id(p: dict) -> Numeric:
    P, t = p["prompt_len"], p["step"]
    new = ids.decode_ids(P, t + 1)  # [t + 1]
    answer = int(new[t])
    shown = range(max(0, t - 7), t + 1)
    return Numeric(
        params=dict(p), answer=float(answer),
        prompt=(f"A decoder-only model prefills a prompt of **{P}** tokens (ids 0 … {P - 1}) and then generates with "
                f"a KV cache. What position id must generated token number **{t}** (counting from 0) get?"),
        explanation=(f"Decode ids continue the prompt's: $P + t = {P} + {t} = {answer}$. Restarting at 0 makes new "
                     "tokens claim prompt positions; the cache hides the mistake from the shapes (§8, §1)."),
        confusions=((float(t), "That restarts the ids at 0 for generated tokens: the KV-cache bug."),
                    (float(answer + 1), "Off by one: the prompt uses ids 0 … P − 1, so the first new token is P."),
                    (float(answer - 1), "Off by one: the first generated token gets id P, not P − 1.")),
        working=Working(f"posviz.ids.decode_ids({P}, {t + 1})[{t}]", f"$P + t = {P} + {t} = {answer}$",
                        tuple(float(s) for s in shown), tuple(float(new[s]) for s in shown), len(shown) - 1,
                        "generated token t", "position id", float(answer), float(P + t)))


# -- §6c pairing -------------------------------------------------------------------------------

RULE = {"half": "half: pair i is features (i, i + d/2)", "interleaved": "interleaved: pair i is features (2i, 2i + 1)"}


def _make_partner(rng: random.Random) -> dict:
    dim = rng.choice([64, 64, 128])
    return {"dim": dim, "layout": rng.choice(["half", "interleaved"]), "feature": rng.randrange(dim)}


def _rope_pair_partner(p: dict) -> Numeric:
    d, layout, f = p["dim"], p["layout"], p["feature"]
    pairs = rope.pair_indices(d, layout, device=CPU)  # [d/2, 2]
    row = int((pairs == f).any(-1).nonzero()[0, 0])
    partner = int(pairs[row, 1] if int(pairs[row, 0]) == f else pairs[row, 0])
    half_partner = (f + d // 2) % d
    inter_partner = f ^ 1
    other = inter_partner if layout == "half" else half_partner
    by_hand = half_partner if layout == "half" else inter_partner
    who = ("Hugging Face's Llama code, GPT-NeoX" if layout == "half"
           else "GPT-J, the RoFormer paper, GGUF files of Llama-architecture models such as SmolLM2")
    partner_of = torch.empty(d, dtype=torch.long)  # [d] the other feature of each feature's pair
    partner_of[pairs[:, 0]], partner_of[pairs[:, 1]] = pairs[:, 1], pairs[:, 0]
    return Numeric(
        params=dict(p), answer=float(partner),
        prompt=(f"A RoPE head of dimension $d = {d}$ uses the **{layout}** pairing ({who}). Feature **{f}** "
                "(counted from 0) is rotated together with which other feature?"),
        explanation=(f"{RULE[layout]}, so feature {f} pairs with {partner}. Weights made for one pairing give "
                     "garbage with the other (§6c, §6)."),
        confusions=((float(other), "That is its partner in the other pairing: check which layout the weights use."),),
        working=Working(f"posviz.rope.pair_indices({d}, '{layout}')", f"feature {f} ↔ feature {partner}",
                        tuple(range(d)), _series(partner_of), f, "feature", "rotates together with feature",
                        float(partner), float(by_hand), label=f"{f} ↔ {partner}"))


# -- the registry: item id, section, title, relative tolerance (0: a whole number), draw, solve --------

FAMILIES: dict[str, Family] = {f.id: f for f in (
    Family("alibi_slope", "7", "Slope of one ALiBi head", 2e-3, _make_alibi, _alibi_slope),
    Family("alibi_bias", "7", "ALiBi bias between a query and a key", 2e-3, _make_alibi_bias, _alibi_bias),
    Family("ntk_base", "6b", "NTK-aware base", 1e-3, _make_ntk, _ntk_base),
    Family("yarn_attention_factor", "6b", "YaRN's attention factor", 1e-3, _make_yarn, _yarn_attention_factor),
    Family("dynamic_ntk_base", "6b", "Dynamic NTK base at a given length", 1e-3, _make_dynamic, _dynamic_ntk_base),
    Family("t5_bucket", "5", "T5 relative-position bucket", 0.0, _make_t5, _t5_bucket),
    Family("t5_last_bucket", "5", "Where T5's last bucket starts", 0.0, _make_t5_last, _t5_last_bucket),
    Family("sinusoid_value", "3", "One entry of the sinusoidal table", 1e-2, _make_sinusoid, _sinusoid_value),
    Family("rope_wavelength", "6", "Wavelength of a RoPE pair", 5e-3, _make_wavelength, _rope_wavelength),
    Family("rope_angle", "6", "Rotation angle of a RoPE pair", 5e-3, _make_angle, _rope_angle),
    Family("pi_position", "2", "Position fed by position interpolation", 1e-4, _make_pi, _pi_position),
    Family("left_pad_position_id", "2", "Position id in a left-padded row", 0.0, _make_left_pad, _left_pad_position_id),
    Family("learned_table_params", "4", "Parameters of a learned position table", 0.0, _make_table,
           _learned_table_params),
    Family("decode_position_id", "8", "Position id of a generated token", 0.0, _make_decode, _decode_position_id),
    Family("rope_pair_partner", "6c", "Which feature rotates with which", 0.0, _make_partner, _rope_pair_partner),
)}
