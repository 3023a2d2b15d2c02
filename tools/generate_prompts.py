#!/usr/bin/env python3
"""Make callagent's notification prompts again (a developer's tool, not run by callagent).

Speaks every text of ``callagent.prompts.TEXTS`` with espeak-ng and converts it with
sox to what the package ships: 8 kHz mono mu-law (``.ulaw``) in
``src/callagent/prompts/sounds/<lang>/callagent/<name>.ulaw``. Needs ``espeak-ng`` and
``sox`` on PATH (``apt-get install espeak-ng sox``); CI and production need neither:
the files are in the package.

    python tools/generate_prompts.py            # all languages
    python tools/generate_prompts.py --lang ru  # one language
    python tools/generate_prompts.py --out /tmp/prompts  # somewhere else

Edit a text in ``src/callagent/prompts/__init__.py`` first, run this, listen to the
result (``play -t ul -r 8000 -c 1 FILE``) and commit both.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from callagent.prompts import EXTENSION, LANGUAGES, TEXTS, packaged_dir

VOICES = {"ru": "ru", "uk": "uk", "en": "en-gb"}
WORDS_PER_MINUTE = 150  # slower than espeak's 175: the applicant hears it over a phone line


def generate(out: Path, language: str) -> list[Path]:
    """Speak every prompt of ``language`` into ``out/<language>/``; the files written."""
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        for prompt, text in TEXTS[language].items():
            spoken = Path(tmp) / "spoken.wav"
            voice = ["-v", VOICES[language], "-s", str(WORDS_PER_MINUTE)]
            # S603, S607: fixed programs found on PATH (a developer's machine), our own texts
            subprocess.run(["espeak-ng", *voice, "-w", spoken, text], check=True)  # noqa: S603, S607
            target = out / language / f"{prompt}.{EXTENSION}"
            target.parent.mkdir(parents=True, exist_ok=True)
            # -D: no dither (the same text gives the same bytes); -t ul: raw mu-law; the
            # rate and channel options resample; silence: espeak's leading and trailing
            # silence cut (the applicant hears words at once); norm -3: the same loudness
            # for every prompt, 3 dB below full scale (no clipping)
            trim = ["silence", "1", "0.02", "0.5%"]
            effects = [*trim, "reverse", *trim, "reverse", "pad", "0", "0.2", "norm", "-3"]
            output = ["-r", "8000", "-c", "1", "-t", "ul", target]
            subprocess.run(["sox", "-D", spoken, *output, *effects], check=True)  # noqa: S603, S607
            written.append(target)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lang", action="append", choices=LANGUAGES, help="repeat; default all")
    parser.add_argument("--out", type=Path, default=packaged_dir(), help="default: the package")
    args = parser.parse_args()
    for language in args.lang or LANGUAGES:
        for path in generate(args.out, language):
            seconds = path.stat().st_size / 8000
            print(f"{path} {seconds:.2f} s")


if __name__ == "__main__":
    main()
