"""§7 ALiBi: linear biases, slopes per head, spans, past the training length, bias vs embedding, the mask."""

import streamlit as st

import ui
from posviz import alibi
from posviz.figures import alibi as figs

HEADS = alibi.head_labels(alibi.DEMO_HEADS)
VARIANTS = {True: "causal (decoder)", False: "bidirectional: −m·|i − j|"}
LENGTHS = [16, 32, 64, 128, 256]
THRESHOLDS = [0.5, 0.1, 0.01]
TRAIN_LENGTHS = [64, 128, 256, 512, 1024, 2048]
HEAD = ui.Select("Head (of 8)", list(range(alibi.DEMO_HEADS)), format_func=HEADS.__getitem__)
page = ui.Page("s7", "7 · ALiBi")
page.prose("intro")


@ui.figure
def linear_view(sentence, head, query, causal, style):
    res = alibi.linear_bias_demo(sentence, head, query, causal)
    return res, figs.linear_bias(res, style)


@page.slide
def linear_biases():
    page.section("Linear biases", "linear")
    v = page.controls([3, 2, 2, 2], text=ui.Text("Sentence", "the cat sat on the mat because it was very warm",
                                                 help="Up to 12 words, 100 characters."),
                      head=HEAD, query=ui.Slider("Query word i", 0, 11, 10),
                      causal=ui.Radio("Variant", list(VARIANTS), format_func=VARIANTS.get))
    with ui.guard("Shorten the sentence or use plain words."):
        res, fig = linear_view(v.text, v.head, v.query, v.causal)
        ui.plot(fig)
        if res.clipped:
            st.caption(f"The sentence has {len(res.tokens)} words, so query {v.query} does not exist: the last "
                       f"word (i = {res.query}) is drawn.")
        st.caption(f"Key j = {max(res.query - 3, 0)} is {min(3, res.query)} token(s) before the query: its score "
                   f"drops by {min(3, res.query)}·m = {min(3, res.query) * res.slope:.3g}, so its weight is scaled by "
                   f"e^(−{min(3, res.query) * res.slope:.3g}) before the row is renormalised.")
        ui.check(res.verdict)
    page.mistake("linear.mistake")


@ui.figure
def slopes_view(n_heads, naive, style):
    rep = alibi.slope_report(n_heads)
    return rep, figs.slopes(rep, style, naive=naive)


@page.slide
def head_slopes():
    page.section("One slope per head, for any head count", "slopes")
    v = page.controls([3, 2], heads=ui.Slider("Heads n", 1, 64, 8, help="Try 12: not a power of two."),
                      naive=ui.Toggle("Show the wrong formula 2^(−8k/n)", value=True))
    rep, fig = slopes_view(v.heads, v.naive)
    ui.plot(fig)
    labels = alibi.head_labels(v.heads)
    st.caption("Slopes: " + "; ".join(labels[:16]) + ("; …" if v.heads > 16 else "") + ".")
    for verdict in rep.verdicts:
        ui.check(verdict)
    page.mistake("slopes.mistake")


@ui.figure
def span_view(n_heads, length, threshold, style):
    rep = alibi.span_report(n_heads, length, threshold)
    # four panels: eight small heatmaps took a browser ~150 ms to draw on every move of this section's controls
    return rep, (figs.head_factors(rep, style, heads_shown=4), figs.spans(rep, style))


@page.slide
def spans():
    page.section("Per-head bias and attention span", "span")
    v = page.controls(span_heads=ui.Slider("Heads n", 1, 32, 8),
                      span_len=ui.Select("Sequence length L", LENGTHS, index=LENGTHS.index(64)),
                      span_t=ui.Select("Span threshold t", THRESHOLDS, index=1,
                                       help="The distance at which e^(−m·d) falls to t."))
    rep, (heads_fig, spans_fig) = span_view(v.span_heads, v.span_len, v.span_t)
    ui.plot(heads_fig)
    if v.span_heads > 4:
        st.caption("More heads than panels: the panels show heads spread from the steepest to the shallowest.")
    ui.plot(spans_fig)
    ui.check(rep.verdict)
    page.mistake("span.mistake")


@ui.figure
def extrap_view(n_heads, train_len, factor, style):
    rep = alibi.extrapolation_report(n_heads, train_len, factor)
    return rep, figs.extrapolation(rep, style, heads_shown=4 if style.lecture else 8)


@page.slide
def past_training_length():
    page.section("Past the training length", "extrap")
    v = page.controls(ex_heads=ui.Slider("Heads n", 1, 64, 8),
                      ex_train=ui.Select("Training length L", TRAIN_LENGTHS, index=TRAIN_LENGTHS.index(512)),
                      ex_factor=ui.Slider("Evaluate at N = L ×", 1, 8, 4))
    rep, fig = extrap_view(v.ex_heads, v.ex_train, v.ex_factor)
    ui.plot(fig)
    st.caption(f"ALiBi has no position table to run out of and no angle to leave its range: at N = "
               f"{rep.eval_len:,} the farthest key gets −m·{rep.eval_len - 1:,}, the same formula as inside L. "
               f"What is new is only how negative the bias gets.")
    ui.check(rep.verdict)
    page.mistake("extrap.mistake")


@ui.figure
def shift_view(start, head, embedding, style):
    res = alibi.shift_comparison(start, head, embedding)
    return res, figs.shift(res, style)


@page.slide
def bias_vs_embedding():
    page.section("A bias on the scores vs an embedding added to the input", "embed")
    v = page.controls([3, 2, 3], start=ui.Slider("Phrase starts at position", 0, 2000, 100),
                      embed_head=HEAD,
                      embedding=ui.Radio("Embedding for comparison", list(alibi.EMBEDDINGS),
                                         format_func=alibi.EMBEDDINGS.get))
    res, fig = shift_view(v.start, v.embed_head, v.embedding)
    ui.plot(fig)
    for verdict in res.verdicts:
        ui.check(verdict)
    page.mistake("embed.mistake")


@ui.figure
def mask_view(where, head, style):
    res = alibi.mask_demo(where, head)
    return res, figs.masked_weights(res, style)


@page.slide
def causal_mask():
    page.section("The causal mask, and where the bias goes", "mask")
    v = page.controls([3, 2], where=ui.Radio("The bias is added", list(alibi.MASK_MODES),
                                             format_func=alibi.MASK_MODES.get),
                      mask_head=HEAD)
    res, fig = mask_view(v.where, v.mask_head)
    ui.plot(fig)
    st.caption(f"Largest change of any weight from the content-only weights: {res.shift:.3g}. "
               + {"before": "Before softmax the bias multiplies each weight by e^(b_ij), then the row renormalises.",
                  "after": "After softmax every weight moves by exactly b_ij, whatever its size: a small weight "
                           "goes negative under a steep head, and a shallow head's bias barely registers.",
                  "no_mask": "Without the mask, future keys carry bias 0, the mildest of all, so they draw weight "
                             "the query must never see."}[v.where])
    ui.check(res.verdict)
    page.mistake("mask.mistake")


linear_biases()
head_slopes()
spans()
past_training_length()
bias_vs_embedding()
causal_mask()
