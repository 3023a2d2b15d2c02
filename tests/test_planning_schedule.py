"""The schedule's pure core: the labour rules' checker, the breaks' placement and
re-plan, and the week built by the solver, which never breaks a rule (hypothesis over
random operators, availability, days off and needs) and never misses fewer agent-slots
than its lower bound allows."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callagent.planning.breaks import best_breaks, place_all, slot_costs
from callagent.planning.rules import (
    BREAK,
    DAY,
    LUNCH,
    SLOT,
    SLOTS_WEEK,
    Break,
    LabourRules,
    Operator,
    Shift,
    ShiftTemplate,
    coverage,
    on_phone,
    violations,
)
from callagent.planning.schedule import build_week

RULES = LabourRules()
EIGHT = ShiftTemplate("8h", 480, 7 * 60, 13 * 60, 30)
TWELVE = ShiftTemplate("12h", 720, 8 * 60, 10 * 60, 60)
FOUR = ShiftTemplate("4h", 240, 8 * 60, 18 * 60)


def _rules_of(shift: Shift, operator: Operator | None = None) -> set[str]:
    who = operator or Operator(shift.operator, "op")
    return {one.rule for one in violations([shift], {who.id: who}, RULES)}


def _eight(start: int = 9 * 60) -> Shift:
    """A correct 8-hour shift: breaks at 2 h and 6 h 15, the lunch at 4 h 15."""
    return Shift(
        1,
        start,
        480,
        "8h",
        [
            Break(BREAK, start + 120, 15),
            Break(LUNCH, start + 240, 30),
            Break(BREAK, start + 375, 15),
        ],
    )


def test_the_checker_passes_a_good_shift_and_names_each_broken_rule() -> None:
    assert _rules_of(_eight()) == set()
    no_lunch = _eight()
    no_lunch.breaks = [one for one in no_lunch.breaks if one.kind != LUNCH]
    assert "lunch" in _rules_of(no_lunch)
    late_lunch = _eight()
    late_lunch.breaks[1] = Break(LUNCH, 9 * 60 + 420, 30)
    assert "lunch_window" in _rules_of(late_lunch)
    long_lunch = _eight()
    long_lunch.breaks[1] = Break(LUNCH, 9 * 60 + 240, 75)
    assert "lunch_length" in _rules_of(long_lunch)
    stretch = _eight()
    stretch.breaks = stretch.breaks[1:]  # 4 h before the lunch without a break
    assert "stretch" in _rules_of(stretch)
    off_grid = _eight(9 * 60 + 5)
    assert "grid" in _rules_of(off_grid)
    midnight = _eight(20 * 60)
    assert "within_day" in _rules_of(midnight)
    assert "availability" in _rules_of(_eight(), Operator(1, "op", days_off=frozenset({0})))
    window = Operator(1, "op", windows={0: (10 * 60, 18 * 60)})
    assert "availability" in _rules_of(_eight(), window)
    long_day = Shift(1, 8 * 60, 720 + 60, "", [])
    assert "max_day" in _rules_of(long_day)


def test_the_checker_counts_the_week_and_the_rest() -> None:
    operator = Operator(1, "op")
    late = _eight(14 * 60)  # ends 22:00
    early = _eight(DAY + 7 * 60)  # 9 h later
    rest = violations([late, early], {1: operator}, RULES)
    assert [one.rule for one in rest] == ["rest"]
    six = [_eight(day * DAY + 9 * 60) for day in range(6)]
    broken = {one.rule for one in violations(six, {1: operator}, RULES)}
    assert broken == {"max_days", "max_week"}
    small = Operator(1, "op", max_week_minutes=900)
    assert {one.rule for one in violations(six[:3], {1: small}, RULES)} == {"max_week"}
    before = Operator(1, "op", rest_until=9 * 60 + 15)  # last week's shift ended late
    assert "availability" in {one.rule for one in violations([_eight()], {1: before}, RULES)}


def test_breaks_keep_the_rules_and_avoid_the_slots_without_spare_staff() -> None:
    shift = Shift(1, 9 * 60, 480, "8h")
    spare = [3] * 32
    for slot in range(8, 12):  # 11:00-12:00 has nobody to spare
        spare[slot] = 0
    placed = best_breaks(shift, slot_costs(spare, 0, 32), RULES, 30)
    assert placed is not None
    shift.breaks = placed
    assert _rules_of(shift) == set()
    assert [one.kind for one in placed].count(LUNCH) == 1
    assert [one.kind for one in placed].count(BREAK) == 2  # the fewest the rule allows
    for one in placed:
        assert not 11 * 60 <= one.start < 12 * 60
    # a 4-hour shift: no lunch, one break within 2 hours
    four = Shift(1, 9 * 60, 240, "4h")
    four.breaks = best_breaks(four, [1.0] * 16, RULES, 0) or []
    assert [one.kind for one in four.breaks] == [BREAK]
    assert _rules_of(four) == set()


def test_breaks_are_spread_so_each_slot_keeps_its_staff() -> None:
    # 9 operators of 09:00-17:00, 7 needed all day: never three on a break at once (8
    # could not: nobody may break in the first or the last hour, 32 break slots remain)
    shifts = [Shift(k, 9 * 60, 480, "8h") for k in range(9)]
    required = [0] * SLOTS_WEEK
    for slot in range(9 * 4, 17 * 4):
        required[slot] = 7
    assert place_all(shifts, required, RULES, lambda _s: 30) == []
    working = on_phone(shifts)
    assert coverage(required, working).under == 0
    operators = {k: Operator(k, f"op{k}") for k in range(9)}
    assert violations(shifts, operators, RULES) == []


def test_a_replan_keeps_what_began_and_moves_the_rest_to_the_new_need() -> None:
    shifts = [Shift(k, 9 * 60, 480, "8h") for k in range(6)]
    required = [0] * SLOTS_WEEK
    for slot in range(9 * 4, 17 * 4):
        required[slot] = 4
    place_all(shifts, required, RULES, lambda _s: 30)
    now = 12 * 60
    before = {k: [b for b in s.breaks if b.start < now] for k, s in enumerate(shifts)}
    # 14:00-15:00 turns busy: breaks should leave it
    busy = list(required)
    for slot in range(14 * 4, 15 * 4):
        busy[slot] = 5
    unchanged = coverage(busy, on_phone(shifts)).under
    assert place_all(shifts, busy, RULES, lambda _s: 30, now=now) == []
    for k, shift in enumerate(shifts):
        assert [b for b in shift.breaks if b.start < now] == before[k]
        assert all(b.start >= now for b in shift.breaks if b not in before[k])
    operators = {k: Operator(k, f"op{k}") for k in range(6)}
    assert violations(shifts, operators, RULES) == []
    working = on_phone(shifts)
    assert all(working[slot] >= 5 for slot in range(14 * 4, 15 * 4))
    assert coverage(busy, working).under <= unchanged


def _need(blocks: list[tuple[int, int, int, int]]) -> list[int]:
    required = [0] * SLOTS_WEEK
    for day, hour, hours, agents in blocks:
        for slot in range((day * 24 + hour) * 4, (day * 24 + hour + hours) * 4):
            required[slot] = max(required[slot], agents)
    return required


def test_a_week_covers_a_need_it_can_and_reaches_its_bound() -> None:
    operators = [Operator(k, f"op{k}") for k in range(12)]
    required = _need([(day, 10, 6, 4) for day in range(5)])  # 4 agents 10:00-16:00 weekdays
    built = build_week(required, operators, [EIGHT, TWELVE, FOUR], RULES, seconds=10)
    by_id = {one.id: one for one in operators}
    assert violations(built.shifts, by_id, RULES, {"8h": EIGHT, "12h": TWELVE}) == []
    assert built.coverage.under == 0 == built.lower_bound
    assert built.working == on_phone(built.shifts)
    # nobody works at the weekend: no need there
    assert all(shift.day < 5 for shift in built.shifts)


def test_a_week_short_of_staff_reports_a_gap_no_smaller_than_the_bound() -> None:
    operators = [Operator(k, f"op{k}") for k in range(3)]
    required = _need([(day, 8, 12, 5) for day in range(7)])
    built = build_week(required, operators, [EIGHT, TWELVE], RULES, seconds=10)
    assert built.lower_bound > 0
    assert built.coverage.under >= built.lower_bound
    by_id = {one.id: one for one in operators}
    assert violations(built.shifts, by_id, RULES) == []


@st.composite
def _instances(draw: st.DrawFn) -> tuple[list[Operator], list[int], LabourRules]:
    count = draw(st.integers(1, 6))
    operators = []
    for k in range(count):
        windows = None
        if draw(st.booleans()):
            windows = {
                day: (
                    draw(st.sampled_from([0, 360, 480])),
                    draw(st.sampled_from([960, 1200, 1440])),
                )
                for day in draw(st.sets(st.integers(0, 6), min_size=1))
            }
        operators.append(
            Operator(
                k + 1,
                f"op{k}",
                max_week_minutes=draw(st.sampled_from([None, 900, 1800])),
                windows=windows,
                days_off=frozenset(draw(st.sets(st.integers(0, 6), max_size=3))),
                rest_until=draw(st.sampled_from([-DAY, 0, 9 * 60])),
            )
        )
    blocks = draw(
        st.lists(
            st.tuples(st.integers(0, 6), st.integers(6, 18), st.integers(1, 6), st.integers(1, 5)),
            max_size=6,
        )
    )
    rules = LabourRules(
        min_rest_minutes=draw(st.sampled_from([600, 660, 720])),
        max_days_week=draw(st.integers(3, 6)),
        max_stretch_minutes=draw(st.sampled_from([90, 120, 150])),
        lunch_from=draw(st.sampled_from([120, 150, 180])),
    )
    return operators, _need([(d, h, min(n, 24 - h), a) for d, h, n, a in blocks]), rules


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_instances())
def test_no_built_week_ever_breaks_a_rule(
    instance: tuple[list[Operator], list[int], LabourRules],
) -> None:
    operators, required, rules = instance
    templates = [EIGHT, TWELVE, FOUR]
    built = build_week(required, operators, templates, rules, seconds=5)
    by_id = {one.id: one for one in operators}
    assert violations(built.shifts, by_id, rules, {t.name: t for t in templates}) == []
    assert built.unplaced == 0
    assert 0 <= built.lower_bound <= built.coverage.under
    assert all(shift.start % SLOT == 0 for shift in built.shifts)
