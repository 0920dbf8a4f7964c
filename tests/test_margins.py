"""posviz.figures.margins: the margins estimated on the server so that plotly draws a figure once.

The browser's side (how many figures on the pages are drawn once, and that no margin is much wider
than plotly needs) is checked in tests/test_browser_layout.py; these pin the arithmetic.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from posviz.figures import margins, style


def spec_of(fig: go.Figure) -> dict:
    return fig.to_dict()


def test_text_width_follows_dejavu_metrics_lines_and_superscripts():
    assert margins.text_px("1000", 14) == pytest.approx((4 * 0.636 * 14, 1))
    wide, lines = margins.text_px("a<br>much longer line", 10)
    assert lines == 2 and wide == pytest.approx(margins.text_px("much longer line", 10)[0])
    sup = margins.text_px("10<sup>3</sup>", 20)[0]
    assert sup == pytest.approx((2 * 0.636 + 0.7 * 0.636) * 20)
    assert margins.text_px("iii", 14)[0] < margins.text_px("mmm", 14)[0]


@pytest.mark.parametrize("value, decimals, text", [
    (0.0, 1, "0"), (-0.5, 1, "−0.5"), (1.5, 1, "1.5"), (2.0, 1, "2"), (12000.0, 0, "12k"),
    (20000.0, 0, "20k"), (3_000_000.0, 0, "3M"), (-1e-17, 2, "0"), (0.25, 2, "0.25")])
def test_tick_values_are_written_as_plotly_writes_them(value, decimals, text):
    assert margins._number(value, decimals) == text


def test_automatic_ticks_step_2_5_10_and_one_finer():
    coarse, finer = margins._linear_labels(0.0, 23.0, 350, True)  # 350 px: ~9.75 ticks → step 5
    assert coarse == ["0", "5", "10", "15", "20"]
    assert finer == [str(v) for v in range(0, 24, 2)]
    coarse, _ = margins._linear_labels(-1.3, 1.3, 350, True)
    assert coarse == ["−1", "−0.5", "0", "0.5", "1"]


def heat_figure(rows: int, y_title: str = "query i", labels=None) -> go.Figure:
    fig = go.Figure(style.heatmap(np.arange(rows * rows, dtype=np.float32).reshape(rows, rows), style.NORMAL,
                                  colorbar="score"))
    fig.update_layout(yaxis=dict(title_text=y_title), xaxis=dict(title_text="key j"))
    if labels:
        fig.update_layout(yaxis=dict(tickvals=list(range(rows)), ticktext=labels))
    return style.finish(fig, style.NORMAL)


def test_margins_grow_with_what_the_axes_carry():
    plain = spec_of(heat_figure(8))
    margins.fit(plain, 820)
    words = spec_of(heat_figure(8, labels=["a much longer tick label"] + ["w"] * 7))
    margins.fit(words, 820)
    untitled = spec_of(heat_figure(8, y_title=""))
    margins.fit(untitled, 820)
    m, w, u = plain["layout"]["margin"], words["layout"]["margin"], untitled["layout"]["margin"]
    assert w["l"] - m["l"] == pytest.approx(margins.text_px("a much longer tick label", 14)[0]
                                            - margins.text_px("5", 14)[0], abs=1)
    assert m["l"] - u["l"] == pytest.approx(0.6 * 17 + 8, abs=1)  # one title line in 17-px type
    assert m["r"] > 14 + 60  # the colorbar: bar, labels, title
    assert m["b"] > 2 * 14 and m["t"] == 30  # x labels and title; nothing above the plot


def test_a_colorbar_title_turned_on_its_side_gets_room_beside_the_tick_labels():
    """plotly's automargin leaves a side-turned colorbar title out (on a slide, §3's "value" was cut by
    22 px): the right margin holds bar + widest tick label + the title's line + padding."""
    def right_margin(title: str, z: np.ndarray) -> float:
        fig = go.Figure(style.heatmap(z, style.LECTURE, colorbar=title, diverging=True))
        fig.update_traces(colorbar_title_side="right")  # as §8b's attention maps keep it on a slide
        spec = spec_of(style.finish(fig, style.LECTURE))
        margins.fit(spec, 860)
        return spec["layout"]["margin"]["r"]

    signed = np.linspace(-1, 1, 64, dtype=np.float32).reshape(8, 8)  # a slide's ticks: −1, 0, 1
    needed = 14 + margins.text_px("−1", 22)[0] + 1.36 * 22 + 28  # measured in Chromium: 119 px for "0.25"
    assert right_margin("value", signed) >= needed + 0.02 * (860 - 200)
    assert right_margin("value", signed) - right_margin("", signed) >= 20  # the turned title takes its own room
    assert right_margin("value", 100 * signed) > right_margin("value", signed)  # "−100" is wider than "−0.5"


def test_fit_never_lowers_a_margin_and_is_idempotent():
    fig = heat_figure(4)
    fig.update_layout(margin=dict(l=300, t=120))
    spec = spec_of(fig)
    margins.fit(spec, 820)
    first = dict(spec["layout"]["margin"])
    assert first["l"] == 300 and first["t"] == 120
    margins.fit(spec, 820)
    assert spec["layout"]["margin"] == first


def test_matched_axes_share_a_range():
    """A right panel that ``matches`` the left one puts its range on the left axis's labels too."""
    fig = style.subplots(1, 2)
    fig.add_trace(go.Scatter(x=[0, 1], y=[0.0, 1e-16]), 1, 1)
    fig.add_trace(go.Scatter(x=[0, 1], y=[0.0, 1234.5]), 1, 2)
    fig.update_layout(yaxis2=dict(matches="y"))
    spec = spec_of(style.finish(fig, style.NORMAL))
    margins.fit(spec, 820)
    assert spec["layout"]["margin"]["l"] < 80  # labels up to "1200", not "0.0000000000000001"
    assert spec["layout"]["margin"]["l"] > margins.text_px("1200", 14)[0] + 10


def test_top_legend_rows_push_the_top_margin():
    def with_names(names):
        fig = go.Figure([go.Scatter(x=[0, 1], y=[0, 1], name=n) for n in names])
        spec = spec_of(style.finish(fig, style.NORMAL))
        margins.fit(spec, 820)
        return spec["layout"]["margin"]["t"]
    one_row, many_rows = with_names(["a", "b"]), with_names([f"a rather long series name {i}" for i in range(8)])
    assert 30 < one_row < many_rows


def test_a_legend_at_the_foot_gets_its_rows_below_the_x_axis():
    """plotly reserves a container legend's height after its first draw, less the room the margin already
    holds beyond the axis labels: a margin holding both is not grown. Measured: 32 px for one row at
    14-px type, 53 for two; grouped legends add 10 px between rows."""
    def bottom(names, groups=False, type_size=style.NORMAL):
        fig = go.Figure([go.Scatter(x=[0, 1], y=[0, 1], name=n, legendgroup=n if groups else None)
                         for n in names] or [go.Scatter(x=[0, 1], y=[0, 1], showlegend=False)])
        fig = style.finish(fig, type_size, title="t")
        fig.update_layout(style.LEGEND_AT_FOOT, xaxis_title="x")
        spec = spec_of(fig)
        margins.fit(spec, 820)
        return spec["layout"]["margin"]["b"]
    axis_only = bottom([])
    one_row, two_rows = bottom(["a", "b"]) - axis_only, bottom([f"a rather long series name {i}" for i in range(6)]) - axis_only
    assert 32 <= one_row <= 36 and 53 <= two_rows <= 60
    grouped = bottom([f"a rather long series name {i}" for i in range(6)], groups=True) - axis_only
    assert grouped >= two_rows + 10
    assert bottom(["a", "b"], type_size=style.LECTURE) - bottom([], type_size=style.LECTURE) >= 42
    fig = go.Figure([go.Scatter(x=[0, 1], y=[0, 1], name=n) for n in ("a", "b")])
    fig.update_layout(legend=dict(yref="paper", y=1.02, yanchor="bottom", orientation="h"))
    spec = spec_of(style.finish(fig, style.NORMAL))
    margins.fit(spec, 820)
    assert spec["layout"]["margin"]["b"] < axis_only + 30  # a legend on top leaves the foot alone


def test_frozen_figures_carry_the_fitted_margins():
    fig = heat_figure(6)
    spec = fig.to_dict()
    margins.fit(spec, style.SLIDE_PLOT_PX)
    assert style.freeze(heat_figure(6)).to_dict()["layout"]["margin"] == spec["layout"]["margin"]


def test_labels_turned_by_the_builder_get_their_height_and_their_reach_to_the_left():
    """§7's word axes (−45°), §6b's method names (−20°), §6c's tokens (−90°): plotly turns them as told,
    and they stand as tall as their width times the sine; the long ones near the left edge reach past the
    plot by their width times the cosine (§6b: 83 px measured)."""
    words = ["RoPE + Position interpolation (PI)", "NTK-aware", "YaRN", "because"]

    def margin(angle):
        fig = go.Figure([go.Bar(x=words, y=[1, 2, 3, 4])])
        fig.update_xaxes(tickangle=angle)
        spec = spec_of(style.finish(fig, style.NORMAL))
        margins.fit(spec, 820)
        return spec["layout"]["margin"]
    flat, turned, upright = margin(None), margin(-45), margin(-90)
    widest = margins.text_px(words[0], 14)[0]
    one_line = 24 + 1.15 * 14  # what a row of flat labels needs (plotly would turn these by itself: more)
    assert flat["b"] > one_line
    assert turned["b"] == pytest.approx(24 + widest * 0.707 + 1.15 * 14 * 0.707 + 5, abs=3)
    assert upright["b"] == pytest.approx(24 + widest + 6, abs=3)
    half_step = (820 - 110) / len(words) / 2  # the first category's tick, from the plot's left edge
    assert turned["l"] == pytest.approx(widest * 0.707 - half_step + 15, abs=3)  # the first label reaches left
    assert margin(-20)["l"] == pytest.approx(widest * 0.940 - half_step + 12, abs=3)
    assert upright["l"] < turned["l"]  # straight down: nothing reaches left


def test_a_legend_set_higher_above_the_plot_pushes_the_top_margin_further():
    def top(y):
        fig = go.Figure([go.Scatter(x=[0, 1], y=[0, 1], name=n) for n in ("a", "b")])
        fig = style.finish(fig, style.NORMAL)
        fig.update_layout(legend=dict(y=y, yanchor="bottom", orientation="h"))
        spec = spec_of(fig)
        margins.fit(spec, 820)
        return spec["layout"]["margin"]["t"]
    assert top(1.096) - top(1.02) == pytest.approx(0.076 * (450 - 60), abs=12)  # §7's legend over panel titles


def test_a_figure_frozen_for_a_narrower_column_counts_its_legend_rows_there():
    names = ["tip at positions 0…m", "x at position 0", "rotated to position 6"]

    def bottom(column):
        fig = go.Figure([go.Scatter(x=[0, 1], y=[0, 1], name=n) for n in names])
        fig = style.finish(fig, style.NORMAL)
        fig.update_layout(style.LEGEND_AT_FOOT)
        return style.freeze(fig, column).to_dict()["layout"]["margin"]["b"]
    assert bottom(3 / 5) == pytest.approx(bottom(1.0) + 21, abs=1)  # §6's pair: two rows in its column
    with pytest.raises(ValueError, match="column"):
        bottom(0)


def test_colorbar_room_is_what_plotly_measured():
    """Measured in Chromium at 1280×720: a heatmap's colorbar with its title on top pushes the margin by
    the wider of 1.2 × title + 32 and bar + widest tick + 33 px ("bias b_ij" over −5…5: 101 px at 14-px
    type, 137 at 22); a scatter's with its title on the side by bar + tick + 1.5 × type + 37 ("position"
    over 0…500: 99 px at 14, 126 at 22). plotly then needs r = (push + 2% of the rest) / 1.02."""
    def right(fig, look, width):
        spec = spec_of(style.finish(fig, look))
        margins.fit(spec, width)
        m = spec["layout"]["margin"]
        return m["r"], m["l"]

    for look, push, width in ((style.NORMAL, 101, 820), (style.LECTURE, 137, 860)):
        z = np.linspace(-5, 5, 36).reshape(6, 6)
        r, left = right(go.Figure(style.heatmap(z, look, colorbar="bias b_ij", diverging=True)), look, width)
        needed = (push + 0.02 * (width - left)) / 1.02
        assert needed <= r <= needed + 8, (look.font_size, r, needed)
    for look, push, width in ((style.NORMAL, 99, 820), (style.LECTURE, 126, 860)):
        dots = go.Scatter(x=[0, 1, 2], y=[0, 1, 2], mode="markers",
                          marker=dict(color=[0, 250, 500], showscale=True,
                                      colorbar=dict(thickness=14, title=dict(text="position", side="right"))))
        r, left = right(go.Figure(dots), look, width)
        needed = (push + 0.02 * (width - left)) / 1.02
        assert needed <= r <= needed + 12, (look.font_size, r, needed)
