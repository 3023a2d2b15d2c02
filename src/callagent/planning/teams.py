"""Teams in the schedule: each team's share of the calls, its staff per slot, and a week
built per team with its own operators. Pure.

A team is the operators' ``group`` (the team a supervisor sees; ``""``: operators in no
team). With one team only, nothing changes: one schedule covers the whole centre's need.
With several, each team answers its own calls (the routing topics its operators hold),
so each needs its own staff per interval:

- **share** of the calls per team: ``CALLAGENT_PLANNING_TEAM_SHARES`` when set
  (``team=share`` items, normalised over the teams there are), else measured from the
  history: an answered call belongs to the team of the operator who answered it; an
  unanswered one to the team that answered most of its routing topic's calls (a topic
  nobody answered, or none: left out); no calls at all: shares by the teams' operators;
- **need** per team: from the forecast, each interval's Erlang C agents for the team's
  share of the volume (queues do not pool across teams: the teams' needs add up to more
  than one pool of the same calls would need), raised by the shrinkage as the whole
  centre's; a need given as numbers (the API's ``required``) is split by the shares,
  slot by slot, largest remainders first, so the teams' needs add up to it;
- **build**: one week per team with its own operators
  (:func:`callagent.planning.schedule.build_week`): an operator is in one team, and each
  team's coverage counts only its operators, so the teams' problems share nothing and
  solving them apart is solving the whole; every labour rule is kept as in one build.
  The gap and the bound are per team and their sums for the whole; the centre's
  coverage chart adds the teams' needs and staff.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from callagent.planning.rules import (
    SLOTS_WEEK,
    Coverage,
    LabourRules,
    Operator,
    ShiftTemplate,
    coverage,
)
from callagent.planning.schedule import Built, build_week


def parse_team_shares(values: Iterable[str]) -> dict[str, float]:
    """``team=share`` items (``sales=0.6``; a team's name may hold any letters, the last
    ``=`` splits); shares ≥ 0, not all 0. A clear error names a bad item."""
    shares: dict[str, float] = {}
    for text in values:
        name, sign, value = text.rpartition("=")
        try:
            share = float(value)
        except ValueError:
            share = -1.0
        if not sign or not name.strip() or not (0 <= share < math.inf):
            raise ValueError(f"{text!r} is not team=share such as sales=0.6")
        shares[name.strip()] = share
    if shares and not sum(shares.values()) > 0:
        raise ValueError("team shares must not all be 0")
    return shares


def normalised(shares: Mapping[str, float], teams: Sequence[str]) -> dict[str, float]:
    """The shares of ``teams`` adding up to 1 (teams not named: 0); all 0: equal."""
    given = {team: max(0.0, float(shares.get(team, 0.0))) for team in teams}
    total = math.fsum(given.values())
    if total <= 0:
        return {team: 1.0 / len(teams) for team in teams} if teams else {}
    return {team: value / total for team, value in given.items()}


@dataclass(frozen=True)
class CallOfTeam:
    """What a history call says about the teams: who answered it, its topic."""

    operator: str  # login of the answering operator ("" : nobody)
    topic: str
    answered: bool


def measured_shares(
    calls: Iterable[CallOfTeam], team_of: Mapping[str, str], teams: Sequence[str]
) -> tuple[dict[str, float], int]:
    """Each team's share of the calls (see the module) and how many calls it counted."""
    counts: Counter[str] = Counter()
    by_topic: dict[str, Counter[str]] = {}
    waiting: list[str] = []
    for call in calls:
        team = team_of.get(call.operator) if call.answered and call.operator else None
        if team is not None:
            counts[team] += 1
            if call.topic:
                by_topic.setdefault(call.topic, Counter())[team] += 1
        elif not call.answered and call.topic:
            waiting.append(call.topic)
    for topic in waiting:
        answered = by_topic.get(topic)
        if answered:
            counts[max(sorted(answered), key=lambda t: answered[t])] += 1
    counted = sum(counts[team] for team in teams)
    if counted == 0:
        return {}, 0
    return {team: counts[team] / counted for team in teams}, counted


def split_required(required: Sequence[int], shares: Mapping[str, float]) -> dict[str, list[int]]:
    """``required`` split by ``shares`` (adding up to 1) slot by slot: each team its
    floor, the rest one by one to the largest remainders (ties: the larger share, then
    the name), so the parts add up to the whole in every slot."""
    teams = sorted(shares, key=lambda t: (-shares[t], t))
    parts: dict[str, list[int]] = {team: [0] * len(required) for team in teams}
    for slot, need in enumerate(required):
        exact = {team: need * shares[team] for team in teams}
        floors = {team: math.floor(value + 1e-9) for team, value in exact.items()}
        left = need - sum(floors.values())
        order = sorted(teams, key=lambda t: -(exact[t] - floors[t]))
        for team in order[: max(0, left)]:
            floors[team] += 1
        for team in teams:
            parts[team][slot] = floors[team]
    return parts


@dataclass
class TeamBuilt:
    """A week built per team: each team's build and the whole."""

    teams: dict[str, Built]
    required: list[int]  # the teams' needs added up
    working: list[int]
    seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def shifts(self) -> list[Any]:
        return [shift for built in self.teams.values() for shift in built.shifts]

    @property
    def coverage(self) -> Coverage:
        """The gap as the teams see it: each team's agents missing, added up (a team's
        spare staff does not answer another team's calls)."""
        return Coverage(
            sum(one.coverage.under for one in self.teams.values()),
            sum(one.coverage.over for one in self.teams.values()),
        )

    @property
    def lower_bound(self) -> int:
        return sum(one.lower_bound for one in self.teams.values())

    @property
    def status(self) -> str:
        words = sorted({one.status for one in self.teams.values()})
        return ", ".join(words) if words else "no teams"


def _nobody(need: list[int]) -> Built:
    """A team with a need and no operators: all of it missing, which is also its bound."""
    working = [0] * len(need)
    gap = coverage(need, working)
    return Built([], need, working, gap, gap.under, 0.0, "no operators")


def build_teams(
    required: Mapping[str, Sequence[int]],
    operators: Mapping[str, Sequence[Operator]],
    templates: Sequence[ShiftTemplate],
    rules: LabourRules,
    *,
    seconds: float = 40.0,
) -> TeamBuilt:
    """One week per team (``required`` and ``operators`` keyed by team), the solvers'
    ``seconds`` shared by the teams' operators (each at least a second)."""
    teams = sorted(set(required) | set(operators))
    sizes = {team: len(operators.get(team, ())) for team in teams}
    everyone = sum(sizes.values()) or 1
    built: dict[str, Built] = {}
    notes: list[str] = []
    for team in teams:
        need = [max(0, int(v)) for v in required.get(team, [0] * SLOTS_WEEK)]
        if len(need) != SLOTS_WEEK:
            raise ValueError(f"team {team!r}: required must give {SLOTS_WEEK} slots")
        mine = list(operators.get(team, ()))
        if not mine:
            built[team] = _nobody(need)
            if any(need):
                notes.append(f"team {team!r} has a need and no operators")
            continue
        budget = max(1.0, seconds * sizes[team] / everyone)
        built[team] = build_week(need, mine, templates, rules, seconds=budget)
        notes.extend(f"team {team!r}: {note}" for note in built[team].notes)
    total_need = [sum(one.required[s] for one in built.values()) for s in range(SLOTS_WEEK)]
    working = [sum(one.working[s] for one in built.values()) for s in range(SLOTS_WEEK)]
    return TeamBuilt(
        built,
        total_need,
        working,
        sum(one.seconds for one in built.values()),
        notes,
    )
