"""§3 Sinusoidal encodings: ladder, pairs, shift matrix, similarity, aliasing, limits."""

import streamlit as st

import ui
from posviz import absolute
from posviz.figures import absolute as figs

DIMS = [4, 8, 16, 32, 64, 128, 256, 512]
BASES = [10.0, 100.0, 1000.0, 10000.0, 100000.0, 500000.0]
LAYOUTS = list(absolute.LAYOUTS)

page = ui.Page("s3", "3 · Sinusoidal encodings")
page.prose("intro")


def base_label(base: float) -> str:
    return f"{base:,.0f}"


@ui.figure
def ladder_view(dim, base, seq_len, style):
    rungs = absolute.ladder(dim, base, seq_len)
    return rungs, figs.ladder(rungs, style)


@page.slide
def ladder():
    page.section("Frequency ladder", "ladder")
    v = page.controls(ladder_dim=ui.Select("Model dim d", DIMS, index=5),
                      ladder_base=ui.Select("Base", BASES, index=3, format_func=base_label),
                      ladder_len=ui.Slider("Sequence length", 8, 8192, 512))
    with ui.guard():
        rungs, fig = ladder_view(v.ladder_dim, v.ladder_base, v.ladder_len)
        ui.plot(fig)
        st.caption(f"{rungs.complete} of {len(rungs.wavelengths)} pairs complete at least one cycle within "
                   f"{v.ladder_len} positions.")
        ui.check(rungs.verdict)


@ui.figure
def pair_view(pair, dim, n, style):
    walk = absolute.pair_walk(pair, dim, n)
    return walk, figs.pair(walk, style)


@page.slide
def pairs():
    page.section("Sine/cosine pairs", "pairs")
    c1, c2, c3 = st.columns(3)
    with c1:
        dim = page.control("pair_dim", ui.Select("Model dim d", DIMS[1:], index=3))
    with c2:
        i = page.control("pair_i", ui.Slider("Pair index i", 0, dim // 2 - 1, 3))
    with c3:
        n = page.control("pair_n", ui.Slider("Positions", 8, 256, 64))
    with ui.guard():
        walk, fig = pair_view(i, dim, n)
        ui.plot(fig)
        st.caption(f"ω_{walk.pair} = {walk.omega:.4g} rad per position ({walk.degrees:.3g}°), "
                   f"wavelength {walk.wavelength:,.1f} positions.")
        ui.check(walk.verdict)


@ui.figure
def shift_view(p, k, dim, layout, style):
    check = absolute.shift_check(p, k, dim, layout=layout)
    return check, figs.shift_check(check, style)


@page.slide
def shift():
    page.section("PE[p+k] as a rotation of PE[p]", "shift")
    v = page.controls(shift_p=ui.Slider("Position p", 0, 500, 10), shift_k=ui.Slider("Shift k", 0, 100, 5),
                      shift_dim=ui.Select("Model dim d", DIMS[1:6], index=2),
                      shift_layout=ui.Radio("Layout", LAYOUTS))
    check, fig = shift_view(v.shift_p, v.shift_k, v.shift_dim, v.shift_layout)
    ui.plot(fig)
    ui.check(check.verdict)


@ui.figure
def table_view(n, dim, base, layout, style):
    return figs.table(absolute.sinusoidal(n, dim, base, layout), style, title_x=f"dimension ({layout} layout)")


@ui.figure
def similarity_view(n, dim, base, style):
    sim = absolute.similarity(n, dim, base)
    return sim, figs.similarity(sim, style)


@page.slide
def heatmap_and_similarity():
    page.section("Heatmap and dot-product similarity", "similarity")
    v = page.controls(len=ui.Slider("Positions", 8, 2048, 128), layout=ui.Radio("Layout", LAYOUTS))
    m = page.controls(map_dim=ui.Select("Model dim d", DIMS, index=5),
                      map_base=ui.Select("Base", BASES, index=3, format_func=base_label))
    with ui.guard():
        ui.plot(table_view(v.len, m.map_dim, m.map_base, v.layout))
        sim, fig = similarity_view(v.len, m.map_dim, m.map_base)
        ui.plot(fig)
        ui.check(sim.verdict)


@ui.figure
def aliasing_view(n, dim, base, min_gap, style):
    alias = absolute.aliasing(n, dim, base, min_gap)
    return alias, figs.nearest(alias, style)


@page.slide
def aliasing():
    page.section("Aliasing", "aliasing")
    v = page.controls(alias_n=ui.Slider("Positions", 16, 1024, 512), alias_gap=ui.Slider("Min gap |p − q|", 1, 64, 8))
    m = page.controls(alias_dim=ui.Select("Model dim d", DIMS, index=2),
                      alias_base=ui.Select("Base", BASES, index=3, format_func=base_label))
    with ui.guard("Lower the min gap to at most half the number of positions."):
        alias, fig = aliasing_view(v.alias_n, m.alias_dim, m.alias_base, v.alias_gap)
        ui.plot(fig)
        ui.check(alias.verdict)
    page.mistake("aliasing.mistake")


@ui.figure
def limits_view(dim, max_offset, style):
    lim = absolute.limits(dim, max_offset)
    return lim, figs.projected_profiles(lim, style)


@page.slide
def limitations():
    page.section("Limitations", "limits")
    v = page.controls(lim_dim=ui.Select("Model dim d", DIMS[2:], index=2),
                      lim_k=ui.Slider("Offsets shown ±", 4, 64, 24))
    lim, fig = limits_view(v.lim_dim, v.lim_k)
    ui.plot(fig)
    ui.check(lim.raw_verdict)
    ui.check(lim.projected_verdict)


ladder()
pairs()
shift()
heatmap_and_similarity()
aliasing()
limitations()
