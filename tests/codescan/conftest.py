"""The miniature vision platform, copied to a temporary work tree with the traps that
cannot live in git (ignored files, dependency folders, a venv, binaries, a big file)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from devkit import dockerkit
from vpmigrate.compose.loader import load_project
from vpmigrate.compose.model import Project

FIXTURE = Path(__file__).parent / "vision_platform"
REPO = Path(__file__).resolve().parents[2]
INV = str(Path(sys.executable).with_name("inv"))
SMALL_LIMIT = 4096  # max_file_bytes in the tests: big.py below is larger


@pytest.fixture()
def platform(tmp_path: Path) -> Path:
    root = tmp_path / "vision-platform"
    shutil.copytree(FIXTURE, root)
    (root / ".git").mkdir()  # a work tree top, so that .gitignore files above mvp/ apply
    (root / ".gitignore").write_text("*.tmp.py\n")
    mvp = root / "mvp"
    traps = {
        "generated/client.py": "import redis\n",  # ignored by mvp/.gitignore
        "backend/app/scratch.tmp.py": "import pymongo\n",  # ignored by the top .gitignore
        "frontend/node_modules/ioredis/index.js": 'module.exports = require("redis");\n',
        ".venv/lib/python3.11/site-packages/redis/client.py": "import redis\n",
        "tools/env/lib/temporal.py": "import temporalio\n",  # a venv under another name
        "frontend/public/logo.png": "import redis\n",
    }
    for relative, text in traps.items():
        (mvp / relative).parent.mkdir(parents=True, exist_ok=True)
        (mvp / relative).write_text(text)
    (mvp / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (mvp / "tools" / "env" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (mvp / "backend" / "blob.dat").write_bytes(b"import redis\n\x00\x01binary")
    (mvp / "backend" / "big.py").write_text("import redis\n" + "# padding\n" * SMALL_LIMIT)
    return root


def load(root: Path) -> Project:
    return load_project(
        [root / "compose" / "docker-compose.yml"], env_files=[root / "fixture.env"], environ={}
    )


def run_cleanup(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`inv cleanup.unused ARGS` in a subprocess, without a terminal on stdin."""
    command = [INV, "--search-root", str(REPO), "cleanup.unused", *args]
    return subprocess.run(
        command,
        cwd=cwd,
        env=dockerkit.cli_env(**env),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
