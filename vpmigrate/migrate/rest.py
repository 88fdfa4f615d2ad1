"""MLflow's REST API over httpx: retries, request counting, errors a user can act on.

One `RestClient` per tracking server, shared by the worker threads (httpx clients are
thread-safe). Transient failures (connection reset, timeouts, HTTP 429 and 5xx) are
retried with backoff; what remains becomes a `UserError` naming the server's role
(source / target), its URL and what to do. MLflow's own refusals (HTTP 4xx with an
`error_code`) become `ApiError` for the caller to handle or report.
"""

from __future__ import annotations

import functools
import json
import threading
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from vpmigrate.bounded import Late, TooBig, UnknownEncoding, read_decoded, within
from vpmigrate.errors import UserError

API = "/api/2.0/mlflow"
ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts"
SUPPORTED_MAJORS = (2, 3)
# A JSON answer larger than this once decompressed is not MLflow's (its pages are a few
# MiB at most): reading stops there, so a compression bomb cannot fill the memory.
MAX_JSON_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class TrackingServer:
    """Where one side's tracking server is and how to authenticate to it."""

    role: str  # "source" or "target": named in every message
    url: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    # Said when the server cannot be reached (e.g. how to reach a private Railway service).
    unreachable_hint: str = ""
    credential_names: str = "MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD"

    def secrets(self) -> list[str]:
        return [s for s in (self.password, self.token) if s]


class ApiError(Exception):
    """MLflow answered with an error of its own (`error_code`, `message`)."""

    def __init__(self, status: int, code: str, message: str, what: str, server: str = "") -> None:
        super().__init__(f"{what}: HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.what = what
        self.server = server  # "the target MLflow at URL"

    def as_user_error(self) -> UserError:
        """For a refusal nobody handled: what was refused, by whom, and MLflow's reason."""
        reason = " ".join(self.message.split())[:400]
        return UserError(
            f"{self.server or 'MLflow'} refused {self.what} ({self.code}: {reason}). Fix the "
            "cause and re-run: what was copied is kept and not copied again."
        )


class MaybeSent(Exception):
    """A creation failed in a way that leaves open whether the server carried it out."""


class RequestCounter:
    """HTTP requests sent, by destination ("source", "target", "source-s3", ...), and
    among them those that write."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}
        self.writes: dict[str, int] = {}

    def add(self, where: str, n: int = 1, *, write: bool = False) -> None:
        with self._lock:
            self.counts[where] = self.counts.get(where, 0) + n
            if write:
                self.writes[where] = self.writes.get(where, 0) + n

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.counts.values())


class Stopped(Exception):
    """The migration was asked to stop (Ctrl-C): finish no more work."""


class RestClient:
    def __init__(
        self,
        server: TrackingServer,
        counter: RequestCounter,
        *,
        connections: int = 8,
        timeout: float = 60.0,
        deadline: float = 120.0,
        attempts: int = 5,
        backoff: float = 0.5,
        stop: threading.Event | None = None,
    ) -> None:
        self.server = server
        self.counter = counter
        self.attempts = attempts
        self.backoff = backoff
        self.stop = stop or threading.Event()
        # Overall bound on one JSON exchange, answer included: a server that drips a byte
        # at a time never trips httpx's per-read timeout.
        self.deadline = deadline
        # Decoded here, within the size cap (vpmigrate.bounded), so only what it decodes.
        headers = {"User-Agent": "vpmigrate", "Accept-Encoding": "gzip, deflate"}
        auth: httpx.Auth | None = None
        if server.token:
            headers["Authorization"] = f"Bearer {server.token}"
        elif server.username and server.password:
            auth = httpx.BasicAuth(server.username, server.password)
        self.http = httpx.Client(
            base_url=server.url.rstrip("/"),
            headers=headers,
            auth=auth,
            timeout=httpx.Timeout(min(timeout, deadline), connect=min(10.0, deadline)),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            follow_redirects=True,
        )

    def close(self) -> None:
        self.http.close()

    # -- plain JSON calls ---------------------------------------------------------------

    def get(self, path: str, params: Any = None) -> dict[str, Any]:
        return self._json("GET", path, params=params)

    def post(self, path: str, body: Mapping[str, Any], *, once: bool = False) -> dict[str, Any]:
        """POST; `once` for calls that must not be repeated blindly (creations): a failure
        after the request may have reached the server raises `MaybeSent`."""
        return self._json("POST", path, json=body, once=once)

    def patch(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._json("PATCH", path, json=body)

    def _json(self, method: str, path: str, once: bool = False, **kwargs: Any) -> dict[str, Any]:
        response = self._send(method, path, once, read=True, **kwargs)
        if not response.content:
            return {}
        try:
            data = json.loads(response.content)
        except ValueError:
            raise self._not_mlflow(path, response) from None
        return data if isinstance(data, dict) else {"value": data}

    def _send(
        self, method: str, path: str, once: bool = False, read: bool = False, **kwargs: Any
    ) -> httpx.Response:
        """One request, retried on transient failures. Each attempt, headers included,
        ends within the overall deadline; with `read`, so does the whole answer, returned
        read (within the size cap) and closed. Without it the body is left unread after
        the headers (the caller closes the response)."""
        what = f"{method} {path}"
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            if self.stop.is_set():
                raise Stopped()
            self.counter.add(self.server.role, write=_writes(method, path))
            request = self.http.build_request(method, path, **kwargs)
            until = time.monotonic() + self.deadline
            try:
                response = within(
                    self.deadline,
                    functools.partial(self._exchange, request, read, until),
                    discard=httpx.Response.close,
                    name="mlflow-request",
                )
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if attempt >= 2:  # one retry: a server that refuses twice is not there
                    raise self.unreachable(exc) from None
                self._sleep(delay)
                delay *= 2
                continue
            except httpx.TransportError as exc:
                if once:
                    raise MaybeSent(what) from exc
                if attempt == self.attempts:
                    raise self._gave_up(what, type(exc).__name__) from None
                self._sleep(delay)
                delay = min(delay * 2, 8.0)
                continue
            except Late:
                if once:
                    raise MaybeSent(what) from None
                raise self._late(what) from None
            except TooBig:
                raise self._too_big(what) from None
            except zlib.error:
                raise self._gave_up(what, "a corrupt compressed answer") from None
            except UnknownEncoding as exc:
                raise self._gave_up(what, f"an answer in Content-Encoding {exc}") from None
            if response.status_code == 429 or response.status_code >= 500:
                response.close()
                if once and response.status_code != 429:
                    raise MaybeSent(what)
                if attempt == self.attempts:
                    raise self._gave_up(what, f"HTTP {response.status_code}")
                wait = delay
                retry_after = response.headers.get("Retry-After", "")
                if retry_after.isdigit():
                    wait = min(float(retry_after), 60.0)
                self._sleep(wait)
                delay = min(delay * 2, 8.0)
                continue
            if response.status_code >= 400:
                raise self._refused(what, response)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _exchange(self, request: httpx.Request, read: bool, until: float) -> httpx.Response:
        """One attempt (in a worker thread, see `_send`): an error answer is read whole
        within the bounds, a success answer too with `read`."""
        response = self.http.send(request, stream=True)
        status = response.status_code
        if status == 429 or status >= 500:
            response.close()
            return response
        if status >= 400:
            return _settled(response, until)
        if not read:
            return response
        try:
            return _loaded(response, _read_capped(response, until))
        finally:
            response.close()

    def _sleep(self, seconds: float) -> None:
        if self.stop.wait(seconds):
            raise Stopped()

    # -- streams ------------------------------------------------------------------------

    @contextmanager
    def stream(self, path: str, params: Any = None) -> Iterator[httpx.Response]:
        """GET a body without reading it into memory (retried only before it starts)."""
        response = self._send("GET", path, params=params)
        try:
            yield response
        finally:
            response.close()

    def put_stream(self, path: str, chunks: Iterable[bytes], size: int) -> None:
        """PUT a body from an iterator. One attempt (the iterator cannot be replayed): a
        transient failure raises `MaybeSent`, and the caller starts the file again."""
        if self.stop.is_set():
            raise Stopped()
        self.counter.add(self.server.role, write=True)
        headers = {"Content-Length": str(size), "Content-Type": "application/octet-stream"}
        try:
            request = self.http.build_request("PUT", path, content=chunks, headers=headers)
            # The answer is streamed and read within the usual bounds: an error page may be
            # as hostile as any other answer (a gzip bomb, a byte at a time).
            response = _settled(
                self.http.send(request, stream=True), time.monotonic() + self.deadline
            )
        except httpx.ConnectError as exc:
            raise self.unreachable(exc) from None
        except httpx.TransportError as exc:
            raise MaybeSent(f"PUT {path}: {type(exc).__name__}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise MaybeSent(f"PUT {path}: HTTP {response.status_code}")
        if response.status_code >= 400:
            raise self._refused(f"PUT {path}", response)

    # -- what the server is -------------------------------------------------------------

    def version(self) -> str:
        """The server's MLflow version ("" when it does not say: very old servers)."""
        try:
            text = self._send("GET", "/version", read=True).content.decode("utf-8", "replace")
        except ApiError:
            return ""
        text = text.strip()
        return text if text[:1].isdigit() and len(text) < 40 else ""

    # -- errors -------------------------------------------------------------------------

    def unreachable(self, exc: Exception) -> UserError:
        s = self.server
        reason = " ".join(str(exc).split()) or type(exc).__name__
        hint = s.unreachable_hint or (f"check the URL (--{s.role}) and that the server is running")
        return UserError(f"cannot reach the {s.role} MLflow at {s.url} ({reason}): {hint}")

    def _gave_up(self, what: str, reason: str) -> UserError:
        return self._resumable(
            f"kept failing ({what}: {reason}, {self.attempts} attempts): see the server's logs"
        )

    def _late(self, what: str) -> UserError:
        return self._resumable(
            f"sent no complete answer to {what} within {self.deadline:g} s (mlflow.timeout): "
            "see the server's logs or the network in between, or raise INVOKE_MLFLOW_TIMEOUT"
        )

    def _resumable(self, problem: str) -> UserError:
        """A failure that a re-run resumes from."""
        s = self.server
        return UserError(
            f"the {s.role} MLflow at {s.url} {problem}. Everything copied so far is kept; "
            "re-run the same command to finish the rest."
        )

    def _too_big(self, what: str) -> UserError:
        s = self.server
        return UserError(
            f"the {s.role} at {s.url} answered {what} with more than "
            f"{MAX_JSON_BYTES // (1024 * 1024)} MiB of JSON once decompressed; reading "
            "stopped there. Is this URL an MLflow tracking server?"
        )

    def _refused(self, what: str, response: httpx.Response) -> Exception:
        s = self.server
        status = response.status_code
        if status in (401, 403):
            return UserError(
                f"the {s.role} MLflow at {s.url} refused {what} (HTTP {status}): set "
                f"{s.credential_names} (or MLFLOW_TRACKING_TOKEN) to credentials that may "
                f"{'write' if s.role == 'target' else 'read'} there, in the environment or .env."
            )
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and "error_code" in body:
            message = str(body.get("message", ""))
            return ApiError(status, str(body["error_code"]), message, what, self._name())
        if status == 404:
            return ApiError(status, "ENDPOINT_NOT_FOUND", "not found", what, self._name())
        return self._not_mlflow(what, response)

    def _name(self) -> str:
        return f"the {self.server.role} MLflow at {self.server.url}"

    def _not_mlflow(self, what: str, response: httpx.Response) -> UserError:
        s = self.server
        return UserError(
            f"the {s.role} at {s.url} answered {what} with HTTP {response.status_code} and "
            f"no MLflow error ({response.headers.get('content-type', 'no content type')}): "
            "is this URL an MLflow tracking server (and not a proxy or login page)?"
        )


def _read_capped(response: httpx.Response, deadline: float) -> bytes:
    """The body, decompressed within MAX_JSON_BYTES, given up at `deadline`."""
    encoding = response.headers.get("content-encoding", "")
    return read_decoded(response.iter_raw(), encoding, MAX_JSON_BYTES, deadline)


def _settled(response: httpx.Response, deadline: float) -> httpx.Response:
    """A streamed error answer, read within the same bounds as any JSON answer and
    closed; a body that breaks them is left out (the status still tells the story)."""
    try:
        body = _read_capped(response, deadline)
    except (Late, TooBig, UnknownEncoding, httpx.TransportError, zlib.error):
        body = b""
    finally:
        response.close()
    return _loaded(response, body)


def _loaded(response: httpx.Response, body: bytes) -> httpx.Response:
    """A closed streamed response again, with `body` (decoded) as its content."""
    headers = [
        (k, v)
        for k, v in response.headers.multi_items()
        if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
    ]
    return httpx.Response(
        response.status_code, headers=headers, content=body, request=response.request
    )


def _writes(method: str, path: str) -> bool:
    """Whether a request changes the server (searches are POSTs that only read)."""
    return method != "GET" and not path.endswith("/search")


def major_of(version: str) -> int | None:
    head = version.split(".", 1)[0]
    return int(head) if head.isdigit() else None


def check_versions(source: RestClient, target: RestClient) -> tuple[str, str]:
    """Both servers answer and speak an API this tool knows; their versions."""
    # Both asked at once; judged source first, as if asked one after the other.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="migrate-version") as both:
        asked = [(client, both.submit(client.version)) for client in (source, target)]
    versions = []
    for client, answer in asked:
        version = answer.result()
        major = major_of(version)
        if major is not None and major not in SUPPORTED_MAJORS:
            s = client.server
            raise UserError(
                f"the {s.role} MLflow at {s.url} runs MLflow {version}, whose REST API this "
                f"migration does not speak (it supports MLflow "
                f"{' and '.join(f'{m}.x' for m in SUPPORTED_MAJORS)}): upgrade that server "
                "(e.g. the image of deploy/mlflow/Dockerfile) and re-run."
            )
        versions.append(version)
    return versions[0], versions[1]


def incompatible(client: RestClient, version: str, feature: str, exc: ApiError) -> UserError:
    """A needed endpoint is missing on a server: name the feature and the version."""
    s = client.server
    return UserError(
        f"the {s.role} MLflow at {s.url} (MLflow {version or 'of unknown version'}) has no "
        f"{feature} ({exc.what} answered {exc.code}): it is older than this migration needs; "
        "upgrade it to MLflow 2.9 or later (the version of the local stack) and re-run."
    )
