"""Where to reach Railway and with which token: the environment or `.env`, never argv."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from vpmigrate.errors import UserError

DEFAULT_API_URL = "https://backboard.railway.com/graphql/v2"
ACCOUNT_TOKEN = "RAILWAY_API_TOKEN"  # account or workspace token: Authorization: Bearer
PROJECT_TOKEN = "RAILWAY_TOKEN"  # project token, bound to one environment


@dataclass(frozen=True)
class Credentials:
    """The token in use and the variable it came from (named in error messages)."""

    variable: str
    token: str = field(repr=False)

    @property
    def is_project_token(self) -> bool:
        return self.variable == PROJECT_TOKEN

    def headers(self) -> dict[str, str]:
        if self.is_project_token:
            return {"Project-Access-Token": self.token}
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True)
class Connection:
    url: str
    credentials: Credentials
    project_id: str | None


def merged_environment(
    dotenv_path: Path | None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """`.env` values with the process environment laid over them (the process wins).
    `.env` is read by the same reader, with Compose's rules, as for `local.*`."""
    from vpmigrate.compose.envfiles import environment_with_dotenv

    return environment_with_dotenv(dotenv_path, dict(os.environ if environ is None else environ))


def connection_from(env: Mapping[str, str]) -> Connection:
    """Read endpoint, token and project. Like Railway's CLI, a project token wins
    when both token variables are set."""
    url = env.get("RAILWAY_API_URL") or DEFAULT_API_URL
    for variable in (PROJECT_TOKEN, ACCOUNT_TOKEN):
        token = env.get(variable, "").strip()
        if token:
            credentials = Credentials(variable, token)
            break
    else:
        raise UserError(
            f"no Railway token: set {ACCOUNT_TOKEN} (an account or workspace token, plus "
            f"RAILWAY_PROJECT_ID) or {PROJECT_TOKEN} (a project token) in the untracked .env "
            "at the repository root or in the environment. Tokens are never accepted as "
            "command-line arguments."
        )
    project_id = env.get("RAILWAY_PROJECT_ID", "").strip() or None
    if project_id is None and not credentials.is_project_token:
        raise UserError(
            f"RAILWAY_PROJECT_ID is not set: with {ACCOUNT_TOKEN} the project must be named; "
            "copy its ID from the project's settings page into .env (a project token in "
            f"{PROJECT_TOKEN} carries its project itself)."
        )
    return Connection(url, credentials, project_id)
