"""Size of every plotly figure's JSON per page at default settings (target: < 300 KB each).

Opens each page of ``app.PAGES`` in a fresh protocol session on a freshly started
server and measures ``plotly_chart.spec`` (the figure JSON the browser receives)
and the whole page load on the wire.

    .venv/bin/python benchmarks/bench_payload.py [--lecture] [--pages s1,s3] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

import apptools  # noqa: E402
import protoclient  # noqa: E402

LIMIT_KB = 300.0


async def measure(url: str, pages, lecture: bool) -> list[dict]:
    rows = []
    for page in pages:
        async with protoclient.Session(url) as s:
            run = await s.open(page.url_path, query_string="lecture=true" if lecture else "")
            sizes = [len(spec.encode("utf-8")) / 1024 for spec in run.figures()]
            titles = []
            for spec in run.figures():
                fig = json.loads(spec)
                t = (fig.get("layout", {}).get("title") or {})
                titles.append((t.get("text") if isinstance(t, dict) else t) or
                              "+".join(sorted({d.get("type", "scatter") for d in fig.get("data", [])})))
            rows.append({"page": page.prefix, "sizes_kb": sizes, "titles": titles,
                         "page_kb": run.bytes() / 1024, "exceptions": run.exceptions()})
    return rows


def table(rows: list[dict]) -> str:
    out = ["| page | figures | each figure, KB | largest KB | figures total KB | whole page load KB | ≥ 300 KB |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        s = r["sizes_kb"]
        out.append(f"| {r['page']} | {len(s)} | {', '.join(f'{x:.1f}' for x in s) or '–'} | "
                   f"{max(s, default=0):.1f} | {sum(s):.1f} | {r['page_kb']:.1f} | "
                   f"{sum(x >= LIMIT_KB for x in s)} |")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", help="comma-separated key prefixes (default: every page)")
    ap.add_argument("--lecture", action="store_true", help="also measure with ?lecture=true")
    ap.add_argument("--json", help="also write the raw sizes here")
    args = ap.parse_args()
    pages = [p for p in apptools.PAGES if p.path.exists()]
    if args.pages:
        pages = [p for p in pages if p.prefix in set(args.pages.split(","))]
    out = {}
    with apptools.streamlit_server(extra_args=("--client.showErrorDetails=full",)) as server:
        for mode in (["normal", "lecture"] if args.lecture else ["normal"]):
            rows = asyncio.run(measure(server.url, pages, mode == "lecture"))
            out[mode] = rows
            print(f"\nPlotly figure JSON per page at default settings ({mode} mode; "
                  f"limit {LIMIT_KB:.0f} KB per figure).\n")
            print(table(rows))
    over = [(m, r["page"], x) for m, rows in out.items() for r in rows for x in r["sizes_kb"] if x >= LIMIT_KB]
    errs = [(m, r["page"], e) for m, rows in out.items() for r in rows for e in r["exceptions"]]
    for m, p, x in over:
        print(f"\n- {p} ({m}): a figure of {x:.0f} KB exceeds {LIMIT_KB:.0f} KB")
    for m, p, e in errs:
        print(f"\n- {p} ({m}): exception {e}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 1 if over or errs else 0


if __name__ == "__main__":
    sys.exit(main())
