"""The split plan: which service belongs to which group, and what each output keeps.

The plan file (compose/split-plan.yml) is small and declarative:

    groups:                 # group name = the profile its services carry
      mvp: [postgres, mlflow, minio, minio-init]
      monitoring: [prometheus, grafana]
    outputs:
      docker-compose.mvp.yml:
        always_on: [mvp]          # no `profiles` key: always started
        profiles: [monitoring]    # kept behind `profiles: [<group>]`
      docker-compose.full.yml:
        profiles: [mvp, monitoring]

Groups an output names in neither list are left out of that file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from vpmigrate.errors import UserError
from vpmigrate.split.roundtrip import parse
from vpmigrate.userfiles import Location, read_user_file

# Compose's rule for profile names.
_PROFILE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
_OUTPUT_NAME = re.compile(r"^[^/\\]+\.ya?ml$")


@dataclass(frozen=True)
class OutputSpec:
    """One generated file and the groups it keeps."""

    file: str  # a file name inside the output directory
    always_on: tuple[str, ...]  # groups written without a `profiles` key
    profiles: tuple[str, ...]  # groups written with `profiles: [<group>]`
    location: Location

    def profile_of(self, group: str) -> tuple[str, ...] | None:
        """The `profiles` a service of `group` gets here: () always on, None left out."""
        if group in self.always_on:
            return ()
        if group in self.profiles:
            return (group,)
        return None


@dataclass(frozen=True)
class SplitPlan:
    path: Path
    groups: Mapping[str, tuple[str, ...]]  # group -> services, in the order written
    outputs: tuple[OutputSpec, ...]
    # where each (group, service) entry is written, for error messages
    entries: Mapping[tuple[str, str], Location] = field(
        default_factory=lambda: MappingProxyType({})
    )

    def group_of(self, service: str) -> str | None:
        for group, services in self.groups.items():
            if service in services:
                return group
        return None


def _where(path: Path, node: Any, key: Any = None) -> Location:
    """The 1-based line of `node` (or of its entry `key`) in the plan file."""
    try:
        if key is None:
            line = node.lc.line
        elif isinstance(node, CommentedMap):
            line = node.lc.key(key)[0]
        else:
            line = node.lc.item(key)[0]
    except (AttributeError, KeyError, IndexError, TypeError):
        line = 0
    return Location(path, line + 1)


def _names(path: Path, value: Any, what: str, where: Location) -> list[tuple[str, Location]]:
    if value is None:
        return []
    if not isinstance(value, CommentedSeq) or not all(isinstance(v, str) for v in value):
        raise UserError(
            f"{where}: {what} must be a list of names, like [mvp, monitoring]. Fix the plan."
        )
    return [(name, _where(path, value, index)) for index, name in enumerate(value)]


def _reject_unknown_keys(
    path: Path, node: CommentedMap, allowed: tuple[str, ...], what: str
) -> None:
    for key in node:
        if key not in allowed:
            raise UserError(
                f"{_where(path, node, key)}: unknown key {key!r} {what}; "
                f"allowed: {', '.join(allowed)}."
            )


def load_plan(path: Path) -> SplitPlan:
    """Read and check a plan file on its own (the services are checked by `check_plan`)."""
    text = read_user_file(
        path, "split plan", hint="; create it (see docs/compose-split.md) or pass --plan"
    )
    data = parse(YAML(typ="rt"), text, path)
    if not isinstance(data, CommentedMap):
        raise UserError(f"{path}: expected a mapping with `groups:` and `outputs:`.")
    _reject_unknown_keys(path, data, ("groups", "outputs"), "in the split plan")
    groups_node = data.get("groups")
    outputs_node = data.get("outputs")
    if not isinstance(groups_node, CommentedMap) or not groups_node:
        raise UserError(f"{path}: `groups:` must map each group to its services.")
    if not isinstance(outputs_node, CommentedMap) or not outputs_node:
        raise UserError(f"{path}: `outputs:` must map each file name to the groups it keeps.")
    groups, entries = _load_groups(path, groups_node)
    outputs = _load_outputs(path, outputs_node, groups)
    return SplitPlan(path, MappingProxyType(groups), outputs, MappingProxyType(entries))


def _load_groups(
    path: Path, groups_node: CommentedMap
) -> tuple[dict[str, tuple[str, ...]], dict[tuple[str, str], Location]]:
    groups: dict[str, tuple[str, ...]] = {}
    entries: dict[tuple[str, str], Location] = {}
    first_seen: dict[str, tuple[str, Location]] = {}
    for group, members in groups_node.items():
        where = _where(path, groups_node, group)
        if not isinstance(group, str) or not _PROFILE_NAME.match(group):
            raise UserError(
                f"{where}: group {group!r} is not a valid profile name "
                "(letters, digits, '_', '.', '-'; not starting with a symbol)."
            )
        names = _names(path, members, f"group {group!r}", where)
        for service, at in names:
            if service in first_seen:
                other_group, other_at = first_seen[service]
                raise UserError(
                    f"{at}: service {service!r} is in two groups, {other_group!r} "
                    f"({other_at}) and {group!r}. A service belongs to one group: "
                    "remove one of the two entries."
                )
            first_seen[service] = (group, at)
            entries[(group, service)] = at
        groups[group] = tuple(service for service, _ in names)
    return groups, entries


def _load_outputs(
    path: Path, outputs_node: CommentedMap, groups: Mapping[str, tuple[str, ...]]
) -> tuple[OutputSpec, ...]:
    outputs: list[OutputSpec] = []
    for file, spec in outputs_node.items():
        where = _where(path, outputs_node, file)
        if not isinstance(file, str) or not _OUTPUT_NAME.match(file):
            raise UserError(
                f"{where}: output {file!r} must be a plain file name ending in .yml or .yaml "
                "(files are written to the output directory)."
            )
        if not isinstance(spec, CommentedMap):
            raise UserError(f"{where}: output {file!r} needs `always_on:` and/or `profiles:`.")
        _reject_unknown_keys(path, spec, ("always_on", "profiles"), f"for output {file!r}")
        kept: dict[str, Location] = {}
        lists: dict[str, tuple[str, ...]] = {}
        for key in ("always_on", "profiles"):
            names = _names(path, spec.get(key), f"{file}: {key}", where)
            for group, at in names:
                if group not in groups:
                    raise UserError(
                        f"{at}: output {file!r} names group {group!r}, which `groups:` "
                        f"does not define (groups: {', '.join(groups)})."
                    )
                if group in kept:
                    raise UserError(
                        f"{at}: output {file!r} names group {group!r} twice (also at "
                        f"{kept[group]}); keep it either always on or behind its profile."
                    )
                kept[group] = at
            lists[key] = tuple(group for group, _ in names)
        outputs.append(OutputSpec(file, lists["always_on"], lists["profiles"], where))
    return tuple(outputs)
