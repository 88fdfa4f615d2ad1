"""Resource-related service keys: `deploy`, `gpus`, `ulimits`, `blkio_config`, `logging`.

`deploy` is read as Compose reads it on a single engine: `replicas`, `resources`
(limits, reservations with devices such as GPUs) and `restart_policy` shape the
containers; the Swarm-only settings (`placement`, `update_config`,
`rollback_config`, `endpoint_mode`, `mode: global`, `labels`, generic resources)
are kept for `local.config` and reported as warnings that name file:line.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType
from typing import Any

from vpmigrate.compose.model import (
    BlkioConfig,
    Deploy,
    DeviceRequest,
    Location,
    Logging,
    Resource,
    RestartPolicy,
    ThrottleDevice,
    Ulimit,
    WeightDevice,
)
from vpmigrate.compose.tree import go_string, plain
from vpmigrate.compose.values import byte_size, duration, integer, keyed, problem, text
from vpmigrate.compose.yamlsource import LocatedDict, LocatedList

Warn = Callable[[str], None]
_SWARM_ONLY = ("placement", "update_config", "rollback_config", "endpoint_mode")


def read_deploy(value: Any, location: Location, where: str, warn: Warn) -> Deploy | None:
    if value is None:
        return None
    if not isinstance(value, LocatedDict):
        raise problem(location, where, "must be a mapping.")
    swarm: dict[str, Any] = {}
    for key in _SWARM_ONLY:
        if key in value:
            swarm[key] = _swarm_value(key, value[key], f"{where}.{key}")
            warn(
                f"{value.loc(key)}: {where}.{key} only applies to Docker Swarm; a single "
                "engine ignores it (as `docker compose up` does)."
            )
    mode = value.get("mode")
    if mode is not None:
        mode = text(mode, value.loc("mode"), f"{where}.mode")
        if mode == "global":
            warn(
                f"{value.loc('mode')}: {where}.mode: global only applies to Docker Swarm; a "
                "single engine runs the service's replicas (1 unless `replicas:` says otherwise)."
            )
        elif mode not in ("replicated", "replicated-job", "global-job"):
            raise problem(
                value.loc("mode"), f"{where}.mode", f"unknown mode {mode!r}; use replicated."
            )
    labels = {}
    if value.get("labels") is not None:
        entries = keyed(value["labels"], value.loc("labels"), f"{where}.labels")
        labels = {k: "" if v is None else go_string(v) for k, v in entries.items()}
        warn(
            f"{value.loc('labels')}: {where}.labels label the Swarm service, not the "
            "containers; a single engine ignores them (use the service's `labels:`)."
        )
    resources = value.get("resources")
    limits = reservations = None
    if isinstance(resources, LocatedDict):
        limits = _resource(resources.get("limits"), f"{where}.resources.limits", warn)
        reservations = _resource(
            resources.get("reservations"), f"{where}.resources.reservations", warn
        )
    replicas = value.get("replicas")
    return Deploy(
        mode=mode,
        replicas=None if replicas is None else integer(replicas, value.loc("replicas"), where),
        labels=MappingProxyType(labels),
        limits=limits,
        reservations=reservations,
        restart_policy=_restart_policy(value.get("restart_policy"), f"{where}.restart_policy"),
        swarm=MappingProxyType(swarm),
    )


def _swarm_value(key: str, value: Any, where: str) -> Any:
    """Swarm settings as `docker compose config` prints them (durations normalised)."""
    data = plain(value)
    if key in ("update_config", "rollback_config") and isinstance(value, LocatedDict):
        for field in ("delay", "monitor"):
            if isinstance(value.get(field), str):
                seconds = duration(value[field], value.loc(field), f"{where}.{field}")
                data[field] = go_duration(seconds)
    return data


def _resource(value: Any, where: str, warn: Warn) -> Resource | None:
    if not isinstance(value, LocatedDict):
        return None
    cpus = value.get("cpus")
    memory = value.get("memory")
    pids = value.get("pids")
    generic = value.get("generic_resources")
    if generic is not None:
        warn(
            f"{value.loc('generic_resources')}: {where}.generic_resources only applies to "
            "Docker Swarm; a single engine ignores it."
        )
    return Resource(
        cpus=None if cpus is None else _cpus(cpus, value.loc("cpus"), f"{where}.cpus"),
        memory=None if memory is None else byte_size(memory, value.loc("memory"), where),
        pids=None if pids is None else integer(pids, value.loc("pids"), f"{where}.pids"),
        devices=read_device_requests(
            value.get("devices"), value.loc("devices"), f"{where}.devices"
        ),
        generic_resources=tuple(plain(generic) or ()),
    )


def _cpus(value: Any, location: Location, where: str) -> float:
    if isinstance(value, bool):
        raise problem(location, where, f"expected a number of CPUs such as 0.5, found {value!r}.")
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        raise problem(
            location, where, f"expected a number of CPUs such as 0.5, found {value!r}."
        ) from None


def read_cpus(value: Any, location: Location, where: str) -> float:
    return _cpus(value, location, where)


def read_device_requests(value: Any, location: Location, where: str) -> tuple[DeviceRequest, ...]:
    if value is None:
        return ()
    if not isinstance(value, LocatedList):
        raise problem(location, where, "must be a list of device requests.")
    requests = []
    for index, item in enumerate(value):
        here = f"{where}[{index}]"
        if not isinstance(item, LocatedDict):
            raise problem(
                value.loc(index), here, "must be a mapping (driver, count, capabilities)."
            )
        count = item.get("count")
        options = keyed(item.get("options"), item.loc("options"), f"{here}.options")
        requests.append(
            DeviceRequest(
                capabilities=tuple(
                    text(c, item.loc("capabilities"), here) for c in item.get("capabilities") or ()
                ),
                driver=None
                if item.get("driver") in (None, "")
                else text(item["driver"], item.loc("driver"), here),
                count=None
                if count is None
                else _device_count(count, item.loc("count"), f"{here}.count"),
                device_ids=tuple(
                    text(d, item.loc("device_ids"), here) for d in item.get("device_ids") or ()
                ),
                options=MappingProxyType(
                    {k: "" if v is None else go_string(v) for k, v in options.items()}
                ),
            )
        )
    return tuple(requests)


def _device_count(value: Any, location: Location, where: str) -> int:
    if isinstance(value, str) and value.lower() == "all":
        return -1
    try:
        return integer(value, location, where)
    except Exception:
        raise problem(
            location, where, f"the count is 'all' or a number of devices, not {value!r}."
        ) from None


def read_gpus(value: Any, location: Location, where: str) -> tuple[DeviceRequest, ...]:
    """`gpus: all` or a list of device requests (Compose 2.30's key; 2.27 refuses it)."""
    if value is None:
        return ()
    if isinstance(value, str):
        if value.lower() == "all":
            return (DeviceRequest(count=-1),)
        raise problem(location, where, f"write `gpus: all` or a list of requests, not {value!r}.")
    return read_device_requests(value, location, where)


def _restart_policy(value: Any, where: str) -> RestartPolicy | None:
    if not isinstance(value, LocatedDict):
        return None
    condition = value.get("condition")
    if condition is not None and condition not in ("none", "on-failure", "any"):
        raise problem(
            value.loc("condition"),
            f"{where}.condition",
            f"unknown condition {condition!r}; use none, on-failure or any.",
        )

    def seconds(key: str) -> float | None:
        raw = value.get(key)
        return None if raw is None else duration(raw, value.loc(key), f"{where}.{key}")

    attempts = value.get("max_attempts")
    return RestartPolicy(
        condition=condition,
        delay_s=seconds("delay"),
        max_attempts=None
        if attempts is None
        else integer(attempts, value.loc("max_attempts"), where),
        window_s=seconds("window"),
    )


def read_ulimits(value: Any, location: Location, where: str) -> dict[str, Ulimit]:
    if value is None:
        return {}
    if not isinstance(value, LocatedDict):
        raise problem(location, where, "must be a mapping of limits.")
    result = {}
    for name, limit in value.items():
        here = f"{where}.{name}"
        if isinstance(limit, LocatedDict):
            soft = integer(limit.get("soft"), limit.loc("soft"), f"{here}.soft")
            hard = integer(limit.get("hard"), limit.loc("hard"), f"{here}.hard")
            if soft > hard and hard != -1:
                raise problem(
                    value.loc(name), here, f"the soft limit {soft} is above the hard limit {hard}."
                )
            result[name] = Ulimit(soft=soft, hard=hard)
        else:
            number = integer(limit, value.loc(name), here)
            result[name] = Ulimit(soft=number, hard=number, single=True)
    return result


def read_blkio(value: Any, location: Location, where: str) -> BlkioConfig | None:
    if not isinstance(value, LocatedDict):
        return None

    def throttles(key: str) -> tuple[ThrottleDevice, ...]:
        items = value.get(key) or ()
        return tuple(
            ThrottleDevice(
                path=text(item.get("path", ""), item.location, f"{where}.{key}"),
                rate=byte_size(item.get("rate", 0), item.location, f"{where}.{key}"),
            )
            for item in items
        )

    weight = value.get("weight")
    return BlkioConfig(
        weight=None if weight is None else integer(weight, value.loc("weight"), where),
        weight_device=tuple(
            WeightDevice(
                path=text(item.get("path", ""), item.location, f"{where}.weight_device"),
                weight=integer(item.get("weight", 0), item.location, f"{where}.weight_device"),
            )
            for item in value.get("weight_device") or ()
        ),
        device_read_bps=throttles("device_read_bps"),
        device_read_iops=throttles("device_read_iops"),
        device_write_bps=throttles("device_write_bps"),
        device_write_iops=throttles("device_write_iops"),
    )


def read_logging(value: Any, location: Location, where: str) -> Logging | None:
    if not isinstance(value, LocatedDict):
        return None
    driver = value.get("driver")
    options = value.get("options")
    return Logging(
        driver=None if driver in (None, "") else text(driver, value.loc("driver"), where),
        options=MappingProxyType(
            {
                k: "" if v is None else go_string(v)
                for k, v in (options.items() if isinstance(options, LocatedDict) else ())
            }
        ),
    )


def go_duration(seconds: float) -> str:
    """A duration as Go prints it (`1m30s`, `500ms`, `1h0m0s`, `0s`): what Compose prints."""
    nanos = round(seconds * 1e9)
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    nanos = abs(nanos)
    if nanos < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if nanos >= size:
                return sign + _with_fraction(nanos, size) + unit
    hours, rest = divmod(nanos, 3600 * 1_000_000_000)
    minutes, rest = divmod(rest, 60 * 1_000_000_000)
    secs = _with_fraction(rest, 1_000_000_000)
    if hours:
        return f"{sign}{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{sign}{minutes}m{secs}s"
    return f"{sign}{secs}s"


def _with_fraction(nanos: int, size: int) -> str:
    whole, fraction = divmod(nanos, size)
    if not fraction:
        return str(whole)
    digits = len(str(size)) - 1
    return f"{whole}." + str(fraction).rjust(digits, "0").rstrip("0")
