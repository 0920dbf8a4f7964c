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
