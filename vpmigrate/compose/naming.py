"""Compose's names: the project name and the engine names derived from it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from vpmigrate.errors import UserError

_NOT_ALLOWED = re.compile(r"[^a-z0-9_-]")


def normalize_project_name(raw: str) -> str:
    """Lowercase, keep only `[a-z0-9_-]`, and start with a letter or digit."""
    return _NOT_ALLOWED.sub("", raw.lower()).lstrip("_-")


def choose_project_name(
    *,
    explicit: str | None,
    environ: Mapping[str, str],
    dotenv: Mapping[str, str],
    declared: str | None,
    project_directory: Path,
) -> str:
    """`-p`, then COMPOSE_PROJECT_NAME (shell, then .env), then top-level `name:`, then
    the project directory's name; normalised."""
    candidates = [
        (explicit, "the --project-name option"),
        (environ.get("COMPOSE_PROJECT_NAME"), "COMPOSE_PROJECT_NAME in the environment"),
        (dotenv.get("COMPOSE_PROJECT_NAME"), "COMPOSE_PROJECT_NAME in the .env file"),
        (declared, "the top-level `name:` of the compose file"),
        (project_directory.resolve().name, f"the project directory {project_directory}"),
    ]
    for raw, source in candidates:
        if not raw:
            continue
        name = normalize_project_name(raw)
        if not name:
            raise UserError(
                f"The project name {raw!r} (from {source}) has no letter or digit left after "
                "keeping only lowercase letters, digits, '-' and '_'. Pass --project-name "
                "with a name like 'vision-platform'."
            )
        return name
    raise UserError(  # only the root directory "/" has no name
        "No project name: pass --project-name, set COMPOSE_PROJECT_NAME, or add `name:` "
        "to the compose file."
    )


def resource_name(project: str, key: str) -> str:
    """Engine name of a project's network or volume: `<project>_<key>`."""
    return f"{project}_{key}"
