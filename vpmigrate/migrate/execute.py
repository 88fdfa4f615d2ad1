"""Carry out a plan: experiments, then runs (parents before children, `workers` runs at
once) and registered models (each once the runs its versions point at are copied).

Each run is copied in an order that makes an interruption harmless: the run is created
with its source tag (so a later pass finds it); then, at the same time, params, tags and
metric points in `log-batch` calls of at most 1,000 metrics / 100 params / 100 tags (one
after the other), and dataset inputs, artifacts, status and end time; and last, once all
of that is written, the fingerprint tag that marks the copy complete (in the last
`log-batch`, whose tags MLflow writes after its metrics, or on its own). A child run starts
as soon as its parent's copy exists (it needs only the new parent's id). A pass over an
incomplete copy writes only what the target does not have yet.
"""

from __future__ import annotations

import threading
from concurrent.futures import Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

from vpmigrate.errors import UserError
from vpmigrate.migrate.artifacts import ArtifactFile, copy_file
from vpmigrate.migrate.plan import (
    ExperimentPlan,
    ModelPlan,
    Plan,
    RunPlan,
    VersionPlan,
    version_changes,
)
from vpmigrate.migrate.records import (
    FINGERPRINT,
    LOG_MODEL_HISTORY,
    PREFIX,
    SOURCE_EXPERIMENT,
    SOURCE_RUN,
    SOURCE_VERSION,
    Facts,
    ModelVersion,
    Point,
    Run,
    input_key,
    missing_points,
    parse_run,
    parse_version,
    points_facts,
    rewrite_tags,
    wire_value,
)
from vpmigrate.migrate.rest import API, ApiError, MaybeSent, Stopped
from vpmigrate.migrate.side import Side

# Every point of some runs: by source run id on the source, by target run id on the target.
Histories = tuple[dict[str, list[Point]], dict[str, list[Point]]]

MAX_METRICS = 1000
MAX_PARAMS = 100
MAX_TAGS = 100
MAX_ENTITIES = 1000
WAVE = 20  # runs whose histories are fetched together (one bulk request per metric key)
FIRST_WAVE = 4


class Progress(Protocol):
    """What the caller is told while the migration runs (the task draws it on stderr)."""

    def phase(self, text: str) -> None: ...

    def totals(self, runs: int, bytes_: int) -> None: ...

    def advance(self, runs: int = 0, bytes_: int = 0) -> None: ...


class NoProgress:
    def phase(self, text: str) -> None:
        pass

    def totals(self, runs: int, bytes_: int) -> None:
        pass

    def advance(self, runs: int = 0, bytes_: int = 0) -> None:
        pass


@dataclass
class Outcome:
    """What the pass wrote."""

    experiments_created: int = 0
    runs_created: int = 0
    runs_completed: int = 0  # copies that existed but were incomplete or outdated
    params: int = 0
    tags: int = 0
    points: int = 0
    inputs: int = 0
    files: int = 0
    bytes: int = 0
    models_created: int = 0
    versions_created: int = 0
    versions_updated: int = 0
    aliases_set: int = 0
    source_facts: dict[str, Facts] = field(default_factory=dict)  # by source run id
    copies: dict[str, str] = field(default_factory=dict)  # source run id -> target run id
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)


class Copier:
    def __init__(
        self,
        source: Side,
        target: Side,
        pool: Executor,
        progress: Progress,
        stop: threading.Event,
        files: Executor | None = None,
        steps: Executor | None = None,
    ) -> None:
        """`pool` copies runs; `files`, when given, copies artifact files (another
        executor than `pool`: a run's task waits on its files), else a run's files are
        copied one after the other; `steps`, when given, writes a run's params, tags and
        metrics while the run's task copies its inputs and files, else they go first."""
        self.source = source
        self.target = target
        self.pool = pool
        self.progress = progress
        self.stop = stop
        self.outcome = Outcome()
        self.experiment_ids: dict[str, str] = {}  # source experiment id -> target's
        self.artifact_uris: dict[str, str] = {}  # run id (either side) -> artifact URI
        self.deleted: set[str] = set()  # target experiments already deleted (and left so)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        self.files = files
        self.steps = steps
        self._copied: dict[str, Future[None]] = {}  # source run id -> its copy is complete
        self._models: Future[None] | None = None

    def _lock_of(self, experiment_id: str) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(experiment_id, threading.Lock())

    def copy_runs(self, plan: Plan) -> Outcome:
        """Experiments, then runs: everything a run's verification reads."""
        todo = plan.runs_to_copy()
        ordered = [run for level in _levels(todo) for run in level]  # parents first
        # The first runs' histories are read from the source while the experiments are
        # created on the target.
        readers = ThreadPoolExecutor(max_workers=1, thread_name_prefix="migrate-read")
        first = readers.submit(self._histories, ordered[:FIRST_WAVE]) if ordered else None
        try:
            self._copy_experiments_and_runs(plan, todo, ordered, readers, first)
        finally:
            # Not waiting: after a failure or Ctrl-C the stop event ends the reads.
            readers.shutdown(wait=False, cancel_futures=True)
        return self.outcome

    def _copy_experiments_and_runs(
        self,
        plan: Plan,
        todo: list[RunPlan],
        ordered: list[RunPlan],
        readers: ThreadPoolExecutor,
        first: Future[Histories] | None,
    ) -> None:
        self.progress.phase("experiments")
        for experiment in plan.experiments:
            self.experiment(experiment)
        for experiment in plan.experiments:
            for run_plan in experiment.runs:
                self.artifact_uris[run_plan.source.run_id] = run_plan.source.artifact_uri
                if run_plan.target is not None:
                    self.outcome.copies[run_plan.source.run_id] = run_plan.target.run_id
                    self.artifact_uris[run_plan.target.run_id] = run_plan.target.artifact_uri
        self._announce_totals(todo)
        self.progress.phase("runs")
        for run_plan in todo:
            self._copied[run_plan.source.run_id] = _pending()
        if plan.models or plan.models_reading is not None:
            # each model as soon as the runs its versions point at are copied
            models = ThreadPoolExecutor(max_workers=1, thread_name_prefix="migrate-models")
            self._models = models.submit(lambda: self._copy_models(plan.planned_models()))
            models.shutdown(wait=False)
        try:
            if first is not None:
                self._copy_runs(ordered, readers, first)
        finally:
            for copied in self._copied.values():  # never leave the models' thread waiting
                if not copied.done():
                    copied.set_exception(Stopped())

    def _announce_totals(self, todo: list[RunPlan]) -> None:
        """Runs and bytes to copy for the progress line; the bytes once the source's
        files are listed (the copy does not wait for that)."""
        listings = [r.listing for r in todo if r.listing is not None]
        known = sum(f.size for r in todo if r.listing is None for f in r.files)
        self.progress.totals(len(todo), known)

        def announce(_: Future[list[ArtifactFile]]) -> None:
            if all(f.done() for f in listings):  # the last listing to end announces
                found = [f.result() for f in listings if f.exception() is None]
                self.progress.totals(len(todo), known + sum(a.size for fs in found for a in fs))

        for listing in listings:
            listing.add_done_callback(announce)

    def finish(self, plan: Plan) -> None:
        """The registered models' copy done, then the experiments' lifecycle."""
        if self._models is not None:
            if not self._models.done():
                self.progress.phase("models")
            self._models.result()
        # Lifecycle last: a deleted experiment takes no new runs.
        for experiment in plan.experiments:
            target_id = self.experiment_ids[experiment.source.experiment_id]
            if experiment.source.lifecycle == "deleted" and target_id not in self.deleted:
                self.target.rest.post(f"{API}/experiments/delete", {"experiment_id": target_id})

    # -- experiments --------------------------------------------------------------------

    def experiment(self, plan: ExperimentPlan) -> None:
        rest = self.target.rest
        source = plan.source
        if plan.target is None:
            tags = dict(source.own_tags())
            tags[SOURCE_EXPERIMENT] = source.experiment_id
            try:
                new_id = self.target.create_experiment(source.name, tags)
            except ApiError as exc:
                if exc.code != "RESOURCE_ALREADY_EXISTS":
                    raise _refused(self.target, f"create experiment {source.name!r}", exc) from None
                new_id = self._experiment_id(source.name)
            self.experiment_ids[source.experiment_id] = new_id
            self.outcome.add(experiments_created=1)
            return
        target_id = plan.target.experiment_id
        self.experiment_ids[source.experiment_id] = target_id
        if plan.target.lifecycle == "deleted":
            if source.lifecycle != "deleted" or plan.to_copy:
                # Runs cannot be written into a deleted experiment: restored, and deleted
                # again at the end when the source's is deleted.
                rest.post(f"{API}/experiments/restore", {"experiment_id": target_id})
            else:
                self.deleted.add(target_id)
        changes = plan.tag_changes()
        if SOURCE_EXPERIMENT not in plan.target.tags:
            changes[SOURCE_EXPERIMENT] = source.experiment_id
        for key, value in changes.items():
            rest.post(
                f"{API}/experiments/set-experiment-tag",
                {"experiment_id": target_id, "key": key, "value": value},
            )

    def _experiment_id(self, name: str) -> str:
        data = self.target.rest.get(f"{API}/experiments/get-by-name", {"experiment_name": name})
        return str(data["experiment"]["experiment_id"])

    # -- runs ---------------------------------------------------------------------------

    def _copy_runs(
        self, runs: list[RunPlan], readers: ThreadPoolExecutor, first: Future[Histories]
    ) -> None:
        """Copy `runs` (parents before children in the list) on the pool, each child as
        soon as its parent's copy exists. Histories are read in waves of WAVE runs (one
        bulk request per metric key, on threads of their own; the first wave is small);
        a run's copy starts at once and only its metric writes wait for its wave's
        histories. The next wave's histories are read once the wave before the current
        one is copied, so at most two waves' histories are in memory. `readers` reads
        one wave's histories at a time, in order; `first` is the first wave's (a small
        wave: its histories arrive soon, so metric writes start early)."""
        waves = [runs[:FIRST_WAVE]]
        waves += [runs[i : i + WAVE] for i in range(FIRST_WAVE, len(runs), WAVE)]
        created: dict[str, Future[None]] = {}  # source run id -> its copy exists
        histories = first
        previous: list[Future[None]] = []
        for i, wave in enumerate(waves):
            current = []
            for run_plan in wave:
                exists = _pending()
                parent = created.get(run_plan.source.parent_id or "")
                task = self.pool.submit(self._copy_after, parent, exists, run_plan, histories)
                created[run_plan.source.run_id] = exists
                current.append(task)
            for task in previous:  # the wave before this one is done: its memory goes
                task.result()
            previous = current
            if i + 1 < len(waves):
                histories = readers.submit(self._histories, waves[i + 1])
        for task in previous:
            task.result()

    def _histories(self, runs: list[RunPlan]) -> Histories:
        """Every point of these runs on the source, and on the target for copies to
        complete; their bulk requests run on a pool of their own (the copy pool is busy)."""
        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="migrate-history") as pool:
            source_points = self.source.histories([r.source for r in runs], pool)
            partial = [r.target for r in runs if r.target is not None]
            target_points = self.target.histories(partial, pool) if partial else {}
        return source_points, target_points

    def _copy_after(
        self,
        parent_exists: Future[None] | None,
        exists: Future[None],
        run_plan: RunPlan,
        histories: Future[Histories],
    ) -> None:
        """Copy one run once its parent's copy exists; `exists` is resolved as soon as
        this run's copy does (or with the error that prevented it)."""
        # Tasks start in the order they were submitted and parents are submitted first,
        # so a parent's task is running or done here: waiting on it cannot deadlock.
        copied = self._copied[run_plan.source.run_id]
        try:
            if parent_exists is not None:
                parent_exists.result()
            target = self._target_run(run_plan)
        except BaseException as exc:
            exists.set_exception(exc)
            copied.set_exception(exc)
            raise
        exists.set_result(None)
        try:
            self._copy_run(run_plan, target, histories)
        except BaseException as exc:
            copied.set_exception(exc)
            raise
        copied.set_result(None)
        self.progress.advance(runs=1)

    def _target_run(self, plan: RunPlan) -> Run:
        """The run's copy in the target: created now, or the one an earlier pass left."""
        source = plan.source
        target = plan.target
        if target is None:
            target = self._create_run(source, self.experiment_ids[source.experiment_id])
            self.outcome.add(runs_created=1)
        else:
            self.outcome.add(runs_completed=1)
            if target.lifecycle == "deleted":  # a deleted run takes no writes
                self.target.rest.post(f"{API}/runs/restore", {"run_id": target.run_id})
        with self.outcome._lock:
            self.outcome.copies[source.run_id] = target.run_id
            self.artifact_uris[target.run_id] = target.artifact_uri
        return target

    def _copy_run(self, plan: RunPlan, target: Run, histories: Future[Histories]) -> None:
        source = plan.source
        rest = self.target.rest
        experiment_id = self.experiment_ids[source.experiment_id]
        run_id = target.run_id

        wanted_tags = rewrite_tags(source.tags, source.run_id, run_id, self.outcome.copies)
        params = []
        for key, value in source.params.items():
            have = target.params.get(key)
            if have is None:
                params.append({"key": key, "value": value})
            elif have != value:
                raise UserError(
                    f"run {run_id} in the target (copy of source run {source.run_id}) has param "
                    f"{key!r} = {have!r}, the source has {value!r}; MLflow params cannot "
                    "change: delete that target run and re-run."
                )
        tags = [{"key": k, "value": v} for k, v in wanted_tags.items() if target.tags.get(k) != v]
        stale = [k for k in target.tags if not k.startswith(PREFIX) and k not in wanted_tags]

        def write_data() -> dict[str, Any] | None:
            """Every batch but the last, which is returned: it carries the fingerprint."""
            source_points, target_points = histories.result()
            points = source_points.get(source.run_id, [])
            present = target_points.get(plan.target.run_id, []) if plan.target else []
            metrics = [
                {"key": k, "value": wire_value(v), "timestamp": t, "step": s}
                for k, s, t, v in missing_points(points, present)
            ]
            batches = _batches(run_id, params, tags, metrics)
            for batch in batches[:-1]:
                self._log_batch(batch)
            for key in stale:
                rest.post(f"{API}/runs/delete-tag", {"run_id": run_id, "key": key})
            self.outcome.add(params=len(params), tags=len(tags), points=len(metrics))
            return batches[-1] if batches else None

        # The run's data and its inputs, files and status are written at the same time;
        # the fingerprint waits for all of them: it goes with the last batch (MLflow
        # writes a batch's tags after its metrics), or on its own.
        data = self.steps.submit(write_data) if self.steps is not None else None
        try:
            last = write_data() if data is None else None
            files = self._copy_rest(plan, target, run_id, experiment_id)
        finally:
            if data is not None:
                wait([data])
        if data is not None:
            last = data.result()
        fingerprint = {"key": FINGERPRINT, "value": source.fingerprint()}
        if last is not None and _room(last):
            last["tags"].append(fingerprint)
            self._log_batch(last)
        else:
            if last is not None:
                self._log_batch(last)
            rest.post(f"{API}/runs/set-tag", {"run_id": run_id, **fingerprint})
        if source.lifecycle == "deleted":  # last: until then the copy is not `done`
            rest.post(f"{API}/runs/delete", {"run_id": run_id})
        points = histories.result()[0].get(source.run_id, [])
        facts = Facts(points_facts(points), {f.path: (f.size, f.checksum) for f in files})
        with self.outcome._lock:
            self.outcome.source_facts[source.run_id] = facts

    def _copy_rest(
        self, plan: RunPlan, target: Run, run_id: str, experiment_id: str
    ) -> list[ArtifactFile]:
        """A run's dataset inputs, artifact files, status, end time and name."""
        source = plan.source
        rest = self.target.rest
        have_inputs = {input_key(i) for i in target.inputs}
        new_inputs = [i for i in source.inputs if input_key(i) not in have_inputs]
        if new_inputs:
            body = {"run_id": run_id, "datasets": [_dataset_input(i) for i in new_inputs]}
            # MLflow's SQL store inserts a dataset new to the experiment without a lock:
            # two runs logging the same one at once collide (UNIQUE constraint), so the
            # runs of one experiment log their inputs one at a time.
            with self._lock_of(experiment_id):
                self.target.needs(
                    "dataset inputs (runs/log-inputs)",
                    lambda: rest.post(f"{API}/runs/log-inputs", body),
                )
            self.outcome.add(inputs=len(new_inputs))

        files = self._copy_artifacts(plan, target)

        update: dict[str, Any] = {"run_id": run_id, "status": source.status}
        if source.end_time is not None:
            update["end_time"] = source.end_time
        if source.name:
            update["run_name"] = source.name
        if (target.status, target.end_time, target.name) != (
            source.status,
            source.end_time,
            source.name,
        ):
            rest.post(f"{API}/runs/update", update)
        return files

    def _create_run(self, source: Run, experiment_id: str) -> Run:
        rest = self.target.rest
        tags = rewrite_tags(source.tags, source.run_id, "", self.outcome.copies)
        tags.pop(LOG_MODEL_HISTORY, None)  # needs the new run's id: written after
        first = [{"key": k, "value": v} for k, v in list(tags.items())[: MAX_TAGS - 1]]
        first.append({"key": SOURCE_RUN, "value": source.run_id})
        body: dict[str, Any] = {"experiment_id": experiment_id, "tags": first}
        if source.start_time is not None:
            body["start_time"] = source.start_time
        if source.name:
            body["run_name"] = source.name
        if source.user_id:
            body["user_id"] = source.user_id
        for _ in range(3):
            try:
                created = rest.post(f"{API}/runs/create", body, once=True)
                return parse_run(created["run"])
            except MaybeSent:
                found = self._find_copy(experiment_id, source.run_id)
                if found is not None:
                    return found
            except ApiError as exc:
                raise _refused(
                    self.target, f"create a run in experiment {experiment_id}", exc
                ) from None
        raise UserError(
            f"the target MLflow at {rest.server.url} kept failing to create runs: see its "
            "logs, then re-run (what was copied is kept)."
        )

    def _find_copy(self, experiment_id: str, source_run_id: str) -> Run | None:
        body = {
            "experiment_ids": [experiment_id],
            "filter": f"tags.`{SOURCE_RUN}` = '{source_run_id}'",
            "run_view_type": "ALL",
            "max_results": 10,
        }
        runs = self.target.rest.post(f"{API}/runs/search", body).get("runs", [])
        return parse_run(runs[0]) if runs else None

    def _log_batch(self, body: dict[str, Any]) -> None:
        try:
            self.target.rest.post(f"{API}/runs/log-batch", body)
        except ApiError as exc:
            raise _refused(self.target, f"log-batch on run {body['run_id']}", exc) from None

    def _copy_artifacts(self, plan: RunPlan, target: Run) -> list[ArtifactFile]:
        files = plan.listed_files()
        if not files:
            return []
        source_location = self.source.locator.for_run(plan.source.artifact_uri, plan.source.run_id)
        target_location = self.target.locator.writable(target.artifact_uri, target.run_id)
        present = {f.path: f.size for f in target_location.list()} if plan.target else {}
        todo = [f for f in files if present.get(f.path) != f.size]
        skipped = sum(f.size for f in files if f not in todo)
        if skipped:
            self.progress.advance(bytes_=skipped)

        def one(item: ArtifactFile) -> None:
            copy_file(
                source_location,
                target_location,
                item,
                lambda n: self.progress.advance(bytes_=n),
                self.stop,
            )
            self.outcome.add(files=1, bytes=item.size)

        # A run's files go at once, on the pool of file copies shared by every run
        # (bounded: `workers` files in flight in all), each streamed in chunks.
        if self.files is None:
            for item in todo:
                one(item)
        else:
            for task in [self.files.submit(one, item) for item in todo]:
                task.result()
        return files

    # -- models -------------------------------------------------------------------------

    def _copy_models(self, models: list[ModelPlan]) -> None:
        for model in models:
            for version in model.versions:
                copied = self._copied.get(version.source.run_id or "")
                if copied is not None:
                    copied.result()
            self.model(model)

    def model(self, plan: ModelPlan) -> None:
        rest = self.target.rest
        source = plan.source
        own_tags = {k: v for k, v in source.tags.items() if not k.startswith(PREFIX)}
        if plan.target is None:
            body = {
                "name": source.name,
                "description": source.description,
                "tags": [{"key": k, "value": v} for k, v in own_tags.items()],
            }
            try:
                rest.post(f"{API}/registered-models/create", body)
                self.outcome.add(models_created=1)
            except ApiError as exc:
                if exc.code != "RESOURCE_ALREADY_EXISTS":
                    raise _refused(
                        self.target, f"create registered model {source.name!r}", exc
                    ) from None
        else:
            if plan.target.description != source.description:
                rest.patch(
                    f"{API}/registered-models/update",
                    {"name": source.name, "description": source.description},
                )
            for key, value in own_tags.items():
                if plan.target.tags.get(key) != value:
                    rest.post(
                        f"{API}/registered-models/set-tag",
                        {"name": source.name, "key": key, "value": value},
                    )
        copies: dict[str, str] = {}  # source version -> its copy's version
        for version_plan in plan.versions:
            existing = version_plan.target
            if existing is None:
                existing = self._create_version(version_plan.source)
                if existing is None:
                    continue
                self.outcome.add(versions_created=1)
            copies[version_plan.source.version] = existing.version
            changes = version_changes(VersionPlan(version_plan.source, existing))
            s, t = version_plan.source, existing
            if "stage" in changes:
                rest.post(
                    f"{API}/model-versions/transition-stage",
                    {
                        "name": s.name,
                        "version": t.version,
                        "stage": s.stage,
                        "archive_existing_versions": False,
                    },
                )
            if "description" in changes:
                rest.patch(
                    f"{API}/model-versions/update",
                    {"name": s.name, "version": t.version, "description": s.description},
                )
            if "tags" in changes:
                for key, value in s.tags.items():
                    if not key.startswith(PREFIX) and t.tags.get(key) != value:
                        rest.post(
                            f"{API}/model-versions/set-tag",
                            {"name": s.name, "version": t.version, "key": key, "value": value},
                        )
            if changes and version_plan.target is not None:
                self.outcome.add(versions_updated=1)
        for alias, version in plan.alias_changes(copies).items():
            if version not in copies:
                continue
            body = {"name": source.name, "alias": alias, "version": copies[version]}
            self.target.needs(
                "model version aliases (registered-models/alias)",
                partial(rest.post, f"{API}/registered-models/alias", body),
            )
            self.outcome.add(aliases_set=1)

    def _create_version(self, source: ModelVersion) -> ModelVersion | None:
        rest = self.target.rest
        run_id = self.outcome.copies.get(source.run_id, "") if source.run_id else ""
        location = self.version_source(source, run_id)
        tags = [{"key": k, "value": v} for k, v in source.tags.items() if not k.startswith(PREFIX)]
        tags.append({"key": SOURCE_VERSION, "value": source.version})
        body: dict[str, Any] = {
            "name": source.name,
            "source": location,
            "tags": tags,
            "description": source.description,
        }
        if run_id:
            body["run_id"] = run_id
        for _ in range(3):
            try:
                created = rest.post(f"{API}/model-versions/create", body, once=True)
                return parse_version(created["model_version"])
            except MaybeSent:
                for version in self.target.versions(source.name):
                    if version.tags.get(SOURCE_VERSION) == source.version:
                        return version
            except ApiError as exc:
                raise _refused(
                    self.target,
                    f"create version {source.version} of model {source.name!r} (source {location})",
                    exc,
                ) from None
        return None

    def version_source(self, version: ModelVersion, target_run_id: str) -> str:
        """The version's source on the target: the same path inside the copied run."""
        source = version.source
        if not version.run_id or not target_run_id:
            return source
        if source.startswith(f"runs:/{version.run_id}"):
            return source.replace(version.run_id, target_run_id, 1)
        run_roots = self._artifact_roots(version.run_id, target_run_id)
        if run_roots is None:
            return source
        source_root, target_root = run_roots
        if source.rstrip("/") == source_root.rstrip("/"):
            return target_root
        if source.startswith(source_root.rstrip("/") + "/"):
            return target_root.rstrip("/") + source[len(source_root.rstrip("/")) :]
        return source

    def _artifact_roots(self, source_run_id: str, target_run_id: str) -> tuple[str, str] | None:
        roots = []
        for side, run_id in ((self.source, source_run_id), (self.target, target_run_id)):
            uri = self.artifact_uris.get(run_id)
            if uri is None:
                try:
                    uri = side.rest.get(f"{API}/runs/get", {"run_id": run_id})["run"]["info"][
                        "artifact_uri"
                    ]
                except ApiError:
                    return None
            roots.append(str(uri))
        return roots[0], roots[1]


def _levels(runs: list[RunPlan]) -> list[list[RunPlan]]:
    """Runs grouped so that every parent is copied in an earlier group than its children."""
    by_id = {r.source.run_id: r for r in runs}
    depth: dict[str, int] = {}

    def level(run_id: str, seen: frozenset[str] = frozenset()) -> int:
        if run_id in depth:
            return depth[run_id]
        parent = by_id[run_id].source.parent_id
        value = 0
        if parent and parent in by_id and parent not in seen:
            value = level(parent, seen | {run_id}) + 1
        depth[run_id] = value
        return value

    groups: dict[int, list[RunPlan]] = {}
    for run in runs:
        groups.setdefault(level(run.source.run_id), []).append(run)
    return [groups[k] for k in sorted(groups)]


def _pending() -> Future[None]:
    """A future that a thread of ours resolves (not a task of an executor)."""
    future: Future[None] = Future()
    future.set_running_or_notify_cancel()
    return future


def _batches(
    run_id: str,
    params: list[dict[str, Any]],
    tags: list[dict[str, Any]],
    metrics: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """`log-batch` bodies within MLflow's limits per call."""
    batches = []
    while params or tags or metrics:
        batch_params, params = params[:MAX_PARAMS], params[MAX_PARAMS:]
        batch_tags, tags = tags[:MAX_TAGS], tags[MAX_TAGS:]
        room = min(MAX_METRICS, MAX_ENTITIES - len(batch_params) - len(batch_tags))
        batch_metrics, metrics = metrics[:room], metrics[room:]
        batches.append(
            {"run_id": run_id, "params": batch_params, "tags": batch_tags, "metrics": batch_metrics}
        )
    return batches


def _room(batch: dict[str, Any]) -> bool:
    """Whether one more tag fits in this `log-batch` body."""
    entities = len(batch["params"]) + len(batch["tags"]) + len(batch["metrics"])
    return len(batch["tags"]) < MAX_TAGS and entities < MAX_ENTITIES


def _dataset_input(dataset_input: dict[str, Any]) -> dict[str, Any]:
    dataset = {k: v for k, v in dataset_input.get("dataset", {}).items() if v not in (None, "")}
    return {"tags": dataset_input.get("tags", []), "dataset": dataset}


def _refused(side: Side, what: str, exc: ApiError) -> UserError:
    s = side.rest.server
    if exc.code == "PERMISSION_DENIED":
        return UserError(
            f"the {s.role} MLflow at {s.url} denied permission to {what} ({exc.message}): use "
            f"credentials ({s.credential_names}) that may write there and re-run."
        )
    return UserError(
        f"the {s.role} MLflow at {s.url} refused to {what}: {exc.code}: {exc.message}. "
        "Fix the cause and re-run: what was copied is kept and not copied again."
    )
