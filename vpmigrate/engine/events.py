"""Progress events the engine emits; the task layer decides how to show them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Event:
    subject: str  # a service, image, network or volume name
    action: str  # e.g. pulling, pulled, created, recreated, started, healthy, unchanged, removed
    detail: str = ""


class Reporter(Protocol):
    def __call__(self, event: Event) -> None: ...


def silent(event: Event) -> None:
    """A reporter that drops every event."""
