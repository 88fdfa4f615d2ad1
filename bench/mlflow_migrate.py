"""Benchmark 5: `inv mlflow.migrate` against `mlflow-export-import` (PyPI), both copying
the same seeded source server to a fresh, empty target, in two setups:

- `project`: the team's own (the issue's e2e kit). The source is the local stack's kind
  of MLflow: a SQLite store and `s3://` artifacts on its own S3 server; the target is
  Railway's kind: a PostgreSQL store and `s3://` artifacts in another S3 server. Both
  tracking servers run MLflow's default worker count, as the team's compose file and
  deploy/mlflow/Dockerfile start them. The stacks are compose files this module writes,
  brought up with our engine core; our side is `inv mlflow.migrate --file SOURCE.yml
  --target URL --railway-file ...` as a user runs it, the reference gets each side's S3
  endpoint and keys in its environment. The seed has a 50 MB artifact, as the issue's.
- `served`: both tracking servers single-worker with SQLite stores and served artifacts
  (`mlflow-artifacts:/`, the MLflow 2 and 3 default), so every byte of both tools passes
  through the tracking servers, which do nearly all the work; a 5 MB artifact.

Every server comes from the e2e image (devkit/e2e_image.py builds it when missing).
Requests are counted from the servers' own access logs (tracking servers and S3 servers,
source and target; healthchecks left out), so the count is the same whichever client
sends them. The source holds 21 runs (devkit/mlflow_seed.py: nested runs, metric
histories, params, dataset inputs, artifact trees, one large file, registered models
with versions, stages and aliases).

mlflow-export-import is installed at bench time into its own venv (never a project
dependency): `mlflow-export-import` without its dependencies plus `mlflow-skinny` (the
same version as ours), `boto3` and `shortuuid`, which is all its export and import code
imports. Its copy is `export-all --use-threads True` (its faster export) from the source
to a folder, then `import-all` into the target.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import BenchmarkError, Report, Row, clean_env, inv_command, median, run_timed
from devkit import dockerkit
from devkit.railway_target import railway_file

REFERENCE = "mlflow-export-import"
REFERENCE_VERSION = "1.2.0"
VENV = (
    Path(os.environ.get("VPM_BENCH_DIR", "/var/tmp")) / f"vpbench-export-import-{REFERENCE_VERSION}"
)
ACCESS_LOG = re.compile(r'"[A-Z]+ /(?!health\b)\S* HTTP/1\.[01]" \d{3}')
SERVER = ("mlflow", "server", "--host", "0.0.0.0", "--port", "5000", "--workers", "1")
S3_KEYS = {
    "source": ("bench-src-key", "bench-src-secret"),
    "target": ("bench-tgt-key", "bench-tgt-secret"),
}


@dataclass
class Measured:
    seconds: float
    requests: int
    returncode: int
    note: str = ""


@dataclass(frozen=True)
class _Side:
    """One side of a copy: its tracking server and, with `s3://` roots, its S3 server."""

    tracking: str  # URL from this machine
    logs: list[Any]  # the containers whose access logs count its requests
    s3: str | None = None  # the S3 endpoint from this machine
    keys: tuple[str, str] = ("", "")  # S3 access key id and secret
    project: str = ""  # its compose project, when it is a stack

    def client_env(self) -> dict[str, str]:
        """What an MLflow client needs to reach this side (tracking server and store)."""
        env = {"MLFLOW_TRACKING_URI": self.tracking}
        if self.s3:
            env |= {
                "MLFLOW_S3_ENDPOINT_URL": self.s3,
                "AWS_ACCESS_KEY_ID": self.keys[0],
                "AWS_SECRET_ACCESS_KEY": self.keys[1],
                "AWS_DEFAULT_REGION": "us-east-1",
            }
        return env


@dataclass
class _Setup:
    """How one setup starts its servers and runs our command."""

    label: str
    sizes: Any  # devkit.mlflow_seed.Sizes
    source: Callable[[], _Side]
    target: Callable[[], _Side]
    ours: Callable[[_Side, _Side], tuple[list[str], dict[str, str]]]  # argv and environment
    release: Callable[[_Side], None]  # removes a target (idle servers still use the CPU)


def run(count: int, report: Report, *, quick: bool = False) -> None:
    from devkit import e2e_image
    from devkit.mlflow_seed import Sizes

    client = dockerkit.docker_client()
    image, _ = e2e_image.ensure_image(client, log=lambda m: print(m, file=sys.stderr))
    python = _reference_venv()
    _compile_project()
    shape = dict(sweep_children=15, extra_runs=3, points=500, keys=3, tree_files=6)
    if quick:  # the smoke run: the same shape, smaller
        shape = dict(sweep_children=3, extra_runs=1, points=100, keys=2, tree_files=2)
    if quick:
        # The smoke run: single-worker servers (MLflow's default four are slow to start
        # on a small machine that runs the test suite at the same time); the e2e test
        # tests/e2e/test_mlflow_migrate.py runs the team's setup.
        with _served_setup(client, image, Sizes(**shape, big_file_mb=1)) as setup:
            _measure(setup, python, count, report, rerun=True)
        return
    big = Sizes(**shape, big_file_mb=50)
    with (
        tempfile.TemporaryDirectory(prefix="vpbench-mlflow-") as work,
        _project_setup(client, image, Path(work), big) as setup,
    ):
        _measure(setup, python, count, report, rerun=True)
    with _served_setup(client, image, Sizes(**shape, big_file_mb=5)) as setup:
        _measure(setup, python, count, report, rerun=False)


def _compile_project() -> None:
    """Both tools start from compiled bytecode. pip compiled the reference when it
    installed it; our package is an editable install, whose modules Python compiles on
    first import and caches, except where PYTHONDONTWRITEBYTECODE is set (as on CI
    machines), where every run would compile them again."""
    from bench.common import REPO_ROOT

    folders = [str(REPO_ROOT / name) for name in ("vpmigrate", "tasks")]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *folders], check=True)


def _measure(setup: _Setup, python: Path, count: int, report: Report, *, rerun: bool) -> None:
    from devkit.mlflow_seed import seed

    source = setup.source()
    print(f"bench: seeding the source ({setup.label}) ...", file=sys.stderr, flush=True)
    seed_env = source.client_env()
    store = {k: v for k, v in seed_env.items() if k != "MLFLOW_TRACKING_URI"}
    seeded = seed(source.tracking, store or None, setup.sizes)
    ours: list[Measured] = []
    theirs: list[Measured] = []
    for i in range(count):
        target_ours, target_theirs = setup.target(), setup.target()
        # Each tool starts on idle servers (a fresh MLflow's workers take a while to
        # settle), and they take turns going first.
        for first in (True, False) if i % 2 == 0 else (False, True):
            _settle()
            if first:
                ours.append(_ours(setup, source, target_ours))
            else:
                theirs.append(_theirs(python, source, target_theirs))
        setup.release(target_theirs)
        if i + 1 < count:  # the last one serves the re-run
            setup.release(target_ours)
        print(
            f"bench: mlflow ({setup.label}) {i + 1}/{count}: ours {ours[-1].seconds:.1f} s "
            f"{ours[-1].requests} requests; {REFERENCE} {theirs[-1].seconds:.1f} s "
            f"{theirs[-1].requests} requests",
            file=sys.stderr,
            flush=True,
        )
    size = seeded.bytes / 1e6
    label = (
        f"mlflow migrate ({setup.label}), {len(seeded.runs)} runs, {seeded.points} points, "
        f"{seeded.files} files ({size:.0f} MB)"
    )
    failures = [m.note for m in theirs if m.note]
    note = f"{REFERENCE} {REFERENCE_VERSION}: {failures[0]}" if failures else ""
    ours_s, theirs_s = median([m.seconds for m in ours]), median([m.seconds for m in theirs])
    report.rows.append(
        Row(f"{label}: wall time", ours_s, REFERENCE, theirs_s, "s", "<= 0.2x",
            ours_s * 5 <= theirs_s, note)
    )  # fmt: skip
    ours_r, theirs_r = median([m.requests for m in ours]), median([m.requests for m in theirs])
    report.rows.append(
        Row(f"{label}: HTTP requests", ours_r, REFERENCE, theirs_r, "requests", "fewer",
            ours_r < theirs_r,
            "counted in the tracking and S3 servers' access logs; ours includes its verification")
    )  # fmt: skip
    if rerun:
        again = _ours(setup, source, target_ours)  # the last target: already in sync
        report.rows.append(
            Row(f"mlflow migrate ({setup.label}) re-run, nothing to do", again.seconds,
                REFERENCE, theirs_s, "s", "-", None,
                f"{again.requests} requests, reads only (the reference copies everything again)")
        )  # fmt: skip


@contextmanager
def _served_setup(client: Any, image: str, sizes: Any) -> Iterator[_Setup]:
    network = dockerkit.unique_name("vpbench-mlflow")
    client.networks.create(network, labels={"vpm.bench": network})
    started: list[Any] = []

    def start() -> _Side:
        name = dockerkit.unique_name(network)
        command = [*SERVER, "--backend-store-uri", "sqlite:////tmp/mlflow.db",
                   "--artifacts-destination", "/tmp/artifacts"]  # fmt: skip
        container = client.containers.run(
            image, command, name=name, network=network, detach=True,
            environment={"MLFLOW_DISABLE_TELEMETRY": "true"},
            ports={"5000/tcp": ("127.0.0.1", None)}, labels={"vpm.bench": network},
        )  # fmt: skip
        started.append(container)
        info = client.api.inspect_container(container.id)
        url = f"http://127.0.0.1:{info['NetworkSettings']['Ports']['5000/tcp'][0]['HostPort']}"
        _wait(url, container)
        return _Side(url, [container])

    def ours(source: _Side, target: _Side) -> tuple[list[str], dict[str, str]]:
        argv = [*inv_command(), "mlflow.migrate", "--source", source.tracking,
                "--target", target.tracking]  # fmt: skip
        return argv, clean_env(MLFLOW_TRACKING_USERNAME="", MLFLOW_TARGET_URI="")

    def release(side: _Side) -> None:
        for container in side.logs:
            container.remove(force=True)
            started.remove(container)

    try:
        yield _Setup("served artifacts, SQLite, 1 worker", sizes, start, start, ours, release)
    finally:
        for container in started:
            container.remove(force=True)
        client.networks.get(network).remove()


def _project_setup(client: Any, image: str, work: Path, sizes: Any) -> Any:
    return _ProjectStacks(client, image, work).setup(sizes)


class _ProjectStacks:
    """Compose stacks like the team's: the source as the local stack, targets as Railway."""

    def __init__(self, client: Any, image: str, work: Path) -> None:
        self.client = client
        self.image = image
        self.work = work
        self.projects: list[tuple[str, Path]] = []
        self.source_project = ""
        self.source_file = work / "source.yml"
        self.railway_file = work / "railway.yml"

    @contextmanager
    def setup(self, sizes: Any) -> Iterator[_Setup]:
        self.railway_file.write_text(railway_file("target-bucket"))
        try:
            label = "S3 artifacts, PostgreSQL target"
            yield _Setup(label, sizes, self.source, self.target, self.ours, self.release)
        finally:
            for project, compose_file in reversed(self.projects):
                self._down(project, compose_file)

    def source(self) -> _Side:
        self.source_project = dockerkit.unique_name("vpbench-src")
        key, secret = S3_KEYS["source"]
        store = "sqlite:////mlflow/mlflow.db"
        document = _stack_document(self.image, "source", "minio", store, key, secret)
        return self._up(self.source_project, self.source_file, document, "minio", (key, secret))

    def target(self) -> _Side:
        project = dockerkit.unique_name("vpbench-tgt")
        key, secret = S3_KEYS["target"]
        store = "postgresql://mlflow:bench-pg-pass@postgres:5432/mlflow"
        document = _stack_document(self.image, "target", "s3", store, key, secret)
        return self._up(project, self.work / f"{project}.yml", document, "s3", S3_KEYS["target"])

    def ours(self, source: _Side, target: _Side) -> tuple[list[str], dict[str, str]]:
        argv = [*inv_command(), "mlflow.migrate", "--file", str(self.source_file),
                "--project-name", self.source_project, "--target", target.tracking,
                "--railway-file", str(self.railway_file)]  # fmt: skip
        env = clean_env(MLFLOW_TRACKING_USERNAME="", MLFLOW_TARGET_URI="",
                        TARGET_S3_ENDPOINT=target.s3 or "", TARGET_S3_KEY=target.keys[0],
                        TARGET_S3_SECRET=target.keys[1])  # fmt: skip
        return argv, env

    def release(self, side: _Side) -> None:
        for project, compose_file in list(self.projects):
            if project == side.project:
                self.projects.remove((project, compose_file))
                self._down(project, compose_file)

    def _up(
        self, project: str, compose_file: Path, document: dict[str, Any], s3: str,
        keys: tuple[str, str],
    ) -> _Side:  # fmt: skip
        import yaml

        from vpmigrate.compose.loader import load_project
        from vpmigrate.compose.profiles import active_profiles, select_services
        from vpmigrate.engine.client import connect
        from vpmigrate.engine.up import up

        compose_file.write_text(yaml.safe_dump(document, sort_keys=False))
        self.projects.append((project, compose_file))
        loaded = load_project([compose_file], project_name=project)
        services = select_services(loaded, active_profiles([], loaded))
        up(connect(), loaded, services, allow_pull=False, timeout_s=900)
        tracking = self._container(project, "mlflow")
        url = self._url(project, "mlflow", 5000)
        _wait(url, tracking)  # no healthcheck: a python3 started every few seconds costs CPU
        return _Side(url, [tracking, self._container(project, s3)], self._url(project, s3, 9000),
                     keys, project)  # fmt: skip

    def _down(self, project: str, compose_file: Path) -> None:
        try:
            from vpmigrate.compose.loader import load_project
            from vpmigrate.engine.client import connect
            from vpmigrate.engine.down import down, plan_down

            loaded = load_project([compose_file], project_name=project)
            engine = connect()
            down(engine, loaded, plan_down(engine, loaded, None, remove_volumes=True))
        finally:
            dockerkit.remove_project(self.client, project)

    def _container(self, project: str, service: str) -> Any:
        labels = [f"com.docker.compose.project={project}", f"com.docker.compose.service={service}"]
        (container,) = self.client.containers.list(filters={"label": labels})
        return container

    def _url(self, project: str, service: str, port: int) -> str:
        container = self._container(project, service)
        host_port = container.attrs["NetworkSettings"]["Ports"][f"{port}/tcp"][0]["HostPort"]
        return f"http://127.0.0.1:{host_port}"


def _stack_document(
    image: str, role: str, s3: str, store: str, key: str, secret: str
) -> dict[str, Any]:
    """One side as a compose file: an S3 server and its bucket job, MLflow (MLflow's
    default worker count) on `store`, and for a PostgreSQL store the database."""
    bucket = f"{role}-bucket"
    base = {"image": image, "pull_policy": "never"}
    keys = {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret}
    local_port = {"host_ip": "127.0.0.1"}
    services: dict[str, Any] = {
        s3: {
            **base,
            "command": ["kit-s3-server", "9000"],
            "ports": [{"target": 9000, **local_port}],
            "healthcheck": {"test": ["CMD-SHELL", "test -f /tmp/kit-s3-ready"], "interval": "2s",
                            "timeout": "5s", "retries": 120},
        },
        f"{s3}-init": {
            **base,
            "command": ["kit-make-bucket"],
            "restart": "no",
            "depends_on": {s3: {"condition": "service_healthy"}},
            "environment": {"S3_ENDPOINT_URL": f"http://{s3}:9000", "BUCKET": bucket, **keys},
        },
    }  # fmt: skip
    depends: dict[str, Any] = {f"{s3}-init": {"condition": "service_completed_successfully"}}
    volumes: dict[str, Any] = {}
    mlflow_volumes: list[str] = []
    if store.startswith("postgresql"):
        services["postgres"] = {
            **base, "command": ["kit-postgres"], "stop_signal": "SIGINT",
            "environment": {"POSTGRES_DB": "mlflow", "POSTGRES_USER": "mlflow",
                            "POSTGRES_PASSWORD": "bench-pg-pass"},
            "healthcheck": {"test": ["CMD-SHELL", "pg_isready -h 127.0.0.1 -U mlflow -d mlflow"],
                            "interval": "2s", "timeout": "5s", "retries": 120},
        }  # fmt: skip
        depends["postgres"] = {"condition": "service_healthy"}
    else:
        volumes["mlflow-data"] = {}
        mlflow_volumes = ["mlflow-data:/mlflow"]
    services["mlflow"] = {
        **base,
        "command": ["mlflow", "server", "--host", "0.0.0.0", "--port", "5000",
                    "--backend-store-uri", store,
                    "--default-artifact-root", f"s3://{bucket}/mlflow-artifacts"],
        "depends_on": depends,
        "environment": {"MLFLOW_S3_ENDPOINT_URL": f"http://{s3}:9000",
                        "MLFLOW_DISABLE_TELEMETRY": "true", **keys},
        "volumes": mlflow_volumes,
        "ports": [{"target": 5000, **local_port}],
    }  # fmt: skip
    return {"services": services, "volumes": volumes}


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


def _settle(limit: float = 0.6, timeout: float = 180.0) -> None:
    """Wait until the bench's containers together use less than `limit` of a core (each
    idle MLflow, PostgreSQL or S3 server still uses a little), or `timeout` passes."""
    from concurrent.futures import ThreadPoolExecutor

    client = dockerkit.docker_client()
    containers = client.containers.list(filters={"name": "vpbench-"})

    def cores(container: Any) -> float:
        stats = container.stats(stream=False)  # two samples a second apart
        used = stats["cpu_stats"]["cpu_usage"]["total_usage"]
        used -= stats["precpu_stats"]["cpu_usage"]["total_usage"]
        elapsed = stats["read"], stats["preread"]
        seconds = _instant(elapsed[0]) - _instant(elapsed[1])
        if not 0 < seconds < 10:  # no earlier sample: the engine's own interval is 1 s
            seconds = 1.0
        return float(used) / 1e9 / seconds

    deadline = time.monotonic() + timeout
    with ThreadPoolExecutor(max_workers=max(1, len(containers))) as pool:
        while time.monotonic() < deadline:
            if sum(pool.map(cores, containers)) < limit:
                return
    print(f"bench: the servers stayed busy for {timeout:.0f} s; measuring anyway",
          file=sys.stderr)  # fmt: skip


def _instant(stamp: str) -> float:
    """Seconds from the engine's RFC 3339 time stamp (nanoseconds cut to microseconds)."""
    head, _, fraction = stamp.rstrip("Z").partition(".")
    moment = datetime.fromisoformat(head).replace(tzinfo=UTC).timestamp()
    return moment + float(f"0.{fraction[:6] or '0'}")


def _requests(sides: list[_Side], since: datetime) -> int:
    total = 0
    for side in sides:
        for container in side.logs:
            text = container.logs(since=since, stdout=True, stderr=True).decode(errors="replace")
            total += len(ACCESS_LOG.findall(text))
    return total


def _ours(setup: _Setup, source: _Side, target: _Side) -> Measured:
    since = datetime.now(UTC)
    time.sleep(1.1)  # the engine's `since` has one-second resolution
    argv, env = setup.ours(source, target)
    done = run_timed(argv, env=env, timeout=1800)
    done.check("inv mlflow.migrate")
    time.sleep(1.1)
    return Measured(done.seconds, _requests([source, target], since), done.returncode)


def _theirs(python: Path, source: _Side, target: _Side) -> Measured:
    bin_dir = python.parent
    since = datetime.now(UTC)
    time.sleep(1.1)
    with tempfile.TemporaryDirectory(prefix="vpbench-export-") as folder:
        base = clean_env(MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true")
        export = run_timed(
            # Its fastest export: threads (import-all has no such option).
            [str(bin_dir / "export-all"), "--output-dir", folder, "--use-threads", "True"],
            env={**base, **source.client_env()},
            timeout=1800,
        )
        export.check(f"{REFERENCE} export-all")
        imported = run_timed(
            [str(bin_dir / "import-all"), "--input-dir", folder],
            env={**base, **target.client_env()},
            timeout=1800,
        )
    time.sleep(1.1)
    note = ""
    output = imported.stdout + imported.stderr
    # An exception's own line ("...Exception: message") says it best; else any error line.
    failed = re.findall(r"(?m)^[\w.]*(?:Error|Exception): (.+)$", output)
    failed = failed or re.findall(r"(?m)^.*(?:Error|error|Exception)[^\n]*$", output)
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
        [
            *pip,
            f"mlflow-skinny=={version('mlflow-skinny')}",
            "boto3",
            "shortuuid",
            "pandas",
            "tabulate",
        ],  # fmt: skip
        [*pip, "--no-deps", f"mlflow-export-import=={REFERENCE_VERSION}"],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            shutil.rmtree(VENV, ignore_errors=True)
            raise BenchmarkError(f"installing {REFERENCE} failed:\n{done.stderr[-2000:]}")
    return python
