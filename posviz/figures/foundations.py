"""Figures for §1 (why position) and §2 (formal definitions)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .style import Style, arr, finish, heatmap, reversed_y, subplots, word_axis


def permutation(result, style: Style) -> go.Figure:
    """Scores of the original sentence, of the shuffled one, and the permuted original
    (``result``: a ``diagnostics.PermutationResult``)."""
    titles = ("Scores, original order", "Scores, shuffled input", "Original scores, permuted")
    # on a slide the 2nd and 3rd panels' word labels need a wider gap, or they sit on the cells' numbers
    fig = subplots(1, 3, subplot_titles=titles, horizontal_spacing=0.12 if style.lecture else 0.08)
    mats = (result.scores, result.scores_shuffled, result.scores_expected)
    labels = (result.tokens, result.shuffled, result.shuffled)
    finite = np.concatenate([arr(m)[np.isfinite(arr(m))] for m in mats])
    zmax = float(np.abs(finite).max()) if finite.size else 1.0
    for c, (m, words) in enumerate(zip(mats, labels), start=1):
        z = arr(m).copy()
        z[~np.isfinite(z)] = np.nan  # masked keys show as blank cells
        fig.add_trace(heatmap(z, style, diverging=True, zmax=zmax, showscale=c == 3,
                              text=len(words) <= 8, fmt=".2f", colorbar="score"), 1, c)
        fig.update_xaxes(word_axis(words), row=1, col=c, title_text="key")
        fig.update_yaxes(word_axis(words), row=1, col=c, autorange="reversed")
    fig.update_yaxes(title_text="query", row=1, col=1)
    fig.update_annotations(font_size=style.font_size)
    return finish(fig, style, legend=False)


def ids_and_offsets(moved, style: Style) -> go.Figure:
    """Absolute ids move with the phrase; the offset matrix i − j does not
    (``moved``: a ``diagnostics.MovedPhrase``)."""
    start, n, offsets = moved.start, len(moved.ids), moved.offsets
    fig = subplots(1, 2, column_widths=[0.35, 0.65], horizontal_spacing=0.12,
                        subplot_titles=(f"Absolute ids (phrase starts at {start})", "Offsets i − j"))
    ids = np.arange(start, start + n)
    fig.add_trace(go.Bar(x=list(range(n)), y=ids, marker_color=style.color(0), text=ids,
                         textposition="outside", name="position id"), 1, 1)
    fig.add_trace(heatmap(offsets, style, diverging=True, text=n <= 12, colorbar="i − j"), 1, 2)
    fig.update_xaxes(title_text="word in phrase", row=1, col=1)
    fig.update_yaxes(title_text="position id", row=1, col=1, range=[0, max(ids.max() * 1.2, 8)])
    fig.update_xaxes(title_text="key j", row=1, col=2)
    fig.update_yaxes(title_text="query i", row=1, col=2, autorange="reversed")
    fig.update_annotations(font_size=style.font_size)
    return finish(fig, style, legend=False)


def score_terms(terms: dict, words: list[str], style: Style) -> go.Figure:
    """Each part of the score as its own heatmap, on one shared colour scale."""
    names = list(terms)
    fig = subplots(1, len(names), subplot_titles=names, horizontal_spacing=0.05)
    zmax = max(float(np.abs(arr(t)).max()) for t in terms.values()) or 1.0
    for c, name in enumerate(names, start=1):
        fig.add_trace(heatmap(terms[name], style, diverging=True, zmax=zmax, showscale=c == len(names),
                              colorbar="score"), 1, c)
        fig.update_xaxes(word_axis(words), row=1, col=c, tickangle=-45)
        fig.update_yaxes(word_axis(words) if c == 1 else dict(showticklabels=False), row=1, col=c,
                         autorange="reversed")
    fig.update_annotations(font_size=style.font_size - 2)
    return finish(fig, style, legend=False)


def seen_fraction(curve, style: Style) -> go.Figure:
    """Share of positions vs offsets already met in training, as the sequence grows
    (``curve``: a ``diagnostics.SeenCurve``; its evaluation length is marked)."""
    fig = go.Figure()
    for i, (key, label) in enumerate((("positions", "absolute: positions seen"),
                                      ("offsets", "relative (causal): offsets seen"))):
        fig.add_trace(go.Scatter(x=curve.lengths, y=100 * getattr(curve, key), name=label,
                                 mode="lines", line=dict(width=style.line_width, color=style.color(i))))
        fig.add_trace(go.Scatter(x=[curve.eval_len], y=[100 * curve.at_eval[key]], mode="markers+text",
                                 text=[f"{100 * curve.at_eval[key]:.1f} %"], textposition="top right",
                                 marker=dict(size=style.marker_size + 4, color=style.color(i)), showlegend=False,
                                 hovertemplate=f"N = {curve.eval_len}: %{{y:.1f}} %<extra>{label}</extra>"))
    fig.add_vline(x=curve.train_len, line_dash="dash", annotation_text=f"trained length {curve.train_len}")
    fig.add_vline(x=curve.eval_len, line_dash="dot", line_color="#555", annotation_text=f"N = {curve.eval_len}",
                  annotation_position="bottom right")
    fig.update_xaxes(title_text="evaluation length")
    fig.update_yaxes(title_text="% already seen in training", range=[0, 105])
    return finish(fig, style)


def decode_ids(cmp, style: Style) -> go.Figure:
    """Position id of each token in the KV cache, correct vs restarted decode ids
    (``cmp``: an ``ids.DecodeComparison``)."""
    prefix_len, correct, buggy = cmp.prefix_len, cmp.correct, cmp.buggy
    prompt = np.arange(prefix_len)
    fig = go.Figure()
    for i, (ids, name) in enumerate(((correct, "correct: continue after the prompt"),
                                     (buggy, "bug: restart at 0"))):
        slots = np.arange(prefix_len, prefix_len + len(ids))
        fig.add_trace(go.Scatter(x=np.concatenate([prompt, slots]),
                                 y=np.concatenate([prompt, arr(ids)]), name=name, mode="lines+markers",
                                 line=dict(width=style.line_width, color=style.color(i + 1),
                                           dash="solid" if i == 0 else "dot"),
                                 marker=dict(size=style.marker_size)))
    fig.add_vrect(x0=-0.5, x1=prefix_len - 0.5, fillcolor="#999", opacity=0.15, line_width=0,
                  annotation_text="prompt (prefill)", annotation_position="top left")
    fig.update_xaxes(title_text="slot in the KV cache (token order)")
    fig.update_yaxes(title_text="position id used")
    return finish(fig, style)


def position_ids(padded, style: Style) -> go.Figure:
    """Two rows of ids over a padded sequence: arange vs mask-aware (``padded``: an ``ids.PaddedIds``)."""
    z = np.stack([arr(padded.naive), arr(padded.aware)]).astype(np.float32)
    z_masked = np.where(arr(padded.mask)[None, :] == 0, np.nan, z)
    fig = go.Figure(heatmap(z_masked, style, text=True, showscale=False))
    fig.update_xaxes(word_axis(padded.tokens), title_text=f"token ({padded.side} padding)")
    fig.update_yaxes(tickmode="array", tickvals=[0, 1], ticktext=["arange(n)", "from mask"],
                     autorange="reversed")
    return finish(fig, style, height=max(220, style.height // 2), legend=False)


def vector_sum(summed, style: Style, *, n_show: int = 32) -> go.Figure:
    """Token vector, position vector and their sum, component by component
    (``summed``: an ``attention.EmbeddingSum``)."""
    t, p = arr(summed.token)[:n_show], arr(summed.pe)[:n_show]
    fig = go.Figure()
    for i, (v, name) in enumerate(((t, "token embedding e"), (p, "position PE[p]"), (t + p, "sum e + PE[p]"))):
        fig.add_trace(go.Bar(x=np.arange(len(v)), y=v, name=name, marker_color=style.color(i)))
    fig.update_layout(barmode="group")
    fig.update_xaxes(title_text=f"component (first {len(t)})")
    fig.update_yaxes(title_text="value")
    return finish(fig, style)


def score_bias(result, style: Style) -> go.Figure:
    """Content scores, the bias b_ij, and the resulting attention weights
    (``result``: an ``attention.BiasedAttention``)."""
    scores, bias, weights, words, where = result.scores, result.bias, result.weights, result.tokens, result.where
    last = "softmax(S + b)" if where == "before" else "softmax(S) + b  (wrong)"
    fig = subplots(1, 3, subplot_titles=("S = q·k/√d", "bias b_ij", last), horizontal_spacing=0.07)
    zmax = max(float(np.abs(arr(scores)).max()), float(np.abs(arr(bias)).max())) or 1.0
    fig.add_trace(heatmap(scores, style, diverging=True, zmax=zmax, showscale=False), 1, 1)
    fig.add_trace(heatmap(bias, style, diverging=True, zmax=zmax, showscale=False), 1, 2)
    fig.add_trace(heatmap(weights, style, diverging=True, zmax=1.0, fmt=".2f",
                          text=len(words) <= (5 if style.lecture else 8),  # numbers that fit their cells
                          colorbar="weight"), 1, 3)
    for c in (1, 2, 3):
        fig.update_xaxes(word_axis(words), row=1, col=c, tickangle=-45)
        fig.update_yaxes(word_axis(words) if c == 1 else dict(showticklabels=False), row=1, col=c,
                         autorange="reversed")
    fig.update_annotations(font_size=style.font_size)
    return finish(fig, style, legend=False)


def offsets(result, style: Style) -> go.Figure:
    """The offset matrix i − j; future keys (i − j < 0) are the ones a causal mask hides
    (``result``: a ``relative.CacheOffsets``)."""
    z, query_start = arr(result.offsets).astype(np.float32), result.query_start
    q, k = z.shape
    fig = go.Figure(heatmap(z, style, diverging=True, text=q * k <= 400, colorbar="i − j",
                            y=np.arange(query_start, query_start + q)))
    fig.update_xaxes(title_text="key position j")
    fig.update_yaxes(title_text="query position i")
    return reversed_y(finish(fig, style, legend=False))


def interpolation(result, style: Style) -> go.Figure:
    """Rotation angle of one frequency along the sequence, with and without interpolation
    (``result``: an ``ids.InterpolatedRange``)."""
    fig = go.Figure()
    x, train_len, train_max_angle = arr(result.positions), result.train_len, result.train_max_angle
    angle_orig, angle_interp = result.angle_extrapolated, result.angle_interpolated
    fig.add_hrect(y0=0, y1=train_max_angle, fillcolor=style.color(2), opacity=0.12, line_width=0,
                  annotation_text="angles seen in training", annotation_position="top left")
    fig.add_trace(go.Scatter(x=x, y=arr(angle_orig), name="extrapolate: m·θ", mode="lines",
                             line=dict(width=style.line_width, color=style.color(5))))
    fig.add_trace(go.Scatter(x=x, y=arr(angle_interp), name="interpolate: (m·L/L′)·θ", mode="lines",
                             line=dict(width=style.line_width, color=style.color(0))))
    fig.add_vline(x=train_len, line_dash="dash", annotation_text=f"L = {train_len}")
    fig.update_xaxes(title_text="position m")
    fig.update_yaxes(title_text="angle (radians)")
    return finish(fig, style)
