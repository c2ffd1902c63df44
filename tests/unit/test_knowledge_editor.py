"""Writes to knowledge-base files are all-or-nothing and keep a backup."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import KNOWLEDGE_BASE

from bot.knowledge import editor as editor_module
from bot.knowledge.editor import BACKUPS_PER_FILE, EditError, KnowledgeEditor


@pytest.fixture
def editor(tmp_path: Path) -> KnowledgeEditor:
    directory = tmp_path / "kb"
    directory.mkdir()
    (directory / "store.yml").write_text("placeholders:\n  delivery_days: 7-14\n", encoding="utf-8")
    (directory / "faq.yml").write_text(KNOWLEDGE_BASE, encoding="utf-8")
    return KnowledgeEditor(directory, tmp_path / "backups")


def test_a_crash_while_replacing_leaves_the_old_file_whole(
    editor: KnowledgeEditor, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = editor.directory / "faq.yml"
    before = path.read_bytes()

    def crash(source: str, target: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(editor_module.os, "replace", crash)
    with pytest.raises(OSError):
        editor.write_file("faq.yml", KNOWLEDGE_BASE.replace("30 days", "45 days").encode())
    assert path.read_bytes() == before
    assert sorted(os.listdir(editor.directory)) == ["faq.yml", "store.yml"]  # no temporary file left


def test_backups_are_kept_and_bounded(editor: KnowledgeEditor) -> None:
    for days in range(BACKUPS_PER_FILE + 5):
        editor.write_file("faq.yml", KNOWLEDGE_BASE.replace("30 days", f"{days} days").encode())
    backups = sorted(editor.backup_dir.glob("faq.yml.*"))
    assert len(backups) == BACKUPS_PER_FILE
    assert b"23 days" in backups[-1].read_bytes()  # the version before the last write


@pytest.mark.parametrize("name", ["../x.yml", "sub/x.yml", "x.yaml", "X.yml", "store.yml", ".x.yml", ""])
def test_only_plain_file_names_in_the_folder(editor: KnowledgeEditor, name: str) -> None:
    with pytest.raises(EditError) as error:
        editor.path_for(name)
    assert error.value.status == 400


def test_an_edit_to_a_file_with_yaml_errors_is_refused(editor: KnowledgeEditor) -> None:
    (editor.directory / "faq.yml").write_text("entries: [\n", encoding="utf-8")
    with pytest.raises(EditError) as error:
        editor.delete_entry("shipping-time")
    assert error.value.status == 404  # a broken file's entries are not found...
    (editor.directory / "bad.yml").write_text("entries:\n  - id: x\n   bad: [", encoding="utf-8")
    with pytest.raises(EditError):
        editor.save_entry({"id": "new", "topic": "x"}, file_name="bad.yml", create=True)
