"""Profiles: which services a command acts on, and in which order."""

from __future__ import annotations

import pytest

from tests.compose.conftest import ComposeFolder
from vpmigrate.compose.model import Project
from vpmigrate.compose.profiles import active_profiles, select_services
from vpmigrate.errors import UserError

STACK = """\
services:
  proxy:
    image: busybox
    depends_on: [web]
  web:
    image: busybox
    depends_on:
      db: {condition: service_healthy}
      cache: {condition: service_started, required: false}
  db:
    image: busybox
  cache:
    image: busybox
    profiles: [future]
  grafana:
    image: busybox
    profiles: [monitoring]
    depends_on: [prometheus]
  prometheus:
    image: busybox
    profiles: [monitoring]
  admin:
    image: busybox
    profiles: [tools]
    depends_on: [cache]
  debug:
    image: busybox
    profiles: [tools, monitoring]
"""


@pytest.fixture
def project(folder: ComposeFolder) -> Project:
    folder.write("compose.yml", STACK)
    return folder.load()


def names(project: Project, profiles: frozenset[str], services: tuple[str, ...] = ()) -> list[str]:
    return [s.name for s in select_services(project, profiles, services)]


def test_services_without_profiles_are_always_on(project: Project) -> None:
    # Dependencies first; the optional `cache` dependency is left out while inactive.
    assert names(project, active_profiles([], project)) == ["db", "web", "proxy"]


def test_profiles_combine(project: Project) -> None:
    selected = names(project, active_profiles(["monitoring", "future"], project))
    assert selected == ["cache", "db", "debug", "prometheus", "grafana", "web", "proxy"]


def test_star_activates_every_profile(project: Project) -> None:
    assert active_profiles(["*"], project) == {"future", "monitoring", "tools"}
    assert len(names(project, active_profiles(["*"], project))) == len(project.services)


def test_compose_profiles_from_environment_and_dotenv(folder: ComposeFolder) -> None:
    folder.write("compose.yml", STACK)
    folder.write(".env", "COMPOSE_PROFILES=tools\n")
    from_dotenv = folder.load()
    assert active_profiles([], from_dotenv) == {"tools"}
    from_shell = folder.load(environ={"COMPOSE_PROFILES": "monitoring, future"})
    assert active_profiles([], from_shell) == {"monitoring", "future"}
    # --profile replaces COMPOSE_PROFILES rather than adding to it
    assert active_profiles(["future"], from_shell) == {"future"}


def test_unknown_profile_lists_the_known_ones(project: Project) -> None:
    with pytest.raises(UserError) as caught:
        active_profiles(["monitoring", "mvpp"], project)
    assert str(caught.value) == (
        "Unknown profile 'mvpp' (from --profile). Known profiles: future, monitoring, tools."
    )


def test_unknown_profile_from_compose_profiles_says_so(folder: ComposeFolder) -> None:
    folder.write("compose.yml", STACK)
    with pytest.raises(UserError, match=r"'nope' \(from COMPOSE_PROFILES\)"):
        active_profiles([], folder.load(environ={"COMPOSE_PROFILES": "nope"}))


def test_required_dependency_in_an_inactive_profile(project: Project) -> None:
    with pytest.raises(UserError) as caught:
        select_services(project, active_profiles(["tools"], project))
    text = str(caught.value)
    assert "Service 'admin' depends on 'cache', which is only in profile(s) future" in text
    assert "--profile future" in text
    assert "`required: false`" in text


def test_named_services_bring_their_dependencies(project: Project) -> None:
    assert names(project, frozenset(), ("proxy",)) == ["db", "web", "proxy"]
    # A named service runs whatever its profiles; its dependencies must be active.
    assert names(project, frozenset({"monitoring"}), ("grafana",)) == ["prometheus", "grafana"]
    with pytest.raises(UserError, match="'grafana' depends on 'prometheus'"):
        select_services(project, frozenset(), ("grafana",))


def test_unknown_service_lists_known_services(project: Project) -> None:
    with pytest.raises(UserError) as caught:
        select_services(project, frozenset(), ("wbe",))
    assert str(caught.value) == (
        "No such service: wbe. Known services: admin, cache, db, debug, grafana, prometheus, "
        "proxy, web."
    )


def test_a_dependency_cycle_is_an_error(folder: ComposeFolder) -> None:
    folder.write(
        "compose.yml",
        "services:\n  a: {image: b, depends_on: [b]}\n  b: {image: b, depends_on: [a]}\n",
    )
    # Compose refuses the file itself ("dependency cycle detected"), whatever is selected.
    with pytest.raises(UserError, match="cycle: a needs b .*; b needs a "):
        folder.load()
