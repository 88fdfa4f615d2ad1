"""Shared by the hostile-input tests: the real `inv` CLI in a subprocess, a folder
another user can read, hostile files to feed it, and what a clean refusal looks like.

Each hostile input is a function that builds it in a folder and returns the path to
pass, with the words the error must contain. The cases come from issue 15 (333 bad
inputs tried against every task); the files are written here, none is copied.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
INV = REPO / ".venv" / "bin" / "inv"
NOBODY = 65534
# Every run ends within seconds; reaching this means the task hung (e.g. on a FIFO).
# Generous, as other test runs may load the machine heavily.
HANG = 300


def run_inv(
    *args: str | Path,
    env: dict[str, str] | None = None,
    as_other_user: bool = False,
    cwd: Path = REPO,
) -> subprocess.CompletedProcess[str]:
    """`inv ARGS` through the real CLI. `as_other_user` runs it as `nobody` when the
    tests run as root (root reads every file, so permissions would prove nothing)."""
    command = [str(INV), *map(str, args)]
    if as_other_user and os.geteuid() == 0:
        command = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command]
        env = {**(env or {}), "HOME": "/nonexistent"}  # root's home is closed to nobody
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "RAILWAY_"))}
    full_env.update(env or {})
    return subprocess.run(
        command, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=HANG
    )


def assert_refused(result: subprocess.CompletedProcess[str], *phrases: str) -> None:
    """Exit 1 with one `error:` paragraph on stderr that contains each phrase, and no
    traceback anywhere."""
    shown = f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert "Traceback" not in result.stdout + result.stderr, shown
    assert result.returncode == 1, shown
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, shown
    message = result.stderr[result.stderr.index("error:") :]
    for phrase in phrases:
        assert phrase in message, shown


@contextmanager
def shared_folder() -> Iterator[Path]:
    """A scratch folder that the `nobody` user may enter (pytest's tmp_path is private)."""
    folder = Path(tempfile.mkdtemp(prefix="vpm-hostile-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for path in [folder, *folder.rglob("*")]:
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
        shutil.rmtree(folder)


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry below `folder`: file bytes, link targets, folder markers."""
    result: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            result[key] = f"-> {os.readlink(path)}"
        elif path.is_dir():
            result[key] = "<dir>"
        elif path.is_file() and os.access(path, os.R_OK):
            result[key] = path.read_bytes()
        else:
            result[key] = f"<{oct(path.lstat().st_mode)}>"
    return result


@dataclass(frozen=True)
class Hostile:
    """One bad input: `make(folder)` builds it and returns the path to pass."""

    name: str
    make: Callable[[Path], Path]
    phrases: tuple[str, ...]
    other_user: bool = False  # needs a user who is not root to mean anything


def _write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def _fifo(folder: Path) -> Path:
    path = folder / "pipe.yml"
    os.mkfifo(path)
    return path


def _loop(folder: Path) -> Path:
    (folder / "loop-a.yml").symlink_to(folder / "loop-b.yml")
    (folder / "loop-b.yml").symlink_to(folder / "loop-a.yml")
    return folder / "loop-a.yml"


def _dangling(folder: Path) -> Path:
    (folder / "dangling.yml").symlink_to(folder / "gone.yml")
    return folder / "dangling.yml"


def _under_a_file(folder: Path) -> Path:
    (folder / "plain").write_text("x\n")
    return folder / "plain" / "file.yml"


def _folder(folder: Path) -> Path:
    (folder / "folder.yml").mkdir()
    return folder / "folder.yml"


def _oversized(folder: Path) -> Path:
    path = folder / "huge.yml"
    with path.open("wb") as handle:
        handle.truncate(9 * 1024 * 1024)
    return path


def _unreadable(folder: Path) -> Path:
    path = _write(folder, "secret.yml", b"A: 1\n")
    path.chmod(0)
    return path


def _in_closed_folder(folder: Path) -> Path:
    closed = folder / "closed"
    closed.mkdir()
    path = _write(closed, "file.yml", b"A: 1\n")
    closed.chmod(0)
    return path


# Inputs that every reader of a user file must refuse, whatever the file's format.
FILE_INPUTS = (
    Hostile("missing", lambda d: d / "absent.yml", ("absent.yml", "does not exist")),
    Hostile("folder", _folder, ("folder.yml", "is a folder")),
    Hostile("fifo", _fifo, ("pipe.yml", "named pipe (FIFO)")),
    Hostile("dev-zero", lambda d: Path("/dev/zero"), ("/dev/zero", "character device")),
    Hostile("symlink-loop", _loop, ("loop-a.yml", "symbolic link loop", "loop-b.yml")),
    Hostile("dangling-link", _dangling, ("dangling.yml", "symbolic link to a missing file")),
    Hostile("under-a-file", _under_a_file, ("plain/file.yml", "a part of the path is a file")),
    Hostile("oversized", _oversized, ("huge.yml", "larger than 8 MiB")),
    Hostile(
        "nul-byte", lambda d: _write(d, "nul.yml", b"A: 1\nB: x\x00y\n"), ("nul.yml:2:", "NUL")
    ),
    Hostile(
        "latin-1",
        lambda d: _write(d, "latin.yml", b"# ok\n# caf\xe9\n"),
        ("latin.yml:2:", "not UTF-8 (byte 0xE9 at column 6)", "save it as UTF-8"),
    ),
    Hostile(
        "utf-16",
        lambda d: _write(d, "wide.yml", "A: 1\n".encode("utf-16")),
        ("wide.yml", "UTF-16"),
    ),
    Hostile("unreadable", _unreadable, ("secret.yml", "permission denied"), other_user=True),
    Hostile(
        "closed-folder",
        _in_closed_folder,
        ("closed/file.yml", "permission denied on its folder", "closed"),
        other_user=True,
    ),
)

_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(9)
)

# Inputs that only a YAML reader meets.
YAML_INPUTS = (
    Hostile(
        "alias-bomb",
        lambda d: _write(d, "laughs.yml", _LAUGHS.encode()),
        ("laughs.yml:10:", "alias bomb"),
    ),
    Hostile(
        "recursive-alias",
        lambda d: _write(d, "self.yml", b"x-a: &a [*a]\n"),
        ("self.yml:1:", "recursive alias", "&a"),
    ),
    Hostile(
        "recursive-mapping",
        lambda d: _write(d, "selfmap.yml", b"top:\n  x-a: &a {inner: *a}\n"),
        ("selfmap.yml:2:", "recursive alias"),
    ),
    Hostile(
        "flow-50000-deep",
        lambda d: _write(d, "deep.yml", b"a: " + b"[" * 50_000 + b"]" * 50_000 + b"\n"),
        ("deep.yml:1:", "nested more than 100 levels"),
    ),
    Hostile(
        "flow-mapping-1000-deep",
        lambda d: _write(d, "deepmap.yml", b"a: " + b"{a: " * 1000 + b"1" + b"}" * 1000 + b"\n"),
        ("deepmap.yml:1:", "nested more than 100 levels"),
    ),
    Hostile(
        "block-1000-deep",
        lambda d: _write(
            d, "deepblock.yml", "".join(f"{' ' * i}k{i}:\n" for i in range(1000)).encode()
        ),
        ("deepblock.yml:100:", "nested more than 100 levels"),
    ),
    Hostile(
        "control-character",
        lambda d: _write(d, "ctrl.yml", b"a: 1\nb: x\x01y\n"),
        ("ctrl.yml:2:", "invalid YAML", "U+0001"),
    ),
    Hostile(
        "syntax",
        lambda d: _write(d, "syntax.yml", b"a: [1, 2\nb: 3\n"),
        ("syntax.yml:", "invalid YAML"),
    ),
)
