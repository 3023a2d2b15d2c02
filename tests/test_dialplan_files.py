"""The shipped dialplan/ works as written: what it references is shipped (contexts,
queues, mailboxes, sounds, FastAGI scripts, files), the overflow is configurable and
works with nothing else configured, and every feature code a phone dials matches an
extension whose FastAGI request callagent understands (played over real FastAGI bytes,
on SQLite and PostgreSQL)."""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path

from callagent.sim.agi_client import AgiCall, run_agi
from tests.conftest import running_service
from tests.test_routing import add_operators, agi_port

DIALPLAN = Path(__file__).resolve().parents[1] / "dialplan"

# Asterisk core sounds (asterisk-core-sounds-*, installed with every Asterisk package)
# that the dialplan plays, with what they say.
CORE_SOUNDS = {
    "agent-loginok": "Agent logged in.",
    "agent-loggedoff": "Agent logged off.",
    "an-error-has-occurred": "An error has occurred.",
    "beep": "(a beep)",
    "all-circuits-busy-now": "All circuits are busy now.",
    "pls-try-call-later": "Please try your call again later.",
}
# Music-on-hold classes every Asterisk ships in musiconhold.conf.
MOH_CLASSES = {"default"}


@dataclass(frozen=True)
class Step:
    """One priority of the dialplan."""

    context: str
    exten: str
    label: str
    app: str
    data: str


def _strip_comment(line: str) -> str:
    return re.split(r"(?<!\\);", line, maxsplit=1)[0].rstrip()


def sections(path: Path) -> dict[str, list[str]]:
    """A .conf file's sections (``[name](template)``) -> their lines without comments."""
    out: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in path.read_text("utf-8").splitlines():
        line = _strip_comment(raw).strip()
        if not line or line.startswith("#"):  # #include, #tryinclude: directives
            continue
        header = re.fullmatch(r"\[([^\]]+)\](\(.*\))?", line)
        if header:
            current = out.setdefault(header.group(1), [])
        elif current is not None:
            current.append(line)
    return out


def dialplan() -> tuple[dict[str, str], list[Step]]:
    """extensions.conf: its [globals] and every step of every other context."""
    globals_: dict[str, str] = {}
    steps: list[Step] = []
    for context, lines in sections(DIALPLAN / "extensions.conf").items():
        exten = ""
        for line in lines:
            if context == "globals":
                name, _, value = line.partition("=")
                globals_[name.strip()] = value.strip()
                continue
            match = re.fullmatch(r"(exten|same)\s*=>\s*(.*)", line)
            assert match, f"[{context}] {line}"
            rest = match.group(2)
            if match.group(1) == "exten":
                exten, rest = rest.split(",", 1)
            priority, _, command = rest.partition(",")
            label = re.fullmatch(r"(?:n|\d+)(?:\((\w+)\))?", priority.strip())
            assert label, f"[{context}] {line}"
            app, _, data = command.partition("(")
            steps.append(Step(context, exten, label.group(1) or "", app.strip(), data[:-1]))
    return globals_, steps


def pattern_matches(exten: str, dialled: str) -> bool:
    """Asterisk's extension matching: literal, or a ``_`` pattern (X Z N [..] . !)."""
    if not exten.startswith("_"):
        return exten == dialled
    classes = {"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]", ".": ".+", "!": ".*"}
    regex = ""
    for part in re.findall(r"\[[^\]]+\]|.", exten[1:]):
        regex += part if part.startswith("[") else classes.get(part.upper(), re.escape(part))
    return re.fullmatch(regex, dialled) is not None


def extension_for(steps: list[Step], context: str, dialled: str) -> str | None:
    """The extension Asterisk runs for ``dialled``: an exact one before any pattern."""
    extens = list(dict.fromkeys(s.exten for s in steps if s.context == context))
    if dialled in extens:
        return dialled
    return next((e for e in extens if pattern_matches(e, dialled)), None)


def agi_request(step: Step, dialled: str) -> tuple[str, list[str]]:
    """The FastAGI script and arguments an ``AGI(${CALLAGENT_AGI}/...)`` step sends."""
    url, *args = step.data.split(",")
    assert url.startswith("${CALLAGENT_AGI}/"), step
    for n in range(len(dialled) + 1):
        args = [a.replace(f"${{EXTEN:{n}}}", dialled[n:]) for a in args]
    return url.removeprefix("${CALLAGENT_AGI}/"), args


def sounds_of(data: str) -> list[str]:
    """The sound files of a Playback/Background argument (both branches of an IF)."""
    choice = re.fullmatch(r"\$\{IF\(\$\[.*\]\?([^:]*):([^)]*)\)\}", data)
    files = [choice.group(1), choice.group(2)] if choice else [data.split(",")[0]]
    return [name for group in files for name in group.split("&") if name]


def shipped_prompts() -> set[str]:
    return set(importlib.import_module("callagent.prompts").PROMPTS)


def test_every_application_closes_its_parenthesis() -> None:
    """An unescaped ``;`` in an application's argument starts a comment: Asterisk 22.10.1
    cut ``NoOp(Overflow: no operator answered; ...)`` there and logged "No closing
    parenthesis found?" for it (tests/fixtures/live22/README.md)."""
    for context, lines in sections(DIALPLAN / "extensions.conf").items():
        for line in lines:
            if context != "globals":
                assert line.endswith(")"), f"[{context}] {line}"


# ----------------------------------------------------------------- the overflow


def test_the_fallback_ends_in_the_configurable_overflow_target() -> None:
    globals_, steps = dialplan()
    trunk = [s for s in steps if s.context == "from-trunk"]
    after_queue = trunk[[s.app for s in trunk].index("Queue") + 1]
    assert (after_queue.app, after_queue.data) == ("Goto", "${CALLAGENT_OVERFLOW}")
    assert not [s for s in steps if s.app == "VoiceMail" and s.data.endswith("@default,u")]
    # The default needs nothing else configured: core sounds, then hang up.
    context, exten, priority = globals_["CALLAGENT_OVERFLOW"].split(",")
    default = [s for s in steps if (s.context, s.exten) == (context, exten)]
    assert priority == "1" and default, globals_["CALLAGENT_OVERFLOW"]
    assert {s.app for s in default} <= {"NoOp", "Playback", "Hangup"}
    assert default[-1].app == "Hangup"
    played = [name for s in default if s.app == "Playback" for name in sounds_of(s.data)]
    assert played and set(played) <= set(CORE_SOUNDS)


def test_the_readme_documents_the_overflow_targets_and_each_exists() -> None:
    readme = (DIALPLAN / "README.md").read_text("utf-8")
    _, steps = dialplan()
    contexts = {(s.context, s.exten) for s in steps}
    documented = re.findall(r"^\| `([a-z0-9-]+),(\w+),1`", readme, re.MULTILINE)
    assert ("callagent-overflow", "s") in documented
    assert ("callagent-voicemail", "s") in documented
    for context, exten in documented:
        if context != "your-context":
            assert (context, exten) in contexts, context


# ------------------------------------------------ what the files reference is shipped


def test_every_goto_target_context_exists() -> None:
    globals_, steps = dialplan()
    labels = {(s.context, s.label) for s in steps if s.label}
    contexts = {(s.context, s.exten) for s in steps}
    for step in steps:
        if step.app not in ("Goto", "GotoIf"):
            continue
        targets = re.split(r"[?:]", step.data)[1:] if step.app == "GotoIf" else [step.data]
        for target in targets:
            target = re.sub(r"\$\{(\w+)\}", lambda m: globals_.get(m.group(1), m.group(0)), target)
            parts = target.split(",")
            if len(parts) == 1:
                assert (step.context, parts[0]) in labels, step
            else:
                assert (parts[0], parts[1]) in contexts, step


def test_every_queue_mailbox_and_music_class_is_shipped() -> None:
    _, steps = dialplan()
    queues = set(sections(DIALPLAN / "queues.conf")) - {"general"}
    voicemail = DIALPLAN / "voicemail.conf"
    mailboxes = {
        (context, line.split("=>")[0].strip())
        for context, lines in (sections(voicemail).items() if voicemail.exists() else [])
        for line in lines
        if "=>" in line
    }
    for step in steps:
        if step.app == "Queue":
            assert step.data.split(",")[0] in queues, step
        elif step.app in ("VoiceMail", "VoiceMailMain"):
            box, _, context = step.data.split(",")[0].partition("@")
            assert (context, box) in mailboxes, f"{step}: no mailbox {box}@{context} shipped"
        elif step.app == "MusicOnHold":
            assert step.data.split(",")[0] in MOH_CLASSES, step


def test_every_sound_played_is_a_core_sound_or_shipped() -> None:
    _, steps = dialplan()
    for step in steps:
        if step.app not in ("Playback", "Background"):
            continue
        for name in sounds_of(step.data):
            if name.startswith("callagent/"):
                assert name in shipped_prompts(), step
            else:
                assert name in CORE_SOUNDS, f"{step}: {name} is not a sound Asterisk ships"


def test_the_cel_sqlite_file_is_the_one_asterisk_writes() -> None:
    """Asterisk 22 names the file after the section plus ``.db`` (``[cel.sqlite3]`` wrote
    ``cel.sqlite3.db``, not the ``cel.sqlite3`` callagent was told to read); Asterisk 20
    reads only ``[master]`` (``master.db``). So ``[master]``, and every URL says master.db."""
    assert list(sections(DIALPLAN / "cel_sqlite3_custom.conf")) == ["master"]
    url = "CALLAGENT_CEL_URL=sqlite:////var/log/asterisk/master.db"
    for name in ("cel_sqlite3_custom.conf", "README.md"):
        text = (DIALPLAN / name).read_text("utf-8")
        assert url in text, name
        assert not re.search(r"asterisk/cel\.sqlite3\b(?!\.db)", text), name


def test_every_dialplan_file_is_in_the_readme_table_and_every_listed_file_exists() -> None:
    readme = (DIALPLAN / "README.md").read_text("utf-8")
    first_column = re.findall(r"^\| ([^|]*`[\w.-]+\.(?:conf|sql)`[^|]*) \|", readme, re.M)
    listed = {name for cell in first_column for name in re.findall(r"`([\w.-]+)`", cell)}
    shipped = {path.name for path in DIALPLAN.iterdir() if path.name != "README.md"}
    assert listed == shipped


# -------------------------------------------------------------- feature codes


FEATURE_CODES = {  # what the operator dials -> the state callagent puts them in
    "*51": ("ready", ""),
    "*531": ("paused", "break"),
    "*532": ("paused", "lunch"),
    "*54": ("ready", ""),
    "*53": ("paused", "break"),  # no digit: a break (was 484 Address Incomplete)
    "*533": ("paused", "training"),
    "*534": ("paused", "meeting"),
    "*52": ("offline", ""),
}


def test_every_feature_code_matches_an_extension() -> None:
    _, steps = dialplan()
    for dialled in [*FEATURE_CODES, "*98"]:
        assert extension_for(steps, "from-operators", dialled), dialled


async def test_feature_codes_over_fastagi_as_the_dialplan_asks(db_url: str) -> None:
    _, steps = dialplan()
    async with running_service(db_url) as service:
        served = set(service.app.state.agi.scripts)  # type: ignore[attr-defined]
        for step in steps:
            if step.app == "AGI":
                assert agi_request(step, "")[0] in served, step
        (op,) = add_operators(service, 1)
        for n, (dialled, (state, reason)) in enumerate(FEATURE_CODES.items()):
            exten = extension_for(steps, "from-operators", dialled)
            first = next(s for s in steps if (s.context, s.exten) == ("from-operators", exten))
            script, args = agi_request(first, dialled)
            call = AgiCall(script, f"1796324400.{n}", channel=f"PJSIP/op1001-0000000{n}", args=args)
            await run_agi(call, "127.0.0.1", agi_port(service))
            assert call.set["CALLAGENT_STATUS"] == "ok", dialled
            now = service.app.state.book.view(op)  # type: ignore[attr-defined]
            assert (now.state, now.reason) == (state, reason), dialled
