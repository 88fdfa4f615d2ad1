"""Walk the code, prefilter each file's bytes, parse the selected ones, and collect
evidence per service."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from vpmigrate.usage.evidence import Evidence, Found
from vpmigrate.usage.index import SignalIndex
from vpmigrate.usage.js_source import js_evidence
from vpmigrate.usage.notebooks import notebook_evidence
from vpmigrate.usage.prefilter import Prefilter, build_prefilter
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
CHUNK_SIZE = 1000  # files per unit of work; a smaller tree is read in-process
MAX_WORKERS = 8


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
    if suffix == ".ipynb":
        return notebook_evidence
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
    chunk_size: int = CHUNK_SIZE,
) -> ScanResult:
    """Evidence per service from every file below `roots`; each file is read once.

    Reading and prefiltering (most of the time on a large tree) run in worker processes
    once the tree has more than `chunk_size` files; parsing the few selected files
    stays here."""
    evidence: dict[str, set[Evidence]] = defaultdict(set)
    files = selected = total = oversized = binary = 0
    base = str(display_base.resolve())
    prefilter = build_prefilter(index.literals())
    paths = _unique(p for root in roots for p in walk(root, exclude=exclude, skip=skip))
    for batch in _batches(paths, prefilter, max_file_bytes, chunk_size):
        files += batch.files
        total += batch.bytes_read
        oversized += batch.oversized
        for path, data in batch.selected:
            if b"\0" in data[:BINARY_PROBE]:
                binary += 1
                continue
            selected += 1
            text = data.decode("utf-8", errors="replace")
            shown = _shown(path, base)
            for item in extractor_for(os.path.basename(path))(text, index):
                for service in item.services:
                    evidence[service].add(
                        Evidence(shown, item.line, item.signal, item.kind, item.category)
                    )
    ordered = {
        name: sorted(items, key=lambda e: (e.file, e.line, e.signal))
        for name, items in evidence.items()
    }
    return ScanResult(ordered, ScanStats(files, selected, total, oversized, binary))


@dataclass(frozen=True)
class _Batch:
    selected: list[tuple[str, bytes]]  # files whose bytes contain a signature literal
    files: int
    bytes_read: int
    oversized: int


# Set just before worker processes are forked, so they inherit the automaton instead of
# receiving it pickled (it cannot be).
_worker_prefilter: Prefilter | None = None
_worker_limit = 0


def _read_and_select(paths: list[str]) -> _Batch:
    assert _worker_prefilter is not None
    return _select(paths, _worker_prefilter, _worker_limit)


def _select(paths: list[str], prefilter: Prefilter, limit: int) -> _Batch:
    selected = []
    files = total = oversized = 0
    for path in paths:
        try:
            with open(path, "rb") as handle:
                data = handle.read(limit + 1)
        except OSError:
            continue
        files += 1
        total += len(data)
        if len(data) > limit:
            oversized += 1
        elif prefilter(data):
            selected.append((path, data))
    return _Batch(selected, files, total, oversized)


def _batches(
    paths: Iterator[str], prefilter: Prefilter, limit: int, chunk_size: int
) -> Iterator[_Batch]:
    global _worker_prefilter, _worker_limit
    chunks = _chunks(paths, chunk_size)
    first = next(chunks, [])
    workers = _worker_count()
    if len(first) < chunk_size or workers < 2:
        yield _select(first, prefilter, limit)
        for chunk in chunks:
            yield _select(chunk, prefilter, limit)
        return
    _worker_prefilter, _worker_limit = prefilter, limit
    try:
        pool = multiprocessing.get_context("fork").Pool(workers)
    except (OSError, ValueError):  # no fork here, or no processes allowed: do it in-process
        yield _select(first, prefilter, limit)
        for chunk in chunks:
            yield _select(chunk, prefilter, limit)
        return
    try:
        yield from pool.imap(_read_and_select, itertools.chain([first], chunks))
    finally:
        pool.terminate()
        pool.join()
        _worker_prefilter = None


def _worker_count() -> int:
    if sys.platform != "linux":
        return 1  # fork is the only start method that shares the automaton cheaply
    try:
        available = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        available = os.cpu_count() or 1
    return min(available, MAX_WORKERS)


def _chunks(paths: Iterator[str], size: int) -> Iterator[list[str]]:
    while chunk := list(itertools.islice(paths, size)):
        yield chunk


def _unique(paths: Iterator[str]) -> Iterator[str]:
    seen: set[str] = set()
    for path in paths:
        if path not in seen:
            seen.add(path)
            yield path


def _shown(path: str, base: str) -> str:
    if path.startswith(base + os.sep):
        return path[len(base) + 1 :].replace(os.sep, "/")
    return path
