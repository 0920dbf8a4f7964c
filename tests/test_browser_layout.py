"""Layout in a real browser (headless Debian Chromium): lecture slides that fit the projector, and
pages that fit a phone. Measured on the page, not judged from screenshots:

* every slide of every lesson page that has slides, at 1280×720 in lecture mode: the slide shown is
  the one in the URL, and its figure(s) lie fully inside the viewport and fill a good part of it;
* at 1920×1080 the type and the figure grow with the screen;
* at 390 px (a phone) no page is wider than the viewport: not the document, not the main area;
* PageDown/PageUp and the arrow keys move to the next/previous slide (not while a slider has focus);
* a slide's link, moved widget included, opens that slide in that state on a freshly started server,
  and the QR code drawn beside it decodes to that link;
* the figure toolbar saves at projector size (checked with the keyboard); presenter notes follow the slide.

One server for the module (a fresh one only where the test is about a fresh start). Skips when
/usr/bin/chromium or playwright is missing, unless POSVIZ_REQUIRE_BROWSER=1.

Run only these:  .venv/bin/python -m pytest -q tests/test_browser_layout.py
"""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlparse

import pytest

import apptools
from apptools import PAGES, PageRow

pytestmark = pytest.mark.browser

T_MS = 120_000
HD = {"width": 1280, "height": 720}
FULL_HD = {"width": 1920, "height": 1080}
PHONE = {"width": 390, "height": 844}
SLIDE_PAGES = [p for p in PAGES if p.path.exists() and "@page.slide" in p.path.read_text(encoding="utf-8")]
MIN_FIGURE_SHARE = 0.35   # a slide's figures cover at least this share of the viewport height




@pytest.fixture(scope="module")
def server(browser):
    with apptools.streamlit_server() as srv:
        yield srv


@pytest.fixture
def open_tab(browser):
    contexts = []

    def make(viewport: dict, **kw):
        ctx = browser.new_context(viewport=viewport, **kw)
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(T_MS)
        page.js_errors = []
        page.on("pageerror", lambda e: page.js_errors.append(str(e)))
        return page

    yield make
    for ctx in contexts:
        ctx.close()


def goto(page, url: str):
    resp = page.goto(url)
    assert resp is not None and resp.status == 200, f"GET {url}: {resp and resp.status}"
    apptools.wait_idle(page, T_MS)


# What a slide view shows now: which slide containers are visible, its figures' boxes, and whether
# every figure has finished laying out at the height the slide gives it.
SLIDE_STATE = """() => {
  const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  const shown = [...document.querySelectorAll('[class*="st-key-posviz-slide-"]')]
    .filter(e => e.getBoundingClientRect().height > 0)
    .map(e => +[...e.classList].find(c => c.startsWith('st-key-posviz-slide-')).split('-').pop());
  const plots = [...document.querySelectorAll('[data-testid="stMain"] .js-plotly-plot')]
    .filter(e => e.getBoundingClientRect().height > 0);
  // the run has finished (under load a slide showed before its figures arrived: "settled" with none)
  const idle = !!document.querySelector('[data-testid="stApp"][data-test-script-state="notRunning"]');
  const settled = idle && plots.every(e => Math.abs(e.getBoundingClientRect().height
    - e.closest('.stElementContainer').getBoundingClientRect().height) < 2 && e.querySelector('.main-svg'));
  const bar = document.querySelector('.st-key-posviz-bar [data-testid="stPopover"]');
  const controls = [...document.querySelectorAll('[class*="st-key-posviz-side-"] .stElementContainer[class*="st-key-"]')]
    .filter(e => e.getBoundingClientRect().height > 0 && !e.querySelector('[data-testid="stAlert"]'));
  return {shown, figures: plots.map(box), controls: controls.map(box), settled, bar: bar ? bar.innerText.trim() : null,
          title: ([...document.querySelectorAll('[class*="st-key-posviz-head-"] h3')]
                  .find(e => e.getBoundingClientRect().height > 0) || {}).innerText};
}"""


# Counts changes to the main area: a cold server's first visit can keep the browser busy drawing
# for seconds after the script finished.
WATCH = """() => { if (window.__posvizChanges === undefined) { window.__posvizChanges = 0;
  new MutationObserver(ms => { window.__posvizChanges += ms.length; })
    .observe(document.body, {subtree: true, childList: true, attributes: true}); }
  return window.__posvizChanges; }"""


def wait_quiet(page, quiet_s: float = 0.25, timeout_s: float = 30.0) -> None:
    """Wait until nothing on the page has changed for ``quiet_s`` (the browser has finished drawing)."""
    deadline, last, since = time.monotonic() + timeout_s, page.evaluate(WATCH), time.monotonic()
    while time.monotonic() - since < quiet_s and time.monotonic() < deadline:
        time.sleep(0.05)
        now = page.evaluate(WATCH)
        if now != last:
            last, since = now, time.monotonic()


def slide_state(page, want: int | None = None, timeout_s: float = 30.0, figures: bool = False) -> dict:
    """Wait until slide ``want`` (if given) is the only one shown, its figures have settled at the height
    the slide gives them and the page has stopped changing; with ``figures``, until it shows at least one
    (between two runs a slide can stand idle before its figures arrive)."""
    deadline = time.monotonic() + timeout_s
    while True:
        state = page.evaluate(SLIDE_STATE)
        if state["settled"] and (want is None or state["shown"] == [want]) and (state["figures"] or not figures):
            wait_quiet(page, timeout_s=max(deadline - time.monotonic(), 1.0))
            again = page.evaluate(SLIDE_STATE)
            if again["figures"] == state["figures"] and again["settled"]:
                return again
        if time.monotonic() > deadline:
            pytest.fail(f"{page.url}: slide {want} never settled: {state}", pytrace=False)
        time.sleep(0.05)


def label_overlaps(page) -> list[str]:
    """Labels that run into each other on the slide shown, counted once plotly has finished laying out:
    a figure still resizing to its slide can overlap for a frame, so only what persists is reported."""
    found = page.evaluate(apptools.LABEL_OVERLAPS_JS)
    for _ in range(3):
        if not found:
            break
        wait_quiet(page, quiet_s=0.5)
        time.sleep(0.5)
        found = page.evaluate(apptools.LABEL_OVERLAPS_JS)
    return found


def slide_count(state: dict) -> int:
    m = re.search(r"(\d+)\s*/\s*(\d+)", state["bar"] or "")
    assert m, f"no 'k / N' in the slide bar: {state['bar']!r}"
    return int(m.group(2))


def wait_for_slide_param(page, k: int) -> None:
    page.wait_for_url(re.compile(rf"[?&]slide={k}(&|$)"), timeout=T_MS)
    apptools.wait_idle(page, T_MS)


def current_slide(page) -> int:
    return int(parse_qs(urlparse(page.url).query).get("slide", ["1"])[0])


def press_until(page, key: str, k: int, tries: int = 4) -> None:
    """Press ``key`` until the URL shows slide ``k``. A press that lands while the browser is still busy
    drawing a page's figures (a cold server's first visit) can be dropped, as a presenter's would be: press
    again only when the slide has not moved, so a slow but accepted press is never counted twice."""
    for _ in range(tries):
        page.keyboard.press(key)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and current_slide(page) != k:
            page.wait_for_timeout(250)
        if current_slide(page) == k:
            break
    wait_for_slide_param(page, k)


# -- every slide fits the projector ------------------------------------------------------------------

# Label problems on lecture slides that are known and not yet mended, by (page, slide): a problem found
# there is excused when it contains one of the listed texts. Listed, so that every other slide is held to
# none and these are not forgotten. Found on 2026-12-02, when the overlap check first compared labels with
# the plotted data (its selector had matched no element since plotly 3) and with every axis's ticks (it
# had read only the first axes'), and the clipped-label check was added (LABELS_CLIPPED_JS). Mended since:
# axis titles longer than their axis on a slide go on two lines (style.fit_titles_to_slide: 7 slides),
# §8 slide 2's panels stand wider apart with their titles fitted after the builder sets them, a colorbar
# title turned on its side gets room in the right margin (margins._colorbar: §3 and §4 slide 4), §1
# slide 1, §3 slide 2, §6 slide 5, §7 slide 1 and §8b slide 3 set their panels wider apart on a slide,
# a slide's heatmap colorbar has its title above the bar (style.heatmap), §6b slide 4's bars use the
# registry's short names, and §6c's half-width figures have short or two-line titles on a slide.
KNOWN_LABEL_PROBLEMS: dict[tuple[str, int], tuple[str, ...]] = {
    ("s7", 4): ('legend "head',),  # the legend sits inside the plot on purpose, on its own background
}


def label_problems(page, prefix: str, k: int) -> list[str]:
    """Labels on the slide shown that run into each other or are cut off by their figure's edge, less the
    known ones (KNOWN_LABEL_PROBLEMS)."""
    known = KNOWN_LABEL_PROBLEMS.get((prefix, k), ())
    found = label_overlaps(page) + page.evaluate(apptools.LABELS_CLIPPED_JS)
    return [p for p in found if not any(text in p for text in known)]


@pytest.mark.parametrize("row", [pytest.param(p, id=p.prefix) for p in SLIDE_PAGES])
def test_every_slide_fits_1280x720(row: PageRow, server, open_tab):
    """Walk the page's slides with PageDown: each shows alone, its figures inside the viewport and covering
    a good part of it, its controls above the fold (its checks may scroll in the side column)."""
    page = open_tab(HD)
    goto(page, f"{server.url}/{row.url_path}?lecture=true")
    state = slide_state(page, 1, timeout_s=60)
    n = slide_count(state)
    problems = []
    for k in range(1, n + 1):
        if k > 1:
            press_until(page, "PageDown", k)
            state = slide_state(page, k)
        w, h = HD["width"], HD["height"]
        outside = [f for f in state["figures"] if f[0] < -1 or f[1] < -1 or f[2] > w + 1 or f[3] > h + 1]
        if outside:
            problems.append(f"slide {k} ({state['title']}): figure(s) leave the 1280×720 viewport: {outside}")
        below = [c for c in state["controls"] if c[3] > h + 1]
        if below:
            problems.append(f"slide {k} ({state['title']}): {len(below)} control(s) below the 720-px fold: {below}")
        covered = sum(f[3] - f[1] for f in state["figures"])
        if state["figures"] and covered < MIN_FIGURE_SHARE * h:
            problems.append(f"slide {k} ({state['title']}): its figures cover only {covered:.0f} px of 720")
        if not state["title"]:
            problems.append(f"slide {k}: no slide title shown")
        hidden = page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot')]"
                               ".filter(e => e.getBoundingClientRect().height === 0).length")
        if hidden:  # ui.plot sends only the shown slide's figures (a hidden one is laid out at another width)
            problems.append(f"slide {k} ({state['title']}): {hidden} figure(s) drawn in hidden slides")
        problems += [f"slide {k} ({state['title']}): {o}" for o in label_problems(page, row.prefix, k)]
    assert not page.locator('[data-testid="stException"]').count(), "an exception is shown"
    assert not page.js_errors, page.js_errors
    assert not problems, f"/{row.url_path} in lecture mode:\n- " + "\n- ".join(problems)


def test_full_hd_scales_type_and_figure(server, open_tab):
    """At 1920×1080 the slide is the 1280×720 slide made larger: type and figure grow by ~1.5."""
    row = next(p for p in SLIDE_PAGES if p.prefix == "s5")
    sizes = {}
    for name, viewport in (("hd", HD), ("full", FULL_HD)):
        page = open_tab(viewport)
        goto(page, f"{server.url}/{row.url_path}?lecture=true&slide=1")
        state = slide_state(page, 1, timeout_s=60, figures=True)
        fig = state["figures"][0]
        assert fig[2] <= viewport["width"] + 1 and fig[3] <= viewport["height"] + 1, (name, fig)
        root = page.evaluate("() => parseFloat(getComputedStyle(document.documentElement).fontSize)")
        title = page.locator('[class*="st-key-posviz-head-"] h3').first.evaluate(
            "e => parseFloat(getComputedStyle(e).fontSize)")
        sizes[name] = (root, title, fig[2] - fig[0], fig[3] - fig[1])
    for what, hd, full in zip(("root type", "slide title", "figure width", "figure height"),
                              sizes["hd"], sizes["full"]):
        assert full >= 1.3 * hd, f"{what}: {hd:g} at 1280×720 but only {full:g} at 1920×1080"


# -- a phone: nothing wider than the screen ------------------------------------------------------------

WIDTHS = """() => { const main = document.querySelector('[data-testid="stMain"]');
  return [document.documentElement.scrollWidth, main ? main.scrollWidth : 0, innerWidth]; }"""


PHONE_LECTURE = ("s5", "s6", "s6c", "s9")  # wide formulas, own columns, a real model, tabs turned slides


@pytest.mark.parametrize("lecture", [False, True], ids=["normal", "lecture"])
def test_phone_no_page_wider_than_viewport(lecture: bool, server, open_tab):
    """390 px: neither the document nor the main area scrolls sideways, on any page; in lecture mode on
    pages whose slides have the widest content."""
    page = open_tab(PHONE, is_mobile=True, has_touch=True)
    rows = [p for p in SLIDE_PAGES if p.prefix in PHONE_LECTURE] if lecture else [p for p in PAGES if p.path.exists()]
    wide = []
    for row in rows:
        goto(page, f"{server.url}/{row.url_path}" + ("?lecture=true" if lecture else ""))
        try:
            apptools.wait_all_charts_drawn(page, 15_000)
        except Exception:  # a page whose figures never draw is test_browser's business
            pass
        # A slow machine can measure in the frames before a late stylesheet lands: §5's T5 bucket formula
        # lays out 605 px wide until KaTeX's `overflow-x: auto` applies, then scrolls inside its own box.
        # So a page counts as wide only if it still is after a few seconds.
        deadline = time.monotonic() + 5
        while True:
            doc, main, view = page.evaluate(WIDTHS)
            if max(doc, main) <= view or time.monotonic() > deadline:
                break
            page.wait_for_timeout(250)
        if doc > view or main > view:
            wide.append(f"/{row.url_path}: document {doc} px, main area {main} px wide in a {view}-px viewport")
    assert not wide, "pages wider than a phone:\n- " + "\n- ".join(wide)


# -- figures drawn once --------------------------------------------------------------------------------

# Each figure's margins as the server sent them, what plotly measured its tick labels, titles, colorbars
# and legends to need (``_pushmargin``: the pushes at the figure's edges), and whether it had to grow a
# margin, which makes it draw the whole figure a second time.
MARGIN_STATE = """() => [...document.querySelectorAll('[data-testid="stMain"] .js-plotly-plot')]
  .filter(gd => gd._fullLayout && gd.getBoundingClientRect().width > 0).map(gd => {
    const fl = gd._fullLayout, base = gd.layout.margin || {}, need = {l: 0, b: 0};
    for (const [id, p] of Object.entries(fl._pushmargin || {})) {
      if (id === 'base') continue;
      if (p.l && p.l.val <= 0.02) need.l = Math.max(need.l, p.l.size);
      if (p.b && p.b.val <= 0.02) need.b = Math.max(need.b, p.b.size);
    }
    // a legend at the foot in container coordinates reserves its height below what the axes push
    for (const r of Object.values(fl._reservedMargin || {})) if (r.b) need.reserved = Math.max(need.reserved || 0, r.b);
    if (need.reserved) need.b += need.reserved;
    return {grown: ['l', 'r', 't', 'b'].filter(s => fl._size[s] > base[s]), base, need,
            foot: !!(fl.showlegend && fl.legend && fl.legend.yref === 'container' && fl.legend.y <= 0.01),
            constrained: Object.keys(fl).some(k => /^[xy]axis\\d*$/.test(k) && fl[k] && fl[k].scaleanchor)};
  })"""
# plotly sets ``emit`` on each plot's div when it first draws there, and every event passes through it: a
# setter on the prototype wraps it, and each draw's ``calcdata`` (the computed traces) is recorded per div.
# plotly computes a figure again only when something in it changed, with a new calcdata.
CALC_SPY = """
Object.defineProperty(HTMLDivElement.prototype, 'emit', {configurable: true, get() { return undefined; },
  set(fn) {
    const gd = this;
    Object.defineProperty(gd, 'emit', {configurable: true, writable: true, value: function (ev) {
      if (ev === 'plotly_afterplot' && gd.calcdata) (gd.__calcs = gd.__calcs || new Set()).add(gd.calcdata);
      if (ev === 'plotly_react') gd.__reacts = (gd.__reacts || 0) + 1;
      return fn.apply(this, arguments);
    }});
  }});
"""
CALCS = """() => [...document.querySelectorAll('[data-testid="stMain"] .js-plotly-plot')]
  .filter(gd => gd._fullLayout && gd.getBoundingClientRect().width > 0)
  .map(gd => [gd.__calcs ? gd.__calcs.size : 0, gd.__reacts || 0])"""
MAX_DRAWN_TWICE = 0.15  # measured 2026-12-02: 5 of 70 (foot legends counted); before posviz.figures.margins, 64 of 70
MAX_SPARE_PX = 30        # measured: at most 20 px more than plotly needs on the left or at the bottom


def test_figures_are_drawn_once_without_wide_margins(server, open_tab):
    """Every page at 1280×720. Streamlit mounts a new plot for every changed figure, and plotly grows
    margins that are too small for what they hold by drawing the figure again: twice the browser's work
    per change. The server sends margins that already fit (``posviz.figures.margins``), so most figures
    are drawn once, those with a legend at their foot in container coordinates too (plotly's reserved room
    for it counts as needed). And no margin is much wider than needed (white space the estimate put there)."""
    page = open_tab(HD)
    page.add_init_script(CALC_SPY)
    figures, twice, spare, computed_again = 0, [], [], []
    for row in [p for p in PAGES if p.path.exists() and apptools.page_has_figures(p)]:
        goto(page, f"{server.url}/{row.url_path}")
        apptools.wait_all_charts_drawn(page)
        page.wait_for_timeout(500)
        for i, (n, reacts) in enumerate(page.evaluate(CALCS)):
            if n != 1 or reacts != 1:  # Streamlit's chart draws with Plotly.react, the first time too
                computed_again.append(f"/{row.url_path} figure {i + 1}: {n} computations, {reacts} Plotly.react calls")
        for i, f in enumerate(page.evaluate(MARGIN_STATE)):
            figures += 1
            if f["grown"]:
                twice.append(f"/{row.url_path} figure {i + 1}: grew {f['grown']} from {f['base']}")
            for side in ("l", "b"):
                extra = f["base"][side] - f["need"][side]
                if f["need"][side] and extra > MAX_SPARE_PX and not (side == "l" and f["constrained"]):
                    spare.append(f"/{row.url_path} figure {i + 1}: margin {side} = {f['base'][side]} px, "
                                 f"plotly needs {f['need'][side]:.0f}")
    assert figures > 40, f"only {figures} figures found"
    # Streamlit's chart copies each new figure into its state right after drawing it, and plotly.react then
    # recomputed the whole figure whenever the copy held a template, typed arrays, or no data revision
    # (``style.settle_for_streamlit``): every figure was computed and drawn twice. Even with those settled,
    # the copy cost a Plotly.react over the figure just drawn, and the chart drew once hidden before its width
    # was measured; serve.py's chart chunk skips both (``frontend.CHART_PATCHES``).
    assert not computed_again, "figures plotly computed or drawn more than once:\n- " + "\n- ".join(computed_again)
    assert len(twice) <= MAX_DRAWN_TWICE * figures, \
        f"{len(twice)} of {figures} figures drawn twice:\n- " + "\n- ".join(twice)
    assert not spare, "margins much wider than their contents need:\n- " + "\n- ".join(spare)


def slider_on_drawn_page(server, open_tab, spy: str, prefix: str, key: str):
    """A 1280×720 tab with ``spy`` installed before the page's scripts, on page ``prefix`` once every figure
    has drawn, and its slider ``key`` focused for key presses: (page, slider)."""
    page = open_tab(HD)
    page.add_init_script(spy)
    row = next(p for p in PAGES if p.prefix == prefix)
    goto(page, f"{server.url}/{row.url_path}")
    apptools.wait_all_charts_drawn(page)
    page.wait_for_timeout(500)
    slider = page.locator(f".st-key-{key} input[type=range]")
    slider.scroll_into_view_if_needed()
    slider.focus()
    return page, slider


def test_a_key_press_draws_the_new_figure_once(server, open_tab):
    """What a learner waits for on every change: the figure the press changed is a new plot, computed once
    and drawn with one ``Plotly.react``, and no other figure is drawn again. Streamlit's chart as shipped
    drew a new figure hidden before its width was measured, then at that width, then once more after its
    theme copy (``frontend.CHART_PATCHES``)."""
    page, slider = slider_on_drawn_page(server, open_tab, CALC_SPY, "s3", "s3_pair_i")
    forget = "() => document.querySelectorAll('.js-plotly-plot').forEach(gd => { gd.__calcs = new Set(); gd.__reacts = 0 })"
    drawn = """() => [...document.querySelectorAll('[data-testid="stMain"] .js-plotly-plot')]
      .map(gd => [gd.__calcs ? gd.__calcs.size : 0, gd.__reacts || 0]).filter(([c, r]) => c || r)"""
    for key in ("ArrowRight", "ArrowLeft"):
        page.evaluate(forget)
        slider.press(key)
        page.wait_for_function(f"() => ({drawn})().length > 0", timeout=15_000)
        apptools.wait_idle(page, T_MS)
        page.wait_for_timeout(500)
        assert page.evaluate(drawn) == [[1, 1]], f"after {key}: (computations, Plotly.react calls) per figure drawn"
    assert not page.js_errors, page.js_errors


# Each batch of first draws (one MutationObserver callback: one task of the browser's) with each new figure's top.
DRAW_SPY = """
(() => {
  window.__drawBatches = [];
  new MutationObserver(() => {
    const batch = [];
    document.querySelectorAll('.js-plotly-plot').forEach(gd => {
      if (!gd.__drawnSeen && gd.querySelector(%r)) {
        gd.__drawnSeen = true; batch.push(Math.round(gd.getBoundingClientRect().top + window.scrollY));
      }
    });
    if (batch.length) window.__drawBatches.push(batch);
  }).observe(document, {subtree: true, childList: true});
})();
""" % apptools.PLOT_DRAWN


NO_IDLE_CALLBACK = "delete window.requestIdleCallback; delete window.cancelIdleCallback;"  # as in Safari


@pytest.mark.parametrize("idle_callback", [True, False], ids=["chromium", "no-requestIdleCallback"])
def test_figures_near_the_window_are_drawn_first(idle_callback, server, open_tab):
    """A page's first visit: plotly drawing every figure of §6 in one task kept the screen blank until the last,
    seven screens down, was done. The chart chunk's first draw waits until its figure is near the window or the
    page is idle (``frontend.OFFSCREEN_PATCHES``), so the first figures drawn are near the top and the rest
    follow, each in a later task. With the chunk as shipped all seven came in one batch. A browser without
    ``requestIdleCallback`` (Safari) draws the rest after a short timer."""
    page = open_tab(HD)
    page.add_init_script(DRAW_SPY if idle_callback else NO_IDLE_CALLBACK + DRAW_SPY)
    row = next(p for p in PAGES if p.prefix == "s6")
    goto(page, f"{server.url}/{row.url_path}")
    charts = f"document.querySelectorAll('[data-testid=\"stMain\"] {apptools.CHARTS}').length"
    page.wait_for_function(f"() => {charts} >= 5 && window.__drawBatches.flat().length >= {charts}", timeout=30_000)
    n = page.evaluate(f"() => {charts}")
    batches = page.evaluate("() => window.__drawBatches")
    assert sum(map(len, batches)) == n >= 5, batches
    tops = sum(batches, [])
    far = max(tops) / 2  # the lower half of the page: five windows and more down
    assert far > 3 * HD["height"], f"§6 is too short to tell: {batches}"
    assert len(batches) >= 3, f"the figures were drawn in {len(batches)} batch(es): {batches}"
    # "Near" is judged when a figure mounts; on a busy machine the page above it may still be growing then
    # (CI: a figure near at mount sat 2,188 px down when drawn), so the first batch is only held to the upper half.
    assert all(top < far for top in batches[0]), f"figures far below the window drawn in the first batch: {batches}"
    assert not page.js_errors, page.js_errors


def test_a_question_listing_loads_no_syntax_highlighter(server, open_tab):
    """§6's foot asks which line of a listing is wrong. Drawn as Streamlit's code block, it made every first
    visit of §3, §4, §6 and §9 load Streamlit's 1.5 MB syntax highlighter and evaluate it (~270 ms of main
    thread before the figures were drawn); ``listings.code_html`` colours it on the server instead."""
    page = open_tab(HD)
    row = next(p for p in PAGES if p.prefix == "s6")
    goto(page, f"{server.url}/{row.url_path}")
    listing = page.locator("pre.posviz-code").first
    listing.wait_for(state="attached")
    assert "def rotate_half(x):" in listing.inner_text()
    assert listing.locator("span[style*='color']").count() > 3, "the listing is not coloured"
    apptools.wait_all_charts_drawn(page)
    chunks = page.evaluate("() => performance.getEntriesByType('resource').map(r => r.name.split('/').pop())")
    assert any(c.startswith("PlotlyChart.") for c in chunks), chunks  # the list is the page's own
    assert not [c for c in chunks if c.startswith("StreamlitSyntaxHighlighter")], chunks


# React's devtools hook, installed before the page's scripts: after each commit, count the element containers
# (``stElementContainer`` divs) React rendered again. A subtree React skipped keeps its fiber objects; one it
# rendered again gets the fiber's other copy, so a container fiber not seen at the previous commit was rendered.
RENDER_SPY = """
(() => {
  let seen = new WeakSet();
  window.__containersRendered = 0;
  window.__REACT_DEVTOOLS_GLOBAL_HOOK__ = {
    supportsFiber: true, renderers: new Map(), isDisabled: false, inject() { return 1; }, checkDCE() {},
    onScheduleFiberRoot() {}, onCommitFiberUnmount() {}, onPostCommitFiberRoot() {},
    onCommitFiberRoot(id, root) {
      const now = new WeakSet(), stack = [root.current];
      while (stack.length) {
        const f = stack.pop();
        now.add(f);
        if (f.tag === 5 && !seen.has(f) && f.memoizedProps && f.memoizedProps['data-testid'] === 'stElementContainer')
          window.__containersRendered++;
        for (let c = f.child; c; c = c.sibling) stack.push(c);
      }
      seen = now;
    }
  };
})();
"""


def test_a_key_press_renders_only_what_changed(server, open_tab):
    """A press reruns one fragment; Streamlit 1.67 as shipped rendered every element of the page again on
    each change of the run's state (a run starts, its messages land, it ends; the URL changes): measured
    265 and 269 element containers a press on §6, which has 76. With ``frontend.APP_PATCHES`` an element
    renders again only when its props change, so only the moved fragment's ~11 elements, about three times
    each (marked stale, replaced, run ended): 34 and 29. Fewer renders than elements on the page fails the
    shipped frontend by a factor of three and passes the patched one by a factor of two."""
    page, slider = slider_on_drawn_page(server, open_tab, RENDER_SPY, "s6", "s6_rot_angle")
    on_page = page.locator('[data-testid="stMain"] [data-testid="stElementContainer"]').count()
    rendered = []
    for key in ("ArrowRight", "ArrowLeft"):
        page.evaluate("() => { window.__containersRendered = 0 }")
        slider.press(key)
        page.wait_for_timeout(300)
        apptools.wait_idle(page, T_MS)
        page.wait_for_timeout(500)
        rendered.append(page.evaluate("() => window.__containersRendered"))
    print(f"element containers: {on_page} on the page; rendered again per press {rendered}")
    assert on_page >= 50, on_page
    assert all(0 < r < on_page for r in rendered), f"rendered again per press {rendered}, {on_page} on the page"
    assert not page.js_errors, page.js_errors


# Where the websocket message of a key press is sent from: inside a frame callback (just before that frame's
# paint), in a task before the first frame after the key, or in a task after that frame had been painted.
SEND_SPY = """
(() => {
  const raf = window.requestAnimationFrame.bind(window);
  window.requestAnimationFrame = (cb) => raf((t) => { window.__inFrame = true; try { cb(t) } finally { window.__inFrame = false } });
  window.__sends = [];
  document.addEventListener('keydown', () => {
    window.__key = {frameSeen: false, sent: null};
    const key = window.__key;
    raf(() => { key.frameSeen = true });
  }, true);
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    const key = window.__key;
    if (key && key.sent === null) {
      key.sent = window.__inFrame ? 'in the frame' : key.frameSeen ? 'after the frame' : 'before the frame';
      window.__sends.push(key.sent);
    }
    return send.call(this, data);
  };
})();
"""


def test_a_key_press_is_sent_before_the_next_frame(server, open_tab):
    """The server can only start once the press reaches it. Streamlit sends a widget's change from a
    ``setTimeout``; after a key press Chromium paints the moved slider first, so the message left 20-25 ms
    after the key, behind that frame and a render (a trace of §7). With ``frontend.SEND_PATCHES`` it leaves
    from the first of that timer and a frame callback: never after the first frame that follows the key."""
    page, slider = slider_on_drawn_page(server, open_tab, SEND_SPY, "s3", "s3_pair_i")
    for key in ("ArrowRight", "ArrowLeft", "ArrowRight", "ArrowLeft"):
        slider.press(key)
        page.wait_for_timeout(200)
        apptools.wait_idle(page, T_MS)
    sends = page.evaluate("() => window.__sends")
    print("each press sent", sends)
    assert len(sends) == 4 and "after the frame" not in sends, sends
    assert not page.js_errors, page.js_errors


# -- keyboard ---------------------------------------------------------------------------------------------

def test_keyboard_moves_slides(server, open_tab):
    row = next(p for p in SLIDE_PAGES if p.prefix == "s5")
    page = open_tab(HD)
    goto(page, f"{server.url}/{row.url_path}?lecture=true&export=SVG")
    slide_state(page, 1, timeout_s=60)
    # The figure toolbar's camera saves at projector size, in the sidebar's format (SVG from the link).
    opts = page.evaluate("() => document.querySelector('.js-plotly-plot')._context.toImageButtonOptions")
    assert opts["format"] == "svg" and (opts["width"] * opts["scale"], opts["height"] * opts["scale"]) == (1920, 1080)
    for key, k in (("PageDown", 2), ("ArrowRight", 3), ("PageUp", 2), ("ArrowLeft", 1)):
        page.keyboard.press(key)
        wait_for_slide_param(page, k)
        assert slide_state(page, k)["shown"] == [k], f"{key}: slide {k} is not the one shown"
    # On the first slide, PageUp has nowhere to go; with a slider focused, arrows move the slider.
    page.keyboard.press("PageUp")
    apptools.wait_idle(page, T_MS)
    assert parse_qs(urlparse(page.url).query).get("slide", ["1"]) == ["1"]
    slider = page.locator(".st-key-s5_bias_len input[type=range]")
    before = slider.input_value()
    slider.focus()
    slider.press("ArrowRight")
    page.wait_for_url(re.compile(r"[?&]s5_bias_len="))
    apptools.wait_idle(page, T_MS)
    assert slider.input_value() != before
    assert parse_qs(urlparse(page.url).query).get("slide", ["1"]) == ["1"], "ArrowRight in a slider changed slide"
    assert not page.js_errors, page.js_errors


# -- a slide's link and its QR code -----------------------------------------------------------------------

def decode_qr(png: bytes) -> list[str]:
    import io

    import numpy as np
    import zxingcpp
    from PIL import Image

    return [r.text for r in zxingcpp.read_barcodes(np.asarray(Image.open(io.BytesIO(png)).convert("L")))]


def test_slide_link_and_qr_open_that_slide_on_a_fresh_server(server, browser, open_tab):
    pytest.importorskip("zxingcpp")
    row = next(p for p in SLIDE_PAGES if p.prefix == "s5")
    page = open_tab(HD)
    goto(page, f"{server.url}/{row.url_path}?lecture=true&slide=2")
    slide_state(page, 2, timeout_s=60)
    slider = page.locator(".st-key-s5_shaw_len input[type=range]")
    slider.focus()
    for _ in range(3):
        slider.press("ArrowRight")
    page.wait_for_url(re.compile(r"[?&]s5_shaw_len=13(&|$)"))
    apptools.wait_idle(page, T_MS)
    page.locator('.st-key-posviz-head-2 [data-testid="stPopover"] button:visible', has_text="Link").first.click()
    code = page.locator('[data-testid="stPopoverBody"] [data-testid="stCode"]').last
    code.wait_for(state="visible")
    link = re.sub(r"\s+", "", code.inner_text())
    query = parse_qs(urlparse(link).query)
    assert query.get("slide") == ["2"] and query.get("lecture") == ["true"] and query.get("s5_shaw_len") == ["13"], link
    assert "room" not in query, f"the shared link must not carry the presenter room: {link}"
    qr = page.locator('[data-testid="stPopoverBody"] [data-testid="stImage"] img').last
    qr.wait_for(state="visible")
    assert decode_qr(qr.screenshot()) == [link], "the QR code does not decode to the slide's link"

    with apptools.streamlit_server() as fresh:
        other = open_tab(HD)
        goto(other, link.replace(server.url, fresh.url))
        state = slide_state(other, 2, timeout_s=90)
        assert state["title"].startswith("Shaw"), state
        assert other.locator(".st-key-s5_shaw_len input[type=range]").input_value() == "13"
        assert other.locator(".st-key-lecture input[type=checkbox]").is_checked()
        assert not other.locator('[data-testid="stException"]').count()


# -- presenter notes --------------------------------------------------------------------------------------------

def test_presenter_notes_follow_the_slide(server, open_tab):
    slides = open_tab(HD)
    goto(slides, f"{server.url}/relative?lecture=true&slide=2")
    slide_state(slides, 2, timeout_s=60)
    room = parse_qs(urlparse(slides.url).query)["room"][0]
    notes = open_tab(HD)
    goto(notes, f"{server.url}/presenter-notes?room={room}")
    heading = notes.locator('[data-testid="stMain"] h3').first
    notes.wait_for_function("() => /Slide 2 of/.test(document.body.innerText)", timeout=15_000)
    assert "Shaw" in heading.inner_text()
    slides.bring_to_front()
    slides.keyboard.press("PageDown")
    wait_for_slide_param(slides, 3)
    notes.wait_for_function("() => /Slide 3 of/.test(document.body.innerText)", timeout=15_000)
    assert "Transformer-XL" in notes.locator('[data-testid="stMain"] h3').first.inner_text()
