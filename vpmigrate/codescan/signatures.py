"""The built-in signature table: how code shows that it talks to a kind of service.

A family is matched to a compose service by its image; its signals are client
libraries (Python modules, npm packages), manifest package names, URL schemes,
well-known environment variable names and the product's names (for "mentioned").
Ports are not here on purpose: the published ports of the compose file are the
truth locally, and well-known ports collide (3000 is Grafana's and Next.js's).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

Role = Literal["service", "monitoring", "dev-tool", "job"]
ROLES: tuple[str, ...] = ("service", "monitoring", "dev-tool", "job")


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
    fields_set: frozenset[str] = field(default=frozenset(), compare=False)

    def merged(self, extra: Signature, *, replace_lists: bool = False) -> Signature:
        """This signature with `extra`'s entries added (or, per field given, replaced)."""
        changes: dict[str, object] = {}
        for name in (
            "images",
            "modules",
            "js_packages",
            "packages",
            "schemes",
            "env",
            "words",
            "hosts",
        ):
            theirs = getattr(extra, name)
            if name in extra.fields_set:
                mine = () if replace_lists else getattr(self, name)
                changes[name] = tuple(dict.fromkeys((*mine, *theirs)))
        if "role" in extra.fields_set:
            changes["role"] = extra.role
        return replace(self, **changes)  # type: ignore[arg-type]


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
    ),
    _sig(
        "memcached",
        images=("memcached", "bitnami/memcached"),
        modules=("pymemcache", "memcache", "pylibmc", "aiomcache"),
        js_packages=("memcached", "memjs"),
        packages=("pymemcache", "python-memcached", "pylibmc", "aiomcache", "memcached", "memjs"),
        env=("MEMCACHED_HOST", "MEMCACHED_URL", "MEMCACHE_SERVERS"),
        words=("memcached", "memcache"),
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
    ),
    _sig(
        "mlflow",
        images=("mlflow/mlflow", "ghcr.io/mlflow/mlflow", "bitnami/mlflow"),
        modules=("mlflow",),
        packages=("mlflow", "mlflow-skinny"),
        env=("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_URL", "MLFLOW_URL"),
        words=("mlflow", "MLflow"),
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
    ),
    _sig(
        "mailhog",
        images=("mailhog/mailhog", "axllent/mailpit", "maildev/maildev"),
        js_packages=("nodemailer",),
        packages=("nodemailer", "fastapi-mail", "aiosmtplib"),
        schemes=("smtp", "smtps"),
        env=("SMTP_HOST", "SMTP_SERVER", "SMTP_PORT", "MAIL_SERVER", "MAIL_HOST", "EMAIL_HOST"),
        words=("mailhog", "mailpit", "maildev", "smtp", "MailHog"),
    ),
    _sig("pgadmin", images=("dpage/pgadmin4",), words=("pgadmin", "pgAdmin"), role="dev-tool"),
    _sig("mongo-express", images=("mongo-express",), words=("mongo-express",), role="dev-tool"),
    _sig(
        "db-admin",
        images=(
            "adminer",
            "phpmyadmin",
            "phpmyadmin/phpmyadmin",
            "rediscommander/redis-commander",
            "redis/redisinsight",
            "redislabs/redisinsight",
            "provectuslabs/kafka-ui",
            "dpage/pgadmin",
        ),
        words=("adminer", "phpmyadmin", "redisinsight", "phpMyAdmin", "RedisInsight"),
        role="dev-tool",
    ),
    # MinIO's client image: a one-shot bucket job; code never talks to it.
    _sig("minio-client", images=("minio/mc", "bitnami/minio-client"), role="job"),
)


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


def family_for_image(image: str, families: tuple[Signature, ...] = FAMILIES) -> Signature | None:
    """The family whose image list names this image's repository (with or without its
    registry host); None for an image the table does not know."""
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
