"""Turn the monolith and a split plan into the text of each output file.

Each output starts from a fresh round-trip parse of the monolith, so whatever
the plan does not change is written back exactly as the monolith has it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from vpmigrate.errors import UserError
from vpmigrate.split import roundtrip
from vpmigrate.split.plan import OutputSpec, SplitPlan
from vpmigrate.split.profiles import set_profiles
from vpmigrate.split.refs import RESOURCE_SECTIONS, relative_paths, service_refs, used_resources
from vpmigrate.userfiles import Location


@dataclass(frozen=True)
class RenderedOutput:
    file: str
    body: str  # the YAML, without the generated header
    services: tuple[str, ...]
    notes: tuple[str, ...]  # what the split changed beyond profiles, for the user


def _line_of(mapping: CommentedMap, key: Any) -> int:
    try:
        return int(mapping.lc.key(key)[0]) + 1
    except (AttributeError, KeyError, TypeError):
        return 0


def check_plan(plan: SplitPlan, services: CommentedMap, source: Path) -> None:
    """Refuse a plan that does not match the monolith, or an output in which a
    service would start without a service it requires."""
    for (group, service), at in plan.entries.items():
        if service not in services:
            raise UserError(
                f"{at}: group {group!r} names service {service!r}, which {source} does not "
                f"define (it has: {', '.join(services)}). Fix the name or remove the entry."
            )
    for name in services:
        if plan.group_of(name) is None:
            raise UserError(
                f"{source}:{_line_of(services, name)}: service {name!r} is in no group of "
                f"the split plan {plan.path}. Add it to one of the groups "
                f"({', '.join(plan.groups)}) so the split knows where it belongs."
            )
    for output in plan.outputs:
        _check_dependencies(plan, output, services, source)


def _profiles_in(plan: SplitPlan, output: OutputSpec, service: str) -> tuple[str, ...] | None:
    group = plan.group_of(service)
    return None if group is None else output.profile_of(group)


Profiles = tuple[str, ...] | None  # () always on; None: left out of the output


@dataclass(frozen=True)
class SharedDependency:
    """A service that a service of another group requires: it carries the profiles of
    every group that needs it, so each profile alone starts with its dependencies."""

    service: str
    profiles: Profiles  # what it gets in the output
    needed_by: tuple[str, ...]


def output_profiles(
    plan: SplitPlan, output: OutputSpec, services: CommentedMap
) -> tuple[dict[str, Profiles], list[SharedDependency]]:
    """The `profiles` of every service in `output`: its group's, widened by the
    profiles of the services that require it (transitively). Always on wins: a
    dependency of an always-on service is always on."""
    profiles: dict[str, Profiles] = {name: _profiles_in(plan, output, name) for name in services}
    needed_by: dict[str, list[str]] = {}
    changed = True
    while changed:
        changed = False
        for name, definition in services.items():
            mine = profiles[name]
            if mine is None or not isinstance(definition, CommentedMap):
                continue
            for ref in service_refs(definition):
                if not ref.required or ref.via == "extends" or ref.target not in profiles:
                    continue
                theirs = profiles[ref.target]
                wider = _widen(theirs, mine)
                if wider != theirs:
                    profiles[ref.target] = wider
                    changed = True
                if wider != _profiles_in(plan, output, ref.target):
                    needers = needed_by.setdefault(ref.target, [])
                    if name not in needers:
                        needers.append(name)
    shared = [
        SharedDependency(name, profiles[name], tuple(needed_by[name]))
        for name in services
        if name in needed_by and profiles[name] != _profiles_in(plan, output, name)
    ]
    return profiles, shared


def _widen(theirs: Profiles, mine: tuple[str, ...]) -> Profiles:
    if theirs == () or mine == ():
        return ()
    if theirs is None:
        return mine
    return theirs + tuple(p for p in mine if p not in theirs)


def _check_dependencies(
    plan: SplitPlan, output: OutputSpec, services: CommentedMap, source: Path
) -> None:
    """Refuse references to undefined services, and an `extends` whose base the output
    leaves out (the base is a definition, not a dependency: it is not pulled in)."""
    profiles, _ = output_profiles(plan, output, services)
    for name, definition in services.items():
        if profiles[name] is None or not isinstance(definition, CommentedMap):
            continue
        for ref in service_refs(definition):
            where = Location(source, _line_of(definition, ref.via) or _line_of(services, name))
            if ref.target not in services:
                raise UserError(
                    f"{where}: service {name!r} refers to {ref.target!r} ({ref.via}), which "
                    f"{source} does not define. Fix the monolith first."
                )
            if ref.via == "extends" and profiles[ref.target] is None:
                raise UserError(
                    f"{plan.path}: in {output.file}, service {name!r} extends "
                    f"{ref.target!r} ({where}), but the plan leaves {ref.target!r} (group "
                    f"{plan.group_of(ref.target)!r}) out of that file. Keep its group in "
                    f"{output.file}, or move {ref.target!r} into {name!r}'s group."
                )


def check_relative_paths(services: CommentedMap, source: Path, out_dir: Path) -> None:
    """Outputs written elsewhere than the monolith's folder would resolve relative
    paths against another folder: refuse, naming the first such path."""
    if os.path.realpath(out_dir) == os.path.realpath(source.parent):
        return
    for name, definition in services.items():
        if not isinstance(definition, CommentedMap):
            continue
        for key, path in relative_paths(definition):
            raise UserError(
                f"{source}:{_line_of(definition, key)}: service {name!r} has the relative "
                f"path {path!r} ({key}), resolved against the compose file's folder; "
                f"outputs in {out_dir} would point elsewhere. Write the outputs next to "
                f"the monolith (--out-dir {source.parent}) or make the path absolute."
            )


def render(source_text: str, source: Path, plan: SplitPlan) -> tuple[list[RenderedOutput], bool]:
    """The body of every output in the plan, and whether the monolith's layout
    could be reproduced exactly (False: mixed indentation was normalised)."""
    document = roundtrip.load(source_text, source)
    check_plan(plan, document.services, source)
    outputs = [_render_one(source_text, source, plan, output) for output in plan.outputs]
    return outputs, document.exact


def _render_one(
    source_text: str, source: Path, plan: SplitPlan, output: OutputSpec
) -> RenderedOutput:
    document = roundtrip.load(source_text, source)
    data, services = document.data, document.services
    profiles, shared = output_profiles(plan, output, services)
    notes = [_shared_note(output.file, dependency) for dependency in shared]
    dropped = [name for name in services if profiles[name] is None]
    kept = [name for name in services if name not in dropped]
    for name in dropped:
        roundtrip.remove_key(services, name)
    for name in kept:
        definition = services[name]
        for ref in list(service_refs(definition)):
            if ref.via == "depends_on" and ref.target in dropped:
                _drop_dependency(definition, ref.target, name, output.file, source)
                notes.append(
                    f"{output.file}: dropped {name}'s optional dependency on {ref.target} "
                    "(not in this file)"
                )
        set_profiles(definition, profiles[name] or ())
    _prune_resources(data, [services[name] for name in kept])
    body = document.dump()
    try:
        YAML(typ="safe").load(body)
    except YAMLError as exc:  # a bug in the split, not in the user's files
        raise UserError(
            f"the split produced invalid YAML for {output.file} ({exc}); nothing was "
            "written. Please report this with the monolith attached."
        ) from None
    return RenderedOutput(output.file, body, tuple(kept), tuple(notes))


def _shared_note(file: str, dependency: SharedDependency) -> str:
    needers = ", ".join(dependency.needed_by)
    if not dependency.profiles:
        return f"{file}: {dependency.service} is always on (needed by always-on {needers})"
    listed = ", ".join(dependency.profiles)
    return f"{file}: {dependency.service} gets profiles [{listed}] (needed by {needers})"


def _drop_dependency(
    definition: CommentedMap, target: str, name: str, file: str, source: Path
) -> None:
    depends_on = definition.get("depends_on")
    if "depends_on" not in roundtrip.own_keys(definition) or not isinstance(
        depends_on, CommentedMap
    ):
        raise UserError(
            f"{source}:{_line_of(definition, 'depends_on')}: service {name!r} takes its "
            f"depends_on from a `<<` merge or a list, so the split cannot drop its optional "
            f"dependency on {target!r}, which {file} leaves out. Write depends_on in the "
            "long form in the service itself."
        )
    if len(roundtrip.own_keys(depends_on)) == 1:
        roundtrip.remove_key(definition, "depends_on")
    else:
        roundtrip.remove_key(depends_on, target)


def _prune_resources(data: CommentedMap, kept: list[CommentedMap]) -> None:
    """Keep only the top-level volumes, networks, configs and secrets that the kept
    services use; drop a section that ends up empty."""
    used: dict[str, set[str]] = {section: set() for section in RESOURCE_SECTIONS}
    for definition in kept:
        for section, keys in used_resources(definition).items():
            used[section] |= keys
    for section in RESOURCE_SECTIONS:
        entries = data.get(section)
        if section not in roundtrip.own_keys(data) or not isinstance(entries, CommentedMap):
            continue
        unused = [key for key in roundtrip.own_keys(entries) if key not in used[section]]
        if len(unused) == len(roundtrip.own_keys(entries)):
            roundtrip.remove_key(data, section, document_root=True)
            continue
        for key in unused:
            roundtrip.remove_key(entries, key)
