"""Start the posviz server: ``python serve.py [streamlit run options]`` (``make app`` does this).

Five things plain ``streamlit run app.py`` does not do:

- TCP_NODELAY on every connection. asyncio sets it only on sockets whose
  ``proto`` is IPPROTO_TCP, and Streamlit's listening socket is created with
  proto 0, so accepted sockets keep Nagle's algorithm: after a run's first small
  message the next waits for the browser's delayed ACK (~40 ms per change).
- Heavy imports started at once, in a thread, before the first session needs them (see ``warmup.py``).
- One torch thread per op for the whole server (``POSVIZ_TORCH_THREADS``), set
  here and not on import of posviz, which may live in someone's notebook.
- plotly.js evaluated in the browser while the server runs the first script,
  not after it (see ``frontend.py``; ``POSVIZ_EARLY_PLOTLY=0`` turns it off).
- The theme part of the message that starts every run (a fragment's too) built
  once, not on every widget change (see ``streamlit_speedups.py``).
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


def main(argv: list[str]) -> None:
    asyncio.base_events._set_nodelay = _set_nodelay  # looked up at call time by asyncio's transports
    import threading

    import warmup

    def warm():
        _wait_listening(_port(argv))  # importing while Streamlit boots would slow its start (one GIL)
        from posviz import backend

        backend.tune_threads()
        print(f"posviz: heavy imports done in {warmup.import_heavy():.1f} s", flush=True)

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
