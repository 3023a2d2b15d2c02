"""Storing what came of attempts: the attempt's result, its entry's new state, the webhook.

One function for both who settle attempts: the run that placed the call (from the AMI
events it watched) and a later pass that settles the calls of a run that went away
(:mod:`callagent.campaigns.orphans`, from what the PBX reported to the service). All in
the caller's transaction, with plain rows and bulk UPDATEs by primary key: this runs
for every call.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from callagent.campaigns.lease import CampaignPlan, Leased
from callagent.campaigns.results import PROMPT_MISSING, Watched, entry_update
from callagent.db.campaign_models import Campaign, DoNotCall, NotificationAttempt, RegistryEntry
from callagent.db.models import Call
from callagent.prompts import DEFAULT_SOUNDS_DIR
from callagent.webhooks.outbox import Event, enqueue_many

log = logging.getLogger(__name__)

WRAPUP_OWNER = "wrapup"  # lease owner of an operator-mode entry waiting for its wrap-up
WRAPUP_WAIT = timedelta(days=1)


@dataclass(frozen=True)
class Settled:
    """One attempt's outcome, to be stored.

    ``owner``: the lease its entry must still be under for the entry to follow the
    result (the run that placed the call); None: store the attempt only.
    """

    plan: CampaignPlan
    item: Leased
    watched: Watched
    outcome: str
    owner: str | None


def store_results(session: Session, batch: Sequence[Settled], *, node: str, now: datetime) -> None:
    """Results, entries' new states and webhooks of many attempts (caller's transaction)."""
    if not batch:
        return
    entries = {
        row.id: row
        for row in session.execute(
            select(
                RegistryEntry.id,
                RegistryEntry.attempts,
                RegistryEntry.lease_owner,
                RegistryEntry.confirmation_digit,
                RegistryEntry.case_number,
            ).where(RegistryEntry.id.in_([s.item.entry_id for s in batch]))
        )
    }
    digits: dict[int, str] = {}
    missing: dict[int, str] = {}  # the notify script's: the prompt the PBX lacks
    for attempt_id, digit, prompt in session.execute(
        select(
            NotificationAttempt.id,
            NotificationAttempt.digit,
            NotificationAttempt.missing_prompt,
        ).where(NotificationAttempt.id.in_([s.item.attempt_id for s in batch]))
    ):
        digits[int(attempt_id)], missing[int(attempt_id)] = str(digit), str(prompt)
    calls = {
        str(linkedid): int(call_id)
        for linkedid, call_id in session.execute(
            select(Call.linkedid, Call.id).where(
                Call.node == node, Call.linkedid.in_([s.item.channel_id for s in batch])
            )
        )
    }
    events: list[Event] = []
    stop_campaigns: dict[int, CampaignPlan] = {}
    attempt_rows: list[dict[str, Any]] = []
    entry_rows: list[dict[str, Any]] = []
    blocked: set[str] = set()
    for settled in batch:
        plan, item, watched, outcome = settled.plan, settled.item, settled.watched, settled.outcome
        entry = entries.get(item.entry_id)
        if entry is None or item.attempt_id not in digits:
            continue  # the campaign was deleted meanwhile
        digit = digits[item.attempt_id] or watched.digit
        if outcome == "answered" and missing[item.attempt_id]:
            outcome = PROMPT_MISSING  # stored by the notify script, seen before AMI's
        if outcome == PROMPT_MISSING:
            stop_campaigns[plan.id] = plan
        attempt = {
            "id": item.attempt_id,
            "result": outcome,
            "cause": watched.cause,
            "digit": digit,
            "missing_prompt": missing[item.attempt_id],
            "ended_at": now,
            "call_id": calls.get(item.channel_id),
        }
        attempt_rows.append(attempt)
        if settled.owner is None:
            continue
        if entry.lease_owner != settled.owner:
            log.warning(
                "campaign %s: entry %s was taken by another run meanwhile (lease "
                "expired); only the attempt is stored",
                plan.name,
                entry.id,
            )
            continue
        change = entry_update(
            result=outcome,
            digit=digit,
            operator_answered=watched.operator_answered,
            attempts=entry.attempts,
            max_attempts=plan.max_attempts,
            retry_delays=plan.retry_delays,
            mode=plan.mode,
            now=now,
        )
        waiting = change.status == "in_progress"  # operator mode: the wrap-up decides
        attempts = entry.attempts if change.attempt_counted else max(0, entry.attempts - 1)
        values = {
            "id": entry.id,
            "attempts": attempts,
            "status": change.status,
            "last_result": change.last_result,
            "next_attempt_at": change.next_attempt_at,
            "confirmation_digit": change.confirmation_digit or entry.confirmation_digit,
            "updated_at": now,
            "lease_owner": WRAPUP_OWNER if waiting else "",
            "lease_until": now + WRAPUP_WAIT if waiting else None,
        }
        entry_rows.append(values)
        if change.do_not_call and item.phone not in blocked:
            blocked.add(item.phone)
            if session.get(DoNotCall, item.phone) is None:
                session.add(
                    DoNotCall(
                        phone=item.phone,
                        reason="asked with DTMF 9 during a notification call",
                        added_at=now,
                        added_by=f"campaign:{plan.name}",
                    )
                )
        events.append(result_event(plan, {**values, "case_number": entry.case_number}, attempt))
    enqueue_many(session, event_type="notification.result", events=events)
    for stopped in stop_campaigns.values():
        pause_for_prompts(session, stopped)
    if attempt_rows:
        session.execute(update(NotificationAttempt), attempt_rows)
    if entry_rows:
        session.execute(update(RegistryEntry), entry_rows)


def pause_for_prompts(session: Session, plan: CampaignPlan) -> None:
    """A prompt is missing on the PBX: every further applicant would hear nothing.

    The campaign is paused (its loop sees it within 2 s); its entries wait, their
    attempts not counted, until the prompts are installed and it is started again.
    """
    paused = session.execute(
        update(Campaign)
        .where(Campaign.id == plan.id, Campaign.status == "running")
        .values(status="paused")
        .execution_options(synchronize_session=False)
    )
    if paused.rowcount:  # type: ignore[attr-defined]
        log.error(
            "campaign %s paused: the PBX could not play its message (prompt_missing); "
            "install the prompts (callagent prompts install %s, check with callagent "
            "prompts check) and start the campaign again",
            plan.name,
            DEFAULT_SOUNDS_DIR,
        )


def result_event(plan: CampaignPlan, entry: dict[str, Any], attempt: dict[str, Any]) -> Event:
    """The ``notification.result`` webhook of one attempt (no phone, no name)."""
    following = entry["next_attempt_at"]
    return Event(
        subject=f"attempt:{attempt['id']}:{attempt['result']}",
        ordering_key=f"entry:{entry['id']}",
        data={
            "campaign_id": plan.id,
            "campaign": plan.name,
            "entry_id": entry["id"],
            "case_number": entry["case_number"],
            "attempt_id": attempt["id"],
            "result": attempt["result"],
            "cause": attempt["cause"],
            "digit": attempt["digit"],
            "missing_prompt": attempt.get("missing_prompt", ""),
            "status": entry["status"],
            "attempts": entry["attempts"],
            "last_result": entry["last_result"],
            "next_attempt_at": following.isoformat() if following else None,
            "call_id": attempt["call_id"],
            "at": attempt["ended_at"].isoformat(),
        },
    )
