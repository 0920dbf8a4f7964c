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
