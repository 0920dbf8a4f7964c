"""The lecture-slide machinery (``ui_slides``, ``ui.Page.slide``) without a browser.

AppTest runs the whole router in lecture mode (it cannot show what CSS hides: that is
``test_browser_layout.py``'s job), and the pieces are tested on their own: the QR code decodes to
the link, presenter rooms are bounded, the CSS shows exactly one slide.

Run only these:  .venv/bin/python -m pytest -q tests/test_slides.py
"""

from __future__ import annotations

import json
import re
import threading

import numpy as np
import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

import apptools  # noqa: E402
import ui_slides  # noqa: E402

S5_TITLES = ["Relative bias matrices", "Shaw-style clipped relative keys", "Transformer-XL: four score terms",
             "Transformer-XL: segment memory", "T5 log buckets", "When relative helps: the shift test"]


def lecture(prefix: str, **kw) -> AppTest:
    return apptools.open_app_page(prefix, lecture=True, **kw)


def blocks(at, key_part: str) -> list:
    """Blocks (containers) whose widget key contains ``key_part``, in page order."""
    out = []

    def walk(node):
        proto = getattr(node, "proto", None)
        if getattr(node, "type", None) == "flex_container" and key_part in str(getattr(proto, "id", "")):
            out.append(node)
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at.main)
    return out


def widget_keys(node) -> list[str]:
    keys = []

    def walk(n):
        if getattr(n, "key", None) and getattr(n, "type", None) not in ("flex_container",):
            keys.append(n.key)
        for child in getattr(n, "children", {}).values():
            walk(child)

    walk(node)
    return keys


def types(node) -> list[str]:
    """Element types inside a block, depth first."""
    out = []
    for child in getattr(node, "children", {}).values():
        out.append(getattr(child, "type", ""))
        out.extend(types(child))
    return out


def param(at, name: str) -> str | None:
    value = at.query_params.get(name)
    return value[-1] if isinstance(value, list) else value


def styles(at) -> str:
    return "\n".join(h.proto.body for h in at.get("html"))


def shown(at) -> list[int]:
    """The slide numbers the page's CSS leaves visible."""
    return [int(k) for k in re.findall(r":not\(\.st-key-posviz-slide-(\d+),", styles(at))]


# -- the deck: one slide per section, a bar, one slide shown ---------------------------------------------

def test_lecture_mode_makes_one_slide_per_section():
    at = lecture("s5")
    goto = [b for b in at.button if (b.key or "").startswith("posviz_goto_")]
    assert [b.label for b in goto] == [f"{i} · {t}" for i, t in enumerate(S5_TITLES, 1)]
    assert len(blocks(at, "posviz-slide-")) == len(S5_TITLES)
    assert shown(at) == [1]
    assert at.button(key="posviz_prev").disabled and not at.button(key="posviz_next").disabled
    # Only the shown slide's figures are sent (ui.plot: a hidden slide's figure would be laid out at a width
    # it is never shown at); walking the deck shows every figure of the page, as many as in normal mode.
    total = 0
    for k in range(1, len(S5_TITLES) + 1):
        at.button(key=f"posviz_goto_{k}").click().run()
        sent = len(at.get("plotly_chart"))
        assert shown(at) == [k] and sent == types(blocks(at, f"posviz-slide-{k}")[0]).count("plotly_chart")
        total += sent
    assert total == len(apptools.open_app_page("s5").get("plotly_chart"))


def test_the_slide_shown_is_sent_before_the_page_runs(monkeypatch):
    """In a change of slide the new slide must be visible when its figures arrive (a figure mounted in a
    hidden slide is laid out at another width, and plotly can keep its legend there): the rule that shows
    it is sent before the page's elements; the bar and the slide's own CSS follow them."""
    import ui

    calls = []
    monkeypatch.setattr(ui, "lecture", lambda: True)
    monkeypatch.setattr(ui_slides, "show_requested", lambda: calls.append("show the slide"))
    monkeypatch.setattr(ui_slides, "finish", lambda deck: calls.append("bar"))
    ui.run_page(type("Page", (), {"run": lambda self: calls.append("page")})())
    assert calls == ["show the slide", "page", "bar"]
    monkeypatch.setattr(ui, "lecture", lambda: False)
    calls.clear()
    ui.run_page(type("Page", (), {"run": lambda self: calls.append("page")})())
    assert calls == ["page", "bar"]


def test_next_previous_and_overview_move_the_slide():
    at = lecture("s5")
    at.button(key="posviz_next").click().run()
    assert param(at, "slide") == "2" and shown(at) == [2]
    at.button(key="posviz_goto_6").click().run()
    assert param(at, "slide") == "6" and shown(at) == [6]
    assert at.button(key="posviz_next").disabled and not at.button(key="posviz_prev").disabled
    at.button(key="posviz_left").click().run()  # the hidden ← button, which the arrow key presses
    assert param(at, "slide") == "5" and shown(at) == [5]
    assert not at.exception


@pytest.mark.parametrize("raw, want", [("99", 6), ("0", 1), ("-2", 1), ("abc", 1), ("1e3", 1), ("", 1)])
def test_a_slide_number_outside_the_deck_is_put_right(raw, want):
    at = lecture("s5", query={"slide": raw})
    assert shown(at) == [want] and param(at, "slide") == str(want)


def test_a_link_without_a_slide_number_opens_the_slide_of_its_widgets():
    """A lecture link made before pages had slides (``?s5_shaw_len=13&lecture=true``) still opens the
    section it set up."""
    at = lecture("s5", query={"s5_shaw_len": "13"})
    assert shown(at) == [2] and param(at, "slide") == "2"
    assert shown(lecture("s5")) == [1]


def test_slide_layout_puts_controls_and_checks_beside_the_figure():
    at = lecture("s5")
    side, main = blocks(at, "posviz-side-1")[0], blocks(at, "posviz-main-1")[0]
    assert {"s5_bias_index", "s5_bias_table", "s5_bias_seed", "s5_bias_heads", "s5_bias_len", "s5_bias_k"} \
        <= set(widget_keys(side))
    assert not widget_keys(main)
    assert {"success", "warning"} & set(types(side)), "the slide's live check is not in its side column"
    assert not {"success", "warning"} & set(types(main)), "a live check stayed under the figure"
    # Controls a page laid out in its own columns (§3 "pairs") are gathered into the side column too.
    at3 = lecture("s3")
    assert {"s3_pair_dim", "s3_pair_i", "s3_pair_n"} <= set(widget_keys(blocks(at3, "posviz-side-2")[0]))


def test_notes_hold_the_lesson_text_intro_and_mistake():
    at = lecture("s5")
    md = [m.value for m in at.markdown]
    import ui

    text = ui.lesson("s5")
    assert text["bias"] in md and text["intro"] in md
    warnings = [w.value for w in at.warning]
    assert text["memory.mistake"] in warnings
    room = param(at, "room")
    state = ui_slides.room_state(room)
    assert state["slide"] == 1 and state["titles"] == S5_TITLES and state["notes"] == ["intro", "bias"]
    at.button(key="posviz_goto_4").click().run()
    assert ui_slides.room_state(room)["notes"] == ["memory", "memory.mistake"]


def test_presenter_notes_page_follows_a_room():
    at = lecture("s5", query={"slide": "3"})
    room = param(at, "room")
    notes = apptools.open_app_page("notes", query={"room": room})
    heads = [h.value for h in notes.subheader]
    assert heads == ["Slide 3 of 6: Transformer-XL: four score terms"], heads
    import ui

    assert ui.lesson("s5")["xl"] in [m.value for m in notes.markdown]
    unknown = apptools.open_app_page("notes", query={"room": "zzzzzz"})
    assert [i.value for i in unknown.info] == [ui.lesson("notes")["waiting"]]


def test_link_of_a_slide_carries_the_state_not_the_room():
    at = lecture("s5", query={"s5_shaw_len": "13"})
    links = [c.value for c in at.code]
    assert len(links) == len(S5_TITLES)
    for k, link in enumerate(links, 1):
        assert link.endswith(f"?s5_shaw_len=13&lecture=true&slide={k}"), link
        assert "room=" not in link


def test_normal_mode_has_no_bar_and_the_same_page():
    at = apptools.open_app_page("s5")
    assert not [b for b in at.button if (b.key or "").startswith("posviz_")]
    assert not shown(at) and "room" not in at.query_params
    assert [e.label for e in at.expander] == []  # prose is shown as text, not folded


def test_tabs_become_slides_in_lecture_mode():
    at = lecture("s9")
    assert not at.tabs
    assert len([b for b in at.button if (b.key or "").startswith("posviz_goto_")]) == 10
    assert len(apptools.open_app_page("s9").tabs) == 10


def test_figure_download_at_projector_size():
    for state, fmt in (({}, "png"), ({"export": "SVG"}, "svg")):
        at = apptools.open_app_page("s5", state=state)
        config = json.loads(at.get("plotly_chart")[0].proto.config)
        opts = config["toImageButtonOptions"]
        assert opts["format"] == fmt
        assert (opts["width"] * opts["scale"], opts["height"] * opts["scale"]) == (1920, 1080)


# -- a page that has not marked its sections as slides keeps the document layout --------------------------

UNCONVERTED = """
import streamlit as st
import ui, ui_slides
ui_slides.show_requested()  # as ui.run_page does in lecture mode
page = ui.Page("s5", "Unconverted")
page.prose("intro")

@st.fragment
def part():
    page.section("Relative bias matrices", "bias")
    page.control("x", ui.Slider("x", 0, 9, 3))

part()
ui_slides.finish(page.deck)
"""


def test_a_page_without_slides_keeps_the_document_layout_in_lecture_mode():
    at = AppTest.from_string(UNCONVERTED, default_timeout=60)
    at.session_state["lecture"] = True
    at.run()
    assert not at.exception
    assert [e.label for e in at.expander] == ["Notes for this part", "Notes for this part"]
    # The slide rule is there but inert: it applies only where the main area holds a slide, and none does.
    assert not at.button and not blocks(at, "posviz-slide-")
    assert shown(at) == [1] and ':has([class*="st-key-posviz-slide-"])' in styles(at)
    converted = AppTest.from_string(UNCONVERTED.replace("@st.fragment", "@page.slide"), default_timeout=60)
    converted.session_state["lecture"] = True
    converted.run()
    assert not converted.exception
    assert shown(converted) == [1] and converted.button(key="posviz_next").disabled
    assert "s5_x" in widget_keys(blocks(converted, "posviz-side-1")[0])


# -- the pieces ----------------------------------------------------------------------------------------------

def decode(matrix) -> list[str]:
    zxingcpp = pytest.importorskip("zxingcpp")
    m = np.pad(np.asarray([list(row) for row in matrix], dtype=np.uint8), 4)  # the quiet zone
    img = np.where(m == 1, 0, 255).astype(np.uint8).repeat(6, axis=0).repeat(6, axis=1)
    return [r.text for r in zxingcpp.read_barcodes(img)]


@pytest.mark.parametrize("link", [
    "http://127.0.0.1:8501/relative?lecture=true&slide=2",
    "https://class.example.org/rope-scaling?s6b_dim=96&s6b_base=500%2C000&s6b_methods=yarn&s6b_methods=llama3"
    "&s6b_yarn_beta_fast=16.0&lecture=true&slide=4",
    "http://localhost:8501/why-position?s1_text=" + "%20".join(["dog", "bites", "man"] * 40) + "&lecture=true&slide=1",
])
def test_qr_code_decodes_to_the_link(link):
    assert decode(ui_slides.qr_code(link).matrix) == [link]
    svg = ui_slides.qr_svg(link)
    assert svg.startswith("<svg") and "</svg>" in svg


def test_rooms_are_bounded_and_keep_the_latest():
    rooms = ui_slides.Rooms(limit=8)
    for i in range(20):
        rooms.publish(f"r{i:05d}", {"slide": i})
    assert rooms.get("r00000") is None and rooms.get("r00019") == {"slide": 19}
    assert len([i for i in range(20) if rooms.get(f"r{i:05d}")]) == 8
    rooms.publish("r00012", {"slide": 99})  # republished: now the newest, kept
    for i in range(20, 27):
        rooms.publish(f"r{i:05d}", {"slide": i})
    assert rooms.get("r00012") == {"slide": 99}
    threads = [threading.Thread(target=lambda j=j: [rooms.publish(f"t{j}{i:04d}", {}) for i in range(200)])
               for j in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(rooms.get(f"t{j}{i:04d}") is not None for j in range(4) for i in range(200)) == 8


def test_room_codes_are_checked():
    assert ui_slides.room_state("../etc") is None and ui_slides.room_state("") is None
    assert ui_slides.ROOM_RE.fullmatch("a2b3c4") and not ui_slides.ROOM_RE.fullmatch("A2B3C4D")


def test_show_only_hides_every_other_slide():
    css = ui_slides.show_only(3)
    assert ".st-key-posviz-slide-3" in css and "slide-2" not in css and "display: none" in css
