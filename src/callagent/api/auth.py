"""``/api/v1/auth``: log in and out with a password (session cookie), who am I."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel, Field

from callagent.api.schemas import Problem
from callagent.api.security import SESSION_COOKIE, Db, LoginLimiter, current_principal
from callagent.auth.service import (
    Principal,
    authenticate_password,
    create_session,
    revoke_session,
)

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class LoginIn(BaseModel):
    login: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class LoginOut(BaseModel):
    login: str
    role: str
    expires_at: datetime
    csrf_token: str


class MeOut(BaseModel):
    actor: str
    role: str | None
    scopes: list[str]
    endpoints: list[str]


def _limiter(request: Request) -> LoginLimiter:
    limiter: LoginLimiter = request.app.state.login_limiter
    return limiter


@router.post(
    "/login",
    response_model=LoginOut,
    summary="Log in with login and password; sets the session cookie",
    responses={401: {"model": Problem}, 429: {"model": Problem}},
)
def login(body: LoginIn, request: Request, response: Response, db: Db) -> LoginOut:
    settings = request.app.state.settings
    address = request.client.host if request.client else "unknown"
    keys = [f"login:{body.login.lower()}", f"addr:{address}"]
    limiter = _limiter(request)
    wait = limiter.retry_after(keys)
    if wait:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many failed logins; try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    user = authenticate_password(db, login=body.login, password=body.password)
    if user is None:
        limiter.failed(keys)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong login or password")
    limiter.succeeded(keys)
    lifetime = timedelta(minutes=settings.session_lifetime_minutes)
    secret, row = create_session(db, user=user, lifetime=lifetime, address=address)
    db.commit()
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(lifetime.total_seconds()),
        httponly=True,
        secure=settings.cookie_secure,
        samesite="strict",
        path="/",
    )
    return LoginOut(
        login=user.login, role=user.role, expires_at=row.expires_at, csrf_token=row.csrf_token
    )


@router.post(
    "/logout",
    status_code=204,
    summary="End the current session",
    responses={401: {"model": Problem}},
)
def logout(
    response: Response, db: Db, principal: Annotated[Principal, Depends(current_principal)]
) -> None:
    if principal.session_id is not None:
        revoke_session(db, session_id=principal.session_id)
        db.commit()
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/me", response_model=MeOut, summary="Who the credential belongs to")
def me(principal: Annotated[Principal, Depends(current_principal)]) -> MeOut:
    return MeOut(
        actor=principal.actor,
        role=principal.role.value if principal.role else None,
        scopes=sorted(s.value for s in principal.scopes),
        endpoints=list(principal.endpoints),
    )
