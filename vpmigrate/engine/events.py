"""Progress events the engine emits; the task layer decides how to show them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

# What happened to an event's subject. Anything variable (a container count, a build
# step, a reason) goes in the event's detail.
Action = Literal[
    # images
    "pulling",
    "pulled",
    "building",
    "built",
    # networks, volumes and containers
    "created",
    "recreating",
    "recreated",
    "restarted",
    "started",
    "unchanged",
    "removed",
    "orphan",
    # a service's readiness, once `up` has waited for it
    "healthcheck passed",
    "healthy",
    "starting",
    "unhealthy",
    "running",
    "completed",
    "no containers",
    "failed",
    # something the engine cannot do as the file asks, said and worked around
    "warning",
]


@dataclass(frozen=True)
class Event:
    subject: str  # a service, image, network or volume name
    action: Action
    detail: str = ""


class Reporter(Protocol):
    def __call__(self, event: Event) -> None: ...


def silent(event: Event) -> None:
    """A reporter that drops every event."""
