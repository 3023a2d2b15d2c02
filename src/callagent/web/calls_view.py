"""How the call pages say things: a call's timeline and its wrap-ups in the page's
language, the people behind the phones, local times and numbers as pages show them.

Pure presentation over the call record (``CallDetail``) and the wrap-ups as the API
shows them (``WrapupOut``, already masked for the reader): no queries except
:meth:`People.load`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from callagent.api.schemas import CallDetail, CallSummary
from callagent.api.wrapups import WrapupOut
from callagent.auth.scopes import Role
from callagent.db.models import User
from callagent.web.phones import display_phone
from callagent.wrapup.forms import FormField, Forms


@dataclass(frozen=True, slots=True)
class People:
    """Who is behind a phone: the operators' names by endpoint, for a page's words."""

    names: dict[str, str]

    @classmethod
    def load(cls, db: Session) -> People:
        """Every user's phones (a handful of rows); an operator's name wins over another
        user's on a shared phone."""
        names: dict[str, str] = {}
        users = db.scalars(select(User).order_by(User.role != Role.OPERATOR.value, User.id))
        for user in users:
            for endpoint in user.endpoints or []:
                names.setdefault(endpoint, user.full_name or user.login)
        return cls(names)

    def of(self, endpoint: str | None) -> str:
        """The name of the phone's user, or the phone itself."""
        return self.names.get(endpoint or "", endpoint or "")


def seconds(value: float | None) -> str:
    """A duration as the tables show it: whole seconds, empty when unknown."""
    return "" if value is None else f"{value:.0f}"


def local(moment: datetime | None, zone: ZoneInfo, with_date: bool = True) -> str:
    """A moment in the office's zone, to the second (the date too unless ``with_date``)."""
    if moment is None:
        return ""
    if moment.tzinfo is None:  # stored in UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone).strftime("%d.%m.%Y %H:%M:%S" if with_date else "%H:%M:%S")


def number_of(call: CallSummary, region: str) -> str:
    """The applicant's number as pages show it (already masked without PII scope)."""
    return display_phone(call.applicant_number or call.caller_number or "", region)


@dataclass
class Line:
    """One line of a call's timeline: its local time, what happened, and a detail."""

    at: str
    event: str
    text: str
    detail: str = ""


@dataclass
class WrapupView:
    """A wrap-up as the call's page shows it, every value in the page's language."""

    operator: str
    status: str
    status_label: str
    category: str
    fields: list[tuple[str, str]]
    submitted_at: str
    deadline: str
    history: list[dict[str, Any]] = field(default_factory=list)


def _who(endpoint: str, call: CallDetail, people: People, words: dict[str, str]) -> str:
    """A timeline's actor: the operator's name, the applicant, or the phone itself."""
    if endpoint in people.names:
        return people.names[endpoint]
    roles = {leg.endpoint: leg.role for leg in call.legs}
    if roles.get(endpoint) == "trunk":
        return words["calls_applicant"]
    return endpoint or words["calls_system"]


# Timeline events about channels rather than people.
_PLUMBING = frozenset({"channel_created", "leg_joined", "leg_transferred"})


def _transfer_target(call: CallDetail, entry: dict[str, Any]) -> str:
    """The phone a transfer went to: the call's transfer record names it (the timeline's
    own ``target`` is a channel, a dialplan extension, or empty for an attended one)."""
    for transfer in call.transfers:
        same = transfer.get("at") == entry.get("at") and transfer.get("kind") == entry.get("kind")
        if same and transfer.get("target_endpoint"):
            return str(transfer["target_endpoint"])
    target = str(entry.get("target", "") or "")
    # a channel (``PJSIP/op1002-0000000a``) names its phone
    return target.rsplit("-", 1)[0] if "/" in target else target


def timeline(
    call: CallDetail, people: People, words: dict[str, str], zone: ZoneInfo, region: str
) -> list[Line]:
    """The call's story from its record, in order: offered, each ring and its result,
    answered, holds, transfers, who hung up, ended."""
    number = number_of(call, region)
    opening = "calls_ev_offered" if call.direction == "inbound" else "calls_ev_outbound"
    lines = [
        Line(local(call.started_at, zone, False), "offered", words[opening].format(who=number))
    ]
    missed = set()  # phones that rang without answering: their hang-up is not news
    roles = {leg.endpoint: leg.role for leg in call.legs}
    said: set[tuple[str, str]] = set()  # (event, endpoint): a phone's two channels say once
    for entry in sorted(call.timeline, key=lambda e: float(e.get("at") or 0)):
        event = str(entry.get("event", ""))
        endpoint = str(entry.get("endpoint", "") or entry.get("by_endpoint", "") or "")
        who = _who(endpoint, call, people, words)
        at = local(datetime.fromtimestamp(float(entry.get("at") or 0), UTC), zone, False)
        detail = ""
        if event in _PLUMBING or roles.get(endpoint) == "local":
            continue  # channels and Local halves: the lines below say what they did
        if event == "not_answered":
            missed.add(endpoint)
            outcome = str(entry.get("outcome", "unknown"))
            text = words["calls_ev_not_answered"].format(
                who=who, outcome=words.get(f"calls_outcome_{outcome}", outcome)
            )
        elif event == "hangup":
            if endpoint in missed or (event, endpoint) in said:
                continue
            said.add((event, endpoint))
            applicant = who == words["calls_applicant"]
            text = words["calls_ev_hangup_applicant" if applicant else "calls_ev_hangup"].format(
                who=who
            )
        elif event in ("transfer", "transfer_failed"):
            kind = str(entry.get("kind", ""))
            target = _transfer_target(call, entry)
            key = f"calls_ev_{event}" if target or event != "transfer" else "calls_ev_transfer_to"
            text = words[key].format(
                who=who,
                kind=words.get(f"calls_transfer_{kind}", kind),
                target=_who(target, call, people, words) if target else "",
            )
        elif event == "ended":
            text = words["calls_ev_ended"]
            if call.hangup_by:
                by = words.get(f"calls_hangup_{call.hangup_by}", call.hangup_by)
                detail = f"{words['calls_hangup_by']}: {by}"
        elif event == "queued":
            text = words["calls_ev_queued"].format(queue=entry.get("queue", ""))
        elif f"calls_ev_{event}" in words:
            text = words[f"calls_ev_{event}"].format(who=who)
        else:
            text = words["calls_ev_other"]
            detail = event
        lines.append(Line(at, event, text[:1].upper() + text[1:], detail))
    return lines


def _value(
    value: Any, spec: FormField | None, lang: str, words: dict[str, str], region: str
) -> str:
    """A wrap-up field's value as the page shows it: options by their label."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return words["calls_yes"] if value else words["calls_no"]
    labels = {o.value: o.label[lang] for o in spec.options} if spec is not None else {}
    if isinstance(value, list):
        return ", ".join(labels.get(str(v), str(v)) for v in value)
    if spec is not None and spec.type == "phone":
        return display_phone(str(value), region)
    return labels.get(str(value), str(value))


def _fields(
    category_id: str | None,
    values: dict[str, Any] | None,
    forms: Forms,
    lang: str,
    words: dict[str, str],
    region: str,
) -> list[tuple[str, str]]:
    """(label, value) of a wrap-up's fields, in the form's order."""
    category = forms.category(category_id or "")
    values = values or {}
    out: list[tuple[str, str]] = []
    known = {f.name for f in category.fields} if category else set()
    if category is not None:
        for spec in category.fields:
            if spec.name in values:
                out.append((spec.label[lang], _value(values[spec.name], spec, lang, words, region)))
    out += [(k, _value(v, None, lang, words, region)) for k, v in values.items() if k not in known]
    return out


def _category_title(category_id: str | None, forms: Forms, lang: str) -> str:
    category = forms.category(category_id or "")
    return category.title[lang] if category else (category_id or "—")


def wrapup_views(
    wrapups: list[WrapupOut],
    forms: Forms,
    users: dict[int, str],
    words: dict[str, str],
    lang: str,
    zone: ZoneInfo,
    region: str,
) -> list[WrapupView]:
    """The call's wrap-ups in the page's language, each with its corrections."""
    now = datetime.now(UTC)
    views = []
    for out in wrapups:
        status = out.status
        if status == "pending" and out.deadline <= now:
            status = "missed"
        history = []
        for change in out.history:
            changed: list[tuple[str, str, str]] = []
            if change.action == "corrected":
                old = dict(
                    _fields(change.old_category, change.old_fields, forms, lang, words, region)
                )
                new = dict(
                    _fields(change.new_category, change.new_fields, forms, lang, words, region)
                )
                if change.old_category != change.new_category:
                    changed.append(
                        (
                            words["calls_wrapup_category"],
                            _category_title(change.old_category, forms, lang),
                            _category_title(change.new_category, forms, lang),
                        )
                    )
                for label in dict.fromkeys([*old, *new]):
                    if old.get(label) != new.get(label):
                        changed.append((label, old.get(label, "—"), new.get(label, "—")))
            by = users.get(change.by_user_id or 0, change.by)
            history.append(
                {
                    "at": local(change.at, zone),
                    "action": words.get(f"calls_history_{change.action}", change.action),
                    "by": by,
                    "changes": changed,
                }
            )
        views.append(
            WrapupView(
                operator=users.get(out.operator_id, str(out.operator_id)),
                status=status,
                status_label=words.get(f"wrapup_status_{status}", status),
                category=_category_title(out.category, forms, lang) if out.category else "—",
                fields=_fields(out.category, out.fields, forms, lang, words, region),
                submitted_at=local(out.submitted_at, zone),
                deadline=local(out.deadline, zone),
                history=history,
            )
        )
    return views
