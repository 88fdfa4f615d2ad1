"""The `cleanup` configuration: user signatures, services to keep, scan limits.

Validated here so that a typo names its key (`cleanup.signatures.cache.modules`)
instead of failing later.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from vpmigrate.codescan.signatures import LIST_FIELDS, ROLES, Signature
from vpmigrate.errors import UserError

DEFAULT_MAX_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class SignatureOverride:
    """Signals to add to a family or a service (or to define a family, with `images`)."""

    name: str
    signature: Signature
    replace: bool = False  # the given lists replace the built-in ones instead of extending


@dataclass(frozen=True)
class UsageSettings:
    keep: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    optional: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    signatures: tuple[SignatureOverride, ...] = ()
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    exclude: tuple[str, ...] = ()  # gitignore-style patterns, relative to each scan root


def parse_settings(raw: Mapping[str, Any] | None) -> UsageSettings:
    """Settings from the `cleanup` section of the Invoke configuration."""
    raw = raw or {}
    return UsageSettings(
        keep=MappingProxyType(_reasons(raw.get("keep"), "cleanup.keep")),
        optional=MappingProxyType(_reasons(raw.get("optional"), "cleanup.optional")),
        signatures=_signatures(raw.get("signatures")),
        max_file_bytes=_positive_int(raw.get("max_file_bytes"), "cleanup.max_file_bytes"),
        exclude=tuple(_strings(raw.get("exclude"), "cleanup.exclude")),
    )


def _reasons(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise UserError(
            f"{where} must map service names to a reason, e.g. "
            f'{{"mailhog": "QA tests sign-up mails with it"}}; got {type(value).__name__}.'
        )
    reasons = {}
    for service, reason in value.items():
        if not isinstance(reason, str) or not reason.strip():
            raise UserError(
                f"{where}.{service} needs a reason (a non-empty string saying why), "
                f'e.g. {service}: "QA tests sign-up mails with it".'
            )
        reasons[str(service)] = reason.strip()
    return reasons


def _signatures(value: Any) -> tuple[SignatureOverride, ...]:
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise UserError(
            "cleanup.signatures must map a family or service name to its signals, e.g. "
            '{"cache": {"modules": ["redis"]}}.'
        )
    overrides = []
    for name, spec in value.items():
        where = f"cleanup.signatures.{name}"
        if not isinstance(spec, Mapping):
            raise UserError(
                f"{where} must be a mapping of signal lists ({', '.join(LIST_FIELDS)})."
            )
        unknown = sorted(set(spec) - {*LIST_FIELDS, "role", "replace"})
        if unknown:
            raise UserError(
                f"{where}: unknown key {', '.join(unknown)}; use {', '.join(LIST_FIELDS)}, "
                "role or replace."
            )
        kwargs: dict[str, Any] = {
            key: tuple(_strings(spec[key], f"{where}.{key}")) for key in LIST_FIELDS if key in spec
        }
        if "schemes" in kwargs:
            kwargs["schemes"] = tuple(s.lower().removesuffix("://") for s in kwargs["schemes"])
        if "role" in spec:
            if spec["role"] not in ROLES:
                raise UserError(f"{where}.role must be one of {', '.join(ROLES)}.")
            kwargs["role"] = spec["role"]
        signature = Signature(name=str(name), fields_set=frozenset(kwargs), **kwargs)
        overrides.append(SignatureOverride(str(name), signature, bool(spec.get("replace", False))))
    return tuple(overrides)


def _strings(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise UserError(f"{where} must be a list of non-empty strings.")
    return list(value)


def _positive_int(value: Any, where: str) -> int:
    if value is None:
        return DEFAULT_MAX_FILE_BYTES
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UserError(f"{where} must be a positive number of bytes, e.g. 1048576.")
    return value
