"""From files to one document: tags, extends, include, warnings, and how their
mistakes are reported (the conformance suite compares the results with Compose)."""

from __future__ import annotations

import pytest

from tests.compose.conftest import ComposeFolder
from vpmigrate.compose.loader import load_project_with_warnings
from vpmigrate.errors import UserError


def test_override_keeps_the_type_of_a_scalar(folder: ComposeFolder) -> None:
    folder.write("compose.yml", "services:\n  a: {image: x, scale: 2, tty: false}\n")
    folder.write(
        "override.yml", "services:\n  a:\n    scale: !override 3\n    tty: !override true\n"
    )
    service = folder.load("compose.yml", "override.yml").services["a"]
    assert (service.scale, service.tty) == (3, True)


def test_reset_in_the_same_file_leaves_the_key_out(folder: ComposeFolder) -> None:
    # Before tags were read, `command: !reset null` became the command ["null"].
    folder.write("compose.yml", "services:\n  a:\n    image: x\n    command: !reset null\n")
    assert folder.load().services["a"].command is None


def test_a_non_string_key_names_file_line_and_path(folder: ComposeFolder) -> None:
    path = folder.write(
        "compose.yml", "services:\n  a:\n    image: x\n    labels:\n      true: y\n"
    )
    with pytest.raises(UserError, match=rf"^{path}:5: services.a.labels: the key 'true' is a "):
        folder.load()


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        ("include: [https://example.com/compose.yaml]\n", 1, "is remote; only local files"),
        ("include: [missing.yaml]\n", 1, "the included file .*missing.yaml does not exist"),
        (
            "services:\n  a:\n    extends: {file: gone.yaml, service: b}\n",
            3,
            "the extends file .*gone.yaml does not exist",
        ),
        (
            "services:\n  a:\n    extends: nobody\n    image: x\n",
            3,
            "service 'nobody' is not defined in",
        ),
    ],
)
def test_extends_and_include_mistakes_name_file_and_line(
    folder: ComposeFolder, body: str, line: int, message: str
) -> None:
    path = folder.write(
        "compose.yml", body + ("services: {x: {image: x}}\n" if "services" not in body else "")
    )
    with pytest.raises(UserError, match=rf"^{path}:{line}: .*{message}"):
        folder.load()


def test_an_extended_file_is_read_once_and_its_paths_stay_its_own(folder: ComposeFolder) -> None:
    folder.write("lib/base.yml", "services:\n  base: {image: x, volumes: [./data:/data]}\n")
    folder.write(
        "compose.yml",
        "services:\n"
        + "".join(
            f"  s{i}: {{extends: {{file: lib/base.yml, service: base}}}}\n" for i in range(5)
        ),
    )
    services = folder.load().services
    assert {s.volumes[0].source for s in services.values()} == {str(folder.root / "lib" / "data")}


def test_version_and_swarm_keys_are_warnings_with_file_and_line(folder: ComposeFolder) -> None:
    path = folder.write(
        "compose.yml",
        "version: '3.9'\nservices:\n  a:\n    image: x\n"
        "    deploy: {placement: {constraints: []}}\n",
    )
    warnings = load_project_with_warnings([path], environ={}).warnings
    assert f"{path}:1: `version` is obsolete" in "\n".join(warnings)
    assert f"{path}:5: service 'a': deploy.placement only applies to Docker Swarm" in "\n".join(
        warnings
    )


def test_an_included_project_may_not_redefine_a_service_here(folder: ComposeFolder) -> None:
    folder.write("lib/compose.yml", "services:\n  web: {image: alpine}\n")
    path = folder.write("compose.yml", "include: [lib/compose.yml]\nservices:\n  web: {image: x}\n")
    with pytest.raises(
        UserError, match=rf"^{path}:3: services.web: is also defined by an included"
    ):
        folder.load()
