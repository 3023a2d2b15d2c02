"""Users, tokens and sessions in the database (keyword-only services, no HTTP here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from callagent.auth.scopes import ROLE_SCOPES, Role, Scope
from callagent.auth.secrets import (
    SESSION_PREFIX,
    TOKEN_PREFIX,
    hash_password,
    new_secret,
    secret_hash,
    verify_password,
)
from callagent.db.models import ApiToken, AuditEntry, AuthSession, User

# last_used_at is written at most this often per token (not a write per request).
_LAST_USED_RESOLUTION = timedelta(seconds=60)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a logged-in user or an API token, and what they may do."""

    actor: str  # "user:alice", "token:3:crm" (for logs and the audit log; no secrets)
    scopes: frozenset[Scope]
    user_id: int | None = None
    role: Role | None = None
    endpoints: tuple[str, ...] = field(default_factory=tuple)
    session_id: int | None = None
    csrf_token: str | None = None
    group: str = ""

    @property
    def sees_only_own_calls(self) -> bool:
        """Operators see the calls their own phones took."""
        return self.role == Role.OPERATOR

    @property
    def sees_only_group_calls(self) -> bool:
        """Supervisors with a group see their operators' calls (and unanswered ones)."""
        return self.role == Role.SUPERVISOR and bool(self.group)


def now() -> datetime:
    """The current time, aware, UTC."""
    return datetime.now(UTC)


def create_user(
    session: Session,
    *,
    login: str,
    role: Role,
    password: str | None,
    full_name: str = "",
    endpoints: list[str] | None = None,
    skills: dict[str, int] | None = None,
    language: str = "ru",
    group: str = "",
) -> User:
    """Add a user (operator, supervisor, admin)."""
    stamp = now()
    user = User(
        login=login,
        full_name=full_name,
        role=role.value,
        password_hash=hash_password(password) if password else None,
        endpoints=list(endpoints or []),
        skills=dict(skills or {}),
        language=language,
        group=group,
        active=True,
        created_at=stamp,
        updated_at=stamp,
    )
    session.add(user)
    session.flush()
    return user


def authenticate_password(session: Session, *, login: str, password: str) -> User | None:
    """The active user with this login and password, else None (same work either way)."""
    user = session.scalar(select(User).where(User.login == login))
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.active:
        return None
    return user


def login_exists(session: Session, *, login: str) -> bool:
    """Whether a user has this login (to name it in a lock-out log line, or not)."""
    return session.scalar(select(User.id).where(User.login == login)) is not None


def create_session(
    session: Session, *, user: User, lifetime: timedelta, address: str
) -> tuple[str, AuthSession]:
    """A new login session; returns the cookie secret (shown once) and the row."""
    secret = new_secret(SESSION_PREFIX)
    stamp = now()
    row = AuthSession(
        user_id=user.id,
        token_hash=secret_hash(secret),
        csrf_token=new_secret("csrf_"),
        created_at=stamp,
        expires_at=stamp + lifetime,
        revoked_at=None,
        address=address[:64],
    )
    session.add(row)
    session.flush()
    return secret, row


def principal_from_session(session: Session, *, secret: str) -> Principal | None:
    """The user behind a session cookie, if the session is valid."""
    row = session.scalar(select(AuthSession).where(AuthSession.token_hash == secret_hash(secret)))
    if row is None or row.revoked_at is not None or row.expires_at <= now():
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    role = Role(user.role)
    return Principal(
        actor=f"user:{user.login}",
        scopes=ROLE_SCOPES[role],
        user_id=user.id,
        role=role,
        endpoints=tuple(user.endpoints),
        session_id=row.id,
        csrf_token=row.csrf_token,
        group=user.group,
    )


def revoke_session(session: Session, *, session_id: int) -> None:
    """End a login session now."""
    row = session.get(AuthSession, session_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = now()


def create_token(
    session: Session,
    *,
    name: str,
    scopes: frozenset[Scope],
    expires_at: datetime | None,
    created_by: int | None,
) -> tuple[str, ApiToken]:
    """A new API token; returns the secret (shown once, stored hashed) and the row."""
    secret = new_secret(TOKEN_PREFIX)
    row = ApiToken(
        name=name,
        token_hash=secret_hash(secret),
        prefix=secret[:10],
        scopes=sorted(s.value for s in scopes),
        created_by=created_by,
        created_at=now(),
        expires_at=expires_at,
        revoked_at=None,
        last_used_at=None,
    )
    session.add(row)
    session.flush()
    return secret, row


def token_state(row: ApiToken, at: datetime) -> str:
    """``revoked``, ``expired`` (its ``expires_at`` is ``at`` or earlier) or ``active``."""
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= at:
        return "expired"
    return "active"


def principal_from_token(session: Session, *, secret: str) -> Principal | None:
    """The integrator behind a bearer token, if the token is valid."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == secret_hash(secret)))
    stamp = now()
    if row is None or token_state(row, stamp) != "active":
        return None
    if row.last_used_at is None or stamp - row.last_used_at > _LAST_USED_RESOLUTION:
        row.last_used_at = stamp
        session.commit()
    return Principal(
        actor=f"token:{row.id}:{row.name}",
        scopes=frozenset(Scope(s) for s in row.scopes if s in Scope._value2member_map_),
    )


def revoke_token(session: Session, *, token_id: int) -> ApiToken | None:
    """Revoke a token now; None when there is no such token."""
    row = session.get(ApiToken, token_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = now()
    return row


def audit(
    session: Session, *, principal: Principal, action: str, detail: dict[str, object], rows: int
) -> None:
    """Record who read or exported personal data."""
    session.add(
        AuditEntry(at=now(), actor=principal.actor, action=action, detail=detail, rows=rows)
    )


def group_endpoints(session: Session, *, group: str) -> tuple[str, ...]:
    """Every phone endpoint of the operators in ``group``."""
    rows = session.scalars(
        select(User).where(User.group == group, User.role == Role.OPERATOR.value)
    )
    return tuple(endpoint for user in rows for endpoint in user.endpoints)
