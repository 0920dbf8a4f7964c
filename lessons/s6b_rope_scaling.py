"""§6b Long-context RoPE scaling: PI, NTK-aware, dynamic NTK, YaRN, Llama 3.1, from one registry.

Methods and a widget per parameter come from ``posviz.scaling.INFO``; numbers and verdicts from ``scaling_report``.
"""

import streamlit as st

import ui
from posviz import scaling, scaling_report as report
from posviz.figures import scaling as figs

NAMES = list(scaling.INFO)  # registry order: fixes each method's colour and dash everywhere
BASES = [10000.0, 50000.0, 100000.0, 500000.0, 1000000.0]
CURVE_KINDS = {"wavelength": "wavelength", "inv_freq": "frequency θ′", "slowdown": "slow-down θ/θ′"}

page = ui.Page("s6b", "6b · Long-context RoPE scaling")
page.prose("intro")


def param_control(method: str, name: str, default):
    """One widget for one registry parameter; returns (include?, value)."""
    (text, lo, hi, step), key = report.param_widget(name), f"{method}_{name}"
    if isinstance(default, bool):
        return True, page.control(key, ui.Toggle(text, default))
    if default is None:  # optional: off means "not set", as in a config file without the field
        on = page.control(f"{key}_on", ui.Toggle(f"Set {name}"))
        return on, page.control(key, ui.Number(text, lo, hi, 1.0, step=step, disabled=not on))
    return True, page.control(key, ui.Number(text, lo, hi, float(default), step=step))


def method_params() -> tuple[dict, float]:
    """Each registry method's extra parameters (one column per method), and N as a fraction of s·L."""
    with_params = [n for n in NAMES if scaling.INFO[n].params]
    uses_len = [n for n in NAMES if "seq_len" in scaling.INFO[n].uses]
    cols, params, frac = st.columns(max(1, len(with_params) + bool(uses_len))), {}, 1.0
    for col, name in zip(cols, with_params):
        with col:
            st.markdown(f"**{report.label(name)}**")
            chosen = [(p, *param_control(name, p, d)) for p, d in scaling.INFO[name].params.items()]
            params[name] = {p: value for p, on, value in chosen if on}
    if uses_len:
        with cols[-1]:
            st.markdown(f"**{', '.join(report.label(n) for n in uses_len)}**")
            frac = page.control("dyn_frac", ui.Slider("Current length N (× target s·L)", 0.05, 4.0, 1.0, step=0.05,
                                                      help="The length of the input being processed right now."))
    return params, frac


@page.slide(fragment=False)
def settings() -> tuple[report.Setting, list]:
    """The shared settings; shows each distinct posviz refusal once; returns the methods that accept them."""
    page.section("Settings shared by every chart")
    v = page.controls(
        dim=ui.Number("Head dim d", 2, 1024, 128, step=2, help="RoPE rotates d/2 pairs. Type an odd number."),
        base=ui.Select("Base", BASES, format_func=lambda b: f"{b:,.0f}"),
        L=ui.Number("Trained length L", 0, 1 << 20, 4096, step=512, help="original_max_position: the trained context."),
        factor=ui.Number("Scale factor s", 0.5, 128.0, 4.0, step=0.5, help="Target length = s·L (s < 1 is refused)."))
    with st.expander("Method parameters (one column per method that has any, read from the registry)"):
        params, frac = method_params()
    s = report.setting(v.dim, v.base, v.L, v.factor, frac, params)
    st.caption(s.summary)
    check = report.check_methods(s)  # each method once: about a millisecond
    for message, names in check.errors:
        with ui.guard(f"Affects {check.who(names)}; change that setting above."):
            raise ValueError(message)  # posviz's own message, shown by the guard
    return s, list(check.ok)


@ui.figure
def ladder_view(s, methods, kind, style):
    ladder = report.ladder(s, methods, kind)
    return ladder, figs.ladder_chart(ladder, style)


@page.slide
def curves(s, ok):
    page.section("Frequencies and wavelengths, pair by pair", "curves")
    chosen = page.control("methods", ui.Multi("Methods (from the registry)", NAMES, format_func=report.label))
    kind = page.control("curve_kind", ui.Radio("Show", list(CURVE_KINDS), format_func=CURVE_KINDS.get))
    shown = tuple(n for n in chosen if n in ok)
    if not shown:
        return st.info("Pick at least one method that the settings allow.")
    ladder, fig = ladder_view(s, shown, kind)
    ui.plot(fig)
    st.caption(ladder.summary)


@ui.figure
def bands_view(dim, base, L, yarn_p, llama_p, has_yarn, has_llama, x_kind, style):
    bands = report.bands(dim, base, L, yarn_p, llama_p, yarn=has_yarn, llama=has_llama)
    return bands, figs.bands_chart(bands, x_kind, style)


@ui.cached
def kept_view(s, ok):
    return report.kept_pairs(s, ok)


@page.slide
def bands(s, ok):
    page.section("YaRN's ramp and Llama 3.1's bands", "bands")
    x_kind = page.control("bands_x", ui.Radio("x axis", ["index", "wavelength"], format_func={
        "index": "pair index i", "wavelength": "trained wavelength λᵢ"}.get))
    if "yarn" not in ok and "llama3" not in ok:
        return st.info("YaRN and Llama 3.1 are not available with these settings (see the message above).")
    result, fig = bands_view(s.dim, s.base, s.original, s.params_for("yarn"), s.params_for("llama3"),
                             "yarn" in ok, "llama3" in ok, x_kind)  # no s: a factor change reuses the figure
    kept = kept_view(s, tuple(ok))
    ui.plot(fig)
    st.markdown(result.summary)
    for rule in kept.rules:
        ui.check(rule.verdict)
    st.caption(kept.summary)


@ui.figure
def attention_view(s, ok, squared, style):
    factors = report.attention_factors(s, ok)
    return factors, figs.attention_chart(factors, squared, style)


@page.slide
def attention(s, ok):
    page.section("The attention factor", "attention")
    show = page.control("attn_show", ui.Radio("Show", ["cos/sin", "logit"], format_func={
        "cos/sin": "cos/sin multiplier", "logit": "logit multiplier (its square)"}.get))
    factors, fig = attention_view(s, tuple(ok), show == "logit")
    ui.plot(fig)
    if factors.yarn is not None:
        if factors.yarn.note:  # a configured value that changes nothing, and why
            st.info(factors.yarn.note, icon=":material/info:")
        ui.check(factors.yarn.verdict)


@ui.figure
def angles_view(s, ok, name, unit, style):
    angles = report.angles_past_training(s, ok, name)
    return angles, figs.angles_chart(angles, unit, style)


@page.slide
def angles(s, ok):
    page.section("Angles past the trained range", "angles")
    v = page.controls([3, 2], angle_method=ui.Select("Method", ok, index=ok.index("ntk") if "ntk" in ok else 0,
                                                     format_func=report.label),
                      angle_unit=ui.Radio("Angle unit", ["turns", "radians"]))
    if v.angle_method not in ok:
        return st.info("This method is not available with these settings (see the message above).")
    result, fig = angles_view(s, tuple(ok), v.angle_method, v.angle_unit)
    ui.plot(fig)
    ui.check(result.verdict)
    ui.table(result.table, "Every method, side by side")
    page.mistake("angles.mistake")


@ui.figure
def dynamic_view(dim, base, factor, L, N, span, log_x, style):
    dyn = report.dynamic_ntk(dim, base, factor, L, N, span=span, log_x=log_x)
    return dyn, figs.dynamic_chart(dyn, style)


@page.slide
def dynamic(s, ok):
    page.section("Dynamic NTK: the base follows the length", "dynamic")
    v = page.controls(dyn_span=ui.Slider("Show lengths up to (× target s·L)", 1.0, 8.0, 2.0, step=0.5),
                      dyn_log=ui.Toggle("Log length axis"))
    if "dynamic" not in ok:
        return st.info("Dynamic NTK is not available with these settings (see the message above).")
    dyn, fig = dynamic_view(s.dim, s.base, s.factor, s.original, s.seq_len, v.dyn_span, v.dyn_log)
    ui.plot(fig)
    m1, m2, m3 = st.columns(3)
    m1.metric(f"Base at N = {dyn.seq_len:,}", f"{dyn.at_seq:,.0f}", help="N is set under Method parameters.")
    m2.metric("Effective NTK scale at N", f"{dyn.scale_at_seq:.3f}")
    m3.metric("Static NTK base (scale s)", f"{dyn.static:,.0f}")
    ui.check(dyn.verdict)


@ui.figure
def erratum_view(dim, base, factor, style):
    err = report.ntk_erratum(dim, base, factor)
    return err, figs.erratum_chart(err, style)


@page.slide
def erratum():
    page.section("Erratum: the NTK-aware base", "erratum")
    v = page.controls(err_s=ui.Number("Scale s", 0.5, 64.0, 2.0, step=0.5),
                      err_dim=ui.Number("Head dim d", 2, 1024, 64, step=2),
                      err_base=ui.Number("Base", 1.0, 1e7, 10000.0, step=1000.0, format="%.0f"))
    with ui.guard("d must be even and at least 4, s at least 1, base above 1."):
        err, fig = erratum_view(v.err_dim, v.err_base, v.err_s)
        a, b = st.columns(2)
        a.metric(f"base′ = {err.base:,.0f} · {err.factor:g}^({err.dim}/{err.dim - 2})", f"{err.new_base:,.1f}")
        b.metric("Exponent d/(d−2)", f"{err.exponent:.5f}")
        ui.plot(fig)
        ui.check(err.verdict)
    st.markdown(report.seed_case().text)


page.prose("methods")
setting_, ok_ = settings()
if ok_:
    for part in (curves, bands, attention, angles, dynamic):
        part(setting_, ok_)
else:
    st.info("No method accepts these settings: fix the value named in the message above.")
erratum()
page.section("Before trusting a long context", "closing")
page.mistake("closing.mistake")
