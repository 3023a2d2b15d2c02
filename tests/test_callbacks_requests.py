"""Website call-back requests: the site key, replays, limits, the fields' checks in ru/uk/en,
no enumeration; over real HTTP on SQLite and PostgreSQL (the guards also as pure tests)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.exceptions import RequestValidationError
from sqlalchemy import func, select

from callagent.api.callbacks_public import MESSAGES, check_body
from callagent.callbacks.guard import Limits, SiteKey
from callagent.callbacks.models import CallbackRequest, CallbackTask
from callagent.webhooks.signing import sign
from tests.conftest import RunningService, running_service

SECRET = "site-key-" + "x" * 24
PATH = "/api/v1/callbacks/requests"
NOW = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)  # a Monday, 08:00 in Moscow


def _body(**extra: Any) -> dict[str, Any]:
    start = datetime.now(UTC) + timedelta(minutes=5)
    body: dict[str, Any] = {
        "name": "Иванова Мария",
        "phone": "+7 916 123-45-67",
        "topic": "Паспорт",
        "window_from": start.isoformat(),
        "window_to": (start + timedelta(hours=3)).isoformat(),
        "consent": True,
    }
    body.update(extra)
    return body


def signed(body: dict[str, Any] | bytes, *, secret: str = SECRET, stamp: int | None = None):  # type: ignore[no-untyped-def]
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    stamp = int(time.time()) if stamp is None else stamp
    headers = {
        "X-Callagent-Timestamp": str(stamp),
        "X-Callagent-Signature": sign(secret, stamp, raw),
        "Content-Type": "application/json",
    }
    return raw, headers


def _stored(service: RunningService) -> tuple[int, int]:
    with service.app.state.sessions() as session:  # type: ignore[attr-defined]
        requests = session.scalar(select(func.count(CallbackRequest.id)))
        tasks = session.scalar(select(func.count(CallbackTask.id)))
    return int(requests or 0), int(tasks or 0)


# ------------------------------------------------------------------ pure guards


def test_the_site_key_refuses_forged_missing_stale_and_replayed_requests() -> None:
    key = SiteKey(SECRET, max_seen=3)
    body = b'{"a": 1}'
    now = 1_800_000_000
    good = sign(SECRET, now, body)
    assert key.problem(timestamp="", signature="", body=body, now=now) == (
        "callback_signature_missing"
    )
    forged = sign("another-secret-of-the-attacker", now, body)
    assert key.problem(timestamp=str(now), signature=forged, body=body, now=now) == (
        "callback_signature_invalid"
    )
    # the body changed after signing
    assert key.problem(timestamp=str(now), signature=good, body=b'{"a": 2}', now=now) == (
        "callback_signature_invalid"
    )
    assert key.problem(timestamp="soon", signature=good, body=body, now=now) == (
        "callback_signature_invalid"
    )
    stale = sign(SECRET, now - 301, body)
    assert key.problem(timestamp=str(now - 301), signature=stale, body=body, now=now) == (
        "callback_signature_stale"
    )
    assert key.problem(timestamp=str(now), signature=good, body=body, now=now) is None
    assert key.problem(timestamp=str(now), signature=good, body=body, now=now + 1) == (
        "callback_signature_replayed"
    )
    # bounded memory: a few more accepted push the oldest out (which is stale by then
    # in real life: the replay window is the same five minutes)
    for n in range(5):
        raw = f'{{"n": {n}}}'.encode()
        assert (
            key.problem(timestamp=str(now), signature=sign(SECRET, now, raw), body=raw, now=now)
            is None
        )
    assert len(key._seen) == 3


def test_limits_per_number_and_per_address() -> None:
    limits = Limits(per_number=2, per_address=3)
    assert [limits.number_allows("+79161234567", 0.0) for _ in range(3)] == [True, True, False]
    assert limits.number_allows("+79161234568", 0.0)  # another number
    assert limits.number_allows("+79161234567", 86_401.0)  # a day later
    for _ in range(3):
        assert limits.address_wait("10.0.0.1", 0.0) == 0
        limits.count_address("10.0.0.1", 0.0)
    assert limits.address_wait("10.0.0.1", 10.0) == 3591
    assert limits.address_wait("10.0.0.2", 10.0) == 0


@pytest.mark.parametrize("language", ["ru", "uk", "en"])
def test_every_field_problem_is_named_in_the_language(language: str) -> None:
    raw = json.dumps(
        {
            "name": " ",
            "phone": "12",
            "window_from": "tomorrow",
            "window_to": "2026-12-07T10:00",
            "consent": False,
            "colour": "red",
            "language": "de",
        }
    ).encode()
    with pytest.raises(RequestValidationError) as caught:
        check_body(raw, language=language, region="RU", centre="Europe/Moscow", now=NOW)
    found = {(tuple(e["loc"]), e["type"]): e["msg"] for e in caught.value.errors()}
    assert set(found) == {
        (("body", "colour"), "callback_unknown_field"),
        (("body", "name"), "callback_name_empty"),
        (("body", "phone"), "callback_phone_invalid"),
        (("body", "window_from"), "callback_time_invalid"),
        (("body", "consent"), "callback_consent_needed"),
        (("body", "language"), "callback_language"),
    }
    for (_, code), text in found.items():
        assert text.split(": ", 1)[1] == MESSAGES[code][language].split(": ", 1)[1]


def test_the_window_is_read_in_the_numbers_zone_and_checked() -> None:
    def window(start: str, end: str, phone: str = "+7 383 200-00-00") -> dict[str, Any]:
        raw = json.dumps(
            {"name": "A", "phone": phone, "window_from": start, "window_to": end, "consent": True}
        ).encode()
        return check_body(raw, language="en", region="RU", centre="Europe/Moscow", now=NOW)

    # a Novosibirsk landline: 14:00 local is 07:00 UTC; a Moscow mobile: the centre's zone
    got = window("2026-12-07T14:00", "2026-12-07T16:00")
    assert got["window_from"] == datetime(2026, 12, 7, 7, 0, tzinfo=UTC)
    assert got["phone"] == "+73832000000" and got["language"] == "en"
    got = window("2026-12-07T14:00", "2026-12-07T16:00", phone="8 916 123 45 67")
    assert got["window_from"] == datetime(2026, 12, 7, 11, 0, tzinfo=UTC)
    # an explicit offset is kept
    got = window("2026-12-07T14:00+02:00", "2026-12-07T16:00+02:00")
    assert got["window_from"] == datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    for start, end, code in (
        ("2026-12-07T16:00", "2026-12-07T14:00", "callback_window_order"),
        ("2026-12-07T16:00", "2026-12-07T16:10", "callback_window_short"),
        ("2026-12-07T16:00", "2026-12-27T16:00", "callback_window_long"),
        ("2026-12-06T10:00", "2026-12-06T12:00", "callback_window_past"),
        ("2027-03-01T10:00", "2027-03-01T12:00", "callback_window_ahead"),
    ):
        with pytest.raises(RequestValidationError) as caught:
            window(start, end)
        assert [e["type"] for e in caught.value.errors()] == [code]


# ------------------------------------------------------------- over real HTTP


async def test_the_public_endpoint_end_to_end(db_url: str) -> None:
    async with running_service(
        db_url, callback_site_secret=SECRET, callback_per_number=2, callback_per_address=14
    ) as service:
        client = service.client
        anonymous = {"Authorization": ""}  # the website has no user or token

        async def post(raw: bytes, headers: dict[str, str], **params: str):  # type: ignore[no-untyped-def]
            return await client.post(
                PATH, content=raw, headers={**anonymous, **headers}, params=params
            )

        # no key, a forged key, a stale one: 401 with a coded reason, nothing stored
        raw, headers = signed(_body())
        response = await post(raw, {"Content-Type": "application/json"})
        assert response.status_code == 401
        assert response.json()["code"] == "callback_signature_missing"
        _, forged = signed(_body(), secret="not-the-site-key-" + "y" * 20)
        response = await post(raw, forged, lang="uk")
        assert (response.status_code, response.json()["code"]) == (
            401,
            "callback_signature_invalid",
        )
        assert response.json()["detail"] == MESSAGES["callback_signature_invalid"]["uk"]
        stale_raw, stale = signed(_body(), stamp=int(time.time()) - 600)
        response = await post(stale_raw, stale)
        assert response.json()["code"] == "callback_signature_stale"
        assert _stored(service) == (0, 0)

        # invalid fields: 422 naming each, in the request's language; nothing stored
        bad_raw, bad = signed(_body(phone="abc", consent=False))
        response = await post(bad_raw, {**bad, "Accept-Language": "en-GB,en;q=0.8"})
        assert response.status_code == 422
        problems = {e["type"]: e["msg"] for e in response.json()["detail"]}
        assert problems == {
            "callback_phone_invalid": "phone: " + MESSAGES["callback_phone_invalid"]["en"][9:],
            "callback_consent_needed": "consent: " + MESSAGES["callback_consent_needed"]["en"][9:],
        }
        nul_raw, nul = signed(_body(name="A\u0000B"))
        response = await post(nul_raw, nul)
        assert response.status_code == 422 and "NUL" in response.json()["detail"][0]["msg"]
        assert _stored(service) == (0, 0)

        # a good request: 202, stored with its task
        response = await post(raw, headers)
        assert response.status_code == 202, response.text
        first = response.json()
        assert first == {"status": "accepted", "detail": MESSAGES["callback_accepted"]["ru"]}
        assert _stored(service) == (1, 1)
        with service.app.state.sessions() as session:  # type: ignore[attr-defined]
            request = session.scalars(select(CallbackRequest)).one()
            task = session.scalars(select(CallbackTask)).one()
            assert (request.phone, request.name, request.topic) == (
                "+79161234567",
                "Иванова Мария",
                "Паспорт",
            )
            assert task.status in ("waiting", "due", "overdue") and task.attempts == 0

        # the same signed bytes again: a replay
        response = await post(raw, headers)
        assert response.json()["code"] == "callback_signature_replayed"

        # the same number again (newly signed), and over its daily limit: the very same
        # answer as the first, and nothing more stored (no enumeration)
        for topic in ("again", "and again", "once more"):
            again_raw, again = signed(_body(topic=topic))
            response = await post(again_raw, again)
            assert (response.status_code, response.json()) == (202, first)
        assert _stored(service) == (1, 1)

        # the address's limit (14 in an hour, every request above counted): 429 Retry-After
        codes = []
        for n in range(6):
            other_raw, other = signed(_body(phone=f"+7 916 200-00-{n:02d}"))
            response = await post(other_raw, other)
            codes.append(response.status_code)
        assert codes == [202, 202, 202, 202, 429, 429]
        assert int(response.headers["Retry-After"]) > 3000
        assert response.json()["code"] == "callback_too_many"
        assert _stored(service)[1] == 1 + codes.count(202)


async def test_without_a_site_key_the_endpoint_is_closed(db_url: str) -> None:
    async with running_service(db_url) as service:
        raw, headers = signed(_body())
        response = await service.client.post(PATH, content=raw, headers=headers)
        assert response.status_code == 404
        assert response.json()["code"] == "callback_not_configured"
        assert _stored(service) == (0, 0)
