"""§2 Formal definitions: position ids, token + position, score bias, offsets, interpolation."""

import numpy as np
import streamlit as st
import torch

import ui
from posviz import absolute, attention, ids, relative
from posviz.figures import foundations as figs

P = "s2"

st.title("2 · Formal definitions")
ui.prose(P, "intro")


@ui.cached
def _ids(n_tokens, n_pad, side, lecture):
    mask = ids.padded_mask(n_tokens, n_pad, side)
    tokens = ["[pad]" if m == 0 else f"t{i}" for i, m in enumerate(mask.tolist())]
    aware = ids.from_attention_mask(mask)
    naive = torch.arange(len(mask))
    return figs.position_ids(tokens, naive, aware, mask, ui.style_for_flag(lecture)), aware[mask == 1].tolist()


@st.fragment
def position_ids():
    ui.section("Position ids", P, "ids")
    c1, c2, c3 = st.columns(3)
    with c1:
        n_tokens = ui.slider("Real tokens", 1, 16, 6, "s2_tokens")
    with c2:
        n_pad = ui.slider("Pads", 0, 8, 3, "s2_pads")
    with c3:
        side = ui.radio("Padding side", ["left", "right"], "s2_side")
    fig, real_ids = _ids(n_tokens, n_pad, side, ui.lecture())
    ui.plot(fig)
    ui.check(real_ids == list(range(n_tokens)), "Real tokens get ids 0, 1, 2, …",
             f"mask-aware ids of the real tokens: {real_ids}")
    ui.mistake(P, "ids.mistake")


@ui.cached
def _sum(word, position, dim, std, sqrt_scale, lecture):
    e = attention.word_vectors([word], dim)[0] * std * (dim ** 0.5 if sqrt_scale else 1.0)  # [dim]
    pe = absolute.sinusoidal(position + 1, dim)[position]  # [dim]
    fig = figs.vector_sum(e, pe, ui.style_for_flag(lecture))
    return fig, float(e.norm()), float(pe.norm())


@st.fragment
def token_plus_position():
    ui.section("Token + position", P, "sum")
    c1, c2, c3 = st.columns(3)
    with c1:
        word = ui.text("Token", "s2_word", "bites")
        position = ui.slider("Position p", 0, 512, 3, "s2_pos")
    with c2:
        dim = ui.select("Model dim d", [16, 64, 256, 512], "s2_dim", index=1)
        std = ui.select("Embedding std", [0.02, 0.1, 0.5, 1.0], "s2_std", index=0)
    with c3:
        sqrt_scale = ui.toggle("Multiply embedding by √d", "s2_sqrt", value=True)
    with ui.guard("Type a single word."):
        tokens = attention.words(word, max_words=1)
        fig, e_norm, p_norm = _sum(tokens[0], position, dim, std, sqrt_scale, ui.lecture())
        ui.plot(fig)
        a, b, c = st.columns(3)
        a.metric("‖token embedding‖", f"{e_norm:.2f}")
        b.metric("‖PE[p]‖ = √(d/2)", f"{p_norm:.2f}")
        c.metric("position : token", f"{p_norm / e_norm:.2f}")


@ui.cached
def _bias(sentence, slope, where, lecture):
    tokens = attention.words(sentence)
    x = attention.word_vectors(tokens, 16)
    s = attention.attend(x, attention.random_weights(16, seed=1))["scores"]
    bias = -slope * relative.offsets(len(tokens)).abs().float()
    w = attention.softmax_with_bias(s, bias, where=where)
    return figs.score_bias(s, bias, w, tokens, ui.style_for_flag(lecture), where), w.sum(-1), float(w.min())


@st.fragment
def score_bias():
    ui.section("Score modification S_ij = q·k/√d + b_ij", P, "bias")
    c1, c2, c3 = st.columns([3, 2, 2])
    with c1:
        sentence = ui.text("Sentence", "s2_text", "the quick brown fox jumps over the dog")
    with c2:
        slope = ui.slider("Distance penalty m", 0.0, 2.0, 0.5, "s2_slope", step=0.05)
    with c3:
        where = ui.radio("Add the bias", ["before", "after"], "s2_where",
                         format_func=lambda w: f"{w} softmax")
    with ui.guard("Shorten the sentence."):
        fig, row_sums, w_min = _bias(sentence, slope, where, ui.lecture())
        ui.plot(fig)
        ok = bool(torch.allclose(row_sums, torch.ones_like(row_sums), atol=1e-5)) and w_min >= 0
        ui.check(ok, "Each row is a probability distribution" if ok else "Rows are no longer distributions",
                 f"row sums range {float(row_sums.min()):.3f}…{float(row_sums.max()):.3f}; "
                 f"smallest weight {w_min:.3f}")
    ui.mistake(P, "bias.mistake")


@ui.cached
def _offsets(q_len, k_len, lecture):
    start = k_len - q_len
    off = relative.offsets(q_len, k_len, query_start=start)
    return figs.offsets(off, start, ui.style_for_flag(lecture))


@st.fragment
def offset_notation():
    ui.section("Relative offset notation (i − j)", P, "offsets")
    c1, c2 = st.columns(2)
    with c1:
        k_len = ui.slider("Keys (cache length)", 1, 24, 10, "s2_klen")
    with c2:
        q_len = ui.slider("Queries (newest tokens)", 1, 24, 10, "s2_qlen")
    with ui.guard("Use at most as many queries as keys."):
        if q_len > k_len:
            raise ValueError(f"queries ({q_len}) must not outnumber keys ({k_len}): queries are the newest keys")
        ui.plot(_offsets(q_len, k_len, ui.lecture()))
        st.caption(f"Queries sit at positions {k_len - q_len}…{k_len - 1}. Cells with i − j < 0 are future "
                   "keys that a causal mask hides.")


@ui.cached
def _interp(train_len, target_len, pair, dim, lecture):
    theta = float(absolute.frequencies(dim)[pair])
    m = np.unique(np.linspace(0, target_len - 1, 400).round())  # the angles are straight lines: 400 points suffice
    scaled = ids.interpolate(m, train_len, target_len).numpy()
    fig = figs.interpolation(m, m * theta, scaled * theta, (train_len - 1) * theta,
                             ui.style_for_flag(lecture), train_len)
    return fig, float(scaled.max())


@st.fragment
def interpolation():
    ui.section("Position interpolation and scaling", P, "interp")
    c1, c2, c3 = st.columns(3)
    with c1:
        train_len = ui.select("Trained length L", [512, 1024, 2048, 4096], "s2_train", index=2)
    with c2:
        factor = ui.slider("Target L′ = factor × L", 1, 16, 4, "s2_factor")
    with c3:
        pair = ui.slider("Frequency pair i (d = 128)", 0, 63, 40, "s2_pair")
    fig, top = _interp(train_len, train_len * factor, pair, 128, ui.lecture())
    ui.plot(fig)
    ui.check(top < train_len, "Interpolated positions stay in the trained range",
             f"largest scaled position = {top:,.2f} < L = {train_len}; neighbours are now {1 / factor:.3g} apart")


position_ids()
token_plus_position()
score_bias()
offset_notation()
interpolation()
