"""The conformance suite: minimal compose projects, one per construct and one per
difference the public corpus showed, each compared with `docker compose config`.

Each case is a folder under `conformance/` with a `compose.yaml` (and, when the case
needs them, more files: an `override.yaml` given as a second `-f`, extended or
included files, `.env` files). The first lines of `compose.yaml` say what the case
shows and which public file showed it:

    # Case: <what it shows>
    # Source: <public project and file that showed it>
    # Expect: refused          (only for files Compose refuses)
    # Environ: NAME=value ...  (only when the case needs shell variables)

Both tools load the case with the same minimal environment; the test compares what
`docker compose config --format json` prints with what `inv local.config --format
json` prints (`compose_config`), on the fields that shape a running stack
(`runtime_view`, the same as the corpus measurement). A refused case must be refused
by both, ours with file:line.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bench.compose_corpus import differences, runtime_view
from vpmigrate.compose.config import compose_config
from vpmigrate.errors import UserError

CASES = Path(__file__).parent / "conformance"
_HEADER = re.compile(r"^# (Case|Source|Expect|Environ): (.*)$", re.MULTILINE)


def _header(case: Path) -> dict[str, str]:
    text = (case / "compose.yaml").read_text()
    return {m.group(1): m.group(2).strip() for m in _HEADER.finditer(text)}


def _files(case: Path) -> list[Path]:
    files = [case / "compose.yaml"]
    if (case / "override.yaml").exists():
        files.append(case / "override.yaml")
    return files


def _environ(header: dict[str, str]) -> dict[str, str]:
    environ = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root")}
    for pair in header.get("Environ", "").split():
        name, _, value = pair.partition("=")
        environ[name] = value
    return environ


def _docker_compose(case: Path, files: list[Path], environ: dict[str, str]) -> tuple[int, str]:
    command = ["docker", "compose"]
    for path in files:
        command += ["-f", path.name]
    done = subprocess.run(
        [*command, "config", "--format", "json"],
        cwd=case,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return done.returncode, done.stdout if done.returncode == 0 else done.stderr


ALL = sorted(p.name for p in CASES.iterdir() if (p / "compose.yaml").exists())


def test_every_case_says_what_it_shows_and_where_it_was_seen() -> None:
    assert len(ALL) >= 30
    for name in ALL:
        header = _header(CASES / name)
        assert header.get("Case") and header.get("Source"), name


@pytest.mark.parametrize("name", ALL)
def test_case_matches_docker_compose_config(name: str) -> None:
    case = CASES / name
    header = _header(case)
    files = _files(case)
    environ = _environ(header)
    status, output = _docker_compose(case, files, environ)
    if header.get("Expect") == "refused":
        assert status != 0, f"docker compose accepts {name}: {output[:300]}"
        with pytest.raises(UserError) as caught:
            compose_config(files, environ=environ)
        assert re.search(r"\.ya?ml:\d+", str(caught.value)), str(caught.value)
        return
    assert status == 0, f"docker compose refuses {name}: {output}"
    expected = runtime_view(json.loads(output))
    actual: Any = runtime_view(compose_config(files, environ=environ))
    assert differences(expected, actual) == []
