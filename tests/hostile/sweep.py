"""Shared by the cross-cutting hostile tests (test_secrets_everywhere, test_dry): the
task list from the root collection, the real `inv` in a subprocess with a clean
environment, marker secrets, and the checks every run must pass (no traceback, no
marker in any output or in any file the run wrote)."""

from __future__ import annotations

import functools
import json
import os
import struct
import subprocess
import sys
import threading
import time
import uuid
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Every run ends within seconds; reaching this means the task hung.
HANG = 300
# Variables of the test process that must not reach a task run (they would change
# which files, tokens or engine it uses).
_FOREIGN = ("COMPOSE_", "RAILWAY_", "AWS_", "R2_", "MINIO_", "MLFLOW_", "INVOKE_", "DOCKER_")
_TAG = uuid.uuid4().hex[:6]


def marker(source: str) -> str:
    """A secret value that says where it was planted (`Mk<run><source>`): found in an
    output, it names the source that leaked."""
    return f"Mk{_TAG}{source}"


def task_names() -> list[str]:
    """Every task of the root collection (`inv --list`), as `namespace.task`."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    import tasks

    return sorted(tasks.ns.task_names)


def task_of(args: Iterable[str]) -> str:
    """The task a command line runs (the first word that is not a global flag)."""
    words = [a for a in args if not a.startswith("-")]
    return words[0]


def inv(
    *args: str | Path,
    env: Mapping[str, str] | None = None,
    cwd: Path = REPO,
    timeout: float = HANG,
    wrapper: Iterable[str] = (),
) -> subprocess.CompletedProcess[str]:
    """`inv ARGS` through the real CLI, with only `env` on top of a clean environment;
    `wrapper`: a command that runs it (e.g. GNU time)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN)}
    full_env.pop("VPM_DEBUG", None)
    full_env.update(env or {})
    return subprocess.run(
        [*wrapper, sys.executable, "-m", "invoke", "--search-root", str(REPO), *map(str, args)],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )


def files_under(folder: Path) -> dict[Path, bytes]:
    """Every regular file below `folder` that can be read, with its bytes."""
    found: dict[Path, bytes] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink() and os.access(path, os.R_OK):
            found[path] = path.read_bytes()
    return found


@dataclass(frozen=True)
class Outcome:
    """What one run showed and wrote."""

    result: subprocess.CompletedProcess[str]
    written: dict[Path, bytes]  # files created or changed by the run

    @property
    def shown(self) -> str:
        return (
            f"exit {self.result.returncode}\nstdout:\n{self.result.stdout}\n"
            f"stderr:\n{self.result.stderr}"
        )


def run_and_collect(folder: Path, *args: str | Path, **kwargs: object) -> Outcome:
    """Run `inv ARGS` and collect the files below `folder` it created or changed."""
    before = files_under(folder)
    result = inv(*args, **kwargs)  # type: ignore[arg-type]
    after = files_under(folder)
    written = {path: data for path, data in after.items() if before.get(path) != data}
    return Outcome(result, written)


def assert_clean(
    outcome: Outcome,
    markers: Mapping[str, str],
    *,
    code: int,
    phrases: Iterable[str] = (),
    carried: Iterable[bytes] = (),
    verdict: bool = False,
) -> None:
    """The run exited `code` without a traceback; with exit 1, one `error:` paragraph;
    the output contains `phrases` and no marker; no file it wrote contains a marker,
    unless the marker was written literally in one of the user's files it read
    (`carried`: their bytes; copying the user's own text is not printing a secret).
    `verdict`: the exit code is a check's result (`--check`), with no `error:` line."""
    result = outcome.result
    output = result.stdout + result.stderr
    if os.environ.get("VPM_SWEEP_SHOW"):
        print(f"--- {' '.join(map(str, result.args[4:]))}\n{outcome.shown}")
    assert result.returncode == code, outcome.shown
    assert "Traceback" not in output, outcome.shown
    if code == 1 or verdict:
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == (0 if verdict else 1), outcome.shown
    for phrase in phrases:
        assert phrase in output, f"{phrase!r} missing:\n{outcome.shown}"
    leaked = sorted(source for source, value in markers.items() if value in output)
    assert not leaked, f"secrets printed ({', '.join(leaked)}):\n{outcome.shown}"
    sources = list(carried)
    for path, data in outcome.written.items():
        planted = [
            source
            for source, value in markers.items()
            if value.encode() in data and not any(value.encode() in s for s in sources)
        ]
        assert not planted, f"{path} holds secrets ({', '.join(planted)}):\n{outcome.shown}"


@functools.cache
def gzip_bomb(mebibytes: int) -> bytes:
    """`mebibytes` MiB of zeros as a valid gzip stream of about a thousandth of that,
    built in well under a second: after a full flush deflate keeps no history, so one
    compressed MiB repeats byte for byte."""
    block = bytes(1 << 20)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    unit = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(mebibytes):
        crc = zlib.crc32(block, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    trailer = struct.pack("<II", crc, (mebibytes << 20) & 0xFFFFFFFF)
    return header + unit * mebibytes + b"\x03\x00" + trailer


@dataclass
class MlflowRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def writes(self) -> bool:
        """Whether the request would change the server (searches are POSTs that read)."""
        return self.method != "GET" and not self.path.split("?")[0].endswith("/search")


class QuietServer(ThreadingHTTPServer):
    """A test server that does not print a traceback for a connection that ends early."""

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that gave up, or a connection the script dropped, is expected here."""


class MlflowStandIn:
    """A real HTTP server on 127.0.0.1 that answers the MLflow REST calls of a migration
    with `experiments` and no runs, and records every request; `fault` makes it hostile:
    `echo` (an error quoting the request, headers included), `500`, `html` (a login
    page), `403`, `drip` (an answer that never ends, one byte a second), `gzip-bomb`
    (`bomb_mib` MiB of zeros, gzipped, as an answer; `error-gzip-bomb`: as an HTTP 400).
    Creations add experiments, so a migration into it completes and verifies."""

    def __init__(
        self, experiments: Iterable[str] = (), fault: str | None = None, bomb_mib: int = 128
    ) -> None:
        self.bomb_mib = bomb_mib
        self.experiments = [
            {
                "experiment_id": str(i + 1),
                "name": name,
                "artifact_location": f"mlflow-artifacts:/{i + 1}",
                "lifecycle_stage": "active",
                "tags": [],
            }
            for i, name in enumerate(experiments)
        ]
        self.fault = fault
        self.requests: list[MlflowRequest] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def writes(self) -> list[MlflowRequest]:
        return [r for r in self.requests if r.writes]

    def __enter__(self) -> MlflowStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = MlflowRequest(self.command, self.path, dict(self.headers), body)
                with standin._lock:
                    standin.requests.append(request)
                status, content_type, data, extra = standin.reply(request)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                for key, value in extra.items():
                    self.send_header(key, value)
                if standin.fault == "drip" and request.path != "/version":
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    try:
                        while True:
                            self.wfile.write(b"1\r\n \r\n")
                            self.wfile.flush()
                            time.sleep(1)
                    except OSError:  # the client gave up
                        return
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = answer

            def log_message(self, format: str, *args: object) -> None:
                return None

        self._server = QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def reply(self, request: MlflowRequest) -> tuple[int, str, bytes, dict[str, str]]:
        path = request.path.split("?")[0]
        as_json = "application/json"
        if path == "/version":
            return 200, "text/plain", b"2.9.2", {}
        if self.fault == "echo":
            quoted = f"{json.dumps(request.headers)} {request.body.decode('utf-8', 'replace')}"
            error = {"error_code": "INVALID_PARAMETER_VALUE", "message": f"bad request: {quoted}"}
            return 400, as_json, json.dumps(error).encode(), {}
        if self.fault == "500":
            return 500, as_json, b'{"message": "Internal Server Error"}', {}
        if self.fault == "html":
            return 200, "text/html", b"<html><body><form>Sign in</form></body></html>", {}
        if self.fault == "403":
            return 403, "text/plain", b"Permission denied", {}
        if self.fault == "gzip-bomb":
            return 200, as_json, gzip_bomb(self.bomb_mib), {"Content-Encoding": "gzip"}
        if self.fault == "error-gzip-bomb":
            return 400, as_json, gzip_bomb(self.bomb_mib), {"Content-Encoding": "gzip"}
        if path.endswith("/experiments/search"):
            return 200, as_json, json.dumps({"experiments": self.experiments}).encode(), {}
        if path.endswith("/search"):
            return 200, as_json, b"{}", {}
        if path.endswith("/experiments/create"):
            name = json.loads(request.body or b"{}").get("name", "")
            with self._lock:
                new_id = str(100 + len(self.experiments))
                self.experiments.append(
                    {
                        "experiment_id": new_id,
                        "name": name,
                        "artifact_location": f"mlflow-artifacts:/{new_id}",
                        "lifecycle_stage": "active",
                        "tags": json.loads(request.body or b"{}").get("tags", []),
                    }
                )
            return 200, as_json, json.dumps({"experiment_id": new_id}).encode(), {}
        error = {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": f"no {path}"}
        return 404, as_json, json.dumps(error).encode(), {}
