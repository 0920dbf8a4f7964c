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
    assert not load_test.not_going(r), load_test.not_going(r)


def test_make_app_opens_every_page_before_it_says_ready():
    """``serve.py`` (``make app``) opens each page once after its imports, so a lecturer's first click finds
    the defaults computed, and says so; every page of the router is opened, and none fails."""
    import protoclient

    async def first_visit(url):
        async with protoclient.Session(url) as s:
            return await s.open("real-rope-model")

    with apptools.streamlit_server(launcher="serve", timeout=120, env={"POSVIZ_WARM_PAGES": "1"}) as server:
        server.wait_for_log("posviz: ready", timeout=300)
        run = asyncio.run(first_visit(server.url))
        log = server.log()
    assert f"posviz: ready: all {len(apptools.PAGES)} pages opened once" in log, log[-2000:]
    assert "Traceback" not in log and "could not open" not in log, log[-3000:]
    print(f"§6c's first visit after ready: {run.seconds:.2f} s")
    assert run.status == "FINISHED_SUCCESSFULLY" and not run.exceptions() and not run.errors(), run.exceptions()


def test_the_protocol_client_keeps_the_message_cache_as_a_browser_does():
    """The load test's client sends back the hashes of the large messages it holds, as Chromium does
    (checked by hand on §3: 2 hashes with each rerun after the first), so unchanged figures come as
    references; it rebuilds them from its cache, and a fragment's run expires nothing."""
    import protoclient

    async def session(url):
        async with protoclient.Session(url) as s:
            first = await s.open("sinusoidal")
            assert len(s.cache) >= 1 and first.references == 0
            w = next(w for w in s.widgets.values() if w.type == "slider" and w.fragment_id)
            for state in (protoclient.moves(w, 1)[0], protoclient.default_state(w)) * 2:  # fragment runs
                await s.change(state)
            again = await s.rerun()
            assert again.references == len(s.cache) >= 1
            assert again.figures() == first.figures()
            assert again.bytes() < first.bytes() / 2
            for _ in range(protoclient.CACHE_AGE + 1):  # full runs age it: still in use, so still kept
                await s.rerun()
            assert (await s.rerun()).references >= 1

    with apptools.streamlit_server(launcher="serve", timeout=120) as server:
        asyncio.run(session(server.url))


def test_a_slow_machine_where_each_student_moves_once_still_counts_as_going():
    """CI once failed here for no fault: every first open filled the window, so each of the 20 sessions
    with widgets moved once, and 20 changes < 24 sessions. Sessions are counted, not changes."""
    slow = {"sessions": 4, "moved": ["s1", "s2"], "still": ["errata", "notes"]}
    assert load_test.not_going(slow) == []
    broken = {"sessions": 4, "moved": ["s1", "s2"], "still": ["errata", "s3"]}  # s3 showed no widget
    assert load_test.not_going(broken) == ["s3: no widget to move"]
    dropped = {"sessions": 4, "moved": ["s1"], "still": ["errata", "notes"]}  # one never moved
    assert len(load_test.not_going(dropped)) == 1
