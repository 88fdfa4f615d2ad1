"""The audit as text: rows for a table, JSON, Markdown (strings; the task prints).

Every format carries each service's verdict and reason; evidence is counted by kind
("2 use, 1 declared, 14 mentioned"), so a pile of mentions never reads like use.
File names are printed without control characters.
"""

from __future__ import annotations

import json
import re

from vpmigrate.codescan.audit import Audit
from vpmigrate.codescan.evidence import KINDS, Evidence
from vpmigrate.codescan.verdict import ServiceReport

HEADERS = ["service", "verdict", "evidence", "reason", "strongest evidence"]
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` with control characters (newlines, ANSI escapes, bidi overrides) shown as
    `\\xNN` escapes: a file name cannot forge an output line."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def describe(evidence: Evidence) -> str:
    return printable(f"{evidence.where()} {evidence.signal} ({evidence.kind})")


def counted(report: ServiceReport) -> str:
    counts = report.counts()
    return ", ".join(f"{counts[k]} {k}" for k in KINDS if counts.get(k)) or "none"


def table_rows(audit: Audit) -> list[list[str]]:
    rows = []
    for report in audit.services:
        strongest = describe(report.evidence[0]) if report.evidence else "-"
        rows.append(
            [report.service, report.verdict, counted(report), printable(report.reason), strongest]
        )
    return rows


def as_json(audit: Audit) -> str:
    document: dict[str, object] = {
        "services": [
            {
                "service": r.service,
                "verdict": r.verdict,
                "reason": r.reason,
                "evidence": [e.as_dict() for e in r.evidence],
            }
            for r in audit.services
        ]
    }
    if audit.unreadable:
        document["unreadable"] = list(audit.unreadable)
    return json.dumps(document, indent=2)


def as_markdown(audit: Audit) -> str:
    lines = [
        "| " + " | ".join(HEADERS) + " |",
        "|" + "---|" * len(HEADERS),
    ]
    for row in table_rows(audit):
        cells = [c.replace("|", "\\|") for c in row]
        cells[-1] = f"`{cells[-1]}`" if cells[-1] != "-" else cells[-1]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
