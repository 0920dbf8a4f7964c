"""The floor under issue 7's browser latency: the same key press → redrawn measurement on tiny apps.

``bench_browser_latency.py`` times posviz's pages; this script times apps with nothing of posviz in
them, so the difference is what posviz adds and the rest is what Streamlit, plotly and this
machine's headless Chromium cost on their own. Each variant is a few lines (written to a temporary
folder with posviz's ``.streamlit/config.toml``) served with ``serve.py``'s TCP_NODELAY on a
fresh server; a slider inside an ``st.fragment`` is pressed ArrowRight/ArrowLeft alternately.

    .venv/bin/python benchmarks/bench_floor.py [--presses 24] [--variants text,line,heatmap]

Variants:
  text      the fragment writes one line of Markdown (no plotly): Streamlit's own floor;
  line      one plotly line of 64 points, 400 px high;
  heatmap   one 64×64 plotly heatmap with a colorbar, 400 px high;
  static    the line again with plotly's ``staticPlot`` (no hover, zoom or mode bar);
  two       two line charts in the fragment (what a press that redraws two figures costs);
  long      the line, on a page with 8 more figures and 8 paragraphs below it (a lesson's size);
  longmath  the same with a KaTeX formula per part;
  prose     the line in a fragment that also holds a title, four paragraphs with inline KaTeX, a caption
            and a verdict, as a posviz section does;
  bound     the line with its slider bound to the URL (``bind="query-params"``), as every posviz widget is;
  ladder    posviz's §3 frequency ladder figure alone in the fragment (posviz's figure, not its page).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

import apptools  # noqa: E402
import bench_cold_start  # noqa: E402
from bench_browser_latency import INSTALL, PARTS, WS_STAMPS, pct, press_and_time  # noqa: E402

APP = r'''
import numpy as np
import plotly.graph_objects as go
import streamlit as st

variant = st.query_params.get("v", "line")
REPO = st.query_params.get("repo", "")
st.title("floor: " + variant)


def line(k, name):
    x = np.arange(64)
    fig = go.Figure(go.Scatter(x=x, y=np.sin(x * (k + 1) / 20), mode="lines", name=name))
    fig.update_layout(height=400, template="plotly_white", margin=dict(l=50, r=20, t=30, b=40))
    return fig


PROSE = "\n\n".join(
    f"Paragraph {i}: the angle $\\theta_j = 10000^{{-2j/d}}$ turns pair $j$, so $q_m \\cdot k_n$ depends on "
    "$m - n$ only. " + "More words about what the figure shows and why it matters. " * 6 for i in range(4))


@st.fragment
def piece():
    if variant == "prose":  # a lesson section's title and text inside the fragment, as posviz draws them
        st.subheader("A section", divider="gray")
        st.markdown(PROSE)
    k = st.slider("k", 0, 50, 10, key="k", **({"bind": "query-params"} if variant == "bound" else {}))
    if variant == "text":
        st.markdown(f"value **{k}**, squared {k * k}")
    elif variant == "heatmap":
        i = np.arange(64)
        z = np.cos(np.outer(i, i) * (k + 1) / 400)
        fig = go.Figure(go.Heatmap(z=z, colorscale="RdBu", zmid=0))
        fig.update_layout(height=400, template="plotly_white", margin=dict(l=50, r=20, t=30, b=40))
        st.plotly_chart(fig)
    elif variant == "prose":
        st.plotly_chart(line(k, "a"))
        st.caption(f"k = {k}")
        st.success("**A verdict.** It holds.")
    elif variant == "static":
        st.plotly_chart(line(k, "a"), config={"staticPlot": True})
    elif variant == "two":
        st.plotly_chart(line(k, "a"))
        st.plotly_chart(line(k + 5, "b"))
    elif variant == "ladder":  # posviz's own figure (§3's frequency ladder), alone on the page
        import sys
        sys.path.insert(0, REPO)
        from posviz import absolute
        from posviz.figures import absolute as figs, style_for
        fig = figs.ladder(absolute.ladder(128, 10000.0, 500 + k), style_for(False))
        st.plotly_chart(fig, theme=None, config={"displaylogo": False})
    else:
        st.plotly_chart(line(k, "a"))


piece()
if variant in ("long", "longmath"):  # a lesson-sized page around the fragment: text, formulas, figures
    for i in range(8):
        st.markdown(f"## Part {i}\n" + "Some words about positions and angles. " * 30)
        if variant == "longmath":
            st.latex(r"\theta_i = 10000^{-2i/d},\quad R(m\theta)\,q \cdot R(n\theta)\,k")
        st.plotly_chart(line(i, f"fig{i}"), key=f"fig{i}")
'''

# serve.py's TCP_NODELAY and nothing else of posviz
LAUNCHER = f'''
import asyncio.base_events, sys
sys.path.insert(0, {str(HERE.parent)!r})
import serve
asyncio.base_events._set_nodelay = serve._set_nodelay
from streamlit.web import cli
sys.argv = ["streamlit", "run", "app.py", *sys.argv[1:]]
cli.main(prog_name="streamlit")
'''

TARGET = {"text": '[data-testid="stMarkdownContainer"]'}


def install(selector: str) -> str:
    """The latency benchmark's observer, on ``selector`` and on text changes too (Markdown's are)."""
    element = "(m.target.nodeType === 3 ? m.target.parentElement : m.target)"  # a text node's element
    return (INSTALL.replace("'.js-plotly-plot'", repr(selector))
            .replace("m.target.closest && m.target.closest(", element + ".closest(")
            .replace("childList: true, attributes: true", "childList: true, attributes: true, characterData: true"))


def bench_variant(ctx, url: str, variant: str, presses: int) -> list[dict]:
    pg = ctx.new_page()
    pg.goto(f"{url}/?v={variant}&repo={HERE.parent}")
    apptools.wait_idle(pg, 60_000)
    pg.wait_for_selector(".st-key-k input[type=range]", timeout=60_000)
    time.sleep(1.0)
    pg.evaluate(install(TARGET.get(variant, ".js-plotly-plot")))
    slider = pg.locator(".st-key-k input[type=range]").first
    slider.focus()
    times = [press_and_time(pg, slider, ("ArrowRight", "ArrowLeft")[i % 2]) for i in range(presses)]
    pg.close()
    return [t for t in times if t is not None]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--presses", type=int, default=24)
    ap.add_argument("--variants", default="text,line,bound,static,heatmap,two,prose,long,longmath,ladder")
    ap.add_argument("--cold", type=int, default=0, metavar="N",
                    help="also N cold starts of the line variant, as bench_cold_start.py times posviz's")
    a = ap.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "app.py").write_text(APP)
        (root / "launch.py").write_text(LAUNCHER)
        shutil.copytree(apptools.ROOT / ".streamlit", root / ".streamlit")
        with apptools.streamlit_server(launcher="launch.py", cwd=root) as server, sync_playwright() as pw:
            browser = apptools.launch_chromium(pw)
            ctx = browser.new_context(viewport={"width": 1280, "height": 720})
            ctx.add_init_script(WS_STAMPS)
            for variant in a.variants.split(","):
                parts = bench_variant(ctx, server.url, variant, a.presses)
                times = [r["total"] for r in parts]
                split = ", ".join(f"{k} {statistics.median(r[k] for r in parts):.0f}" for k in PARTS)
                print(f"{variant:8s} {len(times):3d} presses: median {statistics.median(times):.0f} ms, "
                      f"p90 {pct(times, 0.9):.0f} ms, min {min(times):.0f} ms; median parts: {split}", flush=True)
            for i in range(a.cold):
                r = bench_cold_start.one(browser, f"?v=line&repo={HERE.parent}", launcher="launch.py", cwd=root)
                print(f"cold start {i + 1}: " + ", ".join(f"{k} {v:.2f} s" for k, v in r.items()
                                                        if isinstance(v, float)), flush=True)
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
