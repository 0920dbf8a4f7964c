"""Cold start: ``streamlit run`` launched → first plotly figure drawn in headless Chromium.

Each repetition starts a fresh server (Chromium is launched beforehand and not
counted) and opens a page with figures by its address as the very first request,
as a student clicking a shared link would. Reported per repetition:

* health   – process start → ``/_stcore/health`` answers
* ready    – (``--ready``) process start → ``serve.py`` prints ``posviz: ready`` (every page opened once)
* click    – the first navigation → the first figure drawn (with ``--ready``: the lecturer's first click)
* figure   – process start → the first figure has drawn a trace (heatmap image or line)
* idle     – process start → the script run has finished (every figure of the page sent)
* warm     – the same page in a new browser context on the now-warm server: navigation → first figure

With ``--returning`` the browser is one that has opened posviz before (a lecturer
rehearsing the day before): one persistent profile, the same port every time, so
Streamlit's JavaScript comes from the browser's cache (it is served
``immutable``). Without it every repetition is a fresh profile (a student's first visit).
Without ``--ready`` the first request comes as soon as the health check answers and the
server opens no page itself (``POSVIZ_WARM_PAGES=0``): the worst case.

    .venv/bin/python benchmarks/bench_cold_start.py [--page s3] [--repeat 3] [--ready] [--returning]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

import apptools  # noqa: E402

READY = "posviz: ready"
FIRST_FIGURE = ",".join(f".js-plotly-plot {s.strip()}" for s in apptools.PLOT_DRAWN.split(","))


def one(browser, path: str, returning=None, port: int | None = None, ready: bool = False,
        **server_args) -> dict:
    """One fresh server (``server_args``: more ``apptools.streamlit_server`` arguments), ``path`` opened first.

    ``ready``: the server opens every page itself (``make app``'s default) and the browser comes once
    it says ready, as a lecturer who starts the server before class does; ``click`` is then the first
    navigation → first figure."""
    if ready:
        server_args["env"] = {**server_args.get("env", {}), "POSVIZ_WARM_PAGES": "1"}
    with apptools.streamlit_server(port=port, **server_args) as server:
        t0 = server.started
        out = {"health": server.healthy - t0}
        if ready:
            out["ready"] = server.wait_for_log(READY)
        ctx = returning or browser.new_context(viewport={"width": 1280, "height": 1000})
        tab = ctx.new_page()
        t_click = time.perf_counter()
        tab.goto(f"{server.url}/{path}", wait_until="commit")
        tab.wait_for_selector(FIRST_FIGURE, timeout=180_000, state="attached")
        out["figure"] = time.perf_counter() - t0
        out["click"] = time.perf_counter() - t_click
        apptools.wait_idle(tab, 180_000)
        out["idle"] = time.perf_counter() - t0
        out["page_not_found_dialog"] = tab.locator('[role="dialog"]').count() > 0
        tab.close() if returning else ctx.close()
        ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
        tab = ctx.new_page()
        t1 = time.perf_counter()
        tab.goto(f"{server.url}/{path}", wait_until="commit")
        tab.wait_for_selector(FIRST_FIGURE, timeout=180_000, state="attached")
        out["warm"] = time.perf_counter() - t1
        ctx.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--page", help="key prefix of the page to open (default: the first page with figures)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--returning", action="store_true",
                    help="a browser that has visited before: persistent profile, same port, cached JavaScript")
    ap.add_argument("--ready", action="store_true",
                    help="the server opens every page itself first (make app); the browser comes when it is ready")
    args = ap.parse_args()
    if not Path(apptools.CHROMIUM).exists():
        print(f"{apptools.CHROMIUM} is missing: apt-get install chromium", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    candidates = [p for p in apptools.PAGES if p.path.exists() and apptools.page_has_figures(p)]
    page = next((p for p in candidates if p.prefix == args.page), None) if args.page else candidates[0]
    if page is None:
        print(f"no page with prefix {args.page!r} and figures", file=sys.stderr)
        return 2
    runs = []
    with sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
        browser = apptools.launch_chromium(pw)
        returning, port = None, None
        if args.returning:
            port = apptools.free_port()
            returning = pw.chromium.launch_persistent_context(
                profile, executable_path=apptools.CHROMIUM, headless=True, args=apptools.CHROMIUM_ARGS,
                viewport={"width": 1280, "height": 1000})
            one(browser, page.url_path, returning, port, ready=args.ready)  # the visit before: fills the cache
        for i in range(args.repeat):
            r = one(browser, page.url_path, returning, port, ready=args.ready)
            runs.append(r)
            print(f"# run {i + 1}: " + ", ".join(f"{k} {v:.2f} s" if isinstance(v, float) else f"{k} {v}"
                                                  for k, v in r.items()), file=sys.stderr)
        if returning:
            returning.close()
        browser.close()
    load = os.getloadavg()[0]
    who = "a returning browser (JavaScript cached)" if args.returning else "a fresh browser profile each time"
    print(f"Cold start of /{page.url_path} ({page.file}), {args.repeat} fresh servers, {who}, "
          f"{os.cpu_count()} CPUs, load average {load:.1f} at the end.\n")
    print("| measure | median s | min s | max s |")
    print("|---|---|---|---|")
    names = {"health": "server start → /_stcore/health",
             **({"ready": "server start → 'posviz: ready' (every page opened once)"} if args.ready else {}),
             "click": "first navigation → first figure drawn", "figure": "server start → first figure drawn",
             "idle": "server start → script run finished", "warm": "warm server: navigation → first figure"}
    for k, name in names.items():
        v = [r[k] for r in runs]
        print(f"| {name} | {statistics.median(v):.2f} | {min(v):.2f} | {max(v):.2f} |")
    if any(r["page_not_found_dialog"] for r in runs):
        print("\nNote: the first request showed Streamlit's 'Page not found' dialog (legacy pages/ mode).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
