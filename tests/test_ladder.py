"""One frequency ladder base^(-2i/d) in posviz, one check of ``base``, one sinusoid.

``rope.inv_freq`` is the only implementation of the ladder; sinusoids
(``absolute``), Transformer-XL's relative embedding and every scaling method
call it, and ``rope.check_base`` (finite, > 1) is the only check of ``base``.
"""

from __future__ import annotations

import math
from typing import get_args

import numpy as np
import pytest
import torch

from posviz import absolute, diagnostics, relative, rope, scaling


@pytest.fixture
def ladder_calls(monkeypatch):
    """Count calls of rope.inv_freq (whoever makes them)."""
    calls = []
    real = rope.inv_freq

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(rope, "inv_freq", spy)
    return calls


def _xl_default_terms():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(5, 4, generator=g, dtype=torch.float64)
    w = [torch.randn(3, 4, generator=g, dtype=torch.float64) for _ in range(3)]
    return relative.transformer_xl_terms(x[2:], x, *w, torch.zeros(3, dtype=torch.float64),
                                         torch.zeros(3, dtype=torch.float64))


LADDER_USERS = {
    "absolute.frequencies": lambda: absolute.frequencies(8),
    "absolute.wavelengths": lambda: absolute.wavelengths(8),
    "absolute.sinusoidal": lambda: absolute.sinusoidal(3, 8),
    "absolute.sinusoid_at": lambda: absolute.sinusoid_at([-1.5, 2.0], 8, layout="concat"),
    "absolute.shift_matrix": lambda: absolute.shift_matrix(2, 8),
    "absolute.dot_profile": lambda: absolute.dot_profile(8, max_offset=3),
    "relative.transformer_xl_terms": _xl_default_terms,
    "diagnostics.shift_scores(transformer_xl)": lambda: diagnostics.shift_scores(3, 2, "transformer_xl", dim=4),
    "rope.decay_bound": lambda: rope.decay_bound(8, max_distance=4),
    **{f"scaling.{name}": (lambda fn=fn: fn(8, 10000.0, factor=2.0, original_max_position=64, seq_len=128))
       for name, fn in scaling.METHODS.items()},
}


@pytest.mark.parametrize("name", list(LADDER_USERS))
def test_every_ladder_is_rope_inv_freq(name, ladder_calls):
    LADDER_USERS[name]()
    assert ladder_calls, f"{name} computes base^(-2i/d) itself instead of calling rope.inv_freq"


@pytest.mark.parametrize("dim, base", [(2, 10000.0), (8, 10000.0), (96, 500000.0), (130, 1.5), (64, 1e6)])
def test_ladders_agree_bit_for_bit(dim, base):
    ladder = rope.inv_freq(dim, base, dtype=torch.float64)
    assert ladder.dtype == torch.float64 and ladder.shape == (dim // 2,)
    assert torch.equal(absolute.frequencies(dim, base), ladder)
    assert torch.equal(rope.inv_freq(dim, base), ladder.float())
    assert torch.equal(scaling.rope_frequencies("default", dim, base)[0], ladder.float())
    # and it is the formula: base^(-2i/d), float64
    np.testing.assert_allclose(ladder.numpy(), [base ** (-2 * i / dim) for i in range(dim // 2)], rtol=1e-14)


BASE_TAKERS = {
    "rope.inv_freq": lambda b: rope.inv_freq(8, b),
    "rope.decay_bound": lambda b: rope.decay_bound(8, b, 4),
    "absolute.frequencies": lambda b: absolute.frequencies(8, b),
    "absolute.wavelengths": lambda b: absolute.wavelengths(8, b),
    "absolute.sinusoidal": lambda b: absolute.sinusoidal(3, 8, b),
    "absolute.sinusoid_at": lambda b: absolute.sinusoid_at([0, -2], 8, b, "concat"),
    "absolute.shift_matrix": lambda b: absolute.shift_matrix(1, 8, b),
    "absolute.dot_profile": lambda b: absolute.dot_profile(8, b, 3),
    "scaling.ntk_base": lambda b: scaling.ntk_base(8, b, 2.0),
    "scaling.yarn_correction_range": lambda b: scaling.yarn_correction_range(8, b),
    "scaling.llama3_bands": lambda b: scaling.llama3_bands(8, b),
    **{f"scaling.{name}": (lambda b, fn=fn: fn(8, b, factor=2.0, original_max_position=64))
       for name, fn in scaling.METHODS.items()},
}


@pytest.mark.parametrize("name", list(BASE_TAKERS))
def test_one_base_rule_finite_and_above_one(name):
    call = BASE_TAKERS[name]
    call(1.5)  # any finite base > 1 is fine
    for bad in (1.0, 0.5, 0.0, -3.0):
        with pytest.raises(ValueError, match=r"^base must be > 1, got "):
            call(bad)
    for bad in (math.inf, math.nan):
        with pytest.raises(ValueError, match=r"^base must be finite"):
            call(bad)
    with pytest.raises(ValueError, match=r"^base must be a number"):
        call("ten thousand")


# ------------------------------------------------------------------ the one sinusoid


@pytest.mark.parametrize("layout", get_args(absolute.SinusoidLayout))
def test_sinusoidal_is_sinusoid_at_integer_positions(layout):
    table = absolute.sinusoidal(40, 16, 500.0, layout, start=7)
    assert torch.equal(table, absolute.sinusoid_at(torch.arange(7, 47), 16, 500.0, layout))
    assert torch.equal(table, absolute.sinusoid_at(list(range(7, 47)), 16, 500.0, layout))


def test_sinusoid_at_any_shape_negative_and_fractional_positions():
    pos = torch.tensor([[-2.5, 0.0], [3.0, 1e6]], dtype=torch.float64)
    got = absolute.sinusoid_at(pos, 6, layout="concat", dtype=torch.float64)  # [2, 2, 6]
    assert got.shape == (2, 2, 6) and got.dtype == torch.float64
    w = [10000.0 ** (-2 * i / 6) for i in range(3)]
    for idx in [(0, 0), (0, 1), (1, 0), (1, 1)]:
        p = float(pos[idx])
        np.testing.assert_allclose(got[idx].numpy(), [math.sin(p * x) for x in w] + [math.cos(p * x) for x in w],
                                   rtol=0, atol=1e-9)
    # sin is odd and cos even in the offset: R_{-r} mirrors R_r
    r = absolute.sinusoid_at([5, -5], 8, layout="interleaved")
    torch.testing.assert_close(r[1, 0::2], -r[0, 0::2], rtol=0, atol=0)
    torch.testing.assert_close(r[1, 1::2], r[0, 1::2], rtol=0, atol=0)
    assert absolute.sinusoid_at(3, 4).shape == (4,)  # a scalar position gives one row
    assert absolute.sinusoid_at(torch.arange(3), 4).device == torch.arange(3).device


@pytest.mark.parametrize("kwargs, name", [
    (dict(positions=[0.0, math.inf], dim=4), "positions"),
    (dict(positions=[0.0, math.nan], dim=4), "positions"),
    (dict(positions=[0, 1], dim=5), "dim"),
    (dict(positions=[0, 1], dim=4, layout="half"), "layout"),
])
def test_sinusoid_at_rejects_bad_args(kwargs, name):
    with pytest.raises(ValueError, match=name):
        absolute.sinusoid_at(**kwargs)


def test_layout_literals_are_the_checked_choices():
    assert absolute.LAYOUTS == get_args(absolute.SinusoidLayout) == ("interleaved", "concat")
    assert rope.LAYOUTS == get_args(rope.RopeLayout) == ("half", "interleaved")
