"""Start the posviz server: ``python serve.py [streamlit run options]`` (``make app`` does this).

Six things plain ``streamlit run app.py`` does not do:

- TCP_NODELAY on every connection. asyncio sets it only on sockets whose
  ``proto`` is IPPROTO_TCP, and Streamlit's listening socket is created with
  proto 0, so accepted sockets keep Nagle's algorithm: after a run's first small
  message the next waits for the browser's delayed ACK (~40 ms per change).
- Heavy imports started at once, in a thread, before the first session needs them (see ``warmup.py``).
- One torch thread per op for the whole server (``POSVIZ_TORCH_THREADS``), set
  here and not on import of posviz, which may live in someone's notebook.
- plotly.js evaluated in the browser while the server runs the first script,
  not after it, and only its trace types that posviz draws; each new chart
  drawn once instead of two or three times, the figures near the window drawn
  before those further down, on a key press only what changed rendered again,
  not the whole page, and the press sent before the next frame (see
  ``frontend.py``; ``POSVIZ_EARLY_PLOTLY=0`` turns all of it off,
  ``POSVIZ_FRONTEND_PATCHES=none`` all but the early import, and ``=chart``,
  ``=offscreen``, ``=app``, ``=send`` or ``=lean`` keeps one group; groups combine).
- The theme part of the message that starts every run (a fragment's too) built
  once, not on every widget change (see ``streamlit_speedups.py``).
- Every page opened once after the imports (``deploy/warm_pages.py``), then
  ``posviz: ready`` printed: a lecturer's first click on any page finds its
  defaults computed (``POSVIZ_WARM_PAGES=0`` leaves the server cold, as the
  tests and the class deployment, which warms its workers itself, want).
"""

from __future__ import annotations

import asyncio.base_events
import os
import socket
import sys
import time
from pathlib import Path

APP = Path(__file__).resolve().parent / "app.py"


def _set_nodelay(sock: socket.socket) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _port(argv: list[str]) -> int:
    for i, arg in enumerate(argv):
        if arg.startswith("--server.port="):
            return int(arg.split("=", 1)[1])
        if arg == "--server.port" and i + 1 < len(argv):
            return int(argv[i + 1])
    return 8501


def _wait_listening(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)


def open_every_page(url: str) -> None:
    """Open each page once, as a browser would, so its defaults are computed before the first click.

    A page's first run pays for its defaults: tenths of a second on a formula page, seconds on the
    real-model pages (SmolLM2's forward passes). Sessions that arrive meanwhile are served as usual."""
    import asyncio

    sys.path.insert(0, str(APP.parent / "deploy"))
    import warm_pages
    import warmup

    t0 = time.perf_counter()
    try:
        # marked as serve.py's own (not a visitor), and each page only once no visitor's run has just started
        pages = asyncio.run(warm_pages.warm(url, query_string=f"{warmup.WARMUP_PARAM}=1",
                                            before_each=warmup.wait_for_quiet))
    except Exception as err:  # the server still serves; only its first visitors pay for the defaults
        print(f"posviz: could not open every page at start ({type(err).__name__}: {err})", flush=True)
        return
    print(f"posviz: ready: all {len(pages)} pages opened once in {time.perf_counter() - t0:.1f} s, so the "
          f"first click on any page finds its defaults computed", flush=True)


def main(argv: list[str]) -> None:
    asyncio.base_events._set_nodelay = _set_nodelay  # looked up at call time by asyncio's transports
    import threading

    import warmup

    def warm():
        port = _port(argv)
        _wait_listening(port)  # importing while Streamlit boots would slow its start (one GIL)
        from posviz import backend

        backend.tune_threads()
        print(f"posviz: heavy imports done in {warmup.import_heavy():.1f} s", flush=True)
        if os.environ.get("POSVIZ_WARM_PAGES", "1") != "0":
            open_every_page(f"http://127.0.0.1:{port}")

    # imports run once the server listens, while the first browser fetches the JavaScript bundle;
    # app.py waits for them (or does them itself) before its first import of anything heavy
    threading.Thread(target=warm, name="posviz-warmup", daemon=True).start()
    if os.environ.get("POSVIZ_EARLY_PLOTLY", "1") != "0":  # 0: Streamlit's page as shipped, to compare
        import frontend

        frontend.install()
    import streamlit_speedups
    from streamlit.web import cli

    streamlit_speedups.memoize_theme_messages()
    sys.argv = ["streamlit", "run", str(APP), *argv]
    cli.main(prog_name="streamlit")


if __name__ == "__main__":
    main(sys.argv[1:])
