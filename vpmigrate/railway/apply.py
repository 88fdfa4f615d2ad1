"""Write one environment's plan to Railway in one document, then redeploy in one more.

The write document holds, in order, the shared variables' upsert and deletions,
then each service's. Railway runs them one after another and stops at the first
that fails, so a failure leaves whole scopes applied or not; every scope's
outcome is reported on its own. When the outcome is not certain (a failed field,
a lost answer), the written scopes are read back and the report says what Railway
actually holds; after a lost answer what is still missing is sent once more,
deletions included only for names that are still there.

Redeploys: every service whose variables were all applied, and every service that
references a shared variable that changed. A service whose writes were only partly
applied is not redeployed: its re-run still has changes, so it writes and
redeploys then. A re-run therefore always finishes the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from vpmigrate.errors import UserError
from vpmigrate.railway.api import (
    SHARED,
    BatchResult,
    Outcome,
    RailwayBackend,
    Variables,
    VariableWrite,
)
from vpmigrate.railway.plan import Plan, shared_users
from vpmigrate.railway.target import Target

# How many times a lost write answer leads to a read-back and a resend of what is missing.
RESENDS_AFTER_LOST_ANSWER = 1


@dataclass(frozen=True)
class ApplyResult:
    """What one environment's apply did, scope by scope."""

    environment: str
    written: tuple[str, ...]  # scopes whose writes are all in place
    redeployed: tuple[str, ...]
    not_applied: dict[str, str] = field(default_factory=dict)  # scope -> what happened
    not_attempted: tuple[str, ...] = ()
    not_redeployed: tuple[str, ...] = ()  # written (or using changed shared), redeploy failed
    redeploy_uncertain: tuple[str, ...] = ()  # the redeploy's answer never came
    cause: str = ""  # Railway's message for the first failure
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not (self.not_applied or self.not_attempted or self.not_redeployed or self.cause)

    def failure_message(self) -> str:
        """One paragraph: the cause, what is applied, what is not, and what to run."""
        cause = self.cause.rstrip()
        parts = [cause if cause.endswith((".", "!", "?")) else f"{cause}."] if cause else []
        if self.not_applied or self.not_attempted:
            parts.append(f"Applied: {', '.join(self.written) or 'none'}.")
            failed = "; ".join(f"{scope}: {state}" for scope, state in self.not_applied.items())
            if failed:
                parts.append(f"Failed: {failed}.")
            parts.append(f"Not attempted: {', '.join(self.not_attempted) or 'none'}.")
            parts.append("Re-running the same command finishes the rest.")
        if self.not_redeployed:
            names = ", ".join(self.not_redeployed)
            flags = " ".join(f"--service {s}" for s in self.not_redeployed)
            parts.append(
                f"Variables in place on {names}, but the redeploy failed (a plain re-run sees "
                f"them in sync); `inv railway.sync-env --environment {self.environment} "
                f"--redeploy {flags}` redeploys them."
            )
        if self.redeploy_uncertain:
            names = ", ".join(self.redeploy_uncertain)
            parts.append(
                f"The answer to the redeploy of {names} was lost; check the deployments in "
                "Railway's dashboard, or redeploy with --redeploy."
            )
        return " ".join(parts)


def _nothing(message: str) -> None:
    return None


def apply_plan(
    plan: Plan,
    backend: RailwayBackend,
    target: Target,
    *,
    current: Mapping[str, Variables] | None = None,
    deploy: bool = True,
    redeploy_all: bool = False,
    progress: Callable[[str], None] = _nothing,
) -> ApplyResult:
    """Write ``plan`` (one document), then redeploy (one document).

    ``current`` is what the plan was made from (used to find the services that
    reference changed shared variables). ``redeploy_all`` also redeploys the plan's
    services that had nothing to write. Never raises for a failure Railway reports:
    the result says what is applied and what is not.
    """
    writes = plan.writes(target.services)
    outcome = _write(plan, backend, target, writes, progress) if writes else _Written()
    for scope in outcome.written:
        progress(
            f"{target.environment}/{scope}: {len(plan.upserts(scope))} set, "
            f"{len(plan.deletions(scope))} removed"
        )
    to_redeploy: list[str] = []
    if deploy:
        candidates = [s for s in outcome.written if s != SHARED]
        if SHARED in outcome.written:
            candidates += _users_of(plan.changed_shared(), plan, current or {}, target)
        if redeploy_all:
            candidates += [s for s in plan.services() if s != SHARED]
            if SHARED in plan.services():
                candidates += _users_of(None, plan, current or {}, target)
        blocked = set(outcome.not_applied) | set(outcome.not_attempted)
        to_redeploy = [
            s for s in dict.fromkeys(candidates) if s not in blocked and s in target.services
        ]
    redeployed: list[str] = []
    failed: list[str] = []
    uncertain: list[str] = []
    cause = outcome.cause
    if to_redeploy:
        result = backend.redeploy(
            target.environment_id, {s: target.services[s] for s in to_redeploy}
        )
        for item in result.outcomes:
            if item.state == "applied":
                redeployed.append(item.scope)
                progress(f"{target.environment}/{item.scope}: redeploy triggered")
            elif item.state == "unknown" and result.lost:
                uncertain.append(item.scope)
            else:
                failed.append(item.scope)
        if not cause:
            cause = result.error or next(
                (o.message for o in result.outcomes if o.state == "failed" and o.message), ""
            )
            if cause and not cause.startswith("Railway"):
                cause = f"Railway refused a redeploy: {cause}"
    return ApplyResult(
        environment=target.environment,
        written=outcome.written,
        redeployed=tuple(redeployed),
        not_applied=outcome.not_applied,
        not_attempted=outcome.not_attempted,
        not_redeployed=tuple(failed),
        redeploy_uncertain=tuple(uncertain),
        cause=cause,
        notes=outcome.notes,
    )


def _users_of(
    names: Iterable[str] | None,
    plan: Plan,
    current: Mapping[str, Variables],
    target: Target,
) -> list[str]:
    """Services that reference any of the shared ``names`` (all of them when None):
    as Railway holds them (every service read) and as the file wants them."""
    wanted = None if names is None else set(names)
    users: set[str] = set()
    for table in (shared_users(current), plan.desired_shared_users()):
        for name, services in table.items():
            if wanted is None or name in wanted:
                users.update(s for s in services if s in target.services)
    return sorted(users)


@dataclass(frozen=True)
class _Written:
    written: tuple[str, ...] = ()
    not_applied: dict[str, str] = field(default_factory=dict)
    not_attempted: tuple[str, ...] = ()
    cause: str = ""
    notes: tuple[str, ...] = ()


def _write(
    plan: Plan,
    backend: RailwayBackend,
    target: Target,
    writes: tuple[VariableWrite, ...],
    progress: Callable[[str], None],
) -> _Written:
    result = backend.write_variables(target.project_id, target.environment_id, writes)
    if result.complete:
        return _Written(written=tuple(w.scope for w in writes))
    notes: list[str] = []
    cause = result.error or _first_failure(result.outcomes)
    resends = RESENDS_AFTER_LOST_ANSWER
    while True:
        held = _read_back(backend, target, writes)
        if held is None:  # even the read-back failed: say what the answers said
            return _from_answers(writes, result, cause)
        remaining = tuple(
            w
            for w in (_still_missing(w, held.get(w.scope, {})) for w in writes)
            if w.upserts or w.deletions
        )
        if result.lost and remaining and resends > 0:
            resends -= 1
            notes.append(
                f"{target.environment}: the answer to the write was lost; read back, "
                f"{len(writes) - len(remaining)} of {len(writes)} scope(s) were applied; "
                "sending the rest again."
            )
            progress(notes[-1])
            result = backend.write_variables(target.project_id, target.environment_id, remaining)
            if result.complete:
                return _Written(written=tuple(w.scope for w in writes), notes=tuple(notes))
            cause = result.error or _first_failure(result.outcomes) or cause
            continue
        if result.lost and not remaining:
            notes.append(
                f"{target.environment}: the answer to the write was lost; read back: "
                "everything was applied."
            )
            progress(notes[-1])
        return _truth(writes, held, result, cause, tuple(notes))


def _first_failure(outcomes: Iterable[Outcome]) -> str:
    for outcome in outcomes:
        if outcome.state == "failed" and outcome.message:
            what = f"{outcome.scope} {outcome.name}" if outcome.name else outcome.scope
            return f"Railway rejected the write to {what}: {outcome.message}"
    return ""


def _read_back(
    backend: RailwayBackend, target: Target, writes: tuple[VariableWrite, ...]
) -> dict[str, Variables] | None:
    try:
        return backend.read_variables(
            target.project_id,
            target.environment_id,
            {w.scope: w.service_id for w in writes},
        )
    except UserError:
        return None


def _still_missing(write: VariableWrite, held: Variables) -> VariableWrite:
    return VariableWrite(
        write.scope,
        write.service_id,
        {n: v for n, v in write.upserts.items() if held.get(n) != v},
        tuple(n for n in write.deletions if n in held),
    )


def _truth(
    writes: tuple[VariableWrite, ...],
    held: Mapping[str, Variables],
    result: BatchResult,
    cause: str,
    notes: tuple[str, ...],
) -> _Written:
    """Each scope's state as Railway holds it now, with the answer's message."""
    messages = {o.scope: o.message for o in result.outcomes if o.state == "failed" and o.message}
    attempted = {o.scope for o in result.outcomes if o.state != "not attempted"}
    written: list[str] = []
    not_applied: dict[str, str] = {}
    not_attempted: list[str] = []
    for write in writes:
        left = _still_missing(write, held.get(write.scope, {}))
        total = len(write.upserts) + len(write.deletions)
        missing = len(left.upserts) + len(left.deletions)
        if not missing:
            written.append(write.scope)
        elif write.scope not in attempted and missing == total:
            not_attempted.append(write.scope)
        else:
            state = "not applied" if missing == total else f"{missing} of {total} writes missing"
            reason = messages.get(write.scope)
            not_applied[write.scope] = f"{state}" + (f" ({reason})" if reason else "")
    return _Written(tuple(written), not_applied, tuple(not_attempted), cause, notes)


def _from_answers(writes: tuple[VariableWrite, ...], result: BatchResult, cause: str) -> _Written:
    """Without a read-back: what Railway's answers said, unknown where they did not."""
    states: dict[str, set[str]] = {}
    for outcome in result.outcomes:
        states.setdefault(outcome.scope, set()).add(outcome.state)
    written: list[str] = []
    not_applied: dict[str, str] = {}
    not_attempted: list[str] = []
    for write in writes:
        seen = states.get(write.scope, set())
        if seen == {"applied"}:
            written.append(write.scope)
        elif seen == {"not attempted"}:
            not_attempted.append(write.scope)
        elif "unknown" in seen:
            not_applied[write.scope] = "unknown (no answer, and the read-back failed)"
        else:
            not_applied[write.scope] = "not applied"
    return _Written(tuple(written), not_applied, tuple(not_attempted), cause)
