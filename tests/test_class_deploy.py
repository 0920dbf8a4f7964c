"""The class deployment for real: several workers behind nginx, started the way `make class` does.

Checks that websockets pass through (a load of protocol sessions runs through the proxy with
no exception), that a browser's cookie keeps it on one worker, and that new browsers spread
over the workers. Loopback only; bounded loops.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "deploy"), str(ROOT / "benchmarks")]
import apptools  # noqa: E402
import class_server  # noqa: E402
import load_test  # noqa: E402

pytestmark = pytest.mark.load


@pytest.fixture(scope="module")
def deployment():
    if not Path(class_server.NGINX).exists():
        pytest.fail("nginx is missing: `make test` installs it as root (apt-get install nginx-light)")
    server = class_server.start(workers=2, port=apptools.free_port())
    yield server
    server.stop()
    shutil.rmtree(server.run_dir, ignore_errors=True)


def worker_of(url: str, cookie: str | None = None) -> tuple[str, str]:
    req = urllib.request.Request(url + "/_stcore/health", headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(req, timeout=10) as r:
        sticky = next(c for c in r.headers.get_all("Set-Cookie") if c.startswith("posviz_sticky="))
        return r.headers["X-Posviz-Worker"], sticky.split(";")[0]


def test_a_browser_stays_on_its_worker_and_new_ones_spread(deployment):
    first, cookie = worker_of(deployment.url)
    assert all(worker_of(deployment.url, cookie)[0] == first for _ in range(10))
    spread = Counter(worker_of(deployment.url)[0] for _ in range(40))
    assert len(spread) == 2, f"40 new browsers all went to one worker: {spread}"


def test_the_app_page_and_its_websocket_work_through_the_proxy(deployment):
    with urllib.request.urlopen(deployment.url + "/", timeout=10) as r:
        assert r.status == 200 and b"<div id=\"root\">" in r.read()
    r = asyncio.run(load_test.load(deployment.url, 16, 8, 1.0, load_test.lesson_pages(), deployment.pids))
    print(load_test.summary(r))
    assert not r["failures"] and not r["exceptions"], (r["failures"] + r["exceptions"])[:5]
    assert r["changes"] >= 16


def test_every_worker_starts_with_every_page_computed(deployment):
    """start() opened each page on each worker (warm_pages): §8b's defaults (SmolLM2, an entropy pass and
    a cached-decoding check, ~8 s on a cold worker) come back at once, on every worker."""
    import protoclient

    async def open_probes(url):
        async with protoclient.Session(url) as s:
            run = await s.open("real-model-probes")
            assert run.status == "FINISHED_SUCCESSFULLY" and not run.exceptions()
            return run.seconds

    for worker in deployment.worker_urls:
        assert asyncio.run(open_probes(worker)) < 2.0, f"{worker} computed §8b's defaults on the first visit"
