"""Walk the code, prefilter each file's bytes, parse the selected ones, and collect
evidence per service."""

from __future__ import annotations

import io
import itertools
import multiprocessing
import os
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from vpmigrate.codescan.evidence import Evidence, Found, display_path
from vpmigrate.codescan.index import SignalIndex
from vpmigrate.codescan.js_source import js_evidence
from vpmigrate.codescan.notebooks import notebook_evidence
from vpmigrate.codescan.prefilter import Prefilter, build_prefilter
from vpmigrate.codescan.python_source import python_evidence
from vpmigrate.codescan.text_files import (
    config_evidence,
    document_evidence,
    env_file_evidence,
    lines_found,
    package_json_evidence,
    pyproject_evidence,
    requirements_evidence,
)
from vpmigrate.codescan.walker import walk

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

    Once the tree has more than `chunk_size` files, reading, prefiltering and parsing
    run in one worker process per CPU; small trees are done in-process."""
    evidence: dict[str, set[Evidence]] = defaultdict(set)
    files = selected = total = oversized = binary = 0
    base = str(display_base.resolve())
    work = _Work(index, build_prefilter(index.literals()), max_file_bytes)
    paths = _unique(p for root in roots for p in walk(root, exclude=exclude, skip=skip))
    for batch in _batches(paths, work, chunk_size):
        files += batch.files
        total += batch.bytes_read
        oversized += batch.oversized
        binary += batch.binary
        selected += batch.selected
        for path, found in batch.found:
            shown = display_path(path, base)
            for item in found:
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
class _Work:
    index: SignalIndex
    prefilter: Prefilter
    limit: int  # max_file_bytes


@dataclass(frozen=True)
class _Batch:
    found: list[tuple[str, list[Found]]]  # per parsed file
    files: int
    bytes_read: int
    oversized: int
    binary: int
    selected: int


# Set just before worker processes are forked, so they inherit the index and the
# automaton instead of receiving them pickled (the automaton cannot be).
_worker_work: _Work | None = None


def _scan_in_worker(paths: list[str]) -> _Batch:
    assert _worker_work is not None
    return _scan_chunk(paths, _worker_work)


def _scan_chunk(paths: list[str], work: _Work) -> _Batch:
    found = []
    files = total = oversized = binary = selected = 0
    buffer = bytearray(work.limit + 1)  # one buffer for every file: no allocation per read
    view = memoryview(buffer)
    for path in paths:
        try:
            with open(path, "rb", buffering=0) as handle:
                size = _read_into(handle, view)
        except OSError:
            continue
        files += 1
        total += size
        if size > work.limit:
            oversized += 1
            continue
        if not work.prefilter(view[:size]):
            continue
        data = bytes(view[:size])
        if b"\0" in data[:BINARY_PROBE]:
            binary += 1
            continue
        selected += 1
        text = data.decode("utf-8", errors="replace")
        try:
            items = extractor_for(os.path.basename(path))(text, work.index)
        except RecursionError:  # absurdly nested templates: still say what the file names
            items = lines_found(text, work.index, kind="mentioned")
        if items:
            found.append((path, items))
    return _Batch(found, files, total, oversized, binary, selected)


def _read_into(handle: io.RawIOBase, view: memoryview) -> int:
    """Fill `view` from the start with the file's first bytes; returns how many."""
    size = 0
    while size < len(view):
        count = handle.readinto(view[size:])
        if not count:
            break
        size += count
    return size


def _batches(paths: Iterator[str], work: _Work, chunk_size: int) -> Iterator[_Batch]:
    global _worker_work
    chunks = _chunks(paths, chunk_size)
    first = next(chunks, [])
    pool = None
    if len(first) == chunk_size and _worker_count() > 1:
        _worker_work = work
        try:
            pool = multiprocessing.get_context("fork").Pool(_worker_count())
        except (OSError, ValueError):  # no fork or no processes here: do it in-process
            pool = None
    if pool is None:
        yield _scan_chunk(first, work)
        for chunk in chunks:
            yield _scan_chunk(chunk, work)
        return
    try:
        yield from pool.imap(_scan_in_worker, itertools.chain([first], chunks))
    finally:
        pool.terminate()
        pool.join()
        _worker_work = None


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
