"""One migration pass: connect, plan, copy, verify; the entry point of `inv mlflow.migrate`.

Secrets (tracking credentials, S3 keys) are masked in every message that leaves here.
Ctrl-C stops the workers between requests; what was written stays, and the next pass
finishes the rest.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from vpmigrate.errors import UserError
from vpmigrate.masking import mask_text
from vpmigrate.migrate.artifacts import ArtifactFile, S3Config, S3Service
from vpmigrate.migrate.execute import Copier, NoProgress, Outcome, Progress
from vpmigrate.migrate.plan import Plan, RunPlan, make_plan
from vpmigrate.migrate.records import Run
from vpmigrate.migrate.rest import (
    ApiError,
    RequestCounter,
    RestClient,
    Stopped,
    TrackingServer,
    check_versions,
)
from vpmigrate.migrate.side import Side
from vpmigrate.migrate.verify import Verification, verify_models, verify_runs


@dataclass(frozen=True)
class Endpoint:
    """One side: its tracking server and, when known, its S3 service's endpoint and keys."""

    server: TrackingServer
    s3: S3Config | None = None
    s3_unknown: str | None = None  # why the S3 keys are unknown (when s3 is None)

    def secrets(self) -> list[str]:
        """The values no message may show: tracking password or token, S3 keys."""
        values = self.server.secrets()
        if self.s3 is not None:
            values += [self.s3.access_key_id, self.s3.secret_access_key]
        return [value for value in values if value]


@dataclass(frozen=True)
class Options:
    experiments: tuple[str, ...] = ()
    include_deleted: bool = False
    dry_run: bool = False
    workers: int = 4
    verify: bool = True
    models: bool = True
    deadline: float = 120.0  # seconds for one JSON answer of a tracking server


@dataclass
class Report:
    source_version: str
    target_version: str
    plan: Plan
    outcome: Outcome | None = None
    verification: Verification | None = None
    requests: dict[str, int] = field(default_factory=dict)
    writes: dict[str, int] = field(default_factory=dict)  # of `requests`, those that wrote
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.verification is None or self.verification.ok


def migrate(
    source: Endpoint,
    target: Endpoint,
    options: Options,
    progress: Progress | None = None,
    counter: RequestCounter | None = None,
) -> Report:
    """Run one pass. Raises UserError (secrets masked) for what the user must fix."""
    secrets = [*source.secrets(), *target.secrets()]
    try:
        return _migrate(
            source, target, options, progress or NoProgress(), counter or RequestCounter()
        )
    except UserError as exc:
        # The project's one masker: these values, and any URL's password, become `***`.
        raise type(exc)(mask_text(exc.message, secrets), exit_code=exc.exit_code) from None


def _migrate(
    source_end: Endpoint,
    target_end: Endpoint,
    options: Options,
    progress: Progress,
    counter: RequestCounter,
) -> Report:
    if options.workers < 1:
        raise UserError("--workers must be at least 1.")
    started = time.perf_counter()
    stop = threading.Event()
    # Per server: a request per run being copied and per run's data being written, per
    # file in flight, per history read.
    connections = options.workers * 3 + 4
    source_rest, target_rest = (
        RestClient(
            end.server, counter, connections=connections, stop=stop, deadline=options.deadline
        )
        for end in (source_end, target_end)
    )
    pool = ThreadPoolExecutor(max_workers=options.workers, thread_name_prefix="migrate")
    files = ThreadPoolExecutor(max_workers=options.workers, thread_name_prefix="migrate-files")
    steps = ThreadPoolExecutor(max_workers=options.workers, thread_name_prefix="migrate-data")
    verifier = ThreadPoolExecutor(max_workers=1, thread_name_prefix="migrate-verify")
    planner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="migrate-plan-models")
    stores: list[S3Service] = []
    try:
        progress.phase("connecting")
        source_version, target_version = check_versions(source_rest, target_rest)
        source_s3, target_s3 = (
            _s3(end, counter, connections, stop) for end in (source_end, target_end)
        )
        stores.extend(s for s in (source_s3, target_s3) if s is not None)
        source = Side(source_rest, source_s3, source_version)
        target = Side(target_rest, target_s3, target_version)
        target.locator.s3_unknown = target_end.s3_unknown

        def list_plan_files(run_plan: RunPlan) -> list[ArtifactFile]:
            return list_run_files(source, run_plan.source)

        progress.phase("planning")
        plan = make_plan(
            source,
            target,
            names=options.experiments,
            include_deleted=options.include_deleted,
            models=options.models,
            pool=pool,
            list_files=list_plan_files,
            # a pass that copies starts while the files and models are still being read
            background=None if options.dry_run else planner,
        )
        report = Report(source_version, target_version, plan)
        if not options.dry_run:
            copier = Copier(source, target, pool, progress, stop, files, steps)
            outcome = report.outcome = copier.copy_runs(plan)
            checking: Future[Verification] | None = None
            if options.verify:  # the runs are checked while the models' copy ends
                checking = verifier.submit(
                    verify_runs,
                    source,
                    target,
                    plan,
                    outcome,
                    pool,
                    lambda run: list_run_files(source, run),
                )
            copier.finish(plan)
            plan.settle()
            if checking is not None:
                progress.phase("verifying")
                models = Verification([], [])
                verify_models(target, plan, outcome, models)  # while the runs are checked
                verification = report.verification = checking.result()
                verification.differences += models.differences
                verification.models, verification.versions = models.models, models.versions
        report.requests = dict(counter.counts)
        report.writes = dict(counter.writes)
        report.seconds = time.perf_counter() - started
        return report
    except ApiError as exc:
        raise exc.as_user_error() from None
    except (KeyboardInterrupt, Stopped):
        stop.set()
        raise UserError(
            "interrupted: what was copied is kept (each run's copy is marked complete only at "
            "its end); re-run the same command to finish the rest.",
            exit_code=130,
        ) from None
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        files.shutdown(wait=True, cancel_futures=True)
        steps.shutdown(wait=True, cancel_futures=True)
        verifier.shutdown(wait=True, cancel_futures=True)
        planner.shutdown(wait=True, cancel_futures=True)
        source_rest.close()
        target_rest.close()
        for store in stores:
            store.close()


def list_run_files(side: Side, run: Run) -> list[ArtifactFile]:
    if not run.artifact_uri:
        return []
    return side.locator.for_run(run.artifact_uri, run.run_id).list()


def _s3(
    end: Endpoint, counter: RequestCounter, connections: int, stop: threading.Event
) -> S3Service | None:
    if end.s3 is None:
        return None
    return S3Service(end.s3, counter, connections, stop)
