"""RoPE scaling methods (posviz.scaling) against independent float64 references.

The references below are written from the published formulas / Hugging Face's
``modeling_rope_utils.py`` semantics in plain NumPy float64, separately from
posviz, and posviz must match them to float32 precision (rtol 1e-6).
"""

from __future__ import annotations

import inspect
import itertools
import math
from typing import get_args

import numpy as np
import pytest
import torch

from posviz import rope, scaling

DIMS = (64, 128)
BASES = (10000.0, 500000.0)
FACTORS = (2.0, 4.0, 8.0, 32.0)
ORIGINALS = (2048, 4096, 8192)
CASES = list(itertools.product(DIMS, BASES, FACTORS, ORIGINALS))  # 48 parameter sets
CASES += [
    (96, 10000.0, 4.0, 4096),  # dim not a power of two (exponent 2i/dim inexact in binary)
    (80, 1000000.0, 16.0, 32768),
    (64, 10000.0, 4.0, 131072),  # YaRN: ceil(high) = 35 > dim/2 - 1, clipped to dim - 1 as HF does
    (64, 10000.0, 2.0, 6),  # YaRN: tiny original, low == high == 0 (the +0.001 branch)
]


# --------------------------------------------------------------------------- float64 references


def np_theta(dim, base):
    return 1.0 / base ** (np.arange(0, dim, 2, dtype=np.float64) / dim)


def ref_default(dim, base, factor, original, seq_len, **_):
    return np_theta(dim, base), 1.0


def ref_linear(dim, base, factor, original, seq_len, **_):
    return np_theta(dim, base) / factor, 1.0


def ref_ntk(dim, base, factor, original, seq_len, **_):
    return np_theta(dim, base * factor ** (dim / (dim - 2))), 1.0


def ref_dynamic(dim, base, factor, original, seq_len, **_):
    seq = seq_len if seq_len is not None and seq_len > original else original
    new_base = base * ((factor * seq / original) - (factor - 1)) ** (dim / (dim - 2))
    return np_theta(dim, new_base), 1.0


def ref_yarn(dim, base, factor, original, seq_len, beta_fast=32, beta_slow=1, mscale=None, mscale_all_dim=None,
             attention_factor=None, truncate=True):
    def corr_dim(rot):
        return dim * math.log(original / (rot * 2 * math.pi)) / (2 * math.log(base))

    lo, hi = corr_dim(beta_fast), corr_dim(beta_slow)
    if truncate:
        lo, hi = math.floor(lo), math.ceil(hi)
    lo, hi = max(lo, 0), min(hi, dim - 1)
    if lo == hi:
        hi += 0.001
    ramp = np.clip((np.arange(dim // 2, dtype=np.float64) - lo) / (hi - lo), 0, 1)
    extrap_w = 1 - ramp
    pos_freqs = base ** (np.arange(0, dim, 2, dtype=np.float64) / dim)
    inv = (1 / (factor * pos_freqs)) * (1 - extrap_w) + (1 / pos_freqs) * extrap_w

    def get_mscale(s, m=1.0):
        return 1.0 if s <= 1 else 0.1 * m * math.log(s) + 1.0

    if attention_factor is None:
        if mscale and mscale_all_dim:
            attention_factor = get_mscale(factor, mscale) / get_mscale(factor, mscale_all_dim)
        else:
            attention_factor = get_mscale(factor)
    return inv, attention_factor


def ref_llama3(dim, base, factor, original, seq_len, low_freq_factor=1.0, high_freq_factor=4.0):
    theta = np_theta(dim, base)
    out = np.empty_like(theta)
    low_wl, high_wl = original / low_freq_factor, original / high_freq_factor
    for i, t in enumerate(theta):
        wl = 2 * math.pi / t
        if wl < high_wl:
            out[i] = t
        elif wl > low_wl:
            out[i] = t / factor
        else:
            s = (original / wl - low_freq_factor) / (high_freq_factor - low_freq_factor)
            out[i] = (1 - s) * t / factor + s * t
    return out, 1.0


REFERENCES = {
    "default": ref_default,
    "linear": ref_linear,
    "ntk": ref_ntk,
    "dynamic": ref_dynamic,
    "yarn": ref_yarn,
    "llama3": ref_llama3,
}

# (method, extra params, seq_len as a multiple of original (None = not given))
VARIANTS = [
    ("default", {}, None),
    ("linear", {}, None),
    ("ntk", {}, None),
    ("dynamic", {}, 3.3),
    ("dynamic", {}, 0.75),  # inside the training length: plain RoPE
    ("dynamic", {}, None),
    ("yarn", {}, None),
    ("yarn", {"truncate": False}, None),
    ("yarn", {"beta_fast": 16.0, "beta_slow": 2.0}, None),
    ("yarn", {"mscale": 1.0, "mscale_all_dim": 0.707}, None),
    ("yarn", {"mscale": 0.8}, None),
    ("yarn", {"attention_factor": 1.25, "truncate": False}, None),
    ("llama3", {}, None),
    ("llama3", {"low_freq_factor": 2.0, "high_freq_factor": 8.0}, None),
]


@pytest.mark.parametrize("method,params,seq_mult", VARIANTS, ids=[f"{m}-{p}-{s}" for m, p, s in VARIANTS])
def test_matches_float64_reference(method, params, seq_mult):
    for dim, base, factor, original in CASES:
        seq_len = None if seq_mult is None else int(seq_mult * original)
        inv, attn = scaling.rope_frequencies(
            method, dim, base, factor=factor, original_max_position=original, seq_len=seq_len, **params
        )
        want, want_attn = REFERENCES[method](dim, base, factor, original, seq_len, **params)
        case = f"dim={dim} base={base} factor={factor} original={original} seq_len={seq_len}"
        assert inv.dtype == torch.float32 and inv.shape == (dim // 2,), case
        np.testing.assert_allclose(inv.numpy(), want, rtol=1e-6, err_msg=case)
        assert isinstance(attn, float)
        assert attn == pytest.approx(want_attn, rel=1e-12), case


def test_every_method_has_a_reference_and_a_variant():
    # a method added to the registry fails here until it has a float64 reference and a VARIANTS row
    assert set(REFERENCES) == set(scaling.METHODS)
    assert {m for m, _, _ in VARIANTS} == set(scaling.METHODS)


def test_reference_cases_are_not_trivial():
    # each scaling method must actually move some frequencies in the reference cases, else the test above
    # could not tell "scaled" from "default"
    for method in (m for m in scaling.METHODS if m != "default"):
        inv, _ = scaling.rope_frequencies(method, 128, 10000.0, factor=8, original_max_position=2048, seq_len=8192)
        assert not torch.allclose(inv, rope.inv_freq(128)), method


# --------------------------------------------------------------------------- stored numbers


def test_ntk_base_errata_value():
    # DESIGN errata: 10000 * 2^(64/62) ~ 20452 (not ~20700); literal computed once in float64
    assert scaling.ntk_base(64, 10000.0, 2.0) == pytest.approx(20452.228712025368, rel=1e-12)
    inv, attn = scaling.rope_frequencies("ntk", 64, 10000.0, factor=2.0)
    assert inv[1].item() == pytest.approx(20452.228712025368 ** (-2 / 64), rel=1e-6)
    assert attn == 1.0


def test_ntk_slowest_pair_is_divided_by_exactly_factor():
    for dim, base, factor in [(64, 10000.0, 2.0), (128, 500000.0, 8.0)]:
        inv, _ = scaling.rope_frequencies("ntk", dim, base, factor=factor)
        plain = rope.inv_freq(dim, base)
        assert inv[0].item() == 1.0  # pair 0 untouched
        assert inv[-1].item() == pytest.approx(plain[-1].item() / factor, rel=1e-6)


def test_dynamic_base_literal_and_unchanged_inside_training_length():
    # 10000 * (2*4096/2048 - 1)^(64/62) = 10000 * 3^(64/62)
    assert scaling.dynamic_base(64, 10000.0, 2.0, 2048, 4096) == pytest.approx(31082.236667168814, rel=1e-12)
    assert scaling.dynamic_base(64, 10000.0, 2.0, 2048, 2048) == 10000.0
    assert scaling.dynamic_base(64, 10000.0, 2.0, 2048, None) == 10000.0
    for seq_len in (None, 1, 2048):
        inv, _ = scaling.rope_frequencies("dynamic", 64, factor=2.0, original_max_position=2048, seq_len=seq_len)
        assert torch.equal(inv, rope.inv_freq(64))
    inv, _ = scaling.rope_frequencies("dynamic", 64, factor=2.0, original_max_position=2048, seq_len=2049)
    assert inv[-1] < rope.inv_freq(64)[-1]


def test_yarn_attention_factor_literals():
    _, attn = scaling.rope_frequencies("yarn", 128, factor=4.0, original_max_position=4096)
    assert attn == pytest.approx(0.1 * math.log(4) + 1, rel=1e-12)
    assert attn == pytest.approx(1.138629436111989, rel=1e-12)
    # DeepSeek-style mscale ratio: (0.1*1*ln 40 + 1) / (0.1*0.707*ln 40 + 1)
    _, attn = scaling.rope_frequencies(
        "yarn", 64, factor=40.0, original_max_position=4096, mscale=1.0, mscale_all_dim=0.707
    )
    assert attn == pytest.approx(1.0857263992561355, rel=1e-12)
    _, attn = scaling.rope_frequencies("yarn", 64, factor=40.0, original_max_position=4096, mscale=1.0, mscale_all_dim=1.0)
    assert attn == 1.0
    _, attn = scaling.rope_frequencies("yarn", 64, factor=1.0, original_max_position=4096)
    assert attn == 1.0


def test_yarn_correction_range_and_ramp_literals():
    # dim 128, base 10000, original 4096: find_correction_dim(32) = 20.944..., (1) = 45.026...
    low, high = scaling.yarn_correction_range(128, 10000.0, 32, 1, 4096, truncate=False)
    assert low == pytest.approx(20.94448162063605, rel=1e-12)
    assert high == pytest.approx(45.02688127375455, rel=1e-12)
    assert scaling.yarn_correction_range(128, 10000.0, 32, 1, 4096) == (20, 46)
    assert scaling.yarn_correction_range(64, 10000.0, 32, 1, 2048) == (8, 21)
    assert scaling.yarn_correction_range(64, 10000.0, 32, 1, 131072) == (22, 35)  # 35 > dim/2 - 1 is kept
    assert scaling.yarn_correction_range(64, 10000.0, 32, 1, 6) == (0, 0)
    assert scaling.yarn_ramp(64, 10000.0, 32, 1, 6).tolist() == [1.0] + [0.0] * 31
    w = scaling.yarn_ramp(128, 10000.0, 32, 1, 4096)
    assert w.shape == (64,)
    assert torch.all(w[:21] == 1) and torch.all(w[46:] == 0)
    assert w[33].item() == pytest.approx(0.5)  # halfway between 20 and 46
    assert torch.all(w[1:] <= w[:-1])  # monotone: fast pairs extrapolate, slow pairs interpolate


def test_yarn_blends_between_plain_and_pi():
    inv, _ = scaling.rope_frequencies("yarn", 128, factor=8.0, original_max_position=4096)
    plain = rope.inv_freq(128)
    assert torch.equal(inv[:21], plain[:21])  # kept
    torch.testing.assert_close(inv[46:], plain[46:] / 8, rtol=1e-6, atol=0)  # interpolated
    mid = slice(21, 46)
    assert torch.all(inv[mid] < plain[mid]) and torch.all(inv[mid] > plain[mid] / 8)


def test_llama3_bands_dim128_base500000_factor8():
    inv, attn = scaling.rope_frequencies("llama3", 128, 500000.0, factor=8.0, original_max_position=8192)
    plain = rope.inv_freq(128, 500000.0)
    wl = 2 * math.pi / np_theta(128, 500000.0)
    short, long_ = wl < 2048, wl > 8192
    assert short.sum() == 29 and long_.sum() == 29  # pairs 0..28 and 35..63
    assert torch.equal(inv[torch.from_numpy(short)], plain[torch.from_numpy(short)])  # unchanged
    torch.testing.assert_close(inv[torch.from_numpy(long_)], plain[torch.from_numpy(long_)] / 8, rtol=1e-6, atol=0)
    # a smooth-band pair, literal from float64: i=40 is in the long band, i=30 in the middle
    assert inv[40].item() == pytest.approx(3.428102195952591e-05, rel=1e-6)
    assert attn == 1.0
    bands = scaling.llama3_bands(128, 500000.0, 8192, 1.0, 4.0)
    assert bands.labels.count("high-freq kept") == 29
    assert bands.labels.count("smooth band") == 6
    assert bands.labels.count("low-freq scaled") == 29
    assert bands.labels[30] == "smooth band" and bands.smooth_band[30]
    assert 0 < bands.keep[30].item() < 1
    np.testing.assert_allclose(bands.wavelength.numpy(), wl, rtol=1e-6)
    # keep-weight reproduces the frequencies: theta' = theta/factor + keep*(theta - theta/factor)
    rebuilt = plain / 8 + bands.keep * (plain - plain / 8)
    torch.testing.assert_close(rebuilt, inv, rtol=1e-5, atol=0)


def test_llama3_original_defaults_to_8192():
    a, _ = scaling.rope_frequencies("llama3", 128, 500000.0, factor=8.0)
    b, _ = scaling.rope_frequencies("llama3", 128, 500000.0, factor=8.0, original_max_position=8192)
    c, _ = scaling.rope_frequencies("llama3", 128, 500000.0, factor=8.0, original_max_position=4096)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_pi_maps_scaled_positions_onto_trained_angles():
    # PI: angle at position factor*m with scaled frequencies == angle at m without scaling
    inv, _ = scaling.rope_frequencies("linear", 64, factor=4.0)
    m = torch.arange(0, 2048, 7, dtype=torch.float64)
    torch.testing.assert_close(rope.angles(m * 4, inv), rope.angles(m, rope.inv_freq(64)), rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("method", list(scaling.METHODS))
def test_factor_one_is_plain_rope(method):
    # every method's documented behaviour: no stretch, no change (dynamic: at or inside the training length)
    for seq_len in (None, 2048):
        inv, attn = scaling.rope_frequencies(method, 64, 10000.0, factor=1.0, original_max_position=2048,
                                             seq_len=seq_len)
        torch.testing.assert_close(inv, rope.inv_freq(64), rtol=1e-7, atol=0)
        assert attn == 1.0


# --------------------------------------------------------------------------- every registry entry
# Parametrized over scaling.METHODS itself: a method added to the registry is tested here without
# editing any list.

CONTRACT_CASES = [  # dim, base, factor, original, seq_len
    (64, 10000.0, 4.0, 2048, 8192),
    (128, 500000.0, 8.0, 8192, None),
    (96, 10000.0, 1.5, 512, 300),
    (4, 2.0, 32.0, 16, 10_000),
]


@pytest.mark.parametrize("method", list(scaling.METHODS))
def test_every_method_keeps_the_contract(method):
    fn = scaling.METHODS[method]
    for dim, base, factor, original, seq_len in CONTRACT_CASES:
        inv, attn = fn(dim, base, factor=factor, original_max_position=original, seq_len=seq_len, device="cpu")
        case = f"{method} dim={dim} base={base} factor={factor} original={original} seq_len={seq_len}"
        assert inv.shape == (dim // 2,) and inv.dtype == torch.float32 and inv.device.type == "cpu", case
        assert bool(torch.isfinite(inv).all()) and bool((inv > 0).all()), case
        assert isinstance(attn, float) and math.isfinite(attn) and attn > 0, case
        # stretching the context never speeds a pair up: scaled <= plain, pair by pair
        plain = rope.inv_freq(dim, base)
        assert bool((inv <= plain * (1 + 1e-6)).all()), case
        # the dispatcher and the registry entry are the same function
        inv2, attn2 = scaling.rope_frequencies(method, dim, base, factor=factor, original_max_position=original,
                                               seq_len=seq_len, device="cpu")
        assert torch.equal(inv, inv2) and attn == attn2, case
        # and it matches its float64 reference with its default extras
        want, want_attn = REFERENCES[method](dim, base, factor, original, seq_len, **scaling.INFO[method].params)
        np.testing.assert_allclose(inv.numpy(), want, rtol=1e-6, err_msg=case)
        assert attn == pytest.approx(want_attn, rel=1e-12), case


@pytest.mark.parametrize("method", list(scaling.METHODS))
def test_every_method_rejects_bad_shared_arguments(method):
    fn = scaling.METHODS[method]
    ok = dict(factor=2.0, original_max_position=2048, seq_len=4096)
    for kwargs, name in [
        (dict(dim=63), "dim"), (dict(dim=0), "dim"), (dict(dim=64.5), "dim"), (dict(dim="64"), "dim"),
        (dict(dim=64, base=1.0), "base"), (dict(dim=64, base=-2.0), "base"), (dict(dim=64, base=math.nan), "base"),
        (dict(dim=64, factor=0.5), "factor"), (dict(dim=64, factor=0.0), "factor"),
        (dict(dim=64, factor=math.inf), "factor"),
        (dict(dim=64, original_max_position=0), "original_max_position"),
        (dict(dim=64, seq_len=0), "seq_len"),
        (dict(dim=64, no_such_parameter=1.0), "no_such_parameter"),
    ]:
        with pytest.raises(ValueError, match=name):
            fn(**{**ok, **kwargs})


@pytest.mark.parametrize("method", list(scaling.METHODS))
def test_every_method_reads_exactly_the_arguments_it_declares(method):
    # INFO[method].uses drives which widgets a page shows: each declared argument must change the result,
    # each undeclared one must not
    info = scaling.INFO[method]
    assert set(info.uses) <= {"factor", "original_max_position", "seq_len"}
    base_args = dict(factor=4.0, original_max_position=512, seq_len=2048)
    moved = dict(factor=8.0, original_max_position=1024, seq_len=4096)
    inv0, attn0 = scaling.METHODS[method](64, 10000.0, **base_args)
    for arg, value in moved.items():
        inv1, attn1 = scaling.METHODS[method](64, 10000.0, **{**base_args, arg: value})
        same = torch.equal(inv0, inv1) and attn0 == attn1
        assert same == (arg not in info.uses), f"{method}: {arg} {'is' if same else 'is not'} ignored"


@pytest.mark.parametrize("method", list(scaling.METHODS))
def test_every_method_has_the_protocol_signature_and_metadata(method):
    protocol = list(inspect.signature(scaling.ScalingMethod.__call__).parameters.values())[1:]  # without self
    params = list(inspect.signature(scaling.METHODS[method]).parameters.values())
    assert [(p.name, p.kind, p.default) for p in params] == [(p.name, p.kind, p.default) for p in protocol]
    info = scaling.INFO[method]
    assert info.name == method and info.label and info.description and info.reference
    inv, _ = scaling.METHODS[method](64, factor=2.0, original_max_position=2048, **info.params)  # defaults work
    assert inv.shape == (32,)


def test_method_name_literal_is_the_registry():
    assert scaling.METHOD_NAMES == get_args(scaling.MethodName) == tuple(scaling.METHODS) == tuple(scaling.INFO)


# --------------------------------------------------------------------------- registry


def test_registry_lists_every_method_with_one_signature():
    required = {"default", "linear", "ntk", "dynamic", "yarn", "llama3"}
    assert required <= set(scaling.METHODS)
    assert set(scaling.DESCRIPTIONS) == set(scaling.METHODS) == set(scaling.INFO)
    signatures = {str(inspect.signature(fn)) for fn in scaling.METHODS.values()}
    assert len(signatures) == 1, signatures
    for name, info in scaling.INFO.items():
        assert info.fn is scaling.METHODS[name] and info.description and info.label
    assert scaling.INFO["yarn"].params["beta_fast"] == 32.0
    assert scaling.INFO["llama3"].params["high_freq_factor"] == 4.0


def test_registry_functions_callable_directly_and_feed_apply_rope():
    inv, attn = scaling.METHODS["yarn"](64, 10000.0, factor=4.0, original_max_position=2048)
    x = torch.randn(5, 64)
    y = rope.apply_rope(x, torch.arange(5), inv, attention_factor=attn)
    torch.testing.assert_close(y.norm(dim=-1), attn * x.norm(dim=-1), rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_device_cuda():
    inv, _ = scaling.rope_frequencies("yarn", 64, factor=4.0, original_max_position=2048, device="cuda")
    cpu, _ = scaling.rope_frequencies("yarn", 64, factor=4.0, original_max_position=2048, device="cpu")
    assert inv.device.type == "cuda"
    assert torch.equal(inv.cpu(), cpu)


# --------------------------------------------------------------------------- errors


def freqs(method, **kw):
    return lambda: scaling.rope_frequencies(method, **kw)


@pytest.mark.parametrize(
    "call,match",
    [
        (freqs("linear", dim=63, factor=2.0), "dim"),
        (freqs("ntk", dim=2, factor=2.0), "dim"),
        (freqs("linear", dim=64, factor=0.5), "factor"),
        (freqs("default", dim=64, factor=0.0), "factor"),
        (freqs("yarn", dim=64, factor=2.0), "original_max_position"),
        (freqs("yarn", dim=64, factor=2.0, original_max_position=0), "original_max_position"),
        (freqs("dynamic", dim=64, factor=2.0, seq_len=100), "original_max_position"),
        (freqs("dynamic", dim=64, factor=2.0, original_max_position=-4), "original_max_position"),
        (freqs("dynamic", dim=64, factor=2.0, original_max_position=2048, seq_len=0), "seq_len"),
        (freqs("yarn", dim=64, factor=2.0, original_max_position=2048, beta_fast=1.0, beta_slow=1.0), "beta_fast"),
        (freqs("yarn", dim=64, factor=2.0, original_max_position=2048, beta_fast=1.0, beta_slow=32.0), "beta_fast"),
        (freqs("yarn", dim=64, factor=2.0, original_max_position=2048, beta_slow=-1.0), "beta_slow"),
        (freqs("yarn", dim=64, factor=2.0, original_max_position=2048, attention_factor=0.0), "attention_factor"),
        (freqs("yarn", dim=64, factor=2.0, original_max_position=2048, mscale=-1.0, mscale_all_dim=1.0), "mscale"),
        (freqs("yarn", dim=64, factor=2.0, original_max_position=2048, beta_fsat=32.0), "beta_fsat"),
        (freqs("llama3", dim=64, factor=8.0, low_freq_factor=4.0, high_freq_factor=4.0), "high_freq_factor"),
        (freqs("llama3", dim=64, factor=8.0, low_freq_factor=0.0), "low_freq_factor"),
        (freqs("linear", dim=64, factor=2.0, beta_fast=32.0), "beta_fast"),
        (freqs("linear", dim=64, base=1.0, factor=2.0), "base"),
        (lambda: scaling.dynamic_base(64, 10000.0, 2.0, None, 4096), "original_max_position"),
        (lambda: scaling.yarn_ramp(64, 10000.0, 1.0, 2.0, 2048), "beta_fast"),
        (lambda: scaling.llama3_bands(64, 10000.0, 8192, 4.0, 1.0), "high_freq_factor"),
    ],
)
def test_invalid_arguments_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_unknown_method_lists_valid_names():
    with pytest.raises(ValueError, match="method") as err:
        scaling.rope_frequencies("longrope-ish", 64)
    for name in scaling.METHODS:
        assert name in str(err.value)
