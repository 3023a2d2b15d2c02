"""QA evaluations: storing the scorecard's versions, evaluating, revising, acknowledging
and disputing, and who sees what. Keyword-only services over a session; the caller
commits. No HTTP here: refusals are :class:`~callagent.errors.ServiceError` with a code
the pages translate.

Who sees an evaluation (:func:`circle_of`): the operator evaluated (their own); a
supervisor with a group: their group's operators' and the ones they made; a QA evaluator
(the ``evaluator`` role): those of the calls given to them (:func:`given_calls`) and the
ones they made; everyone else with ``quality:read`` (supervisors without a group, admins,
tokens): all. Whether the evaluator may see the *call* is the API's question
(``api.calls.may_see_call``), asked before anything here is called. Who draws the
centre's weekly sample: :func:`may_draw_sample`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CompoundSelect, false, or_, select, union
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session

from callagent.auth.scopes import Role, Scope
from callagent.auth.service import Principal
from callagent.db.models import Call, User
from callagent.db.queries import operators_by_endpoint
from callagent.errors import ServiceError
from callagent.quality.models import (
    Assignment,
    Evaluation,
    EvaluationAnswer,
    Response,
    ScorecardVersion,
)
from callagent.quality.scorecard import Scorecard, scorecard_from_json
from callagent.quality.scoring import Answer, check_answers, score

MAX_NOTE = 2000


def stored_version(db: Session, card: Scorecard, *, now: datetime) -> ScorecardVersion:
    """The stored row of this scorecard version, added on first use. A file changed
    without raising ``version`` is refused (409): the evaluations made with the stored
    definition must keep meaning what they meant."""
    query = select(ScorecardVersion).where(
        ScorecardVersion.key == card.id, ScorecardVersion.version == card.version
    )
    row = db.scalar(query)
    if row is None:
        row = ScorecardVersion(
            key=card.id,
            version=card.version,
            digest=card.digest(),
            definition=card.to_json(),
            created_at=now,
        )
        try:
            with db.begin_nested():  # another process may store it at the same moment
                db.add(row)
        except IntegrityError:
            row = db.scalar(query)
            assert row is not None
    if row.digest != card.digest():
        raise ServiceError(
            409,
            f"scorecard '{card.id}' version {card.version} differs from the one stored with "
            "its evaluations: raise 'version' in CALLAGENT_QUALITY_SCORECARD's file",
            code="quality_scorecard_changed",
            params={"version": card.version},
        )
    return row


def scorecard_drift(db: Session, card: Scorecard) -> str | None:
    """Checked at start: the stored definition of this scorecard's id and version, when
    the file now says something else under the same version; None when they agree or the
    version was never used. Said at start (and on the quality page) so it is not found
    only by the evaluator whose evaluation is refused (409 ``quality_scorecard_changed``)."""
    digest = db.scalar(
        select(ScorecardVersion.digest).where(
            ScorecardVersion.key == card.id, ScorecardVersion.version == card.version
        )
    )
    if digest is None or digest == card.digest():
        return None
    return (
        f"the QA scorecard '{card.id}' version {card.version} differs from the one its "
        "evaluations were made with: new evaluations are refused until 'version' is raised "
        "in CALLAGENT_QUALITY_SCORECARD's file (or the file is put back as it was)"
    )


def card_of(db: Session, evaluation: Evaluation) -> Scorecard:
    """The scorecard version an evaluation was made with."""
    row = db.get(ScorecardVersion, evaluation.scorecard_id)
    assert row is not None  # a foreign key
    return scorecard_from_json(row.definition)


@dataclass(frozen=True)
class Circle:
    """Whose evaluations a principal sees: ``operators`` and ``given`` None: everyone's;
    else those operators', those of the calls ``given`` selects (a QA evaluator's:
    :func:`given_calls`) and (``me``) the ones they made."""

    operators: frozenset[int] | None
    me: int | None
    given: CompoundSelect[Any] | None = None

    @property
    def everyone(self) -> bool:
        return self.operators is None and self.given is None

    def sees(self, evaluation: Evaluation) -> bool:
        if self.everyone:
            return True
        if self.operators is not None and evaluation.operator_id in self.operators:
            return True
        if self.me is not None and self.me in (evaluation.evaluator_id, evaluation.revised_by_id):
            return True
        if self.given is None or evaluation.call_id is None:
            return False
        db = object_session(evaluation)
        assert db is not None  # a stored evaluation
        return evaluation.call_id in {row[0] for row in db.execute(self.given)}

    def where(self) -> Any:
        """The same as a query condition on Evaluation (True: no condition)."""
        if self.everyone:
            return True
        parts: list[Any] = []
        if self.operators:
            parts.append(Evaluation.operator_id.in_(sorted(self.operators)))
        if self.given is not None:
            parts.append(Evaluation.call_id.in_(self.given))
        if self.me is not None:
            parts += [Evaluation.evaluator_id == self.me, Evaluation.revised_by_id == self.me]
        return or_(*parts) if parts else false()


def circle_of(db: Session, principal: Principal) -> Circle:
    """Operators: themselves; supervisors with a group: the group; QA evaluators: the
    calls given to them (:func:`given_calls`, the rule of the calls list too); others:
    everyone."""
    me = principal.user_id
    if principal.role == Role.OPERATOR:
        return Circle(frozenset({me} if me is not None else set()), None)
    if principal.sees_only_group_calls:
        group = db.scalars(select(User.id).where(User.group == principal.group)).all()
        return Circle(frozenset(group), me)
    given = given_calls(principal)
    if given is not None:
        return Circle(frozenset(), me, given)
    return Circle(None, me)


def may_draw_sample(principal: Principal) -> bool:
    """Whether the principal draws the centre's weekly sample (the API and the page ask
    this): one with ``quality:evaluate`` who sees the whole centre's calls, i.e. an admin,
    a supervisor without a group or a token. Not a group's supervisor (the draw takes every
    operator's calls), and not a QA evaluator: they see only the calls given to them, and a
    draw of their own would give them calls (up to 100 per operator a week) and show them
    the others' shares."""
    return (
        Scope.QUALITY_EVALUATE in principal.scopes
        and not principal.sees_only_group_calls
        and given_calls(principal) is None
    )


def given_calls(principal: Principal) -> CompoundSelect[Any] | None:
    """The ids of the calls a QA evaluator (the ``evaluator`` role) sees: those given to
    them to evaluate (sample, calibration) and those they evaluated; None for every other
    principal (admins, supervisors and tokens are not limited so). Evaluators do not browse
    the centre's calls and wrap-ups: they listen to the ones they were given."""
    if principal.role != Role.EVALUATOR:
        return None
    me = principal.user_id
    return union(
        select(Assignment.call_id).where(Assignment.evaluator_id == me),
        select(Evaluation.call_id).where(
            Evaluation.evaluator_id == me, Evaluation.call_id.is_not(None)
        ),
    )


def is_given(db: Session, principal: Principal, call_id: int | None) -> bool:
    """Whether the principal may see this call by :func:`given_calls` (True when unlimited)."""
    given = given_calls(principal)
    if given is None:
        return True
    return call_id is not None and call_id in {row[0] for row in db.execute(given)}


def operator_of(db: Session, call: Call) -> User:
    """The operator who answered the call (422 when nobody did)."""
    owner = operators_by_endpoint(db).get(call.operator_endpoint or "")
    user = db.get(User, owner[0]) if owner is not None else None
    if call.answered_at is None or user is None:
        raise ServiceError(
            422,
            f"call {call.id} was not answered by an operator: there is nothing to evaluate",
            code="quality_no_operator",
            params={"call": call.id},
        )
    return user


def _answers(raw: Mapping[str, Answer]) -> dict[str, Answer]:
    return {key: Answer(a.value, a.comment.strip()) for key, a in raw.items()}


def _store(
    db: Session,
    *,
    card: Scorecard,
    version: ScorecardVersion,
    answers: Mapping[str, Answer],
    base: dict[str, Any],
) -> Evaluation:
    check_answers(card, answers)
    result = score(card, answers)
    evaluation = Evaluation(
        **base,
        scorecard_id=version.id,
        score=result.percent,
        earned=result.earned,
        possible=result.possible,
        critical=bool(result.critical_errors),
    )
    db.add(evaluation)
    db.flush()
    for item in result.items:
        db.add(
            EvaluationAnswer(
                evaluation_id=evaluation.id,
                item_id=item.item_id,
                answer=item.answer,
                points=item.points,
                possible=item.possible,
                critical=item.critical,
                comment=answers[item.item_id].comment,
            )
        )
    db.flush()
    return evaluation


def evaluate(
    db: Session,
    *,
    card: Scorecard,
    call: Call,
    evaluator: Principal,
    answers: Mapping[str, Answer],
    comment: str,
    now: datetime,
) -> Evaluation:
    """Submit an evaluation of ``call`` (which the evaluator may see: the API checked).

    The evaluator's open assignment of the call (if any) is done by it and gives it its
    kind (sample, calibration; else manual). Refused: a call nobody answered (422), one's
    own call (403), a call the evaluator evaluated already (409: revise that one).
    """
    operator = operator_of(db, call)
    me = evaluator.user_id
    if me is not None and operator.id == me:
        raise ServiceError(
            403,
            f"call {call.id} is your own: someone else evaluates it",
            code="quality_own_call",
        )
    if me is not None:
        earlier = db.scalar(
            select(Evaluation.id).where(
                Evaluation.call_id == call.id,
                Evaluation.evaluator_id == me,
                Evaluation.superseded_by_id.is_(None),
            )
        )
        if earlier is not None:
            raise ServiceError(
                409,
                f"you evaluated call {call.id} already (evaluation {earlier}): "
                "correct it with a revision",
                code="quality_already_evaluated",
                params={"evaluation": earlier},
            )
    assignment = (
        db.scalar(
            select(Assignment).where(
                Assignment.call_id == call.id,
                Assignment.evaluator_id == me,
                Assignment.status == "open",
            )
        )
        if me is not None
        else None
    )
    version = stored_version(db, card, now=now)
    evaluation = _store(
        db,
        card=card,
        version=version,
        answers=_answers(answers),
        base={
            "call_id": call.id,
            "call_started_at": call.started_at,
            "operator_id": operator.id,
            "team": operator.group,
            "evaluator_id": me,
            "revised_by_id": me,
            "assignment_id": assignment.id if assignment else None,
            "kind": assignment.kind if assignment else "manual",
            "revision": 1,
            "revision_reason": "",
            "comment": comment.strip(),
            "submitted_at": now,
        },
    )
    if assignment is not None:
        assignment.status = "done"
    return evaluation


def revise(
    db: Session,
    *,
    evaluation: Evaluation,
    by: Principal,
    answers: Mapping[str, Answer],
    comment: str,
    reason: str,
    now: datetime,
) -> Evaluation:
    """A corrected evaluation: a new row with the next revision number, who made it and
    why, scored with the *same* scorecard version; the old row is left as it was and
    learns only which row superseded it. Only the current revision is revised (409)."""
    if evaluation.superseded_by_id is not None:
        raise ServiceError(
            409,
            f"evaluation {evaluation.id} was revised already by {evaluation.superseded_by_id}",
            code="quality_superseded",
            params={"evaluation": evaluation.superseded_by_id},
        )
    if not reason.strip():
        raise ServiceError(422, "a revision needs its reason", code="quality_reason_needed")
    if len(reason) > MAX_NOTE:
        raise ServiceError(422, f"the reason is longer than {MAX_NOTE} characters")
    me = by.user_id
    if by.role in (Role.EVALUATOR, Role.OPERATOR) and me != evaluation.evaluator_id:
        raise ServiceError(
            403,
            f"evaluation {evaluation.id} is another evaluator's: a supervisor may revise it",
            code="quality_not_your_evaluation",
        )
    version = db.get(ScorecardVersion, evaluation.scorecard_id)
    assert version is not None
    new = _store(
        db,
        card=scorecard_from_json(version.definition),
        version=version,
        answers=_answers(answers),
        base={
            "call_id": evaluation.call_id,
            "call_started_at": evaluation.call_started_at,
            "operator_id": evaluation.operator_id,
            "team": evaluation.team,
            "evaluator_id": evaluation.evaluator_id,
            "revised_by_id": me,
            "assignment_id": evaluation.assignment_id,
            "kind": evaluation.kind,
            "revision": evaluation.revision + 1,
            "revision_of_id": evaluation.id,
            "revision_reason": reason.strip(),
            "comment": comment.strip(),
            "submitted_at": now,
        },
    )
    # the one change an evaluation ever sees after submission (see models)
    evaluation.superseded_by_id = new.id
    # an open dispute of the old revision is upheld by the correction
    for dispute in open_disputes_of(db, evaluation.id):
        dispute.outcome = "upheld"
        dispute.resolved_at = now
        dispute.resolved_by_id = me
        dispute.resolution = reason.strip()
    db.flush()
    return new


def open_disputes_of(db: Session, evaluation_id: int) -> Sequence[Response]:
    return db.scalars(
        select(Response).where(
            Response.evaluation_id == evaluation_id,
            Response.kind == "disputed",
            Response.resolved_at.is_(None),
        )
    ).all()


def respond(
    db: Session,
    *,
    evaluation: Evaluation,
    by: Principal,
    kind: str,
    note: str,
    now: datetime,
) -> Response:
    """The operator acknowledges (``acknowledged``) or disputes (``disputed``, with a note:
    it goes to the supervisor's list) their current evaluation, once."""
    if by.user_id is None or by.user_id != evaluation.operator_id:
        raise ServiceError(
            403,
            f"evaluation {evaluation.id} is not of your call: only its operator answers it",
            code="quality_not_your_evaluation",
        )
    if evaluation.superseded_by_id is not None:
        raise ServiceError(
            409,
            f"evaluation {evaluation.id} was revised: answer {evaluation.superseded_by_id}",
            code="quality_superseded",
            params={"evaluation": evaluation.superseded_by_id},
        )
    if kind == "disputed" and not note.strip():
        raise ServiceError(422, "say what you dispute and why", code="quality_dispute_note_needed")
    if len(note) > MAX_NOTE:
        raise ServiceError(422, f"the note is longer than {MAX_NOTE} characters")
    answered = db.scalar(select(Response).where(Response.evaluation_id == evaluation.id))
    if answered is not None:
        raise ServiceError(
            409,
            f"evaluation {evaluation.id} was {answered.kind} already",
            code="quality_already_answered",
            params={"kind": answered.kind},
        )
    response = Response(
        evaluation_id=evaluation.id,
        user_id=by.user_id,
        kind=kind,
        note=note.strip(),
        at=now,
        resolution="",
    )
    db.add(response)
    db.flush()
    return response


def resolve(
    db: Session, *, dispute: Response, by: Principal, outcome: str, note: str, now: datetime
) -> Response:
    """A supervisor ends a dispute: ``rejected`` (the evaluation stands; a note says why)
    or ``upheld`` (also done by revising the evaluation)."""
    if dispute.kind != "disputed":
        raise ServiceError(404, f"response {dispute.id} is not a dispute")
    if dispute.resolved_at is not None:
        raise ServiceError(
            409, f"dispute {dispute.id} was resolved already", code="quality_dispute_resolved"
        )
    if not note.strip():
        raise ServiceError(
            422, "say why the dispute is resolved so", code="quality_resolution_needed"
        )
    if len(note) > MAX_NOTE:
        raise ServiceError(422, f"the note is longer than {MAX_NOTE} characters")
    dispute.outcome = outcome
    dispute.resolved_at = now
    dispute.resolved_by_id = by.user_id
    dispute.resolution = note.strip()
    db.flush()
    return dispute


def add_calibration(
    db: Session,
    *,
    call: Call,
    evaluators: Sequence[int],
    week: Any,
    now: datetime,
    created_by: int | None,
) -> list[Assignment]:
    """Give the same call to several evaluators (a calibration session: the report shows
    how far their answers spread). An evaluator who has it already is skipped."""
    operator = operator_of(db, call)
    people = db.scalars(select(User).where(User.id.in_(evaluators))).all()
    if len(people) != len(set(evaluators)) or len(people) < 2:
        raise ServiceError(
            422,
            "a calibration needs at least two existing evaluators",
            code="quality_calibration_evaluators",
        )
    if any(person.id == operator.id for person in people):
        raise ServiceError(
            422,
            "the call's operator cannot calibrate on their own call",
            code="quality_own_call",
        )
    have = set(
        db.scalars(select(Assignment.evaluator_id).where(Assignment.call_id == call.id)).all()
    )
    made = []
    for person in people:
        if person.id in have:
            continue
        row = Assignment(
            call_id=call.id,
            operator_id=operator.id,
            evaluator_id=person.id,
            week=week,
            kind="calibration",
            reason="calibration",
            status="open",
            created_at=now,
            created_by_id=created_by,
        )
        db.add(row)
        made.append(row)
    db.flush()
    return made
