"""Jupyter notebooks: code cells are Python (shell and magic lines count as comments),
markdown cells are documents; findings point at the line in the .ipynb file."""

from __future__ import annotations

import json
from dataclasses import replace

from vpmigrate.codescan.evidence import Found
from vpmigrate.codescan.index import SignalIndex
from vpmigrate.codescan.python_source import python_evidence
from vpmigrate.codescan.text_files import config_evidence, document_evidence


def notebook_evidence(text: str, index: SignalIndex) -> list[Found]:
    try:
        cells = json.loads(text).get("cells", [])
    except (ValueError, AttributeError):
        return config_evidence(text, index)
    lines = text.splitlines()
    source_lines = [n for n, line in enumerate(lines, 1) if line.lstrip().startswith('"source"')]
    found: list[Found] = []
    for number, cell in enumerate(c for c in cells if isinstance(c, dict)):
        source = cell.get("source", "")
        body = "".join(source) if isinstance(source, list) else str(source)
        if cell.get("cell_type") == "code":
            # `%pip install redis`, `!curl …`: IPython syntax, not Python
            body = "\n".join(
                "#" + line if line.lstrip().startswith(("%", "!")) else line
                for line in body.split("\n")
            )
            cell_found = python_evidence(body, index)
        elif cell.get("cell_type") == "markdown":
            cell_found = document_evidence(body, index)
        else:
            continue
        # nbformat writes one source line per JSON line, after the `"source": [` line
        start = source_lines[number] if number < len(source_lines) else 0
        found += [replace(f, line=start + f.line if start else f.line) for f in cell_found]
    return found
