"""``make run``'s call-back traffic: now and then a simulated website request.

Stored through the same :func:`~callagent.callbacks.service.submit` the public endpoint
uses (the simulator runs in the service's process: no site key to sign with), with a
window from now for two hours; the simulator then plays the operator-first calls
(:mod:`callagent.sim.outbound`: the applicant answers, is busy or does not answer).
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from callagent.callbacks.service import Policy, submit, utcnow

log = logging.getLogger(__name__)
_NAMES = ("Иванова Мария", "Петров Иван", "Коваленко Олена", "Smith Anna", "Сидоров Олег")
_TOPICS = ("Паспорт", "Запись на приём", "Справка", "Пособие", "Регистрация")


def one_request(sessions: sessionmaker[Session], policy: Policy, rng: random.Random) -> int | None:
    """Store one simulated request; its task id (None: that number had one open)."""
    now = utcnow()
    phone = f"+7916{rng.randrange(10**7):07d}"
    with sessions.begin() as session:
        task = submit(
            session,
            policy=policy,
            name=rng.choice(_NAMES),
            phone=phone,
            topic=rng.choice(_TOPICS),
            window_from=now,
            window_to=now + timedelta(hours=2),
            language="ru",
            now=now,
        )
        return task.id if task is not None else None


async def demo_requests(
    sessions: sessionmaker[Session], policy: Policy, *, interval: float, seed: int | None = None
) -> None:
    """A simulated website request every ``interval`` seconds (roughly), until cancelled."""
    rng = random.Random(seed)
    while True:
        await asyncio.sleep(interval * rng.uniform(0.5, 1.5))
        try:
            await asyncio.to_thread(one_request, sessions, policy, rng)
        except Exception as exc:  # the database may be away for a while
            log.warning("simulated call-back request not stored: %s", type(exc).__name__)
