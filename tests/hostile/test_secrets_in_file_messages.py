"""Issue 15: messages about the user's files never show a value that may be a secret.
Each case plants a marker secret (in `.env`, the environment or the file itself), makes
a task fail on it, and checks that the one `error:` paragraph names the file, line,
key or variable instead, and that the marker appears nowhere in the output."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests.hostile.kit import assert_refused, run_inv, shared_folder

MARK = "Marker-Secret-7f3a9"  # a value that must never be printed
DOTENV = f"POSTGRES_PASSWORD={MARK}-pg\nAWS_SECRET_ACCESS_KEY={MARK}-aws\n"
RAILWAY_ENV = {
    "RAILWAY_API_TOKEN": f"{MARK}-token",
    "RAILWAY_PROJECT_ID": "hostile-project",
    "RAILWAY_API_URL": "http://127.0.0.1:9/graphql/v2",
}


@dataclass(frozen=True)
class Case:
    name: str
    files: dict[str, str]  # written into the folder
    args: tuple[str, ...]  # {dir} is the folder
    phrases: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)


def _compose(service_body: str) -> dict[str, str]:
    return {
        ".env": DOTENV,
        "compose.yml": f"services:\n  db:\n    image: busybox\n{service_body}",
    }


STATUS = ("local.status", "--file", "{dir}/compose.yml")

CASES = (
    Case(
        "password-as-port",
        _compose('    ports: ["${POSTGRES_PASSWORD}:5432"]\n'),
        STATUS,
        ("compose.yml:4:", "ports[0]", "'${POSTGRES_PASSWORD}:5432'"),
    ),
    Case(
        "password-as-host-port",
        _compose('    ports: ["127.0.0.1:${POSTGRES_PASSWORD}:80"]\n'),
        STATUS,
        ("compose.yml:4:", "${POSTGRES_PASSWORD}"),
    ),
    Case(
        "password-as-protocol",
        _compose('    ports: ["80:80/${POSTGRES_PASSWORD}"]\n'),
        STATUS,
        ("compose.yml:4:", "${POSTGRES_PASSWORD}"),
    ),
    Case(
        "secret-as-restart-policy",
        _compose("    restart: ${AWS_SECRET_ACCESS_KEY}\n"),
        STATUS,
        ("compose.yml:4:", "restart", "'${AWS_SECRET_ACCESS_KEY}'"),
    ),
    Case(
        "secret-as-duration",
        _compose("    healthcheck:\n      interval: ${POSTGRES_PASSWORD}\n"),
        STATUS,
        ("compose.yml:5:", "interval", "${POSTGRES_PASSWORD}"),
    ),
    Case(
        "password-as-boolean",
        _compose("    privileged: ${POSTGRES_PASSWORD}\n"),
        STATUS,
        ("compose.yml:4:", "privileged", "'${POSTGRES_PASSWORD}'"),
    ),
    Case(
        "password-as-number",
        _compose("    cpus: ${POSTGRES_PASSWORD}\n"),
        STATUS,
        ("compose.yml:4:", "cpus", "'${POSTGRES_PASSWORD}'"),
    ),
    Case(
        "secret-from-the-shell",
        _compose("    restart: ${SHELL_TOKEN}\n"),
        STATUS,
        ("compose.yml:4:", "${SHELL_TOKEN}"),
        env={"SHELL_TOKEN": f"{MARK}-shell"},
    ),
    Case(
        "unterminated-after-a-url-password",
        _compose(f'    environment:\n      URL: "postgres://admin:{MARK}@db/${{DB"\n'),
        STATUS,
        ("compose.yml:5:", "environment.URL", "'${DB'", "no closing"),
    ),
    Case(
        "unterminated-before-a-url-password",
        _compose(f'    environment:\n      URL: "${{PROTO://admin:{MARK}@db/x"\n'),
        STATUS,
        ("compose.yml:5:", "environment.URL", "no closing"),
    ),
    Case(
        "unterminated-in-a-secret-value",
        _compose(f'    environment:\n      DB_PASSWORD: "{MARK}${{x"\n'),
        STATUS,
        ("compose.yml:5:", "environment.DB_PASSWORD", "no closing"),
    ),
    Case(
        "unterminated-in-a-secret-list-item",
        _compose(f'    environment: ["DB_PASSWORD={MARK}${{x"]\n'),
        STATUS,
        ("compose.yml:4:", "environment[0]", "no closing"),
    ),
    Case(
        "env-file-password-line",
        {
            ".env": f'OK=1\nDB_PASSWORD="{MARK}${{x"\n',
            "compose.yml": "services:\n  db:\n    image: busybox\n",
        },
        STATUS,
        (".env:2:", "DB_PASSWORD", "no closing"),
    ),
    Case(
        "env-file-url-line",
        {
            ".env": f"DATABASE_URL=postgres://u:{MARK}@h/${{DB\n",
            "compose.yml": "services:\n  db:\n    image: busybox\n",
        },
        STATUS,
        (".env:1:", "DATABASE_URL", "'${DB'"),
    ),
    Case(
        "env-file-unclosed-quote",
        {
            ".env": f"DB_PASSWORD='{MARK}\n",
            "compose.yml": "services:\n  db:\n    image: busybox\n",
        },
        STATUS,
        (".env:1:", "DB_PASSWORD", "never closed"),
    ),
    Case(
        "railway-template-with-a-url-password",
        {
            "railway.yml": (
                "version: 1\ns3: {provider: aws, bucket: b, aws: {access_key_id: a, "
                "secret_access_key: s}}\nmlflow: {}\nenvironments:\n  production:\n"
                f"    services:\n      backend:\n        DB: 'postgres://u:{MARK}@h/${{bad'\n"
            ),
            "railway.env": "",
        },
        ("railway.sync-env", "--dry-run", "--file", "{dir}/railway.yml"),
        ("railway.yml:8:", "backend DB"),
        env={**RAILWAY_ENV, "INVOKE_RAILWAY_DOTENV": "{dir}/railway.env"},
    ),
)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_file_errors_name_the_variable_never_the_value(case: Case) -> None:
    with shared_folder() as folder:
        for name, text in case.files.items():
            (folder / name).write_text(text)
        args = [arg.replace("{dir}", str(folder)) for arg in case.args]
        env = {k: v.replace("{dir}", str(folder)) for k, v in case.env.items()}
        result = run_inv(*args, env=env)
        assert_refused(result, *case.phrases)
        assert MARK not in result.stdout + result.stderr
