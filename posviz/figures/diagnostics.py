"""Figures for §8 (diagnostics): every scheme side by side, attention profiles, the decode simulator."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .style import LEGEND_AT_FOOT, Style, arr, finish, fit_titles_to_slide, subplots

CHANGED = 1e-6  # gaps above this are drawn as "changed" (diagnostics.CHANGED)
ORDER = ("none", "sinusoidal", "learned", "t5", "rope", "rope_scaled", "alibi")


def _color(name: str, style: Style) -> str:
    return style.color(ORDER.index(name) if name in ORDER else len(ORDER))


def _gap_text(v) -> str:
    return "no row" if v is None else "0" if v == 0 else f"{v:.1g}"


def _titles(fig: go.Figure, style: Style) -> list:
    """The subplot titles make_subplots placed, at this style's size (to pass on with new annotations)."""
    return [dict(a.to_plotly_json(), font=dict(size=style.font_size - 1)) for a in fig.layout.annotations]


def _bars(labels, values, texts, colors, axis) -> dict:
    return dict(type="bar", y=labels, x=values, orientation="h", text=texts, textposition="outside",
                cliponaxis=False, marker=dict(color=colors), xaxis=f"x{axis}", yaxis=f"y{axis}")


def _line(x, y, axis: int, **kw) -> dict:
    """A scatter trace as a plain dict (validated once, by add_traces) on panel ``axis`` (1, 2, 3)."""
    suffix = "" if axis == 1 else axis
    return dict(type="scatter", x=x, y=y, xaxis=f"x{suffix}", yaxis=f"y{suffix}", **kw)


def _shift_titles(delta: int, style: Style) -> tuple[str, str]:
    """The two x titles of the permutation/shift bars; shorter in lecture type, where each gets half a slide."""
    if style.lecture:
        return "shuffled tokens", f"shifted by Δ = {delta}"
    return "ids 0 … n − 1, shuffled tokens", f"ids Δ … Δ + n − 1, Δ = {delta}"


def _done(fig: go.Figure, style: Style, height: int, layout: dict, *, legend_below: bool = False) -> go.Figure:
    """``finish`` plus this figure's own layout in one more update (each update_layout costs milliseconds);
    ``legend_below`` puts the legend under the panels, clear of the subplot titles."""
    finish(fig, style, height=height, legend=legend_below)
    if legend_below:
        layout = dict(layout, **LEGEND_AT_FOOT)
    return fit_titles_to_slide(fig.update_layout(layout), style)  # titles set here fit a slide too


def scheme_tests(tests, style: Style) -> go.Figure:
    """Permutation and shift gaps per scheme, one bar each, value printed (``tests``: ``diagnostics.SchemeTests``)."""
    names = list(tests.labels)
    labels = [tests.labels[n] for n in names]
    mask = " with a causal mask" if tests.causal else ""
    cut = "<br>" if style.lecture else " "  # large type: half a slide is too narrow for one line
    titles = (f"Shuffled{mask}:{cut}max |Δ output|", f"Ids shifted by Δ:{cut}max |Δ score|")  # fixed: cached layout
    fig = subplots(1, 2, subplot_titles=titles, shared_yaxes=True, horizontal_spacing=0.08)
    traces, axes = [], {}
    for c, gaps in enumerate((tests.permutation_gaps, tests.shift_gaps), start=1):
        shown = [0.0 if gaps[n] is None else gaps[n] for n in names]
        traces.append(_bars(labels, shown, [_gap_text(gaps[n]) for n in names],
                            [style.color(5) if v > CHANGED else style.color(2) for v in shown], "" if c == 1 else c))
        axes[f"xaxis{'' if c == 1 else c}"] = dict(range=[0, max(max(shown), 1e-9) * 1.35],
                                                   title_text=_shift_titles(tests.delta, style)[c - 1])
    fig.add_traces(traces)
    top = dict(margin=dict(t=2 * style.font_size + 30)) if style.lecture else {}
    return _done(fig, style, max(260, style.font_size * 3 * len(names) + 90),
                 dict(axes, yaxis=dict(autorange="reversed"), annotations=_titles(fig, style), **top))


def attention_profile(profile, style: Style) -> go.Figure:
    """Entropy and mean distance by query position, and the distance histogram, one line per scheme
    (``profile``: ``diagnostics.AttentionProfile``); dashed black: attention spread evenly."""
    n = profile.n_tokens
    q = np.arange(n)
    titles = ("Entropy of query i (nats)", "Mean distance Σ p·|i − j|", "Attention mass at distance d")
    # on a slide the third panel's log ticks (10⁻⁴ in 22-px type) need ~70 px between the panels
    fig = subplots(1, 3, subplot_titles=titles, horizontal_spacing=0.11 if style.lecture else 0.07)
    even = dict(color="#000000", dash="dash", width=style.line_width * 0.6)
    spread = np.cumsum((1.0 / (q + 1))[::-1])[::-1] / n  # h(d) = (1/n) Σ_{i ≥ d} 1/(i + 1)
    traces = [_line(q, y, c, name="spread evenly", line=even, showlegend=c == 1, legendgroup="even")
              for c, y in enumerate((arr(profile.bound), q / 2, spread), start=1)]
    for name in profile.entropy:
        line = dict(color=_color(name, style), width=style.line_width)
        for c, series in enumerate((profile.entropy, profile.mean_distance, profile.histogram), start=1):
            traces.append(_line(q, arr(series[name]), c, name=profile.labels[name], line=line, legendgroup=name,
                                showlegend=c == 1))
    fig.add_traces(traces)
    return _done(fig, style, style.height + 140, dict(
        xaxis=dict(title_text="query position i"), xaxis2=dict(title_text="query position i"),
        xaxis3=dict(title_text="distance d = i − j"), yaxis3=dict(type="log", dtick=1, exponentformat="power"),
        annotations=_titles(fig, style)), legend_below=True)


def decode_run(run, style: Style) -> go.Figure:
    """Left: the id each slot gets, correct vs this loop's. Right: each real slot's logit gap to the full
    recompute with correct ids and with the same ids (``run``: ``decode.DecodeRun``)."""
    slots = np.arange(len(run.tokens))
    real = arr(run.mask).astype(bool)
    fig = subplots(1, 2, column_widths=[0.5, 0.5], horizontal_spacing=0.1,
                   subplot_titles=("Position id of each slot", "|Δ logit| against a full recompute"))
    pads = int((~real[:run.prompt_slots]).sum())
    regions = ((0, pads, "#BBBBBB", "pad"), (pads, run.prompt_slots, style.color(4), "prompt"),
               (run.prompt_slots, len(slots), style.color(1), "steps"))
    shapes = [dict(type="rect", xref=x, yref=f"{y} domain", x0=x0 - 0.5, x1=x1 - 0.5, y0=0, y1=1, fillcolor=color,
                   opacity=0.15, line=dict(width=0), layer="below")
              for x0, x1, color, _ in regions if x1 > x0 for x, y in (("x", "y"), ("x2", "y2"))]
    shapes.append(dict(type="line", xref="x2 domain", yref="y2", x0=0, x1=1, y0=1e-4, y1=1e-4,
                       line=dict(color="#000000", dash="dash", width=1.5)))
    notes = [dict(x=(x0 + x1 - 1) / 2, y=0.99, xref="x", yref="y domain", text=label, showarrow=False,
                  yanchor="top", font=dict(size=style.font_size - 5)) for x0, x1, _, label in regions if x1 > x0]
    notes.append(dict(x=0, xref="x2 domain", y=-4, yref="y2", text="float32 rounding", showarrow=False,
                      xanchor="left", yanchor="top", font=dict(size=style.font_size - 4)))  # y in log10 units
    size = style.marker_size + 4
    traces = [_line(slots, arr(run.correct_ids), 1, mode="markers", name="correct id",
                    marker=dict(size=size + 4, symbol="circle-open", color=style.color(2), line=dict(width=3))),
              _line(slots, arr(run.used_ids), 1, mode="markers", name="id this loop gives",
                    marker=dict(size=size - 2, symbol="x", color=style.color(5)))]
    for gap, name, color, symbol in ((run.bug_gap, "vs correct ids", style.color(5), "diamond"),
                                     (run.cache_gap, "vs the same ids (cache check)", style.color(0), "circle")):
        traces.append(_line(slots[real], np.maximum(arr(gap)[real], 1e-9), 2, mode="markers+lines", name=name,
                            marker=dict(size=size - 2, color=color, symbol=symbol),
                            line=dict(color=color, width=style.line_width * 0.5)))
    fig.add_traces(traces)
    return _done(fig, style, style.height + 80, dict(
        xaxis=dict(title_text="slot"), xaxis2=dict(title_text="slot"), yaxis=dict(title_text="id", rangemode="tozero"),
        yaxis2=dict(type="log", dtick=2, range=[-9.5, 2], exponentformat="power"), shapes=shapes,
        annotations=_titles(fig, style) + notes), legend_below=True)


def scheme_facts(table, style: Style) -> go.Figure:
    """Two measured rows of "choosing a scheme" as bars: the share of position signals at 2L never met
    at L, and the learned numbers per layer (``table``: ``diagnostics.SchemeTable``)."""
    labels = [r.label for r in table.rows]
    colors = [_color(r.name, style) for r in table.rows]
    L = table.train_len
    fig = subplots(1, 2, shared_yaxes=True, horizontal_spacing=0.08,
                   subplot_titles=(f"New signals at 2L = {2 * L}" if style.lecture
                                   else f"New position signals at 2L = {2 * L}", "Learned numbers per layer"))
    new = [r.new_past_train for r in table.rows]
    params = [r.parameters for r in table.rows]
    fig.add_traces([_bars(labels, [100 * (v or 0) for v in new],
                          ["cannot run" if v is None else f"{v:.0%}" for v in new], colors, ""),
                    _bars(labels, params, [f"{p:,}" for p in params], colors, 2)])
    return _done(fig, style, max(260, style.font_size * 3 * len(labels) + 110), dict(
        xaxis=dict(title_text="% of causal (i, j) pairs", range=[0, 105]),
        xaxis2=dict(title_text=(f"d = {table.d_model}, {table.n_heads} heads" if style.lecture
                                else f"d_model = {table.d_model}, {table.n_heads} heads"),
                    range=[0, max(max(params), 1) * 1.35]),
        yaxis=dict(autorange="reversed"), annotations=_titles(fig, style)))
