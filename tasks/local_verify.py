"""`inv local.verify`: check a running stack the way the training services use it.

Lives beside tasks/local.py (same option names and defaults); the `local` collection
adds the `verify` task defined here.
"""

from __future__ import annotations

import re

from invoke import Context, task

from tasks._cli import info, out, render_table, reporting
from tasks.local import ENV_FILE_HELP, PROFILE_HELP, PROJECT_HELP, load_local_project


@task(
    iterable=["profile", "file"],
    help={
        "profile": PROFILE_HELP,
        "file": "Compose file the stack was started from (repeatable). "
        "Default: local.files config.",
        "project_name": PROJECT_HELP,
        "env_file": ENV_FILE_HELP,
    },
)
def verify(
    c: Context,
    profile: list[str] | None = None,
    file: list[str] | None = None,
    project_name: str | None = None,
    env_file: str | None = None,
) -> None:
    """Check PostgreSQL, MLflow and S3 of a running stack; exit 1 if any check fails."""
    with reporting():
        from vpmigrate.compose.profiles import active_profiles, select_services
        from vpmigrate.engine.client import connect
        from vpmigrate.engine.state import project_containers
        from vpmigrate.errors import UserError
        from vpmigrate.verify.runner import require_clients, run_checks
        from vpmigrate.verify.targets import find_targets

        require_clients()
        project = load_local_project(c, file or [], project_name, env_file)
        profiles = active_profiles(profile or [], project)
        services = select_services(project, profiles)
        containers = {state.service: state for state in project_containers(connect(), project.name)}
        options = _stack_options(file or [], project_name, env_file)
        up_hint = "`inv local.up" + "".join(f" --profile {p}" for p in sorted(profiles))
        up_hint += f"{options}`"
        targets = find_targets(project, services, containers, up_hint)
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
