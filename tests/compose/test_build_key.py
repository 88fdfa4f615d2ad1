"""`build:` in the loader, compared with `docker compose config` (the reference)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.compose.conftest import FIXTURES, ComposeFolder
from tests.compose.test_compose_compat import reference_config
from vpmigrate.compose.loader import load_project
from vpmigrate.compose.model import BuildSpec
from vpmigrate.errors import UserError

FILES = [FIXTURES / "build.base.yml", FIXTURES / "build.override.yml"]
ENVIRON = {"FROM_ENV": "from-shell"}


def reference_build(build: dict[str, Any]) -> dict[str, Any]:
    """Compose's JSON build section in the model's terms (`host=ip` becomes `host:ip`)."""
    return {
        "context": build["context"],
        "dockerfile": build.get("dockerfile"),
        "dockerfile_inline": build.get("dockerfile_inline"),
        "args": build.get("args", {}),
        "target": build.get("target"),
        "labels": build.get("labels", {}),
        "cache_from": build.get("cache_from", []),
        "network": build.get("network"),
        "shm_size": int(build["shm_size"]) if "shm_size" in build else None,
        "extra_hosts": [h.replace("=", ":", 1) for h in build.get("extra_hosts", [])],
        "pull": build.get("pull", False),
        "no_cache": build.get("no_cache", False),
        "tags": build.get("tags", []),
    }


def our_build(build: BuildSpec) -> dict[str, Any]:
    return {
        "context": build.context,
        "dockerfile": build.dockerfile,
        "dockerfile_inline": build.dockerfile_inline,
        "args": dict(build.args),
        "target": build.target,
        "labels": dict(build.labels),
        "cache_from": list(build.cache_from),
        "network": build.network,
        "shm_size": build.shm_size,
        "extra_hosts": list(build.extra_hosts),
        "pull": build.pull,
        "no_cache": build.no_cache,
        "tags": list(build.tags),
    }


def test_build_sections_match_docker_compose_config() -> None:
    reference = reference_config(FILES, environ=ENVIRON)
    ours = load_project(FILES, environ=ENVIRON)
    assert set(ours.services) == set(reference["services"])
    for name, service in ours.services.items():
        expected = reference["services"][name]
        assert service.build is not None, name
        assert our_build(service.build) == reference_build(expected["build"]), name
        # Compose prints `image` only when the file gives one.
        assert service.image_declared == ("image" in expected), name
        if "image" in expected:
            assert service.image == expected["image"]


def test_default_image_name_is_project_dash_service() -> None:
    project = load_project(FILES, environ=ENVIRON)
    assert project.services["short"].image == "buildcase-short"
    assert project.services["long"].image == "buildcase/long:1"


def test_resolved_paths_for_other_tools() -> None:
    project = load_project(FILES, environ=ENVIRON)
    app = FIXTURES / "app"
    short = project.services["short"].build
    merged = project.services["merged"].build
    inline = project.services["inline"].build
    absolute = project.services["absolute"].build
    assert short is not None and merged is not None and inline is not None
    assert absolute is not None
    assert short.dockerfile_path == app / "Dockerfile"
    assert merged.dockerfile_path == app / "Dockerfile.dev"
    assert inline.dockerfile_path is None
    assert absolute.dockerfile_path == Path("/tmp/Dockerfile.abs")


def test_build_is_left_out_of_the_config_hash(folder: ComposeFolder) -> None:
    folder.write("compose.yml", "services:\n  app:\n    build: {context: ., target: a}\n")
    first = folder.load().services["app"]
    folder.write("compose.yml", "services:\n  app:\n    build: {context: ., target: b}\n")
    second = folder.load().services["app"]
    assert first.build != second.build
    assert first.config == second.config  # a new image recreates the container, not this


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "  app:\n    build: {dockerfile: D, dockerfile_inline: 'FROM scratch'}\n",
            "cannot be used together",
        ),
        ("  app:\n    build: {context: ., shm_size: lots}\n", "expected a size"),
        ("  app:\n    build: {context: ., squash: true}\n", "'squash' is not supported"),
    ],
)
def test_build_mistakes_name_file_and_line(folder: ComposeFolder, body: str, message: str) -> None:
    path = folder.write("compose.yml", "services:\n" + body)
    with pytest.raises(UserError) as caught:
        folder.load()
    assert message in caught.value.message
    assert f"{path}:" in caught.value.message
