"""Figures for §6c (a real RoPE model: SmolLM2-135M read from its GGUF file).

Pure plotly builders: numbers in (numpy or torch), ``go.Figure`` out, never Streamlit.
The three RoPE modes keep one colour each on every figure of the page.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .style import Style, arr, finish, subplots, two_lines

# Okabe & Ito: blue (correct), vermillion (wrong pairing), grey-black (no RoPE).
MODE_COLORS = {"correct": "#0072B2", "wrong_pairing": "#D55E00", "none": "#6E6E6E"}
ZWSP = "\u200b"
SLIDE_TITLE_CHARS = 26  # a figure title in lecture type over a half-width figure on a slide (~400 px)


def unique_labels(tokens: list[str]) -> list[str]:
    """Token strings made distinct with invisible zero-width spaces.

    Categorical plotly axes merge equal labels; a sentence repeats " the" and ",".
    The padding keeps one cell per position while the label still reads the same.
    """
    seen: dict[str, int] = {}
    out = []
    for t in tokens:
        t = t or "∅"
        k = seen.get(t, 0)
        seen[t] = k + 1
        out.append(t + ZWSP * k)
    return out


def _token_ticks(labels: list[str], axis_px: float, font: int) -> dict:
    """Tick labels for a token axis, thinned to every k-th token when they would overlap."""
    step = max(1, int(np.ceil(len(labels) * (font * 1.15) / max(axis_px, 1.0))))
    shown = labels[::step]
    return dict(tickmode="array", tickvals=shown, ticktext=shown, tickfont=dict(size=font),
                type="category", categoryorder="array", categoryarray=labels)


def attention_map(probs, tokens: list[str], style: Style, *, title: str, sqrt_scale: bool = False) -> go.Figure:
    """One head's causal attention map: rows are queries, columns are keys, row 0 at the top.

    Cells above the diagonal (keys in the future) are masked and drawn blank on a grey
    background, so the causal triangle is visible as such. ``sqrt_scale`` colours by
    √p (hover still shows p), which lifts weak weights out of the dark end when one key
    (often the first token) takes most of the weight.
    """
    p = arr(probs).astype(np.float32)
    n = p.shape[0]
    labels = unique_labels(tokens)
    z = p.copy()
    z[np.triu_indices(n, 1)] = np.nan
    shown = np.sqrt(z) if sqrt_scale else z
    ticks = [0, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0] if sqrt_scale else [0, 0.25, 0.5, 0.75, 1.0]
    colorbar = dict(title=dict(text="weight", side="right"), thickness=14,
                    tickvals=[np.sqrt(t) if sqrt_scale else t for t in ticks],
                    ticktext=[f"{t:g}" for t in ticks])
    height = 640 if not style.lecture else 600
    tick_font = 16 if style.lecture else 11
    ticks_ = _token_ticks(labels, height - 170, tick_font)
    # one constructor call with the whole layout: each later update_* call re-validates (slow)
    fig = go.Figure(
        go.Heatmap(z=shown, x=labels, y=labels, customdata=z, zmin=0.0, zmax=1.0, colorscale=style.sequential,
                   colorbar=colorbar, hoverongaps=False,
                   hovertemplate="query %{y}<br>key %{x}<br>weight %{customdata:.3f}<extra></extra>"),
        layout=dict(
            plot_bgcolor="#d9d9d9",  # masked (future) cells show this grey
            xaxis=dict(ticks_, title_text="key (attended to)", tickangle=-90, showgrid=False, mirror=True),
            yaxis=dict(ticks_, title_text="query (attending)", autorange="reversed", showgrid=False,
                       mirror=True)))
    if style.lecture and len(title) > SLIDE_TITLE_CHARS:  # a half-width figure on a slide: two lines
        finish(fig, style, two_lines(title), height=height, legend=False)
        return fig.update_layout(margin_t=100)
    return finish(fig, style, title, height=height, legend=False)


def head_summary(values, style: Style, *, metric: str, selected: tuple[int, int],
                 zmax: float | None = None) -> go.Figure:
    """A per-(layer, head) number for all layers: layers across, heads down; the shown head ringed."""
    v = arr(values).astype(np.float32).T  # [heads, layers]
    n_heads, n_layers = v.shape
    layer, head = selected
    ring = dict(type="rect", x0=layer - 0.5, x1=layer + 0.5, y0=head - 0.5, y1=head + 0.5,
                line=dict(color="#E69F00", width=style.line_width + 0.5))
    fig = go.Figure(
        go.Heatmap(z=v, x=list(range(n_layers)), y=list(range(n_heads)), colorscale=style.sequential, zmin=0.0,
                   zmax=zmax, colorbar=dict(thickness=12),
                   hovertemplate="layer %{x}, head %{y}<br>" + metric + " %{z:.2f}<extra></extra>"),
        layout=dict(shapes=[ring],
                    xaxis=dict(title_text="layer", dtick=5, showgrid=False),
                    yaxis=dict(title_text="head", dtick=2 if style.lecture else 1, autorange="reversed",
                               showgrid=False)))
    return finish(fig, style, f"All {n_layers} × {n_heads} heads", height=style.height - 40, legend=False)


def mode_compare(values: dict[str, float], labels: dict[str, str], style: Style, *, title: str,
                 ylabel: str, fmt: str = ".1f", log: bool = False) -> go.Figure:
    """One bar per RoPE mode (e.g. the three measured perplexities), value printed on the bar."""
    modes = list(values)
    ys = [float(values[m]) for m in modes]
    fig = go.Figure(go.Bar(
        x=[labels[m] for m in modes], y=ys, marker_color=[MODE_COLORS.get(m, "#000") for m in modes],
        text=[format(y, fmt) for y in ys], textposition="outside", cliponaxis=False,
        textfont=dict(size=style.font_size + 2), hovertemplate="%{x}: %{y:" + fmt + "}<extra></extra>"))
    top = max(ys) if ys else 1.0
    if log:
        fig.update_yaxes(type="log", title_text=ylabel)
    else:
        fig.update_yaxes(range=[0, top * 1.18], title_text=ylabel)
    finish(fig, style, title, legend=False)
    return fig.update_layout(margin_t=100, title_y=0.97, title_yanchor="top")


def token_probs(targets: list[str], p_next: dict[str, np.ndarray], labels: dict[str, str],
                style: Style) -> go.Figure:
    """Probability each mode gave to the token that really came next, position by position."""
    x = unique_labels(targets)
    fig = go.Figure()
    symbols = {"correct": "circle", "wrong_pairing": "x", "none": "diamond"}
    for m, p in p_next.items():
        fig.add_trace(go.Scatter(
            x=x, y=arr(p), mode="lines+markers", name=labels[m],
            line=dict(color=MODE_COLORS.get(m), width=style.line_width * 0.7),
            marker=dict(size=style.marker_size, symbol=symbols.get(m, "circle")),
            hovertemplate="next token %{x}<br>p = %{y:.3f}<extra>" + labels[m] + "</extra>"))
    tick_font = 16 if style.lecture else 11
    fig.update_xaxes(_token_ticks(x, 900 if not style.lecture else 1000, tick_font),
                     title_text="the token that came next", tickangle=-90)
    fig.update_yaxes(range=[0, 1.02], title_text="probability given to it")
    # on a slide the figure has half the width: a short title, and room for the legend's three rows under it
    finish(fig, style, "p(true next token)" if style.lecture else "p(the token that really came next)",
           height=style.height + 40)
    # title on the first line, legend on the second: neither covers the other
    return fig.update_layout(margin_t=175 if style.lecture else 100, title_y=0.97, title_yanchor="top",
                             legend=dict(x=0, xanchor="left", y=1.02, yanchor="bottom"))


def next_tokens(preds: dict[str, list[tuple[str, float]]], labels: dict[str, str], style: Style, *,
                actual: str | None = None) -> go.Figure:
    """Top-k next tokens per mode as horizontal bars, side by side; the true continuation highlighted."""
    modes = list(preds)
    fig = subplots(1, len(modes), subplot_titles=[labels[m] for m in modes], horizontal_spacing=0.12)
    for c, m in enumerate(modes, start=1):
        toks = [t for t, _ in preds[m]]
        ps = [float(p) for _, p in preds[m]]
        colors = [MODE_COLORS.get(m) if actual is None or t == actual else "#BDBDBD" for t in toks]
        if actual is not None and actual not in toks:
            colors = ["#BDBDBD"] * len(toks)
        fig.add_trace(go.Bar(
            y=unique_labels(toks), x=ps, orientation="h", marker_color=colors, text=[f"{p:.0%}" for p in ps],
            textposition="outside", cliponaxis=False, showlegend=False,
            hovertemplate="%{y}: p = %{x:.3f}<extra>" + labels[m] + "</extra>"), 1, c)
        fig.update_yaxes(autorange="reversed", type="category", row=1, col=c, showgrid=False)
        fig.update_xaxes(range=[0, 1.15], tickformat=".0%", row=1, col=c)
    fig.update_xaxes(title_text="probability", row=1, col=2 if len(modes) > 1 else 1)
    fig.update_annotations(font_size=style.font_size)
    return finish(fig, style, None, height=style.height - 60 if not style.lecture else style.height - 40,
                  legend=False)


BAR_LABELS = {"correct": "correct", "wrong_pairing": "wrong<br>pairing", "none": "no<br>RoPE"}


def perplexity_bars(ablation, style: Style) -> go.Figure:
    """The three measured perplexities of a ``posviz.smollm.Ablation``, one bar per RoPE mode."""
    # on a slide the figure has half the width, and the caption under it gives the count
    title = "Perplexity" if style.lecture else f"Perplexity, {len(ablation.targets) + 1} tokens"
    return mode_compare(ablation.perplexity, BAR_LABELS, style, ylabel="perplexity (lower is better)", title=title)
