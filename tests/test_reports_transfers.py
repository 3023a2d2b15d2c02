"""A transferred call in the KPIs (issues #12 and #18): each operator who talked on it
counts it as handled, with their own talk, hold and after-call work; the totals count
the call once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from callagent.auth.scopes import Role, Scope
from callagent.auth.service import create_user
from callagent.db.models import Call, CallLeg, OperatorStateChange
from callagent.reports.build import ReportInputs, build
from callagent.reports.kpi import (
    CallFact,
    KpiOptions,
    OperatorPart,
    operator_parts,
)
from tests.conftest import make_token, running_service


def test_each_operators_part_and_whose_hold_it_is() -> None:
    # op1 answers at 10, holds the caller 30-40 (consults op2, who answers at 32),
    # the transfer completes at 40 (op1 leaves), op2 talks until 100
    parts = operator_parts(
        [("PJSIP/op1002", 32.0, 100.0), ("PJSIP/op1001", 10.0, 40.0)], [(30.0, 40.0)]
    )
    assert parts == [("PJSIP/op1001", 20.0, 10.0), ("PJSIP/op1002", 68.0, 0.0)]


def test_a_transferred_call_counts_for_each_operator_and_once_in_total() -> None:
    at = datetime(2026, 12, 1, 10, tzinfo=UTC)
    call = CallFact(
        1,
        at,
        "answered",
        4.0,
        talk_seconds=80.0,
        hold_seconds=10.0,
        acw_seconds=15.0,
        operator="op1001",
        transferred=True,
        parts=(OperatorPart("op1001", 20.0, 10.0, 5.0), OperatorPart("op1002", 60.0, 0.0, 10.0)),
    )
    other = CallFact(2, at, "answered", 2.0, talk_seconds=30.0, operator="op1002")
    inputs = ReportInputs(at, at + timedelta(hours=1), [call, other])
    kpi = build(inputs, KpiOptions(), by="operator", zone=ZoneInfo("Europe/Moscow"))
    assert (kpi.offered, kpi.answered, kpi.talk_seconds) == (2, 2, 110.0)
    groups = {g.key: g for g in kpi.groups}
    assert (groups["op1001"].answered, groups["op1001"].talk_seconds) == (1, 20.0)
    assert groups["op1001"].aht_seconds == pytest.approx(35.0)  # 20 talk, 10 hold, 5 ACW
    assert (groups["op1002"].answered, groups["op1002"].talk_seconds) == (2, 90.0)
    assert groups["op1002"].aht_seconds == pytest.approx((90.0 + 10.0) / 2)


async def test_a_transferred_call_in_the_reports_and_the_operators_figures(db_url: str) -> None:
    async with running_service(db_url) as service:
        sessions = service.app.state.sessions  # type: ignore[attr-defined]
        now = datetime.now(UTC).replace(microsecond=0)
        midnight = datetime.now(ZoneInfo("Europe/Moscow")).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        t0 = max(now - timedelta(minutes=10), midnight.astimezone(UTC))  # today, in Moscow

        def at(seconds: float) -> datetime:
            return t0 + timedelta(seconds=seconds)

        with sessions.begin() as db:
            first = create_user(
                db, login="ivanova", role=Role.OPERATOR, password=None, endpoints=["PJSIP/op1001"]
            )
            second = create_user(
                db, login="petrov", role=Role.OPERATOR, password=None, endpoints=["PJSIP/op1002"]
            )
            db.flush()
            call = Call(
                node="pbx1",
                linkedid="1800000000.1",
                direction="inbound",
                caller_number="79161112233",
                dialled_number="4951112233",
                applicant_number="79161112233",
                started_at=at(0),
                answered_at=at(10),
                ended_at=at(100),
                wait_seconds=10.0,
                talk_seconds=80.0,
                hold_seconds=10.0,
                operator_endpoint="PJSIP/op1001",
                disposition="answered",
                hangup_by="applicant",
                final=True,
                updated_at=now,
                transfers=[
                    {
                        "kind": "attended",
                        "at": at(40).timestamp(),
                        "by_endpoint": "PJSIP/op1001",
                        "target_endpoint": "PJSIP/op1002",
                        "target_answered": True,
                    }
                ],
                timeline=[
                    {"at": at(30).timestamp(), "event": "hold", "endpoint": "PJSIP/trunk"},
                    {"at": at(40).timestamp(), "event": "unhold", "endpoint": "PJSIP/trunk"},
                ],
            )
            db.add(call)
            db.flush()
            for uid, channel, endpoint, role, answered, ended in (
                ("1800000000.1", "PJSIP/trunk-1", "PJSIP/trunk", "trunk", 0, 100),
                ("1800000000.2", "PJSIP/op1001-2", "PJSIP/op1001", "operator", 10, 40),
                ("1800000000.3", "PJSIP/op1002-3", "PJSIP/op1002", "operator", 32, 100),
            ):
                db.add(
                    CallLeg(
                        call_id=call.id,
                        uniqueid=uid,
                        channel=channel,
                        endpoint=endpoint,
                        role=role,
                        created_at=at(answered),
                        answered_at=at(answered),
                        ended_at=at(ended),
                    )
                )
            # each operator's wrap-up for this call: 5 s and 12 s
            for user, start, seconds in ((first, 40, 5), (second, 100, 12)):
                db.add_all(
                    [
                        OperatorStateChange(
                            user_id=user.id,
                            at=at(start),
                            from_state="on_call",
                            to_state="wrap_up",
                            cause="call",
                            call="pbx1:1800000000.1",
                        ),
                        OperatorStateChange(
                            user_id=user.id,
                            at=at(start + seconds),
                            from_state="wrap_up",
                            to_state="ready",
                            cause="api",
                        ),
                    ]
                )
            second_id = second.id
        token = make_token(service.app, frozenset({Scope.REPORTS_READ}), "reports")
        params = {
            "since": (t0 - timedelta(hours=1)).isoformat(),
            "until": (now + timedelta(hours=1)).isoformat(),
            "by": "operator",
        }
        got = (
            await service.client.get(
                "/api/v1/reports/kpi", params=params, headers={"Authorization": f"Bearer {token}"}
            )
        ).json()
        assert (got["offered"], got["answered"], got["talk_seconds"]) == (1, 1, 80.0)
        assert got["acw_seconds"] == pytest.approx(17.0)  # both wrap-ups of the one call
        groups = {g["key"]: g for g in got["groups"]}
        assert set(groups) == {"ivanova", "petrov"}
        ivanova, petrov = groups["ivanova"], groups["petrov"]
        assert (ivanova["answered"], ivanova["talk_seconds"], ivanova["hold_seconds"]) == (
            1,
            20.0,
            10.0,
        )
        assert ivanova["aht_seconds"] == pytest.approx(20.0 + 10.0 + 5.0)
        assert (petrov["answered"], petrov["talk_seconds"], petrov["hold_seconds"]) == (
            1,
            68.0,
            0.0,
        )
        assert petrov["aht_seconds"] == pytest.approx(68.0 + 12.0)
        # the operator the call was transferred to sees it among their own figures
        token2 = make_token(service.app, frozenset({Scope.OPERATORS_STATE}), "admin-ish")
        figures = (
            await service.client.get(
                f"/api/v1/reports/operators/{second_id}/figures",
                headers={"Authorization": f"Bearer {token2}"},
            )
        ).json()
        assert figures["today"]["handled"] == 1
        assert figures["today"]["talk_seconds"] == pytest.approx(68.0)
