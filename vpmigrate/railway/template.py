"""The value syntax of the desired-state file.

``${{...}}``          a Railway reference: kept exactly as written, Railway renders it
``${NAME}``           from the process environment or `.env` (a secret by definition)
``${NAME:-default}``  the same, with a default when NAME is unset or empty
``${s3.endpoint}``    a setting derived by the file itself (dotted lower-case names)
``$$``                a literal ``$``

Anything else, including a lone ``$``, is literal text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_LOOKUP = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_.]*)(?::-(?P<default>[^}]*))?\}")
_REFERENCE = re.compile(r"\$\{\{.*?\}\}")


@dataclass(frozen=True)
class Resolved:
    """A resolved value and whether anything secret went into it."""

    text: str
    secret: bool = False

    def __repr__(self) -> str:  # never show the text: it may be a secret
        return f"Resolved(secret={self.secret}, length={len(self.text)})"


class TemplateError(ValueError):
    """A malformed ``${`` expression; the caller adds file and line."""


Lookup = Callable[[str, "str | None"], Resolved]


def render(template: str, lookup: Lookup) -> Resolved:
    """Expand ``${...}`` lookups in ``template``; Railway references pass through verbatim."""
    parts: list[str] = []
    secret = False
    i = 0
    while i < len(template):
        if template.startswith("$$", i):
            parts.append("$")
            i += 2
            continue
        if template.startswith("${{", i):
            match = _REFERENCE.match(template, i)
            if match is None:
                raise TemplateError(
                    f"unclosed Railway reference '${{{{' at character {i + 1}: end it with '}}}}'"
                )
            parts.append(match.group(0))
            i = match.end()
            continue
        if template.startswith("${", i):
            match = _LOOKUP.match(template, i)
            if match is None:
                # The text itself is not quoted: the line may carry a password.
                raise TemplateError(
                    f"malformed '${{' at character {i + 1}: write ${{NAME}}, "
                    "${NAME:-default}, ${s3.setting} or, for a Railway reference, "
                    "${{Service.VAR}}"
                )
            value = lookup(match.group("name"), match.group("default"))
            parts.append(value.text)
            secret = secret or value.secret
            i = match.end()
            continue
        parts.append(template[i])
        i += 1
    return Resolved("".join(parts), secret)
