"""Translate a Compose service into the engine's container-create arguments."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from vpmigrate.compose.model import (
    Healthcheck,
    Project,
    Service,
    ServiceNetwork,
    link_parts,
    volumes_from_parts,
)
from vpmigrate.engine import hostconfig, labels
from vpmigrate.engine.state import ContainerState
from vpmigrate.errors import UserError

if TYPE_CHECKING:
    from docker import APIClient

NANO = 1_000_000_000


def healthcheck_config(check: Healthcheck | None) -> dict[str, Any] | None:
    if check is None:
        return None
    if check.disabled:
        return {"Test": ["NONE"]}
    # No test: the image's own check runs, with the timings given here.
    config: dict[str, Any] = {"Test": list(check.test)} if check.test else {}
    for key, seconds in (
        ("Interval", check.interval_s),
        ("Timeout", check.timeout_s),
        ("StartPeriod", check.start_period_s),
        ("StartInterval", check.start_interval_s),
    ):
        if seconds is not None:
            config[key] = int(seconds * NANO)
    if check.retries is not None:
        config["Retries"] = check.retries
    return config


def port_bindings(service: Service) -> tuple[list[Any], dict[str, list[tuple[str, str] | None]]]:
    exposed: list[Any] = []
    bindings: dict[str, list[tuple[str, str] | None]] = {}
    for port in service.ports:
        key = f"{port.target}/{port.protocol}"
        exposed.append((port.target, port.protocol) if port.protocol != "tcp" else port.target)
        # A published range ("8000-8010") is passed as it is: the engine picks a free port.
        published = port.published_spec
        binding = (port.host_ip or "", published) if published else None
        if binding is None and port.host_ip:
            binding = (port.host_ip, "")  # the engine picks the port, on this address
        bindings.setdefault(key, []).append(binding)
    return exposed, {k: [b for b in v if b is not None] or [None] for k, v in bindings.items()}


def aliases(
    project: Project, service: Service, extra: tuple[str, ...], number: int = 1
) -> list[str]:
    """Compose's DNS names on a network: the container name, the service name, then the
    aliases the user declared."""
    names = [labels.container_name(project, service, number), service.name, *extra]
    return list(dict.fromkeys(names))


def network_mode(
    project: Project, service: Service, peers: Mapping[str, Sequence[ContainerState]]
) -> str | None:
    """The engine's network mode: `service:X` becomes `container:<id of X's container>`
    (as Compose passes it), no mode means the first network."""
    mode = service.network_mode
    if mode is not None and mode.startswith("service:"):
        return (
            f"container:{_first(peers, mode.removeprefix('service:'), service, 'network_mode').id}"
        )
    networks = ordered_networks(service)
    return mode or (project.networks[networks[0].network].name if networks else None)


def volumes_from(service: Service, peers: Mapping[str, Sequence[ContainerState]]) -> list[str]:
    """`volumes_from` as the engine takes it: a service becomes its container's ID (as
    Compose passes it); the mode is kept (Compose 2.27 drops `:ro`, Docker honours it)."""
    result = []
    for entry in service.volumes_from:
        source, container, mode = volumes_from_parts(entry)
        if not container:
            source = _first(peers, source, service, "volumes_from").id
        result.append(f"{source}:{mode}" if mode else source)
    return result


def links(
    project: Project, service: Service, peers: Mapping[str, Sequence[ContainerState]]
) -> list[tuple[str, str]]:
    """`links` as endpoint links, as Compose writes them: each container of the linked
    service under the alias, `<service>-<n>` and `<project>-<service>-<n>`."""
    result: list[tuple[str, str]] = []
    for entry in service.links:
        linked, alias = link_parts(entry)
        for container in peers.get(linked, ()):
            for name in (alias, f"{linked}-{container.number}",
                         f"{project.name}-{linked}-{container.number}"):  # fmt: skip
                if (container.name, name) not in result:
                    result.append((container.name, name))
    return result


def _first(
    peers: Mapping[str, Sequence[ContainerState]], name: str, service: Service, key: str
) -> ContainerState:
    found = peers.get(name)
    if not found:
        raise UserError(
            f"service {service.name!r} needs a container of service {name!r} for `{key}` "
            f"({service.location_of(key)}), and {name!r} has none: start it first."
        )
    return found[0]


def create_args(
    api: APIClient,
    project: Project,
    service: Service,
    image_id: str,
    peers: Mapping[str, Sequence[ContainerState]] | None = None,
    number: int = 1,
    inherit: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Keyword arguments for `APIClient.create_container` (first network attached at
    create time, the rest before start). `peers`: the containers of the services this
    one names in `network_mode: service:X`, `volumes_from` and `links`; `number`: which
    of the service's replicas; `inherit`: the volumes (target -> name) of the container
    this one replaces."""
    peers = peers or {}
    exposed, bindings = port_bindings(service)
    binds, mounts = hostconfig.mounts(api, project, service)
    if inherit:
        mounts = inherited_volumes(api, service, image_id, mounts, inherit)
    networks = ordered_networks(service)
    first_network = networks[0] if networks else None
    host_config = api.create_host_config(
        port_bindings={k: v for k, v in bindings.items() if v != [None]} or None,
        binds=binds or None,
        mounts=mounts or None,
        restart_policy=hostconfig.restart_policy(service),
        network_mode=network_mode(project, service, peers),
        volumes_from=volumes_from(service, peers) or None,
        extra_hosts=_extra_hosts(service.extra_hosts),  # Compose sends [] for none
        init=service.init,
        ipc_mode=hostconfig.shared_namespace(service.ipc, "ipc", service, peers),
        pid_mode=hostconfig.shared_namespace(service.pid, "pid", service, peers),
        **hostconfig.resource_options(service),
    )
    requests = hostconfig.device_requests(service)
    if requests:  # as raw data: the SDK's type would send empty lists where Compose sends null
        host_config["DeviceRequests"] = requests
    if service.annotations:
        host_config["Annotations"] = dict(service.annotations)
    networking_config = None
    if first_network is not None:
        networking_config = api.create_networking_config(
            {
                project.networks[first_network.network].name: endpoint_config(
                    api, project, service, first_network, peers, number
                )
            }
        )
    exposed_ports = hostconfig.exposed_ports(service)
    return {
        "image": image_id if service.image.startswith("sha256:") else service.image,
        "name": labels.container_name(project, service, number),
        "command": list(service.command) if service.command is not None else None,
        "entrypoint": list(service.entrypoint) if service.entrypoint is not None else None,
        "environment": [f"{k}={v}" for k, v in service.environment.items()],
        "labels": labels.container_labels(project, service, image_id, number),
        "hostname": service.hostname,
        "domainname": service.domainname,
        "user": service.user,
        "working_dir": service.working_dir,
        "tty": service.tty,
        "stdin_open": service.stdin_open,
        "stop_signal": service.stop_signal,
        "stop_timeout": int(service.stop_grace_period_s)
        if service.stop_grace_period_s is not None
        else None,
        "healthcheck": healthcheck_config(service.healthcheck),
        # A mapping is passed to the engine as it is (a list would get "/tcp" appended).
        "ports": exposed_ports or None,
        "mac_address": service.mac_address if _mac_in_config(api) else None,
        "platform": service.platform,
        "host_config": host_config,
        "networking_config": networking_config,
        "detach": True,
    }


def create_container(
    api: APIClient,
    project: Project,
    service: Service,
    image_id: str,
    peers: Mapping[str, Sequence[ContainerState]] | None = None,
    number: int = 1,
    inherit: Mapping[str, str] | None = None,
) -> str:
    """Create the container `number` (not started, first network attached); returns its
    ID. Like Compose for `up -d`, it asks for stdout and stderr to be attachable."""
    args = create_args(api, project, service, image_id, peers, number, inherit)
    name, platform = args.pop("name"), args.pop("platform")
    args.pop("detach")
    # The proxy settings of ~/.docker/config.json, as `docker run` and Compose add them.
    args["environment"] = api._proxy_configs.inject_proxy_environment(args["environment"])
    config = api.create_container_config(detach=True, **args)
    config["AttachStdout"] = config["AttachStderr"] = True
    return str(api.create_container_from_config(config, name, platform)["Id"])


def inherited_volumes(
    api: APIClient, service: Service, image_id: str, mounts: list[Any], inherit: Mapping[str, str]
) -> list[Any]:
    """A container created again keeps the anonymous volumes of the one it replaces, as
    Compose does: those of the service (`- /data`) and those its image declares
    (`VOLUME`), so their data survives a changed definition."""
    from docker.types import Mount

    by_target = {str(m["Target"]): m for m in mounts}
    declared = {v.target for v in service.volumes}
    image_volumes = (api.inspect_image(image_id).get("Config") or {}).get("Volumes") or {}
    for target, name in inherit.items():
        mount = by_target.get(target)
        if mount is not None and mount["Type"] == "volume" and not mount.get("Source"):
            mount["Source"] = name  # the service's anonymous volume
        elif target not in declared and target in image_volumes:
            mounts.append(Mount(target=target, source=name, type="volume"))
    return mounts


def ordered_networks(service: Service) -> list[ServiceNetwork]:
    """The networks in the order the engine attaches them: higher `priority` first, then
    by name, as Compose does; the first is attached when the container is created."""
    return sorted(service.networks, key=lambda n: (-n.priority, n.network))


def endpoint_config(
    api: APIClient,
    project: Project,
    service: Service,
    network: ServiceNetwork,
    peers: Mapping[str, Sequence[ContainerState]],
    number: int = 1,
) -> Any:
    """The container's settings on one network: DNS aliases, links, fixed addresses."""
    config = api.create_endpoint_config(
        aliases=aliases(project, service, network.aliases, number),
        links=links(project, service, peers) or None,
        ipv4_address=network.ipv4_address,
        ipv6_address=network.ipv6_address,
        link_local_ips=list(network.link_local_ips) or None,
    )
    mac = network.mac_address or (None if _mac_in_config(api) else service.mac_address)
    if mac and not _mac_in_config(api):
        config["MacAddress"] = mac
    return config


def connect_kwargs(
    api: APIClient,
    project: Project,
    service: Service,
    network: ServiceNetwork,
    peers: Mapping[str, Sequence[ContainerState]],
    number: int = 1,
) -> dict[str, Any]:
    """`connect_container_to_network` keyword arguments for a network after the first."""
    return {
        "aliases": aliases(project, service, network.aliases, number),
        "links": links(project, service, peers) or None,
        "ipv4_address": network.ipv4_address,
        "ipv6_address": network.ipv6_address,
        "link_local_ips": list(network.link_local_ips) or None,
    }


def _mac_in_config(api: APIClient) -> bool:
    """Before API 1.44 the engine reads a MAC address from the container's Config; from
    1.44 on, per network. (Compose 2.27 sets neither on an API 1.41 engine.)"""
    from docker.utils import version_lt

    return bool(version_lt(str(api.api_version), "1.44"))


def peer_services(service: Service) -> set[str]:
    """Services whose containers this one's settings name: `network_mode`, `ipc` and
    `pid` of the form `service:X`, `volumes_from` and `links`."""
    named = {link_parts(entry)[0] for entry in service.links}
    named |= {
        volumes_from_parts(e)[0] for e in service.volumes_from if not e.startswith("container:")
    }
    for value in (service.network_mode, service.ipc, service.pid):
        if value is not None and value.startswith("service:"):
            named.add(value.removeprefix("service:"))
    return named


def _extra_hosts(entries: tuple[str, ...]) -> dict[str, str]:
    hosts: dict[str, str] = {}
    for entry in entries:
        sep = "=" if "=" in entry else ":"
        host, _, address = entry.partition(sep)
        hosts[host] = address
    return hosts
