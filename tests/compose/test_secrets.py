"""vpmigrate.compose.secrets: which values of a compose project the output mask hides."""

from __future__ import annotations

from pathlib import Path

from vpmigrate.compose.loader import load_project
from vpmigrate.compose.secrets import project_secrets


def test_every_kind_of_compose_secret_is_found(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("POSTGRES_PASSWORD=from-dotenv\nPLAIN=plain-value\n")
    (tmp_path / "app.env").write_text("FILE_TOKEN=from-env-file\n")
    compose = tmp_path / "compose.yml"
    compose.write_text(
        """\
services:
  app:
    image: app
    build:
      context: .
      args: {NPM_TOKEN: from-build-arg, VERSION: "1.2"}
    env_file: [app.env]
    labels: {deploy.api_key: from-label}
    environment:
      DB_PASSWORD: ${POSTGRES_PASSWORD}
      URL: postgres://u:from-url@db/x
      NOTE: ${PLAIN}
    secrets: [pw]
    configs: [inline, shell]
  postgres:
    image: postgres
    environment:
      POSTGRES_PASSWORD: postgres
secrets:
  pw: {environment: SHELL_SECRET_VALUE}
configs:
  inline: {content: "from-config-content"}
  shell: {environment: PLAIN}
"""
    )
    project = load_project(
        [compose], environ={"SHELL_SECRET_VALUE": "from-shell", "SHELL_API_TOKEN": "shell-token"}
    )
    assert project_secrets(project) == {
        "from-dotenv",
        "from-env-file",
        "from-build-arg",
        "from-label",
        "from-url",
        "from-shell",
        "from-config-content",
        "shell-token",
        "plain-value",  # the content of config `shell`
    }
    # `postgres` is a service's name: printed as a name everywhere, so not masked.
