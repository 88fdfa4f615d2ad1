"""Helpers for the Compose loader tests: write compose files into a temp folder and load them."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest

from vpmigrate.compose.loader import load_project
from vpmigrate.compose.model import Project

FIXTURES = Path(__file__).parent / "fixtures"


class ComposeFolder:
    """A project folder in tmp_path; `write` dedents, `load` runs the real loader."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path

    def load(
        self,
        *names: str,
        environ: Mapping[str, str] | None = None,
        **options: object,
    ) -> Project:
        files = [self.root / name for name in (names or ("compose.yml",))]
        return load_project(files, environ=dict(environ or {}), **options)  # type: ignore[arg-type]


@pytest.fixture
def folder(tmp_path: Path) -> ComposeFolder:
    project = tmp_path / "demo"
    project.mkdir()
    return ComposeFolder(project)
