"""Networks and named volumes, created with Compose's names and labels."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from vpmigrate.compose.model import NetworkDef, Project, Service, VolumeDef
from vpmigrate.engine import labels
from vpmigrate.engine.events import Event, Reporter
from vpmigrate.errors import UserError

if TYPE_CHECKING:
    import docker


def networks_used(project: Project, services: Iterable[Service]) -> list[NetworkDef]:
    keys = {n.network for s in services for n in s.networks}
    return [project.networks[k] for k in sorted(keys)]


def volumes_used(project: Project, services: Iterable[Service]) -> list[VolumeDef]:
    keys = {v.source for s in services for v in s.volumes if v.type == "volume" and v.source}
    return [project.volumes[k] for k in sorted(keys)]


def exclusive_volumes(
    project: Project, services: Iterable[str], staying: Iterable[str]
) -> list[str]:
    """Engine names of the named volumes that `services` mount and no service in
    `staying` does (external volumes never): what removing those services may delete."""

    def keys(names: Iterable[str]) -> set[str]:
        return {
            v.source
            for n in names
            if n in project.services
            for v in project.services[n].volumes
            if v.type == "volume" and v.source
        }

    return sorted(
        project.volumes[k].name
        for k in keys(services) - keys(staying)
        if k in project.volumes and not project.volumes[k].external
    )


def _missing_external(kind: str, name: str) -> UserError:
    return UserError(
        f"{kind} {name!r} is declared `external: true` in the compose file but does "
        f"not exist. Create it (`docker {kind} create {name}`) or drop `external`."
    )


def ensure_network(
    client: docker.DockerClient, project: Project, network: NetworkDef, report: Reporter
) -> None:
    from docker.errors import APIError

    found = client.api.networks(names=[network.name])
    exact = [n for n in found if n["Name"] == network.name]
    if exact:
        return
    if network.external:
        raise _missing_external("network", network.name)
    net_labels = _labels(project, network.labels, labels.NETWORK, network.key)
    try:
        client.api.create_network(
            network.name,
            driver=network.driver or "bridge",
            options=dict(network.driver_opts) or None,
            ipam=_ipam(network),
            internal=network.internal,
            attachable=network.attachable or None,
            enable_ipv6=network.enable_ipv6,
            labels=net_labels,
            check_duplicate=True,
        )
    except APIError as exc:
        if "already exists" in str(exc):
            return  # a concurrent run created it
        reason = str(getattr(exc, "explanation", None) or exc).strip()
        hint = (
            " Another network uses that address range: pick another `ipam.config.subnet`, "
            "or remove the network that holds it (`docker network ls`)."
            if "overlaps" in reason
            else ""
        )
        where = f" ({network.location})" if network.location else ""
        raise UserError(
            f"the engine refused to create network {network.name!r}{where}: {reason}.{hint}"
        ) from None
    report(Event(network.name, "created", "network"))


def ensure_volume(
    client: docker.DockerClient, project: Project, volume: VolumeDef, report: Reporter
) -> None:
    from docker.errors import NotFound

    try:
        client.api.inspect_volume(volume.name)
        return
    except NotFound:
        pass
    if volume.external:
        raise _missing_external("volume", volume.name)
    vol_labels = _labels(project, volume.labels, labels.VOLUME, volume.key)
    client.api.create_volume(
        volume.name,
        driver=volume.driver or "local",
        driver_opts=dict(volume.driver_opts) or None,
        labels=vol_labels,
    )
    report(Event(volume.name, "created", "volume"))


def _ipam(network: NetworkDef) -> Any:
    """`ipam:` as the engine's IPAM config (None: the engine's defaults)."""
    from docker.types import IPAMConfig, IPAMPool

    if network.ipam is None:
        return None
    return IPAMConfig(
        driver=network.ipam.driver or "default",
        pool_configs=[
            IPAMPool(
                subnet=pool.subnet,
                iprange=pool.ip_range,
                gateway=pool.gateway,
                aux_addresses=dict(pool.aux_addresses) or None,
            )
            for pool in network.ipam.config
        ],
        options=dict(network.ipam.options) or None,
    )


def _labels(project: Project, own: Mapping[str, str], kind: str, key: str) -> dict[str, str]:
    """The user's labels plus Compose's, which tell `docker compose` the resource is its."""
    return {**own, labels.PROJECT: project.name, kind: key, labels.VERSION: labels.TOOL_VERSION}
