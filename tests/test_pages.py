"""AppTest for every page in ``app.PAGES``: load, move every widget, bad input, lecture mode.

Generic over the router: pages added to ``app.PAGES`` are covered without
touching this file. One AppTest per page and test (AppTest always reruns the
whole script, so fragments are exercised as part of the full run).

Run only these:  .venv/bin/python -m pytest -m pages
"""

from __future__ import annotations

import json
import math
import re
import warnings
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit import config as st_config  # noqa: E402
from streamlit.proto.WidgetStates_pb2 import WidgetState  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402
from streamlit.testing.v1.element_tree import Widget  # noqa: E402

import apptools  # noqa: E402
from apptools import APP, PAGES, PageRow  # noqa: E402

pytestmark = pytest.mark.pages

TIMEOUT = 60
PAGE_PARAMS = [pytest.param(p, id=p.prefix) for p in PAGES]

# Bad text input. An empty text and a 5,000-character one must be refused with a clear
# st.error on every page. A 200-character sentence and unusual Unicode (an emoji, a zero-width
# space) are refused by pages made for short sentences (§1, §2) and accepted by pages made for
# real text (§6c takes up to 800 characters); either way: a clear message or a normal page,
# never an exception.
LONG = ("The quick brown fox jumps over the lazy dog near the river bank while "
        "the old man watches from a wooden bridge and counts every word that "
        "passes by him on this quiet and rather windy afternoon in late")[:200]
assert len(LONG) == 200
BAD_TEXT = {"200 characters": LONG, "unusual unicode": "🐕 bites\u200b man", "empty": "",
            "5000 characters": ("position " * 600)[:5000]}
MUST_REFUSE = {"empty", "5000 characters"}
# (widget key, case) pairs a page may legitimately accept (none so far).
MAY_ACCEPT: set[tuple[str, str]] = set()

# Text that shows a Python failure instead of a message for a person.
UNCLEAR = re.compile(r"Traceback|\b\w+(Error|Exception)\b|File \"|line \d+, in|redacted", re.I)
GUARD_PREFIX = "Cannot show this"  # how ui.guard phrases a refused input


@pytest.fixture(autouse=True, scope="module")
def _full_error_details():
    """The app's config hides exception details from users; tests want the whole traceback."""
    old = st_config.get_option("client.showErrorDetails")
    st_config.set_option("client.showErrorDetails", "full")
    yield
    st_config.set_option("client.showErrorDetails", old)


# -- helpers -----------------------------------------------------------------------

def describe_exceptions(at: AppTest) -> str:
    out = []
    for exc in at.exception:
        trace = "\n".join(getattr(exc, "stack_trace", []) or [])
        out.append(f"{exc.message}\n{trace}")
    return "\n---\n".join(out)


def assert_ok(at: AppTest, context: str) -> None:
    if at.exception:
        pytest.fail(f"exception {context}:\n{describe_exceptions(at)}", pytrace=False)


def open_page(page: PageRow, *, lecture: bool = False, query: dict | None = None) -> AppTest:
    assert page.path.exists(), f"app.PAGES lists {page.file}, which does not exist"
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    if lecture:
        at.session_state["lecture"] = True
    if query:
        at.query_params.update(query)
    at.run()
    assert_ok(at, "running app.py")
    if page != apptools.default_page():
        at.switch_page(page.file).run()
        assert_ok(at, f"opening {page.file}")
    assert at.title, f"{page.file}: no st.title rendered"
    return at


def main_widgets(at: AppTest) -> dict[str, Widget]:
    """Widgets in the main area (the sidebar belongs to the router), by key or label."""
    out: dict[str, Widget] = {}
    for node in at.main:
        if isinstance(node, Widget):
            wid = node.key or f"{node.type}:{getattr(node, 'label', '')}"
            n, base = 1, wid
            while wid in out:
                n += 1
                wid = f"{base}#{n}"
            out[wid] = node
    return out


def fig_sigs(at: AppTest) -> list[str]:
    return [apptools.signature(f) for f in apptools.figures(at)]


def visible(at: AppTest) -> list[str]:
    """What a learner sees in the main area besides the widgets themselves: figures (decoded, so that
    a cache round trip compares equal), text, metrics, boxes and tables."""
    out = []
    for node in at.main:
        if isinstance(node, Widget) or getattr(node, "proto", None) is None:
            continue
        if node.type == "plotly_chart":
            out.append(apptools.signature(apptools.decode_plotly(json.loads(node.proto.spec))))
        else:
            out.append(f"{node.type}:{node.proto.SerializeToString()!r}")
    return out


def guard_errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def _step_number(old, lo, hi, step):
    """A neighbouring valid value: one step up, or one step down at the top."""
    step = step or 1
    up = old + step
    new = up if hi is None or up <= hi + 1e-12 else old - step
    if lo is not None and new < lo:
        new = lo
    if isinstance(old, int) and float(step).is_integer():
        new = int(round(new))
    elif isinstance(new, float):
        new = round(new, 12)
    return new


def _other_text(old: str) -> str:
    """A different, still sensible text: the same items in reverse order, or another word."""
    for sep in (",", ";"):
        if sep in old:
            items = [s.strip() for s in old.split(sep) if s.strip()]
            if len(set(items)) > 1:
                return f"{sep} ".join(reversed(items))
    words = old.split()
    if len(set(words)) > 1:
        return " ".join(reversed(words))
    return "cat" if old.strip() != "cat" else "dog"


def send_labels(w: Widget, labels: list[str], single: bool = False) -> None:
    """Send option labels exactly as the browser does (AppTest's set_value would pass a label
    through the page's format_func, which breaks for e.g. ``format_func=lambda w: f"{w} softmax"``)."""
    ws = WidgetState()
    ws.id = w.id
    if single:
        ws.string_value = labels[0]
    else:
        ws.string_array_value.data[:] = labels
    w.__class__ = type(f"Sent{type(w).__name__}", (type(w),), {"_widget_state": property(lambda self: ws)})


BUTTONS = ("button", "form_submit_button")


def current_value(w: Widget):
    """The widget's value, as option labels where it has options (what a browser would send)."""
    t = w.type
    if t in ("selectbox", "radio"):
        return w.options[w.index] if w.index is not None else None
    if t == "select_slider":
        v = w.value
        return [w.format_func(x) for x in v] if isinstance(v, (list, tuple)) else w.format_func(v)
    if t == "multiselect":
        return [w.format_func(x) for x in w.value]
    if t == "button_group":
        vals = list(w.formatted_values)
        if w._is_single_select:
            return vals[0] if vals else None
        return vals
    if t == "slider" and isinstance(w.value, (list, tuple)):
        return list(w.value)
    return w.value


def propose(w: Widget):
    """A different valid value for one widget (in current_value's terms), or None if there is none."""
    t, old = w.type, current_value(w)
    if t in BUTTONS:
        return "click"
    if t in ("toggle", "checkbox"):
        return not bool(old)
    if t == "slider":
        if w.proto.data_type not in (0, 1):  # INT, FLOAT; posviz has no date/time sliders
            return None
        lo, hi, step = w.min, w.max, w.step
        if isinstance(old, list):
            a, b = old
            if b + step <= hi:
                return [a, _step_number(b, lo, hi, step)]
            if a - step >= lo:
                return [a - step, b]
            return [a, b - step] if b - step >= a else None
        new = _step_number(old, lo, hi, step)
        return None if new == old else new
    if t == "number_input":
        old = old if old is not None else (w.min or 0)
        new = _step_number(old, w.min, w.max, w.step)
        return None if new == old else new
    if t in ("selectbox", "radio"):
        if len(w.options) < 2:
            return None
        i = w.options.index(old) if old in w.options else -1
        return w.options[(i + 1) % len(w.options)]
    if t == "select_slider":
        if len(w.options) < 2:
            return None
        if isinstance(old, list):
            j = w.options.index(old[1])
            return [old[0], w.options[j + 1] if j + 1 < len(w.options) else w.options[j - 1]]
        return w.options[(w.options.index(old) + 1) % len(w.options)]
    if t == "multiselect":
        extra = [o for o in w.options if o not in old]
        return [*old, extra[0]] if extra else old[:-1]
    if t == "button_group":
        if w._is_single_select:
            return next((o for o in w.options if o != old), None)
        extra = [o for o in w.options if o not in old]
        return [*old, extra[0]] if extra else old[:-1]
    if t in ("text_input", "text_area"):
        return _other_text(old or "")
    return None


def apply(w: Widget, value) -> None:
    """Put a value (in current_value's terms) into a widget for the next run."""
    t = w.type
    if t in BUTTONS:
        w.click()
    elif t in ("selectbox", "radio"):
        send_labels(w, [value], single=True)
    elif t in ("select_slider", "multiselect", "button_group"):
        send_labels(w, value if isinstance(value, list) else ([] if value is None else [value]))
    elif t == "slider" and isinstance(value, list):
        w.set_range(*value)
    else:
        w.set_value(value)


def _same(a, b) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b or str(a) == str(b)


# -- tests -----------------------------------------------------------------------------

def test_page_registry():
    """Every page file exists; url paths and prefixes are unique; no url path equals its file stem
    (a stem-equal deep link on a fresh server is served in legacy pages/ mode)."""
    assert PAGES, "app.PAGES is empty"
    missing = [p.file for p in PAGES if not p.path.exists()]
    assert not missing, f"app.PAGES lists files that do not exist: {missing}"
    urls = [p.url_path for p in PAGES]
    assert len(set(urls)) == len(urls), f"duplicate url_path in app.PAGES: {urls}"
    prefixes = [p.prefix for p in PAGES]
    assert len(set(prefixes)) == len(prefixes), f"duplicate key prefix in app.PAGES: {prefixes}"
    clash = [p.file for p in PAGES if p.url_path == Path(p.file).stem]
    assert not clash, f"url_path equals the file stem (legacy pages/ deep-link pitfall): {clash}"


@pytest.mark.parametrize("page", PAGE_PARAMS)
def test_page_loads_and_every_widget_moves(page: PageRow):
    at = open_page(page)
    first = apptools.figures(at)
    for i, fig in enumerate(first):
        assert any(apptools.trace_has_data(t) for t in fig.get("data", [])), \
            f"{page.file}: figure #{i} has no trace with data at default settings"
    refused = [e for e in guard_errors(at) if GUARD_PREFIX in e]
    assert not refused, f"{page.file}: default settings are refused by the page: {refused}"
    start_sigs = [apptools.signature(f) for f in first]

    # Move each widget once, in page order; widgets that appear later are moved too.
    # A move the page refuses with st.error is allowed (bad-input demonstrations);
    # it is then put back so the widgets after it are tested on a working section.
    seen: set[str] = set()
    moved, inert, refused_moves, unmovable = [], [], [], []
    while True:
        todo = [(wid, w) for wid, w in main_widgets(at).items() if wid not in seen]
        if not todo:
            break
        wid, w = todo[0]
        seen.add(wid)
        if getattr(w.proto, "disabled", False):
            unmovable.append(f"{wid} (disabled)")
            continue
        old, new = current_value(w), propose(w)
        if new is None:
            unmovable.append(f"{wid} ({w.type})")
            continue
        seen_before, errors_before = visible(at), guard_errors(at)
        apply(w, new)
        at.run()
        assert_ok(at, f"on {page.file} after moving {wid} from {old!r} to {new!r}")
        now = main_widgets(at).get(wid)
        if now is not None and w.type not in BUTTONS:
            assert _same(current_value(now), new), \
                f"{page.file}: {wid} was set to {new!r} but shows {current_value(now)!r}"
        moved.append(wid)
        if len(guard_errors(at)) > len(errors_before):
            refused_moves.append(f"{wid}={new!r}: {guard_errors(at)[-1][:120]}")
            if now is not None and w.type not in BUTTONS:
                apply(now, old)
                at.run()
                assert_ok(at, f"on {page.file} after putting {wid} back to {old!r}")
        elif visible(at) == seen_before:
            inert.append(wid)

    if not start_sigs:
        assert not moved, f"{page.file}: has widgets {moved} but no figure"
        return
    assert moved, f"{page.file}: draws figures but has no widget that could be moved ({unmovable})"
    assert fig_sigs(at) != start_sigs, \
        f"{page.file}: no plotly figure changed after moving every widget ({moved})"
    assert not inert, f"{page.file}: moving these widgets changed nothing a learner sees (figure, text, " \
                      f"metric, box or table): {inert}. Make each one change what it should."
    if refused_moves:
        warnings.warn(f"{page.file}: the page refused these moves (shown as st.error): {refused_moves}",
                      stacklevel=1)
    if unmovable:
        warnings.warn(f"{page.file}: widgets not moved by the test: {unmovable}", stacklevel=1)


@pytest.mark.parametrize("page", PAGE_PARAMS)
def test_reset_restores_defaults(page: PageRow):
    at = open_page(page)
    defaults = {wid: current_value(w) for wid, w in main_widgets(at).items()}
    changed = []
    for wid, w in main_widgets(at).items():
        if w.type in BUTTONS or getattr(w.proto, "disabled", False):
            continue
        new = propose(w)
        if new is not None:
            apply(w, new)
            changed.append(wid)
    if not changed:
        pytest.skip(f"{page.file} has no widget to reset")
    at.run()
    assert_ok(at, f"on {page.file} after moving {changed}")
    reset = [b for b in at.sidebar.button if "reset" in (b.label or "").lower()]
    assert reset, "the sidebar has no 'Reset this page' button"
    reset[0].click().run()
    assert_ok(at, f"on {page.file} after 'Reset this page'")
    after = {wid: current_value(w) for wid, w in main_widgets(at).items()}
    wrong = {wid: (after.get(wid), defaults[wid]) for wid in changed
             if wid in after and not _same(after[wid], defaults[wid])}
    assert not wrong, f"{page.file}: after reset these widgets are not back at their default " \
                      f"(now, default): {wrong}"


@pytest.mark.parametrize("page", PAGE_PARAMS)
def test_bad_text_input(page: PageRow):
    at = open_page(page)
    texts = {wid: w for wid, w in main_widgets(at).items() if w.type in ("text_input", "text_area")}
    if not texts:
        pytest.skip(f"{page.file} has no text input")
    n_figs = len(at.get("plotly_chart"))
    outcome = {}
    for wid in texts:
        original = texts[wid].value
        for case, value in BAD_TEXT.items():
            main_widgets(at)[wid].set_value(value)
            at.run()
            assert_ok(at, f"on {page.file} with {wid} = {case} {value!r}")
            errors = guard_errors(at)
            if case in MUST_REFUSE and (wid, case) not in MAY_ACCEPT:
                assert errors, f"{page.file}: {wid} = {case} {value!r} shows no st.error"
            for msg in errors:
                assert len(msg.strip()) >= 20, f"{page.file}: {wid} = {case}: error too terse: {msg!r}"
                assert not UNCLEAR.search(msg), \
                    f"{page.file}: {wid} = {case}: error reads like a crash, not a message: {msg!r}"
            if not errors:
                assert at.get("plotly_chart") or not n_figs, \
                    f"{page.file}: {wid} = {case}: no error shown, yet no figure either"
            outcome[(wid, case)] = "refused" if errors else "accepted"
        main_widgets(at)[wid].set_value(original)
        at.run()
        assert_ok(at, f"on {page.file} after restoring {wid}")
        assert not guard_errors(at), f"{page.file}: error stays after restoring {wid}: {guard_errors(at)}"
    print(f"{page.file}: " + ", ".join(f"{w} {c}: {o}" for (w, c), o in outcome.items()))


def slide_figures(at) -> list[dict]:
    """Every figure of a page in lecture mode, in page order: a page with slides sends only the shown
    slide's figures (ui.plot), so its deck is walked with the overview's buttons."""
    goto = [b.key for b in at.button if (b.key or "").startswith("posviz_goto_")]
    if not goto:
        return apptools.figures(at)
    out = []
    for key in goto:
        at.button(key=key).click().run()
        assert not at.exception, [e.message for e in at.exception]
        out += apptools.figures(at)
    return out


@pytest.mark.parametrize("page", PAGE_PARAMS)
def test_lecture_mode(page: PageRow):
    # 1) turned on with the sidebar toggle, as an instructor would
    at = open_page(page)
    normal = apptools.figures(at)
    at.toggle(key="lecture").set_value(True).run()
    assert_ok(at, f"on {page.file} after switching lecture mode on")
    assert at.session_state["lecture"] is True
    lecture = slide_figures(at)
    assert len(lecture) == len(normal), f"{page.file}: lecture mode shows a different number of figures"
    for i, (a, b) in enumerate(zip(normal, lecture)):
        fa = (a.get("layout", {}).get("font") or {}).get("size", 12)
        fb = (b.get("layout", {}).get("font") or {}).get("size", 12)
        assert fb > fa, f"{page.file}: figure #{i} keeps font size {fa} → {fb} in lecture mode " \
                        "(figures must be sized for a projector)"
    # 2) from a shared URL (?lecture=true) on a new session: same page, same figures
    at2 = open_page(page, query={"lecture": "true"})
    assert at2.session_state["lecture"] is True, "?lecture=true did not switch lecture mode on"
    assert [apptools.signature(f) for f in slide_figures(at2)] == \
           [apptools.signature(f) for f in lecture], \
        f"{page.file}: lecture figures differ between the toggle and ?lecture=true"
