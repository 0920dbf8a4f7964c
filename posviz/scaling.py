"""Long-context RoPE scaling: one registry, one signature.

A RoPE model trained on ``original_max_position`` tokens has seen every pair
rotate only through the angles ``m * theta_i`` for ``m`` below that length.
Each method here changes the per-pair frequencies ``inv_freq`` (and maybe a
cos/sin ``attention_factor``) so that longer inputs stay in, or close to,
the trained angle range.  Where Hugging Face transformers has the method,
the formulas follow its ``modeling_rope_utils.py`` (``rope_type`` names and
parameter meanings), so our numbers agree with theirs for the same settings:

* ``default``  plain RoPE (Su et al. 2021).
* ``linear``   position interpolation, PI (Chen et al. 2023, arXiv:2306.15595).
* ``ntk``      static NTK-aware base change.  Hugging Face has *no* rope_type
               for it (its ``"dynamic"`` is the next entry); the source is
               bloc97's post "NTK-Aware Scaled RoPE" on Reddit r/LocalLLaMA
               (June 2023), restated in the YaRN paper (§3.1).
* ``dynamic``  dynamic NTK at the current length (emozilla, Reddit 2023; YaRN §3.3).
* ``yarn``     NTK-by-parts ramp + attention temperature (Peng et al. 2023, arXiv:2309.00071).
* ``llama3``   Llama 3.1 frequency bands (Meta, "The Llama 3 Herd of Models", 2024);
               it shipped with Llama 3.1, not Llama 3.  Hugging Face's name is ``llama3``.

Every method function has the same signature::

    fn(dim, base=10000.0, *, factor=1.0, original_max_position=None,
       seq_len=None, device=None, **params) -> (inv_freq [dim/2], attention_factor)

and ``rope_frequencies(method, ...)`` dispatches by name.  Arguments a method
does not use (``seq_len`` for ``linear``, say) are accepted and ignored, so a
page can pass the same widgets to every method; unknown ``params`` raise.

All frequencies are computed in float64 and cast to float32 at the end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, Protocol, get_args

import torch

from . import backend, rope
from .rope import check_base

LLAMA3_ORIGINAL_MAX_POSITION = 8192  # Llama 3 / 3.1 pre-training context

# Ceilings on every argument (issue 7), well above what page §6b offers (d <= 1024, base <= 1e7,
# L <= 2^20, s <= 128) and equal to posviz.scaling_report's, so both modules accept the same values.
# Past one, a ValueError names the argument. The base ceiling is rope.check_base's (rope.MAX_BASE, 1e12);
# the larger bases that ntk and dynamic compute are held to it too.
MAX_DIM = 4096                 # head dim d (d/2 pairs)
MAX_FACTOR = 1024.0            # scale factor s
MAX_ORIGINAL = 1 << 24         # original_max_position L, the trained length (16M tokens)
MAX_SEQ_LEN = 1 << 40          # seq_len N (dynamic NTK); exact in float64
MAX_MULTIPLIER = rope.MAX_ATTENTION_FACTOR  # mscale, mscale_all_dim and attention_factor (1e3)


# --------------------------------------------------------------------------- shared pieces


def _check_dim(dim, low: int = 2) -> int:
    return backend.check_even("dim", backend.check_int("dim", dim, low, MAX_DIM))


def _check_factor(factor, name: str = "factor") -> float:
    """Scale factors below 1 would shrink the context; every method needs >= 1 (and <= ``MAX_FACTOR``)."""
    factor = backend.check_positive(name, factor, minimum=1.0)
    if factor > MAX_FACTOR:
        raise ValueError(f"{name} must be at most {MAX_FACTOR:g}, got {factor:g}")
    return factor


def _check_multiplier(name: str, value, strict: bool = True) -> float:
    """A finite number > 0 (>= 0 with ``strict=False``) and at most ``MAX_MULTIPLIER``."""
    value = backend.check_positive(name, value, strict=strict)
    if value > MAX_MULTIPLIER:
        raise ValueError(f"{name} must be at most {MAX_MULTIPLIER:g}, got {value:g}")
    return value


def _check_new_base(new_base: float, names: str) -> float:
    """A base computed by ntk or dynamic must stay within rope's ceiling, like any base."""
    if not new_base <= rope.MAX_BASE:
        raise ValueError(f"{names} give a base of {new_base:g}, above {rope.MAX_BASE:g} (rope.MAX_BASE); "
                         "lower one of them")
    return new_base


def _check_original(original_max_position, method: str, default: int | None = None) -> int:
    if original_max_position is None:
        if default is None:
            raise ValueError(
                f"original_max_position (the training context length) is required for method {method!r}; "
                "it must be an integer >= 1"
            )
        original_max_position = default
    return backend.check_int("original_max_position", original_max_position, 1, MAX_ORIGINAL)


def _check_seq_len(seq_len) -> int:
    return backend.check_int("seq_len", seq_len, 1, MAX_SEQ_LEN)


def _check_common(factor, original_max_position, seq_len) -> None:
    """Shared arguments are validated for every method, used or not."""
    _check_factor(factor)
    if original_max_position is not None:
        backend.check_int("original_max_position", original_max_position, 1, MAX_ORIGINAL)
    if seq_len is not None:
        _check_seq_len(seq_len)


def _take(method: str, params: dict, defaults: dict) -> dict:
    """Merge ``params`` over ``defaults``; unknown names raise ``ValueError``."""
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        allowed = ", ".join(defaults) or "none"
        raise ValueError(f"method {method!r} got unknown parameter(s) {unknown}; allowed: {allowed}")
    return {**defaults, **params}


def _default_freq64(dim: int, base: float) -> torch.Tensor:
    """float64 ``base^(-2i/dim)`` ``[dim/2]`` on the CPU: ``rope.inv_freq``, posviz's one ladder."""
    return rope.inv_freq(dim, base, device="cpu", dtype=torch.float64)  # [dim/2]


def _out(freq64: torch.Tensor, attention_factor: float, device) -> tuple[torch.Tensor, float]:
    return freq64.to(backend.DTYPE).to(backend.device(device)), float(attention_factor)


# --------------------------------------------------------------------------- default / linear / ntk


def default(dim, base=10000.0, *, factor=1.0, original_max_position=None, seq_len=None, device=None, **params):
    """Plain RoPE: ``theta_i = base^(-2i/dim)`` (Su et al. 2021); attention factor 1."""
    _take("default", params, {})
    _check_common(factor, original_max_position, seq_len)
    return _out(_default_freq64(_check_dim(dim), check_base(base)), 1.0, device)


def linear(dim, base=10000.0, *, factor=1.0, original_max_position=None, seq_len=None, device=None, **params):
    """Position interpolation (Chen et al. 2023): every frequency divided by ``factor``.

    Dividing ``theta`` is the same as dividing the positions, so ``factor``
    times as many positions fit into the trained angle range, at the price of
    crowding nearby positions (the high-frequency pairs lose resolution).
    """
    _take("linear", params, {})
    _check_common(factor, original_max_position, seq_len)
    factor = _check_factor(factor)
    return _out(_default_freq64(_check_dim(dim), check_base(base)) / factor, 1.0, device)


def ntk_base(dim, base, factor) -> float:
    """Static NTK-aware base ``base * factor^(dim/(dim-2))`` (bloc97, r/LocalLLaMA 2023; YaRN eq. 16).

    The exponent makes the lowest-frequency pair slow down by exactly
    ``factor`` (like PI) while pair 0 is untouched.  Errata: dim 64,
    base 10000, factor 2 gives ~20452, not ~20700.
    """
    dim = _check_dim(dim, 4)
    return check_base(base) * _check_factor(factor) ** (dim / (dim - 2))


def ntk(dim, base=10000.0, *, factor=1.0, original_max_position=None, seq_len=None, device=None, **params):
    """Static NTK-aware scaling: plain RoPE with the larger base of :func:`ntk_base`.

    Not a Hugging Face ``rope_type`` (there only the dynamic form exists); the
    method is bloc97's Reddit post of June 2023.
    """
    _take("ntk", params, {})
    _check_common(factor, original_max_position, seq_len)
    new_base = _check_new_base(ntk_base(dim, base, factor), "factor, base and dim")
    return _out(_default_freq64(dim, new_base), 1.0, device)


# --------------------------------------------------------------------------- dynamic NTK


def dynamic_base(dim, base, factor, original_max_position, seq_len=None) -> float:
    """Base used by dynamic NTK at length ``seq_len`` (emozilla 2023; YaRN §3.3).

    ``base * (factor * seq_len / original - (factor - 1))^(dim/(dim-2))`` once
    ``seq_len > original_max_position``; the plain ``base`` up to it (and for
    ``seq_len=None``), exactly as Hugging Face's ``dynamic`` rope type.  At
    ``seq_len = original`` the formula gives ``base`` too, so it is continuous.
    """
    dim = _check_dim(dim, 4)
    base = check_base(base)
    factor = _check_factor(factor)
    original = _check_original(original_max_position, "dynamic")
    if seq_len is None:
        return base
    seq_len = _check_seq_len(seq_len)
    if seq_len <= original:
        return base
    return base * (factor * seq_len / original - (factor - 1)) ** (dim / (dim - 2))


def dynamic(dim, base=10000.0, *, factor=1.0, original_max_position=None, seq_len=None, device=None, **params):
    """Dynamic NTK: recompute the NTK base for the current ``seq_len``.

    Short inputs keep the trained frequencies exactly; longer ones get a base
    that grows with the length.  Beware with a KV cache: keys cached at one
    base and queries at another no longer satisfy the relative property.
    """
    _take("dynamic", params, {})
    _check_common(factor, original_max_position, seq_len)
    new_base = _check_new_base(dynamic_base(dim, base, factor, original_max_position, seq_len),
                               "factor, seq_len, base, dim and original_max_position")
    return _out(_default_freq64(dim, new_base), 1.0, device)


# --------------------------------------------------------------------------- YaRN

YARN_PARAMS = {
    "beta_fast": 32.0,
    "beta_slow": 1.0,
    "mscale": None,
    "mscale_all_dim": None,
    "attention_factor": None,
    "truncate": True,
}


def yarn_correction_dim(num_rotations, dim, base, original_max_position) -> float:
    """Pair index (fractional) that turns ``num_rotations`` times over the training length.

    Solves ``original / wavelength_i = num_rotations`` for ``i`` with
    ``wavelength_i = 2*pi*base^(2i/dim)`` (YaRN §3.2, ``find_correction_dim``):
    ``dim * ln(original / (num_rotations * 2*pi)) / (2 * ln(base))``.

    For an extreme ``num_rotations`` (say ``1e-308``) the quotient overflows
    to ``inf`` (or underflows to 0); the same formula is then evaluated as a
    difference of logarithms, so the index stays finite (and far outside the
    pair range, where :func:`yarn_correction_range` clips it).
    """
    rotations = backend.check_positive("num_rotations", num_rotations)
    dim = _check_dim(dim)
    base = check_base(base)
    original_max_position = _check_original(original_max_position, "yarn")
    ratio = original_max_position / (rotations * 2 * math.pi)
    if ratio == 0.0 or math.isinf(ratio):
        log_ratio = math.log(original_max_position) - math.log(rotations) - math.log(2 * math.pi)
    else:
        log_ratio = math.log(ratio)
    return dim * log_ratio / (2 * math.log(base))


def yarn_correction_range(dim, base=10000.0, beta_fast=32.0, beta_slow=1.0, original_max_position=4096, truncate=True):
    """Pair indices ``(low, high)`` between which YaRN blends PI and no scaling.

    Pairs below ``low`` rotate more than ``beta_fast`` times in the training
    length (kept as they are); pairs above ``high`` rotate less than
    ``beta_slow`` times (fully interpolated).  ``truncate`` floors ``low`` and
    ceils ``high`` as the YaRN code and Hugging Face do; then both are clipped
    to ``[0, dim - 1]`` (sic: ``dim - 1``, as Hugging Face does).
    """
    dim = _check_dim(dim)
    base = check_base(base)
    beta_fast, beta_slow = _check_betas(beta_fast, beta_slow)
    original = _check_original(original_max_position, "yarn")
    truncate = backend.check_bool("truncate", truncate)
    low = yarn_correction_dim(beta_fast, dim, base, original)
    high = yarn_correction_dim(beta_slow, dim, base, original)
    if truncate:
        low, high = math.floor(low), math.ceil(high)
    return max(low, 0), min(high, dim - 1)


def yarn_ramp(dim, base=10000.0, beta_fast=32.0, beta_slow=1.0, original_max_position=4096, truncate=True, *, device=None):
    """Per-pair extrapolation weight ``[dim/2]``: 1 keeps ``theta_i``, 0 uses ``theta_i / factor``.

    YaRN's "NTK-by-parts" (§3.2): ``1 - clamp((i - low) / (high - low), 0, 1)``
    over the correction range; a zero-width range is widened by 0.001, as in
    the reference code.
    """
    w = _yarn_ramp64(dim, base, beta_fast, beta_slow, original_max_position, truncate)  # [dim/2]
    return w.to(backend.DTYPE).to(backend.device(device))  # [dim/2]


def yarn_mscale(scale, mscale=1.0) -> float:
    """YaRN's attention temperature ``0.1 * mscale * ln(scale) + 1`` (1 for ``scale <= 1``).

    Peng et al. 2023, §3.4, eq. 22: ``sqrt(1/t) = 0.1 ln(s) + 1``; it
    multiplies cos and sin, so q.k grows by its square.
    """
    scale = backend.check_positive("scale", scale)
    if scale > MAX_FACTOR:
        raise ValueError(f"scale (the factor) must be at most {MAX_FACTOR:g}, got {scale:g}")
    mscale = _check_multiplier("mscale", mscale, strict=False)
    if scale <= 1:
        return 1.0
    return 0.1 * mscale * math.log(scale) + 1.0


def yarn_attention_factor(factor, mscale=None, mscale_all_dim=None, attention_factor=None) -> float:
    """The cos/sin multiplier YaRN uses, with Hugging Face's precedence.

    An explicit ``attention_factor`` wins; else, when both ``mscale`` and
    ``mscale_all_dim`` are given (DeepSeek-V2/V3 configs), the ratio
    ``yarn_mscale(factor, mscale) / yarn_mscale(factor, mscale_all_dim)``;
    else ``yarn_mscale(factor)``.  ``mscale`` alone is ignored, as in
    Hugging Face.
    """
    factor = _check_factor(factor)
    if attention_factor is not None:
        return _check_multiplier("attention_factor", attention_factor)
    if mscale is not None:
        mscale = _check_multiplier("mscale", mscale)
    if mscale_all_dim is not None:
        mscale_all_dim = _check_multiplier("mscale_all_dim", mscale_all_dim)
    if mscale and mscale_all_dim:
        return yarn_mscale(factor, mscale) / yarn_mscale(factor, mscale_all_dim)
    return yarn_mscale(factor)


def yarn(dim, base=10000.0, *, factor=1.0, original_max_position=None, seq_len=None, device=None, **params):
    """YaRN (Peng et al. 2023): blend PI and plain RoPE per pair, plus a temperature.

    ``inv_freq = interp * (1 - w) + extrap * w`` with ``w`` from
    :func:`yarn_ramp`, ``extrap = theta_i`` and ``interp = theta_i / factor``;
    the attention factor comes from :func:`yarn_attention_factor`.
    """
    p = _take("yarn", params, YARN_PARAMS)
    _check_common(factor, original_max_position, seq_len)
    dim = _check_dim(dim)
    base = check_base(base)
    factor = _check_factor(factor)
    original = _check_original(original_max_position, "yarn")
    truncate = backend.check_bool("truncate", p["truncate"])
    w = _yarn_ramp64(dim, base, p["beta_fast"], p["beta_slow"], original, truncate)  # [dim/2]
    extrap = _default_freq64(dim, base)  # [dim/2]
    interp = extrap / factor  # [dim/2]
    freq = interp * (1 - w) + extrap * w  # [dim/2]
    attn = yarn_attention_factor(factor, p["mscale"], p["mscale_all_dim"], p["attention_factor"])
    return _out(freq, attn, device)


def _yarn_ramp64(dim, base, beta_fast, beta_slow, original, truncate) -> torch.Tensor:
    low, high = yarn_correction_range(dim, base, beta_fast, beta_slow, original, truncate)
    if low == high:
        high += 0.001  # avoid 0/0, as the YaRN and Hugging Face code do
    i = torch.arange(dim // 2, dtype=torch.float64)  # [dim/2]
    ramp = torch.clamp((i - low) / (high - low), 0.0, 1.0)  # [dim/2]  0 -> extrapolate, 1 -> interpolate
    return 1.0 - ramp  # [dim/2]  extrapolation weight


def _check_above(high_name: str, high, low_name: str, low, what: str = "") -> tuple[float, float]:
    """Two positive parameters where the first must exceed the second; returns (high, low)."""
    high = backend.check_positive(high_name, high)
    low = backend.check_positive(low_name, low)
    if high <= low:
        raise ValueError(f"{high_name} must be > {low_name}{what}, got {high_name}={high}, {low_name}={low}")
    return high, low


def _check_betas(beta_fast, beta_slow) -> tuple[float, float]:
    return _check_above("beta_fast", beta_fast, "beta_slow", beta_slow, " (rotation counts)")


# --------------------------------------------------------------------------- Llama 3.1

LLAMA3_PARAMS = {"low_freq_factor": 1.0, "high_freq_factor": 4.0}


class Llama3Bands(NamedTuple):
    """Per-pair classification used by Llama 3.1 scaling (all ``[dim/2]``)."""

    wavelength: torch.Tensor  # [dim/2] 2*pi/theta_i of the unscaled RoPE
    high_freq: torch.Tensor  # [dim/2] bool: wavelength < original/high_freq_factor -> kept
    low_freq: torch.Tensor  # [dim/2] bool: wavelength > original/low_freq_factor -> divided by factor
    smooth_band: torch.Tensor  # [dim/2] bool: in between -> blended
    smooth: torch.Tensor  # [dim/2] (original/wavelength - low)/(high - low), meaningful in the band
    keep: torch.Tensor  # [dim/2] weight on the unscaled theta: 1 kept, 0 scaled, smooth in the band
    labels: list  # [dim/2] "high-freq kept" | "smooth band" | "low-freq scaled"


def llama3_bands(
    dim,
    base=10000.0,
    original_max_position=LLAMA3_ORIGINAL_MAX_POSITION,
    low_freq_factor=1.0,
    high_freq_factor=4.0,
    *,
    device=None,
) -> Llama3Bands:
    """Which pairs Llama 3.1 keeps, scales, or blends (Hugging Face ``llama3`` rope type).

    Pairs whose wavelength is shorter than ``original / high_freq_factor``
    turn many times in training and are kept; pairs longer than
    ``original / low_freq_factor`` are divided by ``factor`` (PI); in between
    ``theta' = (1 - smooth) * theta / factor + smooth * theta`` with
    ``smooth = (original / wavelength - low_freq_factor) / (high_freq_factor - low_freq_factor)``.
    """
    dim = _check_dim(dim)
    base = check_base(base)
    original = _check_original(original_max_position, "llama3")
    low, high = _check_llama3_factors(low_freq_factor, high_freq_factor)
    wl, hi, lo, mid, smooth = _llama3_bands64(dim, base, original, low, high)
    keep = torch.where(mid, smooth, hi.double())  # [dim/2]
    labels = ["high-freq kept" if h else "low-freq scaled" if lw else "smooth band" for h, lw in zip(hi.tolist(), lo.tolist())]
    dev = backend.device(device)
    f32 = lambda t: t.to(backend.DTYPE).to(dev)  # noqa: E731
    return Llama3Bands(f32(wl), hi.to(dev), lo.to(dev), mid.to(dev), f32(smooth), f32(keep), labels)


def _llama3_bands64(dim, base, original, low_freq_factor, high_freq_factor):
    freq = _default_freq64(dim, base)  # [dim/2]
    wl = 2 * math.pi / freq  # [dim/2]
    hi = wl < original / high_freq_factor  # [dim/2] short wavelengths: untouched
    lo = wl > original / low_freq_factor  # [dim/2] long wavelengths: PI
    mid = ~hi & ~lo  # [dim/2]
    smooth = (original / wl - low_freq_factor) / (high_freq_factor - low_freq_factor)  # [dim/2]
    backend.check_finite("low_freq_factor and high_freq_factor", smooth,
                         "the smooth weight (L / wavelength - low) / (high - low)")
    return wl, hi, lo, mid, smooth


def _check_llama3_factors(low_freq_factor, high_freq_factor) -> tuple[float, float]:
    high, low = _check_above("high_freq_factor", high_freq_factor, "low_freq_factor", low_freq_factor)
    return low, high


def llama3(dim, base=10000.0, *, factor=1.0, original_max_position=None, seq_len=None, device=None, **params):
    """Llama 3.1 scaling: keep high frequencies, PI the low ones, blend between.

    ``original_max_position`` defaults to 8192 (Llama 3's pre-training
    length); Meta ships ``factor=8, low_freq_factor=1, high_freq_factor=4``.
    Attention factor 1.
    """
    p = _take("llama3", params, LLAMA3_PARAMS)
    _check_common(factor, original_max_position, seq_len)
    dim = _check_dim(dim)
    base = check_base(base)
    factor = _check_factor(factor)
    original = _check_original(original_max_position, "llama3", LLAMA3_ORIGINAL_MAX_POSITION)
    low, high = _check_llama3_factors(p["low_freq_factor"], p["high_freq_factor"])
    freq = _default_freq64(dim, base)  # [dim/2]
    _, _, lo, mid, smooth = _llama3_bands64(dim, base, original, low, high)
    scaled = torch.where(lo, freq / factor, freq)  # [dim/2]
    blended = (1 - smooth) * freq / factor + smooth * freq  # [dim/2]
    return _out(torch.where(mid, blended, scaled), 1.0, device)


# --------------------------------------------------------------------------- registry


MethodName = Literal["default", "linear", "ntk", "dynamic", "yarn", "llama3"]
METHOD_NAMES: tuple[MethodName, ...] = get_args(MethodName)  # the registry's keys, in order


class ScalingMethod(Protocol):
    """The signature every registry function has; ``**params`` are the method's extras (``Method.params``).

    Returns ``(inv_freq [dim/2] float32, attention_factor)``.  Arguments a
    method does not use are accepted and still validated; an unknown
    ``params`` name, ``factor < 1``, an odd ``dim`` or ``base <= 1`` raise
    ``ValueError``.
    """

    def __call__(self, dim: int, base: float = 10000.0, *, factor: float = 1.0,
                 original_max_position: int | None = None, seq_len: int | None = None, device=None,
                 **params) -> tuple[torch.Tensor, float]: ...


@dataclass(frozen=True)
class Method:
    """One registry entry, for page listings and widget choice."""

    name: MethodName
    label: str
    description: str
    reference: str
    fn: ScalingMethod
    params: dict = field(default_factory=dict)  # extra ``**params`` and their defaults
    uses: tuple = ()  # which shared arguments it reads: factor, original_max_position, seq_len
    short: str = ""  # a name for a narrow place (a slide's bar chart); the label when empty


INFO: dict[MethodName, Method] = {
    m.name: m
    for m in (
        Method("default", "Plain RoPE", "No scaling: theta_i = base^(-2i/d).", "Su et al. 2021 (RoFormer)", default,
               short="Plain"),
        Method(
            "linear",
            "Position interpolation (PI)",
            "Divide every frequency by the factor: positions are squeezed into the trained range.",
            "Chen et al. 2023, arXiv:2306.15595",
            linear,
            uses=("factor",),
            short="PI",
        ),
        Method(
            "ntk",
            "NTK-aware (static)",
            "Raise the base to base*factor^(d/(d-2)): fast pairs barely change, the slowest is divided by the factor.",
            "bloc97, \"NTK-Aware Scaled RoPE\", Reddit r/LocalLLaMA, 2023 (no Hugging Face rope_type); "
            "Peng et al. 2023 §3.1",
            ntk,
            uses=("factor",),
            short="NTK",
        ),
        Method(
            "dynamic",
            "Dynamic NTK",
            "NTK-aware base recomputed from the current length; unchanged up to the training length.",
            "emozilla (Reddit, 2023); Peng et al. 2023 §3.3",
            dynamic,
            uses=("factor", "original_max_position", "seq_len"),
            short="Dyn. NTK",
        ),
        Method(
            "yarn",
            "YaRN",
            "Per-pair ramp: fast pairs kept, slow pairs interpolated, a linear blend between; "
            "plus an attention temperature 0.1 ln(factor) + 1.",
            "Peng et al. 2023, arXiv:2309.00071",
            yarn,
            params=dict(YARN_PARAMS),
            uses=("factor", "original_max_position"),
        ),
        Method(
            "llama3",
            "Llama 3.1 (llama3 rope_type)",
            "Wavelength bands: short wavelengths kept, long ones divided by the factor, a smooth blend between.",
            "Meta 2024, The Llama 3 Herd of Models",
            llama3,
            params=dict(LLAMA3_PARAMS),
            uses=("factor", "original_max_position"),
            short="Llama 3.1",
        ),
    )
}

METHODS: dict[MethodName, ScalingMethod] = {name: m.fn for name, m in INFO.items()}
DESCRIPTIONS: dict[MethodName, str] = {name: m.description for name, m in INFO.items()}


def rope_frequencies(
    method: MethodName,
    dim: int,
    base: float = 10000.0,
    *,
    factor: float = 1.0,
    original_max_position: int | None = None,
    seq_len: int | None = None,
    device=None,
    **params,
) -> tuple[torch.Tensor, float]:
    """``(inv_freq [dim/2], attention_factor)`` for a scaling method by name.

    Feed the result to ``rope.apply_rope(x, positions, inv_freq,
    attention_factor=attention_factor)``.  ``method`` is a key of
    :data:`METHODS`; ``params`` are the method's extras (see ``INFO[method].params``).
    """
    backend.check_option("method", method, METHODS)
    return METHODS[method](
        dim,
        base,
        factor=factor,
        original_max_position=original_max_position,
        seq_len=seq_len,
        device=device,
        **params,
    )
