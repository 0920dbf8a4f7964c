"""§4 Learned absolute: a real trained table (all-MiniLM-L6-v2), its size, its hard end, resizing, failure modes."""

import math

import numpy as np
import streamlit as st
import torch

import ui
from posviz import absolute, backend, models
from posviz.figures import absolute as figs

P = "s4"
BYTES = {"fp32": 4, "bf16": 2}
REFERENCE = (("BERT-base", 512, 768), ("GPT-2 small", 1024, 768))  # max positions × hidden width (model configs)
SHORT_LEN = 128  # the short-sequence training length of BERT-style recipes; the page measures the seam there
MIB = 2 ** 20
MAX_DELTA = 256  # the largest shift the failure-mode plot offers

st.title("4 · Learned absolute")
ui.prose(P, "intro")

try:
    N_ROWS, WIDTH = models.minilm_position_table().shape
except FileNotFoundError as err:
    st.error(f"**The real trained table is not available:** {err}", icon="✋")
    st.stop()


def _table() -> torch.Tensor:
    """The trained 512×384 table (loaded once per process by posviz.models)."""
    return models.minilm_position_table()


def _random_like(t: torch.Tensor) -> torch.Tensor:
    """A fresh table of the same shape whose entries have the trained table's standard deviation."""
    return absolute.learned_table(*t.shape, std=float(t.std()), seed=0, device=t.device)


def _np(x):
    return backend.to_numpy(x)


def _signed(x: float, digits: int = 3) -> str:
    """A signed number that never prints as "-0.000"."""
    return f"{round(x, digits) + 0.0:+.{digits}f}"


@ui.cached
def _base():
    """Everything about the real and the random table that no widget changes: computed once per process."""
    t = _table()
    n, d = t.shape
    rnd = _random_like(t)
    cos_real, cos_rand = absolute.cosine_similarity(t), absolute.cosine_similarity(rnd)  # [n, n] each
    shift = {
        "trained (all-MiniLM-L6-v2)": absolute.shift_similarity(t, MAX_DELTA),
        "random, same shape and std": absolute.shift_similarity(rnd, MAX_DELTA),
        f"sinusoidal (d = {d}, interleaved)": absolute.shift_similarity(absolute.sinusoidal(n, d, device=t.device),
                                                                       MAX_DELTA),
    }
    return dict(norms=_np(t.norm(dim=1)), neigh=_np(cos_real.diagonal(1)), rnd_norm=float(rnd.norm(dim=1).mean()),
                rnd_neigh=float(cos_rand.diagonal(1).mean()), cos_real=_np(cos_real), cos_rand=_np(cos_rand),
                shift={k: _np(v) for k, v in shift.items()})


# -- 1. the table and its parameter count -------------------------------------

@ui.cached
def _sizes(n_pos, width, lecture):
    rows = [(f"your table<br>{n_pos:,} × {width:,}", absolute.table_parameters(n_pos, width))]
    rows += [(f"{name}<br>{n} × {d}", absolute.table_parameters(n, d)) for name, n, d in REFERENCE]
    rows.append((f"all-MiniLM-L6-v2<br>{N_ROWS} × {WIDTH} (from its weights)", absolute.table_parameters(N_ROWS, WIDTH)))
    return rows, figs.parameter_counts(rows, ui.style_for_flag(lecture))


@st.fragment
def table_size():
    ui.section("The learned table and its parameter count", P, "table")
    c1, c2 = st.columns(2)
    with c1:
        n_pos = ui.number("Max positions L (rows)", 1, 1_048_576, 4096, "s4_positions", step=512)
    with c2:
        width = ui.number("Model width d (columns)", 1, 65_536, 4096, "s4_width", step=64)
    with ui.guard("Use whole numbers of at least 1."):
        rows, fig = _sizes(int(n_pos), int(width), ui.lecture())
        count = rows[0][1]
        a, b, c, d = st.columns(4)
        a.metric("Parameters L × d", f"{count:,}")
        b.metric("Memory in fp32 (4 bytes)", f"{count * BYTES['fp32'] / MIB:,.2f} MiB")
        c.metric("Memory in bf16 (2 bytes)", f"{count * BYTES['bf16'] / MIB:,.2f} MiB")
        d.metric("× the MiniLM table", f"{count / rows[-1][1]:,.1f}")
        ui.plot(fig)
        real = _table()
        ui.check(absolute.table_parameters(N_ROWS, WIDTH) == real.numel(),
                 "The count formula matches real weights",
                 f"all-MiniLM-L6-v2 stores a tensor of shape {list(real.shape)} = {real.numel():,} numbers "
                 f"= {N_ROWS} × {WIDTH}")


# -- 2. the training-length limit ---------------------------------------------

@ui.cached
def _limit_fig(query, lecture):
    base = _base()
    return figs.table_limit(base["norms"], base["neigh"], N_ROWS, query, ui.style_for_flag(lecture),
                            marks={SHORT_LEN: f"{SHORT_LEN}"})


@st.fragment
def training_limit():
    ui.section("The training-length limit", P, "limit")
    p = ui.slider("Position p to look up", 0, 2 * N_ROWS - 1, 300, "s4_query",
                  help=f"The table has rows 0 … {N_ROWS - 1}. Go past them.")
    ui.plot(_limit_fig(p, ui.lecture()))
    base = _base()
    norms, neigh, rnd_norm, rnd_neigh = base["norms"], base["neigh"], base["rnd_norm"], base["rnd_neigh"]
    with ui.guard(f"A learned table of {N_ROWS} rows cannot encode position {p}: pick p ≤ {N_ROWS - 1}, "
                  "or resize the table (next part) and fine-tune the model at the new length."):
        row = absolute.lookup(_table(), [p])[0]
        a, b, c = st.columns(3)
        a.metric(f"‖P[{p}]‖", f"{float(row.norm()):.3f}")
        b.metric(f"cos(P[{p}], P[{p - 1}])" if p else "cos with previous row", f"{neigh[p - 1]:.3f}" if p else "—")
        c.metric(f"cos(P[{p}], P[{p + 1}])" if p < N_ROWS - 1 else "cos with next row",
                 f"{neigh[p]:.3f}" if p < N_ROWS - 1 else "— (last row)")
    early, late = slice(1, SHORT_LEN - 1), slice(SHORT_LEN, N_ROWS - 2)
    st.markdown(
        f"**Measured on this table:** row 0 has norm **{norms[0]:.2f}**; rows 1–{SHORT_LEN - 2} average "
        f"**{norms[early].mean():.3f}**, row {SHORT_LEN - 1} **{norms[SHORT_LEN - 1]:.3f}**, rows "
        f"{SHORT_LEN}–{N_ROWS - 3} **{norms[late].mean():.3f}**, and the last two rows **{norms[-2]:.2f}** and "
        f"**{norms[-1]:.2f}**. Neighbour cosine averages **{neigh[early].mean():.3f}** before the seam and "
        f"**{neigh[late].mean():.3f}** after it. A random table of the same spread: norm "
        f"**{rnd_norm:.3f}**, neighbour cosine **{_signed(rnd_neigh)}**.")


# -- 3. resizing by interpolation -------------------------------------------

@ui.cached
def _resize(new_len, lecture):
    t = _table()
    n = t.shape[0]
    r = absolute.resize(t, new_len)  # [new_len, d]
    style = ui.style_for_flag(lecture)
    (before, at_before), (after, at_after) = (absolute.block_cosine(x, style.max_cells) for x in (t, r))
    fig = figs.side_by_side(before, after, (f"trained table, {n} rows: cos(P[p], P[q])",
                                            f"resized to {new_len} rows: cos(P'[p], P'[q])"), style,
                            left_pos=at_before, right_pos=at_after)
    on_grid = np.flatnonzero((np.arange(new_len) * (n - 1)) % (new_len - 1) == 0)  # source position is an integer
    src = torch.as_tensor(on_grid * (n - 1) // (new_len - 1), device=t.device)
    dst = torch.as_tensor(on_grid, device=t.device)
    stats = dict(
        n=n,
        ends=float(torch.maximum((r[0] - t[0]).abs().max(), (r[-1] - t[-1]).abs().max())),
        grid=len(on_grid), grid_gap=float((r[dst] - t[src]).abs().max()),
        neigh_before=float(absolute.shift_similarity(t, 1)[1]),  # mean cos(row p, row p+1)
        neigh_after=float(absolute.shift_similarity(r, 1)[1]),
    )
    return fig, stats


@st.fragment
def resizing():
    ui.section("Resizing by interpolation", P, "resize")
    new_len = ui.slider("New table length m", 128, 2048, 1024, "s4_new_len")
    with ui.guard():
        fig, s = _resize(new_len, ui.lecture())
        ui.plot(fig)
        n = s["n"]
        ui.check(s["ends"] == 0.0, "The end rows are kept exactly",
                 f"max |P'[0] − P[0]| and |P'[{new_len - 1}] − P[{n - 1}]| = {s['ends']:.1e}")
        ui.check(s["grid_gap"] < 1e-6,
                 f"{s['grid']} new rows land on whole old positions and equal those rows",
                 f"there are gcd({n - 1}, {new_len - 1}) + 1 = {math.gcd(n - 1, new_len - 1) + 1} of them; "
                 f"largest |difference| = {s['grid_gap']:.1e}")
        step = (n - 1) / (new_len - 1)
        a, b, c = st.columns(3)
        a.metric("Old positions per new step", f"{step:.3f}")
        b.metric("Neighbour cosine, trained table", f"{s['neigh_before']:.3f}")
        c.metric("Neighbour cosine, resized table", f"{s['neigh_after']:.3f}",
                 delta=f"{s['neigh_after'] - s['neigh_before']:+.3f}", delta_color="off")
        st.caption(f"The other {new_len - s['grid']} of {new_len} rows are blends of two trained rows that the model "
                   "never saw during training: a starting point for fine-tuning at the new length, not a finished table.")


# -- 4. BERT/GPT-style usage: a real trained table vs a random one -------------

@ui.cached
def _usage_heat(n_first, lecture):
    base = _base()
    return figs.side_by_side(base["cos_real"][:n_first, :n_first], base["cos_rand"][:n_first, :n_first],
                             ("trained all-MiniLM-L6-v2 table", "random table, same shape and std"),
                             ui.style_for_flag(lecture))


@ui.cached
def _usage_pca(n_first, skip_row0):
    """Top-2 PCA of rows start..N-1 of both tables, and what to read off it (no figure: lecture-independent)."""
    t = _table()
    start = 1 if skip_row0 else 0
    out = {}
    for name, table in (("trained", t), ("random", _random_like(t))):
        rows = table[start:n_first]
        xy = absolute.pca_2d(rows)  # [N, 2]
        centred = rows.double() - rows.double().mean(0)
        turn, steady = absolute.pca_turn(xy)
        out[name] = dict(xy=_np(xy), neigh=float(absolute.shift_similarity(rows, 1)[1]),
                         share=float((xy.double() ** 2).sum() / (centred ** 2).sum()), turn=turn, steady=steady)
    return out


@ui.cached
def _usage_pca_fig(n_first, skip_row0, lecture):
    out = _usage_pca(n_first, skip_row0)
    return figs.projection_pair(out["trained"]["xy"], out["random"]["xy"],
                                ("trained table: top-2 PCA", "random table: top-2 PCA"), ui.style_for_flag(lecture),
                                start=1 if skip_row0 else 0)


@st.fragment
def usage():
    ui.section("BERT/GPT-style usage: a real trained table", P, "usage")
    c1, c2 = st.columns([2, 1])
    with c1:
        n_first = ui.slider("Show the first N positions", 16, N_ROWS, N_ROWS, "s4_first", step=16)
    with c2:
        skip = ui.toggle("PCA without row 0", "s4_skip0",
                         help="Row 0 (where [CLS] always sits) is much longer than the others and can take over "
                              "the first principal component when N is small.")
    ui.plot(_usage_heat(n_first, ui.lecture()))
    ui.plot(_usage_pca_fig(n_first, skip, ui.lecture()))
    stats = _usage_pca(n_first, skip)
    tr, rd = stats["trained"], stats["random"]
    a, b, c = st.columns(3)
    a.metric("Neighbour cosine (trained / random)", f"{tr['neigh']:.3f} / {_signed(rd['neigh'])}")
    b.metric("Variance in the top 2 components", f"{100 * tr['share']:.1f} % / {100 * rd['share']:.1f} %")
    c.metric("Turn per position in the PCA plane", f"{tr['turn']:+.1f}° / {rd['turn']:+.1f}°")
    ui.check(tr["steady"] > 0.9 and rd["steady"] < 0.5,
             "The trained rows turn steadily; the random rows do not",
             f"steadiness of the turn (1 = the same angle every step, 0 = none): trained {tr['steady']:.2f}, "
             f"random {rd['steady']:.2f}" + (f"; one lap ≈ {360 / abs(tr['turn']):.1f} positions"
                                              if abs(tr["turn"]) > 1 else ""))


# -- 5. failure modes ----------------------------------------------------------

@ui.cached
def _shift(max_delta, lecture):
    curves = {k: v[: max_delta + 1] for k, v in _base()["shift"].items()}
    return curves, figs.shift_similarity(np.arange(max_delta + 1), curves, ui.style_for_flag(lecture))


@ui.cached
def _unchecked(seq_len, mode, lecture):
    n = N_ROWS
    ids = torch.arange(seq_len)
    used = ids.clamp(max=n - 1) if mode == "clamp" else ids % n
    counts = torch.bincount(used, minlength=n)
    label = "unchecked: clamp to the last row" if mode == "clamp" else f"unchecked: wrap around (p mod {n})"
    fig = figs.id_mapping(ids, used, n, ui.style_for_flag(lecture), broken_label=label)
    return fig, int((counts > 0).sum()), int(counts[counts > 1].sum()), int(counts.max())


@st.fragment
def failure_modes():
    ui.section("Failure modes", P, "failure")
    max_delta = ui.slider("Largest shift Δ", 4, MAX_DELTA, 48, "s4_delta")
    curves, fig = _shift(max_delta, ui.lecture())
    ui.plot(fig)
    cols = st.columns(len(curves))
    for col, (name, y) in zip(cols, curves.items()):
        below = np.flatnonzero(y < 0.5)
        col.metric(name, f"{_signed(float(y[1]))} at Δ = 1")
        col.caption(f"mean cosine below 0.5 from Δ = {below[0]} on" if below.size
                    else f"mean cosine stays ≥ 0.5 up to Δ = {max_delta}")

    st.markdown("##### Common mistake #5, live: reading rows past the table")
    c1, c2 = st.columns([3, 2])
    with c1:
        seq_len = ui.slider("Sequence length", 256, 2 * N_ROWS, 768, "s4_seq_len")
    with c2:
        mode = ui.radio("What the unchecked code does past the last row", ["clamp", "wrap"], "s4_mode",
                        format_func=lambda m: {"clamp": "clamp to the last row", "wrap": f"wrap (p mod {N_ROWS})"}[m])
    fig, distinct, shared, most = _unchecked(seq_len, mode, ui.lecture())
    ui.plot(fig)
    left, right = st.columns(2)
    with left:
        st.markdown("**Broken: unchecked lookup**")
        if distinct == seq_len:
            ui.check(True, "Every token gets its own position row",
                     f"{seq_len} ≤ {N_ROWS} tokens: the unchecked code is only wrong past row {N_ROWS - 1}")
        else:
            ui.check(False, "Tokens share position rows",
                     f"{seq_len} tokens but only {distinct} distinct rows; {shared} tokens share a row "
                     f"(up to {most} on one row), so the model cannot tell those positions apart")
    with right:
        st.markdown("**Fixed: checked lookup**")
        try:  # here the refusal is the expected, correct outcome, not a bad input of the page
            absolute.lookup(_table(), torch.arange(seq_len))
            ui.check(True, "Every token gets its own trained row", f"{seq_len} ≤ {N_ROWS} positions")
        except ValueError as err:
            ui.check(True, "The checked lookup stops instead of guessing",
                     f"posviz says: “{err}”. Shorten or split the input, or resize the table and fine-tune.")
    ui.mistake(P, "failure.mistake")


table_size()
training_limit()
resizing()
usage()
failure_modes()
