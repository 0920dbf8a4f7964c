"""Figures for the extrapolation lab: perplexity by length, loss by position, training curves.

Pure builders over ``posviz.lab.runner.Row`` summaries and run dicts; every
number comes from a results file written by ``python -m posviz.lab run``.
"""

from __future__ import annotations

import math

import plotly.graph_objects as go

from .style import LEGEND_AT_FOOT, Style, finish

DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")


def _index(labels: dict, variant: str, fallback: int) -> int:
    """A variant keeps its colour from chart to chart: its place in the page's full list of variants."""
    return list(labels).index(variant) if variant in labels else fallback


def _look(i: int, style: Style) -> dict:
    return dict(color=style.color(i), width=style.line_width, dash=DASHES[(i // len(style.colors)) % len(DASHES)])


def _band(x, low, high, color: str, name: str) -> go.Scatter:
    """The min–max range over seeds as a closed, light polygon behind the mean line."""
    r, g, b = (int(color[k:k + 2], 16) for k in (1, 3, 5))
    return go.Scatter(x=list(x) + list(x)[::-1], y=list(high) + list(low)[::-1], fill="toself",
                      fillcolor=f"rgba({r},{g},{b},0.18)", mode="lines", line=dict(width=0), hoverinfo="skip",
                      showlegend=False, legendgroup=name)


def perplexity_by_length(rows, labels: dict, train_len: int, style: Style, *, extra=()) -> go.Figure:
    """Mean perplexity against evaluation length (log–log), min–max over seeds as a band.

    ``extra``: rows from the learner's own live runs, drawn dashed on top.
    """
    fig = go.Figure()
    for i, (row, own) in enumerate([(r, False) for r in rows] + [(r, True) for r in extra]):
        xs = [n for n, v in row.mean.items() if v is not None]
        if not xs:
            continue
        look = _look(_index(labels, row.variant, i), style)
        name = labels.get(row.variant, row.variant) + (f" (your run, L = {min(row.mean)})" if own else "")
        if row.n_seeds > 1:
            fig.add_trace(_band(xs, [row.low[n] for n in xs], [row.high[n] for n in xs], look["color"], name))
        fig.add_trace(go.Scatter(x=xs, y=[row.mean[n] for n in xs], name=name, legendgroup=name,
                                 mode="lines+markers", marker=dict(size=style.marker_size),
                                 line={**look, "dash": "dash" if own else look["dash"]},
                                 hovertemplate=f"{name}<br>length %{{x}}<br>perplexity %{{y:.2f}}<extra></extra>"))
    # On a log axis a shape takes data values but an annotation takes log10 values (add_vline would put
    # its label at 10^L and stretch the axis to it), so the line and its label are placed separately.
    fig.add_shape(type="line", xref="x", yref="paper", x0=train_len, x1=train_len, y0=0, y1=1,
                  line=dict(color="#000", dash="dot", width=1.5))
    fig.add_annotation(xref="x", yref="paper", x=math.log10(train_len), y=1, text=f"trained at L = {train_len}",
                       showarrow=False, xanchor="left", yanchor="bottom", font=dict(size=style.font_size - 2))
    fig.update_xaxes(type="log", title="evaluation window (bytes)", tickvals=[train_len * f for f in (1, 2, 4, 8)])
    # On a slide the plot is ~250 px tall for 1–2 decades: plotly then labels every digit (its "D1"),
    # and 9, 8, 7, 6 ran into each other; 2 and 5 between the powers of ten stay apart.
    fig.update_yaxes(type="log", title="perplexity (bytes, lower is better)", dtick="D2" if style.lecture else None)
    finish(fig, style, height=style.height + 140)
    fig.update_layout(LEGEND_AT_FOOT)  # long names: under the plot
    return fig


def loss_by_position(rows, labels: dict, train_len: int, longest: int, style: Style) -> go.Figure:
    """Mean loss (nats per byte) at each position of the longest window, in bins; the training length marked."""
    fig = go.Figure()
    for i, row in enumerate(rows):
        if not row.per_position:
            continue
        width = longest / len(row.per_position)
        xs = [(k + 0.5) * width for k in range(len(row.per_position))]
        name = labels.get(row.variant, row.variant)
        fig.add_trace(go.Scatter(x=xs, y=row.per_position, name=name, mode="lines",
                                 line=_look(_index(labels, row.variant, i), style),
                                 hovertemplate=f"{name}<br>position ≈ %{{x:.0f}}<br>loss %{{y:.3f}}<extra></extra>"))
    fig.add_vrect(x0=0, x1=train_len, fillcolor="rgba(0,114,178,0.08)", line_width=0,
                  annotation=dict(text="positions seen in training", font=dict(size=style.font_size - 2)),
                  annotation_position="top left")
    fig.update_xaxes(title=f"position inside a {longest}-byte window")
    fig.update_yaxes(title="loss (nats per byte)")
    finish(fig, style, height=style.height + 60)
    fig.update_layout(LEGEND_AT_FOOT)  # long names: under the plot
    return fig


def training_curves(curves: dict, labels: dict, style: Style) -> go.Figure:
    """Training loss against step, one line per scheme (the mean over seeds at shared steps)."""
    fig = go.Figure()
    for i, (scheme, points) in enumerate(curves.items()):
        steps, losses = zip(*points) if points else ((), ())
        fig.add_trace(go.Scatter(x=steps, y=losses, name=labels.get(scheme, scheme), mode="lines",
                                 line=_look(_index(labels, scheme, i), style)))
    fig.update_xaxes(title="training step")
    fig.update_yaxes(title="training loss (nats per byte)", type="log")
    finish(fig, style, height=style.height + 60)
    fig.update_layout(LEGEND_AT_FOOT)  # long names: under the plot
    return fig
