"""A generated code tree for the scan benchmark: Python, TypeScript and Markdown that
looks like an application's code, with a few planted lines that name services.

Deterministic (seeded), built once and reused from /tmp: the stamp file beside the
tree records what it was built from. Generated lines that happen to name a service
product, a database driver or a `:port` are dropped, so the only matches are the
planted ones; the list is fixed here (not taken from the scanner) so that the tree
stays the same while the scanner changes.
"""

from __future__ import annotations

import json
import random
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

VERSION = 3
SEED = 20260127
FILES = 20_000
TARGET_BYTES = 200 * 1000 * 1000
POOL_LINES = 4000
FORBIDDEN = re.compile(
    r"postgres|psycopg|asyncpg|pg8000|pgadmin|mongo|motor|beanie|redis|valkey|walrus|bull"
    r"|minio|mlflow|grafana|prometheus|prom.client|temporal|mail|smtp|neondatabase|starlette|database_url"
    r"|endpoint_url|pghost|pguser|pgpassword|pgdatabase|[\"'`](pg|rq)[\"'`/]|:\d",
    re.IGNORECASE,
)

_VOCABULARY = """
alpha angle anchor apply array asset attach audit augment axis badge balance batch
beacon blend block border bound branch bridge buffer bundle button canvas caption
cascade channel chart check chunk circle claim clamp class clip cluster column
commit compute config crop cursor curve dataset decay delta dense depth detect
digest dimension domain draft dropout edge embed encode epoch error event expand
export extract factor feature fetch field filter flag float focus folder format
frame freeze gather gauge global gradient graph grid group handle header height
helper hidden image index input inspect intent invoke item kernel label layer
layout ledger length level limit linear loader logit lookup margin mask matrix
measure merge method metric mirror mode model module monitor normal notice offset
option order origin output owner padding panel parent parse patch pixel pointer
policy pool predict prefix preset probe profile prompt queue random range rank
ratio reader record region render report resize result review round route sample
scale scheme score scope search section segment select sense shape shard signal
simple sketch slice slot source split stage state status step stride style submit
summary switch symbol table target tensor thread tile token topic trace track
train trigger tuple update upload usage value vector verify view visual weight
widget window worker write yield zone
"""
WORDS = _VOCABULARY.split()
TYPES = ["number", "string", "boolean", "Record<string, number>", "Tensor", "Batch", "Props"]

# Lines a real code base of this platform has: each names one service.
PLANTED = {
    ".py": [
        "import mlflow",
        'os.environ.setdefault("MLFLOW_TRACKING_URI", "http://localhost:5000")',
        'engine = create_engine(os.environ["DATABASE_URL"])',
        'client = boto3.client("s3", endpoint_url=os.environ["MLFLOW_S3_ENDPOINT_URL"])',
        "from prometheus_client import Counter",
    ],
    ".tsx": [
        'const grafanaUrl = process.env.NEXT_PUBLIC_GRAFANA_URL ?? "http://localhost:3001";',
        'import { Pool } from "pg";',
    ],
    ".md": [
        "Metrics are scraped by Prometheus at http://localhost:9090.",
        "Experiments are tracked in MLflow at http://localhost:5000.",
        "Artifacts go to the MinIO bucket `vision-platform-dev`.",
    ],
}
# (top folder, suffixes, share of files)
LAYOUT = [
    ("backend", (".py",), 0.25),
    ("training", (".py",), 0.20),
    ("frontend", (".ts", ".tsx"), 0.35),
    ("docs", (".md",), 0.20),
]
FILES_PER_FOLDER = 50


@dataclass(frozen=True)
class Tree:
    root: Path
    files: int
    bytes: int
    planted: int  # files with a planted line


def ensure_tree(base: Path) -> Tree:
    """The tree under `base`/tree, generated unless the stamp says it is already there."""
    wanted = {"version": VERSION, "seed": SEED, "files": FILES, "bytes": TARGET_BYTES}
    stamp = base / "stamp.json"
    root = base / "tree"
    if stamp.is_file():
        found = json.loads(stamp.read_text())
        if {k: found.get(k) for k in wanted} == wanted:
            return Tree(root, found["written_files"], found["written_bytes"], found["planted"])
    if root.exists():
        shutil.rmtree(root)
    stamp.unlink(missing_ok=True)
    tree = _generate(root)
    stamp.write_text(
        json.dumps(
            {
                **wanted,
                "written_files": tree.files,
                "written_bytes": tree.bytes,
                "planted": tree.planted,
            }
        )
    )
    return tree


def _generate(root: Path) -> Tree:
    rng = random.Random(SEED)

    def clean(line: str) -> bool:
        return FORBIDDEN.search(line) is None

    pools = {
        ".py": _pool(rng, _python_line, clean),
        ".ts": _pool(rng, _typescript_line, clean),
        ".md": _pool(rng, _markdown_line, clean),
    }
    pools[".tsx"] = pools[".ts"]
    mean_lines = {
        suffix: TARGET_BYTES / FILES / _mean_length(pool) for suffix, pool in pools.items()
    }
    plan = [(top, suffixes, int(round(share * FILES))) for top, suffixes, share in LAYOUT]
    planted_at = set(rng.sample(range(FILES), sum(len(v) for v in PLANTED.values()) * 2))
    plants = {s: list(lines) for s, lines in PLANTED.items()}
    written = total = planted = number = 0
    for top, suffixes, count in plan:
        for i in range(count):
            folder = root / top / f"pkg{i // FILES_PER_FOLDER:03d}"
            if i % FILES_PER_FOLDER == 0:
                folder.mkdir(parents=True, exist_ok=True)
            suffix = suffixes[i % len(suffixes)]
            lines = rng.choices(
                pools[suffix], k=max(5, int(rng.expovariate(1 / mean_lines[suffix])))
            )
            if number in planted_at and plants.get(suffix):
                lines.insert(rng.randrange(len(lines)), plants[suffix].pop())
                planted += 1
            data = ("\n".join(lines) + "\n").encode()
            (folder / f"{rng.choice(WORDS)}_{i:05d}{suffix}").write_bytes(data)
            written += 1
            total += len(data)
            number += 1
    return Tree(root, written, total, planted)


def _pool(
    rng: random.Random, make: Callable[[random.Random], str], clean: Callable[[str], bool]
) -> list[str]:
    pool: list[str] = []
    while len(pool) < POOL_LINES:
        line = make(rng)
        if clean(line):
            pool.append(line)
    return pool


def _mean_length(pool: list[str]) -> float:
    return sum(len(line) + 1 for line in pool) / len(pool)


def _ident(rng: random.Random) -> str:
    return "_".join(rng.sample(WORDS, rng.randint(1, 3)))


def _camel(rng: random.Random) -> str:
    first, *rest = rng.sample(WORDS, rng.randint(1, 3))
    return first + "".join(w.capitalize() for w in rest)


def _pascal(rng: random.Random) -> str:
    return "".join(w.capitalize() for w in rng.sample(WORDS, rng.randint(1, 3)))


def _sentence(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.sample(WORDS, rng.randint(low, high)))


def _python_line(rng: random.Random) -> str:
    a, b, c = _ident(rng), _ident(rng), _ident(rng)
    pad = "    " * rng.randint(0, 2)
    return rng.choice(
        [
            f"def {a}({b}, {c}={rng.randint(0, 99)}):",
            f"class {_pascal(rng)}({_pascal(rng)}):",
            f"from .{a} import {_pascal(rng)}, {b}",
            f"{pad}# {_sentence(rng, 4, 10)}",
            f"{pad}return {a}.{b}({c}) * {rng.random():.4f}",
            f'{pad}{a} = self.{b}.get("{c}", [])',
            f"{pad}for {a} in range(len({b})):",
            f'{pad}"""{_sentence(rng, 5, 12).capitalize()}."""',
            "",
            f"{pad}if {a} is not None and {b} > {rng.randint(0, 9999)}:",
        ]
    )


def _typescript_line(rng: random.Random) -> str:
    a, b, c = _camel(rng), _camel(rng), _camel(rng)
    pad = "  " * rng.randint(0, 2)
    kind, other = rng.choice(TYPES), rng.choice(TYPES)
    return rng.choice(
        [
            f"export function {a}({b}: {kind}): {other} {{",
            f"import {{ {_pascal(rng)}, {b} }} from './{'-'.join(rng.sample(WORDS, 2))}';",
            f"{pad}const {a} = await {b}.{c}({rng.randint(0, 999)});",
            f"{pad}// {_sentence(rng, 4, 10)}",
            f"{pad}return <{_pascal(rng)} {a}={{{b}}} {c}={{{rng.randint(0, 99)}}} />;",
            f"{pad}}}",
            f"export interface {_pascal(rng)} {{ {a}: {kind}; {b}?: string }}",
            "",
            f"{pad}if ({a}.length > {rng.randint(0, 99)}) {{ {b}.push({c}); }}",
        ]
    )


def _markdown_line(rng: random.Random) -> str:
    words = _sentence(rng, 6, 18)
    return rng.choice(
        [
            "## " + " ".join(words.split()[:4]).capitalize(),
            f"- `{_ident(rng)}`: {words}.",
            "",
            f"{words.capitalize()}. {_sentence(rng, 8, 8)}.",
            f"{words.capitalize()}. {_sentence(rng, 8, 8)}.",
            f"{words.capitalize()}. {_sentence(rng, 8, 8)}.",
        ]
    )
