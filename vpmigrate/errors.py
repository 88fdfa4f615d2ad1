"""Errors the user can act on.

Core code raises `UserError` for expected failures (bad input, an unreachable
daemon, a refused token, ...). The task layer turns it into a one-paragraph
message on stderr and a non-zero exit, without a traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """An expected failure with a message that says what is wrong and what to do."""

    exit_code: int = 1

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message
