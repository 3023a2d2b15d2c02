"""Shared fixtures: databases (SQLite file and PostgreSQL), traces, a running service."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
import tempfile
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from callagent.api.app import create_app
from callagent.auth.scopes import ALL_SCOPES, Scope
from callagent.auth.service import create_token
from callagent.config import AmiNode, Settings
from callagent.db.session import normalise_url, upgrade
from callagent.sim.ami_server import AmiServer

TRACES = Path(__file__).resolve().parents[2] / "shared" / "pbx-traces"
if not TRACES.is_dir():  # CI clones the repo with shared/ beside it
    TRACES = Path(__file__).resolve().parents[1].parent / "shared" / "pbx-traces"
ALL_TRACES = sorted(p.stem for p in TRACES.glob("*.ami"))
LIVE_TRACES = TRACES / "live"  # recorded on a real Asterisk 22 (issue #11): live/README.md
# Live recordings that trace_expectations describes whole (named by their path under TRACES).
ALL_TRACES += ["live/live_feature_codes", "live/live_reregister_while_paused"]
CALL_TRACES = [
    name
    for name in ALL_TRACES
    if name
    not in ("operator_register_unregister", "operator_phone_unreachable", "queue_pause_unpause")
]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_URL = os.environ.get("CALLAGENT_TEST_POSTGRES_URL", "")


def trace_bytes(name: str) -> bytes:
    """The raw bytes of a recorded trace."""
    return (TRACES / f"{name}.ami").read_bytes()


def require_postgres() -> str:
    """The PostgreSQL server URL, or skip (fail in CI) when there is none."""
    if PG_URL:
        return PG_URL
    message = (
        "PostgreSQL tests need CALLAGENT_TEST_POSTGRES_URL "
        "(e.g. postgresql://callagent:callagent@127.0.0.1:5432/postgres); .ci/run sets it"
    )
    if IN_CI:
        pytest.fail("CI=true but " + message)
    pytest.skip(message)


_pg_template: str | None = None
_counter = itertools.count()


def _pg_admin_engine(url: str):  # type: ignore[no-untyped-def]
    return create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")


def _pg_database(server_url: str) -> tuple[str, str]:
    """A fresh, migrated PostgreSQL database (copied from a migrated template)."""
    global _pg_template
    admin = _pg_admin_engine(server_url)
    base = make_url(normalise_url(server_url))
    try:
        if _pg_template is None:
            template = f"callagent_tpl_{os.getpid()}"
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{template}"'))
                conn.execute(text(f'CREATE DATABASE "{template}"'))
            upgrade(base.set(database=template).render_as_string(hide_password=False))
            _pg_template = template
        name = f"callagent_t{os.getpid()}_{next(_counter)}_{uuid.uuid4().hex[:6]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{_pg_template}"'))
    finally:
        admin.dispose()
    return name, base.set(database=name).render_as_string(hide_password=False)


def _pg_drop(server_url: str, name: str) -> None:
    """Drop a test database. An autovacuum worker (not ours to terminate) can hold it for
    a moment: try again, and leave it behind rather than fail the test it served."""
    admin = _pg_admin_engine(server_url)
    try:
        for attempt in range(10):
            try:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                return
            except ProgrammingError:
                if attempt == 9:
                    warnings.warn(f"test database {name} left behind", stacklevel=1)
                    return
                time.sleep(0.5)
    finally:
        admin.dispose()


_sqlite_template: Path | None = None


def migrated_sqlite(path: Path) -> str:
    """The URL of a migrated, empty SQLite file at ``path``: a copy of this process's
    template, migrated once (running the migrations per test cost 0.3 s each)."""
    global _sqlite_template
    if _sqlite_template is None:
        template = Path(tempfile.mkdtemp(prefix="callagent_tpl_")) / "template.db"
        upgrade(f"sqlite:///{template}")
        # the engine closed: WAL checkpointed into the file, which is the whole database
        assert not template.with_name("template.db-wal").exists()
        _sqlite_template = template
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        yield migrated_sqlite(tmp_path / "callagent.db")
        return
    server = require_postgres()
    name, url = _pg_database(server)
    try:
        yield url
    finally:
        _pg_drop(server, name)


@pytest.fixture(scope="session", autouse=True)
def _drop_pg_template() -> Iterator[None]:
    yield
    if _pg_template is not None and PG_URL:
        _pg_drop(PG_URL, _pg_template)


@dataclass
class RunningService:
    """callagent serving HTTP through uvicorn, following a simulated PBX."""

    app: object
    base_url: str
    client: httpx.AsyncClient
    pbx: AmiServer
    settings: Settings

    @property
    def monitor(self):  # type: ignore[no-untyped-def]
        return self.app.state.monitor  # type: ignore[attr-defined]


def make_settings(db_url: str, pbx: AmiServer | None, **overrides: object) -> Settings:
    """Settings for a test service (fast keep-alive, quick reconnects)."""
    nodes = (
        [
            AmiNode(
                name="pbx1",
                host="127.0.0.1",
                port=pbx.port,
                username=pbx.username,
                secret=pbx.secret,
            )
        ]  # type: ignore[arg-type]
        if pbx is not None
        else []
    )
    values: dict[str, object] = {
        "database_url": db_url,
        "ami_nodes": nodes,
        "ami_reconnect_min": 0.05,
        "ami_reconnect_max": 0.5,
        "ami_ping_interval": 5.0,
        "ami_ping_timeout": 2.0,
        "writer_flush_interval": 0.0,
        "cookie_secure": False,
        "agi_port": 0,
        "simulator": "off",
        # a test starting a campaign must not have it dialled behind its back; the tests
        # of the scheduler turn it on
        "campaign_scheduler": "off",
        # the demo's simulator writes recordings there: never into the checkout
        "recordings_dir": tempfile.mkdtemp(prefix="callagent-recordings-"),
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@contextlib.asynccontextmanager
async def running_service(
    db_url: str,
    *,
    pbx: AmiServer | None = None,
    warm_start: bool = False,
    **overrides: object,
) -> AsyncIterator[RunningService]:
    """Start a PBX simulator (unless given) and the whole service on 127.0.0.1.

    Without ``warm_start`` the app skips building every route and freezing its heap at
    start (``create_app``): a test walks past a few routes, and a thousand tests' starts
    spent about 0.3 s each on it.
    """
    own_pbx = pbx is None
    if pbx is None:
        pbx = AmiServer()
        await pbx.start()
    settings = make_settings(db_url, pbx, **overrides)
    app = create_app(settings, warm_start=warm_start)
    # idle connections stay open for the whole test: with uvicorn's 5 s default a request sent
    # as the server closes an idle keep-alive connection fails with ReadError (httpx does not
    # resend), which a test that spends seconds in a browser between API calls ran into
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="on",
        timeout_keep_alive=600,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    admin_token = make_token(app, ALL_SCOPES, "tests-admin")
    headers = {"Authorization": f"Bearer {admin_token}"}
    async with httpx.AsyncClient(base_url=base_url, timeout=10, headers=headers) as client:
        try:
            yield RunningService(app, base_url, client, pbx, settings)
        finally:
            server.should_exit = True
            await asyncio.wait_for(task, 15)
            if own_pbx:
                await pbx.stop()


def make_token(app: object, scopes: frozenset[Scope], name: str) -> str:
    """An API token with ``scopes``, straight in the app's database."""
    with app.state.sessions() as session:  # type: ignore[attr-defined]
        secret, _ = create_token(
            session, name=name, scopes=scopes, expires_at=None, created_by=None
        )
        session.commit()
    return secret


async def wait_for(predicate, timeout: float = 10.0, interval: float = 0.02) -> None:  # type: ignore[no-untyped-def]
    """Poll until ``predicate()`` is true (async or not), or fail after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)
