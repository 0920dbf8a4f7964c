"""Lecture-type figures keep their labels apart on a 1280×720 slide.

Large type (22 px) made several titles and legends run into each other; these
tests pin the builders' fixes (§5, §8, §9 and ``finish``'s two-line panel
titles). The slide walk in ``tests/test_browser_layout.py`` measures the
overlaps in the browser, which is where they were found.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from posviz import relative
from posviz.figures import relative as figs
from posviz.figures import style


def _annotations(fig) -> list[str]:
    return [a.text for a in fig.layout.annotations]


@pytest.mark.parametrize("look", [style.NORMAL, style.LECTURE], ids=["normal", "lecture"])
def test_four_score_terms_wrap_their_titles_in_lecture_type(look):
    parts = {name: np.zeros((3, 5)) for name in relative.XL_TERMS.values()}
    fig = figs.score_parts(parts, look)
    titles = _annotations(fig)
    if look.lecture:
        assert titles == [n.replace(" ", "<br>", 1) for n in parts]
        assert fig.layout.margin.t >= 2 * look.font_size + 10  # room for two lines above the panels
    else:
        assert titles == list(parts)


def test_three_score_parts_keep_one_line_titles():
    parts = {"content": np.zeros((3, 3)), "position": np.zeros((3, 3)), "sum": np.zeros((3, 3))}
    assert _annotations(figs.score_parts(parts, style.LECTURE)) == list(parts)


def test_t5_staircase_labels_both_bands_once_when_they_start_at_the_same_distance():
    res = relative.t5_staircase(32, 128)
    fig = figs.t5_staircase(res.r, res.buckets, res.marks, 128, style.LECTURE)
    labels = [t for t in _annotations(fig) if "from" in t]
    first = {label: m["first_last"] for label, m in res.marks.items()}
    assert labels == [f"← from {first['bidirectional (encoder)']} →", f"← from {first['causal (decoder)']}"]
    centred = next(a for a in fig.layout.annotations if a.text.endswith("→"))
    assert centred.x == 0 and centred.xanchor == "center"
    assert fig.layout.legend.yref == "container"  # the legend sits below the axis titles, not on them


def test_shift_heatmap_titles_fit_a_third_of_a_slide():
    z = np.zeros((4, 4))
    lecture = _annotations(figs.shift_heatmaps(z, z, 37, "T5", style.LECTURE))
    normal = _annotations(figs.shift_heatmaps(z, z, 37, "T5", style.NORMAL))
    assert normal[:2] == ["tokens at 0 … n−1", "tokens at 37 … 37+n−1"]
    assert lecture[:2] == ["at 0 … n−1", "at 37 … 37+n−1"]
    assert max(map(len, lecture)) < max(map(len, normal))


@pytest.mark.parametrize("n", [4, 10, 12])
def test_clipping_numbers_shrink_to_their_cells_only_in_lecture_type(n):
    off = np.subtract.outer(np.arange(n), np.arange(n))
    clipped = np.clip(off, -3, 3)
    counts = np.ones(7)
    lecture = figs.clipping(off, clipped, counts, 3, style.LECTURE)
    normal = figs.clipping(off, clipped, counts, 3, style.NORMAL)
    assert normal.data[0].textfont.size == style.NORMAL.font_size - 4
    assert lecture.data[0].textfont.size == min(style.LECTURE.font_size - 4, 360 // (3 * n))
    assert lecture.data[0].textfont.size == lecture.data[1].textfont.size


def _panel_titles(look, names, domains=((0.0, 0.3), (0.35, 0.65), (0.7, 1.0))):
    fig = go.Figure(layout=dict(
        **{f"xaxis{'' if i == 0 else i + 1}": dict(domain=list(d)) for i, d in enumerate(domains)},
        annotations=[dict(text=n, x=(d[0] + d[1]) / 2, y=1.0, xref="paper", yref="paper", xanchor="center",
                          yanchor="bottom", showarrow=False) for n, d in zip(names, domains)]))
    return style.finish(fig, look)


def test_panel_titles_wider_than_their_panel_wrap_in_lecture_type_only():
    names = ["a short one", "a title far too long for a third of a slide", "tiny"]
    lecture, normal = _panel_titles(style.LECTURE, names), _panel_titles(style.NORMAL, names)
    assert [a.text for a in normal.layout.annotations] == names
    wrapped = [a.text for a in lecture.layout.annotations]
    assert wrapped[0] == "a short one" and wrapped[2] == "tiny"
    assert wrapped[1].replace("<br>", " ") == names[1] and wrapped[1].count("<br>") == 1
    top, bottom = wrapped[1].split("<br>")
    assert abs(len(top) - len(bottom)) <= 8  # broken near the middle
    assert lecture.layout.margin.t > normal.layout.margin.t  # room for the second line


def test_a_single_panel_title_or_an_arrow_label_is_left_alone():
    fig = go.Figure(layout=dict(annotations=[dict(text="a title far too long for a third of a slide",
                                                        x=0.5, y=1.0, xref="paper", yref="paper", yanchor="bottom")]))
    assert "<br>" not in style.finish(fig, style.LECTURE).layout.annotations[0].text
    assert style.two_lines("ab cd ef gh") == "ab cd<br>ef gh"


@pytest.mark.parametrize("look", [style.NORMAL, style.LECTURE], ids=["normal", "lecture"])
def test_scheme_test_bars_fit_half_a_slide_each(look):
    from posviz import diagnostics
    from posviz.figures import diagnostics as diag_figs

    fig = diag_figs.scheme_tests(diagnostics.scheme_tests(6, 37), look)
    titles = [a.text for a in fig.layout.annotations]
    xtitles = [fig.layout.xaxis.title.text, fig.layout.xaxis2.title.text]
    if look.lecture:
        assert all("<br>" in t for t in titles) and fig.layout.margin.t >= 2 * look.font_size + 30
        assert xtitles == ["shuffled tokens", "shifted by Δ = 37"]
    else:
        assert not any("<br>" in t for t in titles)
        assert xtitles == ["ids 0 … n − 1, shuffled tokens", "ids Δ … Δ + n − 1, Δ = 37"]


def test_mistake_line_charts_put_their_legend_at_the_foot():
    from posviz import mistakes
    from posviz.figures import mistakes as mistake_figs

    lines = [n for n in mistakes.MISTAKES if mistake_figs.side_by_side(mistakes.demo(n), style.LECTURE).layout.showlegend]
    assert lines, "no mistake draws lines with a legend"
    for name in lines:
        legend = mistake_figs.side_by_side(mistakes.demo(name), style.LECTURE).layout.legend
        assert (legend.yref, legend.y, legend.yanchor) == ("container", 0, "bottom"), name


def test_alibi_extrapolation_label_sits_clear_of_the_legend_and_one_bar_is_labelled_in_lecture():
    from posviz import alibi
    from posviz.figures import alibi as alibi_figs

    rep = alibi.extrapolation_report(8, 512, 4)
    lecture, normal = (alibi_figs.extrapolation(rep, look) for look in (style.LECTURE, style.NORMAL))
    label = next(a for a in lecture.layout.annotations if a.text == "past the training length")
    assert (label.y, label.yanchor) == (0.5, "middle") and label.bgcolor  # the legend has the lower left
    tail = [float(t) for t in rep.tail]
    # on a slide a bar is narrower than its label: only the head keeping the most is labelled there
    assert [bool(t) for t in lecture.data[-1].text] == [t == max(tail) for t in tail]
    assert [bool(t) for t in normal.data[-1].text] == [t >= 1e-5 for t in tail]
    assert sum(map(bool, lecture.data[-1].text)) < sum(map(bool, normal.data[-1].text))


@pytest.mark.parametrize("look", [style.NORMAL, style.LECTURE], ids=["normal", "lecture"])
def test_legends_under_the_plot_sit_at_the_figures_foot(look):
    """§8's decode simulator and attention profile and the lab's training curves: a legend placed below the
    plot in paper coordinates landed on the x ticks and title in a CI slide walk; at the figure's foot, in
    container coordinates, plotly makes room for it under them."""
    from posviz import decode, diagnostics
    from posviz.figures import diagnostics as diag_figs
    from posviz.figures import lab as lab_figs

    figures = {"decode": diag_figs.decode_run(decode.simulate("rope", 6, 2, 6, "correct"), look),
               "profile": diag_figs.attention_profile(diagnostics.attention_profile(32), look),
               "training": lab_figs.training_curves({"rope": [(0, 5.0), (10, 3.0)], "alibi": [(0, 5.0), (10, 2.5)]},
                                                    {"rope": "RoPE", "alibi": "ALiBi"}, look)}
    for name, fig in figures.items():
        legend = fig.layout.legend
        assert fig.layout.showlegend is not False, name
        assert (legend.orientation, legend.yref, legend.y, legend.yanchor) == ("h", "container", 0, "bottom"), name


def test_pca_pair_in_lecture_type_has_short_titles_and_room_between_panels():
    from posviz.figures import absolute

    pts = np.random.default_rng(0).normal(size=(20, 2))
    normal = absolute.projection_pair(pts, pts, ("a", "b"), style.NORMAL)
    big = absolute.projection_pair(pts, pts, ("a", "b"), style.LECTURE)
    assert normal.layout.yaxis2.title.text == "principal component 2" and big.layout.yaxis2.title.text == "PC 2"
    assert big.layout.xaxis2.domain[0] - big.layout.xaxis.domain[1] > normal.layout.xaxis2.domain[0] - normal.layout.xaxis.domain[1]


@pytest.mark.parametrize("look", [style.NORMAL, style.LECTURE], ids=["normal", "lecture"])
def test_lab_perplexity_axis_labels_only_2_and_5_between_decades_on_a_slide(look):
    """On a 1280×720 slide the lab's perplexity axis is ~250 px tall for 1–2 decades, and plotly's
    automatic log ticks labelled every digit: 9, 8, 7 and 6 ran into each other under 100."""
    from types import SimpleNamespace

    from posviz.figures import lab as lab_figs

    row = SimpleNamespace(variant="rope", n_seeds=1, mean={64: 5.0, 128: 9.0, 256: 40.0, 512: 120.0})
    fig = lab_figs.perplexity_by_length([row], {"rope": "RoPE"}, 64, look)
    assert fig.layout.yaxis.type == "log"
    assert fig.layout.yaxis.dtick == ("D2" if look.lecture else None)
