"""§3 Sinusoidal encodings: ladder, pairs, shift matrix, similarity, aliasing, limits."""

import numpy as np
import streamlit as st

import ui
from posviz import absolute
from posviz.figures import absolute as figs

P = "s3"
DIMS = [4, 8, 16, 32, 64, 128, 256, 512]
BASES = [10.0, 100.0, 1000.0, 10000.0, 100000.0, 500000.0]

st.title("3 · Sinusoidal encodings")
ui.prose(P, "intro")


def base_dim(key: str, dim_default: int = 128, base_default: float = 10000.0):
    c1, c2 = st.columns(2)
    with c1:
        dim = ui.select("Model dim d", DIMS, f"{key}_dim", index=DIMS.index(dim_default))
    with c2:
        base = ui.select("Base", BASES, f"{key}_base", index=BASES.index(base_default),
                         format_func=lambda b: f"{b:,.0f}")
    return dim, base


@ui.cached
def _ladder(dim, base, seq_len, lecture):
    w = absolute.wavelengths(dim, base)
    return figs.ladder(w, seq_len, ui.style_for_flag(lecture)), int((w <= seq_len).sum())


@st.fragment
def ladder():
    ui.section("Frequency ladder", P, "ladder")
    dim, base = base_dim("s3_ladder")
    seq_len = ui.slider("Sequence length", 8, 8192, 512, "s3_ladder_len")
    with ui.guard():
        fig, n_full = _ladder(dim, base, seq_len, ui.lecture())
        ui.plot(fig)
        st.caption(f"{n_full} of {dim // 2} pairs complete at least one cycle within {seq_len} positions.")


@ui.cached
def _pair(pair_index, dim, n, lecture):
    pe = absolute.sinusoidal(n, dim)
    i = pair_index
    return figs.pair(np.arange(n), pe[:, 2 * i], pe[:, 2 * i + 1], i, ui.style_for_flag(lecture))


@st.fragment
def pairs():
    ui.section("Sine/cosine pairs", P, "pairs")
    c1, c2, c3 = st.columns(3)
    with c1:
        dim = ui.select("Model dim d", DIMS[1:], "s3_pair_dim", index=3)
    with c2:
        i = ui.slider("Pair index i", 0, dim // 2 - 1, 3, "s3_pair_i")
    with c3:
        n = ui.slider("Positions", 8, 256, 64, "s3_pair_n")
    ui.plot(_pair(i, dim, n, ui.lecture()))
    omega = float(absolute.frequencies(dim)[i])
    st.caption(f"ω_{i} = {omega:.4g} rad per position ({np.degrees(omega):.3g}°), "
               f"wavelength {2 * np.pi / omega:,.1f} positions.")


@ui.cached
def _shift(p, k, dim, base, layout, lecture):
    m = absolute.shift_matrix(k, dim, base, layout)
    pe = absolute.sinusoidal(p + k + 1, dim, base, layout)
    target, predicted = pe[p + k], m @ pe[p]
    err = float((target - predicted).abs().max())
    return figs.shift_check(m, target, predicted, k, p, ui.style_for_flag(lecture)), err


@st.fragment
def shift():
    ui.section("PE[p+k] as a rotation of PE[p]", P, "shift")
    c1, c2, c3, c4 = st.columns(4)
    with c1:
        p = ui.slider("Position p", 0, 500, 10, "s3_shift_p")
    with c2:
        k = ui.slider("Shift k", 0, 100, 5, "s3_shift_k")
    with c3:
        dim = ui.select("Model dim d", DIMS[1:6], "s3_shift_dim", index=2)
    with c4:
        layout = ui.radio("Layout", list(absolute.LAYOUTS), "s3_shift_layout")
    fig, err = _shift(p, k, dim, 10000.0, layout, ui.lecture())
    ui.plot(fig)
    ui.check(err < 1e-5, "M_k · PE[p] reproduces PE[p+k]",
             f"largest |difference| over all {dim} components = {err:.1e} (float32); "
             f"the same M_k works for every p")


@ui.cached
def _table(n, dim, base, layout, lecture):
    pe = absolute.sinusoidal(n, dim, base, layout)
    return figs.table(pe, ui.style_for_flag(lecture), title_x=f"dimension ({layout} layout)")


@ui.cached
def _similarity(n, dim, base, lecture):
    pe = absolute.sinusoidal(n, dim, base)
    k = min(n - 1, 64)
    prof = absolute.dot_profile(dim, base, k)
    return figs.similarity(pe @ pe.T, np.arange(-k, k + 1), prof, ui.style_for_flag(lecture))


@st.fragment
def heatmap_and_similarity():
    ui.section("Heatmap and dot-product similarity", P, "similarity")
    c1, c2 = st.columns(2)
    with c1:
        n = ui.slider("Positions", 8, 2048, 128, "s3_len")
    with c2:
        layout = ui.radio("Layout", list(absolute.LAYOUTS), "s3_layout")
    dim, base = base_dim("s3_map")
    with ui.guard():
        ui.plot(_table(n, dim, base, layout, ui.lecture()))
        ui.plot(_similarity(n, dim, base, ui.lecture()))


@ui.cached
def _aliasing(n, dim, base, min_gap, lecture):
    d, q = absolute.nearest_other(absolute.sinusoidal(n, dim, base), min_gap)
    return figs.nearest(d, q, ui.style_for_flag(lecture), min_gap=min_gap), float(d.min()), int(d.argmin()), int(q[d.argmin()])


@st.fragment
def aliasing():
    ui.section("Aliasing", P, "aliasing")
    c1, c2 = st.columns(2)
    with c1:
        n = ui.slider("Positions", 16, 1024, 512, "s3_alias_n")
    with c2:
        min_gap = ui.slider("Min gap |p − q|", 1, 64, 8, "s3_alias_gap")
    dim, base = base_dim("s3_alias", dim_default=16, base_default=10000.0)
    with ui.guard("Lower the min gap below the number of positions."):
        if min_gap >= n:
            raise ValueError(f"min gap must be below the number of positions ({n})")
        fig, dmin, p, q = _aliasing(n, dim, base, min_gap, ui.lecture())
        ui.plot(fig)
        ui.check(dmin > 0.5, "Every position is distinguishable" if dmin > 0.5 else "Aliasing",
                 f"closest pair p = {p}, q = {q}: ‖PE[p] − PE[q]‖ = {dmin:.3f} "
                 f"(rows have norm {np.sqrt(dim / 2):.2f})")
    ui.mistake(P, "aliasing.mistake")


@ui.cached
def _limits(dim, max_offset, lecture):
    curves = absolute.projected_dot_profiles(dim, max_offset=max_offset, starts=(max_offset, 3 * max_offset, 9 * max_offset))
    raw = absolute.dot_profile(dim, max_offset=max_offset)
    k = np.arange(-max_offset, max_offset + 1)
    asym = float((raw - raw.flip(0)).abs().max())
    return figs.projected_profiles(k, curves, raw, ui.style_for_flag(lecture)), asym


@st.fragment
def limitations():
    ui.section("Limitations", P, "limits")
    c1, c2 = st.columns(2)
    with c1:
        dim = ui.select("Model dim d", DIMS[2:], "s3_lim_dim", index=2)
    with c2:
        k = ui.slider("Offsets shown ±", 4, 64, 24, "s3_lim_k")
    fig, asym = _limits(dim, k, ui.lecture())
    ui.plot(fig)
    ui.check(asym < 1e-4, "The raw dot product is symmetric in ±k",
             f"max |f(k) − f(−k)| = {asym:.1e}: before and after look the same")


ladder()
pairs()
shift()
heatmap_and_similarity()
aliasing()
limitations()
