"""Walk the code, prefilter each file's bytes, parse the selected ones, and collect
evidence per service."""

from __future__ import annotations

import io
import itertools
import multiprocessing
import os
import queue
import signal
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
MAX_LISTED = 20  # unreadable paths kept by name; the rest are counted
# Folders and file names whose code is a test, a fixture or a stub: what it uses is
# weaker evidence than the application's use (a stale test that stubs REDIS_HOST does
# not make Redis used).
TEST_DIRS = frozenset(
    {
        "test",
        "tests",
        "__tests__",
        "spec",
        "specs",
        "__mocks__",
        "mocks",
        "mock",
        "stubs",
        "fixtures",
        "__fixtures__",
        "testdata",
        "e2e",
        "cypress",
        "playwright",
    }
)


@dataclass(frozen=True)
class ScanStats:
    files: int = 0  # files read
    selected: int = 0  # files the prefilter passed to a parser
    bytes_read: int = 0
    oversized: int = 0
    unreadable: int = 0  # files and folders that could not be read


@dataclass(frozen=True)
class ScanResult:
    evidence: dict[str, list[Evidence]]
    stats: ScanStats
    unreadable: tuple[str, ...] = ()  # the first MAX_LISTED, as shown to the user


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
    run in one worker process per CPU; small trees are done in-process. Files and
    folders that cannot be read are counted and named (a partial read must not let a
    service be called unused)."""
    roots = [Path(r).resolve() for r in roots]
    found_by_file: list[tuple[str, list[Found]]] = []
    files = selected = total = oversized = 0
    base = str(display_base.resolve())
    errors: list[str] = []
    work = _Work(index, build_prefilter(index.literals()), max_file_bytes)
    paths = _unique(
        p for root in roots for p in walk(root, exclude=exclude, skip=skip, errors=errors)
    )
    for batch in _batches(paths, work, chunk_size):
        files += batch.files
        total += batch.bytes_read
        oversized += batch.oversized
        selected += batch.selected
        errors += batch.unreadable
        found_by_file += batch.found
    evidence = _attribute(found_by_file, roots, base, index)
    ordered = {
        name: sorted(items, key=lambda e: (e.file, e.line, e.signal))
        for name, items in evidence.items()
    }
    shown = tuple(display_path(e, base) for e in errors[:MAX_LISTED])
    stats = ScanStats(files, selected, total, oversized, len(errors))
    return ScanResult(ordered, stats, shown)


def is_test_path(path: str, roots: Iterable[Path]) -> bool:
    """Whether a file is a test, fixture or stub (judged below its scan root)."""
    relative = path
    for root in roots:
        prefix = str(root) + os.sep
        if path.startswith(prefix):
            relative = path[len(prefix) :]
            break
    parts = relative.split(os.sep)
    if any(part.lower() in TEST_DIRS for part in parts[:-1]):
        return True
    name = parts[-1].lower()
    stem = name.split(".", 1)[0]
    return (
        name == "conftest.py"
        or stem.startswith("test_")
        or stem.endswith(("_test", "_spec"))
        or ".test." in name
        or ".spec." in name
    )


def _attribute(
    found_by_file: list[tuple[str, list[Found]]],
    roots: list[Path],
    base: str,
    index: SignalIndex,
) -> dict[str, set[Evidence]]:
    """Findings to evidence per service. Generic variable names (DATABASE_URL,
    EMAIL_HOST) go to the services some value of them points at, anywhere in the
    application's configuration or code (a binding) or in the compose file; with no
    such value they are only "declared". Tests and fixtures are "test" evidence."""
    bound: dict[str, set[str]] = defaultdict(set)
    tests = {path for path, _ in found_by_file if is_test_path(path, roots)}
    for path, found in found_by_file:
        if path in tests:
            continue
        for item in found:
            if item.category == "binding":
                bound[item.key] |= item.services
    evidence: dict[str, set[Evidence]] = defaultdict(set)
    for path, found in found_by_file:
        shown = display_path(path, base)
        in_tests = path in tests
        for item in found:
            kind, services, signal = item.kind, item.services, item.signal
            if item.category == "env-generic":
                targets = bound.get(item.key, set()) | index.env.get(item.key, set())
                if targets:
                    services = frozenset(targets)
                elif kind == "use":
                    kind, signal = "declared", f"{signal} (no value of it points at a service)"
            if in_tests and kind == "use":
                kind = "test"
            category = "env" if item.category == "env-generic" else item.category
            for service in services:
                evidence[service].add(Evidence(shown, item.line, signal, kind, category))
    return evidence


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
    selected: int
    unreadable: list[str]


# Set just before worker processes are forked, so they inherit the index and the
# automaton instead of receiving them pickled (the automaton cannot be).
_worker_work: _Work | None = None


def _scan_in_worker(paths: list[str]) -> _Batch:
    assert _worker_work is not None
    return _scan_chunk(paths, _worker_work)


def _scan_chunk(paths: list[str], work: _Work) -> _Batch:
    found = []
    unreadable: list[str] = []
    files = total = oversized = selected = 0
    buffer = bytearray(work.limit + 1)  # one buffer for every file: no allocation per read
    view = memoryview(buffer)
    for path in paths:
        try:
            # O_NONBLOCK: a FIFO that slipped in between the walk and the read must not
            # block the scan (the walker yields regular files only)
            descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
            with open(descriptor, "rb", buffering=0) as handle:
                size = _read_into(handle, view)
        except FileNotFoundError:
            continue  # removed while the scan ran: nothing to read, nothing lost
        except OSError:
            unreadable.append(path)
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
            continue  # a binary file
        selected += 1
        text = data.decode("utf-8", errors="replace")
        try:
            items = extractor_for(os.path.basename(path))(text, work.index)
        except RecursionError:  # absurdly nested templates: still say what the file names
            items = lines_found(text, work.index, kind="mentioned")
        if items:
            found.append((path, items))
    return _Batch(found, files, total, oversized, selected, unreadable)


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
    workers = _worker_count()
    if len(first) < chunk_size or workers < 2:
        yield _scan_chunk(first, work)
        for chunk in chunks:
            yield _scan_chunk(chunk, work)
        return
    _worker_work = work
    try:
        pool = _ForkPool(workers)
    except (OSError, ValueError):  # no fork or no processes here: do it in-process
        _worker_work = None
        yield _scan_chunk(first, work)
        for chunk in chunks:
            yield _scan_chunk(chunk, work)
        return
    try:
        yield from pool.run(itertools.chain([first], chunks))
    finally:
        pool.stop()
        _worker_work = None


class _ForkPool:
    """Worker processes forked with the index and the automaton in memory. They ignore
    SIGINT: Ctrl-C reaches the parent alone, which kills them (no worker traceback, no
    wait on a half-written queue) and goes on to report the interruption."""

    def __init__(self, count: int) -> None:
        context = multiprocessing.get_context("fork")
        self.tasks: multiprocessing.Queue[list[str] | None] = context.Queue()
        self.results: multiprocessing.Queue[_Batch | BaseException] = context.Queue()
        self.count = count
        # Blocked, not ignored, while forking: a Ctrl-C in that moment waits and reaches
        # the parent afterwards (ignoring it here lost it); each worker ignores it.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            self.processes = [
                context.Process(target=_worker_loop, args=(self.tasks, self.results), daemon=True)
                for _ in range(count)
            ]
            for process in self.processes:
                process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})

    def run(self, chunks: Iterator[list[str]]) -> Iterator[_Batch]:
        outstanding = 0
        exhausted = False
        while True:
            while not exhausted and outstanding < 2 * self.count:
                chunk = next(chunks, None)
                if chunk is None:
                    exhausted = True
                    break
                self.tasks.put(chunk)
                outstanding += 1
            if not outstanding:
                return
            result = self._result()
            outstanding -= 1
            if isinstance(result, BaseException):
                raise result
            yield result

    def _result(self) -> _Batch | BaseException:
        while True:
            try:
                return self.results.get(timeout=0.5)
            except queue.Empty:
                if not all(p.is_alive() for p in self.processes):
                    raise OSError("a scan worker process died; re-run the scan") from None

    def stop(self) -> None:
        for process in self.processes:
            if process.is_alive():
                process.kill()
        for process in self.processes:
            process.join(timeout=1)
        for channel in (self.tasks, self.results):
            channel.cancel_join_thread()  # never wait at exit on a pipe nobody reads
            channel.close()


def _worker_loop(tasks: multiprocessing.Queue, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # drops one pending from the fork's moment
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    while True:
        chunk = tasks.get()
        if chunk is None:
            return
        try:
            results.put(_scan_in_worker(chunk))
        except Exception as exc:  # noqa: BLE001 - handed to the parent, which raises it
            results.put(RuntimeError(f"{type(exc).__name__}: {exc}"))


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
