"""Campaigns in the database: create, change, start/pause, progress, entries, do-not-call.

Keyword-only services over a Session; no HTTP here. Errors are :class:`NotFound` and
:class:`Conflict` with a message saying what to do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import String, cast, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callagent.auth.masking import mask_name, mask_phone
from callagent.campaigns.idle import Idle, idle_reasons
from callagent.campaigns.phones import normalise
from callagent.campaigns.reschedule import SCHEDULE_FIELDS, reschedule_pending
from callagent.campaigns.schemas import (
    CampaignCreate,
    CampaignUpdate,
    EntryOut,
    IdleOut,
    Progress,
)
from callagent.db.campaign_models import (
    ENTRY_STATUSES,
    Campaign,
    DoNotCall,
    NotificationAttempt,
    RegistryEntry,
    RegistryImport,
    utcnow,
)
from callagent.errors import ServiceError

DONE_STATUSES = frozenset({"notified", "not_notified", "invalid", "do_not_call"})
IN_FLIGHT = "in_flight"  # attempts whose result is not known yet ('' in the table)


class CampaignError(ServiceError):
    """A campaign operation that cannot be done: the message says why; each kind of
    refusal has its own HTTP status."""

    status = 400

    def __init__(
        self, detail: str, *, code: str = "", params: dict[str, Any] | None = None
    ) -> None:
        super().__init__(type(self).status, detail, code=code, params=params)


class NotFound(CampaignError):
    """No such campaign, import or number."""

    status = 404


class Conflict(CampaignError):
    """The operation clashes with the current state (a taken name, a wrong status)."""

    status = 409


def create_campaign(session: Session, *, spec: CampaignCreate, actor: str = "") -> Campaign:
    """Add a campaign (status draft) and commit."""
    campaign = Campaign(**spec.model_dump(), status="draft", created_by=actor[:160])
    session.add(campaign)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(
            f"a campaign named {spec.name!r} exists already: pick another name",
            code="campaign_name_taken",
            params={"name": spec.name},
        ) from exc
    return campaign


def list_campaigns(session: Session) -> Sequence[Campaign]:
    """Every campaign, newest first."""
    return session.scalars(select(Campaign).order_by(Campaign.id.desc())).all()


def get_campaign(session: Session, *, campaign_id: int) -> Campaign:
    """The campaign with this id, else NotFound."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"no campaign with id {campaign_id}")
    return campaign


def find_campaign(session: Session, *, ref: str) -> Campaign:
    """A campaign by name (or by id when ``ref`` is a number), else NotFound."""
    campaign = session.scalar(select(Campaign).where(Campaign.name == ref.strip()))
    if campaign is None and ref.strip().isdigit():
        campaign = session.get(Campaign, int(ref.strip()))
    if campaign is None:
        names = session.scalars(select(Campaign.name).order_by(Campaign.name).limit(20)).all()
        known = ", ".join(repr(n) for n in names) or "none yet (callagent campaigns add NAME)"
        raise NotFound(f"no campaign named {ref!r}; campaigns: {known}")
    return campaign


def update_campaign(session: Session, *, campaign: Campaign, change: CampaignUpdate) -> Campaign:
    """Change the given settings and commit; a new window, holidays, zone, retry delays or
    attempts reschedule the pending entries at once (:mod:`callagent.campaigns.reschedule`)."""
    changed = change.model_dump(exclude_unset=True)
    for key, value in changed.items():
        if value is None:
            raise Conflict(f"{key} cannot be null: leave it out to keep it")
        setattr(campaign, key, value)
    campaign.updated_at = utcnow()
    if SCHEDULE_FIELDS & changed.keys():
        session.flush()
        reschedule_pending(session, campaign=campaign, now=campaign.updated_at)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(f"a campaign named {change.name!r} exists already") from exc
    return campaign


def set_status(session: Session, *, campaign: Campaign, action: str) -> Campaign:
    """``start`` (draft/paused/finished -> running) or ``pause`` (running -> paused)."""
    if action == "start":
        if campaign.status == "running":
            return campaign
        entries = session.scalar(
            select(func.count(RegistryEntry.id)).where(RegistryEntry.campaign_id == campaign.id)
        )
        if not entries:
            raise Conflict(
                f"campaign {campaign.name!r} has no registry entries: import a registry first",
                code="campaign_empty",
            )
        campaign.status = "running"
        reschedule_pending(session, campaign=campaign, now=utcnow())
    elif action == "pause":
        if campaign.status == "paused":
            return campaign
        if campaign.status != "running":
            raise Conflict(
                f"campaign {campaign.name!r} is {campaign.status}, not running: nothing to pause",
                code="campaign_not_running",
                params={"status": campaign.status},
            )
        campaign.status = "paused"
    else:
        raise ValueError(f"unknown action {action!r}")
    campaign.updated_at = utcnow()
    session.commit()
    return campaign


def progress(session: Session, *, campaign: Campaign) -> Progress:
    """Entries by status, attempts by result and calls in flight."""
    return progress_of_many(session, campaigns=[campaign])[campaign.id]


def progress_of_many(session: Session, *, campaigns: Sequence[Campaign]) -> dict[int, Progress]:
    """:func:`progress` of several campaigns in two grouped queries, by campaign id."""
    ids = [campaign.id for campaign in campaigns]
    by_status = {cid: dict.fromkeys(ENTRY_STATUSES, 0) for cid in ids}
    for cid, status, count in session.execute(
        select(RegistryEntry.campaign_id, RegistryEntry.status, func.count(RegistryEntry.id))
        .where(RegistryEntry.campaign_id.in_(ids))
        .group_by(RegistryEntry.campaign_id, RegistryEntry.status)
    ):
        by_status[cid][status] = int(count)
    by_result: dict[int, dict[str, int]] = {cid: {} for cid in ids}
    queued = dict.fromkeys(ids, 0)
    sent = NotificationAttempt.originated_at.is_not(None)
    for cid, result, was_sent, count in session.execute(
        select(
            NotificationAttempt.campaign_id,
            NotificationAttempt.result,
            sent,
            func.count(NotificationAttempt.id),
        )
        .where(NotificationAttempt.campaign_id.in_(ids))
        .group_by(NotificationAttempt.campaign_id, NotificationAttempt.result, sent)
    ):
        if not result and not was_sent:  # leased, not dialled yet: not an attempt so far
            queued[cid] += int(count)
            continue
        key = result or IN_FLIGHT
        by_result[cid][key] = by_result[cid].get(key, 0) + int(count)
    idle = idle_reasons(session, campaigns=campaigns, now=utcnow())
    return {
        campaign.id: _progress(
            campaign,
            by_status[campaign.id],
            by_result[campaign.id],
            queued[campaign.id],
            idle[campaign.id],
        )
        for campaign in campaigns
    }


def _progress(
    campaign: Campaign,
    by_status: dict[str, int],
    by_result: dict[str, int],
    queued: int,
    idle: Idle | None,
) -> Progress:
    total = sum(by_status.values())
    done = sum(count for status, count in by_status.items() if status in DONE_STATUSES)
    return Progress(
        campaign_id=campaign.id,
        status=campaign.status,
        entries_total=total,
        entries_by_status=by_status,
        attempts_total=sum(by_result.values()),
        attempts_by_result=dict(sorted(by_result.items())),
        calls_in_flight=by_result.get(IN_FLIGHT, 0),
        calls_queued=queued,
        done=done,
        done_ratio=round(done / total, 4) if total else 0.0,
        idle=None
        if idle is None
        else IdleOut(
            reason=idle.reason, until=idle.until, timezone=idle.timezone, message=idle.message
        ),
    )


def list_imports(session: Session, *, campaign_id: int) -> Sequence[RegistryImport]:
    """The campaign's imports, newest first."""
    return session.scalars(
        select(RegistryImport)
        .where(RegistryImport.campaign_id == campaign_id)
        .order_by(RegistryImport.id.desc())
    ).all()


def get_import(session: Session, *, campaign_id: int, import_id: int) -> RegistryImport:
    """One import of the campaign, else NotFound."""
    record = session.get(RegistryImport, import_id)
    if record is None or record.campaign_id != campaign_id:
        raise NotFound(f"campaign {campaign_id} has no registry import {import_id}")
    return record


def list_entries(
    session: Session,
    *,
    campaign_id: int,
    status: str | None = None,
    import_id: int | None = None,
    phone: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, Sequence[RegistryEntry]]:
    """(total matching, one page) of the campaign's entries in registry order."""
    query = select(RegistryEntry).where(RegistryEntry.campaign_id == campaign_id)
    if status:
        query = query.where(RegistryEntry.status == status)
    if import_id is not None:
        query = query.where(RegistryEntry.import_id == import_id)
    if phone:
        number = normalise(phone) or phone.strip()
        query = query.where(cast(RegistryEntry.phones, String).contains(number, autoescape=True))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(RegistryEntry.import_id, RegistryEntry.row_number, RegistryEntry.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return int(total), rows


def _looks_like_phone(value: str) -> bool:
    return sum(ch.isdigit() for ch in value) >= 7


def mask_values(values: Mapping[str, Any], name_keys: frozenset[str]) -> dict[str, Any]:
    """Registry cells as a reader without calls:read_pii sees them: names as initials,
    anything that looks like a phone number masked."""
    masked: dict[str, Any] = {}
    for key, value in values.items():
        text = str(value)
        if key in name_keys:
            masked[key] = mask_name(text)
        elif _looks_like_phone(text):
            masked[key] = mask_phone(text)
        else:
            masked[key] = value
    return masked


def name_keys(mapping: Mapping[str, Any]) -> frozenset[str]:
    """The header keys of the applicant's name in an import's mapping."""
    return frozenset(str(k) for k in mapping.get("name", []))


def masked_entry(entry: EntryOut, names: frozenset[str]) -> EntryOut:
    """The entry without personal data in the clear."""
    return entry.model_copy(
        update={
            "applicant_name": mask_name(entry.applicant_name),
            "phones": [mask_phone(p) for p in entry.phones],
            "raw": mask_values(entry.raw, names),
        }
    )


def masked_report(report: list[dict[str, Any]], names: frozenset[str]) -> list[dict[str, Any]]:
    """An import report with the rows' values masked."""
    return [{**item, "values": mask_values(item.get("values", {}), names)} for item in report]


def add_do_not_call(
    session: Session, *, phone: str, reason: str, actor: str, region: str = "RU"
) -> tuple[DoNotCall, int]:
    """Put a number on the do-not-call list and take it out of pending entries; commit.

    Returns the row and how many pending entries had no other number left (they become
    ``do_not_call``). Raises ValueError for a number that is not valid.
    """
    number = normalise(phone, region)
    if number is None:
        raise ValueError(
            f"{mask_phone(phone)} is not a valid phone number (region {region} when written "
            "without a country code)"
        )
    row = session.get(DoNotCall, number)
    if row is None:
        row = DoNotCall(phone=number, reason=reason[:255], added_by=actor[:160])
        session.add(row)
    stopped = block_entries(session, phone=number)
    session.commit()
    return row, stopped


def block_entries(session: Session, *, phone: str) -> int:
    """Drop ``phone`` from pending entries; those left without a number become do_not_call.

    Does not commit (the caller's transaction, e.g. the dialer's DTMF 9).
    """
    stopped = 0
    rows = session.scalars(
        select(RegistryEntry)
        .where(RegistryEntry.status == "pending")
        .where(cast(RegistryEntry.phones, String).contains(phone))
    )
    for entry in rows:
        if phone not in entry.phones:
            continue
        keep = [
            (p, z)
            for p, z in zip(
                entry.phones, entry.phone_timezones or [""] * len(entry.phones), strict=False
            )
            if p != phone
        ]
        entry.phones = [p for p, _ in keep]
        entry.phone_timezones = [z for _, z in keep]
        if not keep:
            entry.status = "do_not_call"
            entry.phones = [phone]
            entry.phone_timezones = [""]
            stopped += 1
        entry.updated_at = utcnow()
    return stopped


def remove_do_not_call(session: Session, *, phone: str, region: str = "RU") -> None:
    """Take a number off the do-not-call list (entries stopped earlier stay as they are)."""
    number = normalise(phone, region) or phone.strip()
    row = session.get(DoNotCall, number)
    if row is None:
        raise NotFound(f"{mask_phone(phone)} is not on the do-not-call list")
    session.delete(row)
    session.commit()


def list_do_not_call(
    session: Session, *, limit: int = 100, offset: int = 0
) -> tuple[int, Sequence[DoNotCall]]:
    """(total, one page) of the do-not-call list, newest first."""
    total = session.scalar(select(func.count()).select_from(DoNotCall)) or 0
    rows = session.scalars(
        select(DoNotCall)
        .order_by(DoNotCall.added_at.desc(), DoNotCall.phone)
        .limit(limit)
        .offset(offset)
    ).all()
    return int(total), rows
