"""The notification prompts callagent ships, and where Asterisk looks for them.

The FastAGI ``notify`` script (:mod:`callagent.campaigns.notify_agi`) plays five
sound files by name (``callagent/notify-ready``...). Asterisk finds a file named
``callagent/notify-ready`` for a channel whose language is ``ru`` as
``<sounds>/ru/callagent/notify-ready.<format>``; when there is none it tries the
default language ``en`` (``<sounds>/en/...``), then ``<sounds>/callagent/...``
(file.c, ``languageprefix = yes``, the default). Every prompt is shipped in
Russian, Ukrainian and English as 8 kHz mono mu-law (``.ulaw``, Asterisk's own
telephony format: no transcoding on a G.711 u-law trunk, and half the size of a
16-bit WAV), spoken by espeak-ng (``tools/generate_prompts.py`` makes them
again). Administrators replace them with recorded voice by putting their own file
of the same name (any format Asterisk reads) in the same folder.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

# The sound file names the notify script plays (without language folder and extension).
PROMPTS = (
    "callagent/notify-ready",
    "callagent/notify-press-1-2-9",
    "callagent/notify-thank-you",
    "callagent/notify-connecting",
    "callagent/notify-removed",
)
LANGUAGES = ("ru", "uk", "en")
# notify-out (dialplan/extensions.conf) sets the channel's language to this one.
DIALPLAN_LANGUAGE = "ru"
FALLBACK_LANGUAGE = "en"  # Asterisk's default language: tried when a language lacks a file
EXTENSION = "ulaw"
DEFAULT_SOUNDS_DIR = "/var/lib/asterisk/sounds"

log = logging.getLogger(__name__)

# What each prompt says: the generator speaks these, and whoever records the prompts
# in a human voice reads them. notify-ready is followed by the case number's digits.
TEXTS: dict[str, dict[str, str]] = {
    "ru": {
        "callagent/notify-ready": "Здравствуйте! Ваши документы готовы. Номер дела:",
        "callagent/notify-press-1-2-9": (
            "Если вы поняли сообщение, нажмите 1. Чтобы поговорить с оператором, нажмите 2. "
            "Если вы не хотите больше получать такие звонки, нажмите 9."
        ),
        "callagent/notify-thank-you": "Спасибо! До свидания.",
        "callagent/notify-connecting": "Соединяю с оператором. Пожалуйста, подождите.",
        "callagent/notify-removed": "Ваш номер удалён из списка обзвона. До свидания.",
    },
    "uk": {
        "callagent/notify-ready": "Добрий день! Ваші документи готові. Номер справи:",
        "callagent/notify-press-1-2-9": (
            "Якщо ви зрозуміли повідомлення, натисніть 1. Щоб поговорити з оператором, "
            "натисніть 2. Якщо ви не бажаєте більше отримувати такі дзвінки, натисніть 9."
        ),
        "callagent/notify-thank-you": "Дякуємо! До побачення.",
        "callagent/notify-connecting": "З'єдную з оператором. Будь ласка, зачекайте.",
        "callagent/notify-removed": "Ваш номер видалено зі списку обдзвону. До побачення.",
    },
    "en": {
        "callagent/notify-ready": "Hello! Your documents are ready. Case number:",
        "callagent/notify-press-1-2-9": (
            "If you understood this message, press 1. To speak to an operator, press 2. "
            "If you do not want such calls any more, press 9."
        ),
        "callagent/notify-thank-you": "Thank you! Goodbye.",
        "callagent/notify-connecting": "Connecting you to an operator. Please hold.",
        "callagent/notify-removed": "Your number has been removed from the call list. Goodbye.",
    },
}


def packaged_dir() -> Path:
    """The folder of the shipped sound files (``<lang>/callagent/notify-*.ulaw``)."""
    return Path(__file__).resolve().parent / "sounds"


def packaged_file(language: str, prompt: str) -> Path:
    """The shipped file of one prompt in one language."""
    return packaged_dir() / language / f"{prompt}.{EXTENSION}"


def _found(folder: Path, prompt: str) -> list[Path]:
    """Files Asterisk would take for ``prompt`` in ``folder`` (any format it reads)."""
    directory = (folder / prompt).parent
    stem = Path(prompt).name
    if not directory.is_dir():
        return []
    return sorted(
        p for p in directory.iterdir() if p.is_file() and p.stem == stem and p.suffix != ""
    )


def resolve(sounds_dir: Path, prompt: str, language: str) -> Path | None:
    """The file Asterisk plays for ``prompt`` on a channel in ``language``, None when none.

    The order of Asterisk's file.c: the language's folder, the default language
    ``en``, then the sounds folder itself.
    """
    for folder in dict.fromkeys((language, FALLBACK_LANGUAGE, "")):
        files = _found(sounds_dir / folder if folder else sounds_dir, prompt)
        if files:
            return files[0]
    return None


def missing(sounds_dir: Path, languages: tuple[str, ...] = (DIALPLAN_LANGUAGE,)) -> list[str]:
    """``lang/callagent/notify-...`` of every prompt Asterisk would not find; [] when all play."""
    return [
        f"{language}/{prompt}"
        for language in languages
        for prompt in PROMPTS
        if resolve(sounds_dir, prompt, language) is None
    ]


@dataclass(frozen=True)
class Installed:
    """What :func:`install` did with one prompt file."""

    path: Path
    action: str  # "written", "replaced", "kept" (already there; --force replaces it)
    others: tuple[Path, ...] = ()  # other formats of the same prompt left in the folder


def install(
    sounds_dir: Path, languages: tuple[str, ...] = LANGUAGES, *, force: bool = False
) -> list[Installed]:
    """Copy the shipped prompts into ``sounds_dir/<lang>/callagent/``.

    A prompt that is already there in any format is kept (it may be the
    administrator's own recording) unless ``force``; with ``force`` the shipped
    file is written and any other format of it is reported, not removed: Asterisk
    plays whichever format costs least to translate, so two formats of one prompt
    is a choice the administrator makes.
    """
    unknown = [lang for lang in languages if lang not in LANGUAGES]
    if unknown:
        raise ValueError(
            f"no prompts in {', '.join(unknown)}; shipped languages: {', '.join(LANGUAGES)}"
        )
    done: list[Installed] = []
    for language in languages:
        for prompt in PROMPTS:
            target = sounds_dir / language / f"{prompt}.{EXTENSION}"
            present = _found(sounds_dir / language, prompt)
            others = tuple(p for p in present if p != target)
            if present and not force:
                done.append(Installed(present[0], "kept"))
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            action = "replaced" if target.exists() else "written"
            shutil.copyfile(packaged_file(language, prompt), target)
            done.append(Installed(target, action, others))
    return done


def startup_check(sounds_dir: str) -> list[str]:
    """At start-up: a WARNING naming every prompt Asterisk would not find; the missing ones.

    ``sounds_dir`` is ``CALLAGENT_ASTERISK_SOUNDS_DIR``: callagent can only look when
    it runs on the PBX's machine (or sees its folder); "" says once that it did not.
    """
    if not sounds_dir:
        log.info(
            "notification prompts not checked (CALLAGENT_ASTERISK_SOUNDS_DIR is not set); "
            "`callagent prompts check %s` checks them on the PBX",
            DEFAULT_SOUNDS_DIR,
        )
        return []
    folder = Path(sounds_dir)
    lacking = missing(folder)
    if lacking:
        log.warning(
            "notification prompts missing in %s: %s; notification calls end as "
            "prompt_missing until they are installed: callagent prompts install %s",
            folder,
            ", ".join(f"{folder / name}.*" for name in lacking),
            folder,
        )
    else:
        log.info("notification prompts found in %s", folder)
    return lacking
