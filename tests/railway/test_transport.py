"""The GraphQL client's fault handling, against the stand-in's injected faults.

Sleeps are recorded instead of slept, so the waits the client chose are visible.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest

from tests.railway.conftest import ACCOUNT_TOKEN, PROJECT_TOKEN, World
from vpmigrate.errors import UserError
from vpmigrate.railway.api import GraphQLRailway
from vpmigrate.railway.settings import Connection, Credentials
from vpmigrate.railway.transport import GraphQLTransport, RailwayApiError, RetryPolicy


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
    world.api.fail("delay", delay=1.0)
    backend = make(RetryPolicy(timeout=0.2))

    backend.api.project(world.project.id)

    assert len(backend.sleeps) == 1


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
        backend.api.token_scope()

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

    with pytest.raises(UserError, match="RAILWAY_API_URL 'backboard.example/graphql/v2' is not"):
        backend.api.project(world.project.id)

    assert backend.sleeps == []
