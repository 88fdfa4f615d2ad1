"""Set the `profiles` of services in a compose file, round-trip.

The one edit both `compose.split` and `cleanup.unused --apply` need: everything
else in the file (comments, order, quoting, anchors, `${VAR}` strings) stays as
written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString
from ruamel.yaml.tokens import CommentToken

from vpmigrate.errors import UserError
from vpmigrate.split import roundtrip
from vpmigrate.split.roundtrip import (
    append_following_lines,
    flow_list,
    insert_after,
    own_keys,
    remove_key,
    take_following_lines,
)


def set_profiles(service: CommentedMap, profiles: Sequence[str]) -> bool:
    """Give one service (a round-trip mapping) exactly these profiles; an empty
    sequence removes the key (always on). Returns whether anything changed."""
    wanted = list(profiles)
    own = "profiles" in own_keys(service)
    current = service.get("profiles")
    if own and isinstance(current, list) and list(current) == wanted:
        return False
    if not wanted:
        if own:
            remove_key(service, "profiles")
            return True
        if current:  # inherited through `<<`: only an own empty list switches it off
            insert_after(service, _anchor_key(service), "profiles", flow_list([]))
            return True
        return False
    if own and isinstance(current, CommentedSeq):
        # edit in place: keeps the flow/block style and the comments around the key
        following = "" if current.fa.flow_style() else take_following_lines(current)
        if current.fa.flow_style():
            _shift_end_of_line_comment(service, _flow_width(wanted) - _flow_width(current))
        del current[:]
        current.ca.items.clear()
        current.extend(wanted)
        append_following_lines(current, following)
        return True
    if own:
        service["profiles"] = flow_list(wanted)
        return True
    insert_after(service, _anchor_key(service), "profiles", flow_list(wanted))
    return True


def _flow_width(items: Sequence[str]) -> int:
    """Characters of `[a, b]` as ruamel writes it (quoted items keep their quotes)."""
    quotes = sum(
        2 for item in items if isinstance(item, SingleQuotedScalarString | DoubleQuotedScalarString)
    )
    return 2 + sum(len(item) for item in items) + 2 * max(len(items) - 1, 0) + quotes


def _shift_end_of_line_comment(service: CommentedMap, delta: int) -> None:
    """Keep the gap before `profiles: [...]  # why` when the list changes width."""
    entry = service.ca.items.get("profiles")
    token = entry[2] if entry and len(entry) > 2 else None
    if isinstance(token, CommentToken) and token.value.startswith("#") and token.start_mark:
        token.start_mark.column = max(token.start_mark.column + delta, 0)


def _anchor_key(service: CommentedMap) -> str | None:
    """Where a new `profiles` key goes: after `image` (or `build`), else first."""
    keys = own_keys(service)
    for key in ("image", "build"):
        if key in keys:
            return key
    return None


def set_service_profiles(
    text: str, changes: Mapping[str, Sequence[str]], *, source: Path | str = "<compose file>"
) -> str:
    """Return `text` (a compose file) with the profiles of the named services set:
    `{"mongodb": ["future"], "postgres": []}` moves mongodb to the `future` profile
    and makes postgres always on. Raises UserError for an unknown service."""
    document = roundtrip.load(text, source)
    services = document.services
    unknown = sorted(set(changes) - set(services))
    if unknown:
        raise UserError(
            f"{source}: no service named {', '.join(map(repr, unknown))}; "
            f"the file defines {', '.join(services)}."
        )
    changed = False
    for name, profiles in changes.items():
        service = services[name]
        if not isinstance(service, CommentedMap):
            raise UserError(f"{source}: service {name!r} is not a mapping; fix its definition.")
        changed = set_profiles(service, profiles) or changed
    return document.dump() if changed else text
