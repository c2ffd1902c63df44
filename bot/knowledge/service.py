"""The live knowledge base of one process, reloaded when its files change.

Each process that answers (the action server, the web service) holds one
``KnowledgeService``. ``current()`` looks at the files' modification times at
most every ``check_interval`` seconds (a few ``stat`` calls) and reloads when
anything changed, so an edit is live on the next question after it, within a
second, with no watcher thread to manage.

A file that now has errors is rejected: its previous version stays live and
its errors are kept in ``problems`` for the admin to see. Nothing is served
half-loaded: the new snapshot replaces the old one in a single assignment.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bot.knowledge.index import Index, TermCache
from bot.knowledge.loader import (
    SETTINGS_PLACEHOLDERS,
    STORE_FILE,
    entry_files,
    load_file,
    merge,
    read_placeholders,
)
from bot.knowledge.model import Entry, KnowledgeBase, Problem
from bot.tokenization import Tokenizers

logger = logging.getLogger(__name__)

Signature = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class Snapshot:
    """One consistent version of the knowledge base and its index."""

    base: KnowledgeBase
    index: Index
    problems: tuple[Problem, ...] = ()
    loaded_at: float = field(default_factory=time.time)


class KnowledgeService:
    def __init__(self, directory: Path, tokenizers: Tokenizers, check_interval: float = 0.5) -> None:
        self.directory = directory
        self._tokenizers = tokenizers
        self._check_interval = check_interval
        self._lock = threading.Lock()
        self._signature: Signature | None = None
        self._checked_at = 0.0
        self._good_files: dict[Path, list[Entry]] = {}
        self._placeholders: dict[str, str] = {}
        self._snapshot: Snapshot | None = None
        self._term_cache: TermCache = {}
        #: Parsed files by path, with the (mtime, size) they were parsed at.
        self._parsed: dict[Path, tuple[tuple[int, int], list[Entry], list[Problem]]] = {}

    def current(self) -> Snapshot:
        """The knowledge base as it is now on disk (reloaded if it changed)."""
        now = time.monotonic()
        if self._snapshot is None or now - self._checked_at >= self._check_interval:
            self.refresh()
        assert self._snapshot is not None
        return self._snapshot

    def refresh(self) -> bool:
        """Reload if any file changed since the last load; True when it reloaded."""
        with self._lock:
            self._checked_at = time.monotonic()
            signature = self._read_signature()
            if self._snapshot is not None and signature == self._signature:
                return False
            self._snapshot = self._reload()
            self._signature = signature
            return True

    def _read_signature(self) -> Signature:
        stats = []
        for path in sorted(self.directory.glob("*.yml")):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            stats.append((path.name, stat.st_mtime_ns, stat.st_size))
        return tuple(stats)

    def _reload(self) -> Snapshot:
        started = time.perf_counter()
        placeholders, problems = read_placeholders(self.directory / STORE_FILE)
        if problems:
            placeholders = self._placeholders  # keep the last good store facts
        if set(placeholders) != set(self._placeholders):
            self._parsed.clear()  # which placeholders are defined changes what is valid
        self._placeholders = placeholders
        known = set(placeholders) | SETTINGS_PLACEHOLDERS
        files: dict[Path, list[Entry]] = {}
        parsed: dict[Path, tuple[tuple[int, int], list[Entry], list[Problem]]] = {}
        for path in entry_files(self.directory):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            stamp = (stat.st_mtime_ns, stat.st_size)
            cached = self._parsed.get(path)
            if cached and cached[0] == stamp:
                entries, file_problems = cached[1], list(cached[2])  # unchanged: not parsed again
            else:
                entries, file_problems = load_file(path, known)
            parsed[path] = (stamp, entries, list(file_problems))
            if file_problems:
                problems.extend(file_problems)
                if path in self._good_files:
                    files[path] = self._good_files[path]  # the previous version stays live
            else:
                files[path] = entries
        _, duplicates = merge(files)
        for problem in duplicates:
            problems.append(problem)
            previous = self._good_files.get(problem.path)
            if previous is not None and previous is not files.get(problem.path):
                files[problem.path] = previous  # the version before the clash stays live
            else:
                files.pop(problem.path, None)
        by_id, _ = merge(files)
        self._good_files = files
        self._parsed = parsed
        base = KnowledgeBase(by_id, placeholders)
        index = Index(base, self._tokenizers, previous=self._term_cache)
        self._term_cache = index.term_cache  # texts no entry has any more are forgotten
        snapshot = Snapshot(base, index, tuple(problems))
        for problem in problems:
            logger.error("Knowledge base: %s (previous version kept)", problem)
        logger.info(
            "Knowledge base loaded: %d entries from %d files in %.0f ms",
            len(by_id),
            len(files),
            (time.perf_counter() - started) * 1000,
        )
        return snapshot
