"""The reference for the sync benchmark: one `variableUpsert` per variable, as the first
community Terraform provider did. Run as `python -m bench.per_variable DESIRED.json`
with RAILWAY_API_URL, RAILWAY_API_TOKEN and RAILWAY_PROJECT_ID set; DESIRED.json is
{"environment": name, "services": {service: {variable: value}}}.

It looks the IDs up once, then writes every variable, whether it changed or not
(it keeps no state to compare with), each write triggering a deploy as Railway's
default does.
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


def main(argv: list[str]) -> int:
    import httpx

    desired = json.loads(Path(argv[0]).read_text())
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
        environment_id = environments[desired["environment"]]
        for service, variables in desired["services"].items():
            for name, value in variables.items():
                call(
                    VARIABLE_UPSERT,
                    {
                        "input": {
                            "projectId": project_id,
                            "environmentId": environment_id,
                            "serviceId": services[service],
                            "name": name,
                            "value": value,
                        }
                    },
                )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
