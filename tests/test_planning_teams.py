"""Teams in the schedule's pure core: shares of the calls (configured, measured from who
answered and the topics), a need split slot by slot, and a week built per team that
covers each team's need with its own operators only and never breaks a labour rule
(hypothesis over random teams, operators and needs)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callagent.planning.rules import (
    SLOTS_WEEK,
    LabourRules,
    Operator,
    coverage,
    on_phone,
    violations,
)
from callagent.planning.schedule import build_week
from callagent.planning.teams import (
    CallOfTeam,
    build_teams,
    measured_shares,
    normalised,
    parse_team_shares,
    split_required,
)
from tests.test_planning_schedule import EIGHT, FOUR, RULES, TWELVE, _need


def test_team_shares_configured_and_measured() -> None:
    assert parse_team_shares(["Продажи=0.6", "support=0.4"]) == {"Продажи": 0.6, "support": 0.4}
    for bad in (["sales"], ["=0.5"], ["sales=x"], ["sales=-1"], ["sales=0"]):
        with pytest.raises(ValueError):
            parse_team_shares(bad)
    assert normalised({"a": 3, "b": 1, "x": 5}, ["a", "b", "c"]) == {"a": 0.75, "b": 0.25, "c": 0}
    assert normalised({}, ["a", "b"]) == {"a": 0.5, "b": 0.5}
    team_of = {"ann": "a", "bob": "b", "sup": "a"}
    calls = [
        *[CallOfTeam("ann", "passport", True)] * 4,
        *[CallOfTeam("bob", "tax", True)] * 2,
        CallOfTeam("bob", "passport", True),
        # unanswered: to the team that answered most of its topic; no topic: left out
        *[CallOfTeam("", "tax", False)] * 3,
        CallOfTeam("", "", False),
        CallOfTeam("", "unknown", False),
    ]
    shares, counted = measured_shares(calls, team_of, ["a", "b"])
    assert counted == 10
    assert shares == {"a": 0.4, "b": 0.6}
    assert measured_shares([CallOfTeam("", "", False)], team_of, ["a", "b"]) == ({}, 0)


def test_a_need_is_split_so_the_parts_add_up_slot_by_slot() -> None:
    required = [0, 1, 2, 3, 4, 5, 7, 10]
    parts = split_required(required, {"a": 0.7, "b": 0.2, "c": 0.1})
    assert [sum(p[s] for p in parts.values()) for s in range(len(required))] == required
    assert parts["a"] == [0, 1, 1, 2, 3, 4, 5, 7]
    assert parts["b"][-1] == 2 and parts["c"][-1] == 1


def test_each_team_is_covered_by_its_own_operators() -> None:
    """Team a has 6 operators for 2 agents, team b 1 operator for 3 agents: built as one
    pool a's spare operators would cover b's need; per team b's gap stays b's."""
    a = [Operator(k, f"a{k}") for k in range(6)]
    b = [Operator(10, "b0")]
    need_a = _need([(day, 10, 6, 2) for day in range(5)])
    need_b = _need([(day, 10, 6, 3) for day in range(5)])
    built = build_teams(
        {"a": need_a, "b": need_b}, {"a": a, "b": b}, [EIGHT, FOUR], RULES, seconds=6
    )
    by_id = {one.id: one for one in [*a, *b]}
    assert violations(built.shifts, by_id, RULES, {"8h": EIGHT, "4h": FOUR}) == []
    team_a, team_b = built.teams["a"], built.teams["b"]
    assert {s.operator for s in team_a.shifts} <= {o.id for o in a}
    assert {s.operator for s in team_b.shifts} <= {10}
    assert team_a.coverage.under == 0 == team_a.lower_bound
    # b: one operator works at most 5 shifts of 6 hours' need for 3: 2 agents missing at best
    assert team_b.coverage.under >= team_b.lower_bound >= 5 * 24 * 2
    assert built.coverage.under == team_a.coverage.under + team_b.coverage.under
    assert built.lower_bound == team_a.lower_bound + team_b.lower_bound
    assert built.required == [x + y for x, y in zip(need_a, need_b, strict=True)]
    assert built.working == on_phone(built.shifts)
    pooled = build_week(built.required, [*a, *b], [EIGHT, FOUR], RULES, seconds=6)
    assert pooled.coverage.under < built.coverage.under  # the pool hides b's gap
    assert coverage(need_b, on_phone(team_b.shifts)).under == team_b.coverage.under


def test_a_team_without_operators_misses_all_its_need() -> None:
    need = _need([(0, 9, 2, 1)])
    built = build_teams({"x": need}, {"y": [Operator(1, "y1")]}, [FOUR], RULES, seconds=2)
    assert built.teams["x"].coverage.under == 8 == built.teams["x"].lower_bound
    assert built.teams["y"].shifts == []  # no need: no shift


@st.composite
def _team_instances(
    draw: st.DrawFn,
) -> tuple[dict[str, list[int]], dict[str, list[Operator]], LabourRules]:
    operators: dict[str, list[Operator]] = {}
    needs: dict[str, list[int]] = {}
    ident = 0
    for team in ("a", "b", "c")[: draw(st.integers(2, 3))]:
        operators[team] = []
        for _ in range(draw(st.integers(0, 3))):
            ident += 1
            operators[team].append(
                Operator(
                    ident,
                    f"{team}{ident}",
                    max_week_minutes=draw(st.sampled_from([None, 900])),
                    days_off=frozenset(draw(st.sets(st.integers(0, 6), max_size=2))),
                    windows=draw(st.sampled_from([None, {d: (480, 1200) for d in range(5)}])),
                )
            )
        blocks = draw(
            st.lists(
                st.tuples(
                    st.integers(0, 6), st.integers(7, 16), st.integers(1, 6), st.integers(1, 3)
                ),
                max_size=4,
            )
        )
        needs[team] = _need([(d, h, min(n, 24 - h), k) for d, h, n, k in blocks])
    rules = LabourRules(
        max_days_week=draw(st.integers(3, 6)),
        min_rest_minutes=draw(st.sampled_from([600, 720])),
    )
    return needs, operators, rules


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_team_instances())
def test_no_week_built_per_team_ever_breaks_a_rule(
    instance: tuple[dict[str, list[int]], dict[str, list[Operator]], LabourRules],
) -> None:
    needs, operators, rules = instance
    templates = [EIGHT, TWELVE, FOUR]
    built = build_teams(needs, operators, templates, rules, seconds=3)
    by_id = {one.id: one for team in operators.values() for one in team}
    assert violations(built.shifts, by_id, rules, {t.name: t for t in templates}) == []
    for team, one in built.teams.items():
        assert {s.operator for s in one.shifts} <= {o.id for o in operators.get(team, [])}
        assert 0 <= one.lower_bound <= one.coverage.under
        assert one.coverage == coverage(needs[team], on_phone(one.shifts))
    assert len(built.required) == SLOTS_WEEK
