"""``/api/v1/auth``: log in and out with a password (session cookie), who am I."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel, Field

from callagent.api.schemas import Problem
from callagent.api.security import SESSION_COOKIE, Db, current_principal
from callagent.auth.service import (
    Principal,
    authenticate_password,
    create_session,
    login_exists,
    revoke_session,
)
from callagent.auth.throttle import LoginThrottle

log = logging.getLogger(__name__)
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


def _throttle(request: Request) -> LoginThrottle:
    throttle: LoginThrottle = request.app.state.login_throttle
    return throttle


def _log_failure(
    db: Db, throttle: LoginThrottle, login: str, address: str, failures: tuple[int, int]
) -> None:
    """A WARNING when a failure slows the account down or closes the address.

    The login is named only when it is a user's (staff, not applicants): a password
    typed into the login field must not reach the log. Never the password.
    """
    account, from_address = failures
    wait = throttle.delay(account)
    if wait > 0:
        who = repr(login) if login_exists(db, login=login) else "an unknown login"
        log.warning(
            "login back-off: %s failed %d times in a row (last from %s); next try in %.0f s",
            who,
            account,
            address,
            wait,
        )
    if from_address == throttle.addresses.limit:
        log.warning(
            "login ceiling: %d failed logins from %s in %.0f s; its logins are refused "
            "until fewer failed in that time (CALLAGENT_LOGIN_ADDRESS_MAX_FAILURES)",
            from_address,
            address,
            throttle.window,
        )


@router.post(
    "/login",
    response_model=LoginOut,
    summary="Log in with login and password; sets the session cookie",
    responses={401: {"model": Problem}, 429: {"model": Problem}},
)
def login(body: LoginIn, request: Request, response: Response, db: Db) -> LoginOut:
    settings = request.app.state.settings
    # The peer, or the client a trusted proxy names (CALLAGENT_TRUSTED_PROXIES: uvicorn
    # reads X-Forwarded-For only from those, see `callagent serve`).
    address = request.client.host if request.client else "unknown"
    throttle = _throttle(request)
    refusal = throttle.check(body.login, address)
    if refusal is not None:
        whose = "this account" if refusal.by == "account" else "this address"
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many failed logins for {whose}; try again in {refusal.retry_after} s",
            headers={"Retry-After": str(refusal.retry_after)},
        )
    user = authenticate_password(db, login=body.login, password=body.password)
    if user is None:
        failures = throttle.failed(body.login, address)
        _log_failure(db, throttle, body.login, address, failures)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong login or password")
    throttle.succeeded(body.login)
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
