"""The Dockerfile reader that names lines in build errors, and the build context's digest."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from vpmigrate.compose.model import BuildSpec, Location, Service
from vpmigrate.engine.build import digest_of, plan_build
from vpmigrate.engine.dockerfile import parse_dockerfile
from vpmigrate.errors import UserError

MULTI_STAGE = """\
# syntax=docker/dockerfile:1
ARG BASE=base-image:1

FROM ${BASE} AS deps
# a comment between instructions
RUN echo one \\
    # a comment inside a continued instruction
    && echo two
FROM scratch AS runtime
COPY --from=deps /x /x
FROM deps
RUN --mount=type=cache,target=/c true
RUN --mount=type=secret,id=token cat /run/secrets/token
COPY --chmod=755 run.sh /run.sh
"""


def test_steps_are_numbered_as_the_classic_builder_numbers_them() -> None:
    parsed = parse_dockerfile(MULTI_STAGE)
    assert parsed.directives == {"syntax": "docker/dockerfile:1"}
    assert [(i.line, i.keyword) for i in parsed.steps()] == [
        (2, "ARG"),
        (4, "FROM"),
        (6, "RUN"),
        (9, "FROM"),
        (10, "COPY"),
        (11, "FROM"),
        (12, "RUN"),
        (13, "RUN"),
        (14, "COPY"),
    ]
    # With a target, the stages after it are not built (nor counted).
    assert [i.line for i in parsed.steps("runtime")] == [2, 4, 6, 9, 10]
    step = parsed.instruction_at_step(3)
    assert step is not None and step.arguments == "echo one && echo two"


def test_base_images_substitute_args_and_skip_stages_and_scratch() -> None:
    parsed = parse_dockerfile(MULTI_STAGE)
    assert parsed.base_images({}) == ["base-image:1"]
    assert parsed.base_images({"BASE": "other:2"}) == ["other:2"]


def test_buildkit_only_syntax_is_found_with_its_line() -> None:
    uses = parse_dockerfile(MULTI_STAGE).buildkit_uses()
    assert [(u.line, u.what, u.needs_session) for u in uses] == [
        (12, "RUN --mount=type=cache", False),
        (13, "RUN --mount=type=secret", True),
        (14, "COPY --chmod", False),
    ]


def test_heredocs_are_found_and_their_bodies_are_not_instructions() -> None:
    parsed = parse_dockerfile(
        "FROM base\nRUN <<EOF\necho from the heredoc\nFROM inside\nEOF\n"
        "COPY <<-'END' /etc/x\n\tEND\nCMD [\"sh\"]\n"
    )
    assert [(i.line, i.keyword) for i in parsed.instructions] == [
        (1, "FROM"),
        (2, "RUN"),
        (6, "COPY"),
        (8, "CMD"),
    ]
    heredocs = [u for u in parsed.buildkit_uses() if u.heredoc]
    assert [(u.line, u.what) for u in heredocs] == [
        (2, "a heredoc (RUN <<EOF)"),
        (6, "a heredoc (COPY <<END)"),
    ]
    # `cat <<EOF` inside a shell command with no body would still be read as one: the
    # builder only knows heredocs at instruction level, and so does this reader.


def test_escape_directive_changes_the_continuation_character() -> None:
    parsed = parse_dockerfile("# escape=`\nFROM base\nRUN echo a `\n  b\nRUN echo c\\\n")
    assert [(i.line, i.arguments) for i in parsed.instructions] == [
        (2, "base"),
        (3, "echo a b"),
        (5, "echo c\\"),
    ]


def _service(context: Path, **build: object) -> Service:
    spec = BuildSpec(context=str(context), **build)  # type: ignore[arg-type]
    return Service("app", "img", Location(context / "compose.yml", 1), build=spec)


def test_the_digest_follows_contents_and_dockerignore(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM base\nCOPY . /app\n")
    (tmp_path / "app.py").write_text("print(1)\n")
    (tmp_path / "notes.log").write_text("log\n")
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "big.bin").write_bytes(b"0" * 100)
    (tmp_path / ".dockerignore").write_text("# comment\n*.log\ncache\n")

    def digest() -> str:
        return digest_of(plan_build(_service(tmp_path)), {}).total

    first = digest()
    assert plan_build(_service(tmp_path)).files == [".dockerignore", "Dockerfile", "app.py"]
    (tmp_path / "notes.log").write_text("more log\n")
    (tmp_path / "cache" / "big.bin").write_bytes(b"1" * 100)
    os.utime(tmp_path / "app.py", (1, 1))  # times do not count
    assert digest() == first
    (tmp_path / "app.py").chmod(0o755)
    assert digest() != first
    (tmp_path / "app.py").chmod(0o644)
    assert digest() == first
    (tmp_path / "app.py").write_text("print(2)\n")
    second = digest()
    assert second != first
    assert digest_of(plan_build(_service(tmp_path, args={"A": "1"})), {}).total != second


def test_a_dockerfile_specific_ignore_file_wins(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile.dev").write_text("FROM base\n")
    (tmp_path / "Dockerfile.dev.dockerignore").write_text("secret.txt\n")
    (tmp_path / ".dockerignore").write_text("app.py\n")
    (tmp_path / "app.py").write_text("x")
    (tmp_path / "secret.txt").write_text("x")
    plan = plan_build(_service(tmp_path, dockerfile="Dockerfile.dev"))
    assert "app.py" in plan.files and "secret.txt" not in plan.files


def test_missing_context_or_dockerfile_is_named(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="is not a directory"):
        plan_build(_service(tmp_path / "nope"))
    with pytest.raises(UserError, match=r"the Dockerfile .*Dockerfile does not exist"):
        plan_build(_service(tmp_path))


def _huge(path: Path) -> None:
    with path.open("wb") as handle:
        handle.truncate(9 * 1024 * 1024)


@pytest.mark.parametrize(
    ("make", "phrase"),
    [
        (_huge, "the .dockerignore file is larger than 8 MiB"),
        (
            lambda p: p.write_bytes(b"*.log\n\x00\x01\x02\n"),
            ":2: the .dockerignore file contains a NUL byte",
        ),
        (lambda p: p.write_bytes(b"# caf\xe9\n*.log\n"), ":1: the .dockerignore file is not UTF-8"),
        (lambda p: p.mkdir(), "is a folder, not a regular file"),
        (os.mkfifo, "is a named pipe (FIFO)"),  # never opened: nothing waits for a writer
    ],
    ids=["huge", "binary", "latin-1", "folder", "fifo"],
)
@pytest.mark.parametrize("name", [".dockerignore", "Dockerfile.dockerignore"])
def test_a_dockerignore_that_cannot_be_read_is_named(
    tmp_path: Path, name: str, make: Callable[[Path], object], phrase: str
) -> None:
    """Read like every user file, bounded, before anything reaches the engine; the
    Dockerfile's own ignore file is not skipped for `.dockerignore` when it is broken."""
    (tmp_path / "Dockerfile").write_text("FROM base\n")
    if name != ".dockerignore":  # a good one the broken one must not fall back to
        (tmp_path / ".dockerignore").write_text("*.tmp\n")
    make(tmp_path / name)
    with pytest.raises(UserError) as caught:
        plan_build(_service(tmp_path))
    assert f"{tmp_path / name}" in caught.value.message and phrase in caught.value.message
