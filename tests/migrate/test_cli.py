"""`inv mlflow.migrate` failing the way a user meets it: one `error:` paragraph that names
the server and what to do, exit 1, no traceback, no secret. The servers here are plain
HTTP servers on 127.0.0.1 (no MLflow is needed to be unreachable or too old)."""

from __future__ import annotations

import http.server
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from devkit import dockerkit

REPO_ROOT = Path(__file__).resolve().parents[2]


def inv(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = dockerkit.cli_env(**env)
    for name in ("MLFLOW_TARGET_URI", "RAILWAY_TOKEN", "RAILWAY_API_TOKEN", "MLFLOW_TRACKING_URI"):
        if name not in env:
            environment.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "invoke", "mlflow.migrate", *args],
        cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def static_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A plain HTTP server of tmp_path's files: `/version` answers what the file says."""
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    finally:
        server.shutdown()
        server.server_close()


def test_an_unreachable_source_is_named_with_what_to_do() -> None:
    port = closed_port()
    done = inv("--source", f"http://127.0.0.1:{port}", "--target", "http://127.0.0.1:9")
    assert done.returncode == 1
    assert f"error: cannot reach the source MLflow at http://127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_a_private_railway_target_says_how_to_reach_it(static_server: tuple[str, Path]) -> None:
    url, _ = static_server  # answers, but is no MLflow of a known version: allowed as source
    done = inv("--source", url, "--railway-file", "env/railway.yml")
    assert done.returncode == 1, done.stderr
    assert "http://mlflow-service.railway.internal:5000" in done.stderr
    assert "--public-domain" in done.stderr and "MLFLOW_TARGET_URI" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unsupported_mlflow_version_is_refused_before_anything_is_written(
    static_server: tuple[str, Path],
) -> None:
    url, folder = static_server
    (folder / "version").write_text("1.30.0")
    done = inv("--source", url, "--target", f"http://127.0.0.1:{closed_port()}", "--dry-run")
    assert done.returncode == 1
    assert "runs MLflow 1.30.0" in done.stderr and "upgrade" in done.stderr


def test_credentials_in_a_url_are_refused_without_echoing_them() -> None:
    done = inv("--source", "http://alice:hunter22@127.0.0.1:5000", "--target", "http://127.0.0.1:9")
    assert done.returncode == 1
    assert "hunter22" not in done.stderr + done.stdout
    assert "MLFLOW_TRACKING_USERNAME" in done.stderr


class _Refusing(http.server.BaseHTTPRequestHandler):
    """A server behind authentication that refuses the credentials it is given."""

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self.send_response(403)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"Permission denied")

    def log_message(self, *_: object) -> None:
        pass


def test_a_refused_login_names_the_variables_not_the_password() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        done = inv(
            "--source", url, "--target", "http://127.0.0.1:9",
            MLFLOW_TRACKING_USERNAME="alice", MLFLOW_TRACKING_PASSWORD="s3cr3t-pw-9917",
        )  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 1
    assert f"the source MLflow at {url} refused GET /version (HTTP 403)" in done.stderr
    assert "MLFLOW_TRACKING_PASSWORD" in done.stderr
    assert "s3cr3t-pw-9917" not in done.stderr + done.stdout
