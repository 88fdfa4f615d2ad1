"""The e2e image kit: one local image that runs PostgreSQL, an MLflow tracking server,
an S3-compatible server (moto) and the bucket job, built without any image registry.

Build (about 3 to 5 minutes cold, two steps in parallel):
  1. `debootstrap --variant=minbase --include=postgresql,python3 bookworm ROOTFS MIRROR`
  2. `pip install --target SITE <PIP_REQUIREMENTS>` with this interpreter (Python 3.11,
     the same minor version as bookworm's python3, so compiled wheels fit)
then SITE goes to ROOTFS/opt/site, the launchers of devkit/e2e_launchers/ to ROOTFS/opt/kit, and
`tar -C ROOTFS -c . | docker import` makes the image.

The tag is a digest of every input (suite, packages, pins, launcher scripts), so an
existing image with that tag is reused and any change to the inputs builds a new one.
Build folders are removed whatever happens (after unmounting what debootstrap mounted).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SUITE = "bookworm"
PYTHON_MINOR = (3, 11)  # bookworm's python3
APT_PACKAGES = ("postgresql", "python3")
MLFLOW_VERSION = "3.17.2"
# The `mlflow` wheel itself goes in without its dependencies: they include the ML
# libraries (scikit-learn, scipy, pyarrow, matplotlib, skops: ~450 MB) that a tracking
# server never imports. What the server needs is listed here instead, copied from the
# wheel's Requires-Dist; when MLFLOW_VERSION changes, compare with
# `pip download --no-deps mlflow==X` METADATA.
PIP_WITHOUT_DEPS = (f"mlflow=={MLFLOW_VERSION}",)
PIP_REQUIREMENTS = (
    f"mlflow-skinny=={MLFLOW_VERSION}",
    f"mlflow-tracing=={MLFLOW_VERSION}",
    "Flask<4",
    "Flask-CORS<7",
    "aiohttp>=3.7.0,<4",
    "alembic!=1.10.0,<2",
    "cryptography>=43.0.0,<51",
    "docker>=4.0.0,<8",
    "graphene<4",
    "gunicorn<27",
    "huey>=2.5.4,<4",
    "numpy<3",
    "pandas<4",
    "sqlalchemy>=1.4.0,<3",
    # PostgreSQL drivers: SQLAlchemy 2.1 maps postgresql:// to psycopg (3), older
    # releases and many URLs (postgresql+psycopg2://) to psycopg2.
    "psycopg[binary]==3.3.9",
    "psycopg2-binary==2.9.13",
    "boto3==1.44.8",
    # moto's `server` extra pulls every AWS service's dependencies; S3 needs only these.
    "moto[s3]==5.2.5",
)
IMAGE_REPOSITORY = "vpm-e2e-stack"
LAUNCHERS = Path(__file__).resolve().parent / "e2e_launchers"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
BUILD_PARENT = Path(os.environ.get("VPM_E2E_BUILD_DIR", "/var/tmp"))


class KitError(RuntimeError):
    """The image could not be built; the message says which step failed and why."""


def image_inputs() -> dict[str, Any]:
    launchers = {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(LAUNCHERS.iterdir())
        if path.is_file()
    }
    return {
        "suite": SUITE,
        "python": list(PYTHON_MINOR),
        "apt": list(APT_PACKAGES),
        "pip": list(PIP_REQUIREMENTS),
        "pip_without_deps": list(PIP_WITHOUT_DEPS),
        "launchers": launchers,
        "layout": 1,  # bump when the build steps below change what ends up in the image
    }


def image_tag() -> str:
    digest = hashlib.sha256(json.dumps(image_inputs(), sort_keys=True).encode()).hexdigest()
    return f"{IMAGE_REPOSITORY}:{digest[:16]}"


def debian_mirror(sources_dir: Path = Path("/etc/apt/sources.list.d")) -> str:
    """The Debian mirror apt uses here (VPM_E2E_DEBIAN_MIRROR overrides)."""
    override = os.environ.get("VPM_E2E_DEBIAN_MIRROR")
    if override:
        return override
    candidates: list[Path] = sorted(sources_dir.glob("*.sources")) if sources_dir.is_dir() else []
    for path in candidates:
        for stanza in path.read_text().split("\n\n"):
            fields = dict(
                line.split(":", 1)
                for line in stanza.splitlines()
                if re.match(r"^[A-Za-z-]+:", line)
            )
            suites = fields.get("Suites", "").split()
            uris = fields.get("URIs", "").split()
            if SUITE in suites and uris:
                return uris[0]
    legacy = Path("/etc/apt/sources.list")
    if legacy.exists():
        for line in legacy.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "deb" and parts[2] == SUITE:
                return parts[1]
    return DEFAULT_MIRROR


def image_exists(client: Any, tag: str) -> bool:
    from docker.errors import ImageNotFound

    try:
        client.api.inspect_image(tag)
    except ImageNotFound:
        return False
    return True


def ensure_image(client: Any, log: Callable[[str], None] = print) -> tuple[str, bool]:
    """The image's tag and whether this call built it (False: reused from the cache)."""
    tag = image_tag()
    if image_exists(client, tag):
        log(f"e2e kit: reusing image {tag}")
        return tag, False
    build_image(client, tag, log)
    return tag, True


def build_image(client: Any, tag: str, log: Callable[[str], None] = print) -> None:
    if sys.version_info[:2] != PYTHON_MINOR:
        raise KitError(
            f"the e2e kit installs Python packages for {SUITE}'s python3 "
            f"({PYTHON_MINOR[0]}.{PYTHON_MINOR[1]}) with this interpreter, which is "
            f"{sys.version_info[0]}.{sys.version_info[1]}: run the tests with Python 3.11"
        )
    if shutil.which("debootstrap") is None:
        raise KitError("debootstrap is missing: apt-get install -y debootstrap")
    BUILD_PARENT.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="vpm-e2e-build-", dir=BUILD_PARENT))
    started = time.monotonic()
    try:
        rootfs, site = workdir / "rootfs", workdir / "site"
        log(f"e2e kit: building {tag} in {workdir} (debootstrap and pip in parallel)")
        pip = [
            _pip(site, workdir / "pip.log", PIP_REQUIREMENTS),
            _pip(
                workdir / "site-nodeps", workdir / "pip-nodeps.log", PIP_WITHOUT_DEPS, "--no-deps"
            ),
        ]
        try:
            _run(
                ["debootstrap", "--variant=minbase", f"--include={','.join(APT_PACKAGES)}",
                 SUITE, str(rootfs), debian_mirror()],
                workdir / "debootstrap.log", "debootstrap",
            )  # fmt: skip
        except BaseException:
            for process in pip:
                process.terminate()
            for process in pip:
                process.wait()
            raise
        codes = [process.wait() for process in pip]
        for code, log_name in zip(codes, ("pip.log", "pip-nodeps.log"), strict=True):
            if code != 0:
                raise KitError(f"pip install failed:\n{_tail(workdir / log_name)}")
        shutil.copytree(workdir / "site-nodeps", site, dirs_exist_ok=True)
        log(f"e2e kit: rootfs and packages ready after {time.monotonic() - started:.0f}s")
        _assemble(rootfs, site)
        _import(client, rootfs, tag)
        log(f"e2e kit: built {tag} in {time.monotonic() - started:.0f}s")
    finally:
        _remove_build_dir(workdir)


def _pip(target: Path, log_path: Path, requirements: tuple[str, ...], *flags: str) -> Any:
    with open(log_path, "wb") as log_file:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--no-warn-script-location", *flags, "--target", str(target), *requirements],
            stdout=log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip


def _run(argv: list[str], log_path: Path, what: str) -> None:
    with open(log_path, "wb") as handle:
        code = subprocess.run(argv, stdout=handle, stderr=subprocess.STDOUT).returncode
    if code != 0:
        raise KitError(f"{what} failed (exit {code}):\n{_tail(log_path)}")


def _tail(path: Path, lines: int = 25) -> str:
    text = path.read_text(errors="replace").splitlines()
    # pip's find-links warnings say nothing about why an install failed.
    return "\n".join([line for line in text if "is ignored: it is neither" not in line][-lines:])


def _assemble(rootfs: Path, site: Path) -> None:
    opt = rootfs / "opt"
    shutil.move(str(site), str(opt / "site"))
    # pip wrote this interpreter's path into the console scripts; inside the image the
    # interpreter is Debian's.
    for script in (opt / "site" / "bin").iterdir():
        if not script.is_file():
            continue
        data = script.read_bytes()
        if data.startswith(b"#!") and b"python" in data.split(b"\n", 1)[0]:
            script.write_bytes(b"#!/usr/bin/python3\n" + data.split(b"\n", 1)[1])
    kit = opt / "kit"
    kit.mkdir()
    for launcher in LAUNCHERS.iterdir():
        if launcher.is_file():
            shutil.copyfile(launcher, kit / launcher.name)
            (kit / launcher.name).chmod(0o755)
    # Downloaded .deb files are only debootstrap's cache.
    for deb in (rootfs / "var" / "cache" / "apt" / "archives").glob("*.deb"):
        deb.unlink()
    # The package's default cluster is unused: kit-postgres makes its own in PGDATA.
    shutil.rmtree(rootfs / "var" / "lib" / "postgresql" / _pg_major(rootfs), ignore_errors=True)


def _pg_major(rootfs: Path) -> str:
    versions = sorted((rootfs / "usr" / "lib" / "postgresql").iterdir())
    if not versions:
        raise KitError("debootstrap installed no PostgreSQL server")
    return versions[-1].name


def _import(client: Any, rootfs: Path, tag: str) -> None:
    bindir = f"/usr/lib/postgresql/{_pg_major(rootfs)}/bin"
    system = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    path = f"/opt/kit:/opt/site/bin:{bindir}:{system}"
    changes = [
        f"ENV PATH={path}",
        "ENV PYTHONPATH=/opt/site",
        "ENV LANG=C.UTF-8",
        "ENV PGDATA=/var/lib/postgresql/data",
        'ENTRYPOINT ["/opt/kit/kit-init"]',
        f'LABEL org.opencontainers.image.title="vpmigrate e2e stack" vpm.e2e.inputs="{tag}"',
    ]
    repository, _, version = tag.partition(":")
    tar = subprocess.Popen(
        ["tar", "-C", str(rootfs), "--numeric-owner", "--exclude=./proc/*", "--exclude=./sys/*",
         "--exclude=./dev/*", "-c", "."],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert tar.stdout is not None
    try:
        client.api.import_image_from_stream(
            tar.stdout, repository=repository, tag=version, changes=changes
        )
    finally:
        tar.stdout.close()
        _, err = tar.communicate()
    if tar.returncode != 0:
        raise KitError(f"tar of the rootfs failed: {err.decode(errors='replace')[-2000:]}")
    if not image_exists(client, tag):
        raise KitError(f"docker import did not create {tag}")


def _mounts_below(folder: Path) -> list[str]:
    prefix = str(folder.resolve()) + "/"
    found = []
    with open("/proc/self/mounts") as mounts:
        for line in mounts:
            target = line.split()[1].replace("\\040", " ")
            if target.startswith(prefix):
                found.append(target)
    return sorted(found, key=len, reverse=True)  # deepest first


def _remove_build_dir(workdir: Path) -> None:
    """Unmount what an interrupted debootstrap left mounted (proc, sys, ...), then delete.

    Deleting through a still-mounted /proc or /dev bind would reach the host's files."""
    for target in _mounts_below(workdir):
        subprocess.run(["umount", "-l", target], check=False)
    leftover = _mounts_below(workdir)
    if leftover:
        raise KitError(f"cannot remove {workdir}: still mounted: {', '.join(leftover)}")
    shutil.rmtree(workdir, ignore_errors=True)


def remove_image(client: Any, tag: str) -> bool:
    """Remove the image unless a container still uses it (another pytest session's stack:
    the tag is shared by every session with the same inputs). True if it is gone."""
    from docker.errors import APIError, ImageNotFound

    try:
        client.api.remove_image(tag)
    except ImageNotFound:
        return True
    except APIError as exc:
        if exc.status_code == 409:  # in use
            return False
        raise
    return True


if __name__ == "__main__":
    # `python -m devkit.e2e_image`: build (or find) the image and print its tag, for
    # running the e2e compose file by hand (docs/e2e.md).
    import docker

    built_tag, _ = ensure_image(
        docker.from_env(timeout=600), log=lambda m: print(m, file=sys.stderr)
    )
    print(built_tag)
