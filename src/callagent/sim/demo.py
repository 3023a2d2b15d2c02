"""``make run`` without an Asterisk: the built-in simulator and a few demo operators."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from callagent.auth.scopes import Role
from callagent.auth.service import create_user
from callagent.db.models import User
from callagent.routing.operators import OperatorBook
from callagent.routing.states import Signal
from callagent.sim.ami_server import AmiServer
from callagent.sim.outbound import OutboundPbx, demo_outcome
from callagent.sim.pbx import AfterCall, SimulatedPbx
from callagent.sim.recording_files import RecordingSink
from callagent.sim.scenarios import DEMO_BEHAVIOUR, DEMO_WEIGHTS

log = logging.getLogger(__name__)

TRACES = Path(__file__).resolve().parent / "traces"
DEMO_PASSWORD = "demo-operator"  # noqa: S105 - demo accounts, created only for the simulator
DEMO_SUPERVISOR = "supervisor"
DEMO_SUPERVISOR_PASSWORD = "demo-supervisor"  # noqa: S105 - the same: simulator only


def demo_operators(sessions: sessionmaker[Session], book: OperatorBook, count: int) -> list[str]:
    """Operators op1001... with phones PJSIP/op1001..., ready, and a supervisor; created
    if missing."""
    endpoints: list[str] = []
    ids: list[int] = []
    with sessions.begin() as session:
        for n in range(count):
            login = f"op{1001 + n}"
            endpoint = f"PJSIP/{login}"
            endpoints.append(endpoint)
            user = session.scalar(select(User).where(User.login == login))
            if user is None:
                user = create_user(
                    session,
                    login=login,
                    role=Role.OPERATOR,
                    password=DEMO_PASSWORD,
                    full_name=f"Demo operator {1001 + n}",
                    endpoints=[endpoint],
                )
            ids.append(user.id)
        # A supervisor for the campaign and question pages of the demo.
        if session.scalar(select(User).where(User.login == DEMO_SUPERVISOR)) is None:
            create_user(
                session,
                login=DEMO_SUPERVISOR,
                role=Role.SUPERVISOR,
                password=DEMO_SUPERVISOR_PASSWORD,
                full_name="Demo supervisor",
                endpoints=[],
            )
    for user_id in ids:
        book.signal(user_id, Signal.LOGIN, cause="simulator")
        book.signal(user_id, Signal.READY, cause="simulator")
    return endpoints


class Demo:
    """The simulated PBX that callagent follows when no AMI node is configured."""

    def __init__(
        self, *, ami_port: int = 0, agi_host: str = "127.0.0.1", seed: int | None = None
    ) -> None:
        self.ami = AmiServer(port=ami_port)
        self.agi_host = agi_host
        self.behaviour = dataclasses.replace(DEMO_BEHAVIOUR, seed=seed)
        self.pbx: SimulatedPbx | None = None
        self.outbound: OutboundPbx | None = None
        self.task: asyncio.Task[None] | None = None

    async def start_ami(self) -> int:
        """Listen for callagent's AMI connection; the port to connect to."""
        await self.ami.start()
        return self.ami.port

    async def start_calls(
        self,
        *,
        agi_port: int,
        endpoints: list[str],
        interval: float,
        speed: float = 1.0,
        login_timeout: float = 30.0,
        after_call: AfterCall | None = None,
        recordings: RecordingSink | None = None,
    ) -> None:
        """Register the demo phones and start generating calls.

        The calls mix the recorded scenarios as a small office's day does (mostly
        answered; some not answered then the next operator, held, abandoned, sent
        to the fallback queue, dialled out by an operator; now and then a busy
        phone), with people's times drawn from ``DEMO_BEHAVIOUR``. ``after_call``: how the
        operators finish their after-call work (:class:`~callagent.sim.demo_people.DemoPeople`
        submits the wrap-up); None: they press *54. ``recordings``: where recorded calls'
        files are written (a generated WAV), None: nowhere.
        """
        host, people = self.agi_host, self.behaviour
        self.pbx = SimulatedPbx(
            self.ami,
            TRACES,
            agi_host=host,
            agi_port=agi_port,
            speed=speed,
            behaviour=people,
            after_call=after_call,
            recordings=recordings,
        )
        # campaigns' Originates: applicants answer (1/2/9/nothing), are busy, don't answer
        self.outbound = OutboundPbx(
            self.ami, TRACES, outcome=demo_outcome, agi_host=host, agi_port=agi_port, speed=speed
        )
        await self.ami.connection(0, timeout=login_timeout)
        await self.pbx.register_phones(endpoints)
        self.task = asyncio.create_task(self.pbx.run(interval=interval, scenarios=DEMO_WEIGHTS))

    def announce(self, *, interval: float, endpoints: list[str]) -> None:
        """Tell the log that the service follows this simulator, and how to use the demo."""
        log.warning(
            "no AMI node configured: the built-in PBX simulator is running: it plays a call "
            "every ~%.0f s (answered, held, not answered then the next operator, abandoned, "
            "busy, queue fallback, operators dialling out) to %d demo operators (%s; password "
            "%r) at /operator; campaigns at /supervisor/campaigns (login %r, password %r). "
            "Set CALLAGENT_AMI_HOST to follow a real Asterisk, or CALLAGENT_SIMULATOR=off "
            "to wait for one.",
            interval,
            len(endpoints),
            ", ".join(e.split("/")[-1] for e in endpoints),
            DEMO_PASSWORD,
            DEMO_SUPERVISOR,
            DEMO_SUPERVISOR_PASSWORD,
        )

    async def stop(self) -> None:
        """Stop calls and the AMI server."""
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        if self.pbx is not None:
            await self.pbx.stop()
        if self.outbound is not None:
            await self.outbound.stop()  # campaign calls still being played
        await self.ami.stop()
