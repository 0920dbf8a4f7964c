"""Presenter notes: the lesson text of the slide a lecture shows now, for a second screen or tab.

A slide view (lecture mode) publishes its page and slide under a room code (``ui_slides``); this
page, opened from the Notes of a slide with that code in its address, follows it every second.
"""

import streamlit as st

import ui
import ui_slides

page = ui.Page("notes", "Presenter notes")
room = st.query_params.get(ui_slides.ROOM_PARAM, "")


@st.fragment(run_every=1.0)
def follow(room: str):
    now = ui_slides.room_state(room)
    if now is None:
        return st.info(ui.lesson("notes")["waiting"], icon=":material/hourglass_empty:")
    k, titles = now["slide"], now["titles"]
    st.subheader(f"Slide {k} of {len(titles)}: {titles[k - 1]}", anchor=False)
    st.caption(f"{now['page']} · room {room} · " + (f"next: {titles[k]}" if k < len(titles) else "last slide"))
    for chunk in now["notes"]:
        text = ui.lesson(now["prefix"]).get(chunk, "")
        if chunk.endswith(".mistake"):
            st.warning(text, icon=":material/warning:")
        else:
            st.markdown(text)


if ui_slides.ROOM_RE.fullmatch(room):
    follow(room)
else:
    page.prose("intro")
