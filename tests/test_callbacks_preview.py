"""The operator's page previews a call-back before and while it is dialled (issue #13), in
headless Chromium on SQLite and PostgreSQL: the real call-back dialer (its own AMI
connection) against the simulator's operator-first calls, the live stream between them.
The applicant is busy at first: the panel goes when that call ends, and the second
attempt's preview says it is the second. Without calls:read_pii the preview's name and number are
masked by the live stream."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, expect

from callagent.ami.client import AmiClient
from callagent.auth.scopes import Role, Scope
from callagent.auth.service import Principal
from callagent.callbacks.dialer import CallbackDialer, DialerConfig
from callagent.callbacks.service import submit
from callagent.sim.outbound import OutboundPbx, outcome_plan
from callagent.web.live import LiveEvent, _masked
from tests.conftest import TRACES, RunningService, running_service, wait_for
from tests.test_callbacks_dialer import POLICY, task_row
from tests.test_operator_page import ARTIFACTS, add_operator, browser, operator_page  # noqa: F401
from tests.test_questions_page import backend
from tests.test_routing import agi_port

pytestmark = pytest.mark.asyncio(loop_scope="module")
PHONE = "+79161110004"


@contextlib.asynccontextmanager
async def live_dialer(
    service: RunningService, plan: dict[str, Any]
) -> AsyncIterator[CallbackDialer]:
    """The call-back dialer as ``callagent serve`` wires it: its previews go to the
    operators' live streams (``app.state.live``)."""
    state: Any = service.app.state
    sim = OutboundPbx(
        service.pbx, TRACES, outcome=outcome_plan(plan), agi_port=agi_port(service), speed=5.0
    )

    async def decide(linkedid: str, priority: int) -> dict[str, str]:
        return await state.agi.call(
            state.router.decide(linkedid=linkedid, previous="", topic=None, priority=priority)
        )

    dialer = CallbackDialer(
        state.sessions,
        policy=POLICY,
        book=state.book,
        config=DialerConfig(
            ring_timeout=10.0, answer_grace=5.0, poll_interval=0.1, failure_grace=0.5
        ),
        decide=decide,
        forget=state.router.forget,
        preview=lambda user, data: state.live.publish_threadsafe(user, "callback_preview", data),
    )
    client = AmiClient.from_settings(
        service.settings.ami_nodes[0], service.settings, on_event=dialer.on_event
    )
    dialer.client = client
    connection = asyncio.create_task(client.run())
    runner: asyncio.Task[None] | None = None
    try:
        await wait_for(lambda: client.connected)
        runner = asyncio.create_task(dialer.run())
        yield dialer
    finally:
        dialer.stop()
        if runner is not None:
            await asyncio.wait_for(runner, 20)
        await sim.stop()
        await client.stop()
        connection.cancel()
        await asyncio.gather(connection, return_exceptions=True)


async def test_the_operator_sees_who_is_called_back(db_url: str, browser: Browser) -> None:  # noqa: F811
    async with running_service(db_url, callback_dialer="off", campaign_scheduler="off") as service:
        add_operator(service)
        await wait_for(lambda: service.monitor.clients[0].connected)
        zone = ZoneInfo(service.settings.timezone)
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        start, end = now - timedelta(minutes=1), now + timedelta(hours=2)
        with service.app.state.sessions.begin() as session:  # type: ignore[attr-defined]
            task = submit(
                session,
                policy=POLICY,
                name="Петренко Ольга",
                phone=PHONE,
                topic="Загранпаспорт",
                window_from=start,
                window_to=end,
                language="ru",
                now=now,
            )
            assert task is not None
            task_id = task.id
        window = f"{start.astimezone(zone):%d.%m, %H:%M} — {end.astimezone(zone):%d.%m, %H:%M}"
        async with operator_page(browser, service, f"callback-preview-{backend(db_url)}") as page:
            await page.keyboard.press("Alt+R")
            await expect(page.locator("#state")).to_have_attribute("data-state", "ready")
            panel = page.locator("#callback-preview")
            await expect(panel).to_be_hidden()
            async with live_dialer(service, {PHONE: ["busy", "answered"]}) as dialer:
                # shown before our phone rings, with the attempts so far
                attempt = page.locator("#cbp-attempt")
                await expect(attempt).to_have_text("1 из 3", timeout=30_000)
                await expect(panel).to_be_visible()
                await expect(panel.locator("h2")).to_have_text("Обратный звонок по заявке с сайта")
                await expect(page.locator("#cbp-name")).to_have_text("Петренко Ольга")
                await expect(page.locator("#cbp-phone")).to_have_text("+7 916 111-00-04")
                await expect(page.locator("#cbp-topic")).to_have_text("Загранпаспорт")
                await expect(page.locator("#cbp-window")).to_have_text(window)
                assert await panel.get_attribute("data-task") == str(task_id)
                await page.screenshot(
                    path=str(ARTIFACTS / f"callback-preview-{backend(db_url)}.png"), full_page=True
                )
                # the applicant was busy: the call ended, the panel goes with it
                await wait_for(lambda: len(dialer.results) == 1, timeout=40)
                await expect(panel).to_be_hidden(timeout=20_000)
                # ready again (the busy call's wrap-up can wait): the second attempt
                await page.keyboard.press("Alt+R")
                await expect(attempt).to_have_text("2 из 3", timeout=30_000)
                await expect(panel).to_be_visible()
                await wait_for(lambda: len(dialer.results) == 2, timeout=40)
            assert [result for _, result in dialer.results] == ["busy", "answered"]
            await expect(panel).to_be_hidden(timeout=20_000)  # the call ended
            got = task_row(service, task_id)
            assert (got.status, got.attempts) == ("done", 2)


async def test_the_preview_is_masked_without_the_pii_scope() -> None:
    data = {"task_id": 1, "name": "Петренко Ольга", "phone": PHONE, "topic": "Загранпаспорт"}
    event = LiveEvent("b-1", "callback_preview", data)
    masked = _masked(event, Principal(actor="token:1:x", scopes=frozenset({Scope.OPERATORS_STATE})))
    assert masked.data["name"] != "Петренко Ольга" and "Ольга" not in masked.data["name"]
    assert masked.data["phone"] != PHONE and masked.data["phone"].endswith("04")
    assert masked.data["topic"] == "Загранпаспорт"
    clear = _masked(
        event,
        Principal(
            actor="user:ivanova",
            scopes=frozenset({Scope.OPERATORS_STATE, Scope.CALLS_READ_PII}),
            role=Role.OPERATOR,
        ),
    )
    assert clear.data == data
