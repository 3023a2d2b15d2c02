"""QA evaluation's speed (issue #13) on a SQLite file, on this machine.

1. The weekly sample: 60 operators, a week of 30,000 answered calls; 5 calls per
   operator drawn and assigned, without filters and with the repeat-callers filter (the
   costliest: every number's earlier calls are read).
2. The quality report over a year: 60 operators x 5 evaluations a week x 52 weeks
   (15,600 evaluations, 124,800 answers) read and summed for the whole centre.

``python bench/quality.py``; prints one line per figure. Data by bulk insert, seeded.
"""

from __future__ import annotations

import random
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from callagent.db.models import Call, User
from callagent.db.session import make_engine, make_sessionmaker, upgrade
from callagent.quality.models import Evaluation, EvaluationAnswer
from callagent.quality.reports import build, load_rows
from callagent.quality.sampling import SampleFilter, sample_week
from callagent.quality.scorecard import load_scorecard
from callagent.quality.scoring import Answer, score
from callagent.quality.service import Circle, stored_version

ZONE = ZoneInfo("Europe/Moscow")
OPERATORS = 60
CALLS = 30_000
MONDAY = date(2026, 11, 23)
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="callagent-bench-quality-"))
    url = f"sqlite:///{folder / 'bench.db'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    rng = random.Random(13)
    card = load_scorecard()
    with sessions.begin() as db:
        db.execute(
            insert(User),
            [
                {
                    "login": f"op{n}",
                    "full_name": f"Operator {n}",
                    "role": "operator" if n else "evaluator",
                    "endpoints": [f"PJSIP/op{n}"] if n else [],
                    "skills": {},
                    "group": f"team{n % 6}",
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for n in range(OPERATORS + 1)
            ],
        )
        start = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
        numbers = [f"7916{n:07d}" for n in range(CALLS // 2)]  # about two calls a number
        db.execute(
            insert(Call),
            [
                {
                    "node": "pbx1",
                    "linkedid": f"b{n}",
                    "direction": "inbound",
                    "applicant_number": rng.choice(numbers),
                    "started_at": start + timedelta(seconds=rng.randrange(7 * 86_400)),
                    "answered_at": start,
                    "talk_seconds": rng.expovariate(1 / 180),
                    "operator_endpoint": f"PJSIP/op{1 + n % OPERATORS}",
                    "disposition": "answered",
                    "updated_at": start,
                }
                for n in range(CALLS)
            ],
        )
    for label, where in (
        ("no filter", SampleFilter()),
        ("repeat callers", SampleFilter(repeat_callers=True)),
    ):
        with sessions() as db:
            began = time.perf_counter()
            result = sample_week(
                db, week=MONDAY, zone=ZONE, per_operator=5, evaluators=[1], seed=1,
                where=where, now=NOW, created_by=None,
            )  # fmt: skip
            took = time.perf_counter() - began
            db.rollback()
        print(
            f"sample of a week ({CALLS:,} calls, {OPERATORS} operators, {label}): "
            f"{len(result.assigned)} assigned in {took:.2f} s"
        )

    with sessions.begin() as db:
        version = stored_version(db, card, now=NOW)
        rows: list[dict[str, object]] = []
        answers: list[dict[str, object]] = []
        first = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)
        evaluation_id = 0
        for week in range(52):
            for operator in range(2, OPERATORS + 2):
                for _ in range(5):
                    evaluation_id += 1
                    given = {c.id: Answer(rng.choice(c.answers)) for c in card.criteria} | {
                        e.id: Answer("yes" if rng.random() < 0.02 else "no")
                        for e in card.critical_errors
                    }
                    result_score = score(card, given)
                    rows.append(
                        {
                            "id": evaluation_id,
                            "call_started_at": first
                            + timedelta(days=7 * week, minutes=evaluation_id % 600),
                            "operator_id": operator,
                            "team": f"team{operator % 6}",
                            "evaluator_id": 1,
                            "scorecard_id": version.id,
                            "kind": "sample",
                            "revision": 1,
                            "revision_reason": "",
                            "score": result_score.percent,
                            "earned": result_score.earned,
                            "possible": result_score.possible,
                            "critical": bool(result_score.critical_errors),
                            "comment": "",
                            "submitted_at": NOW,
                        }
                    )
                    answers.extend(
                        {
                            "evaluation_id": evaluation_id,
                            "item_id": item.item_id,
                            "answer": item.answer,
                            "points": item.points,
                            "possible": item.possible,
                            "critical": item.critical,
                            "comment": "",
                        }
                        for item in result_score.items
                    )
        db.execute(insert(Evaluation), rows)
        db.execute(insert(EvaluationAnswer), answers)
    with sessions() as db:
        began = time.perf_counter()
        loaded = load_rows(db, circle=Circle(None, None), since=first, until=NOW)
        read = time.perf_counter() - began
        began = time.perf_counter()
        report = build(loaded, zone=ZONE, by="week")
        summed = time.perf_counter() - began
    print(
        f"report of a year ({len(rows):,} evaluations, {len(answers):,} answers): read "
        f"{read:.2f} s, summed {summed:.2f} s; {len(report['operators'])} operators, "
        f"{len(report['trend'])} weeks"
    )
    engine.dispose()


if __name__ == "__main__":
    main()
