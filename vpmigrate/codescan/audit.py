"""One audit: compose project + code roots + settings -> a verdict per service."""

from __future__ import annotations

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

    def report(self, service: str) -> ServiceReport:
        return next(r for r in self.services if r.service == service)


def audit(
    project: Project, roots: Sequence[Path], settings: UsageSettings, *, display_base: Path
) -> Audit:
    missing = [str(r) for r in roots if not r.exists()]
    if missing:
        raise UserError(
            f"code path {', '.join(missing)} does not exist; pass --path with the folder of the "
            "application code (repeatable) or set cleanup.paths in the Invoke configuration."
        )
    if not roots:
        raise UserError("no code path to scan; pass --path DIR or set cleanup.paths.")
    index = build_index(project, settings)
    result = scan_code(
        roots,
        index,
        display_base=display_base,
        max_file_bytes=settings.max_file_bytes,
        exclude=settings.exclude,
        skip=frozenset(p.resolve() for p in project.config_files),
    )
    edges = compose_edges(project, index)
    reports = decide(project, index, result.evidence, edges, settings, display_base)
    return Audit(project, tuple(roots), tuple(reports), result.stats)
