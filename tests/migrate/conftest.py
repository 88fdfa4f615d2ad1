"""Real MLflow tracking servers for the migration tests, from the e2e image (no registry).

One user-defined network holds an S3 server (moto) and tracking servers, each with its
own SQLite store, started straight through the Docker SDK (faster than a compose stack):

- `served`: artifacts served by the tracking server (`mlflow-artifacts:/`, the MLflow 2
  and 3 default), stored in bucket `served`;
- `direct`: artifacts written by clients straight to `s3://direct/...`.

Each test migrates into fresh target servers; seeded sources that tests only read, the
network and the S3 server are shared by the module.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from devkit import dockerkit
from devkit.mlflow_seed import Seeded, Sizes, seed
from tests.e2e.conftest import e2e_image as e2e_image  # noqa: F401 - the image fixture

S3_KEY, S3_SECRET = "test-key", "test-secret-3b9d"
SMALL = Sizes(sweep_children=2, extra_runs=1, points=300, keys=2, tree_files=3, big_file_mb=0)
START_TIMEOUT_S = 600  # a busy 2-core machine starts MLflow slowly
SERVER = ("mlflow", "server", "--host", "0.0.0.0", "--port", "5000", "--workers", "1")


@dataclass(frozen=True)
class Server:
    name: str
    url: str
    kind: str  # "served" or "direct"


@dataclass(frozen=True)
class S3:
    url: str  # from this machine
    key: str = S3_KEY
    secret: str = S3_SECRET

    def client_env(self) -> dict[str, str]:
        return {
            "MLFLOW_S3_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": self.key,
            "AWS_SECRET_ACCESS_KEY": self.secret,
        }

    def boto(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=self.key,
            aws_secret_access_key=self.secret,
            config=Config(s3={"addressing_style": "path"}),
        )


def _published(client: Any, container_id: str, port: int) -> str:
    info = client.api.inspect_container(container_id)
    binding = info["NetworkSettings"]["Ports"][f"{port}/tcp"][0]
    return f"http://127.0.0.1:{binding['HostPort']}"


def _wait(url: str, path: str, container: Any) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + path, timeout=3).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        container.reload()
        if container.status == "exited":
            logs = container.logs(tail=30).decode(errors="replace")
            raise RuntimeError(f"{container.name} exited:\n{logs}")
        time.sleep(0.5)
    raise RuntimeError(f"{container.name} did not answer {path} within {START_TIMEOUT_S} s")


@pytest.fixture(scope="module")
def network(docker_client: Any, e2e_image: str) -> Iterator[tuple[str, str]]:
    name = dockerkit.unique_name("vpm-migrate")
    docker_client.networks.create(name, labels={"vpm.test": name})
    try:
        yield name, e2e_image
    finally:
        for container in docker_client.containers.list(
            all=True, filters={"label": f"vpm.test={name}"}
        ):
            container.remove(force=True)
        docker_client.networks.get(name).remove()


@pytest.fixture(scope="module")
def s3(docker_client: Any, network: tuple[str, str]) -> S3:
    net, image = network
    container = docker_client.containers.run(
        image,
        ["kit-s3-server", "9000"],
        name=f"{net}-s3",
        network=net,
        ports={"9000/tcp": ("127.0.0.1", None)},
        labels={"vpm.test": net},
        detach=True,
    )
    url = _published(docker_client, container.id, 9000)
    _wait(url, "/", container)
    store = S3(url)
    for bucket in ("served", "direct", "direct2"):
        store.boto().create_bucket(Bucket=bucket)
    return store


class _Launcher:
    """Starts tracking servers on the module's network; removes the ones it started."""

    def __init__(self, docker_client: Any, network: tuple[str, str]) -> None:
        self.client = docker_client
        self.net, self.image = network
        self.started: list[Any] = []

    def start(self, *kinds: str) -> list[Server]:
        """Servers of those kinds ("served", "direct", with an optional bucket after a
        colon: "direct:direct2"), started together, returned once all answer."""
        pending = []
        for spec in kinds:
            kind, _, bucket = spec.partition(":")
            name = dockerkit.unique_name(f"{self.net}-{kind}")
            command = [*SERVER, "--backend-store-uri", "sqlite:////tmp/mlflow.db"]
            if kind == "served":
                command += ["--artifacts-destination", f"s3://{bucket or 'served'}/{name}"]
            else:
                command += ["--default-artifact-root", f"s3://{bucket or 'direct'}/{name}"]
            container = self.client.containers.run(
                self.image,
                command,
                name=name,
                network=self.net,
                environment={
                    "MLFLOW_S3_ENDPOINT_URL": f"http://{self.net}-s3:9000",
                    "AWS_ACCESS_KEY_ID": S3_KEY,
                    "AWS_SECRET_ACCESS_KEY": S3_SECRET,
                    "MLFLOW_DISABLE_TELEMETRY": "true",
                },
                ports={"5000/tcp": ("127.0.0.1", None)},
                labels={"vpm.test": self.net},
                detach=True,
            )
            self.started.append(container)
            pending.append((name, kind, container))
        servers = []
        for name, kind, container in pending:
            url = _published(self.client, container.id, 5000)
            _wait(url, "/health", container)
            servers.append(Server(name, url, kind))
        return servers

    def remove(self) -> None:
        for container in self.started:
            container.remove(force=True)


@pytest.fixture
def start_servers(
    docker_client: Any, network: tuple[str, str], s3: S3
) -> Iterator[Callable[..., list[Server]]]:
    """Fresh servers for one test (see `_Launcher.start`)."""
    launcher = _Launcher(docker_client, network)
    yield launcher.start
    launcher.remove()


@pytest.fixture(scope="module")
def seeded_source(
    docker_client: Any, network: tuple[str, str], s3: S3
) -> Iterator[Callable[[str], tuple[Server, Seeded]]]:
    """`seeded_source("served")`: a source server of that kind seeded with SMALL, shared
    by the module's tests that only read it (each migrates into a fresh target)."""
    launcher = _Launcher(docker_client, network)
    made: dict[str, tuple[Server, Seeded]] = {}

    def get(kind: str) -> tuple[Server, Seeded]:
        if kind not in made:
            (server,) = launcher.start(kind)
            made[kind] = (
                server,
                seed(server.url, s3.client_env() if kind == "direct" else None, SMALL),
            )
        return made[kind]

    yield get
    launcher.remove()
