"""Figures for §6 (RoPE): pair rotation, relative scores, wavelengths, norms, layouts, decay.

Pure builders: numbers in (computed by ``posviz.rope``), ``go.Figure`` out.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .style import LEGEND_AT_FOOT, Style, also_here, arr, distinct_markers, finish, subplots


def _arrow(x: float, y: float, color: str, width: float, name: str, style: Style, **kw) -> go.Scatter:
    """A vector from the origin drawn as a line with an arrow head at its tip."""
    return go.Scatter(x=[0.0, x], y=[0.0, y], mode="lines+markers", name=name,
                      line=dict(color=color, width=width),
                      marker=dict(symbol=["circle", "arrow"], size=[1, style.marker_size + 9], color=color,
                                  angleref="previous"),
                      hovertemplate=f"{name}: (%{{x:.3f}}, %{{y:.3f}})<extra></extra>", **kw)


def _ink(fill: str) -> str:
    """Black or white text, whichever reads better on a fill colour ``#rrggbb``."""
    r, g, b = (int(fill[i:i + 2], 16) for i in (1, 3, 5))
    return "#000" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "#fff"


def pair_rotation(rot, style: Style) -> go.Figure:
    """One 2D pair at position 0 and rotated to position m, with the tips of positions 0..m.

    ``rot`` is a ``rope.PairRotation``: ``original`` ``[2]``, ``trail``
    ``[m+1, 2]`` (row p = the pair rotated to position p). A Play button steps
    the moving arrow through 0..m.
    """
    o, t, theta = arr(rot.original), arr(rot.trail), rot.theta
    m = len(t) - 1
    radius = float(np.hypot(*o)) or 1.0
    lim = 1.3 * radius
    phi = np.linspace(0, 2 * np.pi, 181)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=radius * np.cos(phi), y=radius * np.sin(phi), mode="lines", name="circle of radius ‖x‖",
                             line=dict(color="#888", width=1, dash="dot"), hoverinfo="skip", showlegend=False))
    pos = np.arange(m + 1)
    fig.add_trace(go.Scatter(x=t[:, 0], y=t[:, 1], mode="lines+markers+text" if m <= 16 else "lines+markers",
                             name="tip at positions 0…m", text=[str(p) for p in pos], textposition="top center",
                             textfont=dict(size=max(style.font_size - 4, 10)),
                             line=dict(color="#bbb", width=1),
                             marker=dict(size=style.marker_size, color=pos, colorscale=style.sequential,
                                         cmin=0, cmax=max(m, 1), showscale=False),
                             customdata=pos, hovertemplate="position %{customdata}: (%{x:.3f}, %{y:.3f})<extra></extra>"))
    fig.add_trace(_arrow(float(o[0]), float(o[1]), style.color(0), style.line_width, "x at position 0", style))
    fig.add_trace(_arrow(float(t[-1, 0]), float(t[-1, 1]), style.color(5), style.line_width + 1,
                         f"rotated to position {m}", style))
    # Animation: the last trace follows the tip from position 0 to m.
    # Frames carry only the new coordinates: everything else stays from trace 3.
    fig.frames = [dict(data=[dict(type="scatter", x=[0.0, float(t[p, 0])], y=[0.0, float(t[p, 1])])],
                       traces=[3], name=str(p)) for p in range(m + 1)]
    fig.update_layout(updatemenus=[dict(
        type="buttons", showactive=False, x=1.0, y=1.0, xanchor="right", yanchor="bottom",
        buttons=[dict(label="▶ step 0…m", method="animate",
                      args=[None, dict(frame=dict(duration=max(60, 2400 // max(m, 1)), redraw=False),
                                       transition=dict(duration=0), fromcurrent=False, mode="immediate")])])])
    fig.update_xaxes(range=[-lim, lim], zeroline=True, zerolinecolor="#ccc", title_text="first feature of the pair",
                     constrain="domain")
    fig.update_yaxes(range=[-lim, lim], zeroline=True, zerolinecolor="#ccc", title_text="second feature",
                     scaleanchor="x", scaleratio=1, constrain="domain")
    title = f"m·θ = {m * theta:.3f} rad ≡ {np.degrees(m * theta) % 360:.1f}°"
    fig = finish(fig, style, title, height=style.height if style.lecture else int(style.height * 1.3))
    return fig.update_layout(LEGEND_AT_FOOT)  # under the x title; margins.fit makes room, so one draw


def relative_scores(check, style: Style) -> go.Figure:
    """Scores against m − n for every (m, n) of a ``rope.RelativeCheck``.

    Rotated scores fall on one curve; added sinusoids make a cloud.
    """
    offsets, rope_scores, added_scores, m = check.offsets, check.rotated, check.added, check.query_pos
    fig = subplots(1, 2, horizontal_spacing=0.09,
                        subplot_titles=("RoPE: rotate q and k", "Mistake #3: add sinusoids to q and k"))
    x, c = arr(offsets).ravel(), arr(m).ravel()
    uniq, first = np.unique(x, return_index=True)
    fig.add_trace(go.Scatter(x=uniq, y=arr(rope_scores).ravel()[first], mode="lines", name="g(m − n)",
                             line=dict(color="#999", width=1), hoverinfo="skip"), 1, 1)
    for col, s in ((1, rope_scores), (2, added_scores)):
        y = arr(s).ravel()
        keep, count = distinct_markers(x, y)  # the rotated scores: one marker per offset, N² pairs under them
        fig.add_trace(go.Scatter(x=x[keep], y=y[keep], mode="markers", name="(m, n)",
                                 marker=dict(size=max(style.marker_size - 2, 4), color=c[keep], cmin=0, cmax=c.max(),
                                             colorscale=style.sequential, opacity=0.8, showscale=col == 2,
                                             colorbar=dict(title=dict(text="query position m", side="right"),
                                                           thickness=14)),
                                 customdata=np.stack([c, c - x], -1)[keep], text=also_here(count, "pairs"),
                                 hovertemplate="m=%{customdata[0]}, n=%{customdata[1]}: score %{y:.3f}%{text}"
                                               "<extra></extra>"),
                      1, col)
        fig.update_xaxes(title_text="offset m − n", row=1, col=col)
    fig.update_yaxes(title_text="score q_m · k_n", row=1, col=1)
    fig.update_annotations(font_size=style.font_size)
    return finish(fig, style, legend=False)


def wavelengths(ladder, style: Style) -> go.Figure:
    """Wavelength of every pair (log axis) for several bases, against the context length.

    ``ladder`` is a ``rope.WavelengthLadder``: ``curves`` maps base ->
    wavelengths ``[dim/2]``; the chosen base is drawn as markers split into
    "completes a turn" and "never completes one".
    """
    curves, chosen, context_len = ladder.curves, ladder.base, ladder.context
    fig = go.Figure()
    others = [b for b in curves if b != chosen]
    for i, base in enumerate(others):
        w = arr(curves[base])
        fig.add_trace(go.Scatter(x=np.arange(len(w)), y=w, mode="lines", name=f"base {base:,.0f}",
                                 line=dict(color=style.color((2, 3, 4, 7)[i % 4]), width=max(style.line_width - 1, 1.5),
                                           dash="dot")))
    w = arr(curves[chosen])
    for ok, name, c in ((True, f"base {chosen:,.0f}: completes ≥ 1 turn", 0),
                        (False, f"base {chosen:,.0f}: never completes a turn", 5)):
        idx = np.flatnonzero((w <= context_len) == ok)
        fig.add_trace(go.Scatter(x=idx, y=w[idx], mode="markers", name=name,
                                 marker=dict(size=style.marker_size, color=style.color(c),
                                             symbol="circle" if ok else "diamond")))
    fig.add_hline(y=context_len, line_dash="dash", line_color="#000")
    # On a log axis an annotation's y is given in log10 units.
    fig.add_annotation(x=0, y=float(np.log10(context_len)), xref="x", yref="y", text=f"context length {context_len:,}",
                       showarrow=False, xanchor="left", yanchor="bottom", font=dict(size=style.font_size))
    fig.update_xaxes(title_text="pair index i (fast → slow)")
    fig.update_yaxes(type="log", title_text="wavelength 2π/θ_i (positions)", exponentformat="power")
    return finish(fig, style)


def norm_ratios(check, style: Style) -> go.Figure:
    """‖RoPE(x, p)‖ / ‖x‖ against the position p, one line per random vector (a ``rope.NormCheck``)."""
    p, r, title = arr(check.positions), arr(check.ratios), check.title
    fig = go.Figure()
    for j in range(r.shape[0]):
        fig.add_trace(go.Scatter(x=p, y=r[j], mode="lines", name=f"vector {j}", showlegend=False,
                                 line=dict(width=max(style.line_width - 1, 1.5), color=style.color(j))))
    fig.add_hline(y=1.0, line_dash="dash", line_color="#000", annotation_text="norm unchanged",
                  annotation_position="bottom right", annotation_bgcolor="rgba(255,255,255,0.85)")
    fig.update_xaxes(title_text="position p")
    fig.update_yaxes(title_text="‖rotated‖ / ‖original‖", range=[0.0, 1.6])
    return finish(fig, style, title, legend=False)


def pairing_diagram(table, style: Style) -> go.Figure:
    """Which features rotate together: one row per layout, an arc per pair, coloured by speed.

    ``table`` is a ``rope.Pairings``: ``pairs`` maps a row label ->
    ``[dim/2, 2]`` feature indices; ``inv_freq`` ``[dim/2]`` the pair speeds.
    """
    pairs, th = table.pairs, arr(table.inv_freq)
    fig = go.Figure()
    labels = list(pairs)
    n_pairs = len(th)
    dim = 2 * n_pairs
    t = np.linspace(0, np.pi, 40)
    arcs = [([], []) for _ in range(n_pairs)]  # one trace per pair, its arcs in every row joined by gaps
    for row, label in enumerate(labels):
        y0 = -2.2 * row
        idx = arr(pairs[label]).astype(int)
        owner = np.empty(dim, dtype=int)
        for i, (a, b) in enumerate(idx):
            owner[a] = owner[b] = i
            h = 0.35 + 1.3 * abs(b - a) / dim
            arcs[i][0].extend([*(a + (b - a) * (1 - np.cos(t)) / 2), None])
            arcs[i][1].extend([*(y0 + h * np.sin(t)), None])
        fig.add_trace(go.Scatter(x=np.arange(dim), y=np.full(dim, y0), mode="markers+text", showlegend=False,
                                 text=[str(o) for o in owner],
                                 textfont=dict(color=[_ink(style.color(o)) for o in owner], size=max(style.font_size - 4, 10)),
                                 marker=dict(size=style.marker_size + 14, color=[style.color(o) for o in owner],
                                             line=dict(color="#000", width=1)),
                                 customdata=owner, hovertemplate="feature %{x}: pair %{customdata}<extra></extra>"))
        fig.add_annotation(x=-0.6, y=y0 + 1.3, text=f"<b>{label}</b>", showarrow=False, xanchor="left",
                           font=dict(size=style.font_size))
    for i, (xs, ys) in enumerate(arcs):
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color=style.color(i), width=style.line_width),
                                 showlegend=False, hoverinfo="skip"))
    fig.data = fig.data[len(labels):] + fig.data[:len(labels)]  # arcs under the feature circles
    fig.update_xaxes(title_text="feature index (circle label = pair i; pair 0 turns fastest)", range=[-0.8, dim - 0.2],
                     dtick=1 if dim <= 16 else 2, showgrid=False, zeroline=False)
    fig.update_yaxes(visible=False, range=[-2.2 * (len(labels) - 1) - 0.6, 1.65])
    return finish(fig, style, height=int(style.height * 0.8), legend=False)


def layout_mismatch(mis, run_label: str, style: Style) -> go.Figure:
    """A head made for one pairing (a ``rope.LayoutMismatch``): its score curve and the last query's attention,
    as made vs as run."""
    offsets, designed, run_scores = mis.offsets, mis.designed, mis.scores
    designed_attn, run_attn = mis.attn_designed, mis.attn_run
    # on a slide the right panel's tick labels and y title need a wider gap, or they sit on the left panel
    fig = subplots(1, 2, column_widths=[0.55, 0.45], horizontal_spacing=0.15 if style.lecture else 0.1,
                   subplot_titles=("score against m − n", "attention of the last query (causal)"))
    x = arr(offsets).ravel()
    order = np.argsort(x, kind="stable")
    fig.add_trace(go.Scatter(x=x[order], y=arr(designed).ravel()[order], mode="lines", name="as made",
                             line=dict(color="#000", width=style.line_width)), 1, 1)
    y = arr(run_scores).ravel()
    keep, count = distinct_markers(x, y)
    fig.add_trace(go.Scatter(x=x[keep], y=y[keep], mode="markers", name=f"run {run_label}",
                             marker=dict(size=max(style.marker_size - 2, 4), color=style.color(5), symbol="x"),
                             text=also_here(count, "pairs"),
                             hovertemplate="m − n = %{x}: score %{y:.3f}%{text}<extra></extra>"), 1, 1)
    a, b = arr(designed_attn), arr(run_attn)
    dist = np.arange(len(a))
    fig.add_trace(go.Bar(x=dist, y=a, name="as made", marker_color="#000", showlegend=False), 1, 2)
    fig.add_trace(go.Bar(x=dist, y=b, name=f"run {run_label}", marker_color=style.color(5), showlegend=False), 1, 2)
    fig.update_layout(barmode="group", bargap=0.15)
    fig.update_xaxes(title_text="offset m − n", row=1, col=1)
    fig.update_yaxes(title_text="score", row=1, col=1)
    fig.update_xaxes(title_text="how far back (m − n)", row=1, col=2)
    # the slide's short panel has no room for the longer title turned on its side (the panel title says whose)
    fig.update_yaxes(title_text="weight" if style.lecture else "attention weight", rangemode="tozero", row=1, col=2)
    fig.update_annotations(font_size=style.font_size)
    fig = finish(fig, style)
    # the legend at the figure's top edge (container coordinates): plotly keeps the panel titles below it
    fig.update_layout(legend=dict(yref="container", y=1.0, yanchor="top"), margin=dict(t=fig.layout.margin.t + 50))
    return fig


def decay(curve, actual_label: str, style: Style) -> go.Figure:
    """RoFormer's relative upper bound and a measured mean |q·k| against distance, each ÷ its value at 0
    (a ``rope.DecayCurve``)."""
    r, bound, actual = arr(curve.distances), curve.bound_rel, curve.actual_rel
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=r, y=arr(bound), mode="lines", name="RoFormer bound (1/(d/2))·Σ|S_j|",
                             line=dict(color=style.color(0), width=style.line_width)))
    fig.add_trace(go.Scatter(x=r, y=arr(actual), mode="lines", name=actual_label,
                             line=dict(color=style.color(5), width=max(style.line_width - 1, 1.5))))
    fig.update_xaxes(title_text="relative distance m − n")
    fig.update_yaxes(title_text="value ÷ value at distance 0", rangemode="tozero")
    return finish(fig, style)
