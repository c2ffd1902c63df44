"""Changing knowledge-base files for the admin API, safely.

Every change is checked before it touches the live folder: the new file text
is validated exactly as the loader will read it (YAML, entries, placeholders,
ids clashing with other files), and refused with the problems if anything is
wrong. An accepted file is written to a temporary file in the same folder and
renamed over the old one (atomic: a reader sees the old file or the new one,
never half of either); the old version is first copied to the backup folder.

Entry edits go through ruamel.yaml's round-trip mode, so an admin's comments and
layout in the rest of the file survive an edit made through the API.
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import LiteralScalarString

from bot.knowledge.loader import (
    MAX_FILE_BYTES,
    SETTINGS_PLACEHOLDERS,
    STORE_FILE,
    entry_files,
    load_file,
    read_placeholders,
    read_yaml,
    screen_yaml,
)
from bot.knowledge.model import Entry, Problem

#: File names the API accepts: no folders, no hidden files, only ``.yml``.
FILE_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\.yml$")
#: Backups kept per file (the oldest are removed).
BACKUPS_PER_FILE = 20


class EditError(Exception):
    """A change the editor refused; ``status`` is the HTTP status that fits."""

    def __init__(self, status: int, code: str, detail: str, problems: list[Problem] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.problems = problems or []


def entry_as_dict(entry: Entry) -> dict[str, Any]:
    """An entry in the file format's shape (and the API's)."""
    data: dict[str, Any] = {"id": entry.id, "topic": entry.topic}
    if entry.order_flow:
        data["order_flow"] = entry.order_flow
    data["questions"] = {lang: list(texts) for lang, texts in entry.questions.items()}
    data["answer"] = dict(entry.answers)
    return data


class KnowledgeEditor:
    """Validated, atomic, backed-up changes to one knowledge-base folder.

    One lock serialises changes within the process (the web service is the
    only writer); readers in other processes only ever see whole files.
    """

    def __init__(self, directory: Path, backup_dir: Path) -> None:
        self.directory = directory
        self.backup_dir = backup_dir
        self._lock = threading.Lock()

    # --- files --------------------------------------------------------------
    def path_for(self, name: str) -> Path:
        """The path of file ``name``, refusing anything that is not a plain entry-file name."""
        if not FILE_NAME_RE.match(name) or name == STORE_FILE:
            raise EditError(
                400,
                "bad_file_name",
                "File names are lower-case letters, digits, '-' and '_', ending in .yml "
                f"(no folders; {STORE_FILE} holds store facts and is edited by hand).",
            )
        path = self.directory / name
        if path.resolve().parent != self.directory.resolve():
            raise EditError(400, "bad_file_name", "The file must be directly in the knowledge-base folder.")
        return path

    def check(self, name: str, data: bytes) -> list[Problem]:
        """Every problem file ``name`` would have with content ``data`` (nothing is written)."""
        path = self.path_for(name)
        if len(data) > MAX_FILE_BYTES:
            return [Problem(path, 0, f"is {len(data):,} bytes; the limit is {MAX_FILE_BYTES:,}")]
        placeholders, _ = read_placeholders(self.directory / STORE_FILE)
        known = set(placeholders) | SETTINGS_PLACEHOLDERS
        with tempfile.TemporaryDirectory() as scratch:
            candidate = Path(scratch) / name
            candidate.write_bytes(data)
            entries, problems = load_file(candidate, known)
        problems = [dataclasses.replace(p, path=path) for p in problems]  # keeps RefusedYaml
        if problems:
            return problems
        taken = self._ids_elsewhere(path, known)
        for entry in entries:
            if entry.id in taken:
                other, line = taken[entry.id]
                problems.append(
                    Problem(path, entry.line, f"duplicate id {entry.id!r} (also at {other.name}:{line})")
                )
        return problems

    def write_file(self, name: str, data: bytes) -> bool:
        """Replace (or create) file ``name`` with ``data`` if it is valid; True if created."""
        with self._lock:
            problems = self.check(name, data)
            if problems:
                raise EditError(422, "invalid_file", f"{name} was not saved: it has errors.", problems)
            path = self.path_for(name)
            created = not path.exists()
            self._replace(path, data)
            return created

    def delete_file(self, name: str) -> None:
        with self._lock:
            path = self.path_for(name)
            if not path.exists():
                raise EditError(404, "not_found", f"There is no file {name}.")
            self._backup(path)
            path.unlink()

    def read_file(self, name: str) -> bytes:
        path = self.path_for(name)
        if not path.exists():
            raise EditError(404, "not_found", f"There is no file {name}.")
        return path.read_bytes()

    # --- entries ------------------------------------------------------------
    def find(self, entry_id: str) -> Path | None:
        """The file that holds entry ``entry_id`` now (valid files only)."""
        for path in entry_files(self.directory):
            data, problems = read_yaml(path)
            if problems or not isinstance(data, dict):
                continue
            for raw in data.get("entries") or []:
                if isinstance(raw, dict) and raw.get("id") == entry_id:
                    return path
        return None

    def save_entry(self, entry: dict[str, Any], file_name: str | None = None, create: bool = False) -> str:
        """Create (``create``) or replace one entry; returns the file it is in.

        A new entry goes to ``file_name``, by default ``<topic>.yml``. The
        entry's file is validated as a whole before it is written.
        """
        entry_id = entry.get("id")
        if not isinstance(entry_id, str) or not entry_id:
            raise EditError(400, "invalid_entry", "The entry needs an 'id'.")
        with self._lock:
            existing = self.find(entry_id)
            if create and existing is not None:
                raise EditError(
                    409, "exists", f"An entry with id {entry_id!r} already exists ({existing.name})."
                )
            if not create and existing is None:
                raise EditError(404, "not_found", f"There is no entry {entry_id!r}.")
            if existing is not None:
                path = existing
            else:
                topic = entry.get("topic")
                path = self.path_for(file_name or f"{topic if isinstance(topic, str) else 'faq'}.yml")
            document = self._load_round_trip(path)
            items = document.setdefault("entries", CommentedSeq())
            new = _to_yaml(entry)
            for position, item in enumerate(items):
                if isinstance(item, dict) and item.get("id") == entry_id:
                    items[position] = new
                    break
            else:
                items.append(new)
            data = _dump(document)
            problems = self.check(path.name, data)
            if problems:
                raise EditError(
                    422, "invalid_entry", f"Entry {entry_id!r} was not saved: it has errors.", problems
                )
            self._replace(path, data)
            return path.name

    def delete_entry(self, entry_id: str) -> str:
        with self._lock:
            path = self.find(entry_id)
            if path is None:
                raise EditError(404, "not_found", f"There is no entry {entry_id!r}.")
            document = self._load_round_trip(path)
            items = document["entries"]
            document["entries"] = CommentedSeq(
                item for item in items if not (isinstance(item, dict) and item.get("id") == entry_id)
            )
            self._replace(path, _dump(document))
            return path.name

    # --- internals ----------------------------------------------------------
    def _ids_elsewhere(self, path: Path, known: set[str]) -> dict[str, tuple[Path, int]]:
        taken: dict[str, tuple[Path, int]] = {}
        for other in entry_files(self.directory):
            if other.name == path.name:
                continue
            entries, _ = load_file(other, known)
            for entry in entries:
                taken.setdefault(entry.id, (other, entry.line))
        return taken

    def _load_round_trip(self, path: Path) -> CommentedMap:
        if not path.exists():
            return CommentedMap({"entries": CommentedSeq()})
        try:
            text = path.read_text(encoding="utf-8")
            # ruamel keeps aliases as they are, but refuse what the loader refuses first.
            refused = screen_yaml(path, text)
            if refused:
                raise EditError(
                    409,
                    "file_has_errors",
                    f"{path.name} has errors; fix or upload the whole file first.",
                    refused,
                )
            document = _yaml().load(text)
        except (YAMLError, yaml.YAMLError, UnicodeDecodeError) as error:
            raise EditError(
                409,
                "file_has_errors",
                f"{path.name} has errors; fix or upload the whole file first ({error}).",
            ) from error
        if not isinstance(document, CommentedMap) or not isinstance(document.get("entries"), list):
            raise EditError(409, "file_has_errors", f"{path.name} has no 'entries:' list; fix it first.")
        return document

    def _backup(self, path: Path) -> None:
        if not path.exists():
            return
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"-{time.time_ns() % 1_000_000_000:09d}"
        shutil.copy2(path, self.backup_dir / f"{path.name}.{stamp}")
        backups = sorted(self.backup_dir.glob(f"{path.name}.*"))
        for old in backups[:-BACKUPS_PER_FILE]:
            old.unlink(missing_ok=True)

    def _replace(self, path: Path, data: bytes) -> None:
        """Back up the current file, then atomically put ``data`` in its place."""
        self._backup(path)
        descriptor, temporary = tempfile.mkstemp(dir=self.directory, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _to_yaml(entry: dict[str, Any]) -> CommentedMap:
    """The API's entry as YAML nodes: multi-line answers as ``|`` blocks."""
    node = CommentedMap()
    for key in ("id", "topic", "order_flow", "questions", "answer"):
        if key not in entry or entry[key] is None:
            continue
        value = entry[key]
        if key == "answer" and isinstance(value, dict):
            value = {
                lang: LiteralScalarString(text) if isinstance(text, str) and "\n" in text else text
                for lang, text in value.items()
            }
        node[key] = value
    for key, value in entry.items():
        if key not in node and key not in ("file",):
            node[key] = value  # unknown keys are kept, so the validator can name them
    return node


def _dump(document: CommentedMap) -> bytes:
    buffer = io.StringIO()
    _yaml().dump(document, buffer)
    return buffer.getvalue().encode("utf-8")
