"""The resolved model in the shape `docker compose config` prints.

`compose_config` loads files the way `inv local.config` does and returns the document
Compose v2 would print for them (same keys, same normalised values: sizes as byte
strings, durations as Go prints them, short syntax expanded, only the services of the
active profiles and the networks, volumes, secrets and configs they use). With
`escape=True` (the default), `$` is doubled, as Compose does so that its output can be
read again. Secrets: a `file:` path or `environment:` variable name is printed, never
a secret's value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from vpmigrate.compose.deploy import go_duration
from vpmigrate.compose.loader import load_project_with_warnings
from vpmigrate.compose.model import (
    BlkioConfig,
    BuildSpec,
    Deploy,
    DeviceRequest,
    FileObjectDef,
    FileReference,
    Healthcheck,
    NetworkDef,
    PortMapping,
    Project,
    Resource,
    Service,
    ServiceNetwork,
    VolumeDef,
    VolumeMount,
)
from vpmigrate.compose.profiles import active_profiles, select_services


def compose_config(
    files: Sequence[Path],
    *,
    profiles: Sequence[str] = (),
    project_name: str | None = None,
    project_directory: Path | None = None,
    env_files: Sequence[Path] | None = None,
    environ: Mapping[str, str] | None = None,
    escape: bool = True,
) -> dict[str, Any]:
    """Load `files` and return what `docker compose config --format json` prints."""
    loaded = load_project_with_warnings(
        files,
        project_name=project_name,
        project_directory=project_directory,
        env_files=env_files,
        environ=environ,
    )
    project = loaded.project
    selected = select_services(project, active_profiles(profiles, project))
    return project_config(project, [s.name for s in selected], escape=escape)


def project_config(
    project: Project, services: Iterable[str], *, escape: bool = True
) -> dict[str, Any]:
    """`project` restricted to `services` (and what they use), in Compose's shape."""
    chosen = [project.services[name] for name in sorted(services)]
    document: dict[str, Any] = {
        "name": project.name,
        "services": {s.name: service_config(s) for s in chosen},
    }
    networks = {n.network for s in chosen for n in s.networks}
    volumes = {v.source for s in chosen for v in s.volumes if v.type == "volume" and v.source}
    secrets: set[Any] = {r.source for s in chosen for r in s.secrets}
    configs = {r.source for s in chosen for r in s.configs}
    for service in chosen:
        if service.build is not None:
            for secret in service.build.buildkit_only.get("secrets") or ():
                secrets.add(secret.get("source") if isinstance(secret, dict) else str(secret))
    sections: list[tuple[str, Mapping[str, Any], set[Any], Any]] = [
        ("networks", project.networks, networks, _network),
        ("volumes", project.volumes, volumes, _volume),
        ("secrets", project.secrets, secrets, _file_object),
        ("configs", project.configs, configs, _file_object),
    ]
    for section, definitions, used, render in sections:
        rendered = {key: render(d) for key, d in sorted(definitions.items()) if key in used}
        if rendered:
            document[section] = rendered
    document.update(project.extensions)
    return _escaped(document) if escape else document


def _escaped(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, dict):
        return {_escaped(k): _escaped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escaped(v) for v in value]
    return value


class _Out(dict[str, Any]):
    """A mapping that leaves out what Go's `omitempty` leaves out."""

    def opt(self, key: str, value: Any) -> None:
        if value is None or value is False or value == 0 and not isinstance(value, bool):
            return
        if isinstance(value, str | list | tuple | dict | Mapping) and not value:
            return
        self[key] = _json(value)

    def some(self, key: str, value: Any) -> None:
        """A pointer field: left out only when unset (None)."""
        if value is not None:
            self[key] = _json(value)


def _json(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return value


def service_config(service: Service) -> dict[str, Any]:
    """One service as `docker compose config` prints it."""
    out = _Out()
    written = service.locations
    out.opt("profiles", list(service.profiles))
    out.opt("annotations", dict(service.annotations))
    out.some("attach", service.attach)
    if service.build is not None:
        out["build"] = _build(service.build)
    out.opt("blkio_config", _blkio(service.blkio_config))
    out.opt("cap_add", list(service.cap_add))
    out.opt("cap_drop", list(service.cap_drop))
    out.opt("cgroup_parent", service.cgroup_parent)
    out.opt("cgroup", service.cgroup)
    out.opt("cpu_count", service.cpu_count)
    out.opt("cpu_percent", service.cpu_percent)
    out.opt("cpu_period", service.cpu_period)
    out.opt("cpu_quota", service.cpu_quota)
    out.opt("cpu_rt_period", service.cpu_rt_period)
    out.opt("cpu_rt_runtime", service.cpu_rt_runtime)
    out.opt("cpus", service.cpus)
    out.opt("cpuset", service.cpuset)
    out.opt("cpu_shares", service.cpu_shares)
    out["command"] = None if service.command is None else list(service.command)
    out.opt("configs", [_reference(r) for r in service.configs])
    out.opt("container_name", service.container_name)
    out.opt("credential_spec", dict(service.credential_spec or {}))
    out.opt(
        "depends_on",
        {
            d.service: {
                "condition": d.condition,
                **({"restart": True} if d.restart else {}),
                "required": d.required,
            }
            for d in service.depends_on
        },
    )
    if service.deploy is not None:
        out["deploy"] = _deploy(service.deploy)
    out.opt("device_cgroup_rules", list(service.device_cgroup_rules))
    out.opt("devices", list(service.devices))
    out.opt("dns", list(service.dns))
    out.opt("dns_opt", list(service.dns_opt))
    out.opt("dns_search", list(service.dns_search))
    out.opt("domainname", service.domainname)
    out["entrypoint"] = None if service.entrypoint is None else list(service.entrypoint)
    out.opt("environment", dict(service.environment))
    out.opt("expose", list(service.expose))
    out.opt("external_links", list(service.external_links))
    out.opt("extra_hosts", sorted(h.replace(":", "=", 1) for h in service.extra_hosts))
    out.opt("gpus", [_device_request(d) for d in service.gpus])
    out.opt("group_add", list(service.group_add))
    out.opt("hostname", service.hostname)
    out.opt("healthcheck", _healthcheck(service.healthcheck))
    if service.image_declared:
        out.opt("image", service.image)
    out.some("init", service.init)
    out.opt("ipc", service.ipc)
    out.opt("isolation", service.isolation)
    out.opt("labels", dict(service.labels))
    out.opt("links", list(service.links))
    if service.logging is not None:
        logging = _Out()
        logging.opt("driver", service.logging.driver)
        logging.opt("options", dict(service.logging.options))
        out.opt("logging", logging)
    out.opt("mem_limit", _bytes(service.mem_limit))
    out.opt("mem_reservation", _bytes(service.mem_reservation))
    out.opt("memswap_limit", _bytes(service.memswap_limit))
    out.opt("mem_swappiness", _bytes(service.mem_swappiness))
    out.opt("mac_address", service.mac_address)
    out.opt("network_mode", service.network_mode)
    out.opt("networks", {n.network: _service_network(n) for n in service.networks})
    out.opt("oom_kill_disable", service.oom_kill_disable)
    out.opt("oom_score_adj", service.oom_score_adj)
    out.opt("pid", service.pid)
    out.opt("pids_limit", service.pids_limit)
    out.opt("platform", service.platform)
    out.opt("ports", [_port(p) for p in service.ports])
    out.opt("privileged", service.privileged)
    out.opt("pull_policy", service.pull_policy)
    out.opt("read_only", service.read_only)
    if "restart" in written:
        out.opt("restart", service.restart)
    out.opt("runtime", service.runtime)
    out.some("scale", service.scale)
    out.opt("secrets", [_reference(r) for r in service.secrets])
    out.opt("security_opt", list(service.security_opt))
    out.opt("shm_size", _bytes(service.shm_size))
    out.opt("stdin_open", service.stdin_open)
    if service.stop_grace_period_s is not None:
        out["stop_grace_period"] = go_duration(service.stop_grace_period_s)
    out.opt("stop_signal", service.stop_signal)
    out.opt("storage_opt", dict(service.storage_opt))
    out.opt("sysctls", dict(service.sysctls))
    out.opt("tmpfs", list(service.tmpfs))
    out.opt("tty", service.tty)
    out.opt(
        "ulimits",
        {
            name: limit.soft if limit.single else {"soft": limit.soft, "hard": limit.hard}
            for name, limit in service.ulimits.items()
        },
    )
    out.opt("user", service.user)
    out.opt("userns_mode", service.userns_mode)
    out.opt("uts", service.uts)
    out.opt("volume_driver", service.volume_driver)
    out.opt("volumes", [_mount(v) for v in service.volumes])
    out.opt("volumes_from", list(service.volumes_from))
    out.opt("working_dir", service.working_dir)
    for key, value in service.extras.items():
        out.opt(key, value)
    return dict(out)


def _bytes(value: int | None) -> str | None:
    return None if not value else str(value)


def _duration(value: float | None) -> str | None:
    return None if value is None else go_duration(value)


def _reference(reference: FileReference) -> dict[str, Any]:
    out = _Out(source=reference.source)
    out.opt("target", reference.target)
    out.opt("uid", reference.uid)
    out.opt("gid", reference.gid)
    out.some("mode", reference.mode)
    return dict(out)


def _healthcheck(check: Healthcheck | None) -> dict[str, Any] | None:
    if check is None:
        return None
    out = _Out()
    if check.disable:
        out["disable"] = True
        return dict(out)
    out.opt("test", list(check.test))
    out.opt("timeout", _duration(check.timeout_s))
    out.opt("interval", _duration(check.interval_s))
    out.some("retries", check.retries)
    out.opt("start_period", _duration(check.start_period_s))
    out.opt("start_interval", _duration(check.start_interval_s))
    return dict(out)


def _port(port: PortMapping) -> dict[str, Any]:
    out = _Out()
    out.opt("name", port.name)
    out.opt("mode", port.mode)
    out.opt("host_ip", port.host_ip)
    out.opt("target", port.target)
    out.opt("published", port.published_spec)
    out.opt("protocol", port.protocol)
    out.opt("app_protocol", port.app_protocol)
    return dict(out)


def _mount(volume: VolumeMount) -> dict[str, Any]:
    out = _Out(type=volume.type)
    out.opt("source", volume.source)
    out.opt("target", volume.target)
    out.opt("read_only", volume.read_only)
    out.opt("consistency", volume.consistency)
    if volume.bind is not None:
        bind = _Out()
        bind.opt("selinux", volume.bind.selinux)
        bind.opt("propagation", volume.bind.propagation)
        bind.opt("create_host_path", volume.bind.create_host_path)
        out["bind"] = dict(bind)
    if volume.volume is not None:
        options = _Out()
        options.opt("nocopy", volume.volume.nocopy)
        options.opt("subpath", volume.volume.subpath)
        out["volume"] = dict(options)
    if volume.tmpfs is not None:
        tmpfs = _Out()
        tmpfs.opt("size", _bytes(volume.tmpfs.size))
        tmpfs.opt("mode", volume.tmpfs.mode)
        out["tmpfs"] = dict(tmpfs)
    return dict(out)


def _service_network(network: ServiceNetwork) -> dict[str, Any] | None:
    out = _Out()
    out.opt("priority", network.priority)
    out.opt("aliases", list(network.aliases))
    out.opt("ipv4_address", network.ipv4_address)
    out.opt("ipv6_address", network.ipv6_address)
    out.opt("link_local_ips", list(network.link_local_ips))
    out.opt("mac_address", network.mac_address)
    return dict(out) or None


def _device_request(request: DeviceRequest) -> dict[str, Any]:
    out = _Out()
    out.opt("capabilities", list(request.capabilities))
    out.opt("driver", request.driver)
    out.opt("count", request.count)
    out.opt("device_ids", list(request.device_ids))
    out.opt("options", dict(request.options))
    return dict(out)


def _resource(resource: Resource | None) -> dict[str, Any] | None:
    if resource is None:
        return None
    out = _Out()
    out.opt("cpus", resource.cpus)
    out.opt("memory", _bytes(resource.memory))
    out.opt("pids", resource.pids)
    out.opt("devices", [_device_request(d) for d in resource.devices])
    out.opt("generic_resources", list(resource.generic_resources))
    return dict(out)


def _deploy(deploy: Deploy) -> dict[str, Any]:
    out = _Out()
    out.opt("mode", deploy.mode)
    out.some("replicas", deploy.replicas)
    out.opt("labels", dict(deploy.labels))
    for key in ("update_config", "rollback_config"):
        if key in deploy.swarm:
            out[key] = deploy.swarm[key]
    resources = _Out()
    limits, reservations = _resource(deploy.limits), _resource(deploy.reservations)
    if limits is not None:
        resources["limits"] = limits
    if reservations is not None:
        resources["reservations"] = reservations
    out["resources"] = dict(resources)
    if deploy.restart_policy is not None:
        policy = _Out()
        policy.opt("condition", deploy.restart_policy.condition)
        policy.opt("delay", _duration(deploy.restart_policy.delay_s))
        policy.some("max_attempts", deploy.restart_policy.max_attempts)
        policy.opt("window", _duration(deploy.restart_policy.window_s))
        out["restart_policy"] = dict(policy)
    out["placement"] = deploy.swarm.get("placement") or {}
    out.opt("endpoint_mode", deploy.swarm.get("endpoint_mode"))
    return dict(out)


def _blkio(blkio: BlkioConfig | None) -> dict[str, Any] | None:
    if blkio is None:
        return None
    out = _Out()
    out.opt("weight", blkio.weight)
    out.opt("weight_device", [{"Path": d.path, "Weight": d.weight} for d in blkio.weight_device])
    for key in ("device_read_bps", "device_read_iops", "device_write_bps", "device_write_iops"):
        devices = getattr(blkio, key)
        out.opt(key, [{"Path": d.path, "Rate": str(d.rate)} for d in devices])
    return dict(out)


def _build(build: BuildSpec) -> dict[str, Any]:
    out = _Out()
    out.opt("context", build.context)
    out.opt("dockerfile", build.dockerfile)
    out.opt("dockerfile_inline", build.dockerfile_inline)
    out.opt("args", dict(build.args))
    out.opt("labels", dict(build.labels))
    out.opt("cache_from", list(build.cache_from))
    out.opt("pull", build.pull)
    out.opt("no_cache", build.no_cache)
    out.opt("extra_hosts", sorted(h.replace(":", "=", 1) for h in build.extra_hosts))
    out.opt("isolation", build.isolation)
    out.opt("network", build.network)
    out.opt("target", build.target)
    out.opt("shm_size", _bytes(build.shm_size))
    out.opt("tags", list(build.tags))
    out.opt("platforms", list(build.platforms))
    for key, value in build.buildkit_only.items():
        if key == "ssh" and isinstance(value, dict):
            value = [k if v is None else f"{k}={v}" for k, v in value.items()]
        out.opt(key, value)
    return dict(out)


def _common(definition: NetworkDef | VolumeDef | FileObjectDef) -> _Out:
    out = _Out(name=definition.name)
    out.opt("driver", definition.driver)
    out.opt("driver_opts", dict(definition.driver_opts))
    return out


def _network(network: NetworkDef) -> dict[str, Any]:
    out = _common(network)
    ipam = _Out()
    if network.ipam is not None:
        ipam.opt("driver", network.ipam.driver)
        pools = []
        for pool in network.ipam.config:
            rendered = _Out()
            rendered.opt("subnet", pool.subnet)
            rendered.opt("gateway", pool.gateway)
            rendered.opt("ip_range", pool.ip_range)
            rendered.opt("aux_addresses", dict(pool.aux_addresses))
            pools.append(dict(rendered))
        out_pools = pools
        if out_pools:
            ipam["config"] = out_pools
        ipam.opt("options", dict(network.ipam.options))
    out["ipam"] = dict(ipam)
    out.opt("external", network.external)
    out.opt("internal", network.internal)
    out.opt("attachable", network.attachable)
    out.opt("labels", dict(network.labels))
    out.opt("enable_ipv6", network.enable_ipv6)
    return dict(out)


def _volume(volume: VolumeDef) -> dict[str, Any]:
    out = _common(volume)
    out.opt("external", volume.external)
    out.opt("labels", dict(volume.labels))
    return dict(out)


def _file_object(definition: FileObjectDef) -> dict[str, Any]:
    out = _Out(name=definition.name)
    out.opt("file", definition.file)
    out.opt("environment", definition.environment)
    out.opt("content", definition.content)
    out.opt("external", definition.external)
    out.opt("labels", dict(definition.labels))
    out.opt("driver", definition.driver)
    out.opt("driver_opts", dict(definition.driver_opts))
    out.opt("template_driver", definition.template_driver)
    return dict(out)
