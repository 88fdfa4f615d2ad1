"""The image kit's pure parts: which mirror it uses and when its cache key changes.
(Building the image itself is exercised by the e2e tests.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e import kit

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

    assert kit.debian_mirror(tmp_path) == "http://mirror.example/debian"


def test_mirror_override_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "debian.sources").write_text(DEB822)
    monkeypatch.setenv("VPM_E2E_DEBIAN_MIRROR", "http://other.example/debian")

    assert kit.debian_mirror(tmp_path) == "http://other.example/debian"


def test_image_tag_is_stable_and_follows_every_input(monkeypatch: pytest.MonkeyPatch) -> None:
    first = kit.image_tag()
    assert first == kit.image_tag()
    assert first.startswith(f"{kit.IMAGE_REPOSITORY}:")

    monkeypatch.setattr(kit, "PIP_REQUIREMENTS", (*kit.PIP_REQUIREMENTS, "extra==1.0"))
    assert kit.image_tag() != first


def test_image_tag_follows_the_launcher_scripts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    launchers = tmp_path / "image"
    launchers.mkdir()
    (launchers / "kit-init").write_text("#!/usr/bin/python3\n")
    monkeypatch.setattr(kit, "LAUNCHERS", launchers)
    before = kit.image_tag()

    (launchers / "kit-init").write_text("#!/usr/bin/python3\nprint('changed')\n")

    assert kit.image_tag() != before
