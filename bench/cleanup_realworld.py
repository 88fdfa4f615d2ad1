"""`inv cleanup.unused` on six public repositories' compose files as published, against
verdicts judged by hand (docs/cleanup.md, "Real-world check").

    python -m bench.cleanup_realworld CORPUS [--show]

CORPUS is a folder holding one checkout per repository below, at the commit given,
under the folder name given (nothing from them is committed here):

    git clone https://github.com/fastapi/full-stack-fastapi-template CORPUS/fastapi
    git -C CORPUS/fastapi checkout 68adb40   # and so on for each row of REPOSITORIES

Each compose set is given to the real CLI (`inv cleanup.unused --path CHECKOUT --file
... --format json`), exactly as the files are in the checkout: no env file created, no
key removed. Prints, per set, whether it loaded and each verdict that differs from the
judged one, then the totals: sets loaded, verdicts exact, false `unused` (called unused,
judged anything else), false `required` (called required or optional, judged unused or
dev-tool), and other misses. `--show` prints every verdict with its reason. Exit code 0
when every set loaded, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.common import REPO_ROOT, clean_env, inv_command

# folder, repository, commit
REPOSITORIES = (
    ("fastapi", "fastapi/full-stack-fastapi-template", "68adb40"),
    ("auddy", "f-gozie/auddy-backend", "5d0cd73"),
    ("mlflow-docker", "Toumash/mlflow-docker", "57be284"),
    ("mlflow-poc", "guumaster/mlflow-poc", "4dfa356"),
    ("ohmyform", "ohmyform/ohmyform", "c099827"),
    # the commit before the maintainers deleted the stale Redis
    ("checkmate", "bluewave-labs/Checkmate", "096cfcc"),
)


@dataclass(frozen=True)
class ComposeSet:
    label: str
    folder: str  # a REPOSITORIES folder: scanned with --path, files relative to it
    files: tuple[str, ...]
    judged: dict[str, str]  # service -> verdict, by reading the code


_DJANGO = {"django": "app", "celeryworker": "app", "celerybeat": "app"}
SETS = (
    ComposeSet(
        "fastapi",
        "fastapi",
        ("compose.yml", "compose.override.yml"),
        {
            "backend": "app",
            "playwright": "app",  # the e2e runner, built from frontend/
            "db": "required",
            "proxy": "required",  # Traefik, routes to backend
            "adminer": "dev-tool",
            "mailpit": "dev-tool",  # SMTP_HOST: mailpit in the override
        },
    ),
    ComposeSet(
        "auddy local",
        "auddy",
        ("docker-compose.local.yml",),
        {
            **_DJANGO,
            "flower": "dev-tool",  # run from the Django image
            "postgres": "required",  # built FROM postgres:16
            "redis": "required",  # the Celery broker
            "mailpit": "dev-tool",  # EMAIL_HOST defaults to it
        },
    ),
    ComposeSet(
        "auddy production",
        "auddy",
        ("docker-compose.production.yml",),
        {
            **_DJANGO,
            "nginx": "required",  # depends on django
            "postgres": "required",
            "redis": "required",
            "flower": "dev-tool",
        },
    ),
    ComposeSet("auddy docs", "auddy", ("docker-compose.docs.yml",), {"docs": "app"}),
    ComposeSet(
        "mlflow-docker",
        "mlflow-docker",
        ("docker-compose.yml",),
        {
            "run_test_experiment": "app",
            "mlflow": "required",  # ubuntu/mlflow running `mlflow server`
            "s3": "required",  # MinIO
            "db": "required",  # MySQL, mlflow's backend store
            "create_s3_buckets": "required",  # minio/mc job
            "wait-for-db": "required",  # wait4x job mlflow waits for
        },
    ),
    ComposeSet(
        "mlflow-poc",
        "mlflow-poc",
        ("docker-compose.yaml",),  # + its include
        {
            "mlflow": "required",  # multi-stage target, CMD mlflow server
            "dagster": "app",  # runs the project's jobs
            "postgres": "required",
            "minio": "required",  # bitnami/minio
            "manual-diabetes-model-server": "app",  # built, serves the project's model
            "mlflow-diabetes-model": "app",  # the image the project's job builds
        },
    ),
    ComposeSet(
        "ohmyform",
        "ohmyform",
        ("docker-compose.yml",),
        {
            "ohmyform": "app",
            "db": "required",  # TypeORM driver "postgres"
            "redis": "required",  # ioredis
            "mail": "dev-tool",  # MailHog, MAILER_URI
        },
    ),
    ComposeSet(
        "checkmate dev",
        "checkmate",
        ("docker/dev/docker-compose.yaml",),
        {
            "client": "app",
            "server": "app",
            "mongodb": "required",  # uptime_mongo
            "redis": "unused",  # only a stale test stubs REDIS_HOST
        },
    ),
    ComposeSet(
        "checkmate staging",
        "checkmate",
        ("docker/staging/docker-compose.yaml",),
        {
            "client": "app",
            "server": "app",
            "certbot": "required",  # renews the certificates the client reads
            "mongodb": "required",
            "redis": "unused",
        },
    ),
)


@dataclass
class Totals:
    sets: int = 0
    loaded: int = 0
    services: int = 0
    exact: int = 0
    false_unused: int = 0
    false_required: int = 0
    other: int = 0


def run_set(corpus: Path, case: ComposeSet) -> tuple[int, dict[str, dict[str, str]], str]:
    root = corpus / case.folder
    command = [*inv_command(), "--search-root", str(REPO_ROOT), "cleanup.unused"]
    command += ["--path", str(root), "--format", "json"]
    for name in case.files:
        command += ["--file", str(root / name)]
    done = subprocess.run(
        command, capture_output=True, text=True, env=clean_env(), timeout=600, check=False
    )
    if done.returncode != 0:
        return done.returncode, {}, done.stderr
    services = {s["service"]: s for s in json.loads(done.stdout)["services"]}
    return 0, services, done.stderr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cleanup_realworld", description=__doc__)
    parser.add_argument("corpus", type=Path, help="folder holding the checkouts")
    parser.add_argument("--show", action="store_true", help="print every verdict and reason")
    args = parser.parse_args(argv)
    missing = [f for f, _, _ in REPOSITORIES if not (args.corpus / f).is_dir()]
    if missing:
        for folder, repository, commit in REPOSITORIES:
            if folder in missing:
                print(
                    f"git clone https://github.com/{repository} {args.corpus / folder} && "
                    f"git -C {args.corpus / folder} checkout {commit}",
                    file=sys.stderr,
                )
        print(f"error: missing checkouts: {', '.join(missing)} (commands above)", file=sys.stderr)
        return 1
    totals = Totals()
    for case in SETS:
        totals.sets += 1
        totals.services += len(case.judged)
        code, found, stderr = run_set(args.corpus, case)
        if code != 0:
            print(f"{case.label}: does not load (exit {code}): {stderr.strip()}")
            continue
        totals.loaded += 1
        print(f"{case.label}: loaded, {len(found)} services")
        for service, judged in case.judged.items():
            report = found.get(service, {"verdict": "(absent)", "reason": ""})
            verdict = report["verdict"]
            if verdict == judged:
                totals.exact += 1
            elif verdict == "unused":
                totals.false_unused += 1
            elif verdict in ("required", "optional") and judged in ("unused", "dev-tool"):
                totals.false_required += 1
            else:
                totals.other += 1
            if verdict != judged or args.show:
                mark = "" if verdict == judged else f"  MISS (judged {judged})"
                print(f"  {service}: {verdict}: {report['reason']}{mark}")
        for extra in sorted(set(found) - set(case.judged)):
            print(f"  {extra}: not in the judged set ({found[extra]['verdict']})")
    share = 100 * totals.exact / totals.services
    print(
        f"\n{totals.loaded} of {totals.sets} compose sets load as published; "
        f"{totals.exact} of {totals.services} verdicts exact ({share:.1f} %); "
        f"{totals.false_unused} false unused; {totals.false_required} false required; "
        f"{totals.other} other misses"
    )
    return 0 if totals.loaded == totals.sets else 1


if __name__ == "__main__":
    sys.exit(main())
