"""Hostile URL values on a real server: every whole-number or decimal input given inf/nan/garbage,
user text with Markdown, a huge value. The page must answer with a message or a default, never an
exception (a bad value in a shared link would otherwise break the page for everyone who opens it).

Uses the protocol client (what a browser tab sends) against one freshly started server.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from urllib.parse import urlencode

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import apptools  # noqa: E402
import protoclient  # noqa: E402

pytestmark = pytest.mark.browser  # starts a server; runs with the browser tests

NON_FINITE = ["inf", "-inf", "Infinity", "nan", "1e999"]


def number_params() -> list[tuple[apptools.PageRow, str]]:
    return [(p, c.key) for p in apptools.PAGES if p.path.exists()
            for c in apptools.scan_widget_calls(p) if c.kind == "number"]


@pytest.fixture(scope="module")
def server():
    with apptools.streamlit_server(timeout=120) as s:
        yield s


async def _open(url: str, page: apptools.PageRow, query: dict):
    async with protoclient.Session(url) as s:
        run = await s.open(page.url_path, urlencode(query))
        texts = [el.markdown.body for _, el in run.elements() if el.WhichOneof("type") == "markdown"]
        alerts = [el.alert.body for _, el in run.elements() if el.WhichOneof("type") == "alert"]
        return run, texts, alerts


def test_every_number_input_is_covered():
    keys = {k for _, k in number_params()}
    assert {"s1_seed"} <= keys, f"the scan found no number inputs: {keys}"


@pytest.mark.parametrize("page,key", [pytest.param(p, k, id=k) for p, k in number_params()])
def test_non_finite_number_in_url(server, page, key):
    for value in NON_FINITE:
        run, _, alerts = asyncio.run(_open(server.url, page, {key: value}))
        assert not run.exceptions(), f"?{key}={value}: {run.exceptions()}"
        assert run.status == "FINISHED_SUCCESSFULLY", f"?{key}={value}: {run.status}"
        if value != "nan":
            said = [a for a in alerts if key in a]
            assert said or not any("inf" in a.lower() for a in alerts), alerts


def test_infinite_seed_is_dropped_and_said(server):
    page = next(p for p in apptools.PAGES if p.prefix == "s1")
    run, _, alerts = asyncio.run(_open(server.url, page, {"s1_seed": "inf"}))
    assert not run.exceptions()
    assert any("s1_seed" in a and "default" in a for a in alerts), alerts


def test_markdown_in_shared_sentence_is_literal(server):
    page = next(p for p in apptools.PAGES if p.prefix == "s1")
    evil = "![x](http://127.0.0.1:9/p.png) [a](https://h)"
    run, texts, _ = asyncio.run(_open(server.url, page, {"s1_text": evil}))
    assert not run.exceptions()
    shown = [t for t in texts if "Original" in t]
    assert shown and all(f"`{evil}`" in t for t in shown), shown
