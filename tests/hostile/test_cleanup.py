"""Hostile input and faults for `inv cleanup.unused`, through the real CLI in a
subprocess: the exit code, never a traceback, never a hang, nothing lost.

Each case here reproduces one finding of the hostile-input audit: a `.gitignore` with
an invalid range, one of 100,000 lines, a pathological pattern, a symlink loop as
`--path`, Ctrl-C during a large scan, an unreadable file, a full disk under
`--apply --volumes`, and file names with newlines and ANSI escapes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devkit import dockerkit

REPO = Path(__file__).resolve().parents[2]
COMPOSE = """\
services:
  postgres:
    image: postgres:16
  redis:
    image: redis:7
  worker:
    image: example/unknown-thing
"""


def inv(
    cwd: Path, *args: str, timeout: float = 120, unprivileged: bool = False, **env: str
) -> subprocess.CompletedProcess[str]:
    """`inv cleanup.unused ARGS`; `unprivileged`: as root, without the capabilities that
    let root read any file (so that a mode-000 file is unreadable, as for a user)."""
    prefix: list[str] = []
    if unprivileged and os.geteuid() == 0:
        drop = "-dac_override,-dac_read_search"
        prefix = ["setpriv", f"--bounding-set={drop}", f"--inh-caps={drop}", "--"]
    return subprocess.run(
        [*prefix, sys.executable, "-m", "invoke", "--search-root", str(REPO), "cleanup.unused"]
        + list(args),
        cwd=cwd,
        env=dockerkit.cli_env(**env),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )


@pytest.fixture()
def stack() -> Iterator[Path]:
    """A compose file and a code folder, in a folder every user may read."""
    root = Path(tempfile.mkdtemp(prefix="vpm-hostile-"))
    root.chmod(0o755)
    (root / "compose.yml").write_text(COMPOSE)
    code = root / "code"
    code.mkdir()
    (code / "db.py").write_text('URL = "postgresql://app@postgres:5432/app"\n')
    yield root
    for path in root.rglob("*"):
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)
    shutil.rmtree(root, ignore_errors=True)


def scan(root: Path, *extra: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return inv(
        root, "--file", "compose.yml", "--path", "code", "--format", "json", *extra, **kwargs
    )


def verdicts(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    return {s["service"]: s["verdict"] for s in json.loads(result.stdout)["services"]}


def assert_clean(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr


@pytest.mark.parametrize(
    "gitignore",
    [
        pytest.param("[z-a]\n*.py[z-a]\n", id="invalid-range"),
        pytest.param("data[\n\\\n!\n/\n***/x\n[]\n[!]\n", id="odd-lines"),
        pytest.param("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b\n" * 3, id="pathological-stars"),
        pytest.param("**/" * 200 + "x\n", id="pathological-double-stars"),
        pytest.param(
            "".join(
                f"gen{i}.py\n*.ext{i}\n/out{i}\nbuild{i}/*.o\nsrc{i}/**/t*_*.py\n"
                for i in range(20_000)
            ),
            id="100k-lines",
        ),
    ],
)
def test_hostile_gitignore_is_matched_without_traceback_or_hang(
    stack: Path, gitignore: str
) -> None:
    code = stack / "code"
    (code / ".gitignore").write_text(gitignore)
    (code / ("a" * 200 + ".py")).write_text("import redis\n")
    sub = code / "pkg" / "deep"
    sub.mkdir(parents=True)
    (sub / "cache.py").write_text('REDIS = "redis://redis:6379/0"\n')
    result = scan(stack, timeout=120)
    assert result.returncode == 0, result.stderr
    assert_clean(result)
    assert verdicts(result)["postgres"] == "required"


def test_a_huge_gitignore_is_not_read_into_memory(stack: Path) -> None:
    """A 4 GiB .gitignore (sparse: no disk used) whose rules would hide the only use of
    redis: it is skipped unread, so the scan sees more files, never fewer."""
    code = stack / "code"
    with (code / ".gitignore").open("wb") as handle:
        handle.write(b"cache.py\n")
        handle.truncate(4 * 1024**3)
    (code / "cache.py").write_text("import redis\n")
    result = scan(stack, timeout=120)
    assert result.returncode == 0, result.stderr
    assert_clean(result)
    assert verdicts(result)["redis"] == "required"


def test_invalid_range_matches_nothing_as_git_does(stack: Path) -> None:
    code = stack / "code"
    (code / ".gitignore").write_text("cache[z-a].py\n")
    (code / "cachez.py").write_text("import redis\n")
    result = scan(stack)
    assert result.returncode == 0, result.stderr
    assert verdicts(result)["redis"] == "required"  # the file was not ignored


def test_a_symlink_loop_as_path_is_named(stack: Path) -> None:
    (stack / "loop").symlink_to(stack / "loop")
    result = inv(stack, "--file", "compose.yml", "--path", "loop")
    assert result.returncode == 1
    assert_clean(result)
    assert "symbolic link loop" in result.stderr and "loop" in result.stderr


def test_a_symlink_loop_inside_the_tree_is_skipped(stack: Path) -> None:
    (stack / "code" / "a").symlink_to(stack / "code" / "b")
    (stack / "code" / "b").symlink_to(stack / "code" / "a")
    (stack / "code" / "self").symlink_to(stack / "code")
    result = scan(stack)
    assert result.returncode == 0, result.stderr
    assert_clean(result)


def test_a_fifo_as_path_is_refused(stack: Path) -> None:
    os.mkfifo(stack / "pipe")
    result = inv(stack, "--file", "compose.yml", "--path", "pipe", timeout=30)
    assert result.returncode == 1
    assert_clean(result)
    assert "FIFO" in result.stderr


@pytest.mark.skipif(
    os.geteuid() == 0 and shutil.which("setpriv") is None, reason="root needs setpriv to drop"
)
def test_unreadable_files_are_reported_and_nothing_is_called_unused(stack: Path) -> None:
    secret = stack / "code" / "cache.py"
    secret.write_text('REDIS = "redis://redis:6379/0"\n')  # the only use of redis
    secret.chmod(0)
    closed = stack / "code" / "closed"
    closed.mkdir()
    closed.chmod(0)
    result = scan(stack, unprivileged=True)
    assert result.returncode == 0, result.stderr
    assert_clean(result)
    assert "could not be read" in result.stderr
    assert "code/cache.py" in result.stderr
    document = json.loads(result.stdout)
    assert "code/cache.py" in document["unreadable"]
    found = verdicts(result)
    assert found["postgres"] == "required"
    assert found["redis"] == "unknown"  # not "unused": the one file that uses it was not read
    assert "unused" not in found.values()


def test_file_names_cannot_forge_output_lines(stack: Path) -> None:
    code = stack / "code"
    evil = "x\nredis      unused    forged\x1b[2J\x1b[31m.py"
    (code / evil).write_text("import redis\n")
    for fmt in ("table", "markdown", "json"):
        result = inv(stack, "--file", "compose.yml", "--path", "code", "--format", fmt)
        assert result.returncode == 0, result.stderr
        assert "\x1b" not in result.stdout and "\x1b" not in result.stderr
        assert not any(line.startswith("redis      unused") for line in result.stdout.splitlines())
        if fmt == "table":
            assert "x\\x0aredis" in result.stdout


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs /proc")
def test_ctrl_c_during_a_large_scan_ends_cleanly(tmp_path: Path) -> None:
    root = tmp_path / "big"
    code = root / "code"
    line = "def handler(event):\n    return event\n" * 40
    for folder in range(100):  # big enough to be still scanning when the signal comes
        sub = code / f"pkg{folder:03d}"
        sub.mkdir(parents=True)
        for number in range(500):
            (sub / f"m{number:04d}.py").write_text(line)
    (root / "compose.yml").write_text(COMPOSE)
    process = subprocess.Popen(
        [sys.executable, "-m", "invoke", "--search-root", str(REPO), "cleanup.unused"]
        + ["--file", "compose.yml", "--path", "code"],
        cwd=root,
        env=dockerkit.cli_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
        # SIGINT at its default, as under a terminal: a suite started in the background of
        # a non-interactive shell (`pytest &`) has it ignored, and children inherit that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        # the scan is under way once the interpreter has forked its workers
        if _children(process.pid):
            break
        time.sleep(0.02)
    assert process.poll() is None, "the scan ended before it could be interrupted"
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    started = time.monotonic()
    try:
        stdout, stderr = process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail("the scan hung after Ctrl-C")
    elapsed = time.monotonic() - started
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert elapsed < 3, f"took {elapsed:.2f} s to stop"  # generous for a loaded CI machine


@pytest.fixture()
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    folder = tmp_path / "full"
    folder.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield folder
    subprocess.run(["umount", str(folder)], check=False)


def test_apply_keeps_a_volume_whose_backup_cannot_be_written(
    tmp_path: Path, small_disk: Path, docker_client: Any, busybox_image: str
) -> None:
    client = docker_client
    project = dockerkit.unique_name("vpmfull")
    redis_image = f"redis:{project}"
    volume = f"{project}_cache-data"
    (tmp_path / "compose.yml").write_text(
        f"name: {project}\nservices:\n  cache:\n    image: {redis_image}\n"
        f"    volumes: [cache-data:/data]\nvolumes:\n  cache-data:\n"
    )
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "app.py").write_text("print('no cache here')\n")
    try:
        client.images.get(busybox_image).tag("redis", project)
        client.volumes.create(
            volume,
            labels={
                "com.docker.compose.project": project,
                "com.docker.compose.volume": "cache-data",
            },
        )
        # 2 MB that gzip cannot shrink below the 256 KB the backup folder has
        client.containers.run(
            busybox_image,
            ["sh", "-c", "head -c 2000000 /dev/urandom > /data/blob"],
            remove=True,
            volumes={volume: {"bind": "/data", "mode": "rw"}},
        )
        result = inv(
            tmp_path,
            "--file",
            "compose.yml",
            "--path",
            "code",
            "--apply",
            "--volumes",
            "--yes",
            INVOKE_CLEANUP_BACKUPS=str(small_disk),
        )
        assert result.returncode == 1, result.stdout + result.stderr
        assert_clean(result)
        assert "could not write the backup" in result.stderr
        assert "left in place" in result.stderr
        assert client.volumes.get(volume) is not None  # not removed
        assert list(small_disk.iterdir()) == []  # no half-written archive left behind
    finally:
        dockerkit.remove_project(client, project)
        try:
            client.api.remove_volume(volume, force=True)
        except Exception:
            pass
        try:
            client.api.remove_image(redis_image)
        except Exception:
            pass
