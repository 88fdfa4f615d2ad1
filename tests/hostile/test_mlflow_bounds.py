"""A tracking server's answer is bounded (issue 15).

In memory: a gzip bomb, as an answer or as an HTTP 400, is decompressed chunk by chunk
and cut at 64 MiB, never inflated whole. The real `inv mlflow.migrate` runs under GNU
time against an MLflow stand-in (tests/hostile/sweep.py) sending 1 GiB of zeros; its
peak resident memory stays far below that. (Inflated whole, the bomb alone takes 1 GiB.)
The decoder is the one Railway's client uses (vpmigrate/bounded.py): gzip, deflate with
or without its zlib header, and any other coding named in the error.

In time: an overall deadline per exchange, status line and headers included."""

from __future__ import annotations

import contextlib
import gzip
import json
import re
import socket
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.hostile.sweep import MlflowStandIn, inv
from vpmigrate.errors import UserError
from vpmigrate.migrate.rest import MaybeSent, RequestCounter, RestClient, TrackingServer

BOMB_MIB = 1024
# Python, httpx and the task take under 100 MiB here; the cap adds at most 64 MiB.
PEAK_MIB = 400


@pytest.mark.parametrize(
    ("fault", "phrase"),
    [
        ("gzip-bomb", "more than 64 MiB of JSON once decompressed"),
        ("error-gzip-bomb", "with HTTP 400 and no MLflow error"),
    ],
)
def test_a_gzip_bomb_is_cut_off_not_inflated(fault: str, phrase: str) -> None:
    with (
        MlflowStandIn(["exp-a"]) as source,
        MlflowStandIn([], fault=fault, bomb_mib=BOMB_MIB) as target,
    ):
        result = inv(
            "mlflow.migrate",
            "--dry-run",
            "--source",
            source.url,
            "--target",
            target.url,
            wrapper=["/usr/bin/time", "-f", "peak-rss-kib=%M"],
        )
    shown = f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode == 1, shown
    assert "Traceback" not in result.stderr, shown
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and phrase in errors[0], shown
    found = re.search(r"peak-rss-kib=(\d+)", result.stderr)
    assert found, shown
    assert int(found.group(1)) < PEAK_MIB * 1024, shown


UPLOAD = """
import sys
from vpmigrate.migrate.rest import RequestCounter, RestClient, TrackingServer
client = RestClient(TrackingServer("target", sys.argv[1]), RequestCounter())
try:
    client.put_stream("/api/2.0/mlflow-artifacts/artifacts/1/model.pkl", iter([b"abc"]), 3)
except Exception as exc:
    print(type(exc).__name__, str(exc)[:300])
"""


def test_the_answer_to_an_artifact_upload_is_bounded_too() -> None:
    """The error page a server sends back for a PUT is read like any other answer."""
    import subprocess
    import sys

    with MlflowStandIn([], fault="error-gzip-bomb", bomb_mib=BOMB_MIB) as target:
        done = subprocess.run(
            ["/usr/bin/time", "-f", "peak-rss-kib=%M", sys.executable, "-c", UPLOAD, target.url],
            capture_output=True,
            text=True,
            timeout=300,
        )
    shown = f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert "HTTP 400" in done.stdout, shown
    found = re.search(r"peak-rss-kib=(\d+)", done.stderr)
    assert found, shown
    assert int(found.group(1)) < PEAK_MIB * 1024, shown


# The overall deadline of the drip test: short, so the test is quick.
DEADLINE = 1.5
# Only a hang reaches this: the headers below never end.
HANG = 120


class _HeaderDrip:
    """A real server on 127.0.0.1 that reads one request, then sends a status line and
    an endless header one byte every 0.2 s: every read gets its byte well within the
    per-read timeout, and the headers never end. Only an overall deadline stops a client;
    `cut_off` is set once the client has closed the connection."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.cut_off = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def __enter__(self) -> _HeaderDrip:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped.set()
        self.listener.close()
        self._thread.join(10)

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            connection, _ = self.listener.accept()
            with connection:
                connection.recv(65536)  # the request: small, and sent at once
                head = b"HTTP/1.1 200 OK\r\nX-Drip: "
                sent = 0
                while not self._stopped.wait(0.2):
                    byte = head[sent : sent + 1] or b"x"
                    sent += 1
                    try:
                        connection.sendall(byte)
                    except OSError:
                        self.cut_off.set()
                        return


@pytest.mark.parametrize("once", [False, True], ids=["read", "creation"])
def test_headers_dripped_a_byte_at_a_time_are_cut_off_at_the_deadline(once: bool) -> None:
    """The overall deadline covers the whole exchange, status line and headers
    included, not only the body after them."""
    outcome: list[BaseException] = []
    with _HeaderDrip() as server:
        client = RestClient(
            TrackingServer("target", server.url), RequestCounter(), deadline=DEADLINE
        )

        def call() -> None:
            try:
                if once:
                    client.post("/api/2.0/mlflow/runs/create", {}, once=True)
                else:
                    client.get("/api/2.0/mlflow/experiments/search")
            except BaseException as exc:
                outcome.append(exc)

        caller = threading.Thread(target=call, daemon=True)
        caller.start()
        caller.join(HANG)
        finished = not caller.is_alive()
        client.close()  # the abandoned exchange's connection goes with the client
        assert finished, f"still reading the dripped headers after {HANG} s"
        assert server.cut_off.wait(HANG), "the dripping connection was never closed"
    assert len(outcome) == 1, outcome
    if once:
        # A creation whose answer never came may have been carried out: the caller
        # reads back before creating again.
        assert isinstance(outcome[0], MaybeSent), repr(outcome[0])
    else:
        assert isinstance(outcome[0], UserError), repr(outcome[0])
        assert (
            "the target MLflow at http://127.0.0.1:" in str(outcome[0])
            and f"sent no complete answer to GET /api/2.0/mlflow/experiments/search "
            f"within {DEADLINE:g} s (mlflow.timeout)"
            in str(outcome[0])
        ), str(outcome[0])


ANSWER = b'{"experiments": [{"experiment_id": "1", "name": "exp-a"}]}'


def _raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


@contextlib.contextmanager
def _answering(body: bytes, encoding: str) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 answering every GET with `body`, sent as is
    with Content-Encoding `encoding`; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Encoding", encoding)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("body", "encoding"),
    [
        (gzip.compress(ANSWER), "gzip"),
        (zlib.compress(ANSWER), "deflate"),
        # deflate without its zlib header, as some servers send it
        (_raw_deflate(ANSWER), "deflate"),
    ],
    ids=["gzip", "deflate", "raw-deflate"],
)
def test_a_compressed_answer_is_decoded(body: bytes, encoding: str) -> None:
    with _answering(body, encoding) as url:
        client = RestClient(TrackingServer("source", url), RequestCounter(), attempts=1)
        try:
            answer = client.get("/api/2.0/mlflow/experiments/search")
        finally:
            client.close()
    assert answer == json.loads(ANSWER)


def test_an_encoding_it_does_not_decode_is_named() -> None:
    """It asks for gzip and deflate only; anything else is not taken for corruption."""
    with _answering(b"\x0b\x02\x80{}\x03", "br") as url:
        client = RestClient(TrackingServer("source", url), RequestCounter(), attempts=1)
        try:
            with pytest.raises(UserError) as caught:
                client.get("/api/2.0/mlflow/experiments/search")
        finally:
            client.close()
    assert "Content-Encoding br" in str(caught.value), str(caught.value)
