"""Figures for §5 (relative positions): bias tables, Shaw clipping, Transformer-XL, T5 buckets, shifts.

Pure builders: posviz results in, ``go.Figure`` out; no Streamlit.

Speed: every builder here assembles its traces, axes, shapes and titles as
plain dicts and creates the figure once. plotly's incremental helpers
(``make_subplots``, ``update_xaxes(row=, col=)``, ``add_vline``) validate the
whole figure on every call and cost several times more, which matters when a
slider re-renders a figure (§5 targets < 100 ms per widget change).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..relative import KeySlot
from .style import Style, arr, finish, heatmap

GREY = "#BBBBBB"
LIGHT = "#E4E4E4"


# -- small layout kit ---------------------------------------------------------------

def _zmax(*mats) -> float:
    """Largest finite |value| over several arrays (1.0 when all are zero or empty)."""
    best = 0.0
    for m in mats:
        a = np.abs(arr(m))
        a = a[np.isfinite(a)]
        if a.size:
            best = max(best, float(a.max()))
    return best or 1.0


def _grid(style: Style, n: int, *, widths=None, spacing=0.06, titles=()) -> tuple[list[str], dict]:
    """Axis suffixes ("", "2", ...) and a layout dict for ``n`` panels side by side.

    ``spacing``: one gap (fraction of the width) for all, or a list of ``n - 1`` gaps.
    """
    gaps = [float(spacing)] * (n - 1) if np.isscalar(spacing) else [float(g) for g in spacing]
    widths = np.asarray(widths if widths is not None else [1.0] * n, dtype=float)
    widths = widths / widths.sum() * (1 - sum(gaps))
    sufs = ["" if c == 0 else str(c + 1) for c in range(n)]
    layout, ann, x0 = {}, [], 0.0
    for c, s in enumerate(sufs):
        x1 = x0 + widths[c]
        layout[f"xaxis{s}"] = dict(domain=[float(x0), float(min(x1, 1.0))], anchor=f"y{s}")
        layout[f"yaxis{s}"] = dict(domain=[0.0, 1.0], anchor=f"x{s}")
        if c < len(titles) and titles[c]:
            ann.append(dict(text=titles[c], x=float(x0 + x1) / 2, y=1.0, xref="paper", yref="paper", showarrow=False,
                            xanchor="center", yanchor="bottom", font=dict(size=style.font_size)))
        x0 = x1 + (gaps[c] if c < len(gaps) else 0.0)
    layout["annotations"] = ann
    return sufs, layout


def _on(trace, s: str):
    """Put a trace on panel ``s``."""
    trace.update(xaxis=f"x{s}", yaxis=f"y{s}")
    return trace


def _vline(s: str, x: float, **line) -> dict:
    return dict(type="line", xref=f"x{s}", yref=f"y{s} domain", x0=x, x1=x, y0=0, y1=1,
                line={"color": "#000", "width": 1.5, **line})


def _vrect(s: str, x0: float, x1: float, color: str, opacity: float) -> dict:
    return dict(type="rect", xref=f"x{s}", yref=f"y{s} domain", x0=x0, x1=x1, y0=0, y1=1, fillcolor=color,
                opacity=opacity, line=dict(width=0), layer="below")


def _legend_square(name: str, color: str, style: Style, opacity: float = 1.0):
    """A legend-only entry (no data on the axes) for a colour that a heatmap or shape uses."""
    return go.Scatter(x=[None], y=[None], mode="markers", name=name,
                      marker=dict(symbol="square", size=style.marker_size + 6, color=color, opacity=opacity,
                                  line=dict(color="#000", width=1)))


def _build(traces, layout: dict, style: Style, *, legend: bool = False, height: int | None = None,
           title: str | None = None, legend_below: bool = False) -> go.Figure:
    fig = finish(go.Figure(data=traces, layout=layout), style, title, height=height, legend=legend)
    if legend_below:
        # at the foot of the figure (container coordinates): plotly reserves its height below the x titles
        fig.update_layout(legend=dict(orientation="h", yref="container", yanchor="bottom", y=0, xanchor="left", x=0))
    return fig


# -- 1 · bias tables ------------------------------------------------------------------

def bias_heads(table, row_values, bias, style: Style, *, row_title: str, heads_shown: int = 4) -> go.Figure:
    """A per-head table ``[rows, heads]`` and the bias matrices ``[heads, q, k]`` it produces (first heads)."""
    t, b = arr(table), arr(bias)
    shown = min(heads_shown, b.shape[0])
    sufs, lay = _grid(style, 1 + shown, widths=[0.8] + [1.0] * shown,
                      spacing=[0.15 if style.lecture else 0.1 if shown > 2 else 0.12] + [0.035] * (shown - 1),
                      titles=["table [rows, heads]"] + [f"head {h}" for h in range(shown)])
    zmax = _zmax(t, b[:shown])
    traces = [_on(heatmap(t, style, diverging=True, zmax=zmax, showscale=False, y=arr(row_values),
                          x=np.arange(t.shape[1])), sufs[0])]
    lay["xaxis"].update(title_text="head", dtick=max(1, -(-t.shape[1] // 4)))
    lay["yaxis"].update(title_text=row_title, autorange="reversed")
    n = b.shape[1]
    for h in range(shown):
        s = sufs[1 + h]
        traces.append(_on(heatmap(b[h], style, diverging=True, zmax=zmax, showscale=h == shown - 1,
                                  colorbar="bias b_ij", text=n <= 8, fmt=".1f"), s))
        lay[f"xaxis{s}"].update(title_text="key j")
        lay[f"yaxis{s}"].update(autorange="reversed", showticklabels=h == 0,
                                title_text="query i" if h == 0 else None)
    return _build(traces, lay, style)


# -- 2 · Shaw clipping ------------------------------------------------------------------

def clipping(off, clipped, row_counts, k: int, style: Style) -> go.Figure:
    """Offsets i − j, the same after clipping to ±k, and how many pairs read each table row."""
    o, c = arr(off).astype(np.float32), arr(clipped).astype(np.float32)
    n = o.shape[0]
    sufs, lay = _grid(style, 3, widths=[1, 1, 1.25], spacing=[0.07, 0.12 if style.lecture else 0.07],
                      titles=("offset i − j", f"clipped to ±{k}", "pairs per table row"))
    zmax, text = _zmax(o), n <= 12
    traces = [_on(heatmap(z, style, diverging=True, zmax=zmax, showscale=False, text=text, cells_across=3 * n), s)
              for z, s in ((o, sufs[0]), (c, sufs[1]))]
    for col in (0, 1):
        lay[f"xaxis{sufs[col]}"].update(title_text="key j")
        lay[f"yaxis{sufs[col]}"].update(autorange="reversed", title_text="query i" if col == 0 else None)
    counts = arr(row_counts)
    rows = np.arange(len(counts))
    edge = (rows == 0) | (rows == len(counts) - 1)
    traces.append(_on(go.Bar(x=rows, y=counts, marker_color=[style.color(5) if e else style.color(0) for e in edge],
                             name="pairs", hovertemplate="row %{x}: %{y} pairs<extra></extra>"), sufs[2]))
    step = max(1, -(-len(rows) // 7))
    labels = [f"{k - r:+d}" if r != k else "0" for r in rows]  # row r serves clipped i − j = k − r
    lay[f"xaxis{sufs[2]}"].update(tickmode="array", tickvals=rows[::step].tolist(), ticktext=labels[::step],
                                  title_text="table row, by its i − j")
    lay[f"yaxis{sufs[2]}"].update(title_text="pairs (i, j)")
    return _build(traces, lay, style)


def score_parts(parts: dict, style: Style, *, x=None, y=None, xtitle: str = "key j",
                ytitle: str = "query i", colorbar: str = "score", memory_keys: int = 0) -> go.Figure:
    """Each named part of a score as a heatmap on one shared colour scale (so sizes compare).

    ``memory_keys``: draw a dashed line after that many keys (Transformer-XL memory | segment).
    """
    names = list(parts)
    two_lines = style.lecture and len(names) > 3  # "(b) content·position" is wider than a quarter slide
    titles = [n.replace(" ", "<br>", 1) if two_lines else n for n in names]
    sufs, lay = _grid(style, len(names), spacing=0.03, titles=titles)
    zmax = _zmax(*parts.values())
    traces, shapes = [], []
    for c, (name, s) in enumerate(zip(names, sufs)):
        traces.append(_on(heatmap(parts[name], style, diverging=True, zmax=zmax, showscale=c == len(names) - 1,
                                  colorbar=colorbar, x=x, y=y), s))
        crowded = len(names) > 3 and c > 0  # four panels: one x title, or the titles run into each other
        lay[f"xaxis{s}"].update(title_text=None if crowded else xtitle)
        lay[f"yaxis{s}"].update(autorange="reversed", showticklabels=c == 0, title_text=ytitle if c == 0 else None)
        if memory_keys:
            x0 = (x[memory_keys - 1] + x[memory_keys]) / 2 if x is not None else memory_keys - 0.5
            shapes.append(_vline(s, float(x0), dash="dash", width=2))
    lay["shapes"] = shapes
    if len(names) > 3:
        for a in lay["annotations"]:
            a["font"]["size"] = style.font_size - 2
    fig = _build(traces, lay, style)
    if two_lines:
        fig.layout.margin.t = 2 * style.font_size + 20
    return fig


# -- 3 · Transformer-XL memory -----------------------------------------------------------

# codes for segment_memory's visibility matrix (posviz.relative.SegmentMemory.slots)
EMPTY, MASKED, MEMORY, CURRENT = KeySlot.EMPTY, KeySlot.MASKED, KeySlot.MEMORY, KeySlot.CURRENT


def segment_memory(visibility, key_positions, query_positions, offsets, style: Style) -> go.Figure:
    """Which keys each query of a segment sees (memory / own segment / masked), and their offsets i − j."""
    vis = arr(visibility).astype(np.float32)
    kp, qp = arr(key_positions), arr(query_positions)
    colors = {EMPTY: "#FFFFFF", MASKED: LIGHT, MEMORY: style.color(1), CURRENT: style.color(0)}
    names = {EMPTY: "no token yet (start of text)", MASKED: "masked (later key)",
             MEMORY: "memory (cached from earlier)", CURRENT: "current segment"}
    scale = []
    for code in range(4):
        scale += [[code / 4, colors[code]], [(code + 1) / 4, colors[code]]]
    sufs, lay = _grid(style, 2, spacing=0.08,
                      titles=("keys each query sees", "offset i − j of the keys it scores"))
    traces = [_on(go.Heatmap(z=vis, x=kp, y=qp, zmin=0, zmax=4, colorscale=scale, showscale=False,
                             xgap=1, ygap=1, hovertemplate="query %{y}, key %{x}<extra></extra>"), sufs[0])]
    traces += [_legend_square(names[c], colors[c], style) for c in (MEMORY, CURRENT, MASKED, EMPTY)
               if (vis == c).any()]
    off = arr(offsets).astype(np.float32)
    shown = np.where(vis >= MEMORY, off, np.nan)  # only pairs the query really scores
    traces.append(_on(heatmap(shown, style, x=kp, y=qp, diverging=True, zmax=_zmax(off), colorbar="offset",
                              text=off.shape[1] <= 16), sufs[1]))
    n_mem = int((kp < qp.min()).sum())
    shapes = []
    for c, s in enumerate(sufs):
        if 0 < n_mem < len(kp):
            shapes.append(_vline(s, float(kp[n_mem - 1] + kp[n_mem]) / 2, dash="dash", width=2.5))
        lay[f"xaxis{s}"].update(title_text="key position (absolute)", dtick=max(1, -(-len(kp) // 10)))
        lay[f"yaxis{s}"].update(autorange="reversed", title_text="query position" if c == 0 else None,
                                dtick=max(1, -(-len(qp) // 8)))
    lay["shapes"] = shapes
    return _build(traces, lay, style, legend=True, legend_below=True, height=style.height + 40)


# -- 4 · T5 buckets ---------------------------------------------------------------------

def t5_staircase(r, buckets: dict, marks: dict, max_distance: int, style: Style) -> go.Figure:
    """Bucket against key − query offset, one panel per mode, with exact / last-bucket regions.

    ``buckets``: panel title → ``[len(r)]`` ints; ``marks``: panel title → dict with
    ``max_exact`` (exact region: distance < max_exact), ``first_last`` (first
    distance in the last bucket) and ``sides`` (offset signs that count: (-1, 1) or (-1,)).
    """
    x = arr(r)
    modes = list(buckets)
    sufs, lay = _grid(style, len(modes), spacing=0.07, titles=modes)
    traces, shapes = [], []
    reach = float(np.abs(x).max()) + 1
    for c, (mode, s) in enumerate(zip(modes, sufs)):
        m = marks[mode]
        e, first = m["max_exact"], m["first_last"]
        for side in m["sides"]:
            lo, hi = sorted((0.0, side * (e - 1.0)))
            shapes.append(_vrect(s, lo - 0.5, hi + 0.5, style.color(2), 0.25))
            lo, hi = sorted((side * (first - 0.5), side * reach))
            shapes.append(_vrect(s, lo, hi, style.color(5), 0.13))
            shapes.append(_vline(s, side * max_distance, dash="dot", width=2))
        both = len(m["sides"]) == 2  # one label for both bands: two, pointing apart, meet in the middle
        side = m["sides"][0]
        lay["annotations"].append(dict(  # beside the band(s), pointing into them
            text=f"← from {first} →" if both else (f"from {first} →" if side > 0 else f"← from {first}"),
            x=0.0 if both else side * (first - 0.5), y=0.03, xref=f"x{s}", yref=f"y{s} domain",
            xanchor="center" if both else ("right" if side > 0 else "left"), yanchor="bottom", showarrow=False,
            bgcolor="rgba(255,255,255,0.85)", font=dict(size=style.font_size - 2, color="#000")))
        traces.append(_on(go.Scatter(x=x, y=arr(buckets[mode]), mode="lines", line_shape="hv", showlegend=False,
                                     line=dict(width=style.line_width, color=style.color(0)),
                                     hovertemplate="j − i = %{x}: bucket %{y}<extra></extra>"), s))
        lay[f"xaxis{s}"].update(title_text="j − i (key − query)", range=[-reach, reach])
        lay[f"yaxis{s}"].update(title_text="bucket" if c == 0 else None)
    traces += [_legend_square("exact: one bucket per distance", style.color(2), style, 0.45),
               _legend_square("last bucket: shared by every farther key", style.color(5), style, 0.3),
               go.Scatter(x=[None], y=[None], mode="lines", name=f"max_distance = {max_distance}",
                          line=dict(dash="dot", color="#000", width=2))]
    lay["shapes"] = shapes
    return _build(traces, lay, style, legend=True, legend_below=True, height=style.height + 40)


def t5_bias_usage(bias, counts, unused_always, style: Style, *, mode: str) -> go.Figure:
    """The bias matrix a per-bucket table gives one head, and how many pairs read each bucket."""
    b, cnt = arr(bias), arr(counts)
    buckets = np.arange(len(cnt))
    sufs, lay = _grid(style, 2, widths=[0.42, 0.58], spacing=0.15 if style.lecture else 0.1,
                      titles=(f"bias b_ij, {mode}", f"pairs per bucket ({b.shape[0]}×{b.shape[1]} matrix)"))
    traces = [_on(heatmap(b, style, diverging=True, showscale=False), sufs[0])]
    lay["xaxis"].update(title_text="key j")
    lay["yaxis"].update(title_text="query i", autorange="reversed")
    traces.append(_on(go.Bar(x=buckets, y=cnt, marker_color=[style.color(0) if c > 0 else GREY for c in cnt],
                             name="pairs that read the bucket", showlegend=False,
                             hovertemplate="bucket %{x}: %{y} pairs<extra></extra>"), sufs[1]))
    top = max(float(cnt.max()), 1.0)
    never = sorted(int(u) for u in unused_always)
    idle = [int(i) for i in buckets[cnt == 0] if int(i) not in never]
    if idle:
        traces.append(_on(go.Scatter(x=idle, y=[0] * len(idle), mode="markers", name="not read by this matrix",
                                     marker=dict(symbol="circle-open", size=style.marker_size + 2, color=GREY,
                                                 line=dict(width=2, color=GREY)), cliponaxis=False), sufs[1]))
    if never:
        labelled = len(never) <= 3  # several crosses side by side: the legend and caption name them
        traces.append(_on(go.Scatter(x=never, y=[top * 0.05] * len(never), name="never used at any length",
                                     mode="markers+text" if labelled else "markers",
                                     marker=dict(symbol="x", size=style.marker_size + 5, color=style.color(5)),
                                     text=[str(v) for v in never] if labelled else None, textposition="top center",
                                     textfont=dict(color=style.color(5), size=style.font_size)), sufs[1]))
    lay[f"xaxis{sufs[1]}"].update(title_text="bucket")
    lay[f"yaxis{sufs[1]}"].update(title_text="pairs (i, j)", range=[0, top * 1.12])
    return _build(traces, lay, style, legend=bool(never or idle), legend_below=True, height=style.height + 30)


# -- 5 · shift test -------------------------------------------------------------------------

def shift_heatmaps(before, after, delta: int, label: str, style: Style) -> go.Figure:
    """Scores with the sequence at 0, at Δ, and their difference, on one colour scale."""
    b, a = arr(before), arr(after)
    titles = (("at 0 … n−1", f"at {delta} … {delta}+n−1") if style.lecture  # large type: a third of a slide
              else ("tokens at 0 … n−1", f"tokens at {delta} … {delta}+n−1"))
    sufs, lay = _grid(style, 3, spacing=0.04, titles=(*titles, "difference"))
    zmax = _zmax(b, a)
    traces = []
    for c, (z, s) in enumerate(zip((b, a, a - b), sufs)):
        traces.append(_on(heatmap(z, style, diverging=True, zmax=zmax, showscale=c == 2, colorbar="score"), s))
        lay[f"xaxis{s}"].update(title_text="key" if style.lecture else "key (token number)")  # large type: short
        lay[f"yaxis{s}"].update(autorange="reversed", showticklabels=c == 0, title_text="query" if c == 0 else None)
    return _build(traces, lay, style, title=label)


def shift_gaps(gaps: dict, delta: int, style: Style) -> go.Figure:
    """Largest |score change| per scheme for one shift Δ (a bar per scheme, value printed on it)."""
    names = list(gaps)
    vals = [gaps[n] for n in names]
    top = max(max(vals), 1e-9)
    fig = go.Figure(go.Bar(y=names, x=vals, orientation="h",
                           marker_color=[style.color(5) if v > 1e-9 else style.color(2) for v in vals],
                           text=[f"{v:.2g}" if v else "0" for v in vals], textposition="outside",
                           cliponaxis=False),
                    layout=dict(xaxis=dict(title_text=f"max |score change| (shift Δ = {delta})",
                                           range=[0, top * 1.3]),
                                yaxis=dict(autorange="reversed")))
    return finish(fig, style, height=max(220, (style.font_size * 3) * len(names) + 100), legend=False)
