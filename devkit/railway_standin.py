"""A local stand-in for Railway's GraphQL API: a real HTTP server on 127.0.0.1.

It executes GraphQL with graphql-core against Railway's published schema when
shared/reference/railway/schema.graphql exists beside the checkout or one of its
parents (else against the subset in railway_subset.graphql), keeps projects,
environments, services, shared and service variables and redeploys in memory,
renders ``${{...}}`` references only when ``unrendered`` is false, answers with
rate-limit headers, injects faults on demand (rate limits, 5xx, HTML pages, HTTP
errors, raw bodies, answers dripped one byte at a time, gzip bombs, errors that
echo the request, answers lost after executing) and records every request.
"""

from __future__ import annotations

import functools
import json
import os
import re
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import graphql

REPO_ROOT = Path(__file__).resolve().parents[1]
SUBSET_SCHEMA = Path(__file__).with_name("railway_subset.graphql")
_REFERENCE = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")


def _reference_schema() -> Path:
    """Railway's published schema: $VPM_RAILWAY_SCHEMA, else shared/reference/... beside
    the checkout or one of its parents (a worktree lives deeper than the main checkout)."""
    if os.environ.get("VPM_RAILWAY_SCHEMA"):
        return Path(os.environ["VPM_RAILWAY_SCHEMA"])
    relative = Path("shared", "reference", "railway", "schema.graphql")
    for folder in REPO_ROOT.parents:
        if (folder / relative).is_file():
            return folder / relative
    return REPO_ROOT.parent / relative


REFERENCE_SCHEMA = _reference_schema()


def default_schema_path() -> Path:
    """Railway's real schema when present, else the Railway-shaped subset."""
    return REFERENCE_SCHEMA if REFERENCE_SCHEMA.is_file() else SUBSET_SCHEMA


@functools.cache
def load_schema(path: Path) -> graphql.GraphQLSchema:
    """The executable schema, built once per process and file; its resolvers find the
    serving stand-in through the request context."""
    schema = graphql.build_schema(path.read_text(), assume_valid=True)
    for root in (schema.query_type, schema.mutation_type):
        assert root is not None
        for name in _RESOLVERS:
            if name in root.fields:
                root.fields[name].resolve = _dispatch(_RESOLVERS[name])
    return schema


def _dispatch(method: str) -> Callable[..., Any]:
    def resolve(source: Any, info: graphql.GraphQLResolveInfo, **args: Any) -> Any:
        standin = info.context.standin
        standin.refusal(info.field_name, args)
        return getattr(standin, method)(source, info, **args)

    return resolve


@dataclass
class Refusal:
    """Refuse one root field (a GraphQL error at its path) when ``when(args)`` holds:
    how Railway answers a field it cannot apply, inside a document that is otherwise fine."""

    field: str
    message: str
    when: Callable[[dict[str, Any]], bool]
    times: int = 1


@dataclass
class Recorded:
    """One request as the stand-in saw it."""

    headers: dict[str, str]
    operation: str | None
    query: str
    variables: dict[str, Any]
    kind: str  # "query" or "mutation" ("" when unparsable)
    fields: tuple[str, ...]  # root fields selected


@dataclass
class Fault:
    """Answer matching requests with a fault instead of executing them.

    kinds: rate_limit (429 with ``retry_after``), server_error (500), html (a 200 HTML
    page), not_authorized, graphql_error (``message``, no path), delay (``delay``
    seconds, then execute), status (``status`` with ``body``/``content_type``), raw
    (200 with ``body``, Content-Encoding ``encoding``), drip (the real answer, one
    byte every ``delay`` seconds, status line included), gzip_bomb (``size`` zero
    bytes gzip-compressed), echo (an error quoting the request's headers and body, as
    some servers do), drop (execute, then close the connection without an answer: the
    answer is lost).
    """

    kind: str
    operation: str | None = None  # only requests with this operationName
    times: int = 1
    retry_after: int | str = 1
    delay: float = 0.0
    message: str = "Internal error"
    when: Callable[[Recorded], bool] | None = None
    status: int = 500
    body: bytes = b""
    content_type: str = "application/json"
    encoding: str = ""  # Content-Encoding of a raw body
    size: int = 64 * 1024 * 1024


@dataclass
class Reply:
    """What the HTTP handler sends back."""

    status: int
    headers: dict[str, str]
    body: bytes
    drip: float = 0.0  # seconds between bytes, the status line included
    drop: bool = False  # close the connection without answering


@functools.cache
def _gzip_bomb(size: int) -> bytes:
    block = bytes(1024 * 1024)
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [packer.compress(block) for _ in range(size // len(block))]
    parts.append(packer.flush())
    return b"".join(parts)


@dataclass
class Project:
    id: str
    name: str
    environments: dict[str, str] = field(default_factory=dict)  # id -> name
    services: dict[str, str] = field(default_factory=dict)  # id -> name


class RailwayState:
    """What the stand-in knows; tests arrange and inspect it directly."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.projects: dict[str, Project] = {}
        # (env, service); service None: the environment's shared variables
        self.variables: dict[tuple[str, str | None], dict[str, str]] = {}
        self.sealed: set[tuple[str, str, str]] = set()  # (env, service, name)
        self.instances: dict[tuple[str, str], dict[str, Any]] = {}
        self.redeploys: Counter[tuple[str, str]] = Counter()
        self.auto_deploys: Counter[tuple[str, str]] = Counter()  # upserts without skipDeploys
        self.account_tokens: set[str] = set()
        self.project_tokens: dict[str, tuple[str, str]] = {}  # token -> (project, env)
        self._ids = 0

    def new_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}-{self._ids:04d}"

    def add_project(self, name: str, environments: list[str]) -> Project:
        project = Project(self.new_id("prj"), name)
        for env in environments:
            env_id = self.new_id("env")
            project.environments[env_id] = env
            self.variables[(env_id, None)] = {}
        self.projects[project.id] = project
        return project

    def add_service(
        self, project: Project, name: str, variables: dict[str, str] | None = None
    ) -> str:
        service_id = self.new_id("svc")
        project.services[service_id] = name
        for env_id in project.environments:
            self.variables[(env_id, service_id)] = dict(variables or {})
            self.instances[(env_id, service_id)] = {
                "id": self.new_id("si"),
                "startCommand": None,
                "source": None,
                "domains": [],
            }
        return service_id

    def env_id(self, project: Project, name: str) -> str:
        return next(i for i, n in project.environments.items() if n == name)

    def service_id(self, project: Project, name: str) -> str:
        return next(i for i, n in project.services.items() if n == name)

    def vars_of(self, project: Project, env: str, service: str) -> dict[str, str]:
        return self.variables[(self.env_id(project, env), self.service_id(project, service))]

    def shared_of(self, project: Project, env: str) -> dict[str, str]:
        return self.variables.setdefault((self.env_id(project, env), None), {})

    def project_of_service(self, service_id: str) -> Project:
        for project in self.projects.values():
            if service_id in project.services:
                return project
        raise graphql.GraphQLError("Service not found")

    def render(self, env_id: str, service_id: str, value: str) -> str:
        """Resolve ${{Service.VAR}} and ${{VAR}} as Railway does when not unrendered."""
        project = self.project_of_service(service_id)

        def lookup(match: re.Match[str]) -> str:
            ref = match.group(1)
            owner, _, name = ref.rpartition(".")
            target: str | None = service_id
            if owner == "shared":
                target = None
            elif owner:
                found = [i for i, n in project.services.items() if n == owner]
                if not found:
                    return ""
                target = found[0]
            if target is not None and name == "RAILWAY_PRIVATE_DOMAIN":
                return f"{project.services[target]}.railway.internal"
            if target is not None and name == "RAILWAY_PUBLIC_DOMAIN":
                domains = self.instances[(env_id, target)]["domains"]
                return domains[0] if domains else ""
            return self.variables.get((env_id, target), {}).get(name, "")

        return _REFERENCE.sub(lookup, value)


class _Denied(graphql.GraphQLError):
    pass


@dataclass(frozen=True)
class _Auth:
    project_id: str | None = None  # set for project tokens
    environment_id: str | None = None
    account: bool = False


@dataclass(frozen=True)
class _Context:
    standin: RailwayStandIn
    auth: _Auth | None


# GraphQL root field -> RailwayStandIn method
_RESOLVERS = {
    "projectToken": "_project_token",
    "project": "_project_query",
    "variables": "_variables",
    "serviceInstance": "_service_instance",
    "variableCollectionUpsert": "_upsert",
    "variableUpsert": "_variable_upsert",
    "variableDelete": "_delete",
    "serviceInstanceRedeploy": "_redeploy",
    "serviceCreate": "_service_create",
    "serviceInstanceUpdate": "_service_instance_update",
    "serviceDomainCreate": "_domain_create",
}


class RailwayStandIn:
    """``with RailwayStandIn() as api:`` serves on ``api.url`` until the block ends."""

    def __init__(self, state: RailwayState | None = None, schema_path: Path | None = None) -> None:
        self.state = state or RailwayState()
        self.schema = load_schema(schema_path or default_schema_path())
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self.refusals: list[Refusal] = []
        # Limits a real server may enforce: root fields per document (refused as too
        # complex, nothing executed) and request body size (HTTP 413).
        self.max_root_fields: int | None = None
        self.max_body_bytes: int | None = None
        # How the refusal reads, as servers word it: "plain" (no path), "field" (the
        # first field's path with extensions.code COMPLEXITY), "http-400" (a 400 with
        # "Query too complex").
        self.too_complex_style = "plain"
        self.rate_limit = 1000  # X-RateLimit-Limit; Remaining counts down per request
        self._server: ThreadingHTTPServer | None = None
        # Set on exit: a request held by a `delay` fault is let go then, not left asleep.
        self._closing = threading.Event()

    # -- lifecycle -------------------------------------------------------------------
    def __enter__(self) -> RailwayStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length", "0"))
                reply = standin.handle(dict(self.headers), self.rfile.read(length))
                if reply.drop:
                    self.close_connection = True
                    return
                head = [f"HTTP/1.1 {reply.status} X\r\n"]
                head += [f"{k}: {v}\r\n" for k, v in reply.headers.items()]
                head.append(f"Content-Length: {len(reply.body)}\r\n")
                head.append("Connection: close\r\n\r\n")  # one request per connection
                data = "".join(head).encode("latin-1") + reply.body
                try:
                    if reply.drip:
                        for i in range(len(data)):
                            self.wfile.write(data[i : i + 1])
                            self.wfile.flush()
                            time.sleep(reply.drip)
                    else:
                        self.wfile.write(data)
                except OSError:  # the client gave up
                    pass
                self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/graphql/v2"

    # -- what tests inspect ----------------------------------------------------------
    def mutations(self) -> list[Recorded]:
        return [r for r in self.requests if r.kind == "mutation"]

    def mutation_fields(self) -> list[str]:
        return [f for r in self.mutations() for f in r.fields]

    def refuse(
        self,
        field: str,
        message: str,
        when: Callable[[dict[str, Any]], bool] = lambda args: True,
        times: int = 1,
    ) -> Refusal:
        refusal = Refusal(field, message, when, times)
        self.refusals.append(refusal)
        return refusal

    def refusal(self, field: str, args: dict[str, Any]) -> None:
        """Raise the GraphQL error of the first matching refusal, if any."""
        with self.state.lock:
            for refusal in self.refusals:
                if refusal.times > 0 and refusal.field == field and refusal.when(args):
                    refusal.times -= 1
                    raise graphql.GraphQLError(refusal.message)

    def fail(self, kind: str, **options: Any) -> Fault:
        fault = Fault(kind, **options)
        self.faults.append(fault)
        return fault

    # -- request handling ------------------------------------------------------------
    def requests_for(self, operation: str) -> list[Recorded]:
        return [r for r in self.requests if r.operation == operation]

    def handle(self, headers: dict[str, str], raw: bytes) -> Reply:
        json_type = {"Content-Type": "application/json"}
        try:
            payload = json.loads(raw or b"{}")
        except ValueError:
            return Reply(400, json_type, b'{"errors":[{"message":"bad JSON"}]}')
        record = self._record(headers, payload)
        limits = self._limit_headers()
        fault = self._take_fault(record)
        if fault is not None and fault.kind == "delay":
            self._closing.wait(fault.delay)
            fault = None
        if fault is not None and fault.kind not in ("drip", "drop"):
            reply = self._fault_response(fault, headers, raw)
            reply.headers = {**limits, **reply.headers}
            return reply
        if self.max_body_bytes is not None and len(raw) > self.max_body_bytes:
            return Reply(413, {**limits, "Content-Type": "text/plain"}, b"Payload Too Large")
        if self.max_root_fields is not None and len(record.fields) > self.max_root_fields:
            return self._too_complex(record, limits)
        result = graphql.graphql_sync(
            self.schema,
            record.query,
            variable_values=record.variables,
            operation_name=record.operation,
            context_value=_Context(self, self._auth(headers)),
        )
        body_data: dict[str, Any] = {"data": result.data}
        if result.errors:
            body_data["errors"] = [
                {"message": e.message, **({"path": e.path} if e.path else {})}
                for e in result.errors
            ]
        reply = Reply(200, {**limits, **json_type}, json.dumps(body_data).encode())
        if fault is not None and fault.kind == "drop":
            reply.drop = True
        if fault is not None and fault.kind == "drip":
            reply.drip = fault.delay
        return reply

    def _too_complex(self, record: Recorded, limits: dict[str, str]) -> Reply:
        json_type = {**limits, "Content-Type": "application/json"}
        message = (
            f"Query complexity of {len(record.fields)} exceeds the maximum allowed "
            f"complexity of {self.max_root_fields}"
        )
        error: dict[str, Any] = {"message": message}
        status = 200
        if self.too_complex_style == "field":
            first = graphql.parse(record.query).definitions[0]
            assert isinstance(first, graphql.OperationDefinitionNode)
            field = first.selection_set.selections[0]
            assert isinstance(field, graphql.FieldNode)
            alias = field.alias.value if field.alias else field.name.value
            error.update(path=[alias], extensions={"code": "COMPLEXITY"})
        elif self.too_complex_style == "http-400":
            status = 400
            error = {"message": "Query too complex", "extensions": {"code": "INPUT_ERROR"}}
        return Reply(status, json_type, json.dumps({"errors": [error]}).encode())

    def _limit_headers(self) -> dict[str, str]:
        remaining = max(self.rate_limit - len(self.requests), 0)
        return {"X-RateLimit-Limit": str(self.rate_limit), "X-RateLimit-Remaining": str(remaining)}

    def _record(self, headers: dict[str, str], payload: dict[str, Any]) -> Recorded:
        query = str(payload.get("query", ""))
        kind = ""
        fields: tuple[str, ...] = ()
        try:
            document = graphql.parse(query)
            ops = [
                d for d in document.definitions if isinstance(d, graphql.OperationDefinitionNode)
            ]
            if ops:
                kind = ops[0].operation.value
                fields = tuple(
                    s.name.value
                    for s in ops[0].selection_set.selections
                    if isinstance(s, graphql.FieldNode)
                )
        except graphql.GraphQLError:
            pass
        record = Recorded(
            headers={k.lower(): v for k, v in headers.items()},
            operation=payload.get("operationName"),
            query=query,
            variables=dict(payload.get("variables") or {}),
            kind=kind,
            fields=fields,
        )
        with self.state.lock:
            self.requests.append(record)
        return record

    def _take_fault(self, record: Recorded) -> Fault | None:
        with self.state.lock:
            for fault in self.faults:
                if fault.times <= 0:
                    continue
                if fault.operation and fault.operation != record.operation:
                    continue
                if fault.when and not fault.when(record):
                    continue
                fault.times -= 1
                return fault
        return None

    def _fault_response(self, fault: Fault, headers: dict[str, str], raw: bytes) -> Reply:
        json_type = {"Content-Type": "application/json"}
        if fault.kind == "rate_limit":
            limited = {
                **json_type,
                "Retry-After": str(fault.retry_after),
                "X-RateLimit-Limit": str(self.rate_limit),
                "X-RateLimit-Remaining": "0",
            }
            return Reply(429, limited, b'{"message":"Too many requests"}')
        if fault.kind == "server_error":
            return Reply(500, json_type, b'{"message":"Internal Server Error"}')
        if fault.kind == "html":
            page = b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>"
            return Reply(200, {"Content-Type": "text/html"}, page)
        if fault.kind == "status":
            return Reply(fault.status, {"Content-Type": fault.content_type}, fault.body)
        if fault.kind == "raw":
            raw_headers = {"Content-Type": fault.content_type}
            if fault.encoding:
                raw_headers["Content-Encoding"] = fault.encoding
            return Reply(200, raw_headers, fault.body)
        if fault.kind == "gzip_bomb":
            bomb = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
            return Reply(200, bomb, _gzip_bomb(fault.size))
        if fault.kind == "echo":
            # As servers that quote the offending request in their error do.
            quoted = json.dumps(headers) + " " + raw.decode("utf-8", "replace")
            message = f"{fault.message}: {quoted}"
            return Reply(200, json_type, json.dumps({"errors": [{"message": message}]}).encode())
        message = "Not Authorized" if fault.kind == "not_authorized" else fault.message
        body = {"data": None, "errors": [{"message": message}]}
        return Reply(200, json_type, json.dumps(body).encode())

    # -- authentication --------------------------------------------------------------
    def _auth(self, headers: dict[str, str]) -> _Auth | None:
        lowered = {k.lower(): v for k, v in headers.items()}
        project_token = lowered.get("project-access-token")
        if project_token is not None:
            scope = self.state.project_tokens.get(project_token)
            return _Auth(scope[0], scope[1]) if scope else None
        bearer = lowered.get("authorization", "")
        if bearer.startswith("Bearer ") and bearer[7:] in self.state.account_tokens:
            return _Auth(account=True)
        return None

    def _project(self, info: graphql.GraphQLResolveInfo, project_id: str) -> Project:
        auth: _Auth | None = info.context.auth
        if auth is None:
            raise _Denied("Not Authorized")
        if not auth.account and auth.project_id != project_id:
            raise _Denied("Not Authorized")
        project = self.state.projects.get(project_id)
        if project is None:
            raise graphql.GraphQLError("Project not found")
        return project

    def _instance_scope(
        self, info: graphql.GraphQLResolveInfo, environment_id: str | None, service_id: str
    ) -> tuple[Project, str]:
        project = self.state.project_of_service(service_id)
        self._project(info, project.id)
        auth: _Auth = info.context.auth
        env = environment_id or next(iter(project.environments))
        if env not in project.environments:
            raise graphql.GraphQLError("Environment not found")
        if auth.environment_id and auth.environment_id != env:
            raise _Denied("Not Authorized")
        return project, env

    # -- resolvers -------------------------------------------------------------------
    def _project_token(self, _: Any, info: graphql.GraphQLResolveInfo) -> dict[str, Any]:
        auth: _Auth | None = info.context.auth
        if auth is None or auth.project_id is None:
            raise _Denied("Project Token not found")
        return {
            "id": "tok",
            "name": "ci",
            "projectId": auth.project_id,
            "environmentId": auth.environment_id,
            "project": self._project_query(None, info, auth.project_id),
        }

    def _project_query(self, _: Any, info: graphql.GraphQLResolveInfo, id: str) -> dict[str, Any]:
        project = self._project(info, id)

        def connection(items: dict[str, str]) -> dict[str, Any]:
            return {
                "edges": [
                    {"cursor": i, "node": {"id": i, "name": n, "projectId": project.id}}
                    for i, n in items.items()
                ]
            }

        with self.state.lock:
            return {
                "id": project.id,
                "name": project.name,
                "services": connection(project.services),
                "environments": connection(project.environments),
            }

    def _variables(
        self,
        _: Any,
        info: graphql.GraphQLResolveInfo,
        projectId: str,  # noqa: N803 (GraphQL argument names)
        environmentId: str,  # noqa: N803
        serviceId: str | None = None,  # noqa: N803
        unrendered: bool | None = None,
    ) -> dict[str, str | None]:
        project = self._project(info, projectId)
        if serviceId is None:
            self._environment_scope(info, project, environmentId)
            with self.state.lock:
                shared = dict(self.state.variables.get((environmentId, None), {}))
            return {
                name: None if (environmentId, None, name) in self.state.sealed else value
                for name, value in shared.items()
            }
        self._instance_scope(info, environmentId, serviceId)
        with self.state.lock:
            project = self.state.project_of_service(serviceId)
            # Railway lists the variables it provides itself alongside the service's own.
            result: dict[str, str | None] = {
                "RAILWAY_SERVICE_NAME": project.services[serviceId],
                "RAILWAY_ENVIRONMENT_NAME": project.environments[environmentId],
                "RAILWAY_PRIVATE_DOMAIN": f"{project.services[serviceId]}.railway.internal",
            }
            values = dict(self.state.variables.get((environmentId, serviceId), {}))
            for name, value in values.items():
                if (environmentId, serviceId, name) in self.state.sealed:
                    result[name] = None
                else:
                    result[name] = (
                        value if unrendered else self.state.render(environmentId, serviceId, value)
                    )
            return result

    def _environment_scope(
        self, info: graphql.GraphQLResolveInfo, project: Project, environment_id: str
    ) -> None:
        if environment_id not in project.environments:
            raise graphql.GraphQLError("Environment not found")
        auth: _Auth = info.context.auth
        if auth.environment_id and auth.environment_id != environment_id:
            raise _Denied("Not Authorized")

    def _variable_scope(
        self, info: graphql.GraphQLResolveInfo, input: dict[str, Any]
    ) -> tuple[str, str | None]:
        """(environment, service) of a variable mutation's input, after the access checks;
        without a service, the environment's shared variables."""
        project = self._project(info, input["projectId"])
        service_id = input.get("serviceId")
        if service_id is None:
            self._environment_scope(info, project, input["environmentId"])
            return input["environmentId"], None
        _, env = self._instance_scope(info, input["environmentId"], service_id)
        return env, service_id

    def _upsert(self, _: Any, info: graphql.GraphQLResolveInfo, input: dict[str, Any]) -> bool:
        env, service_id = self._variable_scope(info, input)
        with self.state.lock:
            current = self.state.variables.setdefault((env, service_id), {})
            if input.get("replace"):
                current.clear()
            current.update({str(k): str(v) for k, v in dict(input["variables"]).items()})
            if not input.get("skipDeploys"):
                # Railway would deploy the service (shared: every service using them).
                self.state.auto_deploys[(env, service_id or "shared")] += 1
        return True

    def _variable_upsert(
        self, source: Any, info: graphql.GraphQLResolveInfo, input: dict[str, Any]
    ) -> bool:
        """The single-variable write: the collection upsert with one variable."""
        collection = {k: v for k, v in input.items() if k not in ("name", "value")}
        collection["variables"] = {input["name"]: input["value"]}
        return self._upsert(source, info, collection)

    def _delete(self, _: Any, info: graphql.GraphQLResolveInfo, input: dict[str, Any]) -> bool:
        env, service_id = self._variable_scope(info, input)
        with self.state.lock:
            variables = self.state.variables.get((env, service_id), {})
            if input["name"] not in variables:
                raise graphql.GraphQLError(f"Variable {input['name']} not found")
            del variables[input["name"]]
        return True

    def _redeploy(
        self,
        _: Any,
        info: graphql.GraphQLResolveInfo,
        environmentId: str,  # noqa: N803
        serviceId: str,  # noqa: N803
    ) -> bool:
        _, env = self._instance_scope(info, environmentId, serviceId)
        with self.state.lock:
            self.state.redeploys[(env, serviceId)] += 1
        return True

    def _service_create(
        self, _: Any, info: graphql.GraphQLResolveInfo, input: dict[str, Any]
    ) -> dict[str, Any]:
        project = self._project(info, input["projectId"])
        with self.state.lock:
            name = input.get("name") or "service"
            if name in project.services.values():
                raise graphql.GraphQLError(f"Service {name} already exists")
            service_id = self.state.add_service(project, name)
            envs = (
                [input["environmentId"]]
                if input.get("environmentId")
                else list(project.environments)
            )
            for env in envs:
                self.state.variables[(env, service_id)].update(dict(input.get("variables") or {}))
                self.state.instances[(env, service_id)]["source"] = (
                    dict(input.get("source") or {}) or None
                )
            return {"id": service_id, "name": name, "projectId": project.id}

    def _service_instance_update(
        self,
        _: Any,
        info: graphql.GraphQLResolveInfo,
        serviceId: str,  # noqa: N803
        input: dict[str, Any],
        environmentId: str | None = None,  # noqa: N803
    ) -> bool:
        _, env = self._instance_scope(info, environmentId, serviceId)
        with self.state.lock:
            self.state.instances[(env, serviceId)].update(input)
        return True

    def _service_instance(
        self,
        _: Any,
        info: graphql.GraphQLResolveInfo,
        environmentId: str,  # noqa: N803
        serviceId: str,  # noqa: N803
    ) -> dict[str, Any]:
        project, env = self._instance_scope(info, environmentId, serviceId)
        with self.state.lock:
            instance = dict(self.state.instances[(env, serviceId)])
        return {
            **instance,
            "environmentId": env,
            "serviceId": serviceId,
            "serviceName": project.services[serviceId],
            "domains": {
                "serviceDomains": [
                    {"id": d, "domain": d, "environmentId": env, "serviceId": serviceId}
                    for d in instance["domains"]
                ]
            },
        }

    def _domain_create(
        self, _: Any, info: graphql.GraphQLResolveInfo, input: dict[str, Any]
    ) -> dict[str, Any]:
        project, env = self._instance_scope(info, input["environmentId"], input["serviceId"])
        domain = (
            f"{project.services[input['serviceId']]}-{project.environments[env]}.up.railway.app"
        )
        with self.state.lock:
            self.state.instances[(env, input["serviceId"])]["domains"].append(domain)
        return {
            "id": domain,
            "domain": domain,
            "environmentId": env,
            "serviceId": input["serviceId"],
            "targetPort": input.get("targetPort"),
        }
