"""Where to reach Railway and with which token: the environment or `.env`, never argv."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from vpmigrate.errors import UserError
from vpmigrate.railway.secrets import Masker

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


def read_dotenv(
    dotenv_path: Path | None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The values `.env` itself defines (each of them is masked in output); none when
    it is missing or a folder, as merged_environment() skips it then."""
    from vpmigrate.compose.envfiles import read_env_file
    from vpmigrate.userfiles import is_missing

    if dotenv_path is None or is_missing(dotenv_path) or dotenv_path.is_dir():
        return {}
    return read_env_file(dotenv_path, dict(os.environ if environ is None else environ))


def connection_from(env: Mapping[str, str]) -> Connection:
    """Read endpoint, token and project. Like Railway's CLI, a project token wins
    when both token variables are set."""
    url = check_api_url(env.get("RAILWAY_API_URL") or DEFAULT_API_URL)
    for variable in (PROJECT_TOKEN, ACCOUNT_TOKEN):
        token = env.get(variable, "").strip()
        if token:
            _check_token(variable, token)
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


def _check_token(variable: str, token: str) -> None:
    """A token is sent in an HTTP header: printable ASCII without spaces only."""
    for position, char in enumerate(token, start=1):
        if not 33 <= ord(char) <= 126:
            kind = "a non-ASCII character" if ord(char) > 127 else "a space or control character"
            raise UserError(
                f"{variable} contains {kind} at position {position}, so it cannot be sent "
                "in an HTTP header; Railway tokens are plain ASCII. Copy the token again from "
                "Railway's dashboard into .env (the value is not shown here)."
            )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_api_url(url: str) -> str:
    """``url`` when it is a usable endpoint: http(s), a host, a valid port, no
    credentials in it, and https unless the host is this machine (the token must
    not cross a network in clear). Raises UserError otherwise."""
    shown = Masker().safe(url, 200)
    fix = "fix or unset RAILWAY_API_URL (the default is Railway's own endpoint)."

    def bad(problem: str) -> UserError:
        return UserError(f"RAILWAY_API_URL {shown!r} {problem}; {fix}")

    if any(ord(c) < 33 or ord(c) > 126 for c in url):
        raise bad("contains a space, a control or a non-ASCII character")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise bad(f"is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise bad("is not an http(s) URL")
    host = parts.hostname or ""
    if not host:
        raise bad("names no host")
    if port == 0:
        raise bad("has port 0")
    if parts.username is not None or parts.password is not None:
        raise bad("carries credentials; tokens belong in RAILWAY_API_TOKEN or RAILWAY_TOKEN")
    if parts.scheme == "http" and not _loopback(host):
        raise bad("uses plain http to another machine, which would send the token in clear")
    return url
