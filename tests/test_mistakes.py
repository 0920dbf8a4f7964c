"""posviz.mistakes: the registry, every demo's numbers against independent float64 references, and
every verdict turned red by a plausible wrong implementation (monkeypatch)."""

from __future__ import annotations

import dataclasses
import inspect
import math
import re

import numpy as np
import pytest
import torch

from apptools import load_pages
from posviz import absolute, attention, ids, mistakes, relative, rope, scaling
from posviz.figures import mistakes as figs
from posviz.figures.style import LECTURE, NORMAL

NAMES = list(mistakes.MISTAKES)


# -- the registry ------------------------------------------------------------------------------

def test_ten_mistakes_in_the_lessons_order():
    assert [m.number for m in mistakes.MISTAKES.values()] == list(range(1, 11))
    assert len(set(NAMES)) == 10


def test_sections_are_pages_of_the_app():
    have = {re.match(r"(\d+[a-z]?)\b", p.title).group(1) for p in load_pages() if re.match(r"\d", p.title)}
    for m in mistakes.MISTAKES.values():
        assert m.section.startswith("§") and m.section[1:] in have, (m.title, m.section)


@pytest.mark.parametrize("name", NAMES)
def test_one_signature_knobs_match_the_function(name):
    """Every entry is fn(**knobs): keyword-only arguments named and defaulted exactly as its knobs."""
    m = mistakes.MISTAKES[name]
    params = inspect.signature(m.fn).parameters
    assert all(p.kind is p.KEYWORD_ONLY for p in params.values())
    assert {k: p.default for k, p in params.items()} == {k: knob.default for k, knob in m.knobs.items()}
    for key, knob in m.knobs.items():
        assert knob.lo <= knob.default <= knob.hi and (knob.default - knob.lo) % knob.step == 0, key
    assert m.title and m.why and m.fix and m.caught and m.harmless and m.short
    assert "|" not in "".join(m.row.values()), "the page lays the rows out as a Markdown table"


@pytest.mark.parametrize("name", NAMES)
def test_default_verdict_holds_and_numbers_are_finite(name):
    d = mistakes.demo(name)
    assert d.verdict.ok, d.verdict
    assert d.verdict.claim == mistakes.MISTAKES[name].caught
    assert math.isfinite(d.broken_value) and math.isfinite(d.fixed_value)
    assert d.healthy(d.fixed_value) and not d.healthy(d.broken_value)


def test_demo_checks_name_and_knobs():
    with pytest.raises(ValueError, match="name"):
        mistakes.demo("nope")
    with pytest.raises(ValueError, match="knobs"):
        mistakes.demo("order", dim=4)
    with pytest.raises(ValueError, match="words must be between 2 and 12"):
        mistakes.demo("order", words=40)
    with pytest.raises(ValueError, match="dim must be even"):
        mistakes.rope_added(dim=9)


def test_fmt():
    assert mistakes.fmt(17) == "17" and mistakes.fmt(2048.0) == "2,048" and mistakes.fmt(0.0) == "0"
    assert mistakes.fmt(1.2345e-7) == "1.23e-07" and mistakes.fmt(float("inf")) == "inf"


# -- 1. order ----------------------------------------------------------------------------------

def test_order_without_position_is_exactly_permuted():
    d = mistakes.order_blind(words=5, seed=3)
    assert d.broken_value < 1e-12 < 1e-3 < d.fixed_value
    assert float(d.broken.series[0].y.max()) < 1e-12


def test_order_verdict_red_when_rope_rotates_nothing(monkeypatch):
    monkeypatch.setitem(attention.SCHEMES, "rope", dataclasses.replace(attention.SCHEMES["rope"], rotate=None))
    v = mistakes.order_blind().verdict
    assert not v.ok and "fixed version fails" in v.claim


# -- 2. absolute vs relative -------------------------------------------------------------------

def test_absrel_sinusoid_scores_move_relative_do_not():
    d = mistakes.absolute_vs_relative(tokens=6, shift=11, seed=2)
    assert d.fixed_value < 1e-12 and d.broken_value > 1e-3
    assert float(d.fixed.z.abs().max()) < 1e-12


def test_absrel_verdict_red_when_the_bias_forgets_the_query_offset(monkeypatch):
    real = relative.relative_bias

    def no_offset(table, q_len, k_len=None, **kw):
        kw.pop("query_start", None)
        return real(table, q_len, k_len, **kw)  # queries placed at 0.. whatever their position

    monkeypatch.setattr(relative, "relative_bias", no_offset)
    assert not mistakes.absolute_vs_relative().verdict.ok


# -- 3. RoPE added / 4. norms --------------------------------------------------------------------

def test_rope_added_rotated_scores_are_toeplitz():
    d = mistakes.rope_added(positions=10, dim=8, seed=4)
    z = d.fixed.z.double()
    for off in range(-9, 10):
        diag = torch.diagonal(z, off)
        assert float(diag.max() - diag.min()) < 1e-4
    assert d.broken_value > 0.1


def _missing_sign(x, positions, inv_freq, layout="half", attention_factor=1.0):
    return rope.apply_rope_missing_sign(x, positions, inv_freq, layout)


def test_rope_added_verdict_red_with_a_broken_rotation(monkeypatch):
    monkeypatch.setattr(rope, "apply_rope", _missing_sign)
    assert not mistakes.rope_added().verdict.ok


def test_norm_lost_ratios_against_the_closed_form():
    """The broken map sends pair (a, b) to (a cos φ + b sin φ, b cos φ + a sin φ), of squared norm
    a² + b² + 2ab·sin 2φ; the fixed one keeps every norm."""
    d = mistakes.norm_lost(dim=4, max_position=50, seed=0)
    ones = torch.ones(len(d.fixed.series[0].y), dtype=torch.float64)
    assert torch.allclose(d.fixed.series[0].y.double(), ones, atol=1e-6)
    x = rope.seeded_normal(0, 4, 1, 4)[0, 0].double()  # the first vector norm_check draws
    pos = d.broken.series[0].x.double()
    sq = torch.zeros_like(pos)
    for i, theta in enumerate((1.0, 10000.0 ** -0.5)):  # half layout: pairs (0, 2) and (1, 3)
        a, b = float(x[i]), float(x[i + 2])
        sq = sq + a * a + b * b + 2 * a * b * torch.sin(2 * pos * theta)
    assert torch.allclose(d.broken.series[0].y.double(), torch.sqrt(sq) / x.norm(), atol=1e-5)


def test_norm_verdict_red_when_the_correct_rotation_loses_its_sign(monkeypatch):
    monkeypatch.setattr(rope, "apply_rope", _missing_sign)
    v = mistakes.norm_lost().verdict
    assert not v.ok and "fixed version fails" in v.claim


# -- 5. learned rows past the table -------------------------------------------------------------

@pytest.mark.parametrize("rows,length", [(32, 48), (4, 5), (10, 64)])
def test_clamping_shares_rows(rows, length):
    d = mistakes.rows_past_table(rows=rows, length=length)
    assert d.broken_value == length - rows + 1 and d.fixed_value == 0


def test_table_harmless_when_the_sequence_fits():
    v = mistakes.rows_past_table(rows=32, length=32).verdict
    assert not v.ok and v.claim == mistakes.MISTAKES["table"].harmless


def test_table_verdict_red_when_resize_repeats_the_last_row(monkeypatch):
    monkeypatch.setattr(absolute, "resize", lambda t, n: t[torch.arange(n).clamp(max=t.shape[0] - 1)])
    assert not mistakes.rows_past_table().verdict.ok


# -- 6. ALiBi after softmax ---------------------------------------------------------------------

def test_bias_after_softmax_row_sums_by_hand():
    """softmax(S) + B: row i sums to 1 − m·Σ_{j≤i}(i − j) = 1 − m·i(i+1)/2; head 0 of 8 has m = 1/2."""
    n = 9
    d = mistakes.bias_after_softmax(length=n, heads=8, seed=5)
    i = torch.arange(n, dtype=torch.float64)
    assert torch.allclose(d.broken.z.sum(-1), 1 - 0.5 * i * (i + 1) / 2, atol=1e-12)
    assert torch.allclose(d.fixed.z.sum(-1), torch.ones(n, dtype=torch.float64), atol=1e-12)
    assert "Head 0 is the steepest" in d.note
    assert "Head 8 is the steepest" in mistakes.bias_after_softmax(heads=12).note  # 2^-0.5 > 2^-1


def test_alibi_verdict_red_when_renormalising_after_softmax(monkeypatch):
    def renormalised(scores, bias, *, where="before"):
        w = (scores.softmax(-1) + bias).clamp(min=0)
        return w / w.sum(-1, keepdim=True)

    monkeypatch.setattr(attention, "softmax_with_bias", renormalised)
    assert not mistakes.bias_after_softmax().verdict.ok


# -- 7. decode ids ------------------------------------------------------------------------------

def test_decode_ids_in_the_note():
    d = mistakes.decode_ids(prompt=5, new=3)
    assert "[0, 1, 2]" in d.note and "[5, 6, 7]" in d.note
    assert [float(g) < 1e-12 for g in d.fixed.series[0].y] == [True] * 3
    assert all(float(g) > 1e-6 for g in d.broken.series[0].y)


def test_decode_verdict_red_with_an_off_by_one(monkeypatch):
    real = ids.decode_ids
    monkeypatch.setattr(ids, "decode_ids", lambda p, n, restart=False: real(p, n, restart=restart) + (0 if restart else 1))
    assert not mistakes.decode_ids().verdict.ok


# -- 8. long context judged by its maximum length ------------------------------------------------

def test_needle_weight_against_a_hand_softmax():
    window, head, seed = 64, 2, 7
    d = mistakes.window_by_max_length(window=window, head=head, seed=seed)
    m = 2.0 ** -(head + 1)  # 8 ALiBi heads: 1/2, 1/4, ...
    c = torch.randn(window, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).numpy()
    logits = c - m * (window - 1 - np.arange(window))
    want, lost = [], []
    for dist in range(window):
        needle = mistakes.NEEDLE_SCORE - m * dist
        others = np.delete(logits, window - 1 - dist)
        want.append(math.exp(needle) / (math.exp(needle) + np.exp(others).sum()))
        lost.append(needle < others.max())  # the largest weight has the largest logit
    assert np.allclose(d.fixed.series[0].y.numpy(), want, atol=1e-12)
    assert d.fixed.series[1].x.tolist() == [i for i in range(window) if lost[i]]

    def tested(panel):
        return sorted(panel.series[2].x.tolist() + panel.series[3].x.tolist())

    assert tested(d.broken) == [0] and len(tested(d.fixed)) == mistakes.NEEDLE_DEPTHS
    assert 0 < sum(lost) < window


def test_needle_harmless_for_a_long_range_head():
    v = mistakes.window_by_max_length(window=128, head=7).verdict
    assert not v.ok and v.claim == mistakes.MISTAKES["needle"].harmless


def test_needle_verdict_red_when_the_grid_tests_one_depth(monkeypatch):
    monkeypatch.setattr(mistakes, "NEEDLE_DEPTHS", 1)
    assert not mistakes.window_by_max_length().verdict.ok


# -- 9. padding ---------------------------------------------------------------------------------

def test_padding_ids_and_gaps():
    d = mistakes.mask_as_position(tokens=4, pads=3)
    assert [s for s in d.broken.series[0].x] == ["t0 (id 3)", "t1 (id 4)", "t2 (id 5)", "t3 (id 6)"]
    assert [s for s in d.fixed.series[0].x] == ["t0 (id 0)", "t1 (id 1)", "t2 (id 2)", "t3 (id 3)"]
    assert d.fixed_value < 1e-12 < 1e-3 < d.broken_value


def test_padding_harmless_without_pads():
    v = mistakes.mask_as_position(pads=0).verdict
    assert not v.ok and v.claim == mistakes.MISTAKES["padding"].harmless


def test_padding_verdict_red_when_ids_ignore_the_mask(monkeypatch):
    monkeypatch.setattr(ids, "from_attention_mask", lambda mask: torch.arange(len(torch.as_tensor(mask))))
    assert not mistakes.mask_as_position().verdict.ok


# -- 10. extrapolation --------------------------------------------------------------------------

@pytest.mark.parametrize("train,factor,dim", [(512, 4, 64), (64, 2, 16), (4096, 16, 128)])
def test_unseen_angle_pairs_by_hand(train, factor, dim):
    """Plain RoPE at T = factor·L: the pairs with (L − 1)·θ_i < 2π, all pushed past their trained arc."""
    theta = [10000.0 ** (-2 * i / dim) for i in range(dim // 2)]
    want = sum((train - 1) * t < 2 * math.pi for t in theta)
    d = mistakes.extrapolation_assumed(train=train, factor=factor, dim=dim)
    assert d.broken_value == want and d.fixed_value == 0


def test_extrapolation_harmless_at_the_training_length():
    v = mistakes.extrapolation_assumed(factor=1).verdict
    assert not v.ok and v.claim == mistakes.MISTAKES["extrapolation"].harmless


def test_extrapolation_verdict_red_when_pi_forgets_to_divide(monkeypatch):
    monkeypatch.setitem(scaling.METHODS, "linear", scaling.METHODS["default"])
    assert not mistakes.extrapolation_assumed().verdict.ok


# -- the figure ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_side_by_side_figure(name):
    d = mistakes.demo(name)
    fig = figs.side_by_side(d, NORMAL)
    assert {t.xaxis for t in fig.data} == {"x", "x2"}
    titles = [a.text for a in fig.layout.annotations]
    assert d.broken.title in titles and d.fixed.title in titles
    assert figs.side_by_side(d, LECTURE).layout.font.size > fig.layout.font.size
