"""The extrapolation lab: tiny transformers trained per position scheme, measured past their training length.

The lesson's central claim about length extrapolation is usually backed by
tables quoted from papers. Here it is measured: a small byte-level decoder
(``model``) is trained at window L on the Python standard library's source
(``data``), once per scheme and seed (``train``), then evaluated at L, 2L, 4L
and 8L, with RoPE also extended by every method of ``scaling.METHODS`` and
fine-tuned with PI and YaRN (``runner``). ``live`` runs a small experiment in
a separate process for the app. Command line: ``python -m posviz.lab``.
"""
