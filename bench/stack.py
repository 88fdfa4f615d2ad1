"""Benchmark 1: a local stack, ours (`inv local.up/down`, and the core API) against
`docker compose up -d --wait` / `down` on the same compose file.

Seven services from one local busybox image: healthchecks every second, a
three-level chain (db -> api -> web), a one-shot migration job that api waits for,
and two services without healthchecks. No published ports, so runs never collide.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import (
    GNU_TIME,
    BenchmarkError,
    Report,
    Row,
    Run,
    clean_env,
    inv_command,
    median,
    run_timed,
    timed,
)
from devkit import dockerkit

HEALTH = {"interval": "1s", "timeout": "2s", "retries": 5}


def _idle(prelude: str) -> list[str]:
    return ["sh", "-c", f"{prelude}; {dockerkit.IDLE_COMMAND}"]


def compose_document(image: str) -> dict[str, Any]:
    """The stack both tools bring up."""
    http = "echo ok > /tmp/index.html && httpd -p 8080 -h /tmp"
    wget = ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
    file_check = ["CMD-SHELL", "test -f /tmp/ready"]
    return {
        "services": {
            "db": {
                "image": image,
                "command": _idle("touch /tmp/ready"),
                "healthcheck": {"test": file_check, **HEALTH},
            },
            "cache": {
                "image": image,
                "command": _idle("touch /tmp/ready"),
                "healthcheck": {"test": file_check, **HEALTH},
            },
            "migrate": {
                "image": image,
                "command": ["sh", "-c", "echo migrated"],
                "restart": "no",
                "depends_on": {"db": {"condition": "service_healthy"}},
            },
            "api": {
                "image": image,
                "command": _idle(http),
                "healthcheck": {"test": wget, **HEALTH},
                "depends_on": {
                    "db": {"condition": "service_healthy"},
                    "cache": {"condition": "service_healthy"},
                    "migrate": {"condition": "service_completed_successfully"},
                },
            },
            "web": {
                "image": image,
                "command": _idle(http),
                "healthcheck": {"test": wget, **HEALTH},
                "depends_on": {"api": {"condition": "service_healthy"}},
            },
            "worker": {
                "image": image,
                "command": _idle("true"),
                "depends_on": {
                    "api": {"condition": "service_started"},
                    "cache": {"condition": "service_healthy"},
                },
            },
            "static": {"image": image, "command": _idle("true")},
        }
    }


@dataclass
class _Tool:
    """One way to drive the stack: commands for up and down, or in-process calls."""

    name: str
    up: Callable[[str], Run]
    down: Callable[[str], Run]


@dataclass
class _Samples:
    cold: list[float] = field(default_factory=list)
    rerun: list[float] = field(default_factory=list)
    down: list[float] = field(default_factory=list)
    rss_kb: list[int] = field(default_factory=list)


def _compose(compose_file: Path) -> _Tool:
    env = clean_env()

    def command(project: str, *args: str) -> Run:
        argv = ["docker", "compose", "-f", str(compose_file), "-p", project, *args]
        return run_timed(argv, env=env).check(" ".join(argv))

    return _Tool(
        "docker compose",
        lambda p: command(p, "up", "-d", "--wait"),
        lambda p: command(p, "down"),
    )


def _ours_cli(compose_file: Path) -> _Tool:
    env = clean_env()

    def command(task: str, project: str) -> Run:
        argv = [*inv_command(), task, "--file", str(compose_file), "--project-name", project]
        return run_timed(argv, env=env).check(" ".join(argv))

    return _Tool("inv", lambda p: command("local.up", p), lambda p: command("local.down", p))


def _ours_api(compose_file: Path) -> _Tool:
    """The same work without the process start-up: load, connect, converge."""
    from vpmigrate.compose.loader import load_project
    from vpmigrate.compose.profiles import active_profiles, select_services
    from vpmigrate.engine.client import connect
    from vpmigrate.engine.down import down as engine_down
    from vpmigrate.engine.down import plan_down
    from vpmigrate.engine.up import up as engine_up

    def up(project_name: str) -> Run:
        def work() -> None:
            project = load_project([compose_file], project_name=project_name)
            services = select_services(project, active_profiles([], project))
            engine_up(connect(), project, services)

        return Run(timed(work), 0, 0, "", "")

    def down(project_name: str) -> Run:
        def work() -> None:
            project = load_project([compose_file], project_name=project_name)
            client = connect()
            engine_down(client, project, plan_down(client, project, None, remove_volumes=False))

        return Run(timed(work), 0, 0, "", "")

    return _Tool("core API", up, down)


def run(runs: int, report: Report, work_dir: Path) -> None:
    import yaml

    try:
        client = dockerkit.docker_client()
    except RuntimeError as exc:
        raise BenchmarkError(str(exc)) from None
    run_id = uuid.uuid4().hex[:8]
    image = f"vpbench-busybox:{run_id}"
    compose_file = work_dir / "stack" / "compose.yml"
    compose_file.parent.mkdir(parents=True, exist_ok=True)
    projects: list[str] = []
    try:
        dockerkit.build_busybox_image(client, image)
        compose_file.write_text(yaml.safe_dump(compose_document(image), sort_keys=False))
        tools = [_compose(compose_file), _ours_cli(compose_file), _ours_api(compose_file)]
        samples = {t.name: _Samples() for t in tools}
        for i in range(runs):
            # Rotate the order so no tool always runs right after another's clean-up.
            for tool in tools[i % len(tools) :] + tools[: i % len(tools)]:
                project = f"vpbench-{run_id}-{tool.name.split()[-1].lower()}-{i}"
                projects.append(project)
                cold = tool.up(project)
                rerun = tool.up(project)
                down = tool.down(project)
                _check_gone(client, project, tool.name)
                s = samples[tool.name]
                s.cold.append(cold.seconds)
                s.rerun.append(rerun.seconds)
                s.down.append(down.seconds)
                s.rss_kb.append(cold.max_rss_kb)
        _rows(samples, report)
    finally:
        for project in projects:
            dockerkit.remove_project(client, project)
        try:
            client.api.remove_image(image, force=True)
        except Exception:
            pass


def _check_gone(client: Any, project: str, tool: str) -> None:
    left = client.api.containers(
        all=True, filters={"label": f"com.docker.compose.project={project}"}
    )
    if left:
        raise BenchmarkError(f"{tool} down left {len(left)} container(s) of {project}")


def _rows(samples: dict[str, _Samples], report: Report) -> None:
    ref = samples["docker compose"]
    for name in ("inv", "core API"):
        ours = samples[name]
        label = "inv local" if name == "inv" else "core API"
        cold, ref_cold = median(ours.cold), median(ref.cold)
        rerun, ref_rerun = median(ours.rerun), median(ref.rerun)
        down, ref_down = median(ours.down), median(ref.down)
        report.rows += [
            Row(
                f"stack (a) cold up to healthy, {label}",
                cold,
                "compose up -d --wait",
                ref_cold,
                "s",
                "<= compose",
                cold <= ref_cold,
            ),
            Row(
                f"stack (b) re-run, nothing changed, {label}",
                rerun,
                "compose up -d --wait",
                ref_rerun,
                "s",
                "<= 0.5x compose",
                rerun <= 0.5 * ref_rerun,
            ),
            Row(
                f"stack (c) down, {label}",
                down,
                "compose down",
                ref_down,
                "s",
                "<= compose",
                down <= ref_down,
            ),
        ]
    if GNU_TIME is None:
        report.notes.append("stack: GNU time (/usr/bin/time) is not installed: no memory row")
        return
    rss, ref_rss = median(samples["inv"].rss_kb) / 1024, median(ref.rss_kb) / 1024
    report.rows.append(
        Row(
            "peak memory of inv local.up (cold)",
            rss,
            "compose up -d --wait",
            ref_rss,
            "MB",
            note="peak resident set of the process and its children (GNU time)",
        )
    )
