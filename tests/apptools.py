"""Shared helpers for the page (AppTest), browser (Playwright) tests and the benchmarks.

Nothing here imports the app: the page list is read from ``app.py`` with ``ast``
(importing it would execute Streamlit calls), so every page registered in
``app.PAGES`` is covered automatically, including pages added later.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


# -- the page list -------------------------------------------------------------

@dataclass(frozen=True)
class PageRow:
    file: str        # "lessons/s1_why_position.py", relative to app.py
    title: str       # navigation title
    icon: str
    url_path: str    # "why-position"
    prefix: str      # widget-key prefix, e.g. "s1"
    group: str       # navigation section

    @property
    def path(self) -> Path:
        return ROOT / self.file

    @property
    def id(self) -> str:
        return self.prefix


def load_pages(app_path: Path = APP) -> list[PageRow]:
    """``app.PAGES`` as a flat list, read statically from the router's source."""
    tree = ast.parse(app_path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "PAGES" for t in node.targets):
            pages = ast.literal_eval(node.value)
            return [PageRow(*row, group=group) for group, rows in pages.items() for row in rows]
    raise AssertionError(f"{app_path} defines no literal PAGES dict")


PAGES = load_pages()


def default_page(pages: list[PageRow] = PAGES) -> PageRow:
    return next((p for p in pages if p.prefix == "home"), pages[0])


def page_has_figures(page: PageRow) -> bool:
    """Static guess used by the browser test: does the page script draw plotly figures?"""
    src = page.path.read_text(encoding="utf-8")
    return "ui.plot(" in src or "plotly_chart" in src


# -- page-file scanning (for URL parameters that really exist) -----------------

@dataclass(frozen=True)
class WidgetCall:
    kind: str            # "slider" | "toggle" | "number" | ...
    key: str
    args: tuple          # literal positional args (label first), Ellipsis for non-literals
    kwargs: dict


HIDDEN_CONTAINERS = {"expander", "popover", "tabs", "dialog"}
# ui.py's control specs, placed by page.controls(name=ui.Slider(...)) or page.control("name", ui.Slider(...))
SPEC_KINDS = {"Slider": "slider", "Select": "select", "Radio": "radio", "Toggle": "toggle", "Text": "text",
              "Number": "number", "Multi": "multiselect"}


def _hidden_by(with_node: ast.With) -> bool:
    """``with st.expander(...)``/``st.popover``/``st.tabs``: content a browser may not show at first."""
    for item in with_node.items:
        call = item.context_expr
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) \
                and call.func.attr in HIDDEN_CONTAINERS:
            return True
    return False


def _ui_call(node, names) -> str | None:
    """``ui.<name>(...)`` for a name in ``names``: the name, else None."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "ui" and node.func.attr in names:
        return node.func.attr
    return None


def scan_widget_calls(page: PageRow) -> list[WidgetCall]:
    """Widgets with a literal key, in source order: ``page.controls(name=ui.Slider("label", lo, hi, value))``
    and ``page.control("name", ui.Slider(...))`` (key ``<prefix>_name``). ``args`` are the widget's own
    arguments, label first.

    Calls inside ``with st.expander(...)`` (and popovers, tabs, dialogs) are left out: the
    browser tests need widgets that are visible when the page opens.
    """
    tree = ast.parse(page.path.read_text(encoding="utf-8"))
    found = []

    def lit(n):
        try:
            return ast.literal_eval(n)
        except Exception:
            return Ellipsis

    def spec(call, key, where):
        kind = SPEC_KINDS[_ui_call(call, SPEC_KINDS)]
        found.append((where, WidgetCall(kind, key, tuple(lit(a) for a in call.args),
                                        {k.arg: lit(k.value) for k in call.keywords if k.arg})))

    def visit(node, hidden: bool):
        if isinstance(node, ast.With) and _hidden_by(node):
            hidden = True
        if not hidden and isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "controls":
                for kw in node.keywords:
                    if kw.arg and _ui_call(kw.value, SPEC_KINDS):
                        spec(kw.value, f"{page.prefix}_{kw.arg}", (kw.value.lineno, kw.value.col_offset))
            elif node.func.attr == "control" and len(node.args) == 2 and _ui_call(node.args[1], SPEC_KINDS):
                name = lit(node.args[0])
                if isinstance(name, str):
                    spec(node.args[1], f"{page.prefix}_{name}", (node.lineno, node.col_offset))
        for child in ast.iter_child_nodes(node):
            visit(child, hidden)

    visit(tree, False)
    return [c for _, c in sorted(found, key=lambda t: t[0])]


def find_slider_param(pages: list[PageRow] = PAGES):
    """(page, key, new_value) for an int slider declared with literal bounds, preferring non-default pages."""
    for page in pages:
        if not page.path.exists():
            continue
        for c in scan_widget_calls(page):
            if c.kind != "slider" or len(c.args) < 4:
                continue
            _, lo, hi, value = c.args[:4]
            key = c.key
            if all(isinstance(v, int) and not isinstance(v, bool) for v in (lo, hi, value)) and hi - lo >= 3 \
                    and "step" not in c.kwargs:
                new = value + max(1, (hi - lo) // 7) if value + max(1, (hi - lo) // 7) <= hi else lo + 1
                if new != value:
                    return page, key, new
    return None


def find_toggle_param(page: PageRow):
    for c in scan_widget_calls(page) if page.path.exists() else []:
        if c.kind == "toggle" and c.key != "lecture" and not c.kwargs.get("value", False):
            return c.key
    return None


# -- plotly figures ----------------------------------------------------------------

def _decode_typed(v: dict) -> np.ndarray:
    arr = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
    shape = v.get("shape")
    if shape:
        if isinstance(shape, str):
            shape = [int(s) for s in shape.replace(" ", "").split(",") if s]
        arr = arr.reshape(shape)
    return arr


def decode_plotly(obj: Any) -> Any:
    """Figure JSON with plotly>=6 typed arrays ({dtype, bdata, shape}) turned into nested lists."""
    if isinstance(obj, dict):
        if "bdata" in obj and "dtype" in obj:
            return _decode_typed(obj).tolist()
        return {k: decode_plotly(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decode_plotly(v) for v in obj]
    return obj


def figure_specs(at) -> list[str]:
    """Raw JSON specs of every plotly chart in an AppTest tree (main area and sidebar)."""
    return [el.proto.spec for el in at.get("plotly_chart")]


def figures(at) -> list[dict]:
    return [decode_plotly(json.loads(s)) for s in figure_specs(at)]


def _prune(obj: Any) -> Any:
    if isinstance(obj, dict):
        out = {k: _prune(v) for k, v in obj.items()}
        return {k: v for k, v in out.items() if v is not None and v != {}}
    if isinstance(obj, list):
        return [_prune(v) for v in obj]
    return obj


def signature(fig: dict) -> str:
    """A canonical string for comparing two decoded figures.

    Empty dicts are dropped: a figure fresh from a builder and the same figure
    returned by ``st.cache_data`` (a pickle round trip) differ only by ``"title": {}``.
    """
    return json.dumps(_prune(fig), sort_keys=True, default=str)


def trace_has_data(trace: dict) -> bool:
    for k in ("x", "y", "z", "r", "theta", "values", "source", "text", "lat", "lon", "a", "b", "dimensions"):
        v = trace.get(k)
        if v is not None and not (isinstance(v, (list, str)) and len(v) == 0):
            return True
    return False


# -- a Streamlit server as a subprocess ------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    port: int
    proc: subprocess.Popen
    log_path: Path
    started: float      # time.perf_counter() at Popen
    healthy: float      # time.perf_counter() when /_stcore/health answered

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def wait_for_log(self, text: str, timeout: float = 180.0) -> float:
        """Seconds from process start until ``text`` shows in the server's output (e.g. ``posviz: ready``)."""
        deadline = time.perf_counter() + timeout
        while text not in self.log():
            if time.perf_counter() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"no {text!r} line from the server:\n{self.log()[-2000:]}")
            time.sleep(0.1)
        return time.perf_counter() - self.started


@contextlib.contextmanager
def streamlit_server(timeout: float = 60.0, extra_args: tuple[str, ...] = (), log_dir: Path | None = None,
                     env: dict | None = None, launcher: str = "serve", port: int | None = None,
                     cwd: Path = ROOT) -> Iterator[Server]:
    """Start the app on a free loopback port with this interpreter; stop it afterwards.

    ``launcher="serve"`` starts it the way ``make app`` and the class deployment do (``serve.py``:
    TCP_NODELAY, imports before the first session); ``"streamlit"`` is plain ``streamlit run app.py``.
    Any other ``launcher`` is a Python script to run in ``cwd`` (a benchmark's tiny app). The server
    starts cold (``POSVIZ_WARM_PAGES=0``: no page opened before the test's own) unless ``env`` says 1.
    """
    port = port or free_port()
    log_dir = Path(log_dir or os.environ.get("TMPDIR", "/tmp"))
    log_path = log_dir / f"posviz-streamlit-{port}.log"
    start = {"serve": [sys.executable, "serve.py"],
             "streamlit": [sys.executable, "-m", "streamlit", "run", "app.py"]}.get(launcher) or [sys.executable, launcher]
    cmd = [*start, "--server.headless=true", "--server.address=127.0.0.1", f"--server.port={port}",
           "--browser.gatherUsageStats=false", *extra_args]
    with open(log_path, "wb") as log:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, "POSVIZ_WARM_PAGES": "0", **(env or {})})
    server = Server(f"http://127.0.0.1:{port}", port, proc, log_path, started, 0.0)
    try:
        deadline = started + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{server.log()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.perf_counter() > deadline:
                raise TimeoutError(f"streamlit not healthy after {timeout:.0f} s:\n{server.log()[-3000:]}")
            time.sleep(0.05)
        server.healthy = time.perf_counter()
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        with contextlib.suppress(OSError):
            log_path.unlink()


# -- Playwright helpers ------------------------------------------------------------

APP_IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
PLOT_DRAWN = (".heatmaplayer image, .imagelayer image, path.js-line, .scatterlayer path.point, "
              ".barlayer path, .contourlayer path, .pielayer path, .scatterlayer .js-fill")


def wait_idle(page, timeout_ms: float = 60_000) -> None:
    """Wait until the script run the page is showing has finished."""
    page.wait_for_selector(APP_IDLE, timeout=timeout_ms)


# Every chart Streamlit has placed, drawn or not: plotly marks its own div (``.js-plotly-plot``) only once it
# starts drawing, and serve.py's frontend draws a chart far below the window when the page is idle. A chart in
# a tab not shown has no width and is drawn when its tab is opened.
CHARTS = '[data-testid="stPlotlyChart"]'
SHOWN_CHARTS = f"[...document.querySelectorAll('{CHARTS}')].filter(c => c.getBoundingClientRect().width > 0)"
ALL_CHARTS_DRAWN = f"""() => {{ const charts = {SHOWN_CHARTS};
  return !!document.querySelector('{APP_IDLE}') && charts.length > 0 && charts.every(c => {{
    const gd = c.querySelector('.js-plotly-plot'); return gd && gd._fullLayout && gd.querySelector('.main-svg'); }}); }}"""


def wait_all_charts_drawn(page, timeout_ms: float = 30_000) -> None:
    """Wait until the page's run has finished and plotly has drawn every chart it shows (at least one)."""
    page.wait_for_function(ALL_CHARTS_DRAWN, timeout=timeout_ms)


def launch_chromium(pw):
    return pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


# -- computed verdicts (ui.check) ---------------------------------------------------

CHECK_ICONS = {":material/check_circle:": True, ":material/error:": False}  # ui.CHECK_ICONS, inverted


def verdicts(at) -> list[tuple[bool, str]]:
    """Every ``ui.check`` box in page order, as (green?, claim): success/warning alerts with a check icon.

    Mistake boxes (warning icon) and guard errors (block icon) are not verdicts and are left out.
    """
    out = []
    for node in at.main:
        icon = getattr(getattr(node, "proto", None), "icon", None)
        if getattr(node, "type", None) in ("success", "warning") and icon in CHECK_ICONS:
            body = node.value
            claim = body.split("**")[1] if body.startswith("**") else body
            out.append((CHECK_ICONS[icon], claim))
    return out


def open_app_page(prefix: str, *, query: dict | None = None, state: dict | None = None, lecture: bool = False,
                  timeout: float = 60):
    """An AppTest of the router with the page of ``prefix`` open; fails on any exception.

    ``state`` presets widget values by key (as a moved widget would); ``query`` sets URL parameters.
    """
    from streamlit.testing.v1 import AppTest

    page = next(p for p in PAGES if p.prefix == prefix)
    at = AppTest.from_file(str(APP), default_timeout=timeout)
    if lecture:
        at.session_state["lecture"] = True
    if query:
        at.query_params.update(query)
    for key, value in (state or {}).items():
        at.session_state[key] = value
    at.run()
    if page != default_page():
        at.switch_page(page.file).run()
    assert not at.exception, "\n".join(e.message for e in at.exception)
    return at


def assert_verdicts(at, expected: list[tuple[bool, str]]) -> None:
    """The page shows exactly these verdicts, in order: (green?, a phrase from its claim)."""
    got = verdicts(at)
    assert len(got) == len(expected), f"expected {len(expected)} verdicts, the page shows {len(got)}: {got}"
    for (ok, claim), (want_ok, phrase) in zip(got, expected):
        assert phrase in claim, f"verdict {claim!r} does not say {phrase!r}"
        assert ok == want_ok, f"verdict {claim!r} is {'green' if ok else 'red'}, expected " \
                              f"{'green' if want_ok else 'red'}"


# -- labels that run into each other inside a plotly figure (lecture slides) ----------------------

# Shared by the two label checks below: the figures on screen, and the tick labels of every axis
# (plotly names their groups xtick, x2tick, y3tick…).
_PLOTS_ON_SCREEN = """[...document.querySelectorAll('.js-plotly-plot')].filter(p => {
    const r = p.getBoundingClientRect(); return r.width > 0 && r.height > 0 && r.bottom > 0 && r.top < innerHeight; })"""
_TICK_LABELS = "'.xaxislayer-above text, .yaxislayer-above text'"

# Boxes of a figure's texts as the browser laid them out: legend entries, axis titles, panel titles
# and other annotations, tick labels, and each panel's plot area. A pair counts when the boxes share
# more than 25 px² and the pair is one a reader would see as a collision: two titles, a legend over
# a label, a label over another panel's plot. Tick labels touching a title above a reversed heatmap
# (a "0" under the panel title) are not counted.
LABEL_OVERLAPS_JS = """() => {
  const out = [];
  const plots = PLOTS_ON_SCREEN;
  plots.forEach((p, fi) => {
    const items = [];
    const add = (el, kind, owner) => { const r = el.getBoundingClientRect();
      if (r.width > 0 && r.height > 0) items.push({kind, owner, r, text: (el.textContent || '').trim().slice(0, 28)}); };
    p.querySelectorAll('.legend .traces').forEach(e => add(e, 'legend', 'legend'));
    p.querySelectorAll('.infolayer g[class^="g-"][class$="title"]').forEach(e => {
      const c = e.getAttribute('class'); if (c !== 'g-gtitle') add(e, 'axis title', c.slice(2, -5)); });
    p.querySelectorAll('.annotation').forEach(e => add(e, 'annotation', 'note'));
    p.querySelectorAll(TICK_LABELS).forEach(e => {
      const sp = e.closest('.subplot'); add(e, 'tick', sp ? sp.getAttribute('class').replace('subplot ', '') : '?'); });
    p.querySelectorAll('.cartesianlayer .subplot').forEach(sp => {
      const plot = sp.querySelector('.overplot > g'); if (plot) add(plot, 'plot', sp.getAttribute('class').replace('subplot ', '')); });
    const axesOf = s => s === 'xy' ? ['x', 'y'] : (s.match(/[xy]\\d*/g) || []);
    for (let i = 0; i < items.length; i++) for (let j = i + 1; j < items.length; j++) {
      const a = items[i], b = items[j], kinds = [a.kind, b.kind].sort().join('+');
      if (kinds === 'plot+plot' || kinds === 'tick+tick' || kinds === 'annotation+tick' || kinds === 'annotation+plot') continue;
      if (kinds.includes('plot')) {
        const pl = a.kind === 'plot' ? a : b, o = a.kind === 'plot' ? b : a;
        if (o.kind === 'tick' && o.owner === pl.owner) continue;
        if (o.kind === 'axis title' && axesOf(pl.owner).includes(o.owner)) continue;
      }
      const w = Math.min(a.r.right, b.r.right) - Math.max(a.r.left, b.r.left);
      const h = Math.min(a.r.bottom, b.r.bottom) - Math.max(a.r.top, b.r.top);
      if (w > 1 && h > 1 && w * h > 25)
        out.push(`figure ${fi + 1}: ${a.kind} "${a.text}" over ${b.kind} "${b.text}" (${Math.round(w)}×${Math.round(h)} px)`);
    }
  });
  return out;
}""".replace("PLOTS_ON_SCREEN", _PLOTS_ON_SCREEN).replace("TICK_LABELS", _TICK_LABELS)


# Labels plotly drew past the edge of their figure: the figure's box clips them (a y title longer than a
# short plot is cut at both ends, a colorbar title at the right). Plotly's own margins make room for
# what they know of; these are what they could not fit. Each: "figure i: <kind> "<text>" cut by N px".
LABELS_CLIPPED_JS = """() => {
  const out = [];
  const plots = PLOTS_ON_SCREEN;
  plots.forEach((p, fi) => {
    const box = p.querySelector('.main-svg').getBoundingClientRect();
    const check = (el, kind) => { const r = el.getBoundingClientRect();
      if (!(r.width > 0 && r.height > 0)) return;
      const cut = Math.max(box.left - r.left, r.right - box.right, box.top - r.top, r.bottom - box.bottom);
      if (cut > 3) out.push(`figure ${fi + 1}: ${kind} "${(el.textContent || '').trim().slice(0, 28)}" cut by ${Math.round(cut)} px`); };
    p.querySelectorAll('.infolayer g[class^="g-"][class$="title"]').forEach(e => check(e, 'title'));
    p.querySelectorAll('.colorbar .cbtitle, .colorbar .cbaxis text').forEach(e => check(e, 'colorbar label'));
    p.querySelectorAll('.legend .traces').forEach(e => check(e, 'legend entry'));
    p.querySelectorAll(TICK_LABELS).forEach(e => check(e, 'tick label'));
    p.querySelectorAll('.annotation').forEach(e => check(e, 'annotation'));
  });
  return out;
}""".replace("PLOTS_ON_SCREEN", _PLOTS_ON_SCREEN).replace("TICK_LABELS", _TICK_LABELS)
