"""Corrections to common sources: each entry says what was claimed, what is right, and where the app
shows it; where posviz can check a correction cheaply (``posviz.errata``), the check runs here, live."""

import streamlit as st

import ui
from posviz import errata

page = ui.Page("errata", "Corrections to common sources")
page.prose("intro")


@ui.cached
def _yarn():
    return errata.yarn_split()


@ui.cached
def _ntk():
    return errata.ntk_base_evidence()


@ui.cached
def _t5():
    return errata.t5_reach()


@ui.cached
def _ladder():
    return errata.base_ladder()


@ui.cached
def _pairing():
    return errata.pairing_evidence()


@ui.cached
def _slowest():
    return errata.slowest_wavelength()


page.section("YaRN keeps the fast pairs and interpolates the slow ones", "yarn")
ui.check(_yarn().verdict)

page.section("The NTK-aware base for s = 2, d = 64 is about 20,452", "ntk")
ui.check(_ntk().verdict)

page.section("T5: bucketed relative biases, not sinusoids and not a clip", "t5")
ui.check(_t5().verdict)

page.section("Learned tables: GPT-1 yes, most of today's LLMs no", "learned")

page.section("Code Llama uses RoPE with base 1,000,000", "codellama")
ladder = _ladder()
st.table([{"base": f"{b:,.0f}", "slowest wavelength (positions)": f"{w:,.0f}",
           f"pairs that never turn in {ladder.context:,} tokens": f"{n} of {ladder.dim // 2}"}
          for b, w, n in zip(ladder.bases, ladder.slowest, ladder.never_turn)])

page.section("RoPE has two pairings", "pairings")
ui.check(_pairing().verdict)

page.section("Sinusoids: the slowest wavelength and tensor2tensor's layout", "sinusoid")
ui.check(_slowest().verdict)

page.section("Llama 3.1's bands and static NTK's origin", "llama31")

page.section("Perplexity tables that were never measured", "perplexity")

page.section("This app's own earlier text", "own")
