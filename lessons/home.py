"""Start page: what posviz teaches and how each kind of user can use it."""

import streamlit as st

import ui

st.title("posviz: how transformers know where tokens are")
st.markdown(ui.lesson("home")["intro"])
c1, c2, c3 = st.columns(3)
for col, key in zip((c1, c2, c3), ("student", "instructor", "quiz")):
    with col, st.container(border=True):
        st.markdown(ui.lesson("home")[key])
st.markdown(ui.lesson("home")["map"])
