"""Failed logins: back-off per account, a ceiling per address, proxies trusted by name.

Issue #15, point 9: five wrong logins from one address locked out everyone behind
it (an office behind one NAT address) for 5 minutes, and an ``X-Forwarded-For``
header from 127.0.0.1 bypassed the limit. Now the account that fails waits longer
after each failure, the address meets only a much higher ceiling, the forwarded
address counts only from CALLAGENT_TRUSTED_PROXIES, and lock-outs are logged.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys

import httpx
import pytest
from sqlalchemy import select

from callagent.auth.scopes import Role
from callagent.auth.service import create_user
from callagent.auth.throttle import LoginThrottle, SlidingWindow
from callagent.config import Settings
from callagent.db.models import AuthSession
from callagent.db.session import make_engine, make_sessionmaker
from tests.conftest import RunningService, running_service, wait_for

PASSWORD = "correct horse 7"
WRONG = "Tr0ub4dor&3-wrong"


def add_users(service: RunningService, *logins: str) -> None:
    with service.app.state.sessions() as session:  # type: ignore[attr-defined]
        for login in logins:
            create_user(session, login=login, role=Role.OPERATOR, password=PASSWORD)
        session.commit()


async def login(
    client: httpx.AsyncClient, name: str, password: str, **headers: str
) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/login", json={"login": name, "password": password}, headers=headers
    )


# ----------------------------------------------------------------- the rule itself


def test_the_delay_doubles_after_the_free_failures_up_to_the_cap() -> None:
    throttle = LoginThrottle(
        free_failures=5, backoff_base=1.0, backoff_max=300.0, window=900.0, address_limit=50
    )
    assert [throttle.delay(n) for n in range(1, 16)] == [
        0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300,
    ]  # fmt: skip
    assert throttle.delay(10**6) == 300  # no overflow however long an attack goes on


def test_an_account_waits_its_delay_and_is_forgotten_after_the_window() -> None:
    throttle = LoginThrottle(
        free_failures=2, backoff_base=10.0, backoff_max=60.0, window=600.0, address_limit=50
    )
    assert throttle.failed("Alice", "10.0.0.1", now=0) == (1, 1)
    assert throttle.check("alice", "10.0.0.2", now=0) is None
    assert throttle.failed("alice", "10.0.0.2", now=1) == (2, 1)  # case does not matter
    refusal = throttle.check("ALICE", "10.0.0.3", now=2)  # from any address
    assert refusal is not None and refusal.by == "account" and refusal.retry_after == 10
    assert throttle.check("bob", "10.0.0.1", now=2) is None  # nobody else
    assert throttle.check("alice", "10.0.0.1", now=11) is None  # the delay has passed
    throttle.failed("alice", "10.0.0.1", now=11)
    assert throttle.check("alice", "10.0.0.1", now=30) is not None  # 20 s now
    assert throttle.check("alice", "10.0.0.1", now=31) is None
    throttle.failed("alice", "10.0.0.1", now=31)
    assert throttle.check("alice", "10.0.0.1", now=70) is not None  # 40 s now
    assert throttle.check("alice", "10.0.0.1", now=72) is None
    assert throttle.failed("alice", "10.0.0.1", now=72) == (5, 4)  # 10.0.0.1: 4 of 5
    refusal = throttle.check("alice", "10.0.0.1", now=72)
    assert refusal is not None and refusal.retry_after == 61  # 80 s, capped at 60
    # 600 s after the last failure they are forgotten: the next one is the first again
    assert throttle.failed("alice", "10.0.0.1", now=672)[0] == 1
    assert throttle.check("alice", "10.0.0.1", now=672) is None
    throttle.failed("alice", "10.0.0.1", now=673)
    assert throttle.check("alice", "10.0.0.1", now=673) is not None
    throttle.succeeded("alice")  # a good login ends the back-off
    assert throttle.check("alice", "10.0.0.1", now=673) is None


def test_an_address_meets_a_ceiling_and_memory_stays_bounded() -> None:
    throttle = LoginThrottle(
        free_failures=5, backoff_base=1, backoff_max=300, window=60, address_limit=3, max_keys=100
    )
    for n in range(3):
        throttle.failed(f"user{n}", "192.0.2.7", now=n)
    refusal = throttle.check("someone-else", "192.0.2.7", now=3)
    assert refusal is not None and refusal.by == "address" and refusal.retry_after == 58
    assert throttle.check("someone-else", "192.0.2.7", now=60) is None  # the first slid out
    for n in range(10_000):  # a spray of logins and addresses
        throttle.failed(f"spray{n}", f"198.51.{n // 256}.{n % 256}", now=100)
    assert len(throttle._accounts) <= 100 and len(throttle.addresses._stamps) <= 100
    window = SlidingWindow(2, 10.0)
    window.hit("k", 0)
    assert window.retry_after("k", 1) == 0
    window.hit("k", 5)
    assert window.retry_after("k", 6) == 4  # until the first leaves the window
    assert window.count("k", 10) == 1


def test_trusted_proxies_are_addresses_or_networks() -> None:
    settings = Settings(_env_file=None, trusted_proxies="10.0.0.5, 10.1.0.0/16,::1")
    assert settings.trusted_proxies == ["10.0.0.5", "10.1.0.0/16", "::1"]
    assert Settings(_env_file=None).trusted_proxies == []
    with pytest.raises(ValueError, match="CALLAGENT_TRUSTED_PROXIES"):
        Settings(_env_file=None, trusted_proxies="nginx")


# ------------------------------------------------------------ through the service


async def test_one_persons_wrong_passwords_do_not_lock_out_the_office(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The issue's case: everybody behind one address (here 127.0.0.1)."""
    caplog.set_level(logging.WARNING, logger="callagent.api.auth")
    async with running_service(db_url) as service:
        add_users(service, "ivanova", "petrov", "sidorova")
        async with httpx.AsyncClient(base_url=service.base_url) as office:
            for _ in range(5):
                assert (await login(office, "ivanova", WRONG)).status_code == 401
            slowed = await login(office, "ivanova", PASSWORD)
            assert slowed.status_code == 429
            assert "this account" in slowed.json()["detail"]
            assert 0 < int(slowed.headers["retry-after"]) <= 2  # 1 s after the fifth
            # the colleagues at the same address log in as usual
            assert (await login(office, "petrov", PASSWORD)).status_code == 200
            assert (await login(office, "sidorova", WRONG)).status_code == 401
            assert (await login(office, "sidorova", PASSWORD)).status_code == 200
            # and ivanova herself, once her delay has passed
            await asyncio.sleep(int(slowed.headers["retry-after"]))
            assert (await login(office, "ivanova", PASSWORD)).status_code == 200
        lines = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any("login back-off: 'ivanova' failed 5 times" in line for line in lines), lines
        assert not any(WRONG in line or PASSWORD in line for line in lines)


async def test_each_failure_makes_the_account_wait_longer(db_url: str) -> None:
    async with running_service(
        db_url, login_max_failures=2, login_backoff_seconds=0.3, login_backoff_max_seconds=5
    ) as service:
        add_users(service, "lead")
        async with httpx.AsyncClient(base_url=service.base_url) as browser:
            assert (await login(browser, "lead", WRONG)).status_code == 401
            assert (await login(browser, "lead", WRONG)).status_code == 401
            assert (await login(browser, "lead", PASSWORD)).status_code == 429  # 0.3 s
            await asyncio.sleep(0.35)
            assert (await login(browser, "lead", WRONG)).status_code == 401
            await asyncio.sleep(0.35)
            assert (await login(browser, "lead", PASSWORD)).status_code == 429  # 0.6 s now
            await asyncio.sleep(0.3)
            assert (await login(browser, "lead", PASSWORD)).status_code == 200
            # a good login ends the back-off: the next mistake is a free one again
            assert (await login(browser, "lead", WRONG)).status_code == 401
            assert (await login(browser, "lead", PASSWORD)).status_code == 200


async def test_the_address_ceiling_is_high_and_logged_once(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="callagent.api.auth")
    async with running_service(db_url, login_address_max_failures=8) as service:
        add_users(service, "ivanova")
        async with httpx.AsyncClient(base_url=service.base_url) as sprayer:
            for n in range(8):  # one try each for many logins: a password spray
                assert (await login(sprayer, f"guess{n}", WRONG)).status_code == 401
            closed = await login(sprayer, "ivanova", PASSWORD)
            assert closed.status_code == 429 and "this address" in closed.json()["detail"]
            assert (await login(sprayer, "guess99", WRONG)).status_code == 429
        lines = [r.getMessage() for r in caplog.records if "login ceiling" in r.getMessage()]
        assert len(lines) == 1 and "127.0.0.1" in lines[0], lines
        assert not any("guess" in r.getMessage() for r in caplog.records)  # unknown logins


# ------------------------------------------------ X-Forwarded-For and `callagent serve`


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("trusted", ["", "127.0.0.1"])
async def test_forwarded_addresses_count_only_from_trusted_proxies(
    db_url: str, trusted: str
) -> None:
    """The real `callagent serve` (its uvicorn arguments), a client that forges headers."""
    engine = make_engine(db_url)
    try:
        with make_sessionmaker(engine)() as session:
            create_user(session, login="ivanova", role=Role.OPERATOR, password=PASSWORD)
            session.commit()
        port = free_port()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "CALLAGENT_DATABASE_URL": db_url,
            "CALLAGENT_HTTP_PORT": str(port),
            "CALLAGENT_AGI_ENABLED": "false",
            "CALLAGENT_CAMPAIGN_SCHEDULER": "off",
            "CALLAGENT_SIMULATOR": "off",
            "CALLAGENT_LOGIN_ADDRESS_MAX_FAILURES": "4",
            "CALLAGENT_TRUSTED_PROXIES": trusted,
            "CALLAGENT_COOKIE_SECURE": "false",
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "callagent",
            "serve",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:

                async def up() -> bool:
                    try:
                        return (await client.get("/healthz")).status_code == 200
                    except httpx.TransportError:
                        return False

                await wait_for(up, timeout=30)
                answers = [
                    (
                        await login(
                            client, f"guess{n}", WRONG, **{"X-Forwarded-For": f"10.9.0.{n}"}
                        )
                    ).status_code
                    for n in range(6)
                ]
                good = await login(client, "ivanova", PASSWORD, **{"X-Forwarded-For": "10.9.1.1"})
        finally:
            process.terminate()
            await asyncio.wait_for(process.communicate(), 30)
        with make_sessionmaker(engine)() as session:
            addresses = session.scalars(select(AuthSession.address)).all()
    finally:
        engine.dispose()
    if trusted:
        # the proxy names six clients: six addresses, none near its ceiling
        assert answers == [401] * 6
        assert good.status_code == 200 and addresses == ["10.9.1.1"]
    else:
        # nobody is trusted: a forged header is no way round the ceiling of 127.0.0.1
        assert answers == [401] * 4 + [429] * 2
        assert good.status_code == 429
        assert addresses == []
