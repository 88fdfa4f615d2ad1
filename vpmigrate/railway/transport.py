"""One GraphQL request to Railway over httpx: bounded in time and size, retried
only when that is safe, and never quoting a secret.

Bounds: an overall deadline per request (connect, send and the whole answer: a
server that drips one byte at a time is cut off), and a cap on the answer's size
after decompression (gzip and deflate are decoded here, chunk by chunk, so a
compression bomb stops at the cap).

Retries: a request that never reached Railway (connection refused, HTTP 429)
is retried whatever it is. A request whose fate is unknown (timeout, connection
lost, HTTP 5xx, an HTML page from the edge) is retried only when it is marked
safe to repeat (reads, upserts, redeploys); otherwise AnswerLost is raised and
the caller reads back before deciding anything. GraphQL ``errors[]`` and other
HTTP 4xx are not retried: the answer would not change.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from vpmigrate.bounded import Late, TooBig, UnknownEncoding, read_decoded, within
from vpmigrate.errors import UserError
from vpmigrate.railway.secrets import Masker
from vpmigrate.railway.settings import Connection

if TYPE_CHECKING:
    import httpx

MESSAGE_LIMIT = 300  # characters of a server's message shown in an error


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds for retries; tests shrink the delays, nothing else changes."""

    attempts: int = 5  # total tries per request
    backoff: float = 0.5  # first delay after a 5xx/HTML/connection failure; doubles
    max_backoff: float = 8.0
    max_retry_after: float = 60.0  # a longer Retry-After is reported, not waited out
    timeout: float = 30.0  # overall deadline per request, answer included
    max_response_bytes: int = 16 * 1024 * 1024  # after decompression


@dataclass(frozen=True)
class Issue:
    """One entry of a GraphQL ``errors[]``: its message (masked) and path, and whether
    the server says it refused the document before running it (``extensions``)."""

    message: str
    path: tuple[str | int, ...] = ()
    validation: bool = False


class RailwayApiError(UserError):
    """Railway answered, but with an error (GraphQL errors[] or a non-retryable HTTP status)."""

    def __init__(
        self,
        message: str,
        *,
        issues: tuple[Issue, ...] = (),
        data: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.issues = issues
        self.data = data


class DocumentTooLarge(RailwayApiError):
    """Railway refused the document itself as too large or too complex: nothing ran."""


class AnswerLost(UserError):
    """A request that is not safe to repeat may or may not have been applied."""


# How servers word a refusal of the document itself (query cost, depth, alias or
# size limits); only an error without a path (nothing executed) counts.
_TOO_LARGE = re.compile(
    r"too (large|complex|big|many|deep)|complexity|query cost|exceeds?(ed)? (the )?"
    r"(max|limit)|max(imum)? (query )?(depth|cost|aliases|complexity|size)|"
    r"payload too large|entity too large",
    re.IGNORECASE,
)
# extensions.code / .category / .type values servers use for a refused document.
_REFUSED_DOCUMENT = re.compile(
    r"complex|depth|cost|too_large|validation|input_error|bad_user_input", re.IGNORECASE
)
_AUTH = re.compile(r"not authorized|unauthori[sz]ed|token not found|invalid token", re.IGNORECASE)


class _Retry(Exception):
    def __init__(self, reason: str, *, ambiguous: bool, delay: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.ambiguous = ambiguous  # the request may have been applied
        self.delay = delay


@dataclass(frozen=True)
class _Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass
class Traffic:
    """What was sent: every HTTP request (retries included) and the rate-limit
    headers Railway last returned."""

    requests: int = 0
    by_operation: dict[str, int] = field(default_factory=dict)
    rate_limit: dict[str, str] = field(default_factory=dict)


class GraphQLTransport:
    """Posts GraphQL documents to Railway with the configured token."""

    def __init__(
        self,
        connection: Connection,
        policy: RetryPolicy | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        mask: Masker | None = None,
    ) -> None:
        self.connection = connection
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        self.mask = mask or Masker()
        self.mask.add(connection.credentials.token)
        self.traffic = Traffic()
        self.client = self._new_client()

    def _new_client(self) -> httpx.Client:
        import httpx

        return httpx.Client(
            timeout=self.policy.timeout,
            follow_redirects=False,  # the token never goes to another host
            headers={
                "Content-Type": "application/json",
                "Accept-Encoding": "gzip, deflate",  # decoded here, within the size cap
                **self.connection.credentials.headers(),
            },
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> GraphQLTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the request loop ---------------------------------------------------------------
    def execute(
        self,
        operation: str,
        document: str,
        variables: Mapping[str, Any],
        *,
        safe: bool = True,
    ) -> dict[str, Any]:
        """Send ``document``; return its ``data`` or raise a UserError that says what failed.

        ``safe``: the operation may be repeated when its fate is unknown. When it is
        not, such a failure raises AnswerLost instead of a retry.
        """
        policy = self.policy
        payload = json.dumps(
            {"query": document, "variables": dict(variables), "operationName": operation}
        ).encode()
        backoff = policy.backoff
        last = ""
        for attempt in range(1, policy.attempts + 1):
            try:
                reply = self._post(operation, payload)
                return self._data(operation, reply)
            except _Retry as retry:
                if retry.ambiguous and not safe:
                    raise AnswerLost(
                        f"the answer to {operation} was lost ({retry.reason}): Railway may or "
                        "may not have applied it."
                    ) from None
                last = retry.reason
                if attempt == policy.attempts:
                    break
                if retry.delay is not None:
                    self.sleep(retry.delay)
                else:
                    self.sleep(backoff)
                    backoff = min(backoff * 2, policy.max_backoff)
        raise UserError(
            f"Railway's API at {self._shown_url()} did not answer {operation} after "
            f"{policy.attempts} attempts (last: {last}). Railway may be degraded "
            "(status.railway.com); re-run the same command later: finished steps are not repeated."
        )

    def _shown_url(self) -> str:
        return self.mask.safe(self.connection.url, 200)

    def _post(self, operation: str, payload: bytes) -> _Reply:
        """One HTTP exchange under the overall deadline (vpmigrate.bounded.within): a
        server that keeps the connection alive with a trickle cannot hold us past it."""
        import httpx

        traffic = self.traffic
        traffic.requests += 1
        traffic.by_operation[operation] = traffic.by_operation.get(operation, 0) + 1
        client = self.client

        def abandon() -> None:
            # A fresh client, so the stuck connection is never reused; closing the old
            # one makes its socket fail at the next byte.
            self.client = self._new_client()
            threading.Thread(target=client.close, daemon=True).start()

        try:
            return within(
                self.policy.timeout,
                lambda: self._exchange(client, payload),
                abandon=abandon,
                name="railway-request",
            )
        except Late:
            raise _Retry(
                f"no complete answer within {self.policy.timeout:g} s", ambiguous=True
            ) from None
        except TooBig:
            raise RailwayApiError(
                f"Railway's answer to {operation} is larger than "
                f"{self.policy.max_response_bytes // (1024 * 1024)} MiB once decompressed; it "
                "was cut off. Check RAILWAY_API_URL (Railway's answers are far smaller)."
            ) from None
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            # Nothing reached Railway: always safe to try again.
            raise _Retry(f"connection failed ({type(error).__name__})", ambiguous=False) from None
        except httpx.TimeoutException:
            raise _Retry(f"no answer within {self.policy.timeout:g} s", ambiguous=True) from None
        except (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL) as error:
            raise self._unsendable(operation, error) from None
        except httpx.TransportError as error:
            raise _Retry(f"connection lost ({type(error).__name__})", ambiguous=True) from None
        except (httpx.HTTPError, ValueError) as error:
            raise self._unsendable(operation, error) from None

    def _unsendable(self, operation: str, error: Exception) -> UserError:
        return UserError(
            f"could not send {operation} to {self._shown_url()} "
            f"({type(error).__name__}: {self.mask.safe(str(error), MESSAGE_LIMIT)}); "
            "check RAILWAY_API_URL and the token's characters."
        )

    def _exchange(self, client: httpx.Client, payload: bytes) -> _Reply:
        with client.stream("POST", self.connection.url, content=payload) as response:
            body = self._read_bounded(response)
            return _Reply(response.status_code, dict(response.headers), body)

    def _read_bounded(self, response: httpx.Response) -> bytes:
        encoding = response.headers.get("content-encoding", "")
        try:
            return read_decoded(response.iter_raw(), encoding, self.policy.max_response_bytes)
        except UnknownEncoding:
            raise RailwayApiError(
                f"Railway answered with Content-Encoding '{self.mask.safe(encoding, 60)}', "
                "which this tool does not decode; check RAILWAY_API_URL."
            ) from None
        except zlib.error:
            raise RailwayApiError(
                "Railway's compressed answer is corrupt; re-run, and check "
                "RAILWAY_API_URL if it persists."
            ) from None

    # -- reading an answer --------------------------------------------------------------
    def _data(self, operation: str, reply: _Reply) -> dict[str, Any]:
        status = reply.status
        headers = {k.lower(): v for k, v in reply.headers.items()}
        seen = {k: v for k, v in headers.items() if k.startswith("x-ratelimit")}
        if seen:
            self.traffic.rate_limit.update({k: self.mask.safe(v, 40) for k, v in seen.items()})
        if status == 429:
            raise _Retry("HTTP 429 rate limited", ambiguous=False, delay=self._wait(headers))
        if status == 413:
            raise DocumentTooLarge(f"Railway refused {operation} as too large (HTTP 413).")
        if status >= 500 or status == 408:
            raise _Retry(f"HTTP {status}", ambiguous=True)
        try:
            body = json.loads(reply.body.decode("utf-8"))
        except (ValueError, RecursionError):
            text = reply.body[:512].decode("utf-8", "replace").lstrip()
            html = "html" in headers.get("content-type", "") or text.startswith("<")
            if status < 300 and html:
                # The edge sometimes answers with an HTML page under load.
                raise _Retry(
                    f"an HTML page instead of JSON (HTTP {status})", ambiguous=True
                ) from None
            if status >= 400:
                raise RailwayApiError(self._http_error(operation, status)) from None
            raise RailwayApiError(
                f"Railway answered {operation} with HTTP {status} and a body that is not JSON; "
                "check RAILWAY_API_URL."
            ) from None
        errors = body.get("errors") if isinstance(body, dict) else None
        if errors:
            raise self._graphql_error(operation, errors, body.get("data"))
        if status >= 400:
            raise RailwayApiError(self._http_error(operation, status))
        if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            raise RailwayApiError(
                f"Railway answered {operation} with HTTP {status} and no data; "
                "check RAILWAY_API_URL."
            )
        data: dict[str, Any] = body["data"]
        return data

    def _http_error(self, operation: str, status: int) -> str:
        variable = self.connection.credentials.variable
        if status in (401, 403):
            return (
                f"Railway refused {operation} with HTTP {status}: the token in {variable} is "
                "invalid or has no access, or Railway's edge blocked this client. This is not "
                "an outage: check the token (create a new one in Railway's dashboard) and "
                "RAILWAY_API_URL."
            )
        return (
            f"Railway answered {operation} with HTTP {status}; check RAILWAY_API_URL "
            "(it must point at Railway's GraphQL endpoint)."
        )

    def _wait(self, headers: Mapping[str, str]) -> float:
        """The delay a 429 asks for: Retry-After in seconds or as an HTTP date; a value
        that is neither (``NaN``, garbage) falls back to the first backoff."""
        text = headers.get("retry-after", "").strip()
        wait: float | None = None
        if text.isdigit():
            wait = float(text) if len(text) < 10 else math.inf
        elif text:
            try:
                when = parsedate_to_datetime(text)
                wait = max(when.timestamp() - time.time(), 0.0)
            except (TypeError, ValueError, IndexError, OverflowError):
                wait = None
        if wait is None:
            wait = self.policy.backoff
        if wait > self.policy.max_retry_after:
            limit = headers.get("x-ratelimit-limit", "")
            plan = f" (limit {self.mask.safe(limit, 20)} requests)" if limit else ""
            asked = "an indefinite time" if wait == math.inf else f"{wait:g} s"
            raise RailwayApiError(
                f"Railway's rate limit is exhausted{plan} and it asks to wait {asked}, longer "
                f"than the {self.policy.max_retry_after:g} s this tool waits; re-run after that: "
                "finished steps are not repeated."
            )
        return wait

    def _graphql_error(self, operation: str, errors: Any, data: Any) -> RailwayApiError:
        items = errors if isinstance(errors, list) else [errors]
        issues = []
        for item in items[:20]:
            validation = False
            if isinstance(item, dict):
                message = item.get("message", item)
                raw_path = item.get("path")
                extensions = item.get("extensions")
                if isinstance(extensions, dict):
                    kinds = [extensions.get(k) for k in ("code", "category", "type")]
                    validation = any(
                        isinstance(k, str) and _REFUSED_DOCUMENT.search(k) for k in kinds
                    )
            else:
                message, raw_path = item, None
            steps = raw_path if isinstance(raw_path, list) else []
            path = tuple(p for p in steps if isinstance(p, str | int))
            issues.append(Issue(self.mask.safe(str(message), MESSAGE_LIMIT), path, validation))
        text = "; ".join(i.message for i in issues) or "an empty error"
        found = tuple(issues)
        usable = data if isinstance(data, dict) else None
        # Too large: said of the document before it ran (no path, or a validation code);
        # some servers name the field that made the query too costly.
        if any((not i.path or i.validation) and _TOO_LARGE.search(i.message) for i in issues):
            return DocumentTooLarge(
                f"Railway refused {operation} as too large or complex: {text}", issues=found
            )
        if _AUTH.search(text):
            variable = self.connection.credentials.variable
            project = self.mask.safe(self.connection.project_id or "the token's project", 80)
            return RailwayApiError(
                f"Railway refused the token in {variable} ({text}) for {operation}: it is "
                f"invalid, expired, or has no access to project {project}. Create a new token "
                "in Railway's dashboard and put it in .env (never on the command line).",
                issues=found,
                data=usable,
            )
        return RailwayApiError(f"Railway rejected {operation}: {text}", issues=found, data=usable)
