"""Open every page of a running posviz server once, as a browser tab would, so its caches hold the defaults.

The first visitor of a page pays for what its defaults compute; on the real-model
pages that is seconds of CPU (SmolLM2 loaded once per process, §8b's entropy pass
and cached-decoding check at their defaults: ~8 s alone, 20–35 s when a class
opens every page at once, and the other sessions on that worker wait with it).
The class deployment runs this on each worker before it reports ready, so the
class finds every page's defaults computed.

It speaks Streamlit's own protocol (``/_stcore/stream``, subprotocol
``streamlit``): a ``BackMsg.rerun_script`` naming the page, then ``ForwardMsg``s
until ``script_finished``. The page list comes from the server's navigation
message, so it is always the router's.

    python deploy/warm_pages.py http://127.0.0.1:8501
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Callable

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg


async def _open(url: str, page_name: str, timeout: float, query_string: str = "") -> tuple[str, list[str]]:
    """Run one page in a fresh session; return how the run finished and the navigation's page paths."""
    ws_url = url.replace("http://", "ws://", 1).replace("https://", "wss://", 1) + "/_stcore/stream"
    async with websockets.connect(ws_url, subprotocols=["streamlit"], max_size=None, open_timeout=timeout,
                                  ping_interval=None) as ws:
        msg = BackMsg()
        msg.rerun_script.page_name = page_name
        msg.rerun_script.query_string = query_string
        await ws.send(msg.SerializeToString())
        paths: list[str] = []
        while True:
            fm = ForwardMsg()
            fm.ParseFromString(await asyncio.wait_for(ws.recv(), timeout=timeout))
            kind = fm.WhichOneof("type")
            if kind == "navigation":
                paths = [p.url_pathname for p in fm.navigation.app_pages]
            elif kind == "script_finished":
                return ForwardMsg.ScriptFinishedStatus.Name(fm.script_finished), paths


async def warm(url: str, timeout: float = 300.0, query_string: str = "",
               before_each: Callable[[], None] | None = None) -> dict[str, float]:
    """Seconds each page took, in router order (the start page first, which also lists the others).

    ``before_each`` runs before each page is opened (serve.py waits there while visitors' runs go on)."""
    seconds: dict[str, float] = {}

    async def visit(path: str) -> list[str]:
        if before_each is not None:
            before_each()
        t0 = time.perf_counter()
        _, listed = await _open(url, path, timeout, query_string)
        seconds[path] = time.perf_counter() - t0
        return listed

    for path in await visit(""):
        if path and path not in seconds:
            await visit(path)
    return seconds


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8501"
    for path, s in asyncio.run(warm(url)).items():
        print(f"{s:6.2f} s  /{path}")


if __name__ == "__main__":
    main()
