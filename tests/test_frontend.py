"""frontend.py: Streamlit's page, served with plotly.js imported once the websocket opens."""

from pathlib import Path

import pytest

import frontend

STREAMLIT_STATIC = Path(__import__("streamlit.file_util", fromlist=["x"]).get_static_dir())


def test_this_streamlit_has_one_plotly_chunk():
    """If a Streamlit upgrade renames the chunk, the early import turns itself off: this test says so."""
    chunk = frontend.plotly_chunk(STREAMLIT_STATIC)
    assert chunk is not None and chunk.startswith("PlotlyChart.")


def test_snippet_goes_into_the_head_once_and_keeps_the_page():
    page = "<html><head><title>x</title></head><body><div id=root></div></body></html>"
    out = frontend.with_early_plotly(page, "PlotlyChart.abc.js")
    head, body = out.split("</head>")
    assert frontend.MARK in head and 'import("./static/js/PlotlyChart.abc.js")' in head
    assert 'rel="modulepreload"' in head and '"open"' in head
    assert body == "<body><div id=root></div></body></html>"
    assert head.startswith("<html><head><title>x</title>")
    assert frontend.with_early_plotly(out, "PlotlyChart.abc.js") == out  # idempotent
    assert frontend.with_early_plotly("<p>no head</p>", "PlotlyChart.abc.js") == "<p>no head</p>"


def test_overlay_links_every_file_and_rewrites_only_the_index(tmp_path):
    served = frontend.overlay(STREAMLIT_STATIC, tmp_path / "static")
    assert served is not None
    names = {p.name for p in STREAMLIT_STATIC.iterdir()}
    assert {p.name for p in served.iterdir()} == names
    for p in served.iterdir():
        if p.name == "index.html":
            assert not p.is_symlink() and frontend.MARK in p.read_text()
        else:
            assert p.is_symlink() and p.resolve() == (STREAMLIT_STATIC / p.name).resolve()
    chunk = frontend.plotly_chunk(STREAMLIT_STATIC)
    assert (served / "static" / "js" / chunk).is_file()


def test_overlay_declines_a_frontend_it_does_not_know(tmp_path):
    (tmp_path / "own" / "static" / "js").mkdir(parents=True)
    (tmp_path / "own" / "index.html").write_text("<head></head>")
    assert frontend.overlay(tmp_path / "own", tmp_path / "out") is None  # no plotly chunk


@pytest.fixture
def restore_static_dir():
    from streamlit import file_util

    own = file_util.get_static_dir
    yield
    file_util.get_static_dir = own


def test_install_points_streamlit_at_the_overlay(restore_static_dir):
    from streamlit import file_util

    assert frontend.install()
    served = Path(file_util.get_static_dir())
    assert served != STREAMLIT_STATIC and frontend.MARK in (served / "index.html").read_text()
