"""``/api/v1/operators``: the people who use callagent and their phones."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from callagent.api.schemas import Id, Problem
from callagent.api.security import Db, Requires
from callagent.api.wrapups import language
from callagent.auth.scopes import Role, Scope
from callagent.auth.secrets import hash_password
from callagent.auth.service import Principal, audit, create_user, now
from callagent.db.models import OperatorStateChange, User
from callagent.errors import ServiceError
from callagent.routing.operators import OperatorBook, phones_down
from callagent.routing.router import Router
from callagent.routing.states import Signal
from callagent.web.i18n import strings

router = APIRouter(prefix="/api/v1/operators", tags=["operators"])
Reader = Annotated[Principal, Depends(Requires(Scope.OPERATORS_READ))]
Admin = Annotated[Principal, Depends(Requires(Scope.OPERATORS_ADMIN))]
_ENDPOINT = re.compile(r"^[A-Za-z0-9]+/[A-Za-z0-9_.@-]+$")


def _check_endpoints(value: list[str] | None) -> list[str] | None:
    for endpoint in value or []:
        if not _ENDPOINT.match(endpoint):
            raise ValueError(f"{endpoint!r} is not an endpoint like PJSIP/op1001")
    return value


class OperatorIn(BaseModel):
    login: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    full_name: str = Field(default="", max_length=255)
    role: Role = Role.OPERATOR
    password: str | None = Field(default=None, min_length=8, max_length=256)
    endpoints: list[str] = Field(default_factory=list)
    skills: dict[str, int] = Field(default_factory=dict)
    language: str = Field(default="ru", pattern=r"^(ru|uk|en)$")
    group: str = Field(default="", max_length=64)

    _endpoints = field_validator("endpoints")(_check_endpoints)


class OperatorPatch(BaseModel):
    full_name: str | None = Field(default=None, max_length=255)
    role: Role | None = None
    password: str | None = Field(default=None, min_length=8, max_length=256)
    endpoints: list[str] | None = None
    skills: dict[str, int] | None = None
    language: str | None = Field(default=None, pattern=r"^(ru|uk|en)$")
    group: str | None = Field(default=None, max_length=64)
    active: bool | None = None

    _endpoints = field_validator("endpoints")(_check_endpoints)


class OperatorOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    login: str
    full_name: str
    role: str
    endpoints: list[str]
    skills: dict[str, int]
    language: str
    group: str
    active: bool
    created_at: datetime
    updated_at: datetime
    # The routing state (the database is where routing keeps it), so that a list of
    # users also says who is on the line now.
    state: str = Field(
        description="current state: ready, ringing, on_call, wrap_up, paused, offline, unavailable"
    )
    state_reason: str = Field(description="why, for a pause (break, lunch, ...); else ''")
    state_since: datetime | None = Field(description="when the current state began")


@router.get(
    "",
    response_model=list[OperatorOut],
    summary="List operators and other users, with their current state",
)
def operators_list(db: Db, _: Reader, active: bool | None = None) -> list[OperatorOut]:
    query = select(User).order_by(User.login)
    if active is not None:
        query = query.where(User.active.is_(active))
    return [OperatorOut.model_validate(u) for u in db.scalars(query).all()]


@router.get(
    "/{user_id}",
    response_model=OperatorOut,
    summary="One user",
    responses={404: {"model": Problem}},
)
def operators_get(user_id: Id, db: Db, _: Reader) -> OperatorOut:
    user = db.get(User, user_id)
    if user is None:
        raise HTTPException(404, f"no operator with id {user_id}")
    return OperatorOut.model_validate(user)


@router.post(
    "",
    response_model=OperatorOut,
    status_code=201,
    summary="Add an operator, supervisor or admin",
    responses={409: {"model": Problem}},
)
def operators_create(body: OperatorIn, db: Db, _: Admin) -> OperatorOut:
    try:
        user = create_user(
            db,
            login=body.login,
            role=body.role,
            password=body.password,
            full_name=body.full_name,
            endpoints=body.endpoints,
            skills=body.skills,
            language=body.language,
            group=body.group,
        )
        db.commit()
    except IntegrityError:
        db.rollback()
        raise ServiceError(  # a page says it in its language
            409,
            f"the login {body.login!r} is taken",
            code="login_taken",
            params={"login": body.login},
        ) from None
    return OperatorOut.model_validate(user)


@router.patch(
    "/{user_id}",
    response_model=OperatorOut,
    summary="Change a user (role, phones, skills, password, active)",
    responses={404: {"model": Problem}},
)
def operators_update(user_id: Id, body: OperatorPatch, db: Db, _: Admin) -> OperatorOut:
    user = db.get(User, user_id)
    if user is None:
        raise HTTPException(404, f"no operator with id {user_id}")
    changes = body.model_dump(exclude_unset=True)
    if "password" in changes:
        password = changes.pop("password")
        user.password_hash = hash_password(password) if password else None
    if "role" in changes and changes["role"] is not None:
        changes["role"] = Role(changes["role"]).value
    for name, value in changes.items():
        if value is not None:
            setattr(user, name, value)
    user.updated_at = now()
    db.commit()
    return OperatorOut.model_validate(user)


StateChanger = Annotated[Principal, Depends(Requires(Scope.OPERATORS_STATE))]


class StateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: Literal["ready", "paused", "offline"]
    reason: Literal["break", "lunch", "training", "meeting", "other"] | None = Field(
        default=None, description="why, for a pause"
    )


class StateOut(BaseModel):
    user_id: int
    login: str
    state: str
    reason: str
    since: datetime | None
    claimed_call: str | None


class StateChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    from_state: str
    to_state: str
    reason: str
    cause: str
    call: str | None


class WaitingOut(BaseModel):
    call: str
    waiting_seconds: float
    position: int
    priority: int


def _own_or_forbidden(principal: Principal, user_id: int) -> None:
    if principal.role == Role.OPERATOR and principal.user_id != user_id:
        raise HTTPException(403, "operators change and see only their own state")


@router.post(
    "/{user_id}/state",
    response_model=StateOut,
    summary="Ready, pause with a reason, or log out",
    responses={403: {"model": Problem}, 404: {"model": Problem}, 409: {"model": Problem}},
)
def operators_set_state(
    user_id: Id, body: StateIn, request: Request, db: Db, principal: StateChanger
) -> StateOut:
    _own_or_forbidden(principal, user_id)
    book: OperatorBook = request.app.state.book
    signal = {"ready": Signal.READY, "paused": Signal.PAUSE, "offline": Signal.LOGOUT}[body.state]
    reason = (body.reason or "break") if body.state == "paused" else ""
    before = book.view(user_id)
    if before is None:
        raise HTTPException(404, f"no operator with id {user_id}")
    after = book.signal(user_id, signal, cause="api", reason=reason)
    assert after is not None
    if after.state != body.state:
        user = db.get(User, user_id)
        down = phones_down(db, user.endpoints if user else []) if body.state == "ready" else []
        if down:  # routing would skip them: say what to do about it, in their language
            words = strings(language(request, db, principal))
            phones = ", ".join(down)
            raise ServiceError(
                409,
                words["error_phone_not_registered"].format(phones=phones),
                code="phone_not_registered",
                params={"phones": phones},
            )
        raise ServiceError(  # states are values: the page names them in its language
            409,
            f"an operator in state {after.state!r} cannot go to {body.state!r} now",
            code="state_refused",
            params={"state": after.state, "target": body.state},
        )
    if principal.user_id != user_id:  # a supervisor acting for an operator: audited
        audit(
            db,
            principal=principal,
            action="operator_state",
            detail={"user_id": user_id, "state": body.state, "reason": reason},
            rows=1,
        )
        db.commit()
    return StateOut(**after.__dict__)


@router.get(
    "/{user_id}/state-history",
    response_model=list[StateChangeOut],
    summary="Every state change, newest first",
    responses={403: {"model": Problem}},
)
def operators_state_history(
    user_id: Id,
    db: Db,
    principal: StateChanger,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[StateChangeOut]:
    _own_or_forbidden(principal, user_id)
    rows = db.scalars(
        select(OperatorStateChange)
        .where(OperatorStateChange.user_id == user_id)
        .order_by(OperatorStateChange.id.desc())
        .limit(limit)
    ).all()
    return [StateChangeOut.model_validate(r) for r in rows]


routing_router = APIRouter(prefix="/api/v1/routing", tags=["routing"])


@routing_router.get(
    "/waiting", response_model=list[WaitingOut], summary="Calls waiting for a free operator now"
)
def routing_waiting(request: Request, _: Reader) -> list[WaitingOut]:
    router_state: Router = request.app.state.router
    ordered = router_state.waiting_now()  # not the calls that stopped asking
    return [
        WaitingOut(call=w.call, waiting_seconds=round(w.waited, 1), position=i, priority=w.priority)
        for i, w in enumerate(ordered, start=1)
    ]


class RouteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    linkedid: str = Field(min_length=1, max_length=150, pattern=r"^[A-Za-z0-9._-]+$")
    previous: str = Field(default="", max_length=32, description="DIALSTATUS of the last try")
    topic: str | None = Field(default=None, max_length=64)
    caller: str = Field(default="", max_length=32, description="agi_callerid")
    node: str | None = Field(
        default=None,
        max_length=64,
        description="the Asterisk node the call is on (CALLAGENT_NODE; default: the first)",
    )


class RouteOut(BaseModel):
    variables: dict[str, str]


@routing_router.post(
    "/route",
    response_model=RouteOut,
    summary="The route decision for process AGI (callagent-agi); FastAGI is the fast way",
)
async def routing_route(
    body: RouteIn,
    request: Request,
    _: Annotated[Principal, Depends(Requires(Scope.ROUTING_AGI))],
) -> RouteOut:
    router_state: Router = request.app.state.router
    # several nodes: the call is keyed by its own (routing/node_of.py); an unknown name is
    # the default node, as over FastAGI
    node = router_state.nodes.resolve(body.node, None) if body.node else None
    # in the loop where the router's waiting calls live (FastAGI's own)
    variables = await request.app.state.agi.call(
        router_state.decide(
            linkedid=body.linkedid,
            previous=body.previous,
            topic=body.topic,
            caller=body.caller,
            node=node,
        )
    )
    return RouteOut(variables=variables)
