"""Work Streamlit repeats on every widget change although its result cannot change, done once.

Streamlit starts every run, a fragment's included, with a ``new_session`` message
built on the server's event loop. Six of its parts are the theme sections, each
read by scanning all ~370 config options under the config lock
(``config.get_options_for_section``). py-spy with ``--gil`` on a server answering
cache-hit widget changes: 7% of the process's Python time was
``_populate_theme_msg``, for a message that is the same until the config changes.

:func:`memoize_theme_messages` keeps each section's message, serialized, and
merges it into the new message. It is rebuilt when the config changes: a
re-parse replaces the options dict, and ``set_option`` goes through
``_set_option``, which bumps a counter. Same bytes either way
(``tests/test_streamlit_speedups.py``). ``serve.py`` installs it; nothing in
posviz depends on it.
"""

from __future__ import annotations

import threading


def memoize_theme_messages() -> None:
    """Serve each theme section of Streamlit's ``new_session`` message from a memo (idempotent)."""
    from streamlit import config
    from streamlit.runtime import app_session

    build = app_session._populate_theme_msg
    if getattr(build, "memoized", False):
        return
    set_option = config._set_option
    changes = [0]  # bumped by every set_option
    memo: dict = {}  # (section, message type) -> (options dict, changes, serialized message)
    lock = threading.Lock()

    def counted_set_option(*args, **kwargs):
        with lock:
            changes[0] += 1
            memo.clear()
        return set_option(*args, **kwargs)

    def populate(msg, section: str = "theme") -> None:
        key, options = (section, type(msg)), config._config_options
        with lock:
            hit = memo.get(key)
            version = changes[0]
        if hit is None or hit[0] is not options or hit[1] != version:
            fresh = type(msg)()
            build(fresh, section)
            hit = (options, version, fresh.SerializeToString())
            with lock:
                if changes[0] == version:
                    memo[key] = hit
        msg.MergeFromString(hit[2])

    populate.memoized = True
    populate.__wrapped__ = build
    counted_set_option.__wrapped__ = set_option
    config._set_option = counted_set_option
    app_session._populate_theme_msg = populate
