"""The split as a whole: what each output would become, and writing it safely."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from vpmigrate.errors import UserError
from vpmigrate.split import roundtrip
from vpmigrate.split.files import atomic_write, is_hand_edited, unified_diff, with_header
from vpmigrate.split.plan import load_plan
from vpmigrate.split.render import check_relative_paths, render
from vpmigrate.userfiles import read_user_file

FileState = Literal["new", "unchanged", "outdated", "hand-edited"]


@dataclass(frozen=True)
class PlannedFile:
    path: Path
    text: str  # what the split writes
    current: str | None  # what is there now (None: no file)
    services: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def state(self) -> FileState:
        if self.current is None:
            return "new"
        if self.current == self.text:
            return "unchanged"
        return "hand-edited" if is_hand_edited(self.current) else "outdated"

    def diff(self) -> str:
        return unified_diff(self.current, self.text, self.path.name)


@dataclass(frozen=True)
class SplitResult:
    files: tuple[PlannedFile, ...]
    exact_layout: bool  # False: the monolith's mixed indentation was normalised

    @property
    def out_of_date(self) -> tuple[PlannedFile, ...]:
        return tuple(f for f in self.files if f.state != "unchanged")


def plan_split(source: Path, plan_path: Path, out_dir: Path) -> SplitResult:
    """Compute every output of the plan and compare it with what is on disk.
    Writes nothing."""
    source_text = read_user_file(source, "compose file", hint="; check --source")
    plan = load_plan(plan_path)
    check_relative_paths(roundtrip.load(source_text, source).services, source, out_dir)
    outputs, exact = render(source_text, source, plan)
    files = []
    for spec, output in zip(plan.outputs, outputs, strict=True):
        path = out_dir / output.file
        if os.path.realpath(path) == os.path.realpath(source):
            raise UserError(
                f"{spec.location}: output {output.file!r} would overwrite the monolith "
                f"{source}; pick another file name."
            )
        current = path.read_text(encoding="utf-8") if path.exists() else None
        text = with_header(output.body, source.name, plan_path.name)
        files.append(PlannedFile(path, text, current, output.services, output.notes))
    return SplitResult(tuple(files), exact)


@dataclass(frozen=True)
class Written:
    path: Path
    backup: Path | None  # where a hand-edited file was saved before --force replaced it


def apply_split(result: SplitResult, *, force: bool = False) -> list[Written]:
    """Write the outputs that changed. Refuses, before writing anything, when one of
    them was edited by hand since the split wrote it, unless `force` (then the
    hand-edited file is saved next to it first)."""
    edited = [f for f in result.files if f.state == "hand-edited"]
    if edited and not force:
        names = ", ".join(str(f.path) for f in edited)
        raise UserError(
            f"{names}: edited by hand since the split wrote it (its content no longer "
            "matches the hash in its header). Nothing was written. Move the edit into "
            "the monolith or the split plan, then run the split again; or run it with "
            "--force to overwrite (the edited file is kept as a .bak copy). "
            "--dry-run shows what would change."
        )
    written = []
    for planned in result.out_of_date:
        backup = None
        if planned.state == "hand-edited" and planned.current is not None:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            backup = planned.path.with_name(f"{planned.path.name}.{stamp}.bak")
            atomic_write(backup, planned.current)
        planned.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(planned.path, planned.text)
        written.append(Written(planned.path, backup))
    return written
