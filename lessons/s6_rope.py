"""§6 RoPE: pair rotation, relative dot product, wavelengths vs context, norms and layouts, decay."""

import numpy as np
import streamlit as st
import torch

import ui
from posviz import rope
from posviz.figures import rope as figs

P = "s6"
BASES = [10000.0, 100000.0, 500000.0, 1000000.0]
BASE_NAMES = {10000.0: "10,000 (RoFormer, GPT-NeoX, Llama 2)", 100000.0: "100,000 (SmolLM2)",
              500000.0: "500,000 (Llama 3)", 1000000.0: "1,000,000"}
LAYOUT_NAMES = {"half": "half: (i, i + d/2), Llama / GPT-NeoX", "interleaved": "interleaved: (2i, 2i+1), RoFormer / GPT-J"}
PAIR_DIM = 64  # head dim of the single-pair picture (SmolLM2's head dim)
N_GRID = 32    # positions 0..N_GRID-1 for the layout demo


def _base_name(b: float) -> str:
    return BASE_NAMES.get(b, f"{b:,.0f}")


def _randn(seed: int, *shape: int) -> torch.Tensor:
    """Seeded standard-normal vectors (CPU generator, so every machine draws the same numbers)."""
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


st.title("6 · Rotary position embedding (RoPE)")
ui.prose(P, "intro")


# -- 1. one pair, rotated --------------------------------------------------------------------------------

@ui.cached
def _rotation(angle_deg, length, m, pair, base, lecture):
    freq = rope.inv_freq(PAIR_DIM, base)
    theta = float(freq[pair])
    a = np.radians(angle_deg)
    xy = torch.tensor([length * np.cos(a), length * np.sin(a)], dtype=torch.float32)
    trail = rope.rotate_pair(xy.expand(m + 1, 2), torch.arange(m + 1), theta)  # [m+1, 2]: the tip at 0..m
    # The same pair inside a full head vector, rotated by apply_rope (half layout: features i and i + d/2).
    x = torch.zeros(PAIR_DIM)
    x[pair], x[pair + PAIR_DIM // 2] = xy[0], xy[1]
    full = rope.apply_rope(x, m, freq, "half").cpu()  # [PAIR_DIM]
    mine = full[[pair, pair + PAIR_DIM // 2]]
    others = float(full.abs().sum() - mine.abs().sum())
    gap = max(float((mine - trail[-1]).abs().max()), others)
    norm_gap = abs(float(trail[-1].norm()) - float(xy.norm()))
    return figs.pair_rotation(xy, trail, theta, ui.style_for_flag(lecture)), theta, gap, norm_gap


@st.fragment
def rotation():
    ui.section("A pair of features, rotated", P, "rotation")
    c1, c2, c3, c4, c5 = st.columns(5)
    with c1:
        angle = ui.slider("Vector angle (°)", 0, 355, 30, "s6_rot_angle", step=5)
    with c2:
        length = ui.slider("Vector length", 0.5, 2.0, 1.0, "s6_rot_len", step=0.1)
    with c3:
        m = ui.slider("Position m", 0, 48, 6, "s6_rot_m", help="Slide to step the pair through positions 0…m.")
    with c4:
        pair = ui.slider("Pair index i", 0, PAIR_DIM // 2 - 1, 0, "s6_rot_pair",
                         help=f"θ_i = base^(−2i/{PAIR_DIM}); pair 0 is the fastest.")
    with c5:
        base = ui.select("Base", BASES, "s6_rot_base", format_func=_base_name)
    fig, theta, gap, norm_gap = _rotation(angle, length, m, pair, base, ui.lecture())
    left, right = st.columns([3, 2], vertical_alignment="center")
    with left:
        ui.plot(fig)
    with right:
        st.metric(f"θ_{pair} (radians per position)", f"{theta:.4g}")
        st.metric("Wavelength 2π/θ", f"{2 * np.pi / theta:,.1f} positions")
        st.metric(f"Turned after {m} positions", f"{m * theta / (2 * np.pi):.3f} turns")
        ui.check(gap < 1e-5 and norm_gap < 1e-5, "This picture is what apply_rope does",
                 f"rotating a {PAIR_DIM}-dim vector that is zero except features {pair} and "
                 f"{pair + PAIR_DIM // 2} moves exactly this arrow (largest gap {gap:.1e}); "
                 f"its length changed by {norm_gap:.1e}")


# -- 2. the relative dot-product property -----------------------------------------------------------------

@ui.cached
def _relative(dim, seed, n_pos, layout, lecture):
    q, k = _randn(seed, 2, dim)
    freq = rope.inv_freq(dim)
    m, n = torch.meshgrid(torch.arange(n_pos), torch.arange(n_pos), indexing="ij")  # [N, N] each
    rotated = rope.relative_dot(q, k, m, n, freq, layout).cpu()  # [N, N]
    added = rope.added_dot(q, k, m, n, freq).cpu()  # [N, N]
    off = m - n
    fig = figs.relative_scores(off, rotated, added, m, ui.style_for_flag(lecture))
    return fig, rope.offset_spread(off, rotated), rope.offset_spread(off, added), float(rotated.abs().max())


@st.fragment
def relative():
    ui.section("The relative dot-product property", P, "relative")
    c1, c2, c3, c4 = st.columns([1, 1, 2, 2])
    with c1:
        dim = ui.select("Head dim d", [4, 8, 16, 32, 64, 128], "s6_rel_dim", index=2)
    with c2:
        seed = ui.number("Seed", 0, 999, 0, "s6_rel_seed", help="Which random q and k.")
    with c3:
        n_pos = ui.slider("Positions m, n in 0…N−1, N =", 4, 64, 32, "s6_rel_n")
    with c4:
        layout = ui.radio("Pairing", list(rope.LAYOUTS), "s6_rel_layout")
    fig, spread_rot, spread_add, scale = _relative(dim, int(seed), n_pos, layout, ui.lecture())
    ui.plot(fig)
    a, b = st.columns(2)
    with a:
        ui.check(spread_rot <= 1e-5 * max(scale, 1.0), "Rotation: one score per offset",
                 f"largest spread among the (m, n) pairs that share m − n = {spread_rot:.1e} "
                 f"(float32 rounding; scores reach {scale:.1f})")
    with b:
        ui.check(spread_add <= 1e-5 * max(scale, 1.0),
                 "Adding: one score per offset" if spread_add <= 1e-5 * max(scale, 1.0)
                 else "Adding: the score also depends on where the pair sits",
                 f"largest spread at equal m − n = {spread_add:.2f}")
    ui.mistake(P, "relative.mistake")


# -- 3. base and wavelengths against the context ----------------------------------------------------------

@ui.cached
def _wavelengths(dim, base, context, lecture):
    curves = {b: rope.wavelengths(rope.inv_freq(dim, b)).cpu() for b in dict.fromkeys([*BASES, base])}
    w = curves[base]
    fig = figs.wavelengths(curves, base, context, ui.style_for_flag(lecture))
    return fig, int((w > context).sum()), float(w[0]), float(w[-1])


@st.fragment
def wavelengths():
    ui.section("Frequency base and wavelengths per pair", P, "freq")
    c1, c2, c3 = st.columns(3)
    with c1:
        dim = ui.select("Head dim d", [32, 64, 128, 256], "s6_freq_dim", index=2)
    with c2:
        base = ui.select("Base", BASES, "s6_freq_base", format_func=_base_name)
    with c3:
        context = ui.select("Context length L", [512, 2048, 4096, 8192, 32768, 131072], "s6_freq_ctx", index=2,
                            format_func=lambda n: f"{n:,}")
    with ui.guard():
        fig, never, w_fast, w_slow = _wavelengths(dim, base, context, ui.lecture())
        ui.plot(fig)
        a, b, c = st.columns(3)
        a.metric("Pairs that never complete a turn within L", f"{never} of {dim // 2}")
        b.metric("Slowest pair over the whole context", f"{context / w_slow:.3f} turns",
                 help=f"L / λ = {context:,} / {w_slow:,.0f}")
        c.metric("Wavelengths span", f"{w_fast:.2f} … {w_slow:,.0f}")


# -- 4. norm preservation ----------------------------------------------------------------------------------

IMPLS = {"correct": "Correct rotation", "missing_sign": "Buggy: minus sign lost"}


@ui.cached
def _norms(dim, max_pos, layout, impl, lecture):
    x = _randn(0, 8, 1, dim)  # [8 vectors, 1, dim]
    pos = torch.unique(torch.linspace(0, max_pos, 400).round())  # [P]
    fn = rope.apply_rope if impl == "correct" else rope.apply_rope_missing_sign
    y = fn(x.expand(8, len(pos), dim), pos, rope.inv_freq(dim), layout).cpu()  # [8, P, dim]
    before, after = x.norm(dim=-1), y.norm(dim=-1)  # [8, 1], [8, P]
    gap = float((after - before).abs().max())
    fig = figs.norm_ratios(pos, after / before, ui.style_for_flag(lecture), title=IMPLS[impl])
    return fig, gap, float(before.max())


@st.fragment
def norms():
    ui.section("Norm preservation", P, "norms")
    c1, c2, c3, c4 = st.columns([2, 3, 1, 1])
    with c1:
        impl = ui.radio("Implementation", list(IMPLS), "s6_norm_impl", format_func=IMPLS.get)
    with c2:
        layout = ui.radio("Pairing", list(rope.LAYOUTS), "s6_norm_layout")
    with c3:
        dim = ui.select("Head dim d", [8, 16, 64, 128], "s6_norm_dim", index=2)
    with c4:
        max_pos = ui.select("Positions up to", [64, 512, 4096, 131072], "s6_norm_pos", index=1,
                            format_func=lambda n: f"{n:,}")
    fig, gap, largest = _norms(dim, max_pos, layout, impl, ui.lecture())
    ui.plot(fig)
    ok = gap <= 1e-5 * largest
    ui.check(ok, "Every norm is unchanged" if ok else "Norms change with position: not a rotation",
             f"max |‖x rotated to p‖ − ‖x‖| over 8 random vectors and positions 0…{max_pos:,} = {gap:.1e} "
             f"(the vectors have norms up to {largest:.1f})")
    ui.mistake(P, "norms.mistake")


# -- 5. the two layouts ------------------------------------------------------------------------------------

RUNS = {"as_made": "as made", "other": "with the other pairing",
        "permuted": "with the other pairing, q and k features permuted"}


@ui.cached
def _pairing(dim, lecture):
    pairs = {LAYOUT_NAMES[lay]: rope.pair_indices(dim, lay).cpu() for lay in rope.LAYOUTS}
    return figs.pairing_diagram(pairs, rope.inv_freq(dim).cpu(), ui.style_for_flag(lecture))


@ui.cached
def _mismatch(dim, made_for, run, target, lecture):
    freq = rope.inv_freq(dim)
    other = "half" if made_for == "interleaved" else "interleaved"
    k = _randn(0, dim)
    q = rope.apply_rope(k, -target, freq, made_for).cpu()  # makes q_m·k_n peak at m − n = target
    m, n = torch.meshgrid(torch.arange(N_GRID), torch.arange(N_GRID), indexing="ij")  # [N, N]
    designed = rope.relative_dot(q, k, m, n, freq, made_for).cpu()  # [N, N]
    if run == "as_made":
        scores = designed
    elif run == "other":
        scores = rope.relative_dot(q, k, m, n, freq, other).cpu()
    else:  # convert the weights as Hugging Face's Llama conversion does: permute the q/k features
        perm = rope.layout_permutation(dim, inverse=made_for == "half").cpu()
        scores = rope.relative_dot(q[perm], k[perm], m, n, freq, other).cpu()
    off = m - n
    # The last query (position N-1) attends causally to keys N-1 … 0, i.e. distances 0 … N-1.
    attn_made = torch.softmax(designed[-1].flip(0) / dim**0.5, 0)  # [N], index = distance
    attn_run = torch.softmax(scores[-1].flip(0) / dim**0.5, 0)  # [N]
    fig = figs.layout_mismatch(off, designed, scores, attn_made, attn_run, RUNS[run], ui.style_for_flag(lecture))
    return (fig, rope.offset_spread(off, scores), float((scores - designed).abs().max()),
            float(designed.abs().max()), float(attn_made[target]), float(attn_run[target]), int(attn_run.argmax()))


@st.fragment
def layouts():
    ui.section("The two layouts: half and interleaved", P, "layouts")
    with st.columns([1, 4])[0]:
        dim_d = ui.select("Head dim of the diagram", [4, 8, 16], "s6_lay_diag_dim", index=1)
    ui.plot(_pairing(dim_d, ui.lecture()))
    ui.prose(P, "layouts.demo")
    c1, c2, c3, c4 = st.columns([2, 3, 2, 1])
    with c1:
        made_for = ui.radio("Weights made for", ["interleaved", "half"], "s6_lay_made")
    with c2:
        run = ui.radio("Run them", list(RUNS), "s6_lay_run", format_func=RUNS.get)
    with c3:
        target = ui.slider("The head looks back by", 0, 16, 3, "s6_lay_target")
    with c4:
        dim = ui.select("Head dim d", [16, 32, 64, 128], "s6_lay_dim", index=2)
    fig, spread, diff, scale, p_made, p_run, argmax = _mismatch(dim, made_for, run, target, ui.lecture())
    ui.plot(fig)
    a, b = st.columns(2)
    with a:
        ui.check(spread <= 1e-5 * scale, "Still a function of m − n alone",
                 f"spread at equal offset = {spread:.1e}: any pairing, used for both q and k, is a rotation")
    with b:
        same = diff <= 1e-5 * scale
        ui.check(same, "The scores the weights were made for" if same
                 else f"Different scores: the head no longer looks {target} back",
                 f"max |score − as made| = {diff:.3g}; attention on the key {target} back: "
                 f"{p_made:.2f} as made, {p_run:.2f} here; the strongest key here is {argmax} back")


# -- 6. long-term decay ------------------------------------------------------------------------------------

VECTORS = {"ones": "q = k = all ones", "same": "q = k, random (32 draws)", "indep": "q, k independent random (32 draws)"}


@ui.cached
def _decay(dim, base, max_d, vectors, lecture):
    r = torch.arange(max_d + 1)
    if vectors == "ones":
        q = k = torch.ones(1, dim)
    elif vectors == "same":
        q = k = _randn(0, 32, dim)
    else:
        q, k = _randn(0, 2, 32, dim)
    actual = rope.scores_by_distance(q, k, r, rope.inv_freq(dim, base)).abs().mean(0).cpu()  # [R+1]
    bound = rope.decay_bound(dim, base, max_d).cpu()  # [R+1]
    bound_n, actual_n = bound / bound[0], actual / actual[0]
    far = slice(max_d // 2, None)
    fig = figs.decay(r, bound_n, actual_n, f"mean |q·k|, {VECTORS[vectors]}", ui.style_for_flag(lecture))
    return fig, float(bound_n[far].mean()), float(actual_n[far].mean()), float(bound[0]), float(actual[0])


@st.fragment
def decay():
    ui.section("Long-term decay", P, "decay")
    c1, c2, c3, c4 = st.columns([1, 2, 2, 3])
    with c1:
        dim = ui.select("Head dim d", [32, 64, 128, 256], "s6_decay_dim", index=2)
    with c2:
        base = ui.select("Base", BASES, "s6_decay_base", format_func=_base_name)
    with c3:
        max_d = ui.slider("Distances up to", 32, 2048, 256, "s6_decay_max", step=32)
    with c4:
        vectors = ui.radio("Vectors", list(VECTORS), "s6_decay_vec", format_func=VECTORS.get)
    with ui.guard():
        fig, bound_far, actual_far, bound0, actual0 = _decay(dim, base, max_d, vectors, ui.lecture())
        ui.plot(fig)
        decays = actual_far < 0.6
        ui.check(decays, "These scores shrink with distance" if decays else "No decay for these vectors",
                 f"over distances {max_d // 2}…{max_d}, mean |q·k| is {actual_far:.2f} × its value at 0 "
                 f"({actual0:.1f}); the bound is {bound_far:.2f} × its value at 0 ({bound0:.1f})")
    ui.mistake(P, "decay.errata")


rotation()
relative()
wavelengths()
norms()
layouts()
decay()
