"""streamlit_speedups: each theme section of the new-session message comes from a memo, byte for byte
what Streamlit builds, and rebuilt when the config changes (set_option or a re-parse).

Runs in a child process: the memo replaces functions inside Streamlit for that process.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    from streamlit import config
    from streamlit.proto.NewSession_pb2 import CustomThemeConfig
    from streamlit.runtime import app_session
    import streamlit_speedups

    SECTIONS = ["theme", "theme.light", "theme.dark", "theme.sidebar", "theme.light.sidebar", "theme.dark.sidebar"]
    config.get_config_options()
    original = app_session._populate_theme_msg

    def built(populate):
        out = []
        for section in SECTIONS:
            msg = CustomThemeConfig()
            populate(msg, section)
            out.append(msg.SerializeToString())
        return out

    def same(label):
        want, got = built(original), built(app_session._populate_theme_msg)
        assert got == want, label
        return want

    config.set_option("theme.primaryColor", "#0072B2")
    config.set_option("theme.dark.primaryColor", "#E69F00")
    config.set_option("theme.sidebar.backgroundColor", "#eeeeee")
    config.set_option("theme.fontFaces", [{{"family": "X", "url": "http://x/x.woff2", "weight": 400}}])
    streamlit_speedups.memoize_theme_messages()
    streamlit_speedups.memoize_theme_messages()  # idempotent: wraps once
    assert app_session._populate_theme_msg.__wrapped__ is original
    first = same("memo")
    assert first[0] and first[2] and first[3], "the test's theme options reach the messages"
    assert same("memo again") == first
    config.set_option("theme.primaryColor", "#D55E00")
    changed = same("after set_option")
    assert changed[0] != first[0], "a set_option must reach the next message"
    config.get_config_options(force_reparse=True)  # a re-parse (config.toml edited) drops the options set above
    assert same("after re-parse") != changed
    print("ok")
""")


def test_theme_messages_are_streamlits_own_and_follow_config_changes():
    out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT))], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stdout + out.stderr


def test_serve_installs_it():
    assert "streamlit_speedups.memoize_theme_messages()" in (ROOT / "serve.py").read_text()
