"""Glue shared by the task modules: error reporting, output streams, repo paths."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from invoke import Exit

from vpmigrate.errors import UserError

REPO_ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def reporting() -> Iterator[None]:
    """Turn expected failures into a clean message and exit code (no traceback)."""
    try:
        yield
    except UserError as exc:
        raise Exit(f"error: {exc.message}", code=exc.exit_code) from None
    except KeyboardInterrupt:
        raise Exit("interrupted: re-run the same command to finish.", code=130) from None


def info(message: str) -> None:
    """A diagnostic for the user: goes to stderr so stdout stays parseable."""
    print(message, file=sys.stderr, flush=True)


def out(message: str = "") -> None:
    """A result: goes to stdout."""
    print(message, flush=True)


def repo_path(value: str | Path) -> Path:
    """Resolve a path option: relative to the current directory when it exists there,
    else relative to the repository root (so tasks work from any subdirectory)."""
    path = Path(value).expanduser()
    if not (path.is_absolute() or os.path.lexists(path)):
        path = REPO_ROOT / path
    # Absolute, links kept as named (as Compose does): messages name the path the user
    # gave, and a symlink loop or a folder we may not enter is reported when read.
    return Path(os.path.abspath(path))


def render_table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain aligned text table."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = ["  ".join(h.ljust(widths[i]) for i, h in enumerate(headers)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    return "\n".join(lines)
