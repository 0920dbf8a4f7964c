"""A class at once: many protocol sessions open the lesson pages together on a fresh server, then each
moves widgets for a while. Not one exception may reach a user.

Concurrent first runs used to race on lazy imports (``partially initialized module 'pandas'``), which
one session alone never shows. Both ways of starting the app are checked: ``serve.py`` (imports before
the server accepts a connection) and plain ``streamlit run app.py`` (app.py's cache_resource warm-up,
which later sessions wait on). Loopback only; every loop is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import apptools  # noqa: E402
import load_test  # noqa: E402

pytestmark = pytest.mark.load

SESSIONS = int(os.environ.get("POSVIZ_LOAD_SESSIONS", "24"))
SECONDS = float(os.environ.get("POSVIZ_LOAD_SECONDS", "12"))


@pytest.mark.parametrize("launcher", ["serve", "streamlit"])
def test_no_exception_when_a_class_opens_at_once(launcher):
    with apptools.streamlit_server(launcher=launcher, timeout=120) as server:
        r = asyncio.run(load_test.load(server.url, SESSIONS, SECONDS, 1.0, load_test.lesson_pages(),
                                       [server.proc.pid]))
    print(load_test.summary(r))
    assert not r["failures"], r["failures"][:5]
    assert not r["exceptions"], r["exceptions"][:5]
    assert r["changes"] >= SESSIONS, f"only {r['changes']} changes were made: the sessions did not get going"
