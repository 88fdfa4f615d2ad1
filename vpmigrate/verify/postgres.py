"""PostgreSQL: connect with the configured credentials and run a query."""

from __future__ import annotations

from dataclasses import dataclass

from vpmigrate.verify.result import CheckResult, first_line
from vpmigrate.verify.targets import PostgresTarget

CONNECT_TIMEOUT_S = 5


@dataclass(frozen=True)
class PostgresCheck:
    target: PostgresTarget
    name: str = "postgres"

    def run(self) -> CheckResult:
        import psycopg

        t = self.target
        try:
            with psycopg.connect(
                host=t.host,
                port=t.port,
                user=t.user,
                password=t.password,
                dbname=t.database,
                connect_timeout=CONNECT_TIMEOUT_S,
            ) as conn:
                row = conn.execute("SELECT current_setting('server_version')").fetchone()
        except psycopg.Error as exc:
            return CheckResult(self.name, False, first_line(exc), self._hint(str(exc)))
        version = row[0] if row else "?"
        return CheckResult(self.name, True, f"PostgreSQL {version}: {t.describe()}, query answered")

    def _hint(self, message: str) -> str:
        t = self.target
        if "password authentication failed" in message:
            return (
                f"the password from POSTGRES_PASSWORD of service {t.service} is not the one "
                "the data volume was created with (PostgreSQL reads it only when its data "
                "folder is empty): set the old password in .env, or start afresh, losing "
                "the data, with `inv local.down --volumes` then `inv local.up`"
            )
        if "does not exist" in message:
            return (
                f"POSTGRES_DB/POSTGRES_USER of service {t.service} changed after its data "
                "volume was created: create the database/role, or start afresh (losing the "
                "data) with `inv local.down --volumes` then `inv local.up`"
            )
        if "refused" in message or "timeout" in message or "timed out" in message:
            return (
                f"nothing answers at {t.host}:{t.port}: `inv local.status` shows whether "
                f"{t.service} is running and healthy; `inv local.logs {t.service}` says why not"
            )
        return f"see `inv local.logs {t.service}`"
