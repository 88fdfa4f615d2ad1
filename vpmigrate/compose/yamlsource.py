"""Read a Compose YAML file into plain Python values that remember their lines.

Mappings become `LocatedDict` and sequences `LocatedList`: ordinary dict/list
subclasses that also record where each key or item was written, so that every
later error can name the user's file and line. Scalars follow YAML 1.2's core
schema, as Compose (go-yaml v3) does: `yes`, `on` and `22:22` stay strings.
Anchors, aliases and `<<` merge keys are resolved here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from vpmigrate.errors import UserError
from vpmigrate.userfiles import (
    BoundedSafeLoader,
    Location,
    compose_yaml,
    compose_yaml_documents,
    read_user_file,
)

_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"


class LocatedDict(dict[str, Any]):
    """A mapping from a YAML file, with the location of itself and of each key."""

    def __init__(self, location: Location) -> None:
        super().__init__()
        self.location = location
        self.key_locations: dict[str, Location] = {}

    def loc(self, key: str) -> Location:
        return self.key_locations.get(key, self.location)

    def put(self, key: str, value: Any, location: Location) -> None:
        self[key] = value
        self.key_locations[key] = location


class LocatedList(list[Any]):
    """A sequence from a YAML file, with the location of itself and of each item."""

    def __init__(self, location: Location) -> None:
        super().__init__()
        self.location = location
        self.item_locations: list[Location] = []

    def loc(self, index: int) -> Location:
        if 0 <= index < len(self.item_locations):
            return self.item_locations[index]
        return self.location

    def add(self, value: Any, location: Location) -> None:
        self.append(value)
        self.item_locations.append(location)


class _CoreSchemaLoader(BoundedSafeLoader):
    """SafeLoader with YAML 1.2 core-schema scalar resolution (what go-yaml v3 does),
    and the bounds on depth and aliases of `vpmigrate.userfiles`."""

    yaml_implicit_resolvers: dict[Any, Any] = {}


_RESOLVERS = [
    (_NULL, r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    (_BOOL, r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    (
        _INT,
        r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$",
        list("-+0123456789"),
    ),
    (
        _FLOAT,
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        list("-+.0123456789"),
    ),
    (_MERGE, r"^<<$", ["<"]),
]
for _tag, _pattern, _first in _RESOLVERS:
    _CoreSchemaLoader.add_implicit_resolver(_tag, re.compile(_pattern), _first)


def _scalar(node: ScalarNode) -> Any:
    text = node.value
    if node.tag == _NULL:
        return None
    if node.tag == _BOOL:
        return text.lower() == "true"
    if node.tag == _INT:
        sign = -1 if text.startswith("-") else 1
        digits = text.lstrip("+-")
        if digits.startswith("0o"):
            return sign * int(digits[2:], 8)
        if digits.startswith("0x"):
            return sign * int(digits[2:], 16)
        if len(digits) > 1 and digits.startswith("0") and set(digits) <= set("01234567"):
            return sign * int(digits, 8)  # go-yaml v3 still reads 0755 as octal
        return sign * int(digits)
    if node.tag == _FLOAT:
        lowered = text.lower()
        if lowered.endswith("inf"):
            return float("-inf") if lowered.startswith("-") else float("inf")
        if lowered.endswith("nan"):
            return float("nan")
        return float(text)
    return text


_RESET = "!reset"
_OVERRIDE = "!override"
_DROPPED = object()  # a `!reset` value: left out of its mapping or list
_KEY_KINDS = {_NULL: "null", _BOOL: "a boolean", _INT: "a number", _FLOAT: "a number"}


def _implicit_tag(node: ScalarNode) -> str:
    """The core-schema tag a plain scalar would have without its explicit tag."""
    if node.style is not None:
        return _STR
    for tag, pattern, first in _RESOLVERS:
        if (node.value[:1] in first or (not node.value and "" in first)) and re.match(
            pattern, node.value
        ):
            return tag
    return _STR


class _Builder:
    """Located values from PyYAML's node tree, with Compose's `!reset` (drop this value,
    and what earlier files said here) and `!override` (replace, not merge) tags."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self.resets: list[tuple[str, ...]] = []

    def where(self, node: Node) -> Location:
        return Location(self.file, node.start_mark.line + 1)

    def build(self, node: Node, path: tuple[str, ...] = ()) -> Any:
        if node.tag == _RESET:
            self.resets.append(path)
            return _DROPPED
        if node.tag == _OVERRIDE:
            self.resets.append(path)
            if isinstance(node, ScalarNode):
                node = ScalarNode(
                    _implicit_tag(node), node.value, node.start_mark, node.end_mark, node.style
                )
        if isinstance(node, ScalarNode):
            return _scalar(node)
        if isinstance(node, SequenceNode):
            items = LocatedList(self.where(node))
            for index, child in enumerate(node.value):
                value = self.build(child, (*path, str(index)))
                if value is not _DROPPED:
                    items.add(value, self.where(child))
            return items
        if isinstance(node, MappingNode):
            return self.mapping(node, path)
        raise UserError(f"{self.where(node)}: unsupported YAML node")  # pragma: no cover

    def mapping(self, node: MappingNode, path: tuple[str, ...]) -> LocatedDict:
        result = LocatedDict(self.where(node))
        merged: list[LocatedDict] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merged.extend(self.merge_sources(value_node, path))
                continue
            if not isinstance(key_node, ScalarNode):
                raise UserError(
                    f"{self.where(key_node)}: a mapping key must be a plain value, "
                    "not a list or a mapping."
                )
            key = key_node.value  # keys keep their text: `yes:` stays "yes"
            kind = _KEY_KINDS.get(key_node.tag)
            if kind is not None:
                where = ".".join(path) or "top level"
                raise UserError(
                    f"{self.where(key_node)}: {where}: the key {key or 'null'!r} is {kind} "
                    f'in YAML, and Compose takes only text as keys; quote it: "{key}":'
                )
            if key in result:
                raise UserError(
                    f"{self.where(key_node)}: key '{key}' is already defined at line "
                    f"{result.loc(key).line}; remove one of them."
                )
            value = self.build(value_node, (*path, key))
            if value is not _DROPPED:
                result.put(key, value, self.where(key_node))
        # Explicit keys win over merged ones; earlier merge sources win over later ones.
        for source in merged:
            for key, value in source.items():
                if key not in result:
                    result.put(key, value, source.loc(key))
        return result

    def merge_sources(self, node: Node, path: tuple[str, ...]) -> list[LocatedDict]:
        if isinstance(node, MappingNode):
            return [self.mapping(node, path)]
        if isinstance(node, SequenceNode) and all(
            isinstance(child, MappingNode) for child in node.value
        ):
            return [self.mapping(child, path) for child in node.value]
        raise UserError(
            f"{self.where(node)}: '<<' needs a mapping (or a list of mappings) to merge, "
            "usually an alias like `<<: *defaults`."
        )


@dataclass(frozen=True)
class YamlDocument:
    """One document of a compose file, and the paths its `!reset` / `!override` tags
    name (keys from the top, list items as their index)."""

    root: LocatedDict
    resets: tuple[tuple[str, ...], ...] = ()


def load_yaml_documents(path: Path) -> list[YamlDocument]:
    """Every document of a compose file (`---` separated); each must be a mapping."""
    text = read_user_file(path, "compose file", hint="; check the --file option")
    nodes = compose_yaml_documents(text, path, _CoreSchemaLoader)
    if not nodes:
        raise UserError(f"{path}: the compose file is empty; it needs at least `services:`.")
    documents = []
    for node in nodes:
        builder = _Builder(path)
        value = builder.build(node)
        if not isinstance(value, LocatedDict):
            raise UserError(
                f"{path}:{node.start_mark.line + 1}: a compose file must be a mapping "
                "(with `services:` at the top level)."
            )
        documents.append(YamlDocument(value, tuple(builder.resets)))
    return documents


def load_yaml_file(path: Path) -> LocatedDict:
    """Parse one Compose file; its top level must be a mapping."""
    text = read_user_file(path, "compose file", hint="; check the --file option")
    return load_yaml_text(text, path)


def load_yaml_text(text: str, path: Path) -> LocatedDict:
    root = compose_yaml(text, path, _CoreSchemaLoader)
    if root is None:
        raise UserError(f"{path}: the compose file is empty; it needs at least `services:`.")
    value = _Builder(path).build(root)
    if not isinstance(value, LocatedDict):
        raise UserError(
            f"{path}:{root.start_mark.line + 1}: a compose file must be a mapping "
            "(with `services:` at the top level)."
        )
    return value
