"""`--apply`: retire the unused services. Plan first (pure), then carry it out:
move them to `profiles: [future]` (round-trip edit that keeps comments), remove their
containers, and with `--volumes` remove their named volumes after a verified backup."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vpmigrate.codescan.audit import Audit
from vpmigrate.compose.model import Project

if TYPE_CHECKING:
    from vpmigrate.engine.backend import DockerEngine
    from vpmigrate.engine.state import ContainerState

RETIRED_PROFILE = "future"


@dataclass(frozen=True)
class ProfileEdit:
    file: Path
    service: str
    before: tuple[str, ...]


@dataclass(frozen=True)
class RetirePlan:
    services: tuple[str, ...]  # the unused services to retire
    skipped: tuple[str, ...]  # unknown (no identity, or a partial read): left alone
    edits: tuple[ProfileEdit, ...]
    containers: tuple[ContainerState, ...]
    volumes: tuple[str, ...]  # engine names, to back up and remove (only with --volumes)
    kept_volumes: tuple[str, ...]  # engine names that stay (without --volumes)

    @property
    def empty(self) -> bool:
        return not (self.edits or self.containers or self.volumes)


def plan_retirement(client: DockerEngine | None, audit: Audit, *, volumes: bool) -> RetirePlan:
    """What --apply would change. `client=None`: compose edits only (no engine)."""
    project = audit.project
    # only what is known, unused and has no use evidence at all; `app` and `unknown`
    # never come here, nor does anything after a partial read
    unused = tuple(
        r.service
        for r in audit.services
        if r.verdict == "unused" and r.known and not r.used and not audit.unreadable
    )
    skipped = tuple(
        r.service
        for r in audit.services
        if r.verdict in ("unknown", "unused") and r.service not in unused
    )
    edits = tuple(
        ProfileEdit(project.services[name].location.file, name, project.services[name].profiles)
        for name in unused
        if tuple(project.services[name].profiles) != (RETIRED_PROFILE,)
    )
    _refuse_generated_files(edits)
    containers: tuple[ContainerState, ...] = ()
    existing: list[str] = []
    if client is not None and unused:
        containers = tuple(c for c in client.containers(project.name) if c.service in unused)
        existing = [v for v in retired_volumes(project, unused) if client.volume_exists(v)]
    return RetirePlan(
        services=unused,
        skipped=skipped,
        edits=edits,
        containers=containers,
        volumes=tuple(existing) if volumes else (),
        kept_volumes=() if volumes else tuple(existing),
    )


def retired_volumes(project: Project, services: tuple[str, ...]) -> list[str]:
    """Engine names of the named volumes only these services mount (never external)."""
    from vpmigrate.engine.resources import exclusive_volumes

    return exclusive_volumes(project, services, [n for n in project.services if n not in services])


def apply_retirement(
    client: DockerEngine | None,
    audit: Audit,
    plan: RetirePlan,
    *,
    backups: Path,
    report: Callable[[str], None],
) -> list[Path]:
    """Carry out the plan in the order that loses nothing: compose files, containers,
    then each volume only once its backup is written and read back. Returns the backups."""
    from vpmigrate.split.files import atomic_write
    from vpmigrate.split.profiles import set_service_profiles

    by_file: dict[Path, list[str]] = {}
    for edit in plan.edits:
        by_file.setdefault(edit.file, []).append(edit.service)
    for file, services in by_file.items():
        text = file.read_text(encoding="utf-8")
        changed = set_service_profiles(text, {s: [RETIRED_PROFILE] for s in services}, source=file)
        if changed != text:
            atomic_write(file, changed)
        report(f"{file}: moved {', '.join(services)} to profiles: [{RETIRED_PROFILE}]")
    written: list[Path] = []
    if client is None:
        return written
    if plan.containers:
        from vpmigrate.engine.down import DownPlan, down

        down(
            client,
            audit.project,
            DownPlan(plan.containers, (), ()),
            report=lambda e: report(f"{e.subject}: {e.action} {e.detail}".rstrip()),
        )
    if plan.volumes:
        from vpmigrate.codescan.backup import backup_volume, helper_image

        with helper_image(client.docker) as image:
            for volume in plan.volumes:
                archive = backup_volume(client.docker, image, volume, backups)
                written.append(archive)
                report(f"volume {volume}: backed up to {archive}")
                client.remove_volume(volume)
                report(f"volume {volume}: removed")
    return written


def _refuse_generated_files(edits: Iterable[ProfileEdit]) -> None:
    """A split output is rewritten by `inv compose.split`: an edit there would be lost
    (and marks the file as hand-edited), so the plan has to change instead."""
    from vpmigrate.errors import UserError
    from vpmigrate.split.files import is_generated

    by_file: dict[Path, list[str]] = {}
    for edit in edits:
        by_file.setdefault(edit.file, []).append(edit.service)
    for file, services in by_file.items():
        if is_generated(file.read_text(encoding="utf-8")):
            names = ", ".join(services)
            raise UserError(
                f"{file} is generated by `inv compose.split`, so --apply will not edit it "
                f"(the next split would undo the change). Move {names} to the "
                f"`{RETIRED_PROFILE}` group in compose/split-plan.yml and run "
                "`inv compose.split`, or run --apply on the monolith "
                "(--file compose/docker-compose.yml). Nothing was changed."
            )
