"""Figure style helpers (posviz.figures.style): block-mean downsampling and palette."""

from __future__ import annotations

import json
import math

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from posviz.figures import plotly_speedups, style


def ref_block_means(z: np.ndarray, max_cells: int) -> np.ndarray:
    """Loop over blocks of size ceil(n/max_cells) (the last block may be short) and average them."""
    fr, fc = math.ceil(z.shape[0] / max_cells), math.ceil(z.shape[1] / max_cells)
    rows, cols = range(0, z.shape[0], fr), range(0, z.shape[1], fc)
    out = np.empty((len(rows), len(cols)))
    for a, r in enumerate(rows):
        for b, c in enumerate(cols):
            block = z[r:r + fr, c:c + fc].astype(np.float64)
            out[a, b] = block.sum() / block.size
    return out


@given(h=st.integers(1, 400), w=st.integers(1, 400), max_cells=st.integers(1, 200), seed=st.integers(0, 99))
@settings(deadline=None, max_examples=80)
def test_downsample_block_means(h, w, max_cells, seed):
    z = np.random.default_rng(seed).standard_normal((h, w))
    got, rows, cols = style.downsample(z, max_cells)
    assert got.shape[0] <= max_cells and got.shape[1] <= max_cells
    assert got.shape == (len(rows), len(cols))
    np.testing.assert_allclose(got, ref_block_means(z, max_cells), rtol=0, atol=1e-5)
    fr, fc = math.ceil(h / max_cells), math.ceil(w / max_cells)
    np.testing.assert_array_equal(rows, np.arange(0, h, fr))
    np.testing.assert_array_equal(cols, np.arange(0, w, fc))


def test_downsample_small_is_unchanged():
    z = np.arange(12.0).reshape(3, 4)
    got, rows, cols = style.downsample(z, 10)
    np.testing.assert_array_equal(got, z)
    assert rows.tolist() == [0, 1, 2] and cols.tolist() == [0, 1, 2, 3]


def test_downsample_stored_example():
    z = np.arange(25.0).reshape(5, 5)  # max_cells 2 -> blocks of 3, last block 2 wide
    got, rows, cols = style.downsample(z, 2)
    np.testing.assert_allclose(got, [[6.0, 8.5], [18.5, 21.0]])
    assert rows.tolist() == [0, 3] and cols.tolist() == [0, 3]


def ref_cells(v: np.ndarray, cells: int) -> list[int]:
    """Which of ``cells`` equal slices of [min, max] each value falls in (a loop, in float64)."""
    lo, hi = float(min(v)), float(max(v))
    return [0 if hi == lo else math.floor((float(a) - lo) / (hi - lo) * cells) for a in v]


@given(n=st.integers(1, 300), spread=st.sampled_from([0.0, 1e-3, 1.0, 50.0]), cells=st.integers(1, 400),
       seed=st.integers(0, 99))
@settings(deadline=None, max_examples=80)
def test_distinct_markers_keep_the_top_point_of_every_cell(n, spread, cells, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(-5, 6, n).astype(np.float32)
    y = (rng.standard_normal(n) * spread).astype(np.float32)
    keep, counts = style.distinct_markers(x, y, cells)
    assert keep.tolist() == sorted(set(keep.tolist())) and int(counts.sum()) == n
    cell = list(zip(ref_cells(x, cells), ref_cells(y, cells)))
    last = {}
    for i, c in enumerate(cell):
        last[c] = i  # plotly draws in order: the last point of a cell is the one on top
    assert keep.tolist() == sorted(last.values())
    assert counts.tolist() == [cell.count(cell[i]) for i in keep.tolist()]


def test_distinct_markers_stored_example():
    x = np.array([0, 0, 0, 1, 1, 2], dtype=np.float32)
    y = np.array([0.0, 0.001, 1.0, 0.5, 0.5, 0.0])  # cells of 1/400: the first two and the two at x=1 share one
    keep, counts = style.distinct_markers(x, y)
    assert keep.tolist() == [1, 2, 4, 5] and counts.tolist() == [2, 1, 2, 1]
    assert style.also_here(counts, "pairs") == ["<br>1 more pairs at this point", "", "<br>1 more pairs at this point", ""]
    with pytest.raises(ValueError, match="x and y"):
        style.distinct_markers(x, y[:3])
    with pytest.raises(ValueError, match="finite"):
        style.distinct_markers(x, np.where(x == 1, np.nan, y))


def test_rope_scores_draw_one_marker_per_offset_and_every_pair_counted():
    """RoPE's scores depend only on m − n, so the N² pairs fall on 2N − 1 points: drawn once each. The added
    sinusoids' cloud keeps nearly every pair. Both panels account for all N² pairs in their hover counts."""
    from posviz import rope
    from posviz.figures import rope as figs

    n = 32
    fig = figs.relative_scores(rope.relative_check(16, 0, n, "half"), style.style_for(False))
    rotated, added = fig.data[1], fig.data[2]
    assert len(rotated.x) <= 2 * (2 * n - 1) and len(added.x) >= 0.9 * n * n
    for trace in (rotated, added):
        more = [int(t.split()[0][4:]) if t else 0 for t in trace.text]
        assert len(trace.x) + sum(more) == n * n
        assert (trace.marker.cmin, trace.marker.cmax) == (0, n - 1)  # the colour scale spans every m


def test_downsample_sinusoid_does_not_alias():
    # a column of period 2 striped 0/1: striding would show all 0s; averaging shows 0.5
    z = np.tile([0.0, 1.0], (4, 100))  # [4, 200]
    got, _, _ = style.downsample(z, 100)
    np.testing.assert_allclose(got, 0.5)


def test_heatmap_downsamples_large_inputs():
    z = torch.randn(500, 300)
    tr = style.heatmap(z, style.LECTURE)
    assert np.asarray(tr.z).shape[0] <= style.LECTURE.max_cells
    assert np.asarray(tr.z).shape[1] <= style.LECTURE.max_cells


def test_palette_and_styles():
    assert len(set(style.OKABE_ITO)) == 8
    assert style.NORMAL.color(0) == style.NORMAL.color(8)
    assert style.style_for(True) is style.LECTURE and style.style_for(False) is style.NORMAL
    assert style.LECTURE.font_size > style.NORMAL.font_size
    assert style.LECTURE.lecture and not style.NORMAL.lecture


def test_arr_casts_floats_to_float32():
    assert style.arr(torch.ones(3, dtype=torch.float64)).dtype == np.float32
    assert style.arr(np.arange(3)).dtype.kind == "i"
    assert style.arr([1.0, 2.0]).dtype == np.float32


@pytest.mark.parametrize("z", [np.full((300, 3), 2.0), np.ones((1, 1000))])
def test_downsample_constant_stays_constant(z):
    got, _, _ = style.downsample(z, 50)
    np.testing.assert_allclose(got, z.flat[0])


SUBPLOT_CASES = [
    (1, 2, dict(column_widths=[0.62, 0.38], horizontal_spacing=0.1, subplot_titles=("a", "b"))),
    (1, 3, dict(subplot_titles=("x", "y", "z"), horizontal_spacing=0.08)),
    (2, 1, dict(shared_xaxes=True, vertical_spacing=0.12, subplot_titles=("top", "bottom"))),
    (1, 2, dict(specs=[[{}, {"type": "xy"}]], horizontal_spacing=0.09)),
    (1, 4, dict(subplot_titles=["c·c", "c·p", "p·c", "p·p"], horizontal_spacing=0.05)),
]


@pytest.mark.parametrize("rows,cols,kw", SUBPLOT_CASES)
def test_cached_subplots_equal_make_subplots(rows, cols, kw):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from posviz.figures.style import subplots

    for _ in range(2):  # the first call fills the cache, the second reads it
        fast, slow = subplots(rows, cols, **kw), make_subplots(rows, cols, **kw)
        for fig in (fast, slow):
            fig.add_trace(go.Scatter(x=[0, 1], y=[1, 0]), rows, cols)
            fig.update_xaxes(title_text="x", row=rows, col=cols)
        assert fast.to_plotly_json() == slow.to_plotly_json()


def test_cached_subplots_are_independent_and_still_validated():
    from posviz.figures.style import subplots

    a = subplots(1, 2, subplot_titles=("a", "b"))
    before = a.layout.annotations[0].font.size
    a.update_annotations(font_size=30)
    b = subplots(1, 2, subplot_titles=("a", "b"))
    assert b.layout.annotations[0].font.size == before != 30, "a change to one figure leaked into the cache"
    with pytest.raises(ValueError):
        b.update_layout(not_a_plotly_property=1)


PLOTLY_PATHS = ["", "xaxis", "xaxis.title.text", "xaxis2.range[0]", "marker_color", "error_x", "error_x.width",
                "legend_title_text", "layout.annotations[3].font.size", "a__b_", "_x", "coloraxis_colorbar_title",
                "updatemenus[0].buttons[1].args[0]", "hoverlabel_font_size", "title.font.color"]


@pytest.mark.parametrize("path", PLOTLY_PATHS)
def test_memoized_plotly_paths_parse_as_plotly_does(path):
    import plotly.basedatatypes as bdt

    parse = bdt._str_to_dict_path_full
    assert hasattr(parse, "cache_info"), "posviz.figures.style did not install the path cache"
    keys, starts = parse.__wrapped__(path)
    assert parse(path) == (keys, tuple(starts))
    assert parse(path) == (keys, tuple(starts))  # a hit gives the same answer


def test_memoized_paths_build_the_same_figure():
    import plotly.basedatatypes as bdt

    def build():
        fig = style.subplots(1, 2, subplot_titles=("a", "b"))
        fig.add_trace(go.Scatter(x=[0, 1], y=[1, 2], marker_color="red", error_y_width=3), row=1, col=2)
        fig.update_xaxes(title_text="position", range=[0, 4], row=1, col=2)
        fig.update_layout(legend_title_text="schemes", xaxis_title_font_size=9)
        return style.finish(fig, style.LECTURE, "t").to_dict()

    with_cache = build()
    cached, bdt._str_to_dict_path_full = bdt._str_to_dict_path_full, bdt._str_to_dict_path_full.__wrapped__
    try:
        assert build() == with_cache
    finally:
        bdt._str_to_dict_path_full = cached


ARRAYS = [np.arange(5), np.linspace(0, 1, 7, dtype=np.float32), np.array([[1.0, np.nan], [2.0, 3.0]]),
          np.array(["a", "b"]), np.array([True, False]), [1, 2, 3], (0.5, 1.5), ["x", "y"], [], np.arange(3)[::2]]


@pytest.mark.parametrize("value", ARRAYS, ids=lambda v: f"{type(v).__name__}")
@pytest.mark.parametrize("kind", [None, "f", ("i", "u"), "U"])
def test_plain_arrays_skip_narwhals_and_validate_the_same(value, kind):
    import _plotly_utils.basevalidators as validators

    def outcome():
        try:
            return validators.copy_to_readonly_numpy_array(value, kind=kind)
        except ValueError as err:  # e.g. strings asked for as floats: it must fail the same way
            return type(err)

    shortcut = validators.nw
    assert isinstance(shortcut, plotly_speedups._NarwhalsForPlainArrays), "posviz.figures.style did not install the shortcut"
    fast = outcome()
    validators.nw = shortcut._narwhals
    try:
        slow = outcome()
    finally:
        validators.nw = shortcut
    if isinstance(slow, type):
        assert fast is slow
        return
    assert fast.dtype == slow.dtype and fast.shape == slow.shape and not fast.flags.writeable
    np.testing.assert_array_equal(fast, slow)


def test_dataframe_columns_still_go_through_narwhals():
    import _plotly_utils.basevalidators as validators
    import pandas as pd

    column = pd.Series([1.0, 2.0, 4.0], index=[10, 11, 12])
    assert isinstance(validators.nw.from_native(column, allow_series=True, pass_through=True),
                      validators.nw.Series)
    trace = go.Scatter(x=column, y=column)
    np.testing.assert_array_equal(trace.x, [1.0, 2.0, 4.0])


def test_frozen_figure_serializes_once_and_stays_whole():
    fig = style.finish(go.Figure(go.Scatter(x=[0, 1], y=[2, 3])), style.NORMAL, "frozen")
    before = fig.to_dict()
    style.margins.fit(before, style.SLIDE_PLOT_PX)  # freezing fits the margins too (tests/test_margins.py)
    style.settle_for_streamlit(before)  # and settles it for Streamlit's chart (below)
    frozen = style.freeze(fig)
    import plotly.io
    import plotly.tools

    assert frozen is fig and plotly.io.to_json(fig.to_dict(), validate=False) == plotly.io.to_json(before, validate=False)
    assert fig.to_dict() is fig.to_dict()  # no deep copy per call
    assert fig.data[0].y == (2, 3) and fig.layout.title.text == "frozen"  # still a figure to read
    as_streamlit_sends = plotly.io.to_json(plotly.tools.return_figure_from_figure_or_data(fig, True), validate=False)
    assert as_streamlit_sends == plotly.io.to_json(before, validate=False)


# -- settled for Streamlit's chart: what its JSON copy on mount cannot tell from what plotly drew -------------

def _sent(fig: go.Figure) -> dict:
    """The figure as the browser receives it from ``st.plotly_chart`` after ``freeze``."""
    import plotly.io
    return json.loads(plotly.io.to_json(style.freeze(fig), validate=False))


def test_settled_figure_has_no_template_and_every_axis_keeps_its_settings():
    fig = style.subplots(1, 2).add_trace(go.Scatter(x=[0, 1], y=[1, 0]), row=1, col=2)
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], xaxis="x3", yaxis="y3"))  # an axis only a trace names
    fig = style.finish(fig, style.NORMAL, "t")
    fig.update_xaxes(gridcolor="#123456", selector=dict(anchor="y2"))  # the figure's own value wins
    fig.update_yaxes(title=dict(text="own"), selector=dict(anchor="x"))
    template = style.TEMPLATE.layout.to_plotly_json()
    layout = _sent(fig)["layout"]
    assert "template" not in layout and layout["datarevision"] == 0
    for name in ("xaxis", "xaxis2", "xaxis3", "yaxis", "yaxis2", "yaxis3"):
        for key, value in template[name[:5]].items():
            if key == "title":
                assert layout[name]["title"]["standoff"] == value["standoff"], name
            elif (name, key) != ("xaxis2", "gridcolor"):
                assert layout[name][key] == value, (name, key)
    assert layout["xaxis2"]["gridcolor"] == "#123456" and layout["yaxis"]["title"]["text"] == "own"
    assert layout["paper_bgcolor"] == layout["plot_bgcolor"] == "white" and layout["hovermode"] == "closest"


def test_a_template_with_trace_defaults_is_left_as_it_is():
    spec = go.Figure(go.Scatter(y=[1, 2]), layout=dict(template="plotly_dark")).to_dict()
    assert style.settle_for_streamlit(spec)["layout"]["template"]["data"]


def test_settled_arrays_are_plain_lists_with_the_same_values():
    """plotly's typed arrays ({"dtype", "bdata"}) would be new objects in Streamlit's copy: plotly recomputes."""
    x = np.arange(300, dtype=np.int64)
    y = np.linspace(-3, 3, 300).astype(np.float32) ** 3
    z = np.random.default_rng(0).normal(size=(20, 30)) / 7
    fig = style.subplots(1, 2)
    fig.add_trace(go.Scatter(x=x, y=y, marker=dict(color=y)), row=1, col=1)
    fig.add_trace(go.Heatmap(z=z), row=1, col=2)
    fig.add_trace(go.Heatmap(z=z, texttemplate="%{z:.3f}"), row=1, col=2)
    data = _sent(style.finish(fig, style.NORMAL))["data"]
    assert "bdata" not in json.dumps(data)
    assert data[0]["x"] == x.tolist()
    np.testing.assert_array_equal(np.float32(data[0]["y"]), y)  # float32 goes in its short form, exactly
    np.testing.assert_array_equal(np.float32(data[0]["marker"]["color"]), y)
    np.testing.assert_allclose(data[1]["z"], z, rtol=5e-4, atol=0)  # a heatmap's cells: 4 significant digits
    assert max(len(repr(v)) for row in data[1]["z"] for v in row) <= len("-0.0001234")
    np.testing.assert_array_equal(data[2]["z"], z)  # numbers written in the cells stay exact


@pytest.mark.parametrize("value,digits,expected", [
    (0.65433776, 4, 0.6543), (-0.65437, 4, -0.6544), (123456.7, 4, 123500.0), (1.23456e-5, 3, 1.23e-5),
    (9.99996, 4, 10.0), (0.0, 4, 0.0), (-2.5e-300, 2, -2.5e-300)])
def test_significant_digits(value, digits, expected):
    got = style.significant(np.array([value]), digits)[0]
    assert got == pytest.approx(expected, rel=1e-12)


def test_significant_keeps_dtype_gaps_and_integers():
    a = np.array([np.nan, np.inf, -np.inf, 1.23456], dtype=np.float32)
    got = style.significant(a, 3)
    assert got.dtype == np.float32 and np.isnan(got[0]) and got[1] == np.inf and got[2] == -np.inf
    assert got[3] == np.float32(1.23)
    ints = np.array([123456, 7])
    assert style.significant(ints, 2) is ints


def _battery():
    """Figures as builders leave them before finish: some already set what finish sets."""
    yield lambda: go.Figure()
    yield lambda: go.Figure(go.Scatter(x=[0, 1], y=[1, 0], name="a"))
    yield lambda: go.Figure(layout=dict(title=dict(text="own", font=dict(size=9)), legend=dict(x=0.2, title="L"),
                                        margin=dict(t=99, pad=3), font=dict(family="serif"), height=200,
                                        colorway=["#111"], template="plotly_dark"))
    yield lambda: style.subplots(1, 2, subplot_titles=("a", "b")).add_trace(go.Heatmap(z=[[0, 1]]), row=1, col=1)
    yield lambda: go.Figure(layout=dict(showlegend=False, title="plain string title"))


@pytest.mark.parametrize("make", list(_battery()))
@pytest.mark.parametrize("st_", [style.NORMAL, style.LECTURE])
@pytest.mark.parametrize("title,height,legend", [(None, None, True), ("A title", None, False), (None, 222, True),
                                                 ("T", 500, True)])
def test_finish_equals_update_layout(make, st_, title, height, legend):
    fast = style.finish(make(), st_, title, height=height, legend=legend)
    slow = make().update_layout(**style.finish_settings(st_, title, height or st_.height, legend))
    assert fast.to_dict() == slow.to_dict()
    # plotly's objects read through to the merged dict, and later updates merge as usual
    assert fast.layout.height == slow.layout.height and fast.layout.legend.x == slow.layout.legend.x
    fast.update_layout(legend=dict(x=0.5), margin=dict(b=40))
    slow.update_layout(legend=dict(x=0.5), margin=dict(b=40))
    assert fast.to_dict() == slow.to_dict()


def test_finish_does_not_share_state_between_figures():
    a = style.finish(go.Figure(), style.NORMAL, "a")
    b = style.finish(go.Figure(), style.NORMAL, "a")
    a.update_layout(legend=dict(x=0.3), font=dict(size=30))
    a.layout.template.layout.paper_bgcolor = "black"
    assert b.layout.legend.x == 1 and b.layout.font.size == style.NORMAL.font_size
    assert b.layout.template.layout.paper_bgcolor == "white"
    assert style.finish(go.Figure(), style.NORMAL, "a").to_dict() == b.to_dict()


def test_cached_views_freeze_every_figure_they_return():
    """ui.figure freezes a figure, (result, figure) and (result, (figure, figure)): all are sent on every rerun."""
    import ui

    figs = [go.Figure(go.Scatter(y=[1, 2])) for _ in range(4)]
    for out in (figs[0], ("result", figs[1]), ("result", (figs[2], figs[3]))):
        ui._freeze_figures(out)
    assert all(f.to_dict() is f.to_dict() for f in figs)
    plain = go.Figure()
    ui._freeze_figures(["not", plain])  # a list is a result, not a figure container
    assert plain.to_dict() is not plain.to_dict()


def test_validators_come_from_plotlys_own_cache():
    import plotly.basedatatypes as bdt
    from plotly.validator_cache import ValidatorCache

    lookup = bdt.BasePlotlyType._get_validator
    assert getattr(lookup, "from_cache", False), "posviz.figures.style did not install the validator lookup"
    objects = [go.Scatter(), go.Heatmap(), go.Layout(), go.layout.XAxis(), go.scatter.Marker(), go.layout.Annotation()]
    for obj in objects:
        for prop in sorted(obj._valid_props)[:40]:
            fresh = lookup.__wrapped__(obj, prop)  # plotly's own (fills the cache on first use)
            assert lookup(obj, prop) is fresh is ValidatorCache._cache[(obj._path_str, prop)]
    with pytest.raises(TypeError):
        lookup(go.Scatter(), ["not", "hashable"])


FULLMATCH_CASES = [(r"#[0-9a-f]{6}", "#0072b2"), (r"#[0-9a-f]{6}", "#0072b2x"), ("lines|markers", "lines"),
                   ("lines|markers", "lines+markers"), (r"x(\d*)", "x12"), (r"x(\d*)", "y1"), ("", ""),
                   (r"rgba?\(.*\)", "rgba(0,0,0,0.5)"), (r"[a-z]+", "Viridis")]


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("flags", [0, 2])  # 2: re.IGNORECASE
def test_fullmatch_matches_as_plotlys_backport(compiled, flags):
    import re

    import _plotly_utils.basevalidators as validators

    fast = validators.fullmatch
    assert getattr(fast, "anchored", False), "posviz.figures.style did not install the fullmatch shortcut"
    for pattern, text in FULLMATCH_CASES:
        regex = re.compile(pattern) if compiled else pattern
        want, got = fast.__wrapped__(regex, text, flags), fast(regex, text, flags)
        assert (want is None) == (got is None), (pattern, text)
        if want is not None:
            assert want.group(0) == got.group(0) and want.groups() == got.groups()


def test_figures_are_the_same_without_the_plotly_shortcuts():
    import _plotly_utils.basevalidators as validators
    import plotly.basedatatypes as bdt

    def build():
        fig = style.subplots(1, 2, subplot_titles=("a", "b"))
        fig.add_trace(go.Scatter(x=[0, 1], y=[1, 2], marker_color="rgba(0,114,178,0.5)", mode="lines+markers"), 1, 2)
        fig.add_trace(style.heatmap(np.eye(3), style.NORMAL, diverging=True, colorbar="w"), 1, 1)
        fig.add_vline(x=0.5, line_dash="dot", row=1, col=2)
        fig.update_xaxes(title_text="position", type="log", row=1, col=2)
        return style.finish(fig, style.LECTURE, "t").to_json()

    import _plotly_utils.utils as utils

    fast = build()
    lookup, match, is_array = bdt.BasePlotlyType._get_validator, validators.fullmatch, utils.is_homogeneous_array
    bdt.BasePlotlyType._get_validator, validators.fullmatch = lookup.__wrapped__, match.__wrapped__
    validators.is_homogeneous_array = utils.is_homogeneous_array = is_array.__wrapped__
    try:
        assert build() == fast
    finally:
        bdt.BasePlotlyType._get_validator, validators.fullmatch = lookup, match
        validators.is_homogeneous_array = utils.is_homogeneous_array = is_array


@pytest.mark.parametrize("value", ["x", "", 3, 2.5, True, None, {}, {"a": 1}, [], [1, 2], (1,), np.arange(3),
                                   np.float32(1.5), np.array(2.0), torch.arange(3), bytearray(b"ab")],
                         ids=lambda v: type(v).__name__)
def test_builtins_are_not_arrays_as_plotly_says(value):
    import _plotly_utils.basevalidators as validators
    import _plotly_utils.utils as utils

    check = validators.is_homogeneous_array
    assert getattr(check, "builtins_first", False) and utils.is_homogeneous_array is check
    assert check(value) == check.__wrapped__(value)


def test_long_axis_titles_go_on_two_lines_on_slides_only():
    """On a slide (lecture type, plots ~250 px tall) a y title longer than the plot is tall, or an x title
    wider than its panel, is broken at its middle space; short titles and normal mode are left alone."""
    def built(s, y_title, x_title="position", x_domain=(0.0, 1.0)):
        fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1]),
                        layout=dict(xaxis=dict(title=dict(text=x_title), domain=list(x_domain)),
                                    yaxis=dict(title=dict(text=y_title))))
        lay = style.finish(fig, s).to_plotly_json()["layout"]
        return lay["yaxis"]["title"]["text"], lay["xaxis"]["title"]["text"]

    long_y = "perplexity (bytes, lower is better)"  # 35 characters: ~420 px at 22 px
    assert built(style.LECTURE, long_y)[0] == "perplexity (bytes,<br>lower is better)"
    assert built(style.NORMAL, long_y)[0] == long_y
    assert built(style.LECTURE, "attention weight")[0] == "attention weight"  # ~190 px: fits
    wide_x = "generated token (its position id)"  # ~400 px under a panel ~400 px wide
    assert built(style.LECTURE, "y", wide_x, (0.0, 0.45))[1] == "generated token<br>(its position id)"
    assert built(style.LECTURE, "y", wide_x)[1] == wide_x  # the full width holds it


def test_a_colorbar_title_stands_above_its_bar_and_a_slides_bar_has_round_ticks():
    """Turned on its side, plotly set a colorbar title over the widest tick labels ("score" on "−0.5"; on
    §1 slide 1 over three of them) or past the figure's edge (§3 slide 4); and a short slide panel's bar
    had five labels in 60 px (§4)."""
    z = np.linspace(-1, 1, 16, dtype=np.float32).reshape(4, 4)
    slide = style.heatmap(z, style.LECTURE, colorbar="score", diverging=True).colorbar
    page = style.heatmap(z, style.NORMAL, colorbar="score", diverging=True).colorbar
    assert (slide.title.text, slide.title.side, tuple(slide.tickvals)) == ("score", "top", (-1, 0, 1))
    assert (page.title.text, page.title.side, page.tickvals) == ("score", "top", None)


@pytest.mark.parametrize("lo, hi, ticks", [
    (-1.75, 1.75, [-1, 0, 1]), (-1, 1, [-1, 0, 1]), (0, 500, [0, 200, 400]), (0, 127, [0, 50, 100]),
    (0.3, 0.9, [0.4, 0.6, 0.8]), (-3.2e-7, 3.2e-7, [-2e-7, 0, 2e-7]), (5, 5, None), (0, math.inf, None)])
def test_a_slides_colorbar_gets_a_few_round_ticks_inside_its_range(lo, hi, ticks):
    got = style.few_ticks(lo, hi)
    assert got == (None if ticks is None else pytest.approx(ticks))
    if got:
        assert 3 <= len(got) <= 5 and lo <= min(got) and max(got) <= hi


def test_freeze_refuses_a_trace_type_the_served_plotly_does_not_register():
    """The app's plotly.js registers only ``TRACE_TYPES`` (frontend.LEAN_PATCHES); any other would draw nothing."""
    for trace in (go.Scatter(y=[1, 2]), go.Bar(y=[1, 2]), go.Heatmap(z=[[1, 2]])):
        style.freeze(go.Figure(trace))
    with pytest.raises(TypeError, match=r"\['pie'\].*add them to TRACE_TYPES"):
        style.freeze(go.Figure(go.Pie(values=[1, 2])))
    with pytest.raises(TypeError, match=r"\['scatter3d', 'surface'\]"):
        style.freeze(go.Figure([go.Scatter(y=[1]), go.Surface(z=[[1, 2]]), go.Scatter3d(x=[1], y=[1], z=[1])]))
