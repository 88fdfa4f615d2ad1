"""Compose's names and labels, so `docker compose` sees our stacks as its own."""

from __future__ import annotations

import hashlib
import json

from vpmigrate.compose.model import Project, Service
from vpmigrate.engine import hostconfig

PROJECT = "com.docker.compose.project"
SERVICE = "com.docker.compose.service"
NUMBER = "com.docker.compose.container-number"
ONEOFF = "com.docker.compose.oneoff"
CONFIG_HASH = "com.docker.compose.config-hash"
WORKING_DIR = "com.docker.compose.project.working_dir"
CONFIG_FILES = "com.docker.compose.project.config_files"
DEPENDS_ON = "com.docker.compose.depends_on"
IMAGE = "com.docker.compose.image"
VERSION = "com.docker.compose.version"
NETWORK = "com.docker.compose.network"
VOLUME = "com.docker.compose.volume"
# Compose v2 refuses nothing based on this value; it records which tool made the resource.
TOOL_VERSION = "2.27.0"


def container_name(project: Project, service: Service, number: int = 1) -> str:
    """Compose's name for the service's container `number`: `<project>-<service>-<n>`,
    unless `container_name` (which allows one container only)."""
    return service.container_name or f"{project.name}-{service.name}-{number}"


def config_hash(project: Project, service: Service) -> str:
    """A digest of everything in the service definition that shapes its container. How
    many containers run (`scale`, `deploy.replicas`) does not shape one, so scaling
    recreates nothing, as with Compose.

    Beyond Compose (2.27 leaves the container as it is), the content of the secrets and
    configs it uses is in it too, as digests: a changed secret gives a new container
    that holds it. (Compose bind-mounts a `file:` source, so a file rewritten in place
    shows through, but a file replaced by an editor or a changed `environment:` source,
    copied in at creation, does not.)"""
    config = {key: value for key, value in service.config.items() if key != "scale"}
    deploy = config.get("deploy")
    if isinstance(deploy, dict):
        deploy = {key: value for key, value in deploy.items() if key != "replicas"}
        if deploy:
            config["deploy"] = deploy
        else:
            del config["deploy"]
    contents = hostconfig.content_digests(project, service)
    if contents:  # a service without secrets or configs keeps the hash it had
        config["secrets and configs content"] = contents
    payload = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def depends_on_label(service: Service) -> str:
    return ",".join(
        f"{d.service}:{d.condition}:{str(d.restart).lower()}" for d in service.depends_on
    )


def container_labels(
    project: Project, service: Service, image_id: str, number: int = 1
) -> dict[str, str]:
    labels = dict(service.labels)
    labels.update(
        {
            PROJECT: project.name,
            SERVICE: service.name,
            NUMBER: str(number),
            ONEOFF: "False",
            CONFIG_HASH: config_hash(project, service),
            WORKING_DIR: str(project.working_dir),
            CONFIG_FILES: ",".join(str(f) for f in project.config_files),
            DEPENDS_ON: depends_on_label(service),
            IMAGE: image_id,
            VERSION: TOOL_VERSION,
        }
    )
    return labels


def project_filter(project_name: str, service: str | None = None) -> dict[str, list[str]]:
    """A `filters=` argument selecting the project's (non one-off) containers."""
    labels = [f"{PROJECT}={project_name}", f"{ONEOFF}=False"]
    if service is not None:
        labels.append(f"{SERVICE}={service}")
    return {"label": labels}
