"""Desired vs. current variables: a pure diff, and how to show it without secrets.

Values read from Railway are never shown: a fingerprint stands for each (an extra
variable named ``SENTRY_DSN`` or ``NOTES`` may hold a credential as well as one
named ``..._KEY``). Desired values are shown unless they are secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from vpmigrate.railway.api import SHARED, Variables, VariableWrite
from vpmigrate.railway.desired import DesiredState, shared_references
from vpmigrate.railway.secrets import fingerprint, looks_secret

Action = Literal["add", "change", "unchanged", "remove", "sealed"]
# add/change/remove are written; sealed variables read back as null, so they
# cannot be compared and are left alone rather than rewritten on every run.
WRITES: frozenset[str] = frozenset({"add", "change", "remove"})
# Railway adds its own variables (RAILWAY_PRIVATE_DOMAIN, RAILWAY_SERVICE_NAME, ...) to
# every service's list; they are not ours to compare or remove.
RAILWAY_PROVIDED_PREFIX = "RAILWAY_"


@dataclass(frozen=True)
class Change:
    service: str  # a service name, or SHARED for the environment's shared variables
    name: str
    action: Action
    secret: bool  # the desired value is secret
    desired: str | None = field(default=None, repr=False)
    current: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Plan:
    environment: str
    changes: tuple[Change, ...]

    @property
    def pending(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.action in WRITES)

    @property
    def removals(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.action == "remove")

    def services(self) -> tuple[str, ...]:
        """Every scope the plan covers (shared first), in plan order."""
        return tuple(dict.fromkeys(c.service for c in self.changes))

    def services_to_write(self) -> tuple[str, ...]:
        """Scopes with at least one write, in plan order (shared first)."""
        return tuple(dict.fromkeys(c.service for c in self.pending))

    def upserts(self, service: str) -> dict[str, str]:
        return {
            c.name: c.desired
            for c in self.pending
            if c.service == service and c.action in ("add", "change") and c.desired is not None
        }

    def deletions(self, service: str) -> tuple[str, ...]:
        return tuple(c.name for c in self.removals if c.service == service)

    def desired_shared_users(self) -> dict[str, tuple[str, ...]]:
        """Shared variable name -> the services whose desired values reference it."""
        users: dict[str, set[str]] = {}
        for c in self.changes:
            if c.service != SHARED and c.desired is not None:
                for name in shared_references(c.desired):
                    users.setdefault(name, set()).add(c.service)
        return {name: tuple(sorted(services)) for name, services in sorted(users.items())}

    def changed_shared(self) -> frozenset[str]:
        """Shared variables this plan adds, changes or removes."""
        return frozenset(c.name for c in self.pending if c.service == SHARED)

    def writes(self, service_ids: Mapping[str, str]) -> tuple[VariableWrite, ...]:
        """What to send, scope by scope (shared first)."""
        return tuple(
            VariableWrite(
                scope,
                None if scope == SHARED else service_ids[scope],
                self.upserts(scope),
                self.deletions(scope),
            )
            for scope in self.services_to_write()
        )


def make_plan(
    desired: DesiredState, current: Mapping[str, Variables], *, prune: bool = False
) -> Plan:
    """Compare each desired scope (shared variables, services) with its current
    variables (read unrendered).

    ``current`` maps scope name to its variables; with ``prune`` the variables the
    file does not declare are planned for removal (shared ones only when the file
    has a ``shared:`` block for this environment).
    """
    changes: list[Change] = []
    for scope, variables in desired.scopes().items():
        have = current.get(scope, {})
        declared = set()
        for variable in variables:
            declared.add(variable.name)
            secret = variable.secret
            now = have.get(variable.name)
            action: Action
            if variable.name not in have:
                action = "add"
            elif now is None:
                action = "sealed"
            elif now == variable.value:
                action = "unchanged"
            else:
                action = "change"
            changes.append(Change(scope, variable.name, action, secret, variable.value, now))
        if prune:
            undeclared = {n for n in have if not n.startswith(RAILWAY_PROVIDED_PREFIX)} - declared
            for name in sorted(undeclared):
                changes.append(Change(scope, name, "remove", True, None, have[name]))
    return Plan(desired.environment, tuple(changes))


def shared_users(current: Mapping[str, Variables]) -> dict[str, tuple[str, ...]]:
    """Shared variable name -> the services whose variables (as read, unrendered)
    reference it with ``${{shared.NAME}}``."""
    users: dict[str, set[str]] = {}
    for scope, variables in current.items():
        if scope == SHARED:
            continue
        for value in variables.values():
            for name in shared_references(value or ""):
                users.setdefault(name, set()).add(scope)
    return {name: tuple(sorted(services)) for name, services in sorted(users.items())}


def _desired_shown(c: Change, key: str) -> str:
    if c.desired is None:
        return ""
    return fingerprint(c.desired, key) if c.secret or looks_secret(c.desired) else c.desired


def _current_shown(c: Change, key: str) -> str:
    """A value read from Railway: never shown, a fingerprint stands for it."""
    if c.action == "sealed":
        return "(sealed)"
    return "" if c.current is None else fingerprint(c.current, key)


def plan_rows(plan: Plan, key: str, *, all_rows: bool = False) -> list[list[str]]:
    """Table rows (service, variable, action, current, desired).

    Unchanged variables are left out unless ``all_rows``.
    """
    return [
        [c.service, c.name, c.action, _current_shown(c, key), _desired_shown(c, key)]
        for c in plan.changes
        if c.action != "unchanged" or all_rows
    ]


def change_json(c: Change, key: str) -> dict[str, Any]:
    return {
        "service": c.service,
        "name": c.name,
        "action": c.action,
        "secret": c.secret,
        "current": _current_shown(c, key) or None,
        "desired": _desired_shown(c, key) or None,
    }


def plan_json(plan: Plan, key: str) -> dict[str, Any]:
    """The plan as JSON-ready data: never a value read from Railway nor a secret value;
    fingerprints instead."""
    return {
        "environment": plan.environment,
        "changes": [change_json(c, key) for c in plan.changes],
    }


STATUS_WORDS: Mapping[str, str] = {
    "add": "missing",
    "change": "different",
    "remove": "extra",
    "unchanged": "ok",
    "sealed": "sealed",
}


def status_rows(plan: Plan, key: str) -> list[list[str]]:
    """`railway.status` rows: the plan in state words; what Railway holds as fingerprints."""
    rows = []
    for c in plan.changes:
        if c.action == "remove":
            detail = _current_shown(c, key)
        elif c.action == "change":
            detail = f"{_current_shown(c, key)} -> {_desired_shown(c, key)}"
        elif c.action == "add":
            detail = _desired_shown(c, key)
        else:
            detail = ""
        rows.append([c.service, c.name, STATUS_WORDS[c.action], detail])
    return rows


@dataclass(frozen=True)
class SharedState:
    """One shared variable: its state against the file, and who references it on Railway."""

    name: str
    state: str
    referenced_by: tuple[str, ...]


@dataclass(frozen=True)
class StatusReport:
    """`railway.status` for one environment."""

    environment: str
    plan: Plan
    scopes: tuple[str, ...]  # the desired scopes, in file order (shared first)
    missing: tuple[str, ...]  # desired services that do not exist on Railway
    drift: tuple[Change, ...]
    shared: tuple[SharedState, ...]
    mlflow_service: str

    @property
    def in_sync(self) -> bool:
        return not self.drift and not self.missing


def status_report(
    desired: DesiredState,
    services: Mapping[str, str],
    current: Mapping[str, Variables],
    *,
    prune: bool = False,
) -> StatusReport:
    """Drift is what `sync-env` would write: missing and different variables, services
    that do not exist, and with ``prune`` the variables the file does not declare."""
    plan = make_plan(desired, current, prune=True)
    missing = tuple(n for n in desired.services if n not in services)
    drift = tuple(
        c for c in plan.changes if c.action in ("add", "change") or (prune and c.action == "remove")
    )
    users = shared_users(current)
    actions = {c.name: c.action for c in plan.changes if c.service == SHARED}
    names = set(current.get(SHARED, {})) | {v.name for v in desired.shared or ()} | set(users)
    shared = []
    for name in sorted(names):
        if desired.shared is None:
            state = "not in the file"
        else:
            state = STATUS_WORDS.get(actions.get(name, ""), "referenced, not declared")
        shared.append(SharedState(name, state, users.get(name, ())))
    return StatusReport(
        desired.environment,
        plan,
        tuple(desired.scopes()),
        missing,
        drift,
        tuple(shared),
        desired.mlflow.service,
    )


def status_table(report: StatusReport, key: str) -> list[list[str]]:
    """Rows (service, variable, state, detail), scope by scope in file order."""
    rows: list[list[str]] = []
    every = status_rows(report.plan, key)
    for scope in report.scopes:
        if scope in report.missing:
            hint = "inv railway.provision" if scope == report.mlflow_service else ""
            rows.append([scope, "", "service missing", hint])
        else:
            rows.extend(r for r in every if r[0] == scope)
    return rows


def status_json(report: StatusReport, key: str) -> dict[str, Any]:
    return {
        "environment": report.environment,
        "in_sync": report.in_sync,
        "services_missing": list(report.missing),
        "drift": [change_json(c, key) for c in report.drift],
        "shared": [
            {"name": s.name, "state": s.state, "referenced_by": list(s.referenced_by)}
            for s in report.shared
        ],
    }
