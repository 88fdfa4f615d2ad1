"""Walk the code, prefilter each file's bytes, parse the selected ones, and collect
evidence per service."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from vpmigrate.usage.evidence import Evidence, Found
from vpmigrate.usage.index import SignalIndex
from vpmigrate.usage.js_source import js_evidence
from vpmigrate.usage.prefilter import build_prefilter
from vpmigrate.usage.python_source import python_evidence
from vpmigrate.usage.text_files import (
    config_evidence,
    document_evidence,
    env_file_evidence,
    package_json_evidence,
    pyproject_evidence,
    requirements_evidence,
)
from vpmigrate.usage.walker import walk

Extractor = Callable[[str, SignalIndex], list[Found]]
JS_SUFFIXES = frozenset(
    {".js", ".jsx", ".ts", ".tsx", ".mjs", ".cjs", ".mts", ".cts", ".vue", ".svelte"}
)
DOCUMENT_SUFFIXES = frozenset({".md", ".markdown", ".mdx", ".rst", ".txt", ".adoc", ".org"})
BINARY_PROBE = 8192


@dataclass(frozen=True)
class ScanStats:
    files: int = 0  # files read
    selected: int = 0  # files the prefilter passed to a parser
    bytes_read: int = 0
    oversized: int = 0
    binary: int = 0


@dataclass(frozen=True)
class ScanResult:
    evidence: dict[str, list[Evidence]]
    stats: ScanStats


def extractor_for(name: str) -> Extractor:
    lower = name.lower()
    suffix = os.path.splitext(lower)[1]
    if suffix in (".py", ".pyi"):
        return python_evidence
    if suffix in JS_SUFFIXES:
        return js_evidence
    if lower == "package.json":
        return package_json_evidence
    if lower in ("pyproject.toml", "pipfile"):
        return pyproject_evidence
    if suffix == ".txt" and lower.startswith(("requirements", "constraints")):
        return requirements_evidence
    if suffix in DOCUMENT_SUFFIXES:
        return document_evidence
    if lower == ".env" or lower.startswith(".env.") or suffix == ".env":
        return env_file_evidence
    return config_evidence


def scan_code(
    roots: Iterable[Path],
    index: SignalIndex,
    *,
    display_base: Path,
    max_file_bytes: int,
    exclude: tuple[str, ...] = (),
    skip: frozenset[Path] = frozenset(),
) -> ScanResult:
    """Evidence per service from every file below `roots`; each file is read once."""
    prefilter = build_prefilter(index.literals())
    evidence: dict[str, set[Evidence]] = defaultdict(set)
    files = selected = total = oversized = binary = 0
    base = str(display_base.resolve())
    seen: set[Path] = set()
    for root in roots:
        for path in walk(root, exclude=exclude, skip=skip):
            if path in seen:
                continue
            seen.add(path)
            try:
                with open(path, "rb") as handle:
                    data = handle.read(max_file_bytes + 1)
            except OSError:
                continue
            files += 1
            total += len(data)
            if len(data) > max_file_bytes:
                oversized += 1
                continue
            if not prefilter(data):
                continue
            if b"\0" in data[:BINARY_PROBE]:
                binary += 1
                continue
            selected += 1
            text = data.decode("utf-8", errors="replace")
            shown = _shown(str(path), base)
            for item in extractor_for(path.name)(text, index):
                for service in item.services:
                    evidence[service].add(
                        Evidence(shown, item.line, item.signal, item.kind, item.category)
                    )
    ordered = {
        name: sorted(items, key=lambda e: (e.file, e.line, e.signal))
        for name, items in evidence.items()
    }
    return ScanResult(ordered, ScanStats(files, selected, total, oversized, binary))


def _shown(path: str, base: str) -> str:
    if path.startswith(base + os.sep):
        return path[len(base) + 1 :].replace(os.sep, "/")
    return path
