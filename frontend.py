"""Serve Streamlit's frontend with plotly.js started early and each chart drawn once (``serve.py`` installs it).

Streamlit loads its plotly.js chunk (4.7 MB) only when the first chart
arrives, and evaluating it takes the browser's main thread for ~1.1 s on the
development machine: on a lecturer's first click that second comes after the
server's first run, in series. Every posviz page draws plotly charts, so the
page Streamlit serves here starts that import as soon as the websocket to the
server opens, while the server runs the page's script: the evaluation overlaps
the wait instead of following it.

Streamlit's chart also drew every new figure two or three times. It mounts
the plot before its frame has measured its width, so plotly draws it once,
hidden, at no width, and again when the width arrives. And it copies the figure
through JSON twice: once for its first state and once more right after
mounting, in an effect that re-applies the theme; the second copy is a new
object, so ``Plotly.react`` runs over the figure it has just drawn (10-15 ms of
defaults a figure, plus the copy: ~37 string passes over the whole spec). With
``theme=None``, as posviz sends every chart, neither copy changes anything: it
only swaps Streamlit's colour placeholders (``#0000nn``) for plotly's defaults.
The overlay's chart chunk (``PATCHES``) shows a blank block of the figure's
height until the width is known, and skips both copies when the spec holds no
placeholder and the theme is not Streamlit's. A Streamlit release whose chunk
does not match the patches exactly gets its own file unchanged.

Everything else is Streamlit's own files: the overlay folder links to them.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import NamedTuple

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


class Patch(NamedTuple):
    """One change to Streamlit 1.67's minified chart chunk: ``pattern`` must match exactly once.

    Names are captured, not assumed, so a rebuild of the same source still matches.
    """

    why: str
    pattern: re.Pattern
    replacement: str


PATCHES = (
    Patch("first state: the parsed spec itself, not a JSON copy of it, when the copy would change nothing",
          re.compile(r"return (?P<s>\w+)\?(?P<ve>\w+)\((?P=s)\):(?P<le>\w+)\((?P<o>\w+),(?P<e>\w+)\.theme,(?P<c>\w+)\)\}"),
          r"return \g<s>?\g<ve>(\g<s>):(\g<e>.theme!==`streamlit`&&!\g<e>.spec.includes(`#0000`)"
          r"?\g<o>:\g<le>(\g<o>,\g<e>.theme,\g<c>))}"),
    Patch("theme effect: keep the state (no second Plotly.react) unless the theme is Streamlit's",
          re.compile(r"\(\(\)=>\{(?P<f>\w+)\((?P<t>\w+)=>(?P<le>\w+)\((?P=t),(?P<e>\w+)\.theme,(?P<c>\w+)\)\)\},"
                     r"\[(?P=e)\.id,(?P=c),(?P=e)\.theme\]\)"),
          r"(()=>{\g<f>(\g<t>=>\g<e>.theme===`streamlit`?\g<le>(\g<t>,\g<e>.theme,\g<c>):\g<t>)},"
          r"[\g<e>.id,\g<c>,\g<e>.theme])"),
    Patch("no plot before its width is measured: a blank block of its height, not a hidden draw thrown away",
          re.compile(r"children:(?P<h>\w+)\((?P<plot>\w+),\{data:(?P<n>\w+)\.data,layout:(?P=n)\.layout,"),
          r"children:\g<n>.layout.width===void 0?\g<h>(`div`,{style:{height:\g<n>.layout.height??450}}):"
          r"\g<h>(\g<plot>,{data:\g<n>.data,layout:\g<n>.layout,"),
)


def patched(source: str, patches=PATCHES) -> str | None:
    """``source`` with each of ``patches`` applied; None unless each matches exactly once."""
    for patch in patches:
        source, n = patch.pattern.subn(patch.replacement, source)
        if n != 1:
            return None
    return source


def plotly_chunk(static_dir: Path) -> str | None:
    """The file name of Streamlit's plotly chart chunk (its hash changes with each release), or None."""
    found = sorted(p.name for p in (static_dir / "static" / "js").glob("PlotlyChart.*.js"))
    return found[0] if len(found) == 1 else None


def with_early_plotly(index_html: str, chunk: str) -> str:
    """``index_html`` with the early import added to its head; unchanged when it has no ``</head>``."""
    if MARK in index_html or "</head>" not in index_html:
        return index_html
    return index_html.replace("</head>", _SNIPPET.format(mark=MARK, chunk=chunk) + "  </head>", 1)


def overlay(static_dir: Path, into: Path, *, patch_chart: bool = True) -> Path | None:
    """Build in ``into`` a folder that serves ``static_dir`` with the early import; None if it cannot.

    With ``patch_chart``, the chart chunk is served with ``PATCHES`` when they all match. Every
    entry but the rewritten ones (``index.html`` and the patched chunk) is a symbolic link to
    Streamlit's own (Streamlit's static file handler follows links), so the overlay costs a few
    dozen links and never goes stale within a run.
    """
    chunk = plotly_chunk(static_dir)
    index = static_dir / "index.html"
    if chunk is None or not index.is_file():
        return None
    rewritten = {Path("index.html"): with_early_plotly(index.read_text(encoding="utf-8"), chunk)}
    chart = Path("static", "js", chunk)
    if patch_chart and (text := patched((static_dir / chart).read_text(encoding="utf-8"))) is not None:
        rewritten[chart] = text
    _mirror(static_dir, into, Path(), rewritten)
    return into


def _mirror(src: Path, dst: Path, rel: Path, rewritten: dict[Path, str]) -> None:
    """``dst`` as links to ``src``'s entries, except the ``rewritten`` files (and the folders above them)."""
    dst.mkdir(parents=True, exist_ok=True)
    for entry in src.iterdir():
        path = rel / entry.name
        if path in rewritten:
            (dst / entry.name).write_text(rewritten[path], encoding="utf-8")
        elif any(path in p.parents for p in rewritten):
            _mirror(entry, dst / entry.name, path, rewritten)
        else:
            (dst / entry.name).symlink_to(entry)


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
        patch_chart = os.environ.get("POSVIZ_FRONTEND_PATCHES", "all") != "none"  # none: the chart as shipped
        served = overlay(own, tmp / "static", patch_chart=patch_chart)
    except OSError:
        served = None
    if served is None:
        return False
    file_util.get_static_dir = lambda: os.fspath(served)
    return True
