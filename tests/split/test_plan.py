"""The split plan: refused plans say what is wrong, where, and what to do."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.split.helpers import FIXTURES, MONOLITH, PLAN
from vpmigrate.errors import UserError
from vpmigrate.split.plan import load_plan
from vpmigrate.split.render import check_relative_paths, render

TRICKY = FIXTURES / "tricky-compose.yml"
TRICKY_PLAN = FIXTURES / "tricky-plan.yml"

DEFAULT_GROUPS = """\
groups:
  mvp: [postgres, mlflow, minio, minio-init]
  monitoring: [prometheus, grafana]
  tools: [pgadmin, mongo-express]
  future: [mongodb, redis, temporal, mailhog]
"""
DEFAULT_OUTPUTS = """\
outputs:
  docker-compose.mvp.yml:
    always_on: [mvp]
    profiles: [monitoring]
  docker-compose.full.yml:
    profiles: [mvp, monitoring, tools, future]
"""


def render_with(tmp_path: Path, plan_text: str, source: Path = MONOLITH):
    plan_file = tmp_path / "plan.yml"
    plan_file.write_text(plan_text)
    return render(source.read_text(), source, load_plan(plan_file))


def test_the_shipped_plan_is_the_audit_verdict():
    plan = load_plan(PLAN)
    assert {group: set(services) for group, services in plan.groups.items()} == {
        "mvp": {"postgres", "mlflow", "minio", "minio-init"},
        "monitoring": {"prometheus", "grafana"},
        "tools": {"pgadmin", "mongo-express"},
        "future": {"mongodb", "redis", "temporal", "mailhog"},
    }


def test_unknown_service_is_refused_with_the_plan_line(tmp_path):
    plan = DEFAULT_GROUPS.replace("[pgadmin,", "[pgadmin, nginx,") + DEFAULT_OUTPUTS
    with pytest.raises(UserError) as caught:
        render_with(tmp_path, plan)
    message = caught.value.message
    assert message.startswith(f"{tmp_path / 'plan.yml'}:4:")
    assert "'nginx'" in message and "does not define" in message


def test_service_in_two_groups_is_refused_naming_both(tmp_path):
    plan = DEFAULT_GROUPS.replace("[prometheus, grafana]", "[prometheus, grafana, redis]")
    with pytest.raises(UserError) as caught:
        render_with(tmp_path, plan + DEFAULT_OUTPUTS)
    message = caught.value.message
    assert "'redis' is in two groups, 'monitoring'" in message
    assert f"{tmp_path / 'plan.yml'}:5" in message  # the second entry, in `future`


def test_service_in_no_group_is_refused_naming_the_monolith_line(tmp_path):
    plan = DEFAULT_GROUPS.replace(", mailhog]", "]") + DEFAULT_OUTPUTS
    line = MONOLITH.read_text().splitlines().index("  mailhog:") + 1
    with pytest.raises(UserError, match=rf"^{MONOLITH}:{line}: service 'mailhog' is in no group"):
        render_with(tmp_path, plan)


def profiles_of(body: str) -> dict[str, list[str] | None]:
    services = yaml.safe_load(body)["services"]
    return {name: definition.get("profiles") for name, definition in services.items()}


def test_a_dependency_shared_by_two_groups_carries_both_profiles(tmp_path):
    # the shipped case: temporal (future) needs postgres (mvp); mongo-express (tools)
    # needs mongodb (future)
    outputs, _ = render_with(tmp_path, DEFAULT_GROUPS + DEFAULT_OUTPUTS)
    full = next(o for o in outputs if o.file == "docker-compose.full.yml")
    profiles = profiles_of(full.body)
    assert profiles["postgres"] == ["mvp", "future"]
    assert profiles["mongodb"] == ["future", "tools"]
    assert profiles["temporal"] == ["future"] and profiles["mlflow"] == ["mvp"]
    assert "docker-compose.full.yml: postgres gets profiles [mvp, future] (needed by temporal)" in (
        full.notes
    )
    mvp = next(o for o in outputs if o.file == "docker-compose.mvp.yml")
    assert profiles_of(mvp.body)["postgres"] is None  # always on there: nothing to widen
    assert not any("postgres" in note for note in mvp.notes)


def test_a_dependency_of_an_always_on_service_becomes_always_on(tmp_path):
    # mlflow (mvp, always on in the MVP file) needs minio-init, which the plan moves to
    # `future`, a group the MVP file does not keep: it comes along, always on
    plan = DEFAULT_GROUPS.replace(", minio-init]", "]")
    plan = plan.replace("[mongodb,", "[minio-init, mongodb,")
    outputs, _ = render_with(tmp_path, plan + DEFAULT_OUTPUTS)
    mvp = next(o for o in outputs if o.file == "docker-compose.mvp.yml")
    assert "minio-init" in mvp.services
    assert profiles_of(mvp.body)["minio-init"] is None
    assert any("minio-init is always on (needed by always-on mlflow)" in n for n in mvp.notes)


def test_shared_profiles_follow_a_chain_of_dependencies(tmp_path):
    # grafana (monitoring) needs prometheus, moved to tools, which needs minio (mvp):
    # prometheus gets [tools, monitoring], minio gets [mvp, tools, monitoring]
    source = tmp_path / "compose.yml"
    source.write_text(
        "services:\n"
        "  minio: {image: x}\n"
        "  prometheus: {image: x, depends_on: [minio]}\n"
        "  grafana: {image: x, depends_on: {prometheus: {condition: service_started}}}\n"
    )
    plan = (
        "groups: {mvp: [minio], tools: [prometheus], monitoring: [grafana]}\n"
        "outputs:\n  full.yml: {profiles: [mvp, tools, monitoring]}\n"
    )
    outputs, _ = render_with(tmp_path, plan, source)
    assert profiles_of(outputs[0].body) == {
        "minio": ["mvp", "tools", "monitoring"],
        "prometheus": ["tools", "monitoring"],
        "grafana": ["monitoring"],
    }


def test_an_extends_base_left_out_of_an_output_is_refused(tmp_path):
    source = tmp_path / "compose.yml"
    source.write_text("services:\n  base: {image: x}\n  web: {extends: {service: base}}\n")
    plan = "groups: {mvp: [web], future: [base]}\noutputs:\n  mvp.yml: {always_on: [mvp]}\n"
    with pytest.raises(UserError, match=r"in mvp.yml, service 'web' extends 'base'.*leaves"):
        render_with(tmp_path, plan, source)


def test_optional_dependency_on_a_dropped_service_is_removed_from_that_file(tmp_path):
    outputs, _ = render(TRICKY.read_text(), TRICKY, load_plan(TRICKY_PLAN))
    mvp = yaml.safe_load(outputs[0].body)
    assert set(mvp["services"]["web"]["depends_on"]) == {"db"}
    assert any("optional dependency on cache" in note for note in outputs[0].notes)
    full = yaml.safe_load(outputs[1].body)
    assert full["services"]["web"]["depends_on"]["cache"]["required"] is False


@pytest.mark.parametrize(
    ("plan", "expected"),
    [
        ("groups: {mvp: [a]}\n", r"`outputs:` must map"),
        (DEFAULT_GROUPS + "outputs:\n  x.yml:\n    always_on: [nope]\n", r"group 'nope'.*not"),
        (DEFAULT_GROUPS + "outputs:\n  ../x.yml: {profiles: [mvp]}\n", r"plain file name"),
        (
            DEFAULT_GROUPS + "outputs:\n  x.yml: {always_on: [mvp], profiles: [mvp]}\n",
            r"names group 'mvp' twice",
        ),
        (DEFAULT_GROUPS + DEFAULT_OUTPUTS + "extra: 1\n", r":12: unknown key 'extra'"),
        ("groups:\n  mvp: postgres\n" + DEFAULT_OUTPUTS, r":2: group 'mvp' must be a list"),
        ("groups:\n  'bad name': [a]\n" + DEFAULT_OUTPUTS, r"not a valid profile name"),
        ("groups: [\n", r"plan\.yml:2: invalid YAML"),
    ],
)
def test_malformed_plans_are_refused(tmp_path, plan, expected):
    with pytest.raises(UserError, match=expected):
        render_with(tmp_path, plan)


def test_missing_plan_file_says_how_to_fix_it(tmp_path):
    with pytest.raises(UserError, match=r"absent\.yml: the split plan does not exist.*--plan"):
        load_plan(tmp_path / "absent.yml")


def test_outputs_away_from_the_monolith_are_refused_when_paths_are_relative(tmp_path):
    from vpmigrate.split import roundtrip

    services = roundtrip.load(MONOLITH.read_text(), MONOLITH).services
    line = MONOLITH.read_text().splitlines().index("    env_file: ../env/local.env") + 1
    with pytest.raises(UserError, match=rf"^{MONOLITH}:{line}: service 'postgres'.*env_file"):
        check_relative_paths(services, MONOLITH, tmp_path)
    check_relative_paths(services, MONOLITH, MONOLITH.parent)  # next to it: fine
