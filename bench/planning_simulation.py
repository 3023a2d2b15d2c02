"""Staffing checked by simulation (issue #14): how long an interval takes to play, and
whether it still says what queueing theory says where theory holds.

1. A team of 15 offered 240 calls of 90 s in 30 minutes (12 erlangs), nobody hangs up:
   Erlang C's own world; the simulated SL against Erlang C's (goal: within 0.10) and the
   real seconds it took (goal: a 30-minute interval within 120 s on this machine).
2. 3 agents offered 50 calls of 120 s (3.3 erlangs) by callers of 40 s mean patience:
   Erlang C has no steady state; the simulated SL and abandons against Erlang A's at the
   number of callers drawn.

Each played through a whole callagent and its PBX simulator (``planning/simulation_run``)
at the default speed. ``python bench/planning_simulation.py [--seed N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
from datetime import UTC, datetime

from callagent.planning.erlang import erlang_a, service_level, traffic
from callagent.planning.simulation import SimulationInput, auto_speed, draw_callers
from callagent.planning.simulation_run import simulate

WITHIN = 0.10  # SL points from Erlang C where it holds
LONGEST = 120.0  # real seconds for a 30-minute interval


def _input(calls: float, aht: float, patience: float, agents: int, seed: int) -> SimulationInput:
    return SimulationInput(
        datetime.now(UTC), 30, calls, aht, patience, agents, 20.0, seed, auto_speed(calls, 30)
    )


def main() -> int:
    """Play both intervals; print one line each; non-zero when a goal is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    seed = parser.parse_args().seed
    failed = False

    large = _input(240, 90, math.inf, 15, seed)
    # Erlang C at the number of callers the seed drew (the Poisson count is most of the noise)
    expected = service_level(15, traffic(len(draw_callers(large)), 90, 1800), 90, 20)
    measured = asyncio.run(simulate(large))
    ok = abs(measured.service_level - expected) <= WITHIN and measured.real_seconds <= LONGEST
    failed |= not ok
    print(
        f"15 agents, 240 calls: simulated SL {measured.service_level:.3f} vs Erlang C "
        f"{expected:.3f} at the drawn calls (goal within {WITHIN}); played in "
        f"{measured.real_seconds:.0f} s at speed {large.speed:g} (goal {LONGEST:.0f} s); "
        f"late {measured.late_seconds:.1f} "
        f"simulated s: {'ok' if ok else 'MISSED'}"
    )

    small = _input(50, 120, 40.0, 3, seed)
    theory = erlang_a(3, len(draw_callers(small)), 120, 1800, 40, 20)
    measured = asyncio.run(simulate(small))
    print(
        f"3 agents, {measured.offered} callers, patience 40 s: simulated SL "
        f"{measured.service_level:.3f} abandons {measured.abandon_rate:.3f} vs Erlang A "
        f"{theory.service_level:.3f} / {theory.abandon_probability:.3f}, Erlang C SL 0; "
        f"played in {measured.real_seconds:.0f} s at speed {small.speed:g}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
