"""The Railway operations the tasks need, typed, and the GraphQL documents behind them.

Every document here is checked against Railway's published schema by the
contract test (tests/railway/test_contract.py); `DOCUMENTS` lists them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol

from vpmigrate.errors import UserError
from vpmigrate.railway.transport import GraphQLTransport

PROJECT_TOKEN = """
query ProjectToken {
  projectToken { projectId environmentId }
}
"""

PROJECT = """
query Project($id: String!) {
  project(id: $id) {
    id
    name
    services { edges { node { id name } } }
    environments { edges { node { id name } } }
  }
}
"""

# unrendered: true keeps ${{...}} references as written; without it Railway
# returns them resolved, and writing those back would destroy the references.
VARIABLES = """
query Variables($projectId: String!, $environmentId: String!, $serviceId: String!) {
  variables(
    projectId: $projectId
    environmentId: $environmentId
    serviceId: $serviceId
    unrendered: true
  )
}
"""

VARIABLE_COLLECTION_UPSERT = """
mutation VariableCollectionUpsert($input: VariableCollectionUpsertInput!) {
  variableCollectionUpsert(input: $input)
}
"""

VARIABLE_DELETE = """
mutation VariableDelete($input: VariableDeleteInput!) {
  variableDelete(input: $input)
}
"""

SERVICE_INSTANCE_REDEPLOY = """
mutation ServiceInstanceRedeploy($environmentId: String!, $serviceId: String!) {
  serviceInstanceRedeploy(environmentId: $environmentId, serviceId: $serviceId)
}
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
        "Variables": VARIABLES,
        "VariableCollectionUpsert": VARIABLE_COLLECTION_UPSERT,
        "VariableDelete": VARIABLE_DELETE,
        "ServiceInstanceRedeploy": SERVICE_INSTANCE_REDEPLOY,
        "ServiceCreate": SERVICE_CREATE,
        "ServiceInstanceUpdate": SERVICE_INSTANCE_UPDATE,
        "ServiceInstance": SERVICE_INSTANCE,
        "ServiceDomainCreate": SERVICE_DOMAIN_CREATE,
    }
)

# Variables as Railway returns them: a sealed variable reads back as None.
Variables = Mapping[str, "str | None"]


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


class RailwayBackend(Protocol):
    """The Railway operations the tasks use; GraphQLRailway is the real one."""

    def token_scope(self) -> TokenScope: ...

    def project(self, project_id: str) -> ProjectInfo: ...

    def variables(self, project_id: str, environment_id: str, service_id: str) -> Variables: ...

    def upsert_variables(
        self, project_id: str, environment_id: str, service_id: str, values: Mapping[str, str]
    ) -> None: ...

    def delete_variable(
        self, project_id: str, environment_id: str, service_id: str, name: str
    ) -> None: ...

    def redeploy(self, environment_id: str, service_id: str) -> None: ...

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


def _by_name(connection: Any, what: str) -> dict[str, str]:
    try:
        return {edge["node"]["name"]: edge["node"]["id"] for edge in connection["edges"]}
    except (KeyError, TypeError):
        raise UserError(f"Railway's answer about {what} has an unexpected shape.") from None


class GraphQLRailway:
    """RailwayBackend over Railway's public GraphQL API."""

    def __init__(self, transport: GraphQLTransport) -> None:
        self.transport = transport

    def _run(self, operation: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        return self.transport.execute(operation, DOCUMENTS[operation], variables)

    def token_scope(self) -> TokenScope:
        scope = self._run("ProjectToken", {})["projectToken"]
        return TokenScope(scope["projectId"], scope["environmentId"])

    def project(self, project_id: str) -> ProjectInfo:
        project = self._run("Project", {"id": project_id})["project"]
        return ProjectInfo(
            id=project["id"],
            name=project["name"],
            services=MappingProxyType(_by_name(project["services"], "services")),
            environments=MappingProxyType(_by_name(project["environments"], "environments")),
        )

    def variables(self, project_id: str, environment_id: str, service_id: str) -> Variables:
        ids = {"projectId": project_id, "environmentId": environment_id, "serviceId": service_id}
        values = self._run("Variables", ids)["variables"] or {}
        if not isinstance(values, dict):
            raise UserError("Railway's answer about variables is not a name-to-value map.")
        return MappingProxyType(
            {str(k): (None if v is None else str(v)) for k, v in values.items()}
        )

    def upsert_variables(
        self, project_id: str, environment_id: str, service_id: str, values: Mapping[str, str]
    ) -> None:
        # Never replace: true, which deletes every variable not listed.
        self._run(
            "VariableCollectionUpsert",
            {
                "input": {
                    "projectId": project_id,
                    "environmentId": environment_id,
                    "serviceId": service_id,
                    "variables": dict(values),
                    "skipDeploys": True,
                }
            },
        )

    def delete_variable(
        self, project_id: str, environment_id: str, service_id: str, name: str
    ) -> None:
        self._run(
            "VariableDelete",
            {
                "input": {
                    "projectId": project_id,
                    "environmentId": environment_id,
                    "serviceId": service_id,
                    "name": name,
                }
            },
        )

    def redeploy(self, environment_id: str, service_id: str) -> None:
        self._run(
            "ServiceInstanceRedeploy", {"environmentId": environment_id, "serviceId": service_id}
        )

    def create_service(
        self,
        project_id: str,
        environment_id: str,
        name: str,
        source: Mapping[str, str],
        variables: Mapping[str, str],
    ) -> str:
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
        )["serviceCreate"]
        return str(created["id"])

    def update_service_instance(
        self, environment_id: str, service_id: str, settings: Mapping[str, Any]
    ) -> None:
        self._run(
            "ServiceInstanceUpdate",
            {"serviceId": service_id, "environmentId": environment_id, "input": dict(settings)},
        )

    def service_instance(self, environment_id: str, service_id: str) -> ServiceInstanceInfo:
        node = self._run(
            "ServiceInstance", {"environmentId": environment_id, "serviceId": service_id}
        )["serviceInstance"]
        source = node.get("source") or {}
        domains = (node.get("domains") or {}).get("serviceDomains") or []
        return ServiceInstanceInfo(
            start_command=node.get("startCommand"),
            image=source.get("image"),
            repo=source.get("repo"),
            domains=tuple(d["domain"] for d in domains),
        )

    def create_domain(self, environment_id: str, service_id: str, port: int) -> str:
        domain = self._run(
            "ServiceDomainCreate",
            {
                "input": {
                    "environmentId": environment_id,
                    "serviceId": service_id,
                    "targetPort": port,
                }
            },
        )["serviceDomainCreate"]
        return str(domain["domain"])
