"""Tasks of the `local` namespace: profile-scoped local stacks on the Docker engine.

The engine is driven through the Docker SDK (vpmigrate.engine) with Compose's names
and labels, so `docker compose` sees the same stacks.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from invoke import Collection, Context, task

from tasks._cli import info, out, render_table, repo_path, reporting

if TYPE_CHECKING:
    from vpmigrate.compose.model import Project
    from vpmigrate.engine.events import Event

DEFAULTS: dict[str, Any] = {
    "files": ["compose/docker-compose.full.yml"],
    "env_file": ".env",  # used with the default files; `--file` stacks use their own folder's .env
    "project_name": None,
    "timeout": 300,
}

FILE_HELP = (
    "Compose file (repeatable; later files override earlier ones). Default: local.files config."
)
PROJECT_HELP = (
    "Project name (default: COMPOSE_PROJECT_NAME, then the file's `name:`, then its folder)."
)
PROFILE_HELP = "Profile to act on (repeatable; default: COMPOSE_PROFILES)."
ENV_FILE_HELP = "Env file for interpolation (default: .env at the repo root for the default files)."


def _settings(c: Context) -> dict[str, Any]:
    merged = dict(DEFAULTS)
    merged.update({k: v for k, v in (c.config.get("local") or {}).items() if v is not None})
    return merged


def load_local_project(
    c: Context, files: list[str], project_name: str | None, env_file: str | None
) -> Project:
    """The compose project as every task that reads the local stack sees it: `--file`
    beats `local.files`, `--env-file` beats the repository's `.env` (default files only),
    `--project-name` beats `local.project_name`. Loader warnings go to stderr."""
    from vpmigrate.compose.loader import load_project_with_warnings
    from vpmigrate.userfiles import is_missing

    settings = _settings(c)
    env_files: list[Path] | None = None
    if env_file:
        env_files = [repo_path(env_file)]
    elif not files:
        default_env = repo_path(settings["env_file"])
        env_files = None if is_missing(default_env) else [default_env]
    paths = [repo_path(f) for f in (files or settings["files"])]
    loaded = load_project_with_warnings(
        paths, project_name=project_name or settings["project_name"], env_files=env_files
    )
    for warning in loaded.warnings:
        info(f"warning: {warning}")
    return loaded.project


def _print_event(event: Event) -> None:
    detail = f": {event.detail}" if event.detail else ""
    info(f"  {event.subject:<16} {event.action}{detail}")


@task(
    iterable=["profile", "file"],
    help={
        "profile": PROFILE_HELP,
        "file": FILE_HELP,
        "project_name": PROJECT_HELP,
        "timeout": "Seconds to wait for every service to be ready (default 300).",
        "no_pull": "Never pull: fail, naming the images, when one is missing.",
        "env_file": ENV_FILE_HELP,
    },
)
def up(
    c: Context,
    profile: list[str] | None = None,
    file: list[str] | None = None,
    project_name: str | None = None,
    timeout: float | None = None,
    no_pull: bool = False,
    env_file: str | None = None,
) -> None:
    """Start a profile-scoped stack and wait until every service is ready."""
    with reporting():
        from vpmigrate.compose.profiles import active_profiles, select_services
        from vpmigrate.engine.client import connect
        from vpmigrate.engine.up import up as engine_up

        project = load_local_project(c, file or [], project_name, env_file)
        profiles = active_profiles(profile or [], project)
        services = select_services(project, profiles)
        client = connect()
        wait_s = float(timeout if timeout is not None else _settings(c)["timeout"])
        shown = ", ".join(sorted(profiles)) or "none"
        names = ", ".join(s.name for s in services)
        info(f"project {project.name}: profiles {shown}; services {names}")
        outcomes = engine_up(
            client, project, services, allow_pull=not no_pull, timeout_s=wait_s, report=_print_event
        )
        changed = [o.service for o in outcomes if o.action != "unchanged"]
        info(
            f"project {project.name} is up"
            + (
                f" ({len(changed)} changed: {', '.join(changed)})"
                if changed
                else " (nothing changed)"
            )
        )
        _print_status(client, project, [s.name for s in services])


@task(
    iterable=["profile", "file"],
    help={
        "profile": "Only remove this profile's services (repeatable). Default: the whole project.",
        "file": FILE_HELP,
        "project_name": PROJECT_HELP,
        "volumes": "Also remove the named volumes of the removed services (lists them first).",
        "env_file": ENV_FILE_HELP,
    },
)
def down(
    c: Context,
    profile: list[str] | None = None,
    file: list[str] | None = None,
    project_name: str | None = None,
    volumes: bool = False,
    env_file: str | None = None,
) -> None:
    """Stop and remove a stack's containers (profile-scoped with --profile)."""
    with reporting():
        from vpmigrate.compose.profiles import active_profiles
        from vpmigrate.engine.client import connect
        from vpmigrate.engine.down import down as engine_down
        from vpmigrate.engine.down import plan_down

        project = load_local_project(c, file or [], project_name, env_file)
        scope: set[str] | None = None
        if profile:
            chosen = active_profiles(profile, project)
            scope = {n for n, s in project.services.items() if set(s.profiles) & chosen}
        client = connect()
        plan = plan_down(client, project, scope, remove_volumes=volumes)
        if not plan.containers and not plan.volumes:
            scope_text = f" in profile(s) {', '.join(profile)}" if profile else ""
            info(f"nothing to remove: project {project.name} has no containers{scope_text}.")
        if plan.volumes:
            listed = ", ".join(plan.volumes)
            info(f"removing {len(plan.volumes)} named volume(s) and their data: {listed}")
        engine_down(client, project, plan, report=_print_event)
        if plan.kept_volumes:
            info(f"kept named volumes (use --volumes to remove): {', '.join(plan.kept_volumes)}")


@task(
    iterable=["file"],
    help={
        "file": FILE_HELP,
        "project_name": PROJECT_HELP,
        "json": "Print a JSON list instead of a table.",
        "env_file": ENV_FILE_HELP,
    },
)
def status(
    c: Context,
    file: list[str] | None = None,
    project_name: str | None = None,
    json: bool = False,
    env_file: str | None = None,
) -> None:
    """Show every service of the project: profiles, state, health, URLs."""
    with reporting():
        from vpmigrate.engine.client import connect

        project = load_local_project(c, file or [], project_name, env_file)
        _print_status(connect(), project, None, as_json=json)


def _print_status(
    client: Any, project: Project, only: list[str] | None, as_json: bool = False
) -> None:
    from vpmigrate.engine.status import project_status

    rows = [r for r in project_status(client, project) if only is None or r.service in only]
    if as_json:
        out(json.dumps([r.as_json() for r in rows], indent=2))
        return
    table = [
        [
            r.service + ("" if r.in_compose_file else " (orphan)"),
            ",".join(r.profiles) or "-",
            r.state + (f" ({r.exit_code})" if r.exit_code is not None else ""),
            r.health or "-",
            " ".join(r.ports) or "-",
        ]
        for r in rows
    ]
    out(render_table(["SERVICE", "PROFILES", "STATE", "HEALTH", "PORTS"], table))


@task(
    iterable=["file"],
    help={
        "service": "The service whose logs to show.",
        "follow": "Keep streaming new output.",
        "tail": "Only the last N lines.",
        "file": FILE_HELP,
        "project_name": PROJECT_HELP,
        "env_file": ENV_FILE_HELP,
    },
)
def logs(
    c: Context,
    service: str,
    follow: bool = False,
    tail: int | None = None,
    file: list[str] | None = None,
    project_name: str | None = None,
    env_file: str | None = None,
) -> None:
    """Show a service's container output."""
    with reporting():
        from vpmigrate.engine.client import connect
        from vpmigrate.engine.status import service_logs

        project = load_local_project(c, file or [], project_name, env_file)
        for chunk in service_logs(connect(), project, service, follow=follow, tail=tail):
            sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()


ns = Collection("local", up, down, status, logs)
ns.configure({"local": DEFAULTS})
