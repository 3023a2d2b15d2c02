"""The service dials its running campaigns itself (``CALLAGENT_CAMPAIGN_SCHEDULER=on``).

A lifespan task: a :class:`~callagent.campaigns.dialer.Dialer` that never ends,
on its own AMI connection to the first node (the Originates' answers and events
come back on it; the service's listener sees the same calls and keeps their
records). ``callagent campaign run`` from cron may run beside it: the leases
keep them from dialling one entry twice.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from callagent.ami.client import AmiClient
from callagent.campaigns.dialer import Dialer, DialerConfig, PreviewHook
from callagent.config import AmiNode, Settings
from callagent.db.campaign_models import Campaign
from callagent.routing.operators import OperatorBook

log = logging.getLogger(__name__)


def dialer_config(settings: Settings) -> DialerConfig:
    """The dialer's timings from the settings."""
    return DialerConfig(
        ring_timeout=float(settings.campaign_ring_timeout),
        response_timeout=settings.campaign_response_timeout,
        lease_seconds=settings.campaign_lease_seconds,
        max_call_seconds=settings.campaign_max_call_seconds,
        poll_interval=settings.campaign_poll_interval,
        operator_context=settings.originate_context,
    )


def ami_client(node: AmiNode, settings: Settings, dialer: Dialer) -> AmiClient:
    """An AMI connection whose events settle the dialer's attempts."""
    client = AmiClient.from_settings(node, settings, on_event=dialer.on_event)
    dialer.client = client
    return client


def live_preview(state: Any) -> PreviewHook:
    """Operator mode: show the entry on the operator's page (the live hub, when there)."""

    def show(user_id: int, data: dict[str, Any]) -> None:
        hub = getattr(state, "live", None)
        if hub is not None:
            hub.publish_threadsafe(user_id, "campaign_preview", data)

    return show


async def run_scheduler(
    settings: Settings,
    sessions: sessionmaker[Session],
    *,
    book: OperatorBook | None = None,
    preview: PreviewHook | None = None,
) -> None:
    """Dial every running campaign until cancelled.

    The AMI connection is opened only once a campaign is running: a service without
    campaigns keeps a single AMI connection.
    """
    if not settings.ami_nodes:
        return
    while True:  # polling the database: a campaign may be started by another process
        if await asyncio.to_thread(_any_running, sessions):
            break
        await asyncio.sleep(settings.campaign_poll_interval)
    dialer = Dialer(
        sessions,
        config=dialer_config(settings),
        forever=True,
        owner=f"service-{socket.gethostname()}-{os.getpid()}",
        book=book,
        preview=preview,
    )
    client = ami_client(settings.ami_nodes[0], settings, dialer)
    connection = asyncio.create_task(client.run())
    log.info("campaign scheduler started (CALLAGENT_CAMPAIGN_SCHEDULER=off to disable)")
    try:
        await dialer.run()
    finally:
        dialer.stop()
        await client.stop()
        connection.cancel()
        await asyncio.gather(connection, return_exceptions=True)


def _any_running(sessions: sessionmaker[Session]) -> bool:
    try:
        with sessions() as session:
            found = session.scalar(select(Campaign.id).where(Campaign.status == "running").limit(1))
    except Exception as exc:  # the database may be away for a while
        log.warning("campaign scheduler: cannot read campaigns: %s", type(exc).__name__)
        return False
    return found is not None
