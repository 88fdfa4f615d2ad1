"""One GraphQL request to Railway over httpx, retried within fixed bounds.

Retried: timeouts and connection errors, HTTP 5xx, HTML pages from the edge
(exponential backoff), and HTTP 429 (waits for Retry-After when it is within
``max_retry_after``). Not retried: GraphQL ``errors[]`` (Railway's answer to a
bad token or a bad input does not change on a second try).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vpmigrate.errors import UserError
from vpmigrate.railway.settings import Connection

if TYPE_CHECKING:
    import httpx


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds for retries; tests shrink the delays, nothing else changes."""

    attempts: int = 5  # total tries per request
    backoff: float = 0.5  # first delay after a 5xx/HTML/connection failure; doubles
    max_backoff: float = 8.0
    max_retry_after: float = 60.0  # a longer Retry-After is reported, not waited out
    timeout: float = 30.0  # per request


class RailwayApiError(UserError):
    """Railway answered, but with an error (GraphQL errors[] or a non-retryable HTTP status)."""


class _Retry(Exception):
    def __init__(self, reason: str, delay: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay


class GraphQLTransport:
    """Posts GraphQL documents to Railway with the configured token."""

    def __init__(
        self,
        connection: Connection,
        policy: RetryPolicy | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import httpx

        self.connection = connection
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        self.client = httpx.Client(
            timeout=self.policy.timeout,
            headers={"Content-Type": "application/json", **connection.credentials.headers()},
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> GraphQLTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def execute(
        self, operation: str, document: str, variables: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Send ``document``; return its ``data`` or raise a UserError that says what failed."""
        import httpx

        policy = self.policy
        backoff = policy.backoff
        last = ""
        for attempt in range(1, policy.attempts + 1):
            try:
                response = self.client.post(
                    self.connection.url,
                    json={
                        "query": document,
                        "variables": dict(variables),
                        "operationName": operation,
                    },
                )
                return self._data(operation, response)
            except httpx.UnsupportedProtocol:
                raise UserError(
                    f"RAILWAY_API_URL {self.connection.url!r} is not an http(s) URL; fix or "
                    "unset it (the default is Railway's own endpoint)."
                ) from None
            except httpx.TimeoutException:
                retry = _Retry(f"no answer within {policy.timeout:g} s")
            except httpx.TransportError as exc:
                retry = _Retry(f"connection failed ({type(exc).__name__})")
            except _Retry as exc:
                retry = exc
            last = retry.reason
            if attempt == policy.attempts:
                break
            if retry.delay is not None:
                self.sleep(retry.delay)
            else:
                self.sleep(backoff)
                backoff = min(backoff * 2, policy.max_backoff)
        raise UserError(
            f"Railway's API at {self.connection.url} did not answer {operation} after "
            f"{policy.attempts} attempts (last: {last}). Railway may be degraded "
            "(status.railway.com); re-run the same command later: finished steps are not repeated."
        )

    def _data(self, operation: str, response: httpx.Response) -> dict[str, Any]:
        status = response.status_code
        if status == 429:
            raise _Retry("HTTP 429 rate limited", self._retry_after(response))
        if status >= 500:
            raise _Retry(f"HTTP {status}")
        content_type = response.headers.get("content-type", "")
        try:
            body = response.json()
        except ValueError:
            # The edge sometimes answers with an HTML page under load.
            if "html" in content_type or response.text.lstrip().startswith("<"):
                raise _Retry(f"an HTML page instead of JSON (HTTP {status})") from None
            raise RailwayApiError(
                f"Railway answered {operation} with HTTP {status} and a body that is not JSON; "
                "check RAILWAY_API_URL."
            ) from None
        errors = body.get("errors") if isinstance(body, dict) else None
        if errors:
            raise RailwayApiError(self._error_message(operation, errors))
        if status >= 400 or not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            raise RailwayApiError(
                f"Railway answered {operation} with HTTP {status} and no data; "
                "check RAILWAY_API_URL."
            )
        data: dict[str, Any] = body["data"]
        return data

    def _retry_after(self, response: httpx.Response) -> float:
        header = response.headers.get("retry-after", "")
        try:
            wait = max(float(header), 0.0)
        except ValueError:
            wait = self.policy.backoff
        if wait > self.policy.max_retry_after:
            limit = response.headers.get("x-ratelimit-limit")
            plan = f" (limit {limit} requests)" if limit else ""
            raise RailwayApiError(
                f"Railway's rate limit is exhausted{plan} and it asks to wait {wait:g} s, longer "
                f"than the {self.policy.max_retry_after:g} s this tool waits; re-run after that: "
                "finished steps are not repeated."
            )
        return wait

    def _error_message(self, operation: str, errors: list[Any]) -> str:
        messages = [str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors]
        text = "; ".join(messages)
        variable = self.connection.credentials.variable
        lowered = text.lower()
        if "not authorized" in lowered or "token not found" in lowered or "unauthorized" in lowered:
            project = self.connection.project_id or "the token's project"
            return (
                f"Railway refused the token in {variable} ({text!s}) for {operation}: it is "
                f"invalid, expired, or has no access to project {project}. Create a new token "
                "in Railway's dashboard and put it in .env (never on the command line)."
            )
        return f"Railway rejected {operation}: {text}"
