"""The files a scan reads: below the given roots, honouring .gitignore, skipping
VCS folders, virtual environments, dependency folders, lock files and binaries."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from vpmigrate.codescan.gitignore import IgnoreStack, parse_rules

SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
        ".nox",
        ".venv",
        "venv",
        ".next",
        ".nuxt",
        ".turbo",
        ".cache",
        "site-packages",
        ".idea",
        "bower_components",
        ".terraform",
    }
)
SKIPPED_FILES = frozenset(
    {
        "package-lock.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "poetry.lock",
        "Pipfile.lock",
        "uv.lock",
        "Cargo.lock",
        "composer.lock",
        "go.sum",
    }
)
BINARY_SUFFIXES = frozenset(
    {
        ".png",
        ".jpg",
        ".jpeg",
        ".gif",
        ".bmp",
        ".ico",
        ".webp",
        ".svgz",
        ".pdf",
        ".zip",
        ".gz",
        ".tgz",
        ".bz2",
        ".xz",
        ".zst",
        ".tar",
        ".7z",
        ".whl",
        ".egg",
        ".so",
        ".dylib",
        ".dll",
        ".exe",
        ".o",
        ".a",
        ".pyc",
        ".pyo",
        ".class",
        ".jar",
        ".onnx",
        ".pt",
        ".pth",
        ".ckpt",
        ".safetensors",
        ".bin",
        ".h5",
        ".npy",
        ".npz",
        ".pkl",
        ".parquet",
        ".db",
        ".sqlite",
        ".woff",
        ".woff2",
        ".ttf",
        ".otf",
        ".eot",
        ".mp3",
        ".mp4",
        ".mov",
        ".avi",
        ".wav",
        ".map",
    }
)


def walk(
    root: Path,
    *,
    exclude: tuple[str, ...] = (),
    skip: frozenset[Path] = frozenset(),
    errors: list[str] | None = None,
) -> Iterator[str]:
    """Paths of the files below `root` (or `root` itself when it is a file) worth
    reading, in a stable order. The .gitignore files of the enclosing git work tree
    above `root` apply too. Strings, not `Path`s: on a large tree the objects cost more
    than the walk. Folders that cannot be listed are appended to `errors`."""
    root = root.resolve()
    skipped = {str(p) for p in skip}
    if root.is_file():
        if str(root) not in skipped:
            yield str(root)
        return
    top, stack = _inherited_rules(root)
    stack = stack.with_rules(parse_rules("\n".join(exclude), _relative(root, top)))
    prefix = str(top) + os.sep
    pending = [(str(root), stack)]
    while pending:
        directory, rules = pending.pop()
        if os.path.isfile(os.path.join(directory, ".gitignore")):
            relative = directory[len(prefix) :] if directory.startswith(prefix) else ""
            rules = rules.with_file(Path(directory, ".gitignore"), relative.replace(os.sep, "/"))
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            if errors is not None:
                errors.append(directory + os.sep)
            continue
        subdirs = []
        for entry in entries:
            name = entry.name
            if entry.is_dir(follow_symlinks=False):
                if name in SKIPPED_DIRS:
                    continue
                if rules.rules and rules.ignored(_below(entry.path, prefix), is_dir=True):
                    continue
                if os.path.exists(os.path.join(entry.path, "pyvenv.cfg")):
                    continue  # a virtual environment, whatever its name
                subdirs.append(entry.path)
            elif entry.is_file(follow_symlinks=False):
                if name in SKIPPED_FILES or _is_binary_name(name):
                    continue
                if rules.rules and rules.ignored(_below(entry.path, prefix), is_dir=False):
                    continue
                if entry.path not in skipped:
                    yield entry.path
        # depth first, in name order: push in reverse so the first name pops first
        pending.extend((subdir, rules) for subdir in reversed(subdirs))


def _below(path: str, prefix: str) -> str:
    relative = path[len(prefix) :] if path.startswith(prefix) else path
    return relative if os.sep == "/" else relative.replace(os.sep, "/")


def _is_binary_name(name: str) -> bool:
    dot = name.rfind(".")
    if dot <= 0:
        return False
    suffix = name[dot:].lower()
    return suffix in BINARY_SUFFIXES or name.endswith(".min.js")


def _inherited_rules(root: Path) -> tuple[Path, IgnoreStack]:
    """The top of the git work tree around `root` (or `root`) and the rules of the
    .gitignore files between that top and `root` (exclusive)."""
    top = next((p for p in (root, *root.parents) if (p / ".git").exists()), None)
    if top is None:
        return root, IgnoreStack()
    stack = IgnoreStack()
    exclude = top / ".git" / "info" / "exclude"
    if exclude.is_file():
        stack = stack.with_file(exclude, "")
    parts = root.relative_to(top).parts
    # `root`'s own .gitignore is read by the walk itself
    for depth in range(len(parts)):
        directory = top.joinpath(*parts[:depth])
        if (directory / ".gitignore").is_file():
            stack = stack.with_file(directory / ".gitignore", _relative(directory, top))
    return top, stack


def _relative(path: Path, top: Path) -> str:
    relative = path.relative_to(top).as_posix()
    return "" if relative == "." else relative
