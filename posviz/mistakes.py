"""The ten common mistakes with positional encodings, each run broken and fixed on the same inputs (§9).

One registry, :data:`MISTAKES` (name -> :class:`Mistake`), in the lesson's order. Every entry's function
has one signature, ``fn(**knobs) -> MistakeDemo``: keyword arguments named in ``Mistake.knobs`` (small
integers a learner can change: a seed, a length, a head dim), each checked against its knob's range.
:func:`demo` dispatches by name.

A demo computes the broken and the fixed version on the same inputs and measures one *symptom*: a number
that gives the mistake away (a gap between two computations, a count of shared rows, of unseen angles).
Its verdict holds when the fixed version lands on the healthy side of a limit and the broken one does
not. Where the mistake happens to do no harm at the chosen settings (a sequence that fits the table, no
padding, evaluation at the training length), the verdict says so instead, in red.

Nothing is derived twice: each demo calls the posviz function that teaches the idea (``attention``,
``diagnostics``, ``rope``, ``absolute``, ``learned``, ``ids``, ``alibi``, ``scaling``,
``scaling_report``). Everything is tiny and runs on the CPU, mostly in float64 so that "equal" reads
as ~1e-16 rather than float32 noise; results are for drawing and stay on the CPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch

from . import absolute, alibi, attention, backend, diagnostics, ids, learned, rope, scaling, scaling_report
from .verdict import Verdict

F64 = torch.float64
DIM = 16                 # head dim of the toy heads (§1's permutation test uses the same)
EXACT = 1e-9             # float64 gaps below this are "equal" (rounding noise is ~1e-16)
NEEDLE_SCORE = 4.0       # content score of the needle key; distractors draw N(0, 1)
NEEDLE_DEPTHS = 11       # depths a needle-in-a-haystack grid tests: 0 %, 10 %, …, 100 % of the window
NEEDLE_SLACK = 0.1       # such a grid places the edge of a lost region to within one step: 10 % of the window
ALIBI_HEADS = 8          # the needle head is one of 8 ALiBi heads (slopes 1/2 … 1/256)
WORDS = ("dog", "bites", "man", "near", "the", "old", "river", "bank", "while", "a", "child", "watches")


# -- results ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Series:
    """One curve or bar set of a panel."""
    name: str
    x: torch.Tensor | tuple      # [n] numbers, or n category labels
    y: torch.Tensor              # [n]
    mode: str = "lines"          # "lines" | "dash" | "bars" | "flags" (failures) | "markers"/"misses" (tested)


@dataclass(frozen=True)
class Panel:
    """Half of the side-by-side picture: a heatmap ``z`` or some series."""
    title: str
    xtitle: str
    ytitle: str
    z: torch.Tensor | None = None          # [rows, cols]
    zlabel: str = "value"
    zrange: tuple[float, float] | None = None  # a fixed colour range for both panels (else their joint range)
    series: tuple[Series, ...] = ()
    log_y: bool = False
    hline: float | None = None             # a reference level (1 for norm ratios, 2π for angles)
    hline_label: str = "reference"


@dataclass(frozen=True)
class MistakeDemo:
    """A mistake and its fix computed on the same inputs, with the symptom measured on both."""
    name: str
    symptom: str           # what the number measures
    broken_value: float
    fixed_value: float
    limit: float           # the healthy side of it is given by ``healthy_above``
    healthy_above: bool    # True: healthy when symptom > limit; False: when symptom <= limit
    broken: Panel
    fixed: Panel
    note: str              # measured context: the ids used, row sums, what a checked call says

    def healthy(self, value: float) -> bool:
        return value > self.limit if self.healthy_above else value <= self.limit

    @property
    def verdict(self) -> Verdict:
        """The fix passes the symptom test and the mistake fails it; otherwise say which part did not happen."""
        m = MISTAKES[self.name]
        fixed_ok, broken_ok = self.healthy(self.fixed_value), self.healthy(self.broken_value)
        ok = fixed_ok and not broken_ok
        claim = m.caught if ok else (m.harmless if fixed_ok else "The fixed version fails the same test")
        side = ">" if self.healthy_above else "≤"
        return Verdict(ok, claim, f"{self.symptom}: with the mistake {fmt(self.broken_value)}, fixed "
                                  f"{fmt(self.fixed_value)} (healthy: {side} {fmt(self.limit)})")


def fmt(value: float) -> str:
    """A measured number for people: whole numbers as such, others to three significant digits."""
    if isinstance(value, (str, bytes)):
        raise ValueError(f"value must be a number, got {value!r:.40}")
    try:
        value = float(value)
    except (TypeError, ValueError, RuntimeError, OverflowError):
        raise ValueError(f"value must be a number, got {type(value).__name__} {value!r:.40}") from None
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e12:
        return f"{int(value):,}"
    return f"{value:.3g}"


@dataclass(frozen=True)
class Knob:
    """One integer a learner may change, with the range every call is checked against."""
    label: str
    lo: int
    hi: int
    default: int
    step: int = 1
    help: str = ""
    even: bool = False    # a head dim: sin/cos or rotation pairs


@dataclass(frozen=True)
class Mistake:
    """One row of the lesson's table and the function that shows it live."""
    number: int
    short: str            # a tab label
    title: str
    why: str              # why it is wrong
    fix: str
    section: str          # the page that teaches it, "§6"
    fn: Callable[..., MistakeDemo]
    knobs: dict[str, Knob] = field(default_factory=dict)
    caught: str = ""      # the verdict's claim when the fix passes and the mistake shows
    harmless: str = ""    # its claim when the mistake does no harm at these settings

    @property
    def row(self) -> dict[str, str]:
        return {"#": str(self.number), "Mistake": self.title, "Why it is wrong": self.why, "Fix": self.fix,
                "Taught in": self.section}


def _check(name: str, **values) -> tuple[int, ...]:
    """Each knob value an integer in its registry range (and even when the knob steps by 2)."""
    knobs = MISTAKES[name].knobs
    out = []
    for key, value in values.items():
        k = knobs[key]
        value = backend.check_int(key, value, k.lo, k.hi)
        out.append(backend.check_even(key, value) if k.even else value)
    return tuple(out)


def _f64_normal(seed: int, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


def _per_row(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).norm(dim=-1)  # [n] distance between matching rows


# -- 1. order -----------------------------------------------------------------------------------------

def order_blind(*, words: int = 6, seed: int = 0) -> MistakeDemo:
    """Shuffle a sentence with and without a position signal (``diagnostics.permutation_test``).

    Without position, attention is permutation-equivariant: the shuffled run's outputs are the original
    outputs permuted, to the last bit, so the head cannot know order (why Vaswani et al. 2017, §3.5, add
    position encodings at all). With RoPE they differ.
    """
    words, seed = _check("order", words=words, seed=seed)
    sentence = " ".join(WORDS[:words])
    runs = {s: diagnostics.permutation_test(sentence, s, seed=seed) for s in ("none", "rope")}

    def panel(r, title):
        gap = _per_row(r.out_shuffled, r.out[r.perm])  # [n]
        return Panel(title, "word (shuffled order)", "‖Δ output‖", series=(
            Series("shuffled run vs permuted original", tuple(r.shuffled), gap, "bars"),))

    none, rot = runs["none"], runs["rope"]
    return MistakeDemo("order", "largest |shuffled outputs − permuted original outputs|", none.output_gap,
                       rot.output_gap, EXACT, True, panel(none, "No position signal"),
                       panel(rot, "RoPE on q and k"), f"Shuffled: {' '.join(none.shuffled)}")


# -- 2. absolute vs relative --------------------------------------------------------------------------

def absolute_vs_relative(*, tokens: int = 8, shift: int = 37, seed: int = 0) -> MistakeDemo:
    """Call sinusoids "relative" and run the shift test (``diagnostics.shift_test``) against a T5 bias.

    PE[p]·PE[q] depends on p − q alone, which is where the claim comes from; but the score passes
    x + PE through W_q and W_k, and then depends on where the phrase sits.
    """
    tokens, shift, seed = _check("absrel", tokens=tokens, shift=shift, seed=seed)
    res = diagnostics.shift_test(tokens, shift, schemes=["sinusoid", "t5_bias"], seed=seed)
    pe = absolute.sinusoidal(shift + tokens, DIM).double()  # [shift + n, dim]
    raw = float((pe[:tokens] @ pe[:tokens].T - pe[shift:] @ pe[shift:].T).abs().max())

    def panel(s, title):
        return Panel(title, "key", "query", z=res[s]["after"] - res[s]["before"], zlabel="Δ score")

    return MistakeDemo(
        "absrel", f"largest change of the phrase's own scores when it moves by Δ = {shift}",
        res["sinusoid"]["gap"], res["t5_bias"]["gap"], EXACT, False,
        panel("sinusoid", "Sinusoids added to x: Δ score"), panel("t5_bias", "T5 bias (relative): Δ score"),
        f"The sinusoids alone do keep their dot products: PE[p]·PE[q] moved by only {raw:.0e} (float32 "
        "rounding). That property is lost once PE is added to x and projected.")


# -- 3. RoPE added like a vector ----------------------------------------------------------------------

def rope_added(*, positions: int = 24, dim: int = 16, seed: int = 0) -> MistakeDemo:
    """Scores of one q and k at every (m, n): rotated (RoPE) or with sinusoids added (``rope.relative_check``).

    Su et al. (2021, §3.2): the rotated score depends on m − n alone; the added one does not.
    """
    positions, dim, seed = _check("rope_added", positions=positions, dim=dim, seed=seed)
    c = rope.relative_check(dim, seed, positions)
    tol = rope.REL_TOL * max(c.scale, 1.0)
    return MistakeDemo("rope_added", "largest spread of the scores that share one offset m − n",
                       c.added_spread, c.rotated_spread, tol, False,
                       Panel("Added: (q + s(m))·(k + s(n))", "key position n", "query position m", z=c.added,
                             zlabel="score"),
                       Panel("Rotated: RoPE(q, m)·RoPE(k, n)", "key position n", "query position m",
                             z=c.rotated, zlabel="score"),
                       "RoPE's scores are constant along every diagonal (one value per offset); the added "
                       "ones also depend on where the pair sits.")


# -- 4. norm preservation -----------------------------------------------------------------------------

def norm_lost(*, dim: int = 16, max_position: int = 512, seed: int = 0) -> MistakeDemo:
    """A rotation that lost its minus sign against a correct one, by the unit test ``rope.norm_check``."""
    dim, max_position, seed = _check("norm", dim=dim, max_position=max_position, seed=seed)
    runs = {impl: rope.norm_check(dim, max_position, impl=impl, n_vectors=4, n_positions=200, seed=seed)
            for impl in ("missing_sign", "correct")}

    def panel(r, title):
        return Panel(title, "position", "‖rotated x‖ / ‖x‖", hline=1.0, hline_label="norm kept", series=tuple(
            Series(f"vector {v + 1}", r.positions, r.ratios[v]) for v in range(r.ratios.shape[0])))

    bad, good = runs["missing_sign"], runs["correct"]
    return MistakeDemo("norm", "largest |‖rotated x‖ − ‖x‖| / ‖x‖", bad.gap / bad.largest, good.gap / good.largest,
                       rope.REL_TOL, False, panel(bad, "Minus sign lost: [[cos, sin], [sin, cos]]"),
                       panel(good, "Rotation: [[cos, −sin], [sin, cos]]"),
                       f"{bad.ratios.shape[0]} random vectors at {len(bad.positions)} positions up to {max_position:,}.")


# -- 5. learned rows past the table -------------------------------------------------------------------

def _shared(vectors: torch.Tensor) -> int:
    """Tokens whose position vector equals another token's (compared as vectors, not as row numbers)."""
    v = vectors.double()
    d = (v[:, None, :] - v[None, :, :]).norm(dim=-1)  # [n, n]; exact zeros (cdist's matmul path is not)
    d.fill_diagonal_(math.inf)
    return int((d.min(dim=1).values < EXACT).sum())


def rows_past_table(*, rows: int = 32, length: int = 48, seed: int = 0) -> MistakeDemo:
    """A learned table read past its last row by clamping (``learned.lookup_demo``) against a resized table.

    The fix here is ``absolute.resize`` (interpolate to the new length, then fine-tune); the other fix is
    a scheme that has something to say past the table.
    """
    rows, length, seed = _check("table", rows=rows, length=length, seed=seed)
    table = absolute.learned_table(rows, DIM, std=1.0, seed=seed, device="cpu")  # [rows, dim]
    look = learned.lookup_demo(length, "clamp", table)
    clamped = table[look.unchecked.used]  # [length, dim]
    resized = absolute.resize(table, length) if length > rows else table
    fixed = absolute.lookup(resized, torch.arange(length))  # [length, dim]
    refusal = look.checked.refusal
    note = (f"A checked lookup refuses instead: “{refusal}”" if refusal
            else f"{length} tokens fit the {rows}-row table: every id has a row.")
    return MistakeDemo("table", "tokens whose position vector equals another token's", _shared(clamped),
                       _shared(fixed), 0.5, False,
                       Panel(f"Clamped: ids ≥ {rows} reuse row {rows - 1}", "token", "token",
                             z=absolute.cosine_similarity(clamped), zlabel="cosine"),
                       Panel(f"Table resized to {length} rows" if length > rows else f"Table as is ({rows} rows)",
                             "token", "token", z=absolute.cosine_similarity(fixed), zlabel="cosine"), note)


# -- 6. ALiBi after softmax ---------------------------------------------------------------------------

def bias_after_softmax(*, length: int = 12, heads: int = 8, seed: int = 0) -> MistakeDemo:
    """ALiBi's bias (``alibi.bias``) added after softmax instead of before (``attention.softmax_with_bias``).

    Before softmax the bias is a log-prior: softmax(S + B) = softmax(S)·e^B, renormalised, which is
    computed here a second way. After softmax, rows stop being distributions. Press et al. (2022) add
    the bias to the scores, next to the causal mask.
    """
    length, heads, seed = _check("alibi_after", length=length, heads=heads, seed=seed)
    visible = alibi.causal_mask(length, device="cpu")  # [q, k]
    scores = _f64_normal(seed, heads, length, length).masked_fill(~visible, -math.inf)  # [heads, q, k]
    bias = alibi.bias(heads, length, device="cpu", dtype=F64)  # [heads, q, k]
    prior = scores.softmax(-1) * bias.exp()
    prior = prior / prior.sum(-1, keepdim=True)  # [heads, q, k]
    w = {where: attention.softmax_with_bias(scores, bias, where=where) for where in ("after", "before")}
    gap = {where: float((x - prior).abs().max()) for where, x in w.items()}
    h = int(alibi.slopes(heads, device="cpu").argmax())
    sums = w["after"].sum(-1)
    return MistakeDemo(
        "alibi_after", "largest |weight − softmax(S)·e^B renormalised|", gap["after"], gap["before"], EXACT, False,
        Panel(f"softmax(S) + B, head {h}", "key j", "query i", z=w["after"][h], zlabel="weight", zrange=(-1, 1)),
        Panel(f"softmax(S + B), head {h}", "key j", "query i", z=w["before"][h], zlabel="weight", zrange=(-1, 1)),
        f"With the bias after softmax, rows sum to {float(sums.min()):.2f} … {float(sums.max()):.2f} and the "
        f"smallest weight is {float(w['after'].min()):.2f} (the colours stop at ±1, the range a probability "
        f"could span). Head {h} is the steepest of {heads}.")


# -- 7. decode ids with a KV cache --------------------------------------------------------------------

def decode_ids(*, prompt: int = 8, new: int = 6, seed: int = 0) -> MistakeDemo:
    """A KV-cached RoPE decode loop with restarted ids against cache-aware ids (``ids.decode_ids``).

    Both are compared with a full causal recompute (``attention.attend``): every key is rotated once,
    with the id it had when it entered the cache, and each new token's query reads the cache so far.
    """
    prompt, new, seed = _check("decode", prompt=prompt, new=new, seed=seed)
    n = prompt + new
    x = _f64_normal(seed, n, DIM)  # [n, dim]
    w = attention.random_weights(DIM, seed=seed, device="cpu").double()
    full = attention.attend(x, w, scheme="rope", causal=True)["out"][prompt:]  # [new, dim]
    freq = rope.inv_freq(DIM, device="cpu", dtype=F64)  # [dim/2]
    step = torch.arange(new)

    def cached(new_ids):
        pos = torch.cat([torch.arange(prompt), new_ids])  # [n] id of each cache slot
        k = rope.apply_rope(x @ w.wk, pos, freq, layout="interleaved")  # [n, dim]
        q = rope.apply_rope(x[prompt:] @ w.wq, new_ids, freq, layout="interleaved")  # [new, dim]
        in_cache = torch.arange(n)[None, :] <= (prompt + step)[:, None]  # [new, n]
        s = (q @ k.T / math.sqrt(DIM)).masked_fill(~in_cache, -math.inf)  # [new, n]
        return s.softmax(-1) @ (x @ w.wv)  # [new, dim]

    runs = {restart: ids.decode_ids(prompt, new, restart=restart) for restart in (True, False)}
    gaps = {restart: _per_row(cached(i), full) for restart, i in runs.items()}  # [new] each

    def panel(restart, title):
        labels = tuple(f"id {i}" for i in runs[restart].tolist())
        return Panel(title, "generated token (its position id)", "‖cached − full recompute‖",
                     series=(Series("per decode step", labels, gaps[restart], "bars"),))

    return MistakeDemo("decode", "largest |cached decode output − full recompute|", float(gaps[True].max()),
                       float(gaps[False].max()), EXACT, False, panel(True, "Ids restart at 0"),
                       panel(False, f"Ids continue at {prompt}"),
                       f"The prompt holds ids 0 … {prompt - 1}; the buggy loop gives the new tokens "
                       f"{runs[True].tolist()}, the right one {runs[False].tolist()}.")


# -- 8. long context judged by its maximum length -----------------------------------------------------

def window_by_max_length(*, window: int = 256, head: int = 3, seed: int = 0) -> MistakeDemo:
    """Needle retrieval by depth for one ALiBi head (``alibi.bias``, ``attention.softmax_with_bias``).

    The last token asks; a needle key (content score NEEDLE_SCORE) hides at distance d among N(0, 1)
    distractors. It is retrieved when it gets the largest weight. Ground truth scans every d. The
    max-length check tries the needle right before the question only and calls the window usable; a
    needle grid tests NEEDLE_DEPTHS depths and reports each d as its nearest tested depth. The symptom
    is the share of the window where the fact is lost but the evaluation said it was found. Real
    evaluations do the same with a model: needle-in-a-haystack grids (Kamradt, 2023) and Liu et al.,
    "Lost in the Middle" (2023), who found facts in the middle of a long input recalled worst.
    """
    window, head, seed = _check("needle", window=window, head=head, seed=seed)
    d = torch.arange(window)  # [L] needle distance from the question
    bias = alibi.bias(ALIBI_HEADS, 1, window, device="cpu", dtype=F64)[head, 0]  # [L] on each key
    scores = _f64_normal(seed, window).expand(window, window).clone()  # [placements, keys]
    scores[d, window - 1 - d] = NEEDLE_SCORE
    w = attention.softmax_with_bias(scores, bias)  # [placements, keys]
    needle = w[d, window - 1 - d]  # [L]
    lost = needle < w.max(-1).values  # [L]
    tested = torch.linspace(0, window - 1, NEEDLE_DEPTHS, dtype=F64).round().long()  # [depths]
    nearest = tested[(d[:, None] - tested[None, :]).abs().argmin(-1)]  # [L] depth each d is judged by
    missed = {"max": lost & ~lost[0], "grid": lost & ~lost[nearest]}

    def panel(at, title):
        return Panel(title, "needle distance (tokens)", "attention on the needle", series=(
            Series("every distance (ground truth)", d, needle), Series("lost there", d[lost], needle[lost], "flags"),
            Series("tested: found", at[~lost[at]], needle[at][~lost[at]], "markers"),
            Series("tested: lost", at[lost[at]], needle[at][lost[at]], "misses")))

    share = {k: float(v.double().mean()) for k, v in missed.items()}
    slope = float(alibi.slopes(ALIBI_HEADS, device="cpu")[head])
    return MistakeDemo("needle", "share of the window where the needle is lost but reported found", share["max"],
                       share["grid"], NEEDLE_SLACK, False,
                       panel(tested[:1], "Max-length check: one test"),
                       panel(tested, f"Needle grid: {NEEDLE_DEPTHS} depths"),
                       f"ALiBi head {head} (slope {slope:g}) loses the needle at {int(lost.sum())} of {window} "
                       f"depths; the grid's verdict is wrong at {int(missed['grid'].sum())} of them.")


# -- 9. padding masks vs position ids -----------------------------------------------------------------

def mask_as_position(*, tokens: int = 6, pads: int = 4, seed: int = 0) -> MistakeDemo:
    """A left-padded sentence whose ids are the slot numbers, against mask-aware ids (``ids.pad_batch``).

    The padding mask hides the pads in both runs, so only the real tokens take part; the question is
    which ids they get. The reference is the same sentence alone, unpadded (``attention.attend`` with a
    GPT-2-style learned table, where the ids pick rows). Hugging Face's generation builds position ids
    from the attention mask for this reason.
    """
    tokens, pads, seed = _check("padding", tokens=tokens, pads=pads, seed=seed)
    batch = ids.pad_batch(tokens, pads, "left")
    real = batch.mask == 1  # [slots]
    x = _f64_normal(seed, tokens, DIM)  # [n, dim] the real tokens
    w = attention.random_weights(DIM, seed=seed, device="cpu").double()
    alone = attention.attend(x, w, scheme="learned", causal=True)["out"]  # [n, dim]
    runs = {"slots": batch.naive[real], "mask": batch.aware[real]}
    gaps = {k: _per_row(attention.attend(x, w, p, scheme="learned", causal=True)["out"], alone)
            for k, p in runs.items()}  # [n] each

    def panel(k, title):
        labels = tuple(f"t{i} (id {p})" for i, p in enumerate(runs[k].tolist()))
        return Panel(title, "real token", "‖output − alone‖",
                     series=(Series("per token", labels, gaps[k], "bars"),))

    return MistakeDemo("padding", "largest |padded-batch output − the sentence alone|", float(gaps["slots"].max()),
                       float(gaps["mask"].max()), EXACT, False, panel("slots", "Mask only: ids = slot numbers"),
                       panel("mask", "Mask + ids from the mask"),
                       f"Slots: {' '.join(batch.tokens)}. The mask hides the {pads} pad(s) in both runs; only "
                       "the ids differ.")


# -- 10. extrapolation taken for granted --------------------------------------------------------------

def extrapolation_assumed(*, train: int = 512, factor: int = 4, dim: int = 64) -> MistakeDemo:
    """Plain RoPE served at T = factor·L against position interpolation (``scaling_report.angle_stats``).

    Counts the pairs that meet angles never seen in training; the note adds what a learned table and a
    relative scheme meet at T (``diagnostics.seen_fraction``). Chen et al. (2023) introduced PI after
    finding that plain RoPE models fail past their length; they fine-tune after interpolating.
    """
    train, factor, dim = _check("extrapolation", train=train, factor=factor, dim=dim)
    target = train * factor
    theta = rope.inv_freq(dim, device="cpu", dtype=F64)  # [dim/2] the trained frequencies
    stats = {m: scaling_report.angle_stats(scaling.rope_frequencies(m, dim, factor=factor, device="cpu")[0],
                                           theta, train, target) for m in ("default", "linear")}
    pair = torch.arange(dim // 2)

    def panel(m, title):
        a = stats[m]
        return Panel(title, "pair i (fast → slow)", "angle (radians)", log_y=True, hline=2 * math.pi,
                     hline_label="one full turn", series=(
                         Series(f"angle at position T − 1 = {target - 1:,}", pair, a.target),
                         Series("largest trained angle (L − 1)·θ_i", pair, a.trained, "dash"),
                         Series("never seen in training", pair[a.ood], a.target[a.ood], "markers")))

    seen = diagnostics.seen_fraction(train, target)
    return MistakeDemo(
        "extrapolation", f"pairs that meet angles never seen in training, at T = {target:,}",
        int(stats["default"].ood.sum()), int(stats["linear"].ood.sum()), 0.5, False,
        panel("default", "Plain RoPE, assumed to extrapolate"), panel("linear", f"Interpolated (PI, ×{factor})"),
        f"At T = {target:,} a learned table has no row for {target - train:,} positions, and a causal relative "
        f"scheme meets offsets it never saw in {1 - seen['offsets']:.0%} of (query, key) pairs. PI keeps the "
        "angles in range but is published with a fine-tune: measure at the length you serve.")


# -- the registry -------------------------------------------------------------------------------------

SEED = Knob("Seed", 0, 999, 0, help="New random vectors and weights; the verdict must hold for every seed.")

MISTAKES: dict[str, Mistake] = {name: m for name, m in (
    ("order", Mistake(
        1, "Order", "Assuming attention knows order by itself",
        "Softmax attention over a set treats its inputs as a bag: shuffle them and the outputs just shuffle.",
        "Inject position: add it to x, rotate q and k, or bias the scores.", "§1", order_blind,
        {"words": Knob("Words", 2, len(WORDS), 6), "seed": Knob("Shuffle #", 0, 999, 0, help="Which shuffle.")},
        caught="Without position the head is blind to order; with RoPE the shuffle changes the outputs",
        harmless="The shuffle changed nothing with either version")),
    ("absrel", Mistake(
        2, "Abs. vs rel.", "Mixing absolute and relative claims",
        "A property of absolute ids (or of raw sinusoids) is not a property of the scores a model computes.",
        "Say where position enters the formula before claiming shift invariance.", "§5", absolute_vs_relative,
        {"tokens": Knob("Tokens", 2, 32, 8), "shift": Knob("Shift the phrase by Δ", 1, 1000, 37), "seed": SEED},
        caught="Sinusoids added to x fail the shift test that a relative bias passes",
        harmless="The sinusoid scores happened not to move either")),
    ("rope_added", Mistake(
        3, "RoPE added", "Adding RoPE like a vector",
        "RoPE rotates each (q, k) pair; adding its sinusoids mixes absolute positions into the score.",
        "Rotate the pairs of q and k, after the projections.", "§6", rope_added,
        {"positions": Knob("Positions", 4, 64, 24), "dim": Knob("Head dim", 4, 64, 16, step=2, even=True), "seed": SEED},
        caught="Rotation gives one score per offset; adding does not",
        harmless="Adding happened to give one score per offset too")),
    ("norm", Mistake(
        4, "Norms", "Forgetting norm preservation",
        "A rotation keeps every pair's length; a sign slip turns it into a stretch that depends on position.",
        "Unit-test ‖RoPE(x, p)‖ = ‖x‖ at many positions.", "§6", norm_lost,
        {"dim": Knob("Head dim", 4, 64, 16, step=2, even=True), "max_position": Knob("Positions up to", 16, 4096, 512),
         "seed": SEED},
        caught="The norm test passes the rotation and catches the lost sign",
        harmless="The sign slip kept every norm at these settings")),
    ("table", Mistake(
        5, "Past the table", "Using learned rows past their range",
        "A learned table has no row beyond its length; clamping or wrapping hands one row to many tokens.",
        "Refuse, or resize (interpolate) and fine-tune, or use a scheme that extrapolates.", "§4",
        rows_past_table,
        {"rows": Knob("Table rows", 4, 64, 32), "length": Knob("Sequence length", 2, 128, 48), "seed": SEED},
        caught="Clamping gives several tokens one position vector; the resized table gives each its own",
        harmless="The sequence fits the table: no token needs a missing row")),
    ("alibi_after", Mistake(
        6, "After softmax", "Applying the ALiBi bias after softmax",
        "A bias is a log-prior only inside softmax; added afterwards, rows stop summing to one.",
        "Add the bias to the scores, with the causal mask, before softmax.", "§7", bias_after_softmax,
        {"length": Knob("Tokens", 2, 32, 12), "heads": Knob("Heads", 1, 16, 8), "seed": SEED},
        caught="Before softmax the bias acts as a log-prior; after softmax it does not",
        harmless="Adding after softmax happened to match")),
    ("decode", Mistake(
        7, "Decode ids", "Ignoring decode position ids with a KV cache",
        "Each new token must continue the prompt's ids; restarting at 0 rotates it to a prompt position.",
        "Track the prefix length and the step; test one decode step against a full forward pass.", "§8",
        decode_ids,
        {"prompt": Knob("Prompt length", 1, 32, 8), "new": Knob("Generated tokens", 1, 16, 6), "seed": SEED},
        caught="Cache-aware ids reproduce the full recompute; restarted ids do not",
        harmless="Restarted ids happened to reproduce the full recompute")),
    ("needle", Mistake(
        8, "Max length", "Judging long context by the maximum length only",
        "A model can accept L tokens and still lose facts placed far back inside them.",
        "Evaluate retrieval by position and distance, at the lengths you care about.", "§8",
        window_by_max_length,
        {"window": Knob("Window L (tokens)", 16, 1024, 256, step=16),
         "head": Knob("ALiBi head (0 = steepest of 8)", 0, ALIBI_HEADS - 1, 3), "seed": SEED},
        caught="The needle grid finds the losses that a max-length check reports as fine",
        harmless="This head finds the needle at every depth: the max-length check happens to be right")),
    ("padding", Mistake(
        9, "Masks", "Confusing padding masks with position encodings",
        "The mask decides which keys are visible; it does not renumber the tokens that are left.",
        "Use both: a padding mask, and position ids counted from it.", "§2", mask_as_position,
        {"tokens": Knob("Real tokens", 1, 12, 6), "pads": Knob("Left pads", 0, 16, 4), "seed": SEED},
        caught="Mask-aware ids reproduce the unpadded sentence; slot numbers do not",
        harmless="No pads, so slot numbers are the right ids")),
    ("extrapolation", Mistake(
        10, "Extrapolation", "Treating extrapolation as guaranteed",
        "Past the training length every scheme meets inputs it never saw: rows, offsets or angles.",
        "Measure at the target length; scale or fine-tune deliberately.", "§6b", extrapolation_assumed,
        {"train": Knob("Trained length L", 64, 4096, 512, step=64), "factor": Knob("Serve at T = factor·L", 1, 16, 4),
         "dim": Knob("Head dim", 16, 256, 64, step=16, even=True)},
        caught="Plain RoPE meets angles it never trained on; interpolation keeps them in range",
        harmless="At T = L nothing is new: the assumption has not been tested yet")),
)}


def demo(name: str, **knobs) -> MistakeDemo:
    """Run one mistake by registry name, broken and fixed, with ``knobs`` (see ``MISTAKES[name].knobs``)."""
    backend.check_option("name", name, MISTAKES)
    unknown = sorted(set(knobs) - set(MISTAKES[name].knobs))
    if unknown:
        raise ValueError(f"knobs for {name!r} must be among {tuple(MISTAKES[name].knobs)}, got {unknown}")
    return MISTAKES[name].fn(**knobs)
