"""Keys beyond what `docker compose config` shows the same way: what the model gives the
engine (GPUs, replicas, port ranges, Swarm-only warnings), and where we differ from
Compose 2.27 on purpose. The conformance suite covers the rest against Compose itself."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.compose.conftest import ComposeFolder
from vpmigrate.compose.config import compose_config
from vpmigrate.compose.loader import load_project_with_warnings
from vpmigrate.compose.model import DeviceRequest, Resource, Ulimit
from vpmigrate.compose.services import service_config
from vpmigrate.errors import UserError

REPO_ROOT = Path(__file__).resolve().parents[2]
GPU_SERVICE = """\
services:
  train:
    image: busybox
    shm_size: 8gb
    deploy:
      resources:
        reservations:
          devices: [{driver: nvidia, count: all, capabilities: [gpu]}]
  short:
    image: busybox
    gpus: all
  listed:
    image: busybox
    gpus: [{driver: nvidia, device_ids: ["1"], options: {mode: exclusive}}]
"""


def test_gpu_reservations_become_device_requests(folder: ComposeFolder) -> None:
    folder.write("compose.yml", GPU_SERVICE)
    services = folder.load().services
    train = services["train"]
    assert train.shm_size == 8 * 1024**3
    assert train.deploy is not None
    assert train.deploy.reservations == Resource(
        devices=(DeviceRequest(capabilities=("gpu",), driver="nvidia", count=-1),)
    )
    # `gpus:` (Compose 2.30; 2.27 refuses it) is the same request, all GPUs
    assert services["short"].gpus == (DeviceRequest(count=-1),)
    listed = services["listed"].gpus
    assert listed[0].device_ids == ("1",) and dict(listed[0].options) == {"mode": "exclusive"}


def test_a_bad_gpu_count_names_file_and_line(folder: ComposeFolder) -> None:
    path = folder.write(
        "compose.yml",
        "services:\n  a:\n    image: x\n    deploy:\n      resources:\n        reservations:\n"
        "          devices: [{count: some, capabilities: [gpu]}]\n",
    )
    with pytest.raises(UserError, match=rf"^{path}:7: .*count is 'all' or a number"):
        folder.load()


def test_swarm_only_settings_are_kept_and_warned_about_with_file_and_line(
    folder: ComposeFolder,
) -> None:
    path = folder.write(
        "compose.yml",
        """\
        services:
          web:
            image: busybox
            deploy:
              mode: global
              placement: {constraints: [node.role == manager]}
              update_config: {parallelism: 2}
              rollback_config: {parallelism: 1}
              endpoint_mode: dnsrr
        """,
    )
    loaded = load_project_with_warnings([path], environ={})
    deploy = loaded.project.services["web"].deploy
    assert deploy is not None and deploy.mode == "global"
    assert set(deploy.swarm) == {"placement", "update_config", "rollback_config", "endpoint_mode"}
    warned = "\n".join(loaded.warnings)
    for key, line in (("mode", 5), ("placement", 6), ("update_config", 7), ("endpoint_mode", 9)):
        assert f"{path}:{line}: service 'web': deploy.{key}" in warned, key
    assert loaded.project.services["web"].replicas == 1


def test_replicas_port_ranges_and_ulimits_for_the_engine(folder: ComposeFolder) -> None:
    folder.write(
        "compose.yml",
        """\
        services:
          a: {image: x, scale: 3, ports: ["8000-8010:80"], ulimits: {nofile: 1024}}
          b: {image: x, deploy: {replicas: 0}}
          c: {image: x}
        """,
    )
    services = folder.load().services
    assert [services[n].replicas for n in "abc"] == [3, 0, 1]
    port = services["a"].ports[0]
    assert (port.target, port.published, port.published_end) == (80, 8000, 8010)
    assert port.published_spec == "8000-8010"
    assert dict(services["a"].ulimits) == {"nofile": Ulimit(1024, 1024, single=True)}


def test_device_request_options_are_kept(folder: ComposeFolder) -> None:
    # Compose 2.27 drops a device request's `options` (later versions pass them on);
    # nothing is dropped here, so the engine can pass them.
    folder.write(
        "compose.yml",
        "services:\n  a:\n    image: x\n    deploy: {resources: {reservations: {devices: "
        "[{driver: nvidia, count: 1, capabilities: [gpu], "
        "options: {virtualization: 'false'}}]}}}\n",
    )
    devices = compose_config([folder.root / "compose.yml"], environ={})["services"]["a"]
    request = devices["deploy"]["resources"]["reservations"]["devices"][0]
    assert request["options"] == {"virtualization": "false"}


def test_new_fields_leave_the_config_hash_of_an_unchanged_service_alone(
    folder: ComposeFolder,
) -> None:
    # The hash input of a service that uses none of the keys added for issue 10 holds
    # exactly the fields the model had before, so upgrading recreates nothing.
    folder.write(
        "compose.yml",
        "services:\n  a:\n    image: x\n    ports: ['80:80']\n    volumes: [./d:/d]\n",
    )
    config = service_config(folder.load().services["a"])
    assert set(config) == {
        "name", "image", "command", "entrypoint", "environment", "ports", "volumes",
        "healthcheck", "restart", "networks", "network_mode", "labels", "container_name",
        "working_dir", "user", "hostname", "stop_signal", "stop_grace_period_s",
        "extra_hosts", "tty", "stdin_open", "init",
    }  # fmt: skip
    assert set(config["ports"][0]) == {"target", "published", "host_ip", "protocol", "mode"}
    assert set(config["volumes"][0]) == {"type", "target", "source", "read_only", "bind"}


def test_local_config_prints_the_core_document_as_json_and_yaml(folder: ComposeFolder) -> None:
    path = folder.write(
        "compose.yml",
        "services:\n  a: {image: x, environment: {COST: $$5}}\n"
        "  b: {image: x, profiles: [extra]}\n",
    )

    def config(*options: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "invoke", "local.config", "--file", str(path), *options],
            capture_output=True,
            text=True,
            check=False,
            env={"PATH": "/usr/bin:/bin", "HOME": str(folder.root)},
            cwd=REPO_ROOT,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    expected = compose_config([path], environ={"HOME": str(folder.root)})
    assert json.loads(config("--format", "json")) == expected
    assert expected["services"]["a"]["environment"] == {"COST": "$$5"}  # escaped as Compose does
    assert set(expected["services"]) == {"a"}
    assert yaml.safe_load(config("--profile", "extra")) == compose_config(
        [path], profiles=["extra"], environ={"HOME": str(folder.root)}
    )
