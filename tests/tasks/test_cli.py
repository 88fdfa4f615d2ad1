"""The command-line conventions every task shares (tasks/_cli.py): short flags, numeric
options, empty repeatable values, `inv --dry`, the error edge, settings, confirmation."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from invoke import Config, Context, Exit

from tasks._cli import confirm, namespace, setting, task
from vpmigrate.errors import UserError

REPO_ROOT = Path(__file__).resolve().parents[2]


def inv(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def flags_of(task_name: str) -> str:
    result = inv("--help", task_name)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("name", ["local.up", "local.down", "local.status", "local.logs"])
def test_short_flags_follow_compose_in_every_local_task(name):
    text = flags_of(name)
    assert "-f, --file" in text
    assert "-p STRING, --project-name=STRING" in text
    # --profile has no short flag (Compose has none): -p is never the profile.
    assert "-p, --profile" not in text


def test_logs_follow_has_no_short_flag_so_f_stays_the_file():
    text = flags_of("local.logs")
    assert "  --follow" in text
    assert "-n, --tail" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["local.up", "--timeout", "abc"], "--timeout takes a number, not 'abc'"),
        (["local.up", "-t", "nan"], "--timeout takes a number of 0 or more"),
        (["local.logs", "web", "--tail", "-3"], "--tail takes a number of 0 or more"),
        (["local.logs", "web", "--tail", "2.5"], "--tail takes a whole number"),
    ],
)
def test_bad_numbers_are_one_line_errors(args, message):
    result = inv(*args)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["local.down", "--profile", ""],
        ["local.up", "--profile", "mvp", "--profile", " "],
        ["railway.sync-env", "--service", ""],
        ["cleanup.unused", "--path", ""],
    ],
)
def test_an_empty_repeatable_value_is_an_error_never_everything(args):
    result = inv(*args)
    assert result.returncode == 1
    flag = next(a for a in args if a.startswith("--"))
    assert f"error: {flag} was given an empty value" in result.stderr
    assert "Traceback" not in result.stderr


def test_inv_dry_refuses_a_task_without_a_dry_run():
    result = inv("--dry", "local.up", "--profile", "mvp")
    assert result.returncode == 1
    assert "`inv --dry local.up`: this task has no dry run" in result.stderr


def test_inv_dry_runs_compose_split_as_its_dry_run(tmp_path):
    source = tmp_path / "docker-compose.yml"
    shutil.copy(REPO_ROOT / "compose" / "docker-compose.yml", source)
    plan = tmp_path / "split-plan.yml"
    shutil.copy(REPO_ROOT / "compose" / "split-plan.yml", plan)
    before = sorted(p.name for p in tmp_path.iterdir())
    result = inv("--dry", "compose.split", "--source", str(source), "--plan", str(plan))
    assert result.returncode == 0, result.stderr
    assert "dry run: not written" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_numeric_options_arrive_as_numbers():
    seen: dict[str, object] = {}

    @task
    def probe(c, timeout: float | None = None, tail: int | None = None):
        seen.update(timeout=timeout, tail=tail)

    args = {a.name: a for a in probe.get_arguments()}
    probe(Context(), timeout=args["timeout"].kind("2.5"), tail=args["tail"].kind("7"))
    assert seen == {"timeout": 2.5, "tail": 7}


def test_an_unexpected_exception_is_one_paragraph_naming_the_task(monkeypatch):
    monkeypatch.delenv("VPM_DEBUG", raising=False)

    @task
    def explode(c):
        raise KeyError("no such thing")

    with pytest.raises(Exit) as caught:
        explode(Context())
    message = str(caught.value.message)
    assert message.startswith("error: unexpected KeyError in test_cli.explode:")
    assert "'no such thing'" in message
    assert "inv --debug" in message and "VPM_DEBUG=1" in message
    assert caught.value.code == 1


def test_vpm_debug_lets_the_traceback_through(monkeypatch):
    monkeypatch.setenv("VPM_DEBUG", "1")

    @task
    def explode(c):
        raise KeyError("no such thing")

    with pytest.raises(KeyError):
        explode(Context())


def test_expected_failures_keep_their_exit_code():
    @task
    def refuse(c):
        raise UserError("the file is wrong", exit_code=2)

    with pytest.raises(Exit) as caught:
        refuse(Context())
    assert caught.value.message == "error: the file is wrong"
    assert caught.value.code == 2


def test_a_flag_beats_the_config_which_beats_the_default():
    @task
    def noop(c):
        pass

    namespace("probe-ns", noop, defaults={"timeout": 300, "files": ["a.yml"]})
    configured = Context(Config(overrides={"probe-ns": {"timeout": 20}}))
    assert setting(configured, "probe-ns", "timeout", 5) == 5
    assert setting(configured, "probe-ns", "timeout") == 20
    assert setting(Context(), "probe-ns", "timeout") == 300
    assert setting(Context(), "probe-ns", "files", []) == ["a.yml"]  # an empty list is "not given"


def test_confirm_refuses_without_a_terminal(monkeypatch, capsys):
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    with pytest.raises(UserError, match="nothing changed"):
        confirm("Remove it?", "nothing changed; re-run with --yes")
    assert capsys.readouterr().out == ""


def test_confirm_asks_on_stderr_and_accepts_yes(monkeypatch, capsys):
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("yes\n"))
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    confirm("Remove it?", "refused")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Remove it? [y/N]" in captured.err


def test_the_edge_masks_secrets_in_every_error(monkeypatch):
    monkeypatch.delenv("VPM_DEBUG", raising=False)
    monkeypatch.setenv("SHOP_DB_PASSWORD", "hunter2-marker-77")

    @task
    def leak_expected(c):
        raise UserError(
            "cannot reach postgres://admin:pw-marker-55@db:5432/app (hunter2-marker-77)"
        )

    @task
    def leak_unexpected(c):
        raise RuntimeError("bad value hunter2-marker-77\n\x1b[31mforged line")

    with pytest.raises(Exit) as expected:
        leak_expected(Context())
    text = str(expected.value.message)
    assert "pw-marker-55" not in text and "hunter2-marker-77" not in text
    assert "postgres://admin:***@db:5432/app" in text and "${SHOP_DB_PASSWORD}" in text

    with pytest.raises(Exit) as unexpected:
        leak_unexpected(Context())
    text = str(unexpected.value.message)
    assert "hunter2-marker-77" not in text
    assert "\x1b" not in text and "\n" not in text


def test_what_a_task_learns_is_secret_is_masked_in_all_it_prints(monkeypatch, capsys):
    from tasks._cli import info, keep_secret, out

    monkeypatch.delenv("VPM_DEBUG", raising=False)
    keep_secret("learned-marker-31")
    out("result: learned-marker-31 at redis://:pw-marker-32@cache:6379")
    info("progress: learned-marker-31")

    @task
    def check(c):
        raise Exit("out of date: learned-marker-31", code=1)

    with pytest.raises(Exit) as caught:
        check(Context())
    captured = capsys.readouterr()
    assert captured.out == "result: *** at redis://:***@cache:6379\n"
    assert captured.err == "progress: ***\n"
    assert caught.value.message == "out of date: ***" and caught.value.code == 1


def test_the_current_folder_is_not_masked_as_a_password():
    result = inv("local.status", "--file", "compose/no-such-file.yml")
    assert result.returncode == 1
    assert f"{REPO_ROOT}/compose/no-such-file.yml" in result.stderr
    assert "${PWD}" not in result.stderr


def test_a_short_secret_value_does_not_garble_messages():
    result = inv("local.status", "--file", "/tmp/no-such-file-1.yml", env={"DISABLE_AUTH": "1"})
    assert result.returncode == 1
    assert "/tmp/no-such-file-1.yml" in result.stderr


def test_namespace_modules_do_not_shadow_the_packages_the_tasks_use():
    """Invoke imports tasks/ by putting that folder on sys.path; `local.verify` then
    imported tasks/mlflow.py as `mlflow` and its tracking check failed on every stack."""
    repo = Path(__file__).resolve().parents[2]
    probe = (
        "from invoke.config import Config\n"
        "from invoke.loader import FilesystemLoader\n"
        "FilesystemLoader(config=Config()).load('tasks')\n"
        "import mlflow\n"
        "print(mlflow.__file__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=repo, capture_output=True, text=True, check=True
    )
    loaded = Path(done.stdout.strip())
    assert repo / "tasks" not in loaded.parents, loaded
