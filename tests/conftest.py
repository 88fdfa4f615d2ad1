"""Fixtures shared across the test tree."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from devkit import dockerkit


@pytest.fixture(scope="session")
def docker_client() -> Any:
    return dockerkit.docker_client()


@pytest.fixture(scope="session")
def busybox_image(docker_client: Any) -> Iterator[str]:
    """Tag of a local busybox image, built once per session and removed at its end."""
    tag = f"vpm-test-busybox:{os.getpid()}"
    dockerkit.build_busybox_image(docker_client, tag)
    yield tag
    try:
        docker_client.api.remove_image(tag, force=True)
    except Exception:
        pass


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (`-n`), every end-to-end test runs on one worker: they share
    one large image, built once and removed at the end of that worker's session."""
    for item in items:
        if item.get_closest_marker("e2e"):
            item.add_marker(pytest.mark.xdist_group("e2e"))
