"""Round-trip editing: what the split does not change is written back byte for byte."""

from __future__ import annotations

import difflib
import re

import pytest
import yaml

from tests.split.helpers import FIXTURES, MONOLITH
from vpmigrate.errors import UserError
from vpmigrate.split import roundtrip
from vpmigrate.split.profiles import set_service_profiles

TRICKY = FIXTURES / "tricky-compose.yml"


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    removed, added = [], []
    for line in difflib.ndiff(before.splitlines(), after.splitlines()):
        if line.startswith("- "):
            removed.append(line[2:])
        elif line.startswith("+ "):
            added.append(line[2:])
    return removed, added


@pytest.mark.parametrize("path", [MONOLITH, TRICKY], ids=["monolith", "tricky"])
def test_unchanged_document_dumps_back_byte_for_byte(path):
    text = path.read_text()
    document = roundtrip.load(text, path)
    assert document.exact
    assert document.dump() == text


def test_setting_profiles_changes_only_profile_lines():
    text = MONOLITH.read_text()
    result = set_service_profiles(
        text,
        {"postgres": [], "mailhog": ["future", "mail"], "pgadmin": ["tools"], "redis": ["cache"]},
    )
    removed, added = changed_lines(text, result)
    assert removed == [
        "    profiles: [mvp, future]  # temporal (future) needs it too",
        "    profiles: [future]",
        "    profiles: [future]",
    ]
    assert added == ["    profiles: [cache]", "    profiles: [future, mail]"]
    data = yaml.safe_load(result)["services"]
    assert "profiles" not in data["postgres"]
    assert data["mailhog"]["profiles"] == ["future", "mail"]
    # everything the edit did not touch is identical, merges and all
    before = yaml.safe_load(text)["services"]
    for name in before:
        before[name].pop("profiles", None)
        data[name].pop("profiles", None)
    assert data == before


def test_comments_interpolation_and_escapes_survive_an_edit():
    text = TRICKY.read_text()
    result = set_service_profiles(text, {"web": ["mvp"], "db": [], "cache": ["later"]})
    kept_tokens = [
        "# ${NOT_INTERPOLATED} and $$ in comments stay as they are.",
        'GREETING: "hello ${USER_NAME:-world}"',
        'LITERAL: "$$HOME stays literal"',
        "REQUIRED: ${TRICKY_SECRET:?set TRICKY_SECRET}",
        '    max-size: "10m"   # quoted on purpose',
        "x-owner: 'platform team'  # single quotes kept",
        "    test: ['CMD', 'true']",
        "      sh -c 'echo \"$${GREETING}\"\n      && sleep 1000'",
        '      - "127.0.0.1:${WEB_PORT:-8080}:80"  # inline comment on a port',
        "    <<: &worker-base\n",
        "    <<: *worker-base\n",
        "  # web leads: this comment belongs to web\n  web:\n",
        "    # trailing comment inside db\n",
    ]
    for token in kept_tokens:
        assert token in result, token
    removed, added = changed_lines(text, result)
    assert removed == ["    profiles: [future]", "    profiles: [mvp]"]
    assert added == ["    profiles: [later]", "    profiles: [mvp]"]
    assert result.index("profiles: [mvp]") > result.index("  web:\n")


def test_new_profiles_key_goes_after_image_and_leading_comment_stays_with_next_service():
    text = (
        "services:\n"
        "  a:\n"
        "    command: run\n"
        "    image: a  # the image\n"
        "\n"
        "  # leads b\n"
        "  b:\n"
        "    image: b\n"
    )
    result = set_service_profiles(text, {"a": ["future"], "b": ["tools"]})
    assert result == (
        "services:\n"
        "  a:\n"
        "    command: run\n"
        "    image: a  # the image\n"
        "    profiles: [future]\n"
        "\n"
        "  # leads b\n"
        "  b:\n"
        "    image: b\n"
        "    profiles: [tools]\n"
    )


def test_removing_a_block_profiles_list_keeps_the_comment_of_the_next_service():
    text = (
        "services:\n"
        "  a:\n"
        "    image: a\n"
        "    profiles:\n"
        "      - one\n"
        "      - two\n"
        "\n"
        "  # leads b\n"
        "  b:\n"
        "    image: b\n"
    )
    result = set_service_profiles(text, {"a": []})
    assert result == "services:\n  a:\n    image: a\n\n  # leads b\n  b:\n    image: b\n"


def test_a_dropped_first_entry_takes_its_comment_and_the_next_one_keeps_its_own():
    text = "services:\n  # leads a\n  a:\n    image: a\n\n  # leads b\n  b:\n    image: b\n"
    document = roundtrip.load(text, "t.yml")
    roundtrip.remove_key(document.services, "a")
    assert document.dump() == "services:\n  # leads b\n  b:\n    image: b\n"


def test_unchanged_profiles_leave_the_text_alone():
    text = MONOLITH.read_text()
    assert set_service_profiles(text, {"postgres": ["mvp", "future"]}) is text


def test_unknown_service_is_a_user_error():
    with pytest.raises(UserError, match=r"no service named 'nginx'.*postgres"):
        set_service_profiles(MONOLITH.read_text(), {"nginx": ["future"]}, source="x.yml")


def test_invalid_yaml_names_file_and_line():
    with pytest.raises(UserError, match=r"^bad\.yml:4: invalid YAML"):
        roundtrip.load("services:\n  a:\n    image: a\n  - b\nother: 1\n", "bad.yml")


def test_mixed_indentation_is_normalised_but_stays_equivalent():
    text = "services:\n  a:\n      image: a\n      ports:\n      - 1:1\n  b:\n    image: b\n"
    document = roundtrip.load(text, "m.yml")
    assert not document.exact
    assert yaml.safe_load(document.dump()) == yaml.safe_load(text)
    assert re.search(r"^ {4}image: b$", document.dump(), re.MULTILINE)


BLOCKS = """\
services:
  a:
    image: a
    command: |
      echo hi

  # leads b
  b:
    image: &img b
    command: >-
      folded
      text
  # leads c
  c:
    <<: &base
      restart: always
    image: c
  d:
    <<: *base
    image: *img
# end of file
"""


def test_comments_after_block_scalars_follow_their_entry():
    document = roundtrip.load(BLOCKS, "b.yml")
    assert document.exact
    roundtrip.remove_key(document.services, "b")
    start, end = BLOCKS.index("\n  # leads b"), BLOCKS.index("  # leads c")
    expected = BLOCKS[:start] + BLOCKS[end:]
    # b defined the anchor d uses: d now carries it
    assert document.dump() == expected.replace("image: *img", "image: &img b")


def test_anchors_defined_in_removed_entries_move_to_their_first_remaining_use():
    document = roundtrip.load(BLOCKS, "b.yml")
    roundtrip.remove_key(document.services, "b")
    roundtrip.remove_key(document.services, "c")
    result = document.dump()
    assert result.endswith(
        "  d:\n    <<: &base\n      restart: always\n    image: &img b\n# end of file\n"
    )
    assert yaml.safe_load(result)["services"]["d"] == {"restart": "always", "image": "b"}


def test_removing_the_first_entries_one_after_another_keeps_the_new_first_comment():
    text = (
        "services:\n"
        "  # leads a\n"
        "  a:\n"
        "    image: a\n"
        "  b:\n"
        "    image: b\n"
        "\n"
        "  # leads c\n"
        "  c:\n"
        "    image: c\n"
    )
    document = roundtrip.load(text, "t.yml")
    roundtrip.remove_key(document.services, "a")
    roundtrip.remove_key(document.services, "b")
    assert document.dump() == "services:\n  # leads c\n  c:\n    image: c\n"


NOTES = """\
services:
  a:
    image: a
    ports:
      - 1:1
    # a's own trailing note

  # leads b
  b:
    image: b
    command: |
      run
      # not a comment: inside the block
    # b's own note after a block scalar
  # leads c
  c:
    image: c  # eol c
      # deep note of c
"""
A_BLOCK = NOTES[NOTES.index("  a:") : NOTES.index("\n  # leads b") + 1]
B_BLOCK = NOTES[NOTES.index("\n  # leads b") + 1 : NOTES.index("  # leads c")]
C_BLOCK = NOTES[NOTES.index("  # leads c") :]


@pytest.mark.parametrize(
    ("removed", "expected"),
    [
        ("a", "services:\n" + B_BLOCK.lstrip("\n") + C_BLOCK),
        ("b", "services:\n" + A_BLOCK.rstrip("\n") + "\n" + C_BLOCK),
        ("c", "services:\n" + A_BLOCK + B_BLOCK),
    ],
)
def test_notes_indented_below_an_entry_leave_with_it(removed, expected):
    document = roundtrip.load(NOTES, "n.yml")
    assert document.exact
    roundtrip.remove_key(document.services, removed)
    assert document.dump() == expected


def test_the_head_comment_stays_when_the_first_top_level_key_goes():
    text = "# head of the file\nvolumes:\n  x:\nservices:\n  a:\n    image: a\n"
    document = roundtrip.load(text, "h.yml")
    roundtrip.remove_key(document.data, "volumes", document_root=True)
    assert document.dump() == "# head of the file\nservices:\n  a:\n    image: a\n"


@pytest.mark.parametrize(
    ("before", "after", "profiles"),
    [
        ("    profiles: [mvp]  # why\n", "    profiles: [x, y]  # why\n", ["x", "y"]),
        ('    profiles: ["mvp", future]    # why\n', "    profiles: [m]    # why\n", ["m"]),
    ],
)
def test_end_of_line_comment_on_a_changed_profiles_list_keeps_its_gap(before, after, profiles):
    text = "services:\n  a:\n    image: a\n" + before + "  b:\n    image: b\n"
    result = set_service_profiles(text, {"a": profiles})
    assert result == "services:\n  a:\n    image: a\n" + after + "  b:\n    image: b\n"
