"""frontend.py: Streamlit's page, served with plotly.js imported once the websocket opens and holding only posviz's
trace types, charts drawn once, only what changed rendered again and a key press sent at once."""

import re
from pathlib import Path

import pytest

import frontend

STREAMLIT_STATIC = Path(__import__("streamlit.file_util", fromlist=["x"]).get_static_dir())


def test_this_streamlit_has_one_plotly_chunk():
    """If a Streamlit upgrade renames the chunk, the early import turns itself off: this test says so."""
    chunk = frontend.plotly_chunk(STREAMLIT_STATIC)
    assert chunk is not None and chunk.startswith("PlotlyChart.")


def test_snippet_goes_into_the_head_once_and_keeps_the_page():
    page = "<html><head><title>x</title></head><body><div id=root></div></body></html>"
    out = frontend.with_early_plotly(page, "PlotlyChart.abc.js")
    head, body = out.split("</head>")
    assert frontend.MARK in head and 'import("./static/js/PlotlyChart.abc.js")' in head
    assert 'rel="modulepreload"' in head and '"open"' in head
    assert body == "<body><div id=root></div></body></html>"
    assert head.startswith("<html><head><title>x</title>")
    assert frontend.with_early_plotly(out, "PlotlyChart.abc.js") == out  # idempotent
    assert frontend.with_early_plotly("<p>no head</p>", "PlotlyChart.abc.js") == "<p>no head</p>"


CHART = Path("static", "js", frontend.plotly_chunk(STREAMLIT_STATIC))
APP = Path("static", "js", frontend.app_chunk(STREAMLIT_STATIC))


def test_this_streamlit_has_one_entry_chunk():
    assert APP.name.startswith("index.") and (STREAMLIT_STATIC / APP).is_file()


def test_overlay_links_every_file_and_rewrites_only_the_index_and_the_patched_chunks(tmp_path):
    served = frontend.overlay(STREAMLIT_STATIC, tmp_path / "static")
    assert served is not None
    rewritten = {Path("index.html"), CHART, APP}
    files = {p.relative_to(STREAMLIT_STATIC) for p in STREAMLIT_STATIC.rglob("*") if p.is_file()}
    for rel in files:
        mine = served / rel
        assert mine.is_file(), rel
        if rel in rewritten:
            assert not mine.is_symlink()
        else:  # a link itself, or inside a linked folder
            assert mine.resolve() == (STREAMLIT_STATIC / rel).resolve(), rel
    assert frontend.MARK in (served / "index.html").read_text()
    chart = frontend.patched(frontend.patched((STREAMLIT_STATIC / CHART).read_text()), frontend.OFFSCREEN_PATCHES)
    assert (served / CHART).read_text() == frontend.patched(chart, frontend.LEAN_PATCHES)  # its three groups
    app = frontend.patched((STREAMLIT_STATIC / APP).read_text(), frontend.APP_PATCHES)
    assert (served / APP).read_text() == frontend.patched(app, frontend.SEND_PATCHES)  # both groups
    unpatched = frontend.overlay(STREAMLIT_STATIC, tmp_path / "plain", patch=())
    assert (unpatched / "static").is_symlink() and not (unpatched / "index.html").is_symlink()
    chart_only = frontend.overlay(STREAMLIT_STATIC, tmp_path / "chart", patch=("chart",))
    assert not (chart_only / CHART).is_symlink() and (chart_only / APP).resolve() == (STREAMLIT_STATIC / APP).resolve()


@pytest.mark.parametrize("setting, groups", [("all", ("chart", "offscreen", "app", "send", "lean")), ("none", ()),
                                             ("chart", ("chart",)), ("app, chart", ("chart", "app")),
                                             ("offscreen", ("offscreen",)), ("bogus", ())])
def test_the_setting_picks_groups_of_patches(setting, groups):
    assert frontend.patch_groups(setting) == groups


def test_the_chart_patches_match_this_streamlit_once_each():
    """If a Streamlit upgrade changes its chart, the patches turn themselves off: this test says so."""
    source = (STREAMLIT_STATIC / CHART).read_text()
    assert len(frontend.CHART_PATCHES) == 3
    for patch in frontend.CHART_PATCHES:
        assert len(patch.pattern.findall(source)) == 1, patch.why
    out = frontend.patched(source)
    assert out is not None and len(out) > len(source)
    assert "!e.spec.includes(`#0000`)?O:Le(O,e.theme,c)" in out  # first state: the parsed spec
    assert "F(t=>e.theme===`streamlit`?Le(t,e.theme,c):t)" in out  # the theme effect keeps the state
    assert "children:N.layout.width===void 0?i(`div`,{style:{height:N.layout.height??450}}):i(q,{" in out
    assert frontend.patched(out) is None  # applied once, never on top of itself


def test_the_offscreen_patch_matches_this_streamlit_once():
    """A plot's first draw waits for ``posvizWhenNear`` (defined by the page's snippet); later draws do not wait,
    nor does a plot whose page lacks the snippet. If a Streamlit upgrade changes react-plotly's update, it turns off."""
    source = (STREAMLIT_STATIC / CHART).read_text()
    for patch in frontend.OFFSCREEN_PATCHES:
        assert len(patch.pattern.findall(source)) == 1, patch.why
    out = frontend.patched(source, frontend.OFFSCREEN_PATCHES)
    assert out is not None
    assert ("v.current=v.current.then(()=>!x.current&&_.current&&!_.current._fullLayout"
            "&&window.posvizWhenNear?.(_.current)).then(()=>{if(!x.current){") in out
    assert frontend.patched(out, frontend.OFFSCREEN_PATCHES) is None  # applied once, never on top of itself
    assert frontend.patched(frontend.patched(source), frontend.OFFSCREEN_PATCHES) is not None  # on top of the chart's
    page = frontend.with_early_plotly("<head></head>", "PlotlyChart.abc.js")
    assert "window.posvizWhenNear = (el) =>" in page and "requestIdleCallback(go, { timeout: 1500 })" in page
    assert "catch (e) { done() }" in page  # a failure draws at once, never leaves a chart blank


def test_the_app_patches_match_this_streamlit_once_each():
    """If a Streamlit upgrade changes its element, block or sidebar renderers, these patches turn themselves off."""
    source = (STREAMLIT_STATIC / APP).read_text()
    for patch in frontend.APP_PATCHES:
        assert len(patch.pattern.findall(source)) == 1, patch.why
    out = frontend.patched(source, frontend.APP_PATCHES)
    assert out is not None
    memoized = re.findall(r"([\w$]+)\.posvizMemo\?\?=\(0,U\.memo\)\(\1\)", out)
    assert len(memoized) == 4 and out.count("posvizMemo") == 4, memoized  # element, vertical + flex block, sidebar
    assert "children:c(zg.posvizMemo??=(0,U.memo)(zg),{...e,isStale:o})" in out
    assert "F&&c($w.posvizMemo??=(0,U.memo)($w),{endpoints:e,collapseSidebar:M," in out
    assert frontend.patched(out, frontend.APP_PATCHES) is None  # applied once, never on top of itself


def test_the_send_patch_matches_this_streamlit_once():
    """A widget's change is sent from the first of a frame callback and Streamlit's timer, once: the timer ran
    only after the frame that painted the moved slider (20-25 ms after the key in Chromium's trace). The message
    then carries the address bar's query, not the app's React copy of it, which is a render behind."""
    source = (STREAMLIT_STATIC / APP).read_text()
    for patch in frontend.SEND_PATCHES:
        assert len(patch.pattern.findall(source)) == 1, patch.why
    out = frontend.patched(source, frontend.SEND_PATCHES)
    assert out is not None and "setTimeout(()=>{this.sendUpdateWidgetsMessage" not in out
    assert ("this.flushScheduled=!0,(()=>{let sent=!1,send=()=>{if(!sent){sent=!0;this.sendUpdateWidgetsMessage("
            "this.scheduledFragmentId),") in out
    assert "this.hasFragmentIdConflict=!1}};setTimeout(send,0);window.requestAnimationFrame?.(send)})())" in out
    # the address the message carries: the address bar's (where Streamlit writes at once), unless embedded
    assert ("getQueryString=()=>{let{queryParams:e}=this.state,t=window.parent!==window&&e&&e.length>0?e:"
            "document.location.search;") in out
    assert frontend.patched(out, frontend.SEND_PATCHES) is None  # applied once, never on top of itself
    assert frontend.patched(frontend.patched(source, frontend.APP_PATCHES), frontend.SEND_PATCHES) is not None


def test_the_lean_patch_registers_only_posviz_trace_types_in_this_streamlit():
    """plotly.js evaluates only the trace modules posviz draws; the list agrees with the one ``freeze`` enforces.
    If a Streamlit upgrade changes plotly's entry module, the patch turns itself off: this test says so."""
    from posviz.figures import style

    assert {"scatter", *frontend.PLOTLY_TRACES} == style.TRACE_TYPES
    source = (STREAMLIT_STATIC / CHART).read_text()
    for patch in frontend.LEAN_PATCHES:
        assert len(patch.pattern.findall(source)) == 1, patch.why
    register = re.search(r'\{"lib/index\.js"[^}]*?\.register\(\[([^\]]*)\]\)', source)[1].split(",")
    assert len(register) > 40  # every trace type plotly.js ships, and its calendars
    out = frontend.patched(source, frontend.LEAN_PATCHES)
    assert out is not None and len(out) < len(source)
    kept = re.search(r'\{"lib/index\.js"[^}]*?\.register\(\[([^\]]*)\]\)', out)[1].split(",")
    files = [re.search(r'[,;{ ]' + re.escape(call[:-2]) + r'=[\w$]+\(\{"(lib/[\w]+\.js)"', source)[1] for call in kept]
    assert files == ["lib/bar.js", "lib/heatmap.js"]
    assert frontend.patched(out, frontend.LEAN_PATCHES) is None  # applied once, never on top of itself
    assert frontend.patched(frontend.patched(frontend.patched(source), frontend.OFFSCREEN_PATCHES),
                            frontend.LEAN_PATCHES) is not None  # on top of the chart's and the offscreen patches
    # a module the list names but the source lacks leaves the call as it was
    fake = '{"lib/index.js"(e,t){var n=bu();n.register([Iu(),hee(),yd(),Ad()])}'
    assert frontend.patched(fake, frontend.LEAN_PATCHES) == fake
    defined = 'Iu=_({"lib/bar.js"(e,t){}}),yd=_({"lib/heatmap.js"(e,t){}});' + fake
    assert frontend.patched(defined, frontend.LEAN_PATCHES).endswith("n.register([Iu(),yd()])}")


def test_the_chart_patches_decline_anything_else(tmp_path):
    assert frontend.patched("") is None
    one = "return n?ve(n):Le(O,e.theme,c)}"
    effect = ";(0,P.useEffect)(()=>{F(t=>Le(t,e.theme,c))},[e.id,c,e.theme])"
    plot = ";return i(be,{children:i(q,{data:N.data,layout:N.layout,config:B})})"
    assert frontend.patched(one + plot) is None  # the effect is missing: nothing is patched
    assert frontend.patched(one + effect + plot) is not None
    assert frontend.patched((one + effect + plot) * 2) is None  # twice: not the file it was written for
    js = tmp_path / "own" / "static" / "js"
    js.mkdir(parents=True)
    (js / "PlotlyChart.abc.js").write_text("unknown")
    (tmp_path / "own" / "index.html").write_text("<head></head>")
    served = frontend.overlay(tmp_path / "own", tmp_path / "out")
    assert (served / "static").is_symlink()  # another release's chart: served as shipped


def test_streamlit_colour_placeholders_all_start_as_the_patch_expects():
    """The first-state patch skips Streamlit's copy only for a spec without ``#0000``: every
    placeholder its theme code swaps must start that way, or the skip would change a figure."""
    source = (STREAMLIT_STATIC / CHART).read_text()
    start = source.index("function ke(e,t,n){return e=Oe(e,t,n)")
    body = source[source.rindex("function Te(e,t,n)", 0, start):start]
    placeholders = set(re.findall(r"[ ,]\w=`(#[0-9a-fA-F]{6})`", body))
    assert len(placeholders) >= 30 and all(p.startswith("#0000") for p in placeholders)


def test_overlay_declines_a_frontend_it_does_not_know(tmp_path):
    (tmp_path / "own" / "static" / "js").mkdir(parents=True)
    (tmp_path / "own" / "index.html").write_text("<head></head>")
    assert frontend.overlay(tmp_path / "own", tmp_path / "out") is None  # no plotly chunk


@pytest.fixture
def restore_static_dir():
    from streamlit import file_util

    own = file_util.get_static_dir
    yield
    file_util.get_static_dir = own


def test_install_points_streamlit_at_the_overlay(restore_static_dir):
    from streamlit import file_util

    assert frontend.install()
    served = Path(file_util.get_static_dir())
    assert served != STREAMLIT_STATIC and frontend.MARK in (served / "index.html").read_text()
