"""Serve posviz to a class: several app processes behind nginx, with sticky sessions and websockets.

One Streamlit process is one Python interpreter: its script runs share one GIL, so
one process uses about one core however many students connect. This starts
``--workers`` processes (``serve.py``, each on its own loopback port) and one
nginx in front that

- passes websockets through (``Upgrade``/``Connection`` headers, HTTP/1.1, long read timeout);
- sends a new browser to the worker with the fewest open connections (``least_conn``:
  every open page holds a websocket, so this counts students), and keeps it there with a
  cookie (``posviz_worker=w0``, ``w1``, …) naming the worker that answered; a cookie that
  names no worker counts as none, and one naming a worker that has stopped answering
  goes to the pool too, which names a live worker in the cookie. Hashing a random id spread students binomially
  instead: 50 over 2 workers landed e.g. 28/22 and the busier worker set the p95;
- sets TCP_NODELAY and no proxy buffering, so small protocol messages are not held.

Before nginx starts, every worker opens each page once (``warm_pages.py``): the
first students then find SmolLM2 loaded and every page's defaults computed,
instead of ~8 s (20–35 s in a class's burst) on the real-model pages.

    python deploy/class_server.py --workers 2 --port 8080          # make class
    python deploy/class_server.py --workers 2 --port 8080 --listen 0.0.0.0   # reachable by the room

Everything it writes (nginx config, logs, pid files) lives in a temporary folder;
Ctrl-C or SIGTERM stops nginx and every worker. TLS belongs in front of it (or add
``ssl_certificate`` lines to the generated config).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

CONFIG = """\
worker_processes 1;
pid {run}/nginx.pid;
error_log {run}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {run}/body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
    tcp_nodelay on;

    map $http_upgrade $connection_upgrade {{ default upgrade; "" close; }}
    # A browser with a worker's cookie goes back to that worker; any other value, or none,
    # goes to the pool, where the worker with the fewest open connections (websockets
    # included) takes it and names itself in the cookie.
    map $cookie_posviz_worker $posviz_target {{
        default posviz_pool;
{pinned}
    }}
    map $upstream_addr $posviz_worker {{
        default "";
{names}
    }}

    upstream posviz_pool {{
        least_conn;
{servers}
    }}

    server {{
        listen {listen}:{port};
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_read_timeout 1d;
        proxy_send_timeout 1d;
        proxy_buffering off;
        add_header Set-Cookie "posviz_worker=$posviz_worker; Path=/; HttpOnly; SameSite=Lax" always;
        add_header X-Posviz-Worker $upstream_addr always;
        location / {{
            proxy_pass http://$posviz_target;
            error_page 502 504 = @pool;  # the cookie's worker is gone: a live one takes the browser over
        }}
        location @pool {{
            proxy_pass http://posviz_pool;
        }}
    }}
}}
"""


def nginx_config(run: Path, ports: list[int], listen: str, port: int) -> str:
    """nginx's configuration for workers on ``ports``: worker ``i`` is named ``w{i}`` in the cookie."""
    addrs = [f"127.0.0.1:{p}" for p in ports]
    return CONFIG.format(
        run=run, listen=listen, port=port,
        servers="\n".join(f"        server {a} max_fails=0;" for a in addrs),
        pinned="\n".join(f"        w{i} {a};" for i, a in enumerate(addrs)),
        # the worker that answered is the last address (after a failed try: "dead : live")
        names="\n".join(f'        "~{re.escape(a)}$" w{i};' for i, a in enumerate(addrs)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, deadline: float, proc: subprocess.Popen | None = None) -> None:
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {proc.returncode}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} not healthy in time")
        time.sleep(0.1)


@dataclass
class ClassServer:
    """A running deployment: its public URL, the workers' URLs and processes, nginx's process."""
    url: str
    worker_urls: list[str]
    workers: list[subprocess.Popen]
    nginx: subprocess.Popen
    run_dir: Path
    logs: list[Path] = field(default_factory=list)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.workers]

    def stop(self) -> None:
        procs = [self.nginx, *self.workers]
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def start(workers: int = 2, port: int = 8080, listen: str = "127.0.0.1", run_dir: Path | None = None,
          python: str = sys.executable, timeout: float = 180, extra_args: tuple[str, ...] = (),
          warm: bool = True) -> ClassServer:
    """Start the workers (each with every page opened once, unless ``warm`` is False) and nginx;
    return once the proxy answers the health check."""
    if not 1 <= workers <= 64:
        raise ValueError(f"workers must be between 1 and 64, got {workers}")
    if not Path(NGINX).exists():
        raise RuntimeError("nginx is not installed: `apt-get install nginx-light` (make class does it as root)")
    run = Path(run_dir or tempfile.mkdtemp(prefix="posviz-class-"))
    run.mkdir(parents=True, exist_ok=True)
    ports = [free_port() for _ in range(workers)]
    secret = secrets.token_hex(16)  # one cookie secret for every worker
    procs, logs = [], []
    deadline = time.monotonic() + timeout
    try:
        for p in ports:
            log = run / f"worker-{p}.log"
            logs.append(log)
            cmd = [python, str(ROOT / "serve.py"), "--server.headless=true", "--server.address=127.0.0.1",
                   f"--server.port={p}", "--browser.gatherUsageStats=false", *extra_args]
            # POSVIZ_WARM_PAGES=0: the workers are warmed below, side by side, before nginx routes to them
            env = {**os.environ, "STREAMLIT_SERVER_COOKIE_SECRET": secret, "POSVIZ_WARM_PAGES": "0"}
            with open(log, "wb") as fh:
                procs.append(subprocess.Popen(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, env=env))
        (run / "nginx.conf").write_text(nginx_config(run, ports, listen, port))
        for proc, p in zip(procs, ports):
            wait_healthy(f"http://127.0.0.1:{p}", deadline, proc)
        if warm:
            warm_workers([f"http://127.0.0.1:{p}" for p in ports], max(1.0, deadline - time.monotonic()))
        nginx = subprocess.Popen([NGINX, "-p", str(run), "-c", str(run / "nginx.conf"), "-g", "daemon off;"],
                                 stdout=subprocess.DEVNULL, stderr=open(run / "nginx.stderr", "wb"))
        server = ClassServer(f"http://127.0.0.1:{port}", [f"http://127.0.0.1:{p}" for p in ports], procs, nginx,
                             run, logs)
        try:
            wait_healthy(server.url, deadline, nginx)
        except Exception:
            server.stop()
            raise RuntimeError("nginx did not start: " + (run / "nginx.stderr").read_text(errors="replace")
                               + (run / "error.log").read_text(errors="replace") if (run / "error.log").exists()
                               else "") from None
        return server
    except BaseException:
        for proc in procs:
            proc.kill()
        raise


def warm_workers(urls: list[str], timeout: float) -> float:
    """Open every page on every worker at once (one worker per core, so they warm side by side)."""
    import asyncio

    import warm_pages

    async def all_of_them():
        await asyncio.gather(*(warm_pages.warm(u, timeout) for u in urls))

    t0 = time.perf_counter()
    asyncio.run(asyncio.wait_for(all_of_them(), timeout))
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, default=max(1, os.cpu_count() or 1))
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--listen", default="127.0.0.1", help="address nginx listens on (0.0.0.0 for the room)")
    ap.add_argument("--no-warm", action="store_true", help="skip opening every page on every worker first")
    a = ap.parse_args()
    print("posviz class server: starting the workers and opening every page once on each (about 15 s)…", flush=True)
    server = start(a.workers, a.port, a.listen, warm=not a.no_warm)
    print(f"posviz class server: {a.workers} workers behind nginx at http://{a.listen}:{a.port} "
          f"(files in {server.run_dir}); Ctrl-C stops it", flush=True)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    try:
        while not stopping and all(p.poll() is None for p in [server.nginx, *server.workers]):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        shutil.rmtree(server.run_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
