"""The languages people read callagent in: Russian (the default), Ukrainian, English.

Neutral ground for every layer: the pages' words (``web/i18n``), the wrap-up forms'
labels and messages (``wrapup/forms``) and the API's translated errors all take their
language list and fallback order from here, so no domain package imports the pages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

Language = Literal["ru", "uk", "en"]
LANGUAGES: tuple[Language, ...] = ("ru", "uk", "en")
DEFAULT_LANGUAGE: Language = "ru"
# A text missing in a language is read in the next one that has it: a forms file
# written before Ukrainian existed shows its Russian labels on a Ukrainian page.
FALLBACK: dict[Language, tuple[Language, ...]] = {
    "ru": ("ru", "en", "uk"),
    "uk": ("uk", "ru", "en"),
    "en": ("en", "ru", "uk"),
}


def language_of(value: str | None) -> Language:
    """``value`` if it is a language callagent speaks, else Russian."""
    for language in LANGUAGES:
        if value == language:
            return language
    return DEFAULT_LANGUAGE


def pick(texts: Mapping[str, str], language: str | None) -> str:
    """The text of ``texts`` (by language) for ``language``, by :data:`FALLBACK`; '' if none."""
    for candidate in FALLBACK[language_of(language)]:
        text = texts.get(candidate)
        if text:
            return text
    return ""
