"""posviz.scaling_report: the §6b measurements and verdicts, against numbers worked out independently.

Expected values come from the lesson's worked readings (d = 128, base 10 000, L = 4096, s = 4),
re-derived here with plain ``math`` where a closed form exists; each verdict is also shown to
turn red when the method behind it is wrong.
"""

from __future__ import annotations

import math

import pytest
import torch

from posviz import scaling
from posviz import scaling_report as report

DEFAULT_PARAMS = {"yarn": dict(scaling.YARN_PARAMS), "llama3": dict(scaling.LLAMA3_PARAMS)}
for _p in DEFAULT_PARAMS["yarn"].copy():
    if DEFAULT_PARAMS["yarn"][_p] is None:
        del DEFAULT_PARAMS["yarn"][_p]  # optional parameters are "not set" at the page's defaults


def default_setting(**kw) -> report.Setting:
    args = dict(dim=128, base=10000.0, original=4096, factor=4.0, seq_fraction=1.0, params=DEFAULT_PARAMS)
    args.update(kw)
    return report.setting(**args)


def first_unturned(dim, base, original) -> int:
    """Smallest pair index whose wavelength 2*pi*base^(2i/d) exceeds L (closed form in math)."""
    return math.floor(dim * math.log(original / (2 * math.pi)) / (2 * math.log(base))) + 1


# --------------------------------------------------------------------------- the YaRN ramp ends (scaling)


@pytest.mark.parametrize("beta_slow", [1e-308, 5e-324])
def test_tiny_beta_slow_clips_the_ramp_end_instead_of_overflowing(beta_slow):
    low, high = scaling.yarn_correction_range(128, 10000.0, 32.0, beta_slow, 4096)
    assert (low, high) == (20, 127)  # the end is clipped to dim - 1, as Hugging Face clips it
    inv, _ = scaling.rope_frequencies("yarn", 128, factor=4.0, original_max_position=4096, beta_slow=beta_slow)
    assert torch.isfinite(inv).all()


def test_huge_beta_fast_stays_finite():
    low, high = scaling.yarn_correction_range(128, 10000.0, 1.7e308, 1e307, 4096)
    assert isinstance(low, int) and isinstance(high, int) and low == 0


def test_correction_dim_log_form_matches_the_formula():
    """Where the direct quotient overflows, the index still equals d·(ln L − ln r − ln 2π)/(2 ln b)."""
    got = scaling.yarn_correction_dim(1e-308, 128, 10000.0, 4096)
    want = 128 * (math.log(4096) - math.log(1e-308) - math.log(2 * math.pi)) / (2 * math.log(10000.0))
    assert got == pytest.approx(want, rel=1e-12)
    assert scaling.yarn_correction_dim(32.0, 128, 10000.0, 4096) == pytest.approx(
        128 * math.log(4096 / (64 * math.pi)) / (2 * math.log(10000.0)), rel=1e-12)


@pytest.mark.parametrize("bad", [0.0, -1.0, math.inf, math.nan])
def test_correction_dim_rejects_bad_rotations(bad):
    with pytest.raises(ValueError, match="num_rotations"):
        scaling.yarn_correction_dim(bad, 128, 10000.0, 4096)


# --------------------------------------------------------------------------- settings and availability


def test_setting_lengths_and_params():
    s = report.setting(64, 10000.0, 1000, 2.5, 0.5, {"yarn": {"beta_fast": 16.0}})
    assert (s.target, s.seq_len) == (2500, 1250)
    assert s.params_for("yarn") == {"beta_fast": 16.0} and s.params_for("linear") == {}
    assert hash(s) == hash(report.setting(64, 10000.0, 1000, 2.5, 0.5, {"yarn": {"beta_fast": 16.0}}))
    assert "2,500" in s.summary and "32 pairs" in s.summary


def test_check_methods_groups_each_refusal_once():
    every = report.check_methods(default_setting(dim=127))
    assert every.ok == () and len(every.errors) == 1
    message, names = every.errors[0]
    assert "dim" in message and report.MethodCheck.who(names) == "every method"
    one = report.check_methods(default_setting(params={"llama3": {"low_freq_factor": 4.0, "high_freq_factor": 2.0}}))
    assert "llama3" not in one.ok and len(one.ok) == len(scaling.INFO) - 1
    assert "high_freq_factor" in one.errors[0][0] and "Llama" in one.who(one.errors[0][1])


def test_param_widget_has_a_generic_fallback():
    assert report.param_widget("beta_fast")[1:] == (0.0, 1024.0, 1.0)
    assert report.param_widget("some_new_param")[0] == "some_new_param"


# --------------------------------------------------------------------------- 1. the ladder


def test_ladder_unturned_pairs_and_curves():
    s = default_setting()
    lad = report.ladder(s, ("linear", "ntk"), "slowdown")
    first = first_unturned(128, 10000.0, 4096)
    assert first == 46 and lad.unturned == tuple(range(46, 64))
    assert "pairs 46–63 (18 of 64)" in lad.summary
    pi, ntk = lad.curves
    assert torch.allclose(pi, torch.full_like(pi, 4.0), rtol=1e-6)
    assert ntk[0].item() == pytest.approx(1.0) and ntk[-1].item() == pytest.approx(4.0, rel=1e-6)
    wl = report.ladder(s, ("default",), "wavelength").curves[0]
    assert wl[10].item() == pytest.approx(2 * math.pi * 10000 ** (20 / 128), rel=1e-6)
    assert report.ladder(s, ("dynamic",)).labels == ("Dynamic NTK (N = 16,384)",)
    with pytest.raises(ValueError, match="kind"):
        report.ladder(s, ("default",), "period")


def test_ladder_with_every_pair_turning():
    lad = report.ladder(default_setting(dim=8, original=1_000_000), ("default",))
    assert lad.unturned == () and "Every pair finished" in lad.summary


# --------------------------------------------------------------------------- 2. ramp, bands, per-pair rules


def test_bands_at_defaults():
    b = report.bands(128, 10000.0, 4096, DEFAULT_PARAMS["yarn"], DEFAULT_PARAMS["llama3"])
    assert (b.yarn.low, b.yarn.high) == (20, 46)
    assert b.yarn.low_wavelength == pytest.approx(2 * math.pi * 10000 ** (40 / 128))
    assert b.llama.counts == (36, 10, 18) and b.llama.edges == (1024.0, 4096.0)
    assert torch.allclose(b.turns * b.wavelength, torch.full_like(b.turns, 4096.0))
    assert "from pair 20" in b.summary and "to pair 46" in b.summary and "36 pairs kept" in b.summary
    only = report.bands(128, 10000.0, 4096, yarn=False)
    assert only.yarn is None and "YaRN" not in only.summary


def test_ramp_end_past_the_last_pair_is_said():
    b = report.bands(128, 10000.0, 4096, {"beta_slow": 1e-308}, llama=False)
    assert b.yarn.high == 127 and "past the last pair 63" in b.yarn.summary


def test_kept_pairs_at_defaults():
    s = default_setting()
    k = report.kept_pairs(s, tuple(scaling.INFO))
    counts = dict(k.counts)
    assert counts == {"default": 64, "linear": 0, "ntk": 1, "dynamic": 1, "yarn": 21, "llama3": 36}
    assert [r.verdict.ok for r in k.rules] == [True, True]
    yarn = k.rules[0]
    assert yarn.kept == tuple(range(21)) and yarn.divided == tuple(range(46, 64)) and len(yarn.blended) == 25


def test_yarn_rule_turns_red_when_the_ramp_start_is_clipped():
    """β_fast above pair 0's 651.9 turns in 4096 positions: Hugging Face still keeps pair 0."""
    rule = report.yarn_rule(default_setting(params={"yarn": {"beta_fast": 700.0}}))
    assert not rule.verdict.ok and "pair 0 keeps θ" in rule.verdict.detail and "clipped" in rule.verdict.detail


def _swap(monkeypatch, method, fake):
    real = report.Setting.frequencies

    def frequencies(self, name):
        return fake(self) if name == method else real(self, name)

    monkeypatch.setattr(report.Setting, "frequencies", frequencies)


def test_yarn_rule_catches_a_backwards_yarn(monkeypatch):
    """The seeds' description: fast pairs interpolated, slow ones kept."""
    def backwards(s):
        theta = scaling.rope_frequencies("default", s.dim, s.base)[0]
        w = scaling.yarn_ramp(s.dim, s.base, 32.0, 1.0, s.original)  # [dim/2]
        return theta / s.factor * w + theta * (1 - w), 1.0

    _swap(monkeypatch, "yarn", backwards)
    verdict = report.yarn_rule(default_setting()).verdict
    assert not verdict.ok and "breaks its rule" in verdict.claim


def test_llama_rule_catches_plain_pi(monkeypatch):
    _swap(monkeypatch, "llama3", lambda s: scaling.rope_frequencies("linear", s.dim, s.base, factor=s.factor))
    verdict = report.llama_rule(default_setting()).verdict
    assert not verdict.ok and "should keep θ" in verdict.detail


def test_rules_at_factor_one():
    s = default_setting(factor=1.0)
    for rule in (report.yarn_rule(s), report.llama_rule(s)):
        assert rule.verdict.ok and "At s = 1" in rule.verdict.claim and len(rule.kept) == 64


# --------------------------------------------------------------------------- 3. attention factor


def test_yarn_factor_rules():
    plain = report.yarn_factor(4.0)
    assert plain.rule == "plain" and plain.value == pytest.approx(1 + 0.1 * math.log(4)) and plain.verdict.ok
    assert plain.note is None
    ratio = report.yarn_factor(4.0, mscale=1.0, mscale_all_dim=0.707)
    want = (1 + 0.1 * math.log(4)) / (1 + 0.0707 * math.log(4))
    assert ratio.rule == "ratio" and ratio.expected == pytest.approx(want) and ratio.verdict.ok
    assert "ratio" in ratio.verdict.claim
    same = report.yarn_factor(8.0, mscale=0.9, mscale_all_dim=0.9)
    assert same.value == pytest.approx(1.0)
    explicit = report.yarn_factor(4.0, mscale=2.0, attention_factor=1.25)
    assert explicit.value == 1.25 and explicit.verdict.ok and "overrides" in explicit.verdict.claim
    assert "mscale = 2 is ignored" in explicit.note
    assert explicit.curve_v.shape == explicit.curve_s.shape and explicit.curve_s[0].item() == pytest.approx(1.0)


@pytest.mark.parametrize("given", ["mscale", "mscale_all_dim"])
def test_one_mscale_alone_changes_nothing_and_says_so(given):
    alone = report.yarn_factor(4.0, **{given: 1.7})
    assert alone.rule == "plain" and alone.value == pytest.approx(1 + 0.1 * math.log(4))
    assert f"{given} = 1.7 is set but" in alone.note


def test_yarn_factor_verdict_catches_a_wrong_precedence():
    """A YaRN that used mscale alone (0.1·1.7·ln s + 1) disagrees with the configured rule."""
    wrong = report.yarn_factor(4.0, mscale=1.7, value=1 + 0.17 * math.log(4))
    assert not wrong.verdict.ok and "not what its configuration says" in wrong.verdict.claim


def test_attention_factors_per_method():
    s = default_setting(params={"yarn": {"mscale": 1.0, "mscale_all_dim": 1.0}})
    af = report.attention_factors(s, tuple(scaling.INFO))
    assert dict(zip(af.methods, af.values))["yarn"] == pytest.approx(1.0)
    assert all(v == 1.0 for m, v in zip(af.methods, af.values) if m != "yarn")
    assert af.yarn.rule == "ratio" and af.yarn.verdict.ok
    assert report.attention_factors(s, ("linear",)).yarn is None


# --------------------------------------------------------------------------- 4. angles


def test_angle_stats_by_hand():
    theta = torch.tensor([1.0, 0.001], dtype=torch.float64)
    st = report.angle_stats(theta / 2, theta, original=100, target=200)
    # pair 0 turned 99 rad in training (cycled); pair 1 reached 0.099 rad, and at 199·0.0005 = 0.0995 it
    # is less than one step (0.001) past its arc: not out of distribution.
    assert st.cycled.tolist() == [True, False] and st.ood.tolist() == [False, False]
    st = report.angle_stats(theta, theta, original=100, target=200)
    assert st.ood.tolist() == [False, True]
    assert st.trained[1].item() == pytest.approx(0.099) and st.target[1].item() == pytest.approx(0.199)
    with pytest.raises(ValueError, match="target"):
        report.angle_stats(theta, theta, original=100, target=0)


def test_angles_past_training_at_defaults():
    s = default_setting()
    ntk = report.angles_past_training(s, tuple(scaling.INFO), "ntk")
    rows = {r.method: r for r in ntk.rows}
    assert {m: r.n_ood for m, r in rows.items()} == {"default": 18, "linear": 0, "ntk": 17, "dynamic": 0,
                                                       "yarn": 0, "llama3": 0}
    assert all(r.n_unturned == 18 for r in rows.values())
    assert rows["default"].worst == pytest.approx((16384 - 1) / (4096 - 1), rel=1e-6)  # float32 θ′
    assert not ntk.verdict.ok and "17 pair(s)" in ntk.verdict.claim and ntk.first_ood == 46
    assert len(ntk.table) == 6 and ntk.table[0]["method"] == "Plain RoPE"
    pi = report.angles_past_training(s, ("linear",), "linear")
    assert pi.verdict.ok and pi.first_ood is None
    with pytest.raises(ValueError, match="picked"):
        report.angles_past_training(s, ("linear",), "yarn")


# --------------------------------------------------------------------------- 5. dynamic NTK


@pytest.mark.parametrize("dim,factor", [(64, 2.0), (128, 4.0), (96, 7.5)])
def test_ntk_scale_for_base_inverts_ntk_base(dim, factor):
    assert report.ntk_scale_for_base(dim, 10000.0, scaling.ntk_base(dim, 10000.0, factor)) == pytest.approx(factor)


def test_dynamic_ntk_at_defaults():
    d = report.dynamic_ntk(128, 10000.0, 4.0, 4096, 8192)
    assert {4096, 16384, 8192} <= set(d.lengths.tolist()) and d.lengths.min().item() >= 1
    assert d.at_original == 10000.0 and d.scale_at_target == pytest.approx(13.0)
    assert d.scale_at_seq == pytest.approx(4.0 * 8192 / 4096 - 3.0)
    assert d.static == pytest.approx(10000.0 * 4.0 ** (128 / 126))
    assert d.verdict.ok and "s² − s + 1 = 13" in d.verdict.claim
    assert torch.all(d.bases[d.lengths <= 4096] == 10000.0)
    short = report.dynamic_ntk(128, 10000.0, 4.0, 4096, 100, log_x=True)
    assert short.at_seq == 10000.0 and short.log_x


def test_dynamic_ntk_verdict_catches_a_wrong_base(monkeypatch):
    monkeypatch.setattr(scaling, "dynamic_base",
                        lambda dim, base, s, L, n: base * max(1.0, n / L) ** (dim / (dim - 2)))  # "just N/L"
    assert not report.dynamic_ntk(128, 10000.0, 4.0, 4096, 8192).verdict.ok


# --------------------------------------------------------------------------- 6. the NTK erratum


def test_ntk_erratum_and_seed_case():
    e = report.ntk_erratum(64, 10000.0, 2.0)
    assert e.new_base == pytest.approx(10000 * 2 ** (64 / 62)) and e.exponent == pytest.approx(64 / 62)
    assert e.verdict.ok
    seed = report.seed_case()
    assert seed.computed == pytest.approx(20452.2, abs=0.1)
    assert seed.needed_exponent == pytest.approx(math.log2(2.07))
    assert "20,452.2" in seed.text and "1.2 %" in seed.text
    with pytest.raises(ValueError, match="dim"):
        report.ntk_erratum(63, 10000.0, 2.0)


def test_dynamic_ntk_at_factor_one_does_not_claim_a_difference():
    claim = report.dynamic_ntk(128, 10000.0, 1.0, 4096, 4096).verdict.claim
    assert "nothing is scaled" in claim and "not s" not in claim
