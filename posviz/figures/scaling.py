"""Figures for §6b (long-context RoPE scaling).

Pure builders: arrays and numbers in, ``go.Figure`` out; every number is
computed by ``posviz.scaling`` / ``posviz.rope`` before it gets here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from ..scaling import INFO
from .style import Style, arr, finish

DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
GREY = "#6b6b6b"
# Band fills (light, so black text and the curves stay readable on a projector).
FILL_KEEP = "rgba(0, 114, 178, 0.13)"     # blue: kept as trained
FILL_BLEND = "rgba(230, 159, 0, 0.22)"    # orange: blended
FILL_SCALE = "rgba(0, 158, 115, 0.15)"    # green: interpolated (divided by s)
OOD_COLOR = "#D55E00"


@dataclass(frozen=True)
class Series:
    """One method's per-pair curve."""

    label: str
    y: object          # [dim/2]
    color: str
    dash: str = "solid"


def method_look(index: int, style: Style) -> tuple[str, str]:
    """Colour and dash for the method at ``index`` in the registry (stable across charts)."""
    return style.color(index), DASHES[index % len(DASHES)]


def _fmt_len(n: float) -> str:
    return f"{n:,.0f}"


# Reference lines go straight into layout.shapes/annotations: plotly's add_hline/add_vline
# copy the whole layout on every call, which costs more than the rest of a figure.

def _hline(y: float, text: str, style: Style, *, color: str = "#000", dash: str = "dash", axis: str = "",
           where: str = "top left", width: float | None = None, log: bool = False) -> tuple[dict, dict]:
    """A horizontal line across the plot at data ``y`` with a label at one end.

    ``log``: the y axis is logarithmic (shapes take data values there, annotations log10 values).
    """
    xref, yref = f"x{axis} domain", f"y{axis}"
    shape = dict(type="line", xref=xref, yref=yref, x0=0, x1=1, y0=y, y1=y, layer="above",
                 line=dict(color=color, dash=dash, width=width or max(style.line_width - 1, 1)))
    vert, horiz = where.split()
    ann = dict(xref=xref, yref=yref, x=0.01 if horiz == "left" else 0.99, y=float(np.log10(y)) if log else y,
               text=text, showarrow=False,
               xanchor=horiz, yanchor="bottom" if vert == "top" else "top",
               font=dict(size=max(style.font_size - 2, 10)), bgcolor="rgba(255,255,255,0.7)")
    return shape, ann


def _vline(x: float, text: str, style: Style, *, color: str = "#000", dash: str = "dot",
           log: bool = False) -> tuple[dict, dict]:
    """A vertical line over the full height at data ``x``, labelled at the top (``log``: log x axis)."""
    shape = dict(type="line", xref="x", yref="y domain", x0=x, x1=x, y0=0, y1=1, layer="above",
                 line=dict(color=color, dash=dash, width=max(style.line_width - 1.5, 1)))
    ann = dict(xref="x", yref="y domain", x=float(np.log10(x)) if log else x, y=1.0, text=text, showarrow=False, xanchor="left",
               yanchor="top", font=dict(size=max(style.font_size - 2, 10)), bgcolor="rgba(255,255,255,0.7)")
    return shape, ann


def _lines(*pairs) -> dict:
    """layout kwargs for several (shape, annotation) pairs."""
    return dict(shapes=[p[0] for p in pairs], annotations=[p[1] for p in pairs])


def _title(text: str, x0: float, x1: float, y: float, style: Style) -> dict:
    """A subplot title (what make_subplots would add, without its cost)."""
    return dict(xref="paper", yref="paper", x=(x0 + x1) / 2, y=y, text=text, showarrow=False,
                xanchor="center", yanchor="bottom", font=dict(size=style.font_size))



# --------------------------------------------------------------------------- 1. per-pair curves

CURVE_KINDS = {
    "wavelength": "wavelength 2π/θ′ᵢ (positions)",
    "inv_freq": "frequency θ′ᵢ (radians per position)",
    "slowdown": "slow-down θᵢ / θ′ᵢ (1 = as trained)",
}


def frequency_curves(series: list[Series], kind: str, original: int, target: int, factor: float,
                     style: Style) -> go.Figure:
    """Every method's per-pair wavelength (or frequency, or slow-down) on one log axis.

    Reference lines: the trained length and the target length (as
    wavelengths, or as the frequency that makes one turn over them), or
    slow-downs 1 and ``factor``.
    """
    traces, n = [], 1
    for s in series:
        y = arr(s.y)
        n = len(y)
        traces.append(go.Scatter(
            x=np.arange(n), y=y, mode="lines+markers", name=s.label,
            line=dict(width=style.line_width, color=s.color, dash=s.dash),
            marker=dict(size=max(style.marker_size - 3, 3), color=s.color),
            hovertemplate=f"{s.label}<br>pair %{{x}}: %{{y:.4g}}<extra></extra>"))
    if kind == "wavelength":
        refs = [(original, f"trained length L = {_fmt_len(original)}", "bottom right"),
                (target, f"target s·L = {_fmt_len(target)}", "top left")]
    elif kind == "inv_freq":
        refs = [(2 * np.pi / original, "one turn over L", "top right"),
                (2 * np.pi / target, "one turn over s·L", "bottom left")]
    else:
        refs = [(1.0, "1 (kept as trained)", "top left"), (factor, f"s = {factor:g} (fully interpolated)", "top left")]
    lines = [_hline(y, text, style, dash=dash, where=where, log=True)
             for (y, text, where), dash in zip(refs, ("dash", "dot"))]
    fig = go.Figure(traces, layout=dict(
        xaxis=dict(title=dict(text="pair index i (fast → slow)"), range=[-0.5, n - 0.5]),
        yaxis=dict(type="log", title=dict(text=CURVE_KINDS[kind]), exponentformat="power"),
        **_lines(*lines)))
    return finish(fig, style, height=style.height + 60)


# --------------------------------------------------------------------------- 2. YaRN ramp and Llama-3 bands

KEEP, BLEND, SCALE = "kept as trained", "blended (ramp / smooth band)", "interpolated (÷ s)"
LLAMA_BAND = {"high-freq kept": KEEP, "smooth band": BLEND, "low-freq scaled": SCALE}
BAND_FILL = {KEEP: FILL_KEEP, BLEND: FILL_BLEND, SCALE: FILL_SCALE}


def _band(x0, x1, name, axis: str, show: bool) -> go.Scatter:
    """A shaded x-interval [x0, x1] over the weight axis [−0.05, 1.05], as a filled trace."""
    return go.Scatter(x=[x0, x0, x1, x1, x0], y=[-0.05, 1.05, 1.05, -0.05, -0.05], fill="toself",
                      fillcolor=BAND_FILL[name], mode="lines", line=dict(width=0), name=name, legendgroup=name,
                      showlegend=show, hoverinfo="skip", xaxis=f"x{axis}", yaxis=f"y{axis}")


def _runs(labels: list[str]) -> list[tuple[str, int, int]]:
    """Contiguous runs of equal labels: (label, first index, last index)."""
    runs = []
    for i, lab in enumerate(labels):
        if runs and runs[-1][0] == lab:
            runs[-1] = (lab, runs[-1][1], i)
        else:
            runs.append((lab, i, i))
    return runs


def ramps_and_bands(wavelengths, turns, yarn: dict | None, llama: dict | None, x_kind: str,
                    style: Style) -> go.Figure:
    """YaRN's extrapolation weight and Llama 3.1's keep weight per pair, with their regions shaded.

    ``wavelengths`` / ``turns`` are the unscaled ``[dim/2]`` wavelength and
    rotation count over the trained length. ``yarn``: ``weight [dim/2]``,
    ``low``, ``high`` (pair indices of the correction range) and
    ``x_low``/``x_high`` (the same edges on the wavelength axis).
    ``llama``: ``keep [dim/2]``, ``labels`` and ``edges`` (band limits as
    wavelengths ``L/high``, ``L/low``). ``x_kind`` is ``"index"`` or ``"wavelength"``.
    """
    rows = [r for r in (("yarn", yarn), ("llama", llama)) if r[1] is not None]
    if not rows:
        return finish(go.Figure(), style, "No method with per-pair bands in the registry")
    titles = {"yarn": "YaRN: extrapolation weight wᵢ (1 = kept as trained, 0 = divided by s)",
              "llama": "Llama 3.1: weight on the trained θᵢ (1 = kept, 0 = divided by s)"}
    wl, tu = arr(wavelengths), arr(turns)
    n = len(wl)
    idx = np.arange(n)
    by_index = x_kind == "index"
    x = idx if by_index else wl
    left, right = (-0.5, n - 0.5) if by_index else (float(wl.min()) / 1.15, float(wl.max()) * 1.15)
    clip = lambda v: min(max(float(v), left), right)  # noqa: E731
    custom = np.stack([idx, wl, tu], axis=-1)
    hover = ("pair %{customdata[0]}<br>wavelength %{customdata[1]:,.1f}<br>"
             "turns in training %{customdata[2]:.3g}<br>weight %{y:.3f}<extra></extra>")
    gap = 0.16
    height = (1 - gap * (len(rows) - 1)) / len(rows)
    traces, layout, shown = [], {}, set()
    for r, (kind, data) in enumerate(rows):
        axis = "" if r == 0 else str(r + 1)
        top = 1 - r * (height + gap)
        if kind == "yarn":
            lo, hi = (data["low"], data["high"]) if by_index else (data["x_low"], data["x_high"])
            spans = [(KEEP, left, clip(lo)), (BLEND, clip(lo), clip(hi)), (SCALE, clip(hi), right)]
            y = arr(data["weight"])
        else:
            lo_e, hi_e = data["edges"]
            spans = []
            for lab, a, b in _runs(list(data["labels"])):
                name = LLAMA_BAND.get(lab, SCALE)
                if by_index:
                    spans.append((name, a - 0.5, b + 0.5))
                else:
                    x0 = {KEEP: left, BLEND: lo_e}.get(name, hi_e)
                    x1 = {KEEP: lo_e, BLEND: hi_e}.get(name, right)
                    spans.append((name, clip(x0), clip(x1)))
            y = arr(data["keep"])
        for name, x0, x1 in spans:
            if x1 > x0:
                traces.append(_band(x0, x1, name, axis, name not in shown))
                shown.add(name)
        traces.append(go.Scatter(x=x, y=y, mode="lines+markers", showlegend=False,
                                 name="YaRN wᵢ" if kind == "yarn" else "Llama 3.1 weight",
                                 line=dict(width=style.line_width, color="#000"),
                                 marker=dict(size=max(style.marker_size - 2, 4), color="#000"),
                                 customdata=custom, hovertemplate=hover, xaxis=f"x{axis}", yaxis=f"y{axis}"))
        last = r == len(rows) - 1
        layout[f"xaxis{axis}"] = dict(
            anchor=f"y{axis}", type="linear" if by_index else "log", exponentformat="power",
            range=[left, right] if by_index else [np.log10(left), np.log10(right)],
            showticklabels=last, matches=None if r == 0 else "x",
            title=dict(text=("pair index i" if by_index else "trained wavelength λᵢ (positions, log)") if last else None))
        layout[f"yaxis{axis}"] = dict(anchor=f"x{axis}", domain=[top - height, top], range=[-0.05, 1.05],
                                      title=dict(text="weight"))
        layout.setdefault("annotations", []).append(_title(titles[kind], 0, 1, top + 0.01, style))
    fig = finish(go.Figure(traces, layout=layout), style, height=int(style.height * (1.6 if len(rows) == 2 else 1.0)))
    # the legend sits above the first subplot title, not on it (in lecture type it wraps onto two rows)
    fig.update_layout(legend=dict(y=0.995, yanchor="top", yref="container", x=1, xanchor="right"),
                      margin=dict(t=(4 if style.lecture else 3) * style.font_size + 30))
    return fig


# --------------------------------------------------------------------------- 3. attention factor


def attention_factors(labels: list[str], values, colors: list[str], curve_s, curve_v, factor: float,
                      current: float | None, squared: bool, style: Style) -> go.Figure:
    """Bars: each method's cos/sin multiplier (or its square, the logit multiplier) at this factor.

    Right panel (when ``curve_s`` is given): YaRN's multiplier over a range of scale factors.
    """
    has_curve = curve_s is not None
    what = "logit multiplier (factor²)" if squared else "cos/sin multiplier"
    split = (0.0, 0.5 if style.lecture else 0.52, 0.64, 1.0) if has_curve else (0.0, 1.0, None, None)
    v = np.asarray(values, dtype=np.float64)
    top = max(float(v.max()) if len(v) else 1.0, 1.0)
    traces = [go.Bar(x=labels, y=v, marker_color=colors, text=[f"{x:.4f}" for x in v], textposition="outside",
                     cliponaxis=False, showlegend=False, hovertemplate="%{x}: %{y:.5f}<extra></extra>")]
    layout = dict(
        xaxis=dict(domain=[split[0], split[1]], anchor="y", tickangle=-30 if style.lecture else -20),
        yaxis=dict(anchor="x", range=[0, top * 1.22], title=dict(text=what)),
        annotations=[_title(f"{what} at s = {factor:g}", split[0], split[1], 1.02, style)])
    if has_curve:
        cs, cv = np.asarray(curve_s, dtype=np.float64), np.asarray(curve_v, dtype=np.float64)
        traces.append(go.Scatter(x=cs, y=cv, mode="lines", name="YaRN", showlegend=False, xaxis="x2", yaxis="y2",
                                 line=dict(width=style.line_width, color=style.color(0)),
                                 hovertemplate="s = %{x:.3g}: %{y:.4f}<extra></extra>"))
        if current is not None:
            traces.append(go.Scatter(x=[factor], y=[current], mode="markers", showlegend=False, xaxis="x2",
                                     yaxis="y2",
                                     marker=dict(size=style.marker_size + 6, color=OOD_COLOR, symbol="diamond"),
                                     hovertemplate=f"this page: s = {factor:g}, %{{y:.4f}}<extra></extra>"))
        layout.update(
            xaxis2=dict(domain=[split[2], split[3]], anchor="y2", type="log", title=dict(text="scale factor s (log)")),
            # on a slide its y title (the same as the bars') stood on the bars: the panel title says it
            yaxis2=dict(anchor="x2", title=dict(text=None if style.lecture else what)))
        layout["annotations"].append(_title(f"YaRN's {what} vs s", split[2], split[3], 1.02, style))
    return finish(go.Figure(traces, layout=layout), style, legend=False)


# --------------------------------------------------------------------------- 4. angles at the target length


def angles_at_target(trained_max, at_target, ood, cycled, label: str, color: str, unit: str,
                     style: Style) -> go.Figure:
    """Per pair: the largest angle seen in training vs the angle reached at the target length.

    ``trained_max``/``at_target`` are ``[dim/2]`` in the chosen ``unit``
    ("turns" or "radians"); ``ood``/``cycled`` are boolean masks.
    """
    t, a = arr(trained_max), arr(at_target)
    ood, cycled = np.asarray(ood, bool), np.asarray(cycled, bool)
    n = len(t)
    idx = np.arange(n)
    one_turn = 1.0 if unit == "turns" else 2 * np.pi
    traces = []
    if cycled.any():
        last = int(np.flatnonzero(cycled).max())
        lo_y, hi_y = float(min(t.min(), a.min())) / 3, float(max(t.max(), a.max())) * 3
        traces.append(go.Scatter(x=[-0.5, -0.5, last + 0.5, last + 0.5, -0.5], y=[lo_y, hi_y, hi_y, lo_y, lo_y],
                                 fill="toself", fillcolor=FILL_KEEP, mode="lines", line=dict(width=0),
                                 name="full turn seen in training", hoverinfo="skip"))
    traces.append(go.Scatter(x=idx, y=t, mode="lines", name="trained max (L−1)·θᵢ",
                             line=dict(width=style.line_width + 1, color=GREY),
                             hovertemplate="pair %{x}: %{y:.4g}<extra>trained max</extra>"))
    traces.append(go.Scatter(x=idx, y=a, mode="lines+markers", name=f"{label} at s·L − 1",
                             line=dict(width=style.line_width, color=color),
                             marker=dict(size=max(style.marker_size - 3, 3), color=color),
                             hovertemplate="pair %{x}: %{y:.4g}<extra>at s·L − 1</extra>"))
    if ood.any():
        traces.append(go.Scatter(x=idx[ood], y=a[ood], mode="markers", name=f"out of distribution ({int(ood.sum())})",
                                 marker=dict(size=style.marker_size + 5, color=OOD_COLOR, symbol="x",
                                             line=dict(width=1, color=OOD_COLOR)),
                                 hovertemplate="pair %{x}: %{y:.4g}<extra>out of distribution</extra>"))
    fig = go.Figure(traces, layout=dict(
        xaxis=dict(title=dict(text="pair index i (fast → slow)"), range=[-0.5, n - 0.5]),
        yaxis=dict(type="log", exponentformat="power",
                   title=dict(text="angle (turns: 1 = 2π rad)" if unit == "turns" else "angle (radians)")),
        **_lines(_hline(one_turn, "one full turn (2π)", style, dash="dot", where="bottom right", log=True))))
    return finish(fig, style, height=style.height + 60)


# --------------------------------------------------------------------------- 5. dynamic NTK


def dynamic_base(seq_lens, bases, original: int, target: int, static_base: float, base: float,
                 current: tuple[int, float] | None, log_x: bool, style: Style) -> go.Figure:
    """Dynamic NTK's effective base against the current length, with the static NTK base for reference."""
    x, y = np.asarray(seq_lens, dtype=np.float64), np.asarray(bases, dtype=np.float64)
    traces = [go.Scatter(x=x, y=y, mode="lines", name="dynamic NTK base at length N",
                         line=dict(width=style.line_width, color=style.color(0)),
                         hovertemplate="N = %{x:,.0f}: base %{y:,.0f}<extra></extra>")]
    if current is not None:
        traces.append(go.Scatter(x=[current[0]], y=[current[1]], mode="markers", name="current length N",
                                 marker=dict(size=style.marker_size + 6, color=OOD_COLOR, symbol="diamond"),
                                 hovertemplate="N = %{x:,.0f}: base %{y:,.0f}<extra></extra>"))
    lines = [_hline(static_base, f"static NTK base {static_base:,.0f}", style, color=style.color(1),
                    where="top left", width=style.line_width, log=True),
             _hline(base, f"trained base {base:,.0f}", style, color=GREY, dash="dot", where="top right", log=True),
             _vline(original, " L", style, dash="dot", log=log_x), _vline(target, " s·L", style, dash="dash", log=log_x)]
    fig = go.Figure(traces, layout=dict(
        xaxis=dict(title=dict(text="current sequence length N" + (" (log)" if log_x else "")),
                   type="log" if log_x else "linear"),
        yaxis=dict(type="log", title=dict(text="effective base (log)"), exponentformat="power", dtick="D2"),
        **_lines(*lines)))
    return finish(fig, style)


# --------------------------------------------------------------------------- 6. the NTK exponent


def ntk_slowdown(slowdown, factor: float, dim: int, style: Style) -> go.Figure:
    """θᵢ/θ′ᵢ under static NTK: 1 for pair 0, exactly s for the last pair, geometric in between."""
    y = arr(slowdown)
    n = len(y)
    fig = go.Figure(
        [go.Bar(x=np.arange(n), y=y, name="NTK-aware: θᵢ / θ′ᵢ", marker_color=style.color(0),
                hovertemplate="pair %{x}: ÷ %{y:.4f}<extra></extra>")],
        layout=dict(xaxis=dict(title=dict(text=f"pair index i (d = {dim})")),
                    yaxis=dict(title=dict(text="frequency divided by"),
                               range=[0, max(float(y.max()), factor) * 1.18]),
                    **_lines(_hline(factor, f"PI divides every pair by s = {factor:g}", style,
                                    color=style.color(5), where="top left", width=style.line_width))))
    return finish(fig, style, legend=False)


# --------------------------------------------------------------------------- from posviz.scaling_report results
#
# One builder per §6b section, taking that section's result object (duck-typed, so this module
# needs no import of the compute side) and drawing it with the builders above.


def ladder_chart(ladder, style: Style) -> go.Figure:
    """``ladder``: a ``scaling_report.Ladder``; each method keeps its registry colour and dash."""
    series = [Series(lab, y, *method_look(i, style)) for lab, y, i in zip(ladder.labels, ladder.curves, ladder.indices)]
    return frequency_curves(series, ladder.kind, ladder.original, ladder.target, ladder.factor, style)


def bands_chart(bands, x_kind: str, style: Style) -> go.Figure:
    """``bands``: a ``scaling_report.Bands`` (YaRN's ramp and/or Llama 3.1's bands)."""
    y, q = bands.yarn, bands.llama
    yarn = None if y is None else dict(weight=y.weight, low=y.low, high=y.high,
                                       x_low=y.low_wavelength, x_high=y.high_wavelength)
    llama = None if q is None else dict(keep=q.keep, labels=list(q.labels), edges=q.edges)
    return ramps_and_bands(bands.wavelength, bands.turns, yarn, llama, x_kind, style)


def attention_chart(factors, squared: bool, style: Style) -> go.Figure:
    """``factors``: a ``scaling_report.AttentionFactors``; ``squared`` shows the logit multiplier."""
    power = 2 if squared else 1
    values = [v ** power for v in factors.values]
    colors = [method_look(i, style)[0] for i in factors.indices]
    y = factors.yarn
    curve_s = curve_v = current = None
    if y is not None:
        curve_s, curve_v, current = arr(y.curve_s), arr(y.curve_v) ** power, y.value ** power
    # six bars share half a slide: the registry's short names, or the long ones ran into each other
    labels = [INFO[m].short or INFO[m].label for m in factors.methods] if style.lecture else list(factors.labels)
    return attention_factors(labels, values, colors, curve_s, curve_v, factors.factor, current, squared, style)


def angles_chart(angles, unit: str, style: Style) -> go.Figure:
    """``angles``: a ``scaling_report.AnglesPast``; ``unit`` is "turns" or "radians"."""
    k = 1.0 / (2 * np.pi) if unit == "turns" else 1.0
    st = angles.stats
    return angles_at_target(arr(st.trained) * k, arr(st.target) * k, arr(st.ood), arr(st.cycled), angles.label,
                            method_look(angles.index, style)[0], unit, style)


def dynamic_chart(dyn, style: Style) -> go.Figure:
    """``dyn``: a ``scaling_report.DynamicNTK``."""
    return dynamic_base(arr(dyn.lengths), arr(dyn.bases), dyn.original, dyn.target, dyn.static, dyn.base,
                        (dyn.seq_len, dyn.at_seq), dyn.log_x, style)


def erratum_chart(err, style: Style) -> go.Figure:
    """``err``: a ``scaling_report.NTKErratum``."""
    return ntk_slowdown(err.slowdown, err.factor, err.dim, style)
