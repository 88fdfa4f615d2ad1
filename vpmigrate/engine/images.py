"""Make sure every image a stack needs is present, pulling what is missing."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from vpmigrate.compose.model import Project, Service
from vpmigrate.engine.events import Event, Reporter
from vpmigrate.errors import UserError

if TYPE_CHECKING:
    import docker


def local_image_id(client: docker.DockerClient, reference: str) -> str | None:
    from docker.errors import ImageNotFound

    try:
        return str(client.api.inspect_image(reference)["Id"])
    except ImageNotFound:
        return None


def service_images(
    client: docker.DockerClient,
    project: Project,
    services: Iterable[Service],
    *,
    allow_pull: bool,
    report: Reporter,
    rebuild: bool = False,
) -> dict[str, str]:
    """Image reference -> image ID for every service: pulled as `ensure_images` does,
    then built for services with `build:` (all of them when `rebuild`, as `--build`).
    An image that one service builds is not pulled for another that only runs it."""
    from vpmigrate.engine.build import ensure_built

    services = list(services)
    building = [s for s in services if s.build is not None]
    built_names = {s.image for s in building}
    others = [s for s in services if s.build is None and s.image not in built_names]
    ids = ensure_images(client, others, allow_pull=allow_pull, report=report)
    ids.update(
        ensure_built(client, project, building, force=rebuild, allow_pull=allow_pull, report=report)
    )
    return ids


def ensure_images(
    client: docker.DockerClient,
    services: Iterable[Service],
    *,
    allow_pull: bool,
    report: Reporter,
) -> dict[str, str]:
    """Image reference -> image ID for every service; pulls missing images in parallel.

    Raises one UserError naming every image that is neither present nor pullable,
    before any container is touched.
    """
    unbuilt = [
        s for s in services if s.build is not None and local_image_id(client, s.image) is None
    ]
    if unbuilt:  # until the engine builds them itself
        raise UserError(
            "not built yet: "
            + ", ".join(f"{s.image} (service {s.name}, `build:` at {s.location})" for s in unbuilt)
            + ". Build them with `docker compose build`, then re-run."
        )
    wanted: dict[str, list[str]] = {}
    for service in services:
        wanted.setdefault(service.image, []).append(service.name)
    ids: dict[str, str] = {}
    to_pull: list[str] = []
    for reference in wanted:
        policy = {_policy(s) for s in services if s.image == reference}
        image_id = local_image_id(client, reference)
        if image_id is not None and "always" not in policy:
            ids[reference] = image_id
        elif allow_pull and "never" not in policy:
            to_pull.append(reference)
        elif image_id is not None:
            ids[reference] = image_id
    failures: dict[str, str] = {}
    if to_pull:
        with ThreadPoolExecutor(max_workers=min(4, len(to_pull))) as pool:
            for reference, error in zip(
                to_pull, pool.map(lambda r: pull_image(client, r, report), to_pull), strict=True
            ):
                if error is None:
                    pulled = local_image_id(client, reference)
                    if pulled is not None:
                        ids[reference] = pulled
                        continue
                    error = "the pull finished but the image is not present"
                failures[reference] = error
    missing = [r for r in wanted if r not in ids and r not in failures]
    if failures or missing:
        # Images that failed for the same reason (typically: no registry reachable) share
        # one line, so the message stays one readable paragraph.
        reasons: dict[str, list[str]] = {}
        for ref in failures:
            reasons.setdefault(failures[ref], []).append(ref)
        for ref in missing:
            reasons.setdefault("not present locally", []).append(ref)
        lines = [
            ", ".join(f"{ref} (needed by {', '.join(sorted(wanted[ref]))})" for ref in refs)
            + f": {reason}"
            for reason, refs in reasons.items()
        ]
        hint = (
            "Pulling is off (--no-pull or pull_policy: never): build or load the images "
            "(`docker load`, `docker build -t NAME`), or drop --no-pull."
            if missing
            else "Check the image names and your network or registry login (`docker login`), "
            "or build/load the images locally, then re-run."
        )
        raise UserError(
            f"{len(failures) + len(missing)} image(s) are missing and could not be pulled: "
            + "; ".join(lines)
            + f". Nothing was started. {hint}"
        )
    return ids


def _policy(service: Service) -> str:
    return service.pull_policy or "missing"


def pull_image(client: docker.DockerClient, reference: str, report: Reporter) -> str | None:
    """Pull one image, reporting progress; returns an error text or None."""
    from docker.errors import APIError

    repository, tag = split_reference(reference)
    report(Event(reference, "pulling"))
    try:
        last_status = ""
        for message in client.api.pull(repository, tag=tag, stream=True, decode=True):
            if "error" in message:
                return str(message["error"]).strip()
            status = message.get("status", "")
            progress = message.get("progress", "")
            line = " ".join(p for p in (message.get("id", ""), status, progress) if p)
            if status and status != last_status:
                report(Event(reference, "pulling", line))
                last_status = status
    except APIError as exc:
        return _api_error_text(exc)
    report(Event(reference, "pulled"))
    return None


def split_reference(reference: str) -> tuple[str, str | None]:
    if "@" in reference:
        return reference, None
    name, sep, tag = reference.rpartition(":")
    if sep and "/" not in tag:
        return name, tag
    return reference, "latest"


def _api_error_text(exc: Exception) -> str:
    explanation = getattr(exc, "explanation", None)
    text = str(explanation or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__
