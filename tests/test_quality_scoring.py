"""QA scorecards and scoring (issue #13), pure: the packaged scorecard loads, a broken file
names every problem with its line, and the score follows the rules (n/a out of the
weights, partial = half, a critical error zeroes it)."""

from __future__ import annotations

import re

import pytest

from callagent.errors import ServiceError
from callagent.quality.scorecard import (
    ScorecardError,
    load_scorecard,
    parse_scorecard,
    scorecard_from_json,
)
from callagent.quality.scoring import Answer, check_answers, score

CARD = """
id: small
version: 2
title: {ru: Малая, en: Small}
sections:
  - id: main
    title: {ru: Главное, en: Main}
    criteria:
      - id: greeting
        title: {ru: Приветствие, en: Greeting}
        weight: 10
      - id: info
        title: {ru: Информация, en: Information}
        weight: 30
        partial: true
      - id: booking
        title: {ru: Запись, en: Booking}
        weight: 20
        not_applicable: true
critical_errors:
  - id: leak
    title: {ru: Разглашение, en: Disclosure}
"""


def answers(**values: str) -> dict[str, Answer]:
    return {key: Answer(value) for key, value in values.items()}


def test_the_packaged_scorecard_has_the_duties_and_the_critical_errors() -> None:
    card = load_scorecard()
    assert (card.id, card.version, card.pass_mark) == ("public_services", 1, 80.0)
    assert [c.id for c in card.criteria] == [
        "greeting",
        "identification",
        "correct_information",
        "pre_registration",
        "politeness",
        "closing",
    ]
    assert [e.id for e in card.critical_errors] == ["wrong_information", "personal_data_disclosed"]
    assert card.criterion("pre_registration").not_applicable  # type: ignore[union-attr]
    assert card.title_of("personal_data_disclosed", "uk") == "Розголошено персональні дані"
    # stored and read back: the same definition, the same fingerprint
    assert scorecard_from_json(card.to_json()).digest() == card.digest()


def test_scoring_rules() -> None:
    card = parse_scorecard(CARD)
    full = score(card, answers(greeting="yes", info="yes", booking="yes", leak="no"))
    assert (full.percent, full.earned, full.possible) == (100.0, 60.0, 60.0)
    # partial is half the weight: 10 + 15 + 0 of 60
    half = score(card, answers(greeting="yes", info="partial", booking="no", leak="no"))
    assert (half.percent, half.earned) == (41.67, 25.0)
    # n/a leaves booking out of the weights: 10 + 15 of 40
    na = score(card, answers(greeting="yes", info="partial", booking="na", leak="no"))
    assert (na.percent, na.possible) == (62.5, 40.0)
    assert [i.possible for i in na.items] == [10.0, 30.0, 0.0, 0.0]
    # a critical error zeroes all that was earned
    leak = score(card, answers(greeting="yes", info="yes", booking="yes", leak="yes"))
    assert leak.percent == 0.0 and leak.critical_errors == ("leak",) and leak.earned == 60.0


@pytest.mark.parametrize(
    ("given", "code", "item"),
    [
        ({"greeting": "yes", "info": "yes", "booking": "yes"}, "quality_unanswered", "leak"),
        ({"info": "yes", "booking": "yes", "leak": "no"}, "quality_unanswered", "greeting"),
        (
            {"greeting": "partial", "info": "yes", "booking": "yes", "leak": "no"},
            "quality_bad_answer",
            "greeting",
        ),
        (
            {"greeting": "na", "info": "yes", "booking": "yes", "leak": "no"},
            "quality_bad_answer",
            "greeting",
        ),
        (
            {"greeting": "yes", "info": "yes", "booking": "yes", "leak": "partial"},
            "quality_bad_answer",
            "leak",
        ),
        (
            {"greeting": "yes", "info": "yes", "booking": "yes", "leak": "no", "x": "yes"},
            "quality_unknown_item",
            "x",
        ),
    ],
)
def test_answers_that_do_not_fit_are_refused(given: dict[str, str], code: str, item: str) -> None:
    with pytest.raises(ServiceError) as caught:
        check_answers(parse_scorecard(CARD), answers(**given))
    assert caught.value.status == 422
    assert caught.value.code == code and caught.value.params["item"] == item


def test_nothing_to_score_and_long_comments_are_refused() -> None:
    card = parse_scorecard(
        CARD.replace("weight: 10", "weight: 10\n        not_applicable: true").replace(
            "weight: 30\n        partial: true", "weight: 30\n        not_applicable: true"
        )
    )
    with pytest.raises(ServiceError) as caught:
        check_answers(card, answers(greeting="na", info="na", booking="na", leak="no"))
    assert caught.value.code == "quality_nothing_to_score"
    long = {**answers(greeting="yes", info="yes", booking="yes"), "leak": Answer("no", "x" * 2001)}
    with pytest.raises(ServiceError) as caught:
        check_answers(card, long)
    assert caught.value.code == "quality_comment_too_long"


def test_a_broken_file_names_every_problem_with_its_line() -> None:
    broken = (
        CARD.replace("version: 2", "version: two")
        .replace("weight: 30", "weight: 0")
        .replace("id: booking", "id: greeting")
        .replace("title: {ru: Разглашение, en: Disclosure}", "title: {ru: Разглашение}")
        .replace("not_applicable: true", "not_applicable: sometimes")
    )
    with pytest.raises(ScorecardError) as caught:
        parse_scorecard(broken, source="card.yaml")
    problems = caught.value.problems
    assert "card.yaml:3: version must be a whole number from 1" in problems
    assert "card.yaml:14: sections[0].criteria[1].weight must be more than 0 and at most 1000" in (
        problems
    )
    assert "card.yaml:16: id 'greeting' is used twice (first on line 9)" in problems
    assert "card.yaml:19: sections[0].criteria[2].not_applicable must be true or false" in problems
    assert "card.yaml:22: critical_errors[0].title: 'en' is missing" in problems
    assert "CALLAGENT_QUALITY_SCORECARD" in str(caught.value)
    with pytest.raises(ScorecardError, match=r"card\.yaml:2: not valid YAML"):
        parse_scorecard("id: [\n", source="card.yaml")
    with pytest.raises(ScorecardError, match="unknown key 'colour'"):
        parse_scorecard(CARD + "colour: red\n")


def test_the_packaged_scorecard_speaks_each_language_in_its_own_alphabet() -> None:
    card = load_scorecard()
    labels = [card.title, *(s.title for s in card.sections)]
    labels += [c.title for c in card.criteria] + [c.hint for c in card.criteria if c.hint]
    labels += [e.title for e in card.critical_errors]
    for label in labels:
        assert not re.search(r"[ЫыЭэЁёЪъ]", label["uk"]), label
        assert not re.search(r"[ІіЇїЄєҐґ]", label["ru"]), label
        assert not re.search(r"[А-Яа-яЁёІіЇїЄєҐґ]", label["en"]), label
        assert label["uk"] != label["ru"], label  # translated, not copied
