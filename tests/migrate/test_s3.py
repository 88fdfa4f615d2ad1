"""The migration's own S3 client (vpmigrate.migrate.s3).

- Its SigV4 signatures are botocore's, byte for byte, for the requests it sends (AWS,
  R2 and MinIO reject any other).
- Against a real HTTP server on 127.0.0.1 that injects faults: retries on 503 SlowDown
  and dropped connections, an error inside a 200 answer, a bounded answer size.
- Against the e2e kit's S3 server (moto): listing past one page, multipart uploads,
  server-side copy, bytes as stored, a missing bucket (marked e2e).
"""

from __future__ import annotations

import gzip
import http.server
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.hostile.sweep import QuietServer
from tests.migrate.conftest import S3
from vpmigrate.migrate.s3 import (
    Credentials,
    S3Client,
    S3Error,
    S3Unreachable,
    payload_hash,
    sign,
)

CREDENTIALS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "eu-west-3")
NOW = datetime(2026, 11, 30, 12, 34, 56, tzinfo=UTC)


def _botocore_headers(
    method: str,
    url: str,
    headers: dict[str, str],
    payload: str,
    body: bytes | None,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: NOW)
    request = AWSRequest(method=method, url=url, headers=dict(headers), data=body)
    request.headers["X-Amz-Content-SHA256"] = payload
    auth = botocore.auth.S3SigV4Auth(
        BotoCredentials(CREDENTIALS.access_key_id, CREDENTIALS.secret_access_key),
        "s3",
        CREDENTIALS.region,
    )
    auth.add_auth(request)
    return dict(request.headers.items())


@pytest.mark.parametrize(
    ("method", "bucket", "key", "query", "headers", "body"),
    [
        ("HEAD", "artifacts", "", [], {}, None),
        (
            "GET",
            "artifacts",
            "",
            [
                ("list-type", "2"),
                ("prefix", "1/ab c/"),
                ("encoding-type", "url"),
                ("continuation-token", "x+y/=z"),
            ],
            {},
            None,
        ),  # fmt: skip
        ("PUT", "artifacts", "1/run id/artifacts/model (v2)/weights+final~1.bin", [], {}, b"x" * 9),
        (
            "PUT",
            "artifacts",
            "1/ünïcode/ñame.txt",
            [("partNumber", "3"), ("uploadId", "u/1=")],
            {},
            b"part",
        ),  # fmt: skip
        ("PUT", "target", "a/b.txt", [], {"x-amz-copy-source": "/source/a/b%20c.txt"}, None),
        ("POST", "artifacts", "big.bin", [("uploads", "")], {}, None),
    ],
)
@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:9000", "https://abc.r2.example.com", None])
def test_signatures_are_botocores(
    method: str,
    bucket: str,
    key: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes | None,
    endpoint: str | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = S3Client(endpoint, CREDENTIALS)
    try:
        url = client._url(bucket, key, query)
    finally:
        client.close()
    payload = payload_hash(body)
    ours = sign(method, url, headers, payload, CREDENTIALS, NOW)
    theirs = _botocore_headers(method, url, headers, payload, body, monkeypatch)
    assert ours["Authorization"] == theirs["Authorization"]
    assert ours["x-amz-date"] == theirs["X-Amz-Date"]


def test_aws_urls_are_virtual_hosted_except_for_dotted_buckets() -> None:
    client = S3Client(None, CREDENTIALS)
    try:
        assert client._url("runs", "1/a b", []) == "https://runs.s3.eu-west-3.amazonaws.com/1/a%20b"
        assert client._url("my.runs", "k", []) == "https://s3.eu-west-3.amazonaws.com/my.runs/k"
    finally:
        client.close()


class _FaultServer(QuietServer):
    """Answers from a script: one (status, headers, body) per request, in order; a None
    entry drops the connection without an answer."""

    def __init__(self, script: list[tuple[int, dict[str, str], bytes] | None]) -> None:
        self.script = list(script)
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                server.seen.append((self.command, self.path, dict(self.headers.items())))
                step = server.script.pop(0) if server.script else (200, {}, b"")
                if step is None:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                status, headers, body = step
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _answer

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def fault_server() -> Iterator[Any]:
    servers: list[_FaultServer] = []

    def start(script: list[tuple[int, dict[str, str], bytes] | None]) -> tuple[str, _FaultServer]:
        server = _FaultServer(script)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _error(code: str, message: str = "no") -> bytes:
    return f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()


def test_slow_down_and_a_dropped_connection_are_retried(fault_server: Any) -> None:
    url, server = fault_server([(503, {}, _error("SlowDown")), None, (200, {}, b"")])
    sent: list[str] = []
    client = S3Client(url, CREDENTIALS, backoff=0.01, on_request=lambda op, write: sent.append(op))
    try:
        client.put_object("bucket", "a.txt", b"data")
    finally:
        client.close()
    assert [s[0] for s in server.seen] == ["PUT", "PUT", "PUT"]
    assert sent == ["PutObject"] * 3  # every request counted, retries included


def test_a_refusal_is_not_retried_and_keeps_its_code(fault_server: Any) -> None:
    url, server = fault_server([(403, {}, _error("AccessDenied", "Access Denied"))])
    client = S3Client(url, CREDENTIALS, backoff=0.01)
    try:
        with pytest.raises(S3Error) as caught:
            client.put_object("bucket", "a.txt", b"data")
    finally:
        client.close()
    assert (caught.value.status, caught.value.code) == (403, "AccessDenied")
    assert len(server.seen) == 1


def test_an_error_inside_a_200_answer_is_an_error(fault_server: Any) -> None:
    url, _ = fault_server([(200, {}, _error("InternalErrorX", "We encountered an error"))])
    client = S3Client(url, CREDENTIALS, backoff=0.01)
    try:
        with pytest.raises(S3Error) as caught:
            client.complete_multipart_upload("bucket", "k", "upload-1", ['"e1"'])
    finally:
        client.close()
    assert caught.value.code == "InternalErrorX"


def test_a_huge_listing_answer_is_cut_off(fault_server: Any) -> None:
    body = b"<ListBucketResult>" + b"<Contents></Contents>" * 500_000 + b"</ListBucketResult>"
    url, _ = fault_server([(200, {}, body)])
    client = S3Client(url, CREDENTIALS)
    try:
        with pytest.raises(S3Error) as caught:
            list(client.list_objects("bucket", ""))
    finally:
        client.close()
    assert caught.value.code == "TooBig"


def test_an_unreachable_endpoint_is_named_after_the_retries() -> None:
    client = S3Client("http://127.0.0.1:9", CREDENTIALS, attempts=2, backoff=0.01)
    try:
        with pytest.raises(S3Unreachable):
            client.head_bucket("bucket")
    finally:
        client.close()


@pytest.mark.e2e
def test_against_the_kits_s3_server(s3: S3) -> None:
    boto = s3.boto()
    boto.create_bucket(Bucket="s3client")
    client = S3Client(s3.url, Credentials(s3.key, s3.secret, "us-east-1"))
    try:
        client.head_bucket("s3client")
        # more than one page of listing, with keys that need encoding
        names = [f"p/{i:04d} ü+&=.txt" for i in range(1005)]
        for name in names:
            client.put_object("s3client", name, name.encode())
        listed = list(client.list_objects("s3client", "p/"))
        assert sorted(o.key for o in listed) == sorted(names)
        assert all(o.size == len(o.key.encode()) for o in listed)
        # bytes as stored, not decoded: an object stored gzip-encoded stays compressed
        packed = gzip.compress(b"metrics" * 1000)
        boto.put_object(Bucket="s3client", Key="g.gz", Body=packed, ContentEncoding="gzip")
        with client.get_object("s3client", "g.gz", 4096) as chunks:
            assert b"".join(chunks) == packed
        # a multipart upload of three parts, then a server-side copy of it
        parts = [b"a" * (5 * 1024 * 1024), b"b" * (5 * 1024 * 1024), b"c" * 10]
        client.put_parts("s3client", "big/one.bin", iter(parts))
        client.copy_object("s3client", "big/one.bin", "s3client", "big/two.bin", 10 * 1024**2)
        for key in ("big/one.bin", "big/two.bin"):
            with client.get_object("s3client", key, 1024 * 1024) as chunks:
                assert b"".join(chunks) == b"".join(parts)
        with pytest.raises(S3Error) as caught:
            client.head_bucket("no-such-bucket-here")
        assert caught.value.code == "404"
        with pytest.raises(S3Error) as caught:
            list(client.list_objects("no-such-bucket-here", ""))
        assert caught.value.code == "NoSuchBucket"
    finally:
        client.close()
