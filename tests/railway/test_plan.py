"""The plan is a pure diff; what it shows never includes a secret value."""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType

from vpmigrate.compose.model import Location
from vpmigrate.railway.desired import DesiredState, DesiredVariable, MlflowSettings
from vpmigrate.railway.plan import make_plan, plan_json, plan_rows, status_rows
from vpmigrate.railway.secrets import fingerprint, is_secret_name, looks_secret

HERE = Location(Path("env/railway.yml"), 1)
MLFLOW = MlflowSettings("mlflow-service", 5000, False, None, None, None, HERE)


def desired(**services: dict[str, tuple[str, bool]]) -> DesiredState:
    return DesiredState(
        Path("env/railway.yml"),
        "production",
        "aws",
        MLFLOW,
        MappingProxyType(
            {
                name: tuple(DesiredVariable(name, k, v, s, HERE) for k, (v, s) in variables.items())
                for name, variables in services.items()
            }
        ),
    )


STATE = desired(
    api={
        "SAME": ("1", False),
        "NEW": ("2", False),
        "CHANGED": ("3", False),
        "KEY": ("new-secret", True),
        "SEALED": ("x", True),
    }
)
CURRENT = {
    "api": {
        "SAME": "1",
        "CHANGED": "old",
        "KEY": "old-secret",
        "SEALED": None,
        "EXTRA": "e",
        "RAILWAY_PRIVATE_DOMAIN": "api.railway.internal",  # provided by Railway
    }
}


def actions(plan) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {c.name: c.action for c in plan.changes}


def test_plan_classifies_each_variable() -> None:
    plan = make_plan(STATE, CURRENT)

    assert actions(plan) == {
        "SAME": "unchanged",
        "NEW": "add",
        "CHANGED": "change",
        "KEY": "change",
        "SEALED": "sealed",
    }
    assert plan.upserts("api") == {"NEW": "2", "CHANGED": "3", "KEY": "new-secret"}
    assert plan.deletions("api") == ()


def test_prune_plans_removal_of_undeclared_variables_only_when_asked() -> None:
    # Railway's own RAILWAY_* variables are never planned for removal.
    assert make_plan(STATE, CURRENT, prune=True).deletions("api") == ("EXTRA",)
    assert "EXTRA" not in actions(make_plan(STATE, CURRENT))


def test_in_sync_plan_has_nothing_to_write() -> None:
    plan = make_plan(desired(api={"A": ("1", False)}), {"api": {"A": "1"}})

    assert plan.pending == () and plan.services_to_write() == ()


def test_rows_and_json_show_fingerprints_for_secrets() -> None:
    plan = make_plan(STATE, CURRENT, prune=True)

    shown = json.dumps(plan_rows(plan, "k")) + json.dumps(plan_json(plan, "k"))
    shown += json.dumps(status_rows(plan, "k"))

    assert "new-secret" not in shown and "old-secret" not in shown
    assert fingerprint("new-secret", "k") in shown and fingerprint("old-secret", "k") in shown
    # Desired values that are not secret stay readable; what Railway holds never shows.
    assert f'"CHANGED", "change", "{fingerprint("old", "k")}", "3"' in shown
    assert '"old"' not in shown and '"e"' not in shown
    assert f'"EXTRA", "extra", "{fingerprint("e", "k")}"' in shown
    entry = next(c for c in plan_json(plan, "k")["changes"] if c["name"] == "KEY")
    assert set(entry) >= {"service", "name", "action", "secret"} and entry["secret"] is True


def test_values_read_from_railway_never_show_whatever_their_name() -> None:
    state = desired(api={"DATABASE_URL": ("${{Postgres.DATABASE_URL}}", False)})
    current = {"api": {"DATABASE_URL": "postgresql://u:hunter2@db:5432/x", "NOTES": "n0tes"}}
    plan = make_plan(state, current, prune=True)

    shown = json.dumps(plan_rows(plan, "k")) + json.dumps(status_rows(plan, "k"))
    shown += json.dumps(plan_json(plan, "k"))
    assert "hunter2" not in shown and "n0tes" not in shown
    assert fingerprint("n0tes", "k") in shown
    assert "${{Postgres.DATABASE_URL}}" in shown  # the desired reference holds no secret


def test_a_desired_value_carrying_a_password_is_fingerprinted() -> None:
    state = desired(api={"BROKER": ("amqp://app:hunter2@mq/", False)})

    shown = json.dumps(plan_rows(make_plan(state, {"api": {}}), "k"))

    assert "hunter2" not in shown and fingerprint("amqp://app:hunter2@mq/", "k") in shown


def test_shared_variables_are_planned_first_and_their_users_found() -> None:
    from vpmigrate.railway.plan import shared_users

    state = DesiredState(
        Path("env/railway.yml"),
        "production",
        "aws",
        MLFLOW,
        MappingProxyType({"api": (DesiredVariable("api", "K", "${{shared.K}}", False, HERE),)}),
        (DesiredVariable("shared", "K", "new", True, HERE),),
    )
    current = {
        "shared": {"K": "old", "STALE": "x"},
        "api": {},
        "web": {"K": "${{ shared.K }}", "L": "${{shared.STALE}}"},
    }

    plan = make_plan(state, current, prune=True)

    assert [(c.service, c.name, c.action) for c in plan.changes] == [
        ("shared", "K", "change"),
        ("shared", "STALE", "remove"),
        ("api", "K", "add"),
    ]
    assert plan.changed_shared() == {"K", "STALE"}
    assert shared_users(current) == {"K": ("web",), "STALE": ("web",)}
    assert plan.desired_shared_users() == {"K": ("api",)}
    [shared_write, api_write] = plan.writes({"api": "svc-1"})
    assert shared_write.service_id is None and shared_write.deletions == ("STALE",)
    assert api_write.service_id == "svc-1"


def test_fingerprint_is_keyed_and_stable() -> None:
    assert fingerprint("minioadmin", "a") == fingerprint("minioadmin", "a")
    assert fingerprint("minioadmin", "a") != fingerprint("minioadmin", "b")
    assert fingerprint("minioadmin", "a") != fingerprint("minioadmin2", "a")
    assert fingerprint(None, "a") == "sealed"


def test_secret_names_and_values() -> None:
    for name in (
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "DB_PASSWORD",
        "API_TOKEN",
        "R2_SECRET",
    ):
        assert is_secret_name(name), name
    for name in ("RAILWAY_PRIVATE_DOMAIN", "MLFLOW_TRACKING_URI", "AWS_DEFAULT_REGION", "PORT"):
        assert not is_secret_name(name), name
    assert looks_secret("postgresql://admin:devpass@postgres:5432/db")
    assert not looks_secret("http://${{mlflow-service.RAILWAY_PRIVATE_DOMAIN}}:5000")
