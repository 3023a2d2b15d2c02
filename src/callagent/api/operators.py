"""``/api/v1/operators``: the people who use callagent and their phones."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from callagent.api.schemas import Id, Problem
from callagent.api.security import Db, Requires
from callagent.auth.scopes import Role, Scope
from callagent.auth.secrets import hash_password
from callagent.auth.service import Principal, create_user, now
from callagent.db.models import User

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
    language: str = Field(default="ru", pattern=r"^(ru|en)$")
    group: str = Field(default="", max_length=64)

    _endpoints = field_validator("endpoints")(_check_endpoints)


class OperatorPatch(BaseModel):
    full_name: str | None = Field(default=None, max_length=255)
    role: Role | None = None
    password: str | None = Field(default=None, min_length=8, max_length=256)
    endpoints: list[str] | None = None
    skills: dict[str, int] | None = None
    language: str | None = Field(default=None, pattern=r"^(ru|en)$")
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


@router.get("", response_model=list[OperatorOut], summary="List operators and other users")
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
        raise HTTPException(409, f"the login {body.login!r} is taken") from None
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
