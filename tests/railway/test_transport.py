"""The GraphQL client's fault handling, against the stand-in's injected faults.

Sleeps are recorded instead of slept, so the waits the client chose are visible.
"""

from __future__ import annotations

import gzip
import socket
import time
import zlib
from collections.abc import Callable, Iterator

import pytest

from tests.railway.conftest import ACCOUNT_TOKEN, PROJECT_TOKEN, World
from vpmigrate.errors import UserError
from vpmigrate.railway.api import GraphQLRailway
from vpmigrate.railway.settings import Connection, Credentials
from vpmigrate.railway.transport import (
    AnswerLost,
    GraphQLTransport,
    RailwayApiError,
    RetryPolicy,
)


class Backend:
    def __init__(
        self, world: World, policy: RetryPolicy, credentials: Credentials, url: str
    ) -> None:
        self.sleeps: list[float] = []
        connection = Connection(url, credentials, world.project.id)
        self.transport = GraphQLTransport(connection, policy, sleep=self.sleeps.append)
        self.api = GraphQLRailway(self.transport)


MakeBackend = Callable[..., Backend]


@pytest.fixture
def make(world: World) -> Iterator[MakeBackend]:
    made: list[Backend] = []

    def factory(
        policy: RetryPolicy | None = None,
        credentials: Credentials | None = None,
        url: str | None = None,
    ) -> Backend:
        backend = Backend(
            world,
            policy or RetryPolicy(),
            credentials or Credentials("RAILWAY_API_TOKEN", ACCOUNT_TOKEN),
            url or world.api.url,
        )
        made.append(backend)
        return backend

    yield factory
    for backend in made:
        backend.transport.close()


def test_429_waits_for_retry_after_then_succeeds(world: World, make: MakeBackend) -> None:
    world.api.fail("rate_limit", retry_after=7)
    backend = make()

    project = backend.api.project(world.project.id)

    assert "timm-service" in project.services
    assert backend.sleeps == [7.0]
    assert len(world.api.requests) == 2


def test_retry_after_beyond_the_bound_is_reported_not_waited(
    world: World, make: MakeBackend
) -> None:
    world.api.fail("rate_limit", retry_after=3600)
    backend = make(RetryPolicy(max_retry_after=60))

    with pytest.raises(RailwayApiError) as caught:
        backend.api.project(world.project.id)

    assert "3600 s" in caught.value.message and "re-run" in caught.value.message
    assert backend.sleeps == []


def test_5xx_and_html_pages_are_retried_with_growing_backoff(
    world: World, make: MakeBackend
) -> None:
    world.api.fail("server_error")
    world.api.fail("html")
    backend = make(RetryPolicy(backoff=0.5, max_backoff=8))

    backend.api.project(world.project.id)

    assert backend.sleeps == [0.5, 1.0]
    assert len(world.api.requests) == 3


def test_retries_are_bounded_and_the_message_says_what_happened(
    world: World, make: MakeBackend
) -> None:
    world.api.fail("server_error", times=10)
    backend = make(RetryPolicy(attempts=3, backoff=0.25, max_backoff=0.3))

    with pytest.raises(UserError) as caught:
        backend.api.project(world.project.id)

    assert "after 3 attempts" in caught.value.message and "HTTP 500" in caught.value.message
    assert backend.sleeps == [0.25, 0.3]
    assert len(world.api.requests) == 3


def test_a_slow_answer_times_out_and_is_retried(world: World, make: MakeBackend) -> None:
    # Wide margins both ways, so that a loaded machine changes nothing: the first answer
    # is held for a minute (released when the stand-in closes), twenty times the
    # deadline, and the retry's prompt answer has the whole 3 s deadline to arrive.
    world.api.fail("delay", delay=60.0)
    backend = make(RetryPolicy(timeout=3.0))

    project = backend.api.project(world.project.id)

    assert "timm-service" in project.services
    assert len(world.api.requests) == 2 and len(backend.sleeps) == 1


def test_connection_refused_is_retried_then_reported(world: World, make: MakeBackend) -> None:
    with socket.socket() as probe:  # a port with nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    backend = make(RetryPolicy(attempts=2), url=f"http://127.0.0.1:{port}/graphql/v2")

    with pytest.raises(UserError) as caught:
        backend.api.project(world.project.id)

    assert "connection failed" in caught.value.message
    assert len(backend.sleeps) == 1


def test_graphql_errors_are_not_retried(world: World, make: MakeBackend) -> None:
    world.api.fail("graphql_error", message="Variable name too long")
    backend = make()

    with pytest.raises(RailwayApiError) as caught:
        backend.api.project(world.project.id)

    assert caught.value.message == "Railway rejected Project: Variable name too long"
    assert len(world.api.requests) == 1 and backend.sleeps == []


def test_refused_project_token_names_railway_token(world: World, make: MakeBackend) -> None:
    backend = make(credentials=Credentials("RAILWAY_TOKEN", "not-" + PROJECT_TOKEN))

    with pytest.raises(RailwayApiError) as caught:
        backend.api.token_project()

    assert "RAILWAY_TOKEN" in caught.value.message
    assert "Project Token not found" in caught.value.message
    assert PROJECT_TOKEN not in caught.value.message


def test_standin_serves_the_single_variable_upsert_too(world: World, make: MakeBackend) -> None:
    """Other clients (bench/per_variable.py) write one variable per call."""
    backend = make()
    env = world.state.env_id(world.project, "production")
    service = world.state.service_id(world.project, "frontend")
    document = """
    mutation VariableUpsert($input: VariableUpsertInput!) { variableUpsert(input: $input) }
    """
    ids = {"projectId": world.project.id, "environmentId": env, "serviceId": service}

    backend.transport.execute(
        "VariableUpsert", document, {"input": {**ids, "name": "A", "value": "1"}}
    )

    assert world.vars("frontend")["A"] == "1"


def test_a_url_without_scheme_is_reported_at_once(world: World, make: MakeBackend) -> None:
    backend = make(url="backboard.example/graphql/v2")

    with pytest.raises(UserError, match="could not send Project to backboard.example"):
        backend.api.project(world.project.id)

    assert backend.sleeps == [] and world.api.requests == []


@pytest.mark.parametrize("value", ["NaN", "nan", "-1e999", "soon", "", "1e400", "inf"])
def test_a_retry_after_that_is_no_number_falls_back_to_the_backoff(
    world: World, make: MakeBackend, value: str
) -> None:
    world.api.fail("rate_limit", retry_after=value)
    backend = make(RetryPolicy(backoff=0.25))

    backend.api.project(world.project.id)

    assert backend.sleeps == [0.25]


def test_a_retry_after_as_an_http_date_is_waited_out(world: World, make: MakeBackend) -> None:
    from email.utils import formatdate

    world.api.fail("rate_limit", retry_after=formatdate(time.time() + 5, usegmt=True))
    backend = make()

    backend.api.project(world.project.id)

    [wait] = backend.sleeps
    assert 0 <= wait <= 6


@pytest.mark.parametrize("status", [401, 403])
def test_a_refusal_by_http_status_is_not_called_an_outage(
    world: World, make: MakeBackend, status: int
) -> None:
    page = b"<html><body>Access denied | backboard.railway.com used Cloudflare</body></html>"
    world.api.fail("status", status=status, body=page, content_type="text/html", times=10)
    backend = make()

    with pytest.raises(RailwayApiError) as caught:
        backend.api.project(world.project.id)

    message = caught.value.message
    assert f"HTTP {status}" in message and "RAILWAY_API_TOKEN" in message
    assert "degraded" not in message and "not an outage" in message
    assert len(world.api.requests) == 1 and backend.sleeps == []


def test_a_gzip_bomb_is_cut_off_at_the_size_limit(world: World, make: MakeBackend) -> None:
    world.api.fail("gzip_bomb", size=64 * 1024 * 1024)
    backend = make(RetryPolicy(max_response_bytes=1024 * 1024))

    with pytest.raises(RailwayApiError, match="larger than 1 MiB once decompressed"):
        backend.api.project(world.project.id)

    assert len(world.api.requests) == 1


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_compressed_answer_within_the_limit_is_decoded(
    world: World, make: MakeBackend, encoding: str
) -> None:
    answer = (
        b'{"data": {"project": {"id": "p1", "name": "n", "services": {"edges": '
        b'[{"node": {"id": "s1", "name": "api"}}]}, "environments": {"edges": []}}}}'
    )
    body = gzip.compress(answer) if encoding == "gzip" else zlib.compress(answer)
    world.api.fail("raw", body=body, encoding=encoding)
    backend = make()

    project = backend.api.project(world.project.id)

    assert dict(project.services) == {"api": "s1"}


def test_an_encoding_it_cannot_decode_is_refused(world: World, make: MakeBackend) -> None:
    world.api.fail("raw", body=b"\x00\x01", encoding="br")
    backend = make()

    with pytest.raises(RailwayApiError, match="Content-Encoding 'br'"):
        backend.api.project(world.project.id)


def test_a_server_dripping_its_answer_is_cut_off_by_the_overall_deadline(
    world: World, make: MakeBackend
) -> None:
    world.api.fail("drip", delay=0.5, times=10)
    backend = make(RetryPolicy(timeout=1.0, attempts=2))

    with pytest.raises(UserError) as caught:
        backend.api.project(world.project.id)

    assert "no complete answer within 1 s" in caught.value.message
    assert len(world.api.requests) == 2 and len(backend.sleeps) == 1


@pytest.mark.parametrize(
    "body",
    [
        b'{"data": {}}',
        b'{"data": {"project": null}}',
        b'{"data": {"project": {"id": "p", "name": "n", "services": null}}}',
        b'{"data": {"project": {"id": "p", "name": "n", "services": {"edges": [{"node": 5}]}}}}',
        b'{"data": {"project": []}}',
        b'{"data": []}',
        b"[]",
        b"null",
        b"[" * 100000 + b"]" * 100000,
    ],
)
def test_an_answer_of_the_wrong_shape_is_one_error(
    world: World, make: MakeBackend, body: bytes
) -> None:
    world.api.fail("raw", body=body)
    backend = make()

    with pytest.raises(UserError) as caught:
        backend.api.project(world.project.id)

    assert "RAILWAY_API_URL" in caught.value.message


def test_an_error_that_echoes_the_request_is_masked(world: World, make: MakeBackend) -> None:
    world.api.fail("echo", message="Problem processing request")
    backend = make()
    backend.transport.mask.add("s3-secret-in-request-7781")

    with pytest.raises(RailwayApiError) as caught:
        backend.transport.execute(
            "Probe",
            "query Probe($v: String!) { __typename }",
            {"v": "s3-secret-in-request-7781", "AWS_SECRET_ACCESS_KEY": "also-hidden-99"},
        )

    message = caught.value.message
    assert "Problem processing request" in message
    assert ACCOUNT_TOKEN not in message
    assert "s3-secret-in-request-7781" not in message and "also-hidden-99" not in message
    assert "\n" not in message


def test_a_lost_answer_to_an_unsafe_mutation_is_not_repeated(
    world: World, make: MakeBackend
) -> None:
    world.api.fail("drop", operation="ServiceCreate")
    backend = make()
    env = world.state.env_id(world.project, "production")

    with pytest.raises(AnswerLost):
        backend.api.create_service(world.project.id, env, "mlflow-2", {"image": "x"}, {})

    assert len(world.api.requests_for("ServiceCreate")) == 1
    assert "mlflow-2" in world.project.services.values()  # it was applied; the answer was lost


def test_a_refused_connection_is_retried_even_for_an_unsafe_mutation(
    world: World, make: MakeBackend
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    backend = make(RetryPolicy(attempts=2), url=f"http://127.0.0.1:{port}/graphql/v2")

    with pytest.raises(UserError, match="after 2 attempts"):
        backend.api.create_service(world.project.id, "env", "x", {"image": "x"}, {})

    assert len(backend.sleeps) == 1


def test_rate_limit_headers_and_requests_are_counted(world: World, make: MakeBackend) -> None:
    backend = make()

    backend.api.project(world.project.id)
    backend.api.project(world.project.id)

    traffic = backend.transport.traffic
    assert traffic.requests == 2 and traffic.by_operation == {"Project": 2}
    assert traffic.rate_limit["x-ratelimit-remaining"] == "998"
    assert traffic.rate_limit["x-ratelimit-limit"] == "1000"
