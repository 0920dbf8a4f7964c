"""Skill-check figures: how posviz computed a numeric answer, mastery per section, history per day."""

from __future__ import annotations

import plotly.graph_objects as go

from .style import Style, finish, subplots


def working(w, style: Style) -> go.Figure:
    """The series a numeric answer is read from (``posviz.quiz.Working``), the asked point highlighted."""
    fig = subplots(1, 1)
    x, y = list(w.x), list(w.y)
    if w.compare is not None:
        name, cx, cy = w.compare
        fig.add_trace(go.Scatter(x=list(cx), y=list(cy), name=name, mode="lines",
                                 line=dict(color=style.color(7), width=style.line_width * 0.6, dash="dot")))
    if w.kind == "bar":
        colors = [style.color(1) if k == w.mark else style.color(4) for k in range(len(x))]
        fig.add_trace(go.Bar(x=x, y=y, name=w.name, marker_color=colors, showlegend=w.compare is not None))
    else:
        shape = "hv" if w.kind == "step" else "linear"
        fig.add_trace(go.Scatter(x=x, y=y, name=w.name, mode="lines", line=dict(color=style.color(0),
                                 width=style.line_width, shape=shape), showlegend=w.compare is not None))
    fig.add_trace(go.Scatter(x=[x[w.mark]], y=[y[w.mark]], mode="markers+text", name="asked",
                             text=[w.label or f"{y[w.mark]:.6g}"], textposition="top center", showlegend=False,
                             marker=dict(size=style.marker_size * 2, color=style.color(5), symbol="diamond",
                                         line=dict(color="#000", width=1))))
    fig.update_xaxes(title_text=w.xtitle)
    fig.update_yaxes(title_text=w.ytitle, type="log" if w.log_y else None)
    return finish(fig, style, height=int(style.height * 0.8), legend=w.compare is not None)


def mastery(rows, style: Style) -> go.Figure:
    """Mastery per lesson section (``posviz.quiz.SectionMastery``), 0–100 %, with items seen / in the bank."""
    fig = subplots(1, 1)
    x = [f"§{r.section}" for r in rows]
    fig.add_trace(go.Bar(x=x, y=[100 * r.mastery for r in rows], marker_color=style.color(2), name="mastery",
                         text=[f"{r.seen}/{r.items}" for r in rows], textposition="outside",
                         hovertemplate="%{x}: %{y:.0f} % (items seen: %{text})<extra></extra>"))
    fig.update_yaxes(title_text="mastery (%)", range=[0, 115], tickvals=[0, 25, 50, 75, 100])
    fig.update_xaxes(title_text="lesson section (label: items answered / items in the bank)")
    return finish(fig, style, legend=False)


def history(days, style: Style) -> go.Figure:
    """Right and wrong answers per day (``posviz.quiz.Day``), stacked."""
    fig = subplots(1, 1)
    x = [d.day.isoformat() for d in days]
    fig.add_trace(go.Bar(x=x, y=[d.right for d in days], name="right", marker_color=style.color(2)))
    fig.add_trace(go.Bar(x=x, y=[d.wrong for d in days], name="wrong", marker_color=style.color(5)))
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title_text="day (UTC)", type="category")
    fig.update_yaxes(title_text="answers")
    return finish(fig, style)
