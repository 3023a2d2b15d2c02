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
from functools import partial
from pathlib import Path
from typing import Any

from anyio import to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import SecretStr

from callagent import __version__
from callagent.api import (
    audit,
    auth,
    callbacks,
    callbacks_public,
    calls,
    campaigns,
    complaints,
    operators,
    originate,
    planning,
    planning_simulation,
    quality,
    questions,
    recordings,
    reports,
    schedules,
    tokens,
    webhooks,
    wrapups,
)
from callagent.api.body_limit import BodyCaps, BodyLimit
from callagent.api.errors import service_error_response, validation_error_response
from callagent.api.input_check import checked_input
from callagent.api.limits import InFlightLimit, RouteClass, build_route_table
from callagent.api.pii_search import PhoneSearchLimiter
from callagent.auth.throttle import LoginThrottle
from callagent.callbacks.demo import demo_requests
from callagent.callbacks.dialer import run_callbacks
from callagent.callbacks.guard import Limits as CallbackLimits
from callagent.callbacks.guard import SiteKey
from callagent.callbacks.service import Policy as CallbackPolicy
from callagent.callbacks.service import wrapup_listener as callback_wrapup
from callagent.campaigns.dialer import wrapup_listener as campaign_wrapup
from callagent.campaigns.notify_agi import NotifyScript
from callagent.campaigns.scheduler import live_preview, run_scheduler
from callagent.complaints.service import Clock as ComplaintClock
from callagent.complaints.service import wrapup_listener as complaint_wrapup
from callagent.config import AmiNode, Settings
from callagent.db.health import check_writable
from callagent.db.session import check_schema, make_engine, make_sessionmaker, pool_options
from callagent.db.store import CallStore
from callagent.errors import ServiceError
from callagent.heap import freeze_startup_objects, thaw_startup_objects
from callagent.logs import install_access_log_filter
from callagent.metrics import RoutingCollector, make_registry
from callagent.monitor import Monitor
from callagent.node_ownership import instance_name
from callagent.originate import Originator
from callagent.prompts import startup_check as prompts_startup_check
from callagent.quality.scorecard import load_scorecard
from callagent.quality.service import scorecard_drift
from callagent.reports.aggregate_store import keep_up
from callagent.reports.service import options_of
from callagent.routing.agi import FastAgiServer
from callagent.routing.driver import StateDriver
from callagent.routing.mirror import QueueMirror, operator_phones
from callagent.routing.node_of import NodeNames
from callagent.routing.operators import OperatorBook
from callagent.routing.router import Router
from callagent.routing.shared import RoutingWake, SharedCalls
from callagent.sim.demo import Demo, demo_operators
from callagent.sim.demo_people import DemoPeople
from callagent.sim.recording_files import RecordingSink
from callagent.web import api_docs, live, live_board, pages
from callagent.web.live_bridge import LiveBridge, psycopg_dsn
from callagent.webhooks.worker import WebhookWorker
from callagent.wrapup.forms import load_forms
from callagent.wrapup.service import WrapupService

log = logging.getLogger(__name__)


async def _sweep(book: OperatorBook, interval: float = 1.0) -> None:
    """Wrap-up deadlines and stale claims, once a second."""
    while True:
        await asyncio.sleep(interval)
        try:
            await asyncio.to_thread(book.sweep)
        except Exception as exc:  # the database may be away for a while
            log.warning("operator sweep failed: %s", type(exc).__name__)


def create_app(settings: Settings, *, warm_start: bool = True) -> FastAPI:
    """Build the app for ``settings``; nothing starts until the lifespan runs.

    ``warm_start`` (the service): before FastAGI takes its first call, build FastAPI's
    route table and freeze the start-up heap, so neither the first request nor the
    collector's full passes stall routing (about 0.3 s of start-up). A process that
    starts many short-lived apps (the tests) passes ``False``: each request then builds
    only the routes it walks past.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        install_access_log_filter()
        # Sync endpoints run on anyio's worker threads (CALLAGENT_API_THREADS). A request
        # keeps its session's connection between its dependencies and its endpoint, also
        # while it waits for a thread: the pool has room for every request the in-flight
        # limit lets in (two classes), so threads and pool never wait on each other.
        to_thread.current_default_thread_limiter().total_tokens = settings.api_threads
        engine = make_engine(
            settings.database_url,
            **pool_options(
                settings.api_threads, 2 * settings.api_max_in_flight, settings.db_pool_timeout
            ),
        )
        check_schema(engine)
        sessions = make_sessionmaker(engine)
        # a scorecard file changed under the same version: said now, not by a 409 later
        with sessions() as db:
            drift = scorecard_drift(db, app.state.quality_scorecard)
        app.state.quality_scorecard_drift = drift
        if drift is not None:
            log.error("%s", drift)
        # Routing, claims, the AMI-driven state changes, the call writer and readiness
        # have a pool of their own: no burst of API reads can take their connections.
        size = settings.routing_db_pool_size
        core_engine = make_engine(
            settings.database_url, **pool_options(size, size, settings.db_pool_timeout)
        )
        core = make_sessionmaker(core_engine, like=sessions)  # the live hub hears both
        demo: Demo | None = None
        config = settings
        if not settings.ami_nodes and settings.simulator == "auto":
            demo = Demo()
            port = await demo.start_ami()
            sim_node = AmiNode(
                name=settings.ami_node_name,
                port=port,
                username=demo.ami.username,
                secret=SecretStr(demo.ami.secret),
            )
            config = settings.model_copy(update={"ami_nodes": [sim_node]})
        monitor = Monitor(config, CallStore(core))
        app.state.engine = engine
        app.state.core_engine = core_engine
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
            ownership=monitor.ownership,
        )
        monitor.subscribers.append(originator.on_domain_events)
        app.state.originator = originator
        monitor.writer.on_written = lambda records: webhooks_worker.notify()
        book = OperatorBook(
            core,
            wrapup_seconds=settings.wrapup_seconds,
            no_answer_policy=settings.no_answer_policy,
            skip_seconds=settings.no_answer_skip_seconds,
            claim_timeout=settings.claim_timeout,
        )
        node = config.ami_nodes[0].name if config.ami_nodes else config.ami_node_name
        dsn = psycopg_dsn(settings.database_url)
        # several instances (PostgreSQL): the waiting list and tried operators in the
        # database, held calls woken on every instance (README, Several instances)
        shared = None
        if settings.shared_routing == "auto" and dsn is not None:
            shared = SharedCalls(
                core_engine, instance_name(settings), silence=settings.waiting_silence_seconds
            )
        router = Router(
            book,
            node=node,
            dial_timeout=settings.dial_timeout,
            max_wait=settings.max_wait,
            no_answer_policy=settings.no_answer_policy,
            repeat_caller_window=settings.repeat_caller_window_minutes,
            silence=settings.waiting_silence_seconds,
            max_waiting=settings.max_waiting_calls,
            shared=shared,
            nodes=NodeNames((n.name, n.host) for n in config.ami_nodes),
        )
        wake: RoutingWake | None = None
        if shared is not None and dsn is not None:
            wake = router.wake = RoutingWake(dsn, router.woken)
            wake.start()
        app.state.routing_wake = wake
        driver = StateDriver(book, monitor.tracker, router, settings.no_answer_policy)
        driver.fence = monitor.ownership.fence if monitor.ownership is not None else None
        monitor.subscribers.append(driver.on_events)
        app.state.driver = driver  # its queue: the state changes not stored yet
        app.state.book = book
        wrapup_service = WrapupService(
            sessions,
            app.state.wrapup_forms,
            default_seconds=settings.wrapup_seconds,
            extend_seconds=settings.wrapup_extend_seconds,
            book=book,
        )
        book.wrapup_hook = wrapup_service.hook  # opens the pending wrap-up of each call
        wrapup_service.listeners.append(campaign_wrapup)  # operator mode: result to the entry
        # category complaint: registered in the complaints register with the call linked
        wrapup_service.listeners.append(complaint_wrapup(ComplaintClock.of(settings)))
        wrapup_service.listeners.append(callback_wrapup)  # a call-back's wrap-up closes it
        app.state.wrapups = wrapup_service
        app.state.router = router
        hub = live.LiveHub(monitor.tracker, owners=book.owners)  # the operator pages' live events
        hub.connect(sessions=sessions, subscribers=monitor.subscribers)
        app.state.live = hub
        # PostgreSQL: the pages of every instance hear this one's events (LISTEN/NOTIFY)
        bridge: LiveBridge | None = None
        if dsn is not None:
            bridge = LiveBridge(hub, dsn)
            bridge.start()
        app.state.live_bridge = bridge
        # the wallboards' pictures: recomputed on every call event and committed change
        board = live_board.LiveBoard(live_board.database_board(sessions, settings))
        board.connect(sessions=sessions, subscribers=monitor.subscribers)
        app.state.board = board
        notify = NotifyScript(core, tts_command=settings.tts_command, tts_dir=settings.tts_dir)
        prompts_startup_check(settings.asterisk_sounds_dir)  # a WARNING names the missing
        agi = FastAgiServer(
            {**router.scripts(), **notify.scripts()},
            host=settings.agi_host,
            port=settings.agi_port,
            env_timeout=settings.agi_env_timeout,
            command_timeout=settings.agi_command_timeout,
            # its own loop and thread: routing answers in milliseconds whatever the web
            # server's loop is parsing (2,000 requests at once: issue #15)
            own_thread=True,
        )
        app.state.agi = agi
        app.state.registry.register(RoutingCollector(router, book, agi))
        if warm_start:
            await build_route_table(app)  # before FastAGI takes its first call
        if settings.agi_enabled:
            await agi.start()
            assert agi.loop is not None
            router.attach(agi.loop)
        await monitor.restore()
        monitor.start()
        if demo is not None:
            endpoints = await asyncio.to_thread(
                demo_operators, sessions, book, settings.simulator_operators
            )
            # the demo's operators submit their wrap-ups; a signed-in person's are theirs
            app.state.demo_people = DemoPeople(sessions, wrapup_service)
            await demo.start_calls(
                agi_port=agi.port,
                endpoints=endpoints,
                interval=settings.simulator_call_interval,
                speed=settings.simulator_speed,
                after_call=app.state.demo_people.after_call,
                recordings=RecordingSink(
                    Path(settings.recordings_dir), settings.recordings_pbx_dir
                ),
            )
            demo.announce(interval=settings.simulator_call_interval, endpoints=endpoints)
        tasks = [
            asyncio.create_task(webhooks_worker.run()),
            asyncio.create_task(driver.run()),
            asyncio.create_task(_sweep(book)),
            asyncio.create_task(wrapup_service.run()),
            asyncio.create_task(hub.run()),
        ]
        if settings.report_aggregate_seconds > 0:  # reports over a year stay fast
            every = settings.report_aggregate_seconds
            tasks.append(asyncio.create_task(keep_up(sessions, options_of(settings), every)))
        if settings.fallback_queue:
            mirror = QueueMirror(
                book.changes,
                monitor.clients,
                settings.fallback_queue,
                operators=partial(operator_phones, core),
                sync_interval=settings.queue_sync_interval,
            )
            # QueueStatus read back and corrected after every login and FullyBooted;
            # on a clean stop, the queue is left as it should be without callagent.
            monitor.on_login.append(mirror.request_sync)
            monitor.subscribers.append(mirror.on_events)
            monitor.before_stop.append(mirror.hand_over)
            app.state.queue_mirror = mirror
            tasks.append(asyncio.create_task(mirror.run()))
        if settings.campaign_scheduler == "on":
            preview = live_preview(app.state)
            scheduler = run_scheduler(config, core, book=book, preview=preview)
            tasks.append(asyncio.create_task(scheduler))
        if settings.callback_dialer == "on":
            # website call-backs: offered through the router with their priority (in the
            # router's own loop), dialled operator first on their own AMI connection
            async def decide(linkedid: str, priority: int) -> dict[str, str]:
                return await agi.call(
                    router.decide(linkedid=linkedid, previous="", topic=None, priority=priority)
                )

            def show_callback(user_id: int, data: dict[str, Any]) -> None:
                hub.publish_threadsafe(user_id, "callback_preview", data)

            dialer = run_callbacks(
                config, core, book=book, decide=decide, forget=router.forget, preview=show_callback
            )
            tasks.append(asyncio.create_task(dialer))
            if demo is not None:  # make run: now and then a simulated website request
                every = 8 * settings.simulator_call_interval
                policy = app.state.callback_policy
                tasks.append(asyncio.create_task(demo_requests(sessions, policy, interval=every)))
        if warm_start:
            freeze_startup_objects()  # full collections would stall the AGI answers
        try:
            yield
        finally:
            if demo is not None:
                await demo.stop()
            await agi.stop(then=router.close)  # after the held dialogues have ended
            if originator.dial_out is not None:  # the sessions dialling via others' nodes
                await originator.dial_out.stop()
            await monitor.stop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if bridge is not None:
                await bridge.stop()
            if wake is not None:
                await wake.stop()
            hub.disconnect(sessions)
            board.disconnect(sessions)
            engine.dispose()
            core_engine.dispose()
            thaw_startup_objects()

    app = FastAPI(
        title="callagent",
        version=__version__,
        summary="Call records, routing and campaigns for an Asterisk contact centre.",
        lifespan=lifespan,
        # /docs and /redoc are web/api_docs.py's: their assets from the package, not a CDN
        docs_url=None,
        redoc_url=None,
        # every route's query, path and JSON body: text fit to store (422 otherwise)
        dependencies=[Depends(checked_input)],
    )
    app.state.settings = settings
    # Checked now: a broken forms file stops the start, naming the file and the line.
    app.state.wrapup_forms = load_forms(settings.wrapup_forms or None)
    # The QA scorecard too (CALLAGENT_QUALITY_SCORECARD): errors name the file and line.
    app.state.quality_scorecard = load_scorecard(settings.quality_scorecard or None)
    app.state.login_throttle = LoginThrottle(
        free_failures=settings.login_max_failures,
        backoff_base=settings.login_backoff_seconds,
        backoff_max=settings.login_backoff_max_seconds,
        window=float(settings.login_window_seconds),
        address_limit=settings.login_address_max_failures,
    )
    app.state.phone_search_limiter = PhoneSearchLimiter(settings.phone_search_per_minute)
    # the website's call-back requests: the site key (none: the endpoint answers 503),
    # limits per number and address, the scheduling policy
    secret = settings.callback_site_secret.get_secret_value()
    app.state.callback_site_key = SiteKey(secret) if secret else None
    app.state.callback_limits = CallbackLimits(
        per_number=settings.callback_per_number, per_address=settings.callback_per_address
    )
    app.state.callback_policy = CallbackPolicy.of(settings)
    for module in (auth, originate, calls, operators, tokens, audit, webhooks, reports, planning):
        app.include_router(module.router)
    app.include_router(operators.routing_router)
    app.include_router(schedules.router)
    app.include_router(planning_simulation.router)
    app.include_router(wrapups.router)
    app.include_router(questions.router)
    app.include_router(complaints.router)
    app.include_router(quality.router)
    app.include_router(callbacks_public.router)
    app.include_router(callbacks.router)
    app.include_router(recordings.router)
    app.include_router(campaigns.router)
    app.include_router(campaigns.dnc_router)
    app.include_router(live.router)
    app.include_router(live_board.router)
    api_docs.install(app)  # before pages mount /static, which would take its assets
    pages.install(app)
    # every service's refusal answers {"detail": ...} with its status, from any router
    app.add_exception_handler(ServiceError, service_error_response)
    # a 422 names what is wrong without sending a big input back
    app.add_exception_handler(RequestValidationError, validation_error_response)
    # A burst of requests beyond these bounds is answered 503 + Retry-After at once;
    # health, readiness, metrics, the live event stream and static files are never held.
    limit = settings.api_max_in_flight
    app.add_middleware(
        InFlightLimit,
        classes=[
            RouteClass("api", ("/api/",), limit, exempt=("/api/v1/live/",)),
            # a path the api class exempts must not fall through to "/": the pages'
            # live streams stay open for hours, one per page
            RouteClass(
                "web",
                ("/",),
                limit,
                exempt=("/api/", "/healthz", "/readyz", "/metrics", "/static"),
            ),
        ],
        retry_after=settings.api_retry_after,
    )
    # Outermost: a body over its route's cap is refused (413) as its bytes arrive, before
    # it takes an in-flight place or is parsed.
    caps = BodyCaps(json_bytes=settings.max_body_bytes, upload_bytes=settings.registry_max_bytes)
    app.add_middleware(BodyLimit, caps=caps.for_route)

    # Health, readiness and metrics are async: they never wait for an API worker thread
    # (readiness and metrics run on the loop's own executor, on routing's pool).
    @app.get("/healthz", tags=["ops"], summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["ops"],
        summary="Ready: the database accepts writes and every AMI node is connected",
        responses={503: {"description": "not ready, with the reason per part"}},
    )
    async def readyz(request: Request) -> JSONResponse:
        monitor: Monitor = request.app.state.monitor
        nodes = monitor.status()
        database_ok = True
        try:
            # a write, not a read: a locked SQLite file still answers SELECT 1
            await asyncio.to_thread(check_writable, request.app.state.core_engine)
        except Exception as exc:
            database_ok = False
            log.warning("readiness: database refuses writes: %s", type(exc).__name__)
        ownership = monitor.ownership
        if ownership is None:
            ready = database_ok and bool(nodes) and all(n["connected"] for n in nodes.values())
        else:  # several instances: ready once it knows its nodes and follows each of them
            followed = [n for n in nodes.values() if n["owned"]]
            ready = database_ok and ownership.settled and all(n["connected"] for n in followed)
        body: dict[str, Any] = {
            "ready": ready,
            "database": "ok" if database_ok else "unreachable",
            "ami_nodes": nodes,
        }
        if ownership is not None:
            body["instance"] = ownership.owner
            body["owned_nodes"] = ownership.owned()
        if not nodes:
            body["reason"] = "no AMI node configured (CALLAGENT_AMI_HOST or CALLAGENT_AMI_NODES)"
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics", response_class=Response)
    async def metrics(request: Request) -> Response:
        payload = await asyncio.to_thread(generate_latest, request.app.state.registry)
        return Response(payload, media_type=CONTENT_TYPE_LATEST)

    return app
