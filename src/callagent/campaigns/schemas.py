"""Campaign settings as given by people (API, CLI), validated with clear messages."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from itertools import pairwise
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from callagent.db.campaign_models import default_retry_delays, default_window

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
RETRY_RESULTS = (
    "busy",
    "no_answer",
    "failed",
    "congestion",
    "rejected",
    "timeout",
    "answering_machine",
    "answered_no_confirmation",
)
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")
_CONTEXT = re.compile(r"^[A-Za-z0-9_-]+$")
Mode = Literal["message", "operator"]
MAX_MESSAGE_BYTES = 65_536


def check_text(value: str, what: str) -> str:
    """Text without control characters (a NUL cannot be stored, a newline breaks a header)."""
    if any(ord(ch) < 32 for ch in value):
        raise ValueError(f"{what} contains control characters")
    return value


def check_message(value: Any) -> Any:
    """A campaign's message: an object of at most :data:`MAX_MESSAGE_BYTES` as JSON (its
    prompts, question, text and timeout need a few hundred; 20 MB is not a message)."""
    if isinstance(value, dict):
        size = len(json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass"))
        if size > MAX_MESSAGE_BYTES:
            raise ValueError(
                f"the message is {size} bytes as JSON; at most {MAX_MESSAGE_BYTES}: keep "
                "to prompts, question, text and timeout (a long text belongs in a recorded prompt)"
            )
    return value


def check_timezone(value: str) -> str:
    """An IANA time zone name, else a ValueError saying what to write."""
    try:
        ZoneInfo(check_text(value, "the time zone"))
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError) as exc:
        raise ValueError(
            f"unknown time zone {value!r}: use an IANA name such as Europe/Moscow, "
            "Asia/Novosibirsk or Asia/Vladivostok"
        ) from exc
    return value


def check_window(value: Any) -> dict[str, list[list[str]]]:
    """``{"mon": [["09:00", "20:00"]], ...}``: every weekday present (missing: no calls)."""
    if not isinstance(value, dict):
        raise ValueError('the window is an object such as {"mon": [["09:00", "20:00"]], ...}')
    unknown = sorted(set(value) - set(WEEKDAYS))
    if unknown:
        raise ValueError(f"unknown weekday(s) {unknown} in the window; use {', '.join(WEEKDAYS)}")
    result: dict[str, list[list[str]]] = {}
    for day in WEEKDAYS:
        spans = value.get(day) or []
        if not isinstance(spans, list):
            raise ValueError(f"{day}: a list of [start, end] pairs, e.g. [['09:00', '20:00']]")
        checked: list[list[str]] = []
        for span in spans:
            if not (isinstance(span, list | tuple) and len(span) == 2):
                raise ValueError(f"{day}: each span is a pair [start, end], got {span!r}")
            start, end = (str(part) for part in span)
            for part in (start, end):
                if not _TIME.match(part):
                    raise ValueError(f"{day}: {part!r} is not a time HH:MM (00:00-24:00)")
            if start >= end:
                raise ValueError(f"{day}: the span {start}-{end} ends before it starts")
            checked.append([start, end])
        checked.sort()
        for (_, end), (start, _) in pairwise(checked):
            if start < end:
                raise ValueError(f"{day}: the spans overlap at {start}")
        result[day] = checked
    return result


def check_holidays(value: Any) -> list[str]:
    """Dates YYYY-MM-DD, sorted, without repeats."""
    if not isinstance(value, list):
        raise ValueError("holidays are a list of dates YYYY-MM-DD")
    days: set[str] = set()
    for item in value:
        try:
            days.add(date.fromisoformat(str(item)).isoformat())
        except ValueError as exc:
            raise ValueError(f"{item!r} is not a date YYYY-MM-DD") from exc
    return sorted(days)


def check_retry_delays(value: Any) -> dict[str, int]:
    """Result -> seconds before the next attempt (0 .. 7 days)."""
    if not isinstance(value, dict):
        raise ValueError('retry_delays is an object such as {"busy": 900, "no_answer": 1800}')
    result: dict[str, int] = {}
    for key, seconds in value.items():
        if key not in RETRY_RESULTS:
            raise ValueError(f"unknown result {key!r} in retry_delays; known: {RETRY_RESULTS}")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise ValueError(f"retry_delays[{key!r}] must be a number of seconds")
        if not 0 <= seconds <= 7 * 86400:
            raise ValueError(f"retry_delays[{key!r}] must be between 0 and 604800 seconds")
        result[key] = int(seconds)
    return result


def check_dial_template(value: str) -> str:
    """A dial string with the ``{number}`` placeholder and nothing else in braces."""
    check_text(value, "the dial template")
    if "{number}" not in value:
        raise ValueError("the dial template needs {number}, e.g. PJSIP/{number}@trunk")
    try:
        value.format(number="79160000000")
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError("the dial template may only contain the {number} placeholder") from exc
    return value


def check_context(value: str) -> str:
    """A dialplan context name."""
    if not _CONTEXT.match(value):
        raise ValueError("the context is a dialplan context name: letters, digits, _ and -")
    return value


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("office_timezone", check_fields=False)
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return None if value is None else check_timezone(value)

    @field_validator("window", mode="before", check_fields=False)
    @classmethod
    def _window(cls, value: Any) -> Any:
        return None if value is None else check_window(value)

    @field_validator("holidays", mode="before", check_fields=False)
    @classmethod
    def _holidays(cls, value: Any) -> Any:
        return None if value is None else check_holidays(value)

    @field_validator("retry_delays", mode="before", check_fields=False)
    @classmethod
    def _delays(cls, value: Any) -> Any:
        return None if value is None else check_retry_delays(value)

    @field_validator("dial_template", check_fields=False)
    @classmethod
    def _dial(cls, value: str | None) -> str | None:
        return None if value is None else check_dial_template(value)

    @field_validator("context", check_fields=False)
    @classmethod
    def _context(cls, value: str | None) -> str | None:
        return None if value is None else check_context(value)

    @field_validator("message", mode="before", check_fields=False)
    @classmethod
    def _message(cls, value: Any) -> Any:
        return None if value is None else check_message(value)

    @field_validator("caller_id", check_fields=False)
    @classmethod
    def _caller_id(cls, value: str | None) -> str | None:
        return None if value is None else check_text(value, "caller_id")

    @field_validator("name", check_fields=False)
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = " ".join(check_text(value, "the name").split())
        if not value:
            raise ValueError("the campaign name is empty")
        return value


class CampaignCreate(_Settings):
    """A new campaign: a name; everything else has a default."""

    name: str = Field(min_length=1, max_length=100)
    mode: Mode = "message"
    office_timezone: str = Field(default="Europe/Moscow", max_length=64)
    window: dict[str, list[list[str]]] = Field(default_factory=default_window)
    holidays: list[str] = Field(default_factory=list)
    max_concurrent: int = Field(default=10, ge=1, le=1000)
    max_attempts: int = Field(default=3, ge=1, le=20)
    retry_delays: dict[str, int] = Field(default_factory=default_retry_delays)
    calls_per_second: float = Field(default=2.0, gt=0, le=100)
    caller_id: str = Field(default="", max_length=128)
    dial_template: str = Field(default="PJSIP/{number}@trunk", min_length=1, max_length=255)
    context: str = Field(default="notify-out", min_length=1, max_length=80)
    message: dict[str, Any] = Field(default_factory=dict)


class CampaignUpdate(_Settings):
    """A change of some settings of a campaign (status changes: start / pause)."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    mode: Mode | None = None
    office_timezone: str | None = Field(default=None, max_length=64)
    window: dict[str, list[list[str]]] | None = None
    holidays: list[str] | None = None
    max_concurrent: int | None = Field(default=None, ge=1, le=1000)
    max_attempts: int | None = Field(default=None, ge=1, le=20)
    retry_delays: dict[str, int] | None = None
    calls_per_second: float | None = Field(default=None, gt=0, le=100)
    caller_id: str | None = Field(default=None, max_length=128)
    dial_template: str | None = Field(default=None, min_length=1, max_length=255)
    context: str | None = Field(default=None, min_length=1, max_length=80)
    message: dict[str, Any] | None = None


class CampaignOut(BaseModel):
    """A campaign as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    mode: str
    status: str
    office_timezone: str
    window: dict[str, Any]
    holidays: list[Any]
    max_concurrent: int
    max_attempts: int
    retry_delays: dict[str, Any]
    calls_per_second: float
    caller_id: str
    dial_template: str
    context: str
    message: dict[str, Any]
    created_by: str
    created_at: datetime
    updated_at: datetime


class ImportOut(BaseModel):
    """A registry import and its report (rows not called, with reasons)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    campaign_id: int
    filename: str
    sha256: str
    file_format: str
    encoding: str
    delimiter: str
    created_at: datetime
    created_by: str
    rows_total: int
    rows_imported: int
    rows_rejected: int
    columns: list[Any]
    mapping: dict[str, Any]
    report: list[dict[str, Any]]
    repeated: bool = False  # this very file had been imported before: nothing was added
    notes: list[str] = Field(default_factory=list)


class PreviewColumn(BaseModel):
    """One column of a previewed registry."""

    index: int = Field(description="0-based column index")
    header: str = Field(description="the header cell as written")
    key: str = Field(description="the name to use in `mapping` (repeated headers numbered)")
    field: str = Field(description="its meaning: the remembered one, else the detected one")
    detected: str = Field(description="what its header names by itself (`ignore`: nothing)")
    in_header: bool = Field(description="false: cells right of the header row, not mappable")


class PreviewRow(BaseModel):
    """A row of the file as a spreadsheet numbers it, cells column by column."""

    row: int
    cells: list[str]


class RememberedImport(BaseModel):
    """The earlier import of the same layout whose mapping the preview shows."""

    import_id: int
    campaign_id: int
    filename: str


class RegistryPreviewOut(BaseModel):
    """A registry file before it is imported: header, columns' meanings, first rows."""

    header_row: int = Field(description="the header's row number (0: none found)")
    columns: list[PreviewColumn]
    rows: list[PreviewRow] = Field(description="the first filled rows below the header")
    rows_total: int = Field(description="rows below the header")
    choices: list[str] = Field(description="the meanings a column may have")
    mapping: dict[str, list[str]] = Field(
        description="the columns' meanings as the upload's `mapping` takes them"
    )
    problem: str = Field(description="why no header was detected ('' when one was)")
    remembered: RememberedImport | None = Field(
        description="the import of the same header row whose mapping is shown: this "
        "campaign's newest, else any campaign's"
    )
    notes: list[str]


class ImportSummary(BaseModel):
    """An import without its report rows (for lists)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    campaign_id: int
    filename: str
    sha256: str
    created_at: datetime
    created_by: str
    rows_total: int
    rows_imported: int
    rows_rejected: int


class EntryOut(BaseModel):
    """A registry entry with its result so far."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    campaign_id: int
    import_id: int
    row_number: int
    applicant_name: str
    phones: list[str]
    phone_timezones: list[str]
    case_number: str
    service: str
    office: str
    ready_date: str
    note: str
    raw: dict[str, Any]
    status: str
    attempts: int
    last_result: str
    last_call_at: datetime | None
    next_attempt_at: datetime | None
    confirmation_digit: str
    operator_comment: str
    updated_at: datetime


class EntryPage(BaseModel):
    """A page of entries."""

    total: int
    limit: int
    offset: int
    items: list[EntryOut]


class IdleOut(BaseModel):
    """Why a campaign dials nobody now."""

    reason: Literal[
        "draft", "paused", "finished", "no_entries", "all_done", "outside_window", "not_due"
    ]
    until: datetime | None = None  # in the office's time zone
    timezone: str = ""
    message: str  # in English; pages say it in their language


class Progress(BaseModel):
    """Where a campaign stands."""

    campaign_id: int
    status: str
    entries_total: int
    entries_by_status: dict[str, int]
    attempts_total: int
    attempts_by_result: dict[str, int]
    calls_in_flight: int  # Originates sent, result not known yet
    calls_queued: int = 0  # leased by a dialer, Originate not sent yet
    done: int  # entries that will not be called again
    done_ratio: float
    idle: IdleOut | None = None  # why nothing is dialled now; None: calls are due


class DoNotCallIn(BaseModel):
    """A number never to call again."""

    model_config = ConfigDict(extra="forbid")

    phone: str = Field(min_length=3, max_length=64)
    reason: str = Field(default="", max_length=255)

    @field_validator("phone", "reason")
    @classmethod
    def _text(cls, value: str) -> str:
        return check_text(value, "the text")


class DoNotCallOut(BaseModel):
    """A number on the do-not-call list."""

    model_config = ConfigDict(from_attributes=True)

    phone: str
    reason: str
    added_at: datetime
    added_by: str
