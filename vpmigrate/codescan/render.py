"""The audit as text: rows for a table, JSON, Markdown (strings; the task prints)."""

from __future__ import annotations

import json

from vpmigrate.codescan.audit import Audit
from vpmigrate.codescan.evidence import Evidence

HEADERS = ["service", "verdict", "evidence", "strongest evidence"]


def describe(evidence: Evidence) -> str:
    return f"{evidence.where()} {evidence.signal} ({evidence.kind})"


def table_rows(audit: Audit) -> list[list[str]]:
    rows = []
    for report in audit.services:
        strongest = describe(report.evidence[0]) if report.evidence else "-"
        rows.append([report.service, report.verdict, str(len(report.evidence)), strongest])
    return rows


def as_json(audit: Audit) -> str:
    return json.dumps(
        {
            "services": [
                {
                    "service": r.service,
                    "verdict": r.verdict,
                    "evidence": [e.as_dict() for e in r.evidence],
                }
                for r in audit.services
            ]
        },
        indent=2,
    )


def as_markdown(audit: Audit) -> str:
    lines = [
        "| service | verdict | evidence | strongest evidence |",
        "|---|---|---|---|",
    ]
    for row in table_rows(audit):
        cells = [c.replace("|", "\\|") for c in row]
        cells[3] = f"`{cells[3]}`" if cells[3] != "-" else cells[3]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
