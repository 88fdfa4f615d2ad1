"""Generated-file bookkeeping: the header hash and atomic replacement."""

from __future__ import annotations

import errno
import os

import pytest

from vpmigrate.errors import UserError
from vpmigrate.split.files import atomic_write, is_hand_edited, unified_diff, with_header

BODY = "services:\n  a:\n    image: a  # ${KEEP}\n"


def test_untouched_output_is_not_hand_edited():
    assert not is_hand_edited(with_header(BODY, "docker-compose.yml", "split-plan.yml"))


@pytest.mark.parametrize(
    "edit",
    [
        lambda text: text.replace("image: a", "image: b"),
        lambda text: text + "\n",
        lambda text: text.split("\n", 4)[4],  # header removed
        lambda text: BODY,  # a file the split never wrote
        lambda text: text.replace("\n# split-sha256", "\n# my note\n# split-sha256"),
        lambda text: text.replace("Do not edit", "Do not edit (mine)"),
    ],
    ids=[
        "value",
        "trailing-newline",
        "header-removed",
        "no-header",
        "header-comment",
        "header-text",
    ],
)
def test_any_change_below_or_to_the_header_counts_as_hand_edited(edit):
    assert is_hand_edited(edit(with_header(BODY, "docker-compose.yml", "split-plan.yml")))


def test_atomic_write_keeps_the_mode_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "out.yml"
    target.write_text("old\n")
    target.chmod(0o640)
    atomic_write(target, "new\n")
    assert target.read_text() == "new\n"
    assert target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["out.yml"]


def test_failed_replace_leaves_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "out.yml"
    target.write_text("old\n")

    def refuse(*_args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(UserError, match=r"out\.yml: cannot write it: no space left"):
        atomic_write(target, "new\n")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.yml"]


def test_diff_of_a_new_file_comes_from_dev_null():
    diff = unified_diff(None, "a\n", "x.yml")
    assert diff.splitlines()[:2] == ["--- /dev/null", "+++ b/x.yml"]
    assert "+a" in diff


def test_atomic_write_neither_writes_through_nor_replaces_a_link(tmp_path):
    target = tmp_path / "real.yml"
    target.write_text("old\n")
    link = tmp_path / "out.yml"
    link.symlink_to(target)
    with pytest.raises(UserError, match=r"out\.yml: is a symbolic link"):
        atomic_write(link, "new\n")
    assert link.is_symlink() and target.read_text() == "old\n"
