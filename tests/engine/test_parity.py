"""Each stack is brought up by `docker compose up -d --wait` and by `inv local.up`, and
the containers' inspect output compared (tests/engine/parity.py says which fields)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import dockerkit
from tests.engine import parity

# The idle loop of dockerkit.IDLE_COMMAND for a Dockerfile's JSON CMD, and for YAML.
DOCKERFILE_IDLE = 'CMD ["sh", "-c", "trap \'exit 0\' TERM; while true; do sleep 1 & wait $!; done"]'
IDLE = dockerkit.IDLE_COMMAND


def build_stack(folder: Path, image: str) -> list[Path]:
    """build: in both forms (args, target, .dockerignore, inline), with a healthcheck,
    ports, bind and named volumes and depends_on."""
    app = folder / "app"
    app.mkdir()
    (app / "Dockerfile").write_text(
        f'FROM {image} AS base\nARG FLAVOUR=plain\nCOPY . /app\nRUN echo "$FLAVOUR" > /flavour\n'
        f"FROM base AS final\nHEALTHCHECK --interval=1s CMD test -f /flavour\n{DOCKERFILE_IDLE}\n"
    )
    (app / "a.txt").write_text("x\n")
    (app / "skip.log").write_text("y\n")
    (app / ".dockerignore").write_text("*.log\n")
    path = folder / "compose.yml"
    path.write_text(
        f"""
services:
  web:
    build:
      context: ./app
      args: [FLAVOUR=full]
      target: final
    ports: ["127.0.0.1::8080"]
    environment: {{MODE: test}}
    volumes: [./app:/src:ro, data:/data]
    depends_on: [db]
  db:
    build:
      context: ./app
      dockerfile_inline: |
        FROM {image}
        {DOCKERFILE_IDLE.replace("$", "$$")}
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
    restart: unless-stopped
  job:
    image: {image}
    command: ["sh", "-c", "echo done"]
    depends_on:
      db: {{condition: service_healthy}}
volumes:
  data:
"""
    )
    return [path]


def wiring_stack(folder: Path, image: str) -> list[Path]:
    """Networks with aliases, links, volumes_from, network_mode service:X, and the
    per-container basics (entrypoint, user, working_dir, stop settings, tty, init)."""
    (folder / "app.env").write_text("FROM_FILE=1\nSHARED=file\n")
    path = folder / "compose.yml"
    path.write_text(
        f"""
services:
  api:
    image: {image}
    command: ["sh", "-c", '{IDLE}']
    networks:
      back: {{aliases: [api.internal]}}
      front:
    volumes: [shared:/shared]
    env_file: [app.env]
    environment: {{SHARED: env}}
    labels: {{team: vision}}
    stop_signal: SIGTERM
    stop_grace_period: 3s
    init: true
    extra_hosts: ["mirror:10.1.2.3"]
  worker:
    image: {image}
    entrypoint: ["sh", "-c"]
    command: ['{IDLE}']
    user: "1000:1000"
    working_dir: /tmp
    tty: true
    stdin_open: true
    networks: [back]
    links: ["api:legacy-api"]
    # `api:ro`: Compose 2.27 drops the mode, we keep it (a known difference).
    volumes_from: [api]
    restart: on-failure:3
  sidecar:
    image: {image}
    command: ["sh", "-c", '{IDLE}']
    network_mode: "service:api"
networks:
  front:
  back:
volumes:
  shared:
"""
    )
    return [path]


STACKS: dict[str, Callable[[Path, str], list[Path]]] = {
    "build": build_stack,
    "wiring": wiring_stack,
}


@pytest.fixture
def two_projects(docker_client: Any) -> Iterator[tuple[str, str]]:
    names = (dockerkit.unique_name("vpmref"), dockerkit.unique_name("vpmours"))
    yield names
    for name in names:
        dockerkit.remove_project(docker_client, name)


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_containers_match_docker_compose(
    stack: str,
    docker_client: Any,
    busybox_image: str,
    tmp_path: Path,
    two_projects: tuple[str, str],
) -> None:
    files = STACKS[stack](tmp_path, busybox_image)
    reference, ours = two_projects
    parity.compose_up(files, reference)
    parity.inv_up(files, ours)
    assert parity.differences(docker_client, reference, ours) == []
