"""`network_mode: service:X`, `volumes_from` and `links` on the real engine, next to
Docker Compose v2 doing the same: what the containers receive, and what happens to them
when X gets a new container."""

from __future__ import annotations

from typing import Any

from devkit import dockerkit
from tests.engine.conftest import Stack

IDLE = dockerkit.IDLE_COMMAND

# `web` serves on 127.0.0.1:8080 inside its network namespace; `sidecar` shares it and
# fetches from there. `reader` mounts web's anonymous volume read-only and reaches web
# under the link alias `site`. (Cases: docker/compose's e2e fixtures and
# awesome-compose use network_mode service: and volumes_from; written for this suite.)
REFERENCES = f"""
services:
  web:
    image: IMAGE
    command: ["sh", "-c", 'echo hello > /www/index.html; httpd -p 127.0.0.1:8080 -h /www; {IDLE}']
    volumes: ["/www"]
    environment:
      VERSION: "${{VERSION:-1}}"
  sidecar:
    image: IMAGE
    network_mode: "service:web"
    command: ["sh", "-c", '{IDLE}']
  reader:
    image: IMAGE
    volumes_from: ["web:ro"]
    links: ["web:site"]
    command: ["sh", "-c", '{IDLE}']
"""


def by_service(client: Any, project: str) -> dict[str, dict[str, Any]]:
    found = client.api.containers(
        all=True, filters={"label": f"com.docker.compose.project={project}"}
    )
    result = {}
    for summary in found:
        attrs = client.api.inspect_container(summary["Id"])
        result[attrs["Config"]["Labels"]["com.docker.compose.service"]] = attrs
    return result


def references(containers: dict[str, dict[str, Any]], project: str) -> dict[str, Any]:
    """What the engine holds, with IDs and the project name replaced by service names."""
    ids = {attrs["Id"]: name for name, attrs in containers.items()}
    reader = containers["reader"]
    network = next(iter(reader["NetworkSettings"]["Networks"].values()))
    return {
        "sidecar network": containers["sidecar"]["HostConfig"]["NetworkMode"].replace(
            containers["web"]["Id"], "<web>"
        ),
        "reader volumes_from": [
            ids.get(entry.partition(":")[0], entry) for entry in reader["HostConfig"]["VolumesFrom"]
        ],
        "reader links": sorted(set(link.replace(project, "<p>") for link in network["Links"])),
    }


def anonymous(attrs: dict[str, Any]) -> dict[str, str]:
    return {m["Destination"]: m["Name"] for m in attrs["Mounts"] if m["Type"] == "volume"}


def exec_output(client: Any, container: str, *argv: str) -> str:
    exec_id = client.api.exec_create(container, list(argv))
    return client.api.exec_start(exec_id).decode()


def test_references_match_compose_and_follow_a_new_container(stack: Stack) -> None:
    stack.write(REFERENCES)
    reference = dockerkit.unique_name()
    try:
        stack.compose(reference, "up", "-d")
        stack.inv("local.up", "--timeout", "60")
        ours, theirs = by_service(stack.client, stack.name), by_service(stack.client, reference)
        assert references(ours, stack.name) == references(theirs, reference)
        assert references(ours, stack.name)["sidecar network"] == "container:<web>"
        # Shared network namespace: the sidecar reaches web's loopback-only server.
        sidecar = ours["sidecar"]["Id"]
        assert exec_output(stack.client, sidecar, "wget", "-qO-", "127.0.0.1:8080") == "hello\n"
        reader = ours["reader"]["Id"]
        assert exec_output(stack.client, reader, "cat", "/www/index.html") == "hello\n"
        # The link alias resolves to web (Compose: the alias, web-1 and <project>-web-1).
        assert "site" in exec_output(stack.client, reader, "ping", "-c1", "-W2", "site")
        # Unlike Compose 2.27, which drops the mode, `:ro` mounts read-only (as `docker
        # run --volumes-from web:ro` does).
        assert ours["reader"]["HostConfig"]["VolumesFrom"] == [f"{ours['web']['Id']}:ro"]
        assert theirs["reader"]["HostConfig"]["VolumesFrom"] == [theirs["web"]["Id"]]
        assert "Read-only" in exec_output(stack.client, reader, "touch", "/www/x")

        # web gets a new container: both tools create sidecar and reader again, so that
        # they share the new one.
        stack.compose(reference, "up", "-d", env={"VERSION": "2"})
        stack.inv("local.up", "--timeout", "60", env={"VERSION": "2"})
        after, theirs_after = (
            by_service(stack.client, stack.name),
            by_service(stack.client, reference),
        )
        for name in ("web", "sidecar", "reader"):
            assert after[name]["Id"] != ours[name]["Id"], name
            assert theirs_after[name]["Id"] != theirs[name]["Id"], name
        # Both keep web's anonymous volume (/www) in its new container: the data
        # survives, and no volume is left behind.
        for before, now in ((ours, after), (theirs, theirs_after)):
            assert anonymous(now["web"]) == anonymous(before["web"]) != {}
        assert references(after, stack.name) == references(theirs_after, reference)
        sidecar = after["sidecar"]["Id"]
        assert exec_output(stack.client, sidecar, "wget", "-qO-", "127.0.0.1:8080") == "hello\n"
        # Nothing changed: nothing is recreated.
        stack.inv("local.up", "--timeout", "60", env={"VERSION": "2"})
        assert stack.ids() == {name: attrs["Id"] for name, attrs in after.items()}
    finally:
        dockerkit.remove_project(stack.client, reference)


def test_a_recreated_container_keeps_the_anonymous_volume_its_image_declares(
    stack: Stack,
) -> None:
    # An image's VOLUME (as postgres declares its data folder) without a named volume in
    # the file: recreating the container must not lose what is in it (Compose keeps it).
    stack.write(
        f"""
services:
  store:
    build:
      context: .
      dockerfile_inline: |
        FROM IMAGE
        VOLUME /state
    image: {stack.name}-store:test
    command: ["sh", "-c", 'test -f /state/seen || date > /state/seen; {IDLE}']
    environment:
      VERSION: "${{VERSION:-1}}"
"""
    )
    try:
        stack.inv("local.up", "--timeout", "60")
        first = stack.containers()["store"]
        seen = exec_output(stack.client, first["Id"], "cat", "/state/seen")
        stack.inv("local.up", "--timeout", "60", env={"VERSION": "2"})
        second = stack.containers()["store"]
        assert second["Id"] != first["Id"]
        assert anonymous(second) == anonymous(first) != {}
        assert exec_output(stack.client, second["Id"], "cat", "/state/seen") == seen
    finally:
        dockerkit.remove_project(stack.client, stack.name)
        for image in stack.client.api.images(name=f"{stack.name}-store"):
            stack.client.api.remove_image(image["Id"], force=True)
