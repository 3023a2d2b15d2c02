"""Wrap-up forms: the YAML file (errors with file and line) and the validation of values."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from callagent.config import Settings
from callagent.wrapup.forms import Forms, FormsError, load_forms, parse_forms, validate

GOOD = """\
timezone: Europe/Moscow
lists:
  yes_no:
    - {value: "yes", label: {ru: Да, en: "Yes"}}
    - {value: "no", label: {ru: Нет, en: "No"}}
categories:
  - id: every_type
    title: {ru: Все типы, en: Every type}
    deadline_seconds: 30
    hotkey: a
    fields:
      - {name: pick, type: choice, label: {ru: Выбор, en: Pick}, required: true, options: yes_no}
      - name: many
        type: multi_choice
        label: {ru: Несколько, en: Many}
        options:
          - {value: a, label: {ru: А, en: A}}
          - {value: b, label: {ru: Б, en: B}}
      - {name: note, type: text, label: {ru: Заметка, en: Note}, max_length: 5}
      - {name: day, type: date, label: {ru: День, en: Day}}
      - {name: at, type: time, label: {ru: Время, en: Time}}
      - {name: when, type: datetime, label: {ru: Когда, en: When}}
      - {name: phone, type: phone, label: {ru: Телефон, en: Phone}}
      - {name: flag, type: boolean, label: {ru: Флаг, en: Flag}}
      - name: why
        type: text
        label: {ru: Почему, en: Why}
        required: true
        show_if: {field: pick, equals: "no"}
      - name: which
        type: text
        label: {ru: Какой, en: Which}
        required: true
        show_if: {field: many, in: [b]}
      - name: flagged
        type: text
        label: {ru: Отмечено, en: Flagged}
        show_if: {field: flag, equals: true}
"""


def forms() -> Forms:
    return parse_forms(GOOD, source="test.yaml")


def check(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str | None, str]]:
    _, cleaned, errors = validate(forms(), "every_type", values)
    return cleaned, {e.field: e.code for e in errors}


def test_the_default_forms_load_and_cover_the_centre() -> None:
    default = load_forms()
    assert [c.id for c in default.categories] == [
        "consultation",
        "pre_registration",
        "document_notification",
        "repeat_consultation",
        "non_standard_question",
        "complaint",
        "wrong_number",
    ]
    assert [c.hotkey for c in default.categories] == list("1234567")
    question = default.category("non_standard_question")
    assert question is not None and question.question
    assert {f.type for c in default.categories for f in c.fields} == {
        "choice",
        "multi_choice",
        "text",
        "date",
        "time",
        "phone",
        "boolean",
        "datetime",
    }
    as_json = default.to_json()["categories"][0]
    assert as_json["fields"][0]["options"][0] == {
        "value": "passport",
        "label": {
            "ru": "Паспорт гражданина РФ",
            "uk": "Паспорт громадянина РФ",
            "en": "Russian internal passport",
        },
    }
    assert load_forms(Settings(_env_file=None).wrapup_forms or None) == default  # type: ignore[call-arg]


def test_every_field_type_is_checked_and_normalised() -> None:
    cleaned, errors = check(
        {
            "pick": "yes",
            "many": ["b", "a", "b"],
            "note": " hi ",
            "day": "2026-11-23",
            "at": "09:05",
            "when": "2026-11-23T18:00",
            "phone": "+7 (916) 123-45-67",
            "flag": False,
            "which": "второй",
        }
    )
    assert errors == {}
    assert cleaned == {
        "pick": "yes",
        "many": ["a", "b"],
        "note": "hi",
        "day": "2026-11-23",
        "at": "09:05",
        "when": "2026-11-23T18:00:00+03:00",  # the centre's zone for a browser's local time
        "phone": "79161234567",
        "flag": False,
        "which": "второй",
    }
    _, errors = check(
        {
            "pick": "maybe",
            "many": "a",
            "note": "too long",
            "day": "23.11.2026",
            "at": "24:00",
            "when": "tomorrow",
            "phone": "12-34",
            "flag": "yes",
            "ghost": 1,
        }
    )
    assert errors == {
        "ghost": "unknown_field",
        "pick": "bad_choice",
        "many": "not_list",
        "note": "too_long",
        "day": "bad_date",
        "at": "bad_time",
        "when": "bad_datetime",
        "phone": "bad_phone",
        "flag": "bad_boolean",
    }
    _, errors = check({"pick": "yes", "many": ["c"], "note": 5, "when": "2026-11-23T18:00Z"})
    assert errors == {"many": "bad_choice", "note": "not_text"}


def test_show_if_hides_fields_and_their_requirement() -> None:
    assert check({"pick": "yes"}) == ({"pick": "yes"}, {})
    assert check({"pick": "no"})[1] == {"why": "required"}
    assert check({"pick": "no", "why": "  "})[1] == {"why": "required"}  # blank is empty
    # a hidden field's value is dropped, not an error
    assert check({"pick": "yes", "why": "stale", "flagged": "x"}) == ({"pick": "yes"}, {})
    assert check({"pick": "yes", "many": ["a"]})[1] == {}
    assert check({"pick": "yes", "many": ["a", "b"]})[1] == {"which": "required"}
    assert check({"pick": "yes", "flag": True, "flagged": "x"})[0]["flagged"] == "x"
    assert check({})[1] == {"pick": "required"}


def test_messages_in_both_languages() -> None:
    _, _, errors = validate(forms(), "every_type", {"pick": "no", "phone": "x"})
    assert [e.message("ru") for e in errors] == [
        "«Телефон»: номер телефона из 5–15 цифр, можно с «+» в начале.",
        "Заполните поле «Почему».",
    ]
    assert [e.message("en") for e in errors] == [
        "'Phone': a phone number of 5 to 15 digits, optionally with a leading +.",
        "'Why' is required.",
    ]
    assert errors[0].message("de") == errors[0].message("ru")  # Russian by default
    _, _, unknown = validate(forms(), "nope", {})
    assert unknown[0].field is None
    assert unknown[0].message("en") == "Unknown category 'nope'. Choose one of: every_type."


def broken(text: str) -> list[str]:
    with pytest.raises(FormsError) as caught:
        parse_forms(textwrap.dedent(text), source="forms.yaml")
    assert "forms.yaml:" in str(caught.value)
    return caught.value.problems


BASE = """\
categories:
  - id: c
    title: {ru: К, en: C}
    fields:
"""


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        (
            "      - {name: a, type: colour, label: {ru: А, en: A}}\n",
            "forms.yaml:5: category 'c', field 'a': unknown type 'colour' (known: choice,",
        ),
        (
            "      - {name: a, type: text, label: {ru: А, en: A}}\n"
            "      - {name: a, type: text, label: {ru: Б, en: B}}\n",
            "forms.yaml:6: category 'c': field 'a' is defined twice",
        ),
        (
            "      - {name: a, type: text, label: {ru: А, en: A}, show_if: {field: b, equals: x}}\n"
            "      - {name: b, type: text, label: {ru: Б, en: B}}\n",
            "forms.yaml:5: category 'c', field 'a': show_if refers to 'b', which is not a field",
        ),
        (
            "      - {name: a, type: choice, label: {ru: А, en: A}, options: [{value: x, label: "
            "{ru: X, en: X}}]}\n"
            "      - {name: b, type: text, label: {ru: Б, en: B}, "
            "show_if: {field: a, equals: y}}\n",
            "forms.yaml:6: category 'c', field 'b': show_if value 'y' is not an option of 'a'",
        ),
        (
            "      - {name: a, type: choice, label: {ru: А, en: A}}\n",
            "forms.yaml:5: category 'c', field 'a': a choice field needs options",
        ),
        (
            "      - {name: a, type: choice, label: {ru: А, en: A}, options: nowhere}\n",
            "forms.yaml:5: category 'c', field 'a': no list named 'nowhere' under 'lists'",
        ),
        (
            "      - {name: a, type: text, label: {ru: А}}\n",
            "forms.yaml:5: category 'c', field 'a': label: 'en' is missing",
        ),
        (
            "      - {name: a, type: text, label: {ru: А, en: A}, requird: true}\n",
            "forms.yaml:5: category 'c': a field: unknown key 'requird'",
        ),
        (
            "      - {name: a, type: text, label: {ru: А, en: A}, required: sometimes}\n",
            "forms.yaml:5: category 'c', field 'a': required must be true or false",
        ),
        (
            "      - {name: Bad-Name, type: text, label: {ru: А, en: A}}\n",
            "forms.yaml:5: category 'c': a field's name 'Bad-Name' must be lower-case",
        ),
        (
            "      - {name: a, type: boolean, label: {ru: А, en: A}}\n"
            "      - {name: b, type: text, label: {ru: Б, en: B}, show_if: {field: a, "
            "equals: да}}\n",
            "forms.yaml:6: category 'c', field 'b': 'a' is a boolean: compare with true/false",
        ),
    ],
)
def test_broken_fields_name_the_line(fields: str, problem: str) -> None:
    problems = broken(BASE + fields)
    assert any(p.startswith(problem) for p in problems), problems


def test_broken_files_name_the_line() -> None:
    assert broken("categories: [\n  - id: x\n") == [
        "forms.yaml:2: not valid YAML: expected the node content, but found '-'"
    ]
    assert broken("a: b\n  c: d\n") == [
        "forms.yaml:2: not valid YAML: mapping values are not allowed here"
    ]
    assert broken("categories:\n\t- x") == [
        "forms.yaml:2: not valid YAML: found character '\\t' that cannot start any token"
    ]
    assert broken("") == ["forms.yaml:1: the file is empty"]
    assert broken("categories: []\n") == ["forms.yaml:1: categories must be a non-empty list"]
    duplicate = BASE + "      - {name: a, type: text, label: {ru: А, en: A}}\n"
    twice = duplicate + duplicate.replace("categories:\n", "")
    assert "forms.yaml:6: category 'c' is defined twice" in broken(twice)
    keys = broken("categories: []\ncategories: []\n")
    assert "forms.yaml:2: the file: duplicate key 'categories'" in keys
    zone = broken("timezone: Mars/Olympus\n" + duplicate)
    assert zone == ["forms.yaml:1: timezone 'Mars/Olympus' is not a known IANA zone"]
    question = broken(
        BASE.replace("    fields:", "    question: true\n    fields:")
        + "      - {name: question, type: text, label: {ru: В, en: Q}}\n"
    )
    assert "a question category needs a required field 'question'" in question[0]
    assert "a question category needs a required field 'answer_channel'" in question[1]
    deadline = broken(BASE.replace("    fields:", "    deadline_seconds: 0\n    fields:"))
    assert (
        deadline[0]
        == "forms.yaml:4: category 'c': deadline_seconds must be a whole number, 5 to 86400"
    )


def test_a_broken_forms_file_stops_the_service(tmp_path: Path) -> None:
    from callagent.api.app import create_app

    path = tmp_path / "forms.yaml"
    path.write_text(BASE + "      - {name: a, type: colour, label: {ru: А, en: A}}\n")
    settings = Settings(_env_file=None, wrapup_forms=str(path))  # type: ignore[call-arg]
    with pytest.raises(FormsError) as caught:
        create_app(settings)
    message = str(caught.value)
    assert f"{path}:5: category 'c', field 'a': unknown type 'colour'" in message
    assert "CALLAGENT_WRAPUP_FORMS" in message
    missing = Settings(_env_file=None, wrapup_forms=str(tmp_path / "nope.yaml"))  # type: ignore[call-arg]
    with pytest.raises(FormsError, match="cannot read the file"):
        create_app(missing)
