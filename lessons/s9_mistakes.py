"""§9 Common mistakes: all ten, each broken and fixed side by side on the same inputs, computed live."""

import streamlit as st

import ui
from posviz import mistakes
from posviz.figures import mistakes as figs

TAUGHT_IN = {"§1": ("lessons/s1_why_position.py", "Why position"),
             "§2": ("lessons/s2_definitions.py", "Formal definitions"),
             "§4": ("lessons/s4_learned.py", "Learned absolute"),
             "§5": ("lessons/s5_relative.py", "Relative positions"),
             "§6": ("lessons/s6_rope.py", "RoPE"),
             "§6b": ("lessons/s6b_rope_scaling.py", "Long-context RoPE scaling"),
             "§7": ("lessons/s7_alibi.py", "ALiBi"),
             "§8": ("lessons/s8_diagnostics.py", "Diagnostics")}
page = ui.Page("s9", "9 · Common mistakes")
page.prose("intro")
with st.expander("The ten at a glance", expanded=not ui.lecture()):
    st.markdown("| # | Mistake | Why it is wrong | Fix | Taught in |\n|---|---|---|---|---|\n" + "\n".join(
        "| " + " | ".join(m.row.values()) + " |" for m in mistakes.MISTAKES.values()))


@ui.figure
def demo_view(name, knobs, style):
    demo = mistakes.demo(name, **dict(knobs))
    return demo, figs.side_by_side(demo, style)


@page.slide
def mistake_demo(name):
    m = mistakes.MISTAKES[name]
    page.section(f"#{m.number} · {m.title}", name)
    v = page.controls(**{f"{name}_{key}": ui.Slider(k.label, k.lo, k.hi, k.default, step=k.step, help=k.help or None)
                         for key, k in m.knobs.items()})
    knobs = tuple((key, getattr(v, f"{name}_{key}")) for key in m.knobs)
    with ui.guard("Pick a value the slider offers (a shared link may carry one it does not)."):
        demo, fig = demo_view(name, knobs)
        ui.plot(fig)
        st.markdown(f"**The symptom:** {demo.symptom}.")
        left, right = st.columns(2)
        left.metric("With the mistake", mistakes.fmt(demo.broken_value))
        right.metric("Fixed", mistakes.fmt(demo.fixed_value))
        st.caption(demo.note)
        ui.check(demo.verdict)
    file, title = TAUGHT_IN[m.section]
    st.page_link(file, label=f"Taught in {m.section} · {title}. Fix: {m.fix}", icon=":material/school:")


for tab, name in zip(ui.tabs([f"{m.number} · {m.short}" for m in mistakes.MISTAKES.values()]), mistakes.MISTAKES):
    with tab:
        mistake_demo(name)
