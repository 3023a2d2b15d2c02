"""``/api/v1/calls`` and ``/api/v1/devices``: call records and endpoint states."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy.orm import Session

from callagent.api.pii_search import allow_phone_search, audit_phone_search
from callagent.api.schemas import (
    CallDetail,
    CallPage,
    CallSummary,
    DeviceOut,
    Id,
    Problem,
    StartedSince,
    StartedUntil,
)
from callagent.api.security import Db, Requires
from callagent.auth.masking import mask_name, mask_phone
from callagent.auth.scopes import Scope
from callagent.auth.service import Principal, audit, group_endpoints
from callagent.db.models import Call
from callagent.db.queries import (
    CallFilter,
    get_call,
    list_calls,
    list_devices,
    operators_by_endpoint,
)
from callagent.quality.service import given_calls, is_given

router = APIRouter(prefix="/api/v1", tags=["calls"])
CallReader = Annotated[Principal, Depends(Requires(Scope.CALLS_READ))]
Disposition = Literal[
    "answered", "abandoned", "no_answer", "busy", "rejected", "congestion", "failed", "in_progress"
]
C = TypeVar("C", CallSummary, CallDetail)


def _looks_like_phone(value: str) -> bool:
    return sum(ch.isdigit() for ch in value) >= 7


def present(call: C, principal: Principal) -> C:
    """The call as this principal may see it: applicants' data masked without PII scope."""
    if Scope.CALLS_READ_PII in principal.scopes:
        return call
    update: dict[str, Any] = {
        "caller_number": mask_phone(call.caller_number) if call.caller_number else "",
        "caller_name": mask_name(call.caller_name),
        "applicant_number": mask_phone(call.applicant_number) if call.applicant_number else "",
        "variables": {
            k: mask_phone(v) if _looks_like_phone(v) else v for k, v in call.variables.items()
        },
    }
    if call.direction != "inbound" and call.dialled_number:
        update["dialled_number"] = mask_phone(call.dialled_number)
    return call.model_copy(update=update)


def _named(call: C, owners: dict[str, tuple[int, str]]) -> C:
    """The call with the operator behind its endpoint."""
    owner = owners.get(call.operator_endpoint or "")
    if owner is None:
        return call
    return call.model_copy(update={"operator_id": owner[0], "operator_login": owner[1]})


def visible_calls(db: Session, principal: Principal) -> tuple[tuple[str, ...] | None, bool]:
    """Which operator endpoints' calls the principal sees (None: all), and unanswered ones."""
    if principal.sees_only_own_calls:
        return principal.endpoints, False
    if principal.sees_only_group_calls:
        return group_endpoints(db, group=principal.group), True
    return None, False


def may_see_call(db: Session, principal: Principal, call: Call) -> bool:
    """Whether the call is one the principal's calls list would show."""
    if not is_given(db, principal, call.id):  # a QA evaluator: the calls given to them
        return False
    endpoints, unanswered = visible_calls(db, principal)
    hidden = endpoints is not None and call.operator_endpoint not in endpoints
    return not hidden or (unanswered and call.operator_endpoint is None)


@router.get(
    "/calls",
    response_model=CallPage,
    summary="List call records, newest first",
    description="Searching by `phone` needs `calls:read_pii`, is limited per user or token "
    "(CALLAGENT_PHONE_SEARCH_PER_MINUTE) and is audited, whether it matched or not.",
    responses={403: {"model": Problem}, 422: {"model": Problem}, 429: {"model": Problem}},
)
def calls_list(
    request: Request,
    db: Db,
    principal: CallReader,
    since: StartedSince = None,
    until: StartedUntil = None,
    operator: Annotated[
        str | None, Query(description="operator endpoint, e.g. PJSIP/op1001")
    ] = None,
    phone: Annotated[str | None, Query(description="applicant, caller or dialled number")] = None,
    direction: Literal["inbound", "outbound", "internal"] | None = None,
    disposition: Disposition | None = None,
    final: bool | None = None,
    topic: Annotated[
        str | None, Query(max_length=64, description="routing topic (CALLAGENT_TOPIC)")
    ] = None,
    category: Annotated[
        str | None, Query(max_length=64, description="a wrap-up category of the call")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> CallPage:
    if phone:  # a match or not would tell a masked number: PII scope, limited, audited
        allow_phone_search(request, principal)
    total, rows = list_calls(
        db,
        CallFilter(
            since,
            until,
            operator,
            phone,
            direction,
            disposition,
            final,
            *visible_calls(db, principal),
            topic=topic,
            category=category,
            call_ids=given_calls(principal),
        ),
        limit=limit,
        offset=offset,
    )
    owners = operators_by_endpoint(db)
    items = [present(_named(CallSummary.model_validate(row), owners), principal) for row in rows]
    if phone:
        audit_phone_search(
            db,
            principal,
            action="calls.list",
            number=phone,
            rows=len(items),
            total=total,
            since=since,
            until=until,
            operator=operator,
        )
    elif Scope.CALLS_READ_PII in principal.scopes and items:
        filters = {"since": since, "until": until, "operator": operator}
        audit(
            db,
            principal=principal,
            action="calls.list",
            detail={k: str(v) for k, v in filters.items() if v},
            rows=len(items),
        )
        db.commit()
    return CallPage(total=total, limit=limit, offset=offset, items=items)


@router.get(
    "/calls/{call_id}",
    response_model=CallDetail,
    summary="One call record with legs, operator attempts and timeline",
    responses={403: {"model": Problem}, 404: {"model": Problem}},
)
def calls_get(call_id: Id, db: Db, principal: CallReader) -> CallDetail:
    row = get_call(db, call_id)
    if row is None:
        raise HTTPException(404, f"no call with id {call_id}")
    if not may_see_call(db, principal, row):
        raise HTTPException(403, f"call {call_id} is not one of the calls you may see")
    return present(_named(CallDetail.model_validate(row), operators_by_endpoint(db)), principal)


@router.get("/devices", response_model=list[DeviceOut], summary="Endpoints and their state")
def devices_list(
    db: Db,
    _: Annotated[Principal, Depends(Requires(Scope.DEVICES_READ))],
    node: str | None = None,
) -> list[DeviceOut]:
    return [DeviceOut.model_validate(row) for row in list_devices(db, node)]
