"""§5 Relative positions: bias tables, Shaw clipping, Transformer-XL, T5 buckets, shift invariance."""

import math

import numpy as np
import streamlit as st
import torch

import ui
from posviz import diagnostics, relative
from posviz.figures import relative as figs

P = "s5"
INDEXING = {"t5": "T5 buckets (32)", "clip": "clipped offsets (2k+1)"}
TABLES = {"structured": "structured: each head prefers an offset", "random": "seeded random"}
PREFERRED = (-1, 0, 1, -3, 3, -8, 8, -20, 20, -2, 2, -50, 50, -5, 5, 0)  # head h likes offset j − i = PREFERRED[h]
BUCKETS = [8, 16, 32, 64, 128]
MAX_DISTANCES = [16, 32, 64, 128, 256, 512, 1024]
MODES = {"bidirectional": "bidirectional (encoder)", "causal": "causal (decoder)"}

st.title("5 · Relative positions")
ui.prose(P, "intro")


def _structured(row_offsets: torch.Tensor, heads: int) -> torch.Tensor:
    """A readable table ``[rows, heads]``: head h scores offset o by 3 − 1.5·log2(1 + |o − c_h|); unused rows 0.

    Positive (red) at the head's favourite offset c_h, falling off (blue) with the distance from it.
    """
    c = torch.tensor(PREFERRED, dtype=torch.float64)[torch.arange(heads) % len(PREFERRED)]  # [heads]
    t = 3 - 1.5 * torch.log2(1 + (row_offsets[:, None] - c[None, :]).abs())  # [rows, heads]
    return torch.nan_to_num(t, nan=0.0).float()


# -- 1 · relative bias matrices ---------------------------------------------------------------

@ui.cached
def _bias(indexing, kind, heads, n, k, seed, lecture):
    if indexing == "t5":
        rows = 32
        row_values = relative.t5_bucket_representative()  # j − i nearest 0 in each bucket (NaN: unused)
        row_title = "bucket"
        y = np.arange(rows)
    else:
        rows = 2 * k + 1
        row_values = torch.arange(-k, k + 1, dtype=torch.float64)  # row r holds j − i = r − k
        row_title = "table row: offset j − i"
        y = row_values.numpy()
    if kind == "random":
        table = torch.randn(rows, heads, generator=torch.Generator().manual_seed(seed))
    else:
        table = _structured(row_values, heads)
    bias = relative.relative_bias(table, n, scheme=indexing)  # [heads, n, n]
    gap = relative.toeplitz_gap(bias)
    fig = figs.bias_heads(table, y, bias, ui.style_for_flag(lecture), row_title=row_title,
                          heads_shown=2 if lecture else 4)
    return fig, gap, tuple(table.shape), tuple(bias.shape)


@st.fragment
def bias_matrices():
    ui.section("Relative bias matrices", P, "bias")
    c1, c2, c3 = st.columns([2, 3, 2])
    with c1:
        indexing = ui.radio("Table indexed by", list(INDEXING), "s5_bias_index", format_func=INDEXING.get)
    with c2:
        kind = ui.radio("Table values", list(TABLES), "s5_bias_table", format_func=TABLES.get)
    with c3:
        seed = ui.number("Seed", 0, 999, 0, "s5_bias_seed", help="Used by the seeded random table.")
    c1, c2, c3 = st.columns(3)
    with c1:
        heads = ui.slider("Heads", 1, 16, 8, "s5_bias_heads")
    with c2:
        n = ui.slider("Sequence length", 4, 256, 24, "s5_bias_len")
    with c3:
        k = ui.slider("Clip distance k (clipped offsets)", 1, 32, 6, "s5_bias_k")
    fig, gap, tshape, bshape = _bias(indexing, kind, heads, n, k, seed, ui.lecture())
    ui.plot(fig)
    shown = min(heads, 2 if ui.lecture() else 4)
    st.caption(f"Table {tshape[0]}×{tshape[1]} = {tshape[0] * tshape[1]} numbers → bias tensor "
               f"[heads, q, k] = {list(bshape)}; the first {shown} head(s) are drawn. "
               "The same table serves every sequence length.")
    ui.check(gap == 0.0, "Every diagonal is constant (Toeplitz)",
             f"max |b[h, i+1, j+1] − b[h, i, j]| over all {heads} heads = {gap:g}: "
             "the bias depends on i − j only")


# -- 2 · Shaw clipping ------------------------------------------------------------------------

@ui.cached
def _clip(k, n, lecture):
    off = relative.offsets(n)
    clipped = relative.shaw_clip(n, max_distance=k)
    rows = relative.shaw_index(n, max_distance=k)
    counts = torch.bincount(rows.flatten(), minlength=2 * k + 1)
    return figs.clipping(off, clipped, counts, k, ui.style_for_flag(lecture)), int((counts > 0).sum())


@ui.cached
def _shaw(k, n, seed, lecture):
    d = 16
    g = torch.Generator().manual_seed(seed)
    q, kk = torch.randn(n, d, generator=g, dtype=torch.float64), torch.randn(n, d, generator=g, dtype=torch.float64)
    rel_keys = torch.randn(2 * k + 1, d, generator=g, dtype=torch.float64)
    terms = relative.shaw_terms(q, kk, rel_keys)
    total = relative.shaw_scores(q, kk, rel_keys)
    sum_gap = float((terms["content"] + terms["position"] - total).abs().max())
    # keys k or more tokens away on one side read one shared row: the position term is flat across them
    rows = relative.shaw_index(n, max_distance=k)
    pos = terms["position"]
    flat = 0.0
    for edge in (0, 2 * k):
        vals = torch.where(rows == edge, pos, torch.nan)
        spread = vals.nan_to_num(-math.inf).amax(1) - vals.nan_to_num(math.inf).amin(1)
        spread = spread[torch.isfinite(spread)]
        flat = max(flat, float(spread.max()) if spread.numel() else 0.0)
    parts = {"content q·k/√d": terms["content"], "position q·a_ij/√d": terms["position"], "score (sum)": total}
    return figs.score_parts(parts, ui.style_for_flag(lecture)), sum_gap, flat


@st.fragment
def shaw():
    ui.section("Shaw-style clipped relative keys", P, "shaw")
    c1, c2, c3 = st.columns([3, 3, 1])
    with c1:
        k = ui.slider("Clip distance k", 0, 12, 3, "s5_shaw_k")
    with c2:
        n = ui.slider("Sequence length", 2, 32, 10, "s5_shaw_len")
    with c3:
        seed = ui.number("Seed", 0, 999, 0, "s5_shaw_seed")
    fig, used = _clip(k, n, ui.lecture())
    ui.plot(fig)
    st.caption(f"The table has 2k+1 = {2 * k + 1} rows; this {n}-token sequence reads {used} of them. "
               f"Offsets past ±{k} all land on the two edge rows (orange).")
    fig, sum_gap, flat = _shaw(k, n, seed, ui.lecture())
    ui.plot(fig)
    ui.check(sum_gap < 1e-12, "Content + position = Shaw's score",
             f"max |sum of the two parts − shaw_scores| = {sum_gap:.1e} (float64)")
    ui.check(flat < 1e-12, f"Keys {k} or more tokens away look alike to the position term",
             f"largest spread of q·a_ij/√d across one query's clipped keys on one side = {flat:.1e}")


# -- 3 · Transformer-XL -----------------------------------------------------------------------

@ui.cached
def _xl(n, mem, seed, lecture):
    d = 16
    g = torch.Generator().manual_seed(seed)

    def rnd(*shape, s=1.0):
        return torch.randn(*shape, generator=g, dtype=torch.float64) * s

    x_k = rnd(mem + n, d)  # memory rows, then this segment
    x_q = x_k[mem:]
    w_q, w_ke, w_kr = (rnd(d, d, s=d ** -0.5) for _ in range(3))
    u, v = rnd(d, s=0.5), rnd(d, s=0.5)
    terms = relative.transformer_xl_terms(x_q, x_k, w_q, w_ke, w_kr, u, v)
    full = relative.transformer_xl_score(x_q, x_k, w_q, w_ke, w_kr, u, v)
    gap = float((sum(terms.values()) - full).abs().max())
    names = {"a_content": "(a) content·content", "b_content_position": "(b) content·position",
             "c_global_content": "(c) global content u", "d_global_position": "(d) global position v"}
    parts = {names[key]: t for key, t in terms.items()}
    keys = np.arange(-mem, n)  # key positions relative to the segment start
    fig = figs.score_parts(parts, ui.style_for_flag(lecture), x=keys, y=np.arange(n),
                           xtitle="key (memory < 0)", memory_keys=mem)
    return fig, gap, {k: float(t.abs().mean()) for k, t in parts.items()}


@st.fragment
def xl_terms():
    ui.section("Transformer-XL: four score terms", P, "xl")
    c1, c2, c3 = st.columns([3, 3, 1])
    with c1:
        n = ui.slider("Segment length (queries)", 2, 16, 6, "s5_xl_len")
    with c2:
        mem = ui.slider("Memory length", 0, 16, 4, "s5_xl_mem")
    with c3:
        seed = ui.number("Seed", 0, 999, 0, "s5_xl_seed")
    fig, gap, sizes = _xl(n, mem, seed, ui.lecture())
    ui.plot(fig)
    st.caption("Mean |term|: " + ", ".join(f"{k.split(')')[0]}) {v:.2f}" for k, v in sizes.items())
               + ". Term (c) is the same in every row; term (d) is constant along each diagonal.")
    ui.check(gap < 1e-12, "The four terms add up to the full score",
             f"max |a + b + c + d − (q+u)·k^E − (q+v)·k^R| = {gap:.1e} (float64)")


@ui.cached
def _memory(seg_len, mem, seg, lecture):
    pos = relative.segment_memory_positions(seg_len, mem, segment_index=seg)
    qp, kp, off = pos["query_positions"], pos["key_positions"], pos["offsets"]
    vis = torch.where(pos["is_memory"], figs.MEMORY, figs.CURRENT).expand(seg_len, -1).clone()  # [L, M+L]
    vis[off < 0] = figs.MASKED  # causal: a query never sees later keys
    vis[:, kp < 0] = figs.EMPTY  # memory slots from before the text began
    others = [relative.segment_memory_positions(seg_len, mem, segment_index=s)["offsets"] for s in range(1, 9)]
    same = all(torch.equal(o, off) for o in others)
    real = kp[kp >= 0]  # keys that exist (memory slots before the text are empty)
    restart = real % seg_len  # ids that restart at 0 in every segment
    clashes = int(len(restart) - len(torch.unique(restart)))
    fig = figs.segment_memory(vis, kp, qp, off, ui.style_for_flag(lecture))
    return fig, same, clashes, int((kp < 0).sum()), len(real)


@st.fragment
def xl_memory():
    ui.section("Transformer-XL: segment memory", P, "memory")
    c1, c2, c3 = st.columns(3)
    with c1:
        seg_len = ui.slider("Segment length L", 2, 16, 4, "s5_mem_len")
    with c2:
        mem = ui.slider("Memory length M", 0, 32, 6, "s5_mem_mem")
    with c3:
        seg = ui.slider("Segment number s", 1, 8, 2, "s5_mem_seg")
    fig, same, clashes, empty, n_keys = _memory(seg_len, mem, seg, ui.lecture())
    ui.plot(fig)
    if empty:
        st.caption(f"{empty} memory slot(s) lie before the start of the text (segment {seg} has only "
                   f"{seg * seg_len} earlier tokens); in practice the memory simply holds fewer rows.")
    ui.check(same, "Offsets are identical in every segment",
             f"the [{seg_len}, {mem + seg_len}] offset matrix of segments 1…8 is the same tensor; "
             f"absolute positions differ by L = {seg_len} from one segment to the next")
    if mem:
        ui.check(clashes > 0, "Absolute ids that restart at 0 would collide",
                 f"if every segment numbered its tokens 0…{seg_len - 1}, {clashes} of the {n_keys} keys "
                 "would share an id with another key: a memory token and a current token would look alike")
    else:
        ui.check(clashes == 0, "No memory, no collisions",
                 "with M = 0 each segment only sees itself, so restarting ids would be harmless (and no memory)")
    ui.mistake(P, "memory.mistake")


# -- 4 · T5 buckets ---------------------------------------------------------------------------

@ui.cached
def _staircase(num_buckets, max_distance, lecture):
    reach = max(int(max_distance * 1.25), 24)
    r = torch.arange(-reach, reach + 1)
    buckets, marks, firsts = {}, {}, {}
    for mode, bidir in (("bidirectional", True), ("causal", False)):
        label = MODES[mode]
        buckets[label] = relative.t5_bucket(r, bidir, num_buckets, max_distance)
        first = relative.t5_first_distance_of_last_bucket(bidir, num_buckets, max_distance)
        half = num_buckets // 2 if bidir else num_buckets
        marks[label] = {"max_exact": half // 2, "first_last": first, "sides": (-1, 1) if bidir else (-1,)}
        firsts[mode] = first
    unused = {m: relative.t5_unused_buckets(b, num_buckets, max_distance)
              for m, b in (("bidirectional", True), ("causal", False))}
    fig = figs.t5_staircase(r, buckets, marks, max_distance, ui.style_for_flag(lecture))
    return fig, firsts, unused


@ui.cached
def _t5_heatmap(num_buckets, max_distance, n, mode, random, lecture):
    bidir = mode == "bidirectional"
    rep = relative.t5_bucket_representative(bidir, num_buckets, max_distance)  # [buckets]
    if random:
        table = torch.randn(num_buckets, 1, generator=torch.Generator().manual_seed(0))
    else:
        table = (2 - 1.5 * torch.log2(1 + rep.abs())).nan_to_num(0.0).float()[:, None]  # nearer keys score higher
    bias = relative.relative_bias(table, n, bidirectional=bidir, num_buckets=num_buckets,
                                  max_distance=max_distance)[0]  # [n, n]
    if not bidir:  # a decoder masks later keys: blank them (their bias, bucket 0, is never used)
        bias = bias.masked_fill(relative.offsets(n) < 0, float("nan"))
    counts = relative.t5_bucket_usage(n, bidirectional=bidir, num_buckets=num_buckets, max_distance=max_distance,
                                      visible_only=not bidir)
    unused = relative.t5_unused_buckets(bidir, num_buckets, max_distance)
    fig = figs.t5_bias_usage(bias, counts, unused, ui.style_for_flag(lecture), mode=MODES[mode])
    return fig, int((counts == 0).sum())


@st.fragment
def t5_buckets():
    ui.section("T5 log buckets", P, "t5")
    c1, c2 = st.columns(2)
    with c1:
        nb = ui.select("num_buckets", BUCKETS, "s5_t5_buckets", index=BUCKETS.index(32))
    with c2:
        md = ui.select("max_distance", MAX_DISTANCES, "s5_t5_maxd", index=MAX_DISTANCES.index(128))
    with ui.guard("Raise max_distance or lower num_buckets: max_distance must exceed the exact region."):
        fig, firsts, unused = _staircase(nb, md, ui.lecture())
        ui.plot(fig)
        ok = firsts["bidirectional"] < md and firsts["causal"] < md
        ui.check(ok, "Not a clip at max_distance",
                 f"the last bucket is first reached at |j − i| = {firsts['bidirectional']} (bidirectional) and "
                 f"{firsts['causal']} (causal), before max_distance = {md}; from there on every key shares one bias")
        half = nb // 2
        ui.check(half in unused["bidirectional"], f"Bidirectional bucket {half} is never used",
                 f"no offset maps to it, so its table row is never trained; unused buckets: "
                 f"bidirectional {unused['bidirectional']}, causal {unused['causal'] or 'none'}")
    ui.mistake(P, "t5.mistake")
    c1, c2, c3 = st.columns([3, 3, 2])
    with c1:
        n = ui.slider("Sequence length for the bias matrix", 8, 256, 64, "s5_t5_len")
    with c2:
        mode = ui.radio("Mode", list(MODES), "s5_t5_mode", format_func=MODES.get)
    with c3:
        random = ui.toggle("Seeded random table", "s5_t5_random",
                           help="Off: a table that falls with distance, 2 − 1.5·log2(1 + |j − i|) for the "
                                "nearest offset in each bucket, so the bands are easy to read.")
    with ui.guard("Raise max_distance or lower num_buckets."):
        fig, zero = _t5_heatmap(nb, md, n, mode, random, ui.lecture())
        ui.plot(fig)
        masked = " (causal: later keys are masked, blank, and not counted)" if mode == "causal" else ""
        st.caption(f"{zero} of {nb} buckets are read by no pair of this {n}×{n} matrix{masked}. Grey circles: "
                   "the sequence is too short to reach them; ×: unreachable at any length.")


# -- 5 · shift test ---------------------------------------------------------------------------

@ui.cached
def _shift(n, delta, scheme, seed, lecture):
    res = diagnostics.shift_test(n, delta, seed=seed)
    style = ui.style_for_flag(lecture)
    label = diagnostics.SHIFT_SCHEMES[scheme]
    heat = figs.shift_heatmaps(res[scheme]["before"], res[scheme]["after"], delta, label, style)
    gaps = {diagnostics.SHIFT_SCHEMES[s]: r["gap"] for s, r in res.items()}
    return heat, figs.shift_gaps(gaps, delta, style), {s: r["gap"] for s, r in res.items()}


@st.fragment
def shift_test():
    ui.section("When relative helps: the shift test", P, "shift")
    c1, c2 = st.columns(2)
    with c1:
        delta = ui.slider("Shift every token by Δ", 0, 1000, 37, "s5_shift_delta")
    with c2:
        n = ui.slider("Tokens", 2, 32, 10, "s5_shift_len")
    c1, c2 = st.columns([5, 1])
    with c1:
        scheme = ui.radio("Scores drawn for", list(diagnostics.SHIFT_SCHEMES), "s5_shift_scheme",
                          format_func=diagnostics.SHIFT_SCHEMES.get)
    with c2:
        seed = ui.number("Seed", 0, 999, 0, "s5_shift_seed")
    heat, bars, gaps = _shift(n, delta, scheme, seed, ui.lecture())
    ui.plot(heat)
    ui.plot(bars)
    rel = {s: g for s, g in gaps.items() if s != "sinusoid"}
    ui.check(max(rel.values()) < 1e-12, "Relative schemes: scores unchanged by the shift",
             "max |Δ score| = " + ", ".join(f"{diagnostics.SHIFT_SCHEMES[s].split(' (')[0]} {g:.1g}"
                                            for s, g in rel.items()) + " (float64)")
    if delta == 0:
        ui.check(gaps["sinusoid"] == 0, "Δ = 0 moves nothing", "pick Δ > 0 to see the absolute scheme react")
    else:
        ui.check(gaps["sinusoid"] > 1e-6, "Absolute sinusoid: scores change",
                 f"max |Δ score| = {gaps['sinusoid']:.3g} although every distance i − j is unchanged")
    ui.mistake(P, "shift.mistake")


bias_matrices()
shaw()
xl_terms()
xl_memory()
t5_buckets()
shift_test()
