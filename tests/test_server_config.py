"""The class server's settings are stated, not left to defaults that a Streamlit upgrade could change."""

import tomllib
from pathlib import Path

CONFIG = tomllib.loads((Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml").read_text())


def test_xsrf_and_cors_protection_are_explicitly_on():
    assert CONFIG["server"]["enableXsrfProtection"] is True
    assert CONFIG["server"]["enableCORS"] is True


def test_no_tracebacks_or_file_watching_for_users():
    assert CONFIG["client"]["showErrorDetails"] == "type"
    assert CONFIG["server"]["fileWatcherType"] == "none"
    assert CONFIG["runner"]["postScriptGC"] is False


def test_serve_sets_tcp_nodelay_on_accepted_sockets():
    """asyncio skips TCP_NODELAY for sockets created with proto 0 (Streamlit's); serve.py's hook does not."""
    import socket

    import serve

    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # proto 0, like Streamlit's listening socket
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    cli = socket.create_connection(srv.getsockname())
    conn, _ = srv.accept()
    try:
        assert conn.proto == 0
        serve._set_nodelay(conn)
        assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        for s in (conn, cli, srv):
            s.close()


def test_the_page_warm_up_holds_off_while_a_visitor_has_just_started_a_run(monkeypatch):
    """serve.py opens each page only once no visitor's run has started for ``quiet_s``; never longer than
    ``longest_s`` in all, and at once when nobody came."""
    import time

    import warmup

    monkeypatch.setattr(warmup, "_last_visitor", float("-inf"))
    t0 = time.monotonic()
    warmup.wait_for_quiet(quiet_s=5.0)
    assert time.monotonic() - t0 < 0.5

    warmup.note_visitor()
    t0 = time.monotonic()
    warmup.wait_for_quiet(quiet_s=0.6)
    assert 0.5 <= time.monotonic() - t0 < 3.0

    warmup.note_visitor()
    t0 = time.monotonic()
    warmup.wait_for_quiet(quiet_s=60.0, longest_s=0.4)
    assert 0.3 <= time.monotonic() - t0 < 3.0


def test_a_visitors_run_is_noted_and_the_warm_ups_own_is_not():
    """app.py notes each visitor's run before its warm-up, except serve.py's own visits (WARMUP_PARAM)."""
    import ast

    src = (Path(__file__).resolve().parents[1] / "app.py").read_text()
    tree = ast.parse(src)
    calls = [ast.unparse(n) for n in ast.walk(tree) if isinstance(n, ast.If)]
    assert any("warmup.WARMUP_PARAM not in st.query_params" in c and "warmup.note_visitor()" in c for c in calls)
    assert src.index("warmup.note_visitor()") < src.index("\n_warm()")
