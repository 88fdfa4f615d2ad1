"""Read the progress of a build that the engine runs with BuildKit.

Such a build (`POST /build?version=2`) streams its progress as JSON messages whose
`aux` field holds a base64 protobuf `StatusResponse` (BuildKit's control API): steps
("vertexes") with their names, start, completion and error, and the output of the
steps ("logs"). Only those fields are decoded here, with a minimal wire-format reader.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass, field

TRACE_ID = "moby.buildkit.trace"


@dataclass
class Step:
    digest: str
    name: str = ""
    cached: bool = False
    started: bool = False
    completed: bool = False
    error: str = ""
    logs: list[str] = field(default_factory=list)


@dataclass
class Progress:
    """Steps seen so far, in the order BuildKit first named them."""

    steps: dict[str, Step] = field(default_factory=dict)

    def update(self, aux: str) -> list[Step]:
        """Apply one trace message; returns the steps that started or finished in it."""
        changed: list[Step] = []
        for number, value in _fields(base64.b64decode(aux)):
            if number == 1 and isinstance(value, bytes):
                step = self._vertex(value)
                if step is not None:
                    changed.append(step)
            elif number == 3 and isinstance(value, bytes):
                self._log(value)
        return changed

    def failed(self) -> Step | None:
        for step in self.steps.values():
            if step.error:
                return step
        return None

    def _vertex(self, data: bytes) -> Step | None:
        values = dict(_fields(data))
        digest = _text(values.get(1))
        if not digest:
            return None
        step = self.steps.setdefault(digest, Step(digest))
        before = (step.started, step.completed)
        step.name = _text(values.get(3)) or step.name
        step.cached = step.cached or values.get(4) == 1
        step.started = step.started or 5 in values
        step.completed = step.completed or 6 in values
        step.error = _text(values.get(7)) or step.error
        return step if (step.started, step.completed) != before else None

    def _log(self, data: bytes) -> None:
        values = dict(_fields(data))
        digest = _text(values.get(1))
        message = values.get(4)
        if not digest or not isinstance(message, bytes):
            return
        step = self.steps.setdefault(digest, Step(digest))
        text = message.decode("utf-8", "replace")
        if step.logs and not step.logs[-1].endswith("\n"):
            step.logs[-1] += text  # output arrives in chunks, not lines
        else:
            step.logs.append(text)

    def log_lines(self, step: Step, limit: int) -> list[str]:
        lines = "".join(step.logs).splitlines()
        return [line for line in lines if line.strip()][-limit:]


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else ""


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) pairs of one protobuf message: varints as int,
    length-delimited fields as bytes; fixed-width fields are skipped."""
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = _varint(data, position)
            yield number, value
        elif wire == 2:
            length, position = _varint(data, position)
            yield number, data[position : position + length]
            position += length
        elif wire == 1:
            position += 8
        elif wire == 5:
            position += 4
        else:
            return  # groups (deprecated) do not occur in these messages


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while position < len(data):
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
    return result, position
