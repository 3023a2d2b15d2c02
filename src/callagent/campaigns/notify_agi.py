"""The FastAGI ``notify`` script: tell the applicant their documents are ready, read a digit.

``dialplan/extensions.conf`` (context ``notify-out``) runs it on the answered
channel of a campaign's Originate. It reads the entry and attempt ids from its
arguments (else ``CALLAGENT_ENTRY_ID`` / ``CALLAGENT_ATTEMPT_ID``), plays the
entry's message, asks for one digit (1 understood, 2 connect me to an operator,
9 do not call again), sets ``CALLAGENT_NOTIFY_DIGIT`` for the dialplan and stores
the digit with the attempt (the dialer settles the entry when the call ends).

The message comes from the campaign's ``message`` settings:

- ``prompts``: sound files played in order (``STREAM FILE``); ``say:case_number``
  says the case number's digits, ``say:office`` / ``say:hours`` are spoken through
  TTS only; default ``["callagent/notify-ready", "say:case_number"]``;
- ``text`` (with ``CALLAGENT_TTS_COMMAND`` set): a template such as
  ``"Documents for case {case_number} are ready at {office}, {hours}"`` turned into
  a sound file by the TTS command (text on stdin, ``{file}`` in the command replaced
  by the output path without extension + ``.wav``), cached by content;
- ``question`` (default ``callagent/notify-press-1-2-9``), ``hours``, ``timeout`` (ms).

A digit counts at any moment of the message: ``STREAM FILE`` and ``SAY DIGITS`` run
with the escape digits ``129``, so a 1 pressed during the case number ends the
message and is the answer (Asterisk answers ``result=49``); ``GET DATA`` asks only
when nothing was pressed. A prompt the PBX does not have ends the call at once with
``CALLAGENT_NOTIFY_STATUS=prompt_missing`` and the file's name on the attempt
(``missing_prompt``): Asterisk answers ``200 result=-1`` (``endpos=0`` for STREAM
FILE) at once and, unlike a hang-up, sends no ``HANGUP`` line after it
(``shared/pbx-traces/live/live_notify_missing_prompts``). The shipped prompts are
installed with ``callagent prompts install``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from callagent.campaigns.results import PROMPT_MISSING
from callagent.db.campaign_models import Campaign, NotificationAttempt, RegistryEntry
from callagent.prompts import DEFAULT_SOUNDS_DIR
from callagent.routing.agi import AgiHangup, AgiProtocolError, AgiSession, Script

log = logging.getLogger(__name__)

DIGITS = frozenset({"1", "2", "9"})
ESCAPE = "".join(sorted(DIGITS))  # STREAM FILE / SAY DIGITS stop on these and return them
# After a playback answered -1: how long a HANGUP line may take to follow it. res_agi
# sends it in the same loop turn as the answer when the channel is gone (AGISIGHUP=yes,
# the default); no HANGUP within this time means the file could not be played.
HANGUP_GRACE = 0.2
# Longest playback of one command: a TTS message may be long (AgiSession's command
# timeout is for quick answers).
PLAYBACK_DEADLINE = 300.0
DEFAULT_PROMPTS = ("callagent/notify-ready", "say:case_number")
DEFAULT_QUESTION = "callagent/notify-press-1-2-9"
CLOSING = {
    "1": "callagent/notify-thank-you",
    "2": "callagent/notify-connecting",
    "9": "callagent/notify-removed",
}
_SOUND_NAME = re.compile(r"^[A-Za-z0-9_/.-]{1,200}$")


@dataclass(frozen=True)
class Message:
    """What to say to one applicant."""

    prompts: tuple[str, ...]
    question: str
    timeout_ms: int
    text: str  # for the TTS command; '' when prompts only
    fields: dict[str, str]


def build_message(campaign: Campaign, entry: RegistryEntry) -> Message:
    """The entry's message from the campaign's settings (pure)."""
    settings: dict[str, Any] = dict(campaign.message or {})
    fields = {
        "case_number": entry.case_number,
        "office": entry.office,
        "service": entry.service,
        "ready_date": entry.ready_date,
        "name": entry.applicant_name,
        "hours": str(settings.get("hours", "")),
    }
    prompts = tuple(str(p) for p in settings.get("prompts") or DEFAULT_PROMPTS)
    question = str(settings.get("question", DEFAULT_QUESTION))
    if not _SOUND_NAME.match(question):  # it goes into an AGI command line
        log.warning("campaign %s: %r is not a sound file name", campaign.name, question[:40])
        question = DEFAULT_QUESTION
    text = str(settings.get("text", ""))
    for name, value in fields.items():  # plain {field} replacement, no format mini-language
        text = text.replace("{" + name + "}", value)
    return Message(
        prompts=prompts,
        question=question,
        timeout_ms=_timeout(settings.get("timeout")),
        text=text,
        fields=fields,
    )


class NotifyScript:
    """The ``notify`` FastAGI script."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        tts_command: str = "",
        tts_dir: str = "/var/lib/asterisk/sounds/callagent",
        tries: int = 2,
    ) -> None:
        self.sessions = sessions
        self.tts_command = tts_command
        self.tts_dir = Path(tts_dir)
        self.tries = tries
        self.dialogues = 0

    def scripts(self) -> dict[str, Script]:
        """Script name -> handler, to merge into the FastAGI server's scripts."""
        return {"notify": self}

    async def __call__(self, session: AgiSession) -> None:
        """One answered notification call."""
        self.dialogues += 1
        args = session.args  # the dialplan passes entry and attempt: no round trips
        if len(args) >= 2 and args[0]:
            entry_id, attempt_id = _int(args[0]), _int(args[1])
        else:
            entry_id = _int(await session.get_variable("CALLAGENT_ENTRY_ID"))
            attempt_id = _int(await session.get_variable("CALLAGENT_ATTEMPT_ID"))
        loaded = await asyncio.to_thread(self._load, entry_id)
        if loaded is None:
            log.warning("notify: no registry entry %s; nothing to say", entry_id)
            await session.set_variable("CALLAGENT_NOTIFY_STATUS", "unknown_entry")
            return
        message = loaded
        digit = ""
        missing = ""
        try:
            for _ in range(self.tries):
                # a digit pressed during the message is the answer; else the question
                digit = await self._play(session, message) or await get_data(
                    session, message.question, message.timeout_ms
                )
                if digit in DIGITS:
                    break
                digit = ""
        except PromptMissing as exc:
            missing = exc.prompt
        finally:
            # whatever happened, what was heard is kept
            await asyncio.to_thread(self._record, attempt_id, entry_id, digit, missing)
        if missing:
            log.error(
                "notify: the PBX has no sound file %s: attempt %s ends as %s (install the "
                "prompts: callagent prompts install %s)",
                missing,
                attempt_id,
                PROMPT_MISSING,
                DEFAULT_SOUNDS_DIR,
            )
            await session.set_variable("CALLAGENT_NOTIFY_DIGIT", "")
            await session.set_variable("CALLAGENT_NOTIFY_STATUS", PROMPT_MISSING)
            return
        await session.set_variable("CALLAGENT_NOTIFY_DIGIT", digit)
        await session.set_variable("CALLAGENT_NOTIFY_STATUS", "ok" if digit else "no_digit")
        if digit in CLOSING:
            try:
                await stream_file(session, CLOSING[digit], "")
            except PromptMissing as exc:  # the answer is stored; only the goodbye is lost
                log.warning("notify: the PBX has no sound file %s (closing prompt)", exc.prompt)

    async def _play(self, session: AgiSession, message: Message) -> str:
        """The message; the digit (1, 2 or 9) pressed while it played, '' when none."""
        sound = await self._tts(message.text) if message.text and self.tts_command else None
        if sound is not None:
            return await stream_file(session, sound, ESCAPE)
        for prompt in message.prompts:
            digit = ""
            if prompt.startswith("say:"):
                value = message.fields.get(prompt[4:], "")
                digits = "".join(ch for ch in value if ch.isdigit())
                if digits:
                    digit = await say_digits(session, digits, ESCAPE)
            elif _SOUND_NAME.match(prompt):
                digit = await stream_file(session, prompt, ESCAPE)
            else:
                log.warning("notify: %r is not a sound file name; skipped", prompt[:40])
            if digit:
                return digit
        return ""

    async def _tts(self, text: str) -> str | None:
        """A sound file for ``text`` from the TTS command (cached); None when it fails."""
        name = hashlib.sha256(text.encode()).hexdigest()[:24]
        base = self.tts_dir / f"notify-{name}"
        if base.with_suffix(".wav").exists():
            return str(base)
        argv = [arg.replace("{file}", str(base) + ".wav") for arg in shlex.split(self.tts_command)]
        try:
            self.tts_dir.mkdir(parents=True, exist_ok=True)
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            _, err = await asyncio.wait_for(proc.communicate(text.encode()), 30)
        except (OSError, TimeoutError) as exc:
            log.warning("TTS command failed (%s); playing the prompt files", type(exc).__name__)
            return None
        if proc.returncode != 0 or not base.with_suffix(".wav").exists():
            # Its stderr is not logged: TTS tools echo the text, which names the applicant.
            log.warning(
                "TTS command exited %s without %s (%d bytes on stderr); playing the prompt files",
                proc.returncode,
                base.with_suffix(".wav"),
                len(err),
            )
            return None
        return str(base)

    def _load(self, entry_id: int | None) -> Message | None:
        if entry_id is None:
            return None
        with self.sessions() as session:
            entry = session.get(RegistryEntry, entry_id)
            if entry is None:
                return None
            campaign = session.get(Campaign, entry.campaign_id)
            return None if campaign is None else build_message(campaign, entry)

    def _record(
        self, attempt_id: int | None, entry_id: int | None, digit: str, missing: str = ""
    ) -> None:
        with self.sessions.begin() as session:
            attempt = session.get(NotificationAttempt, attempt_id) if attempt_id else None
            if attempt is not None and attempt.entry_id == entry_id:
                attempt.digit = digit
                attempt.missing_prompt = missing[:200]
            entry = session.get(RegistryEntry, entry_id) if entry_id else None
            if entry is not None and digit:
                entry.confirmation_digit = digit


class PromptMissing(Exception):
    """Asterisk could not play a sound file: the PBX does not have it."""

    def __init__(self, prompt: str) -> None:
        super().__init__(prompt)
        self.prompt = prompt


async def stream_file(session: AgiSession, sound: str, escape: str) -> str:
    """``STREAM FILE``: the escape digit pressed, '' when it played to its end.

    ``200 result=-1 endpos=0`` without a HANGUP after it: the file is missing
    (:class:`PromptMissing`); ``result=-1`` with a HANGUP: the applicant hung up.
    """
    answer = await _playback(session, f'STREAM FILE {sound} "{escape}"', PLAYBACK_DEADLINE)
    result = _result(answer)
    if result == "-1":
        endpos = answer.partition("endpos=")[2].split(" ", 1)[0]
        if endpos in ("", "0") and not await _hung_up(session):
            raise PromptMissing(sound)
        raise AgiHangup(f"STREAM FILE {sound} ended with -1")
    return _digit(result)


async def say_digits(session: AgiSession, digits: str, escape: str) -> str:
    """``SAY DIGITS``: the escape digit pressed, '' when all were said.

    ``result=-1`` without a HANGUP: a ``digits/N`` file is missing in the channel's
    language and in ``en``.
    """
    result = _result(await _playback(session, f'SAY DIGITS {digits} "{escape}"', PLAYBACK_DEADLINE))
    if result == "-1":
        if not await _hung_up(session):
            raise PromptMissing("digits/N (SAY DIGITS)")
        raise AgiHangup("SAY DIGITS ended with -1")
    return _digit(result)


async def get_data(session: AgiSession, prompt: str, timeout_ms: int) -> str:
    """``GET DATA prompt timeout 1``: the digit pressed, '' on timeout.

    Asterisk answers ``200 result=<digits>`` or ``200 result= (timeout)``;
    ``200 result=-1`` at once and no HANGUP after it: the prompt is missing.
    """
    deadline = timeout_ms / 1000 + session.command_timeout + 60  # the prompt plays first
    answer = await _playback(session, f"GET DATA {prompt} {int(timeout_ms)} 1", deadline)
    value = _result(answer)
    if value == "-1":
        if not await _hung_up(session):
            raise PromptMissing(prompt)
        raise AgiHangup("GET DATA ended with -1")
    return value[:1]


async def _playback(session: AgiSession, command: str, deadline: float) -> str:
    """Send a command that plays sound; its ``200 ...`` answer line.

    :meth:`AgiSession.command` reads integers only and gives each answer the
    command timeout; a message plays for longer.
    """
    session.writer.write(command.encode() + b"\n")
    try:
        await session.writer.drain()
    except ConnectionError as exc:
        raise AgiHangup("connection closed") from exc
    while True:
        try:
            raw = await asyncio.wait_for(session.reader.readline(), deadline)
        except TimeoutError:
            raise AgiHangup(f"no answer to {command.split(' ', 2)[:2]}") from None
        if not raw:
            raise AgiHangup("connection closed")
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if line == "HANGUP":
            session.hung_up = True
            continue
        if line.startswith("511"):
            raise AgiHangup("the channel is gone (511)")
        if not line.startswith("200 "):
            raise AgiProtocolError(f"unexpected answer {line[:80]!r}")
        return line


async def _hung_up(session: AgiSession) -> bool:
    """After a ``-1``: did the channel hang up (a HANGUP line follows at once)?"""
    if session.hung_up:
        return True
    try:
        raw = await asyncio.wait_for(session.reader.readline(), HANGUP_GRACE)
    except TimeoutError:
        return False
    if not raw or raw.rstrip(b"\r\n") == b"HANGUP":
        session.hung_up = True
        return True
    return False


def _result(answer: str) -> str:
    """``200 result=49 endpos=1234`` -> ``49``; ``200 result= (timeout)`` -> ``''``."""
    return answer.partition("result=")[2].split(" ", 1)[0]


def _digit(result: str) -> str:
    """A playback's result: 0 (played to the end) or the ASCII code of the digit pressed."""
    try:
        code = int(result)
    except ValueError:
        return ""
    return chr(code) if 0 < code < 128 and chr(code) in "0123456789*#" else ""


def _timeout(value: Any) -> int:
    """Milliseconds to wait for the digit: 1 to 30 s, 5 s when not given or unreadable."""
    try:
        return min(30_000, max(1_000, int(value))) if value is not None else 5_000
    except (TypeError, ValueError):
        return 5_000


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None
