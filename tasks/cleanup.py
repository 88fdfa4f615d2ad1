"""Tasks of the `cleanup` namespace: which compose services the code does not use."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from invoke import Context

from tasks._cli import (
    confirm,
    info,
    namespace,
    out,
    render_table,
    repo_path,
    setting,
    task,
)

if TYPE_CHECKING:
    from vpmigrate.codescan.audit import Audit

DEFAULTS: dict[str, Any] = {
    "paths": ["mvp"],  # the application code (brief: mvp/backend, mvp/frontend, mvp/training)
    "backups": "backups",  # where --volumes writes its .tar.gz archives
    "keep": {},  # service -> reason: never reported unused, never retired
    "optional": {},  # service -> reason: used, but the application runs without it
    "signatures": {},  # family or service -> extra signals (see docs/cleanup.md)
    "exclude": [],  # extra gitignore-style patterns
    "max_file_bytes": 1024 * 1024,
}
FORMATS = ("table", "json", "markdown")


@task(
    iterable=["path", "file"],
    dry="dry_run",
    help={
        "path": "Folder (or file) of application code to scan (repeatable). "
        "Default: cleanup.paths config, `mvp`.",
        "file": "Compose file (repeatable, as in local.up). Default: local.files config.",
        "format": "table (default), json or markdown.",
        "apply": "Retire the unused services: move them to `profiles: [future]` and remove "
        "their containers (prints the plan and asks first).",
        "volumes": "With --apply: also remove their named volumes, each after a .tar.gz backup.",
        "yes": "With --apply: do not ask for confirmation.",
        "dry_run": "With --apply: print the plan and change nothing.",
    },
)
def unused(
    c: Context,
    path: list[str] | None = None,
    file: list[str] | None = None,
    format: str = "table",
    apply: bool = False,
    volumes: bool = False,
    yes: bool = False,
    project_name: str | None = None,
    env_file: str | None = None,
    dry_run: bool = False,
) -> None:
    """Find the compose services the application code does not use, with evidence."""
    from tasks.local import load_local_project
    from vpmigrate.codescan.audit import audit
    from vpmigrate.codescan.evidence import display_path
    from vpmigrate.codescan.render import HEADERS, as_json, as_markdown, printable, table_rows
    from vpmigrate.codescan.settings import parse_settings
    from vpmigrate.errors import UserError

    if format not in FORMATS:
        raise UserError(f"--format {format!r} is not known; use one of {', '.join(FORMATS)}.")
    if volumes and not apply:
        raise UserError("--volumes only makes sense with --apply; add --apply or drop it.")
    settings = {name: setting(c, "cleanup", name) for name in DEFAULTS}
    scan_settings = parse_settings(settings)
    roots = [_code_path(p) for p in setting(c, "cleanup", "paths", path)]
    # An audit reads the model, not the secrets: a fresh clone's gitignored env files
    # (`.envs/.production/.django`, `server.env`) need not exist for it.
    project = load_local_project(c, file or [], project_name, env_file, missing_env_files_ok=True)
    base = _display_base(roots, list(project.config_files))
    started = time.perf_counter()
    result = audit(project, roots, scan_settings, display_base=base)
    elapsed = time.perf_counter() - started
    stats = result.stats
    info(
        f"scanned {stats.files} files ({stats.bytes_read / 1e6:.1f} MB) under "
        f"{', '.join(printable(display_path(r, base)) for r in roots)}; parsed {stats.selected} "
        "that matched "
        f"a signature literal; {elapsed:.2f} s"
    )
    if result.unreadable:
        shown = ", ".join(printable(p) for p in result.unreadable[:5])
        more = f" and {stats.unreadable - 5} more" if stats.unreadable > 5 else ""
        info(
            f"warning: {stats.unreadable} file(s) or folder(s) could not be read ({shown}{more}); "
            "no service is called unused on a partial read. Fix their permissions and re-run."
        )
    if format == "json":
        out(as_json(result))
    elif format == "markdown":
        out(as_markdown(result))
    else:
        out(render_table(HEADERS, table_rows(result)))
    if apply:
        _apply(result, settings, volumes=volumes, yes=yes, dry_run=dry_run)


def _apply(
    result: Audit, settings: dict[str, Any], *, volumes: bool, yes: bool, dry_run: bool
) -> None:
    from vpmigrate.codescan.retire import RETIRED_PROFILE, apply_retirement, plan_retirement
    from vpmigrate.engine.client import connect

    client = connect()
    plan = plan_retirement(client, result, volumes=volumes)
    if plan.skipped:
        info(
            f"not retiring {', '.join(plan.skipped)}: their verdict is unknown (nothing says "
            "what they are, or the scan could not read every file), so --apply leaves them "
            "alone. Describe them under cleanup.signatures (or keep them under cleanup.keep)."
        )
    if not plan.services:
        out("nothing to retire: no service is unused.")
        return
    names = ", ".join(plan.services)
    if plan.empty:
        kept = (
            f"; their volumes {', '.join(plan.kept_volumes)} stay (add --volumes to back up "
            "and remove them)"
            if plan.kept_volumes
            else " or volumes"
        )
        out(
            f"nothing left to do: {names} are already in profiles: [{RETIRED_PROFILE}] "
            f"and have no containers{kept}."
        )
        return
    backups = repo_path(settings["backups"])
    out(f"plan: retire {names}")
    for edit in plan.edits:
        before = ", ".join(edit.before) or "none (always on)"
        out(f"  {edit.file}: {edit.service} profiles [{before}] -> [{RETIRED_PROFILE}]")
    for container in plan.containers:
        out(f"  container {container.name} ({container.description}): stop and remove")
    for volume in plan.volumes:
        out(f"  volume {volume}: back up to {backups}/{volume}-<UTC time>.tar.gz, then remove")
    if plan.kept_volumes:
        out(f"  volumes kept (add --volumes to remove): {', '.join(plan.kept_volumes)}")
    if dry_run:
        info("dry run: nothing changed.")
        return
    if not yes:
        confirm(
            "Apply this plan?",
            "--apply asks for confirmation and got none, so nothing changed; re-run with --yes "
            "to apply the plan.",
        )
    written = apply_retirement(client, result, plan, backups=backups, report=info)
    for archive in written:
        out(f"backup: {archive}")
    out(f"retired {names}.")


def _code_path(value: str) -> Path:
    """A --path as `repo_path` reads it, except that a path that exists here in any form
    (a symbolic link loop too) is taken as given, so the scan can name what is wrong."""
    import os

    given = Path(value).expanduser()
    if not given.is_absolute() and os.path.lexists(given):
        return Path(os.path.abspath(given))
    if given.is_absolute():
        return Path(os.path.abspath(given))
    return repo_path(value)


def _display_base(roots: list[Path], compose_files: list[Path]) -> Path:
    """Evidence paths are shown relative to the scanned root: the folder that holds the
    scanned paths and the compose files (`mvp/...`, `compose/docker-compose.yml`), or,
    when the compose files live elsewhere, the scanned paths alone."""
    import os

    folders = [r if r.is_dir() else r.parent for r in roots]
    for group in (folders + [f.resolve().parent for f in compose_files], folders):
        common = Path(os.path.commonpath([str(p) for p in group]))
        if common != Path(common.anchor):
            return common
    return Path.cwd().resolve()


ns = namespace("cleanup", unused, defaults=DEFAULTS)
