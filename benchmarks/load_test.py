"""A class at once: many protocol sessions open pages together, then each moves a widget about once a second.

Each session behaves like a browser tab (see protoclient.py): it opens a page
(round-robin over the lesson pages, all sessions at the same moment), then
repeatedly picks one of that page's widgets, sends a new value with every other
widget's state, and waits for ``script_finished``; think time keeps each session
near ``--rate`` changes per second. Every exception element the server sends is
counted and kept. Only loopback servers are used: a fresh one started here, or
``--url`` pointing at one the caller started (e.g. the class deployment's proxy).

    .venv/bin/python benchmarks/load_test.py --sessions 25 --seconds 40 [--launcher serve|streamlit]
    .venv/bin/python benchmarks/load_test.py --workers 2 --sessions 10,25,50   # the class deployment
    .venv/bin/python benchmarks/load_test.py --url http://127.0.0.1:8080 --sessions 50

Prints a summary line per run and, with ``--json``, writes the numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

import apptools  # noqa: E402
import protoclient  # noqa: E402

MAX_SESSIONS = 200  # bounded loops: a load test must stop by itself


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


async def one_session(url: str, page: apptools.PageRow, seconds: float, rate: float, seed: int,
                      results: dict, start_gate: asyncio.Event) -> None:
    rng = random.Random(seed)
    await start_gate.wait()
    try:
        async with protoclient.Session(url, quickack=False) as s:
            t0 = time.perf_counter()
            run = await s.open(page.url_path)
            results["opens"].append(run.seconds)
            results["opened_at"].append(time.perf_counter())
            results["exceptions"] += [f"{page.prefix} open: {e}" for e in run.exceptions()]
            own = [w for w in s.widgets.values() if w.container == 0]
            if not own:  # a reading page (errata, notes): the student only reads
                results["still"].append(page.prefix)
            deadline = t0 + seconds
            n = 0
            # every student moves something at least once, however long the page took to open (on a busy
            # machine a first open can outlast the whole window)
            while own and (n == 0 or time.perf_counter() < deadline) and n < int(seconds * rate * 3) + 1:
                w = rng.choice(own)
                options = protoclient.moves(w, 3)
                if not options:
                    own.remove(w)
                    continue
                sent = time.perf_counter()
                run = await s.change(rng.choice(options))
                n += 1
                results["changes"].append((sent, run.seconds, page.prefix))
                results["bytes"] += run.bytes()
                results["exceptions"] += [f"{page.prefix} {w.key}: {e}" for e in run.exceptions()]
                think = max(0.0, rng.uniform(0.5, 1.5) / rate - run.seconds)
                await asyncio.sleep(min(think, max(0.0, deadline - time.perf_counter())))
            if n:
                results["moved"].append(page.prefix)
    except Exception as err:  # a dropped connection is a failure the user would see
        results["failures"].append(f"{page.prefix}: {type(err).__name__}: {err}")


async def load(url: str, sessions: int, seconds: float, rate: float, pages: list[apptools.PageRow],
               pids: list[int], seed: int = 0) -> dict:
    if not 1 <= sessions <= MAX_SESSIONS:
        raise ValueError(f"sessions must be between 1 and {MAX_SESSIONS}, got {sessions}")
    host = urlparse(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"load tests only talk to loopback servers, got {host}")
    results = {"opens": [], "opened_at": [], "changes": [], "exceptions": [], "failures": [], "bytes": 0,
               "moved": [], "still": []}
    peak = [rss_mb(pids)]
    stop = threading.Event()

    def sample():
        while not stop.wait(0.25):
            peak[0] = max(peak[0], rss_mb(pids))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    gate = asyncio.Event()
    tasks = [asyncio.create_task(one_session(url, pages[i % len(pages)], seconds, rate, seed + i, results, gate))
             for i in range(sessions)]
    t0 = time.perf_counter()
    gate.set()  # everyone opens the link at the same moment
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=seconds + 300)
    stop.set()
    ch = [1e3 * d for _, d, _ in results["changes"]]  # (sent at, seconds, page) per change
    op = [1e3 * c for c in results["opens"]]
    all_open = max(results["opened_at"], default=t0)  # after this, no page load competes with the changes
    steady = [1e3 * d for sent, d, _ in results["changes"] if sent >= all_open]
    by_page = {}
    for _, d, prefix in results["changes"]:
        by_page.setdefault(prefix, []).append(1e3 * d)
    return {"sessions": sessions, "seconds": round(time.perf_counter() - t0, 1), "rate": rate,
            "changes": len(ch), "moved": sorted(results["moved"]), "still": sorted(results["still"]),
            "exceptions": results["exceptions"], "failures": results["failures"],
            "change_p50_ms": pct(ch, 0.5), "change_p95_ms": pct(ch, 0.95), "change_max_ms": max(ch, default=0),
            "all_open_s": round(all_open - t0, 1), "steady_changes": len(steady),
            "steady_p50_ms": pct(steady, 0.5), "steady_p95_ms": pct(steady, 0.95),
            "page_p95_ms": {k: round(pct(v, 0.95)) for k, v in sorted(by_page.items())},
            "open_p50_ms": pct(op, 0.5), "open_max_ms": max(op, default=0),
            "peak_rss_mb": round(peak[0], 1), "mb_sent": round(results["bytes"] / 1e6, 1)}


READING_PAGES = {"errata", "notes"}  # text and tables only: nothing to move


def not_going(r: dict) -> list[str]:
    """Why the sessions did not all get going, or nothing: every session moved a widget at least once,
    except on the reading pages. (On a slow machine a first open can fill most of the window, so a
    session may move only once: counting changes against sessions would fail there for no fault.)"""
    problems = [f"{p}: no widget to move" for p in r["still"] if p not in READING_PAGES]
    if len(r["moved"]) + len(r["still"]) != r["sessions"]:
        problems.append(f"{r['sessions']} sessions, but moved: {r['moved']}, reading: {r['still']}")
    return problems


def summary(r: dict) -> str:
    return (f"{r['sessions']:3d} sessions {r['seconds']:5.1f} s: {r['changes']:5d} changes, "
            f"{len(r['exceptions'])} exceptions, {len(r['failures'])} failures; change p50 "
            f"{r['change_p50_ms']:.0f} ms p95 {r['change_p95_ms']:.0f} ms max {r['change_max_ms']:.0f} ms; "
            f"open p50 {r['open_p50_ms']:.0f} ms max {r['open_max_ms']:.0f} ms; peak RSS {r['peak_rss_mb']:.0f} MB\n"
            f"    after the last page load ({r['all_open_s']:.1f} s): {r['steady_changes']} changes, p50 "
            f"{r['steady_p50_ms']:.0f} ms p95 {r['steady_p95_ms']:.0f} ms; p95 by page {r['page_p95_ms']}")


def lesson_pages(prefixes: str | None = None) -> list[apptools.PageRow]:
    pages = [p for p in apptools.PAGES if p.prefix != "home"]
    if prefixes:
        wanted = prefixes.split(",")
        pages = [p for p in pages if p.prefix in wanted]
    return pages


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", default="25", help="one count or several, e.g. 10,25,50")
    ap.add_argument("--seconds", type=float, default=40)
    ap.add_argument("--rate", type=float, default=1.0, help="changes per second per session")
    ap.add_argument("--pages", help="comma-separated prefixes (default: every lesson page)")
    ap.add_argument("--launcher", default="serve", choices=["serve", "streamlit"])
    ap.add_argument("--url", help="use a running loopback server (e.g. the class proxy) instead of a fresh one")
    ap.add_argument("--workers", type=int, default=0,
                    help="start the class deployment (deploy/class_server.py: N workers behind nginx) fresh per count")
    ap.add_argument("--pids", default="", help="with --url: server pids whose memory to sample")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    pages = lesson_pages(a.pages)
    out = []
    for n in [int(x) for x in a.sessions.split(",")]:
        if a.url:
            r = asyncio.run(load(a.url, n, a.seconds, a.rate, pages, [int(p) for p in a.pids.split(",") if p]))
        elif a.workers:
            sys.path.insert(0, str(HERE.parent / "deploy"))
            import class_server

            server = class_server.start(a.workers, apptools.free_port())
            try:
                r = asyncio.run(load(server.url, n, a.seconds, a.rate, pages, server.pids))
            finally:
                server.stop()
        else:
            with apptools.streamlit_server(launcher=a.launcher, timeout=120) as server:  # fresh per count
                r = asyncio.run(load(server.url, n, a.seconds, a.rate, pages, [server.proc.pid]))
        r["launcher"] = "url" if a.url else f"{a.workers} workers + nginx" if a.workers else a.launcher
        print(summary(r), flush=True)
        for e in (r["exceptions"] + r["failures"])[:10]:
            print("   ", e[:300])
        out.append(r)
    if a.json:
        a.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
