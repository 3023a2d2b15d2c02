"""QA evaluation's storage and services on SQLite and PostgreSQL (issue #13): migration 0018
is the models, an evaluation keeps its scorecard version and never changes (a revision is
a new row with who and why), the operator acknowledges or disputes once, the weekly
sample is reproducible and tops up, and the report's figures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select
from sqlalchemy.orm import Session

from callagent.auth.scopes import ROLE_SCOPES, Role
from callagent.auth.service import Principal, create_user
from callagent.db.models import Base, Call
from callagent.db.session import make_engine, make_sessionmaker
from callagent.errors import ServiceError
from callagent.quality.models import Assignment, EvaluationAnswer, ScorecardVersion
from callagent.quality.reports import build, load_rows
from callagent.quality.sampling import SampleFilter, sample_week
from callagent.quality.scorecard import load_scorecard, parse_scorecard
from callagent.quality.scoring import Answer
from callagent.quality.service import circle_of, evaluate, respond, revise, stored_version

KYIV = ZoneInfo("Europe/Kyiv")
MONDAY = date(2026, 11, 30)
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
CARD = load_scorecard()
GOOD = {c.id: Answer("yes") for c in CARD.criteria} | {
    e.id: Answer("no") for e in CARD.critical_errors
}


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as db:
        yield db
    engine.dispose()


def who(user_id: int, role: Role, group: str = "") -> Principal:
    return Principal(
        actor=f"user:{user_id}", scopes=ROLE_SCOPES[role], user_id=user_id, role=role, group=group
    )


def add_call(db: Session, n: int, endpoint: str | None, at: datetime, **kw: object) -> Call:
    call = Call(
        node="pbx1",
        linkedid=f"q{n}",
        direction="inbound",
        applicant_number=str(kw.pop("number", f"7900000{n:04d}")),
        started_at=at,
        answered_at=at + timedelta(seconds=5) if endpoint else None,
        ended_at=at + timedelta(minutes=3),
        talk_seconds=float(kw.pop("talk", 170.0)),  # type: ignore[arg-type]
        operator_endpoint=endpoint,
        disposition="answered" if endpoint else "abandoned",
        updated_at=at,
        **kw,
    )
    db.add(call)
    db.flush()
    return call


def refused(code: str, action) -> ServiceError:  # type: ignore[no-untyped-def]
    with pytest.raises(ServiceError) as caught:
        action()
    assert caught.value.code == code, caught.value.detail
    return caught.value


def test_migration_0018_is_the_models(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    ours = [d for d in diff if "quality_" in repr(d)]
    assert ours == []
    assert {t for t in Base.metadata.tables if t.startswith("quality_")} == {
        "quality_scorecards",
        "quality_assignments",
        "quality_evaluations",
        "quality_answers",
        "quality_responses",
    }


def test_evaluate_revise_acknowledge_dispute(session: Session) -> None:
    db = session
    op = create_user(db, login="op1", role=Role.OPERATOR, password=None, endpoints=["PJSIP/op1"])
    other = create_user(db, login="op2", role=Role.OPERATOR, password=None)
    qa = create_user(db, login="qa", role=Role.EVALUATOR, password=None)
    lead = create_user(db, login="lead", role=Role.SUPERVISOR, password=None, group="north")
    op.group = "north"
    call = add_call(db, 1, "PJSIP/op1", NOW - timedelta(days=2))
    missed = add_call(db, 2, None, NOW - timedelta(days=2))
    partial = GOOD | {"correct_information": Answer("partial", "  forgot the fee  ")}
    first = evaluate(
        db, card=CARD, call=call, evaluator=who(qa.id, Role.EVALUATOR), answers=partial,
        comment="ok", now=NOW,
    )  # fmt: skip
    assert (first.score, first.kind, first.operator_id, first.team) == (
        85.0,
        "manual",
        op.id,
        "north",
    )
    notes = db.scalars(
        select(EvaluationAnswer.comment).where(
            EvaluationAnswer.evaluation_id == first.id,
            EvaluationAnswer.item_id == "correct_information",
        )
    ).all()
    assert notes == ["forgot the fee"]
    refused("quality_already_evaluated", lambda: evaluate(
        db, card=CARD, call=call, evaluator=who(qa.id, Role.EVALUATOR), answers=GOOD,
        comment="", now=NOW,
    ))  # fmt: skip
    refused("quality_no_operator", lambda: evaluate(
        db, card=CARD, call=missed, evaluator=who(qa.id, Role.EVALUATOR), answers=GOOD,
        comment="", now=NOW,
    ))  # fmt: skip
    refused("quality_own_call", lambda: evaluate(
        db, card=CARD, call=call, evaluator=who(op.id, Role.OPERATOR), answers=GOOD,
        comment="", now=NOW,
    ))  # fmt: skip
    # the file changed but kept its version: refused, the stored definition stands
    changed = parse_scorecard(
        load_scorecard.__globals__["default_scorecard_path"]()
        .read_text("utf-8")
        .replace("weight: 30", "weight: 35")
    )
    refused("quality_scorecard_changed", lambda: stored_version(db, changed, now=NOW))
    # the operator: another's evaluation is refused, a dispute needs its note
    refused("quality_not_your_evaluation", lambda: respond(
        db, evaluation=first, by=who(other.id, Role.OPERATOR), kind="acknowledged", note="",
        now=NOW,
    ))  # fmt: skip
    refused("quality_dispute_note_needed", lambda: respond(
        db, evaluation=first, by=who(op.id, Role.OPERATOR), kind="disputed", note=" ", now=NOW
    ))  # fmt: skip
    dispute = respond(
        db, evaluation=first, by=who(op.id, Role.OPERATOR), kind="disputed",
        note="I named the fee", now=NOW,
    )  # fmt: skip
    refused("quality_already_answered", lambda: respond(
        db, evaluation=first, by=who(op.id, Role.OPERATOR), kind="acknowledged", note="",
        now=NOW,
    ))  # fmt: skip
    # another evaluator may not revise it; the supervisor does, with a reason
    refused("quality_not_your_evaluation", lambda: revise(
        db, evaluation=first, by=who(9999, Role.EVALUATOR), answers=GOOD, comment="",
        reason="x", now=NOW,
    ))  # fmt: skip
    refused("quality_reason_needed", lambda: revise(
        db, evaluation=first, by=who(lead.id, Role.SUPERVISOR, "north"), answers=GOOD,
        comment="", reason="", now=NOW,
    ))  # fmt: skip
    second = revise(
        db, evaluation=first, by=who(lead.id, Role.SUPERVISOR, "north"), answers=GOOD,
        comment="fee named at 1:40", reason="dispute upheld", now=NOW + timedelta(hours=1),
    )  # fmt: skip
    db.commit()
    assert (second.revision, second.revision_of_id, second.score) == (2, first.id, 100.0)
    assert (second.evaluator_id, second.revised_by_id) == (qa.id, lead.id)
    db.refresh(first)
    # the first revision is as it was, only pointing at its successor
    assert (first.score, first.comment, first.superseded_by_id) == (85.0, "ok", second.id)
    assert first.scorecard_id == second.scorecard_id
    db.refresh(dispute)
    assert (dispute.outcome, dispute.resolved_by_id, dispute.resolution) == (
        "upheld",
        lead.id,
        "dispute upheld",
    )
    refused("quality_superseded", lambda: revise(
        db, evaluation=first, by=who(lead.id, Role.SUPERVISOR), answers=GOOD, comment="",
        reason="again", now=NOW,
    ))  # fmt: skip
    assert db.scalar(select(ScorecardVersion.version)) == 1
    # circles: the operator sees theirs, a group's supervisor the group's
    assert circle_of(db, who(op.id, Role.OPERATOR)).sees(second)
    assert not circle_of(db, who(other.id, Role.OPERATOR)).sees(second)
    assert not circle_of(db, who(9998, Role.SUPERVISOR, "south")).sees(second)
    rows = load_rows(db, circle=circle_of(db, who(lead.id, Role.SUPERVISOR, "north")),
                     since=NOW - timedelta(days=7), until=NOW)  # fmt: skip
    report = build(rows, zone=KYIV)
    assert (report["evaluations"], report["average"]) == (1, 100.0)  # the current revision
    assert report["teams"] == [{"team": "north", "evaluations": 1, "average": 100.0, "critical": 0}]


def test_the_weekly_sample_is_reproducible_filtered_and_tops_up(db_url: str) -> None:
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)

    def run(db: Session, evaluators: list[int], **kw: object) -> list[tuple[int, int, int]]:
        params: dict[str, object] = {"per_operator": 3, "seed": 7, "where": SampleFilter()} | kw
        result = sample_week(
            db, week=MONDAY + timedelta(days=3), zone=KYIV, evaluators=evaluators, now=NOW,
            created_by=None, **params,  # type: ignore[arg-type]
        )  # fmt: skip
        return result.assigned

    with sessions() as db:
        ops = [
            create_user(db, login=f"op{i}", role=Role.OPERATOR, password=None,
                        endpoints=[f"PJSIP/op{i}"], group="north")
            for i in range(2)
        ]  # fmt: skip
        qa = create_user(db, login="qa", role=Role.EVALUATOR, password=None)
        south = create_user(db, login="south", role=Role.SUPERVISOR, password=None, group="s")
        start = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
        for n in range(20):
            add_call(db, n, f"PJSIP/op{n % 2}", start + timedelta(hours=7 * n), talk=60 + 30 * n)
        add_call(db, 50, None, start)  # unanswered: never drawn
        add_call(db, 51, "PJSIP/op0", start - timedelta(days=1))  # the week before
        db.commit()
        ids = [u.id for u in ops]
        first = run(db, [qa.id, south.id])
        db.rollback()
        again = run(db, [qa.id, south.id])
        assert first == again and len(first) == 6  # the same seed and week: the same calls
        # the south group's supervisor may see none of them: all went to the evaluator
        assert {evaluator for _, _, evaluator in first} == {qa.id}
        assert sorted(op for _, op, _ in first) == sorted(ids * 3)
        assert run(db, [qa.id], seed=8) != first  # another seed, another draw
        db.rollback()
        run(db, [qa.id])
        db.commit()
        # a second run tops up to N: nothing more to add for 3; for 5, two more each
        assert run(db, [qa.id]) == []
        assert len(run(db, [qa.id], per_operator=5)) == 4
        db.commit()
        assert db.scalar(select(Assignment.reason).limit(1)) == "random"
        # long calls only: every drawn call talked at least 600 s
        long = run(db, [qa.id], per_operator=8, where=SampleFilter(min_talk_seconds=600))
        talks = db.scalars(select(Call.talk_seconds).where(Call.id.in_([c for c, _, _ in long])))
        assert long and min(t or 0.0 for t in talks) >= 600
        db.rollback()
        # repeat callers: only calls whose number called in the 7 days before
        repeat = add_call(db, 60, "PJSIP/op1", start + timedelta(days=3), number="79991112233")
        add_call(db, 61, "PJSIP/op0", start - timedelta(days=2), number="79991112233")
        drawn = run(db, [qa.id], per_operator=8, where=SampleFilter(repeat_callers=True))
        assert [c for c, _, _ in drawn] == [repeat.id]
        refused("quality_no_evaluators", lambda: run(db, []))
        refused("quality_no_evaluators", lambda: run(db, [99999]))
    engine.dispose()
