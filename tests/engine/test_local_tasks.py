"""`inv local.*` against the real engine: profiles, depends_on conditions, convergence,
profile-scoped down, volumes, and the errors a user meets."""

from __future__ import annotations

import http.server
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime

from devkit import dockerkit
from tests.engine.conftest import REPO_ROOT, Stack

IDLE = dockerkit.IDLE_COMMAND


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def three_tier(port: int, app_env: str = "one") -> str:
    """db (healthcheck) <- job (one-shot, needs db healthy) <- app (needs job done)."""
    return f"""
services:
  db:
    image: IMAGE
    command: ["sh", "-c", 'touch /tmp/ready; {IDLE}']
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 1s
      retries: 30
    volumes:
      - data:/data
  job:
    image: IMAGE
    command: ["sh", "-c", "echo job ran; exit 0"]
    depends_on:
      db:
        condition: service_healthy
  app:
    image: IMAGE
    command: ["sh", "-c", '{IDLE}']
    environment:
      SETTING: {app_env}
    ports:
      - "127.0.0.1:{port}:8080"
    depends_on:
      job:
        condition: service_completed_successfully
      db:
        condition: service_started
  extra:
    image: IMAGE
    profiles: [extra]
    command: ["sh", "-c", '{IDLE}']
volumes:
  data:
"""


def started_at(attrs: dict) -> datetime:
    return datetime.fromisoformat(attrs["State"]["StartedAt"][:26].rstrip("Z"))


def finished_at(attrs: dict) -> datetime:
    return datetime.fromisoformat(attrs["State"]["FinishedAt"][:26].rstrip("Z"))


def test_up_starts_always_on_services_in_dependency_order(stack: Stack) -> None:
    stack.write(three_tier(free_port()))
    stack.inv("local.up", "--timeout", "60")
    containers = stack.containers()
    assert set(containers) == {"db", "job", "app"}  # `extra` is in an inactive profile
    assert containers["db"]["State"]["Health"]["Status"] == "healthy"  # the engine agrees
    assert containers["db"]["State"]["Status"] == "running"
    assert containers["job"]["State"]["Status"] == "exited"
    assert containers["job"]["State"]["ExitCode"] == 0
    assert containers["app"]["State"]["Status"] == "running"
    # service_completed_successfully: app started only after the job had finished.
    assert started_at(containers["app"]) >= finished_at(containers["job"])
    # The job started after db did. (That service_healthy made it wait for db's check is
    # checked by test_unhealthy_dependency_fails_service_healthy and test_orchestration.)
    assert started_at(containers["job"]) >= started_at(containers["db"])
    assert containers["app"]["Name"] == f"/{stack.name}-app-1"


def test_profile_adds_services_without_touching_the_rest(stack: Stack) -> None:
    stack.write(three_tier(free_port()))
    stack.inv("local.up")
    before = stack.ids()
    stack.inv("local.up", "--profile", "extra")
    after = stack.ids()
    assert set(after) == {"db", "job", "app", "extra"}
    assert {k: after[k] for k in before} == before


def test_rerun_with_nothing_changed_recreates_nothing(stack: Stack) -> None:
    stack.write(three_tier(free_port()))
    stack.inv("local.up")
    before = stack.ids()
    result = stack.inv("local.up")
    assert stack.ids() == before
    assert "nothing changed" in result.stderr


def test_changed_service_is_recreated_alone(stack: Stack) -> None:
    port = free_port()
    stack.write(three_tier(port, app_env="one"))
    stack.inv("local.up")
    before = stack.ids()
    stack.write(three_tier(port, app_env="two"))
    result = stack.inv("local.up")
    after = stack.ids()
    assert after["app"] != before["app"]
    assert {k: after[k] for k in ("db", "job")} == {k: before[k] for k in ("db", "job")}
    assert "SETTING=two" in stack.containers()["app"]["Config"]["Env"]
    assert "1 changed: app" in result.stderr


def test_failing_job_names_service_state_and_logs_and_keeps_healthy_ones(stack: Stack) -> None:
    stack.write(
        three_tier(free_port()).replace(
            '"echo job ran; exit 0"', '"echo bucket creation failed >&2; exit 3"'
        )
    )
    result = stack.inv("local.up", "--timeout", "60", check=False)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "'job'" in result.stderr and "exited with code 3" in result.stderr
    assert "bucket creation failed" in result.stderr  # its last log lines
    assert "'app' not started" in result.stderr
    containers = stack.containers()
    assert containers["db"]["State"]["Status"] == "running"  # healthy ones stay up
    assert "app" not in containers


def test_unhealthy_dependency_fails_service_healthy(stack: Stack) -> None:
    stack.write(
        f"""
services:
  sick:
    image: IMAGE
    command: ["sh", "-c", '{IDLE}']
    healthcheck:
      test: ["CMD", "false"]
      interval: 1s
      retries: 2
  needs-sick:
    image: IMAGE
    command: ["sh", "-c", '{IDLE}']
    depends_on:
      sick:
        condition: service_healthy
"""
    )
    result = stack.inv("local.up", "--timeout", "60", check=False)
    assert result.returncode != 0
    assert "'sick'" in result.stderr and "unhealthy" in result.stderr
    assert "needs-sick" in result.stderr
    assert "needs-sick" not in stack.containers()


def test_service_healthy_without_healthcheck_is_an_error(stack: Stack) -> None:
    stack.write(
        f"""
services:
  plain:
    image: IMAGE
    command: ["sh", "-c", '{IDLE}']
  waiter:
    image: IMAGE
    command: ["sh", "-c", '{IDLE}']
    depends_on:
      plain:
        condition: service_healthy
"""
    )
    result = stack.inv("local.up", "--timeout", "30", check=False)
    assert result.returncode != 0
    assert "no healthcheck" in result.stderr


def test_down_with_profile_removes_only_that_profile(stack: Stack) -> None:
    stack.write(three_tier(free_port()))
    stack.inv("local.up", "--profile", "extra")
    before = stack.ids()
    stack.inv("local.down", "--profile", "extra")
    after = stack.ids()
    assert "extra" not in after
    assert after == {k: v for k, v in before.items() if k != "extra"}


def test_down_keeps_named_volumes_unless_asked(stack: Stack) -> None:
    stack.write(three_tier(free_port()))
    stack.inv("local.up")
    volume = f"{stack.name}_data"
    assert stack.volumes() == [volume]
    result = stack.inv("local.down")
    assert stack.containers() == {}
    assert stack.volumes() == [volume]
    assert volume in result.stderr  # says what it kept
    networks = stack.client.api.networks(names=[f"{stack.name}_default"])
    assert [n for n in networks if n["Name"] == f"{stack.name}_default"] == []
    result = stack.inv("local.down", "--volumes")
    assert stack.volumes() == []
    assert volume in result.stderr  # listed before removal


def test_volume_data_survives_down_and_up(stack: Stack) -> None:
    stack.write(
        f"""
services:
  store:
    image: IMAGE
    command: ["sh", "-c", 'test -f /data/seen || date > /data/seen; {IDLE}']
    volumes: [data:/data]
volumes:
  data:
"""
    )
    stack.inv("local.up")
    first = stack.client.api.exec_start(
        stack.client.api.exec_create(stack.ids()["store"], ["cat", "/data/seen"])
    )
    stack.inv("local.down")
    stack.inv("local.up")
    second = stack.client.api.exec_start(
        stack.client.api.exec_create(stack.ids()["store"], ["cat", "/data/seen"])
    )
    assert first == second


def test_port_held_by_another_projects_container_is_named(stack: Stack, tmp_path) -> None:
    port = free_port()
    other = Stack(stack.client, stack.image, tmp_path, dockerkit.unique_name())
    other.write(
        f"""
services:
  holder:
    image: IMAGE
    command: ["sh", "-c", '{IDLE}']
    ports: ["127.0.0.1:{port}:80"]
"""
    )
    try:
        other.inv("local.up")
        stack.write(three_tier(port))
        result = stack.inv("local.up", check=False)
        assert result.returncode != 0
        assert "Traceback" not in result.stderr
        assert f"127.0.0.1:{port}" in result.stderr
        assert f"{other.name}-holder-1" in result.stderr
        assert stack.containers() == {}  # refused before anything started
    finally:
        dockerkit.remove_project(stack.client, other.name)


def test_port_held_by_a_process_is_reported(stack: Stack) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        stack.write(three_tier(port))
        result = stack.inv("local.up", check=False)
    assert result.returncode != 0
    assert f"127.0.0.1:{port}" in result.stderr and "process" in result.stderr


def test_missing_image_is_named_and_nothing_starts(stack: Stack) -> None:
    stack.write(
        f"""
services:
  ok:
    image: IMAGE
    command: ["sh", "-c", '{IDLE}']
  gone:
    image: vpm-test-no-such-image:1.0
"""
    )
    result = stack.inv("local.up", "--no-pull", check=False)
    assert result.returncode != 0
    assert "vpm-test-no-such-image:1.0" in result.stderr
    assert "needed by gone" in result.stderr
    assert stack.containers() == {}
    # Pulling is attempted without --no-pull; no registry answers here, so it fails too.
    result = stack.inv("local.up", check=False)
    assert result.returncode != 0
    assert "vpm-test-no-such-image:1.0" in result.stderr
    assert "Traceback" not in result.stderr
    assert stack.containers() == {}


def test_unknown_profile_lists_the_known_ones(stack: Stack) -> None:
    stack.write(three_tier(free_port()))
    result = stack.inv("local.up", "--profile", "nope", check=False)
    assert result.returncode != 0
    assert "nope" in result.stderr and "extra" in result.stderr
    assert "Traceback" not in result.stderr


def test_interpolation_reaches_the_container(stack: Stack) -> None:
    (stack.folder / ".env").write_text("FROM_DOTENV=dotenv\nSHADOWED=dotenv\n")
    stack.write(
        f"""
services:
  env:
    image: IMAGE
    command: ["sh", "-c", '{IDLE}']
    environment:
      PLAIN: ${{FROM_DOTENV}}
      SHELL_WINS: ${{SHADOWED}}
      DEFAULT_UNSET: ${{NOT_SET:-fallback}}
      DEFAULT_EMPTY: ${{EMPTY_VAR:-was-empty}}
      DASH_EMPTY: "${{EMPTY_VAR-kept-empty}}"
      ALT: ${{FROM_DOTENV:+alternate}}
      NESTED: ${{NOT_SET:-${{FROM_DOTENV}}-nested}}
      DOLLAR: "$$literal"
"""
    )
    stack.inv("local.up", env={"SHADOWED": "shell", "EMPTY_VAR": ""})
    env = dict(
        item.split("=", 1) for item in stack.containers()["env"]["Config"]["Env"] if "=" in item
    )
    assert env["PLAIN"] == "dotenv"
    assert env["SHELL_WINS"] == "shell"
    assert env["DEFAULT_UNSET"] == "fallback"
    assert env["DEFAULT_EMPTY"] == "was-empty"
    assert env["DASH_EMPTY"] == ""
    assert env["ALT"] == "alternate"
    assert env["NESTED"] == "dotenv-nested"
    assert env["DOLLAR"] == "$literal"


def test_required_variable_missing_is_reported(stack: Stack) -> None:
    stack.write(
        """
services:
  env:
    image: IMAGE
    environment:
      PASSWORD: ${DB_PASSWORD:?put DB_PASSWORD in .env}
"""
    )
    result = stack.inv("local.up", check=False)
    assert result.returncode != 0
    assert "DB_PASSWORD" in result.stderr and "put DB_PASSWORD in .env" in result.stderr
    assert "Traceback" not in result.stderr


def test_docker_compose_sees_and_removes_our_stack(stack: Stack) -> None:
    stack.write(three_tier(free_port()))
    stack.inv("local.up")
    compose = ["docker", "compose", "-p", stack.name, "-f", str(stack.files[0])]
    listed = subprocess.run(
        [*compose, "ps", "--all", "--format", "json"], capture_output=True, text=True, check=True
    )
    lines = [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
    rows = lines[0] if len(lines) == 1 and isinstance(lines[0], list) else lines
    assert {row["Service"] for row in rows} == {"db", "job", "app"}
    # Compose takes them as its own: its `down` removes our containers.
    subprocess.run([*compose, "down"], capture_output=True, text=True, check=True)
    assert stack.containers() == {}


def test_status_json_and_logs(stack: Stack) -> None:
    port = free_port()
    stack.write(three_tier(port))
    stack.inv("local.up", "--profile", "extra")
    stack.inv("local.down", "--profile", "extra")
    rows = {row["service"]: row for row in json.loads(stack.inv("local.status", "--json").stdout)}
    assert set(rows) == {"db", "job", "app", "extra"}
    assert rows["app"]["state"] == "running"
    assert rows["app"]["container"] == f"{stack.name}-app-1"
    assert rows["app"]["ports"] == [f"http://127.0.0.1:{port}"]
    assert rows["db"]["health"] == "healthy"
    assert rows["job"]["state"] == "exited"
    assert rows["extra"]["state"] == "not created"
    assert rows["extra"]["profiles"] == ["extra"]
    table = stack.inv("local.status").stdout
    assert f"http://127.0.0.1:{port}" in table
    assert f"{stack.name}-app-1" in table
    logs = stack.inv("local.logs", "job", "--tail", "5").stdout
    assert "job ran" in logs
    result = stack.inv("local.logs", "nosuch", check=False)
    assert result.returncode != 0 and "unknown service" in result.stderr


def test_unreachable_daemon_says_how_to_start_it(stack: Stack) -> None:
    stack.write(three_tier(free_port()))
    result = stack.inv(
        "local.up", check=False, env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    )
    assert result.returncode != 0
    assert "not reachable" in result.stderr and "dockerd" in result.stderr
    assert "Traceback" not in result.stderr


class _StallingEngine(http.server.BaseHTTPRequestHandler):
    """An engine that answers the SDK's handshake (/version, /_ping) and then nothing
    in time, as a daemon does under heavy load."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path.endswith("/_ping"):
            body = b"OK"
        elif self.path.endswith("/version"):
            body = json.dumps({"ApiVersion": "1.41", "MinAPIVersion": "1.12"}).encode()
        else:
            time.sleep(4)
            body = b"[]"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_daemon_that_does_not_answer_in_time_is_an_error_not_a_bug(stack: Stack) -> None:
    stack.write(three_tier(free_port()))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StallingEngine)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        host = f"tcp://127.0.0.1:{server.server_address[1]}"
        env = {"DOCKER_HOST": host, "COMPOSE_HTTP_TIMEOUT": "1"}
        result = stack.inv("local.status", check=False, env=env)
    finally:
        server.shutdown()
    assert result.returncode == 1, result.stderr
    assert f"the Docker daemon at {host} did not answer in time" in result.stderr
    assert "COMPOSE_HTTP_TIMEOUT" in result.stderr
    assert "bug" not in result.stderr and "Traceback" not in result.stderr


def test_interrupted_up_is_finished_by_a_rerun(stack: Stack) -> None:
    # db becomes healthy only once the test lets it: Ctrl-C lands while the rest waits.
    stack.write(
        three_tier(free_port()).replace(
            "touch /tmp/ready;", "while [ ! -f /tmp/go ]; do sleep 0.2; done; touch /tmp/ready;"
        )
    )
    command = [sys.executable, "-m", "invoke", "local.up", "--file", str(stack.files[0])]
    command += ["--project-name", stack.name]
    process = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env=dockerkit.cli_env(),
        stderr=subprocess.PIPE,
        text=True,
        # Python's own SIGINT handler, also where the tests run with SIGINT ignored
        # (a background job of a shell without job control passes that on).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while "db" not in stack.containers() and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert set(stack.containers()) == {"db"}  # nothing after it was started
    db = stack.ids()["db"]
    stack.client.api.exec_start(stack.client.api.exec_create(db, ["touch", "/tmp/go"]))
    stack.inv("local.up", "--timeout", "60")
    containers = stack.containers()
    assert containers["db"]["Id"] == db
    assert containers["app"]["State"]["Status"] == "running"
    assert containers["job"]["State"]["ExitCode"] == 0


def test_down_stops_dependents_before_their_dependencies(stack: Stack) -> None:
    stack.write(three_tier(free_port()))
    stack.inv("local.up")
    since = int(time.time()) - 1
    stack.inv("local.down")
    until = int(time.time()) + 1
    events = stack.client.events(
        since=since,
        until=until,
        decode=True,
        filters={"label": f"com.docker.compose.project={stack.name}", "event": "die"},
    )
    died = [e["Actor"]["Attributes"]["com.docker.compose.service"] for e in events]
    assert "app" in died and "db" in died
    assert died.index("app") < died.index("db")  # app depends on db


def test_one_shot_job_reruns_only_when_a_dependency_was_recreated(stack: Stack) -> None:
    stack.write(three_tier(free_port()))
    stack.inv("local.up")
    job = stack.containers()["job"]
    stack.inv("local.up")
    assert stack.containers()["job"]["State"]["StartedAt"] == job["State"]["StartedAt"]
    # The database container is lost (removed by hand): the job must run again against
    # the new one; the app, which only needs the job done and db started, is kept.
    app_id = stack.ids()["app"]
    stack.client.api.remove_container(stack.ids()["db"], force=True)
    stack.inv("local.up")
    after = stack.containers()
    assert after["job"]["Id"] == job["Id"]
    assert after["job"]["State"]["StartedAt"] != job["State"]["StartedAt"]
    assert after["job"]["State"]["ExitCode"] == 0
    assert after["app"]["Id"] == app_id


def test_entrypoint_bind_mount_restart_policy_and_aliases(stack: Stack) -> None:
    (stack.folder / "data").mkdir()
    (stack.folder / "data" / "hello.txt").write_text("hello from the host\n")
    stack.write(
        f"""
services:
  reader:
    image: IMAGE
    entrypoint: ["sh", "-c"]
    command: ['cat /mnt/x/hello.txt; {IDLE}']
    restart: unless-stopped
    volumes:
      - ./data:/mnt/x:ro
    networks:
      back:
        aliases: [files]
  caller:
    image: IMAGE
    command: ["sh", "-c", 'ping -c1 -W2 files && ping -c1 -W2 reader && echo resolved; {IDLE}']
    networks: [back]
    depends_on: [reader]
networks:
  back:
"""
    )
    stack.inv("local.up")
    reader = stack.containers()["reader"]
    assert reader["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    mount = reader["Mounts"][0]
    assert mount["Source"] == str(stack.folder / "data") and mount["RW"] is False
    assert "hello from the host" in stack.inv("local.logs", "reader").stdout
    deadline = time.monotonic() + 20
    while "resolved" not in stack.inv("local.logs", "caller").stdout:
        assert time.monotonic() < deadline, stack.inv("local.logs", "caller").stdout
        time.sleep(0.5)
    assert f"{stack.name}_back" in reader["NetworkSettings"]["Networks"]


def test_a_changed_secret_gives_a_new_container_that_holds_it(stack: Stack) -> None:
    token = stack.folder / "token.txt"
    token.write_text("first token")
    stack.write(
        f"""
services:
  app:
    image: IMAGE
    command: ["sh", "-c", '{IDLE}']
    secrets: [token, key]
  other:
    image: IMAGE
    command: ["sh", "-c", '{IDLE}']
secrets:
  token:
    file: ./token.txt
  key:
    environment: APP_KEY
"""
    )

    def read(path: str) -> str:
        exec_id = stack.client.api.exec_create(stack.ids()["app"], ["cat", path])
        return str(stack.client.api.exec_start(exec_id).decode())

    stack.inv("local.up", env={"APP_KEY": "key one"})
    first = stack.ids()
    stack.inv("local.up", env={"APP_KEY": "key one"})
    assert stack.ids() == first  # nothing changed: both kept
    # Replaced as an editor saves it (a new file): the old bind mount would not show it.
    token.with_suffix(".new").write_text("second token")
    token.with_suffix(".new").replace(token)
    stack.inv("local.up", env={"APP_KEY": "key one"})
    second = stack.ids()
    assert second["app"] != first["app"] and second["other"] == first["other"]
    assert read("/run/secrets/token") == "second token"
    stack.inv("local.up", env={"APP_KEY": "key two"})  # an `environment:` source
    third = stack.ids()
    assert third["app"] != second["app"] and third["other"] == first["other"]
    assert read("/run/secrets/key") == "key two"
    values = stack.containers()["app"]["Config"]["Labels"].values()
    assert not any("token" in v or "key two" in v for v in values)


def test_a_job_is_judged_on_the_restart_policy_its_container_gets(stack: Stack) -> None:
    # deploy.restart_policy wins over `restart:` (as in Compose): the container gets
    # on-failure, so exiting 0 finishes the job instead of failing the wait.
    stack.write(
        f"""
services:
  job:
    image: IMAGE
    command: ["sh", "-c", "echo done; exit 0"]
    restart: always
    deploy:
      restart_policy:
        condition: on-failure
  app:
    image: IMAGE
    command: ["sh", "-c", '{IDLE}']
"""
    )
    stack.inv("local.up", "--timeout", "60")
    job = stack.containers()["job"]
    assert job["HostConfig"]["RestartPolicy"]["Name"] == "on-failure"
    assert (job["State"]["Status"], job["State"]["ExitCode"]) == ("exited", 0)
