"""Server time of a widget change, per page, measured on the wire.

Starts ``streamlit run app.py`` on a free port, then for every page in ``app.PAGES``
opens a fresh protocol session (see protoclient.py) and, for every widget in the
page's main area, sends a few new values and finally the default again, exactly as
the browser does (all widget states, ``fragment_id`` when the widget sits in an
``st.fragment``). Each change is timed from sending ``rerun_script`` to receiving
``script_finished``.

    .venv/bin/python benchmarks/bench_widgets.py [--pages s1,s3] [--moves 3] [--json out.json]

Columns: "new" are first visits of a value (st.cache_data misses), "all" adds the
return to the default (a cache hit), "full rerun" is one whole-script rerun with
nothing changed. Target: < 100 ms per change at default sizes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

import apptools  # noqa: E402
import protoclient  # noqa: E402

TARGET_MS = 100.0


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    v = sorted(values)
    k = (len(v) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


async def bench_page(url: str, page: apptools.PageRow, n_moves: int, fragment: bool, quickack: bool) -> dict:
    async with protoclient.Session(url, quickack=quickack) as s:
        load = await s.open(page.url_path)
        result = {"page": page.prefix, "file": page.file, "load_ms": load.seconds * 1e3,
                  "exceptions": list(load.exceptions()), "changes": [], "page_not_found": load.page_not_found}
        full = await s.rerun()
        result["full_rerun_ms"] = full.seconds * 1e3
        own = [w for w in s.widgets.values() if w.container == 0]  # the page's widgets, not the sidebar
        for w in own:
            default = protoclient.default_state(w)
            for i, st in enumerate([*protoclient.moves(w, n_moves), default]):
                if st is None:
                    continue
                run = await s.change(st, fragment=fragment)
                result["changes"].append({
                    "widget": w.key or w.label, "type": w.type, "new": i < n_moves and st is not default,
                    "fragment": bool(w.fragment_id and fragment), "ms": run.seconds * 1e3,
                    "figures_sent": len(run.figures()), "kb_sent": run.bytes() / 1024,
                    "exceptions": run.exceptions(), "errors": len(run.errors())})
                result["exceptions"] += [f"after {w.key or w.label} → {_show(st)}: {e}" for e in run.exceptions()]
        return result


def _show(state) -> str:
    kind = state.WhichOneof("value")
    v = getattr(state, kind)
    return repr(list(v.data) if hasattr(v, "data") else v)


def summarise(r: dict) -> dict:
    ms_all = [c["ms"] for c in r["changes"]]
    ms_new = [c["ms"] for c in r["changes"] if c["new"]]
    slow = max(r["changes"], key=lambda c: c["ms"], default=None)
    return {
        "page": r["page"], "widgets": len({c["widget"] for c in r["changes"]}), "changes": len(ms_all),
        "fragment": sum(c["fragment"] for c in r["changes"]),
        "new_median": statistics.median(ms_new) if ms_new else float("nan"), "new_p95": pct(ms_new, 0.95),
        "all_median": statistics.median(ms_all) if ms_all else float("nan"), "all_p95": pct(ms_all, 0.95),
        "over": sum(m > TARGET_MS for m in ms_all),
        "slowest": f"{slow['widget']} {slow['ms']:.0f}" if slow else "",
        "full": r["full_rerun_ms"], "load": r["load_ms"], "exceptions": len(r["exceptions"]),
    }


def table(rows: list[dict]) -> str:
    head = ("| page | widgets | changes (in fragment) | new value median / p95 ms | all changes median / p95 ms "
            "| > 100 ms | slowest change (ms) | full rerun ms | first load ms | exceptions |")
    out = [head, "|" + "---|" * 10]
    for s in rows:
        out.append(f"| {s['page']} | {s['widgets']} | {s['changes']} ({s['fragment']}) | "
                   f"{s['new_median']:.1f} / {s['new_p95']:.1f} | {s['all_median']:.1f} / {s['all_p95']:.1f} | "
                   f"{s['over']} | {s['slowest']} | {s['full']:.0f} | {s['load']:.0f} | {s['exceptions']} |")
    return "\n".join(out)


async def main_async(args) -> int:
    pages = [p for p in apptools.PAGES if p.path.exists()]
    if args.pages:
        want = set(args.pages.split(","))
        pages = [p for p in pages if p.prefix in want]
    # full error details: an exception in a page is reported with its message, not redacted
    with apptools.streamlit_server(extra_args=("--client.showErrorDetails=full",)) as server:
        warm = protoclient.Session(server.url)
        async with warm:
            await warm.open("")  # import torch, fill module caches: measure steady state, not cold start
        results = []
        for page in pages:
            t = time.perf_counter()
            r = await bench_page(server.url, page, args.moves, not args.no_fragment, not args.delayed_ack)
            results.append(r)
            print(f"# {page.prefix}: {len(r['changes'])} changes in {time.perf_counter() - t:.1f} s",
                  file=sys.stderr)
    rows = [summarise(r) for r in results]
    load = os.getloadavg()
    print(f"Widget change server time (send rerun_script → script_finished, localhost), "
          f"{os.cpu_count()} CPUs, load average {load[0]:.1f} at the end; "
          f"{'fragment reruns as the browser sends them' if not args.no_fragment else 'full reruns only'}"
          f"{'; delayed ACKs on (+~40 ms Nagle stall)' if args.delayed_ack else ''}.\n")
    print(table(rows))
    bad = [(r["page"], e) for r in results for e in r["exceptions"]]
    grouped: dict[tuple[str, str], list[str]] = {}
    for page, e in bad:
        trigger, _, message = e.partition(": ") if e.startswith("after ") else ("on load", "", e)
        grouped.setdefault((page, message), []).append(trigger)
    for (page, message), triggers in grouped.items():
        print(f"\n- exception on {page} ({len(triggers)}×, first {triggers[0]}): {message[:400]}")
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "summary": rows}, indent=1))
    return 1 if bad else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", help="comma-separated key prefixes (default: every page in app.PAGES)")
    ap.add_argument("--moves", type=int, default=3, help="new values per widget (default 3)")
    ap.add_argument("--no-fragment", action="store_true", help="send full reruns instead of fragment reruns")
    ap.add_argument("--delayed-ack", action="store_true",
                    help="leave the kernel's delayed ACKs on (adds a ~40 ms Nagle stall to every run, see README)")
    ap.add_argument("--json", help="also write raw timings here")
    return asyncio.run(main_async(ap.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
