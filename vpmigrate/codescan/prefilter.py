"""The cheap test every file's bytes go through before anything is parsed: does it
contain any of the index's literals? With `ahocorasick-rs` installed this is one
pass of a multi-pattern automaton; without it, a substring test per distinct
lower-case literal (correct, a few times slower on large trees)."""

from __future__ import annotations

from collections.abc import Callable

Prefilter = Callable[[bytes | memoryview], bool]


def build_prefilter(literals: list[bytes]) -> Prefilter:
    if not literals:
        return lambda data: False
    try:
        import ahocorasick_rs
    except ImportError:
        return substring_prefilter(literals)
    automaton = ahocorasick_rs.BytesAhoCorasick(
        literals, implementation=ahocorasick_rs.Implementation.DFA
    )
    find = automaton.find_matches_as_indexes

    def matches(data: bytes | memoryview) -> bool:
        return bool(find(data))

    return matches


def substring_prefilter(literals: list[bytes]) -> Prefilter:
    """The fallback: lower-case the bytes once, then one substring test per distinct
    lower-case literal (case variants collapse). It may select a few more files than the
    exact literals would; the parsers decide."""
    lowered = sorted({literal.lower() for literal in literals}, key=len)
    anchors: list[bytes] = []
    for literal in lowered:  # a literal containing a shorter one adds nothing
        if not any(anchor in literal for anchor in anchors):
            anchors.append(literal)

    def matches(data: bytes | memoryview) -> bool:
        low = bytes(data).lower()
        return any(anchor in low for anchor in anchors)

    return matches
