"""Benchmark 5: `inv mlflow.migrate` against `mlflow-export-import` (PyPI), both copying
the same seeded source server to a fresh, empty target.

Servers: MLflow tracking servers from the e2e image (devkit/e2e_image.py builds it when
missing), SQLite stores, served artifacts (`mlflow-artifacts:/`, the MLflow 2 and 3
default), so every byte of both tools passes through the tracking servers. Requests are
counted from the servers' own access logs (source and target), so the count is the same
whichever client sends them. The source holds 21 runs (devkit/mlflow_seed.py: nested
runs, metric histories, params, dataset inputs, artifact trees, a 5 MB file, registered
models with versions, stages and aliases).

mlflow-export-import is installed at bench time into its own venv (never a project
dependency): `mlflow-export-import` without its dependencies plus `mlflow-skinny` (the
same version as ours) and `shortuuid`, which is all its export and import code imports.
Its copy is `export-all` from the source to a folder, then `import-all` into the target.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import BenchmarkError, Report, Row, clean_env, inv_command, median, run_timed
from devkit import dockerkit

REFERENCE = "mlflow-export-import"
REFERENCE_VERSION = "1.2.0"
VENV = (
    Path(os.environ.get("VPM_BENCH_DIR", "/var/tmp")) / f"vpbench-export-import-{REFERENCE_VERSION}"
)
ACCESS_LOG = re.compile(r'"[A-Z]+ /\S* HTTP/1\.[01]" \d{3}')
SERVER = ("mlflow", "server", "--host", "0.0.0.0", "--port", "5000", "--workers", "1")


@dataclass
class Measured:
    seconds: float
    requests: int
    returncode: int
    note: str = ""


def run(count: int, report: Report, *, quick: bool = False) -> None:
    import docker

    from devkit import e2e_image
    from devkit.mlflow_seed import Sizes, seed

    client = docker.from_env(timeout=600)
    image, _ = e2e_image.ensure_image(client, log=lambda m: print(m, file=sys.stderr))
    python = _reference_venv()
    sizes = Sizes(sweep_children=15, extra_runs=3, points=500, keys=3, tree_files=6, big_file_mb=5)
    if quick:  # the smoke run: the same shape, smaller
        sizes = Sizes(
            sweep_children=3, extra_runs=1, points=100, keys=2, tree_files=2, big_file_mb=1
        )
    with _servers(client, image) as start:
        (source,) = start(1)
        print("bench: seeding the source ...", file=sys.stderr, flush=True)
        seeded = seed(source.url, None, sizes)
        ours: list[Measured] = []
        theirs: list[Measured] = []
        for i in range(count):
            target_ours, target_theirs = start(2)
            ours.append(_ours(source, target_ours))
            theirs.append(_theirs(python, source, target_theirs))
            print(
                f"bench: mlflow {i + 1}/{count}: ours {ours[-1].seconds:.1f} s "
                f"{ours[-1].requests} requests; {REFERENCE} {theirs[-1].seconds:.1f} s "
                f"{theirs[-1].requests} requests",
                file=sys.stderr,
                flush=True,
            )
        rerun = _ours(source, target_ours)  # the last target: already in sync
    label = f"mlflow migrate, {len(seeded.runs)} runs, {seeded.points} points, {seeded.files} files"
    failures = [m.note for m in theirs if m.note]
    note = f"{REFERENCE} {REFERENCE_VERSION}: {failures[0]}" if failures else ""
    ours_s, theirs_s = median([m.seconds for m in ours]), median([m.seconds for m in theirs])
    report.rows.append(
        Row(
            f"{label}: wall time",
            ours_s,
            REFERENCE,
            theirs_s,
            "s",
            "<= 0.2x",
            ours_s * 5 <= theirs_s,
            note,
        )
    )
    ours_r, theirs_r = median([m.requests for m in ours]), median([m.requests for m in theirs])
    report.rows.append(
        Row(
            f"{label}: HTTP requests",
            ours_r,
            REFERENCE,
            theirs_r,
            "requests",
            "fewer",
            ours_r < theirs_r,
            "counted in both servers' access logs; ours includes its verification",
        )  # fmt: skip
    )
    report.rows.append(
        Row(
            "mlflow migrate re-run, nothing to do",
            rerun.seconds,
            REFERENCE,
            theirs_s,
            "s",
            "-",
            None,
            f"{rerun.requests} requests, reads only (the reference copies again)",
        )  # fmt: skip
    )


@dataclass(frozen=True)
class _Server:
    name: str
    url: str
    container: Any


@contextmanager
def _servers(client: Any, image: str) -> Iterator[Any]:
    network = dockerkit.unique_name("vpbench-mlflow")
    client.networks.create(network, labels={"vpm.bench": network})
    started: list[Any] = []

    def start(n: int) -> list[_Server]:
        made = []
        for _ in range(n):
            name = dockerkit.unique_name(network)
            command = [*SERVER, "--backend-store-uri", "sqlite:////tmp/mlflow.db",
                       "--artifacts-destination", "/tmp/artifacts"]  # fmt: skip
            container = client.containers.run(
                image, command, name=name, network=network, detach=True,
                environment={"MLFLOW_DISABLE_TELEMETRY": "true"},
                ports={"5000/tcp": ("127.0.0.1", None)}, labels={"vpm.bench": network},
            )  # fmt: skip
            started.append(container)
            made.append(container)
        servers = []
        for container in made:
            info = client.api.inspect_container(container.id)
            port = info["NetworkSettings"]["Ports"]["5000/tcp"][0]["HostPort"]
            url = f"http://127.0.0.1:{port}"
            _wait(url, container)
            servers.append(_Server(container.name, url, container))
        return servers

    try:
        yield start
    finally:
        for container in started:
            container.remove(force=True)
        client.networks.get(network).remove()


def _wait(url: str, container: Any, timeout: float = 900) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=3).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        container.reload()
        if container.status == "exited":
            raise BenchmarkError(f"{container.name} exited: {container.logs(tail=20).decode()}")
        time.sleep(0.5)
    raise BenchmarkError(f"{container.name} did not start within {timeout:.0f} s")


def _requests(servers: list[_Server], since: datetime) -> int:
    total = 0
    for server in servers:
        text = server.container.logs(since=since, stdout=True, stderr=True).decode(errors="replace")
        total += len(ACCESS_LOG.findall(text))
    return total


def _ours(source: _Server, target: _Server) -> Measured:
    since = datetime.now(UTC)
    time.sleep(1.1)  # the engine's `since` has one-second resolution
    env = clean_env(MLFLOW_TRACKING_USERNAME="", MLFLOW_TARGET_URI="")
    done = run_timed(
        [*inv_command(), "mlflow.migrate", "--source", source.url, "--target", target.url],
        env=env,
        timeout=1800,
    )
    done.check("inv mlflow.migrate")
    time.sleep(1.1)
    return Measured(done.seconds, _requests([source, target], since), done.returncode)


def _theirs(python: Path, source: _Server, target: _Server) -> Measured:
    bin_dir = python.parent
    since = datetime.now(UTC)
    time.sleep(1.1)
    with tempfile.TemporaryDirectory(prefix="vpbench-export-") as folder:
        base = clean_env(MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true")
        export = run_timed(
            [str(bin_dir / "export-all"), "--output-dir", folder],
            env={**base, "MLFLOW_TRACKING_URI": source.url},
            timeout=1800,
        )
        export.check(f"{REFERENCE} export-all")
        imported = run_timed(
            [str(bin_dir / "import-all"), "--input-dir", folder],
            env={**base, "MLFLOW_TRACKING_URI": target.url},
            timeout=1800,
        )
    time.sleep(1.1)
    note = ""
    failed = re.findall(
        r"(?m)^.*(?:Error|error|Exception)[^\n]*$", imported.stdout + imported.stderr
    )
    if imported.returncode != 0 or failed:
        note = (failed[0] if failed else f"import-all exited {imported.returncode}").strip()[:160]
    return Measured(
        export.seconds + imported.seconds,
        _requests([source, target], since),
        imported.returncode,
        note,
    )


def _reference_venv() -> Path:
    """The reference's own venv (created once, reused by later runs)."""
    python = VENV / "bin" / "python"
    if (VENV / "bin" / "export-all").exists():
        return python
    from importlib.metadata import version

    shutil.rmtree(VENV, ignore_errors=True)
    print(f"bench: installing {REFERENCE} {REFERENCE_VERSION} into {VENV} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    steps = [
        [*pip, f"mlflow-skinny=={version('mlflow-skinny')}", "shortuuid", "pandas", "tabulate"],
        [*pip, "--no-deps", f"mlflow-export-import=={REFERENCE_VERSION}"],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            shutil.rmtree(VENV, ignore_errors=True)
            raise BenchmarkError(f"installing {REFERENCE} failed:\n{done.stderr[-2000:]}")
    return python
