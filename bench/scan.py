"""Benchmark 2: `cleanup.unused`'s scan of a generated 20,000-file tree against
ripgrep and `grep -rE` searching the same signature literals.

The literals are exactly the ones our prefilter looks for (built from the team's
compose file), escaped into one pattern file that both rg and grep read.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from bench.common import (
    REPO_ROOT,
    Report,
    Row,
    Run,
    clean_env,
    inv_command,
    median,
    run_timed,
    timed,
)
from bench.tree import Tree, ensure_tree

COMPOSE_FILE = REPO_ROOT / "compose" / "docker-compose.full.yml"
ENV_FILE = REPO_ROOT / "env" / ".env.example"  # tracked, non-secret values
DEFAULT_BASE = Path("/tmp/vpbench-scan-tree")


def run(runs: int, report: Report, base: Path | None) -> None:
    from vpmigrate.codescan.audit import audit
    from vpmigrate.codescan.index import build_index
    from vpmigrate.codescan.settings import parse_settings
    from vpmigrate.compose.loader import load_project

    project = load_project([COMPOSE_FILE], env_files=[ENV_FILE])
    settings = parse_settings({})
    literals = build_index(project, settings).literals()
    tree = ensure_tree(base or DEFAULT_BASE)
    patterns = tree.root.parent / "patterns.txt"
    patterns.write_text("\n".join(_escape(x.decode()) for x in literals) + "\n")

    env = clean_env(LC_ALL="C")
    root = str(tree.root)
    commands = {
        "rg": ["rg", "-n", "-f", str(patterns), root],
        "rg -j1": ["rg", "-j1", "-n", "-f", str(patterns), root],
        "grep -rE": ["grep", "-rnE", "-f", str(patterns), root],
    }
    missing = [name for name, argv in commands.items() if shutil.which(argv[0]) is None]
    for name in missing:
        commands.pop(name)
        report.notes.append(f"scan: {name} is not installed; skipped")

    def ours() -> object:
        return audit(project, [tree.root], settings, display_base=tree.root)

    cli = [
        *inv_command(),
        "cleanup.unused",
        "--path",
        root,
        "--file",
        str(COMPOSE_FILE),
        "--env-file",
        str(ENV_FILE),
        "--format",
        "json",
    ]
    # Warm the page cache and check that every tool sees the same files match.
    result = audit(project, [tree.root], settings, display_base=tree.root)
    for name, argv in commands.items():
        _search(argv, env, name)
    _search(cli, clean_env(), "inv cleanup.unused")
    matched = _matching_files(commands, patterns, root, env)

    samples: dict[str, list[float]] = {name: [] for name in ["ours", "inv", *commands]}
    for _ in range(runs):
        samples["ours"].append(timed(ours))
        samples["inv"].append(_search(cli, clean_env(), "inv cleanup.unused").seconds)
        for name, argv in commands.items():
            samples[name].append(_search(argv, env, name).seconds)
    _rows(samples, tree, result.stats.files, result.stats.selected, matched, report)


def _escape(literal: str) -> str:
    """A literal as a pattern both POSIX ERE and Rust's regex read the same way."""
    return re.sub(r"([.\[\](){}*+?|^$\\])", r"\\\1", literal)


def _search(argv: list[str], env: dict[str, str], name: str) -> Run:
    done = run_timed(argv, env=env)
    if done.returncode not in (0, 1):  # 1: nothing matched
        done.check(name)
    return done


def _matching_files(
    commands: dict[str, list[str]], patterns: Path, root: str, env: dict[str, str]
) -> int | None:
    if "rg" in commands:
        listed = _search(["rg", "-l", "-f", str(patterns), root], env, "rg -l")
        return len(listed.stdout.splitlines())
    return None


def _rows(
    samples: dict[str, list[float]],
    tree: Tree,
    files: int,
    selected: int,
    matched: int | None,
    report: Report,
) -> None:
    ours = median(samples["ours"])
    cli = median(samples["inv"])
    size = f"{tree.files} files, {tree.bytes / 1e6:.0f} MB"
    rate = f"{files / ours:,.0f} files/s"
    for name in samples:
        if name in ("ours", "inv"):
            continue
        ref = median(samples[name])
        target, met = "", None
        if name == "rg":
            target, met = "<= 2x rg", ours <= 2 * ref
        elif name.startswith("grep"):
            target, met = "< grep", ours < ref
        report.rows.append(
            Row(
                f"scan {size}, core API",
                ours,
                name,
                ref,
                "s",
                target,
                met,
                f"ours {rate}, {name} {tree.files / ref:,.0f} files/s",
            )
        )
    if "rg" in samples:
        ref = median(samples["rg"])
        report.rows.append(
            Row(
                f"scan {size}, inv cleanup.unused",
                cli,
                "rg",
                ref,
                "s",
                note=f"{files / cli:,.0f} files/s, process start-up included",
            )
        )
    agree = "" if matched is None else f"; rg -l lists {matched}"
    report.notes.append(
        f"scan: ours read {files} files and parsed the {selected} its prefilter selected"
        f"{agree}; {tree.planted} files carry a planted service reference. rg and grep ran "
        f"with LC_ALL=C on {os.cpu_count()} cores; rg -j1 is ripgrep on one thread."
    )
