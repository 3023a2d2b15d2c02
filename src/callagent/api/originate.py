"""``POST /api/v1/calls/originate``: click-to-call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from callagent.api.schemas import BodyId, Problem
from callagent.api.security import Db, Requires
from callagent.auth.scopes import Role, Scope
from callagent.auth.service import Principal
from callagent.db.models import User
from callagent.originate import OriginateError, Originator, Placed, normalise_number

router = APIRouter(prefix="/api/v1/calls", tags=["calls"])


class OriginateIn(BaseModel):
    # Only these fields: no context, application or variable can come from a request.
    model_config = ConfigDict(extra="forbid")

    number: str = Field(min_length=1, max_length=32, description="the applicant's number")
    operator_id: BodyId | None = Field(
        default=None, description="whose phone rings first (default: the caller's own)"
    )
    node: str | None = Field(default=None, max_length=64, description="PBX node")


class OriginateOut(BaseModel):
    call_id: int
    node: str
    linkedid: str


@router.post(
    "/originate",
    response_model=OriginateOut,
    status_code=202,
    summary="Ring an operator's phone, then the applicant (click-to-call)",
    responses={
        403: {"model": Problem},
        404: {"model": Problem},
        422: {"model": Problem},
        429: {"model": Problem},
        502: {"model": Problem},
        503: {"model": Problem},
    },
)
async def originate(
    body: OriginateIn,
    request: Request,
    db: Db,
    principal: Annotated[Principal, Depends(Requires(Scope.CALLS_ORIGINATE))],
) -> OriginateOut:
    operator_id = body.operator_id if body.operator_id is not None else principal.user_id
    placed = await place_from_operator(
        request,
        db,
        principal,
        operator_id=operator_id,
        number=body.number,
        node=body.node,
        may_use=lambda user_id: principal.role != Role.OPERATOR or user_id == principal.user_id,
        refusal="operators place calls from their own phone only",
    )
    return OriginateOut(call_id=placed.call_id, node=placed.node, linkedid=placed.linkedid)


async def place_from_operator(
    request: Request,
    db: Session,
    principal: Principal,
    *,
    operator_id: int | None,
    number: str,
    node: str | None,
    may_use: Callable[[int], bool],
    refusal: str,
) -> Placed:
    """Click-to-call from an operator's own phone, or an :class:`OriginateError` that says
    what is wrong (the app answers it with its status).

    ``may_use(operator_id)`` says whether ``principal`` may ring that operator's phone
    (403 with ``refusal`` otherwise).
    """
    normalised = normalise_number(number)
    if operator_id is None:
        raise OriginateError(422, "operator_id is required when calling with an API token")
    if not may_use(operator_id):
        raise OriginateError(403, refusal)
    operator = db.get(User, operator_id)
    if operator is None or not operator.active:
        raise OriginateError(404, f"no active operator with id {operator_id}")
    if not operator.endpoints:
        raise OriginateError(422, f"operator {operator.login} has no phone endpoint")
    originator: Originator = request.app.state.originator
    return await originator.place(
        actor=principal.actor, endpoint=operator.endpoints[0], number=normalised, node=node
    )
