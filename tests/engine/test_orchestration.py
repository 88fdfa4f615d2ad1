"""The decisions of `up` and `down`, against the in-memory engine (tests/engine/fake.py):
order forwards and backwards, what is left unchanged, recreated or restarted, when a
one-shot job runs again, what a failure leaves behind, and Ctrl-C.

The real-engine tests beside this file prove the same behaviour end to end."""

from __future__ import annotations

import signal
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.engine.fake import Behaviour, FakeEngine
from vpmigrate.compose.loader import load_project
from vpmigrate.compose.model import Project
from vpmigrate.compose.profiles import active_profiles, select_services
from vpmigrate.engine import labels
from vpmigrate.engine.down import down, plan_down
from vpmigrate.engine.events import Event
from vpmigrate.engine.status import project_status, service_logs
from vpmigrate.engine.up import ServiceOutcome, UpFailed, up
from vpmigrate.errors import UserError

FAST = 0.001  # poll interval: the fake answers at once

# db (healthcheck) <- job (one-shot, needs db healthy) <- app (needs the job done, db started);
# cache (restart: true dependency of app); extra in an inactive profile.
STACK = """\
services:
  db:
    image: img
    healthcheck: {test: ["CMD", "true"], interval: 30s}
    volumes: [data:/data]
  job:
    image: img
    depends_on: {db: {condition: service_healthy}}
  app:
    image: img
    environment: {SETTING: "${SETTING:-one}"}
    depends_on:
      job: {condition: service_completed_successfully}
      db: {condition: service_started}
      cache: {condition: service_started, restart: true}
  cache:
    image: img
    environment: {SIZE: "${SIZE:-1}"}
  extra:
    image: img
    profiles: [extra]
volumes:
  data:
"""

JOB_DONE = {"job": Behaviour(exit_code=0, logs="bucket created\n")}


def load(tmp_path: Path, text: str = STACK, **environ: str) -> Project:
    path = tmp_path / "compose.yml"
    path.write_text(textwrap.dedent(text))
    return load_project([path], project_name="demo", environ=environ)


def run_up(
    engine: FakeEngine, project: Project, *profiles: str, **options: object
) -> list[ServiceOutcome]:
    services = select_services(project, active_profiles(list(profiles), project))
    return up(engine, project, services, poll_s=FAST, **options)  # type: ignore[arg-type]


def actions(outcomes: list[ServiceOutcome]) -> dict[str, str]:
    return {o.service: o.action for o in outcomes}


def test_up_starts_dependencies_first_and_waits_for_their_conditions(tmp_path: Path) -> None:
    engine = FakeEngine(JOB_DONE)
    outcomes = run_up(engine, load(tmp_path))
    assert actions(outcomes) == {n: "created" for n in ("cache", "db", "job", "app")}
    started = engine.services_called("start")
    assert started.index("db") < started.index("job") < started.index("app")
    assert started.index("cache") < started.index("app")
    assert "extra" not in started  # inactive profile
    assert engine.container("job").status == "exited"
    assert engine.container("app").status == "running"


def test_rerun_with_nothing_changed_touches_nothing(tmp_path: Path) -> None:
    engine = FakeEngine(JOB_DONE)
    project = load(tmp_path)
    run_up(engine, project)
    engine.calls.clear()
    outcomes = run_up(engine, project)
    assert set(actions(outcomes).values()) == {"unchanged"}
    assert engine.calls == []  # the finished job is not run again either


def test_a_changed_service_is_recreated_alone(tmp_path: Path) -> None:
    engine = FakeEngine(JOB_DONE)
    run_up(engine, load(tmp_path))
    before = {s: engine.container(s).id for s in ("db", "job", "app", "cache")}
    outcomes = run_up(engine, load(tmp_path, SETTING="two"))
    assert actions(outcomes) == {
        "cache": "unchanged",
        "db": "unchanged",
        "job": "unchanged",
        "app": "recreated",
    }
    assert engine.container("app").id != before["app"]
    assert engine.services_called("stop") == ["app"]


def test_a_recreated_container_keeps_its_anonymous_volumes(tmp_path: Path) -> None:
    cache = "    environment: {SIZE:"
    text = STACK.replace(cache, "    volumes: [/cache]\n" + cache)
    engine = FakeEngine(JOB_DONE)
    run_up(engine, load(tmp_path, text))
    first = engine.container("cache")
    outcomes = run_up(engine, load(tmp_path, text, SIZE="2"))
    assert actions(outcomes)["cache"] == "recreated"
    assert engine.container("cache").id != first.id  # a new container...
    assert engine.container("cache").volumes == first.volumes  # ...on the same volume
    assert len(dict(first.volumes)["/cache"]) == 64
    assert dict(engine.container("db").volumes) == {"/data": "demo_data"}


def test_a_changed_secret_or_config_content_recreates_only_its_users(tmp_path: Path) -> None:
    secret, config = tmp_path / "token.txt", tmp_path / "conf.d"
    secret.write_text("first")
    config.mkdir()
    (config / "a.ini").write_text("x=1")
    text = STACK.replace(
        "  extra:\n",
        "  user:\n    image: img\n    secrets: [token, key]\n    configs: [conf, inline]\n"
        "  extra:\n",
    ) + (
        "secrets:\n  token: {file: ./token.txt}\n  key: {environment: KEY}\n"
        "configs:\n  conf: {file: ./conf.d}\n  inline: {content: 'a=${INLINE:-1}'}\n"
    )
    engine = FakeEngine(JOB_DONE)
    run_up(engine, load(tmp_path, text, KEY="k1"))
    first = engine.container("user").id
    assert set(actions(run_up(engine, load(tmp_path, text, KEY="k1"))).values()) == {"unchanged"}
    changes: list[tuple[Callable[[], None], dict[str, str]]] = [
        (lambda: secret.write_text("s3cr3t-two"), {"KEY": "k1"}),  # file: source
        (lambda: None, {"KEY": "k3y-two"}),  # environment: source
        (lambda: (config / "b.ini").write_text(""), {"KEY": "k3y-two"}),  # a file in a folder
        (lambda: None, {"KEY": "k3y-two", "INLINE": "2"}),  # inline content
    ]
    for change, environ in changes:
        change()
        outcomes = actions(run_up(engine, load(tmp_path, text, **environ)))
        assert outcomes.pop("user") == "recreated", environ
        assert set(outcomes.values()) == {"unchanged"}  # the others use no secret
        assert engine.container("user").id != first
        first = engine.container("user").id
    # The values are hashed: none of them is in a label.
    project = load(tmp_path, text, KEY="k3y-two")
    container_labels = labels.container_labels(project, project.services["user"], "image")
    assert not any("s3cr3t" in v or "k3y" in v for v in container_labels.values())


def test_restart_true_dependents_restart_when_their_dependency_is_recreated(
    tmp_path: Path,
) -> None:
    engine = FakeEngine(JOB_DONE)
    run_up(engine, load(tmp_path))
    app_id = engine.container("app").id
    engine.calls.clear()
    outcomes = run_up(engine, load(tmp_path, SIZE="2"))
    assert actions(outcomes)["cache"] == "recreated"
    assert actions(outcomes)["app"] == "restarted"  # same container, restarted
    assert engine.container("app").id == app_id
    assert engine.services_called("restart") == ["app"]
    assert actions(outcomes)["job"] == "unchanged"  # it does not need cache


def test_a_finished_job_runs_again_only_when_a_dependency_was_recreated(
    tmp_path: Path,
) -> None:
    engine = FakeEngine(JOB_DONE)
    project = load(tmp_path)
    run_up(engine, project)
    job_id = engine.container("job").id
    engine.forget("db")  # the database container is lost
    engine.calls.clear()
    outcomes = run_up(engine, project)
    assert actions(outcomes) == {
        "cache": "unchanged",
        "db": "created",
        "job": "started",  # its bucket or migration may be missing in the new database
        "app": "unchanged",  # it only needs the job done and db started
    }
    assert engine.container("job").id == job_id
    assert engine.services_called("start") == ["db", "job"]


def test_a_stopped_service_is_started_again(tmp_path: Path) -> None:
    engine = FakeEngine(JOB_DONE)
    project = load(tmp_path)
    run_up(engine, project)
    engine.exit("cache", 137)
    outcomes = run_up(engine, project)
    assert actions(outcomes)["cache"] == "started"
    assert actions(outcomes)["app"] == "unchanged"  # `restart: true` is for a new cache only


def test_a_failed_job_names_itself_and_the_dependents_not_started(tmp_path: Path) -> None:
    engine = FakeEngine({"job": Behaviour(exit_code=3, logs="bucket creation failed\n")})
    with pytest.raises(UpFailed) as caught:
        run_up(engine, load(tmp_path))
    message = caught.value.message
    assert "service 'job' exited with code 3" in message
    assert "bucket creation failed" in message  # its last log lines
    assert "service 'app' not started: dependency job exited with code 3" in message
    assert "Left running: cache, db." in message
    assert "app" not in engine.services_called("create")
    assert engine.services_called("stop") == []  # the healthy ones stay up
    assert engine.container("db").status == "running"


def test_a_job_that_another_waits_for_is_not_ready_while_it_runs(tmp_path: Path) -> None:
    # Running without a healthcheck would be ready for a service, not for a job that
    # app waits on to complete: up must not report it as left running.
    engine = FakeEngine({"job": Behaviour(exit_code=None)})  # never finishes
    with pytest.raises(UpFailed) as caught:
        run_up(engine, load(tmp_path), timeout_s=0.2)
    assert "service 'job' not ready within 0.2s [state: running]" in caught.value.message
    assert "Left running: cache, db." in caught.value.message


def test_an_unhealthy_dependency_fails_service_healthy(tmp_path: Path) -> None:
    engine = FakeEngine({**JOB_DONE, "db": Behaviour(health="unhealthy", probe=False)})
    with pytest.raises(UpFailed) as caught:
        run_up(engine, load(tmp_path))
    assert "service 'db' is unhealthy" in caught.value.message
    assert "service 'job' not started: dependency db is unhealthy" in caught.value.message
    assert engine.services_called("create") == ["cache", "db"]


def test_a_missing_image_stops_everything_before_a_container_is_touched(
    tmp_path: Path,
) -> None:
    engine = FakeEngine(JOB_DONE, missing_images=frozenset({"img"}))
    with pytest.raises(Exception, match="missing images: img"):
        run_up(engine, load(tmp_path))
    assert engine.calls == []


def test_a_port_taken_at_start_is_reported_against_the_service(tmp_path: Path) -> None:
    error = "driver failed programming external connectivity: port is already allocated"
    engine = FakeEngine({**JOB_DONE, "cache": Behaviour(start_error=error)})
    with pytest.raises(UpFailed) as caught:
        run_up(engine, load(tmp_path))
    assert "service 'cache' port already allocated" in caught.value.message
    assert "service 'app' not started: its dependency cache failed" in caught.value.message


def test_ctrl_c_stops_the_run_and_a_rerun_finishes_it(tmp_path: Path) -> None:
    # db stays `starting` and its probe fails: job waits. Ctrl-C arrives then, as a real
    # SIGINT to the main thread, as a terminal sends it.
    engine = FakeEngine({**JOB_DONE, "db": Behaviour(health="starting", probe=False)})
    main = threading.main_thread().ident
    assert main is not None
    engine.on("start", "db", lambda: signal.pthread_kill(main, signal.SIGINT))
    project = load(tmp_path)
    # Python's own handler, also where the test runner was started with SIGINT ignored
    # (a background job of a shell without job control).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            run_up(engine, project, timeout_s=60)  # the timeout only bounds a failing test
    finally:
        signal.signal(signal.SIGINT, previous)
    assert "job" not in engine.services_called("create")
    assert "app" not in engine.services_called("create")
    engine.hooks.clear()
    engine.set_health("db", "healthy")
    outcomes = run_up(engine, project)
    assert actions(outcomes) == {
        "cache": "unchanged",
        "db": "unchanged",
        "job": "created",
        "app": "created",
    }


def test_down_stops_dependents_before_their_dependencies(tmp_path: Path) -> None:
    engine = FakeEngine(JOB_DONE)
    project = load(tmp_path)
    run_up(engine, project, "extra")
    events: list[Event] = []
    down(
        engine,
        project,
        plan_down(engine, project, None, remove_volumes=False),
        report=events.append,
    )
    removed = engine.services_called("remove")
    assert sorted(removed) == ["app", "cache", "db", "extra", "job"]
    assert removed.index("app") < removed.index("job") < removed.index("db")
    assert removed.index("app") < removed.index("cache")
    assert engine.services_called("stop") == [s for s in removed if s != "job"]  # job exited
    assert engine.containers("demo") == []
    assert engine.volumes("demo") == ["demo_data"]  # kept without --volumes
    assert engine.networks("demo") == []
    assert [e.subject for e in events if e.action == "removed"][-1] == "demo_default"


def test_down_with_a_profile_and_volumes_keeps_the_rest(tmp_path: Path) -> None:
    engine = FakeEngine(JOB_DONE)
    project = load(tmp_path)
    run_up(engine, project, "extra")
    plan = plan_down(engine, project, {"extra"}, remove_volumes=True)
    assert [c.service for c in plan.containers] == ["extra"]
    assert plan.volumes == ()  # db, which stays, uses the only volume
    down(engine, project, plan)
    assert sorted(c.service for c in engine.containers("demo")) == ["app", "cache", "db", "job"]
    assert [n.name for n in engine.networks("demo")] == ["demo_default"]  # still in use


# -- replicas ---------------------------------------------------------------------------------

REPLICAS = """\
services:
  db:
    image: img
    healthcheck: {test: ["CMD", "true"]}
  web:
    image: img
    scale: ${WEB:-3}
    environment: {SETTING: "${SETTING:-one}"}
    depends_on: {db: {condition: service_healthy}}
  worker:
    image: img
    deploy: {replicas: 2}
    depends_on: {web: {condition: service_started}}
"""


def containers_of(engine: FakeEngine, service: str) -> list[tuple[str, int]]:
    return sorted((c.name, c.number) for c in engine.containers("demo", service))


def test_replicas_are_numbered_containers_converged_to_the_count(tmp_path: Path) -> None:
    engine = FakeEngine()
    outcomes = run_up(engine, load(tmp_path, REPLICAS))
    assert containers_of(engine, "web") == [("demo-web-1", 1), ("demo-web-2", 2), ("demo-web-3", 3)]
    assert containers_of(engine, "worker") == [("demo-worker-1", 1), ("demo-worker-2", 2)]
    assert actions(outcomes) == {"db": "created", "web": "created", "worker": "created"}
    assert [len(o.container_ids) for o in outcomes] == [1, 3, 2]
    # worker started only once every web container had
    started = engine.services_called("start")
    assert started.index("worker") > max(i for i, s in enumerate(started) if s == "web")

    engine.calls.clear()
    assert set(actions(run_up(engine, load(tmp_path, REPLICAS))).values()) == {"unchanged"}
    assert engine.calls == []

    outcomes = run_up(engine, load(tmp_path, REPLICAS, WEB="1"))
    assert actions(outcomes)["web"] == "scaled"
    assert engine.services_called("remove") == ["web", "web"]
    assert containers_of(engine, "web") == [("demo-web-1", 1)]  # the highest numbers went

    engine.calls.clear()
    outcomes = run_up(engine, load(tmp_path, REPLICAS, WEB="2"))
    assert actions(outcomes)["web"] == "created"
    assert containers_of(engine, "web") == [("demo-web-1", 1), ("demo-web-2", 2)]
    assert engine.services_called("create") == ["web"]  # web-2 only

    outcomes = run_up(engine, load(tmp_path, REPLICAS, WEB="2", SETTING="two"))
    assert actions(outcomes)["web"] == "recreated"
    assert engine.services_called("create")[-2:] == ["web", "web"]


def test_a_failed_replica_is_named_with_its_container(tmp_path: Path) -> None:
    engine = FakeEngine({"web": Behaviour(exit_code=1, logs="cannot bind\n")})
    with pytest.raises(UpFailed) as caught:
        run_up(engine, load(tmp_path, REPLICAS))
    message = caught.value.message
    assert "service 'web' exited with code 1 [container demo-web-1, state: exited (1)]" in message
    assert "cannot bind" in message
    assert "service 'worker' not started: dependency web exited with code 1" in message


def test_one_host_port_for_several_replicas_is_refused_before_anything_starts(
    tmp_path: Path,
) -> None:
    engine = FakeEngine()
    text = REPLICAS.replace("    scale: ${WEB:-3}\n", "    scale: 3\n    ports: ['8080:80']\n")
    with pytest.raises(UserError) as caught:
        run_up(engine, load(tmp_path, text))
    assert "service 'web' runs 3 containers (`scale` at " in caught.value.message
    assert '"8080-8082:80"' in caught.value.message
    assert engine.calls == []


def test_down_status_and_logs_cover_every_replica(tmp_path: Path) -> None:
    engine = FakeEngine({"web": Behaviour(logs="hello\nworld\n")})
    project = load(tmp_path, REPLICAS)
    run_up(engine, project)
    rows = project_status(engine, project)
    assert [(r.service, r.container) for r in rows] == [
        ("db", "demo-db-1"),
        ("web", "demo-web-1"),
        ("web", "demo-web-2"),
        ("web", "demo-web-3"),
        ("worker", "demo-worker-1"),
        ("worker", "demo-worker-2"),
    ]
    logged = b"".join(service_logs(engine, project, "web", follow=False, tail=None))
    assert sorted(logged.decode().splitlines()) == sorted(
        f"web-{n}  | {word}" for n in (1, 2, 3) for word in ("hello", "world")
    )
    down(engine, project, plan_down(engine, project, None, remove_volumes=False))
    removed = engine.services_called("remove")
    assert removed.count("web") == 3 and removed.count("worker") == 2
    assert max(i for i, s in enumerate(removed) if s == "worker") < removed.index("web")
    assert engine.containers("demo") == []


# -- when up returns ------------------------------------------------------------------------


def test_dependents_start_on_our_check_but_up_returns_when_the_engine_says_healthy(
    tmp_path: Path,
) -> None:
    # The engine says `starting` until its first check; ours passes at once.
    engine = FakeEngine({**JOB_DONE, "db": Behaviour(health="starting")})
    db_health_when_job_was_created: list[str] = []

    def job_created() -> None:
        db_health_when_job_was_created.append(engine.container("db").health)
        engine.set_health("db", "healthy")  # the engine's own check comes later

    engine.on("create", "job", job_created)
    events: list[Event] = []
    run_up(engine, load(tmp_path), report=events.append)
    assert db_health_when_job_was_created == ["starting"]  # the early start is kept
    said = [(e.subject, e.action) for e in events]
    assert said.index(("db", "healthcheck passed")) < said.index(("job", "created"))
    assert ("db", "healthy") in said  # reported once the engine agreed


def test_up_does_not_report_ready_while_the_engine_says_starting(tmp_path: Path) -> None:
    engine = FakeEngine({**JOB_DONE, "db": Behaviour(health="starting")})  # never healthy
    with pytest.raises(UpFailed) as caught:
        run_up(engine, load(tmp_path), timeout_s=0.3)
    assert "service 'db' not ready within 0.3s [state: running (starting)]" in caught.value.message
    assert engine.container("app").status == "running"  # started early, on our check
