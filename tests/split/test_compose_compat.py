"""Docker Compose v2 judges the outputs: it accepts them, and they select the
services the audit asks for with the definitions the monolith has."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.split.helpers import FIXTURES, MONOLITH, REPO, compose_config
from vpmigrate.split.plan import load_plan
from vpmigrate.split.render import render

MVP = REPO / "compose" / "docker-compose.mvp.yml"
FULL = REPO / "compose" / "docker-compose.full.yml"
MVP_SERVICES = {"postgres", "mlflow", "minio", "minio-init"}
MONITORING = {"prometheus", "grafana"}


def without_profiles(services: dict[str, Any]) -> dict[str, Any]:
    return {name: {k: v for k, v in s.items() if k != "profiles"} for name, s in services.items()}


@pytest.fixture(scope="module")
def monolith_all() -> dict[str, Any]:
    return compose_config(MONOLITH, "*")


def test_full_file_with_every_profile_normalises_to_the_monolith(monolith_all):
    full = compose_config(FULL, "*")
    assert without_profiles(full["services"]) == without_profiles(monolith_all["services"])
    assert full["volumes"] == monolith_all["volumes"]
    assert full["name"] == monolith_all["name"]


def test_full_file_profile_mvp_selects_exactly_the_mvp_stack():
    assert set(compose_config(FULL, "mvp")["services"]) == MVP_SERVICES


@pytest.mark.parametrize("profile", ["mvp", "monitoring", "tools", "future"])
def test_each_profile_of_the_full_file_alone_starts_with_all_it_requires(profile):
    # Compose refuses a profile whose services need a service of an inactive profile
    # ("depends on undefined service"): each profile alone must be complete.
    services = compose_config(FULL, profile)["services"]
    for name, definition in services.items():
        assert profile in definition["profiles"], name
        for dependency, options in (definition.get("depends_on") or {}).items():
            assert dependency in services or options.get("required") is False, (name, dependency)


def test_mvp_file_without_profiles_selects_the_mvp_stack(monolith_all):
    config = compose_config(MVP)
    assert set(config["services"]) == MVP_SERVICES
    for name in MVP_SERVICES:
        assert "profiles" not in config["services"][name]
    expected = without_profiles(monolith_all["services"])
    assert without_profiles(config["services"]) == {n: expected[n] for n in MVP_SERVICES}


def test_mvp_file_with_monitoring_adds_prometheus_and_grafana(monolith_all):
    config = compose_config(MVP, "monitoring")
    assert set(config["services"]) == MVP_SERVICES | MONITORING
    for name in MONITORING:
        assert config["services"][name]["profiles"] == ["monitoring"]
    expected = without_profiles(monolith_all["services"])
    assert without_profiles(config["services"]) == {
        n: expected[n] for n in MVP_SERVICES | MONITORING
    }


def test_mvp_file_declares_only_the_volumes_its_services_use():
    config = compose_config(MVP, "*")
    assert set(config["services"]) == MVP_SERVICES | MONITORING
    assert set(config["volumes"]) == {
        "postgres-data",
        "minio-data",
        "mlflow-data",
        "prometheus-data",
        "grafana-data",
    }


def test_tricky_outputs_are_accepted_and_keep_what_dropped_parts_defined(tmp_path: Path):
    source = FIXTURES / "tricky-compose.yml"
    copied = tmp_path / source.name
    copied.write_text(source.read_text())
    outputs, _ = render(source.read_text(), source, load_plan(FIXTURES / "tricky-plan.yml"))
    env = {"TRICKY_SECRET": "s3cret-value"}
    for output in outputs:
        (tmp_path / output.file).write_text(output.body)
    original = compose_config(copied, "*", extra_env=env)["services"]

    mvp = compose_config(tmp_path / "docker-compose.mvp.yml", extra_env=env)
    assert set(mvp["services"]) == {"web", "db"}
    web = dict(mvp["services"]["web"])
    expected_web = dict(original["web"])
    expected_web.pop("profiles", None)
    assert set(web.pop("depends_on")) == {"db"}  # the optional dependency on cache went
    expected_web.pop("depends_on")
    # the environment and healthcheck anchors were defined in the dropped cache
    assert web == expected_web
    assert web["environment"]["GREETING"] == "hello world"
    # the `<<` merge source was defined in the dropped cache too
    assert mvp["services"]["db"] == {k: v for k, v in original["db"].items() if k != "profiles"}
    assert mvp["services"]["db"]["restart"] == "unless-stopped"
    assert set(mvp["networks"]) == {"front"}
    assert set(mvp["volumes"]) == {"web-data", "shared-data"}

    full = compose_config(tmp_path / "docker-compose.full.yml", "*", extra_env=env)
    assert without_profiles(full["services"]) == without_profiles(original)
    assert {n: s["profiles"] for n, s in full["services"].items()} == {
        "web": ["mvp"],
        "db": ["mvp"],
        "metrics": ["monitoring"],
        "cache": ["future"],
    }
