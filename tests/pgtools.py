"""A throwaway PostgreSQL 15 server for the store tests: initdb + pg_ctl in a temporary folder.

The server listens on 127.0.0.1 at a free port, with a Unix socket inside the folder, trusts local
connections (it holds nothing but test data) and is stopped and deleted afterwards. initdb refuses
to run as root, so as root the server runs as the ``postgres`` user (or ``nobody``) via ``runuser``.
The binaries come from Debian's postgresql-15 package (``make postgres`` installs it); they are
looked up under /usr/lib/postgresql/15/bin, not on PATH.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

PG_BIN = Path(os.environ.get("POSVIZ_PG_BIN", "/usr/lib/postgresql/15/bin"))
REQUIRE = os.environ.get("POSVIZ_REQUIRE_POSTGRES") == "1"


def available() -> str | None:
    """None when a server can be started here, else why not."""
    missing = [b for b in ("initdb", "pg_ctl", "postgres") if not (PG_BIN / b).exists()]
    if missing:
        return f"PostgreSQL 15 binaries missing in {PG_BIN} ({', '.join(missing)}): run `make postgres`"
    if os.geteuid() == 0 and not (shutil.which("runuser") and _run_as()):
        return "running as root, and neither runuser nor a postgres/nobody user is available for initdb"
    return None


def _run_as() -> str | None:
    for user in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(user)
            return user
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cmd(args: list[str], user: str | None) -> list[str]:
    return ["runuser", "-u", user, "--", *args] if user else args


@contextlib.contextmanager
def server(timeout: float = 60) -> Iterator[str]:
    """Start a server; yield a ``postgresql://`` URL of an empty database; stop and delete it."""
    user = _run_as() if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="posviz-pg-"))
    data, port = root / "data", _free_port()
    try:
        if user:
            entry = pwd.getpwnam(user)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        root.chmod(0o700)
        env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
        subprocess.run(_cmd([str(PG_BIN / "initdb"), "-D", str(data), "-U", "posviz", "--auth=trust",
                             "--encoding=UTF8", "--no-sync"], user), check=True, capture_output=True, env=env,
                       timeout=timeout, cwd=root)
        opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50"
        subprocess.run(_cmd([str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w",
                             "-t", str(int(timeout)), "start"], user), check=True, capture_output=True, env=env,
                       timeout=timeout + 10, cwd=root)
        try:
            yield f"postgresql://posviz@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run(_cmd([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], user),
                           capture_output=True, env=env, timeout=timeout, cwd=root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
