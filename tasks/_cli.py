"""What every task module shares: the `task` decorator, options, settings, output.

The decorator (`task`) makes every task behave the same way at the command line:

- short flags follow Compose wherever Compose has one (`-f` file, `-p` project name,
  `-t` timeout, `-n` tail) and mean the same thing in every task; other options are
  long only (Invoke's automatic short flags would give `-p` a different meaning in each
  task);
- numeric options arrive as numbers (their kind comes from the type hint);
- a repeatable option given an empty value (`--service "$UNSET"`) is an error, never
  "all";
- Invoke's global `inv --dry` changes nothing: a task with a dry-run mode runs in it, a
  read-only task runs as usual, and any other task refuses;
- failures end in one `error:` paragraph and an exit code, never a traceback: expected
  ones (`UserError`) say what to do; unexpected ones say what was being done and how to
  see the traceback (`inv --debug ...` or `VPM_DEBUG=1`).

Everything a task prints goes through one mask (`secrets()`): `out`, `info` and the
error edge mask the run's known secret values — those of secret-looking variables of
the environment and the repository's `.env` from the start, and whatever a task learns
and hands to `keep_secret` (a compose project's secrets, Railway's values, tokens) —
with every URL password.
"""

from __future__ import annotations

import inspect
import logging
import os
import sys
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from invoke import Collection, Context, Exit, Task
from invoke.exceptions import ParseError
from invoke.util import debug as invoke_debug

from vpmigrate.errors import UserError
from vpmigrate.masking import Masker, printable

REPO_ROOT = Path(__file__).resolve().parent.parent

# The only short flags: Compose's where it has one (docker compose -f/-p, up -t,
# logs -n), the Railway CLI's -e for the environment, and -y for "yes".
SHORT_FLAGS = {
    "file": "f",
    "project_name": "p",
    "timeout": "t",
    "tail": "n",
    "environment": "e",
    "yes": "y",
}

# Help texts of the options that several tasks share, so they read the same everywhere.
OPTION_HELP = {
    "file": "Compose file (repeatable; later files override earlier ones). "
    "Default: the local.files config.",
    "project_name": "Project name (default: COMPOSE_PROJECT_NAME, then the file's `name:`, "
    "then its folder).",
    "profile": "Profile to act on (repeatable; default: COMPOSE_PROFILES).",
    "env_file": "Env file for interpolation (default: .env at the repository root for the "
    "default files, else the .env beside the first file).",
}

DRY_READ_ONLY = "read-only"

_DEFAULTS: dict[str, dict[str, Any]] = {}


class CliTask(Task[Any]):
    """An Invoke task with this project's command-line conventions (module docstring).

    `dry` says what `inv --dry` does: the name of the task's own dry-run parameter (set
    to True), `DRY_READ_ONLY` (the task changes nothing: it runs), or None (the task
    refuses to run).
    """

    def __init__(self, body: Callable[..., Any], *, dry: str | None = None, **kwargs: Any):
        kwargs.setdefault("auto_shortflags", False)
        super().__init__(body, **kwargs)
        self.dry = dry
        self.kinds = _numeric_kinds(body)
        if dry not in (None, DRY_READ_ONLY) and dry not in inspect.signature(body).parameters:
            raise TypeError(f"{body.__name__}: dry={dry!r} is not one of its parameters")

    def arg_opts(self, name: str, default: str, taken_names: set[str]) -> dict[str, Any]:
        opts = super().arg_opts(name, default, taken_names)
        short = SHORT_FLAGS.get(name)
        if short and short not in taken_names:
            opts["names"] = [*opts["names"], short]
        if name in self.kinds and "kind" not in opts:
            opts["kind"] = _Number(self.kinds[name], opts["names"][0])
        if name in OPTION_HELP and "help" not in opts:
            opts["help"] = OPTION_HELP[name]
        return opts

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        context = args[0]
        doing = f"{self.body.__module__.rsplit('.', 1)[-1]}.{self.name.replace('_', '-')}"
        with reporting(doing):
            _refuse_empty_values(self.iterable, kwargs)
            if isinstance(context, Context) and context.config.run.dry:
                if self.dry is None:
                    raise UserError(
                        f"`inv --dry {doing}`: this task has no dry run, so it was not run and "
                        "nothing changed. Run it without --dry to act."
                    )
                if self.dry != DRY_READ_ONLY:
                    kwargs[self.dry] = True
            return super().__call__(*args, **kwargs)


def task(*args: Any, **kwargs: Any) -> Any:
    """`invoke.task` with this project's conventions (see `CliTask`)."""
    kwargs.setdefault("klass", CliTask)
    from invoke import task as invoke_task

    return invoke_task(*args, **kwargs)


def namespace(
    name: str, *tasks: Task[Any], defaults: Mapping[str, Any] | None = None
) -> Collection:
    """A namespace's collection; `defaults` become its config section (`inv -c` and
    invoke.yaml override them) and the fallback of `setting`."""
    collection = Collection(name)
    for each in tasks:
        collection.add_task(each)
    if defaults is not None:
        _DEFAULTS[name] = dict(defaults)
        collection.configure({name: dict(defaults)})
    return collection


def setting(c: Context, namespace_name: str, name: str, given: Any = None) -> Any:
    """A command-line value beats the config, which beats the default."""
    if given is not None and given != []:
        return given
    configured = (c.config.get(namespace_name) or {}).get(name)
    if configured is not None:
        return configured
    return _DEFAULTS.get(namespace_name, {}).get(name)


def confirm(question: str, refusal: str) -> None:
    """Ask `question [y/N]` on stderr (stdout may carry a plan or JSON) and raise
    `UserError(refusal)` unless the answer is yes; without a terminal, refuse at once."""
    if not sys.stdin.isatty():
        raise UserError(refusal)
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    if sys.stdin.readline().strip().lower() not in ("y", "yes"):
        raise UserError(refusal)


@contextmanager
def reporting(doing: str = "the task") -> Iterator[None]:
    """Turn failures into one `error:` paragraph and an exit code (no traceback)."""
    try:
        yield
    except Exit as exc:
        if not exc.message:
            raise
        raise Exit(_masked(str(exc.message)), code=exc.code) from None
    except UserError as exc:
        raise Exit(f"error: {_masked(exc.message)}", code=exc.exit_code) from None
    except KeyboardInterrupt:
        raise Exit("interrupted: re-run the same command to finish.", code=130) from None
    except Exception as exc:
        if debugging():
            raise
        from vpmigrate.engine.client import unanswered

        expected = unanswered(exc)
        if expected is not None:
            raise Exit(f"error: {_masked(expected.message)}", code=expected.exit_code) from None
        invoke_debug(f"unexpected failure in {doing}", exc_info=True)
        detail = printable(_masked(_one_line(str(exc))))
        raise Exit(
            f"error: unexpected {type(exc).__name__} in {doing}: {detail}. "
            "This is a bug; re-run with `inv --debug ...` (or VPM_DEBUG=1) for the traceback "
            "and report it.",
            code=1,
        ) from None


_SECRETS: Masker | None = None


def secrets() -> Masker:
    """The run's known secret values, the one mask of everything printed: from the start
    the secret-looking variables of the environment and of the repository's `.env`;
    tasks add what they learn with `keep_secret`."""
    global _SECRETS
    if _SECRETS is None:
        from vpmigrate.masking import secret_values

        _SECRETS = Masker(secret_values(_known_environment()).values())
    return _SECRETS


def keep_secret(*values: str | None) -> None:
    """Never print these values (each becomes `***` in every output from now on)."""
    secrets().add(*values)


def _known_environment() -> dict[str, str]:
    known = dict(os.environ)
    try:
        from vpmigrate.compose.envfiles import read_env_file

        dotenv = REPO_ROOT / ".env"
        if dotenv.is_file():
            known = {**read_env_file(dotenv, known), **known}
    except Exception:  # an unreadable .env must not hide the error being reported
        pass
    return known


def _masked(message: str) -> str:
    """The last guard before a message is printed: the values of secret-looking
    variables of the environment and the repository's `.env` named (`${NAME}`), then
    every known secret and URL password masked."""
    from vpmigrate.masking import mask_text, secret_values

    named = mask_text(message, secret_values(_known_environment()))
    return secrets()(named)


def debugging() -> bool:
    """`inv --debug` (which turns on debug logging) or VPM_DEBUG=1."""
    if os.environ.get("VPM_DEBUG", "") not in ("", "0"):
        return True
    return logging.getLogger().isEnabledFor(logging.DEBUG)


def info(message: str) -> None:
    """A diagnostic for the user: goes to stderr so stdout stays parseable (masked)."""
    print(secrets()(message), file=sys.stderr, flush=True)


def out(message: str = "") -> None:
    """A result: goes to stdout (masked)."""
    print(secrets()(message), flush=True)


def repo_path(value: str | Path) -> Path:
    """Resolve a path option: relative to the current directory when it exists there,
    else relative to the repository root (so tasks work from any subdirectory)."""
    path = Path(value).expanduser()
    if not (path.is_absolute() or os.path.lexists(path)):
        path = REPO_ROOT / path
    # Absolute, links kept as named (as Compose does): messages name the path the user
    # gave, and a symlink loop or a folder we may not enter is reported when read.
    return Path(os.path.abspath(path))


def render_table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain aligned text table."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = ["  ".join(h.ljust(widths[i]) for i, h in enumerate(headers)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    return "\n".join(lines)


def _numeric_kinds(body: Callable[..., Any]) -> dict[str, type]:
    """Parameters hinted `int`/`float` (optionally `| None`): parsed as numbers."""
    kinds: dict[str, type] = {}
    for name, hint in typing.get_type_hints(body).items():
        options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        numeric = [t for t in options if t in (int, float)]
        if numeric:
            kinds[name] = numeric[0]
    return kinds


class _Number:
    """A numeric option's parser: a bad value is Invoke's one-line parse error, not a
    traceback from inside the parser."""

    def __init__(self, kind: type, flag: str) -> None:
        self.kind, self.flag = kind, flag
        self.__name__ = kind.__name__

    def __call__(self, text: str) -> int | float:
        try:
            value = self.kind(text)
        except ValueError:
            noun = "a whole number" if self.kind is int else "a number"
            raise ParseError(f"error: --{self.flag} takes {noun}, not {text!r}.") from None
        if value < 0 or value != value:  # negative or NaN
            raise ParseError(f"error: --{self.flag} takes a number of 0 or more, not {text!r}.")
        return value


def _refuse_empty_values(iterable: Iterable[str], kwargs: dict[str, Any]) -> None:
    for name in iterable:
        if any(not str(value).strip() for value in kwargs.get(name) or []):
            flag = "--" + name.replace("_", "-")
            raise UserError(
                f"{flag} was given an empty value (an unset shell variable?). Give a name, "
                f"or leave {flag} out."
            )


def _one_line(text: str) -> str:
    return " ".join(text.split())[:500] or "(no message)"
