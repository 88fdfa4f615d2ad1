"""The secret values of a compose project, for the mask laid over every output.

A value is secret when it is held by a variable whose name looks secret (the
interpolation environment, a service's environment — `env_file` entries included —,
its build args, its labels), when it is a URL's password anywhere in those, or when it is the
content of a top-level secret or config (`content:`, or the variable an
`environment:` source names). Values that name the project's own objects (a service
called `postgres` with `POSTGRES_PASSWORD=postgres`) are left out: they are printed as
names everywhere, and masking them would garble every table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from vpmigrate.compose.model import Project
from vpmigrate.masking import is_secret_name, url_passwords


def project_secrets(project: Project) -> set[str]:
    """Every secret value `project` holds (see the module docstring)."""
    found: set[str] = set()
    found.update(_of(project.environment))
    for service in project.services.values():
        found.update(_of(service.environment))
        found.update(_of(service.labels))
        if service.build is not None:
            found.update(_of(service.build.args))
    for definitions in (project.secrets, project.configs):
        for definition in definitions.values():
            if definition.content:
                found.add(definition.content)
            if definition.environment:
                found.add(project.environment.get(definition.environment) or "")
    public = {project.name, *project.services, *project.networks, *project.volumes}
    return {value for value in found if value and value not in public}


def _of(variables: Mapping[str, str | None]) -> Iterable[str]:
    for name, value in variables.items():
        if not value:
            continue
        if is_secret_name(name):
            yield value
        yield from url_passwords(value)
