"""The decisions of `up` and `down`, against the in-memory engine (tests/engine/fake.py):
order forwards and backwards, what is left unchanged, recreated or restarted, when a
one-shot job runs again, what a failure leaves behind, and Ctrl-C.

The real-engine tests beside this file prove the same behaviour end to end."""

from __future__ import annotations

import signal
import textwrap
import threading
from pathlib import Path

import pytest

from tests.engine.fake import Behaviour, FakeEngine
from vpmigrate.compose.loader import load_project
from vpmigrate.compose.model import Project
from vpmigrate.compose.profiles import active_profiles, select_services
from vpmigrate.engine.down import down, plan_down
from vpmigrate.engine.events import Event
from vpmigrate.engine.up import ServiceOutcome, UpFailed, up

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
