"""posviz router: navigation, sidebar (lecture mode, device, reset) and page style.

The page scripts live in lessons/, not pages/: with a pages/ folder beside
this script, Streamlit's legacy discovery handles the very first request of a
freshly started server, answers a deep link with a "Page not found" dialog and
only then runs this router. No pages/ folder, no legacy mode.
"""

from pathlib import Path

import streamlit as st

import warmup


@st.cache_resource(show_spinner="Starting posviz (first visit after a restart)…")
def _warm() -> float:
    """Every session waits here until torch, plotly, pandas and posviz are fully imported (warmup.py),
    so no two sessions race on a half-imported module. Nothing heavy is imported above this line."""
    return warmup.import_heavy()


if warmup.WARMUP_PARAM not in st.query_params:  # serve.py's own visits (every page once at start) are not
    warmup.note_visitor()                         # visitors: its warm-up waits for theirs to pass
_warm()

import ui  # noqa: E402  (after the warm-up, on purpose)
import quiz_ui  # noqa: E402
from posviz import backend  # noqa: E402


@st.cache_resource(show_spinner=False)
def _tune_threads() -> int:
    """Once per process: torch threads for a server (``backend.tune_threads``), not on import of posviz."""
    return backend.tune_threads()


_tune_threads()

# (file, title, icon, url_path, widget-key prefix); the default page lives at "/"
PAGES = {
    "Start": [("lessons/home.py", "Welcome", ":material/school:", "", "home"),
              ("lessons/errata.py", "Corrections to common sources", ":material/fact_check:", "corrections",
               "errata"),
              ("lessons/presenter_notes.py", "Presenter notes", ":material/co_present:", "presenter-notes", "notes")],
    "Foundations": [
        ("lessons/s1_why_position.py", "1 · Why position", ":material/shuffle:", "why-position", "s1"),
        ("lessons/s2_definitions.py", "2 · Formal definitions", ":material/function:", "definitions", "s2"),
    ],
    "Absolute encodings": [
        ("lessons/s3_sinusoidal.py", "3 · Sinusoidal", ":material/waves:", "sinusoidal", "s3"),
        ("lessons/s4_learned.py", "4 · Learned absolute", ":material/table_rows:", "learned-absolute", "s4"),
    ],
    "Relative and rotary": [
        ("lessons/s5_relative.py", "5 · Relative positions", ":material/compare_arrows:", "relative", "s5"),
        ("lessons/s6_rope.py", "6 · RoPE", ":material/rotate_right:", "rope", "s6"),
        ("lessons/s6b_rope_scaling.py", "6b · Long-context RoPE scaling", ":material/open_in_full:",
         "rope-scaling", "s6b"),
        ("lessons/s6c_real_rope_model.py", "6c · A real RoPE model", ":material/memory:", "real-rope-model", "s6c"),
    ],
    "Biases, diagnostics, practice": [
        ("lessons/s7_alibi.py", "7 · ALiBi", ":material/trending_down:", "alibi", "s7"),
        ("lessons/s8_diagnostics.py", "8 · Diagnostics", ":material/troubleshoot:", "diagnostics", "s8"),
        ("lessons/s8b_real_model_probes.py", "8b · Probing a real model", ":material/biotech:", "real-model-probes",
         "s8b"),
        ("lessons/s9_mistakes.py", "9 · Common mistakes", ":material/bug_report:", "common-mistakes", "s9"),
        ("lessons/skill_check.py", "Skill check", ":material/quiz:", "skill-check", "quiz"),
        ("lessons/lab.py", "Extrapolation lab", ":material/science:", "extrapolation-lab", "lab"),
    ],
}

# Every screen, from a 390-px phone up: nothing wider than the viewport. Display formulas and tables
# scroll inside their own box; figures already take their column's width. A figure off screen is not painted:
# plotly sizes its box itself, so skipping it moves nothing, and each key press stops walking thousands of
# SVG paths below the window (Chromium's trace of §7's presses: compositor update + layerize 20 → 9 ms a press).
BASE_CSS = """
<style>
.katex-display { overflow-x: auto; overflow-y: hidden; max-width: 100%; padding: 0.1rem 0; }
[data-testid="stMarkdownContainer"] table { display: block; overflow-x: auto; max-width: 100%; }
[data-testid="stMarkdownContainer"] pre, [data-testid="stCode"] pre { overflow-x: auto; max-width: 100%; }
.stMainBlockContainer { min-width: 0; }
.js-plotly-plot .svg-container { content-visibility: auto; }
@media (max-width: 699px) {  /* an inline formula too wide for a phone scrolls in its own box */
  [data-testid="stMarkdownContainer"] .katex { display: inline-block; max-width: 100%; overflow-x: auto;
    overflow-y: hidden; vertical-align: middle; }
}
</style>
"""

# Type scales with the screen: 20 px at 1280×720, 30 px at 1920×1080 (the smaller of width and height
# decides), never below 16 px; ui_slides adds the slide layout on pages made of slides.
LECTURE_CSS = """
<style>
html { font-size: clamp(16px, min(1.5625vw, 2.778vh), 36px); }
.stApp, .stApp p, .stApp li, .stApp label, .stApp span { color: #000 !important; }
.stApp { background: #fff; }
.block-container { padding-top: 2.2rem; max-width: 100%; }
h1 { font-size: 2.6rem !important; } h2, h3 { font-size: 1.7rem !important; }
</style>
"""

# The tab's icon is served by this server: a Material icon name would make every student's browser fetch it
# from fonts.gstatic.com (an outside request, and a missing icon in a room without internet).
ICON = str(Path(__file__).resolve().parent / "assets" / "favicon.png")

# A shared lecture link (?lecture=true) opens with the sidebar folded away.
st.set_page_config(page_title="posviz · positional encodings", page_icon=ICON,
                   layout="wide", initial_sidebar_state="collapsed" if ui.lecture() else "auto")

prefix_of = {}
nav = {}
for group, rows in PAGES.items():
    nav[group] = []
    for path, title, icon, url, prefix in rows:
        page = st.Page(path, title=title, icon=icon, url_path=url, default=prefix == "home")
        prefix_of[page.url_path] = prefix
        nav[group].append(page)
# On a projector the page list moves to a top bar and the sidebar folds away.
current = st.navigation(nav, position="top" if ui.lecture() else "sidebar", expanded=True)  # list every page

with st.sidebar:
    ui.Toggle("Lecture mode", help="Each section becomes a slide that fits the projector: large type, high "
              "contrast, colour-blind-safe figures; PageDown/PageUp move between slides, the lesson text is "
              "under Notes.").place("lecture")
    st.caption(f"Computing on **{backend.describe()}**")
    st.button("Reset this page", icon=":material/restart_alt:", on_click=ui.reset_page,
              args=(prefix_of.get(current.url_path, "home"),), help="Put every widget on this page back "
              "to its default (the URL follows).")
    ui.Radio("Figure download", list(ui.EXPORT_FORMATS),
             help="What the camera button in a figure's toolbar saves, at projector size for your own slides: "
                  "PNG at 1920×1080 pixels, or SVG (vector).").place("export")
    st.caption("Every setting is in the address bar: copy the URL to share this exact view.")

st.html(BASE_CSS)
if ui.lecture():
    st.html(LECTURE_CSS)

ui.run_page(current)  # the page, then (lecture mode) its slide bar and the current slide

# The "Check yourself" block of the skill check, at the end of every lesson page that has a quiz section.
if prefix_of.get(current.url_path) in quiz_ui.PAGE_SECTION:
    quiz_ui.check_yourself(quiz_ui.PAGE_SECTION[prefix_of[current.url_path]], prefix=prefix_of[current.url_path])
