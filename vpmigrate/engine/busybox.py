"""A ~2 MB image built FROM scratch from the host's busybox-static: needs no registry.

It serves the volume-backup helper (tar) and, in the tests and benchmarks, as the
image of throw-away services (sh, sleep, httpd, nc, wget).
"""

from __future__ import annotations

import io
import shutil
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING

from vpmigrate.errors import UserError

if TYPE_CHECKING:
    import docker

BUSYBOX_PATHS = ("/bin/busybox", "/usr/bin/busybox")

DOCKERFILE = (
    "FROM scratch\n"
    "COPY busybox /bin/busybox\n"
    # /tmp and /data do not exist in an empty root; services and healthchecks use them.
    'RUN ["/bin/busybox", "sh", "-c", "/bin/busybox --install -s /bin '
    '&& mkdir -p /tmp /data /etc && chmod 1777 /tmp"]\n'
    'CMD ["sh"]\n'
)


def busybox_binary() -> Path:
    for candidate in BUSYBOX_PATHS:
        if Path(candidate).exists():
            return Path(candidate)
    found = shutil.which("busybox")
    if found is None:
        raise UserError(
            "building the busybox helper image needs busybox-static on this machine; "
            "install it (`apt-get install busybox-static`) and re-run the command."
        )
    return Path(found)


def build_busybox_image(client: docker.DockerClient, tag: str) -> str:
    """Build the image under `tag`; returns its ID."""
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as archive:
        data = DOCKERFILE.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
        archive.add(str(busybox_binary()), arcname="busybox")
    context.seek(0)
    image, _ = client.images.build(
        fileobj=context, custom_context=True, tag=tag, rm=True, forcerm=True
    )
    return str(image.id)
