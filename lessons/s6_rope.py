"""§6 RoPE: pair rotation, relative dot product, wavelengths vs context, norms and layouts, decay."""

import streamlit as st

import ui
from posviz import rope
from posviz.figures import rope as figs

BASES = [10000.0, 100000.0, 500000.0, 1000000.0]
BASE_NAMES = {10000.0: "10,000 (RoFormer, GPT-NeoX, Llama 2)", 100000.0: "100,000 (SmolLM2)",
              500000.0: "500,000 (Llama 3)", 1000000.0: "1,000,000 (Code Llama)"}
PAIR_DIM = 64  # head dim of the single-pair picture (SmolLM2's head dim)
page = ui.Page("s6", "6 · Rotary position embedding (RoPE)")
page.prose("intro")


def base_name(b: float) -> str:
    return BASE_NAMES.get(b, f"{b:,.0f}")


def count(n: int) -> str:
    return f"{n:,}"


@ui.figure(column=3 / 5)
def rotation_view(angle, length, m, pair, base, style):
    rot = rope.rotate_pair_demo(angle, length, m, pair, base, dim=PAIR_DIM)
    return rot, figs.pair_rotation(rot, style)


@page.slide
def rotation():
    page.section("A pair of features, rotated", "rotation")
    v = page.controls(
        rot_angle=ui.Slider("Vector angle (°)", 0, 355, 30, step=5),
        rot_len=ui.Slider("Vector length", 0.5, 2.0, 1.0, step=0.1),
        rot_m=ui.Slider("Position m", 0, 48, 6, help="Slide to step the pair through positions 0…m."),
        rot_pair=ui.Slider("Pair index i", 0, PAIR_DIM // 2 - 1, 0,
                           help=f"θ_i = base^(−2i/{PAIR_DIM}); pair 0 is the fastest."),
        rot_base=ui.Select("Base", BASES, format_func=base_name))
    rot, fig = rotation_view(v.rot_angle, v.rot_len, v.rot_m, v.rot_pair, v.rot_base)
    left, right = st.columns([3, 2], vertical_alignment="center")
    with left:
        ui.plot(fig)
    with right:
        st.metric(f"θ_{rot.pair} = {rot.base:,.0f}^(−{2 * rot.pair}/{PAIR_DIM}) (radians per position)",
                  f"{rot.theta:.4g}")
        st.metric("Wavelength 2π/θ", f"{rot.wavelength:,.1f} positions")
        st.metric(f"Turned after {rot.position} positions", f"{rot.turns:.3f} turns")
        if rot.pair == 0:
            st.caption("Pair 0 turns 1 radian per position whatever the base (base⁰ = 1): pick a higher pair "
                       "to see the base at work.")
        ui.check(rot.verdict)


@ui.figure
def relative_view(dim, seed, n_pos, layout, style):
    check = rope.relative_check(dim, seed, n_pos, layout)
    return check, figs.relative_scores(check, style)


@page.slide
def relative():
    page.section("The relative dot-product property", "relative")
    v = page.controls([1, 1, 2, 2],
                      rel_dim=ui.Select("Head dim d", [4, 8, 16, 32, 64, 128], index=2),
                      rel_seed=ui.Number("Seed", 0, 999, 0, help="Which random q and k."),
                      rel_n=ui.Slider("Positions m, n in 0…N−1, N =", 4, 64, 32),
                      rel_layout=ui.Radio("Pairing", rope.LAYOUTS))
    check, fig = relative_view(v.rel_dim, v.rel_seed, v.rel_n, v.rel_layout)
    ui.plot(fig)
    a, b = st.columns(2)
    with a:
        ui.check(check.rotation_verdict)
    with b:
        ui.check(check.adding_verdict)
    page.mistake("relative.mistake")


@ui.figure
def wavelength_view(dim, base, context, style):
    ladder = rope.wavelength_ladder(dim, base, context, compare=BASES)
    return ladder, figs.wavelengths(ladder, style)


@page.slide
def wavelengths():
    page.section("Frequency base and wavelengths per pair", "freq")
    v = page.controls(freq_dim=ui.Select("Head dim d", [32, 64, 128, 256], index=2),
                      freq_base=ui.Select("Base", BASES, format_func=base_name),
                      freq_ctx=ui.Select("Context length L", [512, 2048, 4096, 8192, 32768, 131072], index=2,
                                         format_func=count))
    with ui.guard("Choose another head dim, base or context length."):
        ladder, fig = wavelength_view(v.freq_dim, v.freq_base, v.freq_ctx)
        ui.plot(fig)
        a, b, c = st.columns(3)
        a.metric("Pairs that never complete a turn within L", f"{ladder.never_turn} of {ladder.dim // 2}")
        b.metric("Slowest pair over the whole context", f"{ladder.slowest_turns:.3f} turns",
                 help=f"L / λ = {ladder.context:,} / {ladder.slowest:,.0f}")
        c.metric("Wavelengths span", f"{ladder.fastest:.2f} … {ladder.slowest:,.0f}")


@ui.figure
def norm_view(dim, max_pos, layout, impl, style):
    check = rope.norm_check(dim, max_pos, layout, impl)
    return check, figs.norm_ratios(check, style)


@page.slide
def norms():
    page.section("Norm preservation", "norms")
    v = page.controls([2, 3, 1, 1],
                      norm_impl=ui.Radio("Implementation", rope.ROTATIONS, format_func=rope.ROTATIONS.get),
                      norm_layout=ui.Radio("Pairing", rope.LAYOUTS),
                      norm_dim=ui.Select("Head dim d", [8, 16, 64, 128], index=2),
                      norm_pos=ui.Select("Positions up to", [64, 512, 4096, 131072], index=1, format_func=count))
    check, fig = norm_view(v.norm_dim, v.norm_pos, v.norm_layout, v.norm_impl)
    ui.plot(fig)
    ui.check(check.verdict)
    page.mistake("norms.mistake")


@ui.figure
def pairing_view(dim, style):
    return figs.pairing_diagram(rope.pairings(dim), style)


@ui.figure
def mismatch_view(dim, made_for, run, target, style):
    mis = rope.layout_mismatch(dim, made_for, run, target)
    return mis, figs.layout_mismatch(mis, rope.LAYOUT_RUNS[run], style)


@page.slide
def layouts():
    page.section("The two layouts: half and interleaved", "layouts")
    with st.columns([1, 4])[0]:
        diag_dim = page.control("lay_diag_dim", ui.Select("Head dim of the diagram", [4, 8, 16], index=1))
    ui.plot(pairing_view(diag_dim))
    page.prose("layouts.demo")
    v = page.controls([2, 3, 2, 1],
                      lay_made=ui.Radio("Weights made for", ["interleaved", "half"]),
                      lay_run=ui.Radio("Run them", rope.LAYOUT_RUNS, format_func=rope.LAYOUT_RUNS.get),
                      lay_target=ui.Slider("The head looks back by", 0, 16, 3),
                      lay_dim=ui.Select("Head dim d", [16, 32, 64, 128], index=2))
    mis, fig = mismatch_view(v.lay_dim, v.lay_made, v.lay_run, v.lay_target)
    ui.plot(fig)
    a, b = st.columns(2)
    with a:
        ui.check(mis.offset_verdict)
    with b:
        ui.check(mis.match_verdict)


@ui.figure
def decay_view(dim, base, max_d, vectors, style):
    curve = rope.decay_curve(dim, base, max_d, vectors)
    return curve, figs.decay(curve, f"mean |q·k|, {rope.DECAY_VECTORS[vectors]}", style)


@page.slide
def decay():
    page.section("Long-term decay", "decay")
    v = page.controls([1, 2, 2, 3],
                      decay_dim=ui.Select("Head dim d", [32, 64, 128, 256], index=2),
                      decay_base=ui.Select("Base", BASES, format_func=base_name),
                      decay_max=ui.Slider("Distances up to", 32, 2048, 256, step=32),
                      decay_vec=ui.Radio("Vectors", rope.DECAY_VECTORS, format_func=rope.DECAY_VECTORS.get))
    with ui.guard("Choose another head dim, base or distance."):
        curve, fig = decay_view(v.decay_dim, v.decay_base, v.decay_max, v.decay_vec)
        ui.plot(fig)
        ui.check(curve.decay_verdict)
    page.mistake("decay.errata")


rotation()
relative()
wavelengths()
norms()
layouts()
decay()
