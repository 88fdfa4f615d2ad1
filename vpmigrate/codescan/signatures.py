"""The built-in signature table: what a kind of service is, and how code shows that it
talks to it.

A family is matched to a compose service by what the compose file and the build say
about the service (see `identity`): its image, the parts of an image name
(`uptime_mongo`), a command (`redis-server`), a healthcheck (`pg_isready`), the
image's own environment keys (`MONGO_INITDB_*`) or a well-known container port.
Its code signals are client libraries (Python modules, npm packages), manifest
package names, URL schemes, driver names (`mariadb`, `postgresql+psycopg2`),
environment variable names (which count as use only where a value of them points
at the service) and the product's names (for "mentioned"). Developer tools, mail
sinks, proxies and one-shot job images live in `tools.yaml` beside this file.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

Role = Literal["service", "monitoring", "dev-tool", "job", "proxy", "sink", "app"]
# what a configuration may set (`app` is found, never configured)
ROLES: tuple[str, ...] = ("service", "monitoring", "dev-tool", "job", "proxy", "sink")


@dataclass(frozen=True)
class Signature:
    """Signals of one family (or extra ones of one service, from configuration)."""

    name: str
    images: tuple[str, ...] = ()  # image repositories, without registry host or tag
    modules: tuple[str, ...] = ()  # top-level Python import names
    js_packages: tuple[str, ...] = ()  # npm names; "@scope/" matches the whole scope
    packages: tuple[str, ...] = ()  # names in requirements / pyproject / package.json
    schemes: tuple[str, ...] = ()  # URL schemes, lower case
    env: tuple[str, ...] = ()  # environment variable names
    words: tuple[str, ...] = ()  # product names: only ever "mentioned"
    hosts: tuple[str, ...] = ()  # extra host names (services add their own)
    role: Role = "service"
    # --- identity: what tells that a compose service is of this family ---------------
    parts: tuple[str, ...] = ()  # words of an image or service name (`uptime_mongo`)
    commands: tuple[str, ...] = ()  # command words (`redis-server`, `mlflow server`)
    health: tuple[str, ...] = ()  # words of a healthcheck test (`pg_isready`)
    server_env: tuple[str, ...] = ()  # keys only the image itself reads (`MONGO_INITDB_`)
    ports: tuple[int, ...] = ()  # well-known container ports (a weak hint, used last)
    drivers: tuple[str, ...] = ()  # a whole string literal naming the engine (`mariadb`)
    fields_set: frozenset[str] = field(default=frozenset(), compare=False)

    def merged(self, extra: Signature, *, replace_lists: bool = False) -> Signature:
        """This signature with `extra`'s entries added (or, per field given, replaced)."""
        changes: dict[str, object] = {}
        for name in LIST_FIELDS:
            theirs = getattr(extra, name)
            if name in extra.fields_set:
                mine = () if replace_lists else getattr(self, name)
                changes[name] = tuple(dict.fromkeys((*mine, *theirs)))
        if "role" in extra.fields_set:
            changes["role"] = extra.role
        return replace(self, **changes)  # type: ignore[arg-type]


LIST_FIELDS = (
    "images",
    "modules",
    "js_packages",
    "packages",
    "schemes",
    "env",
    "words",
    "hosts",
    "parts",
    "commands",
    "health",
    "server_env",
    "drivers",
)


def _sig(name: str, **kwargs: object) -> Signature:
    return Signature(name=name, **kwargs)  # type: ignore[arg-type]


FAMILIES: tuple[Signature, ...] = (
    _sig(
        "postgres",
        images=(
            "postgres",
            "postgis/postgis",
            "bitnami/postgresql",
            "timescale/timescaledb",
            "pgvector/pgvector",
        ),
        modules=("psycopg2", "psycopg", "asyncpg", "pg8000"),
        js_packages=("pg", "postgres", "pg-promise", "@neondatabase/serverless"),
        packages=(
            "psycopg2",
            "psycopg2-binary",
            "psycopg",
            "psycopg-binary",
            "asyncpg",
            "pg8000",
            "pg",
            "pg-promise",
        ),
        schemes=("postgres", "postgresql"),
        env=(
            "DATABASE_URL",
            "POSTGRES_URL",
            "POSTGRES_HOST",
            "POSTGRES_DB",
            "POSTGRES_USER",
            "POSTGRES_PASSWORD",
            "POSTGRES_PORT",
            "PGHOST",
            "PGDATABASE",
            "PGUSER",
            "PGPASSWORD",
        ),
        words=("postgres", "postgresql", "PostgreSQL"),
        parts=("postgres", "postgresql", "postgis", "pgvector", "timescaledb", "pg"),
        commands=("postgres",),
        health=("pg_isready",),
        server_env=("POSTGRES_INITDB_", "POSTGRES_HOST_AUTH_METHOD", "PGDATA"),
        ports=(5432,),
        drivers=(
            "postgres",
            "postgresql",
            "django.db.backends.postgresql",
            "django.db.backends.postgresql_psycopg2",
            "django.contrib.gis.db.backends.postgis",
            "postgresql+psycopg2",
            "postgresql+psycopg",
            "postgresql+asyncpg",
        ),
    ),
    _sig(
        "mysql",
        images=("mysql", "mariadb", "bitnami/mysql", "bitnami/mariadb"),
        modules=("pymysql", "MySQLdb", "mysql", "aiomysql", "mariadb"),
        js_packages=("mysql", "mysql2", "mariadb"),
        packages=(
            "pymysql",
            "mysqlclient",
            "mysql-connector-python",
            "aiomysql",
            "mariadb",
            "mysql",
            "mysql2",
        ),
        schemes=("mysql", "mariadb"),
        env=(
            "MYSQL_HOST",
            "MYSQL_DATABASE",
            "MYSQL_USER",
            "MYSQL_PASSWORD",
            "MYSQL_URL",
            "MARIADB_HOST",
        ),
        words=("mysql", "mariadb", "MySQL", "MariaDB"),
        parts=("mysql", "mariadb", "percona"),
        commands=("mysqld", "mariadbd"),
        health=("mysqladmin", "healthcheck.sh"),
        server_env=("MYSQL_ROOT_", "MARIADB_ROOT_", "MYSQL_ALLOW_EMPTY_PASSWORD", "MARIADB_"),
        ports=(3306,),
        drivers=(
            "mysql",
            "mariadb",
            "mysql2",
            "django.db.backends.mysql",
            "mysql+pymysql",
            "mysql+mysqldb",
            "mysql+aiomysql",
            "mariadb+mariadbconnector",
        ),
    ),
    _sig(
        "mongo",
        images=("mongo", "bitnami/mongodb", "mongodb/mongodb-community-server"),
        modules=("pymongo", "motor", "mongoengine", "beanie"),
        js_packages=("mongodb", "mongoose"),
        packages=("pymongo", "motor", "mongoengine", "beanie", "mongodb", "mongoose"),
        schemes=("mongodb", "mongodb+srv"),
        env=("MONGO_URL", "MONGO_URI", "MONGODB_URL", "MONGODB_URI", "MONGO_HOST"),
        words=("mongodb", "mongo", "MongoDB"),
        parts=("mongo", "mongodb"),
        commands=("mongod",),
        health=("mongosh", "mongo"),
        server_env=("MONGO_INITDB_",),
        ports=(27017,),
        drivers=("mongodb", "mongoose"),
    ),
    _sig(
        "redis",
        images=(
            "redis",
            "bitnami/redis",
            "redis/redis-stack",
            "redis/redis-stack-server",
            "valkey/valkey",
            "eqalpha/keydb",
        ),
        modules=("redis", "aioredis", "rq", "walrus"),
        js_packages=("redis", "ioredis", "@redis/", "bullmq", "bull"),
        packages=("redis", "aioredis", "hiredis", "rq", "ioredis", "bullmq", "bull"),
        schemes=("redis", "rediss"),
        env=("REDIS_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD"),
        words=("redis", "valkey"),
        parts=("redis", "valkey", "keydb", "dragonfly"),
        commands=("redis-server", "valkey-server", "keydb-server"),
        health=("redis-cli", "valkey-cli"),
        server_env=("REDIS_ARGS", "ALLOW_EMPTY_PASSWORD"),
        ports=(6379,),
    ),
    _sig(
        "rabbitmq",
        images=("rabbitmq", "bitnami/rabbitmq"),
        modules=("pika", "aio_pika", "aiormq"),
        js_packages=("amqplib", "amqp-connection-manager"),
        packages=("pika", "aio-pika", "aiormq", "amqplib"),
        schemes=("amqp", "amqps"),
        env=("RABBITMQ_URL", "AMQP_URL", "RABBITMQ_HOST"),
        words=("rabbitmq", "RabbitMQ"),
        parts=("rabbitmq",),
        commands=("rabbitmq-server",),
        health=("rabbitmq-diagnostics", "rabbitmqctl"),
        server_env=("RABBITMQ_DEFAULT_",),
        ports=(5672,),
    ),
    _sig(
        "kafka",
        images=(
            "confluentinc/cp-kafka",
            "bitnami/kafka",
            "apache/kafka",
            "wurstmeister/kafka",
            "redpandadata/redpanda",
        ),
        modules=("kafka", "confluent_kafka", "aiokafka"),
        js_packages=("kafkajs", "node-rdkafka"),
        packages=("kafka-python", "confluent-kafka", "aiokafka", "kafkajs", "node-rdkafka"),
        schemes=("kafka",),
        env=("KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BROKERS", "KAFKA_URL"),
        words=("kafka", "redpanda"),
        parts=("kafka", "redpanda"),
        health=("kafka-topics", "kafka-broker-api-versions", "rpk"),
        server_env=("KAFKA_BROKER_ID", "KAFKA_ADVERTISED_LISTENERS", "KAFKA_CFG_", "KAFKA_NODE_ID"),
        ports=(9092,),
    ),
    _sig(
        "elasticsearch",
        images=(
            "elasticsearch",
            "elasticsearch/elasticsearch",
            "bitnami/elasticsearch",
            "opensearchproject/opensearch",
        ),
        modules=("elasticsearch", "elasticsearch_dsl", "opensearchpy"),
        js_packages=("@elastic/elasticsearch", "@opensearch-project/opensearch"),
        packages=("elasticsearch", "elasticsearch-dsl", "opensearch-py", "@elastic/elasticsearch"),
        env=("ELASTICSEARCH_URL", "ELASTICSEARCH_HOSTS", "OPENSEARCH_URL"),
        words=("elasticsearch", "opensearch", "OpenSearch"),
        parts=("elasticsearch", "opensearch"),
        server_env=("ES_JAVA_OPTS", "OPENSEARCH_JAVA_OPTS", "discovery.type"),
        ports=(9200,),
    ),
    _sig(
        "memcached",
        images=("memcached", "bitnami/memcached"),
        modules=("pymemcache", "memcache", "pylibmc", "aiomcache"),
        js_packages=("memcached", "memjs"),
        packages=("pymemcache", "python-memcached", "pylibmc", "aiomcache", "memcached", "memjs"),
        env=("MEMCACHED_HOST", "MEMCACHED_URL", "MEMCACHE_SERVERS"),
        words=("memcached", "memcache"),
        parts=("memcached",),
        commands=("memcached",),
        ports=(11211,),
    ),
    _sig(
        "minio",
        images=("minio/minio", "bitnami/minio", "quay.io/minio/minio"),
        modules=("minio",),
        js_packages=("minio",),
        packages=("minio",),
        env=(
            "MINIO_ENDPOINT",
            "MINIO_URL",
            "MLFLOW_S3_ENDPOINT_URL",
            "S3_ENDPOINT_URL",
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_S3",
        ),
        words=("minio", "MinIO"),
        parts=("minio",),
        commands=("minio server", "server /data"),
        health=("/minio/health", "mc ready"),
        server_env=("MINIO_ROOT_", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY", "MINIO_DEFAULT_BUCKETS"),
    ),
    _sig(
        "mlflow",
        images=("mlflow/mlflow", "ghcr.io/mlflow/mlflow", "bitnami/mlflow"),
        modules=("mlflow",),
        packages=("mlflow", "mlflow-skinny"),
        env=("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_URL", "MLFLOW_URL"),
        words=("mlflow", "MLflow"),
        parts=("mlflow",),
        commands=("mlflow server",),
    ),
    _sig(
        "prometheus",
        images=("prom/prometheus", "bitnami/prometheus"),
        modules=(
            "prometheus_client",
            "prometheus_fastapi_instrumentator",
            "starlette_exporter",
            "prometheus_flask_exporter",
        ),
        js_packages=("prom-client",),
        packages=(
            "prometheus-client",
            "prometheus-fastapi-instrumentator",
            "starlette-exporter",
            "prometheus-flask-exporter",
            "prom-client",
        ),
        env=("PROMETHEUS_URL", "PROMETHEUS_MULTIPROC_DIR", "PROMETHEUS_PUSHGATEWAY"),
        words=("prometheus",),
        parts=("prometheus",),
        commands=("prometheus",),
        ports=(9090,),
        role="monitoring",
    ),
    _sig(
        "grafana",
        images=(
            "grafana/grafana",
            "grafana/grafana-oss",
            "grafana/grafana-enterprise",
            "bitnami/grafana",
        ),
        js_packages=("@grafana/",),
        env=("GRAFANA_URL", "GRAFANA_HOST", "GRAFANA_DASHBOARD_URL"),
        words=("grafana",),
        parts=("grafana",),
        server_env=("GF_",),
        role="monitoring",
    ),
    _sig(
        "loki",
        images=(
            "grafana/loki",
            "grafana/promtail",
            "jaegertracing/all-in-one",
            "otel/opentelemetry-collector",
            "otel/opentelemetry-collector-contrib",
        ),
        modules=("opentelemetry",),
        js_packages=("@opentelemetry/",),
        packages=("opentelemetry-sdk", "opentelemetry-api", "@opentelemetry/api"),
        env=("OTEL_EXPORTER_OTLP_ENDPOINT", "LOKI_URL", "JAEGER_ENDPOINT"),
        words=("loki", "jaeger", "opentelemetry", "otel", "OpenTelemetry"),
        parts=("loki", "promtail", "jaeger", "otel", "opentelemetry"),
        role="monitoring",
    ),
    _sig(
        "temporal",
        images=(
            "temporalio/auto-setup",
            "temporalio/server",
            "temporalio/temporal",
            "temporalio/admin-tools",
        ),
        modules=("temporalio",),
        js_packages=("@temporalio/",),
        packages=("temporalio", "@temporalio/client", "@temporalio/worker"),
        env=("TEMPORAL_ADDRESS", "TEMPORAL_HOST", "TEMPORAL_HOSTPORT", "TEMPORAL_NAMESPACE"),
        words=("temporal", "temporalio"),
        parts=("temporal", "temporalio"),
        ports=(7233,),
    ),
    # Mail sinks catch the application's mail in development (a "sink": a dev tool when
    # something sends to it, unused otherwise). SMTP names are generic: they count only
    # where their value points at the sink.
    _sig(
        "mailhog",
        images=("mailhog/mailhog", "axllent/mailpit", "maildev/maildev", "schickling/mailcatcher"),
        env=("SMTP_HOST", "SMTP_SERVER", "SMTP_PORT", "MAIL_SERVER", "MAIL_HOST", "EMAIL_HOST"),
        words=("mailhog", "mailpit", "maildev", "mailcatcher", "MailHog"),
        parts=("mailhog", "mailpit", "maildev", "mailcatcher", "mailcrab", "smtp4dev"),
        commands=("mailhog", "mailpit"),
        ports=(1025, 8025),
        role="sink",
    ),
)


TOOLS_FILE = Path(__file__).with_name("tools.yaml")
_TOOL_SECTIONS: dict[str, Role] = {"dev-tools": "dev-tool", "proxies": "proxy", "jobs": "job"}


@lru_cache(maxsize=1)
def tool_families() -> tuple[Signature, ...]:
    """Developer tools, proxies and job images from `tools.yaml` (data, not code)."""
    import yaml

    data: dict[str, Any] = yaml.safe_load(TOOLS_FILE.read_text(encoding="utf-8")) or {}
    found = []
    for section, role in _TOOL_SECTIONS.items():
        for name, spec in (data.get(section) or {}).items():
            lists = {k: tuple(str(v) for v in spec.get(k, ())) for k in LIST_FIELDS if k in spec}
            found.append(Signature(name=str(name), role=role, **lists))  # type: ignore[arg-type]
    return tuple(found)


def all_families() -> tuple[Signature, ...]:
    """The built-in table: service families first, then the tools of `tools.yaml`."""
    return FAMILIES + tool_families()


def image_repository(image: str) -> str:
    """`ghcr.io/mlflow/mlflow:v2.9.2` -> `ghcr.io/mlflow/mlflow`; `redis:7@sha..` -> `redis`."""
    repository = image.split("@", 1)[0]
    last_slash = repository.rfind("/")
    colon = repository.rfind(":")
    if colon > last_slash:
        repository = repository[:colon]
    if repository.startswith("docker.io/"):
        repository = repository[len("docker.io/") :]
    if repository.startswith("library/"):
        repository = repository[len("library/") :]
    return repository.lower()


def family_for_image(image: str, families: tuple[Signature, ...] | None = None) -> Signature | None:
    """The family whose image list names this image's repository (with or without its
    registry host); None for an image the table does not know."""
    families = all_families() if families is None else families
    repository = image_repository(image)
    without_registry = repository.split("/", 1)[1] if _has_registry(repository) else repository
    for family in families:
        for candidate in family.images:
            if candidate in (repository, without_registry):
                return family
    return None


def _has_registry(repository: str) -> bool:
    first = repository.split("/", 1)[0]
    return "/" in repository and ("." in first or ":" in first or first == "localhost")
