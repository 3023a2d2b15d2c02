"""Passwords (argon2) and high-entropy tokens (SHA-256 of a random secret)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# A hash to verify against when the login does not exist, so that timing does not
# tell which logins exist.
_DUMMY_HASH = _hasher.hash("callagent-no-such-user")

TOKEN_PREFIX = "cat_"  # noqa: S105 - a prefix, not a secret
SESSION_PREFIX = "cas_"


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; constant work whether or not a hash exists."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def new_secret(prefix: str) -> str:
    """A new random bearer secret (256 bits), recognisable by its prefix."""
    return prefix + secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    """What is stored for a bearer secret: its SHA-256 (the secret has 256 bits)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time comparison."""
    return hmac.compare_digest(a.encode(), b.encode())
