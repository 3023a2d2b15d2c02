"""QA scorecards: configuration in YAML, loaded with file and line in every error (as the
wrap-up forms are), and checked for use. Pure: no IO but reading the file.

A scorecard file::

    id: public_services             # the scorecard's key (lower-case letters, digits, _)
    version: 3                      # raise it on every change: evaluations keep theirs
    title: {ru: .., uk: .., en: ..} # ru and en required; uk: else ru
    pass_mark: 80                   # optional, percent: the reports mark scores below it
    sections:
      - id: greeting
        title: {ru: Приветствие, en: Greeting}
        criteria:
          - id: greeted
            title: {ru: .., en: ..}
            hint: {ru: .., en: ..}  # optional: what the evaluator listens for
            weight: 10              # > 0; points of a "yes"
            partial: true           # optional: "partial" allowed (half the weight)
            not_applicable: true    # optional: "n/a" allowed (left out of the weights)
    critical_errors:                # a "yes" on any of them zeroes the evaluation's score
      - id: wrong_information
        title: {ru: .., en: ..}

Answers are ``yes``, ``no``, ``partial`` and ``na``; critical errors are answered ``yes``
(the error was made) or ``no``. Scoring is :mod:`callagent.quality.scoring`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from callagent import yaml_nodes
from callagent.languages import LANGUAGES, pick

_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
REQUIRED_LABELS = ("ru", "en")
MAX_WEIGHT = 1000
Label = dict[str, str]


class ScorecardError(ValueError):
    """A scorecard file that cannot be used: every problem, each with file and line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            "the QA scorecard file has errors (fix them or point CALLAGENT_QUALITY_SCORECARD "
            "at another file):\n  " + "\n  ".join(problems)
        )


@dataclass(frozen=True)
class Criterion:
    """One thing the evaluator checks; a "yes" earns ``weight`` points."""

    id: str
    title: Label
    weight: float
    partial: bool = False
    not_applicable: bool = False
    hint: Label | None = None

    @property
    def answers(self) -> tuple[str, ...]:
        """The answers this criterion accepts, in the form's order."""
        found = ["yes"]
        if self.partial:
            found.append("partial")
        found.append("no")
        if self.not_applicable:
            found.append("na")
        return tuple(found)


@dataclass(frozen=True)
class Section:
    id: str
    title: Label
    criteria: tuple[Criterion, ...]


@dataclass(frozen=True)
class CriticalError:
    """An error so grave (wrong information given, personal data disclosed) that it zeroes
    the evaluation whatever the criteria earned."""

    id: str
    title: Label


@dataclass(frozen=True)
class Scorecard:
    """A scorecard version: what an evaluation is made with and keeps."""

    id: str
    version: int
    title: Label
    sections: tuple[Section, ...]
    critical_errors: tuple[CriticalError, ...]
    pass_mark: float | None = None

    @property
    def criteria(self) -> tuple[Criterion, ...]:
        return tuple(c for s in self.sections for c in s.criteria)

    def criterion(self, criterion_id: str) -> Criterion | None:
        for criterion in self.criteria:
            if criterion.id == criterion_id:
                return criterion
        return None

    def title_of(self, item_id: str, lang: str) -> str:
        """A criterion's or critical error's title in ``lang`` (its id when unknown: an
        older version's criterion named in a report)."""
        titles = {c.id: c.title for c in self.criteria}
        titles.update((e.id, e.title) for e in self.critical_errors)
        return pick(titles[item_id], lang) if item_id in titles else item_id

    def to_json(self) -> dict[str, Any]:
        """The definition as stored with the version and served to the pages."""
        return {
            "id": self.id,
            "version": self.version,
            "title": dict(self.title),
            "pass_mark": self.pass_mark,
            "sections": [
                {
                    "id": s.id,
                    "title": dict(s.title),
                    "criteria": [
                        {
                            "id": c.id,
                            "title": dict(c.title),
                            "hint": dict(c.hint) if c.hint else None,
                            "weight": c.weight,
                            "partial": c.partial,
                            "not_applicable": c.not_applicable,
                            "answers": list(c.answers),
                        }
                        for c in s.criteria
                    ],
                }
                for s in self.sections
            ],
            "critical_errors": [{"id": e.id, "title": dict(e.title)} for e in self.critical_errors],
        }

    def digest(self) -> str:
        """A fingerprint of the definition: a file changed without raising ``version`` is
        caught when the version is stored (an evaluation must keep what it was made with)."""
        text = json.dumps(self.to_json(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def scorecard_from_json(data: dict[str, Any]) -> Scorecard:
    """A stored version back (the definition :meth:`Scorecard.to_json` wrote)."""
    return Scorecard(
        id=data["id"],
        version=int(data["version"]),
        title=dict(data["title"]),
        pass_mark=data.get("pass_mark"),
        sections=tuple(
            Section(
                id=s["id"],
                title=dict(s["title"]),
                criteria=tuple(
                    Criterion(
                        id=c["id"],
                        title=dict(c["title"]),
                        weight=float(c["weight"]),
                        partial=bool(c["partial"]),
                        not_applicable=bool(c["not_applicable"]),
                        hint=dict(c["hint"]) if c.get("hint") else None,
                    )
                    for c in s["criteria"]
                ),
            )
            for s in data["sections"]
        ),
        critical_errors=tuple(
            CriticalError(id=e["id"], title=dict(e["title"])) for e in data["critical_errors"]
        ),
    )


def default_scorecard_path() -> Path:
    """The packaged scorecard of the public-services centre."""
    return Path(str(resources.files("callagent.quality").joinpath("default_scorecard.yaml")))


def load_scorecard(path: str | Path | None = None) -> Scorecard:
    """Read and check a scorecard file (the packaged default when ``path`` is empty)."""
    target = Path(path) if path else default_scorecard_path()
    try:
        text = target.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScorecardError([f"{target}: cannot read the file: {exc}"]) from exc
    return parse_scorecard(text, source=str(target))


def parse_scorecard(text: str, *, source: str = "<scorecard>") -> Scorecard:
    """A scorecard from YAML text; :class:`ScorecardError` lists every problem with its line."""
    try:
        root = yaml_nodes.compose(text, source)
    except yaml_nodes.NotYaml as exc:
        raise ScorecardError([str(exc)]) from exc
    checker = _Checker(source)
    card = checker.scorecard(root)
    if checker.problems or card is None:
        raise ScorecardError(checker.problems or [f"{source}:1: no scorecard defined"])
    return card


class _Checker:
    """Walks the YAML node tree (which keeps line numbers), collecting every problem."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []
        self._scalars = SafeConstructor()
        self._ids: dict[str, int] = {}  # criterion and critical error ids: one namespace

    def err(self, node: Node | None, message: str) -> None:
        line = node.start_mark.line + 1 if node is not None else 1
        self.problems.append(f"{self.source}:{line}: {message}")

    def scalar(self, node: Node) -> Any:
        if not isinstance(node, ScalarNode):
            return None
        return self._scalars.construct_object(node, deep=True)

    def mapping(
        self, node: Node | None, what: str, known: tuple[str, ...], required: tuple[str, ...]
    ) -> dict[str, Node] | None:
        if not isinstance(node, MappingNode):
            self.err(node, f"{what} must be a mapping (key: value)")
            return None
        items: dict[str, Node] = {}
        for key_node, value_node in node.value:
            key = self.scalar(key_node)
            if not isinstance(key, str):
                self.err(key_node, f"{what}: keys must be text")
            elif key in items:
                self.err(key_node, f"{what}: duplicate key '{key}'")
            elif key not in known:
                self.err(key_node, f"{what}: unknown key '{key}' (known: {', '.join(known)})")
            else:
                items[key] = value_node
        for key in required:
            if key not in items:
                self.err(node, f"{what}: '{key}' is missing")
        return items

    def sequence(self, node: Node, what: str) -> list[Node]:
        if not isinstance(node, SequenceNode) or not node.value:
            self.err(node, f"{what} must be a non-empty list")
            return []
        return list(node.value)

    def ident(self, node: Node, what: str) -> str | None:
        value = self.scalar(node)
        if not isinstance(value, str) or not _ID.match(value):
            self.err(
                node,
                f"{what} '{value}' must be lower-case letters, digits and _, starting with "
                "a letter",
            )
            return None
        return value

    def label(self, node: Node, what: str) -> Label | None:
        """A text in every language: ru and en required; a missing uk is read in Russian."""
        items = self.mapping(node, what, LANGUAGES, REQUIRED_LABELS)
        if items is None:
            return None
        label: Label = {}
        for lang, value_node in items.items():
            value = self.scalar(value_node)
            if not isinstance(value, str) or not value.strip():
                self.err(value_node, f"{what}.{lang} must be non-empty text")
            else:
                label[lang] = value.strip()
        if any(lang not in label for lang in REQUIRED_LABELS):
            return None
        return {lang: pick(label, lang) for lang in LANGUAGES}

    def flag(self, node: Node, what: str) -> bool:
        value = self.scalar(node)
        if not isinstance(value, bool):
            self.err(node, f"{what} must be true or false")
            return False
        return value

    def number(self, node: Node, what: str, low: float, high: float) -> float | None:
        value = self.scalar(node)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.err(node, f"{what} must be a number")
            return None
        if not low < value <= high:
            self.err(node, f"{what} must be more than {low:g} and at most {high:g}")
            return None
        return float(value)

    def unique(self, node: Node, item_id: str) -> None:
        if item_id in self._ids:
            self.err(node, f"id '{item_id}' is used twice (first on line {self._ids[item_id]})")
        else:
            self._ids[item_id] = node.start_mark.line + 1

    # ------------------------------------------------------------------- the tree

    def scorecard(self, root: Node | None) -> Scorecard | None:
        if root is None:
            self.err(None, "the file is empty")
            return None
        known = ("id", "version", "title", "pass_mark", "sections", "critical_errors")
        items = self.mapping(root, "the file", known, ("id", "version", "title", "sections"))
        if items is None:
            return None
        card_id = self.ident(items["id"], "id") if "id" in items else None
        version: int | None = None
        if "version" in items:
            raw = self.scalar(items["version"])
            if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= 1_000_000:
                self.err(items["version"], "version must be a whole number from 1")
            else:
                version = raw
        title = self.label(items["title"], "title") if "title" in items else None
        pass_mark = None
        if "pass_mark" in items:
            pass_mark = self.number(items["pass_mark"], "pass_mark", 0, 100)
        sections = (
            [
                self.section(node, i)
                for i, node in enumerate(self.sequence(items["sections"], "sections"))
            ]
            if "sections" in items
            else []
        )
        errors: list[CriticalError | None] = []
        if "critical_errors" in items:
            nodes = self.sequence(items["critical_errors"], "critical_errors")
            errors = [self.critical(node, i) for i, node in enumerate(nodes)]
        if card_id is None or version is None or title is None:
            return None
        if any(s is None for s in sections) or any(e is None for e in errors):
            return None
        return Scorecard(
            id=card_id,
            version=version,
            title=title,
            sections=tuple(s for s in sections if s is not None),
            critical_errors=tuple(e for e in errors if e is not None),
            pass_mark=pass_mark,
        )

    def section(self, node: Node, index: int) -> Section | None:
        what = f"sections[{index}]"
        items = self.mapping(node, what, ("id", "title", "criteria"), ("id", "title", "criteria"))
        if items is None or len(items) < 3:
            return None
        section_id = self.ident(items["id"], f"{what}.id")
        title = self.label(items["title"], f"{what}.title")
        criteria = [
            self.criterion(child, f"{what}.criteria[{i}]")
            for i, child in enumerate(self.sequence(items["criteria"], f"{what}.criteria"))
        ]
        if section_id is None or title is None or not criteria or None in criteria:
            return None
        return Section(section_id, title, tuple(c for c in criteria if c is not None))

    def criterion(self, node: Node, what: str) -> Criterion | None:
        known = ("id", "title", "hint", "weight", "partial", "not_applicable")
        items = self.mapping(node, what, known, ("id", "title", "weight"))
        if items is None or not {"id", "title", "weight"} <= items.keys():
            return None
        criterion_id = self.ident(items["id"], f"{what}.id")
        if criterion_id is not None:
            self.unique(items["id"], criterion_id)
        title = self.label(items["title"], f"{what}.title")
        hint = self.label(items["hint"], f"{what}.hint") if "hint" in items else None
        weight = self.number(items["weight"], f"{what}.weight", 0, MAX_WEIGHT)
        partial = self.flag(items["partial"], f"{what}.partial") if "partial" in items else False
        na = (
            self.flag(items["not_applicable"], f"{what}.not_applicable")
            if "not_applicable" in items
            else False
        )
        if criterion_id is None or title is None or weight is None:
            return None
        if "hint" in items and hint is None:
            return None
        return Criterion(criterion_id, title, weight, partial, na, hint)

    def critical(self, node: Node, index: int) -> CriticalError | None:
        what = f"critical_errors[{index}]"
        items = self.mapping(node, what, ("id", "title"), ("id", "title"))
        if items is None or len(items) < 2:
            return None
        error_id = self.ident(items["id"], f"{what}.id")
        if error_id is not None:
            self.unique(items["id"], error_id)
        title = self.label(items["title"], f"{what}.title")
        if error_id is None or title is None:
            return None
        return CriticalError(error_id, title)
