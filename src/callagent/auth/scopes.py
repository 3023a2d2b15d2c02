"""Scopes (what a credential may do) and the scopes each role has."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    """Everything an endpoint can require; tokens carry a subset."""

    CALLS_READ = "calls:read"
    CALLS_READ_PII = "calls:read_pii"  # applicants' numbers and names unmasked
    CALLS_ORIGINATE = "calls:originate"
    WRAPUPS_WRITE = "wrapups:write"
    WRAPUPS_READ = "wrapups:read"  # wrap-ups (operators: their own; supervisors: their group)
    QUESTIONS_READ = "questions:read"  # the register of non-standard questions
    QUESTIONS_WRITE = "questions:write"  # register, escalate, inform, close
    QUESTIONS_ANSWER = "questions:answer"  # answer escalated or anyone's questions
    CAMPAIGNS_WRITE = "campaigns:write"
    CAMPAIGNS_READ = "campaigns:read"  # campaigns, their registries and progress
    DEVICES_READ = "devices:read"
    OPERATORS_READ = "operators:read"
    OPERATORS_STATE = "operators:state"  # ready / pause / log out (operators: their own)
    OPERATORS_ADMIN = "operators:admin"
    TOKENS_ADMIN = "tokens:admin"
    WEBHOOKS_ADMIN = "webhooks:admin"
    AUDIT_READ = "audit:read"
    REPORTS_READ = "reports:read"  # KPIs and reports (supervisors with a group: their team)
    ROUTING_AGI = "routing:agi"  # the process-AGI bridge (callagent-agi) on the PBX
    # a call's recording (operators: their own, when CALLAGENT_RECORDINGS_OPERATORS_LISTEN)
    RECORDINGS_LISTEN = "recordings:listen"
    COMPLAINTS_READ = "complaints:read"  # the complaints register (operators: their own)
    COMPLAINTS_WRITE = "complaints:write"  # register; work on one's own complaints
    COMPLAINTS_MANAGE = "complaints:manage"  # owners, anyone's complaints, the causes report
    # QA evaluations: operators their own (acknowledge, dispute); the reports for the others
    QUALITY_READ = "quality:read"
    CALLBACKS_READ = "callbacks:read"  # website call-back requests: the list, the KPI
    CALLBACKS_MANAGE = "callbacks:manage"  # reassign a call-back (another operator, window)
    QUALITY_EVALUATE = "quality:evaluate"  # evaluate calls one may see, sample, resolve disputes
    # build, publish and edit the week's schedule, re-plan breaks (reading: reports:read)
    SCHEDULES_WRITE = "schedules:write"


class Role(StrEnum):
    """A user's role."""

    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    EVALUATOR = "evaluator"  # QA: listens to and evaluates calls (all of them), no routing


ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    # Operators see their own calls (filtered by their endpoints), unmasked: they talk
    # to these applicants; they tag their calls.
    Role.OPERATOR: frozenset(
        {
            Scope.CALLS_READ,
            Scope.CALLS_READ_PII,
            Scope.WRAPUPS_WRITE,
            Scope.WRAPUPS_READ,
            Scope.QUESTIONS_READ,
            Scope.QUESTIONS_WRITE,
            Scope.CALLS_ORIGINATE,
            Scope.OPERATORS_STATE,
            Scope.RECORDINGS_LISTEN,
            Scope.COMPLAINTS_READ,
            Scope.COMPLAINTS_WRITE,
            Scope.QUALITY_READ,
        }
    ),
    Role.SUPERVISOR: frozenset(
        {
            Scope.CALLS_READ,
            Scope.CALLS_READ_PII,
            Scope.WRAPUPS_WRITE,
            Scope.WRAPUPS_READ,
            Scope.QUESTIONS_READ,
            Scope.QUESTIONS_WRITE,
            Scope.QUESTIONS_ANSWER,
            Scope.CALLS_ORIGINATE,
            Scope.CAMPAIGNS_WRITE,
            Scope.CAMPAIGNS_READ,
            Scope.DEVICES_READ,
            Scope.OPERATORS_READ,
            Scope.OPERATORS_STATE,
            Scope.REPORTS_READ,
            Scope.RECORDINGS_LISTEN,
            Scope.COMPLAINTS_READ,
            Scope.COMPLAINTS_WRITE,
            Scope.COMPLAINTS_MANAGE,
            Scope.QUALITY_READ,
            Scope.QUALITY_EVALUATE,
            Scope.SCHEDULES_WRITE,
            Scope.CALLBACKS_READ,
            Scope.CALLBACKS_MANAGE,
        }
    ),
    # A QA evaluator (seed 003 B: "quality control specialist") hears and scores calls:
    # the calls list, recordings, wrap-ups to see what was tagged, the quality pages. No
    # numbers in clear (a recording carries the voice, not the register's data).
    Role.EVALUATOR: frozenset(
        {
            Scope.CALLS_READ,
            Scope.WRAPUPS_READ,
            Scope.RECORDINGS_LISTEN,
            Scope.QUALITY_READ,
            Scope.QUALITY_EVALUATE,
        }
    ),
    Role.ADMIN: frozenset(Scope),
}

ALL_SCOPES = frozenset(Scope)


def parse_scopes(values: list[str]) -> frozenset[Scope]:
    """Scopes from their names; a clear error names the unknown ones."""
    unknown = sorted(set(values) - {s.value for s in Scope})
    if unknown:
        raise ValueError(
            f"unknown scope(s) {', '.join(unknown)}; known: "
            + ", ".join(sorted(s.value for s in Scope))
        )
    return frozenset(Scope(v) for v in values)
