"""Serve Streamlit's frontend with plotly.js started early and lean, each chart drawn once, only changes
rendered and a key press sent at once.

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
The overlay's chart chunk (``CHART_PATCHES``) shows a blank block of the figure's
height until the width is known, and skips both copies when the spec holds no
placeholder and the theme is not Streamlit's.

On a page's first visit, plotly drew every figure in one task: the browser showed
nothing new until the last figure, screens below the window, had been drawn (§6:
seven figures, the first on screen 0.3-2 s later than it could be). The overlay's
chart chunk (``OFFSCREEN_PATCHES``) makes a plot's first draw wait until it is
within half a window of the screen, or the page is idle (at most 1.5 s), so the
figures a reader sees are drawn first and the rest follow, one task each. Later
draws of a plot (a key press) never wait.

And on every key press the whole page was rendered again by React, three or
four times: each change of the run's state (a run starts, its messages land, it
ends; the URL's widget values change) rendered every element's and every
block's wrappers, and the sidebar's page list, ~1,900 components a time on §6,
although only the moved fragment's elements had changed. The overlay's entry
chunk (``APP_PATCHES``) memoizes the element switch, the block layouts and the
sidebar's page list, so they render again only when their props change: ~5,800
component renders a press on §6 became ~1,650. That skips nothing that changed:
Streamlit's element tree is immutable, so an element whose content or
staleness changes arrives with a new node, and its ancestors' blocks too (the
components memoized read their contexts as before). A Streamlit release whose
chunk does not match its patches exactly gets its own file unchanged (the
patched files keep their names: they behave as Streamlit's own, so a browser's
cached copy is harmless either way).

A key press reached the server 20-25 ms late. Streamlit sends a widget's change
from a ``setTimeout`` (so that changes made in one event go in one message), and
after a key press Chromium first paints the moved slider and renders the
page's reaction to it; only then did the timer run. The entry chunk's
``SEND_PATCHES`` also queue the same send in a frame callback, which runs just
before that paint, and whichever comes first sends, once: every change of the
event is still in the one message, and the server's run overlaps the browser's
paint instead of following it (key → message sent 16-24 ms → 7-9 ms). A rerun
message carries the page's address, which Streamlit took from its React state,
updated a render after the address itself, so a message sent before that render
carried the previous value of the widget just moved (a slide's Link showed it);
outside an embedding frame it is now read from the address bar, where Streamlit
writes every change at once.

And the plotly.js that Streamlit bundles registers every trace type it has, 47 modules (3D, maps
and their map library, WebGL, sankey, ...), evaluated on every first visit, while posviz draws three:
scatter, bar and heatmap. ``LEAN_PATCHES`` register only those (``PLOTLY_TRACES``; plotly's core
brings scatter), and ``posviz.figures.style.freeze`` refuses a figure of any other type, so none
is ever sent that the browser could not draw. On a warm server, navigation → §6's first figure
(four visits each, alternated): 2.56 and 2.38 s against 2.80 and 3.03 s; the import's evaluation
330-640 ms against 730-1080.

Everything else is Streamlit's own files: the overlay folder links to them.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Callable, NamedTuple

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
      // A plot's first draw waits until it is near the window or the page is idle (frontend.OFFSCREEN_PATCHES).
      // Safari has no requestIdleCallback: a short timer stands in. Any failure here draws at once.
      window.posvizWhenNear = (el) => new Promise((done) => {{
        try {{
          const r = el.getBoundingClientRect(), h = window.innerHeight
          if (document.hidden || (r.width > 0 && r.bottom > -h / 2 && r.top < 1.5 * h)) return done()
          const seen = new IntersectionObserver((es) => {{ if (es.some((e) => e.isIntersecting)) go() }},
                                                {{ rootMargin: "50% 0px" }})
          const go = () => {{ seen.disconnect(); done() }}
          seen.observe(el)
          window.requestIdleCallback ? requestIdleCallback(go, {{ timeout: 1500 }}) : setTimeout(go, 300)
        }} catch (e) {{ done() }}
      }})
    </script>
"""


class Patch(NamedTuple):
    """One change to a minified chunk of Streamlit 1.67's frontend: ``pattern`` must match exactly once.

    Names are captured, not assumed, so a rebuild of the same source still matches. ``replacement`` is a
    template for ``re.sub``, or a function of the match.
    """

    why: str
    pattern: re.Pattern
    replacement: str | Callable[[re.Match], str]


CHART_PATCHES = (
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

OFFSCREEN_PATCHES = (
    Patch("a plot's first draw waits until it is near the window or the page is idle: the visible ones paint first",
          re.compile(r"(?P<v>\w+)\.current=(?P=v)\.current\.then\(\(\)=>\{if\(!(?P<x>\w+)\.current\)\{"
                     r"if\(!(?P<el>\w+)\.current\)throw Error\(`Missing element reference`\);"
                     r"return (?P<plotly>\w+)\.react\("),
          r"\g<v>.current=\g<v>.current.then(()=>!\g<x>.current&&\g<el>.current&&!\g<el>.current._fullLayout"
          r"&&window.posvizWhenNear?.(\g<el>.current)).then(()=>{if(!\g<x>.current){"
          r"if(!\g<el>.current)throw Error(`Missing element reference`);return \g<plotly>.react("),
)

# The trace types posviz draws besides scatter, which is in plotly's core (posviz.figures.style.TRACE_TYPES:
# ``freeze`` refuses any other, and a test keeps the two lists equal).
PLOTLY_TRACES = ("bar", "heatmap")


def _lean_register(m: re.Match) -> str:
    """Plotly's ``register([...])`` of its entry module with only the modules of ``PLOTLY_TRACES``.

    Each trace module is a lazy init function named in the minified source beside its file
    (``Iu=_({"lib/bar.js"(...``); the call is left as it was unless each is found once and is in the list.
    """
    calls = m["calls"].split(",")
    keep = []
    for trace in PLOTLY_TRACES:
        names = re.findall(r'([\w$]+)=[\w$]+\(\{"lib/' + trace + r'\.js"\(', m.string)
        if len(names) != 1 or f"{names[0]}()" not in calls:
            return m[0]
        keep.append(f"{names[0]}()")
    return f"{m['head']}.register([{','.join(keep)}])"


LEAN_PATCHES = (
    Patch("plotly.js registers only the trace types posviz draws: evaluating the other 40-odd (3D, maps, WebGL, "
          "sankey, ...) held a first visit's main thread for ~0.4 s",
          re.compile(r'(?P<head>\{"lib/index\.js"\([\w$]+,[\w$]+\)\{var (?P<n>[\w$]+)=[\w$]+\(\);(?P=n))'
                     r'\.register\(\[(?P<calls>[\w$]+\(\)(?:,[\w$]+\(\)){3,})\]\)'),
          _lean_register),
)

APP_PATCHES = (
    Patch("an element is not rendered again when only the run's state changed (its props and staleness did not)",
          re.compile(r"(?P<head>\(0,(?P<r>[\w$]+)\.useContext\)\([\w$]+\),\{node:[\w$]+\}=(?P<p>[\w$]+),.{0,300}?"
                     r"children:)(?P<h>[\w$]+)\((?P<el>[\w$]+),\{\.\.\.(?P=p),isStale:(?P<o>[\w$]+)\}\)"),
          r"\g<head>\g<h>(\g<el>.posvizMemo??=(0,\g<r>.memo)(\g<el>),{...\g<p>,isStale:\g<o>})"),
    Patch("a block's layout is not rendered again when only the run's state changed (its props are the same)",
          re.compile(r"(?P<head>\(0,(?P<r>[\w$]+)\.useContext\)\([\w$]+\),[\w$]+=\(0,(?P=r)\.useContext\)\([\w$]+\),"
                     r".{0,1200}?)(?P<b>[\w$]+)=(?P<h>[\w$]+)\((?P<vb>[\w$]+),\{\.\.\.(?P<d>[\w$]+),"
                     r"disableFullscreenMode:(?P<f>[\w$]+),height:`100%`\}\);if\((?P<cond>[\w$]+\([\w$]+\.deltaBlock\))"
                     r"&&\((?P<p>[\w$]+)=(?P=h)\((?P<hb>[\w$]+),\{\.\.\.(?P=d)\}\)\)"),
          r"\g<head>\g<b>=\g<h>(\g<vb>.posvizMemo??=(0,\g<r>.memo)(\g<vb>),{...\g<d>,disableFullscreenMode:\g<f>,"
          r"height:`100%`});if(\g<cond>&&(\g<p>=\g<h>(\g<hb>.posvizMemo??=(0,\g<r>.memo)(\g<hb>),{...\g<d>}))"),
    Patch("the sidebar's page list is not rendered again while its props are the same",
          re.compile(r"(?P<head>(?P<cb>[\w$]+)=\(0,(?P<r>[\w$]+)\.useCallback\)\(\(\)=>\{[\w$]+\(![\w$]+\)\},"
                     r"\[[\w$]+,[\w$]+\]\),.{0,1500}?)(?P<h>[\w$]+)\((?P<nav>[\w$]+),\{endpoints:(?P<e>[\w$]+),"
                     r"collapseSidebar:(?P=cb),"),
          r"\g<head>\g<h>(\g<nav>.posvizMemo??=(0,\g<r>.memo)(\g<nav>),{endpoints:\g<e>,collapseSidebar:\g<cb>,"),
)


SEND_PATCHES = (
    Patch("a widget's new value is sent before the next frame is painted, not in a timer queued behind it",
          re.compile(r"this\.flushScheduled=!0,setTimeout\(\(\)=>\{(?P<body>this\.sendUpdateWidgetsMessage\("
                     r"this\.scheduledFragmentId\),[^{}]*?this\.flushScheduled=!1,[^{}]*?)\},0\)"),
          r"this.flushScheduled=!0,(()=>{let sent=!1,send=()=>{if(!sent){sent=!0;\g<body>}};setTimeout(send,0);"
          r"window.requestAnimationFrame?.(send)})()"),
    Patch("a rerun carries the address as it is now: the app's copy of it is React state, updated a render later",
          re.compile(r"getQueryString=\(\)=>\{let\{queryParams:(?P<q>[\w$]+)\}=this\.state,(?P<t>[\w$]+)="
                     r"(?P=q)&&(?P=q)\.length>0\?(?P=q):document\.location\.search;"),
          r"getQueryString=()=>{let{queryParams:\g<q>}=this.state,\g<t>=window.parent!==window&&\g<q>&&"
          r"\g<q>.length>0?\g<q>:document.location.search;"),
)


def patched(source: str, patches=CHART_PATCHES) -> str | None:
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


def app_chunk(static_dir: Path) -> str | None:
    """The file name of the app's entry chunk, read from ``index.html``'s module script, or None."""
    index = static_dir / "index.html"
    found = re.findall(r'<script type="module"[^>]*src="\./static/js/([\w.-]+\.js)"',
                       index.read_text(encoding="utf-8")) if index.is_file() else []
    return found[0] if len(found) == 1 else None


# Which chunk each group of patches rewrites. ``POSVIZ_FRONTEND_PATCHES`` picks groups to compare: "all" (the
# default), "none", or a comma-separated list such as "chart".
GROUPS = {"chart": (plotly_chunk, CHART_PATCHES), "offscreen": (plotly_chunk, OFFSCREEN_PATCHES),
          "app": (app_chunk, APP_PATCHES), "send": (app_chunk, SEND_PATCHES), "lean": (plotly_chunk, LEAN_PATCHES)}


def with_early_plotly(index_html: str, chunk: str) -> str:
    """``index_html`` with the early import added to its head; unchanged when it has no ``</head>``."""
    if MARK in index_html or "</head>" not in index_html:
        return index_html
    return index_html.replace("</head>", _SNIPPET.format(mark=MARK, chunk=chunk) + "  </head>", 1)


def overlay(static_dir: Path, into: Path, *, patch=tuple(GROUPS)) -> Path | None:
    """Build in ``into`` a folder that serves ``static_dir`` with the early import; None if it cannot.

    For each group named in ``patch`` (keys of ``GROUPS``), its chunk is served with its patches when
    they all match, as shipped otherwise. Every entry but the rewritten ones (``index.html`` and the
    patched chunks) is a symbolic link to Streamlit's own (Streamlit's static file handler follows
    links), so the overlay costs a few dozen links and never goes stale within a run.
    """
    chunk = plotly_chunk(static_dir)
    index = static_dir / "index.html"
    if chunk is None or not index.is_file():
        return None
    rewritten = {Path("index.html"): with_early_plotly(index.read_text(encoding="utf-8"), chunk)}
    for find, patches in (GROUPS[group] for group in patch):
        name = find(static_dir)
        if name is None:
            continue
        path = Path("static", "js", name)
        source = rewritten.get(path) or (static_dir / path).read_text(encoding="utf-8")  # groups may share a chunk
        if (text := patched(source, patches)) is not None:
            rewritten[path] = text
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


def patch_groups(setting: str) -> tuple[str, ...]:
    """The groups of patches a ``POSVIZ_FRONTEND_PATCHES`` value turns on; unknown names are ignored."""
    if setting.strip() == "all":
        return tuple(GROUPS)
    return tuple(g for g in GROUPS if g in {part.strip() for part in setting.split(",")})


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
        served = overlay(own, tmp / "static", patch=patch_groups(os.environ.get("POSVIZ_FRONTEND_PATCHES", "all")))
    except OSError:
        served = None
    if served is None:
        return False
    file_util.get_static_dir = lambda: os.fspath(served)
    return True
