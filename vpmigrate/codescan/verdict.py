"""From evidence to a verdict per service, with the reason in a few words.

- `app`: the service runs the scanned code (its build context, a bind-mounted code
  folder, or a module its command runs is inside a scanned path), or a prebuilt image
  that the application code names as a whole string (the code builds or runs it).
  Never unused, never retired; the reason names the backing services its code uses.
- `dev-tool`: a developer tool (pgAdmin, Adminer, Flower, Jupyter, `mlflow ui` ...), or a
  mail sink (Mailpit, MailHog) that something sends to. What a dev tool needs does not
  become used through it.
- `required`: the application uses it (an import, a URL, a host, a published port on
  localhost, a variable whose value points at it, a driver name), or a required service
  needs it through the compose file (`depends_on`, an env value or command naming it);
  a one-shot job or proxy is required when what it prepares or routes to is.
  `depends_on` from the application's own services does not count: their code says
  what they need.
- `optional`: used, but only as observability (`role: monitoring`), or configured
  under `cleanup.optional`, or needed only by optional services; also an otherwise
  unused service kept by `cleanup.keep`.
- `unused`: a service whose identity is known and that nothing uses; references from
  tests, declarations and mentions are shown but never count.
- `unknown`: it cannot be judged: nothing says what it is and nothing uses it, or the
  scan could not read every file (then no service is called unused).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from vpmigrate.codescan.evidence import Evidence, Verdict, display_path
from vpmigrate.codescan.graph import Edge
from vpmigrate.codescan.index import SignalIndex
from vpmigrate.codescan.settings import UsageSettings
from vpmigrate.compose.model import Project
from vpmigrate.errors import UserError

REQUIRED, OPTIONAL, NONE = 2, 1, 0
VERDICT_ORDER = {
    "app": 0,
    "required": 1,
    "optional": 2,
    "dev-tool": 3,
    "unknown": 4,
    "unused": 5,
}
_SERVES = ("job", "proxy")  # needed when what they prepare or route to is needed
# edges that only ever make their source needed, never their target: a proxy that
# routes to a service or a job that writes into its volume does not make it needed
_BACKWARD = ("routes", "shares volume")


@dataclass(frozen=True)
class ServiceReport:
    service: str
    verdict: Verdict
    evidence: tuple[Evidence, ...]  # strongest first
    reason: str = ""  # why, in a few words: "imported in code", "needed by mlflow", ...
    known: bool = True  # what it is is known (table, Dockerfile, command, app, config)
    identity: str = ""  # what told what it is: "image postgres:16", "command `mc mb`"

    @property
    def used(self) -> bool:
        """Some application use among the evidence (what --apply must never retire)."""
        return any(e.kind == "use" for e in self.evidence)

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for item in self.evidence:
            found[item.kind] = found.get(item.kind, 0) + 1
        return found


def decide(
    project: Project,
    index: SignalIndex,
    evidence: Mapping[str, list[Evidence]],
    edges: list[Edge],
    settings: UsageSettings,
    display_base: Path,
    unreadable: Sequence[str] = (),
) -> list[ServiceReport]:
    _check_names(project, settings)
    roles = {name: index.services[name].role for name in project.services}
    level = {name: NONE for name in project.services}
    uses = {
        name: [e for e in evidence.get(name, ()) if e.kind == "use"] for name in project.services
    }
    # A prebuilt image the application's code names (`f"shop-model:{version}"` passed to
    # a build or run call) is the application's own: the code makes or runs it.
    named_image = {
        name: found
        for name in project.services
        if index.services[name].image
        for found in [next((e for e in uses[name] if e.category == "image"), None)]
        if found is not None
    }
    for name in named_image:
        roles[name] = "app"
    for name in project.services:
        if roles[name] == "app":
            level[name] = REQUIRED
        elif roles[name] in ("dev-tool", "sink"):
            continue
        elif uses[name]:
            optional = roles[name] == "monitoring" or name in settings.optional
            level[name] = OPTIONAL if optional else REQUIRED
    served: dict[str, list[Edge]] = {}  # job/proxy -> the edges that made it needed
    changed = True
    while changed:  # a used service's needs are used at (at most) its own level
        changed = False
        for edge in edges:
            source, target = edge.source, edge.target
            if roles[source] in _SERVES and level[target] > NONE and roles[target] != "dev-tool":
                wanted = OPTIONAL if source in settings.optional else level[target]
                if wanted > level[source]:
                    level[source] = wanted
                    served.setdefault(source, []).append(edge)
                    changed = True
            if roles[source] in ("dev-tool", "sink", "app") or level[source] == NONE:
                continue
            if edge.how.startswith(_BACKWARD):
                continue
            if roles[target] in ("app", "dev-tool"):
                continue
            wanted = OPTIONAL if target in settings.optional else level[source]
            if wanted > level[target]:
                level[target] = wanted
                changed = True
    base = display_base.resolve()
    reports = []
    for name in project.services:
        signals = index.services[name]
        identity = signals.identity
        how = identity.how if identity is not None else ""
        items = list(evidence.get(name, ()))
        needers = []
        for edge in edges:
            if (
                edge.target == name
                and level[edge.source] > NONE
                and roles[edge.source] not in ("dev-tool", "sink", "app")
                and roles[name] not in ("dev-tool", "sink")
                and not edge.how.startswith(_BACKWARD)
            ):
                needers.append(edge.source)
                items.append(
                    Evidence(
                        display_path(edge.file.resolve(), base),
                        edge.line,
                        f"needed by {edge.source} ({edge.how})",
                        "use",
                        "needed-by",
                    )
                )
        for edge in served.get(name, []) if not needers else []:
            items.append(
                Evidence(
                    display_path(edge.file.resolve(), base),
                    edge.line,
                    f"{'routes to' if roles[name] == 'proxy' else 'prepares'} {edge.target} "
                    f"({edge.how})",
                    "use",
                    "needed-by",
                )
            )
        role = roles[name]
        service = project.services[name]
        verdict: Verdict
        if role == "app":
            if name in named_image:
                how = f"the code names its image, {named_image[name].where()}"
            verdict, reason = "app", _app_reason(how, name, evidence, roles, base, identity)
        elif role == "dev-tool":
            verdict, reason = "dev-tool", f"developer tool ({how})" if how else "developer tool"
            items.append(
                Evidence(
                    display_path(service.location.file.resolve(), base),
                    service.location.line,
                    f"developer tool ({how or 'configured'})",
                    "declared",
                    "role",
                )
            )
        elif role == "sink" and (uses[name] or needers):
            verdict = "dev-tool"
            reason = "mail sink the application sends to in development"
        elif level[name] == REQUIRED:
            verdict, reason = "required", _reason(items)
        elif level[name] == OPTIONAL:
            verdict = "optional"
            reason = (
                f"optional: {settings.optional[name]}"
                if name in settings.optional
                else "observability only"
                if role == "monitoring"
                else "needed by optional services only"
            )
        elif name in settings.keep:
            verdict, reason = "optional", f"kept: {settings.keep[name]}"
            items.append(
                Evidence(
                    "config cleanup.keep", 0, f"keep: {settings.keep[name]}", "declared", "keep"
                )
            )
        elif unreadable:
            verdict = "unknown"
            reason = (
                f"the scan could not read {len(unreadable)}+ path(s) ({unreadable[0]}); "
                "no service is called unused on a partial read"
            )
        elif not signals.known:
            verdict = "unknown"
            image = f"image {service.image}" if service.image else "no image"
            reason = (
                f"no identity and no use: {image} is not in the signature table, and no "
                "Dockerfile, command, healthcheck, environment key or port says what it is; "
                f"describe it under cleanup.signatures.{name}"
            )
        else:
            verdict = "unused"
            reason = _unused_reason(items, how)
        items.sort(key=lambda e: (-e.strength[0], -e.strength[1], e.file, e.line))
        reports.append(
            ServiceReport(
                name,
                verdict,
                tuple(dict.fromkeys(items)),
                reason,
                signals.known or name in named_image,
                how,
            )
        )
    reports.sort(key=lambda r: (VERDICT_ORDER[r.verdict], r.service))
    return reports


def _reason(items: list[Evidence]) -> str:
    code = [e for e in items if e.kind == "use" and e.category != "needed-by"]
    if code:
        best = max(code, key=lambda e: e.strength)
        return f"used by the code ({best.signal}, {best.where()})"
    needed = [e for e in items if e.category == "needed-by"]
    if needed:
        return needed[0].signal
    return "needed by a used service"


def _unused_reason(items: list[Evidence], how: str) -> str:
    what = f" ({how})" if how else ""
    tests = [e for e in items if e.kind == "test"]
    if tests:
        return f"no use in the application code{what}; only tests refer to it ({tests[0].where()})"
    return f"no use in the application code{what}"


def _app_reason(
    how: str,
    name: str,
    evidence: Mapping[str, list[Evidence]],
    roles: Mapping[str, str],
    base: Path,
    identity: object,
) -> str:
    """`runs the scanned code (builds backend/); its code uses db, redis`."""
    code = getattr(identity, "code", ()) or ()
    folders = [display_path(Path(c).resolve(), base) for c in code]
    used = []
    for other, items in evidence.items():
        if other == name or roles.get(other, "app") == "app":
            continue
        for item in items:
            if item.kind != "use":
                continue
            if not folders or any(
                f == "." or item.file == f or item.file.startswith(f.rstrip("/") + "/")
                for f in folders
            ):
                used.append(other)
                break
    uses = f"; its code uses {', '.join(sorted(used))}" if used else ""
    return f"runs the scanned code ({how}){uses}"


def _check_names(project: Project, settings: UsageSettings) -> None:
    for section, names in (
        ("cleanup.keep", settings.keep),
        ("cleanup.optional", settings.optional),
    ):
        unknown = sorted(set(names) - set(project.services))
        if unknown:
            raise UserError(
                f"{section} names {', '.join(unknown)}, which the compose file does not define "
                f"(services: {', '.join(sorted(project.services))}); fix the name or remove it."
            )
