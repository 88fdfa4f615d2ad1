"""The image kit's pure parts: which mirror it uses and when its cache key changes.
(Building the image itself is exercised by the e2e tests.)"""

from __future__ import annotations

import io
import tarfile
import uuid
from pathlib import Path
from typing import Any

import pytest

from devkit import dockerkit, e2e_image

DEB822 = """Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main

Types: deb
# a comment line
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
"""


def test_mirror_comes_from_the_bookworm_stanza_of_apt_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VPM_E2E_DEBIAN_MIRROR", raising=False)
    (tmp_path / "debian.sources").write_text(DEB822)

    assert e2e_image.debian_mirror(tmp_path) == "http://mirror.example/debian"


def test_mirror_override_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "debian.sources").write_text(DEB822)
    monkeypatch.setenv("VPM_E2E_DEBIAN_MIRROR", "http://other.example/debian")

    assert e2e_image.debian_mirror(tmp_path) == "http://other.example/debian"


def test_image_tag_is_stable_and_follows_every_input(monkeypatch: pytest.MonkeyPatch) -> None:
    first = e2e_image.image_tag()
    assert first == e2e_image.image_tag()
    assert first.startswith(f"{e2e_image.IMAGE_REPOSITORY}:")

    monkeypatch.setattr(e2e_image, "PIP_REQUIREMENTS", (*e2e_image.PIP_REQUIREMENTS, "extra==1.0"))
    assert e2e_image.image_tag() != first


def test_image_tag_follows_the_launcher_scripts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    launchers = tmp_path / "image"
    launchers.mkdir()
    (launchers / "kit-init").write_text("#!/usr/bin/python3\n")
    monkeypatch.setattr(e2e_image, "LAUNCHERS", launchers)
    before = e2e_image.image_tag()

    (launchers / "kit-init").write_text("#!/usr/bin/python3\nprint('changed')\n")

    assert e2e_image.image_tag() != before


def import_unique_image(client: Any, tag: str) -> None:
    """A one-file image, unique by content, so the tag is its only name (like the kit's)."""
    data = uuid.uuid4().hex.encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        entry = tarfile.TarInfo("marker")
        entry.size = len(data)
        archive.addfile(entry, io.BytesIO(data))
    repository, _, version = tag.partition(":")
    client.api.import_image_from_data(buffer.getvalue(), repository=repository, tag=version)


def test_image_in_use_by_a_container_is_kept_then_removed_when_free() -> None:
    client = dockerkit.docker_client()
    tag = f"{dockerkit.unique_name('vpm-kit-test')}:1"
    import_unique_image(client, tag)
    try:
        container = client.api.create_container(tag, command=["/marker"])
        try:
            assert e2e_image.remove_image(client, tag) is False  # another session's stack uses it
            assert e2e_image.image_exists(client, tag)
        finally:
            client.api.remove_container(container["Id"], force=True)
        assert e2e_image.remove_image(client, tag) is True
        assert not e2e_image.image_exists(client, tag)
    finally:
        if e2e_image.image_exists(client, tag):
            client.api.remove_image(tag, force=True)
