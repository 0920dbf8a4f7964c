"""Experiments that reveal what a position scheme does: permutation and shift tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from . import attention, backend
from .verdict import Verdict

# Ceilings on size arguments (issue 7), far above what the app uses (12 words, 32 tokens, Δ <= 1000, d = 16):
MAX_PERMUTATION = 1 << 20   # permutation(n)
MAX_CURVE_POINTS = 10_000   # seen_curve(points)
MAX_SHIFT_TOKENS = 4096     # shift_scores(n_tokens)
MAX_SHIFT_START = 1_000_000  # start + n_tokens for shift_scores(start), shift_test(delta), move_phrase(start)
MAX_SHIFT_DIM = 1024        # shift_scores(dim)
MAX_SHIFT_CELLS = 1 << 22   # n·(start + n)·dim: Shaw's gathered relative keys [n, start+n, dim], float64


def permutation(n: int, seed: int) -> torch.Tensor:
    """A seeded shuffle of ``range(n)`` that moves something whenever n > 1."""
    n = backend.check_int("n", n, 1, MAX_PERMUTATION)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(backend.check_seed("seed", seed)))
    if n > 1 and torch.equal(perm, torch.arange(n)):
        perm = perm.roll(1)
    return perm


EXACT = 1e-9  # float64 gaps below this are "equal": rounding noise is ~1e-16


@dataclass(frozen=True)
class PermutationResult:
    """One sentence run in order and shuffled through the same seeded head (float64)."""
    scheme: str
    causal: bool
    tokens: list[str]
    shuffled: list[str]
    perm: torch.Tensor             # [n]
    scores: torch.Tensor           # [n, n] original order
    scores_shuffled: torch.Tensor  # [n, n] shuffled input
    scores_expected: torch.Tensor  # [n, n] original scores, permuted
    out: torch.Tensor              # [n, dim]
    out_shuffled: torch.Tensor     # [n, dim]
    score_gap: float               # max |scores_shuffled - scores_expected| where both are visible
    output_gap: float              # max |out_shuffled - out[perm]|
    visibility_changes: int        # (query, key) pairs whose causal visibility the shuffle changed

    @property
    def equivariant(self) -> bool:
        return self.output_gap < EXACT and self.score_gap < EXACT

    @property
    def verdict(self) -> Verdict:
        """The lesson's claim for this scheme: equivariant exactly when nothing carries position."""
        has_position = attention.SCHEMES[self.scheme].enters != "nowhere"
        carries_order = has_position or self.causal
        detail = (f"largest |Δ| between the shuffled run's outputs and the permuted original outputs = "
                  f"{self.output_gap:.2e}; scores: {self.score_gap:.2e}")
        if self.causal:
            detail += f"; (word, word) pairs whose visibility changed: {self.visibility_changes}"
        if not carries_order:
            claim = ("Without position, the outputs are exactly the permuted outputs" if self.equivariant
                     else "Position leaked in: the outputs are not just permuted")
            return Verdict(self.equivariant, claim, detail)
        what = "the position signal" if has_position else "the causal mask"
        claim = (f"With {what}, order matters: the outputs are not just permuted" if not self.equivariant
                 else f"{what.capitalize()} changed nothing: the outputs are still just permuted")
        return Verdict(not self.equivariant, claim, detail)


def permutation_test(sentence: str, scheme: str = "none", *, seed: int = 0, dim: int = 16,
                     causal: bool = False, device=None) -> PermutationResult:
    """Shuffle a sentence and compare attention before and after.

    Without position, attention is permutation-equivariant: feeding the words
    in order π gives outputs ``out[π]`` and scores ``S[π][:, π]``, exactly.
    With a position scheme the shuffled words land in new slots, so both change.
    A causal mask alone also breaks the symmetry: each word sees a different
    prefix after the shuffle (why decoders can learn order without any
    position signal, Haviv et al. 2022).
    """
    tokens = attention.words(sentence)
    backend.check_option("scheme", scheme, attention.SCHEMES)
    dim = backend.check_int("dim", dim, 2, attention.MAX_DIM)
    if scheme in attention.EVEN_DIM_SCHEMES:
        backend.check_even("dim", dim)
    causal = backend.check_bool("causal", causal)
    perm = permutation(len(tokens), seed)  # [n]
    # float64 so that "equal" shows as ~1e-16, not float32 rounding noise
    x = attention.word_vectors(tokens, dim, device=device).double()  # [n, dim]
    w = attention.random_weights(dim, seed=1, device=device).double()
    base = attention.attend(x, w, scheme=scheme, causal=causal)
    shuf = attention.attend(x[perm], w, scheme=scheme, causal=causal)
    expected_scores = base["scores"][perm][:, perm]  # [n, n]
    both = expected_scores.isfinite() & shuf["scores"].isfinite()  # visible in both runs
    return PermutationResult(
        scheme=scheme, causal=causal, tokens=tokens, shuffled=[tokens[i] for i in perm.tolist()], perm=perm,
        scores=base["scores"], scores_shuffled=shuf["scores"], scores_expected=expected_scores,
        out=base["out"], out_shuffled=shuf["out"],
        score_gap=float((shuf["scores"] - expected_scores)[both].abs().max()),
        output_gap=float((shuf["out"] - base["out"][perm]).abs().max()),
        visibility_changes=int((expected_scores.isfinite() != shuf["scores"].isfinite()).sum()),
    )


def seen_fraction(train_len: int, eval_len: int) -> dict[str, float]:
    """Share of what a model meets at ``eval_len`` that it already met at ``train_len``.

    Absolute schemes see positions; relative schemes see offsets i − j
    between a causal query and its keys. Counting both shows why relative
    schemes degrade more gently: most (query, key) pairs of a long sequence
    are still close together... but not all.
    """
    train_len = backend.check_int("train_len", train_len, 1, 10_000_000)
    eval_len = backend.check_int("eval_len", eval_len, 1, 10_000_000)
    seen_pos = min(train_len, eval_len) / eval_len
    # causal pairs (i, j), j <= i < eval_len, with offset i - j < train_len
    total = eval_len * (eval_len + 1) / 2
    far = max(eval_len - train_len, 0)  # offsets d = train_len .. eval_len-1, (eval_len - d) pairs each
    unseen = far * (far + 1) / 2
    return {"positions": seen_pos, "offsets": 1 - unseen / total}


@dataclass(frozen=True)
class SeenCurve:
    """``seen_fraction`` along evaluation lengths 1 .. max_factor·L, and at one marked length."""
    train_len: int
    lengths: np.ndarray    # [m] evaluation lengths (integers, increasing)
    positions: np.ndarray  # [m] share of positions already seen
    offsets: np.ndarray    # [m] share of causal offsets already seen
    eval_len: int
    at_eval: dict          # seen_fraction(train_len, eval_len)


def seen_curve(train_len: int, max_factor: float, eval_factor: float, *, points: int = 200) -> SeenCurve:
    """Why relative schemes degrade more gently than absolute ones, as one curve per kind of signal.

    The curve runs to ``max(max_factor, eval_factor) · train_len`` and marks ``eval_factor · train_len``.
    """
    train_len = backend.check_int("train_len", train_len, 1, 1_000_000)
    max_factor = backend.check_positive("max_factor", max_factor, minimum=1.0)
    eval_factor = backend.check_positive("eval_factor", eval_factor, minimum=1.0)
    if max_factor > 64:
        raise ValueError(f"max_factor must be between 1 and 64, got {max_factor}")
    if eval_factor > 64:
        raise ValueError(f"eval_factor must be between 1 and 64, got {eval_factor}")
    points = backend.check_int("points", points, 2, MAX_CURVE_POINTS)
    top = max(max_factor, eval_factor)  # the marked length is always on the curve
    lengths = np.unique(np.linspace(1, train_len * top, points).astype(int))  # [m]
    fr = [seen_fraction(train_len, int(n)) for n in lengths]
    eval_len = int(round(train_len * eval_factor))
    return SeenCurve(train_len, lengths, np.array([f["positions"] for f in fr]),
                     np.array([f["offsets"] for f in fr]), eval_len, seen_fraction(train_len, eval_len))


# -- shift test: move the whole sequence, compare scores ---------------------

from . import absolute, relative  # noqa: E402  (kept with the code that needs it)

SHIFT_SCHEMES = {
    "t5_bias": "T5 bias table (relative)",
    "shaw": "Shaw relative keys (relative)",
    "transformer_xl": "Transformer-XL terms (relative)",
    "sinusoid": "Sinusoid added to x (absolute)",
}


def _check_shift(n_tokens, start, dim, start_name: str = "start") -> tuple[int, int, int]:
    """n_tokens, start (called ``start_name`` in messages) and dim of a shift run, within the ceilings."""
    n = backend.check_int("n_tokens", n_tokens, 1, MAX_SHIFT_TOKENS)
    start = backend.check_int(start_name, start, 0, MAX_SHIFT_START - n)  # the last token sits at start + n - 1
    dim = backend.check_even("dim", backend.check_int("dim", dim, 2, MAX_SHIFT_DIM))
    if n * (start + n) * dim > MAX_SHIFT_CELLS:
        raise ValueError(f"n_tokens·({start_name} + n_tokens)·dim must be at most {MAX_SHIFT_CELLS}, got "
                         f"{n}·({start} + {n})·{dim} = {n * (start + n) * dim}")
    return n, start, dim


def shift_scores(n_tokens: int, start: int, scheme: str = "t5_bias", *, dim: int = 16, seed: int = 0,
                 device=None) -> torch.Tensor:
    """Pre-softmax scores ``[n, n]`` (float64) of one seeded head with the tokens at ``start .. start+n-1``.

    The token vectors, projections and position tables depend on ``seed`` only,
    so two calls that differ in ``start`` see the same content at different
    absolute positions. Schemes (``SHIFT_SCHEMES``):

    - ``t5_bias``: ``q.k/sqrt(d)`` plus a seeded ``[32, 1]`` T5 bucket table (bidirectional).
    - ``shaw``: Shaw et al.'s ``q.(k + a_ij)/sqrt(d)`` with 9 seeded relative keys (k = 4).
    - ``transformer_xl``: the four Transformer-XL terms, summed, divided by ``sqrt(d)``.
    - ``sinusoid``: ``x + PE[p]`` (interleaved sinusoids) before the projections.

    Every position signal is computed from the absolute positions ``start ..``:
    the T5 and Shaw functions place keys at ``0 ..``, so their key side is
    padded with ``start`` unused rows that are then sliced off; Transformer-XL
    gets ``R`` built from the two position vectors.
    """
    backend.check_option("scheme", scheme, SHIFT_SCHEMES)
    n, start, dim = _check_shift(n_tokens, start, dim)
    dev = backend.device(device)
    g = torch.Generator().manual_seed(backend.check_seed("seed", seed))
    f64 = dict(dtype=torch.float64)
    x = torch.randn(n, dim, generator=g, **f64)  # [n, dim]
    w = attention.random_weights(dim, seed=seed)
    wq, wk = w.wq.double(), w.wk.double()  # [dim, dim]
    t5_table = torch.randn(32, 1, generator=g, **f64)  # [buckets, heads]
    rel_keys = torch.randn(9, dim, generator=g, **f64) / dim ** 0.5  # [2k+1, dim]
    w_kr = torch.randn(dim, dim, generator=g, **f64) / dim ** 0.5  # [dim, dim]
    u, v = (0.5 * torch.randn(dim, generator=g, **f64) for _ in range(2))  # [dim] each
    x, wq, wk, t5_table, rel_keys, w_kr, u, v = (t.to(dev) for t in (x, wq, wk, t5_table, rel_keys, w_kr, u, v))
    scale = dim ** -0.5

    def padded(t):  # [start + n, dim]: keys at absolute positions start..
        return torch.cat([t.new_zeros(start, t.shape[-1]), t])

    if scheme == "sinusoid":
        h = x + absolute.sinusoidal(start + n, dim, device=dev)[start:].double()  # [n, dim]
        return (h @ wq) @ (h @ wk).T * scale  # [n, n]
    q, k = x @ wq, x @ wk  # [n, dim]
    content = q @ k.T * scale  # [n, n]
    if scheme == "t5_bias":
        bias = relative.relative_bias(t5_table, n, start + n, query_start=start, device=dev)  # [1, n, start+n]
        return content + bias[0, :, start:]
    if scheme == "shaw":
        pos = relative.shaw_terms(q, padded(k), rel_keys, query_start=start)["position"]  # [n, start+n]
        return content + pos[:, start:]
    positions = start + torch.arange(n, device=dev)  # [n]
    r = absolute.sinusoid_at(positions[:, None] - positions[None, :], dim, layout="concat",
                             dtype=torch.float64)  # [n, n, dim]: Transformer-XL's R_{i-j}
    terms = relative.transformer_xl_terms(x, x, wq.T, wk.T, w_kr, u, v, r)
    return sum(terms.values()) * scale  # [n, n]


def shift_test(n_tokens: int, delta: int, *, schemes=None, dim: int = 16, seed: int = 0,
               device=None) -> dict[str, dict]:
    """Move the whole sequence by ``delta`` positions and compare its scores, per scheme.

    Returns ``{scheme: {"before": [n, n], "after": [n, n], "gap": max |after - before|}}``
    (float64). Relative schemes give gap 0 for every ``delta``; an absolute
    scheme changes the scores, because each token's position signal changes
    although no distance does.
    """
    n_tokens, delta, dim = _check_shift(n_tokens, delta, dim, "delta")
    seed = backend.check_seed("seed", seed)
    if schemes is None:
        schemes = list(SHIFT_SCHEMES)
    elif (not isinstance(schemes, (list, tuple)) or not schemes
          or not all(isinstance(s, str) and s in SHIFT_SCHEMES for s in schemes)):
        raise ValueError(f"schemes must be None or a non-empty list of {tuple(SHIFT_SCHEMES)}, "
                         f"got {type(schemes).__name__} {schemes!r:.60}")
    out = {}
    for s in schemes:
        before = shift_scores(n_tokens, 0, s, dim=dim, seed=seed, device=device)
        after = shift_scores(n_tokens, delta, s, dim=dim, seed=seed, device=device)
        out[s] = {"before": before, "after": after, "gap": float((after - before).abs().max())}
    return out


@dataclass(frozen=True)
class MovedPhrase:
    """A phrase of ``n`` tokens moved to start at ``start``: what changes and what does not."""
    start: int
    ids: torch.Tensor      # [n] absolute position ids start .. start+n-1
    offsets: torch.Tensor  # [n, n] ids[i] - ids[j] of the moved phrase
    relative_gap: float    # max |Δ score| under a T5 bias table when the phrase moves
    absolute_gap: float    # the same under sinusoids added to the input

    @property
    def verdict(self) -> Verdict:
        rel_same = self.relative_gap < EXACT
        abs_moved = self.start == 0 or self.absolute_gap > 1e-6
        detail = (f"ids now run {self.start}…{self.start + len(self.ids) - 1}; largest score change when the "
                  f"phrase moves: T5 bias {self.relative_gap:.1e}, sinusoids {self.absolute_gap:.1e}")
        if rel_same and abs_moved:
            claim = ("A relative scheme scores the moved phrase exactly as before; an absolute one does not"
                     if self.start else "At start 0 nothing has moved yet: both schemes give the same scores")
            return Verdict(True, claim, detail)
        return Verdict(False, "Moving the phrase changed the relative scores" if not rel_same
                       else "Moving the phrase left the absolute scores unchanged", detail)


def move_phrase(n_tokens: int, start: int, *, seed: int = 0, device=None) -> MovedPhrase:
    """Absolute ids follow the phrase; offsets, and the scores of a relative scheme, do not (float64)."""
    n_tokens, start, _ = _check_shift(n_tokens, start, 16)  # shift_test's default dim
    gaps = shift_test(n_tokens, start, schemes=["t5_bias", "sinusoid"], seed=seed, device=device)
    ids = start + torch.arange(n_tokens)  # [n]
    return MovedPhrase(start, ids, ids[:, None] - ids[None, :], gaps["t5_bias"]["gap"], gaps["sinusoid"]["gap"])


ABSOLUTE_SHIFT_SCHEMES = ("sinusoid",)  # the SHIFT_SCHEMES whose scores may move with the phrase


@dataclass(frozen=True)
class ShiftResult:
    """The shift test on one seeded head: a phrase's own scores at 0 and at Δ, per scheme (float64).

    What it shows: the scores among the phrase's own tokens. Not that the phrase
    "means the same" anywhere: in a document its context differs, and its queries
    attend to that context too.
    """
    n_tokens: int
    delta: int
    scheme: str           # the scheme drawn (a SHIFT_SCHEMES key)
    before: torch.Tensor  # [n, n] scores of ``scheme`` with the tokens at 0 .. n-1
    after: torch.Tensor   # [n, n] the same tokens at Δ .. Δ+n-1
    gaps: dict            # scheme -> max |after - before|, every SHIFT_SCHEMES entry

    @property
    def label(self) -> str:
        return SHIFT_SCHEMES[self.scheme]

    @property
    def gaps_by_label(self) -> dict[str, float]:
        return {SHIFT_SCHEMES[s]: g for s, g in self.gaps.items()}

    @property
    def verdicts(self) -> tuple[Verdict, ...]:
        """Relative schemes keep the phrase's scores, the absolute one does not; nothing to test at Δ = 0."""
        if self.delta == 0:  # both runs are the same computation
            return ()
        rel = {s: g for s, g in self.gaps.items() if s not in ABSOLUTE_SHIFT_SCHEMES}
        same = max(rel.values()) < EXACT
        out = [Verdict(same, "Relative schemes: the phrase's own scores are unchanged by the shift" if same
                       else "A relative scheme's scores changed when the phrase moved",
                       "max |Δ score| = " + ", ".join(f"{SHIFT_SCHEMES[s].split(' (')[0]} {g:.1g}"
                                                      for s, g in rel.items()) + " (float64)")]
        for s in ABSOLUTE_SHIFT_SCHEMES:
            moved = self.gaps[s] > 1e-6
            name = SHIFT_SCHEMES[s].split(" (")[0]
            out.append(Verdict(moved, f"{name} (absolute): the phrase's own scores change" if moved
                               else f"{name} (absolute): the scores did not change",
                               f"max |Δ score| = {self.gaps[s]:.3g} although every distance i − j is unchanged"))
        return tuple(out)


def shift_demo(n_tokens: int = 10, delta: int = 37, scheme: str = "t5_bias", *, seed: int = 0,
               device=None) -> ShiftResult:
    """``shift_test`` for every scheme, with the score matrices of ``scheme`` kept for drawing."""
    backend.check_option("scheme", scheme, SHIFT_SCHEMES)
    res = shift_test(n_tokens, delta, seed=seed, device=device)
    return ShiftResult(n_tokens, delta, scheme, res[scheme]["before"], res[scheme]["after"],
                       {s: r["gap"] for s, r in res.items()})


# -- §8: every scheme of the engine side by side --------------------------------------------

import math  # noqa: E402
from functools import lru_cache  # noqa: E402

from . import alibi, decode, engine, scaling  # noqa: E402  (kept with the code that needs it)

CHANGED = 1e-6              # float64 gaps above this are real changes (a correct "equal" is ~1e-15)
MAX_SIDE_TOKENS = 256       # scheme_tests(n_tokens)
MAX_SIDE_DELTA = 100_000    # scheme_tests(delta)
MAX_PROFILE_TOKENS = 1024   # attention_profile(n_tokens): [heads, n, n] per scheme
MAX_TRAIN_LEN = 1024        # train_len of scheme_tests, attention_profile, compare_schemes ([2L, 2L] probes)
PROFILE_DIM, PROFILE_HEADS = 64, 4
CONTENTS = {"same": "the same word at every position", "random": "seeded random words"}


def _names(names) -> str:
    return ", ".join(engine.SCHEMES[n].short if n in engine.SCHEMES else n for n in names)


@dataclass(frozen=True)
class SchemeTests:
    """The permutation and shift tests run on every scheme of the engine, one seeded layer (float64)."""
    n_tokens: int
    delta: int
    causal: bool
    train_len: int
    perm: torch.Tensor      # [n] the shuffle applied
    labels: dict            # scheme -> label
    kinds: dict             # scheme -> "none" | "absolute" | "relative"
    permutation_gaps: dict  # scheme -> max |out(shuffled x) − out(x) shuffled|
    shift_gaps: dict        # scheme -> max |Δ score| on visible pairs when every id moves by Δ; None: no row

    @property
    def verdicts(self) -> tuple[Verdict, ...]:
        gaps = self.permutation_gaps
        detail = "max |Δ output|: " + ", ".join(f"{_names([s])} {g:.1g}" for s, g in gaps.items())
        if self.causal:
            ok = gaps["none"] > CHANGED
            out = [Verdict(ok, "With a causal mask, order matters even without position" if ok
                           else "The causal mask did not change the outputs of the shuffled tokens", detail)]
        else:
            blind = [s for s, g in gaps.items() if s != "none" and g <= CHANGED]
            ok = gaps["none"] < EXACT and not blind
            if ok:
                claim = "Without position, attention is permutation-equivariant; every position scheme breaks it"
            elif gaps["none"] >= EXACT:
                claim = "Without position the outputs are not just permuted: something leaked order"
            else:
                claim = f"{_names(blind)} did not notice this shuffle"
                if self.perm.flip(0).equal(torch.arange(self.n_tokens)):
                    detail += " (the shuffle is a reversal, which |i − j| cannot see)"
            out = [Verdict(ok, claim, detail)]
        if self.delta == 0:
            return tuple(out)
        shift = self.shift_gaps
        rel = [s for s in shift if self.kinds[s] != "absolute"]
        absl = [s for s in shift if self.kinds[s] == "absolute" and shift[s] is not None]
        same = all(shift[s] < EXACT for s in rel)
        moved = all(shift[s] > CHANGED for s in absl)
        detail = "max |Δ score|: " + ", ".join(
            f"{_names([s])} " + ("no row" if g is None else f"{g:.1g}") for s, g in shift.items())
        if any(g is None for g in shift.values()):
            detail += f" (the learned table has rows 0…{self.train_len - 1} only)"
        if same and moved:
            claim = "Relative schemes score the shifted tokens exactly as before; absolute ones do not"
        else:
            claim = ("A relative scheme's scores changed when every id moved" if not same
                     else "An absolute scheme's scores did not change when every id moved")
        return (*out, Verdict(same and moved, claim, detail))


def _seeded_x(n: int, dim: int, seed: int, *, same: bool = False) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    if same:
        return torch.randn(dim, generator=g, dtype=torch.float64).expand(n, dim).clone()  # [n, dim]
    return torch.randn(n, dim, generator=g, dtype=torch.float64)  # [n, dim]


def scheme_tests(n_tokens: int = 8, delta: int = 37, *, causal: bool = False, seed: int = 0,
                 train_len: int = engine.TRAIN_LEN, device=None) -> SchemeTests:
    """Shuffle the tokens, then move every id by ``delta``: what each scheme's outputs and scores do.

    One seeded two-head layer (d_model 16) in float64, the same for every scheme. Permutation:
    ``out(x[π])`` against ``out(x)[π]`` with ids 0…n−1 both times; without position and without a
    causal mask the two are equal (equivariance). Shift: the same tokens with ids 0… and Δ…; the
    scores of a relative scheme depend on i − j only and cannot change. A learned table has no row
    for ids at or past ``train_len``: its shift gap is then None.
    """
    n = backend.check_int("n_tokens", n_tokens, 2, MAX_SIDE_TOKENS)
    delta = backend.check_int("delta", delta, 0, MAX_SIDE_DELTA)
    causal = backend.check_bool("causal", causal)
    train_len = backend.check_int("train_len", train_len, n, MAX_TRAIN_LEN)  # the learned table covers the tokens
    seed = backend.check_seed("seed", seed)
    dev = backend.device(device)
    x = _seeded_x(n, 16, seed).to(dev)  # [n, 16]
    layer = engine.random_layer(16, 2, seed, device=dev).double()
    perm = permutation(n, seed).to(dev)  # [n]
    base_ids = torch.arange(n, device=dev)
    schemes = engine.scheme_set(train_len)
    perm_gaps, shift_gaps = {}, {}
    for name, s in schemes.items():
        base = engine.forward(x, layer, s, base_ids, causal=causal)
        shuf = engine.forward(x[perm], layer, s, base_ids, causal=causal)
        perm_gaps[name] = float((shuf.out - base.out[perm]).abs().max())
        if s.max_position is not None and delta + n - 1 > s.max_position:
            shift_gaps[name] = None
            continue
        moved = engine.forward(x, layer, s, base_ids + delta, causal=causal)
        shift_gaps[name] = float((moved.scores - base.scores).abs()[:, base.visible].max())
    return SchemeTests(n, delta, causal, train_len, perm.cpu(), {k: s.label for k, s in schemes.items()},
                       {k: s.kind for k, s in schemes.items()}, perm_gaps, shift_gaps)


@dataclass(frozen=True)
class AttentionProfile:
    """Where each scheme's causal attention goes, by query position: entropy and distance (head means)."""
    n_tokens: int
    content: str
    method: str
    factor: float
    train_len: int
    labels: dict                  # scheme -> label (plus "rope_scaled" when a scaling method is on)
    entropy: dict                 # scheme -> [n] nats, mean over heads
    mean_distance: dict           # scheme -> [n] Σ_j p_ij |i − j|, mean over heads
    histogram: dict               # scheme -> [n] attention mass at distance d, mean over queries and heads
    bound_gap: float              # max over schemes, heads, queries of H − ln(visible keys) (≤ 0 when right)
    uniform_gap: float | None     # same content: max |H_none − ln(i + 1)|
    alibi_gap: float | None       # same content: max |measured − closed-form mean distance| over heads, queries
    missing: dict                 # scheme -> why it has no curve

    @property
    def bound(self) -> torch.Tensor:
        return torch.log(torch.arange(1, self.n_tokens + 1, dtype=torch.float64))  # [n] ln(i + 1)

    @property
    def verdicts(self) -> tuple[Verdict, ...]:
        ok = self.bound_gap <= 1e-5
        out = [Verdict(ok, "Every query's entropy stays within ln(i + 1), its i + 1 visible keys" if ok
                       else "An entropy exceeds ln(visible keys): a hidden key got weight",
                       f"largest H − ln(i + 1) over all schemes, heads and queries = {self.bound_gap:.1e}")]
        if self.uniform_gap is not None:
            ok = self.uniform_gap < 1e-4
            out.append(Verdict(ok, "Without position, equal tokens share attention evenly: H = ln(i + 1)" if ok
                               else "Without position the weights are not uniform",
                               f"largest |H − ln(i + 1)| = {self.uniform_gap:.1e}"))
        if self.alibi_gap is not None:
            ok = self.alibi_gap < 1e-3
            out.append(Verdict(ok, "ALiBi's mean distance matches the geometric-series formula, head by head" if ok
                               else "ALiBi's measured mean distance departs from the formula",
                               f"Σ d·r^d / Σ r^d with r = e^(−m_h), d = 0…i; largest gap {self.alibi_gap:.1e}"))
        if "rope_scaled" in self.entropy:
            plain, scaled = float(self.entropy["rope"].mean()), float(self.entropy["rope_scaled"].mean())
            ok = scaled > plain + 1e-3
            name = self.labels["rope_scaled"]
            out.append(Verdict(ok, f"{name} spreads attention: the mean entropy rises" if ok
                               else f"{name} does not raise the mean entropy here",
                               f"mean entropy {plain:.3f} nats (plain RoPE) → {scaled:.3f} nats"))
        return tuple(out)


def _geometric_mean_distance(slopes: torch.Tensor, n: int) -> torch.Tensor:
    """Σ_d d·r^d / Σ_d r^d over d = 0…i, r = e^(−m), for each head and query i: ``[heads, n]`` (float64)."""
    d = torch.arange(n, dtype=torch.float64)  # [n]
    r = torch.exp(-slopes.double())[:, None] ** d[None, :]  # [heads, n] r^d
    return (r * d).cumsum(-1) / r.cumsum(-1)  # [heads, n]: partial sums up to d = i


def attention_profile(n_tokens: int = 128, content: str = "same", method: str = "default", factor: float = 4.0, *,
                      train_len: int = 64, seed: int = 0, device=None) -> AttentionProfile:
    """Causal attention of every scheme through one "matching" layer (W_k = W_q, 4 heads, d_model 64).

    ``content="same"`` puts the same vector at every position, so only position shapes the weights:
    without position they are uniform (H = ln(i + 1)), and ALiBi's follow a geometric series. With
    ``method`` other than ``"default"`` a scaled RoPE joins plain RoPE, both trained
    to ``train_len``: interpolation narrows the angle between neighbours, scores flatten and entropy
    rises; YaRN's attention factor sharpens them again (Peng et al. 2023, §3.4). The learned table has
    rows 0…train_len − 1, so it has no curve past them.
    """
    n = backend.check_int("n_tokens", n_tokens, 2, MAX_PROFILE_TOKENS)
    backend.check_option("content", content, CONTENTS)
    backend.check_option("method", method, scaling.METHODS)
    factor = backend.check_positive("factor", factor, minimum=1.0)
    train_len = backend.check_int("train_len", train_len, 1, MAX_TRAIN_LEN)
    seed = backend.check_seed("seed", seed)
    dev = backend.device(device)
    schemes = dict(engine.scheme_set(train_len))
    if method != "default":
        schemes["rope_scaled"] = engine.make_scheme("rope", method=method, factor=factor,
                                                    original_max_position=train_len)
    x = _seeded_x(n, PROFILE_DIM, seed, same=content == "same").float().to(dev)  # [n, d]
    layer = engine.random_layer(PROFILE_DIM, PROFILE_HEADS, seed, tied_qk=True, device=dev)
    ids_ = torch.arange(n, device=dev)
    bound = torch.log(torch.arange(1, n + 1, dtype=torch.float64, device=dev))  # [n]
    ent, dist, hist, missing, worst, out_none, out_alibi = {}, {}, {}, {}, -math.inf, None, None
    for name, s in schemes.items():
        if s.max_position is not None and n - 1 > s.max_position:
            missing[name] = f"no rows past {s.max_position}"
            continue
        res = engine.forward(x, layer, s, ids_)
        h = res.entropy.double()  # [heads, n]
        worst = max(worst, float((h - bound).max()))
        ent[name], dist[name] = h.mean(0).cpu(), res.mean_distance.double().mean(0).cpu()
        hist[name] = engine.distance_histogram(res.probs, ids_, ids_).double().mean(0).cpu()  # [n]
        if name == "none":
            out_none = h
        if name == "alibi":
            out_alibi = res.mean_distance.double()  # [heads, n]
    same = content == "same"
    uniform = float((out_none - bound).abs().max()) if same else None
    alibi_gap = None
    if same:
        want = _geometric_mean_distance(alibi.slopes(PROFILE_HEADS, device="cpu"), n).to(dev)  # [heads, n]
        alibi_gap = float((out_alibi - want).abs().max())
    return AttentionProfile(n, content, method, factor, train_len, {k: s.label for k, s in schemes.items()},
                            ent, dist, hist, worst, uniform, alibi_gap, missing)


@dataclass(frozen=True)
class SchemeFacts:
    """One row of "choosing a scheme", every column but the first four measured on the engine."""
    name: str
    label: str
    enters: str                  # where position enters (the scheme's hook)
    kind: str                    # what the registry declares: "none" | "absolute" | "relative"
    used_by: str                 # models that use it
    parameters: int              # learned numbers per layer at (d_model, n_heads), counted from its tables
    shift_gap: float | None      # scheme_tests' max |Δ score| for a shift of L/2 (None: no row)
    permutation_gap: float       # scheme_tests' max |Δ output| for a shuffle, no causal mask
    row_past_train: str          # what embed does at id L: "adds a new row", "has no row", "no rows to add"
    new_past_train: float | None  # share of causal pairs at length 2L whose position-only score never occurs
                                  # at length L (None: the scheme cannot run there)
    decode_gap: float            # max |Δ logit| of the cached decode against a full recompute (correct ids)
    bugs_seen: tuple             # the decode id bugs (decode.ID_MODES) whose wrong ids change its logits

    @property
    def shift_invariant(self) -> bool | None:
        return None if self.shift_gap is None else self.shift_gap < EXACT

    @property
    def permutation_sensitive(self) -> bool:
        return self.permutation_gap > CHANGED


@dataclass(frozen=True)
class SchemeTable:
    """The facts behind choosing a scheme, for a training length L and a layer size."""
    train_len: int
    d_model: int
    n_heads: int
    rows: tuple  # SchemeFacts, in registry order

    @property
    def cells(self) -> dict[str, list[str]]:
        """The table as text, one column per scheme: what the page shows."""
        def yes(flag):
            return "—" if flag is None else "yes" if flag else "no"

        bugs = {"frozen": "same id", "restart": "restart at 0", "arange": "arange", "cache": "cache length"}
        facts = {
            "position enters": [r.enters for r in self.rows],
            f"learned numbers (d = {self.d_model}, {self.n_heads} heads)": [f"{r.parameters:,}" for r in self.rows],
            "shift-invariant (measured)": [yes(r.shift_invariant) for r in self.rows],
            "sees order without a mask": [yes(r.permutation_sensitive) for r in self.rows],
            f"at id L = {self.train_len}": [r.row_past_train for r in self.rows],
            "new position signals at 2L": ["cannot run" if r.new_past_train is None else f"{r.new_past_train:.0%}"
                                           for r in self.rows],
            "cached decode = recompute": [f"yes ({r.decode_gap:.0e})" if r.decode_gap < decode.F32_TOLERANCE
                                          else f"no ({r.decode_gap:.1g})" for r in self.rows],
            "id bugs it notices": [", ".join(bugs[b] for b in r.bugs_seen) or "none" for r in self.rows],
            "used by": [r.used_by for r in self.rows],
        }
        out = {"": list(facts)}
        for i, r in enumerate(self.rows):
            out[engine.SCHEMES[r.name].short] = [col[i] for col in facts.values()]
        return out

    @property
    def verdicts(self) -> tuple[Verdict, ...]:
        """The declared kind agrees with the measured shift test; every cached decode equals its recompute."""
        clash = [r.name for r in self.rows if r.shift_invariant is not None
                 and r.shift_invariant != (r.kind != "absolute")]
        ok = not clash
        detail = "shift-invariant (measured): " + ", ".join(
            f"{r.label.split(',')[0]} {'yes' if r.shift_invariant else 'no' if r.shift_invariant is False else '—'}"
            for r in self.rows)
        out = [Verdict(ok, "Measured shift invariance matches each scheme's kind: relative yes, absolute no" if ok
                       else f"{_names(clash)}: the measured shift test contradicts the declared kind", detail)]
        worst = max(r.decode_gap for r in self.rows)
        ok = worst < decode.F32_TOLERANCE
        out.append(Verdict(ok, "Every scheme's KV-cached decode equals its full recompute" if ok
                           else "A scheme's cached decode differs from its full recompute",
                           f"largest |Δ logit| over the six schemes = {worst:.1e}"))
        return tuple(out)


def _new_signal_share(scheme: engine.Scheme, train_len: int, dev) -> float | None:
    """Share of the causal (i, j) pairs of a 2L-token sequence whose position-only score is new.

    Position-only: one matching head (W_k = W_q) over the same vector at every position, so the
    score of (i, j) depends on the scheme alone. "New": farther than 1e-9 from every score of a pair
    with i < L (what training at length L produced). Float64.
    """
    n = 2 * train_len
    if scheme.max_position is not None and n - 1 > scheme.max_position:
        return None
    layer = engine.random_layer(16, 1, 0, tied_qk=True, device=dev).double()
    x = _seeded_x(n, 16, 0, same=True).to(dev)  # [2L, 16]
    s = engine.forward(x, layer, scheme, torch.arange(n, device=dev)).scores[0]  # [2L, 2L]
    causal = torch.ones(n, n, dtype=torch.bool, device=dev).tril()  # [2L, 2L]
    seen = s[:train_len][causal[:train_len]].sort().values  # [pairs at length L]
    new = s[train_len:][causal[train_len:]]  # [pairs with i >= L]
    at = torch.searchsorted(seen, new).clamp(max=seen.numel() - 1)
    near = torch.minimum((seen[at] - new).abs(), (seen[(at - 1).clamp(min=0)] - new).abs())
    return float((near > 1e-9).sum()) / int(causal.sum())


@lru_cache(maxsize=8)
def _decode_facts(name: str) -> tuple[float, tuple]:
    """The cached decode's gap with correct ids, and which id bugs change the logits (ids < 16)."""
    gap = float(decode.simulate(name, mode="correct").cache_gap.max())
    seen = tuple(m for m in decode.ID_MODES if m != "correct"
                 and float(decode.simulate(name, mode=m).bug_gap.max()) > decode.VISIBLE)
    return gap, seen


def compare_schemes(train_len: int = 64, d_model: int = 32, n_heads: int = 4, *, device=None) -> SchemeTable:
    """Measure, for every scheme of the engine, what the choice between them rests on.

    Shift and permutation: ``scheme_tests`` with Δ = L/2 (a learned table of L rows still has rows
    for it). Past L: whether the embedding has a row for id L, and the share of position-only scores
    at length 2L never produced at length L (new angles for RoPE, new bias values for ALiBi, none for
    T5 once L reaches its last bucket, new rows for sinusoids). Parameters: the numbers in the tables
    the scheme reads at this layer size. Decode: ``decode.simulate`` with correct and buggy ids.
    """
    train_len = backend.check_int("train_len", train_len, 16, MAX_TRAIN_LEN // 2)
    d_model = backend.check_int("d_model", d_model, 2, engine.MAX_MODEL_DIM)
    n_heads = backend.check_int("n_heads", n_heads, 1, engine.MAX_HEADS)
    if d_model * train_len > engine.MAX_CELLS:
        raise ValueError(f"d_model·train_len must be at most {engine.MAX_CELLS}, got {d_model * train_len}")
    dev = backend.device(device)
    tests = scheme_tests(8, train_len // 2, train_len=train_len, device=dev)
    rows = []
    for name, s in engine.scheme_set(train_len).items():
        if s.embed is None:
            row = "no rows to add"
        else:
            try:
                s.embed(torch.tensor([train_len], device=dev), d_model)
                row = "adds a new row"
            except ValueError:
                row = "has no row"
        gap, seen = _decode_facts(name)
        rows.append(SchemeFacts(name, s.label, s.enters, s.kind, s.used_by, s.parameters(d_model, n_heads),
                                tests.shift_gaps[name], tests.permutation_gaps[name], row,
                                _new_signal_share(s, train_len, dev), gap, seen))
    return SchemeTable(train_len, d_model, n_heads, tuple(rows))
