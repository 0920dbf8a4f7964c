"""Real-browser tests: the app served by ``streamlit run`` and opened in headless Debian Chromium.

* every page in ``app.PAGES`` opened by its ``url_path`` as the very first request of a freshly
  started server (Streamlit's legacy ``pages/`` mode would otherwise take over such a link);
* a shared URL with widget values and ``lecture=true`` opens with those values;
* the lecture-mode toggle enlarges the page; a slider moved with the keyboard updates a figure.

Skips when /usr/bin/chromium (or the playwright package) is missing, unless
POSVIZ_REQUIRE_BROWSER=1, then it fails. Never runs ``playwright install``.

Run only these:  .venv/bin/python -m pytest -m browser
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

import apptools
from apptools import PAGES, PageRow

pytestmark = pytest.mark.browser

T_MS = 90_000            # first run on a cold server imports torch and fills caches
VIEWPORT = {"width": 1280, "height": 1400}
CONTENT_PAGES = [p for p in PAGES if p != apptools.default_page()]




@pytest.fixture(scope="module")
def shared_server(browser):
    """One server for the tests that are not about a fresh start; warmed up by a visit to /."""
    with apptools.streamlit_server() as server:
        ctx = browser.new_context(viewport=VIEWPORT)
        warm = ctx.new_page()
        warm.goto(server.url + "/")
        apptools.wait_idle(warm, T_MS)
        ctx.close()
        yield server


class Tab:
    """One browser tab on one server, collecting JavaScript errors."""

    def __init__(self, browser, server):
        self.server = server
        self.context = browser.new_context(viewport=VIEWPORT)
        self.page = self.context.new_page()
        self.page.set_default_timeout(T_MS)
        self.js_errors: list[str] = []
        self.page.on("pageerror", lambda e: self.js_errors.append(str(e)))

    def open(self, path: str):
        resp = self.page.goto(f"{self.server.url}/{path.lstrip('/')}")
        assert resp is not None and resp.status == 200, f"GET /{path}: {resp and resp.status}"
        apptools.wait_idle(self.page, T_MS)
        return self.page

    def close(self):
        self.context.close()

    def exceptions(self) -> list[str]:
        return self.page.locator('[data-testid="stException"]').all_inner_texts()

    def font_px(self, selector: str) -> float:
        return float(self.page.locator(selector).first.evaluate(
            "e => parseFloat(getComputedStyle(e).fontSize)"))


@pytest.fixture
def tab_factory(browser):
    tabs = []

    def make(server):
        t = Tab(browser, server)
        tabs.append(t)
        return t

    yield make
    for t in tabs:
        t.close()


def wait_figures_drawn(page, timeout_s: float = 30.0) -> int:
    """Wait until every plotly figure on the page has drawn a trace; return how many there are.

    Called once the script run has finished, so the figures' elements are already there.
    """
    page.wait_for_selector(apptools.CHARTS, timeout=timeout_s * 1000)
    deadline = time.monotonic() + timeout_s
    while True:
        n, undrawn = page.evaluate(
            f"""sel => {{ const plots = {apptools.SHOWN_CHARTS};
                        return [plots.length, plots.filter(p => !p.querySelector(sel)).length]; }}""",
            apptools.PLOT_DRAWN)
        if not undrawn:
            return n
        if time.monotonic() > deadline:
            pytest.fail(f"{undrawn} of {n} plotly figures drew no heatmap image or line", pytrace=False)
        time.sleep(0.2)


def legacy_names(page: PageRow) -> list[str]:
    stem = Path(page.file).stem
    return [stem, stem.replace("_", " ")]


# -- every page, deep-linked on a fresh server ---------------------------------------------

@pytest.mark.parametrize("page", [pytest.param(p, id=p.prefix) for p in PAGES])
def test_deep_link_first_request_on_fresh_server(page: PageRow, browser, tab_factory):
    """The page's own address, typed into a new browser, is the server's very first request."""
    assert page.path.exists(), f"app.PAGES lists {page.file}, which does not exist"
    problems: list[str] = []
    with apptools.streamlit_server() as server:
        tab = tab_factory(server)
        pg = tab.open(page.url_path)
        url = f"/{page.url_path}".rstrip("/") or "/"
        dialogs = [d for d in pg.locator('[role="dialog"]').all_inner_texts() if d.strip()]
        if dialogs:
            problems.append(f"a dialog covers the page (it makes the page inert): {dialogs}")
        if (urlparse(pg.url).path.rstrip("/") or "/") != url:
            problems.append(f"the address changed to {pg.url}")
        nav = pg.locator('[data-testid="stSidebarNav"]')
        nav.wait_for(state="attached")
        nav_text = nav.inner_text()
        lines = {s.strip() for s in nav_text.splitlines()}
        missing = [o.title for o in PAGES if o.title not in nav_text]
        if missing:
            problems.append(f"the sidebar does not list {missing}")
        legacy = [raw for o in PAGES for raw in legacy_names(o) if raw in lines] + \
                 (["app"] if "app" in lines else [])
        if legacy:
            problems.append(f"legacy pages/ mode: the sidebar lists raw file names {legacy}")
        h1 = pg.locator('[data-testid="stMain"] h1')
        if not h1.count() or not h1.first.inner_text().strip():
            problems.append("no page title (h1) rendered")
        if apptools.page_has_figures(page) and not tab.exceptions():
            try:
                wait_figures_drawn(pg)
            except (Exception, pytest.fail.Exception) as e:  # report it with the other problems
                problems.append(f"figures: {str(e)[:300]}")
        if tab.exceptions():
            problems.append(f"st.exception shown: {tab.exceptions()}")
        if tab.js_errors:
            problems.append(f"JavaScript errors: {tab.js_errors}")
        if server.proc.poll() is not None:
            problems.append(f"server died:\n{server.log()[-3000:]}")
    assert not problems, f"{url} as the first request of a fresh server ({page.file}):\n- " + \
        "\n- ".join(problems)


# -- shared URL ------------------------------------------------------------------------------

def test_url_with_query_params_opens_with_those_values(browser, tab_factory):
    found = apptools.find_slider_param(CONTENT_PAGES)
    if found is None:
        pytest.fail("no page declares ui.slider(label, lo, hi, value, key) with literal int bounds")
    page, key, value = found
    toggle = apptools.find_toggle_param(page)
    query = f"{key}={value}" + (f"&{toggle}=true" if toggle else "") + "&lecture=true"
    with apptools.streamlit_server() as server:
        tab = tab_factory(server)
        pg = tab.open(f"{page.url_path}?{query}")
        # Read without scrolling to them: in lecture mode the slider may sit on a slide not shown now.
        slider = pg.locator(f".st-key-{key} input[type=range]")
        assert slider.input_value() == str(value), \
            f"/{page.url_path}?{query}: slider {key} shows {slider.input_value()}, not {value}"
        if toggle:
            box = pg.locator(f".st-key-{toggle} input[type=checkbox]")
            assert box.is_checked(), f"/{page.url_path}?{query}: toggle {toggle} is off"
        assert pg.locator(".st-key-lecture input[type=checkbox]").is_checked(), "lecture=true ignored"
        assert tab.font_px("html") > 16, "lecture=true did not enlarge the type"
        assert not tab.exceptions(), tab.exceptions()
        params = parse_qs(urlparse(pg.url).query)
        assert params.get(key) == [str(value)], f"the address bar lost {key}: {pg.url}"


# -- lecture mode and a widget move, on one shared server -----------------------------------

def _figure_page() -> PageRow:
    return next(p for p in CONTENT_PAGES if p.path.exists() and apptools.page_has_figures(p))


def test_lecture_toggle_changes_the_page(shared_server, tab_factory):
    page = _figure_page()
    tab = tab_factory(shared_server)
    pg = tab.open(page.url_path)
    wait_figures_drawn(pg)
    plot_text = ".js-plotly-plot .main-svg text"

    def measure() -> dict:
        return {"root (html)": tab.font_px("html"),
                "page title (h1)": tab.font_px('[data-testid="stMain"] h1'),
                "lesson text (p)": tab.font_px('[data-testid="stMain"] [data-testid="stMarkdownContainer"] p'),
                "figure text": max(pg.locator(plot_text).evaluate_all(
                    "els => els.map(e => parseFloat(getComputedStyle(e).fontSize) || 0)"))}
    before = measure()
    pg.locator(".st-key-lecture label").first.click()
    pg.wait_for_url(re.compile(r"[?&]lecture=true"))
    apptools.wait_idle(pg, T_MS)
    pg.wait_for_function("() => parseFloat(getComputedStyle(document.documentElement).fontSize) > 16")
    wait_figures_drawn(pg)
    time.sleep(0.5)  # let plotly finish re-laying out with the new fonts
    after = measure()
    not_larger = [f"{what}: {before[what]:g}px → {after[what]:g}px" for what in before
                  if not after[what] > before[what]]
    assert not not_larger, f"/{page.url_path}: lecture mode did not enlarge the type of " + "; ".join(not_larger)
    assert not tab.exceptions(), tab.exceptions()
    assert not tab.js_errors, tab.js_errors


def test_slider_keyboard_move_updates_figure(shared_server, tab_factory):
    found = apptools.find_slider_param(CONTENT_PAGES)
    assert found, "no page has a literal int slider"
    page, key, _ = found
    tab = tab_factory(shared_server)
    pg = tab.open(page.url_path)
    wait_figures_drawn(pg)
    snapshot = "() => [...document.querySelectorAll('.js-plotly-plot .main-svg')].map(e => e.innerHTML).join('|')"
    before = pg.evaluate(snapshot)
    slider = pg.locator(f".st-key-{key} input[type=range]")
    slider.scroll_into_view_if_needed()
    old = int(slider.input_value())
    slider.focus()
    slider.press("ArrowRight" if old < int(slider.get_attribute("max")) else "ArrowLeft")
    pg.wait_for_url(re.compile(rf"[?&]{re.escape(key)}="))
    apptools.wait_idle(pg, T_MS)
    pg.wait_for_function(f"before => ({snapshot})() !== before", arg=before, timeout=15_000)
    assert slider.input_value() != str(old)
    assert not tab.exceptions(), tab.exceptions()
    assert not tab.js_errors, tab.js_errors


def test_plotly_js_is_imported_once_the_websocket_opens(shared_server, tab_factory):
    """serve.py's page (frontend.py) starts Streamlit's plotly chunk early, lean; the charts still draw from it."""
    import frontend

    page = _figure_page()
    tab = tab_factory(shared_server)
    pg = tab.open(page.url_path)
    assert frontend.MARK.removeprefix("<!--").removesuffix("-->").strip() in pg.content()
    n = wait_figures_drawn(pg)
    fetched = pg.evaluate("() => performance.getEntriesByType('resource').map(e => e.name)"
                          ".filter(u => u.includes('/PlotlyChart.'))")
    assert len(fetched) == 1, fetched  # Streamlit's own import and ours share one module
    assert n >= 1 and not tab.exceptions() and not tab.js_errors, (tab.exceptions(), tab.js_errors)
    # plotly.js evaluated only the trace types posviz draws (frontend.LEAN_PATCHES), and those are all it knows
    from posviz.figures import style

    known = pg.evaluate("() => Object.keys(window.Plotly.PlotSchema.get().traces)")
    assert sorted(known) == sorted(style.TRACE_TYPES), known


def test_a_page_asks_nothing_of_any_other_server(shared_server, tab_factory):
    """A class may sit in a room without internet, and a student's browser should not tell a third party what
    it opened: every request a lesson page makes goes to the posviz server (the tab's icon included, which
    as a Material icon name came from fonts.gstatic.com)."""
    from urllib.parse import urlparse

    tab = tab_factory(shared_server)
    requested = []
    tab.page.on("request", lambda r: requested.append(r.url))
    pg = tab.open(_figure_page().url_path)
    wait_figures_drawn(pg)
    pg.wait_for_timeout(1000)
    here = urlparse(shared_server.url).netloc
    elsewhere = sorted({u for u in requested if urlparse(u).scheme in ("http", "https", "ws", "wss")
                        and urlparse(u).netloc != here})
    assert not elsewhere, elsewhere
    icon = pg.evaluate("() => [...document.querySelectorAll('link[rel~=icon]')].map(l => l.href)")
    assert icon and all(urlparse(u).netloc == here for u in icon), icon
