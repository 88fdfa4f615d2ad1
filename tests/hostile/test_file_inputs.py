"""Hostile files given to every task that reads one: each ends in one `error:`
paragraph naming the file (and line) and what to do, exit 1, no traceback, no hang,
and nothing on disk changed."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.hostile.kit import (
    FILE_INPUTS,
    REPO,
    YAML_INPUTS,
    Hostile,
    assert_refused,
    run_inv,
    shared_folder,
    snapshot,
)

COMPOSE = "services:\n  app:\n    image: busybox\n"
RAILWAY_ENV = {
    "RAILWAY_API_TOKEN": "hostile-token",
    "RAILWAY_PROJECT_ID": "hostile-project",
    # Never reached: the desired-state file is read before any request.
    "RAILWAY_API_URL": "http://127.0.0.1:9/graphql/v2",
}


@dataclass(frozen=True)
class Reader:
    """A task reading one kind of file: `args(path, folder)` builds its command line."""

    name: str
    args: Callable[[Path, Path], list[str | Path]]
    yaml: bool
    env: dict[str, str] | None = None
    # inputs that mean "no file here" to this reader: it goes on without one
    absent: tuple[str, ...] = ()
    # inputs this reader never gets to: the task stops earlier for a reason of its own
    unreached: tuple[str, ...] = ()


def _good(folder: Path, name: str, text: str) -> Path:
    path = folder / "good" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def _split(folder: Path, source: Path | None = None, plan: Path | None = None) -> list[str | Path]:
    good_source = _good(
        folder, "docker-compose.yml", (REPO / "compose/docker-compose.yml").read_text()
    )
    good_plan = _good(folder, "split-plan.yml", (REPO / "compose/split-plan.yml").read_text())
    shutil.copytree(REPO / "env", folder / "env")
    return [
        "compose.split",
        "--source",
        source or good_source,
        "--plan",
        plan or good_plan,
        "--out-dir",
        folder / "good",
    ]


def _build(dockerfile: Path, folder: Path) -> list[str | Path]:
    """`local.build` of a service whose `dockerfile:` is `dockerfile` (an absolute path,
    as Compose allows). The engine is only asked for its version: the Dockerfile is read
    before anything is built."""
    context = folder / "good" / "context"
    context.mkdir(parents=True, exist_ok=True)
    compose = _good(
        folder,
        "compose.yml",
        "services:\n  app:\n    image: vpm-hostile-never-built\n    build:\n"
        f"      context: {json.dumps(str(context))}\n"
        f"      dockerfile: {json.dumps(str(dockerfile))}\n",
    )
    return ["local.build", "--file", compose]


READERS = (
    Reader("compose-file", lambda p, d: ["local.status", "--file", p], yaml=True),
    Reader(
        "env-file",
        lambda p, d: ["local.status", "--file", _good(d, "compose.yml", COMPOSE), "--env-file", p],
        yaml=False,
    ),
    Reader("split-source", lambda p, d: _split(d, source=p), yaml=True),
    Reader("split-plan", lambda p, d: _split(d, plan=p), yaml=True),
    Reader(
        "railway-desired",
        lambda p, d: ["railway.sync-env", "--dry-run", "--file", p],
        yaml=True,
        env=RAILWAY_ENV,
    ),
    # The repository's .env as railway.* reads it: the same reader as local.* (issue 14).
    Reader(
        "railway-dotenv",
        lambda p, d: ["railway.sync-env", "--dry-run"],
        yaml=False,
        env={**RAILWAY_ENV, "INVOKE_RAILWAY_DOTENV": "{path}"},
        absent=("missing", "folder", "under-a-file"),
    ),
    Reader(
        "dockerfile",
        _build,
        yaml=False,
        # the other user may not use the engine, which local.build asks first
        unreached=("unreadable", "closed-folder"),
    ),
)

CASES = [
    pytest.param(reader, hostile, id=f"{reader.name}-{hostile.name}")
    for reader in READERS
    for hostile in FILE_INPUTS + (YAML_INPUTS if reader.yaml else ())
    if hostile.name not in reader.absent + reader.unreached
]


@pytest.mark.parametrize(("reader", "hostile"), CASES)
def test_hostile_file_is_refused_cleanly(reader: Reader, hostile: Hostile) -> None:
    with shared_folder() as folder:
        path = hostile.make(folder)
        args = reader.args(path, folder)
        env = {k: v.replace("{path}", str(path)) for k, v in (reader.env or {}).items()}
        env.setdefault("INVOKE_RAILWAY_DOTENV", str(_good(folder, "railway.env", "")))
        before = snapshot(folder)
        result = run_inv(*args, env=env, as_other_user=hostile.other_user)
        assert_refused(result, *hostile.phrases)
        assert snapshot(folder) == before


def test_a_default_env_file_that_cannot_be_read_is_named() -> None:
    """The `.env` beside the compose file is read when it is there: one that cannot be
    read is an error naming it, not a silent skip (nor a traceback)."""
    with shared_folder() as folder:
        compose = _good(folder, "compose.yml", COMPOSE)
        dotenv = _good(folder, ".env", "A=1\n")
        dotenv.chmod(0)
        result = run_inv("local.status", "--file", compose, as_other_user=True)
        assert_refused(result, f"{dotenv}: cannot read the env file: permission denied")


def test_a_default_env_folder_is_skipped_as_compose_does() -> None:
    """Compose ignores a `.env` that is a folder; so does the loader (the task then goes
    on to the engine, so only the load is checked here)."""
    from vpmigrate.compose.loader import load_project

    with shared_folder() as folder:
        compose = _good(folder, "compose.yml", "services: {app: {image: 'busybox:${TAG:-1}'}}\n")
        (compose.parent / ".env").mkdir()
        assert load_project([compose], environ={}).services["app"].image == "busybox:1"
