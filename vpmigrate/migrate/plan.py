"""What a migration would do: per experiment, the runs to create, to complete and those
already copied; per registered model, the versions to create or bring in line.

A run's copy on the target is found by its tag `vpmigrate.source_run_id`. It is complete
when its `vpmigrate.source_fingerprint` tag (written last) equals the source run's
fingerprint; otherwise it is completed from where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from vpmigrate.errors import UserError
from vpmigrate.migrate.artifacts import ArtifactFile, S3Location
from vpmigrate.migrate.records import (
    FINGERPRINT,
    SOURCE_VERSION,
    Experiment,
    ModelVersion,
    RegisteredModel,
    Run,
)
from vpmigrate.migrate.side import Side


@dataclass
class RunPlan:
    source: Run
    target: Run | None  # None: to create
    files: list[ArtifactFile] = field(default_factory=list)  # source artifacts (to copy)
    # While the source's files are still being listed (the copy starts meanwhile).
    listing: Future[list[ArtifactFile]] | None = field(default=None, repr=False, compare=False)

    def listed_files(self) -> list[ArtifactFile]:
        """`files`, once listed (raises what the listing raised)."""
        if self.listing is not None:
            self.files = self.listing.result()
            self.listing = None
        return self.files

    @property
    def state(self) -> str:
        if self.target is None:
            return "new"
        complete = self.target.tags.get(FINGERPRINT) == self.source.fingerprint()
        return "done" if complete and self.target.lifecycle == self.source.lifecycle else "resume"


@dataclass
class ExperimentPlan:
    source: Experiment
    target: Experiment | None
    runs: list[RunPlan]
    duplicates: dict[str, list[str]] = field(default_factory=dict)  # source run -> copies

    @property
    def action(self) -> str:
        if self.target is None:
            return "create"
        changes = self.tag_changes() or self.lifecycle_change()
        return "update" if changes else "exists"

    def tag_changes(self) -> dict[str, str]:
        have = self.target.tags if self.target else {}
        return {k: v for k, v in self.source.own_tags().items() if have.get(k) != v}

    def lifecycle_change(self) -> str | None:
        if self.target is None or self.target.lifecycle == self.source.lifecycle:
            return None
        return "delete" if self.source.lifecycle == "deleted" else "restore"

    def count(self, state: str) -> int:
        return sum(1 for r in self.runs if r.state == state)

    @property
    def to_copy(self) -> list[RunPlan]:
        return [r for r in self.runs if r.state != "done"]

    @property
    def bytes(self) -> int:
        return sum(f.size for r in self.to_copy for f in r.files)

    @property
    def files(self) -> int:
        return sum(len(r.files) for r in self.to_copy)


@dataclass
class VersionPlan:
    source: ModelVersion
    target: ModelVersion | None


@dataclass
class ModelPlan:
    source: RegisteredModel
    target: RegisteredModel | None
    versions: list[VersionPlan]
    skipped: list[str] = field(default_factory=list)  # versions whose run is not copied

    def pending(self) -> list[VersionPlan]:
        return [v for v in self.versions if version_changes(v) or v.target is None]

    @property
    def action(self) -> str:
        if self.target is None:
            return "create"
        t = self.target
        own = {k: v for k, v in self.source.tags.items() if not k.startswith("vpmigrate.")}
        in_sync = (
            not self.pending()
            and t.description == self.source.description
            and all(t.tags.get(k) == v for k, v in own.items())
            and self.alias_changes() == {}
        )
        return "exists" if in_sync else "update"

    def alias_changes(self, copies: dict[str, str] | None = None) -> dict[str, str]:
        """alias -> source version whose copy it must point at (when it does not yet);
        `copies`: source version -> its copy's version (default: the copies planned)."""
        if copies is None:
            copies = {v.source.version: v.target.version for v in self.versions if v.target}
        have = self.target.aliases if self.target else {}
        changes = {}
        for alias, version in self.source.aliases.items():
            if version in {v.source.version for v in self.versions} and have.get(
                alias
            ) != copies.get(version):
                changes[alias] = version
        return changes


def version_changes(plan: VersionPlan) -> list[str]:
    """What differs between a version and its copy (besides the copy existing)."""
    if plan.target is None:
        return ["missing"]
    s, t = plan.source, plan.target
    changes = []
    if s.stage != t.stage:
        changes.append("stage")
    if s.description != t.description:
        changes.append("description")
    own = {k: v for k, v in s.tags.items() if not k.startswith("vpmigrate.")}
    if any(t.tags.get(k) != v for k, v in own.items()):
        changes.append("tags")
    return changes


@dataclass
class Plan:
    experiments: list[ExperimentPlan]
    models: list[ModelPlan]
    notes: list[str] = field(default_factory=list)
    # While the registered models are still being read (the runs' copy starts meanwhile).
    models_reading: Future[list[ModelPlan]] | None = field(default=None, repr=False)

    def planned_models(self) -> list[ModelPlan]:
        """`models`, once read (raises what the reading raised)."""
        if self.models_reading is not None:
            self.models = self.models_reading.result()
            self.models_reading = None
        return self.models

    def settle(self) -> None:
        """Waits for what planning still reads in the background."""
        for experiment in self.experiments:
            for run in experiment.runs:
                run.listed_files()
        self.planned_models()

    @property
    def nothing_to_do(self) -> bool:
        return all(e.action == "exists" and not e.to_copy for e in self.experiments) and all(
            m.action == "exists" for m in self.models
        )

    def runs_to_copy(self) -> list[RunPlan]:
        return [r for e in self.experiments for r in e.to_copy]


def select_experiments(found: list[Experiment], names: tuple[str, ...]) -> list[Experiment]:
    if not names:
        return found
    by_name = {e.name: e for e in found}
    missing = [n for n in names if n not in by_name]
    if missing:
        import difflib

        close = difflib.get_close_matches(missing[0], list(by_name), n=3)
        hint = f" (closest: {', '.join(close)})" if close else ""
        raise UserError(
            f"the source MLflow has no experiment named {missing[0]!r}{hint}; "
            f"it has: {', '.join(sorted(by_name)) or 'none'}. Fix --experiment and re-run."
        )
    return [by_name[n] for n in names]


def make_plan(
    source: Side,
    target: Side,
    *,
    names: tuple[str, ...],
    include_deleted: bool,
    models: bool,
    pool: Executor,
    list_files: Callable[[RunPlan], list[ArtifactFile]],
    background: Executor | None = None,
) -> Plan:
    """What to copy. With `background`, the source's files (listed on `pool`) and the
    registered models (read on `background`) may still be read when this returns, so
    the copy can start: `RunPlan.listed_files`, `Plan.planned_models` and `Plan.settle`
    wait for them."""
    # Source and target are read at the same time, each step.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="migrate-plan") as both:
        theirs = both.submit(target.experiments, include_deleted=True)
        chosen = select_experiments(source.experiments(include_deleted), names)
        target_experiments = {e.name: e for e in theirs.result()}
        mapped = [target_experiments[e.name] for e in chosen if e.name in target_experiments]
        found_copies = both.submit(
            target.runs, [e.experiment_id for e in mapped], include_deleted=True
        )
        source_runs = source.runs([e.experiment_id for e in chosen], include_deleted)
        copies: dict[str, list[Run]] = {}
        for run in found_copies.result():
            if run.source_id:
                copies.setdefault(run.source_id, []).append(run)
    plans: list[ExperimentPlan] = []
    for experiment in chosen:
        runs = [r for r in source_runs if r.experiment_id == experiment.experiment_id]
        one = ExperimentPlan(experiment, target_experiments.get(experiment.name), [])
        for run in runs:
            found = sorted(copies.get(run.run_id, []), key=lambda r: r.lifecycle != "active")
            if len(found) > 1:
                one.duplicates[run.run_id] = [r.run_id for r in found]
            one.runs.append(RunPlan(run, found[0] if found else None))
        plans.append(one)
    plan = Plan(plans, [])
    copied_runs = {r.run_id for r in source_runs}
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="migrate-plan") as aside:
        if models:
            plan.models_reading = (background or aside).submit(
                _model_plans, source, target, copied_runs, bool(names), plan.notes
            )
        # Source artifacts of what is to be copied: sizes for the plan and the progress bar.
        pending = [r for p in plans for r in p.to_copy]
        for run_plan in pending:
            run_plan.listing = pool.submit(list_files, run_plan)
        if background is None:
            plan.settle()
            return plan
        # Listings that go through the source's tracking server end before the copy
        # starts (its reads of histories would wait behind them). S3 ones go on, but the
        # first is waited for: a store that cannot be read (no bucket, no access) fails
        # every listing, and that is said before anything is written.
        in_s3 = all(
            isinstance(source.locator.for_run(r.source.artifact_uri, r.source.run_id), S3Location)
            for r in pending
            if r.source.artifact_uri
        )
        for run_plan in pending[:1] if in_s3 else pending:
            run_plan.listed_files()
    return plan


def _model_plans(
    source: Side, target: Side, copied_runs: set[str], filtered: bool, notes: list[str]
) -> list[ModelPlan]:
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="migrate-plan-models") as readers:
        # both sides' models at once, then every model's versions at once
        theirs = readers.submit(target.models)
        source_models = source.models()
        target_models = {m.name: m for m in theirs.result()}
        source_versions = [readers.submit(source.versions, m.name) for m in source_models]
        target_versions = {
            m.name: readers.submit(target.versions, m.name)
            for m in source_models
            if m.name in target_models
        }
    plans = []
    for model, versions_read in zip(source_models, source_versions, strict=True):
        versions = versions_read.result()
        keep = [v for v in versions if (v.run_id in copied_runs) or (not v.run_id and not filtered)]
        skipped = [v.version for v in versions if v not in keep]
        if filtered and not keep:
            continue
        existing = target_models.get(model.name)
        by_source: dict[str, ModelVersion] = {}
        if existing is not None:
            for version in target_versions[model.name].result():
                origin = version.tags.get(SOURCE_VERSION)
                if origin:
                    by_source.setdefault(origin, version)
        plan = ModelPlan(
            model, existing, [VersionPlan(v, by_source.get(v.version)) for v in keep], skipped
        )
        if skipped:
            notes.append(
                f"model {model.name}: version(s) {', '.join(skipped)} left out: their runs "
                "are not among the experiments copied"
            )
        plans.append(plan)
    return plans
