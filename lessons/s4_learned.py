"""§4 Learned absolute: a real trained table (all-MiniLM-L6-v2), its size, its hard end, resizing, failure modes."""

import streamlit as st

import ui
from posviz import learned
from posviz.figures import absolute as figs

page = ui.Page("s4", "4 · Learned absolute")
page.prose("intro")

try:
    N_ROWS, WIDTH = learned.trained_shape()
except FileNotFoundError as err:
    st.error(f"**The real trained table is not available:** {err}", icon="✋")
    st.stop()


def num(x: float | None, none: str = "—", sign: str = "") -> str:
    """Three decimals that never print as "-0.000"; ``none`` where there is no value."""
    return none if x is None else f"{round(x, 3) + 0.0:{sign}.3f}"


# -- 1. the table and its parameter count -------------------------------------

@ui.figure
def cost_view(positions, width, style):
    cost = learned.table_cost(positions, width)
    return cost, figs.parameter_counts(cost.bars, style)


@page.slide
def table_size():
    page.section("The learned table and its parameter count", "table")
    v = page.controls(positions=ui.Number("Max positions L (rows)", 1, 1_048_576, 4096, step=512),
                      width=ui.Number("Model width d (columns)", 1, 65_536, 4096, step=64))
    with ui.guard("Use whole numbers of at least 1."):
        cost, fig = cost_view(int(v.positions), int(v.width))
        a, b, c, d = st.columns(4)
        a.metric("Parameters L × d", f"{cost.params:,}")
        b.metric("Memory in fp32 (4 bytes)", f"{cost.mib('fp32'):,.2f} MiB")
        c.metric("Memory in bf16 (2 bytes)", f"{cost.mib('bf16'):,.2f} MiB")
        d.metric("× the MiniLM table", f"{cost.ratio:,.1f}")
        ui.plot(fig)
        ui.check(cost.verdict)


# -- 2. the training-length limit ---------------------------------------------

@ui.figure
def limit_view(query, style):
    prof = learned.row_profile()
    return prof, figs.table_limit(prof.norms, prof.neighbour, prof.n_rows, query, style,
                                  marks={prof.seam: f"{prof.seam}"})


@page.slide
def training_limit():
    page.section("The training-length limit", "limit")
    p = page.control("query", ui.Slider("Position p to look up", 0, 2 * N_ROWS - 1, 300,
                                        help=f"The table has rows 0 … {N_ROWS - 1}. Go past them."))
    prof, fig = limit_view(p)
    ui.plot(fig)
    with ui.guard(f"A learned table of {N_ROWS} rows cannot encode position {p}: pick p ≤ {N_ROWS - 1}, "
                  "or resize the table (next part) and fine-tune the model at the new length."):
        row = prof.row(p)
        a, b, c = st.columns(3)
        a.metric(f"‖P[{p}]‖", f"{row.norm:.3f}")
        b.metric(f"cos(P[{p}], P[{p - 1}])" if p else "cos with previous row", num(row.cos_prev))
        c.metric(f"cos(P[{p}], P[{p + 1}])" if p < N_ROWS - 1 else "cos with next row",
                 num(row.cos_next, "— (last row)"))
    s, early, late = prof.seam, prof.early, prof.late
    st.markdown(
        f"**Measured on this table:** row 0 has norm **{float(prof.norms[0]):.2f}**; rows 1–{s - 2} average "
        f"**{prof.mean_norm(early):.3f}**, row {s - 1} **{float(prof.norms[s - 1]):.3f}**, rows "
        f"{s}–{N_ROWS - 3} **{prof.mean_norm(late):.3f}**, and the last two rows **{float(prof.norms[-2]):.2f}** "
        f"and **{float(prof.norms[-1]):.2f}**. Neighbour cosine averages **{prof.mean_neighbour(early):.3f}** "
        f"before the seam and **{prof.mean_neighbour(late):.3f}** after it.")
    ui.check(prof.verdict)


# -- 3. resizing by interpolation -------------------------------------------

@ui.figure
def resize_view(new_len, style):
    rep = learned.resize_report(new_len, style.max_cells)
    return rep, figs.side_by_side(rep.before, rep.after,
                                  (f"trained table, {rep.old_len} rows: cos(P[p], P[q])",
                                   f"resized to {new_len} rows: cos(P'[p], P'[q])"), style,
                                  left_pos=rep.before_pos, right_pos=rep.after_pos)


@page.slide
def resizing():
    page.section("Resizing by interpolation", "resize")
    new_len = page.control("new_len", ui.Slider("New table length m", 128, 2048, 1024))
    with ui.guard():
        rep, fig = resize_view(new_len)
        ui.plot(fig)
        ui.check(rep.ends_verdict)
        ui.check(rep.grid_verdict)
        a, b, c = st.columns(3)
        a.metric("Old positions per new step", f"{rep.step:.3f}")
        b.metric("Neighbour cosine, trained table", f"{rep.neighbour_before:.3f}")
        c.metric("Neighbour cosine, resized table", f"{rep.neighbour_after:.3f}",
                 delta=f"{rep.neighbour_after - rep.neighbour_before:+.3f}", delta_color="off")
        st.caption(f"The other {new_len - rep.on_grid} of {new_len} rows are blends of two trained rows that the "
                   "model never saw during training: a starting point for fine-tuning at the new length, "
                   "not a finished table.")


# -- 4. BERT/GPT-style usage: a real trained table vs a random one -------------

@ui.cached
def compare(n_first, skip_row0):
    return learned.trained_vs_random(n_first, skip_row0)


@ui.figure
def heat_view(n_first, style):
    res = compare(n_first, False)
    return res, figs.side_by_side(res.cos_trained, res.cos_random,
                                  (f"trained {learned.TRAINED_NAME} table", "random table, same shape and std"), style)


@ui.figure
def pca_view(n_first, skip_row0, style):
    res = compare(n_first, skip_row0)
    return res, figs.projection_pair(res.trained.xy, res.random.xy,
                                     ("trained table: top-2 PCA", "random table: top-2 PCA"), style, start=res.start)


@page.slide
def usage():
    page.section("BERT/GPT-style usage: a real trained table", "usage")
    v = page.controls([2, 1], first=ui.Slider("Show the first N positions", 16, N_ROWS, N_ROWS, step=16),
                      skip0=ui.Toggle("PCA without row 0",
                                      help="Row 0 (where [CLS] always sits) is much longer than the others and "
                                           "can take over the first principal component when N is small."))
    ui.plot(heat_view(v.first)[1])
    res, fig = pca_view(v.first, v.skip0)
    ui.plot(fig)
    tr, rd = res.trained, res.random
    a, b, c = st.columns(3)
    a.metric("Neighbour cosine (trained / random)", f"{num(tr.neighbour)} / {num(rd.neighbour, sign='+')}")
    b.metric("Variance in the top 2 components", f"{100 * tr.share:.1f} % / {100 * rd.share:.1f} %")
    c.metric("Turn per position in the PCA plane", f"{tr.turn:+.1f}° / {rd.turn:+.1f}°")
    ui.check(res.verdict)


# -- 5. failure modes ----------------------------------------------------------

@ui.figure
def shift_view(max_delta, style):
    prof = learned.shift_profiles(max_delta)
    return prof, figs.shift_similarity(prof.deltas, prof.curves, style)


@ui.figure
def lookup_view(seq_len, mode, style):
    demo = learned.lookup_demo(seq_len, mode)
    return demo, figs.id_mapping(demo.unchecked.requested, demo.unchecked.used, N_ROWS, style,
                                 broken_label=demo.unchecked.label)


@page.slide
def failure_modes():
    page.section("Failure modes", "failure")
    max_delta = page.control("delta", ui.Slider("Largest shift Δ", 4, learned.MAX_DELTA, 48))
    prof, fig = shift_view(max_delta)
    ui.plot(fig)
    for col, (name, y) in zip(st.columns(len(prof.curves)), prof.curves.items()):
        first = prof.first_below(name)
        col.metric(name, f"{num(float(y[1]), sign='+')} at Δ = 1")
        col.caption(f"mean cosine below 0.5 from Δ = {first} on" if first is not None
                    else f"mean cosine stays ≥ 0.5 up to Δ = {max_delta}")
    ui.check(prof.verdict)


@page.slide
def past_the_table():  # its own slide: on a lecture slide, two figures were squeezed into half a screen each
    page.section("Common mistake #5, live: reading rows past the table")
    v = page.controls([3, 2], seq_len=ui.Slider("Sequence length", 256, 2 * N_ROWS, 768),
                      mode=ui.Radio("What the unchecked code does past the last row", list(learned.LOOKUP_MODES),
                                    format_func=lambda m: {"clamp": "clamp to the last row",
                                                           "wrap": f"wrap (p mod {N_ROWS})"}[m]))
    demo, fig = lookup_view(v.seq_len, v.mode)
    ui.plot(fig)
    left, right = st.columns(2)
    with left:
        st.markdown("**Broken: unchecked lookup**")
        ui.check(demo.unchecked.verdict)
    with right:
        st.markdown("**Fixed: checked lookup**")
        ui.check(demo.checked.verdict)
    page.mistake("failure.mistake")


table_size()
training_limit()
resizing()
usage()
failure_modes()
past_the_table()
