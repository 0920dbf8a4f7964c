"""Tests for posviz.errata: the numbers behind each correction, and verdicts that a wrong
implementation turns red.

References are written independently of the code under test (float64 formulas, exact
integers); every "turns red" test breaks the library function the evidence relies on.
"""

import math

import pytest
import torch

from posviz import absolute, errata, relative, rope, scaling


# ---------------------------------------------------------------- NTK-aware base

def test_ntk_base_matches_the_formula_not_the_quoted_number():
    e = errata.ntk_base_evidence()
    assert e.computed == pytest.approx(10000 * 2 ** (64 / 62), rel=1e-12)
    assert round(e.computed) == 20452 and e.quoted == 20700
    assert e.first_slowdown == pytest.approx(1.0, abs=1e-5)
    assert e.last_slowdown == pytest.approx(2.0, rel=1e-5)
    assert e.quoted_last_slowdown == pytest.approx((20700 / 10000) ** (62 / 64), rel=1e-12)
    assert e.verdict.ok and "20,452" in e.verdict.claim


def test_ntk_verdict_turns_red_with_a_wrong_exponent(monkeypatch):
    def wrong_ntk(dim, base=10000.0, *, factor=1.0, device=None, **_):
        b = base * factor ** (dim / (dim - 1))  # the wrong exponent
        return 1.0 / b ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim), 1.0
    monkeypatch.setitem(scaling.METHODS, "ntk", wrong_ntk)
    assert not errata.ntk_base_evidence().verdict.ok


def test_ntk_verdict_is_red_when_the_quoted_base_is_right():
    assert not errata.ntk_base_evidence(quoted=10000 * 2 ** (64 / 62)).verdict.ok


# ---------------------------------------------------------------- YaRN

def test_yarn_keeps_fast_pairs_and_interpolates_slow_ones_at_page_defaults():
    e = errata.yarn_split()
    assert e.kept == tuple(range(0, 21)) and e.interpolated == tuple(range(46, 64))
    assert e.blended == tuple(range(21, 46))
    assert e.kept_longest_wavelength < 4096 < e.interpolated_shortest_wavelength
    assert e.verdict.ok and "0–20" in e.verdict.detail and "46–63" in e.verdict.detail


def test_yarn_verdict_turns_red_when_described_backwards(monkeypatch):
    """Interpolate the fast pairs and keep the slow ones (the seed's description)."""
    def backwards(dim, base=10000.0, *, factor=1.0, original_max_position=None, device=None, **_):
        theta = base ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim)
        w = scaling.yarn_ramp(dim, base, original_max_position=original_max_position).double()  # 1 = keep
        return theta * (1 - w) + theta / factor * w, 1.0
    monkeypatch.setitem(scaling.METHODS, "yarn", backwards)
    assert not errata.yarn_split().verdict.ok


def test_yarn_split_refuses_factor_one():
    with pytest.raises(ValueError, match="factor"):
        errata.yarn_split(factor=1.0)


# ---------------------------------------------------------------- T5

def t5_bidirectional_ref(n):
    """Bucket of a key n >= 0 tokens in the past, 32 buckets, max_distance 128, in exact integers.

    For n >= 8 T5 computes 8 + floor(8 * log(n/8) / log(16)) = 8 + floor(log2(n^2 / 64)),
    and floor(log2(x)) = floor(log2(floor(x))) is the bit length of floor(x) minus one.
    """
    return n if n < 8 else min(15, 8 + (n * n // 64).bit_length() - 1)


def test_t5_reach_is_not_a_clip():
    e = errata.t5_reach()
    assert (e.bidirectional, e.causal) == (91, 113)
    assert e.distinct_below_max == len({t5_bidirectional_ref(n) for n in range(128)}) == 16
    assert min(n for n in range(129) if t5_bidirectional_ref(n) == 15) == 91
    assert e.verdict.ok


def test_t5_verdict_turns_red_for_a_plain_clip(monkeypatch):
    def clip(relative_position, bidirectional=True, num_buckets=32, max_distance=128, *, device=None):
        r = torch.as_tensor(relative_position)
        return r.abs().clamp(max=max_distance)
    monkeypatch.setattr(relative, "t5_bucket", clip)
    assert not errata.t5_reach().verdict.ok


# ---------------------------------------------------------------- sinusoid wavelength

def test_slowest_wavelength_at_512():
    e = errata.slowest_wavelength()
    assert e.paper == pytest.approx(2 * math.pi * 10000 ** (510 / 512), rel=1e-6)
    assert round(e.paper) == 60611
    assert e.t2t == pytest.approx(2 * math.pi * 10000, rel=1e-12) == e.limit
    assert e.verdict.ok


def test_slowest_wavelength_turns_red_with_the_t2t_exponent(monkeypatch):
    def t2t_wavelengths(dim, base=10000.0, *, device=None):
        i = torch.arange(dim // 2, dtype=torch.float64)
        return 2 * math.pi * base ** (i / (dim // 2 - 1))
    monkeypatch.setattr(absolute, "wavelengths", t2t_wavelengths)
    assert not errata.slowest_wavelength().verdict.ok


# ---------------------------------------------------------------- RoPE base ladder

def test_base_ladder_counts_pairs_that_never_turn():
    e = errata.base_ladder(dim=128, context=16384, bases=(10000.0, 1000000.0))
    for b, slowest, never in zip(e.bases, e.slowest, e.never_turn):
        wl = [2 * math.pi * b ** (2 * i / 128) for i in range(64)]
        assert slowest == pytest.approx(wl[-1], rel=1e-6)
        assert never == sum(w > 16384 for w in wl)
    assert e.never_turn == (9, 27)


# ---------------------------------------------------------------- RoPE pairings

@pytest.mark.parametrize("made_for", ["interleaved", "half"])
def test_pairing_evidence(made_for):
    e = errata.pairing_evidence(made_for=made_for)
    assert e.peak_right == e.target and e.peak_wrong != e.target
    assert e.weight_right > e.weight_wrong
    assert e.permuted_gap < 1e-5
    assert e.verdict.ok


def test_pairing_verdict_turns_red_if_both_pairings_are_the_same(monkeypatch):
    same = rope.pair_indices

    def always_half(dim, layout="half", *, device=None):
        return same(dim, "half", device=device)
    monkeypatch.setattr(rope, "pair_indices", always_half)
    assert not errata.pairing_evidence(made_for="half").verdict.ok


def test_pairing_evidence_checks_arguments():
    with pytest.raises(ValueError, match="made_for"):
        errata.pairing_evidence(made_for="diagonal")
    with pytest.raises(ValueError, match="n_distances"):
        errata.pairing_evidence(target=5, n_distances=6)
