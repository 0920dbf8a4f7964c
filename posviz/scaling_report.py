"""What each long-context RoPE scaling method does, pair by pair: the measurements of §6b, with verdicts.

:mod:`posviz.scaling` computes the frequencies; this module measures them the
way the lesson reads them (wavelengths, turns in training, angles past the
trained range, attention factors, dynamic bases) and returns small frozen
results. Every ``verdict`` compares a method's actual output with a second,
independent statement of its rule (the YaRN paper's turn counts, Llama 3.1's
wavelength bands, the attention-factor formula as Hugging Face applies it, a
closed form for dynamic NTK), so a wrong implementation turns it red.

References: Peng et al. 2023 (YaRN, arXiv:2309.00071) §3.1–3.4; Chen et al.
2023 (PI, arXiv:2306.15595); bloc97, "NTK-Aware Scaled RoPE" (r/LocalLLaMA,
2023); emozilla's dynamic NTK (r/LocalLLaMA, 2023); Meta 2024, "The Llama 3
Herd of Models" (the band rule that shipped with Llama 3.1); Hugging Face
transformers ``modeling_rope_utils.py`` (``_compute_yarn_parameters``).

Tensors in the results are float64 on the CPU, ready for the figure builders.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, NamedTuple

import numpy as np
import torch

from . import backend, rope, scaling
from .verdict import Verdict

REL_TOL = 1e-6  # float32 frequencies that are equal in exact arithmetic agree to this fraction
CURVE_KINDS = ("wavelength", "inv_freq", "slowdown")
NTK_SEED_BASE = 20700.0  # the NTK-aware base printed in one seed for s = 2, d = 64, base 10 000 (wrong)

# Ceilings on every argument (issue 7), well above what §6b offers (d <= 1024, base <= 10^7,
# L <= 2^20, s <= 128, N <= 4·s·L, span <= 8, 400 points, multipliers <= 8). They keep every
# result finite and every call fast; a value past one raises ValueError naming the argument.
MAX_DIM = 4096                # head dim d (d/2 pairs)
MAX_BASE = 1e12               # RoPE base: wavelengths 2*pi*base, and dynamic NTK's larger bases, stay finite
MAX_ORIGINAL = 1 << 24        # trained length L (original_max_position)
MAX_FACTOR = 1024.0           # scale factor s
MAX_SEQ_FRACTION = 64.0       # N as a fraction of s·L
MAX_LENGTH = 1 << 40          # any other length (s·L, N, the end of a target): exact in float64
MAX_SPAN = 64.0               # dynamic NTK chart: lengths up to span·s·L
MAX_POINTS = 4096             # points on a computed curve
MAX_MULTIPLIER = 1e3          # mscale, mscale_all_dim, attention_factor and a YaRN factor value
MAX_THETA = 1e3               # a frequency in radians per position (a base > 1 gives at most 1)


def _check_dim(dim, low: int = 2) -> int:
    """An even head dim in ``[low, MAX_DIM]``."""
    return backend.check_even("dim", backend.check_int("dim", dim, low, MAX_DIM))


def _check_base(base) -> float:
    """A RoPE base: posviz's rule (:func:`posviz.rope.check_base`, > 1, finite) and at most ``MAX_BASE``."""
    base = rope.check_base(base)
    if base > MAX_BASE:
        raise ValueError(f"base must be at most {MAX_BASE:g}, got {base:g}")
    return base


def _check_real(name: str, value, low: float, high: float, strict_low: bool = False) -> float:
    """A finite real number in ``[low, high]`` (``(low, high]`` with ``strict_low``)."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {value!r}")
    value = backend.check_positive(name, value, minimum=-math.inf)  # a finite number
    if value < low or (strict_low and value == low) or value > high:
        lo = "(" if strict_low else "["
        raise ValueError(f"{name} must be in {lo}{low:g}, {high:g}], got {value:g}")
    return value


def _check_factor(factor) -> float:
    """A scale factor s in ``[1, MAX_FACTOR]`` (every scaling method refuses s < 1)."""
    return _check_real("factor", factor, 1.0, MAX_FACTOR)


def _check_original(original, name: str = "original") -> int:
    return backend.check_int(name, original, 1, MAX_ORIGINAL)


def _check_flag(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r:.60}")
    return bool(value)


def _check_optional(name: str, value, high: float) -> float | None:
    """``None`` (not set) or a number in ``(0, high]``."""
    return None if value is None else _check_real(name, value, 0.0, high, strict_low=True)


def _check_setting(s) -> "Setting":
    """A :class:`Setting` whose fields are within the ceilings (as :func:`setting` makes them)."""
    if not isinstance(s, Setting):
        raise ValueError(f"s must be a scaling_report.Setting (made by setting(...)), got {type(s).__name__}")
    try:
        _check_fields(s.dim, s.base, s.original, s.factor)
        backend.check_int("target", s.target, 1, MAX_LENGTH)
        backend.check_int("seq_len", s.seq_len, 1, MAX_LENGTH)
        if not isinstance(s.params, tuple):
            raise ValueError(f"params must be a tuple, got {type(s.params).__name__}")
    except ValueError as err:
        raise ValueError(f"s: {err}") from None
    return s


def _check_methods(methods) -> tuple[str, ...]:
    """A list or tuple of registry names (possibly empty)."""
    names = tuple(scaling.INFO)
    if isinstance(methods, str) or not isinstance(methods, (list, tuple)):
        raise ValueError(f"methods must be a list or tuple of registry names {names}, got {methods!r:.60}")
    for m in methods:
        if not isinstance(m, str) or m not in scaling.INFO:
            raise ValueError(f"methods must contain only registry names {names}, got {m!r:.60}")
    return tuple(methods)


def _check_params(name: str, params, defaults: Mapping[str, object]) -> dict:
    """``None`` or a mapping of a method's parameter names (keys of ``defaults``) to values."""
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise ValueError(f"{name} must be a mapping of parameter names to values, got {params!r:.60}")
    unknown = [k for k in params if k not in defaults]
    if unknown:
        raise ValueError(f"{name} has unknown parameter(s) {unknown!r:.80}; allowed: {', '.join(defaults)}")
    if "truncate" in params:
        _check_flag(f"{name}['truncate']", params["truncate"])
    return dict(params)


def _check_fields(dim, base, original, factor) -> tuple[int, float, int, float]:
    """The shared settings, loosely: sound numbers within the ceilings.

    Values a method refuses (an odd ``dim``, ``base <= 1``, ``L = 0``, ``s < 1``) pass here, so
    :func:`check_methods` reports each refusal with the methods it stops.
    """
    dim = backend.check_int("dim", dim, 0, MAX_DIM)
    base = _check_real("base", base, -MAX_BASE, MAX_BASE)
    original = backend.check_int("original", original, 0, MAX_ORIGINAL)
    factor = _check_real("factor", factor, 0.0, MAX_FACTOR, strict_low=True)
    return dim, base, original, factor


# How §6b offers each registry parameter as a widget: (label, lowest, highest, step). The ranges
# only bound the inputs; each method validates its values and names the one it refuses.
PARAM_WIDGETS = {
    "beta_fast": ("β_fast (turns): pairs turning more often in training are kept", 0.0, 1024.0, 1.0),
    "beta_slow": ("β_slow (turns): pairs turning less often are fully interpolated", 0.0, 1024.0, 0.5),
    "mscale": ("mscale (used only with mscale_all_dim)", 0.0, 8.0, 0.05),
    "mscale_all_dim": ("mscale_all_dim (used only with mscale)", 0.0, 8.0, 0.05),
    "attention_factor": ("attention_factor (overrides the formula)", 0.0, 8.0, 0.05),
    "truncate": ("Round the ramp ends to whole pairs (truncate)", None, None, None),
    "low_freq_factor": ("low_freq_factor: wavelength > L / this → divided by s", 0.0, 64.0, 0.5),
    "high_freq_factor": ("high_freq_factor: wavelength < L / this → kept", 0.0, 64.0, 0.5),
}


def param_widget(name: str) -> tuple[str, float | None, float | None, float | None]:
    """``(label, lowest, highest, step)`` for a registry parameter; a generic one for a name not listed."""
    if not isinstance(name, str):
        raise ValueError(f"name must be a parameter name (a string), got {name!r:.60}")
    return PARAM_WIDGETS.get(name, (name, 0.0, 1e6, 0.1))


def label(method: str) -> str:
    """The registry's display name of a method."""
    if not isinstance(method, str) or method not in scaling.INFO:
        raise ValueError(f"method must be one of {tuple(scaling.INFO)}, got {method!r:.60}")
    return scaling.INFO[method].label


def _index(method: str) -> int:
    """Position in the registry: fixes the method's colour and dash on every chart."""
    return list(scaling.INFO).index(method)


def _trained_theta(dim: int, base: float) -> torch.Tensor:
    """Plain RoPE's ``theta_i`` in float64 ``[dim/2]``: the frequencies the model was trained with."""
    return rope.inv_freq(dim, base, dtype=torch.float64, device="cpu")  # [dim/2]


def _same(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Elementwise equal to float32 precision (relative)."""
    return (a - b).abs() <= REL_TOL * b.abs()


def _pairs(indices) -> str:
    """``[3, 4, 5]`` -> "pairs 3–5"; one index -> "pair 3"."""
    idx = list(indices)
    if not idx:
        return "no pair"
    return f"pair {idx[0]}" if len(idx) == 1 else f"pairs {idx[0]}–{idx[-1]}"


# --------------------------------------------------------------------------- shared settings


class Setting(NamedTuple):
    """The settings every chart of §6b shares; hashable, so pages can cache on it."""

    dim: int
    base: float
    original: int   # L, the trained context length (original_max_position)
    factor: float   # s
    target: int     # s·L rounded, at least 1: the length to serve
    seq_len: int    # N, the current length for methods that read it (dynamic NTK)
    params: tuple   # ((method, ((name, value), ...)), ...): each method's extra parameters

    def params_for(self, method: str) -> dict:
        return dict(dict(self.params).get(method, ()))

    def frequencies(self, method: str) -> tuple[torch.Tensor, float]:
        """``(inv_freq [dim/2] float32 on the CPU, attention_factor)`` of one method at these settings."""
        return scaling.rope_frequencies(method, self.dim, self.base, factor=self.factor,
                                        original_max_position=self.original, seq_len=self.seq_len,
                                        device="cpu", **self.params_for(method))

    @property
    def summary(self) -> str:
        pairs = f" · {self.dim // 2} pairs per head." if self.dim % 2 == 0 else "."
        return (f"Target length s·L = **{self.target:,}** tokens · dynamic methods evaluated at "
                f"N = **{self.seq_len:,}**{pairs}")


def setting(dim, base, original, factor, seq_fraction: float = 1.0,
            params: Mapping[str, Mapping[str, object]] | None = None) -> Setting:
    """Bundle the shared settings; ``seq_fraction`` places N as a fraction of the target s·L.

    Only soundness is checked here (numbers, within the ``MAX_*`` ceilings; ``params`` a mapping of
    registry names to ``{name: number, bool or None}``): each method validates its own arguments
    (see :func:`check_methods`), so one bad value disables only the methods it concerns.
    """
    dim, base, original, factor = _check_fields(dim, base, original, factor)
    seq_fraction = _check_real("seq_fraction", seq_fraction, 0.0, MAX_SEQ_FRACTION, strict_low=True)
    target = max(1, round(factor * original))
    seq_len = max(1, round(seq_fraction * target))
    frozen = tuple((m, tuple(sorted(p.items()))) for m, p in sorted(_check_setting_params(params).items()))
    return Setting(dim, base, original, factor, target, seq_len, frozen)


def _check_setting_params(params) -> dict[str, dict]:
    """``{method: {name: value}}`` with registry methods, string names and plain (hashable) values."""
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise ValueError(f"params must be a mapping of registry method names to parameter mappings, "
                         f"got {params!r:.60}")
    out = {}
    for method, p in params.items():
        if not isinstance(method, str) or method not in scaling.INFO:
            raise ValueError(f"params keys must be registry methods {tuple(scaling.INFO)}, got {method!r:.60}")
        if not isinstance(p, Mapping):
            raise ValueError(f"params[{method!r}] must be a mapping of parameter names to values, got {p!r:.60}")
        for k, v in p.items():
            if not isinstance(k, str):
                raise ValueError(f"params[{method!r}] keys must be parameter names (strings), got {k!r:.60}")
            if not (v is None or isinstance(v, (bool, int, float, np.bool_, np.integer, np.floating))):
                raise ValueError(f"params[{method!r}][{k!r}] must be a number, True/False or None, got {v!r:.60}")
        out[method] = dict(p)
    return out


class MethodCheck(NamedTuple):
    """Which registry methods accept a setting, and each distinct refusal once."""

    ok: tuple[str, ...]
    errors: tuple[tuple[str, tuple[str, ...]], ...]  # (posviz's message, methods it stops)

    @staticmethod
    def who(names: tuple[str, ...]) -> str:
        """"every method", or the labels of the methods one refusal stops."""
        return "every method" if len(names) == len(scaling.INFO) else ", ".join(label(n) for n in names)


def check_methods(s: Setting) -> MethodCheck:
    """Run every registry method once at ``s``; collect posviz's ``ValueError`` messages."""
    s = _check_setting(s)
    failed: dict[str, list[str]] = {}
    for name in scaling.INFO:
        try:
            s.frequencies(name)
        except ValueError as err:
            failed.setdefault(str(err), []).append(name)
    bad = {n for names in failed.values() for n in names}
    return MethodCheck(tuple(n for n in scaling.INFO if n not in bad),
                       tuple((msg, tuple(names)) for msg, names in failed.items()))


# --------------------------------------------------------------------------- 1. the frequency ladder per method


@dataclass(frozen=True)
class Ladder:
    """Each method's per-pair curve (wavelength, frequency or slow-down), and plain RoPE's unturned pairs."""

    kind: str                       # "wavelength" | "inv_freq" | "slowdown"
    methods: tuple[str, ...]
    labels: tuple[str, ...]         # legend entries (dynamic methods name their N)
    indices: tuple[int, ...]        # registry positions (colour, dash)
    curves: tuple[torch.Tensor, ...]  # [dim/2] float64 each
    unturned: tuple[int, ...]       # plain-RoPE pairs whose wavelength exceeds L: no full turn in training
    pairs: int
    original: int
    target: int
    factor: float

    @property
    def summary(self) -> str:
        if not self.unturned:
            return (f"Every pair finished at least one turn within L = {self.original:,}: "
                    "no pair is unfamiliar in angle.")
        return (f"Plain RoPE: {_pairs(self.unturned)} ({len(self.unturned)} of {self.pairs}) have a wavelength "
                f"longer than L = {self.original:,}: they never finished a turn in training. These are the pairs "
                "every method slows down.")


def ladder(s: Setting, methods, kind: str = "wavelength") -> Ladder:
    """Wavelength ``2*pi/theta'_i``, frequency ``theta'_i`` or slow-down ``theta_i/theta'_i`` per pair and method."""
    s, methods = _check_setting(s), _check_methods(methods)
    kind = backend.check_choice("kind", kind, CURVE_KINDS)
    theta = _trained_theta(s.dim, s.base)  # [dim/2]
    curves, labels = [], []
    for name in methods:
        f = s.frequencies(name)[0].double()  # [dim/2]
        curves.append({"wavelength": 2 * math.pi / f, "inv_freq": f, "slowdown": theta / f}[kind])  # [dim/2]
        dyn = "seq_len" in scaling.INFO[name].uses
        labels.append(label(name) + (f" (N = {s.seq_len:,})" if dyn else ""))
    unturned = torch.nonzero(2 * math.pi / theta > s.original).flatten().tolist()
    return Ladder(kind, tuple(methods), tuple(labels), tuple(_index(n) for n in methods), tuple(curves),
                  tuple(unturned), s.dim // 2, s.original, s.target, s.factor)


# --------------------------------------------------------------------------- 2. YaRN's ramp and Llama 3.1's bands


def pair_wavelength(i: float, dim: int, base: float) -> float:
    """Wavelength ``2*pi*base^(2i/dim)`` at a fractional pair index (where YaRN's ramp ends fall).

    ``i`` may lie outside the pairs (a ramp end past the last pair), but not so far that the
    wavelength leaves float64's range: ``|i| <= 700·dim/(2·ln base)``.
    """
    dim, base = _check_dim(dim), _check_base(base)
    i = _check_real("i", i, -math.inf, math.inf)
    limit = 700.0 * dim / (2 * math.log(base))
    if abs(i) > limit:
        raise ValueError(f"i must be in [-{limit:g}, {limit:g}] for dim={dim}, base={base:g} (beyond, the "
                         f"wavelength 2*pi*base^(2i/dim) leaves float64's range), got {i:g}")
    return 2 * math.pi * base ** (2 * i / dim)


def turns_in_training(dim: int, base: float, original: int) -> torch.Tensor:
    """How many full turns each plain-RoPE pair makes over ``original`` positions, ``L*theta_i/(2*pi)`` ``[dim/2]``."""
    dim, base, original = _check_dim(dim), _check_base(base), _check_original(original)
    return original * _trained_theta(dim, base) / (2 * math.pi)  # [dim/2]


@dataclass(frozen=True)
class YarnRamp:
    """YaRN's extrapolation weight per pair (1 kept, 0 divided by s) and where its ramp sits."""

    weight: torch.Tensor  # [dim/2]
    low: float            # ramp start (pair index, after floor and clipping)
    high: float           # ramp end (may lie past the last pair)
    beta_fast: float
    beta_slow: float
    pairs: int
    low_wavelength: float
    high_wavelength: float

    @property
    def summary(self) -> str:
        last = self.pairs - 1
        end = (f"pair {self.high:g}" if self.high <= last
               else f"index {self.high:g}, past the last pair {last}, so no pair is fully interpolated")
        return (f"**YaRN**: the ramp runs from pair {self.low:g} (β_fast = {self.beta_fast:g} turns in L) "
                f"to {end} (β_slow = {self.beta_slow:g} turn).")


def yarn_ramp(dim, base, original, params: Mapping[str, object] | None = None) -> YarnRamp:
    """The ramp of :func:`posviz.scaling.yarn` for YaRN's parameters ``params`` (defaults as in the registry)."""
    dim, base, original = _check_dim(dim), _check_base(base), _check_original(original)
    p = {**scaling.YARN_PARAMS, **_check_params("params", params, scaling.YARN_PARAMS)}
    args = (dim, base, p["beta_fast"], p["beta_slow"], original, bool(p["truncate"]))
    low, high = scaling.yarn_correction_range(*args)
    weight = scaling.yarn_ramp(*args, device="cpu").double()  # [dim/2]
    try:
        wavelengths = pair_wavelength(low, dim, base), pair_wavelength(high, dim, base)
    except ValueError as err:  # the ramp end of a tiny beta lies where no wavelength is finite
        fast, slow = float(p["beta_fast"]), float(p["beta_slow"])
        raise ValueError(f"YaRN's beta_fast = {fast:g}, beta_slow = {slow:g} put its ramp at pair indices "
                         f"{low:g}–{high:g}, where the wavelength overflows ({err})") from None
    return YarnRamp(weight, low, high, float(p["beta_fast"]), float(p["beta_slow"]), dim // 2, *wavelengths)


@dataclass(frozen=True)
class LlamaBands:
    """Llama 3.1's weight on the trained theta per pair, its band labels and edges (as wavelengths)."""

    keep: torch.Tensor              # [dim/2] 1 kept, 0 divided by s, in between blended
    labels: tuple[str, ...]         # [dim/2]
    edges: tuple[float, float]      # (L/high_freq_factor, L/low_freq_factor)
    counts: tuple[int, int, int]    # kept, smooth band, divided by s

    @property
    def summary(self) -> str:
        kept, smooth, divided = self.counts
        return f"**Llama 3.1**: {kept} pairs kept, {smooth} in the smooth band, {divided} divided by s."


def llama_bands(dim, base, original, params: Mapping[str, object] | None = None) -> LlamaBands:
    """The bands of :func:`posviz.scaling.llama3` for its parameters ``params``."""
    dim, base, original = _check_dim(dim), _check_base(base), _check_original(original)
    p = {**scaling.LLAMA3_PARAMS, **_check_params("params", params, scaling.LLAMA3_PARAMS)}
    b = scaling.llama3_bands(dim, base, original, p["low_freq_factor"], p["high_freq_factor"], device="cpu")
    low, high = float(p["low_freq_factor"]), float(p["high_freq_factor"])  # validated by llama3_bands
    counts = (int(b.high_freq.sum()), int(b.smooth_band.sum()), int(b.low_freq.sum()))
    return LlamaBands(b.keep.double(), tuple(b.labels), (original / high, original / low), counts)


@dataclass(frozen=True)
class Bands:
    """What the ramp-and-bands chart shows; independent of the factor s (a factor change reuses it)."""

    wavelength: torch.Tensor  # [dim/2] plain RoPE's wavelengths
    turns: torch.Tensor       # [dim/2] turns over the trained length
    yarn: YarnRamp | None
    llama: LlamaBands | None

    @property
    def summary(self) -> str:
        return " ".join(part.summary for part in (self.yarn, self.llama) if part is not None)


def bands(dim, base, original, yarn_params=None, llama_params=None, *, yarn: bool = True,
          llama: bool = True) -> Bands:
    """YaRN's ramp and Llama 3.1's bands over the plain ladder (either may be left out)."""
    yarn, llama = _check_flag("yarn", yarn), _check_flag("llama", llama)
    yarn_params = _check_params("yarn_params", yarn_params, scaling.YARN_PARAMS)
    llama_params = _check_params("llama_params", llama_params, scaling.LLAMA3_PARAMS)
    turns = turns_in_training(dim, base, original)  # [dim/2]
    return Bands(original / turns, turns,
                 yarn_ramp(dim, base, original, yarn_params) if yarn else None,
                 llama_bands(dim, base, original, llama_params) if llama else None)


@dataclass(frozen=True)
class PerPairRule:
    """Which pairs a method left as trained, divided by s, or blended, against the rule it claims."""

    method: str
    kept: tuple[int, ...]          # theta' = theta
    divided: tuple[int, ...]       # theta' = theta / s (only when s > 1)
    blended: tuple[int, ...]       # strictly between
    misplaced: tuple[str, ...]     # each pair the rule would put elsewhere, explained
    claim: str
    rule: str                      # the rule, with this setting's numbers

    @property
    def verdict(self) -> Verdict:
        detail = (f"kept θ: {_pairs(self.kept)} ({len(self.kept)}); θ/s: {_pairs(self.divided)} "
                  f"({len(self.divided)}); blended: {len(self.blended)}. Rule: {self.rule}")
        if self.misplaced:
            return Verdict(False, f"{label(self.method)} breaks its rule at {len(self.misplaced)} pair(s)",
                           "; ".join(self.misplaced[:3]) + f". {detail}")
        return Verdict(True, self.claim, detail)


def _classify(s: Setting, method: str):
    theta = _trained_theta(s.dim, s.base)  # [dim/2]
    f = s.frequencies(method)[0].double()  # [dim/2]
    kept = _same(f, theta)  # [dim/2]
    divided = ~kept & _same(f, theta / s.factor) if s.factor > 1 else torch.zeros_like(kept)  # [dim/2]
    blended = ~kept & ~divided  # [dim/2]
    as_tuple = lambda m: tuple(torch.nonzero(m).flatten().tolist())  # noqa: E731
    return theta, f, as_tuple(kept), as_tuple(divided), as_tuple(blended)


def _unscaled(method, kept, divided, blended, pairs) -> PerPairRule:
    """At s = 1 a per-pair rule must leave every pair as trained."""
    bad = () if len(kept) == pairs else (f"{pairs - len(kept)} pair(s) changed although s = 1",)
    return PerPairRule(method, kept, divided, blended, bad, f"At s = 1 {label(method)} leaves every pair as trained",
                       "nothing to scale at s = 1")


def yarn_rule(s: Setting) -> PerPairRule:
    """YaRN's output against the paper's rule in turns (§3.2): many turns -> kept, few -> divided by s.

    Turns are counted from plain RoPE (``L*theta_i/(2*pi)``), not from the
    ramp: a pair that keeps theta must have turned at least ``beta_fast``
    times, a pair divided by s at most ``beta_slow`` times, and no kept pair
    may come after an interpolated one (the claim a backwards description
    of YaRN gets wrong). Hugging Face clips the ramp start at pair 0, so a
    ``beta_fast`` above pair 0's turn count keeps pair 0 anyway: the verdict
    says so.
    """
    s = _check_setting(s)
    p = {**scaling.YARN_PARAMS, **s.params_for("yarn")}
    _, _, kept, divided, blended = _classify(s, "yarn")
    if s.factor == 1:
        return _unscaled("yarn", kept, divided, blended, s.dim // 2)
    turns = turns_in_training(s.dim, s.base, s.original).tolist()  # [dim/2]
    fast, slow = float(p["beta_fast"]), float(p["beta_slow"])
    bad = [f"pair {i} keeps θ but turned only {turns[i]:.4g} times (< β_fast = {fast:g})"
           + (": the ramp start is clipped to pair 0, as in Hugging Face" if i == 0 else "")
           for i in kept if turns[i] < fast * (1 - REL_TOL)]
    bad += [f"pair {i} is divided by s but turned {turns[i]:.4g} times (> β_slow = {slow:g})"
            for i in divided if turns[i] > slow * (1 + REL_TOL)]
    if kept and divided and max(kept) > min(divided):
        bad.append(f"pair {max(kept)} is kept after pair {min(divided)} was interpolated (backwards)")
    return PerPairRule("yarn", kept, divided, blended, tuple(bad),
                       "YaRN keeps the fast pairs and interpolates the slow ones",
                       f"keep θ only with ≥ {fast:g} turns in L, θ/s only with ≤ {slow:g} turn(s)")


def llama_rule(s: Setting) -> PerPairRule:
    """Llama 3.1's output against its band rule, with wavelengths from plain RoPE.

    ``lambda_i < L/h`` must keep theta, ``lambda_i > L/l`` must get theta/s,
    and pairs in between must lie strictly between the two.
    """
    s = _check_setting(s)
    p = {**scaling.LLAMA3_PARAMS, **s.params_for("llama3")}
    theta, f, kept, divided, blended = _classify(s, "llama3")
    if s.factor == 1:
        return _unscaled("llama3", kept, divided, blended, s.dim // 2)
    wl, theta, f = (2 * math.pi / theta).tolist(), theta.tolist(), f.tolist()  # [dim/2] each
    short, long = s.original / p["high_freq_factor"], s.original / p["low_freq_factor"]
    kept_set, div_set = set(kept), set(divided)
    bad = []
    for i, w in enumerate(wl):
        if w < short and i not in kept_set:
            bad.append(f"pair {i} (λ = {w:,.1f} < L/h = {short:,.1f}) should keep θ")
        elif w > long and i not in div_set:
            bad.append(f"pair {i} (λ = {w:,.1f} > L/l = {long:,.1f}) should get θ/s")
        elif short <= w <= long and not (theta[i] / s.factor * (1 - REL_TOL) <= f[i] <= theta[i] * (1 + REL_TOL)):
            bad.append(f"pair {i} (in the band) should lie between θ/s and θ")
    return PerPairRule("llama3", kept, divided, blended, tuple(bad),
                       "Llama 3.1 keeps short wavelengths and divides long ones by s",
                       f"λ < L/h = {short:,.1f} keeps θ, λ > L/l = {long:,.1f} gets θ/s, a blend between")


class KeptPairs(NamedTuple):
    """Per method, how many pairs keep the trained theta (to float32 precision); the per-pair rules."""

    counts: tuple[tuple[str, int], ...]
    pairs: int
    rules: tuple[PerPairRule, ...]  # YaRN's and Llama 3.1's, where those methods accept the setting

    @property
    def summary(self) -> str:
        return ("Pairs whose θ′ equals the trained θ (to float32 precision): "
                + "; ".join(f"{label(n)} {k} of {self.pairs}" for n, k in self.counts) + ".")


def kept_pairs(s: Setting, methods) -> KeptPairs:
    """Count unchanged pairs per method, and check YaRN's and Llama 3.1's per-pair rules."""
    s, methods = _check_setting(s), _check_methods(methods)
    theta = _trained_theta(s.dim, s.base)  # [dim/2]
    counts = tuple((n, int(_same(s.frequencies(n)[0].double(), theta).sum())) for n in methods)
    rules = tuple(fn(s) for name, fn in (("yarn", yarn_rule), ("llama3", llama_rule)) if name in methods)
    return KeptPairs(counts, s.dim // 2, rules)


# --------------------------------------------------------------------------- 3. the attention factor


def _temperature(factor: float, mscale: float = 1.0) -> float:
    """YaRN eq. 22, sqrt(1/t) = 0.1·mscale·ln s + 1 (1 for s <= 1); written out again to check scaling's."""
    return 1.0 if factor <= 1 else 1.0 + 0.1 * mscale * math.log(factor)


@dataclass(frozen=True)
class YarnFactor:
    """YaRN's cos/sin multiplier as posviz computes it, against the rule evaluated independently."""

    factor: float
    value: float                 # what scaling.rope_frequencies("yarn", ...) returns
    expected: float              # the rule below, computed here
    rule: str                    # "plain" | "ratio" | "explicit"
    mscale: float | None
    mscale_all_dim: float | None
    attention_factor: float | None
    curve_s: torch.Tensor        # [n] scale factors 1..128 (log spaced)
    curve_v: torch.Tensor        # [n] YaRN's multiplier there, with this configuration

    @property
    def plain(self) -> float:
        return _temperature(self.factor)

    @property
    def note(self) -> str | None:
        """Why a configured value has no effect, when it has none (Hugging Face's precedence)."""
        m, ma, af = self.mscale, self.mscale_all_dim, self.attention_factor
        if af is not None and (m is not None or ma is not None):
            given = ", ".join(f"{k} = {v:g}" for k, v in (("mscale", m), ("mscale_all_dim", ma)) if v is not None)
            return f"attention_factor = {af:g} overrides the formula: {given} is ignored."
        if af is None and (m is None) != (ma is None):
            one, other = ("mscale", "mscale_all_dim") if ma is None else ("mscale_all_dim", "mscale")
            return (f"{one} = {m if ma is None else ma:g} is set but {other} is not, so it changes nothing: "
                    f"Hugging Face (and posviz) use mscale only as the ratio "
                    f"(0.1·mscale·ln s + 1)/(0.1·mscale_all_dim·ln s + 1), which needs both. Set {other} too, "
                    "as DeepSeek-V2/V3 configs do.")
        if self.factor <= 1 and self.rule != "explicit":
            return "At s = 1 every form of the formula gives 1."
        return None

    @property
    def verdict(self) -> Verdict:
        ok = abs(self.value - self.expected) <= 1e-9 * max(1.0, abs(self.expected))
        tail = (f"posviz gives {self.value:.5f}; both q and k are scaled, so every logit is multiplied by "
                f"{self.value ** 2:.5f}")
        if self.rule == "explicit":
            claim = "An explicit attention_factor overrides the formula"
            detail = (f"configured {self.attention_factor:g} (0.1·ln s + 1 would give {self.plain:.5f}); " + tail)
        elif self.rule == "ratio":
            claim = "With mscale and mscale_all_dim both set, YaRN's factor is their ratio"
            detail = (f"(0.1·{self.mscale:g}·ln {self.factor:g} + 1) / (0.1·{self.mscale_all_dim:g}·ln "
                      f"{self.factor:g} + 1) = {self.expected:.5f}; " + tail)
        else:
            claim = "YaRN's factor is 0.1·ln s + 1"
            detail = f"s = {self.factor:g}: 0.1·ln {self.factor:g} + 1 = {self.expected:.5f}; " + tail
        if not ok:
            claim = f"YaRN's factor is not what its configuration says ({claim[0].lower()}{claim[1:]})"
        return Verdict(ok, claim, detail)


@dataclass(frozen=True)
class AttentionFactors:
    """Each method's cos/sin multiplier at the current factor, and YaRN's in detail."""

    methods: tuple[str, ...]
    labels: tuple[str, ...]
    indices: tuple[int, ...]
    values: tuple[float, ...]
    factor: float
    yarn: YarnFactor | None


def yarn_factor(factor, mscale=None, mscale_all_dim=None, attention_factor=None, value=None,
                points: int = 160) -> YarnFactor:
    """YaRN's multiplier rule, evaluated here (Hugging Face precedence), beside posviz's ``value``.

    Precedence (``_compute_yarn_parameters``): an explicit ``attention_factor``;
    else, when ``mscale`` and ``mscale_all_dim`` are both set, the ratio of two
    temperatures; else ``0.1·ln s + 1``. ``mscale`` alone is ignored.
    """
    factor = _check_factor(factor)
    mscale = _check_optional("mscale", mscale, MAX_MULTIPLIER)
    mscale_all_dim = _check_optional("mscale_all_dim", mscale_all_dim, MAX_MULTIPLIER)
    attention_factor = _check_optional("attention_factor", attention_factor, MAX_MULTIPLIER)
    value = _check_optional("value", value, MAX_MULTIPLIER)
    points = backend.check_int("points", points, 2, MAX_POINTS)
    if attention_factor is not None:
        rule, expected = "explicit", float(attention_factor)
    elif mscale is not None and mscale_all_dim is not None and mscale and mscale_all_dim:
        rule, expected = "ratio", _temperature(factor, mscale) / _temperature(factor, mscale_all_dim)
    else:
        rule, expected = "plain", _temperature(factor)
    cfg = dict(mscale=mscale, mscale_all_dim=mscale_all_dim, attention_factor=attention_factor)
    if value is None:
        value = scaling.yarn_attention_factor(factor, **cfg)
    curve_s = torch.logspace(0.0, math.log10(128.0), points, dtype=torch.float64)  # [points]
    curve_v = torch.tensor([scaling.yarn_attention_factor(float(x), **cfg) for x in curve_s],
                           dtype=torch.float64)  # [points]
    return YarnFactor(factor, float(value), expected, rule, mscale, mscale_all_dim, attention_factor,
                      curve_s, curve_v)


def attention_factors(s: Setting, methods) -> AttentionFactors:
    """Every method's attention factor at ``s``; YaRN's checked against :func:`yarn_factor`'s rule."""
    s, methods = _check_setting(s), _check_methods(methods)
    values = tuple(s.frequencies(n)[1] for n in methods)
    yarn = None
    if "yarn" in methods:
        p = s.params_for("yarn")
        yarn = yarn_factor(s.factor, p.get("mscale"), p.get("mscale_all_dim"), p.get("attention_factor"),
                           value=values[list(methods).index("yarn")])
    return AttentionFactors(tuple(methods), tuple(label(n) for n in methods), tuple(_index(n) for n in methods),
                            values, s.factor, yarn)


# --------------------------------------------------------------------------- 4. angles past the trained range


class AngleStats(NamedTuple):
    """Per pair, in float64 radians: the largest trained angle and the angle at the last target position."""

    trained: torch.Tensor  # [dim/2] (L-1)·theta_i
    target: torch.Tensor   # [dim/2] (T-1)·theta'_i
    cycled: torch.Tensor   # [dim/2] bool: completed a full turn in training, so saw every angle mod 2*pi
    ood: torch.Tensor      # [dim/2] bool: not cycled, and more than one trained step past the trained arc


def angle_stats(inv_freq, theta, original: int, target: int) -> AngleStats:
    """Which pairs meet angles never seen in training when serving ``target`` tokens.

    A pair that turned fully within ``original`` positions has seen every
    direction (the rotation depends on the angle mod 2*pi); one that did not
    has only seen the arc ``[0, (L-1)*theta_i]``, and is out of distribution
    once ``(T-1)*theta'_i`` exceeds that arc by more than one trained step
    (the slack covers PI's last token at ``L - 1/s``).
    """
    f, theta = _check_freqs("inv_freq", inv_freq), _check_freqs("theta", theta)  # [dim/2]
    if f.shape != theta.shape:
        raise ValueError(f"inv_freq and theta must have the same shape [dim/2], got inv_freq {tuple(f.shape)} "
                         f"and theta {tuple(theta.shape)}")
    original = _check_original(original)
    target = backend.check_int("target", target, 1, MAX_LENGTH)
    trained = (original - 1) * theta  # [dim/2]
    at_target = (target - 1) * f  # [dim/2]
    cycled = trained >= 2 * math.pi  # [dim/2]
    ood = ~cycled & (at_target > trained + theta)  # [dim/2]
    return AngleStats(trained, at_target, cycled, ood)


def _check_freqs(name: str, x) -> torch.Tensor:
    """Per-pair frequencies: a non-empty 1-D real tensor (or array, list) of finite values in
    ``[0, MAX_THETA]`` with at most ``MAX_DIM / 2`` entries; returned float64 on the CPU."""
    if isinstance(x, (str, bytes)) or x is None:
        raise ValueError(f"{name} must be a 1-D tensor of frequencies [dim/2], got {x!r:.60}")
    try:
        t = torch.as_tensor(x)
    except (TypeError, ValueError, RuntimeError, OverflowError):
        raise ValueError(f"{name} must be a 1-D tensor of frequencies [dim/2], got {x!r:.60}") from None
    if t.dtype == torch.bool or t.is_complex():
        raise ValueError(f"{name} must hold real numbers, got dtype {t.dtype}")
    if t.ndim != 1 or not 1 <= t.shape[0] <= MAX_DIM // 2:
        raise ValueError(f"{name} must be a 1-D tensor [dim/2] with 1 to {MAX_DIM // 2} entries, "
                         f"got shape {tuple(t.shape)}")
    t = t.detach().to("cpu", torch.float64)
    if not bool(torch.isfinite(t).all()) or bool((t < 0).any()) or bool((t > MAX_THETA).any()):
        raise ValueError(f"{name} must hold finite frequencies in [0, {MAX_THETA:g}] (radians per position)")
    return t


class AngleRow(NamedTuple):
    method: str
    label: str
    n_ood: int        # pairs out of distribution at s·L
    n_unturned: int   # pairs without a full turn in training
    worst: float | None  # largest (angle at s·L) / (trained max) among the unturned pairs

    def as_dict(self) -> dict:
        return {"method": self.label, "out-of-distribution pairs": self.n_ood,
                "pairs without a full turn in training": self.n_unturned,
                "largest angle / trained max (those pairs)": None if self.worst is None else round(self.worst, 3)}


@dataclass(frozen=True)
class AnglesPast:
    """One method's angles at the target length in detail, and a row per method."""

    method: str
    label: str
    index: int
    stats: AngleStats
    rows: tuple[AngleRow, ...]
    original: int
    target: int
    pairs: int

    @property
    def n_ood(self) -> int:
        return int(self.stats.ood.sum())

    @property
    def first_ood(self) -> int | None:
        idx = torch.nonzero(self.stats.ood).flatten()
        return int(idx[0]) if len(idx) else None

    @property
    def table(self) -> list[dict]:
        return [r.as_dict() for r in self.rows]

    @property
    def verdict(self) -> Verdict:
        n, new = self.n_ood, int((~self.stats.cycled).sum())
        claim = (f"{self.label}: every angle at length s·L was already seen in training" if n == 0
                 else f"{self.label}: {n} pair(s) reach angles never seen in training")
        detail = f"{new} of {self.pairs} pairs never completed a turn in L = {self.original:,} tokens; "
        detail += (f"of those, {n} go past their largest trained angle at position {self.target - 1:,} "
                   f"(the first is pair {self.first_ood})" if n else "none of them goes past its largest trained angle")
        return Verdict(n == 0, claim, detail)


def angles_past_training(s: Setting, methods, picked: str) -> AnglesPast:
    """:func:`angle_stats` for every method in ``methods``, with ``picked`` kept in full.

    A row's ``worst`` ratio covers the unturned pairs with a trained arc (none has one at L = 1).
    """
    s, methods = _check_setting(s), _check_methods(methods)
    if not isinstance(picked, str) or picked not in methods:
        raise ValueError(f"picked must be one of methods {methods}, got {picked!r:.60}")
    theta = _trained_theta(s.dim, s.base)  # [dim/2]
    rows, kept = [], None
    for name in methods:
        a = angle_stats(s.frequencies(name)[0], theta, s.original, s.target)
        over = (a.target / a.trained)[~a.cycled & (a.trained > 0)]  # [unturned with a trained arc]
        rows.append(AngleRow(name, label(name), int(a.ood.sum()), int((~a.cycled).sum()),
                             float(over.max()) if len(over) else None))
        if name == picked:
            kept = a
    return AnglesPast(picked, label(picked), _index(picked), kept, tuple(rows), s.original, s.target, s.dim // 2)


# --------------------------------------------------------------------------- 5. dynamic NTK


def ntk_scale_for_base(dim, base, new_base) -> float:
    """The NTK scale that :func:`posviz.scaling.ntk_base` turns into ``new_base``: ``(b'/b)^((d-2)/d)``."""
    dim = _check_dim(dim, 4)
    base = _check_base(base)
    new_base = backend.check_positive("new_base", new_base)
    return (new_base / base) ** ((dim - 2) / dim)


@dataclass(frozen=True)
class DynamicNTK:
    """Dynamic NTK's base over a range of current lengths, and at L, N and s·L."""

    lengths: torch.Tensor  # [n] int64 current lengths N
    bases: torch.Tensor    # [n] float64 the base dynamic NTK uses there
    dim: int
    base: float
    factor: float
    original: int
    target: int
    seq_len: int
    static: float          # static NTK base at scale s
    at_seq: float          # base at N
    at_target: float       # base at s·L
    at_original: float     # base at L
    log_x: bool

    @property
    def scale_at_seq(self) -> float:
        return ntk_scale_for_base(self.dim, self.base, self.at_seq)

    @property
    def scale_at_target(self) -> float:
        return ntk_scale_for_base(self.dim, self.base, self.at_target)

    @property
    def verdict(self) -> Verdict:
        """Closed form: at N = s·L the scale s·N/L − (s−1) is s² − s + 1; at N = L the base is unchanged."""
        s = self.factor
        expected = s * s - s + 1
        ok = abs(self.scale_at_target - expected) <= 1e-6 * expected and self.at_original == self.base
        claim = (f"At N = s·L the dynamic scale is s² − s + 1 = {expected:g}"
                 + (f", not s = {s:g}" if s > 1 else " (at s = 1 nothing is scaled)") if ok
                 else "Dynamic NTK's base does not follow s·N/L − (s−1)")
        return Verdict(ok, claim,
                       f"computed base at N = {self.target:,}: {self.at_target:,.0f}, i.e. scale "
                       f"{self.scale_at_target:.4f}; at N = L it is {self.at_original:,.0f} (trained base "
                       f"{self.base:,.0f}: no jump at the boundary)")


def dynamic_ntk(dim, base, factor, original, seq_len, *, span: float = 2.0, log_x: bool = False,
                points: int = 400) -> DynamicNTK:
    """Dynamic NTK's base for lengths 1..max(span·s·L, N, L+1) (emozilla 2023; YaRN §3.3).

    The grid always contains L, s·L and N, so the chart passes through them exactly.
    """
    dim, base, factor = _check_dim(dim, 4), _check_base(base), _check_factor(factor)
    original = _check_original(original)
    seq_len = backend.check_int("seq_len", seq_len, 1, MAX_LENGTH)
    span = _check_real("span", span, 0.0, MAX_SPAN, strict_low=True)
    log_x = _check_flag("log_x", log_x)
    points = backend.check_int("points", points, 2, MAX_POINTS)
    target = max(1, round(factor * original))
    top = max(int(span * target), int(seq_len), int(original) + 1)
    grid = (torch.logspace(0.0, math.log10(top), points, dtype=torch.float64) if log_x
            else torch.linspace(1.0, top, points, dtype=torch.float64))  # [points]
    lengths = torch.unique(torch.cat([grid.round().long(), torch.tensor([original, target, seq_len])]))  # [n]
    lengths = lengths[lengths >= 1]  # [n]
    at = lambda n: scaling.dynamic_base(dim, base, factor, original, int(n))  # noqa: E731
    bases = torch.tensor([at(n) for n in lengths.tolist()], dtype=torch.float64)  # [n]
    return DynamicNTK(lengths, bases, int(dim), float(base), float(factor), int(original), target, int(seq_len),
                      scaling.ntk_base(dim, base, factor), at(seq_len), at(target), at(original), bool(log_x))


# --------------------------------------------------------------------------- 6. the NTK erratum


class SeedCase(NamedTuple):
    """The seed notes' NTK-aware base for s = 2, d = 64, base 10 000, against :func:`posviz.scaling.ntk_base`."""

    computed: float   # ntk_base(64, 10000, 2) = 10000 * 2^(64/62)
    printed: float    # what the seed prints

    @property
    def needed_exponent(self) -> float:
        """The exponent of 2 that would produce the printed base."""
        return math.log2(self.printed / 10000.0)

    @property
    def text(self) -> str:
        pct = 100 * (self.printed / self.computed - 1)
        return (f"With the seeds' numbers (s = 2, d = 64, base 10 000), `scaling.ntk_base` gives "
                f"**{self.computed:,.1f}**, so the ≈ 20 700 printed there is {pct:.1f} % too high; it would need "
                f"an exponent of {self.needed_exponent:.4f} instead of 64/62 = {64 / 62:.4f}.")


def seed_case() -> SeedCase:
    return SeedCase(scaling.ntk_base(64, 10000.0, 2.0), NTK_SEED_BASE)


@dataclass(frozen=True)
class NTKErratum:
    """Static NTK's new base and its per-pair slow-down, measured from the frequencies."""

    dim: int
    base: float
    factor: float
    new_base: float
    slowdown: torch.Tensor  # [dim/2] theta_i / theta'_i

    @property
    def exponent(self) -> float:
        return self.dim / (self.dim - 2)

    @property
    def verdict(self) -> Verdict:
        first, last = float(self.slowdown[0]), float(self.slowdown[-1])
        ok = abs(last - self.factor) <= 1e-5 * self.factor and abs(first - 1) <= 1e-6
        claim = ("Pair 0 is untouched and the slowest pair is divided by exactly s" if ok
                 else "The NTK exponent misses its design goal")
        detail = f"θ₀/θ′₀ = {first:.6f}, θ_last/θ′_last = {last:.6f} (s = {self.factor:g})"
        return Verdict(ok, claim, detail)


def ntk_erratum(dim, base, factor) -> NTKErratum:
    """Static NTK at ``(dim, base, factor)``: slow-down measured from the frequencies, not from the exponent."""
    dim, base, factor = _check_dim(dim, 4), _check_base(base), _check_factor(factor)
    new_base = scaling.ntk_base(dim, base, factor)
    f, _ = scaling.rope_frequencies("ntk", dim, base, factor=factor, device="cpu")
    slowdown = _trained_theta(dim, base) / f.double()  # [dim/2]
    return NTKErratum(int(dim), float(base), float(factor), new_base, slowdown)
