"""``callagent tokens``: a lifetime of 0 days is refused, expired tokens are listed as
such (issue #15 point 11), through the real command on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

from callagent.auth.service import now, principal_from_token
from callagent.db.models import ApiToken
from callagent.db.session import make_engine, make_sessionmaker


def callagent(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CALLAGENT_DATABASE_URL": db_url}
    return subprocess.run(
        [sys.executable, "-m", "callagent", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_token_needs_a_positive_lifetime_and_shows_when_it_expired(db_url: str) -> None:
    for days in ("0", "-3"):
        refused = callagent(db_url, "tokens", "create", "crm", "--scope", "calls:read",
                            "--expires-days", days)  # fmt: skip
        # old code: 0 made a token that never expires (a falsy number of days)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert f"--expires-days {days}" in refused.stderr
        assert "never expires" in refused.stderr
    made = {}
    for name in ("soon", "kept", "gone"):
        created = callagent(db_url, "tokens", "create", name, "--scope", "calls:read",
                            "--expires-days", "1")  # fmt: skip
        assert created.returncode == 0, created.stderr
        made[name] = created.stdout.strip().rsplit(" ", 1)[-1]
    assert callagent(db_url, "tokens", "revoke", "3").returncode == 0
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    try:
        with sessions() as session:
            rows = {row.name: row for row in session.query(ApiToken)}
            assert rows["kept"].expires_at is not None
            assert timedelta(hours=23) < rows["kept"].expires_at - now() <= timedelta(days=1)
            rows["soon"].expires_at = now() - timedelta(minutes=1)
            session.commit()
        with sessions() as session:
            assert principal_from_token(session, secret=made["soon"]) is None
            assert principal_from_token(session, secret=made["kept"]) is not None
    finally:
        engine.dispose()
    listed = callagent(db_url, "tokens", "list")
    assert listed.returncode == 0, listed.stderr
    states = {line.split()[1]: line.split()[3] for line in listed.stdout.splitlines()}
    assert states == {"soon": "expired", "kept": "active", "gone": "revoked"}  # old: active
