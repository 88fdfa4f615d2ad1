"""Which files a scan reads: .gitignore rules as git applies them, and the same
findings whether the tree is read in-process or by worker processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.codescan.conftest import SMALL_LIMIT, load
from vpmigrate.codescan.gitignore import IgnoreStack, parse_rules
from vpmigrate.codescan.index import build_index
from vpmigrate.codescan.prefilter import build_prefilter, substring_prefilter
from vpmigrate.codescan.scan import scan_code
from vpmigrate.codescan.settings import parse_settings
from vpmigrate.codescan.walker import walk


@pytest.mark.parametrize(
    ("rules", "path", "is_dir", "ignored"),
    [
        ("*.log", "a/b/debug.log", False, True),
        ("/build", "build", True, True),
        ("/build", "src/build", True, False),
        ("docs/*.md", "docs/a.md", False, True),
        ("docs/*.md", "docs/sub/a.md", False, False),
        ("**/cache/", "x/y/cache", True, True),
        ("**/cache/", "x/y/cache", False, False),
        ("logs/**", "logs/a/b.txt", False, True),
        ("a/**/z", "a/b/c/z", False, True),
        ("a/**/z", "a/z", False, True),
        ("*.py\n!keep.py", "src/keep.py", False, False),
        ("*.py\n!keep.py", "src/other.py", False, True),
        ("data[0-9].csv", "data7.csv", False, True),
        ("data[!0-9].csv", "data7.csv", False, False),
        ("# comment\n\\#hash", "#hash", False, True),
        ("name?.txt", "name1.txt", False, True),
        # hostile input: an invalid range matches nothing (as in git), an unclosed
        # bracket is a literal, stacked wildcards cost no more than one
        ("[z-a]", "z", False, False),
        ("data[z-a].csv\n*.csv", "data1.csv", False, True),
        ("a[", "a[", False, True),
        ("*a*a*a*a*a*a*a*a*a*a*a*a*b", "a" * 200, False, False),
        ("*a*a*a*a*a*a*a*a*a*a*a*a*b", "a" * 20 + "b", False, True),
        ("**/**/**/x", "d/e/x", False, True),
        ("x/**/**/y", "x/y", False, True),
        ("[!a]", "b", False, True),
        ("[!a]", "a", False, False),
        ("build/\n!build/keep", "src/build", True, True),
    ],
)
def test_gitignore_rules(rules: str, path: str, is_dir: bool, ignored: bool) -> None:
    stack = IgnoreStack().with_rules(parse_rules(rules, ""))
    assert stack.ignored(path, is_dir=is_dir) is ignored


def test_a_hundred_thousand_rules_are_indexed_not_tried_one_by_one() -> None:
    text = "".join(
        f"gen{i}.py\n*.ext{i}\n/out{i}\nbuild{i}/*.o\nsrc{i}/**/t*_*.py\n" for i in range(20_000)
    )
    stack = IgnoreStack().with_rules(parse_rules(text, ""))
    assert stack.ignored("a/gen7.py", is_dir=False)
    assert stack.ignored("a/b.ext19999", is_dir=False)
    assert stack.ignored("out3", is_dir=True) and not stack.ignored("a/out3", is_dir=True)
    assert stack.ignored("build5/x.o", is_dir=False)
    assert stack.ignored("src8/a/b/t1_2.py", is_dir=False)
    assert not stack.ignored("pkg/module.py", is_dir=False)


def test_rules_of_a_subfolder_apply_below_it_only() -> None:
    stack = IgnoreStack().with_rules(parse_rules("/out", "web"))
    assert stack.ignored("web/out", is_dir=True)
    assert not stack.ignored("out", is_dir=True)
    assert not stack.ignored("api/out", is_dir=True)


def test_walk_honours_enclosing_and_nested_gitignores(platform: Path) -> None:
    files = {Path(p).relative_to(platform).as_posix() for p in walk(platform / "mvp")}
    assert "mvp/training/train.py" in files
    assert "mvp/.gitignore" in files
    assert not any(
        part in f
        for f in files
        for part in ("generated/", "node_modules", ".venv", "tools/env", ".tmp.py", ".png")
    )


def test_extra_excludes_from_configuration(platform: Path) -> None:
    files = {Path(p).name for p in walk(platform / "mvp", exclude=("docs/", "CLAUDE.md"))}
    assert "PLAN.md" not in files and "CLAUDE.md" not in files
    assert "train.py" in files


def test_the_fallback_prefilter_selects_every_file_the_automaton_does(platform: Path) -> None:
    literals = build_index(load(platform), parse_settings({})).literals()
    fast, fallback = build_prefilter(literals), substring_prefilter(literals)
    selected = 0
    for path in walk(platform / "mvp"):
        data = Path(path).read_bytes()
        if fast(data):
            selected += 1
            assert fallback(data), path
    assert selected >= 10
    assert fallback(b"import REDIS\n") and not fallback(b"def train(epochs): pass\n")


def test_worker_processes_find_what_one_process_finds(platform: Path) -> None:
    index = build_index(load(platform), parse_settings({}))
    roots = [platform / "mvp"]
    kwargs = {"display_base": platform, "max_file_bytes": SMALL_LIMIT}
    alone = scan_code(roots, index, **kwargs)  # type: ignore[arg-type]
    parallel = scan_code(roots, index, chunk_size=2, **kwargs)  # type: ignore[arg-type]
    assert parallel.evidence == alone.evidence
    assert parallel.stats == alone.stats
    assert alone.stats.files > 2 * 2  # more than one chunk: the pool really ran
