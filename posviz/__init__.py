"""posviz: the compute library behind the posviz lesson app.

Every function here is pure torch/numpy (no Streamlit), takes a ``device``
and returns tensors, so the same numbers feed the pages, the tests and the
skill check.
"""
