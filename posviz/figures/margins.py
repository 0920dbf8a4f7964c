"""Margins a figure will need, estimated on the server, so that the browser draws it once.

Every posviz axis has ``automargin`` on: plotly.js draws the figure at ``layout.margin``,
measures its tick labels, axis titles, colorbars and legends, and when they need more
room than the margins give, it draws the whole figure a second time (``Plots.doAutoMargin``).
Streamlit mounts a new plot for every figure that changed (its element id hashes the
spec), so each update started from ``layout.margin`` again and paid two full draws:
in headless Chromium, 98–122 ms against 55 ms for §5's bias heads.

Automargin only ever grows a margin, so ``fit`` raises each margin to an estimate of
what plotly will measure. Where the estimate is short, plotly still grows it (a second
draw, as before); where it is long, the figure has a few pixels of extra white. The
widths are those of DejaVu Sans and Verdana, which share their metrics (plotly's font
stack is "Open Sans", Verdana, Arial, sans-serif; Open Sans and Arial are narrower).
``tests/test_browser_layout.py`` draws every page and checks how often the first draw
is the last; ``tests/test_margins.py`` pins the arithmetic.
"""

from __future__ import annotations

import base64
import math
import re

import numpy as np

# Advance widths in em (DejaVu Sans = Verdana metrics); anything else counts as "m"-wide-ish 0.62.
_EM = {**dict.fromkeys("0123456789", 0.636), " ": 0.318, ".": 0.318, ",": 0.318, ":": 0.337, ";": 0.337,
       "-": 0.361, "−": 0.838, "+": 0.838, "=": 0.838, "×": 0.838, "%": 0.95, "(": 0.39, ")": 0.39,
       "[": 0.39, "]": 0.39, "/": 0.337, "|": 0.337, "'": 0.275, "’": 0.318, "_": 0.5, "…": 1.0, "␣": 0.7,
       "a": 0.613, "b": 0.635, "c": 0.55, "d": 0.635, "e": 0.615, "f": 0.352, "g": 0.635, "h": 0.634,
       "i": 0.278, "j": 0.278, "k": 0.579, "l": 0.278, "m": 0.974, "n": 0.634, "o": 0.612, "p": 0.635,
       "q": 0.635, "r": 0.411, "s": 0.521, "t": 0.392, "u": 0.634, "v": 0.592, "w": 0.818, "x": 0.592,
       "y": 0.592, "z": 0.525, "A": 0.684, "B": 0.686, "C": 0.698, "D": 0.77, "E": 0.632, "F": 0.575,
       "G": 0.775, "H": 0.752, "I": 0.295, "J": 0.295, "K": 0.656, "L": 0.557, "M": 0.863, "N": 0.748,
       "O": 0.787, "P": 0.603, "Q": 0.787, "R": 0.695, "S": 0.635, "T": 0.611, "U": 0.732, "V": 0.684,
       "W": 0.989, "X": 0.685, "Y": 0.611, "Z": 0.685, "\u200b": 0.0}  # zero-width space: repeated tokens
_TAG = re.compile(r"<[^>]+>")
_SUP = re.compile(r"<su[pb]>(.*?)</su[pb]>", re.S)
EDGE = 0.02  # an axis whose panel starts within 2% of the figure's edge pushes that margin


def text_px(text, size: float) -> tuple[float, int]:
    """(widest line in px, lines) of a plotly label: ``<br>`` breaks lines, ``<sup>``/``<sub>`` at 70%."""
    lines = str(text).split("<br>")
    widest = 0.0
    for line in lines:
        small = "".join(_SUP.findall(line))
        plain = _TAG.sub("", _SUP.sub("", line))
        em = sum(_EM.get(ch, 0.62) for ch in plain) + 0.7 * sum(_EM.get(ch, 0.62) for ch in _TAG.sub("", small))
        widest = max(widest, em * size)
    return widest, len(lines)


# -- tick labels ----------------------------------------------------------------------------------------

def _number(v: float, decimals: int) -> str:
    """A tick value as plotly writes it: trailing zeros dropped, a real minus, k/M for 10 000 and up."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e4, "k")):
        if abs(v) >= limit:
            v, decimals = v / (limit if limit > 1e4 else 1e3), max(0, decimals - 3)
            s = f"{v:.{max(decimals, 1)}f}".rstrip("0").rstrip(".")
            return s.replace("-", "−") + (suffix if limit > 1e4 else "k")
    s = f"{v:.{decimals}f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s.replace("-", "−")


def _linear_labels(lo: float, hi: float, length_px: float, is_y: bool) -> tuple[list[str], list[str]]:
    """Plotly's automatic ticks (``axes.autoTicks``): about one per 40 px (y) or 80 px (x), at 2, 5 or 10
    × 10^k; and the labels one step finer, in case the axis is drawn longer than assumed."""
    span = abs(hi - lo) or abs(hi) or 1.0
    nt = min(max(length_px / (40 if is_y else 80), 4), 9) + 1
    rough = span / nt
    base = 10 ** math.floor(math.log10(rough))
    coarse = next(m * base for m in (2, 5, 10) if m * base >= rough)
    finer = {2: 1, 5: 2, 10: 5}[round(coarse / base)] * base
    return _stepped(lo, hi, coarse), _stepped(lo, hi, finer)


def _stepped(lo: float, hi: float, dtick: float) -> list[str]:
    """The labels of the multiples of ``dtick`` in [lo, hi] (the first and last 20 of a long run: the widest
    labels are at its ends or among its first few)."""
    decimals = max(0, -math.floor(math.log10(dtick) + 1e-9))
    ks = list(range(math.ceil(min(lo, hi) / dtick - 1e-9), math.floor(max(lo, hi) / dtick + 1e-9) + 1))
    return [_number(k * dtick, decimals) for k in (ks if len(ks) <= 40 else ks[:20] + ks[-20:])]


def _log_labels(lo: float, hi: float) -> list[str]:
    """Decades as plotly may write them (plain, k/M, or 10 with a superscript), and a '5' between."""
    if not (lo > 0 and hi > 0):
        return ["0.001"]
    labels = ["5"]
    for e in range(math.floor(math.log10(min(lo, hi))), math.floor(math.log10(max(lo, hi)) + 1e-9) + 1):
        labels.append(f"10<sup>{str(e).replace('-', '−')}</sup>")
        if -3 <= e <= 4:
            labels.append(_number(10.0 ** e, max(0, -e)))
    return labels


def decode_typed(typed: dict) -> np.ndarray:
    """plotly's typed-array form of a numpy array, back to numpy."""
    a = np.frombuffer(base64.b64decode(typed["bdata"]), dtype=np.dtype(typed["dtype"]))
    shape = typed.get("shape")
    return a.reshape([int(n) for n in str(shape).split(",")]) if shape else a


def _values(trace: dict, letter: str) -> np.ndarray | list | None:
    """The values a trace puts on its ``letter`` axis (a heatmap's or bar's default coordinates included)."""
    v = trace.get(letter)
    kind = trace.get("type", "scatter")
    if v is None and kind == "heatmap" and trace.get("z") is not None:
        z = decode_typed(trace["z"]) if isinstance(trace["z"], dict) else np.asarray(trace["z"])
        v = np.arange(z.shape[1 if letter == "x" else 0]) if z.ndim == 2 else None
    if v is None:
        return None
    if isinstance(v, dict):  # plotly's typed-array form: {"dtype", "bdata" (base64), "shape"}
        v = decode_typed(v)
    if kind == "bar" and letter == ("y" if trace.get("orientation") != "h" else "x"):
        v = np.append(np.asarray(v, dtype=float), 0.0)
    return v


def _axis_labels(name: str, axis: dict, traces: list[dict], length_px: float,
                 shared: set[str]) -> tuple[list[str], list[str]]:
    """(labels plotly will most likely draw, every label it might draw) on one axis; ``shared``: the axis
    references (``"y"``, ``"y2"``) whose data set its range, itself and those it ``matches``."""
    if axis.get("ticktext") is not None:
        return [str(t) for t in axis["ticktext"]], []
    if axis.get("tickvals") is not None:
        vals = decode_typed(axis["tickvals"]) if isinstance(axis["tickvals"], dict) else axis["tickvals"]
        return [_number(float(v), 3) for v in np.ravel(np.asarray(vals, dtype=float))], []
    letter, refs = name[0], shared
    values = [v for t in traces if t.get(letter + "axis", letter) in refs for v in [_values(t, letter)] if v is not None]
    flat = []
    for v in values:
        a = np.asarray(v)
        if a.dtype.kind in "OUS":  # words, or numbers with None gaps
            items = [x for x in np.ravel(a).tolist() if x is not None]
            if any(isinstance(x, str) for x in items):
                return list(dict.fromkeys(str(x) for x in items)), []
            a = np.asarray(items, dtype=float)
        flat.append(a.astype(float).ravel())
    data = np.concatenate(flat) if flat else np.zeros(0)
    data = data[np.isfinite(data)]
    rng = axis.get("range")
    fixed = bool(rng) and None not in rng
    if not fixed and not data.size:
        return [], []
    lo, hi = (float(rng[0]), float(rng[1])) if fixed else (float(data.min()), float(data.max()))
    if axis.get("type") == "log":
        return [], _log_labels(*((10 ** lo, 10 ** hi) if fixed else (lo, hi)))
    if axis.get("type") == "category":
        return [_number(float(v), 6) for v in np.unique(data)], []
    if isinstance(axis.get("dtick"), (int, float)) and axis["dtick"] > 0:  # the builder chose the step
        coarse, finer = _stepped(lo, hi, float(axis["dtick"])), []
    else:
        coarse, finer = _linear_labels(lo, hi, length_px, letter == "y")
        finer = finer if letter == "x" else []  # a y axis's length follows from the known height
    if (axis.get("tickformat") or "").endswith("%"):
        coarse, finer = ([_number(float(x.replace("−", "-").rstrip("kMG") or 0) * 100, 0) + "%" for x in labels]
                         for labels in (coarse, finer))
    pre, suf = axis.get("tickprefix", ""), axis.get("ticksuffix", "")
    return [pre + x + suf for x in coarse], [pre + x + suf for x in finer]


# -- the margins ----------------------------------------------------------------------------------------

def _title(part: dict) -> str:
    t = part.get("title")
    return (t.get("text") if isinstance(t, dict) else t) or ""


def _title_px(axis: dict, fs: float) -> float:
    """Room a y axis title takes beside its tick labels (plotly sets a title in 1.2× the figure's type;
    measured at 14 and 22 px type)."""
    title = _title(axis)
    if not title:
        return 0.0
    size = ((axis.get("title") or {}).get("font") or {}).get("size") if isinstance(axis.get("title"), dict) else None
    size = size or round(1.2 * fs)
    return 0.6 * size + 8 + title.count("<br>") * 1.3 * size


def _axes(layout: dict, traces: list[dict]) -> dict:
    """Every cartesian axis: those the layout sets, and the default pair when a trace draws on it."""
    axes = {k: v for k, v in layout.items() if re.fullmatch(r"[xy]axis\d*", k) and isinstance(v, dict)}
    for t in traces:
        if t.get("type", "scatter") in ("scatter", "bar", "heatmap", "histogram", "box"):
            for letter in "xy":
                ref = t.get(letter + "axis", letter)
                axes.setdefault(letter + "axis" + ref[1:], {})
    return axes


def _shared(axes: dict) -> dict[str, set[str]]:
    """For each axis, the references of every axis its range is shared with (``matches``)."""
    ref = {name: name[0] + name[5:] for name in axes}
    root = {name: axis.get("matches") or ref[name] for name, axis in axes.items()}
    return {name: {ref[o] for o in axes if root[o] == root[name] or ref[o] == root[name]} | {root[name]}
            for name in axes}


def fit(spec: dict, width: float) -> None:
    """Raise ``spec['layout']['margin']`` (a ``fig.to_dict()``) to what plotly's automargin will measure.

    A legend at the figure's foot in container coordinates (``style.LEGEND_AT_FOOT``) gets its own
    height added below the x axis: plotly reserves that height after the first draw
    (``_reservedMargin``), less whatever the margin already holds beyond the axis labels' own push, so
    a margin with room for both is not grown and the figure is drawn once.

    ``width``: the width the figure is likely drawn at, for the tick spacing and legend rows (a page
    column narrower than that makes crowded x labels turn, which this does not foresee).
    """
    layout, traces = spec["layout"], spec.get("data") or []
    fs = (layout.get("font") or {}).get("size") or 12
    height = layout.get("height") or 450
    m = dict(layout.get("margin") or {})
    need = {side: float(m.get(side, 80 if side in "lr" else 100 if side == "t" else 80)) for side in "lrtb"}
    axes = _axes(layout, traces)
    shared = _shared(axes)
    leg = layout.get("legend") or {}
    foot = leg.get("yref") == "container" and leg.get("y", 1) <= 0.01 and layout.get("showlegend") is not False
    for name in sorted(axes):  # x before y: a y axis's length depends on the bottom margin
        axis = axes[name]
        if axis.get("visible") is False or axis.get("automargin") is False:
            continue
        letter, other = name[0], "y" if name[0] == "x" else "x"
        anchor = axis.get("anchor") or other + name[5:]
        anchored = axes.get(other + "axis" + anchor[1:], {})
        far = axis.get("side") in ("right", "top")
        at = (anchored.get("domain") or [0.0, 1.0])[1 if far else 0]
        dom = axis.get("domain") or [0.0, 1.0]
        span = (height - need["t"] - need["b"]) if letter == "y" else (width - 110)
        length = (dom[1] - dom[0]) * span
        tsize = (axis.get("tickfont") or {}).get("size") or fs
        shown, maybe = (_axis_labels(name, axis, traces, length, shared[name])
                        if axis.get("showticklabels", True) else ([], []))
        sizes = [text_px(x, tsize) for x in shown + maybe]
        widest = max((w for w, _ in sizes), default=0.0)
        if letter == "y" and (at <= EDGE if not far else at >= 1 - EDGE):
            side = "r" if far else "l"
            log = 4 if axis.get("type") == "log" else 0  # superscripts stand higher and wider than estimated
            need[side] = max(need[side], widest + 18.5 + 0.25 * tsize + log + _title_px(axis, fs))
        elif letter == "x" and not far and at <= EDGE:
            title_h = (_title(axis).count("<br>") + 1) * 1.3 * fs if _title(axis) else 0.0
            need["b"] = max(need["b"], 24 + _tick_height(axis, shown, sizes, tsize, length) + title_h)  # 22 was 1–2 px short on slides
            angle = axis.get("tickangle")
            turned = isinstance(angle, (int, float)) and not isinstance(angle, bool) and angle < 0
            if shown and turned and dom[0] <= EDGE:  # turned by the builder: long labels reach left
                turn, step = math.radians(-angle), length / len(shown) if not _numeric(shown[0]) else 0.0
                reach = max(text_px(x, tsize)[0] * math.cos(turn) - (i + 0.5) * step for i, x in enumerate(shown))
                need["l"] = max(need["l"], reach + 0.6 * tsize * math.sin(turn) + 9)  # §6b: 83 px measured
            elif shown and dom[1] >= 1 - EDGE:  # the last label hangs past the plot by up to half its width
                band = length / len(shown) / 2 if not _numeric(shown[-1]) else 0.0
                last = max(text_px(labels[-1], tsize)[0] for labels in (shown, maybe) if labels)
                need["r"] = max(need["r"], last / 2 - band + 6)
    _colorbar(traces, fs, width, need)
    if foot:
        need["b"] += _foot_legend_px(leg, traces, fs, width - need["l"] - need["r"])
    else:
        _legend(layout, traces, fs, width - need["l"] - need["r"], height - need["t"] - need["b"], need)
    layout["margin"] = {**m, **{side: int(math.ceil(v)) for side, v in need.items()}}


def _numeric(label: str) -> bool:
    return bool(re.fullmatch(r"[−\d.,%kMG]+", label))


def _tick_height(axis: dict, shown: list[str], sizes: list, tsize: float, length: float) -> float:
    """Height of an x axis's tick labels: their lines, or turned when they clearly cannot sit side by side
    (plotly turns them by 30°, or by 90° when even that leaves no room)."""
    rows = max((n for _, n in sizes), default=0)
    flat = rows * 1.15 * tsize
    angle = axis.get("tickangle")
    if shown and isinstance(angle, (int, float)) and not isinstance(angle, bool):  # turned by the builder
        turn = math.radians(abs(angle))
        widest = max(text_px(x, tsize)[0] for x in shown)
        return widest * math.sin(turn) + flat * math.cos(turn) + 0.2 * tsize * math.sin(turn) + 3  # slides: 1–2 px short
    if not shown or angle not in (None, "auto"):
        return flat
    spacing = length / len(shown)
    widest = max(text_px(x, tsize)[0] for x in shown)
    if len(shown) < 2 or widest < 1.25 * spacing:
        return flat
    return widest + 0.2 * tsize if spacing < 2.3 * tsize else widest * 0.5 + flat * 0.87


def _colorbar(traces: list[dict], fs: float, width: float, need: dict) -> None:
    """A colorbar (a heatmap's, or a scatter's markers') stands 2% of the plot's width right of it
    (``x = 1.02``) and pushes the margin by its own width, measured on every page at 14- and 22-px type:

    - title on top (``style.heatmap``): the wider of the title (its type 1.2× the figure's) + 32 px and
      bar + widest tick label + 33 px ("bias b_ij": 101 px at 14-px type, 137 at 22);
    - title turned on its side (``side="right"``): bar + widest tick label + 1.36 × type + 31 px for a
      heatmap ("weight" over 0–1: 95 px at 14-px type, 119 at 22), 1.5 × type + 37 px for a scatter's
      markers ("position" over 0–500: 99 px, 126). Plotly's own automargin leaves such a title out and
      cut it off (§3's "value" by 22 px on a slide)."""
    for t in traces:
        marker = t.get("marker") or {}
        if t.get("type") == "heatmap" and t.get("showscale") is not False:
            cb = t.get("colorbar") or {}
        elif isinstance(marker, dict) and marker.get("showscale"):
            cb = marker.get("colorbar") or {}
        else:
            continue
        bar, ticks = cb.get("thickness") or 30, _colorbar_ticks_px(t, cb, fs)
        side = (cb.get("title") or {}).get("side") if isinstance(cb.get("title"), dict) else None
        if _title(cb) and side == "right":
            lines = _title(cb).count("<br>") + 1  # the turned title's lines stand side by side
            own = bar + ticks + (1.36 * fs * lines + 31 if t.get("type") == "heatmap" else 1.5 * fs * lines + 37)
        else:
            own = max(1.2 * text_px(_title(cb), fs)[0] + 32 if _title(cb) else 0.0, bar + ticks + 33)
        need["r"] = max(need["r"], own + 0.02 * (width - need["l"] - own) + 2)


def _colorbar_ticks_px(trace: dict, cb: dict, fs: float) -> float:
    """The widest tick label of a colorbar: its own tick labels when the builder set them, else plotly's
    automatic ticks over the colour range (a heatmap's zmin/zmax or z, a scatter's cmin/cmax or colours)."""
    if cb.get("ticktext") is not None:
        labels = [str(x) for x in cb["ticktext"]]
    elif cb.get("tickvals") is not None:
        vals = decode_typed(cb["tickvals"]) if isinstance(cb["tickvals"], dict) else cb["tickvals"]
        labels = [_number(float(v), 3) for v in np.ravel(np.asarray(vals, dtype=float))]
    else:
        marker = trace.get("marker") if trace.get("type") != "heatmap" else None
        src = marker if isinstance(marker, dict) else trace
        key = "c" if src is marker else "z"
        lo, hi = src.get(key + "min"), src.get(key + "max")
        if lo is None or hi is None:
            z = src.get("color" if src is marker else "z")
            try:
                a = decode_typed(z) if isinstance(z, dict) else np.array(z if z is not None else [], dtype=float)
            except (TypeError, ValueError):  # colour names, not numbers
                return 2.4 * fs
            a = a[np.isfinite(a)]
            if not a.size:
                return 2.4 * fs
            lo, hi = float(a.min()) if lo is None else lo, float(a.max()) if hi is None else hi
        labels = _linear_labels(float(lo), float(hi), 300, True)[0]
    return max((text_px(x, fs)[0] for x in labels), default=2.4 * fs)


# ``fit`` is told one width (840 px); at 1280×720 pages draw figures ~820 px wide, in 14-px type, and
# slides ~860, in 22-px type. A foot legend's rows turn on a few pixels, so they are counted at the width
# the figure's type says: a row too many leaves white space on a slide, one too few costs a second draw.
def _drawn_width(plot_w: float, fs: float) -> float:
    return plot_w + (20 if fs >= 18 else -20)


def _foot_legend_px(leg: dict, traces: list[dict], fs: float, plot_w: float) -> float:
    """Height of a horizontal legend that plotly lays out within the plot's width (``_maxWidth``).

    Measured on every page's foot legends: 11 px of padding and a row of 21 px at 14-px type (31.5 px
    at 22). An entry is 40 px of symbol and gap, its text, and 5 px (``itemgap``). Legend groups
    (``legendgroup``; plotly's default order is then "grouped") wrap a group at a time, each as wide
    as its widest entry, 10 px apart (``tracegroupgap``). Ungrouped entries stay on one row if they
    fit, else go into a grid of columns as wide as the widest entry (plotly's ``computeLegendDimensions``)."""
    shown = [t for t in traces if t.get("showlegend") is not False and t.get("name")]
    if not shown:
        return 0.0
    room, row_h, gap = _drawn_width(plot_w, fs), 1.5 * fs, leg.get("tracegroupgap", 10)
    entry = [40 + text_px(t["name"], fs)[0] + 5 for t in shown]
    if any(t.get("legendgroup") for t in shown) and "grouped" in leg.get("traceorder", "grouped"):
        groups: dict = {}
        for t, w in zip(shown, entry):
            key = t.get("legendgroup") or id(t)
            width, n = groups.get(key, (0.0, 0))
            groups[key] = (max(width, w), n + 1)
        height, tallest, x = 0.0, 0, 0.0
        for width, n in groups.values():
            if x > 0 and x + width > room:
                height, x, tallest = height + tallest * row_h + gap, 0.0, 0
            x, tallest = x + width, max(tallest, n)
        return 11 + height + tallest * row_h
    if sum(entry) - 5 < room:
        return 11 + row_h
    per_row = max(1, math.ceil((room + 5) / max(entry)) - 1)
    return 11 + math.ceil(len(entry) / per_row) * row_h


def _legend(layout: dict, traces: list[dict], fs: float, plot_w: float, plot_h: float, need: dict) -> None:
    """A horizontal legend above the plot (paper coordinates) pushes the top margin by its rows."""
    if layout.get("showlegend") is False:
        return
    leg = layout.get("legend") or {}
    if leg.get("orientation") != "h" or leg.get("yref", "paper") != "paper":
        return
    if not (leg.get("y", 1.02) >= 1 and leg.get("yanchor") == "bottom"):
        return
    names = [t.get("name") for t in traces if t.get("showlegend") is not False and t.get("name")]
    if len(names) < 2 and not any(t.get("showlegend") for t in traces):
        return
    # Entries that do not fit on one line go into a grid whose columns are as wide as the widest entry.
    widths = [42 + text_px(name, fs)[0] + 5 for name in names]
    rows = 1 if sum(widths) <= plot_w else math.ceil(len(widths) / max(1, int(plot_w // max(widths))))
    need["t"] = max(need["t"], 23 + rows * 1.48 * fs + (leg.get("y", 1.02) - 1) * plot_h + 2)
