"""Loading a large compose project: `inv local.config` against `docker compose config`.

The generated project has 200 services: 150 in the main file, each extending a base
service (same file for half of them, another file for the other half), and 50 in a
file the main one includes (with its own `.env`). Every service has ports, volumes,
environment, labels, a healthcheck and resource limits, and depends on a neighbour.
Both tools print the resolved model as JSON; the benchmark checks that they print
the same services, then times them:

- `docker compose -f F config --format json`;
- `inv local.config --file F --format json` (a new process: what users feel);
- the core function in this process (`compose_config`: the loader's own cost,
  without Python's start-up and imports).
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.common import (
    REPO_ROOT,
    BenchmarkError,
    Report,
    Row,
    clean_env,
    inv_command,
    median,
    run_timed,
    timed,
)

SERVICES_MAIN = 150
SERVICES_INCLUDED = 50


def _service(index: int, extends: str | None, previous: str | None) -> str:
    lines = [f"  svc{index:03d}:"]
    if extends == "same":
        lines.append("    extends: base")
    elif extends == "file":
        lines.append("    extends: {file: common/base.yaml, service: common}")
    else:
        lines.append("    image: busybox:${TAG:-latest}")
    lines += [
        f'    ports: ["127.0.0.1:{20000 + index}:80", "{30000 + index}-{30001 + index}:9000-9001"]',
        f"    volumes: [data:/data/{index}, ./conf/{index}:/etc/conf:ro]",
        "    environment:",
        f"      INDEX: '{index}'",
        "      PROJECT: ${COMPOSE_PROJECT_NAME}",
        f"    labels: [tier=t{index % 5}]",
        "    healthcheck: {test: [CMD, 'true'], interval: 5s, retries: 3}",
        "    deploy: {resources: {limits: {cpus: '0.5', memory: 64M}}}",
    ]
    if previous is not None:
        lines.append(f"    depends_on: [{previous}]")
    return "\n".join(lines)


def write_project(root: Path) -> Path:
    """The generated project; returns the main file."""
    (root / "common").mkdir(parents=True, exist_ok=True)
    (root / "included").mkdir(exist_ok=True)
    (root / "common" / "base.yaml").write_text(
        "services:\n  common:\n    image: busybox:${TAG:-latest}\n"
        "    environment: [FROM_BASE=1]\n    volumes: [./shared:/shared]\n"
        "    ulimits: {nofile: {soft: 1024, hard: 2048}}\n"
    )
    (root / "included" / ".env").write_text("INCLUDED_TAG=stable\n")
    included = ["services:"]
    for index in range(SERVICES_INCLUDED):
        included.append(
            f"  inc{index:03d}:\n    image: busybox:${{INCLUDED_TAG}}\n"
            f"    command: [sleep, '{index}']\n    environment: {{N: '{index}'}}\n"
            "    volumes: [./data:/data]\n    cap_add: [NET_ADMIN]\n    shm_size: 64m"
        )
    (root / "included" / "compose.yaml").write_text("\n".join(included) + "\n")
    main = [
        "include:",
        "  - included/compose.yaml",
        "services:",
        "  base:",
        "    image: busybox:${TAG:-latest}",
        "    environment: [FROM_BASE=1]",
        "    restart: unless-stopped",
    ]
    for index in range(SERVICES_MAIN - 1):
        extends = "same" if index % 2 == 0 else "file"
        previous = f"svc{index - 1:03d}" if index else None
        main.append(_service(index, extends, previous))
    main.append("volumes:\n  data:\n")
    path = root / "compose.yaml"
    path.write_text("\n".join(main))
    return path


def run(count: int, report: Report, work_dir: Path) -> None:
    root = work_dir / "compose-load"
    main = write_project(root)
    env = clean_env()
    reference_argv = ["docker", "compose", "-f", str(main), "config", "--format", "json"]
    ours_argv = [*inv_command(), "local.config", "--file", str(main), "--format", "json"]

    reference = run_timed(reference_argv, cwd=root, env=env).check("docker compose config")
    ours = run_timed(ours_argv, cwd=REPO_ROOT, env=env).check("inv local.config")
    expected, actual = json.loads(reference.stdout), json.loads(ours.stdout)
    if sorted(expected["services"]) != sorted(actual["services"]):
        raise BenchmarkError("inv local.config and docker compose config list other services")
    if len(actual["services"]) != SERVICES_MAIN + SERVICES_INCLUDED:
        raise BenchmarkError(f"expected 200 services, got {len(actual['services'])}")
    if expected != actual:
        report.notes.append("compose load: the two outputs differ somewhere (see the corpus)")

    from vpmigrate.compose.config import compose_config

    reference_times, cli_times, core_times = [], [], []
    for _ in range(count):
        reference_times.append(run_timed(reference_argv, cwd=root, env=env).seconds)
        cli_times.append(run_timed(ours_argv, cwd=REPO_ROOT, env=env).seconds)
        core_times.append(timed(lambda: compose_config([main], environ=env)))
    reference_s = median(reference_times)
    report.rows.append(
        Row(
            "compose load, 200 services (inv local.config)",
            median(cli_times),
            "docker compose config",
            reference_s,
            "s",
        )
    )
    report.rows.append(
        Row(
            "compose load, 200 services (core, in-process)",
            median(core_times),
            "docker compose config",
            reference_s,
            "s",
        )
    )


def main() -> None:  # pragma: no cover - manual use: python -m bench.compose_load
    import sys
    import tempfile

    from bench.common import render_text

    report = Report()
    with tempfile.TemporaryDirectory(prefix="vpbench-") as work:
        run(5, report, Path(work))
    print(render_text(report.rows))
    for note in report.notes:
        print(f"note: {note}")
    sys.exit(0)


if __name__ == "__main__":
    main()
