"""An evaluation's score from its answers (pure: no IO, no clock).

Seed 003 B/03: "the score of each monitored call by the established rules". The rules:
a criterion answered ``yes`` earns its weight, ``partial`` half of it, ``no`` nothing;
``na`` (not applicable) leaves the criterion out of the weights altogether, so a call
without, say, a pre-registration is not punished for it. The score is the earned share
of the applicable weights, in percent. Any critical error answered ``yes`` zeroes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from callagent.errors import ServiceError
from callagent.quality.scorecard import Scorecard

ANSWERS = ("yes", "partial", "no", "na")
CRITICAL_ANSWERS = ("yes", "no")  # yes: the error was made
MAX_COMMENT = 2000
_SHARE = {"yes": 1.0, "partial": 0.5, "no": 0.0}


@dataclass(frozen=True)
class Answer:
    """An evaluator's answer to a criterion or critical error, with its comment."""

    value: str
    comment: str = ""


@dataclass(frozen=True)
class ItemScore:
    """What one criterion (or critical error: no points) came to."""

    item_id: str
    answer: str
    points: float  # earned
    possible: float  # the weight, 0 when not applicable or a critical error
    critical: bool


@dataclass(frozen=True)
class Score:
    """An evaluation's result: ``percent`` is 0 when a critical error was made."""

    percent: float
    earned: float
    possible: float
    critical_errors: tuple[str, ...]
    items: tuple[ItemScore, ...]


def check_answers(card: Scorecard, answers: Mapping[str, Answer]) -> None:
    """Refuse (422, coded for the pages) answers that do not fit the scorecard: an unknown
    item, one left unanswered, an answer the criterion does not allow, a comment too long,
    or nothing to score (every criterion not applicable)."""
    known = {c.id for c in card.criteria} | {e.id for e in card.critical_errors}
    for item_id in sorted(set(answers) - known):
        raise ServiceError(
            422,
            f"'{item_id}' is not a criterion or critical error of scorecard "
            f"{card.id} version {card.version}",
            code="quality_unknown_item",
            params={"item": item_id},
        )
    for item_id, answer in answers.items():
        if len(answer.comment) > MAX_COMMENT:
            raise ServiceError(
                422,
                f"the comment on '{item_id}' is longer than {MAX_COMMENT} characters",
                code="quality_comment_too_long",
                params={"item": item_id, "max": MAX_COMMENT},
            )
    for criterion in card.criteria:
        given = answers.get(criterion.id)
        if given is None:
            raise ServiceError(
                422,
                f"criterion '{criterion.id}' is not answered",
                code="quality_unanswered",
                params={"item": criterion.id},
            )
        if given.value not in criterion.answers:
            raise ServiceError(
                422,
                f"criterion '{criterion.id}' takes one of {', '.join(criterion.answers)}, "
                f"not '{given.value}'",
                code="quality_bad_answer",
                params={"item": criterion.id, "answers": ", ".join(criterion.answers)},
            )
    for error in card.critical_errors:
        given = answers.get(error.id)
        if given is None:
            raise ServiceError(
                422,
                f"critical error '{error.id}' is not answered (yes: it was made, or no)",
                code="quality_unanswered",
                params={"item": error.id},
            )
        if given.value not in CRITICAL_ANSWERS:
            raise ServiceError(
                422,
                f"critical error '{error.id}' takes yes or no, not '{given.value}'",
                code="quality_bad_answer",
                params={"item": error.id, "answers": "yes, no"},
            )
    if all(answers[c.id].value == "na" for c in card.criteria):
        raise ServiceError(
            422,
            "every criterion is not applicable: there is nothing to score",
            code="quality_nothing_to_score",
        )


def score(card: Scorecard, answers: Mapping[str, Answer]) -> Score:
    """The score of checked answers (:func:`check_answers` first)."""
    items: list[ItemScore] = []
    earned = possible = 0.0
    for criterion in card.criteria:
        value = answers[criterion.id].value
        if value == "na":
            items.append(ItemScore(criterion.id, value, 0.0, 0.0, critical=False))
            continue
        points = criterion.weight * _SHARE[value]
        earned += points
        possible += criterion.weight
        items.append(ItemScore(criterion.id, value, points, criterion.weight, critical=False))
    made = tuple(e.id for e in card.critical_errors if answers[e.id].value == "yes")
    for error in card.critical_errors:
        items.append(ItemScore(error.id, answers[error.id].value, 0.0, 0.0, critical=True))
    percent = 0.0 if made or possible == 0 else round(100.0 * earned / possible, 2)
    return Score(percent, earned, possible, made, tuple(items))
