"""Minimal trees of our own, one per false verdict the scanner gave on the real-world set
(docs/cleanup.md, "Real-world check"). Each names the public repository and commit
that showed the case; none of their code or files is copied here."""

from __future__ import annotations

from pathlib import Path

import pytest

from vpmigrate.codescan.audit import Audit, audit
from vpmigrate.codescan.settings import parse_settings
from vpmigrate.compose.loader import load_project


def scan(root: Path, tree: dict[str, str], *files: str) -> Audit:
    for relative, text in tree.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    project = load_project([root / f for f in files or ("compose.yml",)], environ={})
    return audit(project, [root], parse_settings({}), display_base=root)


def verdicts(result: Audit) -> dict[str, str]:
    return {r.service: r.verdict for r in result.services}


def test_a_built_backend_is_the_app_and_traefik_routing_to_it_is_required(tmp_path: Path) -> None:
    # fastapi/full-stack-fastapi-template@68adb40: backend, proxy and playwright were
    # "unused"; the mail sink is reached through SMTP_HOST set in the override file.
    result = scan(
        tmp_path,
        {
            "compose.yml": (
                "services:\n"
                "  proxy:\n    image: traefik:3\n    ports: ['80:80']\n"
                "    command: [--providers.docker]\n"
                "  db:\n    image: postgres:17\n"
                "  admin:\n    image: adminer\n    labels: [traefik.enable=true]\n"
                "  backend:\n    build: {context: ., dockerfile: backend/Dockerfile}\n"
                "    labels: [traefik.enable=true]\n"
                "    environment:\n"
                "      DATABASE_URL: postgresql://app@db:5432/app\n"
                "      SMTP_HOST: sink\n"
                "  sink:\n    image: axllent/mailpit\n"
                "  e2e:\n    build: {context: ., dockerfile: frontend/Dockerfile.e2e}\n"
            ),
            "backend/Dockerfile": "FROM python:3.12\nCOPY ./backend/app /app/app\n",
            "backend/app/config.py": (
                "import os\nDATABASE_URL = os.environ['DATABASE_URL']\n"
                "SMTP_HOST = os.environ.get('SMTP_HOST')\n"
            ),
            "frontend/Dockerfile.e2e": "FROM node:22\nCOPY frontend/ /app/\n",
            "frontend/src/main.ts": "export const api = '/api';\n",
        },
    )
    assert verdicts(result) == {
        "backend": "app",
        "e2e": "app",
        "db": "required",
        "proxy": "required",
        "admin": "dev-tool",
        "sink": "dev-tool",
    }
    assert "routes to backend" in result.report("proxy").reason


def test_cookiecutter_django_images_settings_and_a_shared_env_file(tmp_path: Path) -> None:
    # f-gozie/auddy-backend@5d0cd73 (a cookiecutter-django project): django, the Celery
    # services and a Postgres built FROM postgres were "unused"; DATABASE_URL is set by
    # the image's entrypoint script, EMAIL_HOST defaults to the mail sink in settings,
    # Flower runs from the application's image. The env file every service shares names
    # REDIS_URL: that does not make the database need Redis.
    result = scan(
        tmp_path,
        {
            "compose.yml": (
                "services:\n"
                "  django: &django\n"
                "    build: {context: ., dockerfile: ./compose/django/Dockerfile}\n"
                "    image: shop_local_django\n"
                "    env_file: [./.envs/.django, ./.envs/.postgres]\n"
                "    depends_on: [postgres, redis, mailpit]\n"
                "  celeryworker:\n    <<: *django\n    image: shop_local_celeryworker\n"
                "  flower:\n    <<: *django\n    image: shop_local_flower\n"
                "  postgres:\n"
                "    build: {context: ., dockerfile: ./compose/postgres/Dockerfile}\n"
                "    image: shop_production_postgres\n"
                "    env_file: [./.envs/.postgres, ./.envs/.django]\n"
                "  redis:\n    image: docker.io/redis:6\n"
                "  mailpit:\n    image: docker.io/axllent/mailpit:latest\n"
            ),
            "compose/django/Dockerfile": (
                "FROM docker.io/python:3.12-slim AS python\nFROM python AS run\n"
                "COPY ./compose/django/entrypoint /entrypoint\nCOPY . /app\n"
                'ENTRYPOINT ["/entrypoint"]\n'
            ),
            "compose/django/entrypoint": (
                "#!/bin/bash\n"
                'export DATABASE_URL="postgres://${POSTGRES_USER}@${POSTGRES_HOST}:5432/x"\n'
                'exec "$@"\n'
            ),
            "compose/postgres/Dockerfile": (
                "FROM docker.io/postgres:16\nCOPY ./compose/postgres/x /x\n"
            ),
            "compose/postgres/x": "#!/bin/sh\n",
            ".envs/.django": "REDIS_URL=redis://redis:6379/0\nUSE_DOCKER=yes\n",
            ".envs/.postgres": "POSTGRES_HOST=postgres\nPOSTGRES_DB=shop\n",
            "config/settings.py": (
                "import environ\nenv = environ.Env()\n"
                'DATABASES = {"default": env.db("DATABASE_URL")}\n'
                'EMAIL_HOST = env("EMAIL_HOST", default="mailpit")\n'
                'CELERY_BROKER_URL = env("REDIS_URL")\n'
            ),
        },
    )
    assert verdicts(result) == {
        "django": "app",
        "celeryworker": "app",
        "flower": "dev-tool",
        "postgres": "required",
        "redis": "required",
        "mailpit": "dev-tool",
    }
    assert "FROM docker.io/postgres:16" in result.report("postgres").identity
    redis = result.report("redis").evidence
    assert not any("needed by postgres" in e.signal for e in redis)  # the shared env file


def test_email_host_pointing_elsewhere_does_not_use_the_mail_sink(tmp_path: Path) -> None:
    # The audit behind issue 11: a mail sink was "required" because settings read the
    # generic EMAIL_HOST, whose value is an external provider.
    result = scan(
        tmp_path,
        {
            "compose.yml": "services:\n  mailhog:\n    image: mailhog/mailhog\n",
            "settings.py": (
                'import os\nEMAIL_HOST = os.environ.get("EMAIL_HOST", "smtp.sendgrid.net")\n'
            ),
        },
    )
    assert verdicts(result) == {"mailhog": "unused"}


def test_a_minio_client_job_is_needed_when_the_bucket_it_makes_is(tmp_path: Path) -> None:
    # Toumash/mlflow-docker@57be284: the `minio/mc` job that creates the bucket, the
    # wait4x job and MySQL (reached from mlflow's entrypoint only) were "unused".
    result = scan(
        tmp_path,
        {
            "compose.yml": (
                "services:\n"
                "  s3:\n    image: minio/minio\n    command: server /data\n"
                "  db:\n    image: mysql:8-oracle\n"
                "  tracking:\n    image: ubuntu/mlflow:2.1.1_1.0-22.04\n"
                "    entrypoint: mlflow server --backend-store-uri "
                "mysql+pymysql://u:p@db:3306/m -h 0.0.0.0\n"
                "    environment: [MLFLOW_S3_ENDPOINT_URL=http://s3:9000]\n"
                "    depends_on: {wait: {condition: service_completed_successfully}}\n"
                "  buckets:\n    image: minio/mc\n    depends_on: [s3]\n"
                "    entrypoint: >\n"
                '      /bin/sh -c "mc alias set m http://s3:9000 a b; mc mb m/x"\n'
                "  wait:\n    image: atkrad/wait4x\n    command: tcp db:3306 -t 90s\n"
            ),
            "train.py": ('import mlflow\nmlflow.set_tracking_uri("http://localhost:5000")\n'),
        },
    )
    found = verdicts(result)
    assert found["tracking"] == "required"  # identity from `mlflow server`, not the image
    assert found == {
        "tracking": "required",
        "s3": "required",
        "db": "required",
        "buckets": "required",
        "wait": "required",
    }
    assert result.report("buckets").reason.startswith("prepares s3")


def test_a_multi_stage_target_and_an_fstring_postgres_url(tmp_path: Path) -> None:
    # guumaster/mlflow-poc@4dfa356: mlflow is built from one Dockerfile's
    # `mlflow-server` stage; issue 11: Postgres reached through an f-string URL.
    result = scan(
        tmp_path,
        {
            "compose.yml": (
                "services:\n"
                "  tracking:\n    build: {context: ., target: server}\n    ports: ['5000:5000']\n"
                "  db:\n    image: postgres:latest\n"
                "  store:\n    image: docker.io/bitnami/minio:latest\n    ports: ['9000:9000']\n"
            ),
            "Dockerfile": (
                "FROM python:3.10-slim AS builder\nCOPY pyproject.toml ./\n"
                "FROM python:3.10-slim AS server\n"
                'CMD ["sh", "-c", "mlflow server --host 0.0.0.0"]\n'
                'FROM builder AS other\nCMD ["python", "-m", "http.server"]\n'
            ),
            "pyproject.toml": '[project]\nname = "x"\n',
            "jobs/store.py": (
                "import mlflow\n"
                'URI = f"postgresql+psycopg2://{user}:{password}@db/mlflow"\n'
                'mlflow.set_tracking_uri("http://localhost:5000")\n'
                'ENDPOINT = "http://localhost:9000"\n'
            ),
        },
    )
    assert verdicts(result) == {"tracking": "required", "db": "required", "store": "required"}
    assert "CMD `mlflow server`" in result.report("tracking").identity


def test_an_orm_driver_name_is_use_and_a_database_name_is_not_a_host(tmp_path: Path) -> None:
    # ohmyform/ohmyform@c099827 (NestJS): TypeORM picks the engine by a driver string;
    # `POSTGRES_DB: ohmyform` names the database, not the `ohmyform` service. Issue 11:
    # a MariaDB chosen by its driver name was retired by --apply.
    result = scan(
        tmp_path,
        {
            "compose.yml": (
                "services:\n"
                "  ohmyform:\n    build: .\n"
                "    environment: {MAILER_URI: 'smtp://mail:1025'}\n"
                "  db:\n    image: postgres:10-alpine\n    environment: {POSTGRES_DB: ohmyform}\n"
                "  maria:\n    image: example/sql-server\n    ports: ['3306:3306']\n"
                "  mail:\n    image: mailhog/mailhog\n"
            ),
            "Dockerfile": "FROM node:20-alpine\nCOPY api/ .\n",
            "api/src/imports.ts": (
                "export const db = {\n"
                "  type: process.env.DATABASE_DRIVER === 'mariadb' ? 'mariadb' : 'postgres',\n"
                "  mailer: process.env.MAILER_URI,\n};\n"
            ),
        },
    )
    assert verdicts(result) == {
        "ohmyform": "app",
        "db": "required",
        "maria": "required",
        "mail": "dev-tool",
    }
    assert "well-known port 3306" in result.report("maria").identity
    assert not any(e.signal.startswith("needed by db") for e in result.report("ohmyform").evidence)


def test_image_name_parts_a_dockerfile_beside_the_compose_file_and_a_stale_redis(
    tmp_path: Path,
) -> None:
    # bluewave-labs/Checkmate@096cfcc, the commit before its maintainers deleted Redis:
    # uptime_mongo is MongoDB, uptime_server is built from server.Dockerfile (the app),
    # Redis's only reference is a test that stubs process.env.REDIS_HOST, and certbot
    # renews the certificates the client's nginx reads.
    result = scan(
        tmp_path,
        {
            "docker/dev/compose.yaml": (
                "services:\n"
                "  client:\n    image: uptime_client:latest\n    ports: ['80:80']\n"
                "    volumes: ['./certbot/conf/:/etc/nginx/ssl/:ro']\n"
                "  certbot:\n    image: certbot/certbot:latest\n"
                "    volumes: ['./certbot/conf/:/etc/letsencrypt/:rw']\n"
                "    entrypoint: /bin/sh -c 'while :; do certbot renew; sleep 12h; done'\n"
                "  server:\n    image: uptime_server:latest\n    depends_on: [redis, mongodb]\n"
                "  redis:\n    image: uptime_redis:latest\n"
                "  mongodb:\n    image: uptime_mongo:latest\n    command: [mongod, --quiet]\n"
            ),
            "docker/dev/server.Dockerfile": "FROM node:20-alpine\nCOPY ./server/ ./\n",
            "docker/dev/client.Dockerfile": (
                "FROM node:20 AS build\nCOPY ./client ./\nFROM nginx:1.27\n"
                "COPY --from=build /app/dist /usr/share/nginx/html\n"
            ),
            "docker/dev/redis.Dockerfile": "FROM redis\n",
            "server/src/db.js": "import { MongoClient } from 'mongodb';\n",
            "client/src/main.jsx": "export const api = import.meta.env.VITE_API;\n",
            "server/tests/settings.test.js": (
                "process.env.REDIS_HOST = 'localhost';\nimport Redis from 'ioredis';\n"
            ),
        },
        "docker/dev/compose.yaml",
    )
    assert verdicts(result) == {
        "client": "app",
        "server": "app",
        "certbot": "required",
        "mongodb": "required",
        "redis": "unused",
    }
    redis = result.report("redis")
    assert "only tests refer to it" in redis.reason
    assert {e.kind for e in redis.evidence} <= {"test", "declared", "mentioned"}


def test_http_localhost_is_the_port_80_a_proxy_publishes(tmp_path: Path) -> None:
    # Issue 11: Traefik reached by the frontend as plain `http://localhost`.
    result = scan(
        tmp_path,
        {
            "compose.yml": "services:\n  edge:\n    image: traefik:3\n    ports: ['80:80']\n",
            "web/api.ts": "export const base = 'http://localhost/api/v1';\n",
        },
    )
    assert verdicts(result) == {"edge": "required"}


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("myapp/mongo:7", "mongo"),
        ("ghcr.io/acme/shop:redis-demo", "redis"),
        ("example/thing", None),
    ],
)
def test_identity_from_image_name_parts(tmp_path: Path, image: str, expected: str | None) -> None:
    result = scan(tmp_path, {"compose.yml": f"services:\n  x:\n    image: {image}\n"})
    report = result.report("x")
    if expected is None:
        assert report.verdict == "unknown" and "no identity" in report.reason
    else:
        assert report.verdict == "unused" and expected in report.identity


def test_a_prebuilt_image_the_code_names_is_the_app(tmp_path: Path) -> None:
    # guumaster/mlflow-poc@4dfa356: `mlflow-diabetes-model` runs an image that the
    # project's Dagster job builds from its registered model (`build_docker` with
    # f"mlflow-diabetes-model:{version}"); its name part `mlflow` made it an MLflow server,
    # "required" through the code's `import mlflow`. An image that the application code
    # names as a whole string is the application's own.
    compose = (
        "services:\n"
        "  tracking:\n    image: ghcr.io/mlflow/mlflow:v2.9.2\n"
        "    command: mlflow server --host 0.0.0.0\n    ports: ['5000:5000']\n"
        "  model:\n    image: shop-mlflow-model:${MODEL_VERSION:-1}\n"
        "    ports: ['7000:8080']\n    depends_on: [tracking]\n"
        "  cache:\n    image: redis:7\n"
    )
    job = (
        "import mlflow\nfrom mlflow.models import build_docker\n\n\n"
        "def publish(version: str) -> None:\n"
        '    mlflow.set_tracking_uri("http://localhost:5000")\n'
        '    build_docker(model_uri="models:/shop@dev", name=f"shop-mlflow-model:{version}")\n'
    )
    result = scan(tmp_path / "named", {"compose.yml": compose, "jobs/publish.py": job})
    assert verdicts(result) == {
        "tracking": "required",
        "model": "app",
        "cache": "unused",
    }
    assert result.report("model").reason.startswith(
        "runs the scanned code (the code names its image, jobs/publish.py:7)"
    )
    # Named only in a test, or only in a comment, it is what its name says (MLflow,
    # reached through the code's mlflow import), as before.
    result = scan(
        tmp_path / "tests-only",
        {
            "compose.yml": compose,
            "jobs/publish.py": job.replace('f"shop-mlflow-model:{version}"', "image_name")
            + '# image_name = "shop-mlflow-model:1"\n',
            "tests/test_publish.py": 'IMAGE = "shop-mlflow-model:1"\n',
        },
    )
    assert verdicts(result)["model"] == "required"
    # The same in a template literal.
    result = scan(
        tmp_path / "js",
        {
            "compose.yml": compose,
            "jobs/publish.ts": "export const image = (v: string) => `shop-mlflow-model:${v}`;\n",
        },
    )
    assert verdicts(result)["model"] == "app"
    # An image of the table named in the code (a Docker SDK call that runs `redis:7`)
    # stays what the table says.
    result = scan(
        tmp_path / "table",
        {"compose.yml": compose, "jobs/publish.py": job + 'RUN = "redis:7"\n'},
    )
    assert verdicts(result)["cache"] != "app"
