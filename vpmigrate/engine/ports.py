"""Published-port conflicts, found before anything starts and named precisely."""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping, Sequence

from vpmigrate.compose.model import PortMapping, Project, Service
from vpmigrate.engine import labels
from vpmigrate.engine.backend import Engine, PortHolder
from vpmigrate.engine.state import ContainerState
from vpmigrate.errors import UserError


def _overlaps(ip_a: str, ip_b: str) -> bool:
    wildcard = ("", "0.0.0.0", "::")
    return ip_a in wildcard or ip_b in wildcard or ip_a == ip_b


def check_free(
    engine: Engine,
    project: Project,
    services: Sequence[Service],
    existing: Mapping[str, Sequence[ContainerState]],
) -> None:
    """Fail with one message if a published port is held by another container or process,
    or if several replicas would publish the same host port.

    A port held by the very containers we would keep for the same service is fine. A
    host port range is left to the engine, which takes a free port of the range.
    """
    wanted = [
        (s, p, p.published)
        for s in services
        for p in s.ports
        if p.published and (p.published_end is None or p.published_end == p.published)
    ]
    if not wanted:
        return
    problems = [
        f"service {service.name!r} runs {service.replicas} containers ({_replicas_at(service)}) "
        f"and publishes the one host port {_where(port)}: only one container can hold it. "
        f'Publish a range as many ports wide (e.g. "{host}-{host + service.replicas - 1}:'
        f'{port.target}"), or no host port.'
        for service, port, host in wanted
        if service.replicas > 1
    ]
    if problems:
        raise UserError("port already allocated: " + " ".join(problems))
    holders = engine.port_holders()
    for service, port, _ in wanted:
        own = existing.get(service.name, ())
        own_names = {c.name for c in own}
        for holder in holders:
            if holder.name in own_names:
                continue
            if any(
                b.host_port == port.published
                and b.protocol == port.protocol
                and _overlaps(b.host_ip, port.host_ip)
                for b in holder.ports
            ):
                problems.append(_describe(project, service, port, holder))
                break
        else:
            held_by_own = any(b.host_port == port.published for c in own for b in c.ports)
            if not held_by_own and not _bindable(port):
                problems.append(
                    f"port {_where(port)} of service {service.name!r} is already in use by "
                    "a process on this machine (not a container). Stop that process, or "
                    "publish the service on another port (the compose files take the port "
                    "from a variable, e.g. in .env)."
                )
    if problems:
        raise UserError("port already allocated: " + " ".join(problems))


def conflict_message(engine: Engine, project: Project, service: Service, engine_text: str) -> str:
    """Explain an engine 'port is already allocated' error raised at start."""
    match = re.search(r":(\d+) failed", engine_text) or re.search(r":(\d+)", engine_text)
    port_no = int(match.group(1)) if match else None
    port = next((p for p in service.ports if p.published == port_no), None)
    if port is not None:
        for holder in engine.port_holders():
            if any(b.host_port == port_no for b in holder.ports):
                return "port already allocated: " + _describe(project, service, port, holder)
    return (
        f"port already allocated for service {service.name!r}: {engine_text}. Free the port or "
        "publish the service on another one."
    )


def _describe(project: Project, service: Service, port: PortMapping, holder: PortHolder) -> str:
    holder_name = holder.name
    holder_project = holder.labels.get(labels.PROJECT)
    holder_service = holder.labels.get(labels.SERVICE)
    if holder_project == project.name:
        owner = f"container {holder_name} (service {holder_service!r} of this project)"
        fix = "`inv local.down` that service first, or change one of the two ports"
    elif holder_project:
        owner = (
            f"container {holder_name} (service {holder_service!r} "
            f"of Compose project {holder_project!r})"
        )
        fix = (
            f"stop it (`inv local.down --project-name {holder_project}` "
            f"or `docker compose -p {holder_project} down`)"
        )
    else:
        owner = f"container {holder_name}"
        fix = f"stop it (`docker stop {holder_name}`)"
    return (
        f"port {_where(port)} wanted by service {service.name!r} is already published by "
        f"{owner}: {fix}, or publish {service.name!r} on another host port."
    )


def _replicas_at(service: Service) -> str:
    key = "scale" if service.scale is not None else "deploy.replicas"
    return f"`{key}` at {service.location_of(key)}"


def _where(port: PortMapping) -> str:
    host = port.host_ip or "0.0.0.0"
    return f"{host}:{port.published}/{port.protocol}"


def _bindable(port: PortMapping) -> bool:
    """Can a socket bind the host address? (A port held by a non-container process.)"""
    family = socket.AF_INET6 if ":" in port.host_ip else socket.AF_INET
    kind = socket.SOCK_DGRAM if port.protocol == "udp" else socket.SOCK_STREAM
    host = port.host_ip or ("::" if family == socket.AF_INET6 else "0.0.0.0")
    assert port.published is not None
    with socket.socket(family, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port.published))
        except OSError:
            return False
    return True
