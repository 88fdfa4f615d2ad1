"""`inv compose.split` against hostile folders and files (issue 15, "Data lost in
compose.split" and the split's tracebacks), through the real CLI: the exit code, no
traceback, and every file left as it was, or, when the split may write, nothing the
user wrote lost."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.hostile.kit import REPO, assert_refused, run_inv, shared_folder, snapshot

MVP = "docker-compose.mvp.yml"
FULL = "docker-compose.full.yml"


def scratch(folder: Path) -> Path:
    """compose/ (monolith, plan, both outputs as the split writes them) and env/."""
    shutil.copytree(REPO / "env", folder / "env")
    compose = folder / "compose"
    compose.mkdir()
    for name in ("docker-compose.yml", "split-plan.yml", MVP, FULL):
        shutil.copy(REPO / "compose" / name, compose / name)
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return compose


def split(
    compose: Path, *extra: str | Path, other_user: bool = False
) -> subprocess.CompletedProcess[str]:
    return run_inv(
        "compose.split",
        "--source",
        compose / "docker-compose.yml",
        "--plan",
        compose / "split-plan.yml",
        *extra,
        as_other_user=other_user,
    )


@dataclass(frozen=True)
class Refusal:
    """A folder the split must refuse to write into: `make` prepares it and returns
    the extra arguments."""

    name: str
    make: Callable[[Path], list[str | Path]]
    phrases: tuple[str, ...]
    other_user: bool = False


def _out_dir_file(compose: Path) -> list[str | Path]:
    (compose / "plain").write_text("a file\n")
    return ["--out-dir", compose / "plain"]


def _out_dir_below_file(compose: Path) -> list[str | Path]:
    (compose / "plain").write_text("a file\n")
    return ["--out-dir", compose / "plain" / "sub"]


def _outdated(compose: Path) -> None:
    monolith = compose / "docker-compose.yml"
    monolith.write_text(monolith.read_text().replace("mongo:7", "mongo:7.0.14"))


def _unreadable_output(compose: Path) -> list[str | Path]:
    (compose / FULL).chmod(0)
    return []


def _not_writable(compose: Path) -> list[str | Path]:
    _outdated(compose)  # something to write; compose/ belongs to root: nobody may not
    return []


def _output_folder(compose: Path) -> list[str | Path]:
    (compose / FULL).unlink()
    (compose / FULL).mkdir()
    return []


def _output_link_to_folder(compose: Path) -> list[str | Path]:
    (compose / "elsewhere").mkdir()
    (compose / FULL).unlink()
    (compose / FULL).symlink_to(compose / "elsewhere")
    return []


def _output_link_to_file(compose: Path) -> list[str | Path]:
    _outdated(compose)
    kept = compose / "kept.yml"
    (compose / FULL).rename(kept)
    (compose / FULL).symlink_to(kept)
    return ["--force"]


def _latin1_edit(compose: Path) -> list[str | Path]:
    path = compose / FULL
    path.write_bytes(path.read_bytes() + b"# edited in an old editor: caf\xe9\n")
    return []


def _header_comment(compose: Path) -> list[str | Path]:
    path = compose / FULL
    lines = path.read_text().splitlines(keepends=True)
    lines.insert(2, "# my note: keep redis for the demo\n")
    path.write_text("".join(lines))
    return []


def _plan_as_output(compose: Path) -> list[str | Path]:
    plan = compose / "split-plan.yml"
    plan.write_text(plan.read_text().replace(f"  {MVP}:", "  split-plan.yml:"))
    return ["--force"]


def _source_as_output(compose: Path) -> list[str | Path]:
    plan = compose / "split-plan.yml"
    plan.write_text(plan.read_text().replace(f"  {MVP}:", "  docker-compose.yml:"))
    return ["--force"]


def _plan_hard_linked_as_output(compose: Path) -> list[str | Path]:
    (compose / MVP).unlink()
    os.link(compose / "split-plan.yml", compose / MVP)
    return ["--force"]


REFUSALS = (
    Refusal("out-dir-is-a-file", _out_dir_file, ("--out-dir", "plain: not a folder")),
    Refusal("out-dir-below-a-file", _out_dir_below_file, ("plain is a file, not a folder",)),
    Refusal(
        "output-folder-not-writable",
        _not_writable,
        ("cannot write the split's outputs there: permission denied", "Nothing was written"),
        other_user=True,
    ),
    Refusal(
        "output-unreadable",
        _unreadable_output,
        (FULL, "cannot read the split output: permission denied"),
        other_user=True,
    ),
    Refusal("output-is-a-folder", _output_folder, (FULL, "is a folder, where the split writes")),
    Refusal("output-links-to-a-folder", _output_link_to_folder, (FULL, "is a folder")),
    Refusal(
        "output-links-to-a-file", _output_link_to_file, (FULL, "is a symbolic link", "kept.yml")
    ),
    Refusal("hand-edit-in-latin-1", _latin1_edit, (FULL, "edited by hand", "--force")),
    Refusal("comment-inside-the-header", _header_comment, (FULL, "edited by hand")),
    Refusal("plan-as-output", _plan_as_output, ("would overwrite the split plan",)),
    Refusal("source-as-output", _source_as_output, ("would overwrite the monolith",)),
    Refusal(
        "plan-hard-linked-as-output",
        _plan_hard_linked_as_output,
        ("would overwrite the split plan",),
    ),
)


@pytest.mark.parametrize("case", REFUSALS, ids=lambda case: case.name)
def test_split_refuses_and_leaves_every_file_as_it_was(case: Refusal) -> None:
    with shared_folder() as folder:
        compose = scratch(folder)
        extra = case.make(compose)
        before = snapshot(folder)
        result = split(compose, *extra, other_user=case.other_user)
        assert_refused(result, *case.phrases)
        assert snapshot(folder) == before


def test_force_keeps_a_latin_1_edit_byte_for_byte() -> None:
    with shared_folder() as folder:
        compose = scratch(folder)
        _latin1_edit(compose)
        edited = (compose / FULL).read_bytes()
        result = split(compose, "--force")
        assert result.returncode == 0, result.stderr
        backups = list(compose.glob(f"{FULL}.*.bak"))
        assert [b.read_bytes() for b in backups] == [edited]
        assert (compose / FULL).read_bytes() == (REPO / "compose" / FULL).read_bytes()
        assert str(backups[0]) in result.stderr


def test_dry_run_and_check_show_a_latin_1_edit_without_failing() -> None:
    with shared_folder() as folder:
        compose = scratch(folder)
        _latin1_edit(compose)
        before = snapshot(folder)
        dry = split(compose, "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert "-# edited in an old editor: caf\ufffd" in dry.stdout
        check = split(compose, "--check")
        assert check.returncode == 1 and f"{FULL} (edited by hand)" in check.stderr
        assert "Traceback" not in dry.stderr + check.stderr
        assert snapshot(folder) == before


def test_backups_in_the_same_second_never_replace_one_another(tmp_path: Path) -> None:
    """Three forced splits within one second (the clock is fixed here, as a fast
    machine would see it): three backups, each with the edit it saved."""
    from vpmigrate.split.outputs import apply_split, plan_split

    compose = scratch(tmp_path)
    second = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    edits = []
    for note in ("first", "second", "third"):
        path = compose / FULL
        path.write_text(path.read_text() + f"# {note} edit\n")
        edits.append(path.read_bytes())
        result = plan_split(compose / "docker-compose.yml", compose / "split-plan.yml", compose)
        apply_split(result, force=True, now=second)
    names = [f"{FULL}.20300102T030405Z{suffix}.bak" for suffix in ("", "-2", "-3")]
    assert sorted(p.name for p in compose.glob("*.bak")) == sorted(names)
    assert [(compose / name).read_bytes() for name in names] == edits


def test_two_force_runs_keep_two_backups() -> None:
    with shared_folder() as folder:
        compose = scratch(folder)
        edits = []
        for note in ("first", "second"):
            path = compose / FULL
            path.write_text(path.read_text() + f"# {note} edit\n")
            edits.append(path.read_bytes())
            result = split(compose, "--force")
            assert result.returncode == 0, result.stderr
        backups = sorted(compose.glob(f"{FULL}.*.bak"), key=lambda p: p.stat().st_mtime_ns)
        assert [b.read_bytes() for b in backups] == edits


# A writer killed in the middle of an atomic write: it holds the lock that marks its
# temporary file as in use, and SIGKILL takes the lock with it.
_WRITER = """
import sys, time
from pathlib import Path
import vpmigrate.userfiles as userfiles
real = userfiles.os.replace
def stop(*args):
    print("writing", flush=True)
    time.sleep(600)
userfiles.os.replace = stop
userfiles.atomic_write(Path(sys.argv[1]), "half of it\\n")
"""


def _writer(path: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline() == "writing\n"
    return process


def _killed_writer(path: Path) -> None:
    writer = _writer(path)
    writer.send_signal(signal.SIGKILL)
    writer.wait()


def test_temporary_files_of_a_killed_run_are_removed_by_the_next_run() -> None:
    with shared_folder() as folder:
        compose = scratch(folder)
        _killed_writer(compose / MVP)
        running = _writer(compose / FULL)  # a run still writing keeps its file
        try:
            leftovers = sorted(compose.glob(".*.tmp"))
            assert len(leftovers) == 2
            result = split(compose)
            assert result.returncode == 0, result.stderr
            dead = [p for p in leftovers if p.name.startswith(f".{MVP}.")]
            assert f"{dead[0]}: removed" in result.stderr
            assert sorted(compose.glob(".*.tmp")) == [p for p in leftovers if p not in dead]
        finally:
            running.kill()
            running.wait()
        assert (compose / MVP).read_bytes() == (REPO / "compose" / MVP).read_bytes()


def test_dry_run_removes_no_temporary_file() -> None:
    with shared_folder() as folder:
        compose = scratch(folder)
        _killed_writer(compose / MVP)
        before = snapshot(folder)
        assert split(compose, "--dry-run").returncode == 0
        assert snapshot(folder) == before
