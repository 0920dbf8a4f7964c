"""Extrapolation lab: tiny transformers trained per position scheme, measured past their training length."""

import uuid
from pathlib import Path

import streamlit as st

import ui
from posviz.figures import lab as figs
from posviz.lab import live, model, report, runner

SHIPPED = sorted(Path(__file__).resolve().parent.parent.joinpath("assets", "lab").glob("*.json"))
page = ui.Page("lab", "Extrapolation lab")
page.prose("intro")


@ui.cached
def shipped(path: str):
    results = runner.load(path)
    return results, runner.summarize(results), report.claims(results), report.source_table(results)


def own_rows(run_ids=None) -> list:
    ids = st.session_state.get("lab_own", []) if run_ids is None else run_ids
    return [row for res in live.RUNS.finished(ids) for row in runner.summarize(res)]


if not SHIPPED:
    st.error("No results are shipped under assets/lab/: run `python -m posviz.lab run --out "
             "assets/lab/sweep.json` first.", icon=":material/block:")
    st.stop()
choice = page.control("file", ui.Select("Results file", [p.name for p in SHIPPED],
                                        help="Sweeps shipped with the app, made by the command shown below."))
path = str(SHIPPED[[p.name for p in SHIPPED].index(choice)])
results, rows, claims, table = shipped(path)
L = results["spec"]["model"]["train_len"]
labels = {r.variant: runner.variant_label(r.variant) for r in rows + own_rows()}
as_trained = [r.variant for r in rows if not r.variant.startswith("rope+")]


@ui.figure
def length_view(path, variants, own_ids, style):
    _, all_rows, _, _ = shipped(path)
    picked = [r for r in all_rows if r.variant in variants]
    own = [r for r in own_rows(own_ids) if r.variant in variants or r.variant == r.scheme]
    return picked, figs.perplexity_by_length(picked, labels, L, style, extra=own)


@page.slide
def by_length():
    page.section("Perplexity past the training length", "length")
    v = page.control("variants", ui.Multi("Schemes and RoPE extensions", labels, default=as_trained + [
        x for x in ("rope+yarn", "rope+linear ft×4") if x in labels], format_func=labels.get))
    own = tuple(st.session_state.get("lab_own", []))
    picked, fig = length_view(path, tuple(v), own)
    ui.plot(fig)
    st.caption(f"Lines: the mean over {len(results['spec']['seeds'])} seeds; bands: lowest to highest "
               f"seed. Learned absolute stops at L = {L}: its table has no row for position {L}.")
    for c in claims:
        ui.check(c.verdict)
    page.mistake("length.mistake")


@ui.figure
def position_view(path, variants, style):
    _, all_rows, _, _ = shipped(path)
    picked = [r for r in all_rows if r.variant in variants]
    return picked, figs.loss_by_position(picked, labels, L, 8 * L, style)


@page.slide
def by_position():
    page.section("Where it breaks: loss by position", "position")
    v = page.control("pos_variants", ui.Multi("Show", [r.variant for r in rows if r.per_position],
                                              default=[x for x in ("sinusoidal", "rope", "rope+yarn", "alibi")
                                                       if x in labels], format_func=labels.get))
    picked, fig = position_view(path, tuple(v))
    ui.plot(fig)
    st.caption(f"Each point averages the loss of 8-byte bins over every {8 * L}-byte validation window. Left of "
               f"{L} every model is inside what it was trained on; right of it, each scheme meets positions, "
               "angles or distances it never saw.")


@ui.figure
def curves_view(path, style):
    res, _, _, _ = shipped(path)
    return None, figs.training_curves(runner.mean_curves(res), labels, style)


@page.slide
def training():
    page.section("Training curves", "curves")
    _, fig = curves_view(path)
    ui.plot(fig)


@page.slide(fragment=False)
def measured_table():
    page.section("The table, measured", "table")
    st.dataframe(table, hide_index=True, width="stretch")
    env, corpus = results["environment"], results["corpus"]
    st.caption(f"Command: `{results['command']}` · {env['device']} ({env['device_name']}), {env['cpu_count']} "
               f"CPUs, torch {env['torch']}, Python {env['python']} · corpus {corpus['source']}, "
               f"{corpus['train_docs']} training and {corpus['val_docs']} validation files, digest "
               f"`{corpus['digest']}` · whole sweep {results['wall_s'] / 60:.1f} min.")
    page.mistake("table.mistake")


@st.fragment(run_every=1.0)
def live_progress(run):
    status = run.status()
    if status.state == "running":
        st.progress(min(status.step / max(status.total, 1), 1.0),
                    text=f"{status.stage}: step {status.step} of {status.total}"
                         + (f", loss {status.loss:.3f}" if status.loss is not None else "")
                         + f" · {status.elapsed_s:.0f} s")
        st.button("Cancel", on_click=run.cancel, icon=":material/stop_circle:", key="lab_cancel")
        return
    if status.state == "done" and run.run_id not in st.session_state.get("lab_own", []):
        live.RUNS.keep(run)
        st.session_state.setdefault("lab_own", []).append(run.run_id)
        st.session_state["lab_live_done"] = f"Finished in {status.elapsed_s:.0f} s: added to the charts above."
    elif status.state == "failed":
        st.session_state["lab_live_done"] = f"The run failed: {status.error}"
    elif status.state == "cancelled":
        st.session_state["lab_live_done"] = "Cancelled: nothing was added."
    st.session_state.pop("lab_run", None)
    st.rerun(scope="app")


def start(schemes, steps, train_len, seed):
    st.session_state.setdefault("lab_owner", uuid.uuid4().hex)
    try:
        run = live.RUNS.start(st.session_state["lab_owner"], live.LiveRun(schemes, steps, train_len, seed))
        st.session_state["lab_run"] = run
    except ValueError as err:
        st.session_state["lab_live_done"] = f"Cannot start: {err}."


@page.slide(fragment=False)
def your_run():
    page.section("Run your own", "live")
    v = page.controls([3, 2, 2, 1], live_schemes=ui.Multi("Schemes (one or two)", model.SCHEMES,
                                                           default=["rope", "alibi"],
                                                           format_func=model.SCHEME_LABELS.get),
                      live_steps=ui.Slider("Training steps", *live.LIVE_LIMITS["steps"], 300, step=50),
                      live_len=ui.Select("Train length L", [16, 32, 64, 128], index=2),
                      live_seed=ui.Number("Seed", 0, 999, 0))
    names = " and ".join(model.SCHEME_LABELS[x] for x in v.live_schemes) or "nothing yet (pick a scheme)"
    fits = 1 <= len(v.live_schemes) <= live.LIVE_LIMITS["schemes"]
    if len(v.live_schemes) > live.LIVE_LIMITS["schemes"]:
        st.warning(f"A live run trains at most {live.LIVE_LIMITS['schemes']} schemes: remove "
                   f"{len(v.live_schemes) - live.LIVE_LIMITS['schemes']}. The full sweep runs on the command line.",
                   icon=":material/block:")
    st.caption(f"Trains {names} at L = {v.live_len} for {v.live_steps} steps with seed {v.live_seed}, then scores "
               f"windows of {v.live_len}–{8 * v.live_len} bytes: about {v.live_steps * len(v.live_schemes) // 25 + 8}"
               " s on this server's CPU. It runs in its own low-priority process (one per browser session), so "
               "the page stays responsive; your results join the first chart as dashed lines, for this session.")
    run = st.session_state.get("lab_run")
    if run is None:
        st.button("Train and evaluate", icon=":material/play_arrow:", type="primary", disabled=not fits,
                  on_click=start, args=(tuple(v.live_schemes), v.live_steps, v.live_len, v.live_seed))
    if "lab_live_done" in st.session_state:
        st.info(st.session_state["lab_live_done"], icon=":material/info:")
    if run is not None:
        live_progress(run)


by_length()
by_position()
training()
measured_table()
your_run()
