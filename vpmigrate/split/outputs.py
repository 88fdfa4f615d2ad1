"""The split as a whole: what each output would become, and writing it safely.

Nothing the user wrote is lost: an output is only replaced when it is the split's own
untouched file or the user forces it, and then the edited file is first copied, byte
for byte, to a `.bak` name that nothing else has (two backups in one second get two
names). The source and the plan can never be an output, outputs that are symbolic
links are left as they are (never written through), and temporary files that a
killed run left behind are removed by the next writing run.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from vpmigrate.errors import UserError
from vpmigrate.split import roundtrip
from vpmigrate.split.files import atomic_write, is_hand_edited, unified_diff, with_header
from vpmigrate.split.plan import OutputSpec, load_plan
from vpmigrate.split.render import check_relative_paths, render
from vpmigrate.userfiles import (
    is_missing,
    read_user_bytes,
    read_user_file,
    remove_stale_temporaries,
    write_new_file,
)

FileState = Literal["new", "unchanged", "outdated", "hand-edited"]


@dataclass(frozen=True)
class PlannedFile:
    path: Path
    text: str  # what the split writes
    current_bytes: bytes | None  # what is there now (None: no file)
    services: tuple[str, ...]
    notes: tuple[str, ...]
    link: str | None = None  # the target, when the output is a symbolic link

    @property
    def current(self) -> str | None:
        """The current file as text (bytes that are not UTF-8 shown as U+FFFD)."""
        if self.current_bytes is None:
            return None
        return self.current_bytes.decode("utf-8", errors="replace")

    @property
    def state(self) -> FileState:
        if self.current_bytes is None:
            return "new"
        if self.current_bytes == self.text.encode("utf-8"):
            return "unchanged"
        try:
            current = self.current_bytes.decode("utf-8")
        except UnicodeDecodeError:
            return "hand-edited"  # the split writes UTF-8 only
        return "hand-edited" if is_hand_edited(current) else "outdated"

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
    _check_out_dir(out_dir)
    check_relative_paths(roundtrip.load(source_text, source).services, source, out_dir)
    outputs, exact = render(source_text, source, plan)
    files = []
    for spec, output in zip(plan.outputs, outputs, strict=True):
        path = out_dir / output.file
        _refuse_input_as_output(path, spec, source, plan_path)
        link = os.readlink(path) if os.path.islink(path) else None
        text = with_header(output.body, source.name, plan_path.name)
        current = _current(path, spec, plan_path)
        files.append(PlannedFile(path, text, current, output.services, output.notes, link))
    return SplitResult(tuple(files), exact)


def _check_out_dir(out_dir: Path) -> None:
    """The output folder, or the first part of it that exists, must be a folder."""
    existing = out_dir
    while is_missing(existing) and existing.parent != existing:
        existing = existing.parent
    if not os.path.isdir(existing):
        detail = "" if existing == out_dir else f" ({existing} is a file, not a folder)"
        raise UserError(
            f"--out-dir {out_dir}: not a folder{detail}; pass the folder the outputs go to "
            "(it is created when it does not exist)."
        )


def _same_file(one: Path, other: Path) -> bool:
    if os.path.realpath(one) == os.path.realpath(other):
        return True
    try:
        return os.path.samefile(one, other)  # also a hard link
    except OSError:
        return False


def _refuse_input_as_output(path: Path, spec: OutputSpec, source: Path, plan: Path) -> None:
    for what, existing in (("the monolith", source), ("the split plan", plan)):
        if _same_file(path, existing):
            raise UserError(
                f"{spec.location}: output {spec.file!r} would overwrite {what} {existing}; "
                "pick another file name or another --out-dir. Nothing was written."
            )


def _current(path: Path, spec: OutputSpec, plan: Path) -> bytes | None:
    """What the output holds now; None when there is nothing (or a link to nothing)."""
    if is_missing(path) or (os.path.islink(path) and not os.path.exists(path)):
        return None
    if os.path.isdir(path):
        raise UserError(
            f"{path}: is a folder, where the split writes its output {spec.file!r}; move "
            f"the folder away, or rename the output in {plan} ({spec.location})."
        )
    return read_user_bytes(path, "split output")


@dataclass(frozen=True)
class Written:
    path: Path
    backup: Path | None  # where a hand-edited file was saved before --force replaced it


@dataclass(frozen=True)
class Applied:
    written: tuple[Written, ...]
    removed: tuple[Path, ...]  # temporary files left by a run that was killed


def apply_split(
    result: SplitResult, *, force: bool = False, now: datetime | None = None
) -> Applied:
    """Write the outputs that changed. Refuses, before writing anything, when one of
    them was edited by hand since the split wrote it, unless `force` (then the
    hand-edited file is saved next to it first), when one is a symbolic link, or when
    a folder cannot be written to. `now` names the backups (default: the UTC time)."""
    removed = [p for f in result.files for p in remove_stale_temporaries(f.path)]
    stale = result.out_of_date
    edited = [f for f in stale if f.state == "hand-edited"]
    if edited and not force:
        names = ", ".join(str(f.path) for f in edited)
        raise UserError(
            f"{names}: edited by hand since the split wrote it (its content no longer "
            "matches the hash in its header). Nothing was written. Move the edit into "
            "the monolith or the split plan, then run the split again; or run it with "
            "--force to overwrite (the edited file is kept as a .bak copy). "
            "--dry-run shows what would change."
        )
    for planned in stale:
        if planned.link is not None:
            raise UserError(
                f"{planned.path}: is a symbolic link (to {planned.link}); the split never "
                "writes through a link nor replaces one. Remove the link (the split then "
                "writes a regular file there) or rename the output in the plan. Nothing "
                "was written."
            )
    for planned in stale:
        _check_writable(planned.path.parent)
    written: list[Written] = []
    for planned in stale:
        backup = None
        if planned.state == "hand-edited" and planned.current_bytes is not None:
            backup = _backup(planned.path, planned.current_bytes, now or datetime.now(UTC))
        planned.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            atomic_write(planned.path, planned.text)
        except UserError as exc:
            done = ", ".join(str(w.path) for w in written) or "nothing"
            saved = f"; its edited version is saved as {backup}" if backup else ""
            raise UserError(f"{exc.message} Written before this: {done}{saved}.") from None
        written.append(Written(planned.path, backup))
    return Applied(tuple(written), tuple(removed))


def _check_writable(folder: Path) -> None:
    """Refuse before anything is written when a folder (or the part of it that exists)
    cannot take new files."""
    existing = folder
    while is_missing(existing) and existing.parent != existing:
        existing = existing.parent
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(
            f"{existing}: cannot write the split's outputs there: permission denied. Fix "
            "the folder's permissions or pass another --out-dir. Nothing was written."
        )


def _backup(path: Path, data: bytes, now: datetime) -> Path:
    """Copy the edited file, byte for byte, to `<file>.<UTC time>.bak`, or
    `<file>.<UTC time>-2.bak`, ... when that name is taken: never over anything."""
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    for attempt in range(1, 1000):
        suffix = "" if attempt == 1 else f"-{attempt}"
        backup = path.with_name(f"{path.name}.{stamp}{suffix}.bak")
        try:
            write_new_file(backup, data)
        except FileExistsError:
            continue
        mode = stat.S_IMODE(os.stat(path).st_mode)
        os.chmod(backup, mode)
        return backup
    raise UserError(f"{path}: too many backups named {path.name}.{stamp}-*.bak; remove some.")
