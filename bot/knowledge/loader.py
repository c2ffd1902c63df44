"""Reading and checking knowledge-base files.

Every problem is reported with its file and line, in words an admin can act on;
a file with problems is rejected whole, so nothing is ever served half-loaded.

Files come from admins (the API, the folder), so their YAML is screened before
anything is built from it: anchors and aliases are refused (a 400-byte "billion
laughs" file expands into millions of strings), and so are files with more nodes
or deeper nesting than any real knowledge base has.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.knowledge.model import ORDER_FLOWS, TOPICS, Entry, KnowledgeBase, Problem
from bot.languages import SUPPORTED_LANGUAGES

#: Largest knowledge-base file accepted, in bytes.
MAX_FILE_BYTES = 1_000_000
#: The file of store facts (placeholders), not of entries.
STORE_FILE = "store.yml"
#: Placeholders the service fills from its own settings.
SETTINGS_PLACEHOLDERS = frozenset({"store_name", "support_email"})

#: Most YAML nodes (scalars, lists, mappings) one file may hold: a few hundred entries
#: in ten languages need a few tens of thousands.
MAX_NODES = 100_000
#: Deepest nesting of lists and mappings: an entry needs four levels.
MAX_DEPTH = 20
#: The problem of a file that uses ``&anchor`` or ``*alias``.
ALIASES_REFUSED = "anchors and aliases are not allowed (&name, *name): write each text out in full"

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
_PLACEHOLDER_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_LINE = "__line__"


# libyaml's parser when PyYAML was built with it (it is, in our lock): ~10x faster.
_SafeLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineLoader(_SafeLoader):  # type: ignore[misc, valid-type]
    """A safe YAML loader that remembers the line of every mapping."""


def _mapping_with_line(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = {str(key): value for key, value in loader.construct_mapping(node, deep=True).items()}
    mapping[_LINE] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_with_line)


@dataclass(frozen=True)
class RefusedYaml(Problem):
    """A file refused before it was read (aliases, too many nodes, too deep): the admin
    API answers these with an error, not as a validation report."""


def screen_yaml(path: Path, text: str) -> list[Problem]:
    """Refuse anchors, aliases and oversized structures from the parser's events alone,
    before any node is composed or constructed (linear in the text's length).

    Raises ``yaml.YAMLError`` for a syntax error, like loading would."""
    depth = nodes = 0
    for event in yaml.parse(text, Loader=_SafeLoader):
        if not isinstance(event, yaml.NodeEvent):
            if isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            continue
        line = event.start_mark.line + 1 if event.start_mark else 0
        if isinstance(event, yaml.AliasEvent) or event.anchor is not None:
            return [RefusedYaml(path, line, ALIASES_REFUSED)]
        nodes += 1
        if nodes > MAX_NODES:
            return [
                RefusedYaml(path, line, f"has more than {MAX_NODES:,} values; split it into several files")
            ]
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                return [RefusedYaml(path, line, f"nests lists and mappings more than {MAX_DEPTH} deep")]
    return []


def read_yaml(path: Path) -> tuple[Any, list[Problem]]:
    """Parse one file; problems for size, encoding, YAML syntax and refused structures
    (anchors, aliases, too many nodes, too deep), with the line."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        return None, [Problem(path, 0, f"cannot be read: {error.strerror}")]
    if len(raw) > MAX_FILE_BYTES:
        return None, [Problem(path, 0, f"is {len(raw):,} bytes; the limit is {MAX_FILE_BYTES:,}")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        return None, [Problem(path, line, "is not UTF-8 text (save it as UTF-8)")]
    try:
        refused = screen_yaml(path, text)
        if refused:
            return None, refused
        return yaml.load(text, Loader=_LineLoader), []
    except yaml.MarkedYAMLError as error:
        line = error.problem_mark.line + 1 if error.problem_mark else 0
        return None, [Problem(path, line, f"YAML syntax error: {error.problem}")]
    except yaml.YAMLError as error:
        return None, [Problem(path, 0, f"YAML error: {error}")]


def read_placeholders(path: Path) -> tuple[dict[str, str], list[Problem]]:
    """The store facts in ``store.yml`` (``placeholders: {name: value}``)."""
    if not path.exists():
        return {}, []
    data, problems = read_yaml(path)
    if problems:
        return {}, problems
    values = (data or {}).get("placeholders") if isinstance(data, dict) else None
    if not isinstance(values, dict):
        return {}, [Problem(path, 1, "needs a 'placeholders:' mapping of name: value")]
    return {str(k): str(v) for k, v in values.items() if k != _LINE}, []


def parse_entries(path: Path, data: Any, placeholders: set[str]) -> tuple[list[Entry], list[Problem]]:
    """Check the entries of one file; return them and every problem found."""
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        return [], [Problem(path, 1, "must have a top-level 'entries:' list")]
    entries: list[Entry] = []
    problems: list[Problem] = []
    for raw in data["entries"]:
        if not isinstance(raw, dict):
            problems.append(Problem(path, 0, "every item under 'entries' must be a mapping"))
            continue
        line = int(raw.get(_LINE, 0))

        def problem(message: str, line: int = line) -> None:
            problems.append(Problem(path, line, message))

        entry_id = raw.get("id")
        if not isinstance(entry_id, str) or not _ID_RE.match(entry_id):
            problem(f"id {entry_id!r} must be lower-case letters, digits and '-' (at most 80)")
            continue
        topic = raw.get("topic")
        # Names are strings: a list or mapping here must be a problem, not a TypeError.
        if not isinstance(topic, str) or topic not in TOPICS:
            problem(f"{entry_id}: topic {topic!r} is not one of {', '.join(sorted(TOPICS))}")
        order_flow = raw.get("order_flow")
        if order_flow is not None and (not isinstance(order_flow, str) or order_flow not in ORDER_FLOWS):
            problem(f"{entry_id}: order_flow {order_flow!r} is not one of {', '.join(sorted(ORDER_FLOWS))}")
        questions = _per_language(raw.get("questions"), entry_id, "questions", line, problem)
        answers = _per_language(raw.get("answer"), entry_id, "answer", line, problem)
        clean_questions: dict[str, tuple[str, ...]] = {}
        for language, value in questions.items():
            items = value if isinstance(value, list) else None
            texts = tuple(str(q).strip() for q in items or [] if str(q).strip())
            if not texts:
                problem(f"{entry_id}: the question list for '{language}' is empty")
                continue
            clean_questions[language] = texts
        clean_answers: dict[str, str] = {}
        for language, value in answers.items():
            if not isinstance(value, str) or not value.strip():
                problem(f"{entry_id}: the answer in '{language}' is missing or empty")
                continue
            undefined = set(_PLACEHOLDER_RE.findall(value)) - placeholders
            if undefined:
                names = ", ".join("{" + name + "}" for name in sorted(undefined))
                problem(f"{entry_id}: the answer in '{language}' uses undefined placeholder {names}")
            clean_answers[language] = value.strip()
        if "answer" not in raw:
            problem(f"{entry_id}: missing answer")
        for language in clean_questions.keys() - clean_answers.keys():
            problem(f"{entry_id}: has questions in '{language}' but no answer")
        entries.append(Entry(entry_id, str(topic), clean_questions, clean_answers, order_flow, path, line))
    return entries, problems


def _per_language(value: Any, entry_id: str, key: str, line: int, problem: Any) -> dict[str, Any]:
    if value is None:
        if key == "questions":
            problem(f"{entry_id}: missing questions")
        return {}
    if not isinstance(value, dict):
        problem(f"{entry_id}: '{key}' must map language codes to text")
        return {}
    result = {}
    for language, text in value.items():
        if language == _LINE:
            continue
        if language not in SUPPORTED_LANGUAGES:
            problem(
                f"{entry_id}: unknown language code {language!r} in '{key}' "
                f"(use one of {' '.join(SUPPORTED_LANGUAGES)})"
            )
            continue
        result[language] = text
    return result


def entry_files(directory: Path) -> list[Path]:
    """The files of ``directory`` that hold entries, in a stable order."""
    return sorted(path for path in directory.glob("*.yml") if path.name != STORE_FILE)


def load_file(path: Path, placeholders: set[str]) -> tuple[list[Entry], list[Problem]]:
    """Read and check one file of entries."""
    data, problems = read_yaml(path)
    if problems:
        return [], problems
    return parse_entries(path, data, placeholders)


def merge(files: dict[Path, list[Entry]]) -> tuple[dict[str, Entry], list[Problem]]:
    """Entries of several files by id; an id already taken is a problem of the later file."""
    entries: dict[str, Entry] = {}
    problems: list[Problem] = []
    for path in sorted(files):
        for entry in files[path]:
            other = entries.setdefault(entry.id, entry)
            if other is not entry:
                where = f"{other.source.name if other.source else '?'}:{other.line}"
                problems.append(Problem(path, entry.line, f"duplicate id {entry.id!r} (also at {where})"))
    return entries, problems


def load_directory(directory: Path) -> tuple[KnowledgeBase, list[Problem]]:
    """Read every entry file of ``directory``.

    Returns the knowledge base built from the files without problems, and all
    problems (a file with any problem, a duplicate id included, contributes no
    entries).
    """
    placeholders, problems = read_placeholders(directory / STORE_FILE)
    known = set(placeholders) | SETTINGS_PLACEHOLDERS
    good: dict[Path, list[Entry]] = {}
    for path in entry_files(directory):
        entries, file_problems = load_file(path, known)
        problems.extend(file_problems)
        if not file_problems:
            good[path] = entries
    _, duplicates = merge(good)
    for problem in duplicates:
        good.pop(problem.path, None)
    problems.extend(duplicates)
    by_id, _ = merge(good)
    return KnowledgeBase(by_id, placeholders), problems
