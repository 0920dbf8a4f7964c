"""Figures for §8b (probing a real model: SmolLM2-135M): the needle grid, the decode check, attention entropy.

Pure plotly builders over ``posviz.probes`` results; never Streamlit.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .style import Style, arr, finish, subplots

CORRECT, BUGGY, BOUND = "#0072B2", "#D55E00", "#6E6E6E"  # Okabe & Ito blue, vermillion; grey for limits


def _legend_on_top(fig: go.Figure, style: Style) -> go.Figure:
    """Subplot titles in the first row of the top margin, the legend above them (in lecture type its
    entries wrap onto a second row)."""
    return fig.update_layout(legend=dict(yref="container", y=1.0, yanchor="top", x=0, xanchor="left"),
                             margin=dict(t=(3 if style.lecture else 2) * style.font_size + 44))


def needle(grid, style: Style) -> go.Figure:
    """p(code) by depth × length as a heatmap, and the same numbers as one curve per length against depth
    (``grid``: a ``probes.NeedleGrid``)."""
    p = arr(grid.p)  # [depths, lengths]
    depths = [f"{d:g}" for d in grid.depths]
    lengths = [str(n) for n in grid.lengths]
    fig = subplots(1, 2, column_widths=[0.45, 0.55], horizontal_spacing=0.14,
                   subplot_titles=("p(code), depth × length", "p(code) against depth"))
    fig.add_trace(go.Heatmap(
        z=p, x=lengths, y=depths, zmin=0.0, zmax=1.0, colorscale=style.sequential, customdata=arr(grid.placed),
        texttemplate="%{z:.2f}", textfont=dict(size=max(style.font_size - 5, 9)), showscale=False,
        hovertemplate="%{x} tokens, depth %{y} (placed at %{customdata:.2f})<br>p(code) = %{z:.3f}<extra></extra>"),
        1, 1)
    for j, n in enumerate(grid.lengths):
        fig.add_trace(go.Scatter(
            x=list(grid.depths), y=p[:, j], mode="lines+markers", name=f"{n} tokens",
            line=dict(width=style.line_width * 0.8, color=style.color(j)), marker=dict(size=style.marker_size),
            hovertemplate=f"{n} tokens" + ", depth %{x:g}: p(code) = %{y:.3f}<extra></extra>"), 1, 2)
    fig.update_xaxes(title_text="context length (tokens)", type="category", row=1, col=1)
    fig.update_yaxes(title_text="needle depth (0 = start)", type="category", autorange="reversed", row=1, col=1)
    fig.update_xaxes(title_text="needle depth", range=[-0.03, 1.03], row=1, col=2)
    fig.update_yaxes(title_text="p(code)", range=[0, 1.02], row=1, col=2)
    fig.update_annotations(font_size=style.font_size)
    return _legend_on_top(finish(fig, style, height=style.height + 80), style)


def decode(check, labels: dict[str, str], style: Style) -> go.Figure:
    """The position id of every slot under both loops, and each step's gap to a full recompute (log scale)
    (``check``: a ``probes.DecodeCheck``)."""
    # on a slide the log panel's "10⁻⁴" ticks and y title need a wider gap, or the title sits on the left panel
    fig = subplots(1, 2, column_widths=[0.42, 0.58], horizontal_spacing=0.16 if style.lecture else 0.12,
                   subplot_titles=("position id of each token", "max |Δ logit| vs full recompute"))
    n = check.n_prompt
    for run, color, symbol in ((check.correct, CORRECT, "circle"), (check.buggy, BUGGY, "x")):
        ids = np.concatenate([arr(run.prefill_ids), arr(run.decode_ids)])
        name = labels[run.bug]
        fig.add_trace(go.Scatter(x=np.arange(len(ids)), y=ids, mode="markers", name=name, legendgroup=run.bug,
                                 marker=dict(color=color, symbol=symbol, size=style.marker_size),
                                 hovertemplate="token %{x}: id %{y}<extra>" + name + "</extra>"), 1, 1)
        gap = np.maximum(arr(run.gap), 1e-7)  # a gap of exactly 0 has no place on a log axis
        fig.add_trace(go.Scatter(x=np.arange(len(gap)), y=gap, mode="lines+markers", name=name,
                                 legendgroup=run.bug, showlegend=False,
                                 line=dict(color=color, width=style.line_width * 0.8),
                                 marker=dict(symbol=symbol, size=style.marker_size),
                                 hovertemplate="step %{x}: %{y:.2g}<extra>" + name + "</extra>"), 1, 2)
    fig.add_vline(x=n - 0.5, line_dash="dot", line_color=BOUND, row=1, col=1,
                  annotation_text="generated →", annotation_position="bottom right")
    for y, text in ((check.tolerance, "tolerance"), (check.threshold, "visible")):
        fig.add_hline(y=y, line_dash="dash", line_color=BOUND, row=1, col=2)
        # on a log axis an annotation's y is log10 of the value (plotly does not convert it)
        fig.add_annotation(x=1, xref="x2 domain", y=float(np.log10(y)), yref="y2", text=f"{text} {y:g}",
                           showarrow=False, xanchor="right", yanchor="bottom", font_color=BOUND)
    fig.update_xaxes(title_text="token (prompt, then generated)", row=1, col=1)
    fig.update_yaxes(title_text="position id", rangemode="tozero", row=1, col=1)
    fig.update_xaxes(title_text="generation step", dtick=2 if len(check.correct.tokens) <= 24 else None, row=1, col=2)
    fig.update_yaxes(title_text="|Δ logit| (log)", type="log", range=[-7.2, 1.8], dtick=2, exponentformat="power",
                     row=1, col=2)
    fig.update_annotations(font_size=style.font_size - 2)
    return _legend_on_top(finish(fig, style, height=style.height + 40), style)


def entropy(comparison, style: Style) -> go.Figure:
    """Mean attention entropy by query position with and without scaling, under the ln(i+1) ceiling; and the
    change in each layer (``comparison``: a ``probes.EntropyComparison``)."""
    base, scaled = arr(comparison.base.by_position), arr(comparison.scaled.by_position)
    x = np.arange(len(base))
    fig = subplots(1, 2, column_widths=[0.62, 0.38], horizontal_spacing=0.12,
                   subplot_titles=("mean entropy over layers and heads", "change per layer"))
    fig.add_trace(go.Scatter(x=x, y=arr(comparison.bound), mode="lines", name="ln(i+1): evenly spread",
                             line=dict(color=BOUND, dash="dot", width=style.line_width * 0.6)), 1, 1)
    fig.add_trace(go.Scatter(x=x, y=base, mode="lines", name="no scaling",
                             line=dict(color=CORRECT, width=style.line_width * 0.6)), 1, 1)
    fig.add_trace(go.Scatter(x=x, y=scaled, mode="lines", name=comparison.label,
                             line=dict(color=BUGGY, width=style.line_width * 0.6)), 1, 1)
    rise = arr(comparison.rise_by_layer)
    fig.add_trace(go.Bar(x=np.arange(len(rise)), y=rise, showlegend=False,
                         marker_color=[BUGGY if r > 0 else CORRECT for r in rise],
                         hovertemplate="layer %{x}: %{y:+.3f} nats<extra></extra>"), 1, 2)
    fig.update_xaxes(title_text="query position i", row=1, col=1)
    fig.update_yaxes(title_text="entropy (nats)", rangemode="tozero", row=1, col=1)
    fig.update_xaxes(title_text="layer", row=1, col=2)
    fig.update_yaxes(title_text="Δ entropy (nats)", zeroline=True, row=1, col=2)
    fig.update_annotations(font_size=style.font_size)
    return _legend_on_top(finish(fig, style, height=style.height + 40), style)
