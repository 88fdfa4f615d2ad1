"""Container-level parity with Docker Compose: the same stack brought up once by
`docker compose up -d --wait` and once by `inv local.up`, under two project names (one
after the other, so that fixed ports, subnets and addresses do not collide), and the
containers' `docker inspect` compared field by field.

`FIELDS` lists what is compared (the fields a user's container behaviour depends on);
values are normalised first: the project name becomes `<project>`, container IDs
`<id>`, and lists whose order means nothing are sorted. What is not compared, and why:
the config-hash and image-ID labels (each tool computes its own), Hostname when the
file sets none (the engine uses the container ID), the addresses and host ports the
engine picks, timestamps and PIDs.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from devkit import dockerkit

REPO_ROOT = Path(__file__).resolve().parents[2]
_ID = re.compile(r"\b[0-9a-f]{64}\b|\b[0-9a-f]{12}\b")
NOT_COMPARED_LABELS = {
    "com.docker.compose.config-hash",
    "com.docker.compose.image",
    "com.docker.compose.version",
    # What went into an image we built (vpmigrate.engine.build); containers inherit
    # their image's labels.
    "vpmigrate.build",
}


def _sorted(value: Any) -> Any:
    return sorted(value, key=repr) if isinstance(value, list) else value


def _labels(value: Any) -> Any:
    return {k: v for k, v in (value or {}).items() if k not in NOT_COMPARED_LABELS}


def _port_bindings(value: Any) -> Any:
    """Host ports the engine picked (`HostPort` ""), as asked for."""
    return {
        port: sorted((b.get("HostIp", ""), b.get("HostPort", "")) for b in bindings or [])
        for port, bindings in (value or {}).items()
    }


def _mounts(value: Any) -> Any:
    keep = ("Type", "Source", "Destination", "Mode", "RW", "Propagation", "Name", "Driver")
    rows = [{k: m.get(k) for k in keep} for m in value or []]
    for row in rows:
        if row["Type"] == "volume" and not str(row.get("Name") or "").startswith("<project>"):
            row["Name"] = row["Source"] = "<anonymous>"  # a random name per container
    return sorted(rows, key=lambda m: str(m["Destination"]))


def _host_mounts(value: Any) -> Any:
    rows = []
    for mount in value or []:
        row = {
            k: mount.get(k) or None
            for k in ("Type", "Source", "Target", "ReadOnly", "BindOptions", "TmpfsOptions")
        }
        row["VolumeOptions"] = mount.get("VolumeOptions") or None  # {} and null alike
        if row["Type"] == "volume" and not str(row["Source"] or "").startswith("<project>"):
            row["Source"] = None  # anonymous
        rows.append(row)
    return sorted(rows, key=lambda m: str(m["Target"]))


def _networks(value: Any) -> Any:
    return {
        name: {
            "Aliases": sorted(a for a in (endpoint.get("Aliases") or []) if a != "<id>"),
            "IPAMConfig": endpoint.get("IPAMConfig") or None,  # {} and null alike
            "Links": _sorted(endpoint.get("Links")),
            "DriverOpts": endpoint.get("DriverOpts"),
        }
        for name, endpoint in (value or {}).items()
    }


def _empty_as_none(value: Any) -> Any:
    return value or None


# (path in the inspect data, normaliser)
FIELDS: list[tuple[str, Callable[[Any], Any]]] = [
    ("Name", str),
    ("Config.Domainname", str),
    ("Config.User", str),
    ("Config.AttachStdin", bool),
    ("Config.AttachStdout", bool),
    ("Config.AttachStderr", bool),
    ("Config.ExposedPorts", _empty_as_none),
    ("Config.Tty", bool),
    ("Config.OpenStdin", bool),
    ("Config.StdinOnce", bool),
    ("Config.Env", _sorted),
    ("Config.Cmd", _empty_as_none),
    ("Config.Image", str),
    ("Config.Volumes", _empty_as_none),
    ("Config.WorkingDir", str),
    ("Config.Entrypoint", _empty_as_none),
    ("Config.Labels", _labels),
    ("Config.StopSignal", _empty_as_none),
    ("Config.StopTimeout", _empty_as_none),
    ("Config.Healthcheck", _empty_as_none),
    ("HostConfig.Binds", _sorted),
    ("HostConfig.LogConfig", _empty_as_none),
    ("HostConfig.NetworkMode", str),
    ("HostConfig.PortBindings", _port_bindings),
    ("HostConfig.RestartPolicy", _empty_as_none),
    ("HostConfig.VolumesFrom", _empty_as_none),
    ("HostConfig.CapAdd", _empty_as_none),
    ("HostConfig.CapDrop", _empty_as_none),
    ("HostConfig.CgroupnsMode", str),
    ("HostConfig.Dns", _empty_as_none),
    ("HostConfig.DnsOptions", _empty_as_none),
    ("HostConfig.DnsSearch", _empty_as_none),
    ("HostConfig.ExtraHosts", _sorted),
    ("HostConfig.GroupAdd", _empty_as_none),
    ("HostConfig.IpcMode", str),
    ("HostConfig.Links", _sorted),
    ("HostConfig.OomScoreAdj", int),
    ("HostConfig.PidMode", str),
    ("HostConfig.Privileged", bool),
    ("HostConfig.ReadonlyRootfs", bool),
    ("HostConfig.SecurityOpt", _sorted),
    ("HostConfig.Tmpfs", _empty_as_none),
    ("HostConfig.ShmSize", int),
    ("HostConfig.Sysctls", _empty_as_none),
    ("HostConfig.Runtime", str),
    ("HostConfig.CpuShares", int),
    ("HostConfig.Memory", int),
    ("HostConfig.NanoCpus", int),
    ("HostConfig.CgroupParent", str),
    ("HostConfig.CpusetCpus", str),
    ("HostConfig.Devices", _empty_as_none),
    ("HostConfig.DeviceRequests", _empty_as_none),
    ("HostConfig.MemoryReservation", int),
    ("HostConfig.MemorySwap", int),
    ("HostConfig.PidsLimit", _empty_as_none),
    ("HostConfig.Ulimits", _sorted),
    ("HostConfig.Mounts", _host_mounts),
    ("HostConfig.Init", _empty_as_none),
    ("Mounts", _mounts),
    ("NetworkSettings.Networks", _networks),
    ("State.Status", str),
    ("State.ExitCode", int),
]


def _replace(value: Any, project: str) -> Any:
    if isinstance(value, str):
        return _ID.sub("<id>", value.replace(project, "<project>"))
    if isinstance(value, dict):
        return {_replace(k, project): _replace(v, project) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, project) for v in value]
    return value


def _get(attrs: Mapping[str, Any], path: str) -> Any:
    value: Any = attrs
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def view(attrs: Mapping[str, Any], project: str) -> dict[str, Any]:
    """The compared fields of one container, normalised."""
    data = _replace(attrs, project)
    result = {path: normalise(_get(data, path)) for path, normalise in FIELDS}
    hostname = str(_get(attrs, "Config.Hostname") or "")
    # Without `hostname:` the engine names the container's host after its ID.
    own = hostname and str(attrs.get("Id", "")).startswith(hostname)
    result["Config.Hostname"] = "<id>" if own else _replace(hostname, project)
    return result


def containers(client: Any, project: str) -> dict[str, dict[str, Any]]:
    """`<service>-<n>` -> inspect data, for every container of the project."""
    found = client.api.containers(
        all=True, filters={"label": f"com.docker.compose.project={project}"}
    )
    result = {}
    for summary in found:
        attrs = client.api.inspect_container(summary["Id"])
        labels = attrs["Config"]["Labels"]
        service = labels["com.docker.compose.service"]
        key = f"{service}-{labels['com.docker.compose.container-number']}"
        result[key] = attrs
    return result


def snapshot(
    client: Any, project: str, files: Mapping[str, Sequence[str]] | None = None
) -> dict[str, dict[str, Any]]:
    """`<service>-<n>` -> the compared fields of its container, normalised; plus, for
    the paths in `files` (by `<service>-<n>`), each file's mode, owner and content."""
    result = {}
    for key, attrs in containers(client, project).items():
        result[key] = view(attrs, project)
        for path in (files or {}).get(key, ()):
            result[key][f"file {path}"] = _file(client, attrs["Id"], path)
    return result


def _file(client: Any, container: str, path: str) -> str:
    command = ["sh", "-c", f"stat -c '%a %u:%g' {path} && cat {path}"]
    exec_id = client.api.exec_create(container, command)
    return str(client.api.exec_start(exec_id).decode("utf-8", "replace"))


def differences(reference: dict[str, dict[str, Any]], ours: dict[str, dict[str, Any]]) -> list[str]:
    """Field by field, what differs between two snapshots."""
    problems = []
    if set(reference) != set(ours):
        problems.append(f"containers: compose {sorted(reference)}, ours {sorted(ours)}")
    for key in sorted(set(reference) & set(ours)):
        expected, actual = reference[key], ours[key]
        for field in expected:
            if expected[field] != actual[field]:
                problems.append(
                    f"{key} {field}:\n    compose: {expected[field]!r}\n    ours:    "
                    f"{actual[field]!r}"
                )
    return problems


def compose_up(files: list[Path], project: str, env: Mapping[str, str] | None = None) -> None:
    command = ["docker", "compose", "-p", project]
    for path in files:
        command += ["-f", str(path)]
    done = subprocess.run(
        [*command, "up", "-d", "--wait", "--wait-timeout", "120"],
        capture_output=True,
        text=True,
        env={**dockerkit.cli_env(), **(env or {})},
        timeout=300,
        cwd=files[0].parent,
    )
    # `--wait` fails when a one-shot job exits 0 (a known Compose flaw): that is success.
    last = done.stderr.strip().splitlines()[-1:] if done.stderr.strip() else []
    exited_zero = bool(last) and last[0].startswith("container ") and "exited (0)" in last[0]
    assert done.returncode == 0 or exited_zero, f"docker compose up failed:\n{done.stderr}"


def inv_up(files: list[Path], project: str, env: Mapping[str, str] | None = None) -> str:
    command = [sys.executable, "-m", "invoke", "local.up"]
    for path in files:
        command += ["--file", str(path)]
    done = subprocess.run(
        [*command, "--project-name", project, "--timeout", "120"],
        capture_output=True,
        text=True,
        env={**dockerkit.cli_env(), **(env or {})},
        timeout=300,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 0, f"inv local.up failed:\n{done.stderr}"
    return done.stderr
