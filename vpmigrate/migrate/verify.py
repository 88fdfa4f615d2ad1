"""Compare source and target after a pass: per experiment the runs, params, metric points
and artifact files and bytes (MD5 checksums where both S3 stores give them), and the
registered models' versions, stages and aliases.

A run whose copy differs loses its completion mark (`vpmigrate.source_fingerprint` is
set to "stale"), so the next pass completes it.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from vpmigrate.migrate.artifacts import ArtifactFile, Location, S3Location
from vpmigrate.migrate.execute import Outcome
from vpmigrate.migrate.plan import ExperimentPlan, Plan
from vpmigrate.migrate.records import (
    FINGERPRINT,
    SOURCE_VERSION,
    STALE,
    Facts,
    Point,
    Run,
    points_facts,
    rewrite_tags,
)
from vpmigrate.migrate.rest import API
from vpmigrate.migrate.side import Side

WAVE = 50
LISTERS = 4  # concurrent listings of the copies' files


@dataclass
class Tally:
    runs: int = 0
    params: int = 0
    points: int = 0
    files: int = 0
    bytes: int = 0


@dataclass
class ExperimentCheck:
    name: str
    source: Tally = field(default_factory=Tally)
    target: Tally = field(default_factory=Tally)
    checksums: int = 0  # files whose checksums were compared (and matched)

    @property
    def same(self) -> bool:
        return self.source == self.target


@dataclass
class Verification:
    experiments: list[ExperimentCheck]
    differences: list[str]
    models: int = 0
    versions: int = 0

    @property
    def ok(self) -> bool:
        return not self.differences


def verify_runs(
    source: Side,
    target: Side,
    plan: Plan,
    outcome: Outcome,
    pool: Executor,
    list_source: Callable[[Run], list[ArtifactFile]],
) -> Verification:
    """Every experiment's runs against their copies. The experiments' copies are found at
    once, then the runs of all experiments are read together, WAVE at a time."""
    target_experiments = {e.name: e for e in target.experiments(include_deleted=True)}

    def copies_of(experiment: ExperimentPlan) -> dict[str, list[Run]]:
        found = target_experiments.get(experiment.source.name)
        copies: dict[str, list[Run]] = {}
        if found is not None:
            for run in target.runs([found.experiment_id], include_deleted=True):
                if run.source_id:
                    copies.setdefault(run.source_id, []).append(run)
        return copies

    differences: list[str] = []
    checks = []
    pairs: list[tuple[ExperimentCheck, Run, Run]] = []
    for experiment, copies in zip(
        plan.experiments, pool.map(copies_of, plan.experiments), strict=True
    ):
        name = experiment.source.name
        check = ExperimentCheck(name)
        checks.append(check)
        if name not in target_experiments:
            differences.append(f"experiment {name!r}: missing in the target")
            continue
        for run_plan in experiment.runs:
            src = run_plan.source
            check.source.runs += 1
            check.source.params += len(src.params)
            found_copies = copies.get(src.run_id, [])
            if not found_copies:
                differences.append(
                    f"experiment {name!r}: run {_name(src)} has no copy in the target"
                )
                continue
            if len(found_copies) > 1:
                ids = ", ".join(r.run_id for r in found_copies)
                differences.append(
                    f"experiment {name!r}: run {_name(src)} has {len(found_copies)} copies ({ids})"
                )
            check.target.runs += 1
            copy = found_copies[0]
            check.target.params += len(copy.params)
            pairs.append((check, src, copy))
    id_map = {s.run_id: t.run_id for _, s, t in pairs}
    with ThreadPoolExecutor(LISTERS, thread_name_prefix="migrate-verify-list") as listers:
        # Copies whose files are in S3 are listed while the metric histories are read
        # (another server); files the tracking server holds are listed after them, on
        # the pool (that server is busy with the histories meanwhile).
        listed: dict[str, Future[list[ArtifactFile]] | Location] = {}
        for _, _, copy in pairs:
            location = target.locator.for_run(copy.artifact_uri, copy.run_id)
            in_s3 = isinstance(location, S3Location)
            listed[copy.run_id] = listers.submit(location.list) if in_s3 else location
        _check_waves(source, target, outcome, pool, list_source, pairs, listed, id_map, differences)
    return Verification(checks, differences)


def _check_waves(
    source: Side,
    target: Side,
    outcome: Outcome,
    pool: Executor,
    list_source: Callable[[Run], list[ArtifactFile]],
    pairs: list[tuple[ExperimentCheck, Run, Run]],
    listed: dict[str, Future[list[ArtifactFile]] | Location],  # by copy: listing or to list
    id_map: dict[str, str],
    differences: list[str],
) -> None:
    for i in range(0, len(pairs), WAVE):
        wave = pairs[i : i + WAVE]
        need_source = [s for _, s, _ in wave if s.run_id not in outcome.source_facts]
        source_points = source.histories(need_source, pool) if need_source else {}
        target_points = target.histories([t for _, _, t in wave], pool)

        def facts(
            pair: tuple[ExperimentCheck, Run, Run],
            source_points: dict[str, list[Point]] = source_points,
            target_points: dict[str, list[Point]] = target_points,
        ) -> tuple[Facts, Facts]:
            _, src, copy = pair
            known = outcome.source_facts.get(src.run_id)
            if known is None:
                files = list_source(src)
                known = Facts(
                    points_facts(source_points.get(src.run_id, [])),
                    {f.path: (f.size, f.checksum) for f in files},
                )
            listing = listed[copy.run_id]
            target_files = listing.result() if isinstance(listing, Future) else listing.list()
            return known, Facts(
                points_facts(target_points.get(copy.run_id, [])),
                {f.path: (f.size, f.checksum) for f in target_files},
            )

        for (check, src, copy), (want, have) in zip(wave, pool.map(facts, wave), strict=True):
            problems = _compare_run(src, copy, want, have, id_map, outcome.copies)
            check.source.points += want.point_count
            check.target.points += have.point_count
            check.source.files += len(want.files)
            check.target.files += len(have.files)
            check.source.bytes += want.file_bytes
            check.target.bytes += have.file_bytes
            check.checksums += sum(
                1
                for path, (_, digest) in want.files.items()
                if digest and have.files.get(path, (0, None))[1] == digest
            )
            for problem in problems:
                differences.append(f"experiment {check.name!r}: run {_name(src)}: {problem}")
            if problems and copy.tags.get(FINGERPRINT) != STALE:
                target.rest.post(
                    f"{API}/runs/set-tag",
                    {"run_id": copy.run_id, "key": FINGERPRINT, "value": STALE},
                )


def _compare_run(
    src: Run,
    copy: Run,
    want: Facts,
    have: Facts,
    id_map: dict[str, str],
    copies: dict[str, str],
) -> list[str]:
    problems = []
    if copy.params != src.params:
        missing = sorted(set(src.params) - set(copy.params))
        problems.append(f"params differ (missing: {', '.join(missing[:5]) or 'none'})")
    wanted = rewrite_tags(src.tags, src.run_id, copy.run_id, {**copies, **id_map})
    if copy.own_tags() != wanted:
        keys = sorted(
            k for k in set(wanted) | set(copy.own_tags()) if wanted.get(k) != copy.tags.get(k)
        )
        problems.append(f"tags differ ({', '.join(keys[:5])})")
    for attribute in ("status", "start_time", "end_time", "name", "lifecycle"):
        if getattr(src, attribute) != getattr(copy, attribute):
            problems.append(
                f"{attribute} is {getattr(copy, attribute)!r} in the target, "
                f"{getattr(src, attribute)!r} in the source"
            )
    for key in sorted(set(want.points) | set(have.points)):
        n_src, digest_src = want.points.get(key, (0, ""))
        n_tgt, digest_tgt = have.points.get(key, (0, ""))
        if n_src != n_tgt:
            problems.append(
                f"metric {key!r} has {n_tgt} points in the target, {n_src} in the source"
            )
        elif digest_src != digest_tgt:
            problems.append(f"metric {key!r} has different points (same count, {n_src})")
    for path in sorted(set(want.files) | set(have.files)):
        size_src, sum_src = want.files.get(path, (-1, None))
        size_tgt, sum_tgt = have.files.get(path, (-1, None))
        if size_tgt < 0:
            problems.append(f"artifact {path} is missing in the target")
        elif size_src < 0:
            problems.append(f"artifact {path} is only in the target")
        elif size_src != size_tgt:
            problems.append(
                f"artifact {path} has {size_tgt} bytes in the target, {size_src} in the source"
            )
        elif sum_src and sum_tgt and sum_src != sum_tgt:
            problems.append(f"artifact {path} has a different checksum (MD5) in the target")
    return problems


def verify_models(target: Side, plan: Plan, outcome: Outcome, result: Verification) -> None:
    """Add the registered models' checks (versions, stages, aliases) to `result`."""
    for model_plan in plan.models:
        name = model_plan.source.name
        result.models += 1
        targets = {v.tags.get(SOURCE_VERSION): v for v in target.versions(name)}
        aliases: dict[str, str] = {}
        if model_plan.source.aliases:
            aliases = next((m.aliases for m in target.models() if m.name == name), {})
        for version_plan in model_plan.versions:
            src = version_plan.source
            result.versions += 1
            copy = targets.get(src.version)
            label = f"model {name!r} version {src.version}"
            if copy is None:
                result.differences.append(f"{label}: no copy in the target")
                continue
            if copy.stage != src.stage:
                result.differences.append(
                    f"{label}: stage {copy.stage!r} in the target, {src.stage!r} in the source"
                )
            run_copy = outcome.copies.get(src.run_id)
            if src.run_id and copy.run_id != run_copy:
                result.differences.append(
                    f"{label}: run {copy.run_id or 'none'} in the target, expected {run_copy}"
                )
            if src.run_id and run_copy and src.run_id in copy.source:
                result.differences.append(
                    f"{label}: source {copy.source} still names the source run"
                )
        copied = {v.source.version for v in model_plan.versions}
        for alias, version in model_plan.source.aliases.items():
            if version not in copied:
                continue
            expected = targets.get(version)
            if expected is None or aliases.get(alias) != expected.version:
                result.differences.append(
                    f"model {name!r}: alias {alias!r} points at version {aliases.get(alias)} in "
                    f"the target, not at the copy of version {version}"
                )


def _name(run: Run) -> str:
    return f"{run.name!r} ({run.run_id})" if run.name else run.run_id
