"""The loader: project naming, YAML errors, unsupported keys, merging, normalisation."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.compose.conftest import ComposeFolder
from vpmigrate.compose.loader import load_project_with_warnings
from vpmigrate.compose.model import (
    BindOptions,
    Dependency,
    Healthcheck,
    NetworkDef,
    PortMapping,
    ServiceNetwork,
    VolumeMount,
    VolumeOptions,
)
from vpmigrate.compose.naming import normalize_project_name
from vpmigrate.errors import UserError

MINIMAL = "services:\n  app:\n    image: busybox\n"


# --- project name ------------------------------------------------------------------------


def test_project_name_order(folder: ComposeFolder) -> None:
    folder.write("compose.yml", "name: from-file\n" + MINIMAL)
    folder.write(".env", "COMPOSE_PROJECT_NAME=from-dotenv\n")
    shell = {"COMPOSE_PROJECT_NAME": "from-shell"}
    assert folder.load(environ=shell, project_name="explicit").name == "explicit"
    assert folder.load(environ=shell).name == "from-shell"
    assert folder.load().name == "from-dotenv"
    (folder.root / ".env").unlink()
    assert folder.load().name == "from-file"
    folder.write("compose.yml", MINIMAL)
    assert folder.load().name == "demo"  # the project directory's name


def test_top_level_name_is_interpolated(folder: ComposeFolder) -> None:
    folder.write("compose.yml", "name: stack-${ENV_NAME:-dev}\n" + MINIMAL)
    assert folder.load(environ={"ENV_NAME": "ci"}).name == "stack-ci"


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("Vision Platform", "visionplatform"),
        ("My_Project.V2", "my_projectv2"),
        ("--Leading-dash", "leading-dash"),
        ("ok-name_1", "ok-name_1"),
    ],
)
def test_project_name_normalisation(raw: str, normalised: str) -> None:
    assert normalize_project_name(raw) == normalised


def test_project_directory_name_is_normalised(tmp_path: Path) -> None:
    folder = ComposeFolder(tmp_path / "My Stack.Dir")
    folder.write("compose.yml", MINIMAL)
    project = folder.load()
    assert project.name == "mystackdir"
    assert project.networks["default"].name == "mystackdir_default"


def test_a_name_with_nothing_left_is_an_error(folder: ComposeFolder) -> None:
    folder.write("compose.yml", MINIMAL)
    with pytest.raises(UserError, match=r"project name '__!!' \(from the --project-name option\)"):
        folder.load(project_name="__!!")


# --- YAML and unsupported keys -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('services:\n  app:\n    ports: ["80:80"\n    restart: always\n', 4, "invalid YAML: "),
        ("services:\n  app:\n    image: a\n    image: b\n", 4, "key 'image' is already defined"
         " at line 3"),
        ("services:\n  app: &a\n    <<: [1]\n", 3, "'<<' needs a mapping"),
        ("- just\n- a list\n", 1, "a compose file must be a mapping"),
    ],
)  # fmt: skip
def test_yaml_problems_are_reported_with_file_and_line(
    folder: ComposeFolder, text: str, line: int, message: str
) -> None:
    path = folder.write("compose.yml", text)
    with pytest.raises(UserError) as caught:
        folder.load()
    assert str(caught.value).startswith(f"{path}:{line}: {message}")


def test_an_unsupported_service_key_is_reported_with_file_and_line(folder: ComposeFolder) -> None:
    path = folder.write(
        "compose.yml",
        """\
        services:
          app:
            image: busybox
            x-ok: extension fields are fine
            cap_ad: [NET_ADMIN]
        """,
    )
    with pytest.raises(UserError) as caught:
        folder.load()
    assert str(caught.value).startswith(
        f"{path}:5: services.app: 'cap_ad' is not supported here (service): Compose has no "
        "such key."
    )


def test_an_unsupported_key_from_an_override_file_points_at_that_file(
    folder: ComposeFolder,
) -> None:
    folder.write("compose.yml", MINIMAL)
    override = folder.write("override.yml", "services:\n  app:\n    secret: [token]\n")
    with pytest.raises(UserError, match=rf"^{override}:3: services.app: 'secret' is not"):
        folder.load("compose.yml", "override.yml")


def test_unsupported_top_level_key(folder: ComposeFolder) -> None:
    path = folder.write("compose.yml", MINIMAL + "config:\n  c: {file: ./c}\n")
    with pytest.raises(UserError, match=rf"^{path}:4: top level: 'config' is not supported"):
        folder.load()


def test_a_service_without_image_is_an_error(folder: ComposeFolder) -> None:
    path = folder.write("compose.yml", "services:\n  app:\n    command: [sh]\n")
    with pytest.raises(
        UserError, match=rf"^{path}:3: service 'app': has neither `image:` nor `build:`"
    ):
        folder.load()


@pytest.mark.parametrize(
    ("snippet", "line", "expected"),
    [
        ("volumes: [cache:/cache]", 4, "named volume 'cache' is not declared"),
        ("networks: [backend]", 4, "network 'backend' is not declared"),
        ("depends_on: [ghost]", 4, "depends on undefined service 'ghost'; known services: app"),
        ("ports: ['8000-8002:80-81']", 4, "the container range 80-81 and the host range"),
        ("ports: ['80:80/ftp']", 4, "unknown protocol 'ftp'"),
        ("ports: ['a:b']", 4, "cannot read port 'a:b'"),
        ("volumes: ['./x:/x:ro:z']", 4, "too many ':'"),
        ("restart: sometimes", 4, "unknown restart policy 'sometimes'"),
        ("stop_grace_period: 10", 4, "must be a duration"),
        ("healthcheck: {test: [true]}", 4, "test[0]: must be a string"),
        ("healthcheck: {test: [SH, 'true']}", 4, 'a test list starts with "CMD"'),
        ("network_mode: host\n    networks: [default]", 5, "cannot be used together"),
        ("tty: maybe", 4, "invalid boolean: maybe"),
        ("links: [ghost]", 4, "refers to undefined service 'ghost'"),
        ("links: [app]", 4, "cannot refer to itself"),
        ("volumes_from: ['ghost:ro']", 4, "refers to undefined service 'ghost'"),
        ("volumes_from: ['app:z']", 4, "the mode is ro or rw"),
    ],
)
def test_bad_values_name_file_line_and_problem(
    folder: ComposeFolder, snippet: str, line: int, expected: str
) -> None:
    path = folder.write("compose.yml", f"services:\n  app:\n    image: busybox\n    {snippet}\n")
    with pytest.raises(UserError) as caught:
        folder.load()
    assert str(caught.value).startswith(f"{path}:{line}: service")
    assert "app" in str(caught.value)
    assert expected in str(caught.value)


# --- normalisation -----------------------------------------------------------------------


def test_service_normalisation(folder: ComposeFolder) -> None:
    folder.write(
        "compose.yml",
        """\
        x-defaults: &defaults
          restart: unless-stopped
          labels: {team: ml}
        services:
          web:
            <<: *defaults
            image: busybox
            command: httpd -f -h "/var/www/my site"
            entrypoint: ["/bin/sh", "-c"]
            ports: ["127.0.0.1:8080:80", "3000", 53/udp, "7000-7001:8000-8001"]
            volumes: ["data:/data", "./html:/var/www:ro", "/anon"]
            labels: [tier=front, empty]
            healthcheck:
              test: wget -q -O- localhost
              interval: 1m30s
              timeout: 500ms
              start_period: 2s
              retries: 3
            depends_on:
              db:
                condition: service_healthy
                restart: true
              cache:
                condition: service_started
                required: false
            networks:
              front:
                aliases: [www, site]
            extra_hosts: ["gateway=10.0.0.1", "db.local:10.0.0.2"]
            stop_grace_period: 1m
            user: "1000"
            init: true
            pull_policy: if_not_present
          db:
            image: postgres
            healthcheck: {disable: true}
            networks: [default]
          cache:
            image: redis
            network_mode: none
        networks:
          front:
            driver: bridge
            labels: {purpose: test}
          unused:
            internal: true
        volumes:
          data:
        """,
    )
    project = folder.load()
    web = project.services["web"]
    assert web.restart == "unless-stopped"
    assert dict(web.labels) == {"tier": "front", "empty": ""}  # the service's own labels win
    assert web.command == ("httpd", "-f", "-h", "/var/www/my site")
    assert web.entrypoint == ("/bin/sh", "-c")
    assert web.ports == (
        PortMapping(target=80, published=8080, host_ip="127.0.0.1", mode="ingress"),
        PortMapping(target=3000, mode="ingress"),
        PortMapping(target=53, protocol="udp", mode="ingress"),
        PortMapping(target=8000, published=7000, mode="ingress"),
        PortMapping(target=8001, published=7001, mode="ingress"),
    )
    # Short syntax, as Compose expands it: named volumes get `volume: {}`, bind mounts
    # create a missing host path.
    assert web.volumes == (
        VolumeMount(type="volume", source="data", target="/data", volume=VolumeOptions()),
        VolumeMount(type="bind", source=str(folder.root / "html"), target="/var/www",
                    read_only=True, bind=BindOptions(create_host_path=True)),
        VolumeMount(type="volume", target="/anon", volume=VolumeOptions()),
    )  # fmt: skip
    assert web.healthcheck == Healthcheck(
        test=("CMD-SHELL", "wget -q -O- localhost"),
        interval_s=90.0,
        timeout_s=0.5,
        retries=3,
        start_period_s=2.0,
    )
    assert web.depends_on == (
        Dependency("cache", "service_started", required=False),
        Dependency("db", "service_healthy", restart=True),
    )
    assert web.networks == (ServiceNetwork("front", aliases=("www", "site")),)
    assert web.extra_hosts == ("gateway:10.0.0.1", "db.local:10.0.0.2")
    assert (web.stop_grace_period_s, web.user, web.init) == (60.0, "1000", True)
    assert web.pull_policy == "missing"
    db, cache = project.services["db"], project.services["cache"]
    assert db.healthcheck is not None and db.healthcheck.disabled
    assert db.healthcheck.test == ("NONE",)
    assert db.networks == (ServiceNetwork("default"),)
    assert (cache.networks, cache.network_mode) == ((), "none")
    assert project.networks["front"] == NetworkDef(
        "front", "demo_front", driver="bridge", labels={"purpose": "test"}
    )
    assert project.networks["unused"].internal
    assert project.networks["default"].name == "demo_default"
    assert project.volumes["data"].name == "demo_data"


def test_default_network_only_when_a_service_uses_it(folder: ComposeFolder) -> None:
    folder.write(
        "compose.yml",
        """\
        services:
          app: {image: busybox, networks: [back]}
        networks:
          back:
          default:
            name: custom-default
        """,
    )
    assert set(folder.load().networks) == {"back"}
    folder.write("compose.yml", MINIMAL + "networks:\n  default:\n    name: custom-default\n")
    assert folder.load().networks["default"].name == "custom-default"


def test_external_and_named_resources(folder: ComposeFolder) -> None:
    folder.write(
        "compose.yml",
        MINIMAL
        + """\
    volumes: [shared:/shared, legacy:/legacy, named:/named]
volumes:
  shared: {external: true}
  legacy: {external: {name: old-volume}}
  named: {name: "exact-${SUFFIX}"}
""",
    )
    volumes = folder.load(environ={"SUFFIX": "x"}).volumes
    assert (volumes["shared"].name, volumes["shared"].external) == ("shared", True)
    assert (volumes["legacy"].name, volumes["legacy"].external) == ("old-volume", True)
    assert (volumes["named"].name, volumes["named"].external) == ("exact-x", False)


def test_yaml_follows_compose_core_schema(folder: ComposeFolder) -> None:
    folder.write(
        "compose.yml",
        """\
        services:
          app:
            image: busybox
            environment:
              ANSWER: yes
              SWITCH: on
              TIME: 22:22
              COUNT: 10
              RATIO: 1.5
              FLAG: true
            ports:
              - 22:22
        """,
    )
    app = folder.load().services["app"]
    assert dict(app.environment) == {
        "ANSWER": "yes",
        "SWITCH": "on",
        "TIME": "22:22",
        "COUNT": "10",
        "RATIO": "1.5",
        "FLAG": "true",
    }
    assert app.ports == (PortMapping(target=22, published=22, mode="ingress"),)


# --- several files -----------------------------------------------------------------------


def test_later_files_override_earlier_ones(folder: ComposeFolder) -> None:
    folder.write(
        "compose.yml",
        """\
        services:
          web:
            image: busybox
            command: ["httpd", "-f"]
            entrypoint: ["/bin/sh"]
            environment: {KEEP: base, CHANGE: base}
            labels: [owner=base, tier=web]
            ports: ["8080:80"]
            volumes: ["data:/data", "./conf:/etc/conf:ro"]
            depends_on: [db]
            healthcheck: {test: ["CMD", "true"], interval: 5s, retries: 2}
            profiles: [base]
          db:
            image: postgres
        volumes:
          data:
        """,
    )
    folder.write(
        "sub/override.yml",
        """\
        services:
          web:
            image: busybox:1.36
            command: httpd -f -p 81
            environment: [CHANGE=override, ADDED=new]
            labels: {owner: override}
            ports: ["9090:90", "8080:80"]
            volumes: ["./other:/etc/conf"]
            depends_on:
              db: {condition: service_healthy}
            healthcheck: {test: "wget -q localhost"}
            profiles: [extra]
          extra:
            image: busybox
        """,
    )
    project = folder.load("compose.yml", "sub/override.yml")
    web = project.services["web"]
    assert web.image == "busybox:1.36"
    assert web.command == ("httpd", "-f", "-p", "81")  # replaced, not merged
    assert web.entrypoint == ("/bin/sh",)  # kept
    assert dict(web.environment) == {"KEEP": "base", "CHANGE": "override", "ADDED": "new"}
    assert dict(web.labels) == {"owner": "override", "tier": "web"}
    assert web.ports == (
        PortMapping(80, 8080, mode="ingress"),
        PortMapping(90, 9090, mode="ingress"),
    )
    # merged by target; a relative path resolves against the project directory
    assert web.volumes == (
        VolumeMount(type="volume", source="data", target="/data", volume=VolumeOptions()),
        VolumeMount(
            type="bind",
            source=str(folder.root / "other"),
            target="/etc/conf",
            bind=BindOptions(create_host_path=True),
        ),
    )
    assert web.depends_on == (Dependency("db", "service_healthy"),)
    assert web.healthcheck == Healthcheck(
        test=("CMD-SHELL", "wget -q localhost"), interval_s=5.0, retries=2
    )
    assert web.profiles == ("base", "extra")  # Compose 2.27 unions profiles
    assert set(project.services) == {"web", "db", "extra"}
    assert project.working_dir == folder.root
    assert project.config_files == (folder.root / "compose.yml", folder.root / "sub/override.yml")


# --- config hash input -------------------------------------------------------------------


def test_config_is_json_data_that_changes_with_the_container_definition(
    folder: ComposeFolder,
) -> None:
    import json

    text = "services:\n  app:\n    image: busybox\n    environment: {A: '1', B: '2'}\n"
    folder.write("compose.yml", text)
    first = folder.load().services["app"].config
    folder.write("compose.yml", text.replace("{A: '1', B: '2'}", "{B: '2', A: '1'}"))
    assert json.dumps(folder.load().services["app"].config) == json.dumps(first)
    folder.write("compose.yml", text + "    profiles: [p]\n")  # does not touch the container
    assert folder.load().services["app"].config == first
    folder.write("compose.yml", text.replace("'2'", "'3'"))
    assert folder.load().services["app"].config != first


def test_unset_variables_become_warnings(folder: ComposeFolder) -> None:
    folder.write("compose.yml", "services:\n  app:\n    image: 'busybox:${TAG}'\n")
    result = load_project_with_warnings([folder.root / "compose.yml"], environ={})
    assert result.project.services["app"].image == "busybox:"
    assert result.warnings == ('The "TAG" variable is not set. Defaulting to a blank string.',)
