"""The FastAPI application: JSON API, health, readiness, metrics.

The lifespan owns the process's long-lived parts: the database engine (after
checking the schema is current), and the PBX monitor (AMI clients, tracker,
writer).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from callagent import __version__
from callagent.api import audit, auth, calls, operators, originate, tokens, webhooks
from callagent.api.security import LoginLimiter
from callagent.config import Settings
from callagent.db.session import check_schema, make_engine, make_sessionmaker
from callagent.db.store import CallStore
from callagent.logs import install_access_log_filter
from callagent.metrics import make_registry
from callagent.monitor import Monitor
from callagent.originate import Originator
from callagent.webhooks.worker import WebhookWorker

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> FastAPI:
    """Build the app for ``settings``; nothing starts until the lifespan runs."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        install_access_log_filter()
        engine = make_engine(settings.database_url)
        check_schema(engine)
        sessions = make_sessionmaker(engine)
        monitor = Monitor(settings, CallStore(sessions))
        app.state.engine = engine
        app.state.sessions = sessions
        app.state.monitor = monitor
        app.state.registry = make_registry(monitor)
        webhooks_worker = WebhookWorker(
            sessions,
            timeout=settings.webhook_timeout,
            max_attempts=settings.webhook_max_attempts,
            backoff_base=settings.webhook_backoff_base,
            backoff_cap=settings.webhook_backoff_cap,
        )
        app.state.webhooks = webhooks_worker
        originator = Originator(
            sessions,
            monitor.clients,
            context=settings.originate_context,
            ring_timeout=settings.originate_ring_timeout,
            per_minute=settings.originate_per_minute,
        )
        monitor.subscribers.append(originator.on_domain_events)
        app.state.originator = originator
        monitor.writer.on_written = lambda records: webhooks_worker.notify()
        await monitor.restore()
        monitor.start()
        webhook_task = asyncio.create_task(webhooks_worker.run())
        try:
            yield
        finally:
            await monitor.stop()
            webhook_task.cancel()
            await asyncio.gather(webhook_task, return_exceptions=True)
            engine.dispose()

    app = FastAPI(
        title="callagent",
        version=__version__,
        summary="Call records, routing and campaigns for an Asterisk contact centre.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.login_limiter = LoginLimiter(
        settings.login_max_failures, float(settings.login_window_seconds)
    )
    for module in (auth, originate, calls, operators, tokens, audit, webhooks):
        app.include_router(module.router)

    @app.get("/healthz", tags=["ops"], summary="The process is alive")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["ops"],
        summary="Ready: the database answers and every AMI node is connected",
        responses={503: {"description": "not ready, with the reason per part"}},
    )
    def readyz(request: Request) -> JSONResponse:
        monitor: Monitor = request.app.state.monitor
        nodes = monitor.status()
        database_ok = True
        try:
            with request.app.state.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            database_ok = False
            log.warning("readiness: database unreachable: %s", type(exc).__name__)
        ready = database_ok and bool(nodes) and all(n["connected"] for n in nodes.values())
        body: dict[str, Any] = {
            "ready": ready,
            "database": "ok" if database_ok else "unreachable",
            "ami_nodes": nodes,
        }
        if not nodes:
            body["reason"] = "no AMI node configured (CALLAGENT_AMI_HOST or CALLAGENT_AMI_NODES)"
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics", response_class=Response)
    def metrics(request: Request) -> Response:
        return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)

    return app
