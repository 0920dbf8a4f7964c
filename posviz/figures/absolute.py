"""Figures for §3 (sinusoidal) and §4 (learned absolute tables)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import plotly.graph_objects as go

from .style import Style, arr, finish, heatmap, reversed_y, subplots


def ladder(result, style: Style) -> go.Figure:
    """Wavelength of each sin/cos pair on a log axis, against the sequence length
    (``result``: an ``absolute.Ladder``)."""
    w, seq_len = arr(result.wavelengths), result.seq_len
    full = w <= seq_len
    fig = go.Figure()
    for ok, name, c in ((True, "completes a cycle within the sequence", 0),
                        (False, "longer than the sequence (slowly varying)", 1)):
        idx = np.flatnonzero(full == ok)
        fig.add_trace(go.Scatter(x=idx, y=w[idx], mode="markers", name=name,
                                 marker=dict(size=style.marker_size, color=style.color(c))))
    fig.add_hline(y=seq_len, line_dash="dash", annotation_text=f"sequence length {seq_len}")
    fig.update_xaxes(title_text="pair index i")
    fig.update_yaxes(type="log", title_text="wavelength 2π/ω<sub>i</sub> (positions)")
    return finish(fig, style)


def pair(walk, style: Style) -> go.Figure:
    """One pair over positions, and the same pair as a point walking round the unit circle
    (``walk``: an ``absolute.PairWalk``)."""
    sin, cos = walk.sin, walk.cos
    # on a slide the circle's y title needs a wider gap, or it stands over the left panel's lines
    fig = subplots(1, 2, column_widths=[0.62, 0.38], horizontal_spacing=0.15 if style.lecture else 0.1,
                   subplot_titles=(f"pair {walk.pair}: columns {2 * walk.pair} (sin) and {2 * walk.pair + 1} "
                                   "(cos), interleaved layout", "(sin, cos) plane"))
    x = arr(walk.positions)
    fig.add_trace(go.Scatter(x=x, y=arr(sin), name="sin(ω p)", line=dict(width=style.line_width,
                             color=style.color(0))), 1, 1)
    fig.add_trace(go.Scatter(x=x, y=arr(cos), name="cos(ω p)", line=dict(width=style.line_width,
                             color=style.color(1))), 1, 1)
    fig.add_trace(go.Scatter(x=arr(sin), y=arr(cos), mode="markers", name="position",
                             marker=dict(size=style.marker_size, color=x, colorscale=style.sequential,
                                         showscale=False), showlegend=False,
                             hovertemplate="p=%{marker.color}<extra></extra>"), 1, 2)
    fig.update_xaxes(title_text="position p", row=1, col=1)
    fig.update_xaxes(title_text="sin", range=[-1.15, 1.15], row=1, col=2)
    fig.update_yaxes(title_text="cos", range=[-1.15, 1.15], scaleanchor="x2", row=1, col=2)
    fig.update_annotations(font_size=style.font_size)
    return _legend_above_titles(finish(fig, style), style)


def shift_check(check, style: Style) -> go.Figure:
    """The shift matrix M_k, and PE[p+k] against M_k·PE[p] component by component
    (``check``: an ``absolute.ShiftCheck``)."""
    matrix, target, predicted, k, p = check.matrix, check.target, check.predicted, check.k, check.p
    fig = subplots(1, 2, column_widths=[0.42, 0.58], horizontal_spacing=0.1,
                        subplot_titles=(f"M_k, k = {k} ({check.layout})",
                                        f"PE[{p}+{k}] vs M_k · PE[{p}]"))
    fig.add_trace(heatmap(matrix, style, diverging=True, zmax=1.0, showscale=False), 1, 1)
    t, q = arr(target), arr(predicted)
    idx = np.arange(len(t))
    fig.add_trace(go.Bar(x=idx, y=t, name=f"PE[{p + k}] (table)", marker_color=style.color(4)), 1, 2)
    fig.add_trace(go.Scatter(x=idx, y=q, mode="markers", name="M_k · PE[p] (rotated)",
                             marker=dict(size=style.marker_size, color=style.color(5), symbol="x")), 1, 2)
    fig.update_yaxes(autorange="reversed", row=1, col=1)
    fig.update_xaxes(title_text="column", row=1, col=1)
    fig.update_xaxes(title_text="component", row=1, col=2)
    fig.update_annotations(font_size=style.font_size)
    return _legend_above_titles(finish(fig, style), style)


def _legend_above_titles(fig: go.Figure, style: Style) -> go.Figure:
    """Two subplots with titles: the legend goes at the top of the figure, above the titles, not over them."""
    return fig.update_layout(legend=dict(yref="container", y=1.0, yanchor="top"),
                             margin=dict(t=2 * style.font_size + 34))


def table(pe, style: Style, *, title_x: str = "dimension", colorbar: str = "value") -> go.Figure:
    """A position table as a heatmap (rows = positions).

    Long tables are block-averaged along positions only: averaging neighbouring *columns* would mix
    a sin column with its cos partner (interleaved) or two frequencies (concat), a picture of nothing.
    """
    z = arr(pe).astype(np.float64)
    f = int(np.ceil(z.shape[0] / style.max_cells))  # positions per block
    starts = np.arange(0, z.shape[0], f)
    z = np.add.reduceat(z, starts, axis=0) / np.diff(np.r_[starts, z.shape[0]])[:, None]  # [blocks, dim]
    every_column = replace(style, max_cells=max(style.max_cells, *z.shape))
    fig = go.Figure(heatmap(z, every_column, y=starts, diverging=True, colorbar=colorbar))
    fig.update_xaxes(title_text=title_x)
    fig.update_yaxes(title_text="position")
    return reversed_y(finish(fig, style, legend=False))


def similarity(result, style: Style, *, label: str = "PE[p]·PE[q]") -> go.Figure:
    """Similarity between every pair of positions, and its profile against the offset
    (``result``: an ``absolute.Similarity``)."""
    sim, profile_offsets, profile = result.dots, result.offsets, result.profile
    fig = subplots(1, 2, column_widths=[0.5, 0.5], horizontal_spacing=0.12,
                        subplot_titles=(label, "as a function of the offset k"))
    fig.add_trace(heatmap(sim, style, diverging=True, showscale=False), 1, 1)
    fig.add_trace(go.Scatter(x=arr(profile_offsets), y=arr(profile), mode="lines", name=label,
                             line=dict(width=style.line_width, color=style.color(0))), 1, 2)
    fig.update_yaxes(autorange="reversed", title_text="position p", row=1, col=1)
    fig.update_xaxes(title_text="position q", row=1, col=1)
    fig.update_xaxes(title_text="offset k = q − p", row=1, col=2)
    fig.update_annotations(font_size=style.font_size)
    return finish(fig, style, legend=False)


def nearest(result, style: Style) -> go.Figure:
    """For each position, how close the most similar *other* position is
    (``result``: an ``absolute.Aliasing``)."""
    d, q, min_gap = arr(result.distances), arr(result.partner), result.min_gap
    p = np.arange(len(d))
    fig = go.Figure(go.Scatter(x=p, y=d, mode="lines", line=dict(width=style.line_width, color=style.color(0)),
                               customdata=q, name="distance",
                               hovertemplate="p=%{x}: closest other q=%{customdata}, ‖PE[p]−PE[q]‖=%{y:.3f}"
                                             "<extra></extra>"))
    worst = int(np.argmin(d))
    fig.add_trace(go.Scatter(x=[worst], y=[d[worst]], mode="markers+text", name="closest pair",
                             text=[f" closest: p={worst}, q={int(q[worst])}"], textposition="top right",
                             marker=dict(size=style.marker_size + 4, color=style.color(5))))
    fig.update_xaxes(title_text="position p")
    fig.update_yaxes(title_text=f"‖PE[p] − PE[q]‖, closest q ≥ {min_gap} away",
                     range=[0, 1.2 * max(float(np.max(d)), result.threshold)])  # room for the label
    fig.add_hline(y=result.threshold, line_dash="dot", line_color="#555",
                  annotation_text=f"below {result.threshold}: aliasing", annotation_position="bottom right")
    return finish(fig, style, legend=False)


def projected_profiles(result, style: Style) -> go.Figure:
    """Raw PE dot products vs offset (one curve), and after W_q, W_k (a curve per start p)
    (``result``: an ``absolute.Limits``)."""
    fig = go.Figure()
    k, curves = arr(result.offsets), result.projected
    fig.add_trace(go.Scatter(x=k, y=arr(result.formula), name="PE[p]·PE[p+k] (any p)", mode="lines",
                             line=dict(width=style.line_width + 1, color="#000")))
    for i, (p, y) in enumerate(curves.items()):
        fig.add_trace(go.Scatter(x=k, y=arr(y), name=f"(W_q PE[{p}])·(W_k PE[{p}+k])", mode="lines",
                                 line=dict(width=style.line_width, color=style.color(i), dash="dot")))
    fig.update_xaxes(title_text="offset k")
    fig.update_yaxes(title_text="dot product")
    return finish(fig, style)


def parameter_counts(rows: list[tuple[str, int]], style: Style) -> go.Figure:
    """Parameter count of learned tables (log scale)."""
    names, counts = zip(*rows)
    fig = go.Figure(go.Bar(x=list(names), y=list(counts), text=[f"{c:,}" for c in counts],
                           textposition="outside", marker_color=[style.color(i) for i in range(len(rows))]))
    fig.update_yaxes(type="log", dtick=1, title_text="parameters (log scale)")  # one tick per power of ten
    return finish(fig, style, legend=False)


def side_by_side(left, right, titles: tuple[str, str], style: Style, *, zmax: float = 1.0,
                 left_pos=None, right_pos=None) -> go.Figure:
    """Two matrices on one colour scale (e.g. a trained table vs a random one).

    ``left_pos`` / ``right_pos``, when given, are the first position of each
    row/column block of an already block-averaged matrix (as returned by
    ``absolute.block_cosine``), so tables of different lengths can sit side by side.
    """
    # large type: the right panel's y ticks ("1000") need the room, or they touch the left panel
    fig = subplots(1, 2, subplot_titles=titles, horizontal_spacing=0.12 if style.lecture else 0.08)
    lp = None if left_pos is None else arr(left_pos)
    rp = None if right_pos is None else arr(right_pos)
    fig.add_trace(heatmap(left, style, x=lp, y=lp, diverging=True, zmax=zmax, showscale=False), 1, 1)
    fig.add_trace(heatmap(right, style, x=rp, y=rp, diverging=True, zmax=zmax, colorbar="cosine"), 1, 2)
    for c in (1, 2):
        fig.update_yaxes(autorange="reversed", row=1, col=c)
        fig.update_xaxes(title_text="position", row=1, col=c)
    fig.update_yaxes(title_text="position", row=1, col=1)
    fig.update_annotations(font_size=style.font_size)
    return finish(fig, style, legend=False)


def shift_similarity(deltas, curves: dict, style: Style) -> go.Figure:
    """Mean cosine similarity between rows p and p + Δ, per table."""
    fig = go.Figure()
    for i, (name, y) in enumerate(curves.items()):
        fig.add_trace(go.Scatter(x=arr(deltas), y=arr(y), name=name, mode="lines",
                                 line=dict(width=style.line_width, color=style.color(i))))
    fig.update_xaxes(title_text="shift Δ (positions)")
    fig.update_yaxes(title_text="mean cos(row p, row p+Δ)")
    return finish(fig, style)


# -- §4 learned tables: the hard end, PCA pairs, what unchecked lookups do ---

def table_limit(norms, neighbour_cos, trained_len: int, query: int | None, style: Style, *,
                marks: dict | None = None) -> go.Figure:
    """Row norm and neighbour cosine of a learned table against position, and the region with no rows.

    A norm far above the rest (row 0 of a BERT table) would flatten the top panel, so values above
    2.2× the median are drawn at the top edge with their value written beside them.
    """
    n, c = arr(norms), arr(neighbour_cos)
    p = np.arange(len(n))
    top = 2.2 * float(np.median(n))
    right = max(2 * trained_len, (query or 0) + 10)
    fig = subplots(2, 1, shared_xaxes=True, vertical_spacing=0.12,
                        subplot_titles=("row norm ‖P[p]‖", "neighbour cosine cos(P[p], P[p+1])"))
    fig.add_trace(go.Scatter(x=p, y=np.minimum(n, top), mode="lines", customdata=n, name="‖P[p]‖",
                             line=dict(width=style.line_width, color=style.color(0)),
                             hovertemplate="p=%{x}: ‖P[p]‖ = %{customdata:.3f}<extra></extra>"), 1, 1)
    big = np.flatnonzero(n > top)
    if big.size:
        fig.add_trace(go.Scatter(x=big, y=np.full(big.size, top), mode="markers+text",
                                 text=[f" p={i}: {n[i]:.2f} (off scale)" for i in big], textposition="bottom right",
                                 marker=dict(symbol="triangle-up", size=style.marker_size + 2, color=style.color(5)),
                                 hoverinfo="skip"), 1, 1)
    fig.add_trace(go.Scatter(x=p[:-1], y=c, mode="lines", name="cos(P[p], P[p+1])",
                             line=dict(width=style.line_width, color=style.color(2)),
                             hovertemplate="p=%{x}: cos = %{y:.3f}<extra></extra>"), 2, 1)
    fig.add_vrect(x0=trained_len - 0.5, x1=right, fillcolor="#D55E00", opacity=0.12, line_width=0, row="all", col=1)
    fig.add_annotation(x=(trained_len + right) / 2, y=0.5, xref="x", yref="y domain", showarrow=False,
                       text=f"no rows ≥ {trained_len}:<br>nothing to look up", bgcolor="rgba(255,255,255,0.85)")
    for x, label in (marks or {}).items():
        fig.add_vline(x=x, line_dash="dot", line_color="#444", line_width=1.5, row="all", col=1)
        fig.add_annotation(x=x, y=0.02, xref="x2", yref="y2 domain", text=f" {label}", showarrow=False,
                           xanchor="left", yanchor="bottom")
    if query is not None:
        inside = 0 <= query < trained_len
        fig.add_vline(x=query, line_color=style.color(2 if inside else 5), line_width=style.line_width,
                      row="all", col=1)
        fig.add_annotation(x=query, y=1.0, xref="x", yref="y domain", yanchor="bottom", showarrow=False,
                           text=f"p = {query}" + ("" if inside else ": no row"),
                           font=dict(color=style.color(2 if inside else 5)))
    fig.update_xaxes(range=[-0.01 * right, right])
    fig.update_xaxes(title_text="position p", row=2, col=1)
    fig.update_yaxes(range=[0, top * 1.06], row=1, col=1)
    fig.update_yaxes(range=[min(0.0, float(np.min(c)) - 0.05), 1.05], row=2, col=1)
    fig.update_annotations(font_size=style.font_size)
    return finish(fig, style, height=int(style.height * 1.5), legend=False)


MAX_MARKERS = 256  # SVG markers a panel draws: 2 × 512 took a browser 186 ms to draw, 2 × 256 about 110


def projection_pair(left, right, titles: tuple[str, str], style: Style, *, start: int = 0,
                    join_max: int = 96) -> go.Figure:
    """Two tables' rows projected to 2D (PCA) side by side, coloured by position ``start, start+1, …``.

    Up to ``join_max`` rows, consecutive rows are joined by a thin line (a steady turn then shows up as
    a ring or arc); with more rows the lines would only hide the points. Past ``MAX_MARKERS`` rows
    plotly draws that many, evenly spread over the positions (``marker.maxdisplayed``): the colour
    ramp and the shape read the same, and the slider stays quick.
    """
    # in large type the right panel's y title needs the room, or it sits on the left panel's tick labels
    fig = subplots(1, 2, subplot_titles=titles, horizontal_spacing=0.16 if style.lecture else 0.1)
    for col, pts in ((1, arr(left)), (2, arr(right))):
        pos = np.arange(start, start + len(pts))
        fig.add_trace(go.Scatter(x=pts[:, 0], y=pts[:, 1], mode="markers+lines" if len(pts) <= join_max else "markers",
                                 line=dict(width=0.8, color="#bbbbbb"),
                                 marker=dict(size=max(style.marker_size - 2, 4), color=pos, cmin=start,
                                             maxdisplayed=MAX_MARKERS if len(pts) > MAX_MARKERS else 0,
                                             cmax=pos[-1], colorscale=style.sequential, showscale=col == 2,
                                             colorbar=dict(title=dict(text="position", side="right"), thickness=14)),
                                 hovertemplate="p=%{marker.color}<extra></extra>"), 1, col)
        short = style.lecture  # in large type the long titles outgrow the panels' height
        fig.update_xaxes(title_text="PC 1" if short else "principal component 1", row=1, col=col)
        fig.update_yaxes(title_text="PC 2" if short else "principal component 2", row=1, col=col)
    fig.update_annotations(font_size=style.font_size)
    return finish(fig, style, legend=False)


def id_mapping(requested, used, trained_len: int, style: Style, *, broken_label: str) -> go.Figure:
    """Which table row each token receives: an unchecked lookup (clamp/wrap) vs the checked one."""
    x, y = arr(requested), arr(used)
    ok = x < trained_len
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=broken_label,
                             line=dict(width=style.line_width, color=style.color(5)),
                             hovertemplate="token at p=%{x} gets row %{y}<extra></extra>"))
    fig.add_trace(go.Scatter(x=x[ok], y=x[ok], mode="lines", name="checked lookup: row p, error when shaded",
                             line=dict(width=style.line_width, color=style.color(0), dash="dash"),
                             hoverinfo="skip"))
    if (~ok).any():
        fig.add_vrect(x0=trained_len - 0.5, x1=float(x.max()) + 0.5, fillcolor="#D55E00", opacity=0.12,
                      line_width=0)  # no text inside: the broken line runs through this region
    fig.update_xaxes(title_text="position id of the token")
    fig.update_yaxes(title_text="table row it receives", rangemode="tozero")
    return finish(fig, style)

