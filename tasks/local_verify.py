"""`inv local.verify`: check a running stack the way the training services use it.

Lives beside tasks/local.py (same option names and defaults); the `local` collection
adds the `verify` task defined here.
"""

from __future__ import annotations

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
        up_hint = _up_command(sorted(profiles), file or [], project_name, env_file)
        targets = find_targets(project, services, containers, up_hint)
        info(f"project {project.name}: checking {', '.join(s.name for s in services)}")
        results = run_checks(targets)
        rows = [[r.name, "pass" if r.passed else "FAIL", r.detail] for r in results]
        out(render_table(["CHECK", "RESULT", "DETAIL"], rows))
        failed = [r for r in results if not r.passed]
        hints: dict[str, list[str]] = {}
        for result in failed:
            hints.setdefault(result.hint, []).append(result.name)
        for hint, names in hints.items():
            out(f"hint ({', '.join(names)}): {hint}")
        if failed:
            raise UserError(
                f"{len(failed)} of {len(results)} checks failed "
                f"({', '.join(r.name for r in failed)}): see the hints above."
            )
        info(f"all {len(results)} checks passed")


def _up_command(
    profiles: list[str], files: list[str], project_name: str | None, env_file: str | None
) -> str:
    """The `inv local.up` that starts this very stack, for hints."""
    words = ["inv", "local.up", *(f"--profile {p}" for p in profiles)]
    words += [f"--file {f}" for f in files]
    if project_name:
        words.append(f"--project-name {project_name}")
    if env_file:
        words.append(f"--env-file {env_file}")
    return "`" + " ".join(words) + "`"
