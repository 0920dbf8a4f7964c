"""Import once, before any session can race on it, everything a page run may import lazily.

Streamlit runs each session's script in its own thread. When a class opens the
link at the same moment, several threads import pandas, plotly's lazily loaded
trace classes or torch submodules at once, and one of them can see a module
half-initialised (measured: ``AttributeError: partially initialized module
'pandas' has no attribute 'Series'`` on 24 of ~800 changes with 25 sessions).
``serve.py`` starts :func:`import_heavy` in a thread as the server starts (so
the browser fetches Streamlit's JavaScript while torch loads), and ``app.py``
calls it first thing, before importing anything heavy itself: a lock makes
every session wait until the imports are complete, so none sees a
half-imported module, and plain ``streamlit run app.py`` is safe too.
"""

from __future__ import annotations

import gc
import importlib
import pkgutil
import threading
import time

_lock = threading.Lock()
_seconds: float | None = None  # how long the imports took, once they are done
_last_visitor = float("-inf")  # time.monotonic() when a browser's script run last started
WARMUP_PARAM = "posviz_warmup"  # in the query string of serve.py's own page visits: not a visitor

HEAVY = ("numpy", "torch", "pandas", "pyarrow", "plotly.graph_objects", "plotly.subplots", "plotly.io",
         "plotly.express.colors", "safetensors.torch", "gguf", "tokenizers")

# What a page run still imported lazily after the rest (tests/test_warmup_imports.py finds them): plotly's
# property classes, and pyarrow's pandas bridge (st.dataframe).
LAZY = ("pyarrow.pandas_compat", "pyarrow.vendored.version", "plotly.graph_objs._frame",
        *(f"plotly.graph_objs.{name}" for name in (
            "bar", "bar._marker", "bar._textfont", "heatmap._textfont", "layout.xaxis._tickfont",
            "layout.yaxis._tickfont", "layout.annotation", "layout.annotation._font", "layout.shape",
            "layout.shape._line", "layout.updatemenu", "layout.updatemenu._button", "scatter._line",
            "scatter._textfont", "scatter.marker._colorbar", "scatter.marker.colorbar",
            "scatter.marker.colorbar._title")))


def import_heavy() -> float:
    """Import the heavy libraries and every posviz module; build one figure of each kind.

    Idempotent and safe to call from many threads at once: the first caller does
    the work, the others wait for it. Returns the seconds the imports took.
    """
    global _seconds
    with _lock:
        if _seconds is None:
            _seconds = _import_all()
            # The ~270k objects the imports created live as long as the server: move them out of the
            # cyclic GC's reach, or each full collection walks them all (~130 ms, every session waits)
            gc.freeze()
        return _seconds


def _import_all() -> float:
    t0 = time.perf_counter()
    import posviz
    import posviz.figures

    for name in (*HEAVY, *LAZY):
        importlib.import_module(name)
    for mod in pkgutil.walk_packages(posviz.__path__, "posviz."):  # subpackages too (figures, lab, quiz)
        if not mod.name.endswith("__main__"):
            importlib.import_module(mod.name)
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from posviz.figures import style

    style.start_figures_with_posviz_template()
    # plotly resolves trace and layout classes lazily on first use; touch the ones posviz draws
    fig = make_subplots(1, 2)
    fig.add_trace(go.Heatmap(z=[[0.0, 1.0]], colorscale="Viridis", colorbar=dict(title="x")), 1, 1)
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines+markers"), 1, 2)
    fig.add_trace(go.Bar(x=[0], y=[1]), 1, 2)
    fig.add_vline(x=0.5, annotation_text="a")
    fig.add_vrect(x0=0, x1=0.2)
    fig.update_layout(template=go.layout.Template())
    fig.to_json()
    import listings  # a question's listing: Pygments' lexer and style, its rules compiled on first use

    listings.code_html("def f(x):\n    return x[..., 0] * 2  # x")
    return time.perf_counter() - t0


def note_visitor() -> None:
    """A browser's script run starts (app.py): serve.py's page warm-up holds off for a moment."""
    global _last_visitor
    _last_visitor = time.monotonic()


def wait_for_quiet(quiet_s: float = 3.0, longest_s: float = 120.0) -> None:
    """Wait until no visitor's run has started for ``quiet_s`` (at most ``longest_s`` in all).

    serve.py opens every page once after start; a student who clicks meanwhile should not share the
    one GIL with that: on 2 cores a first click during the warm-up took 1–1.7 s longer (measured)."""
    deadline = time.monotonic() + longest_s
    while (left := _last_visitor + quiet_s - time.monotonic()) > 0 and time.monotonic() < deadline:
        time.sleep(min(left, 0.5))
