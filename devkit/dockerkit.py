"""Helpers for tests and benchmarks that use the real Docker engine: a busybox image built
FROM scratch (no registry needed) and clean-up of everything a Compose project left behind."""

from __future__ import annotations

import ipaddress
import os
import random
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

# Re-exported: the tests and benchmarks build their service image with the core's builder.
from vpmigrate.engine.busybox import build_busybox_image as build_busybox_image

# A service that exits at once on SIGTERM (PID 1 ignores signals it has no handler for).
IDLE_COMMAND = 'trap "exit 0" TERM; while true; do sleep 1 & wait $$!; done'

# Where tests that pin a network's subnet take it from: outside Docker's default address
# pools (172.17.0.0/16 .. 172.31.0.0/16, 192.168.0.0/16), so networks made without a
# subnet never land in it.
SUBNET_RANGE = ipaddress.IPv4Network("10.192.0.0/10")
# What the engine says when a network's subnet overlaps one it already holds.
POOL_OVERLAPS = "Pool overlaps"

T = TypeVar("T")


def docker_client() -> Any:
    """The engine's client; fails (never skips) when no engine answers."""
    import docker

    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as exc:  # pragma: no cover - only without an engine
        raise RuntimeError(
            f"the tests and benchmarks need a running Docker engine ({exc}); "
            ".ci/run installs and starts one"
        ) from exc
    return client


def unique_name(prefix: str = "vpmt") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def remove_project(client: Any, project: str) -> None:
    """Remove every container, network, volume and built image labelled with the Compose
    project."""
    label = f"com.docker.compose.project={project}"
    for container in client.api.containers(all=True, filters={"label": label}):
        client.api.remove_container(container["Id"], force=True, v=True)
    for network in client.api.networks(filters={"label": label}):
        try:
            client.api.remove_network(network["Id"])
        except Exception:
            pass
    for volume in client.api.volumes(filters={"label": label}).get("Volumes") or []:
        try:
            client.api.remove_volume(volume["Name"], force=True)
        except Exception:
            pass
    # Images built for the project (by us or by `docker compose build`) carry its label.
    for image in client.api.images(filters={"label": label}):
        try:
            client.api.remove_image(image["Id"], force=True)
        except Exception:
            pass


def subnets_in_use(client: Any) -> list[ipaddress.IPv4Network]:
    """The IPv4 subnets of every network the engine holds, whoever made it."""
    found = []
    for network in client.api.networks():
        for pool in (network.get("IPAM") or {}).get("Config") or []:
            try:
                subnet = ipaddress.ip_network(pool.get("Subnet") or "", strict=False)
            except ValueError:
                continue
            if isinstance(subnet, ipaddress.IPv4Network):
                found.append(subnet)
    return found


def free_subnet(client: Any) -> ipaddress.IPv4Network:
    """A /24 of SUBNET_RANGE that overlaps no network the engine holds now. Picked at
    random, so that test runs sharing the engine rarely pick the same one at the same
    moment; `on_free_subnet` covers the times they do."""
    taken = subnets_in_use(client)
    slots = 1 << (24 - SUBNET_RANGE.prefixlen)
    start = int(SUBNET_RANGE.network_address)
    for _ in range(1000):
        candidate = ipaddress.IPv4Network((start + (random.randrange(slots) << 8), 24))
        if not any(candidate.overlaps(subnet) for subnet in taken):
            return candidate
    raise RuntimeError(f"no free /24 in {SUBNET_RANGE}: {len(taken)} subnets in use")


def on_free_subnet(client: Any, attempt: Callable[[ipaddress.IPv4Network], T], tries: int = 5) -> T:
    """`attempt(subnet)` on a free subnet; again on another one when the engine refuses
    the subnet as overlapping (a network made elsewhere between our look and our create).
    `attempt` must start from a clean state each time (the engine refused before any
    container used the network); any other failure is raised at once."""
    for left in range(tries - 1, -1, -1):
        try:
            return attempt(free_subnet(client))
        except Exception as exc:
            if left == 0 or POOL_OVERLAPS not in str(exc):
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for running `inv` in a subprocess: no stray Compose settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    env.update(extra)
    return env
