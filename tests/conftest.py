"""Settings for the whole test session.

Learner progress goes to a throwaway SQLite file, never to a developer's ``~/.posviz/progress.db``
or to a class database named by ``POSVIZ_DB_URL``: the page tests answer questions, and every
Streamlit server a test starts inherits this environment. Tests of the store itself pass their
own URLs.
"""

import os
import shutil
import tempfile

_DIR = tempfile.mkdtemp(prefix="posviz-test-progress-")


def pytest_configure(config):
    os.environ["POSVIZ_DB"] = os.path.join(_DIR, "progress.db")
    os.environ.pop("POSVIZ_DB_URL", None)


def pytest_unconfigure(config):
    shutil.rmtree(_DIR, ignore_errors=True)
