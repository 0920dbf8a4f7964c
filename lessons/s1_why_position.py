"""§1 Why position: permutation equivariance on the user's sentence, and the design space."""

import streamlit as st

import ui
from posviz import attention, diagnostics, ids
from posviz.figures import foundations as figs

SCHEMES = list(attention.SCHEMES)
page = ui.Page("s1", "1 · Why position")
page.prose("intro")


def scheme_label(name: str) -> str:
    return attention.SCHEMES[name].label


@ui.figure
def permutation_view(sentence, scheme, seed, causal, style):
    result = diagnostics.permutation_test(sentence, scheme, seed=seed, causal=causal)
    return result, figs.permutation(result, style)


@page.slide
def permutation_demo():
    page.section("Attention is permutation-equivariant", "perm")
    v = page.controls(
        [3, 2, 1, 1.4],
        text=ui.Text("Your sentence", "dog bites man",
                     help=f"Up to {attention.MAX_WORDS} words, {attention.MAX_CHARS} characters."),
        scheme=ui.Select("Position scheme", SCHEMES, format_func=scheme_label),
        seed=ui.Number("Shuffle #", 0, 999, 0, help="Which shuffle to apply."),
        causal=ui.Toggle("Causal mask"))
    with ui.guard("Shorten the sentence or use plain words."):
        result, fig = permutation_view(v.text, v.scheme, v.seed, v.causal)
        st.markdown(f"**Original:** {ui.literal(' '.join(result.tokens))} &nbsp;→&nbsp; "
                    f"**shuffled:** {ui.literal(' '.join(result.shuffled))}")
        ui.plot(fig)
        ui.check(result.verdict)
        if attention.SCHEMES[v.scheme].note:
            st.caption(f"Position enters the {attention.SCHEMES[v.scheme].enters}; "
                       f"{attention.SCHEMES[v.scheme].note}.")
    page.mistake("perm.mistake")


@ui.figure
def moved_view(start, n, style):
    moved = diagnostics.move_phrase(n, start)
    return moved, figs.ids_and_offsets(moved, style)


@page.slide
def absolute_vs_relative():
    page.section("Absolute vs relative", "absrel")
    v = page.controls(start=ui.Slider("Phrase starts at position", 0, 100, 20),
                      len=ui.Slider("Phrase length", 2, 12, 5))
    moved, fig = moved_view(v.start, v.len)
    ui.plot(fig)
    ui.check(moved.verdict)
    page.mistake("absrel.mistake")


@ui.figure
def terms_view(sentence, scheme, style):
    parts = attention.decompose(sentence, scheme)
    return parts, figs.score_terms(parts.terms, parts.tokens, style)


@page.slide
def additive_vs_score():
    page.section("Additive vs score-based", "additive")
    v = page.controls([3, 2], terms_text=ui.Text("Sentence", "the cat sat on the mat"),
                      terms_scheme=ui.Select("Scheme", [s for s in SCHEMES if s != "none"],
                                             format_func=scheme_label))
    with ui.guard("Shorten the sentence."):
        parts, fig = terms_view(v.terms_text, v.terms_scheme)
        st.caption(f"Position enters the **{attention.SCHEMES[v.terms_scheme].enters}**.")
        ui.plot(fig)
        ui.check(parts.verdict)


@ui.figure
def seen_view(train_len, max_factor, eval_factor, style):
    curve = diagnostics.seen_curve(train_len, max_factor, eval_factor)
    return curve, figs.seen_fraction(curve, style)


@page.slide
def extrapolation():
    page.section("Length extrapolation", "extrap")
    v = page.controls(train=ui.Select("Trained length L", [128, 512, 1024, 2048, 4096], index=1),
                      factor=ui.Slider("Show up to (× L)", 2, 16, 8),
                      eval=ui.Slider("Evaluate at N (× L)", 1.0, 16.0, 4.0, step=0.5))
    with ui.guard("Choose other lengths."):
        curve, fig = seen_view(v.train, v.factor, v.eval)
        ui.plot(fig)
        a, b = st.columns(2)
        a.metric(f"Positions already seen at N = {curve.eval_len:,}", f"{100 * curve.at_eval['positions']:.1f} %")
        b.metric(f"Causal offsets already seen at N = {curve.eval_len:,}", f"{100 * curve.at_eval['offsets']:.1f} %")
    page.mistake("extrap.mistake")


@ui.figure
def decode_view(prefix, n_new, style):
    cmp = ids.compare_decode(prefix, n_new)
    return cmp, figs.decode_ids(cmp, style)


@page.slide
def decoder_ids():
    page.section("Position in decoder-only LLMs", "decoder")
    v = page.controls(prefix=ui.Slider("Prompt length P", 1, 32, 12), new=ui.Slider("Generated tokens", 1, 32, 8))
    cmp, fig = decode_view(v.prefix, v.new)
    ui.plot(fig)
    ui.check(cmp.verdict)
    st.markdown(f"Correct ids of the new tokens: `{cmp.correct.tolist()}`; the buggy loop reuses "
                f"`{cmp.buggy.tolist()}`, which the prompt already used.")
    page.mistake("decoder.mistake")


permutation_demo()
absolute_vs_relative()
additive_vs_score()
extrapolation()
decoder_ids()
