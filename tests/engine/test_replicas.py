"""Replicas (`scale`, `deploy.replicas`) and when `up` returns, on the real engine next to
Docker Compose v2 doing the same. (Cases: awesome-compose and docker/compose's e2e
fixtures use `scale:` and `deploy.replicas`; the stacks here are written for the suite.)"""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta
from typing import Any

from devkit import dockerkit
from tests.engine.conftest import Stack

IDLE = dockerkit.IDLE_COMMAND

SCALED = f"""
services:
  web:
    image: IMAGE
    command: ["sh", "-c", 'echo hello from $$HOSTNAME; {IDLE}']
    scale: ${{WEB:-3}}
  job:
    image: IMAGE
    command: ["sh", "-c", "echo job done"]
    deploy:
      replicas: 2
"""


def numbered(client: Any, project: str) -> list[tuple[str, str, str]]:
    """(name without the project, service label, number label) of every container."""
    found = client.api.containers(
        all=True, filters={"label": f"com.docker.compose.project={project}"}
    )
    return sorted(
        (
            c["Names"][0].lstrip("/").removeprefix(project + "-"),
            c["Labels"]["com.docker.compose.service"],
            c["Labels"]["com.docker.compose.container-number"],
        )
        for c in found
    )


def test_replicas_scale_up_and_down_as_compose_does(stack: Stack) -> None:
    stack.write(SCALED)
    reference = dockerkit.unique_name()
    try:
        stack.compose(reference, "up", "-d")
        up = stack.inv("local.up", "--timeout", "60")
        # Each service is reported ready once, with its number of containers.
        assert "  web              running: 3 containers\n" in up.stderr
        assert "  job              completed: 2 containers\n" in up.stderr
        three = [
            ("job-1", "job", "1"),
            ("job-2", "job", "2"),
            ("web-1", "web", "1"),
            ("web-2", "web", "2"),
            ("web-3", "web", "3"),
        ]
        assert numbered(stack.client, stack.name) == numbered(stack.client, reference) == three
        first = stack.ids()  # service -> one of its IDs; keep web-1's
        web_1 = stack.client.api.inspect_container(f"{stack.name}-web-1")["Id"]

        # Down to one: both keep number 1 and remove the highest numbers, without
        # recreating the one that stays.
        stack.compose(reference, "up", "-d", env={"WEB": "1"})
        result = stack.inv("local.up", "--timeout", "60", env={"WEB": "1"})
        one = [("job-1", "job", "1"), ("job-2", "job", "2"), ("web-1", "web", "1")]
        assert numbered(stack.client, stack.name) == numbered(stack.client, reference) == one
        assert stack.client.api.inspect_container(f"{stack.name}-web-1")["Id"] == web_1
        assert "1 changed: web" in result.stderr
        assert first["job"] in stack.ids().values()  # the finished jobs were left alone

        # Up to two: web-2 comes back.
        stack.compose(reference, "up", "-d", env={"WEB": "2"})
        stack.inv("local.up", "--timeout", "60", env={"WEB": "2"})
        two = [*one, ("web-2", "web", "2")]
        assert (
            numbered(stack.client, stack.name) == numbered(stack.client, reference) == sorted(two)
        )

        # status: one row per container; logs: every replica, prefixed as Compose does.
        rows = json.loads(stack.inv("local.status", "--json", env={"WEB": "2"}).stdout)
        assert sorted((r["service"], r["container"]) for r in rows) == [
            ("job", f"{stack.name}-job-1"),
            ("job", f"{stack.name}-job-2"),
            ("web", f"{stack.name}-web-1"),
            ("web", f"{stack.name}-web-2"),
        ]
        ours = stack.inv("local.logs", "web", env={"WEB": "2"}).stdout.splitlines()
        theirs = stack.compose(reference, "logs", "--no-color", "web").splitlines()
        prefixes = sorted(line.split("hello from")[0] for line in ours)
        assert prefixes == sorted(line.split("hello from")[0] for line in theirs)
        assert prefixes == ["web-1  | ", "web-2  | "]

        stack.inv("local.down", env={"WEB": "2"})
        assert stack.containers() == {}
    finally:
        dockerkit.remove_project(stack.client, reference)


# db's own check passes at once; the engine runs it only `interval` (8 s) after start.
HEALTH = f"""
services:
  db:
    image: IMAGE
    command: ["sh", "-c", '{IDLE}']
    healthcheck:
      test: ["CMD", "true"]
      interval: 8s
  app:
    image: IMAGE
    command: ["sh", "-c", '{IDLE}']
    depends_on:
      db:
        condition: service_healthy
"""


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text[:26].rstrip("Z"))


def test_after_up_returns_status_and_docker_ps_say_healthy_as_after_compose_wait(
    stack: Stack,
) -> None:
    stack.write(HEALTH)
    reference = dockerkit.unique_name()
    try:
        stack.compose(reference, "up", "-d", "--wait")
        stack.inv("local.up", "--timeout", "60")
        for project in (stack.name, reference):
            listed = subprocess.run(
                ["docker", "ps", "--filter", f"label=com.docker.compose.project={project}",
                 "--filter", "label=com.docker.compose.service=db", "--format", "{{.Status}}"],
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            assert "(healthy)" in listed, (project, listed)
        rows = json.loads(stack.inv("local.status", "--json").stdout)
        assert {r["service"]: r["health"] for r in rows}["db"] == "healthy"
        # The early start is kept: app started before the engine's first check of db,
        # one interval after db started (Compose starts it only after that check).
        ours = stack.containers()
        first_check = moment(ours["db"]["State"]["StartedAt"]) + timedelta(seconds=8)
        assert moment(ours["app"]["State"]["StartedAt"]) < first_check
    finally:
        dockerkit.remove_project(stack.client, reference)
