"""Evidence for the corrections page: claims common sources get wrong, checked by computation.

Each function here measures one correction with the library's own public
functions (``scaling``, ``relative``, ``rope``, ``absolute``) and returns a
small NamedTuple: the numbers a learner sees and, where the correction is a
claim a wrong implementation could break, a :class:`~posviz.verdict.Verdict`.
The corrections page (``lessons/errata.py``) only calls these and displays the
results; the words of each entry live in ``assets/lesson/errata.md``.

Defaults are the settings the sources quote (NTK: d = 64, base 10 000, s = 2;
T5: 32 buckets, max_distance 128; sinusoids: d = 512) or the defaults of the
page that shows the topic live (YaRN: §6b's d = 128, L = 4096, s = 4).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from . import absolute, backend, relative, rope, scaling
from .verdict import Verdict

# Ceilings on the arguments (issue 7), far above the settings the sources quote and the page uses.
MAX_DIM = 4096                # head or model width d
MAX_BASE = 1e12               # frequency-ladder base; real models use 1e4 .. 1e6 (bigger ones stay finite in float32)
MAX_FACTOR = 1024.0           # context-extension factor s
MAX_POSITION = 1 << 24        # context lengths and original_max_position (16M tokens)
MAX_BUCKETS = 1024            # T5 num_buckets
MAX_T5_DISTANCE = 1 << 16     # T5 max_distance
MAX_BASES = 16                # bases compared in base_ladder
MAX_DISTANCES = 4096          # distances scored in pairing_evidence


def _check_dim(dim, low: int = 2) -> int:
    return backend.check_even("dim", backend.check_int("dim", dim, low, MAX_DIM))


def _check_base(base, name: str = "base") -> float:
    """A ladder base: a finite number in (1, MAX_BASE]."""
    base = backend.check_positive(name, base, minimum=-math.inf)
    if not 1.0 < base <= MAX_BASE:
        raise ValueError(f"{name} must be > 1 and <= {MAX_BASE:g}, got {base}")
    return base


def _check_factor(factor, low: float = 1.0) -> float:
    factor = backend.check_positive("factor", factor, minimum=low)
    if factor > MAX_FACTOR:
        raise ValueError(f"factor must be between {low:g} and {MAX_FACTOR:g}, got {factor}")
    return factor


# --------------------------------------------------------------------------- NTK-aware base


class NtkBaseEvidence(NamedTuple):
    dim: int
    base: float
    factor: float
    computed: float          # scaling.ntk_base(dim, base, factor)
    quoted: float            # the number a source prints
    first_slowdown: float    # theta_0 / theta'_0 with the computed base (the design goal: 1)
    last_slowdown: float     # theta_last / theta'_last with the computed base (the design goal: factor)
    quoted_last_slowdown: float  # the same with the quoted base
    verdict: Verdict


def ntk_base_evidence(dim: int = 64, base: float = 10000.0, factor: float = 2.0,
                      quoted: float = 20700.0) -> NtkBaseEvidence:
    """The NTK-aware base, and whether it (or a quoted one) meets NTK's design goal.

    NTK-aware scaling raises the base so that pair 0 keeps its frequency and
    the slowest pair is slowed by exactly ``factor``. The slowdowns are read
    from the registry's frequencies (``rope_frequencies("ntk")`` against
    ``"default"``), so a wrong exponent in either turns the verdict red.
    """
    dim = _check_dim(dim, 4)  # the exponent d/(d-2)
    base = _check_base(base)
    factor = _check_factor(factor)
    quoted = backend.check_positive("quoted", quoted, minimum=1.0 + 1e-9)
    computed = scaling.ntk_base(dim, base, factor)
    plain, _ = scaling.rope_frequencies("default", dim, base)  # [dim/2]
    ntk, _ = scaling.rope_frequencies("ntk", dim, base, factor=factor)  # [dim/2]
    first = float(plain[0] / ntk[0])
    last = float(plain[-1] / ntk[-1])
    # the quoted base in the same exponent: theta_last = base^(-(d-2)/d)
    quoted_last = (quoted / base) ** ((dim - 2) / dim)
    tol = 1e-4 * factor  # float32 frequencies; the quoted error is ~100x larger
    ok = abs(first - 1.0) < tol and abs(last - factor) < tol and abs(quoted_last - factor) > 10 * tol
    claim = (f"base·s^(d/(d−2)) = {computed:,.0f} slows the slowest pair by exactly s; the quoted {quoted:,.0f} does not"
             if ok else "The computed NTK base does not meet the design goal, or the quoted one does")
    detail = (f"d = {dim}, base {base:,.0f}, s = {factor:g}: pair 0 slowed {first:.5f}×, "
              f"slowest pair {last:.5f}× (goal {factor:g}×); with {quoted:,.0f} the slowest pair is "
              f"slowed {quoted_last:.4f}×")
    return NtkBaseEvidence(dim, base, factor, computed, quoted, first, last, quoted_last,
                           Verdict(ok, claim, detail))


# --------------------------------------------------------------------------- YaRN


class YarnSplit(NamedTuple):
    dim: int
    base: float
    original_max_position: int
    factor: float
    kept: tuple[int, ...]          # pairs whose frequency is unchanged (theta' = theta)
    interpolated: tuple[int, ...]  # pairs divided by the full factor (theta' = theta / s)
    blended: tuple[int, ...]       # the rest
    kept_longest_wavelength: float | None         # longest wavelength among kept pairs (positions); None: none kept
    interpolated_shortest_wavelength: float | None  # shortest wavelength among interpolated pairs; None: none
    verdict: Verdict


def _runs(indices: tuple[int, ...]) -> str:
    """``(0, 1, 2, 5)`` -> ``"0–2, 5"`` (for the verdict text)."""
    if not indices:
        return "none"
    out, start, prev = [], indices[0], indices[0]
    for i in (*indices[1:], None):
        if i is not None and i == prev + 1:
            prev = i
            continue
        out.append(f"{start}–{prev}" if prev > start else f"{start}")
        if i is not None:
            start = prev = i
    return ", ".join(out)


def yarn_split(dim: int = 128, base: float = 10000.0, original_max_position: int = 4096,
               factor: float = 4.0) -> YarnSplit:
    """Which pairs YaRN keeps, which it interpolates, measured from the registry's frequencies.

    A pair is *kept* when its YaRN frequency equals the plain one and
    *interpolated* when it equals the plain one divided by ``factor`` (to
    float32 precision, relative 1e-5); the rest blend. The verdict holds when
    the kept pairs are the fast ones (pair 0 among them, every kept pair
    before every interpolated one) and the slow ones are interpolated (the
    last pair among them) — the reverse of what a backwards description says.
    """
    dim = _check_dim(dim)
    base = _check_base(base)
    original_max_position = backend.check_int("original_max_position", original_max_position, 1, MAX_POSITION)
    factor = _check_factor(factor, 1.0 + 1e-9)  # at s = 1 nothing is interpolated
    plain, _ = scaling.rope_frequencies("default", dim, base)  # [dim/2]
    yarn, _ = scaling.rope_frequencies("yarn", dim, base, factor=factor,
                                       original_max_position=original_max_position)  # [dim/2]
    slow = (plain / yarn).double()  # [dim/2]  1 = kept, factor = fully interpolated
    kept_mask = (slow - 1.0).abs() < 1e-5
    interp_mask = (slow - factor).abs() < 1e-5 * factor
    kept = tuple(int(i) for i in torch.nonzero(kept_mask).flatten())
    interp = tuple(int(i) for i in torch.nonzero(interp_mask).flatten())
    blended = tuple(int(i) for i in torch.nonzero(~(kept_mask | interp_mask)).flatten())
    wl = rope.wavelengths(plain).double()  # [dim/2]
    kept_wl = float(wl[list(kept)].max()) if kept else None
    interp_wl = float(wl[list(interp)].min()) if interp else None
    n = dim // 2
    ok = bool(kept and interp and kept[0] == 0 and interp[-1] == n - 1 and kept[-1] < interp[0]
              and kept_wl < interp_wl)
    kept_text = "none" if kept_wl is None else f"up to {kept_wl:,.0f}"
    interp_text = "none" if interp_wl is None else f"from {interp_wl:,.0f}"
    claim = ("YaRN keeps the fast (high-frequency) pairs and interpolates the slow (low-frequency) ones"
             if ok else "YaRN's kept and interpolated pairs are not the fast and the slow ones here")
    detail = (f"d = {dim}, base {base:,.0f}, L = {original_max_position:,}, s = {factor:g}: kept pairs "
              f"{_runs(kept)} (wavelengths {kept_text}), interpolated pairs {_runs(interp)} "
              f"(wavelengths {interp_text}), {len(blended)} blended between")
    return YarnSplit(dim, base, original_max_position, factor, kept, interp, blended, kept_wl, interp_wl,
                     Verdict(ok, claim, detail))


# --------------------------------------------------------------------------- T5 buckets


class T5Reach(NamedTuple):
    num_buckets: int
    max_distance: int
    bidirectional: int   # first |j - i| in the last bucket, bidirectional mode
    causal: int          # the same, causal mode
    distinct_below_max: int  # distinct buckets one direction uses for distances 0 .. max_distance-1 (bidirectional)
    verdict: Verdict


def t5_reach(num_buckets: int = 32, max_distance: int = 128) -> T5Reach:
    """Where T5's bucketing stops telling distances apart, against "a clip at max_distance".

    A clip at ``max_distance`` would give every distance below it its own
    value; T5's log buckets share buckets long before, and the last bucket
    starts below ``max_distance`` in both modes.
    """
    num_buckets = backend.check_int("num_buckets", num_buckets, 4, MAX_BUCKETS)
    max_distance = backend.check_int("max_distance", max_distance, 1, MAX_T5_DISTANCE)
    if max_distance <= num_buckets // 2:  # the causal mode's exact range is num_buckets // 2
        raise ValueError(f"max_distance must be > num_buckets // 2 = {num_buckets // 2} "
                         f"(num_buckets = {num_buckets}), got {max_distance}")
    bi = relative.t5_first_distance_of_last_bucket(True, num_buckets, max_distance)
    causal = relative.t5_first_distance_of_last_bucket(False, num_buckets, max_distance)
    past = -torch.arange(max_distance)  # key index minus query index: keys in the past
    distinct = int(torch.unique(relative.t5_bucket(past, True, num_buckets, max_distance, device="cpu")).numel())
    ok = bi < max_distance and causal < max_distance and distinct < max_distance
    claim = (f"T5 is not a clip at {max_distance}: its last bucket starts at distance {bi} "
             f"(bidirectional) and {causal} (causal)" if ok else
             f"T5's buckets behave like a clip at {max_distance} here")
    detail = (f"{num_buckets} buckets, max_distance {max_distance}: distances 0–{max_distance - 1} fall into "
              f"{distinct} distinct buckets per direction (a clip would keep {max_distance} distinct values)")
    return T5Reach(num_buckets, max_distance, bi, causal, distinct, Verdict(ok, claim, detail))


# --------------------------------------------------------------------------- sinusoid wavelengths


class SlowestWavelength(NamedTuple):
    dim: int
    base: float
    paper: float      # slowest wavelength with the paper's exponent 2i/d: 2π·base^((d−2)/d)
    t2t: float        # with tensor2tensor's / fairseq's exponent i/(d/2−1): exactly 2π·base
    limit: float      # 2π·base
    quoted: float     # the number a source prints
    verdict: Verdict


def slowest_wavelength(dim: int = 512, base: float = 10000.0, quoted: float = 62800.0) -> SlowestWavelength:
    """The slowest sinusoid wavelength with the paper's exponent, against 2π·base.

    The paper's pair ``i = d/2 − 1`` has wavelength ``2π·base^((d−2)/d)``,
    always below ``2π·base``; tensor2tensor and fairseq divide by ``d/2 − 1``
    instead, and their slowest pair reaches ``2π·base`` exactly.
    """
    quoted = backend.check_positive("quoted", quoted)
    dim = _check_dim(dim, 4)  # d/2 - 1 must not be 0
    base = _check_base(base)
    wl = absolute.wavelengths(dim, base)  # [dim/2], the paper's exponent
    paper = float(wl[-1])
    half = dim // 2
    i = torch.arange(half, dtype=torch.float64)  # [dim/2]
    t2t = float((2 * math.pi * base ** (i / (half - 1))).max())  # get_timing_signal_1d's timescales, as wavelengths
    limit = 2 * math.pi * base
    # a ladder built with the d/2 - 1 exponent would reach the limit: the check turns red
    ok = paper < limit * (1 - 1e-6)
    claim = (f"With the paper's exponent the slowest wavelength at d = {dim} is {paper:,.0f}, below 2π·base"
             if ok else "The slowest wavelength reaches 2π·base here")
    detail = (f"2π·{base:,.0f}^({dim - 2}/{dim}) = {paper:,.0f}; 2π·base = {limit:,.0f} is the limit as d grows "
              f"(reached only with the d/2 − 1 exponent of tensor2tensor and fairseq); quoted: ~{quoted:,.0f}")
    return SlowestWavelength(dim, base, paper, t2t, limit, quoted, Verdict(ok, claim, detail))


# --------------------------------------------------------------------------- RoPE base (Code Llama)


class BaseLadder(NamedTuple):
    dim: int
    context: int
    bases: tuple[float, ...]
    slowest: tuple[float, ...]     # wavelength of the last pair, per base
    never_turn: tuple[int, ...]    # pairs whose wavelength exceeds the context, per base


def base_ladder(dim: int = 128, context: int = 16384, bases=(10000.0, 1000000.0)) -> BaseLadder:
    """Slowest wavelength and the number of pairs that never turn once within ``context``, per base.

    Plain facts for the page (no verdict): Llama 2 uses base 10 000, Code
    Llama raises it to 1 000 000 for 16 384-token inputs.
    """
    dim = _check_dim(dim)
    context = backend.check_int("context", context, 1, MAX_POSITION)
    if not isinstance(bases, (list, tuple)) or not 1 <= len(bases) <= MAX_BASES:
        raise ValueError(f"bases must be a list or tuple of 1 to {MAX_BASES} numbers, got {bases!r:.60}")
    bases = [_check_base(b, "bases") for b in bases]
    slowest, never = [], []
    for b in bases:
        wl = rope.wavelengths(rope.inv_freq(dim, b)).double()  # [dim/2]
        slowest.append(float(wl[-1]))
        never.append(int((wl > context).sum()))
    return BaseLadder(dim, context, tuple(float(b) for b in bases), tuple(slowest), tuple(never))


# --------------------------------------------------------------------------- RoPE pairings


class PairingEvidence(NamedTuple):
    dim: int
    target: int                  # the distance the head was built to attend to
    made_for: str                # the pairing the weights were made for
    peak_right: int              # distance with the highest score, rotated with that pairing
    peak_wrong: int              # the same, rotated with the other pairing
    weight_right: float          # softmax weight at the target distance, right pairing
    weight_wrong: float          # the same, wrong pairing
    permuted_gap: float          # max |score| difference after permuting q, k features, relative to the scale
    verdict: Verdict


def pairing_evidence(dim: int = 64, target: int = 5, n_distances: int = 32, made_for: str = "interleaved",
                     seed: int = 0) -> PairingEvidence:
    """A head built to look ``target`` tokens back, run with the right and the wrong RoPE pairing.

    ``k`` is a seeded random vector (CPU generator: the same on every
    machine) and ``q = R_{-target} k`` under ``made_for``, so the scores
    peak at distance ``target`` with that pairing. Rotating the same vectors
    with the other pairing moves the peak; permuting the features (as
    llama.cpp's converter and Hugging Face's conversion do) restores the
    designed scores.
    """
    dim = _check_dim(dim)
    made_for = backend.check_option("made_for", made_for, rope.LAYOUTS)
    seed = backend.check_seed("seed", seed)
    n_distances = backend.check_int("n_distances", n_distances, 3, MAX_DISTANCES)
    target = backend.check_int("target", target, 1, MAX_DISTANCES)
    if target > n_distances - 2:  # the peak must have a distance on each side
        raise ValueError(f"n_distances must be >= target + 2 = {target + 2} (target = {target}), got {n_distances}")
    other = "half" if made_for == "interleaved" else "interleaved"
    freq = rope.inv_freq(dim, device="cpu")  # [dim/2]
    k = torch.randn(dim, generator=torch.Generator().manual_seed(seed))  # [dim]
    q = rope.apply_rope(k, -target, freq, made_for)  # [dim]
    dist = torch.arange(n_distances)  # [n]
    right = rope.scores_by_distance(q, k, dist, freq, made_for)  # [n]
    wrong = rope.scores_by_distance(q, k, dist, freq, other)  # [n]
    perm = rope.layout_permutation(dim, inverse=made_for == "half", device="cpu")  # [dim]
    converted = rope.scores_by_distance(q[perm], k[perm], dist, freq, other)  # [n]
    scale = float(right.abs().max())
    gap = float((converted - right).abs().max()) / scale
    w_right = torch.softmax(right / math.sqrt(dim), 0)  # [n]
    w_wrong = torch.softmax(wrong / math.sqrt(dim), 0)  # [n]
    peak_r, peak_w = int(right.argmax()), int(wrong.argmax())
    ok = peak_r == target and peak_w != target and gap < 1e-4
    claim = (f"Weights made for the {made_for} pairing look {target} tokens back only when rotated with it"
             if ok else "The wrong pairing did not move the head's peak here")
    detail = (f"d = {dim}: peak at distance {peak_r} with the {made_for} pairing (weight {float(w_right[target]):.2f} "
              f"at {target}), at {peak_w} with the {other} pairing (weight {float(w_wrong[target]):.2f} at {target}); "
              f"after permuting q and k features the scores match again (largest gap {gap:.1e} of the peak)")
    return PairingEvidence(dim, target, made_for, peak_r, peak_w, float(w_right[target]), float(w_wrong[target]),
                           gap, Verdict(ok, claim, detail))
