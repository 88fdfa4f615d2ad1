"""What each file kind counts as use, declaration or mention."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.codescan.conftest import FIXTURE, load
from vpmigrate.codescan.evidence import Found
from vpmigrate.codescan.index import SignalIndex, build_index
from vpmigrate.codescan.js_source import js_evidence, tokenize
from vpmigrate.codescan.python_source import python_evidence
from vpmigrate.codescan.scan import extractor_for
from vpmigrate.codescan.settings import parse_settings


@pytest.fixture(scope="module")
def index() -> SignalIndex:
    return build_index(load(FIXTURE), parse_settings({}))


def summary(found: list[Found]) -> set[tuple[int, str, str, tuple[str, ...]]]:
    return {(f.line, f.signal, f.kind, tuple(sorted(f.services))) for f in found}


def test_python_imports_calls_strings_comments_and_docstrings(index: SignalIndex) -> None:
    source = '''"""Talks to redis."""
import redis as r, os
from pymongo import MongoClient  # mongodb client
client = r.Redis.from_url(os.environ["REDIS_URL"])
label = "redis"
def temporal_smoothing(redistribute):
    """A temporal filter."""
    return redistribute
'''
    found = summary(python_evidence(source, index))
    assert found == {
        (1, 'word "redis"', "mentioned", ("redis",)),
        (2, "import redis", "use", ("redis",)),
        (3, "from pymongo import", "use", ("mongodb",)),
        (3, 'word "mongodb"', "mentioned", ("mongodb",)),
        (4, "r.Redis", "use", ("redis",)),
        (4, "env REDIS_URL", "use", ("redis",)),
        (5, 'word "redis"', "mentioned", ("redis",)),
        (7, 'word "temporal"', "mentioned", ("temporal",)),
    }


def test_python_multiline_strings_report_the_matching_line(index: SignalIndex) -> None:
    source = 'CONFIG = """\nname: x\nbroker: redis://redis:6379/0\n"""\n'
    lines = {(f.line, f.kind) for f in python_evidence(source, index)}
    assert lines == {(3, "use")}


def test_python_that_does_not_tokenize_is_only_mentioned(index: SignalIndex) -> None:
    found = python_evidence('x = "redis://redis:6379\n  (unclosed\n', index)
    assert found and {f.kind for f in found} == {"mentioned"}


def test_js_tokens_tell_comments_strings_templates_and_regexes_apart() -> None:
    tokens = tokenize(
        "// a comment with 'quote\n"
        'const a = "x" / 2; const re = /redis|"mongo/g;\n'
        "const t = `http://${host}:1/${`nested`}`;\n"
    )
    kinds = [(t.kind, t.text) for t in tokens if t.kind in ("comment", "string", "template")]
    assert kinds == [
        ("comment", " a comment with 'quote"),
        ("string", "x"),
        ("template", "http://${host}:1/${`nested`}"),
    ]


def test_js_imports_requires_env_and_urls(index: SignalIndex) -> None:
    source = """import { Pool } from "pg";
const Redis = require('ioredis');
import("@temporalio/client");
import { helper } from "./local";
const url = process.env.MONGODB_URI ?? `mongodb://mongodb:27017/${db}`;
/* grafana is optional */
const frame = `${base}/grafana`;
"""
    found = summary(js_evidence(source, index))
    assert found == {
        (1, 'import "pg"', "use", ("postgres",)),
        (2, 'import "ioredis"', "use", ("redis",)),
        (3, 'import "@temporalio/client"', "use", ("temporal",)),
        (5, "env MONGODB_URI", "use", ("mongodb",)),
        (5, "env MONGODB_URI set here", "use", ("mongodb",)),  # its default points there
        (5, "mongodb:// URL", "use", ("mongodb",)),
        (5, "host mongodb:27017", "use", ("mongodb",)),
        (6, 'word "grafana"', "mentioned", ("grafana",)),
        (7, 'word "grafana"', "mentioned", ("grafana",)),
    }


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "requirements-dev.txt",
            "redis>=5  # cache\npymongo\n-r base.txt\n",
            {(1, "package redis", "declared")},
        ),
        (
            "pyproject.toml",
            '[project]\ndependencies = ["redis>=5", "httpx"]\n'
            "[tool.poetry.dependencies]\npymongo = '^4'\n",
            {(2, "package redis", "declared"), (4, "package pymongo", "declared")},
        ),
        (
            "package.json",
            '{\n  "dependencies": {\n    "ioredis": "^5"\n  }\n}\n',
            {(3, "package ioredis", "declared")},
        ),
        (
            ".env.example",
            "# redis for later\nREDIS_URL=redis://:s3cret@redis:6379\n",
            {
                (1, 'word "redis"', "mentioned"),
                (2, "env REDIS_URL", "declared"),
                (2, "env REDIS_URL set here", "declared"),
                (2, "redis:// URL", "declared"),
                (2, "host redis:6379", "declared"),
            },
        ),
        (
            "PLAN.md",
            "Use `redis://redis:6379` for the queue.\n",
            {(1, "redis:// URL", "mentioned"), (1, "host redis:6379", "mentioned")},
        ),
        (
            "settings.yaml",
            "# cache: redis\ncache_url: redis://redis:6379\n",
            {
                (1, 'word "redis"', "mentioned"),
                (2, "redis:// URL", "declared"),
                (2, "host redis:6379", "declared"),
            },
        ),
    ],
)
def test_manifests_env_files_documents_and_config(
    index: SignalIndex, name: str, text: str, expected: set[tuple[int, str, str]]
) -> None:
    found = extractor_for(name)(text, index)
    assert {(f.line, f.signal, f.kind) for f in found if "redis" in f.services} == {
        e for e in expected if "mongo" not in e[1]
    }


def test_signals_never_carry_the_matched_text(index: SignalIndex) -> None:
    found = python_evidence('DSN = "postgresql://admin:hunter2@postgres:5432/db"\n', index)
    assert found and all("hunter2" not in f.signal and "admin" not in f.signal for f in found)


def test_short_service_names_are_not_bare_prefilter_literals(tmp_path: Path) -> None:
    compose = tmp_path / "compose.yml"
    compose.write_text(
        "services:\n  db:\n    image: example/custom\n    ports: ['127.0.0.1:15432:5432']\n"
    )
    from vpmigrate.compose.loader import load_project

    literals = build_index(load_project([compose], environ={}), parse_settings({})).literals()
    assert b"db" not in literals
    assert {b"//db", b"@db", b"db:", b'"db"', b"=db", b":15432"} <= set(literals)


def test_a_service_named_after_a_common_word_is_never_a_bare_literal(tmp_path: Path) -> None:
    # measured on a cookiecutter-django project: a bare `django` pulled 460 of 781
    # files into the parser
    compose = tmp_path / "compose.yml"
    compose.write_text("services:\n  django:\n    image: example/web\n")
    from vpmigrate.compose.loader import load_project

    literals = build_index(load_project([compose], environ={}), parse_settings({})).literals()
    assert b"django" not in literals
    assert b"django:" in literals and b"//django" in literals


def test_python_settings_attributes_and_multiline_imports(index: SignalIndex) -> None:
    source = (
        "from mlflow.tracking import (\n"
        "    MlflowClient,\n"
        ")\n"
        "client = connect(settings.REDIS_URL)\n"
        "if True:\n"
        "    import minio as storage\n"
        "    storage.Minio('minio:9000')\n"
    )
    found = {(f.line, f.signal, f.kind) for f in python_evidence(source, index)}
    assert found == {
        (1, "from mlflow.tracking import", "use"),
        (4, "env REDIS_URL", "use"),
        (6, "import minio", "use"),
        (7, "storage.Minio", "use"),
        (7, "host minio:9000", "use"),
    }
