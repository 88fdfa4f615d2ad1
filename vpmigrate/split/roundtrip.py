"""Round-trip editing of a compose file with ruamel.yaml.

Loading and dumping through here keeps comments, key order, quoting, block and
flow styles, anchors and merge keys, and every string (``${VAR:?msg}``, ``$$``)
exactly as written: nothing is interpolated. The layout (indentation of mappings
and sequences) is detected from the text so that an unchanged document dumps
back byte for byte.

ruamel.yaml keeps the comment lines *between* two entries in the entry before
them (in the deepest last node of that entry). Conceptually those lines lead the
next entry, so the helpers here move them along when an entry is removed or a key
is added at the end of a mapping: a section comment stays with the service it
introduces.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, merge_attrib
from ruamel.yaml.composer import Composer
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString
from ruamel.yaml.tokens import CommentToken

from vpmigrate.errors import UserError
from vpmigrate.userfiles import BoundedComposer, YamlLimitError, invalid_yaml

# (mapping indent, sequence indent, dash offset): the layouts tried, most common first.
_LAYOUTS: tuple[tuple[int, int, int], ...] = (
    (2, 4, 2),
    (2, 2, 0),
    (4, 4, 2),
    (4, 4, 0),
    (4, 6, 4),
    (3, 3, 0),
    (3, 5, 2),
)
_BLOCK_SCALARS = (LiteralScalarString, FoldedScalarString)
_EXPLICIT_START = re.compile(r"\A(?:[ \t]*(?:#[^\n]*)?\n)*---[ \t]*(?:#[^\n]*)?$", re.MULTILINE)


@dataclass
class Document:
    """A compose file loaded for round-trip editing (mutable: edit `data`, then `dump`)."""

    data: CommentedMap
    yaml: YAML
    exact: bool  # True when the unchanged document dumps back to the original bytes

    def dump(self) -> str:
        buffer = io.StringIO()
        self.yaml.dump(self.data, buffer)
        return buffer.getvalue()

    @property
    def services(self) -> CommentedMap:
        services = self.data.get("services")
        if not isinstance(services, CommentedMap):
            raise UserError("the compose file has no `services:` mapping.")  # checked by load()
        return services


def _yaml(layout: tuple[int, int, int], explicit_start: bool) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 1_000_000  # never re-wrap long lines
    mapping, sequence, offset = layout
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    yaml.explicit_start = explicit_start
    return yaml


class _BoundedComposer(BoundedComposer, Composer):
    """ruamel.yaml's composer with the bounds on depth and aliases of `userfiles`."""


def parse(yaml: YAML, text: str, source: Path | str) -> Any:
    """`yaml.load(text)` within the bounds of `vpmigrate.userfiles` (depth, aliases),
    with a YAML error turned into a UserError naming the line."""
    yaml.Composer = _BoundedComposer
    try:
        return yaml.load(text)
    except (YAMLError, YamlLimitError) as exc:
        raise invalid_yaml(source, exc, text) from None


def load(text: str, source: Path | str) -> Document:
    """Parse a compose file for round-trip editing.

    Raises UserError (naming `source` and the line) when the text is not YAML or
    not a compose mapping with a `services:` mapping.
    """
    explicit_start = bool(_EXPLICIT_START.search(text))
    first: Document | None = None
    for layout in _LAYOUTS:
        yaml = _yaml(layout, explicit_start)
        data = parse(yaml, text, source)
        if not isinstance(data, CommentedMap) or not isinstance(data.get("services"), CommentedMap):
            raise UserError(
                f"{source}: not a compose file: expected a mapping with a block "
                "`services:` mapping at the top level."
            )
        doc = Document(data=data, yaml=yaml, exact=False)
        doc.exact = doc.dump() == text
        if doc.exact:
            return doc
        first = first or doc
    assert first is not None
    return first  # no layout reproduces the text (mixed indentation): normalised output


# --- comment plumbing ----------------------------------------------------------------


def own_keys(mapping: CommentedMap) -> list[Any]:
    """The keys written in this mapping, without those a `<<` merge brings in."""
    return [key for key, _ in mapping.non_merged_items()]


def _is_block_collection(value: Any) -> bool:
    if isinstance(value, CommentedMap):
        return not value.fa.flow_style() and bool(own_keys(value))
    if isinstance(value, CommentedSeq):
        return not value.fa.flow_style() and len(value) > 0
    return False


Slot = tuple[Any, Any, int]  # (container, key or index, position in container.ca.items)


def _last_slot(node: Any) -> Slot:
    """Where ruamel keeps the lines after a block collection: in its deepest last entry."""
    while True:
        if isinstance(node, CommentedMap):
            key: Any = own_keys(node)[-1]
        else:
            key = len(node) - 1
        if not _is_block_collection(node[key]):
            return _entry_slot(node, key)
        node = node[key]


def _entry_slot(container: Any, key: Any) -> Slot:
    """Where ruamel keeps the lines after the entry `key` of `container`."""
    if _is_block_collection(container[key]):
        return _last_slot(container[key])
    return container, key, 2 if isinstance(container, CommentedMap) else 0


def _take_lines(slot: Slot, column: int | None = None) -> str:
    """Remove and return the blank and comment lines kept in `slot`, leaving the
    end-of-line comment of the entry itself in place, and (given the `column` of
    the entry's key) the comment lines right below it that are indented deeper:
    those still belong to the entry, not to the next one."""
    container, key, position = slot
    entry = container.ca.items.get(key)
    token = entry[position] if entry and len(entry) > position else None
    if not isinstance(token, CommentToken):
        return ""
    if isinstance(container[key], _BLOCK_SCALARS):
        # a block scalar ends its own line; ruamel indents a leading comment by its column
        eol, rest = "", " " * (token.column or 0) * token.value.startswith("#") + token.value
    elif token.value.startswith("\n"):
        eol, rest = "\n", token.value[1:]
    else:
        head, newline, rest = token.value.partition("\n")
        eol = head + newline
    lines = rest.splitlines(keepends=True)
    deeper = 0
    while column is not None and deeper < len(lines) and _indent(lines[deeper]) > column:
        deeper += 1
    kept, rest = "".join(lines[:deeper]), "".join(lines[deeper:])
    if eol + kept in ("", "\n"):
        entry[position] = None
        if not any(entry):
            del container.ca.items[key]
    elif eol:
        token.value = eol + kept
    else:  # explicit indentation from here on
        entry[position] = CommentToken(kept, CommentMark(0), None)
    return rest


def _indent(line: str) -> int:
    """Columns before the text of a comment line (-1 for a blank line)."""
    text = line.lstrip(" ")
    return len(line) - len(text) if text.strip() else -1


def _key_column(mapping: CommentedMap) -> int | None:
    column = getattr(getattr(mapping, "lc", None), "col", None)
    return column if isinstance(column, int) else None


def _append_lines(slot: Slot, lines: str) -> None:
    if not lines:
        return
    container, key, position = slot
    entry = container.ca.items.setdefault(key, [None, None, None, None])
    token = entry[position]
    if isinstance(token, CommentToken):
        token.value += lines
    else:
        eol = "" if isinstance(container[key], _BLOCK_SCALARS) else "\n"
        entry[position] = CommentToken(eol + lines, CommentMark(0), None)


def take_following_lines(node: Any) -> str:
    """Remove and return the blank and comment lines written after `node` (a block
    collection), keeping any end-of-line comment of its last line in place."""
    return _take_lines(_last_slot(node)) if _is_block_collection(node) else ""


def append_following_lines(node: Any, lines: str) -> None:
    """Write blank and comment lines after `node` (a block collection)."""
    if _is_block_collection(node):
        _append_lines(_last_slot(node), lines)


def _leading_holder(mapping: CommentedMap) -> list[Any] | None:
    """The token list ruamel keeps for the lines before a mapping's first key."""
    comment = mapping.ca.comment
    if comment and len(comment) > 1 and isinstance(comment[1], list):
        return comment[1]  # may be empty, still shared with the parent's record
    return None


def remove_key(mapping: CommentedMap, key: Any, *, document_root: bool = False) -> None:
    """Delete `key` from a block mapping. The comment lines that led the entry go
    with it; the lines that lead the next entry (or close the mapping) stay; an
    anchor defined inside it stays usable by what remains. For the `document_root`
    the lines above the first key are the file's head comment: they always stay."""
    keys = own_keys(mapping)
    index = keys.index(key)
    column = _key_column(mapping)
    following = _take_lines(_entry_slot(mapping, key), column)
    keep_anchors_resolvable(mapping[key])
    mapping.ca.items.pop(key, None)
    del mapping[key]
    if index > 0:
        slot = _entry_slot(mapping, keys[index - 1])
        _take_lines(slot, column)  # the lines that led the removed entry
        _append_lines(slot, following)
        return
    # The first entry: the lines before it are replaced by those that led the next
    # entry. ruamel shares this token list with the parent mapping's record.
    holder = _leading_holder(mapping)
    lines = following.splitlines(keepends=True)
    if holder is not None and document_root:
        if holder and not holder[-1].value.strip():  # a blank line already ends the head
            while lines and not lines[0].strip():
                lines.pop(0)
        holder.extend(_line_tokens(lines))
        return
    if holder is not None:
        holder.clear()
    # blank lines separated the entries; nothing separates a first entry from its key
    while lines and not lines[0].strip():
        lines.pop(0)
    tokens = _line_tokens(lines)
    if holder is not None:
        holder.extend(tokens)
    elif not tokens:
        return
    elif mapping.ca.comment is None:
        mapping.ca.comment = [None, tokens]
    else:
        mapping.ca.comment[1] = tokens


def _line_tokens(lines: list[str]) -> list[CommentToken]:
    """One token per line, as ruamel keeps the lines before a first key; it indents
    each by the token's column."""
    tokens = []
    for line in lines:
        text = line.lstrip(" ")
        tokens.append(CommentToken(text, CommentMark(len(line) - len(text)), None))
    return tokens


def insert_after(mapping: CommentedMap, after: Any | None, key: Any, value: Any) -> None:
    """Insert `key: value` right after the entry `after` (at the top when None),
    moving the comment lines that lead the next entry below the new one."""
    keys = own_keys(mapping)
    index = keys.index(after) if after is not None else -1
    merge = getattr(mapping, merge_attrib, None)
    merge_pos = getattr(merge, "merge_pos", -1) if merge else -1
    # ruamel counts positions as written in the source, where `<<` is an entry too
    position = index + 1 + (1 if 0 <= merge_pos <= index else 0)
    at_end = after is not None and index == len(keys) - 1
    following = _take_lines(_entry_slot(mapping, after), _key_column(mapping)) if at_end else ""
    mapping.insert(position, key, value)
    _append_lines(_entry_slot(mapping, key), following)


def flow_list(items: Sequence[str]) -> CommentedSeq:
    sequence = CommentedSeq(items)
    sequence.fa.set_flow_style()
    return sequence


def _anchor_name(node: Any) -> str | None:
    anchor = node.yaml_anchor() if hasattr(node, "yaml_anchor") else None
    return getattr(anchor, "value", None)


def keep_anchors_resolvable(node: Any) -> None:
    """An anchor defined in a part we drop may be used by a part we keep: make
    ruamel write the anchor at the first place that still uses the node."""
    seen: set[int] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        name = _anchor_name(current)
        if name is not None:
            current.yaml_set_anchor(name, always_dump=True)
        if isinstance(current, CommentedMap):
            stack.extend(value for _, value in current.non_merged_items())
            stack.extend(getattr(current, merge_attrib, None) or [])  # `<<` sources
        elif isinstance(current, CommentedSeq):
            stack.extend(current)
