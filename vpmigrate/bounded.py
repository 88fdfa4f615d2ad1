"""Bounds on what a remote server can make this process do, shared by the HTTP clients
(Railway's GraphQL API, MLflow's REST API).

`within(seconds, work)`: an overall deadline on one exchange. httpx's timeouts apply to
each read, so a server that sends one byte of its status line, headers or body every
few seconds is never cut off by them; `work` runs in a worker thread instead, and the
caller stops waiting at the deadline whatever the socket does.

`read_decoded(chunks, encoding, limit)`: an answer's body, decompressed chunk by chunk
with every piece bounded, so a compression bomb stops at `limit` instead of filling the
memory. The clients ask for gzip and deflate only and decode here, not in httpx (which
inflates a chunk whole).
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")


class Late(Exception):
    """The work did not finish within its deadline (it was abandoned)."""


def within(
    seconds: float,
    work: Callable[[], T],
    *,
    abandon: Callable[[], None] | None = None,
    discard: Callable[[T], None] | None = None,
    name: str = "bounded-exchange",
) -> T:
    """`work()`'s result, or its exception re-raised here, or `Late` after `seconds`.

    A thread blocked on a socket cannot be interrupted, only left behind: at the
    deadline `abandon` (if given) cuts the work loose (e.g. closes its client, so its
    socket fails at the next byte), and a result that arrives after the caller gave up
    is handed to `discard` (e.g. to close a response nobody will read). The worker is a
    daemon thread: it never holds the process open.
    """
    lock = threading.Lock()
    done = threading.Event()
    results: list[T] = []
    errors: list[BaseException] = []
    gave_up = False

    def run() -> None:
        try:
            result = work()
        except BaseException as exc:  # handed to the caller's thread
            errors.append(exc)
        else:
            with lock:
                results.append(result)
                late = gave_up
            if late and discard is not None:
                try:
                    discard(result)
                except Exception:  # nobody is left to tell
                    pass
        finally:
            done.set()

    threading.Thread(target=run, name=name, daemon=True).start()
    if not done.wait(seconds):
        with lock:
            gave_up = not results and not errors
        if gave_up:
            if abandon is not None:
                abandon()
            raise Late()
    if errors:
        raise errors[0]
    return results[0]


class TooBig(Exception):
    """The answer is larger than its limit, compressed or once decompressed."""


class UnknownEncoding(Exception):
    """The answer's Content-Encoding is not one this module decodes (its value)."""


DECODED = ("gzip", "x-gzip", "deflate")


def read_decoded(
    chunks: Iterable[bytes], encoding: str, limit: int, until: float | None = None
) -> bytes:
    """The body arriving as `chunks` (e.g. httpx's `iter_raw()`), decoded according to
    its Content-Encoding `encoding` (none, gzip, or deflate with or without its zlib
    header). Raises `TooBig` past `limit` bytes (as sent or decoded), `Late` on a chunk
    arriving after `until` (a `time.monotonic()` value), `UnknownEncoding` for another
    coding, and `zlib.error` for a corrupt stream."""
    codings = [c.strip() for c in encoding.lower().split(",") if c.strip() not in ("", "identity")]
    if len(codings) > 1 or (codings and codings[0] not in DECODED):
        raise UnknownEncoding(encoding)
    # 32 + 15: a zlib or gzip header, detected; raw deflate is tried below.
    decoder = zlib.decompressobj(47) if codings else None
    parts: list[bytes] = []
    size = 0
    sent = 0
    for chunk in chunks:
        if until is not None and time.monotonic() > until:
            raise Late()
        sent += len(chunk)
        if sent > limit:
            raise TooBig()
        if decoder is None:
            parts.append(chunk)
            size += len(chunk)
            continue
        data = chunk
        while data:
            try:
                piece = decoder.decompress(data, limit - size + 1)
            except zlib.error:
                if size or parts:
                    raise
                decoder = zlib.decompressobj(-15)  # deflate without the zlib header
                piece = decoder.decompress(data, limit - size + 1)
            parts.append(piece)
            size += len(piece)
            if size > limit:
                raise TooBig()
            data = decoder.unconsumed_tail
    return b"".join(parts)
