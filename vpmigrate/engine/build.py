"""`build:`: images built from the services' contexts through the engine's build API.

The context is read here, with `.dockerignore` applied (and `<Dockerfile>.dockerignore`
before it, as BuildKit does), and sent as a tar archive. A Dockerfile outside the
context, or an inline one, travels inside the archive under a name that `COPY .` skips
(with the classic builder; the engine's BuildKit copies it, as `.dockerfile.<digest>`).

Two builders sit behind the engine's API. The Docker SDK drives the classic one, which
is the default here. A Dockerfile that needs BuildKit (`RUN --mount`, `COPY --chmod`,
heredocs, ...) is handed to the engine's own BuildKit (`POST /build?version=2`, which
the SDK does not expose); when the engine cannot build it that way either, the error
names the line and what to use instead. `DOCKER_BUILDKIT=1` always uses BuildKit,
`DOCKER_BUILDKIT=0` never does.

Beyond Compose: every image built here carries a digest of what went into it (the
context's files, the Dockerfile, the build options and the base images' IDs) as labels.
`up` rebuilds a service when that digest changed, and only then; an image without
these labels (pulled, or built by another tool) is used as it is unless `--build`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import tarfile
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from vpmigrate.compose.model import BuildSpec, Location, Project, Service
from vpmigrate.engine import labels
from vpmigrate.engine.buildkit import TRACE_ID, Progress
from vpmigrate.engine.dockerfile import BuildKitUse, Dockerfile, parse_dockerfile
from vpmigrate.engine.events import Event, Reporter
from vpmigrate.engine.hostconfig import colon_pairs
from vpmigrate.engine.images import local_image_id, pull_image, split_reference
from vpmigrate.errors import UserError
from vpmigrate.userfiles import is_missing, read_user_file

if TYPE_CHECKING:
    import docker

LOG_LINES = 15
# The digest of what went into an image, as one JSON label (the classic builder turns
# each label into a step of its own): the total, and each part, so that a rebuild can
# say what changed.
DIGEST_LABEL = "vpmigrate.build"
# How a frontend image that cannot be pulled shows in the engine's error.
_FETCH_FAILURES = ("failed to do request", "dial tcp", "pull access denied", "not found")
_SYNTAX_LINE = re.compile(r"\s*#\s*syntax\s*=", re.IGNORECASE)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_STEP = re.compile(r"Step (\d+)/(\d+) : (.*)")
_BUILDKIT_NAME = re.compile(r"\[[^\]]*\]\s*(.*)")
_PARALLEL_BUILDS = 2


@dataclass(frozen=True)
class Digest:
    context: str
    dockerfile: str
    options: str
    bases: Mapping[str, str]  # base image -> local ID ("" when not present)

    @property
    def total(self) -> str:
        parts = f"{self.context}:{self.dockerfile}:{self.options}"
        return hashlib.sha256(parts.encode()).hexdigest()

    def labels(self) -> dict[str, str]:
        value = {
            "hash": self.total,
            "context": self.context,
            "dockerfile": self.dockerfile,
            "options": self.options,
            "bases": dict(self.bases),
        }
        return {DIGEST_LABEL: json.dumps(value, sort_keys=True, separators=(",", ":"))}

    def changes_since(self, recorded: Mapping[str, Any]) -> list[str]:
        """What differs from the image built earlier (empty: nothing)."""
        names = {"context": "context", "dockerfile": "Dockerfile", "options": "build options"}
        changed = [
            name for part, name in names.items() if recorded.get(part) != getattr(self, part)
        ]
        bases = recorded.get("bases")
        before: dict[str, Any] = bases if isinstance(bases, dict) else {}
        for base, image_id in self.bases.items():
            # A base that was missing at build time was pulled by the build itself.
            if image_id and before.get(base) and before[base] != image_id:
                changed.append(f"base image {base}")
        return changed


@dataclass
class BuildPlan:
    """What building one service's image takes, read from disk (no engine needed)."""

    service: Service
    spec: BuildSpec
    dockerfile: Dockerfile
    dockerfile_text: str
    dockerfile_label: str  # the Dockerfile as the user knows it: a path, or "dockerfile_inline"
    archive_dockerfile: str  # its name inside the archive
    injected: bool  # the Dockerfile is added to the archive (inline, or outside the context)
    files: list[str] = field(default_factory=list)  # relative paths, after .dockerignore
    ignore_patterns: list[str] = field(default_factory=list)

    @property
    def image(self) -> str:
        return self.service.image

    @property
    def remote(self) -> bool:
        return self.spec.remote

    def location(self, key: str) -> Location:
        return self.spec.key_locations.get(key) or self.spec.location or self.service.location


class BuildFailed(UserError):
    """One or more images could not be built; nothing was started."""


# --- reading the context -------------------------------------------------------------


def plan_build(service: Service) -> BuildPlan:
    spec = service.build
    if spec is None:
        raise ValueError(f"service {service.name} has no build section")
    where = f"service '{service.name}': build"
    if spec.remote:
        text = spec.dockerfile_inline or ""
        name = spec.dockerfile or "Dockerfile"
        return BuildPlan(service, spec, parse_dockerfile(text), text, name, name, injected=False)
    root = Path(spec.context)
    plan_location = spec.key_locations.get("context") or spec.location or service.location
    if not root.is_dir():
        raise UserError(
            f"{plan_location}: {where}: the context {root} is not a directory; create it or "
            "fix `context:` (relative paths start at the compose file's folder)."
        )
    if spec.dockerfile_inline is not None:
        text = spec.dockerfile_inline
        label = "dockerfile_inline"
        inline_at = spec.key_locations.get("dockerfile_inline")
        if inline_at is not None:
            label = f"dockerfile_inline (written at {inline_at}), line"
        inside: str | None = None
        ignore_file = root / ".dockerignore"
    else:
        path = spec.dockerfile_path
        assert path is not None
        location = spec.key_locations.get("dockerfile") or plan_location
        try:
            os.lstat(path)
        except FileNotFoundError:
            raise UserError(
                f"{location}: {where}: the Dockerfile {path} does not exist; create it or fix "
                "`dockerfile:` (it is relative to the context)."
            ) from None
        except OSError:
            pass  # a path through a file, a closed folder: read_user_file names it
        # Bounded and checked like every user file: a folder, a FIFO, a huge or binary
        # file is one error naming it, before anything reaches the engine.
        text = read_user_file(path, "Dockerfile")
        label = str(path)
        relative = os.path.relpath(path, root)
        inside = None if relative.startswith("..") else relative.replace(os.sep, "/")
        specific = Path(f"{path}.dockerignore")
        ignore_file = root / ".dockerignore" if is_missing(specific) else specific
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    archive_name = inside or f".dockerfile.{digest}"
    patterns = _read_ignore(ignore_file)
    plan = BuildPlan(
        service,
        spec,
        parse_dockerfile(text),
        text,
        label,
        archive_name,
        injected=inside is None,
        ignore_patterns=patterns,
    )
    plan.files = _context_files(root, patterns, inside)
    return plan


def _read_ignore(path: Path) -> list[str]:
    """The patterns of a .dockerignore file; none when there is no file (one that
    exists but cannot be read is an error naming it, as with the docker CLI)."""
    if is_missing(path):
        return []
    lines = read_user_file(path, ".dockerignore file").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _context_files(root: Path, patterns: list[str], dockerfile: str | None) -> list[str]:
    from docker.utils.build import exclude_paths

    # The Dockerfile and .dockerignore are always sent (the builder needs them), as the
    # docker CLI does; `exclude_paths` keeps both.
    found = exclude_paths(str(root), list(patterns), dockerfile=dockerfile or "Dockerfile")
    return sorted(p.replace(os.sep, "/") for p in found)


# --- the digest --------------------------------------------------------------------------


def digest_of(
    plan: BuildPlan, base_ids: Mapping[str, str], extra_args: Mapping[str, str] | None = None
) -> Digest:
    spec = plan.spec
    options = {
        "args": dict(sorted({**spec.args, **(extra_args or {})}.items())),
        "target": spec.target,
        "labels": dict(sorted(spec.labels.items())),
        "platforms": list(spec.platforms),
        "context": spec.context if spec.remote else "",
    }
    return Digest(
        context="" if plan.remote else _context_digest(Path(spec.context), plan.files),
        dockerfile=hashlib.sha256(plan.dockerfile_text.encode()).hexdigest(),
        options=hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest(),
        bases=dict(base_ids),
    )


def _context_digest(root: Path, files: Iterable[str]) -> str:
    """Names, kinds, executable bits, link targets and contents; not times or owners,
    which the builders' own caches ignore as well."""
    digest = hashlib.sha256()
    for relative in files:
        path = root / relative
        try:
            info = path.lstat()
        except FileNotFoundError:
            continue
        mode = info.st_mode
        digest.update(relative.encode() + b"\0")
        if stat.S_ISLNK(mode):
            digest.update(b"l" + os.readlink(path).encode())
        elif stat.S_ISDIR(mode):
            digest.update(b"d%o" % (mode & 0o7777))
        elif stat.S_ISREG(mode):
            digest.update(b"f%o" % (mode & 0o7777))
            with path.open("rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


# --- deciding what to build --------------------------------------------------------------


def image_labels(client: docker.DockerClient, reference: str) -> dict[str, str] | None:
    """The labels of a local image (None when it is not present)."""
    from docker.errors import ImageNotFound

    try:
        attrs = client.api.inspect_image(reference)
    except ImageNotFound:
        return None
    return dict((attrs.get("Config") or {}).get("Labels") or {})


def _recorded_digest(image_labels: Mapping[str, str]) -> dict[str, Any] | None:
    try:
        value = json.loads(image_labels.get(DIGEST_LABEL, ""))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def base_image_ids(client: docker.DockerClient, plan: BuildPlan) -> dict[str, str]:
    from docker.errors import ImageNotFound

    ids = {}
    for base in plan.dockerfile.base_images(dict(plan.spec.args)):
        try:
            ids[base] = str(client.api.inspect_image(base)["Id"])
        except ImageNotFound:
            ids[base] = ""
        except Exception:  # an unparsable reference: leave it to the builder to say so
            ids[base] = ""
    return ids


def why_build(
    client: docker.DockerClient, plan: BuildPlan, *, force: bool
) -> tuple[str | None, Digest]:
    """Why the service's image must be built now (None: it is up to date)."""
    digest = digest_of(plan, base_image_ids(client, plan))
    if force:
        return "--build", digest
    if plan.service.pull_policy == "build":
        return "pull_policy: build", digest
    existing = image_labels(client, plan.image)
    if existing is None:
        return "image missing", digest
    recorded = _recorded_digest(existing)
    if recorded is None:
        return None, digest  # not built here: used as it is (Compose's rule)
    changes = digest.changes_since(recorded)
    return (", ".join(changes) + " changed") if changes else None, digest


def ensure_built(
    client: docker.DockerClient,
    project: Project,
    services: Iterable[Service],
    *,
    force: bool,
    allow_pull: bool,
    report: Reporter,
) -> dict[str, str]:
    """Image reference -> ID for services with `build:`, building what `why_build` asks
    for. As Compose does, a missing image that the file names (`image:` beside `build:`)
    is pulled first when pulling is allowed, and built when the pull fails."""
    ids: dict[str, str] = {}
    plans: list[tuple[BuildPlan, Digest, str]] = []
    seen: set[str] = set()
    for service in services:
        if service.image in seen:  # two services building one image: build it once
            continue
        seen.add(service.image)
        plan = plan_build(service)
        reason, digest = why_build(client, plan, force=force)
        if reason is None:
            ids[service.image] = _image_id(client, service.image)
            continue
        if (
            reason == "image missing"
            and service.image_declared
            and allow_pull
            and service.pull_policy not in ("build", "never")
        ):
            error = pull_image(client, service.image, report)
            pulled = local_image_id(client, service.image) if error is None else None
            if pulled is not None:
                ids[service.image] = pulled
                continue
            reason = f"image missing, pull failed: {error}"
        plans.append((plan, digest, reason))
    ids.update(build_images(client, project, plans, report=report))
    return ids


def build_services(
    client: docker.DockerClient,
    project: Project,
    services: Iterable[Service],
    *,
    report: Reporter,
    no_cache: bool = False,
    pull: bool = False,
) -> dict[str, str]:
    """`local.build`: build every given service's image now (image reference -> ID)."""
    plans = []
    seen: set[str] = set()
    for service in services:
        if service.build is None or service.image in seen:
            continue
        seen.add(service.image)
        plan = plan_build(service)
        plans.append((plan, digest_of(plan, base_image_ids(client, plan)), "local.build"))
    return build_images(client, project, plans, report=report, no_cache=no_cache, pull=pull)


# --- building ----------------------------------------------------------------------------


def build_images(
    client: docker.DockerClient,
    project: Project,
    plans: Sequence[tuple[BuildPlan, Digest, str]],
    *,
    report: Reporter,
    no_cache: bool = False,
    pull: bool = False,
) -> dict[str, str]:
    """Build each plan (plan, digest, reason); returns image reference -> image ID.
    Raises BuildFailed naming every failed service, with the failing line and output."""
    results: dict[str, str] = {}
    failures: list[str] = []
    if not plans:
        return results

    def one(item: tuple[BuildPlan, Digest, str]) -> tuple[str, str | None, str | None]:
        plan, digest, reason = item
        try:
            image_id = build_one(
                client, project, plan, digest, reason, report=report, no_cache=no_cache, pull=pull
            )
            return plan.image, image_id, None
        except UserError as exc:
            return plan.image, None, exc.message

    with ThreadPoolExecutor(max_workers=min(_PARALLEL_BUILDS, len(plans))) as pool:
        for image, image_id, error in pool.map(one, plans):
            if image_id is not None:
                results[image] = image_id
            if error is not None:
                failures.append(error)
    if failures:
        built = sorted(results)
        kept = f" Built: {', '.join(built)}." if built else ""
        raise BuildFailed(
            f"{len(failures)} image build(s) failed; no container was started or changed."
            f"{kept}\n" + "\n".join(failures)
        )
    return results


def build_one(
    client: docker.DockerClient,
    project: Project,
    plan: BuildPlan,
    digest: Digest,
    reason: str,
    *,
    report: Reporter,
    no_cache: bool = False,
    pull: bool = False,
) -> str:
    name = plan.service.name
    spec = plan.spec
    buildkit = _choose_builder(client, plan)
    report(Event(name, "building", f"{plan.image} ({reason}; {_builder_name(buildkit)})"))
    started = time.monotonic()
    image_labels_ = {
        **spec.labels,
        labels.PROJECT: project.name,
        labels.SERVICE: name,
        labels.VERSION: labels.TOOL_VERSION,
        **digest.labels(),
    }
    options: dict[str, Any] = {
        "tag": plan.image,
        "dockerfile": plan.archive_dockerfile,
        "buildargs": dict(spec.args),
        "target": spec.target,
        "labels": image_labels_,
        "cache_from": list(spec.cache_from) or None,
        "network_mode": spec.network,
        "shmsize": spec.shm_size,
        "extra_hosts": colon_pairs(spec.extra_hosts) or None,
        "pull": pull or spec.pull,
        "nocache": no_cache or spec.no_cache,
        "platform": _platform(plan),
        "isolation": spec.isolation,
    }
    try:
        _run(client, plan, buildkit, options, report)
    except FrontendUnavailable as exc:
        # `# syntax=` names a Dockerfile frontend image that cannot be pulled (no
        # registry): build once more with the engine's own frontend, saying so.
        retry = _without_syntax_directive(plan)
        report(Event(name, "warning", f"{exc.message}; building with the engine's own frontend"))
        options["dockerfile"] = retry.archive_dockerfile
        _run(client, retry, buildkit, options, report)
    image_id = _image_id(client, plan.image)
    for extra in spec.tags:
        repository, tag = split_reference(extra)
        client.api.tag(image_id, repository, tag)
    seconds = time.monotonic() - started
    report(Event(name, "built", f"{plan.image} {image_id[7:19]} in {seconds:.1f}s"))
    return image_id


class FrontendUnavailable(UserError):
    """The Dockerfile's `# syntax=` frontend image could not be fetched."""


def _run(
    client: docker.DockerClient,
    plan: BuildPlan,
    buildkit: bool,
    options: dict[str, Any],
    report: Reporter,
) -> None:
    with _archive(plan, buildkit) as archive:
        if buildkit:
            messages = _buildkit_stream(client, plan, archive, options)
        elif plan.remote:
            messages = client.api.build(
                path=plan.spec.context, decode=True, rm=True, forcerm=True, **options
            )
        else:
            messages = client.api.build(
                fileobj=archive,
                custom_context=True,
                decode=True,
                rm=True,
                forcerm=True,
                **options,
            )
        _follow(client, plan, messages, buildkit, report)


def _without_syntax_directive(plan: BuildPlan) -> BuildPlan:
    """The same build with the `# syntax=` line taken out of the Dockerfile, which then
    travels in the archive as an added file."""
    lines = plan.dockerfile_text.splitlines(keepends=True)
    text = "".join(line for line in lines if not _SYNTAX_LINE.match(line))
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    files = [f for f in plan.files if f != plan.archive_dockerfile]
    return replace(
        plan,
        dockerfile_text=text,
        archive_dockerfile=f".dockerfile.{digest}",
        injected=True,
        files=files,
    )


def _image_id(client: docker.DockerClient, reference: str) -> str:
    return str(client.api.inspect_image(reference)["Id"])


def _builder_name(buildkit: bool) -> str:
    return "the engine's BuildKit" if buildkit else "classic builder"


def _choose_builder(client: docker.DockerClient, plan: BuildPlan) -> bool:
    """True: BuildKit. Raises when the Dockerfile needs what no builder here offers."""
    uses = plan.dockerfile.buildkit_uses()
    setting = os.environ.get("DOCKER_BUILDKIT", "").strip().lower()
    only_buildkit = [k for k in plan.spec.buildkit_only]
    if only_buildkit:
        key = only_buildkit[0]
        raise UserError(
            f"{plan.location(key)}: service '{plan.service.name}': build.{key} needs a BuildKit "
            "build session (it passes files or sockets from this machine to the build), which "
            "vpmigrate does not open. Build the image with `docker compose build "
            f"{plan.service.name}` (or `docker buildx build`), then run `inv local.up`: an "
            "image built by another tool is used as it is."
        )
    session = [u for u in uses if u.needs_session]
    if session:
        use = session[0]
        raise UserError(
            f"{_line(plan, use)}: `{use.what}` reads from a BuildKit build session, which "
            "vpmigrate does not open. Build the image with `docker compose build "
            f"{plan.service.name}` (or `docker buildx build`), then run `inv local.up`: an "
            "image built by another tool is used as it is."
        )
    if setting in ("1", "true"):
        return True
    if not uses:
        return False
    if setting in ("0", "false"):
        use = uses[0]
        raise UserError(
            f"{_line(plan, use)}: service '{plan.service.name}': `{use.what}` needs BuildKit, "
            "and DOCKER_BUILDKIT=0 asks for "
            "the classic builder, which cannot run it. Unset DOCKER_BUILDKIT so that vpmigrate "
            "hands this build to the engine's BuildKit, or rewrite the line without it."
        )
    return True


def _line(plan: BuildPlan, use: BuildKitUse) -> str:
    return _at(plan, use.line)


def _at(plan: BuildPlan, line: int | None) -> str:
    """`Dockerfile:12`, or for an inline one `dockerfile_inline (written at f:7), line 3`."""
    if line is None:
        return plan.dockerfile_label.removesuffix(", line")
    separator = " " if plan.dockerfile_label.endswith(", line") else ":"
    return f"{plan.dockerfile_label}{separator}{line}"


def _platform(plan: BuildPlan) -> str | None:
    platforms = plan.spec.platforms
    if len(platforms) > 1:
        raise UserError(
            f"{plan.location('platforms')}: service '{plan.service.name}': build.platforms "
            f"lists {len(platforms)} platforms; a multi-platform image needs a BuildKit "
            "builder with its own image store (`docker buildx build --platform ...`). Keep "
            "one platform here to run it locally."
        )
    if platforms:
        return platforms[0]
    return plan.service.platform


class _archive:
    """The context as a tar file on disk (spooled), or nothing for a remote context."""

    def __init__(self, plan: BuildPlan, buildkit: bool) -> None:
        self.plan = plan
        self.buildkit = buildkit
        self.file: IO[bytes] | None = None

    def __enter__(self) -> IO[bytes] | None:
        if self.plan.remote:
            return None
        self.file = tempfile.SpooledTemporaryFile(max_size=64 << 20)
        _write_archive(self.plan, self.file, self.buildkit)
        self.file.seek(0)
        return self.file

    def __exit__(self, *exc: object) -> None:
        if self.file is not None:
            self.file.close()


def _write_archive(plan: BuildPlan, target: IO[bytes], buildkit: bool) -> None:
    root = Path(plan.spec.context)
    # GNU format: the engine's BuildKit reads a PAX archive's headers as a Dockerfile.
    with tarfile.open(fileobj=target, mode="w", format=tarfile.GNU_FORMAT) as archive:
        skip = {".dockerignore", plan.archive_dockerfile} if plan.injected else set()
        for relative in plan.files:
            if relative in skip:
                continue
            path = root / relative
            info = archive.gettarinfo(str(path), arcname=relative)
            if info is None:  # a socket: nothing to send
                continue
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if info.isfile():
                with path.open("rb") as handle:
                    archive.addfile(info, handle)
            else:
                archive.addfile(info)
        if plan.injected and not buildkit:
            # The builder keeps the Dockerfile out of `COPY .` when .dockerignore names it.
            # Without a .dockerignore of the user's, the one written here names itself too,
            # so that neither file lands in the image (the docker CLI does the same).
            own = [] if ".dockerignore" in plan.files else [".dockerignore"]
            patterns = [*plan.ignore_patterns, *own, plan.archive_dockerfile]
            ignore = "\n".join(patterns) + "\n"
            _add_text(archive, ".dockerignore", ignore)
        if plan.injected:
            # The engine's BuildKit reads no .dockerignore from an uploaded context (the
            # context was filtered here already), so there `COPY .` copies this file too.
            _add_text(archive, plan.archive_dockerfile, plan.dockerfile_text)


def _add_text(archive: tarfile.TarFile, name: str, text: str) -> None:
    import io

    data = text.encode()
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    archive.addfile(info, io.BytesIO(data))


def _buildkit_stream(
    client: docker.DockerClient,
    plan: BuildPlan,
    archive: IO[bytes] | None,
    options: dict[str, Any],
) -> Iterator[dict[str, Any]]:
    """`POST /build?version=2`: the engine's BuildKit, fed the same archive. The SDK's
    `build()` has no way to ask for it, so this sends the request through its client."""
    api = client.api
    params: dict[str, Any] = {
        "version": "2",
        "t": options["tag"],
        "dockerfile": options["dockerfile"],
        "rm": "1",
        "forcerm": "1",
        "pull": "1" if options["pull"] else None,
        "nocache": "1" if options["nocache"] else None,
        "buildargs": json.dumps(options["buildargs"]),
        "labels": json.dumps(options["labels"]),
        "target": options["target"],
        "networkmode": options["network_mode"],
        "shmsize": options["shmsize"],
        "platform": options["platform"],
        "isolation": options["isolation"],
        "cachefrom": json.dumps(options["cache_from"]) if options["cache_from"] else None,
        "extrahosts": [f"{h}:{a}" for h, a in (options["extra_hosts"] or {}).items()] or None,
    }
    if plan.remote:
        params["remote"] = plan.spec.context
    headers = {"Content-Type": "application/x-tar"}
    api._set_auth_headers(headers)
    response = api._post(
        api._url("/build"),
        params={k: v for k, v in params.items() if v is not None},
        data=archive,
        headers=headers,
        stream=True,
        timeout=None,
    )
    api._raise_for_status(response)
    yield from api._stream_helper(response, decode=True)


def _follow(
    client: docker.DockerClient,
    plan: BuildPlan,
    messages: Iterable[dict[str, Any]],
    buildkit: bool,
    report: Reporter,
) -> None:
    """Show progress; on a failed step raise with its line and last output."""
    from docker.errors import APIError

    name = plan.service.name
    output: list[str] = []  # the current step's output (classic)
    step_line: int | None = None
    step_text = ""
    progress = Progress()
    try:
        for message in messages:
            if "error" in message or "errorDetail" in message:
                detail = message.get("errorDetail") or {}
                text = str(detail.get("message") or message.get("error") or "").strip()
                if buildkit:
                    raise _buildkit_failure(client, plan, progress, text)
                raise _failure(plan, step_line, step_text, text, output)
            if buildkit and message.get("id") == TRACE_ID and "aux" in message:
                for step in progress.update(str(message["aux"])):
                    if step.started and not step.completed and step.name:
                        report(Event(name, "building", step.name))
                continue
            chunk = message.get("stream")
            if not isinstance(chunk, str):
                continue
            for raw in _ANSI.sub("", chunk).splitlines():
                line = raw.rstrip()
                match = _STEP.match(line)
                if match:
                    instruction = plan.dockerfile.instruction_at_step(
                        int(match.group(1)), plan.spec.target
                    )
                    step_line = instruction.line if instruction else None
                    step_text = match.group(3)
                    output = []
                    if instruction is not None:  # not the LABEL steps the builder appends
                        report(Event(name, "building", line))
                elif line.strip() and not line.startswith((" ---> ", "Removing intermediate")):
                    output.append(line)
                    del output[:-LOG_LINES]
    except APIError as exc:
        text = str(getattr(exc, "explanation", None) or exc).strip()
        if buildkit:
            raise _buildkit_failure(client, plan, progress, text) from None
        raise _failure(plan, step_line, step_text, text, output) from None


def _failure(
    plan: BuildPlan, line: int | None, step: str, message: str, output: list[str]
) -> UserError:
    where = _at(plan, line)
    text = f"service '{plan.service.name}': building {plan.image} failed at {where}"
    if step:
        text += f" ({_short(step)})"
    text += f": {message}"
    tail = [line for line in output if line.strip() != message][-LOG_LINES:]
    if tail:
        text += "; last output:\n    " + "\n    ".join(tail)
    return UserError(text)


def _syntax_advice(plan: BuildPlan) -> str:
    if plan.dockerfile.directives.get("syntax"):
        return (
            "build where a registry is reachable (the Dockerfile's `# syntax=` frontend reads them)"
        )
    return "add `# syntax=docker/dockerfile:1` as the first line where a registry is reachable"


def _engine_version(client: docker.DockerClient) -> str:
    try:
        return f"Docker Engine {client.version().get('Version', '?')}"
    except Exception:
        return "of an unknown version"


def _buildkit_failure(
    client: docker.DockerClient, plan: BuildPlan, progress: Progress, message: str
) -> UserError:
    heredocs = [u for u in plan.dockerfile.buildkit_uses() if u.heredoc]
    syntax = plan.dockerfile.directives.get("syntax")
    if syntax and "gateway" in message and any(m in message for m in _FETCH_FAILURES):
        return FrontendUnavailable(
            f"{_at(plan, None)}: `# syntax={syntax}` asks for a Dockerfile frontend image "
            "that cannot be fetched here (no registry)"
        )
    if heredocs and "parse error" in message:
        use = heredocs[0]
        return UserError(
            f"{_line(plan, use)}: service '{plan.service.name}': `{use.what}` needs Dockerfile "
            "syntax 1.4 or later; neither builder of this engine reads it (the classic builder "
            "never does; the engine's BuildKit does from Docker Engine 23.0; this engine is "
            f"{_engine_version(client)}). Upgrade the "
            f"engine, or {_syntax_advice(plan)}, or write the lines as one RUN joined with && "
            "(or COPY a script). "
            f"The engine said: {message}"
        )
    if "buildkit" in message.lower() and "not" in message.lower():
        uses = plan.dockerfile.buildkit_uses()
        first = f"{_line(plan, uses[0])}: `{uses[0].what}` needs BuildKit, and " if uses else ""
        return UserError(
            f"service '{plan.service.name}': {first}this engine cannot build with BuildKit "
            f"({message}). Use a Docker Engine with BuildKit (18.09 or later on Linux), or "
            "build the image with `docker buildx build`; `inv local.up` then uses it as it is."
        )
    step = progress.failed()
    line = None
    step_text = ""
    output: list[str] = []
    if step is not None:
        match = _BUILDKIT_NAME.fullmatch(step.name)
        step_text = match.group(1) if match else step.name
        found = plan.dockerfile.find(step_text)
        line = found.line if found else None
        output = progress.log_lines(step, LOG_LINES)
    return _failure(plan, line, step_text, message, output)


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
