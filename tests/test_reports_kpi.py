"""The KPI engine on real Asterisk 22 traffic (issue #12): every figure compared with
the same figure computed here, by hand, from the recorded AMI events themselves."""

from __future__ import annotations

import itertools
import json
import os
import statistics
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from callagent.ami.parser import AmiMessage, AmiParser
from callagent.auth.scopes import Scope
from callagent.db.models import Call, OperatorStateChange, User
from callagent.db.store import CallStore
from callagent.replay import replay_bytes
from callagent.reports.kpi import CallFact, KpiOptions, compute
from tests.conftest import RunningService, make_token, running_service, trace_bytes

# 50 answered calls, one abandoned while ringing, one answered by the second operator
# after the first rang out the 5 s Dial timeout
TRACES = ("load_50_calls", "inbound_abandoned", "inbound_no_answer_then_next")


@dataclass
class ByHand:
    """One call as its own events tell it."""

    linkedid: str
    started: float  # the trunk channel's Newchannel
    answered: float | None  # the first operator channel Up
    ended: float  # the last Hangup of the call's channels
    operator: str  # the endpoint of the channel that answered

    @property
    def wait(self) -> float:
        return (self.answered if self.answered is not None else self.ended) - self.started


def by_hand(name: str) -> list[ByHand]:
    events = [
        m for m in AmiParser().feed(trace_bytes(name)) if isinstance(m, AmiMessage) and m.event
    ]
    calls: dict[str, dict[str, Any]] = defaultdict(dict)
    for m in events:
        linkedid, stamp = m.get("Linkedid"), m.get("Timestamp")
        if not linkedid or not stamp or m.event == "CEL":
            continue
        call, at, channel = calls[linkedid], float(stamp), m.get("Channel")
        trunk = channel.startswith("PJSIP/trunk")
        if m.event == "Newchannel" and trunk:
            call.setdefault("started", at)
        up = m.event == "Newstate" and m.get("ChannelStateDesc") == "Up"
        if up and not trunk and "answered" not in call:
            call["answered"], call["operator"] = at, channel.rsplit("-", 1)[0]
        if m.event == "Hangup":
            call["ended"] = max(call.get("ended", at), at)
    return [
        ByHand(k, c["started"], c.get("answered"), c["ended"], c.get("operator", ""))
        for k, c in calls.items()
        if "started" in c
    ]


def expected(calls: list[ByHand], threshold: float, short: float) -> dict[str, Any]:
    answered = [c for c in calls if c.answered is not None]
    abandoned = [c for c in calls if c.answered is None]
    shorts = [c for c in abandoned if c.wait < short]
    base = len(calls) - len(shorts)
    within = [c for c in answered if c.wait <= threshold]
    talk = sum(c.ended - c.answered for c in answered if c.answered is not None)
    return {
        "offered": len(calls),
        "answered": len(answered),
        "abandoned": len(abandoned),
        "short_abandoned": len(shorts),
        "answered_within_threshold": len(within),
        "service_level": len(within) / base if base else 0.0,
        "asa_seconds": statistics.fmean(c.wait for c in answered) if answered else 0.0,
        "abandon_rate": (len(abandoned) - len(shorts)) / base if base else 0.0,
        "longest_wait_seconds": max(c.wait for c in calls),
        "talk_seconds": talk,
        "aht_seconds": talk / len(answered) if answered else 0.0,
    }


async def load(service: RunningService) -> list[ByHand]:
    store = CallStore(service.app.state.sessions)  # type: ignore[attr-defined]
    calls: list[ByHand] = []
    for name in TRACES:
        _, malformed = await replay_bytes(trace_bytes(name), store)
        assert malformed == 0
        calls += by_hand(name)
    return calls


def assert_figures(got: dict[str, Any], want: dict[str, Any]) -> None:
    for key, value in want.items():
        if isinstance(value, float):
            # the records keep times to the millisecond
            assert got[key] == pytest.approx(value, abs=0.002 * max(1, want["offered"])), key
        else:
            assert got[key] == value, key


async def test_the_figures_of_real_traffic_are_the_figures_of_its_events(db_url: str) -> None:
    async with running_service(db_url) as service:
        calls = await load(service)
        assert len(calls) == 52
        waits = sorted(c.wait for c in calls if c.answered is not None)
        # a threshold that splits the calls, halfway between two waits (not on a tie)
        gaps = [(b - a, (a + b) / 2) for a, b in itertools.pairwise(waits)]
        middle = gaps[len(gaps) // 4 : 3 * len(gaps) // 4]
        threshold = max(middle)[1]
        service.settings.sl_threshold_seconds = threshold
        token = make_token(service.app, frozenset({Scope.REPORTS_READ}), "reports")
        headers = {"Authorization": f"Bearer {token}"}
        first = min(c.started for c in calls)
        since = datetime.fromtimestamp(first, UTC) - timedelta(hours=1)
        params = {"since": since.isoformat(), "until": (since + timedelta(days=1)).isoformat()}
        got = await service.client.get("/api/v1/reports/kpi", params=params, headers=headers)
        assert got.status_code == 200, got.text
        total = got.json()
        want = expected(calls, threshold, short=5.0)
        assert 0 < want["answered_within_threshold"] < want["answered"]
        assert_figures(total, want)
        assert total["acw_seconds"] == 0.0  # no operator state history in a replay

        # per operator (phones without an operator are keyed by their endpoint)
        per = await service.client.get(
            "/api/v1/reports/kpi", params={**params, "by": "operator"}, headers=headers
        )
        groups = {g["key"]: g for g in per.json()["groups"]}
        for operator in {c.operator for c in calls}:
            mine = [c for c in calls if c.operator == operator]
            assert_figures(
                groups[operator],
                expected(mine, threshold, 5.0)
                | {
                    "service_level": groups[operator]["service_level"],  # abandons: no operator
                    "abandon_rate": groups[operator]["abandon_rate"],
                },
            )
        assert sum(g["offered"] for g in groups.values()) == len(calls)


async def test_after_call_work_comes_from_the_operators_state_history(db_url: str) -> None:
    async with running_service(db_url) as service:
        await load(service)
        sessions = service.app.state.sessions  # type: ignore[attr-defined]
        with sessions.begin() as db:
            answered = db.query(Call).filter(Call.disposition == "answered").all()
            user = User(
                login="op1001",
                role="operator",
                endpoints=["PJSIP/op1001"],
                created_at=datetime.now(UTC),
                updated_at=datetime.now(UTC),
            )
            db.add(user)
            db.flush()
            one, two = answered[0], answered[1]
            # wrap-up of call one: 7.5 s, then ready; of call two: 12 s, then a break
            assert one.ended_at is not None
            # one operator, one wrap-up at a time: the second begins after the first
            starts = {one.id: one.ended_at, two.id: one.ended_at + timedelta(seconds=10)}
            for call, seconds, after in ((one, 7.5, "ready"), (two, 12.0, "paused")):
                start = starts[call.id]
                db.add_all(
                    [
                        OperatorStateChange(
                            user_id=user.id,
                            at=start,
                            from_state="on_call",
                            to_state="wrap_up",
                            cause="call",
                            call=f"{call.node}:{call.linkedid}",
                        ),
                        OperatorStateChange(
                            user_id=user.id,
                            at=start + timedelta(seconds=seconds),
                            from_state="wrap_up",
                            to_state=after,
                            cause="api",
                        ),
                    ]
                )
            talk = sum(c.talk_seconds or 0.0 for c in answered)
            count = len(answered)
            since = min(c.started_at for c in answered) - timedelta(minutes=1)
        token = make_token(service.app, frozenset({Scope.REPORTS_READ}), "reports")
        got = (
            await service.client.get(
                "/api/v1/reports/kpi",
                params={
                    "since": since.isoformat(),
                    "until": (since + timedelta(days=1)).isoformat(),
                },
                headers={"Authorization": f"Bearer {token}"},
            )
        ).json()
        assert got["acw_seconds"] == pytest.approx(19.5 / count)
        assert got["aht_seconds"] == pytest.approx((talk + 19.5) / count)


def test_an_empty_period_gives_zeros() -> None:
    kpi = compute([], KpiOptions())
    assert kpi.offered == 0 and kpi.service_level == 0.0 and kpi.asa_seconds == 0.0


def test_short_abandons_are_left_out_or_counted_as_the_centre_chooses() -> None:
    at = datetime(2026, 12, 1, 10, tzinfo=UTC)
    facts = [
        CallFact(1, at, "answered", 10.0, talk_seconds=60.0),
        CallFact(2, at, "answered", 30.0, talk_seconds=60.0),
        CallFact(3, at, "abandoned", 3.0),  # short
        CallFact(4, at, "abandoned", 15.0),  # within the threshold
        CallFact(5, at, "no_answer", 70.0),  # overflow
    ]
    left_out = compute(facts, KpiOptions())
    assert (left_out.offered, left_out.short_abandoned, left_out.unanswered) == (5, 1, 1)
    assert left_out.service_level == pytest.approx(1 / 4)  # app_queue SL, base 4
    assert left_out.service_level_2 == pytest.approx(2 / 4)  # SL2: abandon within counts
    assert left_out.abandon_rate == pytest.approx(1 / 4)
    counted = compute(facts, KpiOptions(exclude_short_abandons=False))
    assert counted.service_level == pytest.approx(1 / 5)
    assert counted.service_level_2 == pytest.approx(3 / 5)
    assert counted.abandon_rate == pytest.approx(2 / 5)
    assert left_out.longest_wait_seconds == 70.0 and left_out.asa_seconds == 20.0


async def test_the_cli_prints_the_same_figures_as_the_api(db_url: str, tmp_path: Any) -> None:
    async with running_service(db_url) as service:
        calls = await load(service)
        first = datetime.fromtimestamp(min(c.started for c in calls), UTC)
        since, until = first - timedelta(hours=1), first + timedelta(hours=23)
        token = make_token(service.app, frozenset({Scope.REPORTS_READ}), "reports")
        params = {
            "since": since.isoformat(),
            "until": until.isoformat(),
            "by": "interval",
            "interval": "15",
        }
        api = (
            await service.client.get(
                "/api/v1/reports/kpi", params=params, headers={"Authorization": f"Bearer {token}"}
            )
        ).json()
        env = {**os.environ, "CALLAGENT_DATABASE_URL": service.settings.database_url}
        done = subprocess.run(  # noqa: ASYNC221 - the CLI as cron runs it
            [
                sys.executable,
                "-m",
                "callagent",
                "report",
                "kpi",
                "--since",
                since.isoformat(),
                "--until",
                until.isoformat(),
                "--by",
                "interval",
                "--interval",
                "15",
                "--json",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        printed = json.loads(done.stdout)
        keys = {
            "offered",
            "answered",
            "abandoned",
            "short_abandoned",
            "answered_within_threshold",
            "service_level",
            "asa_seconds",
            "aht_seconds",
            "acw_seconds",
            "abandon_rate",
            "longest_wait_seconds",
            "groups",
        }
        assert keys <= set(printed)
        assert printed == api
        # intervals start on the quarter hour of the centre's clock (Europe/Moscow)
        (group,) = printed["groups"]
        local = first.astimezone(datetime.fromisoformat(group["key"]).tzinfo)
        assert group["key"] == local.replace(
            minute=local.minute - local.minute % 15, second=0, microsecond=0
        ).isoformat(timespec="minutes")
        assert group["key"].endswith("+03:00")
        bad = subprocess.run(  # noqa: ASYNC221
            [
                sys.executable,
                "-m",
                "callagent",
                "report",
                "kpi",
                "--since",
                "yesterday",
                "--until",
                until.isoformat(),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert bad.returncode == 2 and "not an ISO time" in bad.stderr
