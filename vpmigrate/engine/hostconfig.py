"""The container settings beyond the basics, as Compose v2 passes them to the engine:
resources (and `deploy.resources`), devices and GPUs, security, namespaces, DNS,
logging, kernel settings, mounts, secrets and configs.

Checked against `docker compose create` (2.27) on this engine: where Compose fills a
HostConfig field from a key, so does this; where it leaves one out, so does this, and
the difference is written down. Conflicts the engine refuses (`cpus` with
`cpu_period`, ...) are the engine's errors, as with Compose.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import tarfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vpmigrate.compose.model import (
    DeviceRequest,
    FileObjectDef,
    FileReference,
    Project,
    Resource,
    Service,
    VolumeMount,
)
from vpmigrate.errors import UserError

if TYPE_CHECKING:
    from docker import APIClient
    from docker.types import Mount

    from vpmigrate.engine.state import ContainerState

NANO = 1_000_000_000
SECRETS_DIR = "/run/secrets"
# Compose maps `deploy.restart_policy.condition` to the engine's policy names.
_CONDITIONS = {"none": "no", "any": "always", "on-failure": "on-failure", "": ""}


# --- resources ---------------------------------------------------------------------------


def _limit(service: Service, field: str) -> Any:
    limits = service.deploy.limits if service.deploy is not None else None
    return getattr(limits, field) if limits is not None else None


def _reservation(service: Service) -> Resource | None:
    return service.deploy.reservations if service.deploy is not None else None


def restart_policy(service: Service) -> dict[str, Any] | None:
    """`restart:`, or `deploy.restart_policy` which wins when present (as in Compose)."""
    policy = service.deploy.restart_policy if service.deploy is not None else None
    if policy is not None:
        name = _CONDITIONS.get(policy.condition or "", policy.condition or "")
        result: dict[str, Any] = {"Name": name}
        if policy.max_attempts is not None:
            result["MaximumRetryCount"] = policy.max_attempts
        return result
    if service.restart in ("", "no"):
        return None
    name, _, count = service.restart.partition(":")
    result = {"Name": name}
    if name == "on-failure" and count:
        result["MaximumRetryCount"] = int(count)
    return result


def effective_restart(service: Service) -> str:
    """The restart policy the container gets, in `restart:` words ("no" when none)."""
    policy = restart_policy(service)
    if policy is None or not policy["Name"]:
        return "no"
    count = policy.get("MaximumRetryCount")
    return f"{policy['Name']}:{count}" if count else str(policy["Name"])


def device_requests(service: Service) -> list[Any] | None:
    """`gpus:` and `deploy.resources.reservations.devices` as the engine's requests."""

    def one(request: DeviceRequest, gpu: bool) -> dict[str, Any]:
        capabilities = list(request.capabilities)
        if gpu and "gpu" not in capabilities:
            capabilities.append("gpu")
        # As Compose sends them: empty lists and options as null.
        return {
            "Driver": request.driver or "",
            "Count": request.count if request.count is not None else 0,
            "DeviceIDs": list(request.device_ids) or None,
            "Capabilities": [capabilities] if capabilities else None,
            "Options": dict(request.options) or None,
        }

    reservation = _reservation(service)
    requests = [one(r, gpu=True) for r in service.gpus]
    requests += [one(r, gpu=False) for r in (reservation.devices if reservation else ())]
    return requests or None


def wants_gpu(service: Service) -> bool:
    reservation = _reservation(service)
    devices = reservation.devices if reservation else ()
    return bool(service.gpus) or any(
        "gpu" in d.capabilities or d.driver == "nvidia" for d in devices
    )


def resource_options(service: Service) -> dict[str, Any]:
    """`create_host_config` keyword arguments for resources and kernel settings."""
    from docker.types import LogConfig, Ulimit

    cpus = service.cpus if service.cpus is not None else _limit(service, "cpus")
    reservation = _reservation(service)
    blkio = service.blkio_config
    options: dict[str, Any] = {
        "nano_cpus": int(round(cpus * NANO)) if cpus else None,
        "cpu_shares": service.cpu_shares,
        "cpu_period": service.cpu_period,
        "cpu_quota": service.cpu_quota,
        "cpu_rt_period": service.cpu_rt_period,
        "cpu_rt_runtime": service.cpu_rt_runtime,
        "cpu_count": service.cpu_count,
        "cpu_percent": int(service.cpu_percent) if service.cpu_percent is not None else None,
        "cpuset_cpus": service.cpuset,
        "mem_limit": service.mem_limit
        if service.mem_limit is not None
        else _limit(service, "memory"),
        "mem_reservation": service.mem_reservation
        if service.mem_reservation is not None
        else (reservation.memory if reservation else None),
        "memswap_limit": service.memswap_limit,
        "mem_swappiness": service.mem_swappiness,
        "pids_limit": service.pids_limit
        if service.pids_limit is not None
        else _limit(service, "pids"),
        "oom_kill_disable": service.oom_kill_disable,
        "oom_score_adj": service.oom_score_adj,
        "shm_size": service.shm_size,
        "ulimits": [
            Ulimit(name=name, soft=limit.soft, hard=limit.hard)
            for name, limit in service.ulimits.items()
        ]
        or None,
        "sysctls": dict(service.sysctls) or None,
        "storage_opt": dict(service.storage_opt) or None,
        "devices": list(service.devices) or None,
        "device_cgroup_rules": list(service.device_cgroup_rules) or None,
        "blkio_weight": blkio.weight if blkio else None,
        "blkio_weight_device": [{"Path": d.path, "Weight": d.weight} for d in blkio.weight_device]
        if blkio and blkio.weight_device
        else None,
        "device_read_bps": _throttle(blkio.device_read_bps) if blkio else None,
        "device_read_iops": _throttle(blkio.device_read_iops) if blkio else None,
        "device_write_bps": _throttle(blkio.device_write_bps) if blkio else None,
        "device_write_iops": _throttle(blkio.device_write_iops) if blkio else None,
        # security and namespaces
        "cap_add": list(service.cap_add) or None,
        "cap_drop": list(service.cap_drop) or None,
        "privileged": service.privileged,
        "read_only": service.read_only or None,
        "security_opt": list(service.security_opt) or None,
        "userns_mode": service.userns_mode or None,
        "uts_mode": service.uts,
        "cgroupns": service.cgroup,
        "cgroup_parent": service.cgroup_parent,
        "group_add": list(service.group_add) or None,
        "isolation": service.isolation,
        "runtime": service.runtime,
        "volume_driver": service.volume_driver,
        # DNS and tmpfs
        "dns": list(service.dns) or None,
        "dns_opt": list(service.dns_opt) or None,
        "dns_search": list(service.dns_search) or None,
        "tmpfs": colon_pairs(service.tmpfs) or None,
        "log_config": LogConfig(
            type=service.logging.driver or "", config=dict(service.logging.options)
        )
        if service.logging is not None
        else None,
    }
    return {k: v for k, v in options.items() if v is not None}


def _throttle(devices: Sequence[Any]) -> list[dict[str, Any]] | None:
    return [{"Path": d.path, "Rate": d.rate} for d in devices] or None


def colon_pairs(entries: Iterable[str]) -> dict[str, str]:
    """ "KEY:VALUE" entries (tmpfs "PATH:OPTIONS", extra hosts "HOST:IP") as a mapping."""
    result = {}
    for entry in entries:
        key, _, value = entry.partition(":")
        result[key] = value
    return result


def shared_namespace(
    value: str | None,
    key: str,
    service: Service,
    peers: Mapping[str, Sequence[ContainerState]],
) -> str | None:
    """`ipc`/`pid`: `service:X` becomes `container:<id of X's container>`, as Compose does."""
    if value is None or not value.startswith("service:"):
        return value
    name = value.removeprefix("service:")
    found = peers.get(name)
    if not found:
        raise UserError(
            f"service {service.name!r} shares the {key} namespace of service {name!r} "
            f"({service.location_of(key)}), which has no container: start it first."
        )
    return f"container:{found[0].id}"


def exposed_ports(service: Service) -> dict[str, dict[str, Any]]:
    """`ports` targets and `expose` entries as ExposedPorts: `expose` keys go to the
    engine as written ("8080", "9000-9001/udp"), as Compose sends them."""
    exposed: dict[str, dict[str, Any]] = {}
    for port in service.ports:
        exposed[f"{port.target}/{port.protocol}"] = {}
    for entry in service.expose:
        exposed.setdefault(entry, {})
    return exposed


# --- mounts ------------------------------------------------------------------------------


def mounts(api: APIClient, project: Project, service: Service) -> tuple[list[str], list[Mount]]:
    """(Binds, Mounts) as Compose splits them: a bind mount that may create its host path
    (short syntax, or `bind.create_host_path: true`) goes to Binds with its `ro|rw`,
    SELinux and propagation options; other mounts, and file secrets and configs, to
    Mounts."""
    from docker.types import Mount

    binds: list[str] = []
    result: list[Mount] = []
    for volume in service.volumes:
        if volume.type == "bind":
            options = volume.bind
            if options is not None and options.create_host_path:
                binds.append(_bind_string(volume))
                continue
            result.append(
                Mount(
                    target=volume.target,
                    source=volume.source or "",
                    type="bind",
                    read_only=volume.read_only,
                    propagation=options.propagation if options else None,
                )
            )
        elif volume.type == "volume":
            result.append(_volume_mount(api, project, service, volume))
        elif volume.type == "tmpfs":
            tmpfs = volume.tmpfs
            result.append(
                Mount(
                    target=volume.target,
                    source="",
                    type="tmpfs",
                    read_only=volume.read_only,
                    tmpfs_size=tmpfs.size if tmpfs else None,
                    tmpfs_mode=tmpfs.mode if tmpfs else None,
                )
            )
        else:
            raise UserError(
                f"service {service.name!r}: a `{volume.type}` mount ({volume.target}, "
                f"{service.location_of('volumes')}) exists only on Windows or Swarm engines; "
                "use a bind mount or a volume."
            )
    for _, definition, target in file_objects(project, service):
        if definition.file is not None:
            result.append(Mount(target=target, source=definition.file, type="bind", read_only=True))
    return binds, result


def _bind_string(volume: VolumeMount) -> str:
    options = ["ro" if volume.read_only else "rw"]
    if volume.bind is not None and volume.bind.selinux:
        options.append(volume.bind.selinux)
    if volume.bind is not None and volume.bind.propagation:
        options.append(volume.bind.propagation)
    return f"{volume.source}:{volume.target}:{','.join(options)}"


def _volume_mount(api: APIClient, project: Project, service: Service, volume: VolumeMount) -> Any:
    from docker.types import Mount

    source = project.volumes[volume.source].name if volume.source else None
    options = volume.volume
    subpath = options.subpath if options else None
    if subpath and _api_older_than(api, "1.45"):
        raise UserError(
            f"service {service.name!r}: `volume.subpath` ({volume.target}, "
            f"{service.location_of('volumes')}) needs Docker Engine 26.0 or later (API 1.45); "
            f"this engine speaks API {api.api_version}. Upgrade the engine, or mount the "
            "whole volume."
        )
    return Mount(
        target=volume.target,
        source=source,
        type="volume",
        read_only=volume.read_only,
        no_copy=bool(options and options.nocopy),
        subpath=subpath,
    )


def _api_older_than(api: APIClient, version: str) -> bool:
    from docker.utils import version_lt

    return bool(version_lt(str(api.api_version), version))


# --- secrets and configs -------------------------------------------------------------------


@dataclass(frozen=True)
class FileToCopy:
    """A secret or config whose content comes from the environment or the file itself:
    written into the container after it is created, before it starts (as Compose)."""

    path: str
    content: bytes
    mode: int
    uid: int
    gid: int

    def __repr__(self) -> str:  # never show a secret's content
        return f"FileToCopy({self.path!r}, {len(self.content)} bytes)"


def file_objects(
    project: Project, service: Service
) -> list[tuple[FileReference, FileObjectDef, str]]:
    """(reference, definition, container path) of the service's secrets and configs."""
    found = []
    for kind, references, definitions in (
        ("secret", service.secrets, project.secrets),
        ("config", service.configs, project.configs),
    ):
        for reference in references:
            definition = definitions.get(reference.source)
            if definition is None:
                raise UserError(
                    f"service {service.name!r} uses the {kind} {reference.source!r} "
                    f"({service.location_of(kind + 's')}), which is not declared under the "
                    f"top-level `{kind}s:`."
                )
            if definition.external:
                raise UserError(
                    f"service {service.name!r}: the {kind} {reference.source!r} is external "
                    f"({definition.location or service.location_of(kind + 's')}): external "
                    f"{kind}s exist only in Swarm. Give it a `file:` or `environment:` "
                    "source to run it on one engine."
                )
            found.append((reference, definition, _target(kind, reference)))
    return found


def _target(kind: str, reference: FileReference) -> str:
    if kind == "secret":
        target = reference.target or reference.source
        return target if target.startswith("/") else posixpath.join(SECRETS_DIR, target)
    target = reference.target or reference.source
    return target if target.startswith("/") else "/" + target


def content_digests(project: Project, service: Service) -> list[dict[str, str | None]]:
    """What the service's secrets and configs hold, as SHA-256 digests (never the values):
    a `file:` source's bytes (every file under it, for a folder), an `environment:`
    source's value, inline `content`. Part of the config hash, so that a changed secret
    gives a new container."""
    result = []
    for reference, definition, _ in file_objects(project, service):
        if definition.file is not None:
            digest = _path_digest(Path(definition.file))
        elif definition.environment is not None:
            value = project.environment.get(definition.environment)
            digest = None if value is None else hashlib.sha256(value.encode()).hexdigest()
        else:
            digest = hashlib.sha256((definition.content or "").encode()).hexdigest()
        result.append(
            {
                "source": reference.source,
                "file": definition.file,
                "environment": definition.environment,
                "sha256": digest,
            }
        )
    return result


def _path_digest(path: Path) -> str | None:
    """The digest of a file, or of a folder's files and their relative names; None when
    it cannot be read (the engine then refuses the mount and says why)."""
    digest = hashlib.sha256()
    try:
        if not path.is_dir():
            digest.update(path.read_bytes())
            return digest.hexdigest()
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            name = item.relative_to(path).as_posix().encode()
            digest.update(len(name).to_bytes(8, "big") + name)
            content = item.read_bytes()
            digest.update(len(content).to_bytes(8, "big") + content)
    except OSError:
        return None
    return digest.hexdigest()


def files_to_copy(project: Project, service: Service) -> list[FileToCopy]:
    result = []
    for reference, definition, target in file_objects(project, service):
        if definition.file is not None:
            continue
        if definition.environment is not None:
            value = project.environment.get(definition.environment)
            if value is None:
                raise UserError(
                    f"service {service.name!r}: {definition.key!r} takes its value from the "
                    f"variable {definition.environment}, which is not set "
                    f"({definition.location or service.location}); set it in the "
                    "environment or in .env."
                )
            content = value.encode()
        else:
            content = (definition.content or "").encode()
        result.append(
            FileToCopy(
                path=target,
                content=content,
                mode=reference.mode if reference.mode is not None else 0o444,
                uid=int(reference.uid) if reference.uid else 0,
                gid=int(reference.gid) if reference.gid else 0,
            )
        )
    return result


def copy_files(
    api: APIClient, service: Service, container_id: str, files: list[FileToCopy]
) -> None:
    """Write the files into the created container (one archive per folder)."""
    from docker.errors import APIError

    by_folder: dict[str, list[FileToCopy]] = {}
    for item in files:
        by_folder.setdefault(posixpath.dirname(item.path) or "/", []).append(item)
    for folder, items in by_folder.items():
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            for parent in _parents(folder):
                info = tarfile.TarInfo(parent.lstrip("/"))
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                archive.addfile(info)
            for item in items:
                info = tarfile.TarInfo(item.path.lstrip("/"))
                info.size = len(item.content)
                info.mode = item.mode
                info.uid, info.gid = item.uid, item.gid
                archive.addfile(info, io.BytesIO(item.content))
        try:
            api.put_archive(container_id, "/", buffer.getvalue())
        except APIError as exc:
            reason = str(getattr(exc, "explanation", None) or exc)
            hint = (
                " The service has `read_only: true`: use `file:` secrets and configs (bind "
                "mounted), or drop read_only."
                if service.read_only
                else ""
            )
            raise UserError(
                f"service {service.name!r}: could not write its secrets/configs into the "
                f"container under {folder} ({reason}).{hint}"
            ) from None


def _parents(folder: str) -> list[str]:
    parts = [p for p in folder.split("/") if p]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


# --- what the engine may refuse or ignore --------------------------------------------------


def warnings(api: APIClient, service: Service) -> list[str]:
    """Settings this engine will not honour, said once before the container is created."""
    notes = []
    if service.annotations and _api_older_than(api, "1.43"):
        notes.append(
            f"annotations ({service.location_of('annotations')}) need Docker Engine 24.0 "
            f"(API 1.43); this engine speaks API {api.api_version} and ignores them"
        )
    reservation = _reservation(service)
    if reservation is not None and reservation.cpus is not None:
        notes.append(
            "deploy.resources.reservations.cpus has no equivalent on one engine (Compose "
            "ignores it too); use `cpu_shares` for a relative weight"
        )
    if service.credential_spec:
        notes.append("credential_spec applies to Windows containers only; ignored")
    return notes


def explain_start_error(service: Service, text: str) -> str | None:
    """A clearer message for start failures that have a known cause."""
    if "could not select device driver" in text and wants_gpu(service):
        where = service.location_of("gpus" if service.gpus else "deploy")
        return (
            f"service {service.name!r} reserves GPUs ({where}), and this engine has no GPU "
            f"device driver ({text}). Install the NVIDIA Container Toolkit on the engine's "
            "host (`nvidia-container-toolkit`, then `nvidia-ctk runtime configure --runtime="
            "docker` and restart dockerd), or run without the GPU reservation (an override "
            "file, or a profile without this service)."
        )
    return None
