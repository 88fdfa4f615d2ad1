"""What a check reports, and keeping secrets out of what it reports."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

MASK = "***"


@dataclass(frozen=True)
class CheckResult:
    name: str  # short id shown in the CHECK column, e.g. "postgres"
    passed: bool
    detail: str  # what was checked and what happened (never a secret)
    hint: str = ""  # on failure: what to do about it


@dataclass(frozen=True)
class Problem:
    """Why a check cannot even start (e.g. the service is not running), and what to do."""

    reason: str
    hint: str

    def as_result(self, name: str) -> CheckResult:
        return CheckResult(name, False, self.reason, self.hint)


class StackCheck(Protocol):
    """One row of `inv local.verify`."""

    @property
    def name(self) -> str: ...

    def run(self) -> CheckResult: ...


@dataclass(frozen=True)
class Redactor:
    """Masks known secret values in text that may come from a client library's error."""

    secrets: tuple[str, ...] = ()

    @classmethod
    def of(cls, values: Iterable[str | None]) -> Redactor:
        # Longest first so a secret that contains another is masked whole; very short
        # values would mask ordinary words and are not worth guessing at.
        kept = sorted({v for v in values if v and len(v) >= 4}, key=len, reverse=True)
        return cls(tuple(kept))

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text

    def result(self, result: CheckResult) -> CheckResult:
        return CheckResult(result.name, result.passed, self(result.detail), self(result.hint))


def first_line(exc: BaseException, limit: int = 300) -> str:
    """A client error's message, one line, bounded: enough to act on, no wall of text."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
