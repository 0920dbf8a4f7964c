"""§6b Long-context RoPE scaling: PI, NTK-aware, dynamic NTK, YaRN, Llama 3, from one registry.

Every method on this page is listed from ``posviz.scaling.INFO``; a method
added to the registry shows up in every chart, with a widget for each of its
parameters, without touching this file.
"""

import math

import numpy as np
import streamlit as st

import ui
from posviz import rope, scaling
from posviz.figures import scaling as figs

P = "s6b"
NAMES = list(scaling.INFO)  # registry order: fixes each method's colour and dash everywhere
BASES = [10000.0, 50000.0, 100000.0, 500000.0, 1000000.0]
CURVE_KINDS = {"wavelength": "wavelength", "inv_freq": "frequency θ′", "slowdown": "slow-down θ/θ′"}

# How to present parameters we know; anything else a registry entry declares gets a generic widget.
PARAM_UI = {
    "beta_fast": ("β_fast (turns): pairs turning more often in training are kept", 0.0, 1024.0, 1.0),
    "beta_slow": ("β_slow (turns): pairs turning less often are fully interpolated", 0.0, 1024.0, 0.5),
    "mscale": ("mscale", 0.0, 8.0, 0.05),
    "mscale_all_dim": ("mscale_all_dim", 0.0, 8.0, 0.05),
    "attention_factor": ("attention_factor (overrides the formula)", 0.0, 8.0, 0.05),
    "truncate": ("Round the ramp ends to whole pairs (truncate)", None, None, None),
    "low_freq_factor": ("low_freq_factor: wavelength > L / this → divided by s", 0.0, 64.0, 0.5),
    "high_freq_factor": ("high_freq_factor: wavelength < L / this → kept", 0.0, 64.0, 0.5),
}

st.title("6b · Long-context RoPE scaling")
ui.prose(P, "intro")


def label(name: str) -> str:
    return scaling.INFO[name].label


def freeze(params: dict) -> tuple:
    """Method parameters as a hashable tuple for the cache."""
    return tuple((m, tuple(sorted(p.items()))) for m, p in params.items())


def thaw(frozen: tuple) -> dict:
    return {m: dict(p) for m, p in frozen}


def frequencies(name, dim, base, L, s, N, frozen):
    return scaling.rope_frequencies(name, dim, base, factor=s, original_max_position=L, seq_len=N,
                                    **thaw(frozen).get(name, {}))


# -- shared settings ------------------------------------------------------------


def param_widget(method: str, name: str, default):
    """One widget for one registry parameter; returns (include?, value)."""
    text, lo, hi, step = PARAM_UI.get(name, (name, 0.0, 1e6, 0.1))
    key = f"s6b_{method}_{name}"
    if isinstance(default, bool):
        return True, ui.toggle(text, key, value=default)
    if default is None:  # optional: off means "not set", as in a config file without the field
        on = ui.toggle(f"Set {name}", f"{key}_on")
        value = ui.number(text, lo, hi, 1.0, key, step=step, disabled=not on)
        return on, value
    return True, ui.number(text, lo, hi, float(default), key, step=step)


def settings():
    st.subheader("Settings shared by every chart", divider="gray")
    c1, c2, c3, c4 = st.columns(4)
    with c1:
        dim = ui.number("Head dim d", 2, 1024, 128, "s6b_dim", step=2,
                        help="RoPE rotates d/2 pairs. Type an odd number to see what happens.")
    with c2:
        base = ui.select("Base", BASES, "s6b_base", format_func=lambda b: f"{b:,.0f}")
    with c3:
        L = ui.number("Trained length L", 0, 1 << 20, 4096, "s6b_L", step=512,
                      help="original_max_position: the context length the model was trained on.")
    with c4:
        s = ui.number("Scale factor s", 0.5, 128.0, 4.0, "s6b_factor", step=0.5,
                      help="Target length = s · L. Below 1 every method refuses.")
    T = max(1, round(s * L))
    params = {}
    with st.expander("Method parameters (one column per method that has any, read from the registry)"):
        with_params = [n for n in NAMES if scaling.INFO[n].params]
        uses_len = [n for n in NAMES if "seq_len" in scaling.INFO[n].uses]
        cols = st.columns(max(1, len(with_params) + bool(uses_len)))
        for col, name in zip(cols, with_params):
            with col:
                st.markdown(f"**{label(name)}**")
                params[name] = {}
                for p, default in scaling.INFO[name].params.items():
                    include, value = param_widget(name, p, default)
                    if include:
                        params[name][p] = value
        frac = 1.0
        if uses_len:
            with cols[-1]:
                st.markdown(f"**{', '.join(label(n) for n in uses_len)}**")
                frac = ui.slider("Current length N (× target s·L)", 0.05, 4.0, 1.0, "s6b_dyn_frac", step=0.05,
                                 help="The length of the input being processed right now.")
    N = max(1, round(frac * T))
    st.caption(f"Target length s·L = **{T:,}** tokens · dynamic methods evaluated at N = **{N:,}**"
               + (f" · {dim // 2} pairs per head." if dim % 2 == 0 else "."))
    return dim, base, L, s, T, N, freeze(params)


def validate(dim, base, L, s, N, frozen) -> list:
    """Run every registry method once; show each distinct posviz error once; return the methods that work."""
    failed = {}
    for name in NAMES:
        try:
            frequencies(name, dim, base, L, s, N, frozen)
        except ValueError as err:
            failed.setdefault(str(err), []).append(name)
    for names in failed.values():
        who = "every method" if len(names) == len(NAMES) else ", ".join(label(n) for n in names)
        with ui.guard(f"Affects {who}; change that setting above."):
            frequencies(names[0], dim, base, L, s, N, frozen)  # raises again: the message is posviz's own
    return [n for n in NAMES if all(n not in v for v in failed.values())]


# -- 1. per-pair curves -----------------------------------------------------------


@ui.cached
def _curves(names, kind, dim, base, L, s, T, N, frozen, lecture):
    style = ui.style_for_flag(lecture)
    theta = rope.inv_freq(dim, base).double()  # [dim/2]
    series = []
    for name in names:
        f, _ = frequencies(name, dim, base, L, s, N, frozen)
        f = f.double()  # [dim/2]
        y = {"wavelength": 2 * math.pi / f, "inv_freq": f, "slowdown": theta / f}[kind]
        color, dash = figs.method_look(NAMES.index(name), style)
        extra = f" (N = {N:,})" if "seq_len" in scaling.INFO[name].uses else ""
        series.append(figs.Series(label(name) + extra, y, color, dash))
    wl = 2 * math.pi / theta
    never = np.flatnonzero((wl > L).numpy())
    return figs.frequency_curves(series, kind, L, T, s, style), never


@st.fragment
def curves(ok, dim, base, L, s, T, N, frozen):
    ui.section("Frequencies and wavelengths, pair by pair", P, "curves")
    chosen = ui.multiselect("Methods (from the registry)", NAMES, "s6b_methods", format_func=label)
    kind = ui.radio("Show", list(CURVE_KINDS), "s6b_curve_kind", format_func=CURVE_KINDS.get)
    shown = [n for n in chosen if n in ok]
    if not shown:
        st.info("Pick at least one method that the settings allow.")
        return
    fig, never = _curves(tuple(shown), kind, dim, base, L, s, T, N, frozen, ui.lecture())
    ui.plot(fig)
    if len(never):
        st.caption(f"Plain RoPE: pairs {never[0]}–{never[-1]} ({len(never)} of {dim // 2}) have a wavelength "
                   f"longer than L = {L:,}: they never finished a turn in training. These are the pairs every "
                   "method slows down.")
    else:
        st.caption(f"Every pair finished at least one turn within L = {L:,}: no pair is unfamiliar in angle.")


# -- 2. YaRN ramp and Llama-3 bands -------------------------------------------------


@ui.cached
def _kept(ok, dim, base, L, s, N, frozen):
    """How many pairs each method leaves bit-for-bit as trained."""
    theta = rope.inv_freq(dim, base)  # [dim/2]
    return {n: int((frequencies(n, dim, base, L, s, N, frozen)[0] == theta).sum()) for n in ok}


@ui.cached
def _bands(dim, base, L, yarn_p, llama_p, x_kind, lecture):
    """Depends on the trained length and the band parameters only, not on s: a factor change reuses it."""
    style = ui.style_for_flag(lecture)
    theta = rope.inv_freq(dim, base).double()  # [dim/2]
    wl = 2 * math.pi / theta  # [dim/2]
    turns = L / wl  # [dim/2]
    yarn = llama = None
    if yarn_p is not None:
        y = dict(yarn_p)
        args = (dim, base, y.get("beta_fast", 32.0), y.get("beta_slow", 1.0), L, bool(y.get("truncate", True)))
        low, high = scaling.yarn_correction_range(*args)
        x_of = lambda i: 2 * math.pi * base ** (2 * i / dim)  # noqa: E731  wavelength at (fractional) pair i
        yarn = dict(weight=scaling.yarn_ramp(*args), low=low, high=high, x_low=x_of(low), x_high=x_of(high))
    if llama_p is not None:
        q = dict(llama_p)
        lo_f, hi_f = q.get("low_freq_factor", 1.0), q.get("high_freq_factor", 4.0)
        b = scaling.llama3_bands(dim, base, L, lo_f, hi_f)
        llama = dict(keep=b.keep, labels=b.labels, edges=(L / hi_f, L / lo_f),
                     counts=(int(b.high_freq.sum()), int(b.smooth_band.sum()), int(b.low_freq.sum())))
    fig = figs.ramps_and_bands(wl, turns, yarn, llama, x_kind, style)
    return fig, yarn and (yarn["low"], yarn["high"]), llama and llama["counts"]


@st.fragment
def bands(ok, dim, base, L, s, T, N, frozen):
    ui.section("YaRN's ramp and Llama 3's bands", P, "bands")
    x_kind = ui.radio("x axis", ["index", "wavelength"], "s6b_bands_x",
                      format_func={"index": "pair index i", "wavelength": "trained wavelength λᵢ"}.get)
    if "yarn" not in ok and "llama3" not in ok:
        st.info("YaRN and Llama 3 are not available with these settings (see the message above).")
        return
    p = thaw(frozen)
    pick = lambda m: tuple(sorted(p.get(m, {}).items())) if m in ok else None  # noqa: E731
    fig, yr, lc = _bands(dim, base, L, pick("yarn"), pick("llama3"), x_kind, ui.lecture())
    kept = _kept(tuple(ok), dim, base, L, s, N, frozen)
    ui.plot(fig)
    lines = []
    if yr:
        y = thaw(frozen).get("yarn", {})
        end = (f"pair {yr[1]}" if yr[1] <= dim // 2 - 1
               else f"index {yr[1]}, past the last pair {dim // 2 - 1}, so no pair is fully interpolated")
        lines.append(f"**YaRN**: the ramp runs from pair {yr[0]} (β_fast = {y.get('beta_fast', 32):g} turns in L) "
                     f"to {end} (β_slow = {y.get('beta_slow', 1):g} turn).")
    if lc:
        lines.append(f"**Llama 3**: {lc[0]} pairs kept, {lc[1]} in the smooth band, {lc[2]} divided by s.")
    st.markdown(" ".join(lines))
    st.caption("Pairs whose θ′ equals the trained θ bit for bit: "
               + "; ".join(f"{label(n)} {k} of {dim // 2}" for n, k in kept.items()) + ".")


# -- 3. attention factor ---------------------------------------------------------------


@ui.cached
def _attention(ok, dim, base, L, s, N, frozen, squared, lecture):
    style = ui.style_for_flag(lecture)
    vals, colors = [], []
    for name in ok:
        _, a = frequencies(name, dim, base, L, s, N, frozen)
        vals.append(a * a if squared else a)
        colors.append(figs.method_look(NAMES.index(name), style)[0])
    curve_s = curve_v = current = None
    yarn_val = None
    if "yarn" in ok:
        y = {k: v for k, v in thaw(frozen).get("yarn", {}).items()
             if k in ("mscale", "mscale_all_dim", "attention_factor")}
        curve_s = np.geomspace(1.0, 128.0, 160)
        curve_v = np.array([scaling.yarn_attention_factor(x, **y) for x in curve_s])
        yarn_val = frequencies("yarn", dim, base, L, s, N, frozen)[1]
        curve_v, current = (curve_v ** 2, yarn_val ** 2) if squared else (curve_v, yarn_val)
    fig = figs.attention_factors([label(n) for n in ok], vals, colors, curve_s, curve_v, s, current, squared, style)
    return fig, yarn_val


@st.fragment
def attention(ok, dim, base, L, s, T, N, frozen):
    ui.section("The attention factor", P, "attention")
    show = ui.radio("Show", ["cos/sin", "logit"], "s6b_attn_show",
                    format_func={"cos/sin": "cos/sin multiplier", "logit": "logit multiplier (its square)"}.get)
    fig, yarn_val = _attention(tuple(ok), dim, base, L, s, N, frozen, show == "logit", ui.lecture())
    ui.plot(fig)
    if yarn_val is not None:
        plain = 0.1 * math.log(s) + 1 if s > 1 else 1.0
        y = thaw(frozen).get("yarn", {})
        if "attention_factor" in y or ("mscale" in y and "mscale_all_dim" in y):
            ui.check(True, "YaRN uses the configured value, not 0.1·ln s + 1",
                     f"factor {yarn_val:.5f} (the plain formula would give {plain:.5f}); logits × {yarn_val ** 2:.5f}")
        else:
            ui.check(abs(yarn_val - plain) < 1e-9, "YaRN's factor is 0.1·ln s + 1",
                     f"s = {s:g}: 0.1·ln {s:g} + 1 = {plain:.5f}, posviz gives {yarn_val:.5f}; "
                     f"both q and k are scaled, so every logit is multiplied by {yarn_val ** 2:.5f}")


# -- 4. angles past the trained range --------------------------------------------------


def angle_stats(f, theta, L, T):
    """Per pair: largest trained angle, angle at the last target position, cycled and OOD masks (float64)."""
    trained = (L - 1) * theta  # [dim/2]
    target = (T - 1) * f  # [dim/2]
    cycled = trained >= 2 * math.pi  # [dim/2] saw every angle mod 2π in training
    ood = ~cycled & (target > trained + theta)  # [dim/2] new angles, more than one trained step past the end
    return trained, target, cycled, ood


@ui.cached
def _angles(name, ok, dim, base, L, s, T, N, frozen, unit, lecture):
    style = ui.style_for_flag(lecture)
    theta = rope.inv_freq(dim, base).double()  # [dim/2]
    rows = []
    for m in ok:
        f, _ = frequencies(m, dim, base, L, s, N, frozen)
        trained, target, cycled, ood = angle_stats(f.double(), theta, L, T)
        over = (target / trained)[~cycled]
        rows.append({"method": label(m), "out-of-distribution pairs": int(ood.sum()),
                     "pairs without a full turn in training": int((~cycled).sum()),
                     "largest angle / trained max (those pairs)": round(float(over.max()), 3) if len(over) else None})
        if m == name:
            k = 1.0 / (2 * math.pi) if unit == "turns" else 1.0
            color = figs.method_look(NAMES.index(m), style)[0]
            fig = figs.angles_at_target(trained * k, target * k, ood, cycled, label(m), color, unit, style)
            picked = dict(n_ood=int(ood.sum()), n_new=int((~cycled).sum()),
                          first=int(np.flatnonzero(ood.numpy())[0]) if ood.any() else None)
    return fig, picked, rows


@st.fragment
def angles(ok, dim, base, L, s, T, N, frozen):
    ui.section("Angles past the trained range", P, "angles")
    c1, c2 = st.columns([3, 2])
    with c1:
        name = ui.select("Method", ok, "s6b_angle_method", index=ok.index("ntk") if "ntk" in ok else 0,
                         format_func=label)
    with c2:
        unit = ui.radio("Angle unit", ["turns", "radians"], "s6b_angle_unit")
    if name not in ok:
        st.info("This method is not available with these settings (see the message above).")
        return
    fig, picked, rows = _angles(name, tuple(ok), dim, base, L, s, T, N, frozen, unit, ui.lecture())
    ui.plot(fig)
    n = picked["n_ood"]
    ui.check(n == 0, f"{label(name)}: " + ("every angle at length s·L was already seen in training" if n == 0
                                            else f"{n} pair(s) reach angles never seen in training"),
             f"{picked['n_new']} of {dim // 2} pairs never completed a turn in L = {L:,} tokens; "
             + (f"of those, {n} go past their largest trained angle at position {T - 1:,} "
                f"(the first is pair {picked['first']})" if n else "none of them goes past its largest trained angle"))
    st.dataframe(rows, hide_index=True, width="stretch")
    ui.mistake(P, "angles.mistake")


# -- 5. dynamic NTK ----------------------------------------------------------------------------


@ui.cached
def _dynamic(dim, base, L, s, T, N, span, log_x, lecture):
    style = ui.style_for_flag(lecture)
    top = max(int(span * T), N, L + 1)
    grid = np.geomspace(1, top, 400) if log_x else np.linspace(1, top, 400)
    grid = np.unique(np.concatenate([np.round(grid).astype(int), [L, T, N]]))
    grid = grid[grid >= 1]
    bases = [scaling.dynamic_base(dim, base, s, L, int(n)) for n in grid]
    static = scaling.ntk_base(dim, base, s)
    at_n = scaling.dynamic_base(dim, base, s, L, N)
    at_t = scaling.dynamic_base(dim, base, s, L, T)
    fig = figs.dynamic_base(grid, bases, L, T, static, base, (N, at_n), log_x, style)
    eff = lambda b: (b / base) ** ((dim - 2) / dim)  # noqa: E731  the NTK scale that gives base b
    return fig, dict(static=static, at_n=at_n, at_t=at_t, eff_n=eff(at_n), eff_t=eff(at_t),
                     at_l=scaling.dynamic_base(dim, base, s, L, L))


@st.fragment
def dynamic(ok, dim, base, L, s, T, N, frozen):
    ui.section("Dynamic NTK: the base follows the length", P, "dynamic")
    c1, c2 = st.columns(2)
    with c1:
        span = ui.slider("Show lengths up to (× target s·L)", 1.0, 8.0, 2.0, "s6b_dyn_span", step=0.5)
    with c2:
        log_x = ui.toggle("Log length axis", "s6b_dyn_log")
    if "dynamic" not in ok:
        st.info("Dynamic NTK is not available with these settings (see the message above).")
        return
    fig, r = _dynamic(dim, base, L, s, T, N, span, log_x, ui.lecture())
    ui.plot(fig)
    m1, m2, m3 = st.columns(3)
    m1.metric(f"Base at N = {N:,}", f"{r['at_n']:,.0f}", help="N is set under Method parameters.")
    m2.metric("Effective NTK scale at N", f"{r['eff_n']:.3f}")
    m3.metric("Static NTK base (scale s)", f"{r['static']:,.0f}")
    expected = s * s - s + 1
    ui.check(abs(r["eff_t"] - expected) < 1e-6 * expected and r["at_l"] == base,
             f"At N = s·L the dynamic scale is s² − s + 1 = {expected:g}, not s = {s:g}",
             f"computed base at N = {T:,}: {r['at_t']:,.0f}, i.e. scale {r['eff_t']:.4f}; "
             f"at N = L it is the trained base {r['at_l']:,.0f} (no jump at the boundary)")


# -- 6. the NTK erratum ------------------------------------------------------------------------


@ui.cached
def _erratum(dim, base, s, lecture):
    new_base = scaling.ntk_base(dim, base, s)
    f, _ = scaling.rope_frequencies("ntk", dim, base, factor=s)
    slowdown = rope.inv_freq(dim, base).double() / f.double()  # [dim/2]
    return figs.ntk_slowdown(slowdown, s, dim, ui.style_for_flag(lecture)), new_base, slowdown


@st.fragment
def erratum():
    ui.section("Erratum: the NTK-aware base", P, "erratum")
    c1, c2, c3 = st.columns(3)
    with c1:
        s = ui.number("Scale s", 0.5, 64.0, 2.0, "s6b_err_s", step=0.5)
    with c2:
        dim = ui.number("Head dim d", 2, 1024, 64, "s6b_err_dim", step=2)
    with c3:
        base = ui.number("Base", 1.0, 1e7, 10000.0, "s6b_err_base", step=1000.0, format="%.0f")
    seed_case = scaling.ntk_base(64, 10000.0, 2.0)
    with ui.guard("d must be even and at least 4, s at least 1, base above 1."):
        fig, new_base, slowdown = _erratum(dim, base, s, ui.lecture())
        a, b = st.columns(2)
        a.metric(f"base′ = {base:,.0f} · {s:g}^({dim}/{dim - 2})", f"{new_base:,.1f}")
        b.metric("Exponent d/(d−2)", f"{dim / (dim - 2):.5f}")
        ui.plot(fig)
        ui.check(abs(float(slowdown[-1]) - s) < 1e-5 * s and abs(float(slowdown[0]) - 1) < 1e-6,
                 "Pair 0 is untouched and the slowest pair is divided by exactly s",
                 f"θ₀/θ′₀ = {float(slowdown[0]):.6f}, θ_last/θ′_last = {float(slowdown[-1]):.6f}")
    st.markdown(f"With the seeds' numbers (s = 2, d = 64, base 10 000), `scaling.ntk_base` gives "
                f"**{seed_case:,.1f}**, so the ≈ 20 700 printed there is {100 * (20700 / seed_case - 1):.1f} % too "
                f"high; it would need an exponent of {math.log2(20700 / 10000):.4f} instead of 64/62 = {64 / 62:.4f}.")


# -- the page ----------------------------------------------------------------------------------

ui.prose(P, "methods")
cfg = settings()
dim_, base_, L_, s_, T_, N_, frozen_ = cfg
ok_ = validate(dim_, base_, L_, s_, N_, frozen_)
if ok_:
    for part in (curves, bands, attention, angles, dynamic):
        part(ok_, dim_, base_, L_, s_, T_, N_, frozen_)
else:
    st.info("No method accepts these settings: fix the value named in the message above.")
erratum()
ui.section("Before trusting a long context", P, "closing")
ui.mistake(P, "closing.mistake")
