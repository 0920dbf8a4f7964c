"""Figures for §9 (common mistakes): the broken and the fixed version side by side, on shared axes.

Pure builder: a ``posviz.mistakes.MistakeDemo`` in, ``go.Figure`` out. Both panels share their y axis
(and a heatmap colour scale), so a flat line or an empty matrix on the fixed side reads as what it is,
not as noise blown up by autoscaling.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .style import LEGEND_AT_FOOT, Style, arr, finish, heatmap, subplots

SERIES_COLORS = (0, 5, 2, 3, 1, 4)  # Okabe-Ito indices: blue, vermillion, green, purple, orange, sky
MARKERS = {"markers": ("diamond", "#000000", 3),   # a tested point that passed
           "misses": ("x", "#D55E00", 4),          # a tested point that failed
           "flags": ("circle", "#D55E00", -3)}     # every failure along a measured curve


def _x(values) -> np.ndarray | list:
    return list(values) if isinstance(values, tuple) else arr(values)


def _series(fig: go.Figure, panel, col: int, style: Style, shown: set) -> None:
    """The panel's series into column ``col``; a name already in the legend is not listed again."""
    for i, s in enumerate(panel.series):
        if not len(s.x):
            continue  # nothing to draw, and no legend entry that the other panel would then lack
        color = style.color(SERIES_COLORS[i % len(SERIES_COLORS)])  # by series, so the legend holds for both panels
        first = s.name not in shown
        shown.add(s.name)
        common = dict(name=s.name, legendgroup=s.name, showlegend=first)
        x, y = _x(s.x), arr(s.y)
        if s.mode == "bars":
            fig.add_trace(go.Bar(x=x, y=y, marker_color=color, **common), 1, col)
        elif s.mode in MARKERS:
            symbol, color, grow = MARKERS[s.mode]
            fig.add_trace(go.Scatter(x=x, y=y, mode="markers", marker=dict(size=style.marker_size + grow, color=color,
                                                                            symbol=symbol), **common), 1, col)
        else:
            dash = "dash" if s.mode == "dash" else None
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines", line=dict(color=color, width=style.line_width, dash=dash),
                                     **common), 1, col)


def side_by_side(demo, style: Style) -> go.Figure:
    """Broken (left) and fixed (right) panels of one mistake, with their titles and a shared scale."""
    panels = (demo.broken, demo.fixed)
    fig = subplots(1, 2, horizontal_spacing=0.1, subplot_titles=tuple(p.title for p in panels))
    heat = panels[0].z is not None
    if heat:
        zs = [arr(p.z) for p in panels]
        lo, hi = panels[0].zrange or (min(float(np.nanmin(z)) for z in zs), max(float(np.nanmax(z)) for z in zs))
        scale = dict(diverging=True, zmax=max(abs(lo), abs(hi)) or 1.0) if lo < 0 else dict(zmin=lo, zmax=hi)
        for col, z in enumerate(zs, start=1):
            fig.add_trace(heatmap(z, style, showscale=col == 2, colorbar=panels[0].zlabel, **scale), 1, col)
    else:
        shown: set = set()
        for col, p in enumerate(panels, start=1):
            _series(fig, p, col, style, shown)
            if p.hline is not None:  # a reference level, drawn as a trace so the legend names it
                xs = [v for s in p.series for v in _x(s.x)]
                first = p.hline_label not in shown
                shown.add(p.hline_label)
                fig.add_trace(go.Scatter(x=[min(xs), max(xs)], y=[p.hline, p.hline], mode="lines",
                                         name=p.hline_label, legendgroup=p.hline_label, showlegend=first,
                                         line=dict(color="#555", width=1.5, dash="dot"), hoverinfo="skip"), 1, col)
    axes = {}
    for col, p in enumerate(panels, start=1):
        n = "" if col == 1 else "2"
        axes[f"xaxis{n}"] = dict(title_text=p.xtitle)
        axes[f"yaxis{n}"] = dict(matches="y" if col == 2 else None, type="log" if p.log_y else None,
                                 autorange="reversed" if heat else None, title_text=p.ytitle if col == 1 else None)
    fig.update_layout(**axes)  # one call: update_xaxes(row=, col=) and add_hline cost ~5-10 ms each
    fig.update_annotations(font_size=style.font_size)
    fig = finish(fig, style, legend=not heat, height=style.height + (0 if heat else 60))
    if not heat:
        fig.update_layout(LEGEND_AT_FOOT)
    return fig
