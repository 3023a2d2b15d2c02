"""The KPI engine's operator-time and activity figures (issue #12): occupancy, time logged
in, pauses by reason, repeat callers, missed and late wrap-ups, wrap-up categories,
notification results; groupings by week, month and campaign; a daylight-saving day.

The seeded day is 2026-10-25 in Europe/Kyiv, when clocks go back at 04:00 (a 25-hour
day: 03:00+03:00 and 03:00+02:00 are two hours). Every expected figure is computed here,
by hand, from the seed's own lists of events."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from callagent.auth.scopes import Role, Scope
from callagent.auth.service import create_user
from callagent.db.campaign_models import (
    Campaign,
    NotificationAttempt,
    RegistryEntry,
    RegistryImport,
)
from callagent.db.models import Call, OperatorStateChange
from callagent.db.wrapup_models import Wrapup
from callagent.reports.activity import with_repeats
from callagent.reports.kpi import CallFact
from callagent.reports.operator_time import StateChange, operator_time, spans
from callagent.reports.periods import bucket_of, buckets, days_in
from tests.conftest import make_token, running_service

KYIV = ZoneInfo("Europe/Kyiv")
DAY = "2026-10-25"
SINCE = datetime(2026, 10, 24, 21, tzinfo=UTC)  # local midnight, +03:00
UNTIL = datetime(2026, 10, 25, 22, tzinfo=UTC)  # the next local midnight, +02:00


def z(hhmmss: str, day: int = 25) -> datetime:
    """A UTC moment of 2026-10-<day>."""
    h, m, *s = (int(p) for p in hhmmss.split(":"))
    return datetime(2026, 10, day, h, m, s[0] if s else 0, tzinfo=UTC)


# (operator, at, state, reason): the state history; petrenko is ready since the day
# before, pauses in the first 03:00 hour (+03:00) and in the second (+02:00)
STATES: list[tuple[str, datetime, str, str]] = [
    ("petrenko", z("20:00", 24), "ready", ""),
    ("petrenko", z("00:30"), "paused", "break"),
    ("petrenko", z("00:45"), "ready", ""),
    ("petrenko", z("01:15"), "paused", "break"),
    ("petrenko", z("01:40"), "ready", ""),
    ("petrenko", z("01:59:50"), "ringing", ""),
    ("petrenko", z("02:00"), "on_call", ""),
    ("petrenko", z("02:05"), "wrap_up", ""),
    ("petrenko", z("02:06"), "ready", ""),
    ("petrenko", z("03:00"), "offline", ""),
    ("ivanova", z("06:00"), "ready", ""),
    ("ivanova", z("06:09:50"), "ringing", ""),
    ("ivanova", z("06:10"), "on_call", ""),
    ("ivanova", z("06:15"), "wrap_up", ""),
    ("ivanova", z("06:16"), "ready", ""),
    ("ivanova", z("07:00"), "paused", "lunch"),
    ("ivanova", z("07:30"), "ready", ""),
    ("ivanova", z("07:40"), "unavailable", ""),
    ("ivanova", z("07:50"), "ready", ""),
    ("ivanova", z("08:00"), "ringing", ""),
    ("ivanova", z("08:00:20"), "on_call", ""),
    ("ivanova", z("08:04"), "wrap_up", ""),
    ("ivanova", z("08:05:30"), "ready", ""),
    ("ivanova", z("09:00"), "paused", "break"),
    ("ivanova", z("09:10"), "ready", ""),
    ("ivanova", z("10:00"), "offline", ""),
    ("ivanova", z("23:00"), "ready", ""),  # the next day: not in the report
]
OPERATORS = {"ivanova": ("PJSIP/op1001", "A"), "petrenko": ("PJSIP/op1002", "B")}


@dataclass(frozen=True)
class SeedCall:
    linkedid: str
    caller: str
    started: datetime
    wait: float
    answered_by: str | None  # an endpoint; None: abandoned
    talk: float = 0.0


CALLS = [
    SeedCall("c0", "+380501110000", z("09:00", 22), 3.0, "PJSIP/op1001", 60.0),  # 3 days before
    SeedCall("c1", "+380501110000", z("01:59:45"), 15.0, "PJSIP/op1002", 300.0),
    SeedCall("c2", "+380502220000", z("02:30"), 40.0, None),
    SeedCall("c3", "+380501110000", z("06:09:40"), 20.0, "PJSIP/op1001", 300.0),
    SeedCall("c4", "+380503330000", z("07:59:50"), 30.0, "PJSIP/op1001", 220.0),
    SeedCall("c5", "", z("08:30"), 2.0, None),  # a short abandon, no number
]
# (operator, started, status, category, deadline passed before a submit, service field)
WRAPUPS = [
    ("petrenko", z("02:05"), "submitted", "consultation", False, "passport"),
    ("ivanova", z("06:15"), "submitted", "consultation", False, "snils"),
    ("ivanova", z("08:04"), "submitted", "pre_registration", True, "passport"),
    ("ivanova", z("09:30"), "missed", None, True, ""),
]
# (campaign, started, result)
ATTEMPTS = [
    ("Reminders", z("10:00"), "answered"),
    ("Reminders", z("10:01"), "answered"),
    ("Reminders", z("10:02"), "busy"),
    ("Reminders", z("10:03"), ""),  # in flight
    ("Pickups", z("11:00"), "no_answer"),
]


def seed(sessions: sessionmaker[Session]) -> None:
    """The day's operators, state history, calls, wrap-ups and campaign attempts."""
    with sessions.begin() as db:
        users = {
            login: create_user(
                db,
                login=login,
                role=Role.OPERATOR,
                password=None,
                endpoints=[phone],
                group=group,
            )
            for login, (phone, group) in OPERATORS.items()
        }
        db.flush()
        previous: dict[str, str] = {}
        for login, at, state, reason in STATES:
            db.add(
                OperatorStateChange(
                    user_id=users[login].id,
                    at=at,
                    from_state=previous.get(login, "offline"),
                    to_state=state,
                    reason=reason,
                    cause="api",
                )
            )
            previous[login] = state
        for call in CALLS:
            answered = call.started + timedelta(seconds=call.wait)
            ended = answered + timedelta(seconds=call.talk)
            db.add(
                Call(
                    node="pbx1",
                    linkedid=call.linkedid,
                    direction="inbound",
                    caller_number=call.caller,
                    dialled_number="5000",
                    started_at=call.started,
                    answered_at=answered if call.answered_by else None,
                    ended_at=ended,
                    wait_seconds=call.wait,
                    talk_seconds=call.talk if call.answered_by else None,
                    operator_endpoint=call.answered_by,
                    disposition="answered" if call.answered_by else "abandoned",
                    final=True,
                    updated_at=ended,
                )
            )
        for n, (login, started, status, category, late, service) in enumerate(WRAPUPS):
            db.add(
                Wrapup(
                    call_key=f"pbx1:w{n}",
                    operator_id=users[login].id,
                    status=status,
                    category=category,
                    fields={"service": service} if service else {},
                    started_at=started,
                    deadline=started + timedelta(minutes=2),
                    missed_at=started + timedelta(minutes=2) if late else None,
                    submitted_at=started + timedelta(minutes=3 if late else 1)
                    if status == "submitted"
                    else None,
                    updated_at=started,
                )
            )
        campaigns: dict[str, int] = {}
        for n, (name, started, result) in enumerate(ATTEMPTS):
            if name not in campaigns:
                campaign = Campaign(name=name)
                db.add(campaign)
                db.flush()
                record = RegistryImport(campaign_id=campaign.id, sha256=f"{campaign.id:064d}")
                db.add(record)
                db.flush()
                entry = RegistryEntry(
                    campaign_id=campaign.id,
                    import_id=record.id,
                    row_number=2,
                    dedupe_key="x",
                    phones=["+380500000000"],
                )
                db.add(entry)
                db.flush()
                campaigns[name] = entry.id
                campaigns[f"{name}#campaign"] = campaign.id
            db.add(
                NotificationAttempt(
                    campaign_id=campaigns[f"{name}#campaign"],
                    entry_id=campaigns[name],
                    phone="+380500000000",
                    action_id=f"a{n}",
                    started_at=started,
                    result=result,
                )
            )


# ---- by hand: walks over the seed's lists, independent of the engine ----


def time_by_hand(
    login: str | None, start: datetime = SINCE, end: datetime = UNTIL
) -> dict[str, Any]:
    """Seconds per state of one operator (or all) within [start, end); pauses by reason
    (counted where they began)."""
    seconds: defaultdict[str, float] = defaultdict(float)
    pauses: dict[str, dict[str, float]] = {}
    mine = [s for s in STATES if login is None or s[0] == login]
    for who in {s[0] for s in mine}:
        rows = [s for s in mine if s[0] == who]
        for (_, at, state, reason), following in zip(rows, [*rows[1:], None], strict=True):
            to = following[1] if following else end
            lo, hi = max(at, start), min(to, end)
            if hi <= lo:
                continue
            secs = (hi - lo).total_seconds()
            seconds[state] += secs
            if state == "paused":
                pause = pauses.setdefault(reason, {"count": 0.0, "seconds": 0.0})
                pause["seconds"] += secs
                pause["count"] += start <= at < end
    logged = sum(seconds[s] for s in ("ready", "ringing", "on_call", "wrap_up", "paused"))
    busy = seconds["ringing"] + seconds["on_call"] + seconds["wrap_up"]
    available = logged - seconds["paused"]
    return {
        "logged_in_seconds": logged,
        "paused_seconds": seconds["paused"],
        "busy_seconds": busy,
        "occupancy": busy / available if available else 0.0,
        "pauses": pauses,
    }


def assert_time(got: dict[str, Any], want: dict[str, Any], where: str = "") -> None:
    """The time figures of ``got`` are ``want``'s (pauses exactly: whole seconds)."""
    for key, value in want.items():
        if key == "pauses":
            assert got[key] == value, (where, key)
        else:
            assert got[key] == pytest.approx(value), (where, key)


def test_ivanova_by_hand_is_what_the_seed_says() -> None:
    # the walk itself, checked once against arithmetic: 06:00-10:00 less 10 min unavailable
    got = time_by_hand("ivanova")
    assert got["logged_in_seconds"] == 4 * 3600 - 600
    assert got["paused_seconds"] == 30 * 60 + 10 * 60
    assert got["busy_seconds"] == (10 + 300 + 60) + (20 + 220 + 90)
    assert got["pauses"] == {
        "lunch": {"count": 1, "seconds": 1800.0},
        "break": {"count": 1, "seconds": 600.0},
    }


# ---- pure ----


def test_a_dst_day_has_its_real_number_of_intervals() -> None:
    autumn = list(buckets(SINCE, UNTIL, "interval", KYIV, 60))
    assert len(autumn) == 25
    keys = [b.key for b in autumn]
    assert keys[3:5] == ["2026-10-25T03:00+03:00", "2026-10-25T03:00+02:00"]
    assert all(b.end - b.start == timedelta(hours=1) for b in autumn)
    assert len(list(buckets(SINCE, UNTIL, "interval", KYIV, 15))) == 100
    spring_since = datetime(2026, 3, 29, tzinfo=KYIV)
    spring = list(buckets(spring_since, datetime(2026, 3, 30, tzinfo=KYIV), "interval", KYIV, 60))
    assert len(spring) == 23 and "2026-03-29T03:00+03:00" not in [b.key for b in spring]
    assert spring[3].key == "2026-03-29T04:00+03:00"
    berlin = ZoneInfo("Europe/Berlin")
    b_since = datetime(2026, 10, 25, tzinfo=berlin)
    b_until = datetime(2026, 10, 26, tzinfo=berlin)
    assert len(list(buckets(b_since, b_until, "interval", berlin, 30))) == 50
    assert [b.key for b in buckets(b_since, b_until, "day", berlin)] == ["2026-10-25"]
    assert days_in(SINCE, UNTIL, KYIV) == 1


def test_weeks_start_on_monday_and_months_on_the_first() -> None:
    week = bucket_of(z("12:00"), "week", KYIV)  # a Sunday
    assert week.key == "2026-10-19"
    assert week.start == datetime(2026, 10, 19, tzinfo=KYIV)
    assert week.end == datetime(2026, 10, 26, tzinfo=KYIV)  # 7 days and one hour
    month = bucket_of(z("12:00"), "month", KYIV)
    assert month.key == "2026-10"
    assert month.end == datetime(2026, 11, 1, tzinfo=KYIV)
    december = bucket_of(datetime(2026, 12, 31, 23, tzinfo=KYIV), "month", KYIV)
    assert december.end == datetime(2027, 1, 1, tzinfo=KYIV)


def test_occupancy_and_pauses_from_state_changes() -> None:
    changes = [StateChange(*row) for row in STATES]
    found = spans(changes, SINCE, UNTIL)
    for login in OPERATORS:
        got = operator_time([s for s in found if s.operator == login], SINCE, UNTIL).to_json()
        want = time_by_hand(login)
        assert_time(got, want, login)
    # one hour of the repeated 03:00: petrenko's second break (01:15Z-01:40Z) is there,
    # the first (00:30Z-00:45Z) in the first 03:00
    first, second = (b for b in buckets(SINCE, UNTIL, "interval", KYIV, 60) if "T03:00" in b.key)
    for bucket, want_seconds in ((first, 900.0), (second, 1500.0)):
        hour = operator_time(found, bucket.start, bucket.end)
        assert hour.pauses == {"break": {"count": 1, "seconds": want_seconds}}
        assert_time(hour.to_json(), time_by_hand(None, bucket.start, bucket.end))


def test_a_pause_counts_where_it_began_and_its_seconds_where_they_passed() -> None:
    at = datetime(2026, 12, 1, 9, tzinfo=UTC)
    found = spans(
        [
            StateChange("a", at, "paused", "lunch"),
            StateChange("a", at + timedelta(hours=1), "ready"),
        ],
        at - timedelta(hours=1),
        at + timedelta(hours=2),
    )
    half = at + timedelta(minutes=30)
    assert operator_time(found, at, half).pauses == {"lunch": {"count": 1, "seconds": 1800.0}}
    assert operator_time(found, half, at + timedelta(hours=2)).pauses == {
        "lunch": {"count": 0, "seconds": 1800.0}
    }
    # a pause to the same reason again is the same pause
    again = spans(
        [StateChange("a", at, "paused", "lunch"), StateChange("a", half, "paused", "lunch")],
        at,
        at + timedelta(hours=1),
    )
    assert len(again) == 1 and operator_time(again).pauses["lunch"]["count"] == 1


def test_repeat_callers_look_back_24_hours_and_7_days() -> None:
    facts = [
        CallFact(int(c.linkedid[1:]), c.started, "answered", c.wait, caller=c.caller)
        for c in CALLS[1:]
    ]
    marked = {f.call_id: f for f in with_repeats(facts, [(CALLS[0].caller, CALLS[0].started)])}
    # c1: the same number 3 days before; c3: and 4 h before; the others: first calls
    assert [(marked[i].repeat_24h, marked[i].repeat_7d) for i in (1, 2, 3, 4, 5)] == [
        (False, True),
        (False, False),
        (True, True),
        (False, False),
        (False, False),
    ]


# ---- through the API, on SQLite and PostgreSQL ----


def calls_of_the_day() -> list[SeedCall]:
    return [c for c in CALLS if SINCE <= c.started < UNTIL]


def repeats_by_hand(window: timedelta) -> int:
    return sum(
        any(
            o.caller == c.caller and c.caller and timedelta(0) < c.started - o.started <= window
            for o in CALLS
        )
        for c in calls_of_the_day()
    )


def activity_by_hand(login: str | None = None) -> dict[str, Any]:
    mine = [w for w in WRAPUPS if login is None or w[0] == login]
    return {
        "wrapups_missed": sum(w[2] == "missed" for w in mine),
        "wrapups_late": sum(w[2] == "submitted" and w[4] for w in mine),
        "wrapup_categories": dict(Counter(w[3] for w in mine if w[2] == "submitted")),
        "wrapup_services": {
            category: dict(Counter(w[5] for w in mine if w[2] == "submitted" and w[3] == category))
            for category in {w[3] for w in mine if w[2] == "submitted"}
        },
    }


async def test_the_figures_of_a_seeded_dst_day_through_the_api(db_url: str) -> None:
    async with running_service(db_url, timezone="Europe/Kyiv") as service:
        sessions = service.app.state.sessions  # type: ignore[attr-defined]
        seed(sessions)
        token = make_token(service.app, frozenset({Scope.REPORTS_READ}), "reports")
        headers = {"Authorization": f"Bearer {token}"}
        period = {"since": SINCE.isoformat(), "until": UNTIL.isoformat()}

        async def get(path: str = "/api/v1/reports/kpi", **params: str) -> dict[str, Any]:
            got = await service.client.get(path, params={**period, **params}, headers=headers)
            assert got.status_code == 200, got.text
            return dict(got.json())

        total = await get()
        assert total["offered"] == len(calls_of_the_day()) == 5
        assert_time(total, time_by_hand(None))
        assert total["repeat_24h"] == repeats_by_hand(timedelta(hours=24)) == 1
        assert total["repeat_7d"] == repeats_by_hand(timedelta(days=7)) == 2
        assert {k: total[k] for k in activity_by_hand()} == activity_by_hand()
        assert total["wrapup_services"] == {
            "consultation": {"passport": 1, "snils": 1},
            "pre_registration": {"passport": 1},
        }
        finished = Counter(a[2] for a in ATTEMPTS if a[2])
        assert (
            total["notifications"]
            == dict(finished)
            == {
                "answered": 2,
                "busy": 1,
                "no_answer": 1,
            }
        )

        # by operator: each one's time and wrap-ups
        per = {g["key"]: g for g in (await get(by="operator"))["groups"]}
        for login in OPERATORS:
            assert_time(per[login], time_by_hand(login), login)
            assert {k: per[login][k] for k in activity_by_hand(login)} == activity_by_hand(login)

        # by hour on the 25-hour day: both 03:00 hours, each with its own time
        hours = (await get(by="interval", interval="60"))["groups"]
        keys = [g["key"] for g in hours]
        assert keys == sorted(keys, key=datetime.fromisoformat)
        assert "2026-10-25T03:00+03:00" in keys and "2026-10-25T03:00+02:00" in keys
        for group in hours:
            start = datetime.fromisoformat(group["key"])
            want = time_by_hand(None, start, start + timedelta(hours=1))
            assert_time(group, want, group["key"])
            offered = sum(start <= c.started < start + timedelta(hours=1) for c in CALLS)
            assert group["offered"] == offered, group["key"]
        # by day, week and month: the one day, the week from Monday, October
        for by, key in (("day", DAY), ("week", "2026-10-19"), ("month", "2026-10")):
            (group,) = (await get(by=by))["groups"]
            assert group["key"] == key
            assert group["logged_in_seconds"] == pytest.approx(total["logged_in_seconds"])
            assert group["offered"] == 5
        # by campaign: the notification results of each
        campaigns = {g["key"]: g["notifications"] for g in (await get(by="campaign"))["groups"]}
        assert campaigns == {"Pickups": {"no_answer": 1}, "Reminders": {"answered": 2, "busy": 1}}

        # the intraday profile: calls per local hour, one day
        profile = await get("/api/v1/reports/profile")
        want_hours = [0.0] * 24
        for call in calls_of_the_day():
            want_hours[call.started.astimezone(KYIV).hour] += 1
        assert profile == {"days": 1, "hours": want_hours}
        assert want_hours[3] == 1 and want_hours[4] == 1  # the repeated hour, then 04:xx

        # the day's timeline: each operator's spans in order, cut to the day
        got = await service.client.get(
            "/api/v1/reports/timeline", params={"day": DAY}, headers=headers
        )
        operators = {o["login"]: o["spans"] for o in got.json()["operators"]}
        assert set(operators) == set(OPERATORS)
        assert operators["petrenko"][0]["start"] == SINCE.isoformat()
        assert [s["state"] for s in operators["ivanova"]] == [
            s[2] for s in STATES if s[0] == "ivanova" and s[1] < UNTIL
        ]

        # the export has the new columns, the same numbers
        export = await service.client.get(
            "/api/v1/reports/kpi/export",
            params={**period, "by": "operator", "format": "csv", "lang": "en"},
            headers=headers,
        )
        assert export.status_code == 200, export.text
        lines = [line.split(";") for line in export.content.decode("utf-8-sig").splitlines()]
        header, rows = lines[0], {line[0]: line for line in lines[1:]}
        for column, figure in (
            ("Logged in, s", "logged_in_seconds"),
            ("Paused, s", "paused_seconds"),
            ("Occupancy", "occupancy"),
        ):
            at = header.index(column)
            for login in OPERATORS:
                want = time_by_hand(login)[figure]
                assert float(rows[login][at]) == pytest.approx(want, abs=1e-4), (login, column)
        at = header.index("Wrap-ups missed")
        assert rows["ivanova"][at] == "1" and rows["Total"][at] == "1"
        assert rows["Total"][header.index("Repeat callers, 7 days")] == "2"

        # a supervisor of team A sees ivanova's time only
        with sessions.begin() as db:
            create_user(db, login="lead", role=Role.SUPERVISOR, password="lead-password", group="A")
        async with httpx.AsyncClient(base_url=service.base_url, timeout=10) as lead:
            signed_in = await lead.post(
                "/api/v1/auth/login", json={"login": "lead", "password": "lead-password"}
            )
            assert signed_in.status_code == 200, signed_in.text
            team = await lead.get("/api/v1/reports/kpi", params=period)
            strips = await lead.get("/api/v1/reports/timeline", params={"day": DAY})
            hours = await lead.get("/api/v1/reports/profile", params=period)
        assert [o["login"] for o in strips.json()["operators"]] == ["ivanova"]
        # team A's calls (ivanova's phone's) and the unanswered ones, per local hour
        theirs = [c for c in calls_of_the_day() if c.answered_by in ("PJSIP/op1001", None)]
        assert sum(hours.json()["hours"]) == len(theirs) == 4
        mine = team.json()
        assert mine["logged_in_seconds"] == pytest.approx(
            time_by_hand("ivanova")["logged_in_seconds"]
        )
        assert mine["wrapups_missed"] == 1 and mine["wrapup_categories"] == {
            "consultation": 1,
            "pre_registration": 1,
        }
