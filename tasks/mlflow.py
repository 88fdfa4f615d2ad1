"""Tasks of the `mlflow` namespace: carry the experiment history from the local MLflow to
the one on Railway (docs/mlflow-migrate.md).

The core (vpmigrate.migrate) does the work; this module finds the defaults (the local
stack as `inv local.verify` sees it, env/railway.yml for the target), draws progress on
stderr and prints the plan, the summary and the verification on stdout.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from invoke import Context

from tasks._cli import info, namespace, out, render_table, repo_path, setting, task

if TYPE_CHECKING:
    from vpmigrate.migrate.migration import Endpoint, Report

DEFAULTS: dict[str, Any] = {
    "source": None,  # default: the local stack's MLflow
    "target": None,  # default: MLFLOW_TARGET_URI, else Railway's mlflow-service
    "workers": 4,
    # Seconds one answer of a tracking server may take, end to end (INVOKE_MLFLOW_TIMEOUT).
    "timeout": 120,
}


@task(
    iterable=["experiment", "profile", "file"],
    dry="dry_run",
    help={
        "source": "Source tracking server URL (default: the local stack's MLflow, found "
        "from the compose files and running containers as local.verify does).",
        "target": "Target tracking server URL (default: MLFLOW_TARGET_URI, else Railway's "
        "mlflow-service from env/railway.yml).",
        "experiment": "Only this experiment, by name (repeatable). Default: all.",
        "include_deleted": "Also copy deleted experiments and runs (kept deleted).",
        "dry_run": "Print what would be copied (runs and artifact bytes per experiment); "
        "write nothing.",
        "json": "Print the plan, the summary and the verification as JSON on stdout.",
        "workers": "Runs copied in parallel (default: mlflow.workers, 4).",
        "no_verify": "Skip the comparison of source and target at the end.",
        "no_models": "Leave the model registry out.",
        "file": "Compose file of the local stack (the default source; repeatable).",
        "railway_file": "Desired-state file describing the target's S3 (default: env/railway.yml).",
        "environment": "Railway environment (default: production).",
        "s3_provider": "aws, r2 or minio: overrides s3.provider in the Railway file.",
    },
)
def migrate(
    c: Context,
    source: str | None = None,
    target: str | None = None,
    experiment: list[str] | None = None,
    include_deleted: bool = False,
    dry_run: bool = False,
    json: bool = False,
    workers: int | None = None,
    no_verify: bool = False,
    no_models: bool = False,
    file: list[str] | None = None,
    project_name: str | None = None,
    profile: list[str] | None = None,
    env_file: str | None = None,
    railway_file: str | None = None,
    environment: str | None = None,
    s3_provider: str | None = None,
) -> None:
    """Copy experiments, runs, artifacts and registered models to another MLflow."""
    from vpmigrate.errors import UserError
    from vpmigrate.migrate.migration import Options
    from vpmigrate.migrate.migration import migrate as run_migration
    from vpmigrate.railway.settings import merged_environment

    env = merged_environment(repo_path(setting(c, "railway", "dotenv")))
    source_end = _source(
        c, setting(c, "mlflow", "source", source), env, file, project_name, profile, env_file
    )
    target_end = _target(
        c, setting(c, "mlflow", "target", target), env, railway_file, environment, s3_provider
    )
    info(f"source: {source_end.server.url}  target: {target_end.server.url}")
    if source_end.server.url == target_end.server.url:
        raise UserError(
            f"source and target are the same server ({source_end.server.url}): pass --target."
        )
    options = Options(
        experiments=tuple(experiment or []),
        include_deleted=include_deleted,
        dry_run=dry_run,
        workers=int(setting(c, "mlflow", "workers", workers)),
        verify=not no_verify,
        models=not no_models,
        deadline=float(setting(c, "mlflow", "timeout")),
    )
    progress = _Progress()
    try:
        report = run_migration(source_end, target_end, options, progress)
    finally:
        progress.close()
    if json:
        out(_json(report))
    else:
        _render(report, dry_run)
    verification = report.verification
    if verification is not None and not verification.ok:
        n = len(verification.differences)
        raise UserError(
            f"verification found {n} difference{'s' * (n != 1)} between source and target "
            "(listed above). The runs concerned are marked incomplete: re-run the same "
            "command to complete them."
        )


def _source(
    c: Context,
    url: str | None,
    env: dict[str, str],
    files: list[str] | None,
    project_name: str | None,
    profiles: list[str] | None,
    env_file: str | None,
) -> Endpoint:
    from vpmigrate.migrate.endpoints import source_endpoint

    if url:
        return source_endpoint(None, url, env, "")
    from tasks.local import running_stack

    stack = running_stack(c, profiles, files, project_name, env_file)
    return source_endpoint(stack.targets, None, env, stack.up_hint)


def _target(
    c: Context,
    url: str | None,
    env: dict[str, str],
    railway_file: str | None,
    environment: str | None,
    s3_provider: str | None,
) -> Endpoint:
    from vpmigrate.errors import UserError
    from vpmigrate.migrate.endpoints import TARGET_URL_VARIABLE, target_endpoint
    from vpmigrate.railway.desired import DesiredState, load_desired

    environment = setting(c, "railway", "environment", environment)
    path = repo_path(railway_file or setting(c, "railway", "file"))
    desired: DesiredState | None = None
    problem = None
    try:
        desired = load_desired(path, environment, env, s3_provider=s3_provider)
    except UserError as exc:
        problem = exc.message
    domain = None
    if not url and not env.get(TARGET_URL_VARIABLE) and desired is not None:
        domain = _public_domain(c, env, environment, desired.mlflow.service)
    return target_endpoint(desired, problem, url, domain, env)


def _public_domain(c: Context, env: dict[str, str], environment: str, service: str) -> str | None:
    """mlflow-service's public domain on Railway, when it has one and a token is set."""
    from tasks.railway import retry_policy
    from vpmigrate.errors import UserError
    from vpmigrate.railway.api import GraphQLRailway
    from vpmigrate.railway.settings import connection_from
    from vpmigrate.railway.target import resolve_target
    from vpmigrate.railway.transport import GraphQLTransport

    try:
        connection = connection_from(env)
    except UserError:
        info("no Railway token: the target is mlflow-service's private address (see below)")
        return None
    try:
        with GraphQLTransport(connection, retry_policy(c)) as transport:
            backend = GraphQLRailway(transport)
            found = resolve_target(backend, connection, environment)
            if service not in found.services:
                raise UserError(
                    f"Railway environment {environment!r} has no service {service!r}: create "
                    "it with `inv railway.provision`, then `inv railway.sync-env`, and re-run."
                )
            instance = backend.service_instance(found.environment_id, found.services[service])
    except UserError as exc:
        if "has no service" in exc.message:
            raise
        info(f"Railway lookup of {service}'s domain failed: {exc.message}")
        return None
    return instance.domains[0] if instance.domains else None


class _Progress:
    """Runs and bytes on one stderr line (redrawn on a terminal, else every 10 s)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.lock = threading.Lock()
        self.runs = self.total_runs = self.bytes = self.total_bytes = 0
        self.last = 0.0
        self.drawn = False
        self.started = time.monotonic()

    def phase(self, text: str) -> None:
        with self.lock:
            self._end_line()
            info(f"mlflow.migrate: {text} ... ({time.monotonic() - self.started:.1f} s)")

    def totals(self, runs: int, bytes_: int) -> None:
        with self.lock:
            self.total_runs, self.total_bytes = runs, bytes_

    def advance(self, runs: int = 0, bytes_: int = 0) -> None:
        with self.lock:
            self.runs += runs
            self.bytes += bytes_
            now = time.monotonic()
            interval = 0.2 if self.tty else 10.0
            # Without a terminal: a line per finished run, and every 10 s for bytes.
            if now - self.last >= interval or (runs and not self.tty):
                self.last = now
                self._draw()

    def _draw(self) -> None:
        text = (
            f"  runs {self.runs}/{self.total_runs} {_bar(self.runs, self.total_runs)}  "
            f"artifacts {_size(self.bytes)}/{_size(self.total_bytes)} "
            f"{_bar(self.bytes, self.total_bytes)}"
        )
        if self.tty:
            print(f"\r{text}\x1b[K", end="", file=sys.stderr, flush=True)
            self.drawn = True
        else:
            print(text, file=sys.stderr, flush=True)

    def _end_line(self) -> None:
        if self.drawn:
            print(file=sys.stderr, flush=True)
            self.drawn = False

    def close(self) -> None:
        with self.lock:
            self._end_line()


def _bar(done: int, total: int, width: int = 20) -> str:
    filled = width if total == 0 else min(width, width * done // total)
    return "[" + "#" * filled + "." * (width - filled) + "]"


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"  # pragma: no cover


def _render(report: Report, dry_run: bool) -> None:
    plan = report.plan
    rows = [
        [
            e.source.name + (" (deleted)" if e.source.lifecycle == "deleted" else ""),
            e.action,
            str(e.count("new")),
            str(e.count("resume")),
            str(e.count("done")),
            str(e.files),
            _size(e.bytes),
        ]
        for e in plan.experiments
    ]
    out(
        render_table(
            ["EXPERIMENT", "ACTION", "NEW RUNS", "TO COMPLETE", "COPIED", "FILES", "BYTES"], rows
        )
    )
    if plan.models:
        model_rows = [
            [
                m.source.name,
                m.action,
                str(sum(1 for v in m.versions if v.target is None)),
                str(len(m.versions)),
                ", ".join(f"{a}->v{v}" for a, v in sorted(m.source.aliases.items())) or "-",
            ]
            for m in plan.models
        ]
        out()
        out(render_table(["MODEL", "ACTION", "NEW VERSIONS", "VERSIONS", "ALIASES"], model_rows))
    for note in plan.notes:
        out(f"note: {note}")
    for e in plan.experiments:
        for source_id, copies in e.duplicates.items():
            out(
                f"warning: source run {source_id} has {len(copies)} copies in the target: "
                + ", ".join(copies)
            )
    if dry_run:
        info("dry run: nothing was written.")
        return
    outcome = report.outcome
    out()
    if plan.nothing_to_do:
        out("nothing to do: the target already has everything (source and target in sync).")
    elif outcome is not None:
        out(
            f"copied: {outcome.runs_created} new runs, {outcome.runs_completed} completed; "
            f"{outcome.params} params, {outcome.tags} tags, {outcome.points} metric points, "
            f"{outcome.inputs} dataset inputs, {outcome.files} artifact files "
            f"({_size(outcome.bytes)}); {outcome.experiments_created} experiments, "
            f"{outcome.models_created} models, {outcome.versions_created} versions, "
            f"{outcome.aliases_set} aliases"
        )
    total = sum(report.requests.values())
    detail = ", ".join(f"{k} {v}" for k, v in sorted(report.requests.items()))
    writes = sum(report.writes.values())
    out(f"{report.seconds:.1f} s, {total} HTTP requests ({detail}), {writes} of them writes")
    verification = report.verification
    if verification is None:
        return
    out()
    check_rows = []
    for check in verification.experiments:
        s, t = check.source, check.target

        def cell(a: int, b: int, fmt: Any = str) -> str:
            return fmt(a) if a == b else f"{fmt(b)} != {fmt(a)}"

        check_rows.append(
            [
                check.name,
                cell(s.runs, t.runs),
                cell(s.params, t.params),
                cell(s.points, t.points),
                cell(s.files, t.files),
                cell(s.bytes, t.bytes, _size),
                str(check.checksums),
                "ok" if check.same else "DIFFERENT",
            ]
        )
    out(
        render_table(
            [
                "EXPERIMENT",
                "RUNS",
                "PARAMS",
                "METRIC POINTS",
                "FILES",
                "BYTES",
                "MD5 MATCHED",
                "VERIFIED",
            ],
            check_rows,
        )
    )
    for difference in verification.differences:
        out(f"difference: {difference}")
    if verification.ok:
        out(
            f"verified: every run, param, metric point and artifact matches; "
            f"{verification.versions} model versions checked"
        )


def _json(report: Report) -> str:
    import json

    plan = report.plan
    data: dict[str, Any] = {
        "source_version": report.source_version,
        "target_version": report.target_version,
        "experiments": [
            {
                "name": e.source.name,
                "action": e.action,
                "runs_new": e.count("new"),
                "runs_to_complete": e.count("resume"),
                "runs_copied": e.count("done"),
                "files": e.files,
                "bytes": e.bytes,
            }
            for e in plan.experiments
        ],
        "models": [
            {
                "name": m.source.name,
                "action": m.action,
                "versions": len(m.versions),
                "versions_new": sum(1 for v in m.versions if v.target is None),
            }
            for m in plan.models
        ],
        "nothing_to_do": plan.nothing_to_do,
        "notes": plan.notes,
        "requests": report.requests,
        "writes": report.writes,
        "seconds": round(report.seconds, 3),
    }
    if report.outcome is not None:
        o = report.outcome
        data["copied"] = {
            name: getattr(o, name)
            for name in (
                "experiments_created", "runs_created", "runs_completed", "params", "tags",
                "points", "inputs", "files", "bytes", "models_created", "versions_created",
                "versions_updated", "aliases_set",
            )
        }  # fmt: skip
    if report.verification is not None:
        v = report.verification
        data["verification"] = {
            "ok": v.ok,
            "differences": v.differences,
            "experiments": [
                {
                    "name": c.name,
                    "source": vars(c.source),
                    "target": vars(c.target),
                    "md5_matched": c.checksums,
                }
                for c in v.experiments
            ],
        }
    return json.dumps(data, indent=2)


ns = namespace("mlflow", migrate, defaults=DEFAULTS)
