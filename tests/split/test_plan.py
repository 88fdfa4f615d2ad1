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


def test_always_on_service_depending_on_a_future_one_is_refused(tmp_path):
    # mlflow (mvp, always on) would need minio-init, which the plan moves to `future`
    plan = DEFAULT_GROUPS.replace(", minio-init]", "]")
    plan = plan.replace("[mongodb,", "[minio-init, mongodb,")
    with pytest.raises(UserError) as caught:
        render_with(tmp_path, plan + DEFAULT_OUTPUTS)
    message = caught.value.message
    assert "in docker-compose.mvp.yml, service 'mlflow'" in message
    assert "requires 'minio-init'" in message
    assert "leaves 'minio-init' (group 'future') out" in message
    assert "required: false" in message


def test_dependency_on_another_inactive_profile_is_refused(tmp_path):
    # grafana (monitoring) depending on prometheus moved to tools: not active with grafana
    plan = DEFAULT_GROUPS.replace("[prometheus, grafana]", "[grafana]").replace(
        "[pgadmin,", "[prometheus, pgadmin,"
    )
    full_only = "outputs:\n  full.yml: {profiles: [mvp, monitoring, tools, future]}\n"
    with pytest.raises(UserError, match=r"in full.yml.*keeps 'prometheus' behind profile 'tools'"):
        render_with(tmp_path, plan + full_only)


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
