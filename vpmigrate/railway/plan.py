"""Desired vs. current variables: a pure diff, and how to show it without secrets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from vpmigrate.railway.api import Variables
from vpmigrate.railway.desired import DesiredState
from vpmigrate.railway.secrets import fingerprint, is_secret_name, looks_secret

Action = Literal["add", "change", "unchanged", "remove", "sealed"]
# add/change/remove are written; sealed variables read back as null, so they
# cannot be compared and are left alone rather than rewritten on every run.
WRITES: frozenset[str] = frozenset({"add", "change", "remove"})
# Railway adds its own variables (RAILWAY_PRIVATE_DOMAIN, RAILWAY_SERVICE_NAME, ...) to
# every service's list; they are not ours to compare or remove.
RAILWAY_PROVIDED_PREFIX = "RAILWAY_"


@dataclass(frozen=True)
class Change:
    service: str
    name: str
    action: Action
    secret: bool
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
        """Every service the plan covers, in plan order."""
        return tuple(dict.fromkeys(c.service for c in self.changes))

    def services_to_write(self) -> tuple[str, ...]:
        """Services with at least one write, in plan order."""
        return tuple(dict.fromkeys(c.service for c in self.pending))

    def upserts(self, service: str) -> dict[str, str]:
        return {
            c.name: c.desired
            for c in self.pending
            if c.service == service and c.action in ("add", "change") and c.desired is not None
        }

    def deletions(self, service: str) -> tuple[str, ...]:
        return tuple(c.name for c in self.removals if c.service == service)


def make_plan(
    desired: DesiredState, current: Mapping[str, Variables], *, prune: bool = False
) -> Plan:
    """Compare each desired service with its current variables (read unrendered).

    ``current`` maps service name to its variables; with ``prune`` the variables
    the file does not declare are planned for removal.
    """
    changes: list[Change] = []
    for service, variables in desired.services.items():
        have = current.get(service, {})
        declared = set()
        for variable in variables:
            declared.add(variable.name)
            secret = variable.secret or is_secret_name(variable.name)
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
                secret = secret or looks_secret(now)
            changes.append(Change(service, variable.name, action, secret, variable.value, now))
        if prune:
            undeclared = {n for n in have if not n.startswith(RAILWAY_PROVIDED_PREFIX)} - declared
            for name in sorted(undeclared):
                now = have[name]
                secret = now is None or is_secret_name(name) or looks_secret(now)
                changes.append(Change(service, name, "remove", secret, None, now))
    return Plan(desired.environment, tuple(changes))


def _display_value(value: str | None, secret: bool, key: str) -> str:
    if value is None:
        return ""
    return fingerprint(value, key) if secret else value


def plan_rows(plan: Plan, key: str, *, all_rows: bool = False) -> list[list[str]]:
    """Table rows (service, variable, action, current, desired); secrets as fingerprints.

    Unchanged variables are left out unless ``all_rows``.
    """
    rows = []
    for c in plan.changes:
        if c.action == "unchanged" and not all_rows:
            continue
        current = "(sealed)" if c.action == "sealed" else _display_value(c.current, c.secret, key)
        rows.append(
            [c.service, c.name, c.action, current, _display_value(c.desired, c.secret, key)]
        )
    return rows


def plan_json(plan: Plan, key: str) -> dict[str, Any]:
    """The plan as JSON-ready data: never a secret value, fingerprints instead."""
    return {
        "environment": plan.environment,
        "changes": [
            {
                "service": c.service,
                "name": c.name,
                "action": c.action,
                "secret": c.secret,
                "current": _display_value(c.current, c.secret, key) or None,
                "desired": _display_value(c.desired, c.secret, key) or None,
            }
            for c in plan.changes
        ],
    }


STATUS_WORDS: Mapping[str, str] = {
    "add": "missing",
    "change": "different",
    "remove": "extra",
    "unchanged": "ok",
    "sealed": "sealed",
}


def status_rows(plan: Plan, key: str) -> list[list[str]]:
    """`railway.status` rows: the plan in state words; extra secrets by name only."""
    rows = []
    for c in plan.changes:
        if c.action == "remove":
            detail = "" if c.secret else (c.current or "")
        elif c.action == "change":
            before = _display_value(c.current, c.secret, key)
            detail = f"{before} -> {_display_value(c.desired, c.secret, key)}"
        elif c.action == "add":
            detail = _display_value(c.desired, c.secret, key)
        else:
            detail = ""
        rows.append([c.service, c.name, STATUS_WORDS[c.action], detail])
    return rows
