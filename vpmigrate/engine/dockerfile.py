"""Just enough of the Dockerfile syntax to name lines: instructions with their line
numbers, the base images, and the syntax that only BuildKit understands.

The classic builder (the one the Docker SDK's build API drives) numbers its steps
over every instruction of the stages it builds, ARGs before the first FROM included;
`Instruction.step` follows that count so that "Step 3/5" can be shown as a file line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_DIRECTIVE = re.compile(r"#\s*([a-zA-Z][a-zA-Z0-9_-]*)\s*=\s*(.*?)\s*$")
_HEREDOC = re.compile(r"<<(-?)(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")
_FLAG = re.compile(r"--([a-z][a-z-]*)(?:=(\S*))?")
# Flags that the classic builder refuses ("the --mount option requires BuildKit").
BUILDKIT_FLAGS = {
    "RUN": {"mount", "network", "security"},
    "COPY": {"chmod", "link", "parents", "exclude"},
    "ADD": {"chmod", "link", "checksum", "keep-git-dir", "parents", "exclude"},
}
# `RUN --mount=type=secret|ssh` reads from the client's build session, which a build
# through the engine's API alone does not have.
SESSION_MOUNTS = {"secret", "ssh"}


@dataclass(frozen=True)
class Heredoc:
    word: str
    first_line: int
    last_line: int


@dataclass(frozen=True)
class Instruction:
    line: int  # where the instruction starts (1-based)
    keyword: str  # upper case: FROM, RUN, COPY, ...
    arguments: str  # continuation lines joined, comments inside removed
    flags: tuple[tuple[str, str], ...] = ()  # ("mount", "type=cache,target=/x"), ...
    heredocs: tuple[Heredoc, ...] = ()
    stage: int = 0  # index of the stage (FROM) it belongs to; -1 before the first FROM

    @property
    def text(self) -> str:
        return f"{self.keyword} {self.arguments}".strip()


@dataclass(frozen=True)
class BuildKitUse:
    """A line that needs BuildKit, and why."""

    line: int
    what: str  # e.g. "RUN --mount", "a heredoc (<<EOF)"
    needs_session: bool = False  # secret/ssh mounts: not even the engine's BuildKit alone
    heredoc: bool = False


@dataclass(frozen=True)
class Dockerfile:
    instructions: tuple[Instruction, ...]
    directives: dict[str, str] = field(default_factory=dict)
    stage_names: tuple[str | None, ...] = ()

    def buildkit_uses(self) -> list[BuildKitUse]:
        found = []
        for instruction in self.instructions:
            for heredoc in instruction.heredocs:
                found.append(
                    BuildKitUse(
                        instruction.line,
                        f"a heredoc ({instruction.keyword} <<{heredoc.word})",
                        heredoc=True,
                    )
                )
            for name, value in instruction.flags:
                if name not in BUILDKIT_FLAGS.get(instruction.keyword, set()):
                    continue
                session = name == "mount" and _mount_type(value) in SESSION_MOUNTS
                what = f"{instruction.keyword} --{name}"
                if name == "mount":
                    what += f"=type={_mount_type(value)}"
                found.append(BuildKitUse(instruction.line, what, needs_session=session))
        return found

    def steps(self, target: str | None = None) -> list[Instruction]:
        """The instructions the classic builder runs, in its step order."""
        last_stage = len(self.stage_names) - 1
        if target is not None:
            for index, name in enumerate(self.stage_names):
                if name is not None and name.lower() == target.lower():
                    last_stage = index
                    break
        return [i for i in self.instructions if i.stage <= last_stage]

    def base_images(self, args: dict[str, str]) -> list[str]:
        """Images named by FROM (not earlier stages, not scratch), ARGs substituted."""
        defaults = dict(args)
        for instruction in self.instructions:
            if instruction.stage == -1 and instruction.keyword == "ARG":
                name, _, default = instruction.arguments.partition("=")
                defaults.setdefault(name.strip(), default.strip().strip("\"'"))
        stages: set[str] = set()
        images = []
        for instruction in self.instructions:
            if instruction.keyword != "FROM":
                continue
            words = [w for w in instruction.arguments.split() if not w.startswith("--")]
            if not words:
                continue
            image = _substitute(words[0], defaults)
            if image.lower() not in stages and image != "scratch" and "$" not in image:
                images.append(image)
            if len(words) >= 3 and words[1].lower() == "as":
                stages.add(words[2].lower())
        return images

    def instruction_at_step(self, step: int, target: str | None = None) -> Instruction | None:
        steps = self.steps(target)
        return steps[step - 1] if 0 < step <= len(steps) else None

    def find(self, text: str) -> Instruction | None:
        """The instruction whose text BuildKit shows as a step name (`RUN make`)."""
        wanted = " ".join(text.split())
        for instruction in self.instructions:
            if " ".join(instruction.text.split()) == wanted:
                return instruction
        for instruction in self.instructions:  # BuildKit may shorten or re-quote it
            if wanted and " ".join(instruction.text.split()).startswith(wanted[:40]):
                return instruction
        return None


def parse_dockerfile(source: str) -> Dockerfile:
    lines = source.splitlines()
    directives: dict[str, str] = {}
    index = 0
    while index < len(lines):
        match = _DIRECTIVE.fullmatch(lines[index].strip())
        if match is None:
            break
        directives[match.group(1).lower()] = match.group(2)
        index += 1
    escape = directives.get("escape", "\\")[:1] or "\\"
    instructions: list[Instruction] = []
    stage_names: list[str | None] = []
    while index < len(lines):
        raw = lines[index]
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            index += 1
            continue
        start = index + 1
        parts: list[str] = []
        while True:
            body = lines[index].rstrip()
            if body.strip().startswith("#") and parts:
                index += 1  # a comment inside a continued instruction is dropped
                if index >= len(lines):
                    break
                continue
            if body.endswith(escape):
                parts.append(body[:-1])
                index += 1
                if index >= len(lines):
                    break
                continue
            parts.append(body)
            index += 1
            break
        joined = " ".join(p.strip() for p in parts if p.strip())
        keyword, _, arguments = joined.partition(" ")
        keyword = keyword.upper()
        heredocs: list[Heredoc] = []
        if keyword in ("RUN", "COPY", "ADD"):
            for match in _HEREDOC.finditer(arguments):
                strip_tabs, word = match.group(1) == "-", match.group(3)
                first = index + 1
                while index < len(lines):
                    candidate = lines[index].lstrip("\t") if strip_tabs else lines[index]
                    index += 1
                    if candidate.rstrip("\r") == word:
                        break
                heredocs.append(Heredoc(word, first, index))
        if keyword == "FROM":
            words = [w for w in arguments.split() if not w.startswith("--")]
            stage_names.append(words[2] if len(words) >= 3 and words[1].lower() == "as" else None)
        instructions.append(
            Instruction(
                line=start,
                keyword=keyword,
                arguments=arguments.strip(),
                flags=_flags(arguments),
                heredocs=tuple(heredocs),
                stage=len(stage_names) - 1,
            )
        )
    return Dockerfile(tuple(instructions), directives, tuple(stage_names))


def _flags(arguments: str) -> tuple[tuple[str, str], ...]:
    flags = []
    for word in arguments.split():
        match = _FLAG.fullmatch(word)
        if match is None:
            break  # flags come first
        flags.append((match.group(1), match.group(2) or ""))
    return tuple(flags)


def _mount_type(value: str) -> str:
    for option in value.split(","):
        key, _, setting = option.partition("=")
        if key.strip() == "type":
            return setting.strip()
    return "bind"


_VARIABLE = re.compile(
    r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))"
)


def _substitute(word: str, values: dict[str, str]) -> str:
    """`$NAME`, `${NAME}` and `${NAME:-default}` as the builder expands them in FROM."""

    def pick(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        value = values.get(name, "")
        return value if value else (match.group(2) or "")

    return _VARIABLE.sub(pick, word)
