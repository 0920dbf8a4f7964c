"""§5 Relative positions: bias tables, Shaw clipping, Transformer-XL, T5 buckets, shift invariance."""

import streamlit as st

import ui
from posviz import diagnostics, relative
from posviz.figures import relative as figs

INDEXING = {"t5": "T5 buckets (32)", "clip": "clipped offsets (2k+1)"}
TABLES = {"structured": "structured: each head prefers an offset", "random": "seeded random"}
BUCKETS = [8, 16, 32, 64, 128]
MAX_DISTANCES = [16, 32, 64, 128, 256, 512, 1024]
page = ui.Page("s5", "5 · Relative positions")
page.prose("intro")


@ui.figure
def bias_view(indexing, table, heads, n, k, seed, style):
    res = relative.bias_tables(indexing, table, heads, n, k, seed=seed)
    return res, figs.bias_heads(res.table, res.row_axis, res.bias, style, row_title=res.row_title,
                                heads_shown=2 if style.lecture else 4)


@page.slide
def bias_matrices():
    page.section("Relative bias matrices", "bias")
    v = page.controls([2, 3, 2], bias_index=ui.Radio("Table indexed by", INDEXING, format_func=INDEXING.get),
                      bias_table=ui.Radio("Table values", TABLES, format_func=TABLES.get),
                      bias_seed=ui.Number("Seed", 0, 999, 0, help="Used by the seeded random table."))
    w = page.controls(bias_heads=ui.Slider("Heads", 1, 16, 8), bias_len=ui.Slider("Sequence length", 4, 256, 24),
                      bias_k=ui.Slider("Clip distance k (clipped offsets)", 1, 32, 6))
    res, fig = bias_view(v.bias_index, v.bias_table, w.bias_heads, w.bias_len, w.bias_k, v.bias_seed)
    ui.plot(fig)
    rows, heads = res.table.shape
    st.caption(f"Table {rows}×{heads} = {rows * heads} numbers → bias tensor [heads, q, k] = "
               f"{list(res.bias.shape)}; this sequence reads {res.rows_read} of the {rows} rows, and the first "
               f"{min(heads, 2 if ui.lecture() else 4)} head(s) are drawn. The same table serves every length.")
    unused = []
    if v.bias_index == "t5":
        unused.append(f"k = {w.bias_k} (only clipped offsets have a clip distance)")
    if v.bias_table == "structured":
        unused.append(f"seed {v.bias_seed} (only the random table is seeded)")
    if unused:
        st.caption("Not used in this setting: " + "; ".join(unused) + ".")
    ui.check(res.verdict)


@ui.figure
def shaw_view(k, n, seed, values, style):
    res = relative.shaw_demo(k, n, seed=seed, values=values)
    parts = {"content q·k/√d": res.content, "position q·a_ij/√d": res.position, "score (sum)": res.score}
    outputs = {"Σ α_ij v_j (keys only)": res.out_keys_only, "+ Σ α_ij a^V_ij": res.out - res.out_keys_only,
               "z_i (eq. 3)": res.out}
    return res, (figs.clipping(res.offsets, res.clipped, res.row_counts, k, style),
                 figs.score_parts(parts, style),
                 figs.score_parts(outputs, style, xtitle="output feature", colorbar="output") if values else None)


@page.slide
def shaw():
    page.section("Shaw-style clipped relative keys", "shaw")
    v = page.controls([3, 3, 1, 2], shaw_k=ui.Slider("Clip distance k", 0, 12, 3),
                      shaw_len=ui.Slider("Sequence length", 2, 32, 10), shaw_seed=ui.Number("Seed", 0, 999, 0),
                      shaw_values=ui.Toggle("Also on values",
                                            help="Shaw et al.'s eq. 3: a second clipped table a^V added to the values."))
    res, (clip_fig, parts_fig, out_fig) = shaw_view(v.shaw_k, v.shaw_len, v.shaw_seed, v.shaw_values)
    ui.plot(clip_fig)
    st.caption(f"The table has 2k+1 = {2 * v.shaw_k + 1} rows; this {v.shaw_len}-token sequence reads "
               f"{res.rows_read} of them. Offsets past ±{v.shaw_k} all land on the two edge rows (orange).")
    ui.plot(parts_fig)
    if not res.edge_groups:
        st.caption(f"No query here has two keys {v.shaw_k} or more tokens away on one side: "
                   "lengthen the sequence or lower k to see clipped keys share a vector.")
    if out_fig is not None:
        st.caption("With a^V on, the weights α are unchanged (a^V is not in the score); what each query reads "
                   "from a key now depends on its clipped offset too. Rows: queries; columns: output features.")
        ui.plot(out_fig)
    for verdict in res.verdicts:
        ui.check(verdict)


@ui.figure
def xl_view(n, mem, seed, style):
    res = relative.xl_demo(n, mem, seed=seed)
    return res, figs.score_parts(res.labelled, style, x=res.key_positions.tolist(), y=list(range(n)),
                                 xtitle="key (memory < 0)", memory_keys=mem)


@page.slide
def xl_terms():
    page.section("Transformer-XL: four score terms", "xl")
    v = page.controls([3, 3, 1], xl_len=ui.Slider("Segment length (queries)", 2, 16, 6),
                      xl_mem=ui.Slider("Memory length", 0, 16, 4), xl_seed=ui.Number("Seed", 0, 999, 0))
    res, fig = xl_view(v.xl_len, v.xl_mem, v.xl_seed)
    ui.plot(fig)
    st.caption("Mean |term|: " + ", ".join(f"{name} {size:.2f}" for name, size in res.mean_abs.items()) + ".")
    for verdict in res.verdicts:
        ui.check(verdict)


@ui.figure
def memory_view(seg_len, mem, seg, style):
    res = relative.segment_memory(seg_len, mem, seg)
    return res, figs.segment_memory(res.slots, res.key_positions, res.query_positions, res.offsets, style)


@page.slide
def xl_memory():
    page.section("Transformer-XL: segment memory", "memory")
    v = page.controls(mem_len=ui.Slider("Segment length L", 2, 16, 4), mem_mem=ui.Slider("Memory length M", 0, 32, 6),
                      mem_seg=ui.Slider("Segment number s", 1, 8, 2))
    res, fig = memory_view(v.mem_len, v.mem_mem, v.mem_seg)
    ui.plot(fig)
    if res.empty_slots:
        st.caption(f"{res.empty_slots} memory slot(s) lie before the start of the text (segment {v.mem_seg} has "
                   f"only {v.mem_seg * v.mem_len} earlier tokens); in practice the memory simply holds fewer rows.")
    ui.check(res.verdict)
    if v.mem_mem:
        st.markdown(f"If every segment numbered its tokens 0…{v.mem_len - 1} instead, {res.restart_clashes} of "
                    f"the {res.real_keys} keys would share an id with another key: a memory token and a current "
                    "token would look alike.")
    else:
        st.markdown("With M = 0 each segment sees only itself, so ids restarting at 0 would be harmless "
                    "(and there would be no memory to reuse).")
    page.mistake("memory.mistake")


@ui.figure
def staircase_view(nb, md, style):
    res = relative.t5_staircase(nb, md)
    return res, figs.t5_staircase(res.r, res.buckets, res.marks, md, style)


@ui.figure
def usage_view(nb, md, n, mode, random, style):
    res = relative.t5_usage(nb, md, n, mode, random=random)
    return res, figs.t5_bias_usage(res.bias, res.counts, res.unused, style, mode=res.label)


@page.slide
def t5_buckets():
    page.section("T5 log buckets", "t5")
    v = page.controls(t5_buckets=ui.Select("num_buckets", BUCKETS, index=BUCKETS.index(32)),
                      t5_maxd=ui.Select("max_distance", MAX_DISTANCES, index=MAX_DISTANCES.index(128)))
    with ui.guard("Raise max_distance or lower num_buckets: max_distance must exceed the exact region."):
        res, fig = staircase_view(v.t5_buckets, v.t5_maxd)
        ui.plot(fig)
        for verdict in res.verdicts:
            ui.check(verdict)
    page.mistake("t5.mistake")
    w = page.controls([3, 3, 2], t5_len=ui.Slider("Sequence length for the bias matrix", 8, 256, 64),
                      t5_mode=ui.Radio("Mode", relative.T5_MODES, format_func=relative.T5_MODES.get),
                      t5_random=ui.Toggle("Seeded random table",
                                          help="Off: a table that falls with distance, 2 − 1.5·log2(1 + |j − i|) "
                                               "for the nearest offset in each bucket, so the bands are easy to read."))
    with ui.guard("Raise max_distance or lower num_buckets."):
        res, fig = usage_view(v.t5_buckets, v.t5_maxd, w.t5_len, w.t5_mode, w.t5_random)
        ui.plot(fig)
        masked = " (causal: later keys are masked, blank, and not counted)" if w.t5_mode == "causal" else ""
        st.caption(f"{res.unread} of {v.t5_buckets} buckets are read by no pair of this {w.t5_len}×{w.t5_len} "
                   f"matrix{masked}. Grey circles: the sequence is too short to reach them; ×: unreachable at any "
                   "length.")


@ui.figure
def shift_view(n, delta, scheme, seed, style):
    res = diagnostics.shift_demo(n, delta, scheme, seed=seed)
    return res, (figs.shift_heatmaps(res.before, res.after, delta, res.label, style),
                 figs.shift_gaps(res.gaps_by_label, delta, style))


@page.slide
def shift_test():
    page.section("When relative helps: the shift test", "shift")
    v = page.controls(shift_delta=ui.Slider("Shift every token by Δ", 0, 1000, 37),
                      shift_len=ui.Slider("Tokens", 2, 32, 10))
    w = page.controls([5, 1], shift_scheme=ui.Radio("Scores drawn for", diagnostics.SHIFT_SCHEMES,
                                                    format_func=diagnostics.SHIFT_SCHEMES.get),
                      shift_seed=ui.Number("Seed", 0, 999, 0))
    res, (heat, bars) = shift_view(v.shift_len, v.shift_delta, w.shift_scheme, w.shift_seed)
    ui.plot(heat)
    ui.plot(bars)
    for verdict in res.verdicts:
        ui.check(verdict)
    if not res.verdicts:
        st.caption("Δ = 0 moves nothing, so there is nothing to test: pick Δ > 0.")
    st.caption("These are the phrase's own scores, among its own tokens. In a document its neighbours differ, "
               "its queries attend to them too, and so its outputs still change with where it sits.")
    page.mistake("shift.mistake")


bias_matrices()
shaw()
xl_terms()
xl_memory()
t5_buckets()
shift_test()
