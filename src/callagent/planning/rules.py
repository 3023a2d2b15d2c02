"""A week's schedule as data, the labour rules, and the checker that says whether a
schedule breaks any of them. Pure.

Times are whole minutes from the week's first midnight on the centre's clock (the week
is drawn and printed on the wall clock; the edges turn them into aware times), on a
15-minute grid. A shift lies within its day (it starts and ends between 00:00 and
24:00): the minimum rest between two shifts is then only a matter of consecutive days.

The rules (:class:`LabourRules`, each a setting's default):

- a day's work (the shift less its lunch) at most ``max_day_minutes``; one shift a day;
- a week's work at most ``max_week_minutes`` (an operator may have less) on at most
  ``max_days_week`` days;
- at least ``min_rest_minutes`` between the end of one shift and the start of the next
  (also from the last shift of the week before);
- a shift longer than ``lunch_needed_after`` minutes has exactly one lunch of
  ``lunch_min``–``lunch_max`` minutes, starting no earlier than ``lunch_from`` minutes
  after the shift's start and ending no later than ``lunch_to_end`` minutes before its
  end;
- short breaks of ``break_minutes``: nobody works more than ``max_stretch_minutes`` in a
  row without a break or the lunch ("a short break every N hours");
- a shift only where its operator is available: their window of the weekday, not on a
  day off or vacation they asked for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise

SLOT = 15  # minutes: the grid of starts, breaks and coverage
DAY = 24 * 60
WEEK = 7 * DAY
SLOTS_DAY = DAY // SLOT
SLOTS_WEEK = WEEK // SLOT
LUNCH = "lunch"
BREAK = "break"


@dataclass(frozen=True)
class LabourRules:
    """The rules no built schedule may break (see the module's list)."""

    max_day_minutes: int = 660
    max_week_minutes: int = 2400
    max_days_week: int = 5
    min_rest_minutes: int = 660
    lunch_min: int = 30
    lunch_max: int = 60
    lunch_needed_after: int = 360
    lunch_from: int = 150
    lunch_to_end: int = 90
    break_minutes: int = 15
    max_stretch_minutes: int = 120

    def problems(self) -> list[str]:
        """What makes these rules unusable (empty: they are fine)."""
        found = []
        for name in (
            "max_day_minutes",
            "max_week_minutes",
            "min_rest_minutes",
            "lunch_min",
            "lunch_max",
            "lunch_from",
            "lunch_to_end",
            "break_minutes",
            "max_stretch_minutes",
            "lunch_needed_after",
        ):
            value = getattr(self, name)
            if value < 0 or value % SLOT:
                found.append(f"{name} must be a multiple of {SLOT} minutes, ≥ 0")
        if not SLOT <= self.lunch_min <= self.lunch_max:
            found.append("lunch_min must be 15 minutes or more and at most lunch_max")
        if self.break_minutes < SLOT or self.max_stretch_minutes < SLOT:
            found.append("break_minutes and max_stretch_minutes must be 15 minutes or more")
        if self.min_rest_minutes >= DAY:
            found.append("min_rest_minutes must be less than 24 hours")
        if not 1 <= self.max_days_week <= 7:
            found.append("max_days_week must be 1 to 7")
        return found


def parse_rules(values: Iterable[str]) -> LabourRules:
    """Labour rules as ``name=value`` items over the defaults (``max_week_minutes=2400``);
    a clear error names a bad one."""
    known = set(LabourRules.__dataclass_fields__)
    given: dict[str, int] = {}
    for text in values:
        name, _, value = text.partition("=")
        name = name.strip()
        if name not in known or not value.strip().isdigit():
            raise ValueError(
                f"{text!r} is not name=minutes with a name of {', '.join(sorted(known))}"
            )
        given[name] = int(value)
    rules = LabourRules(**given)
    problems = rules.problems()
    if problems:
        raise ValueError("; ".join(problems))
    return rules


@dataclass(frozen=True)
class ShiftTemplate:
    """A kind of shift: its length with the lunch, the window its start may fall in
    (minutes after midnight, on the 15-minute grid) and its lunch's length (0: none)."""

    name: str
    minutes: int
    earliest_start: int
    latest_start: int
    lunch_minutes: int = 0

    @property
    def work_minutes(self) -> int:
        return self.minutes - self.lunch_minutes

    def starts(self) -> range:
        """The start times the template allows (minutes after midnight)."""
        return range(self.earliest_start, self.latest_start + 1, SLOT)

    def problems(self, rules: LabourRules) -> list[str]:
        """Why no schedule could use this template (empty: it is usable)."""
        found = []
        if not self.name.strip():
            found.append("a template needs a name")
        for value in (self.minutes, self.earliest_start, self.latest_start, self.lunch_minutes):
            if value < 0 or value % SLOT:
                found.append(f"{self.name}: times must be multiples of {SLOT} minutes")
                return found
        if self.minutes < SLOT or self.earliest_start > self.latest_start:
            found.append(f"{self.name}: a length and an earliest start ≤ the latest start")
        if self.latest_start + self.minutes > DAY:
            found.append(f"{self.name}: a shift must end by midnight")
        if self.work_minutes > rules.max_day_minutes:
            found.append(f"{self.name}: more work than a day's {rules.max_day_minutes} minutes")
        if self.minutes > rules.lunch_needed_after:
            if not rules.lunch_min <= self.lunch_minutes <= rules.lunch_max:
                found.append(
                    f"{self.name}: a shift over {rules.lunch_needed_after} minutes needs a "
                    f"lunch of {rules.lunch_min}-{rules.lunch_max} minutes"
                )
            elif rules.lunch_from + self.lunch_minutes + rules.lunch_to_end > self.minutes:
                found.append(f"{self.name}: no room for the lunch within its window")
        elif self.lunch_minutes:
            found.append(f"{self.name}: a lunch only in shifts over {rules.lunch_needed_after} min")
        return found


@dataclass(frozen=True)
class Operator:
    """Who can be scheduled, and when.

    ``windows``: per weekday (0 Monday) the minutes ``(from, to)`` within which their
    shift must lie; a weekday missing: not available that day; ``None``: any time.
    ``days_off``: days (0-6 of this week) they asked off (day off, vacation).
    ``rest_until``: no shift may start before this minute of the week (the last shift
    of the week before plus the rest; may be negative)."""

    id: int
    login: str
    max_week_minutes: int | None = None
    windows: Mapping[int, tuple[int, int]] | None = None
    days_off: frozenset[int] = frozenset()
    templates: frozenset[str] | None = None  # None: any template
    rest_until: int = -DAY

    def week_limit(self, rules: LabourRules) -> int:
        mine = self.max_week_minutes
        return rules.max_week_minutes if mine is None else min(mine, rules.max_week_minutes)

    def can_work(self, day: int, start: int, end: int) -> bool:
        """Whether a shift of day ``day`` over ``[start, end)`` (minutes after that day's
        midnight) lies within their availability."""
        if day in self.days_off or day * DAY + start < self.rest_until:
            return False
        if self.windows is None:
            return True
        window = self.windows.get(day)
        return window is not None and window[0] <= start and end <= window[1]


@dataclass
class Break:
    """A break or the lunch: ``[start, start + minutes)``, minutes of the week."""

    kind: str  # LUNCH or BREAK
    start: int
    minutes: int

    @property
    def end(self) -> int:
        return self.start + self.minutes


@dataclass
class Shift:
    """One operator's shift on one day: ``[start, end)``, minutes of the week."""

    operator: int
    start: int
    minutes: int
    template: str = ""
    breaks: list[Break] = field(default_factory=list)

    @property
    def end(self) -> int:
        return self.start + self.minutes

    @property
    def day(self) -> int:
        return self.start // DAY

    @property
    def lunch_minutes(self) -> int:
        return sum(one.minutes for one in self.breaks if one.kind == LUNCH)

    @property
    def work_minutes(self) -> int:
        """Paid work: the shift less its lunch (short breaks are paid)."""
        return self.minutes - self.lunch_minutes


@dataclass(frozen=True)
class Violation:
    """One broken rule: whose, which rule (a stable code), and in words."""

    operator: int
    rule: str
    detail: str


def _clock(minute: int) -> str:
    day, rest = divmod(minute, DAY)
    return f"day {day + 1} {rest // 60:02d}:{rest % 60:02d}"


def _shift_violations(shift: Shift, rules: LabourRules) -> list[Violation]:
    found: list[Violation] = []

    def add(rule: str, detail: str) -> None:
        found.append(Violation(shift.operator, rule, f"{_clock(shift.start)}: {detail}"))

    if shift.start % SLOT or shift.minutes % SLOT or shift.minutes <= 0:
        add("grid", "a shift starts and lasts on the 15-minute grid")
    if shift.end > (shift.day + 1) * DAY or shift.start < 0 or shift.end > WEEK:
        add("within_day", "a shift must lie within its day")
    if shift.work_minutes > rules.max_day_minutes:
        add("max_day", f"{shift.work_minutes} minutes of work > {rules.max_day_minutes}")
    pieces = sorted(shift.breaks, key=lambda one: one.start)
    lunches = [one for one in pieces if one.kind == LUNCH]
    for one in pieces:
        if one.kind not in (LUNCH, BREAK) or one.start % SLOT or one.minutes % SLOT:
            add("grid", "breaks start and last on the 15-minute grid")
        if one.start < shift.start or one.end > shift.end or one.minutes <= 0:
            add("break_outside", f"a {one.kind} at {_clock(one.start)} is outside the shift")
        if one.kind == BREAK and one.minutes != rules.break_minutes:
            add("break_length", f"a short break lasts {rules.break_minutes} minutes")
    for first, second in pairwise(pieces):
        if second.start < first.end:
            add("break_overlap", f"breaks overlap at {_clock(second.start)}")
    if shift.minutes > rules.lunch_needed_after:
        if len(lunches) != 1:
            add("lunch", f"a shift over {rules.lunch_needed_after} minutes has one lunch")
        else:
            lunch = lunches[0]
            if not rules.lunch_min <= lunch.minutes <= rules.lunch_max:
                add("lunch_length", f"a lunch lasts {rules.lunch_min}-{rules.lunch_max} minutes")
            if (
                lunch.start < shift.start + rules.lunch_from
                or lunch.end > shift.end - rules.lunch_to_end
            ):
                add("lunch_window", f"the lunch at {_clock(lunch.start)} is outside its window")
    elif lunches:
        add("lunch", f"a lunch only in shifts over {rules.lunch_needed_after} minutes")
    at = shift.start
    for one in [*pieces, Break(BREAK, shift.end, 0)]:
        if one.start - at > rules.max_stretch_minutes:
            add("stretch", f"{one.start - at} minutes of work without a break from {_clock(at)}")
        at = max(at, one.end)
    return found


def violations(
    shifts: Iterable[Shift],
    operators: Mapping[int, Operator],
    rules: LabourRules,
    templates: Mapping[str, ShiftTemplate] | None = None,
) -> list[Violation]:
    """Every labour rule the schedule breaks (empty: none). ``templates``: when given, a
    shift naming a template must have its length and a start in its window (a hand-edited
    shift names none)."""
    found: list[Violation] = []
    per: dict[int, list[Shift]] = {}
    for shift in shifts:
        per.setdefault(shift.operator, []).append(shift)
    for operator_id, mine in per.items():
        mine.sort(key=lambda one: one.start)
        operator = operators.get(operator_id)
        if operator is None:
            found.append(Violation(operator_id, "operator", "not an operator of this schedule"))
            continue
        for shift in mine:
            found.extend(_shift_violations(shift, rules))
            start = shift.start - shift.day * DAY
            if not operator.can_work(shift.day, start, start + shift.minutes):
                found.append(
                    Violation(
                        operator_id,
                        "availability",
                        f"{_clock(shift.start)}: outside availability or on a day off",
                    )
                )
            template = (templates or {}).get(shift.template) if shift.template else None
            if template is not None and (
                template.minutes != shift.minutes or start not in template.starts()
            ):
                found.append(
                    Violation(
                        operator_id,
                        "template",
                        f"{_clock(shift.start)}: not a {template.name} shift",
                    )
                )
        days = [shift.day for shift in mine]
        if len(set(days)) != len(days):
            found.append(Violation(operator_id, "one_a_day", "two shifts on one day"))
        if len(set(days)) > rules.max_days_week:
            found.append(
                Violation(operator_id, "max_days", f"{len(set(days))} days > {rules.max_days_week}")
            )
        week = sum(shift.work_minutes for shift in mine)
        if week > operator.week_limit(rules):
            found.append(
                Violation(
                    operator_id,
                    "max_week",
                    f"{week} minutes of work > {operator.week_limit(rules)}",
                )
            )
        for first, second in pairwise(mine):
            if second.start - first.end < rules.min_rest_minutes:
                found.append(
                    Violation(
                        operator_id,
                        "rest",
                        f"{_clock(second.start)}: {second.start - first.end} minutes of rest "
                        f"< {rules.min_rest_minutes}",
                    )
                )
    return found


def on_phone(shifts: Iterable[Shift], slots: int = SLOTS_WEEK) -> list[int]:
    """Operators working (in a shift, not on a break or lunch) in each 15-minute slot."""
    counts = [0] * slots
    for shift in shifts:
        for slot in range(max(0, shift.start // SLOT), min(slots, shift.end // SLOT)):
            counts[slot] += 1
        for one in shift.breaks:
            for slot in range(max(0, one.start // SLOT), min(slots, one.end // SLOT)):
                counts[slot] -= 1
    return counts


@dataclass(frozen=True)
class Coverage:
    """Required against working staff: ``under`` is the coverage gap (the sum over slots
    of the agents missing), ``over`` the agents beyond the need, both in agent-slots of
    15 minutes."""

    under: int
    over: int


def coverage(required: Sequence[int], working: Sequence[int]) -> Coverage:
    """The gap and the excess of ``working`` against ``required``, slot by slot."""
    under = sum(max(0, need - have) for need, have in zip(required, working, strict=True))
    over = sum(max(0, have - need) for need, have in zip(required, working, strict=True))
    return Coverage(under, over)


def day_of(week_start: date, day: date) -> int:
    """The day's index in the week (0-6), or a ValueError."""
    index = (day - week_start).days
    if not 0 <= index < 7:
        raise ValueError(f"{day} is not in the week from {week_start}")
    return index
