"""S3's REST API over httpx, for the few operations the migration needs: SigV4-signed
requests (path-style at a given endpoint, virtual-hosted on AWS), retries on throttling,
5xx and dropped connections, and S3's XML errors as `S3Error` with their code.

Why not boto3 here: per request it costs the migration a few milliseconds of CPU, and
its import and client set-up take a few tenths of a second before the first byte moves;
where the tool shares the machine with the servers it copies between, that CPU is the
copy's (bench/mlflow_migrate.py). `inv local.verify` still uses boto3.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote, unquote_plus, urlsplit
from xml.sax.saxutils import escape

import httpx

from vpmigrate.bounded import TooBig, UnknownEncoding, read_decoded

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
XML_NAMESPACE = "{http://s3.amazonaws.com/doc/2006-03-01/}"
# A listing page holds at most 1,000 keys of at most 1 KiB each; an error is a few lines.
MAX_XML_BYTES = 8 * 1024 * 1024
RETRIED_STATUS = frozenset({429, 500, 502, 503, 504})
RETRIED_CODES = frozenset({"RequestTimeout", "SlowDown", "InternalError", "ServiceUnavailable"})
REGION_REDIRECTS = frozenset({301, 307, 400})
MAX_COPY_OBJECT = 5 * 1024**3  # CopyObject's limit; larger objects are copied in parts


class S3Error(Exception):
    """The S3 service refused a request: its HTTP status and error code (the status as
    the code when the answer has no body, as for HEAD)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status} {code}: {message}" if message else f"HTTP {status} {code}")
        self.status = status
        self.code = code
        self.message = message


class S3Unreachable(Exception):
    """No answer after the retries: the connection failed or timed out."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


class S3Stopped(Exception):
    """The caller's stop event was set while a request waited to be retried."""


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    region: str = "us-east-1"


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str  # without quotes


def sign(
    method: str,
    url: str,
    headers: dict[str, str],
    payload_hash: str,
    credentials: Credentials,
    now: datetime,
    region: str | None = None,
) -> dict[str, str]:
    """`headers` plus the SigV4 ones (x-amz-date, x-amz-content-sha256, Authorization)
    for `method url`. `url`'s path and query must be as they are sent: already encoded,
    the query's pairs sorted (as `_url` builds them)."""
    region = region or credentials.region
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    day = stamp[:8]
    parts = urlsplit(url)
    signed = {k.lower(): " ".join(v.split()) for k, v in headers.items()}
    signed["host"] = parts.netloc
    signed["x-amz-date"] = stamp
    signed["x-amz-content-sha256"] = payload_hash
    names = sorted(signed)
    canonical = "\n".join(
        [
            method,
            parts.path or "/",
            parts.query,
            "".join(f"{name}:{signed[name]}\n" for name in names),
            ";".join(names),
            payload_hash,
        ]
    )
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = f"AWS4{credentials.secret_access_key}".encode()
    for part in (day, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    authorization = (
        f"AWS4-HMAC-SHA256 Credential={credentials.access_key_id}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return {
        **headers,
        "Host": parts.netloc,
        "x-amz-date": stamp,
        "x-amz-content-sha256": payload_hash,
        "Authorization": authorization,
    }


def payload_hash(body: bytes | None) -> str:
    """x-amz-content-sha256: the body's hash, as boto3 sends it (every S3-compatible
    service checks it; not all accept UNSIGNED-PAYLOAD)."""
    return EMPTY_SHA256 if body is None else hashlib.sha256(body).hexdigest()


def _encode(text: str, safe: str = "") -> str:
    return quote(text, safe="-_.~" + safe)


class S3Client:
    """One S3 service. Thread-safe: the worker threads share its connection pool.

    `on_request(operation, write)` is called for every HTTP request sent (retries
    included), for the migration's request counts."""

    def __init__(
        self,
        endpoint_url: str | None,
        credentials: Credentials,
        *,
        connections: int = 10,
        connect_timeout: float = 10.0,
        read_timeout: float = 120.0,
        attempts: int = 5,
        backoff: float = 0.25,
        stop: threading.Event | None = None,
        on_request: Callable[[str, bool], None] | None = None,
    ) -> None:
        self.endpoint = endpoint_url.rstrip("/") if endpoint_url else None
        self.credentials = credentials
        self.attempts = attempts
        self.backoff = backoff
        self.stop = stop or threading.Event()
        self.on_request = on_request
        self._regions: dict[str, str] = {}  # bucket -> region, after an AWS redirect
        self._lock = threading.Lock()
        self.http = httpx.Client(
            headers={"User-Agent": "vpmigrate", "Accept-Encoding": "identity"},
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )

    def close(self) -> None:
        self.http.close()

    # -- operations -------------------------------------------------------------------

    def head_bucket(self, bucket: str) -> None:
        self._done(self._call("HeadBucket", "HEAD", bucket, ""))

    def list_objects(self, bucket: str, prefix: str) -> Iterator[ObjectInfo]:
        """Every object under `prefix`, a page of up to 1,000 per request."""
        token: str | None = None
        while True:
            query = [("list-type", "2"), ("prefix", prefix), ("encoding-type", "url")]
            if token:
                query.append(("continuation-token", token))
            root = self._xml(self._call("ListObjectsV2", "GET", bucket, "", query))
            for item in root.iter(f"{XML_NAMESPACE}Contents"):
                yield ObjectInfo(
                    unquote_plus(_text(item, "Key")),
                    int(_text(item, "Size") or 0),
                    _text(item, "ETag").strip('"'),
                )
            token = _text(root, "NextContinuationToken")
            if _text(root, "IsTruncated").lower() != "true" or not token:
                return

    @contextmanager
    def get_object(self, bucket: str, key: str, chunk: int) -> Iterator[Iterator[bytes]]:
        """The object's bytes as stored (no content decoding), in chunks."""
        response = self._call("GetObject", "GET", bucket, key)
        try:
            yield self._raw(response, chunk)
        finally:
            response.close()

    def put_object(self, bucket: str, key: str, data: bytes) -> None:
        self._done(self._call("PutObject", "PUT", bucket, key, body=data))

    def create_multipart_upload(self, bucket: str, key: str) -> str:
        response = self._call("CreateMultipartUpload", "POST", bucket, key, [("uploads", "")])
        return _text(self._xml(response), "UploadId")

    def upload_part(self, bucket: str, key: str, upload: str, number: int, data: bytes) -> str:
        query = [("partNumber", str(number)), ("uploadId", upload)]
        response = self._call("UploadPart", "PUT", bucket, key, query, body=data)
        self._done(response)
        return str(response.headers.get("etag", ""))

    def upload_part_copy(
        self, bucket: str, key: str, upload: str, number: int, source: str, first: int, last: int
    ) -> str:
        query = [("partNumber", str(number)), ("uploadId", upload)]
        headers = {"x-amz-copy-source": source, "x-amz-copy-source-range": f"bytes={first}-{last}"}
        root = self._xml(self._call("UploadPartCopy", "PUT", bucket, key, query, headers=headers))
        return _text(root, "ETag")

    def complete_multipart_upload(
        self, bucket: str, key: str, upload: str, etags: Sequence[str]
    ) -> None:
        parts = "".join(
            f"<Part><PartNumber>{n}</PartNumber><ETag>{escape(etag)}</ETag></Part>"
            for n, etag in enumerate(etags, start=1)
        )
        body = f"<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>".encode()
        query = [("uploadId", upload)]
        # S3 can answer 200 and still fail: the error is then the body.
        self._xml(self._call("CompleteMultipartUpload", "POST", bucket, key, query, body=body))

    def abort_multipart_upload(self, bucket: str, key: str, upload: str) -> None:
        self._done(
            self._call("AbortMultipartUpload", "DELETE", bucket, key, [("uploadId", upload)])
        )

    def copy_object(
        self, source_bucket: str, source_key: str, bucket: str, key: str, size: int
    ) -> None:
        """A server-side copy within this service; in parts above CopyObject's 5 GiB."""
        source = f"/{_encode(source_bucket)}/{_encode(source_key, '/')}"
        if size <= MAX_COPY_OBJECT:
            headers = {"x-amz-copy-source": source}
            self._xml(self._call("CopyObject", "PUT", bucket, key, headers=headers))
            return
        upload = self.create_multipart_upload(bucket, key)
        try:
            step = 512 * 1024 * 1024
            etags = [
                self.upload_part_copy(
                    bucket, key, upload, n, source, first, min(first + step, size) - 1
                )
                for n, first in enumerate(range(0, size, step), start=1)
            ]
            self.complete_multipart_upload(bucket, key, upload, etags)
        except BaseException:
            self._abort_quietly(bucket, key, upload)
            raise

    def put_parts(self, bucket: str, key: str, parts: Iterator[bytes]) -> None:
        """A multipart upload of `parts` (each but the last at least 5 MiB), the next part
        read while the previous one is sent: at most two in memory. Aborted on failure."""
        upload = self.create_multipart_upload(bucket, key)
        try:
            with ThreadPoolExecutor(1, thread_name_prefix="s3-part") as sender:
                sent: list[Future[str]] = []
                for number, data in enumerate(parts, start=1):
                    if sent:
                        sent[-1].result()  # never more than one part in flight
                    sent.append(sender.submit(self.upload_part, bucket, key, upload, number, data))
                etags = [part.result() for part in sent]
            self.complete_multipart_upload(bucket, key, upload, etags)
        except BaseException:
            self._abort_quietly(bucket, key, upload)
            raise

    def _abort_quietly(self, bucket: str, key: str, upload: str) -> None:
        try:
            self.abort_multipart_upload(bucket, key, upload)
        except (S3Error, S3Unreachable, S3Stopped):
            pass  # the upload's parts expire with the bucket's lifecycle rules, if any

    # -- requests ---------------------------------------------------------------------

    def _region(self, bucket: str) -> str:
        with self._lock:
            return self._regions.get(bucket, self.credentials.region)

    def _url(
        self, bucket: str, key: str, query: Sequence[tuple[str, str]], region: str | None = None
    ) -> str:
        path = _encode(key, "/")
        if self.endpoint is not None:
            base = f"{self.endpoint}/{_encode(bucket)}"
            url = f"{base}/{path}" if key else base
        else:
            region = region or self._region(bucket)
            if "." in bucket:  # a dotted name breaks the TLS certificate of the virtual host
                base = f"https://s3.{region}.amazonaws.com/{_encode(bucket)}"
                url = f"{base}/{path}" if key else base
            else:  # virtual-hosted: the bucket is the host, its root the path "/"
                url = f"https://{bucket}.s3.{region}.amazonaws.com/{path}"
        pairs = sorted((_encode(k), _encode(v)) for k, v in query)
        if pairs:
            url += "?" + "&".join(f"{k}={v}" for k, v in pairs)
        return url

    def _call(
        self,
        operation: str,
        method: str,
        bucket: str,
        key: str,
        query: Sequence[tuple[str, str]] = (),
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        write = method in ("PUT", "POST", "DELETE")
        redirected = False
        attempt = 0
        while True:
            attempt += 1
            if self.stop.is_set():
                raise S3Stopped()
            region = self._region(bucket)
            url = self._url(bucket, key, query, region)
            sent = sign(
                method,
                url,
                dict(headers or {}),
                payload_hash(body),
                self.credentials,
                datetime.now(UTC),
                region,
            )
            if self.on_request is not None:
                self.on_request(operation, write)
            try:
                request = self.http.build_request(method, url, headers=sent, content=body)
                response = self.http.send(request, stream=True)
            except httpx.TransportError as exc:
                if attempt >= self.attempts:
                    raise S3Unreachable(type(exc).__name__, str(exc)) from None
                self._pause(attempt)
                continue
            if response.status_code < 300:
                return response  # streamed: the caller reads it (bounded) and closes it
            error = self._error(response)
            bucket_region = response.headers.get("x-amz-bucket-region")
            if (
                self.endpoint is None
                and not redirected
                and bucket_region
                and bucket_region != region
                and response.status_code in REGION_REDIRECTS
            ):
                with self._lock:
                    self._regions[bucket] = bucket_region
                redirected = True
                attempt -= 1  # the redirect is not a failure
                continue
            retried = response.status_code in RETRIED_STATUS or error.code in RETRIED_CODES
            if not retried or attempt >= self.attempts:
                raise error
            self._pause(attempt, response.headers.get("retry-after"))

    def _pause(self, attempt: int, retry_after: str | None = None) -> None:
        delay = self.backoff * 2 ** (attempt - 1)
        if retry_after and retry_after.isdigit():
            delay = max(delay, min(float(retry_after), 30.0))
        if self.stop.wait(delay):
            raise S3Stopped()

    def _error(self, response: httpx.Response) -> S3Error:
        status = response.status_code
        try:
            text = self._body(response) if response.request.method != "HEAD" else b""
        except (S3Unreachable, S3Error):
            text = b""
        finally:
            response.close()
        if not text.strip():
            return S3Error(status, str(status), "")
        try:
            root = ElementTree.fromstring(text)
        except ElementTree.ParseError:
            return S3Error(status, str(status), _snippet(text))
        return _refusal(status, root)

    def _body(self, response: httpx.Response) -> bytes:
        encoding = response.headers.get("content-encoding", "")
        try:
            return read_decoded(response.iter_raw(), encoding, MAX_XML_BYTES)
        except TooBig:
            raise S3Error(response.status_code, "TooBig", "the answer exceeds 8 MiB") from None
        except UnknownEncoding:
            raise S3Error(response.status_code, "BadEncoding", f"answer in {encoding}") from None
        except httpx.TransportError as exc:
            raise S3Unreachable(type(exc).__name__, str(exc)) from None

    def _xml(self, response: httpx.Response) -> ElementTree.Element:
        """The answer's XML root; an `<Error>` root (S3 sends some with status 200) raises."""
        try:
            text = self._body(response)
        finally:
            response.close()
        try:
            root = ElementTree.fromstring(text) if text.strip() else ElementTree.Element("Empty")
        except ElementTree.ParseError:
            raise S3Error(response.status_code, "MalformedAnswer", _snippet(text)) from None
        if root.tag in ("Error", f"{XML_NAMESPACE}Error"):
            raise _refusal(response.status_code, root)
        return root

    def _done(self, response: httpx.Response) -> None:
        """Reads the (empty or small) answer, so the connection goes back to the pool."""
        try:
            self._body(response)
        finally:
            response.close()

    def _raw(self, response: httpx.Response, chunk: int) -> Iterator[bytes]:
        try:
            yield from response.iter_raw(chunk)
        except httpx.TransportError as exc:
            raise S3Unreachable(type(exc).__name__, str(exc)) from None


def _text(element: ElementTree.Element, name: str) -> str:
    """The text of `element`'s child `name`, with or without S3's namespace."""
    found = element.find(f"{XML_NAMESPACE}{name}")
    if found is None:
        found = element.find(name)
    return (found.text or "") if found is not None else ""


def _refusal(status: int, root: ElementTree.Element) -> S3Error:
    """S3's `<Error>` document as an `S3Error` (the status as the code when it has none)."""
    return S3Error(status, _text(root, "Code") or str(status), _text(root, "Message"))


def _snippet(text: bytes) -> str:
    return " ".join(text[:200].decode(errors="replace").split())
