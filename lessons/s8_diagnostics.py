"""§8 Diagnostics: every scheme through one engine: permutation and shift tests, attention distance and
entropy, a KV-cache decode simulator with correct and buggy ids, and the facts behind choosing a scheme."""

import streamlit as st

import ui
from posviz import decode, diagnostics, engine, scaling
from posviz.figures import diagnostics as figs

SCHEMES = list(engine.SCHEMES)
TRAIN_LENS = [32, 64, 128, 256]
MODEL_DIMS = [16, 32, 64, 128, 768]
page = ui.Page("s8", "8 · Diagnostics")
page.prose("intro")


def scheme_label(name: str) -> str:
    return engine.SCHEMES[name].label


def method_label(name: str) -> str:
    return scaling.INFO[name].label


@ui.figure
def tests_view(n, delta, causal, seed, style):
    res = diagnostics.scheme_tests(n, delta, causal=causal, seed=seed)
    return res, figs.scheme_tests(res, style)


@page.slide
def side_by_side():
    page.section("Permutation and shift tests, every scheme", "tests")
    v = page.controls([3, 3, 1.2, 1.4], tests_len=ui.Slider("Tokens", 3, 32, 8),
                      tests_delta=ui.Slider("Shift every id by Δ", 0, 300, 37),
                      tests_seed=ui.Number("Shuffle #", 0, 999, 0, help="Which seeded shuffle to apply."),
                      tests_causal=ui.Toggle("Causal mask"))
    res, fig = tests_view(v.tests_len, v.tests_delta, v.tests_causal, v.tests_seed)
    st.caption(f"Shuffle applied: {res.perm.tolist()}")
    ui.plot(fig)
    for verdict in res.verdicts:
        ui.check(verdict)
    if v.tests_delta == 0:
        st.caption("Δ = 0 moves nothing, so there is no shift to test: pick Δ > 0.")
    if None in res.shift_gaps.values():
        st.caption(f"The learned table has rows 0…{res.train_len - 1}: ids up to "
                   f"{v.tests_delta + v.tests_len - 1} need rows it does not have, so it cannot run shifted.")
    page.mistake("tests.mistake")


@ui.figure
def profile_view(n, content, method, factor, style):
    res = diagnostics.attention_profile(n, content, method, factor)
    return res, figs.attention_profile(res, style)


@page.slide
def distance_entropy():
    page.section("Attention distance and entropy", "profile")
    v = page.controls([3, 2], prof_len=ui.Slider("Sequence length", 16, 384, 64, step=16),
                      prof_content=ui.Radio("Tokens", diagnostics.CONTENTS,
                                            format_func=diagnostics.CONTENTS.get))
    w = page.controls([3, 2], prof_method=ui.Select("RoPE scaling method", scaling.METHODS,
                                                    index=1, format_func=method_label),
                      prof_factor=ui.Slider("Scale factor s", 1.0, 16.0, 4.0, step=0.5))
    res, fig = profile_view(v.prof_len, v.prof_content, w.prof_method, w.prof_factor)
    ui.plot(fig)
    for verdict in res.verdicts:
        ui.check(verdict)
    notes = [f"{res.labels[k]}: {why}" for k, why in res.missing.items()]
    if w.prof_method == "default":
        notes.append("plain RoPE is drawn once; pick a scaling method to compare (the factor is unused)")
    if v.prof_content == "random":
        notes.append("with random words the uniform and geometric-series checks do not apply")
    if notes:
        st.caption("Not drawn or not checked: " + "; ".join(notes) + ".")
    page.mistake("profile.mistake")


@ui.figure
def decode_view(scheme, mode, prompt, pad, steps, style):
    run = decode.simulate(scheme, prompt, pad, steps, mode)
    return run, figs.decode_run(run, style)


@page.slide
def decode_simulator():
    page.section("The KV-cache decode simulator", "decode")
    v = page.controls([2, 3], dec_scheme=ui.Select("Scheme", SCHEMES, index=SCHEMES.index("rope"),
                                                   format_func=scheme_label),
                      dec_mode=ui.Select("Position ids", decode.ID_MODES, format_func=decode.ID_MODES.get))
    w = page.controls(dec_prompt=ui.Slider("Prompt tokens", 1, 16, 6), dec_pad=ui.Slider("Left padding", 0, 8, 2),
                      dec_steps=ui.Slider("Decode steps", 1, 16, 6))
    run, fig = decode_view(v.dec_scheme, v.dec_mode, w.dec_prompt, w.dec_pad, w.dec_steps)
    real = run.mask.bool()
    st.markdown(f"**Ids of the real tokens.** Correct: `{run.correct_ids[real].tolist()}` · "
                f"this loop: `{run.used_ids[real].tolist()}`")
    ui.plot(fig)
    for verdict in run.verdicts:
        ui.check(verdict)
    if v.dec_mode != "correct" and not run.wrong_ids:
        st.caption("With these settings this loop's ids equal the correct ones (no padding, or a single step "
                   "whose id is right), so there is no bug to catch: add padding or steps.")
    page.mistake("decode.mistake")


@ui.figure
def table_view(train_len, d_model, heads, style):
    table = diagnostics.compare_schemes(train_len, d_model, heads)
    return table, figs.scheme_facts(table, style)


@page.slide
def choosing():
    page.section("Choosing a scheme", "choose")
    v = page.controls(choose_len=ui.Select("Training length L", TRAIN_LENS, index=1),
                      choose_dim=ui.Select("d_model", MODEL_DIMS, index=1),
                      choose_heads=ui.Slider("Heads", 1, 16, 4))
    table, fig = table_view(v.choose_len, v.choose_dim, v.choose_heads)
    st.table(table.cells, hide_index=True)
    ui.plot(fig)
    for verdict in table.verdicts:
        ui.check(verdict)
    page.prose("choose.after")
    page.mistake("choose.mistake")


side_by_side()
distance_entropy()
decode_simulator()
choosing()
