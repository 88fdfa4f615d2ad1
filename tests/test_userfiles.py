"""vpmigrate.userfiles: the shared reader of the user's files and the bounded YAML.
The hostile inputs themselves go through the real CLI in tests/hostile/."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from vpmigrate.compose.yamlsource import load_yaml_text
from vpmigrate.errors import UserError
from vpmigrate.split import roundtrip
from vpmigrate.userfiles import (
    MAX_ALIAS_VALUES,
    MAX_YAML_DEPTH,
    compose_yaml,
    compose_yaml_documents,
    invalid_yaml,
    is_missing,
    read_user_file,
    symlink_loop,
)


def test_a_byte_order_mark_is_dropped_and_text_kept(tmp_path: Path) -> None:
    path = tmp_path / "bom.env"
    path.write_bytes(b"\xef\xbb\xbfA=caf\xc3\xa9\r\n")
    assert read_user_file(path, "env file") == "A=café\r\n"


def test_is_missing_only_when_nothing_is_there(tmp_path: Path) -> None:
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("")
    assert is_missing(tmp_path / "absent")
    assert is_missing(tmp_path / "file" / "below")
    assert not is_missing(tmp_path / "dangling")  # reading it says it points nowhere
    assert not is_missing(tmp_path / "dir")
    assert not is_missing(tmp_path / "file")


def test_the_loop_is_named_link_by_link(tmp_path: Path) -> None:
    a, b, c = (tmp_path / n for n in "abc")
    a.symlink_to(b)
    b.symlink_to(c)
    c.symlink_to(b)
    assert symlink_loop(a) == [b, c, b]
    with pytest.raises(UserError, match=rf"symbolic link loop \({b} -> {c} -> {b}\)"):
        read_user_file(a, "compose file")


def test_a_limit_below_the_file_size_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "f.yml"
    path.write_text("x" * 11)
    assert read_user_file(path, "compose file", limit=11) == "x" * 11
    with pytest.raises(UserError, match="larger than"):
        read_user_file(path, "compose file", limit=10)


def test_anchors_as_compose_files_use_them_stay_well_within_the_alias_bound() -> None:
    defaults = "".join(f"    k{i}: v{i}\n" for i in range(20))
    services = "".join(f"  s{i}:\n    <<: *defaults\n    image: busybox\n" for i in range(1000))
    text = f"x-defaults: &defaults\n{defaults}services:\n{services}"
    loaded = load_yaml_text(text, Path("c.yml"))
    assert loaded["services"]["s999"]["k19"] == "v19"


def test_aliases_just_over_the_bound_are_refused_by_both_readers() -> None:
    width = 1000
    count = MAX_ALIAS_VALUES // width + 2
    text = f"a: &a [{', '.join(['x'] * width)}]\nb: [{', '.join(['*a'] * count)}]\n"
    for parse in (
        compose_yaml,
        lambda t, p: roundtrip.parse(roundtrip._yaml((2, 4, 2), False), t, p),
    ):
        with pytest.raises(UserError, match=r"^c\.yml:1: aliases expand the document by"):
            parse(text, "c.yml")


@pytest.mark.parametrize("depth", [MAX_YAML_DEPTH - 1, MAX_YAML_DEPTH + 1])
def test_the_depth_bound(depth: int) -> None:
    text = "[" * depth + "]" * depth
    if depth < MAX_YAML_DEPTH:
        assert compose_yaml(text, "d.yml") is not None
    else:
        with pytest.raises(UserError, match=r"^d\.yml:1: the YAML is nested more than"):
            compose_yaml(text, "d.yml")


def test_every_document_of_a_stream_is_bounded() -> None:
    assert len(compose_yaml_documents("a: 1\n---\nb: 2\n", "m.yml")) == 2
    with pytest.raises(UserError, match=r"^m\.yml:3: the alias \*a is used inside"):
        compose_yaml_documents("a: 1\n---\nb: &a [*a]\n", "m.yml")


def test_one_wording_for_both_yaml_libraries() -> None:
    from ruamel.yaml import YAML

    text = "a: [1, 2\nb: 3\n"
    with pytest.raises(yaml.YAMLError) as pyyaml_error:
        yaml.safe_load(text)
    ruamel = YAML(typ="rt")
    with pytest.raises(Exception) as ruamel_error:
        ruamel.load(text)
    for exc in (pyyaml_error.value, ruamel_error.value):
        message = invalid_yaml(Path("s.yml"), exc).message
        assert message.startswith("s.yml:") and ": invalid YAML: " in message
        assert message.endswith("Fix the file there and run the command again.")
