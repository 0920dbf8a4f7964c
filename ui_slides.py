"""Lecture slides: in lecture mode each section of a lesson page is one slide that fits the screen.

A page marks each section function with ``@page.slide`` where it used to write ``@st.fragment``::

    @page.slide
    def absolute_vs_relative():
        page.section("Absolute vs relative", "absrel")
        v = page.controls(start=ui.Slider(...), len=ui.Slider(...))
        ...

* Normal mode: nothing changes. Each slide is a fragment and the page reads as a document.
* Lecture mode: every slide's controls and checks are still drawn, and a change of slide is a rerun
  on cached results; CSS shows only the current one, sized to the viewport, and only its figures
  are sent (``ui.plot``: a hidden figure is laid out at a width it never shows). The
  slide's title row holds its notes (the lesson text of that section, and its common mistake) and
  its link with a QR code; its controls and live checks sit in a side column, and its figure(s)
  stretch over the rest of the screen. A bar in the page header moves between slides (also
  PageDown/PageUp and the left/right arrow keys, which a presenter's clicker sends) and lists them.
* The slide number is the ``slide`` URL parameter (1-based). ui already keeps every widget value in
  the URL, so the address, or the QR code of it, opens exactly that slide in that state.
* Presenter notes: a slide view publishes (page, slide) under a ``room`` code (also in its URL); the
  presenter-notes page, opened from the Notes button, follows it (``room_state``).

``@page.slide(fragment=False)`` marks a section whose widgets feed later sections (a shared sentence
or settings): it is a slide, drawn in the main script run rather than as a fragment. A page that
marks no slides keeps the document layout in lecture mode.
"""

from __future__ import annotations

import contextlib
import functools
import re
import secrets
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable
from urllib.parse import urlencode, urlsplit

import streamlit as st

from posviz import backend

SLIDE_PARAM = "slide"
ROOM_PARAM = "room"
ROOM_RE = re.compile(r"[a-z0-9]{6}")
MAX_ROOMS = 512          # presenter rooms kept in server memory (least recently published dropped first)
SIDE_WIDTHS = (1, 2.5)   # side column (controls, checks) : main column (figures)
NOTES_PAGE = "presenter-notes"
QR_PX = (260, 520)       # drawn width of a slide's QR code: at least 4 px per module, within these bounds


@dataclass
class Slide:
    """One slide of a page as drawn in this run: its title and the lesson chunks of its notes."""
    title: str = ""
    lead: list[str] = field(default_factory=list)   # text met before the slide (a page intro), shown first
    own: list[str] = field(default_factory=list)    # its section text, prose and mistakes
    keys: list[str] = field(default_factory=list)   # its widgets' keys (their URL parameters)

    @property
    def notes(self) -> list[str]:
        return [*self.lead, *self.own]


@dataclass
class Frame:
    """The containers of the slide being drawn (lecture mode)."""
    index: int
    head: Any            # title row
    side: Any            # controls, in the side column
    checks: Any          # live checks, in the side column under every control
    main: Any            # figures and everything else
    notes: Any = None    # the Notes popover, once the title row is drawn

    @property
    def shown(self) -> bool:
        """Is this the slide on screen? Only its figures are sent, stretched to the screen."""
        return self.index + 1 == requested_slide()


_FRAME: ContextVar[Frame | None] = ContextVar("posviz_slide_frame", default=None)


def frame() -> Frame | None:
    """The slide being drawn in lecture mode, else None."""
    return _FRAME.get()


# Boxes a control or check may be taken out of (layout only); not expanders, popovers, tabs, forms, dialogs.
LAYOUT_BLOCKS = {None, "vertical", "horizontal", "column", "transparent"}


def to_side(f: Frame | None) -> bool:
    """True when a control or a check drawn now belongs in the slide's side column: the page writes into
    the slide's main column, or into columns it laid out there (not into an expander or a popover)."""
    if f is None:
        return False
    from streamlit.delta_generator_singletons import context_dg_stack

    stack = context_dg_stack.get()
    for i in range(len(stack) - 1, -1, -1):
        if stack[i] is f.main:
            return all(getattr(dg, "_block_type", None) in LAYOUT_BLOCKS for dg in stack[i + 1:])
    return False


def requested_slide() -> int:
    """The 1-based slide number in the URL (1 when absent or not a number; clamped later)."""
    raw = st.query_params.get(SLIDE_PARAM, "1")
    return int(raw) if raw.isdecimal() and len(raw) < 6 else 1


def room_code() -> str:
    """This slide view's presenter room: from the URL, else a new one put into the URL."""
    raw = st.query_params.get(ROOM_PARAM, "")
    if ROOM_RE.fullmatch(raw):
        return raw
    room = "".join(secrets.choice("abcdefghijkmnpqrstuvwxyz23456789") for _ in range(6))
    st.query_params[ROOM_PARAM] = room
    return room


class Deck:
    """The slides of one page in one script run."""

    def __init__(self, prefix: str, title: str, lecture_on: bool):
        self.prefix, self.title, self.on = prefix, title, lecture_on
        self.slides: list[Slide] = []
        self.loose: list[str] = []   # notes met outside any slide, handed to the next slide
        self._room = ""
        # Filled at the end of the run (finish), once every slide is known; CSS puts it in the header.
        self.bar = st.container(key="posviz-bar", horizontal=True, vertical_alignment="center") \
            if lecture_on else None

    @property
    def room(self) -> str:
        """The presenter room, read from (or put into) the URL when a slide first needs it."""
        self._room = self._room or room_code()
        return self._room

    def add(self) -> int:
        self.slides.append(Slide(lead=self.loose))
        self.loose = []
        return len(self.slides) - 1

    def current(self) -> int:
        return min(max(requested_slide(), 1), max(len(self.slides), 1))

    def placed(self, key: str) -> None:
        """Record that the slide being drawn holds the widget ``key``."""
        f = frame()
        if f is not None:
            self.slides[f.index].keys.append(key)

    def linked(self) -> int:
        """The slide a link without a slide number points at: the first one holding a widget the link sets
        (links made before pages had slides set up a section this way), else the first."""
        params = set(st.query_params)
        return next((i for i, s in enumerate(self.slides, 1) if params.intersection(s.keys)), 1)

    def note(self, chunk: str) -> None:
        """Record a lesson chunk as part of the notes of the slide being drawn (or of the next one)."""
        f = frame()
        (self.slides[f.index].own if f is not None else self.loose).append(chunk)


def decorator(page, fn: Callable | None = None, *, fragment: bool = True):
    """``page.slide``: make ``fn`` one slide of ``page`` (a fragment unless ``fragment=False``)."""
    if fn is None:
        return functools.partial(decorator, page, fragment=fragment)

    @functools.wraps(fn)
    def body(index: int, *args, **kw):
        # a real-model page's sections run at low CPU priority: seconds of model time must not stall the class
        with _frame(page.deck, index), backend.low_priority() if page.heavy else contextlib.nullcontext():
            return fn(*args, **kw)

    run = st.fragment(body) if fragment else body

    @functools.wraps(fn)
    def call(*args, **kw):
        index = page.deck.add()
        with st.container(key=f"posviz-slide-{index + 1}"):
            return run(index, *args, **kw)

    return call


@contextmanager
def _frame(deck: Deck, index: int):
    """Lay out one slide: title row, then [side column | main column]; the page writes into main."""
    deck.slides[index].own, deck.slides[index].keys = [], []
    if not deck.on:
        yield
        return
    n = index + 1
    head = st.container(key=f"posviz-head-{n}", horizontal=True, vertical_alignment="center", gap="small")
    side_col, main_col = st.columns(SIDE_WIDTHS, gap="medium")
    side = side_col.container(key=f"posviz-side-{n}")
    f = Frame(index, head, side.container(), side.container(), main_col.container(key=f"posviz-main-{n}"))
    token = _FRAME.set(f)
    try:
        with f.main:
            yield
    finally:
        _FRAME.reset(token)


# -- the slide's own title row: title, notes, link and QR code -------------------------------------

def title_row(deck: Deck, f: Frame, title: str, texts: list[str], chunk: str | None) -> None:
    """The slide's title, its Notes (``texts``: the lesson text met before it, then its own; prose and
    mistakes add more) and its Link."""
    deck.slides[f.index].title = title
    if chunk:
        deck.note(chunk)
    with f.head:
        st.subheader(title, anchor=False, width="stretch")
        f.notes = st.popover("Notes", icon=":material/description:", help="The lesson text of this slide")
        with f.notes:
            st.markdown(f"[Presenter notes ↗]({NOTES_PAGE}?{ROOM_PARAM}={deck.room}): this text on a second screen "
                        "or tab, following the slide shown here.")
            for text in texts:
                st.markdown(text)
        link = slide_link(f.index + 1)
        with st.popover("Link", icon=":material/qr_code_2:", help="This slide in this state: a QR code and "
                        "a link to open it on another screen"):
            st.image(qr_svg(link), width=qr_width(link), caption="Scan to open this slide, in this state")
            st.code(link, language=None, wrap_lines=True)


def slide_link(number: int) -> str:
    """The full link of slide ``number`` in the current state: page, every URL-bound widget value,
    lecture mode and the slide; not the presenter room."""
    parts = urlsplit(st.context.url or "")
    params = [(k, v) for k in st.query_params if k not in (ROOM_PARAM, SLIDE_PARAM, "lecture")
              for v in st.query_params.get_all(k)]
    query = urlencode([*params, ("lecture", "true"), (SLIDE_PARAM, str(number))])
    return f"{parts.scheme}://{parts.netloc}{parts.path}?{query}" if parts.netloc else f"{parts.path}?{query}"


@lru_cache(maxsize=256)
def qr_code(link: str):
    """The QR code of ``link`` (segno; error correction level M: readable with 15 % of it hidden or blurred)."""
    import segno

    return segno.make(link, error="m")


def qr_width(link: str) -> int:
    """Pixels to draw the code at: a long link (a typed sentence) makes a denser code, drawn larger."""
    modules = qr_code(link).symbol_size(scale=1, border=4)[0]
    return min(max(QR_PX[0], 4 * modules), QR_PX[1])


def qr_svg(link: str) -> str:
    """The QR code of ``link`` as SVG: black on white, with its 4-module quiet zone."""
    return qr_code(link).svg_inline(scale=8, dark="#000", light="#fff")


# -- end of the page run: the bar, which slide shows, the presenter room -----------------------------

def finish(deck: Deck | None) -> None:
    """Once the page script has run: draw the slide bar, show the current slide, publish it."""
    if deck is None or not deck.on or not deck.slides:
        return
    raw = st.query_params.get(SLIDE_PARAM)
    k, n = (deck.current() if raw is not None else deck.linked()), len(deck.slides)
    if ("1" if raw is None else raw) != str(k):  # past the end, not a number, a widget's slide: into the URL,
        go(k)                                    # and run again, so this slide's figures are the ones sized
        st.rerun()                               # to the screen
    with deck.bar:
        st.button("Previous", icon=":material/chevron_left:", key="posviz_prev", on_click=go, args=(k - 1,),
                  disabled=k == 1, shortcut="PageUp", help="Previous slide (PageUp or ←)")
        with st.popover(f"{k} / {n}", help="All slides of this page"):
            for i, s in enumerate(deck.slides, 1):
                st.button(f"{i} · {s.title or 'Untitled'}", key=f"posviz_goto_{i}", on_click=go, args=(i,),
                          type="primary" if i == k else "tertiary", width="stretch")
        st.button("Next", icon=":material/chevron_right:", key="posviz_next", on_click=go, args=(k + 1,),
                  disabled=k == n, shortcut="PageDown", help="Next slide (PageDown or →)")
        with st.container(key="posviz-arrows"):  # hidden: the arrow keys, for clickers that send them
            st.button("←", key="posviz_left", on_click=go, args=(k - 1,), disabled=k == 1, shortcut="Left")
            st.button("→", key="posviz_right", on_click=go, args=(k + 1,), disabled=k == n, shortcut="Right")
    st.html(f"<style>{SLIDE_CSS}</style>")
    publish(deck.room, deck.prefix, deck.title, k, [s.title for s in deck.slides], deck.slides[k - 1].notes)


def go(number: int) -> None:
    st.query_params[SLIDE_PARAM] = str(max(number, 1))


def show_requested() -> None:
    """Show the slide the URL asks for, drawn before the page's own elements (``ui.run_page``).

    Sent first, so that in a change of slide the new slide is already visible when its figures arrive:
    a figure mounted in a hidden slide is laid out 700 px wide and resized in place when shown, and
    plotly can keep its legend where the narrow width's extra row put it, over the plot. Only a page
    with slides is affected (the rule needs a slide in the main area); ``finish`` puts a wrong or
    missing number right and runs again."""
    st.html(f"<style>{show_only(requested_slide())}</style>")


def show_only(k: int) -> str:
    """CSS that hides everything in the main area except slide ``k`` and the bar (on a page with slides)."""
    keep = f".st-key-posviz-slide-{k}"
    return (f'[data-testid="stMain"]:has([class*="st-key-posviz-slide-"]) '
            f'[data-testid="stVerticalBlock"] > :not({keep}, :has({keep}), {keep} *, '
            f'.st-key-posviz-bar, :has(.st-key-posviz-bar), .st-key-posviz-bar *) {{ display: none !important; }}')


SLIDE_CSS = """
/* One slide fills the screen below the header (3.75rem); the page itself does not scroll. */
.stMainBlockContainer { padding: 4rem 1.2rem 0 !important; }
[data-testid="stLayoutWrapper"]:has(> [class*="st-key-posviz-slide-"]) { flex: 0 0 auto; }
[class*="st-key-posviz-slide-"] { flex: 0 0 auto !important; height: calc(100dvh - 4.5rem); flex-wrap: nowrap;
  overflow: hidden; gap: 0.3rem; }
/* Every box between the slide and its two columns passes the height down. */
[class*="st-key-posviz-slide-"] :is([data-testid="stLayoutWrapper"], [data-testid="stVerticalBlock"]):has(
  [class*="st-key-posviz-side-"], [class*="st-key-posviz-main-"]) { flex: 1 1 0 !important; min-height: 0;
  flex-wrap: nowrap; }
[class*="st-key-posviz-slide-"] [data-testid="stHorizontalBlock"]:has([class*="st-key-posviz-side-"]) { height: 100%; }
[class*="st-key-posviz-slide-"] [data-testid="stColumn"] { display: flex; flex-direction: column;
  align-self: stretch !important; min-height: 0; }
[class*="st-key-posviz-side-"], [class*="st-key-posviz-main-"] { flex: 1 1 0 !important; min-height: 0;
  flex-wrap: nowrap; }
[class*="st-key-posviz-side-"] { overflow-y: auto; overflow-x: hidden; gap: 0.35rem; padding-right: 0.3rem; }
[class*="st-key-posviz-main-"] { overflow: hidden; gap: 0.4rem; }
/* Figures share the height the text around them leaves; side by side where the page put them so. */
[class*="st-key-posviz-main-"] .stElementContainer:has(.stPlotlyChart),
[class*="st-key-posviz-main-"] [data-testid="stLayoutWrapper"]:has(.stPlotlyChart),
[class*="st-key-posviz-main-"] [data-testid="stVerticalBlock"]:has(.stPlotlyChart) { flex: 1 1 0 !important;
  min-height: 6rem; }
[class*="st-key-posviz-main-"] [data-testid="stHorizontalBlock"]:has(.stPlotlyChart) { height: 100%; }
[class*="st-key-posviz-main-"] [data-testid="stHorizontalBlock"] > [data-testid="stColumn"] { min-height: 0;
  overflow-y: auto; overflow-x: hidden; }
/* Tables give way to the figure: at most about a third of the height, scrolling inside. */
[class*="st-key-posviz-main-"] .stElementContainer:has([data-testid="stDataFrame"], [data-testid="stTable"]) {
  flex: 0 1 auto; max-height: 36%; min-height: 4rem; overflow: auto; }
/* Compact controls, captions and checks; the title row is one line. */
[class*="st-key-posviz-side-"] :is(label, p, [data-testid="stWidgetLabel"] p) { font-size: 0.8rem !important; }
[class*="st-key-posviz-side-"] [data-testid="stAlert"] p { font-size: 0.7rem !important; line-height: 1.35; }
[class*="st-key-posviz-main-"] [data-testid="stCaptionContainer"] p { font-size: 0.75rem !important; }
[class*="st-key-posviz-slide-"] [data-testid="stAlertContainer"] { padding: 0.3rem 0.5rem; }
[class*="st-key-posviz-slide-"] [data-testid="stMetricValue"] { font-size: 1.3rem; }
[class*="st-key-posviz-slide-"] [data-testid="stMetricLabel"] p { font-size: 0.75rem !important; }
[class*="st-key-posviz-head-"] h3 { padding: 0 !important; font-size: 1.5rem !important; }
[class*="st-key-posviz-head-"] button { min-height: 2.1rem; padding-top: 0.15rem; padding-bottom: 0.15rem; }
[class*="st-key-posviz-side-"] .stVerticalBlock { gap: 0.35rem; }
[class*="st-key-posviz-side-"] [role="radiogroup"] { row-gap: 0.25rem; column-gap: 1rem; min-height: 0; }
/* The slide bar: in the header, right of the page navigation. */
[data-testid="stTopNav"] { max-width: calc(100vw - 16rem); }
[data-testid="stLayoutWrapper"]:has(> .st-key-posviz-bar) { position: fixed; top: 0.75rem; right: 3.5rem;
  z-index: 999991; width: auto !important; }
.st-key-posviz-bar { gap: 0.3rem; flex-wrap: nowrap; }
.st-key-posviz-bar [data-testid="stButton"] :is(kbd, [data-testid="stMarkdownContainer"]) { display: none; }
.st-key-posviz-bar button { padding: 0.2rem 0.5rem; min-height: 2.2rem; }
.st-key-posviz-arrows { display: none !important; }
/* Phones and short windows: slides scroll like a page; figures keep a readable height. */
@media (max-width: 699px), (max-height: 479px) {
  .stMainBlockContainer { padding-top: 4.2rem !important; }
  [class*="st-key-posviz-slide-"], [class*="st-key-posviz-slide-"] :is([data-testid="stLayoutWrapper"],
    [data-testid="stVerticalBlock"]) { height: auto !important; max-height: none !important; flex: 0 0 auto !important;
    min-height: auto !important; overflow: visible !important; }
  [class*="st-key-posviz-slide-"] :is([data-testid="stColumn"], [data-testid="stHorizontalBlock"]) {
    height: auto !important; min-height: auto !important; overflow: visible !important; }
  [class*="st-key-posviz-slide-"] .stElementContainer:has(.stPlotlyChart) { flex: 0 0 auto !important; height: 24rem; }
  [data-testid="stTopNav"] { max-width: calc(100vw - 14rem); }
}
"""


# -- presenter rooms: a slide view publishes, the notes page reads ----------------------------------

class Rooms:
    """What each presenter room shows now; bounded, thread-safe (sessions run in their own threads)."""

    def __init__(self, limit: int = MAX_ROOMS):
        self.limit, self._lock, self._rooms = limit, threading.Lock(), OrderedDict()

    def publish(self, room: str, state: dict) -> None:
        with self._lock:
            self._rooms[room] = state
            self._rooms.move_to_end(room)
            while len(self._rooms) > self.limit:
                self._rooms.popitem(last=False)

    def get(self, room: str) -> dict | None:
        with self._lock:
            return self._rooms.get(room)


@st.cache_resource(show_spinner=False)
def rooms() -> Rooms:
    return Rooms()


def publish(room: str, prefix: str, page_title: str, k: int, titles: list[str], notes: list[str]) -> None:
    if ROOM_RE.fullmatch(room or ""):
        rooms().publish(room, dict(prefix=prefix, page=page_title, slide=k, titles=titles, notes=notes,
                                   time=time.time()))


def room_state(room: str) -> dict | None:
    """What the slide view of ``room`` shows now: prefix, page, slide (1-based), titles, notes (chunks)."""
    return rooms().get(room) if ROOM_RE.fullmatch(room or "") else None
