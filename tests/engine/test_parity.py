"""Each stack is brought up by `docker compose up -d --wait` and by `inv local.up`, and
the containers' inspect output compared (tests/engine/parity.py says which fields)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import pytest

from devkit import dockerkit
from tests.engine import parity

# The idle loop of dockerkit.IDLE_COMMAND for a Dockerfile's JSON CMD, and for YAML.
DOCKERFILE_IDLE = 'CMD ["sh", "-c", "trap \'exit 0\' TERM; while true; do sleep 1 & wait $!; done"]'
IDLE = dockerkit.IDLE_COMMAND


def build_stack(folder: Path, image: str, subnet: IPv4Network) -> list[Path]:
    """build: in both forms (args, target, .dockerignore, inline), with a healthcheck,
    ports, bind and named volumes and depends_on."""
    app = folder / "app"
    app.mkdir()
    (app / "Dockerfile").write_text(
        f'FROM {image} AS base\nARG FLAVOUR=plain\nCOPY . /app\nRUN echo "$FLAVOUR" > /flavour\n'
        f"FROM base AS final\nHEALTHCHECK --interval=1s CMD test -f /flavour\n{DOCKERFILE_IDLE}\n"
    )
    (app / "a.txt").write_text("x\n")
    (app / "skip.log").write_text("y\n")
    (app / ".dockerignore").write_text("*.log\n")
    path = folder / "compose.yml"
    path.write_text(
        f"""
services:
  web:
    build:
      context: ./app
      args: [FLAVOUR=full]
      target: final
    ports: ["127.0.0.1::8080"]
    environment: {{MODE: test}}
    volumes: [./app:/src:ro, data:/data]
    depends_on: [db]
  db:
    build:
      context: ./app
      dockerfile_inline: |
        FROM {image}
        {DOCKERFILE_IDLE.replace("$", "$$")}
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
    restart: unless-stopped
  job:
    image: {image}
    command: ["sh", "-c", "echo done"]
    depends_on:
      db: {{condition: service_healthy}}
volumes:
  data:
"""
    )
    return [path]


def wiring_stack(folder: Path, image: str, subnet: IPv4Network) -> list[Path]:
    """Networks with aliases, links, volumes_from, network_mode service:X, and the
    per-container basics (entrypoint, user, working_dir, stop settings, tty, init)."""
    (folder / "app.env").write_text("FROM_FILE=1\nSHARED=file\n")
    path = folder / "compose.yml"
    path.write_text(
        f"""
services:
  api:
    image: {image}
    command: ["sh", "-c", '{IDLE}']
    networks:
      back: {{aliases: [api.internal]}}
      front:
    volumes: [shared:/shared]
    env_file: [app.env]
    environment: {{SHARED: env}}
    labels: {{team: vision}}
    stop_signal: SIGTERM
    stop_grace_period: 3s
    init: true
    extra_hosts: ["mirror:10.1.2.3"]
  worker:
    image: {image}
    entrypoint: ["sh", "-c"]
    command: ['{IDLE}']
    user: "1000:1000"
    working_dir: /tmp
    tty: true
    stdin_open: true
    networks: [back]
    links: ["api:legacy-api"]
    # `api:ro`: Compose 2.27 drops the mode, we keep it (a known difference).
    volumes_from: [api]
    restart: on-failure:3
  sidecar:
    image: {image}
    command: ["sh", "-c", '{IDLE}']
    network_mode: "service:api"
networks:
  front:
  back:
volumes:
  shared:
"""
    )
    return [path]


def settings_stack(folder: Path, image: str, subnet: IPv4Network) -> list[Path]:
    """Resources (also under deploy), security, namespaces, DNS, logging, kernel
    settings, every mount form, secrets and configs of each source, networks and
    volumes with their options. (blkio throttles and rslave propagation need host
    support this machine lacks; test_container_config.py covers their configuration.)"""
    (folder / "secret.txt").write_text("from-a-file\n")
    (folder / "conf.txt").write_text("conf-file\n")
    (folder / "data").mkdir()
    # The network's subnet and a fixed address in it, both compared.
    prefix = str(subnet.network_address).rsplit(".", 1)[0]
    path = folder / "compose.yml"
    path.write_text(
        f"""
services:
  sink:
    image: {image}
    command: ["sh", "-c", '{IDLE}']
    cap_add: [NET_ADMIN]
    cap_drop: [MKNOD]
    cgroup: private
    cpu_shares: 512
    cpus: 0.5
    cpuset: "0"
    devices: ["/dev/null:/dev/mynull:rw", "/dev/zero"]
    device_cgroup_rules: ["c 1:3 mr"]
    dns: [1.1.1.1]
    dns_opt: [ndots:2]
    dns_search: [example.com]
    domainname: example.org
    expose: ["8080", "9000-9001/udp"]
    group_add: ["100"]
    hostname: sinkhost
    init: true
    ipc: shareable
    logging: {{driver: json-file, options: {{max-size: 1m}}}}
    mem_limit: 64m
    mem_reservation: 32m
    mem_swappiness: 10
    memswap_limit: 128m
    oom_score_adj: 100
    pids_limit: 50
    security_opt: ["no-new-privileges:true"]
    shm_size: 32m
    sysctls: {{net.core.somaxconn: "1024"}}
    tmpfs: ["/run:size=1m", /tmp2]
    ulimits: {{nofile: {{soft: 1024, hard: 2048}}, nproc: 512}}
    user: "0:0"
    ports: ["127.0.0.1::80", "127.0.0.1::81/udp"]
    secrets: [filesecret, {{source: envsecret, target: custom, mode: 0400}}]
    configs: [fileconf, {{source: contentconf, target: /etc/cc.conf}}]
    volumes:
      - ./data:/data:ro,z
      - type: bind
        source: ./data
        target: /data2
        bind: {{propagation: rprivate, create_host_path: true}}
      - type: bind
        source: ./data
        target: /data3
      - type: volume
        source: vol
        target: /vol
        volume: {{nocopy: true}}
      - type: tmpfs
        target: /tmpfs
        tmpfs: {{size: 1048576}}
      - myanon:/anon:nocopy
      - /anonymous
    networks:
      front:
        aliases: [sinky]
        ipv4_address: {prefix}.10
  readonly:
    image: {image}
    command: ["sh", "-c", '{IDLE}']
    read_only: true
    tmpfs: [/run]
  deployed:
    image: {image}
    command: ["sh", "-c", '{IDLE}']
    deploy:
      resources:
        limits: {{cpus: "0.25", memory: 48m, pids: 40}}
        reservations: {{memory: 16m}}
      restart_policy: {{condition: on-failure, max_attempts: 3}}
secrets:
  filesecret: {{file: ./secret.txt}}
  envsecret: {{environment: PARITY_SECRET}}
configs:
  fileconf: {{file: ./conf.txt}}
  contentconf: {{content: "hello $${{X}}"}}
volumes:
  vol: {{driver_opts: {{type: tmpfs, device: tmpfs, o: size=1m}}, labels: {{a: b}}}}
  myanon: {{}}
networks:
  front:
    driver_opts: {{com.docker.network.bridge.enable_icc: "true"}}
    ipam: {{config: [{{subnet: {subnet}, gateway: {prefix}.1}}]}}
    attachable: true
    labels: {{x: y}}
"""
    )
    return [path]


SETTINGS_FILES = {
    "sink-1": ["/run/secrets/filesecret", "/run/secrets/custom", "/fileconf", "/etc/cc.conf"]
}


def extends_include_stack(folder: Path, image: str, subnet: IPv4Network) -> list[Path]:
    """`extends` (other file, same file), `include` with the included file's own env_file
    and relative paths."""
    lib = folder / "lib"
    lib.mkdir()
    (lib / "base.yml").write_text(
        f"""
services:
  base:
    image: {image}
    environment: {{FROM_BASE: "1", OVERRIDDEN: base}}
    labels: {{origin: base-file}}
    volumes: [./data:/data]
"""
    )
    (lib / "inc.env").write_text("INC=1\n")
    (lib / "included.yml").write_text(
        f"""
services:
  cache:
    image: {image}
    command: ["sh", "-c", '{IDLE}']
    env_file: [inc.env]
    volumes: [./incdata:/incdata]
"""
    )
    path = folder / "compose.yml"
    path.write_text(
        f"""
include:
  - lib/included.yml
services:
  common:
    image: {image}
    command: ["sh", "-c", '{IDLE}']
    environment: {{COMMON: "1"}}
  app:
    extends: {{file: lib/base.yml, service: base}}
    command: ["sh", "-c", '{IDLE}']
    environment: {{OVERRIDDEN: app}}
    depends_on: [cache]
  worker:
    extends: common
    environment: {{ROLE: worker}}
"""
    )
    return [path]


def replicas_stack(folder: Path, image: str, subnet: IPv4Network) -> list[Path]:
    path = folder / "compose.yml"
    path.write_text(
        f"""
services:
  worker:
    image: {image}
    command: ["sh", "-c", '{IDLE}']
    deploy:
      replicas: 2
      resources: {{limits: {{memory: 32m, cpus: "0.2"}}}}
  scaled:
    image: {image}
    command: ["sh", "-c", '{IDLE}']
    scale: 2
"""
    )
    return [path]


# Each writes its files into a folder, for a service image; `subnet` is a /24 free on the
# engine, for the stacks that pin a network's addresses (the others ignore it).
STACKS: dict[str, Callable[[Path, str, IPv4Network], list[Path]]] = {
    "build": build_stack,
    "wiring": wiring_stack,
    "settings": settings_stack,
    "extends-include": extends_include_stack,
    "replicas": replicas_stack,
}
FILES = {"settings": SETTINGS_FILES}
ENVIRONMENT = {"settings": {"PARITY_SECRET": "s3cr3t-parity"}}


@pytest.fixture
def two_projects(docker_client: Any) -> Iterator[tuple[str, str]]:
    names = (dockerkit.unique_name("vpmref"), dockerkit.unique_name("vpmours"))
    yield names
    for name in names:
        dockerkit.remove_project(docker_client, name)


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_containers_match_docker_compose(
    stack: str,
    docker_client: Any,
    busybox_image: str,
    tmp_path: Path,
    two_projects: tuple[str, str],
) -> None:
    reference, ours = two_projects
    env, paths = ENVIRONMENT.get(stack, {}), FILES.get(stack, {})

    def compare(subnet: IPv4Network) -> tuple[list[str], str]:
        for name in two_projects:  # what an attempt refused on its subnet left
            dockerkit.remove_project(docker_client, name)
        folder = tmp_path / str(subnet.network_address)
        folder.mkdir()
        files = STACKS[stack](folder, busybox_image, subnet)
        parity.compose_up(files, reference, env=env)
        expected = parity.snapshot(docker_client, reference, paths)
        dockerkit.remove_project(docker_client, reference)
        output = parity.inv_up(files, ours, env=env)
        return parity.differences(expected, parity.snapshot(docker_client, ours, paths)), output

    # Other test runs may share the engine: a subnet free now may be taken before the
    # stack comes up, so a refused subnet means another try on another one.
    problems, output = dockerkit.on_free_subnet(docker_client, compare)
    assert problems == []
    for value in env.values():  # a secret's value never appears in output
        assert value not in output
