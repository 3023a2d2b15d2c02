"""``/api/v1/quality``: QA evaluation (seed 003 B/01-B/03, seed 002 §3.1.4(9)).

``quality:evaluate`` (supervisors, the ``evaluator`` role, admins) evaluates calls the
credential may see (the calls list's rule: a supervisor with a group, their group's
calls), revises evaluations (a new revision, with a reason), draws the weekly sample,
sets up calibrations and resolves disputes. ``quality:read`` reads evaluations and
reports: operators their own (and acknowledge or dispute them), supervisors with a group
their group's, QA evaluators those of the calls given to them, the others all
(``quality.service.circle_of``). The centre's sample is drawn by admins, supervisors
without a group and tokens (``quality.service.may_draw_sample``). A refused request
changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import Response as HttpResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callagent.api.calls import may_see_call
from callagent.api.schemas import BodyId, Problem
from callagent.api.security import Db, Requires
from callagent.auth.scopes import Role, Scope
from callagent.auth.service import Principal, audit
from callagent.db.models import Call, User
from callagent.errors import ServiceError
from callagent.languages import language_of
from callagent.quality.export import csv_sheets, report_sheets
from callagent.quality.models import (
    Assignment,
    Evaluation,
    EvaluationAnswer,
    Response,
    ScorecardVersion,
)
from callagent.quality.reports import build, load_rows, trend_step
from callagent.quality.sampling import SampleFilter, sample_week, week_of
from callagent.quality.scorecard import Scorecard
from callagent.quality.scoring import MAX_COMMENT, Answer
from callagent.quality.service import (
    add_calibration,
    card_of,
    circle_of,
    evaluate,
    may_draw_sample,
    resolve,
    respond,
    revise,
)
from callagent.reports.periods import picked_days
from callagent.routing.operators import utcnow
from callagent.spreadsheets import MEDIA_TYPES, to_csv, to_xlsx
from callagent.web.i18n import strings

router = APIRouter(prefix="/api/v1/quality", tags=["quality"])
Reader = Annotated[Principal, Depends(Requires(Scope.QUALITY_READ))]
Evaluator = Annotated[Principal, Depends(Requires(Scope.QUALITY_EVALUATE))]
EvaluationId = Annotated[int, Path(ge=1, le=2_147_483_647, description="evaluation id")]
DisputeId = Annotated[int, Path(ge=1, le=2_147_483_647, description="dispute id")]
Day = Annotated[date, Field(ge=date(2000, 1, 1), le=date(2099, 12, 31))]
MAX_DAYS = 3660
_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": Problem},
    404: {"model": Problem},
    409: {"model": Problem},
    422: {"model": Problem},
}
AnswerValue = Literal["yes", "partial", "no", "na"]


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: AnswerValue = Field(description="critical errors: yes (made) or no")
    comment: str = Field(default="", max_length=MAX_COMMENT)


class EvaluationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    call_id: BodyId
    answers: dict[str, AnswerIn] = Field(
        description="every criterion and critical error of the current scorecard, by id",
        max_length=200,
    )
    comment: str = Field(default="", max_length=MAX_COMMENT, description="overall comment")


class RevisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answers: dict[str, AnswerIn] = Field(max_length=200)
    comment: str = Field(default="", max_length=MAX_COMMENT)
    reason: str = Field(min_length=1, max_length=2000, description="why it is corrected")


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=2000)


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["upheld", "rejected"] = Field(
        description="upheld: the evaluation is wrong (revise it: that upholds the dispute "
        "too); rejected: it stands"
    )
    note: str = Field(min_length=1, max_length=2000)


class SampleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    week: Day = Field(description="any day of the week (CALLAGENT_TIMEZONE)")
    per_operator: int = Field(default=5, ge=1, le=100)
    evaluator_ids: list[BodyId] = Field(min_length=1, max_length=100)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    topic: str | None = Field(default=None, max_length=64)
    min_talk_seconds: float | None = Field(default=None, gt=0, le=86_400)
    with_complaint: bool = False
    repeat_callers: bool = False


class CalibrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    call_id: BodyId
    evaluator_ids: list[BodyId] = Field(min_length=2, max_length=50)


class AssignmentOut(BaseModel):
    id: int
    call_id: int
    operator_id: int | None
    operator_name: str
    evaluator_id: int
    week: date
    kind: Literal["sample", "calibration", "manual"]
    reason: str
    status: Literal["open", "done"]
    call_started_at: datetime | None
    talk_seconds: float | None
    recording: bool = Field(description="the call has a recording file")


class SampleOut(BaseModel):
    week: date
    assigned: list[AssignmentOut]
    short: dict[str, int] = Field(description="operator id -> calls short of per_operator")


class AnswerOut(BaseModel):
    item_id: str
    answer: AnswerValue
    points: float
    possible: float
    critical: bool
    comment: str


class ResponseOut(BaseModel):
    id: int
    evaluation_id: int
    user_id: int | None
    kind: Literal["acknowledged", "disputed"]
    note: str
    at: datetime
    outcome: Literal["upheld", "rejected"] | None
    resolved_at: datetime | None
    resolved_by_id: int | None
    resolution: str


class EvaluationOut(BaseModel):
    id: int
    call_id: int | None
    call_started_at: datetime
    operator_id: int | None
    operator_name: str
    team: str
    evaluator_id: int | None
    evaluator_name: str
    scorecard: str = Field(description="the scorecard's id and version, e.g. public_services v1")
    kind: Literal["sample", "calibration", "manual"]
    revision: int
    revision_of_id: int | None
    revision_reason: str
    revised_by_id: int | None
    superseded_by_id: int | None
    score: float
    critical: bool
    comment: str
    submitted_at: datetime
    response: ResponseOut | None = Field(description="the operator's acknowledgement or dispute")


class EvaluationDetail(EvaluationOut):
    answers: list[AnswerOut]
    definition: dict[str, Any] = Field(description="the scorecard version it was made with")


class EvaluationPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[EvaluationOut]


class DisputeOut(BaseModel):
    dispute: ResponseOut
    evaluation: EvaluationOut


def _names(db: Session) -> dict[int, str]:
    """Staff names by user id (operators and evaluators: staff, not applicants)."""
    return {uid: name or login for uid, login, name in db.execute(
        select(User.id, User.login, User.full_name)
    )}  # fmt: skip


def _response_out(row: Response | None) -> ResponseOut | None:
    if row is None:
        return None
    return ResponseOut.model_validate(row, from_attributes=True)


def _outs(db: Session, evaluations: Sequence[Evaluation]) -> list[EvaluationOut]:
    """The evaluations as the API shows them: names, scorecard versions and the
    operators' answers read in three queries for the whole list, not per row."""
    names = _names(db)
    ids = [e.id for e in evaluations]
    versions = {
        row_id: f"{key} v{version}"
        for row_id, key, version in db.execute(
            select(ScorecardVersion.id, ScorecardVersion.key, ScorecardVersion.version).where(
                ScorecardVersion.id.in_({e.scorecard_id for e in evaluations})
            )
        )
    }
    responses: dict[int, Response] = {}
    for row in db.scalars(
        select(Response).where(Response.evaluation_id.in_(ids)).order_by(Response.id.desc())
    ):
        responses[row.evaluation_id] = row  # the first one wins: read newest first
    return [
        EvaluationOut(
            id=e.id,
            call_id=e.call_id,
            call_started_at=e.call_started_at,
            operator_id=e.operator_id,
            operator_name=names.get(e.operator_id or 0, ""),
            team=e.team,
            evaluator_id=e.evaluator_id,
            evaluator_name=names.get(e.evaluator_id or 0, ""),
            scorecard=versions.get(e.scorecard_id, ""),
            kind=e.kind,
            revision=e.revision,
            revision_of_id=e.revision_of_id,
            revision_reason=e.revision_reason,
            revised_by_id=e.revised_by_id,
            superseded_by_id=e.superseded_by_id,
            score=e.score,
            critical=e.critical,
            comment=e.comment,
            submitted_at=e.submitted_at,
            response=_response_out(responses.get(e.id)),
        )
        for e in evaluations
    ]


def _out(db: Session, evaluation: Evaluation) -> EvaluationOut:
    return _outs(db, [evaluation])[0]


def _assignments_out(db: Session, rows: Sequence[Assignment]) -> list[AssignmentOut]:
    """The assignments with their calls' time, talk and whether there is a recording (the
    calls read in one query)."""
    names = _names(db)
    calls = {
        call_id: (started, talk, bool(recording))
        for call_id, started, talk, recording in db.execute(
            select(Call.id, Call.started_at, Call.talk_seconds, Call.recording_file).where(
                Call.id.in_({row.call_id for row in rows})
            )
        )
    }
    return [
        AssignmentOut(
            id=row.id,
            call_id=row.call_id,
            operator_id=row.operator_id,
            operator_name=names.get(row.operator_id or 0, ""),
            evaluator_id=row.evaluator_id,
            week=row.week,
            kind=row.kind,
            reason=row.reason,
            status=row.status,
            call_started_at=calls.get(row.call_id, (None, None, False))[0],
            talk_seconds=calls.get(row.call_id, (None, None, False))[1],
            recording=calls.get(row.call_id, (None, None, False))[2],
        )
        for row in rows
    ]


def scorecard(request: Request) -> Scorecard:
    """The scorecard new evaluations are made with (loaded and checked at start)."""
    card: Scorecard = request.app.state.quality_scorecard
    return card


def _zone(request: Request) -> ZoneInfo:
    return ZoneInfo(request.app.state.settings.timezone)


def _answers(raw: dict[str, AnswerIn]) -> dict[str, Answer]:
    return {key: Answer(value.answer, value.comment) for key, value in raw.items()}


def _visible_call(db: Session, principal: Principal, call_id: int) -> Call:
    """The call, if the principal may see it: 404 when there is none, 403 when it is not
    one of theirs (the calls list's rule)."""
    call = db.get(Call, call_id)
    if call is None:
        raise HTTPException(404, f"no call with id {call_id}")
    if not may_see_call(db, principal, call):
        raise ServiceError(
            403,
            f"call {call_id} is not one of the calls you may see, so not one you may evaluate",
            code="quality_call_not_visible",
            params={"call": call_id},
        )
    return call


def _evaluation(db: Session, principal: Principal, evaluation_id: int) -> Evaluation:
    evaluation = db.get(Evaluation, evaluation_id)
    if evaluation is None:
        raise HTTPException(404, f"no evaluation with id {evaluation_id}")
    if not circle_of(db, principal).sees(evaluation):
        raise ServiceError(
            403,
            f"evaluation {evaluation_id} is not one you may see",
            code="quality_not_your_evaluation",
        )
    return evaluation


@router.get(
    "/scorecard",
    summary="The scorecard new evaluations are made with (sections, criteria, weights)",
)
def scorecard_get(request: Request, principal: Reader) -> dict[str, Any]:
    return scorecard(request).to_json()


@router.get(
    "/queue",
    response_model=list[AssignmentOut],
    summary="The caller's open assignments (sample and calibration), oldest week first",
)
def queue(db: Db, principal: Evaluator) -> list[AssignmentOut]:
    rows = db.scalars(
        select(Assignment)
        .where(Assignment.evaluator_id == principal.user_id, Assignment.status == "open")
        .order_by(Assignment.week, Assignment.id)
        .limit(500)
    ).all()
    return _assignments_out(db, rows)


@router.post(
    "/sample",
    response_model=SampleOut,
    status_code=201,
    summary="Draw and assign a week's sample (as `callagent quality sample`)",
    responses=_ERRORS,
)
def sample(request: Request, db: Db, principal: Evaluator, body: SampleIn) -> SampleOut:
    if not may_draw_sample(principal):
        raise ServiceError(
            403,
            "the centre's sample is drawn by an admin or a supervisor without a group (a "
            "group's supervisor and a QA evaluator are given their calls, they do not draw "
            "them)",
            code="quality_sample_not_yours",
        )
    where = SampleFilter(
        body.topic, body.min_talk_seconds, body.with_complaint, body.repeat_callers
    )
    result = sample_week(
        db,
        week=body.week,
        zone=_zone(request),
        per_operator=body.per_operator,
        evaluators=body.evaluator_ids,
        seed=body.seed,
        where=where,
        now=utcnow(),
        created_by=principal.user_id,
    )
    db.commit()
    made = db.scalars(
        select(Assignment).where(
            Assignment.week == result.week,
            Assignment.call_id.in_([c for c, _, _ in result.assigned]),
        )
    ).all()
    return SampleOut(
        week=result.week,
        assigned=_assignments_out(db, made),
        short={str(k): v for k, v in sorted(result.short.items())},
    )


@router.post(
    "/calibrations",
    response_model=list[AssignmentOut],
    status_code=201,
    summary="Give one call to several evaluators, to compare their answers",
    responses=_ERRORS,
)
def calibration(
    request: Request, db: Db, principal: Evaluator, body: CalibrationIn
) -> list[AssignmentOut]:
    call = _visible_call(db, principal, body.call_id)
    day = call.started_at.astimezone(_zone(request)).date()
    rows = add_calibration(
        db,
        call=call,
        evaluators=body.evaluator_ids,
        week=week_of(day),
        now=utcnow(),
        created_by=principal.user_id,
    )
    db.commit()
    return _assignments_out(db, rows)


@router.post(
    "/evaluations",
    response_model=EvaluationOut,
    status_code=201,
    summary="Submit an evaluation of a call one may see (immutable once submitted)",
    responses=_ERRORS,
)
def evaluation_create(
    request: Request, db: Db, principal: Evaluator, body: EvaluationIn
) -> EvaluationOut:
    call = _visible_call(db, principal, body.call_id)
    made = evaluate(
        db,
        card=scorecard(request),
        call=call,
        evaluator=principal,
        answers=_answers(body.answers),
        comment=body.comment,
        now=utcnow(),
    )
    db.commit()
    return _out(db, made)


@router.get(
    "/evaluations",
    response_model=EvaluationPage,
    summary="Evaluations one may see (operators: their own), newest call first",
    responses=_ERRORS,
)
def evaluations_list(
    request: Request,
    db: Db,
    principal: Reader,
    operator_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    call_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    date_from: Annotated[Day | None, Query(alias="from", description="calls from this day")] = None,
    date_to: Annotated[Day | None, Query(alias="to", description="calls to this day")] = None,
    revisions: Annotated[
        bool, Query(description="also the revisions that were superseded")
    ] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> EvaluationPage:
    query = select(Evaluation).where(circle_of(db, principal).where())
    if not revisions:
        query = query.where(Evaluation.superseded_by_id.is_(None))
    if operator_id is not None:
        query = query.where(Evaluation.operator_id == operator_id)
    if call_id is not None:
        query = query.where(Evaluation.call_id == call_id)
    if date_from is not None or date_to is not None:
        _, _, since, until = picked_days(date_from, date_to, _zone(request), longest=MAX_DAYS)
        query = query.where(Evaluation.call_started_at >= since, Evaluation.call_started_at < until)
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.scalars(
        query.order_by(Evaluation.call_started_at.desc(), Evaluation.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return EvaluationPage(total=total, limit=limit, offset=offset, items=_outs(db, rows))


@router.get(
    "/evaluations/{evaluation_id}",
    response_model=EvaluationDetail,
    summary="An evaluation with its answers and the scorecard version it was made with",
    responses=_ERRORS,
)
def evaluation_get(db: Db, principal: Reader, evaluation_id: EvaluationId) -> EvaluationDetail:
    evaluation = _evaluation(db, principal, evaluation_id)
    answers = db.scalars(
        select(EvaluationAnswer)
        .where(EvaluationAnswer.evaluation_id == evaluation.id)
        .order_by(EvaluationAnswer.id)
    ).all()
    base = _out(db, evaluation)
    return EvaluationDetail(
        **base.model_dump(),
        answers=[AnswerOut.model_validate(a, from_attributes=True) for a in answers],
        definition=card_of(db, evaluation).to_json(),
    )


@router.post(
    "/evaluations/{evaluation_id}/revisions",
    response_model=EvaluationOut,
    status_code=201,
    summary="Correct an evaluation: a new revision (who, why); the old one stays as it was",
    responses=_ERRORS,
)
def evaluation_revise(
    db: Db, principal: Evaluator, evaluation_id: EvaluationId, body: RevisionIn
) -> EvaluationOut:
    evaluation = _evaluation(db, principal, evaluation_id)
    if evaluation.call_id is not None:
        _visible_call(db, principal, evaluation.call_id)
    made = revise(
        db,
        evaluation=evaluation,
        by=principal,
        answers=_answers(body.answers),
        comment=body.comment,
        reason=body.reason,
        now=utcnow(),
    )
    db.commit()
    return _out(db, made)


def _respond(db: Db, principal: Principal, evaluation_id: int, kind: str, note: str) -> Response:
    evaluation = _evaluation(db, principal, evaluation_id)
    row = respond(db, evaluation=evaluation, by=principal, kind=kind, note=note, now=utcnow())
    db.commit()
    return row


@router.post(
    "/evaluations/{evaluation_id}/acknowledge",
    response_model=ResponseOut,
    status_code=201,
    summary="The operator acknowledges their evaluation",
    responses=_ERRORS,
)
def evaluation_acknowledge(
    db: Db, principal: Reader, evaluation_id: EvaluationId, body: NoteIn
) -> ResponseOut:
    row = _respond(db, principal, evaluation_id, "acknowledged", body.note)
    return ResponseOut.model_validate(row, from_attributes=True)


@router.post(
    "/evaluations/{evaluation_id}/dispute",
    response_model=ResponseOut,
    status_code=201,
    summary="The operator disputes their evaluation (a note: why); it goes to the supervisor",
    responses=_ERRORS,
)
def evaluation_dispute(
    db: Db, principal: Reader, evaluation_id: EvaluationId, body: NoteIn
) -> ResponseOut:
    row = _respond(db, principal, evaluation_id, "disputed", body.note)
    return ResponseOut.model_validate(row, from_attributes=True)


@router.get(
    "/disputes",
    response_model=list[DisputeOut],
    summary="Disputed evaluations of the operators one sees (open ones, or all)",
)
def disputes(
    db: Db,
    principal: Evaluator,
    state: Annotated[Literal["open", "all"], Query()] = "open",
) -> list[DisputeOut]:
    query = (
        select(Response, Evaluation)
        .join(Evaluation, Evaluation.id == Response.evaluation_id)
        .where(Response.kind == "disputed", circle_of(db, principal).where())
    )
    if state == "open":
        query = query.where(Response.resolved_at.is_(None))
    pairs = db.execute(query.order_by(Response.at, Response.id).limit(500)).all()
    shown = _outs(db, [e for _, e in pairs])
    return [
        DisputeOut(dispute=ResponseOut.model_validate(r, from_attributes=True), evaluation=out)
        for (r, _), out in zip(pairs, shown, strict=True)
    ]


@router.post(
    "/disputes/{dispute_id}/resolve",
    response_model=ResponseOut,
    summary="Resolve a dispute: rejected (the evaluation stands) or upheld, with a note",
    responses=_ERRORS,
)
def dispute_resolve(
    db: Db, principal: Evaluator, dispute_id: DisputeId, body: ResolveIn
) -> ResponseOut:
    dispute = db.get(Response, dispute_id)
    if dispute is None or dispute.kind != "disputed":
        raise HTTPException(404, f"no dispute with id {dispute_id}")
    _evaluation(db, principal, dispute.evaluation_id)
    row = resolve(
        db, dispute=dispute, by=principal, outcome=body.outcome, note=body.note, now=utcnow()
    )
    db.commit()
    return ResponseOut.model_validate(row, from_attributes=True)


ReportBy = Literal["day", "week", "month"]


def _report(
    request: Request,
    db: Session,
    principal: Principal,
    date_from: date | None,
    date_to: date | None,
    by: ReportBy | None,
    language: str,
) -> dict[str, Any]:
    """The quality report of the days for the principal's circle (``circle_of``), names
    and titles filled in: what ``/report`` answers and ``/report/export`` writes."""
    zone = _zone(request)
    first, last, since, until = picked_days(date_from, date_to, zone, longest=MAX_DAYS)
    step = by or trend_step(first, last)
    rows = load_rows(db, circle=circle_of(db, principal), since=since, until=until)
    out = build(rows, zone=zone, by=step)
    names = _names(db)
    card = scorecard(request)
    # the criteria in the scorecard's order (an older version's last, by id)
    order = {c.id: i for i, c in enumerate(card.criteria)}
    out["criteria"].sort(key=lambda row: (order.get(row["item_id"], len(order)), row["item_id"]))
    for section in ("criteria", "errors"):
        for row in out[section]:
            row["title"] = card.title_of(row["item_id"], language)
    for row in out["calibration"]["criteria"]:
        row["title"] = card.title_of(row["item_id"], language)
    for row in out["operators"]:
        row["name"] = names.get(row["operator_id"] or 0, "")
    out["pass_mark"] = card.pass_mark
    out["first_day"], out["last_day"], out["by"] = first.isoformat(), last.isoformat(), step
    if principal.role == Role.OPERATOR:
        out["calibration"] = {"calls": [], "criteria": []}  # the evaluators' business
    return out


FromDay = Annotated[Day | None, Query(alias="from", description="calls from this day")]
ToDay = Annotated[Day | None, Query(alias="to", description="calls to this day")]


@router.get(
    "/report",
    summary="Scores per operator, team, period (trend), criterion; frequent errors; the "
    "calibration's spread per criterion",
    responses=_ERRORS,
)
def report(
    request: Request,
    db: Db,
    principal: Reader,
    date_from: FromDay = None,
    date_to: ToDay = None,
    by: Annotated[ReportBy, Query(description="the trend's period")] = "week",
    lang: Annotated[str | None, Query(description="titles in ru, uk or en")] = None,
) -> dict[str, Any]:
    return _report(request, db, principal, date_from, date_to, by, language_of(lang))


@router.get(
    "/report/export",
    summary="The quality report as XLSX or CSV (the reports page's quality part; audited)",
    description="The tables of the reports page's *Service quality* part for the same days "
    "and circle as `/report` (a group's supervisor: their group's; a QA evaluator: the calls "
    "given to them; operators: their own): a sheet each for operators, teams, the trend "
    "(`by`; default as the page: days up to 31 days, weeks up to 184, months beyond), "
    "criteria and frequent errors, column titles in `lang`, scores in percent, cells never "
    "formulas (CSV: the tables one after another). Every export is written to the audit log.",
    response_class=HttpResponse,
    responses=_ERRORS,
)
def report_export(
    request: Request,
    db: Db,
    principal: Reader,
    date_from: FromDay = None,
    date_to: ToDay = None,
    by: Annotated[ReportBy | None, Query(description="the trend's period")] = None,
    fmt: Annotated[Literal["csv", "xlsx"], Query(alias="format")] = "xlsx",
    lang: Annotated[Literal["ru", "uk", "en"], Query(description="titles' language")] = "ru",
) -> HttpResponse:
    out = _report(request, db, principal, date_from, date_to, by, lang)
    sheets = report_sheets(out, words=strings(lang), lang=lang)
    data = to_csv(csv_sheets(sheets)) if fmt == "csv" else to_xlsx(sheets)
    audit(
        db,
        principal=principal,
        action="quality.report_export",
        detail={"from": out["first_day"], "to": out["last_day"], "by": out["by"], "format": fmt},
        rows=out["evaluations"],
    )
    db.commit()
    first, last = out["first_day"].replace("-", ""), out["last_day"].replace("-", "")
    return HttpResponse(
        data,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="quality_{first}_{last}.{fmt}"'},
    )
