"""A demo history for the planning pages: weeks of inbound calls with a weekly and an
intraday shape, so that ``make run`` (whose simulator only makes calls from now on) has
something to forecast. For a demo or a trial database only: the calls are real records
to every report. They are stored on the node ``demo`` (``linkedid`` ``demo-...``), and a
new run replaces the demo calls of its days, never anything else."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete
from sqlalchemy.orm import Session

from callagent.db.models import Call

DEMO_NODE = "demo"
# Monday to Sunday, as shares of Monday
WEEKDAY = (1.0, 0.95, 0.92, 0.9, 0.85, 0.45, 0.3)


def intraday(slots: int = 48) -> list[float]:
    """Shares of a day per interval: open 08:00-20:00, a morning and an afternoon peak."""
    shape = [0.0] * slots
    per_hour = slots / 24
    for slot in range(int(8 * per_hour), int(20 * per_hour)):
        hour = slot / per_hour
        peaks = 1.2 * math.exp(-((hour - 10.5) ** 2) / 2) + math.exp(-((hour - 15) ** 2) / 3)
        shape[slot] = 1.0 + peaks
    whole = math.fsum(shape)
    return [v / whole for v in shape]


def demo_calls(
    *,
    first: date,
    last: date,
    zone: ZoneInfo,
    calls_per_day: float,
    phones: Sequence[str],
    seed: int = 14,
    aht: float = 180.0,
    patience: float = 60.0,
    mean_wait: float = 15.0,
) -> list[Call]:
    """Poisson arrivals over ``[first, last]`` (``calls_per_day`` on a Monday), talk
    times exponential around ``aht``, waits exponential around ``mean_wait``; a caller
    whose exponential patience (mean ``patience``) is shorter than the wait abandons."""
    rng = random.Random(seed)
    shape = intraday()
    calls: list[Call] = []
    day = first
    while day <= last:
        midnight = datetime.combine(day, datetime.min.time(), tzinfo=zone)
        for slot, share in enumerate(shape):
            rate = calls_per_day * WEEKDAY[day.weekday()] * share / 1800
            if rate <= 0:
                continue
            at = rng.expovariate(rate)
            while at < 1800:
                started = midnight + timedelta(minutes=30 * slot, seconds=at)
                wait, gives_up = rng.expovariate(1 / mean_wait), rng.expovariate(1 / patience)
                answered = wait <= gives_up
                waited = wait if answered else gives_up
                talk = rng.expovariate(1 / aht) if answered else 0.0
                picked = started + timedelta(seconds=waited)
                ended = picked + timedelta(seconds=talk)
                calls.append(
                    Call(
                        node=DEMO_NODE,
                        linkedid=f"demo-{day.isoformat()}-{len(calls)}",
                        direction="inbound",
                        caller_number=f"+7999{rng.randrange(10**7):07d}",
                        dialled_number="5000",
                        started_at=started,
                        answered_at=picked if answered else None,
                        ended_at=ended,
                        wait_seconds=waited,
                        talk_seconds=talk if answered else None,
                        operator_endpoint=rng.choice(phones) if answered else None,
                        disposition="answered" if answered else "abandoned",
                        final=True,
                        updated_at=ended,
                    )
                )
                at += rng.expovariate(rate)
        day += timedelta(days=1)
    return calls


def store_demo_history(
    session: Session,
    *,
    first: date,
    last: date,
    zone: ZoneInfo,
    calls_per_day: float,
    phones: Sequence[str],
    seed: int = 14,
) -> int:
    """Replace the demo calls of ``[first, last]`` with a new demo history; how many
    calls were stored."""
    since = datetime.combine(first, datetime.min.time(), tzinfo=zone)
    until = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    session.execute(
        delete(Call).where(
            Call.node == DEMO_NODE, Call.started_at >= since, Call.started_at < until
        )
    )
    calls = demo_calls(
        first=first,
        last=last,
        zone=zone,
        calls_per_day=calls_per_day,
        phones=phones,
        seed=seed,
    )
    session.add_all(calls)
    return len(calls)
