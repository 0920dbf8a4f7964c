"""Serve Streamlit's frontend with plotly.js started early (``serve.py`` installs it).

Streamlit loads its plotly.js chunk (4.7 MB) only when the first chart
arrives, and evaluating it takes the browser's main thread for ~1.1 s on the
development machine: on a lecturer's first click that second comes after the
server's first run, in series. Every posviz page draws plotly charts, so the
page Streamlit serves here starts that import as soon as the websocket to the
server opens, while the server runs the page's script: the evaluation overlaps
the wait instead of following it. Everything else is Streamlit's own files:
the overlay folder links to them, and only ``index.html`` gains a few lines.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

MARK = "<!-- posviz: plotly.js early -->"

# The import starts once the websocket is open: before that the browser is busy booting React and
# the app's own modules; after it, it mostly waits for the server's first run.
_SNIPPET = """{mark}
    <link rel="modulepreload" crossorigin href="./static/js/{chunk}" />
    <script>
      (() => {{
        const NativeSocket = window.WebSocket
        let started = false
        const start = () => {{
          if (!started) {{ started = true; setTimeout(() => import("./static/js/{chunk}"), 0) }}
        }}
        window.WebSocket = class extends NativeSocket {{
          constructor(...args) {{ super(...args); this.addEventListener("open", start, {{ once: true }}) }}
        }}
      }})()
    </script>
"""


def plotly_chunk(static_dir: Path) -> str | None:
    """The file name of Streamlit's plotly chart chunk (its hash changes with each release), or None."""
    found = sorted(p.name for p in (static_dir / "static" / "js").glob("PlotlyChart.*.js"))
    return found[0] if len(found) == 1 else None


def with_early_plotly(index_html: str, chunk: str) -> str:
    """``index_html`` with the early import added to its head; unchanged when it has no ``</head>``."""
    if MARK in index_html or "</head>" not in index_html:
        return index_html
    return index_html.replace("</head>", _SNIPPET.format(mark=MARK, chunk=chunk) + "  </head>", 1)


def overlay(static_dir: Path, into: Path) -> Path | None:
    """Build in ``into`` a folder that serves ``static_dir`` with the early import; None if it cannot.

    Every entry but ``index.html`` is a symbolic link to Streamlit's own (Streamlit's static file
    handler follows links), so the overlay costs a few dozen links and never goes stale within a run.
    """
    chunk = plotly_chunk(static_dir)
    index = static_dir / "index.html"
    if chunk is None or not index.is_file():
        return None
    into.mkdir(parents=True, exist_ok=True)
    for entry in static_dir.iterdir():
        if entry.name != "index.html":
            (into / entry.name).symlink_to(entry)
    (into / "index.html").write_text(with_early_plotly(index.read_text(encoding="utf-8"), chunk), encoding="utf-8")
    return into


def install() -> bool:
    """Point Streamlit's static file route at an overlay in a temporary folder; True if it did.

    Call before the server starts (``serve.py``). Falls back to Streamlit's own folder silently when
    the frontend does not look as expected (another Streamlit release): the page is then as before.
    """
    from streamlit import file_util

    own = Path(file_util.get_static_dir())
    tmp = Path(tempfile.mkdtemp(prefix="posviz-static-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    try:
        served = overlay(own, tmp / "static")
    except OSError:
        served = None
    if served is None:
        return False
    file_util.get_static_dir = lambda: os.fspath(served)
    return True
