"""The Skill check in a real browser (headless Debian Chromium), in normal and lecture mode, and the
"Check yourself" block at the end of a lesson page.

Answers are given the way a learner gives them (click an option, type a number and press Enter);
the server writes to a throwaway SQLite file, which the tests read back. With POSVIZ_SHOTS=<dir>
the screenshots are kept there to look at; otherwise they go to pytest's temporary folder.

Skips when /usr/bin/chromium (or playwright) is missing, unless POSVIZ_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

import apptools
import quiz_ui
from posviz import quiz, store

pytestmark = pytest.mark.browser

T_MS = 90_000
VIEWPORT = {"width": 1280, "height": 2400}
VERDICT = '[data-testid="stAlertContentSuccess"], [data-testid="stAlertContentWarning"]'




@pytest.fixture(scope="module")
def progress_file(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("progress") / "progress.db"


@pytest.fixture(scope="module")
def server(browser, progress_file):
    with apptools.streamlit_server(env={"POSVIZ_DB": str(progress_file)}) as srv:
        yield srv


@pytest.fixture
def shots(tmp_path) -> Path:
    where = Path(os.environ.get("POSVIZ_SHOTS") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    return where


@pytest.fixture
def tab(browser, server):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(T_MS)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    def open_(path: str):
        resp = page.goto(f"{server.url}/{path}")
        assert resp is not None and resp.status == 200
        apptools.wait_idle(page, T_MS)
        return page

    open_.page, open_.errors = page, errors
    yield open_
    context.close()


def settle(page, seconds: float = 1.0) -> None:
    """Wait for the rerun a widget change starts, then for plotly to draw."""
    time.sleep(0.3)
    apptools.wait_idle(page, T_MS)
    time.sleep(seconds)


def set_name(page, name: str) -> None:
    box = page.locator(f".st-key-{quiz_ui.NAME} input")
    box.fill(name)
    box.press("Enter")
    settle(page)


def exceptions(page) -> list[str]:
    return page.locator('[data-testid="stException"]').all_inner_texts()


def test_skill_check_normal_mode(tab, shots, progress_file):
    n = next(k for k in range(200) if quiz_ui.quick_set(k)[0].choices and
             any(q.kind == "numeric" for q in quiz_ui.quick_set(k)))
    questions = quiz_ui.quick_set(n)
    page = tab(f"skill-check?quiz_set={n}")
    page.wait_for_selector(".js-plotly-plot")
    assert page.locator('[data-testid="stMain"] h1').inner_text().strip() == "Skill check"
    set_name(page, "Browser Ada")
    # a choice, by clicking the right option
    first = questions[0]
    option = page.locator(f".st-key-quiz_quick_{n}_0_{first.item_id} label").filter(has_text=first.answer[:40])
    option.first.click()
    settle(page)
    assert page.get_by_text("Right", exact=True).count() >= 1 or \
        "Right" in page.locator(f".st-key-quiz_quick_{n}_0_{first.item_id}").locator("xpath=..").inner_text()
    # a number, typed and sent with Enter
    k, q = next((k, q) for k, q in enumerate(questions) if q.kind == "numeric")
    box = page.locator(f".st-key-quiz_quick_{n}_{k}_{q.item_id} input")
    box.scroll_into_view_if_needed()
    box.fill(f"{q.answer:.8g}")
    box.press("Enter")
    settle(page, 2.0)
    body = page.locator('[data-testid="stMain"]').inner_text()
    assert "posviz's answer agrees with the formula worked by hand" in body
    apptools.wait_all_charts_drawn(page)
    assert page.locator(".js-plotly-plot").count() >= 3, "working, mastery and history figures"
    assert "2 right of 2 answered" in body
    page.screenshot(path=str(shots / "quiz_normal.png"))
    assert not exceptions(page) and not tab.errors
    saved = store.open_store(f"sqlite:///{progress_file}").answers("browser ada")
    assert {(a.item_id, a.correct) for a in saved} == {(first.item_id, True), (q.item_id, True)}


def test_skill_check_lecture_mode_one_question_then_reveal(tab, shots):
    q = quiz.generate("ntk_base", 3)
    page = tab("skill-check?quiz_item=ntk_base&quiz_seed=3&lecture=true")
    headings = page.locator('[data-testid="stMain"] h3').all_inner_texts()
    assert headings[0].strip() == "Instructor view"
    page.wait_for_function("() => parseFloat(getComputedStyle(document.documentElement).fontSize) > 16")
    projected = page.locator(".st-key-quiz_projected")
    assert "NTK-aware" in projected.inner_text()
    size = projected.locator("p").first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert size >= 26, f"the projected question is set at {size}px"
    assert "Answer:" not in page.locator('[data-testid="stMain"]').inner_text()
    page.locator(".st-key-quiz_reveal label").first.click()
    page.wait_for_url(re.compile(r"quiz_reveal=true"))
    settle(page, 2.0)
    revealed = page.locator(".st-key-quiz_revealed").inner_text()
    assert f"{q.answer:.6g}" in revealed
    apptools.wait_all_charts_drawn(page)
    assert page.locator(".js-plotly-plot").count() >= 1
    page.screenshot(path=str(shots / "quiz_lecture.png"))
    page.locator(".st-key-quiz_new_seed button").click()
    settle(page)
    assert "quiz_seed=4" in page.url and "quiz_reveal" not in page.url
    assert "Answer:" not in page.locator(".st-key-quiz_projected").inner_text()
    assert not exceptions(page) and not tab.errors


def test_check_yourself_block_on_a_lesson_page(tab, shots, progress_file):
    page = tab("definitions")
    block = page.get_by_role("heading", name="Check yourself")
    block.scroll_into_view_if_needed()
    set_name(page, "Browser Grace")
    q = quiz_ui.section_draw("2", 0)[0]
    widget = page.locator(f".st-key-s2_check_{q.item_id}_0")
    widget.scroll_into_view_if_needed()
    if q.choices:
        widget.locator("label").filter(has_text=q.answer[:40]).first.click()
    else:
        widget.locator("input").fill(f"{q.answer:.8g}")
        widget.locator("input").press("Enter")
    settle(page, 2.0)
    assert page.locator(VERDICT).filter(has_text="Right").count() >= 1
    widget.screenshot(path=str(shots / "check_yourself_question.png"))
    page.screenshot(path=str(shots / "check_yourself_page.png"))
    saved = store.open_store(f"sqlite:///{progress_file}").answers("browser grace")
    assert [(a.item_id, a.correct) for a in saved] == [(q.item_id, True)]
    assert not exceptions(page) and not tab.errors
