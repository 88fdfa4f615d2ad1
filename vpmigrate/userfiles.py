"""Reading the user's files: one place for what can go wrong and how it is worded.

Every file the user names or the tools find (compose files, `.env` and `env_file`
files, `env/railway.yml`, the split plan and the split's outputs) is read here, so
a problem reads the same whatever the task:

- `Location`: where something was written (`file:line`), for error messages.
- `read_user_file(path, kind)`: the text of a regular file, as UTF-8 (a leading
  byte-order mark is dropped). Refused with one `UserError` naming the file (and
  the line when there is one) and what to do: a missing file, a folder, a FIFO,
  a device or a socket (never opened for reading, so a FIFO cannot block), a
  symlink loop (the loop is named), a permission problem (the folder is named
  when it is the folder), a file over `MAX_FILE_BYTES`, a NUL byte (binary or
  UTF-16), and text that is not UTF-8 (line, column and byte).
  `read_user_bytes` does the same checks and returns the bytes undecoded.
- `is_missing(path)`: True only when nothing is there, so an optional file that
  exists but cannot be read is reported instead of skipped.
- Writing: `atomic_write(path, data)` replaces a file in one step (a reader sees
  the old file or the new one, a crash leaves the old one) and never writes
  through or replaces a symbolic link; `write_new_file(path, data)` creates a file
  that must not exist yet (a backup never overwrites anything);
  `remove_stale_temporaries(path)` removes what a killed `atomic_write` left.
  Write failures (permissions, a full disk) are `UserError`s naming the file.
- YAML with bounds, for PyYAML and ruamel.yaml alike: `BoundedComposer` (a mixin
  for a loader's composer) refuses nesting deeper than `MAX_YAML_DEPTH`, an alias
  that contains itself (`x: &a [*a]`), and aliases that expand the document by
  more than `MAX_ALIAS_VALUES` values (a "billion laughs" bomb ends at once, not
  in a `MemoryError`), as go-yaml, and so Compose, does.
  `compose_yaml(text, path)` returns PyYAML's node tree with those bounds;
  `invalid_yaml(path, exc)` is the one wording of "invalid YAML at file:line" for
  errors from either library.
"""

from __future__ import annotations

import codecs
import errno
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml

from vpmigrate.errors import UserError
from vpmigrate.masking import printable

MAX_FILE_BYTES = 8 * 1024 * 1024  # far above any compose, env or plan file
MAX_YAML_DEPTH = 100  # nesting levels; Compose files need fewer than 10
MAX_ALIAS_VALUES = 100_000  # values that aliases may add to a document


@dataclass(frozen=True)
class Location:
    """Where something was written: used to point error messages at the user's file."""

    file: Path
    line: int  # 1-based

    def __str__(self) -> str:
        return f"{_escaped(self.file)}:{self.line}"


def _escaped(path: Path | str) -> str:
    """A path as messages show it: control characters escaped, so a file name cannot
    forge a line of output."""
    return printable(str(path))


# --- reading -------------------------------------------------------------------------


def is_missing(path: Path) -> bool:
    """True when nothing exists at `path` (nor a dangling or looping link): the only
    case in which an optional file may be skipped without a word."""
    try:
        os.lstat(path)
    except FileNotFoundError:
        return True
    except NotADirectoryError:
        return True
    except OSError:
        return False  # e.g. a folder we may not enter: reading it says why
    return False


def read_user_file(path: Path, kind: str, *, hint: str = "", limit: int = MAX_FILE_BYTES) -> str:
    """The text of the user's file `path`, or a `UserError` that says what is wrong.

    `kind` names the file in messages ("compose file", "env file"); `hint` is added
    when the file does not exist (e.g. "; check the --file option").
    """
    return decode_user_text(read_user_bytes(path, kind, hint=hint, limit=limit), path, kind)


def read_user_bytes(path: Path, kind: str, *, hint: str = "", limit: int = MAX_FILE_BYTES) -> bytes:
    """`read_user_file` without decoding: the bytes of a regular file, all checks made."""
    try:
        _refuse_special(path, os.stat(path), kind)
        # O_NONBLOCK: should the file have been swapped for a FIFO since, open() does
        # not wait for a writer; the fstat below then refuses it.
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
        descriptor = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise _open_error(path, kind, hint, exc) from None
    try:
        _refuse_special(path, os.fstat(descriptor), kind)
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(descriptor, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise _open_error(path, kind, hint, exc) from None
    finally:
        os.close(descriptor)
    if size > limit:
        raise UserError(
            f"{_escaped(path)}: the {kind} is larger than {limit // (1024 * 1024)} MiB, far "
            "more than such a file needs; check that this is the right file."
        )
    return b"".join(chunks)


def decode_user_text(data: bytes, path: Path, kind: str) -> str:
    """`data` as UTF-8 text (a leading byte-order mark dropped), or a `UserError`
    naming the line of the first NUL byte or undecodable byte."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise UserError(f"{_escaped(path)}: the {kind} is UTF-16; save it as UTF-8 and run again.")
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    nul = data.find(b"\0")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise UserError(
            f"{_escaped(path)}:{line}: the {kind} contains a NUL byte, so it "
            "is not a text file; check that this is the right file (text files are UTF-8)."
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        raise UserError(
            f"{_escaped(path)}:{line}: the {kind} is not UTF-8 (byte "
            f"0x{data[exc.start]:02X} at column {exc.start - line_start + 1}); save it as "
            "UTF-8 (e.g. `iconv -f latin1 -t utf-8`) and run again."
        ) from None


_SPECIAL = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _refuse_special(path: Path, status: os.stat_result, kind: str) -> None:
    if stat.S_ISREG(status.st_mode):
        return
    what = next((name for test, name in _SPECIAL if test(status.st_mode)), "not a regular file")
    raise UserError(
        f"{_escaped(path)}: is {what}, not a regular file; pass the path of the {kind} itself."
    )


def _open_error(path: Path, kind: str, hint: str, exc: OSError) -> UserError:
    if exc.errno == errno.ENOENT:
        dangling = os.path.islink(path)
        detail = " (it is a symbolic link to a missing file)" if dangling else ""
        return UserError(f"{_escaped(path)}: the {kind} does not exist{detail}{hint}.")
    if exc.errno == errno.ENOTDIR:
        return UserError(
            f"{_escaped(path)}: the {kind} does not exist (a part of the path is a file, not "
            f"a folder){hint}."
        )
    if exc.errno == errno.ELOOP:
        loop = symlink_loop(path)
        shown = f" ({' -> '.join(map(_escaped, loop))})" if loop else " in its path"
        return UserError(
            f"{_escaped(path)}: symbolic link loop{shown}; point the link at a real file or "
            "remove it."
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        folder = _closed_folder(path)
        if folder is not None:
            return UserError(
                f"{_escaped(path)}: cannot read the {kind}: permission denied on its folder "
                f"{_escaped(folder)}; fix the folder's permissions (chmod +rx) or run as a user "
                "who may read it."
            )
        return UserError(
            f"{_escaped(path)}: cannot read the {kind}: permission denied; fix its permissions "
            "(chmod +r) or run as a user who may read it."
        )
    if exc.errno == errno.EISDIR:
        return UserError(
            f"{_escaped(path)}: is a folder, not a regular file; pass the path of the {kind} "
            "itself."
        )
    reason = exc.strerror or type(exc).__name__
    return UserError(f"{_escaped(path)}: cannot read the {kind}: {reason}.")


def _closed_folder(path: Path) -> Path | None:
    """The first folder on the way to `path` that may not be entered, if any."""
    for folder in reversed(Path(os.path.abspath(path)).parents):
        if not os.access(folder, os.X_OK):
            return folder
    return None


def symlink_loop(path: Path) -> list[Path] | None:
    """The links of the loop `path` ends in (first repeated at the end), or None
    when `path` itself does not loop (the loop is in a folder of its path)."""
    seen: list[Path] = []
    current = Path(os.path.abspath(path))
    for _ in range(64):
        if current in seen:
            return seen[seen.index(current) :] + [current]
        if not os.path.islink(current):
            return None
        seen.append(current)
        current = Path(os.path.normpath(current.parent / os.readlink(current)))
    return None


# --- writing -------------------------------------------------------------------------


def _lock(descriptor: int, *, wait: bool) -> bool:
    """An exclusive advisory lock on an open file: a writer holds one on its temporary
    file for as long as it lives, so a lock that can be taken marks a dead writer."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on Unix: no cleanup of temporaries
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except OSError:
        return False
    return True


def _write_error(path: Path, exc: OSError, what: str = "write") -> UserError:
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason = "read-only file system" if exc.errno == errno.EROFS else "permission denied"
        return UserError(
            f"{_escaped(path)}: cannot {what} it: {reason} in its folder "
            f"{_escaped(path.parent)}; fix the folder's permissions or choose another folder."
        )
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return UserError(
            f"{_escaped(path)}: cannot {what} it: no space left on the device; free some space and "
            "run again (the file was left as it was)."
        )
    if exc.errno == errno.ENOTDIR:
        return UserError(f"{_escaped(path)}: cannot {what} it: a part of its folder is a file.")
    reason = exc.strerror or type(exc).__name__
    return UserError(f"{_escaped(path)}: cannot {what} it: {reason}.")


def _as_bytes(data: str | bytes) -> bytes:
    return data.encode("utf-8") if isinstance(data, str) else data


def atomic_write(path: Path, data: str | bytes) -> None:
    """Replace `path` with `data` (text is written as UTF-8, newlines as given) in
    one step: a reader sees the old file or the new one, never half of it, and an
    interrupted write leaves the old file. A symbolic link at `path` is refused: it
    is neither written through nor replaced."""
    if os.path.islink(path):
        raise UserError(
            f"{_escaped(path)}: is a symbolic link (to {_escaped(os.readlink(path))}); files are "
            "never written through a link nor replace one. Remove the link, then run again."
        )
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = 0o644
    except OSError as exc:
        raise _write_error(path, exc, "replace") from None
    with _temporary_copy(path, data, "write") as temporary:
        os.chmod(temporary, mode)
        os.replace(temporary, path)


def write_new_file(path: Path, data: str | bytes) -> None:
    """Create `path` with `data`, complete or not at all; `FileExistsError` when
    something is already there (nothing is ever overwritten)."""
    with _temporary_copy(path, data, "create") as temporary:
        os.link(temporary, path)  # fails when `path` exists, whatever it is


@contextmanager
def _temporary_copy(path: Path, data: str | bytes, what: str) -> Iterator[str]:
    """A complete, synced temporary file beside `path`, locked (see `_lock`) while the
    caller moves it into place, and gone afterwards whatever happened."""
    try:
        descriptor, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
    except OSError as exc:
        raise _write_error(path, exc, what) from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            _lock(handle.fileno(), wait=True)  # released when this process ends, however
            handle.write(_as_bytes(data))
            handle.flush()
            os.fsync(handle.fileno())
            yield temporary
    except FileExistsError:
        raise
    except OSError as exc:
        raise _write_error(path, exc, what) from None
    finally:
        Path(temporary).unlink(missing_ok=True)


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Remove the temporary files that an `atomic_write` or `write_new_file` of `path`
    left behind when it was killed (`kill -9`, a power cut); those of a writer that is
    still running are locked and stay. Returns what was removed."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[A-Za-z0-9_]{{8}}\.tmp")
    try:
        names = os.listdir(path.parent)
    except OSError:
        return []
    removed = []
    for name in names:
        if not pattern.fullmatch(name):
            continue
        candidate = path.parent / name
        try:
            descriptor = os.open(candidate, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        try:
            if stat.S_ISREG(os.fstat(descriptor).st_mode) and _lock(descriptor, wait=False):
                candidate.unlink()
                removed.append(candidate)
        except OSError:
            continue
        finally:
            os.close(descriptor)
    return removed


# --- YAML ----------------------------------------------------------------------------


class YamlLimitError(Exception):
    """A document over one of the bounds; `problem` and `problem_mark` as in
    PyYAML's and ruamel.yaml's MarkedYAMLError, so `invalid_yaml` words it."""

    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark


def invalid_yaml(path: Path | str, exc: Exception, text: str | None = None) -> UserError:
    """The one wording of a YAML error: `file:line: invalid YAML: problem.`, for
    PyYAML and ruamel.yaml errors alike (and `YamlLimitError`)."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = None if mark is None else mark.line + 1
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None)
    position = getattr(exc, "position", None)  # a reader error: a character YAML forbids
    character = getattr(exc, "character", None)
    if problem is None and isinstance(position, int) and character is not None:
        code = character if isinstance(character, int) else ord(character)
        problem = f"the control character U+{code:04X} is not allowed"
        if text is not None:
            line = text.count("\n", 0, position) + 1
    where = f"{_escaped(path)}:{line}" if line is not None else f"{_escaped(path)}"
    if isinstance(exc, YamlLimitError):
        return UserError(f"{where}: {exc.problem}")
    return UserError(
        f"{where}: invalid YAML: {str(problem or exc).strip().rstrip('.')}. "
        "Fix the file there and run the command again."
    )


class BoundedComposer:
    """Mixin for a PyYAML loader or a ruamel.yaml Composer (put it first among the
    bases): nesting deeper than `MAX_YAML_DEPTH`, recursive aliases and alias bombs
    raise `YamlLimitError` while composing, before anything is built."""

    _bounded_depth = 0
    _bounded_anchors: dict[int, tuple[str, Any]]

    def compose_document(self) -> Any:
        self._bounded_anchors = {}
        node = cast(Any, super()).compose_document()
        if node is not None:
            _check_graph(node, self._bounded_anchors)
        return node

    def compose_node(self, parent: Any, index: Any) -> Any:
        parser = getattr(self, "parser", None) or self  # ruamel keeps its parser apart
        event = cast(Any, parser).peek_event()
        if self._bounded_depth >= MAX_YAML_DEPTH:
            raise YamlLimitError(
                f"the YAML is nested more than {MAX_YAML_DEPTH} levels deep, far deeper than "
                "such a file needs; check that this is the right file.",
                event.start_mark,
            )
        self._bounded_depth += 1
        try:
            node = cast(Any, super()).compose_node(parent, index)
        finally:
            self._bounded_depth -= 1
        anchor = getattr(event, "anchor", None)
        if anchor is not None and type(event).__name__ != "AliasEvent":
            self._bounded_anchors[id(node)] = (anchor, node)
        return node


def _children(node: Any) -> list[Any]:
    value = node.value
    if not isinstance(value, list):
        return []
    found: list[Any] = []
    for item in value:
        if isinstance(item, tuple):
            found.extend(item)
        else:
            found.append(item)
    return found


def _check_graph(root: Any, anchors: dict[int, tuple[str, Any]]) -> None:
    """Refuse a node graph with a cycle (a recursive alias) or whose aliases add more
    than `MAX_ALIAS_VALUES` values; iterative, so a deep graph costs no stack."""
    sizes: dict[int, int] = {}
    active: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            active.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            continue
        if key in sizes:
            continue
        active.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in active:
                name = anchors.get(id(child), ("?", None))[0]
                raise YamlLimitError(
                    f"the alias *{name} is used inside the anchor &{name} it refers to; a "
                    "recursive alias has no value. Remove the alias or point it elsewhere.",
                    child.start_mark,
                )
            if id(child) not in sizes:
                stack.append((child, False))
    added = sizes[id(root)] - len(sizes)
    if added > MAX_ALIAS_VALUES:
        name, node = max(anchors.values(), key=lambda entry: sizes.get(id(entry[1]), 0))
        raise YamlLimitError(
            f"aliases expand the document by {added:,} values (the anchor &{name} alone to "
            f"{sizes[id(node)]:,}), more than the {MAX_ALIAS_VALUES:,} allowed: an alias "
            "bomb? Use fewer nested aliases.",
            node.start_mark,
        )


class BoundedSafeLoader(BoundedComposer, yaml.SafeLoader):
    """PyYAML's SafeLoader with the bounds of `BoundedComposer`."""


def compose_yaml(
    text: str, path: Path | str, loader: type[yaml.SafeLoader] = BoundedSafeLoader
) -> yaml.Node | None:
    """The node tree of a single-document YAML text (None when empty), bounded;
    every YAML problem is a `UserError` worded by `invalid_yaml`."""
    documents = _compose(text, path, loader, single=True)
    return documents[0] if documents else None


def compose_yaml_documents(
    text: str, path: Path | str, loader: type[yaml.SafeLoader] = BoundedSafeLoader
) -> list[yaml.Node]:
    """The node trees of every document of a YAML text (`---` separated), bounded."""
    return _compose(text, path, loader, single=False)


def _compose(
    text: str, path: Path | str, loader: type[yaml.SafeLoader], *, single: bool
) -> list[yaml.Node]:
    instance = None
    try:
        instance = loader(text)  # the reader refuses control characters right here
        if single:
            node = instance.get_single_node()
            return [] if node is None else [node]
        documents: list[yaml.Node] = []
        while instance.check_node():
            node = instance.get_node()
            if node is not None:
                documents.append(node)
        return documents
    except (yaml.YAMLError, YamlLimitError) as exc:
        raise invalid_yaml(path, exc, text) from None
    finally:
        if instance is not None:
            instance.dispose()
