"""Authentication and authorisation for every HTTP route.

Every route declares what it needs with ``Depends(Requires(Scope.X))`` (or is
listed in ``PUBLIC_ROUTES``); a test walks the OpenAPI document and fails on a
route that does neither. Credentials: ``Authorization: Bearer cat_...`` (API
tokens with scopes) or the ``callagent_session`` cookie of a logged-in user
(the role's scopes), with ``X-CSRF-Token`` on unsafe methods.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from callagent.auth.scopes import Scope
from callagent.auth.secrets import same
from callagent.auth.service import Principal, principal_from_session, principal_from_token

SESSION_COOKIE = "callagent_session"
CSRF_HEADER = "X-CSRF-Token"
PUBLIC_ROUTES = frozenset(
    {
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
        ("POST", "/api/v1/auth/login"),
        ("POST", "/api/v1/callbacks/requests"),  # the website's: signed with the site key
        ("GET", "/operator/login"),  # the login page itself (HTML)
        ("GET", "/"),  # the web app's address: to /home (which needs a session)
    }
)
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

bearer_scheme = HTTPBearer(auto_error=False, description="API token: `Bearer cat_...`")
cookie_scheme = APIKeyCookie(
    name=SESSION_COOKIE, auto_error=False, description="session of a logged-in user"
)


def db_session(request: Request) -> Iterator[Session]:
    """A database session for one request."""
    with request.app.state.sessions() as session:
        yield session


Db = Annotated[Session, Depends(db_session)]


def _unauthorised(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"}
    )


def current_principal(
    request: Request,
    db: Db,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    cookie: Annotated[str | None, Depends(cookie_scheme)],
) -> Principal:
    """Who is calling, from a bearer token or a session cookie; 401 otherwise."""
    if bearer is not None:
        principal = principal_from_token(db, secret=bearer.credentials)
        if principal is None:
            raise _unauthorised("the API token is unknown, expired or revoked")
        return principal
    if cookie:
        principal = principal_from_session(db, secret=cookie)
        if principal is None:
            raise _unauthorised("the session has expired or was ended: log in again")
        if request.method not in _SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not principal.csrf_token or not same(sent, principal.csrf_token):
                raise HTTPException(
                    status.HTTP_403_FORBIDDEN,
                    f"missing or wrong {CSRF_HEADER} header (it comes with the login response)",
                )
        return principal
    raise _unauthorised("authentication required: send 'Authorization: Bearer <API token>'")


class Requires:
    """A dependency that lets a request through only with every listed scope."""

    def __init__(self, *scopes: Scope) -> None:
        self.scopes = frozenset(scopes)

    def __call__(self, principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        missing = self.scopes - principal.scopes
        if missing:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                "this credential lacks the scope(s) " + ", ".join(sorted(missing)),
            )
        return principal


class StreamRequires(Requires):
    """:class:`Requires` for the live streams, which stay open for hours.

    The credential is checked with a session of its own, opened and closed in one worker
    thread: the stream holds no connection, and a burst of pages reconnecting at once
    (after a restart) cannot take every connection of the pool in one thread hop while
    the next hop, which would give them back, waits for a thread.
    """

    async def __call__(  # type: ignore[override]
        self,
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
        cookie: Annotated[str | None, Depends(cookie_scheme)],
    ) -> Principal:
        def check() -> Principal:
            with request.app.state.sessions() as db:
                principal = current_principal(request, db, bearer, cookie)
            return Requires.__call__(self, principal)

        return await asyncio.to_thread(check)
