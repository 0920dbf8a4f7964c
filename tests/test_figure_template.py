"""``style.start_figures_with_posviz_template``: figures start from posviz's template, and are unchanged.

The app's server makes ``style.TEMPLATE`` plotly's default (``warmup.py``), so a
new figure no longer deep-copies plotly's large default template that ``finish``
replaces anyway. Every page is rendered through AppTest from each default
template, caches cleared in between; every figure must serialize to the same JSON.
"""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio
import pytest

import apptools
from posviz.figures import style

FIGURE_PAGES = [p for p in apptools.PAGES if p.path.exists() and apptools.page_has_figures(p)]


def _specs(prefix: str, default: str, monkeypatch, lecture: bool = False) -> list[str]:
    import streamlit as st

    import warmup

    warmup.import_heavy()  # the app sets its default here, once per process: let that happen first
    monkeypatch.setattr(pio.templates, "default", default)
    st.cache_resource.clear()
    at = apptools.open_app_page(prefix, lecture=lecture, timeout=180)
    assert pio.templates.default == default
    return [node.proto.spec for node in at.get("plotly_chart")]


@pytest.mark.pages
@pytest.mark.parametrize("page", [pytest.param(p, id=p.prefix) for p in FIGURE_PAGES])
def test_every_figure_is_the_same_from_either_default_template(page, monkeypatch):
    own = _specs(page.prefix, "plotly", monkeypatch)
    ours = _specs(page.prefix, "posviz", monkeypatch)
    assert own, f"{page.file}: no figures at default settings"
    assert ours == own


@pytest.mark.pages
def test_lecture_figures_are_the_same_from_either_default_template(monkeypatch):
    prefix = FIGURE_PAGES[0].prefix
    assert _specs(prefix, "posviz", monkeypatch, lecture=True) == _specs(prefix, "plotly", monkeypatch, lecture=True)


def test_the_app_starts_figures_from_the_posviz_template(monkeypatch):
    monkeypatch.setattr(pio.templates, "default", "plotly")
    style.start_figures_with_posviz_template()
    assert go.Figure().layout.template.to_plotly_json() == style.TEMPLATE.to_plotly_json()
