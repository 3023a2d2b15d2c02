"""``/api/v1/tokens``: integrators' API tokens (admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select

from callagent.api.schemas import AwareTime, Id, Problem
from callagent.api.security import Db, Requires
from callagent.auth.scopes import Scope, parse_scopes
from callagent.auth.service import Principal, create_token, now, revoke_token
from callagent.db.models import ApiToken

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"])
Admin = Annotated[Principal, Depends(Requires(Scope.TOKENS_ADMIN))]


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    scopes: list[str] = Field(min_length=1)
    expires_at: AwareTime | None = None

    @field_validator("scopes")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        parse_scopes(value)
        return value

    @field_validator("expires_at")
    @classmethod
    def _future(cls, value: datetime | None) -> datetime | None:
        if value is not None and value <= now():
            raise ValueError("expires_at must be in the future")
        return value


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="the secret; shown only in this response")


@router.get("", response_model=list[TokenOut], summary="List tokens (never their secrets)")
def tokens_list(db: Db, _: Admin) -> list[TokenOut]:
    rows = db.scalars(select(ApiToken).order_by(ApiToken.id)).all()
    return [TokenOut.model_validate(r) for r in rows]


@router.post("", response_model=TokenCreated, status_code=201, summary="Create a token")
def tokens_create(body: TokenIn, db: Db, principal: Admin) -> TokenCreated:
    secret, row = create_token(
        db,
        name=body.name,
        scopes=parse_scopes(body.scopes),
        expires_at=body.expires_at,
        created_by=principal.user_id,
    )
    db.commit()
    return TokenCreated(token=secret, **TokenOut.model_validate(row).model_dump())


@router.delete(
    "/{token_id}",
    response_model=TokenOut,
    summary="Revoke a token",
    responses={404: {"model": Problem}},
)
def tokens_revoke(token_id: Id, db: Db, _: Admin) -> TokenOut:
    row = revoke_token(db, token_id=token_id)
    if row is None:
        raise HTTPException(404, f"no token with id {token_id}")
    db.commit()
    return TokenOut.model_validate(row)
