"""A week's shifts that cover the required staff per 15-minute slot with the least
under- and over-staffing, built with the HiGHS mixed-integer solver (highspy). Pure.

Three steps, then the breaks (:mod:`callagent.planning.breaks`):

1. **How many shifts of each kind** (day × template × start on the 15-minute grid): a
   mixed-integer programme minimises ``under_weight`` × the agents missing + the agents
   beyond the need, slot by slot. A shift counts in a slot as 1 less the share of its
   expected breaks there (its lunch spread over the lunch window, its short breaks over
   the shift). Bounds: no more shifts a day than operators available that day, of a kind
   than operators who can work it, no more hours and days than the operators have.
2. **Who works which**: a second mixed-integer programme gives those shifts to operators
   (at most one a day, each one's availability, days off, week hours and days, the rest
   between days) as fully as it can.
3. **Fill**: shifts the second step could not give, and any that still lower the cost,
   are added one at a time to operators who may take them.

**Lower bound on the gap**: the linear relaxation of a programme every schedule obeys
(each operator in a slot at most once, on the phone at most where present, a day's
on-phone time at most its shifts' time less their lunch and least short breaks, the same
day, hour and day-count bounds) minimising the agents missing alone. No schedule, with
its breaks, can miss fewer agent-slots than it.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from callagent.planning.breaks import least_breaks, place_all
from callagent.planning.rules import (
    DAY,
    SLOT,
    SLOTS_DAY,
    SLOTS_WEEK,
    Coverage,
    LabourRules,
    Operator,
    Shift,
    ShiftTemplate,
    coverage,
    on_phone,
    violations,
)

UNDER_WEIGHT = 20.0  # an agent missing costs as much as 20 agent-slots of excess


@dataclass(frozen=True)
class Candidate:
    """A kind of shift: a template started at ``start`` (minutes of the week)."""

    template: ShiftTemplate
    day: int
    start: int  # minutes of the week

    @property
    def first_slot(self) -> int:
        return self.start // SLOT

    @property
    def slots(self) -> int:
        return self.template.minutes // SLOT


@dataclass
class Built:
    """A built week: its shifts with breaks, coverage, the bound and how it went."""

    shifts: list[Shift]
    required: list[int]
    working: list[int]
    coverage: Coverage
    lower_bound: int  # no schedule misses fewer agent-slots
    seconds: float
    status: str  # the solver's word on step 1 ("optimal", "time limit", ...)
    unplaced: int = 0  # shifts whose breaks could not be placed by the rules
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The figures for the API and the CLI."""
        return {
            "shifts": len(self.shifts),
            "under_agent_slots": self.coverage.under,
            "over_agent_slots": self.coverage.over,
            "lower_bound_under": self.lower_bound,
            "required_agent_slots": sum(self.required),
            "seconds": round(self.seconds, 2),
            "solver_status": self.status,
        }


_quiet_done = False


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """HiGHS prints its banner on the process's stdout at its first use (the CLI's
    ``--json`` would not parse): stdout goes to /dev/null meanwhile."""
    global _quiet_done
    if _quiet_done:
        yield
        return
    _quiet_done = True
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as sink:
            os.dup2(sink.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


class _Program:
    """A linear or mixed-integer programme, built column by column and row by row."""

    def __init__(self) -> None:
        self.cost: list[float] = []
        self.lower: list[float] = []
        self.upper: list[float] = []
        self.integer: list[int] = []
        self.rows: list[tuple[float, float, list[int], list[float]]] = []

    def var(self, cost: float, upper: float = math.inf, *, integer: bool = False) -> int:
        self.cost.append(cost)
        self.lower.append(0.0)
        self.upper.append(upper)
        if integer:
            self.integer.append(len(self.cost) - 1)
        return len(self.cost) - 1

    def row(self, lower: float, upper: float, cols: list[int], values: list[float]) -> None:
        self.rows.append((lower, upper, cols, values))

    def solve(self, seconds: float, *, relax: bool = False, gap: float = 1e-3) -> tuple[str, Any]:
        """Minimises; the solver's status word and its solution and info."""
        import highspy
        import numpy as np

        with _quiet():
            solver = highspy.Highs()  # type: ignore[no-untyped-call]
        solver.setOptionValue("output_flag", False)
        solver.setOptionValue("time_limit", max(0.5, seconds))
        solver.setOptionValue("mip_rel_gap", gap)
        solver.setOptionValue("threads", 1)
        inf = highspy.kHighsInf
        count = len(self.cost)
        solver.addCols(
            count,
            np.array(self.cost, dtype=np.float64),
            np.array(self.lower, dtype=np.float64),
            np.array([inf if math.isinf(v) else v for v in self.upper], dtype=np.float64),
            0,
            np.array([], dtype=np.int32),
            np.array([], dtype=np.int32),
            np.array([], dtype=np.float64),
        )
        starts: list[int] = []
        indices: list[int] = []
        values: list[float] = []
        lows: list[float] = []
        highs: list[float] = []
        for low, high, cols, coefs in self.rows:
            starts.append(len(indices))
            indices.extend(cols)
            values.extend(coefs)
            lows.append(-inf if math.isinf(low) else low)
            highs.append(inf if math.isinf(high) else high)
        if self.rows:
            solver.addRows(
                len(self.rows),
                np.array(lows, dtype=np.float64),
                np.array(highs, dtype=np.float64),
                len(indices),
                np.array(starts, dtype=np.int32),
                np.array(indices, dtype=np.int32),
                np.array(values, dtype=np.float64),
            )
        if self.integer and not relax:
            solver.changeColsIntegrality(
                len(self.integer),
                np.array(self.integer, dtype=np.int32),
                np.array([highspy.HighsVarType.kInteger] * len(self.integer)),
            )
        solver.run()
        status = solver.modelStatusToString(solver.getModelStatus()).lower()
        return status, (solver.getSolution(), solver.getInfo())


def candidates(
    operators: Sequence[Operator], templates: Sequence[ShiftTemplate], rules: LabourRules
) -> tuple[list[Candidate], list[list[int]]]:
    """Every kind of shift at least one operator may work, and per kind who may."""
    kinds: list[Candidate] = []
    who: list[list[int]] = []
    for day in range(7):
        for template in templates:
            if template.work_minutes > rules.max_day_minutes:
                continue
            for start in template.starts():
                able = [
                    index
                    for index, operator in enumerate(operators)
                    if (operator.templates is None or template.name in operator.templates)
                    and template.work_minutes <= operator.week_limit(rules)
                    and operator.can_work(day, start, start + template.minutes)
                ]
                if able:
                    kinds.append(Candidate(template, day, day * DAY + start))
                    who.append(able)
    return kinds, who


def presence_share(template: ShiftTemplate, rules: LabourRules) -> list[float]:
    """Per slot of a shift, the expected share of it on the phone (1 less its expected
    breaks): the lunch spread over its window, the least short breaks over the shift."""
    slots = template.minutes // SLOT
    share = [1.0] * slots
    lunch = template.lunch_minutes // SLOT
    if lunch:
        first = rules.lunch_from // SLOT
        last = (template.minutes - rules.lunch_to_end) // SLOT  # the lunch ends by then
        width = max(lunch, last - first)
        for slot in range(first, min(slots, first + width)):
            share[slot] -= lunch / width
    shorts = least_breaks(rules, template.minutes, template.lunch_minutes)
    for slot in range(slots):
        share[slot] -= shorts * (rules.break_minutes // SLOT) / slots
    return share


def _day_counts(
    operators: Sequence[Operator], who: list[list[int]], kinds: list[Candidate]
) -> list[int]:
    able_day: list[set[int]] = [set() for _ in range(7)]
    for kind, able in zip(kinds, who, strict=True):
        able_day[kind.day].update(able)
    return [len(one) for one in able_day]


def patterns(
    operators: Sequence[Operator],
    who: list[list[int]],
    kinds: list[Candidate],
    templates: Sequence[ShiftTemplate],
    rules: LabourRules,
) -> list[tuple[int, list[tuple[int, ...]]]]:
    """Operators grouped by what they can take (hours, days, templates), each group with
    its maximal week patterns: how many shifts of each template one operator can work.
    Counting shifts by patterns, not by hours, keeps step 1 from asking for weeks no one
    can work (5 × 450 minutes fit in 40 hours, 4 × 660 do not)."""
    days_of: list[set[int]] = [set() for _ in operators]
    for kind, able in zip(kinds, who, strict=True):
        for index in able:
            days_of[index].add(kind.day)
    groups: dict[tuple[int, int, tuple[bool, ...]], int] = {}
    for operator, days in zip(operators, days_of, strict=True):
        if not days:
            continue
        allowed = tuple(
            operator.templates is None or t.name in operator.templates for t in templates
        )
        key = (operator.week_limit(rules), min(rules.max_days_week, len(days)), allowed)
        groups[key] = groups.get(key, 0) + 1
    found = []
    for (limit, most_days, allowed), count in groups.items():
        works = [t.work_minutes if ok else 0 for t, ok in zip(templates, allowed, strict=True)]
        every = _week_patterns(works, most_days, limit)
        maximal = [
            one
            for one in every
            if not any(
                other != one and all(a >= b for a, b in zip(other, one, strict=True))
                for other in every
            )
        ]
        found.append((count, maximal))
    return found


def _week_patterns(works: list[int], days: int, limit: int) -> list[tuple[int, ...]]:
    """Every count of shifts per template (``works``: their work minutes, 0: not
    allowed) within ``days`` days and ``limit`` minutes."""
    every: list[tuple[int, ...]] = []

    def extend(prefix: tuple[int, ...], left_days: int, left_minutes: int) -> None:
        index = len(prefix)
        if index == len(works):
            every.append(prefix)
            return
        most = 0 if not works[index] else min(left_days, left_minutes // works[index])
        for take in range(most + 1):
            extend((*prefix, take), left_days - take, left_minutes - take * works[index])

    extend((), days, limit)
    return every


def _pattern_rows(
    program: _Program,
    counts: list[int],
    kinds: list[Candidate],
    templates: Sequence[ShiftTemplate],
    groups: list[tuple[int, list[tuple[int, ...]]]],
) -> None:
    """Shifts of each template at most what the operators' week patterns hold."""
    supply: list[tuple[list[int], list[float]]] = [([], []) for _ in templates]
    for count, maximal in groups:
        cols = [program.var(0.0, float(count)) for _ in maximal]
        program.row(-math.inf, float(count), cols, [1.0] * len(cols))
        for col, pattern in zip(cols, maximal, strict=True):
            for index, take in enumerate(pattern):
                if take:
                    supply[index][0].append(col)
                    supply[index][1].append(float(take))
    for index, template in enumerate(templates):
        mine = [
            col
            for col, kind in zip(counts, kinds, strict=True)
            if kind.template.name == template.name
        ]
        if mine:
            cols, values = supply[index]
            program.row(-math.inf, 0.0, [*mine, *cols], [1.0] * len(mine) + [-v for v in values])


def _totals(
    operators: Sequence[Operator], who: list[list[int]], kinds: list[Candidate], rules: LabourRules
) -> tuple[float, float]:
    days_of: list[set[int]] = [set() for _ in operators]
    for kind, able in zip(kinds, who, strict=True):
        for index in able:
            days_of[index].add(kind.day)
    minutes = float(
        sum(op.week_limit(rules) for op, days in zip(operators, days_of, strict=True) if days)
    )
    days = float(sum(min(rules.max_days_week, len(days)) for days in days_of))
    return minutes, days


def _how_many(
    required: Sequence[int],
    kinds: list[Candidate],
    who: list[list[int]],
    shares: dict[str, list[float]],
    per_day: list[int],
    totals: tuple[float, float],
    templates: Sequence[ShiftTemplate],
    groups: list[tuple[int, list[tuple[int, ...]]]],
    *,
    under_weight: float,
    seconds: float,
) -> tuple[str, list[int]]:
    """Step 1: the number of shifts of each kind."""
    program = _Program()
    counts = [program.var(0.0, float(len(able)), integer=True) for able in who]
    covering: list[tuple[list[int], list[float]]] = [([], []) for _ in required]
    for col, kind in zip(counts, kinds, strict=True):
        share = shares[kind.template.name]
        for offset, value in enumerate(share):
            slot = kind.first_slot + offset
            if slot < len(required):
                covering[slot][0].append(col)
                covering[slot][1].append(value)
    for slot, need in enumerate(required):
        under = program.var(under_weight)
        over = program.var(1.0)
        cols, values = covering[slot]
        program.row(need, need, [*cols, under, over], [*values, 1.0, -1.0])
    for day in range(7):
        cols = [col for col, kind in zip(counts, kinds, strict=True) if kind.day == day]
        if cols:
            program.row(-math.inf, per_day[day], cols, [1.0] * len(cols))
    minutes, days = totals
    program.row(-math.inf, minutes, counts, [float(k.template.work_minutes) for k in kinds])
    program.row(-math.inf, days, counts, [1.0] * len(counts))
    _pattern_rows(program, counts, kinds, templates, groups)
    status, (solution, _info) = program.solve(seconds, gap=0.005)
    values = list(solution.col_value) if solution.value_valid else []
    if not values:
        return status, [0] * len(kinds)
    return status, [max(0, round(values[col])) for col in counts]


def lower_bound(
    required: Sequence[int],
    kinds: list[Candidate],
    who: list[list[int]],
    per_day: list[int],
    totals: tuple[float, float],
    rules: LabourRules,
    templates: Sequence[ShiftTemplate],
    groups: list[tuple[int, list[tuple[int, ...]]]],
    *,
    seconds: float = 30.0,
) -> int:
    """The least gap (agent-slots missing) any schedule of these operators can have: the
    linear relaxation in the module's words, rounded up."""
    if not any(required):
        return 0
    program = _Program()
    counts = [program.var(0.0, float(len(able))) for able in who]
    present: list[list[int]] = [[] for _ in required]
    for col, kind in zip(counts, kinds, strict=True):
        for slot in range(kind.first_slot, min(len(required), kind.first_slot + kind.slots)):
            present[slot].append(col)
    phone = []
    for slot, need in enumerate(required):
        under = program.var(1.0)
        working = program.var(0.0)
        phone.append(working)
        program.row(need, math.inf, [under, working], [1.0, 1.0])
        program.row(-math.inf, 0.0, [working, *present[slot]], [1.0] + [-1.0] * len(present[slot]))
    nets: dict[str, float] = {}
    for kind in kinds:
        template = kind.template
        if template.name not in nets:
            nets[template.name] = (
                template.minutes
                - template.lunch_minutes
                - least_breaks(rules, template.minutes, template.lunch_minutes)
                * rules.break_minutes
            ) / SLOT
    for day in range(7):
        cols = [col for col, kind in zip(counts, kinds, strict=True) if kind.day == day]
        slots = [
            phone[s] for s in range(day * SLOTS_DAY, min(len(required), (day + 1) * SLOTS_DAY))
        ]
        nets_day = [nets[k.template.name] for k in kinds if k.day == day]
        program.row(-math.inf, 0.0, [*slots, *cols], [1.0] * len(slots) + [-v for v in nets_day])
        if cols:
            program.row(-math.inf, per_day[day], cols, [1.0] * len(cols))
    minutes, days = totals
    program.row(-math.inf, minutes, counts, [float(k.template.work_minutes) for k in kinds])
    program.row(-math.inf, days, counts, [1.0] * len(counts))
    _pattern_rows(program, counts, kinds, templates, groups)
    status, (_solution, info) = program.solve(seconds, relax=True)
    if status != "optimal":
        return 0
    # the dual bound of an optimal LP is its value; a hair below an integer is that integer
    return max(0, math.ceil(float(info.objective_function_value) - 1e-6))


@dataclass
class _Book:
    """Who works which day so far, to keep each addition within the rules."""

    operators: Sequence[Operator]
    rules: LabourRules
    day: list[list[Candidate | None]] = field(default_factory=list)
    minutes: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.day = [[None] * 7 for _ in self.operators]
        self.minutes = [0] * len(self.operators)

    def may_take(self, index: int, kind: Candidate) -> bool:
        mine = self.day[index]
        if mine[kind.day] is not None:
            return False
        if sum(one is not None for one in mine) >= self.rules.max_days_week:
            return False
        if self.minutes[index] + kind.template.work_minutes > self.operators[index].week_limit(
            self.rules
        ):
            return False
        rest = self.rules.min_rest_minutes
        before = mine[kind.day - 1] if kind.day > 0 else None
        after = mine[kind.day + 1] if kind.day < 6 else None
        if before is not None and kind.start - (before.start + before.template.minutes) < rest:
            return False
        return not (after is not None and after.start - (kind.start + kind.template.minutes) < rest)

    def take(self, index: int, kind: Candidate) -> None:
        self.day[index][kind.day] = kind
        self.minutes[index] += kind.template.work_minutes


def _who_works(
    counts: list[int],
    kinds: list[Candidate],
    who: list[list[int]],
    operators: Sequence[Operator],
    rules: LabourRules,
    *,
    seconds: float,
) -> list[tuple[int, Candidate]]:
    """Step 2: the shifts given to operators, as fully as the rules allow."""
    program = _Program()
    cols: dict[tuple[int, int], int] = {}  # (operator, kind) -> column
    for k, (count, able) in enumerate(zip(counts, who, strict=True)):
        if count <= 0:
            continue
        kind = kinds[k]
        for index in able:
            # more work given is better: a shift given is the schedule step 1 asked for
            cols[(index, k)] = program.var(-float(kind.template.work_minutes), 1.0, integer=True)
    if not cols:
        return []
    by_kind: dict[int, list[int]] = {}
    by_operator: dict[int, list[tuple[int, int]]] = {}
    for (index, k), col in cols.items():
        by_kind.setdefault(k, []).append(col)
        by_operator.setdefault(index, []).append((k, col))
    for k, same in by_kind.items():
        program.row(-math.inf, counts[k], same, [1.0] * len(same))
    big = float(8 * DAY + rules.min_rest_minutes)
    for index, mine in by_operator.items():
        operator = operators[index]
        program.row(
            -math.inf,
            operator.week_limit(rules),
            [col for _k, col in mine],
            [float(kinds[k].template.work_minutes) for k, _col in mine],
        )
        program.row(-math.inf, rules.max_days_week, [col for _k, col in mine], [1.0] * len(mine))
        days: dict[int, list[tuple[int, int]]] = {}
        for k, col in mine:
            days.setdefault(kinds[k].day, []).append((k, col))
        for day_cols in days.values():
            program.row(-math.inf, 1.0, [col for _k, col in day_cols], [1.0] * len(day_cols))
        for day, today in days.items():
            tomorrow = days.get(day + 1)
            if not tomorrow:
                continue
            # start(next) + big·(1 − works next) − end(this) ≥ rest, linear in the columns
            cols_row = [col for _k, col in tomorrow] + [col for _k, col in today]
            values = [float(kinds[k].start) - big for k, _col in tomorrow] + [
                -float(kinds[k].start + kinds[k].template.minutes) for k, _col in today
            ]
            program.row(rules.min_rest_minutes - big, math.inf, cols_row, values)
    _status, (solution, _info) = program.solve(seconds, gap=0.01)
    if not solution.value_valid:
        return []
    values = solution.col_value
    return [(index, kinds[k]) for (index, k), col in cols.items() if values[col] > 0.5]


def _cost(need: float, have: float, under_weight: float) -> float:
    return under_weight * max(0.0, need - have) + max(0.0, have - need)


def _gain(
    kind: Candidate,
    share: list[float],
    cover: list[float],
    required: Sequence[int],
    under_weight: float,
    sign: float = 1.0,
) -> float:
    """The change of the cost when ``kind`` is added (``sign`` -1: taken away)."""
    total = 0.0
    first = kind.first_slot
    for offset, value in enumerate(share):
        slot = first + offset
        if slot >= len(required):
            break
        need, have = required[slot], cover[slot]
        total += _cost(need, have + sign * value, under_weight) - _cost(need, have, under_weight)
    return total


def _add(cover: list[float], kind: Candidate, share: list[float], sign: float) -> None:
    for offset, value in enumerate(share):
        if kind.first_slot + offset < len(cover):
            cover[kind.first_slot + offset] += sign * value


def _fill(
    book: _Book,
    cover: list[float],
    required: Sequence[int],
    kinds: list[Candidate],
    who: list[list[int]],
    shares: dict[str, list[float]],
    under_weight: float,
) -> None:
    """Step 3: shifts added one at a time, the one that lowers the cost most first, to
    an operator who may take it (the one with the most hours left)."""
    blocked = [False] * len(kinds)  # no one may take it now: nor later (only fewer may)
    gains = [_gain(k, shares[k.template.name], cover, required, under_weight) for k in kinds]
    while True:
        best, best_k = 0.0, -1
        for k, delta in enumerate(gains):
            if not blocked[k] and delta < best - 1e-9:
                best, best_k = delta, k
        if best_k < 0:
            return
        kind = kinds[best_k]
        able = [index for index in who[best_k] if book.may_take(index, kind)]
        if not able:
            blocked[best_k] = True
            continue
        index = max(able, key=lambda i: book.operators[i].week_limit(book.rules) - book.minutes[i])
        book.take(index, kind)
        _add(cover, kind, shares[kind.template.name], 1.0)
        for k, other in enumerate(kinds):
            if other.day == kind.day and not blocked[k]:
                gains[k] = _gain(other, shares[other.template.name], cover, required, under_weight)


def _improve(
    book: _Book,
    cover: list[float],
    required: Sequence[int],
    kinds: list[Candidate],
    who: list[list[int]],
    shares: dict[str, list[float]],
    under_weight: float,
    *,
    deadline: float,
) -> int:
    """Local search: each operator's shift of a day moved to another start or template
    (within the rules) when that lowers the cost; passes until none does or the time is
    up. Returns the moves made."""
    able_of: dict[int, list[int]] = {}  # operator -> kinds they may work
    for k, able in enumerate(who):
        for index in able:
            able_of.setdefault(index, []).append(k)
    moves = 0
    for _ in range(3):
        moved = False
        for index, mine in enumerate(book.day):
            for day, current in enumerate(mine):
                if current is None:
                    continue
                if time.monotonic() > deadline:
                    return moves
                share = shares[current.template.name]
                removed = _gain(current, share, cover, required, under_weight, -1.0)
                _add(cover, current, share, -1.0)
                mine[day] = None
                book.minutes[index] -= current.template.work_minutes
                best, best_kind = 0.0, current  # staying put changes nothing
                for k in able_of.get(index, []):
                    other = kinds[k]
                    if other.day != day or other == current or not book.may_take(index, other):
                        continue
                    delta = removed + _gain(
                        other, shares[other.template.name], cover, required, under_weight
                    )
                    if delta < best - 1e-6:
                        best, best_kind = delta, other
                book.take(index, best_kind)
                _add(cover, best_kind, shares[best_kind.template.name], 1.0)
                if best_kind is not current:
                    moves += 1
                    moved = True
        if not moved:
            break
    return moves


def build_week(
    required: Sequence[int],
    operators: Sequence[Operator],
    templates: Sequence[ShiftTemplate],
    rules: LabourRules,
    *,
    under_weight: float = UNDER_WEIGHT,
    seconds: float = 40.0,
) -> Built:
    """A week's shifts with their breaks for ``required`` staff per 15-minute slot of the
    week (:data:`SLOTS_WEEK` numbers); ``seconds``: the solvers' time budget. Raises
    ValueError for unusable rules or templates."""
    began = time.monotonic()
    if len(required) != SLOTS_WEEK:
        raise ValueError(f"required must give {SLOTS_WEEK} slots (a week of 15 minutes)")
    problems = rules.problems() + [p for t in templates for p in t.problems(rules)]
    if problems:
        raise ValueError("; ".join(problems))
    need = [max(0, int(value)) for value in required]
    kinds, who = candidates(operators, templates, rules)
    shares = {template.name: presence_share(template, rules) for template in templates}
    per_day = _day_counts(operators, who, kinds)
    totals = _totals(operators, who, kinds, rules)
    groups = patterns(operators, who, kinds, templates, rules)
    notes: list[str] = []
    status, counts = _how_many(
        need,
        kinds,
        who,
        shares,
        per_day,
        totals,
        templates,
        groups,
        under_weight=under_weight,
        seconds=seconds * 0.35,
    )
    left = seconds * 0.7 - (time.monotonic() - began)  # step 2 has what step 1 left
    given = _who_works(counts, kinds, who, operators, rules, seconds=max(1.0, left))
    book = _Book(operators, rules)
    for index, one in given:
        if book.may_take(index, one):
            book.take(index, one)
    cover = [0.0] * len(need)
    for mine in book.day:
        for kind in mine:
            if kind is not None:
                for offset, value in enumerate(shares[kind.template.name]):
                    if kind.first_slot + offset < len(cover):
                        cover[kind.first_slot + offset] += value
    if len(given) < sum(counts):
        notes.append(f"{sum(counts) - len(given)} shifts of step 1 found no operator in step 2")
    _fill(book, cover, need, kinds, who, shares, under_weight)
    _improve(book, cover, need, kinds, who, shares, under_weight, deadline=began + seconds * 0.8)
    _fill(book, cover, need, kinds, who, shares, under_weight)
    lunches = {template.name: template.lunch_minutes for template in templates}

    def lunch_of(shift: Shift) -> int:
        return lunches.get(shift.template, rules.lunch_min)

    placed: dict[tuple[int, int], Shift] = {}
    stuck: list[Shift] = []
    for _round in range(4):
        for index, mine in enumerate(book.day):
            for kind in mine:
                if kind is not None and (index, kind.day) not in placed:
                    placed[(index, kind.day)] = Shift(
                        operators[index].id, kind.start, kind.template.minutes, kind.template.name
                    )
        shifts = list(placed.values())
        stuck = place_all(shifts, need, rules, lunch_of)
        working = on_phone(shifts)
        # breaks placed, some slots may still fall short: shifts that help are added (by
        # the slots' real staff) and the breaks placed again
        if coverage(need, working).under == 0 or time.monotonic() > began + seconds:
            break
        before = len(placed)
        _fill(book, [float(v) for v in working], need, kinds, who, shares, under_weight)
        if sum(kind is not None for mine in book.day for kind in mine) == before:
            break
    bound = lower_bound(need, kinds, who, per_day, totals, rules, templates, groups)
    by_id = {operator.id: operator for operator in operators}
    broken = violations(shifts, by_id, rules, {t.name: t for t in templates})
    if broken:  # never expected: the steps keep the rules; said rather than hidden
        notes.append(f"{len(broken)} rule violations: {broken[0].detail}")
    return Built(
        shifts,
        need,
        working,
        coverage(need, working),
        bound,
        time.monotonic() - began,
        status,
        len(stuck),
        notes,
    )
