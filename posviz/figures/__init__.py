"""Plotly figure builders: pure functions from posviz results to ``go.Figure``.

They never call Streamlit. Every builder takes a ``Style`` so the same
figure can be drawn for a laptop or for a lecture-hall projector.
"""

from .style import LECTURE, NORMAL, Style, style_for  # noqa: F401
