"""Breaks and lunches placed within shifts so that every 15-minute slot keeps its
required staff where it can, and today's remaining breaks re-planned from a given time
when the volume departs from the forecast. Pure.

Each shift's breaks are placed by an exact dynamic programme over its slots (state:
the slots worked since the last break, and whether the lunch is taken), so the placement
obeys the rules by construction: the lunch within its window, a short break before
``max_stretch_minutes`` of work in a row, as few short breaks as the rule allows. Its
cost for taking the operator off the phone in a slot is large where that slot would fall
short of the need and small where it has the most staff to spare. The shifts are placed
one after another against the others' breaks, then each is placed again (coordinate
descent) for a few passes; each pass can only lower the sum of the costs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from callagent.planning.rules import BREAK, LUNCH, SLOT, Break, LabourRules, Shift, on_phone

SHORT_FALL = 100.0  # a slot that would fall short of the need: one agent-slot of gap
PER_BREAK = 2.0  # more than any spare-staff preference: no short break beyond the rule
_INF = float("inf")


def lunch_needed(shift: Shift, rules: LabourRules) -> bool:
    return shift.minutes > rules.lunch_needed_after


def best_breaks(
    shift: Shift,
    costs: Sequence[float],
    rules: LabourRules,
    lunch_minutes: int,
    *,
    from_slot: int = 0,
    since: int = 0,
    lunch_done: bool = False,
) -> list[Break] | None:
    """The cheapest breaks of ``shift`` from its relative slot ``from_slot`` on, ``costs``
    per slot of the shift (taking the operator off the phone there); ``since``: slots
    worked since the last break at ``from_slot``. None: no placement obeys the rules."""
    n = shift.minutes // SLOT
    stretch = rules.max_stretch_minutes // SLOT
    short = rules.break_minutes // SLOT
    need_lunch = lunch_needed(shift, rules) and not lunch_done
    length = max(1, lunch_minutes // SLOT)
    lunch_lo = rules.lunch_from // SLOT
    lunch_hi = (shift.minutes - rules.lunch_to_end) // SLOT - length
    since = min(since, stretch)
    prefix = [0.0]
    for value in costs:
        prefix.append(prefix[-1] + value)
    # best[j][s][l]: the least cost from slot j with s slots worked in a row, l: lunch taken
    best = [[[_INF, _INF] for _ in range(stretch + 1)] for _ in range(n + 1)]
    step: list[list[list[int]]] = [[[0, 0] for _ in range(stretch + 1)] for _ in range(n + 1)]
    for s in range(stretch + 1):
        best[n][s][1] = 0.0
        best[n][s][0] = _INF if need_lunch else 0.0
    for j in range(n - 1, from_slot - 1, -1):
        for s in range(stretch + 1):
            for taken in (0, 1):
                value, how = _INF, 0
                if s + 1 <= stretch and best[j + 1][s + 1][taken] < value:
                    value, how = best[j + 1][s + 1][taken], 0
                if j + short <= n:
                    one = prefix[j + short] - prefix[j] + PER_BREAK + best[j + short][0][taken]
                    if one < value:
                        value, how = one, 1
                if not taken and need_lunch and lunch_lo <= j <= lunch_hi:
                    one = prefix[j + length] - prefix[j] + best[j + length][0][1]
                    if one < value:
                        value, how = one, 2
                best[j][s][taken] = value
                step[j][s][taken] = how
    if best[from_slot][since][0] == _INF:
        return None
    placed: list[Break] = []
    j, s, taken = from_slot, since, 0
    while j < n:
        how = step[j][s][taken]
        if how == 0:
            j, s = j + 1, s + 1
        elif how == 1:
            placed.append(Break(BREAK, shift.start + j * SLOT, short * SLOT))
            j, s = j + short, 0
        else:
            placed.append(Break(LUNCH, shift.start + j * SLOT, length * SLOT))
            j, s, taken = j + length, 0, 1
    return placed


def slot_costs(spare: Sequence[int], first: int, count: int) -> list[float]:
    """The cost of taking one operator off the phone in ``count`` slots from ``first``,
    ``spare`` the staff beyond the need per slot of the week with that operator working."""
    found = []
    for slot in range(first, first + count):
        extra = spare[slot] if 0 <= slot < len(spare) else 0
        found.append(SHORT_FALL if extra <= 0 else 1.0 / (1 + extra))
    return found


def least_breaks(rules: LabourRules, minutes: int, lunch_minutes: int) -> int:
    """The fewest short breaks a shift of ``minutes`` needs (for the lower bound)."""
    placed = best_breaks(Shift(0, 0, minutes), [0.0] * (minutes // SLOT), rules, lunch_minutes)
    return 0 if placed is None else sum(one.kind == BREAK for one in placed)


@dataclass(frozen=True)
class Frozen:
    """What of a shift stays as it is in a re-plan: its breaks begun before the time."""

    kept: list[Break]
    from_slot: int
    since: int
    lunch_done: bool


def frozen_at(shift: Shift, now: int | None) -> Frozen:
    """A shift's breaks begun before minute ``now`` (None: nothing is fixed), the slot its
    re-plan starts from and the slots worked in a row by then."""
    if now is None or now <= shift.start:
        return Frozen([], 0, 0, False)
    kept = [one for one in shift.breaks if one.start < now]
    moment = min(shift.end, -(-now // SLOT) * SLOT)
    last_end = max([shift.start, *(one.end for one in kept)])
    moment = max(moment, last_end)
    return Frozen(
        kept,
        (moment - shift.start) // SLOT,
        (moment - last_end) // SLOT,
        any(one.kind == LUNCH for one in kept),
    )


def place_all(
    shifts: Sequence[Shift],
    required: Sequence[int],
    rules: LabourRules,
    lunch_of: Callable[[Shift], int],
    *,
    now: int | None = None,
    passes: int = 3,
) -> list[Shift]:
    """Places (or re-places, from minute ``now`` on) the breaks of ``shifts`` in place
    against ``required`` staff per slot of the week; returns the shifts whose remaining
    breaks could not be placed by the rules (left as they were)."""
    working = on_phone(shifts, len(required))
    frozen = [frozen_at(shift, now) for shift in shifts]
    stuck: list[Shift] = []
    order = sorted(range(len(shifts)), key=lambda k: (shifts[k].start, shifts[k].minutes))
    for _ in range(max(1, passes)):
        for k in order:
            shift, fixed = shifts[k], frozen[k]
            movable = [one for one in shift.breaks if one not in fixed.kept]
            _apply(working, movable, +1)
            first = shift.start // SLOT
            spare = [
                working[slot] - required[slot] if 0 <= slot < len(required) else 0
                for slot in range(first, first + shift.minutes // SLOT)
            ]
            costs = [SHORT_FALL if extra <= 0 else 1.0 / (1 + extra) for extra in spare]
            placed = best_breaks(
                shift,
                costs,
                rules,
                lunch_of(shift),
                from_slot=fixed.from_slot,
                since=fixed.since,
                lunch_done=fixed.lunch_done,
            )
            if placed is None:
                placed = movable
                if shift not in stuck:
                    stuck.append(shift)
            shift.breaks = sorted([*fixed.kept, *placed], key=lambda one: one.start)
            _apply(working, placed, -1)
    return stuck


def _apply(working: list[int], breaks: Sequence[Break], sign: int) -> None:
    for one in breaks:
        for slot in range(one.start // SLOT, one.end // SLOT):
            if 0 <= slot < len(working):
                working[slot] += sign
