"""Why a running campaign dials nobody now, in words a supervisor can act on.

"Nothing happens" is the worst thing a campaign page can show: a campaign is idle
because it is not running, because every entry is done, because its calling window is
closed (until when, in the office's zone), or because the entries left wait for their
retry time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from callagent.campaigns.lease import DIALLABLE
from callagent.campaigns.window import CallingWindow, WindowError, zone
from callagent.db.campaign_models import Campaign, RegistryEntry

# reason -> what the supervisor can do about it (the API's message; pages translate)
MESSAGES = {
    "draft": "not started: upload a registry and press start",
    "paused": "paused: press start to go on",
    "finished": "finished",
    "no_entries": "no registry entries: upload a registry",
    "all_done": "every entry is done: nothing is left to call",
    "outside_window": "outside the calling window until {until}",
    "not_due": "no entries due: the next retry is at {until}",
}


@dataclass(frozen=True)
class Idle:
    """Why nothing is dialled: ``reason`` (a key of :data:`MESSAGES`) and until when."""

    reason: str
    until: datetime | None = None  # aware, in the office's zone
    timezone: str = ""

    @property
    def message(self) -> str:
        """The reason in English, the time in the office's zone."""
        until = f"{self.until:%a %d.%m %H:%M} {self.timezone}" if self.until else ""
        return MESSAGES[self.reason].format(until=until)


def idle_reasons(
    session: Session, *, campaigns: Sequence[Campaign], now: datetime
) -> dict[int, Idle | None]:
    """For each campaign, why it dials nobody now; None when entries are due (or calls
    are going). One grouped query for all of them."""
    ids = [campaign.id for campaign in campaigns]
    due_now = or_(RegistryEntry.next_attempt_at.is_(None), RegistryEntry.next_attempt_at <= now)
    stats = {
        int(cid): (int(total), int(due or 0), int(diallable or 0), earliest)
        for cid, total, due, diallable, earliest in session.execute(
            select(
                RegistryEntry.campaign_id,
                func.count(RegistryEntry.id),
                func.sum(
                    case(
                        (
                            RegistryEntry.status.in_(DIALLABLE)
                            & (RegistryEntry.attempts < Campaign.max_attempts)
                            & due_now,
                            1,
                        ),
                        else_=0,
                    )
                ),
                func.sum(
                    case(
                        (
                            RegistryEntry.status.in_(DIALLABLE)
                            & (RegistryEntry.attempts < Campaign.max_attempts),
                            1,
                        ),
                        else_=0,
                    )
                ),
                func.min(
                    case(
                        (
                            RegistryEntry.status.in_(DIALLABLE)
                            & (RegistryEntry.attempts < Campaign.max_attempts),
                            RegistryEntry.next_attempt_at,
                        ),
                    )
                ),
            )
            .join(Campaign, Campaign.id == RegistryEntry.campaign_id)
            .where(RegistryEntry.campaign_id.in_(ids))
            .group_by(RegistryEntry.campaign_id)
        )
    }
    return {
        campaign.id: _idle(campaign, stats.get(campaign.id, (0, 0, 0, None)), now)
        for campaign in campaigns
    }


def _idle(
    campaign: Campaign, stats: tuple[int, int, int, datetime | None], now: datetime
) -> Idle | None:
    total, due, diallable, earliest = stats
    if campaign.status in ("draft", "paused", "finished"):
        return Idle(campaign.status)
    if not total:
        return Idle("no_entries")
    if not diallable:
        return Idle("all_done")
    if due:
        return None
    try:
        office = zone(campaign.office_timezone)
        window = CallingWindow.parse(campaign.window or {}, campaign.holidays or [])
    except WindowError:
        return None  # the dialer logs why it does not dial this campaign
    until = earliest.astimezone(office) if earliest is not None else None
    if not window.is_open(now, office):
        opens = window.next_open(now, office)
        return Idle(
            "outside_window",
            max(filter(None, (opens, until)), default=None),
            campaign.office_timezone,
        )
    return Idle("not_due", until, campaign.office_timezone)
