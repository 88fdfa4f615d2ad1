"""Tasks of the `local` namespace: profile-scoped local stacks on the Docker engine.

The engine is driven through the Docker SDK (vpmigrate.engine) with Compose's names
and labels, so `docker compose` sees the same stacks.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from invoke import Context

from tasks._cli import (
    DRY_READ_ONLY,
    info,
    keep_secret,
    namespace,
    out,
    render_table,
    repo_path,
    secrets,
    setting,
    task,
)

if TYPE_CHECKING:
    from vpmigrate.compose.model import Project, Service
    from vpmigrate.engine.events import Event
    from vpmigrate.verify.targets import StackTargets

DEFAULTS: dict[str, Any] = {
    "files": ["compose/docker-compose.full.yml"],
    "env_file": ".env",  # used with the default files; `--file` stacks use their own folder's .env
    "project_name": None,
    "timeout": 300,
}


def load_local_project(
    c: Context,
    files: list[str],
    project_name: str | None,
    env_file: str | None,
    *,
    missing_env_files_ok: bool = False,
) -> Project:
    """The compose project as every task that reads the local stack sees it: `--file`
    beats `local.files`, `--env-file` beats the repository's `.env` (default files only),
    `--project-name` beats `local.project_name`. Loader warnings go to stderr. The
    project's secret values join the mask of everything the task prints.
    `missing_env_files_ok`: a service's missing env file is a warning, not an error."""
    from vpmigrate.compose.loader import load_project_with_warnings
    from vpmigrate.compose.secrets import project_secrets
    from vpmigrate.userfiles import is_missing

    env_files: list[Path] | None = None
    if env_file:
        env_files = [repo_path(env_file)]
    elif not files:
        default_env = repo_path(setting(c, "local", "env_file"))
        env_files = None if is_missing(default_env) else [default_env]
    paths = [repo_path(f) for f in setting(c, "local", "files", files)]
    loaded = load_project_with_warnings(
        paths,
        project_name=setting(c, "local", "project_name", project_name),
        env_files=env_files,
        missing_env_files_ok=missing_env_files_ok,
    )
    keep_secret(*project_secrets(loaded.project))
    for warning in loaded.warnings:
        info(f"warning: {warning}")
    return loaded.project


def _print_event(event: Event) -> None:
    detail = f": {event.detail}" if event.detail else ""
    info(f"  {event.subject:<16} {event.action}{detail}")


@task(
    iterable=["profile", "file"],
    help={
        "timeout": "Seconds to wait for every service to be ready (default: local.timeout, 300).",
        "no_pull": "Never pull: fail, naming the images, when one is missing.",
        "build": "Build every image that has `build:` again first. Without it, only missing "
        "images and those whose context, Dockerfile or build options changed are built.",
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
    build: bool = False,
) -> None:
    """Start a profile-scoped stack and wait until every service is ready."""
    from vpmigrate.compose.profiles import active_profiles, select_services
    from vpmigrate.engine.client import connect
    from vpmigrate.engine.up import up as engine_up

    project = load_local_project(c, file or [], project_name, env_file)
    profiles = active_profiles(profile or [], project)
    services = select_services(project, profiles)
    client = connect()
    wait_s = float(setting(c, "local", "timeout", timeout))
    shown = ", ".join(sorted(profiles)) or "none"
    names = ", ".join(s.name for s in services)
    info(f"project {project.name}: profiles {shown}; services {names}")
    outcomes = engine_up(
        client,
        project,
        services,
        allow_pull=not no_pull,
        timeout_s=wait_s,
        report=_print_event,
        rebuild=build,
    )
    changed = [o.service for o in outcomes if o.action != "unchanged"]
    summary = (
        f" ({len(changed)} changed: {', '.join(changed)})" if changed else " (nothing changed)"
    )
    info(f"project {project.name} is up{summary}")
    _print_status(client, project, [s.name for s in services])


@task(
    name="build",
    iterable=["service", "profile", "file"],
    help={
        "service": "Build only this service's image (repeatable). Default: every service of "
        "the active profiles that has `build:`.",
        "no_cache": "Do not use the builder's cache.",
        "pull": "Pull the base images again first.",
    },
)
def build_images(
    c: Context,
    service: list[str] | None = None,
    profile: list[str] | None = None,
    file: list[str] | None = None,
    project_name: str | None = None,
    env_file: str | None = None,
    no_cache: bool = False,
    pull: bool = False,
) -> None:
    """Build the images of services that have `build:`; start nothing."""
    from vpmigrate.compose.profiles import active_profiles, select_services
    from vpmigrate.engine.build import build_services
    from vpmigrate.engine.client import connect
    from vpmigrate.errors import UserError

    project = load_local_project(c, file or [], project_name, env_file)
    if service:
        unknown = [s for s in service if s not in project.services]
        if unknown:
            known = ", ".join(sorted(project.services))
            raise UserError(f"unknown service {', '.join(unknown)}; known services: {known}.")
        chosen = [project.services[s] for s in service]
        plain = [s.name for s in chosen if s.build is None]
        if plain:
            raise UserError(
                f"service {', '.join(plain)} has no `build:` section (it runs a ready-made "
                "image); name services that build their image."
            )
    else:
        chosen = [
            s for s in select_services(project, active_profiles(profile or [], project)) if s.build
        ]
        if not chosen:
            info(f"nothing to build: no active service of project {project.name} has `build:`.")
            return
    built = build_services(
        connect().docker, project, chosen, report=_print_event, no_cache=no_cache, pull=pull
    )
    rows = [[s.name, s.image, built[s.image][7:19]] for s in chosen if s.image in built]
    out(render_table(["SERVICE", "IMAGE", "ID"], rows))


@task(
    iterable=["profile", "file"],
    dry="dry_run",
    help={
        "profile": "Only remove this profile's services (repeatable). Default: the whole project.",
        "volumes": "Also remove the named volumes of the removed services (lists them first).",
        "dry_run": "Print what would be removed; change nothing.",
    },
)
def down(
    c: Context,
    profile: list[str] | None = None,
    file: list[str] | None = None,
    project_name: str | None = None,
    volumes: bool = False,
    env_file: str | None = None,
    dry_run: bool = False,
) -> None:
    """Stop and remove a stack's containers (profile-scoped with --profile)."""
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
    if dry_run:
        for container in plan.containers:
            out(f"would stop and remove container {container.name} ({container.description})")
        for volume in plan.volumes:
            out(f"would remove named volume {volume} and its data")
        info("dry run: nothing changed.")
        return
    if plan.volumes:
        listed = ", ".join(plan.volumes)
        info(f"removing {len(plan.volumes)} named volume(s) and their data: {listed}")
    engine_down(client, project, plan, report=_print_event)
    if plan.kept_volumes:
        info(f"kept named volumes (use --volumes to remove): {', '.join(plan.kept_volumes)}")


@task(
    iterable=["file"],
    dry=DRY_READ_ONLY,
    help={"json": "Print a JSON list instead of a table."},
)
def status(
    c: Context,
    file: list[str] | None = None,
    project_name: str | None = None,
    json: bool = False,
    env_file: str | None = None,
) -> None:
    """Show every service of the project: profiles, state, health, URLs."""
    from vpmigrate.engine.client import connect

    project = load_local_project(c, file or [], project_name, env_file)
    _print_status(connect(), project, None, as_json=json)


@task(
    iterable=["profile", "file"],
    dry=DRY_READ_ONLY,
    help={"format": "yaml (default) or json."},
)
def config(
    c: Context,
    file: list[str] | None = None,
    profile: list[str] | None = None,
    project_name: str | None = None,
    env_file: str | None = None,
    format: str = "yaml",
) -> None:
    """Print the resolved compose model (what would run), as `docker compose config` does;
    secret values masked."""
    from vpmigrate.compose.config import project_config
    from vpmigrate.compose.profiles import active_profiles, select_services
    from vpmigrate.errors import UserError
    from vpmigrate.masking import mask_tree

    if format not in ("yaml", "json"):
        raise UserError(f"Unknown --format {format!r}; use yaml or json.")
    project = load_local_project(c, file or [], project_name, env_file)
    services = select_services(project, active_profiles(profile or [], project))
    document = mask_tree(project_config(project, [s.name for s in services]), secrets())
    if format == "json":
        out(json.dumps(document, indent=2, ensure_ascii=False))
        return
    import yaml

    out(
        yaml.safe_dump(
            document, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1000
        ).rstrip("\n")
    )


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
            r.container or "-",
            ",".join(r.profiles) or "-",
            r.state + (f" ({r.exit_code})" if r.exit_code is not None else ""),
            r.health or "-",
            " ".join(r.ports) or "-",
        ]
        for r in rows
    ]
    out(render_table(["SERVICE", "CONTAINER", "PROFILES", "STATE", "HEALTH", "PORTS"], table))


@task(
    iterable=["file"],
    dry=DRY_READ_ONLY,
    help={
        "service": "The service whose logs to show.",
        "follow": "Keep streaming new output.",
        "tail": "Only the last N lines.",
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
    """Show a service's container output (the project's secret values masked)."""
    from vpmigrate.engine.client import connect
    from vpmigrate.engine.status import service_logs
    from vpmigrate.masking import masked_chunks

    project = load_local_project(c, file or [], project_name, env_file)
    chunks = service_logs(connect(), project, service, follow=follow, tail=tail)
    for chunk in masked_chunks(chunks, secrets()):
        sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()


@task(iterable=["profile", "file"])
def verify(
    c: Context,
    profile: list[str] | None = None,
    file: list[str] | None = None,
    project_name: str | None = None,
    env_file: str | None = None,
) -> None:
    """Check PostgreSQL, MLflow and S3 of a running stack; exit 1 if any check fails."""
    from vpmigrate.errors import UserError
    from vpmigrate.verify.runner import require_clients, run_checks

    require_clients()
    stack = running_stack(c, profile, file, project_name, env_file)
    project, services, targets = stack.project, stack.services, stack.targets
    options, up_hint = stack.options, stack.up_hint
    info(f"project {project.name}: checking {', '.join(s.name for s in services)}")
    results = run_checks(targets)
    rows = [[r.name, "pass" if r.passed else "FAIL", r.detail] for r in results]
    out(render_table(["CHECK", "RESULT", "DETAIL"], rows))
    failed = [r for r in results if not r.passed]
    hints: dict[str, list[str]] = {}
    for result in failed:
        hint = _for_this_stack(result.hint, options, up_hint)
        hints.setdefault(hint, []).append(result.name)
    for hint, names in hints.items():
        out(f"hint ({', '.join(names)}): {hint}")
    if failed:
        raise UserError(
            f"{len(failed)} of {len(results)} checks failed "
            f"({', '.join(r.name for r in failed)}): see the hints above."
        )
    info(f"all {len(results)} checks passed")


@dataclass(frozen=True)
class RunningStack:
    """A stack as `local.verify` and `mlflow.migrate` find it: its active services and
    where they answer, and the options and command that name and start it (for hints)."""

    project: Project
    services: list[Service]
    targets: StackTargets
    options: str
    up_hint: str


def running_stack(
    c: Context,
    profile: list[str] | None,
    file: list[str] | None,
    project_name: str | None,
    env_file: str | None,
) -> RunningStack:
    from vpmigrate.compose.profiles import active_profiles, select_services
    from vpmigrate.engine.client import connect
    from vpmigrate.verify.targets import find_targets

    project = load_local_project(c, file or [], project_name, env_file)
    profiles = active_profiles(profile or [], project)
    services = list(select_services(project, profiles))
    containers = {state.service: state for state in connect().containers(project.name)}
    options = _stack_options(file or [], project_name, env_file)
    up_hint = "`inv local.up" + "".join(f" --profile {p}" for p in sorted(profiles))
    up_hint += f"{options}`"
    targets = find_targets(project, services, containers, up_hint)
    return RunningStack(project, services, targets, options, up_hint)


def _stack_options(files: list[str], project_name: str | None, env_file: str | None) -> str:
    """The options that name this stack, for the commands a hint suggests."""
    words = [f" --file {f}" for f in files]
    if project_name:
        words.append(f" --project-name {project_name}")
    if env_file:
        words.append(f" --env-file {env_file}")
    return "".join(words)


_SUGGESTED = re.compile(r"`inv (local\.(?:up|down|logs|status)\b[^`]*)`")


def _for_this_stack(hint: str, options: str, up_hint: str) -> str:
    """Make the `inv local.*` commands in a hint act on the stack that was checked
    (its --file/--project-name), not the default one."""
    if not options:
        return hint

    def rewrite(match: re.Match[str]) -> str:
        command = match.group(1)
        if "--file" in command or "--project-name" in command:
            return match.group(0)  # already complete (the up command built above)
        if command == "local.up":
            return up_hint
        return f"`inv {command}{options}`"

    return _SUGGESTED.sub(rewrite, hint)


ns = namespace("local", up, build_images, down, status, logs, config, verify, defaults=DEFAULTS)
