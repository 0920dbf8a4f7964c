"""Streamlit glue shared by every page: the page pattern, URL-bound controls, lecture mode, errors.

posviz never imports Streamlit; this module is the only place pages get their
Streamlit conventions from, so every page behaves the same way. A section of a
lesson page reads like its outline::

    @page.slide                                   # a fragment; in lecture mode one slide (ui_slides)
    def absolute_vs_relative():
        page.section("Absolute vs relative", "absrel")
        v = page.controls(start=ui.Slider("Phrase starts at", 0, 100, 20), len=ui.Slider("Length", 2, 12, 5))
        moved, fig = moved_view(v.start, v.len)   # one posviz call and one figure builder, cached
        ui.plot(fig)
        ui.check(moved.verdict)                   # a posviz Verdict, computed on this run's numbers
        page.mistake("absrel.mistake")

where ``moved_view`` is decorated with :func:`figure`, which passes the figure
style and keys the cache on the lecture flag. In lecture mode the same calls lay
out a slide: the section title with its text under Notes, controls and checks in
a side column, the figure stretched over the rest (see ``ui_slides``).
"""

from __future__ import annotations

import functools
import math
import re
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import plotly.graph_objects as go
import streamlit as st
import ui_slides
from listings import code_html, markdown_parts
from posviz.figures import style_for
from posviz.figures.style import freeze
from posviz.lab import report as lab_report
from posviz.lab import runner as lab_runner
from posviz.verdict import Verdict

LESSON_DIR = Path(__file__).parent / "assets" / "lesson"
PLOT_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}
# The toolbar's camera button saves the figure at projector size: 1280×720 layout, PNG at 1.5× = 1920×1080
# pixels (SVG stays vector); the format is the sidebar's "Figure download" choice (URL key ``export``).
EXPORT_FORMATS = {"PNG": "png", "SVG": "svg"}  # the sidebar's choice (also the URL value) → plotly's format
EXPORT_SIZE = {"width": 1280, "height": 720, "scale": 1.5}
_PAGE: ContextVar["Page | None"] = ContextVar("posviz_page", default=None)


# -- state ------------------------------------------------------------------

def lecture() -> bool:
    """True when lecture (projector) mode is on (before the toggle exists, read the URL)."""
    if "lecture" in st.session_state:
        return bool(st.session_state["lecture"])
    return st.query_params.get("lecture", "").lower() in ("true", "1")


def cached(fn):
    """Cache a pure computation per argument tuple, handing back the same object on a hit.

    cache_resource skips the pickle copy of cache_data (~12 ms per plotly figure
    on every hit); nothing downstream mutates what it returns.
    """
    return st.cache_resource(show_spinner=False, max_entries=256)(fn)


def _figures(value) -> list[go.Figure]:
    """The figures in what a cached view returns, in order: a figure, ``(result, figure)`` or
    ``(result, (figure, figure))``."""
    if isinstance(value, go.Figure):
        return [value]
    return [f for part in value for f in _figures(part)] if type(value) is tuple else []


def _freeze_figures(value, column: float | tuple[float, ...] = 1.0) -> None:
    """Freeze every figure in what a cached view returns; ``column``: the share of the page's figure
    width each is drawn at (one for all, or one per figure in order)."""
    figs = _figures(value)
    shares = (*column, *(1.0,) * len(figs)) if isinstance(column, tuple) else (column,) * len(figs)
    for fig, share in zip(figs, shares):
        freeze(fig, share)


def figure(fn: Callable | None = None, *, column: float | tuple[float, ...] = 1.0) -> Callable:
    """Cache ``fn(*args, style)`` per argument tuple *and* lecture flag; callers omit ``style``.

    The figure style depends on lecture mode, so the flag must be part of the
    cache key; passing it here keeps every page from threading it by hand.
    ``@ui.figure(column=3 / 5)``: the page draws the figure in a column that share of its width
    (a tuple: one share per figure returned), so its margins are estimated at that width.
    """
    if fn is None:
        return lambda f: figure(f, column=column)

    @functools.wraps(fn)
    def with_flag(*args, lecture_on: bool, **kw):
        out = fn(*args, style=style_for(lecture_on), **kw)
        _freeze_figures(out, column)  # built once here, sent on every rerun: serialize them once too
        return out

    cached_fn = cached(with_flag)

    @functools.wraps(fn)
    def call(*args, **kw):
        return cached_fn(*args, lecture_on=lecture(), **kw)

    return call


# -- controls: specs laid out by Page.controls, every value bound to the URL --

@dataclass(frozen=True)
class Control:
    """What one widget is (its Streamlit function, default and arguments), not yet placed."""
    make: Callable
    default: Any
    args: tuple
    kwargs: dict = field(default_factory=dict)

    def place(self, key: str):
        """Create the widget under ``key``, bound to the URL, and remember its default for Reset."""
        st.session_state.setdefault("_defaults", {})[key] = self.default
        _drop_bad_url_value(key, self)
        self._keep_in_range(key)
        return self.make(*self.args, key=key, bind="query-params", **self.kwargs)

    def _keep_in_range(self, key: str) -> None:
        """A slider whose bounds follow another control (pair index ≤ d/2 − 1) keeps its value inside them.

        Streamlit refuses a remembered value outside new bounds with an exception; pull it to the edge.
        """
        if self.make is not st.slider or key not in st.session_state:
            return
        lo, hi, value = self.args[1], self.args[2], st.session_state[key]
        if isinstance(value, (int, float)) and not lo <= value <= hi:
            st.session_state[key] = min(max(value, lo), hi)


def Slider(label: str, lo, hi, value, **kw) -> Control:  # noqa: N802  (reads as a widget type)
    return Control(st.slider, value, (label, lo, hi, value), kw)


def Number(label: str, lo, hi, value, **kw) -> Control:  # noqa: N802
    return Control(st.number_input, value, (label, lo, hi, value), kw)


def Select(label: str, options, index: int = 0, **kw) -> Control:  # noqa: N802
    options = list(options)
    return Control(st.selectbox, options[index], (label, options), {"index": index, **kw})


def Radio(label: str, options, index: int = 0, **kw) -> Control:  # noqa: N802
    options = list(options)
    return Control(st.radio, options[index], (label, options), {"index": index, "horizontal": True, **kw})


def Multi(label: str, options, default=None, **kw) -> Control:  # noqa: N802
    options = list(options)
    default = options if default is None else list(default)
    return Control(st.multiselect, default, (label, options), {"default": default, **kw})


def Toggle(label: str, value: bool = False, **kw) -> Control:  # noqa: N802
    return Control(st.toggle, value, (label,), {"value": value, **kw})


def Text(label: str, value: str, **kw) -> Control:  # noqa: N802
    return Control(st.text_input, value, (label,), {"value": value, **kw})


def _drop_bad_url_value(key: str, control: Control) -> None:
    """A whole-number widget seeded from the URL with inf/nan stops Streamlit itself (``int(inf)``
    raises OverflowError, which its URL seeding does not catch), and a reload keeps failing.

    Before the widget first reads the URL, drop such a value from both the live and the
    initial query parameters (Streamlit 1.67 keeps the initial ones apart for seeding), so
    the widget starts at its default, and say so beside it. Decimal
    inputs need nothing: Streamlit already resets them to the default.
    """
    if control.make is not st.number_input or not isinstance(control.default, int) or key in st.session_state:
        return
    raw = st.query_params.get(key)
    if raw is None:
        return
    try:
        ok = math.isfinite(float(raw))
    except ValueError:
        ok = True  # unparsable text: Streamlit itself ignores it
    if ok:
        return
    from streamlit.runtime.state import get_session_state  # the query-params object behind st.query_params

    with get_session_state().query_params() as qp:
        qp._initial_query_params.pop(key, None)
        qp.remove_param(key)
    st.info(f"The link set `{key}` to {literal(raw[:40])}, which is not a finite number: "
            f"it starts at its default instead.", icon=":material/link_off:")


class Page:
    """One lesson page: its widget-key prefix, its lesson text and the layout of its sections."""

    def __init__(self, prefix: str, title: str, *, heavy: bool = False):
        self.prefix = prefix
        self.heavy = heavy  # runs a real model: its sections compute at low CPU priority (backend.low_priority)
        self.deck = ui_slides.Deck(prefix, title, lecture())  # the page's slides (lecture mode)
        _PAGE.set(self)
        st.title(title)

    def slide(self, fn: Callable | None = None, *, fragment: bool = True):
        """Decorator for one section: a fragment in normal mode, one slide in lecture mode (see ui_slides).

        ``@page.slide(fragment=False)`` for a section whose widgets feed the sections after it.
        """
        return ui_slides.decorator(self, fn, fragment=fragment)

    def controls(self, widths=None, **specs: Control) -> SimpleNamespace:
        """Lay out one row of controls; each is bound to the URL as ``<prefix>_<name>``.

        Returns their values by name (``v.seed``), in the order given. On a slide they stack in its side column.
        """
        f = ui_slides.frame()
        for name in specs:
            self.deck.placed(f"{self.prefix}_{name}")
        if ui_slides.to_side(f):
            with f.side:
                return SimpleNamespace(**{name: spec.place(f"{self.prefix}_{name}") for name, spec in specs.items()})
        cols = st.columns(widths or len(specs))
        values = {}
        for col, (name, spec) in zip(cols, specs.items()):
            with col:
                values[name] = spec.place(f"{self.prefix}_{name}")
        return SimpleNamespace(**values)

    def control(self, name: str, spec: Control):
        """One control on its own line (or inside a container the caller opened); on a slide, in its side column."""
        f = ui_slides.frame()
        self.deck.placed(f"{self.prefix}_{name}")
        if ui_slides.to_side(f):
            with f.side:
                return spec.place(f"{self.prefix}_{name}")
        return spec.place(f"{self.prefix}_{name}")

    def prose(self, chunk: str) -> None:
        """Lesson text for one part. In lecture mode it folds away so the live piece fills the screen."""
        body = lesson(self.prefix)[chunk]
        self.deck.note(chunk)
        f = ui_slides.frame()
        if f is not None and f.notes is not None:  # on a slide: into its Notes
            with f.notes:
                st.markdown(body)
        elif lecture():
            with st.expander("Notes for this part"):
                st.markdown(body)
        else:
            st.markdown(body)

    def section(self, title: str, chunk: str | None = None) -> None:
        """A section's title and its lesson text (none when ``chunk`` is None); on a slide, its title row."""
        f = ui_slides.frame()
        if f is not None:  # a slide's title row: title, Notes, Link
            text = lesson(self.prefix)
            texts = [text.get(lead, "") for lead in self.deck.slides[f.index].lead] + ([text[chunk]] if chunk else [])
            return ui_slides.title_row(self.deck, f, title, [t for t in texts if t], chunk)
        st.subheader(title, divider="gray")
        if chunk is not None:
            self.prose(chunk)

    def mistake(self, chunk: str) -> None:
        """A common mistake, pointed out where it arises (on a slide: in its Notes)."""
        f = ui_slides.frame()
        if f is not None and f.notes is not None:
            self.deck.note(chunk)
            with f.notes:
                return st.warning(lesson(self.prefix)[chunk], icon=":material/warning:")
        st.warning(lesson(self.prefix)[chunk], icon=":material/warning:")


# -- output -----------------------------------------------------------------

def plot(fig, key: str | None = None) -> None:
    """A figure; on a slide it stretches over the height the slide leaves it.

    A hidden slide's figure is not sent: the browser would lay it out at a width it is never shown at
    (700 px by default), and when the slide is shown plotly resizes it in place, which can leave a
    legend where the old width's extra row put it, over the plot (seen on §6b slide 6). Leaving it
    out also spares the browser drawing every other slide's figures; the change of slide is a rerun
    that sends the figure then."""
    f = ui_slides.frame()
    if f is not None and not f.shown:
        return
    if "to_dict" not in vars(fig):  # not from a ``ui.figure`` view: fit and settle it here (``style.freeze``)
        freeze(fig)
    fmt = EXPORT_FORMATS.get(st.session_state.get("export"), "png")
    config = {**PLOT_CONFIG, "toImageButtonOptions": {**EXPORT_SIZE, "format": fmt, "filename": "posviz-figure"}}
    st.plotly_chart(fig, theme=None, config=config, key=key, height="stretch" if f is not None else "content")


def tabs(labels: list[str]) -> list:
    """``st.tabs`` in normal mode; plain containers in lecture mode, where each tab's section is a slide of its own
    (a browser draws only the open tab, so a slide inside a closed one could not be shown)."""
    return [st.container() for _ in labels] if lecture() else st.tabs(labels)


def run_page(page) -> None:
    """Run the page chosen by ``st.navigation``, then finish its slides (bar, current slide, presenter room)."""
    token = _PAGE.set(None)
    try:
        if lecture():
            ui_slides.show_requested()
        page.run()
        current = _PAGE.get()
        ui_slides.finish(current.deck if current is not None else None)
    finally:
        _PAGE.reset(token)


@contextmanager
def guard(hint: str = ""):
    """Show a posviz ValueError as a message that says what to change, never a traceback."""
    try:
        yield
    except ValueError as err:
        st.error(f"**Cannot show this: {err}.** {hint}".rstrip(), icon=":material/block:")


CHECK_ICONS = {True: ":material/check_circle:", False: ":material/error:"}


def check(verdict: Verdict) -> None:
    """A live verdict computed by posviz: green when the claim held on this run's numbers."""
    box = st.success if verdict.ok else st.warning
    f = ui_slides.frame()
    if ui_slides.to_side(f):  # on a slide: in the side column, under the controls
        with f.checks:
            return box(f"**{verdict.claim}**: {verdict.detail}", icon=CHECK_ICONS[bool(verdict.ok)])
    box(f"**{verdict.claim}**: {verdict.detail}", icon=CHECK_ICONS[bool(verdict.ok)])


def table(data, label: str) -> None:
    """A table of numbers under a figure. On a slide it folds into an expander named ``label``: shown,
    it left §6b's angle chart ~110 px of a 720-px screen."""
    with st.expander(label, icon=":material/table:") if ui_slides.frame() is not None else nullcontext():
        st.dataframe(data, hide_index=True, width="stretch")


def literal(text: str) -> str:
    """User text as a Markdown code span: shown exactly as typed, never parsed as links or images."""
    text = str(text).replace("\n", " ")
    fence = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def markdown(text: str) -> None:
    """Markdown whose fenced code blocks are drawn by ``code_html`` (see there why)."""
    for kind, part in markdown_parts(text):
        if kind == "markdown":
            st.markdown(part)
        else:
            st.html(code_html(part, kind))


LAB_DEFAULT = Path(__file__).parent / "assets" / "lab" / "sweep_L64.json"


@lru_cache(maxsize=1)
def shipped_lab_results() -> dict | None:
    """The Extrapolation lab's default shipped sweep (None when it is missing)."""
    return lab_runner.load(LAB_DEFAULT) if LAB_DEFAULT.exists() else None


@lru_cache(maxsize=None)
def lesson(page: str) -> dict[str, str]:
    """The chunks of ``assets/lesson/<page>.md``, split at ``<!-- chunk -->`` markers (read once per process)."""
    raw = (LESSON_DIR / f"{page}.md").read_text(encoding="utf-8")
    if "{{lab:" in raw:  # measured numbers from the Extrapolation lab's shipped sweep, not typed
        raw = lab_report.fill_measurements(raw, shipped_lab_results())
    parts = re.split(r"^<!--\s*([\w.-]+)\s*-->\s*$", raw, flags=re.M)
    return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts), 2)}


def reset_page(prefix: str) -> None:
    """Put every widget of one page (keys ``prefix_*``) back to its default; the URL follows."""
    for key, default in st.session_state.get("_defaults", {}).items():
        if key.startswith(prefix + "_"):
            st.session_state[key] = default
