"""What a compose service is, from everything the files say about it.

In order, the first that answers wins:

1. its command or entrypoint (`mlflow server`, `celery ... flower`, `mc mb`,
   `redis-server`): what the container runs beats what the image usually runs;
2. its image, when the table lists it (`postgres:16`, `minio/mc`);
3. its Dockerfile (the `build:` context's, or one next to the compose file named after
   a part of the image, `server.Dockerfile` for `uptime_server`): the `CMD` /
   `ENTRYPOINT` of the target stage, else its `FROM`, followed through multi-stage
   builds and through images that other services of the project build; a stage
   chain that copies the scanned code makes it the application;
4. the parts of its image name (`myapp/mongo`, `uptime_mongo`, `checkmate:redis-demo`);
5. the application: a build context or a bind-mounted code folder inside a scanned
   path, a command that runs a module or script of the scanned code, or an image
   named after the project;
6. a healthcheck command (`pg_isready`, `redis-cli ping`);
7. environment keys only the image itself reads (`POSTGRES_INITDB_*`, `MINIO_ROOT_*`);
8. the parts of the service name (`flower`, `mailpit`);
9. a well-known container port (5432, 6379, 27017), when exactly one family has it.

Nothing of that: the identity is unknown, and the service can only be judged by the
evidence that names its host or ports.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vpmigrate.codescan.composefacts import Build, ServiceFacts
from vpmigrate.codescan.signatures import Role, Signature, family_for_image, image_repository
from vpmigrate.compose.model import Project, Service

_SEGMENT_SPLIT = re.compile(r"&&|\|\||[;|&\n()`]|\b(?:do|then|else|done|fi)\b")
_WRAPPERS = frozenset(
    {"exec", "until", "while", "if", "time", "nohup", "env", "sh", "bash", "ash", "dash", "-c"}
    | {"-ec", "-euc", "-eu", "-e", "-x", "tini", "--", "dumb-init", "gosu", "su-exec", "!"}
)
_PYTHONS = re.compile(r"python(?:\d(?:\.\d+)?)?")
_NAME_SPLIT = re.compile(r"[/:_.\-@]+")
_CODE_SUFFIXES = frozenset(
    {".py", ".js", ".ts", ".tsx", ".jsx", ".mjs", ".go", ".rb", ".php", ".java", ".kt", ".rs"}
)
_APP_WORDS = frozenset(
    {"app", "api", "backend", "frontend", "server", "client", "web", "worker", "ui", "site"}
)


@dataclass(frozen=True)
class Identity:
    family: Signature | None  # None for the application itself, and when unknown
    role: Role
    how: str  # what told it: "image postgres:16", "command `mlflow server`", ...
    code: tuple[Path, ...] = ()  # the application's code folders (role "app")

    @property
    def known(self) -> bool:
        return self.family is not None or self.role == "app"


@dataclass(frozen=True)
class _Dockerfile:
    path: Path
    context: Path | None  # None: only guessed (a Dockerfile named after the image)
    bases: tuple[str, ...]  # FROM images of the target's chain, nearest first
    command: tuple[str, ...]  # effective ENTRYPOINT + CMD words
    copies: tuple[str, ...]  # COPY/ADD sources of the chain (not --from)


def identify(
    project: Project,
    name: str,
    families: Sequence[Signature],
    facts: Mapping[str, ServiceFacts],
    roots: Sequence[Path],
) -> Identity:
    service = project.services[name]
    fact = facts.get(name)
    words = _command_words(service)
    image = service.image
    if service.build is not None and image == f"{project.name}-{name}".lower():
        image = ""  # Compose's default name for a built image says nothing about it
    found = command_family(words, families)
    if found:
        return Identity(found[0], found[0].role, f"command `{found[1]}`")
    if image:
        family = family_for_image(image, tuple(families))
        if family is not None:
            return Identity(family, family.role, f"image {image}")
    dockerfile = _dockerfile(project, service, fact)
    if dockerfile is not None:
        identity = _from_dockerfile(dockerfile, project, facts, families, roots, depth=0)
        if identity is not None and identity.role == "app":
            # the application's image run as a tool (`celery flower` from the Django
            # image) is that tool: its service or image name says so
            tool = _named_tool(name, image, families)
            if tool is not None:
                return tool
        if identity is not None:
            return identity
    if image:
        family = parts_family(_name_parts(image), families)
        if family is not None:
            return Identity(family, family.role, f"image name {image}")
    app = _application(project, service, fact, dockerfile, words, roots)
    if app is not None:
        return app
    if service.healthcheck and service.healthcheck.test:
        test = " ".join(service.healthcheck.test[1:])
        for family in families:
            if any(_has_word(test, word) for word in family.health):
                return Identity(family, family.role, f"healthcheck `{_short(test)}`")
    keys = set(service.environment)
    for family in families:
        for key in sorted(keys):
            if any(key.startswith(prefix) for prefix in family.server_env):
                return Identity(family, family.role, f"environment key {key}")
    family = parts_family(_name_parts(name), families)
    if family is not None:
        return Identity(family, family.role, f"service name {name}")
    ports = {p.target for p in service.ports} | (fact.expose if fact else set())
    matching = {f.name: f for f in families for port in ports if port in f.ports}
    if len(matching) == 1:
        family = next(iter(matching.values()))
        port = min(p for p in ports if p in family.ports)
        return Identity(family, family.role, f"well-known port {port}")
    return Identity(None, "service", "")


def _named_tool(name: str, image: str, families: Sequence[Signature]) -> Identity | None:
    tools = [f for f in families if f.role in ("dev-tool", "job")]
    for label, words in (("service name", name), ("image name", image)):
        family = parts_family(_name_parts(words), tools) if words else None
        if family is not None:
            return Identity(family, family.role, f"{label} {words}")
    return None


# --- commands -------------------------------------------------------------------


def _command_words(service: Service) -> tuple[str, ...]:
    return (*(service.entrypoint or ()), *(service.command or ()))


def command_family(
    words: Sequence[str], families: Iterable[Signature]
) -> tuple[Signature, str] | None:
    """The family whose command pattern starts the earliest simple command in `words`."""
    segments = _segments(words)
    if not segments:
        return None
    best: tuple[int, int, Signature, str] | None = None
    for family in families:
        for pattern in family.commands:
            wanted = pattern.split()
            for position, segment in enumerate(segments):
                if _matches(segment, wanted):
                    key = (position, -len(wanted))
                    if best is None or key < best[:2]:
                        best = (position, -len(wanted), family, pattern)
                    break
    return (best[2], best[3]) if best else None


def _segments(words: Sequence[str]) -> list[list[str]]:
    """Simple commands of a command line (shell strings split at `;`, `&&`, `|` ...),
    each from its program on: wrappers (`sh -c`, `exec`), variable assignments and
    paths dropped, `python -m X` as `X`."""
    text = " ".join(words).replace('"', " ").replace("'", " ")
    segments = []
    for chunk in _SEGMENT_SPLIT.split(text):
        tokens = chunk.split()
        while tokens and (
            tokens[0] in _WRAPPERS
            or os.path.basename(tokens[0]) in _WRAPPERS
            or re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", tokens[0])
        ):
            tokens.pop(0)
        if not tokens:
            continue
        program = os.path.basename(tokens[0])
        rest = tokens[1:]
        if _PYTHONS.fullmatch(program) and len(rest) >= 2 and rest[0] == "-m":
            program, rest = rest[1], rest[2:]
        segments.append([program, *rest])
    return segments


def _matches(segment: list[str], wanted: list[str]) -> bool:
    if segment[0] != wanted[0]:
        return False
    position = 1
    for word in wanted[1:]:
        try:
            position = segment.index(word, position) + 1
        except ValueError:
            return False
    return True


# --- names ----------------------------------------------------------------------


def _name_parts(name: str) -> list[str]:
    """`ghcr.io/acme/checkmate:redis-demo` -> [acme, checkmate, redis, demo] (and the
    joined forms: `mongo-express`); the registry host is not a part."""
    text = name.lower().split("@", 1)[0]
    first, _, rest = text.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        text = rest
    tokens = [t for t in _NAME_SPLIT.split(text) if t]
    joined = [f"{a}-{b}" for a, b in zip(tokens, tokens[1:], strict=False)]
    return tokens + joined


def parts_family(parts: Iterable[str], families: Iterable[Signature]) -> Signature | None:
    wanted = set(parts)
    best: Signature | None = None
    for family in families:
        hits = [p for p in family.parts if p in wanted]
        # the longest part wins: `mongo-express` over `mongo`
        if hits and (
            best is None or max(map(len, hits)) > max(len(p) for p in _hits(best, wanted))
        ):
            best = family
    return best


def _hits(family: Signature, wanted: set[str]) -> list[str]:
    return [p for p in family.parts if p in wanted] or [""]


def _has_word(text: str, word: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 40 else text[:37] + "..."


# --- Dockerfiles ------------------------------------------------------------------


def _dockerfile(
    project: Project, service: Service, fact: ServiceFacts | None
) -> _Dockerfile | None:
    if fact is not None and fact.build is not None:
        return parse_dockerfile(fact.build.dockerfile, fact.build.context, fact.build.target)
    if not service.image:
        return None
    parts = set(_name_parts(image_repository(service.image)))
    folders = {f.parent for f in project.config_files} | {project.working_dir}
    for folder in sorted(folders):
        for part in sorted(parts - {"latest"}):
            for candidate in (
                folder / f"{part}.Dockerfile",
                folder / f"Dockerfile.{part}",
                folder / part / "Dockerfile",
            ):
                if candidate.is_file():
                    return parse_dockerfile(candidate, None, None)
    return None


@dataclass
class _Stage:
    base: str
    alias: str
    command: list[str] | None = None
    entry: list[str] | None = None
    copies: list[str] = field(default_factory=list)  # sources; `--from=X` for other stages


def parse_dockerfile(path: Path, context: Path | None, target: str | None) -> _Dockerfile | None:
    """The target stage (or the last) of a Dockerfile: its command, followed through
    `FROM <stage>` for an inherited CMD/ENTRYPOINT, its final base image, and every
    COPY source of the stages it is built from (including `COPY --from` stages)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")[:200_000]
    except OSError:
        return None
    stages: list[_Stage] = []
    arguments: dict[str, str] = {}
    for instruction, argument in _instructions(text):
        if instruction == "ARG" and not stages:
            key, _, default = argument.partition("=")
            arguments[key.strip()] = default.strip().strip('"')
        elif instruction == "FROM":
            words = [w for w in argument.split() if not w.startswith("--")]
            if not words:
                continue
            image = re.sub(
                r"\$\{?([A-Za-z_]\w*)\}?", lambda m: arguments.get(m.group(1), ""), words[0]
            )
            alias = words[2].lower() if len(words) >= 3 and words[1].lower() == "as" else ""
            stages.append(_Stage(image, alias))
        elif stages and instruction == "CMD":
            stages[-1].command = _exec_words(argument)
        elif stages and instruction == "ENTRYPOINT":
            stages[-1].entry = _exec_words(argument)
        elif stages and instruction in ("COPY", "ADD"):
            words = argument.split()
            origin = next((w for w in words if w.startswith("--from")), None)
            if origin is not None:
                stages[-1].copies.append("--from=" + origin.split("=", 1)[-1].lower())
            else:
                stages[-1].copies.extend([w for w in words if not w.startswith("--")][:-1])
    if not stages:
        return None
    by_alias = {s.alias: s for s in stages if s.alias}

    def chain(stage: _Stage) -> list[_Stage]:
        found = [stage]
        while (parent := by_alias.get(found[-1].base.lower())) and parent not in found:
            found.append(parent)
        return found

    main = chain((by_alias.get(target.lower()) if target else None) or stages[-1])
    command = next((s.command for s in main if s.command is not None), [])
    entry = next((s.entry for s in main if s.entry is not None), [])
    copies: list[str] = []
    done: list[_Stage] = []
    pending = list(main)
    while pending:
        stage = pending.pop(0)
        if any(stage is d for d in done):
            continue
        done.append(stage)
        for item in stage.copies:
            if item.startswith("--from="):
                source = by_alias.get(item[len("--from=") :])
                if source is not None:
                    pending.extend(chain(source))
            else:
                copies.append(item)
    return _Dockerfile(path, context, (main[-1].base,), (*entry, *command), tuple(copies))


def _instructions(text: str) -> Iterable[tuple[str, str]]:
    """(keyword, arguments) pairs: the engine's Dockerfile reader joins continuation
    lines and drops comments and heredoc bodies the same way the builder does."""
    from vpmigrate.engine.dockerfile import parse_dockerfile as read_instructions

    for instruction in read_instructions(text).instructions:
        yield instruction.keyword, instruction.arguments.strip()


def _exec_words(argument: str) -> list[str]:
    if argument.startswith("["):
        import json

        try:
            value = json.loads(argument)
            if isinstance(value, list):
                return [str(v) for v in value]
        except ValueError:
            pass
    return argument.split()


def _from_dockerfile(
    dockerfile: _Dockerfile,
    project: Project,
    facts: Mapping[str, ServiceFacts],
    families: Sequence[Signature],
    roots: Sequence[Path],
    depth: int,
) -> Identity | None:
    where = _relative(dockerfile.path, roots)
    found = command_family(dockerfile.command, families)
    if found and found[0].role not in ("proxy",):
        return Identity(found[0], found[0].role, f"{where}: CMD `{found[1]}`")
    for base in dockerfile.bases:
        family = family_for_image(base, tuple(families))
        if family is not None and family.role in ("service", "monitoring", "sink"):
            return Identity(family, family.role, f"{where}: FROM {base}")
        local = _built_by(project, facts, base)
        if local is not None and depth < 4:
            inner = _dockerfile(project, project.services[local], facts.get(local))
            if inner is not None:
                identity = _from_dockerfile(inner, project, facts, families, roots, depth + 1)
                if identity is not None and identity.role != "app":
                    return Identity(
                        identity.family, identity.role, f"{where}: FROM {base} ({identity.how})"
                    )
    code = _copied_code(dockerfile, roots)
    if code:
        return Identity(None, "app", f"{where} copies {_relative(code[0], roots)}", code)
    for base in dockerfile.bases:
        family = family_for_image(base, tuple(families)) or parts_family(
            _name_parts(base), families
        )
        if family is not None:
            return Identity(family, family.role, f"{where}: FROM {base}")
    return None


def _built_by(project: Project, facts: Mapping[str, ServiceFacts], image: str) -> str | None:
    """The service that builds `image` (its `image:` names what its `build:` makes)."""
    for name, service in project.services.items():
        fact = facts.get(name)
        builds = fact is not None and fact.build is not None and bool(service.image)
        if builds and image_repository(service.image) == image_repository(image):
            return name
    return None


def _copied_code(dockerfile: _Dockerfile, roots: Sequence[Path]) -> tuple[Path, ...]:
    """Folders of scanned code that the build copies in (`COPY ./server ./`, `COPY . .`)."""
    contexts = [dockerfile.context] if dockerfile.context else list(dockerfile.path.parents)
    found: list[Path] = []
    for source in dockerfile.copies:
        source = source.strip("\"'")
        if "$" in source or "*" in source:
            source = source.split("*", 1)[0].rsplit("/", 1)[0] or "."
        for context in contexts:
            if context is None:
                continue
            candidate = (context / source).resolve()
            if not _inside(candidate, roots) or not candidate.exists():
                continue
            if candidate.is_dir() and _has_code(candidate):
                found.append(candidate)
                break
            if candidate.is_file() and candidate.suffix in _CODE_SUFFIXES:
                found.append(candidate.parent)
                break
    return tuple(dict.fromkeys(found))


def _application(
    project: Project,
    service: Service,
    fact: ServiceFacts | None,
    dockerfile: _Dockerfile | None,
    words: Sequence[str],
    roots: Sequence[Path],
) -> Identity | None:
    if fact is not None and fact.build is not None and _inside(fact.build.context, roots):
        context = fact.build.context
        return Identity(
            None, "app", f"builds {_relative(context, roots)} (scanned code)", (context,)
        )
    for mount in service.volumes:
        if mount.type != "bind" or not mount.source:
            continue
        source = Path(mount.source)
        if _inside(source, roots) and source.is_dir() and _has_code(source):
            return Identity(
                None, "app", f"mounts {_relative(source, roots)} (scanned code)", (source,)
            )
    for segment in _segments(words):
        for word in segment[:4]:
            target = _code_target(word, project.working_dir, roots)
            if target is not None:
                return Identity(
                    None, "app", f"runs {_relative(target, roots)} (scanned code)", (target.parent,)
                )
    if service.image:
        names = {_normal(r.name) for r in roots} | {_normal(project.name)}
        parts = {_normal(p) for p in _name_parts(image_repository(service.image))}
        tag_parts = set(_name_parts(service.image)) - set(
            _name_parts(image_repository(service.image))
        )
        joined = _normal(image_repository(service.image))
        named = names & parts or any(n and joined.startswith(n) for n in names)
        if named and (parts | tag_parts) & (_APP_WORDS | {_normal(service.name)}):
            return Identity(None, "app", f"image {service.image} is named after the project")
    return None


def _code_target(word: str, base: Path, roots: Sequence[Path]) -> Path | None:
    """A script or module of the scanned code that a command word names."""
    word = word.split(":", 1)[0]
    candidates = []
    if word.endswith((".py", ".js", ".ts", ".mjs")) or "/" in word:
        candidates.append(word)
    elif re.fullmatch(r"[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)+", word):
        candidates += [word.replace(".", "/") + ".py", word.replace(".", "/")]
    for candidate in candidates:
        for folder in (base, *roots):
            path = (folder / candidate).resolve()
            if _inside(path, roots) and path.exists() and (path.is_file() or _has_code(path)):
                return path if path.is_file() else path / "__init__.py"
    return None


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _inside(path: Path, roots: Sequence[Path]) -> bool:
    resolved = path.resolve()
    return any(resolved == r or r in resolved.parents for r in roots)


def _has_code(folder: Path, budget: int = 400) -> bool:
    """Whether a folder holds source files (a data folder does not), looking at no more
    than `budget` entries, two levels down."""
    pending, seen = [folder], 0
    for depth in range(3):
        following = []
        for current in pending:
            try:
                entries = list(os.scandir(current))
            except OSError:
                continue
            for entry in entries:
                seen += 1
                if seen > budget:
                    return False
                if entry.is_file(follow_symlinks=False):
                    if os.path.splitext(entry.name)[1] in _CODE_SUFFIXES:
                        return True
                elif (
                    depth < 2
                    and entry.is_dir(follow_symlinks=False)
                    and entry.name not in ("node_modules", ".git", ".venv", "venv")
                ):
                    following.append(Path(entry.path))
        pending = following
    return False


def _relative(path: Path, roots: Sequence[Path]) -> str:
    """`path` as a reason shows it: relative to the scanned root it lies in (`/`
    separated, `.` for the root itself), else as given."""
    resolved = path.resolve()
    for root in roots:
        if resolved == root:
            return "."
        if root in resolved.parents:
            return resolved.relative_to(root).as_posix()
    return str(path)


__all__ = ["Build", "Identity", "identify", "command_family", "parse_dockerfile"]
