"""Bounds on what a remote server can make this process do, shared by the HTTP clients
(Railway's GraphQL API, MLflow's REST API).

`within(seconds, work)`: an overall deadline on one exchange. httpx's timeouts apply to
each read, so a server that sends one byte of its status line, headers or body every
few seconds is never cut off by them; `work` runs in a worker thread instead, and the
caller stops waiting at the deadline whatever the socket does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
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
