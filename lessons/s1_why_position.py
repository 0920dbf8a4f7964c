"""§1 Why position: permutation equivariance on the user's sentence, and the design space."""

import numpy as np
import streamlit as st

import ui
from posviz import attention, diagnostics, ids, relative
from posviz.figures import foundations as figs

P = "s1"
SCHEMES = list(attention.SCHEMES)

st.title("1 · Why position")
ui.prose(P, "intro")


@ui.cached
def _permutation(sentence, scheme, seed, causal, lecture):
    result = diagnostics.permutation_test(sentence, scheme, seed=seed, causal=causal)
    return result, figs.permutation(result, ui.style_for_flag(lecture))


@st.fragment
def permutation_demo():
    ui.section("Attention is permutation-equivariant", P, "perm")
    c1, c2, c3, c4 = st.columns([3, 2, 1, 1.4])
    with c1:
        sentence = ui.text("Your sentence", "s1_text", "dog bites man",
                           help=f"Up to {attention.MAX_WORDS} words, {attention.MAX_CHARS} characters.")
    with c2:
        scheme = ui.select("Position scheme", SCHEMES, "s1_scheme",
                           format_func=lambda s: attention.SCHEMES[s].label)
    with c3:
        seed = ui.number("Shuffle #", 0, 999, 0, "s1_seed", help="Which shuffle to apply.")
    with c4:
        causal = ui.toggle("Causal mask", "s1_causal")
    with ui.guard("Shorten the sentence or use plain words."):
        result, fig = _permutation(sentence, scheme, seed, causal, ui.lecture())
        st.markdown(f"**Original:** {' '.join(result['tokens'])} &nbsp;→&nbsp; "
                    f"**shuffled:** {' '.join(result['shuffled'])}")
        ui.plot(fig)
        equivariant = result["output_gap"] < 1e-9 and result["score_gap"] < 1e-9
        detail = (f"largest |Δ| between shuffled-run outputs and permuted original outputs = "
                  f"{result['output_gap']:.2e}; scores: {result['score_gap']:.2e}")
        if causal:
            detail += f"; (word, word) pairs whose visibility changed: {result['visibility_changes']}"
        ui.check(equivariant, "Outputs are exactly the permuted outputs" if equivariant
                 else "Order now matters: the outputs are not just permuted", detail)
        note = attention.SCHEMES[scheme].note
        if note:
            st.caption(f"Position enters the {attention.SCHEMES[scheme].enters}; {note}.")
    ui.mistake(P, "perm.mistake")


@ui.cached
def _offsets(start, n, lecture):
    off = relative.offsets(n, query_start=start) - start  # ids start..start+n-1 against keys start..
    return figs.ids_and_offsets(start, n, off, ui.style_for_flag(lecture)), off


@st.fragment
def absolute_vs_relative():
    ui.section("Absolute vs relative", P, "absrel")
    c1, c2 = st.columns(2)
    with c1:
        start = ui.slider("Phrase starts at position", 0, 100, 0, "s1_start")
    with c2:
        n = ui.slider("Phrase length", 2, 12, 5, "s1_len")
    fig, off = _offsets(start, n, ui.lecture())
    ui.plot(fig)
    moved = relative.offsets(n)
    ui.check(bool((off == moved).all()), "Offsets are unchanged by the move",
             f"ids now run {start}…{start + n - 1}; every i − j equals its value at start 0")
    ui.mistake(P, "absrel.mistake")


@ui.cached
def _terms(sentence, scheme, lecture):
    tokens = attention.words(sentence)
    x = attention.word_vectors(tokens, 16).double()
    w = attention.Weights(*(m.double() for m in vars(attention.random_weights(16, seed=1)).values()))
    terms = attention.score_terms(x, w, scheme)
    total = attention.attend(x, w, scheme=scheme)["scores"]
    gap = float((sum(terms.values()) - total).abs().max())
    return figs.score_terms(terms, tokens, ui.style_for_flag(lecture)), gap, len(terms)


@st.fragment
def additive_vs_score():
    ui.section("Additive vs score-based", P, "additive")
    c1, c2 = st.columns([3, 2])
    with c1:
        sentence = ui.text("Sentence", "s1_terms_text", "the cat sat on the mat")
    with c2:
        scheme = ui.select("Scheme", [s for s in SCHEMES if s != "none"], "s1_terms_scheme",
                           format_func=lambda s: attention.SCHEMES[s].label)
    with ui.guard("Shorten the sentence."):
        fig, gap, n_terms = _terms(sentence, scheme, ui.lecture())
        st.caption(f"Position enters the **{attention.SCHEMES[scheme].enters}**.")
        ui.plot(fig)
        ui.check(gap < 1e-9, f"The {n_terms} part(s) add up to the real score",
                 f"largest |sum of parts − score| = {gap:.1e}")


@ui.cached
def _seen(train_len, max_factor, lecture):
    lens = np.unique(np.linspace(1, train_len * max_factor, 200).astype(int))
    fractions = [diagnostics.seen_fraction(train_len, int(n)) for n in lens]
    return figs.seen_fraction(train_len, lens, fractions, ui.style_for_flag(lecture))


@st.fragment
def extrapolation():
    ui.section("Length extrapolation", P, "extrap")
    c1, c2, c3 = st.columns(3)
    with c1:
        train_len = ui.select("Trained length L", [128, 512, 1024, 2048, 4096], "s1_train", index=1)
    with c2:
        factor = ui.slider("Show up to (× L)", 2, 16, 8, "s1_factor")
    with c3:
        eval_len = ui.slider("Evaluate at N (× L)", 1.0, float(factor), 4.0, "s1_eval", step=0.5)
    ui.plot(_seen(train_len, factor, ui.lecture()))
    f = diagnostics.seen_fraction(train_len, int(train_len * eval_len))
    a, b = st.columns(2)
    a.metric("Positions already seen at N", f"{100 * f['positions']:.1f} %")
    b.metric("Causal offsets already seen at N", f"{100 * f['offsets']:.1f} %")
    ui.mistake(P, "extrap.mistake")


@ui.cached
def _decode(prefix, n_new, lecture):
    return figs.decode_ids(prefix, ids.decode_ids(prefix, n_new), ids.decode_ids(prefix, n_new, restart=True),
                           ui.style_for_flag(lecture))


@st.fragment
def decoder_ids():
    ui.section("Position in decoder-only LLMs", P, "decoder")
    c1, c2 = st.columns(2)
    with c1:
        prefix = ui.slider("Prompt length P", 1, 32, 12, "s1_prefix")
    with c2:
        n_new = ui.slider("Generated tokens", 1, 32, 8, "s1_new")
    ui.plot(_decode(prefix, n_new, ui.lecture()))
    correct = ids.decode_ids(prefix, n_new)
    st.markdown(f"Correct ids of the new tokens: `{correct.tolist()}`; the buggy loop reuses "
                f"`{ids.decode_ids(prefix, n_new, restart=True).tolist()}`, which the prompt already used.")
    ui.mistake(P, "decoder.mistake")


permutation_demo()
absolute_vs_relative()
additive_vs_score()
extrapolation()
decoder_ids()
