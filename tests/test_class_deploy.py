"""The class deployment for real: several workers behind nginx, started the way `make class` does.

Checks that websockets pass through (a load of protocol sessions runs through the proxy with
no exception), that a browser's cookie keeps it on one worker, that new browsers go to the
worker with the fewest open pages, and that a forged cookie cannot pick a backend. Loopback
only; bounded loops.
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
    """The worker that answered (its address) and the cookie the proxy set."""
    req = urllib.request.Request(url + "/_stcore/health", headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(req, timeout=10) as r:
        sticky = next(c for c in r.headers.get_all("Set-Cookie") if c.startswith("posviz_worker="))
        return r.headers["X-Posviz-Worker"], sticky.split(";")[0]


def test_a_browser_stays_on_its_worker_and_new_ones_spread(deployment):
    first, cookie = worker_of(deployment.url)
    assert cookie in ("posviz_worker=w0", "posviz_worker=w1")
    assert first == deployment.worker_urls[int(cookie[-1])].removeprefix("http://")
    assert all(worker_of(deployment.url, cookie) == (first, cookie) for _ in range(10))
    spread = Counter(worker_of(deployment.url)[0] for _ in range(40))
    assert len(spread) == 2, f"40 new browsers all went to one worker: {spread}"


@pytest.mark.parametrize("forged", ["w9", "127.0.0.1:22", "posviz_pool", "w0, w1", "../w0"])
def test_a_cookie_that_names_no_worker_goes_to_the_pool(deployment, forged):
    worker, cookie = worker_of(deployment.url, f"posviz_worker={forged}")
    assert worker in [u.removeprefix("http://") for u in deployment.worker_urls]
    assert cookie in ("posviz_worker=w0", "posviz_worker=w1")


def test_open_pages_are_shared_evenly_between_the_workers(deployment):
    """least_conn counts open websockets: students opening the link one after another alternate
    between the workers, so the counts never differ by more than one (a hash of a random id
    put e.g. 28 of 50 on one worker; it would stay this even 20 times running ~1 time in 1,000)."""
    import websockets

    async def open_twenty():
        socks, gaps = [], []
        try:
            for _ in range(20):
                ws = await websockets.connect(deployment.url.replace("http", "ws") + "/_stcore/stream",
                                              subprotocols=["streamlit"], open_timeout=30)
                socks.append(ws)
                count = Counter(w.response.headers["X-Posviz-Worker"] for w in socks)
                gaps.append(max(count.values()) - (min(count.values()) if len(count) == 2 else 0))
            return count, gaps
        finally:
            for ws in socks:
                await ws.close()

    count, gaps = asyncio.run(open_twenty())
    assert max(gaps) <= 1 and sorted(count.values()) == [10, 10], (count, gaps)


def test_the_app_page_and_its_websocket_work_through_the_proxy(deployment):
    with urllib.request.urlopen(deployment.url + "/", timeout=10) as r:
        assert r.status == 200 and b"<div id=\"root\">" in r.read()
    r = asyncio.run(load_test.load(deployment.url, 16, 8, 1.0, load_test.lesson_pages(), deployment.pids))
    print(load_test.summary(r))
    assert not r["failures"] and not r["exceptions"], (r["failures"] + r["exceptions"])[:5]
    assert not load_test.not_going(r), load_test.not_going(r)


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


def test_a_browser_whose_worker_stopped_is_taken_over_by_a_live_one():
    """A worker that dies (or is restarted) must not leave its students on an error page until they clear
    their cookies: the proxy sends them to a live worker, which names itself in the cookie."""
    server = class_server.start(workers=2, port=apptools.free_port(), warm=False)
    try:
        first, cookie = worker_of(server.url, "posviz_worker=w0")
        assert cookie == "posviz_worker=w0" and first == server.worker_urls[0].removeprefix("http://")
        server.workers[0].kill()
        server.workers[0].wait(timeout=10)
        worker, cookie = worker_of(server.url, "posviz_worker=w0")
        assert cookie == "posviz_worker=w1" and worker.endswith(server.worker_urls[1].removeprefix("http://"))
        assert worker_of(server.url, cookie)[1] == "posviz_worker=w1"
        with urllib.request.urlopen(urllib.request.Request(server.url + "/", headers={"Cookie": "posviz_worker=w0"}),
                                    timeout=10) as r:
            assert r.status == 200 and b'<div id="root">' in r.read()

        async def websocket_with_stale_cookie():
            import websockets

            async with websockets.connect(server.url.replace("http", "ws") + "/_stcore/stream",
                                          subprotocols=["streamlit"], open_timeout=30,
                                          additional_headers={"Cookie": "posviz_worker=w0"}) as ws:
                return ws.response.headers["X-Posviz-Worker"]

        assert asyncio.run(websocket_with_stale_cookie()).endswith(server.worker_urls[1].removeprefix("http://"))
    finally:
        server.stop()
        shutil.rmtree(server.run_dir, ignore_errors=True)
