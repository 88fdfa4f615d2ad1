"""Back up a named volume to a .tar.gz on this machine, and restore one, through a
small helper container (busybox FROM scratch, built on demand and removed after).

The archive is made inside the helper and copied out with the engine's archive API,
so it works for a remote DOCKER_HOST too; it is written atomically and read back
before anyone may remove the volume.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from vpmigrate.engine.busybox import build_busybox_image
from vpmigrate.errors import UserError

if TYPE_CHECKING:
    import docker

HELPER_TAG = "vpmigrate-volume-helper:busybox"
ARCHIVE_IN_HELPER = "/backup.tar.gz"


@contextmanager
def helper_image(client: docker.DockerClient) -> Iterator[str]:
    """An image with busybox's `tar`: the existing helper tag, or one built now from the
    host's busybox-static and removed again on exit."""
    from docker.errors import ImageNotFound

    try:
        client.images.get(HELPER_TAG)
        yield HELPER_TAG
        return
    except ImageNotFound:
        pass
    tag = f"vpmigrate-volume-helper:{uuid.uuid4().hex[:10]}"
    build_busybox_image(client, tag)
    try:
        yield tag
    finally:
        try:
            client.images.remove(tag, force=True)
        except Exception:  # noqa: BLE001 - best effort: the image is tiny and tagged as ours
            pass


def backup_volume(client: docker.DockerClient, image: str, volume: str, folder: Path) -> Path:
    """Write `folder/<volume>-<UTC timestamp>.tar.gz` with the volume's contents; any
    failure to write it (a full disk, no permission) or to read it back raises a
    `UserError` that says the volume was left in place."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _not_written(volume, folder, exc) from None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = folder / f"{volume}-{stamp}.tar.gz"
    container = client.containers.create(
        image,
        ["tar", "-czf", ARCHIVE_IN_HELPER, "-C", "/volume", "."],
        volumes={volume: {"bind": "/volume", "mode": "ro"}},
        labels={"vpmigrate.helper": "volume-backup"},
    )
    try:
        container.start()
        status = container.wait(timeout=3600)
        if status.get("StatusCode") != 0:
            logs = container.logs(stderr=True, stdout=False).decode(errors="replace").strip()
            raise UserError(
                f"backing up volume {volume} failed ({logs[-300:] or 'tar exited non-zero'}); "
                "the volume was left in place. Check it with `docker volume inspect "
                f"{volume}` and re-run."
            )
        stream, _ = container.get_archive(ARCHIVE_IN_HELPER)
        try:
            _save_single_file(stream, target)
        except OSError as exc:
            raise _not_written(volume, folder, exc) from None
    finally:
        container.remove(force=True)
    _check_archive(target, volume)
    return target


def _not_written(volume: str, folder: Path, exc: OSError) -> UserError:
    return UserError(
        f"could not write the backup of volume {volume} to {folder} "
        f"({exc.strerror or exc}); the volume was left in place. Free disk space (or point "
        "cleanup.backups at a folder with room) and re-run."
    )


def _save_single_file(chunks: Iterator[bytes], target: Path) -> None:
    """The engine sends the one file wrapped in a tar stream: unwrap it to `target`.
    Nothing is left behind when a write fails."""
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    unwrapped: str | None = None
    try:
        with os.fdopen(descriptor, "wb") as raw:
            try:
                for chunk in chunks:
                    raw.write(chunk)
            except OSError:
                # read the engine's stream to its end: until then it holds the helper
                # container, whose removal would wait for us forever
                for _ in chunks:
                    pass
                raise
        with tarfile.open(temporary, mode="r") as outer:
            member = outer.next()
            extracted = outer.extractfile(member) if member is not None else None
            if extracted is None:
                raise UserError(f"the engine sent no archive for {target.name}; re-run.")
            descriptor2, unwrapped = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
            with os.fdopen(descriptor2, "wb") as handle:
                shutil.copyfileobj(extracted, handle)
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(unwrapped, target)
        unwrapped = None
    finally:
        Path(temporary).unlink(missing_ok=True)
        if unwrapped is not None:
            Path(unwrapped).unlink(missing_ok=True)


def _check_archive(path: Path, volume: str) -> None:
    try:
        with tarfile.open(path, mode="r:gz") as archive:
            for _ in archive:
                pass
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise UserError(
            f"the backup {path} of volume {volume} cannot be read back ({exc}); the volume was "
            "left in place. Free disk space if needed and re-run."
        ) from None


def restore_volume(client: docker.DockerClient, image: str, archive: Path, volume: str) -> None:
    """Unpack a backup into `volume` (created if missing): the way back after --volumes."""
    container = client.containers.create(
        image,
        ["true"],
        volumes={volume: {"bind": "/volume", "mode": "rw"}},
        labels={"vpmigrate.helper": "volume-restore"},
    )
    try:
        with open(archive, "rb") as handle:
            if not container.put_archive("/volume", handle.read()):
                raise UserError(f"the engine refused to unpack {archive} into volume {volume}.")
    finally:
        container.remove(force=True)
