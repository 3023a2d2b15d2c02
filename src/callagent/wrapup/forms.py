"""Wrap-up forms: configuration in YAML, loaded with file and line in every error,
and the validation of a submitted form (pure: no IO but reading the file).

A forms file::

    timezone: Europe/Moscow          # naive date-times in submissions are in this zone
    lists:                           # option lists shared by several fields
      services:
        - {value: passport, label: {ru: Паспорт, uk: Паспорт, en: Passport}}
    categories:
      - id: consultation
        title: {ru: Консультация, en: Consultation}
        deadline_seconds: 60
        hotkey: "1"                  # optional: the operator page's shortcut
        question: false              # true: submitting it opens a non-standard question
        fields:
          - name: service
            type: choice             # choice multi_choice text date time datetime phone boolean
            label: {ru: Услуга, uk: Послуга, en: Service}   # ru and en required; uk: else ru
            required: true
            options: services        # a list name, or a list of {value, label}
          - name: where
            type: text
            label: {ru: Куда направлен, en: Redirected to}
            show_if: {field: result, equals: redirected}   # or {field: .., in: [..]}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date, datetime, time
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from callagent import yaml_nodes
from callagent.languages import LANGUAGES, language_of, pick

REQUIRED_LABELS = ("ru", "en")  # uk is optional: it falls back to ru
FIELD_TYPES = ("choice", "multi_choice", "text", "date", "time", "datetime", "phone", "boolean")
ANSWER_CHANNELS = ("call_back", "sms", "email")
_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_PHONE_SEPARATORS = re.compile(r"[\s().-]")
_PHONE = re.compile(r"^\+?[0-9]{5,15}$")
_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$")
DEFAULT_TEXT_LENGTH = 2000
# Fields a question category may map into the register, with the types they may have.
QUESTION_FIELDS: dict[str, tuple[str, ...]] = {
    "question": ("text",),
    "answer_channel": ("choice",),
    "applicant_name": ("text",),
    "applicant_phone": ("phone",),
    "contact": ("text", "phone"),
    "contact_phone": ("phone",),
    "contact_email": ("text",),
    "preferred_time": ("datetime",),
}


class FormsError(ValueError):
    """A forms file that cannot be used: every problem, each with file and line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            "the wrap-up forms file has errors (fix them or point CALLAGENT_WRAPUP_FORMS "
            "at another file):\n  " + "\n  ".join(problems)
        )


Label = dict[str, str]


@dataclass(frozen=True)
class Option:
    value: str
    label: Label


@dataclass(frozen=True)
class ShowIf:
    """Show a field only when another (earlier) field equals a value, or is one of several."""

    field: str
    equals: Any = None
    one_of: tuple[Any, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        if self.one_of is not None:
            return {"field": self.field, "in": list(self.one_of)}
        return {"field": self.field, "equals": self.equals}

    def holds(self, value: Any) -> bool:
        """Whether the referenced field's value (None when empty or hidden) shows the field."""
        if value is None:
            return False
        wanted = [self.equals] if self.one_of is None else list(self.one_of)
        if isinstance(value, list):  # multi_choice: any chosen option matches
            return any(v in wanted for v in value)
        return value in wanted


@dataclass(frozen=True)
class FormField:
    name: str
    type: str
    label: Label
    required: bool = False
    options: tuple[Option, ...] = ()
    show_if: ShowIf | None = None
    max_length: int = DEFAULT_TEXT_LENGTH

    def option_values(self) -> list[str]:
        return [o.value for o in self.options]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "label": dict(self.label),
            "required": self.required,
            "options": [{"value": o.value, "label": dict(o.label)} for o in self.options],
            "show_if": self.show_if.to_json() if self.show_if else None,
            "max_length": self.max_length if self.type == "text" else None,
        }


@dataclass(frozen=True)
class Category:
    id: str
    title: Label
    deadline_seconds: int
    fields: tuple[FormField, ...]
    hotkey: str | None = None
    question: bool = False  # submitting it opens a non-standard question

    def field(self, name: str) -> FormField | None:
        return next((f for f in self.fields if f.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": dict(self.title),
            "deadline_seconds": self.deadline_seconds,
            "hotkey": self.hotkey,
            "creates_question": self.question,
            "fields": [f.to_json() for f in self.fields],
        }


@dataclass(frozen=True)
class Forms:
    """Every category of wrap-up and its form."""

    categories: tuple[Category, ...]
    timezone: str = "Europe/Moscow"
    source: str = ""

    def category(self, category_id: str) -> Category | None:
        return next((c for c in self.categories if c.id == category_id), None)

    def to_json(self) -> dict[str, Any]:
        return {"timezone": self.timezone, "categories": [c.to_json() for c in self.categories]}


# ----------------------------------------------------------------------------- loading


def default_forms_path() -> Path:
    """The packaged forms of the public-services centre."""
    return Path(str(resources.files("callagent.wrapup").joinpath("default_forms.yaml")))


def load_forms(path: str | Path | None = None) -> Forms:
    """Read and check a forms file (the packaged default when ``path`` is empty)."""
    target = Path(path) if path else default_forms_path()
    try:
        text = target.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FormsError([f"{target}: cannot read the file: {exc}"]) from exc
    return parse_forms(text, source=str(target))


def parse_forms(text: str, *, source: str = "<forms>") -> Forms:
    """Forms from YAML text; :class:`FormsError` lists every problem with its line."""
    try:
        root = yaml_nodes.compose(text, source)
    except yaml_nodes.NotYaml as exc:
        raise FormsError([str(exc)]) from exc
    checker = _Checker(source)
    forms = checker.forms(root)
    if checker.problems or forms is None:
        raise FormsError(checker.problems or [f"{source}:1: no forms defined"])
    return forms


class _Checker:
    """Walks the YAML node tree (which keeps line numbers), collecting every problem."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []
        self._scalars = SafeConstructor()

    def err(self, node: Node | None, message: str) -> None:
        line = node.start_mark.line + 1 if node is not None else 1
        self.problems.append(f"{self.source}:{line}: {message}")

    def scalar(self, node: Node) -> Any:
        if not isinstance(node, ScalarNode):
            return _NOT_SCALAR
        return self._scalars.construct_object(node, deep=True)

    def mapping(
        self, node: Node | None, what: str, known: tuple[str, ...], required: tuple[str, ...] = ()
    ) -> dict[str, tuple[Node, Node]] | None:
        """A mapping's items by key (key node, value node); problems for anything odd."""
        if not isinstance(node, MappingNode):
            self.err(node, f"{what} must be a mapping (key: value)")
            return None
        items: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            key = self.scalar(key_node)
            if not isinstance(key, str):
                self.err(key_node, f"{what}: keys must be text")
                continue
            if key in items:
                self.err(key_node, f"{what}: duplicate key '{key}'")
                continue
            if key not in known:
                self.err(key_node, f"{what}: unknown key '{key}' (known: {', '.join(known)})")
                continue
            items[key] = (key_node, value_node)
        for key in required:
            if key not in items:
                self.err(node, f"{what}: '{key}' is missing")
        return items

    def text(self, node: Node, what: str, pattern: re.Pattern[str] | None = None) -> str | None:
        value = self.scalar(node)
        if not isinstance(value, str) or not value.strip():
            self.err(node, f"{what} must be non-empty text")
            return None
        if pattern is not None and not pattern.match(value):
            self.err(
                node,
                f"{what} '{value}' must be lower-case letters, digits and _, starting "
                "with a letter",
            )
            return None
        return value

    def label(self, node: Node, what: str) -> Label | None:
        """A label in every language: ``ru`` and ``en`` are required; a missing ``uk`` is
        read in Russian (a forms file written before Ukrainian keeps working)."""
        items = self.mapping(node, what, LANGUAGES, REQUIRED_LABELS)
        if items is None:
            return None
        label: Label = {}
        for lang, (_, value_node) in items.items():
            text = self.text(value_node, f"{what}.{lang}")
            if text is not None:
                label[lang] = text
        if any(lang not in label for lang in REQUIRED_LABELS):
            return None
        return {lang: pick(label, lang) for lang in LANGUAGES}

    # ------------------------------------------------------------------- the tree

    def forms(self, root: Node | None) -> Forms | None:
        if root is None:
            self.err(None, "the file is empty")
            return None
        items = self.mapping(root, "the file", ("timezone", "lists", "categories"), ("categories",))
        if items is None:
            return None
        timezone = "Europe/Moscow"
        if "timezone" in items:
            node = items["timezone"][1]
            zone = self.text(node, "timezone")
            if zone is not None:
                try:
                    ZoneInfo(zone)
                    timezone = zone
                except (ZoneInfoNotFoundError, ValueError):
                    self.err(node, f"timezone '{zone}' is not a known IANA zone")
        lists: dict[str, tuple[Option, ...]] = {}
        if "lists" in items:
            list_items = self.mapping(items["lists"][1], "lists", _AnyKey())
            for name, (key_node, value_node) in (list_items or {}).items():
                if not _ID.match(name):
                    self.err(key_node, f"list name '{name}' must be lower-case letters, digits, _")
                    continue
                options = self.options(value_node, f"list '{name}'")
                if options is not None:
                    lists[name] = options
        if "categories" not in items:
            return None
        node = items["categories"][1]
        if not isinstance(node, SequenceNode) or not node.value:
            self.err(node, "categories must be a non-empty list")
            return None
        categories: list[Category] = []
        seen: dict[str, Node] = {}
        hotkeys: dict[str, str] = {}
        for item in node.value:
            category = self.category(item, lists)
            if category is None:
                continue
            if category.id in seen:
                self.err(item, f"category '{category.id}' is defined twice")
                continue
            seen[category.id] = item
            if category.hotkey is not None:
                if category.hotkey in hotkeys:
                    self.err(
                        item,
                        f"hotkey '{category.hotkey}' of '{category.id}' is already used by "
                        f"'{hotkeys[category.hotkey]}'",
                    )
                hotkeys[category.hotkey] = category.id
            categories.append(category)
        return Forms(tuple(categories), timezone=timezone, source=self.source)

    def options(self, node: Node, what: str) -> tuple[Option, ...] | None:
        if not isinstance(node, SequenceNode) or not node.value:
            self.err(node, f"{what} must be a non-empty list of {{value, label}}")
            return None
        options: list[Option] = []
        seen: set[str] = set()
        for item in node.value:
            items = self.mapping(item, f"{what}: an option", ("value", "label"), ("value", "label"))
            if items is None or len(items) < 2:
                continue
            value_node = items["value"][1]
            value = self.scalar(value_node)
            if isinstance(value, bool | int | float) and not isinstance(value, bool):
                value = str(value)
            if not isinstance(value, str) or not value:
                self.err(value_node, f"{what}: an option's value must be text")
                continue
            if value in seen:
                self.err(value_node, f"{what}: option '{value}' is listed twice")
                continue
            seen.add(value)
            label = self.label(items["label"][1], f"{what}: the label of '{value}'")
            if label is not None:
                options.append(Option(value, label))
        return tuple(options)

    def category(self, node: Node, lists: dict[str, tuple[Option, ...]]) -> Category | None:
        known = ("id", "title", "deadline_seconds", "hotkey", "question", "fields")
        items = self.mapping(node, "a category", known, ("id", "title", "fields"))
        if items is None or "id" not in items:
            return None
        category_id = self.text(items["id"][1], "a category's id", _ID)
        if category_id is None:
            return None
        what = f"category '{category_id}'"
        title = self.label(items["title"][1], f"{what}: title") if "title" in items else None
        deadline = 60
        if "deadline_seconds" in items:
            dnode = items["deadline_seconds"][1]
            value = self.scalar(dnode)
            if isinstance(value, bool) or not isinstance(value, int) or not 5 <= value <= 86400:
                self.err(dnode, f"{what}: deadline_seconds must be a whole number, 5 to 86400")
            else:
                deadline = value
        hotkey: str | None = None
        if "hotkey" in items:
            hnode = items["hotkey"][1]
            value = self.scalar(hnode)
            value = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
            if not isinstance(value, str) or len(value) != 1 or not value.isalnum():
                self.err(hnode, f"{what}: hotkey must be one letter or digit")
            else:
                hotkey = value
        question = False
        if "question" in items:
            qnode = items["question"][1]
            value = self.scalar(qnode)
            if not isinstance(value, bool):
                self.err(qnode, f"{what}: question must be true or false")
            else:
                question = value
        fields = self.fields(items["fields"][1], what, lists) if "fields" in items else None
        if fields is None or title is None:
            return None
        if question:
            self.question_fields(items["fields"][1], what, fields)
        return Category(category_id, title, deadline, fields, hotkey, question)

    def fields(
        self, node: Node, what: str, lists: dict[str, tuple[Option, ...]]
    ) -> tuple[FormField, ...] | None:
        if not isinstance(node, SequenceNode) or not node.value:
            self.err(node, f"{what}: fields must be a non-empty list")
            return None
        fields: list[FormField] = []
        ok = True
        for item in node.value:
            made = self.form_field(item, what, lists, fields)
            if made is None:
                ok = False
            elif any(f.name == made.name for f in fields):
                self.err(item, f"{what}: field '{made.name}' is defined twice")
                ok = False
            else:
                fields.append(made)
        return tuple(fields) if ok else None

    def form_field(
        self,
        node: Node,
        what: str,
        lists: dict[str, tuple[Option, ...]],
        earlier: list[FormField],
    ) -> FormField | None:
        known = ("name", "type", "label", "required", "options", "show_if", "max_length")
        items = self.mapping(node, f"{what}: a field", known, ("name", "type", "label"))
        if items is None or "name" not in items:
            return None
        name = self.text(items["name"][1], f"{what}: a field's name", _ID)
        if name is None:
            return None
        where = f"{what}, field '{name}'"
        ok = True
        kind = None
        if "type" in items:
            tnode = items["type"][1]
            kind = self.scalar(tnode)
            if kind not in FIELD_TYPES:
                self.err(tnode, f"{where}: unknown type '{kind}' (known: {', '.join(FIELD_TYPES)})")
                kind, ok = None, False
        label = self.label(items["label"][1], f"{where}: label") if "label" in items else None
        required = False
        if "required" in items:
            rnode = items["required"][1]
            value = self.scalar(rnode)
            if not isinstance(value, bool):
                self.err(rnode, f"{where}: required must be true or false")
                ok = False
            else:
                required = value
        options: tuple[Option, ...] = ()
        with_options = kind in ("choice", "multi_choice")
        if "options" in items:
            onode = items["options"][1]
            if not with_options and kind is not None:
                self.err(onode, f"{where}: options are only for choice and multi_choice fields")
                ok = False
            elif isinstance(onode, ScalarNode):
                list_name = self.scalar(onode)
                if not isinstance(list_name, str) or list_name not in lists:
                    self.err(onode, f"{where}: no list named '{list_name}' under 'lists'")
                    ok = False
                else:
                    options = lists[list_name]
            else:
                found = self.options(onode, f"{where}: options")
                if found is None:
                    ok = False
                else:
                    options = found
        elif with_options:
            self.err(node, f"{where}: a {kind} field needs options")
            ok = False
        max_length = DEFAULT_TEXT_LENGTH
        if "max_length" in items:
            mnode = items["max_length"][1]
            value = self.scalar(mnode)
            if kind != "text":
                self.err(mnode, f"{where}: max_length is only for text fields")
                ok = False
            elif isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 20000:
                self.err(mnode, f"{where}: max_length must be a whole number, 1 to 20000")
                ok = False
            else:
                max_length = value
        show_if = None
        if "show_if" in items:
            show_if = self.show_if(items["show_if"][1], where, name, earlier)
            ok = ok and show_if is not None
        if not ok or kind is None or label is None:
            return None
        return FormField(name, kind, label, required, options, show_if, max_length)

    def show_if(self, node: Node, where: str, name: str, earlier: list[FormField]) -> ShowIf | None:
        items = self.mapping(node, f"{where}: show_if", ("field", "equals", "in"), ("field",))
        if items is None or "field" not in items:
            return None
        fnode = items["field"][1]
        target_name = self.scalar(fnode)
        if target_name == name:
            self.err(fnode, f"{where}: show_if cannot refer to the field itself")
            return None
        target = next((f for f in earlier if f.name == target_name), None)
        if target is None:
            self.err(
                fnode,
                f"{where}: show_if refers to '{target_name}', which is not a field defined "
                "before this one in the same category",
            )
            return None
        if ("equals" in items) == ("in" in items):
            self.err(node, f"{where}: show_if needs exactly one of 'equals' or 'in'")
            return None
        if "equals" in items:
            wanted_nodes = [items["equals"][1]]
        else:
            inode = items["in"][1]
            if not isinstance(inode, SequenceNode) or not inode.value:
                self.err(inode, f"{where}: show_if 'in' must be a non-empty list")
                return None
            wanted_nodes = list(inode.value)
        wanted: list[Any] = []
        for wnode in wanted_nodes:
            value = self.scalar(wnode)
            if target.options and value not in target.option_values():
                self.err(
                    wnode,
                    f"{where}: show_if value '{value}' is not an option of '{target.name}' "
                    f"({', '.join(target.option_values())})",
                )
                return None
            if target.type == "boolean" and not isinstance(value, bool):
                self.err(wnode, f"{where}: '{target.name}' is a boolean: compare with true/false")
                return None
            if value is _NOT_SCALAR or value is None:
                self.err(wnode, f"{where}: show_if values must be plain values")
                return None
            wanted.append(value)
        if "equals" in items:
            return ShowIf(target.name, equals=wanted[0])
        return ShowIf(target.name, one_of=tuple(wanted))

    def question_fields(self, node: Node, what: str, fields: tuple[FormField, ...]) -> None:
        """A category that opens a question must say what the question is and how to answer."""
        by_name = {f.name: f for f in fields}
        for needed in ("question", "answer_channel"):
            made = by_name.get(needed)
            if made is None or not made.required:
                self.err(node, f"{what}: a question category needs a required field '{needed}'")
        for name, made in by_name.items():
            allowed = QUESTION_FIELDS.get(name)
            if allowed is not None and made.type not in allowed:
                self.err(node, f"{what}: field '{name}' must be of type {' or '.join(allowed)}")
        channel = by_name.get("answer_channel")
        if channel is not None:
            odd = [v for v in channel.option_values() if v not in ANSWER_CHANNELS]
            if odd:
                self.err(
                    node,
                    f"{what}: answer_channel options must be among {', '.join(ANSWER_CHANNELS)}"
                    f" (not {', '.join(odd)})",
                )


class _NotScalar:
    def __repr__(self) -> str:
        return "(not a plain value)"


_NOT_SCALAR = _NotScalar()


class _AnyKey(tuple[str, ...]):
    """``known`` for mappings whose keys are free (list names)."""

    def __contains__(self, key: object) -> bool:
        return True


# -------------------------------------------------------------------------- validating

MESSAGES: dict[str, Label] = {
    "unknown_category": {
        "ru": "Неизвестная категория «{category}». Выберите одну из: {known}.",
        "uk": "Невідома категорія «{category}». Виберіть одну з: {known}.",
        "en": "Unknown category '{category}'. Choose one of: {known}.",
    },
    "fields_not_object": {
        "ru": "Поля формы должны быть объектом {{имя: значение}}.",
        "uk": "Поля форми мають бути об'єктом {{назва: значення}}.",
        "en": "The form's fields must be an object {{name: value}}.",
    },
    "unknown_field": {
        "ru": "Поля «{name}» нет в форме «{category}».",
        "uk": "Поля «{name}» немає у формі «{category}».",
        "en": "There is no field '{name}' in the '{category}' form.",
    },
    "required": {
        "ru": "Заполните поле «{label}».",
        "uk": "Заповніть поле «{label}».",
        "en": "'{label}' is required.",
    },
    "not_text": {
        "ru": "«{label}»: нужен текст.",
        "uk": "«{label}»: потрібен текст.",
        "en": "'{label}': text is expected.",
    },
    "too_long": {
        "ru": "«{label}»: не больше {max} символов.",
        "uk": "«{label}»: не більше {max} символів.",
        "en": "'{label}': at most {max} characters.",
    },
    "bad_choice": {
        "ru": "«{label}»: выберите один из вариантов: {options}.",
        "uk": "«{label}»: виберіть один із варіантів: {options}.",
        "en": "'{label}': choose one of: {options}.",
    },
    "not_list": {
        "ru": "«{label}»: нужен список вариантов из: {options}.",
        "uk": "«{label}»: потрібен список варіантів із: {options}.",
        "en": "'{label}': a list of options from: {options} is expected.",
    },
    "bad_date": {
        "ru": "«{label}»: дата в виде ГГГГ-ММ-ДД, например 2026-11-23.",
        "uk": "«{label}»: дата у вигляді РРРР-ММ-ДД, наприклад 2026-11-23.",
        "en": "'{label}': a date as YYYY-MM-DD, e.g. 2026-11-23.",
    },
    "bad_time": {
        "ru": "«{label}»: время в виде ЧЧ:ММ, например 14:30.",
        "uk": "«{label}»: час у вигляді ГГ:ХХ, наприклад 14:30.",
        "en": "'{label}': a time as HH:MM, e.g. 14:30.",
    },
    "bad_datetime": {
        "ru": "«{label}»: дата и время, например 2026-11-23T14:30.",
        "uk": "«{label}»: дата й час, наприклад 2026-11-23T14:30.",
        "en": "'{label}': a date and time, e.g. 2026-11-23T14:30.",
    },
    "bad_phone": {
        "ru": "«{label}»: номер телефона из 5–15 цифр, можно с «+» в начале.",
        "uk": "«{label}»: номер телефону з 5–15 цифр, можна з «+» на початку.",
        "en": "'{label}': a phone number of 5 to 15 digits, optionally with a leading +.",
    },
    "bad_boolean": {
        "ru": "«{label}»: ответ «да» или «нет» (true/false).",
        "uk": "«{label}»: відповідь «так» або «ні» (true/false).",
        "en": "'{label}': yes or no (true/false).",
    },
}


@dataclass(frozen=True)
class FieldError:
    """One problem of a submission: the field (None: the whole form) and what is wrong."""

    field: str | None
    code: str
    params: dict[str, Any] = dataclass_field(default_factory=dict)

    def message(self, lang: str) -> str:
        """The message in ``lang`` (ru when unknown); labels are taken in the same language."""
        lang = language_of(lang)
        params = {k: (pick(v, lang) if isinstance(v, dict) else v) for k, v in self.params.items()}
        return pick(MESSAGES[self.code], lang).format(**params)

    def to_json(self, lang: str) -> dict[str, Any]:
        return {"field": self.field, "message": self.message(lang), "code": self.code}


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict) and not value)


def _options_text(spec: FormField) -> dict[str, str]:
    return {lang: ", ".join(pick(o.label, lang) for o in spec.options) for lang in LANGUAGES}


def _clean(spec: FormField, raw: Any, zone: ZoneInfo) -> tuple[Any, FieldError | None]:
    """One present value, normalised, or the error."""
    label = spec.label

    def bad(code: str, **params: Any) -> tuple[Any, FieldError]:
        return None, FieldError(spec.name, code, {"label": label, **params})

    if spec.type == "boolean":
        return (raw, None) if isinstance(raw, bool) else bad("bad_boolean")
    if spec.type == "multi_choice":
        if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
            return bad("not_list", options=_options_text(spec))
        values = spec.option_values()
        if any(v not in values for v in raw):
            return bad("bad_choice", options=_options_text(spec))
        chosen = set(raw)
        return [v for v in values if v in chosen], None  # the form's order, no repeats
    if not isinstance(raw, str):
        code = {
            "choice": "bad_choice",
            "text": "not_text",
            "date": "bad_date",
            "time": "bad_time",
            "datetime": "bad_datetime",
            "phone": "bad_phone",
        }[spec.type]
        return bad(code, options=_options_text(spec)) if spec.type == "choice" else bad(code)
    value = raw.strip()
    if spec.type == "choice":
        if value not in spec.option_values():
            return bad("bad_choice", options=_options_text(spec))
        return value, None
    if spec.type == "text":
        if len(value) > spec.max_length:
            return bad("too_long", max=spec.max_length)
        return value, None
    if spec.type == "date":
        try:
            return date.fromisoformat(value).isoformat(), None
        except ValueError:
            return bad("bad_date")
    if spec.type == "time":
        if not _TIME.match(value):
            return bad("bad_time")
        return time.fromisoformat(value).strftime("%H:%M"), None
    if spec.type == "datetime":
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T"))
        except ValueError:
            return bad("bad_datetime")
        if moment.tzinfo is None:  # a browser's datetime-local: the centre's own clock
            moment = moment.replace(tzinfo=zone)
        return moment.isoformat(), None
    # phone
    compact = _PHONE_SEPARATORS.sub("", value)
    if not _PHONE.match(compact):
        return bad("bad_phone")
    return compact.lstrip("+"), None


def validate(
    forms: Forms, category_id: Any, values: Any
) -> tuple[Category | None, dict[str, Any], list[FieldError]]:
    """Check a submission; returns (category, cleaned values, every error at once).

    Hidden fields (``show_if`` false) are dropped; empty optional ones are left out.
    """
    category = forms.category(category_id) if isinstance(category_id, str) else None
    if category is None:
        known = ", ".join(c.id for c in forms.categories)
        params = {"category": str(category_id), "known": known}
        unknown = FieldError(None, "unknown_category", params)
        return None, {}, [unknown]
    if not isinstance(values, Mapping):
        return category, {}, [FieldError(None, "fields_not_object")]
    zone = ZoneInfo(forms.timezone)
    errors: list[FieldError] = [
        FieldError(str(name), "unknown_field", {"name": str(name), "category": category.title})
        for name in values
        if category.field(str(name)) is None
    ]
    cleaned: dict[str, Any] = {}
    shown: dict[str, Any] = {}
    for spec in category.fields:
        if spec.show_if is not None and not spec.show_if.holds(shown.get(spec.show_if.field)):
            continue
        raw = values.get(spec.name)
        if _empty(raw):
            if spec.required:
                errors.append(FieldError(spec.name, "required", {"label": spec.label}))
            continue
        value, error = _clean(spec, raw, zone)
        if error is not None:
            errors.append(error)
            continue
        if _empty(value):
            if spec.required:
                errors.append(FieldError(spec.name, "required", {"label": spec.label}))
            continue
        cleaned[spec.name] = value
        shown[spec.name] = value
    return category, cleaned, errors
