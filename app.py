"""posviz router: navigation, sidebar (lecture mode, device, reset) and page style.

Pages live in pages/ and are thin. Each ``url_path`` differs from its file's
stem on purpose: Streamlit's legacy ``pages/`` discovery would otherwise
claim a deep link on a freshly started server before this script runs.
"""

import streamlit as st

import ui
from posviz import backend

# (file, title, icon, url_path, widget-key prefix)
PAGES = {
    "Start": [("pages/home.py", "Welcome", ":material/school:", "welcome", "home")],
    "Foundations": [
        ("pages/s1_why_position.py", "1 · Why position", ":material/shuffle:", "why-position", "s1"),
        ("pages/s2_definitions.py", "2 · Formal definitions", ":material/function:", "definitions", "s2"),
    ],
    "Absolute encodings": [
        ("pages/s3_sinusoidal.py", "3 · Sinusoidal", ":material/waves:", "sinusoidal", "s3"),
        ("pages/s4_learned.py", "4 · Learned absolute", ":material/table_rows:", "learned-absolute", "s4"),
    ],
    "Relative and rotary": [
        ("pages/s5_relative.py", "5 · Relative positions", ":material/compare_arrows:", "relative", "s5"),
        ("pages/s6_rope.py", "6 · RoPE", ":material/rotate_right:", "rope", "s6"),
        ("pages/s6b_rope_scaling.py", "6b · Long-context RoPE scaling", ":material/open_in_full:",
         "rope-scaling", "s6b"),
        ("pages/s6c_real_rope_model.py", "6c · A real RoPE model", ":material/memory:", "real-rope-model", "s6c"),
    ],
}

LECTURE_CSS = """
<style>
html { font-size: 20px; }
.stApp, .stApp p, .stApp li, .stApp label, .stApp span { color: #000 !important; }
.stApp { background: #fff; }
.block-container { padding-top: 2.2rem; max-width: 100%; }
h1 { font-size: 2.0rem !important; } h2, h3 { font-size: 1.55rem !important; }
</style>
"""

# A shared lecture link (?lecture=true) opens with the sidebar folded away.
st.set_page_config(page_title="posviz · positional encodings", page_icon=":material/pin_drop:",
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
current = st.navigation(nav, position="top" if ui.lecture() else "sidebar")

with st.sidebar:
    ui.toggle("Lecture mode", key="lecture",
              help="Large type, high contrast, colour-blind-safe figures sized for a 1280×720 projector; "
                   "lesson text folds away.")
    st.caption(f"Computing on **{backend.describe()}**")
    st.button("Reset this page", icon=":material/restart_alt:", on_click=ui.reset_page,
              args=(prefix_of.get(current.url_path, "home"),), help="Put every widget on this page back "
              "to its default (the URL follows).")
    st.caption("Every setting is in the address bar: copy the URL to share this exact view.")

if ui.lecture():
    st.html(LECTURE_CSS)

current.run()
