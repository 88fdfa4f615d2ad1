"""Issue 15: Invoke's global `inv --dry` changes nothing, for every task.

One world holds everything a task could change: a running stack on the real engine
(two services, two named volumes, one service the code does not use), the files of a
compose split, a Railway stand-in (devkit/railway_standin.py) and an MLflow target
stand-in (tests/hostile/sweep.py). Every task of `inv --list` runs under `--dry` with
the flags that would make it write (`--yes`, `--force`, `--volumes`, `--prune`), and
afterwards the engine's containers (state, image), volumes and networks of the project,
every file of the world, Railway's mutations and MLflow's writes are what they were.
A task either runs as its own dry run (or read-only) and exits 0, or refuses with one
`error:` paragraph; `test_every_task_has_a_dry_case` fails when a task has no case.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devkit import dockerkit
from tests.hostile.kit import snapshot
from tests.hostile.sweep import REPO, MlflowStandIn, inv, task_names, task_of

pytestmark = pytest.mark.xdist_group("hostile-dry")

COMPOSE = """\
name: {project}
services:
  app:
    image: {busybox}
    command: ["sh", "-c", '{idle}']
    volumes: [data:/data]
  redis:
    image: {redis}
    command: ["sh", "-c", '{idle}']
    volumes: [cache:/data]
volumes:
  data:
  cache:
"""


@dataclass
class World:
    folder: Path
    project: str
    client: Any
    railway: Any
    mlflow: Any
    source_url: str
    env: dict[str, str]

    def engine(self) -> dict[str, Any]:
        """The project as the engine holds it: containers (name, state, image), volumes,
        networks, and the images tagged for it."""
        label = f"com.docker.compose.project={self.project}"
        api = self.client.api
        containers = sorted(
            (c["Names"][0], c["State"], c["ImageID"])
            for c in api.containers(all=True, filters={"label": label})
        )
        volumes = sorted(v["Name"] for v in api.volumes(filters={"label": label})["Volumes"] or [])
        networks = sorted(n["Name"] for n in api.networks(filters={"label": label}))
        images = sorted(
            tag
            for image in api.images()
            for tag in image.get("RepoTags") or []
            if self.project in tag
        )
        return {
            "containers": containers,
            "volumes": volumes,
            "networks": networks,
            "images": images,
        }


@pytest.fixture(scope="module")
def world(docker_client: Any, busybox_image: str) -> Iterator[World]:
    from devkit.railway_standin import RailwayStandIn, RailwayState
    from tests.railway.conftest import ACCESS_KEY, ACCOUNT_TOKEN, SECRET_KEY, seed

    folder = Path(tempfile.mkdtemp(prefix="vpm-dry-"))
    project = dockerkit.unique_name("vpmdry")
    redis = f"redis:{project}"
    docker_client.images.get(busybox_image).tag("redis", project)
    idle = dockerkit.IDLE_COMMAND
    (folder / "compose.yml").write_text(
        COMPOSE.format(project=project, busybox=busybox_image, redis=redis, idle=idle)
    )
    code = folder / "code"
    code.mkdir()
    (code / "app.py").write_text('print("no cache here")\n')
    split = folder / "split"
    split.mkdir()
    shutil.copy(REPO / "compose" / "docker-compose.yml", split / "docker-compose.yml")
    shutil.copy(REPO / "compose" / "split-plan.yml", split / "split-plan.yml")
    # A hand edit that --force would replace (after a backup).
    (split / "docker-compose.mvp.yml").write_text("# edited by hand\nservices: {}\n")
    (folder / ".env").write_text(
        f"AWS_ACCESS_KEY_ID={ACCESS_KEY}\nAWS_SECRET_ACCESS_KEY={SECRET_KEY}\n"
        "MLFLOW_SOURCE_REPO=vision-team/vision-platform\n"
    )
    state = RailwayState()
    railway_project = seed(state)
    try:
        up = inv("local.up", "--file", folder / "compose.yml", "--timeout", "120", cwd=folder)
        assert up.returncode == 0, up.stdout + up.stderr
        with (
            RailwayStandIn(state) as railway,
            MlflowStandIn(["exp-a"]) as source,
            MlflowStandIn([]) as target,
        ):
            env = {
                "RAILWAY_API_URL": railway.url,
                "RAILWAY_API_TOKEN": ACCOUNT_TOKEN,
                "RAILWAY_PROJECT_ID": railway_project.id,
                "INVOKE_RAILWAY_DOTENV": str(folder / ".env"),
                "INVOKE_CLEANUP_BACKUPS": str(folder / "backups"),
            }
            yield World(folder, project, docker_client, railway, target, source.url, env)
    finally:
        dockerkit.remove_project(docker_client, project)
        try:
            docker_client.api.remove_image(redis)
        except Exception:
            pass
        shutil.rmtree(folder, ignore_errors=True)


STACK = ("--file", "{dir}/compose.yml")
SPLIT = (
    "--source",
    "{dir}/split/docker-compose.yml",
    "--plan",
    "{dir}/split/split-plan.yml",
    "--out-dir",
    "{dir}/split",
)
REFUSED = "has no dry run"

# (command line after `inv --dry`, exit code, a phrase of the output)
DRY_CASES: list[tuple[tuple[str, ...], int, str]] = [
    (("local.up", *STACK, "--timeout", "30"), 1, REFUSED),
    (("local.build", *STACK), 1, REFUSED),
    (("local.verify", *STACK), 1, REFUSED),
    (("bench.run", "--only", "startup", "--runs", "1"), 1, REFUSED),
    (("local.down", *STACK, "--volumes"), 0, "dry run"),
    (("local.status", *STACK), 0, "app"),
    (("local.logs", "app", *STACK), 0, ""),
    (("local.config", *STACK), 0, "services"),
    (("compose.split", *SPLIT, "--force"), 0, "dry run"),
    (
        ("cleanup.unused", *STACK, "--path", "{dir}/code", "--apply", "--volumes", "--yes"),
        0,
        "redis",
    ),
    (("railway.status",), 0, "mlflow-service"),
    (("railway.sync-env", "--prune", "--yes", "--redeploy"), 0, "dry run"),
    (("railway.provision", "--public-domain"), 0, "dry run"),
    (("mlflow.migrate", "--source", "{source}", "--target", "{target}"), 0, "exp-a"),
]


def test_every_task_has_a_dry_case() -> None:
    assert sorted({task_of(args) for args, _, _ in DRY_CASES}) == task_names()


@pytest.mark.parametrize(
    ("args", "code", "phrase"), DRY_CASES, ids=[" ".join(c[0][:1]) for c in DRY_CASES]
)
def test_inv_dry_changes_nothing(
    world: World, args: tuple[str, ...], code: int, phrase: str
) -> None:
    filled = [
        a.replace("{dir}", str(world.folder))
        .replace("{source}", world.source_url)
        .replace("{target}", world.mlflow.url)
        for a in args
    ]
    engine_before = world.engine()
    files_before = snapshot(world.folder)
    mutations_before = len(world.railway.mutations())

    result = inv("--dry", *filled, env=world.env, cwd=world.folder)

    shown = f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode == code, shown
    assert "Traceback" not in result.stdout + result.stderr, shown
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == code, shown
    assert phrase in result.stdout + result.stderr, shown
    assert world.engine() == engine_before
    assert snapshot(world.folder) == files_before
    assert len(world.railway.mutations()) == mutations_before
    assert world.mlflow.writes() == []
    assert len(engine_before["containers"]) == 2  # the stack under test was really there
