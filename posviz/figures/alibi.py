"""Figures for §7 (ALiBi): one head's bias and weights, slopes per head, spans, lengths, shifts, masks.

Pure builders: posviz.alibi results in, ``go.Figure`` out; no Streamlit.

Speed: each builder assembles its traces, axes, shapes and titles as plain dicts and creates the
figure once (plotly's ``update_xaxes(row=, col=)``, ``add_shape(row=, col=)`` and ``add_vline``
validate the whole figure on every call; §7 targets < 100 ms per widget change).
"""

from __future__ import annotations

import warnings

import numpy as np
import plotly.graph_objects as go

from .style import Style, arr, downsample, finish, heatmap, word_axis

GREY = "#BBBBBB"
PANEL_CELLS = 64  # small-multiple heatmaps are block-averaged to at most this many cells a side


# -- small layout kit -------------------------------------------------------------------------------

def _panels(style: Style, rows: int, cols: int, *, widths=None, hgap: float = 0.08, vgap: float = 0.14,
            titles=()) -> tuple[list[str], dict]:
    """Axis suffixes ("", "2", …, row-major) and a layout dict for a ``rows × cols`` grid of panels."""
    w = np.asarray(widths if widths is not None else [1.0] * cols, dtype=float)
    w = w / w.sum() * (1 - hgap * (cols - 1))
    h = (1 - vgap * (rows - 1)) / rows
    sufs, layout, notes = [], {}, []
    for k in range(rows * cols):
        r, c = divmod(k, cols)
        s = "" if k == 0 else str(k + 1)
        x0 = float(w[:c].sum() + hgap * c)
        y1 = 1 - r * (h + vgap)
        layout[f"xaxis{s}"] = dict(domain=[x0, min(x0 + float(w[c]), 1.0)], anchor=f"y{s}")
        layout[f"yaxis{s}"] = dict(domain=[max(y1 - h, 0.0), y1], anchor=f"x{s}")
        if k < len(titles):
            notes.append(dict(text=titles[k], x=x0 + float(w[c]) / 2, y=y1, xref="paper", yref="paper",
                              showarrow=False, xanchor="center", yanchor="bottom", font=dict(size=style.font_size)))
        sufs.append(s)
    layout["annotations"] = notes
    return sufs, layout


def _figure(traces, layout: dict) -> go.Figure:
    """``go.Figure(data=traces, layout=layout)`` without validating it all a second time.

    The traces are plotly objects, validated when they were made; re-validating eight heatmaps
    costs ~20 ms per widget change. The layout dicts are validated by tests/test_alibi.py, which
    rebuilds every figure with full validation. Validation is back on for later updates.
    """
    fig = go.Figure(data=traces, layout=layout, _validate=False)
    fig._validate = True
    fig._layout_obj._validate = True
    return fig


def _on(trace, s: str):
    """Put a trace on panel ``s``."""
    trace.update(xaxis=f"x{s}", yaxis=f"y{s}")
    return trace


def _cell(s: str, i: int, j: int, **line) -> dict:
    """A rectangle around heatmap cell (row i, column j) of panel ``s``."""
    return dict(type="rect", xref=f"x{s}", yref=f"y{s}", x0=j - 0.5, x1=j + 0.5, y0=i - 0.5, y1=i + 0.5,
                line={"color": "#000", "width": 2, **line})


def _blank_hidden(z, visible) -> np.ndarray:
    """A matrix with the keys the causal mask hides as blank cells."""
    z = arr(z).astype(np.float32).copy()
    z[~arr(visible).astype(bool)] = np.nan
    return z


def _pct(x: float) -> str:
    return f"{100 * x:.3g} %"


def _spread(order: np.ndarray, shown: int) -> list[int]:
    """``shown`` heads spread evenly along ``order`` (heads sorted steep → shallow), in that order."""
    if len(order) <= shown:
        return [int(h) for h in order]
    picks = np.unique(np.linspace(0, len(order) - 1, shown).round().astype(int))
    return [int(order[p]) for p in picks]


def _legend_above(fig: go.Figure, style: Style) -> go.Figure:
    """Move the legend above the panel titles (they sit where finish() puts the legend)."""
    return fig.update_layout(margin_t=fig.layout.margin.t + 2 * style.font_size,
                             legend_y=1.0 + 2.6 * style.font_size / style.height)


# -- 1 · linear biases -------------------------------------------------------------------------

def linear_bias(res, style: Style) -> go.Figure:
    """One head's bias matrix (the drawn query's row boxed) and that query's weights with and without it
    (``res``: an ``alibi.LinearBias``)."""
    n, i = len(res.tokens), res.query
    # on a slide the bars' y title needs a wider gap, or it touches the heatmap
    sufs, lay = _panels(style, 1, 2, widths=[0.49, 0.51] if style.lecture else [0.45, 0.55],
                        hgap=0.15 if style.lecture else 0.12,
                        titles=(f"bias b_ij, head {res.head} (m = {res.slope:.4g})",
                                f"weights of query {i} ({res.tokens[i]!r})"))
    z = _blank_hidden(res.bias, res.visible)
    traces = [_on(heatmap(z, style, diverging=True, zmax=float(np.nanmax(np.abs(z))) or 1.0,
                          text=n <= (8 if style.lecture else 12), fmt=".3~g", showscale=False), sufs[0])]
    for k, (name, w) in enumerate((("content only (no position)", res.content), ("with the ALiBi bias", res.weights))):
        traces.append(_on(go.Bar(x=list(range(n)), y=arr(w), name=name, marker_color=style.color(k),
                                 hovertemplate="key %{x}: %{y:.3f}<extra>" + name + "</extra>"), sufs[1]))
    words = word_axis(res.tokens)
    lay["xaxis"].update(words, tickangle=-45, title_text="key j")
    lay["yaxis"].update(words, autorange="reversed", title_text="query i")
    lay["xaxis2"].update(words, tickangle=-45, title_text="key j")
    lay["yaxis2"].update(title_text="softmax weight", rangemode="tozero")
    lay.update(barmode="group", shapes=[dict(type="rect", xref="x", yref="y", x0=-0.5, x1=n - 0.5, y0=i - 0.5,
                                             y1=i + 0.5, line=dict(color="#000", width=3))])
    return _legend_above(finish(_figure(traces, lay), style), style)


# -- 2 · slopes ---------------------------------------------------------------------------------

def slopes(rep, style: Style, *, naive: bool = True) -> go.Figure:
    """Slopes per head on a log axis: the power-of-two block, the interleaved extras, and (``naive``) the wrong
    formula 2^(−8k/n) (``rep``: an ``alibi.SlopeReport``)."""
    s, n, block = arr(rep.slopes), rep.n_heads, rep.block
    heads = np.arange(n)
    traces = []
    for k, (name, sel) in enumerate(((f"heads 0…{block - 1}: 2^(−8k/{block})", heads < block),
                                     (f"extra heads: every other slope of {2 * block}", heads >= block))):
        if sel.any():
            traces.append(go.Bar(x=heads[sel], y=s[sel], name=name, marker_color=style.color(k),
                                 text=[f"{v:.3g}" for v in s[sel]] if n <= 16 else None, textposition="outside",
                                 hovertemplate="head %{x}: m = %{y:.5g}<extra></extra>"))
    if naive:
        traces.append(go.Scatter(x=heads, y=arr(rep.naive), mode="markers", name=f"wrong: 2^(−8k/{n}) for every n",
                                 marker=dict(symbol="diamond", size=style.marker_size + 3, color=style.color(5),
                                             line=dict(color="#000", width=1)),
                                 hovertemplate="head %{x}: 2^(−8k/n) = %{y:.5g}<extra></extra>"))
    lay = dict(xaxis=dict(title_text="head", dtick=max(1, -(-n // 16))), bargap=0.15,
               yaxis=dict(title_text="slope m (log scale)", type="log", exponentformat="power"))
    return finish(_figure(traces, lay), style)


# -- 3 · per-head bias and span -------------------------------------------------------------------

def head_factors(rep, style: Style, *, heads_shown: int = 8) -> go.Figure:
    """e^(b_ij) per head: the factor the bias alone multiplies each weight by (``rep``: an ``alibi.SpanReport``).

    With more heads than panels, heads are picked evenly from the steepest to the shallowest."""
    heads = _spread(np.argsort(-arr(rep.slopes), kind="stable"), heads_shown)
    cols = min(4, len(heads))
    rows = -(-len(heads) // cols)
    sep = "<br>" if style.lecture else " · "  # a projector's large type needs two lines per title
    sufs, lay = _panels(style, rows, cols, hgap=0.035, vgap=0.2 if rows > 1 else 0.1,
                        titles=[f"head {h}{sep}m = {float(rep.slopes[h]):.3g}" for h in heads])
    f = arr(rep.factor)
    hidden = np.triu(np.ones(f.shape[1:], dtype=bool), 1)
    traces = []
    for k, h in enumerate(heads):
        with warnings.catch_warnings():  # blocks wholly above the diagonal average to nan (blank): intended
            warnings.simplefilter("ignore", RuntimeWarning)
            z, at, _ = downsample(np.where(hidden, np.nan, f[h]), PANEL_CELLS)
        traces.append(_on(heatmap(z, style, x=at, y=at, zmin=0.0, zmax=1.0, showscale=k == 0, colorbar="e^b"),
                          sufs[k]))
        lay[f"xaxis{sufs[k]}"].update(title_text="key j" if k // cols == rows - 1 else None)
        lay[f"yaxis{sufs[k]}"].update(autorange="reversed", showticklabels=k % cols == 0,
                                      title_text="query i" if k % cols == 0 else None)
    for k in range(len(heads), rows * cols):  # empty grid cells
        lay[f"xaxis{sufs[k]}"].update(visible=False)
        lay[f"yaxis{sufs[k]}"].update(visible=False)
    for note in lay["annotations"]:
        note["font"]["size"] = style.font_size - 2
    fig = finish(_figure(traces, lay), style, legend=False,
                 height=int(style.height * (0.75 * rows + 0.25)))
    return fig.update_layout(margin_t=fig.layout.margin.t + 2 * style.font_size) if style.lecture else fig


def spans(rep, style: Style) -> go.Figure:
    """Per head: the span ln(1/t)/m, the span read off the bias, and the mean distance under the bias alone."""
    n = rep.n_heads
    heads = np.arange(n)
    fit = arr(rep.fits).astype(bool)
    traces = [
        go.Bar(x=heads, y=arr(rep.spans), name=f"span ln(1/{rep.threshold:g})/m", marker_color=style.color(0),
               hovertemplate="head %{x}: %{y:.4g} tokens<extra>span</extra>"),
        go.Scatter(x=heads[fit], y=arr(rep.measured)[fit], mode="markers", name="read off the bias tensor",
                   marker=dict(symbol="line-ew-open", size=style.marker_size + 12, color="#000", line=dict(width=3)),
                   hovertemplate="head %{x}: first d with e^b ≤ t: %{y}<extra></extra>"),
        go.Scatter(x=heads, y=arr(rep.mean_distance), mode="markers", name="mean distance, bias alone",
                   marker=dict(symbol="circle", size=style.marker_size + 3, color=style.color(1),
                               line=dict(color="#000", width=1)),
                   hovertemplate="head %{x}: mean distance %{y:.4g}<extra></extra>"),
        # a trace, not add_hline: an annotation on a log axis takes log10(y), a shape takes y
        go.Scatter(x=[-0.5, n - 0.5], y=[rep.length - 1] * 2, mode="lines", name="farthest key, L − 1",
                   line=dict(color="#000", dash="dash", width=style.line_width / 2), hoverinfo="skip"),
    ]
    lay = dict(xaxis=dict(title_text="head", dtick=max(1, -(-n // 16))),
               yaxis=dict(title_text="tokens (log scale)", type="log"))
    return finish(_figure(traces, lay), style)


# -- 4 · past the training length -------------------------------------------------------------------

def extrapolation(rep, style: Style, *, heads_shown: int = 8, points: int = 400) -> go.Figure:
    """Bias against distance out to N, the training length marked, and the mass each head keeps beyond it
    (``rep``: an ``alibi.ExtrapolationReport``)."""
    sufs, lay = _panels(style, 1, 2, widths=[0.58, 0.42], hgap=0.13 if style.lecture else 0.1,
                        titles=("bias −m·d of the last query", f"mass beyond d = {rep.train_len} (bias alone)"))
    d, row = arr(rep.distance), arr(rep.row)
    idx = np.unique(np.linspace(0, len(d) - 1, min(points, len(d))).round().astype(int))
    traces = []
    for k, h in enumerate(_spread(np.argsort(-arr(rep.slopes), kind="stable"), heads_shown)):
        traces.append(go.Scatter(x=d[idx], y=row[h, idx], mode="lines", name=f"head {h}",
                                 line=dict(width=style.line_width, color=style.color(k)),
                                 hovertemplate="d = %{x}: bias %{y:.4g}<extra>head " + str(h) + "</extra>"))
    shapes = [dict(type="line", xref="x", yref="y domain", x0=rep.train_len, x1=rep.train_len, y0=0, y1=1,
                   line=dict(color="#000", width=1.5, dash="dash"))]
    if rep.eval_len > rep.train_len:
        shapes.append(dict(type="rect", xref="x", yref="y domain", x0=rep.train_len, x1=rep.eval_len - 1, y0=0,
                           y1=1, fillcolor=GREY, opacity=0.3, line=dict(width=0), layer="below"))
        # half-way down the shaded band's right edge: the legend has the lower left, the flattest lines the top
        lay["annotations"].append(dict(text="past the training length", x=rep.eval_len - 1, y=0.5, xref="x",
                                       yref="y domain", xanchor="right", yanchor="middle", showarrow=False,
                                       bgcolor="rgba(255,255,255,0.85)"))
    tail = arr(rep.tail)
    # On a slide a bar is ~30 px wide and "1.83 %" in lecture type ~70 px: it ran under its neighbour's
    # bar, so only the head that keeps the most is labelled there (the others: hover)
    labelled = [t == max(rep.tail) if style.lecture else t >= 1e-5 for t in rep.tail]
    traces.append(_on(go.Bar(x=np.arange(rep.n_heads), y=100 * tail, marker_color=style.color(0), showlegend=False,
                             text=[_pct(float(t)) if show and t > 0 else "" for t, show in zip(rep.tail, labelled)]
                             if rep.n_heads <= 16 else None, textposition="outside", cliponaxis=False,
                             hovertemplate="head %{x}: %{y:.3g} %<extra></extra>"), sufs[1]))
    lay["xaxis"].update(title_text="distance d = i − j")
    lay["yaxis"].update(title_text="bias b")
    lay["xaxis2"].update(title_text="head", dtick=max(1, -(-rep.n_heads // 16)))
    lay["yaxis2"].update(title_text="% of the weight", rangemode="tozero")
    lay.update(shapes=shapes, uniformtext=dict(minsize=style.font_size - 4, mode="show"))
    # the lines fan out from (0, 0) downwards: the legend fits in the empty lower left corner
    return finish(_figure(traces, lay), style).update_layout(
        legend=dict(orientation="v", x=0.01, y=0.02, xanchor="left", yanchor="bottom",
                    bgcolor="rgba(255,255,255,0.85)"))


# -- 5 · bias vs embedding -----------------------------------------------------------------------

def shift(res, style: Style) -> go.Figure:
    """A phrase's scores at 0 and at its new start, with ALiBi and with an embedding added to x
    (``res``: an ``alibi.BiasVsEmbedding``)."""
    s = res.start
    sufs, lay = _panels(style, 1, 4, hgap=0.035, titles=("ALiBi, at 0", f"ALiBi, at {s}", "embedding, at 0",
                                                         f"embedding, at {s}"))
    zs = [_blank_hidden(m, res.visible) for m in (*res.alibi, *res.embedded)]
    zmax = max(float(np.nanmax(np.abs(z))) for z in zs) or 1.0
    words = word_axis(res.tokens)
    traces = []
    for c, (z, suf) in enumerate(zip(zs, sufs)):
        traces.append(_on(heatmap(z, style, diverging=True, zmax=zmax, showscale=c == 3, colorbar="score",
                                  text=not style.lecture, fmt=".1f"), suf))
        lay[f"xaxis{suf}"].update(words, tickangle=-45)
        lay[f"yaxis{suf}"].update(words if c == 0 else dict(showticklabels=False), autorange="reversed")
    for note in lay["annotations"]:
        note["font"]["size"] = style.font_size - 1
    return finish(_figure(traces, lay), style, legend=False)


# -- 6 · the causal mask -----------------------------------------------------------------------------

def masked_weights(res, style: Style) -> go.Figure:
    """The weights (future keys outlined grey) and each row's sum (``res``: an ``alibi.MaskedBias``)."""
    n = len(res.tokens)
    sufs, lay = _panels(style, 1, 2, widths=[0.62, 0.38], hgap=0.14,
                        titles=("attention weights (grey: future keys)", "row sums"))
    w, sums = arr(res.weights), arr(res.row_sums)
    traces = [_on(heatmap(w, style, diverging=True, zmax=max(1.0, float(np.abs(w).max())), text=True, fmt=".2f",
                          showscale=False), sufs[0]),
              _on(go.Bar(y=list(range(n)), x=sums, orientation="h", marker_color=style.color(0),
                         showlegend=False,
                         hovertemplate="query %{y}: row sum %{x:.4f}<extra></extra>"), sufs[1])]
    hidden = np.argwhere(~arr(res.visible).astype(bool))
    shapes = [_cell(sufs[0], int(i), int(j), color=GREY) for i, j in hidden]
    shapes.append(dict(type="line", xref="x2", yref="y2 domain", x0=1, x1=1, y0=0, y1=1,
                       line=dict(color="#000", width=1.5, dash="dash")))
    words = word_axis(res.tokens)
    lo = min(0.0, float(sums.min()))
    lay["xaxis"].update(words, tickangle=-45, title_text="key j")
    lay["yaxis"].update(words, autorange="reversed", title_text="query i")
    lay["xaxis2"].update(range=[lo - 0.05 * (1.2 - lo), 1.2], title_text="Σ_j weight")
    # the sums as the row labels: aligned with the heatmap's rows, never clipped like bar text
    lay["yaxis2"].update(word_axis([f"{v:.3f}" for v in sums]), autorange="reversed")
    lay["shapes"] = shapes
    return finish(_figure(traces, lay), style, legend=False)
