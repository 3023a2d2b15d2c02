"""The pages' words exist in every language, and every value a page shows has its word.

Issue #17 item 8: a key missing in one language shows the raw key or an English or
Russian leftover; a value (state, disposition, wrap-up status, error code) without a
key reaches the page as the code itself.
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import get_args

import pytest

from callagent.api.calls import Disposition
from callagent.campaigns.registry_export import RESULT_TEXT
from callagent.campaigns.registry_import import FIELDS, IGNORE
from callagent.campaigns.schemas import RETRY_RESULTS, IdleOut, Mode
from callagent.campaigns.service import IN_FLIGHT
from callagent.db.campaign_models import ENTRY_STATUSES
from callagent.languages import LANGUAGES, pick
from callagent.routing.states import PAUSE_REASONS, OperatorState
from callagent.web.i18n import LANGUAGE_LABELS, LANGUAGE_NAMES, STRINGS
from callagent.web.phones import display_phone
from callagent.wrapup.forms import MESSAGES, load_forms, parse_forms
from callagent.wrapup.service import OPEN_STATUSES

SRC = Path(__file__).resolve().parents[1] / "src" / "callagent"
CYRILLIC = re.compile(r"[А-Яа-яЁёІіЇїЄєҐґ]")
RUSSIAN_ONLY = re.compile(r"[ЫыЭэЁёЪъ]")  # letters Ukrainian does not have
UKRAINIAN_ONLY = re.compile(r"[ІіЇїЄєҐґ]")  # letters Russian does not have
# RowIssue.code's values (registry_import.RowIssue): the upload report's lines
UPLOAD_CODES = (
    "empty_row",
    "no_phone",
    "invalid_phone",
    "duplicate_in_file",
    "duplicate",
    "do_not_call",
)


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_key_in_ru_uk_and_en_with_the_same_placeholders() -> None:
    assert set(STRINGS) == set(LANGUAGES) == {"ru", "uk", "en"}
    keys = set(STRINGS["ru"])
    for language in LANGUAGES:
        words = STRINGS[language]
        assert set(words) == keys, (language, set(words) ^ keys)
        for key, text in words.items():
            assert text.strip(), (language, key)
            assert placeholders(text) == placeholders(STRINGS["ru"][key]), (language, key)
    assert set(LANGUAGE_LABELS) == set(LANGUAGE_NAMES) == set(LANGUAGES)


def test_each_language_is_written_in_its_own_alphabet() -> None:
    """No Russian word left in the Ukrainian page, no Cyrillic in the English one."""
    for key, text in STRINGS["uk"].items():
        assert not RUSSIAN_ONLY.search(text), (key, text)
    for key, text in STRINGS["ru"].items():
        assert not UKRAINIAN_ONLY.search(text), (key, text)
    for key, text in STRINGS["en"].items():
        assert not CYRILLIC.search(text), (key, text)
    differ = [k for k in STRINGS["ru"] if STRINGS["ru"][k] != STRINGS["uk"][k]]
    assert len(differ) > 0.8 * len(STRINGS["ru"])  # translated, not copied


def test_every_value_a_page_shows_has_a_word() -> None:
    values = (
        [f"state_{state.value}" for state in OperatorState]
        + [f"reason_{reason}" for reason in PAUSE_REASONS]
        + [f"disposition_{value}" for value in get_args(Disposition)]
        + [f"direction_{value}" for value in ("inbound", "outbound", "internal")]
        + [f"wrapup_status_{value}" for value in (*OPEN_STATUSES, "submitted")]
    )
    for language in LANGUAGES:
        missing = [key for key in values if key not in STRINGS[language]]
        assert not missing, (language, missing)


def test_every_value_the_campaign_pages_show_has_a_word() -> None:
    """Campaign and entry statuses, modes, attempt results (those the export names, the
    retried ones, a call in flight, a refused Originate), idle reasons, upload report
    codes and column meanings: none reaches a campaign page as its code."""
    idle_reasons = get_args(IdleOut.model_fields["reason"].annotation)
    results = {*RESULT_TEXT["ru"], *RETRY_RESULTS, IN_FLIGHT, "refused", "answered_operator"}
    values = (
        [f"campaign_status_{s}" for s in ("draft", "running", "paused", "finished")]
        + [f"mode_{mode}" for mode in get_args(Mode)]
        + [f"entry_status_{status}" for status in ENTRY_STATUSES]
        + [f"attempt_result_{result}" for result in sorted(results)]
        + [f"idle_{reason}" for reason in idle_reasons]
        + [f"upload_code_{code}" for code in UPLOAD_CODES]
        + [f"field_{field}" for field in (*FIELDS, IGNORE)]
    )
    assert len(idle_reasons) == 7
    for language in LANGUAGES:
        missing = [key for key in values if key not in STRINGS[language]]
        assert not missing, (language, missing)


def test_every_error_code_the_service_gives_has_a_word() -> None:
    """Each ``code="..."`` a ServiceError carries is translated (``error_<code>``)."""
    codes = {
        code
        for path in SRC.rglob("*.py")
        for code in re.findall(r'\bcode="([a-z_]+)"', path.read_text(encoding="utf-8"))
    }
    assert {"state_refused", "phone_not_registered", "wrapup_extended_once"} <= codes
    for language in LANGUAGES:
        missing = sorted(code for code in codes if f"error_{code}" not in STRINGS[language])
        assert not missing, (language, missing)


def test_wrapup_forms_speak_ukrainian_and_old_files_fall_back_to_russian() -> None:
    for code, texts in MESSAGES.items():
        assert set(texts) == set(LANGUAGES), code
    forms = load_forms()
    for category in forms.categories:
        assert category.title["uk"] != category.title["en"], category.id
        for spec in category.fields:
            assert CYRILLIC.search(spec.label["uk"]), (category.id, spec.name)
            assert not RUSSIAN_ONLY.search(spec.label["uk"]), (category.id, spec.name)
            for option in spec.options:
                assert not RUSSIAN_ONLY.search(option.label["uk"]), option.value
    consultation = forms.categories[0]
    assert consultation.title == {"ru": "Консультация", "uk": "Консультація", "en": "Consultation"}
    # a forms file written before Ukrainian: its labels read in Russian on a uk page
    old = parse_forms(
        "categories:\n"
        "  - id: c\n"
        "    title: {ru: Справка, en: Inquiry}\n"
        "    fields:\n"
        "      - {name: a, type: text, required: true, label: {ru: Адрес, en: Address}}\n"
    )
    (category,) = old.categories
    assert category.title == {"ru": "Справка", "uk": "Справка", "en": "Inquiry"}
    assert category.fields[0].label["uk"] == "Адрес"


@pytest.mark.parametrize(
    ("texts", "language", "shown"),
    [
        ({"ru": "а", "uk": "б", "en": "c"}, "uk", "б"),
        ({"ru": "а", "en": "c"}, "uk", "а"),
        ({"en": "c"}, "uk", "c"),
        ({"ru": "а", "en": "c"}, "de", "а"),
        ({"uk": "б"}, "en", "б"),
    ],
)
def test_pick_falls_back_uk_ru_en(texts: dict[str, str], language: str, shown: str) -> None:
    assert pick(texts, language) == shown


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("79936196492", "+7 993 619-64-92"),
        ("+79936196492", "+7 993 619-64-92"),
        ("89161234567", "+7 916 123-45-67"),
        ("4951234567", "+7 495 123-45-67"),  # a Moscow number, not a German one
        ("380441234567", "+380 44 123 4567"),  # Kyiv, in Ukraine's own grouping
        ("+380501234567", "+380 50 123 4567"),
        ("12025550123", "+1 202-555-0123"),
        ("+7 916 ***-**-67", "+7 916 ***-**-67"),  # masked: as it came
        ("1001", "1001"),  # an extension
        ("", ""),
        ("not a number", "not a number"),
    ],
)
def test_phone_numbers_as_pages_show_them(raw: str, shown: str) -> None:
    assert display_phone(raw) == shown


def test_a_word_defined_in_two_files_is_refused() -> None:
    """Two words files with one key (the complaints register's ``cmp_new`` once turned
    the campaign page's "New campaign" into "New complaint") fail at import."""
    from callagent.web.i18n import _merged

    assert _merged({"a": "1"}, {"b": "2"}) == {"a": "1", "b": "2"}
    with pytest.raises(ValueError, match="cmp_new"):
        _merged({"cmp_new": "New campaign"}, {"cmp_new": "New complaint"})
    assert STRINGS["en"]["cmp_new"] == "New campaign"
