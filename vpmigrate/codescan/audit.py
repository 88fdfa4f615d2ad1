"""One audit: compose project + code roots + settings -> a verdict per service."""

from __future__ import annotations

import errno
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vpmigrate.codescan.graph import compose_edges
from vpmigrate.codescan.index import build_index
from vpmigrate.codescan.scan import ScanStats, scan_code
from vpmigrate.codescan.settings import UsageSettings
from vpmigrate.codescan.verdict import ServiceReport, decide
from vpmigrate.compose.model import Project
from vpmigrate.errors import UserError


@dataclass(frozen=True)
class Audit:
    project: Project
    roots: tuple[Path, ...]
    services: tuple[ServiceReport, ...]
    stats: ScanStats
    unreadable: tuple[str, ...] = ()  # paths the scan could not read (the first few)

    def report(self, service: str) -> ServiceReport:
        return next(r for r in self.services if r.service == service)


def audit(
    project: Project, roots: Sequence[Path], settings: UsageSettings, *, display_base: Path
) -> Audit:
    for root in roots:
        _check_root(root)
    missing = [str(r) for r in roots if not r.exists()]
    if missing:
        raise UserError(
            f"code path {', '.join(missing)} does not exist; pass --path with the folder of the "
            "application code (repeatable) or set cleanup.paths in the Invoke configuration."
        )
    if not roots:
        raise UserError("no code path to scan; pass --path DIR or set cleanup.paths.")
    index = build_index(project, settings, tuple(roots))
    result = scan_code(
        roots,
        index,
        display_base=display_base,
        max_file_bytes=settings.max_file_bytes,
        exclude=settings.exclude,
        skip=frozenset(p.resolve() for p in project.config_files),
    )
    edges = compose_edges(project, index)
    reports = decide(
        project, index, result.evidence, edges, settings, display_base, result.unreadable
    )
    return Audit(project, tuple(roots), tuple(reports), result.stats, result.unreadable)


def _check_root(root: Path) -> None:
    """A --path that is a symlink loop, a FIFO or a device is refused by name."""
    import os
    import stat

    try:
        mode = os.stat(root).st_mode
    except FileNotFoundError:
        return  # reported below with every missing path
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UserError(
                f"code path {root} is a symbolic link loop (it points back at itself); "
                "fix the link or pass the real folder with --path."
            ) from None
        raise UserError(f"code path {root} cannot be read ({exc.strerror}).") from None
    if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
        raise UserError(
            f"code path {root} is neither a folder nor a regular file (a FIFO or a device); "
            "pass the folder of the application code with --path."
        )
