"""What a lecturer waits for: PageDown → the next slide's figures drawn, in headless Chromium at 1280×720.

For each page with slides (one warm server, a fresh tab per page), the deck is walked from slide 1 with
PageDown. A keydown listener stamps ``performance.now()``; a MutationObserver stamps the last change
inside a figure on screen, and the first frame after it (``requestAnimationFrame``, then a task), as
``bench_browser_latency.py`` does for sliders. The time of one change of slide is key → that frame,
read once the page has been quiet for 1.5 s. A slide without a figure is left out.

    .venv/bin/python benchmarks/bench_slide_change.py [--pages s5,s6b] [--json out.json]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

import apptools  # noqa: E402
from bench_browser_latency import summarize  # noqa: E402

INSTALL = """
() => {
  window.__sc = {press: null, painted: null, muts: 0};
  document.addEventListener('keydown', () => { window.__sc = {press: performance.now(), painted: null, muts: 0}; }, true);
  new MutationObserver((muts) => {
    const s = window.__sc;
    const onScreen = m => { const p = m.target.closest && m.target.closest('.js-plotly-plot');
                            return p && p.getBoundingClientRect().height > 0; };
    if (s.press === null || !muts.some(onScreen)) return;
    const token = ++s.muts;
    requestAnimationFrame(() => setTimeout(() => { if (s.muts === token) s.painted = performance.now(); }, 0));
  }).observe(document.body, {subtree: true, childList: true, attributes: true});
}
"""

SLIDES = """() => { const b = document.querySelector('.st-key-posviz-bar [data-testid="stPopover"]');
  const m = b && b.innerText.match(/\\/\\s*(\\d+)/); return m ? +m[1] : 0; }"""


def bench_page(ctx, url: str, page: apptools.PageRow) -> dict:
    pg = ctx.new_page()
    pg.goto(f"{url}/{page.url_path}?lecture=true&slide=1", timeout=120_000)
    apptools.wait_idle(pg, 120_000)
    time.sleep(2.0)
    pg.evaluate(INSTALL)
    times = []
    for k in range(2, pg.evaluate(SLIDES) + 1):
        pg.keyboard.press("PageDown")
        deadline = time.monotonic() + 20
        while f"slide={k}" not in pg.url and time.monotonic() < deadline:
            time.sleep(0.05)
        apptools.wait_idle(pg, 60_000)
        time.sleep(1.5)
        s = pg.evaluate("() => window.__sc")
        if s["painted"] is not None:
            times.append(s["painted"] - s["press"])
    pg.close()
    return {"page": page.prefix, "changes": len(times), "median_ms": statistics.median(times) if times else float("nan"),
            "max_ms": max(times, default=float("nan")), "times_ms": times}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", help="comma-separated prefixes (default: every page with slides)")
    ap.add_argument("--launcher", default="serve", choices=["serve", "streamlit"])
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    from playwright.sync_api import sync_playwright

    pages = [p for p in apptools.PAGES if p.path.exists() and "@page.slide" in p.path.read_text(encoding="utf-8")
             and (not a.pages or p.prefix in a.pages.split(","))]
    rows = []
    with apptools.streamlit_server(launcher=a.launcher, timeout=120) as server, sync_playwright() as pw:
        browser = apptools.launch_chromium(pw)
        ctx = browser.new_context(viewport={"width": 1280, "height": 720})
        for page in pages:
            r = bench_page(ctx, server.url, page)
            rows.append(r)
            print(f"{page.prefix:5s} {r['changes']:3d} changes of slide: median {r['median_ms']:.0f} ms, "
                  f"max {r['max_ms']:.0f} ms", flush=True)
        browser.close()
    summarize(rows, "changes of slide", a.launcher, a.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
