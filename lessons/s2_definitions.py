"""§2 Formal definitions: position ids, token + position, score bias, offsets, interpolation."""

import streamlit as st

import ui
from posviz import attention, ids, relative
from posviz.figures import foundations as figs

page = ui.Page("s2", "2 · Formal definitions")
page.prose("intro")


@ui.figure
def ids_view(n_tokens, n_pad, side, style):
    padded = ids.pad_batch(n_tokens, n_pad, side)
    return padded, figs.position_ids(padded, style)


@page.slide
def position_ids():
    page.section("Position ids", "ids")
    v = page.controls(tokens=ui.Slider("Real tokens", 1, 16, 6), pads=ui.Slider("Pads", 0, 8, 3),
                      side=ui.Radio("Padding side", ["left", "right"]))
    padded, fig = ids_view(v.tokens, v.pads, v.side)
    ui.plot(fig)
    ui.check(padded.verdict)
    page.mistake("ids.mistake")


@ui.figure
def sum_view(word, position, dim, std, sqrt_scale, style):
    summed = attention.token_plus_position(word, position, dim, std, sqrt_scale)
    return summed, figs.vector_sum(summed, style)


@page.slide
def token_plus_position():
    page.section("Token + position", "sum")
    v = page.controls([2, 3, 2, 2, 3], word=ui.Text("Token", "bites"), pos=ui.Slider("Position p", 0, 512, 3),
                      dim=ui.Select("Model dim d", [16, 64, 256, 512], index=1),
                      std=ui.Select("Embedding std", [0.02, 0.1, 0.5, 1.0]),
                      sqrt=ui.Toggle("Multiply embedding by √d", value=True))
    with ui.guard("Type a single word."):
        summed, fig = sum_view(v.word, v.pos, v.dim, v.std, v.sqrt)
        ui.plot(fig)
        a, b, c = st.columns(3)
        a.metric("‖token embedding‖", f"{summed.token_norm:.2f}")
        b.metric(f"‖PE[{summed.position}]‖", f"{summed.pe_norm:.2f}")
        c.metric("position : token", f"{summed.ratio:.2f}")
        ui.check(summed.verdict)


@ui.figure
def bias_view(sentence, slope, where, style):
    biased = attention.bias_demo(sentence, slope, where)
    return biased, figs.score_bias(biased, style)


@page.slide
def score_bias():
    page.section("Score modification S_ij = q·k/√d + b_ij", "bias")
    v = page.controls([3, 2, 2], text=ui.Text("Sentence", "the quick brown fox jumps over the dog"),
                      slope=ui.Slider("Distance penalty m", 0.0, 2.0, 0.5, step=0.05),
                      where=ui.Radio("Add the bias", ["before", "after"], format_func=lambda w: f"{w} softmax"))
    with ui.guard("Shorten the sentence."):
        biased, fig = bias_view(v.text, v.slope, v.where)
        ui.plot(fig)
        ui.check(biased.verdict)
    page.mistake("bias.mistake")


@ui.figure
def offsets_view(q_len, k_len, style):
    grid = relative.cache_offsets(q_len, k_len)
    return grid, figs.offsets(grid, style)


@page.slide
def offset_notation():
    page.section("Relative offset notation (i − j)", "offsets")
    v = page.controls(klen=ui.Slider("Keys (cache length)", 1, 24, 10),
                      qlen=ui.Slider("Queries (newest tokens)", 1, 24, 10))
    with ui.guard("Use at most as many queries as keys: the queries are the newest keys."):
        grid, fig = offsets_view(v.qlen, v.klen)
        ui.plot(fig)
        st.caption(f"Queries sit at positions {grid.query_start}…{v.klen - 1}. Cells with i − j < 0 are "
                   "future keys that a causal mask hides.")
        ui.check(grid.verdict)


@ui.figure
def interp_view(train_len, factor, pair, style):
    stretched = ids.interpolate_range(train_len, factor, pair)
    return stretched, figs.interpolation(stretched, style)


@page.slide
def interpolation():
    page.section("Position interpolation and scaling", "interp")
    v = page.controls(train=ui.Select("Trained length L", [512, 1024, 2048, 4096], index=2),
                      factor=ui.Slider("Target L′ = factor × L", 1, 16, 4),
                      pair=ui.Slider("Frequency pair i (d = 128)", 0, 63, 40))
    stretched, fig = interp_view(v.train, v.factor, v.pair)
    ui.plot(fig)
    ui.check(stretched.verdict)


position_ids()
token_plus_position()
score_bias()
offset_notation()
interpolation()
