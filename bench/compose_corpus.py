"""Measure our Compose loader against Docker Compose v2 on a corpus of public files.

    python -m bench.compose_corpus CORPUS [--work DIR] [--refresh] [--cli] [--show N]
                                          [--pairs] [--all-profiles] [--only TEXT]

CORPUS is a folder holding checkouts of public projects (nothing from them is
committed here): docker/awesome-compose, docker/compose (its `pkg/e2e/fixtures`),
compose-spec/compose-spec (the YAML examples in its Markdown) and
compose-spec/compose-go (its `testdata` files and the YAML strings of its Go tests).
Each input is given to `docker compose config --format json` and to our loader
(`vpmigrate.compose.config.compose_config`, what `inv local.config --format json`
prints; `--cli` runs `inv local.config` itself, slower), and the two outputs are
compared on what shapes a running stack (see `runtime_view`). `--pairs` gives two
files of one folder as `-f A -f B` instead (merging, extends and include across
files); `--all-profiles` activates every profile on both sides.

Prints per source: inputs, accepted by Compose, identical, different, refused by us
although Compose accepts; refused by Compose and by us (and whether our message
names file:line), accepted by us although Compose refuses; tracebacks. `--show N`
prints N examples of each kind of difference. Compose's answers are cached in
WORK/reference.json (keyed by the input's content), so re-runs only run our side.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import os
import re
import resource
import subprocess
import sys
import traceback
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
_TOP_KEYS = {"services", "include"}
_COMPOSE_NAMES = re.compile(r"^(docker-)?compose([.-].*)?\.ya?ml$")
_FILE_LINE = re.compile(r"\.ya?ml:\d+")


@dataclass(frozen=True)
class Input:
    source: str  # awesome-compose, compose-e2e, compose-spec, compose-go
    label: str  # a stable name for reports
    file: Path
    more: tuple[Path, ...] = ()  # further -f files (with --pairs)

    @property
    def files(self) -> tuple[Path, ...]:
        return (self.file, *self.more)

    def key(self) -> str:
        digest = hashlib.sha256(b"".join(f.read_bytes() for f in self.files)).hexdigest()[:16]
        return f"{self.label}#{digest}"


def pairs(inputs: list[Input]) -> list[Input]:
    """Two files of the same folder given as `-f A -f B` (every order, at most four files
    a folder): how files merge, extend and include each other."""
    folders: dict[tuple[str, Path], list[Input]] = defaultdict(list)
    for item in inputs:
        if "extracted" not in item.file.parts:
            folders[(item.source, item.file.parent)].append(item)
    result = []
    for (source, _), items in sorted(folders.items(), key=lambda e: str(e[0][1])):
        for first in items[:4]:
            for second in items[:4]:
                if first is not second:
                    label = f"{first.label} + {second.file.name}"
                    result.append(Input(source, label, first.file, (second.file,)))
    return result


# --- collecting inputs ------------------------------------------------------------------


def _is_compose_text(text: str) -> bool:
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError:
        # Broken YAML is still a fair input when it looks like a compose file.
        return bool(re.search(r"^(services|include):", text, re.MULTILINE))
    return any(isinstance(d, dict) and _TOP_KEYS & {str(k) for k in d} for d in documents)


def _write_extracted(work: Path, source: str, name: str, text: str) -> Path:
    folder = work / "extracted" / source / name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "compose.yaml"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def collect(corpus: Path, work: Path) -> list[Input]:
    inputs: list[Input] = []
    for repo in sorted(p for p in corpus.iterdir() if p.is_dir() and not p.name.startswith(".")):
        inputs.extend(_collect_repo(repo, work))
    return inputs


def _collect_repo(repo: Path, work: Path) -> Iterator[Input]:
    fixtures = repo / "pkg" / "e2e" / "fixtures"
    if fixtures.is_dir():
        for path in sorted(fixtures.rglob("*.y*ml")):
            if path.suffix in (".yml", ".yaml") and _is_compose_text(_read(path)):
                yield Input("compose-e2e", str(path.relative_to(repo)), path)
        return
    if (repo / "loader" / "testdata").is_dir():
        for path in sorted(repo.rglob("*.y*ml")):
            relative = path.relative_to(repo)
            if "testdata" not in relative.parts and relative.parts[0] != "schema":
                continue
            if path.suffix in (".yml", ".yaml") and _is_compose_text(_read(path)):
                yield Input("compose-go", str(relative), path)
        for go_file in sorted(repo.rglob("*_test.go")):
            for index, text in enumerate(re.findall(r"`([^`]*)`", _read(go_file))):
                body = text.strip("\n")
                if "\n" in body and _is_compose_text(body):
                    name = f"{go_file.relative_to(repo)}#{index}".replace("/", "_")
                    path = _write_extracted(work, "compose-go", name, body + "\n")
                    yield Input("compose-go", f"{go_file.relative_to(repo)}#{index}", path)
        return
    markdown = sorted(repo.glob("*.md"))
    if any(p.name == "05-services.md" for p in markdown):
        for md in markdown:
            blocks = re.findall(r"^```ya?ml\n(.*?)^```", _read(md), re.MULTILINE | re.DOTALL)
            for index, body in enumerate(blocks):
                if re.search(r"^(services|include):", body, re.MULTILINE):
                    path = _write_extracted(work, "compose-spec", f"{md.stem}#{index}", body)
                    yield Input("compose-spec", f"{md.name}#{index}", path)
        return
    for path in sorted(repo.rglob("*.y*ml")):
        relative = path.relative_to(repo)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if _COMPOSE_NAMES.match(path.name) and _is_compose_text(_read(path)):
            yield Input("awesome-compose", str(relative), path)


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


# --- running both sides -----------------------------------------------------------------


def _environment() -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root")}


# Some inputs are hostile on purpose (compose-go tests "billion laughs" YAML): both
# sides run with a memory ceiling and a time limit.
MEMORY_LIMIT = 2 * 1024**3
TIME_LIMIT = 30.0


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


@dataclass
class Outcome:
    ok: bool
    config: dict[str, Any] | None = None
    error: str = ""
    traceback: bool = False


def reference(item: Input, profiles: list[str]) -> Outcome:
    options = [f"--profile={p}" for p in profiles]
    try:
        files = [option for f in item.files for option in ("-f", f.name)]
        done = _run_limited(
            ["docker", "compose", *files, *options, "config", "--format", "json"], item
        )
    except subprocess.TimeoutExpired:
        # Remote includes (git, http) wait for a network that is not there.
        return Outcome(False, error="docker compose config timed out (a remote resource?)")
    if done.returncode != 0:
        return Outcome(False, error=done.stderr.strip()[-2000:])
    return Outcome(True, config=json.loads(done.stdout))


class _Worker:
    """Our loader in a separate process (with the memory ceiling), replaced when an
    input kills it or runs past the time limit."""

    def __init__(self) -> None:
        self.pool = self._start()

    @staticmethod
    def _start() -> concurrent.futures.ProcessPoolExecutor:
        return concurrent.futures.ProcessPoolExecutor(max_workers=1, initializer=_limit_memory)

    def run(self, item: Input, profiles: list[str]) -> Outcome:
        future = self.pool.submit(_load_ours, [str(f) for f in item.files], profiles)
        try:
            return future.result(timeout=TIME_LIMIT)
        except concurrent.futures.TimeoutError:
            self._restart()
            return Outcome(False, error="our loader ran out of time", traceback=True)
        except concurrent.futures.process.BrokenProcessPool:
            self._restart()
            return Outcome(False, error="our loader's process died", traceback=True)

    def _restart(self) -> None:
        for process in list(getattr(self.pool, "_processes", {}).values()):
            process.kill()
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = self._start()

    def close(self) -> None:
        self.pool.shutdown(wait=True)


def _load_ours(files: list[str], profiles: list[str]) -> Outcome:
    try:
        from vpmigrate.compose.config import compose_config
        from vpmigrate.errors import UserError
    except Exception:  # noqa: BLE001 - a broken checkout: say so for every input
        return Outcome(False, error=traceback.format_exc()[-2000:], traceback=True)
    try:
        paths = [Path(f) for f in files]
        config = compose_config(paths, profiles=profiles, environ=_environment())
        return Outcome(True, config=config)
    except UserError as exc:
        return Outcome(False, error=str(exc))
    except Exception:  # noqa: BLE001 - a traceback is what we are counting
        return Outcome(False, error=traceback.format_exc()[-2000:], traceback=True)


def ours(item: Input, cli: bool, worker: _Worker, profiles: list[str]) -> Outcome:
    if cli:
        return _ours_cli(item, profiles)
    return worker.run(item, profiles)


def _ours_cli(item: Input, profiles: list[str]) -> Outcome:
    inv = REPO_ROOT / ".venv" / "bin" / "inv"
    done = _run_limited(
        [str(inv), "-r", str(REPO_ROOT), "local.config"]
        + [option for f in item.files for option in ("--file", str(f))]
        + [f"--profile={p}" for p in profiles]
        + ["--format", "json"],
        item,
    )
    if done.returncode != 0:
        return Outcome(False, error=done.stderr.strip(), traceback="Traceback" in done.stderr)
    return Outcome(True, config=json.loads(done.stdout))


def _run_limited(command: list[str], item: Input) -> subprocess.CompletedProcess[str]:
    """`command` in the input's folder, with the time and memory limits of every side."""
    return subprocess.run(
        command,
        cwd=item.file.parent,
        env=_environment(),
        capture_output=True,
        text=True,
        check=False,
        timeout=TIME_LIMIT,
        preexec_fn=_limit_memory,
    )


# --- comparing --------------------------------------------------------------------------

# Keys that do not change what runs on a single engine: Swarm-only deployment
# settings, `develop` (compose watch), top-level extensions.
_SWARM_DEPLOY = {"placement", "update_config", "rollback_config", "endpoint_mode", "mode"}


def runtime_view(config: dict[str, Any]) -> dict[str, Any]:
    """The parts of a `docker compose config` document that shape a running stack.

    Representation-only differences are evened out: a port without `protocol` is tcp
    (the engine's default, which the model always names); a service network with an
    empty options mapping is one without options; an empty `build.dockerfile` is the
    default `Dockerfile`."""
    view = {k: v for k, v in config.items() if not k.startswith("x-")}
    services = {}
    for name, service in (config.get("services") or {}).items():
        service = {k: v for k, v in service.items() if k != "develop"}
        networks = service.get("networks")
        if isinstance(networks, dict):
            service["networks"] = {k: v or None for k, v in networks.items()}
        build = service.get("build")
        if isinstance(build, dict) and "dockerfile_inline" not in build:
            service["build"] = {**build, "dockerfile": build.get("dockerfile") or "Dockerfile"}
        if isinstance(service.get("ports"), list):
            service["ports"] = [
                {"protocol": "tcp", **p} if isinstance(p, dict) else p for p in service["ports"]
            ]
        deploy = service.get("deploy")
        if isinstance(deploy, dict):
            deploy = {k: v for k, v in deploy.items() if k not in _SWARM_DEPLOY}
            if deploy:
                service["deploy"] = deploy
            else:
                service.pop("deploy")
        services[name] = service
    view["services"] = services
    return view


def differences(expected: Any, actual: Any, path: str = "") -> list[str]:
    if isinstance(expected, dict) and isinstance(actual, dict):
        found = []
        for key in sorted(set(expected) | set(actual)):
            where = f"{path}.{key}" if path else key
            if key not in actual:
                found.append(f"{where}: missing (Compose: {_short(expected[key])})")
            elif key not in expected:
                found.append(f"{where}: extra ({_short(actual[key])})")
            else:
                found.extend(differences(expected[key], actual[key], where))
        return found
    if expected != actual:
        return [f"{path}: Compose {_short(expected)}, ours {_short(actual)}"]
    return []


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) < 160 else text[:157] + "..."


# --- report -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compose_corpus", description=__doc__)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--work", type=Path, help="cache folder (default CORPUS/.vpmigrate)")
    parser.add_argument("--refresh", action="store_true", help="run docker compose again")
    parser.add_argument("--cli", action="store_true", help="run `inv local.config` itself")
    parser.add_argument("--show", type=int, default=3, help="examples per kind of difference")
    parser.add_argument("--only", help="only inputs whose label contains this text")
    parser.add_argument("--json", type=Path, help="write every input's outcome here")
    parser.add_argument(
        "--pairs",
        action="store_true",
        help="instead of single files, two files of one folder as -f A -f B",
    )
    parser.add_argument(
        "--all-profiles",
        action="store_true",
        help="activate every profile (--profile '*'), so profiled services are compared too",
    )
    args = parser.parse_args(argv)
    work = args.work or args.corpus / ".vpmigrate"
    work.mkdir(parents=True, exist_ok=True)
    inputs = collect(args.corpus, work)
    if args.pairs:
        inputs = pairs(inputs)
    if args.only:
        inputs = [i for i in inputs if args.only in i.label]
    profiles = ["*"] if args.all_profiles else []
    mode = ("-pairs" if args.pairs else "") + ("-all-profiles" if args.all_profiles else "")
    cache_path = work / f"reference{mode}.json"
    cache: dict[str, Any] = {}
    if cache_path.exists() and not args.refresh:
        cache = json.loads(cache_path.read_text())

    rows: dict[str, Counter[str]] = defaultdict(Counter)
    examples: dict[str, list[str]] = defaultdict(list)
    first_keys: Counter[str] = Counter()
    details = []
    worker = _Worker()
    for item in inputs:
        key = item.key()
        if key not in cache:
            outcome = reference(item, profiles)
            cache[key] = {"ok": outcome.ok, "config": outcome.config, "error": outcome.error}
            if len(cache) % 50 == 0:
                cache_path.write_text(json.dumps(cache))
        ref = Outcome(**cache[key])
        mine = ours(item, args.cli, worker, profiles)
        row = rows[item.source]
        row["inputs"] += 1
        kind = _classify(ref, mine)
        row[kind] += 1
        detail = ""
        if kind == "different":
            assert ref.config is not None and mine.config is not None
            found = differences(runtime_view(ref.config), runtime_view(mine.config))
            detail = "; ".join(found[:4])
            for line in found:
                first_keys[re.sub(r"^services\.[^.]+\.", "services.*.", line.split(":")[0])] += 1
        elif kind in ("we refuse", "both refuse, no file:line", "we accept", "traceback"):
            detail = f"ours: {mine.error[:300]} | compose: {ref.error[:200]}"
        if detail and len(examples[kind]) < args.show:
            examples[kind].append(f"{item.label}: {detail}")
        details.append({"label": item.label, "source": item.source, "kind": kind, "detail": detail})
    worker.close()
    cache_path.write_text(json.dumps(cache))
    if args.json:
        args.json.write_text(json.dumps(details, indent=1))
    _print_report(rows, examples, first_keys)
    return 0


def _classify(ref: Outcome, mine: Outcome) -> str:
    if mine.traceback:
        return "traceback"
    if ref.ok and mine.ok:
        assert ref.config is not None and mine.config is not None
        same = runtime_view(ref.config) == runtime_view(mine.config)
        return "identical" if same else "different"
    if ref.ok:
        return "we refuse"
    if mine.ok:
        return "we accept"
    return "both refuse" if _FILE_LINE.search(mine.error) else "both refuse, no file:line"


_COLUMNS = [
    "inputs",
    "identical",
    "different",
    "we refuse",
    "both refuse",
    "both refuse, no file:line",
    "we accept",
    "traceback",
]


def _print_report(
    rows: dict[str, Counter[str]], examples: dict[str, list[str]], first_keys: Counter[str]
) -> None:
    total: Counter[str] = Counter()
    print("| source | " + " | ".join(_COLUMNS) + " | identical / Compose accepts |")
    print("|---" * (len(_COLUMNS) + 2) + "|")
    for source in sorted(rows):
        total.update(rows[source])
        print(_row(source, rows[source]))
    print(_row("all", total))
    for kind, lines in examples.items():
        print(f"\n{kind}:")
        for line in lines:
            print(f"  {line}")
    if first_keys:
        print("\nmost frequent differing keys:")
        for key, count in first_keys.most_common(15):
            print(f"  {count:4d} {key}")


def _row(source: str, row: Counter[str]) -> str:
    accepted = row["identical"] + row["different"] + row["we refuse"]
    share = f"{100 * row['identical'] / accepted:.1f}%" if accepted else "-"
    return f"| {source} | " + " | ".join(str(row[c]) for c in _COLUMNS) + f" | {share} |"


if __name__ == "__main__":
    sys.exit(main())
