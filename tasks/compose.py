"""Tasks of the `compose` namespace: split the monolithic compose file.

`inv compose.split` writes compose/docker-compose.mvp.yml and
compose/docker-compose.full.yml from compose/docker-compose.yml and the split plan
compose/split-plan.yml, keeping every comment, anchor and `${VAR}` as written.
"""

from __future__ import annotations

from typing import Any

from invoke import Context, Exit

from tasks._cli import info, namespace, out, repo_path, setting, task

DEFAULTS: dict[str, Any] = {
    "source": "compose/docker-compose.yml",
    "plan": "compose/split-plan.yml",
    "out_dir": None,  # None: the source's folder (relative paths in it stay valid)
}


@task(
    dry="dry_run",
    help={
        "source": "The monolithic compose file (default: compose/docker-compose.yml).",
        "plan": "The split plan (default: compose/split-plan.yml).",
        "out_dir": "Where the outputs go (default: the source's folder).",
        "dry_run": "Print a unified diff of what would change; write nothing.",
        "check": "Exit 1 when the files on disk differ from what the split would write.",
        "force": "Overwrite outputs edited by hand (each is saved as <file>.<time>.bak first).",
    },
)
def split(
    c: Context,
    source: str | None = None,
    plan: str | None = None,
    out_dir: str | None = None,
    dry_run: bool = False,
    check: bool = False,
    force: bool = False,
) -> None:
    """Split the monolith into docker-compose.mvp.yml and docker-compose.full.yml.

    Diffs (`--dry-run`, `--check`) show values of secret-looking names as `***`."""
    from vpmigrate.errors import UserError
    from vpmigrate.masking import mask_assignments
    from vpmigrate.split.outputs import apply_split, plan_split

    if check and force:
        raise UserError("--check only compares and writes nothing; use it without --force.")
    source_path = repo_path(setting(c, "compose", "source", source))
    plan_path = repo_path(setting(c, "compose", "plan", plan))
    configured_out = setting(c, "compose", "out_dir", out_dir)
    out_path = repo_path(configured_out) if configured_out else source_path.parent

    result = plan_split(source_path, plan_path, out_path)
    if not result.exact_layout:
        info(
            f"note: {source_path} cannot be written back byte for byte (mixed "
            "indentation or line endings); the outputs use one consistent layout "
            "(comments and values are unchanged)."
        )
    stale = result.out_of_date
    if check:
        for planned in stale:
            out(mask_assignments(planned.diff()))
        if stale:
            names = ", ".join(f"{p.path.name} ({_CHECK_WORDS[p.state]})" for p in stale)
            raise Exit(
                f"out of date: {names}. Run `inv compose.split` and commit the result.",
                code=1,
            )
        info(f"in sync: {', '.join(p.path.name for p in result.files)}")
        return
    if dry_run:
        for planned in stale:
            out(mask_assignments(planned.diff()))
        for planned in result.files:
            for note in planned.notes:
                info(f"note: {note}")
            info(f"{planned.path.name}: {_state_text(planned.state)} (dry run: not written)")
        return
    applied = apply_split(result, force=force)
    for removed in applied.removed:
        info(f"{removed}: removed (a temporary file left by a run that was killed)")
    written = {w.path: w for w in applied.written}
    for planned in result.files:
        for note in planned.notes:
            info(f"note: {note}")
        entry = written.get(planned.path)
        if entry is None:
            info(f"{planned.path}: up to date")
            continue
        if entry.backup is not None:
            info(f"{planned.path}: your hand-edited version is saved as {entry.backup}")
        out(f"wrote {planned.path} ({', '.join(planned.services)})")


_CHECK_WORDS = {"new": "missing", "outdated": "outdated", "hand-edited": "edited by hand"}


def _state_text(state: str) -> str:
    return {
        "new": "would be created",
        "unchanged": "up to date",
        "outdated": "would be updated",
        "hand-edited": "edited by hand: would be refused without --force",
    }[state]


ns = namespace("compose", split, defaults=DEFAULTS)
