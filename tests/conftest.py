"""Fixtures shared across the test tree."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests import dockerkit


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
