"""Settings for the whole test session.

Learner progress goes to a throwaway SQLite file, never to a developer's ``~/.posviz/progress.db``
or to a class database named by ``POSVIZ_DB_URL``: the page tests answer questions, and every
Streamlit server a test starts inherits this environment. Tests of the store itself pass their
own URLs.
"""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

_DIR = tempfile.mkdtemp(prefix="posviz-test-progress-")


def pytest_configure(config):
    os.environ["POSVIZ_DB"] = os.path.join(_DIR, "progress.db")
    os.environ.pop("POSVIZ_DB_URL", None)


def pytest_unconfigure(config):
    shutil.rmtree(_DIR, ignore_errors=True)



def _browser_unavailable(reason: str):
    if os.environ.get("POSVIZ_REQUIRE_BROWSER") == "1":  # CI: a missing browser is a failure, not a skip
        pytest.fail(f"POSVIZ_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium through Playwright, one per test module (never `playwright install`)."""
    import apptools

    if not Path(apptools.CHROMIUM).exists():
        _browser_unavailable(f"{apptools.CHROMIUM} is missing (apt-get install chromium; never `playwright install`)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _browser_unavailable("the playwright package is not installed (pip install -r requirements-dev.txt)")
    with sync_playwright() as pw:
        b = apptools.launch_chromium(pw)
        yield b
        b.close()
