"""The Railway operations the tasks need, typed, and the GraphQL documents behind them.

Reads and writes are batched: one aliased document reads every service's
variables (and the environment's shared ones), one writes every change of an
environment, one redeploys. When Railway refuses a document as too large or too
complex, the batch is halved until it is accepted (``notice`` says so once).

Every document here is checked against Railway's published schema by the
contract test (tests/railway/test_contract.py): `DOCUMENTS` lists the fixed
ones, `sample_documents()` the generated ones in every shape the client sends.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, Protocol

from vpmigrate.errors import UserError
from vpmigrate.railway.secrets import printable
from vpmigrate.railway.transport import (
    AnswerLost,
    DocumentTooLarge,
    GraphQLTransport,
    RailwayApiError,
)

# The scope of an environment's shared variables (Railway's own `${{shared.NAME}}`).
SHARED = "shared"

_PROJECT_FIELDS = """
    id
    name
    services { edges { node { id name } } }
    environments { edges { node { id name } } }
"""

PROJECT = f"""
query Project($id: String!) {{
  project(id: $id) {{{_PROJECT_FIELDS}  }}
}}
"""

# A project token names its project and environment; the project comes along in the
# same request.
PROJECT_TOKEN = f"""
query ProjectToken {{
  projectToken {{
    projectId
    environmentId
    project {{{_PROJECT_FIELDS}    }}
  }}
}}
"""

SERVICE_CREATE = """
mutation ServiceCreate($input: ServiceCreateInput!) {
  serviceCreate(input: $input) { id name }
}
"""

SERVICE_INSTANCE_UPDATE = """
mutation ServiceInstanceUpdate(
  $serviceId: String!
  $environmentId: String
  $input: ServiceInstanceUpdateInput!
) {
  serviceInstanceUpdate(serviceId: $serviceId, environmentId: $environmentId, input: $input)
}
"""

SERVICE_INSTANCE = """
query ServiceInstance($environmentId: String!, $serviceId: String!) {
  serviceInstance(environmentId: $environmentId, serviceId: $serviceId) {
    id
    serviceName
    startCommand
    source { image repo }
    domains { serviceDomains { domain } }
  }
}
"""

SERVICE_DOMAIN_CREATE = """
mutation ServiceDomainCreate($input: ServiceDomainCreateInput!) {
  serviceDomainCreate(input: $input) { id domain }
}
"""

DOCUMENTS: Mapping[str, str] = MappingProxyType(
    {
        "ProjectToken": PROJECT_TOKEN,
        "Project": PROJECT,
        "ServiceCreate": SERVICE_CREATE,
        "ServiceInstanceUpdate": SERVICE_INSTANCE_UPDATE,
        "ServiceInstance": SERVICE_INSTANCE,
        "ServiceDomainCreate": SERVICE_DOMAIN_CREATE,
    }
)


# -- generated documents ---------------------------------------------------------------
def variables_document(scopes: Sequence[tuple[str, bool]]) -> str:
    """``query Variables``: one aliased ``variables(..., unrendered: true)`` per
    (alias, has_service); without a service it reads the environment's shared
    variables. unrendered: true keeps ${{...}} references as written; without it
    Railway returns them resolved, and writing those back would destroy them."""
    params = ["$projectId: String!", "$environmentId: String!"]
    fields = []
    for alias, has_service in scopes:
        service = ""
        if has_service:
            params.append(f"${alias}: String!")
            service = f" serviceId: ${alias},"
        fields.append(
            f"  {alias}: variables(projectId: $projectId, environmentId: $environmentId,"
            f"{service} unrendered: true)"
        )
    return f"query Variables({', '.join(params)}) {{\n" + "\n".join(fields) + "\n}\n"


def writes_document(aliases: Sequence[tuple[str, Literal["upsert", "delete"]]]) -> str:
    """``mutation VariableWrites``: aliased ``variableCollectionUpsert`` and
    ``variableDelete`` fields, executed by Railway in order."""
    kinds = {
        "upsert": ("VariableCollectionUpsertInput", "variableCollectionUpsert"),
        "delete": ("VariableDeleteInput", "variableDelete"),
    }
    params = [f"${alias}: {kinds[kind][0]}!" for alias, kind in aliases]
    fields = [f"  {alias}: {kinds[kind][1]}(input: ${alias})" for alias, kind in aliases]
    return f"mutation VariableWrites({', '.join(params)}) {{\n" + "\n".join(fields) + "\n}\n"


def redeploys_document(aliases: Sequence[str]) -> str:
    """``mutation Redeploys``: one aliased ``serviceInstanceRedeploy`` per service."""
    params = ["$environmentId: String!", *(f"${alias}: String!" for alias in aliases)]
    fields = [
        f"  {alias}: serviceInstanceRedeploy(environmentId: $environmentId, serviceId: ${alias})"
        for alias in aliases
    ]
    return f"mutation Redeploys({', '.join(params)}) {{\n" + "\n".join(fields) + "\n}\n"


def sample_documents() -> dict[str, str]:
    """Every shape of generated document, at the sizes the tests use (for the contract test)."""
    samples: dict[str, str] = {}
    for size in (1, 6, 31):
        samples[f"Variables x{size}"] = variables_document(
            [(_alias("s", i), True) for i in range(size)]
        )
        samples[f"Variables x{size} + shared"] = variables_document(
            [("shared", False), *((_alias("s", i), True) for i in range(size))]
        )
        samples[f"VariableWrites x{size}"] = writes_document(
            [(_alias("u", i), "upsert") for i in range(size)]
            + [(_alias("d", i), "delete") for i in range(size)]
        )
        samples[f"Redeploys x{size}"] = redeploys_document([_alias("r", i) for i in range(size)])
    return samples


def _alias(prefix: str, index: int) -> str:
    return f"{prefix}{index}"


# -- what the backend returns ----------------------------------------------------------
# Variables as Railway returns them: a sealed variable reads back as None.
Variables = Mapping[str, "str | None"]

State = Literal["applied", "failed", "not attempted", "unknown"]


@dataclass(frozen=True)
class ProjectInfo:
    id: str
    name: str
    services: Mapping[str, str]  # name -> id
    environments: Mapping[str, str]  # name -> id


@dataclass(frozen=True)
class TokenScope:
    """What a project token is bound to."""

    project_id: str
    environment_id: str


@dataclass(frozen=True)
class ServiceInstanceInfo:
    start_command: str | None
    image: str | None
    repo: str | None
    domains: tuple[str, ...]


@dataclass(frozen=True)
class VariableWrite:
    """The writes of one scope (a service, or SHARED with ``service_id`` None)."""

    scope: str
    service_id: str | None
    upserts: Mapping[str, str] = field(default_factory=dict, repr=False)
    deletions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome:
    """What became of one aliased field: an upsert, a deletion or a redeploy."""

    scope: str
    action: Literal["upsert", "delete", "redeploy"]
    name: str | None  # the deleted variable
    state: State
    message: str = ""


@dataclass(frozen=True)
class BatchResult:
    outcomes: tuple[Outcome, ...]
    lost: str | None = None  # why an answer was lost, when one was
    error: str | None = None  # why a whole document failed, when one did

    @property
    def complete(self) -> bool:
        return all(o.state == "applied" for o in self.outcomes)


class RailwayBackend(Protocol):
    """The Railway operations the tasks use; GraphQLRailway is the real one."""

    def token_project(self) -> tuple[TokenScope, ProjectInfo]: ...

    def project(self, project_id: str) -> ProjectInfo: ...

    def read_variables(
        self, project_id: str, environment_id: str, scopes: Mapping[str, str | None]
    ) -> dict[str, Variables]: ...

    def write_variables(
        self, project_id: str, environment_id: str, writes: Sequence[VariableWrite]
    ) -> BatchResult: ...

    def redeploy(self, environment_id: str, services: Mapping[str, str]) -> BatchResult: ...

    def create_service(
        self,
        project_id: str,
        environment_id: str,
        name: str,
        source: Mapping[str, str],
        variables: Mapping[str, str],
    ) -> str: ...

    def update_service_instance(
        self, environment_id: str, service_id: str, settings: Mapping[str, Any]
    ) -> None: ...

    def service_instance(self, environment_id: str, service_id: str) -> ServiceInstanceInfo: ...

    def create_domain(self, environment_id: str, service_id: str, port: int) -> str: ...


# -- shape checks: Railway's answer is input too ---------------------------------------
def _shape(what: str) -> UserError:
    return UserError(
        f"Railway's answer about {what} has an unexpected shape; check RAILWAY_API_URL, "
        "or re-run if Railway was being updated."
    )


def _get(data: Any, key: str, what: str) -> Any:
    if not isinstance(data, dict) or data.get(key) is None:
        raise _shape(what)
    return data[key]


def _text(data: Any, key: str, what: str) -> str:
    value = _get(data, key, what)
    if not isinstance(value, str | int):
        raise _shape(what)
    return str(value)


def _by_name(connection: Any, what: str) -> dict[str, str]:
    edges = _get(connection, "edges", what)
    if not isinstance(edges, list):
        raise _shape(what)
    result = {}
    for edge in edges:
        node = _get(edge, "node", what)
        result[_text(node, "name", what)] = _text(node, "id", what)
    return result


def _project_info(project: Any) -> ProjectInfo:
    if not isinstance(project, dict):
        raise _shape("the project")
    return ProjectInfo(
        id=_text(project, "id", "the project"),
        name=_text(project, "name", "the project"),
        services=MappingProxyType(_by_name(project.get("services"), "the project's services")),
        environments=MappingProxyType(
            _by_name(project.get("environments"), "the project's environments")
        ),
    )


def _variables(value: Any, scope: str) -> Variables:
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, dict):
        raise _shape(f"the variables of {printable(scope, 80)}")
    return MappingProxyType({str(k): (None if v is None else str(v)) for k, v in value.items()})


def _failed_alias(exc: RailwayApiError, prefix: str) -> int | None:
    """The index of the aliased field an error names, if any."""
    for issue in exc.issues:
        if issue.path and isinstance(issue.path[0], str):
            alias = issue.path[0]
            if alias.startswith(prefix) and alias[len(prefix) :].isdigit():
                return int(alias[len(prefix) :])
    return None


class GraphQLRailway:
    """RailwayBackend over Railway's public GraphQL API."""

    def __init__(
        self,
        transport: GraphQLTransport,
        *,
        notice: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.transport = transport
        self.notice = notice
        self.batch_limit: int | None = None  # aliases per document once Railway refused one
        self._noticed = False

    def _run(self, operation: str, variables: Mapping[str, Any], *, safe: bool = True) -> Any:
        return self.transport.execute(operation, DOCUMENTS[operation], variables, safe=safe)

    # -- batching ---------------------------------------------------------------------
    def _smaller(self, size: int, exc: DocumentTooLarge) -> None:
        if size <= 1:
            raise exc
        self.batch_limit = max(1, size // 2)
        if not self._noticed:
            self._noticed = True
            self.notice(
                f"Railway refused a document of {size} operations as too large; sending "
                f"smaller batches (at most {self.batch_limit}) from now on."
            )

    def _batched(self, items: Sequence[Any], send: Callable[[Sequence[Any]], None]) -> None:
        """Call ``send`` on consecutive chunks; a chunk refused as too large is halved."""
        pending = list(items)
        while pending:
            size = min(self.batch_limit or len(pending), len(pending))
            chunk = pending[:size]
            try:
                send(chunk)
            except DocumentTooLarge as exc:
                self._smaller(size, exc)
                continue
            pending = pending[size:]

    # -- reads --------------------------------------------------------------------------
    def token_project(self) -> tuple[TokenScope, ProjectInfo]:
        token = _get(self._run("ProjectToken", {}), "projectToken", "the project token")
        scope = TokenScope(
            _text(token, "projectId", "the project token"),
            _text(token, "environmentId", "the project token"),
        )
        return scope, _project_info(_get(token, "project", "the project token's project"))

    def project(self, project_id: str) -> ProjectInfo:
        return _project_info(_get(self._run("Project", {"id": project_id}), "project", "project"))

    def read_variables(
        self, project_id: str, environment_id: str, scopes: Mapping[str, str | None]
    ) -> dict[str, Variables]:
        """Every scope's variables, unrendered, in as few requests as Railway accepts."""
        entries = list(scopes.items())
        result: dict[str, Variables] = {}

        def send(chunk: Sequence[tuple[str, str | None]]) -> None:
            aliases = [(_alias("s", i), service_id) for i, (_, service_id) in enumerate(chunk)]
            document = variables_document([(a, sid is not None) for a, sid in aliases])
            values: dict[str, Any] = {"projectId": project_id, "environmentId": environment_id}
            values.update({a: sid for a, sid in aliases if sid is not None})
            data = self.transport.execute("Variables", document, values)
            for (alias, _), (scope, _) in zip(aliases, chunk, strict=True):
                if alias not in data:
                    raise _shape(f"the variables of {printable(scope, 80)}")
                result[scope] = _variables(data[alias], scope)

        self._batched(entries, send)
        return result

    # -- writes -------------------------------------------------------------------------
    def write_variables(
        self, project_id: str, environment_id: str, writes: Sequence[VariableWrite]
    ) -> BatchResult:
        """Every upsert (skipDeploys, never replace) and deletion in one document per
        batch, in order: each scope's upsert, then its deletions. Not repeated after a
        lost answer: the caller reads back instead."""
        entries: list[tuple[Outcome, Any]] = []
        for write in writes:
            ids: dict[str, Any] = {"projectId": project_id, "environmentId": environment_id}
            if write.service_id is not None:
                ids["serviceId"] = write.service_id
            if write.upserts:
                # Never replace: true, which deletes every variable not listed.
                payload = {**ids, "variables": dict(write.upserts), "skipDeploys": True}
                entries.append((Outcome(write.scope, "upsert", None, "unknown"), payload))
            for name in write.deletions:
                entries.append(
                    (Outcome(write.scope, "delete", name, "unknown"), {**ids, "name": name})
                )

        def build(aliased: Sequence[tuple[str, Outcome, Any]]) -> tuple[str, dict[str, Any]]:
            kinds: list[tuple[str, Literal["upsert", "delete"]]] = [
                (alias, "upsert" if outcome.action == "upsert" else "delete")
                for alias, outcome, _ in aliased
            ]
            return writes_document(kinds), {alias: payload for alias, _, payload in aliased}

        return self._mutate("VariableWrites", "w", entries, build, safe=False)

    def redeploy(self, environment_id: str, services: Mapping[str, str]) -> BatchResult:
        """One document redeploying ``services`` (name -> id). Repeating a redeploy is
        harmless (the service restarts onto the same variables), so it is retried."""
        entries: list[tuple[Outcome, Any]] = [
            (Outcome(name, "redeploy", None, "unknown"), service_id)
            for name, service_id in services.items()
        ]

        def build(aliased: Sequence[tuple[str, Outcome, Any]]) -> tuple[str, dict[str, Any]]:
            variables = {"environmentId": environment_id}
            variables.update({alias: service_id for alias, _, service_id in aliased})
            return redeploys_document([alias for alias, _, _ in aliased]), variables

        return self._mutate("Redeploys", "r", entries, build, safe=True)

    def _mutate(
        self,
        operation: str,
        prefix: str,
        entries: Sequence[tuple[Outcome, Any]],
        build: Callable[[Sequence[tuple[str, Outcome, Any]]], tuple[str, dict[str, Any]]],
        *,
        safe: bool,
    ) -> BatchResult:
        """Send ``entries`` in batches and say what became of each. Railway runs the
        fields of a mutation one after another and stops at the first that fails:
        those before it were applied, it failed, those after were not attempted. A
        lost answer leaves its batch's fate unknown (the caller reads back)."""
        outcomes = [outcome for outcome, _ in entries]
        current = [0, 0]  # first index and size of the batch in flight

        def settle(start: int, stop: int, state: State, message: str = "") -> None:
            for i in range(start, min(stop, len(outcomes))):
                old = outcomes[i]
                outcomes[i] = Outcome(old.scope, old.action, old.name, state, message)

        def send(chunk: Sequence[tuple[int, tuple[Outcome, Any]]]) -> None:
            first = chunk[0][0]
            current[:] = [first, len(chunk)]
            aliased = [
                (f"{prefix}{j}", outcome, payload)
                for j, (_, (outcome, payload)) in enumerate(chunk)
            ]
            document, variables = build(aliased)
            data = self.transport.execute(operation, document, variables, safe=safe)
            for j, (alias, _, _) in enumerate(aliased):
                if data.get(alias) is True:
                    settle(first + j, first + j + 1, "applied")
                else:
                    settle(first + j, first + j + 1, "failed", "Railway did not confirm it")

        lost: str | None = None
        error: str | None = None
        try:
            self._batched(list(enumerate(entries)), send)
        except AnswerLost as exc:
            first, size = current
            settle(first + size, len(outcomes), "not attempted")
            settle(first, first + size, "unknown", "the answer was lost")
            lost = exc.message
        except RailwayApiError as exc:
            first, size = current
            settle(first, len(outcomes), "not attempted")
            failed = _failed_alias(exc, prefix)
            if failed is None:  # the document as a whole: nothing in it ran
                error = exc.message
            else:
                settle(first, first + failed, "applied")
                alias = f"{prefix}{failed}"
                mine = [i.message for i in exc.issues if i.path[:1] == (alias,)]
                settle(first + failed, first + failed + 1, "failed", "; ".join(mine))
        except UserError as exc:  # retries exhausted: some of the batch may have run
            first, size = current
            settle(first + size, len(outcomes), "not attempted")
            settle(first, first + size, "unknown", "no answer")
            error = exc.message
        return BatchResult(tuple(outcomes), lost, error)

    # -- services -----------------------------------------------------------------------
    def create_service(
        self,
        project_id: str,
        environment_id: str,
        name: str,
        source: Mapping[str, str],
        variables: Mapping[str, str],
    ) -> str:
        """Not safe to repeat: a lost answer raises AnswerLost (the caller reads back)."""
        created = self._run(
            "ServiceCreate",
            {
                "input": {
                    "projectId": project_id,
                    "environmentId": environment_id,
                    "name": name,
                    "source": dict(source),
                    "variables": dict(variables),
                }
            },
            safe=False,
        )
        return _text(_get(created, "serviceCreate", "the created service"), "id", "the service")

    def update_service_instance(
        self, environment_id: str, service_id: str, settings: Mapping[str, Any]
    ) -> None:
        self._run(
            "ServiceInstanceUpdate",
            {"serviceId": service_id, "environmentId": environment_id, "input": dict(settings)},
        )

    def service_instance(self, environment_id: str, service_id: str) -> ServiceInstanceInfo:
        what = "the service instance"
        node = _get(
            self._run(
                "ServiceInstance", {"environmentId": environment_id, "serviceId": service_id}
            ),
            "serviceInstance",
            what,
        )
        if not isinstance(node, dict):
            raise _shape(what)
        source = node.get("source") or {}
        domains = (node.get("domains") or {}).get("serviceDomains") or []
        if not isinstance(source, dict) or not isinstance(domains, list):
            raise _shape(what)
        command = node.get("startCommand")
        return ServiceInstanceInfo(
            start_command=command if isinstance(command, str) else None,
            image=source.get("image") if isinstance(source.get("image"), str) else None,
            repo=source.get("repo") if isinstance(source.get("repo"), str) else None,
            domains=tuple(_text(d, "domain", what) for d in domains),
        )

    def create_domain(self, environment_id: str, service_id: str, port: int) -> str:
        """Not safe to repeat: a lost answer raises AnswerLost (the caller reads back)."""
        domain = self._run(
            "ServiceDomainCreate",
            {
                "input": {
                    "environmentId": environment_id,
                    "serviceId": service_id,
                    "targetPort": port,
                }
            },
            safe=False,
        )
        return _text(_get(domain, "serviceDomainCreate", "the domain"), "domain", "the domain")
