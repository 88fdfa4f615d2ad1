"""Connecting to the Docker engine, with a message that says how to start it."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from vpmigrate.errors import UserError

if TYPE_CHECKING:
    from vpmigrate.engine.backend import DockerEngine


def connect() -> DockerEngine:
    """The engine named by DOCKER_HOST (default: the local socket)."""
    import docker
    from docker.errors import DockerException

    from vpmigrate.engine.backend import DockerEngine

    where = _where()
    try:
        client = docker.from_env(timeout=http_timeout())
        client.ping()
    except DockerException as exc:
        raise UserError(
            f"the Docker daemon is not reachable at {where} ({_reason(exc)}). Start it "
            "(`sudo systemctl start docker`, or `sudo dockerd &` where there is no systemd; "
            "on a desktop, start Docker Desktop), or point DOCKER_HOST at a running engine, "
            "then re-run the command."
        ) from None
    return DockerEngine(client)


DEFAULT_HTTP_TIMEOUT_S = 120


def _where() -> str:
    return os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")


def http_timeout() -> int:
    """Seconds to wait for one answer of the engine: COMPOSE_HTTP_TIMEOUT, as Compose
    reads it, when it is a positive whole number; else 120."""
    text = os.environ.get("COMPOSE_HTTP_TIMEOUT", "").strip()
    return int(text) if text.isdigit() and int(text) > 0 else DEFAULT_HTTP_TIMEOUT_S


def unanswered(exc: BaseException) -> UserError | None:
    """The expected failure behind a request to the engine that got no answer (a busy
    or stuck daemon), or None when `exc` is something else. The Docker SDK raises these
    as the HTTP library's own errors, not as DockerException."""
    import requests

    if not isinstance(exc, requests.exceptions.RequestException):
        return None
    request = exc.request
    url = str(getattr(request, "url", "") or "")
    if not url.startswith(("http+docker://", "http+unix://")) and not _is_engine_url(url):
        return None
    what = (
        "did not answer in time"
        if isinstance(exc, requests.exceptions.Timeout)
        else ("dropped the connection")
    )
    return UserError(
        f"the Docker daemon at {_where()} {what} (waited up to {http_timeout()} s per "
        "request): it may be overloaded or stuck. Check it with `docker info`, let other "
        "work on the engine finish (or raise COMPOSE_HTTP_TIMEOUT), then re-run the same "
        "command: it carries on from where it stopped."
    )


def _is_engine_url(url: str) -> bool:
    """An engine reached over TCP (DOCKER_HOST=tcp://host:port) is spoken to over http(s)."""
    where = _where()
    if not where.startswith("tcp://"):
        return False
    host = where.removeprefix("tcp://").rstrip("/")
    return url.startswith((f"http://{host}/", f"https://{host}/"))


def _reason(exc: Exception) -> str:
    text = str(exc)
    for marker in ("No such file or directory", "Connection refused", "Permission denied"):
        if marker in text:
            return marker.lower()
    return text.splitlines()[0][:160] if text else type(exc).__name__
