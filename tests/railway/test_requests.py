"""Railway's request quota: a constant number of requests per environment, whatever the
number of services, counted by the stand-in at 6 and at 30 services."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.railway.conftest import SECRET_KEY, Wide, World, _wide, run_inv


def operations(world: World, since: int = 0) -> list[str | None]:
    return [r.operation for r in world.api.requests[since:]]


def test_an_in_sync_check_costs_two_requests(wide: Wide) -> None:
    world = wide.world
    assert run_inv(world, "railway.sync-env", "--file", str(wide.file)).returncode == 0
    before = len(world.api.requests)

    check = run_inv(world, "railway.status", "--check", "--file", str(wide.file))
    sync = run_inv(world, "railway.sync-env", "--file", str(wide.file))

    assert check.returncode == 0, check.stderr
    assert sync.returncode == 0 and "in sync" in sync.stderr
    assert operations(world, before) == ["Project", "Variables"] * 2


def test_a_first_sync_costs_at_most_four_requests(wide: Wide) -> None:
    world = wide.world

    result = run_inv(world, "railway.sync-env", "--file", str(wide.file), "--verbose")

    assert result.returncode == 0, result.stderr
    assert operations(world) == ["Project", "Variables", "VariableWrites", "Redeploys"]
    assert "requests sent: 4" in result.stderr
    for name in wide.services:
        assert world.vars(name)["AWS_SECRET_ACCESS_KEY"] == "${{shared.AWS_SECRET_ACCESS_KEY}}"
        assert world.vars(name)["KEEP_ME"] == "1"
        assert world.redeploys(name) == 1
    assert world.shared()["AWS_SECRET_ACCESS_KEY"] == SECRET_KEY
    [write] = world.api.requests_for("VariableWrites")
    assert len(write.fields) == len(wide.services) + 1  # every service and the shared ones
    [redeploy] = world.api.requests_for("Redeploys")
    assert len(redeploy.fields) == len(wide.services)


def test_every_environment_in_one_run_costs_one_read_and_one_write_each(wide: Wide) -> None:
    world = wide.world

    result = run_inv(
        world, "railway.sync-env", "--file", str(wide.file), "--all-environments", "--json"
    )

    assert result.returncode == 0, result.stderr
    assert operations(world) == [
        "Project",
        "Variables",
        "Variables",
        "VariableWrites",
        "Redeploys",
        "VariableWrites",
        "Redeploys",
    ]
    plans = json.loads(result.stdout)["environments"]
    assert [p["environment"] for p in plans] == ["production", "staging"]
    for env in ("production", "staging"):
        assert world.shared(env)["AWS_ACCESS_KEY_ID"]
        assert world.redeploys(wide.services[-1], env) == 1
    before = len(world.api.requests)

    check = run_inv(
        world,
        "railway.status",
        "--check",
        "-e",
        "production",
        "-e",
        "staging",
        "--file",
        str(wide.file),
    )

    assert check.returncode == 0, check.stderr
    assert operations(world, before) == ["Project", "Variables", "Variables"]


def test_a_document_refused_as_too_complex_falls_back_to_smaller_batches(wide: Wide) -> None:
    world = wide.world
    world.api.max_root_fields = 4

    first = run_inv(world, "railway.sync-env", "--file", str(wide.file))

    assert first.returncode == 0, first.stderr
    assert first.stderr.count("sending smaller batches") == 1  # said once, on stderr
    assert "sending smaller batches" not in first.stdout
    for name in wide.services:
        assert world.vars(name)["WORKERS"] == "4"
        assert world.redeploys(name) == 1
    accepted = [r for r in world.api.requests if len(r.fields) <= 4]
    refused = [r for r in world.api.requests if len(r.fields) > 4]
    assert refused  # the first try of each kind of document
    assert all(len(r.fields) <= 4 for r in accepted)
    before = len(world.api.requests)

    check = run_inv(world, "railway.status", "--check", "--file", str(wide.file))

    assert check.returncode == 0, check.stderr
    reads = [r for r in world.api.requests[before:] if r.operation == "Variables"]
    scopes = len(wide.services) + 2  # every service (Postgres too) and the shared variables
    assert sum(len(r.fields) for r in reads if len(r.fields) <= 4) == scopes
    assert len([r for r in reads if len(r.fields) <= 4]) == (scopes + 3) // 4


def test_a_request_body_refused_as_too_large_falls_back_too(wide: Wide) -> None:
    world = wide.world
    world.api.max_body_bytes = 3000

    result = run_inv(world, "railway.sync-env", "--file", str(wide.file))

    assert result.returncode == 0, result.stderr
    assert result.stderr.count("sending smaller batches") == 1
    assert all(world.vars(n)["WORKERS"] == "4" for n in wide.services)


@pytest.mark.parametrize("style", ["field", "http-400"])
def test_other_wordings_of_too_complex_fall_back_too(tmp_path: Path, style: str) -> None:
    """Servers also name the costly field (with a validation code), or answer HTTP 400."""
    for wide in _wide(tmp_path, 6):
        world = wide.world
        world.api.max_root_fields = 3
        world.api.too_complex_style = style

        result = run_inv(world, "railway.sync-env", "--file", str(wide.file))

        assert result.returncode == 0, result.stderr
        assert result.stderr.count("sending smaller batches") == 1
        assert all(world.redeploys(n) == 1 for n in wide.services)
