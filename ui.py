"""Streamlit glue shared by every page: URL-bound widgets, lecture mode, errors, lesson text.

posviz never imports Streamlit; this module is the only place pages get
their Streamlit conventions from, so every page behaves the same way.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import streamlit as st

from posviz.figures import style_for

LESSON_DIR = Path(__file__).parent / "assets" / "lesson"
PLOT_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}


# -- state ------------------------------------------------------------------

def lecture() -> bool:
    """True when lecture (projector) mode is on (before the toggle exists, read the URL)."""
    if "lecture" in st.session_state:
        return bool(st.session_state["lecture"])
    return st.query_params.get("lecture", "").lower() in ("true", "1")


def cached(fn):
    """Cache a pure page computation (posviz call + figure) per argument tuple.

    cache_resource hands back the same objects instead of unpickling a copy
    (~12 ms per plotly figure on every hit); nothing downstream mutates them.
    """
    return st.cache_resource(show_spinner=False, max_entries=256)(fn)


# -- widgets: every value lives in the URL, so a link reproduces the view ----

def _bound(widget, key: str, remembered, /, *args, **kw):
    """Create a widget bound to the URL and remember its default for "Reset this page"."""
    st.session_state.setdefault("_defaults", {})[key] = remembered
    return widget(*args, key=key, bind="query-params", **kw)


def slider(label: str, lo, hi, value, key: str, **kw):
    return _bound(st.slider, key, value, label, lo, hi, value, **kw)


def select(label: str, options, key: str, index: int = 0, **kw):
    return _bound(st.selectbox, key, list(options)[index], label, options, index=index, **kw)


def radio(label: str, options, key: str, index: int = 0, **kw):
    return _bound(st.radio, key, list(options)[index], label, options, index=index, horizontal=True, **kw)


def multiselect(label: str, options, key: str, default=None, **kw):
    default = list(options) if default is None else list(default)
    return _bound(st.multiselect, key, default, label, options, default=default, **kw)


def toggle(label: str, key: str, value: bool = False, **kw):
    return _bound(st.toggle, key, value, label, value=value, **kw)


def text(label: str, key: str, value: str, **kw):
    return _bound(st.text_input, key, value, label, value=value, **kw)


def number(label: str, lo, hi, value, key: str, **kw):
    return _bound(st.number_input, key, value, label, lo, hi, value, **kw)


def reset_page(prefix: str) -> None:
    """Put every widget of one page (keys ``prefix_*``) back to its default; the URL follows."""
    for key, default in st.session_state.get("_defaults", {}).items():
        if key.startswith(prefix + "_"):
            st.session_state[key] = default


# -- output -----------------------------------------------------------------

def plot(fig, key: str | None = None) -> None:
    st.plotly_chart(fig, theme=None, config=PLOT_CONFIG, key=key)


@contextmanager
def guard(hint: str = ""):
    """Show a posviz ValueError as a message that says what to change, never a traceback."""
    try:
        yield
    except ValueError as err:
        st.error(f"**Cannot show this: {err}.** {hint}".rstrip(), icon=":material/block:")


def check(ok: bool, claim: str, detail: str) -> None:
    """A live, computed verdict on a claim (green when it holds)."""
    (st.success if ok else st.warning)(f"**{claim}**: {detail}",
                                       icon=":material/check_circle:" if ok else ":material/error:")


@lru_cache(maxsize=None)
def lesson(page: str) -> dict[str, str]:
    """The chunks of ``assets/lesson/<page>.md``, split at ``<!-- chunk -->`` markers (read once per process)."""
    raw = (LESSON_DIR / f"{page}.md").read_text(encoding="utf-8")
    parts = re.split(r"^<!--\s*([\w.-]+)\s*-->\s*$", raw, flags=re.M)
    return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts), 2)}


def prose(page: str, chunk: str) -> None:
    """Lesson text for one subsection. In lecture mode it folds away so the live piece fills the screen."""
    body = lesson(page)[chunk]
    if lecture():
        with st.expander("Notes for this part"):
            st.markdown(body)
    else:
        st.markdown(body)


def mistake(page: str, chunk: str) -> None:
    """A common mistake, pointed out where it arises."""
    st.warning(lesson(page)[chunk], icon=":material/warning:")


def section(title: str, page: str, chunk: str) -> None:
    st.subheader(title, divider="gray")
    prose(page, chunk)


def style_for_flag(lecture_on: bool):
    """Style for a cached function that received the lecture flag as an argument."""
    return style_for(lecture_on)
