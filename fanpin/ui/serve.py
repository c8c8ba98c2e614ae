"""The app as a real server: ``streamlit run app.py`` on a free local port, for the browser tests
(``tests/browser``), the browser benchmark (``bench/browser.py``) and the screenshots
(``scripts/screenshots.py``).

``running_app`` starts the server headless (no usage statistics, no file watcher), waits until
``/_stcore/health`` answers 200, yields the base URL and stops the server on the way out
(terminate, then kill after 10 s).  The server's output goes to ``streamlit-<port>.log`` in the
work directory; if the server does not answer in time, :class:`ServerDidNotStart` carries the
log's end.  Nothing here imports streamlit: the server is another process.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

#: The checkout this package belongs to (app.py is there).
ROOT = Path(__file__).resolve().parents[2]


class ServerDidNotStart(RuntimeError):
    """The server did not answer its health check in time (the message ends with its log)."""


def free_port() -> int:
    """A local TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(db_url: str | None, workdir: Path, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The server's environment: this process's, then ``env``; the database ``db_url`` (if given), and
    the snapshot cache and trained models under ``workdir`` unless ``env`` names them."""
    out = {**os.environ, **(env or {})}
    if db_url is not None:
        out["FANPIN_DB_URL"] = db_url
    if not env or "FANPIN_CACHE_DIR" not in env:
        out["FANPIN_CACHE_DIR"] = str(workdir / "cache")
    if not env or "FANPIN_MODEL_DIR" not in env:
        out["FANPIN_MODEL_DIR"] = str(workdir / "models")
    return out


@contextmanager
def running_app(db_url: str | None, workdir: Path, *, env: Mapping[str, str] | None = None, root: Path = ROOT, timeout: float = 90.0) -> Iterator[str]:
    """A Streamlit server for ``root``/app.py against ``db_url`` on a free local port; yields its base
    URL (``http://127.0.0.1:<port>``).

    ``workdir`` holds the log (and the cache and models unless ``env`` names them: see
    :func:`server_env`); ``root`` is the checkout whose app runs (another one's, to compare);
    ``timeout`` is how long the server may take to answer its health check.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(root / "app.py"),
        "--server.address", "127.0.0.1", "--server.port", str(port), "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
    ]
    log = workdir / f"streamlit-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=server_env(db_url, workdir, env), stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline or proc.poll() is not None:
                raise ServerDidNotStart(f"streamlit did not start (log {log}):\n" + log.read_text(errors="replace")[-3000:])
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
