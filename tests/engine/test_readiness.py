"""Readiness judged on the restart policy the container really gets: `deploy.restart_policy`
(which wins, as in Compose) or `restart:`. The mapping was read from `docker compose
create` (2.27) on this engine: none -> no, on-failure -> on-failure, any -> always, no
condition -> "" (the engine's no)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vpmigrate.compose.loader import load_project
from vpmigrate.compose.model import Service
from vpmigrate.engine import hostconfig
from vpmigrate.engine.readiness import is_one_shot, judge
from vpmigrate.engine.state import ContainerState

CASES = {
    # service keys -> (policy the container gets, in `restart:` words; a one-shot job?)
    "restart: 'no'": ("no", True),
    "restart: always": ("always", False),
    "restart: on-failure:2": ("on-failure:2", True),
    "deploy: {restart_policy: {condition: none}}": ("no", True),
    "deploy: {restart_policy: {condition: on-failure, max_attempts: 2}}": ("on-failure:2", True),
    "deploy: {restart_policy: {condition: any}}": ("always", False),
    "deploy: {restart_policy: {max_attempts: 3}}": ("no", True),
    "restart: always, deploy: {restart_policy: {condition: on-failure}}": ("on-failure", True),
    "restart: 'no', deploy: {restart_policy: {condition: any}}": ("always", False),
}


def service(tmp_path: Path, keys: str) -> Service:
    (tmp_path / "compose.yml").write_text(f"services:\n  job: {{image: img, {keys}}}\n")
    return load_project([tmp_path / "compose.yml"], project_name="demo").services["job"]


def exited(code: int) -> ContainerState:
    return ContainerState(
        id="c1", name="demo-job-1", number=1, service="job", status="exited",
        exit_code=code, health="", config_hash="", image_label="", ports=(), networks=(),
    )  # fmt: skip


@pytest.mark.parametrize("keys", CASES)
def test_readiness_follows_the_policy_the_container_gets(tmp_path: Path, keys: str) -> None:
    policy, one_shot = CASES[keys]
    job = service(tmp_path, keys)
    assert hostconfig.effective_restart(job) == policy
    assert is_one_shot(job) is one_shot
    # A job that exited 0 is done, unless the engine will start it again.
    done = judge("ready", job, exited(0))
    assert (done.done, done.failed) == ((True, False) if one_shot else (False, True))
    assert judge("ready", job, exited(1)).failed
