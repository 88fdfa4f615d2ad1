"""The references for the sync benchmark, run as
`python -m bench.per_variable [--per-service] DESIRED.json` with RAILWAY_API_URL,
RAILWAY_API_TOKEN and RAILWAY_PROJECT_ID set; DESIRED.json is
{"environment": name, "services": {service: {variable: value}}}.

Default, per variable: one `variableUpsert` per variable, as the first community
Terraform provider did. It looks the IDs up once, then writes every variable,
whether it changed or not (it keeps no state to compare with), each write
triggering a deploy as Railway's default does.

`--per-service`: how `inv railway.sync-env` worked before it batched its requests
(kept here, not in the product, for the comparison): read the project, read each
service's variables (unrendered), then per changed service one
`variableCollectionUpsert` (skipDeploys) and one redeploy, then read each written
service back to verify.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

PROJECT = """
query Project($id: String!) {
  project(id: $id) {
    services { edges { node { id name } } }
    environments { edges { node { id name } } }
  }
}
"""
VARIABLE_UPSERT = """
mutation VariableUpsert($input: VariableUpsertInput!) {
  variableUpsert(input: $input)
}
"""
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
SERVICE_INSTANCE_REDEPLOY = """
mutation ServiceInstanceRedeploy($environmentId: String!, $serviceId: String!) {
  serviceInstanceRedeploy(environmentId: $environmentId, serviceId: $serviceId)
}
"""
# Every document either reference sends (the benchmark's test validates them).
DOCUMENTS = {
    "Project": PROJECT,
    "VariableUpsert": VARIABLE_UPSERT,
    "Variables": VARIABLES,
    "VariableCollectionUpsert": VARIABLE_COLLECTION_UPSERT,
    "ServiceInstanceRedeploy": SERVICE_INSTANCE_REDEPLOY,
}


def main(argv: list[str]) -> int:
    import httpx

    per_service = "--per-service" in argv
    paths = [a for a in argv if not a.startswith("--")]
    desired = json.loads(Path(paths[0]).read_text())
    project_id = os.environ["RAILWAY_PROJECT_ID"]
    headers = {"Authorization": f"Bearer {os.environ['RAILWAY_API_TOKEN']}"}
    url = os.environ["RAILWAY_API_URL"]
    with httpx.Client(headers=headers) as client:

        def call(query: str, variables: dict[str, Any]) -> dict[str, Any]:
            response = client.post(url, json={"query": query, "variables": variables})
            response.raise_for_status()
            body = response.json()
            if body.get("errors"):
                raise RuntimeError(body["errors"][0]["message"])
            return dict(body["data"])

        project = call(PROJECT, {"id": project_id})["project"]
        services = {e["node"]["name"]: e["node"]["id"] for e in project["services"]["edges"]}
        environments = {
            e["node"]["name"]: e["node"]["id"] for e in project["environments"]["edges"]
        }
        ids = {"projectId": project_id, "environmentId": environments[desired["environment"]]}
        if per_service:
            _per_service(call, ids, services, desired["services"])
        else:
            _per_variable(call, ids, services, desired["services"])
    return 0


def _per_variable(
    call: Any, ids: dict[str, str], services: dict[str, str], wanted: dict[str, dict[str, str]]
) -> None:
    for service, variables in wanted.items():
        for name, value in variables.items():
            call(
                VARIABLE_UPSERT,
                {"input": {**ids, "serviceId": services[service], "name": name, "value": value}},
            )


def _per_service(
    call: Any, ids: dict[str, str], services: dict[str, str], wanted: dict[str, dict[str, str]]
) -> None:
    def read(service: str) -> dict[str, Any]:
        return dict(call(VARIABLES, {**ids, "serviceId": services[service]})["variables"] or {})

    current = {service: read(service) for service in wanted}
    changed = {
        service: {k: v for k, v in variables.items() if current[service].get(k) != v}
        for service, variables in wanted.items()
    }
    written = [service for service, values in changed.items() if values]
    for service in written:
        payload = {**ids, "serviceId": services[service], "variables": changed[service]}
        call(VARIABLE_COLLECTION_UPSERT, {"input": {**payload, "skipDeploys": True}})
        call(
            SERVICE_INSTANCE_REDEPLOY,
            {"environmentId": ids["environmentId"], "serviceId": services[service]},
        )
    for service in written:
        now = read(service)
        if any(now.get(k) != v for k, v in changed[service].items()):
            raise RuntimeError(f"verification failed on {service}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
