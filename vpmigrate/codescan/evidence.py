"""What the scanner found: one signal at one place, and how strong it is."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

# use: the application talks to it; test: only tests, fixtures or stubs do (weaker than
# use: never makes a service used); declared: configured (a package, an env file);
# mentioned: comments, documents, product names.
Kind = Literal["use", "test", "declared", "mentioned"]
KINDS: tuple[str, ...] = ("use", "test", "declared", "mentioned")
Verdict = Literal["app", "required", "optional", "dev-tool", "unused", "unknown"]

KIND_STRENGTH: dict[str, int] = {"use": 4, "test": 3, "declared": 2, "mentioned": 1}
# Within a kind, how telling a signal is: an import beats a URL beats an env name ...
CATEGORY_STRENGTH: dict[str, int] = {
    "import": 9,
    "call": 8,
    "image": 8,
    "url": 7,
    "host": 6,
    "port": 5,
    "env": 4,
    "binding": 4,
    "driver": 7,
    "needed-by": 3,  # below code evidence: the table should show what the code does
    "package": 2,
    "keep": 2,
    "word": 1,
}


@dataclass(frozen=True, order=True)
class Evidence:
    """`signal` names what matched (never the matched text itself: a URL may carry a
    password); `category` orders signals of the same kind."""

    file: str  # relative to the scan root when below it
    line: int  # 1-based; 0 for configuration that has no line
    signal: str
    kind: Kind
    category: str = "word"

    @property
    def strength(self) -> tuple[int, int]:
        return KIND_STRENGTH[self.kind], CATEGORY_STRENGTH.get(self.category, 0)

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "signal": self.signal, "kind": self.kind}

    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


def strongest(evidence: list[Evidence] | tuple[Evidence, ...]) -> Evidence | None:
    """The most telling item; ties go to the first in file order."""
    best: Evidence | None = None
    for item in sorted(evidence, key=lambda e: (e.file, e.line)):
        if best is None or item.strength > best.strength:
            best = item
    return best


@dataclass(frozen=True)
class Found:
    """One signal in one file, before it is attributed to services."""

    line: int
    signal: str
    category: str
    kind: Kind
    services: frozenset[str]
    key: str = ""  # for "env-generic" and "binding": the variable name


def display_path(path: str | os.PathLike[str], base: str | os.PathLike[str]) -> str:
    """`path` as the user reads it: relative to `base` (with `/`) when it lies under it,
    `.` for `base` itself, else as given. Both are expected absolute and resolved."""
    text, root = os.fspath(path), os.fspath(base).rstrip(os.sep)
    if text == root:
        return "."
    if text.startswith(root + os.sep):
        return text[len(root) + 1 :].replace(os.sep, "/")
    return text
