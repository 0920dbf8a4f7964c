"""What a learner waits for: key press on a slider → the figure redrawn, in headless Chromium.

For every lesson page (a fresh tab on one warm server, 1280×720, like a student's laptop or
the projector), each visible slider in turn gets focus, and ArrowRight/ArrowLeft are pressed
alternately (a new value, then back to a cached one). In the page, a keydown listener stamps
``performance.now()``; a MutationObserver on every ``.js-plotly-plot`` stamps the first change
after it, and the first frame after the last change (a ``requestAnimationFrame`` callback runs
before a frame's paint; a task it queues, after). The latency of one press is key → that frame:
server time, the websocket, the delta's decoding and plotly's whole redraw are inside it, as the
user sees it. (Until 2026-12-02 this reported the first change: plotly draws a figure in one long
task, so the screen showed nothing new for another 60–250 ms.)

    .venv/bin/python benchmarks/bench_browser_latency.py [--pages s1,s3] [--presses 6] [--json out.json]

Target (issue 7): median ≤ 120 ms and p90 ≤ 200 ms on every page, idle machine, default sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

import apptools  # noqa: E402

INSTALL = """
() => {
  const fresh = (press) => ({press, figure: null, painted: null, muts: 0, sent: null, first: null, last: null});
  window.__pv = fresh(null);
  document.addEventListener('keydown', () => { window.__pv = fresh(performance.now()); }, true);
  new MutationObserver((muts) => {
    const p = window.__pv;
    if (p.press === null || !muts.some(m => m.target.closest && m.target.closest('.js-plotly-plot'))) return;
    if (p.figure === null) p.figure = performance.now();
    const token = ++p.muts;
    // The frame after the last change to a figure: a rAF callback runs before that frame's paint, and a
    // task queued from it runs after. Plotly draws a figure in one long task, so the screen shows the new
    // figure only then, not at its first change.
    requestAnimationFrame(() => setTimeout(() => { if (p.muts === token) p.painted = performance.now(); }, 0));
  }).observe(document.body, {subtree: true, childList: true, attributes: true});
}
"""

# Before any page script: stamp the first websocket send after a key press (the frontend asking for a
# rerun) and the messages that come back before the figure changes. Splits a press into the frontend's
# delay, the server's run as the browser sees it, and the browser's own decoding and redraw.
WS_STAMPS = """
(() => {
  const Orig = window.WebSocket;
  const send = Orig.prototype.send;
  Orig.prototype.send = function (data) {
    const p = window.__pv;
    if (p && p.press !== null && p.sent === null) p.sent = performance.now();
    return send.call(this, data);
  };
  window.WebSocket = new Proxy(Orig, {construct(target, args) {
    const ws = new target(...args);
    ws.addEventListener('message', () => {
      const p = window.__pv;
      if (!p || p.sent === null || p.figure !== null) return;
      const t = performance.now();
      if (p.first === null) p.first = t;
      p.last = t;
    });
    return ws;
  }});
})();
"""


def pct(v: list[float], q: float) -> float:
    s = sorted(v)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))] if s else float("nan")


def press_and_time(pg, slider, key: str, timeout_s: float = 10.0) -> dict | None:
    """One press: total (key → figure) and its parts, in ms; None when no figure changed."""
    slider.press(key)
    t_end = time.perf_counter() + timeout_s
    while time.perf_counter() < t_end:
        v = pg.evaluate("() => window.__pv")
        if v["press"] is not None and v["figure"] is not None:
            apptools.wait_idle(pg, 60_000)
            time.sleep(0.3)  # let plotly finish and the frame after it be stamped
            v = pg.evaluate("() => window.__pv")
            part = (lambda a, b: v[b] - v[a] if v[a] is not None and v[b] is not None else float("nan"))
            return {"total": part("press", "painted"), "first_change": part("press", "figure"),
                    "key_to_send": part("press", "sent"), "send_to_first_msg": part("sent", "first"),
                    "msgs": part("first", "last"), "last_msg_to_figure": part("last", "figure"),
                    "drawing": part("figure", "painted")}
        time.sleep(0.005)
    apptools.wait_idle(pg, 60_000)
    return None


PARTS = ("key_to_send", "send_to_first_msg", "msgs", "last_msg_to_figure", "drawing")


def bench_page(ctx, url: str, page: apptools.PageRow, presses: int, max_sliders: int) -> dict:
    pg = ctx.new_page()
    pg.goto(f"{url}/{page.url_path}")
    apptools.wait_idle(pg, 120_000)
    apptools.wait_all_charts_drawn(pg, 60_000)  # those far below are drawn when the page is idle
    time.sleep(1.0)
    pg.evaluate(INSTALL)
    keys = [c.key for c in apptools.scan_widget_calls(page) if c.kind == "slider"][:max_sliders]
    parts, missed = [], []
    for key in keys:
        slider = pg.locator(f".st-key-{key} input[type=range]").first
        if not slider.count() or not slider.is_visible():  # e.g. inside a collapsed expander: no key reaches it
            continue
        slider.scroll_into_view_if_needed()
        slider.focus()
        at_max = slider.input_value() == slider.get_attribute("max")
        for i in range(presses):
            direction = ("ArrowLeft", "ArrowRight") if at_max else ("ArrowRight", "ArrowLeft")
            r = press_and_time(pg, slider, direction[i % 2])
            (parts.append({**r, "key": key}) if r is not None else missed.append(key))
    pg.close()
    times = [r["total"] for r in parts]
    firsts = [r["first_change"] for r in parts]
    split = {k: statistics.median(r[k] for r in parts) if parts else float("nan") for k in PARTS}
    return {"page": page.prefix, "sliders": len(keys), "presses": len(times), "no_figure_change": missed,
            "median_ms": statistics.median(times) if times else float("nan"), "p90_ms": pct(times, 0.9),
            "first_change_median_ms": statistics.median(firsts) if firsts else float("nan"),
            "max_ms": max(times, default=float("nan")), "times_ms": times, "median_parts_ms": split,
            "parts_ms": parts}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", help="comma-separated prefixes (default: every lesson page)")
    ap.add_argument("--presses", type=int, default=6, help="presses per slider")
    ap.add_argument("--sliders", type=int, default=4, help="sliders per page, in page order")
    ap.add_argument("--launcher", default="serve", choices=["serve", "streamlit"])
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    from playwright.sync_api import sync_playwright

    pages = [p for p in apptools.PAGES if apptools.page_has_figures(p)
             and (not a.pages or p.prefix in a.pages.split(","))]
    rows = []
    with apptools.streamlit_server(launcher=a.launcher, timeout=120) as server, sync_playwright() as pw:
        browser = apptools.launch_chromium(pw)
        ctx = browser.new_context(viewport={"width": 1280, "height": 720})
        ctx.add_init_script(WS_STAMPS)
        for page in pages:
            r = bench_page(ctx, server.url, page, a.presses, a.sliders)
            rows.append(r)
            print(f"{page.prefix:5s} {r['presses']:3d} presses: median {r['median_ms']:.0f} ms, p90 "
                  f"{r['p90_ms']:.0f} ms, max {r['max_ms']:.0f} ms (first change: median "
                  f"{r['first_change_median_ms']:.0f} ms)"
                  + "; median parts: " + ", ".join(f"{k} {v:.0f}" for k, v in r["median_parts_ms"].items())
                  + (f"; no figure change after {sorted(set(r['no_figure_change']))}" if r["no_figure_change"] else ""),
                  flush=True)
        browser.close()
    summarize(rows, "presses", a.launcher, a.json)
    return 0


def summarize(rows: list[dict], what: str, launcher: str, out: Path | None) -> None:
    """Print the median and p90 over every page's ``times_ms`` (and the machine's state); save the rows."""
    every = [t for r in rows for t in r["times_ms"]]
    print(f"all   {len(every):3d} {what}: median {statistics.median(every):.0f} ms, p90 {pct(every, 0.9):.0f} ms "
          f"({launcher}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})")
    if out:
        out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    sys.exit(main())
