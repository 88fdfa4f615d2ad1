"""What every benchmark shares: timing a child process, medians, result rows, the
machine description and the Markdown table."""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
GNU_TIME = shutil.which("time", path="/usr/bin:/bin")  # GNU time, not the shell keyword


class BenchmarkError(Exception):
    """A tool failed or left something behind: the figures would mean nothing."""


@dataclass(frozen=True)
class Run:
    """One finished child process."""

    seconds: float
    max_rss_kb: int
    returncode: int
    stdout: str
    stderr: str

    def check(self, what: str) -> Run:
        if self.returncode != 0:
            tail = "\n".join((self.stderr or self.stdout).strip().splitlines()[-15:])
            raise BenchmarkError(f"{what} exited {self.returncode}:\n{tail}")
        return self


def run_timed(
    argv: Sequence[str],
    *,
    cwd: Path = REPO_ROOT,
    env: dict[str, str] | None = None,
    timeout: float = 600.0,
) -> Run:
    """Run `argv` to completion: wall time, and the peak resident memory of the child
    and its descendants. Output goes to temporary files so no pipe can fill up.

    The peak comes from GNU time when it is installed: a child forked from this
    (large) Python process would otherwise count our own pages until its exec."""
    with tempfile.TemporaryDirectory(prefix="vpbench-run-") as tmp:
        out_path, err_path, rss_path = (Path(tmp) / n for n in ("out", "err", "rss"))
        command = list(argv)
        if GNU_TIME is not None:
            command = [GNU_TIME, "-f", "%M", "-o", str(rss_path), *command]
        with out_path.open("wb") as out, err_path.open("wb") as err:
            started = time.perf_counter()
            process = subprocess.Popen(
                command, cwd=cwd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL
            )
            try:
                returncode = process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                returncode = process.wait()
            seconds = time.perf_counter() - started
        rss_kb = 0
        if GNU_TIME is not None and rss_path.exists():
            lines = rss_path.read_text().split()
            rss_kb = int(lines[-1]) if lines and lines[-1].isdigit() else 0
        return Run(
            seconds,
            rss_kb,
            returncode,
            out_path.read_text("utf-8", "replace"),
            err_path.read_text("utf-8", "replace"),
        )


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for child processes: no stray Compose or Invoke settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "INVOKE_"))}
    env.update(extra)
    return env


def inv_command() -> list[str]:
    """`inv` as users type it: the console script next to this interpreter when there
    is one, else `python -m invoke`."""
    script = Path(sys.executable).parent / "inv"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "invoke"]


@dataclass(frozen=True)
class Row:
    """One line of the results table: our figure, the reference's, and the target."""

    benchmark: str
    ours: float
    reference_name: str
    reference: float
    unit: str  # "s", "requests", "MB"
    target: str = ""
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return self.ours / self.reference if self.reference else None


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def format_value(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"
    if unit == "MB":
        return f"{value:.0f} MB"
    return f"{value:g} {unit}"


def table_cells(row: Row) -> list[str]:
    ratio = f"{row.ratio:.2f}x" if row.ratio is not None else "-"
    met = {True: "yes", False: "NO", None: "-"}[row.met]
    return [
        row.benchmark,
        format_value(row.ours, row.unit),
        row.reference_name,
        format_value(row.reference, row.unit),
        ratio,
        row.target or "-",
        met,
        row.note,
    ]


HEADERS = ["benchmark", "ours", "reference", "reference's", "ratio", "target", "met", "notes"]


def render_text(rows: Sequence[Row]) -> str:
    cells = [table_cells(r) for r in rows]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(HEADERS)]
    lines = ["  ".join(h.ljust(widths[i]) for i, h in enumerate(HEADERS)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in cells]
    return "\n".join(lines)


def render_markdown(rows: Sequence[Row]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for row in rows:
        cells = [c.replace("|", "\\|") for c in table_cells(row)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _first_line(argv: list[str]) -> str:
    if shutil.which(argv[0]) is None:
        return "not installed"
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (done.stdout or done.stderr).strip().splitlines()[0] if done.returncode == 0 else "?"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.0f} GB"
    except OSError:
        pass
    return "?"


def _revision() -> str:
    """The commit measured, marked when the code differs from it."""
    head = _first_line(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"])
    try:
        changed = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--", "vpmigrate", "tasks"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        changed = ""
    return f"{head} (with uncommitted changes)" if changed else head


def machine() -> dict[str, str]:
    """What the figures depend on, written next to them."""
    return {
        "code": _revision(),
        "cpu": f"{_cpu_model()}, {os.cpu_count()} cores",
        "memory": _memory_gb(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "docker": _first_line(["docker", "version", "--format", "{{.Server.Version}}"]),
        "compose": _first_line(["docker", "compose", "version"]),
        "ripgrep": _first_line(["rg", "--version"]),
        "grep": _first_line(["grep", "--version"]),
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
