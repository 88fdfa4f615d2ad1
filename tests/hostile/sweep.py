"""Shared by the cross-cutting hostile tests (test_secrets_everywhere, test_dry): the
task list from the root collection, the real `inv` in a subprocess with a clean
environment, marker secrets, and the checks every run must pass (no traceback, no
marker in any output or in any file the run wrote)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Every run ends within seconds; reaching this means the task hung.
HANG = 300
# Variables of the test process that must not reach a task run (they would change
# which files, tokens or engine it uses).
_FOREIGN = ("COMPOSE_", "RAILWAY_", "AWS_", "R2_", "MINIO_", "MLFLOW_", "INVOKE_", "DOCKER_")
_TAG = uuid.uuid4().hex[:6]


def marker(source: str) -> str:
    """A secret value that says where it was planted (`Mk<run><source>`): found in an
    output, it names the source that leaked."""
    return f"Mk{_TAG}{source}"


def task_names() -> list[str]:
    """Every task of the root collection (`inv --list`), as `namespace.task`."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    import tasks

    return sorted(tasks.ns.task_names)


def task_of(args: Iterable[str]) -> str:
    """The task a command line runs (the first word that is not a global flag)."""
    words = [a for a in args if not a.startswith("-")]
    return words[0]


def inv(
    *args: str | Path,
    env: Mapping[str, str] | None = None,
    cwd: Path = REPO,
    timeout: float = HANG,
) -> subprocess.CompletedProcess[str]:
    """`inv ARGS` through the real CLI, with only `env` on top of a clean environment."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN)}
    full_env.pop("VPM_DEBUG", None)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "invoke", "--search-root", str(REPO), *map(str, args)],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )


def files_under(folder: Path) -> dict[Path, bytes]:
    """Every regular file below `folder` that can be read, with its bytes."""
    found: dict[Path, bytes] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink() and os.access(path, os.R_OK):
            found[path] = path.read_bytes()
    return found


@dataclass(frozen=True)
class Outcome:
    """What one run showed and wrote."""

    result: subprocess.CompletedProcess[str]
    written: dict[Path, bytes]  # files created or changed by the run

    @property
    def shown(self) -> str:
        return (
            f"exit {self.result.returncode}\nstdout:\n{self.result.stdout}\n"
            f"stderr:\n{self.result.stderr}"
        )


def run_and_collect(folder: Path, *args: str | Path, **kwargs: object) -> Outcome:
    """Run `inv ARGS` and collect the files below `folder` it created or changed."""
    before = files_under(folder)
    result = inv(*args, **kwargs)  # type: ignore[arg-type]
    after = files_under(folder)
    written = {path: data for path, data in after.items() if before.get(path) != data}
    return Outcome(result, written)


def assert_clean(
    outcome: Outcome,
    markers: Mapping[str, str],
    *,
    code: int,
    phrases: Iterable[str] = (),
    carried: Iterable[bytes] = (),
    verdict: bool = False,
) -> None:
    """The run exited `code` without a traceback; with exit 1, one `error:` paragraph;
    the output contains `phrases` and no marker; no file it wrote contains a marker,
    unless the marker was written literally in one of the user's files it read
    (`carried`: their bytes; copying the user's own text is not printing a secret).
    `verdict`: the exit code is a check's result (`--check`), with no `error:` line."""
    result = outcome.result
    output = result.stdout + result.stderr
    if os.environ.get("VPM_SWEEP_SHOW"):
        print(f"--- {' '.join(map(str, result.args[4:]))}\n{outcome.shown}")
    assert result.returncode == code, outcome.shown
    assert "Traceback" not in output, outcome.shown
    if code == 1 or verdict:
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == (0 if verdict else 1), outcome.shown
    for phrase in phrases:
        assert phrase in output, f"{phrase!r} missing:\n{outcome.shown}"
    leaked = sorted(source for source, value in markers.items() if value in output)
    assert not leaked, f"secrets printed ({', '.join(leaked)}):\n{outcome.shown}"
    sources = list(carried)
    for path, data in outcome.written.items():
        planted = [
            source
            for source, value in markers.items()
            if value.encode() in data and not any(value.encode() in s for s in sources)
        ]
        assert not planted, f"{path} holds secrets ({', '.join(planted)}):\n{outcome.shown}"
