"""A report from its facts: the totals and one group per key, for every grouping.

Pure. Each kind of fact has its place in a grouping: calls where they were offered
(by interval, day, week, month, operator, topic, dialled number), operators' states
where they passed (cut at the groups' bounds) and by operator, wrap-ups where they
began and by operator, notification attempts where they began and by campaign. A kind
with no place in a grouping (states by topic, say) is only in the totals.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from callagent.reports.activity import Activity, AttemptFact, WrapupFact, activity
from callagent.reports.kpi import CallFact, CallTally, Kpi, KpiOptions, by_operator, finish, tally
from callagent.reports.operator_time import (
    LOGGED_IN,
    OperatorTime,
    StateSpan,
    operator_time,
    settle,
)
from callagent.reports.periods import TIME_GROUPINGS, Bucket, bucket_of

GROUPINGS = ("interval", "day", "week", "month", "operator", "topic", "did", "campaign")


@dataclass(frozen=True)
class ReportInputs:
    """Everything a report counts over ``[since, until)``."""

    since: datetime
    until: datetime
    calls: Sequence[CallFact]
    spans: Sequence[StateSpan] = ()
    wrapups: Sequence[WrapupFact] = ()
    attempts: Sequence[AttemptFact] = ()


@dataclass
class _Group:
    calls: list[CallFact] = field(default_factory=list)
    spans: list[StateSpan] = field(default_factory=list)
    wrapups: list[WrapupFact] = field(default_factory=list)
    attempts: list[AttemptFact] = field(default_factory=list)
    bounds: Bucket | None = None  # a time group's bounds


@dataclass
class Tallies:
    """The additive figures of one group (or of the totals): what :func:`build` finishes
    into a :class:`Kpi`, and what stored interval aggregates add to."""

    calls: CallTally = field(default_factory=CallTally)
    time: OperatorTime = field(default_factory=OperatorTime)
    activity: Activity = field(default_factory=Activity)
    order: str = ""  # a time group's start (ISO, UTC): groups are sorted by it, then key

    def finish(self, options: KpiOptions, key: str | None = None) -> Kpi:
        """The group's figures."""
        kpi = finish(self.calls, options, key)
        settle(self.time)
        kpi.time = self.time
        kpi.activity = self.activity
        return kpi


def build(
    inputs: ReportInputs,
    options: KpiOptions,
    *,
    by: str | None = None,
    zone: ZoneInfo,
    interval_minutes: int = 30,
) -> Kpi:
    """The report's totals, with one :class:`Kpi` per group (in time or key order) in
    ``groups`` when ``by`` is given. By operator a transferred call counts for each
    operator who talked on it; the totals count it once."""
    total, groups = group_tallies(
        inputs, options, by=by, zone=zone, interval_minutes=interval_minutes
    )
    return finish_report(total, groups, options, grouped=by is not None)


def finish_report(
    total: Tallies, groups: dict[str, Tallies], options: KpiOptions, *, grouped: bool
) -> Kpi:
    """The report from its tallies: the totals, and the groups in time or key order."""
    kpi = total.finish(options)
    if grouped:
        ordered = sorted(groups.items(), key=lambda item: (item[1].order, item[0]))
        kpi.groups = [group.finish(options, key) for key, group in ordered]
    return kpi


def group_tallies(
    inputs: ReportInputs,
    options: KpiOptions,
    *,
    by: str | None = None,
    zone: ZoneInfo,
    interval_minutes: int = 30,
) -> tuple[Tallies, dict[str, Tallies]]:
    """The totals' and each group's additive figures (see :func:`build`)."""
    total = Tallies(
        tally(inputs.calls, options),
        operator_time(inputs.spans, inputs.since, inputs.until),
        activity(inputs.wrapups, inputs.attempts),
    )
    if by is None:
        return total, {}
    if by not in GROUPINGS:
        raise ValueError(f"cannot group by {by!r}; choose one of {', '.join(GROUPINGS)}")
    groups: dict[str, _Group] = {}

    def put(key: str | None, kind: str, item: object) -> None:
        if key is not None:  # kind: the group's list of that kind of fact
            getattr(groups.setdefault(key, _Group()), kind).append(item)

    if by in TIME_GROUPINGS:

        def when(at: datetime) -> str:
            bucket = bucket_of(at, by, zone, interval_minutes)
            groups.setdefault(bucket.key, _Group()).bounds = bucket
            return bucket.key

        for fact in inputs.calls:
            put(when(fact.offered_at), "calls", fact)
        for span in inputs.spans:
            for piece in _cut(span, by, zone, interval_minutes):
                if piece.state in LOGGED_IN:
                    put(when(piece.start), "spans", piece)
        for wrapup in inputs.wrapups:
            put(when(wrapup.started_at), "wrapups", wrapup)
        for attempt in inputs.attempts:
            put(when(attempt.started_at), "attempts", attempt)
    else:
        call_key: dict[str, Callable[[CallFact], str]] = {
            "operator": lambda f: f.operator,
            "topic": lambda f: f.topic,
            "did": lambda f: f.did,
        }
        for fact in inputs.calls:
            for one in by_operator(fact) if by == "operator" else [fact]:
                key_of = call_key.get(by)
                put(key_of(one) if key_of else None, "calls", one)
        if by == "operator":
            for span in inputs.spans:  # offline all along: no group (as by time)
                if span.state in LOGGED_IN:
                    put(span.operator, "spans", span)
            for wrapup in inputs.wrapups:
                put(wrapup.operator, "wrapups", wrapup)
        if by == "campaign":
            for attempt in inputs.attempts:
                put(attempt.campaign, "attempts", attempt)
    return total, {key: _tallies(group, options, inputs) for key, group in groups.items()}


def _tallies(group: _Group, options: KpiOptions, inputs: ReportInputs) -> Tallies:
    start = group.bounds.start if group.bounds else inputs.since
    end = group.bounds.end if group.bounds else inputs.until
    return Tallies(
        tally(group.calls, options),
        operator_time(group.spans, max(start, inputs.since), min(end, inputs.until)),
        activity(group.wrapups, group.attempts),
        # time groups by their start: on the autumn DST day 03:00+03:00 comes before
        # 03:00+02:00
        group.bounds.start.astimezone(UTC).isoformat() if group.bounds else "",
    )


def _cut(span: StateSpan, by: str, zone: ZoneInfo, interval_minutes: int) -> list[StateSpan]:
    """``span`` in pieces, one per time group it passes through."""
    pieces: list[StateSpan] = []
    at = span.start
    while at < span.end:
        bucket = bucket_of(at, by, zone, interval_minutes)
        end = min(bucket.end, span.end)
        pieces.append(replace(span, start=at, end=end))
        at = end
    return pieces
